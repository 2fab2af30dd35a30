/* jemalloc4.c: the jemalloc 4.x walk: chunks_rtree, arena chunk page maps, runs, huge extents, tcaches. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jemalloc4_internal.h"
#include "jemalloc_common.h"
#include "jemalloc_internal.h"

/*
 * The page map (arena_chunk_map_bits_t.bits, arena.h:52-130 in 4.0.0,
 * unchanged through 4.5.0): flags in the low 5 bits, the small-class index
 * (binind) above them, then the page's offset in its small run, or the run
 * size of a large or unallocated run at its first page.
 */
#define JE4_MAP_ALLOCATED UINT64_C(0x1)
#define JE4_MAP_LARGE UINT64_C(0x2)
#define JE4_MAP_BININD_SHIFT 5
#define JE4_MAP_BININD_INVALID 0xffu
#define JE4_MAP_RUNIND_SHIFT 13 /* CHUNK_MAP_BININD_SHIFT + 8 */
#define JE4_MAP_SIZE_MASK (~UINT64_C(0x1fff))
/* tcache_bin_info (src/tcache.c tcache_boot, every 4.x): twice a bin's
 * regions, clamped, for small bins; a fixed count for large ones. */
#define JE4_NSLOTS_SMALL_MIN 20
#define JE4_NSLOTS_SMALL_MAX 200
#define JE4_NSLOTS_LARGE 20
/* TCACHE_STATE_MAX (tcache.h:14-17): tsd->tcache values that are states,
 * not tcaches. */
#define JE4_TCACHE_STATE_MAX 3
/* RTREE_NODE_INITIALIZING (rtree.h:23): a node being allocated. */
#define JE4_RTREE_INITIALIZING 1

/* Hard bounds on what is read from the core (docs/robustness.md). */
#define JE4_MAX_ARENAS 4096     /* MALLOCX_ARENA_MAX + 1 */
#define JE4_MAX_TCACHES 65536
#define JE4_MAX_RING 65536
#define JE4_MAX_ITEMS (UINT64_C(1) << 22)
#define JE4_MAX_TREE (UINT64_C(1) << 20) /* retained tree nodes in all */
#define JE4_TREE_DEPTH 128
#define JE4_RECORDS_SLACK (UINT64_C(1) << 20)
#define JE4_MAX_GROUPS 8        /* 512 regions: RUN_MAXREGS with 4 KiB pages */
/* Scratch buffers: one per rtree level, then the page map, a tcache's
 * bins, a bin's stack. */
#define JE4_BUF_MAP HS_JE4_MAX_HEIGHT
#define JE4_BUF_TCACHE (HS_JE4_MAX_HEIGHT + 1)
#define JE4_BUF_STACK (HS_JE4_MAX_HEIGHT + 2)
#define JE4_NBUF (HS_JE4_MAX_HEIGHT + 3)
/* The largest struct read whole into a local buffer (rtree_t, an
 * extent_node_t, an arena_run_t with its bitmap). */
#define JE4_MAX_STRUCT 256

/* What the walk learns about one arena, to compare with what it counts. */
struct je4_arena {
	uint64_t addr;
	unsigned ind;
	uint64_t small_bytes, large_bytes, huge_bytes, active_bytes, mapped_bytes;
	uint64_t retained_bytes;
	uint64_t nhuge;               /* huge extents found in the rtree */
	uint64_t count[HS_JE4_MAX_NSIZES]; /* live regions / runs / extents */
	uint64_t nruns[HS_JE4_MAX_NBINS];
};

/* A chunk or huge extent the rtree maps, kept between the two passes. */
struct je4_extent {
	uint64_t node, addr, size;
	uint32_t arena;         /* the arena's index, or UINT32_MAX */
	bool achunk;
};

/* An in-use large run whose user pointer is not known (cache-oblivious
 * placement), and the lowest cacheline a pointer into its first page
 * names. */
struct je4_unres {
	uint64_t run;
	uint64_t off;      /* page size: no pointer seen */
};

/*
 * What a pass over the arena chunks does with what it finds. The walk emits
 * each chunk once, with its final address, so where in-use large runs start
 * is settled first (je4_resolve): FIND lists the runs whose start nothing in
 * jemalloc records, SCAN reads the live memory for pointers into them,
 * EMIT records the chunks and counts. Only EMIT diagnoses.
 */
enum je4_pass {
	JE4_EMIT,
	JE4_FIND,
	JE4_SCAN,
};

/* Memory of jemalloc's own chunks, not scanned for pointers as a whole. */
struct je4_span {
	uint64_t start, end;
};

struct je4_item {
	uint64_t addr;
	uint32_t bin;
	uint32_t matched;
};

struct je4_walk {
	struct hs_process *proc;
	const struct hs_memory *mem;
	const struct hs_je4_layout *L;
	const struct hs_je4_globals *g;
	struct hs_heap *heap;
	struct hs_je4_config cfg;
	unsigned ncmax[HS_JE4_MAX_NSIZES]; /* tcache_bin_info[].ncached_max */
	uint64_t large_pad;
	struct je4_arena *arenas;
	size_t narenas, arenas_cap;
	uint16_t *arena_slot;     /* ind -> 1 + position in arenas, 0 = none */
	uint64_t *tcaches;        /* tcache_t addresses, sorted and unique */
	size_t ntcaches, tcaches_cap;
	struct je4_item *items;   /* every cached pointer, sorted by address */
	size_t nitems, items_cap;
	size_t cursor;
	struct je4_extent *extents; /* what the rtree maps, in key order */
	size_t nextents, extents_cap;
	struct je4_unres *unres;  /* in address order */
	size_t nunres, unres_cap;
	struct je4_span *spans;   /* arena chunks, huge and cached extents */
	size_t nspans, spans_cap;
	uint64_t *nodes;          /* rtree nodes seen: an open-addressed set */
	size_t nodes_cap, nnodes;
	void *buf[JE4_NBUF];
	size_t cap[JE4_NBUF];
	uint64_t max_records;
	uint64_t tree_steps;
	unsigned mismatches;
	enum je4_pass pass;
	bool capped, nomem;
};

#define DIAG(w, sev, addr, ...)                                                  \
	do {                                                                     \
		if ((w)->pass == JE4_EMIT)                                       \
			hs_diags_add(&(w)->heap->diags, (sev), true, (addr), __VA_ARGS__); \
	} while (0)

static bool je4_u64(const struct je4_walk *w, uint64_t addr, uint64_t *ret)
{
	return hs_memory_u64(w->mem, addr, ret);
}

/* ---------------------------------------------------------------------
 * Arenas.
 * --------------------------------------------------------------------- */

static struct je4_arena *je4_arena_by_ind(struct je4_walk *w, unsigned ind)
{
	if (ind >= JE4_MAX_ARENAS || !w->arena_slot[ind])
		return NULL;
	return &w->arenas[w->arena_slot[ind] - 1];
}

/* The arena at addr: known already, or validated and added. NULL (with a
 * diagnostic naming `what`) if it is not an arena. */
static struct je4_arena *je4_arena(struct je4_walk *w, uint64_t addr, const char *what,
				   uint64_t where)
{
	uint32_t ind = UINT32_MAX;
	if (!hs_memory_u32(w->mem, addr + w->L->arena.ind, &ind) || ind >= JE4_MAX_ARENAS ||
	    !hs_je4_valid_arena(w->mem, w->L, &w->cfg, addr, ind)) {
		DIAG(w, HS_DIAG_WARNING, where,
		     "jemalloc: %s names arena %#" PRIx64 ", which is not an arena", what,
		     addr);
		return NULL;
	}
	struct je4_arena *ar = je4_arena_by_ind(w, ind);
	if (ar) {
		if (ar->addr != addr)
			DIAG(w, HS_DIAG_WARNING, where,
			     "jemalloc: %s names arena %#" PRIx64 " with index %u, which is"
			     " arena %#" PRIx64, what, addr, ind, ar->addr);
		return ar->addr == addr ? ar : NULL;
	}
	if (!hs_grow((void **)&w->arenas, &w->arenas_cap, w->narenas + 1,
		     sizeof(*w->arenas))) {
		w->nomem = true;
		return NULL;
	}
	ar = &w->arenas[w->narenas++];
	memset(ar, 0, sizeof(*ar));
	ar->addr = addr;
	ar->ind = ind;
	w->arena_slot[ind] = (uint16_t)w->narenas;
	/* The arena and its per-class stats (arena_new: one allocation),
	 * jemalloc's own memory. */
	uint64_t hstats;
	if (je4_u64(w, addr + w->L->arena.stats_hstats, &hstats) &&
	    !hs_heap_add_owned(w->heap, "arena_t", addr, hstats - addr +
			       (uint64_t)w->cfg.nhclasses * w->L->arena.hstats_size))
		w->nomem = true;
	return ar;
}

/* arenas[]: every initialized arena (NULL slots are arenas not yet made).
 * Without narenas_total, the array ends at its first slot that holds
 * something else than an arena of that index. */
static void je4_load_arenas(struct je4_walk *w)
{
	const struct hs_je4_globals *g = w->g;
	if (!g->arenas)
		return;
	unsigned n = g->narenas ? g->narenas : JE4_MAX_ARENAS;
	if (n > JE4_MAX_ARENAS)
		n = JE4_MAX_ARENAS;
	for (unsigned i = 0; i < n && !w->nomem; i++) {
		uint64_t a;
		if (!je4_u64(w, g->arenas + 8ull * i, &a)) {
			if (g->narenas)
				DIAG(w, HS_DIAG_WARNING, g->arenas + 8ull * i,
				     "jemalloc: arenas[%u] is not readable", i);
			break;
		}
		if (!a)
			continue;
		if (!hs_je4_valid_arena(w->mem, w->L, &w->cfg, a, i)) {
			if (g->narenas)
				DIAG(w, HS_DIAG_WARNING, a,
				     "jemalloc: arenas[%u] = %#" PRIx64 " is not an arena",
				     i, a);
			break;
		}
		je4_arena(w, a, "arenas[]", g->arenas + 8ull * i);
	}
}

/* ---------------------------------------------------------------------
 * Thread caches: from each thread's tsd and from each arena's tcache_ql.
 * --------------------------------------------------------------------- */

static void je4_add_tcache(struct je4_walk *w, uint64_t tcache)
{
	if (w->ntcaches >= JE4_MAX_TCACHES) {
		if (w->ntcaches == JE4_MAX_TCACHES)
			DIAG(w, HS_DIAG_WARNING, tcache,
			     "jemalloc: more than %d tcaches; ignoring the rest",
			     JE4_MAX_TCACHES);
		return;
	}
	if (!hs_grow((void **)&w->tcaches, &w->tcaches_cap, w->ntcaches + 1,
		     sizeof(*w->tcaches))) {
		w->nomem = true;
		return;
	}
	w->tcaches[w->ntcaches++] = tcache;
}

static void je4_tcaches_from_tls(struct je4_walk *w)
{
	const struct hs_je4_layout *L = w->L;
	if (!w->g->has_tpoff)
		return;
	for (size_t i = 0; i < w->proc->nthreads; i++) {
		const struct hs_thread *t = &w->proc->threads[i];
		if (!t->fs_base)
			continue;
		uint64_t tsd = t->fs_base + (uint64_t)w->g->tsd_tpoff, tcache;
		uint32_t state;
		if (!hs_memory_u32(w->mem, tsd + L->tsd.state, &state) ||
		    !je4_u64(w, tsd + L->tsd.tcache, &tcache)) {
			DIAG(w, HS_DIAG_INFO, tsd,
			     "jemalloc: thread %d: tsd at %#" PRIx64 " is not in the core",
			     t->tid, tsd);
			continue;
		}
		/* Only a nominal tsd has a live tcache (tsd.h, tsd_fetch). */
		if (state != L->tsd.state_nominal || tcache <= JE4_TCACHE_STATE_MAX)
			continue;
		je4_add_tcache(w, tcache);
	}
}

/* Walk a ql ring (ql.h, qr.h) from `head`, calling fn on each element until
 * it returns false (hs_je_ring: bounded, cycles caught; warnings only in
 * the EMIT pass, as DIAG). */
static void je4_ring(struct je4_walk *w, uint64_t head, uint32_t next_off,
		     const char *what, uint64_t owner,
		     bool (*fn)(struct je4_walk *w, uint64_t elm, void *arg), void *arg)
{
	struct hs_je_ring r;
	uint64_t elm;
	hs_je_ring_init(&r, head, next_off, what, owner, JE4_MAX_RING);
	while (hs_je_ring_next(&r, w->mem, w->pass == JE4_EMIT ? &w->heap->diags : NULL, &elm))
		if (fn && !fn(w, elm, arg))
			return;
}

static bool je4_ql_tcache(struct je4_walk *w, uint64_t tcache, void *arg)
{
	(void)arg;
	je4_add_tcache(w, tcache);
	return !w->nomem;
}

static int je4_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* tcache_bin_info[i].ncached_max as tcache_boot sets it. */
static void je4_ncached_max(struct je4_walk *w)
{
	for (unsigned i = 0; i < w->cfg.nsizes; i++) {
		unsigned n = JE4_NSLOTS_LARGE;
		if (i < w->cfg.nbins) {
			uint64_t twice = 2ull * w->cfg.bins[i].nregs;
			n = twice <= JE4_NSLOTS_SMALL_MIN ? JE4_NSLOTS_SMALL_MIN :
			    twice <= JE4_NSLOTS_SMALL_MAX ? (unsigned)twice :
			    JE4_NSLOTS_SMALL_MAX;
		}
		w->ncmax[i] = n;
	}
}

/*
 * The number of bins of the tcache at tc (nhbins: a build and MALLOC_CONF
 * choice), from where tcache_create put bin 0's stack: right after the
 * tbins[] array (src/tcache.c tcache_create), at the stack's start (4.0) or
 * its end. 0 if that is no count of bins.
 */
static unsigned je4_tcache_nbins(struct je4_walk *w, uint64_t tc)
{
	const struct hs_je4_layout *L = w->L;
	uint64_t avail0;
	if (!je4_u64(w, tc + L->tcache.tbins + L->tcache.avail, &avail0))
		return 0;
	uint64_t off = avail0 - tc - L->tcache.tbins;
	if (L->avail_down)
		off -= 8ull * w->ncmax[0];
	if (avail0 < tc || off % L->tcache.tbin_size)
		return 0;
	uint64_t n = off / L->tcache.tbin_size;
	return n >= w->cfg.nbins && n <= w->cfg.nsizes ? (unsigned)n : 0;
}

/* The items of bin b at tb (in a copy of the tcache's bins): appended. */
static bool je4_bin_items(struct je4_walk *w, uint64_t tc, unsigned b, const uint8_t *tb)
{
	const struct hs_je4_layout *L = w->L;
	uint64_t at = tc + L->tcache.tbins + (uint64_t)b * L->tcache.tbin_size;
	uint32_t n = hs_je4_load32(tb + L->tcache.ncached);
	uint64_t avail = hs_je4_load64(tb + L->tcache.avail);
	if (!n)
		return true;
	if (n > w->ncmax[b]) {
		DIAG(w, HS_DIAG_WARNING, at,
		     "jemalloc: tcache %#" PRIx64 " bin %u holds %u items, more than its"
		     " %u slots", tc, b, n, w->ncmax[b]);
		return true;
	}
	uint64_t first = L->avail_down ? avail - 8ull * n : avail;
	const uint8_t *stack = hs_je_span(w->mem, first, 8ull * n, &w->buf[JE4_BUF_STACK],
					  &w->cap[JE4_BUF_STACK]);
	if (!stack || (first & 7)) {
		DIAG(w, HS_DIAG_WARNING, at,
		     "jemalloc: tcache %#" PRIx64 " bin %u: its stack of %u items at %#"
		     PRIx64 " is not readable", tc, b, n, first);
		return true;
	}
	if (w->nitems + n > JE4_MAX_ITEMS) {
		DIAG(w, HS_DIAG_WARNING, at,
		     "jemalloc: over %" PRIu64 " cached items in all; ignoring tcache bins"
		     " from here on", JE4_MAX_ITEMS);
		return false;
	}
	if (!hs_grow((void **)&w->items, &w->items_cap, w->nitems + n, sizeof(*w->items))) {
		w->nomem = true;
		return false;
	}
	for (unsigned k = 0; k < n; k++)
		w->items[w->nitems++] = (struct je4_item){hs_je4_load64(stack + 8 * k), b, 0};
	return true;
}

/* Every cached pointer of every tcache, sorted, a double free diagnosed. */
static void je4_collect_items(struct je4_walk *w)
{
	const struct hs_je4_layout *L = w->L;
	bool more = true;
	for (size_t t = 0; t < w->ntcaches && more; t++) {
		uint64_t tc = w->tcaches[t];
		unsigned nb = je4_tcache_nbins(w, tc);
		const uint8_t *tb = nb ? hs_je_span(w->mem, tc + L->tcache.tbins,
						    (size_t)nb * L->tcache.tbin_size,
						    &w->buf[JE4_BUF_TCACHE],
						    &w->cap[JE4_BUF_TCACHE]) : NULL;
		/* Every bin's stack must be where tcache_create put it. */
		uint64_t stack = tc + L->tcache.tbins + (uint64_t)nb * L->tcache.tbin_size;
		for (unsigned b = 0; tb && b < nb; b++) {
			if (L->avail_down)
				stack += 8ull * w->ncmax[b];
			if (hs_je4_load64(tb + (size_t)b * L->tcache.tbin_size +
				       L->tcache.avail) != stack)
				tb = NULL;
			else if (!L->avail_down)
				stack += 8ull * w->ncmax[b];
		}
		if (!tb) {
			DIAG(w, HS_DIAG_WARNING, tc,
			     "jemalloc: tcache %#" PRIx64 ": its bins are not readable, or"
			     " their stacks are not where tcache_create puts them", tc);
			continue;
		}
		for (unsigned b = 0; b < nb && more; b++)
			more = je4_bin_items(w, tc, b, tb + (size_t)b * L->tcache.tbin_size);
	}
	if (!w->nitems || w->nomem)
		return;
	w->nitems = hs_je_items_sort(w->items, w->nitems, sizeof(*w->items),
				     w->pass == JE4_EMIT ? &w->heap->diags : NULL);
}

static void je4_tcaches(struct je4_walk *w)
{
	je4_tcaches_from_tls(w);
	for (size_t i = 0; i < w->narenas && !w->nomem; i++) {
		uint64_t head;
		if (je4_u64(w, w->arenas[i].addr + w->L->arena.tcache_ql, &head))
			je4_ring(w, head, w->L->tcache.link_next, "tcache_ql",
				 w->arenas[i].addr, je4_ql_tcache, NULL);
	}
	if (!w->ntcaches || w->nomem)
		return;
	qsort(w->tcaches, w->ntcaches, sizeof(*w->tcaches), je4_cmp_u64);
	size_t out = 0;
	for (size_t i = 0; i < w->ntcaches; i++)
		if (!out || w->tcaches[out - 1] != w->tcaches[i])
			w->tcaches[out++] = w->tcaches[i];
	w->ntcaches = out;
	je4_collect_items(w);
}

/* The cached item at addr; the cursor moves forward because chunks are
 * visited in address order, and falls back on a search when they are not. */
static struct je4_item *je4_item_at(struct je4_walk *w, uint64_t addr)
{
	if (!w->nitems)
		return NULL;
	if (w->cursor && w->items[w->cursor - 1].addr >= addr) {
		size_t lo = 0, hi = w->nitems;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (w->items[mid].addr < addr)
				lo = mid + 1;
			else
				hi = mid;
		}
		w->cursor = lo;
	}
	while (w->cursor < w->nitems && w->items[w->cursor].addr < addr)
		w->cursor++;
	if (w->cursor < w->nitems && w->items[w->cursor].addr == addr)
		return &w->items[w->cursor];
	return NULL;
}

/* The first cached item in [lo, hi), if any (a large run's user pointer). */
static struct je4_item *je4_item_in(struct je4_walk *w, uint64_t lo, uint64_t hi)
{
	je4_item_at(w, lo);
	if (w->cursor < w->nitems && w->items[w->cursor].addr < hi)
		return &w->items[w->cursor];
	return NULL;
}

/* The first tcache_t in [lo, hi], or 0: a tcache is itself an allocation
 * (tcache_create), jemalloc's metadata in the application's heap. */
static uint64_t je4_tcache_in(const struct je4_walk *w, uint64_t lo, uint64_t hi)
{
	size_t a = 0, b = w->ntcaches;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (w->tcaches[mid] < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a < w->ntcaches && w->tcaches[a] <= hi ? w->tcaches[a] : 0;
}

/* ---------------------------------------------------------------------
 * Arena chunks: the page map, run by run.
 * --------------------------------------------------------------------- */

static void je4_resolve_range(struct je4_walk *w, uint64_t start, uint64_t end);

/* A chunk found: recorded (EMIT), or its memory scanned for pointers into
 * the runs being resolved when the application holds it (SCAN). */
static bool je4_add(struct je4_walk *w, uint64_t addr, uint64_t size,
		    enum hs_chunk_state st, unsigned flags)
{
	if (w->pass != JE4_EMIT) {
		/* Not the tcaches: past ncached their stacks hold stale items. */
		if (w->pass == JE4_SCAN && st == HS_CHUNK_IN_USE &&
		    !(flags & HS_CHUNK_F_METADATA))
			je4_resolve_range(w, addr, addr + size);
		return true;
	}
	if (w->heap->nchunks >= w->max_records) {
		if (!w->capped)
			hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, false, 0,
				     "jemalloc: runs describe more than %" PRIu64 " regions,"
				     " more than the core's memory can hold (hostile or"
				     " corrupt metadata); the runs past that are not counted",
				     w->max_records);
		w->capped = true;
		return false;
	}
	if (!hs_heap_add_chunk(w->heap, addr, size, st, flags)) {
		w->nomem = true;
		return false;
	}
	return true;
}

/* A run's size from its first page's map bits (arena_mapbits_size_decode,
 * arena.h in 4.0.3: CHUNK_MAP_SIZE_SHIFT = CHUNK_MAP_RUNIND_SHIFT - LG_PAGE). */
static uint64_t je4_run_size(const struct je4_walk *w, uint64_t bits)
{
	uint64_t v = bits & JE4_MAP_SIZE_MASK;
	unsigned lg = w->cfg.lg_page;
	return lg <= JE4_MAP_RUNIND_SHIFT ? v >> (JE4_MAP_RUNIND_SHIFT - lg)
					  : v << (lg - JE4_MAP_RUNIND_SHIFT);
}

static void je4_small_run(struct je4_walk *w, uint64_t chunk, unsigned pageind,
			  unsigned binind, struct je4_arena *ar)
{
	const struct hs_je4_layout *L = w->L;
	const struct hs_je4_config *c = &w->cfg;
	const struct hs_je4_bin *b = &c->bins[binind];
	uint64_t run = chunk + ((uint64_t)pageind << c->lg_page);
	uint64_t misc = chunk + c->map_misc_offset +
			(uint64_t)(pageind - c->map_bias) * L->chunk.misc_size;
	unsigned ngroups = (b->nregs + 63) / 64;
	uint8_t r[JE4_MAX_STRUCT];
	size_t len = L->chunk.run_bitmap + 8ull * ngroups;
	if (len > sizeof(r) || !hs_je4_read(w->mem, misc + L->chunk.misc_run, r, len)) {
		DIAG(w, HS_DIAG_WARNING, misc,
		     "jemalloc: run %#" PRIx64 ": its metadata at %#" PRIx64
		     " is not readable", run, misc);
		return;
	}
	if (hs_je4_load32(r + L->chunk.run_binind) != binind) {
		DIAG(w, HS_DIAG_WARNING, misc,
		     "jemalloc: run %#" PRIx64 " is bin %u in the page map, bin %u in"
		     " its arena_run_t", run, binind, hs_je4_load32(r + L->chunk.run_binind));
		return;
	}
	/* The bitmap's first level: raw bit 1 = free region (bitmap.c,
	 * bitmap_init). */
	uint64_t map_bits[JE4_MAX_GROUPS];
	memcpy(map_bits, r + L->chunk.run_bitmap, 8ull * ngroups);
	unsigned tail = b->nregs % 64;
	if (tail && (map_bits[ngroups - 1] >> tail)) {
		DIAG(w, HS_DIAG_WARNING, misc,
		     "jemalloc: run %#" PRIx64 ": bitmap has bits set past its %u regions"
		     " (scribbled)", run, b->nregs);
		map_bits[ngroups - 1] &= (UINT64_C(1) << tail) - 1;
	}
	unsigned nfree = 0;
	for (unsigned i = 0; i < ngroups; i++)
		nfree += (unsigned)__builtin_popcountll(map_bits[i]);
	if (nfree != hs_je4_load32(r + L->chunk.run_nfree))
		DIAG(w, HS_DIAG_WARNING, misc,
		     "jemalloc: run %#" PRIx64 ": bitmap has %u free regions, its"
		     " arena_run_t says %u", run, nfree, hs_je4_load32(r + L->chunk.run_nfree));
	uint64_t live = 0;
	for (unsigned j = 0; j < b->nregs && !w->nomem; j++) {
		uint64_t addr = run + b->reg0_offset + (uint64_t)j * b->reg_interval;
		bool is_free = (map_bits[j / 64] >> (j % 64)) & 1;
		struct je4_item *it = je4_item_at(w, addr);
		enum hs_chunk_state st = HS_CHUNK_IN_USE;
		unsigned flags = 0;
		if (is_free) {
			st = HS_CHUNK_FREE;
			if (it) {
				it->matched = 1;
				DIAG(w, HS_DIAG_WARNING, addr,
				     "jemalloc: %#" PRIx64 " is in a tcache but free in its"
				     " run's bitmap (double free?)", addr);
			}
		} else {
			live++;
			if (it) {
				it->matched = 1;
				st = HS_CHUNK_CACHED;
				if (it->bin != binind)
					DIAG(w, HS_DIAG_WARNING, addr,
					     "jemalloc: %#" PRIx64 " is cached in tcache bin %u"
					     " but its run is bin %u", addr, it->bin, binind);
			} else if (je4_tcache_in(w, addr, addr)) {
				flags = HS_CHUNK_F_METADATA;
			}
		}
		if (!je4_add(w, addr, b->reg_size, st, flags))
			return;
	}
	if (ar) {
		ar->small_bytes += live * b->reg_size;
		ar->count[binind] += live;
		ar->nruns[binind]++;
		ar->active_bytes += b->run_size;
	}
}

/* An in-use large run with no tcache naming its start: listed (FIND), or
 * given the start the pointers into it say (EMIT: *addr). False on OOM. */
static bool je4_unresolved(struct je4_walk *w, uint64_t run, uint64_t *addr)
{
	if (w->pass == JE4_FIND) {
		if (!hs_grow((void **)&w->unres, &w->unres_cap, w->nunres + 1,
			     sizeof(*w->unres))) {
			w->nomem = true;
			return false;
		}
		w->unres[w->nunres++] = (struct je4_unres){run, w->cfg.page};
		return true;
	}
	size_t a = 0, b = w->nunres;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (w->unres[mid].run < run)
			a = mid + 1;
		else
			b = mid;
	}
	if (w->pass == JE4_EMIT && a < w->nunres && w->unres[a].run == run &&
	    w->unres[a].off < w->cfg.page)
		*addr = run + w->unres[a].off;
	return true;
}

static void je4_large_run(struct je4_walk *w, uint64_t run, uint64_t size,
			  struct je4_arena *ar)
{
	const struct hs_je4_config *c = &w->cfg;
	uint64_t usize = size - w->large_pad;
	unsigned szind = hs_je4_size2index(c, usize);
	if (size <= w->large_pad || szind < c->nbins || szind >= c->nbins + c->nlclasses ||
	    c->sz[szind] != usize) {
		DIAG(w, HS_DIAG_WARNING, run,
		     "jemalloc: large run %#" PRIx64 " of %#" PRIx64 " bytes holds no"
		     " large class", run, size);
		return;
	}
	/* With cache-oblivious placement the user pointer sits at a random
	 * cacheline of the run's first page (arena_malloc_large), recorded
	 * nowhere: a tcache that holds the run, or the tcache that is the
	 * run, says where; otherwise the run's start stands for it. */
	struct je4_item *it = je4_item_in(w, run, run + w->large_pad + 1);
	uint64_t addr = run;
	enum hs_chunk_state st = HS_CHUNK_IN_USE;
	unsigned flags = 0;
	if (it) {
		it->matched = 1;
		addr = it->addr;
		st = HS_CHUNK_CACHED;
		if (it->bin != szind)
			DIAG(w, HS_DIAG_WARNING, addr,
			     "jemalloc: %#" PRIx64 " is cached in tcache bin %u but its run"
			     " is class %u", addr, it->bin, szind);
	} else if ((addr = je4_tcache_in(w, run, run + w->large_pad))) {
		flags = HS_CHUNK_F_METADATA;
	} else {
		addr = run;
		if (w->large_pad && !je4_unresolved(w, run, &addr))
			return;
		/* Its start not known yet, only the bytes past its first page
		 * are surely the allocation's: the rest may be stale. */
		if (w->pass == JE4_SCAN) {
			je4_add(w, run + w->cfg.page, usize - w->cfg.page, st, flags);
			return;
		}
	}
	if (!je4_add(w, addr, usize, st, flags) || w->pass != JE4_EMIT)
		return;
	if (ar) {
		ar->large_bytes += usize;
		ar->count[szind]++;
		ar->active_bytes += size;
	}
}

static void je4_visit_chunk(struct je4_walk *w, uint64_t chunk, struct je4_arena *ar)
{
	const struct hs_je4_layout *L = w->L;
	const struct hs_je4_config *c = &w->cfg;
	unsigned npages = c->chunk_npages - c->map_bias;
	const uint64_t *map = hs_je_span(w->mem, chunk + L->chunk.map_bits, 8ull * npages,
					 &w->buf[JE4_BUF_MAP], &w->cap[JE4_BUF_MAP]);
	if (!map) {
		DIAG(w, HS_DIAG_WARNING, chunk,
		     "jemalloc: arena chunk %#" PRIx64 ": its page map is not readable", chunk);
		return;
	}
	if (ar)
		ar->mapped_bytes += c->chunksize;
	unsigned p = c->map_bias;
	while (p < c->chunk_npages && !w->nomem && !w->capped) {
		uint64_t bits = map[p - c->map_bias];
		uint64_t run = chunk + ((uint64_t)p << c->lg_page);
		unsigned binind = (unsigned)(bits >> JE4_MAP_BININD_SHIFT) & 0xff;
		uint64_t size;
		if (!(bits & JE4_MAP_ALLOCATED) || (bits & JE4_MAP_LARGE)) {
			size = je4_run_size(w, bits);
			if (!size || size % c->page ||
			    size > ((uint64_t)(c->chunk_npages - p) << c->lg_page)) {
				DIAG(w, HS_DIAG_WARNING, chunk + L->chunk.map_bits +
				     8ull * (p - c->map_bias),
				     "jemalloc: chunk %#" PRIx64 " page %u: run of %#" PRIx64
				     " bytes does not fit the chunk; rest of the chunk skipped",
				     chunk, p, size);
				return;
			}
			if (!(bits & JE4_MAP_ALLOCATED)) {
				/* An unallocated run: free pages (dirty or not). */
				if (!je4_add(w, run, size, HS_CHUNK_FREE, 0))
					return;
			} else if (binind != JE4_MAP_BININD_INVALID) {
				/* A profiling-sampled small allocation promoted to a
				 * page (arena_prof_promoted): not modelled. */
				DIAG(w, HS_DIAG_WARNING, run,
				     "jemalloc: large run %#" PRIx64 " holds a sampled small"
				     " allocation (bin %u): not counted", run, binind);
			} else {
				je4_large_run(w, run, size, ar);
			}
		} else {
			if ((bits >> JE4_MAP_RUNIND_SHIFT) != 0 || binind >= c->nbins) {
				DIAG(w, HS_DIAG_WARNING, chunk + L->chunk.map_bits +
				     8ull * (p - c->map_bias),
				     "jemalloc: chunk %#" PRIx64 " page %u: small run page with"
				     " offset %" PRIu64 " and bin %u where a run starts", chunk,
				     p, bits >> JE4_MAP_RUNIND_SHIFT, binind);
				p++;
				continue;
			}
			size = c->bins[binind].run_size;
			unsigned rp = (unsigned)(size >> c->lg_page);
			if (p + rp > c->chunk_npages) {
				DIAG(w, HS_DIAG_WARNING, run,
				     "jemalloc: run %#" PRIx64 " of bin %u runs past its chunk",
				     run, binind);
				return;
			}
			for (unsigned k = 1; k < rp; k++) {
				uint64_t b2 = map[p + k - c->map_bias];
				if (!(b2 & JE4_MAP_ALLOCATED) || (b2 & JE4_MAP_LARGE) ||
				    (b2 >> JE4_MAP_RUNIND_SHIFT) != k ||
				    ((b2 >> JE4_MAP_BININD_SHIFT) & 0xff) != binind) {
					DIAG(w, HS_DIAG_WARNING, run,
					     "jemalloc: run %#" PRIx64 " (bin %u): page %u of"
					     " it disagrees in the page map", run, binind, k);
					break;
				}
			}
			je4_small_run(w, chunk, p, binind, ar);
		}
		p += (unsigned)(size >> c->lg_page);
	}
}

/* A huge extent: one allocation of en_size bytes at en_addr. */
static void je4_visit_huge(struct je4_walk *w, uint64_t node, uint64_t addr, uint64_t size,
			   struct je4_arena *ar)
{
	const struct hs_je4_config *c = &w->cfg;
	unsigned szind = hs_je4_size2index(c, size);
	if (szind < c->nbins + c->nlclasses || szind >= c->nsizes || c->sz[szind] != size) {
		DIAG(w, HS_DIAG_WARNING, node,
		     "jemalloc: huge extent %#" PRIx64 " has size %#" PRIx64 ", not a huge"
		     " class", addr, size);
		return;
	}
	if (!je4_add(w, addr, size, HS_CHUNK_IN_USE, HS_CHUNK_F_MMAPPED))
		return;
	if (ar) {
		ar->huge_bytes += size;
		ar->count[szind]++;
		ar->nhuge++;
		ar->active_bytes += size;
		ar->mapped_bytes += size;
	}
}

static bool je4_span(struct je4_walk *w, uint64_t start, uint64_t size);

/* One rtree value: the extent_node_t of the chunk at key, checked and kept
 * for the second pass, its arena learnt. */
static void je4_collect(struct je4_walk *w, uint64_t key, uint64_t node)
{
	const struct hs_je4_layout *L = w->L;
	uint8_t n[JE4_MAX_STRUCT];
	if (L->node.size > sizeof(n) || (node & 7) ||
	    !hs_je4_read(w->mem, node, n, L->node.size)) {
		DIAG(w, HS_DIAG_WARNING, node,
		     "jemalloc: chunks_rtree key %#" PRIx64 ": node %#" PRIx64
		     " is not readable", key, node);
		return;
	}
	struct je4_extent e = {
		.node = node,
		.addr = hs_je4_load64(n + L->node.addr),
		.size = hs_je4_load64(n + L->node.esize),
		.achunk = n[L->node.achunk] != 0,
	};
	if (e.addr != key || !e.size || e.addr + e.size < e.addr) {
		DIAG(w, HS_DIAG_WARNING, node,
		     "jemalloc: chunks_rtree key %#" PRIx64 " maps to node %#" PRIx64
		     " of %#" PRIx64 "+%#" PRIx64, key, node, e.addr, e.size);
		return;
	}
	if (e.achunk && (node != key || e.size != w->cfg.chunksize)) {
		DIAG(w, HS_DIAG_WARNING, node,
		     "jemalloc: arena chunk %#" PRIx64 " has its node at %#" PRIx64
		     " and size %#" PRIx64, key, node, e.size);
		return;
	}
	/* jemalloc's own memory, never the application's roots: an arena
	 * chunk's header (node, page map), a huge extent's node, whose
	 * en_addr would keep a leaked huge allocation reachable. */
	if (!(e.achunk ? hs_heap_add_owned(w->heap, "arena_chunk_t", node,
					   (uint64_t)w->cfg.map_bias << w->cfg.lg_page)
		       : hs_heap_add_owned(w->heap, "extent_node_t", node, L->node.size))) {
		w->nomem = true;
		return;
	}
	struct je4_arena *ar = je4_arena(w, hs_je4_load64(n + L->node.arena),
					 e.achunk ? "arena chunk" : "huge extent", node);
	e.arena = ar ? ar->ind : UINT32_MAX;
	uint64_t cs = w->cfg.chunksize;
	if (!je4_span(w, e.addr, e.achunk ? cs : (e.size + cs - 1) & ~(cs - 1)))
		return;
	if (w->nextents >= w->max_records) {
		if (w->nextents == w->max_records)
			DIAG(w, HS_DIAG_ERROR, node,
			     "jemalloc: chunks_rtree maps more than %" PRIu64 " chunks, more"
			     " than the core can hold (hostile or corrupt); the rest is not"
			     " counted", w->max_records);
		w->nextents++;
		return;
	}
	if (!hs_grow((void **)&w->extents, &w->extents_cap, w->nextents + 1,
		     sizeof(*w->extents))) {
		w->nomem = true;
		return;
	}
	w->extents[w->nextents++] = e;
}

/* Add a node to the visited set; false if it was there (a corrupt tree
 * that shares a node would be walked once per sharing slot) or on OOM. */
static bool je4_first_visit(struct je4_walk *w, uint64_t node)
{
	if (2 * (w->nnodes + 1) > w->nodes_cap) {
		size_t cap = w->nodes_cap ? 2 * w->nodes_cap : 64;
		uint64_t *set = calloc(cap, sizeof(*set));
		if (!set) {
			w->nomem = true;
			return false;
		}
		for (size_t i = 0; i < w->nodes_cap; i++) {
			uint64_t v = w->nodes[i];
			size_t h = (size_t)((v * 0xff51afd7ed558ccdull) >> 17) & (cap - 1);
			while (v && set[h])
				h = (h + 1) & (cap - 1);
			if (v)
				set[h] = v;
		}
		free(w->nodes);
		w->nodes = set;
		w->nodes_cap = cap;
	}
	size_t h = (size_t)((node * 0xff51afd7ed558ccdull) >> 17) & (w->nodes_cap - 1);
	for (; w->nodes[h]; h = (h + 1) & (w->nodes_cap - 1))
		if (w->nodes[h] == node)
			return false;
	w->nodes[h] = node;
	w->nnodes++;
	return true;
}

struct je4_level {
	unsigned bits, shift;
};

static void je4_walk_node(struct je4_walk *w, const struct je4_level *lv, unsigned height,
			  unsigned level, uint64_t node, uint64_t key)
{
	size_t n = (size_t)1 << lv[level].bits;
	if (node <= JE4_RTREE_INITIALIZING)
		return;
	if (node & 7) {
		DIAG(w, HS_DIAG_WARNING, node,
		     "jemalloc: chunks_rtree node %#" PRIx64 " (level %u) is misaligned",
		     node, level);
		return;
	}
	if (!je4_first_visit(w, node)) {
		if (!w->nomem)
			DIAG(w, HS_DIAG_WARNING, node,
			     "jemalloc: chunks_rtree node %#" PRIx64 " (level %u) is reached"
			     " twice; skipped", node, level);
		return;
	}
	/* One buffer per level: a child's walk never overwrites this node's
	 * copy while the loop still reads it. */
	const uint64_t *elm = hs_je_span(w->mem, node, n * 8, &w->buf[level], &w->cap[level]);
	if (!elm) {
		DIAG(w, HS_DIAG_WARNING, node,
		     "jemalloc: chunks_rtree node %#" PRIx64 " (level %u, keys from %#"
		     PRIx64 ") is not readable", node, level, key);
		return;
	}
	for (size_t i = 0; i < n && !w->nomem; i++) {
		if (!elm[i])
			continue;
		uint64_t k = key | ((uint64_t)i << lv[level].shift);
		if (level + 1 == height)
			je4_collect(w, k, elm[i]);
		else
			je4_walk_node(w, lv, height, level + 1, elm[i], k);
	}
}

/* Every subtree of chunks_rtree: keys with leading zero bits start below
 * the root (rtree_start_level), in subtrees of their own, so the tree is a
 * forest; walked smallest keys first. */
static void je4_walk_rtree(struct je4_walk *w)
{
	const struct hs_je4_layout *L = w->L;
	uint8_t r[JE4_MAX_STRUCT];
	if (!hs_je4_read(w->mem, w->g->rtree, r, L->rtree.size))
		return; /* checked by hs_je4_config_read */
	unsigned height = hs_je4_load32(r + L->rtree.height);
	struct je4_level lv[HS_JE4_MAX_HEIGHT];
	for (unsigned i = 0; i < height && i < HS_JE4_MAX_HEIGHT; i++) {
		const uint8_t *l = r + L->rtree.levels + (size_t)i * L->rtree.level_size;
		lv[i].bits = hs_je4_load32(l + L->rtree.level_bits);
		lv[i].shift = 64 - hs_je4_load32(l + L->rtree.level_cumbits);
	}
	for (unsigned i = height; i-- > 0 && !w->nomem;) {
		const uint8_t *l = r + L->rtree.levels + (size_t)i * L->rtree.level_size;
		je4_walk_node(w, lv, height, i, hs_je4_load64(l + L->rtree.level_subtree), 0);
	}
}

/* ---------------------------------------------------------------------
 * Chunks an arena holds outside the rtree: cached (dirty) and retained.
 * --------------------------------------------------------------------- */

static bool je4_span(struct je4_walk *w, uint64_t start, uint64_t size)
{
	if (!hs_grow((void **)&w->spans, &w->spans_cap, w->nspans + 1, sizeof(*w->spans))) {
		w->nomem = true;
		return false;
	}
	w->spans[w->nspans++] = (struct je4_span){start, start + size};
	return true;
}

struct je4_owner {
	struct je4_arena *ar;
};

static bool je4_cached_chunk(struct je4_walk *w, uint64_t node, void *arg)
{
	struct je4_arena *ar = ((struct je4_owner *)arg)->ar;
	const struct hs_je4_layout *L = w->L;
	if (node == ar->addr + L->arena.chunks_cache)
		return true; /* the ring's head lives in the arena */
	uint64_t addr, size;
	if (!je4_u64(w, node + L->node.addr, &addr) || !je4_u64(w, node + L->node.esize, &size) ||
	    !size || (addr & (w->cfg.chunksize - 1)) || (size & (w->cfg.chunksize - 1))) {
		DIAG(w, HS_DIAG_WARNING, node,
		     "jemalloc: arena %u: cached chunk node %#" PRIx64 " is not a chunk",
		     ar->ind, node);
		return false;
	}
	if (!je4_span(w, addr, size))
		return false;
	return je4_add(w, addr, size, HS_CHUNK_FREE, 0);
}

/* The retained chunks: an address-ordered red-black tree (rb.h), walked
 * with an explicit stack; a node's right link carries the color bit. */
static void je4_retained(struct je4_walk *w, struct je4_arena *ar)
{
	const struct hs_je4_layout *L = w->L;
	uint64_t tree = ar->addr + L->arena.chunks_ad_retained, root;
	uint64_t nil = L->rb_nil_embedded ? tree + 8 : 0;
	if (!je4_u64(w, tree, &root))
		return;
	uint64_t stack[JE4_TREE_DEPTH];
	unsigned depth = 0;
	if (root && root != nil)
		stack[depth++] = root;
	while (depth && !w->nomem) {
		uint64_t node = stack[--depth], addr, size, left, right;
		if (++w->tree_steps > JE4_MAX_TREE) {
			DIAG(w, HS_DIAG_WARNING, tree,
			     "jemalloc: retained chunk trees hold over %" PRIu64 " nodes in"
			     " all (cycle?); the rest is not reported", JE4_MAX_TREE);
			return;
		}
		if ((node & 7) || !je4_u64(w, node + L->node.addr, &addr) ||
		    !je4_u64(w, node + L->node.esize, &size) ||
		    !je4_u64(w, node + L->node.ad_left, &left) ||
		    !je4_u64(w, node + L->node.ad_right, &right)) {
			DIAG(w, HS_DIAG_WARNING, node,
			     "jemalloc: arena %u: retained chunk node %#" PRIx64
			     " is not readable", ar->ind, node);
			continue;
		}
		right &= ~UINT64_C(1);
		ar->retained_bytes += size;
		if (!hs_heap_add_region(w->heap, "retained", addr, size)) {
			w->nomem = true;
			return;
		}
		uint64_t kids[2] = {right, left};
		for (unsigned k = 0; k < 2; k++) {
			if (!kids[k] || kids[k] == nil)
				continue;
			if (depth == JE4_TREE_DEPTH) {
				DIAG(w, HS_DIAG_WARNING, node,
				     "jemalloc: arena %u: retained chunk tree deeper than %d"
				     " (corrupt); subtree skipped", ar->ind, JE4_TREE_DEPTH);
				continue;
			}
			stack[depth++] = kids[k];
		}
	}
}

static void je4_arena_chunks(struct je4_walk *w)
{
	const struct hs_je4_layout *L = w->L;
	for (size_t i = 0; i < w->narenas && !w->nomem; i++) {
		struct je4_owner o = {&w->arenas[i]};
		uint64_t head = w->arenas[i].addr + L->arena.chunks_cache;
		je4_ring(w, head, L->node.cc_next, "chunks_cache", w->arenas[i].addr,
			 je4_cached_chunk, &o);
		je4_retained(w, &w->arenas[i]);
	}
}

/* ---------------------------------------------------------------------
 * The large-run pad (cache-oblivious or not: a build option), chosen by
 * which one makes every large run a large class.
 * --------------------------------------------------------------------- */

static bool je4_pad_fits(struct je4_walk *w, uint64_t pad)
{
	const struct hs_je4_config *c = &w->cfg;
	unsigned npages = c->chunk_npages - c->map_bias;
	size_t n = w->nextents < w->max_records ? w->nextents : w->max_records;
	for (size_t i = 0; i < n; i++) {
		if (!w->extents[i].achunk)
			continue;
		const uint64_t *map = hs_je_span(w->mem, w->extents[i].addr +
						 w->L->chunk.map_bits, 8ull * npages,
						 &w->buf[JE4_BUF_MAP], &w->cap[JE4_BUF_MAP]);
		for (unsigned p = 0; map && p < npages;) {
			uint64_t bits = map[p], size = je4_run_size(w, bits);
			if ((bits & JE4_MAP_ALLOCATED) && !(bits & JE4_MAP_LARGE)) {
				p++; /* a small run's page */
				continue;
			}
			if (!size || size % c->page)
				break; /* the walk diagnoses it */
			if ((bits & JE4_MAP_ALLOCATED) &&
			    ((bits >> JE4_MAP_BININD_SHIFT) & 0xff) == JE4_MAP_BININD_INVALID) {
				unsigned s = hs_je4_size2index(c, size - pad);
				if (size <= pad || s < c->nbins || s >= c->nsizes ||
				    c->sz[s] != size - pad)
					return false;
			}
			p += (unsigned)(size >> c->lg_page) ? (unsigned)(size >> c->lg_page) : 1;
		}
	}
	return true;
}

/* The second pass: every chunk and extent the rtree maps, emitted. */
static void je4_visit_all(struct je4_walk *w)
{
	size_t n = w->nextents < w->max_records ? w->nextents : w->max_records;
	w->cursor = 0;
	for (size_t i = 0; i < n && !w->nomem && !w->capped; i++) {
		const struct je4_extent *e = &w->extents[i];
		struct je4_arena *ar = w->pass != JE4_EMIT || e->arena == UINT32_MAX ? NULL :
				       je4_arena_by_ind(w, e->arena);
		if (e->achunk)
			je4_visit_chunk(w, e->addr, ar);
		else
			je4_visit_huge(w, e->node, e->addr, e->size, ar);
	}
}

/* ---------------------------------------------------------------------
 * Where an in-use large allocation starts. With cache-oblivious placement
 * (the default) the user pointer is a random cacheline of its run's first
 * page (arena_malloc_large), kept nowhere in jemalloc: the application's
 * pointers to it are the evidence. Live memory is scanned once for words
 * that point into such a page: the in-use chunks, and the writable memory
 * that is not jemalloc's (static data, stacks, other heaps). The lowest
 * cacheline named is the start (a pointer into an object points at or
 * after it: an sds body, a field); with none, the run's first page stands
 * for it.
 * --------------------------------------------------------------------- */

static int je4_cmp_span(const void *a, const void *b)
{
	const struct je4_span *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void je4_resolve_words(struct je4_walk *w, const uint8_t *p, size_t len)
{
	uint64_t lo = w->unres[0].run, hi = w->unres[w->nunres - 1].run + w->cfg.page;
	for (size_t k = 0; k + 8 <= len; k += 8) {
		uint64_t v = hs_je4_load64(p + k);
		if (v - lo >= hi - lo)
			continue;
		size_t a = 0, b = w->nunres;
		while (b - a > 1) {
			size_t mid = a + (b - a) / 2;
			if (w->unres[mid].run <= v)
				a = mid;
			else
				b = mid;
		}
		struct je4_unres *u = &w->unres[a];
		uint64_t off = (v - u->run) & ~UINT64_C(63);
		if (v >= u->run && v - u->run < w->cfg.page && off < u->off)
			u->off = off;
	}
}

/* Scan [start, end) as far as the core holds it, 8-byte aligned. */
static void je4_resolve_range(struct je4_walk *w, uint64_t start, uint64_t end)
{
	start = (start + 7) & ~UINT64_C(7);
	while (start < end) {
		const struct hs_memory_range *r = hs_memory_find(w->mem, start);
		if (!r || start - r->start >= r->filesz) {
			uint64_t next;
			if (!hs_memory_next_backed(w->mem, start, &next) || next <= start)
				return;
			start = (next + 7) & ~UINT64_C(7);
			continue;
		}
		uint64_t stop = r->start + r->filesz < end ? r->start + r->filesz : end;
		const uint8_t *p = r->data + (start - r->start);
		if (((uintptr_t)p & 7) == 0)
			je4_resolve_words(w, p, stop - start);
		start = stop;
	}
}

/* The writable memory that is not jemalloc's: static data, other heaps,
 * and the threads' stacks from their stack pointer up (below it lie dead
 * frames, whose stale words would name allocations long gone). */
static void je4_resolve_other(struct je4_walk *w)
{
	qsort(w->spans, w->nspans, sizeof(*w->spans), je4_cmp_span);
	size_t s = 0;
	for (size_t i = 0; i < w->mem->count; i++) {
		const struct hs_memory_range *r = &w->mem->ranges[i];
		uint64_t at = r->start, end = r->start + r->filesz;
		if (!(r->flags & 2 /* PF_W */))
			continue;
		for (size_t t = 0; t < w->proc->nthreads; t++) {
			uint64_t sp = w->proc->threads[t].rsp - 128; /* the red zone */
			if (sp > at && sp < end)
				at = sp;
		}
		while (s < w->nspans && w->spans[s].end <= at)
			s++;
		for (size_t k = s; at < end && k < w->nspans && w->spans[k].start < end; k++) {
			if (w->spans[k].start > at)
				je4_resolve_range(w, at, w->spans[k].start);
			if (w->spans[k].end > at)
				at = w->spans[k].end;
		}
		if (at < end)
			je4_resolve_range(w, at, end);
	}
}

static int je4_cmp_unres(const void *a, const void *b)
{
	const struct je4_unres *x = a, *y = b;
	return x->run < y->run ? -1 : x->run > y->run;
}

static void je4_resolve(struct je4_walk *w)
{
	if (!w->large_pad)
		return;
	w->pass = JE4_FIND;
	je4_visit_all(w);
	if (!w->nunres || w->nomem)
		goto out;
	qsort(w->unres, w->nunres, sizeof(*w->unres), je4_cmp_unres);
	/* The heap's live objects first: what the application reaches its
	 * allocations through; only the runs they name nothing in get the
	 * evidence of the other writable memory. */
	w->pass = JE4_SCAN;
	je4_visit_all(w);
	size_t pending = 0;
	for (size_t i = 0; i < w->nunres; i++)
		pending += w->unres[i].off >= w->cfg.page;
	if (pending && !w->nomem) {
		/* The runs still without a pointer alone for the second scan,
		 * then the whole list again, in order. */
		struct je4_unres *all = malloc(w->nunres * sizeof(*all));
		if (!all) {
			w->nomem = true;
			goto out;
		}
		memcpy(all, w->unres, w->nunres * sizeof(*all));
		size_t n = w->nunres, k = 0;
		for (size_t i = 0; i < n; i++)
			if (all[i].off >= w->cfg.page)
				w->unres[k++] = all[i];
		w->nunres = k;
		je4_resolve_other(w);
		for (size_t i = 0, j = 0; i < n; i++)
			if (all[i].off >= w->cfg.page)
				all[i] = w->unres[j++];
		memcpy(w->unres, all, n * sizeof(*all));
		w->nunres = n;
		free(all);
	}
	size_t found = 0;
	for (size_t i = 0; i < w->nunres; i++)
		found += w->unres[i].off < w->cfg.page;
	hs_diags_add(&w->heap->diags, HS_DIAG_INFO, false, 0,
		     "jemalloc: %zu in-use large allocations start where the lowest pointer"
		     " into their first page says (cache-oblivious placement); %zu have no"
		     " pointer to them and are reported at their run's first page", found,
		     w->nunres - found);
out:
	w->pass = JE4_EMIT;
}

/* ---------------------------------------------------------------------
 * Statistics, and their cross-check against jemalloc's own counters.
 * --------------------------------------------------------------------- */

static bool je4_stat(struct je4_walk *w, long ind, const char *what, uint64_t v)
{
	if (hs_je_set_stat(w->heap, ind, what, v))
		return true;
	w->nomem = true;
	return false;
}

static void je4_mismatch(struct je4_walk *w, uint64_t addr, unsigned ind,
			 const char *what, uint64_t walked, uint64_t counter)
{
	w->mismatches++;
	DIAG(w, HS_DIAG_ERROR, addr,
	     "jemalloc: arena %u: %s: walk found %" PRIu64 ", jemalloc's counter"
	     " says %" PRIu64 " (corruption or layout error)", ind, what, walked,
	     counter);
}

static void je4_check(struct je4_walk *w, uint64_t addr, unsigned ind, const char *what,
		      uint64_t walked)
{
	uint64_t counter;
	if (!je4_u64(w, addr, &counter))
		DIAG(w, HS_DIAG_WARNING, addr, "jemalloc: arena %u: %s counter at %#"
		     PRIx64 " is not readable", ind, what, addr);
	else if (counter != walked)
		je4_mismatch(w, addr, ind, what, walked, counter);
}

static bool je4_count_huge(struct je4_walk *w, uint64_t node, void *arg)
{
	(void)w;
	(*(uint64_t *)arg)++;
	(void)node;
	return true;
}

static void je4_check_arena(struct je4_walk *w, struct je4_arena *ar)
{
	const struct hs_je4_layout *L = w->L;
	const struct hs_je4_config *c = &w->cfg;
	uint64_t a = ar->addr;
	char what[80];
	for (unsigned i = 0; i < c->nbins; i++) {
		uint64_t bin = a + L->arena.bins + (uint64_t)i * L->arena.bin_size;
		snprintf(what, sizeof(what), "bin %u (%" PRIu64 " B) curregs", i, c->sz[i]);
		je4_check(w, bin + L->arena.bin_curregs, ar->ind, what, ar->count[i]);
		snprintf(what, sizeof(what), "bin %u (%" PRIu64 " B) curruns", i, c->sz[i]);
		je4_check(w, bin + L->arena.bin_curruns, ar->ind, what, ar->nruns[i]);
	}
	uint64_t lstats, hstats;
	if (je4_u64(w, a + L->arena.stats_lstats, &lstats))
		for (unsigned j = 0; j < c->nlclasses; j++) {
			unsigned s = c->nbins + j;
			snprintf(what, sizeof(what), "large class %u (%" PRIu64 " B) curruns", s,
				 c->sz[s]);
			je4_check(w, lstats + (uint64_t)j * L->arena.lstats_size +
				  L->arena.lstats_curruns, ar->ind, what, ar->count[s]);
		}
	if (je4_u64(w, a + L->arena.stats_hstats, &hstats))
		for (unsigned j = 0; j < c->nhclasses; j++) {
			unsigned s = c->nbins + c->nlclasses + j;
			snprintf(what, sizeof(what), "huge class %u (%" PRIu64 " B) curhchunks",
				 s, c->sz[s]);
			je4_check(w, hstats + (uint64_t)j * L->arena.hstats_size +
				  L->arena.hstats_curhchunks, ar->ind, what, ar->count[s]);
		}
	je4_check(w, a + L->arena.stats_allocated_large, ar->ind, "allocated_large",
		  ar->large_bytes);
	je4_check(w, a + L->arena.stats_allocated_huge, ar->ind, "allocated_huge",
		  ar->huge_bytes);
	je4_check(w, a + L->arena.stats_mapped, ar->ind, "mapped", ar->mapped_bytes);
	if (L->arena.stats_retained)
		je4_check(w, a + L->arena.stats_retained, ar->ind, "retained",
			  ar->retained_bytes);
	uint64_t nactive;
	if (je4_u64(w, a + L->arena.nactive, &nactive) &&
	    nactive << c->lg_page != ar->active_bytes)
		je4_mismatch(w, a + L->arena.nactive, ar->ind, "active bytes (nactive)",
			     ar->active_bytes, nactive << c->lg_page);
	/* The arena's list of huge extents must hold those the rtree has. */
	uint64_t first, listed = 0;
	if (je4_u64(w, a + L->arena.huge, &first))
		je4_ring(w, first, L->node.ql_next, "huge list", a, je4_count_huge, &listed);
	if (listed != ar->nhuge)
		DIAG(w, HS_DIAG_WARNING, a + L->arena.huge,
		     "jemalloc: arena %u: its huge list holds %" PRIu64 " extents, the"
		     " rtree %" PRIu64, ar->ind, listed, ar->nhuge);
}

static void je4_finish(struct je4_walk *w)
{
	uint64_t allocated = 0, active = 0;
	for (size_t i = 0; i < w->narenas && !w->nomem; i++) {
		struct je4_arena *ar = &w->arenas[i];
		allocated += ar->small_bytes + ar->large_bytes + ar->huge_bytes;
		active += ar->active_bytes;
		if (!je4_stat(w, ar->ind, "small.allocated", ar->small_bytes) ||
		    !je4_stat(w, ar->ind, "large.allocated", ar->large_bytes) ||
		    !je4_stat(w, ar->ind, "huge.allocated", ar->huge_bytes) ||
		    !je4_stat(w, ar->ind, "mapped", ar->mapped_bytes) ||
		    !je4_stat(w, ar->ind, "pactive", ar->active_bytes >> w->cfg.lg_page))
			return;
		if (w->L->arena.stats_retained &&
		    !je4_stat(w, ar->ind, "retained", ar->retained_bytes))
			return;
		if (!w->capped)
			je4_check_arena(w, ar);
	}
	if (!je4_stat(w, -1, "allocated", allocated) || !je4_stat(w, -1, "active", active))
		return;
	w->heap->narenas = (unsigned)w->narenas;
	size_t unmatched = 0;
	for (size_t i = 0; i < w->nitems; i++) {
		if (w->items[i].matched)
			continue;
		if (unmatched++ < 16)
			DIAG(w, HS_DIAG_WARNING, w->items[i].addr,
			     "jemalloc: tcache item %#" PRIx64 " (bin %u) is not an allocated"
			     " region or large run", w->items[i].addr, w->items[i].bin);
	}
	if (unmatched > 16)
		DIAG(w, HS_DIAG_WARNING, 0, "jemalloc: %zu tcache items in all are not"
		     " allocated regions or large runs", unmatched);
}

struct hs_error *hs_jemalloc4_walk_at(struct hs_process *proc,
				      const struct hs_je4_layout *L,
				      const struct hs_je4_globals *g,
				      struct hs_heap *heap, unsigned *mismatches)
{
	struct je4_walk w = {
		.proc = proc,
		.mem = &proc->mem,
		.L = L,
		.g = g,
		.heap = heap,
		.max_records = JE4_RECORDS_SLACK,
	};
	for (size_t i = 0; i < proc->mem.count; i++)
		w.max_records += proc->mem.ranges[i].filesz / 8;
	struct hs_error *err = hs_je4_config_read(proc, L, g, &w.cfg);
	if (err)
		return err;
	w.arena_slot = calloc(JE4_MAX_ARENAS, sizeof(*w.arena_slot));
	if (!w.arena_slot)
		return HS_ENOMEM;
	je4_ncached_max(&w);
	/* The arenas first (arenas[], then those the rtree's nodes name), so
	 * that every arena's tcache_ql is known before anything is counted;
	 * then the large-run pad (cache-oblivious or not, a build option),
	 * from what makes every large run a large class. */
	je4_load_arenas(&w);
	if (!w.nomem)
		je4_walk_rtree(&w);
	if (!w.nomem)
		je4_tcaches(&w);
	w.large_pad = w.cfg.page;
	if (!w.nomem && !je4_pad_fits(&w, w.cfg.page) && je4_pad_fits(&w, 0))
		w.large_pad = 0;
	/* The cached and retained chunks first: their memory is jemalloc's,
	 * which the search for large runs' starts must know (je4_resolve). */
	if (!w.nomem)
		je4_arena_chunks(&w);
	if (!w.nomem)
		je4_resolve(&w);
	if (!w.nomem)
		je4_visit_all(&w);
	if (!w.nomem)
		je4_finish(&w);
	if (w.nomem)
		err = HS_ENOMEM;
	else if (mismatches)
		*mismatches = w.mismatches;
	free(w.arenas);
	free(w.arena_slot);
	free(w.tcaches);
	free(w.items);
	free(w.extents);
	free(w.unres);
	free(w.spans);
	free(w.nodes);
	for (unsigned k = 0; k < JE4_NBUF; k++)
		free(w.buf[k]);
	return err;
}
