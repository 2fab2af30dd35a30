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
	r->count = 1;
	return true;
}

bool hs_heap_add_region(struct hs_heap *heap, const char *kind,
			uint64_t start, uint64_t size)
{
	/* Memory bounded by the heap's ranges, not by their number: extend
	 * the last range when this one continues it. */
	if (heap->nregions) {
		struct hs_region *r = &heap->regions[heap->nregions - 1];
		if (r->start + r->size == start && r->start + r->size + size > start &&
		    !strncmp(r->kind, kind, sizeof(r->kind) - 1)) {
			r->size += size;
			r->count++;
			return true;
		}
	}
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


void hs_heap_chunk_runs(const struct hs_heap *heap,
			bool (*fn)(uint64_t start, uint64_t end, void *arg), void *arg)
{
	/* The store's extents are of chunk addresses; the chunks' memory starts
	 * chunk_offset bytes before. */
	uint64_t off = heap->chunk_offset, at = 0, lo, hi;
	while (hs_heap_next_extent(heap, at, &lo, &hi) && hi > at) {
		if (!fn(lo >= off ? lo - off : 0, hi >= off ? hi - off : 0, arg))
			return;
		at = hi;
	}
}

/* Backed bytes of [lo, hi), with *k a cursor into the memory ranges that
 * only moves forward: callers ask for non-decreasing lo. */
static uint64_t hs_cover_backed(const struct hs_memory *mem, size_t *k,
				uint64_t lo, uint64_t hi)
{
	while (*k < mem->count &&
	       mem->ranges[*k].start + mem->ranges[*k].memsz <= lo)
		(*k)++;
	uint64_t n = 0;
	for (size_t j = *k; j < mem->count && mem->ranges[j].start < hi; j++) {
		const struct hs_memory_range *r = &mem->ranges[j];
		uint64_t a = r->start > lo ? r->start : lo;
		uint64_t b = r->start + r->filesz < hi ? r->start + r->filesz : hi;
		if (b > a)
			n += b - a;
	}
	return n;
}

/* The first memory range whose end is above addr (or mem->count). */
static size_t hs_cover_first_range(const struct hs_memory *mem, uint64_t addr)
{
	size_t lo = 0, hi = mem->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mem->ranges[mid].start + mem->ranges[mid].memsz <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first map range whose end is above addr (or nranges). */
static size_t hs_cover_first_map(const struct hs_mem_range *ranges, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ranges[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The chunks that start in [from, to) (chunk addresses), one by one: what
 * each has in heap ranges and in the core, in `ret`; their whole sizes per
 * state in `whole` (metadata chunks in its meta_bytes).
 */
static void hs_cover_chunks(const struct hs_heap *heap, const struct hs_memory *mem,
			    const struct hs_mem_range *ranges, size_t nranges, uint64_t from,
			    uint64_t to, struct hs_heap_cover *ret, struct hs_heap_cover *whole)
{
	uint64_t off = heap->chunk_offset;
	uint64_t start = from >= off ? from - off : 0;
	size_t r = hs_cover_first_map(ranges, nranges, start);
	bool sealed = mem && mem->sealed;
	size_t k = sealed ? hs_cover_first_range(mem, start) : 0;
	/* Chunks overlap only in a corrupt heap (the walker says so): a byte
	 * two chunks claim counts for the first, which also keeps this one
	 * pass over chunks and ranges, whatever the sizes. */
	uint64_t done = 0;
	struct hs_chunk_iter it;
	struct hs_chunk c;
	hs_chunk_iter_init(&it, heap, from, to);
	while (hs_chunk_iter_next(&it, &c, NULL)) {
		uint64_t lo = c.addr >= off ? c.addr - off : 0;
		uint64_t hi = lo + hs_chunk_size(&c) < lo ? UINT64_MAX : lo + hs_chunk_size(&c);
		unsigned st = hs_chunk_state(&c);
		bool meta = hs_chunk_flags(&c) & HS_CHUNK_F_METADATA;
		if (meta)
			whole->meta_bytes += hi - lo;
		else if (st < HS_CHUNK_NSTATES)
			whole->bytes[st] += hi - lo;
		if (lo < done)
			lo = done < hi ? done : hi;
		done = hi > done ? hi : done;
		while (r < nranges && ranges[r].end <= lo)
			r++;
		uint64_t in = 0, dumped = 0, theirs = 0;
		for (size_t j = r; j < nranges && ranges[j].start < hi; j++) {
			uint64_t a = ranges[j].start > lo ? ranges[j].start : lo;
			uint64_t b = ranges[j].end < hi ? ranges[j].end : hi;
			if (b <= a)
				continue;
			if (ranges[j].kind == HS_MEM_ALLOCATOR_RESERVED ||
			    ranges[j].kind == HS_MEM_ALLOCATOR_METADATA)
				theirs += b - a;
			if (ranges[j].kind != HS_MEM_HEAP)
				continue;
			in += b - a;
			if (sealed)
				dumped += hs_cover_backed(mem, &k, a, b);
		}
		ret->outside += hi - lo - in - theirs;
		if (meta) {
			ret->meta_bytes += in;
			ret->meta_dumped += dumped;
		} else if (st < HS_CHUNK_NSTATES) {
			ret->bytes[st] += in;
			ret->dumped[st] += dumped;
		}
	}
}

/* Whether [a, b) lies in heap ranges that touch, and the core holds it all. */
static bool hs_cover_whole(const struct hs_memory *mem, const struct hs_mem_range *ranges,
			   size_t nranges, uint64_t a, uint64_t b)
{
	uint64_t at = a;
	for (size_t j = hs_cover_first_map(ranges, nranges, a);
	     at < b && j < nranges && ranges[j].start <= at && ranges[j].kind == HS_MEM_HEAP; j++)
		at = ranges[j].end;
	return at >= b && mem && hs_memory_backed_bytes(mem, a, b - a) == b - a;
}

/*
 * Most of a heap lies in its heap ranges, all in the core: there the
 * totals the store keeps say what the chunks hold, and only the stretches
 * of chunks that are not so (a tcmalloc returned span, a corner the core
 * lost) are gone through chunk by chunk. Overlapping chunks (their sizes
 * add up to more than the stretches they cover) make it all chunk by chunk.
 */
void hs_heap_cover(const struct hs_heap *heap, const struct hs_memory *mem,
		   const struct hs_mem_range *ranges, size_t nranges,
		   struct hs_heap_cover *ret)
{
	memset(ret, 0, sizeof(*ret));
	struct hs_heap_cover whole;
	memset(&whole, 0, sizeof(whole));
	uint64_t total = 0, off = heap->chunk_offset;
	for (int st = 0; st < HS_CHUNK_NSTATES; st++)
		total += heap->totals[st].bytes;
	if (total != hs_heap_span(heap)) {
		hs_cover_chunks(heap, mem, ranges, nranges, 0, UINT64_MAX, ret, &whole);
		return;
	}
	uint64_t at = 0, lo, hi;
	while (hs_heap_next_extent(heap, at, &lo, &hi) && hi > at) {
		if (!hs_cover_whole(mem, ranges, nranges, lo >= off ? lo - off : 0,
				    hi >= off ? hi - off : 0))
			hs_cover_chunks(heap, mem, ranges, nranges, lo, hi, ret, &whole);
		at = hi;
	}
	/* The rest: every byte in a heap range and in the core. */
	for (int st = 0; st < HS_CHUNK_NSTATES; st++) {
		uint64_t t = heap->totals[st].bytes;
		if (st == HS_CHUNK_IN_USE)
			t = t > heap->metadata.bytes ? t - heap->metadata.bytes : 0;
		uint64_t rest = t > whole.bytes[st] ? t - whole.bytes[st] : 0;
		ret->bytes[st] += rest;
		ret->dumped[st] += rest;
	}
	uint64_t meta = heap->metadata.bytes > whole.meta_bytes ?
			heap->metadata.bytes - whole.meta_bytes : 0;
	ret->meta_bytes += meta;
	ret->meta_dumped += meta;
}
