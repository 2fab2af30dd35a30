/* bench_tcmalloc_fill.c: millions of tcmalloc objects of mixed sizes, for bench_tcmalloc.sh. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "../testdata/fixtures/fixture_tcmalloc.h"
#include "bench_fill_common.h"

/*
 * NTHREADS threads allocate PER_THREAD objects each: 80% of 16..128 bytes,
 * 19% of 128..512, 1% of 512..8192 (about 2.56 M objects, ~0.45 GB of
 * address space), then free every 7th: the frees fill the thread caches,
 * the transfer cache and the spans' free lists. A few large blocks, some
 * freed, give page-heap spans. Like a golden fixture it records tcmalloc's
 * properties to argv[1] (if given), prints "ready" and waits to be killed.
 *
 * `bench_tcmalloc_fill STATS N [SIZE]` makes the scale benches' run instead
 * (bench_fill_run_objects): N objects of the SIZE-byte class (default 32)
 * in small-object spans, for bench/scale.
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
	for (size_t i = 0; i < 8; i++) {
		void *big = malloc((size_t)(1 + i) << 20);
		if (!big)
			fx_die("malloc");
		((volatile char *)big)[0] = 1;
		if (i % 2)
			free(big);
	}
	pthread_barrier_wait(f->done);
	for (;;)
		pause();
	return NULL;
}

static int object_is(void *p, size_t size)
{
	(void)p;
	return fx_tcmalloc_size(size) == size;
}

int main(int argc, char **argv)
{
	if (argc > 2)
		return bench_fill_run_objects(argv, bench_fill_size(argv), object_is,
					      fx_tcmalloc_stats);
	return bench_fill_run(argc, argv, NTHREADS, fill, fx_tcmalloc_stats);
}
