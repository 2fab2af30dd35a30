/* fuzz_core.c: fuzz target: a core file, read and analysed, with no module files. */
#include "fuzz_check.h"

/*
 * The core reader (ELF header, program headers, notes, the PT_LOAD map) and
 * everything that reads the core's own bytes: the modules' ELF headers and
 * build-ids in memory, allocator detection, the report and its writers. The
 * module files are looked up under a sysroot that does not exist, so no
 * file on disk is loaded: this keeps the target at thousands of runs per
 * second. fuzz_core_walk is the same with the real files, so that allocator
 * locating (symbols, disassembly, TLS slots) runs against fuzzed memory.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_analyze_options opts = {
		.sysroot = "/nonexistent/heapscope-fuzz-sysroot",
		.no_debuginfo = true,
	};
	hs_fuzz_analyze_core(data, size, &opts);
	return 0;
}
