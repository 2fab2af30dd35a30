/* test_diff.c: unit tests for the diff model: matching, sorting, filtering, builds, output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../analyzer/diff.h"
#include "check.h"

static void add_type(struct hs_report *r, const char *name, const char *kind,
		     uint64_t count, uint64_t bytes)
{
	r->types = realloc(r->types, (r->ntypes + 1) * sizeof(*r->types));
	r->types[r->ntypes++] = (struct hs_report_type){.name = strdup(name),
							.kind = strdup(kind),
							.count = count, .bytes = bytes};
}

static void add_size(struct hs_report *r, uint64_t size, uint64_t count)
{
	r->size_classes = realloc(r->size_classes,
				  (r->nsize_classes + 1) * sizeof(*r->size_classes));
	r->size_classes[r->nsize_classes++] =
		(struct hs_report_size_class){size, count, size * count};
}

static void add_pattern(struct hs_report *r, const char *sig, uint64_t size, uint64_t count)
{
	r->patterns = realloc(r->patterns, (r->npatterns + 1) * sizeof(*r->patterns));
	r->patterns[r->npatterns++] = (struct hs_report_pattern){
		.signature = strdup(sig), .size = size, .count = count, .bytes = size * count};
}

static void base(struct hs_report *r, const char *alloc, int64_t captured,
		 const char *exe_bid, const char *libc_bid)
{
	hs_report_init(r);
	r->executable = strdup("/usr/bin/svc");
	r->alloc_name = strdup(alloc);
	r->alloc_version = strdup("1");
	r->located_by = strdup("symbols");
	r->captured_at = captured;
	CHECK(hs_report_add_module(r, "/usr/bin/svc", 0x1000, exe_bid, "symtab"));
	CHECK(hs_report_add_module(r, "/lib/libc.so.6", 0x2000, libc_bid, "symtab"));
}

static const struct hs_diff_row *find(const struct hs_diff_table *t, const char *name,
				      const char *kind, uint64_t size)
{
	for (size_t i = 0; i < t->nrows; i++) {
		const struct hs_diff_row *r = &t->rows[i];
		if ((name ? r->name && !strcmp(r->name, name) : !r->name) &&
		    (kind ? r->kind && !strcmp(r->kind, kind) : !r->kind) &&
		    (name && !kind ? true : r->size == size))
			return r;
	}
	return NULL;
}

/* The text form of a diff, in a string the caller frees. */
static char *diff_text(const struct hs_diff *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(hs_diff_write_text(d, f, "mem") == NULL);
	fclose(f);
	return buf;
}

static void test_matching(void)
{
	struct hs_report a, b;
	base(&a, "glibc", 1000, "aa", "cc");
	base(&b, "glibc", 1000 + 7200, "aa", "cc");
	a.totals[HS_REPORT_IN_USE] = (struct hs_report_count){100, 10000};
	b.totals[HS_REPORT_IN_USE] = (struct hs_report_count){150, 16000};
	CHECK(hs_report_add_stat(&a, "uordblks", 10000));
	CHECK(hs_report_add_stat(&a, "only_old", 5));
	CHECK(hs_report_add_stat(&b, "uordblks", 16000));
	CHECK(hs_report_add_stat(&b, "only_new", 7));

	add_type(&a, "Widget", "vtable", 10, 2000);
	add_type(&b, "Widget", "vtable", 40, 8000);  /* +6000 */
	add_type(&a, "Widget", "pattern", 5, 500);   /* same name, other kind */
	add_type(&b, "Widget", "pattern", 5, 500);   /* unchanged */
	add_type(&a, "Gone", "vtable", 3, 300);      /* vanished: -300 */
	add_type(&b, "Fresh", "sds", 20, 640);       /* new: +640 */
	add_type(&b, "Dup", "cstring", 1, 10);       /* repeated key: summed */
	add_type(&b, "Dup", "cstring", 2, 20);

	add_size(&a, 208, 10);
	add_size(&b, 208, 40);
	add_size(&a, 32, 7);
	add_size(&b, 32, 7);
	add_size(&a, 64, 3);
	add_size(&b, 4096, 1);

	add_pattern(&a, "H M 0 i", 48, 2);
	add_pattern(&b, "H M 0 i", 48, 12);
	add_pattern(&b, "H M 0 i", 64, 1); /* same shape, other size: another cluster */

	struct hs_diff_input ia = {&a, "old.json", false}, ib = {&b, "core.2", true};
	struct hs_diff *d;
	CHECK(hs_diff_create(&ia, &ib, &d) == NULL);

	CHECK(d->has_elapsed && d->elapsed == 7200);
	CHECK(!d->different_builds && d->nbuilds == 0 && !d->different_allocators);
	CHECK(d->totals[HS_REPORT_IN_USE].dbytes == 6000 &&
	      d->totals[HS_REPORT_IN_USE].dcount == 50);

	/* Stats: the old report's order, then what only the new one has. */
	CHECK(d->nstats == 3);
	CHECK(!strcmp(d->stats[0].name, "uordblks") && d->stats[0].delta == 6000);
	CHECK(!strcmp(d->stats[1].name, "only_old") && d->stats[1].in_before &&
	      !d->stats[1].in_after && d->stats[1].delta == -5);
	CHECK(!strcmp(d->stats[2].name, "only_new") && !d->stats[2].in_before &&
	      d->stats[2].delta == 7);

	/* Types: 5 keys; sorted by byte growth, largest first. */
	CHECK(d->types.nall == 5 && d->types.nrows == 5);
	CHECK(!strcmp(d->types.rows[0].name, "Widget") &&
	      !strcmp(d->types.rows[0].kind, "vtable") && d->types.rows[0].dbytes == 6000 &&
	      d->types.rows[0].dcount == 30 && d->types.rows[0].status == HS_DIFF_COMMON);
	CHECK(!strcmp(d->types.rows[1].name, "Fresh") && d->types.rows[1].status == HS_DIFF_NEW);
	CHECK(!strcmp(d->types.rows[4].name, "Gone") && d->types.rows[4].status == HS_DIFF_GONE &&
	      d->types.rows[4].dbytes == -300 && d->types.rows[4].dcount == -3);
	const struct hs_diff_row *dup = find(&d->types, "Dup", "cstring", 0);
	CHECK(dup && dup->after.count == 3 && dup->after.bytes == 30);
	const struct hs_diff_row *wp = find(&d->types, "Widget", "pattern", 0);
	CHECK(wp && wp->dbytes == 0 && wp->status == HS_DIFF_COMMON);
	for (size_t i = 1; i < d->types.nrows; i++)
		CHECK(d->types.rows[i - 1].dbytes >= d->types.rows[i].dbytes);
	double g;
	CHECK(hs_diff_growth(&d->types.rows[0], &g) && g == 4.0);
	CHECK(!hs_diff_growth(&d->types.rows[1], &g));
	CHECK(hs_diff_growth(&d->types.rows[4], &g) && g == 0.0);

	/* Size classes by size. */
	CHECK(d->size_classes.nall == 4);
	CHECK(d->size_classes.rows[0].size == 208 && d->size_classes.rows[0].dbytes == 30 * 208);
	CHECK(d->size_classes.rows[1].size == 4096 &&
	      d->size_classes.rows[1].status == HS_DIFF_NEW);
	CHECK(d->size_classes.rows[3].size == 64 &&
	      d->size_classes.rows[3].status == HS_DIFF_GONE);
	CHECK(d->size_classes.all_dbytes == 30 * 208 + 4096 - 3 * 64);

	/* Patterns by signature. */
	CHECK(d->patterns.nall == 2 && d->patterns.rows[0].dcount == 10 &&
	      d->patterns.rows[0].size == 48 && d->patterns.rows[1].size == 64 &&
	      d->patterns.rows[1].status == HS_DIFF_NEW);

	/* Filters: --min-bytes keeps |delta| >= B, --top keeps a prefix. */
	hs_diff_filter(d, 0, 1);
	CHECK(d->types.nrows == 4); /* the unchanged Widget/pattern row goes */
	CHECK(d->types.rows[3].status == HS_DIFF_GONE);
	hs_diff_filter(d, 0, 500);
	CHECK(d->types.nrows == 2 && d->size_classes.nrows == 2);
	hs_diff_filter(d, 1, 500);
	CHECK(d->types.nrows == 1 && d->types.rows[0].dbytes == 6000);
	CHECK(d->top == 1 && d->min_bytes == 500);

	/* The outputs: JSON that parses with the omitted rows accounted for,
	 * and text, both without error. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(hs_diff_write_json(d, f, "mem") == NULL);
	fclose(f);
	json_error_t jerr;
	json_t *root = json_loads(buf, 0, &jerr);
	CHECK(root != NULL);
	CHECK(!strcmp(json_string_value(json_object_get(root, "schema")), "heapscope-diff/1"));
	CHECK(json_integer_value(json_object_get(root, "elapsed_seconds")) == 7200);
	json_t *types = json_object_get(root, "types");
	CHECK(json_array_size(json_object_get(types, "rows")) == 1);
	CHECK(json_integer_value(json_object_get(types, "rows_total")) == 5);
	json_t *om = json_object_get(types, "omitted");
	CHECK(json_integer_value(json_object_get(om, "rows")) == 4);
	CHECK(json_integer_value(json_object_get(om, "bytes")) == 640 + 30 - 300);
	json_t *row = json_array_get(json_object_get(types, "rows"), 0);
	CHECK(json_real_value(json_object_get(row, "bytes_per_hour")) == 3000.0);
	CHECK(json_real_value(json_object_get(row, "growth")) == 4.0);
	CHECK(!strcmp(json_string_value(json_object_get(row, "status")), "common"));
	json_decref(root);
	free(buf);

	buf = diff_text(d);
	CHECK(strstr(buf, "Widget") && !strstr(buf, "different builds"));
	free(buf);

	hs_diff_destroy(d);
	hs_report_deinit(&a);
	hs_report_deinit(&b);
}

/* The memory tables: rows matched by kind and owner, an mmap leak on top. */
static void test_memory(void)
{
	struct hs_report a, b, c;
	base(&a, "glibc", 0, NULL, NULL);
	base(&b, "glibc", 3600, NULL, NULL);
	base(&c, "glibc", 7200, NULL, NULL); /* written before the memory table */
	CHECK(hs_report_add_mem_row(&a, "in_use", NULL, 1000, 1000, false, 0));
	CHECK(hs_report_add_mem_row(&b, "in_use", NULL, 1200, 1200, false, 0));
	CHECK(hs_report_add_mem_row(&a, "other_anonymous", NULL, 4096, 4096, true, 1));
	CHECK(hs_report_add_mem_row(&b, "other_anonymous", NULL, 1 << 20, 1 << 20, true, 3));
	CHECK(hs_report_add_mem_row(&a, "other_anonymous", "Go heap", 8192, 8192, true, 1));
	CHECK(hs_report_add_mem_row(&b, "other_anonymous", "Go heap", 8192, 8192, true, 1));
	CHECK(hs_report_add_mem_row(&b, "inaccessible", "Go heap", 4096, 0, true, 1));
	struct hs_diff_input ia = {&a, "a.json", false}, ib = {&b, "b.json", false};
	struct hs_diff *d;
	CHECK(hs_diff_create(&ia, &ib, &d) == NULL);
	CHECK(d->memory.nall == 4);
	const struct hs_diff_row *top = &d->memory.rows[0];
	CHECK(!strcmp(top->kind, "other_anonymous") && !top->name &&
	      top->dbytes == (1 << 20) - 4096 && top->dcount == 2);
	const struct hs_diff_row *go = find(&d->memory, "Go heap", "other_anonymous", 0);
	CHECK(go && go->dbytes == 0 && go->status == HS_DIFF_COMMON);
	go = find(&d->memory, "Go heap", "inaccessible", 0);
	CHECK(go && go->status == HS_DIFF_NEW);
	const struct hs_diff_row *iu = find(&d->memory, NULL, "in_use", 0);
	CHECK(iu && iu->dbytes == 200);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(hs_diff_write_json(d, f, "mem") == NULL);
	fclose(f);
	json_t *root = json_loads(buf, 0, NULL);
	json_t *rows = json_object_get(json_object_get(root, "memory"), "rows");
	CHECK(json_array_size(rows) == 4);
	json_t *r0 = json_array_get(rows, 0);
	CHECK(!strcmp(json_string_value(json_object_get(r0, "kind")), "other_anonymous") &&
	      !json_object_get(r0, "name"));
	CHECK(json_real_value(json_object_get(r0, "bytes_per_hour")) == (1 << 20) - 4096);
	json_decref(root);
	free(buf);
	buf = diff_text(d);
	CHECK(strstr(buf, "memory table") && strstr(buf, "inaccessible (Go heap)"));
	free(buf);
	hs_diff_destroy(d);

	/* Against a report without a table: every row is new, none fails. */
	struct hs_diff_input ic = {&c, "c.json", false};
	CHECK(hs_diff_create(&ic, &ib, &d) == NULL);
	CHECK(d->memory.nall == 4 && d->memory.rows[0].status == HS_DIFF_NEW);
	hs_diff_destroy(d);
	hs_report_deinit(&a);
	hs_report_deinit(&b);
	hs_report_deinit(&c);
}

static void test_builds(void)
{
	struct hs_report a, b, c;
	/* Same executable, different libc build; unknown build-ids prove nothing. */
	base(&a, "glibc", -1, "aa", "cc");
	base(&b, "jemalloc", 50, "aa", "dd");
	base(&c, "glibc", 50, NULL, "cc");
	struct hs_diff_input ia = {&a, "a", true}, ib = {&b, "b", true}, ic = {&c, "c", true};
	struct hs_diff *d;
	CHECK(hs_diff_create(&ia, &ib, &d) == NULL);
	CHECK(d->different_builds && d->nbuilds == 1);
	CHECK(d->nbuilds == 1 && !strcmp(d->builds[0].module, "/lib/libc.so.6") &&
	      !strcmp(d->builds[0].before, "cc") && !strcmp(d->builds[0].after, "dd"));
	CHECK(d->different_allocators && !d->has_elapsed);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(hs_diff_write_text(d, f, "mem") == NULL);
	fclose(f);
	CHECK(strstr(buf, "different builds") && strstr(buf, "/lib/libc.so.6"));
	CHECK(strstr(buf, "elapsed   unknown"));
	free(buf);
	hs_diff_destroy(d);

	CHECK(hs_diff_create(&ia, &ic, &d) == NULL);
	CHECK(!d->different_builds);
	hs_diff_destroy(d);

	/* A rebuilt executable under a new path still counts. */
	free(b.executable);
	b.executable = strdup("/opt/svc-2");
	free(b.modules[0].path);
	b.modules[0].path = strdup("/opt/svc-2");
	free(b.modules[0].build_id);
	b.modules[0].build_id = strdup("bb");
	free(b.modules[1].build_id);
	b.modules[1].build_id = strdup("cc");
	CHECK(hs_diff_create(&ia, &ib, &d) == NULL);
	CHECK(d->different_builds && d->nbuilds == 1 &&
	      !strcmp(d->builds[0].module, "/opt/svc-2"));
	hs_diff_destroy(d);

	hs_report_deinit(&a);
	hs_report_deinit(&b);
	hs_report_deinit(&c);
}

static void test_sort_and_filter(void)
{
	struct hs_diff_row rows[6] = {
		{.name = "b", .dbytes = -10, .after = {0, 0}},
		{.name = "a", .dbytes = 100, .after = {1, 100}},
		{.name = "c", .dbytes = 100, .after = {1, 200}},
		{.name = "d", .dbytes = 0, .after = {1, 5}},
		{.name = "e", .dbytes = INT64_MIN},
		{.name = "f", .dbytes = INT64_MAX},
	};
	hs_diff_sort_rows(rows, 6);
	const char *want = "fcadbe";
	for (int i = 0; i < 6; i++)
		CHECK(rows[i].name[0] == want[i]);
	struct hs_diff_table t = {.rows = rows, .nrows = 6, .nall = 6};
	hs_diff_filter_table(&t, 0, 10);
	CHECK(t.nrows == 5); /* d (0) goes; b (-10) and e (INT64_MIN) stay */
	CHECK(t.rows[3].name[0] == 'b' && t.rows[4].name[0] == 'e');
	hs_diff_filter_table(&t, 2, 0);
	CHECK(t.nrows == 2 && t.rows[1].name[0] == 'c');
	hs_diff_filter_table(&t, 0, UINT64_MAX);
	CHECK(t.nrows == 0);
	hs_diff_sort_rows(NULL, 0);
}

static void test_saturation(void)
{
	struct hs_report a, b;
	base(&a, "glibc", 10, NULL, NULL);
	base(&b, "glibc", 5, NULL, NULL);
	/* A hostile report: counts at the JSON limit, repeated keys. */
	add_type(&b, "X", "vtable", INT64_MAX, INT64_MAX);
	add_type(&b, "X", "vtable", INT64_MAX, INT64_MAX);
	add_type(&b, "X", "vtable", INT64_MAX, INT64_MAX); /* the sum saturates */
	add_type(&a, "Y", "vtable", INT64_MAX, INT64_MAX);
	struct hs_diff_input ia = {&a, "a", false}, ib = {&b, "b", false};
	struct hs_diff *d;
	CHECK(hs_diff_create(&ia, &ib, &d) == NULL);
	CHECK(d->types.rows[0].after.bytes == UINT64_MAX &&
	      d->types.rows[0].dbytes == INT64_MAX);
	CHECK(d->types.rows[1].dbytes == -INT64_MAX);
	CHECK(d->has_elapsed && d->elapsed == -5);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(hs_diff_write_text(d, f, "mem") == NULL);
	CHECK(hs_diff_write_json(d, f, "mem") == NULL);
	fclose(f);
	CHECK(strstr(buf, "NEW was captured before OLD") != NULL);
	free(buf);
	hs_diff_destroy(d);
	hs_report_deinit(&a);
	hs_report_deinit(&b);
}

int main(void)
{
	test_matching();
	test_memory();
	test_builds();
	test_sort_and_filter();
	test_saturation();
	return check_summary("test_diff");
}
