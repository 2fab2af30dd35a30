/* jemalloc_layout.h: jemalloc struct layouts, one table row per release (private to heapwalk/). */
#ifndef HS_JEMALLOC_LAYOUT_H
#define HS_JEMALLOC_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds over every row, for fixed arrays in the walker. */
#define HS_JE_MAX_NSIZES 256
#define HS_JE_MAX_NBINS 64
#define HS_JE_MAX_TCACHE_BINS 128
#define HS_JE_MAX_LG_VADDRS 2

/* A bit field of a 64-bit word: (word >> shift) & ((1 << width) - 1). */
struct hs_je_bits {
	uint8_t shift, width;
};

static inline uint64_t hs_je_field(uint64_t word, struct hs_je_bits f)
{
	return (word >> f.shift) & ((UINT64_C(1) << f.width) - 1);
}

/* extent_state_t values (identical in every supported release). */
enum hs_je_extent_state {
	HS_JE_EXTENT_ACTIVE = 0,
	HS_JE_EXTENT_DIRTY = 1,
	HS_JE_EXTENT_MUZZY = 2,
	HS_JE_EXTENT_RETAINED = 3,
};

/*
 * One jemalloc release on x86_64 (LP64), for one build configuration of its
 * size classes. Offsets are bytes from the start of the struct. Each row
 * cites the tag and file:line every struct was read from.
 */
struct hs_je_layout {
	const char *version;       /* "5.3.0": JEMALLOC_VERSION up to the first '-' */
	bool verified;             /* checked against real cores, not only read off the source */
	/* Build-ids of known builds of this row (lowercase hex), for when the
	 * version string cannot be read. NULL-terminated. */
	const char *build_ids[4];

	/* Size classes and constants. */
	unsigned lg_page;          /* LG_PAGE */
	unsigned nsizes;           /* SC_NSIZES: entries of sz_index2size_tab */
	unsigned nbins;            /* SC_NBINS: small size classes (slabs) */
	unsigned slab_maxregs;     /* SC_SLAB_MAXREGS: bitmap bits of a slab */
	unsigned arena_limit;      /* MALLOCX_ARENA_LIMIT: entries of arenas[] */
	unsigned lg_vaddrs[HS_JE_MAX_LG_VADDRS]; /* LG_VADDR values to try, 0 = none */
	uint64_t min_size;         /* sz_index2size_tab[0] */

	/* edata_t */
	struct {
		uint32_t size, align;
		uint32_t bits, addr, size_esn, slab_data;
		uint64_t size_mask;       /* EDATA_SIZE_MASK */
		struct hs_je_bits arena, slab, state, szind, nfree, binshard;
	} edata;

	/* emap_t / rtree_t: the root array inside je_arena_emap_global. */
	uint32_t emap_root;

	/* tsd_t: the thread's jemalloc state, at fs_base + tpoff(je_tsd_tls). */
	struct {
		uint32_t size;
		uint32_t state;          /* u8 tsd_state_t */
		uint32_t tcache_slow;    /* embedded tcache_slow_t */
		uint32_t tcache;         /* embedded tcache_t */
		unsigned state_nominal_max;
	} tsd;

	/* tcache_slow_t */
	struct {
		uint32_t link_next;      /* ql_elm qre_next: ring of the arena's tcaches */
		uint32_t arena;
		uint32_t tcache;
	} tslow;

	/* tcache_t and cache_bin_t */
	struct {
		uint32_t tcache_slow;
		uint32_t bins;
		unsigned nbins_max;      /* TCACHE_NBINS_MAX */
		uint32_t bin_size;
		uint32_t stack_head, low_bits_full, low_bits_empty;
	} tcache;

	/* cache_bin_array_descriptor_t */
	struct {
		uint32_t link_next, bins;
	} desc;

	/* arena_t */
	struct {
		uint32_t size;           /* sizeof(arena_t): bins[] start here */
		uint32_t ind;
		uint32_t lstats;         /* stats.lstats[nsizes - nbins] */
		uint32_t lstats_size, lstats_nmalloc, lstats_ndalloc;
		uint32_t tcache_ql;      /* ql_head(tcache_slow_t) */
		uint32_t desc_ql;        /* ql_head(cache_bin_array_descriptor_t) */
		uint32_t nactive;        /* pa_shard.nactive (pages) */
		uint32_t bins;           /* bin_t bins[] (one shard per bin) */
		uint32_t bin_size, bin_curregs, bin_curslabs;
	} arena;
};

/* The row for a version string ("5.3.0-0-g54ea..." or "5.3.0"), or NULL. */
const struct hs_je_layout *hs_je_layout_for_version(const char *version);
/* The row that lists this build-id (raw bytes), or NULL. */
const struct hs_je_layout *hs_je_layout_for_build_id(const uint8_t *id,
						     size_t len);
/* The newest row: the guess when a build says nothing about its version. */
const struct hs_je_layout *hs_je_layout_default(void);

#endif
