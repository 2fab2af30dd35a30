/* test_chunk_index.c: chunk sorting, and the chunk index answering exactly as the plain binary search does. */
#include <stdio.h>
#include <stdlib.h>

#include "../../heapwalk/heapwalk.h"
#include "check.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int check_layout(int round, bool hostile)
{
	struct hs_heap *heap;
	if (hs_heap_create(&heap))
		return 1;
	uint64_t a = 0x555555550000ull;
	size_t n = 1 + rnd() % 5000;
	for (size_t i = 0; i < n; i++) {
		uint64_t size = 16 * (1 + rnd() % 64);
		if (rnd() % 100 == 0)
			a += rnd() % (1ull << 32); /* another heap or an mmapped chunk */
		if (hostile && rnd() % 500 == 0)
			size = rnd() >> 10; /* garbage size from a corrupt core */
		if (!hs_heap_add_chunk(heap, a, size, HS_CHUNK_IN_USE, 0))
			return 1;
		a += (rnd() % 4 == 0) ? size + 16 * (rnd() % 8) : size;
	}
	hs_heap_sort(heap);
	struct hs_chunk_index *idx;
	if (hs_chunk_index_create(heap, &idx)) {
		fprintf(stderr, "round %d: create failed\n", round);
		return 1;
	}
	int bad = 0;
	for (int q = 0; q < 20000; q++) {
		const struct hs_chunk *c = &heap->chunks[rnd() % heap->nchunks];
		uint64_t probe;
		switch (rnd() % 3) {
		case 0: probe = c->addr + rnd() % (hs_chunk_size(c) + 64); break;
		case 1: probe = c->addr - rnd() % 4096; break;
		default: probe = rnd() >> 16; break;
		}
		const struct hs_chunk *want = hs_heap_chunk_at(heap, probe);
		const struct hs_chunk *got = hs_chunk_index_find(idx, probe);
		/* With overlapping (hostile) chunks either containing chunk is right. */
		bool ok = want == got ||
			  (hostile && want && got && probe - got->addr < hs_chunk_size(got));
		if (!ok && bad++ < 5)
			fprintf(stderr, "round %d: 0x%llx: want %p got %p\n", round,
				(unsigned long long)probe, (const void *)want, (const void *)got);
	}
	hs_chunk_index_destroy(idx);
	hs_heap_destroy(heap);
	return bad != 0;
}

/*
 * hs_heap_sort over n shuffled chunks, some sharing an address: sorted by
 * address, and stable (the flags record the insertion order among equals),
 * for both digit widths (8 bits under 65536 chunks, 16 bits above).
 */
static int check_sort(size_t n)
{
	struct hs_heap *heap;
	if (hs_heap_create(&heap))
		return 1;
	for (size_t i = 0; i < n; i++) {
		/* Addresses over 47 bits, every digit varying; 1 in 8 repeats
		 * one of the previous addresses. */
		uint64_t a = i && rnd() % 8 == 0 ? heap->chunks[rnd() % i].addr :
						   (rnd() & 0x7ffffffffff0ull);
		if (!hs_heap_add_chunk(heap, a, 16, HS_CHUNK_IN_USE, 0))
			return 1;
	}
	/* Sequence numbers in the size: the order equal addresses came in. */
	for (size_t i = 0; i < n; i++)
		heap->chunks[i] = hs_chunk_make(heap->chunks[i].addr, 16 * (i + 1),
						HS_CHUNK_IN_USE, 0);
	hs_heap_sort(heap);
	int bad = heap->nchunks != n;
	for (size_t i = 1; i < heap->nchunks; i++) {
		const struct hs_chunk *p = &heap->chunks[i - 1], *c = &heap->chunks[i];
		if (p->addr > c->addr ||
		    (p->addr == c->addr && hs_chunk_size(p) > hs_chunk_size(c)))
			bad++;
	}
	hs_heap_destroy(heap);
	return bad != 0;
}

int main(void)
{
	CHECK(check_sort(2) == 0);
	CHECK(check_sort(1000) == 0);
	CHECK(check_sort(65535) == 0);
	CHECK(check_sort(200000) == 0);
	for (int round = 0; round < 60; round++)
		CHECK(check_layout(round, round % 3 == 2) == 0);
	/* An empty heap finds nothing. */
	struct hs_heap *heap;
	struct hs_chunk_index *idx;
	if (hs_heap_create(&heap) || hs_chunk_index_create(heap, &idx))
		return 1;
	CHECK(hs_chunk_index_find(idx, 0x1000) == NULL);
	hs_chunk_index_destroy(idx);
	hs_heap_destroy(heap);
	return check_summary("test_chunk_index");
}
