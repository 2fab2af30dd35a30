/* fuzz_jemalloc4.c: fuzz target: the jemalloc 4.x walk engine over synthetic memory. */
#include <stdlib.h>

#include "../../heapwalk/jemalloc4_internal.h"
#include "fuzz_check.h"
#include "fuzz_synth.h"

/*
 * Input: the fuzz_synth format (fuzz_synth.h). flags bits 0-2 choose the
 * layout row (modulo the number of rows), bit 3 says the TLS offset of tsd
 * is known; params[0] is &je_chunks_rtree, [1] &je_index2size_tab, [2]
 * &je_arena_bin_info, [3] &arenas[0], [4] narenas_total (0: unknown), [5]
 * the tsd TLS offset, and params[6...] are the threads' fs_base. The seed
 * (corpus/jemalloc4/) is a real jemalloc 4.0.3 process (seed_program.c).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_fuzz_synth s;
	if (!hs_fuzz_synth_init(&s, data, size, true))
		return 0;
	size_t nrows;
	const struct hs_je4_layout *rows = hs_je4_layouts(&nrows);
	const struct hs_je4_layout *L = &rows[(s.flags & 7) % nrows];
	uint64_t p[6] = { 0 };
	for (size_t i = 0; i < 6 && i < s.nparams; i++)
		p[i] = s.params[i];
	for (size_t i = 6; i < s.nparams; i++) {
		struct hs_thread t = { .tid = (int32_t)(i - 5), .fs_base = s.params[i] };
		struct hs_error *err = hs_process_add_thread(s.proc, &t);
		if (err)
			abort();
	}
	struct hs_je4_globals g = {
		.rtree = p[0],
		.sz_tab = p[1],
		.bin_info = p[2],
		.arenas = p[3],
		.narenas = (unsigned)(p[4] & 0xffff),
		.has_tpoff = (s.flags & 8) != 0,
		.tsd_tpoff = (int64_t)p[5],
	};
	struct hs_heap *heap;
	struct hs_error *err = hs_heap_create(&heap);
	if (err)
		abort();
	unsigned mismatches;
	err = hs_jemalloc4_walk_at(s.proc, L, &g, heap, &mismatches);
	hs_fuzz_check_walk(s.proc, heap, err);
	hs_heap_destroy(heap);
	hs_fuzz_synth_deinit(&s);
	return 0;
}
