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

/*
 * An address range the walker declares, for the memory map (hs_memmap).
 * Three kinds place every byte of the range there; each walker declares
 * all the address space it holds with them, so that the memory table is
 * exact rather than guessed from chunk sums:
 *   "heap": holds chunks: each byte is in a chunk, or else the allocator's
 *     metadata (headers, slab tails, alignment); every chunk must lie in one;
 *   "reserved" (and the walkers' own words for it, "retained" in jemalloc,
 *     "unmapped" in tcmalloc): held by the allocator but not in use now,
 *     whatever its protection;
 *   "metadata": the allocator's bookkeeping outside its heap ranges.
 * Any other kind names a detail inside those ("arena_header",
 * "sampled_span_slack"); the memory map ignores it, and the report sums
 * every kind in memory.allocator_regions. Ranges of different kinds may
 * overlap: heap wins over reserved, reserved over metadata (so a walker
 * may declare a whole mapping metadata and its spans heap or reserved).
 */
struct hs_region {
	char kind[32];
	uint64_t start, size;
	/* How many ranges the walker declared here: consecutive ranges of one
	 * kind that touch are kept as one (a jemalloc heap declares each of
	 * its extents, 781 K of them in a 4 GiB core), and the report counts
	 * them all. */
	uint64_t count;
};
#define HS_REGION_HEAP "heap"
#define HS_REGION_RESERVED "reserved"
#define HS_REGION_METADATA "metadata"

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

/* Per-state totals the store keeps as chunks are added. */
struct hs_chunk_count {
	uint64_t count, bytes;
};

/* In-use bytes of one accounted chunk size (allocator metadata left out). */
struct hs_size_count {
	uint64_t size, count, bytes;
};

struct hs_chunk_store; /* chunks.c */

/*
 * The result of a walk. Owned by the caller; free with hs_heap_destroy().
 * Its chunks live in the chunk store below; hs_heapwalk_run() returns the
 * heap finished (queryable).
 */
struct hs_heap {
	char allocator[16];   /* "glibc", "jemalloc", "tcmalloc" */
	char version[32];     /* "2.36", "5.3.0", "2.10" */
	char flavour[32];     /* walker-specific ("minimal"), or "" */
	enum hs_located_by located_by;
	enum hs_layout_status layout; /* of the row the walk used */
	char layout_row[32];          /* that row's name ("5.3.0"), or "" */
	unsigned narenas;
	uint64_t nchunks;
	struct hs_chunk_count totals[HS_CHUNK_NSTATES];
	struct hs_chunk_count metadata; /* HS_CHUNK_F_METADATA chunks, in totals too */
	uint64_t lo, hi;                /* lowest chunk address, highest chunk end */
	/* What the application may not use of a chunk's accounted size: its
	 * header (glibc: 8 bytes of a chunk in a heap, which uses the next
	 * chunk's prev_size; 16 of a mmapped one), [0] plain, [1] mmapped. */
	uint32_t header_bytes[2];
	/* How far a chunk's `addr` lies past the first byte the chunk
	 * occupies (glibc: its 16-byte header; 0 elsewhere), so that
	 * [addr - chunk_offset, + size) is the chunk's address range. */
	uint64_t chunk_offset;
	struct hs_chunk_store *store;
	struct hs_stat *stats;
	size_t nstats, stats_cap;
	struct hs_region *regions;
	size_t nregions, regions_cap;
	/* The allocator's own state outside its heaps (glibc's main_arena and
	 * mp_ in libc's .data): never a root of the reference graph. */
	struct hs_region *owned;
	size_t nowned, owned_cap;
	struct hs_diags diags;
};

struct hs_error *hs_heap_create(struct hs_heap **ret);
void hs_heap_destroy(struct hs_heap *heap);
/* Set (or overwrite) a statistic by name. */
bool hs_heap_set_stat(struct hs_heap *heap, const char *name, uint64_t value)
	HS_MUST_CHECK;
bool hs_heap_get_stat(const struct hs_heap *heap, const char *name,
		      uint64_t *ret);
bool hs_heap_add_region(struct hs_heap *heap, const char *kind,
			uint64_t start, uint64_t size) HS_MUST_CHECK;
/*
 * Where the chunks lie, for the memory map (below): with `ranges` the map's
 * sorted, disjoint ranges, the bytes of each chunk state that fall in its
 * heap ranges (HS_MEM_HEAP; metadata chunks, HS_CHUNK_F_METADATA, counted
 * apart), how many of those the core holds, and the chunk bytes that lie
 * in no range of the allocator's (a chunk in a reserved range, such as a
 * tcmalloc returned span, is the allocator's, but not a heap chunk). One
 * pass over the chunks; a byte that overlapping chunks (a corrupt
 * heap) both claim counts once, for the first.
 */
struct hs_heap_cover {
	uint64_t bytes[HS_CHUNK_NSTATES], dumped[HS_CHUNK_NSTATES];
	uint64_t meta_bytes, meta_dumped; /* metadata chunks (all in use) */
	uint64_t outside;                 /* chunk bytes outside the allocator's ranges */
};
struct hs_mem_range;
void hs_heap_cover(const struct hs_heap *heap, const struct hs_memory *mem,
		   const struct hs_mem_range *ranges, size_t nranges,
		   struct hs_heap_cover *ret);
/* Each maximal run of touching chunk address ranges, in address order, to
 * fn (false stops): the heap as the chunks alone show it, for a walker that
 * declares no heap ranges of its own. */
void hs_heap_chunk_runs(const struct hs_heap *heap,
			bool (*fn)(uint64_t start, uint64_t end, void *arg), void *arg);

/* Record allocator state that lives outside its heaps (heap->owned). */
bool hs_heap_add_owned(struct hs_heap *heap, const char *what, uint64_t start,
		       uint64_t size) HS_MUST_CHECK;

/*
 * ---------------------------------------------------------------------------
 * The chunk store (chunks.c). A core can hold billions of chunks, so chunks
 * are not kept as records: chunks that follow each other in memory form a
 * run, and a run keeps a few bits per heap granule or per region. A run of
 * variable-sized chunks (glibc: 16-byte granules, chunks of at least two)
 * keeps two bits per granule; a run of equal regions (a jemalloc slab, a
 * tcmalloc span) keeps three bits per region; a big chunk is a run of its
 * own. docs/scale.md has the encoding and the memory bound it gives.
 *
 * A walk appends chunks with hs_heap_add_chunk(), heap after heap in any
 * order, each heap's chunks in address order, and hs_heap_finish() makes the
 * store queryable. From then on a chunk has an id, valid for the heap's
 * life, and an in-use chunk has two bits for the analyses (mark and ref),
 * zero after the walk. Bits may be set from several threads at once
 * (hs_heap_chunk_bit_set is atomic); nothing else changes a finished store.
 * ---------------------------------------------------------------------------
 */
typedef uint64_t hs_chunk_id;
#define HS_CHUNK_ID_NONE UINT64_MAX

enum hs_chunk_bit {
	HS_CHUNK_BIT_MARK, /* reachability marks (refgraph/) */
	HS_CHUNK_BIT_REF,  /* classification evidence: a pointer of the right shape */
};

/*
 * Store chunks whose sizes are multiples of 1 << shift, at least two
 * granules, at that alignment, in variable-size runs (two bits per granule)
 * rather than as runs of equal regions. Call before the first chunk; the
 * glibc walker's granule is 16 bytes (MALLOC_ALIGNMENT).
 */
void hs_heap_set_granule(struct hs_heap *heap, unsigned shift);
/* The bytes from a chunk's address on that the application may use. */
static inline uint64_t hs_chunk_usable(const struct hs_heap *heap, const struct hs_chunk *c)
{
	uint64_t size = hs_chunk_size(c);
	uint64_t hdr = heap->header_bytes[(hs_chunk_flags(c) & HS_CHUNK_F_MMAPPED) != 0];
	return size > hdr ? size - hdr : 0;
}
/* Append a chunk. false only when out of memory (the walk then fails with
 * HS_ERR_NOMEM: a partial chunk list would be a silent wrong answer). */
bool hs_heap_add_chunk(struct hs_heap *heap, uint64_t addr, uint64_t size,
		       enum hs_chunk_state state, unsigned flags) HS_MUST_CHECK;
/* n chunks of one size and state, one after the other from addr: what n
 * calls of hs_heap_add_chunk() would store, a bitmap word at a time where
 * they make one run of equal regions (a slab's stretch of in-use regions). */
bool hs_heap_add_chunks(struct hs_heap *heap, uint64_t addr, uint64_t size, uint64_t n,
			enum hs_chunk_state state, unsigned flags) HS_MUST_CHECK;
/*
 * Move every chunk of `src` (a second walker's heap, unfinished, the same
 * granule) to the end of `dst` (unfinished), as if dst's walk had added
 * them: the runs, the totals and the size classes; src's diagnostics,
 * regions and statistics stay where they are, and src keeps no chunk.
 * false when out of memory (dst then holds a part: the walk must fail).
 */
bool hs_heap_splice(struct hs_heap *dst, struct hs_heap *src) HS_MUST_CHECK;
/* Make the store queryable: order the runs by address and build the lookup
 * directory. Idempotent. Errors: HS_ERR_NOMEM. */
struct hs_error *hs_heap_finish(struct hs_heap *heap);

/* The chunk whose [addr, addr + size) holds `addr`, any state: true and
 * *ret (and *id, if not NULL) set, or false. */
bool hs_heap_find(const struct hs_heap *heap, uint64_t addr, struct hs_chunk *ret,
		  hs_chunk_id *id);
/* Whether addr is inside some chunk, any state (cheaper than a find). */
bool hs_heap_contains(const struct hs_heap *heap, uint64_t addr);
/* The same for in-use chunks only, the hot path of the memory scans: the id,
 * or HS_CHUNK_ID_NONE (not in a chunk, or in one not in use). */
hs_chunk_id hs_heap_find_in_use(const struct hs_heap *heap, uint64_t addr,
				struct hs_chunk *ret);
/* The same for a scan that looks up address after address: *hint (the
 * caller's, one per thread, 0 at first) keeps the run of the last lookup,
 * tried first. */
hs_chunk_id hs_heap_find_in_use_near(const struct hs_heap *heap, uint64_t addr,
				     struct hs_chunk *ret, size_t *hint);
/*
 * The marking's step in one call: the in-use chunk whose user bytes hold addr
 * (not allocator metadata), as hs_heap_find_in_use finds it, with its MARK
 * bit set as hs_heap_chunk_bit_set sets it; *was is the bit's old value.
 * HS_CHUNK_ID_NONE, and nothing set, if there is none. *hint is the caller's
 * (one per thread, 0 at first): the run of the last call, tried first.
 */
hs_chunk_id hs_heap_mark_at(struct hs_heap *heap, uint64_t addr, struct hs_chunk *ret,
			    bool *was, size_t *hint);
/* The chunk with this id. */
bool hs_heap_chunk(const struct hs_heap *heap, hs_chunk_id id, struct hs_chunk *ret);
/* An in-use chunk's bit, and setting it (atomically; returns its old value).
 * Bits of chunks that are not in use must not be set. */
bool hs_heap_chunk_bit(const struct hs_heap *heap, hs_chunk_id id, enum hs_chunk_bit bit);
bool hs_heap_chunk_bit_set(struct hs_heap *heap, hs_chunk_id id, enum hs_chunk_bit bit);
/* Clear one bit of every chunk. */
void hs_heap_chunk_bits_clear(struct hs_heap *heap, enum hs_chunk_bit bit);

/* Walking the chunks that start in [from, to), in address order. */
struct hs_chunk_iter {
	const struct hs_heap *heap;
	size_t run;
	uint64_t pos, to;
};
void hs_chunk_iter_init(struct hs_chunk_iter *it, const struct hs_heap *heap,
			uint64_t from, uint64_t to);
bool hs_chunk_iter_next(struct hs_chunk_iter *it, struct hs_chunk *ret, hs_chunk_id *id);
/* Up to max chunks at once, as that many calls of hs_chunk_iter_next would
 * give them, with their ids and, for in-use chunks, their bits (1 <<
 * HS_CHUNK_BIT_MARK and 1 << HS_CHUNK_BIT_REF, as set; 0 for the others):
 * the loop of a pass over every chunk, a call per chunk less. Returns how
 * many; 0 at the end. */
size_t hs_chunk_iter_many(struct hs_chunk_iter *it, struct hs_chunk *ret, hs_chunk_id *ids,
			  uint8_t *bits, size_t max);
/*
 * Chunks of one uniform run (a slab, a span, a stretch of equal glibc
 * chunks) at once: up to 64 that hs_chunk_iter_next would give next, all of
 * one size and flags, each starting where the one before ends. Chunk i is
 * at addr + i * size with id `id + i`; bit i of in_use, cached, mark and
 * ref gives its state and bits (cached only when not in use; mark and ref
 * only in use). Returns false, and takes nothing, where the next chunk is
 * not in a uniform run or there is none: hs_chunk_iter_many then goes on.
 */
struct hs_chunk_stretch {
	uint64_t addr, size;
	hs_chunk_id id;
	unsigned n, flags;
	uint64_t in_use, cached, mark, ref;
};
bool hs_chunk_iter_stretch(struct hs_chunk_iter *it, struct hs_chunk_stretch *ret);
/* The next chunk that is not in use (free or cached), as hs_chunk_iter_next
 * would reach it, stepping over in-use chunks a bitmap word at a time. */
bool hs_chunk_iter_next_idle(struct hs_chunk_iter *it, struct hs_chunk *ret);
/* The next in-use chunk whose MARK bit is clear, likewise; bits set meanwhile
 * count (each call reads the bitmaps afresh). */
bool hs_chunk_iter_next_unmarked(struct hs_chunk_iter *it, struct hs_chunk *ret,
				 hs_chunk_id *id);

/*
 * Cut the chunks into at most `parts` address ranges of about equal heap
 * bytes, for threads: bounds[0..n] with range i = [bounds[i], bounds[i+1]),
 * each bound a chunk's start (bounds[0] = 0, bounds[n] = UINT64_MAX).
 * Returns n >= 1.
 */
size_t hs_heap_split(const struct hs_heap *heap, size_t parts, uint64_t *bounds);

/* The first stretch of address space covered by chunks (runs that touch
 * merged) that ends after addr: true and [*lo, *hi), or false past the last. */
bool hs_heap_next_extent(const struct hs_heap *heap, uint64_t addr, uint64_t *lo, uint64_t *hi);

/*
 * Dense ordinals 0..n-1 of the in-use chunks in address order, for arrays
 * with an entry per chunk (the dominator tree). Built on demand: 16 bytes
 * per 64 granules, 8 per 64 regions. The heap must outlive it. Errors: HS_ERR_NOMEM.
 */
struct hs_chunk_ranks;
struct hs_error *hs_chunk_ranks_create(const struct hs_heap *heap, struct hs_chunk_ranks **ret);
void hs_chunk_ranks_destroy(struct hs_chunk_ranks *r);
/* In-use chunks in all, and the ordinal of one. */
uint64_t hs_chunk_ranks_count(const struct hs_chunk_ranks *r);
uint64_t hs_chunk_rank(const struct hs_chunk_ranks *r, hs_chunk_id id);
uint64_t hs_chunk_ranks_bytes(const struct hs_chunk_ranks *r);
/* What hs_chunk_ranks_bytes() will say, before building them: a look at each
 * run, not at each chunk. */
uint64_t hs_chunk_ranks_size(const struct hs_heap *heap);

/* In-use sizes, largest total first; owned by the heap. */
const struct hs_size_count *hs_heap_size_classes(const struct hs_heap *heap, size_t *n);
/* Bytes of address space the chunks span (the sum of the runs' extents),
 * and bytes of memory the store itself takes. */
uint64_t hs_heap_span(const struct hs_heap *heap);
uint64_t hs_heap_store_bytes(const struct hs_heap *heap);
/* Every chunk as an array, in address order (tests and small heaps: 16 bytes
 * a chunk). The caller frees *ret. Errors: HS_ERR_NOMEM. */
struct hs_error *hs_heap_chunk_array(const struct hs_heap *heap, struct hs_chunk **ret,
				     size_t *n);

struct hs_walk_options {
	bool no_debuginfo;    /* ignore allocator debug info even if present */
	const char *allocator; /* force a walker by name, or NULL to detect */
	unsigned threads;     /* for a walk that can split (0: one per CPU) */
	uint64_t split_min;   /* the shortest heap segment split (0: the walker's own) */
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

/*
 * ---------------------------------------------------------------------------
 * The memory map: every mapped byte of the process attributed to exactly
 * one kind, from the core's segments and NT_FILE mappings, the modules, the
 * threads' registers, the walker's declared ranges (hs_region) and what
 * other runtimes (Go) keep in their globals. Built once per analysis; the
 * table (rows) is what the report prints, the ranges are there for whoever
 * needs to know what an address is (a reference scan's roots, say).
 * ---------------------------------------------------------------------------
 */
enum hs_mem_kind {
	HS_MEM_IN_USE,             /* chunks by state (from the walk) */
	HS_MEM_FREE,
	HS_MEM_CACHED,
	HS_MEM_ALLOCATOR_METADATA, /* metadata chunks, heap bytes no chunk
				    * covers, declared metadata ranges */
	HS_MEM_ALLOCATOR_RESERVED, /* declared reserved ranges */
	HS_MEM_MODULES,            /* ELF objects, vdso/vvar/vsyscall, the
				    * dynamic linker's allocations */
	HS_MEM_DATA_FILES,         /* mapped files that are no module */
	HS_MEM_STACKS,             /* stacks, guard pages, TLS blocks */
	HS_MEM_OTHER_ANONYMOUS,
	HS_MEM_INACCESSIBLE,       /* anonymous, no access rights */
	HS_MEM_NKINDS,
	/* Not a table kind: a range label for the allocator's heap ranges,
	 * whose bytes the table splits into chunk states and metadata. */
	HS_MEM_HEAP = HS_MEM_NKINDS,
};
/* "in_use", ..., "inaccessible" (the report's names), "heap". */
const char *hs_mem_kind_name(enum hs_mem_kind kind);

/* One address range of the map; ranges are sorted, disjoint, and adjacent
 * ones with the same kind and name are merged. */
struct hs_mem_range {
	uint64_t start, end;   /* [start, end) */
	uint64_t dumped;       /* bytes of it the core holds */
	enum hs_mem_kind kind; /* a table kind, or HS_MEM_HEAP */
	/* Who owns it, when known: a static string ("Go heap", "dynamic
	 * linker") or the file name of the module whose data points at it
	 * (owned by the process); NULL otherwise. */
	const char *name;
};

/* One row of the memory table: a kind, or a named part of it. */
struct hs_mem_row {
	enum hs_mem_kind kind;
	const char *name;      /* as in hs_mem_range; NULL on the kind's main row */
	uint64_t bytes;        /* virtual: address space */
	uint64_t dumped;       /* of which the core holds */
	uint64_t ranges;       /* address ranges; 0 for chunk states */
};

struct hs_memmap {
	struct hs_mem_range *ranges;
	size_t nranges;
	/* The table: a main row per kind in enum order (possibly 0 bytes),
	 * each followed by its named rows, largest first. bytes sum exactly to
	 * `mapped`, dumped to `dumped`. */
	struct hs_mem_row *rows;
	size_t nrows;
	uint64_t mapped, dumped;
	enum hs_core_writer writer;
	/* Inconsistencies found while attributing (chunks outside the
	 * walker's heap ranges, ...), for the report. */
	struct hs_diags diags;
};

/*
 * Build the memory map of `proc` with the walked `heap` (sorted; NULL for
 * no allocator: its kinds stay 0). Both are borrowed during the call; the
 * map's names may point into proc's modules, so proc must outlive it.
 * Every read of the core goes through hs_memory_*; lists read from it
 * (the dynamic linker's link maps, Go's structures) are bounded. On success
 * *ret is the caller's, freed with hs_memmap_destroy. Errors: HS_ERR_NOMEM.
 */
struct hs_error *hs_memmap_build(struct hs_process *proc,
				 const struct hs_heap *heap,
				 struct hs_memmap **ret);
void hs_memmap_destroy(struct hs_memmap *map);
/* The range holding addr, or NULL if addr is not mapped. */
const struct hs_mem_range *hs_memmap_find(const struct hs_memmap *map,
					  uint64_t addr);

#endif
