/* anchor.c: why a chunk is alive: the shortest chain of references from a root, searched backwards. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph.h"

/*
 * Levels searched before giving up, and chunks kept per search: a chain
 * longer than this (a linked list of a million nodes hanging off a global)
 * is reported as truncated rather than searched for hours.
 */
#define HS_ANCHOR_DEPTH 250
#define HS_ANCHOR_MAX_NODES (UINT64_C(4) << 20)

/* What a found chunk refers to: the chunk one step nearer the target, and
 * where in the found chunk the reference is. */
struct hs_pnode {
	hs_chunk_id id, next;
	uint64_t offset, value;
};

/* Open addressing over chunk ids: the chunks found so far. */
struct hs_pmap {
	struct hs_pnode *slots;
	size_t cap, n;
};

static size_t pmap_hash(hs_chunk_id id, size_t cap)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static struct hs_pnode *pmap_get(const struct hs_pmap *m, hs_chunk_id id)
{
	if (!m->cap)
		return NULL;
	for (size_t h = pmap_hash(id, m->cap);; h = (h + 1) & (m->cap - 1)) {
		if (m->slots[h].id == HS_CHUNK_ID_NONE)
			return NULL;
		if (m->slots[h].id == id)
			return &m->slots[h];
	}
}

static bool pmap_put(struct hs_pmap *m, const struct hs_pnode *node)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		struct hs_pnode *s = malloc(cap * sizeof(*s));
		if (!s)
			return false;
		for (size_t i = 0; i < cap; i++)
			s[i].id = HS_CHUNK_ID_NONE;
		for (size_t i = 0; i < m->cap; i++) {
			if (m->slots[i].id == HS_CHUNK_ID_NONE)
				continue;
			size_t h = pmap_hash(m->slots[i].id, cap);
			while (s[h].id != HS_CHUNK_ID_NONE)
				h = (h + 1) & (cap - 1);
			s[h] = m->slots[i];
		}
		free(m->slots);
		m->slots = s;
		m->cap = cap;
	}
	size_t h = pmap_hash(node->id, m->cap);
	while (m->slots[h].id != HS_CHUNK_ID_NONE)
		h = (h + 1) & (m->cap - 1);
	m->slots[h] = *node;
	m->n++;
	return true;
}

struct hs_search {
	struct hs_refgraph *g;
	struct hs_pmap found;   /* every chunk found, with its step toward the target */
	hs_chunk_id *frontier;  /* the last level */
	size_t nfrontier, frontier_cap;
	hs_chunk_id *next;
	size_t nnext, next_cap;
	uint64_t level;         /* the level being searched: 1 + the frontier's */
};

/* Which frontier chunk v refers to, or NONE. */
static hs_chunk_id in_frontier(struct hs_search *s, uint64_t v)
{
	struct hs_chunk ch;
	hs_chunk_id id = hs_graph_target(s->g->heap, v, &ch);
	if (id == HS_CHUNK_ID_NONE)
		return id;
	const struct hs_pnode *p = pmap_get(&s->found, id);
	/* In the frontier: found at the last level (next == the level tag). */
	return p && p->offset >> 56 == (s->level - 1) % 255 + 1 ? id : HS_CHUNK_ID_NONE;
}

static struct hs_anchor *chain(struct hs_search *s, hs_chunk_id first, enum hs_root_kind kind,
			       uint64_t root_addr, uint64_t value)
{
	struct hs_anchor *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->kind = kind;
	a->root_addr = root_addr;
	a->value = value;
	a->hops = calloc(s->level, sizeof(*a->hops));
	if (!a->hops) {
		free(a);
		return NULL;
	}
	for (hs_chunk_id id = first; id != HS_CHUNK_ID_NONE && a->nhops < s->level;) {
		const struct hs_pnode *p = pmap_get(&s->found, id);
		struct hs_chunk ch;
		if (!p || !hs_heap_chunk(s->g->heap, id, &ch))
			break;
		a->hops[a->nhops++] = (struct hs_anchor_hop){
			ch.addr, id, p->offset & ((UINT64_C(1) << 56) - 1), p->value};
		id = p->next;
	}
	return a;
}

/* A root word that refers to the frontier: the chain is found. */
static struct hs_anchor *search_roots(struct hs_search *s)
{
	struct hs_refgraph *g = s->g;
	for (size_t t = 0; t < g->proc->nthreads; t++) {
		const struct hs_thread *th = &g->proc->threads[t];
		for (size_t i = 0; i < HS_ARRAY_SIZE(th->regs); i++) {
			hs_chunk_id id = in_frontier(s, th->regs[i]);
			if (id == HS_CHUNK_ID_NONE)
				continue;
			struct hs_anchor *a = chain(s, id, HS_ROOT_REGISTERS, 0, th->regs[i]);
			if (a)
				snprintf(a->root, sizeof(a->root), "thread %zu (tid %d) register %s",
					 t + 1, th->tid, hs_reg_name(i));
			return a;
		}
	}
	for (size_t r = 0; r < g->nroots; r++) {
		const struct hs_root_range *rr = &g->roots[r];
		for (uint64_t lo = rr->lo; lo < rr->hi;) {
			uint64_t first;
			size_t n;
			const uint8_t *p = hs_graph_words(g, lo, rr->hi, &first, &n);
			for (size_t i = 0; i < n; i++) {
				uint64_t v = hs_word_at(p, i);
				hs_chunk_id id = in_frontier(s, v);
				if (id == HS_CHUNK_ID_NONE)
					continue;
				uint64_t at = first + 8 * (uint64_t)i;
				struct hs_anchor *a = chain(s, id, (enum hs_root_kind)rr->kind, at, v);
				if (a)
					hs_root_describe(g, rr, at, a->root, sizeof(a->root));
				return a;
			}
			if (!n)
				break;
			lo = first + 8 * (uint64_t)n;
		}
	}
	return NULL;
}

/* The reachable chunks not found yet that refer to the frontier: the next
 * level. false when out of memory or past the node budget. */
static bool search_level(struct hs_search *s)
{
	struct hs_heap *heap = s->g->heap;
	struct hs_chunk_iter it;
	struct hs_chunk ch;
	hs_chunk_id src;
	s->nnext = 0;
	hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
	while (hs_chunk_iter_next(&it, &ch, &src)) {
		if (hs_chunk_state(&ch) != HS_CHUNK_IN_USE || (hs_chunk_flags(&ch) & HS_CHUNK_F_METADATA) ||
		    !hs_heap_chunk_bit(heap, src, HS_CHUNK_BIT_MARK) || pmap_get(&s->found, src))
			continue;
		uint64_t lo = ch.addr, hi = lo + hs_chunk_usable(heap, &ch);
		while (lo < hi) {
			uint64_t first;
			size_t n;
			const uint8_t *p = hs_graph_words(s->g, lo, hi, &first, &n);
			size_t i;
			hs_chunk_id to = HS_CHUNK_ID_NONE;
			for (i = 0; i < n && to == HS_CHUNK_ID_NONE; i++)
				to = in_frontier(s, hs_word_at(p, i));
			if (to != HS_CHUNK_ID_NONE) {
				uint64_t off = first + 8 * (uint64_t)(i - 1) - ch.addr;
				struct hs_pnode node = {src, to,
							off | ((s->level % 255 + 1) << 56),
							hs_word_at(p, i - 1)};
				if (s->found.n >= HS_ANCHOR_MAX_NODES || !pmap_put(&s->found, &node) ||
				    !hs_grow((void **)&s->next, &s->next_cap, s->nnext + 1,
					     sizeof(*s->next)))
					return false;
				s->next[s->nnext++] = src;
				break;
			}
			if (!n)
				break;
			lo = first + 8 * (uint64_t)n;
		}
	}
	return true;
}

struct hs_error *hs_refgraph_anchor(struct hs_refgraph *g, hs_chunk_id id, struct hs_anchor **ret)
{
	*ret = NULL;
	if (!hs_heap_chunk_bit(g->heap, id, HS_CHUNK_BIT_MARK))
		return NULL;
	struct hs_search s = {.g = g, .level = 1};
	struct hs_pnode start = {id, HS_CHUNK_ID_NONE, UINT64_C(1) << 56, 0};
	struct hs_error *err = NULL;
	if (!pmap_put(&s.found, &start))
		return HS_ENOMEM;
	struct hs_anchor *a = NULL;
	bool more = true;
	for (; s.level <= HS_ANCHOR_DEPTH; s.level++) {
		a = search_roots(&s);
		if (a || !more)
			break;
		if (!search_level(&s)) {
			more = false;
			break;
		}
		if (!s.nnext)
			break;
	}
	if (!a && !more && s.found.n < HS_ANCHOR_MAX_NODES)
		err = HS_ENOMEM;
	if (!a && !err) {
		/* No root within reach: say so rather than invent a chain. */
		a = calloc(1, sizeof(*a));
		if (a) {
			a->truncated = true;
			snprintf(a->root, sizeof(a->root),
				 "no root found within %" PRIu64 " references (%zu chunks searched)",
				 s.level - 1, s.found.n);
		} else {
			err = HS_ENOMEM;
		}
	}
	free(s.found.slots);
	free(s.frontier);
	free(s.next);
	if (err) {
		hs_anchor_destroy(a);
		return err;
	}
	*ret = a;
	return NULL;
}

void hs_anchor_destroy(struct hs_anchor *a)
{
	if (!a)
		return;
	free(a->hops);
	free(a);
}
