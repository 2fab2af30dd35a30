/* diff.c: the change between two reports: matching, sorting, filtering, text and JSON forms. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "diff.h"

/* ------------------------------------------------------------ arithmetic */

/* Sums saturate: a hostile report may hold counts near 2^63 (the JSON
 * integer limit), and a wrapped sum would be a silent wrong answer. */
static uint64_t hs_sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int64_t hs_delta(uint64_t before, uint64_t after)
{
	if (after >= before) {
		uint64_t d = after - before;
		return d > INT64_MAX ? INT64_MAX : (int64_t)d;
	}
	uint64_t d = before - after;
	return d > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)d;
}

static int64_t hs_sat_add_signed(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static uint64_t hs_abs64(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static void hs_row_finish(struct hs_diff_row *row)
{
	row->dcount = hs_delta(row->before.count, row->after.count);
	row->dbytes = hs_delta(row->before.bytes, row->after.bytes);
}

bool hs_diff_growth(const struct hs_diff_row *row, double *ret)
{
	if (!row->before.bytes)
		return false;
	*ret = (double)row->after.bytes / (double)row->before.bytes;
	return true;
}

/* --------------------------------------------------------------- matching */

/* A keyed entry of one side, before matching. `key` is the size for size
 * classes and 0 elsewhere; `order` is its position in the report. */
struct hs_diff_item {
	const char *name, *kind;
	uint64_t key, size, count, bytes;
	struct hs_report_count leaked;
	size_t order;
};

static int hs_strcmp_null(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int hs_item_cmp(const void *pa, const void *pb)
{
	const struct hs_diff_item *a = pa, *b = pb;
	int c = hs_strcmp_null(a->name, b->name);
	if (!c)
		c = hs_strcmp_null(a->kind, b->kind);
	if (!c)
		c = (a->key > b->key) - (a->key < b->key);
	if (!c)
		c = (a->order > b->order) - (a->order < b->order);
	return c;
}

static bool hs_item_same(const struct hs_diff_item *a, const struct hs_diff_item *b)
{
	return !hs_strcmp_null(a->name, b->name) && !hs_strcmp_null(a->kind, b->kind) &&
	       a->key == b->key;
}

/* Sort and fold repeated keys into their first occurrence; returns the new
 * count. A well-formed report has no repeats; a merged or edited one may. */
static size_t hs_items_fold(struct hs_diff_item *it, size_t n)
{
	if (n)
		qsort(it, n, sizeof(*it), hs_item_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && hs_item_same(&it[m - 1], &it[i])) {
			it[m - 1].count = hs_sat_add(it[m - 1].count, it[i].count);
			it[m - 1].bytes = hs_sat_add(it[m - 1].bytes, it[i].bytes);
			continue;
		}
		it[m++] = it[i];
	}
	return m;
}

/* Matched pairs of folded items; SIZE_MAX marks the side that lacks it. */
struct hs_pair {
	size_t a, b;
};

static struct hs_error *hs_items_match(struct hs_diff_item *a, size_t *na,
				       struct hs_diff_item *b, size_t *nb,
				       struct hs_pair **ret, size_t *nret)
{
	*na = hs_items_fold(a, *na);
	*nb = hs_items_fold(b, *nb);
	struct hs_pair *p = NULL;
	if (*na + *nb) {
		p = calloc(*na + *nb, sizeof(*p));
		if (!p)
			return HS_ENOMEM;
	}
	size_t i = 0, j = 0, n = 0;
	while (i < *na || j < *nb) {
		int c = i == *na ? 1 : j == *nb ? -1 : hs_item_cmp(&a[i], &b[j]);
		if (c && i < *na && j < *nb && hs_item_same(&a[i], &b[j]))
			c = 0;
		if (c < 0)
			p[n++] = (struct hs_pair){i++, SIZE_MAX};
		else if (c > 0)
			p[n++] = (struct hs_pair){SIZE_MAX, j++};
		else
			p[n++] = (struct hs_pair){i++, j++};
	}
	*ret = p;
	*nret = n;
	return NULL;
}

static int hs_row_cmp(const void *pa, const void *pb)
{
	const struct hs_diff_row *a = pa, *b = pb;
	if (a->dbytes != b->dbytes)
		return a->dbytes < b->dbytes ? 1 : -1;
	if (a->after.bytes != b->after.bytes)
		return a->after.bytes < b->after.bytes ? 1 : -1;
	if (a->dcount != b->dcount)
		return a->dcount < b->dcount ? 1 : -1;
	int c = hs_strcmp_null(a->name, b->name);
	if (!c)
		c = hs_strcmp_null(a->kind, b->kind);
	if (!c)
		c = (a->size > b->size) - (a->size < b->size);
	return c;
}

void hs_diff_sort_rows(struct hs_diff_row *rows, size_t n)
{
	if (n)
		qsort(rows, n, sizeof(*rows), hs_row_cmp);
}

/* Build a view from the items of both sides (consumed). */
static struct hs_error *hs_table_build(struct hs_diff_item *a, size_t na,
				       struct hs_diff_item *b, size_t nb,
				       struct hs_diff_table *t)
{
	struct hs_pair *pairs;
	size_t n;
	struct hs_error *err = hs_items_match(a, &na, b, &nb, &pairs, &n);
	if (err)
		return err;
	t->rows = n ? calloc(n, sizeof(*t->rows)) : NULL;
	if (n && !t->rows) {
		free(pairs);
		return HS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct hs_diff_row *row = &t->rows[i];
		const struct hs_diff_item *x = pairs[i].a != SIZE_MAX ? &a[pairs[i].a] : NULL;
		const struct hs_diff_item *y = pairs[i].b != SIZE_MAX ? &b[pairs[i].b] : NULL;
		const struct hs_diff_item *k = y ? y : x;
		row->name = k->name;
		row->kind = k->kind;
		row->size = k->size;
		if (x) {
			row->before = (struct hs_report_count){x->count, x->bytes};
			row->leaked_before = x->leaked;
		}
		if (y) {
			row->after = (struct hs_report_count){y->count, y->bytes};
			row->leaked_after = y->leaked;
		}
		row->dleaked_count = hs_delta(row->leaked_before.count, row->leaked_after.count);
		row->dleaked_bytes = hs_delta(row->leaked_before.bytes, row->leaked_after.bytes);
		row->status = !x ? HS_DIFF_NEW : !y ? HS_DIFF_GONE : HS_DIFF_COMMON;
		hs_row_finish(row);
		t->all_dcount = hs_sat_add_signed(t->all_dcount, row->dcount);
		t->all_dbytes = hs_sat_add_signed(t->all_dbytes, row->dbytes);
	}
	free(pairs);
	t->nrows = t->nall = n;
	hs_diff_sort_rows(t->rows, n);
	return NULL;
}

enum hs_view { HS_VIEW_TYPES, HS_VIEW_SIZES, HS_VIEW_PATTERNS, HS_VIEW_MEMORY };

/* The items of one report for one view; NULL with *n == 0 when empty. */
static struct hs_error *hs_items_of(const struct hs_report *r, enum hs_view v,
				    struct hs_diff_item **ret, size_t *n)
{
	size_t cnt = v == HS_VIEW_TYPES ? r->ntypes
		     : v == HS_VIEW_SIZES ? r->nsize_classes
		     : v == HS_VIEW_MEMORY ? r->memory.nregions : r->npatterns;
	*ret = NULL;
	*n = cnt;
	if (!cnt)
		return NULL;
	struct hs_diff_item *it = calloc(cnt, sizeof(*it));
	if (!it)
		return HS_ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		struct hs_diff_item *x = &it[i];
		x->order = i;
		if (v == HS_VIEW_TYPES) {
			x->name = r->types[i].name;
			x->kind = r->types[i].kind;
			x->count = r->types[i].count;
			x->bytes = r->types[i].bytes;
			x->leaked = r->types[i].leaked;
		} else if (v == HS_VIEW_SIZES) {
			x->key = x->size = r->size_classes[i].size;
			x->count = r->size_classes[i].count;
			x->bytes = r->size_classes[i].bytes;
		} else if (v == HS_VIEW_MEMORY) {
			/* A row of the memory table: its kind and owner; the
			 * count is its address ranges, the bytes its virtual. */
			x->name = r->memory.regions[i].name;
			x->kind = r->memory.regions[i].kind;
			x->count = r->memory.regions[i].count;
			x->bytes = r->memory.regions[i].bytes;
		} else {
			/* A cluster is chunks of one size with one shape of
			 * their first words: the signature and the size name
			 * it, and neither holds an address. */
			x->name = r->patterns[i].signature;
			x->key = x->size = r->patterns[i].size;
			x->count = r->patterns[i].count;
			x->bytes = r->patterns[i].bytes;
		}
	}
	*ret = it;
	return NULL;
}

static struct hs_error *hs_diff_view(struct hs_diff *d, enum hs_view v,
				     struct hs_diff_table *t)
{
	struct hs_diff_item *a = NULL, *b = NULL;
	size_t na, nb;
	struct hs_error *err = hs_items_of(d->before.report, v, &a, &na);
	if (!err)
		err = hs_items_of(d->after.report, v, &b, &nb);
	if (!err)
		err = hs_table_build(a, na, b, nb, t);
	free(a);
	free(b);
	return err;
}

static int hs_stat_order_cmp(const void *pa, const void *pb)
{
	/* Stats are shown in the order the reports list them: the older
	 * report's first, then those only the newer one has. `delta` is reused
	 * as the sort key until the rows are finished. */
	const struct hs_diff_stat *a = pa, *b = pb;
	return (a->delta > b->delta) - (a->delta < b->delta);
}

static struct hs_error *hs_diff_stats(struct hs_diff *d)
{
	const struct hs_report *ra = d->before.report, *rb = d->after.report;
	size_t na = ra->nstats, nb = rb->nstats;
	struct hs_diff_item *a = na ? calloc(na, sizeof(*a)) : NULL;
	struct hs_diff_item *b = nb ? calloc(nb, sizeof(*b)) : NULL;
	struct hs_pair *pairs = NULL;
	size_t n = 0;
	struct hs_error *err = NULL;
	if ((na && !a) || (nb && !b)) {
		err = HS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < na; i++)
		a[i] = (struct hs_diff_item){.name = ra->stats[i].name, .order = i,
					     .count = ra->stats[i].value};
	for (size_t i = 0; i < nb; i++)
		b[i] = (struct hs_diff_item){.name = rb->stats[i].name, .order = i,
					     .count = rb->stats[i].value};
	/* A repeated statistic name is summed by the fold; reports never
	 * repeat one (it is a JSON object key). */
	err = hs_items_match(a, &na, b, &nb, &pairs, &n);
	if (err)
		goto out;
	d->stats = n ? calloc(n, sizeof(*d->stats)) : NULL;
	if (n && !d->stats) {
		err = HS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct hs_diff_stat *s = &d->stats[i];
		const struct hs_diff_item *x = pairs[i].a != SIZE_MAX ? &a[pairs[i].a] : NULL;
		const struct hs_diff_item *y = pairs[i].b != SIZE_MAX ? &b[pairs[i].b] : NULL;
		s->name = x ? x->name : y->name;
		s->in_before = x != NULL;
		s->in_after = y != NULL;
		s->before = x ? x->count : 0;
		s->after = y ? y->count : 0;
		s->delta = x ? (int64_t)x->order : (int64_t)(ra->nstats + y->order);
	}
	d->nstats = n;
	if (n)
		qsort(d->stats, n, sizeof(*d->stats), hs_stat_order_cmp);
	for (size_t i = 0; i < n; i++)
		d->stats[i].delta = hs_delta(d->stats[i].before, d->stats[i].after);
out:
	free(a);
	free(b);
	free(pairs);
	return err;
}

static bool hs_add_build(struct hs_diff *d, const char *module, const char *before,
			 const char *after)
{
	struct hs_diff_build *nb = realloc(d->builds, (d->nbuilds + 1) * sizeof(*nb));
	if (!nb)
		return false;
	d->builds = nb;
	d->builds[d->nbuilds++] = (struct hs_diff_build){module, before, after};
	d->different_builds = true;
	return true;
}

static const struct hs_report_module *hs_main_module(const struct hs_report *r)
{
	for (size_t i = 0; r->executable && i < r->nmodules; i++)
		if (r->modules[i].path && !strcmp(r->modules[i].path, r->executable))
			return &r->modules[i];
	return NULL;
}

/* Different builds: the main executable's build-id, or that of any module
 * both sides map under the same path. Unknown build-ids prove nothing. */
static struct hs_error *hs_diff_builds(struct hs_diff *d)
{
	const struct hs_report *ra = d->before.report, *rb = d->after.report;
	const struct hs_report_module *ma = hs_main_module(ra), *mb = hs_main_module(rb);
	if (ma && mb && ma->build_id && mb->build_id && strcmp(ma->build_id, mb->build_id) &&
	    hs_strcmp_null(ma->path, mb->path) &&
	    !hs_add_build(d, mb->path, ma->build_id, mb->build_id))
		return HS_ENOMEM;

	size_t na = ra->nmodules, nb = rb->nmodules, n = 0;
	struct hs_diff_item *a = na ? calloc(na, sizeof(*a)) : NULL;
	struct hs_diff_item *b = nb ? calloc(nb, sizeof(*b)) : NULL;
	struct hs_pair *pairs = NULL;
	struct hs_error *err = NULL;
	if ((na && !a) || (nb && !b)) {
		err = HS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < na; i++)
		a[i] = (struct hs_diff_item){.name = ra->modules[i].path, .order = i};
	for (size_t i = 0; i < nb; i++)
		b[i] = (struct hs_diff_item){.name = rb->modules[i].path, .order = i};
	err = hs_items_match(a, &na, b, &nb, &pairs, &n);
	for (size_t i = 0; !err && i < n; i++) {
		if (pairs[i].a == SIZE_MAX || pairs[i].b == SIZE_MAX || !a[pairs[i].a].name)
			continue;
		const struct hs_report_module *x = &ra->modules[a[pairs[i].a].order];
		const struct hs_report_module *y = &rb->modules[b[pairs[i].b].order];
		if (x->build_id && y->build_id && strcmp(x->build_id, y->build_id) &&
		    !hs_add_build(d, y->path, x->build_id, y->build_id))
			err = HS_ENOMEM;
	}
out:
	free(a);
	free(b);
	free(pairs);
	return err;
}

struct hs_error *hs_diff_create(const struct hs_diff_input *before,
				const struct hs_diff_input *after,
				struct hs_diff **ret)
{
	struct hs_diff *d = calloc(1, sizeof(*d));
	if (!d)
		return HS_ENOMEM;
	d->before = *before;
	d->after = *after;
	const struct hs_report *ra = before->report, *rb = after->report;
	if (ra->captured_at >= 0 && rb->captured_at >= 0) {
		d->has_elapsed = true;
		d->elapsed = rb->captured_at - ra->captured_at;
	}
	for (int s = 0; s < HS_DIFF_NTOTALS; s++) {
		struct hs_diff_row *row = &d->totals[s];
		row->name = s == HS_DIFF_TOTAL_METADATA ? "metadata" : hs_report_state_name(s);
		row->before = s == HS_DIFF_TOTAL_METADATA ? ra->metadata : ra->totals[s];
		row->after = s == HS_DIFF_TOTAL_METADATA ? rb->metadata : rb->totals[s];
		hs_row_finish(row);
	}
	d->different_allocators = hs_strcmp_null(ra->alloc_name, rb->alloc_name) != 0;
	d->has_leaks = ra->leaks.present && rb->leaks.present;
	d->leaked.name = "leaked";
	d->leaked.before = ra->leaks.leaked;
	d->leaked.after = rb->leaks.leaked;
	hs_row_finish(&d->leaked);

	struct hs_error *err = hs_diff_stats(d);
	if (!err)
		err = hs_diff_view(d, HS_VIEW_TYPES, &d->types);
	if (!err)
		err = hs_diff_view(d, HS_VIEW_SIZES, &d->size_classes);
	if (!err)
		err = hs_diff_view(d, HS_VIEW_PATTERNS, &d->patterns);
	if (!err)
		err = hs_diff_view(d, HS_VIEW_MEMORY, &d->memory);
	if (!err)
		err = hs_diff_builds(d);
	if (err) {
		hs_diff_destroy(d);
		return err;
	}
	*ret = d;
	return NULL;
}

void hs_diff_destroy(struct hs_diff *d)
{
	if (!d)
		return;
	free(d->stats);
	free(d->types.rows);
	free(d->size_classes.rows);
	free(d->patterns.rows);
	free(d->memory.rows);
	free(d->builds);
	free(d);
}

/* -------------------------------------------------------------- filtering */

void hs_diff_filter_table(struct hs_diff_table *t, uint64_t top, uint64_t min_bytes)
{
	size_t m = 0;
	for (size_t i = 0; i < t->nrows && (!top || m < top); i++)
		if (hs_abs64(t->rows[i].dbytes) >= min_bytes)
			t->rows[m++] = t->rows[i];
	t->nrows = m;
}

void hs_diff_filter(struct hs_diff *d, uint64_t top, uint64_t min_bytes)
{
	hs_diff_filter_table(&d->types, top, min_bytes);
	hs_diff_filter_table(&d->size_classes, top, min_bytes);
	hs_diff_filter_table(&d->patterns, top, min_bytes);
	hs_diff_filter_table(&d->memory, top, min_bytes);
	d->top = top;
	d->min_bytes = min_bytes;
}

/* What the filter hid: rows and their summed change. */
static void hs_table_omitted(const struct hs_diff_table *t, int64_t *dcount,
			     int64_t *dbytes)
{
	int64_t c = 0, b = 0;
	for (size_t i = 0; i < t->nrows; i++) {
		c = hs_sat_add_signed(c, t->rows[i].dcount);
		b = hs_sat_add_signed(b, t->rows[i].dbytes);
	}
	*dcount = hs_sat_add_signed(t->all_dcount, c == INT64_MIN ? INT64_MAX : -c);
	*dbytes = hs_sat_add_signed(t->all_dbytes, b == INT64_MIN ? INT64_MAX : -b);
}

/* ------------------------------------------------------------------- text */

static const char *hs_fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "%" PRId64, t);
	return buf;
}

static const char *hs_fmt_elapsed(int64_t s, char *buf, size_t len)
{
	uint64_t a = hs_abs64(s);
	const char *sign = s < 0 ? "-" : "";
	if (a >= 86400)
		snprintf(buf, len, "%s%" PRIu64 "d %02" PRIu64 "h %02" PRIu64 "m", sign,
			 a / 86400, a / 3600 % 24, a / 60 % 60);
	else
		snprintf(buf, len, "%s%" PRIu64 "h %02" PRIu64 "m %02" PRIu64 "s", sign,
			 a / 3600, a / 60 % 60, a % 60);
	return buf;
}

static const char *hs_fmt_sbytes(int64_t v, char *buf, size_t len)
{
	char tmp[32];
	snprintf(buf, len, "%s%s", v < 0 ? "-" : v > 0 ? "+" : "",
		 hs_format_bytes(hs_abs64(v), tmp, sizeof(tmp)));
	return buf;
}

static const char *hs_fmt_growth(const struct hs_diff_row *row, char *buf, size_t len)
{
	double g;
	if (row->status == HS_DIFF_NEW || !hs_diff_growth(row, &g))
		snprintf(buf, len, "new");
	else if (row->status == HS_DIFF_GONE)
		snprintf(buf, len, "gone");
	else
		snprintf(buf, len, "x%.2f", g);
	return buf;
}

static const char *hs_fmt_rate(const struct hs_diff *d, int64_t dbytes, char *buf,
			       size_t len)
{
	if (!d->has_elapsed || d->elapsed <= 0)
		return "";
	double per = (double)dbytes * 3600.0 / (double)d->elapsed;
	char tmp[32];
	uint64_t mag = fabs(per) >= 1.8e19 ? UINT64_MAX : (uint64_t)(fabs(per) + 0.5);
	snprintf(buf, len, "%s%s/h", per < 0 ? "-" : "+",
		 hs_format_bytes(mag, tmp, sizeof(tmp)));
	return buf;
}

/* The per-hour column, only when the elapsed time makes it meaningful. */
static void hs_text_rate(FILE *out, const struct hs_diff *d, const char *header,
			 int64_t dbytes)
{
	char buf[32];
	if (d->has_elapsed && d->elapsed > 0)
		fprintf(out, " %12s", header ? header : hs_fmt_rate(d, dbytes, buf, sizeof(buf)));
}

static void hs_text_side(FILE *out, const char *label, const struct hs_diff_input *in)
{
	const struct hs_report *r = in->report;
	char tb[40];
	fprintf(out, "%-9s %s %s", label, in->from_core ? "core" : "report", in->source);
	if (!in->from_core && r->core_path)
		fprintf(out, " (of core %s)", r->core_path);
	fprintf(out, "\n          pid %" PRId64 ", %s, %s %s, captured %s\n", r->pid,
		r->executable ? r->executable : "?", r->alloc_name ? r->alloc_name : "?",
		r->alloc_version ? r->alloc_version : "",
		r->captured_at >= 0 ? hs_fmt_time(r->captured_at, tb, sizeof(tb))
				    : "at an unknown time");
}

/* The text's marks for new and vanished rows, by enum hs_diff_status. */
static const char *const hs_diff_marks[] = {"", "NEW", "GONE"};

static void hs_text_table(FILE *out, const struct hs_diff *d, const char *title,
			  const struct hs_diff_table *t, enum hs_view v)
{
	char b1[32], b2[32], b3[32], b4[32];
	fprintf(out, "\n%s: %zu of %zu row%s", title, t->nrows, t->nall,
		t->nall == 1 ? "" : "s");
	if (!t->nall) {
		fprintf(out, "%s\n", v == HS_VIEW_SIZES ? "" :
			v == HS_VIEW_MEMORY ? " (neither report has a memory table)" :
			" (neither report classified any)");
		return;
	}
	fprintf(out, ", by byte growth\n");
	if (t->nrows) {
		fprintf(out, "%-5s %12s %10s %12s %10s %12s %10s %8s", "", "delta", "delta#",
			"old bytes", "old #", "new bytes", "new #", "growth");
		hs_text_rate(out, d, "per hour", 0);
		fprintf(out, "  %s\n", v == HS_VIEW_TYPES ? "kind name"
				       : v == HS_VIEW_SIZES ? "size"
				       : v == HS_VIEW_MEMORY ? "kind (owner); # is ranges"
				       : "size signature");
	}
	for (size_t i = 0; i < t->nrows; i++) {
		const struct hs_diff_row *row = &t->rows[i];
		fprintf(out, "%-5s %12s %+10" PRId64 " %12s %10" PRIu64 " %12s %10" PRIu64
			" %8s",
			hs_diff_marks[row->status],
			hs_fmt_sbytes(row->dbytes, b1, sizeof(b1)), row->dcount,
			hs_format_bytes(row->before.bytes, b2, sizeof(b2)), row->before.count,
			hs_format_bytes(row->after.bytes, b3, sizeof(b3)), row->after.count,
			hs_fmt_growth(row, b4, sizeof(b4)));
		hs_text_rate(out, d, NULL, row->dbytes);
		fputs("  ", out);
		if (v == HS_VIEW_TYPES && d->has_leaks)
			fprintf(out, "%-8s %s (leaked %+" PRId64 ", %s)\n", row->kind, row->name,
				row->dleaked_count,
				hs_fmt_sbytes(row->dleaked_bytes, b1, sizeof(b1)));
		else if (v == HS_VIEW_TYPES)
			fprintf(out, "%-8s %s\n", row->kind, row->name);
		else if (v == HS_VIEW_MEMORY)
			fprintf(out, "%s%s%s%s\n", row->kind, row->name ? " (" : "",
				row->name ? row->name : "", row->name ? ")" : "");
		else if (v == HS_VIEW_SIZES)
			fprintf(out, "%" PRIu64 "\n", row->size);
		else
			fprintf(out, "%-8" PRIu64 " %s\n", row->size, row->name);
	}
	if (t->nrows < t->nall) {
		int64_t oc, ob;
		hs_table_omitted(t, &oc, &ob);
		fprintf(out, "      (%zu more row%s not shown, together %s in %+" PRId64
			" %s%s)\n",
			t->nall - t->nrows, t->nall - t->nrows == 1 ? "" : "s",
			hs_fmt_sbytes(ob, b1, sizeof(b1)), oc,
			v == HS_VIEW_MEMORY ? "range" : "chunk", oc == 1 || oc == -1 ? "" : "s");
	}
}

struct hs_error *hs_diff_write_text(const struct hs_diff *d, FILE *out,
				    const char *where)
{
	char b1[32], b2[32], b3[32], b4[32];
	hs_text_side(out, "old", &d->before);
	hs_text_side(out, "new", &d->after);
	if (d->has_elapsed)
		fprintf(out, "elapsed   %s%s\n", hs_fmt_elapsed(d->elapsed, b1, sizeof(b1)),
			d->elapsed < 0 ? " (NEW was captured before OLD)" : "");
	else
		fprintf(out, "elapsed   unknown (a capture time is missing; see --captured-at)\n");
	if (d->different_builds) {
		fprintf(out, "note: OLD and NEW come from different builds (");
		for (size_t i = 0; i < d->nbuilds; i++)
			fprintf(out, "%s%s %.12s -> %.12s", i ? "; " : "",
				d->builds[i].module ? d->builds[i].module : "?",
				d->builds[i].before, d->builds[i].after);
		fprintf(out, "); rows are matched by name only\n");
	}
	if (d->different_allocators)
		fprintf(out, "note: OLD uses %s and NEW uses %s: size classes and statistics "
			"are not comparable\n",
			d->before.report->alloc_name ? d->before.report->alloc_name : "?",
			d->after.report->alloc_name ? d->after.report->alloc_name : "?");

	fprintf(out, "\n%-9s %12s %10s %12s %10s %12s %10s %8s", "totals", "delta", "delta#",
		"old bytes", "old #", "new bytes", "new #", "growth");
	hs_text_rate(out, d, "per hour", 0);
	fputc('\n', out);
	for (int s = 0; s < HS_DIFF_NTOTALS + d->has_leaks; s++) {
		const struct hs_diff_row *row = s < HS_DIFF_NTOTALS ? &d->totals[s] : &d->leaked;
		double g;
		if (hs_diff_growth(row, &g))
			snprintf(b4, sizeof(b4), "x%.2f", g);
		else
			snprintf(b4, sizeof(b4), "%s", row->after.bytes ? "new" : "-");
		fprintf(out, "%-9s %12s %+10" PRId64 " %12s %10" PRIu64 " %12s %10" PRIu64
			" %8s",
			row->name, hs_fmt_sbytes(row->dbytes, b1, sizeof(b1)), row->dcount,
			hs_format_bytes(row->before.bytes, b2, sizeof(b2)), row->before.count,
			hs_format_bytes(row->after.bytes, b3, sizeof(b3)), row->after.count, b4);
		hs_text_rate(out, d, NULL, row->dbytes);
		fputc('\n', out);
	}

	if (d->nstats) {
		fprintf(out, "\n%-44s %16s %16s %16s\n", "allocator statistics", "old", "new",
			"delta");
		for (size_t i = 0; i < d->nstats; i++) {
			const struct hs_diff_stat *s = &d->stats[i];
			snprintf(b1, sizeof(b1), "%" PRIu64, s->before);
			snprintf(b2, sizeof(b2), "%" PRIu64, s->after);
			fprintf(out, "  %-42s %16s %16s %+16" PRId64 "\n", s->name,
				s->in_before ? b1 : "-", s->in_after ? b2 : "-", s->delta);
		}
	}

	hs_text_table(out, d, "types", &d->types, HS_VIEW_TYPES);
	hs_text_table(out, d, "size classes (in use)", &d->size_classes, HS_VIEW_SIZES);
	hs_text_table(out, d, "pattern clusters", &d->patterns, HS_VIEW_PATTERNS);
	hs_text_table(out, d, "memory table (virtual bytes)", &d->memory, HS_VIEW_MEMORY);
	if (d->min_bytes)
		fprintf(out, "\n(rows whose bytes changed by less than %" PRIu64
			" are not shown: --min-bytes)\n", d->min_bytes);

	if (fflush(out) != 0 || ferror(out))
		return hs_error_create(HS_ERR_IO, "%s: write failed: %s", where,
				       strerror(errno));
	return NULL;
}

/* ------------------------------------------------------------------- JSON */

static json_t *hs_dj_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *hs_dj_count(uint64_t count, uint64_t bytes)
{
	return json_pack("{s:o,s:o}", "count", hs_json_u64(count), "bytes", hs_json_u64(bytes));
}

/* old/new/delta/growth (and the rate when the elapsed time is known). */
static bool hs_dj_change(json_t *o, const struct hs_diff *d, const struct hs_diff_row *row)
{
	double g;
	bool ok = !json_object_set_new(o, "old", hs_dj_count(row->before.count,
							     row->before.bytes)) &&
		  !json_object_set_new(o, "new", hs_dj_count(row->after.count,
							     row->after.bytes)) &&
		  !json_object_set_new(o, "delta",
				       json_pack("{s:I,s:I}", "count", (json_int_t)row->dcount,
						 "bytes", (json_int_t)row->dbytes)) &&
		  !json_object_set_new(o, "growth", hs_diff_growth(row, &g) ? json_real(g)
									   : json_null());
	if (ok && d->has_elapsed && d->elapsed > 0)
		ok = !json_object_set_new(o, "bytes_per_hour",
					  json_real((double)row->dbytes * 3600.0 /
						    (double)d->elapsed));
	return ok;
}

static json_t *hs_dj_side(const struct hs_diff_input *in)
{
	const struct hs_report *r = in->report;
	json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:I,s:{s:o,s:o}}", "input",
			      in->from_core ? "core" : "report", "source", in->source,
			      "core_path", hs_dj_str(r->core_path), "executable",
			      hs_dj_str(r->executable), "pid", (json_int_t)r->pid, "allocator",
			      "name", hs_dj_str(r->alloc_name), "version",
			      hs_dj_str(r->alloc_version));
	if (o && r->captured_at >= 0 &&
	    json_object_set_new(o, "captured_at", json_integer(r->captured_at))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *hs_dj_table(const struct hs_diff *d, const struct hs_diff_table *t,
			   enum hs_view v)
{
	json_t *rows = json_array();
	bool ok = rows != NULL;
	static const char *const status[] = {"common", "new", "gone"};
	for (size_t i = 0; ok && i < t->nrows; i++) {
		const struct hs_diff_row *row = &t->rows[i];
		json_t *o = json_object();
		ok = o && !json_array_append_new(rows, o);
		if (!ok)
			break;
		if (v == HS_VIEW_TYPES)
			ok = !json_object_set_new(o, "name", json_string(row->name)) &&
			     !json_object_set_new(o, "kind", json_string(row->kind));
		else if (v == HS_VIEW_MEMORY)
			ok = !json_object_set_new(o, "kind", json_string(row->kind)) &&
			     (!row->name ||
			      !json_object_set_new(o, "name", json_string(row->name)));
		else if (v == HS_VIEW_PATTERNS)
			ok = !json_object_set_new(o, "signature", json_string(row->name)) &&
			     !json_object_set_new(o, "size", hs_json_u64(row->size));
		else
			ok = !json_object_set_new(o, "size", hs_json_u64(row->size));
		ok = ok && !json_object_set_new(o, "status", json_string(status[row->status])) &&
		     hs_dj_change(o, d, row);
		if (ok && v == HS_VIEW_TYPES && d->has_leaks)
			ok = !json_object_set_new(
				o, "leaked",
				json_pack("{s:o,s:o,s:{s:I,s:I}}", "old",
					  hs_dj_count(row->leaked_before.count,
						      row->leaked_before.bytes),
					  "new",
					  hs_dj_count(row->leaked_after.count, row->leaked_after.bytes),
					  "delta", "count", (json_int_t)row->dleaked_count, "bytes",
					  (json_int_t)row->dleaked_bytes));
	}
	int64_t oc, ob;
	hs_table_omitted(t, &oc, &ob);
	json_t *tab = ok ? json_pack("{s:o,s:I,s:{s:I,s:I,s:I}}", "rows", rows, "rows_total",
				     (json_int_t)t->nall, "omitted", "rows",
				     (json_int_t)(t->nall - t->nrows), "count", (json_int_t)oc,
				     "bytes", (json_int_t)ob)
			 : NULL;
	if (!tab && !ok)
		json_decref(rows);
	return tab;
}

static json_t *hs_diff_to_json(const struct hs_diff *d)
{
	json_t *root = json_object();
	if (!root)
		return NULL;
	bool ok = !json_object_set_new(root, "schema", json_string(HS_DIFF_SCHEMA)) &&
		  !json_object_set_new(root, "tool", json_pack("{s:s,s:s}", "name",
							       "heapscope", "version",
							       HS_VERSION)) &&
		  !json_object_set_new(root, "old", hs_dj_side(&d->before)) &&
		  !json_object_set_new(root, "new", hs_dj_side(&d->after));
	if (ok && d->has_elapsed)
		ok = !json_object_set_new(root, "elapsed_seconds", json_integer(d->elapsed));

	json_t *builds = json_array();
	for (size_t i = 0; ok && builds && i < d->nbuilds; i++)
		ok = !json_array_append_new(
			builds, json_pack("{s:o,s:s,s:s}", "module",
					  hs_dj_str(d->builds[i].module), "old_build_id",
					  d->builds[i].before, "new_build_id",
					  d->builds[i].after));
	ok = ok && !json_object_set_new(root, "different_builds",
					json_boolean(d->different_builds)) &&
	     !json_object_set_new(root, "build_differences", builds) &&
	     !json_object_set_new(root, "different_allocators",
				  json_boolean(d->different_allocators)) &&
	     !json_object_set_new(root, "filters",
				  json_pack("{s:o,s:o}", "top", hs_json_u64(d->top),
					    "min_bytes", hs_json_u64(d->min_bytes)));

	json_t *totals = json_object();
	for (int s = 0; ok && totals && s < HS_DIFF_NTOTALS; s++) {
		json_t *o = json_object();
		ok = o && !json_object_set_new(totals, d->totals[s].name, o) &&
		     hs_dj_change(o, d, &d->totals[s]);
	}
	if (ok && totals && d->has_leaks) {
		json_t *o = json_object();
		ok = o && !json_object_set_new(totals, "leaked", o) && hs_dj_change(o, d, &d->leaked);
	}
	ok = ok && !json_object_set_new(root, "totals", totals);

	json_t *stats = json_array();
	for (size_t i = 0; ok && stats && i < d->nstats; i++) {
		const struct hs_diff_stat *s = &d->stats[i];
		ok = !json_array_append_new(
			stats, json_pack("{s:s,s:o,s:o,s:I}", "name", s->name, "old",
					 s->in_before ? hs_json_u64(s->before) : json_null(),
					 "new", s->in_after ? hs_json_u64(s->after) : json_null(),
					 "delta", (json_int_t)s->delta));
	}
	ok = ok && !json_object_set_new(root, "stats", stats) &&
	     !json_object_set_new(root, "types", hs_dj_table(d, &d->types, HS_VIEW_TYPES)) &&
	     !json_object_set_new(root, "size_classes",
				  hs_dj_table(d, &d->size_classes, HS_VIEW_SIZES)) &&
	     !json_object_set_new(root, "patterns",
				  hs_dj_table(d, &d->patterns, HS_VIEW_PATTERNS)) &&
	     !json_object_set_new(root, "memory", hs_dj_table(d, &d->memory, HS_VIEW_MEMORY));
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}

struct hs_error *hs_diff_write_json(const struct hs_diff *d, FILE *out,
				    const char *where)
{
	return hs_json_write_doc(hs_diff_to_json(d), out, where);
}
