/* jemalloc4_layout.c: the versioned table of jemalloc 4.x struct layouts (x86_64). */
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"
#include "jemalloc4_layout.h"

/*
 * Rows are facts read off the source of the tags of jemalloc/jemalloc they
 * list (paths relative to include/jemalloc/internal/ unless they start with
 * src/; file:line of the first listed tag, the others' differ only by the
 * lines given), and checked with `ptype/o` on a build of every listed tag
 * (docs/versions.md, "jemalloc 4.x"). Releases whose structs are identical
 * share a row. Nothing here depends on the build's configuration: size
 * classes, bin geometry and chunk size come from the process (jemalloc4.c).
 *
 * Common to every row (the walker's constants, not a row's): the page map
 * encoding (arena.h:112-129 in 4.0.0, unchanged through 4.5.0), the
 * tcache_bin_info rule (src/tcache.c tcache_boot: 2 * nregs clamped to
 * [20, 200] for small bins, 20 for large ones), and tsd_state_nominal = 1.
 */
/* Structs that several release lines share, cited at their first. */

/* struct rtree_s rtree.h:81-91 and rtree_level_s :45-79 in 4.0.0 (4.2.0 on:
 * :82-92, :46-80), unchanged through 4.5.0. */
#define J4_RTREE { \
	.size = 104, .height = 16, .start_level = 20, .levels = 40, \
	.level_size = 16, .level_subtree = 0, .level_bits = 8, \
	.level_cumbits = 12, .height_max = 4, \
}
/* struct extent_node_s extent.h:11-57, 4.0.0 to 4.3.1. */
#define J4_NODE_40 { \
	.size = 104, .arena = 0, .addr = 8, .esize = 16, .achunk = 26, \
	.cc_next = 56, .ql_next = 72, .ad_left = 88, .ad_right = 96, \
}
/* struct arena_bin_info_s arena.h:233-257 in 4.1.0 (bitmap_info_t of 16
 * bytes), the same through 4.5.0 (:243-267). */
#define J4_BIN_INFO_41 { \
	.size = 64, .reg_size = 0, .redzone_size = 8, .reg_interval = 16, \
	.run_size = 24, .nregs = 32, .nbits = 40, .reg0_offset = 56, \
}
/* struct tcache_s tcache.h:83-95 (gc_ticker) and tcache_bin_s :68-81 in
 * 4.1.0, the same through 4.5.0. */
#define J4_TCACHE_41 { \
	.link_next = 0, .tbins = 40, .tbin_size = 32, .ncached = 16, .avail = 24, \
}
/* struct tsd_s tsd.h:560-566 (MALLOC_TSD :533-556) in 4.0.0 and 4.1.0. */
#define J4_TSD_40 { \
	.size = 80, .state = 0, .state_nominal = 1, .tcache = 8, .arena = 40, \
}
/* struct tsd_s tsd.h:596-602 (MALLOC_TSD :563) in 4.2.0, iarena before
 * arena: the same in 4.3.0 (:624-630) through 4.5.0 (:625-631). */
#define J4_TSD_42 { \
	.size = 104, .state = 0, .state_nominal = 1, .tcache = 8, .arena = 48, \
}

static const struct hs_je4_layout hs_je4_rows[] = {
	{
		/* 4.0.x (lines of 4.0.0; 4.0.1-4.0.4 the same but src/):
		 * extent.h:11-57, arena.h:40-405, stats.h:23-136,
		 * tcache.h:68-88, tsd.h:533-566 (MALLOC_TSD, struct tsd_s),
		 * rtree.h:37-91; rb.h:42-46 (the tree holds its nil node). */
		.name = "4.0.0-4.0.4",
		.versions = {"4.0.0", "4.0.1", "4.0.2", "4.0.3", "4.0.4", NULL},
		.verified = true,
		/* size_classes.sh:245 on a 64-bit build: the classes go on
		 * to 2^63 + 2^62 + 2^61 (NSIZES 236 with LG_QUANTUM 4). */
		.huge_maxclass = UINT64_C(0xe000000000000000),
		/* tcache.h:261,380 (4.0.3): avail[ncached] */
		.avail_down = false,
		.rb_nil_embedded = true,
		.node = J4_NODE_40,
		/* struct arena_chunk_s arena.h:171-186, arena_chunk_map_misc_s
		 * :141-164 (rb_link, then the union holding arena_run_s :40-49:
		 * binind, nfree, bitmap[BITMAP_GROUPS_MAX = 9]) */
		.chunk = {
			.map_bits = 104, .bits_size = 8, .misc_size = 96,
			.misc_run = 16, .run_binind = 0, .run_nfree = 4,
			.run_bitmap = 8,
		},
		/* struct arena_bin_info_s, arena.h:221-245 (bitmap_info_t is
		 * 48 bytes with its levels, bitmap.h) */
		.bin_info = {
			.size = 96, .reg_size = 0, .redzone_size = 8,
			.reg_interval = 16, .run_size = 24, .nregs = 32,
			.nbits = 40, .reg0_offset = 88,
		},
		/* struct arena_s arena.h:275-405 (stats :294 at 48, arena_stats_s
		 * stats.h:101-136; tcache_ql :300, spare :322, nactive :331,
		 * chunks_cache :376, huge :379, chunks_ad_retained :393, bins
		 * :404), arena_bin_s :247-273 (224 bytes, stats :272 at 152:
		 * curregs stats.h:44, curruns :62), malloc_large_stats_s
		 * stats.h:65-87, malloc_huge_stats_s :89-99 */
		.arena = {
			.ind = 0,
			.stats_mapped = 48, .stats_retained = 0,
			.stats_allocated_large = 96, .stats_allocated_huge = 128,
			.stats_lstats = 152, .stats_hstats = 160,
			.tcache_ql = 168, .spare = 200, .nactive = 224,
			.chunks_cache = 360, .huge = 464,
			.chunks_ad_retained = 848, .bins = 1104,
			.bin_size = 224, .bin_curregs = 176, .bin_curruns = 216,
			.lstats_size = 32, .lstats_curruns = 24,
			.hstats_size = 24, .hstats_curhchunks = 16,
		},
		/* struct tcache_s tcache.h:76-88, tcache_bin_s :68-74 */
		.tcache = {
			.link_next = 0, .tbins = 32, .tbin_size = 32,
			.ncached = 16, .avail = 24,
		},
		/* struct tsd_s tsd.h:560-566 from MALLOC_TSD :533-556 */
		.tsd = J4_TSD_40,
		.rtree = J4_RTREE,
	},
	{
		/* 4.1.x (lines of 4.1.0): arena.h:53-464 (decay state in
		 * arena_t, runs_avail per page-size class after bins), bitmap.h
		 * (flat 8-group bitmap, 16-byte bitmap_info_t), tcache.h:68-95
		 * (gc_ticker; avail now points past the stack, :74-80, :272),
		 * rb.h:42-45 (no nil node); the rest as 4.0. */
		.name = "4.1.0-4.1.1",
		.versions = {"4.1.0", "4.1.1", NULL},
		.verified = true,
		/* size_classes.sh:245: 2^62 + 3 * 2^60 (index2size_tab ends
		 * with a 0 sentinel, src/jemalloc.c:90-96) */
		.huge_maxclass = UINT64_C(0x7000000000000000),
		.avail_down = true,
		.rb_nil_embedded = false,
		.node = J4_NODE_40,
		/* arena.h:154-177 (misc), :53-62 (run, bitmap[8]), :183-198 */
		.chunk = {
			.map_bits = 104, .bits_size = 8, .misc_size = 88,
			.misc_run = 16, .run_binind = 0, .run_nfree = 4,
			.run_bitmap = 8,
		},
		.bin_info = J4_BIN_INFO_41,
		/* arena.h:287-464, arena_bin_s :259-285 (128 bytes, stats at
		 * 56) */
		.arena = {
			.ind = 0,
			.stats_mapped = 48, .stats_retained = 0,
			.stats_allocated_large = 96, .stats_allocated_huge = 128,
			.stats_lstats = 152, .stats_hstats = 160,
			.tcache_ql = 168, .spare = 200, .nactive = 224,
			.chunks_cache = 256, .huge = 2016,
			.chunks_ad_retained = 2088, .bins = 2240,
			.bin_size = 128, .bin_curregs = 80, .bin_curruns = 120,
			.lstats_size = 32, .lstats_curruns = 24,
			.hstats_size = 24, .hstats_curhchunks = 16,
		},
		.tcache = J4_TCACHE_41,
		/* tsd.h:560-566 */
		.tsd = J4_TSD_40,
		.rtree = J4_RTREE,
	},
	{
		/* 4.2.x (lines of 4.2.0): mutex.h (malloc_mutex_t grows a
		 * witness: 80 bytes), arena.h:155-178 (misc: pairing-heap link of
		 * 24 bytes), :260-286 (bin, 168 bytes), :288-477 (nthreads[2],
		 * achunks), stats.h:101-144 (retained), tsd.h:596-602 from
		 * MALLOC_TSD :563 (iarena, witnesses), rtree.h:82-92. */
		.name = "4.2.0-4.2.1",
		.versions = {"4.2.0", "4.2.1", NULL},
		.verified = true,
		.huge_maxclass = UINT64_C(0x7000000000000000),
		.avail_down = true,
		.rb_nil_embedded = false,
		.node = J4_NODE_40,
		.chunk = {
			.map_bits = 104, .bits_size = 8, .misc_size = 96,
			.misc_run = 24, .run_binind = 0, .run_nfree = 4,
			.run_bitmap = 8,
		},
		.bin_info = J4_BIN_INFO_41,
		.arena = {
			.ind = 0,
			.stats_mapped = 96, .stats_retained = 104,
			.stats_allocated_large = 152, .stats_allocated_huge = 184,
			.stats_lstats = 208, .stats_hstats = 216,
			.tcache_ql = 224, .spare = 264, .nactive = 288,
			.chunks_cache = 320, .huge = 2080,
			.chunks_ad_retained = 2192, .bins = 2424,
			.bin_size = 168, .bin_curregs = 120, .bin_curruns = 160,
			.lstats_size = 32, .lstats_curruns = 24,
			.hstats_size = 24, .hstats_curhchunks = 16,
		},
		.tcache = J4_TCACHE_41,
		.tsd = J4_TSD_42,
		.rtree = J4_RTREE,
	},
	{
		/* 4.3.x (lines of 4.3.0): arena.h:332-479 (the decay state
		 * becomes one arena_decay_t, 8 bytes shorter), arena_bin_s
		 * :304-330, tsd.h:624-630 from MALLOC_TSD :591; the rest as
		 * 4.2. */
		.name = "4.3.0-4.3.1",
		.versions = {"4.3.0", "4.3.1", NULL},
		.verified = true,
		/* size_classes.sh:277; index2size_tab has no sentinel any
		 * more (src/jemalloc.c:106-111) */
		.huge_maxclass = UINT64_C(0x7000000000000000),
		.avail_down = true,
		.rb_nil_embedded = false,
		.node = J4_NODE_40,
		.chunk = {
			.map_bits = 104, .bits_size = 8, .misc_size = 96,
			.misc_run = 24, .run_binind = 0, .run_nfree = 4,
			.run_bitmap = 8,
		},
		.bin_info = J4_BIN_INFO_41,
		.arena = {
			.ind = 0,
			.stats_mapped = 96, .stats_retained = 104,
			.stats_allocated_large = 152, .stats_allocated_huge = 184,
			.stats_lstats = 208, .stats_hstats = 216,
			.tcache_ql = 224, .spare = 264, .nactive = 288,
			.chunks_cache = 320, .huge = 2072,
			.chunks_ad_retained = 2184, .bins = 2416,
			.bin_size = 168, .bin_curregs = 120, .bin_curruns = 160,
			.lstats_size = 32, .lstats_curruns = 24,
			.hstats_size = 24, .hstats_curhchunks = 16,
		},
		.tcache = J4_TCACHE_41,
		.tsd = J4_TSD_42,
		.rtree = J4_RTREE,
	},
	{
		/* 4.4.0 and 4.5.0: extent.h:11-71 (en_sn, 112 bytes),
		 * arena.h:185-208 (arena_chunk_s gains hugepage), :243-267
		 * (bin info), :312-338 (bin), :340-489 (extent_sn_next),
		 * tsd.h:624-630 (4.5.0: :625-631) as 4.3. */
		.name = "4.4.0-4.5.0",
		.versions = {"4.4.0", "4.5.0", NULL},
		.verified = true,
		.huge_maxclass = UINT64_C(0x7000000000000000),
		.avail_down = true,
		.rb_nil_embedded = false,
		.node = {
			.size = 112, .arena = 0, .addr = 8, .esize = 16,
			.achunk = 34, .cc_next = 64, .ql_next = 80,
			.ad_left = 96, .ad_right = 104,
		},
		.chunk = {
			.map_bits = 120, .bits_size = 8, .misc_size = 96,
			.misc_run = 24, .run_binind = 0, .run_nfree = 4,
			.run_bitmap = 8,
		},
		.bin_info = J4_BIN_INFO_41,
		.arena = {
			.ind = 0,
			.stats_mapped = 96, .stats_retained = 104,
			.stats_allocated_large = 152, .stats_allocated_huge = 184,
			.stats_lstats = 208, .stats_hstats = 216,
			.tcache_ql = 224, .spare = 272, .nactive = 296,
			.chunks_cache = 328, .huge = 2088,
			.chunks_ad_retained = 2200, .bins = 2432,
			.bin_size = 168, .bin_curregs = 120, .bin_curruns = 160,
			.lstats_size = 32, .lstats_curruns = 24,
			.hstats_size = 24, .hstats_curhchunks = 16,
		},
		.tcache = J4_TCACHE_41,
		.tsd = J4_TSD_42,
		.rtree = J4_RTREE,
	},
};

const struct hs_je4_layout *hs_je4_layouts(size_t *count)
{
	*count = HS_ARRAY_SIZE(hs_je4_rows);
	return hs_je4_rows;
}

/* A decimal number of at most 4 digits at *p; advances *p. */
static bool je4_number(const char **p, unsigned *ret)
{
	unsigned v = 0, n = 0;
	while (**p >= '0' && **p <= '9' && n < 4) {
		v = v * 10 + (unsigned)(**p - '0');
		(*p)++;
		n++;
	}
	*ret = v;
	return n > 0 && !(**p >= '0' && **p <= '9');
}

bool hs_je4_parse_version(const char *version, unsigned *release,
			  unsigned *commits)
{
	if (!version)
		return false;
	const char *p = version;
	unsigned x, y, z, n = 0;
	if (!je4_number(&p, &x) || *p++ != '.' || !je4_number(&p, &y) ||
	    *p++ != '.' || !je4_number(&p, &z) || y > 99 || z > 99)
		return false;
	if (*p == '-' && p[1] >= '0' && p[1] <= '9') {
		p++;
		if (!je4_number(&p, &n))
			return false;
	}
	*release = x * 10000 + y * 100 + z;
	*commits = n;
	return true;
}

unsigned hs_je4_layout_release(const struct hs_je4_layout *L)
{
	unsigned r = 0, n;
	hs_je4_parse_version(L->versions[0], &r, &n);
	return r;
}

const struct hs_je4_layout *hs_je4_layout_for_version(const char *version)
{
	unsigned want, commits;
	if (!hs_je4_parse_version(version, &want, &commits) || commits)
		return NULL;
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_je4_rows); i++)
		for (size_t j = 0; hs_je4_rows[i].versions[j]; j++) {
			unsigned r, n;
			if (hs_je4_parse_version(hs_je4_rows[i].versions[j], &r, &n) &&
			    r == want)
				return &hs_je4_rows[i];
		}
	return NULL;
}
