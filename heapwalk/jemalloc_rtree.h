/* jemalloc_rtree.h: decoding jemalloc 5.x rtree leaf elements (private to heapwalk/). */
#ifndef HS_JEMALLOC_RTREE_H
#define HS_JEMALLOC_RTREE_H

#include <stdint.h>
#include <string.h>

#include "jemalloc_internal.h"

static inline uint64_t je_load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* One leaf element. The EXTENTS model's leaves carry no state. */
#define JE_LEAF_NO_STATE 0xffu
struct je_elm {
	uint64_t edata;
	unsigned szind, state;
	bool slab;
};

/* Leaf decoding has one branch per model (jemalloc_layout.h, enum
 * hs_je_model): EMAP is 5.3.0 (file:line in that tag), EXTENTS 5.2.1.
 * Inline: the walk decodes every leaf element of the rtree. */

/* EXTENTS: rtree.h:46-66 and :179-206 (5.2.1): extent pointer with the
 * slab bit, szind above LG_VADDR; otherwise {le_extent, le_szind u32,
 * le_slab bool}. */
static inline struct je_elm je_decode_extents(const struct hs_je_rtree_geom *g,
					      const uint8_t *p)
{
	struct je_elm e = {.state = JE_LEAF_NO_STATE};
	if (g->compact) {
		uint64_t bits = je_load64(p);
		unsigned nhib = 64 - g->lg_vaddr;
		e.edata = (uint64_t)((int64_t)(bits << nhib) >> nhib) & ~UINT64_C(1);
		e.szind = (unsigned)(bits >> g->lg_vaddr);
		e.slab = bits & 1;
	} else {
		uint32_t szind;
		memcpy(&szind, p + 8, sizeof(szind));
		e.edata = je_load64(p);
		e.szind = szind;
		e.slab = p[12] & 1;
	}
	return e;
}

/* EMAP: rtree.h:205-234 compact, :246-262 otherwise (5.3.0). */
static inline struct je_elm je_decode(const struct hs_je_layout *L,
				      const struct hs_je_rtree_geom *g,
				      const uint8_t *p)
{
	if (L->model == HS_JE_MODEL_EXTENTS)
		return je_decode_extents(g, p);
	uint64_t align = L->edata.align;
	struct je_elm e;
	if (g->compact) {
		uint64_t bits = je_load64(p);
		unsigned nhib = 64 - g->lg_vaddr;
		e.edata = (uint64_t)((int64_t)(bits << nhib) >> nhib) &
			  ~(align - 1);
		e.szind = (unsigned)(bits >> g->lg_vaddr);
		e.state = (unsigned)(bits >> 2) & 7;
		e.slab = bits & 1;
	} else {
		uint32_t meta;
		memcpy(&meta, p + 8, sizeof(meta));
		e.edata = je_load64(p);
		e.szind = meta >> 5;
		e.state = (meta >> 2) & 7;
		e.slab = meta & 1;
	}
	return e;
}

#endif
