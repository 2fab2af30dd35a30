/* jemalloc_layout.h: jemalloc struct layouts, one table row per release (private to heapwalk/). */
#ifndef HS_JEMALLOC_LAYOUT_H
#define HS_JEMALLOC_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds over every row, for fixed arrays in the walker. */
#define HS_JE_MAX_NSIZES 256
#define HS_JE_MAX_NBINS 64
#define HS_JE_MAX_TCACHE_BINS 256
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
 * How a release indexes its extents and caches: where the walk is a different
 * algorithm, not just other offsets. The walker picks its code path by this
 * (jemalloc.c: the "emap" and "extents" sections), never by version.
 *   EMAP (5.3): the rtree in arena_emap_global (an emap_t) maps pages to
 *     edata_t and mirrors the extent state in its leaves; a cache_bin_t is a
 *     stack (stack_head, low_bits_empty) and one array holds every bin; each
 *     tcache_t pairs with a tcache_slow_t, which is what the arena's
 *     tcache_ql links; arena_t holds its bins inline and its own index.
 *   EXTENTS (5.2): the rtree je_extents_rtree (an rtree_t) maps pages to
 *     extent_t, its leaves say nothing of state; a cache_bin_t is
 *     {ncached, avail} with items at avail[-ncached, -1] and the tcache has
 *     a small and a large bin array; tcache_ql links the tcache_t
 *     themselves; arena_t points at its bins (bins_t.bin_shards) and keeps
 *     its index in its base_t.
 */
enum hs_je_model {
	HS_JE_MODEL_EMAP = 0,
	HS_JE_MODEL_EXTENTS = 1,
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
	enum hs_je_model model;
	/* The symbol of the global that holds the rtree (static builds and
	 * debug info): "je_arena_emap_global" or "je_extents_rtree". */
	const char *rtree_symbol;

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

	/* The rtree's root array inside the global that holds it (emap_t in
	 * the EMAP model, the rtree_t itself in the EXTENTS model). */
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
		uint32_t tcache_slow;    /* EMAP */
		uint32_t bins;           /* bins (EMAP), bins_small (EXTENTS) */
		uint32_t bins_large;     /* EXTENTS: bins_large[], from class nbins */
		uint32_t arena;          /* EXTENTS: arena_t *arena */
		uint32_t link_next;      /* EXTENTS: ql_elm link on tcache_ql */
		unsigned nbins_max;      /* bins a tcache can have (all arrays) */
		/* Bins that jemalloc's tcache_bytes counter reads. */
		unsigned nbins_counted;
		uint32_t bin_size;
		uint32_t stack_head, low_bits_full, low_bits_empty; /* EMAP */
		uint32_t ncached, avail; /* EXTENTS: int32 ncached, void **avail */
		unsigned ncached_max;    /* EXTENTS: bound on ncached */
	} tcache;

	/* cache_bin_array_descriptor_t */
	struct {
		uint32_t link_next, bins;
		uint32_t bins_large;     /* EXTENTS */
	} desc;

	/* arena_t */
	struct {
		uint32_t size;           /* sizeof(arena_t): bins[] start here */
		uint32_t ind;            /* EMAP: arena_t.ind */
		uint32_t base;           /* EXTENTS: base_t *base ... */
		uint32_t base_ind;       /* ... whose ind is the arena's */
		uint32_t lstats;         /* stats.lstats[nsizes - nbins] */
		uint32_t lstats_size, lstats_nmalloc, lstats_ndalloc;
		uint32_t tcache_ql;      /* ql_head(tcache_slow_t) */
		uint32_t desc_ql;        /* ql_head(cache_bin_array_descriptor_t) */
		uint32_t nactive;        /* pa_shard.nactive (pages) */
		uint32_t bins;           /* EMAP: bin_t bins[] inline (one shard
					  * per bin); EXTENTS: bins_t bins[], each
					  * a bin_t *bin_shards */
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
