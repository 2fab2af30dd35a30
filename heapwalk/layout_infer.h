/* layout_infer.h: trying layout rows on a version without one, judged by the allocator's own counters (private). */
#ifndef HS_LAYOUT_INFER_H
#define HS_LAYOUT_INFER_H

#include <stdbool.h>
#include <stddef.h>

#include "heapwalk.h"

/*
 * A walker that meets a version with no layout row walks the core once per
 * candidate row into a scratch heap (hs_heap_create), and keeps the first
 * walk that reconciles: every cross-check against the allocator's own
 * counters held, so the walk left no diagnostic of severity warning or
 * error. Those it accepts become the report with layout "inferred"; when
 * none does, the refusal names the version, every row, and what failed for
 * each row tried. The record of failures is a fixed buffer: no allocation,
 * nothing to free.
 */
struct hs_infer {
	char tried[2048]; /* "2.43: why; 2.42: why" */
	size_t used;
};

void hs_infer_init(struct hs_infer *inf);

/* NULL if the scratch walk reconciled; else its first warning or error
 * message (borrowed from `scratch`, valid while it lives). */
const char *hs_infer_judge(const struct hs_heap *scratch);

/* Record that candidate `row` failed, and why (truncated to one short
 * clause). */
void hs_infer_failed(struct hs_infer *inf, const char *row, const char *why);

/* The refusal: "<allocator> <version> (<module>) has no layout row (rows:
 * <rows>), and no row reconciles with the counters in the core: <tried>".
 * Code HS_ERR_UNSUPPORTED. */
struct hs_error *hs_infer_refusal(const struct hs_infer *inf,
				  const char *allocator, const char *version,
				  const char *module, const char *rows);

/* Move the accepted scratch walk into `heap` (its contents are swapped,
 * then `scratch`, holding the old ones, is destroyed); records the
 * inference: layout "inferred", layout_row `row`, and a warning
 * "<subject>; the <row> row was tried and the walk reconciles ...", where
 * the subject names the version ("glibc 2.44 has no layout row"). */
void hs_infer_accept(struct hs_heap *heap, struct hs_heap *scratch,
		     const char *subject, const char *row);

#endif
