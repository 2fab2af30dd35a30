/* module.h: private to symbols/: building modules from NT_FILE and their ELF files. */
#ifndef HS_SYMBOLS_MODULE_H
#define HS_SYMBOLS_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "symbols.h"

/*
 * Find the modules in proc->files (which must be parsed and proc->mem
 * sealed), open their files and load symbols. Problems with a module are
 * diagnostics in proc->diags; only running out of memory is an error.
 * proc->modules ends up sorted by start.
 */
struct hs_error *hs_modules_load(struct hs_process *proc,
				 const struct hs_process_options *opts);

/* Free what a module owns (names, mapped files, symbol tables). */
void hs_module_deinit(struct hs_module *mod);

/* The module file's bytes from runtime address addr to the end of the
 * PT_LOAD file image that holds it; *avail is that length. NULL if none. */
const uint8_t *hs_module_file_span(struct hs_module *mod, uint64_t addr,
				   size_t *avail);

#endif
