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
	/* mallctl: jemalloc linked in without a prefix and stripped, its
	 * API exported (-rdynamic, as Redis links); no other allocator has it. */
	static const char *const marks[] = {
		"je_mallctl", "je_malloc_usable_size", "je_arena_emap_global",
		"je_extents_rtree", "je_sz_index2size_tab", "mallctl",
		"je_chunks_rtree", /* jemalloc 4.x (jemalloc4.c) */
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
	/* Redis writes "-0-g0": a hash of one digit. */
	if (nhex < 1 || nhex > 40 || q >= hi || *q != '\0')
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
	/* Not the tail of a longer text ("Version: 4.0.3-0-g...", stats.c):
	 * a string literal may follow any non-text byte, not only a NUL
	 * (4.x libraries pack it after a jump table). */
	if (dots != 2 || ndig < 3 || !jl_isdigit(*s) ||
	    (s > lo && s[-1] >= 0x20 && s[-1] < 0x7f))
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
		struct hs_je_version v;
		if (hs_je_version_parse(tmp, &v) && v.major >= 4) {
			snprintf(vs->buf, vs->cap, "%s", tmp);
			return false; /* a jemalloc version: stop */
		}
	}
	return true;
}

/* Scan the module's file image (its PT_LOADs' file bytes, never the address
 * range the core gives the module, which may be anything) for the version
 * string. The first that parses as a jemalloc version (4.x or later) wins;
 * else the first one seen is reported. */
static bool jl_find_version(struct hs_module *mod, char *buf, size_t cap)
{
	struct jl_version_scan vs = { .buf = buf, .cap = cap };
	hs_module_for_each_file_span(mod, jl_scan_span, &vs);
	return vs.found;
}

void hs_jemalloc_identify(struct hs_process *proc, struct hs_heap *heap,
			  struct hs_je_ident *ret)
{
	struct hs_je_ident id = {0};
	id.mod = hs_jemalloc_module(proc, &id.is_static);
	if (!id.mod || id.mod->symbols == HS_SYMS_NONE) {
		*ret = id;
		return;
	}
	if (jl_find_version(id.mod, id.version, sizeof(id.version))) {
		id.row = hs_je_layout_for_version(id.version);
	} else if ((id.row = hs_je_layout_for_build_id(id.mod->build_id,
						       id.mod->build_id_len))) {
		hs_diags_add(&heap->diags, HS_DIAG_INFO, false, 0,
			     "jemalloc: no version string in %s; build-id says %s",
			     id.mod->name, id.row->version);
		snprintf(id.version, sizeof(id.version), "%s", id.row->version);
	}
	*ret = id;
}

/* ---------------------------------------------------------------------
 * Validation of candidate addresses: each global must look like itself.
 * --------------------------------------------------------------------- */

/*
 * Is the table at addr sz_index2size_tab, and of which configuration? Its
 * entries must be exactly the size classes of one LG_QUANTUM (3 for Redis's
 * --with-lg-quantum=3, 4 by default; up to 6), to the last class
 * (2^62 + 3 * 2^60): that gives SC_NSIZES, and SC_NBINS for lg_page.
 */
static bool jl_sz_config(struct hs_process *proc, uint64_t addr, unsigned lg_page,
			 unsigned *lg_quantum, unsigned *nsizes, unsigned *nbins)
{
	uint64_t want[HS_JE_MAX_NSIZES];
	/* 5.0 and 5.1 generate the table at compile time, into .rodata,
	 * which gcore may leave out: the module file has it. */
	const void *first = hs_process_ptr_or_file(proc, addr, 16);
	if (!first)
		return false;
	for (unsigned q = 3; q <= 6; q++) {
		unsigned nb, n = hs_je_size_classes(q, lg_page, want, HS_JE_MAX_NSIZES, &nb);
		if (!n || memcmp(first, want, 16) != 0)
			continue;
		const void *t = hs_process_ptr_or_file(proc, addr, (size_t)n * 8);
		if (!t || memcmp(t, want, (size_t)n * 8) != 0)
			continue;
		*lg_quantum = q;
		*nsizes = n;
		*nbins = nb;
		return true;
	}
	return false;
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

/* RIP-relative targets in the module: in writable memory (addr: the
 * rtree, arenas[]), and anywhere (ro: sz_index2size_tab, which 5.0 and 5.1
 * keep in .rodata). */
struct jl_cands {
	uint64_t addr[JL_MAX_CANDIDATES];
	size_t n;
	uint64_t ro[JL_MAX_CANDIDATES];
	size_t nro;
};

static void jl_cand_add(uint64_t *set, size_t *n, uint64_t a)
{
	for (size_t i = 0; i < *n; i++)
		if (set[i] == a)
			return;
	if (*n < JL_MAX_CANDIDATES)
		set[(*n)++] = a;
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
		if (t < mod->start || t >= mod->end || (t & 7))
			continue;
		jl_cand_add(c->ro, &c->nro, t);
		const struct hs_memory_range *r = hs_memory_find(&proc->mem, t);
		if (r && (r->flags & PF_W))
			jl_cand_add(c->addr, &c->n, t);
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
			const struct hs_insn *in, size_t n, int64_t *ret, uint32_t *state)
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
				*state = L->tsd.state;
				return true;
			}
			continue;
		}
		/* The state byte where the row has it, or up to 64 bytes
		 * off: tsd_t's leading fields vary with the configuration
		 * (5.3.1's te_data has one more slot with --enable-prof). */
		int64_t d = in[i].mem_disp - (int64_t)L->tsd.state;
		if (d < -64 || d > 64 || (d & 7) || in[i].mem_disp < 0)
			continue;
		for (size_t j = i; j-- > 0 && i - j < 16;) {
			if (in[j].dst_reg != in[i].mem_base)
				continue;
			if (strcmp(in[j].mnemonic, "mov") != 0)
				break;
			if (in[j].has_mem && in[j].mem_rip &&
			    hs_process_tpoff(proc, in[j].mem_target, ret)) {
				*state = (uint32_t)in[i].mem_disp;
				return true;
			}
			if (!in[j].has_mem && in[j].has_imm) {
				*ret = in[j].imm;
				*state = (uint32_t)in[i].mem_disp;
				return true;
			}
			break;
		}
	}
	return false;
}

static bool jl_tpoff(struct hs_process *proc, struct hs_module *mod,
		     const struct hs_je_layout *L, int64_t *ret, uint32_t *state)
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
		bool ok = jl_tpoff_in(proc, L, in, n, ret, state);
		free(in);
		if (ok)
			return true;
	}
	return false;
}

/* LG_PAGE values to try, most common first (x86_64 builds use 4 KiB
 * pages unless configured --with-lg-page). */
static const unsigned jl_lg_pages[] = {12, 14, 16};

/*
 * The build's configuration and the row resolved to it, given where
 * sz_index2size_tab is: for each LG_PAGE, the rtree at one of `emaps` must
 * decode and one of `arenas` must hold arenas under the resolved layout.
 * Picks the best-scoring rtree and the array with the most arenas.
 */
static bool jl_configure(struct hs_process *proc, const struct hs_je_layout *row,
			 uint64_t sz_tab, const uint64_t *emaps, size_t nemaps,
			 const uint64_t *arenas, size_t narenas,
			 struct hs_je_layout *L, struct hs_je_globals *g)
{
	for (size_t p = 0; p < HS_ARRAY_SIZE(jl_lg_pages); p++) {
		unsigned q, nsizes, nbins, best_score = 0, best_arenas = 0;
		struct hs_je_layout R;
		struct hs_je_globals c = *g;
		if (!jl_sz_config(proc, sz_tab, jl_lg_pages[p], &q, &nsizes, &nbins) ||
		    !hs_je_layout_resolve(row, jl_lg_pages[p], nbins, nsizes, &R))
			continue;
		c.sz_tab = sz_tab;
		c.lg_quantum = q;
		c.emap = c.arenas = 0;
		for (size_t i = 0; i < nemaps; i++) {
			unsigned score;
			unsigned lg = hs_je_rtree_detect(&proc->mem, &R, emaps[i], &score);
			if (lg && score > best_score) {
				best_score = score;
				c.emap = emaps[i];
				c.lg_vaddr = lg;
			}
		}
		for (size_t i = 0; i < narenas; i++) {
			unsigned n = jl_valid_arenas(&proc->mem, &R, arenas[i]);
			if (n > best_arenas) {
				best_arenas = n;
				c.arenas = arenas[i];
			}
		}
		if (c.emap && c.arenas) {
			*L = R;
			*g = c;
			return true;
		}
	}
	return false;
}

static struct hs_error *jl_by_disasm(struct hs_process *proc,
				     struct hs_module *mod,
				     const struct hs_je_layout *row,
				     struct hs_je_layout *L,
				     struct hs_je_globals *g)
{
	static const char *const funcs[] = {"malloc_usable_size", "sallocx", "calloc",
					    "posix_memalign", "mallocx", "malloc"};
	struct jl_cands *c = calloc(1, sizeof(*c));
	if (!c)
		return HS_ENOMEM;
	for (size_t f = 0; f < HS_ARRAY_SIZE(funcs); f++)
		jl_collect(proc, mod, funcs[f], c);
	const char *missing = "sz_index2size_tab";
	for (size_t i = 0; i < c->nro; i++) {
		unsigned q, nsizes, nbins;
		if (!jl_sz_config(proc, c->ro[i], 12, &q, &nsizes, &nbins))
			continue;
		missing = row->rtree_symbol;
		if (jl_configure(proc, row, c->ro[i], c->addr, c->n, c->addr, c->n, L, g)) {
			free(c);
			return NULL;
		}
		break;
	}
	size_t ncand = c->n;
	free(c);
	return hs_error_create(HS_ERR_NOT_FOUND,
			       "%s: jemalloc's %s not found by disassembly"
			       " (%zu candidates)", mod->name, missing, ncand);
}

/* A static build or a module with debug info: the globals by name. */
static bool jl_by_symbols(struct hs_process *proc, struct hs_module *mod,
			  const struct hs_je_layout *row, struct hs_heap *heap,
			  struct hs_je_layout *L, struct hs_je_globals *g)
{
	struct hs_symbol e, t, a;
	if (!hs_module_symbol(mod, row->rtree_symbol, &e) ||
	    !hs_module_symbol(mod, "je_sz_index2size_tab", &t) ||
	    !hs_module_symbol(mod, "je_arenas", &a))
		return false;
	if (!jl_configure(proc, row, t.addr, &e.addr, 1, &a.addr, 1, L, g)) {
		hs_diags_add(&heap->diags, HS_DIAG_WARNING, true, e.addr,
			     "jemalloc: the globals named by %s's symbols do not"
			     " validate against the %s layout; trying disassembly",
			     mod->name, row->version);
		return false;
	}
	return true;
}

struct hs_error *hs_jemalloc_locate_row(struct hs_process *proc,
					const struct hs_walk_options *opts,
					const struct hs_je_ident *id,
					const struct hs_je_layout *row,
					struct hs_heap *heap,
					struct hs_je_layout *layout,
					struct hs_je_globals *ret)
{
	struct hs_module *mod = id->mod;
	struct hs_je_layout L;
	struct hs_je_globals g = {0};
	struct hs_error *err;
	bool use_syms = mod->symbols == HS_SYMS_SYMTAB ||
			(mod->symbols == HS_SYMS_DEBUGINFO && !opts->no_debuginfo);
	if (use_syms && jl_by_symbols(proc, mod, row, heap, &L, &g)) {
		heap->located_by = mod->symbols == HS_SYMS_DEBUGINFO ?
				   HS_LOCATED_DEBUGINFO : HS_LOCATED_SYMBOLS;
	} else {
		memset(&g, 0, sizeof(g));
		if ((err = jl_by_disasm(proc, mod, row, &L, &g)))
			return err;
		heap->located_by = HS_LOCATED_DISASSEMBLY;
	}
	snprintf(heap->flavour, sizeof(heap->flavour), "%s",
		 id->is_static ? "static" : "shared");
	uint32_t state = L.tsd.state;
	g.has_tpoff = jl_tpoff(proc, mod, &L, &g.tsd_tpoff, &state);
	if (g.has_tpoff && state != L.tsd.state) {
		/* The code says where the state byte is: move what follows
		 * te_data with it. */
		int64_t d = (int64_t)state - (int64_t)L.tsd.state;
		hs_diags_add(&heap->diags, HS_DIAG_INFO, false, 0,
			     "jemalloc: the tsd state byte is at %u in %s's code, the"
			     " %s row says %u", state, mod->name, row->version, L.tsd.state);
		L.tsd.state = state;
		L.tsd.tcache_slow = (uint32_t)((int64_t)L.tsd.tcache_slow + d);
		L.tsd.tcache = (uint32_t)((int64_t)L.tsd.tcache + d);
		L.tsd.size = (uint32_t)((int64_t)L.tsd.size + d);
	}
	if (!g.has_tpoff)
		hs_diags_add(&heap->diags, HS_DIAG_WARNING, false, 0,
			     "jemalloc: tsd TLS offset not found in %s; thread"
			     " caches come from the arenas' tcache_ql only", mod->name);
	*layout = L;
	*ret = g;
	return NULL;
}

struct hs_error *hs_jemalloc_check_ident(const struct hs_je_ident *id)
{
	if (!id->mod)
		return hs_error_create(HS_ERR_NOT_FOUND, "jemalloc is not mapped");
	if (id->mod->symbols == HS_SYMS_NONE)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "%s: no symbols (file missing or build-id"
				       " mismatch): cannot locate jemalloc", id->mod->name);
	return NULL;
}

struct hs_error *hs_jemalloc_locate(struct hs_process *proc,
				    const struct hs_walk_options *opts,
				    struct hs_heap *heap,
				    struct hs_je_layout *layout,
				    struct hs_je_globals *ret)
{
	struct hs_je_ident id;
	hs_jemalloc_identify(proc, heap, &id);
	struct hs_error *err = hs_jemalloc_check_ident(&id);
	if (err)
		return err;
	if (id.row)
		return hs_jemalloc_locate_row(proc, opts, &id, id.row, heap, layout, ret);
	size_t n;
	const struct hs_je_layout *rows = hs_je_layout_rows(&n);
	for (size_t i = 0; i < n; i++) {
		err = hs_jemalloc_locate_row(proc, opts, &id, &rows[i], heap, layout, ret);
		if (!err)
			return NULL;
		if (i + 1 < n)
			hs_error_destroy(err);
	}
	return err;
}

bool hs_jemalloc_version(struct hs_module *mod, char *buf, size_t cap)
{
	return jl_find_version(mod, buf, cap);
}
