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
	for (size_t i = 0; i + 1 < s.nparams; i += 2) {
		struct hs_chunk c = { .addr = s.params[i], .info = s.params[i + 1] };
		if (hs_chunk_state(&c) >= HS_CHUNK_NSTATES)
			continue; /* no walker makes one: hs_chunk_make takes an enum */
		if (!hs_heap_add_chunk(heap, c.addr, hs_chunk_size(&c),
				       hs_chunk_state(&c), hs_chunk_flags(&c)))
			abort();
	}
	hs_heap_sort(heap);
	size_t n = 0;
	for (size_t i = 0; i < heap->nchunks; i++)
		if (!n || heap->chunks[i].addr != heap->chunks[n - 1].addr)
			heap->chunks[n++] = heap->chunks[i];
	heap->nchunks = n;

	struct hs_classify_options opts = { .redact = (s.flags & 4) != 0 };
	struct hs_classes *classes;
	err = hs_classify(s.proc, heap, &opts, &classes);
	if (err) {
		if (err != HS_ENOMEM) {
			fprintf(stderr, "fuzz: hs_classify: %s\n", err->message);
			abort();
		}
	} else {
		struct hs_report r;
		hs_report_init(&r);
		err = hs_classes_report(classes, &r);
		if (err && err != HS_ENOMEM) {
			fprintf(stderr, "fuzz: hs_classes_report: %s\n", err->message);
			abort();
		}
		if (!err)
			hs_fuzz_write_reports(&r);
		hs_report_deinit(&r);
		for (size_t i = 0; i < heap->nchunks; i++) {
			const char *kind;
			char why[256];
			hs_classes_chunk_type(classes, i, &kind);
			hs_classes_explain(classes, i, why, sizeof(why));
		}
		hs_classes_destroy(classes);
	}
	hs_error_destroy(err);
	hs_heap_destroy(heap);
	hs_fuzz_synth_deinit(&s);
	return 0;
}
