/* heapwalk.h: the allocator-walker interface: detect the allocator, enumerate every chunk. */
#ifndef HS_HEAPWALK_H
#define HS_HEAPWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"
#include "../symbols/symbols.h"

enum hs_chunk_state {
	HS_CHUNK_IN_USE = 0, /* held by the application */
	HS_CHUNK_FREE = 1,   /* in the allocator's free structures (bins, top, free slabs) */
	HS_CHUNK_CACHED = 2, /* in a thread/arena cache (tcache, fastbin, transfer cache) */
};
#define HS_CHUNK_NSTATES 3

/* Flags carried with the state in a chunk record. */
#define HS_CHUNK_F_METADATA 0x4 /* allocator metadata (glibc tcache struct); counted in_use */
#define HS_CHUNK_F_MMAPPED 0x8  /* a separately mmapped chunk (glibc) or huge extent */

/*
 * One chunk, 16 bytes: the record is compact because a big core has tens of
 * millions of them. `addr` is the address the application got back from
 * malloc (glibc: chunk header + 16); `info` packs the size the allocator
 * accounts for the chunk (glibc: the chunk size including its header;
 * jemalloc: the region's usable size; tcmalloc: the size-class size) in the
 * high 56 bits, and state (2 bits) plus flags (2 bits) in the low 8.
 */
struct hs_chunk {
	uint64_t addr;
	uint64_t info;
};

#define HS_CHUNK_SIZE_SHIFT 8
#define HS_CHUNK_MAX_SIZE ((UINT64_C(1) << 56) - 1)

static inline uint64_t hs_chunk_size(const struct hs_chunk *c)
{
	return c->info >> HS_CHUNK_SIZE_SHIFT;
}
static inline enum hs_chunk_state hs_chunk_state(const struct hs_chunk *c)
{
	return (enum hs_chunk_state)(c->info & 0x3);
}
static inline unsigned hs_chunk_flags(const struct hs_chunk *c)
{
	return (unsigned)(c->info & 0xc);
}
static inline struct hs_chunk hs_chunk_make(uint64_t addr, uint64_t size,
					    enum hs_chunk_state state,
					    unsigned flags)
{
	struct hs_chunk c = {
		.addr = addr,
		.info = (size << HS_CHUNK_SIZE_SHIFT) | (uint64_t)state |
			(flags & 0xc),
	};
	return c;
}
const char *hs_chunk_state_name(enum hs_chunk_state state);

/* One named statistic, under the allocator's own name (mallinfo2 field,
 * jemalloc mallctl, tcmalloc property). */
struct hs_stat {
	char name[64];
	uint64_t value;
};

/* Memory the allocator holds that is not a chunk (e.g. jemalloc retained
 * extents, tcmalloc unmapped spans), for the memory breakdown. */
struct hs_region {
	char kind[32];
	uint64_t start, size;
};

enum hs_located_by {
	HS_LOCATED_DEBUGINFO, /* separate debug info (DWARF / full symtab) */
	HS_LOCATED_DISASSEMBLY,
	HS_LOCATED_SYMBOLS,   /* exported or .symtab symbols of the allocator itself */
};
const char *hs_located_by_name(enum hs_located_by by);

/*
 * How much the struct layout the walk used is worth: a row checked against
 * a real build of that version, a row read off the version's source only, or
 * a neighbouring row (or derived layout) accepted because the walk reconciled
 * with the allocator's own counters in the core.
 */
enum hs_layout_status {
	HS_LAYOUT_VERIFIED,
	HS_LAYOUT_FROM_SOURCE,
	HS_LAYOUT_INFERRED,
};
const char *hs_layout_status_name(enum hs_layout_status status);

/*
 * The result of a walk. Owned by the caller; free with hs_heap_destroy().
 * Chunks are sorted by address when the walk returns.
 */
struct hs_heap {
	char allocator[16];   /* "glibc", "jemalloc", "tcmalloc" */
	char version[32];     /* "2.36", "5.3.0", "2.10" */
	char flavour[32];     /* walker-specific ("minimal"), or "" */
	enum hs_located_by located_by;
	enum hs_layout_status layout; /* of the row the walk used */
	char layout_row[32];          /* that row's name ("5.3.0"), or "" */
	unsigned narenas;
	struct hs_chunk *chunks;
	size_t nchunks, chunks_cap;
	struct hs_stat *stats;
	size_t nstats, stats_cap;
	struct hs_region *regions;
	size_t nregions, regions_cap;
	struct hs_diags diags;
};

struct hs_error *hs_heap_create(struct hs_heap **ret);
void hs_heap_destroy(struct hs_heap *heap);
/* Append a chunk. false only when out of memory (the walk then fails with
 * HS_ERR_NOMEM: a partial chunk list would be a silent wrong answer). */
bool hs_heap_add_chunk(struct hs_heap *heap, uint64_t addr, uint64_t size,
		       enum hs_chunk_state state, unsigned flags) HS_MUST_CHECK;
/* Set (or overwrite) a statistic by name. */
bool hs_heap_set_stat(struct hs_heap *heap, const char *name, uint64_t value)
	HS_MUST_CHECK;
bool hs_heap_get_stat(const struct hs_heap *heap, const char *name,
		      uint64_t *ret);
bool hs_heap_add_region(struct hs_heap *heap, const char *kind,
			uint64_t start, uint64_t size) HS_MUST_CHECK;
/* Sort chunks by address (radix sort; stable and O(n)). */
void hs_heap_sort(struct hs_heap *heap);
/* Binary search: the chunk whose [addr, addr+size) contains `addr`. */
const struct hs_chunk *hs_heap_chunk_at(const struct hs_heap *heap,
					uint64_t addr);

/*
 * A lookup index over a heap's sorted chunks: which chunk contains an
 * address, in constant time for dense heaps (a page table per run of
 * chunks). Built once for scans that look up millions of addresses. The
 * index borrows the heap, which must outlive it and not change. Its memory
 * is bounded by about 16 bytes per chunk whatever the addresses are.
 * Errors: HS_ERR_NOMEM.
 */
struct hs_chunk_index;
struct hs_error *hs_chunk_index_create(const struct hs_heap *heap,
				       struct hs_chunk_index **ret);
void hs_chunk_index_destroy(struct hs_chunk_index *idx);
/* Same answer as hs_heap_chunk_at(). */
const struct hs_chunk *hs_chunk_index_find(const struct hs_chunk_index *idx,
					   uint64_t addr);

struct hs_walk_options {
	bool no_debuginfo;    /* ignore allocator debug info even if present */
	const char *allocator; /* force a walker by name, or NULL to detect */
};

/*
 * A walker. detect() is cheap and side-effect free: it says whether this
 * process uses the allocator (e.g. the library is mapped). walk() enumerates
 * every chunk into `heap`; corruption becomes diagnostics in heap->diags and
 * the walk goes on. It returns an error only when nothing sensible can be
 * reported (the allocator's globals cannot be located, out of memory).
 */
struct hs_walker {
	const char *name;
	bool (*detect)(struct hs_process *proc);
	struct hs_error *(*walk)(struct hs_process *proc,
				 const struct hs_walk_options *opts,
				 struct hs_heap *heap);
};

/* The table of walkers, most specific first (jemalloc and tcmalloc before
 * glibc, since a process that uses them still maps libc). */
const struct hs_walker *const *hs_heapwalk_walkers(size_t *count);

/*
 * Detect the allocator and walk it. On success *ret is a new heap, sorted.
 * Errors: HS_ERR_NOT_FOUND (no known allocator), whatever the walker
 * returned (message names the allocator).
 */
struct hs_error *hs_heapwalk_run(struct hs_process *proc,
				 const struct hs_walk_options *opts,
				 struct hs_heap **ret);

#endif
