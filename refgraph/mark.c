/* mark.c: marking what the roots reach, the indirect leaks, and who refers to a chunk. */
#include <pthread.h>
#include <stdlib.h>

#include "../common/parallel.h"
#include "../common/progress.h"
#include "graph.h"

/*
 * The mark stack grows to this many entries (64 MiB); a wider frontier sets
 * `overflow`, and the chunks that could not be pushed are found again by a
 * pass over the marked chunks, as Boehm's collector does. Memory stays
 * bounded whatever the shape of the heap.
 */
#define HS_STACK_MAX (UINT64_C(8) << 20)

struct hs_stack {
	hs_chunk_id *v;
	size_t n, cap;
	bool overflow;
	size_t hint; /* hs_heap_mark_at's */
};

static void push(struct hs_stack *st, hs_chunk_id id)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 4096;
		hs_chunk_id *v = cap <= HS_STACK_MAX ? realloc(st->v, cap * sizeof(*v)) : NULL;
		if (!v) {
			st->overflow = true;
			return;
		}
		st->v = v;
		st->cap = cap;
	}
	st->v[st->n++] = id;
}

/* ------------------------------------------------------------------ edges */

/* A thread's edges, appended without locks, handed to the log at its end. */
struct hs_elocal {
	uint32_t (*e)[2];
	size_t n, cap;
};

/* Room for one more edge, within log->max over every thread's buffer. */
static bool elog_room(struct hs_edge_log *log, struct hs_elocal *loc)
{
	if (__atomic_load_n(&log->over, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&log->nomem, __ATOMIC_RELAXED))
		return false;
	size_t cap = loc->cap ? loc->cap * 2 : 4096;
	/* Take what is left of the room when a doubling would pass it. */
	uint64_t was = __atomic_fetch_add(&log->reserved, cap - loc->cap, __ATOMIC_RELAXED);
	if (was + (cap - loc->cap) > log->max) {
		uint64_t left = was < log->max ? log->max - was : 0;
		__atomic_fetch_sub(&log->reserved, (cap - loc->cap) - left, __ATOMIC_RELAXED);
		cap = loc->cap + (size_t)left;
		if (cap == loc->cap) {
			__atomic_store_n(&log->over, true, __ATOMIC_RELAXED);
			return false;
		}
	}
	void *e = realloc(loc->e, cap * sizeof(*loc->e));
	if (!e) {
		__atomic_store_n(&log->nomem, true, __ATOMIC_RELAXED);
		return false;
	}
	hs_mem_huge(e, cap * sizeof(*loc->e));
	loc->e = e;
	loc->cap = cap;
	return true;
}

static inline void elog_add(struct hs_edge_log *log, struct hs_elocal *loc, uint32_t from,
			    uint32_t to)
{
	if (loc->n == loc->cap && !elog_room(log, loc))
		return;
	loc->e[loc->n][0] = from;
	loc->e[loc->n][1] = to;
	loc->n++;
}

/* The chunk a word refers to, as an edge from `from`; when this thread won
 * its MARK bit (`won`), its rank's entries too. Returns its rank. */
static inline uint32_t elog_hit(struct hs_edge_log *log, struct hs_elocal *loc, uint32_t from,
				hs_chunk_id id, const struct hs_chunk *ch, bool won)
{
	uint32_t r = (uint32_t)hs_chunk_rank(log->ranks, id);
	if (r != from)
		elog_add(log, loc, from, r);
	if (won) {
		log->id_of[r] = id;
		log->size_of[r] = hs_chunk_size(ch);
	}
	return r;
}

/* A thread's edges into the log: under the pool's lock, or on one thread. */
static void elog_flush(struct hs_edge_log *log, struct hs_elocal *loc)
{
	if (loc->n && !log->over && !log->nomem) {
		if (!log->e) {
			log->e = loc->e; /* the first buffer is taken as it is */
			log->n = loc->n;
			log->cap = loc->cap;
			*loc = (struct hs_elocal){0};
			return;
		}
		if (hs_grow((void **)&log->e, &log->cap, log->n + loc->n, sizeof(*log->e))) {
			memcpy(log->e + log->n, loc->e, loc->n * sizeof(*loc->e));
			log->n += loc->n;
		} else {
			log->nomem = true;
		}
	}
	free(loc->e);
	*loc = (struct hs_elocal){0};
}

/* ------------------------------------------------------------------ words */

const uint8_t *hs_graph_words(const struct hs_refgraph *g, uint64_t lo, uint64_t hi,
			      uint64_t *first, size_t *n)
{
	uint64_t a = (lo + 7) & ~UINT64_C(7);
	*n = 0;
	*first = a;
	if (a < lo || a >= hi)
		return NULL;
	const struct hs_memory_range *r = hs_memory_find(&g->proc->mem, a);
	if (!r || a - r->start >= r->filesz)
		return NULL;
	uint64_t end = r->start + r->filesz;
	if (end < r->start || end > hi)
		end = hi;
	*n = (size_t)((end - a) / 8);
	return r->data + (a - r->start);
}

/* The one-thread marking's edge log and source (log NULL: no edges). */
struct hs_esrc {
	struct hs_edge_log *log;
	struct hs_elocal *loc;
	uint32_t from;
};

/* Mark what the words refer to; count the hits. */
static void mark_words(struct hs_refgraph *g, struct hs_stack *st, const uint8_t *p, size_t n,
		       uint64_t *hits, const struct hs_esrc *es)
{
	struct hs_heap *heap = g->heap;
	for (size_t i = 0; i < n; i++) {
		struct hs_chunk ch;
		bool won;
		hs_chunk_id id = hs_graph_mark(heap, hs_word_at(p, i), &ch, &won, &st->hint);
		if (id == HS_CHUNK_ID_NONE)
			continue;
		if (hits)
			(*hits)++;
		if (es->log)
			elog_hit(es->log, es->loc, es->from, id, &ch, won);
		if (won)
			push(st, id);
	}
}

/* Every piece of [lo, hi) the core holds. */
static void mark_range(struct hs_refgraph *g, struct hs_stack *st, uint64_t lo, uint64_t hi,
		       uint64_t *hits, const struct hs_esrc *es)
{
	while (lo < hi) {
		uint64_t first;
		size_t n;
		const uint8_t *p = hs_graph_words(g, lo, hi, &first, &n);
		if (p)
			mark_words(g, st, p, n, hits, es);
		uint64_t next = first + 8 * (uint64_t)n;
		if (!n) {
			/* Not in the core here: skip to where it is again. */
			uint64_t b;
			if (!hs_memory_next_backed(&g->proc->mem, first + 1, &b) || b >= hi)
				return;
			next = b;
		}
		if (next <= lo)
			return;
		lo = next;
	}
}

static void mark_chunk(struct hs_refgraph *g, struct hs_stack *st, hs_chunk_id id,
		       struct hs_edge_log *log, struct hs_elocal *loc)
{
	struct hs_chunk ch;
	if (!hs_heap_chunk(g->heap, id, &ch))
		return;
	struct hs_esrc es = {log, loc, log ? (uint32_t)hs_chunk_rank(log->ranks, id) : 0};
	uint64_t end = ch.addr + hs_chunk_usable(g->heap, &ch);
	mark_range(g, st, ch.addr, end < ch.addr ? UINT64_MAX : end, NULL, &es);
}

static void drain(struct hs_refgraph *g, struct hs_stack *st, struct hs_edge_log *log,
		  struct hs_elocal *loc)
{
	while (st->n)
		mark_chunk(g, st, st->v[--st->n], log, loc);
}

static bool hs_graph_source(const struct hs_chunk *ch)
{
	return hs_chunk_state(ch) == HS_CHUNK_IN_USE && !(hs_chunk_flags(ch) & HS_CHUNK_F_METADATA);
}

/* ------------------------------------------------------------------ parallel marking */

/*
 * Marking on several threads. Work is a stretch of memory to read words
 * from: a root range (counted under its kind) or an in-use chunk's user
 * bytes; a stretch longer than HS_MARK_PIECE is cut, so that one big array
 * of pointers is shared out too. Each thread keeps its own stack and gives
 * half of it to a shared pool when the pool runs dry; a chunk is pushed by
 * the one thread whose test-and-set of its MARK bit won. The marking ends
 * when every thread waits on an empty pool with an empty stack.
 */
#define HS_MARK_PIECE (UINT64_C(64) << 10)
#define HS_MARK_BATCH 256

struct hs_mitem {
	uint64_t lo, hi;
	uint32_t kind; /* enum hs_root_kind, or HS_ROOT_NKINDS for a chunk */
	uint32_t src;  /* with an edge log: the chunk's rank, or the log's root */
};

struct hs_mpool {
	struct hs_refgraph *g;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct hs_mitem *v;
	size_t n, cap;
	unsigned nthreads, idle;
	bool done, overflow, nomem;
	uint64_t counts[HS_ROOT_NKINDS];
	size_t stack_max; /* items per thread's stack */
	struct hs_edge_log *log; /* NULL: no edges */
};

struct hs_mlocal {
	struct hs_mitem *v;
	size_t n, cap;
	bool overflow;
	size_t hint; /* hs_heap_mark_at's */
};

static void mgrow_push(struct hs_mpool *pl, struct hs_mlocal *st, uint64_t lo, uint64_t hi,
		       uint32_t kind, uint32_t src)
{
	size_t cap = st->cap ? st->cap * 2 : 1024;
	struct hs_mitem *v = cap <= pl->stack_max ? realloc(st->v, cap * sizeof(*v)) : NULL;
	if (!v) {
		st->overflow = true; /* the chunk stays marked, unscanned: rescanned later */
		return;
	}
	st->v = v;
	st->cap = cap;
	st->v[st->n++] = (struct hs_mitem){lo, hi, kind, src};
}

/* The fields one by one, not a struct by value: that cost a store-forwarding
 * stall per push, a third of the marking on a core of 40 M small chunks. */
static inline void mpush(struct hs_mpool *pl, struct hs_mlocal *st, uint64_t lo, uint64_t hi,
			 uint32_t kind, uint32_t src)
{
	if (st->n == st->cap) {
		mgrow_push(pl, st, lo, hi, kind, src);
		return;
	}
	struct hs_mitem *it = &st->v[st->n++];
	it->lo = lo;
	it->hi = hi;
	it->kind = kind;
	it->src = src;
}

/* One item into the shared pool, for whoever waits; false if no room. */
static bool mshare(struct hs_mpool *pl, uint64_t lo, uint64_t hi, uint32_t kind, uint32_t src)
{
	pthread_mutex_lock(&pl->lock);
	bool ok = hs_grow((void **)&pl->v, &pl->cap, pl->n + 1, sizeof(*pl->v));
	if (ok) {
		pl->v[pl->n++] = (struct hs_mitem){lo, hi, kind, src};
		pthread_cond_broadcast(&pl->cond);
	}
	pthread_mutex_unlock(&pl->lock);
	return ok;
}

/* hs_graph_words, remembering the core range of the last call: marking
 * visits chunks mostly in one range. */
static const uint8_t *mwords(struct hs_refgraph *g, const struct hs_memory_range **last,
			     uint64_t lo, uint64_t hi, uint64_t *first, size_t *n)
{
	const struct hs_memory_range *r = *last;
	uint64_t a = (lo + 7) & ~UINT64_C(7);
	if (r && a >= lo && a < hi && a >= r->start && a - r->start < r->filesz) {
		uint64_t end = r->start + r->filesz;
		if (end < r->start || end > hi)
			end = hi;
		*first = a;
		*n = (size_t)((end - a) / 8);
		return r->data + (a - r->start);
	}
	const uint8_t *p = hs_graph_words(g, lo, hi, first, n);
	if (p)
		*last = hs_memory_find(&g->proc->mem, *first);
	return p;
}

/*
 * A chunk this small is read at once when its MARK bit is won, rather than
 * pushed and popped later: what it refers to is pushed as usual. The marks
 * are the same (a closure does not depend on the order it is taken in), and
 * root counts are only kept for root ranges.
 */
#define HS_MARK_INLINE 64

static void mscan_small(struct hs_mpool *pl, struct hs_mlocal *st, struct hs_elocal *el,
			const struct hs_memory_range **last, uint64_t lo, uint64_t hi, uint32_t src)
{
	struct hs_refgraph *g = pl->g;
	struct hs_heap *heap = g->heap;
	uint64_t first;
	size_t n;
	const uint8_t *p = mwords(g, last, lo, hi, &first, &n);
	if (!p || first + 8 * (uint64_t)n < hi) {
		/* Not all in one piece of the core: the general way. */
		mpush(pl, st, lo, hi, HS_ROOT_NKINDS, src);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct hs_chunk ch;
		bool won;
		hs_chunk_id id = hs_graph_mark(heap, hs_word_at(p, i), &ch, &won, &st->hint);
		if (id == HS_CHUNK_ID_NONE)
			continue;
		uint32_t r = pl->log ? elog_hit(pl->log, el, src, id, &ch, won) : 0;
		if (!won)
			continue;
		uint64_t end = ch.addr + hs_chunk_usable(heap, &ch);
		mpush(pl, st, ch.addr, end < ch.addr ? UINT64_MAX : end, HS_ROOT_NKINDS, r);
	}
}

/* Read the words of item `it` (at most one piece of it; the rest goes back
 * on the stack) and push what they mark. Flattened: with link-time
 * optimization that inlines hs_heap_mark_at from the store's library too,
 * whose call once a word was a fifth of the marking of 40 M small chunks. */
__attribute__((flatten)) static void mwork(struct hs_mpool *pl, struct hs_mlocal *st,
					   struct hs_elocal *el, struct hs_mitem it,
					   uint64_t counts[HS_ROOT_NKINDS],
					   const struct hs_memory_range **last)
{
	struct hs_refgraph *g = pl->g;
	struct hs_heap *heap = g->heap;
	if (it.hi - it.lo > HS_MARK_PIECE) {
		/* The rest of a long stretch goes to the pool when it runs dry:
		 * with small chunks read at once, such a stretch (an array of
		 * pointers) can be all the work there is, and a stack of one
		 * item is never shared below. */
		if (pl->nthreads < 2 || __atomic_load_n(&pl->n, __ATOMIC_RELAXED) ||
		    !mshare(pl, it.lo + HS_MARK_PIECE, it.hi, it.kind, it.src))
			mpush(pl, st, it.lo + HS_MARK_PIECE, it.hi, it.kind, it.src);
		it.hi = it.lo + HS_MARK_PIECE;
	}
	uint64_t lo = it.lo;
	while (lo < it.hi) {
		uint64_t first;
		size_t n;
		const uint8_t *p = mwords(g, last, lo, it.hi, &first, &n);
		for (size_t i = 0; i < n; i++) {
			struct hs_chunk ch;
			bool won;
			hs_chunk_id id = hs_graph_mark(heap, hs_word_at(p, i), &ch, &won, &st->hint);
			if (id == HS_CHUNK_ID_NONE)
				continue;
			if (it.kind < HS_ROOT_NKINDS)
				counts[it.kind]++;
			uint32_t r = pl->log ? elog_hit(pl->log, el, it.src, id, &ch, won) : 0;
			if (won) {
				uint64_t end = ch.addr + hs_chunk_usable(heap, &ch);
				if (end < ch.addr)
					end = UINT64_MAX;
				if (end - ch.addr <= HS_MARK_INLINE)
					mscan_small(pl, st, el, last, ch.addr, end, r);
				else
					mpush(pl, st, ch.addr, end, HS_ROOT_NKINDS, r);
			}
		}
		uint64_t next = first + 8 * (uint64_t)n;
		if (!n) {
			uint64_t b;
			if (!hs_memory_next_backed(&g->proc->mem, first + 1, &b) || b >= it.hi)
				return;
			next = b;
		}
		if (next <= lo)
			return;
		lo = next;
	}
}

static void *hs_mark_thread(void *arg)
{
	struct hs_mpool *pl = arg;
	struct hs_mlocal st = {0};
	struct hs_elocal el = {0};
	uint64_t counts[HS_ROOT_NKINDS] = {0};
	const struct hs_memory_range *last = NULL;
	for (;;) {
		if (!st.n) {
			pthread_mutex_lock(&pl->lock);
			while (!pl->n && !pl->done) {
				if (++pl->idle == pl->nthreads) {
					pl->done = true;
					pthread_cond_broadcast(&pl->cond);
					break;
				}
				pthread_cond_wait(&pl->cond, &pl->lock);
				pl->idle--;
			}
			if (pl->done && !pl->n) {
				pthread_mutex_unlock(&pl->lock);
				break;
			}
			size_t take = pl->n < HS_MARK_BATCH ? pl->n : HS_MARK_BATCH;
			for (size_t i = 0; i < take; i++) {
				const struct hs_mitem *t = &pl->v[--pl->n];
				mpush(pl, &st, t->lo, t->hi, t->kind, t->src);
			}
			pthread_mutex_unlock(&pl->lock);
			continue;
		}
		struct hs_mitem it = st.v[--st.n];
		mwork(pl, &st, &el, it, counts, &last);
		if (it.kind < HS_ROOT_NKINDS)
			hs_progress_add(pl->g->progress, it.hi - it.lo > HS_MARK_PIECE ? HS_MARK_PIECE
										 : it.hi - it.lo);
		/* Share: half of a deep stack when others may be waiting. */
		if (st.n > 2 * HS_MARK_BATCH && pl->nthreads > 1 &&
		    __atomic_load_n(&pl->n, __ATOMIC_RELAXED) == 0) {
			pthread_mutex_lock(&pl->lock);
			size_t give = st.n / 2;
			if (hs_grow((void **)&pl->v, &pl->cap, pl->n + give, sizeof(*pl->v))) {
				memcpy(pl->v + pl->n, st.v, give * sizeof(*st.v));
				memmove(st.v, st.v + give, (st.n - give) * sizeof(*st.v));
				pl->n += give;
				st.n -= give;
				pthread_cond_broadcast(&pl->cond);
			}
			pthread_mutex_unlock(&pl->lock);
		}
	}
	pthread_mutex_lock(&pl->lock);
	for (int k = 0; k < HS_ROOT_NKINDS; k++)
		pl->counts[k] += counts[k];
	pl->overflow |= st.overflow;
	if (pl->log)
		elog_flush(pl->log, &el);
	pthread_mutex_unlock(&pl->lock);
	free(st.v);
	return NULL;
}

struct hs_error *hs_mark_edges(struct hs_refgraph *g, struct hs_edge_log *log)
{
	struct hs_mpool pl = {.g = g, .nthreads = g->threads, .log = log};
	struct hs_elocal el = {0};
	const struct hs_esrc roots = {log, &el, log ? log->root : 0};
	/* The same 64 MiB in all, whatever the number of threads. */
	pl.stack_max = HS_STACK_MAX * sizeof(hs_chunk_id) / sizeof(struct hs_mitem) /
		       (pl.nthreads ? pl.nthreads : 1);
	hs_heap_chunk_bits_clear(g->heap, HS_CHUNK_BIT_MARK);
	memset(g->counts, 0, sizeof(g->counts));
	/* Registers, here; every root range, into the pool. */
	struct hs_stack st = {0};
	for (size_t t = 0; t < g->proc->nthreads; t++) {
		const struct hs_thread *th = &g->proc->threads[t];
		mark_words(g, &st, (const uint8_t *)th->regs, HS_ARRAY_SIZE(th->regs),
			   &g->counts[HS_ROOT_REGISTERS], &roots);
	}
	uint64_t total = 0;
	size_t need = st.n + g->nroots;
	if (!hs_grow((void **)&pl.v, &pl.cap, need ? need : 1, sizeof(*pl.v))) {
		free(st.v);
		return HS_ENOMEM;
	}
	for (size_t i = 0; i < st.n; i++) {
		struct hs_chunk ch;
		hs_heap_chunk(g->heap, st.v[i], &ch);
		uint64_t end = ch.addr + hs_chunk_usable(g->heap, &ch);
		uint32_t src = log ? (uint32_t)hs_chunk_rank(log->ranks, st.v[i]) : 0;
		pl.v[pl.n++] = (struct hs_mitem){ch.addr, end < ch.addr ? UINT64_MAX : end,
						 HS_ROOT_NKINDS, src};
	}
	free(st.v);
	for (size_t i = g->nroots; i-- > 0;) {
		pl.v[pl.n++] = (struct hs_mitem){g->roots[i].lo, g->roots[i].hi, g->roots[i].kind,
						 roots.from};
		total += g->roots[i].hi - g->roots[i].lo;
	}
	hs_progress_phase(g->progress, "mark reachable", total);
	pthread_mutex_init(&pl.lock, NULL);
	pthread_cond_init(&pl.cond, NULL);
	struct hs_error *err = hs_parallel(pl.nthreads, hs_mark_thread, &pl);
	pthread_cond_destroy(&pl.cond);
	pthread_mutex_destroy(&pl.lock);
	free(pl.v);
	for (int k = 0; k < HS_ROOT_NKINDS; k++)
		g->counts[k] += pl.counts[k];
	/* Chunks that found a stack full are marked but unscanned: scan every
	 * marked chunk again until nothing overflows (Boehm's way). */
	struct hs_stack rs = {.overflow = pl.overflow};
	while (!err && rs.overflow) {
		rs.overflow = false;
		struct hs_chunk_iter it;
		struct hs_chunk ch;
		hs_chunk_id id;
		hs_chunk_iter_init(&it, g->heap, 0, UINT64_MAX);
		while (hs_chunk_iter_next(&it, &ch, &id)) {
			if (!hs_graph_source(&ch) || !hs_heap_chunk_bit(g->heap, id, HS_CHUNK_BIT_MARK))
				continue;
			mark_chunk(g, &rs, id, log, &el);
			drain(g, &rs, log, &el);
		}
	}
	free(rs.v);
	if (log)
		elog_flush(log, &el);
	g->marked = !err;
	return err;
}


struct hs_error *hs_refgraph_create(struct hs_process *proc, struct hs_heap *heap,
				    const struct hs_refgraph_options *opts,
				    struct hs_refgraph **ret)
{
	struct hs_refgraph *g = calloc(1, sizeof(*g));
	if (!g)
		return HS_ENOMEM;
	g->proc = proc;
	g->heap = heap;
	g->threads = hs_parallel_threads(opts ? opts->threads : 0);
	g->progress = opts ? opts->progress : NULL;
	struct hs_error *err = hs_roots_build(g);
	if (!err && opts && opts->retained) {
		err = hs_dominators_create(g, opts->retained_limit, &g->tree);
		if (err && err->code == HS_ERR_OTHER) {
			/* Over its limit: the marks without the tree (the tree
			 * may have stopped after marking). */
			g->tree_note = hs_strdup(err->message);
			hs_error_destroy(err);
			err = !g->tree_note ? HS_ENOMEM : g->marked ? NULL : hs_mark_edges(g, NULL);
		}
	} else if (!err) {
		err = hs_mark_edges(g, NULL);
	}
	if (err) {
		hs_refgraph_destroy(g);
		return err;
	}
	*ret = g;
	return NULL;
}

void hs_refgraph_destroy(struct hs_refgraph *g)
{
	if (!g)
		return;
	hs_dominators_destroy(g->tree);
	free(g->tree_note);
	free(g->roots);
	free(g);
}

struct hs_dominators *hs_refgraph_tree(const struct hs_refgraph *g, const char **why)
{
	if (why)
		*why = g->tree_note;
	return g->tree;
}

void hs_refgraph_root_counts(const struct hs_refgraph *g, uint64_t counts[HS_ROOT_NKINDS])
{
	memcpy(counts, g->counts, sizeof(g->counts));
}

/* ------------------------------------------------------------------ indirect leaks */

/*
 * The sweep for indirect leaks on every thread: each takes parts of the
 * heap (of about equal bytes) and scans the leaked chunks in them; a leaked
 * chunk one of them refers to is flipped (its MARK bit set, the one winner
 * of the test-and-set reports it through fn) and scanned by the thread that
 * flipped it, unless that thread's own sweep passed it already (then it
 * was scanned as a source: it was unmarked then, or it could not be flipped
 * now). fn is not thread-safe: the flipped ids go to it in batches, under
 * a lock. The set of flipped chunks does not depend on the order: it is the
 * leaked chunks some other leaked chunk refers to.
 */
#define HS_FLIP_PARTS_PER_THREAD 16
#define HS_FLIP_BATCH 256

struct hs_flip_pool {
	struct hs_refgraph *g;
	uint64_t *bounds;
	size_t nparts;
	size_t next; /* atomic: the next part to take */
	struct hs_error *(*fn)(hs_chunk_id id, void *arg);
	void *arg;
	pthread_mutex_t lock; /* fn, err */
	struct hs_error *err;
	bool failed;   /* atomic: err is set, stop */
	bool overflow; /* atomic: a stack was full, some flipped chunk unscanned */
};

struct hs_flip {
	struct hs_flip_pool *pl;
	struct hs_stack st;
	uint64_t lo, sweep; /* the part at hand, from lo: chunks up to sweep scanned */
	bool push; /* the sweep, not the fallback pass */
	const struct hs_memory_range *last; /* mwords' */
	hs_chunk_id pend[HS_FLIP_BATCH];
	size_t npend;
};

static void flip_report(struct hs_flip *f)
{
	struct hs_flip_pool *pl = f->pl;
	if (!f->npend)
		return;
	pthread_mutex_lock(&pl->lock);
	for (size_t i = 0; i < f->npend && !pl->err; i++)
		pl->err = pl->fn(f->pend[i], pl->arg);
	if (pl->err)
		__atomic_store_n(&pl->failed, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pl->lock);
	f->npend = 0;
}

/* The leaked chunks chunk `src` refers to become indirect. */
static void flip_chunk(struct hs_flip *f, hs_chunk_id src, const struct hs_chunk *sch)
{
	struct hs_refgraph *g = f->pl->g;
	struct hs_heap *heap = g->heap;
	uint64_t lo = sch->addr, hi = lo + hs_chunk_usable(heap, sch);
	if (hi < lo)
		hi = UINT64_MAX;
	while (lo < hi) {
		uint64_t first;
		size_t n;
		const uint8_t *p = mwords(g, &f->last, lo, hi, &first, &n);
		for (size_t i = 0; i < n; i++) {
			struct hs_chunk ch;
			hs_chunk_id id = hs_graph_target(heap, hs_word_at(p, i), &ch);
			if (id == HS_CHUNK_ID_NONE || id == src ||
			    hs_heap_chunk_bit_set(heap, id, HS_CHUNK_BIT_MARK))
				continue;
			f->pend[f->npend++] = id;
			if (f->npend == HS_FLIP_BATCH)
				flip_report(f);
			if (f->push && !(ch.addr >= f->lo && ch.addr <= f->sweep))
				push(&f->st, id);
		}
		if (!n)
			return;
		lo = first + 8 * (uint64_t)n;
	}
}

static void *flip_thread(void *arg)
{
	struct hs_flip_pool *pl = arg;
	struct hs_heap *heap = pl->g->heap;
	struct hs_flip f = {.pl = pl, .push = true};
	for (;;) {
		size_t pi = __atomic_fetch_add(&pl->next, 1, __ATOMIC_RELAXED);
		if (pi >= pl->nparts || __atomic_load_n(&pl->failed, __ATOMIC_RELAXED))
			break;
		struct hs_chunk_iter it;
		struct hs_chunk ch;
		hs_chunk_id id;
		uint64_t done = pl->bounds[pi];
		f.lo = pl->bounds[pi];
		f.sweep = 0;
		/* Only the unmarked chunks matter: stepped to a bitmap word at a time. */
		hs_chunk_iter_init(&it, heap, pl->bounds[pi], pl->bounds[pi + 1]);
		while (hs_chunk_iter_next_unmarked(&it, &ch, &id)) {
			if (ch.addr > done) {
				hs_progress_add(pl->g->progress, ch.addr - done);
				done = ch.addr;
			}
			if (!hs_graph_source(&ch))
				continue;
			f.sweep = ch.addr;
			flip_chunk(&f, id, &ch);
			while (f.st.n) {
				hs_chunk_id y = f.st.v[--f.st.n];
				struct hs_chunk ych;
				if (hs_heap_chunk(heap, y, &ych))
					flip_chunk(&f, y, &ych);
			}
			if (__atomic_load_n(&pl->failed, __ATOMIC_RELAXED))
				break;
		}
	}
	flip_report(&f);
	if (f.st.overflow)
		__atomic_store_n(&pl->overflow, true, __ATOMIC_RELAXED);
	free(f.st.v);
	return NULL;
}

struct hs_error *hs_refgraph_indirect(struct hs_refgraph *g,
				      struct hs_error *(*fn)(hs_chunk_id id, void *arg),
				      void *arg)
{
	struct hs_flip_pool pl = {.g = g, .fn = fn, .arg = arg};
	size_t want = (size_t)g->threads * HS_FLIP_PARTS_PER_THREAD;
	pl.bounds = malloc((want + 1) * sizeof(*pl.bounds));
	if (!pl.bounds)
		return HS_ENOMEM;
	pl.nparts = hs_heap_split(g->heap, want, pl.bounds);
	pthread_mutex_init(&pl.lock, NULL);
	/* Progress by address: the sweep steps over marked chunks unseen. */
	hs_progress_phase(g->progress, "find indirect leaks", g->heap->hi - g->heap->lo);
	/*
	 * A leaked chunk's referrers are all leaked (a reachable one would make
	 * it reachable), so sweeping the leaked chunks sees every edge between
	 * leaks.
	 */
	struct hs_error *err = hs_parallel(g->threads, flip_thread, &pl);
	if (!err)
		err = pl.err;
	/* A chunk that found a stack full was flipped but not scanned: one
	 * pass over every chunk sees every remaining edge. */
	if (!err && pl.overflow) {
		struct hs_flip f = {.pl = &pl, .push = false};
		struct hs_chunk_iter it;
		struct hs_chunk ch;
		hs_chunk_id id;
		hs_chunk_iter_init(&it, g->heap, 0, UINT64_MAX);
		while (!pl.err && hs_chunk_iter_next(&it, &ch, &id))
			if (hs_graph_source(&ch))
				flip_chunk(&f, id, &ch);
		flip_report(&f);
		err = pl.err;
	}
	pthread_mutex_destroy(&pl.lock);
	free(pl.bounds);
	return err;
}

/* ------------------------------------------------------------------ referrers */

void hs_refgraph_referrers(struct hs_refgraph *g, hs_chunk_id id, uint64_t *addrs, size_t max,
			   uint64_t *n)
{
	struct hs_heap *heap = g->heap;
	struct hs_chunk_iter it;
	struct hs_chunk ch;
	hs_chunk_id src;
	*n = 0;
	hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
	while (hs_chunk_iter_next(&it, &ch, &src)) {
		if (!hs_graph_source(&ch) || src == id)
			continue;
		uint64_t lo = ch.addr, hi = lo + hs_chunk_usable(heap, &ch);
		bool hit = false;
		while (lo < hi && !hit) {
			uint64_t first;
			size_t k;
			const uint8_t *p = hs_graph_words(g, lo, hi, &first, &k);
			for (size_t i = 0; i < k && !hit; i++) {
				struct hs_chunk tc;
				hit = hs_graph_target(heap, hs_word_at(p, i), &tc) == id;
			}
			if (!k)
				break;
			lo = first + 8 * (uint64_t)k;
		}
		if (hit) {
			if (*n < max)
				addrs[*n] = ch.addr;
			(*n)++;
		}
	}
}
