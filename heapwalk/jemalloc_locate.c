/* jemalloc_locate.c: find jemalloc, its version and its globals (symbols/capstone). */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jemalloc_internal.h"

/* Disassembly budget per exported function. calloc and mallocx are big
 * (6.6 KiB and 10 KiB in Debian's build) because the fast paths inline. */
#define JL_MAX_INSNS 8192
#define JL_MAX_FUNC_BYTES (64 * 1024)
#define JL_MAX_CANDIDATES 256

/* Public API names: a static build usually prefixes them (upstream Redis
 * configures --with-jemalloc-prefix=je_); internal names are je_ always
 * (JEMALLOC_PRIVATE_NAMESPACE). */
static const char *const jl_prefixes[] = {"", "je_"};

struct hs_module *hs_jemalloc_module(struct hs_process *proc,
				     bool *statically_linked)
{
	struct hs_module *m = hs_process_find_module(proc, "libjemalloc.so", true);
	if (m) {
		if (statically_linked)
			*statically_linked = false;
		return m;
	}
	m = hs_process_main_module(proc);
	if (!m || m->symbols == HS_SYMS_NONE)
		return NULL;
	static const char *const marks[] = {
		"je_mallctl", "je_malloc_usable_size", "je_arena_emap_global",
		"je_extents_rtree", "je_sz_index2size_tab",
	};
	struct hs_symbol s;
	for (size_t i = 0; i < HS_ARRAY_SIZE(marks); i++) {
		if (hs_module_symbol(m, marks[i], &s)) {
			if (statically_linked)
				*statically_linked = true;
			return m;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------------
 * Version: JEMALLOC_VERSION ("5.3.0-0-g54eaed1d...", configure.ac) is a
 * string in .rodata because the `version` mallctl returns it (src/ctl.c).
 * --------------------------------------------------------------------- */

static bool jl_isdigit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool jl_ishex(uint8_t c)
{
	return jl_isdigit(c) || (c >= 'a' && c <= 'f');
}

/* p[0..1] is "-g": is it the middle of "X.Y.Z-N-g<hex>\0"? Copy it out. */
static bool jl_version_at(const uint8_t *lo, const uint8_t *p,
			  const uint8_t *hi, char *buf, size_t cap)
{
	const uint8_t *q = p + 2, *s = p;
	size_t nhex = 0;
	while (q < hi && jl_ishex(*q))
		q++, nhex++;
	if (nhex < 7 || q >= hi || *q != '\0')
		return false;
	/* Back over "-N", then "X.Y.Z" with exactly two dots. */
	size_t ndig = 0;
	while (s > lo && jl_isdigit(s[-1]))
		s--, ndig++;
	if (!ndig || s == lo || s[-1] != '-')
		return false;
	s--;
	unsigned dots = 0;
	ndig = 0;
	while (s > lo && (jl_isdigit(s[-1]) || s[-1] == '.')) {
		dots += s[-1] == '.';
		ndig += jl_isdigit(s[-1]);
		s--;
	}
	if (dots != 2 || ndig < 3 || !jl_isdigit(*s) || (s > lo && s[-1] != '\0'))
		return false;
	size_t n = (size_t)(q - s);
	if (n >= cap)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

struct jl_version_scan {
	char *buf;
	size_t cap;
	bool found;
};

static bool jl_scan_span(uint64_t addr, const uint8_t *p, size_t len, void *arg)
{
	(void)addr;
	struct jl_version_scan *vs = arg;
	const uint8_t *hi = p + len;
	for (const uint8_t *h = p; h + 1 < hi; h++) {
		h = memchr(h, '-', (size_t)(hi - 1 - h));
		if (!h)
			break;
		char tmp[96];
		if (h[1] != 'g' || !jl_version_at(p, h, hi, tmp, sizeof(tmp)))
			continue;
		if (!vs->found) {
			snprintf(vs->buf, vs->cap, "%s", tmp);
			vs->found = true;
		}
		if (hs_je_layout_for_version(tmp)) {
			snprintf(vs->buf, vs->cap, "%s", tmp);
			return false; /* a string with a row: stop */
		}
	}
	return true;
}

/* Scan the module's file image (its PT_LOADs' file bytes, never the address
 * range the core gives the module, which may be anything) for the version
 * string. The first string with a layout row wins; else the first one seen
 * is reported. */
static bool jl_find_version(struct hs_module *mod, char *buf, size_t cap)
{
	struct jl_version_scan vs = { .buf = buf, .cap = cap };
	hs_module_for_each_file_span(mod, jl_scan_span, &vs);
	return vs.found;
}

static struct hs_error *jl_layout(struct hs_module *mod, struct hs_heap *heap,
				  const struct hs_je_layout **ret)
{
	char version[96] = "";
	const struct hs_je_layout *L = NULL;
	if (jl_find_version(mod, version, sizeof(version))) {
		L = hs_je_layout_for_version(version);
		if (!L)
			return hs_error_create(HS_ERR_UNSUPPORTED,
					       "%s: jemalloc %s has no layout row"
					       " (supported: %s)", mod->name, version,
					       hs_je_layout_default()->version);
	} else if ((L = hs_je_layout_for_build_id(mod->build_id, mod->build_id_len))) {
		hs_diags_add(&heap->diags, HS_DIAG_INFO, false, 0,
			     "jemalloc: no version string in %s; build-id says %s",
			     mod->name, L->version);
	} else {
		L = hs_je_layout_default();
		hs_diags_add(&heap->diags, HS_DIAG_WARNING, false, 0,
			     "jemalloc: version of %s unknown; assuming %s and"
			     " validating every structure", mod->name, L->version);
	}
	snprintf(heap->version, sizeof(heap->version), "%s", L->version);
	heap->layout = L->verified ? HS_LAYOUT_VERIFIED : HS_LAYOUT_FROM_SOURCE;
	snprintf(heap->layout_row, sizeof(heap->layout_row), "%s", L->version);
	*ret = L;
	return NULL;
}

/* ---------------------------------------------------------------------
 * Validation of candidate addresses: each global must look like itself.
 * --------------------------------------------------------------------- */

static bool jl_valid_sz_tab(const struct hs_memory *mem,
			    const struct hs_je_layout *L, uint64_t addr)
{
	uint64_t t[HS_JE_MAX_NSIZES];
	struct hs_error *err = hs_memory_read(mem, addr, t, (size_t)L->nsizes * 8);
	if (err) {
		hs_error_destroy(err);
		return false;
	}
	if (t[0] != L->min_size)
		return false;
	for (unsigned i = 1; i < L->nsizes; i++)
		if (t[i] <= t[i - 1])
			return false;
	return true;
}

/* Number of initialized arenas if every non-NULL slot is an arena whose
 * ind is its slot (5.3.0 arena_structs.h:83; 5.2.1 its base's), else 0. */
static unsigned jl_valid_arenas(const struct hs_memory *mem,
				const struct hs_je_layout *L, uint64_t addr)
{
	void *buf = NULL;
	size_t cap = 0;
	if (addr & 7)
		return 0;
	const uint64_t *a = hs_je_span(mem, addr, (size_t)L->arena_limit * 8, &buf, &cap);
	unsigned n = 0;
	for (unsigned i = 0; a && a[0] && i < L->arena_limit; i++) {
		uint32_t ind;
		if (!a[i])
			continue;
		if (!hs_je_arena_ind(mem, L, a[i], &ind) || ind != i) {
			n = 0;
			break;
		}
		n++;
	}
	free(buf);
	return n;
}

/* ---------------------------------------------------------------------
 * Disassembly anchors (notes section B): in Debian's build
 *   malloc_usable_size: `mov GOT(%rip),%rdi; cmpb $0,%fs:0x330(%rdi)` (tsd
 *     state through the TPOFF64 slot of je_tsd_tls), `lea tab(%rip)` before
 *     `shr $0x30` (sz_index2size_tab), and the last `lea emap(%rip),%rsi`
 *     (the rtree slow path's argument);
 *   calloc / posix_memalign / mallocx: `mov arenas(%rip),%rsi` (arenas[0]).
 * Rather than trusting instruction order, every RIP-relative operand into
 * writable data is a candidate and the candidates are validated
 * structurally, so a different compiler's schedule still works.
 * --------------------------------------------------------------------- */

struct jl_cands {
	uint64_t addr[JL_MAX_CANDIDATES];
	size_t n;
};

static void jl_cand_add(struct jl_cands *c, uint64_t a)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->addr[i] == a)
			return;
	if (c->n < JL_MAX_CANDIDATES)
		c->addr[c->n++] = a;
}

static struct hs_error *jl_disasm(struct hs_module *mod, const char *name,
				  struct hs_insn **in, size_t *n)
{
	for (size_t p = 0; p < HS_ARRAY_SIZE(jl_prefixes); p++) {
		char full[64];
		struct hs_symbol s;
		snprintf(full, sizeof(full), "%s%s", jl_prefixes[p], name);
		if (!hs_module_symbol(mod, full, &s) || s.type == STT_TLS)
			continue;
		/* Not hs_disasm_function: it stops at the first ret when the
		 * size is unknown, and the slow paths come after it. */
		size_t bytes = s.size && s.size < JL_MAX_FUNC_BYTES ? s.size
								    : JL_MAX_FUNC_BYTES;
		return hs_disasm(mod, s.addr, bytes, JL_MAX_INSNS, false, in, n);
	}
	return hs_error_create(HS_ERR_NOT_FOUND, "%s: no symbol %s", mod->name, name);
}

/* RIP-relative operands of `func` that point into writable memory of the
 * core inside the module (its .data/.bss). */
static void jl_collect(struct hs_process *proc, struct hs_module *mod,
		       const char *func, struct jl_cands *c)
{
	struct hs_insn *in;
	size_t n;
	struct hs_error *err = jl_disasm(mod, func, &in, &n);
	if (err) {
		hs_error_destroy(err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!in[i].has_mem || !in[i].mem_rip)
			continue;
		uint64_t t = in[i].mem_target;
		const struct hs_memory_range *r = hs_memory_find(&proc->mem, t);
		if (t < mod->start || t >= mod->end || !r || !(r->flags & PF_W))
			continue;
		jl_cand_add(c, t);
	}
	free(in);
}

/*
 * The tsd's TLS offset: an instruction testing the tsd state byte,
 * `cmp $0, %fs:STATE(%reg)`, with %reg loaded from the TPOFF64 GOT slot of
 * je_tsd_tls (initial-exec, a shared library) or an immediate (the linker
 * relaxed it to local-exec in an executable); or `cmp $0, %fs:OFF` with
 * the offset folded in.
 */
static bool jl_tpoff_in(struct hs_process *proc, const struct hs_je_layout *L,
			const struct hs_insn *in, size_t n, int64_t *ret)
{
	for (size_t i = 0; i < n; i++) {
		if (!in[i].has_mem || !in[i].mem_fs ||
		    strncmp(in[i].mnemonic, "cmp", 3) != 0 ||
		    !in[i].has_imm || in[i].imm != 0 ||
		    !strstr(in[i].op_str, "byte"))
			continue;
		if (!in[i].mem_base) {
			if (in[i].mem_disp < 0 && -in[i].mem_disp > L->tsd.size) {
				*ret = in[i].mem_disp - (int64_t)L->tsd.state;
				return true;
			}
			continue;
		}
		if (in[i].mem_disp != (int64_t)L->tsd.state)
			continue;
		for (size_t j = i; j-- > 0 && i - j < 16;) {
			if (in[j].dst_reg != in[i].mem_base)
				continue;
			if (strcmp(in[j].mnemonic, "mov") != 0)
				break;
			if (in[j].has_mem && in[j].mem_rip &&
			    hs_process_tpoff(proc, in[j].mem_target, ret))
				return true;
			if (!in[j].has_mem && in[j].has_imm) {
				*ret = in[j].imm;
				return true;
			}
			break;
		}
	}
	return false;
}

static bool jl_tpoff(struct hs_process *proc, struct hs_module *mod,
		     const struct hs_je_layout *L, int64_t *ret)
{
	static const char *const funcs[] = {"malloc_usable_size", "calloc",
					    "malloc", "free"};
	for (size_t f = 0; f < HS_ARRAY_SIZE(funcs); f++) {
		struct hs_insn *in;
		size_t n;
		struct hs_error *err = jl_disasm(mod, funcs[f], &in, &n);
		if (err) {
			hs_error_destroy(err);
			continue;
		}
		bool ok = jl_tpoff_in(proc, L, in, n, ret);
		free(in);
		if (ok)
			return true;
	}
	return false;
}

static struct hs_error *jl_by_disasm(struct hs_process *proc,
				     struct hs_module *mod,
				     const struct hs_je_layout *L,
				     struct hs_je_globals *g)
{
	static const char *const funcs[] = {"malloc_usable_size", "sallocx", "calloc",
					    "posix_memalign", "mallocx", "malloc"};
	struct jl_cands *c = calloc(1, sizeof(*c));
	if (!c)
		return HS_ENOMEM;
	for (size_t f = 0; f < HS_ARRAY_SIZE(funcs); f++)
		jl_collect(proc, mod, funcs[f], c);
	unsigned best_score = 0, best_arenas = 0;
	for (size_t i = 0; i < c->n; i++) {
		uint64_t a = c->addr[i];
		unsigned score, narenas;
		if (!g->sz_tab && jl_valid_sz_tab(&proc->mem, L, a))
			g->sz_tab = a;
		if ((narenas = jl_valid_arenas(&proc->mem, L, a)) > best_arenas) {
			best_arenas = narenas;
			g->arenas = a;
		}
		unsigned lg = hs_je_rtree_detect(&proc->mem, L, a, &score);
		if (lg && score > best_score) {
			best_score = score;
			g->emap = a;
			g->lg_vaddr = lg;
		}
	}
	size_t ncand = c->n;
	free(c);
	if (!g->sz_tab || !g->arenas || !g->emap)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "%s: jemalloc's %s not found by disassembly"
				       " (%zu candidates)", mod->name,
				       !g->emap ? L->rtree_symbol :
				       !g->sz_tab ? "sz_index2size_tab" : "arenas",
				       ncand);
	return NULL;
}

/* A static build or a module with debug info: the globals by name. */
static bool jl_by_symbols(struct hs_process *proc, struct hs_module *mod,
			  const struct hs_je_layout *L, struct hs_heap *heap,
			  struct hs_je_globals *g)
{
	struct hs_symbol e, t, a;
	if (!hs_module_symbol(mod, L->rtree_symbol, &e) ||
	    !hs_module_symbol(mod, "je_sz_index2size_tab", &t) ||
	    !hs_module_symbol(mod, "je_arenas", &a))
		return false;
	unsigned score;
	unsigned lg = hs_je_rtree_detect(&proc->mem, L, e.addr, &score);
	if (!lg || !jl_valid_sz_tab(&proc->mem, L, t.addr) ||
	    !jl_valid_arenas(&proc->mem, L, a.addr)) {
		hs_diags_add(&heap->diags, HS_DIAG_WARNING, true, e.addr,
			     "jemalloc: the globals named by %s's symbols do not"
			     " validate against the %s layout; trying disassembly",
			     mod->name, L->version);
		return false;
	}
	g->emap = e.addr;
	g->sz_tab = t.addr;
	g->arenas = a.addr;
	g->lg_vaddr = lg;
	return true;
}

struct hs_error *hs_jemalloc_locate(struct hs_process *proc,
				    const struct hs_walk_options *opts,
				    struct hs_heap *heap,
				    const struct hs_je_layout **layout,
				    struct hs_je_globals *ret)
{
	bool is_static = false;
	struct hs_module *mod = hs_jemalloc_module(proc, &is_static);
	if (!mod)
		return hs_error_create(HS_ERR_NOT_FOUND, "jemalloc is not mapped");
	if (mod->symbols == HS_SYMS_NONE)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "%s: no symbols (file missing or build-id"
				       " mismatch): cannot locate jemalloc", mod->name);
	const struct hs_je_layout *L = NULL;
	struct hs_error *err = jl_layout(mod, heap, &L);
	if (err)
		return err;
	snprintf(heap->flavour, sizeof(heap->flavour), "%s",
		 is_static ? "static" : "shared");

	struct hs_je_globals g = {0};
	bool use_syms = mod->symbols == HS_SYMS_SYMTAB ||
			(mod->symbols == HS_SYMS_DEBUGINFO && !opts->no_debuginfo);
	if (use_syms && jl_by_symbols(proc, mod, L, heap, &g)) {
		heap->located_by = mod->symbols == HS_SYMS_DEBUGINFO ?
				   HS_LOCATED_DEBUGINFO : HS_LOCATED_SYMBOLS;
	} else {
		memset(&g, 0, sizeof(g));
		if ((err = jl_by_disasm(proc, mod, L, &g)))
			return err;
		heap->located_by = HS_LOCATED_DISASSEMBLY;
	}
	g.has_tpoff = jl_tpoff(proc, mod, L, &g.tsd_tpoff);
	if (!g.has_tpoff)
		hs_diags_add(&heap->diags, HS_DIAG_WARNING, false, 0,
			     "jemalloc: tsd TLS offset not found in %s; thread"
			     " caches come from the arenas' tcache_ql only", mod->name);
	*layout = L;
	*ret = g;
	return NULL;
}
