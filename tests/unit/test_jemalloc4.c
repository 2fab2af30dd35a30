/* test_jemalloc4.c: unit tests for the jemalloc 4.x walk over synthetic processes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../heapwalk/jemalloc4_internal.h"
#include "check.h"
#include "check_heap.h"

/* ------------------------------------------------------------------------
 * The synthetic process, laid out by whichever row is under test: one arena
 * chunk (2 MiB, 512 pages) holding small runs, large runs and free pages,
 * a huge extent, a cached chunk and a retained one, a tcache (itself a
 * large allocation, as tcache_create makes it) with items of two small bins
 * and a large one, and one thread whose tsd points at it.
 * ------------------------------------------------------------------------ */

#define PAGE 4096ull
#define CHUNK 0x200000ull

/* jemalloc's .bss and .rodata */
#define DATA 0x7f0000000000ull
#define DATA_SIZE 0x10000ull
#define RTREE (DATA + 0x100)
#define ARENAS (DATA + 0x400)        /* arenas[] itself */
#define SZTAB (DATA + 0x1000)
#define BININFO (DATA + 0x2000)
#define STATIC_PTR (DATA + 0x8000)   /* a global pointing at the 32 KiB run's object */

/* base (metadata) memory: rtree nodes, the arena, extent nodes */
#define META 0x7f0001000000ull
#define META_SIZE 0x100000ull
#define NODE1 META                   /* level 1: 2^16 slots */
#define LEAF (META + 0x80000)        /* level 2: 2^11 slots */
#define ARENA0 (META + 0x90000)
#define HNODE (META + 0xa0000)       /* the huge extent's node */
#define CNODE (META + 0xa0100)       /* the cached chunk's */
#define RNODE (META + 0xa0200)       /* the retained chunk's */

/* chunks: 2 MiB aligned */
#define C1 0x7f0002000000ull
#define HUGE (C1 + 2 * CHUNK)        /* 2.5 MiB: two chunks */
#define CACHED (C1 + 4 * CHUNK)
#define RETAINED (C1 + 5 * CHUNK)    /* not mapped: address space only */
#define MAPPED_SIZE (5 * CHUNK)

/* The arena chunk's runs, by page, one after the other from map_bias
 * (layout()): bin 2 (32 B x 128), bin 0 (8 B x 512), 16 KiB + pad (cached),
 * 32 KiB + pad (in use), 32 KiB + pad (the tcache), then free pages. */
static unsigned P_SMALL32, P_SMALL8, P_L16, P_L32, P_TC, P_FREE;
#define RUN(p) (C1 + (uint64_t)(p) * PAGE)
/* Large allocations sit at a random cacheline of their run's first page
 * with cache-oblivious placement (pad), at its start without. */
#define L16_USER (RUN(P_L16) + (pad ? 0x940 : 0))
#define L32_USER (RUN(P_L32) + (pad ? 0x40 : 0))
#define TC (RUN(P_TC) + (pad ? 0x80 : 0))

/* one thread's TLS: tsd = fs_base + TPOFF */
#define TLS 0x7f0003000000ull
#define TLS_SIZE 0x4000ull
#define FS_BASE (TLS + 0x3000)
#define TPOFF (-0x100ll)
#define TSD (FS_BASE + (uint64_t)TPOFF)

#define NREGIONS 5
static struct check_region regions[NREGIONS];
static const struct hs_je4_layout *L;
static uint64_t sz[HS_JE4_MAX_NSIZES];
static unsigned nsizes, nbins = 36, nlclasses, map_bias, nhbins = 41;
static unsigned ncmax[64];
static uint64_t pad = PAGE;

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

static uint64_t r64(uint64_t addr)
{
	uint64_t v;
	memcpy(&v, check_at(regions, NREGIONS, addr, 8), 8);
	return v;
}

static unsigned szind(uint64_t size)
{
	for (unsigned i = 0; i < nsizes; i++)
		if (sz[i] == size)
			return i;
	abort();
}

/* LG_QUANTUM 4 classes (size_classes.sh): 8, 16..128 by 16, then four
 * per doubling, up to the row's HUGE_MAXCLASS. */
static void make_sizes(void)
{
	unsigned n = 0;
	sz[n++] = 8;
	for (uint64_t s = 16; s <= 128; s += 16)
		sz[n++] = s;
	for (uint64_t base = 128; sz[n - 1] != L->huge_maxclass; base *= 2)
		for (unsigned k = 1; k <= 4 && sz[n - 1] != L->huge_maxclass; k++)
			sz[n++] = base + k * (base / 4);
	nsizes = n;
	/* arena_boot: map_bias by three rounds; large classes below the chunk */
	map_bias = 0;
	for (int i = 0; i < 3; i++)
		map_bias = (unsigned)((L->chunk.map_bits + (uint64_t)(L->chunk.bits_size +
				       L->chunk.misc_size) * (512 - map_bias) + PAGE - 1) / PAGE);
	nlclasses = szind(0x1c0000) - (nbins - 1);
}

static uint64_t nregs_of(unsigned i, uint64_t *run)
{
	uint64_t pages = 1;
	while (pages * PAGE < sz[i])
		pages++;
	*run = pages * PAGE;
	uint64_t n = *run / sz[i];
	return n > 512 ? 512 : n;
}

static void bin_info(void)
{
	for (unsigned i = 0; i < nbins; i++) {
		uint64_t b = BININFO + (uint64_t)i * L->bin_info.size, run;
		uint64_t n = nregs_of(i, &run);
		w64(b + L->bin_info.reg_size, sz[i]);
		w64(b + L->bin_info.reg_interval, sz[i]);
		w64(b + L->bin_info.run_size, run);
		w32(b + L->bin_info.nregs, (uint32_t)n);
		w64(b + L->bin_info.nbits, n);
		w32(b + L->bin_info.reg0_offset, 0);
		uint64_t twice = 2 * n;
		ncmax[i] = twice <= 20 ? 20 : twice <= 200 ? (unsigned)twice : 200;
	}
	for (unsigned i = nbins; i < nhbins; i++)
		ncmax[i] = 20;
}

/* chunks_rtree for 2 MiB chunks: 43 key bits, levels of 16, 16 and 11;
 * keys below 2^48 start at level 1 (rtree_start_level). */
static void rtree(void)
{
	w64(RTREE, DATA + 0x10);      /* the node allocation hook */
	w32(RTREE + L->rtree.height, 3);
	static const unsigned start[4] = {2, 2, 1, 0};
	for (unsigned i = 0; i < 4; i++)
		w32(RTREE + L->rtree.start_level + 4 * i, start[i]);
	static const unsigned bits[3] = {16, 16, 11};
	unsigned cum = 0;
	for (unsigned i = 0; i < 3; i++) {
		uint64_t lv = RTREE + L->rtree.levels + (uint64_t)i * L->rtree.level_size;
		cum += bits[i];
		w32(lv + L->rtree.level_bits, bits[i]);
		w32(lv + L->rtree.level_cumbits, cum);
	}
	w64(RTREE + L->rtree.levels + L->rtree.level_size, NODE1);
}

static void rt_set(uint64_t key, uint64_t node)
{
	w64(NODE1 + 8 * ((key >> 32) & 0xffff), LEAF);
	w64(LEAF + 8 * ((key >> 21) & 0x7ff), node);
}

static void node(uint64_t n, uint64_t addr, uint64_t size, bool achunk)
{
	w64(n + L->node.arena, ARENA0);
	w64(n + L->node.addr, addr);
	w64(n + L->node.esize, size);
	w8(n + L->node.achunk, achunk);
}

static void mapbits(unsigned p, uint64_t v)
{
	w64(C1 + L->chunk.map_bits + 8ull * (p - map_bias), v);
}

/* A small run of bin b at page p: allocated regions per `used` (bit j of
 * the group array set = region j allocated). */
static void small_run(unsigned p, unsigned b, const uint64_t *used)
{
	uint64_t run;
	uint64_t n = nregs_of(b, &run);
	unsigned pages = (unsigned)(run / PAGE), nfree = 0;
	for (unsigned k = 0; k < pages; k++)
		mapbits(p + k, ((uint64_t)k << 13) | ((uint64_t)b << 5) | 1);
	uint64_t misc = C1 + L->chunk.map_bits + 8ull * (512 - map_bias) +
			(uint64_t)(p - map_bias) * L->chunk.misc_size + L->chunk.misc_run;
	w32(misc + L->chunk.run_binind, b);
	for (unsigned g = 0; g < (n + 63) / 64; g++) {
		uint64_t bits = ~used[g];
		if (n - 64 * g < 64)
			bits &= (1ull << (n - 64 * g)) - 1;
		nfree += (unsigned)__builtin_popcountll(bits);
		w64(misc + L->chunk.run_bitmap + 8 * g, bits);
	}
	w32(misc + L->chunk.run_nfree, nfree);
}

static void large_run(unsigned p, uint64_t size)
{
	unsigned pages = (unsigned)(size / PAGE);
	mapbits(p, (size << 1) | (0xffull << 5) | 3);
	for (unsigned k = 1; k < pages; k++)
		mapbits(p + k, (0xffull << 5) | 3);
}

static void free_run(unsigned p, unsigned pages)
{
	mapbits(p, ((uint64_t)pages * PAGE << 1) | (0xffull << 5) | 0x10);
	for (unsigned k = 1; k + 1 < pages; k++)
		mapbits(p + k, 0xffull << 5);
	mapbits(p + pages - 1, ((uint64_t)pages * PAGE << 1) | (0xffull << 5) | 0x10);
}

/* The tcache as tcache_create lays it out: nhbins bins, then their stacks. */
static void tcache(const uint64_t *items32, unsigned n32, const uint64_t *items8,
		   unsigned n8, const uint64_t *items16k, unsigned n16k)
{
	uint64_t stack = TC + L->tcache.tbins + (uint64_t)nhbins * L->tcache.tbin_size;
	for (unsigned b = 0; b < nhbins; b++) {
		uint64_t tb = TC + L->tcache.tbins + (uint64_t)b * L->tcache.tbin_size;
		const uint64_t *items = b == 2 ? items32 : b == 0 ? items8 :
					b == szind(16384) ? items16k : NULL;
		unsigned n = b == 2 ? n32 : b == 0 ? n8 : b == szind(16384) ? n16k : 0;
		uint64_t first = stack;
		if (L->avail_down)
			stack += 8ull * ncmax[b];
		w64(tb + L->tcache.avail, stack);
		w32(tb + L->tcache.ncached, n);
		if (L->avail_down)
			first = stack - 8ull * n;
		else
			stack += 8ull * ncmax[b];
		for (unsigned k = 0; k < n; k++)
			w64(first + 8 * k, items[k]);
	}
	w64(TC + L->tcache.link_next, TC); /* tcache_ql: a ring of one */
	w64(ARENA0 + L->arena.tcache_ql, TC);
}

static uint64_t lstats_at(void)
{
	uint64_t end = ARENA0 + L->arena.bins + (uint64_t)nbins * L->arena.bin_size + 8 * 256;
	return (end + 63) & ~63ull;
}

static void counters(uint64_t curregs32, uint64_t curregs8, uint64_t large_l16,
		     uint64_t large_l32, uint64_t nactive)
{
	uint64_t b2 = ARENA0 + L->arena.bins + 2ull * L->arena.bin_size;
	uint64_t b0 = ARENA0 + L->arena.bins;
	w64(b2 + L->arena.bin_curregs, curregs32);
	w64(b2 + L->arena.bin_curruns, 1);
	w64(b0 + L->arena.bin_curregs, curregs8);
	w64(b0 + L->arena.bin_curruns, 1);
	uint64_t ls = r64(ARENA0 + L->arena.stats_lstats);
	uint64_t hs = r64(ARENA0 + L->arena.stats_hstats);
	uint64_t cur = L->arena.lstats_curruns;
	w64(ls + (szind(16384) - nbins) * L->arena.lstats_size + cur, large_l16);
	/* the 32 KiB class holds the in-use run and the tcache's */
	w64(ls + (szind(32768) - nbins) * L->arena.lstats_size + cur, large_l32);
	w64(hs + (szind(0x280000) - nbins - nlclasses) * L->arena.hstats_size +
	    L->arena.hstats_curhchunks, 1);
	w64(ARENA0 + L->arena.stats_allocated_large, large_l16 * 16384 + large_l32 * 32768);
	w64(ARENA0 + L->arena.stats_allocated_huge, 0x280000);
	w64(ARENA0 + L->arena.stats_mapped, CHUNK + 0x280000);
	if (L->arena.stats_retained)
		w64(ARENA0 + L->arena.stats_retained, 2 * CHUNK);
	w64(ARENA0 + L->arena.nactive, nactive);
}

static void layout(void)
{
	unsigned l16 = (unsigned)((16384 + pad) / PAGE), l32 = (unsigned)((32768 + pad) / PAGE);
	P_SMALL32 = map_bias;
	P_SMALL8 = P_SMALL32 + 1;
	P_L16 = P_SMALL8 + 1;
	P_L32 = P_L16 + l16;
	P_TC = P_L32 + l32;
	P_FREE = P_TC + l32;
}

static void build(void)
{
	layout();
	static const uint64_t sizes[NREGIONS][2] = {
		{DATA, DATA_SIZE}, {META, META_SIZE}, {C1, MAPPED_SIZE}, {TLS, TLS_SIZE},
	};
	check_regions_free(regions, NREGIONS);
	for (int i = 0; i < NREGIONS; i++)
		if (sizes[i][1])
			check_region_set(&regions[i], sizes[i][0], sizes[i][1]);
	for (unsigned i = 0; i < nsizes; i++)
		w64(SZTAB + 8ull * i, sz[i]);
	bin_info();
	rtree();
	w32(ARENA0 + L->arena.ind, 0);
	uint64_t ls = lstats_at();
	w64(ARENA0 + L->arena.stats_lstats, ls);
	w64(ARENA0 + L->arena.stats_hstats, ls + (uint64_t)nlclasses * L->arena.lstats_size);
	w64(ARENAS, ARENA0);

	/* The arena chunk. */
	node(C1, C1, CHUNK, true);
	rt_set(C1, C1);
	uint64_t used32[2] = {0x3ff, 0};                 /* regions 0..9 */
	uint64_t used8[8];
	memset(used8, 0xff, sizeof(used8));
	used8[7] = ~(1ull << 63);                         /* all but the last */
	small_run(P_SMALL32, 2, used32);
	small_run(P_SMALL8, 0, used8);
	large_run(P_L16, 16384 + pad);
	large_run(P_L32, 32768 + pad);
	large_run(P_TC, 32768 + pad);
	free_run(P_FREE, 512 - P_FREE);
	w64(STATIC_PTR, L32_USER + 16); /* an interior pointer: the object's field */

	/* The huge extent, on the arena's huge list. */
	node(HNODE, HUGE, 0x280000, false);
	rt_set(HUGE, HNODE);
	w64(ARENA0 + L->arena.huge, HNODE);
	w64(HNODE + L->node.ql_next, HNODE);
	/* A cached chunk on the chunks_cache ring; a retained one in the tree. */
	uint64_t head = ARENA0 + L->arena.chunks_cache;
	node(CNODE, CACHED, CHUNK, false);
	w64(head + L->node.cc_next, CNODE);
	w64(CNODE + L->node.cc_next, head);
	node(RNODE, RETAINED, 2 * CHUNK, false);
	uint64_t tree = ARENA0 + L->arena.chunks_ad_retained;
	w64(tree, RNODE);
	uint64_t nil = L->rb_nil_embedded ? tree + 8 : 0;
	w64(RNODE + L->node.ad_left, nil);
	w64(RNODE + L->node.ad_right, nil);

	/* The thread: a nominal tsd and its tcache. */
	w32(TSD + L->tsd.state, L->tsd.state_nominal);
	w64(TSD + L->tsd.tcache, TC);
	uint64_t i32[] = {RUN(P_SMALL32) + 3 * 32, RUN(P_SMALL32) + 5 * 32};
	uint64_t i8[] = {RUN(P_SMALL8) + 100 * 8};
	uint64_t i16k[] = {L16_USER};
	tcache(i32, 2, i8, 1, i16k, 1);

	/* jemalloc's counters, consistent with all of the above. */
	unsigned active = 1 + 1 + (unsigned)((16384 + pad) / PAGE) +
			  2 * (unsigned)((32768 + pad) / PAGE) + 0x280000 / PAGE;
	counters(10, 511, 1, 2, active);
}

static struct hs_process *make_process(void)
{
	struct hs_process *proc = check_process(regions, NREGIONS);
	struct hs_thread t = {.tid = 101, .fs_base = FS_BASE, .rsp = TLS + 0x100};
	if (hs_process_add_thread(proc, &t))
		abort();
	return proc;
}

static const struct hs_je4_globals globals = {
	.rtree = RTREE, .sz_tab = SZTAB, .bin_info = BININFO, .arenas = ARENAS,
	.narenas = 1, .has_tpoff = true, .tsd_tpoff = TPOFF,
};

static struct hs_heap *walk(struct hs_process *proc, const struct hs_je4_globals *g,
			    struct hs_error **errp, unsigned *mism)
{
	struct hs_heap *heap;
	if (hs_heap_create(&heap))
		abort();
	*errp = hs_jemalloc4_walk_at(proc, L, g, heap, mism);
	return heap;
}

/* The chunk that starts at addr, from the store itself (check_heap.h's
 * array is cached by heap and store address, which the heaps of
 * successive walks here can share). */
static const struct hs_chunk *chunk_at(struct hs_heap *h, uint64_t addr)
{
	static struct hs_chunk c;
	struct hs_error *err = hs_heap_finish(h);
	if (err) {
		hs_error_destroy(err);
		return NULL;
	}
	return hs_heap_find(h, addr, &c, NULL) && c.addr == addr ? &c : NULL;
}

/* Whether addr is in memory the walk declared jemalloc's own. */
static bool check_owned(const struct hs_heap *h, uint64_t addr)
{
	for (size_t i = 0; i < h->nowned; i++)
		if (addr - h->owned[i].start < h->owned[i].size)
			return true;
	return false;
}

static size_t count_diags(const struct hs_heap *h, enum hs_severity sev)
{
	return check_heap_diags(h, sev, 0, NULL);
}

/* The clean heap: exact states, sizes and stats, and no warning. */
static void test_clean(const char *row, const struct hs_je4_globals *g)
{
	build();
	struct hs_process *proc = make_process();
	struct hs_error *err;
	unsigned mism = 99;
	struct hs_heap *h = walk(proc, g, &err, &mism);
	CHECK(err == NULL);
	CHECK_EQ(mism, 0);
	CHECK_EQ(count_diags(h, HS_DIAG_WARNING) + count_diags(h, HS_DIAG_ERROR), 0);
	if (count_diags(h, HS_DIAG_WARNING) + count_diags(h, HS_DIAG_ERROR)) {
		fprintf(stderr, "row %s:\n", row);
		check_heap_dump_diags(h);
	}
	CHECK_EQ(h->narenas, 1);
	/* 128 + 512 regions, 3 large, the free run, the huge and cached extents */
	CHECK_EQ(h->nchunks, 128 + 512 + 3 + 1 + 1 + 1);
	CHECK_EQ(h->totals[HS_CHUNK_IN_USE].count, 8 + 510 + 2 + 1);
	CHECK_EQ(h->totals[HS_CHUNK_CACHED].count, 2 + 1 + 1);
	CHECK_EQ(h->totals[HS_CHUNK_FREE].count, 118 + 1 + 1 + 1);
	CHECK_EQ(h->metadata.count, 1);
	/* jemalloc's own memory: the huge extent's node and the chunk's header */
	CHECK(check_owned(h, HNODE) && check_owned(h, C1));
	const struct hs_chunk *c;
	CHECK((c = chunk_at(h, RUN(P_SMALL32) + 3 * 32)) &&
	      hs_chunk_state(c) == HS_CHUNK_CACHED && hs_chunk_size(c) == 32);
	CHECK((c = chunk_at(h, RUN(P_SMALL32) + 4 * 32)) &&
	      hs_chunk_state(c) == HS_CHUNK_IN_USE);
	CHECK((c = chunk_at(h, RUN(P_SMALL32) + 10 * 32)) &&
	      hs_chunk_state(c) == HS_CHUNK_FREE);
	CHECK((c = chunk_at(h, RUN(P_SMALL8) + 511 * 8)) &&
	      hs_chunk_state(c) == HS_CHUNK_FREE);
	CHECK((c = chunk_at(h, L16_USER)) && hs_chunk_state(c) == HS_CHUNK_CACHED &&
	      hs_chunk_size(c) == 16384);
	/* The in-use 32 KiB object: where the static pointer into it says. */
	CHECK((c = chunk_at(h, L32_USER)) && hs_chunk_state(c) == HS_CHUNK_IN_USE &&
	      hs_chunk_size(c) == 32768);
	/* The tcache: an allocation of its own, jemalloc's metadata. */
	CHECK((c = chunk_at(h, TC)) && hs_chunk_state(c) == HS_CHUNK_IN_USE &&
	      (hs_chunk_flags(c) & HS_CHUNK_F_METADATA));
	CHECK((c = chunk_at(h, HUGE)) && hs_chunk_size(c) == 0x280000 &&
	      (hs_chunk_flags(c) & HS_CHUNK_F_MMAPPED));
	CHECK((c = chunk_at(h, CACHED)) && hs_chunk_state(c) == HS_CHUNK_FREE &&
	      hs_chunk_size(c) == CHUNK);
	CHECK((c = chunk_at(h, RUN(P_FREE))) && hs_chunk_state(c) == HS_CHUNK_FREE &&
	      hs_chunk_size(c) == (512 - P_FREE) * PAGE);
	CHECK(h->nregions == 1 && h->regions[0].start == RETAINED &&
	      h->regions[0].size == 2 * CHUNK && !strcmp(h->regions[0].kind, "retained"));
	uint64_t small = 10 * 32 + 511 * 8, large = 16384 + 2 * 32768;
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.small.allocated"), small);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.large.allocated"), large);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.huge.allocated"), 0x280000);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.mapped"), CHUNK + 0x280000);
	CHECK_EQ(check_heap_stat(h, "stats.allocated"), small + large + 0x280000);
	CHECK_EQ(check_heap_stat(h, "stats.active"),
		 2 * PAGE + 16384 + 2 * 32768 + 3 * pad + 0x280000);
	hs_heap_destroy(h);
	hs_process_destroy(proc);
}

/* Without cache-oblivious placement (--disable-cache-oblivious) large runs
 * are their class exactly: the walk tells from the page map. */
static void test_no_pad(void)
{
	pad = 0;
	test_clean("no pad", &globals);
	pad = PAGE;
}

/* Corruption: each becomes a diagnostic naming the address, the walk goes
 * on, and a counter that disagrees is an error. */
static void test_corrupt(void)
{
	build();
	/* run 32's bitmap says region 12 allocated too: nfree disagrees,
	 * and bin 2's curregs no longer matches */
	uint64_t misc = C1 + L->chunk.map_bits + 8ull * (512 - map_bias) +
			(uint64_t)(P_SMALL32 - map_bias) * L->chunk.misc_size + L->chunk.misc_run;
	w64(misc + L->chunk.run_bitmap, r64(misc + L->chunk.run_bitmap) & ~(1ull << 12));
	/* a second leaf slot naming the arena chunk's node under another key */
	rt_set(C1 + 6 * CHUNK, C1);
	/* a tcache item cached twice */
	uint64_t i32[] = {RUN(P_SMALL32) + 3 * 32, RUN(P_SMALL32) + 3 * 32};
	uint64_t i8[] = {RUN(P_SMALL8) + 100 * 8};
	uint64_t i16k[] = {L16_USER};
	tcache(i32, 2, i8, 1, i16k, 1);
	struct hs_process *proc = make_process();
	struct hs_error *err;
	unsigned mism = 0;
	struct hs_heap *h = walk(proc, &globals, &err, &mism);
	CHECK(err == NULL);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, misc - L->chunk.misc_run,
				  "bitmap has 117 free"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, C1, "maps to node"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, RUN(P_SMALL32) + 3 * 32,
				  "cached twice"), 1);
	CHECK(check_heap_diags(h, HS_DIAG_ERROR, 0, "curregs") >= 1);
	CHECK(mism >= 1);
	CHECK_EQ(check_heap_stat(h, "stats.arenas.0.small.allocated"), 11 * 32 + 511 * 8);
	hs_heap_destroy(h);
	hs_process_destroy(proc);

	/* A page map whose run overruns the chunk: the rest of the chunk is
	 * skipped with a diagnostic; a misaligned rtree leaf; an unreadable
	 * tcache stack. */
	build();
	mapbits(P_FREE, (600 * PAGE << 1) | (0xffull << 5));
	w64(TC + L->tcache.tbins + L->tcache.avail, 0x10);
	proc = make_process();
	h = walk(proc, &globals, &err, &mism);
	CHECK(err == NULL);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, 0, "does not fit the chunk"), 1);
	CHECK_EQ(check_heap_diags(h, HS_DIAG_WARNING, TC, "not where tcache_create"), 1);
	hs_heap_destroy(h);
	hs_process_destroy(proc);

	/* Globals that are not what they must be: errors, not crashes. */
	build();
	proc = make_process();
	struct hs_je4_globals g = globals;
	g.rtree = RTREE + 8;
	h = walk(proc, &g, &err, &mism);
	CHECK(err && err->code == HS_ERR_NOT_FOUND && strstr(err->message, "chunks_rtree"));
	hs_error_destroy(err);
	hs_heap_destroy(h);
	g = globals;
	g.sz_tab = SZTAB + 4;
	h = walk(proc, &g, &err, &mism);
	CHECK(err && err->code == HS_ERR_NOT_FOUND && strstr(err->message, "index2size"));
	hs_error_destroy(err);
	hs_heap_destroy(h);
	g = globals;
	g.bin_info = BININFO + L->bin_info.size;
	h = walk(proc, &g, &err, &mism);
	CHECK(err && err->code == HS_ERR_NOT_FOUND && strstr(err->message, "arena_bin_info"));
	hs_error_destroy(err);
	hs_heap_destroy(h);
	hs_process_destroy(proc);
}

/* Random corruption of the metadata: every walk ends, with or without an
 * error, and never reads outside the core (ASan in the sanitizer build). */
static void test_mutations(void)
{
	uint64_t seed = 0x243f6a8885a308d3ull;
	const uint64_t targets[][2] = {
		{C1, 0x6000}, {RTREE, 0x100}, {ARENA0, 0x3000}, {TC, 0x800}, {TSD, 0x80},
		{LEAF + 8 * ((C1 >> 21) & 0x7ff), 0x40}, {HNODE, 0x300}, {BININFO, 0x200},
	};
	for (unsigned round = 0; round < 300; round++) {
		build();
		for (unsigned k = 0; k < 8; k++) {
			check_rnd(&seed);
			unsigned t = (unsigned)(seed % HS_ARRAY_SIZE(targets));
			w8(targets[t][0] + (seed >> 8) % targets[t][1], (uint8_t)(seed >> 40));
		}
		struct hs_process *proc = make_process();
		struct hs_error *err;
		unsigned mism;
		struct hs_heap *h = walk(proc, &globals, &err, &mism);
		CHECK(err == NULL || err->code == HS_ERR_NOT_FOUND);
		hs_error_destroy(err);
		hs_heap_destroy(h);
		hs_process_destroy(proc);
	}
}

/* Another row's layout over this memory does not reconcile: what makes the
 * inference refuse a neighbour (jemalloc4_locate.c). */
static void test_wrong_row(const struct hs_je4_layout *other)
{
	build();
	struct hs_process *proc = make_process();
	struct hs_heap *h;
	if (hs_heap_create(&h))
		abort();
	unsigned mism = 0;
	struct hs_error *err = hs_jemalloc4_walk_at(proc, other, &globals, h, &mism);
	CHECK(err != NULL || mism > 0 || h->narenas == 0);
	hs_error_destroy(err);
	hs_heap_destroy(h);
	hs_process_destroy(proc);
}

static void test_versions(void)
{
	unsigned rel, commits;
	CHECK(hs_je4_parse_version("4.0.3-0-ge9192eacf8935e29fc62fddc2701f7942b1cc02c",
				   &rel, &commits) && rel == 40003 && commits == 0);
	CHECK(hs_je4_parse_version("4.5.0-12-g0123abc", &rel, &commits) && rel == 40500 &&
	      commits == 12);
	CHECK(hs_je4_parse_version("4.2.1", &rel, &commits) && rel == 40201);
	CHECK(!hs_je4_parse_version("4.2", &rel, &commits));
	CHECK(!hs_je4_parse_version("x4.2.1", &rel, &commits));
	CHECK(!hs_je4_parse_version(NULL, &rel, &commits));
	const struct hs_je4_layout *r = hs_je4_layout_for_version("4.0.3-0-ge9192eac");
	CHECK(r && !strcmp(r->name, "4.0.0-4.0.4"));
	CHECK((r = hs_je4_layout_for_version("4.5.0")) && !strcmp(r->name, "4.4.0-4.5.0"));
	CHECK((r = hs_je4_layout_for_version("4.1.0-0-gdf900db")) &&
	      !strcmp(r->name, "4.1.0-4.1.1"));
	/* a git build after a release, and releases with no row */
	CHECK(hs_je4_layout_for_version("4.4.0-37-gabcdef0") == NULL);
	CHECK(hs_je4_layout_for_version("4.6.0") == NULL);
	CHECK(hs_je4_layout_for_version("5.0.0") == NULL);
	size_t n;
	const struct hs_je4_layout *rows = hs_je4_layouts(&n);
	CHECK_EQ(n, 5);
	for (size_t i = 1; i < n; i++)
		CHECK(hs_je4_layout_release(&rows[i - 1]) < hs_je4_layout_release(&rows[i]));
}

int main(void)
{
	test_versions();
	size_t n;
	const struct hs_je4_layout *rows = hs_je4_layouts(&n);
	for (size_t i = 0; i < n; i++) {
		L = &rows[i];
		make_sizes();
		test_clean(L->name, &globals);
		/* arenas[] unknown: the arena comes from the chunks' nodes;
		 * the TLS offset unknown: the tcache from the arena's ring */
		struct hs_je4_globals g = globals;
		g.arenas = 0;
		g.narenas = 0;
		g.has_tpoff = false;
		test_clean(L->name, &g);
		test_no_pad();
		test_corrupt();
		test_wrong_row(&rows[(i + 1) % n]);
	}
	L = &rows[0];
	make_sizes();
	test_mutations();
	L = &rows[n - 1];
	make_sizes();
	test_mutations();
	check_regions_free(regions, NREGIONS);
	return check_summary("test_jemalloc4");
}
