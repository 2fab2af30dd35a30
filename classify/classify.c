/* classify.c: the classifier: per-thread type tables, the chain of detectors, and the Redis gate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/parallel.h"
#include "../common/progress.h"
#include "classes.h"
#include "containers.h"
#include "patterns.h"
#include "sds.h"
#include "strings.h"
#include "vtables.h"

/*
 * Weak Redis evidence (an sds header that nothing points to, a robj whose
 * fields merely look right) is accepted only in a process with this many
 * strong hits, counted by the evidence scan: a pointer to an sds buffer
 * (which is also how a RAW robj holds its sds) or an EMBSTR robj's pointer
 * to itself. Leaked sds (seeds/001) have no referrer, but a C or C++
 * program without Redis must not grow sds out of short strings.
 */
#define HS_REDIS_GATE 32

const char *hs_kind_name(enum hs_kind k)
{
	static const char *const names[] = {"vtable",  "sds",       "robj",   "string",
					    "cstring", "container", "pattern"};
	return k < HS_ARRAY_SIZE(names) ? names[k] : "pattern";
}

/* ------------------------------------------------------------------ sizing */

void hs_sizing_init(struct hs_sizing *s, const char *allocator)
{
	if (!strcmp(allocator, "glibc"))
		s->family = HS_ALLOC_GLIBC;
	else if (!strcmp(allocator, "jemalloc"))
		s->family = HS_ALLOC_JEMALLOC;
	else if (!strcmp(allocator, "tcmalloc"))
		s->family = HS_ALLOC_TCMALLOC;
	else
		s->family = HS_ALLOC_OTHER;
}


/* jemalloc's size class for a request (sz_s2u), for a quantum of
 * 2^lg_q: 8, then multiples of the quantum up to 4 quanta, then four classes
 * per doubling (jemalloc/internal/sc.h). */
static uint64_t hs_je_s2u(uint64_t req, unsigned lg_q)
{
	uint64_t q = 1ull << lg_q;
	if (req <= 8)
		return 8;
	if (req <= 4 * q)
		return (req + q - 1) & ~(q - 1);
	unsigned k = 63 - (unsigned)__builtin_clzll(req - 1);
	uint64_t delta = 1ull << (k - 2);
	return (req + delta - 1) & ~(delta - 1);
}

bool hs_sizing_fits(const struct hs_sizing *s, uint64_t request, const struct hs_chunk *c)
{
	uint64_t size = hs_chunk_size(c);
	if (request > (1ull << 48))
		return false;
	switch (s->family) {
	case HS_ALLOC_GLIBC:
		if (hs_chunk_flags(c) & HS_CHUNK_F_MMAPPED)
			return request + 16 <= size && request + 16 + 4096 > size;
		else {
			/* request2size: header included, 16-aligned, at least 32;
			 * a chunk taken from a bin whose remainder would be under
			 * MINSIZE is handed out whole, 16 bytes more (malloc.c
			 * _int_malloc, "Exhaust"). */
			uint64_t want = (request + 8 + 15) & ~15ull;
			if (want < 32)
				want = 32;
			return size == want || size == want + 16;
		}
	case HS_ALLOC_JEMALLOC:
		/* Debian's jemalloc has a 16-byte quantum; Redis's bundled one 8. */
		return hs_je_s2u(request, 4) == size || hs_je_s2u(request, 3) == size;
	case HS_ALLOC_TCMALLOC: {
		/* gperftools computes its classes at start-up; they are spaced by
		 * at most about an eighth, large spans by pages. */
		uint64_t slack = size / 4 > 16 ? size / 4 : 16;
		if (size > 262144)
			slack = 8192;
		return request <= size && size - request < slack;
	}
	default:
		return request <= size;
	}
}

uint64_t hs_classify_usable(const struct hs_classifier *cl, const struct hs_chunk *c)
{
	return hs_sizing_usable(&cl->sizing, c);
}

/* ------------------------------------------------------------------ types */

static uint64_t hs_name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static uint32_t hs_classes_find(const struct hs_classes *c, const char *name)
{
	uint32_t id;
	if (hs_u64map_get(&c->by_name, hs_name_hash(name), &id) &&
	    !strcmp(c->types[id].name, name))
		return id;
	/* A hash collision (or absent): the slow, exact way. */
	for (size_t k = 0; k < c->ntypes; k++)
		if (!strcmp(c->types[k].name, name))
			return (uint32_t)k;
	return HS_TYPE_NONE;
}

uint32_t hs_classes_type(struct hs_classes *c, const char *name, enum hs_kind kind,
			 double confidence)
{
	uint64_t h = hs_name_hash(name);
	uint32_t id;
	if (hs_u64map_get(&c->by_name, h, &id) && !strcmp(c->types[id].name, name))
		return id;
	id = hs_classes_find(c, name);
	if (id != HS_TYPE_NONE)
		return id;
	if (c->ntypes >= UINT32_MAX - 1 ||
	    !hs_grow((void **)&c->types, &c->types_cap, c->ntypes + 1, sizeof(*c->types)))
		return HS_TYPE_NONE;
	struct hs_ctype *t = &c->types[c->ntypes];
	memset(t, 0, sizeof(*t));
	t->name = hs_strdup(name);
	if (!t->name)
		return HS_TYPE_NONE;
	t->kind = kind;
	t->confidence = t->weak_confidence = confidence;
	id = (uint32_t)c->ntypes++;
	/* The first name with a hash keeps the slot; others use the slow path. */
	uint32_t old;
	if (!hs_u64map_get(&c->by_name, h, &old) && !hs_u64map_put(&c->by_name, h, id)) {
		c->ntypes--;
		free(t->name);
		return HS_TYPE_NONE;
	}
	return id;
}

struct hs_error *hs_classes_create(const struct hs_classifier *cl, struct hs_classes **ret)
{
	struct hs_classes *c = calloc(1, sizeof(*c));
	if (!c)
		return HS_ENOMEM;
	c->cl = cl;
	c->proc = cl->proc;
	c->heap = cl->heap;
	c->sizing = &cl->sizing;
	hs_u64map_init(&c->by_name);
	hs_u64map_init(&c->by_pattern);
	c->last_pattern_key = UINT64_MAX; /* no key: sizes are even */
	hs_u64map_init(&c->by_vptr);
	memset(c->sds_types, 0xff, sizeof(c->sds_types));
	memset(c->robj_types, 0xff, sizeof(c->robj_types));
	c->string_type = c->cow_type = c->cstring_type = HS_TYPE_NONE;
	*ret = c;
	return NULL;
}

void hs_classes_destroy(struct hs_classes *c)
{
	if (!c)
		return;
	for (size_t k = 0; k < c->ntypes; k++)
		free(c->types[k].name);
	free(c->types);
	hs_u64map_deinit(&c->by_name);
	hs_u64map_deinit(&c->by_pattern);
	hs_u64map_deinit(&c->by_vptr);
	free(c);
}


/* ------------------------------------------------------------------ detection */

/* The evidence bit's verdict: a COW string, an sds (strong), or the C++11
 * std::string whose triple the scan checked. */
static uint32_t hs_detect_refd(struct hs_classes *c, const struct hs_cchunk *k, char *why,
			       size_t whylen)
{
	struct hs_detect d;
	if (hs_cow_detect(c, k, &d, why, whylen))
		return d.type;
	if (hs_sds_detect(c, k, true, &d, why, whylen)) {
		c->redis_strong++;
		return d.type;
	}
	if (c->string_type == HS_TYPE_NONE)
		c->string_type = hs_classes_type(c, "std::string", HS_KIND_STRING, 0.95);
	if (why)
		snprintf(why, whylen,
			 "the buffer of a C++11 std::string: a (pointer, length, capacity) "
			 "triple points at the chunk start, length <= capacity, capacity + 1 "
			 "fits the chunk, NUL at [length]");
	return c->string_type;
}

uint32_t hs_classes_detect(struct hs_classes *c, const struct hs_cchunk *k, bool accept_weak,
			   bool *weak, char *why, size_t whylen)
{
	struct hs_detect d;
	*weak = false;
	/* Container storage its owner vouches for (a vector of objects starts
	 * with a vptr too). */
	if (c->cl->containers.count && hs_u64map_get(&c->cl->containers, k->id, &(uint32_t){0}) &&
	    hs_container_detect(c, k, &d, why, whylen))
		return d.type;
	/* Each detector's cheapest test first, here, before its call: most
	 * chunks of a big heap fail them all and end as a pattern. */
	if (k->p && k->avail >= 8 && hs_le64(k->p) - c->cl->mod_lo < c->cl->mod_hi - c->cl->mod_lo) {
		uint64_t v = hs_le64(k->p);
		uint32_t id = hs_vtables_classify(c->cl->vtables, c, v);
		if (id != HS_TYPE_NONE) {
			if (why && !hs_vtables_explain(c->cl->vtables, v, why, whylen))
				snprintf(why, whylen, "first word is a vptr");
			return id;
		}
	}
	if (k->p && (k->ref >= 0 ? k->ref : hs_heap_chunk_bit(c->heap, k->id, HS_CHUNK_BIT_REF)))
		return hs_detect_refd(c, k, why, whylen);
	if (k->p) {
		/* Without accept_weak a structure-only match is dropped below, and
		 * an unreferenced sds is never more: skip what cannot count. */
		if (((accept_weak || hs_robj_may_be_strong(k)) &&
		     hs_robj_detect(c, k, &d, why, whylen)) ||
		    (accept_weak && hs_sds_detect(c, k, false, &d, why, whylen))) {
			if (d.strong) {
				c->redis_strong++;
				return d.type;
			}
			if (accept_weak) {
				*weak = true;
				return d.type;
			}
		}
		if (hs_cstring_maybe(k) && hs_cstring_detect(c, k, &d, why, whylen))
			return d.type;
		if ((c->cl->cxx || c->cl->containers.count) &&
		    hs_container_detect(c, k, &d, why, whylen))
			return d.type;
	}
	if (!hs_pattern_detect(c, k, &d, why, whylen))
		return HS_TYPE_NONE;
	if (why && !k->p)
		snprintf(why, whylen, "the chunk's bytes are not in the core");
	return d.type;
}

/* ------------------------------------------------------------------ classifier */

/* libstdc++ mapped, or linked into the executable (its symbols there). */
static bool hs_classify_is_cxx(struct hs_process *proc)
{
	if (!proc)
		return false;
	for (size_t i = 0; i < proc->nmodules; i++) {
		struct hs_module *m = &proc->modules[i];
		struct hs_symbol sym;
		if (strstr(m->name, "libstdc++") ||
		    (m->is_main && hs_module_symbol(m, "_ZSt9terminatev", &sym)))
			return true;
	}
	return false;
}


struct hs_error *hs_classifier_create(struct hs_process *proc, struct hs_heap *heap,
				      const struct hs_classify_options *opts,
				      struct hs_classifier **ret)
{
	struct hs_classifier *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return HS_ENOMEM;
	cl->proc = proc;
	cl->heap = heap;
	cl->redact = opts && opts->redact;
	cl->threads = hs_parallel_threads(opts ? opts->threads : 0);
	cl->progress = opts ? opts->progress : NULL;
	hs_u64map_init(&cl->containers);
	cl->cxx = hs_classify_is_cxx(proc);
	cl->mod_lo = UINT64_MAX;
	for (size_t i = 0; proc && i < proc->nmodules; i++) {
		if (proc->modules[i].start < cl->mod_lo)
			cl->mod_lo = proc->modules[i].start;
		if (proc->modules[i].end > cl->mod_hi)
			cl->mod_hi = proc->modules[i].end;
	}
	hs_sizing_init(&cl->sizing, heap->allocator);
	struct hs_error *err = hs_vtables_create(proc, &cl->vtables);
	if (!err)
		err = hs_strings_scan(cl);
	cl->accept_weak = cl->redis_evidence >= HS_REDIS_GATE;
	if (err) {
		hs_classifier_destroy(cl);
		return err;
	}
	*ret = cl;
	return NULL;
}

void hs_classifier_destroy(struct hs_classifier *cl)
{
	if (!cl)
		return;
	hs_vtables_destroy(cl->vtables);
	hs_u64map_deinit(&cl->containers);
	free(cl);
}

bool hs_classify_chunk(struct hs_classifier *cl, hs_chunk_id id, char *name, size_t namelen,
		       const char **kind, char *why, size_t whylen)
{
	struct hs_chunk ch;
	struct hs_classes *c;
	if (why && whylen)
		why[0] = 0;
	if (!hs_heap_chunk(cl->heap, id, &ch) || !hs_classes_wanted(&ch)) {
		if (why)
			snprintf(why, whylen, "not classified: only in-use, non-metadata chunks are");
		return false;
	}
	if (hs_classes_create(cl, &c))
		return false;
	struct hs_cchunk k;
	bool weak;
	hs_classes_load(c, &ch, id, &k);
	uint32_t t = hs_classes_detect(c, &k, cl->accept_weak, &weak, why, whylen);
	if (t != HS_TYPE_NONE) {
		snprintf(name, namelen, "%s", c->types[t].name);
		*kind = hs_kind_name(c->types[t].kind);
	}
	hs_classes_destroy(c);
	return t != HS_TYPE_NONE;
}

struct hs_error *hs_classify_each_of_type(struct hs_classifier *cl, const char *name,
					  bool only_leaked,
					  void (*fn)(uint64_t addr, void *arg), void *arg,
					  bool *found)
{
	struct hs_classes *c;
	struct hs_error *err = hs_classes_create(cl, &c);
	if (err)
		return err;
	*found = false;
	struct hs_chunk_iter it;
	/* Without a name, every type: only the leak filter applies. */
	struct hs_chunk ch;
	hs_chunk_id id;
	hs_chunk_iter_init(&it, cl->heap, 0, UINT64_MAX);
	while (hs_chunk_iter_next(&it, &ch, &id)) {
		if (!hs_classes_wanted(&ch))
			continue;
		struct hs_cchunk k;
		bool weak;
		hs_classes_load(c, &ch, id, &k);
		uint32_t t = hs_classes_detect(c, &k, cl->accept_weak, &weak, NULL, 0);
		if (t == HS_TYPE_NONE) {
			err = HS_ENOMEM;
			break;
		}
		if (name && strcmp(c->types[t].name, name) != 0)
			continue;
		*found = true;
		if (!only_leaked || !hs_heap_chunk_bit(cl->heap, id, HS_CHUNK_BIT_MARK))
			fn(ch.addr, arg);
	}
	hs_classes_destroy(c);
	return err;
}
