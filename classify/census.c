/* census.c: every in-use chunk counted by type on several threads, merged into report types and patterns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/parallel.h"
#include "../common/progress.h"
#include "classes.h"
#include "patterns.h"

#define HS_EXAMPLES 3
#define HS_SAMPLES 3
/* Pattern clusters reported one by one; the rest are summed in one row. */
#define HS_REPORT_PATTERNS 100
/* Chunks up to this many bytes are compared with the last one detected. */
#define HS_SAME_BYTES 256
/* Parts per thread: enough that one slow part does not leave a core idle. */
#define HS_PARTS_PER_THREAD 16

/* What is counted of one type. */
struct hs_tally {
	uint64_t count, bytes, weak;
	struct hs_report_count leaked, indirect;
	uint64_t retained;
	uint64_t examples[HS_EXAMPLES]; /* the lowest addresses */
	unsigned nexamples;
	uint64_t samples[HS_SAMPLES]; /* patterns: the lowest addresses */
	unsigned nsamples;
	uint64_t runs;
};

/* A type of the merged census. */
struct hs_gtype {
	char *name;
	enum hs_kind kind;
	double confidence, weak_confidence;
	uint64_t size;
	uint32_t signature;
	struct hs_tally t;
};

/* Where a part begins and ends, for runs that cross from one part into the
 * next: the first and last chunk's type, and whether each is linked to its
 * neighbour inside the part. */
struct hs_part {
	unsigned thread;
	uint64_t nchunks;
	uint32_t first_type, last_type; /* the thread's ids, or HS_TYPE_NONE */
	uint64_t first_addr, last_end;
	bool first_linked, last_linked;
};

struct hs_census_thread {
	struct hs_classes *c;
	struct hs_tally *t; /* parallel to c->types */
	size_t nt;
	uint32_t *map; /* c's ids -> census ids, after the merge */
};

#define HS_TAG_BITS 24

struct hs_census {
	struct hs_classifier *cl;
	bool leaks, has_retained;
	void (*sink)(void *arg, hs_chunk_id id, uint32_t tag);
	void *sink_arg;
	uint32_t *maps[HS_MAX_THREADS]; /* each thread's type ids -> census ids */
	size_t nmaps[HS_MAX_THREADS];
	struct hs_gtype *types;
	size_t ntypes, types_cap;
	struct hs_u64map by_name; /* hash of name -> id (first of a hash) */
	struct hs_classes *solo;  /* for the calls after the run */
	struct hs_report_count indirect;

	/* During the run: */
	struct hs_census_thread threads[HS_MAX_THREADS];
	unsigned nthreads, next_thread; /* atomic */
	struct hs_part *parts;
	uint64_t *bounds;
	size_t nparts, next_part; /* atomic */
	bool nomem;
};

static void hs_keep_lowest_slow(uint64_t *arr, unsigned *n, unsigned cap, uint64_t v)
{
	unsigned i = *n;
	if (i == cap)
		i = cap - 1;
	else
		(*n)++;
	while (i > 0 && arr[i - 1] > v) {
		arr[i] = arr[i - 1];
		i--;
	}
	arr[i] = v;
}

/* The cap lowest of the values seen, in order. Inline, the test that turns
 * away almost every chunk of a part (it comes in address order). */
static inline void hs_keep_lowest(uint64_t *arr, unsigned *n, unsigned cap, uint64_t v)
{
	if (*n < cap || v < arr[cap - 1])
		hs_keep_lowest_slow(arr, n, cap, v);
}

static struct hs_tally *hs_thread_tally(struct hs_census_thread *th, uint32_t id)
{
	if (id >= th->nt) {
		size_t cap = th->nt;
		if (!hs_grow((void **)&th->t, &cap, (size_t)id + 1, sizeof(*th->t)))
			return NULL;
		memset(th->t + th->nt, 0, (cap - th->nt) * sizeof(*th->t));
		th->nt = cap;
	}
	return &th->t[id];
}

/* The sums of the type at hand, kept apart while its chunks follow one
 * another: the tally's fields in memory were read and written back once a
 * chunk (3-5% of the census on a heap of one type). */
struct hs_tally_acc {
	uint32_t type;
	bool pattern;
	uint64_t count, bytes, weak;
	struct hs_report_count leaked;
};

static inline void hs_tally_flush(struct hs_census_thread *th, struct hs_tally_acc *a)
{
	if (a->type == HS_TYPE_NONE || !a->count)
		return;
	struct hs_tally *ty = &th->t[a->type];
	ty->count += a->count;
	ty->bytes += a->bytes;
	ty->weak += a->weak;
	ty->leaked.count += a->leaked.count;
	ty->leaked.bytes += a->leaked.bytes;
	a->count = a->bytes = a->weak = 0;
	a->leaked = (struct hs_report_count){0};
}

/* Chunks taken from the store at once (hs_chunk_iter_many). */
#define HS_CENSUS_BATCH 64

/* A part's pass: what it keeps from chunk to chunk. */
struct hs_cloop {
	struct hs_census *cs;
	struct hs_census_thread *th;
	struct hs_classes *c;
	struct hs_part *part;
	/* The last chunk detected: a chunk of the same size, evidence bit and
	 * bytes is of the same type (every detector reads only those, and the
	 * memory they point at), which spares billions of identical leaked
	 * objects the detectors. */
	struct {
		const uint8_t *p;
		size_t avail;
		uint64_t size;
		bool ref, weak;
		uint32_t type;
	} last;
	struct hs_tally_acc acc;
	struct hs_tally *ty; /* acc.type's */
	/* What the loop reads of cs, in locals: stores through the tallies
	 * could alias cs, and each was loaded again once a chunk. */
	void (*sink)(void *arg, hs_chunk_id id, uint32_t tag);
	void *sink_arg;
	bool leaks, accept_weak, memo;
	uint32_t prev;
	uint64_t prev_end, done, nchunks;
	bool prev_run;
};

/* The type of in-use chunk k, whose REF bit is k->ref. */
static inline uint32_t hs_cloop_type(struct hs_cloop *L, const struct hs_cchunk *k, bool *weak)
{
	uint64_t size = hs_chunk_size(&k->c);
	bool ref = k->ref;
	if (L->last.type != HS_TYPE_NONE && k->p && L->last.size == size && L->last.ref == ref &&
	    L->last.avail == k->avail && k->avail <= HS_SAME_BYTES &&
	    (k->avail < 8 || hs_le64(L->last.p) == hs_le64(k->p)) &&
	    !memcmp(L->last.p, k->p, k->avail) && L->memo) {
		*weak = L->last.weak;
		return L->last.type;
	}
	uint32_t t = hs_classes_detect(L->c, k, L->accept_weak, weak, NULL, 0);
	L->last.type = k->p && k->avail <= HS_SAME_BYTES ? t : HS_TYPE_NONE;
	L->last.p = k->p;
	L->last.avail = k->avail;
	L->last.size = size;
	L->last.ref = ref;
	L->last.weak = *weak;
	return t;
}

/* Where the part begins, and the chunk before the next one. */
static inline void hs_cloop_next(struct hs_cloop *L, uint32_t t, uint64_t addr, uint64_t end,
				 bool run)
{
	if (!L->nchunks++) {
		L->part->first_type = t;
		L->part->first_addr = addr;
	} else if (L->nchunks == 2) {
		L->part->first_linked = run;
	}
	L->prev = t;
	L->prev_end = end;
	L->prev_run = run;
}

/* Count in-use chunk (addr, size) of type t; false when out of memory.
 * Inline in both loops: a call once a chunk was 8% of the census. */
static inline __attribute__((always_inline)) bool
hs_cloop_count(struct hs_cloop *L, uint32_t t, bool weak, uint64_t addr, uint64_t size,
	       hs_chunk_id id, bool marked)
{
	if (t != L->acc.type || t == HS_TYPE_NONE) {
		/* hs_thread_tally may move the tallies: a new type's is looked
		 * up after the last one's sums are added. */
		hs_tally_flush(L->th, &L->acc);
		L->ty = t == HS_TYPE_NONE ? NULL : hs_thread_tally(L->th, t);
		if (!L->ty)
			return false;
		L->acc.type = t;
		L->acc.pattern = L->c->types[t].kind == HS_KIND_PATTERN;
	}
	struct hs_tally *ty = L->ty;
	L->acc.count++;
	L->acc.bytes += size;
	L->acc.weak += weak;
	if (L->sink)
		L->sink(L->sink_arg, id,
			t < (1u << HS_TAG_BITS) ? (uint32_t)L->part->thread << HS_TAG_BITS | t
						: UINT32_MAX);
	hs_keep_lowest(ty->examples, &ty->nexamples, HS_EXAMPLES, addr);
	if (L->leaks && !marked) {
		L->acc.leaked.count++;
		L->acc.leaked.bytes += size;
	}
	bool run = false;
	if (L->acc.pattern) {
		hs_keep_lowest(ty->samples, &ty->nsamples, HS_SAMPLES, addr);
		/* A run: adjacent chunks of one cluster, as seeds/001's leak
		 * looked. */
		run = L->prev == t && L->prev_end == addr;
		if (run && !L->prev_run)
			ty->runs++;
	}
	hs_cloop_next(L, t, addr, addr + size, run);
	return true;
}

/* The progress of `size` more bytes, a report every 16 MiB. */
static inline void hs_cloop_done(struct hs_cloop *L, uint64_t size)
{
	uint64_t was = L->done;
	L->done += size;
	if ((L->done >> 24) != (was >> 24))
		hs_progress_add(L->cs->cl->progress, ((L->done >> 24) - (was >> 24)) << 24);
}

/* A uniform stretch's chunks, as the general loop would count them: their
 * size, flags and core range are the stretch's, so each chunk's bytes are
 * an add away, not a lookup. False when out of memory. */
static bool hs_cloop_stretch(struct hs_cloop *L, const struct hs_chunk_stretch *sx)
{
	struct hs_classes *c = L->c;
	uint64_t size = sx->size, end = sx->addr + (uint64_t)sx->n * size;
	hs_cloop_done(L, (uint64_t)sx->n * size);
	uint64_t wanted = (sx->flags & HS_CHUNK_F_METADATA) ? 0 : sx->in_use;
	struct hs_cchunk k;
	k.c = hs_chunk_make(sx->addr, size, HS_CHUNK_IN_USE, sx->flags);
	/* The bytes: the whole stretch in one range of the core, each chunk
	 * with all of its usable bytes; else chunk by chunk. */
	const struct hs_memory_range *r = hs_classes_range(c, sx->addr);
	uint64_t usable = hs_sizing_usable(c->sizing, &k.c); /* at most size */
	bool whole = r && end > sx->addr && end - r->start <= r->filesz;
	for (unsigned i = 0; i < sx->n; i++) {
		uint64_t addr = sx->addr + i * size;
		if (!((wanted >> i) & 1)) {
			hs_cloop_next(L, HS_TYPE_NONE, addr, addr + size, false);
			continue;
		}
		if (whole) {
			k.c.addr = addr;
			k.id = sx->id + i;
			k.p = r->data + (addr - r->start);
			k.avail = (size_t)usable;
		} else {
			struct hs_chunk ch = hs_chunk_make(addr, size, HS_CHUNK_IN_USE, sx->flags);
			hs_classes_load(c, &ch, sx->id + i, &k);
		}
		k.ref = (int)((sx->ref >> i) & 1);
		bool weak;
		uint32_t t = hs_cloop_type(L, &k, &weak);
		if (!hs_cloop_count(L, t, weak, addr, size, sx->id + i, (sx->mark >> i) & 1))
			return false;
	}
	return true;
}

static void hs_census_part(struct hs_census *cs, struct hs_census_thread *th, size_t pi)
{
	/* The part's record is filled here and copied out at the end: parts
	 * are neighbours in one array, and threads writing theirs chunk by
	 * chunk shared cache lines (two threads took as long as one). */
	struct hs_part local = {0};
	struct hs_cloop L = {
		.cs = cs,
		.th = th,
		.c = th->c,
		.part = &local,
		.last = {.type = HS_TYPE_NONE},
		.acc = {.type = HS_TYPE_NONE},
		.sink = cs->sink,
		.sink_arg = cs->sink_arg,
		.leaks = cs->leaks,
		.accept_weak = cs->cl->accept_weak,
		.memo = !cs->cl->containers.count,
		.prev = HS_TYPE_NONE,
	};
	struct hs_chunk_iter it;
	local.thread = (unsigned)(th - cs->threads);
	local.first_type = local.last_type = HS_TYPE_NONE;
	hs_chunk_iter_init(&it, cs->cl->heap, cs->bounds[pi], cs->bounds[pi + 1]);
	struct hs_chunk chs[HS_CENSUS_BATCH];
	hs_chunk_id ids[HS_CENSUS_BATCH];
	uint8_t bitss[HS_CENSUS_BATCH];
	size_t nb = 0, bi = 0;
	for (;;) {
		if (bi == nb) {
			struct hs_chunk_stretch sx;
			if (!L.sink && hs_chunk_iter_stretch(&it, &sx)) {
				if (!hs_cloop_stretch(&L, &sx))
					goto nomem;
				continue;
			}
			nb = hs_chunk_iter_many(&it, chs, ids, bitss, HS_CENSUS_BATCH);
			bi = 0;
			if (!nb)
				break;
		}
		/* Field by field: a struct copy is stored 16 bytes at once,
		 * which the 8-byte loads of its fields wait on. */
		struct hs_chunk ch;
		ch.addr = chs[bi].addr;
		ch.info = chs[bi].info;
		hs_chunk_id id = ids[bi];
		unsigned bits = bitss[bi++];
		uint64_t size = hs_chunk_size(&ch);
		hs_cloop_done(&L, size);
		if (!hs_classes_wanted(&ch)) {
			hs_cloop_next(&L, HS_TYPE_NONE, ch.addr, ch.addr + size, false);
			continue;
		}
		struct hs_cchunk k;
		bool weak;
		hs_classes_load(L.c, &ch, id, &k);
		k.ref = (bits & (1u << HS_CHUNK_BIT_REF)) != 0;
		uint32_t t = hs_cloop_type(&L, &k, &weak);
		if (!hs_cloop_count(&L, t, weak, ch.addr, size, id,
				    bits & (1u << HS_CHUNK_BIT_MARK)))
			goto nomem;
	}
	hs_tally_flush(th, &L.acc);
	/* The last chunk's: */
	local.nchunks = L.nchunks;
	local.last_type = L.prev;
	local.last_end = L.prev_end;
	local.last_linked = L.prev_run;
	hs_progress_add(cs->cl->progress, L.done & ((UINT64_C(1) << 24) - 1));
	cs->parts[pi] = local;
	return;
nomem:
	__atomic_store_n(&cs->nomem, true, __ATOMIC_RELAXED);
}

static void *hs_census_thread_main(void *arg)
{
	struct hs_census *cs = arg;
	unsigned ti = __atomic_fetch_add(&cs->next_thread, 1, __ATOMIC_RELAXED);
	struct hs_census_thread *th = &cs->threads[ti];
	if (hs_classes_create(cs->cl, &th->c)) {
		__atomic_store_n(&cs->nomem, true, __ATOMIC_RELAXED);
		return NULL;
	}
	for (;;) {
		size_t pi = __atomic_fetch_add(&cs->next_part, 1, __ATOMIC_RELAXED);
		if (pi >= cs->nparts || __atomic_load_n(&cs->nomem, __ATOMIC_RELAXED))
			break;
		hs_census_part(cs, th, pi);
	}
	return NULL;
}

/* ------------------------------------------------------------------ merging */

static uint64_t hs_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/* The census id of a thread's type, created on first sight. */
static uint32_t hs_census_type(struct hs_census *cs, const struct hs_ctype *ct)
{
	uint64_t h = hs_hash(ct->name);
	uint32_t id;
	if (hs_u64map_get(&cs->by_name, h, &id) && !strcmp(cs->types[id].name, ct->name))
		return id;
	for (size_t k = 0; k < cs->ntypes; k++)
		if (!strcmp(cs->types[k].name, ct->name))
			return (uint32_t)k;
	if (!hs_grow((void **)&cs->types, &cs->types_cap, cs->ntypes + 1, sizeof(*cs->types)))
		return HS_TYPE_NONE;
	struct hs_gtype *g = &cs->types[cs->ntypes];
	memset(g, 0, sizeof(*g));
	g->name = hs_strdup(ct->name);
	if (!g->name)
		return HS_TYPE_NONE;
	g->kind = ct->kind;
	g->confidence = ct->confidence;
	g->weak_confidence = ct->weak_confidence;
	g->size = ct->size;
	g->signature = ct->signature;
	id = (uint32_t)cs->ntypes++;
	uint32_t old;
	if (!hs_u64map_get(&cs->by_name, h, &old) && !hs_u64map_put(&cs->by_name, h, id)) {
		cs->ntypes--;
		free(g->name);
		return HS_TYPE_NONE;
	}
	return id;
}

static void hs_tally_merge(struct hs_tally *to, const struct hs_tally *from)
{
	to->count += from->count;
	to->bytes += from->bytes;
	to->weak += from->weak;
	to->leaked.count += from->leaked.count;
	to->leaked.bytes += from->leaked.bytes;
	to->runs += from->runs;
	for (unsigned i = 0; i < from->nexamples; i++)
		hs_keep_lowest(to->examples, &to->nexamples, HS_EXAMPLES, from->examples[i]);
	for (unsigned i = 0; i < from->nsamples; i++)
		hs_keep_lowest(to->samples, &to->nsamples, HS_SAMPLES, from->samples[i]);
}

static uint32_t hs_part_type(const struct hs_census *cs, const struct hs_part *p, uint32_t t)
{
	return t == HS_TYPE_NONE ? t : cs->threads[p->thread].map[t];
}

static bool hs_census_merge(struct hs_census *cs)
{
	for (unsigned i = 0; i < cs->nthreads; i++) {
		struct hs_census_thread *th = &cs->threads[i];
		if (!th->c)
			continue;
		size_t n = th->c->ntypes;
		th->map = malloc((n ? n : 1) * sizeof(*th->map));
		if (!th->map)
			return false;
		for (size_t k = 0; k < n; k++) {
			th->map[k] = HS_TYPE_NONE;
			if (k >= th->nt || !th->t[k].count)
				continue;
			uint32_t g = hs_census_type(cs, &th->c->types[k]);
			if (g == HS_TYPE_NONE)
				return false;
			th->map[k] = g;
			hs_tally_merge(&cs->types[g].t, &th->t[k]);
		}
	}
	/* Runs across part boundaries, in address order: two runs that meet
	 * are one, two lone chunks that meet are a new one. */
	uint32_t last = HS_TYPE_NONE;
	uint64_t last_end = 0;
	bool last_linked = false, any = false;
	for (size_t pi = 0; pi < cs->nparts; pi++) {
		const struct hs_part *p = &cs->parts[pi];
		if (!p->nchunks)
			continue;
		uint32_t first = hs_part_type(cs, p, p->first_type);
		bool link = any && first != HS_TYPE_NONE && first == last &&
			    last_end == p->first_addr && cs->types[first].kind == HS_KIND_PATTERN;
		if (link) {
			if (last_linked && p->first_linked)
				cs->types[first].t.runs--;
			else if (!last_linked && !p->first_linked)
				cs->types[first].t.runs++;
		}
		last = hs_part_type(cs, p, p->last_type);
		last_end = p->last_end;
		last_linked = p->nchunks == 1 ? link : p->last_linked;
		any = true;
	}
	return true;
}

static void hs_census_threads_free(struct hs_census *cs)
{
	for (unsigned i = 0; i < HS_MAX_THREADS; i++) {
		if (cs->threads[i].map && !cs->maps[i]) {
			/* Kept: tags name a thread's types. */
			cs->maps[i] = cs->threads[i].map;
			cs->nmaps[i] = cs->threads[i].c ? cs->threads[i].c->ntypes : 0;
			cs->threads[i].map = NULL;
		}
		hs_classes_destroy(cs->threads[i].c);
		free(cs->threads[i].t);
		free(cs->threads[i].map);
		memset(&cs->threads[i], 0, sizeof(cs->threads[i]));
	}
	free(cs->parts);
	free(cs->bounds);
	cs->parts = NULL;
	cs->bounds = NULL;
}

struct hs_error *hs_census_run(struct hs_classifier *cl, const struct hs_census_options *opts,
			       struct hs_census **ret)
{
	struct hs_census *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return HS_ENOMEM;
	cs->cl = cl;
	cs->leaks = opts && opts->leaks;
	cs->sink = opts ? opts->sink : NULL;
	cs->sink_arg = opts ? opts->sink_arg : NULL;
	hs_u64map_init(&cs->by_name);
	struct hs_error *err = hs_classes_create(cl, &cs->solo);
	size_t want = (size_t)cl->threads * HS_PARTS_PER_THREAD;
	cs->bounds = malloc((want + 1) * sizeof(*cs->bounds));
	cs->parts = calloc(want, sizeof(*cs->parts));
	if (!err && (!cs->bounds || !cs->parts))
		err = HS_ENOMEM;
	if (!err) {
		cs->nparts = hs_heap_split(cl->heap, want, cs->bounds);
		cs->nthreads = cl->threads;
		hs_progress_phase(cl->progress, "classify", hs_heap_span(cl->heap));
		err = hs_parallel(cs->nthreads, hs_census_thread_main, cs);
	}
	if (!err && (cs->nomem || !hs_census_merge(cs)))
		err = HS_ENOMEM;
	hs_census_threads_free(cs);
	if (err) {
		hs_census_destroy(cs);
		return err;
	}
	*ret = cs;
	return NULL;
}

void hs_census_destroy(struct hs_census *cs)
{
	if (!cs)
		return;
	hs_census_threads_free(cs);
	for (unsigned i = 0; i < HS_MAX_THREADS; i++)
		free(cs->maps[i]);
	for (size_t k = 0; k < cs->ntypes; k++)
		free(cs->types[k].name);
	free(cs->types);
	hs_u64map_deinit(&cs->by_name);
	hs_classes_destroy(cs->solo);
	free(cs);
}

/* The census type of chunk id, classified again. */
static struct hs_gtype *hs_census_type_of(struct hs_census *cs, hs_chunk_id id,
					  struct hs_chunk *ch)
{
	if (!hs_heap_chunk(cs->cl->heap, id, ch) || !hs_classes_wanted(ch))
		return NULL;
	struct hs_cchunk k;
	bool weak;
	hs_classes_load(cs->solo, ch, id, &k);
	uint32_t t = hs_classes_detect(cs->solo, &k, cs->cl->accept_weak, &weak, NULL, 0);
	if (t == HS_TYPE_NONE)
		return NULL;
	uint32_t g = hs_census_type(cs, &cs->solo->types[t]);
	return g == HS_TYPE_NONE ? NULL : &cs->types[g];
}

struct hs_error *hs_census_add_indirect(struct hs_census *cs, hs_chunk_id id)
{
	struct hs_chunk ch;
	struct hs_gtype *g = hs_census_type_of(cs, id, &ch);
	if (!g)
		return HS_ENOMEM;
	g->t.indirect.count++;
	g->t.indirect.bytes += hs_chunk_size(&ch);
	cs->indirect.count++;
	cs->indirect.bytes += hs_chunk_size(&ch);
	return NULL;
}

uint32_t hs_census_ntypes(const struct hs_census *cs)
{
	return (uint32_t)cs->ntypes;
}

uint32_t hs_census_type_of_tag(const struct hs_census *cs, uint32_t tag)
{
	uint32_t th = tag >> HS_TAG_BITS, t = tag & ((1u << HS_TAG_BITS) - 1);
	if (tag == UINT32_MAX || th >= HS_MAX_THREADS || !cs->maps[th] || t >= cs->nmaps[th])
		return UINT32_MAX;
	return cs->maps[th][t];
}

const char *hs_census_type_name(const struct hs_census *cs, uint32_t type, const char **kind)
{
	if (type >= cs->ntypes)
		return NULL;
	*kind = hs_kind_name(cs->types[type].kind);
	return cs->types[type].name;
}

void hs_census_add_type_retained(struct hs_census *cs, uint32_t type, uint64_t bytes)
{
	cs->has_retained = true;
	if (type < cs->ntypes)
		cs->types[type].t.retained += bytes;
}

/* ------------------------------------------------------------------ report */

/* Arrays handed to the report are sized like its own (a power of two, at
 * least 4) so that its append helpers may grow them later. */
static void *hs_report_array(size_t n, size_t elem)
{
	size_t cap = 4;
	while (cap < n)
		cap *= 2;
	return calloc(cap, elem);
}

/* qsort_r comparator: type ids by bytes, count, then name. */
static int hs_cmp_ids(const void *a, const void *b, void *arg)
{
	const struct hs_gtype *types = arg;
	const struct hs_gtype *x = &types[*(const uint32_t *)a], *y = &types[*(const uint32_t *)b];
	if (x->t.bytes != y->t.bytes)
		return x->t.bytes < y->t.bytes ? 1 : -1;
	if (x->t.count != y->t.count)
		return x->t.count < y->t.count ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int hs_cmp_report_types(const void *a, const void *b)
{
	const struct hs_report_type *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

static bool hs_fill_type(const struct hs_census *cs, struct hs_report_type *rt,
			 const char *name, const char *kind, const struct hs_gtype *g)
{
	const struct hs_tally *t = &g->t;
	rt->name = hs_strdup(name);
	rt->kind = hs_strdup(kind);
	rt->examples = malloc(HS_EXAMPLES * sizeof(*rt->examples));
	if (!rt->name || !rt->kind || !rt->examples)
		return false;
	rt->count = t->count;
	rt->bytes = t->bytes;
	memcpy(rt->examples, t->examples, t->nexamples * sizeof(*rt->examples));
	rt->nexamples = t->nexamples;
	if (g->confidence >= 0 && t->count) {
		rt->has_confidence = true;
		rt->confidence = ((double)(t->count - t->weak) * g->confidence +
				  (double)t->weak * g->weak_confidence) / (double)t->count;
	}
	if (cs->leaks) {
		rt->has_leaks = true;
		rt->leaked = t->leaked;
		rt->direct.count = t->leaked.count - t->indirect.count;
		rt->direct.bytes = t->leaked.bytes - t->indirect.bytes;
	}
	rt->retained = t->retained;
	rt->has_retained = cs->has_retained;
	return true;
}

struct hs_error *hs_census_report(const struct hs_census *cs, struct hs_report *r)
{
	uint32_t *ids = malloc((cs->ntypes ? cs->ntypes : 1) * sizeof(*ids));
	if (!ids)
		return HS_ENOMEM;
	size_t nids = 0, npat = 0;
	for (size_t k = 0; k < cs->ntypes; k++)
		if (cs->types[k].t.count)
			ids[nids++] = (uint32_t)k;
	qsort_r(ids, nids, sizeof(*ids), hs_cmp_ids, cs->types);
	for (size_t k = 0; k < nids; k++)
		npat += cs->types[ids[k]].kind == HS_KIND_PATTERN;
	size_t shown = npat < HS_REPORT_PATTERNS ? npat : HS_REPORT_PATTERNS;
	size_t ntypes = nids - npat + shown + (npat > shown);

	r->types = hs_report_array(ntypes, sizeof(*r->types));
	r->patterns = hs_report_array(shown, sizeof(*r->patterns));
	if (!r->types || !r->patterns)
		goto nomem;
	struct hs_gtype other = {.confidence = -1};
	size_t seen_pat = 0;
	for (size_t k = 0; k < nids; k++) {
		const struct hs_gtype *g = &cs->types[ids[k]];
		if (cs->leaks) {
			r->leaks.leaked.count += g->t.leaked.count;
			r->leaks.leaked.bytes += g->t.leaked.bytes;
		}
		if (g->kind == HS_KIND_PATTERN && seen_pat++ >= shown) {
			for (unsigned i = 0; i < g->t.nexamples; i++)
				hs_keep_lowest(other.t.examples, &other.t.nexamples, HS_EXAMPLES,
					       g->t.examples[i]);
			other.t.count += g->t.count;
			other.t.bytes += g->t.bytes;
			other.t.leaked.count += g->t.leaked.count;
			other.t.leaked.bytes += g->t.leaked.bytes;
			other.t.indirect.count += g->t.indirect.count;
			other.t.indirect.bytes += g->t.indirect.bytes;
			other.t.retained += g->t.retained;
			continue;
		}
		if (!hs_fill_type(cs, &r->types[r->ntypes++], g->name, hs_kind_name(g->kind), g))
			goto nomem;
		if (g->kind != HS_KIND_PATTERN)
			continue;
		struct hs_report_pattern *rp = &r->patterns[r->npatterns++];
		char sig[2 * HS_PATTERN_MAX_WORDS + 1];
		rp->signature = hs_strdup(hs_pattern_format(g->signature, sig, sizeof(sig)));
		rp->samples = calloc(HS_SAMPLES, sizeof(*rp->samples));
		if (!rp->signature || !rp->samples)
			goto nomem;
		rp->size = g->size;
		rp->count = g->t.count;
		rp->bytes = g->t.bytes;
		rp->runs = g->t.runs;
		for (unsigned s = 0; s < g->t.nsamples; s++) {
			struct hs_report_sample *smp = &rp->samples[rp->nsamples++];
			smp->address = g->t.samples[s];
			if (cs->cl->redact)
				continue;
			struct hs_chunk ch;
			if (!hs_heap_find(cs->cl->heap, smp->address, &ch, NULL))
				continue;
			struct hs_cchunk kc;
			hs_classes_load(cs->solo, &ch, HS_CHUNK_ID_NONE, &kc);
			if (!kc.p)
				continue;
			smp->hex = hs_hexdump(kc.p, kc.avail < HS_SAMPLE_BYTES ? kc.avail
								  : HS_SAMPLE_BYTES);
			if (!smp->hex)
				goto nomem;
		}
	}
	if (other.t.count &&
	    !hs_fill_type(cs, &r->types[r->ntypes++], "pattern (other clusters)", "pattern",
			  &other))
		goto nomem;
	qsort(r->types, r->ntypes, sizeof(*r->types), hs_cmp_report_types);
	if (cs->leaks) {
		r->leaks.present = true;
		r->leaks.indirect = cs->indirect;
		r->leaks.direct.count = r->leaks.leaked.count - cs->indirect.count;
		r->leaks.direct.bytes = r->leaks.leaked.bytes - cs->indirect.bytes;
	}
	free(ids);
	return NULL;
nomem:
	free(ids);
	return HS_ENOMEM;
}
