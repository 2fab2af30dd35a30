/* report_page.c: the analyze page: treemap by type, sizes, memory map, patterns, diagnostics. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "page.h"

/* ------------------------------------------------------------ the treemap */

/* Whether types[i] gets an examples block (id "type-I") below the table;
 * every other shown type is only its table row (id "row-type-I"). */
static bool hs_type_has_detail(const struct hs_report *r, size_t i)
{
	return i < HS_HTML_SHOW_TYPES && r->types[i].nexamples;
}

struct hs_cell {
	const char *name, *kind;
	size_t type; /* index + 1 into the report's types; 0: no single type */
	uint64_t bytes, count, leaked;
	double x, y, w, h;
};

/* The worst aspect ratio of a row of cells of areas a[0..n) laid along a
 * side of length `side` (Bruls, Huizing, van Wijk: squarified treemaps). */
static double hs_worst(const double *a, size_t n, double side)
{
	double sum = 0, max = 0, min = 1e300;
	for (size_t i = 0; i < n; i++) {
		sum += a[i];
		if (a[i] > max)
			max = a[i];
		if (a[i] < min)
			min = a[i];
	}
	if (sum <= 0 || min <= 0)
		return 1e300;
	double s2 = side * side;
	double r1 = s2 * max / (sum * sum), r2 = sum * sum / (s2 * min);
	return r1 > r2 ? r1 : r2;
}

/* Lay cells (sorted by bytes, descending, all > 0) out in the rectangle. */
static void hs_squarify(struct hs_cell *c, size_t n, double x, double y, double w, double h)
{
	double total = 0;
	for (size_t i = 0; i < n; i++)
		total += (double)c[i].bytes;
	double *a = malloc(n * sizeof(*a));
	if (!a || total <= 0) {
		free(a);
		return;
	}
	for (size_t i = 0; i < n; i++)
		a[i] = (double)c[i].bytes * w * h / total;
	size_t i = 0;
	while (i < n) {
		double side = w < h ? w : h;
		size_t j = i + 1;
		while (j < n && hs_worst(a + i, j + 1 - i, side) <= hs_worst(a + i, j - i, side))
			j++;
		double sum = 0;
		for (size_t k = i; k < j; k++)
			sum += a[k];
		if (j == n || side <= 0) {
			/* The last row takes what is left, so rounding leaves no gap. */
			sum = w * h;
		}
		if (w >= h) {
			/* A column on the left. */
			double cw = h > 0 ? sum / h : 0, cy = y;
			for (size_t k = i; k < j; k++) {
				double ch = cw > 0 ? a[k] / cw : 0;
				if (j == n || k + 1 == j)
					ch = y + h - cy; /* the column's last cell fills it */
				c[k].x = x, c[k].y = cy, c[k].w = cw, c[k].h = ch;
				cy += ch;
			}
			x += cw;
			w -= cw;
		} else {
			double rh = w > 0 ? sum / w : 0, cx = x;
			for (size_t k = i; k < j; k++) {
				double cw = rh > 0 ? a[k] / rh : 0;
				if (k + 1 == j)
					cw = x + w - cx;
				c[k].x = cx, c[k].y = y, c[k].w = cw, c[k].h = rh;
				cx += cw;
			}
			y += rh;
			h -= rh;
		}
		i = j;
	}
	free(a);
}

static void hs_treemap(FILE *out, const struct hs_report *r, bool leaks)
{
	const double W = 1150, H = 440;
	size_t n = 0, nother = 0;
	struct hs_cell *cells = calloc(HS_HTML_MAX_TREEMAP + 2, sizeof(*cells));
	if (!cells)
		return;
	struct hs_cell other = {.kind = "other"};
	char other_name[64];
	for (size_t i = 0; i < r->ntypes; i++) {
		const struct hs_report_type *t = &r->types[i];
		if (!t->bytes)
			continue;
		uint64_t lc, lb;
		hs_report_type_leaked(r, i, &lc, &lb);
		/* Types are sorted by bytes, so the first are the largest. */
		struct hs_cell *c = &other;
		if (n < HS_HTML_MAX_TREEMAP) {
			c = &cells[n++];
			*c = (struct hs_cell){.name = t->name, .kind = t->kind, .type = i + 1};
		} else {
			nother++;
		}
		c->bytes += t->bytes;
		c->count += t->count;
		c->leaked += lb;
	}
	if (nother) {
		snprintf(other_name, sizeof(other_name), "%zu other types", nother);
		other.name = other_name;
		cells[n++] = other;
	}
	if (r->metadata.bytes)
		cells[n++] = (struct hs_cell){.name = "allocator metadata", .kind = "metadata",
					      .bytes = r->metadata.bytes,
					      .count = r->metadata.count};
	/* Sort by bytes again: "other" or metadata may outweigh some types. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && cells[j].bytes > cells[j - 1].bytes; j--) {
			struct hs_cell t = cells[j];
			cells[j] = cells[j - 1];
			cells[j - 1] = t;
		}
	if (!n) {
		fputs("<p class=\"muted\">No in-use chunk has a type.</p>\n", out);
		free(cells);
		return;
	}
	hs_squarify(cells, n, 0, 0, W, H);
	fprintf(out, "<svg id=\"treemap\" role=\"img\" width=\"100%%\" viewBox=\"0 0 %.0f %.0f\" "
		"preserveAspectRatio=\"xMinYMin meet\">\n"
		"<defs><pattern id=\"leak\" width=\"6\" height=\"6\" "
		"patternUnits=\"userSpaceOnUse\" "
		"patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#c0392b\"/>"
		"<rect width=\"3\" height=\"6\" fill=\"#e8a09a\"/></pattern></defs>\n",
		W, H);
	uint64_t inuse = r->totals[HS_REPORT_IN_USE].bytes;
	for (size_t i = 0; i < n; i++) {
		struct hs_cell *c = &cells[i];
		size_t idx = c->type;
		char b[32];
		if (idx)
			fprintf(out, "<a href=\"#%stype-%zu\">",
				hs_type_has_detail(r, idx - 1) ? "" : "row-", idx - 1);
		fputs("<g><title>", out);
		hs_page_esc(out, c->name);
		fprintf(out, " (%s): %s in %" PRIu64 " chunks, %.1f%% of in-use bytes",
			c->kind, hs_format_bytes(c->bytes, b, sizeof(b)), c->count,
			inuse ? 100.0 * (double)c->bytes / (double)inuse : 0.0);
		if (leaks && c->leaked)
			fprintf(out, "; leaked %s", hs_format_bytes(c->leaked, b, sizeof(b)));
		fprintf(out, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"fill=\"%s\" stroke=\"#fff\"/>",
			c->x, c->y, c->w, c->h, hs_page_kind_color(c->kind));
		if (leaks && c->leaked && c->bytes) {
			/* The leaked share, as a hatched band at the cell's foot. */
			double lh = c->h * ((double)c->leaked / (double)c->bytes);
			fprintf(out, "<rect class=\"leaked\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" fill=\"url(#leak)\" opacity=\"0.85\"/>",
				c->x, c->y + c->h - lh, c->w, lh);
		}
		if (c->w > 46 && c->h > 16) {
			size_t max = (size_t)((c->w - 8) / 6.6);
			const char *name = c->name ? c->name : "-";
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#fff\">", c->x + 4,
				c->y + 13);
			if (strlen(name) > max && max > 1) {
				char *cut = strndup(name, max - 1);
				hs_page_esc(out, cut);
				fputs("\xe2\x80\xa6", out);
				free(cut);
			} else {
				hs_page_esc(out, name);
			}
			fputs("</text>", out);
			if (c->h > 32)
				fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#fff\">%s</text>",
					c->x + 4, c->y + 27,
					hs_format_bytes(c->bytes, b, sizeof(b)));
		}
		fputs(idx ? "</g></a>\n" : "</g>\n", out);
	}
	fputs("</svg>\n<div class=\"legend\">", out);
	static const char *const kinds[] = {"vtable", "string", "cstring", "sds", "robj",
					    "container", "pattern", "metadata", "other"};
	for (size_t k = 0; k < HS_ARRAY_SIZE(kinds); k++)
		fprintf(out, "<span><i class=\"sw\" style=\"background:%s\"></i>%s</span>",
			hs_page_kind_color(kinds[k]), kinds[k]);
	if (leaks)
		fputs("<span><i class=\"sw\" style=\"background:#c0392b\"></i>leaked part</span>",
		      out);
	fputs("</div>\n", out);
	free(cells);
}

/* -------------------------------------------------- the size histogram */

static void hs_size_histogram(FILE *out, const struct hs_report *r)
{
	/* Buckets [2^k, 2^(k+1)): every size class counts, not only the top. */
	uint64_t bytes[64] = {0}, count[64] = {0};
	int lo = 64, hi = -1;
	for (size_t i = 0; i < r->nsize_classes; i++) {
		const struct hs_report_size_class *s = &r->size_classes[i];
		if (!s->size)
			continue;
		int k = 63 - __builtin_clzll(s->size);
		bytes[k] += s->bytes;
		count[k] += s->count;
		if (k < lo)
			lo = k;
		if (k > hi)
			hi = k;
	}
	if (hi < 0) {
		fputs("<p class=\"muted\">No chunk in use.</p>\n", out);
		return;
	}
	uint64_t max = 1;
	for (int k = lo; k <= hi; k++)
		if (bytes[k] > max)
			max = bytes[k];
	int nb = hi - lo + 1;
	const int chart_h = 200, top = 18;
	double bw = 1100.0 / nb;
	if (bw > 70)
		bw = 70;
	fprintf(out, "<svg id=\"histogram\" role=\"img\" width=\"100%%\" viewBox=\"0 0 %.0f %d\" "
		"preserveAspectRatio=\"xMinYMin meet\">\n",
		bw * nb + 20, chart_h + top + 34);
	for (int k = lo; k <= hi; k++) {
		double x = 10 + (k - lo) * bw;
		double h = (double)chart_h * ((double)bytes[k] / (double)max);
		char b1[32], b2[32], b3[32];
		hs_format_bytes((uint64_t)1 << k, b1, sizeof(b1));
		hs_format_bytes(k < 63 ? ((uint64_t)1 << (k + 1)) - 1 : UINT64_MAX, b2, sizeof(b2));
		fprintf(out, "<g><title>%s to %s: %" PRIu64 " chunks, %s</title>", b1, b2,
			count[k], hs_format_bytes(bytes[k], b3, sizeof(b3)));
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"fill=\"#4e79a7\"/>",
			x + 2, top + chart_h - h, bw - 4, h < 1 && bytes[k] ? 1 : h);
		if (bytes[k])
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
				x + bw / 2, top + chart_h - h - 4,
				hs_format_bytes(bytes[k], b3, sizeof(b3)));
		/* "1.0 KiB" reads worse than "1K" under a narrow bar. */
		static const char units[] = " KMGTPE";
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%llu%.*s</text>",
			x + bw / 2, top + chart_h + 14, 1ull << (k % 10), k >= 10 ? 1 : 0,
			&units[k / 10]);
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
			"fill=\"#5b6475\">%" PRIu64 "</text></g>\n",
			x + bw / 2, top + chart_h + 28, count[k]);
	}
	fputs("</svg>\n<p class=\"muted\">In-use bytes per power-of-two size range (the "
	      "range's lower bound, then its chunk count, below each bar).</p>\n",
	      out);
}

/* ------------------------------------------------------- the memory map */

/*
 * The memory map as rows of {what, address space, bytes in the core}. The
 * report's memory section today has the address space and the dumped bytes
 * in total, the modules, and the chunk and allocator-region bytes; the rest
 * of the address space is "other". Only this function reads memory.*.
 */
struct hs_mem_row {
	const char *label, *color;
	char name[96]; /* the label of a named row of the memory table */
	uint64_t virt; /* as the report counts it */
	uint64_t bar;  /* as the bar draws it: the rows end at memory.mapped */
	/* Bytes of the row in the core file, when the report says (a memory
	 * table whose rows carry `dumped`); otherwise the core's bar is one
	 * total. */
	bool has_dumped;
	uint64_t dumped;
};

/*
 * The memory table's kinds (the report's memory.regions, docs/report.md),
 * in its order, with the label and colour the page gives each.
 */
static const struct {
	const char *kind, *label, *color;
} hs_mem_kinds[] = {
	{"in_use", "heap: in use", "#4e79a7"},
	{"free", "heap: free", "#a0cbe8"},
	{"cached", "heap: cached", "#86bcb6"},
	{"allocator_metadata", "allocator metadata", "#d4a6c8"},
	{"allocator_reserved", "allocator reserved", "#f1ce63"},
	{"modules", "modules (mapped ELF files)", "#9c9ea3"},
	{"data_files", "data files", "#bab0ac"},
	{"stacks", "thread stacks", "#ff9d9a"},
	{"other_anonymous", "other anonymous memory", "#d37295"},
	{"inaccessible", "inaccessible (PROT_NONE)", "#e3e5e9"},
};

static const char *hs_mem_color(const char *kind)
{
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_mem_kinds); i++)
		if (!strcmp(kind, hs_mem_kinds[i].kind))
			return hs_mem_kinds[i].color;
	return "#f1ce63"; /* an allocator region kind: reserved space */
}

static const char *hs_mem_label(const char *kind)
{
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_mem_kinds); i++)
		if (!strcmp(kind, hs_mem_kinds[i].kind))
			return hs_mem_kinds[i].label;
	return kind;
}

static size_t hs_memory_rows(const struct hs_report *r, struct hs_mem_row *rows, size_t max)
{
	const struct hs_report_memory *m = &r->memory;
	size_t n = 0;
	uint64_t used = 0;
	if (m->nregions) {
		/* The memory table: every byte in one row, the rows end at
		 * memory.mapped; named rows follow their kind's. */
		for (size_t i = 0; i < m->nregions && n < max; i++) {
			const struct hs_report_mem_row *t = &m->regions[i];
			if (!t->bytes)
				continue;
			struct hs_mem_row *row = &rows[n++];
			*row = (struct hs_mem_row){hs_mem_label(t->kind), hs_mem_color(t->kind), "",
						   t->bytes, t->bytes, true, t->dumped};
			if (t->name) {
				snprintf(row->name, sizeof(row->name), "%s (%s)", row->label,
					 t->name);
				row->label = row->name;
			}
		}
		return n;
	}
	/*
	 * Today's figures overlap: a module's range counts its gaps, which the
	 * core's segments may not. The bar draws each row clipped to what the
	 * rows before it left of the address space; the table keeps the
	 * report's own figures.
	 */
#define HS_ROW(k, v)                                                             \
	do {                                                                     \
		if ((v) && n < max) {                                            \
			uint64_t left_ = m->mapped > used ? m->mapped - used : 0; \
			uint64_t bar_ = (v) < left_ ? (v) : left_;               \
			rows[n++] = (struct hs_mem_row){hs_mem_label(k),         \
							hs_mem_color(k), "", (v), \
							bar_, false, 0};         \
			used += bar_;                                            \
		}                                                                \
	} while (0)
	uint64_t inuse = r->totals[HS_REPORT_IN_USE].bytes;
	HS_ROW("in_use", inuse > r->metadata.bytes ? inuse - r->metadata.bytes : 0);
	HS_ROW("free", r->totals[HS_REPORT_FREE].bytes);
	HS_ROW("cached", r->totals[HS_REPORT_CACHED].bytes);
	HS_ROW("allocator_metadata", r->metadata.bytes);
	for (size_t i = 0; i < m->nalloc_regions; i++)
		HS_ROW(m->alloc_regions[i].kind, m->alloc_regions[i].bytes);
	HS_ROW("modules", m->modules);
	if (m->mapped > used) {
		uint64_t rest = m->mapped - used;
		if (n < max)
			rows[n++] = (struct hs_mem_row){"other mapped memory", "#e9eaee", "", rest,
							rest, false, 0};
	}
#undef HS_ROW
	return n;
}

static void hs_stacked_bar(FILE *out, const char *title, const struct hs_mem_row *rows,
			   size_t n, uint64_t total, int y)
{
	const double W = 1150, left = 130;
	char b[32];
	fprintf(out, "<text x=\"0\" y=\"%d\">", y + 18);
	hs_page_esc(out, title);
	fputs("</text>\n", out);
	double x = left;
	for (size_t i = 0; i < n; i++) {
		double w = total ? (W - left) * ((double)rows[i].bar / (double)total) : 0;
		if (!rows[i].bar)
			continue;
		fputs("<g><title>", out);
		hs_page_esc(out, rows[i].label);
		fprintf(out, ": %s (%.1f%%)</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
			"height=\"26\" fill=\"%s\"/></g>\n",
			hs_format_bytes(rows[i].virt, b, sizeof(b)),
			total ? 100.0 * (double)rows[i].virt / (double)total : 0.0, x, y, w,
			rows[i].color);
		x += w;
	}
}

static void hs_memory(FILE *out, const struct hs_report *r)
{
	const struct hs_report_memory *m = &r->memory;
	struct hs_mem_row rows[32];
	size_t n = hs_memory_rows(r, rows, HS_ARRAY_SIZE(rows));
	uint64_t total = m->mapped;
	if (!total) {
		fputs("<p class=\"muted\">The report has no memory map.</p>\n", out);
		return;
	}
	bool per_kind = n > 0;
	for (size_t i = 0; i < n; i++)
		per_kind &= rows[i].has_dumped;
	uint64_t in_core = m->dumped < m->mapped ? m->dumped : m->mapped;
	struct hs_mem_row core[32] = {
		{"in the core file", "#4e79a7", "", in_core, in_core, false, 0},
		{"not in the core (never touched, or left out)", "#e3e5e9", "",
		 m->mapped - in_core, m->mapped - in_core, false, 0},
	};
	size_t ncore = 2;
	if (per_kind) {
		/* The core's bar by kind too: each row's dumped bytes. */
		for (size_t i = 0; i < n; i++) {
			core[i] = rows[i];
			if (rows[i].label == rows[i].name)
				core[i].label = core[i].name;
			core[i].virt = core[i].bar = rows[i].dumped;
		}
		ncore = n;
	}
	fputs("<svg id=\"memory-bar\" role=\"img\" width=\"100%\" viewBox=\"0 0 1150 70\">\n",
	      out);
	hs_stacked_bar(out, "address space", rows, n, total, 2);
	hs_stacked_bar(out, "in the core", core, ncore, total, 38);
	fputs("</svg>\n", out);
	const char *cols[] = {"Memory", "#Bytes", "#Share of address space", "#In the core"};
	hs_page_table_begin(out, "memory", cols, HS_ARRAY_SIZE(cols) - !per_kind);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "<tr><td><i class=\"sw\" style=\"background:%s\"></i>", rows[i].color);
		hs_page_esc(out, rows[i].label);
		fputs("</td>", out);
		hs_page_td_bytes(out, rows[i].virt);
		hs_page_td_pct(out, rows[i].virt, total);
		if (per_kind)
			hs_page_td_bytes(out, rows[i].dumped);
		fputs("</tr>\n", out);
	}
	fputs("<tr><td>address space (all segments)</td>", out);
	hs_page_td_bytes(out, m->mapped);
	hs_page_td_pct(out, m->mapped, total);
	if (per_kind)
		hs_page_td_bytes(out, m->dumped);
	fputs("</tr>\n<tr><td>in the core file</td>", out);
	hs_page_td_bytes(out, m->dumped);
	hs_page_td_pct(out, m->dumped, total);
	if (per_kind)
		hs_page_td_bytes(out, m->dumped);
	fputs("</tr>\n", out);
	hs_page_table_end(out);
	if (m->nregions)
		fputs("<p class=\"muted\">Shares are of the address space; every byte of it is in "
		      "one row.</p>\n", out);
	else
		fputs("<p class=\"muted\">Shares are of the address space. A module's range counts "
		      "the gaps between its segments, so the rows can add up to more than the "
		      "address space; the bar stops at it.</p>\n",
		      out);
}

/* ------------------------------------------------------------- sections */

static void hs_header(FILE *out, const struct hs_report *r)
{
	char b1[32], when[64];
	hs_page_time(r->captured_at, when, sizeof(when));
	fputs("<header><h1>heapscope: ", out);
	hs_page_esc(out, r->executable);
	fprintf(out, " (pid %" PRId64 ")</h1><p>", r->pid);
	hs_page_esc(out, r->core_path);
	fprintf(out, " (%s), captured %s; %s %s", hs_format_bytes(r->core_bytes, b1, sizeof(b1)),
		when, r->alloc_name ? r->alloc_name : "?", "");
	hs_page_esc(out, r->alloc_version);
	if (r->layout) {
		fputs(", layout ", out);
		hs_page_esc(out, r->layout);
	}
	fprintf(out, "; %" PRIu64 " thread%s; heapscope %s</p>\n", r->threads,
		r->threads == 1 ? "" : "s", HS_VERSION);
	fputs("<nav><a href=\"#types-section\">types</a><a href=\"#sizes-section\">sizes</a>"
	      "<a href=\"#memory-section\">memory</a><a href=\"#patterns-section\">patterns</a>"
	      "<a href=\"#stats-section\">statistics</a><a href=\"#modules-section\">modules</a>"
	      "<a href=\"#diagnostics-section\">diagnostics</a></nav></header>\n<main>\n",
	      out);
}

static void hs_cards(FILE *out, const struct hs_report *r, bool leaks)
{
	char v[32], s[64];
	size_t nerr = 0;
	for (size_t i = 0; i < r->ndiags; i++)
		if (r->diags[i].severity && !strcmp(r->diags[i].severity, "error"))
			nerr++;
	fputs("<div class=\"cards\" id=\"cards\">\n", out);
	for (int st = 0; st < HS_REPORT_NSTATES; st++) {
		snprintf(s, sizeof(s), "%" PRIu64 " chunk%s", r->totals[st].count,
			 r->totals[st].count == 1 ? "" : "s");
		char label[32];
		snprintf(label, sizeof(label), "%s", hs_report_state_name(st));
		if (st == HS_REPORT_IN_USE)
			snprintf(label, sizeof(label), "in use");
		hs_format_bytes(r->totals[st].bytes, v, sizeof(v));
		hs_page_card(out, label, v, s, false);
	}
	if (leaks) {
		uint64_t lc = 0, lb = 0;
		for (size_t i = 0; i < r->ntypes; i++) {
			uint64_t c, b;
			hs_report_type_leaked(r, i, &c, &b);
			lc += c;
			lb += b;
		}
		snprintf(s, sizeof(s), "%" PRIu64 " chunks", lc);
		hs_page_card(out, "leaked", hs_format_bytes(lb, v, sizeof(v)), s, lb != 0);
	}
	snprintf(v, sizeof(v), "%zu", r->ntypes);
	hs_page_card(out, "types", v, "names and pattern clusters", false);
	snprintf(v, sizeof(v), "%zu", r->ndiags);
	snprintf(s, sizeof(s), "%zu error%s", nerr, nerr == 1 ? "" : "s");
	hs_page_card(out, "diagnostics", v, s, nerr != 0);
	fputs("</div>\n", out);
}

/* A show text into a string, or NULL with *why set. */
static char *hs_show_text(const struct hs_html_options *o, uint64_t addr, char *why,
			  size_t len)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	if (!f) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	struct hs_error *err = o->show(addr, f, o->show_arg);
	if (fclose(f) != 0 && !err)
		err = HS_ENOMEM;
	if (err) {
		snprintf(why, len, "%s", err->message);
		hs_error_destroy(err);
		free(text);
		return NULL;
	}
	return text;
}

static void hs_types(FILE *out, const struct hs_report *r, const struct hs_html_options *o,
		     bool leaks)
{
	uint64_t inuse = r->totals[HS_REPORT_IN_USE].bytes;
	size_t shown = r->ntypes < HS_HTML_MAX_TYPES ? r->ntypes : HS_HTML_MAX_TYPES;
	const char *cols[] = {"Type", "Kind", "#Count", "#Bytes", "#Share", "#Leaked", "Examples"};
	size_t ncols = HS_ARRAY_SIZE(cols);
	if (!leaks) {
		cols[5] = cols[6];
		ncols--;
	}
	hs_page_table_begin(out, "types", cols, ncols);
	for (size_t i = 0; i < shown; i++) {
		const struct hs_report_type *t = &r->types[i];
		bool detail = hs_type_has_detail(r, i);
		fprintf(out, "<tr id=\"row-type-%zu\"><td class=\"name\">", i);
		if (detail)
			fprintf(out, "<a href=\"#type-%zu\">", i);
		hs_page_esc(out, t->name);
		fputs(detail ? "</a></td>" : "</td>", out);
		fprintf(out, "<td><i class=\"sw\" style=\"background:%s\"></i>",
			hs_page_kind_color(t->kind));
		hs_page_esc(out, t->kind);
		fputs("</td>", out);
		hs_page_td_count(out, t->count);
		hs_page_td_bytes(out, t->bytes);
		hs_page_td_pct(out, t->bytes, inuse);
		if (leaks) {
			uint64_t lc, lb;
			hs_report_type_leaked(r, i, &lc, &lb);
			hs_page_td_bytes(out, lb);
		}
		fputs("<td>", out);
		for (size_t j = 0; j < t->nexamples && j < HS_HTML_SHOW_EXAMPLES; j++)
			fprintf(out, "%s<code>0x%" PRIx64 "</code>", j ? " " : "", t->examples[j]);
		fputs("</td></tr>\n", out);
	}
	hs_page_table_end(out);
	hs_page_more(out, shown, r->ntypes, "types");

	/* The examples of the largest types, with what `show` says of each. */
	bool any = false;
	for (size_t i = 0; i < r->ntypes && i < HS_HTML_SHOW_TYPES; i++) {
		const struct hs_report_type *t = &r->types[i];
		if (!t->nexamples)
			continue;
		if (!any)
			fputs("<h3>Examples</h3>\n", out);
		any = true;
		fprintf(out, "<details id=\"type-%zu\" class=\"examples\"><summary>", i);
		hs_page_esc(out, t->name);
		fprintf(out, " <span class=\"muted\">(%s, %" PRIu64 " chunks)</span></summary>\n",
			t->kind, t->count);
		for (size_t j = 0; j < t->nexamples && j < HS_HTML_SHOW_EXAMPLES; j++) {
			uint64_t addr = t->examples[j];
			fprintf(out, "<div class=\"example\"><code>0x%" PRIx64 "</code>", addr);
			if (o->show) {
				char why[256];
				char *text = hs_show_text(o, addr, why, sizeof(why));
				if (text) {
					fputs("<pre>", out);
					hs_page_esc(out, text);
					fputs("</pre>", out);
				} else {
					fputs(" <span class=\"muted\">(show: ", out);
					hs_page_esc(out, why);
					fputs(")</span>", out);
				}
				free(text);
			} else {
				fprintf(out, " <span class=\"muted\">(heapscope show CORE 0x%" PRIx64
					" prints it)</span>", addr);
			}
			fputs("</div>\n", out);
		}
		fputs("</details>\n", out);
	}
}

static void hs_size_classes(FILE *out, const struct hs_report *r)
{
	hs_size_histogram(out, r);
	size_t shown = r->nsize_classes < HS_HTML_MAX_SIZE_CLASSES ? r->nsize_classes
								   : HS_HTML_MAX_SIZE_CLASSES;
	const char *cols[] = {"#Size", "#Count", "#Bytes", "#Share"};
	fputs("<details><summary>The largest size classes</summary>\n", out);
	hs_page_table_begin(out, "size-classes", cols, HS_ARRAY_SIZE(cols));
	for (size_t i = 0; i < shown; i++) {
		const struct hs_report_size_class *s = &r->size_classes[i];
		fputs("<tr>", out);
		hs_page_td_count(out, s->size);
		hs_page_td_count(out, s->count);
		hs_page_td_bytes(out, s->bytes);
		hs_page_td_pct(out, s->bytes, r->totals[HS_REPORT_IN_USE].bytes);
		fputs("</tr>\n", out);
	}
	hs_page_table_end(out);
	hs_page_more(out, shown, r->nsize_classes, "size classes");
	fputs("</details>\n", out);
}

static void hs_patterns(FILE *out, const struct hs_report *r, bool redact)
{
	if (!r->npatterns) {
		fputs("<p class=\"muted\">No pattern clusters: every in-use chunk has a "
		      "type.</p>\n",
		      out);
		return;
	}
	size_t shown = r->npatterns < HS_HTML_MAX_PATTERNS ? r->npatterns : HS_HTML_MAX_PATTERNS;
	const char *cols[] = {"Signature", "#Size", "#Count", "#Bytes", "#Runs"};
	hs_page_table_begin(out, "patterns", cols, HS_ARRAY_SIZE(cols));
	for (size_t i = 0; i < shown; i++) {
		const struct hs_report_pattern *p = &r->patterns[i];
		fputs("<tr><td class=\"name\">", out);
		if (i < HS_HTML_MAX_HEXDUMPS)
			fprintf(out, "<a href=\"#pattern-%zu\">", i);
		fputs("<code>", out);
		hs_page_esc(out, p->signature);
		fputs(i < HS_HTML_MAX_HEXDUMPS ? "</code></a></td>" : "</code></td>", out);
		hs_page_td_count(out, p->size);
		hs_page_td_count(out, p->count);
		hs_page_td_bytes(out, p->bytes);
		hs_page_td_count(out, p->runs);
		fputs("</tr>\n", out);
	}
	hs_page_table_end(out);
	hs_page_more(out, shown, r->npatterns, "patterns");
	fputs("<h3>Samples</h3>\n", out);
	for (size_t i = 0; i < r->npatterns && i < HS_HTML_MAX_HEXDUMPS; i++) {
		const struct hs_report_pattern *p = &r->patterns[i];
		fprintf(out, "<details id=\"pattern-%zu\"%s><summary>%" PRIu64 " x %" PRIu64
			" bytes <code>",
			i, i < 3 ? " open" : "", p->count, p->size);
		hs_page_esc(out, p->signature);
		fputs("</code></summary>\n", out);
		for (size_t j = 0; j < p->nsamples; j++) {
			fprintf(out, "<div class=\"sample\"><code>0x%" PRIx64 "</code>",
				p->samples[j].address);
			if (redact || !p->samples[j].hex)
				fputs(" <span class=\"muted\">(redacted)</span></div>\n", out);
			else {
				fputs("<pre>", out);
				hs_page_esc(out, p->samples[j].hex);
				fputs("</pre></div>\n", out);
			}
		}
		fputs("</details>\n", out);
	}
}

static void hs_stats_modules(FILE *out, const struct hs_report *r)
{
	fputs("<section id=\"stats-section\"><h2>Allocator statistics</h2>\n", out);
	fputs("<p>", out);
	hs_page_esc(out, r->alloc_name);
	fputc(' ', out);
	hs_page_esc(out, r->alloc_version);
	fprintf(out, ", %" PRIu64 " arena%s, located by ", r->arenas, r->arenas == 1 ? "" : "s");
	hs_page_esc(out, r->located_by);
	if (r->layout) {
		fputs(", layout ", out);
		hs_page_esc(out, r->layout);
		if (r->layout_row && *r->layout_row) {
			fputs(" (row ", out);
			hs_page_esc(out, r->layout_row);
			fputc(')', out);
		}
	}
	fputs(". The allocator's own statistics, as the walk recomputed them:</p>\n", out);
	const char *scols[] = {"Statistic", "#Value"};
	hs_page_table_begin(out, "stats", scols, HS_ARRAY_SIZE(scols));
	for (size_t i = 0; i < r->nstats; i++) {
		fputs("<tr>", out);
		hs_page_td_text(out, r->stats[i].name);
		hs_page_td_count(out, r->stats[i].value);
		fputs("</tr>\n", out);
	}
	hs_page_table_end(out);
	fputs("</section>\n<section id=\"modules-section\"><h2>Modules</h2>\n", out);
	size_t shown = r->nmodules < HS_HTML_MAX_MODULES ? r->nmodules : HS_HTML_MAX_MODULES;
	const char *mcols[] = {"Path", "Base", "Build-id", "Symbols"};
	hs_page_table_begin(out, "modules", mcols, HS_ARRAY_SIZE(mcols));
	for (size_t i = 0; i < shown; i++) {
		const struct hs_report_module *m = &r->modules[i];
		fputs("<tr>", out);
		hs_page_td_text(out, m->path);
		hs_page_td_addr(out, m->base);
		fputs("<td><code>", out);
		hs_page_esc(out, m->build_id);
		fputs("</code></td>", out);
		hs_page_td_text(out, m->symbols);
		fputs("</tr>\n", out);
	}
	hs_page_table_end(out);
	hs_page_more(out, shown, r->nmodules, "modules");
	fputs("</section>\n", out);
}

static void hs_diagnostics(FILE *out, const struct hs_report *r)
{
	fprintf(out, "<section id=\"diagnostics-section\"><h2>Diagnostics (%zu", r->ndiags);
	if (r->diags_dropped)
		fprintf(out, ", %" PRIu64 " more not kept", r->diags_dropped);
	fputs(")</h2>\n", out);
	if (!r->ndiags) {
		fputs("<p class=\"muted\">None: the walk found nothing inconsistent.</p>"
		      "</section>\n",
		      out);
		return;
	}
	size_t shown = r->ndiags < HS_HTML_MAX_DIAGS ? r->ndiags : HS_HTML_MAX_DIAGS;
	const char *cols[] = {"Severity", "Address", "Message"};
	hs_page_table_begin(out, "diagnostics", cols, HS_ARRAY_SIZE(cols));
	for (size_t i = 0; i < shown; i++) {
		const struct hs_report_diag *d = &r->diags[i];
		fputs("<tr><td class=\"sev-", out);
		hs_page_esc(out, d->severity);
		fputs("\">", out);
		hs_page_esc(out, d->severity);
		fputs("</td>", out);
		if (d->has_address)
			hs_page_td_addr(out, d->address);
		else
			fputs("<td></td>", out);
		hs_page_td_text(out, d->message);
		fputs("</tr>\n", out);
	}
	hs_page_table_end(out);
	hs_page_more(out, shown, r->ndiags, "diagnostics");
	fputs("</section>\n", out);
}

struct hs_error *hs_html_write_report(const struct hs_report *r,
				      const struct hs_html_options *opts, FILE *out,
				      const char *where)
{
	struct hs_html_options none = {0};
	const struct hs_html_options *o = opts ? opts : &none;
	bool leaks = hs_report_has_leaks(r);
	char title[256];
	snprintf(title, sizeof(title), "heapscope: %s (pid %" PRId64 ")",
		 r->executable ? r->executable : "?", r->pid);
	hs_page_begin(out, title);
	hs_header(out, r);
	hs_cards(out, r, leaks);

	fputs("<section id=\"types-section\"><h2>In-use bytes by type</h2>\n", out);
	fputs("<p class=\"muted\">Each rectangle's area is a type's share of the in-use bytes; "
	      "click one for its example addresses.", out);
	if (!leaks)
		fputs(" This report has no reachability verdicts, so no part is marked leaked.",
		      out);
	fputs("</p>\n", out);
	hs_treemap(out, r, leaks);
	hs_types(out, r, o, leaks);
	fputs("</section>\n", out);

	fputs("<section id=\"sizes-section\"><h2>Size classes</h2>\n", out);
	hs_size_classes(out, r);
	fputs("</section>\n", out);

	fputs("<section id=\"memory-section\"><h2>Memory map</h2>\n", out);
	hs_memory(out, r);
	fputs("</section>\n", out);

	fputs("<section id=\"patterns-section\"><h2>Top patterns</h2>\n"
	      "<p class=\"muted\">Unrecognised in-use chunks, clustered by size and the shape of "
	      "their first words (0 zero, H heap pointer, M module pointer, i small integer, "
	      "t text, ? other).</p>\n",
	      out);
	hs_patterns(out, r, o->redact);
	fputs("</section>\n", out);

	hs_stats_modules(out, r);
	hs_diagnostics(out, r);
	fputs("</main>\n", out);
	return hs_page_end(out, where);
}
