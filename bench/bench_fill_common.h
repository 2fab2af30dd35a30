/* bench_fill_common.h: what the bench fill programs share: the random size mix and the threads-then-record driver. */
#ifndef HS_BENCH_FILL_COMMON_H
#define HS_BENCH_FILL_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* 80% of 16..128 bytes, 19% of 128..512, 1% of 512..512 + large_span - 1. */
static size_t pick_size(uint64_t *s, uint64_t large_span)
{
	uint64_t r = xorshift(s);
	unsigned bucket = (unsigned)(r % 100);
	r >>= 8;
	if (bucket < 80)
		return 16 + r % 113;
	if (bucket < 99)
		return 128 + r % 385;
	return 512 + r % large_span;
}

/* What each filler thread gets: its number, and the barrier that says all
 * of them have filled. A filler waits on `done`, then parks forever. It
 * keeps its pointer array in `keep` (the fillers are a static array, a
 * root): a local the compiler no longer needs is no reference, and the
 * reachability analysis would rightly call the whole heap leaked. */
struct filler {
	unsigned id;
	pthread_barrier_t *done;
	void **keep;
};

/* Record the allocator's statistics with `record` into `stats` (unless
 * NULL), print "ready" and park until killed. */
static inline void bench_fill_record_and_park(const char *stats,
					      void (*record)(struct fx_out *))
{
	if (stats) {
		struct fx_out out;
		out.len = 0;
		record(&out);
		fx_write_file(stats, &out);
	}
	fx_ready_and_park();
}

/*
 * Run nthreads (<= 64) fillers, wait until all have filled, then, like a
 * golden fixture, record the allocator's statistics with `record` into
 * argv[1] (if given), print "ready" and park until killed. Needs
 * fixture_common.h (fx_*) included first.
 */
static inline int bench_fill_run(int argc, char **argv, unsigned nthreads, void *(*fill)(void *),
				 void (*record)(struct fx_out *))
{
	static struct filler f[64];
	pthread_barrier_t done;
	pthread_t tid;
	if (nthreads > 64 || pthread_barrier_init(&done, NULL, nthreads + 1) != 0)
		fx_die("pthread_barrier_init");
	for (unsigned i = 0; i < nthreads; i++) {
		f[i].id = i;
		f[i].done = &done;
		errno = pthread_create(&tid, NULL, fill, &f[i]);
		if (errno)
			fx_die("pthread_create");
	}
	pthread_barrier_wait(&done);
	bench_fill_record_and_park(argc > 1 ? argv[1] : NULL, record);
	return 0;
}

/* SIZE, the run's object size, from `STATS N [SIZE]` (default 32). */
static inline uint64_t bench_fill_size(char **argv)
{
	char *end;
	if (!argv[3])
		return 32;
	errno = 0;
	uint64_t size = strtoull(argv[3], &end, 10);
	if (errno || *end || size < 8 || size > 4096)
		fx_die("SIZE must be a number from 8 to 4096");
	return size;
}

/*
 * The scale benches' heap (bench/scale, bench/aliased_core): a fill
 * program given `STATS N [SIZE]` runs this instead of its mixed fill. One
 * thread allocates an array of N pointers first (one large allocation, so
 * nothing interrupts what follows), then N objects of `request` bytes, each
 * holding its index and no pointer, kept in the array: the heap is one long
 * run of equal chunks (regions, objects), periodic in its headers. `check`
 * says whether the first object got the planned size (its chunk, region
 * or object is SIZE bytes), so a program never records a run it did not
 * make. Then, like bench_fill_run, it records the allocator's statistics
 * with `record` into STATS, prints "ready" and parks until killed.
 */
static inline int bench_fill_run_objects(char **argv, size_t request,
					 int (*check)(void *p, size_t size),
					 void (*record)(struct fx_out *))
{
	char *end;
	errno = 0;
	uint64_t n = strtoull(argv[2], &end, 10);
	if (errno || *end || n == 0 || n > (UINT64_C(1) << 36))
		fx_die("N (objects) must be a number from 1 to 2^36");
	uint64_t size = bench_fill_size(argv);
	void **p = malloc(n * sizeof(*p));
	if (!p)
		fx_die("malloc (the pointer array)");
	for (uint64_t i = 0; i < n; i++) {
		p[i] = malloc(request);
		if (!p[i])
			fx_die("malloc");
		*(volatile uint64_t *)p[i] = i;
		if (i == 0 && !check(p[i], size))
			fx_die("an object does not have the planned size");
	}
	bench_fill_record_and_park(argv[1], record);
	return 0;
}

#endif
