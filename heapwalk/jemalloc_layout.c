/* jemalloc_layout.c: the versioned table of jemalloc struct layouts (x86_64). */
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
static const struct hs_je_layout hs_je_rows[] = {
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
		/* LG_VADDR is a configure result (configure.ac, "lg-vaddr"):
		 * 48 on most x86_64 hosts, 57 when built on an LA57 host. */
		.lg_vaddrs = {48, 57},
		.min_size = 8,       /* 1 << SC_LG_TINY_MIN, sc.h:172 */

		/* struct edata_s, edata.h:92-250 (sizeof 128, EDATA_ALIGNMENT
		 * 128 at edata.h:20): e_bits :142, e_addr :190, e_size_esn
		 * :200 (EDATA_SIZE_MASK :201), e_slab_data :246 (union at 64).
		 * e_bits fields edata.h:145-187 with MALLOCX_ARENA_BITS 12,
		 * LG_CEIL(SC_NSIZES) 8, SC_LG_SLAB_MAXREGS 9. */
		.edata = {
			.size = 128,
			.align = 128,
			.bits = 0,
			.addr = 8,
			.size_esn = 16,
			.slab_data = 64,
			.size_mask = ~UINT64_C(0xfff),
			.arena = {0, 12},
			.slab = {12, 1},
			.state = {17, 3},
			.szind = {20, 8},
			.nfree = {28, 10},
			.binshard = {38, 6},
		},

		/* emap_t { rtree_t rtree; } emap.h:17; rtree_t { base_t *base;
		 * malloc_mutex_t init_lock; root[] } rtree.h:98-108. */
		.emap_root = 0x78,

		/* struct tsd_s, tsd.h:240-262 with the TSD_DATA_* lists
		 * tsd.h:58-130: state :255, tcache_slow (O() at :88), tcache
		 * (O() at :130); tsd_state_nominal_max tsd.h:200. */
		.tsd = {
			.size = 2632,
			.state = 0x330,
			.tcache_slow = 0x100,
			.tcache = 0x358,
			.state_nominal_max = 2,
		},

		/* struct tcache_slow_s, tcache_structs.h:20-53: link :22,
		 * arena :32, tcache :52. */
		.tslow = {
			.link_next = 0,
			.arena = 40,
			.tcache = 168,
		},

		/* struct tcache_s, tcache_structs.h:55-58 (TCACHE_NBINS_MAX
		 * tcache_types.h:32 = 73); struct cache_bin_s, cache_bin.h:82-124:
		 * stack_head :88, low_bits_full :115, low_bits_empty :124. */
		.tcache = {
			.tcache_slow = 0,
			.bins = 8,
			.nbins_max = 73,
			/* arena_stats_merge, src/arena.c:152-166 */
			.nbins_counted = 73,
			.bin_size = 24,
			.stack_head = 0,
			.low_bits_full = 18,
			.low_bits_empty = 20,
		},

		/* struct cache_bin_array_descriptor_s, cache_bin.h:134-142. */
		.desc = {
			.link_next = 0,
			.bins = 16,
		},

		/* struct arena_s, arena_structs.h:20-99: stats :47 (at 0x18;
		 * lstats arena_stats.h:81, arena_stats_large_s
		 * arena_stats.h:14-20), tcache_ql :56, descriptor ql :57,
		 * pa_shard :77 (nactive pa.h:77), ind :83, bins[] :98; struct
		 * bin_s bin.h:15-40 with stats :23 (curregs bin_stats.h:28,
		 * curslabs :46). */
		.arena = {
			.size = 78952,
			.ind = 78928,
			.lstats = 0x3d0,
			.lstats_size = 48,
			.lstats_nmalloc = 0,
			.lstats_ndalloc = 8,
			.tcache_ql = 0x2898,
			.desc_ql = 0x28a0,
			.nactive = 0x29a0,
			.bins = 78952,
			.bin_size = 224,
			.bin_curregs = 112 + 24,
			.bin_curslabs = 112 + 64,
		},
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
		/* LG_VADDR 57 would make the leaves non-compact (rtree.h:34);
		 * no such build was seen. */
		.lg_vaddrs = {48, 0},
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
			.nbins_max = 232,
			.nbins_counted = 36,
			.bin_size = 24,
			.ncached = 4,
			.avail = 16,
			.ncached_max = 200,
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
			.bin_size = 280,
			.bin_curregs = 136 + 24,
			.bin_curslabs = 136 + 64,
		},
	},
};

const struct hs_je_layout *hs_je_layout_for_version(const char *version)
{
	if (!version)
		return NULL;
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_je_rows); i++) {
		size_t n = strlen(hs_je_rows[i].version);
		if (strncmp(version, hs_je_rows[i].version, n) == 0 &&
		    (version[n] == '\0' || version[n] == '-'))
			return &hs_je_rows[i];
	}
	return NULL;
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
	return &hs_je_rows[0];
}
