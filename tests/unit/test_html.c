/* test_html.c: unit tests for the analyze page: bounds on a huge report, escaping, --redact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../html/html.h"
#include "check.h"

#define NTYPES 100000
#define NSIZES 20000

static const char hostile[] = "evil</title><script>alert(1)</script><img src=\"http://x/\">";

/* A report as large as a 2 M-chunk heap's can be: many types, size classes,
 * patterns with hexdumps, diagnostics and modules. */
static void fill(struct hs_report *r)
{
	hs_report_init(r);
	r->core_path = strdup("/var/crash/core.1");
	r->executable = strdup(hostile);
	r->pid = 1;
	r->alloc_name = strdup("glibc");
	r->alloc_version = strdup("2.36");
	r->located_by = strdup("symbols");
	r->layout = strdup("verified");
	r->layout_row = strdup("2.36");
	r->types = calloc(NTYPES, sizeof(*r->types));
	r->ntypes = NTYPES;
	uint64_t inuse = 0, count = 0;
	for (size_t i = 0; i < NTYPES; i++) {
		struct hs_report_type *t = &r->types[i];
		if ((i == 5 ? asprintf(&t->name, "%s%zu", hostile, i)
			    : asprintf(&t->name, "ns::Type<%zu>", i)) < 0)
			abort();
		t->kind = strdup(i % 3 ? "vtable" : "pattern");
		t->count = 20 + (NTYPES - i) / 4;
		t->bytes = t->count * 64;
		t->nexamples = 3;
		t->examples = calloc(3, sizeof(uint64_t));
		for (size_t j = 0; j < 3; j++)
			t->examples[j] = 0x10000 + i * 0x100 + j * 0x40;
		inuse += t->bytes;
		count += t->count;
	}
	r->totals[HS_REPORT_IN_USE] = (struct hs_report_count){count, inuse};
	r->size_classes = calloc(NSIZES, sizeof(*r->size_classes));
	r->nsize_classes = NSIZES;
	for (size_t i = 0; i < NSIZES; i++)
		r->size_classes[i] = (struct hs_report_size_class){16 * (i + 1), 5, 80 * (i + 1)};
	r->patterns = calloc(100, sizeof(*r->patterns));
	r->npatterns = 100;
	for (size_t i = 0; i < 100; i++) {
		struct hs_report_pattern *p = &r->patterns[i];
		p->signature = strdup("H M 0 i t ? 0 0");
		p->size = 64;
		p->count = 1000;
		p->bytes = 64000;
		p->samples = calloc(3, sizeof(*p->samples));
		p->nsamples = 3;
		for (size_t j = 0; j < 3; j++) {
			p->samples[j].address = 0x1000 + j;
			p->samples[j].hex = strdup("00000000  53 45 43 52 45 54 21 21  |SECRET!!|\n");
		}
	}
	for (size_t i = 0; i < 3000; i++)
		CHECK(hs_report_add_diag(r, "warning", "a diagnostic <with> markup", true, i));
	for (size_t i = 0; i < 1000; i++)
		CHECK(hs_report_add_module(r, "/usr/lib/libx.so", i << 20, "abcd", "symtab"));
	r->memory.mapped = 1ull << 33;
	r->memory.dumped = 1ull << 32;
	r->memory.modules = 1ull << 28;
	CHECK(hs_report_add_alloc_region(r, "retained", 3, 1ull << 30));
}

struct show_calls {
	unsigned n;
};

static struct hs_error *fake_show(uint64_t address, FILE *out, void *arg)
{
	struct show_calls *c = arg;
	c->n++;
	if (address & 0x40) /* the second example of each type: not found */
		return hs_error_create(HS_ERR_NOT_FOUND, "no heap chunk contains 0x%llx",
				       (unsigned long long)address);
	fprintf(out, "address  0x%llx <b>\nhexdump  first 64 bytes\n", (unsigned long long)address);
	return NULL;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static char *page(const struct hs_report *r, bool redact, struct show_calls *calls)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct hs_html_options o = {.redact = redact, .show = fake_show, .show_arg = calls};
	struct hs_error *err = hs_html_write_report(r, &o, f, "memory");
	CHECK(!err);
	hs_error_destroy(err);
	fclose(f);
	return buf;
}

int main(void)
{
	struct hs_report r;
	fill(&r);
	struct show_calls calls = {0};
	char *p = page(&r, false, &calls);
	size_t len = strlen(p);
	printf("page of %d types, %d size classes: %zu bytes\n", NTYPES, NSIZES, len);
	CHECK(len < 2 * 1024 * 1024);
	/* Every table bounded, and said to be. */
	CHECK_EQ(count_of(p, "id=\"row-type-"), HS_HTML_MAX_TYPES);
	CHECK_EQ(count_of(p, "<a href=\"#type-") + count_of(p, "<a href=\"#row-type-"),
		 HS_HTML_MAX_TREEMAP + HS_HTML_SHOW_TYPES);
	CHECK(strstr(p, "99600 more types are not shown") != NULL);
	CHECK(strstr(p, "2700 more diagnostics are not shown") != NULL);
	CHECK(strstr(p, "800 more modules are not shown") != NULL);
	CHECK(strstr(p, "99880 other types") != NULL);
	/* show: only for the top types' examples; a failure is said on the page. */
	CHECK_EQ(calls.n, HS_HTML_SHOW_TYPES * HS_HTML_SHOW_EXAMPLES);
	CHECK(strstr(p, "(show: no heap chunk contains 0x10040)") != NULL);
	CHECK(strstr(p, "address  0x10000 &lt;b&gt;") != NULL);
	/* Names are text, never markup: nothing the core says can fetch or run. */
	CHECK(!strstr(p, "<img"));
	CHECK(!strstr(p, "http://x/\""));
	CHECK_EQ(count_of(p, "<script>"), 1);
	CHECK(strstr(p, "evil&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
	/* Heap bytes are there unless redacted. */
	CHECK(strstr(p, "SECRET!!") != NULL);
	free(p);

	calls.n = 0;
	p = page(&r, true, &calls);
	CHECK(!strstr(p, "SECRET"));
	CHECK(!strstr(p, "53 45 43"));
	CHECK(strstr(p, "(redacted)") != NULL);
	free(p);

	/* With a memory table: its rows, named parts labelled, each with its
	 * bytes in the core; without one (above), the older figures. */
	p = page(&r, false, &calls);
	CHECK(strstr(p, "every byte of it is in one row") == NULL);
	free(p);
	CHECK(hs_report_add_mem_row(&r, "in_use", NULL, 1ull << 32, 1ull << 31, false, 0));
	CHECK(hs_report_add_mem_row(&r, "other_anonymous", NULL, 1ull << 31, 1ull << 31, true, 1));
	CHECK(hs_report_add_mem_row(&r, "other_anonymous", "Go heap", 1ull << 31, 0, true, 2));
	p = page(&r, false, &calls);
	CHECK(strstr(p, "every byte of it is in one row") != NULL);
	CHECK(strstr(p, "other anonymous memory (Go heap)") != NULL);
	free(p);

	/* An empty report still makes a page. */
	struct hs_report e;
	hs_report_init(&e);
	p = page(&e, false, &calls);
	CHECK(strstr(p, "No in-use chunk has a type") != NULL);
	CHECK(strstr(p, "</html>") != NULL);
	free(p);

	hs_report_deinit(&r);
	return check_summary("test_html");
}
