/* tcmalloc_internal.h: the tcmalloc walker's private entry points (walk, locate). */
#ifndef HS_TCMALLOC_INTERNAL_H
#define HS_TCMALLOC_INTERNAL_H

#include "heapwalk.h"
#include "tcmalloc_layout.h"

/* Runtime addresses of tcmalloc's statics in the process. */
struct hs_tcm_addrs {
	uint64_t pageheap;      /* Static::pageheap_ (a PageHeap) */
	uint64_t sizemap;       /* Static::sizemap_ (a SizeMap) */
	uint64_t central_cache; /* Static::central_cache_[kClassSizesMax] */
	uint64_t thread_heaps;  /* &ThreadCache::thread_heaps_ (a ThreadCache*) */
	uint64_t thread_heap_count; /* &ThreadCache::thread_heap_count_ (an
				     * int, exported), or 0 if unknown */
	uint64_t free_queue_size; /* &MallocBlock::free_queue_size_ in the
				   * debug builds, else 0 */
};

/* What hs_tcm_locate() found. */
struct hs_tcm_located {
	struct hs_tcm_addrs addrs;
	const struct hs_tcm_layout *layout; /* a row, or &own */
	/* A row re-derived for the page size the SizeMap shows
	 * (hs_tcm_layout_with_page_shift); layout then points here. */
	struct hs_tcm_layout own;
	bool derived;
	char row[32];     /* the row's name for the report ("2.10", "2.10/32K") */
	char version[32];
	char flavour[32];
	char module[64];  /* the library's file name, for messages */
	enum hs_located_by located_by;
	bool samples; /* the build can have sampled spans */
};

/* The module holding tcmalloc (shared library or the executable when linked
 * statically), or NULL. Cheap: names first, then two symbol lookups. */
struct hs_module *hs_tcm_find_module(struct hs_process *proc);

/*
 * Find tcmalloc's statics and pick the layout row: DWARF/.symtab symbols if
 * present (unless opts->no_debuginfo and they come from debug info), else
 * the code anchors (capstone), else the known-build table by build-id. Every
 * candidate is checked structurally before it is accepted. With `force`,
 * that row is used whatever the version (trying a row for a version that
 * has none). Without it, a version that has no row returns success with
 * ret->layout NULL and ret->version set: the caller tries the rows. Caveats
 * become diagnostics in `diags`. Errors: HS_ERR_NOT_FOUND (no tcmalloc, or
 * nothing that validates).
 */
struct hs_error *hs_tcm_locate(struct hs_process *proc,
			       const struct hs_walk_options *opts,
			       const struct hs_tcm_layout *force,
			       struct hs_diags *diags,
			       struct hs_tcm_located *ret);

/*
 * Structural check of a candidate: the SizeMap is sane (class sizes
 * increasing, num_size_classes in range), central_cache_[c].size_class_ == c
 * and the pagemap root is readable. Returns false with a reason in `why`.
 */
bool hs_tcm_validate(const struct hs_memory *mem,
		     const struct hs_tcm_layout *lay,
		     const struct hs_tcm_addrs *addrs, char *why, size_t whylen);

/*
 * Walk tcmalloc at known addresses with a known layout: every Span in the
 * page map, every object of every small-object span, with thread-cache,
 * transfer-cache and span free lists; the tcmalloc properties computed from
 * the walk go to heap->stats and are cross-checked against the in-core
 * counters (mismatches are HS_DIAG_ERROR diagnostics). A sampled span is
 * sized from its StackTrace whenever that checks out; `samples` (whether the
 * build was identified as sampling) only decides whether finding one is
 * worth a note. Fails only when the SizeMap is unusable
 * (HS_ERR_FORMAT) or on out-of-memory; the heap is then partially filled.
 * This is the unit tests' entry point.
 */
struct hs_error *hs_tcmalloc_walk_at(struct hs_process *proc,
				     const struct hs_tcm_layout *lay,
				     const struct hs_tcm_addrs *addrs,
				     bool samples, struct hs_heap *heap);

#endif
