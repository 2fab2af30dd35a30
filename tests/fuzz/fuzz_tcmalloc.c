/* fuzz_tcmalloc.c: fuzz target: the tcmalloc walk engine over synthetic memory. */
#include <stdlib.h>

#include "../../heapwalk/tcmalloc_internal.h"
#include "fuzz_check.h"
#include "fuzz_tcm_rows.h"
#include "fuzz_synth.h"

/*
 * Input: the fuzz_synth format (fuzz_synth.h). flags bits 0-7 pick the
 * layout row (fuzz_tcm_rows.h), bit 8 says the build can have sampled
 * spans; params[0] is Static::pageheap_, [1] Static::sizemap_, [2]
 * Static::central_cache_, [3] &ThreadCache::thread_heaps_, and params[4...]
 * are the threads' fs_base. The structural check that locating applies to
 * candidates runs first, then the walk whatever it said.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_fuzz_synth s;
	if (!hs_fuzz_synth_init(&s, data, size, true))
		return 0;
	const struct hs_tcm_layout *L = hs_fuzz_tcm_row(s.flags & 0xff);
	uint64_t p[4] = { 0 };
	for (size_t i = 0; i < 4 && i < s.nparams; i++)
		p[i] = s.params[i];
	for (size_t i = 4; i < s.nparams; i++) {
		struct hs_thread t = { .tid = (int32_t)(i - 3), .fs_base = s.params[i] };
		struct hs_error *err = hs_process_add_thread(s.proc, &t);
		if (err)
			abort();
	}
	struct hs_tcm_addrs a = {
		.pageheap = p[0],
		.sizemap = p[1],
		.central_cache = p[2],
		.thread_heaps = p[3],
	};
	char why[256];
	hs_tcm_validate(&s.proc->mem, L, &a, why, sizeof(why));

	struct hs_heap *heap;
	struct hs_error *err = hs_heap_create(&heap);
	if (err)
		abort();
	err = hs_tcmalloc_walk_at(s.proc, L, &a, (s.flags & 0x100) != 0, heap);
	hs_fuzz_check_walk(s.proc, heap, err);
	hs_heap_destroy(heap);
	hs_fuzz_synth_deinit(&s);
	return 0;
}
