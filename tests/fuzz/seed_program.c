/* seed_program.c: a tiny program whose cores seed the fuzz corpora (see make_corpus.sh). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Built three times (glibc malloc, -ljemalloc, -ltcmalloc_minimal). It leaves
 * every kind of free-list state a walker must follow: thread caches, fast
 * bins, unsorted/small bins, a big mmapped chunk, and a second thread with
 * its own arena / cache. Then it prints "ready" and waits for gcore.
 */

static void *keep[64];
static pthread_barrier_t ready;

/* A second thread that stays alive, so its cache is in the core. */
static void *thread_main(void *arg)
{
	void **out = arg;
	for (int i = 0; i < 8; i++)
		out[i] = malloc(24 + 40 * i);
	for (int i = 0; i < 8; i += 2) {
		free(out[i]);
		out[i] = NULL;
	}
	pthread_barrier_wait(&ready);
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	/* Cached: more than a tcache bin holds, so some go to the fast bins. */
	void *small[12];
	for (int i = 0; i < 12; i++)
		small[i] = malloc(40);
	for (int i = 0; i < 12; i++)
		free(small[i]);
	/* Mixed sizes, every other one freed, with guards against merging. */
	for (int i = 0; i < 24; i++) {
		keep[i] = malloc(16 + 24 * (size_t)i);
		memset(keep[i], 'a' + i % 26, 16);
	}
	for (int i = 0; i < 24; i += 3) {
		free(keep[i]);
		keep[i] = NULL;
	}
	/* Large enough for the unsorted/large bins, and one mmapped chunk. */
	keep[40] = malloc(1200);
	keep[41] = malloc(16);
	free(keep[40]);
	keep[40] = NULL;
	keep[42] = malloc(300000);

	pthread_t t;
	static void *tkeep[8];
	pthread_barrier_init(&ready, NULL, 2);
	if (pthread_create(&t, NULL, thread_main, tkeep) != 0)
		return 1;
	pthread_barrier_wait(&ready);

	/* write(2), not stdio: a stdout buffer would be one more heap page. */
	if (write(1, "ready\n", 6) != 6)
		return 1;
	for (;;)
		pause();
}
