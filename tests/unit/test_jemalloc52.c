/* test_jemalloc52.c: unit tests for the jemalloc 5.2.1 walk (the EXTENTS model) over synthetic processes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../heapwalk/jemalloc_internal.h"
#include "check.h"
#include "check_heap.h"

/*
 * The same heap as test_jemalloc.c builds for 5.3.0, laid out as 5.2.1 keeps
 * it: je_extents_rtree (an rtree_t, root after its mutex), extent_t, leaves
 * without state, tcache_t with bins_small/bins_large of {ncached, avail},
 * tcache_ql linking the tcache_t, bins reached through bin_shards and the
 * arena index in the arena's base_t. Every offset comes from the row.
 */

#define PAGE 4096ull

/* jemalloc's .bss: arenas[], sz_index2size_tab, je_extents_rtree */
#define DATA 0x7f0000000000ull
#define DATA_SIZE 0x220000ull
#define ARENAS (DATA + 0x1000)
#define SZTAB (DATA + 0xa000)
#define RTREE (DATA + 0x10000)

/* base (metadata) memory */
#define META 0x7f0001000000ull
#define META_SIZE 0x400000ull
#define LEAF META                       /* 2 MiB */
#define ARENA0 (META + 0x280000)
#define ARENA1 (META + 0x2a0000)
#define BINS(a) ((a) + 0x10000)         /* the arena's bin shards */
#define BASE(a) ((a) + 0x18000)         /* the arena's base_t */
#define EDATA(i) (META + 0x2c0000 + 128ull * (i))
#define M_TC (META + 0x2d0000)          /* a manual tcache (arena 1) */
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
#define TPOFF (-0x2000ll)
#define TSD (FS_BASE + (uint64_t)TPOFF)

#define NREGIONS 4
static struct check_region regions[NREGIONS];
static const struct hs_je_layout *L;

static void w64(uint64_t addr, uint64_t v)
{
	memcpy(check_at(regions, NREGIONS, addr, 8), &v, 8);
}

static void w32(uint64_t addr, uint32_t v)
{
	memcpy(check_at(regions, NREGIONS, addr, 4), &v, 4);
}

static void w8(uint64_t addr, uint8_t v)
{
	*check_at(regions, NREGIONS, addr, 1) = v;
}

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

/* One compact leaf element (LG_VADDR 48): szind, extent, slab bit. */
static void rt_set(uint64_t key, uint64_t extent, unsigned szind, bool slab)
{
	w64(RTREE + L->emap_root + 8 * ((key >> 30) & 0x3ffff), LEAF);
	uint64_t bits = ((uint64_t)szind << 48) | (extent & ((1ull << 48) - 1)) |
			(slab ? 1 : 0);
	w64(LEAF + 8 * ((key >> 12) & 0x3ffff), bits);
}

static uint64_t ebits(unsigned arena, bool slab, unsigned state, unsigned szind,
		      unsigned nfree)
{
	const struct hs_je_layout *l = L;
	return ((uint64_t)arena << l->edata.arena.shift) |
	       ((uint64_t)slab << l->edata.slab.shift) |
	       (1ull << 13) | /* committed */
	       ((uint64_t)state << l->edata.state.shift) |
	       ((uint64_t)szind << l->edata.szind.shift) |
	       ((uint64_t)nfree << l->edata.nfree.shift);
}

static void extent(unsigned i, unsigned arena, bool slab, unsigned state,
		   unsigned szind, unsigned nfree, uint64_t addr, uint64_t size)
{
	uint64_t e = EDATA(i);
	w64(e + L->edata.bits, ebits(arena, slab, state, szind, nfree));
	w64(e + L->edata.addr, addr);
	w64(e + L->edata.size_esn, size | 1); /* esn in the low bits */
	/* registered: every page of a slab, the boundary pages otherwise;
	 * an inactive extent's elements say SC_NSIZES, not a slab */
	uint64_t base = addr & ~(PAGE - 1);
	unsigned rs = state == 0 ? szind : 232;
	bool rslab = state == 0 && slab;
	for (uint64_t p = base; p < base + size; p += PAGE)
		if (slab || p == base || p + PAGE == base + size)
			rt_set(p, e, rs, rslab);
}

/* A cache bin holding items[0..n): avail points just above them. */
static uint64_t stack_next = STACKS;

static uint64_t tc_bin(uint64_t tcache, unsigned b)
{
	if (b < L->nbins)
		return tcache + L->tcache.bins + (uint64_t)b * L->tcache.bin_size;
	return tcache + L->tcache.bins_large + (uint64_t)(b - L->nbins) * L->tcache.bin_size;
}

static void cache_bin(uint64_t tcache, unsigned b, const uint64_t *items,
		      unsigned n, unsigned cap)
{
	uint64_t avail = stack_next + 8ull * cap;
	stack_next = avail + 64;
	for (unsigned k = 0; k < n; k++)
		w64(avail - 8ull * n + 8 * k, items[k]);
	w32(tc_bin(tcache, b) + L->tcache.ncached, n);
	w64(tc_bin(tcache, b) + L->tcache.avail, avail);
}

/* A tcache associated with an arena: tcache_init sets avail of the bins
 * below nhbins (41); the tcache is on the arena's tcache_ql and its
 * descriptor on the descriptor ql (rings of one). */
static void tcache(uint64_t tc, uint64_t arena)
{
	for (unsigned b = 0; b < 41; b++)
		cache_bin(tc, b, NULL, 0, 4);
	w64(tc + L->tcache.arena, arena);
	w64(tc + L->tcache.link_next, tc);
	w64(arena + L->arena.tcache_ql, tc);
	uint64_t desc = tc + 920;
	w64(desc + L->desc.link_next, desc);
	w64(desc + L->desc.bins, tc + L->tcache.bins);
	w64(desc + L->desc.bins_large, tc + L->tcache.bins_large);
	w64(arena + L->arena.desc_ql, desc);
}

static void arena(uint64_t a, unsigned ind)
{
	w64(a + L->arena.base, BASE(a));
	w32(BASE(a) + L->arena.base_ind, ind);
	for (unsigned i = 0; i < L->nbins; i++)
		w64(a + L->arena.bins + 8ull * i, BINS(a) + (uint64_t)i * L->arena.bin_size);
	w64(ARENAS + 8ull * ind, a);
}

static void bin_counters(uint64_t a, unsigned i, uint64_t curregs, uint64_t curslabs)
{
	uint64_t b = BINS(a) + (uint64_t)i * L->arena.bin_size;
	w64(b + L->arena.bin_curregs, curregs);
	w64(b + L->arena.bin_curslabs, curslabs);
}

static void lstats(uint64_t a, unsigned szind, uint64_t nmalloc, uint64_t ndalloc)
{
	uint64_t s = a + L->arena.lstats + (uint64_t)(szind - L->nbins) * L->arena.lstats_size;
	w64(s + L->arena.lstats_nmalloc, nmalloc);
	w64(s + L->arena.lstats_ndalloc, ndalloc);
}

static void build(void)
{
	static const uint64_t sizes[NREGIONS][2] = {
		{DATA, DATA_SIZE}, {META, META_SIZE}, {HEAP, HEAP_SIZE}, {TLS, TLS_SIZE},
	};
	check_regions_free(regions, NREGIONS);
	for (int i = 0; i < NREGIONS; i++)
		check_region_set(&regions[i], sizes[i][0], sizes[i][1]);
	stack_next = STACKS;
	for (unsigned i = 0; i < L->nsizes; i++)
		w64(SZTAB + 8ull * i, sz[i]);
	arena(ARENA0, 0);
	arena(ARENA1, 1);

	/* E1: 32-byte slab, regions 0..9 allocated (3 and 5 cached). */
	extent(1, 0, true, 0, 2, 118, E1, PAGE);
	w64(EDATA(1) + L->edata.slab_data, ~0ull << 10);
	w64(EDATA(1) + L->edata.slab_data + 8, ~0ull);
	/* E2: 8-byte slab, all allocated but the last (100 cached). */
	extent(2, 0, true, 0, 0, 1, E2, PAGE);
	w64(EDATA(2) + L->edata.slab_data + 56, 1ull << 63);
	/* E3: large 16 KiB (szind 36), cached. E4: 32 KiB (40), arena 1. */
	extent(3, 0, false, 0, 36, 0, E3_USER, 16384 + PAGE);
	extent(4, 1, false, 0, 40, 0, E4_USER, 32768 + PAGE);
	/* E5 dirty, E6 retained (stale slab/szind bits in their extent_t). */
	extent(5, 0, true, 1, 7, 0, E5, 3 * PAGE);
	extent(6, 0, false, 3, 0, 0, E6, 4 * PAGE);

	/* The thread's tcache (in its tsd), on arena 0. */
	uint64_t tc = TSD + L->tsd.tcache;
	w8(TSD + L->tsd.state, 0);
	tcache(tc, ARENA0);
	uint64_t small[] = {E1 + 3 * 32, E1 + 5 * 32};
	uint64_t large[] = {E3_USER};
	cache_bin(tc, 2, small, 2, 8);
	cache_bin(tc, 36, large, 1, 4);

	/* A manual tcache on arena 1: only on the rings, no thread. */
	tcache(M_TC, ARENA1);
	uint64_t tiny[] = {E2 + 100 * 8};
	cache_bin(M_TC, 0, tiny, 1, 8);

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

static struct hs_heap *walk(struct hs_process *proc, bool tls, struct hs_error **errp)
{
	struct hs_heap *heap;
	if (hs_heap_create(&heap))
		abort();
	struct hs_je_globals g = {
		.emap = RTREE, .sz_tab = SZTAB, .arenas = ARENAS,
		.has_tpoff = tls, .tsd_tpoff = TPOFF, .lg_vaddr = 48,
	};
	*errp = hs_jemalloc_walk_at(proc, L, &g, heap);
	return heap;
}

/* The clean heap: exact states, sizes and stats, and no diagnostic. */
static void test_clean(bool tls)
{
	build();
	struct hs_process *proc = make_process();
	CHECK_EQ(hs_je_rtree_detect(&proc->mem, L, RTREE, NULL), 48);
	struct hs_error *err;
	struct hs_heap *h = walk(proc, tls, &err);
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
	CHECK((c = check_heap_chunk(h, E2 + 100 * 8)) && hs_chunk_state(c) == HS_CHUNK_CACHED);
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
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.small.allocated"), 10 * 32 + 511 * 8);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.large.allocated"), 16384);
	/* 5.2.1 counts the small bins only (the row's nbins_counted): the
	 * cached 16 KiB extent is cached, but not in tcache_bytes. */
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.tcache_bytes"), 2 * 32);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.1.small.allocated"), 0);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.1.large.allocated"), 32768);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.1.tcache_bytes"), 8);
	CHECK_EQ(check_heap_stat(h, "stats.allocated"), 10 * 32 + 511 * 8 + 16384 + 32768);
	CHECK_EQ(check_heap_stat(h, "stats.active"), 16 * PAGE);
	hs_heap_destroy(h);
	hs_process_destroy(proc);
}

/* Damage the EXTENTS model's own structures: each gives a diagnostic
 * naming what is wrong, and the walk completes. */
static void test_corrupt(void)
{
	struct hs_error *err;
	struct hs_heap *h;
	struct hs_process *proc;

	/* An impossible bin: ncached beyond ncached_max. */
	build();
	w32(tc_bin(TSD + L->tsd.tcache, 5) + L->tcache.ncached, L->tcache.ncached_max + 1);
	proc = make_process();
	h = walk(proc, true, &err);
	CHECK(err == NULL);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, 0, "impossible stack"), 1);
	CHECK_EQ(check_heap_stat(h, "stats.allocated"), 10 * 32 + 511 * 8 + 16384 + 32768);
	hs_heap_destroy(h);
	hs_process_destroy(proc);

	/* A leaf that disagrees with its active extent_t (szind). */
	build();
	rt_set(E4, EDATA(4), 41, false);
	proc = make_process();
	h = walk(proc, true, &err);
	CHECK(err == NULL);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, 0, "disagrees with its rtree element"), 1);
	CHECK(check_heap_chunk(h, E4_USER) == NULL);
	hs_heap_destroy(h);
	hs_process_destroy(proc);

	/* An arena whose base says another index: not an arena. */
	build();
	w32(BASE(ARENA1) + L->arena.base_ind, 7);
	proc = make_process();
	h = walk(proc, true, &err);
	CHECK(err == NULL);
	CHECK_EQ(h->narenas, 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, 0, "not an arena"), 1);
	hs_heap_destroy(h);
	hs_process_destroy(proc);

	/* A tcache_ql ring that never returns to its head. */
	build();
	w64(M_TC + L->tcache.link_next, 0);
	proc = make_process();
	h = walk(proc, true, &err);
	CHECK(err == NULL);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, 0, "tcache_ql"), 1);
	hs_heap_destroy(h);
	hs_process_destroy(proc);
}

/* The 5.2.1 row: found by version and build-id, the EXTENTS model. */
static void test_layout(void)
{
	CHECK(hs_je_layout_for_version("5.2.1-0-gea6b3e973b477b8061e0076bb257dbd7f3faa756") == L);
	CHECK(hs_je_layout_for_version("5.2.10") == NULL);
	CHECK(hs_je_layout_for_version("5.2.0") == NULL);
	CHECK_EQ(L->model, HS_JE_MODEL_EXTENTS);
	CHECK(strcmp(L->rtree_symbol, "je_extents_rtree") == 0);
	CHECK(hs_je_layout_for_version("5.3.0")->model == HS_JE_MODEL_EMAP);
	static const uint8_t id[] = {0x36, 0x24, 0xf5, 0x4a, 0x95, 0x7d, 0x72, 0x10, 0x12,
				     0x11, 0x21, 0xbd, 0x82, 0xbf, 0xce, 0xb0, 0x6c, 0x63,
				     0x2b, 0x91};
	CHECK(hs_je_layout_for_build_id(id, sizeof(id)) == L);
	/* The walker's bounds hold for this row. */
	CHECK(L->tcache.nbins_max <= HS_JE_MAX_TCACHE_BINS);
	CHECK(L->edata.slab_data + L->slab_maxregs / 8 <= L->edata.size);
	CHECK(L->tsd.tcache + L->tcache.bins_large +
	      (L->nsizes - L->nbins) * L->tcache.bin_size <= L->tsd.size);
}

int main(void)
{
	L = hs_je_layout_for_version("5.2.1");
	if (!L) {
		fprintf(stderr, "no 5.2.1 layout\n");
		return 1;
	}
	make_sizes();
	test_layout();
	test_clean(true);
	test_clean(false); /* the tcache_ql rings alone */
	test_corrupt();
	check_regions_free(regions, NREGIONS);
	return check_summary("test_jemalloc52");
}
