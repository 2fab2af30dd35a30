/* bench_fill_common.h: the bench fill programs' random size mix (xorshift, 80/19/1 % buckets). */
#ifndef HS_BENCH_FILL_COMMON_H
#define HS_BENCH_FILL_COMMON_H

#include <stddef.h>
#include <stdint.h>

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* 80% of 16..128 bytes, 19% of 128..512, 1% of 512..512 + large_span - 1. */
static size_t pick_size(uint64_t *s, uint64_t large_span)
{
	uint64_t r = xorshift(s);
	unsigned bucket = (unsigned)(r % 100);
	r >>= 8;
	if (bucket < 80)
		return 16 + r % 113;
	if (bucket < 99)
		return 128 + r % 385;
	return 512 + r % large_span;
}

#endif
