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
