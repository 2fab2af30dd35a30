/* bench_glibc_fill.c: fill glibc's heap with millions of chunks of mixed sizes, for bench_glibc.sh. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "../testdata/fixtures/fixture_common.h"
#include "bench_fill_common.h"

/*
 * NTHREADS threads (one arena each) allocate PER_THREAD chunks each:
 * 80% of 16..128 bytes, 19% of 128..512, 1% of 512..8192 (about 170 bytes
 * on average, so 2.56 M chunks are ~430 MB), then free every 7th: the
 * frees land in tcaches, fastbins, the unsorted list and coalesced free
 * chunks. Like a golden fixture, it records mallinfo2() to argv[1] (if
 * given), prints "ready" and waits to be killed.
 *
 * `bench_glibc_fill STATS N [SIZE]` makes the scale benches' run instead
 * (bench_fill_run_objects): N chunks of SIZE bytes (header included; a
 * multiple of 16, at least 32; default 32) in the main arena's heap, one
 * after the other. bench/scale times the 40 M-chunk core, and
 * bench/aliased_core grows such a core to billions of chunks.
 */

#define NTHREADS 4
#define PER_THREAD 640000
#define FREE_EVERY 7

static void *fill(void *arg)
{
	struct filler *f = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (f->id + 1);
	void **p = malloc(PER_THREAD * sizeof(*p));
	if (!p)
		fx_die("malloc");
	f->keep = p;
	for (size_t i = 0; i < PER_THREAD; i++) {
		size_t n = pick_size(&seed, 7681);
		p[i] = malloc(n);
		if (!p[i])
			fx_die("malloc");
		((volatile char *)p[i])[n - 1] = (char)i;
	}
	for (size_t i = 0; i < PER_THREAD; i += FREE_EVERY)
		free(p[i]);
	pthread_barrier_wait(f->done);
	for (;;)
		pause();
	return NULL;
}

static int chunk_is(void *p, size_t size)
{
	return fx_glibc_header(p) == size && !fx_glibc_is_mmapped(p);
}

int main(int argc, char **argv)
{
	if (argc > 2) {
		uint64_t size = bench_fill_size(argv);
		if (size < 32 || size % 16)
			fx_die("SIZE must be a multiple of 16, at least 32");
		return bench_fill_run_objects(argv, size - 8, chunk_is, fx_glibc_stats);
	}
	return bench_fill_run(argc, argv, NTHREADS, fill, fx_glibc_stats);
}
