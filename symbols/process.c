/* process.c: the process object: opening a core, threads, module lookup, TLS offsets. */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "module.h"

const char *hs_symbol_source_name(enum hs_symbol_source src)
{
	switch (src) {
	case HS_SYMS_DYNSYM:
		return "dynsym";
	case HS_SYMS_SYMTAB:
		return "symtab";
	case HS_SYMS_DEBUGINFO:
		return "debuginfo";
	default:
		return "none";
	}
}

struct hs_error *hs_process_create(struct hs_process **ret)
{
	struct hs_process *proc = calloc(1, sizeof(*proc));
	if (!proc)
		return HS_ENOMEM;
	hs_memory_init(&proc->mem);
	hs_diags_init(&proc->diags);
	*ret = proc;
	return NULL;
}

void hs_process_destroy(struct hs_process *proc)
{
	if (!proc)
		return;
	for (size_t i = 0; i < proc->nmodules; i++)
		hs_module_deinit(&proc->modules[i]);
	free(proc->modules);
	free(proc->threads);
	free(proc->files);
	free(proc->exe_name);
	free(proc->psargs);
	free(proc->core_path);
	hs_diags_deinit(&proc->diags);
	hs_memory_deinit(&proc->mem);
	/* Last: memory ranges, file paths and auxv point into the core. */
	hs_core_destroy(proc->core);
	free(proc);
}

struct hs_error *hs_process_open(const char *core_path,
				 const struct hs_process_options *opts,
				 struct hs_process **ret)
{
	static const struct hs_process_options defaults = { 0 };
	if (!opts)
		opts = &defaults;
	struct hs_process *proc;
	struct hs_error *err = hs_process_create(&proc);
	if (err)
		return err;
	err = hs_core_open(core_path, proc);
	if (!err)
		err = hs_modules_load(proc, opts);
	if (err) {
		hs_process_destroy(proc);
		return err;
	}
	*ret = proc;
	return NULL;
}

struct hs_error *hs_process_add_thread(struct hs_process *proc,
				       const struct hs_thread *t)
{
	/* The capacity is not stored in the public struct: grow to the next
	 * power of two, which is what the count implies. */
	size_t cap = proc->nthreads;
	if (cap & (cap - 1)) {
		while (cap & (cap - 1))
			cap &= cap - 1;
		cap <<= 1;
	}
	if (!hs_grow((void **)&proc->threads, &cap, proc->nthreads + 1,
		     sizeof(*proc->threads)))
		return HS_ENOMEM;
	proc->threads[proc->nthreads++] = *t;
	return NULL;
}

/* The basename's stem: everything before the first ".so" that ends the
 * name or is followed by '.', e.g. "libc" for "libc.so.6". */
static size_t so_stem_len(const char *s)
{
	for (const char *p = s; (p = strstr(p, ".so")) != NULL; p += 3)
		if (p[3] == '\0' || p[3] == '.')
			return (size_t)(p - s);
	return strlen(s);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

struct hs_module *hs_process_find_module(struct hs_process *proc,
					 const char *basename, bool prefix)
{
	if (!proc || !basename)
		return NULL;
	size_t qlen = so_stem_len(basename);
	for (size_t i = 0; i < proc->nmodules; i++) {
		const char *b = base_name(proc->modules[i].name);
		if (strcmp(b, basename) == 0)
			return &proc->modules[i];
		if (prefix && so_stem_len(b) == qlen &&
		    strncmp(b, basename, qlen) == 0)
			return &proc->modules[i];
	}
	return NULL;
}

const struct hs_file_mapping *hs_process_file_at(const struct hs_process *proc,
						 uint64_t addr)
{
	/* Sorted by start (core.c); a hostile NT_FILE may overlap itself, and
	 * then the one starting last wins. */
	size_t lo = 0, hi = proc ? proc->nfiles : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (proc->files[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= proc->files[lo - 1].end)
		return NULL;
	return &proc->files[lo - 1];
}

struct hs_module *hs_process_module_at(struct hs_process *proc, uint64_t addr)
{
	if (!proc)
		return NULL;
	/* Modules are sorted by start and their spans do not overlap: most
	 * values asked about (integers, heap pointers) are outside them all. */
	if (!proc->nmodules || addr < proc->modules[0].start ||
	    addr >= proc->modules[proc->nmodules - 1].end)
		return NULL;
	size_t lo = 0, hi = proc->nmodules;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (proc->modules[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	struct hs_module *m = &proc->modules[lo - 1];
	return addr < m->end ? m : NULL;
}

struct hs_module *hs_process_main_module(struct hs_process *proc)
{
	if (!proc)
		return NULL;
	for (size_t i = 0; i < proc->nmodules; i++)
		if (proc->modules[i].is_main)
			return &proc->modules[i];
	return NULL;
}

const void *hs_process_ptr_or_file(struct hs_process *proc, uint64_t addr,
				   size_t len)
{
	const void *p = hs_memory_ptr(&proc->mem, addr, len);
	if (p)
		return p;
	struct hs_module *m = hs_process_module_at(proc, addr);
	return m ? hs_module_file_bytes(m, addr, len) : NULL;
}
