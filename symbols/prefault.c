/* prefault.c: a second thread that maps the core's pages ahead of a single-threaded phase. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"
#include "prefault.h"

/* Bytes mapped by one call: a stop waits for at most one. */
#define HS_PREFAULT_STRETCH ((size_t)8 << 20)

struct hs_prefault {
	pthread_t thread;
	const volatile uint8_t *map;
	size_t size, page;
	int stop; /* atomic */
};

static void *hs_prefault_main(void *arg)
{
	struct hs_prefault *pf = arg;
	uint8_t sum = 0;
	size_t off = 0;
#ifdef MADV_POPULATE_READ
	/* The kernel maps a stretch in one call (Linux 5.14), rather than one
	 * fault a page; on an older kernel (EINVAL) the loop below touches the
	 * pages. Any other failure ends the read-ahead, which only saves
	 * time. */
	for (; off < pf->size; off += HS_PREFAULT_STRETCH) {
		if (__atomic_load_n(&pf->stop, __ATOMIC_RELAXED))
			return NULL;
		size_t n = pf->size - off < HS_PREFAULT_STRETCH ? pf->size - off : HS_PREFAULT_STRETCH;
		if (madvise((void *)(pf->map + off), n, MADV_POPULATE_READ)) {
			if (errno != EINVAL)
				return NULL;
			break;
		}
	}
#endif
	for (; off < pf->size; off += pf->page) {
		/* A stop costs at most 64 more pages. */
		if (!((off / pf->page) & 63) && __atomic_load_n(&pf->stop, __ATOMIC_RELAXED))
			break;
		sum += pf->map[off];
	}
	(void)sum;
	return NULL;
}

struct hs_prefault *hs_prefault_start(const struct hs_process *proc, unsigned threads)
{
	if (threads < 2 || !proc || !proc->core || !proc->core->map)
		return NULL;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || psize <= 0 ||
	    proc->core->size / 4 >= (uint64_t)pages * (uint64_t)psize / 16)
		return NULL;
	struct hs_prefault *pf = calloc(1, sizeof(*pf));
	if (!pf)
		return NULL; /* only speed is lost */
	pf->map = proc->core->map;
	pf->size = proc->core->size;
	pf->page = (size_t)psize;
	if (pthread_create(&pf->thread, NULL, hs_prefault_main, pf)) {
		free(pf);
		return NULL;
	}
	return pf;
}

void hs_prefault_stop(struct hs_prefault *pf)
{
	if (!pf)
		return;
	__atomic_store_n(&pf->stop, 1, __ATOMIC_RELAXED);
	pthread_join(pf->thread, NULL);
	free(pf);
}
