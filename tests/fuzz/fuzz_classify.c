/* fuzz_classify.c: fuzz target: the type classifier over synthetic memory and chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_synth.h"

/*
 * Input: the fuzz_synth format (fuzz_synth.h). The params are chunk records
 * in pairs (address, info as in struct hs_chunk: size << 8 | flags | state);
 * flags bits 0-1 name the allocator (glibc, jemalloc, tcmalloc, other: how
 * requests map to chunk sizes), bit 2 asks for --redact. The chunks are
 * sorted and made unique as every walker leaves them, but may overlap and
 * point anywhere. Then: classify, the report sections, and per chunk its
 * type and the explanation `heapscope show` prints.
 */
static const char *const allocators[] = { "glibc", "jemalloc", "tcmalloc", "other" };

static int cmp_chunk(const void *a, const void *b)
{
	uint64_t x = ((const struct hs_chunk *)a)->addr, y = ((const struct hs_chunk *)b)->addr;
	return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_fuzz_synth s;
	if (!hs_fuzz_synth_init(&s, data, size, false))
		return 0;
	/* The classifier scans every writable byte for pointers: zero ranges,
	 * which cost the input nothing, are made read-only so that a 10 KiB
	 * input does not make it scan 16 MiB of zeros each run. */
	for (size_t i = 0; i < s.proc->mem.count; i++)
		if (hs_fuzz_synth_is_zero(&s.proc->mem.ranges[i]))
			s.proc->mem.ranges[i].flags = 0x4; /* PF_R */
	struct hs_heap *heap;
	struct hs_error *err = hs_heap_create(&heap);
	if (err)
		abort();
	strcpy(heap->allocator, allocators[s.flags & 3]);
	/* As a walker makes them: in address order, each address once. */
	struct hs_chunk *cs = malloc((s.nparams / 2 + 1) * sizeof(*cs));
	if (!cs)
		abort();
	size_t n = 0;
	for (size_t i = 0; i + 1 < s.nparams; i += 2) {
		struct hs_chunk c = { .addr = s.params[i], .info = s.params[i + 1] };
		if (hs_chunk_state(&c) >= HS_CHUNK_NSTATES)
			continue; /* no walker makes one: hs_chunk_make takes an enum */
		cs[n++] = c;
	}
	qsort(cs, n, sizeof(*cs), cmp_chunk);
	for (size_t i = 0; i < n; i++)
		if ((!i || cs[i].addr != cs[i - 1].addr) &&
		    !hs_heap_add_chunk(heap, cs[i].addr, hs_chunk_size(&cs[i]),
				       hs_chunk_state(&cs[i]), hs_chunk_flags(&cs[i])))
			abort();
	free(cs);
	err = hs_heap_finish(heap);
	if (err) {
		fprintf(stderr, "fuzz: hs_heap_finish: %s\n", err->message);
		abort();
	}

	struct hs_classify_options opts = { .redact = (s.flags & 4) != 0, .threads = 1 };
	struct hs_classifier *cl;
	err = hs_classifier_create(s.proc, heap, &opts, &cl);
	if (err) {
		if (err != HS_ENOMEM) {
			fprintf(stderr, "fuzz: hs_classifier_create: %s\n", err->message);
			abort();
		}
	} else {
		struct hs_report r;
		struct hs_census *census = NULL;
		hs_report_init(&r);
		err = hs_census_run(cl, NULL, &census);
		if (!err)
			err = hs_census_report(census, &r);
		hs_census_destroy(census);
		if (err && err != HS_ENOMEM) {
			fprintf(stderr, "fuzz: hs_census_report: %s\n", err->message);
			abort();
		}
		if (!err)
			hs_fuzz_write_reports(&r);
		hs_report_deinit(&r);
		struct hs_chunk_iter it;
		struct hs_chunk c;
		hs_chunk_id id;
		hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
		while (hs_chunk_iter_next(&it, &c, &id)) {
			const char *kind;
			char name[256], why[256];
			hs_classify_chunk(cl, id, name, sizeof(name), &kind, why, sizeof(why));
		}
		hs_classifier_destroy(cl);
	}
	hs_error_destroy(err);
	hs_heap_destroy(heap);
	hs_fuzz_synth_deinit(&s);
	return 0;
}
