/* layout_infer.c: judging and accepting a walk made under a layout row that is not the version's own. */
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
