/* test_classify.c: unit tests for classification over synthetic memory: sds headers, word shapes, hexdump, a small heap end to end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../analyzer/analyzer.h"
#include "check.h"
#include "check_process.h"

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* ------------------------------------------------------------------ sds */

static void test_sds_parse(void)
{
	struct hs_sds s;
	/* sdshdr5: flags = len << 3 | 0, then the bytes and a NUL. */
	uint8_t h5[16] = {5 << 3, 'h', 'e', 'l', 'l', 'o', 0};
	CHECK(hs_sds_parse(h5, sizeof(h5), 0, &s) && s.hdrlen == 1 && s.len == 5 &&
	      s.alloc == 5);
	h5[6] = 'x'; /* no NUL at buf[len] */
	CHECK(!hs_sds_parse(h5, sizeof(h5), 0, &s));
	h5[6] = 0;
	h5[0] = 5 << 3 | 1; /* type bits say sdshdr8 */
	CHECK(!hs_sds_parse(h5, sizeof(h5), 0, &s));
	h5[0] = 5 << 3;
	CHECK(!hs_sds_parse(h5, 6, 0, &s)); /* the NUL is past what is readable */

	/* sdshdr8 as seeds/001 saw it: len = alloc = 0x54, flags = 1. */
	uint8_t h8[0x60] = {0x54, 0x54, 1};
	memset(h8 + 3, 'k', 0x54);
	h8[3 + 0x54] = 0;
	CHECK(hs_sds_parse(h8, sizeof(h8), 1, &s) && s.hdrlen == 3 && s.len == 0x54 &&
	      s.alloc == 0x54);
	CHECK(!hs_sds_parse(h8, sizeof(h8), 0, &s)); /* flags & 7 != 0 */
	CHECK(!hs_sds_parse(h8, sizeof(h8), 2, &s)); /* flags byte of hdr16 is p[4] = 'k' */
	h8[2] = 1 | 8; /* upper flag bits are unused: must be zero */
	CHECK(!hs_sds_parse(h8, sizeof(h8), 1, &s));
	h8[2] = 1;
	h8[1] = 0x50; /* len > alloc */
	CHECK(!hs_sds_parse(h8, sizeof(h8), 1, &s));
	h8[1] = 0x58; /* alloc > len (Redis >= 6.2: alloc fills the usable size) */
	CHECK(hs_sds_parse(h8, sizeof(h8), 1, &s) && s.alloc == 0x58);

	/* sdshdr16/32/64: little-endian len and alloc, then flags. */
	uint8_t h16[600] = {0x2c, 0x01, 0x40, 0x01, 2}; /* len 300, alloc 320 */
	memset(h16 + 5, 'x', 300);
	CHECK(hs_sds_parse(h16, sizeof(h16), 2, &s) && s.hdrlen == 5 && s.len == 300 &&
	      s.alloc == 320);
	uint8_t h32[128] = {10, 0, 0, 0, 20, 0, 0, 0, 3};
	memcpy(h32 + 9, "0123456789", 10);
	CHECK(hs_sds_parse(h32, sizeof(h32), 3, &s) && s.hdrlen == 9 && s.len == 10);
	CHECK(!hs_sds_parse(h32, sizeof(h32), 4, &s));
	uint8_t h64[128] = {0};
	put64(h64, 7);
	put64(h64 + 8, 7);
	h64[16] = 4;
	memcpy(h64 + 17, "abcdefg", 7);
	CHECK(hs_sds_parse(h64, sizeof(h64), 4, &s) && s.hdrlen == 17 && s.len == 7);
	put64(h64, UINT64_MAX); /* absurd length: no NUL in range, no overflow */
	put64(h64 + 8, UINT64_MAX);
	CHECK(!hs_sds_parse(h64, sizeof(h64), 4, &s));
	CHECK(!hs_sds_parse(h64, sizeof(h64), 5, &s)); /* no such type */
}

/* ------------------------------------------------------------------ hexdump */

static void test_hexdump(void)
{
	const uint8_t hello[] = "Hello, world!\n";
	char *h = hs_hexdump(hello, 14);
	CHECK(h && !strcmp(h, "00000000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a"
			      "        |Hello, world!.|\n0000000e\n"));
	free(h);

	/* Repeated full lines collapse into one "*", as hexdump -C does. */
	uint8_t z[64] = {0};
	z[48] = 'A';
	h = hs_hexdump(z, sizeof(z));
	CHECK(h && !strcmp(h,
			   "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
			   "*\n"
			   "00000030  41 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |A...............|\n"
			   "00000040\n"));
	free(h);

	h = hs_hexdump(z, 0);
	CHECK(h && !strcmp(h, "00000000\n"));
	free(h);
}

/* ------------------------------------------------------------------ a synthetic process */

#define BASE 0x10000ull
#define MOD 0x400000ull
static uint8_t heapmem[0x1000];
static uint8_t modmem[0x100];

static struct hs_process *make_process(void)
{
	return check_process_create(BASE, heapmem, sizeof(heapmem), MOD, modmem, sizeof(modmem), 4);
}

/* The type of the chunk holding addr, into name; false if none. */
static bool type_at(struct hs_classifier *cl, struct hs_heap *heap, uint64_t addr, char *name,
		    const char **kind)
{
	struct hs_chunk c;
	hs_chunk_id id;
	return hs_heap_find(heap, addr, &c, &id) &&
	       hs_classify_chunk(cl, id, name, 256, kind, NULL, 0);
}

static void test_signature(void)
{
	struct hs_process *proc = make_process();
	struct hs_heap *heap;
	CHECK(!hs_heap_create(&heap));
	snprintf(heap->allocator, sizeof(heap->allocator), "jemalloc");
	CHECK(hs_heap_add_chunk(heap, BASE, 64, HS_CHUNK_IN_USE, 0));
	CHECK(hs_heap_add_chunk(heap, BASE + 64, 64, HS_CHUNK_FREE, 0));
	CHECK(!hs_heap_finish(heap));

	uint8_t w[64];
	put64(w, BASE + 64 + 8);          /* inside a (free) chunk: H */
	put64(w + 8, MOD + 0x10);         /* inside the module: M */
	put64(w + 16, 0);                 /* 0 */
	put64(w + 24, 42);                /* i */
	memcpy(w + 32, "LEAKTAG!", 8);    /* t */
	put64(w + 40, 0x4093480000000000ull); /* a double: ? */
	put64(w + 48, (uint64_t)-3);      /* small negative: i */
	memcpy(w + 56, "abcde\0\0\0", 8); /* printable then NULs: t */
	char buf[32];
	uint32_t code = hs_pattern_code(proc, heap, w, 8);
	CHECK(!strcmp(hs_pattern_format(code, buf, sizeof(buf)), "H M 0 i t ? i t"));
	/* Six words of the same shape give the same code whatever the values:
	 * no addresses in it. */
	uint8_t w2[48];
	memcpy(w2, w, 48);
	put64(w2, BASE + 8);
	put64(w2 + 8, MOD + 0x80);
	put64(w2 + 24, 7);
	memcpy(w2 + 32, "OTHERTXT", 8);
	CHECK(hs_pattern_code(proc, heap, w2, 6) == hs_pattern_code(proc, heap, w, 6));
	CHECK(!strcmp(hs_pattern_format(hs_pattern_code(proc, heap, w, 6), buf, sizeof(buf)),
		      "H M 0 i t ?"));
	/* A stack-like address (not heap, not module) is "other". */
	put64(w2, 0x7ffd9c0560d0ull);
	CHECK(!strcmp(hs_pattern_format(hs_pattern_code(proc, heap, w2, 1), buf, sizeof(buf)),
		      "?"));
	CHECK(!strcmp(hs_pattern_format(hs_pattern_code(proc, heap, w2, 0), buf, sizeof(buf)),
		      "-"));
	hs_heap_destroy(heap);
	hs_process_destroy(proc);
}

/*
 * A jemalloc-sized heap with known contents:
 *   +0x000 (16)  sdshdr5 "key-000001", pointed to at +1 by the dict entry
 *   +0x010 (16)  sdshdr5-looking text with no referrer: weak (no Redis gate)
 *   +0x020 (32)  "dict entry": a pointer to +0x001 and to +0x040 + 3
 *   +0x040 (96)  sdshdr8 {len 84, alloc 84} (seeds/001), referenced at +3
 *   +0x0a0 (48)  a 40-character C string (malloc(41) is a 48-byte region)
 *   +0x0d0 (48)  three 48-byte structs of one shape, adjacent: a run
 *   +0x100 (48)
 *   +0x130 (48)
 *   +0x160 (32)  robj string/embstr with an inline sdshdr8 "embedded"
 *   +0x180 (64)  free
 */
static void test_classify_heap(void)
{
	memset(heapmem, 0, sizeof(heapmem));
	uint8_t *h = heapmem;
	h[0] = 10 << 3;
	memcpy(h + 1, "key-000001", 11);
	h[0x10] = 10 << 3;
	memcpy(h + 0x11, "key-000002", 11);
	put64(h + 0x20, BASE + 1);
	put64(h + 0x28, BASE + 0x40 + 3);
	h[0x40] = 84;
	h[0x41] = 84;
	h[0x42] = 1;
	memset(h + 0x43, 'K', 84);
	memcpy(h + 0xa0, "hello, classifier: forty characters long", 41);
	for (int k = 0; k < 3; k++) {
		uint8_t *r = h + 0xd0 + 48 * k;
		put64(r, BASE + 0x20);
		put64(r + 8, MOD + 8);
		put64(r + 24, (uint64_t)k + 1);
		memcpy(r + 32, "LEAKTAG!", 8);
		put64(r + 40, 0x4093480000000000ull + (uint64_t)k);
	}
	uint8_t *o = h + 0x160;
	put64(o, 0 | 8u << 4 | 123u << 8); /* type string, encoding embstr, lru */
	memcpy(o + 4, &(int32_t){1}, 4);
	put64(o + 8, BASE + 0x160 + 19);
	o[16] = 8;
	o[17] = 8;
	o[18] = 1;
	memcpy(o + 19, "embedded", 9);

	struct hs_process *proc = make_process();
	struct hs_heap *heap;
	CHECK(!hs_heap_create(&heap));
	snprintf(heap->allocator, sizeof(heap->allocator), "jemalloc");
	static const struct {
		uint64_t off, size;
		enum hs_chunk_state st;
	} chunks[] = {
		{0x000, 16, HS_CHUNK_IN_USE}, {0x010, 16, HS_CHUNK_IN_USE},
		{0x020, 32, HS_CHUNK_IN_USE}, {0x040, 96, HS_CHUNK_IN_USE},
		{0x0a0, 48, HS_CHUNK_IN_USE}, {0x0d0, 48, HS_CHUNK_IN_USE},
		{0x100, 48, HS_CHUNK_IN_USE}, {0x130, 48, HS_CHUNK_IN_USE},
		{0x160, 32, HS_CHUNK_IN_USE}, {0x180, 64, HS_CHUNK_FREE},
	};
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++)
		CHECK(hs_heap_add_chunk(heap, BASE + chunks[k].off, chunks[k].size, chunks[k].st, 0));
	CHECK(!hs_heap_finish(heap));

	struct hs_classifier *cl = NULL;
	struct hs_classify_options opts = {.threads = 2};
	CHECK(!hs_classifier_create(proc, heap, &opts, &cl));
	if (!cl)
		return;
	const char *kind = NULL;
	char name[256];
	CHECK(type_at(cl, heap, BASE + 0x000, name, &kind) && !strcmp(name, "sdshdr5") &&
	      !strcmp(kind, "sds"));
	/* Unreferenced and no Redis gate: a C string, not an sds. */
	CHECK(type_at(cl, heap, BASE + 0x010, name, &kind) && !strcmp(kind, "cstring"));
	CHECK(type_at(cl, heap, BASE + 0x040, name, &kind) && !strcmp(name, "sdshdr8"));
	CHECK(type_at(cl, heap, BASE + 0x0a0, name, &kind) && !strcmp(name, "C string"));
	CHECK(type_at(cl, heap, BASE + 0x0d0, name, &kind) &&
	      !strcmp(name, "pattern 48 [H M 0 i t ?]") && !strcmp(kind, "pattern"));
	CHECK(type_at(cl, heap, BASE + 0x100, name, &kind) &&
	      !strcmp(name, "pattern 48 [H M 0 i t ?]"));
	CHECK(type_at(cl, heap, BASE + 0x160, name, &kind) && !strcmp(name, "robj string/embstr") &&
	      !strcmp(kind, "robj"));
	CHECK(!type_at(cl, heap, BASE + 0x180, name, &kind)); /* free: not classified */

	char why[512];
	struct hs_chunk ch;
	hs_chunk_id id;
	CHECK(hs_heap_find(heap, BASE + 0x40, &ch, &id) &&
	      hs_classify_chunk(cl, id, name, sizeof(name), &kind, why, sizeof(why)));
	CHECK(strstr(why, "sdshdr8 header {len=84 alloc=84 flags=1}") != NULL);

	struct hs_report r;
	hs_report_init(&r);
	struct hs_census *cs = NULL;
	CHECK(!hs_census_run(cl, NULL, &cs));
	CHECK(cs && !hs_census_report(cs, &r));
	hs_census_destroy(cs);
	int found = 0;
	for (size_t k = 0; k < r.npatterns; k++) {
		if (strcmp(r.patterns[k].signature, "H M 0 i t ?"))
			continue;
		found = 1;
		CHECK(r.patterns[k].count == 3 && r.patterns[k].runs == 1 &&
		      r.patterns[k].size == 48 && r.patterns[k].nsamples == 3);
		CHECK(r.patterns[k].samples[0].address == BASE + 0xd0);
		CHECK(r.patterns[k].samples[0].hex &&
		      strstr(r.patterns[k].samples[0].hex, "|LEAKTAG!") != NULL);
	}
	CHECK(found);
	uint64_t total = 0;
	for (size_t k = 0; k < r.ntypes; k++) {
		total += r.types[k].bytes;
		if (k)
			CHECK(r.types[k - 1].bytes >= r.types[k].bytes);
	}
	CHECK(total == 16 + 16 + 32 + 96 + 48 * 4 + 32); /* every in-use chunk, once */
	hs_report_deinit(&r);
	hs_classifier_destroy(cl);

	/* --redact: the same patterns, no bytes. */
	opts.redact = true;
	CHECK(!hs_classifier_create(proc, heap, &opts, &cl));
	hs_report_init(&r);
	CHECK(!hs_census_run(cl, NULL, &cs));
	CHECK(cs && !hs_census_report(cs, &r));
	hs_census_destroy(cs);
	for (size_t k = 0; k < r.npatterns; k++)
		for (size_t s = 0; s < r.patterns[k].nsamples; s++)
			CHECK(r.patterns[k].samples[s].hex == NULL);
	hs_report_deinit(&r);
	hs_classifier_destroy(cl);
	hs_heap_destroy(heap);
	hs_process_destroy(proc);
}

/*
 * A writable range that ends at the top of the address space (a fuzzed
 * core made one): the pointer scan neither wraps past 2^64 nor loops, and
 * still sees the pointer in it. A free chunk whose rounded end wraps stops
 * the scan of that range.
 */
static void test_top_of_space(void)
{
	static uint8_t top[0xff];
	const uint64_t TOP = 0xffffffffffffff00ull;
	memset(heapmem, 0, sizeof(heapmem));
	heapmem[0] = 10 << 3;
	memcpy(heapmem + 1, "key-000001", 11);
	put64(top, BASE + 1); /* an sds pointer, as a dict entry holds */
	memset(top + 8, 0x41, sizeof(top) - 8);

	struct hs_process *proc;
	CHECK(!hs_process_create(&proc));
	CHECK(!hs_memory_add(&proc->mem, BASE, sizeof(heapmem), heapmem, sizeof(heapmem), 6));
	CHECK(!hs_memory_add(&proc->mem, TOP, sizeof(top), top, sizeof(top), 6));
	CHECK(!hs_memory_seal(&proc->mem));
	struct hs_heap *heap;
	CHECK(!hs_heap_create(&heap));
	snprintf(heap->allocator, sizeof(heap->allocator), "jemalloc");
	CHECK(hs_heap_add_chunk(heap, BASE, 16, HS_CHUNK_IN_USE, 0));
	CHECK(hs_heap_add_chunk(heap, TOP + 0x10, 0xee, HS_CHUNK_FREE, 0));
	CHECK(!hs_heap_finish(heap));

	struct hs_classifier *cl = NULL;
	struct hs_classify_options opts = {0};
	CHECK(!hs_classifier_create(proc, heap, &opts, &cl));
	const char *kind = NULL;
	char name[256];
	CHECK(cl && type_at(cl, heap, BASE, name, &kind) && !strcmp(name, "sdshdr5") &&
	      !strcmp(kind, "sds"));
	hs_classifier_destroy(cl);
	hs_heap_destroy(heap);
	hs_process_destroy(proc);
}

/* ------------------------------------------------------------------ census paths */

static uint64_t census_seed = 88172645463325252ull;
static uint64_t census_rnd(void)
{
	return check_rnd(&census_seed);
}

static void census_sink(void *arg, hs_chunk_id id, uint32_t tag)
{
	(void)arg;
	(void)id;
	(void)tag;
}

/* The census of cl, on `threads` threads; with a sink it takes every chunk
 * one at a time (no uniform stretches). */
static void census_of(struct hs_process *proc, struct hs_heap *heap, unsigned threads,
		      bool sink, struct hs_report *r)
{
	struct hs_classifier *cl = NULL;
	struct hs_classify_options opts = {.threads = threads};
	CHECK(!hs_classifier_create(proc, heap, &opts, &cl));
	struct hs_census_options co = {.leaks = true, .sink = sink ? census_sink : NULL};
	struct hs_census *cs = NULL;
	hs_report_init(r);
	CHECK(cl && !hs_census_run(cl, &co, &cs));
	CHECK(cs && !hs_census_report(cs, r));
	hs_census_destroy(cs);
	hs_classifier_destroy(cl);
}

static void census_same(const struct hs_report *a, const struct hs_report *b)
{
	CHECK_EQ(a->ntypes, b->ntypes);
	for (size_t k = 0; k < a->ntypes && k < b->ntypes; k++) {
		const struct hs_report_type *x = &a->types[k], *y = &b->types[k];
		CHECK(!strcmp(x->name, y->name));
		CHECK_EQ(x->count, y->count);
		CHECK_EQ(x->bytes, y->bytes);
		CHECK_EQ(x->leaked.count, y->leaked.count);
		CHECK_EQ(x->leaked.bytes, y->leaked.bytes);
		CHECK_EQ(x->nexamples, y->nexamples);
		for (size_t e = 0; e < x->nexamples && e < y->nexamples; e++)
			CHECK_EQ(x->examples[e], y->examples[e]);
	}
	CHECK_EQ(a->npatterns, b->npatterns);
	for (size_t k = 0; k < a->npatterns && k < b->npatterns; k++) {
		const struct hs_report_pattern *x = &a->patterns[k], *y = &b->patterns[k];
		CHECK(!strcmp(x->signature, y->signature));
		CHECK_EQ(x->size, y->size);
		CHECK_EQ(x->count, y->count);
		CHECK_EQ(x->runs, y->runs);
		CHECK_EQ(x->nsamples, y->nsamples);
		for (size_t e = 0; e < x->nsamples && e < y->nsamples; e++)
			CHECK_EQ(x->samples[e].address, y->samples[e].address);
	}
}

#define CENSUS_HEAP (UINT64_C(1) << 20)
static uint8_t census_mem[CENSUS_HEAP];

/*
 * The census takes chunks of uniform runs a stretch at a time; the same
 * heap counted one chunk at a time (a sink makes it) must give the same
 * report, on one thread and on two. The heap mixes long stretches of equal
 * glibc chunks (uniform runs), chunks of any size (variable runs), slabs of
 * free, cached and metadata regions, and a core that holds only part of the
 * heap; the chunks hold indexes, copies of one object, heap pointers and
 * text, with random MARK bits.
 */
static void test_census_stretches(void)
{
	for (unsigned round = 0; round < 6; round++) {
		bool glibc = round & 1;
		/* Rounds 4 and 5: the core stops short of the heap's end. */
		size_t held = round >= 4 ? CENSUS_HEAP - 40000 - 8 * (census_rnd() % 64) : CENSUS_HEAP;
		struct hs_process *proc = check_process_create(BASE, census_mem, held, MOD, modmem,
							       sizeof(modmem), 4);
		struct hs_heap *heap;
		CHECK(!hs_heap_create(&heap));
		snprintf(heap->allocator, sizeof(heap->allocator), glibc ? "glibc" : "jemalloc");
		if (glibc)
			hs_heap_set_granule(heap, 4);
		uint64_t off = 0;
		while (off < CENSUS_HEAP - 4096) {
			uint64_t size = 16 * (2 + census_rnd() % 4), n;
			enum hs_chunk_state st = HS_CHUNK_IN_USE;
			unsigned flags = 0;
			switch (census_rnd() % 4) {
			case 0: /* a long stretch */
				n = 1024 + census_rnd() % 1500;
				break;
			case 1: /* a slab of another state */
				n = 1 + census_rnd() % 200;
				st = census_rnd() % 2 ? HS_CHUNK_FREE : HS_CHUNK_CACHED;
				flags = census_rnd() % 4 ? 0 : HS_CHUNK_F_METADATA;
				if (flags)
					st = HS_CHUNK_IN_USE;
				break;
			default: /* a few, one at a time */
				n = 1 + census_rnd() % 20;
				break;
			}
			if (n > (CENSUS_HEAP - off) / size)
				n = (CENSUS_HEAP - off) / size;
			unsigned fill = (unsigned)(census_rnd() % 4);
			for (uint64_t i = 0; i < n; i++) {
				uint8_t *p = census_mem + off + i * size;
				memset(p, 0, size);
				if (fill == 0)
					put64(p, i); /* an index */
				else if (fill == 1)
					put64(p, 0x1122334455667788ull); /* one object, copied */
				else if (fill == 2)
					put64(p, BASE + census_rnd() % CENSUS_HEAP); /* a pointer */
				else
					memcpy(p, census_rnd() % 2 ? "some text" : "other te", 9);
				if (census_rnd() % 64 == 0)
					put64(p + 8, census_rnd());
			}
			if (n > 1 && census_rnd() % 2)
				CHECK(hs_heap_add_chunks(heap, BASE + off, size, n, st, flags));
			else
				for (uint64_t i = 0; i < n; i++)
					CHECK(hs_heap_add_chunk(heap, BASE + off + i * size, size, st,
								flags));
			off += n * size;
		}
		CHECK(!hs_heap_finish(heap));
		struct hs_chunk_iter it;
		struct hs_chunk ch;
		hs_chunk_id id;
		hs_chunk_iter_init(&it, heap, 0, UINT64_MAX);
		while (hs_chunk_iter_next(&it, &ch, &id))
			if (hs_chunk_state(&ch) == HS_CHUNK_IN_USE && census_rnd() % 3)
				hs_heap_chunk_bit_set(heap, id, HS_CHUNK_BIT_MARK);
		struct hs_report one, two, each;
		census_of(proc, heap, 1, false, &one);
		census_of(proc, heap, 2, false, &two);
		census_of(proc, heap, 2, true, &each);
		CHECK(one.ntypes > 3 && one.npatterns > 3);
		census_same(&one, &two);
		census_same(&one, &each);
		hs_report_deinit(&one);
		hs_report_deinit(&two);
		hs_report_deinit(&each);
		hs_heap_destroy(heap);
		hs_process_destroy(proc);
	}
}

int main(void)
{
	test_sds_parse();
	test_hexdump();
	test_signature();
	test_classify_heap();
	test_top_of_space();
	test_census_stretches();
	return check_summary("test_classify");
}
