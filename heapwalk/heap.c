/* heap.c: the result of a walk: its chunk store, statistics, regions, diagnostics. */
#include <stdlib.h>
#include <string.h>

#include "chunks.h"
#include "heapwalk.h"

const char *hs_chunk_state_name(enum hs_chunk_state state)
{
	switch (state) {
	case HS_CHUNK_IN_USE:
		return "in_use";
	case HS_CHUNK_FREE:
		return "free";
	case HS_CHUNK_CACHED:
		return "cached";
	}
	return "unknown";
}

const char *hs_located_by_name(enum hs_located_by by)
{
	switch (by) {
	case HS_LOCATED_DEBUGINFO:
		return "debuginfo";
	case HS_LOCATED_DISASSEMBLY:
		return "disassembly";
	case HS_LOCATED_SYMBOLS:
		return "symbols";
	}
	return "unknown";
}

const char *hs_layout_status_name(enum hs_layout_status status)
{
	switch (status) {
	case HS_LAYOUT_VERIFIED:
		return "verified";
	case HS_LAYOUT_FROM_SOURCE:
		return "from_source";
	case HS_LAYOUT_INFERRED:
		return "inferred";
	}
	return "unknown";
}

struct hs_error *hs_heap_create(struct hs_heap **ret)
{
	struct hs_heap *heap = calloc(1, sizeof(*heap));
	if (!heap)
		return HS_ENOMEM;
	heap->store = hs_chunk_store_create();
	if (!heap->store) {
		free(heap);
		return HS_ENOMEM;
	}
	hs_diags_init(&heap->diags);
	*ret = heap;
	return NULL;
}

void hs_heap_destroy(struct hs_heap *heap)
{
	if (!heap)
		return;
	hs_chunk_store_destroy(heap->store);
	free(heap->stats);
	free(heap->regions);
	free(heap->owned);
	hs_diags_deinit(&heap->diags);
	free(heap);
}

bool hs_heap_set_stat(struct hs_heap *heap, const char *name, uint64_t value)
{
	for (size_t i = 0; i < heap->nstats; i++) {
		if (strcmp(heap->stats[i].name, name) == 0) {
			heap->stats[i].value = value;
			return true;
		}
	}
	if (strlen(name) >= sizeof(heap->stats[0].name) ||
	    !hs_grow((void **)&heap->stats, &heap->stats_cap, heap->nstats + 1,
		     sizeof(*heap->stats)))
		return false;
	struct hs_stat *s = &heap->stats[heap->nstats++];
	memset(s, 0, sizeof(*s));
	strcpy(s->name, name);
	s->value = value;
	return true;
}

bool hs_heap_get_stat(const struct hs_heap *heap, const char *name,
		      uint64_t *ret)
{
	for (size_t i = 0; i < heap->nstats; i++) {
		if (strcmp(heap->stats[i].name, name) == 0) {
			*ret = heap->stats[i].value;
			return true;
		}
	}
	return false;
}

static bool hs_regions_add(struct hs_region **arr, size_t *n, size_t *cap, const char *kind,
			   uint64_t start, uint64_t size)
{
	if (!hs_grow((void **)arr, cap, *n + 1, sizeof(**arr)))
		return false;
	struct hs_region *r = &(*arr)[(*n)++];
	memset(r, 0, sizeof(*r));
	strncpy(r->kind, kind, sizeof(r->kind) - 1);
	r->start = start;
	r->size = size;
	return true;
}

bool hs_heap_add_region(struct hs_heap *heap, const char *kind,
			uint64_t start, uint64_t size)
{
	return hs_regions_add(&heap->regions, &heap->nregions, &heap->regions_cap, kind, start,
			      size);
}

bool hs_heap_add_owned(struct hs_heap *heap, const char *what, uint64_t start, uint64_t size)
{
	/* Metadata comes in arrays (jemalloc's edata_t): extend the last one. */
	if (heap->nowned) {
		struct hs_region *r = &heap->owned[heap->nowned - 1];
		if (r->start + r->size == start && !strncmp(r->kind, what, sizeof(r->kind) - 1)) {
			r->size += size;
			return true;
		}
	}
	return hs_regions_add(&heap->owned, &heap->nowned, &heap->owned_cap, what, start, size);
}

