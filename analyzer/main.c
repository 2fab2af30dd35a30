/* main.c: the heapscope executable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyzer.h"

/*
 * glibc malloc's settings for an analysis (docs/scale.md, "Memory
 * policy"). An analysis allocates arrays of hundreds of MiB one phase after
 * another (the chunk census, the dominator tree and its scratch) and frees
 * each before the next. By default glibc serves each with a new mmap of
 * 4 KiB pages and unmaps it at free(), so every phase faults in and zeroes
 * fresh pages one by one: on a virtual machine, a third of the time of the
 * 2.5 M-chunk bench. With these, big blocks come from the heap and stay
 * there for the next phase, on transparent huge pages. hugetlb has no
 * mallopt() counterpart, and tunables are read only at start-up: hence the
 * one re-execution below.
 */
#define HS_TUNABLES "glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:" \
		    "glibc.malloc.trim_threshold=1073741824"
#define HS_TUNED_ENV "HEAPSCOPE_MALLOC_TUNED"

static void hs_tune_malloc(char **argv)
{
	if (getenv(HS_TUNED_ENV) || getenv("HEAPSCOPE_MALLOC_DEFAULT"))
		return;
	const char *old = getenv("GLIBC_TUNABLES");
	size_t n = (old ? strlen(old) + 1 : 0) + sizeof(HS_TUNABLES);
	char *v = malloc(n);
	if (!v)
		return;
	/* The user's own tunables come last and win. */
	snprintf(v, n, "%s%s%s", HS_TUNABLES, old ? ":" : "", old ? old : "");
	if (setenv("GLIBC_TUNABLES", v, 1) == 0 && setenv(HS_TUNED_ENV, "1", 1) == 0)
		execv("/proc/self/exe", argv);
	/* Not re-executed (no /proc): the defaults, and the same results. */
	free(v);
	if (old)
		setenv("GLIBC_TUNABLES", old, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	unsetenv(HS_TUNED_ENV);
}

int main(int argc, char **argv)
{
	hs_tune_malloc(argv);
	return hs_cli_main(argc, argv);
}
