/* strings.c: std::string bodies (C++11 and old-ABI COW), C strings, and the memory scan that finds string owners. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "../common/parallel.h"
#include "containers.h"
#include "../common/progress.h"

#include "strings.h"

/*
 * Facts (libstdc++, bits/basic_string.h and bits/cow_string.h, GCC 5..13):
 *  - C++11 ABI std::string is 32 bytes: _M_dataplus._M_p (char *), then
 *    _M_string_length, then a union of _M_local_buf[16] and
 *    _M_allocated_capacity. Up to _S_local_capacity (15) characters live in
 *    the local buffer; longer strings point _M_p at a heap buffer allocated
 *    with capacity + 1 bytes (_M_create), and the string is NUL-terminated
 *    at [length].
 *  - The old (COW) ABI string is one pointer to the characters of a _Rep:
 *    {size_t _M_length, size_t _M_capacity, _Atomic_word _M_refcount}
 *    (24 bytes with padding) followed by the characters, allocated as
 *    capacity + 1 + sizeof(_Rep) bytes (_S_create). Refcount is -1 when
 *    leaked/unsharable, 0 with one owner. The empty string is a static _Rep.
 */

bool hs_text_ok(const uint8_t *p, size_t n)
{
	size_t ascii = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (b >= 0x20 && b < 0x7f)
			ascii++;
		else if (b != '\t' && b != '\n' && b != '\r' && b < 0x80)
			return false;
	}
	return ascii * 4 >= n * 3;
}

/*
 * The (pointer, length, capacity) check for a word that points at the start
 * of in-use chunk k. `w` points at the word inside the core's bytes, with at
 * least 24 bytes readable.
 */
static bool hs_string_triple(const struct hs_classes *c, const struct hs_cchunk *k,
			     const uint8_t *w)
{
	uint64_t len = hs_le64(w + 8), cap = hs_le64(w + 16);
	if (cap < 16 || len > cap || !hs_sizing_fits(c->sizing, cap + 1, &k->c))
		return false;
	return k->p && len < k->avail && k->p[len] == 0;
}

bool hs_cow_valid(const struct hs_classes *c, const struct hs_cchunk *k)
{
	const uint8_t *p = k->p;
	if (!p || k->avail < 25)
		return false;
	uint64_t len = hs_le64(p), cap = hs_le64(p + 8);
	int32_t rc = (int32_t)hs_le32(p + 16);
	return len <= cap && rc >= -1 && rc <= (1 << 20) && len < k->avail - 24 &&
	       p[24 + len] == 0 && hs_sizing_fits(c->sizing, 24 + cap + 1, &k->c);
}

/*
 * Whether a word pointing at `off` bytes into in-use chunk k is evidence of
 * what k is, and the only reading of it (classes.h, hs_classes_detect
 * decides from the chunk's bytes which one it was).
 */
static bool hs_evidence(const struct hs_classes *c, const struct hs_cchunk *k, uint64_t off,
			const uint8_t *w, uint64_t wavail)
{
	int t;
	switch (off) {
	case 0:
		return wavail >= 24 && hs_string_triple(c, k, w) && !hs_cow_valid(c, k) &&
		       hs_sds_unique_type(c, k) < 0;
	case 1:
	case 3:
	case 5:
	case 9:
	case 17:
		t = hs_sds_unique_type(c, k);
		return t >= 0 && off == (t == 0 ? 1u : t == 1 ? 3u : t == 2 ? 5u : t == 3 ? 9u : 17u) &&
		       !hs_cow_valid(c, k);
	case 24:
		return hs_cow_valid(c, k) && hs_sds_unique_type(c, k) < 0;
	default:
		return false;
	}
}

/* The numbers of a std::string triple (pointer, length, capacity) at w:
 * heap-allocated capacity, length within it. */
static inline bool hs_triple_maybe(const uint8_t *w)
{
	uint64_t len = hs_le64(w + 8), cap = hs_le64(w + 16);
	return cap >= 16 && len <= cap && cap < (UINT64_C(1) << 40);
}

/* A piece of the scan: [lo, hi) of one writable range. */
struct hs_scan_work {
	struct hs_classifier *cl;
	size_t npieces;
	size_t next; /* atomic: the next piece to take */
	struct hs_scan_piece {
		const struct hs_memory_range *range;
		uint64_t lo, hi;
	} *pieces;
	bool nomem;
	pthread_mutex_t lock;
	struct hs_cfound found; /* under lock: every thread's, merged */
};

#define HS_SCAN_PIECE (UINT64_C(4) << 20)

/* How far ahead of the word at hand the scans fetch the core. */
#define HS_SCAN_PREFETCH 2048

static void hs_scan_words(struct hs_classes *c, const struct hs_memory_range *range,
			  uint64_t lo, uint64_t hi, struct hs_cfound *found, uint64_t *redis)
{
	struct hs_heap *heap = c->cl->heap;
	uint64_t end_data = range->start + range->filesz;
	for (uint64_t a = lo; a < hi && end_data - a >= 8; a += 8) {
		const uint8_t *w = range->data + (a - range->start);
		/* A sequential read of a big core waits on memory at every page
		 * (the hardware's prefetch stops at page boundaries): ask for
		 * the bytes a little ahead, once a cache line. */
		if (!(a & 63) && end_data - a > HS_SCAN_PREFETCH)
			__builtin_prefetch(w + HS_SCAN_PREFETCH);
		uint64_t v = hs_le64(w);
		if (v < heap->lo || v >= heap->hi)
			continue;
		/*
		 * Most words that point into the heap point at an object's start
		 * (16-aligned), where only a std::string triple or a container's
		 * owner is evidence: both can be ruled out from the words that
		 * follow this one, before the lookup.
		 */
		if (!(v & 15) && (end_data - a < 24 || !hs_triple_maybe(w)) &&
		    !(c->cl->cxx && hs_containers_maybe_owner(w, end_data - a)))
			continue;
		struct hs_chunk tc;
		hs_chunk_id id = hs_heap_find_in_use_near(heap, v, &tc, &c->find_hint);
		if (id == HS_CHUNK_ID_NONE || !hs_classes_wanted(&tc))
			continue;
		uint64_t off = v - tc.addr;
		if (off == 0 && c->cl->cxx)
			hs_containers_owner(c, a, w, end_data - a, &tc, id, found);
		if (off == 19) {
			/* An EMBSTR robj's ptr points at its own inline sds (robj +
			 * 19): strong Redis evidence for the gate (classify.c). */
			struct hs_cchunk k;
			hs_classes_load(c, &tc, id, &k);
			if (hs_robj_embstr(c, &k))
				(*redis)++;
			continue;
		}
		if (off > 24 || (off && off != 1 && off != 3 && off != 5 && off != 9 &&
				 off != 17 && off != 24))
			continue;
		/* At the start: a std::string triple, whose numbers are cheap to
		 * check before the chunk's bytes are looked at. */
		if (off == 0 && (end_data - a < 24 || hs_le64(w + 16) < 16 ||
				 hs_le64(w + 8) > hs_le64(w + 16) ||
				 !hs_sizing_fits(c->sizing, hs_le64(w + 16) + 1, &tc)))
			continue;
		if (hs_heap_chunk_bit(heap, id, HS_CHUNK_BIT_REF))
			continue;
		struct hs_cchunk k;
		hs_classes_load(c, &tc, id, &k);
		if (!hs_evidence(c, &k, off, w, end_data - a) ||
		    hs_heap_chunk_bit_set(heap, id, HS_CHUNK_BIT_REF))
			continue;
		/* A pointer to an sds buffer: strong Redis evidence (the gate),
		 * counted once per sds. */
		if (off != 0 && off != 24)
			(*redis)++;
	}
}

/* Scan [lo, hi) of a range, skipping the words of chunks not in use: their
 * words are stale. */
static void hs_scan_piece(struct hs_classes *c, const struct hs_scan_piece *pc,
			  struct hs_cfound *found, uint64_t *redis)
{
	const struct hs_heap *heap = c->cl->heap;
	uint64_t a = pc->lo;
	struct hs_chunk ch;
	if (a < heap->hi && hs_heap_find(heap, a, &ch, NULL) &&
	    hs_chunk_state(&ch) != HS_CHUNK_IN_USE) {
		/* Written so that nothing wraps: a chunk may end at 2^64 - 1. */
		uint64_t e = ch.addr + hs_chunk_size(&ch);
		if (e < ch.addr || e > UINT64_MAX - 7 || e >= pc->hi)
			return;
		a = (e + 7) & ~UINT64_C(7);
	}
	struct hs_chunk_iter it;
	hs_chunk_iter_init(&it, heap, a, pc->hi);
	while (a < pc->hi) {
		if (!hs_chunk_iter_next_idle(&it, &ch)) {
			hs_scan_words(c, pc->range, a, pc->hi, found, redis);
			return;
		}
		if (ch.addr > a)
			hs_scan_words(c, pc->range, a, ch.addr < pc->hi ? ch.addr : pc->hi, found,
				      redis);
		uint64_t e = ch.addr + hs_chunk_size(&ch);
		if (e < ch.addr || e > UINT64_MAX - 7 || e >= pc->hi)
			return;
		a = (e + 7) & ~UINT64_C(7);
	}
}

static void *hs_scan_thread(void *arg)
{
	struct hs_scan_work *wk = arg;
	struct hs_classes *c;
	if (hs_classes_create(wk->cl, &c)) {
		__atomic_store_n(&wk->nomem, true, __ATOMIC_RELAXED);
		return NULL;
	}
	struct hs_cfound found = {0};
	uint64_t redis = 0;
	for (;;) {
		size_t i = __atomic_fetch_add(&wk->next, 1, __ATOMIC_RELAXED);
		if (i >= wk->npieces)
			break;
		const struct hs_scan_piece *pc = &wk->pieces[i];
		hs_scan_piece(c, pc, &found, &redis);
		hs_progress_add(wk->cl->progress, pc->hi - pc->lo);
	}
	hs_classes_destroy(c);
	pthread_mutex_lock(&wk->lock);
	wk->cl->redis_evidence += redis;
	if (found.nomem ||
	    !hs_grow((void **)&wk->found.items, &wk->found.cap, wk->found.n + found.n,
		     sizeof(*found.items)))
		wk->nomem = true;
	else if (found.n)
		memcpy(wk->found.items + wk->found.n, found.items, found.n * sizeof(*found.items));
	if (!wk->nomem)
		wk->found.n += found.n;
	pthread_mutex_unlock(&wk->lock);
	free(found.items);
	return NULL;
}

/*
 * Spans of allocator state the scan leaves out: jemalloc's tcache stacks
 * (heap->owned "tcache stack"), whose stale slots hold pointers to regions
 * handed out since, which would read as the program's references (a
 * vector's triple, an sds pointer). Returns hi, or where the first such span
 * in [lo, hi) starts; if that is lo, *skip_to gets the span's end.
 */
struct hs_scan_skip {
	const struct hs_region **spans;
	size_t n;
};

static uint64_t hs_scan_clip(const struct hs_scan_skip *sk, uint64_t lo, uint64_t hi,
			     uint64_t *skip_to)
{
	uint64_t cut = hi, cut_end = hi;
	for (size_t i = 0; i < sk->n; i++) {
		const struct hs_region *r = sk->spans[i];
		uint64_t end = r->start + r->size < r->start ? UINT64_MAX : r->start + r->size;
		if (r->start >= hi || end <= lo)
			continue;
		uint64_t s0 = r->start & ~UINT64_C(7);
		if (s0 < cut) {
			cut = s0;
			cut_end = end > UINT64_MAX - 7 ? UINT64_MAX & ~UINT64_C(7)
						       : (end + 7) & ~UINT64_C(7);
		}
	}
	if (cut <= lo) {
		*skip_to = cut_end;
		return lo;
	}
	*skip_to = hi;
	return cut;
}

struct hs_error *hs_strings_scan(struct hs_classifier *cl)
{
	const struct hs_memory *mem = &cl->proc->mem;
	struct hs_scan_work wk = {.cl = cl};
	size_t cap = 0;
	uint64_t total = 0;
	hs_heap_chunk_bits_clear(cl->heap, HS_CHUNK_BIT_REF);
	if (!cl->heap->nchunks)
		return NULL;
	struct hs_scan_skip skip = {0};
	size_t skip_cap = 0;
	for (size_t i = 0; i < cl->heap->nowned; i++) {
		if (strcmp(cl->heap->owned[i].kind, "tcache stack") != 0)
			continue;
		if (!hs_grow((void **)&skip.spans, &skip_cap, skip.n + 1, sizeof(*skip.spans))) {
			free(skip.spans);
			return HS_ENOMEM;
		}
		skip.spans[skip.n++] = &cl->heap->owned[i];
	}
	for (size_t r = 0; r < mem->count; r++) {
		const struct hs_memory_range *range = &mem->ranges[r];
		if (!(range->flags & PF_W) || range->filesz < 8)
			continue;
		/* Written so that nothing wraps: a range may end at 2^64 - 1. */
		uint64_t lo = (range->start + 7) & ~UINT64_C(7);
		uint64_t end = range->start + range->filesz;
		if (lo < range->start)
			continue;
		while (lo < end && end - lo >= 8) {
			uint64_t hi = end - lo > HS_SCAN_PIECE ? lo + HS_SCAN_PIECE : end;
			/* Allocator state is no evidence: a piece stops where a
			 * skipped span starts and the next one starts past it. */
			uint64_t skip_to;
			hi = hs_scan_clip(&skip, lo, hi, &skip_to);
			if (hi == lo) {
				lo = skip_to;
				continue;
			}
			if (!hs_grow((void **)&wk.pieces, &cap, wk.npieces + 1, sizeof(*wk.pieces))) {
				free(wk.pieces);
				free(skip.spans);
				return HS_ENOMEM;
			}
			wk.pieces[wk.npieces++] = (struct hs_scan_piece){range, lo, hi};
			total += hi - lo;
			lo = hi;
		}
	}
	free(skip.spans);
	hs_progress_phase(cl->progress, "scan for evidence", total);
	pthread_mutex_init(&wk.lock, NULL);
	struct hs_error *err = hs_parallel(cl->threads, hs_scan_thread, &wk);
	pthread_mutex_destroy(&wk.lock);
	free(wk.pieces);
	/* Containers found by their owners, in one map; a chunk two owners
	 * claim keeps the more specific kind (hs_container_rank: a deque
	 * iterator's {cur, first, last} also reads as a vector's triple). */
	for (size_t i = 0; !err && !wk.nomem && i < wk.found.n; i++) {
		uint32_t old;
		const struct hs_cfound_item *it = &wk.found.items[i];
		if ((!hs_u64map_get(&cl->containers, it->id, &old) ||
		     hs_container_rank(it->kind) > hs_container_rank(old)) &&
		    !hs_u64map_put(&cl->containers, it->id, it->kind))
			wk.nomem = true;
	}
	free(wk.found.items);
	if (!err && wk.nomem)
		err = HS_ENOMEM;
	return err;
}

bool hs_cow_detect(struct hs_classes *c, const struct hs_cchunk *k,
		   struct hs_detect *ret, char *why, size_t whylen)
{
	if (!hs_cow_valid(c, k))
		return false;
	const uint8_t *p = k->p;
	uint64_t len = hs_le64(p), cap = hs_le64(p + 8);
	int32_t rc = (int32_t)hs_le32(p + 16);
	if (c->cow_type == HS_TYPE_NONE)
		c->cow_type = hs_classes_type(c, "std::string (COW)", HS_KIND_STRING, 0.9);
	uint32_t id = c->cow_type;
	if (id == HS_TYPE_NONE)
		return false;
	ret->type = id;
	ret->strong = true;
	if (why)
		snprintf(why, whylen,
			 "an old-ABI COW std::string _Rep {length=%llu capacity=%llu refcount=%d} "
			 "with a NUL at [length], referenced at chunk + 24 (its characters)",
			 (unsigned long long)len, (unsigned long long)cap, rc);
	return true;
}

bool hs_cstring_detect(struct hs_classes *c, const struct hs_cchunk *k,
		       struct hs_detect *ret, char *why, size_t whylen)
{
	const uint8_t *p = k->p;
	if (!hs_cstring_maybe(k))
		return false;
	const void *nul = memchr(p, 0, k->avail);
	if (!nul)
		return false;
	size_t len = (size_t)((const uint8_t *)nul - p);
	const struct hs_chunk *ch = &k->c;
	/*
	 * At least 4 characters, and either the chunk is what malloc(len + 1)
	 * returns (strdup), or the text fills most of a larger buffer.
	 */
	uint64_t usable = hs_sizing_usable(c->sizing, ch);
	/* The cheap tests of the conjunction below first: most chunks have a
	 * NUL in their first bytes, and the lookups would only say no twice. */
	if (len < 4)
		return false;
	/* Eight bytes that read as an address the process maps are a pointer,
	 * whatever they look like (a node's next, a vptr). */
	uint64_t first = k->avail >= 8 ? hs_le64(p) : 0;
	if (first && (hs_heap_contains(c->heap, first) || hs_classes_in_module(c, first)))
		return false;
	if (len < 4 || !hs_text_ok(p, len) ||
	    !(hs_sizing_fits(c->sizing, len + 1, ch) || (len >= 16 && 2 * (len + 1) > usable)))
		return false;
	if (c->cstring_type == HS_TYPE_NONE)
		c->cstring_type = hs_classes_type(c, "C string", HS_KIND_CSTRING, 0.8);
	uint32_t id = c->cstring_type;
	if (id == HS_TYPE_NONE)
		return false;
	ret->type = id;
	ret->strong = true;
	if (why)
		snprintf(why, whylen, "%zu bytes of printable text and a NUL, in a %llu-byte chunk",
			 len, (unsigned long long)usable);
	return true;
}
