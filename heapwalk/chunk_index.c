/* chunk_index.c: constant-time "which chunk holds this address" over a sorted chunk array. */
#include <stdlib.h>

#include "heapwalk.h"

/*
 * Chunks cluster into a few dense address runs (heaps, arenas, mmapped
 * chunks) separated by huge gaps. Each run gets a flat table, one entry per
 * granule, holding the index of the first chunk that starts in or after the
 * granule; a lookup is one bsearch over runs (a handful), one table load and a
 * short search among the chunks of one granule. The classifier's memory scan
 * does this for every heap-looking word of the core, where a bsearch over
 * millions of chunks missed the cache at every step.
 */
#define HS_RUN_GAP (UINT64_C(1) << 20)

struct hs_chunk_run {
	uint64_t lo, hi;     /* [lo, hi): first chunk's address to the furthest end */
	size_t first, end;   /* chunk indexes [first, end) */
	size_t table;        /* offset of this run's entries in idx->table */
	size_t ngranules;
};

struct hs_chunk_index {
	const struct hs_heap *heap;
	struct hs_chunk_run *runs;
	size_t nruns;
	uint32_t *table;
	unsigned shift; /* granule = 1 << shift bytes */
};

static uint64_t hs_chunk_end(const struct hs_chunk *c)
{
	uint64_t end = c->addr + hs_chunk_size(c);
	return end < c->addr ? UINT64_MAX : end;
}

struct hs_error *hs_chunk_index_create(const struct hs_heap *heap,
				       struct hs_chunk_index **ret)
{
	struct hs_chunk_index *idx = calloc(1, sizeof(*idx));
	if (!idx)
		return HS_ENOMEM;
	idx->heap = heap;
	size_t n = heap->nchunks;
	/* Indexes are stored in 32 bits; bigger heaps use the plain bsearch. */
	if (n == 0 || n >= UINT32_MAX) {
		*ret = idx;
		return NULL;
	}

	/* Pass 1: runs and their spans. */
	size_t cap = 0;
	uint64_t span = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		uint64_t hi = hs_chunk_end(&heap->chunks[i]);
		while (j < n && heap->chunks[j].addr <= hi + HS_RUN_GAP &&
		       heap->chunks[j].addr >= heap->chunks[j - 1].addr) {
			uint64_t e = hs_chunk_end(&heap->chunks[j]);
			if (e > hi)
				hi = e;
			j++;
		}
		if (!hs_grow((void **)&idx->runs, &cap, idx->nruns + 1,
			     sizeof(*idx->runs)))
			goto nomem;
		idx->runs[idx->nruns++] = (struct hs_chunk_run){
			.lo = heap->chunks[i].addr, .hi = hi, .first = i, .end = j,
		};
		uint64_t s = hi - heap->chunks[i].addr;
		span = span + s < span ? UINT64_MAX : span + s;
		i = j;
	}

	/*
	 * Granule size: 4 KiB unless the spans are so large (a hostile chunk
	 * size, or a sparse multi-GB heap) that the table would outgrow the
	 * chunk array; the table is capped at about 4 entries per chunk (plus
	 * a floor, so that a small heap spread over a few MiB keeps 4 KiB
	 * granules).
	 */
	uint64_t budget = 4 * (uint64_t)n + 4096;
	unsigned shift = 12;
	while (shift < 63 && (span >> shift) + 2 * idx->nruns > budget)
		shift++;
	idx->shift = shift;

	size_t total = 0;
	for (size_t r = 0; r < idx->nruns; r++) {
		struct hs_chunk_run *run = &idx->runs[r];
		run->ngranules = (size_t)(((run->hi - run->lo) >> shift) + 1);
		run->table = total;
		total += run->ngranules;
	}
	idx->table = malloc(total * sizeof(*idx->table));
	if (!idx->table)
		goto nomem;

	/*
	 * Pass 2: entry g = the first chunk (in the run) starting at or after
	 * granule g. The chunk that holds an address in granule g is then the
	 * last one starting at or before it among entries [g]-1 .. [g+1], the
	 * same answer a bsearch over all chunks gives, even when a corrupt size
	 * makes one chunk span the others.
	 */
	for (size_t r = 0; r < idx->nruns; r++) {
		struct hs_chunk_run *run = &idx->runs[r];
		uint32_t *t = idx->table + run->table;
		size_t k = run->first;
		for (size_t g = 0; g < run->ngranules; g++) {
			uint64_t gstart = run->lo + ((uint64_t)g << shift);
			while (k < run->end && heap->chunks[k].addr < gstart)
				k++;
			t[g] = (uint32_t)k;
		}
	}
	*ret = idx;
	return NULL;

nomem:
	hs_chunk_index_destroy(idx);
	return HS_ENOMEM;
}

void hs_chunk_index_destroy(struct hs_chunk_index *idx)
{
	if (!idx)
		return;
	free(idx->runs);
	free(idx->table);
	free(idx);
}

const struct hs_chunk *hs_chunk_index_find(const struct hs_chunk_index *idx,
					   uint64_t addr)
{
	const struct hs_heap *heap = idx->heap;
	if (!idx->table)
		return hs_heap_chunk_at(heap, addr);
	size_t lo = 0, hi = idx->nruns;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (idx->runs[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct hs_chunk_run *run = &idx->runs[lo - 1];
	if (addr >= run->hi)
		return NULL;
	size_t g = (size_t)((addr - run->lo) >> idx->shift);
	const uint32_t *t = idx->table + run->table;
	size_t a = t[g] > run->first ? t[g] - 1 : run->first;
	size_t b = g + 1 < run->ngranules ? t[g + 1] : run->end;
	/* The last candidate starting at or before addr. */
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (heap->chunks[mid].addr <= addr)
			a = mid + 1;
		else
			b = mid;
	}
	if (a == 0)
		return NULL;
	const struct hs_chunk *c = &heap->chunks[a - 1];
	return addr >= c->addr && addr - c->addr < hs_chunk_size(c) ? c : NULL;
}
