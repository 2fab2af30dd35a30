/* text.c: the short human summary printed by `heapscope analyze`. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

/* Each pattern prints a hexdump: keep the summary to a screenful. */
#define HS_TEXT_MAX_PATTERNS 5

static double hs_pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
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

/* Reachability: totals, the roots, the types that leak most, and what
 * keeps the most memory alive. */
static void hs_text_leaks(const struct hs_report *r, FILE *out, unsigned top)
{
	const struct hs_report_leaks *l = &r->leaks;
	char b1[32], b2[32], b3[32];
	fprintf(out, "\nleaked      %" PRIu64 " chunks, %s (no root reaches them): %" PRIu64
		" direct (%s), %" PRIu64 " indirect (%s)\n",
		l->leaked.count, hs_format_bytes(l->leaked.bytes, b1, sizeof(b1)),
		l->direct.count, hs_format_bytes(l->direct.bytes, b2, sizeof(b2)),
		l->indirect.count, hs_format_bytes(l->indirect.bytes, b3, sizeof(b3)));
	fprintf(out, "roots       ");
	for (int k = 0; k < HS_ROOT_NKINDS; k++)
		fprintf(out, "%s%s %" PRIu64, k ? ", " : "", hs_root_kind_name(k), l->roots[k]);
	fprintf(out, " (words that refer to a chunk)\n");
	const struct hs_report_type **sorted = calloc(r->ntypes ? r->ntypes : 1, sizeof(*sorted));
	size_t n = 0;
	for (size_t i = 0; sorted && i < r->ntypes; i++)
		if (r->types[i].has_leaks && r->types[i].leaked.count)
			sorted[n++] = &r->types[i];
	if (n) {
		qsort(sorted, n, sizeof(*sorted), hs_cmp_leaked);
		fprintf(out, "\ntop leaks\n%12s %12s %12s %12s  %-9s %s\n", "leaked", "bytes",
			"direct", "indirect", "kind", "name");
		for (size_t i = 0; i < n && i < top; i++) {
			const struct hs_report_type *t = sorted[i];
			fprintf(out, "%12" PRIu64 " %12s %12" PRIu64 " %12" PRIu64 "  %-9s %s\n",
				t->leaked.count, hs_format_bytes(t->leaked.bytes, b1, sizeof(b1)),
				t->direct.count, t->leaked.count - t->direct.count, t->kind,
				t->name);
		}
	}
	free(sorted);
	if (l->has_retained && l->nretainers) {
		fprintf(out, "\ntop retainers (freeing the chunk frees this much)\n%12s %12s  "
			"%-18s %s\n", "retained", "size", "address", "type");
		for (size_t i = 0; i < l->nretainers && i < top; i++) {
			const struct hs_report_retainer *t = &l->retainers[i];
			fprintf(out, "%12s %12s  0x%-16" PRIx64 " %s\n",
				hs_format_bytes(t->retained, b1, sizeof(b1)),
				hs_format_bytes(t->size, b2, sizeof(b2)), t->address,
				t->type ? t->type : "?");
		}
	}
}

static const char *hs_writer_words(const char *writer)
{
	if (!writer)
		return NULL;
	if (strcmp(writer, "gcore") == 0)
		return "written by gcore, which dumps every readable page, touched or "
		       "not: dumped is address space, not memory used";
	if (strcmp(writer, "kernel") == 0)
		return "written by the kernel, which leaves out mappings never written "
		       "to: dumped is close to the memory the process touched";
	return "written by an unknown tool: whether untouched pages are in it is "
	       "not known";
}

/* The memory table (memory.regions), or for reports written before it,
 * the totals and the allocator's regions. */
static void hs_text_memory(const struct hs_report *r, FILE *out)
{
	const struct hs_report_memory *m = &r->memory;
	char b1[32], b2[32], b3[32], b4[32];
	if (!m->mapped)
		return;
	if (!m->nregions) {
		fprintf(out, "memory      %s mapped (%s in the core), modules %s, allocator chunks %s\n",
			hs_format_bytes(m->mapped, b1, sizeof(b1)),
			hs_format_bytes(m->dumped, b2, sizeof(b2)),
			hs_format_bytes(m->modules, b3, sizeof(b3)),
			hs_format_bytes(m->chunks, b4, sizeof(b4)));
		for (size_t i = 0; i < m->nalloc_regions; i++)
			fprintf(out, "            allocator %s: %s in %llu region%s\n",
				m->alloc_regions[i].kind,
				hs_format_bytes(m->alloc_regions[i].bytes, b1, sizeof(b1)),
				(unsigned long long)m->alloc_regions[i].count,
				m->alloc_regions[i].count == 1 ? "" : "s");
		return;
	}
	const char *words = hs_writer_words(m->core_writer);
	fprintf(out, "\nmemory      %s mapped, %s in the core%s%s\n",
		hs_format_bytes(m->mapped, b1, sizeof(b1)),
		hs_format_bytes(m->dumped, b2, sizeof(b2)), words ? "; " : "",
		words ? words : "");
	fprintf(out, "%-36s %12s %12s %7s\n", "kind", "virtual", "dumped", "share");
	uint64_t sv = 0, sd = 0;
	for (size_t i = 0; i < m->nregions; i++) {
		const struct hs_report_mem_row *row = &m->regions[i];
		char label[128];
		sv += row->bytes;
		sd += row->dumped;
		if (row->name && !row->bytes)
			continue;
		if (row->name)
			snprintf(label, sizeof(label), "  %s (%s)", row->kind, row->name);
		else
			snprintf(label, sizeof(label), "%s", row->kind);
		fprintf(out, "%-36s %12s %12s %6.1f%%\n", label,
			hs_format_bytes(row->bytes, b1, sizeof(b1)),
			hs_format_bytes(row->dumped, b2, sizeof(b2)),
			hs_pct(row->bytes, m->mapped));
	}
	fprintf(out, "%-36s %12s %12s\n", "total", hs_format_bytes(sv, b1, sizeof(b1)),
		hs_format_bytes(sd, b2, sizeof(b2)));
	char verdict[512];
	const char *v = m->verdict;
	if (!v && hs_report_memory_verdict(r, verdict, sizeof(verdict)))
		v = verdict;
	if (v)
		fprintf(out, "verdict     %s\n", v);
}

struct hs_error *hs_report_write_text(const struct hs_report *r, FILE *out,
				      const struct hs_text_options *opts,
				      const char *where)
{
	unsigned top = opts && opts->top ? opts->top : 10;
	char b1[32], b2[32];

	fprintf(out, "core        %s (%s)\n", r->core_path ? r->core_path : "-",
		hs_format_bytes(r->core_bytes, b1, sizeof(b1)));
	fprintf(out, "process     pid %" PRId64 ", %s, %" PRIu64 " thread%s\n",
		r->pid, r->executable ? r->executable : "?", r->threads,
		r->threads == 1 ? "" : "s");
	size_t nosyms = 0;
	for (size_t i = 0; i < r->nmodules; i++)
		if (!r->modules[i].symbols ||
		    strcmp(r->modules[i].symbols, "none") == 0)
			nosyms++;
	fprintf(out, "modules     %zu (%zu without symbols)\n", r->nmodules, nosyms);
	fprintf(out, "allocator   %s %s, %" PRIu64 " arena%s, located by %s",
		r->alloc_name ? r->alloc_name : "?",
		r->alloc_version ? r->alloc_version : "",
		r->arenas, r->arenas == 1 ? "" : "s",
		r->located_by ? r->located_by : "?");
	if (r->layout)
		fprintf(out, ", layout %s%s%s%s", r->layout,
			r->layout_row && *r->layout_row ? " (row " : "",
			r->layout_row && *r->layout_row ? r->layout_row : "",
			r->layout_row && *r->layout_row ? ")" : "");
	fputc('\n', out);

	if (r->ntypes && !r->leaks.present) {
		fprintf(out, "\ntop types (share of in-use bytes)\n%12s %12s %7s  %-8s %s\n",
			"count", "bytes", "share", "kind", "name");
		for (size_t i = 0; i < r->ntypes && i < top; i++) {
			const struct hs_report_type *t = &r->types[i];
			char conf[32] = "";
			if (t->has_confidence)
				snprintf(conf, sizeof(conf), " (confidence %.2f)",
					 t->confidence);
			fprintf(out, "%12" PRIu64 " %12s %6.1f%%  %-8s %s%s\n",
				t->count, hs_format_bytes(t->bytes, b1, sizeof(b1)),
				hs_pct(t->bytes, r->totals[HS_REPORT_IN_USE].bytes),
				t->kind, t->name, conf);
		}
	} else if (r->ntypes) {
		fprintf(out, "\ntop types (share of in-use bytes)\n%12s %12s %7s %12s  %-9s %s\n",
			"count", "bytes", "share", "leaked", "kind", "name");
		for (size_t i = 0; i < r->ntypes && i < top; i++) {
			const struct hs_report_type *t = &r->types[i];
			fprintf(out, "%12" PRIu64 " %12s %6.1f%% %12" PRIu64 "  %-9s %s\n",
				t->count, hs_format_bytes(t->bytes, b1, sizeof(b1)),
				hs_pct(t->bytes, r->totals[HS_REPORT_IN_USE].bytes),
				t->has_leaks ? t->leaked.count : 0, t->kind, t->name);
		}
		hs_text_leaks(r, out, top);
	}
	for (size_t i = 0; i < r->npatterns && i < top && i < HS_TEXT_MAX_PATTERNS; i++) {
		const struct hs_report_pattern *p = &r->patterns[i];
		if (i == 0)
			fprintf(out, "\ntop patterns (unclassified in-use chunks)\n");
		fprintf(out, "%12" PRIu64 " x %-8" PRIu64 " %12s  runs %-6" PRIu64 " %s\n",
			p->count, p->size, hs_format_bytes(p->bytes, b1, sizeof(b1)),
			p->runs, p->signature);
		if (p->nsamples && p->samples[0].hex)
			fprintf(out, "%s", p->samples[0].hex);
	}

	uint64_t all = 0;
	for (int s = 0; s < HS_REPORT_NSTATES; s++)
		all += r->totals[s].bytes;
	fprintf(out, "\n%-8s %14s %14s %7s\n", "state", "chunks", "bytes", "share");
	for (int s = 0; s < HS_REPORT_NSTATES; s++)
		fprintf(out, "%-8s %14" PRIu64 " %14s %6.1f%%\n",
			hs_report_state_name(s), r->totals[s].count,
			hs_format_bytes(r->totals[s].bytes, b1, sizeof(b1)),
			hs_pct(r->totals[s].bytes, all));
	if (r->metadata.count)
		fprintf(out, "(in_use includes %" PRIu64 " allocator metadata chunk%s, %s)\n",
			r->metadata.count, r->metadata.count == 1 ? "" : "s",
			hs_format_bytes(r->metadata.bytes, b1, sizeof(b1)));
	hs_text_memory(r, out);

	if (r->nsize_classes) {
		fprintf(out, "\ntop size classes (in use)\n%12s %12s %14s %7s\n",
			"size", "count", "bytes", "share");
		for (size_t i = 0; i < r->nsize_classes && i < top; i++) {
			const struct hs_report_size_class *c = &r->size_classes[i];
			fprintf(out, "%12" PRIu64 " %12" PRIu64 " %14s %6.1f%%\n",
				c->size, c->count,
				hs_format_bytes(c->bytes, b2, sizeof(b2)),
				hs_pct(c->bytes, r->totals[HS_REPORT_IN_USE].bytes));
		}
	}

	if (r->nstats) {
		fprintf(out, "\nallocator statistics\n");
		for (size_t i = 0; i < r->nstats; i++)
			fprintf(out, "  %-40s %" PRIu64 "\n", r->stats[i].name,
				r->stats[i].value);
	}

	fprintf(out, "\ndiagnostics: %zu", r->ndiags);
	if (r->diags_dropped)
		fprintf(out, " (+%" PRIu64 " not kept)", r->diags_dropped);
	fputc('\n', out);
	for (size_t i = 0; i < r->ndiags && i < top * 2; i++) {
		const struct hs_report_diag *d = &r->diags[i];
		if (d->has_address)
			fprintf(out, "  %-7s 0x%" PRIx64 ": %s\n", d->severity,
				d->address, d->message);
		else
			fprintf(out, "  %-7s %s\n", d->severity, d->message);
	}
	if (r->ndiags > top * 2)
		fprintf(out, "  ... %zu more in the JSON report\n", r->ndiags - top * 2);

	if (fflush(out) != 0 || ferror(out))
		return hs_error_create(HS_ERR_IO, "%s: write failed: %s", where,
				       strerror(errno));
	return NULL;
}
