/* heap.c: the result of a walk: compact chunk records, statistics, regions, diagnostics. */
#include <stdlib.h>
#include <string.h>

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
	hs_diags_init(&heap->diags);
	*ret = heap;
	return NULL;
}

void hs_heap_destroy(struct hs_heap *heap)
{
	if (!heap)
		return;
	free(heap->chunks);
	free(heap->stats);
	free(heap->regions);
	hs_diags_deinit(&heap->diags);
	free(heap);
}

bool hs_heap_add_chunk(struct hs_heap *heap, uint64_t addr, uint64_t size,
		       enum hs_chunk_state state, unsigned flags)
{
	if (size > HS_CHUNK_MAX_SIZE)
		size = HS_CHUNK_MAX_SIZE;
	if (heap->nchunks == heap->chunks_cap &&
	    !hs_grow((void **)&heap->chunks, &heap->chunks_cap,
		     heap->nchunks + 1, sizeof(*heap->chunks)))
		return false;
	heap->chunks[heap->nchunks++] = hs_chunk_make(addr, size, state, flags);
	return true;
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

bool hs_heap_add_region(struct hs_heap *heap, const char *kind,
			uint64_t start, uint64_t size)
{
	if (!hs_grow((void **)&heap->regions, &heap->regions_cap,
		     heap->nregions + 1, sizeof(*heap->regions)))
		return false;
	struct hs_region *r = &heap->regions[heap->nregions++];
	memset(r, 0, sizeof(*r));
	strncpy(r->kind, kind, sizeof(r->kind) - 1);
	r->start = start;
	r->size = size;
	return true;
}

static int hs_heap_cmp_chunk(const void *a, const void *b)
{
	uint64_t x = ((const struct hs_chunk *)a)->addr;
	uint64_t y = ((const struct hs_chunk *)b)->addr;
	return x < y ? -1 : x > y;
}

static bool hs_chunks_sorted(const struct hs_chunk *c, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (c[i - 1].addr > c[i].addr)
			return false;
	return true;
}

/*
 * LSD radix sort on the address. Walkers emit chunks mostly in address order
 * per heap but heaps in arbitrary order; a comparison sort of tens of
 * millions of records costs seconds, this costs a few passes of sequential
 * memory traffic. Passes whose digit is constant are skipped, so user-space
 * addresses take at most three 16-bit passes. Small heaps use 8-bit digits:
 * a 64 Ki-entry count table would cost more to clear than the sort itself.
 * The sort is stable, so chunks that share an address keep the walker's
 * order.
 */
void hs_heap_sort(struct hs_heap *heap)
{
	size_t n = heap->nchunks;
	if (n < 2 || hs_chunks_sorted(heap->chunks, n))
		return;
	unsigned bits = n < 65536 ? 8 : 16;
	size_t ndigits = (size_t)1 << bits, mask = ndigits - 1;
	struct hs_chunk *tmp = malloc(n * sizeof(*tmp));
	size_t *count = malloc(ndigits * sizeof(*count));
	if (!tmp || !count) {
		/* Out of memory for the scratch copy: fall back to in-place. */
		free(tmp);
		free(count);
		qsort(heap->chunks, n, sizeof(*heap->chunks), hs_heap_cmp_chunk);
		return;
	}
	struct hs_chunk *src = heap->chunks, *dst = tmp;
	for (unsigned shift = 0; shift < 64; shift += bits) {
		memset(count, 0, ndigits * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(src[i].addr >> shift) & mask]++;
		if (count[(src[0].addr >> shift) & mask] == n)
			continue;
		size_t sum = 0;
		for (size_t d = 0; d < ndigits; d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i].addr >> shift) & mask]++] = src[i];
		struct hs_chunk *t = src;
		src = dst;
		dst = t;
	}
	if (src != heap->chunks)
		memcpy(heap->chunks, src, n * sizeof(*src));
	free(count);
	free(tmp);
}

const struct hs_chunk *hs_heap_chunk_at(const struct hs_heap *heap,
					uint64_t addr)
{
	size_t lo = 0, hi = heap->nchunks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (heap->chunks[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct hs_chunk *c = &heap->chunks[lo - 1];
	return addr - c->addr < hs_chunk_size(c) ? c : NULL;
}
