/* patterns.c: word shapes, pattern clusters of unclassified chunks, and hexdump -C formatting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patterns.h"

/* Shape letters, in code order (3 bits each). */
static const char hs_shape_letters[] = "0HMit?";
enum { SHAPE_ZERO, SHAPE_HEAP, SHAPE_MODULE, SHAPE_INT, SHAPE_TEXT, SHAPE_OTHER };

static inline unsigned hs_word_shape(struct hs_process *proc, const struct hs_heap *heap,
				     const uint8_t *w)
{
	uint64_t v = hs_le64(w);
	if (!v)
		return SHAPE_ZERO;
	/* The spans first, inline: most words are neither. */
	if (heap && v - heap->lo < heap->hi - heap->lo && hs_heap_contains(heap, v))
		return SHAPE_HEAP;
	if (proc && proc->nmodules && v >= proc->modules[0].start &&
	    v < proc->modules[proc->nmodules - 1].end && hs_process_module_at(proc, v))
		return SHAPE_MODULE;
	/* Small: fits 32 bits, or a small negative number. */
	if (v <= 0xffffffffull || (v >> 63 && (int64_t)v >= -65536))
		return SHAPE_INT;
	/* Text: printable bytes, possibly ending in NULs after at least 4. */
	size_t n = 0;
	while (n < 8 && w[n] >= 0x20 && w[n] < 0x7f)
		n++;
	size_t z = n;
	while (z < 8 && w[z] == 0)
		z++;
	if (z == 8 && (n == 8 || n >= 4))
		return SHAPE_TEXT;
	return SHAPE_OTHER;
}

static inline uint32_t pattern_code(struct hs_process *proc, const struct hs_heap *heap,
				    const uint8_t *p, size_t nwords)
{
	if (nwords > HS_PATTERN_MAX_WORDS)
		nwords = HS_PATTERN_MAX_WORDS;
	uint32_t code = (uint32_t)nwords << 24;
	for (size_t k = 0; k < nwords; k++)
		code |= hs_word_shape(proc, heap, p + 8 * k) << (3 * k);
	return code;
}

uint32_t hs_pattern_code(struct hs_process *proc, const struct hs_heap *heap,
			 const uint8_t *p, size_t nwords)
{
	return pattern_code(proc, heap, p, nwords);
}

const char *hs_pattern_format(uint32_t code, char *buf, size_t len)
{
	size_t nwords = code >> 24, n = 0;
	if (!len)
		return buf;
	buf[0] = 0;
	if (nwords > HS_PATTERN_MAX_WORDS)
		nwords = HS_PATTERN_MAX_WORDS;
	if (!nwords) {
		snprintf(buf, len, "-");
		return buf;
	}
	for (size_t k = 0; k < nwords && n + 2 < len; k++) {
		unsigned s = (code >> (3 * k)) & 7;
		if (k)
			buf[n++] = ' ';
		buf[n++] = s < sizeof(hs_shape_letters) - 1 ? hs_shape_letters[s] : '?';
	}
	buf[n] = 0;
	return buf;
}

/*
 * Words in a chunk's signature: the bytes the application surely owns. For
 * glibc the last 8 usable bytes are the next chunk's prev_size field, stale
 * unless the request used them, so they are left out.
 */
static size_t hs_signature_words(const struct hs_classes *c, const struct hs_chunk *ch,
				 size_t avail)
{
	uint64_t own = hs_sizing_usable(c->sizing, ch);
	if (c->sizing->family == HS_ALLOC_GLIBC && own >= 8)
		own -= 8;
	if (own > avail)
		own = avail;
	own /= 8;
	return own > HS_PATTERN_MAX_WORDS ? HS_PATTERN_MAX_WORDS : (size_t)own;
}

bool hs_pattern_detect(struct hs_classes *c, const struct hs_cchunk *k,
		       struct hs_detect *ret, char *why, size_t whylen)
{
	const struct hs_chunk *ch = &k->c;
	size_t nwords = k->p ? hs_signature_words(c, ch, k->avail) : 0;
	uint32_t code = pattern_code(c->proc, c->heap, k->p, nwords);
	uint64_t size = hs_chunk_size(ch);
	uint64_t key = size << 28 | code;
	uint32_t id;
	if (!(size >> 36) && key == c->last_pattern_key) {
		id = c->last_pattern_id;
	} else if (size >> 36 || !hs_u64map_get(&c->by_pattern, key, &id)) {
		char sig[2 * HS_PATTERN_MAX_WORDS + 1], name[96];
		hs_pattern_format(code, sig, sizeof(sig));
		snprintf(name, sizeof(name), "pattern %llu [%s]", (unsigned long long)size, sig);
		id = hs_classes_type(c, name, HS_KIND_PATTERN, -1);
		if (id == HS_TYPE_NONE)
			return false;
		c->types[id].size = size;
		c->types[id].signature = code;
		if (!(size >> 36) && !hs_u64map_put(&c->by_pattern, key, id))
			return false;
	}
	if (!(size >> 36)) {
		c->last_pattern_key = key;
		c->last_pattern_id = id;
	}
	ret->type = id;
	ret->strong = true;
	if (why) {
		char sig[2 * HS_PATTERN_MAX_WORDS + 1];
		snprintf(why, whylen,
			 "no known structure; clustered by size %llu and the shape of its first "
			 "words [%s] (0 zero, H heap pointer, M module pointer, i small integer, "
			 "t text, ? other)",
			 (unsigned long long)size, hs_pattern_format(code, sig, sizeof(sig)));
	}
	return true;
}

/* ------------------------------------------------------------------ hexdump */

static size_t hs_hexdump_line(char *out, size_t off, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	o += sprintf(o, "%08zx ", off);
	for (size_t k = 0; k < 16; k++) {
		if (k == 8)
			*o++ = ' ';
		if (k < n) {
			*o++ = ' ';
			*o++ = hex[p[k] >> 4];
			*o++ = hex[p[k] & 15];
		} else {
			*o++ = ' ';
			*o++ = ' ';
			*o++ = ' ';
		}
	}
	*o++ = ' ';
	*o++ = ' ';
	*o++ = '|';
	for (size_t k = 0; k < n; k++)
		*o++ = p[k] >= 0x20 && p[k] < 0x7f ? (char)p[k] : '.';
	*o++ = '|';
	*o++ = '\n';
	*o = 0;
	return (size_t)(o - out);
}

char *hs_hexdump(const uint8_t *p, size_t n)
{
	/* 79 bytes per full line, plus "*\n" lines and the closing offset. */
	size_t lines = n / 16 + 2;
	if (lines > SIZE_MAX / 80)
		return NULL;
	char *out = malloc(lines * 80 + 16);
	if (!out)
		return NULL;
	size_t len = 0;
	bool starred = false;
	for (size_t off = 0; off < n; off += 16) {
		size_t m = n - off < 16 ? n - off : 16;
		/* hexdump -C: a full line equal to the previous one is a "*". */
		if (off && m == 16 && memcmp(p + off, p + off - 16, 16) == 0) {
			if (!starred) {
				memcpy(out + len, "*\n", 3);
				len += 2;
				starred = true;
			}
			continue;
		}
		starred = false;
		len += hs_hexdump_line(out + len, off, p + off, m);
	}
	len += (size_t)sprintf(out + len, "%08zx\n", n);
	return out;
}
