/* jemalloc_layout.c: the versioned table of jemalloc struct layouts (x86_64). */
#include <stdio.h>
#include <string.h>

#include "../common/common.h"
#include "jemalloc_layout.h"

/*
 * Rows are facts read off the source of one tag of jemalloc/jemalloc (paths
 * below are relative to include/jemalloc/internal/ unless they start with
 * src/), and for verified rows checked with `ptype/o` on a rebuild of the tag
 * with the same configuration and against mallctl stats on real cores.
 * Adding a release (5.2.1, 4.x) is adding a row; a different size-class
 * configuration of a release (e.g. --with-lg-quantum=3) is another row too.
 */
/*
 * 5.3.0's structs, shared by the rows that keep them: the git build
 * 5.3.0-100 differs only in arena_t's size (the bins' offset), 5.3.1 keeps
 * edata_t. Paths and lines are 5.3.0's.
 */
	/* struct edata_s, edata.h:92-250 (sizeof 128, EDATA_ALIGNMENT
	 * 128 at edata.h:20): e_bits :142, e_addr :190, e_size_esn
	 * :200 (EDATA_SIZE_MASK :201), e_slab_data :246 (union at 64).
	 * e_bits fields edata.h:145-187 with MALLOCX_ARENA_BITS 12,
	 * LG_CEIL(SC_NSIZES) 8, SC_LG_SLAB_MAXREGS 9. */
#define JE_EDATA_530 { \
		.size = 128, \
		.align = 128, \
		.bits = 0, \
		.addr = 8, \
		.size_esn = 16, \
		.slab_data = 64, \
		.size_mask = ~UINT64_C(0xfff), \
		.arena = {0, 12}, \
		.slab = {12, 1}, \
		.state = {17, 3}, \
		.szind = {20, 8}, \
		.nfree = {28, 10}, \
		.binshard = {38, 6}, \
	}

	/* struct tsd_s, tsd.h:240-262 with the TSD_DATA_* lists
	 * tsd.h:58-130: state :255, tcache_slow (O() at :88), tcache
	 * (O() at :130); tsd_state_nominal_max tsd.h:200. */
#define JE_TSD_530 { \
		.size = 2632, \
		.state = 0x330, \
		.tcache_slow = 0x100, \
		.tcache = 0x358, \
		.state_nominal_max = 2, \
		/* tcache_slow's arrays (below), and the tcache's bins */ \
		.vars = {{0x100 + 52, 3, 0, 8}, {0x358 + 8, 24, 0, 8}}, \
	}

	/* struct tcache_slow_s, tcache_structs.h:20-53: link :22,
	 * arena :32, tcache :52; lg_fill_div, bin_refilled and
	 * bin_flush_delay_items[SC_NBINS] :36-46 from 52. */
#define JE_TSLOW_530 { \
		.link_next = 0, \
		.arena = 40, \
		.tcache = 168, \
		.vars = {{52, 3, 0, 8}}, \
	}

	/* struct tcache_s, tcache_structs.h:55-58 (TCACHE_NBINS_MAX
	 * tcache_types.h:32 = 73); struct cache_bin_s, cache_bin.h:82-124:
	 * stack_head :88, low_bits_full :115, low_bits_empty :124. */
#define JE_TCACHE_530 { \
		.tcache_slow = 0, \
		.bins = 8, \
		/* TCACHE_NBINS_MAX - SC_NBINS: the large classes up \
		 * to TCACHE_MAXCLASS_LIMIT (8 MiB), tcache_types.h:22-32 */ \
		.nlarge = 37, \
		/* arena_stats_merge, src/arena.c:152-166 */ \
		.counts_large = true, \
		.bin_size = 24, \
		.stack_head = 0, \
		.low_bits_full = 18, \
		.low_bits_empty = 20, \
	}

	/* struct cache_bin_array_descriptor_s, cache_bin.h:134-142. */
#define JE_DESC_530 { \
		.link_next = 0, \
		.bins = 16, \
	}

	/* struct arena_s, arena_structs.h:20-99: stats :47 (at 0x18;
	 * lstats arena_stats.h:81, arena_stats_large_s
	 * arena_stats.h:14-20), tcache_ql :56, descriptor ql :57,
	 * pa_shard :77 (nactive pa.h:77), ind :83, bins[] :98; struct
	 * bin_s bin.h:15-40 with stats :23 (curregs bin_stats.h:28,
	 * curslabs :46). */
#define JE_ARENA_530(SIZE) { \
		.size = (SIZE), \
		.ind = 78928, \
		.lstats = 0x3d0, \
		.lstats_size = 48, \
		.lstats_nmalloc = 0, \
		.lstats_ndalloc = 8, \
		.tcache_ql = 0x2898, \
		.desc_ql = 0x28a0, \
		.nactive = 0x29a0, \
		.bins = (SIZE), \
		.bin_size = 224, \
		.bin_curregs = 112 + 24, \
		.bin_curslabs = 112 + 64, \
		/* stats.lstats[SC_NSIZES - SC_NBINS] */ \
		.vars = {{0x3d0, 0, 48, 8}}, \
	}

static const struct hs_je_layout hs_je_rows[] = {
	{
		/* 5.3.1 (81034ce1), default size classes. The EMAP model as
		 * 5.3.0, with these differences (paths and lines of the tag):
		 * a bigger tcache_slow_t (tcache_nbins, last_gc_time, the
		 * small and large gc cursors, a 2-byte bin_fill_ctl per bin);
		 * a tcache of TCACHE_NBINS_MAX = SC_NBINS + 5 bins (the tcache
		 * limit is 32 KiB: tcache_types.h:26-31 with sc.h:304); a
		 * 56-byte arena_stats_large_t (active_bytes); the arena's
		 * name[] and its bins 64-byte aligned (arena_structs.h:96-108).
		 * Offsets from `ptype/o` on a build of the tag. Verified on
		 * Debian sid's libjemalloc2 5.3.1 (the fixture under sid's own
		 * loader) and on the tag built by scripts/verify-build. */
		.version = "5.3.1",
		.verified = true,
		.build_ids = {NULL},
		.model = HS_JE_MODEL_EMAP,
		.large_usize_from_size = true,
		.rtree_symbol = "je_arena_emap_global",

		.lg_page = 12,
		.nsizes = 232,       /* SC_NSIZES, sc.h */
		.nbins = 36,         /* SC_NBINS, sc.h */
		.slab_maxregs = 512, /* SC_SLAB_MAXREGS, sc.h */
		.arena_limit = 4095, /* MALLOCX_ARENA_LIMIT, jemalloc_internal_types.h */
		.min_size = 8,

		.edata = JE_EDATA_530,

		/* emap_t { rtree_t rtree; } emap.h:18; rtree_t { base_t *base;
		 * malloc_mutex_t init_lock; root[] } rtree.h:103-111. */
		.emap_root = 0x78,

		/* struct tsd_s, tsd_internals.h:225-245 with the TSD_DATA_*
		 * lists: state :239, tcache_slow (O() at :86), tcache (O() at
		 * :115); tsd_state_nominal_max tsd_internals.h:185. */
		.tsd = {
			.size = 1968,
			.state = 920,
			.tcache_slow = 296,
			.tcache = 960,
			.state_nominal_max = 2,
			/* tcache_slow's arrays (below), and the tcache's bins */
			.vars = {{296 + 76, 4, 0, 8}, {960 + 8, 24, 0, 8}},
		},

		/* struct tcache_slow_s, tcache_structs.h:21-60: arena at 40;
		 * bin_fill_ctl, bin_refilled and bin_flush_delay_items
		 * [SC_NBINS] from 76 (4 bytes a bin); tcache at 232. */
		.tslow = {
			.link_next = 0,
			.arena = 40,
			.tcache = 232,
			.vars = {{76, 4, 0, 8}},
		},

		/* struct tcache_s, tcache_structs.h:62-65; struct cache_bin_s
		 * cache_bin.h (stack_head 0, low_bits_full 18, low_bits_empty
		 * 20, as in 5.3.0). arena_stats_merge (src/arena.c:164-183)
		 * counts every bin up to TCACHE_NBINS_MAX not disabled. */
		.tcache = {
			.tcache_slow = 0,
			.bins = 8,
			.nlarge = 5,
			.counts_large = true,
			.bin_size = 24,
			.stack_head = 0,
			.low_bits_full = 18,
			.low_bits_empty = 20,
		},

		/* struct cache_bin_array_descriptor_s, cache_bin.h. */
		.desc = {
			.link_next = 0,
			.bins = 16,
		},

		/* struct arena_s, arena_structs.h:21-109: stats :48 (at 24;
		 * lstats arena_stats.h:90 at 992, arena_stats_large_s :19-45,
		 * 56 bytes), tcache_ql :57, descriptor ql :58, pa_shard :78
		 * (nactive at 12296), ind :84, name :96, all_bins[] :108
		 * (CACHELINE aligned; one shard a bin by default, arena_get_bin
		 * arena_inlines_b.h:533); struct bin_s bin.h:17-45 with stats
		 * :25. SC_NSIZES - SC_NBINS depends on LG_PAGE only, so the
		 * bins' 64-byte alignment holds for any LG_QUANTUM. */
		.arena = {
			.size = 80704,
			.ind = 80640,
			.lstats = 992,
			.lstats_size = 56,
			.lstats_nmalloc = 0,
			.lstats_ndalloc = 8,
			.lstats_active = 16,
			.tcache_ql = 11976,
			.desc_ql = 11984,
			.nactive = 12296,
			.bins = 80704,
			.bin_size = 224,
			.bin_curregs = 136,
			.bin_curslabs = 176,
			.vars = {{992, 0, 56, 8}},
		},
	},
	{
		/* A git build 100 commits after 5.3.0 (314c073a, July 2023):
		 * 5.3.0's structs but for ba19d2cb "Add arena-level name",
		 * which puts char name[ARENA_NAME_LEN] (32, arena_types.h:12)
		 * before the bins (arena_structs.h:95 at that commit). Other
		 * builds between 5.3.0 and 5.3.1 are tried against this row
		 * and its neighbours. Verified: scripts/verify-build jemalloc
		 * on the tree (ptype/o, and the fixture's stats exact). */
		.version = "5.3.0-100-g314c073a",
		.verified = true,
		.build_ids = {NULL},
		.model = HS_JE_MODEL_EMAP,
		.rtree_symbol = "je_arena_emap_global",

		.lg_page = 12,
		.nsizes = 232,       /* SC_NSIZES, sc.h:198 */
		.nbins = 36,         /* SC_NBINS, sc.h:233 */
		.slab_maxregs = 512, /* SC_SLAB_MAXREGS, sc.h:279,288 */
		.arena_limit = 4095, /* MALLOCX_ARENA_LIMIT, jemalloc_internal_types.h:50 */
		.min_size = 8,       /* 1 << SC_LG_TINY_MIN, sc.h:172 */

		.edata = JE_EDATA_530,

		/* emap_t { rtree_t rtree; } emap.h:17; rtree_t { base_t *base;
		 * malloc_mutex_t init_lock; root[] } rtree.h:98-108. */
		.emap_root = 0x78,

		.tsd = JE_TSD_530,

		.tslow = JE_TSLOW_530,

		.tcache = JE_TCACHE_530,

		.desc = JE_DESC_530,

		.arena = JE_ARENA_530(78984),
	},
	{
		/* 5.3.0 (54eaed1d), default size classes: LG_PAGE 12,
		 * LG_QUANTUM 4, --enable-prof, --enable-stats. Verified on
		 * Debian 12 libjemalloc2 5.3.0-1. */
		.version = "5.3.0",
		.verified = true,
		.build_ids = {"1d5163c246dc9cd2b4d339f2ac42efd95c6e0ae1", NULL},
		.model = HS_JE_MODEL_EMAP,
		.rtree_symbol = "je_arena_emap_global",

		.lg_page = 12,
		.nsizes = 232,       /* SC_NSIZES, sc.h:198 */
		.nbins = 36,         /* SC_NBINS, sc.h:233 */
		.slab_maxregs = 512, /* SC_SLAB_MAXREGS, sc.h:279,288 */
		.arena_limit = 4095, /* MALLOCX_ARENA_LIMIT, jemalloc_internal_types.h:50 */
		.min_size = 8,       /* 1 << SC_LG_TINY_MIN, sc.h:172 */

		.edata = JE_EDATA_530,

		/* emap_t { rtree_t rtree; } emap.h:17; rtree_t { base_t *base;
		 * malloc_mutex_t init_lock; root[] } rtree.h:98-108. */
		.emap_root = 0x78,

		.tsd = JE_TSD_530,

		.tslow = JE_TSLOW_530,

		.tcache = JE_TCACHE_530,

		.desc = JE_DESC_530,

		.arena = JE_ARENA_530(78952),
	},
	{
		/* 5.2.1 (ea6b3e97), default size classes: LG_PAGE 12,
		 * LG_QUANTUM 4, LG_VADDR 48, --enable-prof, --enable-stats.
		 * Verified on Debian 11 libjemalloc2 5.2.1-3 (a rebuild of the
		 * tag --enable-prof --with-lg-vaddr=48 has the same .bss
		 * 0x224cc8 and .tdata 0x1848; offsets from its `ptype/o`).
		 * The EXTENTS model: see jemalloc_layout.h. */
		.version = "5.2.1",
		.verified = true,
		.build_ids = {"3624f54a957d7210121121bd82bfceb06c632b91", NULL},
		.model = HS_JE_MODEL_EXTENTS,
		/* rtree_t extents_rtree, src/extent.c:16 */
		.rtree_symbol = "je_extents_rtree",

		.lg_page = 12,
		.nsizes = 232,       /* SC_NSIZES, sc.h:198 */
		.nbins = 36,         /* SC_NBINS, sc.h:229 */
		.slab_maxregs = 512, /* SLAB_MAXREGS, arena_types.h:7-8 */
		.arena_limit = 4095, /* MALLOCX_ARENA_LIMIT, jemalloc_internal_types.h:34 */
		.min_size = 8,       /* 1 << SC_LG_TINY_MIN, sc.h:172 */

		/* struct extent_s, extent_structs.h:20-183 (sizeof 128; an
		 * extent_t comes from base_alloc_extent with CACHELINE
		 * alignment, src/base.c:469-472): e_bits :92, e_addr :139,
		 * e_size_esn :149 (EXTENT_SIZE_MASK :150), ql_link :163,
		 * ph_link :169, e_slab_data :173 (arena_slab_data_t,
		 * arena_structs_a.h:6-8, at 64). e_bits fields :95-136:
		 * arena 12 bits, slab, committed, dumpable, zeroed, state 2
		 * bits, szind LG_CEIL(SC_NSIZES) 8, nfree LG_SLAB_MAXREGS+1 10,
		 * bin_shard 6. */
		.edata = {
			.size = 128,
			.align = 64,
			.bits = 0,
			.addr = 8,
			.size_esn = 16,
			.slab_data = 64,
			.size_mask = ~UINT64_C(0xfff),
			.arena = {0, 12},
			.slab = {12, 1},
			.state = {16, 2},
			.szind = {18, 8},
			.nfree = {26, 10},
			.binshard = {36, 6},
		},

		/* struct rtree_s, rtree.h:80-88: init_lock (malloc_mutex_t,
		 * 112 bytes, mutex.h:22-68) then root[]. */
		.emap_root = 0x70,

		/* struct tsd_s, tsd.h:185-200: state first (:196), then the
		 * MALLOC_TSD list tsd.h:64-81, tcache (O() at :79) at 496;
		 * tsd_state_nominal_max tsd.h:145. */
		.tsd = {
			.size = 6216,
			.state = 0,
			.tcache_slow = 0,
			.tcache = 496,
			.state_nominal_max = 2,
			/* the tcache's arrays, below */
			.vars = {{496 + 16, 24, 0, 8}, {496 + 964, 1, 24, 8}},
		},

		/* struct tcache_s, tcache_structs.h:13-60: bins_small :28 at
		 * 16, link :35 at 880, cache_bin_array_descriptor :46 at 920,
		 * arena :49 at 952, bins_large[SC_NSIZES - SC_NBINS] :59 at
		 * 1000. struct cache_bin_s, cache_bin.h:44-65: low_water,
		 * ncached :48 (int32 at 4), tstats, avail :64 (at 16; items
		 * avail[-ncached, -1], :58-62); ncached_max at most
		 * TCACHE_NSLOTS_SMALL_MAX, tcache_types.h:31.
		 * jemalloc's tcache_bytes (src/arena.c:201-212) indexes
		 * bins_large[] with the absolute class index, so it reads
		 * bins a default tcache never fills: it counts the small bins
		 * only. */
		.tcache = {
			.bins = 16,
			.bins_large = 1000,
			.arena = 952,
			.link_next = 880,
			.nlarge = 0, /* every large class */
			.counts_large = false,
			.bin_size = 24,
			.ncached = 4,
			.avail = 16,
			.ncached_max = 200,
			/* bins_small[SC_NBINS] :28, lg_fill_div[SC_NBINS] :52
			 * (at 964) */
			.vars = {{16, 24, 0, 8}, {964, 1, 0, 8}},
		},

		/* struct cache_bin_array_descriptor_s, cache_bin.h:67-77. */
		.desc = {
			.link_next = 0,
			.bins = 16,
			.bins_large = 24,
		},

		/* struct arena_s, arena_structs_b.h:77-219: stats :104 (at
		 * 0x18; tcache_bytes arena_stats.h:119, lstats :124 at 0x300,
		 * arena_stats_large_s arena_stats.h:24-48, 48 bytes),
		 * tcache_ql :113, descriptor ql :114, nactive :147, bins[]
		 * :209 (bins_t, bin.h:86-90), base :216; base_s.ind
		 * base_structs.h:22. struct bin_s bin.h:58-83 (280 bytes)
		 * with stats :82 (curregs bin_stats.h:28, curslabs :46).
		 * The shards sit after the arena (src/arena.c:2066-2070)
		 * but the walk follows bin_shards. */
		.arena = {
			.size = 29496,
			.base = 0x7328,
			.base_ind = 0,
			.lstats = 0x300,
			.lstats_size = 48,
			.lstats_nmalloc = 0,
			.lstats_ndalloc = 8,
			.tcache_ql = 0x27c8,
			.desc_ql = 0x27d0,
			.nactive = 0x2868,
			.bins = 0x7208,
			.bins_by_pointer = true,
			.bin_size = 280,
			.bin_curregs = 136 + 24,
			.bin_curslabs = 136 + 64,
			/* stats.lstats[SC_NSIZES - SC_NBINS], bins[SC_NBINS] */
			.vars = {{0x300, 0, 48, 8}, {0x7208, 8, 0, 8}},
		},
	},
	{
		/* 5.1.0 (61efbda7), default size classes: the EXTENTS model
		 * as 5.2.1, but the bins inline in arena_t, no bin shards and
		 * a 32-byte arena_stats_large_t. Offsets from `ptype/o` on a
		 * build of the tag; verified: trixie's librust-jemalloc-sys-dev
		 * tree built plain and with Redis's flags (scripts/verify-build
		 * jemalloc), and Redis 6.0.16's bundled copy. */
		.version = "5.1.0",
		.verified = true,
		.build_ids = {NULL},
		.model = HS_JE_MODEL_EXTENTS,
		/* rtree_t extents_rtree, src/extent.c:18 */
		.rtree_symbol = "je_extents_rtree",

		.lg_page = 12,
		.nsizes = 232,       /* NSIZES, size_classes.sh */
		.nbins = 36,         /* NBINS */
		.slab_maxregs = 512, /* SLAB_MAXREGS, arena_types.h:7-8 */
		.arena_limit = 4095, /* MALLOCX_ARENA_LIMIT, jemalloc_internal_types.h:32 */
		.min_size = 8,

		/* struct extent_s, extent_structs.h:19-175 (sizeof 128, from
		 * base_alloc_extent with CACHELINE alignment, src/base.c:472):
		 * e_bits :88, e_addr :127, e_size_esn :137 (EXTENT_SIZE_MASK
		 * :138), e_slab_data :161 at 64. e_bits fields :91-124:
		 * arena 12, slab, committed, dumpable, zeroed, state 2 bits,
		 * szind LG_CEIL_NSIZES 8, nfree LG_SLAB_MAXREGS+1 10, then sn:
		 * no bin shard. */
		.edata = {
			.size = 128,
			.align = 64,
			.bits = 0,
			.addr = 8,
			.size_esn = 16,
			.slab_data = 64,
			.size_mask = ~UINT64_C(0xfff),
			.arena = {0, 12},
			.slab = {12, 1},
			.state = {16, 2},
			.szind = {18, 8},
			.nfree = {26, 10},
			.binshard = {36, 0},
		},

		/* struct rtree_s, rtree.h:80-88: init_lock then root[]. */
		.emap_root = 104,

		/* struct tsd_s, tsd.h:114-125: state first (:120), then the
		 * MALLOC_TSD list, tcache (O() at :76) at 448;
		 * tsd_state_nominal_max tsd.h:103. */
		.tsd = {
			.size = 6144,
			.state = 0,
			.tcache_slow = 0,
			.tcache = 448,
			.state_nominal_max = 1,
			.vars = {{448 + 16, 24, 0, 8}, {448 + 940, 1, 24, 8}},
		},

		/* struct tcache_s, tcache_structs.h:9-56: bins_small[NBINS]
		 * at 16, link at 880, cache_bin_array_descriptor at 896,
		 * arena at 928, lg_fill_div[NBINS] at 940, bins_large at 976.
		 * struct cache_bin_s, cache_bin.h:34-55: low_water, ncached
		 * (int32 at 4), tstats, avail (at 16; items avail[-ncached,
		 * -1]); TCACHE_NSLOTS_SMALL_MAX tcache_types.h:31.
		 * arena_stats_merge (src/arena.c:153-169) reads bins_large[i]
		 * with the absolute class index, bins a tcache never fills:
		 * it counts the small bins only. */
		.tcache = {
			.bins = 16,
			.bins_large = 976,
			.arena = 928,
			.link_next = 880,
			.nlarge = 0,
			.counts_large = false,
			.bin_size = 24,
			.ncached = 4,
			.avail = 16,
			.ncached_max = 200,
			.vars = {{16, 24, 0, 8}, {940, 1, 0, 8}},
		},

		/* struct cache_bin_array_descriptor_s, cache_bin.h:57-68. */
		.desc = {
			.link_next = 0,
			.bins = 16,
			.bins_large = 24,
		},

		/* struct arena_s, arena_structs_b.h:77-219: stats :101 (at
		 * 16; lstats arena_stats.h:91 at 728, arena_stats_large_t
		 * 32 bytes), tcache_ql :110, descriptor ql :111, nactive
		 * :145, bin_t bins[NBINS] :206 (inline), base :213; base_s.ind
		 * base_structs.h:22. struct bin_s bin.h:55-79 (264 bytes) with
		 * stats :78 (curregs bin_stats.h:28, curslabs :46). */
		.arena = {
			.size = 25864,
			.base = 25848,
			.base_ind = 0,
			.lstats = 728,
			.lstats_size = 32,
			.lstats_nmalloc = 0,
			.lstats_ndalloc = 8,
			.tcache_ql = 7008,
			.desc_ql = 7016,
			.nactive = 7168,
			.bins = 16344,
			.bins_by_pointer = false,
			.bin_size = 264,
			.bin_curregs = 152,
			.bin_curslabs = 192,
			/* lstats[NSIZES - NBINS], bins[NBINS] */
			.vars = {{728, 0, 32, 8}, {16344, 264, 0, 8}},
		},
	},
	{
		/* 5.0.1 (896ed3a8), default size classes: the EXTENTS model
		 * with no cache_bin_array_descriptor (arena_stats_merge walks
		 * tcache_ql itself, src/arena.c:303-319, and counts the large
		 * bins too), tcache_bin_t bins, arena_bin_t inline. Offsets
		 * from `ptype/o` on a build of the tag; verified: the tag built
		 * by scripts/verify-build (no Debian release ships 5.0). */
		.version = "5.0.1",
		.verified = true,
		.build_ids = {NULL},
		.model = HS_JE_MODEL_EXTENTS,
		/* rtree_t extents_rtree, src/extent.c:16 */
		.rtree_symbol = "je_extents_rtree",

		.lg_page = 12,
		.nsizes = 232,       /* NSIZES, size_classes.sh */
		.nbins = 36,         /* NBINS */
		.slab_maxregs = 512, /* SLAB_MAXREGS */
		.arena_limit = 4095, /* MALLOCX_ARENA_LIMIT, jemalloc_internal_types.h:32 */
		.min_size = 8,

		/* struct extent_s, extent_structs.h:20-150 (sizeof 128):
		 * e_bits at 0, e_addr 8, e_size_esn 16, e_slab_data 64.
		 * e_bits fields :71-104: arena 12 bits, slab 12, committed
		 * 13, zeroed 14, state 15 (2 bits), szind 17 (LG_CEIL_NSIZES
		 * 8), nfree 25 (LG_SLAB_MAXREGS + 1), then sn: no shard. */
		.edata = {
			.size = 128,
			.align = 64,
			.bits = 0,
			.addr = 8,
			.size_esn = 16,
			.slab_data = 64,
			.size_mask = ~UINT64_C(0xfff),
			.arena = {0, 12},
			.slab = {12, 1},
			.state = {15, 2},
			.szind = {17, 8},
			.nfree = {25, 10},
			.binshard = {35, 0},
		},

		/* struct rtree_s, rtree.h: init_lock then root[]. */
		.emap_root = 104,

		/* struct tsd_s, tsd.h:112-123: state first (:118), tcache at
		 * 440; tsd_state_nominal_max tsd.h:101. */
		.tsd = {
			.size = 6104,
			.state = 0,
			.tcache_slow = 0,
			.tcache = 440,
			.state_nominal_max = 1,
			.vars = {{440 + 16, 24, 0, 8}, {440 + 908, 1, 24, 8}},
		},

		/* struct tcache_s, tcache_structs.h:36-57: tbins_small[NBINS]
		 * at 16, link 880, arena 896, next_gc_bin 904, lg_fill_div
		 * [NBINS] 908, tbins_large 944. struct tcache_bin_s :21-34:
		 * low_water, ncached (at 4), tstats, avail (at 16; items
		 * avail[-ncached, -1]). tcache_large_bin_get indexes
		 * tbins_large by binind - NBINS
		 * (jemalloc_internal_inlines_a.h:116-119). */
		.tcache = {
			.bins = 16,
			.bins_large = 944,
			.arena = 896,
			.link_next = 880,
			.nlarge = 0,
			.counts_large = true,
			.bin_size = 24,
			.ncached = 4,
			.avail = 16,
			.ncached_max = 200,
			.vars = {{16, 24, 0, 8}, {908, 1, 0, 8}},
		},

		/* no cache_bin_array_descriptor_t in 5.0 (arena.desc_ql 0) */
		.desc = {0},

		/* struct arena_s, arena_structs_b.h:115-270: stats (at 16;
		 * lstats stats.h:158 at 720, malloc_large_stats_t 32 bytes),
		 * tcache_ql :171 at 7000, nactive :205 at 7152, arena_bin_t
		 * bins[NBINS] :261 at 16328 (264 bytes, stats.curregs 152,
		 * curslabs 192), base :268; base_s.ind at 0. */
		.arena = {
			.size = 25848,
			.base = 25832,
			.base_ind = 0,
			.lstats = 720,
			.lstats_size = 32,
			.lstats_nmalloc = 0,
			.lstats_ndalloc = 8,
			.tcache_ql = 7000,
			.desc_ql = 0,
			.nactive = 7152,
			.bins = 16328,
			.bins_by_pointer = false,
			.bin_size = 264,
			.bin_curregs = 152,
			.bin_curslabs = 192,
			.vars = {{720, 0, 32, 8}, {16328, 264, 0, 8}},
		},
	},
};

/* ---------------------------------------------------------------------
 * Version strings.
 * --------------------------------------------------------------------- */

static bool jv_number(const char **p, unsigned long max, unsigned long *ret)
{
	const char *s = *p;
	unsigned long v = 0;
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return false; /* no digit, or a leading zero ("5.3.01") */
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
		s++;
	}
	*p = s;
	*ret = v;
	return true;
}

bool hs_je_version_parse(const char *s, struct hs_je_version *ret)
{
	unsigned long part[3], commits = 0;
	if (!s)
		return false;
	for (int i = 0; i < 3; i++) {
		if (!jv_number(&s, 999, &part[i]) || (i < 2 && *s++ != '.'))
			return false;
	}
	if (*s == '-') {
		/* -N-g<hex> (git describe; Redis writes "-0-g0") */
		s++;
		if (!jv_number(&s, 1000000000, &commits) || s[0] != '-' || s[1] != 'g')
			return false;
		s += 2;
		if (!*s)
			return false;
		for (; *s; s++)
			if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
				return false;
	} else if (*s) {
		return false;
	}
	*ret = (struct hs_je_version){(unsigned)part[0], (unsigned)part[1],
				      (unsigned)part[2], commits};
	return true;
}

int hs_je_version_cmp(const struct hs_je_version *a, const struct hs_je_version *b)
{
	unsigned long x[4] = {a->major, a->minor, a->patch, a->commits};
	unsigned long y[4] = {b->major, b->minor, b->patch, b->commits};
	for (int i = 0; i < 4; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

const struct hs_je_layout *hs_je_layout_for_version(const char *version)
{
	struct hs_je_version v, r;
	if (!hs_je_version_parse(version, &v))
		return NULL;
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_je_rows); i++)
		if (hs_je_version_parse(hs_je_rows[i].version, &r) &&
		    hs_je_version_cmp(&v, &r) == 0)
			return &hs_je_rows[i];
	return NULL;
}

const struct hs_je_layout *hs_je_layout_rows(size_t *n)
{
	*n = HS_ARRAY_SIZE(hs_je_rows);
	return hs_je_rows;
}

void hs_je_layout_names(char *buf, size_t cap)
{
	size_t len = 0;
	if (!cap)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_je_rows) && len < cap; i++) {
		int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "",
				 hs_je_rows[i].version);
		if (n < 0)
			return;
		len += (size_t)n;
	}
}

/* ---------------------------------------------------------------------
 * Size classes and the offsets that depend on them.
 * --------------------------------------------------------------------- */

unsigned hs_je_size_classes(unsigned lg_quantum, unsigned lg_page, uint64_t *out,
			    unsigned cap, unsigned *nbins)
{
	/* sc.c size_classes() with lg_ptr_size 3, lg_tiny_min 3, lg_ngroup 2:
	 * tiny classes up to the quantum, a first group of quantum steps,
	 * then 4 classes per doubling up to 2^62 + 3 * 2^60. */
	const unsigned lg_tiny_min = 3, lg_ngroup = 2, ngroup = 4, ptr_bits = 64;
	unsigned n = 0, lg_base = lg_tiny_min, lg_delta = lg_base, ndelta = 0;
	unsigned small = 0;
	uint64_t small_limit = UINT64_C(1) << (lg_page + lg_ngroup);
	if (lg_quantum < lg_tiny_min || lg_quantum > 8 || lg_page > 20)
		return 0;
#define JE_EMIT(size)                                   \
	do {                                            \
		if (n >= cap)                           \
			return 0;                       \
		out[n++] = (size);                      \
		small += out[n - 1] < small_limit;      \
	} while (0)
	while (lg_base < lg_quantum) {
		JE_EMIT(UINT64_C(1) << lg_base);
		lg_delta = lg_base;
		lg_base++;
	}
	if (n) {
		lg_base--;
		ndelta = 1;
		JE_EMIT((UINT64_C(1) << lg_base) + ((uint64_t)ndelta << lg_delta));
		lg_base++;
		lg_delta++;
	}
	while (ndelta < ngroup) {
		JE_EMIT((UINT64_C(1) << lg_base) + ((uint64_t)ndelta << lg_delta));
		ndelta++;
	}
	lg_base += lg_ngroup;
	for (; lg_base < ptr_bits - 1; lg_base++, lg_delta++) {
		unsigned limit = lg_base == ptr_bits - 2 ? ngroup - 1 : ngroup;
		for (ndelta = 1; ndelta <= limit; ndelta++)
			JE_EMIT((UINT64_C(1) << lg_base) + ((uint64_t)ndelta << lg_delta));
	}
#undef JE_EMIT
	*nbins = small;
	return n;
}

static uint64_t jl_align(uint64_t v, uint64_t a)
{
	return a > 1 ? (v + a - 1) / a * a : v;
}

/* Move every field of one struct (the offsets in fields[]) by its vars. */
static void jl_shift(const struct hs_je_var *vars, unsigned nbins, unsigned nsizes,
		     uint32_t *const *fields, size_t nfields)
{
	/* Later runs first would double-move their own start; so walk the
	 * runs in order, each shifting what follows it, the later runs' own
	 * starts included. */
	uint32_t at[HS_JE_MAX_VARS];
	for (size_t v = 0; v < HS_JE_MAX_VARS; v++)
		at[v] = vars[v].at;
	for (size_t v = 0; v < HS_JE_MAX_VARS; v++) {
		const struct hs_je_var *x = &vars[v];
		if (!x->per_bin && !x->per_large)
			continue;
		uint64_t ref = (uint64_t)x->per_bin * HS_JE_REF_NBINS +
			       (uint64_t)x->per_large * (HS_JE_REF_NSIZES - HS_JE_REF_NBINS);
		uint64_t now = (uint64_t)x->per_bin * nbins +
			       (uint64_t)x->per_large * (nsizes - nbins);
		int64_t d = (int64_t)jl_align(at[v] + now, x->align) -
			    (int64_t)jl_align(at[v] + ref, x->align);
		uint32_t from = at[v];
		for (size_t f = 0; f < nfields; f++)
			if (*fields[f] > from)
				*fields[f] = (uint32_t)((int64_t)*fields[f] + d);
		for (size_t w = v + 1; w < HS_JE_MAX_VARS; w++)
			if (at[w] > from)
				at[w] = (uint32_t)((int64_t)at[w] + d);
	}
}

bool hs_je_layout_resolve(const struct hs_je_layout *row, unsigned lg_page,
			  unsigned nbins, unsigned nsizes, struct hs_je_layout *ret)
{
	if (nbins == 0 || nbins > HS_JE_MAX_NBINS || nsizes <= nbins ||
	    nsizes > HS_JE_MAX_NSIZES || lg_page < 12 || lg_page > 16)
		return false;
	struct hs_je_layout L = *row;
	L.lg_page = lg_page;
	L.nbins = nbins;
	L.nsizes = nsizes;
	/* SC_SLAB_MAXREGS: a page of the smallest class (sc.h). */
	L.slab_maxregs = (unsigned)(((uint64_t)1 << lg_page) / L.min_size);
	L.tcache.nbins_max = nbins + (L.tcache.nlarge ? L.tcache.nlarge : nsizes - nbins);
	if (L.tcache.nbins_max > nsizes)
		L.tcache.nbins_max = nsizes;
	uint32_t *tsd[] = {&L.tsd.size, &L.tsd.state, &L.tsd.tcache_slow, &L.tsd.tcache};
	uint32_t *tslow[] = {&L.tslow.link_next, &L.tslow.arena, &L.tslow.tcache};
	uint32_t *tcache[] = {&L.tcache.tcache_slow, &L.tcache.bins, &L.tcache.bins_large,
			      &L.tcache.arena, &L.tcache.link_next};
	uint32_t *arena[] = {&L.arena.size, &L.arena.ind, &L.arena.base, &L.arena.lstats,
			     &L.arena.tcache_ql, &L.arena.desc_ql, &L.arena.nactive,
			     &L.arena.bins};
	jl_shift(row->tsd.vars, nbins, nsizes, tsd, HS_ARRAY_SIZE(tsd));
	jl_shift(row->tslow.vars, nbins, nsizes, tslow, HS_ARRAY_SIZE(tslow));
	jl_shift(row->tcache.vars, nbins, nsizes, tcache, HS_ARRAY_SIZE(tcache));
	jl_shift(row->arena.vars, nbins, nsizes, arena, HS_ARRAY_SIZE(arena));
	if (L.tcache.nbins_max > HS_JE_MAX_TCACHE_BINS ||
	    L.slab_maxregs > 512 || L.edata.slab_data + L.slab_maxregs / 8 > L.edata.size)
		return false;
	*ret = L;
	return true;
}

const struct hs_je_layout *hs_je_layout_for_build_id(const uint8_t *id,
						     size_t len)
{
	char hex[2 * 64 + 1];
	if (len == 0 || len > 64)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		static const char digits[] = "0123456789abcdef";
		hex[2 * i] = digits[id[i] >> 4];
		hex[2 * i + 1] = digits[id[i] & 0xf];
	}
	hex[2 * len] = '\0';
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_je_rows); i++)
		for (size_t j = 0; hs_je_rows[i].build_ids[j]; j++)
			if (strcmp(hs_je_rows[i].build_ids[j], hex) == 0)
				return &hs_je_rows[i];
	return NULL;
}

const struct hs_je_layout *hs_je_layout_default(void)
{
	return hs_je_layout_for_version("5.3.0");
}
