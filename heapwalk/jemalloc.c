/* jemalloc.c: the jemalloc 5.x walk: rtree extents, slab bitmaps, tcaches, counters. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jemalloc_common.h"
#include "jemalloc_rtree.h"

/* Hard bounds on lists read from the core. A real process has a few
 * thousand threads at most; a ring longer than this is corrupt. */
#define JE_MAX_TCACHES 65536
#define JE_MAX_RING 65536
/* Cached items over all tcaches: 4 M (64 MiB of records). A real process
 * holds at most a few hundred per bin and thread; a hostile core could
 * claim 8191 per bin in every one of 65536 tcaches. */
#define JE_MAX_ITEMS (UINT64_C(1) << 22)
/* Large extents of at least this usize are flagged HS_CHUNK_F_MMAPPED:
 * opt.oversize_threshold's default (src/jemalloc.c, 8 MiB), above which
 * jemalloc serves them from its dedicated huge arena. */
#define JE_HUGE_USIZE (UINT64_C(8) << 20)
/* One tcache's stacks: TCACHE_NBINS_MAX bins of at most 8191 items. */
#define JE_MAX_STACK_SPAN (UINT64_C(256) * 8192 * 8)
/* A slab bitmap lives inside edata_t's 64-byte slab_data union. */
#define JE_MAX_GROUPS 8
/* Slab region records over the whole walk: one per 8 bytes the core holds,
 * plus this much slack for a core cut short. Every region is at least 8
 * bytes of memory a whole core would contain; without the bound, 136 bytes
 * of hostile metadata (a leaf element and an edata_t) make 512 records of
 * 16 bytes each (docs/robustness.md). */
#define JE_RECORDS_SLACK (UINT64_C(1) << 20)

/* What the walk learns about one arena, to compare with what it counts. */
struct je_arena {
	uint64_t addr;
	unsigned ind;
	uint64_t small_bytes, large_bytes, active_bytes;
	uint64_t large_ext[HS_JE_MAX_NSIZES]; /* extent bytes per large szind
					       * (large_usize_from_size) */
	uint64_t tcache_bytes; /* cached in the tcaches associated with it */
	uint64_t nslabs[HS_JE_MAX_NBINS];
	uint64_t count[HS_JE_MAX_NSIZES]; /* live regions / large extents per szind */
};

#define JE_VIA_TLS 1u
#define JE_VIA_QL 2u

struct je_tcache {
	uint64_t tcache, tslow, arena;
	unsigned via;
	int32_t tid; /* thread it was found through, or 0 */
};

struct je_item {
	uint64_t addr;
	uint32_t szind;
	uint32_t matched;
};

/* A large extent whose usable size waits for the pad (large_usize_from_size). */
struct je_large {
	uint64_t addr, size;
	uint32_t szind;
	uint16_t arena;   /* 1 + position in arenas, 0 = none */
	uint8_t state;
};

struct je_walk {
	struct hs_process *proc;
	const struct hs_memory *mem;
	const struct hs_je_layout *L;
	const struct hs_je_globals *g;
	struct hs_heap *heap;
	struct hs_je_rtree_geom geom;
	uint64_t page_mask;
	uint64_t sz[HS_JE_MAX_NSIZES];
	struct je_arena *arenas;
	size_t narenas;
	uint16_t *arena_slot; /* arena index -> 1 + position in arenas, 0 = none */
	struct je_tcache *tcaches;
	size_t ntcaches, tcaches_cap;
	struct je_item *items; /* every tcache stack entry, sorted by address */
	size_t nitems, items_cap;
	size_t cursor;         /* first item not below the extent being visited */
	uint64_t last_edata;
	uint64_t prev_end;     /* end of the last extent visited, for overlaps */
	void *buf[4];          /* copies of spans that cross core ranges, per use */
	uint64_t *nodes;       /* rtree nodes and leaves seen: open-addressed set */
	size_t nodes_cap, nnodes;
	size_t cap[4];
	struct je_large *larges; /* deferred large extents */
	size_t nlarges, larges_cap;
	bool pad_seen;         /* a large extent's user address is past its base */
	uint64_t large_pad;    /* the pad je_flush_larges settled on */
	uint64_t max_records; /* bound on heap->nchunks from slabs (JE_RECORDS_SLACK) */
	bool capped;          /* max_records was hit: slabs past it were skipped */
	bool nomem;
	/* Addresses in base blocks (edata, rtree nodes), one per run of the
	 * same 2 MiB page, for hs_je_base_blocks. */
	uint64_t *meta_addrs;
	size_t nmeta_addrs, meta_addrs_cap;
};

#define DIAG(w, sev, addr, ...) \
	hs_diags_add(&(w)->heap->diags, (sev), true, (addr), __VA_ARGS__)

/* Note an address of jemalloc metadata, for the memory map. */
static void je_note_meta(struct je_walk *w, uint64_t addr)
{
	uint64_t page = addr >> 21;
	if (w->nmeta_addrs && w->meta_addrs[w->nmeta_addrs - 1] >> 21 == page)
		return;
	if (w->nmeta_addrs == w->meta_addrs_cap &&
	    !hs_grow((void **)&w->meta_addrs, &w->meta_addrs_cap, w->nmeta_addrs + 1,
		     sizeof(*w->meta_addrs))) {
		w->nomem = true;
		return;
	}
	w->meta_addrs[w->nmeta_addrs++] = addr;
}

static bool je_u64(const struct je_walk *w, uint64_t addr, uint64_t *ret)
{
	return hs_memory_u64(w->mem, addr, ret);
}

static inline uint16_t je_load16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

const void *hs_je_span(const struct hs_memory *mem, uint64_t addr, size_t len,
		       void **buf, size_t *cap)
{
	const void *p = hs_memory_ptr(mem, addr, len);
	/* Callers index the span as words: a span the core file does not hold
	 * 8-byte aligned (a hostile p_offset) is copied too (UBSan, found by
	 * fuzz_jemalloc). */
	if ((p && !((uintptr_t)p & 7)) || (!p && !hs_memory_readable(mem, addr, 1)))
		return p;
	if (!hs_grow(buf, cap, len, 1))
		return NULL;
	struct hs_error *err = hs_memory_read(mem, addr, *buf, len);
	if (err) {
		hs_error_destroy(err);
		return NULL;
	}
	return *buf;
}

/* ---------------------------------------------------------------------
 * What differs between the models (jemalloc_layout.h, enum hs_je_model):
 * each function here and in jemalloc_rtree.h has one branch per model and the walk calls only
 * these. EMAP is 5.3.0 (file:line in that tag), EXTENTS 5.2.1.
 * --------------------------------------------------------------------- */

/* Does an extent's edata agree with its rtree element? The leaf mirrors
 * slab and szind while the extent is active. Inactive, the elements get
 * SC_NSIZES and slab false while a 5.3 edata keeps stale bits (5.3.0
 * src/emap.c:142-155 writes what the caller passes; 5.2.1's extent_record
 * resets the extent_t's own, src/extent.c:1704-1708): not compared. EMAP
 * leaves also mirror the state, always. */
static bool je_leaf_agrees(const struct hs_je_layout *L, const struct je_elm *e,
			   uint64_t bits, unsigned state)
{
	bool active_ok = state != HS_JE_EXTENT_ACTIVE ||
		(hs_je_field(bits, L->edata.slab) == e->slab &&
		 hs_je_field(bits, L->edata.szind) == e->szind);
	if (L->model == HS_JE_MODEL_EXTENTS)
		return active_ok;
	return state == e->state && active_ok;
}

bool hs_je_arena_ind(const struct hs_memory *mem, const struct hs_je_layout *L,
		     uint64_t arena, uint32_t *ind)
{
	if (L->model == HS_JE_MODEL_EXTENTS) {
		/* arena_ind_get() is base_ind_get(arena->base) (5.2.1). */
		uint64_t base;
		return hs_memory_u64(mem, arena + L->arena.base, &base) && base &&
		       hs_memory_u32(mem, base + L->arena.base_ind, ind);
	}
	return hs_memory_u32(mem, arena + L->arena.ind, ind);
}

/* The bytes of arena_t the walk reads: with its bins inline, or the
 * struct alone (5.2: the bins are reached through bin_shards). */
static size_t je_arena_span(const struct hs_je_layout *L)
{
	if (L->arena.bins_by_pointer)
		return L->arena.size;
	return (size_t)L->arena.bins + (size_t)L->nbins * L->arena.bin_size;
}

/* Where bin i (shard 0) of the arena at `arena` is. */
static bool je_arena_bin(const struct hs_memory *mem, const struct hs_je_layout *L,
			 uint64_t arena, unsigned i, uint64_t *ret)
{
	if (L->arena.bins_by_pointer)
		return hs_memory_u64(mem, arena + L->arena.bins + (uint64_t)i * 8, ret) &&
		       *ret;
	*ret = arena + L->arena.bins + (uint64_t)i * L->arena.bin_size;
	return true;
}

/* Where a tcache's bin b is, given where its bins of the small classes
 * and of the large classes (from nbins on) start. */
static uint64_t je_tcache_bin(const struct hs_je_layout *L, uint64_t small,
			      uint64_t large, unsigned b)
{
	if (b < L->nbins)
		return small + (uint64_t)b * L->tcache.bin_size;
	return large + (uint64_t)(b - L->nbins) * L->tcache.bin_size;
}

/* The bin arrays of the tcache_t at `tcache`: one array (EMAP), or
 * bins_small and bins_large (EXTENTS). */
static void je_tcache_arrays(const struct hs_je_layout *L, uint64_t tcache,
			     uint64_t *small, uint64_t *large)
{
	*small = tcache + L->tcache.bins;
	if (L->model == HS_JE_MODEL_EXTENTS)
		*large = tcache + L->tcache.bins_large;
	else
		*large = *small + (uint64_t)L->nbins * L->tcache.bin_size;
}

/* The cached items of one cache_bin_t: the array they are in and their
 * number; false if the bin is impossible. EMAP: a stack from stack_head
 * to low_bits_empty (cache_bin.h:197-231, 5.3.0). EXTENTS: avail[-ncached,
 * -1] (cache_bin.h:55-64, 5.2.1). */
static bool je_bin_stack(const struct hs_je_layout *L, const uint8_t *bin,
			 uint64_t *head, unsigned *ncached)
{
	if (L->model == HS_JE_MODEL_EXTENTS) {
		int32_t n;
		memcpy(&n, bin + L->tcache.ncached, sizeof(n));
		uint64_t avail = je_load64(bin + L->tcache.avail);
		*head = avail;
		*ncached = 0;
		if (n < 0 || (uint32_t)n > L->tcache.ncached_max || (avail & 7) ||
		    avail < (uint64_t)n * 8)
			return false;
		*ncached = (unsigned)n;
		*head = avail - (uint64_t)n * 8;
		return true;
	}
	*head = je_load64(bin + L->tcache.stack_head);
	uint16_t full = je_load16(bin + L->tcache.low_bits_full);
	uint16_t empty = je_load16(bin + L->tcache.low_bits_empty);
	uint16_t used = (uint16_t)(empty - (uint16_t)*head);
	uint16_t cap = (uint16_t)(empty - full);
	*ncached = used / 8u;
	return used <= cap && used % 8 == 0 && (*head & 7) == 0;
}

/* The whole stack array of an EMAP cache_bin_t, stale slots below its
 * head included: [full, empty) (cache_bin.h:197-231, 5.3.0). False in the
 * EXTENTS model (its arrays' bounds are not in the bin) or if implausible. */
static bool je_bin_span(const struct hs_je_layout *L, const uint8_t *bin, uint64_t *lo,
			uint64_t *hi)
{
	if (L->model == HS_JE_MODEL_EXTENTS)
		return false;
	uint64_t head = je_load64(bin + L->tcache.stack_head);
	uint16_t full = je_load16(bin + L->tcache.low_bits_full);
	uint16_t empty = je_load16(bin + L->tcache.low_bits_empty);
	uint64_t e = head + (uint16_t)(empty - (uint16_t)head);
	uint16_t cap = (uint16_t)(empty - full);
	if (!head || (head & 7) || e < head || e < cap)
		return false;
	*lo = e - cap;
	*hi = e;
	return cap != 0;
}

/* ---------------------------------------------------------------------
 * Arenas and the size table.
 * --------------------------------------------------------------------- */

static struct hs_error *je_load_sizes(struct je_walk *w)
{
	const struct hs_je_layout *L = w->L;
	/* In .rodata in 5.0 and 5.1: the module file has it if the core does not. */
	const void *tab = hs_process_ptr_or_file(w->proc, w->g->sz_tab,
						 L->nsizes * sizeof(uint64_t));
	if (!tab)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc: sz_index2size_tab at %#" PRIx64
				       " is not in the core", w->g->sz_tab);
	memcpy(w->sz, tab, L->nsizes * sizeof(uint64_t));
	/* sz_boot() fills it with strictly increasing classes (src/sz.c). */
	bool ok = w->sz[0] == L->min_size;
	for (unsigned i = 1; ok && i < L->nsizes; i++)
		ok = w->sz[i] > w->sz[i - 1] && w->sz[i] % L->min_size == 0;
	ok = ok && w->sz[L->nbins] % ((uint64_t)1 << L->lg_page) == 0;
	if (!ok)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc: sz_index2size_tab at %#" PRIx64
				       " does not hold %u size classes of %u small",
				       w->g->sz_tab, L->nsizes, L->nbins);
	return NULL;
}

static struct hs_error *je_load_arenas(struct je_walk *w)
{
	const struct hs_je_layout *L = w->L;
	if (w->g->arenas & 7)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc: arenas[] at %#" PRIx64 " is misaligned",
				       w->g->arenas);
	const uint64_t *slots = hs_je_span(w->mem, w->g->arenas,
					   (size_t)L->arena_limit * 8, &w->buf[3],
					   &w->cap[3]);
	if (!slots)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc: arenas[] at %#" PRIx64
				       " is not in the core", w->g->arenas);
	w->arena_slot = calloc(L->arena_limit, sizeof(*w->arena_slot));
	if (!w->arena_slot)
		return HS_ENOMEM;
	size_t n = 0;
	for (unsigned i = 0; i < L->arena_limit; i++)
		n += slots[i] != 0;
	w->arenas = calloc(n ? n : 1, sizeof(*w->arenas));
	if (!w->arenas)
		return HS_ENOMEM;
	size_t span = je_arena_span(L);
	for (unsigned i = 0; i < L->arena_limit; i++) {
		uint64_t a = slots[i];
		if (!a)
			continue;
		const uint8_t *p = hs_memory_ptr(w->mem, a, span);
		if (!p) {
			DIAG(w, HS_DIAG_WARNING, a,
			     "jemalloc: arenas[%u] = %#" PRIx64 " is not readable",
			     i, a);
			continue;
		}
		uint32_t ind = UINT32_MAX;
		if (!hs_je_arena_ind(w->mem, L, a, &ind) || ind != i) {
			DIAG(w, HS_DIAG_WARNING, a,
			     "jemalloc: arenas[%u] = %#" PRIx64
			     " has ind %u: not an arena", i, a, ind);
			continue;
		}
		struct je_arena *ar = &w->arenas[w->narenas++];
		ar->addr = a;
		ar->ind = i;
		w->arena_slot[i] = (uint16_t)w->narenas;
	}
	if (!w->narenas)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc: no initialized arena in arenas[] at %#" PRIx64,
				       w->g->arenas);
	w->heap->narenas = (unsigned)w->narenas;
	return NULL;
}

static struct je_arena *je_arena_by_addr(struct je_walk *w, uint64_t addr)
{
	for (size_t i = 0; i < w->narenas; i++)
		if (w->arenas[i].addr == addr)
			return &w->arenas[i];
	return NULL;
}

static struct je_arena *je_arena_by_ind(struct je_walk *w, uint64_t ind)
{
	if (ind >= w->L->arena_limit || !w->arena_slot[ind])
		return NULL;
	return &w->arenas[w->arena_slot[ind] - 1];
}

/* ---------------------------------------------------------------------
 * Thread caches: from each thread's tsd and from each arena's tcache_ql.
 * --------------------------------------------------------------------- */

static void je_add_tcache(struct je_walk *w, uint64_t tcache, uint64_t tslow,
			  uint64_t arena, unsigned via, int32_t tid)
{
	if (w->ntcaches >= JE_MAX_TCACHES) {
		DIAG(w, HS_DIAG_WARNING, tcache,
		     "jemalloc: more than %d tcaches; ignoring the rest",
		     JE_MAX_TCACHES);
		return;
	}
	if (!hs_grow((void **)&w->tcaches, &w->tcaches_cap, w->ntcaches + 1,
		     sizeof(*w->tcaches))) {
		w->nomem = true;
		return;
	}
	w->tcaches[w->ntcaches++] = (struct je_tcache){tcache, tslow, arena, via, tid};
}

/* tcache and tcache_slow must point at each other (tcache_structs.h:52,56). */
static bool je_tcache_pair(struct je_walk *w, uint64_t tcache, uint64_t tslow,
			   uint64_t *arena)
{
	uint64_t back, fwd;
	if (!je_u64(w, tcache + w->L->tcache.tcache_slow, &back) ||
	    !je_u64(w, tslow + w->L->tslow.tcache, &fwd) ||
	    !je_u64(w, tslow + w->L->tslow.arena, arena))
		return false;
	return back == tslow && fwd == tcache;
}

/* EMAP: the tsd's tcache_t and tcache_slow_t, which must pair. */
static void je_tls_tcache_emap(struct je_walk *w, const struct hs_thread *t,
			       uint64_t tsd)
{
	const struct hs_je_layout *L = w->L;
	uint64_t tcache = tsd + L->tsd.tcache, tslow = tsd + L->tsd.tcache_slow;
	uint64_t arena = 0, back = 0;
	if (!je_tcache_pair(w, tcache, tslow, &arena)) {
		/* A thread whose tcache was never set up has zeroes here. */
		if (je_u64(w, tcache + L->tcache.tcache_slow, &back) && back)
			DIAG(w, HS_DIAG_WARNING, tcache,
			     "jemalloc: thread %d: tcache %#" PRIx64
			     " and tcache_slow %#" PRIx64 " do not point at each other",
			     t->tid, tcache, tslow);
		return;
	}
	if (!arena) /* dissociated: tcache disabled for this thread */
		return;
	je_add_tcache(w, tcache, tslow, arena, JE_VIA_TLS, t->tid);
}

/* EXTENTS: the tsd's tcache_t, associated with an arena or not
 * (tcache_arena_associate/dissociate set tcache->arena, src/tcache.c). */
static void je_tls_tcache_extents(struct je_walk *w, const struct hs_thread *t,
				  uint64_t tsd)
{
	uint64_t tcache = tsd + w->L->tsd.tcache, arena = 0;
	if (!je_u64(w, tcache + w->L->tcache.arena, &arena) || !arena)
		return;
	je_add_tcache(w, tcache, 0, arena, JE_VIA_TLS, t->tid);
}

static void je_tcaches_from_tls(struct je_walk *w)
{
	const struct hs_je_layout *L = w->L;
	if (!w->g->has_tpoff)
		return;
	for (size_t i = 0; i < w->proc->nthreads; i++) {
		const struct hs_thread *t = &w->proc->threads[i];
		if (!t->fs_base)
			continue;
		uint64_t tsd = t->fs_base + (uint64_t)w->g->tsd_tpoff;
		const uint8_t *state = hs_memory_ptr(w->mem, tsd + L->tsd.state, 1);
		if (!state) {
			DIAG(w, HS_DIAG_INFO, tsd,
			     "jemalloc: thread %d: tsd at %#" PRIx64 " is not in the core",
			     t->tid, tsd);
			continue;
		}
		/* Only a nominal tsd has a live tcache (tsd.h:178-217). */
		if (*state > L->tsd.state_nominal_max)
			continue;
		if (L->model == HS_JE_MODEL_EXTENTS)
			je_tls_tcache_extents(w, t, tsd);
		else
			je_tls_tcache_emap(w, t, tsd);
	}
}

/* Walk a ql ring (ql.h) from `head`, calling fn on each element until it
 * returns false (hs_je_ring: bounded, cycles caught). */
static void je_ring(struct je_walk *w, uint64_t head, uint32_t next_off,
		    const char *what, uint64_t owner,
		    bool (*fn)(struct je_walk *w, uint64_t elm, void *arg),
		    void *arg)
{
	struct hs_je_ring r;
	uint64_t elm;
	hs_je_ring_init(&r, head, next_off, what, owner, JE_MAX_RING);
	while (hs_je_ring_next(&r, w->mem, &w->heap->diags, &elm))
		if (!fn(w, elm, arg))
			return;
}

static bool je_ql_tcache(struct je_walk *w, uint64_t tslow, void *arg)
{
	const struct je_arena *ar = arg;
	uint64_t tcache, arena;
	if (!je_u64(w, tslow + w->L->tslow.tcache, &tcache) ||
	    !je_tcache_pair(w, tcache, tslow, &arena)) {
		DIAG(w, HS_DIAG_WARNING, tslow,
		     "jemalloc: arena %u: tcache_slow %#" PRIx64
		     " on tcache_ql does not pair with its tcache", ar->ind, tslow);
		return false;
	}
	if (arena != ar->addr)
		DIAG(w, HS_DIAG_WARNING, tslow,
		     "jemalloc: tcache_slow %#" PRIx64 " is on arena %u's tcache_ql"
		     " but names arena %#" PRIx64, tslow, ar->ind, arena);
	je_add_tcache(w, tcache, tslow, ar->addr, JE_VIA_QL, 0);
	return !w->nomem;
}

/* EXTENTS: tcache_ql links the tcache_t themselves (src/tcache.c:343-350). */
static bool je_ql_tcache_extents(struct je_walk *w, uint64_t tcache, void *arg)
{
	const struct je_arena *ar = arg;
	uint64_t arena;
	if (!je_u64(w, tcache + w->L->tcache.arena, &arena)) {
		DIAG(w, HS_DIAG_WARNING, tcache,
		     "jemalloc: arena %u: tcache %#" PRIx64 " on tcache_ql is not"
		     " readable", ar->ind, tcache);
		return false;
	}
	if (arena != ar->addr)
		DIAG(w, HS_DIAG_WARNING, tcache,
		     "jemalloc: tcache %#" PRIx64 " is on arena %u's tcache_ql"
		     " but names arena %#" PRIx64, tcache, ar->ind, arena);
	je_add_tcache(w, tcache, 0, ar->addr, JE_VIA_QL, 0);
	return !w->nomem;
}

static void je_tcaches_from_arenas(struct je_walk *w)
{
	const struct hs_je_layout *L = w->L;
	bool extents = L->model == HS_JE_MODEL_EXTENTS;
	for (size_t i = 0; i < w->narenas; i++) {
		struct je_arena *ar = &w->arenas[i];
		uint64_t head;
		if (!je_u64(w, ar->addr + L->arena.tcache_ql, &head))
			continue;
		je_ring(w, head, extents ? L->tcache.link_next : L->tslow.link_next,
			"tcache_ql", ar->addr,
			extents ? je_ql_tcache_extents : je_ql_tcache, ar);
	}
}

static int je_cmp_tcache(const void *a, const void *b)
{
	const struct je_tcache *x = a, *y = b;
	return x->tcache < y->tcache ? -1 : x->tcache > y->tcache;
}

/* Sort and merge the tcaches found both ways (one per tcache_t). */
static void je_dedupe_tcaches(struct je_walk *w)
{
	if (!w->ntcaches)
		return;
	qsort(w->tcaches, w->ntcaches, sizeof(*w->tcaches), je_cmp_tcache);
	size_t out = 0;
	for (size_t i = 0; i < w->ntcaches; i++) {
		if (out && w->tcaches[out - 1].tcache == w->tcaches[i].tcache) {
			w->tcaches[out - 1].via |= w->tcaches[i].via;
			if (w->tcaches[i].tid)
				w->tcaches[out - 1].tid = w->tcaches[i].tid;
			continue;
		}
		w->tcaches[out++] = w->tcaches[i];
	}
	w->ntcaches = out;
	for (size_t i = 0; i < w->ntcaches; i++) {
		const struct je_tcache *t = &w->tcaches[i];
		if (t->via == JE_VIA_TLS)
			DIAG(w, HS_DIAG_WARNING, t->tcache,
			     "jemalloc: thread %d's tcache %#" PRIx64
			     " is not on its arena's tcache_ql", t->tid, t->tcache);
	}
}

/* Every item of every tcache bin, and the bytes per tcache's arena. */
static void je_collect_items(struct je_walk *w)
{
	const struct hs_je_layout *L = w->L;
	unsigned nb = L->tcache.nbins_max < L->nsizes ? L->tcache.nbins_max : L->nsizes;
	for (size_t t = 0; t < w->ntcaches && !w->nomem; t++) {
		const struct je_tcache *tc = &w->tcaches[t];
		struct je_arena *ar = je_arena_by_addr(w, tc->arena);
		uint64_t small, large;
		je_tcache_arrays(L, tc->tcache, &small, &large);
		if (!ar)
			DIAG(w, HS_DIAG_WARNING, tc->tcache,
			     "jemalloc: tcache %#" PRIx64 " names arena %#" PRIx64
			     " which is not in arenas[]", tc->tcache, tc->arena);
		uint64_t stk_lo = UINT64_MAX, stk_hi = 0;
		for (unsigned b = 0; b < nb; b++) {
			uint64_t head, lo, hi;
			unsigned n;
			uint64_t bin_addr = je_tcache_bin(L, small, large, b);
			const uint8_t *bin = hs_memory_ptr(w->mem, bin_addr,
							   L->tcache.bin_size);
			if (!bin) {
				DIAG(w, HS_DIAG_WARNING, tc->tcache,
				     "jemalloc: tcache %#" PRIx64 " is not readable"
				     " (bin %u at %#" PRIx64 ")", tc->tcache, b, bin_addr);
				break;
			}
			if (je_bin_span(L, bin, &lo, &hi)) {
				stk_lo = lo < stk_lo ? lo : stk_lo;
				stk_hi = hi > stk_hi ? hi : stk_hi;
			}
			if (!je_bin_stack(L, bin, &head, &n)) {
				DIAG(w, HS_DIAG_WARNING, bin_addr,
				     "jemalloc: tcache bin %u at %#" PRIx64
				     " has an impossible stack (head %#" PRIx64 ")",
				     b, bin_addr, head);
				continue;
			}
			if (!n)
				continue;
			const uint8_t *stack = hs_memory_ptr(w->mem, head, (size_t)n * 8);
			if (!stack) {
				DIAG(w, HS_DIAG_WARNING, bin_addr,
				     "jemalloc: tcache bin %u stack %#" PRIx64
				     " (%u items) is not readable", b, head, n);
				continue;
			}
			if (w->nitems + n > JE_MAX_ITEMS) {
				DIAG(w, HS_DIAG_WARNING, bin_addr,
				     "jemalloc: over %" PRIu64 " cached items in all;"
				     " ignoring tcache bins from here on", JE_MAX_ITEMS);
				goto sort;
			}
			if (!hs_grow((void **)&w->items, &w->items_cap, w->nitems + n,
				     sizeof(*w->items))) {
				w->nomem = true;
				return;
			}
			for (unsigned k = 0; k < n; k++)
				w->items[w->nitems++] =
					(struct je_item){je_load64(stack + 8 * k), b, 0};
			if (ar && (b < L->nbins || L->tcache.counts_large))
				ar->tcache_bytes += (uint64_t)n * w->sz[b];
		}
		/* The stacks (live and stale pointers to cached regions) are
		 * jemalloc's state, not the program's references: one span
		 * (tcache_slow.dyn_alloc, src/tcache.c:738-760 in 5.3.0). */
		if (stk_lo < stk_hi && stk_hi - stk_lo <= JE_MAX_STACK_SPAN &&
		    !hs_heap_add_owned(w->heap, "tcache stack", stk_lo, stk_hi - stk_lo))
			w->nomem = true;
	}
sort:
	w->nitems = hs_je_items_sort(w->items, w->nitems, sizeof(*w->items),
				     &w->heap->diags);
}

/* The item at addr, if any; the cursor only moves forward because the
 * rtree is walked in address order. */
static inline struct je_item *je_item_at(struct je_walk *w, uint64_t addr)
{
	while (w->cursor < w->nitems && w->items[w->cursor].addr < addr)
		w->cursor++;
	if (w->cursor < w->nitems && w->items[w->cursor].addr == addr)
		return &w->items[w->cursor];
	return NULL;
}

/* ---------------------------------------------------------------------
 * Extents.
 * --------------------------------------------------------------------- */

static bool je_reserve(struct je_walk *w, size_t n)
{
	struct hs_heap *h = w->heap;
	if (h->nchunks + n > w->max_records) {
		if (!w->capped)
			hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, false, 0,
			     "jemalloc: slabs describe more than %" PRIu64 " regions, more "
			     "than the core's memory can hold (hostile or corrupt "
			     "metadata); the slabs past that are not counted",
			     w->max_records);
		w->capped = true;
		return false;
	}
	return true;
}

static void je_visit_slab(struct je_walk *w, uint64_t edata, const uint8_t *ed,
			  uint64_t bits, uint64_t base, uint64_t size,
			  struct je_arena *ar)
{
	const struct hs_je_layout *L = w->L;
	unsigned szind = (unsigned)hs_je_field(bits, L->edata.szind);
	if (szind >= L->nbins) {
		DIAG(w, HS_DIAG_WARNING, edata,
		     "jemalloc: slab edata %#" PRIx64 " has szind %u, not a small class",
		     edata, szind);
		return;
	}
	uint64_t reg = w->sz[szind];
	uint64_t nregs = size / reg;
	if (size % reg || nregs == 0 || nregs > L->slab_maxregs) {
		DIAG(w, HS_DIAG_WARNING, edata,
		     "jemalloc: slab %#" PRIx64 " of %" PRIu64 " bytes cannot hold"
		     " regions of %" PRIu64, base, size, reg);
		return;
	}
	if (hs_je_field(bits, L->edata.binshard) != 0)
		DIAG(w, HS_DIAG_INFO, edata,
		     "jemalloc: slab %#" PRIx64 " is in bin shard %u; per-bin"
		     " counters are compared with shard 0 only", base,
		     (unsigned)hs_je_field(bits, L->edata.binshard));
	/* The bitmap: raw bit 1 = free region (bitmap.h:194-201; bitmap_init
	 * clears the bits past nregs, src/bitmap.c:44-72). */
	unsigned ngroups = (unsigned)((nregs + 63) / 64);
	uint64_t map[JE_MAX_GROUPS];
	memcpy(map, ed + L->edata.slab_data, (size_t)ngroups * 8);
	unsigned tail = (unsigned)(nregs % 64);
	if (tail && (map[ngroups - 1] >> tail)) {
		DIAG(w, HS_DIAG_WARNING, edata,
		     "jemalloc: slab %#" PRIx64 ": bitmap has bits set past its %"
		     PRIu64 " regions (scribbled)", base, nregs);
		map[ngroups - 1] &= (UINT64_C(1) << tail) - 1;
	}
	unsigned nfree = 0;
	for (unsigned i = 0; i < ngroups; i++)
		nfree += (unsigned)__builtin_popcountll(map[i]);
	unsigned want = (unsigned)hs_je_field(bits, L->edata.nfree);
	if (nfree != want)
		DIAG(w, HS_DIAG_WARNING, edata,
		     "jemalloc: slab %#" PRIx64 ": bitmap has %u free regions,"
		     " edata %#" PRIx64 " says %u", base, nfree, edata, want);
	if (!je_reserve(w, nregs))
		return;
	uint64_t live = 0;
	for (uint64_t j = 0; j < nregs; j++) {
		uint64_t addr = base + j * reg;
		bool is_free = (map[j / 64] >> (j % 64)) & 1;
		struct je_item *it = w->nitems ? je_item_at(w, addr) : NULL;
		if (!it) {
			/* The regions up to the next cached one (the cursor's,
			 * past addr) in the same state: stored at once. */
			uint64_t stop = w->cursor < w->nitems ? w->items[w->cursor].addr : UINT64_MAX;
			uint64_t k = j + 1;
			while (k < nregs && ((map[k / 64] >> (k % 64)) & 1) == is_free &&
			       base + k * reg < stop)
				k++;
			if (!is_free)
				live += k - j;
			if (!hs_heap_add_chunks(w->heap, addr, reg, k - j,
						is_free ? HS_CHUNK_FREE : HS_CHUNK_IN_USE, 0)) {
				w->nomem = true;
				return;
			}
			j = k - 1;
			continue;
		}
		enum hs_chunk_state st = HS_CHUNK_IN_USE;
		if (is_free) {
			st = HS_CHUNK_FREE;
			if (it) {
				it->matched = 1;
				DIAG(w, HS_DIAG_WARNING, addr,
				     "jemalloc: %#" PRIx64 " is in a tcache but free in"
				     " its slab's bitmap (double free?)", addr);
			}
		} else {
			live++;
			if (it) {
				it->matched = 1;
				st = HS_CHUNK_CACHED;
				if (it->szind != szind)
					DIAG(w, HS_DIAG_WARNING, addr,
					     "jemalloc: %#" PRIx64 " is cached in tcache bin"
					     " %u but its slab is class %u", addr,
					     it->szind, szind);
			}
		}
		if (!hs_heap_add_chunk(w->heap, addr, reg, st, 0)) {
			w->nomem = true;
			return;
		}
	}
	if (ar) {
		ar->small_bytes += live * reg;
		ar->count[szind] += live;
		ar->nslabs[szind]++;
		ar->active_bytes += size;
	}
}

static void je_visit_large(struct je_walk *w, uint64_t edata, uint64_t bits,
			   uint64_t addr, uint64_t base, uint64_t size,
			   struct je_arena *ar)
{
	const struct hs_je_layout *L = w->L;
	unsigned szind = (unsigned)hs_je_field(bits, L->edata.szind);
	if (szind < L->nbins || szind >= L->nsizes) {
		DIAG(w, HS_DIAG_WARNING, edata,
		     "jemalloc: large edata %#" PRIx64 " has szind %u, not a large class",
		     edata, szind);
		return;
	}
	uint64_t usize = w->sz[szind];
	/* cache_oblivious puts the user address at a random cacheline inside
	 * the first page (sz_large_pad, src/sz.c). With large size classes
	 * disabled (5.3.1) the usable size is the extent's less that pad: it
	 * is settled once every extent is seen (je_flush_larges). */
	bool fits = L->large_usize_from_size ?
		    /* the extent holds more than the class below */
		    (szind == L->nbins || w->sz[szind - 1] < size) :
		    (usize <= size && addr + usize <= base + size);
	if (addr - base > w->page_mask || !fits) {
		DIAG(w, HS_DIAG_WARNING, edata,
		     "jemalloc: large extent %#" PRIx64 "+%#" PRIx64 " cannot hold"
		     " %" PRIu64 " bytes at %#" PRIx64, base, size, usize, addr);
		return;
	}
	struct je_item *it = w->nitems ? je_item_at(w, addr) : NULL;
	enum hs_chunk_state st = HS_CHUNK_IN_USE;
	if (it) {
		it->matched = 1;
		st = HS_CHUNK_CACHED;
		if (it->szind != szind)
			DIAG(w, HS_DIAG_WARNING, addr,
			     "jemalloc: %#" PRIx64 " is cached in tcache bin %u but"
			     " its extent is class %u", addr, it->szind, szind);
	}
	if (L->large_usize_from_size) {
		if (!hs_grow((void **)&w->larges, &w->larges_cap, w->nlarges + 1,
			     sizeof(*w->larges))) {
			w->nomem = true;
			return;
		}
		w->pad_seen |= addr != base;
		w->larges[w->nlarges++] = (struct je_large){
			addr, size, szind, ar ? (uint16_t)(ar - w->arenas + 1) : 0, (uint8_t)st};
		if (ar) {
			ar->count[szind]++;
			ar->large_ext[szind] += size;
			ar->active_bytes += size;
		}
		return;
	}
	if (!hs_heap_add_chunk(w->heap, addr, usize, st,
			       usize >= JE_HUGE_USIZE ? HS_CHUNK_F_MMAPPED : 0)) {
		w->nomem = true;
		return;
	}
	if (ar) {
		ar->large_bytes += usize;
		ar->count[szind]++;
		ar->active_bytes += size;
	}
}

/*
 * The deferred large extents (large_usize_from_size): the pad is a page if
 * any extent's user address is past its base (cache_oblivious randomises it
 * within the first page), else what makes the extents agree with
 * jemalloc's active_bytes counters, else none.
 */
static void je_flush_larges(struct je_walk *w)
{
	const struct hs_je_layout *L = w->L;
	uint64_t page = w->page_mask + 1, pad = 0;
	if (w->pad_seen) {
		pad = page;
	} else if (L->arena.lstats_active) {
		uint64_t ext = 0, active = 0, n = 0;
		for (size_t i = 0; i < w->narenas; i++) {
			const struct je_arena *ar = &w->arenas[i];
			for (unsigned k = L->nbins; k < L->nsizes; k++) {
				uint64_t v;
				if (!ar->count[k])
					continue;
				if (je_u64(w, ar->addr + L->arena.lstats + (uint64_t)(k - L->nbins) *
					   L->arena.lstats_size + L->arena.lstats_active, &v))
					active += v;
				ext += ar->large_ext[k];
				n += ar->count[k];
			}
		}
		if (n && ext - active == n * page)
			pad = page;
	}
	w->large_pad = pad;
	for (size_t i = 0; i < w->nlarges && !w->nomem; i++) {
		const struct je_large *x = &w->larges[i];
		uint64_t usize = x->size - pad;
		if (!hs_heap_add_chunk(w->heap, x->addr, usize, x->state,
				       usize >= JE_HUGE_USIZE ? HS_CHUNK_F_MMAPPED : 0))
			w->nomem = true;
		if (x->arena)
			w->arenas[x->arena - 1].large_bytes += usize;
	}
}

/* One rtree element: visit its extent once, at the element of its first page. */
static void je_visit(struct je_walk *w, uint64_t key, const struct je_elm *e)
{
	const struct hs_je_layout *L = w->L;
	const uint8_t *ed = hs_memory_ptr(w->mem, e->edata, L->edata.size);
	if (!ed) {
		DIAG(w, HS_DIAG_WARNING, e->edata,
		     "jemalloc: rtree key %#" PRIx64 ": edata %#" PRIx64
		     " is not readable", key, e->edata);
		return;
	}
	uint64_t bits = je_load64(ed + L->edata.bits);
	uint64_t addr = je_load64(ed + L->edata.addr);
	uint64_t size = je_load64(ed + L->edata.size_esn) & L->edata.size_mask;
	uint64_t base = addr & ~w->page_mask;
	if (key != base) {
		if (key < base || key - base >= size)
			DIAG(w, HS_DIAG_WARNING, e->edata,
			     "jemalloc: rtree key %#" PRIx64 " maps to edata %#" PRIx64
			     " of %#" PRIx64 "+%#" PRIx64 ", which does not cover it",
			     key, e->edata, base, size);
		return;
	}
	/* An edata_t points at its extent (e_addr: a slab's first region):
	 * jemalloc's reference, not the program's. */
	if (!hs_heap_add_owned(w->heap, "edata", e->edata, L->edata.size))
		w->nomem = true;
	unsigned state = (unsigned)hs_je_field(bits, L->edata.state);
	if (!size || base + size < base ||
	    (w->geom.lg_vaddr < 64 && base + size > (UINT64_C(1) << w->geom.lg_vaddr))) {
		DIAG(w, HS_DIAG_WARNING, e->edata,
		     "jemalloc: edata %#" PRIx64 " has size %#" PRIx64, e->edata, size);
		return;
	}
	if (!je_leaf_agrees(L, e, bits, state)) {
		DIAG(w, HS_DIAG_WARNING, e->edata,
		     "jemalloc: edata %#" PRIx64 " (state %u, szind %u) disagrees with"
		     " its rtree element (state %u, szind %u)", e->edata, state,
		     (unsigned)hs_je_field(bits, L->edata.szind), e->state, e->szind);
		return;
	}
	if (base < w->prev_end)
		DIAG(w, HS_DIAG_WARNING, e->edata,
		     "jemalloc: extent %#" PRIx64 " overlaps the previous one (ends %#"
		     PRIx64 ")", base, w->prev_end);
	w->prev_end = base + size;
	je_note_meta(w, e->edata);
	/* Active, dirty and muzzy extents hold chunks (and, past a large
	 * allocation's usize, jemalloc's own slack); retained ones are
	 * reserved space, declared below. */
	if (state != HS_JE_EXTENT_RETAINED &&
	    !hs_heap_add_region(w->heap, HS_REGION_HEAP, base, size))
		w->nomem = true;
	unsigned ind = (unsigned)hs_je_field(bits, L->edata.arena);
	struct je_arena *ar = je_arena_by_ind(w, ind);
	if (!ar && state != HS_JE_EXTENT_RETAINED)
		DIAG(w, HS_DIAG_WARNING, e->edata,
		     "jemalloc: extent %#" PRIx64 " belongs to arena %u, which is not"
		     " initialized", base, ind);
	switch (state) {
	case HS_JE_EXTENT_ACTIVE:
		if (e->slab)
			je_visit_slab(w, e->edata, ed, bits, base, size, ar);
		else
			je_visit_large(w, e->edata, bits, addr, base, size, ar);
		break;
	case HS_JE_EXTENT_DIRTY:
	case HS_JE_EXTENT_MUZZY:
		if (!hs_heap_add_chunk(w->heap, base, size, HS_CHUNK_FREE, 0))
			w->nomem = true;
		break;
	case HS_JE_EXTENT_RETAINED:
		if (!hs_heap_add_region(w->heap, "retained", base, size))
			w->nomem = true;
		break;
	default:
		DIAG(w, HS_DIAG_INFO, e->edata,
		     "jemalloc: extent %#" PRIx64 " is in transition (state %u)",
		     base, state);
		break;
	}
}

/* Add a node to the visited set; false if it was there (a corrupt tree
 * that shares a node would otherwise be walked 2^18 times) or on OOM. */
static bool je_node_first_visit(struct je_walk *w, uint64_t node)
{
	if (2 * (w->nnodes + 1) > w->nodes_cap) {
		size_t cap = w->nodes_cap ? 2 * w->nodes_cap : 256;
		uint64_t *n = calloc(cap, sizeof(*n));
		if (!n) {
			w->nomem = true;
			return false;
		}
		for (size_t i = 0; i < w->nodes_cap; i++) {
			if (!w->nodes[i])
				continue;
			size_t h = (size_t)(w->nodes[i] * 0x9e3779b97f4a7c15ull) & (cap - 1);
			while (n[h])
				h = (h + 1) & (cap - 1);
			n[h] = w->nodes[i];
		}
		free(w->nodes);
		w->nodes = n;
		w->nodes_cap = cap;
	}
	size_t h = (size_t)(node * 0x9e3779b97f4a7c15ull) & (w->nodes_cap - 1);
	while (w->nodes[h]) {
		if (w->nodes[h] == node)
			return false;
		h = (h + 1) & (w->nodes_cap - 1);
	}
	w->nodes[h] = node;
	w->nnodes++;
	return true;
}

static void je_walk_node(struct je_walk *w, unsigned level, uint64_t node,
			 uint64_t key)
{
	const struct hs_je_rtree_geom *g = &w->geom;
	size_t n = (size_t)1 << g->bits[level];
	if (node & 7) {
		DIAG(w, HS_DIAG_WARNING, node,
		     "jemalloc: rtree node %#" PRIx64 " (level %u) is misaligned", node, level);
		return;
	}
	je_note_meta(w, node);
	if (!je_node_first_visit(w, node)) {
		if (!w->nomem)
			DIAG(w, HS_DIAG_WARNING, node,
			     "jemalloc: rtree node %#" PRIx64 " (level %u) is reached"
			     " twice (at keys from %#" PRIx64 "); skipped", node, level, key);
		return;
	}
	if (level + 1 < g->height) {
		const uint64_t *kids = hs_je_span(w->mem, node, n * 8, &w->buf[level],
						  &w->cap[level]);
		if (!kids) {
			DIAG(w, HS_DIAG_WARNING, node,
			     "jemalloc: rtree node %#" PRIx64 " (level %u, keys from %#"
			     PRIx64 ") is not readable", node, level, key);
			return;
		}
		for (size_t i = 0; i < n && !w->nomem; i++)
			if (kids[i])
				je_walk_node(w, level + 1, kids[i],
					     key | ((uint64_t)i << g->shift[level]));
		return;
	}
	const uint8_t *leaf = hs_je_span(w->mem, node, n * g->elm_size, &w->buf[level],
					 &w->cap[level]);
	if (!leaf) {
		DIAG(w, HS_DIAG_WARNING, node,
		     "jemalloc: rtree leaf %#" PRIx64 " (keys from %#" PRIx64
		     ") is not readable", node, key);
		return;
	}
	for (size_t i = 0; i < n && !w->nomem; i++) {
		const uint8_t *p = leaf + i * g->elm_size;
		if (g->compact && !je_load64(p))
			continue; /* the common case: no extent at this page */
		struct je_elm e = je_decode(w->L, g, p);
		if (!e.edata || e.edata == w->last_edata)
			continue;
		w->last_edata = e.edata;
		je_visit(w, key | ((uint64_t)i << g->shift[level]), &e);
	}
}

/* ---------------------------------------------------------------------
 * Statistics, and their cross-check against jemalloc's own counters.
 * --------------------------------------------------------------------- */

/* tcache bytes the way arena_stats_merge counts them (src/arena.c:152-166):
 * through the arena's cache_bin_array_descriptor_ql. */
struct je_desc_sum {
	uint64_t bytes;
	bool bad;
};

static bool je_desc_bytes(struct je_walk *w, uint64_t desc, void *arg)
{
	struct je_desc_sum *sum = arg;
	const struct hs_je_layout *L = w->L;
	uint64_t small, large;
	unsigned nb = L->tcache.counts_large ? L->tcache.nbins_max : L->nbins;
	if (!je_u64(w, desc + L->desc.bins, &small)) {
		sum->bad = true;
		return false;
	}
	if (L->model == HS_JE_MODEL_EXTENTS) {
		if (!je_u64(w, desc + L->desc.bins_large, &large)) {
			sum->bad = true;
			return false;
		}
	} else {
		large = small + (uint64_t)L->nbins * L->tcache.bin_size;
	}
	for (unsigned b = 0; b < nb; b++) {
		uint64_t head;
		unsigned n;
		const uint8_t *p = hs_memory_ptr(w->mem, je_tcache_bin(L, small, large, b),
						 L->tcache.bin_size);
		if (!p) {
			sum->bad = true;
			return false;
		}
		if (je_bin_stack(L, p, &head, &n))
			sum->bytes += (uint64_t)n * w->sz[b];
	}
	return true;
}

static bool je_stat(struct je_walk *w, long ind, const char *what, uint64_t v)
{
	if (hs_je_set_stat(w->heap, ind, what, v))
		return true;
	w->nomem = true;
	return false;
}

static void je_mismatch(struct je_walk *w, uint64_t addr, unsigned ind,
			const char *what, uint64_t walked, uint64_t counter)
{
	DIAG(w, HS_DIAG_ERROR, addr,
	     "jemalloc: arena %u: %s: walk found %" PRIu64 ", jemalloc's counter"
	     " says %" PRIu64 " (corruption or layout error)", ind, what, walked,
	     counter);
}

static void je_check_arena(struct je_walk *w, struct je_arena *ar)
{
	const struct hs_je_layout *L = w->L;
	const uint8_t *a = hs_memory_ptr(w->mem, ar->addr, je_arena_span(L));
	if (!a)
		return; /* checked readable in je_load_arenas */
	char what[64];
	for (unsigned i = 0; i < L->nbins; i++) {
		uint64_t bin_addr;
		const uint8_t *bin = NULL;
		if (je_arena_bin(w->mem, L, ar->addr, i, &bin_addr))
			bin = hs_memory_ptr(w->mem, bin_addr, L->arena.bin_size);
		if (!bin) {
			DIAG(w, HS_DIAG_WARNING, ar->addr,
			     "jemalloc: arena %u: bin %u is not readable", ar->ind, i);
			continue;
		}
		uint64_t curregs = je_load64(bin + L->arena.bin_curregs);
		uint64_t curslabs = je_load64(bin + L->arena.bin_curslabs);
		if (curregs != ar->count[i]) {
			snprintf(what, sizeof(what), "bin %u (%" PRIu64 " B) curregs", i,
				 w->sz[i]);
			je_mismatch(w, bin_addr, ar->ind, what, ar->count[i], curregs);
		}
		if (curslabs != ar->nslabs[i]) {
			snprintf(what, sizeof(what), "bin %u (%" PRIu64 " B) curslabs", i,
				 w->sz[i]);
			je_mismatch(w, bin_addr, ar->ind, what, ar->nslabs[i], curslabs);
		}
	}
	for (unsigned i = L->nbins; i < L->nsizes; i++) {
		const uint8_t *ls = a + L->arena.lstats +
				    (size_t)(i - L->nbins) * L->arena.lstats_size;
		uint64_t nmalloc = je_load64(ls + L->arena.lstats_nmalloc);
		uint64_t ndalloc = je_load64(ls + L->arena.lstats_ndalloc);
		uint64_t cur = nmalloc - ndalloc;
		if (L->arena.lstats_active && ar->count[i]) {
			uint64_t active = je_load64(ls + L->arena.lstats_active);
			uint64_t mine = ar->large_ext[i] - ar->count[i] * w->large_pad;
			if (L->large_usize_from_size && active != mine) {
				snprintf(what, sizeof(what), "large class %u (%" PRIu64
					 " B) active_bytes", i, w->sz[i]);
				je_mismatch(w, ar->addr + L->arena.lstats, ar->ind, what,
					    mine, active);
			}
		}
		if (nmalloc < ndalloc || cur != ar->count[i]) {
			snprintf(what, sizeof(what), "large class %u (%" PRIu64
				 " B) nmalloc-ndalloc", i, w->sz[i]);
			je_mismatch(w, ar->addr + L->arena.lstats +
					(uint64_t)(i - L->nbins) * L->arena.lstats_size,
				    ar->ind, what, ar->count[i], cur);
		}
	}
	uint64_t nactive = je_load64(a + L->arena.nactive);
	if (nactive << L->lg_page != ar->active_bytes)
		je_mismatch(w, ar->addr + L->arena.nactive, ar->ind,
			    "active bytes (pa_shard.nactive)", ar->active_bytes,
			    nactive << L->lg_page);
	if (!L->arena.desc_ql)
		return; /* no descriptor list (5.0) */
	uint64_t head = je_load64(a + L->arena.desc_ql);
	struct je_desc_sum sum = {0};
	je_ring(w, head, L->desc.link_next, "cache_bin_array_descriptor_ql",
		ar->addr, je_desc_bytes, &sum);
	if (sum.bad)
		DIAG(w, HS_DIAG_WARNING, ar->addr + L->arena.desc_ql,
		     "jemalloc: arena %u: a tcache descriptor's bins are not readable",
		     ar->ind);
	else if (sum.bytes != ar->tcache_bytes)
		je_mismatch(w, ar->addr + L->arena.desc_ql, ar->ind,
			    "tcache bytes (descriptor list)", ar->tcache_bytes, sum.bytes);
}

static void je_finish(struct je_walk *w)
{
	uint64_t allocated = 0, active = 0;
	for (size_t i = 0; i < w->narenas && !w->nomem; i++) {
		struct je_arena *ar = &w->arenas[i];
		allocated += ar->small_bytes + ar->large_bytes;
		active += ar->active_bytes;
		if (!je_stat(w, ar->ind, "small.allocated", ar->small_bytes) ||
		    !je_stat(w, ar->ind, "large.allocated", ar->large_bytes) ||
		    !je_stat(w, ar->ind, "tcache_bytes", ar->tcache_bytes))
			return;
		je_check_arena(w, ar);
	}
	if (!je_stat(w, -1, "allocated", allocated) ||
	    !je_stat(w, -1, "active", active))
		return;
	size_t unmatched = 0;
	for (size_t i = 0; i < w->nitems; i++) {
		if (w->items[i].matched)
			continue;
		if (unmatched++ < 16)
			DIAG(w, HS_DIAG_WARNING, w->items[i].addr,
			     "jemalloc: tcache item %#" PRIx64 " (bin %u) is not an"
			     " allocated region or large extent", w->items[i].addr,
			     w->items[i].szind);
	}
	if (unmatched > 16)
		DIAG(w, HS_DIAG_WARNING, 0, "jemalloc: %zu tcache items in all are not"
		     " allocated regions or large extents", unmatched);
}

struct hs_error *hs_jemalloc_walk_at(struct hs_process *proc,
				     const struct hs_je_layout *L,
				     const struct hs_je_globals *g,
				     struct hs_heap *heap)
{
	/* A row as tables hold it (unit tests, fuzzing): resolve it to its
	 * own reference configuration. */
	struct hs_je_layout R;
	if (!L->tcache.nbins_max) {
		if (!hs_je_layout_resolve(L, L->lg_page, L->nbins, L->nsizes, &R))
			return hs_error_create(HS_ERR_UNSUPPORTED,
					       "jemalloc %s: layout row exceeds the"
					       " walker's bounds", L->version);
		L = &R;
	}
	if (L->nsizes > HS_JE_MAX_NSIZES || L->nbins > HS_JE_MAX_NBINS ||
	    L->slab_maxregs > 64 * JE_MAX_GROUPS ||
	    L->edata.slab_data + L->slab_maxregs / 8 > L->edata.size ||
	    L->tcache.nbins_max > HS_JE_MAX_TCACHE_BINS)
		return hs_error_create(HS_ERR_UNSUPPORTED,
				       "jemalloc %s: layout row exceeds the walker's bounds",
				       L->version);
	struct je_walk w = {
		.proc = proc,
		.mem = &proc->mem,
		.L = L,
		.g = g,
		.heap = heap,
		.page_mask = (UINT64_C(1) << L->lg_page) - 1,
		.max_records = JE_RECORDS_SLACK,
	};
	for (size_t i = 0; i < proc->mem.count; i++)
		w.max_records += proc->mem.ranges[i].filesz / 8;
	if (!heap->version[0])
		snprintf(heap->version, sizeof(heap->version), "%s", L->version);
	if (!heap->layout_row[0])
		snprintf(heap->layout_row, sizeof(heap->layout_row), "%s", L->version);
	unsigned lg_vaddr = g->lg_vaddr;
	if (!lg_vaddr)
		lg_vaddr = hs_je_rtree_detect(w.mem, L, g->emap, NULL);
	struct hs_error *err = NULL;
	if (!lg_vaddr || !hs_je_rtree_geom_init(L, lg_vaddr, &w.geom)) {
		err = hs_error_create(HS_ERR_NOT_FOUND,
				      "jemalloc: the rtree at %#" PRIx64
				      " decodes under no known LG_VADDR", g->emap);
		goto out;
	}
	if ((err = je_load_sizes(&w)) || (err = je_load_arenas(&w)))
		goto out;
	je_tcaches_from_tls(&w);
	je_tcaches_from_arenas(&w);
	je_dedupe_tcaches(&w);
	if (!w.nomem)
		je_collect_items(&w);
	if (!w.nomem)
		je_walk_node(&w, 0, g->emap + L->emap_root, 0);
	if (!w.nomem)
		je_flush_larges(&w);
	if (!w.nomem)
		je_finish(&w);
	for (size_t i = 0; i < w.narenas && !w.nomem; i++)
		je_note_meta(&w, w.arenas[i].addr);
	if (!w.nomem && !hs_je_base_blocks(w.mem, w.meta_addrs, w.nmeta_addrs, heap))
		w.nomem = true;
	if (w.nomem)
		err = HS_ENOMEM;
out:
	free(w.meta_addrs);
	free(w.arenas);
	free(w.arena_slot);
	free(w.tcaches);
	free(w.items);
	free(w.larges);
	for (unsigned k = 0; k < 4; k++)
		free(w.buf[k]);
	free(w.nodes);
	return err;
}
