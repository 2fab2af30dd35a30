/* test_report_json.c: unit tests for the report reader: write, read, compare; and bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../formats/formats.h"
#include "check.h"

static char tmpdir[] = "/tmp/hs-test-report-json-XXXXXX";

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* A report with every section and every optional field in use. */
static void fill(struct hs_report *r)
{
	hs_report_init(r);
	r->core_path = strdup("/var/crash/core.1234");
	r->core_bytes = 123456789;
	r->pid = 1234;
	r->executable = strdup("/usr/bin/service \"quoted\"\nnewline");
	r->threads = 7;
	r->captured_at = 1700000000;
	CHECK(hs_report_add_module(r, "/usr/bin/service", 0x555555554000, "abcdef0123", "symtab"));
	CHECK(hs_report_add_module(r, "/lib/x86_64-linux-gnu/libc.so.6", 0x7f0000000000,
				   NULL, "none"));
	r->alloc_name = strdup("glibc");
	r->alloc_version = strdup("2.36");
	r->located_by = strdup("disassembly");
	r->arenas = 3;
	CHECK(hs_report_add_stat(r, "uordblks", 1000));
	CHECK(hs_report_add_stat(r, "stats.arenas.0.small.allocated", 0x7fffffffffffffffull));
	r->totals[HS_REPORT_IN_USE] = (struct hs_report_count){10, 1000};
	r->totals[HS_REPORT_FREE] = (struct hs_report_count){2, 200};
	r->totals[HS_REPORT_CACHED] = (struct hs_report_count){3, 96};
	r->metadata = (struct hs_report_count){1, 592};
	r->nsize_classes = 2;
	r->size_classes = calloc(2, sizeof(*r->size_classes));
	r->size_classes[0] = (struct hs_report_size_class){208, 2, 416};
	r->size_classes[1] = (struct hs_report_size_class){32, 0, 0};
	r->ntypes = 2;
	r->types = calloc(2, sizeof(*r->types));
	r->types[0] = (struct hs_report_type){.name = strdup("shapes::Circle"),
					      .kind = strdup("vtable"), .count = 2,
					      .bytes = 416, .has_confidence = true,
					      .confidence = 0.9500000000000001};
	r->types[0].nexamples = 2;
	r->types[0].examples = calloc(2, sizeof(uint64_t));
	r->types[0].examples[0] = 0x5555555592a0;
	r->types[0].examples[1] = 0xffffffffffffffffull;
	r->types[1] = (struct hs_report_type){.name = strdup("sds"), .kind = strdup("sds"),
					      .count = 5, .bytes = 160};
	r->npatterns = 1;
	r->patterns = calloc(1, sizeof(*r->patterns));
	r->patterns[0] = (struct hs_report_pattern){.signature = strdup("H M 0 i"),
						    .size = 48, .count = 3, .bytes = 144,
						    .runs = 1, .nsamples = 2};
	r->patterns[0].samples = calloc(2, sizeof(*r->patterns[0].samples));
	r->patterns[0].samples[0] =
		(struct hs_report_sample){0x1000, strdup("00000000  41 |A|\n")};
	r->patterns[0].samples[1] = (struct hs_report_sample){0x2000, NULL};
	r->memory.mapped = 0x10000000;
	r->memory.dumped = 0x1000000;
	r->memory.modules = 0x200000;
	r->memory.chunks = 1296;
	CHECK(hs_report_add_alloc_region(r, "retained", 2, 0x8000));
	CHECK(hs_report_add_alloc_region(r, "heap", 1, 0x4000));
	CHECK(hs_report_add_mem_row(r, "in_use", NULL, 408, 408, false, 0));
	CHECK(hs_report_add_mem_row(r, "allocator_metadata", NULL, 1000, 0, false, 0));
	CHECK(hs_report_add_mem_row(r, "modules", NULL, 0x200000, 0x100000, true, 3));
	CHECK(hs_report_add_mem_row(r, "other_anonymous", "Go heap", 0xbfff000, 0xeff000 - 408,
				    true, 1));
	CHECK(hs_report_add_mem_row(r, "inaccessible", NULL, 0x3c00000 - 1408, 0, true, 2));
	r->memory.core_writer = strdup("kernel");
	r->memory.untouched_pages = strdup("omitted");
	r->memory.verdict = strdup("memory outside the allocator dominates");
	CHECK(hs_report_add_diag(r, "warning", "odd chunk", true, 0xdeadbeef));
	CHECK(hs_report_add_diag(r, "info", "no address", false, 0));
	r->diags_dropped = 12;
}

static void check_equal(const struct hs_report *a, const struct hs_report *b)
{
	CHECK(str_eq(a->core_path, b->core_path));
	CHECK(a->core_bytes == b->core_bytes && a->pid == b->pid && a->threads == b->threads);
	CHECK(str_eq(a->executable, b->executable));
	CHECK(a->captured_at == b->captured_at);
	CHECK(a->nmodules == b->nmodules);
	for (size_t i = 0; i < a->nmodules && i < b->nmodules; i++) {
		CHECK(str_eq(a->modules[i].path, b->modules[i].path));
		CHECK(a->modules[i].base == b->modules[i].base);
		CHECK(str_eq(a->modules[i].build_id, b->modules[i].build_id));
		CHECK(str_eq(a->modules[i].symbols, b->modules[i].symbols));
	}
	CHECK(str_eq(a->alloc_name, b->alloc_name) && str_eq(a->alloc_version, b->alloc_version));
	CHECK(str_eq(a->located_by, b->located_by) && a->arenas == b->arenas);
	CHECK(a->nstats == b->nstats);
	for (size_t i = 0; i < a->nstats && i < b->nstats; i++)
		CHECK(str_eq(a->stats[i].name, b->stats[i].name) &&
		      a->stats[i].value == b->stats[i].value);
	for (int s = 0; s < HS_REPORT_NSTATES; s++)
		CHECK(a->totals[s].count == b->totals[s].count &&
		      a->totals[s].bytes == b->totals[s].bytes);
	CHECK(a->metadata.count == b->metadata.count && a->metadata.bytes == b->metadata.bytes);
	CHECK(a->nsize_classes == b->nsize_classes);
	for (size_t i = 0; i < a->nsize_classes && i < b->nsize_classes; i++)
		CHECK(!memcmp(&a->size_classes[i], &b->size_classes[i],
			      sizeof(a->size_classes[i])));
	CHECK(a->ntypes == b->ntypes);
	for (size_t i = 0; i < a->ntypes && i < b->ntypes; i++) {
		const struct hs_report_type *x = &a->types[i], *y = &b->types[i];
		CHECK(str_eq(x->name, y->name) && str_eq(x->kind, y->kind));
		CHECK(x->count == y->count && x->bytes == y->bytes);
		CHECK(x->has_confidence == y->has_confidence);
		/* Written with two decimals. */
		CHECK(!x->has_confidence ||
		      y->confidence == (double)(int64_t)(x->confidence * 100 + 0.5) / 100);
		CHECK(x->nexamples == y->nexamples);
		for (size_t j = 0; j < x->nexamples && j < y->nexamples; j++)
			CHECK(x->examples[j] == y->examples[j]);
	}
	CHECK(a->npatterns == b->npatterns);
	for (size_t i = 0; i < a->npatterns && i < b->npatterns; i++) {
		const struct hs_report_pattern *x = &a->patterns[i], *y = &b->patterns[i];
		CHECK(str_eq(x->signature, y->signature));
		CHECK(x->size == y->size && x->count == y->count && x->bytes == y->bytes &&
		      x->runs == y->runs);
		CHECK(x->nsamples == y->nsamples);
		for (size_t j = 0; j < x->nsamples && j < y->nsamples; j++)
			CHECK(x->samples[j].address == y->samples[j].address &&
			      str_eq(x->samples[j].hex, y->samples[j].hex));
	}
	const struct hs_report_memory *ma = &a->memory, *mb = &b->memory;
	CHECK(ma->mapped == mb->mapped && ma->dumped == mb->dumped &&
	      ma->modules == mb->modules && ma->chunks == mb->chunks);
	CHECK(ma->nalloc_regions == mb->nalloc_regions);
	for (size_t i = 0; i < ma->nalloc_regions && i < mb->nalloc_regions; i++)
		CHECK(str_eq(ma->alloc_regions[i].kind, mb->alloc_regions[i].kind) &&
		      ma->alloc_regions[i].count == mb->alloc_regions[i].count &&
		      ma->alloc_regions[i].bytes == mb->alloc_regions[i].bytes);
	CHECK(ma->nregions == mb->nregions);
	for (size_t i = 0; i < ma->nregions && i < mb->nregions; i++) {
		const struct hs_report_mem_row *x = &ma->regions[i], *y = &mb->regions[i];
		CHECK(str_eq(x->kind, y->kind) && str_eq(x->name, y->name));
		CHECK(x->bytes == y->bytes && x->dumped == y->dumped);
		CHECK(x->has_count == y->has_count && x->count == y->count);
	}
	CHECK(str_eq(ma->core_writer, mb->core_writer));
	CHECK(str_eq(ma->untouched_pages, mb->untouched_pages));
	CHECK(str_eq(ma->verdict, mb->verdict));
	CHECK(a->ndiags == b->ndiags && a->diags_dropped == b->diags_dropped);
	for (size_t i = 0; i < a->ndiags && i < b->ndiags; i++) {
		CHECK(str_eq(a->diags[i].severity, b->diags[i].severity));
		CHECK(str_eq(a->diags[i].message, b->diags[i].message));
		CHECK(a->diags[i].has_address == b->diags[i].has_address);
		CHECK(!a->diags[i].has_address || a->diags[i].address == b->diags[i].address);
	}
}

static char *path_of(const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
		abort();
	return p;
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(text, 1, len, f) == len);
	fclose(f);
}

static char *write_report(const struct hs_report *r, const char *name, size_t *len)
{
	char *path = path_of(name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	struct hs_error *err = hs_report_write_json(r, f, path);
	CHECK(err == NULL);
	hs_error_destroy(err);
	fclose(f);
	f = fopen(path, "r");
	char *text = calloc(1, 1 << 20);
	*len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	free(path);
	return text;
}

/* Read `text` as a report: the error code (0 on success). A failure must
 * be one line that names the file. */
static int read_text(const char *text, size_t len, struct hs_report *out)
{
	char *path = path_of("input.json");
	write_text(path, text, len);
	struct hs_report r;
	struct hs_error *err = hs_report_read_json(path, &r);
	int code = err ? (int)err->code : 0;
	if (err) {
		CHECK(strstr(err->message, path) != NULL);
		CHECK(strchr(err->message, '\n') == NULL);
		hs_error_destroy(err);
	} else if (out) {
		*out = r;
	} else {
		hs_report_deinit(&r);
	}
	unlink(path);
	free(path);
	return code;
}

static void test_round_trip(void)
{
	struct hs_report a, b;
	fill(&a);
	size_t len;
	char *text = write_report(&a, "full.json", &len);
	CHECK(read_text(text, len, &b) == 0);
	check_equal(&a, &b);
	/* Reals have no binary noise: two decimals, as written. */
	const char *conf = strstr(text, "\"confidence\": 0.95");
	CHECK(conf && (conf[19] < '0' || conf[19] > '9'));
	/* And again from what was read: a fixed point. */
	size_t len2;
	char *text2 = write_report(&b, "again.json", &len2);
	CHECK(len == len2 && !memcmp(text, text2, len));
	hs_report_deinit(&b);
	free(text2);

	/* Every proper prefix (short of trailing whitespace) is an error,
	 * never a crash or a partial report. */
	size_t end = len;
	while (end && (text[end - 1] == '\n' || text[end - 1] == ' '))
		end--;
	for (size_t cut = 0; cut < end; cut++)
		CHECK(read_text(text, cut, NULL) == HS_ERR_FORMAT);
	free(text);
	hs_report_deinit(&a);

	/* An empty report: no captured_at, no optional sections. */
	hs_report_init(&a);
	a.alloc_name = strdup("jemalloc");
	a.alloc_version = strdup("5.3.0");
	a.located_by = strdup("symbols");
	text = write_report(&a, "empty.json", &len);
	CHECK(read_text(text, len, &b) == 0);
	check_equal(&a, &b);
	CHECK(b.captured_at == -1);
	hs_report_deinit(&b);
	free(text);
	hs_report_deinit(&a);
}

static const char minimal[] =
	"{\"schema\": \"heapscope-report/1\","
	" \"tool\": {\"name\": \"heapscope\", \"version\": \"0\"},"
	" \"core\": {\"path\": null, \"bytes\": 1, \"pid\": -1, \"executable\": null,"
	" \"threads\": 0},"
	" \"modules\": [], \"allocator\": {\"name\": \"glibc\", \"version\": \"2.36\","
	" \"located_by\": \"symbols\", \"arenas\": 1, \"stats\": {}},"
	" \"totals\": {\"in_use\": {\"count\": 1, \"bytes\": 32},"
	" \"free\": {\"count\": 0, \"bytes\": 0},"
	" \"cached\": {\"count\": 0, \"bytes\": 0}},"
	" \"size_classes\": [{\"size\": 32, \"count\": 1, \"bytes\": 32}], \"diagnostics\": []%s}";

/* `minimal` with `extra` spliced in before the closing brace. */
static int read_minimal(const char *extra)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), minimal, extra);
	return read_text(buf, strlen(buf), NULL);
}

static void test_bad_input(void)
{
	CHECK(read_minimal("") == 0);
	/* Unknown keys, at any level, are ignored. */
	CHECK(read_minimal(", \"future\": {\"x\": [1, 2]},"
			   " \"types\": [{\"name\": \"T\", \"kind\": "
			   "\"newkind\", \"count\": 1, \"bytes\": 2, \"examples\": [], "
			   "\"extra\": true}]") == 0);
	/* Later keys override earlier ones (jansson keeps the last). */
	CHECK(read_minimal(", \"size_classes\": 5") == HS_ERR_FORMAT);
	CHECK(read_minimal(", \"types\": {}") == HS_ERR_FORMAT);
	CHECK(read_minimal(", \"types\": [{\"name\": \"T\", \"kind\": \"vtable\", \"count\": -1, "
			   "\"bytes\": 2}]") == HS_ERR_FORMAT);
	CHECK(read_minimal(", \"types\": [{\"name\": \"T\", \"kind\": \"vtable\", \"count\": 1.5, "
			   "\"bytes\": 2}]") == HS_ERR_FORMAT);
	CHECK(read_minimal(", \"types\": [{\"name\": null, \"kind\": \"vtable\", \"count\": 1, "
			   "\"bytes\": 2}]") == HS_ERR_FORMAT);
	CHECK(read_minimal(", \"types\": [{\"name\": \"T\", \"kind\": \"vtable\", \"count\": 1, "
			   "\"bytes\": 2, \"examples\": [12]}]") == HS_ERR_FORMAT);
	CHECK(read_minimal(", \"patterns\": [{\"signature\": \"x\", \"size\": 1, \"count\": 1, "
			   "\"bytes\": 1, \"samples\": [{\"address\": \"0xzz\"}]}]") ==
	      HS_ERR_FORMAT);
	CHECK(read_minimal(", \"diagnostics\": [{\"severity\": \"info\"}]") == HS_ERR_FORMAT);
	CHECK(read_minimal(", \"core\": {}") == HS_ERR_FORMAT);
	CHECK(read_minimal(", \"schema\": \"heapscope-report/2\"") == HS_ERR_FORMAT);
	/* The memory section: absent, as written before the memory table
	 * (allocator_regions only), and with a table; bad rows. */
	struct hs_report old;
	char buf[4096];
	snprintf(buf, sizeof(buf), minimal,
		 ", \"memory\": {\"mapped\": 100, \"dumped\": 50, \"modules\": 10,"
		 " \"allocator_chunks\": 32, \"allocator_regions\": [{\"kind\": \"retained\","
		 " \"count\": 2, \"bytes\": 8192}]}");
	CHECK(read_text(buf, strlen(buf), &old) == 0);
	CHECK(old.memory.mapped == 100 && old.memory.nalloc_regions == 1 &&
	      old.memory.alloc_regions[0].bytes == 8192 && !old.memory.nregions &&
	      !old.memory.core_writer && !old.memory.verdict);
	hs_report_deinit(&old);
#define ROWS ", \"memory\": {\"mapped\": 100, \"dumped\": 50, \"modules\": 10," \
	     " \"allocator_chunks\": 32, \"allocator_regions\": [], \"regions\": [%s]}"
	const struct {
		const char *rows;
		int code;
	} cases[] = {
		{"{\"kind\": \"in_use\", \"virtual\": 32, \"dumped\": 32},"
		 " {\"kind\": \"modules\", \"name\": \"x\", \"virtual\": 68, \"dumped\": 18,"
		 " \"count\": 1}", 0},
		{"{\"kind\": \"in_use\", \"virtual\": 32}", HS_ERR_FORMAT},
		{"{\"kind\": 3, \"virtual\": 32, \"dumped\": 1}", HS_ERR_FORMAT},
		{"{\"kind\": \"x\", \"virtual\": -1, \"dumped\": 1}", HS_ERR_FORMAT},
		{"{\"kind\": \"x\", \"name\": null, \"virtual\": 1, \"dumped\": 1}", HS_ERR_FORMAT},
		{"{\"kind\": \"x\", \"virtual\": 1, \"dumped\": 1, \"count\": \"2\"}", HS_ERR_FORMAT},
		{"7", HS_ERR_FORMAT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char extra[1024];
		snprintf(extra, sizeof(extra), ROWS, cases[i].rows);
		CHECK(read_minimal(extra) == cases[i].code);
	}
	CHECK(read_minimal(", \"schema\": 1") == HS_ERR_FORMAT);

	const char *bad[] = {"", "   \n", "[]", "42", "\"x\"", "null", "{}", "{\"schema\": \"x\"}",
			     "{\"schema\": \"heapscope-report/1\"}", "{,}", "{\"a\":1}}",
			     "\xef\xbb\xbf{}", "{\"schema\": \"heapscope-report/1\\u0000\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(read_text(bad[i], strlen(bad[i]), NULL) == HS_ERR_FORMAT);
	/* NUL bytes and garbage. */
	CHECK(read_text("{\0}", 3, NULL) == HS_ERR_FORMAT);

	/* A hostile huge array is refused before it is parsed: far fewer
	 * bytes than jansson would need for its tree. */
	size_t n = 5u << 20;
	char *huge = malloc(2 * n + 64);
	size_t len = (size_t)sprintf(huge, "{\"schema\": \"heapscope-report/1\", \"x\": [");
	for (size_t i = 0; i < n; i++) {
		huge[len++] = '0';
		huge[len++] = ',';
	}
	len += (size_t)sprintf(huge + len - 1, "]}") - 1;
	CHECK(read_text(huge, len, NULL) == HS_ERR_FORMAT);
	free(huge);

	/* Deep nesting is jansson's to bound (JSON_PARSER_MAX_DEPTH). */
	char deep[40002];
	memset(deep, '[', 20000);
	memset(deep + 20000, ']', 20000);
	CHECK(read_text(deep, 40000, NULL) == HS_ERR_FORMAT);

	/* A file that is not there, and a directory. */
	struct hs_report r;
	struct hs_error *err = hs_report_read_json("/nonexistent/report.json", &r);
	CHECK(err && err->code == HS_ERR_IO && strstr(err->message, "/nonexistent/report.json"));
	hs_error_destroy(err);
	err = hs_report_read_json(tmpdir, &r);
	CHECK(err && (err->code == HS_ERR_IO || err->code == HS_ERR_FORMAT));
	hs_error_destroy(err);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_round_trip();
	test_bad_input();
	rmdir(tmpdir);
	return check_summary("test_report_json");
}
