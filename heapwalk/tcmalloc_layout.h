/* tcmalloc_layout.h: gperftools struct layouts and known builds (private to heapwalk/). */
#ifndef HS_TCMALLOC_LAYOUT_H
#define HS_TCMALLOC_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Where things are inside gperftools' data structures, for one source version
 * (x86_64, LP64, default build: 8 KiB pages, no TCMALLOC_SMALL_BUT_SLOW).
 * Every offset is in bytes from the start of its struct. The rows live in
 * tcmalloc_layout.c, each field citing the header line it comes from.
 */
struct hs_tcm_layout {
	const char *version;  /* "2.10": first gperftools version of the row */
	const char *versions; /* human range the row covers, "2.8.1-2.10" */
	unsigned vmin, vmax;  /* versions covered, as major*10000+minor*100+patch */
	bool verified;        /* checked against a real core of a real build */

	/* common.h */
	unsigned page_shift;      /* kPageShift */
	unsigned class_sizes_max; /* kClassSizesMax */
	uint32_t max_size;        /* kMaxSize: largest size-class size */
	unsigned max_pages;       /* kMaxPages: class spans are at most this long */

	/* pagemap.h TCMalloc_PageMap2<35> (pagemap_levels 2): root_[1 <<
	 * root_bits] of leaves of 1 << leaf_bits pointers, in the PageHeap.
	 * TCMalloc_PageMap3<35> (levels 3, up to 2.5): a pointer to a root
	 * node of 1 << interior_bits node pointers, whose nodes point at
	 * leaves of 1 << leaf_bits pointers. */
	unsigned pagemap_levels;
	unsigned pagemap_root_bits, pagemap_interior_bits, pagemap_leaf_bits;

	/* page_heap.h PageHeap */
	bool ph_indirect;         /* Static::pageheap_ points at the PageHeap
				   * (up to 2.5, static_vars.h:110) instead of
				   * holding it */
	uint32_t ph_pagemap_root; /* pagemap_.root_ */
	uint32_t ph_stats;        /* stats_ */
	uint32_t ph_size;
	/* PageHeap::Stats */
	uint32_t st_system_bytes, st_free_bytes, st_unmapped_bytes;

	/* span.h Span */
	uint32_t span_start, span_length, span_objects, span_bits, span_size;
	/* the bit-field word at span_bits */
	unsigned span_refcount_shift, span_refcount_width;
	unsigned span_sizeclass_shift, span_sizeclass_width;
	unsigned span_location_shift, span_location_width;
	unsigned span_sample_shift;

	/* common.h SizeMap */
	uint32_t sm_class_array, sm_class_array_len;
	uint32_t sm_num_objects_to_move; /* int32[class_sizes_max] */
	uint32_t sm_class_to_size;       /* int32[class_sizes_max] (size_t up to 2.5) */
	unsigned sm_class_to_size_width; /* 4, or 8 up to 2.5 */
	uint32_t sm_class_to_pages;      /* size_t[class_sizes_max] */
	uint32_t sm_num_size_classes;    /* size_t; HS_TCM_ABSENT up to 2.5, where
					  * all kNumClasses = class_sizes_max are used */
	uint32_t sm_size;

	/* central_freelist.h CentralFreeList(Padded), array stride */
	uint32_t cfl_stride;
	uint32_t cfl_size_class, cfl_num_spans, cfl_counter;
	uint32_t cfl_tc_slots;   /* TCEntry {head, tail}[cfl_max_slots] */
	unsigned cfl_max_slots;  /* kMaxNumTransferEntries */
	uint32_t cfl_used_slots; /* int32 */

	/* thread_cache.h ThreadCache and its FreeList */
	uint32_t tc_list;        /* FreeList list_[class_sizes_max] */
	uint32_t tc_list_stride; /* sizeof(FreeList) */
	uint32_t fl_head, fl_length, fl_object_size;
	uint32_t tc_size_bytes;  /* int32 size_ (size_t up to 2.5; its low half) */
	uint32_t tc_max_size;    /* int32 max_size_ when tc_size_bytes is
				  * size_left_ (2.6-2.6.1: size = max - left),
				  * else HS_TCM_ABSENT */
	uint32_t tc_tid;         /* pthread_t tid_, or UINT32_MAX if absent */
	uint32_t tc_next;
	uint32_t tc_size;

	/* common.h StackTrace (sampled allocations) */
	uint32_t stack_size; /* uintptr_t size: the requested size */
};

/* A field a release does not have. */
#define HS_TCM_ABSENT UINT32_MAX

/* Size class c's object size, from a SizeMap image of lay->sm_size bytes. */
static inline uint64_t hs_tcm_class_size(const struct hs_tcm_layout *lay,
					 const uint8_t *sm, unsigned c)
{
	uint64_t v = 0;
	memcpy(&v, sm + lay->sm_class_to_size + (uint64_t)lay->sm_class_to_size_width * c,
	       lay->sm_class_to_size_width);
	return lay->sm_class_to_size_width == 4 ? (uint64_t)(int64_t)(int32_t)v : v;
}

/* How many size classes the SizeMap image says there are. */
static inline uint64_t hs_tcm_num_classes(const struct hs_tcm_layout *lay,
					  const uint8_t *sm)
{
	uint64_t n;
	if (lay->sm_num_size_classes == HS_TCM_ABSENT)
		return lay->class_sizes_max;
	memcpy(&n, sm + lay->sm_num_size_classes, 8);
	return n;
}

/*
 * A build we have seen: its GNU build-id, flavour and where the hidden
 * statics are (link-time addresses; add the module's bias). The addresses
 * were read off the build's own code with the anchors tcmalloc_locate.c uses,
 * so they are a fast path for cores analysed without the library file.
 */
struct hs_tcm_build {
	const char *build_id; /* lowercase hex */
	const char *soname;
	const char *version;
	const char *flavour; /* "full", "minimal", "and_profiler", "debug", "minimal_debug" */
	uint64_t pageheap, sizemap, central_cache, thread_heaps;
};

extern const struct hs_tcm_layout hs_tcm_layouts[];
extern const size_t hs_tcm_nlayouts;
extern const struct hs_tcm_build hs_tcm_builds[];
extern const size_t hs_tcm_nbuilds;

/* The layout row covering gperftools `version` ("2.10", "2.8.1"), or NULL. */
const struct hs_tcm_layout *hs_tcm_layout_for_version(const char *version);
/*
 * For a version without a row: the rows to try, nearest release first (a
 * row's distance is that of its nearest covered release; ties: the newer
 * row), at most `max`. Returns how many were written to `out`.
 */
size_t hs_tcm_layout_candidates(const char *version,
				const struct hs_tcm_layout **out, size_t max);
/* "2.5, 2.6-2.6.1, ...": every row's range, for messages. */
void hs_tcm_layout_list(char *buf, size_t len);
/*
 * kPageShift as the SizeMap says: its last class holds kMaxSize-byte
 * objects in spans of exactly kMaxSize bytes (SizeMap::Init, common.cc:
 * the smallest page multiple that wastes no more than 1/8), so the shift
 * is log2(size / pages). 0 if the SizeMap image does not say.
 */
unsigned hs_tcm_sizemap_page_shift(const struct hs_tcm_layout *lay,
				   const uint8_t *sm);
/*
 * The layout of `base`'s release built with other pages (configure
 * --with-tcmalloc-pagesize, TCMALLOC_PAGE_SIZE_SHIFT): the page map's
 * geometry follows kAddressBits - kPageShift (pagemap.h), and PageHeap's
 * free_[kMaxPages] with kMaxPages = 1 << (20 - kPageShift) (common.h), so
 * stats_ moves by what those two arrays change; nothing else does. Writes
 * *out (version/versions still name the base row) and returns false for a
 * shift out of 12..18.
 */
bool hs_tcm_layout_with_page_shift(const struct hs_tcm_layout *base,
				   unsigned shift, struct hs_tcm_layout *out);
/* The known build with this build-id, or NULL. */
const struct hs_tcm_build *hs_tcm_build_by_id(const uint8_t *id, size_t len);

/* Whether the flavour was compiled with sampling (not NO_TCMALLOC_SAMPLES). */
bool hs_tcm_flavour_samples(const char *flavour);

#endif
