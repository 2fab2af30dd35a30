/* jemalloc_rtree.c: the jemalloc 5.x rtree's geometry, and which address-space width a core's rtree has. */
#include <stdint.h>

#include "jemalloc_rtree.h"

/* ---------------------------------------------------------------------
 * The rtree's geometry (rtree.h:17-35 and 116-129 in 5.3.0).
 * --------------------------------------------------------------------- */

static unsigned je_lg_ceil(unsigned x)
{
	unsigned lg = 0;
	while ((1u << lg) < x)
		lg++;
	return lg;
}

bool hs_je_rtree_geom_init(const struct hs_je_layout *L, unsigned lg_vaddr,
			   struct hs_je_rtree_geom *ret)
{
	if (lg_vaddr <= L->lg_page || lg_vaddr > 64)
		return false;
	unsigned nhib = 64 - lg_vaddr, nsb = lg_vaddr - L->lg_page;
	struct hs_je_rtree_geom g = {.lg_vaddr = lg_vaddr};
	unsigned cum[3];
	if (nsb <= 10) {
		g.height = 1;
		g.bits[0] = nsb;
	} else if (nsb <= 36) {
		g.height = 2;
		g.bits[0] = nsb / 2;
		g.bits[1] = nsb / 2 + nsb % 2;
	} else if (nsb <= 52) {
		g.height = 3;
		g.bits[0] = nsb / 3;
		g.bits[1] = nsb / 3 + nsb % 3 / 2;
		g.bits[2] = nsb / 3 + nsb % 3 - nsb % 3 / 2;
	} else {
		return false;
	}
	unsigned acc = nhib;
	for (unsigned i = 0; i < g.height; i++) {
		acc += g.bits[i];
		cum[i] = acc;
		g.shift[i] = 64 - cum[i];
	}
	g.compact = nhib >= je_lg_ceil(L->nsizes);
	g.elm_size = g.compact ? 8 : 16;
	*ret = g;
	return true;
}

/* Probe state: a budget of elements and nodes, and the score so far. */
struct je_probe {
	const struct hs_memory *mem;
	const struct hs_je_layout *L;
	const struct hs_je_rtree_geom *g;
	int score;
	unsigned elems, leaves;
};

/* The esz (<= 16) bytes at a, in place from the range cached in *r, or
 * copied into tmp where they straddle two ranges; NULL if not backed. */
static const uint8_t *je_slot(const struct hs_memory *mem,
			      const struct hs_memory_range **r, uint64_t a,
			      size_t esz, uint8_t tmp[16])
{
	const struct hs_memory_range *c = *r;
	if (!c || a < c->start || a - c->start + esz > c->filesz)
		c = *r = hs_memory_find(mem, a);
	if (c && a >= c->start && a - c->start + esz <= c->filesz)
		return c->data + (a - c->start);
	struct hs_error *err = hs_memory_read(mem, a, tmp, esz);
	if (err) {
		hs_error_destroy(err);
		return NULL;
	}
	return tmp;
}

/*
 * How many of the next `nslots` slots of esz bytes at a (just read through
 * *r by je_slot, its first word zero) are all zero and can be skipped:
 * rtree nodes are mostly empty, and memcmp against zeros in 256-byte
 * blocks runs at memory speed where a slot-by-slot loop did not. At least 1.
 */
static size_t je_zero_slots(const struct hs_memory_range *r, uint64_t a,
			    size_t nslots, size_t esz)
{
	static const uint8_t zeros[256];
	if (!r || a < r->start || a - r->start >= r->filesz)
		return 1;
	const uint8_t *q = r->data + (a - r->start);
	uint64_t rem = r->filesz - (a - r->start);
	if (rem > (uint64_t)nslots * esz)
		rem = (uint64_t)nslots * esz;
	uint64_t k = 0;
	while (rem - k >= sizeof(zeros) && !memcmp(q + k, zeros, sizeof(zeros)))
		k += sizeof(zeros);
	return k >= esz ? (size_t)(k / esz) : 1;
}

static void je_probe_node(struct je_probe *p, unsigned level, uint64_t node,
			  uint64_t key)
{
	const struct hs_je_rtree_geom *g = p->g;
	size_t n = (size_t)1 << g->bits[level];
	if (node & 7) { /* nodes are word arrays: a misaligned one is not a node */
		p->score -= 4;
		return;
	}
	/* Nodes (up to 2 MiB) and leaves (up to 4 MiB) are read in place,
	 * slot by slot, even where they span adjacent ranges: copying them
	 * whole for every candidate geometry cost more than the probe. */
	if (level + 1 == g->height) {
		size_t esz = g->elm_size;
		if (!hs_memory_backed(p->mem, node, n * esz)) {
			p->score -= 4;
			return;
		}
		p->leaves++;
		const struct hs_memory_range *r = NULL;
		for (size_t i = 0; i < n && p->elems < 64; i++) {
			uint8_t tmp[16];
			const uint8_t *slot = je_slot(p->mem, &r, node + i * esz, esz, tmp);
			if (!slot) /* not after hs_memory_backed: defensive */
				return;
			/* An all-zero first word decodes to no edata in every
			 * model: skip empty slots without decoding them. */
			if (!je_load64(slot)) {
				i += je_zero_slots(r, node + i * esz, n - i, esz) - 1;
				continue;
			}
			struct je_elm e = je_decode(p->L, g, slot);
			if (!e.edata)
				continue;
			p->elems++;
			uint64_t k = key | ((uint64_t)i << g->shift[level]);
			const uint8_t *ed = hs_memory_ptr(p->mem, e.edata,
							  p->L->edata.size);
			if (!ed) {
				p->score--;
				continue;
			}
			uint64_t addr = je_load64(ed + p->L->edata.addr);
			uint64_t size = je_load64(ed + p->L->edata.size_esn) &
					p->L->edata.size_mask;
			uint64_t base = addr & ~(((uint64_t)1 << p->L->lg_page) - 1);
			if (size && k >= base && k - base < size &&
			    e.szind <= p->L->nsizes)
				p->score++;
			else
				p->score--;
		}
		return;
	}
	if (!hs_memory_backed(p->mem, node, n * 8)) {
		p->score -= 4;
		return;
	}
	unsigned seen = 0;
	const struct hs_memory_range *r = NULL;
	for (size_t i = 0; i < n && seen < 8 && p->leaves < 8; i++) {
		uint8_t tmp[16];
		const uint8_t *slot = je_slot(p->mem, &r, node + i * 8, 8, tmp);
		if (!slot)
			return;
		uint64_t kid = je_load64(slot);
		if (!kid) {
			i += je_zero_slots(r, node + i * 8, n - i, 8) - 1;
			continue;
		}
		seen++;
		je_probe_node(p, level + 1, kid, key | ((uint64_t)i << g->shift[level]));
	}
}

unsigned hs_je_rtree_detect(const struct hs_memory *mem,
			    const struct hs_je_layout *L, uint64_t emap,
			    unsigned *score)
{
	/* LG_VADDR is a configure result (configure.ac, "lg-vaddr"): 48 on
	 * most x86_64 hosts, 57 when built on an LA57 host. */
	static const unsigned lg_vaddrs[HS_JE_NLG_VADDRS] = {48, 57};
	unsigned best = 0;
	int best_score = 0;
	for (unsigned i = 0; i < HS_JE_NLG_VADDRS; i++) {
		struct hs_je_rtree_geom g;
		if (!hs_je_rtree_geom_init(L, lg_vaddrs[i], &g))
			continue;
		struct je_probe p = {.mem = mem, .L = L, .g = &g};
		je_probe_node(&p, 0, emap + L->emap_root, 0);
		if (p.score > best_score) {
			best_score = p.score;
			best = g.lg_vaddr;
		}
	}
	if (score)
		*score = best ? (unsigned)best_score : 0;
	return best;
}
