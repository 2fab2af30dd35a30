/* layout_infer.c: judging and accepting a walk made under a layout row that is not the version's own. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "layout_infer.h"

const char *hs_infer_judge(const struct hs_heap *scratch)
{
	for (size_t i = 0; i < scratch->diags.count; i++)
		if (scratch->diags.items[i].severity != HS_DIAG_INFO)
			return scratch->diags.items[i].message;
	/* Dropped diagnostics may have been warnings: not reconciled. */
	if (scratch->diags.dropped)
		return "too many diagnostics";
	return NULL;
}

void hs_infer_accept(struct hs_heap *heap, struct hs_heap *scratch,
		     const char *subject, const char *row)
{
	struct hs_heap t = *heap;
	*heap = *scratch;
	*scratch = t;
	/* The driver named the walker in `heap` before the walk. */
	if (!heap->allocator[0])
		memcpy(heap->allocator, scratch->allocator, sizeof(heap->allocator));
	hs_heap_destroy(scratch);
	heap->layout = HS_LAYOUT_INFERRED;
	snprintf(heap->layout_row, sizeof(heap->layout_row), "%s", row);
	hs_diags_add(&heap->diags, HS_DIAG_WARNING, false, 0,
		     "%s; the %s row was tried and the walk reconciles with the "
		     "allocator's own counters (layout inferred)", subject, row);
}

struct hs_error *hs_infer_run(struct hs_heap *heap, size_t n,
			      hs_infer_try_fn try_row, void *ctx,
			      const char *module, const char *allocator,
			      const char *version, const char *rows)
{
	struct hs_layout_try tried = { .len = 0 };
	for (size_t i = 0; i < n; i++) {
		struct hs_heap *scratch;
		struct hs_error *err = hs_heap_create(&scratch);
		if (err)
			return err;
		const char *row = "?";
		err = try_row(ctx, i, scratch, &row);
		if (err == HS_ENOMEM) {
			hs_heap_destroy(scratch);
			return err;
		}
		const char *why = err ? err->message : hs_infer_judge(scratch);
		if (!why) {
			char subject[96];
			snprintf(subject, sizeof(subject), "%s %s has no layout row",
				 allocator, version);
			hs_infer_accept(heap, scratch, subject, row);
			return NULL;
		}
		hs_layout_try_note(&tried, row, "%.100s", why);
		hs_error_destroy(err);
		hs_heap_destroy(scratch);
	}
	return hs_layout_try_refuse(&tried, module, allocator, version, rows);
}

void hs_infer_list_add(char *buf, size_t len, const char *name)
{
	size_t used = strnlen(buf, len);
	if (used + 1 >= len)
		return;
	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

size_t hs_infer_order(const uint64_t *dist, size_t nrows, size_t *order,
		      size_t max)
{
	size_t n = 0;
	while (n < max && n < nrows) {
		size_t best = nrows;
		for (size_t i = 0; i < nrows; i++) {
			bool taken = false;
			for (size_t k = 0; k < n && !taken; k++)
				taken = order[k] == i;
			/* <= prefers the later (newer) row of a tie. */
			if (!taken && (best == nrows || dist[i] <= dist[best]))
				best = i;
		}
		order[n++] = best;
	}
	return n;
}
