/* trace_core.c: list the core pages an analysis reads, for the fuzz seeds (make_corpus.sh). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../analyzer/analyzer.h"
#include "../../heapwalk/jemalloc_internal.h"
#include "../../heapwalk/tcmalloc_internal.h"
#include "fuzz_tcm_rows.h"

/*
 * After the core is opened, every memory range's bytes are moved to a private
 * PROT_NONE copy; the SIGSEGV handler records the page a walker touched and
 * opens it. Then the heap is walked and the report built, exactly as
 * `heapscope analyze` does (walk, report, classification). The output is one
 * "ADDR LEN TIER" window per touched page run, in core virtual addresses, for
 * tests/fuzz/seedtool.py: tier 0 pages were read by the walk (locating
 * included), tier 1 pages only by the report and the classifier (which
 * scans all writable memory), so a seed short of room drops those first.
 * With --params FILE it also writes the walker target's flags and params
 * for jemalloc and tcmalloc ("flags N", "param V" lines: the located
 * globals, then each thread's fs_base); with --chunks FILE, "param ADDR"
 * "param INFO" for the first in-use chunks (fuzz_classify).
 *
 * The handler's state is necessarily a global: a signal handler has no
 * argument to carry it. This is a tool, not part of heapscope.
 */
struct trace_range {
	uint8_t *copy;
	size_t len; /* page-rounded */
	uint64_t start;
	uint8_t *touched; /* per page: 0, or 1 + the phase that first read it */
};

static struct trace_range *g_ranges;
static size_t g_nranges;
static long g_page;
static volatile int g_phase; /* 0: the walk, 1: report and classification */

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	uint8_t *a = si->si_addr;
	for (size_t i = 0; i < g_nranges; i++) {
		struct trace_range *r = &g_ranges[i];
		if (a >= r->copy && a < r->copy + r->len) {
			size_t pg = (size_t)(a - r->copy) / (size_t)g_page;
			r->touched[pg] = (uint8_t)(1 + g_phase);
			mprotect(r->copy + pg * (size_t)g_page, (size_t)g_page,
				 PROT_READ);
			return;
		}
	}
	signal(sig, SIG_DFL); /* a real crash: let it happen */
}

static void write_params(const char *path, struct hs_process *proc,
			 const struct hs_walk_options *wopts, const char *allocator)
{
	FILE *f = fopen(path, "w");
	if (!f)
		exit(1);
	uint64_t flags = 0, p[4] = { 0 };
	if (strcmp(allocator, "jemalloc") == 0) {
		struct hs_heap *h = NULL;
		struct hs_je_layout L;
		struct hs_je_globals g;
		struct hs_error *err = hs_heap_create(&h);
		if (!err)
			err = hs_jemalloc_locate(proc, wopts, h, &L, &g);
		hs_heap_destroy(h);
		if (err) {
			fprintf(stderr, "trace_core: %s\n", err->message);
			exit(2);
		}
		flags = g.lg_vaddr | (g.has_tpoff ? 0x40 : 0);
		p[0] = g.emap, p[1] = g.sz_tab, p[2] = g.arenas;
		p[3] = (uint64_t)g.tsd_tpoff;
	} else if (strcmp(allocator, "tcmalloc") == 0) {
		struct hs_diags d;
		struct hs_tcm_located loc;
		hs_diags_init(&d);
		struct hs_error *err = hs_tcm_locate(proc, wopts, NULL, &d, &loc);
		hs_diags_deinit(&d);
		if (err) {
			fprintf(stderr, "trace_core: %s\n", err->message);
			exit(2);
		}
		if (!loc.layout || loc.derived) {
			fprintf(stderr, "trace_core: gperftools %s has no layout "
				"row of its own\n", loc.version);
			exit(2);
		}
		flags = hs_fuzz_tcm_row_index(loc.layout) | (loc.samples ? 0x100 : 0);
		p[0] = loc.addrs.pageheap, p[1] = loc.addrs.sizemap;
		p[2] = loc.addrs.central_cache, p[3] = loc.addrs.thread_heaps;
	} else {
		fprintf(stderr, "trace_core: --params: not for %s (use gdb)\n", allocator);
		exit(2);
	}
	fprintf(f, "flags 0x%" PRIx64 "\n", flags);
	for (int i = 0; i < 4; i++)
		fprintf(f, "param 0x%" PRIx64 "\n", p[i]);
	for (size_t i = 0; i < proc->nthreads; i++)
		fprintf(f, "param 0x%" PRIx64 "\n", proc->threads[i].fs_base);
	fclose(f);
}

/* The first in-use chunks, as fuzz_classify's params (127 pairs at most). */
static void write_chunks(const char *path, const struct hs_heap *heap)
{
	FILE *f = fopen(path, "w");
	if (!f)
		exit(1);
	size_t n = 0;
	struct hs_chunk_iter it;
	struct hs_chunk cur;
	hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
	while (n < 127 && hs_chunk_iter_next(&it, &cur, NULL)) {
		const struct hs_chunk *c = &cur;
		if (hs_chunk_state(c) != HS_CHUNK_IN_USE || hs_chunk_flags(c))
			continue;
		fprintf(f, "param 0x%" PRIx64 "\nparam 0x%" PRIx64 "\n", c->addr, c->info);
		n++;
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	struct hs_process_options popts = { .no_debuginfo = true };
	const char *params_path = NULL, *chunks_path = NULL;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--exe") == 0)
			popts.exe = argv[i + 1];
		else if (strcmp(argv[i], "--params") == 0)
			params_path = argv[i + 1];
		else if (strcmp(argv[i], "--chunks") == 0)
			chunks_path = argv[i + 1];
		else
			argc = 0;
	}
	if (argc < 2 || argc % 2) {
		fprintf(stderr, "usage: trace_core CORE [--exe FILE] [--params FILE] "
			"[--chunks FILE]\n");
		return 64;
	}
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
		g_phase = 1;
		struct hs_report rep;
		hs_report_init(&rep);
		err = hs_report_build(&rep, proc, heap);
		hs_error_destroy(err);
		struct hs_classify_options copts = { .threads = 1 };
		struct hs_classifier *cl = NULL;
		struct hs_census *census = NULL;
		err = hs_classifier_create(proc, heap, &copts, &cl);
		if (!err)
			err = hs_census_run(cl, NULL, &census);
		if (!err)
			err = hs_census_report(census, &rep);
		hs_error_destroy(err);
		hs_census_destroy(census);
		hs_classifier_destroy(cl);
		if (params_path)
			write_params(params_path, proc, &wopts, heap->allocator);
		if (chunks_path)
			write_chunks(chunks_path, heap);
		fprintf(stderr, "trace_core: %s %s, %" PRIu64 " chunks, %zu diagnostics\n",
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
			while (q < npages && r->touched[q] == r->touched[p])
				q++;
			printf("0x%" PRIx64 " 0x%zx %d\n",
			       r->start + p * (uint64_t)g_page,
			       (q - p) * (size_t)g_page, r->touched[p] - 1);
			p = q - 1;
		}
	}
	hs_heap_destroy(heap);
	/* The copies stay mapped: proc->mem points at them until exit. */
	return 0;
}
