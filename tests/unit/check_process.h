/* check_process.h: a synthetic process (a heap range and one module's range) for the unit tests that classify or mark. */
#ifndef HS_TESTS_UNIT_CHECK_PROCESS_H
#define HS_TESTS_UNIT_CHECK_PROCESS_H

#include <stdlib.h>
#include <string.h>

#include "../../symbols/symbols.h"
#include "check.h"

/*
 * A process whose memory is the caller's two buffers: the heap's bytes at
 * heap_at (read-write) and a module "/synthetic/module" spanning mod_at with
 * its bytes and ELF segment flags (4: read-only, 6: read-write, a root). The
 * buffers must outlive the process; free it with hs_process_destroy().
 */
static inline struct hs_process *check_process_create(uint64_t heap_at, const uint8_t *heap,
						      size_t heap_size, uint64_t mod_at,
						      const uint8_t *mod, size_t mod_size,
						      uint32_t mod_flags)
{
	struct hs_process *proc;
	CHECK(!hs_process_create(&proc));
	CHECK(!hs_memory_add(&proc->mem, heap_at, heap_size, heap, heap_size, 6));
	CHECK(!hs_memory_add(&proc->mem, mod_at, mod_size, mod, mod_size, mod_flags));
	CHECK(!hs_memory_seal(&proc->mem));
	proc->modules = calloc(1, sizeof(*proc->modules));
	proc->modules[0].name = strdup("/synthetic/module");
	proc->modules[0].start = mod_at;
	proc->modules[0].end = mod_at + mod_size;
	proc->nmodules = 1;
	return proc;
}

#endif
