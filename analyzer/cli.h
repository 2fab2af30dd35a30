/* cli.h: helpers shared by the subcommands (private to analyzer/). */
#ifndef HS_CLI_H
#define HS_CLI_H

#include <stdarg.h>
#include <stdio.h>

#include "analyzer.h"

struct hs_command {
	const char *name;
	const char *summary;
	/* argv[0] is the command name; parses its own options before any I/O. */
	int (*run)(int argc, char **argv);
};

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

/* The `show` and `list` commands (cmd_show.c, cmd_list.c). */
int hs_cmd_show(int argc, char **argv);
int hs_cmd_list(int argc, char **argv);

#endif
