/* test_jemalloc.c: unit tests for the jemalloc 5.3.0 walk over synthetic processes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../heapwalk/jemalloc_internal.h"
#include "../../heapwalk/layout_try.h"
#include "check.h"
#include "check_heap.h"

/* ------------------------------------------------------------------------
 * The synthetic address space. Everything sits in one GiB so that one
 * leaf (48-bit) or one level-1 node and leaf (57-bit) maps it.
 * ------------------------------------------------------------------------ */

#define PAGE 4096ull

/* jemalloc's .bss: arenas[], sz_index2size_tab, je_arena_emap_global */
#define DATA 0x7f0000000000ull
#define DATA_SIZE 0x220000ull
#define ARENAS (DATA + 0x1000)
#define SZTAB (DATA + 0xa000)
#define EMAP (DATA + 0x10000)
#define ROOT (EMAP + 0x78)

/* base (metadata) memory */
#define META 0x7f0001000000ull
#define META_SIZE 0x400000ull
#define LEAF META                       /* 2 MiB (48) or 512 KiB (57) */
#define NODE1 (META + 0x200000)         /* 57-bit level-1 node, 256 KiB */
#define ARENA0 (META + 0x280000)
#define ARENA1 (META + 0x2a0000)
#define EDATA(i) (META + 0x2c0000 + 128ull * (i))
#define M_TS (META + 0x2d0000)          /* a manual tcache_slow (arena 1) */
#define M_TC (META + 0x2d0100)          /* its tcache */
#define STACKS (META + 0x2e0000)        /* tcache bin stacks */

/* extents */
#define HEAP 0x7f0002000000ull
#define HEAP_SIZE 0x40000ull
#define E1 HEAP                 /* slab, class 2 (32 B), 128 regions */
#define E2 (HEAP + 0x1000)      /* slab, class 0 (8 B), 512 regions */
#define E3 (HEAP + 0x2000)      /* large 16 KiB + pad, cached */
#define E3_USER (E3 + 0x940)
#define E4 (HEAP + 0x7000)      /* large 32 KiB + pad, arena 1 */
#define E4_USER (E4 + 0x40)
#define E5 (HEAP + 0x10000)     /* dirty, 3 pages */
#define E6 (HEAP + 0x20000)     /* retained, 4 pages */

/* one thread's TLS: tsd = fs_base + TPOFF */
#define TLS 0x7f0003000000ull
#define TLS_SIZE 0x4000ull
#define FS_BASE (TLS + 0x3000)
#define TPOFF (-0x1000ll)
#define TSD (FS_BASE + (uint64_t)TPOFF)

#define NREGIONS 5
static struct check_region regions[NREGIONS];
static const struct hs_je_layout *L;
static unsigned cur_lg_vaddr;

static void w64(uint64_t addr, uint64_t v)
{
	memcpy(check_at(regions, NREGIONS, addr, 8), &v, 8);
}

static void w32(uint64_t addr, uint32_t v)
{
	memcpy(check_at(regions, NREGIONS, addr, 4), &v, 4);
}

static void w16(uint64_t addr, uint16_t v)
{
	memcpy(check_at(regions, NREGIONS, addr, 2), &v, 2);
}

static void w8(uint64_t addr, uint8_t v)
{
	*check_at(regions, NREGIONS, addr, 1) = v;
}

static uint64_t r64(uint64_t addr)
{
	uint64_t v;
	memcpy(&v, check_at(regions, NREGIONS, addr, 8), 8);
	return v;
}

/* jemalloc's default size classes (LG_QUANTUM 4, sc.c): 8, then 16..128 by
 * 16, then four classes per doubling. */
static uint64_t sz[256];

static void make_sizes(void)
{
	unsigned n = 0;
	sz[n++] = 8;
	for (uint64_t s = 16; s <= 128; s += 16)
		sz[n++] = s;
	for (uint64_t base = 128; n < L->nsizes; base *= 2)
		for (unsigned k = 1; k <= 4 && n < L->nsizes; k++)
			sz[n++] = base + k * (base / 4);
}

/* One rtree element for key under the current geometry. */
static void rt_set(uint64_t key, uint64_t edata, unsigned szind, unsigned state,
		   bool slab)
{
	if (cur_lg_vaddr == 48) {
		w64(ROOT + 8 * ((key >> 30) & 0x3ffff), LEAF);
		uint64_t bits = ((uint64_t)szind << 48) | (edata & ((1ull << 48) - 1)) |
				((uint64_t)state << 2) | (slab ? 1 : 0);
		w64(LEAF + 8 * ((key >> 12) & 0x3ffff), bits);
	} else {
		w64(ROOT + 8 * ((key >> 42) & 0x7fff), NODE1);
		w64(NODE1 + 8 * ((key >> 27) & 0x7fff), LEAF);
		uint64_t elm = LEAF + 16 * ((key >> 12) & 0x7fff);
		w64(elm, edata);
		w32(elm + 8, (szind << 5) | (state << 2) | (slab ? 1 : 0));
	}
}

static void edata(unsigned i, unsigned arena, bool slab, unsigned state,
		  unsigned szind, unsigned nfree, uint64_t addr, uint64_t size)
{
	uint64_t e = EDATA(i);
	w64(e + 0, arena | ((uint64_t)slab << 12) | (1ull << 13) |
		   ((uint64_t)state << 17) | ((uint64_t)szind << 20) |
		   ((uint64_t)nfree << 28));
	w64(e + 8, addr);
	w64(e + 16, size | 1); /* esn in the low bits */
	/* register: every page of a slab, the boundary pages otherwise */
	uint64_t base = addr & ~(PAGE - 1);
	unsigned rs = state == 0 ? szind : 232;
	bool rslab = state == 0 && slab;
	for (uint64_t p = base; p < base + size; p += PAGE)
		if (slab || p == base || p + PAGE == base + size)
			rt_set(p, e, rs, state, rslab);
}

/* A cache bin with capacity cap holding items[0..n). */
static uint64_t stack_next = STACKS;

static void cache_bin(uint64_t tcache, unsigned bin, const uint64_t *items,
		      unsigned n, unsigned cap)
{
	uint64_t full = stack_next, empty = full + 8ull * cap;
	uint64_t head = empty - 8ull * n;
	stack_next = empty + 64;
	for (unsigned k = 0; k < n; k++)
		w64(head + 8 * k, items[k]);
	uint64_t b = tcache + 8 + 24ull * bin;
	w64(b + 0, head);
	w16(b + 16, (uint16_t)head);
	w16(b + 18, (uint16_t)full);
	w16(b + 20, (uint16_t)empty);
}

/* Empty bins as tcache_init leaves them (bins below nhbins). */
static void empty_bins(uint64_t tcache)
{
	for (unsigned b = 0; b < 41; b++)
		cache_bin(tcache, b, NULL, 0, 4);
}

static void tcache_pair(uint64_t tslow, uint64_t tcache, uint64_t arena)
{
	w64(tcache + 0, tslow);
	w64(tslow + 168, tcache);
	w64(tslow + 40, arena);
	w64(tslow + 16 + 16, tcache + 8); /* descriptor.bins */
}

static void arena(uint64_t a, unsigned ind)
{
	w32(a + L->arena.ind, ind);
	w64(ARENAS + 8ull * ind, a);
}

static void bin_counters(uint64_t a, unsigned i, uint64_t curregs, uint64_t curslabs)
{
	uint64_t b = a + L->arena.bins + (uint64_t)i * L->arena.bin_size;
	w64(b + L->arena.bin_curregs, curregs);
	w64(b + L->arena.bin_curslabs, curslabs);
}

static void lstats(uint64_t a, unsigned szind, uint64_t nmalloc, uint64_t ndalloc)
{
	uint64_t s = a + L->arena.lstats + (uint64_t)(szind - L->nbins) * L->arena.lstats_size;
	w64(s + 0, nmalloc);
	w64(s + 8, ndalloc);
}

static void build(unsigned lg_vaddr)
{
	static const uint64_t sizes[NREGIONS][2] = {
		{DATA, DATA_SIZE}, {META, META_SIZE}, {HEAP, HEAP_SIZE}, {TLS, TLS_SIZE},
	};
	check_regions_free(regions, NREGIONS);
	for (int i = 0; i < NREGIONS; i++)
		if (sizes[i][1])
			check_region_set(&regions[i], sizes[i][0], sizes[i][1]);
	cur_lg_vaddr = lg_vaddr;
	stack_next = STACKS;
	for (unsigned i = 0; i < L->nsizes; i++)
		w64(SZTAB + 8ull * i, sz[i]);
	arena(ARENA0, 0);
	arena(ARENA1, 1);

	/* E1: 32-byte slab, regions 0..9 allocated (3 and 5 cached). */
	edata(1, 0, true, 0, 2, 118, E1, PAGE);
	w64(EDATA(1) + 64, ~0ull << 10);
	w64(EDATA(1) + 72, ~0ull);
	/* E2: 8-byte slab, all allocated but the last (100 cached). */
	edata(2, 0, true, 0, 0, 1, E2, PAGE);
	w64(EDATA(2) + 64 + 56, 1ull << 63);
	/* E3: large 16 KiB (szind 36), cached. E4: 32 KiB (40), arena 1. */
	edata(3, 0, false, 0, 36, 0, E3_USER, 16384 + PAGE);
	edata(4, 1, false, 0, 40, 0, E4_USER, 32768 + PAGE);
	/* E5 dirty, E6 retained (stale slab/szind bits in their edata). */
	edata(5, 0, true, 1, 7, 0, E5, 3 * PAGE);
	edata(6, 0, false, 3, 0, 0, E6, 4 * PAGE);

	/* The thread's tcache (tsd), on arena 0's rings. */
	uint64_t ts = TSD + 0x100, tc = TSD + 0x358;
	w8(TSD + 0x330, 0);
	tcache_pair(ts, tc, ARENA0);
	empty_bins(tc);
	uint64_t small[] = {E1 + 3 * 32, E1 + 5 * 32};
	uint64_t large[] = {E3_USER};
	cache_bin(tc, 2, small, 2, 8);
	cache_bin(tc, 36, large, 1, 4);
	w64(ts, ts);                     /* tcache_ql ring of one */
	w64(ARENA0 + L->arena.tcache_ql, ts);
	w64(ts + 16, ts + 16);           /* descriptor ring of one */
	w64(ARENA0 + L->arena.desc_ql, ts + 16);

	/* A manual tcache on arena 1: only on the rings, no thread. */
	tcache_pair(M_TS, M_TC, ARENA1);
	empty_bins(M_TC);
	uint64_t tiny[] = {E2 + 100 * 8};
	cache_bin(M_TC, 0, tiny, 1, 8);
	w64(M_TS, M_TS);
	w64(ARENA1 + L->arena.tcache_ql, M_TS);
	w64(M_TS + 16, M_TS + 16);
	w64(ARENA1 + L->arena.desc_ql, M_TS + 16);

	/* jemalloc's own counters, consistent with all of the above. */
	bin_counters(ARENA0, 2, 10, 1);
	bin_counters(ARENA0, 0, 511, 1);
	lstats(ARENA0, 36, 4, 3);
	lstats(ARENA1, 40, 3, 2);
	w64(ARENA0 + L->arena.nactive, 7);
	w64(ARENA1 + L->arena.nactive, 9);
}

static struct hs_process *make_process(void)
{
	struct hs_process *proc = check_process(regions, NREGIONS);
	struct hs_thread t = {.tid = 101, .fs_base = FS_BASE};
	if (hs_process_add_thread(proc, &t))
		abort();
	return proc;
}

static struct hs_heap *walk(struct hs_process *proc, unsigned lg_vaddr,
			    struct hs_error **errp)
{
	struct hs_heap *heap;
	if (hs_heap_create(&heap))
		abort();
	struct hs_je_globals g = {
		.emap = EMAP, .sz_tab = SZTAB, .arenas = ARENAS,
		.has_tpoff = true, .tsd_tpoff = TPOFF, .lg_vaddr = lg_vaddr,
	};
	*errp = hs_jemalloc_walk_at(proc, L, &g, heap);
	return heap;
}

/* The clean heap: exact states, sizes and stats, and no diagnostic. */
static void test_clean(unsigned lg_vaddr, unsigned pass_lg)
{
	build(lg_vaddr);
	struct hs_process *proc = make_process();
	CHECK_EQ(hs_je_rtree_detect(&proc->mem, L, EMAP, NULL), lg_vaddr);
	struct hs_error *err;
	struct hs_heap *h = walk(proc, pass_lg, &err);
	CHECK(err == NULL);
	CHECK_EQ(h->diags.count, 0);
	if (h->diags.count)
		check_heap_dump_diags(h);
	CHECK_EQ(h->narenas, 2);
	CHECK_EQ(h->nchunks, 128 + 512 + 3);
	size_t cnt[3] = {0}, nall;
	const struct hs_chunk *all = check_heap_all(h, &nall);
	for (size_t i = 0; i < nall; i++)
		cnt[hs_chunk_state(&all[i])]++;
	CHECK_EQ(cnt[HS_CHUNK_IN_USE], 8 + 510 + 1);
	CHECK_EQ(cnt[HS_CHUNK_CACHED], 2 + 1 + 1);
	CHECK_EQ(cnt[HS_CHUNK_FREE], 118 + 1 + 1);
	const struct hs_chunk *c;
	CHECK((c = check_heap_chunk(h, E1 + 3 * 32)) && hs_chunk_state(c) == HS_CHUNK_CACHED &&
	      hs_chunk_size(c) == 32);
	CHECK((c = check_heap_chunk(h, E1 + 4 * 32)) && hs_chunk_state(c) == HS_CHUNK_IN_USE);
	CHECK((c = check_heap_chunk(h, E1 + 10 * 32)) && hs_chunk_state(c) == HS_CHUNK_FREE);
	CHECK((c = check_heap_chunk(h, E2 + 100 * 8)) && hs_chunk_state(c) == HS_CHUNK_CACHED &&
	      hs_chunk_size(c) == 8);
	CHECK((c = check_heap_chunk(h, E2 + 511 * 8)) && hs_chunk_state(c) == HS_CHUNK_FREE);
	CHECK((c = check_heap_chunk(h, E3_USER)) && hs_chunk_state(c) == HS_CHUNK_CACHED &&
	      hs_chunk_size(c) == 16384);
	CHECK((c = check_heap_chunk(h, E4_USER)) && hs_chunk_state(c) == HS_CHUNK_IN_USE &&
	      hs_chunk_size(c) == 32768);
	CHECK((c = check_heap_chunk(h, E5)) && hs_chunk_state(c) == HS_CHUNK_FREE &&
	      hs_chunk_size(c) == 3 * PAGE);
	CHECK(check_heap_chunk(h, E6) == NULL);
	/* For the memory map: the extents that hold chunks, the retained one. */
	check_heap_je_regions(h, (const uint64_t[]){E1, E2, E3, E4, E5, E6}, PAGE);
	all = check_heap_all(h, &nall);
	for (size_t i = 1; i < nall; i++)
		CHECK(all[i - 1].addr < all[i].addr);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.small.allocated"), 10 * 32 + 511 * 8);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.large.allocated"), 16384);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.tcache_bytes"), 2 * 32 + 16384);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.1.small.allocated"), 0);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.1.large.allocated"), 32768);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.1.tcache_bytes"), 8);
	CHECK_EQ(check_heap_stat(h, "stats.allocated"), 10 * 32 + 511 * 8 + 16384 + 32768);
	CHECK_EQ(check_heap_stat(h, "stats.active"), 16 * PAGE);
	hs_heap_destroy(h);

	/* Without the TLS offset the manual-ring path alone still finds the
	 * thread's tcache (it is on arena 0's tcache_ql). */
	struct hs_heap *h2;
	if (hs_heap_create(&h2))
		abort();
	struct hs_je_globals g = {.emap = EMAP, .sz_tab = SZTAB, .arenas = ARENAS};
	CHECK(hs_jemalloc_walk_at(proc, L, &g, h2) == NULL);
	CHECK_EQ(check_heap_stat(h2, "stats.arenas.0.tcache_bytes"), 2 * 32 + 16384);
	CHECK_EQ(h2->diags.count, 0);
	hs_heap_destroy(h2);
	hs_process_destroy(proc);
}

/* A scribbled bitmap: diagnostics naming the edata, bitmap trusted, the
 * counter cross-check reports the disagreement, the walk completes. */
static void test_scribbled_bitmap(void)
{
	build(48);
	w64(EDATA(1) + 64, ~0ull << 12); /* regions 10, 11 now "allocated" */
	/* A 256-byte slab (16 regions, all free) with bits set past them. */
	edata(8, 0, true, 0, 12, 16, HEAP + 0x30000, PAGE);
	w64(EDATA(8) + 64, 0xffffffull);
	bin_counters(ARENA0, 12, 0, 1);
	w64(ARENA0 + L->arena.nactive, 8);
	struct hs_process *proc = make_process();
	struct hs_error *err;
	struct hs_heap *h = walk(proc, 48, &err);
	CHECK(err == NULL);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, EDATA(1), "bitmap has 116 free"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, EDATA(8), "past its 16 regions"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, EDATA(8), NULL), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_ERROR, 0, "curregs"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_ERROR, 0, NULL), 1);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.small.allocated"), 12 * 32 + 511 * 8);
	size_t nfree = 0, nall;
	const struct hs_chunk *all = check_heap_all(h, &nall);
	for (size_t i = 0; i < nall; i++)
		nfree += all[i].addr >= HEAP + 0x30000 && all[i].addr < HEAP + 0x31000 &&
			 hs_chunk_state(&all[i]) == HS_CHUNK_FREE;
	CHECK_EQ(nfree, 16);
	hs_heap_destroy(h);
	hs_process_destroy(proc);
}

/* An rtree element pointing at unmapped or bogus edata, an edata that
 * disagrees with its element, a tcache_ql that cycles without returning to
 * its head, an impossible cache bin and a double free. */
static void test_corrupt(void)
{
	build(48);
	const uint64_t bad = 0x7e0000000080ull;
	rt_set(HEAP + 0x30000, bad, 3, 0, true);
	rt_set(HEAP + 0x31000, EDATA(1), 2, 0, true);   /* E1 does not cover it */
	edata(7, 0, false, 0, 5, 0, HEAP + 0x33000, PAGE);
	rt_set(HEAP + 0x33000, EDATA(7), 5, 0, true);    /* slab bit disagrees */
	/* a second root slot sharing the leaf: walked once, diagnosed */
	w64(ROOT + 8 * (((HEAP >> 30) + 1) & 0x3ffff), LEAF);
	/* arena 0's ring: ts -> M_TS -> M_TS ... never back to ts */
	w64(TSD + 0x100, M_TS);
	/* thread tcache bin 3: more items than the bin holds */
	uint64_t b = TSD + 0x358 + 8 + 24 * 3;
	w64(b, r64(b) - 48); /* 6 items in a bin of 4 */
	/* E2 region 7 cached twice */
	uint64_t twice[] = {E2 + 7 * 8, E2 + 7 * 8};
	cache_bin(M_TC, 0, twice, 2, 4);
	w64(M_TS, M_TS);
	struct hs_process *proc = make_process();
	struct hs_error *err;
	struct hs_heap *h = walk(proc, 48, &err);
	CHECK(err == NULL);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, bad, "not readable"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, EDATA(1), "does not cover"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, EDATA(7), "disagrees"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, 0, "does not return to its head"), 1);
	CHECK(check_heap_diags(h, HS_DIAG_WARNING, M_TS, "names arena") >= 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, 0, "impossible stack"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, E2 + 7 * 8, "cached twice"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, LEAF, "reached twice"), 1);
	CHECK(check_heap_chunk(h, E1) != NULL);
	hs_heap_destroy(h);
	hs_process_destroy(proc);

	/* An unreadable rtree root and a bad size table are errors (nothing
	 * sensible to report), not crashes. */
	build(48);
	proc = make_process();
	struct hs_heap *h2;
	if (hs_heap_create(&h2))
		abort();
	struct hs_je_globals g = {.emap = 0x100000, .sz_tab = SZTAB, .arenas = ARENAS};
	err = hs_jemalloc_walk_at(proc, L, &g, h2);
	CHECK(err && err->code == HS_ERR_NOT_FOUND);
	hs_error_destroy(err);
	g.emap = EMAP;
	g.sz_tab = SZTAB + 8;
	err = hs_jemalloc_walk_at(proc, L, &g, h2);
	CHECK(err && err->code == HS_ERR_NOT_FOUND);
	hs_error_destroy(err);
	hs_heap_destroy(h2);
	hs_process_destroy(proc);
}

/* Random corruption of the metadata: every walk must end, with or without
 * an error, and never read outside the core (run under ASan in CI). */
static void test_mutations(void)
{
	uint64_t seed = 0x243f6a8885a308d3ull;
	static const uint64_t targets[][2] = {
		{EDATA(0), 128 * 8}, {TSD, 0x400}, {M_TS, 0x800}, {STACKS, 0x400},
		{ARENA0 + 0x2890, 0x120}, {LEAF + 8 * ((HEAP >> 12) & 0x3ffff), 0x400},
	};
	for (unsigned round = 0; round < 300; round++) {
		build(round % 2 ? 57 : 48);
		for (unsigned k = 0; k < 8; k++) {
			check_rnd(&seed);
			unsigned t = (unsigned)(seed % HS_ARRAY_SIZE(targets));
			uint64_t off = (seed >> 8) % targets[t][1];
			uint64_t a = targets[t][0] + off;
			if (round % 2 && t == 5)
				a = LEAF + off * 2; /* the 57-bit leaf sits elsewhere */
			w8(a, (uint8_t)(seed >> 40));
		}
		struct hs_process *proc = make_process();
		struct hs_error *err;
		struct hs_heap *h = walk(proc, 0, &err);
		CHECK(err == NULL || err->code == HS_ERR_NOT_FOUND);
		hs_error_destroy(err);
		hs_heap_destroy(h);
		hs_process_destroy(proc);
	}
}

/* Layout rows and rtree geometry (rtree.h:17-35, 116-129). */
static void test_layout(void)
{
	CHECK(hs_je_layout_for_version("5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c") == L);
	CHECK(hs_je_layout_for_version("5.3.0") == L);
	CHECK(hs_je_layout_for_version("5.3.01") == NULL);
	CHECK(hs_je_layout_for_version("5.2.1-0-gea6b3e973b477b8061e0076bb257dbd7f3fa") != L);
	CHECK(hs_je_layout_for_version("5.2.0") == NULL);
	/* Redis writes "-0-g0"; a git build between releases has no row. */
	CHECK(hs_je_layout_for_version("5.3.0-0-g0") == L);
	CHECK(hs_je_layout_for_version("5.3.0-50-g0123abc") == NULL);
	const struct hs_je_layout *git = hs_je_layout_for_version("5.3.0-100-g314c073a");
	CHECK(git && git != L && strcmp(git->version, "5.3.0-100-g314c073a") == 0 &&
	      git->arena.bins == L->arena.bins + 32);
	CHECK(hs_je_layout_for_version("5.3.0-0-g") == NULL);
	CHECK(hs_je_layout_for_version("5.3.0-x-g0") == NULL);
	struct hs_je_version v, w;
	CHECK(hs_je_version_parse("5.3.0-100-g314c073a", &v) && v.major == 5 &&
	      v.minor == 3 && v.patch == 0 && v.commits == 100);
	CHECK(hs_je_version_parse("4.0.3-0-ge9192eacf8935e29fc62fddc2701f7942b1cc02c", &w) &&
	      w.commits == 0 && hs_je_version_cmp(&w, &v) < 0);
	CHECK(hs_je_version_parse("5.3.0", &w) && hs_je_version_cmp(&w, &v) < 0);
	CHECK(!hs_je_version_parse("5.3", &w) && !hs_je_version_parse("5.3.0-1-gXYZ", &w) &&
	      !hs_je_version_parse("5.3.0 ", &w) && !hs_je_version_parse(NULL, &w));
	/* Every row is named in "supported" lists. */
	char names[256];
	size_t nrows;
	const struct hs_je_layout *rows = hs_je_layout_rows(&nrows);
	hs_je_layout_names(names, sizeof(names));
	for (size_t i = 0; i < nrows; i++)
		CHECK(strstr(names, rows[i].version) != NULL);

	/* Size classes (sc.c): 232 with LG_QUANTUM 4, 36 small; 235 and 39
	 * with Redis's --with-lg-quantum=3. */
	uint64_t t[HS_JE_MAX_NSIZES];
	unsigned nbins;
	CHECK_EQ(hs_je_size_classes(4, 12, t, HS_JE_MAX_NSIZES, &nbins), 232);
	CHECK_EQ(nbins, 36);
	for (unsigned i = 0; i < 232; i++)
		CHECK_EQ(t[i], sz[i]);
	CHECK_EQ(t[231], 0x7000000000000000ull);
	CHECK_EQ(hs_je_size_classes(3, 12, t, HS_JE_MAX_NSIZES, &nbins), 235);
	CHECK_EQ(nbins, 39);
	CHECK(t[0] == 8 && t[1] == 16 && t[2] == 24 && t[3] == 32 && t[4] == 40 &&
	      t[38] == 14336 && t[39] == 16384);
	CHECK_EQ(hs_je_size_classes(3, 12, t, 100, &nbins), 0);

	/* Resolving the 5.3.0 row to --with-lg-quantum=3 gives what ptype/o
	 * says of such a build: tcache_slow's per-bin arrays grow by 9 bytes,
	 * 16 once aligned; the tcache gains 3 bins. */
	struct hs_je_layout R;
	CHECK(hs_je_layout_resolve(L, 12, 36, 232, &R));
	CHECK(R.tsd.state == L->tsd.state && R.tcache.nbins_max == 73 &&
	      R.arena.bins == L->arena.bins);
	CHECK(hs_je_layout_resolve(L, 12, 39, 235, &R));
	CHECK_EQ(R.tsd.state, 832);
	CHECK_EQ(R.tsd.tcache, 872);
	CHECK_EQ(R.tsd.size, 2720);
	CHECK_EQ(R.tslow.tcache, 184);
	CHECK_EQ(R.tcache.nbins_max, 76);
	CHECK_EQ(R.arena.nactive, 10656);
	CHECK_EQ(R.arena.ind, 78928);
	CHECK_EQ(R.arena.bins, 78952);
	CHECK(!hs_je_layout_resolve(L, 12, 0, 232, &R));
	CHECK(!hs_je_layout_resolve(L, 20, 36, 232, &R));
	static const uint8_t id[] = {0x1d, 0x51, 0x63, 0xc2, 0x46, 0xdc, 0x9c, 0xd2, 0xb4,
				     0xd3, 0x39, 0xf2, 0xac, 0x42, 0xef, 0xd9, 0x5c, 0x6e,
				     0x0a, 0xe1};
	CHECK(hs_je_layout_for_build_id(id, sizeof(id)) == L);
	struct hs_je_rtree_geom g;
	CHECK(hs_je_rtree_geom_init(L, 48, &g));
	CHECK(g.height == 2 && g.bits[0] == 18 && g.bits[1] == 18 && g.shift[0] == 30 &&
	      g.shift[1] == 12 && g.compact && g.elm_size == 8);
	CHECK(hs_je_rtree_geom_init(L, 57, &g));
	CHECK(g.height == 3 && g.bits[0] == 15 && g.bits[1] == 15 && g.bits[2] == 15 &&
	      g.shift[0] == 42 && g.shift[1] == 27 && g.shift[2] == 12 && !g.compact &&
	      g.elm_size == 16);
	CHECK(!hs_je_rtree_geom_init(L, 70, &g));
}

/*
 * gcore splits a mapping where its protection changes, so an rtree leaf can
 * span two core segments: the probe must read it across them, including a
 * slot cut in two, and score it as it scores one segment.
 */
static void test_split_leaf(void)
{
	build(48);
	struct hs_je_rtree_geom g;
	CHECK(hs_je_rtree_geom_init(L, 48, &g));
	unsigned leaf = g.height - 1;
	uint64_t slot = ((HEAP >> g.shift[leaf]) & ((1ull << g.bits[leaf]) - 1)) *
			g.elm_size;
	unsigned whole;
	struct hs_process *proc = make_process();
	CHECK_EQ(hs_je_rtree_detect(&proc->mem, L, EMAP, &whole), 48);
	hs_process_destroy(proc);
	/* META cut 4 bytes into the slot of the first heap page (E1's). */
	for (uint64_t cut = slot - 256; cut <= slot + 4; cut += 260) {
		if (hs_process_create(&proc))
			abort();
		for (int i = 0; i < NREGIONS; i++) {
			const struct check_region *r = &regions[i];
			if (!r->buf)
				continue;
			bool split = r->start == META;
			uint64_t first = split ? cut : r->size;
			if (hs_memory_add(&proc->mem, r->start, first, r->buf, first, 6) ||
			    (split && hs_memory_add(&proc->mem, r->start + cut, r->size - cut,
						    r->buf + cut, r->size - cut, 6)))
				abort();
		}
		if (hs_memory_seal(&proc->mem))
			abort();
		unsigned score;
		CHECK_EQ(hs_je_rtree_detect(&proc->mem, L, EMAP, &score), 48);
		CHECK_EQ(score, whole);
		hs_process_destroy(proc);
	}
}

/* The record of rows tried, and the one-line refusal (layout_try.c). */
static void test_layout_try(void)
{
	struct hs_layout_try t = {0};
	hs_layout_try_note(&t, "5.3.0", "%d errors (%s)", 121, "jemalloc: arena 0: bin 3");
	hs_layout_try_note(&t, "5.2.1", "globals not found");
	struct hs_error *e = hs_layout_try_refuse(&t, "libjemalloc.so.2", "jemalloc",
						  "5.3.0-100-g314c073a", "5.3.1, 5.3.0, 5.2.1");
	CHECK(e && e->code == HS_ERR_UNSUPPORTED);
	CHECK(e && strstr(e->message, "libjemalloc.so.2: jemalloc 5.3.0-100-g314c073a has no"
			  " layout row") && strstr(e->message, "(5.3.0: 121 errors (jemalloc:"
			  " arena 0: bin 3); 5.2.1: globals not found); supported: 5.3.1,"));
	hs_error_destroy(e);
	for (int i = 0; i < 500; i++)
		hs_layout_try_note(&t, "9.9.9", "%0200d", i);
	CHECK(t.len < sizeof(t.text) && strlen(t.text) == t.len && t.tried == 502);
	struct hs_heap *h;
	CHECK(hs_heap_create(&h) == NULL);
	char first[32];
	CHECK_EQ(hs_layout_try_errors(h, first, sizeof(first)), 0);
	hs_diags_add(&h->diags, HS_DIAG_WARNING, false, 0, "w");
	hs_diags_add(&h->diags, HS_DIAG_ERROR, false, 0, "first error, cut to the buffer size");
	hs_diags_add(&h->diags, HS_DIAG_ERROR, false, 0, "second");
	CHECK_EQ(hs_layout_try_errors(h, first, sizeof(first)), 2);
	CHECK(strcmp(first, "first error, cut to the buffer ") == 0);
	hs_heap_destroy(h);
}

int main(void)
{
	L = hs_je_layout_for_version("5.3.0");
	if (!L) {
		fprintf(stderr, "no 5.3.0 layout\n");
		return 1;
	}
	make_sizes();
	CHECK_EQ(sz[35], 14336);
	CHECK_EQ(sz[36], 16384);
	CHECK_EQ(sz[40], 32768);
	test_layout();
	test_layout_try();
	test_clean(48, 48);
	test_clean(48, 0);  /* LG_VADDR detected */
	test_clean(57, 57);
	test_clean(57, 0);
	test_split_leaf();
	test_scribbled_bitmap();
	test_corrupt();
	test_mutations();
	check_regions_free(regions, NREGIONS);
	return check_summary("test_jemalloc");
}
