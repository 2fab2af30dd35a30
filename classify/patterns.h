/* patterns.h: private to classify/: clusters of unclassified chunks by size and word shape. */
#ifndef HS_PATTERNS_H
#define HS_PATTERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classes.h"
#include "sds.h"

/* The pattern cluster of chunk k (created on first use): its size and the
 * shape of its first words. Fails only when out of memory. */
bool hs_pattern_detect(struct hs_classes *c, const struct hs_cchunk *k,
		       struct hs_detect *ret, char *why, size_t whylen);
/* Bytes of a chunk shown in a hexdump sample. */
#define HS_SAMPLE_BYTES 64

#endif
