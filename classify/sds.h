/* sds.h: private to classify/: Redis sds strings and robj objects in heap chunks. */
#ifndef HS_SDS_H
#define HS_SDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classes.h"

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

/*
 * An sds at the start of chunk k (header at the chunk address). With `refd`
 * (the chunk's evidence bit), the one header type that parses is strong
 * evidence; without, structure alone is weak.
 */
bool hs_sds_detect(struct hs_classes *c, const struct hs_cchunk *k, bool refd,
		   struct hs_detect *ret, char *why, size_t whylen);
/* The single sds header type that parses at the start of chunk k and whose
 * allocation fits it, or -1 (none, or several). */
int hs_sds_unique_type(const struct hs_classes *c, const struct hs_cchunk *k);
/* Whether chunk k's first 8 bytes could be a robj header (a valid type and
 * encoding pair, a sane refcount): the cheap part of hs_robj_detect. */
bool hs_robj_shaped(const struct hs_cchunk *k);
/* Whether hs_robj_detect could call chunk k strong: a string robj, RAW or
 * EMBSTR (only those are proved by what their ptr points at); any other
 * match is structure only. */
static inline bool hs_robj_may_be_strong(const struct hs_cchunk *k)
{
	if (!k->p || k->avail < 16)
		return false;
	/* The first byte: type (low 4 bits) and encoding: OBJ_STRING (0) with
	 * OBJ_ENCODING_RAW (0) or OBJ_ENCODING_EMBSTR (8) (server.h). */
	return k->p[0] == 0x00 || k->p[0] == 0x80;
}
/* An EMBSTR robj at chunk k: string type, embstr encoding, ptr at its
 * inline sdshdr8, whose allocation fits the chunk. */
bool hs_robj_embstr(const struct hs_classes *c, const struct hs_cchunk *k);
/* A robj (16-byte Redis object, or an EMBSTR robj with its inline sds). */
bool hs_robj_detect(struct hs_classes *c, const struct hs_cchunk *k,
		    struct hs_detect *ret, char *why, size_t whylen);

#endif
