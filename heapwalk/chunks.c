/* chunks.c: the chunk store: every chunk of a walk in a few bits per heap granule or region. */
#include <stdlib.h>
#include <string.h>

#include "chunks.h"

/*
 * Two kinds of run (docs/scale.md):
 *
 * A variable run (VAR) holds chunks of any size that is a multiple of the
 * granule, at least two granules, in two bitmaps over its granules, kept
 * interleaved a word each (w[2k] = S, w[2k + 1] = T for granules 64k..):
 *   - S[g] = 1 where a chunk starts; S[g + 1] = 1 as well when that chunk is
 *     not in use (a chunk has two granules at least, so g + 1 is no start);
 *   - an in-use chunk at g keeps its mark bit in T[g] and its ref bit in
 *     T[g + 1]; a chunk not in use keeps "cached" (rather than free) in T[g];
 *   - every other bit is zero.
 * A chunk ends where the next one starts: the first S bit from g + 2 on.
 * Going backwards is the subtle part: the nearest S bit at or below an
 * address is a start or the marker of one. A maximal stretch of ones in S
 * begins with a start (a marker follows its start), and inside it starts
 * and markers alternate, so the parity of the ones below decides. Chunks of
 * 4096 granules or more get a run of their own, which bounds every scan.
 *
 * A uniform run (UNI) holds n equal regions (a slab, a span, one big chunk,
 * or a long stretch of equal in-use glibc chunks) in three bitmaps,
 * interleaved a word each: U (in use), A (in use: mark; not in use: cached),
 * B (in use: ref). Its chunks share their flags.
 *
 * A chunk id is the run's index (28 bits) and the granule or region (36).
 */
#define HS_ID_POS_BITS 36
#define HS_POS_MAX ((UINT64_C(1) << HS_ID_POS_BITS) - 1)
#define HS_RUNS_MAX ((UINT64_C(1) << 28) - 1)
#define HS_VAR_MAX_GRANULES 4096
/* Equal in-use chunks in a row that a bulk append puts in a uniform run
 * rather than a variable one (hs_heap_add_chunks): from there on the bits
 * it saves pay for the run records (its own, and the next run's). */
#define HS_UNI_MIN 1024
/* Runs closer than this share a cluster, which has one directory entry
 * (the first run that reaches it) per 64 KiB of its span, or per more when
 * that would take more than HS_DIR_PER_RUN entries a run (a hostile core's
 * chunk of petabytes): the directory stays within 4 bytes per 64 KiB of
 * heap plus a few bytes a run. */
#define HS_CLUSTER_GAP (UINT64_C(1) << 20)
#define HS_DIR_SHIFT 16
#define HS_DIR_PER_RUN 64
#define HS_DIR_MIN_SHIFT 12
/* Runs that overlap come only from a corrupt walk; a lookup steps over at
 * most this many of them. */
#define HS_LOOKUP_STEPS 256

enum { HS_RUN_VAR = 1, HS_RUN_UNI = 2 };

struct hs_run {
	uint64_t lo, hi; /* first chunk's address, last chunk's end */
	uint64_t n;      /* VAR: granules; UNI: regions */
	uint64_t rsize;  /* UNI: region size */
	uint64_t rmagic; /* UNI: ceil(2^64 / rsize) for run_div, or 0 */
	uint64_t *w;
	size_t wcap, wzero; /* words allocated, words zeroed */
	uint8_t kind, flags;
};

struct hs_cluster {
	uint64_t lo, hi;
	size_t first, end; /* runs [first, end) */
	size_t dir;        /* its directory entries in store->dir */
	unsigned shift;    /* bytes per entry: 1 << shift */
};

struct hs_chunk_store {
	struct hs_run *runs;
	size_t nruns, runs_cap;
	bool open; /* the last run still takes chunks */
	bool finished;
	unsigned gshift;
	struct hs_cluster *clusters;
	size_t nclusters;
	uint32_t *dir;
	size_t ndir;
	struct hs_size_count *sizes; /* open addressing by size */
	size_t sizes_cap, nsizes;
	struct hs_size_count *last_size; /* the slot the last chunk used */
	bool dirty[2]; /* a chunk's bit of that kind may be set */
	bool disjoint; /* no two runs overlap (a sane walk): lookup hints hold */
	struct hs_size_count *sorted;
	uint64_t span;
};

/* ------------------------------------------------------------------ bits */

static inline bool bit_get(const uint64_t *w, uint64_t stride, uint64_t plane, uint64_t i)
{
	return (w[(i >> 6) * stride + plane] >> (i & 63)) & 1;
}

static inline void bit_set(uint64_t *w, uint64_t stride, uint64_t plane, uint64_t i)
{
	w[(i >> 6) * stride + plane] |= UINT64_C(1) << (i & 63);
}

static inline uint64_t run_stride(const struct hs_run *r)
{
	return r->kind == HS_RUN_VAR ? 2 : 3;
}

#define S_(r, g) bit_get((r)->w, 2, 0, g)
#define T_(r, g) bit_get((r)->w, 2, 1, g)

/* The largest start-or-marker y <= q (S[y] set); the run's first granule is a
 * start, so one exists for every q < n. */
static uint64_t var_prev_s(const struct hs_run *r, uint64_t q)
{
	uint64_t k = q >> 6;
	uint64_t word = r->w[2 * k] & (~UINT64_C(0) >> (63 - (q & 63)));
	for (;;) {
		if (word)
			return (k << 6) + 63 - (uint64_t)__builtin_clzll(word);
		if (k == 0)
			return 0;
		k--;
		word = r->w[2 * k];
	}
}

/* The smallest y >= from with S[y] set, or n. Inline everywhere: the
 * marking and the census call it once a chunk. */
static inline __attribute__((always_inline)) uint64_t var_next_s(const struct hs_run *r,
								  uint64_t from)
{
	if (from >= r->n)
		return r->n;
	uint64_t k = from >> 6, nw = (r->n + 63) >> 6;
	uint64_t word = r->w[2 * k] & (~UINT64_C(0) << (from & 63));
	for (;;) {
		if (word) {
			uint64_t y = (k << 6) + (uint64_t)__builtin_ctzll(word);
			return y < r->n ? y : r->n;
		}
		if (++k >= nw)
			return r->n;
		word = r->w[2 * k];
	}
}

/* Whether S[y] (set) is a chunk's start rather than the marker after one:
 * an even number of ones right below it. */
static bool var_is_start(const struct hs_run *r, uint64_t y)
{
	uint64_t len = 0, pos = y;
	while (pos > 0) {
		uint64_t b = (pos - 1) & 63;
		uint64_t word = r->w[2 * ((pos - 1) >> 6)];
		/* Ones from bit b down: leading zeros of the shifted complement. */
		uint64_t x = ~(word << (63 - b));
		uint64_t c = x ? (uint64_t)__builtin_clzll(x) : 64;
		len += c;
		if (c < b + 1)
			break;
		pos -= c;
	}
	return (len & 1) == 0;
}

/* The chunk holding granule q of a VAR run: its start, end and state. */
static inline __attribute__((always_inline)) void var_chunk_at(const struct hs_run *r, uint64_t q,
								 uint64_t *g, uint64_t *end,
								 bool *in_use)
{
	uint64_t s;
	if (S_(r, q) && (q == 0 || !S_(r, q - 1))) {
		/* A stretch of ones begins with a start: most lookups are of a
		 * chunk's own address, answered without the parity count. */
		s = q;
	} else {
		uint64_t y = var_prev_s(r, q);
		s = (y == 0 || var_is_start(r, y)) ? y : y - 1;
	}
	*g = s;
	*in_use = s + 1 >= r->n || !S_(r, s + 1);
	*end = var_next_s(r, s + 2);
}

/* The starts among the set bits S of a VAR run's word: `carry` is the parity
 * of the ones running up to bit 0 from below, and comes back for the next
 * word (see var_word_in_use). */
static inline uint64_t var_starts(uint64_t S, unsigned *carry)
{
	if (!(S & (S << 1))) {
		/* No two ones side by side (in-use chunks only): each one is a
		 * stretch of its own, a start, but for a bit 0 that continues
		 * the word below's stretch at an odd distance. */
		uint64_t starts = *carry ? S & ~UINT64_C(1) : S;
		*carry = (unsigned)(S >> 63);
		return starts;
	}
	uint64_t starts = 0, w = S;
	unsigned out = 0;
	while (w) {
		unsigned a = (unsigned)__builtin_ctzll(w);
		uint64_t rest = ~(S >> a);
		unsigned len = rest ? (unsigned)__builtin_ctzll(rest) : 64 - a;
		if (a + len > 64)
			len = 64 - a;
		uint64_t mask = len == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << len) - 1) << a;
		unsigned base = a == 0 ? *carry : 0;
		starts |= mask & (((a + base) & 1) ? UINT64_C(0xaaaaaaaaaaaaaaaa)
						   : UINT64_C(0x5555555555555555));
		if (a + len == 64)
			out = (len + base) & 1;
		w &= ~mask;
	}
	*carry = out;
	return starts;
}

/* ------------------------------------------------------------------ building */

/* Room for words [0, need) of run r, zeroed; growth doubles, and only the
 * words in use are written (big maps stay untouched until used). */
static bool run_words(struct hs_run *r, size_t need)
{
	if (need > r->wcap) {
		size_t cap = r->wcap ? r->wcap : 12;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 / sizeof(uint64_t) ? need : cap * 2;
		if (cap > SIZE_MAX / sizeof(uint64_t))
			return false;
		uint64_t *w = realloc(r->w, cap * sizeof(uint64_t));
		if (!w)
			return false;
		r->w = w;
		r->wcap = cap;
	}
	if (need > r->wzero) {
		memset(r->w + r->wzero, 0, (need - r->wzero) * sizeof(uint64_t));
		r->wzero = need;
	}
	return true;
}

static bool store_size_add(struct hs_chunk_store *st, uint64_t size, uint64_t n)
{
	/* Heaps come in long runs of one size: the last slot first. */
	if (st->last_size && st->last_size->size == size) {
		st->last_size->count += n;
		st->last_size->bytes += n * size;
		return true;
	}
	if ((st->nsizes + 1) * 2 > st->sizes_cap) {
		size_t ncap = st->sizes_cap ? st->sizes_cap * 2 : 256;
		struct hs_size_count *ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return false;
		for (size_t i = 0; i < st->sizes_cap; i++) {
			if (!st->sizes[i].count)
				continue;
			size_t h = (size_t)((st->sizes[i].size * 0x9e3779b97f4a7c15ull) >> 20);
			while (ns[h & (ncap - 1)].count)
				h++;
			ns[h & (ncap - 1)] = st->sizes[i];
		}
		free(st->sizes);
		st->sizes = ns;
		st->sizes_cap = ncap;
		st->last_size = NULL;
	}
	for (size_t h = (size_t)((size * 0x9e3779b97f4a7c15ull) >> 20);; h++) {
		struct hs_size_count *s = &st->sizes[h & (st->sizes_cap - 1)];
		if (!s->count) {
			*s = (struct hs_size_count){size, n, n * size};
			st->nsizes++;
			st->last_size = s;
			return true;
		}
		if (s->size == size) {
			s->count += n;
			s->bytes += n * size;
			st->last_size = s;
			return true;
		}
	}
}

static bool var_fits(const struct hs_chunk_store *st, uint64_t addr, uint64_t size,
		     unsigned flags)
{
	uint64_t g = UINT64_C(1) << st->gshift;
	return st->gshift && !flags && !(addr & (g - 1)) && !(size & (g - 1)) &&
	       size >= 2 * g && (size >> st->gshift) < HS_VAR_MAX_GRANULES;
}

static struct hs_run *store_open_run(struct hs_chunk_store *st, uint64_t addr, uint8_t kind,
				     uint64_t rsize, unsigned flags)
{
	if (!hs_grow((void **)&st->runs, &st->runs_cap, st->nruns + 1, sizeof(*st->runs)))
		return NULL;
	struct hs_run *r = &st->runs[st->nruns++];
	memset(r, 0, sizeof(*r));
	r->lo = r->hi = addr;
	r->kind = kind;
	r->rsize = rsize;
	r->rmagic = rsize > 1 && rsize < (UINT64_C(1) << 32) ? UINT64_MAX / rsize + 1 : 0;
	r->flags = (uint8_t)flags;
	st->open = true;
	return r;
}

void hs_heap_set_granule(struct hs_heap *heap, unsigned shift)
{
	if (heap->store && shift < 16)
		heap->store->gshift = shift;
}

bool hs_heap_add_chunk(struct hs_heap *heap, uint64_t addr, uint64_t size,
		       enum hs_chunk_state state, unsigned flags)
{
	struct hs_chunk_store *st = heap->store;
	flags &= HS_CHUNK_F_METADATA | HS_CHUNK_F_MMAPPED;
	if (size > HS_CHUNK_MAX_SIZE)
		size = HS_CHUNK_MAX_SIZE;
	if (addr + size < addr)
		size = UINT64_MAX - addr;
	if (st->finished || (unsigned)state >= HS_CHUNK_NSTATES)
		return false;
	bool in_use = state == HS_CHUNK_IN_USE, cached = state == HS_CHUNK_CACHED;
	struct hs_run *r = st->open ? &st->runs[st->nruns - 1] : NULL;
	bool var = var_fits(st, addr, size, flags);
	if (r && r->hi == addr &&
	    (var ? r->kind == HS_RUN_VAR && r->n + (size >> st->gshift) <= HS_POS_MAX
		 : r->kind == HS_RUN_UNI && r->rsize == size && r->flags == flags &&
			   r->n < HS_POS_MAX)) {
		/* appended below */
	} else {
		r = store_open_run(st, addr, var ? HS_RUN_VAR : HS_RUN_UNI, var ? 0 : size, flags);
		if (!r)
			return false;
	}
	if (r->kind == HS_RUN_VAR) {
		uint64_t q = r->n, k = size >> st->gshift;
		if (!run_words(r, (size_t)(((q + k + 63) >> 6) * 2)))
			return false;
		bit_set(r->w, 2, 0, q);
		if (!in_use) {
			bit_set(r->w, 2, 0, q + 1);
			if (cached)
				bit_set(r->w, 2, 1, q);
		}
		r->n = q + k;
	} else {
		uint64_t j = r->n;
		if (!run_words(r, (size_t)(((j >> 6) + 1) * 3)))
			return false;
		if (in_use)
			bit_set(r->w, 3, 0, j);
		else if (cached)
			bit_set(r->w, 3, 1, j);
		r->n = j + 1;
	}
	r->hi = addr + size;
	if (in_use && !(flags & HS_CHUNK_F_METADATA) && !store_size_add(st, size, 1))
		return false;
	if (!heap->nchunks || addr < heap->lo)
		heap->lo = addr;
	if (addr + size > heap->hi)
		heap->hi = addr + size;
	heap->nchunks++;
	heap->totals[state].count++;
	heap->totals[state].bytes += size;
	if (flags & HS_CHUNK_F_METADATA) {
		heap->metadata.count++;
		heap->metadata.bytes += size;
	}
	return true;
}

/* The counters n in-use chunks of one size add, in bulk. */
static bool heap_add_totals(struct hs_heap *heap, uint64_t addr, uint64_t end, uint64_t size,
			    uint64_t n, enum hs_chunk_state state, unsigned flags)
{
	if (state == HS_CHUNK_IN_USE && !(flags & HS_CHUNK_F_METADATA) &&
	    !store_size_add(heap->store, size, n))
		return false;
	if (!heap->nchunks || addr < heap->lo)
		heap->lo = addr;
	if (end > heap->hi)
		heap->hi = end;
	heap->nchunks += n;
	heap->totals[state].count += n;
	heap->totals[state].bytes += n * size;
	if (flags & HS_CHUNK_F_METADATA) {
		heap->metadata.count += n;
		heap->metadata.bytes += n * size;
	}
	return true;
}

/*
 * n in-use chunks of k granules each into VAR runs: a start bit every k
 * granules, the run filled up to HS_POS_MAX granules and then a new one
 * opened, as single appends would (a glibc heap's runs of equal chunks).
 */
static bool store_add_var_in_use(struct hs_heap *heap, uint64_t addr, uint64_t size, uint64_t n)
{
	struct hs_chunk_store *st = heap->store;
	uint64_t k = size >> st->gshift, start = addr;
	while (n) {
		struct hs_run *r = st->open ? &st->runs[st->nruns - 1] : NULL;
		if (!r || r->hi != addr || r->kind != HS_RUN_VAR || r->n + k > HS_POS_MAX)
			r = store_open_run(st, addr, HS_RUN_VAR, 0, 0);
		if (!r)
			return false;
		uint64_t m = (HS_POS_MAX - r->n) / k;
		if (m > n)
			m = n;
		uint64_t q = r->n, e = q + m * k;
		if (!run_words(r, (size_t)(((e + 63) >> 6) * 2)))
			return false;
		for (uint64_t g = q; g < e; g += k)
			r->w[(g >> 6) * 2] |= UINT64_C(1) << (g & 63);
		r->n = e;
		r->hi = addr + m * size;
		addr = r->hi;
		n -= m;
	}
	return heap_add_totals(heap, start, addr, size, (addr - start) / size, HS_CHUNK_IN_USE, 0);
}

bool hs_heap_add_chunks(struct hs_heap *heap, uint64_t addr, uint64_t size, uint64_t n,
			enum hs_chunk_state state, unsigned flags)
{
	struct hs_chunk_store *st = heap->store;
	flags &= HS_CHUNK_F_METADATA | HS_CHUNK_F_MMAPPED;
	struct hs_run *r = st->open ? &st->runs[st->nruns - 1] : NULL;
	bool append = r && r->hi == addr && r->kind == HS_RUN_UNI && r->rsize == size &&
		      r->flags == flags;
	/* Granule-sized chunks go to a uniform run only in a long stretch of
	 * in-use ones (or after one): there it takes fewer bits, and finding a
	 * chunk is a multiply rather than bit scans, which the marking and the
	 * census do once a chunk. */
	bool var = var_fits(st, addr, size, flags) &&
		   !(state == HS_CHUNK_IN_USE && (append || n >= HS_UNI_MIN));
	if (n >= 2 && state == HS_CHUNK_IN_USE && !st->finished && var &&
	    size <= (UINT64_MAX - addr) / n)
		return store_add_var_in_use(heap, addr, size, n);
	/* In bulk only what n single appends would put in one uniform run;
	 * the rest one by one, the same way. */
	if (n < 2 || !size || size > HS_CHUNK_MAX_SIZE || n > HS_POS_MAX ||
	    size > (UINT64_MAX - addr) / n || st->finished ||
	    (unsigned)state >= HS_CHUNK_NSTATES || var || (append && r->n + n > HS_POS_MAX)) {
		for (uint64_t i = 0; i < n; i++)
			if (!hs_heap_add_chunk(heap, addr + i * size, size, state, flags))
				return false;
		return true;
	}
	if (!append && !(r = store_open_run(st, addr, HS_RUN_UNI, size, flags)))
		return false;
	uint64_t j = r->n, e = j + n;
	if (!run_words(r, (size_t)((((e - 1) >> 6) + 1) * 3)))
		return false;
	if (state != HS_CHUNK_FREE) {
		uint64_t plane = state == HS_CHUNK_IN_USE ? 0 : 1;
		for (uint64_t k = j; k < e;) {
			uint64_t b = k & 63, m = e - k < 64 - b ? e - k : 64 - b;
			uint64_t mask = (m == 64 ? ~UINT64_C(0) : (UINT64_C(1) << m) - 1) << b;
			r->w[(k >> 6) * 3 + plane] |= mask;
			k += m;
		}
	}
	r->n = e;
	r->hi = addr + n * size;
	return heap_add_totals(heap, addr, r->hi, size, n, state, flags);
}

bool hs_heap_splice(struct hs_heap *dst, struct hs_heap *src)
{
	struct hs_chunk_store *d = dst->store, *s = src->store;
	if (d->finished || s->finished || d->gshift != s->gshift)
		return false;
	if (!hs_grow((void **)&d->runs, &d->runs_cap, d->nruns + s->nruns, sizeof(*d->runs)))
		return false;
	for (size_t i = 0; i < s->sizes_cap; i++)
		if (s->sizes[i].count && !store_size_add(d, s->sizes[i].size, s->sizes[i].count))
			return false;
	/* The bits move with their runs: src no longer frees them. */
	memcpy(d->runs + d->nruns, s->runs, s->nruns * sizeof(*s->runs));
	d->nruns += s->nruns;
	d->open = s->open;
	d->dirty[0] |= s->dirty[0];
	d->dirty[1] |= s->dirty[1];
	s->nruns = 0;
	s->open = false;
	if (src->nchunks) {
		if (!dst->nchunks || src->lo < dst->lo)
			dst->lo = src->lo;
		if (src->hi > dst->hi)
			dst->hi = src->hi;
	}
	dst->nchunks += src->nchunks;
	for (int k = 0; k < HS_CHUNK_NSTATES; k++) {
		dst->totals[k].count += src->totals[k].count;
		dst->totals[k].bytes += src->totals[k].bytes;
	}
	dst->metadata.count += src->metadata.count;
	dst->metadata.bytes += src->metadata.bytes;
	src->nchunks = 0;
	memset(src->totals, 0, sizeof(src->totals));
	memset(&src->metadata, 0, sizeof(src->metadata));
	return true;
}

static int run_cmp(const void *a, const void *b)
{
	const struct hs_run *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	/* Equal starts (a corrupt walk): keep the walk's order, which qsort
	 * does not, by the address of the record in the array. */
	return x < y ? -1 : x > y;
}

static int size_cmp(const void *a, const void *b)
{
	const struct hs_size_count *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->size < y->size ? -1 : x->size > y->size;
}

struct hs_error *hs_heap_finish(struct hs_heap *heap)
{
	struct hs_chunk_store *st = heap->store;
	if (st->finished)
		return NULL;
	st->open = false;
	if (st->nruns > HS_RUNS_MAX)
		return hs_error_create(HS_ERR_UNSUPPORTED,
				       "more than %llu runs of heap chunks",
				       (unsigned long long)HS_RUNS_MAX);
	/* Runs come heap after heap: usually already ordered. */
	bool sorted = true;
	for (size_t i = 1; i < st->nruns && sorted; i++)
		sorted = st->runs[i - 1].lo <= st->runs[i].lo;
	if (!sorted)
		qsort(st->runs, st->nruns, sizeof(*st->runs), run_cmp);
	st->disjoint = true;
	for (size_t i = 1; i < st->nruns && st->disjoint; i++)
		st->disjoint = st->runs[i - 1].hi <= st->runs[i].lo;
	/* Give back what doubling over-allocated. */
	st->span = 0;
	for (size_t i = 0; i < st->nruns; i++) {
		struct hs_run *r = &st->runs[i];
		st->span += r->hi - r->lo;
		if (r->wcap > r->wzero && r->wzero) {
			uint64_t *w = realloc(r->w, r->wzero * sizeof(uint64_t));
			if (w) {
				r->w = w;
				r->wcap = r->wzero;
			}
		}
	}
	/* Clusters, and a directory per cluster: the first run that reaches each
	 * 64 KiB of it (runs are ordered by start; ends need not be, so the
	 * running maximum decides). */
	size_t ndir = 0, cap = 0;
	for (size_t i = 0; i < st->nruns;) {
		uint64_t lo = st->runs[i].lo, hi = st->runs[i].hi;
		size_t j = i + 1;
		while (j < st->nruns && st->runs[j].lo <= hi + HS_CLUSTER_GAP &&
		       hi + HS_CLUSTER_GAP > hi) {
			if (st->runs[j].hi > hi)
				hi = st->runs[j].hi;
			j++;
		}
		if (!hs_grow((void **)&st->clusters, &cap, st->nclusters + 1,
			     sizeof(*st->clusters)))
			return HS_ENOMEM;
		unsigned shift = HS_DIR_SHIFT;
		uint64_t most = (uint64_t)(j - i) * HS_DIR_PER_RUN + 4096;
		while (shift < 63 && ((hi - lo) >> shift) >= most)
			shift++;
		/* Runs denser than one per 64 KiB (jemalloc's slabs of a page
		 * or two): finer entries, no more of them than runs, so that a
		 * lookup steps over a run or two rather than a dozen. */
		while (shift > HS_DIR_MIN_SHIFT && ((hi - lo) >> (shift - 1)) <= (uint64_t)(j - i))
			shift--;
		uint64_t pages = ((hi - lo) >> shift) + 1;
		st->clusters[st->nclusters++] = (struct hs_cluster){lo, hi, i, j, ndir, shift};
		ndir += (size_t)pages;
		i = j;
	}
	st->dir = malloc((ndir ? ndir : 1) * sizeof(*st->dir));
	if (!st->dir)
		return HS_ENOMEM;
	st->ndir = ndir;
	for (size_t c = 0; c < st->nclusters; c++) {
		const struct hs_cluster *cl = &st->clusters[c];
		uint64_t pages = ((cl->hi - cl->lo) >> cl->shift) + 1;
		size_t i = cl->first;
		uint64_t maxhi = st->runs[i].hi;
		for (uint64_t p = 0; p < pages; p++) {
			uint64_t at = cl->lo + (p << cl->shift);
			while (i + 1 < cl->end && maxhi <= at) {
				i++;
				if (st->runs[i].hi > maxhi)
					maxhi = st->runs[i].hi;
			}
			st->dir[cl->dir + p] = (uint32_t)i;
		}
	}
	st->sorted = malloc((st->nsizes ? st->nsizes : 1) * sizeof(*st->sorted));
	if (!st->sorted)
		return HS_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < st->sizes_cap; i++)
		if (st->sizes[i].count)
			st->sorted[n++] = st->sizes[i];
	if (n)
		qsort(st->sorted, n, sizeof(*st->sorted), size_cmp);
	free(st->sizes);
	st->sizes = NULL;
	st->sizes_cap = 0;
	st->finished = true;
	return NULL;
}

/* ------------------------------------------------------------------ queries */

static inline hs_chunk_id make_id(size_t run, uint64_t pos)
{
	return ((uint64_t)run << HS_ID_POS_BITS) | pos;
}

/* The run holding addr, or SIZE_MAX. */
static size_t store_run_at(const struct hs_chunk_store *st, uint64_t addr)
{
	if (!st->finished || !st->nclusters)
		return SIZE_MAX;
	size_t lo = 0, hi = st->nclusters;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->clusters[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return SIZE_MAX;
	const struct hs_cluster *cl = &st->clusters[lo - 1];
	if (addr >= cl->hi)
		return SIZE_MAX;
	size_t i = st->dir[cl->dir + ((addr - cl->lo) >> cl->shift)];
	for (unsigned steps = 0; i < cl->end && steps < HS_LOOKUP_STEPS; i++, steps++) {
		const struct hs_run *r = &st->runs[i];
		if (r->lo > addr)
			return SIZE_MAX;
		if (addr < r->hi)
			return i;
	}
	return SIZE_MAX;
}

static void run_chunk(const struct hs_chunk_store *st, const struct hs_run *r, uint64_t pos,
		      struct hs_chunk *ret, uint64_t *next)
{
	if (r->kind == HS_RUN_VAR) {
		bool in_use = pos + 1 >= r->n || !S_(r, pos + 1);
		uint64_t end = var_next_s(r, pos + 2);
		enum hs_chunk_state s = in_use ? HS_CHUNK_IN_USE
					: T_(r, pos) ? HS_CHUNK_CACHED : HS_CHUNK_FREE;
		*ret = hs_chunk_make(r->lo + (pos << st->gshift), (end - pos) << st->gshift, s, 0);
		*next = end;
	} else {
		enum hs_chunk_state s = bit_get(r->w, 3, 0, pos) ? HS_CHUNK_IN_USE
					: bit_get(r->w, 3, 1, pos) ? HS_CHUNK_CACHED
					: HS_CHUNK_FREE;
		*ret = hs_chunk_make(r->lo + pos * r->rsize, r->rsize, s, r->flags);
		*next = pos + 1;
	}
}

/*
 * n / r->rsize by a multiply: a 64-bit division per lookup was a tenth of
 * the scan and marking of a core of 10^8 jemalloc regions. With m =
 * ceil(2^64 / d), n m / 2^64 = n / d + n e / (d 2^64) for an e < d; for n and
 * d below 2^32 the second term is below 2^-32 and the fraction of n / d at
 * most 1 - 1/d, so the floor is exact. Anything bigger is divided.
 */
static inline uint64_t run_div(const struct hs_run *r, uint64_t n)
{
	if ((n >> 32) || !r->rmagic)
		return n / r->rsize;
	return (uint64_t)(((unsigned __int128)n * r->rmagic) >> 64);
}

/* The position (granule or region) of the chunk holding addr in run r. */
static uint64_t run_pos_at(const struct hs_chunk_store *st, const struct hs_run *r,
			   uint64_t addr)
{
	if (r->kind == HS_RUN_VAR) {
		uint64_t g, end;
		bool in_use;
		var_chunk_at(r, (addr - r->lo) >> st->gshift, &g, &end, &in_use);
		return g;
	}
	return r->rsize ? run_div(r, addr - r->lo) : 0;
}

bool hs_heap_find(const struct hs_heap *heap, uint64_t addr, struct hs_chunk *ret,
		  hs_chunk_id *id)
{
	const struct hs_chunk_store *st = heap->store;
	size_t i = store_run_at(st, addr);
	if (i == SIZE_MAX)
		return false;
	const struct hs_run *r = &st->runs[i];
	if (r->kind == HS_RUN_UNI && !r->rsize)
		return false;
	uint64_t pos = run_pos_at(st, r, addr), next;
	if (pos >= r->n)
		return false;
	run_chunk(st, r, pos, ret, &next);
	if (id)
		*id = make_id(i, pos);
	return true;
}

bool hs_heap_contains(const struct hs_heap *heap, uint64_t addr)
{
	/* A run's chunks follow each other without gaps. */
	if (addr < heap->lo || addr >= heap->hi)
		return false;
	size_t i = store_run_at(heap->store, addr);
	return i != SIZE_MAX && (heap->store->runs[i].kind == HS_RUN_VAR ||
				 heap->store->runs[i].rsize);
}

/* store_run_at, trying *hint first (the run of the caller's last lookup)
 * where no two runs overlap: then the run holding addr is the only one. */
static inline size_t store_run_near(const struct hs_chunk_store *st, uint64_t addr, size_t *hint)
{
	size_t i = *hint;
	if (st->disjoint && i < st->nruns && addr >= st->runs[i].lo && addr < st->runs[i].hi)
		return i;
	i = store_run_at(st, addr);
	if (i != SIZE_MAX)
		*hint = i;
	return i;
}

static hs_chunk_id find_in_use_in(const struct hs_chunk_store *st, size_t i, uint64_t addr,
				  struct hs_chunk *ret);

hs_chunk_id hs_heap_find_in_use(const struct hs_heap *heap, uint64_t addr, struct hs_chunk *ret)
{
	const struct hs_chunk_store *st = heap->store;
	size_t i = store_run_at(st, addr);
	return i == SIZE_MAX ? HS_CHUNK_ID_NONE : find_in_use_in(st, i, addr, ret);
}

hs_chunk_id hs_heap_find_in_use_near(const struct hs_heap *heap, uint64_t addr,
				     struct hs_chunk *ret, size_t *hint)
{
	const struct hs_chunk_store *st = heap->store;
	size_t i = store_run_near(st, addr, hint);
	return i == SIZE_MAX ? HS_CHUNK_ID_NONE : find_in_use_in(st, i, addr, ret);
}

/* The in-use chunk of run i holding addr (which the run spans). */
static hs_chunk_id find_in_use_in(const struct hs_chunk_store *st, size_t i, uint64_t addr,
				  struct hs_chunk *ret)
{
	const struct hs_run *r = &st->runs[i];
	if (r->kind == HS_RUN_VAR) {
		uint64_t g, end;
		bool in_use;
		var_chunk_at(r, (addr - r->lo) >> st->gshift, &g, &end, &in_use);
		if (!in_use)
			return HS_CHUNK_ID_NONE;
		if (ret)
			*ret = hs_chunk_make(r->lo + (g << st->gshift), (end - g) << st->gshift,
					     HS_CHUNK_IN_USE, 0);
		return make_id(i, g);
	}
	if (!r->rsize)
		return HS_CHUNK_ID_NONE;
	uint64_t j = run_div(r, addr - r->lo);
	if (j >= r->n || !bit_get(r->w, 3, 0, j))
		return HS_CHUNK_ID_NONE;
	if (ret)
		*ret = hs_chunk_make(r->lo + j * r->rsize, r->rsize, HS_CHUNK_IN_USE, r->flags);
	return make_id(i, j);
}

/* find_in_use_in and chunk_bit_word in one, not calls of them: those made
 * the marking of 40 M small chunks a fifth slower. */
hs_chunk_id hs_heap_mark_at(struct hs_heap *heap, uint64_t addr, struct hs_chunk *ret,
			    bool *was, size_t *hint)
{
	struct hs_chunk_store *st = heap->store;
	size_t i = store_run_near(st, addr, hint);
	if (i == SIZE_MAX)
		return HS_CHUNK_ID_NONE;
	const struct hs_run *r = &st->runs[i];
	struct hs_chunk ch;
	uint64_t pos, *w;
	if (r->kind == HS_RUN_VAR) {
		uint64_t end;
		bool in_use;
		var_chunk_at(r, (addr - r->lo) >> st->gshift, &pos, &end, &in_use);
		if (!in_use)
			return HS_CHUNK_ID_NONE;
		ch = hs_chunk_make(r->lo + (pos << st->gshift), (end - pos) << st->gshift,
				   HS_CHUNK_IN_USE, 0);
		w = &r->w[(pos >> 6) * 2 + 1];
	} else {
		if (!r->rsize)
			return HS_CHUNK_ID_NONE;
		pos = run_div(r, addr - r->lo);
		if (pos >= r->n || !bit_get(r->w, 3, 0, pos))
			return HS_CHUNK_ID_NONE;
		ch = hs_chunk_make(r->lo + pos * r->rsize, r->rsize, HS_CHUNK_IN_USE, r->flags);
		w = &r->w[(pos >> 6) * 3 + 1];
	}
	if ((hs_chunk_flags(&ch) & HS_CHUNK_F_METADATA) || addr - ch.addr >= hs_chunk_usable(heap, &ch))
		return HS_CHUNK_ID_NONE;
	if (!__atomic_load_n(&st->dirty[HS_CHUNK_BIT_MARK], __ATOMIC_RELAXED))
		__atomic_store_n(&st->dirty[HS_CHUNK_BIT_MARK], true, __ATOMIC_RELAXED);
	uint64_t mask = UINT64_C(1) << (pos & 63);
	*was = (__atomic_load_n(w, __ATOMIC_RELAXED) & mask) ||
	       (__atomic_fetch_or(w, mask, __ATOMIC_RELAXED) & mask);
	*ret = ch;
	return make_id(i, pos);
}

bool hs_heap_chunk(const struct hs_heap *heap, hs_chunk_id id, struct hs_chunk *ret)
{
	const struct hs_chunk_store *st = heap->store;
	uint64_t run = id >> HS_ID_POS_BITS, pos = id & HS_POS_MAX, next;
	if (id == HS_CHUNK_ID_NONE || run >= st->nruns || pos >= st->runs[run].n)
		return false;
	run_chunk(st, &st->runs[run], pos, ret, &next);
	return true;
}

/* Where an in-use chunk's bit lives: the word and the mask. */
static uint64_t *chunk_bit_word(const struct hs_chunk_store *st, hs_chunk_id id,
				enum hs_chunk_bit bit, uint64_t *mask)
{
	const struct hs_run *r = &st->runs[id >> HS_ID_POS_BITS];
	uint64_t pos = id & HS_POS_MAX;
	if (r->kind == HS_RUN_VAR) {
		pos += bit == HS_CHUNK_BIT_REF;
		*mask = UINT64_C(1) << (pos & 63);
		return &r->w[(pos >> 6) * 2 + 1];
	}
	*mask = UINT64_C(1) << (pos & 63);
	return &r->w[(pos >> 6) * 3 + (bit == HS_CHUNK_BIT_REF ? 2 : 1)];
}

bool hs_heap_chunk_bit(const struct hs_heap *heap, hs_chunk_id id, enum hs_chunk_bit bit)
{
	uint64_t mask;
	const uint64_t *w = chunk_bit_word(heap->store, id, bit, &mask);
	return (__atomic_load_n(w, __ATOMIC_RELAXED) & mask) != 0;
}

bool hs_heap_chunk_bit_set(struct hs_heap *heap, hs_chunk_id id, enum hs_chunk_bit bit)
{
	uint64_t mask;
	uint64_t *w = chunk_bit_word(heap->store, id, bit, &mask);
	if (!__atomic_load_n(&heap->store->dirty[bit], __ATOMIC_RELAXED))
		__atomic_store_n(&heap->store->dirty[bit], true, __ATOMIC_RELAXED);
	if (__atomic_load_n(w, __ATOMIC_RELAXED) & mask)
		return true;
	return (__atomic_fetch_or(w, mask, __ATOMIC_RELAXED) & mask) != 0;
}

void hs_heap_chunk_bits_clear(struct hs_heap *heap, enum hs_chunk_bit bit)
{
	struct hs_chunk_store *st = heap->store;
	if (!st->dirty[bit])
		return; /* never set since the walk, or since the last clear */
	st->dirty[bit] = false;
	for (size_t i = 0; i < st->nruns; i++) {
		struct hs_run *r = &st->runs[i];
		if (r->kind == HS_RUN_UNI) {
			/* B is the ref plane; A is the mark plane of in-use regions
			 * and "cached" of the others: keep the latter. */
			for (uint64_t k = 0; k < (r->n + 63) >> 6; k++)
				r->w[3 * k + (bit == HS_CHUNK_BIT_REF ? 2 : 1)] &=
					bit == HS_CHUNK_BIT_REF ? 0 : ~r->w[3 * k];
			continue;
		}
		/* T holds marks, refs and the cached flags of free chunks:
		 * clear chunk by chunk. */
		for (uint64_t g = 0; g < r->n;) {
			bool in_use = g + 1 >= r->n || !S_(r, g + 1);
			uint64_t at = g + (bit == HS_CHUNK_BIT_REF);
			if (in_use && at < r->n)
				r->w[(at >> 6) * 2 + 1] &= ~(UINT64_C(1) << (at & 63));
			g = var_next_s(r, g + 2);
		}
	}
}

/* ------------------------------------------------------------------ iteration */

/* The first chunk start at or after addr in run r (r->n if none). */
static uint64_t run_first_pos(const struct hs_chunk_store *st, const struct hs_run *r,
			      uint64_t addr)
{
	if (addr <= r->lo)
		return 0;
	if (addr >= r->hi)
		return r->n;
	if (r->kind == HS_RUN_UNI) {
		if (!r->rsize)
			return r->n;
		uint64_t j = (addr - r->lo + r->rsize - 1) / r->rsize;
		return j < r->n ? j : r->n;
	}
	uint64_t q = (addr - r->lo + (UINT64_C(1) << st->gshift) - 1) >> st->gshift;
	for (;;) {
		uint64_t y = var_next_s(r, q);
		if (y >= r->n || var_is_start(r, y))
			return y;
		q = y + 1;
	}
}

void hs_chunk_iter_init(struct hs_chunk_iter *it, const struct hs_heap *heap, uint64_t from,
			uint64_t to)
{
	const struct hs_chunk_store *st = heap->store;
	it->heap = heap;
	it->to = to;
	it->run = 0;
	it->pos = 0;
	if (!st->finished)
		it->run = st->nruns; /* nothing to walk before hs_heap_finish() */
	/* The first run that ends after from. */
	size_t lo = 0, hi = st->nruns;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->runs[mid].lo < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && st->runs[lo - 1].hi > from)
		lo--;
	if (st->finished) {
		it->run = lo;
		if (lo < st->nruns)
			it->pos = run_first_pos(st, &st->runs[lo], from);
	}
}

bool hs_chunk_iter_next(struct hs_chunk_iter *it, struct hs_chunk *ret, hs_chunk_id *id)
{
	const struct hs_chunk_store *st = it->heap->store;
	while (it->run < st->nruns) {
		const struct hs_run *r = &st->runs[it->run];
		if (it->pos < r->n) {
			uint64_t next;
			run_chunk(st, r, it->pos, ret, &next);
			if (ret->addr >= it->to) {
				it->run = st->nruns;
				return false;
			}
			if (id)
				*id = make_id(it->run, it->pos);
			it->pos = next;
			return true;
		}
		it->run++;
		it->pos = 0;
	}
	return false;
}

size_t hs_chunk_iter_many(struct hs_chunk_iter *it, struct hs_chunk *ret, hs_chunk_id *ids,
			  uint8_t *bits, size_t max)
{
	const struct hs_chunk_store *st = it->heap->store;
	size_t n = 0;
	while (n < max && it->run < st->nruns) {
		const struct hs_run *r = &st->runs[it->run];
		uint64_t pos = it->pos;
		if (pos >= r->n) {
			it->run++;
			it->pos = 0;
			continue;
		}
		if (r->lo + (r->kind == HS_RUN_VAR ? pos << st->gshift : pos * r->rsize) >= it->to)
			break;
		if (r->kind == HS_RUN_VAR) {
			for (; n < max && pos < r->n; n++) {
				uint64_t addr = r->lo + (pos << st->gshift);
				if (addr >= it->to) {
					it->run = st->nruns;
					return n;
				}
				bool in_use = pos + 1 >= r->n || !S_(r, pos + 1);
				uint64_t end = var_next_s(r, pos + 2);
				enum hs_chunk_state s = in_use ? HS_CHUNK_IN_USE
							: T_(r, pos) ? HS_CHUNK_CACHED : HS_CHUNK_FREE;
				ret[n] = hs_chunk_make(addr, (end - pos) << st->gshift, s, 0);
				ids[n] = make_id(it->run, pos);
				bits[n] = in_use ? (uint8_t)(T_(r, pos) << HS_CHUNK_BIT_MARK |
							     (pos + 1 < r->n && T_(r, pos + 1))
								     << HS_CHUNK_BIT_REF)
						 : 0;
				pos = end;
			}
		} else {
			for (; n < max && pos < r->n; n++, pos++) {
				uint64_t addr = r->lo + pos * r->rsize;
				if (addr >= it->to) {
					it->run = st->nruns;
					return n;
				}
				bool in_use = bit_get(r->w, 3, 0, pos);
				enum hs_chunk_state s = in_use ? HS_CHUNK_IN_USE
							: bit_get(r->w, 3, 1, pos) ? HS_CHUNK_CACHED
							: HS_CHUNK_FREE;
				ret[n] = hs_chunk_make(addr, r->rsize, s, r->flags);
				ids[n] = make_id(it->run, pos);
				bits[n] = in_use ? (uint8_t)(bit_get(r->w, 3, 1, pos) << HS_CHUNK_BIT_MARK |
							     bit_get(r->w, 3, 2, pos) << HS_CHUNK_BIT_REF)
						 : 0;
			}
		}
		it->pos = pos;
	}
	if (n < max)
		it->run = st->nruns;
	return n;
}

bool hs_chunk_iter_stretch(struct hs_chunk_iter *it, struct hs_chunk_stretch *ret)
{
	const struct hs_chunk_store *st = it->heap->store;
	while (it->run < st->nruns && it->pos >= st->runs[it->run].n) {
		it->run++;
		it->pos = 0;
	}
	if (it->run >= st->nruns)
		return false;
	const struct hs_run *r = &st->runs[it->run];
	uint64_t pos = it->pos;
	if (r->kind != HS_RUN_UNI || !r->rsize || r->lo + pos * r->rsize >= it->to)
		return false;
	uint64_t addr = r->lo + pos * r->rsize, b = pos & 63, m = 64 - b;
	/* To the end of the bitmap word, the run, and the chunks before `to`. */
	if (m > r->n - pos)
		m = r->n - pos;
	if (m > (it->to - addr - 1) / r->rsize + 1)
		m = (it->to - addr - 1) / r->rsize + 1;
	uint64_t mask = m == 64 ? ~UINT64_C(0) : (UINT64_C(1) << m) - 1;
	const uint64_t *w = &r->w[(pos >> 6) * 3];
	uint64_t u = (w[0] >> b) & mask, a = (w[1] >> b) & mask;
	ret->addr = addr;
	ret->size = r->rsize;
	ret->id = make_id(it->run, pos);
	ret->n = (unsigned)m;
	ret->flags = r->flags;
	ret->in_use = u;
	ret->cached = a & ~u;
	ret->mark = a & u;
	ret->ref = (w[2] >> b) & mask & u;
	it->pos = pos + m;
	return true;
}

/* What the word-at-a-time iterations look for. */
enum iter_want { WANT_IDLE, WANT_UNMARKED };

/*
 * The first chunk wanted at a position in [g, lim) of a VAR run, g a start;
 * lim if none. Word by word: the stretch of ones holding g is taken to
 * begin at g (starts sit at even distances from any start in it); a start
 * whose next bit is set is not in use, and an in-use one keeps its mark in T.
 * The words are read afresh at each call: bits set since count.
 */
static uint64_t var_next_want(const struct hs_run *r, uint64_t g, uint64_t lim,
			      enum iter_want want)
{
	uint64_t nw = (r->n + 63) >> 6, k = g >> 6;
	unsigned carry = 0;
	uint64_t S = r->w[2 * k] & (~UINT64_C(0) << (g & 63));
	while ((k << 6) < lim) {
		uint64_t next = k + 1 < nw ? r->w[2 * (k + 1)] : 0;
		uint64_t starts = var_starts(S, &carry);
		uint64_t busy = (S >> 1) | ((next & 1) << 63);
		uint64_t hit = want == WANT_IDLE ? starts & busy
						 : starts & ~busy & ~r->w[2 * k + 1];
		if (hit) {
			uint64_t y = (k << 6) + (uint64_t)__builtin_ctzll(hit);
			return y < lim ? y : lim;
		}
		if (++k >= nw)
			break;
		S = next;
	}
	return lim;
}

/* The same in a UNI run: U clear (not in use), or U set and A clear. */
static uint64_t uni_next_want(const struct hs_run *r, uint64_t j, uint64_t lim,
			      enum iter_want want)
{
	uint64_t nw = (r->n + 63) >> 6;
	for (uint64_t k = j >> 6; k < nw && (k << 6) < lim; k++) {
		uint64_t hit = want == WANT_IDLE ? ~r->w[3 * k] : r->w[3 * k] & ~r->w[3 * k + 1];
		if (k == j >> 6)
			hit &= ~UINT64_C(0) << (j & 63);
		if (hit) {
			uint64_t y = (k << 6) + (uint64_t)__builtin_ctzll(hit);
			return y < lim ? y : lim;
		}
	}
	return lim;
}

static bool iter_next_want(struct hs_chunk_iter *it, struct hs_chunk *ret, hs_chunk_id *id,
			   enum iter_want want)
{
	const struct hs_chunk_store *st = it->heap->store;
	while (it->run < st->nruns) {
		const struct hs_run *r = &st->runs[it->run];
		if (r->lo >= it->to)
			break;
		/* Positions below lim are chunks that start below `to`. */
		uint64_t lim = r->n;
		if (r->hi > it->to) {
			uint64_t d = it->to - r->lo;
			if (r->kind == HS_RUN_VAR)
				lim = (d >> st->gshift) + ((d & ((UINT64_C(1) << st->gshift) - 1)) != 0);
			else if (r->rsize)
				lim = d / r->rsize + (d % r->rsize != 0);
			if (lim > r->n)
				lim = r->n;
		}
		uint64_t y = it->pos >= lim ? lim
			     : r->kind == HS_RUN_VAR ? var_next_want(r, it->pos, lim, want)
						     : uni_next_want(r, it->pos, lim, want);
		if (y < lim) {
			uint64_t next;
			run_chunk(st, r, y, ret, &next);
			if (id)
				*id = make_id(it->run, y);
			it->pos = next;
			return true;
		}
		if (lim < r->n)
			break;
		it->run++;
		it->pos = 0;
	}
	it->run = st->nruns;
	return false;
}

bool hs_chunk_iter_next_idle(struct hs_chunk_iter *it, struct hs_chunk *ret)
{
	return iter_next_want(it, ret, NULL, WANT_IDLE);
}

bool hs_chunk_iter_next_unmarked(struct hs_chunk_iter *it, struct hs_chunk *ret,
				 hs_chunk_id *id)
{
	return iter_next_want(it, ret, id, WANT_UNMARKED);
}

size_t hs_heap_split(const struct hs_heap *heap, size_t parts, uint64_t *bounds)
{
	const struct hs_chunk_store *st = heap->store;
	size_t n = 1;
	bounds[0] = 0;
	if (parts > 1 && st->finished && st->span) {
		uint64_t per = st->span / parts, acc = 0;
		for (size_t i = 0; i < st->nruns && n < parts; i++) {
			const struct hs_run *r = &st->runs[i];
			uint64_t len = r->hi - r->lo;
			while (n < parts && acc + len > per * n) {
				uint64_t at = r->lo + (per * n > acc ? per * n - acc : 0);
				uint64_t pos = run_first_pos(st, r, at);
				uint64_t b = pos >= r->n ? r->hi
					: r->kind == HS_RUN_VAR ? r->lo + (pos << st->gshift)
					: r->lo + pos * r->rsize;
				if (b > bounds[n - 1])
					bounds[n++] = b;
				else
					break;
			}
			acc += len;
		}
	}
	bounds[n] = UINT64_MAX;
	return n;
}

bool hs_heap_next_extent(const struct hs_heap *heap, uint64_t addr, uint64_t *lo, uint64_t *hi)
{
	const struct hs_chunk_store *st = heap->store;
	if (!st->finished)
		return false;
	size_t a = 0, b = st->nruns;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (st->runs[mid].lo <= addr)
			a = mid + 1;
		else
			b = mid;
	}
	/* Runs before a start at or below addr: one of them may reach past it. */
	size_t i = a;
	while (i > 0 && st->runs[i - 1].hi > addr && a - i < HS_LOOKUP_STEPS)
		i--;
	while (i < st->nruns && st->runs[i].hi <= addr)
		i++;
	if (i >= st->nruns)
		return false;
	uint64_t l = st->runs[i].lo, h = st->runs[i].hi;
	for (i++; i < st->nruns && st->runs[i].lo <= h; i++)
		if (st->runs[i].hi > h)
			h = st->runs[i].hi;
	*lo = l;
	*hi = h;
	return true;
}

/* ------------------------------------------------------------------ ranks */

/*
 * The in-use starts of word k of a VAR run. `carry` is the parity of the
 * ones in S running up to the word's bit 0 from below (the word before's
 * top bits); it comes back for the next word. In a stretch of ones, starts
 * sit at even distances from the stretch's first bit (var_is_start), and an
 * in-use start is one whose next bit is clear.
 */
static uint64_t var_word_in_use(const struct hs_run *r, uint64_t k, unsigned *carry)
{
	uint64_t S = r->w[2 * k], next = 0;
	if (k + 1 < ((r->n + 63) >> 6))
		next = r->w[2 * (k + 1)];
	return var_starts(S, carry) & ~(S >> 1) & ~((next & 1) << 63);
}

struct hs_chunk_ranks {
	const struct hs_heap *heap;
	uint64_t **prefix; /* per run: in-use chunks before each word, from the store's start */
	uint64_t **mask;   /* per VAR run: each word's in-use starts (var_word_in_use) */
	uint64_t total, bytes;
};

void hs_chunk_ranks_destroy(struct hs_chunk_ranks *rk)
{
	if (!rk)
		return;
	const struct hs_chunk_store *st = rk->heap->store;
	for (size_t i = 0; i < st->nruns; i++) {
		if (rk->prefix)
			free(rk->prefix[i]);
		if (rk->mask)
			free(rk->mask[i]);
	}
	free(rk->prefix);
	free(rk->mask);
	free(rk);
}

struct hs_error *hs_chunk_ranks_create(const struct hs_heap *heap, struct hs_chunk_ranks **ret)
{
	const struct hs_chunk_store *st = heap->store;
	struct hs_chunk_ranks *rk = calloc(1, sizeof(*rk));
	if (!rk)
		return HS_ENOMEM;
	rk->heap = heap;
	rk->prefix = calloc(st->nruns ? st->nruns : 1, sizeof(*rk->prefix));
	rk->mask = calloc(st->nruns ? st->nruns : 1, sizeof(*rk->mask));
	if (!rk->prefix || !rk->mask)
		goto nomem;
	uint64_t total = 0;
	for (size_t i = 0; i < st->nruns; i++) {
		const struct hs_run *r = &st->runs[i];
		uint64_t nw = (r->n + 63) >> 6;
		rk->prefix[i] = malloc((nw ? nw : 1) * sizeof(uint64_t));
		if (!rk->prefix[i])
			goto nomem;
		rk->bytes += (nw ? nw : 1) * sizeof(uint64_t);
		if (r->kind == HS_RUN_VAR) {
			rk->mask[i] = malloc((nw ? nw : 1) * sizeof(uint64_t));
			if (!rk->mask[i])
				goto nomem;
			rk->bytes += (nw ? nw : 1) * sizeof(uint64_t);
			unsigned carry = 0;
			for (uint64_t k = 0; k < nw; k++) {
				rk->prefix[i][k] = total;
				rk->mask[i][k] = var_word_in_use(r, k, &carry);
				total += (uint64_t)__builtin_popcountll(rk->mask[i][k]);
			}
		} else {
			for (uint64_t k = 0; k < nw; k++) {
				rk->prefix[i][k] = total;
				total += (uint64_t)__builtin_popcountll(r->w[3 * k]);
			}
		}
	}
	rk->total = total;
	*ret = rk;
	return NULL;
nomem:
	hs_chunk_ranks_destroy(rk);
	return HS_ENOMEM;
}

uint64_t hs_chunk_ranks_size(const struct hs_heap *heap)
{
	const struct hs_chunk_store *st = heap->store;
	uint64_t bytes = 0;
	for (size_t i = 0; i < st->nruns; i++) {
		uint64_t nw = (st->runs[i].n + 63) >> 6;
		bytes += (nw ? nw : 1) * sizeof(uint64_t) * (st->runs[i].kind == HS_RUN_VAR ? 2 : 1);
	}
	return bytes;
}

uint64_t hs_chunk_ranks_count(const struct hs_chunk_ranks *rk)
{
	return rk->total;
}

uint64_t hs_chunk_ranks_bytes(const struct hs_chunk_ranks *rk)
{
	return rk->bytes;
}

uint64_t hs_chunk_rank(const struct hs_chunk_ranks *rk, hs_chunk_id id)
{
	const struct hs_chunk_store *st = rk->heap->store;
	size_t run = (size_t)(id >> HS_ID_POS_BITS);
	uint64_t pos = id & HS_POS_MAX, k = pos >> 6;
	const struct hs_run *r = &st->runs[run];
	uint64_t below = (UINT64_C(1) << (pos & 63)) - 1, mask;
	if (r->kind == HS_RUN_VAR) {
		mask = rk->mask[run][k];
	} else {
		mask = r->w[3 * k];
	}
	return rk->prefix[run][k] + (uint64_t)__builtin_popcountll(mask & below);
}

/* ------------------------------------------------------------------ summary */

const struct hs_size_count *hs_heap_size_classes(const struct hs_heap *heap, size_t *n)
{
	*n = heap->store->finished ? heap->store->nsizes : 0;
	return heap->store->sorted;
}

uint64_t hs_heap_span(const struct hs_heap *heap)
{
	return heap->store->span;
}

uint64_t hs_heap_store_bytes(const struct hs_heap *heap)
{
	const struct hs_chunk_store *st = heap->store;
	uint64_t b = sizeof(*st) + st->runs_cap * sizeof(*st->runs) +
		     st->nclusters * sizeof(*st->clusters) + st->ndir * sizeof(*st->dir) +
		     (st->sizes_cap + st->nsizes) * sizeof(struct hs_size_count);
	for (size_t i = 0; i < st->nruns; i++)
		b += st->runs[i].wcap * sizeof(uint64_t);
	return b;
}

struct hs_error *hs_heap_chunk_array(const struct hs_heap *heap, struct hs_chunk **ret,
				     size_t *n)
{
	struct hs_chunk *a = malloc((heap->nchunks ? heap->nchunks : 1) * sizeof(*a));
	if (!a)
		return HS_ENOMEM;
	struct hs_chunk_iter it;
	size_t k = 0;
	hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
	while (k < heap->nchunks && hs_chunk_iter_next(&it, &a[k], NULL))
		k++;
	*ret = a;
	*n = k;
	return NULL;
}

/* ------------------------------------------------------------------ lifetime */

struct hs_chunk_store *hs_chunk_store_create(void)
{
	return calloc(1, sizeof(struct hs_chunk_store));
}

void hs_chunk_store_destroy(struct hs_chunk_store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nruns; i++)
		free(st->runs[i].w);
	free(st->runs);
	free(st->clusters);
	free(st->dir);
	free(st->sizes);
	free(st->sorted);
	free(st);
}
