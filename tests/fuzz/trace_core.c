/* trace_core.c: list the core pages an analysis reads, so seed cores can keep just those (make_corpus.sh). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../analyzer/analyzer.h"

/*
 * After the core is opened, every memory range's bytes are moved to a private
 * PROT_NONE copy; the SIGSEGV handler records the page a walker touched and
 * opens it. Then the heap is walked and the report built, exactly as
 * `heapscope analyze` does. The output is one "ADDR LEN" window per touched
 * page run, in core virtual addresses, for tests/fuzz/seedtool.py.
 *
 * The handler's state is necessarily a global: a signal handler has no
 * argument to carry it. This is a tool, not part of heapscope.
 */
struct trace_range {
	uint8_t *copy;
	size_t len; /* page-rounded */
	uint64_t start;
	uint8_t *touched; /* one flag per page */
};

static struct trace_range *g_ranges;
static size_t g_nranges;
static long g_page;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	uint8_t *a = si->si_addr;
	for (size_t i = 0; i < g_nranges; i++) {
		struct trace_range *r = &g_ranges[i];
		if (a >= r->copy && a < r->copy + r->len) {
			size_t pg = (size_t)(a - r->copy) / (size_t)g_page;
			r->touched[pg] = 1;
			mprotect(r->copy + pg * (size_t)g_page, (size_t)g_page,
				 PROT_READ);
			return;
		}
	}
	signal(sig, SIG_DFL); /* a real crash: let it happen */
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: trace_core CORE [--exe FILE]\n");
		return 64;
	}
	struct hs_process_options popts = { .no_debuginfo = true };
	if (argc == 4 && strcmp(argv[2], "--exe") == 0)
		popts.exe = argv[3];
	struct hs_process *proc;
	struct hs_error *err = hs_process_open(argv[1], &popts, &proc);
	if (err) {
		fprintf(stderr, "trace_core: %s\n", err->message);
		return 2;
	}
	g_page = sysconf(_SC_PAGESIZE);
	g_nranges = proc->mem.count;
	g_ranges = calloc(g_nranges ? g_nranges : 1, sizeof(*g_ranges));
	if (!g_ranges)
		return 1;
	for (size_t i = 0; i < g_nranges; i++) {
		struct hs_memory_range *m = &proc->mem.ranges[i];
		struct trace_range *r = &g_ranges[i];
		r->start = m->start;
		if (!m->filesz)
			continue;
		r->len = (m->filesz + (uint64_t)g_page - 1) & ~((uint64_t)g_page - 1);
		r->copy = mmap(NULL, r->len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		r->touched = calloc(r->len / (size_t)g_page, 1);
		if (r->copy == MAP_FAILED || !r->touched)
			return 1;
		memcpy(r->copy, m->data, m->filesz);
		mprotect(r->copy, r->len, PROT_NONE);
		m->data = r->copy;
	}
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	sigaction(SIGSEGV, &sa, NULL);

	struct hs_walk_options wopts = { .no_debuginfo = true };
	struct hs_heap *heap = NULL;
	err = hs_heapwalk_run(proc, &wopts, &heap);
	if (err) {
		fprintf(stderr, "trace_core: %s\n", err->message);
		hs_error_destroy(err);
	} else {
		struct hs_report rep;
		hs_report_init(&rep);
		err = hs_report_build(&rep, proc, heap);
		hs_error_destroy(err);
		fprintf(stderr, "trace_core: %s %s, %zu chunks, %zu diagnostics\n",
			heap->allocator, heap->version, heap->nchunks,
			heap->diags.count);
		hs_report_deinit(&rep);
	}
	signal(SIGSEGV, SIG_DFL);
	for (size_t i = 0; i < g_nranges; i++) {
		struct trace_range *r = &g_ranges[i];
		size_t npages = r->len / (size_t)g_page;
		for (size_t p = 0; p < npages; p++) {
			if (!r->touched[p])
				continue;
			size_t q = p;
			while (q < npages && r->touched[q])
				q++;
			printf("0x%" PRIx64 " 0x%zx\n",
			       r->start + p * (uint64_t)g_page,
			       (q - p) * (size_t)g_page);
			p = q;
		}
	}
	hs_heap_destroy(heap);
	/* The copies stay mapped: proc->mem points at them until exit. */
	return 0;
}
