/* layout_infer.c: trying layout rows on a version without one, judged by the allocator's own counters. */
#include <stdio.h>
#include <string.h>

#include "layout_infer.h"

#define HS_INFER_WHY_MAX 80 /* characters of a candidate's failure kept */

void hs_infer_init(struct hs_infer *inf)
{
	inf->tried[0] = '\0';
	inf->used = 0;
}

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

void hs_infer_failed(struct hs_infer *inf, const char *row, const char *why)
{
	size_t room = sizeof(inf->tried) - inf->used;
	if (room <= 1)
		return;
	int k = snprintf(inf->tried + inf->used, room, "%s%s: %.*s",
			 inf->used ? "; " : "", row, HS_INFER_WHY_MAX, why);
	if (k < 0)
		return;
	inf->used += (size_t)k < room ? (size_t)k : room - 1;
}

struct hs_error *hs_infer_refusal(const struct hs_infer *inf,
				  const char *allocator, const char *version,
				  const char *module, const char *rows)
{
	return hs_error_create(HS_ERR_UNSUPPORTED,
			       "%s %s (%s) has no layout row (rows: %s), and no "
			       "row reconciles with the counters in the core: %s",
			       allocator, version, module, rows,
			       inf->used ? inf->tried : "no row could be tried");
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
