/* jemalloc4_internal.h: the jemalloc 4.x walker's private entry points (and tests'). */
#ifndef HS_JEMALLOC4_INTERNAL_H
#define HS_JEMALLOC4_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "heapwalk.h"
#include "jemalloc4_layout.h"

/*
 * Where jemalloc 4's globals are in one process. Found by
 * hs_jemalloc4_locate() from symbols or by disassembly, or filled in by
 * hand by unit tests over synthetic memory. Zero means unknown.
 */
struct hs_je4_globals {
	uint64_t rtree;      /* &je_chunks_rtree */
	uint64_t sz_tab;     /* &je_index2size_tab[0] */
	uint64_t bin_info;   /* &je_arena_bin_info[0] */
	uint64_t arenas;     /* &arenas[0]: the value of the arenas pointer */
	unsigned narenas;    /* slots of arenas[] (narenas_total), 0 if unknown */
	bool has_tpoff;      /* tsd_tpoff is known (the TLS path is available) */
	int64_t tsd_tpoff;   /* tsd = fs_base + tsd_tpoff */
};

/* Little-endian loads from bytes of the core, and a read across its ranges
 * (gcore splits a library's .bss where its file-backed part ends): false
 * if a byte is not there. */
static inline uint64_t hs_je4_load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t hs_je4_load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline bool hs_je4_read(const struct hs_memory *mem, uint64_t addr, void *buf,
			       size_t len)
{
	struct hs_error *err = hs_memory_read(mem, addr, buf, len);
	hs_error_destroy(err);
	return err == NULL;
}

/* RTREE_HEIGHT_MAX on 64-bit (rtree.h:19-20): the rows' height_max bound. */
#define HS_JE4_MAX_HEIGHT 4

/* One small size class's geometry (arena_bin_info_t), from the process. */
struct hs_je4_bin {
	uint64_t reg_size, reg_interval, run_size, reg0_offset;
	uint32_t nregs;
};

/*
 * The build's configuration, read from the process (never from a row):
 * size classes from index2size_tab, bin geometry from arena_bin_info, the
 * chunk size from chunks_rtree's key bits, the page size from the bins' run
 * sizes; the page map's bias as arena_boot() computes it (src/arena.c).
 */
struct hs_je4_config {
	unsigned lg_page, lg_chunk;
	uint64_t page, chunksize;
	unsigned chunk_npages;
	unsigned map_bias;           /* header pages of an arena chunk */
	uint64_t map_misc_offset;    /* where the misc elements start */
	unsigned nsizes, nbins, nlclasses, nhclasses;
	uint64_t large_maxclass;
	uint64_t sz[HS_JE4_MAX_NSIZES];
	struct hs_je4_bin bins[HS_JE4_MAX_NBINS];
};

/*
 * jemalloc4_config.c. Read the configuration through the located globals
 * under layout L, and
 * check it is one jemalloc could have built. index2size_tab is read-only
 * data: from the core, or from the module file when gcore left it out.
 * Errors: HS_ERR_NOT_FOUND (a table is unreadable or inconsistent; the
 * message says which).
 */
struct hs_error *hs_je4_config_read(struct hs_process *proc,
				    const struct hs_je4_layout *L,
				    const struct hs_je4_globals *g,
				    struct hs_je4_config *ret);

/* index2size_tab at addr (src/jemalloc.c): strictly increasing classes,
 * each step a power of two no larger than the class before it, ending at
 * the row's HUGE_MAXCLASS. The number of classes (copied into sz, which
 * holds HS_JE4_MAX_NSIZES), or 0 if the table is not one. */
unsigned hs_je4_read_sizes(struct hs_process *proc, const struct hs_je4_layout *L,
			   uint64_t addr, uint64_t *sz);

/* The class index of size, or the index of the smallest class above it
 * (size2index), or nsizes when none is. Binary search. */
unsigned hs_je4_size2index(const struct hs_je4_config *c, uint64_t size);

/* Whether the rtree_t at addr is a chunks_rtree jemalloc built: height,
 * levels and start_level table agree (src/rtree.c rtree_new). On success
 * *lg_chunk is the chunk size it indexes. */
bool hs_je4_valid_rtree(const struct hs_memory *mem, const struct hs_je4_layout *L,
			uint64_t addr, unsigned *lg_chunk);

/* Whether arena_t at addr has index ind and per-class stats arrays where
 * arena_new() puts them (after the arena, hstats right after lstats). */
bool hs_je4_valid_arena(const struct hs_memory *mem, const struct hs_je4_layout *L,
			const struct hs_je4_config *cfg, uint64_t addr,
			unsigned ind);

/*
 * Walk jemalloc 4's heap given a layout row and globals: every chunk in
 * chunks_rtree (arena chunks page by page, huge extents whole), the arenas'
 * cached chunks, the thread caches of every thread (TLS) and arena
 * (tcache_ql), then the statistics and their cross-check against the
 * counters jemalloc keeps. Corruption becomes diagnostics. *mismatches (if
 * not NULL) gets the number of counters the walk disagreed with. Errors:
 * HS_ERR_NOMEM, HS_ERR_NOT_FOUND (the configuration cannot be read).
 */
struct hs_error *hs_jemalloc4_walk_at(struct hs_process *proc,
				      const struct hs_je4_layout *L,
				      const struct hs_je4_globals *g,
				      struct hs_heap *heap, unsigned *mismatches);

/*
 * Locate the globals for layout L in the jemalloc module: by name when the
 * module has the symbols (a static build's, or a debug file's), else from
 * the RIP-relative operands of its exported functions and the functions
 * they call, each candidate checked for the structure it must have.
 * Records located_by in heap. Errors: HS_ERR_NOT_FOUND naming the global.
 */
struct hs_error *hs_jemalloc4_locate(struct hs_process *proc, struct hs_module *mod,
				     const struct hs_je4_layout *L,
				     const struct hs_walk_options *opts,
				     struct hs_heap *heap, struct hs_je4_globals *ret);

/*
 * The dispatch from the jemalloc walker (jemalloc.c). claims: whether the
 * process's jemalloc is a 4.x release (its version string says so, or its
 * symbols name chunks_rtree, which 5.x does not have). walk: the whole
 * walk, with its layout row chosen by version, or inferred from the rows
 * the walk reconciles with. after_5x: the 5.x walker failed on an
 * allocator whose version string is missing or names no release (0.0.0);
 * try the 4.x rows, and return NULL with the heap filled if one reconciles,
 * else err unchanged.
 */
bool hs_jemalloc4_claims(struct hs_process *proc);
struct hs_error *hs_jemalloc4_walk(struct hs_process *proc,
				   const struct hs_walk_options *opts,
				   struct hs_heap *heap);
struct hs_error *hs_jemalloc4_after_5x(struct hs_process *proc,
				       const struct hs_walk_options *opts,
				       struct hs_heap *heap, struct hs_error *err);

#endif
