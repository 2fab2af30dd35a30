/* dominators.c: retained sizes: the dominator tree of the root and reachable-chunk graph (Lengauer-Tarjan). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/progress.h"
#include "graph.h"

/*
 * The graph: one root vertex (number 1) standing for every root, and a
 * vertex per reachable chunk, numbered 2.. in depth-first preorder. Chunk
 * x dominates chunk y when every path from the roots to y passes through
 * x; freeing x then frees everything it dominates, so x's retained size is
 * the sum of the sizes in its subtree of the dominator tree. Lengauer and
 * Tarjan's algorithm with path compression ("A fast algorithm for finding
 * dominators in a flowgraph", TOPLAS 1979), the simple variant:
 * O(E log V) time, memory per vertex and per edge (docs/reachability.md
 * gives the figures).
 */

/* What the tree takes per vertex, besides 12 bytes per reference: the
 * search's arrays and Lengauer-Tarjan's (dfnum, vertex, parent, semi,
 * ancestor, label, idom, buckets, path, retained, type). */
#define HS_DOM_BYTES_PER_VERTEX 60

struct hs_dominators {
	struct hs_refgraph *g;
	struct hs_chunk_ranks *ranks;
	uint32_t *dfnum;    /* per in-use ordinal: vertex number, 0 if unreached */
	hs_chunk_id *vertex; /* per vertex: its chunk (vertex 1: none) */
	uint32_t *idom;
	uint64_t *retained;
	uint32_t *type;     /* per vertex: set by hs_dominators_set_type */
	uint32_t n;         /* vertices, root included */
	uint64_t bytes;     /* memory held */
	uint64_t limit;
	bool over;          /* the limit was hit */
};

/* Growable arrays under one memory limit. */
static bool dom_grow(struct hs_dominators *d, void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t old = *cap;
	if (!hs_grow(p, cap, need, elem))
		return false;
	d->bytes += (*cap - old) * elem;
	if (d->bytes > d->limit) {
		d->over = true;
		return false;
	}
	return true;
}

/* One frame of the depth-first search: the vertex and where its words are
 * to be read on. */
struct dfs_frame {
	uint32_t v;
	uint64_t at, end;  /* the chunk's words not yet fetched */
	const uint8_t *p;  /* the fetched ones not yet read */
	size_t left;
};

struct dom_build {
	struct hs_dominators *d;
	uint32_t *parent;
	uint32_t (*edges)[2]; /* (from, to) vertex numbers */
	size_t nedges, edges_cap;
	struct dfs_frame *stack;
	size_t nstack, stack_cap;
	size_t vcap;
	bool nomem;
};

/* Number chunk id as a new vertex (child of `from` in the search) and push
 * it, or give its number if it has one. 0 when out of memory. */
static uint32_t visit(struct dom_build *b, uint32_t from, hs_chunk_id id,
		      const struct hs_chunk *ch)
{
	struct hs_dominators *d = b->d;
	uint64_t ord = hs_chunk_rank(d->ranks, id);
	if (d->dfnum[ord])
		return d->dfnum[ord];
	if (d->n == UINT32_MAX - 1) {
		b->nomem = true;
		return 0;
	}
	uint32_t v = ++d->n;
	size_t cap = b->vcap, cap2 = b->vcap;
	if (!dom_grow(d, (void **)&d->vertex, &cap, (size_t)v + 1, sizeof(*d->vertex)) ||
	    !dom_grow(d, (void **)&b->parent, &cap2, (size_t)v + 1, sizeof(*b->parent))) {
		b->nomem = true;
		return 0;
	}
	if (cap > b->vcap) {
		/* parent and retained grew to the same capacity (all doubled
		 * from vcap). */
		size_t cap3 = b->vcap;
		if (!dom_grow(d, (void **)&d->retained, &cap3, (size_t)v + 1,
			      sizeof(*d->retained))) {
			b->nomem = true;
			return 0;
		}
		b->vcap = cap;
	}
	d->dfnum[ord] = v;
	d->vertex[v] = id;
	b->parent[v] = from;
	/* Its own size now, while the chunk is at hand: the sums come later. */
	d->retained[v] = hs_chunk_size(ch);
	/* The search is the marking too (hs_refgraph_create). */
	hs_heap_chunk_bit_set(d->g->heap, id, HS_CHUNK_BIT_MARK);
	uint64_t end = ch->addr + hs_chunk_usable(d->g->heap, ch);
	if (!dom_grow(d, (void **)&b->stack, &b->stack_cap, b->nstack + 1, sizeof(*b->stack))) {
		b->nomem = true;
		return 0;
	}
	b->stack[b->nstack++] = (struct dfs_frame){v, ch->addr, end < ch->addr ? UINT64_MAX : end,
						   NULL, 0};
	return v;
}

static void edge(struct dom_build *b, uint32_t from, uint32_t to)
{
	if (!dom_grow(b->d, (void **)&b->edges, &b->edges_cap, b->nedges + 1, sizeof(*b->edges))) {
		b->nomem = true;
		return;
	}
	b->edges[b->nedges][0] = from;
	b->edges[b->nedges++][1] = to;
}

/* Search from the vertices just pushed until the stack is empty. */
static void dfs(struct dom_build *b)
{
	struct hs_dominators *d = b->d;
	struct hs_heap *heap = d->g->heap;
	while (b->nstack && !b->nomem) {
		struct dfs_frame *f = &b->stack[b->nstack - 1];
		if (!f->left) {
			uint64_t first;
			size_t n = 0;
			f->p = f->at < f->end ? hs_graph_words(d->g, f->at, f->end, &first, &n) : NULL;
			if (!f->p || !n) {
				b->nstack--;
				continue;
			}
			f->left = n;
			f->at = first + 8 * (uint64_t)n;
		}
		/* Take one word; a new vertex is pushed on top and searched first. */
		uint32_t v = f->v;
		uint64_t word = hs_word_at(f->p, 0);
		f->p += 8;
		f->left--;
		struct hs_chunk ch;
		hs_chunk_id t = hs_graph_target(heap, word, &ch);
		if (t == HS_CHUNK_ID_NONE || t == d->vertex[v])
			continue;
		uint32_t w = visit(b, v, t, &ch);
		if (w)
			edge(b, v, w);
	}
}

static void root_words(struct dom_build *b, const uint8_t *p, size_t n, uint64_t *hits)
{
	for (size_t i = 0; i < n && !b->nomem; i++) {
		struct hs_chunk ch;
		hs_chunk_id t = hs_graph_target(b->d->g->heap, hs_word_at(p, i), &ch);
		if (t == HS_CHUNK_ID_NONE)
			continue;
		(*hits)++;
		uint32_t w = visit(b, 1, t, &ch);
		if (w)
			edge(b, 1, w);
		dfs(b);
	}
}

/* Path-compressed evaluation (iterative: paths can be millions long). */
static uint32_t eval(uint32_t v, uint32_t *ancestor, uint32_t *label, const uint32_t *semi,
		     uint32_t *path)
{
	if (!ancestor[v])
		return v;
	size_t n = 0;
	for (uint32_t u = v; ancestor[ancestor[u]]; u = ancestor[u])
		path[n++] = u;
	while (n--) {
		uint32_t u = path[n], a = ancestor[u];
		if (semi[label[a]] < semi[label[u]])
			label[u] = label[a];
		ancestor[u] = ancestor[a];
	}
	return label[v];
}

static bool lengauer_tarjan(struct hs_dominators *d, struct dom_build *b)
{
	uint32_t n = d->n;
	size_t sz = (size_t)n + 1;
	uint32_t *off = hs_calloc_big(sz + 1, sizeof(*off));
	uint32_t *preds = hs_malloc_big(b->nedges, sizeof(*preds));
	uint32_t *semi = hs_malloc_big(sz, sizeof(*semi));
	uint32_t *ancestor = hs_calloc_big(sz, sizeof(*ancestor));
	uint32_t *label = hs_malloc_big(sz, sizeof(*label));
	uint32_t *bhead = hs_calloc_big(sz, sizeof(*bhead));
	uint32_t *bnext = hs_calloc_big(sz, sizeof(*bnext)), *path = hs_malloc_big(sz, sizeof(*path));
	d->idom = hs_calloc_big(sz, sizeof(*d->idom));
	d->bytes += (sz + 1) * 4 + b->nedges * 4 + sz * 4 * 7;
	bool ok = off && preds && semi && ancestor && label && bhead && bnext && path && d->idom &&
		  d->bytes <= d->limit;
	if (!ok) {
		d->over = d->bytes > d->limit;
		goto out;
	}
	/* Predecessors, by counting sort on the target. */
	for (size_t e = 0; e < b->nedges; e++)
		off[b->edges[e][1] + 1]++;
	for (size_t v = 1; v <= sz; v++)
		off[v] += off[v - 1];
	for (size_t e = 0; e < b->nedges; e++)
		preds[off[b->edges[e][1]]++] = b->edges[e][0];
	for (size_t v = sz; v > 0; v--)
		off[v] = off[v - 1];
	off[0] = 0;
	free(b->edges);
	b->edges = NULL;
	for (uint32_t v = 0; v <= n; v++)
		semi[v] = label[v] = v;
	for (uint32_t w = n; w >= 2; w--) {
		for (uint32_t k = off[w]; k < off[w + 1]; k++) {
			uint32_t u = eval(preds[k], ancestor, label, semi, path);
			if (semi[u] < semi[w])
				semi[w] = semi[u];
		}
		bnext[w] = bhead[semi[w]];
		bhead[semi[w]] = w;
		uint32_t p = b->parent[w];
		ancestor[w] = p;
		for (uint32_t v = bhead[p]; v; v = bnext[v]) {
			uint32_t u = eval(v, ancestor, label, semi, path);
			d->idom[v] = semi[u] < semi[v] ? u : p;
		}
		bhead[p] = 0;
	}
	for (uint32_t w = 2; w <= n; w++)
		if (d->idom[w] != semi[w])
			d->idom[w] = d->idom[d->idom[w]];
	d->idom[1] = 0;
out:
	free(off);
	free(preds);
	free(semi);
	free(ancestor);
	free(label);
	free(bhead);
	free(bnext);
	free(path);
	return ok;
}

void hs_dominators_destroy(struct hs_dominators *d)
{
	if (!d)
		return;
	hs_chunk_ranks_destroy(d->ranks);
	free(d->dfnum);
	free(d->vertex);
	free(d->idom);
	free(d->retained);
	free(d->type);
	free(d);
}

struct hs_error *hs_dominators_create(struct hs_refgraph *g, uint64_t limit,
				      struct hs_dominators **ret)
{
	struct hs_dominators *d = calloc(1, sizeof(*d));
	if (!d)
		return HS_ENOMEM;
	d->g = g;
	d->limit = limit;
	struct dom_build b = {.d = d};
	/* The estimate below, first from the walk's count of in-use chunks
	 * (each hs_heap_add_chunk sets one in-use bit and counts one, so it is
	 * the ranks' count): building the ranks costs a pass over every
	 * chunk, wasted on a heap whose tree is over the limit anyway. */
	uint64_t est = hs_chunk_ranks_size(g->heap);
	uint64_t nest = g->heap->totals[HS_CHUNK_IN_USE].count;
	est += nest * sizeof(*d->dfnum);
	if (est + nest * HS_DOM_BYTES_PER_VERTEX > limit) {
		d->bytes = est + nest * HS_DOM_BYTES_PER_VERTEX;
		d->over = true;
		goto fail;
	}
	struct hs_error *err = hs_chunk_ranks_create(g->heap, &d->ranks);
	if (err) {
		free(d);
		return err;
	}
	uint64_t nin = hs_chunk_ranks_count(d->ranks);
	d->bytes = hs_chunk_ranks_bytes(d->ranks) + nin * sizeof(*d->dfnum);
	/* A tree of every in-use chunk would need about this much: do not
	 * start what cannot finish. */
	if (d->bytes + nin * HS_DOM_BYTES_PER_VERTEX > limit) {
		d->bytes += nin * HS_DOM_BYTES_PER_VERTEX;
		d->over = true;
		goto fail;
	}
	d->dfnum = d->bytes <= limit ? hs_calloc_big(nin, sizeof(*d->dfnum)) : NULL;
	size_t cap = 0;
	/* Every vertex at once (the root and at most every in-use chunk): growing
	 * by doubling would copy and fault the arrays again at each step. */
	if (!d->dfnum ||
	    !dom_grow(d, (void **)&d->vertex, &cap, (size_t)nin + 2, sizeof(*d->vertex))) {
		d->over = d->bytes > limit;
		goto fail;
	}
	b.vcap = cap;
	b.parent = hs_calloc_big(cap, sizeof(*b.parent));
	d->retained = hs_calloc_big(cap, sizeof(*d->retained));
	if (!b.parent || !d->retained)
		goto fail;
	d->bytes += cap * sizeof(*d->retained);
	d->n = 1;
	d->vertex[1] = HS_CHUNK_ID_NONE;
	/* The search marks what it reaches, as hs_refgraph_create's marking
	 * does, and counts the root words. */
	hs_heap_chunk_bits_clear(g->heap, HS_CHUNK_BIT_MARK);
	memset(g->counts, 0, sizeof(g->counts));
	uint64_t total = 0;
	for (size_t i = 0; i < g->nroots; i++)
		total += g->roots[i].hi - g->roots[i].lo;
	hs_progress_phase(g->progress, "mark reachable, dominator tree", total);
	for (size_t t = 0; t < g->proc->nthreads && !b.nomem; t++)
		root_words(&b, (const uint8_t *)g->proc->threads[t].regs,
			   HS_ARRAY_SIZE(g->proc->threads[t].regs), &g->counts[HS_ROOT_REGISTERS]);
	for (size_t i = 0; i < g->nroots && !b.nomem; i++) {
		for (uint64_t lo = g->roots[i].lo; lo < g->roots[i].hi && !b.nomem;) {
			uint64_t first;
			size_t n;
			const uint8_t *p = hs_graph_words(g, lo, g->roots[i].hi, &first, &n);
			if (!n) {
				uint64_t next;
				if (!hs_memory_next_backed(&g->proc->mem, first + 1, &next) ||
				    next >= g->roots[i].hi || next <= lo)
					break;
				lo = next;
				continue;
			}
			root_words(&b, p, n, &g->counts[g->roots[i].kind]);
			lo = first + 8 * (uint64_t)n;
		}
		hs_progress_add(g->progress, g->roots[i].hi - g->roots[i].lo);
	}
	free(b.stack);
	b.stack = NULL;
	if (b.nomem || !lengauer_tarjan(d, &b))
		goto fail;
	free(b.parent);
	b.parent = NULL;
	/* Retained sizes: a vertex's dominator is numbered before it, and
	 * each vertex's own size was set when it was numbered. */
	d->type = hs_malloc_big((size_t)d->n + 1, sizeof(*d->type));
	d->bytes += ((size_t)d->n + 1) * sizeof(*d->type);
	if (!d->type || d->bytes > limit) {
		d->over = d->bytes > limit;
		goto fail;
	}
	for (uint32_t v = 0; v <= d->n; v++)
		d->type[v] = UINT32_MAX;
	for (uint32_t v = d->n; v >= 2; v--)
		d->retained[d->idom[v]] += d->retained[v];
	*ret = d;
	return NULL;
fail:
	free(b.parent);
	free(b.edges);
	free(b.stack);
	bool over = d->over;
	uint64_t bytes = d->bytes;
	hs_dominators_destroy(d);
	if (over)
		return hs_error_create(HS_ERR_OTHER,
				       "retained sizes would need more than %" PRIu64 " MiB (%" PRIu64
				       " MiB at least)", limit >> 20, bytes >> 20);
	return HS_ENOMEM;
}

uint64_t hs_dominators_bytes(const struct hs_dominators *d)
{
	return d->bytes;
}

uint32_t hs_dominators_count(const struct hs_dominators *d)
{
	return d->n - 1;
}

uint64_t hs_dominators_retained(const struct hs_dominators *d, hs_chunk_id id)
{
	uint32_t v = d->dfnum[hs_chunk_rank(d->ranks, id)];
	return v ? d->retained[v] : 0;
}

void hs_dominators_set_type(struct hs_dominators *d, hs_chunk_id id, uint32_t type)
{
	uint32_t v = d->dfnum[hs_chunk_rank(d->ranks, id)];
	if (v)
		d->type[v] = type;
}

struct hs_error *hs_dominators_outermost(const struct hs_dominators *d, uint32_t ntypes,
					 uint32_t (*map)(uint32_t type, void *arg),
					 void (*fn)(uint32_t type, uint64_t retained, void *arg),
					 void *arg)
{
	size_t sz = (size_t)d->n + 1;
	uint32_t *off = hs_calloc_big(sz + 1, sizeof(*off)), *kids = hs_malloc_big(sz, sizeof(*kids));
	uint32_t *gtype = hs_malloc_big(sz, sizeof(*gtype));
	uint32_t *active = calloc(ntypes + 1, sizeof(*active));
	uint32_t *stack = hs_malloc_big(sz, sizeof(*stack));
	if (!off || !kids || !gtype || !active || !stack) {
		free(off);
		free(kids);
		free(gtype);
		free(active);
		free(stack);
		return HS_ENOMEM;
	}
	for (uint32_t v = 2; v <= d->n; v++) {
		off[d->idom[v] + 1]++;
		uint32_t t = d->type[v] == UINT32_MAX ? UINT32_MAX : map(d->type[v], arg);
		gtype[v] = t < ntypes ? t : ntypes;
	}
	for (size_t v = 1; v <= sz; v++)
		off[v] += off[v - 1];
	for (uint32_t v = 2; v <= d->n; v++)
		kids[off[d->idom[v]]++] = v;
	for (size_t v = sz; v > 0; v--)
		off[v] = off[v - 1];
	off[0] = 0;
	/*
	 * Depth first over the dominator tree, counting each type's vertices
	 * on the path: a vertex with none of its type above it is outermost.
	 * A vertex is pushed once to enter and once (tagged) to leave.
	 */
	size_t n = 0;
	stack[n++] = 1;
	uint32_t *left = hs_malloc_big(sz, sizeof(*left)); /* next child to enter */
	if (!left) {
		free(off);
		free(kids);
		free(gtype);
		free(active);
		free(stack);
		return HS_ENOMEM;
	}
	for (uint32_t v = 0; v < sz; v++)
		left[v] = off[v];
	while (n) {
		uint32_t v = stack[n - 1];
		if (left[v] == off[v] && v != 1) {
			/* Entering v. */
			if (gtype[v] < ntypes && !active[gtype[v]])
				fn(gtype[v], d->retained[v], arg);
			active[gtype[v]]++;
		}
		if (left[v] < off[v + 1]) {
			stack[n++] = kids[left[v]++];
		} else {
			if (v != 1)
				active[gtype[v]]--;
			n--;
		}
	}
	free(left);
	free(off);
	free(kids);
	free(gtype);
	free(active);
	free(stack);
	return NULL;
}

size_t hs_dominators_top(const struct hs_dominators *d, size_t k, hs_chunk_id *ids,
			 uint64_t *retained)
{
	/* Children of the root: the chunks no other chunk dominates. */
	size_t n = 0;
	for (uint32_t v = 2; v <= d->n; v++) {
		if (d->idom[v] != 1)
			continue;
		uint64_t r = d->retained[v];
		size_t i;
		if (n < k)
			i = n++;
		else if (k && r > retained[k - 1])
			i = k - 1;
		else
			continue;
		while (i > 0 && retained[i - 1] < r) {
			retained[i] = retained[i - 1];
			ids[i] = ids[i - 1];
			i--;
		}
		retained[i] = r;
		ids[i] = d->vertex[v];
	}
	return n;
}
