/* jemalloc_base.c: jemalloc's base blocks (its metadata mappings), declared to the memory map. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jemalloc_internal.h"

/*
 * jemalloc 5.x carves every edata_t (extent_t in 5.2), rtree node and
 * arena_t out of base blocks (src/base.c base_block_alloc, 5.2.1 and
 * 5.3.0): mappings aligned to HUGEPAGE and sized in multiples of it, each
 * starting with base_block_t {size_t size; base_block_t *next; ...}
 * (include/jemalloc/internal/base.h; `next` leads to the base's older
 * block). HUGEPAGE is 2 MiB on x86_64 (LG_HUGEPAGE 21, configure.ac).
 */
#define JB_HUGEPAGE (UINT64_C(1) << 21)
/* A block holding an address starts at most this far below its page: the
 * blocks of a base grow geometrically, and no real one reaches 1 GiB. */
#define JB_MAX_BACK 512
#define JB_MAX_BLOCK (UINT64_C(1) << 30)
/* Blocks in all: a process with thousands of arenas has a few each. */
#define JB_MAX_BLOCKS 65536

static int jb_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The block header at `start`, if it is one that may hold `addr`. */
static bool jb_header(const struct hs_memory *mem, uint64_t start, uint64_t addr,
		      uint64_t *size, uint64_t *next)
{
	return hs_memory_u64(mem, start, size) && hs_memory_u64(mem, start + 8, next) &&
	       *size && !(*size % JB_HUGEPAGE) && *size <= JB_MAX_BLOCK &&
	       addr - start < *size && !(*next % JB_HUGEPAGE);
}

struct jb_block {
	uint64_t start, size;
};

struct jb_blocks {
	struct jb_block *v;
	size_t n, cap;
};

/* Whether a block found already holds addr (a few hundred blocks at most
 * in a real process: a linear look is fine). */
static bool jb_seen(const struct jb_blocks *b, uint64_t addr)
{
	for (size_t i = 0; i < b->n; i++)
		if (addr - b->v[i].start < b->v[i].size)
			return true;
	return false;
}

bool hs_je_base_blocks(const struct hs_memory *mem, uint64_t *addrs, size_t n,
		       struct hs_heap *heap)
{
	/* One probe per 2 MiB page that holds metadata, lowest first, so that
	 * a block is found from its own first page before its later ones. */
	for (size_t i = 0; i < n; i++)
		addrs[i] &= ~(JB_HUGEPAGE - 1);
	qsort(addrs, n, sizeof(*addrs), jb_cmp_u64);
	struct jb_blocks b = { 0 };
	bool ok = true;
	for (size_t i = 0; i < n && ok && b.n < JB_MAX_BLOCKS; i++) {
		if (!addrs[i] || (i && addrs[i] == addrs[i - 1]) || jb_seen(&b, addrs[i]))
			continue;
		uint64_t start = 0, size = 0, next = 0;
		bool found = false;
		for (unsigned back = 0; back < JB_MAX_BACK && !found; back++) {
			start = addrs[i] - (uint64_t)back * JB_HUGEPAGE;
			if (start > addrs[i])
				break;
			found = jb_header(mem, start, addrs[i], &size, &next);
		}
		/* The block, and the older ones its base links to. */
		while (found && ok && b.n < JB_MAX_BLOCKS && !jb_seen(&b, start)) {
			if (b.n == b.cap &&
			    !hs_grow((void **)&b.v, &b.cap, b.n + 1, sizeof(*b.v))) {
				ok = false;
				break;
			}
			b.v[b.n++] = (struct jb_block){ start, size };
			ok = hs_heap_add_region(heap, HS_REGION_METADATA, start, size);
			start = next;
			found = start && jb_header(mem, start, start, &size, &next);
		}
	}
	free(b.v);
	return ok;
}
