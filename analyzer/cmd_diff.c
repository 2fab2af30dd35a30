/* cmd_diff.c: the `diff` command: what grew between two cores or saved reports. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../html/html.h"
#include "analyzer.h"
#include "cli.h"
#include "diff.h"

static const char hs_diff_usage[] =
	"Usage: heapscope diff OLD NEW [options]\n"
	"\n"
	"Show what changed between two captures of one process: the totals, the\n"
	"allocator's statistics, and per type, size class and pattern cluster the\n"
	"old and new count and bytes, the change, and the growth factor. Rows are\n"
	"sorted by byte growth; rows only in NEW are marked NEW, rows only in OLD\n"
	"GONE. OLD and NEW are each a core (analysed first) or a report saved with\n"
	"`heapscope analyze --json`, in any mix; the content decides which.\n"
	"\n"
	"Options:\n"
	"  --top N            rows per table (default: 10 in the text, all in the\n"
	"                     JSON); 0 shows every row\n"
	"  --min-bytes B      hide rows whose bytes changed by less than B\n"
	"                     (default 1: unchanged rows are hidden; 0 shows them)\n"
	"  --json FILE|-      write the heapscope-diff/1 JSON document to FILE, or to\n"
	"                     standard output with '-' (then no text is printed)\n"
	"  --html FILE|-      write the diff as one self-contained HTML page (growth\n"
	"                     by type and per hour, new and vanished types, the two\n"
	"                     captures side by side; it fetches nothing) to FILE, or\n"
	"                     to standard output with '-' (then no text is printed);\n"
	"                     --top and --min-bytes filter it as they do the JSON\n"
	"For cores (the options apply to both sides):\n"
	HS_CLI_CORE_HELP
	"  -h, --help         show this help\n"
	"\n";

static const char hs_diff_exit_help[] =
	"Exit status:\n"
	"  0   the diff was produced\n"
	"  1   the output could not be written, or an internal error\n"
	"  2   an input is unusable: not a core or a report, a core with no\n"
	"      supported allocator, or a malformed, truncated or foreign JSON\n"
	"  64  usage error (bad option or argument)\n";

struct hs_diff_args {
	const char *paths[2];
	const char *json, *html;
	uint64_t top, min_bytes;
	bool top_given;
	struct hs_analyze_options opts;
};

static int hs_diff_parse(int argc, char **argv, struct hs_diff_args *a)
{
	enum { OPT_TOP = HS_OPT_COMMAND, OPT_MINB, OPT_JSON, OPT_HTML };
	static const struct option longopts[] = {
		HS_CLI_CORE_OPTIONS,
		{"top", required_argument, NULL, OPT_TOP},
		{"min-bytes", required_argument, NULL, OPT_MINB},
		{"json", required_argument, NULL, OPT_JSON},
		{"html", required_argument, NULL, OPT_HTML},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	memset(a, 0, sizeof(*a));
	a->min_bytes = 1;
	hs_cli_options_begin();
	int c;
	/* Options may come before, between or after OLD and NEW. */
	while ((c = hs_cli_next_option(argc, argv, "diff", longopts, &a->opts)) != -1) {
		switch (c) {
		case OPT_TOP:
			if (!hs_cli_parse_count("--top", optarg, 100000000, &a->top))
				return HS_EXIT_USAGE;
			a->top_given = true;
			break;
		case OPT_MINB:
			if (!hs_cli_parse_count("--min-bytes", optarg, INT64_MAX, &a->min_bytes))
				return HS_EXIT_USAGE;
			break;
		case OPT_JSON:
			a->json = optarg;
			break;
		case OPT_HTML:
			a->html = optarg;
			break;
		case 'h':
			fputs(hs_diff_usage, stdout);
			fputs(hs_diff_exit_help, stdout);
			return -1;
		default: /* HS_OPT_INVALID: already reported */
			return HS_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		hs_cli_error("diff: expected two arguments, OLD and NEW, got %d "
			     "(see heapscope diff --help)",
			     argc - optind);
		return HS_EXIT_USAGE;
	}
	a->paths[0] = argv[optind];
	a->paths[1] = argv[optind + 1];
	if (a->json && a->html && !strcmp(a->json, "-") && !strcmp(a->html, "-")) {
		hs_cli_error("diff: --json - and --html - both want standard output");
		return HS_EXIT_USAGE;
	}
	return HS_EXIT_OK;
}

/*
 * Which kind of input a file is, by content rather than by name: a core
 * starts with the ELF magic, a report with '{' (after any whitespace).
 */
static struct hs_error *hs_diff_sniff(const char *path, bool *is_core)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hs_error_errno("open", path);
	char buf[4096];
	ssize_t n;
	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	struct hs_error *err = n < 0 ? hs_error_errno("read", path) : NULL;
	close(fd);
	if (err)
		return err;
	if (n >= 4 && !memcmp(buf, "\177ELF", 4)) {
		*is_core = true;
		return NULL;
	}
	ssize_t i = 0;
	while (i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (i == n && n < (ssize_t)sizeof(buf))
		return hs_error_create(HS_ERR_FORMAT,
				       "%s: empty file (expected an ELF core or a %s JSON report)",
				       path, HS_REPORT_SCHEMA);
	if (i < n && buf[i] == '{') {
		*is_core = false;
		return NULL;
	}
	return hs_error_create(HS_ERR_FORMAT,
			       "%s: neither an ELF core nor a %s JSON report", path,
			       HS_REPORT_SCHEMA);
}

/* Analyse a core and keep only its report: the heap and the process can be
 * large, and the diff needs neither. */
static struct hs_error *hs_diff_load_core(const char *path,
					  const struct hs_analyze_options *opts,
					  struct hs_report *ret)
{
	struct hs_analysis *a;
	struct hs_error *err = hs_analysis_run(path, opts, &a);
	if (err)
		return err;
	*ret = a->report;
	hs_report_init(&a->report);
	hs_analysis_destroy(a);
	return NULL;
}

static struct hs_error *hs_diff_json_cb(FILE *f, const char *where, void *arg)
{
	return hs_diff_write_json(arg, f, where);
}

static struct hs_error *hs_diff_html_cb(FILE *f, const char *where, void *arg)
{
	return hs_html_write_diff(arg, f, where);
}

int hs_cmd_diff(int argc, char **argv)
{
	struct hs_diff_args args;
	int rc = hs_diff_parse(argc, argv, &args);
	if (rc)
		return rc < 0 ? HS_EXIT_OK : rc;

	bool is_core[2];
	struct hs_report reports[2];
	hs_report_init(&reports[0]);
	hs_report_init(&reports[1]);
	struct hs_error *err = NULL;
	for (int i = 0; !err && i < 2; i++)
		err = hs_diff_sniff(args.paths[i], &is_core[i]);
	/* Reports first: they are cheap to read, and a bad one should fail
	 * before minutes are spent walking a large core. */
	for (int i = 0; !err && i < 2; i++)
		if (!is_core[i])
			err = hs_report_read_json(args.paths[i], &reports[i]);
	for (int i = 0; !err && i < 2; i++)
		if (is_core[i])
			err = hs_diff_load_core(args.paths[i], &args.opts, &reports[i]);

	struct hs_diff *d = NULL;
	if (!err) {
		struct hs_diff_input before = {&reports[0], args.paths[0], is_core[0]};
		struct hs_diff_input after = {&reports[1], args.paths[1], is_core[1]};
		err = hs_diff_create(&before, &after, &d);
	}
	bool stdout_taken = (args.json && !strcmp(args.json, "-")) ||
			    (args.html && !strcmp(args.html, "-"));
	if (!err)
		hs_diff_filter(d, args.top_given ? args.top : 0, args.min_bytes);
	if (!err && args.json) {
		err = hs_cli_write_output(args.json, hs_diff_json_cb, d);
		if (err && err->code == HS_ERR_IO)
			err->code = HS_ERR_OTHER;
	}
	if (!err && args.html) {
		err = hs_cli_write_output(args.html, hs_diff_html_cb, d);
		if (err && err->code == HS_ERR_IO)
			err->code = HS_ERR_OTHER;
	}
	if (!err && !stdout_taken) {
		/* The text narrows what the JSON showed, never widens it. */
		hs_diff_filter(d, args.top_given ? args.top : 10, args.min_bytes);
		err = hs_diff_write_text(d, stdout, "<stdout>");
		if (err)
			err->code = HS_ERR_OTHER;
	}
	hs_diff_destroy(d);
	hs_report_deinit(&reports[0]);
	hs_report_deinit(&reports[1]);
	return err ? hs_cli_fail(err) : HS_EXIT_OK;
}
