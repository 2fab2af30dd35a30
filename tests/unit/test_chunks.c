/* test_chunks.c: the chunk store answers exactly as a plain sorted list of the same chunks does. */
#include <stdio.h>
#include <stdlib.h>

#include "../../heapwalk/heapwalk.h"
#include "check.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	return check_rnd(&rng_state);
}

/* The reference: what was added, sorted by address. */
struct ref {
	struct hs_chunk *c;
	size_t n, cap;
};

static void ref_add(struct ref *r, uint64_t addr, uint64_t size, enum hs_chunk_state st,
		    unsigned flags)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->c = realloc(r->c, r->cap * sizeof(*r->c));
	}
	r->c[r->n++] = hs_chunk_make(addr, size, st, flags);
}

static int ref_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct hs_chunk *)a)->addr, y = ((const struct hs_chunk *)b)->addr;
	return x < y ? -1 : x > y;
}

/* The reference chunk holding addr, or NULL. */
static const struct hs_chunk *ref_at(const struct ref *r, uint64_t addr)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->c[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const struct hs_chunk *c = &r->c[lo - 1];
	return addr - c->addr < hs_chunk_size(c) ? c : NULL;
}

static enum hs_chunk_state rnd_state(void)
{
	unsigned x = (unsigned)(rnd() % 10);
	return x < 6 ? HS_CHUNK_IN_USE : x < 8 ? HS_CHUNK_FREE : HS_CHUNK_CACHED;
}

/*
 * Heaps as the walkers make them: several segments added in any order, each
 * in address order. glibc-like (granule 16, sizes of 2 granules and up,
 * some 64 KiB or more, metadata and mmapped chunks between) or slab-like
 * (streaks of equal regions).
 */
static void build(struct hs_heap *heap, struct ref *r, bool glibc, unsigned nseg)
{
	uint64_t bases[16];
	for (unsigned s = 0; s < nseg; s++)
		bases[s] = 0x100000000000ull + ((uint64_t)s << 40) + (rnd() % 64) * 4096;
	/* Shuffle the order segments are added in. */
	for (unsigned s = nseg; s > 1; s--) {
		unsigned j = (unsigned)(rnd() % s);
		uint64_t t = bases[s - 1];
		bases[s - 1] = bases[j];
		bases[j] = t;
	}
	if (glibc)
		hs_heap_set_granule(heap, 4);
	for (unsigned s = 0; s < nseg; s++) {
		uint64_t a = bases[s] + 0x10;
		size_t n = 1 + rnd() % 3000;
		for (size_t i = 0; i < n; i++) {
			uint64_t size;
			unsigned flags = 0;
			enum hs_chunk_state st = rnd_state();
			if (glibc) {
				unsigned k = (unsigned)(rnd() % 100);
				size = k < 40 ? 32 : k < 95 ? 16 * (2 + rnd() % 40)
						 : k < 98 ? 16 * (4000 + rnd() % 200)
						 : 16 * (2 + rnd() % 4);
				if (rnd() % 200 == 0)
					flags = rnd() & 1 ? HS_CHUNK_F_METADATA : HS_CHUNK_F_MMAPPED;
				/* Long stretches of two-granule chunks not in use. */
				if (rnd() % 50 == 0) {
					unsigned m = (unsigned)(rnd() % 300);
					for (unsigned j = 0; j < m; j++) {
						enum hs_chunk_state s2 = rnd() & 1 ? HS_CHUNK_CACHED
										 : HS_CHUNK_FREE;
						CHECK(hs_heap_add_chunk(heap, a, 32, s2, 0));
						ref_add(r, a, 32, s2, 0);
						a += 32;
					}
				}
			} else {
				static const uint64_t sizes[] = {8, 16, 24, 48, 80, 4096, 20480};
				size = sizes[rnd() % 7];
				unsigned m = 1 + (unsigned)(rnd() % 200);
				for (unsigned j = 0; j + 1 < m; j++) {
					enum hs_chunk_state s2 = rnd_state();
					CHECK(hs_heap_add_chunk(heap, a, size, s2, 0));
					ref_add(r, a, size, s2, 0);
					a += size;
				}
			}
			CHECK(hs_heap_add_chunk(heap, a, size, st, flags));
			ref_add(r, a, size, st, flags);
			a += size;
			if (rnd() % 40 == 0)
				a += 16 * (1 + rnd() % 100000); /* a skipped stretch */
		}
	}
	qsort(r->c, r->n, sizeof(*r->c), ref_cmp);
}

/* Range p of the checks over ranges: the split's parts, then 8 from
 * anywhere (inside a chunk or not) of any length. */
static void pick_range(const struct ref *r, const uint64_t *bounds, size_t parts, size_t p,
		       uint64_t *lo, uint64_t *hi)
{
	*lo = bounds[p < parts ? p : 0];
	*hi = bounds[p < parts ? p + 1 : parts];
	if (p >= parts && r->n) {
		*lo = r->c[rnd() % r->n].addr + rnd() % 64;
		*hi = *lo + rnd() % (UINT64_C(1) << (rnd() % 24));
	}
}

/* Set a bit of one in-use chunk in `one_in`, at random. */
static void set_some_bits(struct hs_heap *heap, enum hs_chunk_bit bit, unsigned one_in)
{
	struct hs_chunk_iter it;
	struct hs_chunk c;
	hs_chunk_id id;
	hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
	while (hs_chunk_iter_next(&it, &c, &id))
		if (hs_chunk_state(&c) == HS_CHUNK_IN_USE && rnd() % one_in == 0)
			hs_heap_chunk_bit_set(heap, id, bit);
}

static void check_store(bool glibc, unsigned round)
{
	struct hs_heap *heap;
	struct ref r = {0};
	if (hs_heap_create(&heap)) {
		CHECK(0);
		return;
	}
	build(heap, &r, glibc, 1 + (unsigned)(rnd() % 12));
	CHECK(!hs_heap_finish(heap));
	CHECK(!hs_heap_finish(heap)); /* idempotent */
	CHECK_EQ(heap->nchunks, r.n);

	/* Iteration: the same chunks, in order. */
	struct hs_chunk_iter it;
	struct hs_chunk c;
	hs_chunk_id id;
	size_t i = 0;
	uint64_t totals[3] = {0};
	bool same = true;
	hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
	while (hs_chunk_iter_next(&it, &c, &id)) {
		if (i >= r.n || c.addr != r.c[i].addr || c.info != r.c[i].info) {
			if (same)
				fprintf(stderr, "round %u: chunk %zu: 0x%" PRIx64 " info %" PRIx64
					", want 0x%" PRIx64 " %" PRIx64 "\n", round, i, c.addr,
					c.info, i < r.n ? r.c[i].addr : 0, i < r.n ? r.c[i].info : 0);
			same = false;
		}
		struct hs_chunk c2;
		CHECK(hs_heap_chunk(heap, id, &c2) && c2.addr == c.addr && c2.info == c.info);
		totals[hs_chunk_state(&c)] += hs_chunk_size(&c);
		i++;
	}
	CHECK(same);
	CHECK_EQ(i, r.n);
	for (int s = 0; s < 3; s++)
		CHECK_EQ(totals[s], heap->totals[s].bytes);

	/* Lookups: inside chunks, at their edges, in gaps. */
	bool found_ok = true;
	size_t find_hint = 0;
	for (unsigned k = 0; k < 20000; k++) {
		const struct hs_chunk *rc = &r.c[rnd() % r.n];
		uint64_t probe;
		switch (rnd() % 4) {
		case 0: probe = rc->addr; break;
		case 1: probe = rc->addr + hs_chunk_size(rc) - 1; break;
		case 2: probe = rc->addr + hs_chunk_size(rc); break;
		default: probe = rc->addr + rnd() % (hs_chunk_size(rc) + 4096) - 2048; break;
		}
		const struct hs_chunk *want = ref_at(&r, probe);
		bool got = hs_heap_find(heap, probe, &c, &id);
		if (got != (want != NULL) || (want && (c.addr != want->addr || c.info != want->info))) {
			if (found_ok)
				fprintf(stderr, "round %u: find(0x%" PRIx64 ") wrong\n", round, probe);
			found_ok = false;
		}
		CHECK(hs_heap_contains(heap, probe) == (want != NULL));
		hs_chunk_id iu = hs_heap_find_in_use(heap, probe, &c);
		struct hs_chunk cn;
		hs_chunk_id near = hs_heap_find_in_use_near(heap, probe, &cn, &find_hint);
		CHECK(near == iu && (iu == HS_CHUNK_ID_NONE || (cn.addr == c.addr && cn.info == c.info)));
		bool want_iu = want && hs_chunk_state(want) == HS_CHUNK_IN_USE;
		CHECK((iu != HS_CHUNK_ID_NONE) == want_iu);
		if (want_iu && iu != HS_CHUNK_ID_NONE)
			CHECK(c.addr == want->addr && iu == id);
	}
	CHECK(found_ok);

	/* Ranks: in-use chunks numbered densely in address order. */
	struct hs_chunk_ranks *rk = NULL;
	CHECK(!hs_chunk_ranks_create(heap, &rk));
	if (rk) {
		uint64_t ord = 0;
		bool ranks_ok = true;
		hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
		while (hs_chunk_iter_next(&it, &c, &id)) {
			if (hs_chunk_state(&c) != HS_CHUNK_IN_USE)
				continue;
			if (hs_chunk_rank(rk, id) != ord) {
				if (ranks_ok)
					fprintf(stderr, "round %u: rank of 0x%" PRIx64 " is %" PRIu64
						", want %" PRIu64 "\n", round, c.addr,
						hs_chunk_rank(rk, id), ord);
				ranks_ok = false;
			}
			ord++;
		}
		CHECK(ranks_ok);
		CHECK_EQ(hs_chunk_ranks_count(rk), heap->totals[HS_CHUNK_IN_USE].count);
		hs_chunk_ranks_destroy(rk);
	}

	/* Bits: set on some in-use chunks, read back, states untouched. */
	for (unsigned k = 0; k < 2000; k++) {
		const struct hs_chunk *rc = &r.c[rnd() % r.n];
		if (hs_chunk_state(rc) != HS_CHUNK_IN_USE)
			continue;
		id = hs_heap_find_in_use(heap, rc->addr, NULL);
		enum hs_chunk_bit b = rnd() & 1 ? HS_CHUNK_BIT_MARK : HS_CHUNK_BIT_REF;
		bool was = hs_heap_chunk_bit(heap, id, b);
		CHECK(hs_heap_chunk_bit_set(heap, id, b) == was);
		CHECK(hs_heap_chunk_bit(heap, id, b));
		CHECK(hs_heap_chunk_bit_set(heap, id, b));
	}
	i = 0;
	same = true;
	hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
	while (hs_chunk_iter_next(&it, &c, &id))
		same &= i < r.n && c.info == r.c[i++].info;
	CHECK(same);
	hs_heap_chunk_bits_clear(heap, HS_CHUNK_BIT_MARK);
	hs_heap_chunk_bits_clear(heap, HS_CHUNK_BIT_REF);
	bool clear = true;
	hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
	i = 0;
	while (hs_chunk_iter_next(&it, &c, &id)) {
		same &= c.info == r.c[i++].info;
		if (hs_chunk_state(&c) == HS_CHUNK_IN_USE)
			clear &= !hs_heap_chunk_bit(heap, id, HS_CHUNK_BIT_MARK) &&
				 !hs_heap_chunk_bit(heap, id, HS_CHUNK_BIT_REF);
	}
	CHECK(same && clear);

	/* Splits: increasing chunk starts that cover every chunk once. */
	uint64_t bounds[17];
	size_t parts = hs_heap_split(heap, 1 + rnd() % 16, bounds);
	size_t total = 0;
	CHECK(bounds[0] == 0 && bounds[parts] == UINT64_MAX);
	for (size_t p = 0; p < parts; p++) {
		CHECK(p == 0 || bounds[p] > bounds[p - 1]);
		/* A bound never cuts a chunk: it is a start, or in no chunk. */
		CHECK(p == 0 || !ref_at(&r, bounds[p]) || ref_at(&r, bounds[p])->addr == bounds[p]);
		hs_chunk_iter_init(&it, heap, bounds[p], bounds[p + 1]);
		while (hs_chunk_iter_next(&it, &c, NULL))
			total++;
	}
	CHECK_EQ(total, r.n);

	/* Chunks not in use, a word at a time: those the plain iteration finds,
	 * over the parts and over ranges from anywhere to anywhere. */
	for (size_t p = 0; p < parts + 8; p++) {
		uint64_t lo, hi;
		pick_range(&r, bounds, parts, p, &lo, &hi);
		struct hs_chunk_iter a, b;
		struct hs_chunk ca, cb;
		hs_chunk_iter_init(&a, heap, lo, hi);
		hs_chunk_iter_init(&b, heap, lo, hi);
		for (;;) {
			bool more = hs_chunk_iter_next(&a, &ca, NULL);
			while (more && hs_chunk_state(&ca) == HS_CHUNK_IN_USE)
				more = hs_chunk_iter_next(&a, &ca, NULL);
			bool idle = hs_chunk_iter_next_idle(&b, &cb);
			CHECK_EQ(idle, more);
			if (!more || !idle)
				break;
			CHECK_EQ(cb.addr, ca.addr);
			CHECK_EQ(hs_chunk_size(&cb), hs_chunk_size(&ca));
			CHECK_EQ(hs_chunk_state(&cb), hs_chunk_state(&ca));
		}
	}

	/* In-use chunks whose MARK bit is clear, a word at a time: with a
	 * random half of them marked, those the plain iteration finds. */
	set_some_bits(heap, HS_CHUNK_BIT_MARK, 2);
	for (size_t p = 0; p < parts + 8; p++) {
		uint64_t lo, hi;
		pick_range(&r, bounds, parts, p, &lo, &hi);
		struct hs_chunk_iter a, b;
		struct hs_chunk ca, cb;
		hs_chunk_id ia, ib;
		hs_chunk_iter_init(&a, heap, lo, hi);
		hs_chunk_iter_init(&b, heap, lo, hi);
		for (;;) {
			bool more = hs_chunk_iter_next(&a, &ca, &ia);
			while (more && (hs_chunk_state(&ca) != HS_CHUNK_IN_USE ||
					hs_heap_chunk_bit(heap, ia, HS_CHUNK_BIT_MARK)))
				more = hs_chunk_iter_next(&a, &ca, &ia);
			bool un = hs_chunk_iter_next_unmarked(&b, &cb, &ib);
			CHECK_EQ(un, more);
			if (!more || !un)
				break;
			CHECK_EQ(ib, ia);
			CHECK_EQ(cb.addr, ca.addr);
			CHECK_EQ(hs_chunk_size(&cb), hs_chunk_size(&ca));
		}
	}

	/* Many at a time: what one at a time gives, with the bits, in batches
	 * of any size, over the parts and over ranges from anywhere. */
	set_some_bits(heap, HS_CHUNK_BIT_REF, 3);
	for (size_t p = 0; p < parts + 8; p++) {
		uint64_t lo, hi;
		pick_range(&r, bounds, parts, p, &lo, &hi);
		struct hs_chunk_iter a, b;
		hs_chunk_iter_init(&a, heap, lo, hi);
		hs_chunk_iter_init(&b, heap, lo, hi);
		struct hs_chunk many[37], ca;
		hs_chunk_id ids[37], ia;
		uint8_t bits[37];
		bool ok = true;
		for (;;) {
			size_t want = 1 + rnd() % 37, got = hs_chunk_iter_many(&b, many, ids, bits, want);
			size_t k = 0;
			for (; k < got && hs_chunk_iter_next(&a, &ca, &ia); k++) {
				unsigned bb = 0;
				if (hs_chunk_state(&ca) == HS_CHUNK_IN_USE)
					bb = hs_heap_chunk_bit(heap, ia, HS_CHUNK_BIT_MARK)
						     << HS_CHUNK_BIT_MARK |
					     hs_heap_chunk_bit(heap, ia, HS_CHUNK_BIT_REF)
						     << HS_CHUNK_BIT_REF;
				ok &= many[k].addr == ca.addr && many[k].info == ca.info &&
				      ids[k] == ia && bits[k] == bb;
			}
			ok &= k == got;
			if (got < want) {
				ok &= !hs_chunk_iter_next(&a, &ca, &ia);
				break;
			}
		}
		CHECK(ok);
	}
	hs_heap_chunk_bits_clear(heap, HS_CHUNK_BIT_MARK);
	hs_heap_chunk_bits_clear(heap, HS_CHUNK_BIT_REF);

	/* The marking's step: the in-use chunk whose user bytes hold the
	 * address, its MARK bit set once, with a hint carried along. */
	size_t hint = 0;
	bool mark_ok = true;
	for (unsigned k = 0; k < 20000; k++) {
		const struct hs_chunk *rc = &r.c[rnd() % r.n];
		uint64_t probe = rc->addr + rnd() % (hs_chunk_size(rc) + 64) - 32;
		hs_chunk_id want = hs_heap_find_in_use(heap, probe, &c);
		if (want != HS_CHUNK_ID_NONE &&
		    ((hs_chunk_flags(&c) & HS_CHUNK_F_METADATA) ||
		     probe - c.addr >= hs_chunk_usable(heap, &c)))
			want = HS_CHUNK_ID_NONE;
		bool before = want != HS_CHUNK_ID_NONE && hs_heap_chunk_bit(heap, want, HS_CHUNK_BIT_MARK);
		struct hs_chunk mc;
		bool was = false;
		hs_chunk_id got = hs_heap_mark_at(heap, probe, &mc, &was, &hint);
		mark_ok &= got == want;
		if (got != HS_CHUNK_ID_NONE && got == want)
			mark_ok &= mc.addr == c.addr && mc.info == c.info && was == before &&
				   hs_heap_chunk_bit(heap, got, HS_CHUNK_BIT_MARK);
	}
	CHECK(mark_ok);
	hs_heap_chunk_bits_clear(heap, HS_CHUNK_BIT_MARK);

	/* Iteration from the middle of a chunk starts at the next one. */
	const struct hs_chunk *mid = &r.c[r.n / 2];
	hs_chunk_iter_init(&it, heap, mid->addr + 1, UINT64_MAX);
	CHECK(hs_chunk_iter_next(&it, &c, NULL) || r.n / 2 + 1 == r.n);
	if (r.n / 2 + 1 < r.n && hs_chunk_size(mid) > 1)
		CHECK(c.addr == r.c[r.n / 2 + 1].addr);

	free(r.c);
	hs_heap_destroy(heap);
}

/* A run of two-granule chunks not in use: the parity rule over a long run
 * of ones, across words. */
static void check_parity(void)
{
	struct hs_heap *heap;
	if (hs_heap_create(&heap))
		return;
	hs_heap_set_granule(heap, 4);
	uint64_t base = 0x10000010, a = base;
	CHECK(hs_heap_add_chunk(heap, a, 48, HS_CHUNK_IN_USE, 0));
	a += 48;
	for (int i = 0; i < 1000; i++, a += 32)
		CHECK(hs_heap_add_chunk(heap, a, 32, i % 3 ? HS_CHUNK_CACHED : HS_CHUNK_FREE, 0));
	CHECK(hs_heap_add_chunk(heap, a, 32, HS_CHUNK_IN_USE, 0));
	CHECK(hs_heap_add_chunk(heap, a + 32, 64, HS_CHUNK_IN_USE, 0));
	CHECK(!hs_heap_finish(heap));
	struct hs_chunk c;
	for (int i = 0; i < 1000; i++) {
		uint64_t at = base + 48 + 32 * (uint64_t)i + (uint64_t)(i % 32);
		CHECK(hs_heap_find(heap, at, &c, NULL) && c.addr == base + 48 + 32 * (uint64_t)i &&
		      hs_chunk_size(&c) == 32 &&
		      hs_chunk_state(&c) == (i % 3 ? HS_CHUNK_CACHED : HS_CHUNK_FREE));
		CHECK(hs_heap_find_in_use(heap, at, NULL) == HS_CHUNK_ID_NONE);
	}
	CHECK(hs_heap_find_in_use(heap, a + 8, &c) != HS_CHUNK_ID_NONE && c.addr == a);
	CHECK(hs_heap_find_in_use(heap, a + 40, &c) != HS_CHUNK_ID_NONE && c.addr == a + 32 &&
	      hs_chunk_size(&c) == 64);
	CHECK_EQ(heap->totals[HS_CHUNK_IN_USE].count, 3);
	size_t n;
	const struct hs_size_count *sz = hs_heap_size_classes(heap, &n);
	CHECK(n == 3 && sz[0].size == 64 && sz[0].bytes == 64);
	hs_heap_destroy(heap);
}

/* hs_heap_add_chunks stores what as many hs_heap_add_chunk calls would:
 * the same chunks, totals and size classes, slab-like streaks of any state
 * and length (across bitmap words, onto the run before), with and without a
 * granule. The ids and the store's size are the same too, except where a
 * long stretch of equal in-use chunks took a uniform run of its own (a
 * granule, and a stretch of 1024 or more): then each id still names its
 * chunk, and the store grows by two run records at most (and their array
 * by a doubling). */
static void check_bulk(unsigned round)
{
	struct hs_heap *a, *b;
	if (hs_heap_create(&a) || hs_heap_create(&b)) {
		CHECK(false);
		return;
	}
	if (round & 1) {
		hs_heap_set_granule(a, 4);
		hs_heap_set_granule(b, 4);
	}
	uint64_t addr = 0x10000, nlong = 0;
	for (unsigned s = 0; s < 200; s++) {
		uint64_t size = 8 * (1 + rnd() % 8), n = 1 + rnd() % 150;
		if (rnd() % 16 == 0) {
			n = 1000 + rnd() % 2000;
			nlong++;
		}
		enum hs_chunk_state st = rnd_state();
		unsigned flags = rnd() % 8 == 0 ? HS_CHUNK_F_METADATA : 0;
		if (rnd() % 4 == 0)
			addr += 4096; /* a gap: a new run */
		CHECK(hs_heap_add_chunks(a, addr, size, n, st, flags));
		for (uint64_t i = 0; i < n; i++)
			CHECK(hs_heap_add_chunk(b, addr + i * size, size, st, flags));
		addr += n * size;
	}
	CHECK(!hs_heap_finish(a));
	CHECK(!hs_heap_finish(b));
	CHECK_EQ(a->nchunks, b->nchunks);
	CHECK_EQ(a->lo, b->lo);
	CHECK_EQ(a->hi, b->hi);
	for (int st = 0; st < HS_CHUNK_NSTATES; st++) {
		CHECK_EQ(a->totals[st].count, b->totals[st].count);
		CHECK_EQ(a->totals[st].bytes, b->totals[st].bytes);
	}
	CHECK_EQ(a->metadata.count, b->metadata.count);
	bool same_ids = !(round & 1) || !nlong;
	if (same_ids)
		CHECK_EQ(hs_heap_store_bytes(a), hs_heap_store_bytes(b));
	else
		CHECK(hs_heap_store_bytes(a) <= hs_heap_store_bytes(b) + nlong * 256 + 8192);
	size_t na, nb;
	const struct hs_size_count *sa = hs_heap_size_classes(a, &na), *sb = hs_heap_size_classes(b, &nb);
	CHECK_EQ(na, nb);
	for (size_t i = 0; i < na && i < nb; i++) {
		CHECK_EQ(sa[i].size, sb[i].size);
		CHECK_EQ(sa[i].count, sb[i].count);
		CHECK_EQ(sa[i].bytes, sb[i].bytes);
	}
	struct hs_chunk_iter ia, ib;
	struct hs_chunk ca, cb;
	hs_chunk_id da, db;
	hs_chunk_iter_init(&ia, a, 0, UINT64_MAX);
	hs_chunk_iter_init(&ib, b, 0, UINT64_MAX);
	for (;;) {
		bool ma = hs_chunk_iter_next(&ia, &ca, &da), mb = hs_chunk_iter_next(&ib, &cb, &db);
		CHECK_EQ(ma, mb);
		if (!ma || !mb)
			break;
		if (same_ids)
			CHECK_EQ(da, db);
		struct hs_chunk xa;
		CHECK(hs_heap_chunk(a, da, &xa) && xa.addr == ca.addr && xa.info == ca.info);
		CHECK_EQ(ca.addr, cb.addr);
		CHECK_EQ(ca.info, cb.info);
	}
	hs_heap_destroy(a);
	hs_heap_destroy(b);
}

/*
 * A variable run of 2^28 granules (65536 chunks of 4095 granules, 4 GiB of
 * heap, 64 MiB of bits grown by doubling), and a second heap's chunks
 * spliced on after it (hs_heap_splice, as glibc_split.c does): every chunk
 * is where it was put, in its state.
 */
static void check_big_run(void)
{
	const uint64_t lo = UINT64_C(0x7f0000000000), size = 4095 * 16;
	const unsigned n = 65536;
	struct hs_heap *heap, *more;
	CHECK(!hs_heap_create(&heap) && !hs_heap_create(&more));
	hs_heap_set_granule(heap, 4);
	hs_heap_set_granule(more, 4);
	for (unsigned i = 0; i < n; i++)
		CHECK(hs_heap_add_chunk(heap, lo + i * size, size,
					i % 3 ? HS_CHUNK_IN_USE : HS_CHUNK_FREE, 0));
	uint64_t hi = lo + n * size;
	CHECK(hs_heap_add_chunk(more, hi, 32, HS_CHUNK_IN_USE, 0));
	CHECK(hs_heap_splice(heap, more));
	CHECK_EQ(more->nchunks, 0);
	CHECK_EQ(heap->nchunks, n + 1);
	CHECK(!hs_heap_finish(heap));
	unsigned bad = 0;
	for (unsigned i = 0; i < n; i++) {
		struct hs_chunk c;
		if (!hs_heap_find(heap, lo + i * size + 8, &c, NULL) || c.addr != lo + i * size ||
		    hs_chunk_size(&c) != size ||
		    hs_chunk_state(&c) != (i % 3 ? HS_CHUNK_IN_USE : HS_CHUNK_FREE))
			bad++;
	}
	CHECK_EQ(bad, 0);
	struct hs_chunk c;
	CHECK(hs_heap_find(heap, hi, &c, NULL) && c.addr == hi && hs_chunk_size(&c) == 32);
	hs_heap_destroy(more);
	hs_heap_destroy(heap);
}

int main(void)
{
	check_big_run();
	for (unsigned round = 0; round < 8; round++)
		check_bulk(round);
	check_parity();
	for (unsigned round = 0; round < 24; round++)
		check_store(round & 1, round);
	return check_summary("test_chunks");
}
