/* patterns.h: private to analyzer/: clusters of unclassified chunks by size and word shape. */
#ifndef HS_PATTERNS_H
#define HS_PATTERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "sds.h"

/* The pattern cluster of chunk i (created on first use): its size and the
 * shape of its first words. Fails only when out of memory. */
/* hs_pattern_code() with a chunk index for the heap-pointer test (the
 * classifier's hot path); idx may be NULL. */
uint32_t hs_pattern_code_indexed(struct hs_process *proc, const struct hs_heap *heap,
				 const struct hs_chunk_index *idx, const uint8_t *p,
				 size_t nwords);
bool hs_pattern_detect(struct hs_classes *c, size_t i, const uint8_t *p, size_t avail,
		       struct hs_detect *ret, char *why, size_t whylen);

/* Bytes of a chunk shown in a hexdump sample. */
#define HS_SAMPLE_BYTES 64

#endif
