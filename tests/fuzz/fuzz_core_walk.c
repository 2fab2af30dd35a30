/* fuzz_core_walk.c: fuzz target: a core file, analysed with the real module files. */
#include "fuzz_check.h"

/*
 * As `heapscope analyze --no-debuginfo`: module paths and build-ids come from
 * the fuzzed core, the files are this machine's (opened read-only, as ELF
 * only), and the allocator walker locates its globals through their symbols
 * and code, then follows pointers through the fuzzed memory. Loading libc's
 * symbols costs about a millisecond a run, so this target is slower than
 * fuzz_core; the seeds (corpus/core) are shared.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_analyze_options opts = { .no_debuginfo = true };
	hs_fuzz_analyze_core(data, size, &opts);
	return 0;
}
