/* check_heap.h: assertions on a walked heap (stats, chunks, diagnostics) shared by the walker unit tests. */
#ifndef HS_TESTS_UNIT_CHECK_HEAP_H
#define HS_TESTS_UNIT_CHECK_HEAP_H

#include "../../heapwalk/heapwalk.h"
#include "check.h"

/* A statistic by name; a missing one is a failed check (and reads as
 * UINT64_MAX, which no expected value equals). */
static inline uint64_t check_heap_stat(const struct hs_heap *heap, const char *name)
{
	uint64_t v = UINT64_MAX;
	if (!hs_heap_get_stat(heap, name, &v)) {
		fprintf(stderr, "missing stat %s\n", name);
		check_failures++;
	}
	check_count++;
	return v;
}

/*
 * Every chunk of a heap as an array, in address order (the heap is finished
 * first: the walkers' test entry points return it unfinished). The array is
 * kept for the last heap asked about, so the pointers the helpers below
 * return stay valid until another heap is asked about.
 */
static inline const struct hs_chunk *check_heap_all(const struct hs_heap *heap, size_t *n)
{
	/* Keyed by what tells heaps apart: a test's heap is often allocated
	 * where the last test's was, with as many chunks (then states or
	 * bounds differ, or the array is the same anyway). */
	static struct {
		const struct hs_heap *heap;
		const void *store;
		uint64_t nchunks, lo, hi;
		struct hs_chunk_count totals[HS_CHUNK_NSTATES], metadata;
		struct hs_chunk *arr;
		size_t n;
	} last;
	struct hs_error *err = hs_heap_finish((struct hs_heap *)heap);
	if (err) {
		fprintf(stderr, "hs_heap_finish: %s\n", err->message);
		hs_error_destroy(err);
		check_failures++;
	}
	if (last.heap != heap || last.store != (const void *)heap->store ||
	    last.nchunks != heap->nchunks || last.lo != heap->lo || last.hi != heap->hi ||
	    memcmp(last.totals, heap->totals, sizeof(last.totals)) ||
	    memcmp(&last.metadata, &heap->metadata, sizeof(last.metadata))) {
		free(last.arr);
		last.arr = NULL;
		last.n = 0;
		last.heap = heap;
		last.store = heap->store;
		last.nchunks = heap->nchunks;
		last.lo = heap->lo;
		last.hi = heap->hi;
		memcpy(last.totals, heap->totals, sizeof(last.totals));
		last.metadata = heap->metadata;
		err = hs_heap_chunk_array(heap, &last.arr, &last.n);
		if (err) {
			hs_error_destroy(err);
			check_failures++;
		}
	}
	*n = last.n;
	return last.arr;
}

/* The chunk whose address is exactly addr, or NULL. */
static inline const struct hs_chunk *check_heap_chunk(const struct hs_heap *heap, uint64_t addr)
{
	size_t n;
	const struct hs_chunk *a = check_heap_all(heap, &n);
	for (size_t i = 0; i < n; i++)
		if (a[i].addr == addr)
			return &a[i];
	return NULL;
}

/* The chunk whose [addr, addr + size) holds addr, or NULL; the store's
 * answer, checked against the array. */
static inline const struct hs_chunk *check_heap_chunk_at(const struct hs_heap *heap,
							 uint64_t addr)
{
	size_t n;
	const struct hs_chunk *a = check_heap_all(heap, &n);
	struct hs_chunk c;
	if (!hs_heap_find(heap, addr, &c, NULL))
		return NULL;
	const struct hs_chunk *hit = check_heap_chunk(heap, c.addr);
	if (!hit || hit->info != c.info) {
		fprintf(stderr, "hs_heap_find(0x%" PRIx64 ") disagrees with the chunk list\n", addr);
		check_failures++;
	}
	(void)a;
	return hit;
}

/* Diagnostics of severity sev, at addr (0: any address), whose message
 * contains needle (NULL or "": any message). */
static inline size_t check_heap_diags(const struct hs_heap *heap, enum hs_severity sev,
				      uint64_t addr, const char *needle)
{
	size_t n = 0;
	for (size_t i = 0; i < heap->diags.count; i++) {
		const struct hs_diag *d = &heap->diags.items[i];
		if (d->severity == sev && (!addr || (d->has_address && d->address == addr)) &&
		    (!needle || strstr(d->message, needle)))
			n++;
	}
	return n;
}

/* Regions of `kind` (hs_heap_add_region) the walk declared, and with
 * start/size not 0, only those with that start and size. */
/* The ranges the walker declared of `kind` (any kind: NULL): all of them
 * (start and size 0), or those that [start, start + size) lies in (size 0:
 * that hold start). The heap keeps consecutive ranges of one kind as one
 * (hs_heap_add_region), counting them, so a range is found in the one that
 * holds it. */
static inline size_t check_heap_regions(const struct hs_heap *heap, const char *kind,
					uint64_t start, uint64_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < heap->nregions; i++) {
		const struct hs_region *r = &heap->regions[i];
		if (kind && strcmp(r->kind, kind))
			continue;
		if (!start && !size)
			n += r->count;
		else if (start >= r->start && start - r->start < r->size &&
			 size <= r->size - (start - r->start))
			n++;
	}
	return n;
}

/* The jemalloc tests' extents (test_jemalloc.c, test_jemalloc52.c): the
 * five that hold chunks are heap regions (slabs of a page, the large ones
 * with their page of slack, the dirty one), the last one retained, and the
 * walk declared nothing but those and metadata. */
static inline void check_heap_je_regions(const struct hs_heap *h, const uint64_t *ext,
					 uint64_t page)
{
	static const uint64_t pages[5] = {1, 1, 5, 9, 3};
	CHECK_EQ(check_heap_regions(h, "retained", 0, 0), 1);
	CHECK_EQ(check_heap_regions(h, "retained", ext[5], 4 * page), 1);
	CHECK_EQ(check_heap_regions(h, HS_REGION_HEAP, 0, 0), 5);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(check_heap_regions(h, HS_REGION_HEAP, ext[i], pages[i] * page), 1);
	CHECK_EQ(check_heap_regions(h, "retained", 0, 0) +
		 check_heap_regions(h, HS_REGION_HEAP, 0, 0) +
		 check_heap_regions(h, HS_REGION_METADATA, 0, 0),
		 check_heap_regions(h, NULL, 0, 0));
}

static inline void check_heap_dump_diags(const struct hs_heap *heap)
{
	for (size_t i = 0; i < heap->diags.count; i++)
		fprintf(stderr, "  diag %s 0x%" PRIx64 " %s\n",
			hs_severity_name(heap->diags.items[i].severity),
			heap->diags.items[i].address, heap->diags.items[i].message);
}

#endif
