/* diff_page.c: the diff page: the captures side by side, growth by type and per hour. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../analyzer/diff.h"
#include "page.h"

/* ---------------------------------------------------------------- helpers */

static bool hs_rated(const struct hs_diff *d)
{
	return d->has_elapsed && d->elapsed > 0;
}

/* A change per hour, rounded; saturates rather than overflowing. */
static int64_t hs_per_hour(const struct hs_diff *d, int64_t v)
{
	double per = (double)v * 3600.0 / (double)d->elapsed;
	if (per >= 9.2e18)
		return INT64_MAX;
	if (per <= -9.2e18)
		return INT64_MIN;
	return (int64_t)llround(per);
}

static const char *hs_status_name(enum hs_diff_status s)
{
	return s == HS_DIFF_NEW ? "new" : s == HS_DIFF_GONE ? "gone" : "common";
}

/* after / before in bytes, as the growth column shows it (new rows have none). */
static void hs_td_growth(FILE *out, const struct hs_diff_row *row)
{
	if (!row->before.bytes && !row->after.bytes) {
		fputs("<td class=\"n\" data-v=\"1\">-</td>", out);
		return;
	}
	if (row->status == HS_DIFF_NEW || !row->before.bytes) {
		fputs("<td class=\"n\" data-v=\"1e300\">new</td>", out);
		return;
	}
	double g = (double)row->after.bytes / (double)row->before.bytes;
	fprintf(out, "<td class=\"n\" data-v=\"%.6g\">x%.2f</td>", g, g);
}

static void hs_td_rate(FILE *out, const struct hs_diff *d, int64_t v)
{
	char b[48];
	int64_t per = hs_per_hour(d, v);
	fprintf(out, "<td class=\"n %s\" data-v=\"%" PRId64 "\">%s/h</td>",
		per > 0 ? "up" : per < 0 ? "down" : "", per, hs_page_sbytes(per, b, sizeof(b)));
}

/* Old and new count and bytes, the changes, the growth and the rate. */
static void hs_change_cells(FILE *out, const struct hs_diff *d, const struct hs_diff_row *row)
{
	hs_page_td_count(out, row->before.count);
	hs_page_td_count(out, row->after.count);
	hs_page_td_dcount(out, row->dcount);
	hs_page_td_bytes(out, row->before.bytes);
	hs_page_td_bytes(out, row->after.bytes);
	hs_page_td_dbytes(out, row->dbytes);
	hs_td_growth(out, row);
	if (hs_rated(d))
		hs_td_rate(out, d, row->dbytes);
}

/* ------------------------------------------------------------- sections */

static void hs_header(FILE *out, const struct hs_diff *d)
{
	const struct hs_report *a = d->before.report, *b = d->after.report;
	fputs("<header><h1>heapscope diff: ", out);
	hs_page_esc(out, b->executable ? b->executable : a->executable);
	fputs("</h1><p>", out);
	hs_page_esc(out, d->before.source);
	fputs(" &#8594; ", out);
	hs_page_esc(out, d->after.source);
	if (d->has_elapsed) {
		int64_t s = d->elapsed;
		uint64_t m = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
		fprintf(out, "; %s%" PRIu64 "h %02" PRIu64 "m %02" PRIu64 "s apart%s",
			s < 0 ? "-" : "", m / 3600, m / 60 % 60, m % 60,
			s < 0 ? " (NEW was captured before OLD)" : "");
	} else {
		fputs("; elapsed time unknown (a capture time is missing: see --captured-at)", out);
	}
	fprintf(out, "; heapscope %s</p>\n", HS_VERSION);
	fputs("<nav><a href=\"#captures-section\">captures</a>"
	      "<a href=\"#growth-section\">growth</a><a href=\"#rate-section\">per hour</a>"
	      "<a href=\"#newgone-section\">new and vanished</a>"
	      "<a href=\"#types-section\">types</a><a href=\"#sizes-section\">sizes</a>"
	      "<a href=\"#patterns-section\">patterns</a>"
	      "<a href=\"#stats-section\">statistics</a></nav></header>\n<main>\n",
	      out);
}

static void hs_cards(FILE *out, const struct hs_diff *d)
{
	const struct hs_diff_row *t = &d->totals[HS_REPORT_IN_USE];
	char v[48], s[64];
	fputs("<div class=\"cards\" id=\"cards\">\n", out);
	snprintf(s, sizeof(s), "%s%" PRId64 " chunks", t->dcount > 0 ? "+" : "", t->dcount);
	hs_page_card(out, "in use", hs_page_sbytes(t->dbytes, v, sizeof(v)), s,
		t->dbytes > 0);
	if (hs_rated(d)) {
		char b[48];
		snprintf(v, sizeof(v), "%s/h", hs_page_sbytes(hs_per_hour(d, t->dbytes), b,
							       sizeof(b)));
		snprintf(s, sizeof(s), "%s%" PRId64 " chunks/h", t->dcount > 0 ? "+" : "",
			 hs_per_hour(d, t->dcount));
		hs_page_card(out, "in use per hour", v, s, false);
	}
	size_t nnew = 0, ngone = 0;
	for (size_t i = 0; i < d->types.nrows; i++) {
		nnew += d->types.rows[i].status == HS_DIFF_NEW;
		ngone += d->types.rows[i].status == HS_DIFF_GONE;
	}
	snprintf(v, sizeof(v), "%zu", nnew);
	hs_page_card(out, "new types", v, "only in NEW", false);
	snprintf(v, sizeof(v), "%zu", ngone);
	hs_page_card(out, "vanished types", v, "only in OLD", false);
	fputs("</div>\n", out);
	if (d->different_builds || d->different_allocators) {
		fputs("<section class=\"warn\" id=\"builds\"><h2>Not the same program</h2>\n", out);
		if (d->different_allocators)
			fputs("<p>The two sides use different allocators: size classes and "
			      "statistics are not comparable.</p>\n",
			      out);
		if (d->different_builds) {
			fputs("<p>Different builds: a type may have changed layout between "
			      "them; rows still match by name.</p><ul>\n",
			      out);
			for (size_t i = 0; i < d->nbuilds; i++) {
				fputs("<li><code>", out);
				hs_page_esc(out, d->builds[i].module);
				fputs("</code>: ", out);
				hs_page_esc(out, d->builds[i].before);
				fputs(" &#8594; ", out);
				hs_page_esc(out, d->builds[i].after);
				fputs("</li>\n", out);
			}
			fputs("</ul>\n", out);
		}
		fputs("</section>\n", out);
	}
}

/* The captures' metadata, OLD and NEW side by side. */
static void hs_captures(FILE *out, const struct hs_diff *d)
{
	const struct hs_diff_input *in[2] = {&d->before, &d->after};
	char b[2][64];
	fputs("<section id=\"captures-section\"><h2>The two captures</h2>\n"
	      "<table id=\"captures\"><thead><tr><th></th><th>OLD</th><th>NEW</th></tr></thead>"
	      "<tbody>\n",
	      out);
#define HS_ROW(label, expr)                                                     \
	do {                                                                    \
		fputs("<tr><th>" label "</th>", out);                           \
		for (int s_ = 0; s_ < 2; s_++) {                                \
			const struct hs_diff_input *i_ = in[s_];                \
			const struct hs_report *r_ = i_->report;                \
			(void)r_;                                               \
			fputs("<td>", out);                                     \
			expr;                                                   \
			fputs("</td>", out);                                    \
		}                                                               \
		fputs("</tr>\n", out);                                          \
	} while (0)
	HS_ROW("input", fputs(i_->from_core ? "core" : "saved report", out));
	HS_ROW("source", hs_page_esc(out, i_->source));
	HS_ROW("core", hs_page_esc(out, r_->core_path));
	HS_ROW("executable", hs_page_esc(out, r_->executable));
	HS_ROW("pid", fprintf(out, "%" PRId64, r_->pid));
	HS_ROW("captured", hs_page_esc(out, hs_page_time(r_->captured_at, b[s_], sizeof(b[s_]))));
	HS_ROW("threads", fprintf(out, "%" PRIu64, r_->threads));
	HS_ROW("allocator", hs_page_esc(out, r_->alloc_name); fputc(' ', out);
	       hs_page_esc(out, r_->alloc_version));
	HS_ROW("layout", hs_page_esc(out, r_->layout));
	HS_ROW("core size", fputs(hs_format_bytes(r_->core_bytes, b[s_], sizeof(b[s_])), out));
	HS_ROW("in use", fprintf(out, "%s in %" PRIu64 " chunks",
				 hs_format_bytes(r_->totals[HS_REPORT_IN_USE].bytes, b[s_],
						 sizeof(b[s_])),
				 r_->totals[HS_REPORT_IN_USE].count));
	HS_ROW("types", fprintf(out, "%zu", r_->ntypes));
	HS_ROW("modules", fprintf(out, "%zu", r_->nmodules));
	HS_ROW("diagnostics", fprintf(out, "%zu", r_->ndiags));
#undef HS_ROW
	fputs("</tbody></table>\n</section>\n", out);
}

static void hs_totals(FILE *out, const struct hs_diff *d)
{
	static const char *const names[HS_DIFF_NTOTALS] = {"in use", "free", "cached",
							   "allocator metadata"};
	const char *cols[] = {"State", "#Old count", "#New count", "#Change", "#Old bytes",
			      "#New bytes", "#Change", "#Growth", "#Per hour"};
	fputs("<h3>Totals</h3>\n", out);
	hs_page_table_begin(out, "totals", cols, HS_ARRAY_SIZE(cols) - !hs_rated(d));
	for (int i = 0; i < HS_DIFF_NTOTALS; i++) {
		const struct hs_diff_row *row = &d->totals[i];
		fputs("<tr>", out);
		hs_page_td_text(out, names[i]);
		hs_change_cells(out, d, row);
		fputs("</tr>\n", out);
	}
	hs_page_table_end(out);
}

/* The largest growth and the largest shrinkage of a view, as bars. */
static void hs_growth_chart(FILE *out, const struct hs_diff *d, bool per_hour)
{
	const struct hs_diff_table *t = &d->types;
	struct hs_page_bar bars[2 * HS_HTML_MAX_BARS];
	char hrefs[2 * HS_HTML_MAX_BARS][32];
	size_t n = 0;
	/* Rows are sorted by byte growth: growth from the front, shrinkage
	 * from the back. */
	for (size_t i = 0; i < t->nrows && n < HS_HTML_MAX_BARS && t->rows[i].dbytes > 0; i++) {
		const struct hs_diff_row *row = &t->rows[i];
		snprintf(hrefs[n], sizeof(hrefs[n]), "#drow-%zu", i);
		bars[n] = (struct hs_page_bar){row->name,
					       per_hour ? hs_per_hour(d, row->dbytes) : row->dbytes,
					       row->status == HS_DIFF_NEW ? "new" : NULL, hrefs[n]};
		n++;
	}
	if (!per_hour) {
		size_t first = t->nrows;
		while (first > 0 && t->rows[first - 1].dbytes < 0 &&
		       t->nrows - first < HS_HTML_MAX_BARS)
			first--;
		for (size_t i = first; i < t->nrows && n < HS_ARRAY_SIZE(bars); i++) {
			const struct hs_diff_row *row = &t->rows[i];
			if (row->dbytes >= 0)
				continue;
			snprintf(hrefs[n], sizeof(hrefs[n]), "#drow-%zu", i);
			bars[n] = (struct hs_page_bar){row->name, row->dbytes,
						       row->status == HS_DIFF_GONE ? "gone" : NULL,
						       hrefs[n]};
			n++;
		}
	}
	hs_page_bars(out, bars, n, per_hour ? "/h" : "");
}

static void hs_type_row(FILE *out, const struct hs_diff *d, const struct hs_diff_row *row,
			const char *id)
{
	fprintf(out, "<tr class=\"%s\"", hs_status_name(row->status));
	if (id)
		fprintf(out, " id=\"%s\"", id);
	fputs("><td class=\"name\">", out);
	hs_page_esc(out, row->name);
	fputs("</td><td>", out);
	if (row->kind)
		fprintf(out, "<i class=\"sw\" style=\"background:%s\"></i>",
			hs_page_kind_color(row->kind));
	hs_page_esc(out, row->kind);
	fputs("</td>", out);
	hs_change_cells(out, d, row);
	fputs("</tr>\n", out);
}

static const char *const hs_type_cols[] = {"Type", "Kind", "#Old count", "#New count",
					   "#Change", "#Old bytes", "#New bytes", "#Change",
					   "#Growth", "#Per hour"};

static void hs_new_gone(FILE *out, const struct hs_diff *d, enum hs_diff_status status,
			const char *id)
{
	size_t n = 0, shown = 0;
	for (size_t i = 0; i < d->types.nrows; i++) {
		const struct hs_diff_row *row = &d->types.rows[i];
		if (row->status != status)
			continue;
		if (!n++)
			hs_page_table_begin(out, id, hs_type_cols,
					    HS_ARRAY_SIZE(hs_type_cols) - !hs_rated(d));
		if (shown < HS_HTML_MAX_TYPES) {
			hs_type_row(out, d, row, NULL);
			shown++;
		}
	}
	if (n) {
		hs_page_table_end(out);
		hs_page_more(out, shown, n, "types");
	} else {
		fputs("<p class=\"muted\">None.</p>\n", out);
	}
}

static void hs_types(FILE *out, const struct hs_diff *d)
{
	const struct hs_diff_table *t = &d->types;
	size_t shown = t->nrows < HS_HTML_MAX_TYPES ? t->nrows : HS_HTML_MAX_TYPES;
	hs_page_table_begin(out, "types", hs_type_cols, HS_ARRAY_SIZE(hs_type_cols) - !hs_rated(d));
	for (size_t i = 0; i < shown; i++) {
		char id[32];
		snprintf(id, sizeof(id), "drow-%zu", i);
		hs_type_row(out, d, &t->rows[i], id);
	}
	hs_page_table_end(out);
	hs_page_more(out, shown, t->nrows, "types");
	if (t->nall > t->nrows)
		fprintf(out, "<p class=\"muted\">%zu of %zu matched types are hidden by the "
			"filter (--top %" PRIu64 ", --min-bytes %" PRIu64 ").</p>\n",
			t->nall - t->nrows, t->nall, d->top, d->min_bytes);
}

static void hs_sizes(FILE *out, const struct hs_diff *d, const struct hs_diff_table *t,
		     const char *id, bool patterns)
{
	if (!t->nrows) {
		fputs("<p class=\"muted\">No row changed.</p>\n", out);
		return;
	}
	size_t shown = t->nrows < HS_HTML_MAX_SIZE_CLASSES ? t->nrows : HS_HTML_MAX_SIZE_CLASSES;
	const char *cols[] = {patterns ? "Signature" : "#Size", "#Size", "#Old count",
			      "#New count", "#Change", "#Old bytes", "#New bytes", "#Change",
			      "#Growth", "#Per hour"};
	const char *const *c = patterns ? cols : cols + 1;
	size_t nc = HS_ARRAY_SIZE(cols) - !patterns - !hs_rated(d);
	hs_page_table_begin(out, id, c, nc);
	for (size_t i = 0; i < shown; i++) {
		const struct hs_diff_row *row = &t->rows[i];
		fprintf(out, "<tr class=\"%s\">", hs_status_name(row->status));
		if (patterns) {
			fputs("<td class=\"name\"><code>", out);
			hs_page_esc(out, row->name);
			fputs("</code></td>", out);
		}
		hs_page_td_count(out, row->size);
		hs_change_cells(out, d, row);
		fputs("</tr>\n", out);
	}
	hs_page_table_end(out);
	hs_page_more(out, shown, t->nrows, patterns ? "patterns" : "size classes");
}

static void hs_stats(FILE *out, const struct hs_diff *d)
{
	const char *cols[] = {"Statistic", "#Old", "#New", "#Change"};
	hs_page_table_begin(out, "stats", cols, HS_ARRAY_SIZE(cols));
	for (size_t i = 0; i < d->nstats; i++) {
		const struct hs_diff_stat *s = &d->stats[i];
		fputs("<tr>", out);
		hs_page_td_text(out, s->name);
		if (s->in_before)
			hs_page_td_count(out, s->before);
		else
			fputs("<td class=\"n\" data-v=\"-1\">-</td>", out);
		if (s->in_after)
			hs_page_td_count(out, s->after);
		else
			fputs("<td class=\"n\" data-v=\"-1\">-</td>", out);
		if (s->in_before && s->in_after)
			hs_page_td_dcount(out, s->delta);
		else
			fputs("<td class=\"n\" data-v=\"0\">-</td>", out);
		fputs("</tr>\n", out);
	}
	hs_page_table_end(out);
}

struct hs_error *hs_html_write_diff(const struct hs_diff *d, FILE *out, const char *where)
{
	const struct hs_report *b = d->after.report;
	char title[256];
	snprintf(title, sizeof(title), "heapscope diff: %s",
		 b->executable ? b->executable : "?");
	hs_page_begin(out, title);
	hs_header(out, d);
	hs_cards(out, d);
	hs_captures(out, d);

	fputs("<section id=\"growth-section\"><h2>Growth by type</h2>\n"
	      "<p class=\"muted\">The types whose bytes grew most (right) and shrank most "
	      "(left), NEW minus OLD; click a bar for its row.</p>\n",
	      out);
	hs_growth_chart(out, d, false);
	hs_totals(out, d);
	fputs("</section>\n", out);

	fputs("<section id=\"rate-section\"><h2>Growth per hour</h2>\n", out);
	if (hs_rated(d)) {
		const struct hs_diff_row *t = &d->totals[HS_REPORT_IN_USE];
		char v[48];
		fprintf(out, "<p>In-use memory changed by <b>%s/h</b> ",
			hs_page_sbytes(hs_per_hour(d, t->dbytes), v, sizeof(v)));
		fprintf(out, "(%s%" PRId64 " chunks/h) over %.2f hours. The types that grew, "
			"per hour:</p>\n",
			t->dcount > 0 ? "+" : "", hs_per_hour(d, t->dcount),
			(double)d->elapsed / 3600.0);
		hs_growth_chart(out, d, true);
	} else {
		fputs("<p class=\"muted\">Unknown: the elapsed time needs both capture times "
		      "(a core's mtime, or analyze --captured-at), and NEW after OLD.</p>\n",
		      out);
	}
	fputs("</section>\n", out);

	fputs("<section id=\"newgone-section\"><h2>New and vanished types</h2>\n"
	      "<h3>New: only in NEW</h3>\n",
	      out);
	hs_new_gone(out, d, HS_DIFF_NEW, "new-types");
	fputs("<h3>Vanished: only in OLD</h3>\n", out);
	hs_new_gone(out, d, HS_DIFF_GONE, "gone-types");
	fputs("</section>\n", out);

	fputs("<section id=\"types-section\"><h2>Types</h2>\n", out);
	hs_types(out, d);
	fputs("</section>\n<section id=\"sizes-section\"><h2>Size classes</h2>\n", out);
	hs_sizes(out, d, &d->size_classes, "size-classes", false);
	fputs("</section>\n<section id=\"patterns-section\"><h2>Pattern clusters</h2>\n", out);
	hs_sizes(out, d, &d->patterns, "patterns", true);
	fputs("</section>\n<section id=\"stats-section\"><h2>Allocator statistics</h2>\n", out);
	hs_stats(out, d);
	fputs("</section>\n</main>\n", out);
	return hs_page_end(out, where);
}
