/* tcmalloc.c: the gperftools tcmalloc walker: page map, spans, objects and every cache level. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_infer.h"
#include "tcmalloc_internal.h"
#include "walkers.h"

/*
 * How the walk works (gperftools-2.10 file:line in brackets):
 *
 * - Every Span is reachable from the page map [page_heap.h:260]: spans of
 *   small objects have every page registered [page_heap.cc:545-554], the
 *   others their first and last page [page_heap.h:298-303]. Entries go stale
 *   when spans merge and die [page_heap.cc:339-389], so a Span is
 *   taken only at the entry of its own start page.
 * - A span on a page-heap free list (location NORMAL or RETURNED) is one free
 *   chunk. An in-use span with a size class is cut into
 *   floor(length * 8192 / size) objects, exactly as
 *   CentralFreeList::Populate does [central_freelist.cc:346-355]; the rest is
 *   one allocation.
 * - Free objects are on the span's own list (Span::objects), in a transfer
 *   cache slot (central_cache_[c].tc_slots_[0, used_slots_)) or in a
 *   ThreadCache list (via ThreadCache::thread_heaps_). Each object gets two
 *   bits in a per-span bitmap; an object met twice is a loop or a double
 *   free, and ends that list's walk.
 * - The statistics are tcmalloc's own (tcmalloc.cc:700-770, ExtractStats
 *   at tcmalloc.cc:362-397), computed from what the walk found, and then
 *   compared with the counters tcmalloc keeps.
 */

/* Span::location [span.h:97]. */
enum { TCM_IN_USE = 0, TCM_NORMAL = 1, TCM_RETURNED = 2 };
/* Two bits per object in the marks bitmap. */
enum { TCM_MARK_NONE = 0, TCM_MARK_FREE = 1, TCM_MARK_CACHED = 2 };

#define TCM_MAX_CLASSES 256               /* Span::sizeclass is 8 bits */
#define TCM_MAX_THREAD_CACHES (1u << 20)
#define TCM_MAX_GARBAGE_DIAGS 16

struct tcm_span {
	uint64_t addr;    /* the Span object */
	uint64_t start;   /* first page */
	uint64_t length;  /* pages */
	uint64_t objects; /* Span::objects */
	uint64_t mark;    /* first word of its marks (small-object spans) */
	uint32_t bits;    /* the refcount/sizeclass/location/sample word */
	uint32_t nobj;    /* objects, 0 if not cut into objects */
	uint32_t size;    /* object size, 0 if not cut into objects */
	uint32_t nfree;   /* objects on the span's own free list */
	uint8_t cls, location;
	bool sample;
};

struct tcm_class {
	uint32_t size, move;
	uint64_t pages;
	bool ok;
	/* from the walk */
	uint64_t spans, span_free, overhead, transfer;
};

struct tcm_walk {
	const struct hs_process *proc;
	const struct hs_memory *mem;
	const struct hs_tcm_layout *lay;
	const struct hs_tcm_addrs *addrs;
	struct hs_heap *heap;
	bool samples;

	unsigned nclasses;
	struct tcm_class cls[TCM_MAX_CLASSES];
	const uint8_t *class_array; /* SizeMap::class_array_ in the core */

	struct tcm_span *spans;
	size_t nspans, spans_cap;
	uint64_t *marks;
	size_t nmarks;
	uint64_t nobjects; /* objects in all small-object spans */

	uint64_t last_span, last_end; /* page-map scan state */
	uint64_t stale, garbage;

	/* tcmalloc's quantities, from the walk */
	uint64_t system, pageheap_free, unmapped;
	uint64_t central, transfer, thread;
	uint64_t in_use, sampled_slack;
	bool sampled_seen;
};

static inline uint64_t tcm_ld64(const uint8_t *p, uint32_t off)
{
	uint64_t v;
	memcpy(&v, p + off, sizeof(v));
	return v;
}

static inline uint32_t tcm_ld32(const uint8_t *p, uint32_t off)
{
	uint32_t v;
	memcpy(&v, p + off, sizeof(v));
	return v;
}

static inline unsigned tcm_bitfield(uint32_t word, unsigned shift,
				    unsigned width)
{
	return (word >> shift) & ((1u << width) - 1);
}

static inline unsigned tcm_mark_get(const struct tcm_walk *w,
				    const struct tcm_span *s, uint32_t i)
{
	uint64_t bit = 2 * (uint64_t)i;
	return (w->marks[s->mark + bit / 64] >> (bit % 64)) & 3;
}

static inline void tcm_mark_set(struct tcm_walk *w, const struct tcm_span *s,
				uint32_t i, unsigned m)
{
	uint64_t bit = 2 * (uint64_t)i;
	w->marks[s->mark + bit / 64] |= (uint64_t)m << (bit % 64);
}

/*
 * Read the SizeMap. Without it no span can be cut into objects, so an
 * unusable one is the one failure of the walk; a single bad class only costs
 * that class (its spans are reported whole, with a diagnostic).
 */
static struct hs_error *tcm_read_sizemap(struct tcm_walk *w)
{
	const struct hs_tcm_layout *lay = w->lay;
	const uint8_t *sm = hs_memory_ptr(w->mem, w->addrs->sizemap, lay->sm_size);
	if (!sm)
		return hs_error_create(HS_ERR_FAULT,
				       "tcmalloc: SizeMap at 0x%" PRIx64 " is not in the core",
				       w->addrs->sizemap);
	uint64_t n = hs_tcm_num_classes(lay, sm);
	if (n < 2 || n > lay->class_sizes_max || n > TCM_MAX_CLASSES)
		return hs_error_create(HS_ERR_FORMAT,
				       "tcmalloc: SizeMap at 0x%" PRIx64 " has %" PRIu64
				       " size classes (expected 2..%u)",
				       w->addrs->sizemap, n, lay->class_sizes_max);
	w->nclasses = (unsigned)n;
	w->class_array = sm + lay->sm_class_array;
	uint32_t prev = 0;
	for (unsigned c = 1; c < w->nclasses; c++) {
		struct tcm_class *k = &w->cls[c];
		uint64_t size = hs_tcm_class_size(lay, sm, c);
		k->size = size > lay->max_size ? 0 : (uint32_t)size;
		k->move = tcm_ld32(sm, lay->sm_num_objects_to_move + 4 * c);
		k->pages = tcm_ld64(sm, lay->sm_class_to_pages + 8 * c);
		k->ok = k->size > prev && k->size <= lay->max_size &&
			k->size % 8 == 0 && k->pages >= 1 &&
			k->pages <= lay->max_pages && k->move >= 1 &&
			k->move <= 65536;
		if (!k->ok)
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true,
				     w->addrs->sizemap,
				     "tcmalloc: size class %u is inconsistent (size %" PRIu32
				     ", %" PRIu64 " pages, batch %" PRIu32
				     "); its spans are reported whole",
				     c, k->size, k->pages, k->move);
		else
			prev = k->size;
	}
	return NULL;
}

/* Bits of a page number: what the page map indexes. */
static unsigned tcm_page_bits(const struct hs_tcm_layout *lay)
{
	return lay->pagemap_levels == 3 ?
		2 * lay->pagemap_interior_bits + lay->pagemap_leaf_bits :
		lay->pagemap_root_bits + lay->pagemap_leaf_bits;
}

/* Take the Span a page-map entry points at, if the entry is its start. */
static struct hs_error *tcm_take_entry(struct tcm_walk *w, uint64_t page,
				       uint64_t v)
{
	const struct hs_tcm_layout *lay = w->lay;
	/* Interior pages of the span just taken: the common case by far. */
	if (v == w->last_span && page < w->last_end)
		return NULL;
	const uint8_t *s = (v & 7) ? NULL :
		hs_memory_ptr(w->mem, v, lay->span_size);
	if (!s) {
		if (w->garbage++ < TCM_MAX_GARBAGE_DIAGS)
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, v,
				     "tcmalloc: page-map entry for page 0x%" PRIx64
				     " points at unreadable or misaligned 0x%" PRIx64,
				     page, v);
		return NULL;
	}
	if (tcm_ld64(s, lay->span_start) != page) {
		w->stale++; /* a dead or moved span, or an interior page */
		return NULL;
	}
	uint64_t length = tcm_ld64(s, lay->span_length);
	uint64_t limit = UINT64_C(1) << tcm_page_bits(lay);
	if (length == 0 || length > limit - page) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, v,
			     "tcmalloc: span at 0x%" PRIx64 " (page 0x%" PRIx64
			     ") has impossible length %" PRIu64 "; skipped",
			     v, page, length);
		return NULL;
	}
	if (page < w->last_end) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, v,
			     "tcmalloc: span at 0x%" PRIx64 " (pages 0x%" PRIx64
			     "+%" PRIu64 ") overlaps the span at 0x%" PRIx64
			     "; skipped", v, page, length, w->last_span);
		return NULL;
	}
	if (w->nspans == w->spans_cap &&
	    !hs_grow((void **)&w->spans, &w->spans_cap, w->nspans + 1,
		     sizeof(*w->spans)))
		return HS_ENOMEM;
	struct tcm_span *sp = &w->spans[w->nspans++];
	memset(sp, 0, sizeof(*sp));
	sp->addr = v;
	sp->start = page;
	sp->length = length;
	sp->objects = tcm_ld64(s, lay->span_objects);
	sp->bits = tcm_ld32(s, lay->span_bits);
	sp->cls = (uint8_t)tcm_bitfield(sp->bits, lay->span_sizeclass_shift,
					lay->span_sizeclass_width);
	sp->location = (uint8_t)tcm_bitfield(sp->bits, lay->span_location_shift,
					     lay->span_location_width);
	sp->sample = (sp->bits >> lay->span_sample_shift) & 1;
	w->last_span = v;
	w->last_end = page + length;
	return NULL;
}

/*
 * Scan one leaf of the page map: `nleaf` Span pointers for the pages from
 * `base`. A leaf is taken whole with hs_memory_ptr (2 MiB of pointers in a
 * two-level map); if it straddles core segments it is read in 4 KiB pieces,
 * and unreadable pieces are reported once per leaf.
 */
static struct hs_error *tcm_scan_leaf(struct tcm_walk *w, uint64_t leaf,
				      uint64_t base, size_t nleaf)
{
	const uint8_t *lp = (leaf & 7) ? NULL :
		hs_memory_ptr(w->mem, leaf, nleaf * 8);
	if (lp) {
		for (size_t j = 0; j < nleaf; j++) {
			uint64_t v = tcm_ld64(lp, 8 * j);
			if (!v)
				continue;
			struct hs_error *err = tcm_take_entry(w, base + j, v);
			if (err)
				return err;
		}
		return NULL;
	}
	if (leaf & 7) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, leaf,
			     "tcmalloc: page-map leaf for page 0x%" PRIx64 " pointer 0x%"
			     PRIx64 " is misaligned; its %zu pages are skipped",
			     base, leaf, nleaf);
		return NULL;
	}
	const size_t piece = nleaf < 4096 / 8 ? nleaf : 4096 / 8;
	size_t missing = 0;
	for (size_t j0 = 0; j0 < nleaf; j0 += piece) {
		const uint8_t *pp = hs_memory_ptr(w->mem, leaf + 8 * j0, piece * 8);
		if (!pp) {
			missing++;
			continue;
		}
		for (size_t j = 0; j < piece; j++) {
			uint64_t v = tcm_ld64(pp, 8 * j);
			if (!v)
				continue;
			struct hs_error *err = tcm_take_entry(w, base + j0 + j, v);
			if (err)
				return err;
		}
	}
	if (missing)
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, leaf,
			     "tcmalloc: page-map leaf for page 0x%" PRIx64 " at 0x%" PRIx64
			     ": %zu of %zu pieces are not in the core",
			     base, leaf, missing, nleaf / piece);
	return NULL;
}

/*
 * Scan the page map. Two levels (TCMalloc_PageMap2, gperftools 2.6 on):
 * the root array of leaf pointers is inside the PageHeap. Three levels
 * (TCMalloc_PageMap3, 2.5 and before, pagemap.h:208-270 in 2.5): the
 * PageHeap holds a pointer to the root node; nodes hold pointers to nodes,
 * then to leaves. Pages are visited in order either way.
 */
static struct hs_error *tcm_scan_pagemap(struct tcm_walk *w)
{
	const struct hs_tcm_layout *lay = w->lay;
	uint64_t root_addr = w->addrs->pageheap + lay->ph_pagemap_root;
	size_t nleaf = (size_t)1 << lay->pagemap_leaf_bits;
	if (lay->pagemap_levels == 3) {
		size_t nnode = (size_t)1 << lay->pagemap_interior_bits;
		uint64_t node;
		const uint8_t *root = NULL;
		if (hs_memory_u64(w->mem, root_addr, &node) && !(node & 7))
			root = hs_memory_ptr(w->mem, node, nnode * 8);
		if (!root)
			return hs_error_create(HS_ERR_FAULT,
					       "tcmalloc: page map root node (pointer at 0x%"
					       PRIx64 ") is not in the core", root_addr);
		for (size_t i1 = 0; i1 < nnode; i1++) {
			uint64_t mid = tcm_ld64(root, 8 * i1);
			if (!mid)
				continue;
			const uint8_t *mp = (mid & 7) ? NULL :
				hs_memory_ptr(w->mem, mid, nnode * 8);
			if (!mp) {
				hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, mid,
					     "tcmalloc: page-map node %zu at 0x%" PRIx64
					     " is not in the core or misaligned; skipped",
					     i1, mid);
				continue;
			}
			for (size_t i2 = 0; i2 < nnode; i2++) {
				uint64_t leaf = tcm_ld64(mp, 8 * i2);
				if (!leaf)
					continue;
				uint64_t base = (((uint64_t)i1 << lay->pagemap_interior_bits) +
						 i2) << lay->pagemap_leaf_bits;
				struct hs_error *err = tcm_scan_leaf(w, leaf, base, nleaf);
				if (err)
					return err;
			}
		}
		return NULL;
	}
	size_t nroot = (size_t)1 << lay->pagemap_root_bits;
	const uint8_t *root = hs_memory_ptr(w->mem, root_addr, nroot * 8);
	if (!root)
		return hs_error_create(HS_ERR_FAULT,
				       "tcmalloc: page map root at 0x%" PRIx64
				       " is not in the core", root_addr);
	for (size_t i1 = 0; i1 < nroot; i1++) {
		uint64_t leaf = tcm_ld64(root, 8 * i1);
		if (!leaf)
			continue;
		uint64_t base = (uint64_t)i1 << lay->pagemap_leaf_bits;
		struct hs_error *err = tcm_scan_leaf(w, leaf, base, nleaf);
		if (err)
			return err;
	}
	return NULL;
}

/*
 * Decide what each span is, add up the page-heap totals, and give each
 * small-object span its slice of the marks bitmap.
 */
static struct hs_error *tcm_classify_spans(struct tcm_walk *w)
{
	const struct hs_tcm_layout *lay = w->lay;
	uint64_t words = 0;
	for (size_t i = 0; i < w->nspans; i++) {
		struct tcm_span *s = &w->spans[i];
		uint64_t bytes = s->length << lay->page_shift;
		w->system += bytes;
		if (s->location == TCM_NORMAL || s->location == TCM_RETURNED) {
			if (s->location == TCM_NORMAL)
				w->pageheap_free += bytes;
			else
				w->unmapped += bytes;
			/* Delete() clears the size class [page_heap.cc:305]. */
			if (s->cls)
				hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true,
					     s->addr,
					     "tcmalloc: free span at 0x%" PRIx64
					     " still has size class %u", s->addr, s->cls);
			continue;
		}
		if (s->location != TCM_IN_USE)
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, s->addr,
				     "tcmalloc: span at 0x%" PRIx64
				     " has invalid location %u; taken as in use",
				     s->addr, s->location);
		if (!s->cls)
			continue;
		const struct tcm_class *k = s->cls < w->nclasses ?
			&w->cls[s->cls] : NULL;
		if (!k || !k->ok || s->length > lay->max_pages) {
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, s->addr,
				     "tcmalloc: span at 0x%" PRIx64 " has size class %u "
				     "and %" PRIu64 " pages, which do not fit the SizeMap; "
				     "reported as one allocation", s->addr, s->cls,
				     s->length);
			s->cls = 0;
			continue;
		}
		if (s->length != k->pages)
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, s->addr,
				     "tcmalloc: span at 0x%" PRIx64 " of class %u has %"
				     PRIu64 " pages, the class uses %" PRIu64,
				     s->addr, s->cls, s->length, k->pages);
		/* Objects are only enumerated over memory the core holds: this
		 * bounds the records by the core's size, whatever the page map
		 * claims (and a truncated core still gets its spans, whole). */
		if (!hs_memory_readable(w->mem, s->start << lay->page_shift, bytes)) {
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, s->addr,
				     "tcmalloc: span at 0x%" PRIx64 " (class %u): its %"
				     PRIu64 " pages are not in the core; reported as one "
				     "allocation", s->addr, s->cls, s->length);
			s->cls = 0;
			continue;
		}
		/* length <= kMaxPages and size >= 8 bound this by 2^17. */
		s->size = k->size;
		s->nobj = (uint32_t)(bytes / k->size);
		s->mark = words;
		words += (2 * (uint64_t)s->nobj + 63) / 64;
		w->nobjects += s->nobj;
	}
	if (words) {
		w->marks = calloc(words, sizeof(*w->marks));
		if (!w->marks)
			return HS_ENOMEM;
		w->nmarks = words;
	}
	return NULL;
}

/* The small-object span holding `addr`, or NULL. Spans are sorted by start
 * (the page map is scanned in page order). */
static struct tcm_span *tcm_span_of(struct tcm_walk *w, uint64_t addr)
{
	uint64_t page = addr >> w->lay->page_shift;
	size_t lo = 0, hi = w->nspans;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->spans[mid].start <= page)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	struct tcm_span *s = &w->spans[lo - 1];
	return page - s->start < s->length ? s : NULL;
}

/*
 * Mark one object of a cache list. False (with a diagnostic naming `what`)
 * if it is not an object of class `cls`, or was already on some list: the
 * caller then stops walking that list, which is how loops end.
 */
static bool tcm_mark_cached(struct tcm_walk *w, uint64_t addr, unsigned cls,
			    const char *what, uint64_t owner)
{
	struct tcm_span *s = tcm_span_of(w, addr);
	if (!s || !s->nobj) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, addr,
			     "tcmalloc: %s 0x%" PRIx64 ", class %u: 0x%" PRIx64
			     " is not in a small-object span; rest of list skipped",
			     what, owner, cls, addr);
		return false;
	}
	uint64_t off = addr - (s->start << w->lay->page_shift);
	if (s->cls != cls || off % s->size || off / s->size >= s->nobj) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, addr,
			     "tcmalloc: %s 0x%" PRIx64 ", class %u: 0x%" PRIx64
			     " is not an object boundary of a class-%u span "
			     "(span 0x%" PRIx64 " is class %u); rest of list skipped",
			     what, owner, cls, addr, cls, s->addr, s->cls);
		return false;
	}
	uint32_t i = (uint32_t)(off / s->size);
	if (tcm_mark_get(w, s, i) != TCM_MARK_NONE) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, addr,
			     "tcmalloc: %s 0x%" PRIx64 ", class %u: object 0x%" PRIx64
			     " is already free or cached (loop or double free); "
			     "rest of list skipped", what, owner, cls, addr);
		return false;
	}
	tcm_mark_set(w, s, i, TCM_MARK_CACHED);
	return true;
}

/*
 * Walk a NULL-terminated object list of class `cls`, marking each object
 * cached. Stops after `tail` if nonzero, and after `bound` objects. Returns
 * the number of objects marked; *ended says whether the list ended cleanly
 * (NULL, or tail reached).
 */
static uint64_t tcm_walk_cached_list(struct tcm_walk *w, uint64_t head,
				     uint64_t tail, uint64_t bound, unsigned cls,
				     const char *what, uint64_t owner, bool *ended)
{
	uint64_t n = 0, p = head;
	*ended = false;
	while (p) {
		if (n >= bound) {
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, p,
				     "tcmalloc: %s 0x%" PRIx64 ", class %u: more than %"
				     PRIu64 " objects; rest of list skipped",
				     what, owner, cls, bound);
			return n;
		}
		if (!tcm_mark_cached(w, p, cls, what, owner))
			return n;
		n++;
		if (tail && p == tail) {
			*ended = true;
			return n;
		}
		uint64_t next;
		if (!hs_memory_u64(w->mem, p, &next)) {
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, p,
				     "tcmalloc: %s 0x%" PRIx64 ": object 0x%" PRIx64
				     " is not in the core", what, owner, p);
			return n;
		}
		p = next;
	}
	*ended = !tail;
	return n;
}

/* Each small-object span's own free list [span.h:75], and the refcount
 * check: refcount counts the objects not on that list (ReleaseToSpans and
 * FetchFromOneSpans, central_freelist.cc:129,312). */
static void tcm_walk_span_lists(struct tcm_walk *w)
{
	const struct hs_tcm_layout *lay = w->lay;
	for (size_t i = 0; i < w->nspans; i++) {
		struct tcm_span *s = &w->spans[i];
		if (!s->nobj)
			continue;
		uint64_t base = s->start << lay->page_shift;
		uint64_t p = s->objects;
		uint32_t n = 0;
		while (p) {
			uint64_t off = p - base;
			if (p < base || off % s->size || off / s->size >= s->nobj) {
				hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, p,
					     "tcmalloc: span 0x%" PRIx64 " free list: 0x%"
					     PRIx64 " is not an object of the span; "
					     "rest of list skipped", s->addr, p);
				break;
			}
			uint32_t idx = (uint32_t)(off / s->size);
			if (tcm_mark_get(w, s, idx) != TCM_MARK_NONE) {
				hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, p,
					     "tcmalloc: span 0x%" PRIx64 " free list loops "
					     "at object 0x%" PRIx64 "; rest of list skipped",
					     s->addr, p);
				break;
			}
			tcm_mark_set(w, s, idx, TCM_MARK_FREE);
			n++;
			uint64_t next;
			if (!hs_memory_u64(w->mem, p, &next)) {
				hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, p,
					     "tcmalloc: span 0x%" PRIx64 " free list: "
					     "object 0x%" PRIx64 " is not in the core",
					     s->addr, p);
				break;
			}
			p = next;
		}
		s->nfree = n;
		struct tcm_class *k = &w->cls[s->cls];
		k->spans++;
		k->span_free += n;
		/* CentralFreeList::OverheadBytes [central_freelist.cc:372-382]. */
		k->overhead += (s->length << lay->page_shift) % s->size;
		unsigned refcount = tcm_bitfield(s->bits, lay->span_refcount_shift,
						 lay->span_refcount_width);
		uint32_t mask = (1u << lay->span_refcount_width) - 1;
		if (((s->nobj - n) & mask) != refcount)
			hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, true, s->addr,
				     "tcmalloc: span 0x%" PRIx64 " (class %u): refcount %u"
				     " but %" PRIu32 " objects - %" PRIu32 " on its free list",
				     s->addr, s->cls, refcount, s->nobj, n);
	}
}

/* The transfer cache: central_cache_[c].tc_slots_[0, used_slots_), each a
 * chain of num_objects_to_move objects from head to tail
 * [central_freelist.cc:229-242]; and the CentralFreeList counters. */
static void tcm_walk_central(struct tcm_walk *w)
{
	const struct hs_tcm_layout *lay = w->lay;
	for (unsigned c = 1; c < w->nclasses; c++) {
		struct tcm_class *k = &w->cls[c];
		uint64_t cfl = w->addrs->central_cache + (uint64_t)c * lay->cfl_stride;
		const uint8_t *p = hs_memory_ptr(w->mem, cfl, lay->cfl_used_slots + 4);
		if (!p) {
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, cfl,
				     "tcmalloc: central free list %u at 0x%" PRIx64
				     " is not in the core", c, cfl);
			continue;
		}
		uint64_t sc = tcm_ld64(p, lay->cfl_size_class);
		if (sc != c)
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, cfl,
				     "tcmalloc: central free list %u at 0x%" PRIx64
				     " says size class %" PRIu64, c, cfl, sc);
		int32_t used = (int32_t)tcm_ld32(p, lay->cfl_used_slots);
		if (used < 0 || (unsigned)used > lay->cfl_max_slots) {
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, cfl,
				     "tcmalloc: central free list %u: used_slots_ %" PRId32
				     " out of 0..%u; clamped", c, used, lay->cfl_max_slots);
			used = used < 0 ? 0 : (int32_t)lay->cfl_max_slots;
		}
		for (int32_t slot = 0; k->ok && slot < used; slot++) {
			uint64_t head = tcm_ld64(p, lay->cfl_tc_slots + 16 * slot);
			uint64_t tail = tcm_ld64(p, lay->cfl_tc_slots + 16 * slot + 8);
			bool ended;
			uint64_t n = tcm_walk_cached_list(w, head, tail, k->move, c,
							  "transfer cache of class",
							  c, &ended);
			k->transfer += n;
			if (!ended || n != k->move)
				hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, true, head,
					     "tcmalloc: transfer cache of class %u slot %"
					     PRId32 ": %" PRIu64 " objects from 0x%" PRIx64
					     " (expected %" PRIu32 " ending at 0x%" PRIx64 ")",
					     c, slot, n, head, k->move, tail);
		}
		uint64_t num_spans = tcm_ld64(p, lay->cfl_num_spans);
		uint64_t counter = tcm_ld64(p, lay->cfl_counter);
		if (num_spans != k->spans || counter != k->span_free)
			hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, true, cfl,
				     "tcmalloc: central free list %u: num_spans_ %" PRIu64
				     " counter_ %" PRIu64 ", the walk found %" PRIu64
				     " spans with %" PRIu64 " free objects",
				     c, num_spans, counter, k->spans, k->span_free);
	}
}

/*
 * Count the distinct nodes of the ThreadCache list (link at tc_next) before
 * processing any: Brent's cycle detection, then the loop's entry point, so
 * a looped list is walked exactly once.
 */
static uint64_t tcm_thread_cache_count(struct tcm_walk *w, uint64_t head)
{
	uint32_t link = w->lay->tc_next;
	uint64_t power = 1, lam = 1, n = 0;
	uint64_t tortoise = head, hare = head;
	while (hare) {
		uint64_t next;
		if (!hs_memory_u64(w->mem, hare + link, &next))
			return n + 1; /* the walk reports the unreadable node */
		n++;
		if (n >= TCM_MAX_THREAD_CACHES)
			return n;
		hare = next;
		if (hare == tortoise) {
			/* Loop of length lam: find where it starts. */
			uint64_t a = head, b = head;
			for (uint64_t i = 0; i < lam; i++)
				hs_memory_u64(w->mem, b + link, &b);
			uint64_t mu = 0;
			while (a != b && mu < n) {
				hs_memory_u64(w->mem, a + link, &a);
				hs_memory_u64(w->mem, b + link, &b);
				mu++;
			}
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, a,
				     "tcmalloc: ThreadCache list loops back to 0x%" PRIx64
				     " after %" PRIu64 " caches", a, mu + lam);
			return mu + lam;
		}
		if (power == lam) {
			tortoise = hare;
			power *= 2;
			lam = 0;
		}
		lam++;
	}
	return n;
}

/* The list holds thread_heap_count_ caches (thread_cache.cc NewHeap and
 * DeleteCache keep them in step): a list cut short or run on by a wrong
 * next_ offset shows here. */
static void tcm_check_thread_count(struct tcm_walk *w, uint64_t listed)
{
	uint32_t n;
	if (!w->addrs->thread_heap_count ||
	    !hs_memory_u32(w->mem, w->addrs->thread_heap_count, &n))
		return;
	if (listed != n)
		hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, true,
			     w->addrs->thread_heap_count,
			     "tcmalloc: the ThreadCache list holds %" PRIu64 " caches, "
			     "ThreadCache::thread_heap_count_ says %" PRIu32, listed, n);
}

/* A ThreadCache's tid_ (up to 2.15) is the pthread_t of its thread, which
 * on x86_64 glibc is the thread's fs_base. */
static void tcm_check_thread_tid(struct tcm_walk *w, uint64_t tc, const uint8_t *t)
{
	if (w->lay->tc_tid == HS_TCM_ABSENT || !w->proc->nthreads)
		return;
	uint64_t tid = tcm_ld64(t, w->lay->tc_tid);
	for (size_t i = 0; i < w->proc->nthreads; i++)
		if (w->proc->threads[i].fs_base == tid)
			return;
	hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, tc,
		     "tcmalloc: ThreadCache 0x%" PRIx64 ": tid_ 0x%" PRIx64
		     " is no thread of the process", tc, tid);
}

/* Every ThreadCache on ThreadCache::thread_heaps_ [thread_cache.h:300,348]:
 * their FreeLists, checked against length_ and size_ (which GetThreadStats
 * sums, thread_cache.cc:509-518). */
static void tcm_walk_thread_caches(struct tcm_walk *w)
{
	const struct hs_tcm_layout *lay = w->lay;
	uint64_t tc;
	if (!hs_memory_u64(w->mem, w->addrs->thread_heaps, &tc)) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true,
			     w->addrs->thread_heaps,
			     "tcmalloc: ThreadCache::thread_heaps_ at 0x%" PRIx64
			     " is not in the core; thread caches not walked",
			     w->addrs->thread_heaps);
		return;
	}
	uint64_t count = tcm_thread_cache_count(w, tc), walked = 0;
	tcm_check_thread_count(w, count);
	for (uint64_t i = 0; i < count && tc; i++, walked++) {
		const uint8_t *t = hs_memory_ptr(w->mem, tc, lay->tc_size);
		if (!t) {
			hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, tc,
				     "tcmalloc: ThreadCache at 0x%" PRIx64
				     " is not in the core; rest of the list skipped", tc);
			return;
		}
		uint64_t bytes = 0;
		for (unsigned c = 1; c < w->nclasses; c++) {
			const struct tcm_class *k = &w->cls[c];
			uint32_t fl = lay->tc_list + c * lay->tc_list_stride;
			uint64_t head = tcm_ld64(t, fl + lay->fl_head);
			uint32_t length = tcm_ld32(t, fl + lay->fl_length);
			if (!head && !length)
				continue;
			if (!k->ok) {
				hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, tc,
					     "tcmalloc: ThreadCache 0x%" PRIx64 " holds %"
					     PRIu32 " objects of unusable class %u",
					     tc, length, c);
				continue;
			}
			bool ended;
			uint64_t n = tcm_walk_cached_list(w, head, 0, w->nobjects, c,
							  "ThreadCache", tc, &ended);
			if (n != length)
				hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, true, tc,
					     "tcmalloc: ThreadCache 0x%" PRIx64 " class %u: "
					     "length_ %" PRIu32 " but %" PRIu64 " objects listed",
					     tc, c, length, n);
			bytes += n * k->size;
		}
		int32_t size = (int32_t)tcm_ld32(t, lay->tc_size_bytes);
		/* 2.6-2.6.1 keep the room left: size = max_size_ - size_left_. */
		if (lay->tc_max_size != HS_TCM_ABSENT)
			size = (int32_t)(tcm_ld32(t, lay->tc_max_size) - (uint32_t)size);
		if (size < 0 || (uint64_t)size != bytes)
			hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, true, tc,
				     "tcmalloc: ThreadCache 0x%" PRIx64 ": size_ %" PRId32
				     " but its lists hold %" PRIu64 " bytes", tc, size, bytes);
		w->thread += bytes;
		tcm_check_thread_tid(w, tc, t);
		tc = tcm_ld64(t, lay->tc_next);
	}
}

/* tc_nallocx(size, 0) [tcmalloc.cc:1091-1102] from the core's SizeMap. */
static uint64_t tcm_nallocx(const struct tcm_walk *w, uint64_t size)
{
	const struct hs_tcm_layout *lay = w->lay;
	if (size <= lay->max_size) {
		/* SizeMap::ClassIndexMaybe [common.h:199-209] */
		uint64_t idx = size <= 1024 ? (size + 7) >> 3 :
			(size + 127 + (120 << 7)) >> 7;
		if (idx < lay->sm_class_array_len) {
			unsigned cl = w->class_array[idx];
			if (cl && cl < w->nclasses && w->cls[cl].ok)
				return w->cls[cl].size;
		}
	}
	uint64_t mask = (UINT64_C(1) << lay->page_shift) - 1;
	return (size + mask) & ~mask;
}

/*
 * The size of a sampled allocation: DoSampledAllocation gives it a span of
 * pages(size) pages with the StackTrace (holding the requested size) in
 * Span::objects [tcmalloc.cc:1194-1220], and tcmalloc reports its size as
 * tc_nallocx(requested) [tcmalloc.cc:1556-1559]. The span's remaining
 * bytes still count as allocated in generic.current_allocated_bytes.
 */
static uint64_t tcm_sampled_size(struct tcm_walk *w, const struct tcm_span *s)
{
	uint64_t bytes = s->length << w->lay->page_shift;
	uint64_t req;
	if (!hs_memory_u64(w->mem, s->objects + w->lay->stack_size, &req)) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, s->objects,
			     "tcmalloc: sampled span 0x%" PRIx64 ": StackTrace at 0x%"
			     PRIx64 " is not in the core; reported whole",
			     s->addr, s->objects);
		return bytes;
	}
	uint64_t pages = (req + (UINT64_C(1) << w->lay->page_shift) - 1) >>
			 w->lay->page_shift;
	if (pages == 0)
		pages = 1;
	uint64_t size = tcm_nallocx(w, req);
	if (pages != s->length || size > bytes) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, s->objects,
			     "tcmalloc: sampled span 0x%" PRIx64 " of %" PRIu64
			     " pages records a request of %" PRIu64 " bytes; reported whole",
			     s->addr, s->length, req);
		return bytes;
	}
	/* The StackTrace is what decides; a build identified as one without
	 * sampling is then worth a note, once. */
	if (!w->samples && !w->sampled_seen)
		hs_diags_add(&w->heap->diags, HS_DIAG_INFO, true, s->addr,
			     "tcmalloc: sampled span 0x%" PRIx64 " in a build "
			     "identified as not sampling", s->addr);
	w->sampled_seen = true;
	return size;
}

/* Emit every chunk, in address order. */
static struct hs_error *tcm_emit(struct tcm_walk *w)
{
	const struct hs_tcm_layout *lay = w->lay;
	struct hs_heap *heap = w->heap;
	for (size_t i = 0; i < w->nspans; i++) {
		const struct tcm_span *s = &w->spans[i];
		uint64_t base = s->start << lay->page_shift;
		uint64_t bytes = s->length << lay->page_shift;
		if (s->nobj) {
			if (!hs_heap_add_region(heap, HS_REGION_HEAP, base, bytes))
				return HS_ENOMEM;
			/* Stretches of objects in one state, stored at once. */
			for (uint32_t j = 0, k; j < s->nobj; j = k) {
				unsigned m = tcm_mark_get(w, s, j);
				for (k = j + 1; k < s->nobj && tcm_mark_get(w, s, k) == m; k++)
					;
				enum hs_chunk_state st = m == TCM_MARK_FREE ? HS_CHUNK_FREE :
					m == TCM_MARK_CACHED ? HS_CHUNK_CACHED :
					HS_CHUNK_IN_USE;
				if (st == HS_CHUNK_IN_USE)
					w->in_use += (uint64_t)(k - j) * s->size;
				if (!hs_heap_add_chunks(heap, base + (uint64_t)j * s->size, s->size,
							k - j, st, 0))
					return HS_ENOMEM;
			}
			continue;
		}
		/* Returned spans are reserved space (below); the others are
		 * heap: objects, or one allocation, or a free run of pages. */
		if (s->location != TCM_RETURNED &&
		    !hs_heap_add_region(heap, HS_REGION_HEAP, base, bytes))
			return HS_ENOMEM;
		if (s->location == TCM_NORMAL || s->location == TCM_RETURNED) {
			if (!hs_heap_add_chunk(heap, base, bytes, HS_CHUNK_FREE, 0))
				return HS_ENOMEM;
			if (s->location == TCM_RETURNED &&
			    !hs_heap_add_region(heap, "unmapped", base, bytes))
				return HS_ENOMEM;
			continue;
		}
		uint64_t size = s->sample ? tcm_sampled_size(w, s) : bytes;
		if (size < bytes) {
			w->sampled_slack += bytes - size;
			if (!hs_heap_add_region(heap, "sampled_span_slack",
						base + size, bytes - size))
				return HS_ENOMEM;
		}
		w->in_use += size;
		if (!hs_heap_add_chunk(heap, base, size, HS_CHUNK_IN_USE, 0))
			return HS_ENOMEM;
	}
	return NULL;
}

/*
 * tcmalloc's metadata (Span objects, page-map leaves, thread caches) comes
 * from MetaDataAlloc's 8 MiB chunks, and they and the page heap's memory
 * from TCMalloc_SystemAlloc: sbrk first, mmap when sbrk fails (gperftools
 * 2.5-2.18 common.cc, system-alloc.cc). Neither keeps a list of what it
 * got. So each core segment that holds a span or a Span object, outside
 * any module, is taken as tcmalloc's: what its spans do not cover is
 * metadata, alignment padding and the unused tail of the current chunk
 * (an anonymous mapping the kernel merged with one of these would be
 * counted too; the program break's area has no other user).
 */
static struct hs_error *tcm_declare_metadata(struct tcm_walk *w,
					     struct hs_process *proc)
{
	/* The segments looked at, each once: a handful in a real process. */
	const struct hs_memory_range **seen = NULL;
	size_t nseen = 0, cap = 0;
	struct hs_error *err = NULL;
	for (size_t i = 0; i < 2 * w->nspans && !err; i++) {
		const struct tcm_span *s = &w->spans[i / 2];
		uint64_t a = i % 2 ? s->addr : s->start << w->lay->page_shift;
		const struct hs_memory_range *r = hs_memory_find(w->mem, a);
		bool again = !r;
		for (size_t k = 0; k < nseen && !again; k++)
			again = seen[k] == r;
		if (again)
			continue;
		if (nseen == cap && !hs_grow((void **)&seen, &cap, nseen + 1, sizeof(*seen))) {
			err = HS_ENOMEM;
			break;
		}
		seen[nseen++] = r;
		bool file = hs_process_module_at(proc, a) || hs_process_file_at(proc, a);
		if (!file && !hs_heap_add_region(w->heap, HS_REGION_METADATA,
						 r->start, r->memsz))
			err = HS_ENOMEM;
	}
	free(seen);
	return err;
}

static void tcm_check_counter(struct tcm_walk *w, const char *what,
			      uint64_t walked, uint64_t core, uint64_t where)
{
	if (walked != core)
		hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, true, where,
			     "tcmalloc: %s: the walk found %" PRIu64 ", tcmalloc's "
			     "counter says %" PRIu64, what, walked, core);
}

/* The properties, as GetNumericProperty computes them [tcmalloc.cc:700-770],
 * from the walk; then the cross-checks with the core's counters. */
static struct hs_error *tcm_stats(struct tcm_walk *w)
{
	const struct hs_tcm_layout *lay = w->lay;
	for (unsigned c = 1; c < w->nclasses; c++) {
		const struct tcm_class *k = &w->cls[c];
		/* ExtractStats [tcmalloc.cc:367-381] */
		w->central += k->span_free * k->size + k->overhead;
		w->transfer += k->transfer * k->size;
	}
	uint64_t taken = w->thread + w->central + w->transfer +
			 w->pageheap_free + w->unmapped;
	uint64_t current = 0;
	if (taken > w->system)
		hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, false, 0,
			     "tcmalloc: free and cached bytes (%" PRIu64 ") exceed "
			     "the heap (%" PRIu64 ")", taken, w->system);
	else
		current = w->system - taken;
	/* The debug builds keep freed blocks in a queue, allocated as far as
	 * tcmalloc knows, and leave them out of current_allocated_bytes
	 * (debugallocation.cc:1056-1066). */
	uint64_t queued = 0;
	if (w->addrs->free_queue_size &&
	    !hs_memory_u64(w->mem, w->addrs->free_queue_size, &queued))
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true,
			     w->addrs->free_queue_size,
			     "tcmalloc: MallocBlock::free_queue_size_ is not in the core");
	uint64_t allocated = current;
	if (queued <= current)
		current -= queued;
	static const char *const names[] = {
		"generic.current_allocated_bytes",
		"generic.heap_size",
		"tcmalloc.pageheap_free_bytes",
		"tcmalloc.pageheap_unmapped_bytes",
		"tcmalloc.central_cache_free_bytes",
		"tcmalloc.transfer_cache_free_bytes",
		"tcmalloc.thread_cache_free_bytes",
	};
	uint64_t values[] = {
		current, w->system, w->pageheap_free, w->unmapped,
		w->central, w->transfer, w->thread,
	};
	for (size_t i = 0; i < HS_ARRAY_SIZE(names); i++)
		if (!hs_heap_set_stat(w->heap, names[i], values[i]))
			return HS_ENOMEM;

	/* What the application holds, chunk by chunk, must be the same. */
	if (w->in_use + w->sampled_slack != allocated)
		hs_diags_add(&w->heap->diags, HS_DIAG_ERROR, false, 0,
			     "tcmalloc: in-use chunks add up to %" PRIu64 " bytes (+%"
			     PRIu64 " sampled-span slack), the page heap says %" PRIu64
			     " are allocated", w->in_use, w->sampled_slack, allocated);

	uint64_t st = w->addrs->pageheap + lay->ph_stats;
	const uint8_t *p = hs_memory_ptr(w->mem, st, lay->st_unmapped_bytes + 8);
	if (!p) {
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, true, st,
			     "tcmalloc: PageHeap::stats_ at 0x%" PRIx64
			     " is not in the core; not cross-checked", st);
	} else {
		tcm_check_counter(w, "PageHeap stats_.system_bytes", w->system,
				  tcm_ld64(p, lay->st_system_bytes), st);
		tcm_check_counter(w, "PageHeap stats_.free_bytes", w->pageheap_free,
				  tcm_ld64(p, lay->st_free_bytes), st);
		tcm_check_counter(w, "PageHeap stats_.unmapped_bytes", w->unmapped,
				  tcm_ld64(p, lay->st_unmapped_bytes), st);
	}
	if (w->stale)
		hs_diags_add(&w->heap->diags, HS_DIAG_INFO, false, 0,
			     "tcmalloc: %" PRIu64 " stale page-map entries ignored "
			     "(left behind by merged spans; normal)", w->stale);
	if (w->garbage > TCM_MAX_GARBAGE_DIAGS)
		hs_diags_add(&w->heap->diags, HS_DIAG_WARNING, false, 0,
			     "tcmalloc: %" PRIu64 " page-map entries in all point at "
			     "unreadable memory", w->garbage);
	return NULL;
}

struct hs_error *hs_tcmalloc_walk_at(struct hs_process *proc,
				     const struct hs_tcm_layout *lay,
				     const struct hs_tcm_addrs *addrs,
				     bool samples, struct hs_heap *heap)
{
	struct tcm_walk *w = calloc(1, sizeof(*w));
	if (!w)
		return HS_ENOMEM;
	w->proc = proc;
	w->mem = &proc->mem;
	w->lay = lay;
	w->addrs = addrs;
	w->heap = heap;
	w->samples = samples;
	struct hs_error *err = tcm_read_sizemap(w);
	if (!err)
		err = tcm_scan_pagemap(w);
	if (!err)
		err = tcm_classify_spans(w);
	if (!err) {
		tcm_walk_span_lists(w);
		tcm_walk_thread_caches(w);
		tcm_walk_central(w);
		err = tcm_emit(w);
	}
	if (!err)
		err = tcm_declare_metadata(w, proc);
	if (!err)
		err = tcm_stats(w);
	heap->narenas = 1; /* one page heap */
	free(w->marks);
	free(w->spans);
	free(w);
	return err;
}

static bool tcm_detect(struct hs_process *proc)
{
	return hs_tcm_find_module(proc) != NULL;
}

/* Walk with one located row; records what the report says about it. */
static struct hs_error *tcm_walk_located(struct hs_process *proc,
					 const struct hs_tcm_located *loc,
					 struct hs_heap *heap)
{
	snprintf(heap->version, sizeof(heap->version), "%s", loc->version);
	snprintf(heap->flavour, sizeof(heap->flavour), "%s", loc->flavour);
	heap->located_by = loc->located_by;
	heap->layout = loc->layout->verified ? HS_LAYOUT_VERIFIED : HS_LAYOUT_FROM_SOURCE;
	snprintf(heap->layout_row, sizeof(heap->layout_row), "%s", loc->row);
	return hs_tcmalloc_walk_at(proc, loc->layout, &loc->addrs, loc->samples, heap);
}

/*
 * A build with other pages than its row's (--with-tcmalloc-pagesize): the
 * row re-derived for them is only a derivation, kept when the walk
 * reconciles with tcmalloc's counters, refused otherwise.
 */
static struct hs_error *tcm_walk_derived(struct hs_process *proc,
					 const struct hs_tcm_located *loc,
					 struct hs_heap *heap)
{
	struct hs_heap *scratch;
	struct hs_error *err = hs_heap_create(&scratch);
	if (err)
		return err;
	err = tcm_walk_located(proc, loc, scratch);
	const char *why = err ? err->message : hs_infer_judge(scratch);
	if (!why && err != HS_ENOMEM) {
		char subject[128];
		/* Every row is for the default 8 KiB pages. */
		snprintf(subject, sizeof(subject), "gperftools %s was built with "
			 "%u KiB pages, its row %s is for 8 KiB", loc->version,
			 1u << (loc->layout->page_shift - 10), loc->layout->version);
		hs_infer_accept(heap, scratch, subject, loc->row);
		return NULL;
	}
	if (err == HS_ENOMEM) {
		hs_heap_destroy(scratch);
		return err;
	}
	struct hs_error *refusal = hs_error_create(
		HS_ERR_UNSUPPORTED, "tcmalloc: gperftools %s (%s) built with %u KiB "
		"pages: the %s row re-derived for them does not reconcile with the "
		"counters in the core: %s", loc->version, loc->module,
		1u << (loc->layout->page_shift - 10), loc->layout->version, why);
	hs_error_destroy(err);
	hs_heap_destroy(scratch);
	return refusal;
}

#define TCM_MAX_CANDIDATES 32

struct tcm_infer {
	struct hs_process *proc;
	const struct hs_walk_options *opts;
	const struct hs_tcm_layout *cand[TCM_MAX_CANDIDATES];
	struct hs_tcm_located loc; /* of the latest try: its row name */
};

static struct hs_error *tcm_try_row(void *ctx, size_t i, struct hs_heap *scratch,
				    const char **row)
{
	struct tcm_infer *t = ctx;
	*row = t->cand[i]->version;
	struct hs_error *err = hs_tcm_locate(t->proc, t->opts, t->cand[i],
					     &scratch->diags, &t->loc);
	if (err)
		return err;
	*row = t->loc.row;
	return tcm_walk_located(t->proc, &t->loc, scratch);
}

/*
 * A gperftools release without a row: locate and walk with each row,
 * nearest release first, and keep the first walk that reconciles with
 * tcmalloc's own counters (the page heap's stats_, every central free
 * list's num_spans_ and counter_, every thread cache's length_ and size_,
 * the transfer cache slots, thread_heap_count_) with no diagnostic above
 * info.
 */
static struct hs_error *tcm_walk_inferred(struct hs_process *proc,
					  const struct hs_walk_options *opts,
					  const struct hs_tcm_located *first,
					  struct hs_heap *heap)
{
	struct tcm_infer *t = calloc(1, sizeof(*t));
	if (!t)
		return HS_ENOMEM;
	t->proc = proc;
	t->opts = opts;
	size_t n = hs_tcm_layout_candidates(first->version, t->cand, TCM_MAX_CANDIDATES);
	char rows[256];
	hs_tcm_layout_list(rows, sizeof(rows));
	struct hs_error *err = hs_infer_run(heap, n, tcm_try_row, t, first->module,
					    "gperftools", first->version, rows);
	free(t);
	return err;
}

static struct hs_error *tcm_walk(struct hs_process *proc,
				 const struct hs_walk_options *opts,
				 struct hs_heap *heap)
{
	struct hs_tcm_located loc;
	struct hs_error *err = hs_tcm_locate(proc, opts, NULL, &heap->diags, &loc);
	if (err)
		return err;
	if (!loc.layout)
		return tcm_walk_inferred(proc, opts, &loc, heap);
	if (loc.derived)
		return tcm_walk_derived(proc, &loc, heap);
	return tcm_walk_located(proc, &loc, heap);
}

const struct hs_walker hs_tcmalloc_walker = {
	.name = "tcmalloc",
	.detect = tcm_detect,
	.walk = tcm_walk,
};
