/* cli.h: helpers shared by the subcommands (private to analyzer/). */
#ifndef HS_CLI_H
#define HS_CLI_H

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include "analyzer.h"

struct hs_command {
	const char *name;
	const char *summary;
	/* argv[0] is the command name; parses its own options before any I/O. */
	int (*run)(int argc, char **argv);
};

/*
 * The options every command that opens a core shares, parsed in one place so
 * that they mean and check the same everywhere. A command lists
 * HS_CLI_CORE_OPTIONS (and HS_CLI_REDACT_OPTION if it prints heap bytes) in
 * its getopt table and numbers its own options from HS_OPT_COMMAND.
 */
enum {
	HS_OPT_EXE = 0x100,
	HS_OPT_SYSROOT,
	HS_OPT_ALLOCATOR,
	HS_OPT_NO_DEBUGINFO,
	HS_OPT_REDACT,
	HS_OPT_THREADS,
	HS_OPT_PROGRESS,
	HS_OPT_NO_PROGRESS,
	HS_OPT_NO_LEAKS,
	HS_OPT_NO_RETAINED,
	HS_OPT_RETAINED_LIMIT,
	HS_OPT_COMMAND = 0x200,
};
#define HS_CLI_CORE_OPTIONS                                                    \
	{"exe", required_argument, NULL, HS_OPT_EXE},                          \
	{"sysroot", required_argument, NULL, HS_OPT_SYSROOT},                  \
	{"allocator", required_argument, NULL, HS_OPT_ALLOCATOR},              \
	{"no-debuginfo", no_argument, NULL, HS_OPT_NO_DEBUGINFO},              \
	{"threads", required_argument, NULL, HS_OPT_THREADS},                  \
	{"progress", no_argument, NULL, HS_OPT_PROGRESS},                      \
	{"no-progress", no_argument, NULL, HS_OPT_NO_PROGRESS},                \
	{"no-leaks", no_argument, NULL, HS_OPT_NO_LEAKS},                      \
	{"no-retained", no_argument, NULL, HS_OPT_NO_RETAINED},                \
	{"retained-limit", required_argument, NULL, HS_OPT_RETAINED_LIMIT}

/* The help text of the options above, for every command's --help. */
#define HS_CLI_CORE_HELP                                                                  \
	"  --exe FILE         the main executable (default: the path in the core)\n"         \
	"  --sysroot DIR      find the module files the core names inside DIR,\n"            \
	"                     as if DIR were / (a copy of the production root)\n"            \
	"  --allocator NAME   skip detection: glibc, jemalloc or tcmalloc\n"                 \
	"  --no-debuginfo     ignore separate debug info even when installed\n"              \
	"  --threads N        threads for the scans (default: one per CPU, at most 8);\n"    \
	"                     the results do not depend on it\n"                            \
	"  --progress, --no-progress\n"                                                      \
	"                     a progress line on stderr (phase, bytes done, rate,\n"        \
	"                     ETA): by default only when stderr is a terminal\n"            \
	"  --no-leaks         skip reachability (leaks, anchor chains, retained sizes)\n"   \
	"  --no-retained      skip the dominator tree (retained sizes) only\n"             \
	"  --retained-limit MIB\n"                                                           \
	"                     memory the dominator tree may take (default 1024, about\n"   \
	"                     11 M reachable chunks);\n"                                     \
	"                     past it, retained sizes are left out with a note\n"
#define HS_CLI_REDACT_OPTION {"redact", no_argument, NULL, HS_OPT_REDACT}

/* Start parsing a command's options (getopt state is global to libc). */
void hs_cli_options_begin(void);
/*
 * getopt_long over a command's table that applies the shared options to
 * opts itself. Returns the command's next own option, -1 at the end, or
 * HS_OPT_INVALID after printing the one-line usage error for an unknown or
 * incomplete option or a bad shared value.
 */
#define HS_OPT_INVALID (-2)
int hs_cli_next_option(int argc, char **argv, const char *cmd,
		       const struct option *longopts, struct hs_analyze_options *opts);

/* Print "heapscope: <message>" as one line on stderr. */
void hs_cli_error(const char *fmt, ...) HS_PRINTF(1, 2);
/* Print the error, free it and return its exit code. */
int hs_cli_fail(struct hs_error *err);
/* Parse a checked unsigned option value; prints the usage error itself. */
bool hs_cli_parse_count(const char *opt, const char *arg, uint64_t max,
			uint64_t *ret);
/* Write to a file (atomically, via rename) or to stdout for "-". */
struct hs_error *hs_cli_write_output(const char *path,
				     struct hs_error *(*fn)(FILE *, const char *, void *),
				     void *arg);

/*
 * What `show` prints for `address` in analysis a (borrowed), to out: the
 * chunk holding it, its type and why, with `verdict` (and reachability in
 * a) why it is alive or that it is leaked and its retained size (per opts'
 * --no-retained and --retained-limit), and a hexdump of its first `bytes`
 * (none when `redact`). Also the `show` text of the HTML page's examples,
 * without the verdict (a search over the heap per example). Errors:
 * HS_ERR_NOT_FOUND when no chunk holds the address (the message says where
 * it is instead), HS_ERR_NOMEM; write errors are left in out's error flag.
 */
struct hs_error *hs_show_chunk(struct hs_analysis *a, uint64_t address, uint64_t bytes,
			       bool redact, bool verdict, const struct hs_analyze_options *opts,
			       FILE *out);

/* The `show` and `list` commands (cmd_show.c, cmd_list.c). */
int hs_cmd_show(int argc, char **argv);
int hs_cmd_list(int argc, char **argv);

#endif
