/* jemalloc_common.h: what the jemalloc 4.x and 5.x walks share (private to heapwalk/). */
#ifndef HS_JEMALLOC_COMMON_H
#define HS_JEMALLOC_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heapwalk.h"

/*
 * A walk around one of jemalloc's circular lists (ql/qr rings: tcaches,
 * cached chunks, huge extents, cache-bin descriptors), read from the core.
 * Every link is checked: an unreadable or NULL link, a ring that does not
 * return to its head within `max` elements, or one that loops without
 * passing through the head (Brent's cycle detection) ends the walk with a
 * warning in `diags` (none when diags is NULL, as in a trial walk).
 *
 *   struct hs_je_ring r;
 *   uint64_t elm;
 *   hs_je_ring_init(&r, head, next_off, "tcache_ql", arena, 65536);
 *   while (hs_je_ring_next(&r, mem, diags, &elm))
 *           ...
 *
 * `what` must outlive the walk; nothing is allocated.
 */
struct hs_je_ring {
	uint64_t head, cur, tortoise, owner;
	size_t power, lam, n, max;
	uint32_t next_off;
	bool started;
	const char *what;
};

void hs_je_ring_init(struct hs_je_ring *r, uint64_t head, uint32_t next_off,
		     const char *what, uint64_t owner, size_t max);

/* The next element (the head first) in *elm; false at the end. */
bool hs_je_ring_next(struct hs_je_ring *r, const struct hs_memory *mem,
		     struct hs_diags *diags, uint64_t *elm);

/*
 * Sort n records of `size` bytes that start with a uint64_t address by that
 * address, and drop the repeats of an address: a pointer cached twice is a
 * double free, warned about in `diags` (when not NULL). Returns how many
 * records remain.
 */
size_t hs_je_items_sort(void *items, size_t n, size_t size, struct hs_diags *diags);

/*
 * Record "stats.arenas.<ind>.<what>" (or "stats.<what>" for ind < 0) in the
 * heap's statistics. False when out of memory.
 */
bool hs_je_set_stat(struct hs_heap *heap, long ind, const char *what, uint64_t v);

#endif
