/* glibc.c: the glibc walker: find libc's layout row, main_arena, mp_ and tcaches, then walk. */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glibc.h"
#include "layout_infer.h"
#include "walkers.h"

#define GL_MAX_ANCHOR_INSNS 1024 /* instructions scanned per anchor function */
#define GL_MAX_RING 4096         /* arena ring bound while validating a candidate */

/* "libc-2.31.so": a "libc-" MAJOR "." MINOR ".so" file name. */
static bool gl_versioned_name(const char *path)
{
	const char *b = strrchr(path, '/');
	unsigned major, minor;
	b = b ? b + 1 : path;
	size_t len = strlen(b);
	if (len < 11 || strncmp(b, "libc-", 5) || strcmp(b + len - 3, ".so"))
		return false;
	for (const char *p = b + 5; p < b + len - 3; p++)
		if ((*p < '0' || *p > '9') && *p != '.')
			return false;
	return hs_glibc_parse_version(b + 5, len - 8, &major, &minor);
}

/*
 * Up to 2.33, glibc installed libc as libc-2.NN.so with libc.so.6 a
 * symlink to it; 2.34 installs it under its soname (NEWS of 2.34:
 * "Previously, glibc installed its various shared objects under versioned
 * file names such as libc-2.33.so"). The core names the file the kernel
 * mapped, so either name may be there.
 */
static struct hs_module *gl_libc(struct hs_process *proc)
{
	struct hs_module *m = hs_process_find_module(proc, "libc.so.6", false);
	for (size_t i = 0; !m && i < proc->nmodules; i++)
		if (gl_versioned_name(proc->modules[i].name))
			m = &proc->modules[i];
	return m;
}

static bool glibc_detect(struct hs_process *proc)
{
	return gl_libc(proc) != NULL;
}

/* ------------------------------------------------------------------------
 * Version: the string gnu_get_libc_version() returns. Its body is
 * `lea __libc_version(%rip),%rax; ret` (csu/version.c:24,61-65), which is
 * stable across builds and distributions, unlike build-ids; the string is
 * in .rodata, in the file even when the core lacks it.
 * ------------------------------------------------------------------------ */

static bool gl_version(struct hs_process *proc, struct hs_module *mod,
		       unsigned *major, unsigned *minor, char *buf, size_t buflen)
{
	struct hs_insn *in = NULL;
	size_t n = 0;
	uint64_t addr = 0;
	struct hs_error *err = hs_disasm_function(mod, "gnu_get_libc_version", 8,
						  &in, &n);
	if (err) {
		hs_error_destroy(err);
		return false;
	}
	for (size_t i = 0; i < n && !addr; i++)
		if (in[i].mem_rip && strcmp(in[i].mnemonic, "lea") == 0)
			addr = in[i].mem_target;
	free(in);
	if (!addr)
		return false;
	/* The string may sit at the very end of a segment: try shorter reads. */
	for (size_t len = buflen - 1; len >= 4; len--) {
		const char *s = hs_process_ptr_or_file(proc, addr, len);
		if (!s)
			continue;
		size_t sl = strnlen(s, len);
		memcpy(buf, s, sl);
		buf[sl] = '\0';
		return hs_glibc_parse_version(buf, sl, major, minor);
	}
	return false;
}

/* ------------------------------------------------------------------------
 * Structural validation of a candidate main_arena / mp_.
 * ------------------------------------------------------------------------ */

static uint64_t gl_heap_max(struct hs_process *proc,
			    const struct hs_glibc_layout *L, uint64_t mp)
{
	uint64_t hp = 0;
	if (mp && L->heap_max_from_hugetlb && L->mp.hp_pagesize != HS_GLIBC_ABSENT &&
	    hs_memory_u64(&proc->mem, mp + L->mp.hp_pagesize, &hp) && hp &&
	    (hp & (hp - 1)) == 0 && hp >= 4096 && hp * 4 > hp)
		return hp * 4;
	return L->heap_max_size;
}

/*
 * A plausible main_arena: readable; its `next` ring comes back to it within
 * a bound, through arenas that each sit after a heap_info pointing back at
 * them; its top chunk is either the initial one or a readable chunk no
 * bigger than system_mem.
 */
static bool gl_arena_plausible(struct hs_process *proc,
			       const struct hs_glibc_layout *L, uint64_t a,
			       uint64_t heap_max, const char **why)
{
	const struct hs_memory *mem = &proc->mem;
	uint64_t next, top, sz, sysmem;
	if (!a || (a & 7) || !hs_memory_readable(mem, a, L->ms.size)) {
		*why = "not in the core";
		return false;
	}
	hs_memory_u64(mem, a + L->ms.top, &top);
	hs_memory_u64(mem, a + L->ms.system_mem, &sysmem);
	if (top && top != a + L->ms.bins - L->hdr_size) {
		/* Mapped but not dumped (a core cut short, often in the main
		 * heap) still lets the rest of the heap be walked. */
		bool cut = !hs_memory_readable(mem, top + 8, 8) &&
			   hs_memory_find(mem, top + 8);
		if ((top & (L->malloc_alignment - 1)) ||
		    (!cut && !hs_memory_u64(mem, top + 8, &sz))) {
			*why = "top chunk not in the core";
			return false;
		}
		sz = cut ? 0 : sz & ~(uint64_t)HS_GLIBC_SIZE_BITS;
		if (sz > sysmem || sysmem >> 47) {
			*why = "top chunk bigger than system_mem";
			return false;
		}
	}
	uint64_t x = a;
	for (unsigned i = 0; i < GL_MAX_RING; i++) {
		if (!hs_memory_u64(mem, x + L->ms.next, &next)) {
			*why = "arena ring unreadable";
			return false;
		}
		if (next == a)
			return true;
		uint64_t h = next & ~(heap_max - 1), ar;
		if (next != h + L->hi.size ||
		    !hs_memory_u64(mem, h + L->hi.ar_ptr, &ar) || ar != next) {
			*why = "arena ring leads to something that is not an arena";
			return false;
		}
		x = next;
	}
	*why = "arena ring does not come back";
	return false;
}

static bool gl_mp_plausible(struct hs_process *proc,
			    const struct hs_glibc_layout *L, uint64_t mp,
			    uint64_t main_arena, const char **why)
{
	const struct hs_memory *mem = &proc->mem;
	uint64_t v, top = 0, sbrk = 0;
	uint32_t n;
	if (!mp || (mp & 7) || !hs_memory_readable(mem, mp, L->mp.size)) {
		*why = "not in the core";
		return false;
	}
	if (L->mp.tcache_bins != HS_GLIBC_ABSENT &&
	    (!hs_memory_u64(mem, mp + L->mp.tcache_bins, &v) || v > L->tc.nbins)) {
		*why = "tcache_bins out of range";
		return false;
	}
	if (!hs_memory_u32(mem, mp + L->mp.n_mmaps, &n) || (int32_t)n < 0) {
		*why = "n_mmaps negative";
		return false;
	}
	/* The main heap starts at sbrk_base, below top when it is contiguous. */
	hs_memory_u64(mem, mp + L->mp.sbrk_base, &sbrk);
	hs_memory_u64(mem, main_arena + L->ms.top, &top);
	uint32_t flags = 0;
	hs_memory_u32(mem, main_arena + L->ms.flags, &flags);
	if (sbrk && top && top != main_arena + L->ms.bins - L->hdr_size &&
	    !(flags & L->noncontiguous_bit) && sbrk > top) {
		*why = "sbrk_base above the main arena's top";
		return false;
	}
	return true;
}

/* The end of the last malloc_par field the walk reads. */
static uint64_t gl_mp_extent(const struct hs_glibc_layout *L)
{
	const uint32_t u64s[] = {
		L->mp.mmap_threshold, L->mp.hp_pagesize, L->mp.mmapped_mem,
		L->mp.sbrk_base, L->mp.tcache_bins, L->mp.tcache_count,
	};
	uint64_t end = (uint64_t)L->mp.n_mmaps + 4;
	for (size_t i = 0; i < HS_ARRAY_SIZE(u64s); i++)
		if (u64s[i] != HS_GLIBC_ABSENT && (uint64_t)u64s[i] + 8 > end)
			end = (uint64_t)u64s[i] + 8;
	return end;
}

/* ------------------------------------------------------------------------
 * Locating main_arena and mp_.
 * ------------------------------------------------------------------------ */

struct gl_votes {
	uint64_t addr[HS_GLIBC_MAX_ANCHORS];
	const char *func[HS_GLIBC_MAX_ANCHORS];
	size_t n;
};

/* The address an anchor names, or 0. */
static uint64_t gl_anchor(struct hs_module *mod, const struct hs_glibc_anchor *an)
{
	struct hs_insn *in = NULL;
	size_t n = 0;
	uint64_t target = 0;
	struct hs_error *err = hs_disasm_function(mod, an->func, GL_MAX_ANCHOR_INSNS,
						  &in, &n);
	if (err) {
		hs_error_destroy(err);
		return 0;
	}
	/* Anchors load or compare the global into a register; requiring the
	 * register skips `cmpb $0, __malloc_initialized(%rip)` and the like. */
	for (size_t i = 0; i < n; i++) {
		if (in[i].mem_rip && in[i].dst_reg &&
		    strcmp(in[i].mnemonic, an->mnemonic) == 0) {
			target = in[i].mem_target - an->field;
			break;
		}
	}
	free(in);
	return target;
}

/* The candidate most anchors agree on among the plausible ones; reports
 * anchors that disagree. */
static uint64_t gl_elect(const struct gl_votes *v, bool *plausible,
			 const char *what, struct hs_diags *diags)
{
	uint64_t best = 0;
	size_t best_n = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (!plausible[i])
			continue;
		size_t k = 0;
		for (size_t j = 0; j < v->n; j++)
			k += plausible[j] && v->addr[j] == v->addr[i];
		if (k > best_n) {
			best_n = k;
			best = v->addr[i];
		}
	}
	for (size_t i = 0; best && i < v->n; i++)
		if (v->addr[i] != best)
			hs_diags_add(diags, HS_DIAG_INFO, true, v->addr[i],
				     "%s: anchor in %s points at 0x%" PRIx64
				     ", the majority at 0x%" PRIx64, what, v->func[i],
				     v->addr[i], best);
	return best;
}

struct gl_location {
	uint64_t main_arena, mp;
	enum hs_located_by by;
};

static void gl_disasm_locate(struct hs_process *proc, struct hs_module *mod,
			     const struct hs_glibc_layout *L, struct hs_diags *diags,
			     uint64_t *arena_ret, uint64_t *mp_ret)
{
	struct gl_votes va = { .n = 0 }, vm = { .n = 0 };
	for (size_t i = 0; i < L->nanchors; i++) {
		const struct hs_glibc_anchor *an = &L->anchors[i];
		uint64_t t = gl_anchor(mod, an);
		if (!t)
			continue;
		struct gl_votes *v = an->target == HS_GLIBC_ANCHOR_MAIN_ARENA ? &va : &vm;
		v->addr[v->n] = t;
		v->func[v->n] = an->func;
		v->n++;
	}
	bool ok[HS_GLIBC_MAX_ANCHORS];
	const char *why = "";
	for (size_t i = 0; i < va.n; i++)
		ok[i] = gl_arena_plausible(proc, L, va.addr[i],
					   gl_heap_max(proc, L, 0), &why);
	*arena_ret = gl_elect(&va, ok, "main_arena", diags);
	if (!*arena_ret && va.n)
		hs_diags_add(diags, HS_DIAG_WARNING, true, va.addr[0],
			     "main_arena candidate 0x%" PRIx64 " from disassembly "
			     "rejected: %s", va.addr[0], why);
	*mp_ret = 0;
	if (!*arena_ret)
		return;
	for (size_t i = 0; i < vm.n; i++)
		ok[i] = gl_mp_plausible(proc, L, vm.addr[i], *arena_ret, &why);
	*mp_ret = gl_elect(&vm, ok, "mp_", diags);
	if (!*mp_ret && vm.n)
		hs_diags_add(diags, HS_DIAG_WARNING, true, vm.addr[0],
			     "mp_ candidate 0x%" PRIx64 " from disassembly rejected: %s",
			     vm.addr[0], why);
}

/*
 * The last resort, after vmware/chap's InfrastructureFinder: a thread
 * arena's first heap is HEAP_MAX-aligned with heap_info.ar_ptr pointing
 * just past the heap_info (_int_new_arena, malloc/arena.c:757); the arena
 * ring through it reaches main_arena, its one member not at such a place.
 * Only aligned addresses are probed, so this is cheap even on big cores.
 * Needs a process that ever had a thread arena.
 */
uint64_t hs_glibc_scan_main_arena(struct hs_process *proc,
				  const struct hs_glibc_layout *L)
{
	const struct hs_memory *mem = &proc->mem;
	uint64_t hmax = L->heap_max_size;
	for (size_t i = 0; i < mem->count; i++) {
		const struct hs_memory_range *r = &mem->ranges[i];
		uint64_t end = r->start + r->filesz;
		uint64_t h = (r->start + hmax - 1) & ~(hmax - 1);
		for (; h >= r->start && h < end && end - h >= L->hi.size + L->ms.size;
		     h = h + hmax > h ? h + hmax : end) {
			uint64_t ar, x, next;
			if (!hs_memory_u64(mem, h + L->hi.ar_ptr, &ar) ||
			    ar != h + L->hi.size)
				continue;
			x = ar;
			for (unsigned k = 0; k < GL_MAX_RING; k++) {
				if (!hs_memory_u64(mem, x + L->ms.next, &next) ||
				    next == ar)
					break;
				const char *why;
				uint64_t nh = next & ~(hmax - 1);
				if (next != nh + L->hi.size &&
				    gl_arena_plausible(proc, L, next, hmax, &why))
					return next;
				x = next;
			}
		}
	}
	return 0;
}

/*
 * Symbols first (separate debug info, or a libc that kept its .symtab),
 * unless the caller asked us to ignore debug info; disassembly of exported
 * functions otherwise, and as a cross-check when both work.
 */
static struct hs_error *gl_locate(struct hs_process *proc, struct hs_module *mod,
				  const struct hs_glibc_layout *L,
				  const struct hs_walk_options *opts,
				  struct hs_heap *heap, struct gl_location *ret)
{
	struct hs_diags *diags = &heap->diags;
	uint64_t sym_arena = 0, sym_mp = 0;
	bool use_syms = mod->symbols >= HS_SYMS_SYMTAB &&
			!(opts->no_debuginfo && mod->symbols == HS_SYMS_DEBUGINFO);
	if (use_syms) {
		struct hs_symbol s;
		if (hs_module_symbol(mod, "main_arena", &s)) {
			sym_arena = s.addr;
			if (s.size && s.size != L->ms.size)
				hs_diags_add(diags, HS_DIAG_WARNING, true, s.addr,
					     "main_arena is 0x%" PRIx64 " bytes, layout "
					     "row %s says 0x%x", s.size, L->version,
					     L->ms.size);
		}
		if (hs_module_symbol(mod, "mp_", &s)) {
			sym_mp = s.addr;
			/* Only the fields read matter: a release that adds or
			 * drops one past them (2.44 dropped the last) walks
			 * the same. */
			if (s.size && s.size != L->mp.size)
				hs_diags_add(diags, s.size < gl_mp_extent(L) ?
					     HS_DIAG_WARNING : HS_DIAG_INFO, true,
					     s.addr, "mp_ is 0x%" PRIx64 " bytes, layout "
					     "row %s says 0x%x", s.size, L->version,
					     L->mp.size);
		}
	}
	uint64_t dis_arena = 0, dis_mp = 0;
	gl_disasm_locate(proc, mod, L, diags, &dis_arena, &dis_mp);

	const char *why = "";
	if (sym_arena && gl_arena_plausible(proc, L, sym_arena,
					    gl_heap_max(proc, L, sym_mp), &why)) {
		ret->main_arena = sym_arena;
		ret->mp = sym_mp ? sym_mp : dis_mp;
		ret->by = mod->symbols == HS_SYMS_DEBUGINFO ? HS_LOCATED_DEBUGINFO
							    : HS_LOCATED_SYMBOLS;
		if (dis_arena && dis_arena != sym_arena)
			hs_diags_add(diags, HS_DIAG_WARNING, true, dis_arena,
				     "main_arena: symbols say 0x%" PRIx64 ", disassembly "
				     "0x%" PRIx64, sym_arena, dis_arena);
		if (sym_mp && dis_mp && dis_mp != sym_mp)
			hs_diags_add(diags, HS_DIAG_WARNING, true, dis_mp,
				     "mp_: symbols say 0x%" PRIx64 ", disassembly 0x%" PRIx64,
				     sym_mp, dis_mp);
		return NULL;
	}
	if (sym_arena)
		hs_diags_add(diags, HS_DIAG_WARNING, true, sym_arena,
			     "main_arena symbol 0x%" PRIx64 " rejected: %s",
			     sym_arena, why);
	if (!dis_arena) {
		uint64_t scanned = hs_glibc_scan_main_arena(proc, L);
		if (!scanned)
			return hs_error_create(HS_ERR_NOT_FOUND,
					       "glibc: main_arena not found in %s (%s; "
					       "disassembly of mallinfo2/malloc_trim/"
					       "malloc_stats gave nothing plausible; no "
					       "thread arena leads to it)", mod->name,
					       use_syms ? "no usable symbol" :
					       "symbols not used");
		/* heapwalk.h has no "heuristic" source: say it here. */
		hs_diags_add(diags, HS_DIAG_WARNING, true, scanned,
			     "main_arena 0x%" PRIx64 " found by scanning for heap_info "
			     "(no usable symbols or code anchors); reported as "
			     "located by disassembly", scanned);
		dis_arena = scanned;
	}
	ret->main_arena = dis_arena;
	ret->mp = dis_mp;
	ret->by = HS_LOCATED_DISASSEMBLY;
	if (!dis_mp)
		hs_diags_add(diags, HS_DIAG_WARNING, false, 0,
			     "mp_ not found: main heap start derived from top and "
			     "system_mem; mmapped chunks not cross-checked");
	return NULL;
}

/* ------------------------------------------------------------------------
 * Per-thread tcache: `static __thread tcache` (malloc/malloc.c:3139) is an
 * initial-exec TLS variable. malloc loads its offset from a GOT slot that
 * an R_X86_64_TPOFF64 relocation filled, then reads %fs:(offset).
 * ------------------------------------------------------------------------ */

/* Does every thread's value look like a tcache: NULL, or the user address
 * of a chunk of the tcache struct's size? Counts the non-NULL ones. */
static bool gl_tpoff_is_tcache(struct hs_process *proc,
			       const struct hs_glibc_layout *L, int64_t off,
			       size_t *nonnull)
{
	*nonnull = 0;
	for (size_t i = 0; i < proc->nthreads; i++) {
		uint64_t v, hdr, fs = proc->threads[i].fs_base;
		if (!fs)
			continue;
		if (!hs_memory_u64(&proc->mem, fs + (uint64_t)off, &v))
			return false;
		if (!v)
			continue;
		if ((v & (L->malloc_alignment - 1)) ||
		    !hs_memory_u64(&proc->mem, v - 8, &hdr) ||
		    (hdr & ~(uint64_t)HS_GLIBC_SIZE_BITS) != L->tc.chunk_size)
			return false;
		(*nonnull)++;
	}
	return true;
}

struct gl_tls_find {
	int64_t want_addend;
	uint64_t slot;
};

static bool gl_tls_by_addend(uint64_t slot, int64_t addend, const char *sym,
			     void *arg)
{
	struct gl_tls_find *f = arg;
	if (addend == f->want_addend && (!sym[0] || strcmp(sym, "tcache") == 0)) {
		f->slot = slot;
		return false;
	}
	return true;
}

/* The GOT slot of `tcache` per debug info: the TPOFF64 relocation whose
 * addend is the symbol's offset in libc's TLS block. 0 if unknown. */
static uint64_t gl_tcache_slot_from_syms(struct hs_module *mod)
{
	struct hs_symbol s;
	if (!hs_module_symbol(mod, "tcache", &s) || s.type != STT_TLS)
		return 0;
	struct gl_tls_find f = { .want_addend = (int64_t)s.addr };
	hs_module_for_each_tpoff(mod, gl_tls_by_addend, &f);
	return f.slot;
}

static uint64_t gl_tcache_slot_from_code(struct hs_process *proc,
					 struct hs_module *mod,
					 const struct hs_glibc_layout *L,
					 struct hs_diags *diags)
{
	struct hs_insn *in = NULL;
	size_t n = 0;
	uint64_t found = 0, fallback = 0;
	struct hs_error *err = hs_disasm_function(mod, L->tc.tls_func,
						  GL_MAX_ANCHOR_INSNS, &in, &n);
	if (err) {
		hs_error_destroy(err);
		return 0;
	}
	for (size_t i = 0; i < n && !found; i++) {
		if (!in[i].mem_rip || !in[i].dst_reg || strcmp(in[i].mnemonic, "mov"))
			continue;
		for (size_t j = i + 1; j < n && j <= i + 4; j++) {
			if (!in[j].mem_fs || in[j].mem_base != in[i].dst_reg)
				continue;
			/* malloc reads several TLS variables (tcache,
			 * thread_arena, errno): keep the one whose values are
			 * tcaches in every thread. */
			int64_t off;
			size_t nonnull;
			if (!hs_process_tpoff(proc, in[i].mem_target, &off))
				break;
			if (gl_tpoff_is_tcache(proc, L, off, &nonnull)) {
				if (nonnull)
					found = in[i].mem_target;
				else if (!fallback)
					fallback = in[i].mem_target;
			}
			break;
		}
	}
	free(in);
	if (!found && fallback)
		hs_diags_add(diags, HS_DIAG_INFO, true, fallback,
			     "no thread has a tcache yet; assuming the first TLS "
			     "load in %s is tcache", L->tc.tls_func);
	return found ? found : fallback;
}

static struct hs_error *gl_tcaches(struct hs_process *proc, struct hs_module *mod,
				   const struct hs_glibc_layout *L,
				   const struct hs_walk_options *opts,
				   struct hs_heap *heap,
				   struct hs_glibc_tcache **ret, bool *known)
{
	struct hs_diags *diags = &heap->diags;
	*ret = NULL;
	*known = false;
	if (!L->tc.present)
		return NULL;
	uint64_t code_slot = gl_tcache_slot_from_code(proc, mod, L, diags);
	uint64_t sym_slot = 0;
	if (mod->symbols == HS_SYMS_SYMTAB ||
	    (mod->symbols == HS_SYMS_DEBUGINFO && !opts->no_debuginfo))
		sym_slot = gl_tcache_slot_from_syms(mod);
	if (code_slot && sym_slot && code_slot != sym_slot)
		hs_diags_add(diags, HS_DIAG_WARNING, true, code_slot,
			     "tcache TLS slot: disassembly says 0x%" PRIx64
			     ", symbols 0x%" PRIx64, code_slot, sym_slot);
	uint64_t slot = sym_slot ? sym_slot : code_slot;
	int64_t off;
	if (!slot || !hs_process_tpoff(proc, slot, &off)) {
		hs_diags_add(diags, HS_DIAG_WARNING, false, 0,
			     "tcache TLS offset not found; thread caches not walked");
		return NULL;
	}
	struct hs_glibc_tcache *t = calloc(proc->nthreads ? proc->nthreads : 1,
					   sizeof(*t));
	if (!t)
		return HS_ENOMEM;
	for (size_t i = 0; i < proc->nthreads; i++) {
		const struct hs_thread *th = &proc->threads[i];
		t[i].tid = th->tid;
		uint64_t self = 0;
		if (!th->fs_base)
			continue;
		/* The TCB's first word points at itself (tcbhead_t.tcb,
		 * sysdeps/x86_64/nptl/tls.h): a thread whose TCB reads
		 * otherwise lost its TLS in the core. gcore writes zeros for a
		 * whole stack mapping that holds guard pages installed with
		 * MADV_GUARD_INSTALL (glibc 2.43's thread stacks). */
		/* Info, like "tcache not located": the totals stay exact
		 * (mallinfo counts tcache chunks in use too), and the core,
		 * not the layout, is at fault. */
		if (hs_memory_u64(&proc->mem, th->fs_base, &self) &&
		    self != th->fs_base)
			hs_diags_add(diags, HS_DIAG_INFO, true, th->fs_base,
				     "thread %d: its TCB at 0x%" PRIx64 " does not point "
				     "at itself (its stack and TLS are not in the core: "
				     "gcore drops stacks with guard regions); its tcache "
				     "is unknown and counts as in use", th->tid,
				     th->fs_base);
		else if (!hs_memory_u64(&proc->mem, th->fs_base + (uint64_t)off,
					&t[i].tcache))
			hs_diags_add(diags, HS_DIAG_WARNING, true, th->fs_base,
				     "thread %d: TLS block not in the core; its tcache "
				     "is unknown", th->tid);
	}
	*ret = t;
	*known = true;
	return NULL;
}

/* ------------------------------------------------------------------------
 * The walker.
 * ------------------------------------------------------------------------ */

/* Locate, read the tcaches and walk with one row's layout. */
static struct hs_error *gl_walk_row(struct hs_process *proc, struct hs_module *mod,
				    const struct hs_glibc_layout *L,
				    const struct hs_walk_options *opts,
				    struct hs_heap *heap)
{
	struct gl_location loc = { 0 };
	struct hs_error *err = gl_locate(proc, mod, L, opts, heap, &loc);
	if (err)
		return err;
	struct hs_glibc_tcache *tc = NULL;
	bool known = false;
	err = gl_tcaches(proc, mod, L, opts, heap, &tc, &known);
	if (err)
		return err;
	heap->located_by = loc.by;
	struct hs_glibc_where where = {
		.main_arena = loc.main_arena,
		.mp = loc.mp,
		.tcaches = tc,
		.ntcaches = known ? proc->nthreads : 0,
		.tcaches_known = known,
	};
	err = hs_glibc_walk_at(proc, L, &where, opts, heap);
	free(tc);
	return err;
}

#define GL_MAX_CANDIDATES 32

struct gl_infer {
	struct hs_process *proc;
	struct hs_module *mod;
	const struct hs_walk_options *opts;
	const struct hs_glibc_layout *cand[GL_MAX_CANDIDATES];
};

static struct hs_error *gl_try_row(void *ctx, size_t i, struct hs_heap *scratch,
				   const char **row)
{
	struct gl_infer *g = ctx;
	*row = g->cand[i]->version;
	return gl_walk_row(g->proc, g->mod, g->cand[i], g->opts, scratch);
}

/*
 * A release without a row: walk with each row, nearest release first, and
 * keep the first walk that reconciles with the counters in the core
 * (system_mem against the heaps, the bins against the free chunks, mp_'s
 * mmap counters against the mmapped chunks found, the tcache counts against
 * their chains), with no diagnostic above info. Otherwise refuse, saying
 * what failed for each row tried.
 */
static struct hs_error *gl_walk_inferred(struct hs_process *proc,
					 struct hs_module *mod, const char *vs,
					 unsigned major, unsigned minor,
					 const struct hs_walk_options *opts,
					 struct hs_heap *heap)
{
	struct gl_infer g = { .proc = proc, .mod = mod, .opts = opts };
	size_t n = hs_glibc_layout_candidates(major, minor, g.cand, GL_MAX_CANDIDATES);
	char rows[256];
	hs_glibc_layout_list(rows, sizeof(rows));
	struct hs_error *err = hs_infer_run(heap, n, gl_try_row, &g, mod->name,
					    "glibc", vs, rows);
	if (!err)
		snprintf(heap->version, sizeof(heap->version), "%s", vs);
	return err;
}

static struct hs_error *glibc_walk(struct hs_process *proc,
				   const struct hs_walk_options *opts,
				   struct hs_heap *heap)
{
	struct hs_module *mod = gl_libc(proc);
	if (!mod)
		return hs_error_create(HS_ERR_NOT_FOUND, "glibc: libc.so.6 not mapped");
	if (mod->symbols == HS_SYMS_NONE)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "glibc: %s is not readable on this system "
				       "(missing or another build); cannot locate "
				       "main_arena", mod->name);
	char vs[32] = "";
	unsigned major, minor;
	if (!gl_version(proc, mod, &major, &minor, vs, sizeof(vs)))
		return hs_error_create(HS_ERR_UNSUPPORTED,
				       "glibc: cannot read the version of %s "
				       "(gnu_get_libc_version not disassemblable)",
				       mod->name);
	const struct hs_glibc_layout *L = hs_glibc_layout_find(major, minor);
	if (!L) {
		char v[24];
		snprintf(v, sizeof(v), "%u.%u", major, minor);
		return gl_walk_inferred(proc, mod, v, major, minor, opts, heap);
	}
	heap->layout = L->verified ? HS_LAYOUT_VERIFIED : HS_LAYOUT_FROM_SOURCE;
	snprintf(heap->layout_row, sizeof(heap->layout_row), "%s", L->version);
	if (!L->verified)
		hs_diags_add(&heap->diags, HS_DIAG_INFO, false, 0,
			     "glibc %s: layout row read off the source, not yet "
			     "verified against a build", L->version);
	return gl_walk_row(proc, mod, L, opts, heap);
}

const struct hs_walker hs_glibc_walker = {
	.name = "glibc",
	.detect = glibc_detect,
	.walk = glibc_walk,
};
