/* report.c: the report model: construction and teardown. */
#include <stdlib.h>
#include <string.h>

#include "formats.h"

void hs_report_init(struct hs_report *r)
{
	memset(r, 0, sizeof(*r));
	r->pid = -1;
	r->captured_at = -1;
}

void hs_report_deinit(struct hs_report *r)
{
	if (!r)
		return;
	free(r->core_path);
	free(r->executable);
	for (size_t i = 0; i < r->nmodules; i++) {
		free(r->modules[i].path);
		free(r->modules[i].build_id);
		free(r->modules[i].symbols);
	}
	free(r->modules);
	free(r->alloc_name);
	free(r->alloc_version);
	free(r->located_by);
	free(r->layout);
	free(r->layout_row);
	for (size_t i = 0; i < r->nstats; i++)
		free(r->stats[i].name);
	free(r->stats);
	free(r->size_classes);
	for (size_t i = 0; i < r->ntypes; i++) {
		free(r->types[i].name);
		free(r->types[i].kind);
		free(r->types[i].examples);
	}
	free(r->types);
	for (size_t i = 0; i < r->npatterns; i++) {
		free(r->patterns[i].signature);
		for (size_t j = 0; j < r->patterns[i].nsamples; j++)
			free(r->patterns[i].samples[j].hex);
		free(r->patterns[i].samples);
	}
	free(r->patterns);
	for (size_t i = 0; i < r->memory.nalloc_regions; i++)
		free(r->memory.alloc_regions[i].kind);
	free(r->memory.alloc_regions);
	for (size_t i = 0; i < r->memory.nregions; i++) {
		free(r->memory.regions[i].kind);
		free(r->memory.regions[i].name);
	}
	free(r->memory.regions);
	for (size_t i = 0; i < r->leaks.nretainers; i++) {
		free(r->leaks.retainers[i].type);
		free(r->leaks.retainers[i].kind);
	}
	free(r->leaks.retainers);
	free(r->memory.core_writer);
	free(r->memory.untouched_pages);
	free(r->memory.verdict);
	for (size_t i = 0; i < r->ndiags; i++) {
		free(r->diags[i].severity);
		free(r->diags[i].message);
	}
	free(r->diags);
	hs_report_init(r);
}

/* Grow an array by one element; the caller fills it. */
static void *hs_report_push(void **arr, size_t *n, size_t elem)
{
	/* Capacity is implicit (powers of two) so the model needs no cap fields. */
	size_t cap = *n;
	if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
		cap = *n ? *n * 2 : 4;
		if (cap > SIZE_MAX / elem)
			return NULL;
		void *p = realloc(*arr, cap * elem);
		if (!p)
			return NULL;
		*arr = p;
	}
	void *slot = (char *)*arr + *n * elem;
	memset(slot, 0, elem);
	(*n)++;
	return slot;
}

bool hs_report_add_module(struct hs_report *r, const char *path, uint64_t base,
			  const char *build_id, const char *symbols)
{
	char *p = hs_strdup(path), *b = hs_strdup(build_id),
	     *s = hs_strdup(symbols);
	struct hs_report_module *m = NULL;
	if ((path && !p) || (build_id && !b) || (symbols && !s) ||
	    !(m = hs_report_push((void **)&r->modules, &r->nmodules,
				 sizeof(*m)))) {
		free(p);
		free(b);
		free(s);
		return false;
	}
	m->path = p;
	m->base = base;
	m->build_id = b;
	m->symbols = s;
	return true;
}

bool hs_report_add_stat(struct hs_report *r, const char *name, uint64_t value)
{
	char *n = hs_strdup(name);
	struct hs_report_stat *s;
	if (!n || !(s = hs_report_push((void **)&r->stats, &r->nstats,
				       sizeof(*s)))) {
		free(n);
		return false;
	}
	s->name = n;
	s->value = value;
	return true;
}

bool hs_report_add_diag(struct hs_report *r, const char *severity,
			const char *message, bool has_address, uint64_t address)
{
	char *sev = hs_strdup(severity), *msg = hs_strdup(message);
	struct hs_report_diag *d;
	if (!sev || !msg ||
	    !(d = hs_report_push((void **)&r->diags, &r->ndiags,
				 sizeof(*d)))) {
		free(sev);
		free(msg);
		return false;
	}
	d->severity = sev;
	d->message = msg;
	d->has_address = has_address;
	d->address = address;
	return true;
}

bool hs_report_add_alloc_region(struct hs_report *r, const char *kind,
				uint64_t count, uint64_t bytes)
{
	struct hs_report_memory *m = &r->memory;
	for (size_t i = 0; i < m->nalloc_regions; i++) {
		if (strcmp(m->alloc_regions[i].kind, kind) == 0) {
			m->alloc_regions[i].count += count;
			m->alloc_regions[i].bytes += bytes;
			return true;
		}
	}
	char *k = hs_strdup(kind);
	struct hs_report_alloc_region *g;
	if (!k || !(g = hs_report_push((void **)&m->alloc_regions,
				       &m->nalloc_regions, sizeof(*g)))) {
		free(k);
		return false;
	}
	g->kind = k;
	g->count = count;
	g->bytes = bytes;
	return true;
}

bool hs_report_has_leaks(const struct hs_report *r)
{
	return r->leaks.present;
}

void hs_report_type_leaked(const struct hs_report *r, size_t i, uint64_t *count,
			   uint64_t *bytes)
{
	const struct hs_report_type *t = i < r->ntypes ? &r->types[i] : NULL;
	*count = t && t->has_leaks ? t->leaked.count : 0;
	*bytes = t && t->has_leaks ? t->leaked.bytes : 0;
}

bool hs_report_add_mem_row(struct hs_report *r, const char *kind,
			   const char *name, uint64_t bytes, uint64_t dumped,
			   bool has_count, uint64_t count)
{
	struct hs_report_memory *m = &r->memory;
	char *k = hs_strdup(kind), *n = hs_strdup(name);
	struct hs_report_mem_row *row;
	if (!k || (name && !n) ||
	    !(row = hs_report_push((void **)&m->regions, &m->nregions,
				   sizeof(*row)))) {
		free(k);
		free(n);
		return false;
	}
	row->kind = k;
	row->name = n;
	row->bytes = bytes;
	row->dumped = dumped;
	row->has_count = has_count;
	row->count = has_count ? count : 0;
	return true;
}

const char *hs_report_state_name(enum hs_report_state s)
{
	static const char *const names[] = {"in_use", "free", "cached"};
	return s < HS_REPORT_NSTATES ? names[s] : "unknown";
}

const char *hs_root_kind_name(enum hs_root_kind k)
{
	static const char *const names[] = {"registers", "stacks", "modules", "tls", "other"};
	return k < HS_ROOT_NKINDS ? names[k] : "other";
}

const char *hs_format_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < HS_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

/* Sum of a kind's rows, main and named. */
static uint64_t hs_mem_kind_bytes(const struct hs_report_memory *m, const char *kind)
{
	uint64_t n = 0;
	for (size_t i = 0; i < m->nregions; i++)
		if (strcmp(m->regions[i].kind, kind) == 0)
			n += m->regions[i].bytes;
	return n;
}

bool hs_report_memory_verdict(const struct hs_report *r, char *buf, size_t len)
{
	const struct hs_report_memory *m = &r->memory;
	if (!m->nregions || !len)
		return false;
	uint64_t in_use = hs_mem_kind_bytes(m, "in_use");
	uint64_t chunks = in_use + hs_mem_kind_bytes(m, "free") +
			  hs_mem_kind_bytes(m, "cached");
	uint64_t heap = chunks + hs_mem_kind_bytes(m, "allocator_metadata");
	uint64_t anon = hs_mem_kind_bytes(m, "other_anonymous");
	uint64_t outside = anon + hs_mem_kind_bytes(m, "data_files");
	uint64_t idle = hs_mem_kind_bytes(m, "allocator_reserved") +
			hs_mem_kind_bytes(m, "inaccessible");
	/* The biggest part outside the allocator, to name it. */
	const struct hs_report_mem_row *big = NULL;
	for (size_t i = 0; i < m->nregions; i++) {
		const struct hs_report_mem_row *row = &m->regions[i];
		if ((strcmp(row->kind, "other_anonymous") == 0 ||
		     strcmp(row->kind, "data_files") == 0) &&
		    (!big || row->bytes > big->bytes))
			big = row;
	}
	char b1[32], b2[32], b3[32], b4[32];
	int n;
	if (heap >= outside)
		n = snprintf(buf, len, "the allocator's chunks dominate: %s (%s in "
			     "use) against %s mapped outside the allocator, so "
			     "growth would be a heap leak, in malloc'd chunks.",
			     hs_format_bytes(chunks, b1, sizeof(b1)),
			     hs_format_bytes(in_use, b2, sizeof(b2)),
			     hs_format_bytes(outside, b3, sizeof(b3)));
	else
		n = snprintf(buf, len, "memory outside the allocator dominates: %s "
			     "(largest %s%s%s%s, %s) against %s in the allocator's "
			     "chunks, so growth would be an mmap leak, which "
			     "malloc's statistics do not see.",
			     hs_format_bytes(outside, b1, sizeof(b1)), big->kind,
			     big->name ? " (" : "", big->name ? big->name : "",
			     big->name ? ")" : "",
			     hs_format_bytes(big->bytes, b2, sizeof(b2)),
			     hs_format_bytes(chunks, b3, sizeof(b3)));
	if (n >= 0 && (size_t)n < len && idle)
		snprintf(buf + n, len - (size_t)n, " %s more is reserved or "
			 "inaccessible address space, which holds no memory.",
			 hs_format_bytes(idle, b4, sizeof(b4)));
	return true;
}
