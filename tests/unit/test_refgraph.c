/* test_refgraph.c: marking, references and the dominator tree on a synthetic process, on 1 and 2 threads and under every memory limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../refgraph/refgraph.h"
#include "check.h"
#include "check_process.h"

#define BASE 0x10000ull /* the heap: NCHUNKS chunks of CSIZE bytes */
#define MOD 0x400000ull  /* a module's writable data: the roots */
#define NCHUNKS 16
#define CSIZE 64

static uint8_t heapmem[NCHUNKS * CSIZE];
static uint8_t modmem[0x100];

static uint64_t chunk_addr(unsigned i)
{
	return BASE + (uint64_t)i * CSIZE;
}

/* Word w of chunk i refers to `to` (an address). */
static void point(unsigned i, unsigned w, uint64_t to)
{
	memcpy(heapmem + i * CSIZE + 8 * w, &to, 8);
}

/*
 * The graph, from the module's first word (a root) to chunk 0:
 *
 *   0 -> 1 -> 3 -> 4 (through an interior pointer, 4 + 8)
 *   0 -> 2 -> 3        4 -> 2, seven times (duplicate references)
 *   5 -> 6, 7 -> 7, 8 <-> 9: leaked (a list, a self-reference, a cycle)
 *   10 and the rest: nothing refers to them
 *
 * 3 is reached through 1 and through 2, so 0 dominates it; 3 dominates 4.
 * Retained: 0 keeps 0..4 (5 chunks), 3 keeps 3 and 4, 1, 2 and 4 only
 * themselves.
 */
static void build_memory(void)
{
	memset(heapmem, 0, sizeof(heapmem));
	memset(modmem, 0, sizeof(modmem));
	uint64_t root = chunk_addr(0);
	memcpy(modmem, &root, 8);
	point(0, 0, chunk_addr(1));
	point(0, 1, chunk_addr(2));
	point(1, 2, chunk_addr(3));
	point(2, 3, chunk_addr(3) + 16);
	point(3, 0, chunk_addr(4) + 8);
	for (unsigned w = 1; w < 8; w++)
		point(4, w, chunk_addr(2));
	point(5, 0, chunk_addr(6));
	point(7, 0, chunk_addr(7));
	point(8, 0, chunk_addr(9));
	point(9, 0, chunk_addr(8));
}

static struct hs_process *make_process(void)
{
	/* The module's data is writable: a root. */
	return check_process_create(BASE, heapmem, sizeof(heapmem), MOD, modmem, sizeof(modmem), 6);
}

static struct hs_heap *make_heap(void)
{
	struct hs_heap *heap;
	CHECK(!hs_heap_create(&heap));
	snprintf(heap->allocator, sizeof(heap->allocator), "jemalloc");
	for (unsigned i = 0; i < NCHUNKS; i++)
		CHECK(hs_heap_add_chunk(heap, chunk_addr(i), CSIZE, HS_CHUNK_IN_USE, 0));
	CHECK(!hs_heap_finish(heap));
	return heap;
}

static hs_chunk_id id_of(struct hs_heap *heap, unsigned i)
{
	struct hs_chunk ch;
	hs_chunk_id id = HS_CHUNK_ID_NONE;
	CHECK(hs_heap_find(heap, chunk_addr(i), &ch, &id));
	return id;
}

/* The marks: exactly chunks 0 to 4. */
static void check_marks(struct hs_heap *heap)
{
	for (unsigned i = 0; i < NCHUNKS; i++)
		CHECK_EQ(hs_heap_chunk_bit(heap, id_of(heap, i), HS_CHUNK_BIT_MARK), i <= 4);
}

static void check_tree(struct hs_heap *heap, const struct hs_dominators *d)
{
	static const uint64_t want[NCHUNKS] = {5 * CSIZE, CSIZE, CSIZE, 2 * CSIZE, CSIZE};
	CHECK_EQ(hs_dominators_count(d), 5);
	for (unsigned i = 0; i < NCHUNKS; i++)
		CHECK_EQ(hs_dominators_retained(d, id_of(heap, i)), want[i]);
	hs_chunk_id ids[4];
	uint64_t retained[4];
	/* Only chunk 0 has the root as its dominator. */
	CHECK_EQ(hs_dominators_top(d, 4, ids, retained), 1);
	CHECK_EQ(ids[0], id_of(heap, 0));
	CHECK_EQ(retained[0], 5 * CSIZE);
}

static void test_tree(unsigned threads)
{
	build_memory();
	struct hs_process *proc = make_process();
	struct hs_heap *heap = make_heap();
	struct hs_refgraph_options o = {.threads = threads, .retained = true,
					.retained_limit = UINT64_C(1) << 30};
	struct hs_refgraph *g = NULL;
	CHECK(!hs_refgraph_create(proc, heap, &o, &g));
	if (g) {
		const char *why = NULL;
		struct hs_dominators *d = hs_refgraph_tree(g, &why);
		CHECK(d && !why);
		if (d)
			check_tree(heap, d);
		check_marks(heap);
		uint64_t counts[HS_ROOT_NKINDS];
		hs_refgraph_root_counts(g, counts);
		CHECK_EQ(counts[HS_ROOT_MODULES], 1);
	}
	hs_refgraph_destroy(g);
	hs_heap_destroy(heap);
	hs_process_destroy(proc);
}

/*
 * Every limit from nothing to enough: the tree is complete or absent (with
 * a note), never partial, and the marks are right either way, whichever
 * step the limit stops (the estimate, the arrays, the references the
 * marking records, the search, Lengauer-Tarjan).
 */
static void test_limits(unsigned threads)
{
	build_memory();
	struct hs_process *proc = make_process();
	struct hs_heap *heap = make_heap();
	unsigned with = 0, without = 0;
	for (uint64_t limit = 0; limit <= 8192; limit += 8) {
		struct hs_refgraph_options o = {.threads = threads, .retained = true,
						.retained_limit = limit};
		struct hs_refgraph *g = NULL;
		CHECK(!hs_refgraph_create(proc, heap, &o, &g));
		if (!g)
			continue;
		const char *why = NULL;
		struct hs_dominators *d = hs_refgraph_tree(g, &why);
		if (d) {
			with++;
			CHECK(!why);
			CHECK(hs_dominators_bytes(d) <= limit);
			check_tree(heap, d);
		} else {
			without++;
			CHECK(why && strstr(why, "retained sizes would need more than"));
		}
		check_marks(heap);
		hs_refgraph_destroy(g);
	}
	if (!(with > 0 && without > 0))
		fprintf(stderr, "limits: %u with the tree, %u without\n", with, without);
	CHECK(with > 0 && without > 0);
	hs_heap_destroy(heap);
	hs_process_destroy(proc);
}

int main(void)
{
	test_tree(1);
	test_tree(2);
	test_limits(1);
	test_limits(2);
	return check_summary("test_refgraph");
}
