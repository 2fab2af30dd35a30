/* json_write.c: the heapscope-report/1 JSON document (jansson). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "formats.h"

/* Addresses are strings: JSON numbers lose precision past 2^53 in most readers. */
static json_t *hs_json_addr(uint64_t addr)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
	return json_string(buf);
}

/* Counts and bytes are integers; jansson's json_int_t is signed 64-bit, and
 * no real count reaches 2^63, so clamp rather than wrap. */
json_t *hs_json_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Two decimals: a mean of per-chunk estimates is not known any closer,
 * and 0.9500000000000001 reads as noise. */
static double hs_round2(double v)
{
	return v >= 0 ? (double)(int64_t)(v * 100.0 + 0.5) / 100.0 : v;
}

static json_t *hs_json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *hs_json_count(const struct hs_report_count *c)
{
	return json_pack("{s:o,s:o}", "count", hs_json_u64(c->count), "bytes",
			 hs_json_u64(c->bytes));
}


/* Leaked bytes, then count, then name: the order of "top leaks". */
static int hs_cmp_leaked(const void *a, const void *b)
{
	const struct hs_report_type *x = *(const struct hs_report_type *const *)a;
	const struct hs_report_type *y = *(const struct hs_report_type *const *)b;
	if (x->leaked.bytes != y->leaked.bytes)
		return x->leaked.bytes < y->leaked.bytes ? 1 : -1;
	if (x->leaked.count != y->leaked.count)
		return x->leaked.count < y->leaked.count ? 1 : -1;
	return strcmp(x->name, y->name);
}

static json_t *hs_json_leaks(const struct hs_report *r)
{
	const struct hs_report_leaks *l = &r->leaks;
	json_t *roots = json_object();
	for (int k = 0; roots && k < HS_ROOT_NKINDS; k++)
		json_object_set_new(roots, hs_root_kind_name(k), hs_json_u64(l->roots[k]));
	const struct hs_report_type **sorted = calloc(r->ntypes ? r->ntypes : 1, sizeof(*sorted));
	json_t *types = json_array();
	size_t n = 0;
	for (size_t i = 0; sorted && i < r->ntypes; i++)
		if (r->types[i].has_leaks && r->types[i].leaked.count)
			sorted[n++] = &r->types[i];
	if (n)
		qsort(sorted, n, sizeof(*sorted), hs_cmp_leaked);
	for (size_t i = 0; types && i < n; i++)
		json_array_append_new(
			types, json_pack("{s:s,s:s,s:o,s:o}", "name", sorted[i]->name, "kind",
					 sorted[i]->kind, "leaked", hs_json_count(&sorted[i]->leaked),
					 "direct", hs_json_count(&sorted[i]->direct)));
	free(sorted);
	json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o}", "leaked", hs_json_count(&l->leaked),
			      "direct", hs_json_count(&l->direct), "indirect",
			      hs_json_count(&l->indirect), "roots", roots ? roots : json_object(),
			      "types", types ? types : json_array());
	if (o && l->has_retained) {
		json_t *top = json_array();
		for (size_t i = 0; top && i < l->nretainers; i++) {
			const struct hs_report_retainer *t = &l->retainers[i];
			json_array_append_new(
				top, json_pack("{s:o,s:s,s:s,s:o,s:o}", "address",
					       hs_json_addr(t->address), "type", t->type ? t->type : "",
					       "kind", t->kind ? t->kind : "", "size",
					       hs_json_u64(t->size), "retained",
					       hs_json_u64(t->retained)));
		}
		json_object_set_new(o, "retainers", top ? top : json_array());
	}
	return o;
}

static json_t *hs_memory_to_json(const struct hs_report_memory *m)
{
	json_t *aregs = json_array();
	for (size_t i = 0; aregs && i < m->nalloc_regions; i++)
		json_array_append_new(
			aregs, json_pack("{s:s,s:o,s:o}", "kind", m->alloc_regions[i].kind,
					 "count", hs_json_u64(m->alloc_regions[i].count),
					 "bytes", hs_json_u64(m->alloc_regions[i].bytes)));
	json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o}", "mapped", hs_json_u64(m->mapped),
			      "dumped", hs_json_u64(m->dumped), "modules",
			      hs_json_u64(m->modules), "allocator_chunks",
			      hs_json_u64(m->chunks), "allocator_regions",
			      aregs ? aregs : json_array());
	if (!o)
		return NULL;
	if (m->core_writer)
		json_object_set_new(o, "core_writer", json_string(m->core_writer));
	if (m->untouched_pages)
		json_object_set_new(o, "untouched_pages", json_string(m->untouched_pages));
	if (m->nregions) {
		json_t *rows = json_array();
		for (size_t i = 0; rows && i < m->nregions; i++) {
			const struct hs_report_mem_row *row = &m->regions[i];
			json_t *x = json_pack("{s:s}", "kind", row->kind);
			if (!x)
				continue;
			if (row->name)
				json_object_set_new(x, "name", json_string(row->name));
			json_object_set_new(x, "virtual", hs_json_u64(row->bytes));
			json_object_set_new(x, "dumped", hs_json_u64(row->dumped));
			if (row->has_count)
				json_object_set_new(x, "count", hs_json_u64(row->count));
			json_array_append_new(rows, x);
		}
		json_object_set_new(o, "regions", rows ? rows : json_array());
	}
	if (m->verdict)
		json_object_set_new(o, "verdict", json_string(m->verdict));
	return o;
}

static json_t *hs_report_to_json(const struct hs_report *r)
{
	json_t *root = json_object();
	if (!root)
		return NULL;
	bool ok = true;
	ok &= !json_object_set_new(root, "schema", json_string(HS_REPORT_SCHEMA));
	ok &= !json_object_set_new(root, "tool",
				   json_pack("{s:s,s:s}", "name", "heapscope",
					     "version", HS_VERSION));

	json_t *core = json_object();
	ok &= core != NULL;
	if (core) {
		json_object_set_new(core, "path", hs_json_str_or_null(r->core_path));
		json_object_set_new(core, "bytes", hs_json_u64(r->core_bytes));
		json_object_set_new(core, "pid", json_integer(r->pid));
		json_object_set_new(core, "executable",
				    hs_json_str_or_null(r->executable));
		json_object_set_new(core, "threads", hs_json_u64(r->threads));
		if (r->captured_at >= 0)
			json_object_set_new(core, "captured_at",
					    json_integer(r->captured_at));
		ok &= !json_object_set_new(root, "core", core);
	}

	json_t *mods = json_array();
	for (size_t i = 0; mods && i < r->nmodules; i++) {
		const struct hs_report_module *m = &r->modules[i];
		json_array_append_new(
			mods, json_pack("{s:o,s:o,s:o,s:s}", "path",
					hs_json_str_or_null(m->path), "base",
					hs_json_addr(m->base), "build_id",
					hs_json_str_or_null(m->build_id),
					"symbols", m->symbols ? m->symbols : "none"));
	}
	ok &= !json_object_set_new(root, "modules", mods);

	json_t *alloc = json_object();
	json_t *stats = json_object();
	for (size_t i = 0; stats && i < r->nstats; i++)
		json_object_set_new(stats, r->stats[i].name,
				    hs_json_u64(r->stats[i].value));
	if (alloc) {
		json_object_set_new(alloc, "name", hs_json_str_or_null(r->alloc_name));
		json_object_set_new(alloc, "version",
				    hs_json_str_or_null(r->alloc_version));
		json_object_set_new(alloc, "located_by",
				    hs_json_str_or_null(r->located_by));
		json_object_set_new(alloc, "layout", hs_json_str_or_null(r->layout));
		json_object_set_new(alloc, "layout_row",
				    hs_json_str_or_null(r->layout_row));
		json_object_set_new(alloc, "arenas", hs_json_u64(r->arenas));
		json_object_set_new(alloc, "stats", stats);
	} else {
		json_decref(stats);
	}
	ok &= !json_object_set_new(root, "allocator", alloc);

	json_t *totals = json_object();
	for (int s = 0; totals && s < HS_REPORT_NSTATES; s++)
		json_object_set_new(totals, hs_report_state_name(s),
				    hs_json_count(&r->totals[s]));
	if (totals)
		json_object_set_new(totals, "metadata", hs_json_count(&r->metadata));
	ok &= !json_object_set_new(root, "totals", totals);

	ok &= !json_object_set_new(root, "memory", hs_memory_to_json(&r->memory));

	json_t *sc = json_array();
	for (size_t i = 0; sc && i < r->nsize_classes; i++)
		json_array_append_new(
			sc, json_pack("{s:o,s:o,s:o}", "size",
				      hs_json_u64(r->size_classes[i].size),
				      "count", hs_json_u64(r->size_classes[i].count),
				      "bytes", hs_json_u64(r->size_classes[i].bytes)));
	ok &= !json_object_set_new(root, "size_classes", sc);

	json_t *types = json_array();
	for (size_t i = 0; types && i < r->ntypes; i++) {
		const struct hs_report_type *t = &r->types[i];
		json_t *ex = json_array();
		for (size_t j = 0; ex && j < t->nexamples; j++)
			json_array_append_new(ex, hs_json_addr(t->examples[j]));
		json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:o}", "name", t->name,
				      "kind", t->kind, "count",
				      hs_json_u64(t->count), "bytes",
				      hs_json_u64(t->bytes), "examples",
				      ex ? ex : json_array());
		if (o && t->has_confidence)
			json_object_set_new(o, "confidence",
					    json_real(hs_round2(t->confidence)));
		if (o && t->has_leaks) {
			json_object_set_new(o, "leaked", hs_json_count(&t->leaked));
			json_object_set_new(o, "direct", hs_json_count(&t->direct));
		}
		if (o && t->has_retained)
			json_object_set_new(o, "retained", hs_json_u64(t->retained));
		json_array_append_new(types, o);
	}
	ok &= !json_object_set_new(root, "types", types);
	if (r->leaks.present)
		ok &= !json_object_set_new(root, "leaks", hs_json_leaks(r));

	json_t *pats = json_array();
	for (size_t i = 0; pats && i < r->npatterns; i++) {
		const struct hs_report_pattern *p = &r->patterns[i];
		json_t *samples = json_array();
		for (size_t j = 0; samples && j < p->nsamples; j++)
			json_array_append_new(
				samples,
				json_pack("{s:o,s:o}", "address",
					  hs_json_addr(p->samples[j].address),
					  "hex", hs_json_str_or_null(p->samples[j].hex)));
		json_array_append_new(
			pats, json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "signature",
					p->signature, "size", hs_json_u64(p->size),
					"count", hs_json_u64(p->count), "bytes",
					hs_json_u64(p->bytes), "runs",
					hs_json_u64(p->runs), "samples",
					samples ? samples : json_array()));
	}
	ok &= !json_object_set_new(root, "patterns", pats);

	json_t *diags = json_array();
	for (size_t i = 0; diags && i < r->ndiags; i++) {
		const struct hs_report_diag *d = &r->diags[i];
		json_t *o = json_pack("{s:s,s:s}", "severity", d->severity,
				      "message", d->message);
		if (o && d->has_address)
			json_object_set_new(o, "address", hs_json_addr(d->address));
		json_array_append_new(diags, o);
	}
	ok &= !json_object_set_new(root, "diagnostics", diags);
	if (r->diags_dropped)
		json_object_set_new(root, "diagnostics_dropped",
				    hs_json_u64(r->diags_dropped));
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}

struct hs_error *hs_json_write_doc(json_t *root, FILE *out, const char *where)
{
	if (!root)
		return HS_ENOMEM;
	/* 15 significant digits: enough for every real written (confidence,
	 * growth, bytes per hour), and no binary noise (0.95, not
	 * 0.94999999999999996). */
	int rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
			    JSON_REAL_PRECISION(15));
	json_decref(root);
	if (rc == 0 && fputc('\n', out) == EOF)
		rc = -1;
	if (rc == 0 && fflush(out) != 0)
		rc = -1;
	if (rc != 0)
		return hs_error_create(HS_ERR_IO, "%s: write failed: %s", where,
				       strerror(errno));
	return NULL;
}

struct hs_error *hs_report_write_json(const struct hs_report *r, FILE *out,
				      const char *where)
{
	return hs_json_write_doc(hs_report_to_json(r), out, where);
}
