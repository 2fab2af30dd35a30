/* cmd_list.c: the `list` command: the address of every chunk of one type, one per line, for gdb. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analyzer.h"
#include "cli.h"

static const char hs_list_usage[] =
	"Usage: heapscope list CORE --type NAME [--leaked] [options]\n"
	"       heapscope list CORE --leaked [options]\n"
	"\n"
	"Print the address of every in-use chunk whose type is NAME (and with\n"
	"--leaked, that no root reaches; --leaked alone: every leaked chunk),\n"
	"one per line\n"
	"in address order (e.g. for gdb: x/4gx ADDRESS). NAME is a type name as\n"
	"`heapscope analyze` prints it: a class (\"common::Closure\"), an sds\n"
	"header (\"sdshdr8\"), \"robj string/embstr\", \"std::string\",\n"
	"\"C string\", or a pattern cluster (\"pattern 64 [H M 0 i t ?]\").\n"
	"The output holds addresses only, never heap content.\n"
	"\n"
	"Options:\n"
	"  --type NAME        the type\n"
	"  --leaked           only chunks no root reaches (see heapscope analyze:\n"
	"                     the roots are registers, stacks, TLS, the modules'\n"
	"                     writable segments and other anonymous memory)\n"
	HS_CLI_CORE_HELP
	"  -h, --help         show this help\n"
	"\n"
	"Exit status: 0 listed (possibly nothing); 2 the core is unusable or no\n"
	"type has that name; 64 usage error.\n";

struct hs_list_args {
	const char *core, *type;
	bool leaked;
	struct hs_analyze_options opts;
};

static int hs_list_parse(int argc, char **argv, struct hs_list_args *a)
{
	enum { OPT_TYPE = HS_OPT_COMMAND, OPT_LEAKED };
	static const struct option longopts[] = {
		HS_CLI_CORE_OPTIONS,
		{"type", required_argument, NULL, OPT_TYPE},
		{"leaked", no_argument, NULL, OPT_LEAKED},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	memset(a, 0, sizeof(*a));
	hs_cli_options_begin();
	int c;
	while ((c = hs_cli_next_option(argc, argv, "list", longopts, &a->opts)) != -1) {
		switch (c) {
		case OPT_TYPE:
			if (!*optarg) {
				hs_cli_error("invalid value for --type: empty name");
				return HS_EXIT_USAGE;
			}
			a->type = optarg;
			break;
		case OPT_LEAKED:
			a->leaked = true;
			break;
		case 'h':
			fputs(hs_list_usage, stdout);
			return -1;
		default: /* HS_OPT_INVALID: already reported */
			return HS_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		hs_cli_error("list: expected one CORE argument (see heapscope list --help)");
		return HS_EXIT_USAGE;
	}
	if (!a->type && !a->leaked) {
		hs_cli_error("list: --type NAME or --leaked is required (see heapscope list --help)");
		return HS_EXIT_USAGE;
	}
	a->core = argv[optind];
	/* Nothing is printed from the heap, so there is nothing to redact. */
	a->opts.redact = true;
	return HS_EXIT_OK;
}

static void hs_list_print(uint64_t addr, void *arg)
{
	(void)arg;
	printf("0x%" PRIx64 "\n", addr);
}

int hs_cmd_list(int argc, char **argv)
{
	struct hs_list_args args;
	int rc = hs_list_parse(argc, argv, &args);
	if (rc)
		return rc < 0 ? HS_EXIT_OK : rc;

	struct hs_analysis *a;
	args.opts.no_census = true;
	args.opts.no_leaks = !args.leaked;
	struct hs_error *err = hs_analysis_run(args.core, &args.opts, &a);
	if (err)
		return hs_cli_fail(err);
	bool found = false;
	err = hs_classify_each_of_type(a->classifier, args.type, args.leaked, hs_list_print,
				       NULL, &found);
	if (!err && !found && args.type)
		err = hs_error_create(HS_ERR_NOT_FOUND,
				      "no type named '%s' in this core (see heapscope analyze)",
				      args.type);
	hs_analysis_destroy(a);
	if (err)
		return hs_cli_fail(err);
	if (fflush(stdout) != 0 || ferror(stdout))
		return hs_cli_fail(hs_error_create(HS_ERR_OTHER, "<stdout>: write failed"));
	return HS_EXIT_OK;
}
