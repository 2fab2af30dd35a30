/* strings.c: std::string bodies (C++11 and old-ABI COW), C strings, and the memory scan that finds string owners. */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "strings.h"

/*
 * Facts (libstdc++, bits/basic_string.h and bits/cow_string.h, GCC 5..13):
 *  - C++11 ABI std::string is 32 bytes: _M_dataplus._M_p (char *), then
 *    _M_string_length, then a union of _M_local_buf[16] and
 *    _M_allocated_capacity. Up to _S_local_capacity (15) characters live in
 *    the local buffer; longer strings point _M_p at a heap buffer allocated
 *    with capacity + 1 bytes (_M_create), and the string is NUL-terminated
 *    at [length].
 *  - The old (COW) ABI string is one pointer to the characters of a _Rep:
 *    {size_t _M_length, size_t _M_capacity, _Atomic_word _M_refcount}
 *    (24 bytes with padding) followed by the characters, allocated as
 *    capacity + 1 + sizeof(_Rep) bytes (_S_create). Refcount is -1 when
 *    leaked/unsharable, 0 with one owner. The empty string is a static _Rep.
 */

bool hs_text_ok(const uint8_t *p, size_t n)
{
	size_t ascii = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (b >= 0x20 && b < 0x7f)
			ascii++;
		else if (b != '\t' && b != '\n' && b != '\r' && b < 0x80)
			return false;
	}
	return ascii * 4 >= n * 3;
}

/*
 * The (pointer, length, capacity) check for a word that points at the start
 * of in-use chunk k. `w` points at the word inside the core's bytes, with at
 * least 24 bytes readable.
 */
static bool hs_string_triple(struct hs_classes *c, size_t k, const uint8_t *w)
{
	uint64_t len = hs_le64(w + 8), cap = hs_le64(w + 16);
	const struct hs_chunk *ch = &c->heap->chunks[k];
	if (cap < 16 || len > cap || !hs_sizing_fits(&c->sizing, cap + 1, ch))
		return false;
	size_t avail;
	const uint8_t *body = hs_classes_chunk_bytes(c, k, &avail);
	return body && len < avail && body[len] == 0;
}

/* The first chunk whose span ends after addr. */
static size_t hs_first_chunk_after(const struct hs_heap *heap, uint64_t addr)
{
	size_t lo = 0, hi = heap->nchunks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct hs_chunk *ch = &heap->chunks[mid];
		if (ch->addr + hs_chunk_size(ch) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool hs_chunk_live(const struct hs_chunk *ch)
{
	return hs_chunk_state(ch) == HS_CHUNK_IN_USE;
}

void hs_strings_scan(struct hs_classes *c)
{
	const struct hs_heap *heap = c->heap;
	const struct hs_memory *mem = &c->proc->mem;
	if (!heap->nchunks)
		return;
	size_t last = 0; /* the last chunk a pointer hit: pointers cluster */
	for (size_t r = 0; r < mem->count; r++) {
		const struct hs_memory_range *range = &mem->ranges[r];
		if (!(range->flags & PF_W) || range->filesz < 24)
			continue;
		uint64_t start = (range->start + 7) & ~7ull;
		uint64_t end = range->start + range->filesz;
		/* Cursor over the chunks this range overlaps, to skip free ones. */
		size_t cur = hs_first_chunk_after(heap, start);
		/* Written so that nothing wraps: a range may end at 2^64 - 1. */
		for (uint64_t a = start; a < end && end - a >= 24; a += 8) {
			while (cur < heap->nchunks &&
			       heap->chunks[cur].addr + hs_chunk_size(&heap->chunks[cur]) <= a)
				cur++;
			if (cur < heap->nchunks && heap->chunks[cur].addr <= a &&
			    !hs_chunk_live(&heap->chunks[cur])) {
				const struct hs_chunk *fc = &heap->chunks[cur];
				uint64_t skip = (fc->addr + hs_chunk_size(fc) + 7) & ~7ull;
				if (skip <= a)
					break; /* the chunk runs to the top of the space */
				a = skip - 8;
				continue;
			}
			const uint8_t *w = range->data + (a - range->start);
			uint64_t v = hs_le64(w);
			if (v < c->heap_lo || v >= c->heap_hi)
				continue;
			const struct hs_chunk *lc = &heap->chunks[last];
			size_t k;
			if (v >= lc->addr && v - lc->addr < hs_chunk_size(lc)) {
				k = last;
			} else {
				k = hs_classes_chunk_index(c, v);
				if (k == SIZE_MAX)
					continue;
				last = k;
			}
			const struct hs_chunk *ch = &heap->chunks[k];
			if (!hs_chunk_live(ch))
				continue;
			uint8_t bit;
			switch (v - ch->addr) {
			case 0:
				bit = HS_REF_START;
				if (!(c->chunk_ref[k] & HS_REF_STRING) && hs_string_triple(c, k, w))
					bit |= HS_REF_STRING;
				break;
			case 1: bit = HS_REF_SDS5; break;
			case 3: bit = HS_REF_SDS8; break;
			case 5: bit = HS_REF_SDS16; break;
			case 9: bit = HS_REF_SDS32; break;
			case 17: bit = HS_REF_SDS64; break;
			case 24: bit = HS_REF_COW; break;
			default: continue;
			}
			c->chunk_ref[k] |= bit;
		}
	}
}

bool hs_cow_detect(struct hs_classes *c, size_t i, const uint8_t *p, size_t avail,
		   struct hs_detect *ret, char *why, size_t whylen)
{
	if (!(c->chunk_ref[i] & HS_REF_COW) || avail < 25)
		return false;
	uint64_t len = hs_le64(p), cap = hs_le64(p + 8);
	int32_t rc = (int32_t)hs_le32(p + 16);
	if (len > cap || rc < -1 || rc > (1 << 20) || len >= avail - 24 || p[24 + len] != 0 ||
	    !hs_sizing_fits(&c->sizing, 24 + cap + 1, &c->heap->chunks[i]))
		return false;
	if (c->cow_type == HS_TYPE_NONE)
		c->cow_type = hs_classes_type(c, "std::string (COW)", HS_KIND_STRING, 0.9);
	uint32_t id = c->cow_type;
	if (id == HS_TYPE_NONE)
		return false;
	ret->type = id;
	ret->strong = true;
	if (why)
		snprintf(why, whylen,
			 "an old-ABI COW std::string _Rep {length=%llu capacity=%llu refcount=%d} "
			 "with a NUL at [length], referenced at chunk + 24 (its characters)",
			 (unsigned long long)len, (unsigned long long)cap, rc);
	return true;
}

bool hs_cstring_detect(struct hs_classes *c, size_t i, const uint8_t *p, size_t avail,
		       struct hs_detect *ret, char *why, size_t whylen)
{
	const void *nul = memchr(p, 0, avail);
	if (!nul)
		return false;
	size_t len = (size_t)((const uint8_t *)nul - p);
	const struct hs_chunk *ch = &c->heap->chunks[i];
	/*
	 * At least 4 characters, and either the chunk is what malloc(len + 1)
	 * returns (strdup), or the text fills most of a larger buffer.
	 */
	uint64_t usable = hs_sizing_usable(&c->sizing, ch);
	if (len < 4 || !hs_text_ok(p, len) ||
	    !(hs_sizing_fits(&c->sizing, len + 1, ch) || (len >= 16 && 2 * (len + 1) > usable)))
		return false;
	if (c->cstring_type == HS_TYPE_NONE)
		c->cstring_type = hs_classes_type(c, "C string", HS_KIND_CSTRING, 0.8);
	uint32_t id = c->cstring_type;
	if (id == HS_TYPE_NONE)
		return false;
	ret->type = id;
	ret->strong = true;
	if (why)
		snprintf(why, whylen, "%zu bytes of printable text and a NUL, in a %llu-byte chunk",
			 len, (unsigned long long)usable);
	return true;
}
