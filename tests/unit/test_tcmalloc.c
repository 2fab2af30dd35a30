/* test_tcmalloc.c: the tcmalloc walk over a synthetic 2.10 heap: every cache level, corruption. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../heapwalk/tcmalloc_internal.h"
#include "check.h"
#include "check_heap.h"

/* ------------------------------------------------------------------------
 * A synthetic tcmalloc 2.10: the library's statics, a metadata area (page
 * map leaf, Span objects, ThreadCaches, a StackTrace) and 32 heap pages.
 * ------------------------------------------------------------------------ */

#define PAGE 8192ull
/* libtcmalloc .bss */
#define LIB 0x7f0000000000ull
#define LIB_SIZE 0x1c0000ull
#define PH LIB                     /* Static::pageheap_ */
#define CC (LIB + 0x184000)        /* Static::central_cache_ */
#define SM (LIB + 0x1b0000)        /* Static::sizemap_ */
#define TH (LIB + 0x1b2000)        /* ThreadCache::thread_heaps_ */
/* metadata */
#define META 0x7f0010000000ull
#define META_SIZE 0x230000ull
#define LEAF META
#define SPANS (META + 0x200000)
#define SPAN(i) (SPANS + 48 * (i))
#define TC_A (META + 0x210000)
#define TC_B (TC_A + 4160)
#define STACK (META + 0x220000)
/* heap pages: page P0 is leaf entry 0x1000 of root entry 0xfe00 */
#define HEAP 0x7f0020000000ull
#define HEAP_PAGES 32
#define P0 (HEAP / PAGE)
#define PG(i) (HEAP + (i) * PAGE)

/* size classes 1..3 (num_size_classes 4) */
#define SZ1 16
#define SZ2 64
#define SZ3 1040 /* 15 objects in 2 pages, 784 bytes of tail */
#define OBJ1(i) (PG(0) + (i) * SZ1)
#define OBJ2(i) (PG(1) + (i) * SZ2)

/* Spans: S1 class 1 [0,1), S2 class 2 [1,2), S3 class 3 [2,4), S4 large in
 * use [4,7), S5 normal free [7,12), S6 returned [12,20), S7 sampled [20,21).
 * Span object 8 is a dead one (a stale page-map entry points at it). */
enum { S1, S2, S3, S4, S5, S6, S7, SDEAD };

static struct check_region regions[3];

static const struct hs_tcm_layout *L;

static uint8_t *at(uint64_t addr, size_t len)
{
	return check_at(regions, 3, addr, len);
}

static void w64(uint64_t addr, uint64_t v)
{
	memcpy(at(addr, 8), &v, 8);
}

static void w32(uint64_t addr, uint32_t v)
{
	memcpy(at(addr, 4), &v, 4);
}

static void span(int i, uint64_t page, uint64_t len, uint64_t objects,
		 unsigned refcount, unsigned cls, unsigned location, unsigned sample)
{
	w64(SPAN(i) + L->span_start, P0 + page);
	w64(SPAN(i) + L->span_length, len);
	w64(SPAN(i) + L->span_objects, objects);
	w32(SPAN(i) + L->span_bits, refcount | cls << 16 | location << 24 |
	    sample << 26);
}

static void map_page(uint64_t page, uint64_t v)
{
	w64(LEAF + 8 * (((P0 + page) & 0x3ffff)), v);
}

/* Register pages as PageHeap does: every page of a small-object span, the
 * first and last of the others. */
static void record(int i, uint64_t page, uint64_t len, bool all)
{
	for (uint64_t p = page; p < page + len; p++)
		if (all || p == page || p == page + len - 1)
			map_page(p, SPAN(i));
}

static void link_objs(const uint64_t *objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w64(objs[i], i + 1 < n ? objs[i + 1] : 0);
}

static void freelist(uint64_t tc, unsigned cls, uint64_t head, uint32_t length)
{
	uint64_t fl = tc + L->tc_list + cls * L->tc_list_stride;
	w64(fl + L->fl_head, head);
	w32(fl + L->fl_length, length);
}

static void build(void)
{
	static const uint64_t starts[3] = { LIB, META, HEAP };
	static const uint64_t sizes[3] = { LIB_SIZE, META_SIZE, HEAP_PAGES * PAGE };
	for (int i = 0; i < 3; i++)
		check_region_set(&regions[i], starts[i], sizes[i]);
	/* SizeMap */
	w64(SM + L->sm_num_size_classes, 4);
	static const uint32_t size[4] = { 0, SZ1, SZ2, SZ3 };
	static const uint64_t pages[4] = { 0, 1, 1, 2 };
	static const uint32_t move[4] = { 0, 32, 16, 4 };
	for (unsigned c = 0; c < 4; c++) {
		w32(SM + L->sm_class_to_size + 4 * c, size[c]);
		w64(SM + L->sm_class_to_pages + 8 * c, pages[c]);
		w32(SM + L->sm_num_objects_to_move + 4 * c, move[c]);
	}
	for (unsigned s = 0; s <= SZ3; s += 8) /* SizeMap::Init, common.cc:184-190 */
		*at(SM + L->sm_class_array + (s <= 1024 ? (s + 7) / 8 :
					      (s + 127 + (120 << 7)) / 128), 1) =
			s <= SZ1 ? 1 : s <= SZ2 ? 2 : 3;

	/* Page map root -> one leaf. */
	w64(PH + L->ph_pagemap_root + 8 * ((P0 >> 18)), LEAF);

	/* S1: 512 objects of 16; its own free list 3 -> 7 -> 9; objects
	 * 10, 11 in ThreadCache A; 100..131 in a transfer slot. */
	static const uint64_t s1free[] = { OBJ1(3), OBJ1(7), OBJ1(9) };
	link_objs(s1free, 3);
	span(S1, 0, 1, OBJ1(3), 512 - 3, 1, 0, 0);
	record(S1, 0, 1, true);
	uint64_t slot[32];
	for (int i = 0; i < 32; i++)
		slot[i] = OBJ1(100 + i);
	link_objs(slot, 32);
	static const uint64_t tca[] = { OBJ1(10), OBJ1(11) };
	link_objs(tca, 2);

	/* S2: 128 objects of 64; own free list 0 -> 127; object 5 in
	 * ThreadCache B. */
	static const uint64_t s2free[] = { OBJ2(0), OBJ2(127) };
	link_objs(s2free, 2);
	span(S2, 1, 1, OBJ2(0), 128 - 2, 2, 0, 0);
	record(S2, 1, 1, true);
	w64(OBJ2(5), 0);

	/* S3: 15 objects of 1040 in two pages, all in use. */
	span(S3, 2, 2, 0, 15, 3, 0, 0);
	record(S3, 2, 2, true);
	/* S4: a 3-page allocation. */
	span(S4, 4, 3, 0, 0, 0, 0, 0);
	record(S4, 4, 3, false);
	/* S5, S6: page-heap free spans, normal and returned. */
	span(S5, 7, 5, 0, 0, 0, 1, 0);
	record(S5, 7, 5, false);
	span(S6, 12, 8, 0, 0, 0, 2, 0);
	record(S6, 12, 8, false);
	/* S7: a sampled malloc(100): one page, StackTrace says 100. */
	span(S7, 20, 1, STACK, 0, 0, 0, 1);
	record(S7, 20, 1, false);
	w64(STACK + L->stack_size, 100);
	/* Stale entries: one inside S6 pointing at S1, one past the heap at
	 * a dead Span (its start overwritten by a free-list link). */
	map_page(15, SPAN(S1));
	map_page(30, SPAN(SDEAD));
	w64(SPAN(SDEAD) + L->span_start, SPAN(SDEAD) + 48);

	/* Central free lists: size_class_, num_spans_, counter_, slots. */
	static const uint64_t nfree[4] = { 0, 3, 2, 0 };
	for (unsigned c = 1; c < 4; c++) {
		uint64_t cfl = CC + c * L->cfl_stride;
		w64(cfl + L->cfl_size_class, c);
		w64(cfl + L->cfl_num_spans, 1);
		w64(cfl + L->cfl_counter, nfree[c]);
	}
	w32(CC + 1 * L->cfl_stride + L->cfl_used_slots, 1);
	w64(CC + 1 * L->cfl_stride + L->cfl_tc_slots, slot[0]);
	w64(CC + 1 * L->cfl_stride + L->cfl_tc_slots + 8, slot[31]);

	/* Thread caches A -> B. */
	w64(TH, TC_A);
	freelist(TC_A, 1, OBJ1(10), 2);
	w32(TC_A + L->tc_size_bytes, 2 * SZ1);
	w64(TC_A + L->tc_next, TC_B);
	freelist(TC_B, 2, OBJ2(5), 1);
	w32(TC_B + L->tc_size_bytes, SZ2);

	/* PageHeap::stats_ */
	w64(PH + L->ph_stats + L->st_system_bytes, 21 * PAGE);
	w64(PH + L->ph_stats + L->st_free_bytes, 5 * PAGE);
	w64(PH + L->ph_stats + L->st_unmapped_bytes, 8 * PAGE);
}

static const struct hs_tcm_addrs addrs = {
	.pageheap = PH, .sizemap = SM, .central_cache = CC, .thread_heaps = TH,
};

static struct hs_process *make_process(void)
{
	return check_process(regions, 3);
}

/* Walk the current synthetic memory; *errp gets the walk's error. */
static struct hs_heap *walk_err(bool samples, struct hs_error **errp)
{
	struct hs_process *proc = make_process();
	struct hs_heap *heap;
	if (hs_heap_create(&heap))
		abort();
	*errp = hs_tcmalloc_walk_at(proc, L, &addrs, samples, heap);
	CHECK(!hs_heap_finish(heap));
	hs_process_destroy(proc);
	return heap;
}

static struct hs_heap *walk(bool samples)
{
	struct hs_error *err;
	struct hs_heap *heap = walk_err(samples, &err);
	CHECK(err == NULL);
	if (err) {
		fprintf(stderr, "walk: %s\n", err->message);
		hs_error_destroy(err);
	}
	return heap;
}

static void expect(const struct hs_heap *heap, uint64_t addr, uint64_t size,
		   enum hs_chunk_state state, int line)
{
	const struct hs_chunk *c = check_heap_chunk_at(heap, addr);
	if (!c || c->addr != addr || hs_chunk_size(c) != size ||
	    hs_chunk_state(c) != state) {
		fprintf(stderr, "%s:%d: chunk 0x%" PRIx64 ": got %s", __FILE__, line,
			addr, c ? "" : "nothing\n");
		if (c)
			fprintf(stderr, "addr 0x%" PRIx64 " size %" PRIu64 " state %d\n",
				c->addr, hs_chunk_size(c), hs_chunk_state(c));
		check_failures++;
	}
}
#define EXPECT(heap, addr, size, state) expect(heap, addr, size, state, __LINE__)

static size_t count_severity(const struct hs_heap *heap, enum hs_severity sev)
{
	return check_heap_diags(heap, sev, 0, "");
}

static void count_states(const struct hs_heap *heap, uint64_t n[3], uint64_t b[3])
{
	memset(n, 0, 3 * sizeof(*n));
	memset(b, 0, 3 * sizeof(*b));
	size_t nall;
	const struct hs_chunk *all = check_heap_all(heap, &nall);
	for (size_t i = 0; i < nall; i++) {
		n[hs_chunk_state(&all[i])]++;
		b[hs_chunk_state(&all[i])] += hs_chunk_size(&all[i]);
	}
}

/* ------------------------------------------------------------------------
 * Tests.
 * ------------------------------------------------------------------------ */

/* Expected figures of the clean heap (tcmalloc.cc:699-773):
 * central = 3*16 + 2*64 + (16384 % 1040) = 960, transfer = 32*16,
 * thread = 2*16 + 64, current = heap - the rest. */
#define HEAP_SIZE (21 * PAGE)
#define CENTRAL (3 * SZ1 + 2 * SZ2 + 784)
#define TRANSFER (32 * SZ1)
#define THREAD (2 * SZ1 + SZ2)
#define CURRENT (HEAP_SIZE - THREAD - CENTRAL - TRANSFER - 5 * PAGE - 8 * PAGE)

static void test_clean(void)
{
	build();
	struct hs_heap *heap = walk(true);
	CHECK_EQ(check_heap_stat(heap, "generic.heap_size"), HEAP_SIZE);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.pageheap_free_bytes"), 5 * PAGE);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.pageheap_unmapped_bytes"), 8 * PAGE);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.central_cache_free_bytes"), CENTRAL);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.transfer_cache_free_bytes"), TRANSFER);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.thread_cache_free_bytes"), THREAD);
	CHECK_EQ(check_heap_stat(heap, "generic.current_allocated_bytes"), CURRENT);
	CHECK_EQ(CURRENT, 63968);

	/* 512 + 128 + 15 objects, S4, S5, S6, S7. */
	CHECK_EQ(heap->nchunks, 512 + 128 + 15 + 4);
	uint64_t n[3], b[3];
	count_states(heap, n, b);
	CHECK_EQ(n[HS_CHUNK_FREE], 3 + 2 + 2);
	CHECK_EQ(n[HS_CHUNK_CACHED], 2 + 1 + 32);
	CHECK_EQ(n[HS_CHUNK_IN_USE], 512 - 37 + 128 - 3 + 15 + 2);
	/* in use + the sampled span's slack = current_allocated_bytes */
	CHECK_EQ(b[HS_CHUNK_IN_USE] + (PAGE - SZ3), CURRENT);
	CHECK_EQ(b[HS_CHUNK_CACHED], TRANSFER + THREAD);

	EXPECT(heap, OBJ1(0), SZ1, HS_CHUNK_IN_USE);
	EXPECT(heap, OBJ1(3), SZ1, HS_CHUNK_FREE);
	EXPECT(heap, OBJ1(9), SZ1, HS_CHUNK_FREE);
	EXPECT(heap, OBJ1(10), SZ1, HS_CHUNK_CACHED);
	EXPECT(heap, OBJ1(11), SZ1, HS_CHUNK_CACHED);
	EXPECT(heap, OBJ1(100), SZ1, HS_CHUNK_CACHED);
	EXPECT(heap, OBJ1(131), SZ1, HS_CHUNK_CACHED);
	EXPECT(heap, OBJ1(132), SZ1, HS_CHUNK_IN_USE);
	EXPECT(heap, OBJ2(0), SZ2, HS_CHUNK_FREE);
	EXPECT(heap, OBJ2(5), SZ2, HS_CHUNK_CACHED);
	EXPECT(heap, OBJ2(127), SZ2, HS_CHUNK_FREE);
	EXPECT(heap, PG(2) + 14 * SZ3, SZ3, HS_CHUNK_IN_USE);
	EXPECT(heap, PG(4), 3 * PAGE, HS_CHUNK_IN_USE);
	EXPECT(heap, PG(7), 5 * PAGE, HS_CHUNK_FREE);
	EXPECT(heap, PG(12), 8 * PAGE, HS_CHUNK_FREE);
	/* sampled malloc(100): tc_nallocx(100) is class 3 */
	EXPECT(heap, PG(20), SZ3, HS_CHUNK_IN_USE);
	/* the tail of a class-3 span is no chunk */
	CHECK(check_heap_chunk_at(heap, PG(2) + 15 * SZ3) == NULL);

	/* Regions: S6 unmapped, S7's slack. */
	/* The memory map's: S6 unmapped, the six other spans heap, and
	 * the segments that hold spans and Span objects metadata. */
	CHECK_EQ(check_heap_regions(heap, "unmapped", 0, 0), 1);
	CHECK_EQ(check_heap_regions(heap, "sampled_span_slack", 0, 0), 1);
	CHECK_EQ(check_heap_regions(heap, HS_REGION_HEAP, 0, 0), 6);
	CHECK_EQ(check_heap_regions(heap, HS_REGION_HEAP, PG(4), 3 * PAGE), 1);
	CHECK_EQ(check_heap_regions(heap, HS_REGION_HEAP, PG(12), 0), 0);
	CHECK(check_heap_regions(heap, HS_REGION_METADATA, 0, 0) >= 1);
	CHECK_EQ(check_heap_regions(heap, "unmapped", 0, 0) +
		 check_heap_regions(heap, "sampled_span_slack", 0, 0) +
		 check_heap_regions(heap, HS_REGION_HEAP, 0, 0) +
		 check_heap_regions(heap, HS_REGION_METADATA, 0, 0),
		 check_heap_regions(heap, NULL, 0, 0));
	bool unmapped = false, slack = false;
	for (size_t i = 0; i < heap->nregions; i++) {
		const struct hs_region *r = &heap->regions[i];
		unmapped |= !strcmp(r->kind, "unmapped") && r->start == PG(12) &&
			    r->size == 8 * PAGE;
		slack |= !strcmp(r->kind, "sampled_span_slack") &&
			 r->start == PG(20) + SZ3 && r->size == PAGE - SZ3;
	}
	CHECK(unmapped);
	CHECK(slack);

	/* No warnings or errors; the two stale entries are one info. */
	CHECK_EQ(count_severity(heap, HS_DIAG_ERROR), 0);
	CHECK_EQ(count_severity(heap, HS_DIAG_WARNING), 0);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_INFO, 0, "2 stale page-map entries"), 1);
	if (count_severity(heap, HS_DIAG_ERROR) || count_severity(heap, HS_DIAG_WARNING))
		check_heap_dump_diags(heap);
	hs_heap_destroy(heap);

	/* Validation accepts these addresses. */
	struct hs_process *proc = make_process();
	char why[160];
	CHECK(hs_tcm_validate(&proc->mem, L, &addrs, why, sizeof(why)));
	struct hs_tcm_addrs bad = addrs;
	bad.central_cache += L->cfl_stride; /* off by one class */
	CHECK(!hs_tcm_validate(&proc->mem, L, &bad, why, sizeof(why)));
	CHECK(strstr(why, "central_cache_") != NULL);
	hs_process_destroy(proc);
}

/* A build identified as not sampling: the StackTrace still decides, and
 * the surprise is one note. */
static void test_no_sampling_build(void)
{
	build();
	struct hs_heap *heap = walk(false);
	EXPECT(heap, PG(20), SZ3, HS_CHUNK_IN_USE);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_INFO, SPAN(S7), "not sampling"), 1);
	CHECK_EQ(check_heap_stat(heap, "generic.current_allocated_bytes"), CURRENT);
	CHECK_EQ(count_severity(heap, HS_DIAG_ERROR), 0);
	CHECK_EQ(count_severity(heap, HS_DIAG_WARNING), 0);
	hs_heap_destroy(heap);
}

/* S1's free list loops 3 -> 7 -> 9 -> 3: one warning at 3, the walk ends
 * and the figures are those of the three distinct objects. */
static void test_span_freelist_loop(void)
{
	build();
	w64(OBJ1(9), OBJ1(3));
	struct hs_heap *heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, OBJ1(3), "loops"), 1);
	EXPECT(heap, OBJ1(7), SZ1, HS_CHUNK_FREE);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.central_cache_free_bytes"), CENTRAL);
	CHECK_EQ(check_heap_stat(heap, "generic.current_allocated_bytes"), CURRENT);
	CHECK_EQ(count_severity(heap, HS_DIAG_ERROR), 0);
	hs_heap_destroy(heap);
}

/* Garbage: a thread-cache object whose link points nowhere, a page-map entry
 * pointing at unmapped memory, a misaligned free-list entry. Each is a
 * diagnostic with the address; the walk goes on. */
static void test_garbage_pointers(void)
{
	build();
	w64(OBJ1(10), 0x1234567); /* TC A class 1: 10 -> garbage */
	map_page(25, 0xdead0000);
	w64(OBJ2(0), OBJ2(5) + 3); /* S2 free list: 0 -> misaligned */
	struct hs_heap *heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, 0x1234567,
			     "not in a small-object span"), 1);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_ERROR, TC_A, "length_ 2 but 1"), 1);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_ERROR, TC_A, "size_ 32"), 1);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, 0xdead0000, "unreadable"), 1);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, OBJ2(5) + 3,
			     "not an object of the span"), 1);
	/* S2 now has one object on its list: refcount and counter_ disagree */
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_ERROR, SPAN(S2), "refcount 126"), 1);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_ERROR, CC + 2 * L->cfl_stride,
			     "counter_ 2"), 1);
	EXPECT(heap, OBJ1(11), SZ1, HS_CHUNK_IN_USE);
	EXPECT(heap, OBJ2(127), SZ2, HS_CHUNK_IN_USE);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.thread_cache_free_bytes"), SZ1 + SZ2);
	hs_heap_destroy(heap);
}

/* Thread caches A -> B -> A: each walked once, one warning. */
static void test_thread_cache_loop(void)
{
	build();
	w64(TC_B + L->tc_next, TC_A);
	struct hs_heap *heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, TC_A, "loops back"), 1);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, 0, "already free or cached"), 0);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.thread_cache_free_bytes"), THREAD);
	CHECK_EQ(count_severity(heap, HS_DIAG_ERROR), 0);
	hs_heap_destroy(heap);

	/* A cache list that loops on itself, 10 -> 11 -> 10. */
	build();
	w64(OBJ1(11), OBJ1(10));
	heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, OBJ1(10), "already free or cached"), 1);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.thread_cache_free_bytes"), THREAD);
	hs_heap_destroy(heap);
}

/* A transfer slot whose chain ends early and an object listed twice (in a
 * slot and in a thread cache): errors, marks stay single. */
static void test_transfer_cache(void)
{
	build();
	w64(OBJ1(115), 0); /* chain 100..115, tail 131 never reached */
	struct hs_heap *heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_ERROR, OBJ1(100), "16 objects"), 1);
	CHECK_EQ(check_heap_stat(heap, "tcmalloc.transfer_cache_free_bytes"), 16 * SZ1);
	EXPECT(heap, OBJ1(116), SZ1, HS_CHUNK_IN_USE);
	hs_heap_destroy(heap);

	build();
	w64(OBJ1(11), OBJ1(100)); /* TC A: 10 -> 11 -> 100 (a slot object) */
	w32(TC_A + L->tc_list + L->tc_list_stride + L->fl_length, 3);
	heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, OBJ1(100), "already free or cached"), 1);
	hs_heap_destroy(heap);
}

/* The in-core counters disagree with the walk: error diagnostics. */
static void test_counters(void)
{
	build();
	w64(PH + L->ph_stats + L->st_system_bytes, 22 * PAGE);
	w64(PH + L->ph_stats + L->st_unmapped_bytes, 0);
	w32(SPAN(S3) + L->span_bits, 14 | 3 << 16); /* refcount 14 of 15 */
	struct hs_heap *heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_ERROR, 0, "stats_.system_bytes"), 1);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_ERROR, 0, "stats_.unmapped_bytes"), 1);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_ERROR, 0, "stats_.free_bytes"), 0);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_ERROR, SPAN(S3), "refcount 14"), 1);
	/* the figures are the walk's, not the counters' */
	CHECK_EQ(check_heap_stat(heap, "generic.heap_size"), HEAP_SIZE);
	hs_heap_destroy(heap);
}

/* Hostile spans: an impossible length, an overlap, a bad size class. */
static void test_bad_spans(void)
{
	build();
	w64(SPAN(S4) + L->span_length, 0);
	struct hs_heap *heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, SPAN(S4), "impossible length"), 1);
	CHECK(check_heap_chunk_at(heap, PG(4)) == NULL);
	hs_heap_destroy(heap);

	build();
	w64(SPAN(S5) + L->span_length, 9); /* S5 [7,16) overlaps S6 [12,20) */
	heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, SPAN(S6), "overlaps"), 1);
	hs_heap_destroy(heap);

	build();
	w32(SPAN(S3) + L->span_bits, 15 | 9 << 16); /* class 9 of 4 */
	heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, SPAN(S3), "size class 9"), 1);
	EXPECT(heap, PG(2), 2 * PAGE, HS_CHUNK_IN_USE);
	hs_heap_destroy(heap);

	/* A class span whose pages the core does not hold: one allocation. */
	build();
	span(SDEAD + 1, 40, 1, 0, 512, 1, 0, 0);
	record(SDEAD + 1, 40, 1, true);
	heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, SPAN(SDEAD + 1), "not in the core"), 1);
	EXPECT(heap, PG(40), PAGE, HS_CHUNK_IN_USE);
	EXPECT(heap, OBJ1(3), SZ1, HS_CHUNK_FREE);
	hs_heap_destroy(heap);

	/* A sampled span whose StackTrace does not fit its length. */
	build();
	w64(STACK + L->stack_size, 50000);
	heap = walk(true);
	CHECK_EQ(check_heap_diags(heap, HS_DIAG_WARNING, STACK, "request of 50000"), 1);
	EXPECT(heap, PG(20), PAGE, HS_CHUNK_IN_USE);
	hs_heap_destroy(heap);
}

/* An unusable SizeMap is the walk's one failure; a root that is not in the
 * core another. */
static void test_fatal(void)
{
	build();
	w64(SM + L->sm_num_size_classes, 0);
	struct hs_error *err;
	struct hs_heap *heap = walk_err(true, &err);
	CHECK(err != NULL && err->code == HS_ERR_FORMAT);
	hs_error_destroy(err);
	hs_heap_destroy(heap);

	build();
	struct hs_tcm_addrs moved = addrs;
	moved.pageheap = 0x10000;
	struct hs_process *proc = make_process();
	if (hs_heap_create(&heap))
		abort();
	err = hs_tcmalloc_walk_at(proc, L, &moved, true, heap);
	CHECK(err != NULL && err->code == HS_ERR_FAULT);
	hs_error_destroy(err);
	hs_heap_destroy(heap);
	hs_process_destroy(proc);
}

static void test_layout_table(void)
{
	CHECK(hs_tcm_layout_for_version("2.10") == L);
	CHECK(L->verified);
	const struct hs_tcm_layout *old = hs_tcm_layout_for_version("2.8.1");
	CHECK(old && strcmp(old->version, "2.8.1") == 0);
	CHECK(hs_tcm_layout_for_version("2.9.1") == old);
	CHECK(hs_tcm_layout_for_version("2.16") != NULL);
	CHECK(hs_tcm_layout_for_version("2.8") == old);
	const struct hs_tcm_layout *r211 = hs_tcm_layout_for_version("2.11");
	CHECK(r211 && hs_tcm_layout_for_version("2.15") == r211);
	const struct hs_tcm_layout *r27 = hs_tcm_layout_for_version("2.7");
	CHECK(r27 && strcmp(r27->version, "2.6.2") == 0);
	CHECK(hs_tcm_layout_for_version("2.6.1") != r27);
	const struct hs_tcm_layout *r25 = hs_tcm_layout_for_version("2.5");
	CHECK(r25 && r25->pagemap_levels == 3 && r25->ph_indirect);
	CHECK(hs_tcm_layout_for_version("2.4") == NULL);
	CHECK(hs_tcm_layout_for_version("2.99") == NULL);
	CHECK(hs_tcm_layout_for_version("") == NULL);
	/* A release without a row: the nearest row first, the newer on a tie. */
	const struct hs_tcm_layout *cand[32];
	size_t nc = hs_tcm_layout_candidates("2.99", cand, 32);
	CHECK(nc == hs_tcm_nlayouts && cand[0] == &hs_tcm_layouts[hs_tcm_nlayouts - 1]);
	nc = hs_tcm_layout_candidates("2.4", cand, 2);
	CHECK(nc == 2 && cand[0] == r25);
	/* Another page size: 2.10 built with 32 KiB pages (ptype/o of that
	 * build: stats_ at 1051752, 1051856 bytes, free_[32]). */
	struct hs_tcm_layout p32;
	CHECK(hs_tcm_layout_with_page_shift(L, 15, &p32));
	CHECK(p32.ph_stats == 1051752 && p32.ph_size == 1051856 &&
	      p32.max_pages == 32 && p32.pagemap_root_bits == 16 &&
	      p32.pagemap_leaf_bits == 17 && p32.ph_pagemap_root == L->ph_pagemap_root);
	struct hs_tcm_layout same;
	CHECK(hs_tcm_layout_with_page_shift(L, 13, &same) &&
	      same.ph_stats == L->ph_stats && same.pagemap_root_bits == 17);
	CHECK(hs_tcm_layout_with_page_shift(r25, 16, &same) &&
	      same.pagemap_interior_bits == 11 && same.pagemap_leaf_bits == 10 &&
	      same.ph_stats == r25->ph_stats - 96 * (128 - 16));
	CHECK(!hs_tcm_layout_with_page_shift(L, 30, &same));
	/* kPageShift from a SizeMap: its last class, kMaxSize in 32 pages. */
	uint8_t *sm = calloc(1, L->sm_size);
	if (!sm)
		abort();
	uint64_t n = 3, pages = 32;
	int32_t sz = 8, big = 256 * 1024;
	memcpy(sm + L->sm_num_size_classes, &n, 8);
	memcpy(sm + L->sm_class_to_size + 4, &sz, 4);
	memcpy(sm + L->sm_class_to_size + 8, &big, 4);
	memcpy(sm + L->sm_class_to_pages + 16, &pages, 8);
	CHECK(hs_tcm_sizemap_page_shift(L, sm) == 13);
	pages = 8;
	memcpy(sm + L->sm_class_to_pages + 16, &pages, 8);
	CHECK(hs_tcm_sizemap_page_shift(L, sm) == 15);
	pages = 7;
	memcpy(sm + L->sm_class_to_pages + 16, &pages, 8);
	CHECK(hs_tcm_sizemap_page_shift(L, sm) == 0);
	free(sm);
	char list[256];
	hs_tcm_layout_list(list, sizeof(list));
	CHECK(strncmp(list, "2.5, 2.6-2.6.1, 2.6.2-2.7, 2.8-2.9.1, 2.10, ", 44) == 0);
	for (size_t i = 0; i < hs_tcm_nlayouts; i++) {
		const struct hs_tcm_layout *l = &hs_tcm_layouts[i];
		/* invariants of every row */
		CHECK(l->span_size >= l->span_bits + 4);
		CHECK(l->cfl_used_slots >= l->cfl_tc_slots + 16 * l->cfl_max_slots);
		CHECK(l->tc_size_bytes >= l->tc_list + l->class_sizes_max * l->tc_list_stride ||
		      l->tc_size_bytes + 4 <= l->tc_list);
		CHECK(l->tc_next + 8 <= l->tc_size);
		CHECK(l->ph_stats + 24 <= l->ph_size);
		CHECK(l->pagemap_levels == 3 ?
		      l->ph_pagemap_root + 8 <= l->ph_stats :
		      l->ph_pagemap_root + (8u << l->pagemap_root_bits) <= l->ph_stats);
		CHECK(l->sm_num_size_classes == HS_TCM_ABSENT ||
		      l->sm_num_size_classes + 8 <= l->sm_size);
		CHECK(l->sm_class_to_size + l->class_sizes_max * l->sm_class_to_size_width <=
		      l->sm_size);
		CHECK(l->vmin <= l->vmax && (i == 0 || hs_tcm_layouts[i - 1].vmax < l->vmin));
	}
	static const uint8_t minimal_id[20] = {
		0x39, 0xdf, 0xd4, 0xa5, 0x85, 0x57, 0x03, 0xfa, 0x6c, 0x24,
		0x69, 0x74, 0x92, 0x82, 0xf7, 0x5b, 0x18, 0xa1, 0xaa, 0x66,
	};
	const struct hs_tcm_build *b = hs_tcm_build_by_id(minimal_id, 20);
	CHECK(b && strcmp(b->flavour, "minimal") == 0 && b->central_cache == 0x1b0f20);
	CHECK(hs_tcm_build_by_id(minimal_id, 19) == NULL);
	CHECK(hs_tcm_flavour_samples("full"));
	CHECK(!hs_tcm_flavour_samples("minimal"));
	CHECK(!hs_tcm_flavour_samples("minimal_debug"));
}

int main(void)
{
	L = hs_tcm_layout_for_version("2.10");
	if (!L)
		abort();
	test_clean();
	test_no_sampling_build();
	test_span_freelist_loop();
	test_garbage_pointers();
	test_thread_cache_loop();
	test_transfer_cache();
	test_counters();
	test_bad_spans();
	test_fatal();
	test_layout_table();
	check_regions_free(regions, 3);
	return check_summary("test_tcmalloc");
}
