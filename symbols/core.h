/* core.h: private to symbols/: the mmapped core file and its parser. */
#ifndef HS_SYMBOLS_CORE_H
#define HS_SYMBOLS_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "symbols.h"

/* The core file: a read-only private mapping that proc->mem, proc->files
 * (paths) and the note pointers point into. Lives as long as the process. */
struct hs_core {
	const uint8_t *map; /* NULL when the file is empty */
	size_t size;
	uint64_t *auxv;     /* aligned copy of NT_AUXV (pairs), owned */
};

/*
 * Map `path` read-only and parse it into `proc` (memory, threads, NT_FILE
 * mappings, auxv, prpsinfo, core_path, core_bytes). On success proc->core
 * owns the mapping. On failure proc may hold partial results; the caller
 * destroys it. Errors as documented for hs_process_open().
 */
struct hs_error *hs_core_open(const char *path, struct hs_process *proc);

/*
 * Parse an in-memory core image (used by hs_core_open and by tests). `name`
 * names the input in messages. The image must outlive proc. Memory is sealed
 * on success.
 */
struct hs_error *hs_core_parse(const uint8_t *image, size_t size,
			       const char *name, struct hs_process *proc);

/* Unmap and free; takes NULL. */
void hs_core_destroy(struct hs_core *core);

#endif
