/* fuzz_report_json.c: fuzz target: the heapscope-report/1 JSON reader (diff's input). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../analyzer/diff.h"
#include "fuzz_check.h"

/*
 * The input is a report file as `heapscope diff` reads it. Whatever the
 * reader accepts must be a report the rest of the tool can use: it is
 * written back as JSON, text and OpenMetrics, and diffed against itself and
 * against an empty report, both ways, filtered, in both diff forms. An error
 * must be one line.
 */
static void check_diff(const struct hs_report *a, const struct hs_report *b,
		       FILE *null)
{
	struct hs_diff_input before = { .report = a, .source = "before" };
	struct hs_diff_input after = { .report = b, .source = "after" };
	struct hs_diff *d;
	struct hs_error *err = hs_diff_create(&before, &after, &d);
	if (err == HS_ENOMEM)
		return;
	if (err) {
		fprintf(stderr, "fuzz: hs_diff_create: %s\n", err->message);
		abort();
	}
	err = hs_diff_write_json(d, null, "/dev/null");
	if (!err) {
		hs_diff_filter(d, 3, 1);
		err = hs_diff_write_text(d, null, "/dev/null");
	}
	if (err && err != HS_ENOMEM) {
		fprintf(stderr, "fuzz: writing a diff: %s\n", err->message);
		abort();
	}
	hs_error_destroy(err);
	hs_diff_destroy(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = hs_fuzz_memfd(data, size, path, sizeof(path));
	struct hs_report r;
	hs_report_init(&r);
	struct hs_error *err = hs_report_read_json(path, &r);
	close(fd);
	if (err) {
		hs_fuzz_check_error(err);
		hs_error_destroy(err);
		return 0;
	}
	hs_fuzz_write_reports(&r);
	FILE *null = fopen("/dev/null", "w");
	if (!null)
		abort();
	err = hs_report_write_openmetrics(&r, null, "/dev/null");
	if (err && err != HS_ENOMEM) {
		fprintf(stderr, "fuzz: writing OpenMetrics: %s\n", err->message);
		abort();
	}
	hs_error_destroy(err);
	struct hs_report empty;
	hs_report_init(&empty);
	check_diff(&r, &r, null);
	check_diff(&empty, &r, null);
	check_diff(&r, &empty, null);
	fclose(null);
	hs_report_deinit(&r);
	return 0;
}
