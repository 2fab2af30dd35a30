/* memmap_go.c: the memory map's Go recogniser: the heap's arenas, what the runtime holds. */
#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "memmap.h"

/*
 * linux/amd64 since Go 1.11 (runtime/malloc.go): the heap is made of
 * 64 MiB arenas; mheap_.arenas is [1]*[1 << 22]*heapArena (arenaL1Bits 0,
 * arenaL2Bits = heapAddrBits 48 - logHeapArenaBytes 26), and the arena of
 * L2 index i starts at i * 64 MiB + arenaBaseOffset (0xffff800000000000
 * since Go 1.15; 1.13-1.14 added 1 << 47 instead, which is the same
 * modulo 2^64). The L2 array is one sysAlloc of 32 MiB; a non-nil entry
 * points at that arena's heapArena metadata.
 */
#define GO_ARENA_BYTES (UINT64_C(1) << 26)
#define GO_L2_ENTRIES (UINT64_C(1) << 22)
#define GO_L2_BYTES (GO_L2_ENTRIES * 8)
#define GO_ARENA_BASE_OFFSET UINT64_C(0xffff800000000000)
/* Bounds on the reading: runtime globals scanned, bytes of runtime memory
 * scanned for further references, rounds of following them. */
#define GO_MAX_GLOBALS_BYTES (UINT64_C(64) << 20)
#define GO_MAX_SCAN_BYTES (UINT64_C(1) << 30)
#define GO_MAX_ROUNDS 8
/* Candidates for the L2 arena map examined per runtime (each is a read of
 * 32 MiB): mheap_ holds a handful of page-aligned pointers to writable
 * memory, a hostile core could hold millions. */
#define GO_MAX_L2_CANDIDATES 16

/* The modules that hold a Go runtime (executables, c-shared libraries). */
static bool go_mheap(struct hs_module *mod, struct hs_symbol *ret)
{
	return hs_module_symbol(mod, "runtime.mheap_", ret) && ret->size >= 8 &&
	       ret->size <= GO_MAX_GLOBALS_BYTES;
}

/* The L2 arena map at addr, if it is one: 32 MiB the core holds, every
 * non-nil entry pointing at mapped memory and naming a mapped arena. Calls
 * fn on each arena; returns the number of arenas (0: not the map). */
static uint64_t go_l2_arenas(struct mm_ctx *c, uint64_t l2,
			     bool (*fn)(struct mm_ctx *c, uint64_t arena), bool *ok)
{
	const struct hs_memory *mem = &c->proc->mem;
	uint64_t n = 0;
	for (uint64_t off = 0; off < GO_L2_BYTES; off += 4096) {
		const uint64_t *page = hs_memory_ptr(mem, l2 + off, 4096);
		if (!page)
			return 0;
		for (unsigned k = 0; k < 512; k++) {
			uint64_t e;
			memcpy(&e, &page[k], sizeof(e));
			if (!e)
				continue;
			uint64_t i = off / 8 + k;
			uint64_t arena = i * GO_ARENA_BYTES + GO_ARENA_BASE_OFFSET;
			if (!hs_memory_find(mem, e) || !hs_memory_find(mem, arena))
				return 0;
			if (fn && !fn(c, arena)) {
				*ok = false;
				return 0;
			}
			n++;
		}
	}
	return n;
}

static bool go_claim_arena(struct mm_ctx *c, uint64_t arena)
{
	return hs_mm_claim(c, arena, arena + GO_ARENA_BYTES, MM_GO_HEAP);
}

/*
 * Find mheap_.arenas[0] among the words of mheap_ without knowing its
 * offset (it moves between Go releases): a page-aligned pointer to a 32 MiB
 * L2 map that passes go_l2_arenas. Then claim each arena.
 */
bool hs_mm_go_heap(struct mm_ctx *c)
{
	struct hs_process *proc = c->proc;
	for (size_t m = 0; m < proc->nmodules; m++) {
		struct hs_symbol mh;
		if (!go_mheap(&proc->modules[m], &mh))
			continue;
		unsigned tried = 0;
		for (uint64_t off = 0; off + 8 <= mh.size && tried < GO_MAX_L2_CANDIDATES;
		     off += 8) {
			uint64_t w;
			if (!hs_memory_u64(&proc->mem, mh.addr + off, &w) || !w ||
			    (w & 4095) || w + GO_L2_BYTES < w)
				continue;
			size_t pi = hs_mm_piece_at(c, w);
			if (pi == SIZE_MAX || !hs_mm_anonymous(c, &c->pieces[pi]) ||
			    !hs_mm_writable(c, &c->pieces[pi]))
				continue;
			bool ok = true;
			tried++;
			if (!go_l2_arenas(c, w, NULL, &ok))
				continue;
			go_l2_arenas(c, w, go_claim_arena, &ok);
			return ok;
		}
	}
	return true;
}

/* A run: unclaimed anonymous pieces (their unclaimed segments) that touch. */
struct go_run {
	uint64_t start, end;
	size_t seg0, seg1; /* segments [seg0, seg1) */
	bool marked;
};

struct go_ctx {
	struct mm_ctx *c;
	struct go_run *runs;
	size_t nruns;
	size_t *queue; /* runs marked and not yet scanned */
	size_t nqueue;
	uint64_t scanned;
};

static bool go_candidate(const struct mm_ctx *c, const struct mm_seg *s)
{
	return s->level == MM_NONE && hs_mm_anonymous(c, &c->pieces[s->piece]);
}

static bool go_build_runs(struct go_ctx *g)
{
	struct mm_ctx *c = g->c;
	size_t cap = 0;
	for (size_t i = 0; i < c->nsegs; i++) {
		const struct mm_seg *s = &c->segs[i];
		if (!go_candidate(c, s))
			continue;
		struct go_run *last = g->nruns ? &g->runs[g->nruns - 1] : NULL;
		if (last && last->end == s->start && last->seg1 == i) {
			last->end = s->end;
			last->seg1 = i + 1;
			continue;
		}
		if (g->nruns == cap &&
		    !hs_grow((void **)&g->runs, &cap, g->nruns + 1, sizeof(*g->runs)))
			return false;
		g->runs[g->nruns++] = (struct go_run){ s->start, s->end, i, i + 1, false };
	}
	g->queue = malloc((g->nruns ? g->nruns : 1) * sizeof(*g->queue));
	return g->queue != NULL;
}

static void go_mark(struct go_ctx *g, uint64_t v)
{
	size_t lo = 0, hi = g->nruns;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->runs[mid].start <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return;
	struct go_run *r = &g->runs[lo - 1];
	if (v >= r->end || r->marked)
		return;
	r->marked = true;
	g->queue[g->nqueue++] = (size_t)(r - g->runs);
}

/* Every aligned word of [addr, addr+len) the core holds, as a reference. */
static void go_scan(struct go_ctx *g, uint64_t addr, uint64_t len)
{
	const struct hs_memory *mem = &g->c->proc->mem;
	uint64_t end = addr + len < addr ? UINT64_MAX : addr + len;
	addr = (addr + 7) & ~UINT64_C(7);
	while (addr < end && end - addr >= 8 && g->scanned < GO_MAX_SCAN_BYTES) {
		const struct hs_memory_range *r = hs_memory_find(mem, addr);
		if (!r || addr - r->start >= r->filesz) {
			uint64_t next;
			if (!hs_memory_next_backed(mem, addr, &next) || next <= addr)
				return;
			addr = (next + 7) & ~UINT64_C(7);
			continue;
		}
		uint64_t stop = r->start + r->filesz < end ? r->start + r->filesz : end;
		uint64_t n = (stop - addr) / 8;
		const uint8_t *p = r->data + (addr - r->start);
		for (uint64_t k = 0; k < n; k++) {
			uint64_t v;
			memcpy(&v, p + 8 * k, sizeof(v));
			if (v >= 4096)
				go_mark(g, v);
		}
		g->scanned += 8 * n;
		/* A word split across two ranges is no pointer worth following. */
		addr = (stop + 7) & ~UINT64_C(7);
	}
}

struct go_globals {
	struct go_ctx *g;
	uint64_t bytes;
};

static bool go_scan_symbol(const struct hs_symbol *sym, void *arg)
{
	struct go_globals *gl = arg;
	if (sym->type != STT_OBJECT || !sym->size || strncmp(sym->name, "runtime.", 8) != 0)
		return true;
	if (sym->size > GO_MAX_GLOBALS_BYTES - gl->bytes)
		return false;
	gl->bytes += sym->size;
	go_scan(gl->g, sym->addr, sym->size);
	return true;
}

/*
 * Everything the runtime maps outside its heap arenas it keeps a pointer
 * to: page summaries and the scavenger index (mheap_.pages), the arena map
 * (mheap_.arenas), persistentalloc chunks (runtime.persistentChunks), and
 * through them heapArena metadata and older chunks. So: a run of unclaimed
 * anonymous pieces is the runtime's if a runtime.* global points into it,
 * or the writable memory of a run already found does, a few rounds deep.
 * The Go heap is never scanned (it holds the program's pointers, cgo's
 * included), nor is C memory. Runs are whole touching mappings because a
 * reservation the runtime has partly mapped is several of them.
 */
bool hs_mm_go_runtime(struct mm_ctx *c)
{
	struct hs_process *proc = c->proc;
	struct hs_module *go = NULL;
	struct hs_symbol mh;
	for (size_t m = 0; m < proc->nmodules && !go; m++)
		if (go_mheap(&proc->modules[m], &mh))
			go = &proc->modules[m];
	if (!go)
		return true;
	struct go_ctx g = { .c = c };
	bool ok = go_build_runs(&g);
	if (ok && g.nruns) {
		struct go_globals gl = { .g = &g };
		hs_module_for_each_symbol(go, go_scan_symbol, &gl);
		size_t done = 0;
		for (int round = 0; round < GO_MAX_ROUNDS && done < g.nqueue; round++) {
			size_t upto = g.nqueue;
			for (; done < upto; done++) {
				const struct go_run *r = &g.runs[g.queue[done]];
				for (size_t i = r->seg0; i < r->seg1; i++) {
					const struct mm_seg *s = &c->segs[i];
					if (hs_mm_writable(c, &c->pieces[s->piece]))
						go_scan(&g, s->start, s->end - s->start);
				}
			}
		}
		for (size_t k = 0; k < g.nruns; k++) {
			if (!g.runs[k].marked)
				continue;
			for (size_t i = g.runs[k].seg0; i < g.runs[k].seg1; i++)
				c->segs[i].level = MM_GO_RUNTIME;
		}
	}
	free(g.runs);
	free(g.queue);
	return ok;
}
