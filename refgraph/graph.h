/* graph.h: private to refgraph/: the graph's state, root ranges and the word scan they share. */
#ifndef HS_REFGRAPH_GRAPH_H
#define HS_REFGRAPH_GRAPH_H

#include <string.h>

#include "refgraph.h"

/* A stretch of root memory of one kind. */
struct hs_root_range {
	uint64_t lo, hi;
	uint8_t kind;   /* enum hs_root_kind */
	int32_t thread; /* index into proc->threads, or -1 */
};

struct hs_refgraph {
	struct hs_process *proc;
	struct hs_heap *heap;
	unsigned threads;
	struct hs_progress *progress;
	struct hs_root_range *roots; /* sorted by lo, disjoint */
	size_t nroots, roots_cap;
	uint64_t counts[HS_ROOT_NKINDS];
	struct hs_dominators *tree; /* opts->retained */
	char *tree_note;            /* why there is no tree */
	bool marked;                /* the MARK bits are set (hs_mark_edges ran) */
};

/*
 * The edges of the reference graph, as the marking finds them, for the
 * dominator tree: chunks by in-use rank (hs_chunk_rank), every root as one
 * source, `root` (the number of in-use chunks). Duplicates are kept (they
 * change no dominator); a chunk's references to itself are not recorded.
 * id_of and size_of (one entry per rank, zeroed by the caller) are set for
 * each chunk by the thread that marks it.
 */
struct hs_edge_log {
	const struct hs_chunk_ranks *ranks;
	uint32_t root;
	hs_chunk_id *id_of;
	uint64_t *size_of;
	uint32_t (*e)[2]; /* (source, target), once the marking is done */
	size_t n, cap;
	uint64_t max;      /* edges the memory limit allows */
	uint64_t reserved; /* edges the threads' buffers hold room for (atomic) */
	bool over;         /* past max: the edges are incomplete (atomic) */
	bool nomem;
};

/* Mark what the roots reach (as for verdicts), recording every reference
 * into log, or none with log NULL (mark.c). Sets g->marked and the root
 * counts. The marks are complete even when log->over or log->nomem says the
 * edges are not. Errors: HS_ERR_NOMEM. */
struct hs_error *hs_mark_edges(struct hs_refgraph *g, struct hs_edge_log *log);

/* Build g->roots from the process's memory map, threads and modules
 * (roots.c). Errors: HS_ERR_NOMEM. */
struct hs_error *hs_roots_build(struct hs_refgraph *g);
/* A register's name in struct user_regs_struct order. */
const char *hs_reg_name(size_t i);
/* Describe the root word at addr of range r, for anchor chains. */
void hs_root_describe(const struct hs_refgraph *g, const struct hs_root_range *r, uint64_t addr,
		      char *buf, size_t len);

/* The in-use chunk (not allocator metadata) whose user bytes hold v. */
static inline hs_chunk_id hs_graph_target(const struct hs_heap *heap, uint64_t v,
					  struct hs_chunk *ch)
{
	if (v < heap->lo || v >= heap->hi)
		return HS_CHUNK_ID_NONE;
	hs_chunk_id id = hs_heap_find_in_use(heap, v, ch);
	if (id == HS_CHUNK_ID_NONE || (hs_chunk_flags(ch) & HS_CHUNK_F_METADATA) ||
	    v - ch->addr >= hs_chunk_usable(heap, ch))
		return HS_CHUNK_ID_NONE;
	return id;
}

/* hs_graph_target's chunk with its MARK bit set in the same step; *won
 * if this call set it (hs_heap_mark_at). */
static inline hs_chunk_id hs_graph_mark(struct hs_heap *heap, uint64_t v, struct hs_chunk *ch,
					bool *won, size_t *hint)
{
	if (v < heap->lo || v >= heap->hi)
		return HS_CHUNK_ID_NONE;
	bool was = true; /* set only when there is a chunk */
	hs_chunk_id id = hs_heap_mark_at(heap, v, ch, &was, hint);
	*won = !was;
	return id;
}

/* The core's bytes of [lo, hi) as 8-byte words: *n words at the returned
 * pointer (the part the core holds, from lo rounded up). */
const uint8_t *hs_graph_words(const struct hs_refgraph *g, uint64_t lo, uint64_t hi,
			      uint64_t *first, size_t *n);

static inline uint64_t hs_word_at(const uint8_t *p, size_t i)
{
	uint64_t v;
	memcpy(&v, p + 8 * i, 8);
	return v;
}

#endif
