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

/* What the tree takes per in-use chunk at its peak, besides 4 for dfnum and
 * 20 per reference: the search's arrays (vertex, parent, retained, each
 * chunk's id and size as the marking finds them, the adjacency offsets and
 * the stack), then Lengauer-Tarjan's (semi, ancestor, label, idom, buckets,
 * path) beside the first three. */
#define HS_DOM_BYTES_PER_VERTEX 70

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
	uint64_t peak;      /* the most held at once */
	uint64_t limit;
	bool over;          /* the limit was hit */
};

struct dom_build {
	struct hs_dominators *d;
	uint32_t *parent;
	uint32_t (*edges)[2]; /* (from, to) vertex numbers */
	size_t nedges, edges_cap;
};

/*
 * Adjacency lists of n vertices by counting sort: for each edge of e, the
 * other end goes to out[] under its `key` end (0: by source, 1: by target),
 * and off[v] .. off[v + 1] is vertex v's list. off has n + 1 zeroed entries.
 */
static void edges_by(const uint32_t (*e)[2], size_t ne, unsigned key, size_t n, uint32_t *off,
		     uint32_t *out)
{
	for (size_t i = 0; i < ne; i++)
		off[e[i][key] + 1]++;
	for (size_t v = 1; v <= n; v++)
		off[v] += off[v - 1];
	for (size_t i = 0; i < ne; i++)
		out[off[e[i][key]]++] = e[i][!key];
	for (size_t v = n; v > 0; v--)
		off[v] = off[v - 1];
	off[0] = 0;
}

/*
 * The search runs over the references the marking recorded on every thread
 * (hs_mark_edges), not over the core: they are sorted into adjacency lists
 * by source rank (a counting sort), and the search goes depth first from
 * the root through them, numbering the vertices in preorder. Which order
 * the search takes changes the numbering, not the tree: a graph has one
 * dominator tree.
 */
static bool dom_search(struct hs_dominators *d, struct dom_build *b, struct hs_edge_log *log)
{
	uint32_t root = log->root;
	size_t nsrc = (size_t)root + 1;
	uint32_t *off = hs_calloc_big(nsrc + 1, sizeof(*off));
	uint32_t *adj = hs_malloc_big(log->n, sizeof(*adj));
	uint32_t(*stack)[2] = hs_malloc_big(nsrc, sizeof(*stack)); /* a vertex is pushed once */
	b->edges = hs_malloc_big(log->n, sizeof(*b->edges));
	b->edges_cap = log->n;
	d->bytes += (nsrc + 1) * sizeof(*off) + log->n * sizeof(*adj) + nsrc * sizeof(*stack) +
		    log->n * sizeof(*b->edges);
	bool ok = off && adj && stack && b->edges && d->bytes <= d->limit;
	if (!ok) {
		d->over = d->bytes > d->limit;
		goto out;
	}
	edges_by((const uint32_t(*)[2])log->e, log->n, 0, nsrc, off, adj);
	free(log->e);
	log->e = NULL;
	size_t top = 0;
	stack[top][0] = root;
	stack[top++][1] = off[root];
	while (top) {
		uint32_t r = stack[top - 1][0], k = stack[top - 1][1];
		if (k == off[r + 1]) {
			top--;
			continue;
		}
		stack[top - 1][1] = k + 1;
		uint32_t t = adj[k], v = r == root ? 1 : d->dfnum[r], w = d->dfnum[t];
		if (!w) {
			w = ++d->n;
			d->dfnum[t] = w;
			d->vertex[w] = log->id_of[t];
			d->retained[w] = log->size_of[t]; /* its own size; sums come later */
			b->parent[w] = v;
			stack[top][0] = t;
			stack[top++][1] = off[t];
		}
		b->edges[b->nedges][0] = v;
		b->edges[b->nedges++][1] = w;
	}
out:
	free(off);
	free(adj);
	free(stack);
	if (d->bytes > d->peak)
		d->peak = d->bytes;
	d->bytes -= (nsrc + 1) * sizeof(*off) + log->n * sizeof(*adj) + nsrc * sizeof(*stack);
	return ok;
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
	/* edges' room is given back below, the rest at the end */
	uint64_t scratch = (sz + 1) * 4 + b->nedges * 4 + sz * 4 * 6;
	d->bytes += scratch + sz * 4;
	if (d->bytes > d->peak)
		d->peak = d->bytes;
	bool ok = off && preds && semi && ancestor && label && bhead && bnext && path && d->idom &&
		  d->bytes <= d->limit;
	if (!ok) {
		d->over = d->bytes > d->limit;
		goto out;
	}
	/* Predecessors: the edges by target. */
	edges_by((const uint32_t(*)[2])b->edges, b->nedges, 1, sz, off, preds);
	free(b->edges);
	b->edges = NULL;
	d->bytes -= b->edges_cap * sizeof(*b->edges);
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
	d->bytes -= scratch;
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
	struct hs_edge_log log = {0};
	struct hs_error *err;
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
	err = hs_chunk_ranks_create(g->heap, &d->ranks);
	if (err) {
		free(d);
		return err;
	}
	uint64_t nin = hs_chunk_ranks_count(d->ranks);
	d->bytes = hs_chunk_ranks_bytes(d->ranks) + nin * sizeof(*d->dfnum);
	/* A tree of every in-use chunk would need about this much: do not
	 * start what cannot finish. */
	if (d->bytes + nin * HS_DOM_BYTES_PER_VERTEX > limit || nin >= UINT32_MAX - 2) {
		d->bytes += nin * HS_DOM_BYTES_PER_VERTEX;
		d->over = true;
		goto fail;
	}
	/* Every vertex at once: the root (1) and at most every in-use chunk. */
	size_t nv = (size_t)nin + 2;
	d->dfnum = hs_calloc_big(nin, sizeof(*d->dfnum));
	d->vertex = hs_malloc_big(nv, sizeof(*d->vertex));
	b.parent = hs_calloc_big(nv, sizeof(*b.parent));
	d->retained = hs_calloc_big(nv, sizeof(*d->retained));
	log.id_of = hs_calloc_big(nin, sizeof(*log.id_of));
	log.size_of = hs_calloc_big(nin, sizeof(*log.size_of));
	d->bytes += nv * (sizeof(*d->vertex) + sizeof(*b.parent) + sizeof(*d->retained)) +
		    nin * (sizeof(*log.id_of) + sizeof(*log.size_of));
	if (!d->dfnum || !d->vertex || !b.parent || !d->retained || !log.id_of || !log.size_of ||
	    d->bytes > limit) {
		d->over = d->bytes > limit;
		goto fail;
	}
	d->n = 1;
	d->vertex[1] = HS_CHUNK_ID_NONE;
	/* What is left of the limit for the references: each takes 8 bytes in
	 * the log, then 4 in the adjacency lists and 8 as a tree edge at once. */
	log.ranks = d->ranks;
	log.root = (uint32_t)nin;
	log.max = (limit - d->bytes) / 20;
	if (log.max > UINT32_MAX - 1)
		log.max = UINT32_MAX - 1;
	err = hs_mark_edges(g, &log);
	if (err)
		goto fail_err;
	if (log.nomem)
		goto fail;
	if (log.over) {
		d->bytes = limit + 1;
		d->over = true;
		goto fail;
	}
	if (!dom_search(d, &b, &log))
		goto fail;
	free(log.id_of);
	free(log.size_of);
	log.id_of = NULL;
	log.size_of = NULL;
	d->bytes -= nin * (sizeof(*log.id_of) + sizeof(*log.size_of));
	if (!lengauer_tarjan(d, &b))
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
	err = NULL;
fail_err:
	free(b.parent);
	free(b.edges);
	free(log.e);
	free(log.id_of);
	free(log.size_of);
	if (err) {
		hs_dominators_destroy(d);
		return err;
	}
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
	return d->peak > d->bytes ? d->peak : d->bytes;
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
	/* Children of the root: the chunks no other chunk dominates. Ties go
	 * to the lower address (ids sort by address): the numbering follows
	 * the marking threads' timing, the answer must not. */
	size_t n = 0;
	for (uint32_t v = 2; v <= d->n; v++) {
		if (d->idom[v] != 1)
			continue;
		uint64_t r = d->retained[v];
		hs_chunk_id id = d->vertex[v];
		size_t i;
		if (n < k)
			i = n++;
		else if (k && (r > retained[k - 1] || (r == retained[k - 1] && id < ids[k - 1])))
			i = k - 1;
		else
			continue;
		while (i > 0 && (retained[i - 1] < r || (retained[i - 1] == r && ids[i - 1] > id))) {
			retained[i] = retained[i - 1];
			ids[i] = ids[i - 1];
			i--;
		}
		retained[i] = r;
		ids[i] = id;
	}
	return n;
}
