/* classify.h: private to analyzer/: the state that the type detectors share during one classification. */
#ifndef HS_CLASSIFY_H
#define HS_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "analyzer.h"
#include "u64map.h"

struct hs_vtables; /* vtables.h */

enum hs_kind {
	HS_KIND_VTABLE,
	HS_KIND_SDS,
	HS_KIND_ROBJ,
	HS_KIND_STRING,
	HS_KIND_CSTRING,
	HS_KIND_PATTERN,
};
const char *hs_kind_name(enum hs_kind k);

/*
 * How an allocation request becomes a chunk. A detector that has read a
 * length from a candidate header ("this sds asked malloc for hdr+alloc+1
 * bytes") checks that the chunk is the one malloc would have returned for
 * that request: not merely big enough, but in the same size class. This is
 * most of what separates a real header from bytes that happen to parse.
 */
enum hs_alloc_family { HS_ALLOC_GLIBC, HS_ALLOC_JEMALLOC, HS_ALLOC_TCMALLOC, HS_ALLOC_OTHER };

struct hs_sizing {
	enum hs_alloc_family family;
};

void hs_sizing_init(struct hs_sizing *s, const char *allocator);
/* Bytes the application may use from the chunk's address on. */
uint64_t hs_sizing_usable(const struct hs_sizing *s, const struct hs_chunk *c);
/* Whether malloc(request) plausibly returned this chunk. */
bool hs_sizing_fits(const struct hs_sizing *s, uint64_t request,
		    const struct hs_chunk *c);

/*
 * Reference bits per chunk, set by the memory scan (strings.c): some 8-byte
 * aligned word in writable memory points at chunk + offset. Offsets 1/3/5/9/17
 * are where an sds pointer points for each header type, 24 where an old-ABI
 * COW std::string points (past its _Rep). HS_REF_STRING: a verified C++11
 * std::string (pointer, length, capacity) triple points at the chunk start.
 */
#define HS_REF_SDS5 0x01
#define HS_REF_SDS8 0x02
#define HS_REF_SDS16 0x04
#define HS_REF_SDS32 0x08
#define HS_REF_SDS64 0x10
#define HS_REF_COW 0x20
#define HS_REF_STRING 0x40
#define HS_REF_START 0x80

#define HS_TYPE_NONE UINT32_MAX
/* High bit of a chunk's type id: accepted on weak, process-level evidence. */
#define HS_TYPE_WEAK 0x80000000u
#define HS_TYPE_MASK 0x7fffffffu

#define HS_CTYPE_EXAMPLES 3
#define HS_PATTERN_SAMPLES 3

/* One type (or pattern cluster) the classifier has seen. */
struct hs_ctype {
	char *name;
	enum hs_kind kind;
	double confidence;      /* per chunk on strong evidence; < 0: none reported */
	double weak_confidence; /* per chunk accepted on weak evidence */
	/* Filled by the final pass over the per-chunk ids: */
	uint64_t count, bytes, weak;
	uint64_t examples[HS_CTYPE_EXAMPLES];
	unsigned nexamples;
	/* Pattern clusters only: */
	uint64_t size;      /* accounted chunk size */
	uint32_t signature; /* hs_pattern_code() */
	uint64_t runs;
	size_t samples[HS_PATTERN_SAMPLES]; /* chunk indices */
	unsigned nsamples;
};

struct hs_classes {
	struct hs_process *proc;     /* borrowed: must outlive this */
	const struct hs_heap *heap;  /* borrowed: must outlive this */
	struct hs_sizing sizing;
	bool redact;
	uint64_t heap_lo, heap_hi; /* span of all chunks */
	struct hs_chunk_index *chunk_index; /* address -> chunk, for the memory scan */

	uint32_t *chunk_type; /* parallel to heap->chunks: type id | HS_TYPE_WEAK, or NONE */
	uint8_t *chunk_ref;   /* parallel to heap->chunks: HS_REF_* */

	struct hs_ctype *types;
	size_t ntypes, types_cap;
	struct hs_u64map by_name;    /* hash of name -> candidate type id */
	struct hs_u64map by_pattern; /* (size, signature) -> type id */
	/* Type ids of fixed names, cached (NONE until first seen): the name
	 * hash is not paid per chunk. */
	uint32_t sds_types[5];       /* per sds header type */
	uint32_t robj_types[7][12];  /* per robj type and encoding */
	uint32_t string_type, cow_type, cstring_type;

	struct hs_vtables *vtables;
	/* Redis evidence: strong sds/robj hits; gates the weak ones. */
	uint64_t redis_strong;
};

/* The id of the type named `name` of `kind`, created on first use. NONE only
 * when out of memory. */
uint32_t hs_classes_type(struct hs_classes *c, const char *name, enum hs_kind kind,
			 double confidence);
/* The chunk containing addr, as an index into heap->chunks, or SIZE_MAX. */
size_t hs_classes_chunk_index(const struct hs_classes *c, uint64_t addr);

/*
 * The readable bytes of chunk i from its address on, at most the usable
 * size: *avail says how many (0 if the chunk is not in the core at all).
 */
const uint8_t *hs_classes_chunk_bytes(const struct hs_classes *c, size_t i,
				      size_t *avail);

/* Little-endian loads from core bytes (x86_64 only, like the rest). */
static inline uint64_t hs_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t hs_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

#endif
