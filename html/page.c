/* page.c: the page frame (style sheet, script), escaping, table cells and the signed bar chart. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "page.h"

/*
 * The whole style sheet and script are inline: the page must open offline
 * and fetch nothing. System fonts only, for the same reason.
 */
static const char hs_page_style[] =
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;"
	"color:#1d2330;background:#f6f7f9}"
	"header{background:#1d2330;color:#fff;padding:14px 24px}"
	"header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c9d1e0}"
	"main{padding:8px 24px 40px;max-width:1200px}"
	"section{background:#fff;border:1px solid #dde1e8;border-radius:6px;"
	"padding:12px 16px;margin:14px 0}"
	"h2{font-size:16px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 4px}"
	"nav a{color:#c9d1e0;margin-right:14px;text-decoration:none}"
	".cards{display:flex;flex-wrap:wrap;gap:10px}"
	".card{border:1px solid #dde1e8;border-radius:6px;padding:8px 12px;min-width:130px;"
	"background:#fff}"
	".card b{display:block;font-size:18px}.card span{color:#5b6475;font-size:12px}"
	".warn{background:#fff4e0;border-color:#f0c36d}"
	"table{border-collapse:collapse;width:100%;font-size:13px}"
	"th,td{padding:3px 8px;border-bottom:1px solid #eceef2;text-align:left;"
	"vertical-align:top}"
	"th{background:#eef1f5;cursor:pointer;user-select:none;white-space:nowrap}"
	"th[aria-sort=ascending]::after{content:' \\25B2'}"
	"th[aria-sort=descending]::after{content:' \\25BC'}"
	"td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	"td.name{word-break:break-all}"
	"tr.new td.name::after{content:' new';color:#b3261e;font-size:11px}"
	"tr.gone td.name::after{content:' gone';color:#3b6e2e;font-size:11px}"
	".up{color:#b3261e}.down{color:#3b6e2e}"
	"pre{font:12px/1.3 ui-monospace,'DejaVu Sans Mono',monospace;background:#f3f4f7;"
	"padding:6px 8px;overflow-x:auto;margin:4px 0;white-space:pre-wrap;"
	"overflow-wrap:anywhere}"
	"code{font:12px ui-monospace,'DejaVu Sans Mono',monospace}"
	".muted{color:#5b6475;font-size:12px}"
	".sw{display:inline-block;width:11px;height:11px;border-radius:2px;"
	"margin-right:5px;vertical-align:-1px}"
	".legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;margin:6px 0}"
	"details{margin:3px 0}summary{cursor:pointer}"
	"svg text{font:11px system-ui,sans-serif}"
	"svg a:hover rect{stroke:#1d2330;stroke-width:2}"
	".sev-error{color:#b3261e;font-weight:600}.sev-warning{color:#9a5b00}"
	"@media print{th{cursor:auto}}";

/*
 * Sorting: a click on a header sorts the body by that column (numbers by
 * their exact data-v, text by its content), descending first for numbers.
 * Following a link to a type's details opens them.
 */
static const char hs_page_script[] =
	"(function(){"
	"function key(c){var v=c.getAttribute('data-v');"
	"return v===null?c.textContent.toLowerCase():parseFloat(v);}"
	"var ts=document.querySelectorAll('table.sortable');"
	"for(var k=0;k<ts.length;k++)(function(t){"
	"var hs=t.tHead.rows[0].cells;"
	"for(var i=0;i<hs.length;i++)(function(i,h){"
	"h.addEventListener('click',function(){"
	"var b=t.tBodies[0],rs=Array.prototype.slice.call(b.rows);"
	"var num=h.getAttribute('data-num')!==null,s=h.getAttribute('aria-sort');"
	"var d=s?(s==='ascending'?-1:1):(num?-1:1);"
	"for(var j=0;j<hs.length;j++)hs[j].removeAttribute('aria-sort');"
	"h.setAttribute('aria-sort',d>0?'ascending':'descending');"
	"rs.sort(function(x,y){var a=key(x.cells[i]),c=key(y.cells[i]);"
	"return (a<c?-1:a>c?1:0)*d;});"
	"for(var j=0;j<rs.length;j++)b.appendChild(rs[j]);});"
	"})(i,hs[i]);})(ts[k]);"
	"function open(){var e=location.hash&&document.getElementById("
	"decodeURIComponent(location.hash.slice(1)));"
	"if(e&&e.tagName==='DETAILS')e.open=true;}"
	"window.addEventListener('hashchange',open);open();"
	"})();";

void hs_page_esc(FILE *out, const char *s)
{
	if (!s) {
		fputc('-', out);
		return;
	}
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

void hs_page_escf(FILE *out, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	hs_page_esc(out, buf);
}

void hs_page_begin(FILE *out, const char *title)
{
	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
	      /* Even a link a hostile core slipped into a name cannot fetch. */
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<title>",
	      out);
	hs_page_esc(out, title);
	fprintf(out, "</title>\n<style>%s</style>\n</head><body>\n", hs_page_style);
}

struct hs_error *hs_page_end(FILE *out, const char *where)
{
	fprintf(out, "\n<script>%s</script>\n</body></html>\n", hs_page_script);
	if (fflush(out) != 0 || ferror(out))
		return hs_error_create(HS_ERR_IO, "%s: write failed: %s", where,
				       strerror(errno));
	return NULL;
}

void hs_page_table_begin(FILE *out, const char *id, const char *const *columns,
			 size_t ncolumns)
{
	fprintf(out, "<table class=\"sortable\" id=\"%s\"><thead><tr>", id);
	for (size_t i = 0; i < ncolumns; i++) {
		bool num = columns[i][0] == '#';
		fputs(num ? "<th data-num>" : "<th>", out);
		hs_page_esc(out, columns[i] + num);
		fputs("</th>", out);
	}
	fputs("</tr></thead><tbody>\n", out);
}

void hs_page_table_end(FILE *out)
{
	fputs("</tbody></table>\n", out);
}

void hs_page_td_count(FILE *out, uint64_t v)
{
	fprintf(out, "<td class=\"n\" data-v=\"%" PRIu64 "\">%" PRIu64 "</td>", v, v);
}

void hs_page_td_bytes(FILE *out, uint64_t v)
{
	char b[32];
	fprintf(out, "<td class=\"n\" data-v=\"%" PRIu64 "\" title=\"%" PRIu64 " bytes\">%s</td>",
		v, v, hs_format_bytes(v, b, sizeof(b)));
}

void hs_page_td_dcount(FILE *out, int64_t v)
{
	fprintf(out, "<td class=\"n %s\" data-v=\"%" PRId64 "\">%s%" PRId64 "</td>",
		v > 0 ? "up" : v < 0 ? "down" : "", v, v > 0 ? "+" : "", v);
}

const char *hs_page_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t < 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "unknown");
	return buf;
}

const char *hs_page_sbytes(int64_t v, char *buf, size_t len)
{
	char b[32];
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	snprintf(buf, len, "%s%s", v > 0 ? "+" : v < 0 ? "-" : "",
		 hs_format_bytes(mag, b, sizeof(b)));
	return buf;
}

void hs_page_td_dbytes(FILE *out, int64_t v)
{
	char b[40];
	fprintf(out,
		"<td class=\"n %s\" data-v=\"%" PRId64 "\" title=\"%" PRId64 " bytes\">%s</td>",
		v > 0 ? "up" : v < 0 ? "down" : "", v, v, hs_page_sbytes(v, b, sizeof(b)));
}

void hs_page_td_pct(FILE *out, uint64_t part, uint64_t whole)
{
	double p = whole ? 100.0 * (double)part / (double)whole : 0.0;
	fprintf(out, "<td class=\"n\" data-v=\"%.4f\">%.1f%%</td>", p, p);
}

void hs_page_td_text(FILE *out, const char *s)
{
	fputs("<td>", out);
	hs_page_esc(out, s);
	fputs("</td>", out);
}

void hs_page_td_addr(FILE *out, uint64_t addr)
{
	fprintf(out, "<td><code>0x%" PRIx64 "</code></td>", addr);
}

void hs_page_more(FILE *out, size_t shown, size_t total, const char *what)
{
	if (total > shown)
		fprintf(out, "<p class=\"muted\">%zu more %s are not shown here; the JSON "
			"report (--json) has every one.</p>\n", total - shown, what);
}

void hs_page_card(FILE *out, const char *label, const char *value, const char *sub, bool warn)
{
	fprintf(out, "<div class=\"card%s\"><span>", warn ? " warn" : "");
	hs_page_esc(out, label);
	fputs("</span><b>", out);
	hs_page_esc(out, value);
	fputs("</b><span>", out);
	hs_page_esc(out, sub);
	fputs("</span></div>\n", out);
}

const char *hs_page_kind_color(const char *kind)
{
	static const struct {
		const char *kind, *color;
	} colors[] = {
		{"vtable", "#4e79a7"}, {"string", "#59a14f"}, {"cstring", "#8cd17d"},
		{"sds", "#f28e2b"},    {"robj", "#ffbe7d"},   {"container", "#b07aa1"},
		{"pattern", "#9c9ea3"}, {"metadata", "#d4a6c8"},
	};
	for (size_t i = 0; kind && i < HS_ARRAY_SIZE(colors); i++)
		if (!strcmp(kind, colors[i].kind))
			return colors[i].color;
	return "#76b7b2";
}

void hs_page_bars(FILE *out, const struct hs_page_bar *bars, size_t n, const char *unit)
{
	if (!n) {
		fputs("<p class=\"muted\">Nothing changed.</p>\n", out);
		return;
	}
	/* Labels left, bars in the middle around the zero line, values right. */
	const int row = 20, label_w = 330, chart_w = 480, value_w = 150;
	const int width = label_w + chart_w + value_w;
	int64_t max_up = 0, max_down = 0;
	for (size_t i = 0; i < n; i++) {
		if (bars[i].value > max_up)
			max_up = bars[i].value;
		if (bars[i].value < max_down)
			max_down = bars[i].value;
	}
	double span = (double)max_up - (double)max_down;
	if (span <= 0)
		span = 1;
	double zero = label_w + chart_w * (-(double)max_down / span);
	fprintf(out, "<svg role=\"img\" width=\"%d\" height=\"%zu\" viewBox=\"0 0 %d %zu\" "
		"class=\"bars\">\n", width, n * row + 6, width, n * row + 6);
	fprintf(out, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%zu\" stroke=\"#5b6475\"/>\n",
		zero, zero, n * row + 6);
	for (size_t i = 0; i < n; i++) {
		const struct hs_page_bar *b = &bars[i];
		double mag = b->value < 0 ? -(double)b->value : (double)b->value;
		double len = chart_w * (mag / span);
		double x = b->value < 0 ? zero - len : zero;
		int y = (int)i * row + 3;
		char v[48];
		hs_page_sbytes(b->value, v, sizeof(v));
		if (b->href) {
			fputs("<a href=\"", out);
			hs_page_esc(out, b->href);
			fputs("\">", out);
		}
		fputs("<g><title>", out);
		hs_page_esc(out, b->label);
		fprintf(out, ": %s%s%s%s</title>", v, unit, b->note ? ", " : "",
			b->note ? b->note : "");
		/* A long name keeps its end, which is the distinctive part
		 * (a template's arguments, a pattern's signature). */
		const char *label = b->label ? b->label : "-";
		size_t max = 52, len_label = strlen(label);
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s", label_w - 8,
			y + 13, len_label > max ? "\xe2\x80\xa6" : "");
		const char *shown = len_label > max ? label + len_label - (max - 1) : label;
		while (shown > label && (*shown & 0xc0) == 0x80)
			shown--; /* not inside a UTF-8 sequence */
		hs_page_esc(out, shown);
		fprintf(out, "</text><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
			"fill=\"%s\"/>",
			x, y + 2, len < 1 ? 1 : len, row - 5, b->value < 0 ? "#6a9f58" : "#d1605e");
		fprintf(out, "<text x=\"%d\" y=\"%d\">%s%s%s%s</text></g>", label_w + chart_w + 6,
			y + 13, v, unit, b->note ? " " : "", b->note ? b->note : "");
		fputs(b->href ? "</a>\n" : "\n", out);
	}
	fputs("</svg>\n", out);
}
