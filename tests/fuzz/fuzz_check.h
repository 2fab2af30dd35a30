/* fuzz_check.h: properties every fuzz target checks on what the code under test returns. */
#ifndef HS_FUZZ_CHECK_H
#define HS_FUZZ_CHECK_H

#include "../../analyzer/analyzer.h"
#include "../../common/common.h"
#include "../../heapwalk/heapwalk.h"
#include "../../symbols/symbols.h"

/*
 * Each check abort()s with a message on stderr when the property fails, so
 * libFuzzer records the input as a crash like any sanitizer report.
 */

/* An error is one non-empty line (the CLI prints it as is). */
void hs_fuzz_check_error(const struct hs_error *err);

/*
 * A finished (sorted) heap: no chunk reported twice (a double count is a
 * silent wrong total), states in range, sizes that do not wrap the address
 * space, hs_heap_chunk_at finding each chunk, and a report that can be built
 * from it and written as JSON and text.
 */
void hs_fuzz_check_heap(struct hs_process *proc, const struct hs_heap *heap);

/*
 * What a walk into `heap` returned: its error, which must be one line (and
 * is destroyed here), or else the heap, finished and checked as
 * hs_fuzz_check_heap does. The caller still owns and destroys the heap.
 */
void hs_fuzz_check_walk(struct hs_process *proc, struct hs_heap *heap, struct hs_error *err);

/* Write the report as JSON and as text to /dev/null; only running out of
 * memory may fail. */
void hs_fuzz_write_reports(const struct hs_report *r);

/* The bytes in a memfd; `path` gets its /proc/self/fd name. The caller
 * closes the returned descriptor. Aborts if the memfd cannot be made. */
int hs_fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t pathlen);

/*
 * The bytes as a core file, through the whole production path of
 * `heapscope analyze --json`: hs_analysis_run (core reader, modules,
 * allocator detection and walk, report) and both writers. An error must be
 * one line; writing a report must not fail.
 */
void hs_fuzz_analyze_core(const uint8_t *data, size_t size,
			  const struct hs_analyze_options *opts);

#endif
