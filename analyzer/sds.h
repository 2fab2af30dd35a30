/* sds.h: private to analyzer/: Redis sds strings and robj objects in heap chunks. */
#ifndef HS_SDS_H
#define HS_SDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"

/*
 * What a detector found in one chunk: a type id and whether the evidence is
 * strong (structure plus a pointer to it, or an inline structure that cannot
 * occur by chance) or weak (structure only: accepted only in a process that
 * shows strong Redis evidence elsewhere, see classify.c).
 */
struct hs_detect {
	uint32_t type;
	bool strong;
};

/* An sds at the start of chunk i (header at the chunk address). */
bool hs_sds_detect(struct hs_classes *c, size_t i, const uint8_t *p, size_t avail,
		   struct hs_detect *ret, char *why, size_t whylen);
/* A robj (16-byte Redis object, or an EMBSTR robj with its inline sds). */
bool hs_robj_detect(struct hs_classes *c, size_t i, const uint8_t *p, size_t avail,
		    struct hs_detect *ret, char *why, size_t whylen);

#endif
