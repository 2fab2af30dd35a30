/* roots.c: the roots of the reference graph: stacks, TLS, modules' writable segments and other memory, by kind. */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* The red zone below a thread's stack pointer (x86-64 SysV ABI 3.2.2):
 * a leaf function may keep live values there. */
#define HS_RED_ZONE 128
/* Bytes above the thread pointer kept as TLS: glibc's struct pthread (the
 * TCB, with the DTV pointer for dynamic TLS) is about 2.3 KiB. */
#define HS_TCB_BYTES 4096

enum { HS_CLAIM_EXCLUDE = 0xff };

/* A claim on memory: the highest-priority claim decides a byte's kind. */
struct hs_claim {
	uint64_t lo, hi;
	int prio;
	uint8_t kind; /* enum hs_root_kind, or HS_CLAIM_EXCLUDE */
	int32_t thread;
};

struct hs_claims {
	struct hs_claim *c;
	size_t n, cap;
};

static bool claim(struct hs_claims *cs, uint64_t lo, uint64_t hi, int prio, uint8_t kind,
		  int32_t thread)
{
	if (hi <= lo)
		return true;
	if (!hs_grow((void **)&cs->c, &cs->cap, cs->n + 1, sizeof(*cs->c)))
		return false;
	cs->c[cs->n++] = (struct hs_claim){lo, hi, prio, kind, thread};
	return true;
}

static bool claim_load(uint64_t addr, uint64_t memsz, uint32_t flags, void *arg)
{
	if ((flags & PF_W) && addr + memsz > addr)
		return claim(arg, addr, addr + memsz, 2, HS_ROOT_MODULES, -1);
	return true;
}

const char *hs_reg_name(size_t i)
{
	static const char *const names[] = {
		"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
		"rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
		"rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
	};
	return i < HS_ARRAY_SIZE(names) ? names[i] : "?";
}

/* Exclusions: the allocator's chunks and its declared regions, merged. */
struct hs_spans {
	uint64_t (*s)[2];
	size_t n, cap;
};

static int span_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static bool exclusions(const struct hs_refgraph *g, struct hs_spans *ex)
{
	uint64_t lo, hi, at = 0;
	while (hs_heap_next_extent(g->heap, at, &lo, &hi)) {
		if (!hs_grow((void **)&ex->s, &ex->cap, ex->n + 1, sizeof(*ex->s)))
			return false;
		ex->s[ex->n][0] = lo;
		ex->s[ex->n++][1] = hi;
		at = hi;
	}
	for (size_t i = 0; i < g->heap->nregions + g->heap->nowned; i++) {
		const struct hs_region *r = i < g->heap->nregions
			? &g->heap->regions[i] : &g->heap->owned[i - g->heap->nregions];
		if (!r->size || r->start + r->size < r->start)
			continue;
		if (!hs_grow((void **)&ex->s, &ex->cap, ex->n + 1, sizeof(*ex->s)))
			return false;
		ex->s[ex->n][0] = r->start;
		ex->s[ex->n++][1] = r->start + r->size;
	}
	if (ex->n)
		qsort(ex->s, ex->n, sizeof(*ex->s), span_cmp);
	size_t k = 0;
	for (size_t i = 0; i < ex->n; i++) {
		if (k && ex->s[i][0] <= ex->s[k - 1][1]) {
			if (ex->s[i][1] > ex->s[k - 1][1])
				ex->s[k - 1][1] = ex->s[i][1];
		} else {
			ex->s[k][0] = ex->s[i][0];
			ex->s[k++][1] = ex->s[i][1];
		}
	}
	ex->n = k;
	return true;
}

static bool add_root(struct hs_refgraph *g, uint64_t lo, uint64_t hi, uint8_t kind,
		     int32_t thread)
{
	if (hi <= lo)
		return true;
	if (g->nroots) {
		struct hs_root_range *p = &g->roots[g->nroots - 1];
		if (p->hi == lo && p->kind == kind && p->thread == thread) {
			p->hi = hi;
			return true;
		}
	}
	if (!hs_grow((void **)&g->roots, &g->roots_cap, g->nroots + 1, sizeof(*g->roots)))
		return false;
	g->roots[g->nroots++] = (struct hs_root_range){lo, hi, kind, thread};
	return true;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* [a, b) is root memory: split it by the claims on it. */
static bool assign(struct hs_refgraph *g, const struct hs_claims *cs, uint64_t a, uint64_t b)
{
	uint64_t cuts[64];
	size_t ncuts = 0;
	cuts[ncuts++] = a;
	cuts[ncuts++] = b;
	for (size_t i = 0; i < cs->n && ncuts + 2 <= HS_ARRAY_SIZE(cuts); i++) {
		const struct hs_claim *c = &cs->c[i];
		if (c->hi <= a || c->lo >= b)
			continue;
		if (c->lo > a)
			cuts[ncuts++] = c->lo;
		if (c->hi < b)
			cuts[ncuts++] = c->hi;
	}
	qsort(cuts, ncuts, sizeof(*cuts), u64_cmp);
	for (size_t i = 0; i + 1 < ncuts; i++) {
		uint64_t x = cuts[i], y = cuts[i + 1];
		if (x == y)
			continue;
		const struct hs_claim *best = NULL;
		for (size_t j = 0; j < cs->n; j++)
			if (cs->c[j].lo <= x && cs->c[j].hi > x && (!best || cs->c[j].prio > best->prio))
				best = &cs->c[j];
		if (best && best->kind == HS_CLAIM_EXCLUDE)
			continue;
		if (!add_root(g, x, y, best ? best->kind : HS_ROOT_OTHER, best ? best->thread : -1))
			return false;
	}
	return true;
}

struct hs_error *hs_roots_build(struct hs_refgraph *g)
{
	struct hs_process *proc = g->proc;
	const struct hs_memory *mem = &proc->mem;
	struct hs_claims cs = {0};
	struct hs_spans ex = {0};
	bool ok = true;

	/*
	 * Static TLS: the modules' blocks, packed below the thread pointer in
	 * load order (glibc's TLS_TCB_AT_TP layout). The surplus glibc keeps
	 * below them for dlopen'ed initial-exec TLS is left to the stack (a
	 * thread's frames start right under it): still scanned, as a stack.
	 */
	uint64_t tls = 0;
	for (size_t m = 0; m < proc->nmodules; m++) {
		uint64_t sz, al;
		if (hs_module_tls(&proc->modules[m], &sz, &al) && sz < (UINT64_C(1) << 30) &&
		    al <= 4096 && !(al & (al - 1)))
			tls = (tls + sz + al - 1) & ~(al - 1);
	}
	tls = (tls + 63) & ~UINT64_C(63);
	for (size_t t = 0; ok && t < proc->nthreads; t++) {
		const struct hs_thread *th = &proc->threads[t];
		const struct hs_memory_range *r = hs_memory_find(mem, th->rsp);
		if (r) {
			uint64_t end = r->start + r->memsz;
			uint64_t sp = th->rsp - r->start > HS_RED_ZONE ? th->rsp - HS_RED_ZONE
								       : r->start;
			/* Below the stack pointer: dead frames, no root. */
			ok = claim(&cs, r->start, sp, 3, HS_CLAIM_EXCLUDE, -1) &&
			     claim(&cs, sp, end, 4, HS_ROOT_STACKS, (int32_t)t);
		}
		r = th->fs_base ? hs_memory_find(mem, th->fs_base) : NULL;
		if (ok && r) {
			uint64_t lo = th->fs_base - r->start > tls ? th->fs_base - tls : r->start;
			uint64_t end = r->start + r->memsz;
			uint64_t hi = end - th->fs_base > HS_TCB_BYTES ? th->fs_base + HS_TCB_BYTES : end;
			ok = claim(&cs, lo, hi, 5, HS_ROOT_TLS, (int32_t)t);
		}
	}
	for (size_t m = 0; ok && m < proc->nmodules; m++) {
		struct hs_module *mod = &proc->modules[m];
		hs_module_for_each_load(mod, claim_load, &cs);
		/* Without its file, what the core maps writable inside it. */
		for (size_t i = 0; ok && i < mem->count; i++) {
			const struct hs_memory_range *r = &mem->ranges[i];
			if ((r->flags & PF_W) && r->start >= mod->start && r->start < mod->end)
				ok = claim(&cs, r->start, r->start + r->memsz, 2, HS_ROOT_MODULES, -1);
		}
	}
	ok = ok && exclusions(g, &ex);

	/* Writable memory the core holds, less the allocator's, by claim. */
	size_t e = 0;
	for (size_t i = 0; ok && i < mem->count; i++) {
		const struct hs_memory_range *r = &mem->ranges[i];
		if (!(r->flags & PF_W) || !r->filesz)
			continue;
		uint64_t a = r->start, b = r->start + r->filesz;
		if (b < a)
			b = UINT64_MAX;
		while (e < ex.n && ex.s[e][1] <= a)
			e++;
		for (size_t k = e; ok && a < b; k++) {
			if (k >= ex.n || ex.s[k][0] >= b) {
				ok = assign(g, &cs, a, b);
				break;
			}
			if (ex.s[k][0] > a)
				ok = assign(g, &cs, a, ex.s[k][0]);
			if (ex.s[k][1] > a)
				a = ex.s[k][1];
		}
	}
	free(cs.c);
	free(ex.s);
	return ok ? NULL : HS_ENOMEM;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

void hs_root_describe(const struct hs_refgraph *g, const struct hs_root_range *r, uint64_t addr,
		      char *buf, size_t len)
{
	const struct hs_thread *th = r->thread >= 0 ? &g->proc->threads[r->thread] : NULL;
	struct hs_module *mod;
	struct hs_symbol sym;
	switch (r->kind) {
	case HS_ROOT_STACKS:
		snprintf(buf, len, "thread %d (tid %d) stack at 0x%" PRIx64 " (sp+0x%" PRIx64 ")",
			 r->thread + 1, th->tid, addr, addr - th->rsp);
		return;
	case HS_ROOT_TLS:
		snprintf(buf, len, "thread %d (tid %d) TLS at 0x%" PRIx64 " (fs_base%s0x%" PRIx64 ")",
			 r->thread + 1, th->tid, addr, addr >= th->fs_base ? "+" : "-",
			 addr >= th->fs_base ? addr - th->fs_base : th->fs_base - addr);
		return;
	case HS_ROOT_MODULES:
		mod = hs_process_module_at(g->proc, addr);
		if (mod && hs_module_symbol_at(mod, addr, &sym))
			snprintf(buf, len, "%s+0x%" PRIx64 " in %s", sym.name, addr - sym.addr,
				 base_name(mod->name));
		else if (mod)
			snprintf(buf, len, "0x%" PRIx64 " in %s's data", addr, base_name(mod->name));
		else
			snprintf(buf, len, "0x%" PRIx64 " in a module's .bss", addr);
		return;
	default:
		snprintf(buf, len, "anonymous memory at 0x%" PRIx64, addr);
		return;
	}
}
