/* refgraph.h: the reference graph's interface: roots, reachability marks, leak verdicts, anchor chains, retained sizes. */
#ifndef HS_REFGRAPH_H
#define HS_REFGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"
#include "../formats/formats.h"
#include "../heapwalk/heapwalk.h"
#include "../symbols/symbols.h"

/*
 * What keeps each in-use chunk alive, read conservatively as LeakSanitizer
 * and chap do (docs/reachability.md):
 *  - roots: every thread's registers; each thread's stack from its stack
 *    pointer (less the 128-byte red zone) to the end of its mapping; the
 *    writable segments of every module (.data, .bss, RELRO, GOT); each
 *    thread's static TLS block and thread control block; and any other
 *    writable memory that neither the allocator nor a stack owns (a Go
 *    heap, another allocator's arenas). The allocator's own memory (its
 *    metadata regions, its metadata chunks, free and cached chunks) is
 *    never a root.
 *  - references: an 8-byte aligned word of a root or of an in-use chunk's
 *    user bytes refers to the in-use chunk whose user bytes [address,
 *    address + usable size) contain its value: interior pointers count, a
 *    pointer one past the end does not (it is the next chunk's business).
 *    Free and cached chunks are neither sources nor targets.
 * A chunk no root reaches is leaked; a leaked chunk that no other leaked
 * chunk refers to is a direct leak, the others (lists hanging off a direct
 * leak, leaked cycles) indirect.
 *
 * The graph is not stored: marks are the heap's HS_CHUNK_BIT_MARK bits, and
 * edges are read from the core whenever needed. Only the dominator tree for
 * retained sizes builds arrays per reachable chunk.
 */
struct hs_refgraph;

struct hs_refgraph_options {
	unsigned threads;             /* 0: one per CPU */
	struct hs_progress *progress; /* or NULL */
	/* Build the dominator tree (retained sizes) while marking, within
	 * retained_limit bytes (hs_dominators_create). */
	bool retained;
	uint64_t retained_limit;
};

/*
 * Collect the roots of `proc` and mark every in-use chunk of `heap` they
 * reach (its MARK bit set; every other MARK bit cleared): with
 * opts->retained, by the dominator tree's depth-first search (one pass over
 * the graph for both), else on opts->threads threads. `proc` and `heap` are
 * borrowed and must outlive the graph. A tree over its limit is left out
 * (hs_refgraph_tree says why), not an error. Errors: HS_ERR_NOMEM.
 */
struct hs_error *hs_refgraph_create(struct hs_process *proc, struct hs_heap *heap,
				    const struct hs_refgraph_options *opts,
				    struct hs_refgraph **ret);
void hs_refgraph_destroy(struct hs_refgraph *g);

struct hs_dominators;
/* The dominator tree built with the marks, owned by the graph; NULL without
 * opts->retained, or when it was left out: then *why (if not NULL) says why
 * (NULL without opts->retained). */
struct hs_dominators *hs_refgraph_tree(const struct hs_refgraph *g, const char **why);

/* Root words that refer to an in-use chunk, per kind. */
void hs_refgraph_root_counts(const struct hs_refgraph *g, uint64_t counts[HS_ROOT_NKINDS]);

/*
 * Find the indirect leaks: every leaked chunk that another leaked chunk
 * refers to. fn is called once for each, from this thread; an error it
 * returns stops the search. Afterwards the MARK bit is set on reachable
 * chunks and on indirect leaks, so direct leaks are the in-use chunks left
 * without it. Errors: HS_ERR_NOMEM, or fn's.
 */
struct hs_error *hs_refgraph_indirect(struct hs_refgraph *g,
				      struct hs_error *(*fn)(hs_chunk_id id, void *arg),
				      void *arg);

/* One step of an anchor chain: the chunk, and where in it the reference to
 * the next step (or the target) is. */
struct hs_anchor_hop {
	uint64_t chunk;  /* the chunk's address */
	hs_chunk_id id;
	uint64_t offset; /* of the referring word in it */
	uint64_t value;  /* the word: the address it refers to */
};

/* Why a reachable chunk is alive: the shortest path from a root. */
struct hs_anchor {
	enum hs_root_kind kind;
	char root[256];    /* "thread 1 (tid 4242) register rbx", "g_cache+0x10 in /srv/app" */
	uint64_t root_addr; /* the root word's address (0 for a register) */
	uint64_t value;     /* what it holds */
	struct hs_anchor_hop *hops; /* from the root's target to the chunk itself */
	size_t nhops;
	bool truncated;     /* the search gave up before finding a root */
};
void hs_anchor_destroy(struct hs_anchor *a);

/*
 * The shortest chain of references from a root to the in-use chunk `id`
 * (searched backwards, level by level, each level one pass over the
 * reachable chunks). *ret is NULL when the chunk is not reachable. Errors:
 * HS_ERR_NOMEM.
 */
struct hs_error *hs_refgraph_anchor(struct hs_refgraph *g, hs_chunk_id id,
				    struct hs_anchor **ret);

/*
 * In-use chunks (other than `id` itself) with a word that refers to chunk
 * `id`: up to `max` addresses into addrs, the count of all into *n.
 */
void hs_refgraph_referrers(struct hs_refgraph *g, hs_chunk_id id, uint64_t *addrs, size_t max,
			   uint64_t *n);

/*
 * Retained sizes: the dominator tree of the root and reachable-chunk graph
 * (dominators.c). It marks the reachable chunks afresh, on every thread,
 * recording the references as it goes (as hs_refgraph_create marks); call
 * it before hs_refgraph_indirect, whose flipped marks it would undo. The
 * tree takes about 75 bytes per in-use chunk and 20 per reference at its
 * peak; more than `limit` bytes of it (or an estimate from the in-use chunks
 * above it, checked before it starts) is an error (HS_ERR_OTHER, saying how
 * much) rather than a machine out of memory. When the limit is hit after
 * the marking, the marks stand. hs_dominators_bytes() is the peak.
 * Errors: HS_ERR_NOMEM, HS_ERR_OTHER.
 */
struct hs_error *hs_dominators_create(struct hs_refgraph *g, uint64_t limit,
				      struct hs_dominators **ret);
void hs_dominators_destroy(struct hs_dominators *d);
uint64_t hs_dominators_bytes(const struct hs_dominators *d);
/* Reachable chunks in the tree. */
uint32_t hs_dominators_count(const struct hs_dominators *d);
/* What freeing chunk id frees: its size and everything it dominates (0 if
 * the chunk is not reachable). */
uint64_t hs_dominators_retained(const struct hs_dominators *d, hs_chunk_id id);
/* Tag a reachable chunk with a type (the census's); any thread, each chunk
 * once. Untagged chunks count as no type. */
void hs_dominators_set_type(struct hs_dominators *d, hs_chunk_id id, uint32_t type);
/*
 * Per type, the retained size of its outermost instances: fn(type,
 * retained) for every tagged chunk that no chunk of the same type
 * dominates. `map` turns a tag into a type number below ntypes. Errors:
 * HS_ERR_NOMEM.
 */
struct hs_error *hs_dominators_outermost(const struct hs_dominators *d, uint32_t ntypes,
					 uint32_t (*map)(uint32_t type, void *arg),
					 void (*fn)(uint32_t type, uint64_t retained, void *arg),
					 void *arg);
/* The k chunks no other chunk dominates that retain the most, largest
 * first: their ids and retained sizes; returns how many (<= k). */
size_t hs_dominators_top(const struct hs_dominators *d, size_t k, hs_chunk_id *ids,
			 uint64_t *retained);

#endif
