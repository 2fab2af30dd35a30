/* page.h: what the two pages share: frame, escaping, cells, charts (private to html/). */
#ifndef HS_HTML_PAGE_H
#define HS_HTML_PAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "html.h"

/*
 * Writers to one FILE; they do not check each write (stdio keeps the error
 * flag), hs_page_end() does once for the whole page.
 */

/* <!doctype html> to <body>, with the inline style sheet; `title` is text. */
void hs_page_begin(FILE *out, const char *title);
/* The inline script and the closing tags; then flush and check the stream.
 * Errors: HS_ERR_IO naming `where`. */
struct hs_error *hs_page_end(FILE *out, const char *where);

/* Text and attribute values, HTML-escaped; NULL prints "-". */
void hs_page_esc(FILE *out, const char *s);
/* Printf, then the result escaped. */
void hs_page_escf(FILE *out, const char *fmt, ...) HS_PRINTF(2, 3);

/* A sortable table: <table class=sortable id=ID>, and one header cell per
 * column ("#" starting a label marks a numeric column, sorted by the cells'
 * data-v). Rows are the caller's; hs_page_table_end closes the body. */
void hs_page_table_begin(FILE *out, const char *id, const char *const *columns,
			 size_t ncolumns);
void hs_page_table_end(FILE *out);
/* Cells: a count, bytes (shown in units, sorted by the exact value), signed
 * changes (shown with their sign), a share in percent, plain text. */
void hs_page_td_count(FILE *out, uint64_t v);
void hs_page_td_bytes(FILE *out, uint64_t v);
void hs_page_td_dcount(FILE *out, int64_t v);
void hs_page_td_dbytes(FILE *out, int64_t v);
void hs_page_td_pct(FILE *out, uint64_t part, uint64_t whole);
void hs_page_td_text(FILE *out, const char *s);
void hs_page_td_addr(FILE *out, uint64_t addr);
/* "N more rows are not shown (the JSON report has every row)". */
void hs_page_more(FILE *out, size_t shown, size_t total, const char *what);

/* A summary card: a label, a value, a line under it; `warn` marks it. */
void hs_page_card(FILE *out, const char *label, const char *value, const char *sub, bool warn);

/* The fill colour of a type kind (vtable, string, sds, ...), as #rrggbb. */
const char *hs_page_kind_color(const char *kind);

/* A unix time as "YYYY-MM-DD HH:MM:SS UTC" ("unknown" when negative). */
const char *hs_page_time(int64_t t, char *buf, size_t len);

/* Bytes as people read them, signed ("+1.2 MiB", "-512 B"). */
const char *hs_page_sbytes(int64_t v, char *buf, size_t len);

/*
 * A horizontal bar chart of signed values (growth right, shrinkage left),
 * one labelled row per bar. `href` (may be NULL or hold NULLs) makes a bar a
 * link inside the page.
 */
struct hs_page_bar {
	const char *label;
	int64_t value;
	const char *note;  /* after the value, e.g. "new"; may be NULL */
	const char *href;
};
void hs_page_bars(FILE *out, const struct hs_page_bar *bars, size_t n, const char *unit);

#endif
