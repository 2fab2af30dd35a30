/* containers.c: libstdc++ container internals recognised from their structure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers.h"
#include "vtables.h"

/*
 * Facts (libstdc++, GCC 5..14, x86_64):
 *  - std::map/set: _Rb_tree_node<V> is _Rb_tree_node_base {int color (0 red,
 *    1 black), base *parent, *left, *right} (32 bytes) then V
 *    (bits/stl_tree.h). The tree's header lives in the map object: its
 *    parent is the root, left the leftmost node, right the rightmost; the
 *    root's parent is the header.
 *  - std::list: _List_node<V> is {next, prev} then V (bits/stl_list.h); the
 *    list's own node (in the list object) closes the ring.
 *  - std::unordered_map/set: _Hashtable is {buckets, bucket_count,
 *    before_begin {next}, element_count, rehash_policy {float, size_t},
 *    single_bucket} (bits/hashtable.h); every node {next, V[, hash]} is on
 *    one singly linked list from before_begin, element_count long; buckets
 *    is an array of bucket_count pointers, or &single_bucket for one bucket.
 *  - std::vector: _Vector_impl {start, finish, end_of_storage}
 *    (bits/stl_vector.h): start is the allocation, of
 *    (end_of_storage - start) bytes.
 *  - std::deque: _Deque_impl {map, map_size, start iterator, finish
 *    iterator}, an iterator being {cur, first, last, node}
 *    (bits/stl_deque.h): map is an array of map_size block pointers (at
 *    least 8), the blocks in use are *start.node .. *finish.node, each
 *    last - first bytes.
 *  - std::shared_ptr: a control block is an _Sp_counted_base with a vptr:
 *    std::_Sp_counted_ptr<T*, ...>, _Sp_counted_ptr_inplace<T, A, ...> or
 *    _Sp_counted_deleter<...> (bits/shared_ptr_base.h).
 */

static const char *const hs_container_names[HS_CONTAINER_NKINDS] = {
	"std::map/set node", "std::unordered_map/set node", "std::unordered_map/set buckets",
	"std::list node", "std::vector body", "std::deque map", "std::deque block",
	"std::shared_ptr control block",
};

const char *hs_container_name(enum hs_container_kind k)
{
	return k < HS_CONTAINER_NKINDS ? hs_container_names[k] : "?";
}

int hs_container_rank(uint32_t kind)
{
	return kind == HS_CONTAINER_VECTOR ? 0 : 1;
}

static bool rd(const struct hs_classes *c, uint64_t addr, uint64_t *v)
{
	return hs_memory_u64(&c->proc->mem, addr, v);
}

/* The in-use chunk that starts at addr, or NONE. */
static hs_chunk_id chunk_at(const struct hs_classes *c, uint64_t addr, struct hs_chunk *ch)
{
	if (!addr || (addr & 7))
		return HS_CHUNK_ID_NONE;
	hs_chunk_id id = hs_heap_find_in_use(c->heap, addr, ch);
	return id != HS_CHUNK_ID_NONE && ch->addr == addr ? id : HS_CHUNK_ID_NONE;
}

/* A class name for the element, where one can be seen: the element starts
 * with a vptr ("Class"), or holds a pointer to an object that does
 * ("Class*"). Empty otherwise. */
static void element_name(struct hs_classes *c, const uint8_t *p, size_t avail, char *buf,
			 size_t len)
{
	buf[0] = 0;
	size_t nwords = avail / 8 < 8 ? avail / 8 : 8;
	for (size_t i = 0; i < nwords; i++) {
		uint64_t v = hs_le64(p + 8 * i);
		uint32_t id = i == 0 ? hs_vtables_classify(c->cl->vtables, c, v) : HS_TYPE_NONE;
		if (id != HS_TYPE_NONE && c->types[id].kind == HS_KIND_VTABLE) {
			snprintf(buf, len, "%s", c->types[id].name);
			return;
		}
		struct hs_chunk ch;
		uint64_t vp;
		if (chunk_at(c, v, &ch) == HS_CHUNK_ID_NONE || !rd(c, v, &vp))
			continue;
		id = hs_vtables_classify(c->cl->vtables, c, vp);
		if (id != HS_TYPE_NONE && c->types[id].kind == HS_KIND_VTABLE) {
			snprintf(buf, len, "%s*", c->types[id].name);
			return;
		}
	}
}

static uint32_t container_type(struct hs_classes *c, enum hs_container_kind k, const char *elem)
{
	char name[512];
	if (elem && *elem)
		snprintf(name, sizeof(name), "%s <%s>", hs_container_names[k], elem);
	else
		snprintf(name, sizeof(name), "%s", hs_container_names[k]);
	return hs_classes_type(c, name, HS_KIND_CONTAINER, -1);
}

/* ------------------------------------------------------------------ owners */

static bool found_add(struct hs_cfound *f, hs_chunk_id id, enum hs_container_kind k)
{
	if (!hs_grow((void **)&f->items, &f->cap, f->n + 1, sizeof(*f->items))) {
		f->nomem = true;
		return false;
	}
	f->items[f->n].id = id;
	f->items[f->n++].kind = k;
	return true;
}

/* {start, finish, end_of_storage} at w: start is the chunk tc. */
static void owner_vector(struct hs_classes *c, const uint8_t *w, uint64_t wavail,
			 const struct hs_chunk *tc, hs_chunk_id tid, struct hs_cfound *f)
{
	if (wavail < 24)
		return;
	uint64_t start = hs_le64(w), finish = hs_le64(w + 8), eos = hs_le64(w + 16);
	uint64_t usable = hs_sizing_usable(c->sizing, tc);
	if (finish < start || eos < finish || eos == start || eos - start > usable ||
	    !hs_sizing_fits(c->sizing, eos - start, tc))
		return;
	found_add(f, tid, HS_CONTAINER_VECTOR);
}

#define HS_HASH_MAX_NODES (UINT64_C(1) << 32)

/* A _Hashtable at w whose buckets are chunk tc (or its single bucket). */
static void owner_hashtable(struct hs_classes *c, uint64_t at, const uint8_t *w,
			    uint64_t wavail, const struct hs_chunk *tc, hs_chunk_id tid,
			    struct hs_cfound *f)
{
	if (wavail < 56)
		return;
	uint64_t buckets = hs_le64(w), nb = hs_le64(w + 8), first = hs_le64(w + 16);
	uint64_t count = hs_le64(w + 24);
	uint32_t maxload;
	memcpy(&maxload, w + 32, 4);
	float ml;
	memcpy(&ml, &maxload, 4);
	if (!(ml > 0.0f && ml <= 1000.0f) || nb < 2 || nb > (UINT64_C(1) << 40) ||
	    count > HS_HASH_MAX_NODES || buckets != tc->addr)
		return;
	if (nb * 8 > hs_sizing_usable(c->sizing, tc) || !hs_sizing_fits(c->sizing, nb * 8, tc))
		return;
	/* Every node, from before_begin: exactly element_count of them. */
	size_t mark = f->n;
	uint64_t n = 0, size = 0;
	for (uint64_t node = first; node; n++) {
		struct hs_chunk nc;
		hs_chunk_id nid = chunk_at(c, node, &nc);
		if (nid == HS_CHUNK_ID_NONE || n >= count || (size && hs_chunk_size(&nc) != size) ||
		    !found_add(f, nid, HS_CONTAINER_HASH_NODE) || !rd(c, node, &node)) {
			f->n = mark;
			return;
		}
		size = hs_chunk_size(&nc);
	}
	if (n != count) {
		f->n = mark;
		return;
	}
	(void)at;
	found_add(f, tid, HS_CONTAINER_HASH_BUCKETS);
}

/* A _Deque_impl at w whose map is chunk tc. */
static void owner_deque(struct hs_classes *c, const uint8_t *w, uint64_t wavail,
			const struct hs_chunk *tc, hs_chunk_id tid, struct hs_cfound *f)
{
	if (wavail < 80)
		return;
	uint64_t map = hs_le64(w), size = hs_le64(w + 8);
	uint64_t s_cur = hs_le64(w + 16), s_first = hs_le64(w + 24), s_last = hs_le64(w + 32);
	uint64_t s_node = hs_le64(w + 40);
	uint64_t f_cur = hs_le64(w + 48), f_first = hs_le64(w + 56), f_last = hs_le64(w + 64);
	uint64_t f_node = hs_le64(w + 72);
	if (size < 8 || size > (UINT64_C(1) << 32) || map != tc->addr ||
	    size * 8 > hs_sizing_usable(c->sizing, tc) || !hs_sizing_fits(c->sizing, size * 8, tc))
		return;
	if (s_node < map || f_node < s_node || f_node >= map + size * 8 || ((s_node - map) & 7) ||
	    ((f_node - map) & 7) || s_cur < s_first || s_cur > s_last || f_cur < f_first ||
	    f_cur > f_last || s_last - s_first != f_last - f_first || s_last == s_first)
		return;
	uint64_t block = s_last - s_first, first_block;
	if (!rd(c, s_node, &first_block) || first_block != s_first)
		return;
	size_t mark = f->n;
	for (uint64_t p = s_node; p <= f_node; p += 8) {
		uint64_t b;
		struct hs_chunk bc;
		hs_chunk_id bid;
		if (!rd(c, p, &b) || (bid = chunk_at(c, b, &bc)) == HS_CHUNK_ID_NONE ||
		    hs_sizing_usable(c->sizing, &bc) < block ||
		    !found_add(f, bid, HS_CONTAINER_DEQUE_BLOCK)) {
			f->n = mark;
			return;
		}
	}
	found_add(f, tid, HS_CONTAINER_DEQUE_MAP);
}

bool hs_containers_maybe_owner(const uint8_t *w, uint64_t wavail)
{
	if (wavail < 24)
		return false;
	uint64_t p0 = hs_le64(w), p1 = hs_le64(w + 8), p2 = hs_le64(w + 16);
	/* vector: start <= finish <= end_of_storage, not far apart */
	if (p1 >= p0 && p2 >= p1 && p2 > p0 && p2 - p0 < (UINT64_C(1) << 40))
		return true;
	/* unordered_map: a bucket count; deque: a map size (of 8 or more) */
	return p1 >= 2 && p1 <= (UINT64_C(1) << 40) && wavail >= 56;
}

void hs_containers_owner(struct hs_classes *c, uint64_t at, const uint8_t *w, uint64_t wavail,
			 const struct hs_chunk *tc, hs_chunk_id tid, struct hs_cfound *f)
{
	owner_vector(c, w, wavail, tc, tid, f);
	owner_hashtable(c, at, w, wavail, tc, tid, f);
	owner_deque(c, w, wavail, tc, tid, f);
}

/* ------------------------------------------------------------------ detection */

/* _Rb_tree_node_base at chunk k: its children's parent is k, and k is its
 * parent's child (or the root, the header's parent). */
static bool is_map_node(const struct hs_classes *c, const struct hs_cchunk *k)
{
	if (!k->p || k->avail < 36)
		return false;
	uint32_t color = hs_le32(k->p);
	uint64_t parent = hs_le64(k->p + 8), left = hs_le64(k->p + 16), right = hs_le64(k->p + 24);
	const struct hs_heap *heap = c->heap;
	/* Cheap first: children are heap chunks or null. */
	if (color > 1 || !parent || (parent & 7) || left == k->c.addr || right == k->c.addr ||
	    (left && (left < heap->lo || left >= heap->hi)) ||
	    (right && (right < heap->lo || right >= heap->hi)))
		return false;
	uint64_t v;
	struct hs_chunk ch;
	for (int i = 0; i < 2; i++) {
		uint64_t child = i ? right : left;
		if (child && (chunk_at(c, child, &ch) == HS_CHUNK_ID_NONE || !rd(c, child + 8, &v) ||
			      v != k->c.addr))
			return false;
	}
	if (chunk_at(c, parent, &ch) != HS_CHUNK_ID_NONE) {
		uint64_t l, r;
		return rd(c, parent + 16, &l) && rd(c, parent + 24, &r) &&
		       (l == k->c.addr || r == k->c.addr);
	}
	/* The root: the header in the map object has it as its parent. */
	return rd(c, parent + 8, &v) && v == k->c.addr;
}

/* _List_node_base at chunk k: next's prev and prev's next are k. */
static bool is_list_node(const struct hs_classes *c, const struct hs_cchunk *k)
{
	if (!k->p || k->avail < 24)
		return false;
	uint64_t next = hs_le64(k->p), prev = hs_le64(k->p + 8), v;
	const struct hs_heap *heap = c->heap;
	if (!next || !prev || (next & 7) || (prev & 7) || next == k->c.addr || prev == k->c.addr)
		return false;
	/* Cheap first: a neighbour outside the heap is the list's own node,
	 * and then both are (a list of one). */
	bool next_in = next >= heap->lo && next < heap->hi;
	bool prev_in = prev >= heap->lo && prev < heap->hi;
	if (!next_in && !prev_in && next != prev)
		return false;
	return rd(c, next + 8, &v) && v == k->c.addr && rd(c, prev, &v) && v == k->c.addr;
}

bool hs_container_detect(struct hs_classes *c, const struct hs_cchunk *k,
			 struct hs_detect *ret, char *why, size_t whylen)
{
	uint32_t kind;
	char elem[400];
	elem[0] = 0;
	const struct hs_u64map *set = &c->cl->containers;
	enum hs_container_kind ck;
	if (set->count && hs_u64map_get(set, k->id, &kind)) {
		ck = (enum hs_container_kind)kind;
		if (k->p && (ck == HS_CONTAINER_VECTOR || ck == HS_CONTAINER_DEQUE_BLOCK))
			element_name(c, k->p, k->avail, elem, sizeof(elem));
		else if (k->p && ck == HS_CONTAINER_HASH_NODE && k->avail > 8)
			element_name(c, k->p + 8, k->avail - 8, elem, sizeof(elem));
	} else if (c->cl->cxx && is_map_node(c, k)) {
		ck = HS_CONTAINER_MAP_NODE;
		element_name(c, k->p + 32, k->avail - 32, elem, sizeof(elem));
	} else if (c->cl->cxx && is_list_node(c, k)) {
		ck = HS_CONTAINER_LIST_NODE;
		element_name(c, k->p + 16, k->avail - 16, elem, sizeof(elem));
	} else {
		return false;
	}
	uint32_t id = container_type(c, ck, elem);
	if (id == HS_TYPE_NONE)
		return false;
	ret->type = id;
	ret->strong = true;
	if (why) {
		static const char *const how[HS_CONTAINER_NKINDS] = {
			"red-black tree links: its children's parent is this chunk and its "
			"parent's child (or the map's header's root) is this chunk",
			"on the node list of a std::unordered_map/set whose element count it "
			"matches, walked from the table's before-begin node",
			"the bucket array of a std::unordered_map/set (a _Hashtable's buckets "
			"with a matching bucket count and element count)",
			"doubly linked: next's prev and prev's next are this chunk",
			"the storage of a std::vector: a {start, finish, end_of_storage} triple "
			"points at it and the capacity is its allocation",
			"the block map of a std::deque: a _Deque_impl's map, its start and "
			"finish iterators inside it",
			"a block of a std::deque: between the deque's start and finish nodes",
			"",
		};
		snprintf(why, whylen, "%s%s%s%s: %s", hs_container_names[ck], *elem ? " <" : "",
			 elem, *elem ? ">" : "", how[ck]);
	}
	return true;
}

bool hs_container_rename(const char *name, char *buf, size_t len)
{
	static const char *const prefixes[] = {
		"std::_Sp_counted_ptr_inplace<", "std::_Sp_counted_ptr<",
		"std::_Sp_counted_deleter<",
	};
	for (size_t i = 0; i < HS_ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], n) != 0)
			continue;
		/* The first template argument: up to a comma at depth 0. */
		const char *a = name + n, *e = a;
		int depth = 0;
		for (; *e && !(depth == 0 && (*e == ',' || *e == '>')); e++)
			depth += *e == '<' ? 1 : *e == '>' ? -1 : 0;
		size_t al = (size_t)(e - a);
		if (i == 1 && al && a[al - 1] == '*')
			al--; /* _Sp_counted_ptr<T*, ...>: the object is a T */
		snprintf(buf, len, "%s <%.*s>", hs_container_names[HS_CONTAINER_SHARED], (int)al, a);
		return true;
	}
	return false;
}
