/* jemalloc_internal.h: the jemalloc walker's private entry points (and tests'). */
#ifndef HS_JEMALLOC_INTERNAL_H
#define HS_JEMALLOC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "heapwalk.h"
#include "jemalloc_layout.h"

/*
 * Where jemalloc's globals are in one process. Found by
 * hs_jemalloc_locate() from symbols or by disassembly, or filled in by hand
 * by unit tests over synthetic memory.
 */
struct hs_je_globals {
	uint64_t emap;    /* &je_arena_emap_global (or &je_extents_rtree, 5.2) */
	uint64_t sz_tab;  /* &je_sz_index2size_tab[0] */
	uint64_t arenas;  /* &je_arenas[0] */
	bool has_tpoff;   /* tsd_tpoff is known (TLS path available) */
	int64_t tsd_tpoff; /* tsd = fs_base + tsd_tpoff */
	unsigned lg_vaddr; /* LG_VADDR of the build, or 0 to detect from the rtree */
	unsigned lg_quantum; /* LG_QUANTUM, read off sz_index2size_tab (0: unknown) */
};

/* What a process says about its jemalloc before any layout is tried. */
struct hs_je_ident {
	struct hs_module *mod;   /* NULL: jemalloc is not mapped */
	bool is_static;          /* linked into the executable */
	char version[96];        /* JEMALLOC_VERSION as found, or "" */
	const struct hs_je_layout *row; /* the release's own row, or NULL */
};

/* The rtree's shape for one LG_VADDR (rtree.h:17-35, 116-129 in 5.3.0). */
#define HS_JE_NLG_VADDRS 2
struct hs_je_rtree_geom {
	unsigned lg_vaddr;
	unsigned height;
	unsigned bits[3];   /* key bits resolved by each level */
	unsigned shift[3];  /* a level's index is (key >> shift) & mask(bits) */
	bool compact;       /* RTREE_LEAF_COMPACT: one word per leaf element */
	unsigned elm_size;  /* bytes per leaf element: 8 compact, 16 otherwise */
};

/* Compute the geometry for lg_vaddr; false if jemalloc cannot be built so. */
bool hs_je_rtree_geom_init(const struct hs_je_layout *L, unsigned lg_vaddr,
			   struct hs_je_rtree_geom *ret);

/*
 * Probe the rtree at `emap` under each LG_VADDR jemalloc is built with on
 * x86_64 (48, or 57 when configured on an LA57 host) and return
 * the one whose leaves decode to the most plausible edata (readable, aligned,
 * covering the key), or 0 if none decodes to anything. *score, if not NULL,
 * gets the winner's count of plausible elements. Bounded: samples at most a
 * few hundred elements. Never fails.
 */
unsigned hs_je_rtree_detect(const struct hs_memory *mem,
			    const struct hs_je_layout *L, uint64_t emap,
			    unsigned *score);

/*
 * Find the jemalloc module and its version: the JEMALLOC_VERSION string in
 * its file, else its build-id in the rows' tables. ret->row is the row of
 * that release, or NULL (an unknown release, a git build between releases,
 * or no version at all). Never fails; notes go to heap->diags.
 */
void hs_jemalloc_identify(struct hs_process *proc, struct hs_heap *heap,
			  struct hs_je_ident *ret);

/* HS_ERR_NOT_FOUND when the identified module cannot be walked at all (not
 * mapped, or no symbols to disassemble), else NULL. */
struct hs_error *hs_jemalloc_check_ident(const struct hs_je_ident *id);

/*
 * Locate jemalloc's globals assuming the struct layouts of `row`: from
 * symbols when there are any (debug info unless opts->no_debuginfo, or a
 * static build's own .symtab), else by disassembling exported functions;
 * every candidate validated structurally. Reads the build's configuration
 * (size classes, LG_QUANTUM, LG_PAGE, LG_VADDR) from the process and writes
 * the row resolved to it into *layout. Records located_by and flavour in
 * heap, caveats in heap->diags. Errors: HS_ERR_NOT_FOUND (a global cannot be
 * located or does not validate under this row).
 */
struct hs_error *hs_jemalloc_locate_row(struct hs_process *proc,
					const struct hs_walk_options *opts,
					const struct hs_je_ident *id,
					const struct hs_je_layout *row,
					struct hs_heap *heap,
					struct hs_je_layout *layout,
					struct hs_je_globals *ret);

/* identify, then locate_row with the release's row, or with the first row
 * whose globals validate (no walk: tools that only want the globals). */
struct hs_error *hs_jemalloc_locate(struct hs_process *proc,
				    const struct hs_walk_options *opts,
				    struct hs_heap *heap,
				    struct hs_je_layout *layout,
				    struct hs_je_globals *ret);

/*
 * Walk jemalloc's heap given its layout and globals: every extent in the
 * emap's rtree, the tcaches of every thread (TLS) and of every arena
 * (tcache_ql), then the statistics and their cross-check against the
 * counters jemalloc keeps. Corruption becomes diagnostics. Errors:
 * HS_ERR_NOMEM, HS_ERR_NOT_FOUND (the rtree root or the size table is not
 * readable, or no LG_VADDR fits). Chunks are appended in address order.
 */
struct hs_error *hs_jemalloc_walk_at(struct hs_process *proc,
				     const struct hs_je_layout *L,
				     const struct hs_je_globals *g,
				     struct hs_heap *heap);

/*
 * hs_memory_ptr, or, when the bytes span adjacent ranges (gcore splits a
 * library's .bss where its file-backed page ends) or are not 8-byte aligned
 * in memory (a core whose p_offset is odd), a copy in *buf, grown as
 * needed (the caller frees it). NULL if a byte is unreadable or on
 * allocation failure.
 */
const void *hs_je_span(const struct hs_memory *mem, uint64_t addr, size_t len,
		       void **buf, size_t *cap);

/* The index of the arena_t at `arena`, wherever the layout's model keeps
 * it (arena_t.ind, or its base_t's). False if unreadable. */
bool hs_je_arena_ind(const struct hs_memory *mem, const struct hs_je_layout *L,
		     uint64_t arena, uint32_t *ind);

/*
 * Declare jemalloc's base blocks (its metadata mappings) as "metadata"
 * regions of heap, found from addresses known to lie in them (edata, rtree
 * nodes, arenas: `addrs`, which the call sorts and rounds in place), each
 * block's header checked, and the older blocks of each base followed.
 * Bounded. false only when out of memory.
 */
bool hs_je_base_blocks(const struct hs_memory *mem, uint64_t *addrs, size_t n,
		       struct hs_heap *heap);

/* The version string in mod's file ("4.0.3-0-ge9192eac..."), the first
 * one a 5.x row knows, else the first seen; false if there is none. */
bool hs_jemalloc_version(struct hs_module *mod, char *buf, size_t cap);

/* Whether proc maps jemalloc (shared, or linked into the executable). */
struct hs_module *hs_jemalloc_module(struct hs_process *proc,
				     bool *statically_linked);

#endif
