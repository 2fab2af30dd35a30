/* fuzz_check.c: properties every fuzz target checks on what the code under test returns. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../analyzer/analyzer.h"
#include "fuzz_check.h"

void hs_fuzz_check_error(const struct hs_error *err)
{
	if (getenv("HS_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz: error: %s\n", err->message);
	if (!err->message || !err->message[0] || strchr(err->message, '\n')) {
		fprintf(stderr, "fuzz: error is not one line: '%s'\n",
			err->message ? err->message : "(null)");
		abort();
	}
}

static void fail_chunk(const char *what, const struct hs_chunk *c)
{
	fprintf(stderr, "fuzz: chunk 0x%" PRIx64 " (size 0x%" PRIx64
		", info 0x%" PRIx64 "): %s\n", c->addr, hs_chunk_size(c),
		c->info, what);
	abort();
}

void hs_fuzz_write_reports(const struct hs_report *r)
{
	FILE *null = fopen("/dev/null", "w");
	if (!null)
		abort();
	struct hs_error *err = hs_report_write_json(r, null, "/dev/null");
	if (!err) {
		struct hs_text_options topts = { .top = 10 };
		err = hs_report_write_text(r, null, &topts, "/dev/null");
	}
	fclose(null);
	if (err && err != HS_ENOMEM) {
		fprintf(stderr, "fuzz: writing the report failed: %s\n",
			err->message);
		abort();
	}
	hs_error_destroy(err);
}

/* A report built from a core: its memory table attributes every byte
 * once, whatever the memory and the walker's ranges say. */
static void check_memory_table(const struct hs_report *r)
{
	uint64_t v = 0, d = 0;
	for (size_t i = 0; i < r->memory.nregions; i++) {
		v += r->memory.regions[i].bytes;
		d += r->memory.regions[i].dumped;
	}
	if (v != r->memory.mapped || d != r->memory.dumped) {
		fprintf(stderr, "fuzz: memory table sums to %" PRIu64 "/%" PRIu64
			", mapped %" PRIu64 ", dumped %" PRIu64 "\n", v, d,
			r->memory.mapped, r->memory.dumped);
		abort();
	}
}

void hs_fuzz_check_heap(struct hs_process *proc, const struct hs_heap *heap)
{
	struct hs_chunk_iter it;
	struct hs_chunk cur, prev = {0};
	hs_chunk_id id;
	uint64_t n = 0;
	hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
	while (hs_chunk_iter_next(&it, &cur, &id)) {
		const struct hs_chunk *c = &cur;
		if (n && c->addr <= prev.addr)
			fail_chunk(c->addr == prev.addr ? "reported twice" :
				   "chunks not sorted", c);
		if (hs_chunk_state(c) >= HS_CHUNK_NSTATES)
			fail_chunk("state out of range", c);
		if (c->addr + hs_chunk_size(c) < c->addr)
			fail_chunk("wraps around the address space", c);
		struct hs_chunk found;
		hs_chunk_id fid;
		if (hs_chunk_size(c) && (!hs_heap_find(heap, c->addr, &found, &fid) ||
					 found.addr != c->addr || found.info != c->info || fid != id))
			fail_chunk("hs_heap_find does not find it", c);
		prev = cur;
		n++;
	}
	if (n != heap->nchunks)
		fail_chunk("the store lost chunks", &prev);
	if (heap->diags.count > heap->diags.limit)
		abort();
	/* HS_FUZZ_VERBOSE=1 fuzz_<name>_replay SEED: what a seed's walk
	 * reached, for make_corpus.sh's author. */
	if (getenv("HS_FUZZ_VERBOSE")) {
		fprintf(stderr, "fuzz: %s %s: %" PRIu64 " chunks, %zu diagnostics (%" PRIu64
			" dropped)\n", heap->allocator, heap->version, heap->nchunks,
			heap->diags.count, heap->diags.dropped);
		for (size_t i = 0; i < heap->diags.count && i < 10; i++)
			fprintf(stderr, "fuzz:   %s\n", heap->diags.items[i].message);
	}

	struct hs_report r;
	hs_report_init(&r);
	struct hs_error *err = hs_report_build(&r, proc, heap);
	if (err && err != HS_ENOMEM) {
		fprintf(stderr, "fuzz: hs_report_build: %s\n", err->message);
		abort();
	}
	if (!err) {
		check_memory_table(&r);
		hs_fuzz_write_reports(&r);
	}
	hs_error_destroy(err);
	hs_report_deinit(&r);
}

void hs_fuzz_check_walk(struct hs_process *proc, struct hs_heap *heap, struct hs_error *err)
{
	if (!err)
		err = hs_heap_finish(heap);
	if (err) {
		hs_fuzz_check_error(err);
		hs_error_destroy(err);
		return;
	}
	hs_fuzz_check_heap(proc, heap);
}

static int write_all(int fd, const uint8_t *data, size_t size)
{
	while (size) {
		ssize_t n = write(fd, data, size);
		if (n <= 0)
			return -1;
		data += n;
		size -= (size_t)n;
	}
	return 0;
}

int hs_fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t pathlen)
{
	int fd = memfd_create("heapscope-fuzz", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, size) != 0) {
		perror("fuzz: memfd");
		abort();
	}
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

void hs_fuzz_analyze_core(const uint8_t *data, size_t size,
			  const struct hs_analyze_options *opts)
{
	char path[64];
	int fd = hs_fuzz_memfd(data, size, path, sizeof(path));
	struct hs_analysis *a = NULL;
	struct hs_error *err = hs_analysis_run(path, opts, &a);
	if (err) {
		hs_fuzz_check_error(err);
		hs_error_destroy(err);
	} else {
		check_memory_table(&a->report);
		hs_fuzz_write_reports(&a->report);
		hs_analysis_destroy(a);
	}
	close(fd);
}
