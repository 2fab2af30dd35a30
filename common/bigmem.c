/* bigmem.c: big arrays on transparent huge pages, where a page fault per 4 KiB is the cost. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "common.h"

/*
 * Why: the arrays of a dominator tree or of a chunk census over millions of
 * chunks are hundreds of MiB, written once soon after they are allocated.
 * At one fault per 4 KiB page that is 50,000 faults for 200 MiB, and on a
 * virtual machine (where heapscope usually runs) each one costs several
 * microseconds: a third of the time of the 2.5 M-chunk bench. Debian's
 * default transparent-huge-page mode is "madvise", so a block gets 2 MiB
 * pages only when asked. glibc serves blocks this big with mmap (or from the
 * top of the heap), and free() and realloc() (mremap, which keeps the
 * advice) keep working on them unchanged.
 */
#define HS_HUGE_MIN (UINT64_C(4) << 20)
#define HS_HUGE_PAGE (UINT64_C(2) << 20)

void hs_mem_huge(void *p, size_t bytes)
{
	if (!p || bytes < HS_HUGE_MIN)
		return;
	/* The whole 2 MiB pages inside the block; the advice is a hint, and a
	 * kernel without THP refuses it harmlessly. */
	uintptr_t lo = ((uintptr_t)p + HS_HUGE_PAGE - 1) & ~(uintptr_t)(HS_HUGE_PAGE - 1);
	uintptr_t hi = ((uintptr_t)p + bytes) & ~(uintptr_t)(HS_HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
	(void)lo;
	(void)hi;
#endif
}

void *hs_calloc_big(size_t n, size_t elem)
{
	void *p = calloc(n ? n : 1, elem ? elem : 1);
	if (p && n && elem)
		hs_mem_huge(p, n * elem);
	return p;
}

void *hs_malloc_big(size_t n, size_t elem)
{
	if (elem && n > SIZE_MAX / elem)
		return NULL;
	void *p = malloc(n && elem ? n * elem : 1);
	if (p && n && elem)
		hs_mem_huge(p, n * elem);
	return p;
}
