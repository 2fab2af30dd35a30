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
 * A run of bytes inside a struct whose length depends on the build's size
 * classes: per_bin bytes per small size class (SC_NBINS) plus per_large per
 * large class (SC_NSIZES - SC_NBINS), starting at offset `at` of the
 * reference layout. Every field of the struct after it moves by the change
 * in the run's length, rounded up to `align` (the alignment of what follows).
 * Unused entries have per_bin == per_large == 0.
 */
struct hs_je_var {
	uint32_t at;
	uint16_t per_bin, per_large;
	uint16_t align;
};
#define HS_JE_MAX_VARS 2

/*
 * One jemalloc release on x86_64 (LP64). Offsets are bytes from the start of
 * the struct, read off the source (and checked with `ptype/o`) for the
 * reference configuration: the default size classes, LG_QUANTUM 4, LG_PAGE
 * 12, so SC_NBINS 36 and SC_NSIZES 232 (ref_nbins, ref_nsizes). A build's
 * own size classes are read from the process (hs_je_config_read, from
 * sz_index2size_tab), and hs_je_layout_resolve moves the offsets that come
 * after arrays sized by them (the `vars` of each struct). Each row cites the
 * tag and file:line every struct was read from.
 */
struct hs_je_layout {
	/* "5.3.0": a release; or a git build's describe string
	 * ("5.3.0-100-g314c073a"), matched by tag and commit count */
	const char *version;
	bool verified;             /* checked against real cores, not only read off the source */
	/* Build-ids of known builds of this row (lowercase hex), for when the
	 * version string cannot be read. NULL-terminated. */
	const char *build_ids[4];
	enum hs_je_model model;
	/* The symbol of the global that holds the rtree (static builds and
	 * debug info): "je_arena_emap_global" or "je_extents_rtree". */
	const char *rtree_symbol;

	/* Size classes and constants. In a row these are the reference
	 * configuration's; in a resolved layout, the build's. */
	unsigned lg_page;          /* LG_PAGE */
	unsigned nsizes;           /* SC_NSIZES: entries of sz_index2size_tab */
	unsigned nbins;            /* SC_NBINS: small size classes (slabs) */
	unsigned slab_maxregs;     /* SC_SLAB_MAXREGS: bitmap bits of a slab */
	unsigned arena_limit;      /* MALLOCX_ARENA_LIMIT: entries of arenas[] */
	uint64_t min_size;         /* sz_index2size_tab[0] */

	/* A large allocation's usable size is its extent's size less the
	 * cache-oblivious pad, a page multiple, not its size class (5.3.1's
	 * opt_disable_large_size_classes, on by default: edata.h:305-350). */
	bool large_usize_from_size;

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
		struct hs_je_var vars[HS_JE_MAX_VARS];
	} tsd;

	/* tcache_slow_t */
	struct {
		uint32_t link_next;      /* ql_elm qre_next: ring of the arena's tcaches */
		uint32_t arena;
		uint32_t tcache;
		struct hs_je_var vars[HS_JE_MAX_VARS];
	} tslow;

	/* tcache_t and cache_bin_t */
	struct {
		uint32_t tcache_slow;    /* EMAP */
		uint32_t bins;           /* bins (EMAP), bins_small (EXTENTS) */
		uint32_t bins_large;     /* EXTENTS: bins_large[], from class nbins */
		uint32_t arena;          /* EXTENTS: arena_t *arena */
		uint32_t link_next;      /* EXTENTS: ql_elm link on tcache_ql */
		/* Bins a tcache can have: nbins + nlarge, where nlarge is the
		 * number of large classes a tcache can cache (TCACHE_NBINS_MAX
		 * - SC_NBINS), or every large class if 0. Resolved: the total. */
		unsigned nlarge;
		unsigned nbins_max;
		/* Whether jemalloc's tcache_bytes counter reads the large bins
		 * too (it reads the small ones always). */
		bool counts_large;
		uint32_t bin_size;
		uint32_t stack_head, low_bits_full, low_bits_empty; /* EMAP */
		uint32_t ncached, avail; /* EXTENTS: int32 ncached, void **avail */
		unsigned ncached_max;    /* EXTENTS: bound on ncached */
		struct hs_je_var vars[HS_JE_MAX_VARS];
	} tcache;

	/* cache_bin_array_descriptor_t; no descriptor list at all if
	 * arena.desc_ql is 0 (5.0) */
	struct {
		uint32_t link_next, bins;
		uint32_t bins_large;     /* EXTENTS */
	} desc;

	/* arena_t */
	struct {
		uint32_t size;           /* sizeof(arena_t) (EMAP: bins[] start there) */
		uint32_t ind;            /* EMAP: arena_t.ind */
		uint32_t base;           /* EXTENTS: base_t *base ... */
		uint32_t base_ind;       /* ... whose ind is the arena's */
		uint32_t lstats;         /* stats.lstats[nsizes - nbins] */
		uint32_t lstats_size, lstats_nmalloc, lstats_ndalloc;
		uint32_t lstats_active;  /* active_bytes (usable bytes), or 0: none */
		uint32_t tcache_ql;      /* ql_head(tcache_slow_t) */
		uint32_t desc_ql;        /* ql_head(cache_bin_array_descriptor_t) */
		uint32_t nactive;        /* pa_shard.nactive (pages) */
		/* bin_t bins[] inline (one shard per bin), or (bins_by_pointer)
		 * bins_t bins[], each a bin_t *bin_shards */
		uint32_t bins;
		bool bins_by_pointer;
		uint32_t bin_size, bin_curregs, bin_curslabs;
		struct hs_je_var vars[HS_JE_MAX_VARS];
	} arena;
};

/* Reference configuration of every row's offsets. */
#define HS_JE_REF_NBINS 36
#define HS_JE_REF_NSIZES 232

/*
 * The layout of `row` for a build with nbins small and nsizes size classes
 * and pages of 1 << lg_page bytes: the row with every offset after a
 * size-class-sized array moved (hs_je_var). False if the result would exceed
 * the walker's bounds (HS_JE_MAX_*).
 */
bool hs_je_layout_resolve(const struct hs_je_layout *row, unsigned lg_page,
			  unsigned nbins, unsigned nsizes, struct hs_je_layout *ret);

/*
 * jemalloc's size classes for one LG_QUANTUM on LP64 (sc.c size_classes(),
 * 5.x; the same as 5.0's size_classes.sh): writes at most `cap` sizes into
 * out and returns how many there are (SC_NSIZES), or 0 if cap is too small.
 * *nbins gets SC_NBINS for pages of 1 << lg_page bytes.
 */
unsigned hs_je_size_classes(unsigned lg_quantum, unsigned lg_page, uint64_t *out,
			    unsigned cap, unsigned *nbins);

/* A JEMALLOC_VERSION string as builds write it: "5.3.0-0-g54eaed1d..."
 * (a release, commit count 0), Redis's "5.2.1-0-g0", a git build's
 * "5.3.0-100-g314c073a", or a bare "5.3.0". */
struct hs_je_version {
	unsigned major, minor, patch;
	unsigned long commits;     /* commits after the tag: 0 for a release */
};
bool hs_je_version_parse(const char *s, struct hs_je_version *ret);
/* Order of two versions (commits count: a git build sorts after its tag). */
int hs_je_version_cmp(const struct hs_je_version *a, const struct hs_je_version *b);

/* Every row, newest first; *n gets their number. */
const struct hs_je_layout *hs_je_layout_rows(size_t *n);
/* "5.3.1, 5.3.0, 5.2.1, ..." : every row's version, into buf. */
void hs_je_layout_names(char *buf, size_t cap);

/* The row for a version string: a release's ("5.3.0-0-g54ea...", Redis's
 * "5.3.0-0-g0", or "5.3.0"), or a git build's with a row of its own
 * (same tag and commit count); NULL otherwise: a git build between
 * releases is no release's layout for sure. */
const struct hs_je_layout *hs_je_layout_for_version(const char *version);
/* The row that lists this build-id (raw bytes), or NULL. */
const struct hs_je_layout *hs_je_layout_for_build_id(const uint8_t *id,
						     size_t len);
/* The 5.3.0 row (the fuzz target's default). */
const struct hs_je_layout *hs_je_layout_default(void);

#endif
