/* progress.c: a progress line on stderr for long analyses: phase, bytes done, rate, ETA. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "progress.h"

struct hs_progress {
	FILE *out;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop, drawn;
	const char *phase; /* under lock */
	uint64_t total;    /* under lock */
	double started;    /* under lock: when the phase began */
	uint64_t done;     /* atomic */
};

static double hs_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *hs_human(double b, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	unsigned u = 0;
	while (b >= 1024 && u + 1 < HS_ARRAY_SIZE(units)) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
	return buf;
}

static void hs_progress_draw(struct hs_progress *p)
{
	if (!p->phase)
		return;
	uint64_t done = __atomic_load_n(&p->done, __ATOMIC_RELAXED);
	double secs = hs_now() - p->started;
	double rate = secs > 0 ? (double)done / secs : 0;
	char d[32], t[32], r[32], eta[32] = "";
	if (done > p->total)
		done = p->total;
	if (rate > 0 && p->total > done)
		snprintf(eta, sizeof(eta), ", ETA %.0f s", (double)(p->total - done) / rate);
	fprintf(p->out, "\r\033[Kheapscope: %s: %s of %s (%.0f%%), %s/s%s", p->phase,
		hs_human((double)done, d, sizeof(d)), hs_human((double)p->total, t, sizeof(t)),
		p->total ? 100.0 * (double)done / (double)p->total : 100.0,
		hs_human(rate, r, sizeof(r)), eta);
	fflush(p->out);
	p->drawn = true;
}

static void *hs_progress_main(void *arg)
{
	struct hs_progress *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &ts);
		if (!p->stop)
			hs_progress_draw(p);
	}
	if (p->drawn) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct hs_progress *hs_progress_create(FILE *out, bool enabled)
{
	if (!enabled)
		return NULL;
	struct hs_progress *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->out = out;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, hs_progress_main, p) != 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	return p;
}

void hs_progress_destroy(struct hs_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void hs_progress_phase(struct hs_progress *p, const char *name, uint64_t total)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->phase = name;
	p->total = total;
	p->started = hs_now();
	__atomic_store_n(&p->done, 0, __ATOMIC_RELAXED);
	/* Every phase shows at least once, however short. */
	hs_progress_draw(p);
	pthread_mutex_unlock(&p->lock);
}

void hs_progress_add(struct hs_progress *p, uint64_t bytes)
{
	if (p)
		__atomic_fetch_add(&p->done, bytes, __ATOMIC_RELAXED);
}
