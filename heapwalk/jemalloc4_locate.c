/* jemalloc4_locate.c: find jemalloc 4's globals (symbols, capstone) and choose or infer its layout row. */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jemalloc4_internal.h"
#include "jemalloc_internal.h"
#include "layout_infer.h"

/* Disassembly budget: exported functions whole (their fast paths inline
 * most of the allocator), the functions they call in part. */
#define J4_MAX_INSNS 8192
#define J4_MAX_FUNC_BYTES (64 * 1024)
#define J4_MAX_CALLEES 192
#define J4_CALLEE_INSNS 1024
#define J4_MAX_CANDIDATES 1024
/* Bytes before a candidate address where the global may start: code often
 * addresses a field (chunks_rtree.levels[1], arena_bin_info[0].run_size). */
#define J4_MAX_FIELD_OFFSET 112

/* The public API: unprefixed in a shared libjemalloc, je_ in a static copy
 * built --with-jemalloc-prefix=je_ (Redis). */
static const char *const j4_api[] = {
	"malloc", "calloc", "free", "realloc", "mallocx", "rallocx", "xallocx",
	"sallocx", "dallocx", "sdallocx", "nallocx", "malloc_usable_size",
	"posix_memalign", "aligned_alloc", "memalign", "valloc",
};
/* Internal functions (always je_, JEMALLOC_PRIVATE_NAMESPACE) that touch
 * the globals directly; a static build linked -rdynamic exports them. */
static const char *const j4_internal[] = {
	"je_arena_get_hard", "je_arena_choose_hard", "je_arena_init", "je_huge_salloc",
	"je_chunk_register", "je_arena_malloc_small", "je_arena_tcache_fill_small",
	"je_narenas_total_get",
};

/* ---------------------------------------------------------------------
 * Candidates: RIP-relative operands of the module's code.
 * --------------------------------------------------------------------- */

struct j4_cands {
	uint64_t addr[J4_MAX_CANDIDATES];
	size_t n;
	uint64_t callee[J4_MAX_CALLEES];
	size_t ncallees;
	bool collected;
};

static void j4_add(uint64_t *set, size_t *n, size_t cap, uint64_t a)
{
	for (size_t i = 0; i < *n; i++)
		if (set[i] == a)
			return;
	if (*n < cap)
		set[(*n)++] = a;
}

/* RIP-relative data operands inside the module, and direct call targets
 * (when callees is not NULL). */
static void j4_scan(struct hs_module *mod, uint64_t addr, size_t bytes, size_t insns,
		    struct j4_cands *c, bool callees)
{
	struct hs_insn *in;
	size_t n;
	struct hs_error *err = hs_disasm(mod, addr, bytes, insns, false, &in, &n);
	if (err) {
		hs_error_destroy(err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (in[i].has_mem && in[i].mem_rip && in[i].mem_target >= mod->start &&
		    in[i].mem_target < mod->end)
			j4_add(c->addr, &c->n, J4_MAX_CANDIDATES, in[i].mem_target);
		if (callees && (in[i].is_call || in[i].is_jump) && in[i].branch_target &&
		    in[i].branch_target >= mod->start && in[i].branch_target < mod->end &&
		    (in[i].branch_target < addr || in[i].branch_target >= addr + bytes))
			j4_add(c->callee, &c->ncallees, J4_MAX_CALLEES, in[i].branch_target);
	}
	free(in);
}

static bool j4_function(struct hs_module *mod, const char *name, struct hs_symbol *s)
{
	return hs_module_symbol(mod, name, s) && s->type != STT_TLS && s->addr;
}

static void j4_collect(struct hs_module *mod, struct j4_cands *c)
{
	if (c->collected)
		return;
	c->collected = true;
	struct hs_symbol s;
	for (size_t i = 0; i < HS_ARRAY_SIZE(j4_internal); i++)
		if (j4_function(mod, j4_internal[i], &s))
			j4_scan(mod, s.addr, s.size && s.size < J4_MAX_FUNC_BYTES ? s.size :
				J4_MAX_FUNC_BYTES, J4_MAX_INSNS, c, false);
	for (size_t i = 0; i < HS_ARRAY_SIZE(j4_api); i++)
		for (int p = 0; p < 2; p++) {
			char name[64];
			snprintf(name, sizeof(name), "%s%s", p ? "je_" : "", j4_api[i]);
			if (!j4_function(mod, name, &s))
				continue;
			j4_scan(mod, s.addr, s.size && s.size < J4_MAX_FUNC_BYTES ? s.size :
				J4_MAX_FUNC_BYTES, J4_MAX_INSNS, c, true);
			break;
		}
	/* The slow paths are out of line: arena_choose_hard (arenas),
	 * arena_malloc_small (arena_bin_info), huge_salloc (chunks_rtree). */
	for (size_t i = 0; i < c->ncallees; i++)
		j4_scan(mod, c->callee[i], 16 * J4_CALLEE_INSNS, J4_CALLEE_INSNS, c, false);
}

/* ---------------------------------------------------------------------
 * Each global: its symbol if it validates, else a candidate that does.
 * --------------------------------------------------------------------- */

static bool j4_symbol(struct hs_module *mod, const char *name, uint64_t *addr)
{
	struct hs_symbol s;
	if (!hs_module_symbol(mod, name, &s) || s.type == STT_TLS || s.type == STT_FUNC)
		return false;
	*addr = s.addr;
	return true;
}

static bool j4_rtree(struct hs_process *proc, struct hs_module *mod,
		     const struct hs_je4_layout *L, struct j4_cands *c, uint64_t *ret)
{
	unsigned lg;
	uint64_t a;
	if (j4_symbol(mod, "je_chunks_rtree", &a) && hs_je4_valid_rtree(&proc->mem, L, a, &lg)) {
		*ret = a;
		return true;
	}
	j4_collect(mod, c);
	for (size_t i = 0; i < c->n; i++)
		for (uint64_t k = 0; k <= L->rtree.size && k <= c->addr[i]; k += 4)
			if (hs_je4_valid_rtree(&proc->mem, L, c->addr[i] - k, &lg)) {
				*ret = c->addr[i] - k;
				return true;
			}
	return false;
}

/* index2size_tab and arena_bin_info together: only the pair reads as a
 * configuration (hs_je4_config_read). */
static bool j4_tables(struct hs_process *proc, struct hs_module *mod,
		      const struct hs_je4_layout *L, struct j4_cands *c,
		      struct hs_je4_globals *g, struct hs_je4_config *cfg)
{
	uint64_t sz = 0, bi = 0;
	struct hs_error *err;
	if (j4_symbol(mod, "je_index2size_tab", &sz) &&
	    j4_symbol(mod, "je_arena_bin_info", &bi)) {
		g->sz_tab = sz;
		g->bin_info = bi;
		if (!(err = hs_je4_config_read(proc, L, g, cfg)))
			return true;
		hs_error_destroy(err);
	}
	j4_collect(mod, c);
	/* The size table first: a strictly increasing run of classes up to
	 * HUGE_MAXCLASS, tried at the operand and a little before it. */
	uint64_t tabs[8];
	size_t ntabs = 0;
	if (sz)
		tabs[ntabs++] = sz;
	for (size_t i = 0; i < c->n && ntabs < HS_ARRAY_SIZE(tabs); i++)
		for (uint64_t k = 0; k < 64 && k <= c->addr[i]; k += 8)
			if (hs_je4_read_sizes(proc, L, c->addr[i] - k, cfg->sz)) {
				j4_add(tabs, &ntabs, HS_ARRAY_SIZE(tabs), c->addr[i] - k);
				break;
			}
	for (size_t t = 0; t < ntabs; t++)
		for (size_t i = 0; i < c->n; i++)
			for (uint64_t k = 0; k < L->bin_info.size && k <= c->addr[i]; k += 8) {
				struct hs_je4_globals trial = *g;
				trial.sz_tab = tabs[t];
				trial.bin_info = c->addr[i] - k;
				/* bin 0: the smallest class, in a one-page run */
				uint64_t reg, run, b0 = trial.bin_info;
				if (!hs_memory_u64(&proc->mem, b0 + L->bin_info.reg_size, &reg) ||
				    reg < 8 || reg > 64 ||
				    !hs_memory_u64(&proc->mem, b0 + L->bin_info.run_size, &run) ||
				    run < 4096 || (run & (run - 1)))
					continue;
				if (!(err = hs_je4_config_read(proc, L, &trial, cfg))) {
					*g = trial;
					return true;
				}
				hs_error_destroy(err);
			}
	return false;
}

/* The arenas pointer: a variable whose value is an array whose slot 0 is
 * arena 0 (src/jemalloc.c: `arena_t **arenas`, static before 4.1). */
static bool j4_arenas_at(struct hs_process *proc, const struct hs_je4_layout *L,
			 const struct hs_je4_config *cfg, uint64_t var, uint64_t *ret)
{
	uint64_t arr, a0;
	if ((var & 7) || !hs_memory_u64(&proc->mem, var, &arr) || !arr ||
	    !hs_memory_u64(&proc->mem, arr, &a0) ||
	    !hs_je4_valid_arena(&proc->mem, L, cfg, a0, 0))
		return false;
	*ret = arr;
	return true;
}

static void j4_arenas(struct hs_process *proc, struct hs_module *mod,
		      const struct hs_je4_layout *L, struct j4_cands *c,
		      const struct hs_je4_config *cfg, struct hs_je4_globals *g)
{
	static const char *const names[] = {"je_arenas", "arenas"};
	uint64_t a;
	for (size_t i = 0; i < HS_ARRAY_SIZE(names); i++)
		if (j4_symbol(mod, names[i], &a) && j4_arenas_at(proc, L, cfg, a, &g->arenas))
			break;
	if (!g->arenas) {
		j4_collect(mod, c);
		for (size_t i = 0; i < c->n && !g->arenas; i++)
			j4_arenas_at(proc, L, cfg, c->addr[i], &g->arenas);
	}
	if (!g->arenas)
		return;
	/* narenas_total (static): by name, or the one load of
	 * narenas_total_get(). Without it the walk reads arenas[] to its
	 * first slot that holds no arena. */
	uint32_t n = 0;
	if (j4_symbol(mod, "narenas_total", &a) && hs_memory_u32(&proc->mem, a, &n) &&
	    n >= 1 && n <= 4096) {
		g->narenas = n;
		return;
	}
	struct hs_symbol s;
	struct hs_insn *in;
	size_t nin;
	if (!j4_function(mod, "je_narenas_total_get", &s))
		return;
	struct hs_error *err = hs_disasm(mod, s.addr, 64, 16, true, &in, &nin);
	if (err) {
		hs_error_destroy(err);
		return;
	}
	for (size_t i = 0; i < nin; i++)
		if (in[i].has_mem && in[i].mem_rip &&
		    hs_memory_u32(&proc->mem, in[i].mem_target, &n) && n >= 1 && n <= 4096) {
			g->narenas = n;
			break;
		}
	free(in);
}

/* How many threads a tsd offset fits: a tsd_state_t the tsd can be in
 * (tsd.h), and in a nominal tsd a tcache that is NULL, a state, or one
 * whose first bin's stack follows it (tcache_create). 0 if any thread's tsd
 * is impossible or none has a tcache. */
static unsigned j4_tpoff_score(struct hs_process *proc, const struct hs_je4_layout *L,
			       int64_t tpoff)
{
	unsigned score = 0, tcaches = 0;
	for (size_t i = 0; i < proc->nthreads; i++) {
		uint64_t tsd = proc->threads[i].fs_base + (uint64_t)tpoff, tc, avail;
		uint32_t state;
		if (!proc->threads[i].fs_base ||
		    !hs_memory_u32(&proc->mem, tsd + L->tsd.state, &state) ||
		    !hs_memory_u64(&proc->mem, tsd + L->tsd.tcache, &tc))
			continue;
		if (state > 3)
			return 0;
		if (tc > 3) {
			if ((tc & 7) || !hs_memory_u64(&proc->mem, tc + L->tcache.tbins +
						       L->tcache.avail, &avail) ||
			    avail <= tc || avail - tc > 65536 || (avail & 7))
				return 0;
			tcaches++;
		}
		score++;
	}
	return tcaches ? score : 0;
}

struct j4_tls {
	struct hs_process *proc;
	const struct hs_je4_layout *L;
	int64_t best;
	unsigned score;
	bool named;
};

static bool j4_tls_slot(uint64_t slot, int64_t addend, const char *sym, void *arg)
{
	(void)addend;
	struct j4_tls *t = arg;
	int64_t tpoff;
	bool named = sym && !strcmp(sym, "je_tsd_tls");
	if ((t->named && !named) || !hs_process_tpoff(t->proc, slot, &tpoff))
		return true;
	unsigned score = j4_tpoff_score(t->proc, t->L, tpoff);
	if (score && (score > t->score || (named && !t->named))) {
		t->best = tpoff;
		t->score = score;
		t->named = named;
	}
	return true;
}

/* The value an FS-relative operand's base register holds: loaded a few
 * instructions before from an immediate (the linker relaxed initial-exec
 * to local-exec in an executable) or from a TPOFF64 GOT slot. */
static bool j4_fs_base(struct hs_process *proc, const struct hs_insn *in, size_t i,
		       int64_t *ret)
{
	if (!in[i].mem_base) {
		*ret = 0;
		return true;
	}
	for (size_t j = i; j-- > 0 && i - j <= 16;) {
		if (in[j].dst_reg != in[i].mem_base)
			continue;
		if (strcmp(in[j].mnemonic, "mov") != 0)
			return false;
		if (!in[j].has_mem && in[j].has_imm) {
			*ret = in[j].imm;
			return true;
		}
		return in[j].has_mem && in[j].mem_rip &&
		       hs_process_tpoff(proc, in[j].mem_target, ret);
	}
	return false;
}

/* An FS-relative address the code reads: the tsd's state or its tcache. */
static void j4_fs_tpoff(struct hs_process *proc, const struct hs_je4_layout *L,
			int64_t fs_off, struct j4_tls *t)
{
	const uint32_t fields[] = {L->tsd.state, L->tsd.tcache};
	for (size_t f = 0; f < HS_ARRAY_SIZE(fields) && !t->score; f++) {
		int64_t tpoff = fs_off - (int64_t)fields[f];
		unsigned sc = tpoff < 0 ? j4_tpoff_score(proc, L, tpoff) : 0;
		if (sc) {
			t->best = tpoff;
			t->score = sc;
		}
	}
}

/* The tsd's TLS offset: from the TPOFF64 GOT slot of je_tsd_tls (a shared
 * library, or an executable that exports it), or from an FS-relative
 * operand of the API code that reads the tsd's state or tcache. */
static void j4_tpoff(struct hs_process *proc, struct hs_module *mod,
		     const struct hs_je4_layout *L, struct hs_je4_globals *g)
{
	struct j4_tls t = {.proc = proc, .L = L};
	hs_module_for_each_tpoff(mod, j4_tls_slot, &t);
	for (size_t i = 0; i < HS_ARRAY_SIZE(j4_api) && !t.score; i++)
		for (int p = 0; p < 2 && !t.score; p++) {
			char name[64];
			struct hs_symbol s;
			struct hs_insn *in;
			size_t n;
			snprintf(name, sizeof(name), "%s%s", p ? "je_" : "", j4_api[i]);
			if (!j4_function(mod, name, &s) ||
			    hs_disasm(mod, s.addr, 4096, 512, false, &in, &n))
				continue;
			for (size_t k = 0; k < n && !t.score; k++) {
				int64_t b;
				if (in[k].has_mem && in[k].mem_fs && j4_fs_base(proc, in, k, &b))
					j4_fs_tpoff(proc, L, b + in[k].mem_disp, &t);
			}
			free(in);
		}
	g->has_tpoff = t.score > 0;
	g->tsd_tpoff = t.best;
}

struct hs_error *hs_jemalloc4_locate(struct hs_process *proc, struct hs_module *mod,
				     const struct hs_je4_layout *L,
				     const struct hs_walk_options *opts,
				     struct hs_heap *heap, struct hs_je4_globals *ret)
{
	if (mod->symbols == HS_SYMS_NONE)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "%s: no symbols (file missing or build-id mismatch):"
				       " cannot locate jemalloc", mod->name);
	struct j4_cands *c = calloc(1, sizeof(*c));
	if (!c)
		return HS_ENOMEM;
	struct hs_je4_globals g = {0};
	struct hs_je4_config *cfg = malloc(sizeof(*cfg));
	struct hs_error *err = NULL;
	if (!cfg) {
		err = HS_ENOMEM;
	} else if (!j4_rtree(proc, mod, L, c, &g.rtree)) {
		err = hs_error_create(HS_ERR_NOT_FOUND, "%s: jemalloc's chunks_rtree not found"
				      " (%zu candidates)", mod->name, c->n);
	} else if (!j4_tables(proc, mod, L, c, &g, cfg)) {
		err = hs_error_create(HS_ERR_NOT_FOUND, "%s: jemalloc's index2size_tab and"
				      " arena_bin_info not found (%zu candidates)", mod->name,
				      c->n);
	} else {
		j4_arenas(proc, mod, L, c, cfg, &g);
		j4_tpoff(proc, mod, L, &g);
		if (!g.arenas)
			hs_diags_add(&heap->diags, HS_DIAG_INFO, false, 0,
				     "jemalloc: arenas[] not found in %s; the arenas come from"
				     " the chunks they own", mod->name);
		if (!g.has_tpoff)
			hs_diags_add(&heap->diags, HS_DIAG_WARNING, false, 0,
				     "jemalloc: tsd TLS offset not found in %s; thread caches"
				     " come from the arenas' tcache_ql only", mod->name);
		/* Located by symbols when the allocator's own names led to
		 * every table; debug info if they came from a debug file. */
		uint64_t a;
		bool named = j4_symbol(mod, "je_chunks_rtree", &a) && a == g.rtree &&
			     j4_symbol(mod, "je_arena_bin_info", &a) && a == g.bin_info;
		heap->located_by = !named ? HS_LOCATED_DISASSEMBLY :
				   mod->symbols == HS_SYMS_DEBUGINFO && !opts->no_debuginfo ?
				   HS_LOCATED_DEBUGINFO : HS_LOCATED_SYMBOLS;
		*ret = g;
	}
	free(cfg);
	free(c);
	return err;
}

/* ---------------------------------------------------------------------
 * Which release, which row; inference when no row is the release's.
 * --------------------------------------------------------------------- */

/* The release's major number from the module's version string (0 if it has
 * none that parses), and the string itself. */
static unsigned j4_version(struct hs_module *mod, char *buf, size_t cap)
{
	unsigned rel, commits;
	if (!hs_jemalloc_version(mod, buf, cap)) {
		buf[0] = '\0';
		return 0;
	}
	return hs_je4_parse_version(buf, &rel, &commits) ? rel / 10000 : 0;
}

bool hs_jemalloc4_claims(struct hs_process *proc)
{
	struct hs_module *mod = hs_jemalloc_module(proc, NULL);
	char version[96];
	struct hs_symbol s;
	if (!mod || mod->symbols == HS_SYMS_NONE)
		return false;
	unsigned major = j4_version(mod, version, sizeof(version));
	if (major)
		return major == 4;
	return hs_module_symbol(mod, "je_chunks_rtree", &s);
}

/* The report's version, as for 5.x (jemalloc_select.c): the release
 * ("4.0.3") of a tagged build, a git build between releases whole
 * ("4.4.0-14-g08c24e7"), or "unknown". */
static void j4_set_release(struct hs_heap *heap, const char *version)
{
	unsigned release, commits = 0;
	size_t n = strcspn(version, "-");
	if (!n)
		snprintf(heap->version, sizeof(heap->version), "unknown");
	else if (hs_je4_parse_version(version, &release, &commits) && commits)
		snprintf(heap->version, sizeof(heap->version), "%s", version);
	else
		snprintf(heap->version, sizeof(heap->version), "%.*s", (int)n, version);
}

/*
 * No row is this release's (or the release is unknown): walk under each
 * row, nearest release first (layout_infer.c's order; newest first when
 * the release is unknown), into a scratch heap, and keep the first walk
 * that agrees with every counter jemalloc keeps: no error diagnostic (each
 * disagreement is one) and an arena found. NULL on success (heap holds it,
 * layout "inferred"); else what each row gave in *tried and
 * HS_ERR_UNSUPPORTED naming the version, every row and why it failed; or
 * HS_ERR_NOMEM.
 */
static struct hs_error *j4_infer(struct hs_process *proc, struct hs_module *mod,
				 const struct hs_walk_options *opts, struct hs_heap *heap,
				 const char *version, struct hs_layout_try *tried)
{
	size_t nrows;
	const struct hs_je4_layout *rows = hs_je4_layouts(&nrows);
	uint64_t dist[16];
	size_t order[16];
	char names[256] = "";
	unsigned release = 0, commits;
	bool known = hs_je4_parse_version(version, &release, &commits);
	for (size_t i = 0; i < nrows && i < HS_ARRAY_SIZE(dist); i++) {
		unsigned r = hs_je4_layout_release(&rows[i]);
		dist[i] = !known ? 0 : r > release ? r - release : release - r;
		hs_infer_list_add(names, sizeof(names), rows[i].name);
	}
	size_t n = hs_infer_order(dist, nrows < HS_ARRAY_SIZE(dist) ? nrows : HS_ARRAY_SIZE(dist),
				  order, HS_ARRAY_SIZE(order));
	*tried = (struct hs_layout_try){.len = 0};
	for (size_t k = 0; k < n; k++) {
		const struct hs_je4_layout *L = &rows[order[k]];
		struct hs_heap *scratch;
		struct hs_je4_globals g;
		unsigned mism = 0;
		struct hs_error *err = hs_heap_create(&scratch);
		if (err)
			return err;
		memcpy(scratch->flavour, heap->flavour, sizeof(scratch->flavour));
		if (!(err = hs_jemalloc4_locate(proc, mod, L, opts, scratch, &g)))
			err = hs_jemalloc4_walk_at(proc, L, &g, scratch, &mism);
		if (err == HS_ENOMEM) {
			hs_heap_destroy(scratch);
			return err;
		}
		char first[160] = "";
		size_t nerrors = err ? 0 : hs_layout_try_errors(scratch, first, sizeof(first));
		if (!err && !nerrors && scratch->narenas) {
			char subject[160];
			snprintf(subject, sizeof(subject), "jemalloc %s has no layout row",
				 version[0] ? version : "of unknown version");
			j4_set_release(scratch, version);
			hs_infer_accept(heap, scratch, subject, L->name);
			return NULL;
		}
		if (err) {
			/* The module is named once, in the refusal. */
			size_t len = strlen(mod->name);
			const char *m = err->message;
			if (!strncmp(m, mod->name, len) && !strncmp(m + len, ": ", 2))
				m += len + 2;
			hs_layout_try_note(tried, L->name, "%.150s", m);
		} else if (!nerrors) {
			hs_layout_try_note(tried, L->name, "no arena found");
		} else {
			hs_layout_try_note(tried, L->name, "%zu counter%s disagree%s, first: %s",
					   nerrors, nerrors == 1 ? "" : "s",
					   nerrors == 1 ? "s" : "", first);
		}
		hs_error_destroy(err);
		hs_heap_destroy(scratch);
	}
	return hs_layout_try_refuse(tried, mod->name, "jemalloc", version, names);
}

struct hs_error *hs_jemalloc4_walk(struct hs_process *proc,
				   const struct hs_walk_options *opts,
				   struct hs_heap *heap)
{
	bool is_static = false;
	struct hs_module *mod = hs_jemalloc_module(proc, &is_static);
	if (!mod)
		return hs_error_create(HS_ERR_NOT_FOUND, "jemalloc is not mapped");
	char version[96];
	j4_version(mod, version, sizeof(version));
	snprintf(heap->flavour, sizeof(heap->flavour), "%s", is_static ? "static" : "shared");
	const struct hs_je4_layout *L = hs_je4_layout_for_version(version);
	struct hs_layout_try tried;
	if (!L)
		return j4_infer(proc, mod, opts, heap, version, &tried);
	j4_set_release(heap, version);
	heap->layout = L->verified ? HS_LAYOUT_VERIFIED : HS_LAYOUT_FROM_SOURCE;
	snprintf(heap->layout_row, sizeof(heap->layout_row), "%s", L->name);
	struct hs_je4_globals g;
	struct hs_error *err = hs_jemalloc4_locate(proc, mod, L, opts, heap, &g);
	if (err)
		return err;
	return hs_jemalloc4_walk_at(proc, L, &g, heap, NULL);
}

struct hs_error *hs_jemalloc4_after_5x(struct hs_process *proc,
				       const struct hs_walk_options *opts,
				       struct hs_heap *heap, struct hs_error *err)
{
	struct hs_module *mod = hs_jemalloc_module(proc, NULL);
	char version[96];
	/* Only when the version is unknown (no string, or a bogus one such
	 * as a build from an archive writes: 0.0.0-0-g000...): a 5.x or
	 * later string is the 5.x walker's to judge. */
	if (!err || err == HS_ENOMEM ||
	    (err->code != HS_ERR_NOT_FOUND && err->code != HS_ERR_UNSUPPORTED) || !mod ||
	    mod->symbols == HS_SYMS_NONE || j4_version(mod, version, sizeof(version)))
		return err;
	bool is_static = false;
	hs_jemalloc_module(proc, &is_static);
	snprintf(heap->flavour, sizeof(heap->flavour), "%s", is_static ? "static" : "shared");
	struct hs_layout_try tried;
	struct hs_error *e4 = j4_infer(proc, mod, opts, heap, version, &tried);
	if (!e4) {
		hs_error_destroy(err);
		return NULL;
	}
	if (e4 == HS_ENOMEM)
		return err;
	/* Both refusals in one line: what 5.x said, then every 4.x row and
	 * why it did not reconcile. */
	hs_error_destroy(e4);
	struct hs_error *both = hs_error_create(err->code, "%s; nor does a jemalloc 4 row"
						" reconcile (%s)", err->message,
						tried.tried ? tried.text : "none tried");
	hs_error_destroy(err);
	return both;
}
