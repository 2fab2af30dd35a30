/* test_glibc.c: unit tests for the glibc 2.36 walk engine over a synthetic process. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../heapwalk/glibc.h"
#include "../../heapwalk/layout_infer.h"
#include "check.h"
#include "check_heap.h"

/* ------------------------------------------------------------------------
 * A synthetic address space: a few regions backed by calloc'd buffers.
 * ------------------------------------------------------------------------ */

#define NREGIONS 8
static struct check_region regions[NREGIONS];

/* libc's .data: main_arena and mp_ */
#define LIBC_DATA 0x7f0000100000ull
#define MA (LIBC_DATA + 0x100)
#define MP (LIBC_DATA + 0x1000)
/* the main heap (brk) */
#define S 0x555555560000ull
#define S_SIZE 0x21000ull
/* a non-main arena: first heap (holds the arena, ends in a fencepost) and a
 * newer heap holding top */
#define H1 0x7f0004000000ull
#define H1_SIZE 0x10000ull
#define AR (H1 + 0x30)
#define H2 0x7f0008000000ull
#define H2_SIZE 0x8000ull
/* one mmapped chunk */
#define MM 0x7f0000200000ull
#define MM_SIZE 0x2000ull

/* main heap chunks */
#define C0 S                  /* 0x290 tcache_perthread_struct */
#define T_MAIN (C0 + 0x10)
#define C1 (C0 + 0x290)       /* 0x30 in use */
#define C2 (C1 + 0x30)        /* 0x30 tcache bin 1 */
#define C3 (C2 + 0x30)        /* 0x30 tcache bin 1 */
#define C4 (C3 + 0x30)        /* 0x20 fastbin 0 */
#define C5 (C4 + 0x20)        /* 0x20 fastbin 0 (head) */
#define C6 (C5 + 0x20)        /* 0x100 in use */
#define C7 (C6 + 0x100)       /* 0x200 free (unsorted) */
#define C8 (C7 + 0x200)       /* 0x40 in use */
#define C9 (C8 + 0x40)        /* 0x90 free (small bin 9) */
#define C10 (C9 + 0x90)       /* 0x50 in use */
#define TOP (C10 + 0x50)
#define TOP_SIZE (S + S_SIZE - TOP)

/* non-main arena chunks */
#define D0 (H1 + 0x8d0)       /* 0x290 tcache struct of thread 2 */
#define T_AR (D0 + 0x10)
#define D1 (D0 + 0x290)       /* 0x40 in use */
#define D2 (D1 + 0x40)        /* 0x60 free (small bin 6) */
#define D3 (D2 + 0x60)        /* 0x30 in use */
#define FENCE (H1 + H1_SIZE - 0x20)
#define D4 (D3 + 0x30)        /* in use, up to the fencepost */
#define E0 (H2 + 0x30)        /* 0x100 in use */
#define TOP2 (E0 + 0x100)
#define TOP2_SIZE (H2 + H2_SIZE - TOP2)

static void w64(uint64_t addr, uint64_t v)
{
	memcpy(check_at(regions, NREGIONS, addr, 8), &v, 8);
}

static void w16(uint64_t addr, uint16_t v)
{
	memcpy(check_at(regions, NREGIONS, addr, 2), &v, 2);
}

static void add_region(int i, uint64_t start, uint64_t size)
{
	check_region_set(&regions[i], start, size);
}

static uint64_t protect(uint64_t pos, uint64_t ptr)
{
	return (pos >> 12) ^ ptr;
}

static void chunk(uint64_t p, uint64_t size_field)
{
	w64(p + 8, size_field);
}

/* bin_at(a, i) (malloc.c:1535): the fake chunk whose fd/bk are bins[2(i-1)..]. */
static uint64_t bin_at(uint64_t a, unsigned i)
{
	return a + 0x70 + 16 * (uint64_t)(i - 1) - 0x10;
}

static void init_bins(uint64_t a)
{
	for (unsigned i = 1; i < 128; i++) {
		uint64_t b = bin_at(a, i);
		w64(b + 0x10, b);
		w64(b + 0x18, b);
	}
}

/* Put free chunk c alone in bin i of arena a. */
static void bin_one(uint64_t a, unsigned i, uint64_t c)
{
	uint64_t b = bin_at(a, i);
	w64(b + 0x10, c);
	w64(b + 0x18, c);
	w64(c + 0x10, b);
	w64(c + 0x18, b);
}

/* The clean synthetic heap every test starts from. */
static void build(void)
{
	check_regions_free(regions, NREGIONS);
	add_region(0, LIBC_DATA, 0x2000);
	add_region(1, S, S_SIZE);
	add_region(2, H1, H1_SIZE);
	add_region(3, H2, H2_SIZE);
	add_region(4, MM, MM_SIZE);

	/* main_arena */
	init_bins(MA);
	w64(MA + 0x60, TOP);
	w64(MA + 0x870, AR);
	w64(MA + 0x888, S_SIZE);
	w64(MA + 0x10 + 0, C5);  /* fastbinsY[0] */
	/* mp_ */
	w64(MP + 0x3c, 1);       /* n_mmaps (int; upper half is n_mmaps_max) */
	w64(MP + 0x50, MM_SIZE); /* mmapped_mem */
	w64(MP + 0x60, S);       /* sbrk_base */
	w64(MP + 0x68, 64);      /* tcache_bins */

	/* main heap */
	chunk(C0, 0x291);
	chunk(C1, 0x31);
	chunk(C2, 0x31);
	chunk(C3, 0x31);
	chunk(C4, 0x21);
	chunk(C5, 0x21);
	chunk(C6, 0x101);
	chunk(C7, 0x201);
	w64(C8, 0x200);          /* footer of C7 */
	chunk(C8, 0x40);         /* PREV_INUSE clear: C7 is free */
	chunk(C9, 0x91);
	w64(C10, 0x90);
	chunk(C10, 0x50);
	chunk(TOP, TOP_SIZE | 1);
	bin_one(MA, 1, C7);      /* unsorted */
	bin_one(MA, 9, C9);      /* small bin for 0x90 */
	/* tcache of thread 1: bin 1 (0x30) holds C2 -> C3 */
	w16(T_MAIN + 2 * 1, 2);
	w64(T_MAIN + 0x80 + 8 * 1, C2 + 0x10);
	w64(C2 + 0x10, protect(C2 + 0x10, C3 + 0x10));
	w64(C3 + 0x10, protect(C3 + 0x10, 0));
	/* fastbin 0: C5 -> C4 */
	w64(C5 + 0x10, protect(C5 + 0x10, C4));
	w64(C4 + 0x10, protect(C4 + 0x10, 0));

	/* non-main arena: heap_infos, malloc_state */
	w64(H1 + 0x0, AR);
	w64(H1 + 0x8, 0);
	w64(H1 + 0x10, H1_SIZE);
	w64(H2 + 0x0, AR);
	w64(H2 + 0x8, H1);
	w64(H2 + 0x10, H2_SIZE);
	init_bins(AR);
	w64(AR + 0x60, TOP2);
	w64(AR + 0x870, MA);
	w64(AR + 0x888, H1_SIZE + H2_SIZE);
	chunk(D0, 0x295);
	chunk(D1, 0x45);
	chunk(D2, 0x61);
	w64(D3, 0x60);
	chunk(D3, 0x34);
	chunk(D4, (FENCE - D4) | 5);
	chunk(FENCE, 0x11);          /* fencepost pair, malloc.c:2654-2660 */
	w64(FENCE + 0x10, 0x10);
	chunk(FENCE + 0x10, 0x1);
	bin_one(AR, 6, D2);
	chunk(E0, 0x105);
	chunk(TOP2, TOP2_SIZE | 1);
	/* tcache of thread 2: empty */

	/* the mmapped chunk */
	chunk(MM, MM_SIZE | 2);
}

static struct hs_process *make_process(void)
{
	return check_process(regions, NREGIONS);
}

static const struct hs_glibc_layout *layout(void)
{
	const struct hs_glibc_layout *L = hs_glibc_layout_find(2, 36);
	if (!L)
		abort();
	return L;
}

/* Walk the current synthetic memory with these options (NULL: one thread). */
static struct hs_heap *walk_with(uint64_t mp, bool tcaches_known,
				 const struct hs_walk_options *opts)
{
	struct hs_process *proc = make_process();
	struct hs_glibc_tcache tc[2] = { { 1, T_MAIN }, { 2, T_AR } };
	struct hs_glibc_where where = {
		.main_arena = MA,
		.mp = mp,
		.tcaches = tc,
		.ntcaches = 2,
		.tcaches_known = tcaches_known,
	};
	struct hs_heap *heap;
	if (hs_heap_create(&heap))
		abort();
	struct hs_error *err = hs_glibc_walk_at(proc, layout(), &where, opts, heap);
	CHECK(err == NULL);
	if (err) {
		fprintf(stderr, "walk: %s\n", err->message);
		hs_error_destroy(err);
	}
	CHECK(!hs_heap_finish(heap));
	hs_process_destroy(proc);
	return heap;
}

static struct hs_heap *walk(uint64_t mp, bool tcaches_known)
{
	return walk_with(mp, tcaches_known, NULL);
}

/* The chunk at chunk-header address p: size, state and flags. */
static void expect(const struct hs_heap *heap, uint64_t p, uint64_t size,
		   enum hs_chunk_state state, unsigned flags, int line)
{
	const struct hs_chunk *c = check_heap_chunk_at(heap, p + 0x10);
	if (!c || c->addr != p + 0x10 || hs_chunk_size(c) != size ||
	    hs_chunk_state(c) != state || hs_chunk_flags(c) != flags) {
		fprintf(stderr, "%s:%d: chunk 0x%" PRIx64 ": got %s\n", __FILE__,
			line, p, c ? "a different record" : "nothing");
		if (c)
			fprintf(stderr, "  addr 0x%" PRIx64 " size 0x%" PRIx64
				" state %d flags 0x%x\n", c->addr, hs_chunk_size(c),
				hs_chunk_state(c), hs_chunk_flags(c));
		check_failures++;
	}
}
#define EXPECT(heap, p, size, state, flags) expect(heap, p, size, state, flags, __LINE__)

/* Does some diagnostic name this address and contain this text? */
static bool has_diag(const struct hs_heap *heap, uint64_t addr, const char *text)
{
	for (size_t i = 0; i < heap->diags.count; i++) {
		const struct hs_diag *d = &heap->diags.items[i];
		if ((addr == 0 || (d->has_address && d->address == addr)) &&
		    strstr(d->message, text))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------------
 * Tests.
 * ------------------------------------------------------------------------ */

#define MAIN_AVAIL (TOP_SIZE + 0x40 + 0x200 + 0x90)
#define AR_AVAIL (TOP2_SIZE + 0x60)

static void test_clean(void)
{
	build();
	struct hs_heap *heap = walk(MP, true);
	if (heap->diags.count) {
		fprintf(stderr, "test_clean: unexpected diagnostics\n");
		check_heap_dump_diags(heap);
		check_failures++;
	}
	CHECK(strcmp(heap->allocator, "glibc") == 0);
	CHECK(strcmp(heap->version, "2.36") == 0);
	CHECK_EQ(heap->narenas, 2);
	/* 11 main chunks + top, 5 + fenceposts-not-chunks in H1, 1 + top in
	 * H2, 1 mmapped */
	CHECK_EQ(heap->nchunks, 12 + 5 + 2 + 1);

	EXPECT(heap, C0, 0x290, HS_CHUNK_IN_USE, HS_CHUNK_F_METADATA);
	EXPECT(heap, C1, 0x30, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, C2, 0x30, HS_CHUNK_CACHED, 0);
	EXPECT(heap, C3, 0x30, HS_CHUNK_CACHED, 0);
	EXPECT(heap, C4, 0x20, HS_CHUNK_CACHED, 0);
	EXPECT(heap, C5, 0x20, HS_CHUNK_CACHED, 0);
	EXPECT(heap, C6, 0x100, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, C7, 0x200, HS_CHUNK_FREE, 0);
	EXPECT(heap, C8, 0x40, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, C9, 0x90, HS_CHUNK_FREE, 0);
	EXPECT(heap, C10, 0x50, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, TOP, TOP_SIZE, HS_CHUNK_FREE, 0);
	EXPECT(heap, D0, 0x290, HS_CHUNK_IN_USE, HS_CHUNK_F_METADATA);
	EXPECT(heap, D1, 0x40, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, D2, 0x60, HS_CHUNK_FREE, 0);
	EXPECT(heap, D3, 0x30, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, D4, FENCE - D4, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, E0, 0x100, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, TOP2, TOP2_SIZE, HS_CHUNK_FREE, 0);
	EXPECT(heap, MM, MM_SIZE, HS_CHUNK_IN_USE, HS_CHUNK_F_MMAPPED);

	/* int_mallinfo, summed over both arenas */
	CHECK_EQ(check_heap_stat(heap, "arena"), S_SIZE + H1_SIZE + H2_SIZE);
	CHECK_EQ(check_heap_stat(heap, "ordblks"), (1 + 2) + (1 + 1));
	CHECK_EQ(check_heap_stat(heap, "smblks"), 2);
	CHECK_EQ(check_heap_stat(heap, "hblks"), 1);
	CHECK_EQ(check_heap_stat(heap, "hblkhd"), MM_SIZE);
	CHECK_EQ(check_heap_stat(heap, "usmblks"), 0);
	CHECK_EQ(check_heap_stat(heap, "fsmblks"), 0x40);
	CHECK_EQ(check_heap_stat(heap, "fordblks"), MAIN_AVAIL + AR_AVAIL);
	CHECK_EQ(check_heap_stat(heap, "uordblks"),
		 S_SIZE + H1_SIZE + H2_SIZE - MAIN_AVAIL - AR_AVAIL);
	CHECK_EQ(check_heap_stat(heap, "keepcost"), TOP_SIZE);
	hs_heap_destroy(heap);
}

/* Without mp_: the main heap starts at top's end minus system_mem; without
 * tcaches, cached chunks count as in use (stats do not change). */
static void test_no_mp_no_tcache(void)
{
	build();
	struct hs_heap *heap = walk(0, false);
	CHECK_EQ(heap->nchunks, 20);
	EXPECT(heap, C0, 0x290, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, C2, 0x30, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, C4, 0x20, HS_CHUNK_CACHED, 0);
	CHECK_EQ(check_heap_stat(heap, "fordblks"), MAIN_AVAIL + AR_AVAIL);
	CHECK_EQ(check_heap_stat(heap, "hblks"), 1);
	CHECK(has_diag(heap, 0, "tcache not located"));
	hs_heap_destroy(heap);
}

static void test_tcache_cycle(void)
{
	build();
	w16(T_MAIN + 2, 5);
	w64(C3 + 0x10, protect(C3 + 0x10, C2 + 0x10)); /* C3 -> C2 */
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, 0, "tcache bin 1: cycle"));
	EXPECT(heap, C2, 0x30, HS_CHUNK_CACHED, 0);
	EXPECT(heap, C3, 0x30, HS_CHUNK_CACHED, 0);
	hs_heap_destroy(heap);
}

static void test_tcache_count_and_size(void)
{
	build();
	w16(T_MAIN + 2, 3); /* says 3, holds 2 */
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, T_MAIN, "count 3 but 2 entries"));
	hs_heap_destroy(heap);

	build();
	w16(T_MAIN + 2, 1); /* says 1, holds 2 */
	heap = walk(MP, true);
	CHECK(has_diag(heap, C3 + 0x10, "past its count"));
	hs_heap_destroy(heap);

	build();
	/* Move the chain into bin 3 (0x50): wrong size per entry. */
	w16(T_MAIN + 2, 0);
	w64(T_MAIN + 0x80 + 8, 0);
	w16(T_MAIN + 6, 2);
	w64(T_MAIN + 0x80 + 24, C2 + 0x10);
	heap = walk(MP, true);
	CHECK(has_diag(heap, C2 + 0x10, "has chunk size 0x31"));
	CHECK(has_diag(heap, C3 + 0x10, "has chunk size 0x31"));
	hs_heap_destroy(heap);

	build();
	/* An entry that is not a chunk boundary. */
	w64(C3 + 0x10, protect(C3 + 0x10, C6 + 0x30));
	w16(T_MAIN + 2, 3);
	heap = walk(MP, true);
	CHECK(has_diag(heap, C6 + 0x30, "not a chunk of any walked heap"));
	hs_heap_destroy(heap);
}

static void test_tcache_key(void)
{
	build();
	/* C2 -> C3 -> C1, keys K, K and something written after free. */
	w16(T_MAIN + 2, 3);
	w64(C3 + 0x10, protect(C3 + 0x10, C1 + 0x10));
	w64(C1 + 0x10, protect(C1 + 0x10, 0));
	w64(C2 + 0x18, 0x1234567890abcdefull);
	w64(C3 + 0x18, 0x1234567890abcdefull);
	w64(C1 + 0x18, 0x4141414141414141ull);
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, C1 + 0x10, "written after free"));
	CHECK(!has_diag(heap, C2 + 0x10, "written after free"));
	EXPECT(heap, C1, 0x30, HS_CHUNK_CACHED, 0);
	hs_heap_destroy(heap);
}

static void test_fastbin_cycle_and_double_free(void)
{
	build();
	w64(C4 + 0x10, protect(C4 + 0x10, C5)); /* C4 -> C5 -> C4 ... */
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, 0, "fastbin 0: cycle"));
	hs_heap_destroy(heap);

	build();
	/* C4 also in the tcache bin 0: a double free. */
	w16(T_MAIN + 0, 1);
	w64(T_MAIN + 0x80, C4 + 0x10);
	heap = walk(MP, true);
	CHECK(has_diag(heap, C4 + 0x10, "two caches"));
	EXPECT(heap, C4, 0x20, HS_CHUNK_CACHED, 0);
	hs_heap_destroy(heap);
}

static void test_bad_size_resync(void)
{
	build();
	chunk(C6, 0x12345); /* an overflow from C5 trashed C6's size */
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, C6, "bad chunk size 0x12345"));
	CHECK(has_diag(heap, C6, "skipped 0x100 bytes"));
	CHECK(check_heap_chunk_at(heap, C6 + 0x10) == NULL);
	EXPECT(heap, C7, 0x200, HS_CHUNK_FREE, 0);
	EXPECT(heap, C10, 0x50, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, TOP, TOP_SIZE, HS_CHUNK_FREE, 0);
	hs_heap_destroy(heap);

	/* Garbage from C6 to top: the next sane place is top itself. */
	build();
	for (uint64_t a = C6; a < TOP; a += 8)
		w64(a, 0xffffffffffffff0full);
	heap = walk(MP, true);
	CHECK(has_diag(heap, C6, "skipped 0x" ));
	if (!has_diag(heap, C6, "skipped 0x"))
		check_heap_dump_diags(heap);
	CHECK(check_heap_chunk_at(heap, C7 + 0x10) == NULL);
	EXPECT(heap, C5, 0x20, HS_CHUNK_CACHED, 0);
	EXPECT(heap, TOP, TOP_SIZE, HS_CHUNK_FREE, 0);
	hs_heap_destroy(heap);

	/* Garbage to the end of an old heap, fencepost included: nothing to
	 * resync on; that segment stops, the rest goes on. */
	build();
	for (uint64_t a = D3; a < H1 + H1_SIZE; a += 8)
		w64(a, 0xffffffffffffff0full);
	heap = walk(MP, true);
	CHECK(has_diag(heap, D3, "not walked"));
	/* D2's in-use bit lives in D3's trashed header: it now reads in use. */
	EXPECT(heap, D2, 0x60, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, E0, 0x100, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, MM, MM_SIZE, HS_CHUNK_IN_USE, HS_CHUNK_F_MMAPPED);
	hs_heap_destroy(heap);

	/* A size that runs past the old heap's end. */
	build();
	chunk(D3, 0x100034);
	heap = walk(MP, true);
	CHECK(has_diag(heap, D3, "bad chunk size"));
	EXPECT(heap, TOP2, TOP2_SIZE, HS_CHUNK_FREE, 0);
	hs_heap_destroy(heap);
}

/* Move the bytes of region `from` at and above addr into the free region
 * `to`, as gcore splits a mapping whose protection changes. */
static void split_region(int from, int to, uint64_t addr)
{
	struct check_region *r = &regions[from];
	uint64_t keep = addr - r->start;
	add_region(to, addr, r->size - keep);
	memcpy(regions[to].buf, r->buf + keep, r->size - keep);
	r->size = keep;
}

/* A bad size just before a stretch the core does not hold: resync steps
 * over the stretch (in one move, not address by address) and lands where
 * it would have by checking every address. */
static void test_resync_over_unbacked(void)
{
	/* A hole from C7 to C9: only C7's prev_size is in the core. */
	build();
	chunk(C6, 0x12345);
	split_region(1, 5, C7);
	split_region(5, 6, C9);
	regions[5].filesz = 8;
	struct hs_heap *heap = walk(MP, true);
	char want[96];
	snprintf(want, sizeof(want), "skipped 0x%" PRIx64 " bytes to the next "
		 "sane chunk 0x%" PRIx64, (uint64_t)(C9 - C6), (uint64_t)C9);
	CHECK(has_diag(heap, C6, want));
	if (!has_diag(heap, C6, want))
		check_heap_dump_diags(heap);
	EXPECT(heap, C9, 0x90, HS_CHUNK_FREE, 0);
	EXPECT(heap, C10, 0x50, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, TOP, TOP_SIZE, HS_CHUNK_FREE, 0);
	CHECK(check_heap_chunk_at(heap, C7 + 0x10) == NULL);
	hs_heap_destroy(heap);

	/* Cut at C7 to the heap's end, top included: top, which ends the
	 * segment, is still where the walk resumes. */
	build();
	chunk(C6, 0x12345);
	regions[1].filesz = C7 - S;
	heap = walk(MP, true);
	snprintf(want, sizeof(want), "to the next sane chunk 0x%" PRIx64, (uint64_t)TOP);
	CHECK(has_diag(heap, C6, want));
	if (!has_diag(heap, C6, want))
		check_heap_dump_diags(heap);
	EXPECT(heap, C5, 0x20, HS_CHUNK_CACHED, 0);
	CHECK(check_heap_chunk_at(heap, C9 + 0x10) == NULL);
	hs_heap_destroy(heap);
}

static void test_hostile_rings(void)
{
	build();
	w64(AR + 0x870, AR); /* the arena ring loops without main_arena */
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, AR, "cycle that skips main_arena"));
	CHECK_EQ(heap->narenas, 2);
	hs_heap_destroy(heap);

	build();
	w64(H2 + 0x8, H2); /* heap_info prev points at itself */
	heap = walk(MP, true);
	CHECK(has_diag(heap, H2, "cycles"));
	hs_heap_destroy(heap);

	build();
	w64(H2 + 0x8, H2 + 0x1000); /* prev not HEAP_MAX aligned */
	heap = walk(MP, true);
	CHECK(has_diag(heap, H2 + 0x1000, "is not one of its heaps"));
	hs_heap_destroy(heap);

	build();
	w64(AR + 0x60, H2 + 0x10); /* top inside heap_info */
	chunk(H2 + 0x10, 0x101);
	heap = walk(MP, true);
	CHECK(has_diag(heap, H2 + 0x10, "outside its heap"));
	EXPECT(heap, D1, 0x40, HS_CHUNK_IN_USE, 0);
	hs_heap_destroy(heap);

	build();
	w64(MA + 0x870, 0x1234); /* next is not an arena */
	heap = walk(MP, true);
	CHECK(has_diag(heap, MA, "is not an arena"));
	CHECK_EQ(heap->narenas, 1);
	hs_heap_destroy(heap);

	build();
	/* A bin list that loops without coming back to the bin. */
	w64(C9 + 0x18, C9);
	heap = walk(MP, true);
	CHECK(has_diag(heap, bin_at(MA, 9), "cycles"));
	hs_heap_destroy(heap);
}

/* A top chunk whose end is near the top of the address space: the heap's
 * extent must not wrap when the mmap scan skips over it (found by
 * fuzz_glibc). */
static void test_hostile_top_near_end(void)
{
	build();
	const uint64_t T = 0xffffffffff000000ull;
	add_region(5, T, 0x1000);
	w64(MA + 0x60, T);
	chunk(T, 0xfff800 | 1);
	w64(MA + 0x888, UINT64_C(1) << 40);
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, 0, "bad chunk size") || has_diag(heap, 0, "not walked"));
	hs_heap_destroy(heap);
}

/* A non-main top whose size reaches past its heap: recorded up to the
 * heap's end, with a diagnostic, not laid over what lies above. */
static void test_hostile_top_size(void)
{
	build();
	chunk(TOP2, UINT64_C(0x6565656565000000) | 1);
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, TOP2, "reaches past its memory"));
	EXPECT(heap, TOP2, H2 + H2_SIZE - TOP2, HS_CHUNK_FREE, 0);
	EXPECT(heap, MM, MM_SIZE, HS_CHUNK_IN_USE, HS_CHUNK_F_MMAPPED);
	hs_heap_destroy(heap);
}

/* main_arena's top pointed into a heap of the other arena: not recorded
 * there (it would lie over that arena's chunks), with a diagnostic. */
static void test_hostile_main_top(void)
{
	build();
	w64(MA + 0x60, E0);
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, E0, "lies in the heap of another arena"));
	EXPECT(heap, E0, 0x100, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, TOP2, TOP2_SIZE, HS_CHUNK_FREE, 0);
	hs_heap_destroy(heap);

	/* Without mp_, a system_mem below top's size puts the heap's start
	 * above top: the main heap is not walked, and its top, in no heap's
	 * span, is not recorded (the mmapped-chunk scan reads that memory). */
	build();
	w64(MA + 0x888, 0x100);
	heap = walk(0, true);
	CHECK(has_diag(heap, 0, "main heap not walked"));
	CHECK(check_heap_chunk_at(heap, TOP + 0x10) == NULL);
	hs_heap_destroy(heap);
}

static void test_counters(void)
{
	build();
	w64(MP + 0x3c, 2);
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, MP, "mp_ says 2"));
	CHECK_EQ(check_heap_stat(heap, "hblks"), 1);
	hs_heap_destroy(heap);

	build();
	w64(AR + 0x888, H1_SIZE); /* system_mem disagrees with the heaps */
	heap = walk(MP, true);
	CHECK(has_diag(heap, AR, "but system_mem is"));
	hs_heap_destroy(heap);

	build();
	/* Free chunk C7 has a bad footer and is missing from its bin. */
	w64(C8, 0x1f0);
	/* empty the unsorted bin */
	w64(bin_at(MA, 1) + 0x10, bin_at(MA, 1));
	w64(bin_at(MA, 1) + 0x18, bin_at(MA, 1));
	heap = walk(MP, true);
	CHECK(has_diag(heap, C7 + 0x10, "footer 0x1f0"));
	CHECK(has_diag(heap, MA, "bins hold 1 chunks"));
	hs_heap_destroy(heap);
}

/* A memalign'd mmapped chunk: the header moved up, the old one stays. */
static void test_mmap_memalign(void)
{
	build();
	uint64_t x = MM + 0x1000 - 0x10; /* user pointer 4096-aligned */
	w64(x, x - MM);
	chunk(x, (MM + MM_SIZE - x) | 2);
	struct hs_heap *heap = walk(MP, true);
	EXPECT(heap, x, MM + MM_SIZE - x, HS_CHUNK_IN_USE, HS_CHUNK_F_MMAPPED);
	CHECK_EQ(check_heap_stat(heap, "hblkhd"), MM_SIZE);
	CHECK(heap->diags.count == 0);
	hs_heap_destroy(heap);
}

/* The core lacks the main heap's tail (a truncated dump). */
static void test_truncated(void)
{
	build();
	regions[1].filesz = C8 + 4 - S; /* C8's size field is cut */
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, TOP, "top chunk"));
	CHECK(has_diag(heap, C8, "not in the core"));
	EXPECT(heap, C6, 0x100, HS_CHUNK_IN_USE, 0);
	CHECK(check_heap_chunk_at(heap, C8 + 0x10) == NULL);
	EXPECT(heap, E0, 0x100, HS_CHUNK_IN_USE, 0);
	hs_heap_destroy(heap);

	build();
	w64(MA + 0x60, 0x6000000008ull); /* top misaligned */
	heap = walk(MP, true);
	CHECK(has_diag(heap, 0x6000000008ull, "arena not walked"));
	EXPECT(heap, TOP2, TOP2_SIZE, HS_CHUNK_FREE, 0);
	hs_heap_destroy(heap);
}

/* sbrk stopped being contiguous: a double fencepost, then the rest of the
 * main heap in another mapping (malloc.c:2890-2920). */
static void test_noncontiguous_main(void)
{
	build();
	const uint64_t R = 0x5555556f0000ull, TOP3 = R + 0x30;
	add_region(5, R, 0x1000);
	chunk(C10, 0x10);        /* fencepost 1; C9 stays free */
	chunk(C10 + 0x10, 0x11); /* fencepost 2 */
	chunk(R, 0x31);
	chunk(TOP3, (R + 0x1000 - TOP3) | 1);
	w64(MA + 0x60, TOP3);
	w64(MA + 0x4, 2);        /* NONCONTIGUOUS_BIT */
	w64(MA + 0x888, S_SIZE + 0x1000);
	struct hs_heap *heap = walk(MP, true);
	CHECK(has_diag(heap, C10, "double fencepost"));
	EXPECT(heap, C9, 0x90, HS_CHUNK_FREE, 0);
	EXPECT(heap, R, 0x30, HS_CHUNK_IN_USE, 0);
	EXPECT(heap, TOP3, R + 0x1000 - TOP3, HS_CHUNK_FREE, 0);
	CHECK_EQ(check_heap_stat(heap, "keepcost"), R + 0x1000 - TOP3);
	hs_heap_destroy(heap);
}

static void test_scan_main_arena(void)
{
	build();
	struct hs_process *proc = make_process();
	CHECK_EQ(hs_glibc_scan_main_arena(proc, layout()), MA);
	hs_process_destroy(proc);

	build();
	w64(AR + 0x870, AR); /* a ring that never leaves the thread arena */
	proc = make_process();
	CHECK_EQ(hs_glibc_scan_main_arena(proc, layout()), 0);
	hs_process_destroy(proc);

	build();
	w64(H1, 0); /* no heap_info points at its arena */
	proc = make_process();
	CHECK_EQ(hs_glibc_scan_main_arena(proc, layout()), 0);
	hs_process_destroy(proc);
}

static void test_bad_main_arena(void)
{
	build();
	struct hs_process *proc = make_process();
	struct hs_glibc_where where = { .main_arena = 0x1000 };
	struct hs_heap *heap;
	CHECK(hs_heap_create(&heap) == NULL);
	struct hs_error *err = hs_glibc_walk_at(proc, layout(), &where, NULL, heap);
	CHECK(err && err->code == HS_ERR_FAULT);
	hs_error_destroy(err);
	hs_heap_destroy(heap);
	hs_process_destroy(proc);
}

static void test_layout_table(void)
{
	unsigned maj, min;
	CHECK(hs_glibc_parse_version("2.36", 4, &maj, &min) && maj == 2 && min == 36);
	CHECK(hs_glibc_parse_version("2.36.9000", 9, &maj, &min) && min == 36);
	CHECK(!hs_glibc_parse_version("2.", 2, &maj, &min));
	CHECK(!hs_glibc_parse_version("x2.36", 5, &maj, &min));
	CHECK(!hs_glibc_parse_version("99999999999.1", 13, &maj, &min));
	size_t n;
	const struct hs_glibc_layout *rows = hs_glibc_layouts(&n);
	CHECK(n >= 1);
	for (size_t i = 0; i < n; i++) {
		const struct hs_glibc_layout *L = &rows[i];
		CHECK(hs_glibc_layout_find(L->major, L->minor) == L);
		CHECK(L->ms.next < L->ms.size && L->ms.system_mem < L->ms.size);
		CHECK(L->mp.sbrk_base < L->mp.size && L->mp.n_mmaps < L->mp.size);
		CHECK((L->heap_max_size & (L->heap_max_size - 1)) == 0);
		CHECK(L->nanchors <= HS_GLIBC_MAX_ANCHORS);
		/* heap_info + 2 * SIZE_SZ is MALLOC_ALIGNMENT-aligned (arena.c) */
		CHECK((L->hi.size + 16) % L->malloc_alignment == 0);
	}
	CHECK(hs_glibc_layout_find(2, 1) == NULL);
	CHECK(hs_glibc_layout_find(2, 44) == NULL);

	/* Candidates for a release without a row: nearest first, newer on a
	 * tie, rows of identical layout tried once. */
	const struct hs_glibc_layout *cand[32];
	size_t nc = hs_glibc_layout_candidates(2, 44, cand, 32);
	CHECK(nc >= 3 && strcmp(cand[0]->version, "2.43") == 0 &&
	      strcmp(cand[1]->version, "2.42") == 0 &&
	      strcmp(cand[2]->version, "2.41") == 0);
	for (size_t i = 3; i < nc; i++) /* 2.35-2.40 are 2.41's layout */
		CHECK(cand[i]->minor < 35 || cand[i]->minor > 40);
	nc = hs_glibc_layout_candidates(2, 33, cand, 2);
	CHECK(nc == 2 && cand[0]->minor == 33);
	char list[256];
	hs_glibc_layout_list(list, sizeof(list));
	CHECK(strncmp(list, "2.26, 2.27, ", 12) == 0 && strstr(list, ", 2.43"));
	char small[8];
	hs_glibc_layout_list(small, sizeof(small));
	CHECK(strlen(small) < sizeof(small));
}

/*
 * The arbiter of an inferred layout: the synthetic heap is a 2.36 one, and
 * only the rows that share 2.36's layout walk it without a warning; every
 * other row's walk disagrees with some counter in memory, or fails.
 */
static void test_inference_arbiter(void)
{
	size_t n;
	const struct hs_glibc_layout *rows = hs_glibc_layouts(&n);
	const struct hs_glibc_layout *ref = layout();
	struct hs_layout_try tried = { .len = 0 };
	for (size_t i = 0; i < n; i++) {
		const struct hs_glibc_layout *L = &rows[i];
		build();
		struct hs_process *proc = make_process();
		struct hs_glibc_tcache tc[2] = { { 1, T_MAIN }, { 2, T_AR } };
		struct hs_glibc_where where = {
			.main_arena = MA, .mp = MP, .tcaches = tc, .ntcaches = 2,
			.tcaches_known = true,
		};
		struct hs_heap *heap;
		if (hs_heap_create(&heap))
			abort();
		struct hs_error *err = hs_glibc_walk_at(proc, L, &where, NULL, heap);
		const char *why = err ? err->message : hs_infer_judge(heap);
		bool same = L->minor >= 35 && L->minor <= 41;
		if (same != (why == NULL))
			fprintf(stderr, "row %s: %s\n", L->version, why ? why : "reconciles");
		CHECK(same == (why == NULL));
		if (why)
			hs_layout_try_note(&tried, L->version, "%.100s", why);
		hs_error_destroy(err);
		hs_heap_destroy(heap);
		hs_process_destroy(proc);
	}
	(void)ref;
	struct hs_error *err = hs_layout_try_refuse(&tried, "libc.so.6", "glibc",
						    "2.99", "2.26, 2.43");
	CHECK(err && err->code == HS_ERR_UNSUPPORTED &&
	      strstr(err->message, "libc.so.6: glibc 2.99 has no layout row") &&
	      strstr(err->message, "supported: 2.26, 2.43") &&
	      strstr(err->message, "2.26: ") && strstr(err->message, "2.43: ") &&
	      !strchr(err->message, '\n'));
	hs_error_destroy(err);

	/* Accepting a scratch walk moves it into the heap, marked inferred. */
	struct hs_heap *heap, *scratch;
	if (hs_heap_create(&heap) || hs_heap_create(&scratch))
		abort();
	CHECK(hs_heap_set_stat(scratch, "arena", 42));
	hs_infer_accept(heap, scratch, "glibc 2.99 has no layout row", "2.43");
	uint64_t v = 0;
	CHECK(hs_heap_get_stat(heap, "arena", &v) && v == 42);
	CHECK(heap->layout == HS_LAYOUT_INFERRED && strcmp(heap->layout_row, "2.43") == 0);
	CHECK(has_diag(heap, 0, "glibc 2.99 has no layout row; the 2.43 row"));
	CHECK(hs_infer_judge(heap) != NULL); /* the warning itself */
	hs_heap_destroy(heap);
}

/* ------------------------------------------------------------------------
 * The main heap walked by two threads (glibc_split.c): always the same
 * chunks, statistics and diagnostics, in the same order, as one thread.
 * ------------------------------------------------------------------------ */

enum long_kind { LONG_CLEAN, LONG_FAKE_MIDDLE, LONG_BAD_SECOND, LONG_BAD_FIRST };

/*
 * The synthetic heap with its main heap grown to hundreds of chunks after
 * C10 (sizes 0x20 to 0x110, every seventh free), top near the end. With
 * LONG_FAKE_MIDDLE an in-use chunk of 0x2000 bytes spans the middle, its
 * user bytes a run of fake 0x20-byte chunk headers: the second walker's
 * start is found inside it, and the first walker's chain steps over it.
 * LONG_BAD_* put a bad size field in the second or the first half. The four
 * take each way glibc_split.c has: the halves joined (clean), the second
 * walker's work thrown away because the first passed its start (the fake
 * start) or resynchronised before it (bad in the first half), and the rest
 * walked again by the first because the second resynchronised.
 */
static void build_long(enum long_kind kind)
{
	static const uint64_t sizes[] = {0x20, 0x30, 0x50, 0x110, 0x40, 0x20, 0x90};
	build();
	uint64_t end = S + S_SIZE - 0x800, p = TOP, mid = S + (end - S) / 2;
	uint64_t big = kind == LONG_FAKE_MIDDLE ? (mid - 0x1000) & ~UINT64_C(0xf) : 0;
	uint64_t bad = 0;
	bool prev_free = false;
	for (unsigned i = 0; p < end; i++) {
		uint64_t sz = sizes[i % 7];
		bool fake = big && p >= big;
		if (fake) {
			sz = 0x2000;
			big = 0;
		}
		if (end - p < sz + 0x20)
			sz = end - p;
		chunk(p, sz | (prev_free ? 0 : 1));
		if (fake)
			for (uint64_t q = p + 0x10; q + 0x20 <= p + sz; q += 0x20)
				w64(q + 8, 0x21);
		prev_free = !fake && i % 7 == 3 && p + sz < end;
		if (prev_free)
			w64(p + sz, sz); /* the footer in the next chunk's prev_size */
		if (!bad && ((kind == LONG_BAD_SECOND && p > mid + 0x4000) ||
			     (kind == LONG_BAD_FIRST && p > S + 0x2000)))
			bad = p;
		p += sz;
	}
	chunk(end, (S + S_SIZE - end) | (prev_free ? 0 : 1));
	w64(MA + 0x60, end);
	if (bad)
		w64(bad + 8, 0x7ffff1);
}

static void same_heaps(const struct hs_heap *a, const struct hs_heap *b, const char *what)
{
	size_t na, nb;
	const struct hs_chunk *ca = check_heap_all(a, &na);
	struct hs_chunk *copy = malloc((na ? na : 1) * sizeof(*copy));
	memcpy(copy, ca, na * sizeof(*copy));
	const struct hs_chunk *cb = check_heap_all(b, &nb);
	bool same = na == nb && !memcmp(copy, cb, na * sizeof(*copy)) &&
		    a->nstats == b->nstats && !memcmp(a->totals, b->totals, sizeof(a->totals)) &&
		    a->diags.count == b->diags.count && a->diags.dropped == b->diags.dropped;
	for (size_t i = 0; same && i < a->nstats; i++)
		same = !strcmp(a->stats[i].name, b->stats[i].name) &&
		       a->stats[i].value == b->stats[i].value;
	for (size_t i = 0; same && i < a->diags.count; i++)
		same = a->diags.items[i].address == b->diags.items[i].address &&
		       !strcmp(a->diags.items[i].message, b->diags.items[i].message);
	if (!same) {
		fprintf(stderr, "%s: two threads walked another heap (%zu and %zu chunks)\n",
			what, na, nb);
		check_heap_dump_diags(b);
	}
	CHECK(same);
	free(copy);
}

static void test_split(void)
{
	static const char *const names[] = {"clean", "fake start in the middle",
					    "bad size in the second half",
					    "bad size in the first half"};
	struct hs_walk_options two = {.threads = 2, .split_min = 1};
	for (int k = LONG_CLEAN; k <= LONG_BAD_FIRST; k++) {
		build_long((enum long_kind)k);
		struct hs_heap *one = walk(MP, true), *split = walk_with(MP, true, &two);
		same_heaps(one, split, names[k]);
		if (k == LONG_CLEAN)
			CHECK(one->nchunks > 300);
		if (k >= LONG_BAD_SECOND)
			CHECK(has_diag(one, 0, "bad chunk size"));
		hs_heap_destroy(one);
		hs_heap_destroy(split);
	}
}

/*
 * Runs of equal in-use chunks, which the walk takes in a tight loop
 * (gl_same_run): every place where that loop must hand over to the chunk by
 * chunk walk. The clean heap's top becomes RUN_N chunks of 0x30, among them
 * a cached one (tcache), a free one (small bin), one of a different size,
 * and, with `cut`, the boundary between two memory ranges; top follows.
 * The stretch after the one of a different size is long enough (1919
 * chunks) for the store to keep it as a uniform run.
 */
#define RUN_N 2000
#define RUN_AT(k) (TOP + 0x30 * (uint64_t)(k))
#define RUN_CACHED 20
#define RUN_FREE 50
#define RUN_OTHER 80 /* 0x60: two slots */
#define RUN_TOP RUN_AT(RUN_N)

static void build_runs(bool cut)
{
	build();
	if (cut) {
		/* The main heap as two ranges, split inside the run (at a
		 * chunk's user bytes: its successor's header is in the next). */
		uint64_t at = RUN_AT(33) + 0x10;
		uint8_t *old = regions[1].buf;
		regions[1].buf = NULL;
		add_region(1, S, at - S);
		add_region(5, at, S + S_SIZE - at);
		memcpy(regions[1].buf, old, at - S);
		memcpy(regions[5].buf, old + (at - S), S + S_SIZE - at);
		free(old);
	}
	for (unsigned k = 0; k < RUN_N; k++) {
		if (k == RUN_OTHER + 1)
			continue;
		chunk(RUN_AT(k), (k == RUN_OTHER ? 0x60 : 0x30) | (k == RUN_FREE + 1 ? 0 : 1));
	}
	w64(RUN_AT(RUN_FREE + 1), 0x30); /* the free chunk's footer */
	bin_one(MA, 3, RUN_AT(RUN_FREE));
	chunk(RUN_TOP, (S + S_SIZE - RUN_TOP) | 1);
	w64(MA + 0x60, RUN_TOP);
	/* tcache bin 1 (0x30): C2 -> C3 -> the cached run chunk */
	w16(T_MAIN + 2 * 1, 3);
	w64(C3 + 0x10, protect(C3 + 0x10, RUN_AT(RUN_CACHED) + 0x10));
	w64(RUN_AT(RUN_CACHED) + 0x10, protect(RUN_AT(RUN_CACHED) + 0x10, 0));
}

static void test_equal_runs(void)
{
	struct hs_walk_options two = {.threads = 2, .split_min = 1};
	for (int cut = 0; cut < 2; cut++) {
		build_runs(cut);
		struct hs_heap *heap = walk(MP, true);
		if (heap->diags.count) {
			fprintf(stderr, "test_equal_runs: unexpected diagnostics\n");
			check_heap_dump_diags(heap);
			check_failures++;
		}
		CHECK_EQ(heap->nchunks, 11 + (RUN_N - 1) + 1 + 5 + 2 + 1);
		for (unsigned k = 0; k < RUN_N; k++) {
			if (k == RUN_OTHER + 1)
				continue;
			EXPECT(heap, RUN_AT(k), k == RUN_OTHER ? 0x60 : 0x30,
			       k == RUN_CACHED ? HS_CHUNK_CACHED
			       : k == RUN_FREE ? HS_CHUNK_FREE
			       : HS_CHUNK_IN_USE, 0);
		}
		EXPECT(heap, RUN_TOP, S + S_SIZE - RUN_TOP, HS_CHUNK_FREE, 0);
		EXPECT(heap, C10, 0x50, HS_CHUNK_IN_USE, 0);
		/* In use at 0x30: C1, D3 and the run's plain chunks. */
		size_t n;
		const struct hs_size_count *sz = hs_heap_size_classes(heap, &n);
		uint64_t in_use_30 = 0;
		for (size_t i = 0; i < n; i++)
			if (sz[i].size == 0x30)
				in_use_30 = sz[i].count;
		CHECK_EQ(in_use_30, 2 + (RUN_N - 1) - 3);
		struct hs_heap *split = walk_with(MP, true, &two);
		same_heaps(heap, split, cut ? "equal runs over two ranges" : "equal runs");
		hs_heap_destroy(split);
		hs_heap_destroy(heap);
	}
}

int main(void)
{
	test_layout_table();
	test_inference_arbiter();
	test_clean();
	test_no_mp_no_tcache();
	test_tcache_cycle();
	test_tcache_count_and_size();
	test_tcache_key();
	test_fastbin_cycle_and_double_free();
	test_bad_size_resync();
	test_resync_over_unbacked();
	test_hostile_rings();
	test_hostile_top_near_end();
	test_hostile_top_size();
	test_hostile_main_top();
	test_counters();
	test_mmap_memalign();
	test_truncated();
	test_noncontiguous_main();
	test_scan_main_arena();
	test_bad_main_arena();
	test_split();
	test_equal_runs();
	check_regions_free(regions, NREGIONS);
	return check_summary("test_glibc");
}
