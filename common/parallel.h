/* parallel.h: running one worker function on several threads at once. */
#ifndef HS_PARALLEL_H
#define HS_PARALLEL_H

#include "common.h"

/* The most threads any analysis uses: more cores than this do not pay for
 * the memory bandwidth they share. */
#define HS_MAX_THREADS 8

/* How many threads to use for `want` (0: one per online CPU), 1 to
 * HS_MAX_THREADS. */
unsigned hs_parallel_threads(unsigned want);

/*
 * Run fn(arg) on n threads (the caller's thread is one of them) and wait
 * for all. Workers share arg and take work from it themselves (an atomic
 * counter), so the split does not depend on n. When a thread cannot be
 * started, fewer run: the work still gets done. Errors: none today; the
 * type leaves room for a pool that can fail.
 */
struct hs_error *hs_parallel(unsigned n, void *(*fn)(void *arg), void *arg);

#endif
