/* test_memory.c: unit tests for hs_memory: range lookup, boundaries, truncation, overlaps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../symbols/symbols.h"
#include "check.h"

/* The error's code, freeing it; 0 for success. */
static int code_of(struct hs_error *err)
{
	int c = err ? (int)err->code : 0;
	hs_error_destroy(err);
	return c;
}

static uint8_t a[0x1000], b[0x1000], c[0x100];

static void test_basic(void)
{
	struct hs_memory mem;
	hs_memory_init(&mem);
	for (size_t i = 0; i < sizeof(a); i++) {
		a[i] = (uint8_t)i;
		b[i] = (uint8_t)(0xff - i);
	}
	/* Added out of order: seal sorts. b is adjacent to a; c is half
	 * backed (a truncated range). */
	CHECK(code_of(hs_memory_add(&mem, 0x20000, 0x200, c, 0x100, 4)) == 0);
	CHECK(code_of(hs_memory_add(&mem, 0x11000, 0x1000, b, 0x1000, 6)) == 0);
	CHECK(code_of(hs_memory_add(&mem, 0x10000, 0x1000, a, 0x1000, 5)) == 0);
	/* Reads before sealing fail loudly. */
	CHECK(hs_memory_ptr(&mem, 0x10000, 1) == NULL);
	CHECK(code_of(hs_memory_read(&mem, 0x10000, c, 1)) == HS_ERR_OTHER);
	CHECK(code_of(hs_memory_seal(&mem)) == 0);
	CHECK(mem.count == 3 && mem.ranges[0].start == 0x10000);

	/* ptr fast path, repeated (cache) and alternating ranges. */
	for (int k = 0; k < 3; k++) {
		CHECK(hs_memory_ptr(&mem, 0x10010, 8) == a + 0x10);
		CHECK(hs_memory_ptr(&mem, 0x11ff8, 8) == b + 0xff8);
		CHECK(hs_memory_ptr(&mem, 0x20000, 0x100) == c);
	}
	CHECK(hs_memory_ptr(&mem, 0x10000, 0) == a);
	CHECK(hs_memory_ptr(&mem, 0x10fff, 1) == a + 0xfff);
	/* Not within one range: NULL, even when the bytes are contiguous. */
	CHECK(hs_memory_ptr(&mem, 0x10ffc, 8) == NULL);
	CHECK(!hs_memory_readable(&mem, 0x10ffc, 8));
	CHECK(hs_memory_readable(&mem, 0x10ff8, 8));
	/* Unmapped: below, between, above, and near the top of the space. */
	CHECK(hs_memory_ptr(&mem, 0xffff, 1) == NULL);
	CHECK(hs_memory_ptr(&mem, 0x12000, 1) == NULL);
	CHECK(hs_memory_ptr(&mem, 0x20200, 1) == NULL);
	CHECK(hs_memory_ptr(&mem, UINT64_MAX, 1) == NULL);
	CHECK(hs_memory_ptr(&mem, 0x10000, SIZE_MAX) == NULL);

	/* read: spanning adjacent backed ranges works, byte for byte. */
	uint8_t buf[16];
	CHECK(code_of(hs_memory_read(&mem, 0x10ff8, buf, 16)) == 0);
	CHECK(memcmp(buf, a + 0xff8, 8) == 0 && memcmp(buf + 8, b, 8) == 0);
	/* ... but a read running off the end into a gap fails. */
	CHECK(code_of(hs_memory_read(&mem, 0x11ff8, buf, 16)) == HS_ERR_FAULT);
	CHECK(code_of(hs_memory_read(&mem, 0x12000, buf, 1)) == HS_ERR_FAULT);
	CHECK(code_of(hs_memory_read(&mem, UINT64_MAX - 3, buf, 8)) ==
	      HS_ERR_FAULT);
	/* Truncated range: mapped but not backed. */
	CHECK(code_of(hs_memory_read(&mem, 0x20100, buf, 1)) ==
	      HS_ERR_TRUNCATED);
	CHECK(code_of(hs_memory_read(&mem, 0x200f8, buf, 16)) ==
	      HS_ERR_TRUNCATED);
	CHECK(hs_memory_ptr(&mem, 0x200f8, 16) == NULL);
	CHECK(hs_memory_ptr(&mem, 0x200f8, 8) == c + 0xf8);
	/* backed: exactly where read succeeds, across adjacent ranges too. */
	CHECK(hs_memory_backed(&mem, 0x10000, 0x2000));
	CHECK(hs_memory_backed(&mem, 0x10ff8, 16));
	CHECK(!hs_memory_backed(&mem, 0x11ff8, 16));
	CHECK(!hs_memory_backed(&mem, UINT64_MAX - 3, 8));
	CHECK(hs_memory_backed(&mem, 0x200f8, 8));
	CHECK(!hs_memory_backed(&mem, 0x200f8, 16));
	/* next_backed: the address itself, the next range over a gap, or
	 * nothing past the truncated tail of the last range. */
	uint64_t nb = 0;
	CHECK(hs_memory_next_backed(&mem, 0x100, &nb) && nb == 0x10000);
	CHECK(hs_memory_next_backed(&mem, 0x11fff, &nb) && nb == 0x11fff);
	CHECK(hs_memory_next_backed(&mem, 0x12000, &nb) && nb == 0x20000);
	CHECK(hs_memory_next_backed(&mem, 0x200ff, &nb) && nb == 0x200ff);
	CHECK(!hs_memory_next_backed(&mem, 0x20100, &nb));
	CHECK(!hs_memory_next_backed(&mem, UINT64_MAX, &nb));
	struct hs_error *err = hs_memory_read(&mem, 0x20150, buf, 4);
	CHECK(err && strstr(err->message, "0x20150"));
	hs_error_destroy(err);

	/* u64 / u32 */
	uint64_t v = 0;
	uint32_t w = 0;
	CHECK(hs_memory_u64(&mem, 0x10008, &v) && v == 0x0f0e0d0c0b0a0908ULL);
	CHECK(hs_memory_u32(&mem, 0x10004, &w) && w == 0x07060504);
	CHECK(hs_memory_u64(&mem, 0x10ffc, &v)); /* spans a|b */
	CHECK(!hs_memory_u64(&mem, 0x11ffc, &v));
	CHECK(!hs_memory_u32(&mem, 0x20100, &w));

	/* find */
	const struct hs_memory_range *r = hs_memory_find(&mem, 0x201ff);
	CHECK(r && r->start == 0x20000 && r->filesz == 0x100 && r->flags == 4);
	CHECK(hs_memory_find(&mem, 0x20200) == NULL);

	/* Adding after sealing keeps the order and rejects overlaps. */
	CHECK(code_of(hs_memory_add(&mem, 0x11800, 0x1000, NULL, 0, 0)) ==
	      HS_ERR_FORMAT);
	CHECK(code_of(hs_memory_add(&mem, 0xf000, 0x1001, NULL, 0, 0)) ==
	      HS_ERR_FORMAT);
	CHECK(code_of(hs_memory_add(&mem, 0xf000, 0x1000, NULL, 0, 0)) == 0);
	CHECK(code_of(hs_memory_add(&mem, 0x30000, 0x10, c, 0x10, 0)) == 0);
	CHECK(mem.count == 5 && mem.ranges[0].start == 0xf000 &&
	      mem.ranges[4].start == 0x30000);
	CHECK(hs_memory_ptr(&mem, 0x30008, 8) == c + 8);
	CHECK(code_of(hs_memory_read(&mem, 0xf000, buf, 1)) == HS_ERR_TRUNCATED);
	hs_memory_deinit(&mem);
}

static void test_rejects(void)
{
	struct hs_memory mem;
	hs_memory_init(&mem);
	/* Bad arguments. */
	CHECK(code_of(hs_memory_add(&mem, UINT64_MAX - 0xf, 0x20, NULL, 0, 0)) ==
	      HS_ERR_FORMAT);
	CHECK(code_of(hs_memory_add(&mem, 0x1000, 0x10, a, 0x11, 0)) ==
	      HS_ERR_FORMAT);
	CHECK(code_of(hs_memory_add(&mem, 0x1000, 0x10, NULL, 0x8, 0)) ==
	      HS_ERR_FORMAT);
	CHECK(code_of(hs_memory_add(&mem, 0x1000, 0, NULL, 0, 0)) == 0);
	CHECK(mem.count == 0);
	/* Overlap found at seal time. */
	CHECK(code_of(hs_memory_add(&mem, 0x1000, 0x100, a, 0x100, 0)) == 0);
	CHECK(code_of(hs_memory_add(&mem, 0x10ff, 0x100, b, 0x100, 0)) == 0);
	CHECK(code_of(hs_memory_seal(&mem)) == HS_ERR_FORMAT);
	CHECK(!mem.sealed);
	CHECK(hs_memory_ptr(&mem, 0x1000, 1) == NULL);
	hs_memory_deinit(&mem);
	/* Same start twice. */
	hs_memory_init(&mem);
	CHECK(code_of(hs_memory_add(&mem, 0x1000, 0x10, a, 0x10, 0)) == 0);
	CHECK(code_of(hs_memory_add(&mem, 0x1000, 0x10, b, 0x10, 0)) == 0);
	CHECK(code_of(hs_memory_seal(&mem)) == HS_ERR_FORMAT);
	hs_memory_deinit(&mem);
	/* An empty map seals and reads nothing. */
	hs_memory_init(&mem);
	CHECK(code_of(hs_memory_seal(&mem)) == 0);
	CHECK(hs_memory_ptr(&mem, 0, 0) == NULL);
	CHECK(code_of(hs_memory_read(&mem, 0, a, 1)) == HS_ERR_FAULT);
	hs_memory_deinit(&mem);
	hs_memory_deinit(NULL);
}

/* Many ranges: every lookup lands in the right one (binary search). */
static void test_many(void)
{
	struct hs_memory mem;
	hs_memory_init(&mem);
	enum { N = 5000 };
	static uint64_t backing[N];
	for (size_t i = 0; i < N; i++) {
		size_t k = (i * 7919) % N; /* shuffled insertion order */
		backing[k] = k;
		CHECK(code_of(hs_memory_add(&mem, 0x100000 + k * 0x20,
					    0x10, &backing[k], 8, 0)) == 0);
	}
	CHECK(code_of(hs_memory_seal(&mem)) == 0);
	for (size_t i = 0; i < N; i++) {
		uint64_t v = ~0ULL;
		CHECK(hs_memory_u64(&mem, 0x100000 + i * 0x20, &v) && v == i);
		CHECK(hs_memory_ptr(&mem, 0x100000 + i * 0x20 + 0x10, 1) == NULL);
		CHECK(code_of(hs_memory_read(&mem, 0x100000 + i * 0x20 + 8, &v,
					     1)) == HS_ERR_TRUNCATED);
	}
	hs_memory_deinit(&mem);
}

/* next_backed steps over ranges the core holds no bytes of (gcore leaves
 * some mappings out), not only over gaps. */
static void test_next_backed(void)
{
	struct hs_memory mem;
	hs_memory_init(&mem);
	CHECK(code_of(hs_memory_add(&mem, 0x1000, 0x1000, a, 0x10, 6)) == 0);
	CHECK(code_of(hs_memory_add(&mem, 0x2000, 0x1000, NULL, 0, 6)) == 0);
	CHECK(code_of(hs_memory_add(&mem, 0x4000, 0x1000, NULL, 0, 4)) == 0);
	CHECK(code_of(hs_memory_add(&mem, 0x6000, 0x100, b, 0x100, 6)) == 0);
	uint64_t nb = 0;
	CHECK(!hs_memory_next_backed(&mem, 0, &nb)); /* not sealed */
	CHECK(code_of(hs_memory_seal(&mem)) == 0);
	CHECK(hs_memory_next_backed(&mem, 0, &nb) && nb == 0x1000);
	CHECK(hs_memory_next_backed(&mem, 0x100f, &nb) && nb == 0x100f);
	CHECK(hs_memory_next_backed(&mem, 0x1010, &nb) && nb == 0x6000);
	CHECK(hs_memory_next_backed(&mem, 0x4800, &nb) && nb == 0x6000);
	CHECK(!hs_memory_next_backed(&mem, 0x6100, &nb));
	hs_memory_deinit(&mem);
}

int main(void)
{
	test_basic();
	test_rejects();
	test_many();
	test_next_backed();
	return check_summary("test_memory");
}
