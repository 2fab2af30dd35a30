/* cli.c: the command table, option parsing and the `analyze` command. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../html/html.h"
#include "analyzer.h"
#include "cli.h"
#include "diff.h"

static const char hs_exit_codes_help[] =
	"Exit status:\n"
	"  0   the report was produced (it may contain diagnostics)\n"
	"  1   the output could not be written, or an internal error\n"
	"  2   the input is unusable: not a core, truncated headers, no\n"
	"      supported allocator found, or a malformed report\n"
	"  64  usage error (bad option or argument)\n";

void hs_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("heapscope: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int hs_cli_fail(struct hs_error *err)
{
	int code = hs_exit_code_for(err);
	hs_cli_error("%s", err->message);
	hs_error_destroy(err);
	return code;
}

bool hs_cli_parse_count(const char *opt, const char *arg, uint64_t max,
			uint64_t *ret)
{
	uint64_t v;
	if (!hs_parse_u64(arg, &v) || v > max) {
		hs_cli_error("invalid value for %s: '%s' (expected an integer 0..%llu)",
			     opt, arg, (unsigned long long)max);
		return false;
	}
	*ret = v;
	return true;
}

/* Apply shared option `c` to opts: 1 if it was one, 0 if not, -1 after
 * printing the usage error for a bad value. */
static int hs_cli_core_option(int c, const char *arg, struct hs_analyze_options *opts)
{
	switch (c) {
	case HS_OPT_EXE:
		opts->exe = arg;
		return 1;
	case HS_OPT_SYSROOT:
		opts->sysroot = arg;
		return 1;
	case HS_OPT_ALLOCATOR:
		if (strcmp(arg, "glibc") && strcmp(arg, "jemalloc") && strcmp(arg, "tcmalloc")) {
			hs_cli_error("invalid value for --allocator: '%s' (expected glibc, jemalloc or tcmalloc)",
				     arg);
			return -1;
		}
		opts->allocator = arg;
		return 1;
	case HS_OPT_NO_DEBUGINFO:
		opts->no_debuginfo = true;
		return 1;
	case HS_OPT_REDACT:
		opts->redact = true;
		return 1;
	case HS_OPT_THREADS: {
		uint64_t n;
		if (!hs_cli_parse_count("--threads", arg, 64, &n))
			return -1;
		opts->threads = (unsigned)n;
		return 1;
	}
	case HS_OPT_PROGRESS:
		opts->progress = HS_PROGRESS_ON;
		return 1;
	case HS_OPT_NO_PROGRESS:
		opts->progress = HS_PROGRESS_OFF;
		return 1;
	case HS_OPT_NO_LEAKS:
		opts->no_leaks = true;
		return 1;
	case HS_OPT_NO_RETAINED:
		opts->no_retained = true;
		return 1;
	case HS_OPT_RETAINED_LIMIT: {
		uint64_t mib;
		if (!hs_cli_parse_count("--retained-limit", arg, UINT64_C(1) << 30, &mib))
			return -1;
		if (!mib) {
			hs_cli_error("invalid value for --retained-limit: '%s' (use --no-retained)",
				     arg);
			return -1;
		}
		opts->retained_limit = mib << 20;
		return 1;
	}
	}
	return 0;
}

void hs_cli_options_begin(void)
{
	optind = 1;
	opterr = 0; /* we print our own one-line errors */
}

int hs_cli_next_option(int argc, char **argv, const char *cmd,
		       const struct option *longopts, struct hs_analyze_options *opts)
{
	for (;;) {
		int c = getopt_long(argc, argv, "h", longopts, NULL);
		if (c == '?' || c == ':') {
			hs_cli_error("%s: unknown or incomplete option '%s' (see heapscope %s --help)",
				     cmd, argv[optind - 1], cmd);
			return HS_OPT_INVALID;
		}
		int shared = c == -1 ? 0 : hs_cli_core_option(c, optarg, opts);
		if (shared < 0)
			return HS_OPT_INVALID;
		if (!shared)
			return c;
	}
}

/*
 * Write to `path` ("-" is stdout) through `fn`. A file is written to a
 * temporary name and renamed, so a dashboard never reads half a report.
 */
struct hs_error *hs_cli_write_output(const char *path,
				     struct hs_error *(*fn)(FILE *, const char *, void *),
				     void *arg)
{
	if (strcmp(path, "-") == 0)
		return fn(stdout, "<stdout>", arg);
	/*
	 * Only a regular file (or a new path) is replaced by rename: renaming
	 * over /dev/null, a FIFO or a symlink would replace the node itself.
	 */
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		FILE *f = fopen(path, "w");
		if (!f) {
			struct hs_error *err = hs_error_errno("open", path);
			err->code = HS_ERR_OTHER;
			return err;
		}
		struct hs_error *err = fn(f, path, arg);
		if (fclose(f) != 0 && !err) {
			err = hs_error_errno("close", path);
			err->code = HS_ERR_OTHER;
		}
		return err;
	}
	char *tmp;
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return HS_ENOMEM;
	FILE *f = fopen(tmp, "w");
	if (!f) {
		struct hs_error *err = hs_error_errno("open", path);
		err->code = HS_ERR_OTHER;
		free(tmp);
		return err;
	}
	struct hs_error *err = fn(f, path, arg);
	if (fclose(f) != 0 && !err)
		err = hs_error_errno("close", path);
	if (!err && rename(tmp, path) != 0)
		err = hs_error_errno("rename", path);
	if (err) {
		unlink(tmp);
		if (err->code == HS_ERR_IO)
			err->code = HS_ERR_OTHER; /* our output, not bad input */
	}
	free(tmp);
	return err;
}

/* ------------------------------------------------------------------ analyze */

static const char hs_analyze_usage[] =
	"Usage: heapscope analyze CORE [options]\n"
	"\n"
	"Walk the allocator's metadata in an ELF core dump (glibc ptmalloc,\n"
	"jemalloc, gperftools tcmalloc) and report every chunk: in use, free or\n"
	"cached, with totals that reconcile with the allocator's own statistics.\n"
	"\n"
	"It also finds what is leaked: the in-use chunks no root (registers,\n"
	"stacks, TLS, the modules' writable data, other anonymous memory) reaches,\n"
	"direct or indirect, and what each chunk keeps alive (retained sizes).\n"
	"\n"
	"Options:\n"
	"  --json FILE|-      write the JSON report (heapscope-report/1) to FILE,\n"
	"                     or to standard output with '-'\n"
	"  --html FILE|-      write the report as one self-contained HTML page (a\n"
	"                     treemap of types, size classes, the memory map,\n"
	"                     patterns, diagnostics; it fetches nothing) to FILE,\n"
	"                     or to standard output with '-'\n"
	"  --top N            rows per table in the text summary (default 10)\n"
	"  --format FMT       standard output as text (default), json (the report,\n"
	"                     as --json -), openmetrics (gauges for a Prometheus\n"
	"                     textfile collector; see docs/dashboards.md) or pprof\n"
	"                     (a gzipped profile.proto, one sample per type, for\n"
	"                     `go tool pprof`; refused when stdout is a terminal)\n"
	"  --captured-at T    when the core was taken: unix seconds or\n"
	"                     YYYY-MM-DDTHH:MM:SSZ (default: the core file's mtime)\n"
	HS_CLI_CORE_HELP
	"  --stats            print phase timings and memory use to stderr\n"
	"  --redact           keep heap content out of every output: pattern\n"
	"                     samples carry no hexdump, the HTML page no hexdump\n"
	"                     and no string content (types, counts, sizes and\n"
	"                     addresses remain); see docs/report.md\n"
	"  -h, --help         show this help\n"
	"\n";

enum hs_analyze_format { HS_FORMAT_TEXT, HS_FORMAT_JSON, HS_FORMAT_OPENMETRICS, HS_FORMAT_PPROF };
static const char *const hs_format_names[] = {"text", "json", "openmetrics", "pprof"};

struct hs_analyze_args {
	const char *core;
	const char *json, *html;
	uint64_t top;
	struct hs_analyze_options opts;
	enum hs_analyze_format format;
	bool stats;
};

/* --captured-at: unix seconds, or an ISO-8601 UTC time YYYY-MM-DDTHH:MM:SSZ,
 * checked field by field (timegm would silently normalise "02-30"). */
static bool hs_parse_captured_at(const char *arg, int64_t *ret)
{
	size_t digits = strspn(arg, "0123456789");
	if (digits && !arg[digits]) {
		uint64_t secs;
		/* Decimal only (hs_parse_u64 would read 0x.. and 0..); 12 digits
		 * reach the year 33658. */
		while (digits > 1 && *arg == '0') {
			arg++;
			digits--;
		}
		if (digits > 12 || !hs_parse_u64(arg, &secs))
			return false;
		*ret = (int64_t)secs;
		return true;
	}
	int y, mo, d, h, mi, s, n = 0;
	if (strlen(arg) != 20 ||
	    sscanf(arg, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 ||
	    n != 20)
		return false;
	for (int i = 0; i < 19; i++)
		if ((i == 4 || i == 7) ? arg[i] != '-' : i == 10 ? arg[i] != 'T'
			: (i == 13 || i == 16) ? arg[i] != ':' : (arg[i] < '0' || arg[i] > '9'))
			return false;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || s > 60)
		return false;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = s};
	*ret = (int64_t)timegm(&tm);
	return true;
}

static int hs_analyze_parse(int argc, char **argv, struct hs_analyze_args *a)
{
	enum { OPT_JSON = HS_OPT_COMMAND, OPT_TOP, OPT_STATS, OPT_FORMAT, OPT_CAPTURED, OPT_HTML };
	static const struct option longopts[] = {
		HS_CLI_CORE_OPTIONS,
		HS_CLI_REDACT_OPTION,
		{"json", required_argument, NULL, OPT_JSON},
		{"html", required_argument, NULL, OPT_HTML},
		{"top", required_argument, NULL, OPT_TOP},
		{"stats", no_argument, NULL, OPT_STATS},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"captured-at", required_argument, NULL, OPT_CAPTURED},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	memset(a, 0, sizeof(*a));
	a->top = 10;
	hs_cli_options_begin();
	int c;
	while ((c = hs_cli_next_option(argc, argv, "analyze", longopts, &a->opts)) != -1) {
		switch (c) {
		case OPT_JSON:
			a->json = optarg;
			break;
		case OPT_HTML:
			a->html = optarg;
			break;
		case OPT_TOP:
			if (!hs_cli_parse_count("--top", optarg, 1000000, &a->top))
				return HS_EXIT_USAGE;
			break;
		case OPT_STATS:
			a->stats = true;
			break;
		case OPT_FORMAT: {
			size_t f = 0;
			while (f < HS_ARRAY_SIZE(hs_format_names) &&
			       strcmp(optarg, hs_format_names[f]))
				f++;
			if (f == HS_ARRAY_SIZE(hs_format_names)) {
				hs_cli_error("invalid value for --format: '%s' "
					     "(expected text, json, openmetrics or pprof)",
					     optarg);
				return HS_EXIT_USAGE;
			}
			a->format = (enum hs_analyze_format)f;
			break;
		}
		case OPT_CAPTURED:
			if (!hs_parse_captured_at(optarg, &a->opts.captured_at)) {
				hs_cli_error("invalid value for --captured-at: '%s' "
					     "(expected unix seconds or YYYY-MM-DDTHH:MM:SSZ)",
					     optarg);
				return HS_EXIT_USAGE;
			}
			a->opts.has_captured_at = true;
			break;
		case 'h':
			fputs(hs_analyze_usage, stdout);
			fputs(hs_exit_codes_help, stdout);
			return -1;
		default: /* HS_OPT_INVALID: already reported */
			return HS_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		hs_cli_error(argc - optind < 1 ? "analyze: missing CORE argument (see heapscope analyze --help)"
					       : "analyze: expected one CORE argument, got %d",
			     argc - optind);
		return HS_EXIT_USAGE;
	}
	a->core = argv[optind];
	/* At most one output may claim standard output. */
	const char *claims[3];
	size_t nclaims = 0;
	if (a->format != HS_FORMAT_TEXT)
		claims[nclaims++] = a->format == HS_FORMAT_JSON ? "--format json"
				    : a->format == HS_FORMAT_OPENMETRICS ? "--format openmetrics"
				    : "--format pprof";
	if (a->json && !strcmp(a->json, "-"))
		claims[nclaims++] = "--json -";
	if (a->html && !strcmp(a->html, "-"))
		claims[nclaims++] = "--html -";
	if (nclaims > 1) {
		hs_cli_error("analyze: %s and %s both want standard output", claims[0], claims[1]);
		return HS_EXIT_USAGE;
	}
	if (a->format == HS_FORMAT_PPROF && isatty(STDOUT_FILENO)) {
		hs_cli_error("analyze: --format pprof writes gzipped binary data; redirect "
			     "standard output to a file");
		return HS_EXIT_USAGE;
	}
	return HS_EXIT_OK;
}

static struct hs_error *hs_write_json_cb(FILE *f, const char *where, void *arg)
{
	return hs_report_write_json(arg, f, where);
}

/* The page's examples get `show`'s text, from the analysis still open. */
struct hs_html_ctx {
	struct hs_analysis *a;
	bool redact;
};

static struct hs_error *hs_html_show_cb(uint64_t address, FILE *out, void *arg)
{
	struct hs_html_ctx *c = arg;
	return hs_show_chunk(c->a, address, 256, c->redact, false, NULL, out);
}

static struct hs_error *hs_write_html_cb(FILE *f, const char *where, void *arg)
{
	struct hs_html_ctx *c = arg;
	struct hs_html_options o = {.redact = c->redact, .show = hs_html_show_cb, .show_arg = c};
	return hs_html_write_report(&c->a->report, &o, f, where);
}

static int hs_cmd_analyze(int argc, char **argv)
{
	struct hs_analyze_args args;
	int rc = hs_analyze_parse(argc, argv, &args);
	if (rc)
		return rc < 0 ? HS_EXIT_OK : rc;

	struct hs_analysis *a;
	struct hs_error *err = hs_analysis_run(args.core, &args.opts, &a);
	if (err)
		return hs_cli_fail(err);
	if (args.json)
		err = hs_cli_write_output(args.json, hs_write_json_cb, &a->report);
	if (!err && args.html) {
		struct hs_html_ctx ctx = {a, args.opts.redact};
		err = hs_cli_write_output(args.html, hs_write_html_cb, &ctx);
		if (err && err != HS_ENOMEM)
			err->code = HS_ERR_OTHER;
	}
	bool stdout_taken = (args.json && !strcmp(args.json, "-")) ||
			    (args.html && !strcmp(args.html, "-"));
	if (!err && args.format != HS_FORMAT_TEXT) {
		if (args.format == HS_FORMAT_JSON)
			err = hs_report_write_json(&a->report, stdout, "<stdout>");
		else if (args.format == HS_FORMAT_OPENMETRICS)
			err = hs_report_write_openmetrics(&a->report, stdout, "<stdout>");
		else
			err = hs_report_write_pprof(&a->report, stdout, "<stdout>");
		if (err && err != HS_ENOMEM)
			err->code = HS_ERR_OTHER;
	} else if (!err && !stdout_taken) {
		struct hs_text_options topts = {.top = (unsigned)args.top};
		err = hs_report_write_text(&a->report, stdout, &topts, "<stdout>");
		if (err && err != HS_ENOMEM)
			err->code = HS_ERR_OTHER;
	}
	if (args.stats)
		hs_analysis_print_stats(a, stderr);
	hs_analysis_destroy(a);
	return err ? hs_cli_fail(err) : HS_EXIT_OK;
}

/* ------------------------------------------------------------- the table */

static const struct hs_command hs_commands[] = {
	{"analyze", "walk the heap of a core and report every chunk", hs_cmd_analyze},
	{"diff", "what grew between two cores or saved reports", hs_cmd_diff},
	{"show", "the chunk holding an address: its type, why, and a hexdump", hs_cmd_show},
	{"list", "the address of every chunk of one type, for gdb", hs_cmd_list},
};

static void hs_usage(FILE *out)
{
	fputs("Usage: heapscope COMMAND [options]\n"
	      "       heapscope COMMAND --help\n"
	      "\n"
	      "Offline heap forensics for ELF core dumps (gcore).\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_commands); i++)
		fprintf(out, "  %-10s %s\n", hs_commands[i].name, hs_commands[i].summary);
	fputs("\nOptions:\n"
	      "  -h, --help     show this help\n"
	      "  --version      show the version\n\n",
	      out);
	fputs(hs_exit_codes_help, out);
	fputs("\nEnvironment:\n"
	      "  HEAPSCOPE_MALLOC_DEFAULT=1  keep glibc malloc's defaults (heapscope\n"
	      "      otherwise runs itself once more with tunables that keep big\n"
	      "      arrays on huge pages and in the heap; see docs/scale.md)\n",
	      out);
}

int hs_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		hs_usage(stderr);
		return HS_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		hs_usage(stdout);
		return HS_EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("heapscope %s\n", HS_VERSION);
		return HS_EXIT_OK;
	}
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_commands); i++)
		if (!strcmp(cmd, hs_commands[i].name))
			return hs_commands[i].run(argc - 1, argv + 1);
	hs_cli_error("unknown command '%s' (see heapscope --help)", cmd);
	return HS_EXIT_USAGE;
}
