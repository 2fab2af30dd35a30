/* analyzer.h: the analyzer layer's interface: analyse a core into a report, and the CLI. */
#ifndef HS_ANALYZER_H
#define HS_ANALYZER_H

#include "../common/common.h"
#include "../formats/formats.h"
#include "../classify/classify.h"
#include "../heapwalk/heapwalk.h"
#include "../symbols/symbols.h"

/* Process exit codes, documented in `heapscope --help` and docs/cli.md. */
enum {
	HS_EXIT_OK = 0,        /* report produced; diagnostics may be in it */
	HS_EXIT_FAILURE = 1,   /* output could not be written, internal error */
	HS_EXIT_BAD_INPUT = 2, /* core unusable, no allocator found, bad report */
	HS_EXIT_USAGE = 64,    /* bad command line (EX_USAGE) */
};

/* Map an error's code to the exit code above. */
int hs_exit_code_for(const struct hs_error *err);

struct hs_analyze_options {
	const char *exe;       /* --exe */
	const char *sysroot;   /* --sysroot */
	const char *allocator; /* --allocator, or NULL to detect */
	bool no_debuginfo;     /* --no-debuginfo */
	/* --captured-at: when the core was taken (unix seconds), overriding
	 * the core file's mtime; only used when has_captured_at is set. */
	bool has_captured_at;
	int64_t captured_at;
	bool redact;           /* --redact: no heap bytes in any output */
	unsigned threads;      /* --threads, 0: one per CPU */
	enum { HS_PROGRESS_AUTO, HS_PROGRESS_ON, HS_PROGRESS_OFF } progress;
	/* What to compute beyond the walk (show and list need less). */
	bool no_census;        /* no per-type census (the classifier is still made) */
	bool no_leaks;         /* --no-leaks: no reachability */
	bool no_retained;      /* --no-retained: no dominator tree */
	uint64_t retained_limit; /* --retained-limit bytes, 0: the default */
};

/* Memory the dominator tree may take before retained sizes are left out:
 * about 11 M reachable chunks (docs/reachability.md). */
#define HS_RETAINED_LIMIT_DEFAULT (UINT64_C(1) << 30)

/* Where an analysis spent its time, for `analyze --stats` and the benches. */
enum hs_phase {
	HS_PHASE_OPEN,
	HS_PHASE_WALK,
	HS_PHASE_SCAN,
	HS_PHASE_MARK,
	HS_PHASE_CLASSIFY,
	HS_PHASE_LEAKS,
	HS_PHASE_RETAINED,
	HS_NPHASES
};

struct hs_classifier;
struct hs_census;
struct hs_refgraph;
struct hs_progress;

/*
 * One analysed core: the process (memory map, modules), the walked heap and
 * the report built from them. The heap and process stay alive so that
 * commands like `show` can read memory after the report is built.
 */
struct hs_analysis {
	struct hs_process *proc;
	struct hs_heap *heap;
	struct hs_report report;
	struct hs_classifier *classifier; /* what each in-use chunk is */
	struct hs_refgraph *graph;        /* roots and marks, unless no_leaks */
	struct hs_progress *progress;
	double phase_seconds[HS_NPHASES];
	uint64_t retained_bytes; /* what the dominator tree took */
};

/*
 * Print to `out` the time of each phase and the process's memory: peak RSS,
 * and now the anonymous part (heapscope's own allocations) and the
 * file-backed part (pages of the mmapped core and modules, which the kernel
 * can drop at will). Reads /proc/self/status; best effort.
 */
void hs_analysis_print_stats(const struct hs_analysis *a, FILE *out);

/*
 * Open `core_path`, walk its allocator, classify and count its chunks and,
 * unless opts->no_leaks, find what is reachable, and fill the report. On
 * success *ret is owned by the caller (hs_analysis_destroy). Errors come from
 * the core reader (unusable core) or the walker (no allocator found), with
 * messages naming the file.
 */
struct hs_error *hs_analysis_run(const char *core_path,
				 const struct hs_analyze_options *opts,
				 struct hs_analysis **ret);
void hs_analysis_destroy(struct hs_analysis *a);

/* Fill r's core/modules/allocator/totals/size_classes/diagnostics sections
 * from a process and its heap. */
struct hs_error *hs_report_build(struct hs_report *r, struct hs_process *proc,
				 const struct hs_heap *heap);

/* The command-line entry point: returns the process exit code. */
int hs_cli_main(int argc, char **argv);

#endif
