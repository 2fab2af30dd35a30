/* classes.h: private to classify/: the classifier and the per-thread state the type detectors share. */
#ifndef HS_CLASSES_H
#define HS_CLASSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "classify.h"
#include "u64map.h"

struct hs_vtables; /* vtables.h */

enum hs_kind {
	HS_KIND_VTABLE,
	HS_KIND_SDS,
	HS_KIND_ROBJ,
	HS_KIND_STRING,
	HS_KIND_CSTRING,
	HS_KIND_CONTAINER,
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
/* Bytes the application may use from the chunk's address on (inline: asked
 * for every chunk several times). */
static inline uint64_t hs_sizing_usable(const struct hs_sizing *s, const struct hs_chunk *c)
{
	uint64_t size = hs_chunk_size(c);
	if (s->family != HS_ALLOC_GLIBC)
		return size;
	/* glibc accounts the header: an in-use chunk gives size - 8 bytes (it
	 * may use the next chunk's prev_size), a mmapped one size - 16. */
	uint64_t hdr = (hs_chunk_flags(c) & HS_CHUNK_F_MMAPPED) ? 16 : 8;
	return size > hdr ? size - hdr : 0;
}
/* Whether malloc(request) plausibly returned this chunk. */
bool hs_sizing_fits(const struct hs_sizing *s, uint64_t request,
		    const struct hs_chunk *c);

/* The shared part: read-only once hs_classifier_create() returns. */
struct hs_classifier {
	struct hs_process *proc;
	struct hs_heap *heap;
	struct hs_sizing sizing;
	bool redact;
	unsigned threads;
	struct hs_progress *progress;
	struct hs_vtables *vtables;
	/* Redis evidence was strong enough to accept structure-only sds and
	 * robj (classify.c, HS_REDIS_GATE): pointers to sds buffers and EMBSTR
	 * robjs the evidence scan saw (atomic while it runs). */
	uint64_t redis_evidence;
	bool accept_weak;
	/* The process is C++ (it maps libstdc++, or links it in): list and map
	 * nodes are named as libstdc++'s. */
	bool cxx;
	/* The span of all modules: a value outside it is in none (cheaper
	 * than the search hs_process_module_at does). */
	uint64_t mod_lo, mod_hi;
	/* Container internals the memory scan found by their owner: chunk id
	 * -> enum hs_container_kind (containers.h). */
	struct hs_u64map containers;
};

/* One chunk under classification: the chunk, its id, and its bytes in the
 * core from its address on (at most the usable size; p NULL and avail 0 when
 * the core does not hold them). */
struct hs_cchunk {
	struct hs_chunk c;
	hs_chunk_id id;
	const uint8_t *p;
	size_t avail;
	int ref; /* the chunk's REF bit, if the caller read it already; else -1 */
};

#define HS_TYPE_NONE UINT32_MAX

/* One type a thread has seen. */
struct hs_ctype {
	char *name;
	enum hs_kind kind;
	double confidence;      /* per chunk on strong evidence; < 0: none reported */
	double weak_confidence; /* per chunk accepted on weak evidence */
	/* Pattern clusters only: */
	uint64_t size;      /* accounted chunk size */
	uint32_t signature; /* hs_pattern_code() */
};

/* A thread's classification state: its own table of types and caches. */
struct hs_classes {
	const struct hs_classifier *cl;
	struct hs_process *proc;    /* = cl->proc */
	const struct hs_heap *heap; /* = cl->heap */
	const struct hs_sizing *sizing;
	struct hs_ctype *types;
	size_t ntypes, types_cap;
	struct hs_u64map by_name;    /* hash of name -> candidate type id */
	struct hs_u64map by_pattern; /* (size, signature) -> type id */
	/* by_pattern's last answer: runs of one cluster skip the hash. */
	uint64_t last_pattern_key;
	uint32_t last_pattern_id;
	struct hs_u64map by_vptr;    /* vptr -> type id or HS_TYPE_NONE */
	/* Type ids of fixed names, cached (NONE until first seen): the name
	 * hash is not paid per chunk. */
	uint32_t sds_types[5];      /* per sds header type */
	uint32_t robj_types[7][12]; /* per robj type and encoding */
	uint32_t string_type, cow_type, cstring_type;
	/* Strong Redis hits so far (for the gate). */
	uint64_t redis_strong;
	/* The core range the last chunk's bytes were in: chunks come in
	 * address order, mostly from one range. */
	const struct hs_memory_range *last_range;
	/* The chunk store's run of the last lookup (hs_heap_find_in_use_near). */
	size_t find_hint;
};

struct hs_error *hs_classes_create(const struct hs_classifier *cl, struct hs_classes **ret);
void hs_classes_destroy(struct hs_classes *c);
/* The id of the type named `name` of `kind`, created on first use. NONE only
 * when out of memory. */
uint32_t hs_classes_type(struct hs_classes *c, const char *name, enum hs_kind kind,
			 double confidence);
/* Fill k from a chunk and its id: its readable bytes. */
/* The core range holding addr (NULL if none): the last one found first,
 * since chunks come in address order. */
static inline const struct hs_memory_range *hs_classes_range(struct hs_classes *c, uint64_t addr)
{
	const struct hs_memory_range *r = c->last_range;
	if (!r || addr < r->start || addr - r->start >= r->memsz)
		r = c->last_range = hs_memory_find(&c->proc->mem, addr);
	return r;
}

static inline void hs_classes_load(struct hs_classes *c, const struct hs_chunk *ch,
				   hs_chunk_id id, struct hs_cchunk *k)
{
	/* Field by field: the chunk was just written 8 bytes at a time, and a
	 * 16-byte copy of it waited for the stores to retire (store
	 * forwarding), a few per cent of the census. */
	k->c.addr = ch->addr;
	k->c.info = ch->info;
	k->id = id;
	k->p = NULL;
	k->avail = 0;
	k->ref = -1;
	const struct hs_memory_range *r = hs_classes_range(c, ch->addr);
	if (!r || ch->addr - r->start >= r->filesz)
		return;
	uint64_t n = r->filesz - (ch->addr - r->start);
	uint64_t usable = hs_sizing_usable(c->sizing, ch);
	k->avail = (size_t)(n < usable ? n : usable);
	k->p = r->data + (ch->addr - r->start);
}

/*
 * The type of in-use chunk k. Detectors run from the most certain to the
 * least: a vptr, the evidence bit (COW, sds, std::string), Redis objects,
 * C strings, containers, and finally a pattern cluster, which always
 * matches. A Redis match on structure alone counts only when accept_weak
 * (*weak then says so). Returns HS_TYPE_NONE only when out of memory.
 */
uint32_t hs_classes_detect(struct hs_classes *c, const struct hs_cchunk *k, bool accept_weak,
			   bool *weak, char *why, size_t whylen);
/* Whether v points into a module. */
static inline bool hs_classes_in_module(const struct hs_classes *c, uint64_t v)
{
	return v >= c->cl->mod_lo && v < c->cl->mod_hi && hs_process_module_at(c->proc, v);
}

/* Whether the chunk is classified at all: in use, not allocator metadata. */
static inline bool hs_classes_wanted(const struct hs_chunk *ch)
{
	return hs_chunk_state(ch) == HS_CHUNK_IN_USE &&
	       !(hs_chunk_flags(ch) & HS_CHUNK_F_METADATA);
}

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
