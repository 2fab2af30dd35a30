/* parallel.c: running one worker function on several threads at once. */
#include <pthread.h>
#include <unistd.h>

#include "parallel.h"

unsigned hs_parallel_threads(unsigned want)
{
	if (!want) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		want = n > 0 ? (unsigned)n : 1;
	}
	return want > HS_MAX_THREADS ? HS_MAX_THREADS : want;
}

struct hs_error *hs_parallel(unsigned n, void *(*fn)(void *arg), void *arg)
{
	pthread_t tids[HS_MAX_THREADS];
	unsigned started = 0;
	if (n > HS_MAX_THREADS)
		n = HS_MAX_THREADS;
	for (unsigned i = 1; i < n; i++) {
		if (pthread_create(&tids[started], NULL, fn, arg) != 0)
			break;
		started++;
	}
	fn(arg);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	return NULL;
}
