/* html.h: the html layer's interface: one self-contained HTML page for a report or a diff. */
#ifndef HS_HTML_H
#define HS_HTML_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/common.h"
#include "../formats/formats.h"

/*
 * A page is one file that fetches nothing: inline CSS, inline SVG charts and
 * a little plain JavaScript (table sorting). It opens offline, from an email
 * attachment or a ticket, and reads without JavaScript too (the charts and
 * tables are static; only sorting needs it). Every table and chart is
 * bounded (HS_HTML_MAX_* below), so the page of a report with millions of
 * chunks and thousands of types stays a few hundred KB; what a bound leaves
 * out is said on the page, with where to find it (the JSON report).
 */
#define HS_HTML_MAX_TYPES 400       /* rows of a types table */
#define HS_HTML_MAX_TREEMAP 120     /* cells of the treemap; the rest is one cell */
#define HS_HTML_MAX_SIZE_CLASSES 200
#define HS_HTML_MAX_PATTERNS 100
#define HS_HTML_MAX_HEXDUMPS 20     /* patterns whose samples are shown */
#define HS_HTML_MAX_DIAGS 300
#define HS_HTML_MAX_MODULES 200
#define HS_HTML_MAX_BARS 25         /* bars each way in the diff's growth chart */
#define HS_HTML_SHOW_TYPES 20       /* types whose examples carry `show` text */
#define HS_HTML_SHOW_EXAMPLES 3     /* examples per such type */

/*
 * Write the `show` text of the chunk holding `address` (as `heapscope show`
 * prints it) to out. The page calls it for at most HS_HTML_SHOW_TYPES x
 * HS_HTML_SHOW_EXAMPLES example addresses. An error leaves that example
 * without text (the page says why) and is freed by the caller.
 */
typedef struct hs_error *(*hs_html_show_fn)(uint64_t address, FILE *out, void *arg);

struct hs_html_options {
	/* --redact: no heap bytes on the page (no hexdump, no string
	 * content), whatever the report or `show` would hold. */
	bool redact;
	/* The analysis behind the report, for example addresses' `show`
	 * text; NULL for a saved report (examples are listed bare). */
	hs_html_show_fn show;
	void *show_arg;
};

/*
 * Write the analyze page of `r` to `out`: the totals, a treemap of in-use
 * bytes by type (the leaked part marked when the report has verdicts), a
 * size-class histogram, the memory map as stacked bars, the types with their
 * example addresses, the top patterns with their hexdumps, the allocator
 * statistics, the modules and the diagnostics. The report is borrowed.
 * `where` names the destination in errors. Errors: HS_ERR_IO (write
 * failed), HS_ERR_NOMEM.
 */
struct hs_error *hs_html_write_report(const struct hs_report *r,
				      const struct hs_html_options *opts, FILE *out,
				      const char *where);

/*
 * Write the diff page of `d` (analyzer/diff.h; borrowed, already filtered as
 * the caller wants) to `out`: the two captures side by side, the totals'
 * change, growth by type as a chart of growth and shrinkage, growth per
 * hour, new and vanished types, and the type, size-class, pattern and
 * statistics tables. Holds no heap bytes. Errors: HS_ERR_IO, HS_ERR_NOMEM.
 */
struct hs_diff;
struct hs_error *hs_html_write_diff(const struct hs_diff *d, FILE *out, const char *where);

#endif
