/* glibc.h: the glibc ptmalloc walk engine, given located globals (private to heapwalk/). */
#ifndef HS_GLIBC_H
#define HS_GLIBC_H

#include <stdint.h>

#include "heapwalk.h"
#include "glibc_layout.h"

/* One thread's tcache: the value of its `tcache` TLS variable (a pointer to
 * the tcache_perthread_struct, i.e. the user address of a 0x290 chunk), or 0. */
struct hs_glibc_tcache {
	int32_t tid;
	uint64_t tcache;
};

/* Where the globals are. Everything else is found from them. */
struct hs_glibc_where {
	uint64_t main_arena;  /* &main_arena; required */
	uint64_t mp;          /* &mp_, or 0 if unknown (sbrk_base and the
				 mmap counters then come from elsewhere or
				 are not cross-checked) */
	const struct hs_glibc_tcache *tcaches; /* may be NULL */
	size_t ntcaches;
	bool tcaches_known;   /* false: tcache chunks could not be told
				 apart, and count as in use (as mallinfo does) */
};

/*
 * Walk every arena, tcache, fastbin and mmapped chunk reachable from
 * `where` in proc->mem with layout `L`, appending chunks, stats (the
 * mallinfo2 fields under their own names), narenas, version and allocator
 * to `heap`. Corruption and disagreement with the in-core counters become
 * diagnostics in heap->diags; the walk always terminates. Chunks are left
 * unsorted. Errors: HS_ERR_NOMEM; HS_ERR_FAULT if main_arena itself is not
 * readable. This is the entry point unit tests use to skip locating.
 * opts (or NULL: one thread) says how many threads a long main heap may be
 * walked with (glibc_split.c).
 */
struct hs_error *hs_glibc_walk_at(struct hs_process *proc,
				  const struct hs_glibc_layout *L,
				  const struct hs_glibc_where *where,
				  const struct hs_walk_options *opts,
				  struct hs_heap *heap);

/*
 * Find main_arena without symbols or code: from a HEAP_MAX-aligned
 * heap_info whose ar_ptr points just past it, around the arena ring to the
 * one arena that is not in such a heap, validated. Returns its address, or
 * 0 (e.g. the process never had a thread arena). Reads only proc->mem.
 */
uint64_t hs_glibc_scan_main_arena(struct hs_process *proc,
				  const struct hs_glibc_layout *L);

#endif
