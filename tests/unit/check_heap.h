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

/* The chunk whose address is exactly addr, or NULL. A linear search: the
 * walkers' test entry points return chunks in walk order, not sorted. */
static inline const struct hs_chunk *check_heap_chunk(const struct hs_heap *heap, uint64_t addr)
{
	for (size_t i = 0; i < heap->nchunks; i++)
		if (heap->chunks[i].addr == addr)
			return &heap->chunks[i];
	return NULL;
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

static inline void check_heap_dump_diags(const struct hs_heap *heap)
{
	for (size_t i = 0; i < heap->diags.count; i++)
		fprintf(stderr, "  diag %s 0x%" PRIx64 " %s\n",
			hs_severity_name(heap->diags.items[i].severity),
			heap->diags.items[i].address, heap->diags.items[i].message);
}

#endif
