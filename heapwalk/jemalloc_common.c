/* jemalloc_common.c: what the jemalloc 4.x and 5.x walks share: rings, cached items, statistic names. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jemalloc_common.h"

void hs_je_ring_init(struct hs_je_ring *r, uint64_t head, uint32_t next_off,
		     const char *what, uint64_t owner, size_t max)
{
	*r = (struct hs_je_ring){.head = head, .cur = head, .tortoise = head,
				 .owner = owner, .power = 1, .max = max,
				 .next_off = next_off, .what = what};
}

bool hs_je_ring_next(struct hs_je_ring *r, const struct hs_memory *mem,
		     struct hs_diags *diags, uint64_t *elm)
{
	if (r->started && r->cur) {
		uint64_t cur = r->cur, next;
		r->cur = 0;
		if (!hs_memory_u64(mem, cur + r->next_off, &next) || !next) {
			if (diags)
				hs_diags_add(diags, HS_DIAG_WARNING, true, cur,
					     "jemalloc: %s of %#" PRIx64 ": link at %#" PRIx64
					     " unreadable or NULL", r->what, r->owner, cur);
			return false;
		}
		if (next == r->head)
			return false;
		if (++r->n >= r->max || next == r->tortoise) {
			if (diags)
				hs_diags_add(diags, HS_DIAG_WARNING, true, cur,
					     "jemalloc: %s of %#" PRIx64 " does not return to"
					     " its head (cycle or over %zu elements)", r->what,
					     r->owner, r->max);
			return false;
		}
		/* Brent: the tortoise jumps to the hare at each power of two. */
		if (r->power == r->lam) {
			r->tortoise = next;
			r->power *= 2;
			r->lam = 0;
		}
		r->lam++;
		r->cur = next;
	}
	r->started = true;
	if (!r->cur)
		return false;
	*elm = r->cur;
	return true;
}

static int je_cmp_addr(const void *a, const void *b)
{
	uint64_t x, y;
	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return x < y ? -1 : x > y;
}

size_t hs_je_items_sort(void *items, size_t n, size_t size, struct hs_diags *diags)
{
	if (!n)
		return 0;
	uint8_t *p = items;
	qsort(p, n, size, je_cmp_addr);
	size_t out = 0;
	uint64_t last = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t addr;
		memcpy(&addr, p + i * size, sizeof(addr));
		if (out && addr == last) {
			if (diags)
				hs_diags_add(diags, HS_DIAG_WARNING, true, addr,
					     "jemalloc: %#" PRIx64 " is cached twice (double free)",
					     addr);
			continue;
		}
		if (out != i)
			memcpy(p + out * size, p + i * size, size);
		out++;
		last = addr;
	}
	return out;
}

bool hs_je_set_stat(struct hs_heap *heap, long ind, const char *what, uint64_t v)
{
	char name[64];
	if (ind < 0)
		snprintf(name, sizeof(name), "stats.%s", what);
	else
		snprintf(name, sizeof(name), "stats.arenas.%ld.%s", ind, what);
	return hs_heap_set_stat(heap, name, v);
}
