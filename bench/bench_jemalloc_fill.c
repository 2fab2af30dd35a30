/* bench_jemalloc_fill.c: millions of jemalloc regions, for bench_jemalloc.sh. */
#include <jemalloc/jemalloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "../testdata/fixtures/fixture_common.h"
#include "bench_fill_common.h"

/*
 * NTHREADS threads (an auto arena and a tcache each) allocate PER_THREAD
 * objects each: 80% of 16..128 bytes, 19% of 128..512, 1% of 512..40960
 * (small and large classes), then free every 7th, so slabs are partly
 * free and tcaches full. Like a golden fixture it records jemalloc's
 * stats.allocated / stats.active after an epoch refresh to argv[1], prints
 * "ready" and waits to be killed.
 *
 * `bench_jemalloc_fill STATS N [SIZE]` makes the scale benches' run instead
 * (bench_fill_run_objects): N regions of the SIZE-byte class (default 32)
 * in one arena's slabs, for bench/scale.
 */

#define NTHREADS 4
#define PER_THREAD 640000
#define FREE_EVERY 7

static pthread_barrier_t done;
/* Each filler's pointer array, where a root reaches it (a local the
 * compiler no longer needs is no reference: the heap would read as leaked). */
static void **kept[NTHREADS];

static void *fill(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
	void **keep = malloc(sizeof(void *) * PER_THREAD);
	if (!keep)
		fx_die("malloc");
	kept[(uintptr_t)arg % NTHREADS] = keep;
	for (size_t i = 0; i < PER_THREAD; i++) {
		keep[i] = malloc(pick_size(&seed, 40449));
		if (!keep[i])
			fx_die("malloc");
		*(char *)keep[i] = 1;
	}
	for (size_t i = 0; i < PER_THREAD; i += FREE_EVERY) {
		free(keep[i]);
		keep[i] = NULL;
	}
	pthread_barrier_wait(&done);
	for (;;)
		pause();
	return NULL;
}

static size_t stat_size(const char *name)
{
	size_t v = 0, len = sizeof(v);
	if (mallctl(name, &v, &len, NULL, 0) != 0)
		fx_die(name);
	return v;
}

static void record(struct fx_out *out)
{
	uint64_t epoch = 1;
	size_t len = sizeof(epoch);
	if (mallctl("epoch", &epoch, &len, &epoch, len) != 0)
		fx_die("epoch");
	fx_stat(out, "stats.allocated", stat_size("stats.allocated"));
	fx_stat(out, "stats.active", stat_size("stats.active"));
}

static int region_is(void *p, size_t size)
{
	return malloc_usable_size(p) == size;
}

int main(int argc, char **argv)
{
	static struct fx_out out;
	if (argc > 2)
		return bench_fill_run_objects(argv, bench_fill_size(argv), region_is, record);
	pthread_barrier_init(&done, NULL, NTHREADS + 1);
	pthread_t t[NTHREADS];
	for (uintptr_t i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, fill, (void *)i) != 0)
			fx_die("pthread_create");
	pthread_barrier_wait(&done);
	record(&out);
	if (argc > 1)
		fx_write_file(argv[1], &out);
	fx_ready_and_park();
	return 0;
}
