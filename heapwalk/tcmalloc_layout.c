/* tcmalloc_layout.c: versioned gperftools struct layouts and the builds we have seen. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_infer.h"
#include "tcmalloc_layout.h"

/*
 * One row per gperftools source version (tag gperftools-<version> of
 * github.com/gperftools/gperftools). Offsets are for x86_64 LP64 and follow
 * from the declarations cited; "verified" rows were also checked against the
 * code of a real build (field offsets in its instructions) and a real core
 * (the walk reproduced every MallocExtension property exactly).
 *
 * The Debian 12 builds of libtcmalloc.so.4 and libtcmalloc_minimal.so.4 share
 * one row: their struct layouts are identical (the disassembly of
 * ThreadCache::Init, GetThreadStats, CentralFreeList::InsertRange and
 * PageHeap::CommitSpan differs only in absolute addresses). What differs is
 * where the statics sit and that _minimal is built with NO_TCMALLOC_SAMPLES
 * (Makefile.am:473), so it never has sampled spans.
 */
/*
 * The layout gperftools 2.8.1 through 2.10 share (file:line in the 2.10
 * tag); 2.8.1-2.9.1 headers are line-for-line the same.
 */
#define HS_TCM_FIELDS_2_8_TO_2_10 \
	.page_shift = 13,        /* common.h:78 */                                    \
	.class_sizes_max = 128,  /* common.h:81 */                                    \
	.max_size = 256 * 1024,  /* common.h:86 */                                    \
	.max_pages = 128,        /* common.h:89 */                                    \
	.pagemap_levels = 2,                                                          \
	.pagemap_root_bits = 17, /* pagemap.h:123,126 with BITS=35 */                 \
	.pagemap_leaf_bits = 18, /* (page_heap.h:93) */                               \
	.ph_pagemap_root = 0x80000, /* page_heap.h:259-260, PackedCache               \
				     * 1<<16 words packed-cache-inl.h:146 */          \
	.ph_stats = 1585256,     /* page_heap.h:283 */                                \
	.ph_size = 1585360,                                                           \
	.st_system_bytes = 0,    /* page_heap.h:161 */                                \
	.st_free_bytes = 8,      /* page_heap.h:162 */                                \
	.st_unmapped_bytes = 16, /* page_heap.h:163 */                                \
	.span_start = 0,         /* span.h:70 */                                      \
	.span_length = 8,        /* span.h:71 */                                      \
	.span_objects = 32,      /* span.h:75 */                                      \
	.span_bits = 40,         /* span.h:83-86 */                                   \
	.span_size = 48,                                                              \
	.span_refcount_shift = 0, .span_refcount_width = 16,                          \
	.span_sizeclass_shift = 16, .span_sizeclass_width = 8,                        \
	.span_location_shift = 24, .span_location_width = 2,                          \
	.span_sample_shift = 26,                                                      \
	.sm_class_array = 0,            /* common.h:186 */                            \
	.sm_class_array_len = 2169,                                                   \
	.sm_num_objects_to_move = 2172, /* common.h:228 */                            \
	.sm_class_to_size = 2684,       /* common.h:233 */                            \
	.sm_class_to_size_width = 4,                                                  \
	.sm_class_to_pages = 3200,      /* common.h:236 */                            \
	.sm_num_size_classes = 4224,    /* common.h:239 */                            \
	.sm_size = 4232,                                                              \
	.cfl_stride = 1216,      /* central_freelist.h:205, 64-padded */              \
	.cfl_size_class = 8,     /* central_freelist.h:167 */                         \
	.cfl_num_spans = 112,    /* central_freelist.h:170 */                         \
	.cfl_counter = 120,      /* central_freelist.h:171 */                         \
	.cfl_tc_slots = 128,     /* central_freelist.h:178 */                         \
	.cfl_max_slots = 64,     /* central_freelist.h:111 */                         \
	.cfl_used_slots = 1152,  /* central_freelist.h:182 */                         \
	.tc_list = 0,            /* thread_cache.h:325 */                             \
	.tc_list_stride = 32,                                                         \
	.fl_head = 0,            /* thread_cache.h:136 */                             \
	.fl_length = 8,          /* thread_cache.h:140 */                             \
	.fl_object_size = 24,    /* thread_cache.h:155 */                             \
	.tc_size_bytes = 4096,   /* thread_cache.h:327 */                             \
	.tc_max_size = HS_TCM_ABSENT,                                                 \
	.tc_tid = 4128,          /* thread_cache.h:333 */                             \
	.tc_next = 4144,         /* thread_cache.h:348 */                             \
	.tc_size = 4160,                                                              \
	.stack_size = 0,         /* common.h:302 */

/*
 * Rows before 2.8 were read off `ptype/o` of the tag's own headers (each
 * tag configured, static_vars.cc and thread_cache.cc compiled with -g,
 * gcc 12 -std=gnu++11), each field citing its tag's header line. Span and
 * CentralFreeList are the same from 2.5 to 2.10: Span (span.h:46-55 in
 * 2.5-2.6.3, :70-86 from 2.7) {start 0, length 8, next, prev, objects 32,
 * refcount:16 sizeclass:8 location:2 sample:1 at 40}, 48 bytes;
 * CentralFreeList (central_freelist.h:167-182) size_class_ 8, num_spans_
 * 112, counter_ 120, tc_slots_[64] 128, used_slots_ 1152, padded to 1216.
 */
#define HS_TCM_SPAN_CFL_2_5_TO_2_10                                                   \
	.page_shift = 13, .max_size = 256 * 1024, .max_pages = 128,                    \
	.span_start = 0, .span_length = 8, .span_objects = 32, .span_bits = 40,        \
	.span_size = 48,                                                              \
	.span_refcount_shift = 0, .span_refcount_width = 16,                          \
	.span_sizeclass_shift = 16, .span_sizeclass_width = 8,                        \
	.span_location_shift = 24, .span_location_width = 2,                          \
	.span_sample_shift = 26,                                                      \
	.st_system_bytes = 0, .st_free_bytes = 8, .st_unmapped_bytes = 16,            \
	.cfl_stride = 1216, .cfl_size_class = 8, .cfl_num_spans = 112,                \
	.cfl_counter = 120, .cfl_tc_slots = 128, .cfl_max_slots = 64,                 \
	.cfl_used_slots = 1152,                                                       \
	.stack_size = 0

/* 2.6 to 2.7: kClassSizesMax 96 (common.h:83); PageMap2 of 35 bits after
 * the 512 KiB PackedCache (page_heap.h:245 in 2.6, :260 in 2.7; pagemap.h
 * :123-126); SizeMap class_array_ :189, num_objects_to_move_ :231,
 * class_to_size_ :236 (int32), class_to_pages_ :239, num_size_classes :242
 * (2.6), 3720 bytes; stats_ page_heap.h:262 (2.6) at 1585256; ThreadCache
 * list_[96] of 32-byte FreeLists (thread_cache.h:324, length_ :140), tid_
 * 3104, next_ 3120 (:351), 3136 bytes. */
#define HS_TCM_FIELDS_2_6_TO_2_7                                                      \
	HS_TCM_SPAN_CFL_2_5_TO_2_10,                                                  \
	.class_sizes_max = 96,                                                        \
	.pagemap_levels = 2, .pagemap_root_bits = 17, .pagemap_leaf_bits = 18,        \
	.ph_pagemap_root = 0x80000, .ph_stats = 1585256,                              \
	.sm_class_array = 0, .sm_class_array_len = 2169,                              \
	.sm_num_objects_to_move = 2172, .sm_class_to_size = 2556,                     \
	.sm_class_to_size_width = 4, .sm_class_to_pages = 2944,                       \
	.sm_num_size_classes = 3712, .sm_size = 3720,                                 \
	.tc_list = 0, .tc_list_stride = 32, .fl_head = 0, .fl_length = 8,             \
	.fl_object_size = 24, .tc_tid = 3104, .tc_next = 3120, .tc_size = 3136

const struct hs_tcm_layout hs_tcm_layouts[] = {
	{
		/* gperftools-2.5 (and before, to 2.2): TCMalloc_PageMap3<35>
		 * (page_heap.h:85, pagemap.h:208-229: INTERIOR_BITS 12,
		 * LEAF_BITS 11) whose root_ pointer is the PageHeap's first
		 * field (page_heap.h:226); stats_ :244 at 536688, PageHeap
		 * 536736 bytes. kNumClasses 88 (common.h:94), a constant: no
		 * num_size_classes. SizeMap (common.h:168-223):
		 * num_objects_to_move_ 0, class_array_ 352, class_to_size_
		 * 2528 and class_to_pages_ 3232, both size_t; 3936 bytes.
		 * ThreadCache (thread_cache.h:78-333): next_ 0, size_ 16
		 * (size_t), list_[88] of 24-byte FreeLists at 48 (:325,
		 * length_ :145), tid_ 2160; 2176 bytes. Verified with
		 * scripts/verify-build gperftools (docs/versions.md). */
		.version = "2.5",
		.versions = "2.5",
		.vmin = 20500, .vmax = 20599,
		.verified = true,
		HS_TCM_SPAN_CFL_2_5_TO_2_10,
		.class_sizes_max = 88,
		.ph_indirect = true, /* static_vars.h:110 */
		.pagemap_levels = 3, .pagemap_interior_bits = 12,
		.pagemap_leaf_bits = 11,
		.ph_pagemap_root = 0, .ph_stats = 536688, .ph_size = 536736,
		.sm_num_objects_to_move = 0, .sm_class_array = 352,
		.sm_class_array_len = 2169, .sm_class_to_size = 2528,
		.sm_class_to_size_width = 8, .sm_class_to_pages = 3232,
		.sm_num_size_classes = HS_TCM_ABSENT, .sm_size = 3936,
		.tc_list = 48, .tc_list_stride = 24, .fl_head = 0, .fl_length = 8,
		.fl_object_size = HS_TCM_ABSENT, .tc_size_bytes = 16,
		.tc_max_size = HS_TCM_ABSENT, .tc_tid = 2160, .tc_next = 0,
		.tc_size = 2176,
	},
	{
		/* gperftools-2.6 and 2.6.1: ThreadCache keeps size_left_
		 * (3072) and max_size_ (3076) instead of size_
		 * (thread_cache.h:84,330-331 in 2.6); PageHeap 1585304 bytes.
		 * Verified on 2.6 with scripts/verify-build gperftools; 2.6.1
		 * only adds a line to static_vars.h. */
		.version = "2.6",
		.versions = "2.6-2.6.1",
		.vmin = 20600, .vmax = 20601,
		.verified = true,
		HS_TCM_FIELDS_2_6_TO_2_7,
		.ph_size = 1585304,
		.tc_size_bytes = 3072, .tc_max_size = 3076,
	},
	{
		/* gperftools-2.6.2 to 2.7: size_ back at 3072
		 * (thread_cache.h:327 in 2.7); PageHeap 1585360 bytes
		 * (page_heap.h:260-287 in 2.7). 2.6.3 is 2.6.2's headers.
		 * Verified on 2.7 with scripts/verify-build gperftools. */
		.version = "2.6.2",
		.versions = "2.6.2-2.7",
		.vmin = 20602, .vmax = 20799,
		.verified = true,
		HS_TCM_FIELDS_2_6_TO_2_7,
		.ph_size = 1585360,
		.tc_size_bytes = 3072, .tc_max_size = HS_TCM_ABSENT,
	},
	{
		/* gperftools-2.8 to 2.9.1: every header below is line-for-line
		 * the 2.10 one (only lock annotations in central_freelist.h:85,89
		 * differ; 2.8's page_heap.h differs in comments), so the
		 * offsets are those of the 2.10 row (2.8 checked with ptype/o).
		 * Verified on Debian 11 (bullseye) 2.8.1-1, full and minimal,
		 * against cores of the fixtures (every property exact). */
		.version = "2.8.1",
		.versions = "2.8-2.9.1",
		.vmin = 20800, .vmax = 20999,
		.verified = true,
		HS_TCM_FIELDS_2_8_TO_2_10
	},
	{
		/* gperftools-2.10: verified on Debian 12 (2.10-1), full and
		 * minimal, against cores of the fixtures. */
		.version = "2.10",
		.versions = "2.10",
		.vmin = 21000, .vmax = 21099, /* 2.11 changed eight headers */
		.verified = true,
		HS_TCM_FIELDS_2_8_TO_2_10
	},
	{
		/* gperftools-2.11 to 2.15: PageHeap gains smallest_span_size_
		 * and a lock before the PackedCache (page_heap.h:278-286 in
		 * 2.11: pagemap_ root at 0x80010, stats_ :309 at 1585272,
		 * 1585376 bytes); SizeMap gains min_span_size_in_pages_
		 * (common.h:232; num_size_classes :235 at 4232, 4240 bytes);
		 * ThreadCache as in 2.10 (thread_cache.h:326-349: size_ 4096,
		 * tid_ 4128, next_ 4144). ptype/o of the headers of 2.11 to
		 * 2.15 are the same. Verified on 2.11 with scripts/verify-build
		 * gperftools (whose autotools build exports pageheap_: the
		 * symbol names it, code reads it through the GOT). */
		.version = "2.11",
		.versions = "2.11-2.15",
		.vmin = 21100, .vmax = 21599,
		.verified = true,
		HS_TCM_SPAN_CFL_2_5_TO_2_10,
		.class_sizes_max = 128,  /* common.h:79 */
		.pagemap_levels = 2, .pagemap_root_bits = 17, .pagemap_leaf_bits = 18,
		.ph_pagemap_root = 0x80010, .ph_stats = 1585272, .ph_size = 1585376,
		.sm_class_array = 0, .sm_class_array_len = 2169,  /* common.h:180 */
		.sm_num_objects_to_move = 2172,                  /* common.h:222 */
		.sm_class_to_size = 2684, .sm_class_to_size_width = 4, /* :227 */
		.sm_class_to_pages = 3200,                       /* common.h:230 */
		.sm_num_size_classes = 4232, .sm_size = 4240,    /* common.h:235 */
		.tc_list = 0, .tc_list_stride = 32, .fl_head = 0, .fl_length = 8,
		.fl_object_size = 24, .tc_size_bytes = 4096,
		.tc_max_size = HS_TCM_ABSENT, .tc_tid = 4128, .tc_next = 4144,
		.tc_size = 4160,
	},
	{
		/* gperftools-2.16 to 2.18.1: checked against a build of the
		 * 2.16 tag (cmake RelWithDebInfo, gcc 12, x86_64):
		 * libtcmalloc and libtcmalloc_minimal, with symbols and
		 * stripped, sampling on and off, every property of the
		 * fixtures exact; verified on Debian 13's 2.16-1 and sid's
		 * 2.18.1-2 (full and minimal). ThreadCache lost tid_ and
		 * in_setspecific_ (thread_cache.h:295-307); the PageHeap and
		 * SizeMap are 2.11's. ptype/o of 2.17 and 2.18.1's headers
		 * equal 2.16's (their diffs are nullptr, constexpr and
		 * PackedCache's kHashbits = min(kKeybits, 16), still 16). */
		.version = "2.16",
		.versions = "2.16-2.18.1",
		.vmin = 21600, .vmax = 21899,
		.verified = true,
		.page_shift = 13,        /* common.h:76 */
		.class_sizes_max = 128,  /* common.h:79 */
		.max_size = 256 * 1024,  /* common.h:84 */
		.max_pages = 128,        /* common.h:87 */
		.pagemap_levels = 2,
		.pagemap_root_bits = 17, /* pagemap.h:119 with BITS=35 */
		.pagemap_leaf_bits = 18, /* (page_heap.h:81) */
		.ph_pagemap_root = 0x80010, /* page_heap.h:266-274 */
		.ph_stats = 1585272,     /* page_heap.h:297 */
		.ph_size = 1585376,
		.st_system_bytes = 0,    /* page_heap.h:167 */
		.st_free_bytes = 8,      /* page_heap.h:168 */
		.st_unmapped_bytes = 16, /* page_heap.h:169 */
		.span_start = 0,         /* span.h:70 */
		.span_length = 8,        /* span.h:71 */
		.span_objects = 32,      /* span.h:75 */
		.span_bits = 40,         /* span.h:83-86 */
		.span_size = 48,
		.span_refcount_shift = 0, .span_refcount_width = 16,
		.span_sizeclass_shift = 16, .span_sizeclass_width = 8,
		.span_location_shift = 24, .span_location_width = 2,
		.span_sample_shift = 26,
		.sm_class_array = 0,            /* common.h:180 */
		.sm_class_array_len = 2169,
		.sm_num_objects_to_move = 2172, /* common.h:222 */
		.sm_class_to_size = 2684,       /* common.h:227 */
		.sm_class_to_size_width = 4,
		.sm_class_to_pages = 3200,      /* common.h:230 */
		.sm_num_size_classes = 4232,    /* common.h:235 */
		.sm_size = 4240,
		.cfl_stride = 1216,      /* central_freelist.h:48, CACHELINE_ALIGNED */
		.cfl_size_class = 8,     /* central_freelist.h:163 */
		.cfl_num_spans = 112,    /* central_freelist.h:166 */
		.cfl_counter = 120,      /* central_freelist.h:167 */
		.cfl_tc_slots = 128,     /* central_freelist.h:174 */
		.cfl_max_slots = 64,     /* central_freelist.h:107 */
		.cfl_used_slots = 1152,  /* central_freelist.h:178 */
		.tc_list = 0,            /* thread_cache.h:295 */
		.tc_list_stride = 32,
		.fl_head = 0,            /* thread_cache.h:129 */
		.fl_length = 8,          /* thread_cache.h:133 */
		.fl_object_size = 24,    /* thread_cache.h:148 */
		.tc_size_bytes = 4096,   /* thread_cache.h:297 */
		.tc_max_size = HS_TCM_ABSENT,
		.tc_tid = UINT32_MAX,    /* gone */
		.tc_next = 4128,         /* thread_cache.h:306 */
		.tc_size = 4160,
		.stack_size = 0,         /* common.h:304 */
	},
};
const size_t hs_tcm_nlayouts = sizeof(hs_tcm_layouts) / sizeof(hs_tcm_layouts[0]);

/*
 * Debian 12 (bookworm) libgoogle-perftools4 / libtcmalloc-minimal4 2.10-1
 * (and, below, the bullseye and trixie full and minimal builds).
 * Addresses read from each library's code: central_cache_ from the lea in
 * tcmalloc::CentralCacheLockAll(), pageheap_ from the lea in
 * TCMallocImplementation::GetOwnership(), sizemap_ from the lea in
 * nallocx(); thread_heaps_ is exported.
 */
const struct hs_tcm_build hs_tcm_builds[] = {
	{ "560cd227169ae8f93cb59e3215f4ea11c299fa69", "libtcmalloc.so.4.5.10",
	  "2.10", "full", 0x51700, 0x1fa860, 0x1d4860, 0x1fb918 },
	{ "39dfd4a5855703fa6c2469749282f75b18a1aa66",
	  "libtcmalloc_minimal.so.4.5.10", "2.10", "minimal",
	  0x2ddc0, 0x1d6f20, 0x1b0f20, 0x1d7fd8 },
	{ "81e43ab26e797857550721760204b2ff5d4b1672",
	  "libtcmalloc_and_profiler.so.4.6.5", "2.10", "and_profiler",
	  0x57920, 0x200a80, 0x1daa80, 0x201b38 },
	{ "ba60db0925890b56ca68fda5414c5b06a1030895",
	  "libtcmalloc_debug.so.4.5.10", "2.10", "debug",
	  0x58c00, 0x201d60, 0x1dbd60, 0x202e18 },
	{ "431b85722f5ff87f858c80e840c51f4bb2052477",
	  "libtcmalloc_minimal_debug.so.4.5.10", "2.10", "minimal_debug",
	  0x362e0, 0x1df440, 0x1b9440, 0x1e04f8 },
	/* Debian 11 (bullseye) libgoogle-perftools4 / libtcmalloc-minimal4
	 * 2.8.1-1, same anchors. */
	{ "dbc96dc741ca21c1646b4d79d6bac8d33752185c", "libtcmalloc.so.4.5.6",
	  "2.8.1", "full", 0x51640, 0x1fa7a0, 0x1d47a0, 0x1fb858 },
	{ "20f867b522a0f1b5082baf02e6fdb044f53a0c75",
	  "libtcmalloc_minimal.so.4.5.6", "2.8.1", "minimal",
	  0x2ddc0, 0x1d6f20, 0x1b0f20, 0x1d7fd8 },
	/* Debian 13 (trixie) libgoogle-perftools4t64 /
	 * libtcmalloc-minimal4t64 2.16-1, same anchors. */
	{ "e56471ae9b7a4d9b1131818e41f5c7c9610d93dc", "libtcmalloc.so.4.5.18",
	  "2.16", "full", 0x493c0, 0x1f2540, 0x1cc540, 0x1f3610 },
	{ "1910280b19fadf990cc6afbe500aed23d2caf10c",
	  "libtcmalloc_minimal.so.4.5.18", "2.16", "minimal",
	  0x28c40, 0x1d1dc0, 0x1abdc0, 0x1d2e90 },
	/* Debian sid (and forky) libgoogle-perftools4t64 /
	 * libtcmalloc-minimal4t64 2.18.1-2, same anchors. */
	{ "1428774e109f48b1aec7ec098a0390e6eda3f6c6", "libtcmalloc.so.4.6.5",
	  "2.18.1", "full", 0x33e00, 0x1dcf80, 0x1b6f80, 0x1de030 },
	{ "54eee901803629e6123f11c58decc1c519a4cc69",
	  "libtcmalloc_minimal.so.4.6.5", "2.18.1", "minimal",
	  0x27b40, 0x1d0cc0, 0x1aacc0, 0x1d1d70 },
};
const size_t hs_tcm_nbuilds = sizeof(hs_tcm_builds) / sizeof(hs_tcm_builds[0]);

/* "2.10" -> 21000, "2.8.1" -> 20801; 0 if not a version. */
static unsigned hs_tcm_version_number(const char *v)
{
	unsigned part[3] = {0, 0, 0};
	int n = 0;
	while (n < 3) {
		char *end;
		unsigned long x = strtoul(v, &end, 10);
		if (end == v || x > 99)
			return 0;
		part[n++] = (unsigned)x;
		if (*end != '.')
			break;
		v = end + 1;
	}
	return part[0] * 10000 + part[1] * 100 + part[2];
}

const struct hs_tcm_layout *hs_tcm_layout_for_version(const char *version)
{
	unsigned want = hs_tcm_version_number(version);
	for (size_t i = 0; i < hs_tcm_nlayouts; i++)
		if (want >= hs_tcm_layouts[i].vmin && want <= hs_tcm_layouts[i].vmax)
			return &hs_tcm_layouts[i];
	return NULL;
}

const struct hs_tcm_build *hs_tcm_build_by_id(const uint8_t *id, size_t len)
{
	char hex[2 * 64 + 1];
	if (len == 0 || len > 64)
		return NULL;
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	for (size_t i = 0; i < hs_tcm_nbuilds; i++)
		if (strcmp(hs_tcm_builds[i].build_id, hex) == 0)
			return &hs_tcm_builds[i];
	return NULL;
}

bool hs_tcm_flavour_samples(const char *flavour)
{
	/* Makefile.am:473 and :483 build every *_minimal* library with
	 * -DNO_TCMALLOC_SAMPLES; the others sample when asked to. */
	return !strstr(flavour, "minimal");
}

size_t hs_tcm_layout_candidates(const char *version,
				const struct hs_tcm_layout **out, size_t max)
{
	unsigned want = hs_tcm_version_number(version);
	uint64_t dist[64];
	size_t order[64];
	size_t nrows = hs_tcm_nlayouts < 64 ? hs_tcm_nlayouts : 64;
	for (size_t i = 0; i < nrows; i++) {
		const struct hs_tcm_layout *r = &hs_tcm_layouts[i];
		dist[i] = want < r->vmin ? r->vmin - want :
			  want > r->vmax ? want - r->vmax : 0;
	}
	size_t n = hs_infer_order(dist, nrows, order, max < nrows ? max : nrows);
	for (size_t i = 0; i < n; i++)
		out[i] = &hs_tcm_layouts[order[i]];
	return n;
}

void hs_tcm_layout_list(char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < hs_tcm_nlayouts; i++)
		hs_infer_list_add(buf, len, hs_tcm_layouts[i].versions);
}

#define HS_TCM_ADDRESS_BITS 48     /* kAddressBits on x86_64 (common.h) */
#define HS_TCM_SPANLIST_SIZE 96    /* PageHeap::SpanList: two Spans */

unsigned hs_tcm_sizemap_page_shift(const struct hs_tcm_layout *lay,
				   const uint8_t *sm)
{
	uint64_t n = hs_tcm_num_classes(lay, sm);
	if (n < 2 || n > lay->class_sizes_max)
		return 0;
	uint64_t size = hs_tcm_class_size(lay, sm, (unsigned)(n - 1)), pages;
	memcpy(&pages, sm + lay->sm_class_to_pages + 8 * (n - 1), 8);
	for (unsigned shift = 12; shift <= 18; shift++)
		if (pages && size == lay->max_size && pages << shift == size)
			return shift;
	return 0;
}

bool hs_tcm_layout_with_page_shift(const struct hs_tcm_layout *base,
				   unsigned shift, struct hs_tcm_layout *out)
{
	if (shift < 12 || shift > 18)
		return false;
	*out = *base;
	unsigned bits = HS_TCM_ADDRESS_BITS - shift;
	int64_t delta = 0;
	out->page_shift = shift;
	out->max_pages = 1u << (20 - shift);
	delta += ((int64_t)out->max_pages - (int64_t)base->max_pages) *
		 HS_TCM_SPANLIST_SIZE;
	if (base->pagemap_levels == 3) {
		/* TCMalloc_PageMap3 (pagemap.h:212-217 in 2.5): the PageHeap
		 * holds only its root pointer, whatever the geometry. */
		out->pagemap_interior_bits = (bits + 2) / 3;
		out->pagemap_leaf_bits = bits - 2 * out->pagemap_interior_bits;
	} else {
		/* TCMalloc_PageMap2 (pagemap.h:123-126 in 2.10): root_ inline. */
		out->pagemap_leaf_bits = (bits + 1) / 2;
		out->pagemap_root_bits = bits - out->pagemap_leaf_bits;
		delta += ((int64_t)8 << out->pagemap_root_bits) -
			 ((int64_t)8 << base->pagemap_root_bits);
	}
	out->ph_stats = (uint32_t)((int64_t)base->ph_stats + delta);
	out->ph_size = (uint32_t)((int64_t)base->ph_size + delta);
	return true;
}
