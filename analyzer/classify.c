/* classify.c: drives the type detectors over every in-use chunk and turns the result into report types and patterns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "patterns.h"
#include "sds.h"
#include "strings.h"
#include "vtables.h"

/*
 * Weak Redis evidence (an sds header that nothing points to, a robj whose
 * fields merely look right) is accepted only in a process with this many
 * strong hits (a pointer to an sds buf, an EMBSTR robj, a RAW robj with its
 * sds): leaked sds (seeds/001) have no referrer, but a C or C++ program
 * without Redis must not grow sds out of short strings.
 */
#define HS_REDIS_GATE 32
/* Pattern clusters reported one by one; the rest are summed in one row. */
#define HS_REPORT_PATTERNS 100

const char *hs_kind_name(enum hs_kind k)
{
	static const char *const names[] = {"vtable", "sds", "robj", "string", "cstring",
					    "pattern"};
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

uint64_t hs_sizing_usable(const struct hs_sizing *s, const struct hs_chunk *c)
{
	uint64_t size = hs_chunk_size(c);
	if (s->family != HS_ALLOC_GLIBC)
		return size;
	/* glibc accounts the header: an in-use chunk gives size - 8 bytes (it
	 * may use the next chunk's prev_size), a mmapped one size - 16. */
	uint64_t hdr = (hs_chunk_flags(c) & HS_CHUNK_F_MMAPPED) ? 16 : 8;
	return size > hdr ? size - hdr : 0;
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
			/* request2size: header included, 16-aligned, at least 32. */
			uint64_t want = (request + 8 + 15) & ~15ull;
			return (want < 32 ? 32 : want) == size;
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
	if (c->ntypes >= HS_TYPE_MASK ||
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

size_t hs_classes_chunk_index(const struct hs_classes *c, uint64_t addr)
{
	if (addr < c->heap_lo || addr >= c->heap_hi)
		return SIZE_MAX;
	const struct hs_chunk *ch = hs_chunk_index_find(c->chunk_index, addr);
	return ch ? (size_t)(ch - c->heap->chunks) : SIZE_MAX;
}

const uint8_t *hs_classes_chunk_bytes(const struct hs_classes *c, size_t i, size_t *avail)
{
	const struct hs_chunk *ch = &c->heap->chunks[i];
	const struct hs_memory_range *r = hs_memory_find(&c->proc->mem, ch->addr);
	*avail = 0;
	if (!r || ch->addr - r->start >= r->filesz)
		return NULL;
	uint64_t n = r->filesz - (ch->addr - r->start);
	uint64_t usable = hs_sizing_usable(&c->sizing, ch);
	*avail = (size_t)(n < usable ? n : usable);
	return r->data + (ch->addr - r->start);
}

/* ------------------------------------------------------------------ detection */

/*
 * The type of in-use chunk i. Detectors run from the most certain to the
 * least: a vptr, a std::string owner found by the memory scan, a COW _Rep,
 * Redis objects, C strings, and finally a pattern cluster, which always
 * matches. A Redis match on weak evidence is returned in *weak (the chunk's
 * type is then what the later detectors say) unless accept_weak.
 */
static uint32_t hs_detect_chunk(struct hs_classes *c, size_t i, bool accept_weak,
				char *why, size_t whylen, uint32_t *weak)
{
	size_t avail;
	const uint8_t *p = hs_classes_chunk_bytes(c, i, &avail);
	struct hs_detect d;
	*weak = HS_TYPE_NONE;
	if (p && avail >= 8) {
		uint64_t v = hs_le64(p);
		uint32_t id = hs_vtables_classify(c->vtables, c, v);
		if (id != HS_TYPE_NONE) {
			if (why && !hs_vtables_explain(c->vtables, v, why, whylen))
				snprintf(why, whylen, "first word is a vptr");
			return id;
		}
	}
	if (c->chunk_ref[i] & HS_REF_STRING) {
		if (c->string_type == HS_TYPE_NONE)
			c->string_type = hs_classes_type(c, "std::string", HS_KIND_STRING, 0.95);
		if (why)
			snprintf(why, whylen,
				 "the buffer of a C++11 std::string: a (pointer, length, capacity) "
				 "triple points at the chunk start, length <= capacity, capacity + 1 "
				 "fits the chunk, NUL at [length]");
		return c->string_type;
	}
	if (p) {
		if (hs_cow_detect(c, i, p, avail, &d, why, whylen))
			return d.type;
		if (hs_robj_detect(c, i, p, avail, &d, why, whylen) ||
		    hs_sds_detect(c, i, p, avail, &d, why, whylen)) {
			if (d.strong) {
				c->redis_strong++;
				return d.type;
			}
			if (accept_weak)
				return d.type;
			*weak = d.type;
		}
		if (hs_cstring_detect(c, i, p, avail, &d, why, whylen))
			return d.type;
	}
	if (!hs_pattern_detect(c, i, p, avail, &d, why, whylen))
		return HS_TYPE_NONE;
	if (why && !p)
		snprintf(why, whylen, "the chunk's bytes are not in the core");
	return d.type;
}

static bool hs_chunk_classified(const struct hs_chunk *ch)
{
	return hs_chunk_state(ch) == HS_CHUNK_IN_USE &&
	       !(hs_chunk_flags(ch) & HS_CHUNK_F_METADATA);
}

/* Counts, examples, samples and runs from the per-chunk ids. */
static void hs_classes_tally(struct hs_classes *c)
{
	const struct hs_heap *heap = c->heap;
	bool prev_run = false;
	for (size_t i = 0; i < heap->nchunks; i++) {
		uint32_t t = c->chunk_type[i];
		if (t == HS_TYPE_NONE) {
			prev_run = false;
			continue;
		}
		const struct hs_chunk *ch = &heap->chunks[i];
		struct hs_ctype *ty = &c->types[t & HS_TYPE_MASK];
		ty->count++;
		ty->bytes += hs_chunk_size(ch);
		if (t & HS_TYPE_WEAK)
			ty->weak++;
		if (ty->nexamples < HS_CTYPE_EXAMPLES)
			ty->examples[ty->nexamples++] = ch->addr;
		if (ty->kind != HS_KIND_PATTERN)
			continue;
		if (ty->nsamples < HS_PATTERN_SAMPLES)
			ty->samples[ty->nsamples++] = i;
		/* A run: adjacent chunks of one cluster, as seeds/001's leak looked. */
		const struct hs_chunk *pc = i ? &heap->chunks[i - 1] : NULL;
		bool run = pc && c->chunk_type[i - 1] != HS_TYPE_NONE &&
			   (c->chunk_type[i - 1] & HS_TYPE_MASK) == (t & HS_TYPE_MASK) &&
			   pc->addr + hs_chunk_size(pc) == ch->addr;
		if (run && !prev_run)
			ty->runs++;
		prev_run = run;
	}
}

struct hs_weak {
	size_t chunk;
	uint32_t type;
};

struct hs_error *hs_classify(struct hs_process *proc, const struct hs_heap *heap,
			     const struct hs_classify_options *opts, struct hs_classes **ret)
{
	struct hs_classes *c = calloc(1, sizeof(*c));
	if (!c)
		return HS_ENOMEM;
	c->proc = proc;
	c->heap = heap;
	c->redact = opts && opts->redact;
	hs_sizing_init(&c->sizing, heap->allocator);
	hs_u64map_init(&c->by_name);
	hs_u64map_init(&c->by_pattern);
	memset(c->sds_types, 0xff, sizeof(c->sds_types));
	memset(c->robj_types, 0xff, sizeof(c->robj_types));
	c->string_type = c->cow_type = c->cstring_type = HS_TYPE_NONE;
	if (heap->nchunks) {
		const struct hs_chunk *last = &heap->chunks[heap->nchunks - 1];
		c->heap_lo = heap->chunks[0].addr;
		c->heap_hi = last->addr + hs_chunk_size(last);
	}
	struct hs_error *err = hs_vtables_create(proc, &c->vtables);
	if (!err)
		err = hs_chunk_index_create(heap, &c->chunk_index);
	if (err) {
		hs_classes_destroy(c);
		return err;
	}
	size_t n = heap->nchunks ? heap->nchunks : 1;
	c->chunk_type = malloc(n * sizeof(*c->chunk_type));
	c->chunk_ref = calloc(n, 1);
	if (!c->chunk_type || !c->chunk_ref) {
		hs_classes_destroy(c);
		return HS_ENOMEM;
	}

	hs_strings_scan(c);

	struct hs_weak *weak = NULL;
	size_t nweak = 0, weak_cap = 0;
	for (size_t i = 0; i < heap->nchunks; i++) {
		c->chunk_type[i] = HS_TYPE_NONE;
		if (!hs_chunk_classified(&heap->chunks[i]))
			continue;
		uint32_t w;
		uint32_t id = hs_detect_chunk(c, i, false, NULL, 0, &w);
		if (id == HS_TYPE_NONE)
			goto nomem;
		c->chunk_type[i] = id;
		if (w != HS_TYPE_NONE) {
			if (!hs_grow((void **)&weak, &weak_cap, nweak + 1, sizeof(*weak)))
				goto nomem;
			weak[nweak++] = (struct hs_weak){i, w};
		}
	}
	if (c->redis_strong >= HS_REDIS_GATE)
		for (size_t k = 0; k < nweak; k++)
			c->chunk_type[weak[k].chunk] = weak[k].type | HS_TYPE_WEAK;
	free(weak);
	hs_classes_tally(c);
	*ret = c;
	return NULL;
nomem:
	free(weak);
	hs_classes_destroy(c);
	return HS_ENOMEM;
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
	hs_vtables_destroy(c->vtables);
	free(c->chunk_type);
	free(c->chunk_ref);
	hs_chunk_index_destroy(c->chunk_index);
	free(c);
}

/* ------------------------------------------------------------------ queries */

const char *hs_classes_chunk_type(const struct hs_classes *c, size_t i, const char **kind)
{
	if (i >= c->heap->nchunks || c->chunk_type[i] == HS_TYPE_NONE)
		return NULL;
	const struct hs_ctype *t = &c->types[c->chunk_type[i] & HS_TYPE_MASK];
	if (kind)
		*kind = hs_kind_name(t->kind);
	return t->name;
}

void hs_classes_explain(struct hs_classes *c, size_t i, char *buf, size_t len)
{
	if (!len)
		return;
	buf[0] = 0;
	if (i >= c->heap->nchunks || c->chunk_type[i] == HS_TYPE_NONE) {
		snprintf(buf, len, "not classified: only in-use, non-metadata chunks are");
		return;
	}
	uint32_t w;
	bool weak = (c->chunk_type[i] & HS_TYPE_WEAK) != 0;
	/* Re-run the detectors with words; they are deterministic. */
	uint64_t strong = c->redis_strong;
	hs_detect_chunk(c, i, weak, buf, len, &w);
	c->redis_strong = strong;
}

bool hs_classes_each_of_type(const struct hs_classes *c, const char *name,
			     void (*fn)(uint64_t addr, void *arg), void *arg)
{
	uint32_t id = hs_classes_find(c, name);
	if (id == HS_TYPE_NONE)
		return false;
	for (size_t i = 0; i < c->heap->nchunks; i++)
		if (c->chunk_type[i] != HS_TYPE_NONE &&
		    (c->chunk_type[i] & HS_TYPE_MASK) == id)
			fn(c->heap->chunks[i].addr, arg);
	return true;
}

/* ------------------------------------------------------------------ report */

/* Arrays handed to the report are sized like its own (a power of two, at
 * least 4) so that its append helpers may grow them later. */
static void *hs_report_array(size_t n, size_t elem)
{
	size_t cap = 4;
	while (cap < n)
		cap *= 2;
	return calloc(cap, elem);
}

/* qsort_r comparator: type ids by bytes, count, then name. */
static int hs_cmp_ids(const void *a, const void *b, void *arg)
{
	const struct hs_ctype *types = arg;
	const struct hs_ctype *x = &types[*(const uint32_t *)a], *y = &types[*(const uint32_t *)b];
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int hs_cmp_report_types(const void *a, const void *b)
{
	const struct hs_report_type *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

static bool hs_fill_type(struct hs_report_type *rt, const char *name, const char *kind,
			 const struct hs_ctype *t)
{
	rt->name = hs_strdup(name);
	rt->kind = hs_strdup(kind);
	rt->examples = malloc(HS_CTYPE_EXAMPLES * sizeof(*rt->examples));
	if (!rt->name || !rt->kind || !rt->examples)
		return false;
	rt->count = t->count;
	rt->bytes = t->bytes;
	memcpy(rt->examples, t->examples, t->nexamples * sizeof(*rt->examples));
	rt->nexamples = t->nexamples;
	if (t->confidence >= 0 && t->count) {
		rt->has_confidence = true;
		rt->confidence = ((double)(t->count - t->weak) * t->confidence +
				  (double)t->weak * t->weak_confidence) / (double)t->count;
	}
	return true;
}

struct hs_error *hs_classes_report(const struct hs_classes *c, struct hs_report *r)
{
	uint32_t *ids = malloc((c->ntypes ? c->ntypes : 1) * sizeof(*ids));
	if (!ids)
		return HS_ENOMEM;
	size_t nids = 0, npat = 0;
	for (size_t k = 0; k < c->ntypes; k++)
		if (c->types[k].count)
			ids[nids++] = (uint32_t)k;
	qsort_r(ids, nids, sizeof(*ids), hs_cmp_ids, c->types);
	for (size_t k = 0; k < nids; k++)
		npat += c->types[ids[k]].kind == HS_KIND_PATTERN;
	size_t shown = npat < HS_REPORT_PATTERNS ? npat : HS_REPORT_PATTERNS;
	size_t ntypes = nids - npat + shown + (npat > shown);

	r->types = hs_report_array(ntypes, sizeof(*r->types));
	r->patterns = hs_report_array(shown, sizeof(*r->patterns));
	if (!r->types || !r->patterns)
		goto nomem;
	struct hs_ctype other = {.confidence = -1};
	size_t seen_pat = 0;
	for (size_t k = 0; k < nids; k++) {
		const struct hs_ctype *t = &c->types[ids[k]];
		if (t->kind == HS_KIND_PATTERN && seen_pat++ >= shown) {
			if (!other.nexamples) {
				memcpy(other.examples, t->examples, sizeof(other.examples));
				other.nexamples = t->nexamples;
			}
			other.count += t->count;
			other.bytes += t->bytes;
			continue;
		}
		if (!hs_fill_type(&r->types[r->ntypes++], t->name, hs_kind_name(t->kind), t))
			goto nomem;
		if (t->kind != HS_KIND_PATTERN)
			continue;
		struct hs_report_pattern *rp = &r->patterns[r->npatterns++];
		char sig[2 * HS_PATTERN_MAX_WORDS + 1];
		rp->signature = hs_strdup(hs_pattern_format(t->signature, sig, sizeof(sig)));
		rp->samples = calloc(HS_PATTERN_SAMPLES, sizeof(*rp->samples));
		if (!rp->signature || !rp->samples)
			goto nomem;
		rp->size = t->size;
		rp->count = t->count;
		rp->bytes = t->bytes;
		rp->runs = t->runs;
		for (unsigned s = 0; s < t->nsamples; s++) {
			struct hs_report_sample *smp = &rp->samples[rp->nsamples++];
			smp->address = c->heap->chunks[t->samples[s]].addr;
			if (c->redact)
				continue;
			size_t avail;
			const uint8_t *p = hs_classes_chunk_bytes(c, t->samples[s], &avail);
			if (!p)
				continue;
			smp->hex = hs_hexdump(p, avail < HS_SAMPLE_BYTES ? avail : HS_SAMPLE_BYTES);
			if (!smp->hex)
				goto nomem;
		}
	}
	if (other.count &&
	    !hs_fill_type(&r->types[r->ntypes++], "pattern (other clusters)", "pattern", &other))
		goto nomem;
	qsort(r->types, r->ntypes, sizeof(*r->types), hs_cmp_report_types);
	free(ids);
	return NULL;
nomem:
	free(ids);
	return HS_ENOMEM;
}
