/* layout_infer.h: judging and accepting a walk made under a layout row that is not the version's own (private). */
#ifndef HS_LAYOUT_INFER_H
#define HS_LAYOUT_INFER_H

#include "heapwalk.h"
#include "layout_try.h"

/*
 * The glibc and tcmalloc side of layout_try.h's shape: a walker that meets
 * a version with no layout row walks the core once per candidate row into
 * a scratch heap (hs_heap_create) and keeps the first walk that reconciles.
 * These walkers report some disagreements with the allocator's counters as
 * warnings (glibc: mp_'s mmap counters, an arena's bins or system_mem;
 * tcmalloc: a ThreadCache's tid_), so a walk reconciles only when it left
 * no diagnostic above info at all. What failed for each row goes to a
 * struct hs_layout_try (hs_layout_try_note), and the refusal is
 * hs_layout_try_refuse().
 */

/* NULL if the scratch walk reconciled; else its first warning or error
 * message (borrowed from `scratch`, valid while it lives). */
const char *hs_infer_judge(const struct hs_heap *scratch);

/* Move the accepted scratch walk into `heap` (its contents are swapped,
 * then `scratch`, holding the old ones, is destroyed); records the
 * inference: layout "inferred", layout_row `row`, and a warning
 * "<subject>; the <row> row was tried and the walk reconciles ...", where
 * the subject names the version ("glibc 2.44 has no layout row"). */
void hs_infer_accept(struct hs_heap *heap, struct hs_heap *scratch,
		     const char *subject, const char *row);

/*
 * One try: walk the core with candidate `i` into `scratch` (a fresh heap)
 * and name the row tried in *row (static, or in storage owned by ctx that
 * lives until the next call). Returns the walk's error, if any.
 */
typedef struct hs_error *(*hs_infer_try_fn)(void *ctx, size_t i,
					    struct hs_heap *scratch,
					    const char **row);

/*
 * The inference loop: try candidates 0..n-1 in order; the first whose walk
 * reconciles (hs_infer_judge) becomes `heap` (hs_infer_accept, warning
 * "<allocator> <version> has no layout row; the <row> row was tried...").
 * Otherwise the refusal hs_layout_try_refuse(module, allocator, version,
 * rows) with what failed for each. Errors: HS_ERR_NOMEM, HS_ERR_UNSUPPORTED.
 */
struct hs_error *hs_infer_run(struct hs_heap *heap, size_t n,
			      hs_infer_try_fn try_row, void *ctx,
			      const char *module, const char *allocator,
			      const char *version, const char *rows);

/*
 * Candidate order: the indices of rows 0..nrows-1 (oldest release first)
 * by distance dist[i] from the version, nearest first, the newer row of a
 * tie first; at most `max` written to `order`. Returns how many.
 */
size_t hs_infer_order(const uint64_t *dist, size_t nrows, size_t *order,
		      size_t max);

/* Append `name` to the comma-separated list in buf (len bytes, always
 * NUL-terminated; cut when full). */
void hs_infer_list_add(char *buf, size_t len, const char *name);

#endif
