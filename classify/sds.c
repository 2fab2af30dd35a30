/* sds.c: Redis sds strings (all five header types) and robj objects, recognised in heap chunks. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "sds.h"
#include "strings.h"

/*
 * Facts (Redis src/sds.h, sds.c; src/server.h; 3.2 to 7.x):
 *  - sdshdr5 is one flags byte, type in the low 3 bits (0) and the length in
 *    the high 5; sdshdr8/16/32/64 are packed {len, alloc, flags} with 1, 2,
 *    4, 8-byte len and alloc and flags == type (1..4, upper bits unused).
 *    The sds value (a char *) points at buf, right after the header, and
 *    buf[len] is always NUL.
 *  - malloc is asked for hdrlen + alloc + 1 bytes (sdsnewlen, sdsMakeRoomFor).
 *    Redis 3.x stores alloc == len on creation; Redis >= 6.2 stores
 *    alloc = usable - hdrlen - 1 (zmalloc_usable), capped at the type's
 *    maximum. Both satisfy: the request hdrlen + alloc + 1 is in the chunk's
 *    size class.
 *  - robj (server.h, 16 bytes): unsigned type:4, encoding:4, lru:24 in the
 *    first 32-bit word (type in the low nibble on x86_64), int refcount at
 *    +4, void *ptr at +8. EMBSTR objects are one allocation of 16 + 3 +
 *    len + 1 bytes: ptr == robj + 19, an sdshdr8 at +16 with len == alloc.
 */
static const unsigned hs_sds_hdrlen[5] = {1, 3, 5, 9, 17};
static const char *const hs_sds_names[5] = {"sdshdr5", "sdshdr8", "sdshdr16",
					    "sdshdr32", "sdshdr64"};

bool hs_sds_parse(const uint8_t *p, size_t avail, unsigned type, struct hs_sds *ret)
{
	if (type > 4)
		return false;
	unsigned hdr = hs_sds_hdrlen[type];
	if (avail < hdr + 1)
		return false;
	uint8_t flags = p[hdr - 1];
	uint64_t len, alloc;
	switch (type) {
	case 0:
		if ((flags & 7) != 0)
			return false;
		len = alloc = flags >> 3;
		break;
	case 1:
		len = p[0];
		alloc = p[1];
		break;
	case 2:
		len = (uint64_t)p[0] | (uint64_t)p[1] << 8;
		alloc = (uint64_t)p[2] | (uint64_t)p[3] << 8;
		break;
	case 3:
		len = hs_le32(p);
		alloc = hs_le32(p + 4);
		break;
	default:
		len = hs_le64(p);
		alloc = hs_le64(p + 8);
		break;
	}
	if (type && flags != type)
		return false;
	if (len > alloc || len >= avail - hdr || p[hdr + len] != 0)
		return false;
	ret->type = type;
	ret->hdrlen = hdr;
	ret->len = len;
	ret->alloc = alloc;
	return true;
}

/*
 * Whether the sds parsed at chunk i is one Redis made: the allocation request
 * fits the chunk's size class. Types 8+ also must have needed their width
 * (sdsReqType picks the smallest type that holds the length; a string only
 * moves to a wider type when it grows), so a short string in a wide header is
 * suspicious only when alloc is also small: Redis keeps the type on shrink.
 */
static bool hs_sds_fits(const struct hs_classes *c, const struct hs_cchunk *k,
			const struct hs_sds *s)
{
	return hs_sizing_fits(c->sizing, s->hdrlen + s->alloc + 1, &k->c);
}

int hs_sds_unique_type(const struct hs_classes *c, const struct hs_cchunk *k)
{
	int found = -1;
	for (unsigned t = 0; k->p && t < 5; t++) {
		struct hs_sds s;
		if (hs_sds_parse(k->p, k->avail, t, &s) && hs_sds_fits(c, k, &s)) {
			if (found >= 0)
				return -1;
			found = (int)t;
		}
	}
	return found;
}

bool hs_sds_detect(struct hs_classes *c, const struct hs_cchunk *k, bool refd,
		   struct hs_detect *ret, char *why, size_t whylen)
{
	const uint8_t *p = k->p;
	size_t avail = k->avail;
	/* Referenced: the scan took the pointer as evidence only where exactly
	 * one header type parses, so that type it is. */
	int only = refd ? hs_sds_unique_type(c, k) : -1;
	if (refd && only < 0)
		return false;
	{
		for (int t = 4; t >= 0; t--) {
			if (refd && t != only)
				continue;
			/* The flags byte first: it says its type or it is no sds. */
			unsigned hdr = hs_sds_hdrlen[t];
			if (avail <= hdr || (t ? p[hdr - 1] != t : (p[0] & 7) != 0))
				continue;
			struct hs_sds s;
			if (!hs_sds_parse(p, avail, (unsigned)t, &s) || !hs_sds_fits(c, k, &s))
				continue;
			const uint8_t *buf = p + s.hdrlen;
			bool text = s.len > 0 && hs_text_ok(buf, s.len);
			if (!refd) {
				/* Weak: structure alone. Demand text, and for the
				 * one-byte sdshdr5 at least 4 characters. */
				if (!text || (t == 0 && s.len < 4))
					continue;
			}
			uint32_t id = c->sds_types[t];
			if (id == HS_TYPE_NONE) {
				id = hs_classes_type(c, hs_sds_names[t], HS_KIND_SDS, 0.95);
				if (id == HS_TYPE_NONE)
					return false;
				c->types[id].weak_confidence = 0.7;
				c->sds_types[t] = id;
			}
			ret->type = id;
			ret->strong = refd;
			if (why)
				snprintf(why, whylen,
					 "%s header {len=%llu alloc=%llu flags=%u}, NUL at buf[len], "
					 "request %llu fits the chunk; %s%s",
					 hs_sds_names[t], (unsigned long long)s.len,
					 (unsigned long long)s.alloc, p[s.hdrlen - 1],
					 (unsigned long long)(s.hdrlen + s.alloc + 1),
					 refd ? "a pointer to buf (chunk + " : "not referenced (structure only",
					 refd ? (t == 0 ? "1)" : t == 1 ? "3)" : t == 2 ? "5)"
						 : t == 3 ? "9)" : "17)")
					      : ", accepted because the process shows other Redis objects)");
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------ robj */

enum {
	OBJ_STRING, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_MODULE, OBJ_STREAM,
};
enum {
	ENC_RAW = 0, ENC_INT = 1, ENC_HT = 2, ENC_ZIPMAP = 3, ENC_LINKEDLIST = 4,
	ENC_ZIPLIST = 5, ENC_INTSET = 6, ENC_SKIPLIST = 7, ENC_EMBSTR = 8,
	ENC_QUICKLIST = 9, ENC_STREAM = 10, ENC_LISTPACK = 11,
};

static const char *const hs_robj_type_names[7] = {
	"string", "list", "set", "zset", "hash", "module", "stream",
};
/* OBJECT ENCODING's names (object.c strEncoding). */
static const char *const hs_robj_enc_names[12] = {
	"raw", "int", "hashtable", "zipmap", "linkedlist", "ziplist",
	"intset", "skiplist", "embstr", "quicklist", "stream", "listpack",
};
/* Which encodings each type uses, as a bit mask over encodings. */
static const uint16_t hs_robj_valid[7] = {
	[OBJ_STRING] = 1u << ENC_RAW | 1u << ENC_INT | 1u << ENC_EMBSTR,
	[OBJ_LIST] = 1u << ENC_LINKEDLIST | 1u << ENC_ZIPLIST | 1u << ENC_QUICKLIST |
		     1u << ENC_LISTPACK,
	[OBJ_SET] = 1u << ENC_HT | 1u << ENC_INTSET | 1u << ENC_LISTPACK,
	[OBJ_ZSET] = 1u << ENC_ZIPLIST | 1u << ENC_SKIPLIST | 1u << ENC_LISTPACK,
	[OBJ_HASH] = 1u << ENC_ZIPMAP | 1u << ENC_HT | 1u << ENC_ZIPLIST |
		     1u << ENC_LISTPACK,
	[OBJ_MODULE] = 1u << ENC_RAW,
	[OBJ_STREAM] = 1u << ENC_STREAM,
};

static bool hs_refcount_ok(int32_t rc)
{
	/* OBJ_SHARED_REFCOUNT is INT_MAX, OBJ_STATIC_REFCOUNT INT_MAX - 1. */
	return (rc >= 1 && rc <= (1 << 24)) || rc == INT_MAX || rc == INT_MAX - 1;
}

bool hs_robj_shaped(const struct hs_cchunk *k)
{
	if (!k->p || k->avail < 16)
		return false;
	uint32_t w0 = hs_le32(k->p);
	unsigned type = w0 & 15, enc = (w0 >> 4) & 15;
	return type <= OBJ_STREAM && enc <= ENC_LISTPACK && (hs_robj_valid[type] >> enc & 1) &&
	       hs_refcount_ok((int32_t)hs_le32(k->p + 4));
}


bool hs_robj_embstr(const struct hs_classes *c, const struct hs_cchunk *k)
{
	struct hs_sds s;
	if (!hs_robj_shaped(k))
		return false;
	uint32_t w0 = hs_le32(k->p);
	return (w0 & 15) == OBJ_STRING && ((w0 >> 4) & 15) == ENC_EMBSTR &&
	       hs_le64(k->p + 8) == k->c.addr + 19 && hs_sds_parse(k->p + 16, k->avail - 16, 1, &s) &&
	       hs_sizing_fits(c->sizing, 16 + 3 + s.len + 1, &k->c);
}

bool hs_robj_detect(struct hs_classes *c, const struct hs_cchunk *k,
		    struct hs_detect *ret, char *why, size_t whylen)
{
	const uint8_t *p = k->p;
	size_t avail = k->avail;
	if (avail < 16)
		return false;
	const struct hs_chunk *ch = &k->c;
	uint32_t w0 = hs_le32(p);
	unsigned type = w0 & 15, enc = (w0 >> 4) & 15;
	int32_t rc = (int32_t)hs_le32(p + 4);
	uint64_t ptr = hs_le64(p + 8);
	if (type > OBJ_STREAM || enc > ENC_LISTPACK || !(hs_robj_valid[type] >> enc & 1) ||
	    !hs_refcount_ok(rc))
		return false;
	/*
	 * A dict entry {key, val, next} (24 bytes: the same glibc chunk as a
	 * 16-byte robj) starts with the key's sds pointer, whose low byte can
	 * read as a valid type and encoding and whose upper half (0x55.., 0x7f..)
	 * as a refcount; its val then points at a real robj. An robj's first
	 * eight bytes {type|encoding|lru, refcount} are never an address inside
	 * the heap's chunks.
	 */
	if (hs_heap_contains(c->heap, hs_le64(p)))
		return false;

	bool strong = false;
	char detail[160] = "";
	if (enc == ENC_EMBSTR) {
		struct hs_sds s;
		if (ptr != ch->addr + 19 || !hs_sds_parse(p + 16, avail - 16, 1, &s) ||
		    !hs_sizing_fits(c->sizing, 16 + 3 + s.len + 1, ch))
			return false;
		strong = true;
		if (why)
			snprintf(detail, sizeof(detail),
				 "ptr is robj + 19 with an inline sdshdr8 {len=%llu alloc=%llu}",
				 (unsigned long long)s.len, (unsigned long long)s.alloc);
	} else {
		if (!hs_sizing_fits(c->sizing, 16, ch))
			return false;
		if (enc == ENC_INT) {
			if (why)
				snprintf(detail, sizeof(detail), "an integer value in ptr");
		} else {
			struct hs_chunk tc;
			hs_chunk_id tid = hs_heap_find_in_use_near(c->heap, ptr, &tc, &c->find_hint);
			if (tid == HS_CHUNK_ID_NONE)
				return false;
			uint64_t off = ptr - tc.addr;
			if (type == OBJ_STRING || type == OBJ_MODULE) {
				/* RAW: ptr is an sds in its own chunk. */
				if (type == OBJ_MODULE) {
					if (off != 0)
						return false;
				} else {
					struct hs_cchunk tk;
					hs_classes_load(c, &tc, tid, &tk);
					unsigned t;
					for (t = 0; t < 5; t++)
						if (off == hs_sds_hdrlen[t])
							break;
					struct hs_sds s;
					if (t == 5 || !tk.p || !hs_sds_parse(tk.p, tk.avail, t, &s) ||
					    !hs_sizing_fits(c->sizing, s.hdrlen + s.alloc + 1, &tc))
						return false;
					strong = true;
				}
			} else if (off != 0) {
				return false;
			}
			if (why)
				snprintf(detail, sizeof(detail), "ptr 0x%llx is %s chunk 0x%llx%s",
					 (unsigned long long)ptr, off ? "inside" : "the in-use",
					 (unsigned long long)tc.addr,
					 off ? " at an sds offset, with a valid sds header" : "");
		}
	}
	uint32_t id = c->robj_types[type][enc];
	if (id == HS_TYPE_NONE) {
		char name[48];
		snprintf(name, sizeof(name), "robj %s/%s", hs_robj_type_names[type],
			 hs_robj_enc_names[enc]);
		id = hs_classes_type(c, name, HS_KIND_ROBJ, 0.95);
		if (id == HS_TYPE_NONE)
			return false;
		c->types[id].weak_confidence = 0.75;
		c->robj_types[type][enc] = id;
	}
	ret->type = id;
	ret->strong = strong;
	if (why)
		snprintf(why, whylen, "Redis robj {type=%s encoding=%s lru=%u refcount=%d}: %s%s",
			 hs_robj_type_names[type], hs_robj_enc_names[enc], w0 >> 8, rc, detail,
			 strong ? "" : " (structure only, accepted because the process shows "
				       "other Redis objects)");
	return true;
}
