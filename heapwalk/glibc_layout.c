/* glibc_layout.c: the versioned table of glibc ptmalloc layouts (x86_64). */
#include <stdbool.h>

#include "../common/common.h"
#include "glibc_layout.h"

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
 *         build-id 5e5b51f4c39af9ac589408c1dc432ba390a273cc.
 * (For 2.31 and 2.41 the struct line numbers below also equal the DWARF
 * decl_line of the structs in those libc6-dbg files.)
 * The others only differ from the 2.36 row where the source does, and
 * were compared struct by struct against it, but no build of theirs has
 * been walked yet: the walker says so in an info diagnostic. Adding a
 * release is adding a row; the macros below are the blocks shared between
 * releases.
 */

/* MINSIZE malloc.c:1312, CHUNK_HDR_SZ, NFASTBINS :1748, NBINS :1570,
 * NONCONTIGUOUS_BIT :1772, HEAP_MAX_SIZE = 2 * DEFAULT_MMAP_THRESHOLD_MAX
 * (arena.c:28-35, malloc.c:972): line numbers of 2.36, same values in all
 * rows. */
#define GL_COMMON                                                            \
	.malloc_alignment = 16, .minsize = 0x20, .hdr_size = 0x10,           \
	.nfastbins = 10, .nbins = 128, .noncontiguous_bit = 2,               \
	.heap_max_size = UINT64_C(64) << 20

/* struct malloc_state (2.36: malloc.c:1824-1866, sizeof 0x898); the same
 * since have_fastchunks became an int in 2.26. */
#define GL_MS                                                                \
	{                                                                    \
		.size = 0x898, .flags = 0x4, .fastbins = 0x10, .top = 0x60,  \
		.last_remainder = 0x68, .bins = 0x70, .next = 0x870,         \
		.next_free = 0x878, .attached_threads = 0x880,               \
		.system_mem = 0x888, .max_system_mem = 0x890,                \
	}

/* struct malloc_par before 2.35 (2.31: malloc.c:1699-1734, sizeof 0x70). */
#define GL_MP_230                                                            \
	{                                                                    \
		.size = 0x70, .mmap_threshold = 0x10,                        \
		.hp_pagesize = HS_GLIBC_ABSENT, .n_mmaps = 0x28,             \
		.mmapped_mem = 0x38, .sbrk_base = 0x48, .tcache_bins = 0x50, \
	}

/* struct malloc_par from 2.35, with thp_pagesize, hp_pagesize, hp_flags
 * (2.36: malloc.c:1868-1912, sizeof 0x88). */
#define GL_MP_235                                                            \
	{                                                                    \
		.size = 0x88, .mmap_threshold = 0x10, .hp_pagesize = 0x30,   \
		.n_mmaps = 0x3c, .mmapped_mem = 0x50, .sbrk_base = 0x60,     \
		.tcache_bins = 0x68,                                         \
	}

/* heap_info before 2.35 (2.31: arena.c:53-64, sizeof 0x20) and from 2.35
 * with pagesize (2.36: arena.c:75-87, sizeof 0x30). */
#define GL_HI_230                                                            \
	{ .size = 0x20, .ar_ptr = 0, .prev = 8, .hsize = 0x10, .mprotect_size = 0x18 }
#define GL_HI_235                                                            \
	{ .size = 0x30, .ar_ptr = 0, .prev = 8, .hsize = 0x10, .mprotect_size = 0x18 }

/* tcache_perthread_struct with uint16_t counts (2.30 to 2.41; 2.36:
 * malloc.c:3120-3139, TCACHE_MAX_BINS :309): 0x280 bytes, a 0x290 chunk;
 * tcache_entry {next, key}. malloc reads `tcache` first of its TLS. */
#define GL_TC                                                                \
	{                                                                    \
		.present = true, .nbins = 64, .count_bytes = 2,              \
		.counts = 0x0, .entries = 0x80, .size = 0x280,               \
		.chunk_size = 0x290, .entry_next = 0x0, .entry_key = 0x8,    \
		.tls_func = "malloc",                                        \
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

/* Before 2.35: no hugetlb, no heap_info.pagesize. Safe-linking from 2.32
 * (PROTECT_PTR, malloc.c:339 in 2.32). */
#define GL_ROW_230(min, verified_, safe, info)                               \
	{                                                                    \
		.version = "2." #min, .major = 2, .minor = min,              \
		.verified = verified_, GL_COMMON, .ms = GL_MS,               \
		.mp = GL_MP_230,                                             \
		.hi = GL_HI_230, .heap_max_from_hugetlb = false,             \
		.tc = GL_TC, .safe_linking = safe,                           \
		GL_ANCHORS(info, 0x38, 0x50),                                \
	}

/* From 2.35: heap_max_size() (arena.c:58-65 in 2.36) is hp_pagesize * 4
 * under the hugetlb tunable. */
#define GL_ROW_235(min, verified_)                                           \
	{                                                                    \
		.version = "2." #min, .major = 2, .minor = min,              \
		.verified = verified_, GL_COMMON, .ms = GL_MS,               \
		.mp = GL_MP_235, .hi = GL_HI_235,                            \
		.heap_max_from_hugetlb = true, .tc = GL_TC,                  \
		.safe_linking = true, GL_ANCHORS("mallinfo2", 0x50, 0x68),   \
	}

static const struct hs_glibc_layout hs_glibc_rows[] = {
	/* malloc_state / malloc_par / tcache_perthread_struct in malloc.c,
	 * heap_info in arena.c, at each tag: */
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
	/* 2.42 reworked the tcache (num_slots, large bins): not a row yet. */
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
