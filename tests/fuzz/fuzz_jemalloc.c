/* fuzz_jemalloc.c: fuzz target: the jemalloc walk engine over synthetic memory. */
#include <stdlib.h>

#include "../../heapwalk/jemalloc_internal.h"
#include "fuzz_check.h"
#include "fuzz_synth.h"

/*
 * Input: the fuzz_synth format (fuzz_synth.h). flags bits 0-5 are the
 * build's LG_VADDR (0: detect it from the rtree, as the walker does when
 * symbols do not say), bit 6 says the TLS offset of tsd is known; params[0]
 * is &je_arena_emap_global, [1] &je_sz_index2size_tab, [2] &je_arenas, [3]
 * the tsd TLS offset, and params[4...] are the threads' fs_base. The layout
 * row is the newest one (5.3.0), or 5.2.1's (the extents model) with flags
 * bit 7. The rtree probe runs first, as locating does, then the walk.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_fuzz_synth s;
	if (!hs_fuzz_synth_init(&s, data, size, true))
		return 0;
	const struct hs_je_layout *L = (s.flags & 0x80) ?
		hs_je_layout_for_version("5.2.1") : hs_je_layout_default();
	if (!L)
		L = hs_je_layout_default();
	uint64_t p[4] = { 0 };
	for (size_t i = 0; i < 4 && i < s.nparams; i++)
		p[i] = s.params[i];
	for (size_t i = 4; i < s.nparams; i++) {
		struct hs_thread t = { .tid = (int32_t)(i - 3), .fs_base = s.params[i] };
		struct hs_error *err = hs_process_add_thread(s.proc, &t);
		if (err)
			abort();
	}
	struct hs_je_globals g = {
		.emap = p[0],
		.sz_tab = p[1],
		.arenas = p[2],
		.has_tpoff = (s.flags & 0x40) != 0,
		.tsd_tpoff = (int64_t)p[3],
		.lg_vaddr = s.flags & 0x3f,
	};
	unsigned score;
	hs_je_rtree_detect(&s.proc->mem, L, g.emap, &score);

	struct hs_heap *heap;
	struct hs_error *err = hs_heap_create(&heap);
	if (err)
		abort();
	err = hs_jemalloc_walk_at(s.proc, L, &g, heap);
	hs_fuzz_check_walk(s.proc, heap, err);
	hs_heap_destroy(heap);
	hs_fuzz_synth_deinit(&s);
	return 0;
}
