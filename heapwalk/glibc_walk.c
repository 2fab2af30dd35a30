/* glibc_walk.c: enumerate glibc ptmalloc chunks from located globals and reproduce mallinfo2(). */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/parallel.h"
#include "glibc.h"
#include "glibc_walk.h"

/*
 * Hard bounds on every loop the core controls. They are far above anything
 * a real process reaches and only stop hostile or corrupt input.
 */
#define GL_MAX_ARENAS 4096          /* glibc itself caps narenas at 8 per core */
#define GL_MAX_HEAPS 65536          /* 4 TiB of 64 MiB heaps per arena */
#define GL_MAX_LIST (UINT64_C(1) << 28) /* fastbin / bin list entries */
#define GL_RESYNC_SPAN (UINT64_C(1) << 20) /* bytes scanned for a chunk boundary */
#define GL_RESYNC_RUN 8             /* consecutive sane chunks that prove one */
#define GL_MAX_RESYNCS 64           /* per heap segment */
#define GL_PAGE UINT64_C(4096)

/*
 * One step of a free-list walk. Each list has its own bound and cycle
 * check, but lists can share their entries: a hostile core can point the
 * fastbins of 4096 arenas (or every bin) at one chain of a million chunks,
 * and each walk would record the chain again (bench/hostile: 32 arenas on
 * one chain, 5.9 s and 1 GB for a 108 MB core). Every entry of an honest
 * heap is a distinct chunk of at least MINSIZE bytes, so all the lists
 * together have fewer entries than the core has 16-byte units: past that,
 * the lists are hostile, and the walks stop.
 */
static bool gl_list_step(struct gl_ctx *c, uint64_t at)
{
	if (c->list_steps) {
		c->list_steps--;
		return true;
	}
	if (!c->list_capped)
		hs_diags_add(c->diags, HS_DIAG_ERROR, true, at,
			     "free lists hold more entries than the core has room "
			     "for (lists shared between arenas or bins?); stopped "
			     "at 0x%" PRIx64 ", the remaining lists are not walked", at);
	c->list_capped = true;
	return false;
}

static bool gl_win_refill(struct gl_win *w, uint64_t addr, uint64_t *ret)
{
	const struct hs_memory_range *r = hs_memory_find(w->mem, addr);
	if (r && addr - r->start < r->filesz && r->filesz - (addr - r->start) >= 8) {
		const uint8_t *base = hs_memory_ptr(w->mem, r->start, r->filesz);
		if (base) {
			w->lo = r->start;
			w->hi = r->start + r->filesz;
			w->base = base;
			memcpy(ret, base + (addr - r->start), 8);
			return true;
		}
	}
	/* Straddles two ranges, or is not backed: the checked slow path. */
	return hs_memory_u64(w->mem, addr, ret);
}

static inline bool gl_rd(struct gl_ctx *c, uint64_t addr, uint64_t *ret)
{
	struct gl_win *w = &c->win;
	if (addr >= w->lo && addr < w->hi && w->hi - addr >= 8) {
		memcpy(ret, w->base + (addr - w->lo), 8);
		return true;
	}
	return gl_win_refill(w, addr, ret);
}

/*
 * The walk reads one header after another, each where the last one said:
 * a chain of dependent loads through the core, which on a big core comes
 * from memory, not cache (a 1.5 GiB core spent most of its walk waiting on
 * them). Ask for the bytes a little ahead while the chain catches up.
 */
#define GL_PREFETCH_AHEAD 1024

static inline void gl_prefetch(const struct gl_ctx *c, uint64_t addr)
{
	const struct gl_win *w = &c->win;
	if (addr >= w->lo && addr < w->hi)
		__builtin_prefetch(w->base + (addr - w->lo));
}

static bool gl_rd32(struct gl_ctx *c, uint64_t addr, uint32_t *ret)
{
	return hs_memory_u32(c->mem, addr, ret);
}

/* Safe-linking (PROTECT_PTR, malloc/malloc.c:344): a singly linked `next`
 * is stored xor-ed with the address of the field, shifted by 12. */
static inline uint64_t gl_reveal(const struct gl_ctx *c, uint64_t field_addr,
				 uint64_t stored)
{
	return c->L->safe_linking ? stored ^ (field_addr >> 12) : stored;
}

static bool gl_add_cached(struct gl_ctx *c, uint64_t chunk, enum gl_kind kind,
			  uint32_t owner, unsigned bin)
{
	if (c->ncached == c->cached_cap &&
	    !hs_grow((void **)&c->cached, &c->cached_cap, c->ncached + 1,
		     sizeof(*c->cached)))
		return false;
	c->cached[c->ncached++] = (struct gl_cached){
		.chunk = chunk, .owner = owner, .kind = (uint8_t)kind,
		.bin = (uint8_t)bin,
	};
	return true;
}

static bool gl_add_span(struct gl_ctx *c, uint64_t start, uint64_t end)
{
	if (end < start) /* a hostile size wrapped around */
		end = UINT64_MAX;
	if (c->nspans == c->spans_cap &&
	    !hs_grow((void **)&c->spans, &c->spans_cap, c->nspans + 1,
		     sizeof(*c->spans)))
		return false;
	c->spans[c->nspans++] = (struct gl_span){ start, end };
	return true;
}

static int gl_cmp_cached(const void *a, const void *b)
{
	uint64_t x = ((const struct gl_cached *)a)->chunk;
	uint64_t y = ((const struct gl_cached *)b)->chunk;
	return x < y ? -1 : x > y;
}

static int gl_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int gl_cmp_span(const void *a, const void *b)
{
	uint64_t x = ((const struct gl_span *)a)->start;
	uint64_t y = ((const struct gl_span *)b)->start;
	return x < y ? -1 : x > y;
}

static const char *gl_kind_name(uint8_t kind)
{
	return kind == GL_TCACHE ? "tcache" : "fastbin";
}

/* ------------------------------------------------------------------------
 * Arenas: main_arena and its `next` ring.
 * ------------------------------------------------------------------------ */

/* A non-main arena lives right after the heap_info of the HEAP_MAX-aligned
 * heap holding it (_int_new_arena, malloc/arena.c:757), and that heap_info
 * points back at it. */
static bool gl_arena_shape_ok(struct gl_ctx *c, uint64_t a)
{
	const struct hs_glibc_layout *L = c->L;
	uint64_t h = a & ~(c->heap_max - 1), ar;
	return a == h + L->hi.size && gl_rd(c, h + L->hi.ar_ptr, &ar) &&
	       ar == a && hs_memory_readable(c->mem, a, L->ms.size);
}

static struct hs_error *gl_collect_arenas(struct gl_ctx *c)
{
	const struct hs_glibc_layout *L = c->L;
	uint64_t a = c->main_arena;
	if (!hs_memory_readable(c->mem, a, L->ms.size))
		return hs_error_create(HS_ERR_FAULT,
				       "glibc: main_arena at 0x%" PRIx64
				       " is not in the core", a);
	for (;;) {
		if (!hs_grow((void **)&c->arenas, &c->arenas_cap,
			     c->narenas + 1, sizeof(*c->arenas)))
			return HS_ENOMEM;
		struct gl_arena *ar = &c->arenas[c->narenas++];
		memset(ar, 0, sizeof(*ar));
		ar->addr = a;
		uint64_t next;
		if (!gl_rd(c, a + L->ms.next, &next)) {
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, a,
				     "arena 0x%" PRIx64 ": next pointer unreadable; "
				     "arena ring cut short", a);
			break;
		}
		if (next == c->main_arena)
			break;
		if (c->narenas >= GL_MAX_ARENAS) {
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, a,
				     "arena ring longer than %d arenas; stopped",
				     GL_MAX_ARENAS);
			break;
		}
		bool dup = false;
		for (size_t i = 0; i < c->narenas && !dup; i++)
			dup = c->arenas[i].addr == next;
		if (dup) {
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, a,
				     "arena 0x%" PRIx64 ": next 0x%" PRIx64
				     " closes a cycle that skips main_arena", a, next);
			break;
		}
		if (!gl_arena_shape_ok(c, next)) {
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, a,
				     "arena 0x%" PRIx64 ": next 0x%" PRIx64
				     " is not an arena (no heap_info pointing at it)",
				     a, next);
			break;
		}
		a = next;
	}
	for (size_t i = 0; i < c->narenas; i++) {
		struct gl_arena *ar = &c->arenas[i];
		uint64_t top = 0, sz = 0, sysmem = 0;
		uint32_t flags = 0;
		gl_rd(c, ar->addr + L->ms.top, &top);
		gl_rd(c, ar->addr + L->ms.system_mem, &sysmem);
		gl_rd32(c, ar->addr + L->ms.flags, &flags);
		ar->top = top;
		ar->system_mem = sysmem;
		ar->flags = flags;
		/* initial_top(M) is unsorted_chunks(M) = bin_at(M, 1)
		 * (malloc/malloc.c:1535, 1674, 1695): malloc not yet used. */
		uint64_t initial_top = ar->addr + L->ms.bins - L->hdr_size;
		if (top == 0 || top == initial_top)
			continue;
		if (top & (L->malloc_alignment - 1)) {
			hs_diags_add(c->diags, HS_DIAG_ERROR, true, top,
				     "arena 0x%" PRIx64 ": top chunk 0x%" PRIx64
				     " is misaligned; arena not walked", ar->addr, top);
			continue;
		}
		ar->initialized = true;
		/* A truncated core can lack top but keep most of the heap
		 * below it: walk that, with top's size unknown. */
		if (!gl_rd(c, top + 8, &sz)) {
			hs_diags_add(c->diags, HS_DIAG_ERROR, true, top,
				     "arena 0x%" PRIx64 ": top chunk 0x%" PRIx64
				     " is not in the core; its size is unknown and the "
				     "statistics are inexact", ar->addr, top);
			continue;
		}
		ar->top_size = sz & ~(uint64_t)HS_GLIBC_SIZE_BITS;
		ar->top_known = true;
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Caches: per-thread tcaches and per-arena fastbins.
 * ------------------------------------------------------------------------ */

static bool gl_add_key(struct gl_ctx *c, uint64_t e)
{
	uint64_t key = 0;
	if (c->L->tc.entry_key == HS_GLIBC_ABSENT ||
	    !gl_rd(c, e + c->L->tc.entry_key, &key))
		return true;
	if (c->nkeys == c->keys_cap &&
	    !hs_grow((void **)&c->keys, &c->keys_cap, c->nkeys + 1, sizeof(*c->keys)))
		return false;
	c->keys[c->nkeys++] = (struct gl_key){ e, key };
	return true;
}

/*
 * Every entry in a thread's tcache carries the same key (tcache_put; the
 * global tcache_key since 2.34, the thread's tcache before): one that
 * differs was written after it was freed. Boyer-Moore majority vote.
 */
static void gl_check_keys(struct gl_ctx *c, const struct hs_glibc_tcache *t)
{
	uint64_t cand = 0, votes = 0, n = 0;
	for (size_t i = 0; i < c->nkeys; i++) {
		if (votes == 0)
			cand = c->keys[i].key;
		votes += c->keys[i].key == cand ? 1 : (uint64_t)-1;
	}
	for (size_t i = 0; i < c->nkeys; i++)
		n += c->keys[i].key == cand;
	if (c->nkeys < 3 || 2 * n <= c->nkeys)
		return;
	for (size_t i = 0; i < c->nkeys; i++)
		if (c->keys[i].key != cand)
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, c->keys[i].entry,
				     "thread %d: tcache entry 0x%" PRIx64 " has key 0x%"
				     PRIx64 ", the other entries 0x%" PRIx64
				     " (written after free?)", t->tid, c->keys[i].entry,
				     c->keys[i].key, cand);
}

/* The (smallest) chunk size tcache bin i holds: csize2tidx inverted
 * (malloc.c:301-305 in 2.42). */
static uint64_t gl_tcache_bin_size(const struct hs_glibc_layout *L, unsigned i)
{
	if (i < L->tc.small_bins)
		return L->minsize + (uint64_t)i * L->malloc_alignment;
	uint64_t small_max = L->minsize + (uint64_t)(L->tc.small_bins - 1) *
			     L->malloc_alignment;
	unsigned top = 63 - (unsigned)__builtin_clzll(small_max);
	uint64_t lo = UINT64_C(1) << (top + (i - L->tc.small_bins));
	return lo > small_max ? lo : small_max + L->malloc_alignment;
}

/* Does bin i hold chunks of size sz? The small bins one size each; from
 * 2.42 the large bins every size with the same highest bit
 * (large_csize2tidx, malloc.c:3163-3170 in 2.42). */
static bool gl_tcache_bin_holds(const struct hs_glibc_layout *L, unsigned i,
				uint64_t sz)
{
	if (i < L->tc.small_bins)
		return sz == gl_tcache_bin_size(L, i);
	uint64_t lo = gl_tcache_bin_size(L, i);
	uint64_t hi = UINT64_C(1) << (64 - __builtin_clzll(lo));
	return sz >= lo && sz < hi && !(sz & (L->malloc_alignment - 1));
}

static bool gl_walk_tcache(struct gl_ctx *c, const struct hs_glibc_tcache *t)
{
	const struct hs_glibc_layout *L = c->L;
	uint64_t tc = t->tcache, hdr;
	if (!tc)
		return true;
	if (tc & (L->malloc_alignment - 1)) {
		hs_diags_add(c->diags, HS_DIAG_WARNING, true, tc,
			     "thread %d: tcache pointer 0x%" PRIx64 " is misaligned",
			     t->tid, tc);
		return true;
	}
	const uint8_t *s = hs_memory_ptr(c->mem, tc, L->tc.size);
	if (!s) {
		hs_diags_add(c->diags, HS_DIAG_WARNING, true, tc,
			     "thread %d: tcache 0x%" PRIx64 " is not in the core",
			     t->tid, tc);
		return true;
	}
	if (!gl_rd(c, tc - 8, &hdr) ||
	    (hdr & ~(uint64_t)HS_GLIBC_SIZE_BITS) != L->tc.chunk_size)
		hs_diags_add(c->diags, HS_DIAG_WARNING, true, tc,
			     "thread %d: tcache 0x%" PRIx64 " is not in a 0x%" PRIx64
			     "-byte chunk", t->tid, tc, L->tc.chunk_size);
	if (c->nmeta == c->meta_cap &&
	    !hs_grow((void **)&c->meta, &c->meta_cap, c->nmeta + 1,
		     sizeof(*c->meta)))
		return false;
	c->meta[c->nmeta++] = tc - L->hdr_size;
	c->nkeys = 0;

	/* 2.42+ keeps the free slots per bin, not the entries: without
	 * mp_.tcache_count the chains are walked but not counted. */
	bool counted = !L->tc.count_is_slots || c->mp_tcache_count;
	for (unsigned i = 0; i < L->tc.nbins; i++) {
		unsigned count;
		uint64_t e;
		if (L->tc.count_bytes == 2) {
			uint16_t v;
			memcpy(&v, s + L->tc.counts + 2 * i, 2);
			count = v;
		} else {
			count = s[L->tc.counts + i];
		}
		if (L->tc.count_is_slots) {
			if (counted && count > c->mp_tcache_count) {
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, tc,
					     "thread %d: tcache bin %u: %u free slots, "
					     "more than mp_.tcache_count %" PRIu64,
					     t->tid, i, count, c->mp_tcache_count);
				counted = false;
			}
			count = counted ? (unsigned)c->mp_tcache_count - count
					: UINT16_MAX;
		}
		memcpy(&e, s + L->tc.entries + 8 * i, 8);
		uint64_t want = gl_tcache_bin_size(L, i);
		/* Brent's cycle detection; the chain is also bounded by count. */
		uint64_t tortoise = e, power = 1, lam = 0;
		unsigned n = 0;
		bool broken = false;
		while (e) {
			if (!gl_list_step(c, e))
				break;
			if (n >= count) {
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, e,
					     "thread %d: tcache bin %u (0x%" PRIx64
					     "): chain continues past its count %u at 0x%" PRIx64,
					     t->tid, i, want, count, e);
				broken = true;
				break;
			}
			uint64_t sz, stored;
			if ((e & (L->malloc_alignment - 1)) ||
			    !gl_rd(c, e - L->hdr_size + 8, &sz) ||
			    !gl_rd(c, e + L->tc.entry_next, &stored)) {
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, e,
					     "thread %d: tcache bin %u: entry 0x%" PRIx64
					     " is misaligned or not in the core",
					     t->tid, i, e);
				broken = true;
				break;
			}
			if (!gl_tcache_bin_holds(L, i, sz & ~(uint64_t)HS_GLIBC_SIZE_BITS))
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, e,
					     "thread %d: tcache bin %u (0x%" PRIx64
					     "): entry 0x%" PRIx64 " has chunk size 0x%" PRIx64,
					     t->tid, i, want, e, sz);
			if (!gl_add_cached(c, e - L->hdr_size, GL_TCACHE,
					   (uint32_t)t->tid, i) ||
			    !gl_add_key(c, e))
				return false;
			n++;
			uint64_t next = gl_reveal(c, e + L->tc.entry_next, stored);
			if (next == tortoise) {
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, e,
					     "thread %d: tcache bin %u: cycle back to 0x%" PRIx64,
					     t->tid, i, next);
				broken = true;
				break;
			}
			if (++lam == power) {
				tortoise = next;
				power *= 2;
				lam = 0;
			}
			e = next;
		}
		if (!broken && counted && n != count)
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, tc,
				     "thread %d: tcache bin %u: count %u but %u entries",
				     t->tid, i, count, n);
	}
	gl_check_keys(c, t);
	return true;
}

static bool gl_walk_fastbins(struct gl_ctx *c, size_t ai)
{
	const struct hs_glibc_layout *L = c->L;
	struct gl_arena *ar = &c->arenas[ai];
	bool is_main = ar->addr == c->main_arena;
	/* Each fastbin chunk takes MINSIZE bytes of the arena at least. */
	uint64_t bound = ar->system_mem / L->minsize + 1;
	if (bound > GL_MAX_LIST)
		bound = GL_MAX_LIST;
	for (unsigned i = 0; i < L->nfastbins; i++) {
		uint64_t p;
		if (!gl_rd(c, ar->addr + L->ms.fastbins + 8 * (uint64_t)i, &p))
			continue;
		/* fastbin_index(sz) = (sz >> 4) - 2, malloc/malloc.c:1741 */
		uint64_t want = L->minsize + (uint64_t)i * L->malloc_alignment;
		uint64_t tortoise = p, power = 1, lam = 0, n = 0;
		while (p) {
			if (!gl_list_step(c, p))
				break;
			if (n >= bound) {
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, p,
					     "arena 0x%" PRIx64 ": fastbin %u longer than the "
					     "arena can hold; stopped at 0x%" PRIx64,
					     ar->addr, i, p);
				break;
			}
			uint64_t sz, stored;
			if ((p & (L->malloc_alignment - 1)) || !gl_rd(c, p + 8, &sz) ||
			    !gl_rd(c, p + L->hdr_size, &stored)) {
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, p,
					     "arena 0x%" PRIx64 ": fastbin %u: chunk 0x%" PRIx64
					     " is misaligned or not in the core",
					     ar->addr, i, p);
				break;
			}
			uint64_t csz = sz & ~(uint64_t)HS_GLIBC_SIZE_BITS;
			if (csz != want)
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, p,
					     "arena 0x%" PRIx64 ": fastbin %u (0x%" PRIx64
					     "): chunk 0x%" PRIx64 " has size 0x%" PRIx64,
					     ar->addr, i, want, p, sz);
			else if (!!(sz & HS_GLIBC_NON_MAIN_ARENA) == is_main)
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, p,
					     "arena 0x%" PRIx64 ": fastbin chunk 0x%" PRIx64
					     " has the wrong NON_MAIN_ARENA bit",
					     ar->addr, p);
			if (!gl_add_cached(c, p, GL_FASTBIN, (uint32_t)ai, i))
				return false;
			n++;
			ar->nfast++;
			ar->fast_bytes += csz;
			uint64_t next = gl_reveal(c, p + L->hdr_size, stored);
			if (next == tortoise) {
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, p,
					     "arena 0x%" PRIx64 ": fastbin %u: cycle back to 0x%"
					     PRIx64, ar->addr, i, next);
				break;
			}
			if (++lam == power) {
				tortoise = next;
				power *= 2;
				lam = 0;
			}
			p = next;
		}
	}
	return true;
}

/* Sort the cache sets for the address-ordered walk and report chunks that
 * two lists claim (a double free). */
static void gl_prepare_sets(struct gl_ctx *c)
{
	if (c->ncached)
		qsort(c->cached, c->ncached, sizeof(*c->cached), gl_cmp_cached);
	for (size_t i = 1; i < c->ncached; i++) {
		const struct gl_cached *a = &c->cached[i - 1], *b = &c->cached[i];
		if (a->chunk == b->chunk)
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, b->chunk + 16,
				     "chunk 0x%" PRIx64 " is in two caches (%s bin %u "
				     "and %s bin %u): double free",
				     b->chunk, gl_kind_name(a->kind), a->bin,
				     gl_kind_name(b->kind), b->bin);
	}
	if (c->nmeta)
		qsort(c->meta, c->nmeta, sizeof(*c->meta), gl_cmp_u64);
}

/* ------------------------------------------------------------------------
 * The chunk walk.
 * ------------------------------------------------------------------------ */

/*
 * Is there a plausible chunk at p? GL_END if p is where the segment ends
 * (the top chunk, or a fencepost pair in an old heap). Arena chunks never
 * carry IS_MMAPPED, and main-arena chunks never NON_MAIN_ARENA.
 */
static inline enum gl_check gl_check_at(struct gl_ctx *c, const struct gl_seg *s, uint64_t p,
					uint64_t *size)
{
	const struct hs_glibc_layout *L = c->L;
	uint64_t raw, raw2;
	if (s->kind == GL_SEG_TOP && p >= s->end)
		return p == s->end ? GL_END : GL_BAD;
	if (p >= s->limit || s->limit - p < 2 * L->hdr_size || !gl_rd(c, p + 8, &raw))
		return GL_BAD;
	uint64_t sz = raw & ~(uint64_t)HS_GLIBC_SIZE_BITS;
	if (s->kind == GL_SEG_FENCE && sz == L->hdr_size &&
	    gl_rd(c, p + L->hdr_size + 8, &raw2) &&
	    (raw2 & ~(uint64_t)HS_GLIBC_SIZE_BITS) == 0)
		return GL_END;
	bool main = c->arenas[s->ai].addr == c->main_arena;
	if (sz < L->minsize || (sz & (L->malloc_alignment - 1)) ||
	    (raw & HS_GLIBC_IS_MMAPPED) || (main && (raw & HS_GLIBC_NON_MAIN_ARENA)))
		return GL_BAD;
	uint64_t room = (s->kind == GL_SEG_TOP ? s->end : s->limit) - p;
	if (sz > room)
		return GL_BAD;
	/* The next chunk's header must be readable: it holds our in-use bit. */
	if (s->kind == GL_SEG_FENCE && sz > room - L->hdr_size)
		return GL_BAD;
	*size = sz;
	return GL_OK;
}

/* The same out of line, for the searches of a start (glibc_split.c). */
enum gl_check hs_glibc_check_at(struct gl_ctx *c, const struct gl_seg *s, uint64_t p,
				uint64_t *size)
{
	return gl_check_at(c, s, p, size);
}

/* After a bad size at `bad`: the next address from which GL_RESYNC_RUN
 * sane chunks in a row follow (or the segment's end does). */
static bool gl_resync(struct gl_ctx *c, const struct gl_seg *s, uint64_t bad,
		      uint64_t *ret)
{
	const struct hs_glibc_layout *L = c->L;
	/* Top itself is a candidate: garbage up to it still leaves top. */
	uint64_t stop = s->kind == GL_SEG_TOP ? s->end + 1 : s->limit;
	if (stop - bad > GL_RESYNC_SPAN)
		stop = bad + GL_RESYNC_SPAN;
	const uint64_t align = L->malloc_alignment;
	for (uint64_t q = bad + align; q < stop; q += align) {
		uint64_t r = q, sz, raw;
		/* A candidate whose size field is not in the core fails at once;
		 * jump over the whole stretch that is not (a core cut inside
		 * this heap) instead of failing at every aligned address in it.
		 * Top stays a candidate: it ends the segment even unbacked. */
		if ((s->kind != GL_SEG_TOP || q < s->end) && !gl_rd(c, q + 8, &raw)) {
			uint64_t nb, lim = stop;
			if (hs_memory_next_backed(c->mem, q + 8, &nb) && nb - 8 < stop)
				lim = nb - 8;
			if (s->kind == GL_SEG_TOP && s->end > q && s->end < lim)
				lim = s->end;
			/* Candidates below lim all fail; resume at the first
			 * one at or above it (the loop adds the last step). */
			if (lim > q + align)
				q += (lim - q - 1) / align * align;
			continue;
		}
		bool ok = true;
		for (unsigned k = 0; k < GL_RESYNC_RUN; k++) {
			enum gl_check ck = hs_glibc_check_at(c, s, r, &sz);
			if (ck == GL_END)
				break;
			if (ck == GL_BAD) {
				ok = false;
				break;
			}
			r += sz;
		}
		if (ok) {
			*ret = q;
			return true;
		}
	}
	return false;
}

static inline bool gl_lookup_meta(struct gl_ctx *c, struct gl_seg *s,
				  uint64_t p)
{
	while (s->mi < c->nmeta && c->meta[s->mi] < p)
		s->mi++;
	if (s->mi < c->nmeta && c->meta[s->mi] == p) {
		c->meta_seen[s->mi] = true;
		return true;
	}
	return false;
}

static inline const struct gl_cached *gl_lookup_cached(struct gl_ctx *c,
						       struct gl_seg *s,
						       uint64_t p)
{
	while (s->ci < c->ncached && c->cached[s->ci].chunk < p)
		s->ci++;
	if (s->ci >= c->ncached || c->cached[s->ci].chunk != p)
		return NULL;
	for (size_t i = s->ci; i < c->ncached && c->cached[i].chunk == p; i++)
		c->cached[i].seen = true;
	return &c->cached[s->ci];
}

static size_t gl_lower_cached(const struct gl_ctx *c, uint64_t addr)
{
	size_t lo = 0, hi = c->ncached;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->cached[mid].chunk < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t gl_lower_meta(const struct gl_ctx *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nmeta;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->meta[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool gl_flush(struct gl_ctx *c)
{
	uint64_t n = c->pend_n;
	c->pend_n = 0;
	return !n || hs_heap_add_chunks(c->heap, c->pend_addr, c->pend_size, n, HS_CHUNK_IN_USE, 0);
}

/* n plain in-use chunks of one size from addr on, after the pending ones:
 * millions of equal chunks made millions of calls, a third of the walk. */
static inline bool gl_add_run(struct gl_ctx *c, uint64_t addr, uint64_t size, uint64_t n)
{
	if (!(c->pend_n && size == c->pend_size && addr == c->pend_addr + c->pend_n * size)) {
		if (!gl_flush(c))
			return false;
		c->pend_addr = addr;
		c->pend_size = size;
	}
	c->pend_n += n;
	return true;
}

/* Append a chunk the walk found: a plain in-use one joins the pending ones. */
static inline bool gl_add(struct gl_ctx *c, uint64_t addr, uint64_t size,
			  enum hs_chunk_state state, unsigned flags)
{
	if (state == HS_CHUNK_IN_USE && !flags)
		return gl_add_run(c, addr, size, 1);
	return gl_flush(c) && hs_heap_add_chunk(c->heap, addr, size, state, flags);
}

static inline uint64_t gl_sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/*
 * After an in-use chunk of size sz: the plain in-use chunks of the same size
 * field from *at on, taken in a tight loop (a heap of millions of equal objects
 * is mostly such runs), and added in bulk; returns where the walk goes on.
 * A chunk joins only if the chain walk would take it the same way: its size
 * field equals the previous chunk's (so the same checks pass), the next
 * header says it is in use, it lies where every room check passes and both
 * header reads of its successor fall in the read window, and it is before
 * the next cached or metadata chunk and before the second walker's start
 * (those the chain walk handles one by one). false only when out of memory.
 */
static bool gl_same_run(struct gl_ctx *c, struct gl_seg *s, uint64_t *at, uint64_t sz)
{
	const struct hs_glibc_layout *L = c->L;
	const struct gl_win *w = &c->win;
	uint64_t q = *at, raw;
	if (!gl_rd(c, q - sz + 8, &raw) || q < w->lo)
		return true;
	/* q < end for every chunk start q taken. */
	uint64_t end = s->kind == GL_SEG_TOP
			       ? gl_sat_sub(s->end, sz) + (s->end >= sz)
			       : gl_sat_sub(s->limit, sz + L->hdr_size) + (s->limit >= sz + L->hdr_size);
	uint64_t e2 = gl_sat_sub(s->limit, 2 * L->hdr_size) + (s->limit >= 2 * L->hdr_size);
	uint64_t e3 = gl_sat_sub(w->hi, sz + 16) + (w->hi >= sz + 16);
	end = end < e2 ? end : e2;
	end = end < e3 ? end : e3;
	uint64_t prev = q - sz;
	size_t ci = s->ci, mi = s->mi;
	while (ci < c->ncached && c->cached[ci].chunk <= prev)
		ci++;
	while (mi < c->nmeta && c->meta[mi] <= prev)
		mi++;
	if (ci < c->ncached && c->cached[ci].chunk < end)
		end = c->cached[ci].chunk;
	if (mi < c->nmeta && c->meta[mi] < end)
		end = c->meta[mi];
	if (c->stop_at && c->stop_at < end)
		end = c->stop_at;
	uint64_t start = q, r1, r2;
	if (q >= end)
		return true;
	memcpy(&r1, w->base + (q + 8 - w->lo), 8);
	while (q < end && r1 == raw) {
		__builtin_prefetch(w->base + (q - w->lo) + GL_PREFETCH_AHEAD);
		memcpy(&r2, w->base + (q + sz + 8 - w->lo), 8);
		if (!(r2 & HS_GLIBC_PREV_INUSE))
			break;
		q += sz;
		r1 = r2;
	}
	*at = q;
	return q == start || gl_add_run(c, start + L->hdr_size, sz, (q - start) / sz);
}

/* hs_glibc_walk_segment's loop; the caller adds what is still pending. */
static bool gl_walk_chain(struct gl_ctx *c, struct gl_seg *s, bool *complete)
{
	const struct hs_glibc_layout *L = c->L;
	struct gl_arena *ar = &c->arenas[s->ai];
	bool is_main = ar->addr == c->main_arena;
	unsigned resyncs = 0;
	uint64_t p = s->start;
	*complete = false;
	s->ci = gl_lower_cached(c, p);
	s->mi = gl_lower_meta(c, p);
	for (;;) {
		uint64_t sz, raw_next, prev_next;
		if (c->stop_at && p >= c->stop_at) {
			/* The second walker's start: met on the chain, with no
			 * resync before it, its walk is this walk's rest. */
			if (p == c->stop_at && !resyncs) {
				c->stopped = true;
				return true;
			}
			c->stop_at = 0; /* passed it: the rest alone */
		}
		enum gl_check ck = gl_check_at(c, s, p, &sz);
		if (ck == GL_END) {
			*complete = resyncs == 0;
			return true;
		}
		/* A double fencepost in the main heap: sbrk space stopped
		 * being contiguous (malloc/malloc.c:2890-2920). The rest is in
		 * the mapping that holds top. */
		uint64_t raw;
		if (ck == GL_BAD && is_main && s->kind == GL_SEG_TOP &&
		    gl_rd(c, p + 8, &raw) &&
		    (raw & ~(uint64_t)HS_GLIBC_SIZE_BITS) == L->hdr_size &&
		    gl_rd(c, p + L->hdr_size + 8, &raw) &&
		    (raw & ~(uint64_t)HS_GLIBC_SIZE_BITS) == L->hdr_size) {
			const struct hs_memory_range *r = hs_memory_find(c->mem, s->end);
			uint64_t q = r ? gl_align_up(r->start, L->malloc_alignment) : 0;
			if (q > p && q <= s->end) {
				hs_diags_add(c->diags, HS_DIAG_INFO, true, p,
					     "main arena: double fencepost at 0x%" PRIx64
					     " (non-contiguous sbrk); resuming at 0x%" PRIx64,
					     p, q);
				p = q;
				s->ci = gl_lower_cached(c, p);
				s->mi = gl_lower_meta(c, p);
				continue;
			}
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, p,
				     "main arena: double fencepost at 0x%" PRIx64
				     " (foreign sbrk); chunks from there to top 0x%" PRIx64
				     " not walked", p, s->end);
			return true;
		}
		if (ck == GL_BAD) {
			uint64_t q;
			raw = 0;
			gl_rd(c, p + 8, &raw);
			if (resyncs < GL_MAX_RESYNCS && gl_resync(c, s, p, &q)) {
				hs_diags_add(c->diags, HS_DIAG_ERROR, true, p,
					     "arena 0x%" PRIx64 ": bad chunk size 0x%" PRIx64
					     " at 0x%" PRIx64 "; skipped 0x%" PRIx64
					     " bytes to the next sane chunk 0x%" PRIx64,
					     ar->addr, raw, p, q - p, q);
				resyncs++;
				p = q;
				continue;
			}
			hs_diags_add(c->diags, HS_DIAG_ERROR, true, p,
				     "arena 0x%" PRIx64 ": bad chunk size 0x%" PRIx64
				     " at 0x%" PRIx64 "; rest of the heap segment "
				     "(to 0x%" PRIx64 ") not walked", ar->addr, raw, p,
				     s->kind == GL_SEG_TOP ? s->end : s->limit);
			return true;
		}
		uint64_t next = p + sz;
		gl_prefetch(c, next + GL_PREFETCH_AHEAD);
		if (!gl_rd(c, next + 8, &raw_next) || !gl_rd(c, next, &prev_next)) {
			hs_diags_add(c->diags, HS_DIAG_ERROR, true, next,
				     "arena 0x%" PRIx64 ": chunk header 0x%" PRIx64
				     " not in the core; rest of the heap segment not walked",
				     ar->addr, next);
			return true;
		}
		bool prev_inuse = raw_next & HS_GLIBC_PREV_INUSE;
		const struct gl_cached *cc = c->ncached ? gl_lookup_cached(c, s, p) : NULL;
		enum hs_chunk_state state;
		unsigned flags = 0;
		if (cc) {
			state = HS_CHUNK_CACHED;
			/* Chunks in tcache and fastbins keep their in-use bit
			 * (malloc/malloc.c:1730); one that is also free is in
			 * two free structures at once. */
			if (!prev_inuse)
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, p + L->hdr_size,
					     "chunk 0x%" PRIx64 " is in a %s but also marked free",
					     p, gl_kind_name(cc->kind));
		} else if (!prev_inuse) {
			state = HS_CHUNK_FREE;
			ar->nfree++;
			ar->free_bytes += sz;
			/* A free chunk's size is repeated in the next chunk's
			 * prev_size (set_foot). */
			if (prev_next != sz)
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, p + L->hdr_size,
					     "free chunk 0x%" PRIx64 ": size 0x%" PRIx64
					     " but footer 0x%" PRIx64, p, sz, prev_next);
		} else {
			state = HS_CHUNK_IN_USE;
			if (c->nmeta && gl_lookup_meta(c, s, p))
				flags |= HS_CHUNK_F_METADATA;
		}
		if (!gl_add(c, p + L->hdr_size, sz, state, flags))
			return false;
		p = next;
		if (state == HS_CHUNK_IN_USE && !flags && !gl_same_run(c, s, &p, sz))
			return false;
	}
}

bool hs_glibc_walk_segment(struct gl_ctx *c, struct gl_seg *s, bool *complete)
{
	bool ok = gl_walk_chain(c, s, complete);
	return gl_flush(c) && ok;
}

/* The end of the memory mapped without a gap from addr on (the ranges of a
 * split mapping are joined). */
static uint64_t gl_mapped_end(const struct gl_ctx *c, uint64_t addr)
{
	const struct hs_memory_range *r = hs_memory_find(c->mem, addr);
	if (!r)
		return addr;
	uint64_t end = r->start + r->memsz;
	for (unsigned n = 0; n < GL_MAX_HEAPS && end > r->start; n++) {
		r = hs_memory_find(c->mem, end);
		if (!r || r->start != end || r->start + r->memsz <= end)
			break;
		end = r->start + r->memsz;
	}
	return end;
}

/*
 * Top's chunk record. Its size is the core's word: a hostile one reaching
 * past top's heap (or the memory mapped from top on) would lay a chunk over
 * the mmapped chunks and heaps above it. The statistics keep the core's
 * figure (they are inexact then, and the diagnostic says why); the record
 * stops where top's memory does.
 */
static bool gl_add_top(struct gl_ctx *c, struct gl_arena *ar)
{
	/* A non-main arena's top counts only inside the heap that holds it,
	 * past its arena header: elsewhere (the walk said so) it would lie
	 * over other chunks. */
	if (!ar->top_known || (ar->addr != c->main_arena && !ar->top_heap_end))
		return true;
	uint64_t size = ar->top_size, lim = gl_mapped_end(c, ar->top);
	if (ar->top_heap_end && ar->top_heap_end < lim)
		lim = ar->top_heap_end;
	if (lim > ar->top && size > lim - ar->top) {
		hs_diags_add(c->diags, HS_DIAG_ERROR, true, ar->top,
			     "arena 0x%" PRIx64 ": top chunk 0x%" PRIx64 " of 0x%" PRIx64
			     " bytes reaches past its memory (0x%" PRIx64 "); recorded up to there",
			     ar->addr, ar->top, size, lim);
		size = lim - ar->top;
	}
	return hs_heap_add_chunk(c->heap, ar->top + c->L->hdr_size, size, HS_CHUNK_FREE, 0);
}

/*
 * The main arena's top, once every arena is walked and only when its heap
 * was: a hostile main_arena can point top into a heap of another arena, or
 * somewhere no heap is, where it would lie over other chunks. A real top
 * ends the brk heap, apart from every other.
 */
static bool gl_add_main_top(struct gl_ctx *c, struct gl_arena *ar)
{
	/* Only with its heap: a main heap not walked (the walk said why) has no
	 * span either, and the mmapped-chunk scan reads the memory top claims. */
	if (!c->main_span_set)
		return true;
	uint64_t lo = ar->top, hi = ar->top + ar->top_size;
	if (hi < lo)
		hi = UINT64_MAX;
	for (size_t i = 0; ar->top_known && i < c->nspans; i++) {
		if (i == c->main_span || c->spans[i].end <= lo || c->spans[i].start >= hi)
			continue;
		hs_diags_add(c->diags, HS_DIAG_ERROR, true, ar->top,
			     "main arena: top chunk 0x%" PRIx64 " lies in the heap of another "
			     "arena (0x%" PRIx64 "); not recorded", ar->top, c->spans[i].start);
		return true;
	}
	return gl_add_top(c, ar);
}

static bool gl_walk_main(struct gl_ctx *c, size_t ai)
{
	const struct hs_glibc_layout *L = c->L;
	struct gl_arena *ar = &c->arenas[ai];
	uint64_t top_end = ar->top + ar->top_size, start;
	/* The main heap starts at mp_.sbrk_base (aligned like the first
	 * chunk, malloc/malloc.c:2791-2806); without mp_, it is top's end
	 * minus what the arena got from the system. */
	if (c->mp_ok && c->mp_sbrk_base && c->mp_sbrk_base <= ar->top) {
		start = gl_align_up(c->mp_sbrk_base, L->malloc_alignment);
	} else if (ar->top_known) {
		start = gl_align_up(top_end - ar->system_mem, L->malloc_alignment);
	} else {
		hs_diags_add(c->diags, HS_DIAG_ERROR, true, ar->top,
			     "main arena: neither mp_.sbrk_base nor top's size is "
			     "known; main heap not walked");
		return true;
	}
	if (start > ar->top || top_end < ar->top) {
		hs_diags_add(c->diags, HS_DIAG_ERROR, true, ar->top,
			     "main arena: heap start 0x%" PRIx64 " is above top 0x%"
			     PRIx64 "; main heap not walked", start, ar->top);
		return true; /* top: gl_add_main_top, once every arena is walked */
	}
	if (!(ar->flags & L->noncontiguous_bit) && c->mp_ok && ar->top_known &&
	    c->mp_sbrk_base && top_end - c->mp_sbrk_base != ar->system_mem)
		hs_diags_add(c->diags, HS_DIAG_WARNING, true, c->mp_sbrk_base,
			     "main arena: heap [0x%" PRIx64 ", 0x%" PRIx64 ") is 0x%"
			     PRIx64 " bytes but system_mem is 0x%" PRIx64,
			     c->mp_sbrk_base, top_end, top_end - c->mp_sbrk_base,
			     ar->system_mem);
	c->main_span = c->nspans;
	c->main_span_set = true;
	if (!gl_add_span(c, start, top_end))
		return false;
	/* The main heap, from the break's start (alignment before the first
	 * chunk is the allocator's) to top's end. */
	uint64_t from = c->mp_ok && c->mp_sbrk_base && c->mp_sbrk_base <= start ?
			c->mp_sbrk_base : start;
	if (!hs_heap_add_region(c->heap, HS_REGION_HEAP, from, top_end - from))
		return false;
	struct gl_seg s = {
		.ai = ai, .start = start, .end = ar->top, .limit = top_end,
		.kind = GL_SEG_TOP,
	};
	if (!hs_glibc_walk_split(c, &s, &ar->complete))
		return false;
	return true; /* top: gl_add_main_top, once every arena is walked */
}

static bool gl_walk_nonmain(struct gl_ctx *c, size_t ai)
{
	const struct hs_glibc_layout *L = c->L;
	struct gl_arena *ar = &c->arenas[ai];
	uint64_t mask = ~(c->heap_max - 1);
	uint64_t h = ar->top & mask, sum = 0, top_end = ar->top + ar->top_size;
	bool top_known = ar->top_known;
	uint64_t tortoise = h, power = 1, lam = 0;
	bool complete = true;
	/* The heap holding top is the newest; `prev` leads to older ones
	 * (sysmalloc, malloc/malloc.c:2616-2625). */
	for (unsigned n = 0; h; n++) {
		uint64_t arp, prev, hsize;
		if (n >= GL_MAX_HEAPS) {
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, h,
				     "arena 0x%" PRIx64 ": more than %d heaps; stopped",
				     ar->addr, GL_MAX_HEAPS);
			complete = false;
			break;
		}
		if ((h & ~mask) || !gl_rd(c, h + L->hi.ar_ptr, &arp) ||
		    !gl_rd(c, h + L->hi.prev, &prev) ||
		    !gl_rd(c, h + L->hi.hsize, &hsize) || arp != ar->addr ||
		    hsize < L->hi.size + L->minsize || hsize > c->heap_max) {
			hs_diags_add(c->diags, HS_DIAG_ERROR, true, h,
				     "arena 0x%" PRIx64 ": 0x%" PRIx64 " is not one of its "
				     "heaps (heap_info unreadable, foreign or bad size)",
				     ar->addr, h);
			complete = false;
			break;
		}
		sum += hsize;
		if (!gl_add_span(c, h, h + c->heap_max))
			return false;
		/* The first heap holds the arena; its first chunk follows the
		 * malloc_state, aligned (_int_new_arena, malloc/arena.c:757-768).
		 * Later heaps start right after heap_info (malloc.c:2622). */
		uint64_t first = h + L->hi.size;
		if (ar->addr == first)
			first = gl_align_up(ar->addr + L->ms.size, L->malloc_alignment);
		/* The heap's used part, and the rest of its HEAP_MAX
		 * reservation (PROT_NONE, or given back by shrink_heap). */
		if (!hs_heap_add_region(c->heap, "arena_header", h, first - h) ||
		    !hs_heap_add_region(c->heap, HS_REGION_HEAP, h, hsize) ||
		    !hs_heap_add_region(c->heap, HS_REGION_RESERVED, h + hsize,
					c->heap_max - hsize))
			return false;
		struct gl_seg s = {
			.ai = ai, .start = first, .limit = h + hsize,
		};
		if (h == (ar->top & mask)) {
			s.kind = GL_SEG_TOP;
			s.end = ar->top;
			if (ar->top < first || ar->top >= h + hsize) {
				hs_diags_add(c->diags, HS_DIAG_ERROR, true, ar->top,
					     "arena 0x%" PRIx64 ": top chunk 0x%" PRIx64
					     " is outside its heap [0x%" PRIx64 ", 0x%" PRIx64
					     "); heap not walked", ar->addr, ar->top, first,
					     h + hsize);
				complete = false;
				goto next_heap;
			}
			if (top_known && top_end != h + hsize)
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, ar->top,
					     "arena 0x%" PRIx64 ": top chunk ends at 0x%" PRIx64
					     ", its heap at 0x%" PRIx64, ar->addr, top_end,
					     h + hsize);
			if (top_known && top_end < s.limit)
				s.limit = top_end;
			ar->top_heap_end = h + hsize;
		} else {
			s.kind = GL_SEG_FENCE;
		}
		bool seg_complete;
		if (!hs_glibc_walk_segment(c, &s, &seg_complete))
			return false;
		complete = complete && seg_complete;
next_heap:
		if (prev == tortoise) {
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, h,
				     "arena 0x%" PRIx64 ": heap_info prev chain cycles at 0x%"
				     PRIx64, ar->addr, prev);
			complete = false;
			break;
		}
		if (++lam == power) {
			tortoise = prev;
			power *= 2;
			lam = 0;
		}
		h = prev;
	}
	/* system_mem is the sum of the heaps' sizes (_int_new_arena,
	 * sysmalloc, grow_heap and heap_trim keep it so). */
	if (complete && sum != ar->system_mem)
		hs_diags_add(c->diags, HS_DIAG_WARNING, true, ar->addr,
			     "arena 0x%" PRIx64 ": heaps hold 0x%" PRIx64
			     " bytes but system_mem is 0x%" PRIx64,
			     ar->addr, sum, ar->system_mem);
	ar->complete = complete;
	return gl_add_top(c, ar);
}

/*
 * Count what the regular bins hold, the way int_mallinfo does
 * (malloc/malloc.c:5176-5184), to cross-check the walk's free chunks.
 */
static void gl_check_bins(struct gl_ctx *c, const struct gl_arena *ar)
{
	const struct hs_glibc_layout *L = c->L;
	uint64_t n = 0, bytes = 0;
	uint64_t bound = ar->system_mem / L->minsize + 1;
	if (bound > GL_MAX_LIST)
		bound = GL_MAX_LIST;
	for (unsigned i = 1; i < L->nbins; i++) {
		/* bin_at(m, i), malloc/malloc.c:1535: a fake chunk whose fd/bk
		 * are bins[2(i-1)] and bins[2(i-1)+1]. */
		uint64_t b = ar->addr + L->ms.bins + 16 * (uint64_t)(i - 1) - L->hdr_size;
		uint64_t p, sz;
		if (!gl_rd(c, b + L->hdr_size + 8, &p))
			return;
		uint64_t tortoise = p, power = 1, lam = 0, from = b;
		while (p != b) {
			uint64_t next;
			if (!gl_list_step(c, p))
				return;
			if (n >= bound || !gl_rd(c, p + 8, &sz) ||
			    !gl_rd(c, p + L->hdr_size + 8, &next)) {
				/* Name the bad link: where it points, who holds it. */
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, p,
					     "arena 0x%" PRIx64 ": bin %u list is broken at "
					     "0x%" PRIx64 " (bk of 0x%" PRIx64 "): %s",
					     ar->addr, i, p, from, n >= bound ?
					     "longer than the arena can hold" :
					     "not in the core");
				return;
			}
			from = p;
			p = next;
			n++;
			bytes += sz & ~(uint64_t)HS_GLIBC_SIZE_BITS;
			if (p == tortoise && p != b) {
				hs_diags_add(c->diags, HS_DIAG_WARNING, true, b,
					     "arena 0x%" PRIx64 ": bin %u list cycles without "
					     "returning to the bin", ar->addr, i);
				return;
			}
			if (++lam == power) {
				tortoise = p;
				power *= 2;
				lam = 0;
			}
		}
	}
	if (n != ar->nfree || bytes != ar->free_bytes)
		hs_diags_add(c->diags, HS_DIAG_WARNING, true, ar->addr,
			     "arena 0x%" PRIx64 ": bins hold %" PRIu64 " chunks (0x%"
			     PRIx64 " bytes) but the walk found %" PRIu64
			     " free chunks (0x%" PRIx64 " bytes)", ar->addr, n, bytes,
			     ar->nfree, ar->free_bytes);
}

/* ------------------------------------------------------------------------
 * Mmapped chunks: linked nowhere, found by scanning anonymous writable
 * memory for their headers.
 * ------------------------------------------------------------------------ */

static inline uint64_t gl_ld(const uint8_t *base, uint64_t off)
{
	uint64_t v;
	memcpy(&v, base + off, 8);
	return v;
}

/*
 * sysmalloc_mmap (malloc/malloc.c:2414-2492) maps a page multiple and puts
 * the chunk at its start: prev_size 0, size = mapping size | IS_MMAPPED.
 * _int_memalign (malloc.c:4936-4996) then may move the chunk up to an
 * aligned address, storing the offset in prev_size, and leaves the old
 * header in place. So: a page whose header says "0, page multiple | 2"
 * starts a mapping; the real chunk is at the first memalign position that
 * holds a consistent header, else at the page itself.
 */
static bool gl_scan_range(struct gl_ctx *c, const struct hs_memory_range *r,
			  size_t *span_i)
{
	const struct hs_glibc_layout *L = c->L;
	const uint8_t *base = hs_memory_ptr(c->mem, r->start, r->filesz);
	if (!base)
		return true;
	uint64_t end = r->start + r->filesz, map_end = r->start + r->memsz;
	/* 2.43: a tail after the chunk, and the huge-page bit in prev_size. */
	uint64_t tail = L->mmap_tail, pmask = tail ? ~(uint64_t)1 : ~(uint64_t)0;
	uint64_t p = gl_align_up(r->start, GL_PAGE);
	/* p only grows; every step checks it stays inside [start, end). */
	while (p >= r->start && p < end && end - p >= 2 * 8) {
		while (*span_i < c->nspans && c->spans[*span_i].end <= p)
			(*span_i)++;
		if (*span_i < c->nspans && c->spans[*span_i].start <= p) {
			uint64_t next = gl_align_up(c->spans[*span_i].end, GL_PAGE);
			if (next <= p)
				break;
			p = next;
			continue;
		}
		uint64_t prev = gl_ld(base, p - r->start);
		uint64_t raw = gl_ld(base, p - r->start + 8);
		uint64_t S = (raw & ~(uint64_t)HS_GLIBC_SIZE_BITS) + tail;
		if ((prev & pmask) != 0 ||
		    (raw & HS_GLIBC_SIZE_BITS) != HS_GLIBC_IS_MMAPPED ||
		    (S & (GL_PAGE - 1)) || S == 0 || S > map_end - p) {
			if (p + GL_PAGE < p)
				break;
			p += GL_PAGE;
			continue;
		}
		uint64_t chunk = p, csz = S - tail;
		for (uint64_t A = 2 * L->malloc_alignment; A < S; A *= 2) {
			/* brk = mem2chunk(align_up(chunk2mem(p), A)), bumped by A
			 * when that leaves less than MINSIZE (malloc.c:4975-4981);
			 * 2.43 no longer bumps (malloc.c:4724-4730). */
			uint64_t x = gl_align_up(p + L->hdr_size, A) - L->hdr_size;
			if (!tail && x >= p && x - p < L->minsize)
				x += A;
			if (x < p || x - p >= S || x >= end || end - x < 2 * 8)
				break;
			uint64_t xp = gl_ld(base, x - r->start) & pmask;
			uint64_t xs = gl_ld(base, x - r->start + 8);
			uint64_t xe = x + (xs & ~(uint64_t)HS_GLIBC_SIZE_BITS) + tail;
			if (xp == x - p && (xs & HS_GLIBC_SIZE_BITS) == HS_GLIBC_IS_MMAPPED &&
			    xe > x && !(xe & (GL_PAGE - 1)) && xe <= map_end) {
				chunk = x;
				csz = xs & ~(uint64_t)HS_GLIBC_SIZE_BITS;
				S = xe - p;
				break;
			}
		}
		if (!hs_heap_add_chunk(c->heap, chunk + L->hdr_size, csz,
				       HS_CHUNK_IN_USE, HS_CHUNK_F_MMAPPED) ||
		    !hs_heap_add_region(c->heap, HS_REGION_HEAP, p, S))
			return false;
		c->mmap_n++;
		c->mmap_bytes += S;
		p += S;
	}
	return true;
}

static bool gl_scan_mmapped(struct gl_ctx *c)
{
	if (c->nspans)
		qsort(c->spans, c->nspans, sizeof(*c->spans), gl_cmp_span);
	size_t span_i = 0;
	for (size_t i = 0; i < c->mem->count; i++) {
		const struct hs_memory_range *r = &c->mem->ranges[i];
		if (!(r->flags & PF_W) || r->filesz < GL_PAGE ||
		    hs_process_file_at(c->proc, r->start))
			continue;
		if (!gl_scan_range(c, r, &span_i))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Statistics and the driver.
 * ------------------------------------------------------------------------ */

static void gl_report_unseen(struct gl_ctx *c)
{
	for (size_t i = 0; i < c->ncached; i++) {
		const struct gl_cached *e = &c->cached[i];
		if (e->seen)
			continue;
		if (e->kind == GL_TCACHE)
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, e->chunk + 16,
				     "tcache entry 0x%" PRIx64 " (thread %u, bin %u) is "
				     "not a chunk of any walked heap",
				     e->chunk + 16, e->owner, e->bin);
		else
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, e->chunk,
				     "fastbin chunk 0x%" PRIx64 " (arena 0x%" PRIx64
				     ", bin %u) is not a chunk of any walked heap",
				     e->chunk, c->arenas[e->owner].addr, e->bin);
	}
	for (size_t i = 0; i < c->nmeta; i++)
		if (!c->meta_seen[i])
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, c->meta[i] + 16,
				     "tcache 0x%" PRIx64 " is not a chunk of any walked heap",
				     c->meta[i] + 16);
}

/* int_mallinfo (malloc/malloc.c:5147-5207), summed over the arena ring as
 * __libc_mallinfo2 does, from what the walk found. */
static struct hs_error *gl_stats(struct gl_ctx *c)
{
	uint64_t arena = 0, ordblks = 0, smblks = 0, fsmblks = 0, uordblks = 0;
	uint64_t fordblks = 0, keepcost = 0;
	for (size_t i = 0; i < c->narenas; i++) {
		struct gl_arena *ar = &c->arenas[i];
		uint64_t avail = ar->top_size + ar->fast_bytes + ar->free_bytes;
		ordblks += 1 + ar->nfree; /* top always counts as one block */
		smblks += ar->nfast;
		fsmblks += ar->fast_bytes;
		fordblks += avail;
		arena += ar->system_mem;
		if (avail > ar->system_mem) {
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, ar->addr,
				     "arena 0x%" PRIx64 ": 0x%" PRIx64 " bytes free but "
				     "system_mem is 0x%" PRIx64, ar->addr, avail,
				     ar->system_mem);
		} else {
			uordblks += ar->system_mem - avail;
		}
		if (ar->addr == c->main_arena)
			keepcost = ar->top_size;
	}
	if (c->mp_ok && (c->mmap_n != c->mp_n_mmaps || c->mmap_bytes != c->mp_mmapped_mem))
		hs_diags_add(c->diags, HS_DIAG_WARNING, true, c->mp,
			     "mmapped chunks: found %" PRIu64 " (0x%" PRIx64 " bytes), "
			     "mp_ says %" PRIu64 " (0x%" PRIx64 " bytes)",
			     c->mmap_n, c->mmap_bytes, c->mp_n_mmaps, c->mp_mmapped_mem);
	static const char *const names[] = {
		"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
		"fsmblks", "uordblks", "fordblks", "keepcost",
	};
	const uint64_t values[] = {
		arena, ordblks, smblks, c->mmap_n, c->mmap_bytes, 0,
		fsmblks, uordblks, fordblks, keepcost,
	};
	for (size_t i = 0; i < HS_ARRAY_SIZE(names); i++)
		if (!hs_heap_set_stat(c->heap, names[i], values[i]))
			return HS_ENOMEM;
	return NULL;
}

static void gl_read_mp(struct gl_ctx *c)
{
	const struct hs_glibc_layout *L = c->L;
	uint32_t n_mmaps;
	uint64_t hp = 0;
	c->heap_max = L->heap_max_size;
	if (!c->mp)
		return;
	if (!gl_rd32(c, c->mp + L->mp.n_mmaps, &n_mmaps) ||
	    !gl_rd(c, c->mp + L->mp.mmapped_mem, &c->mp_mmapped_mem) ||
	    !gl_rd(c, c->mp + L->mp.sbrk_base, &c->mp_sbrk_base)) {
		hs_diags_add(c->diags, HS_DIAG_WARNING, true, c->mp,
			     "mp_ at 0x%" PRIx64 " is not in the core", c->mp);
		return;
	}
	c->mp_n_mmaps = n_mmaps; /* an int in glibc; never negative when sane */
	c->mp_ok = true;
	/* The fill limit: what the 2.42+ num_slots[] count down from. */
	if (L->mp.tcache_count != HS_GLIBC_ABSENT &&
	    (!gl_rd(c, c->mp + L->mp.tcache_count, &c->mp_tcache_count) ||
	     c->mp_tcache_count > UINT16_MAX))
		c->mp_tcache_count = 0;
	/* heap_max_size(), malloc/arena.c:58-65 */
	if (L->heap_max_from_hugetlb && L->mp.hp_pagesize != HS_GLIBC_ABSENT &&
	    gl_rd(c, c->mp + L->mp.hp_pagesize, &hp) && hp) {
		if ((hp & (hp - 1)) == 0 && hp >= GL_PAGE && hp * 4 > hp)
			c->heap_max = hp * 4;
		else
			hs_diags_add(c->diags, HS_DIAG_WARNING, true, c->mp,
				     "mp_.hp_pagesize 0x%" PRIx64 " is not a power of two",
				     hp);
	}
}

static void gl_ctx_free(struct gl_ctx *c)
{
	free(c->arenas);
	free(c->cached);
	free(c->meta);
	free(c->meta_seen);
	free(c->spans);
	free(c->keys);
}

struct hs_error *hs_glibc_walk_at(struct hs_process *proc,
				  const struct hs_glibc_layout *L,
				  const struct hs_glibc_where *where,
				  const struct hs_walk_options *opts,
				  struct hs_heap *heap)
{
	struct gl_ctx c = {
		.proc = proc,
		.mem = &proc->mem,
		.L = L,
		.heap = heap,
		.diags = &heap->diags,
		.win = { .mem = &proc->mem },
		.main_arena = where->main_arena,
		.mp = where->mp,
	};
	c.threads = opts ? hs_parallel_threads(opts->threads) : 1;
	c.split_min = opts ? opts->split_min : 0;
	c.list_steps = UINT64_C(1) << 20;
	for (size_t i = 0; i < proc->mem.count; i++)
		c.list_steps += proc->mem.ranges[i].filesz / 16;
	struct hs_error *err = NULL;
	snprintf(heap->allocator, sizeof(heap->allocator), "glibc");
	snprintf(heap->version, sizeof(heap->version), "%s", L->version);
	/* Chunks are multiples of MALLOC_ALIGNMENT: the store keeps them in
	 * bits per granule. */
	hs_heap_set_granule(heap, (unsigned)__builtin_ctzll(L->malloc_alignment | 1ull << 15));
	/* An in-use chunk's user bytes run into the next chunk's prev_size;
	 * a mmapped chunk has no next chunk (malloc/malloc.c:1182-1196). */
	heap->header_bytes[0] = (uint32_t)(L->hdr_size - 8);
	heap->header_bytes[1] = (uint32_t)L->hdr_size;
	/* The chunk's memory starts at its header, before its address. */
	heap->chunk_offset = L->hdr_size;
	gl_read_mp(&c);
	err = gl_collect_arenas(&c);
	if (err)
		goto out;
	/* main_arena and mp_ sit in libc's .data: theirs, not the program's
	 * (top, for one, points into the last chunk's prev_size). */
	for (size_t i = 0; i < c.narenas; i++)
		if (!hs_heap_add_owned(heap, "malloc_state", c.arenas[i].addr, L->ms.size))
			goto nomem;
	if (c.mp && !hs_heap_add_owned(heap, "malloc_par", c.mp, L->mp.size))
		goto nomem;
	heap->narenas = (unsigned)c.narenas;

	if (L->tc.present && where->tcaches_known) {
		/* Each tcache once: every walk records all its entries, and a
		 * hostile core can give a million threads the same fs_base
		 * (bench/hostile: 200 threads on one 65535-entry bin took 415
		 * MiB for a 78 MiB core). Real threads never share one. */
		size_t n = where->ntcaches;
		uint64_t *sorted = malloc((n ? n : 1) * sizeof(*sorted));
		uint8_t *walked = calloc(n ? n : 1, 1);
		if (!sorted || !walked) {
			free(sorted);
			free(walked);
			goto nomem;
		}
		for (size_t i = 0; i < n; i++)
			sorted[i] = where->tcaches[i].tcache;
		qsort(sorted, n, sizeof(*sorted), gl_cmp_u64);
		for (size_t i = 0; i < n; i++) {
			const struct hs_glibc_tcache *t = &where->tcaches[i];
			size_t lo = 0, hi = n; /* first sorted[] equal to it */
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (sorted[mid] < t->tcache)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (t->tcache && walked[lo]) {
				hs_diags_add(c.diags, HS_DIAG_WARNING, true, t->tcache,
					     "thread %d: tcache 0x%" PRIx64 " is another "
					     "thread's too; walked once", t->tid, t->tcache);
				continue;
			}
			walked[lo] = 1;
			if (!gl_walk_tcache(&c, t)) {
				free(sorted);
				free(walked);
				goto nomem;
			}
		}
		free(sorted);
		free(walked);
	} else if (L->tc.present) {
		hs_diags_add(c.diags, HS_DIAG_INFO, false, 0,
			     "tcache not located: chunks in thread caches are "
			     "reported in use (as mallinfo counts them)");
	}
	for (size_t i = 0; i < c.narenas; i++)
		if (c.arenas[i].initialized && !gl_walk_fastbins(&c, i))
			goto nomem;
	gl_prepare_sets(&c);
	c.meta_seen = calloc(c.nmeta ? c.nmeta : 1, sizeof(*c.meta_seen));
	if (!c.meta_seen)
		goto nomem;

	for (size_t i = 0; i < c.narenas; i++) {
		struct gl_arena *ar = &c.arenas[i];
		if (!ar->initialized)
			continue;
		bool ok = ar->addr == c.main_arena ? gl_walk_main(&c, i)
						   : gl_walk_nonmain(&c, i);
		if (!ok)
			goto nomem;
		if (ar->complete)
			gl_check_bins(&c, ar);
	}
	for (size_t i = 0; i < c.narenas; i++)
		if (c.arenas[i].initialized && c.arenas[i].addr == c.main_arena &&
		    !gl_add_main_top(&c, &c.arenas[i]))
			goto nomem;
	if (!gl_scan_mmapped(&c))
		goto nomem;
	gl_report_unseen(&c);
	err = gl_stats(&c);
	goto out;
nomem:
	err = HS_ENOMEM;
out:
	gl_ctx_free(&c);
	return err;
}
