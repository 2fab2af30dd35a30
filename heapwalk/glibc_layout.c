/* glibc_layout.c: the versioned table of glibc ptmalloc layouts (x86_64). */
#include <stdbool.h>

#include "../common/common.h"
#include "glibc_layout.h"

/*
 * Rows are facts read off the source of one tag of bminor/glibc, and for
 * verified rows checked against `ptype/o` under the matching libc6-dbg and
 * against mallinfo2() on real cores. Adding a release is adding a row.
 */
static const struct hs_glibc_layout hs_glibc_rows[] = {
	{
		/* glibc-2.31 (Debian 11, Ubuntu 20.04): read off the source,
		 * not yet checked against a build. No safe-linking (2.32), no
		 * hugetlb fields in malloc_par or heap_info.pagesize (2.35). */
		.version = "2.31",
		.major = 2,
		.minor = 31,
		.verified = false,
		.malloc_alignment = 16,
		.minsize = 0x20,
		.hdr_size = 0x10,
		/* struct malloc_state, malloc/malloc.c:1655-1697 (as in 2.36) */
		.ms = {
			.size = 0x898,
			.flags = 0x4,
			.fastbins = 0x10,
			.top = 0x60,
			.last_remainder = 0x68,
			.bins = 0x70,
			.next = 0x870,
			.next_free = 0x878,
			.attached_threads = 0x880,
			.system_mem = 0x888,
			.max_system_mem = 0x890,
		},
		.nfastbins = 10,         /* malloc/malloc.c:1579 */
		.nbins = 128,            /* malloc/malloc.c:1401 */
		.noncontiguous_bit = 2,  /* malloc/malloc.c:1603 */
		/* struct malloc_par, malloc/malloc.c:1699-1734 (sizeof 0x70) */
		.mp = {
			.size = 0x70,
			.mmap_threshold = 0x10,
			.hp_pagesize = HS_GLIBC_ABSENT,
			.n_mmaps = 0x28,
			.mmapped_mem = 0x38,
			.sbrk_base = 0x48,
			.tcache_bins = 0x50,
		},
		/* heap_info, malloc/arena.c:53-64 (sizeof 0x20) */
		.hi = {
			.size = 0x20,
			.ar_ptr = 0x0,
			.prev = 0x8,
			.hsize = 0x10,
			.mprotect_size = 0x18,
		},
		/* malloc/arena.c:32, malloc/malloc.c:865 */
		.heap_max_size = UINT64_C(64) << 20,
		.heap_max_from_hugetlb = false,
		/* malloc/malloc.c:2894-2913; counts are uint16_t since 2.30 */
		.tc = {
			.present = true,
			.nbins = 64,
			.count_bytes = 2,
			.counts = 0x0,
			.entries = 0x80,
			.size = 0x280,
			.chunk_size = 0x290,
			.entry_next = 0x0,
			.entry_key = 0x8,
			.tls_func = "malloc",
		},
		.safe_linking = false,
		/* mallinfo2 does not exist before 2.33: mallinfo instead. */
		.anchors = {
			{ "mallinfo", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_trim", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_stats", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_stats", "mov", HS_GLIBC_ANCHOR_MP, 0x38 },
			{ "malloc", "cmp", HS_GLIBC_ANCHOR_MP, 0x50 },
		},
		.nanchors = 5,
	},
	{
		/* glibc-2.36; verified on Debian 12 libc6 2.36-9+deb12u14,
		 * build-id 93ac61ec5a8eb1396f9fbd350e3169a558528a40. */
		.version = "2.36",
		.major = 2,
		.minor = 36,
		.verified = true,
		/* MALLOC_ALIGNMENT 16, MINSIZE malloc/malloc.c:1312, CHUNK_HDR_SZ */
		.malloc_alignment = 16,
		.minsize = 0x20,
		.hdr_size = 0x10,
		/* struct malloc_state, malloc/malloc.c:1824-1866 (sizeof 0x898) */
		.ms = {
			.size = 0x898,
			.flags = 0x4,
			.fastbins = 0x10,
			.top = 0x60,
			.last_remainder = 0x68,
			.bins = 0x70,
			.next = 0x870,
			.next_free = 0x878,
			.attached_threads = 0x880,
			.system_mem = 0x888,
			.max_system_mem = 0x890,
		},
		.nfastbins = 10,         /* NFASTBINS, malloc/malloc.c:1748 */
		.nbins = 128,            /* NBINS, malloc/malloc.c:1570 */
		.noncontiguous_bit = 2,  /* NONCONTIGUOUS_BIT, malloc/malloc.c:1772 */
		/* struct malloc_par, malloc/malloc.c:1868-1912 (sizeof 0x88,
		 * HAVE_TUNABLES and USE_TCACHE on) */
		.mp = {
			.size = 0x88,
			.mmap_threshold = 0x10,
			.hp_pagesize = 0x30,
			.n_mmaps = 0x3c,
			.mmapped_mem = 0x50,
			.sbrk_base = 0x60,
			.tcache_bins = 0x68,
		},
		/* heap_info, malloc/arena.c:75-87 (sizeof 0x30) */
		.hi = {
			.size = 0x30,
			.ar_ptr = 0x0,
			.prev = 0x8,
			.hsize = 0x10,
			.mprotect_size = 0x18,
		},
		/* HEAP_MAX_SIZE = 2 * DEFAULT_MMAP_THRESHOLD_MAX, malloc/arena.c:28-35
		 * and malloc/malloc.c:972; heap_max_size(), malloc/arena.c:58-65 */
		.heap_max_size = UINT64_C(64) << 20,
		.heap_max_from_hugetlb = true,
		/* tcache_perthread_struct, malloc/malloc.c:3120-3139 */
		.tc = {
			.present = true,
			.nbins = 64,     /* TCACHE_MAX_BINS, malloc/malloc.c:309 */
			.count_bytes = 2,
			.counts = 0x0,
			.entries = 0x80,
			.size = 0x280,
			.chunk_size = 0x290,
			.entry_next = 0x0,
			.entry_key = 0x8,
			.tls_func = "malloc",
		},
		.safe_linking = true,    /* PROTECT_PTR, malloc/malloc.c:344-346 */
		/* objdump of the Debian build: mallinfo2 99db0 / malloc_trim 99ab0
		 * / malloc_stats 99f53 `lea main_arena(%rip)`; malloc_stats 99f1e
		 * `mov mp_.mmapped_mem(%rip)`; malloc 9897e `cmp mp_.tcache_bins(%rip)`. */
		.anchors = {
			{ "mallinfo2", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_trim", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_stats", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_stats", "mov", HS_GLIBC_ANCHOR_MP, 0x50 },
			{ "malloc", "cmp", HS_GLIBC_ANCHOR_MP, 0x68 },
		},
		.nanchors = 5,
	},
	{
		/* glibc-2.41: read off the source, not yet checked against a
		 * build; every struct the walk reads is unchanged from 2.36. */
		.version = "2.41",
		.major = 2,
		.minor = 41,
		.verified = false,
		.malloc_alignment = 16,
		.minsize = 0x20,
		.hdr_size = 0x10,
		/* struct malloc_state, malloc/malloc.c:1814-1856 */
		.ms = {
			.size = 0x898,
			.flags = 0x4,
			.fastbins = 0x10,
			.top = 0x60,
			.last_remainder = 0x68,
			.bins = 0x70,
			.next = 0x870,
			.next_free = 0x878,
			.attached_threads = 0x880,
			.system_mem = 0x888,
			.max_system_mem = 0x890,
		},
		.nfastbins = 10,         /* malloc/malloc.c:1738 */
		.nbins = 128,            /* malloc/malloc.c:1560 */
		.noncontiguous_bit = 2,  /* malloc/malloc.c:1762 */
		/* struct malloc_par, malloc/malloc.c:1858-1900 */
		.mp = {
			.size = 0x88,
			.mmap_threshold = 0x10,
			.hp_pagesize = 0x30,
			.n_mmaps = 0x3c,
			.mmapped_mem = 0x50,
			.sbrk_base = 0x60,
			.tcache_bins = 0x68,
		},
		/* heap_info, malloc/arena.c:66-78 */
		.hi = {
			.size = 0x30,
			.ar_ptr = 0x0,
			.prev = 0x8,
			.hsize = 0x10,
			.mprotect_size = 0x18,
		},
		/* malloc/arena.c:30, 53; malloc/malloc.c:957 */
		.heap_max_size = UINT64_C(64) << 20,
		.heap_max_from_hugetlb = true,
		/* malloc/malloc.c:3108-3127 */
		.tc = {
			.present = true,
			.nbins = 64,
			.count_bytes = 2,
			.counts = 0x0,
			.entries = 0x80,
			.size = 0x280,
			.chunk_size = 0x290,
			.entry_next = 0x0,
			.entry_key = 0x8,
			.tls_func = "malloc",
		},
		.safe_linking = true,    /* malloc/malloc.c:329 */
		/* The 2.36 anchors; unchecked for this release's code, which is
		 * why every candidate is validated and majority-voted. */
		.anchors = {
			{ "mallinfo2", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_trim", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_stats", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_stats", "mov", HS_GLIBC_ANCHOR_MP, 0x50 },
			{ "malloc", "cmp", HS_GLIBC_ANCHOR_MP, 0x68 },
		},
		.nanchors = 5,
	},
};

const struct hs_glibc_layout *hs_glibc_layouts(size_t *count)
{
	*count = HS_ARRAY_SIZE(hs_glibc_rows);
	return hs_glibc_rows;
}

const struct hs_glibc_layout *hs_glibc_layout_find(unsigned major,
						   unsigned minor)
{
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_glibc_rows); i++) {
		if (hs_glibc_rows[i].major == major &&
		    hs_glibc_rows[i].minor == minor)
			return &hs_glibc_rows[i];
	}
	return NULL;
}

static bool parse_uint(const char *s, size_t len, size_t *pos, unsigned *ret)
{
	size_t i = *pos;
	unsigned v = 0;
	if (i >= len || s[i] < '0' || s[i] > '9')
		return false;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (v > 1000)
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
		i++;
	}
	*pos = i;
	*ret = v;
	return true;
}

bool hs_glibc_parse_version(const char *s, size_t len, unsigned *major,
			    unsigned *minor)
{
	size_t pos = 0;
	unsigned maj, min;
	if (!parse_uint(s, len, &pos, &maj) || pos >= len || s[pos] != '.')
		return false;
	pos++;
	if (!parse_uint(s, len, &pos, &min))
		return false;
	/* "2.36.9000" (development snapshots) still names release 2.36. */
	*major = maj;
	*minor = min;
	return true;
}
