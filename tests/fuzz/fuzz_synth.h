/* fuzz_synth.h: fuzz inputs that describe a synthetic process: memory ranges plus parameters. */
#ifndef HS_FUZZ_SYNTH_H
#define HS_FUZZ_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "../../symbols/symbols.h"

/*
 * The walker and classifier targets read memory through the same hs_memory
 * interface as a real core. Their input is (all little-endian):
 *
 *   u8  nranges      at most HS_FUZZ_MAX_RANGES (taken modulo)
 *   u8  nparams      at most HS_FUZZ_MAX_PARAMS (taken modulo)
 *   u16 flags        target-specific (layout row, options)
 *   nranges x { u64 start; u32 memsz; u32 filesz; }
 *   nparams x u64    target-specific (addresses of globals, thread caches)
 *   the bytes of every range, in order: filesz bytes each, or what is left
 *
 * A range whose filesz has bit 31 set (HS_FUZZ_ZERO) takes no input bytes:
 * it reads as zeros over its first HS_FUZZ_ZERO_MAX bytes, and all of them
 * together over HS_FUZZ_ZERO_TOTAL bytes at most (in a core, memory costs
 * file bytes; here it must not cost nothing, or a 10 KiB input makes the
 * classifier scan gigabytes: a timeout of the harness, not a bug). Allocator
 * metadata is mostly zeros (a jemalloc arena_t is 77 KiB, its rtree root
 * 2 MiB), so a seed keeps a whole walk within 64 KiB that way. Ranges that
 * touch end to end, all backed, become one range (one buffer, at most
 * HS_FUZZ_MERGE_MAX bytes), as one mapping is one PT_LOAD in a core: a
 * struct split between a data range and a zero range still reads whole.
 * The buffers live in one scratch mapping that the next input reuses.
 *
 * A range may be backed by fewer bytes than its memsz (a truncated core),
 * and fields past the end of the input read as zero, so every input is
 * valid. Overlapping ranges make hs_memory_seal fail: the input is then
 * skipped. tests/fuzz/make_seed.py writes this format from a real core.
 */
#define HS_FUZZ_MAX_RANGES 255
#define HS_FUZZ_ZERO 0x80000000u
#define HS_FUZZ_ZERO_MAX (64u << 20)
#define HS_FUZZ_ZERO_TOTAL (16u << 20)
#define HS_FUZZ_MERGE_MAX (8u << 20)
#define HS_FUZZ_MAX_PARAMS 255

struct hs_fuzz_synth {
	struct hs_process *proc; /* memory sealed; no modules, no threads */
	uint16_t flags;
	uint64_t params[HS_FUZZ_MAX_PARAMS];
	size_t nparams;
	const uint8_t *rest;     /* bytes after the last range's data */
	size_t nrest;
	struct {
		uint8_t *p;
		size_t len;
	} dirty[HS_FUZZ_MAX_RANGES]; /* input copied into the scratch mapping */
	size_t ndirty;
};

/* Build the synthetic process. The data must outlive it. false if the
 * ranges are inconsistent (overlap, wrap) or memory ran out. `merge` joins
 * ranges that touch into one (what the walkers need); the classifier's
 * target passes false, so that its scan of writable memory covers the input
 * bytes only, not megabytes of zeros merged in from a zero range. */
bool hs_fuzz_synth_init(struct hs_fuzz_synth *s, const uint8_t *data,
			size_t size, bool merge);
void hs_fuzz_synth_deinit(struct hs_fuzz_synth *s);
/* Whether a range's bytes are the shared zero pages of an HS_FUZZ_ZERO range. */
bool hs_fuzz_synth_is_zero(const struct hs_memory_range *r);

#endif
