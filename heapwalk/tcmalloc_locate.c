/* tcmalloc_locate.c: find tcmalloc in a process: module, flavour, version, hidden statics. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmalloc_internal.h"

#define TCM_SYM_THREAD_HEAPS "_ZN8tcmalloc11ThreadCache13thread_heaps_E"
#define TCM_SYM_THREAD_HEAP_COUNT "_ZN8tcmalloc11ThreadCache18thread_heap_count_E"
/* Hidden statics [static_vars.h:102-121]: only in a full .symtab or DWARF. */
#define TCM_SYM_PAGEHEAP "_ZN8tcmalloc6Static9pageheap_E"
#define TCM_SYM_SIZEMAP "_ZN8tcmalloc6Static8sizemap_E"
#define TCM_SYM_CENTRAL "_ZN8tcmalloc6Static14central_cache_E"
/* Exported functions whose code names them. */
#define TCM_FN_LOCK_ALL "_ZN8tcmalloc19CentralCacheLockAllEv"
#define TCM_FN_OWNERSHIP "_ZN22TCMallocImplementation12GetOwnershipEPKv"

#define TCM_ANCHOR_INSNS 256

/* Most specific first, in case the module lookup matches by prefix. */
static const char *const tcm_sonames[] = {
	"libtcmalloc_minimal_debug.so",
	"libtcmalloc_minimal.so",
	"libtcmalloc_and_profiler.so",
	"libtcmalloc_debug.so",
	"libtcmalloc.so",
};

static bool tcm_has_symbol(struct hs_module *mod, const char *name)
{
	struct hs_symbol sym;
	return hs_module_symbol(mod, name, &sym);
}

struct hs_module *hs_tcm_find_module(struct hs_process *proc)
{
	for (size_t i = 0; i < HS_ARRAY_SIZE(tcm_sonames); i++) {
		struct hs_module *mod = hs_process_find_module(proc, tcm_sonames[i],
							       true);
		if (mod)
			return mod;
	}
	/* Linked statically (or renamed): the executable or some module
	 * defines both the allocator and its thread-cache list. */
	for (size_t i = 0; i < proc->nmodules; i++) {
		struct hs_module *mod = &proc->modules[i];
		if (tcm_has_symbol(mod, "tc_malloc") &&
		    tcm_has_symbol(mod, TCM_SYM_THREAD_HEAPS))
			return mod;
	}
	return NULL;
}

static const char *tcm_basename(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	return slash ? slash + 1 : path ? path : "";
}

/* Flavour from the file name, or NULL. */
static const char *tcm_flavour_by_name(const char *path)
{
	const char *base = tcm_basename(path);
	if (strncmp(base, "libtcmalloc_minimal_debug.", 26) == 0)
		return "minimal_debug";
	if (strncmp(base, "libtcmalloc_minimal.", 20) == 0)
		return "minimal";
	if (strncmp(base, "libtcmalloc_and_profiler.", 25) == 0)
		return "and_profiler";
	if (strncmp(base, "libtcmalloc_debug.", 18) == 0)
		return "debug";
	if (strncmp(base, "libtcmalloc.", 12) == 0)
		return "full";
	return NULL;
}

/*
 * Flavour from what the module defines, or NULL without symbols. Only the
 * sampling builds call GetStackTrace (DoSampledAllocation, tcmalloc.cc:1198;
 * _minimal is built with NO_TCMALLOC_SAMPLES, Makefile.am:473, which turns
 * it into 0, page_heap.h:61-66), so the symbol is there even when tcmalloc
 * is linked statically and the linker kept only what it needed. The debug
 * builds add debugallocation.cc (MallocBlock), and_profiler the CPU
 * profiler.
 */
static const char *tcm_flavour_by_symbols(struct hs_module *mod)
{
	if (mod->symbols == HS_SYMS_NONE)
		return NULL;
	bool samples = tcm_has_symbol(mod, "_Z13GetStackTracePPvii");
	if (tcm_has_symbol(mod, "_ZN11MallocBlock10alloc_map_E"))
		return samples ? "debug" : "minimal_debug";
	if (samples && tcm_has_symbol(mod, "ProfilerStart"))
		return "and_profiler";
	return samples ? "full" : "minimal";
}

/*
 * The version from tc_version() [tcmalloc.cc, tc_version]: it returns
 * TC_VERSION_STRING ("gperftools 2.10") with a RIP-relative lea into rax.
 * The last such lea before the ret is the string.
 */
static bool tcm_version_from_code(struct hs_process *proc,
				  struct hs_module *mod, char *out, size_t len)
{
	struct hs_insn *insns;
	size_t n;
	struct hs_error *err = hs_disasm_function(mod, "tc_version", 64, &insns, &n);
	if (err) {
		hs_error_destroy(err);
		return false;
	}
	bool found = false;
	for (size_t i = 0; i < n && !found; i++) {
		if (strcmp(insns[i].mnemonic, "lea") != 0 || !insns[i].mem_rip)
			continue;
		uint64_t at = insns[i].mem_target;
		const char *s = hs_process_ptr_or_file(proc, at, 11);
		if (!s || strncmp(s, "gperftools ", 11) != 0)
			continue;
		size_t k = 0;
		for (at += 11; k + 1 < len; at++) {
			const char *v = hs_process_ptr_or_file(proc, at, 1);
			if (!v || !((*v >= '0' && *v <= '9') || *v == '.'))
				break;
			out[k++] = *v;
		}
		out[k] = '\0';
		found = k > 0;
	}
	free(insns);
	return found;
}

/* What the anchor functions' code says. Zero means not seen. */
struct tcm_anchors {
	struct hs_tcm_addrs addrs;
	uint64_t stride;         /* add reg, sizeof(CentralFreeListPadded) */
	uint64_t root_off;       /* PageHeap offset of pagemap_.root_ */
	uint64_t class_to_size;  /* SizeMap offset of class_to_size_ */
	uint64_t rip_refs[16];   /* RIP-relative data CentralCacheLockAll reads */
	size_t nrip_refs;
};

/* First RIP-relative lea of a function, and the largest displacement then
 * used off the register it loaded: the field furthest in (2.16 reads
 * pagemap_cache_ at +0x10 before pagemap_.root_ at +0x80010). */
static bool tcm_lea_and_disp(struct hs_module *mod, const char *fn,
			     uint64_t *target, uint64_t *disp)
{
	struct hs_insn *in;
	size_t n;
	struct hs_error *err = hs_disasm_function(mod, fn, TCM_ANCHOR_INSNS, &in, &n);
	if (err) {
		hs_error_destroy(err);
		return false;
	}
	bool found = false;
	*disp = 0;
	for (size_t i = 0; i < n; i++) {
		if (!found) {
			if (strcmp(in[i].mnemonic, "lea") == 0 && in[i].mem_rip) {
				*target = in[i].mem_target;
				found = true;
				for (size_t j = i + 1; j < n; j++)
					if (in[j].has_mem && !in[j].mem_rip &&
					    in[j].mem_base == in[i].dst_reg &&
					    in[j].mem_disp > 0 &&
					    (uint64_t)in[j].mem_disp > *disp)
						*disp = (uint64_t)in[j].mem_disp;
			}
		}
	}
	free(in);
	return found;
}

/*
 * The anchors (all gperftools-2.10 tcmalloc.cc / static_vars.cc):
 *   CentralCacheLockAll(): loops `for i < Static::num_size_classes()`
 *     locking central_cache_[i]: a lea of central_cache_ into a register
 *     that is then advanced by `add reg, sizeof(CentralFreeListPadded)`;
 *     num_size_classes is read RIP-relative [static_vars.cc:55-60];
 *   TCMallocImplementation::GetOwnership(): lea of pageheap_, then
 *     pagemap_.root_ read at a displacement off it [tcmalloc.cc:930-944];
 *   nallocx(): lea of sizemap_, then class_to_size_ read at a displacement
 *     off it [tcmalloc.cc:1091-1102].
 */
static bool tcm_read_anchors(struct hs_module *mod, struct tcm_anchors *a)
{
	memset(a, 0, sizeof(*a));
	/* Not fatal: a build that exports pageheap_ reads it through the GOT
	 * (2.11 built with autotools), and the symbol gives it. */
	if (!tcm_lea_and_disp(mod, TCM_FN_OWNERSHIP, &a->addrs.pageheap,
			      &a->root_off))
		a->addrs.pageheap = 0;
	if (!tcm_lea_and_disp(mod, "tc_nallocx", &a->addrs.sizemap,
			      &a->class_to_size) &&
	    !tcm_lea_and_disp(mod, "nallocx", &a->addrs.sizemap,
			      &a->class_to_size))
		return false;
	struct hs_insn *in;
	size_t n;
	struct hs_error *err = hs_disasm_function(mod, TCM_FN_LOCK_ALL,
						  TCM_ANCHOR_INSNS, &in, &n);
	if (err) {
		hs_error_destroy(err);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (in[i].mem_rip && strcmp(in[i].mnemonic, "lea") != 0 &&
		    a->nrip_refs < HS_ARRAY_SIZE(a->rip_refs))
			a->rip_refs[a->nrip_refs++] = in[i].mem_target;
		if (strcmp(in[i].mnemonic, "add") != 0 || !in[i].has_imm ||
		    in[i].has_mem || in[i].imm < 256 || a->stride)
			continue;
		/* The latest lea into the register being strided. */
		for (size_t j = i; j-- > 0;) {
			if (strcmp(in[j].mnemonic, "lea") == 0 && in[j].mem_rip &&
			    in[j].dst_reg == in[i].dst_reg) {
				a->addrs.central_cache = in[j].mem_target;
				a->stride = (uint64_t)in[i].imm;
				break;
			}
		}
	}
	free(in);
	return a->addrs.central_cache != 0;
}

/* Do the code anchors agree with a layout row? */
static bool tcm_anchors_fit(const struct tcm_anchors *a,
			    const struct hs_tcm_layout *lay)
{
	if (a->stride && a->stride != lay->cfl_stride)
		return false;
	if (a->root_off && a->root_off != lay->ph_pagemap_root)
		return false;
	if (a->class_to_size && a->class_to_size != lay->sm_class_to_size)
		return false;
	/* Up to 2.5 the number of classes is a constant, not read. */
	if (lay->sm_num_size_classes == HS_TCM_ABSENT)
		return true;
	uint64_t ncls = a->addrs.sizemap + lay->sm_num_size_classes;
	for (size_t i = 0; i < a->nrip_refs; i++)
		if (a->rip_refs[i] == ncls)
			return true;
	return a->nrip_refs == 0;
}

bool hs_tcm_validate(const struct hs_memory *mem,
		     const struct hs_tcm_layout *lay,
		     const struct hs_tcm_addrs *addrs, char *why, size_t whylen)
{
	const uint8_t *sm = hs_memory_ptr(mem, addrs->sizemap, lay->sm_size);
	if (!sm) {
		snprintf(why, whylen, "SizeMap at 0x%" PRIx64 " not in the core",
			 addrs->sizemap);
		return false;
	}
	uint64_t n = hs_tcm_num_classes(lay, sm);
	if (n < 2 || n > lay->class_sizes_max) {
		snprintf(why, whylen, "SizeMap at 0x%" PRIx64 ": %" PRIu64
			 " size classes (malloc not initialised, or wrong address)",
			 addrs->sizemap, n);
		return false;
	}
	int64_t prev = 0;
	for (uint64_t c = 1; c < n; c++) {
		int64_t size = (int64_t)hs_tcm_class_size(lay, sm, (unsigned)c);
		if (size <= prev || size > (int64_t)lay->max_size || size % 8) {
			snprintf(why, whylen, "SizeMap at 0x%" PRIx64 ": class %" PRIu64
				 " has size %" PRId64, addrs->sizemap, c, size);
			return false;
		}
		prev = size;
		uint64_t sc;
		uint64_t cfl = addrs->central_cache + c * lay->cfl_stride;
		if (!hs_memory_u64(mem, cfl + lay->cfl_size_class, &sc) || sc != c) {
			snprintf(why, whylen, "central_cache_[%" PRIu64 "] at 0x%" PRIx64
				 " does not say size class %" PRIu64, c, cfl, c);
			return false;
		}
	}
	uint64_t root = addrs->pageheap + lay->ph_pagemap_root, node = 0;
	if (lay->pagemap_levels == 3 ?
	    !hs_memory_u64(mem, root, &node) || (node & 7) ||
	    !hs_memory_readable(mem, node, (uint64_t)8 << lay->pagemap_interior_bits) :
	    !hs_memory_readable(mem, root, (uint64_t)8 << lay->pagemap_root_bits)) {
		snprintf(why, whylen, "page map root at 0x%" PRIx64 " not in the core",
			 root);
		return false;
	}
	uint64_t head, system;
	if (!hs_memory_u64(mem, addrs->thread_heaps, &head)) {
		snprintf(why, whylen, "thread_heaps_ at 0x%" PRIx64 " not in the core",
			 addrs->thread_heaps);
		return false;
	}
	if (!hs_memory_u64(mem, addrs->pageheap + lay->ph_stats + lay->st_system_bytes,
			   &system) || system % ((uint64_t)1 << lay->page_shift)) {
		snprintf(why, whylen, "PageHeap stats_ at 0x%" PRIx64 " implausible",
			 addrs->pageheap + lay->ph_stats);
		return false;
	}
	return true;
}

/*
 * Try one candidate set of addresses with the row for the version, or with
 * each row whose constraints it meets when the version is unknown.
 */
/*
 * The row, or the row re-derived into *own for the page size the SizeMap
 * at `sizemap` shows (a build with --with-tcmalloc-pagesize).
 */
static const struct hs_tcm_layout *tcm_page_size(struct hs_process *proc,
						 const struct hs_tcm_layout *lay,
						 uint64_t sizemap,
						 struct hs_tcm_layout *own)
{
	const uint8_t *sm = hs_memory_ptr(&proc->mem, sizemap, lay->sm_size);
	unsigned shift = sm ? hs_tcm_sizemap_page_shift(lay, sm) : 0;
	if (!shift || shift == lay->page_shift ||
	    !hs_tcm_layout_with_page_shift(lay, shift, own))
		return lay;
	return own;
}

static const struct hs_tcm_layout *
tcm_try(struct hs_process *proc, const struct hs_tcm_layout *want,
	const struct tcm_anchors *anchors, struct hs_tcm_addrs *addrs,
	const char *method, struct hs_diags *diags, struct hs_tcm_layout *own,
	char *last, size_t lastlen)
{
	char why[160] = "";
	for (size_t i = 0; i < hs_tcm_nlayouts; i++) {
		const struct hs_tcm_layout *lay = want ? want : &hs_tcm_layouts[i];
		lay = tcm_page_size(proc, lay, addrs->sizemap, own);
		/* Up to 2.5 Static::pageheap_ is a pointer to the PageHeap. */
		struct hs_tcm_addrs a = *addrs;
		if (lay->ph_indirect &&
		    (!hs_memory_u64(&proc->mem, addrs->pageheap, &a.pageheap) ||
		     (a.pageheap & 7))) {
			snprintf(why, sizeof(why), "pageheap_ at 0x%" PRIx64 " does not "
				 "point at a PageHeap", addrs->pageheap);
		} else if (anchors && !tcm_anchors_fit(anchors, lay)) {
			snprintf(why, sizeof(why), "code anchors do not fit the %s layout",
				 lay->version);
		} else if (hs_tcm_validate(&proc->mem, lay, &a, why, sizeof(why))) {
			*addrs = a;
			return lay;
		}
		if (want)
			break;
	}
	hs_diags_add(diags, HS_DIAG_INFO, false, 0,
		     "tcmalloc: statics from %s rejected: %s", method, why);
	snprintf(last, lastlen, "%s: %s", method, why);
	return NULL;
}

struct hs_error *hs_tcm_locate(struct hs_process *proc,
			       const struct hs_walk_options *opts,
			       const struct hs_tcm_layout *force,
			       struct hs_diags *diags,
			       struct hs_tcm_located *ret)
{
	struct hs_module *mod = hs_tcm_find_module(proc);
	if (!mod)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "tcmalloc: no libtcmalloc mapped and no "
				       "statically linked tcmalloc found");
	const struct hs_tcm_build *build =
		hs_tcm_build_by_id(mod->build_id, mod->build_id_len);
	struct hs_tcm_located loc;
	memset(&loc, 0, sizeof(loc));

	/* Flavour: the known build, else what the module defines, else its
	 * name; a file renamed against its contents is worth a note. */
	const char *by_name = tcm_flavour_by_name(mod->name);
	const char *by_syms = tcm_flavour_by_symbols(mod);
	const char *flavour = build ? build->flavour :
		by_syms ? by_syms : by_name ? by_name : "full";
	if (by_name && strcmp(by_name, flavour) != 0)
		hs_diags_add(diags, HS_DIAG_INFO, false, 0,
			     "tcmalloc: %s looks like the %s flavour by name but "
			     "is %s", tcm_basename(mod->name), by_name, flavour);
	snprintf(loc.flavour, sizeof(loc.flavour), "%s", flavour);
	loc.samples = hs_tcm_flavour_samples(flavour);

	/* Version: the known build, else tc_version()'s string. */
	const struct hs_tcm_layout *want = force;
	if (build)
		snprintf(loc.version, sizeof(loc.version), "%s", build->version);
	else
		tcm_version_from_code(proc, mod, loc.version, sizeof(loc.version));
	snprintf(loc.module, sizeof(loc.module), "%s", tcm_basename(mod->name));
	if (loc.version[0] && !want) {
		want = hs_tcm_layout_for_version(loc.version);
		if (!want) {
			/* The caller tries the rows (hs_tcm_layout_candidates). */
			*ret = loc;
			return NULL;
		}
	}

	struct hs_symbol sym;
	uint64_t thread_heaps = 0;
	if (hs_module_symbol(mod, TCM_SYM_THREAD_HEAPS, &sym))
		thread_heaps = sym.addr;
	else if (build)
		thread_heaps = build->thread_heaps + mod->bias;

	const struct hs_tcm_layout *lay = NULL;
	char last[200] = ""; /* why the last candidate was rejected */
	/* 1. Symbols of the statics: a full .symtab or debug info, or the
	 * dynamic symbols of releases that did not hide them yet (2.5
	 * exports tcmalloc::Static::sizemap_ and the rest). */
	bool syms_ok = mod->symbols == HS_SYMS_SYMTAB ||
		mod->symbols == HS_SYMS_DYNSYM ||
		(mod->symbols == HS_SYMS_DEBUGINFO && !opts->no_debuginfo);
	if (syms_ok && hs_module_symbol(mod, TCM_SYM_PAGEHEAP, &sym)) {
		loc.addrs.pageheap = sym.addr;
		bool all = hs_module_symbol(mod, TCM_SYM_SIZEMAP, &sym);
		loc.addrs.sizemap = sym.addr;
		all = all && hs_module_symbol(mod, TCM_SYM_CENTRAL, &sym);
		loc.addrs.central_cache = sym.addr;
		loc.addrs.thread_heaps = thread_heaps;
		if (all)
			lay = tcm_try(proc, want, NULL, &loc.addrs, "symbols", diags,
				      &loc.own, last, sizeof(last));
		loc.located_by = mod->symbols == HS_SYMS_DEBUGINFO ?
			HS_LOCATED_DEBUGINFO : HS_LOCATED_SYMBOLS;
	}
	/* 2. The code anchors. */
	struct tcm_anchors anchors;
	if (!lay && tcm_read_anchors(mod, &anchors)) {
		/* A static the module exports (some builds do not hide them)
		 * is named by its symbol, whatever the code says. */
		static const char *const names[] = {
			TCM_SYM_PAGEHEAP, TCM_SYM_SIZEMAP, TCM_SYM_CENTRAL,
		};
		uint64_t *slots[] = {
			&anchors.addrs.pageheap, &anchors.addrs.sizemap,
			&anchors.addrs.central_cache,
		};
		for (size_t i = 0; i < HS_ARRAY_SIZE(names); i++)
			if (mod->symbols == HS_SYMS_DYNSYM &&
			    hs_module_symbol(mod, names[i], &sym)) {
				if (*slots[i] != sym.addr)
					anchors.root_off = 0; /* read off another base */
				*slots[i] = sym.addr;
			}
		loc.addrs = anchors.addrs;
		loc.addrs.thread_heaps = thread_heaps;
		lay = tcm_try(proc, want, &anchors, &loc.addrs, "disassembly", diags,
			      &loc.own, last, sizeof(last));
		loc.located_by = HS_LOCATED_DISASSEMBLY;
	} else if (!lay) {
		snprintf(last, sizeof(last), "disassembly: CentralCacheLockAll and "
			 "nallocx do not name central_cache_ and sizemap_");
	}
	/* 3. The build-id table, for cores analysed without the library. */
	if (!lay && build) {
		loc.addrs.pageheap = build->pageheap + mod->bias;
		loc.addrs.sizemap = build->sizemap + mod->bias;
		loc.addrs.central_cache = build->central_cache + mod->bias;
		loc.addrs.thread_heaps = build->thread_heaps + mod->bias;
		lay = tcm_try(proc, want, NULL, &loc.addrs, "the build-id table",
			      diags, &loc.own, last, sizeof(last));
		if (lay)
			hs_diags_add(diags, HS_DIAG_INFO, false, 0,
				     "tcmalloc: statics placed from the known-build "
				     "table (build-id %s, %s)", build->build_id,
				     build->soname);
		loc.located_by = HS_LOCATED_DISASSEMBLY;
	}
	if (!lay)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "tcmalloc: cannot locate pageheap_/sizemap_/"
				       "central_cache_ in %s (no symbols, anchors or "
				       "known build-id validated%s%s)",
				       tcm_basename(mod->name), last[0] ? "; " : "", last);
	if (!loc.version[0]) {
		snprintf(loc.version, sizeof(loc.version), "%s", lay->version);
		hs_diags_add(diags, HS_DIAG_INFO, false, 0,
			     "tcmalloc: version not identified; the %s layout "
			     "(gperftools %s) fits", lay->version, lay->versions);
	}
	if (!lay->verified && !force)
		hs_diags_add(diags, HS_DIAG_INFO, false, 0,
			     "tcmalloc: the %s layout row comes from the source "
			     "and was not verified against a build", lay->version);
	if (strstr(loc.flavour, "debug"))
		hs_diags_add(diags, HS_DIAG_INFO, false, 0,
			     "tcmalloc: %s flavour: chunks are debugallocation "
			     "blocks (header included); blocks in its free queue "
			     "are in use to tcmalloc, and left out of "
			     "generic.current_allocated_bytes as it does",
			     loc.flavour);
	if (strstr(loc.flavour, "debug") &&
	    hs_module_symbol(mod, "_ZN11MallocBlock16free_queue_size_E", &sym))
		loc.addrs.free_queue_size = sym.addr;
	if (hs_module_symbol(mod, TCM_SYM_THREAD_HEAP_COUNT, &sym))
		loc.addrs.thread_heap_count = sym.addr;
	loc.derived = lay == &loc.own;
	if (loc.derived)
		snprintf(loc.row, sizeof(loc.row), "%s/%uK", lay->version,
			 1u << (lay->page_shift - 10));
	else
		snprintf(loc.row, sizeof(loc.row), "%s", lay->version);
	*ret = loc;
	ret->layout = loc.derived ? &ret->own : lay;
	return NULL;
}
