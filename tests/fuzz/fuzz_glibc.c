/* fuzz_glibc.c: fuzz target: the glibc walk engine over synthetic memory. */
#include <stdio.h>
#include <stdlib.h>

#include "../../analyzer/analyzer.h"
#include "../../heapwalk/glibc.h"
#include "fuzz_check.h"
#include "fuzz_synth.h"

/*
 * Input: the fuzz_synth format (fuzz_synth.h). flags bits 0-7 are the glibc
 * minor version whose layout row is used (any other value picks a row by
 * index, modulo the table), bit 8 says the tcaches are known;
 * params[0] is &main_arena, params[1] &mp_ (0: unknown), and params[2...]
 * are the threads' `tcache` values. Locating the globals (symbols,
 * disassembly, TLS) is the core target's job; this one goes straight to the
 * engine that follows pointers through memory, which is where a hostile
 * heap bites.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_fuzz_synth s;
	if (!hs_fuzz_synth_init(&s, data, size, true))
		return 0;
	size_t nrows;
	const struct hs_glibc_layout *rows = hs_glibc_layouts(&nrows);
	const struct hs_glibc_layout *L = hs_glibc_layout_find(2, s.flags & 0xff);
	if (!L)
		L = &rows[(s.flags & 0xff) % nrows];

	struct hs_glibc_tcache tc[HS_FUZZ_MAX_PARAMS];
	size_t ntc = 0;
	for (size_t i = 2; i < s.nparams; i++) {
		tc[ntc].tid = (int32_t)(i - 1);
		tc[ntc].tcache = s.params[i];
		ntc++;
	}
	struct hs_glibc_where where = {
		.main_arena = s.nparams > 0 ? s.params[0] : 0,
		.mp = s.nparams > 1 ? s.params[1] : 0,
		.tcaches = ntc ? tc : NULL,
		.ntcaches = ntc,
		.tcaches_known = (s.flags & 0x100) != 0,
	};

	struct hs_heap *heap;
	struct hs_error *err = hs_heap_create(&heap);
	if (err)
		abort();
	/* Flag 0x200: a main heap of any length walked by two threads
	 * (glibc_split.c), which must change nothing. */
	struct hs_walk_options wo = {.threads = (s.flags & 0x200) ? 2 : 1, .split_min = 1};
	err = hs_glibc_walk_at(s.proc, L, &where, &wo, heap);
	hs_fuzz_check_walk(s.proc, heap, err);
	hs_heap_destroy(heap);
	hs_fuzz_synth_deinit(&s);
	return 0;
}
