/* bench_fill_common.h: what the bench fill programs share: the random size mix and the threads-then-record driver. */
#ifndef HS_BENCH_FILL_COMMON_H
#define HS_BENCH_FILL_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

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
 * of them have filled. A filler waits on `done`, then parks forever. */
struct filler {
	unsigned id;
	pthread_barrier_t *done;
};

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
	if (argc > 1) {
		struct fx_out out;
		out.len = 0;
		record(&out);
		fx_write_file(argv[1], &out);
	}
	fx_ready_and_park();
	return 0;
}

#endif
