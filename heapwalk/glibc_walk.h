/* glibc_walk.h: private to heapwalk/: the glibc walk's context and the heap-segment walk that glibc_split.c runs on two threads. */
#ifndef HS_GLIBC_WALK_H
#define HS_GLIBC_WALK_H

#include "glibc.h"

enum gl_kind { GL_TCACHE = 1, GL_FASTBIN = 2 };

/* A chunk some cache list says is cached; matched against the walk. */
struct gl_cached {
	uint64_t chunk; /* chunk header address */
	uint32_t owner; /* thread id (tcache) or arena index (fastbin) */
	uint8_t kind;
	uint8_t bin;
	bool seen;      /* the chunk walk found a chunk starting here */
};

struct gl_arena {
	uint64_t addr;
	uint64_t top, top_size;
	uint64_t system_mem;
	uint32_t flags;
	bool initialized;             /* top is a real chunk */
	bool top_known;               /* and its header is in the core */
	uint64_t nfast, fast_bytes;   /* from the fastbin lists (what int_mallinfo sums) */
	uint64_t nfree, free_bytes;   /* from the chunk walk: chunks in the regular bins */
	bool complete;                /* every heap segment walked to its end */
	uint64_t top_heap_end;        /* a non-main arena: the end of top's heap */
};

struct gl_span {
	uint64_t start, end;
};

struct gl_key {
	uint64_t entry, key;
};

/*
 * A read window: the backed bytes of the memory range last read from. The
 * chunk walk reads two words per chunk; this makes that an inline bounds
 * check and a load instead of a range lookup per field.
 */
struct gl_win {
	const struct hs_memory *mem;
	uint64_t lo, hi;
	const uint8_t *base;
};

struct gl_ctx {
	struct hs_process *proc;
	const struct hs_memory *mem;
	const struct hs_glibc_layout *L;
	struct hs_heap *heap;
	struct hs_diags *diags;
	struct gl_win win;
	uint64_t main_arena, mp;
	uint64_t heap_max;
	bool mp_ok;
	uint64_t mp_n_mmaps, mp_mmapped_mem, mp_sbrk_base;
	uint64_t mp_tcache_count; /* 0 if unknown */

	struct gl_arena *arenas;
	size_t narenas, arenas_cap;
	struct gl_cached *cached;
	size_t ncached, cached_cap;
	uint64_t *meta; /* chunk addresses of tcache_perthread_structs, sorted */
	size_t nmeta, meta_cap;
	bool *meta_seen;
	struct gl_span *spans; /* arena heap address ranges, for the mmap scan */
	struct gl_key *keys;   /* one thread's tcache entries and their keys */
	size_t nkeys, keys_cap;
	size_t nspans, spans_cap;
	uint64_t mmap_n, mmap_bytes;
	/* Steps left for all tcache, fastbin and bin list walks together
	 * (gl_list_step); list_capped once they ran out. */
	uint64_t list_steps;
	bool list_capped;
	/* The split of a long segment between two walkers (glibc_split.c):
	 * threads to use, the shortest segment split, and where the first
	 * walker stops (stop_at, 0 for nowhere; `stopped` once it did). */
	size_t main_span;  /* the main heap's entry in spans, when main_span_set */
	bool main_span_set;
	unsigned threads;
	uint64_t split_min;
	uint64_t stop_at;
	bool stopped;
	/* In-use chunks of one size, one after the other, not yet in heap:
	 * the segment walk adds them in bulk (gl_add). */
	uint64_t pend_addr, pend_size, pend_n;
};

enum gl_seg_kind {
	GL_SEG_TOP,   /* ends at the arena's top chunk */
	GL_SEG_FENCE, /* an old non-main heap: ends at a size-0 fencepost */
};

struct gl_seg {
	size_t ai;
	uint64_t start; /* first chunk */
	uint64_t end;   /* GL_SEG_TOP: the top chunk */
	uint64_t limit; /* no chunk header or body reaches past this */
	enum gl_seg_kind kind;
	/* cursors into the sorted sets, advanced in address order */
	size_t ci, mi;
};

enum gl_check { GL_BAD, GL_OK, GL_END };

static inline uint64_t gl_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Is there a plausible chunk at p? GL_END where the segment ends (glibc_walk.c). */
enum gl_check hs_glibc_check_at(struct gl_ctx *c, const struct gl_seg *s, uint64_t p,
				uint64_t *size);
/*
 * Walk the chunks of one heap segment in address order, classify each one
 * and append it to c->heap. false only when out of memory; *complete says
 * whether the walk reached the segment's end without skipping anything.
 * With c->stop_at set, it returns at that address (c->stopped) if the
 * chain reaches it exactly (glibc_walk.c).
 */
bool hs_glibc_walk_segment(struct gl_ctx *c, struct gl_seg *s, bool *complete);
/* The same, on two threads when the segment is long (glibc_split.c). */
bool hs_glibc_walk_split(struct gl_ctx *c, struct gl_seg *s, bool *complete);

#endif
