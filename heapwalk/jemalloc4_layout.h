/* jemalloc4_layout.h: jemalloc 4.x struct layouts, one table row per release line (private to heapwalk/). */
#ifndef HS_JEMALLOC4_LAYOUT_H
#define HS_JEMALLOC4_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * jemalloc 4 is not jemalloc 5 with other offsets: it carves chunks (2 MiB by
 * default) into page runs described by a page map in each chunk's header,
 * keeps small regions in runs with a bitmap, serves sizes above the chunk
 * from "huge" chunk-aligned extents, and indexes chunks, not pages, in a
 * radix tree. The walker (jemalloc4.c) takes its configuration (size
 * classes, bin geometry, chunk and page size) from the process; a row holds
 * what only the source says: struct layouts of one release line on x86_64.
 */

/* Upper bounds over every row and configuration, for fixed arrays. */
#define HS_JE4_MAX_NSIZES 256
#define HS_JE4_MAX_NBINS 64
#define HS_JE4_MAX_VERSIONS 8

struct hs_je4_layout {
	/* The row's name ("4.0.0-4.0.4") and every release X.Y.Z it was read
	 * for and covers exactly, NULL-terminated. */
	const char *name;
	const char *versions[HS_JE4_MAX_VERSIONS];
	/* Checked against real builds of every listed release, not only read
	 * off the source. */
	bool verified;

	/* HUGE_MAXCLASS: the last entry of index2size_tab (size_classes.sh). */
	uint64_t huge_maxclass;
	/* tcache_bin_t.avail: the cached items are avail[-ncached, -1] (4.1 on)
	 * rather than avail[0, ncached). */
	bool avail_down;
	/* extent_tree_t embeds its nil sentinel node (rb.h before 4.1), so a
	 * tree's leaves point at the tree itself, not at NULL. */
	bool rb_nil_embedded;

	/* extent_node_t: an arena chunk's header or a huge extent's node. */
	struct {
		uint32_t size;
		uint32_t arena, addr, esize;
		uint32_t achunk;        /* bool en_achunk: an arena chunk */
		uint32_t cc_next;       /* cc_link.qre_next: the chunks_cache ring */
		uint32_t ql_next;       /* ql_link.qre_next: the arena's huge list */
		uint32_t ad_left, ad_right; /* ad_link: the address-ordered trees */
	} node;

	/* arena_chunk_t's page map and arena_chunk_map_misc_t. */
	struct {
		uint32_t map_bits;      /* offsetof(arena_chunk_t, map_bits) */
		uint32_t bits_size;     /* sizeof(arena_chunk_map_bits_t) */
		uint32_t misc_size;     /* sizeof(arena_chunk_map_misc_t) */
		uint32_t misc_run;      /* arena_run_t inside the misc element */
		uint32_t run_binind, run_nfree, run_bitmap; /* in arena_run_t */
	} chunk;

	/* arena_bin_info_t, the read-only geometry of each small size class. */
	struct {
		uint32_t size;
		uint32_t reg_size, redzone_size, reg_interval, run_size, nregs;
		uint32_t nbits;         /* bitmap_info.nbits */
		uint32_t reg0_offset;
	} bin_info;

	/* arena_t and what hangs off it. */
	struct {
		uint32_t ind;
		uint32_t stats_mapped;
		uint32_t stats_retained;   /* 0: the release keeps no such counter */
		uint32_t stats_allocated_large, stats_allocated_huge;
		uint32_t stats_lstats, stats_hstats; /* pointers to per-class arrays */
		uint32_t tcache_ql;
		uint32_t spare;
		uint32_t nactive;
		uint32_t chunks_cache;     /* the extent_node_t heading the ring */
		uint32_t huge;             /* ql_head(extent_node_t) */
		uint32_t chunks_ad_retained; /* extent_tree_t */
		uint32_t bins;
		uint32_t bin_size;
		uint32_t bin_curregs, bin_curruns; /* bin.stats.*, from the bin */
		uint32_t lstats_size, lstats_curruns;
		uint32_t hstats_size, hstats_curhchunks;
	} arena;

	/* tcache_t and tcache_bin_t. */
	struct {
		uint32_t link_next;     /* ql_elm link: the arena's tcache_ql */
		uint32_t tbins;
		uint32_t tbin_size;
		uint32_t ncached, avail;
	} tcache;

	/* tsd_t, the thread's jemalloc state (__thread je_tsd_tls). */
	struct {
		uint32_t size;
		uint32_t state;         /* tsd_state_t, an int */
		unsigned state_nominal;
		uint32_t tcache;
		uint32_t arena;
	} tsd;

	/* rtree_t (chunks_rtree) and its rtree_level_t. */
	struct {
		uint32_t size;
		uint32_t height, start_level, levels;
		uint32_t level_size, level_subtree, level_bits, level_cumbits;
		unsigned height_max;    /* RTREE_HEIGHT_MAX */
	} rtree;
};

/* Every row, oldest release first. */
const struct hs_je4_layout *hs_je4_layouts(size_t *count);

/*
 * A version string as jemalloc writes it ("4.0.3-0-ge9192eac...", "4.2.1",
 * "4.5.0-12-g0123abc" for a git build after 4.5.0), parsed: its release
 * (X.Y.Z) as one number X*10000 + Y*100 + Z and the commits after the tag
 * (0 if none given). False if it is not such a string.
 */
bool hs_je4_parse_version(const char *version, unsigned *release,
			  unsigned *commits);
/* The row that lists exactly this release, or NULL. A git build after a
 * release is not that release: its layout may have moved. */
const struct hs_je4_layout *hs_je4_layout_for_version(const char *version);
/* The release number of a row (its first listed version). */
unsigned hs_je4_layout_release(const struct hs_je4_layout *L);

#endif
