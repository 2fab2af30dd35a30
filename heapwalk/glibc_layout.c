/* glibc_layout.c: the versioned table of glibc ptmalloc layouts (x86_64). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../common/common.h"
#include "glibc_layout.h"
#include "layout_infer.h"

/*
 * Rows are facts read off the source of one tag of bminor/glibc (x86_64:
 * SIZE_SZ 8, MALLOC_ALIGNMENT 16). Verified rows: `ptype/o` of malloc_state,
 * malloc_par, _heap_info, tcache_perthread_struct and tcache_entry under
 * the release's libc6-dbg, each code anchor checked in objdump, and
 * mallinfo(2)() against walks of real cores, with and without debug info
 * (tests/golden: glibc_<version>_* for the other releases):
 *   2.36  Debian 12 libc6 2.36-9+deb12u14,
 *         build-id 93ac61ec5a8eb1396f9fbd350e3169a558528a40;
 *   2.31  Debian 11 libc6 2.31-13+deb11u11 (mallinfo, int fields),
 *         build-id f3654f4d10c3f54ac5dabcb8fc67a2b8d1409dc4;
 *   2.41  Debian 13 libc6 2.41-12+deb13u4,
 *         build-id 5e5b51f4c39af9ac589408c1dc432ba390a273cc;
 *   2.43  Debian sid (and forky) libc6 2.43-7,
 *         build-id a226e0f150be89099d375c6b865b1dba794648ae (no tag of
 *         2.43 in the mirror read: the line numbers are the DWARF
 *         decl_line of its libc6-dbg, equal to master at 04e750e75b).
 * (For 2.31 and 2.41 the struct line numbers below also equal the DWARF
 * decl_line of the structs in those libc6-dbg files.)
 * The others only differ from a verified row where the source does, and
 * were compared struct by struct against it, but no build of theirs has
 * been walked: the walker says so in an info diagnostic. Adding a release
 * is adding a row; the macros below are the blocks shared between
 * releases.
 */

/* MINSIZE malloc.c:1312, CHUNK_HDR_SZ, NBINS :1570, NONCONTIGUOUS_BIT
 * :1772, HEAP_MAX_SIZE = 2 * DEFAULT_MMAP_THRESHOLD_MAX (arena.c:28-35,
 * malloc.c:972): line numbers of 2.36, same values in all rows. */
#define GL_COMMON                                                            \
	.malloc_alignment = 16, .minsize = 0x20, .hdr_size = 0x10,           \
	.nbins = 128, .noncontiguous_bit = 2,                                \
	.heap_max_size = UINT64_C(64) << 20

/* NFASTBINS (2.36: malloc.c:1748): 10 up to 2.42. */
#define GL_FAST .nfastbins = 10

/* struct malloc_state (2.36: malloc.c:1824-1866, sizeof 0x898); the same
 * from 2.27 (have_fastchunks an int after flags) to 2.42. */
#define GL_MS                                                                \
	{                                                                    \
		.size = 0x898, .flags = 0x4, .fastbins = 0x10, .top = 0x60,  \
		.last_remainder = 0x68, .bins = 0x70, .next = 0x870,         \
		.next_free = 0x878, .attached_threads = 0x880,               \
		.system_mem = 0x888, .max_system_mem = 0x890,                \
	}

/* 2.26 (malloc.c:1678-1716, sizeof 0x890): no have_fastchunks yet (a
 * FASTCHUNKS_BIT in flags), so fastbinsY follows flags at 0x8. */
#define GL_MS_226                                                            \
	{                                                                    \
		.size = 0x890, .flags = 0x4, .fastbins = 0x8, .top = 0x58,   \
		.last_remainder = 0x60, .bins = 0x68, .next = 0x868,         \
		.next_free = 0x870, .attached_threads = 0x878,               \
		.system_mem = 0x880, .max_system_mem = 0x888,                \
	}

/* 2.43 (malloc.c:1724-1759, sizeof 0x840): fastbins and have_fastchunks
 * are gone. */
#define GL_MS_243                                                            \
	{                                                                    \
		.size = 0x840, .flags = 0x4, .fastbins = HS_GLIBC_ABSENT,    \
		.top = 0x8, .last_remainder = 0x10, .bins = 0x18,            \
		.next = 0x818, .next_free = 0x820, .attached_threads = 0x828,\
		.system_mem = 0x830, .max_system_mem = 0x838,                \
	}

/* struct malloc_par before 2.35 (2.31: malloc.c:1699-1734, sizeof 0x70;
 * 2.26-2.29 the same fields). */
#define GL_MP_230                                                            \
	{                                                                    \
		.size = 0x70, .mmap_threshold = 0x10,                        \
		.hp_pagesize = HS_GLIBC_ABSENT, .n_mmaps = 0x28,             \
		.mmapped_mem = 0x38, .sbrk_base = 0x48, .tcache_bins = 0x50, \
		.tcache_count = 0x60,                                        \
	}

/* struct malloc_par from 2.35, with thp_pagesize, hp_pagesize, hp_flags
 * (2.36: malloc.c:1868-1912, sizeof 0x88); 2.42 renames tcache_bins to
 * tcache_small_bins, same offsets. */
#define GL_MP_235                                                            \
	{                                                                    \
		.size = 0x88, .mmap_threshold = 0x10, .hp_pagesize = 0x30,   \
		.n_mmaps = 0x3c, .mmapped_mem = 0x50, .sbrk_base = 0x60,     \
		.tcache_bins = 0x68, .tcache_count = 0x78,                   \
	}

/* 2.43 (malloc.c:1761-1800, sizeof 0x90): thp_mode (an enum and a hole)
 * before thp_pagesize. */
#define GL_MP_243                                                            \
	{                                                                    \
		.size = 0x90, .mmap_threshold = 0x10, .hp_pagesize = 0x38,   \
		.n_mmaps = 0x44, .mmapped_mem = 0x58, .sbrk_base = 0x68,     \
		.tcache_bins = 0x70, .tcache_count = 0x80,                   \
	}

/* heap_info before 2.35 (2.31: arena.c:53-64, sizeof 0x20) and from 2.35
 * with pagesize (2.36: arena.c:75-87, sizeof 0x30). */
#define GL_HI_230                                                            \
	{ .size = 0x20, .ar_ptr = 0, .prev = 8, .hsize = 0x10, .mprotect_size = 0x18 }
#define GL_HI_235                                                            \
	{ .size = 0x30, .ar_ptr = 0, .prev = 8, .hsize = 0x10, .mprotect_size = 0x18 }

/* tcache_perthread_struct with char counts (2.26 to 2.29; 2.28:
 * malloc.c:2898-2902, TCACHE_MAX_BINS :304): 0x240 bytes, a 0x250 chunk.
 * tcache_entry is {next} up to 2.28 and {next, key} from 2.29 (2.29:
 * malloc.c:2904-2909, key the owning tcache). */
#define GL_TC_226(key)                                                       \
	{                                                                    \
		.present = true, .nbins = 64, .small_bins = 64,              \
		.count_bytes = 1, .counts = 0x0, .entries = 0x40,            \
		.size = 0x240, .chunk_size = 0x250, .entry_next = 0x0,       \
		.entry_key = key, .tls_func = "malloc",                      \
	}

/* tcache_perthread_struct with uint16_t counts (2.30 to 2.41; 2.36:
 * malloc.c:3120-3139, TCACHE_MAX_BINS :309): 0x280 bytes, a 0x290 chunk;
 * tcache_entry {next, key}. malloc reads `tcache` first of its TLS. */
#define GL_TC                                                                \
	{                                                                    \
		.present = true, .nbins = 64, .small_bins = 64,              \
		.count_bytes = 2, .counts = 0x0, .entries = 0x80,            \
		.size = 0x280, .chunk_size = 0x290, .entry_next = 0x0,       \
		.entry_key = 0x8, .tls_func = "malloc",                      \
	}

/* 2.42 on (2.42: malloc.c:3127-3131, TCACHE_SMALL_BINS/LARGE_BINS
 * :294-296): 64 + 12 bins, uint16_t num_slots[] counting down from
 * mp_.tcache_count (tcache_init :3397, tcache_put_n :3193): 0x2f8 bytes,
 * a 0x300 chunk. */
#define GL_TC_242                                                            \
	{                                                                    \
		.present = true, .nbins = 76, .small_bins = 64,              \
		.count_bytes = 2, .count_is_slots = true, .counts = 0x0,     \
		.entries = 0x98, .size = 0x2f8, .chunk_size = 0x300,         \
		.entry_next = 0x0, .entry_key = 0x8, .tls_func = "malloc",   \
	}

/* Code anchors. On the verified 2.36 build (objdump): mallinfo2 99db0,
 * malloc_trim 99ab0 and malloc_stats 99f53 `lea main_arena(%rip)`;
 * malloc_stats 99f1e `mov mp_.mmapped_mem(%rip)`; malloc 9897e
 * `cmp mp_.tcache_bins(%rip),%rbp`. mallinfo2 exists from 2.33. Other
 * releases' code is unchecked, which is why candidates are validated and
 * majority-voted. */
#define GL_ANCHORS(info, mmapped_mem, tcache_bins)                           \
	.anchors = {                                                         \
		{ info, "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },              \
		{ "malloc_trim", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },     \
		{ "malloc_stats", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },    \
		{ "malloc_stats", "mov", HS_GLIBC_ANCHOR_MP, mmapped_mem },  \
		{ "malloc", "cmp", HS_GLIBC_ANCHOR_MP, tcache_bins },        \
	},                                                                   \
	.nanchors = 5

#define GL_VERSION(min, verified_)                                           \
	.version = "2." #min, .major = 2, .minor = min, .verified = verified_

/* 2.26 to 2.29: char counts; no safe-linking, no hugetlb. */
#define GL_ROW_226(min, ms_, key)                                            \
	{                                                                    \
		GL_VERSION(min, false), GL_COMMON, GL_FAST, .ms = ms_,       \
		.mp = GL_MP_230, .hi = GL_HI_230,                            \
		.heap_max_from_hugetlb = false, .tc = GL_TC_226(key),        \
		.safe_linking = false, GL_ANCHORS("mallinfo", 0x38, 0x50),   \
	}

/* 2.30 to 2.34: no hugetlb, no heap_info.pagesize. Safe-linking from 2.32
 * (PROTECT_PTR, malloc.c:339 in 2.32). */
#define GL_ROW_230(min, verified_, safe, info)                               \
	{                                                                    \
		GL_VERSION(min, verified_), GL_COMMON, GL_FAST, .ms = GL_MS, \
		.mp = GL_MP_230, .hi = GL_HI_230,                            \
		.heap_max_from_hugetlb = false, .tc = GL_TC,                 \
		.safe_linking = safe, GL_ANCHORS(info, 0x38, 0x50),          \
	}

/* 2.35 to 2.41: heap_max_size() (arena.c:58-65 in 2.36) is hp_pagesize * 4
 * under the hugetlb tunable. */
#define GL_ROW_235(min, verified_)                                           \
	{                                                                    \
		GL_VERSION(min, verified_), GL_COMMON, GL_FAST, .ms = GL_MS, \
		.mp = GL_MP_235, .hi = GL_HI_235,                            \
		.heap_max_from_hugetlb = true, .tc = GL_TC,                  \
		.safe_linking = true, GL_ANCHORS("mallinfo2", 0x50, 0x68),   \
	}

static const struct hs_glibc_layout hs_glibc_rows[] = {
	/* malloc_state / malloc_par / tcache_perthread_struct in malloc.c,
	 * heap_info in arena.c, at each tag: */
	GL_ROW_226(26, GL_MS_226, HS_GLIBC_ABSENT), /* :1678 :1718 :2937, arena.c:53 */
	GL_ROW_226(27, GL_MS, HS_GLIBC_ABSENT),     /* :1674 :1718 :2914, arena.c:53 */
	GL_ROW_226(28, GL_MS, HS_GLIBC_ABSENT),     /* :1658 :1702 :2898, arena.c:53 */
	GL_ROW_226(29, GL_MS, 0x8),                 /* :1665 :1709 :2916, arena.c:53 */
	GL_ROW_230(30, false, false, "mallinfo"),  /* :1655 :1699 :2906, arena.c:53 */
	GL_ROW_230(31, true, false, "mallinfo"),   /* :1655 :1699 :2906, arena.c:53 */
	GL_ROW_230(32, false, true, "mallinfo"),   /* :1667 :1711 :2921, arena.c:53 */
	GL_ROW_230(33, false, true, "mallinfo2"),  /* :1809 :1853 :3071, arena.c:53 */
	GL_ROW_230(34, false, true, "mallinfo2"),  /* :1831 :1875 :3025, arena.c:53 */
	GL_ROW_235(35, false),               /* :1830 :1874 :3138, arena.c:75 */
	GL_ROW_235(36, true),                /* :1824 :1868 :3132, arena.c:75 */
	GL_ROW_235(37, false),               /* :1806 :1850 :3114, arena.c:75 */
	GL_ROW_235(38, false),               /* :1806 :1850 :3108, arena.c:65 */
	GL_ROW_235(39, false),               /* :1812 :1856 :3118, arena.c:66 */
	GL_ROW_235(40, false),               /* :1812 :1856 :3118, arena.c:66 */
	GL_ROW_235(41, true),                /* :1814 :1858 :3120, arena.c:66 */
	/* 2.42: the tcache reworked (num_slots, 12 large bins), and
	 * heap_max_size() is HEAP_MAX_SIZE again (arena.c:54-57). */
	{                                    /* :1820 :1864 :3127, arena.c:67 */
		GL_VERSION(42, false), GL_COMMON, GL_FAST, .ms = GL_MS,
		.mp = GL_MP_235, .hi = GL_HI_235,
		.heap_max_from_hugetlb = false, .tc = GL_TC_242,
		.safe_linking = true, GL_ANCHORS("mallinfo2", 0x50, 0x68),
	},
	/* 2.43: fastbins removed, malloc_par.thp_mode added. */
	{                                    /* :1724 :1761 :2892, arena.c:67 */
		GL_VERSION(43, true), GL_COMMON, .nfastbins = 0, .mmap_tail = 0x10,
		.ms = GL_MS_243, .mp = GL_MP_243, .hi = GL_HI_235,
		.heap_max_from_hugetlb = false, .tc = GL_TC_242,
		.safe_linking = true,
		/* malloc_stats reads mp_.mmapped_mem; malloc first reads
		 * mp_.tcache_max_bytes (objdump of 2.43-7). */
		.anchors = {
			{ "mallinfo2", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_trim", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_stats", "lea", HS_GLIBC_ANCHOR_MAIN_ARENA, 0 },
			{ "malloc_stats", "mov", HS_GLIBC_ANCHOR_MP, 0x58 },
			{ "malloc", "mov", HS_GLIBC_ANCHOR_MP, 0x78 },
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

/* Two rows that differ only in their release: one try covers both. */
static bool gl_same_layout(const struct hs_glibc_layout *a,
			   const struct hs_glibc_layout *b)
{
	struct hs_glibc_layout x = *a, y = *b;
	x.version = y.version = NULL;
	x.major = y.major = x.minor = y.minor = 0;
	x.verified = y.verified = false;
	/* Strings by content: a compiler need not merge equal literals. */
	x.tc.tls_func = y.tc.tls_func = NULL;
	if (strcmp(a->tc.tls_func, b->tc.tls_func))
		return false;
	for (size_t i = 0; i < HS_GLIBC_MAX_ANCHORS; i++) {
		const struct hs_glibc_anchor *p = &a->anchors[i], *q = &b->anchors[i];
		if ((p->func && q->func && strcmp(p->func, q->func)) ||
		    (p->mnemonic && q->mnemonic && strcmp(p->mnemonic, q->mnemonic)) ||
		    !p->func != !q->func || !p->mnemonic != !q->mnemonic)
			return false;
		x.anchors[i].func = y.anchors[i].func = NULL;
		x.anchors[i].mnemonic = y.anchors[i].mnemonic = NULL;
	}
	return memcmp(&x, &y, sizeof(x)) == 0;
}

size_t hs_glibc_layout_candidates(unsigned major, unsigned minor,
				  const struct hs_glibc_layout **out, size_t max)
{
	enum { NROWS = HS_ARRAY_SIZE(hs_glibc_rows) };
	uint64_t dist[NROWS];
	size_t order[NROWS], n = 0;
	int64_t want = (int64_t)major * 1000 + minor;
	for (size_t i = 0; i < NROWS; i++) {
		int64_t d = (int64_t)hs_glibc_rows[i].major * 1000 +
			    hs_glibc_rows[i].minor - want;
		dist[i] = (uint64_t)(d < 0 ? -d : d);
	}
	size_t m = hs_infer_order(dist, NROWS, order, NROWS);
	for (size_t i = 0; i < m && n < max; i++) {
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = gl_same_layout(out[k], &hs_glibc_rows[order[i]]);
		if (!dup)
			out[n++] = &hs_glibc_rows[order[i]];
	}
	return n;
}

void hs_glibc_layout_list(char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_glibc_rows); i++)
		hs_infer_list_add(buf, len, hs_glibc_rows[i].version);
}
