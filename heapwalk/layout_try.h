/* layout_try.h: trying layout rows on a version with no row (private to heapwalk/). */
#ifndef HS_LAYOUT_TRY_H
#define HS_LAYOUT_TRY_H

#include "heapwalk.h"

/*
 * What each layout row tried on one build showed, for the one-line refusal
 * when none reconciles. The shape every walker uses for an unknown version:
 * walk under each candidate row into a scratch heap; accept the first whose
 * walk produced no error diagnostic (every disagreement with the allocator's
 * own counters is one) and report it HS_LAYOUT_INFERRED with a warning that
 * names the version and the row; else refuse with hs_layout_try_refuse().
 * Fixed size, no allocation: notes past its capacity are cut.
 */
struct hs_layout_try {
	char text[2048];
	size_t len;
	unsigned tried;
};

/* Record what failed for `row` ("5.3.0: 121 counter mismatches (...)"). */
void hs_layout_try_note(struct hs_layout_try *t, const char *row, const char *fmt, ...)
	HS_PRINTF(3, 4);

/*
 * The number of error diagnostics in heap; the first one's message goes to
 * first (cap bytes, may be 0) when there is one.
 */
size_t hs_layout_try_errors(const struct hs_heap *heap, char *first, size_t cap);

/*
 * HS_ERR_UNSUPPORTED: "MODULE: ALLOCATOR VERSION has no layout row and no
 * row reconciles with its own counters (ROW: why; ...); supported: ROWS".
 */
struct hs_error *hs_layout_try_refuse(const struct hs_layout_try *t,
				      const char *module, const char *allocator,
				      const char *version, const char *rows);

#endif
