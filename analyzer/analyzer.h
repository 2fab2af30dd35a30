/* analyzer.h: the analyzer layer's interface: analyse a core into a report, and the CLI. */
#ifndef HS_ANALYZER_H
#define HS_ANALYZER_H

#include "../common/common.h"
#include "../formats/formats.h"
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
};

/*
 * One analysed core: the process (memory map, modules), the walked heap and
 * the report built from them. The heap and process stay alive so that
 * commands like `show` can read memory after the report is built.
 */
struct hs_classes;

/* Where an analysis spent its time, for `analyze --stats` and the benches. */
enum hs_phase { HS_PHASE_OPEN, HS_PHASE_WALK, HS_PHASE_COUNT, HS_PHASE_CLASSIFY, HS_NPHASES };

struct hs_analysis {
	struct hs_process *proc;
	struct hs_heap *heap;
	struct hs_report report;
	struct hs_classes *classes; /* what each in-use chunk is (classify.c) */
	double phase_seconds[HS_NPHASES];
};

/*
 * Print to `out` the time of each phase and the process's memory: peak RSS,
 * and now the anonymous part (heapscope's own allocations) and the
 * file-backed part (pages of the mmapped core and modules, which the kernel
 * can drop at will). Reads /proc/self/status; best effort.
 */
void hs_analysis_print_stats(const struct hs_analysis *a, FILE *out);

/*
 * Open `core_path`, walk its allocator and fill the report. On success *ret
 * is owned by the caller (hs_analysis_destroy). Errors come from the core
 * reader (unusable core) or the walker (no allocator found), with messages
 * naming the file.
 */
struct hs_error *hs_analysis_run(const char *core_path,
				 const struct hs_analyze_options *opts,
				 struct hs_analysis **ret);
void hs_analysis_destroy(struct hs_analysis *a);

/* Fill r's core/modules/allocator/totals/size_classes/diagnostics sections
 * from a process and its heap. */
struct hs_error *hs_report_build(struct hs_report *r, struct hs_process *proc,
				 const struct hs_heap *heap);

/*
 * ---------------------------------------------------------------------------
 * Classification: what each in-use chunk is (vtable classes, Redis sds and
 * robj, std::string bodies, C strings) and, for the rest, clusters of chunks
 * of one size and one shape of their first words.
 * ---------------------------------------------------------------------------
 */
struct hs_classify_options {
	bool redact; /* keep no heap bytes (hexdump samples) in the results */
};

/*
 * Classify every in-use, non-metadata chunk of `heap` (sorted by address),
 * reading memory through `proc`. Both are borrowed and must outlive the
 * result, which the caller frees with hs_classes_destroy(). One sequential
 * pass over the chunks plus one scan of writable memory; per-chunk state is
 * two compact arrays, nothing is allocated per chunk. Errors: HS_ERR_NOMEM.
 */
struct hs_error *hs_classify(struct hs_process *proc, const struct hs_heap *heap,
			     const struct hs_classify_options *opts,
			     struct hs_classes **ret);
void hs_classes_destroy(struct hs_classes *c);
/* Fill r->types and r->patterns (replacing nothing: they must be empty). */
struct hs_error *hs_classes_report(const struct hs_classes *c, struct hs_report *r);
/* The type name and kind of chunk `i` (index into heap->chunks), or NULL if
 * it was not classified (not in use, or allocator metadata). */
const char *hs_classes_chunk_type(const struct hs_classes *c, size_t i,
				  const char **kind);
/* Why chunk i has its type, one line into buf (truncated to len). */
void hs_classes_explain(struct hs_classes *c, size_t i, char *buf, size_t len);
/* Call fn with the address of every chunk whose type is named `name`, in
 * address order. Returns false if no type has that name. */
bool hs_classes_each_of_type(const struct hs_classes *c, const char *name,
			     void (*fn)(uint64_t addr, void *arg), void *arg);

/* An sds header at p (the start of the allocation) of header type `type`
 * (0: sdshdr5, 1: 8, 2: 16, 3: 32, 4: 64, as the flags byte encodes it):
 * flags byte right, len <= alloc, and a NUL at buf[len] within avail bytes. */
struct hs_sds {
	unsigned type, hdrlen;
	uint64_t len, alloc;
};
bool hs_sds_parse(const uint8_t *p, size_t avail, unsigned type, struct hs_sds *ret);

/* `hexdump -C` text of n bytes (offsets from 0), with "*" for repeated
 * lines and a closing offset line. Malloc'd; NULL when out of memory. */
char *hs_hexdump(const uint8_t *p, size_t n);

/*
 * The shape of the first nwords (<= 8) 8-byte words at p, one letter each:
 * 0 zero, H inside a heap chunk, M inside a module, i small integer, t text,
 * ? anything else. Encoded 3 bits per word plus the word count; the code has
 * no addresses in it, so it is the same in two cores of one program.
 */
#define HS_PATTERN_MAX_WORDS 8
uint32_t hs_pattern_code(struct hs_process *proc, const struct hs_heap *heap,
			 const uint8_t *p, size_t nwords);
/* "H M 0 i t ?" for a code, into buf. */
const char *hs_pattern_format(uint32_t code, char *buf, size_t len);

/* The command-line entry point: returns the process exit code. */
int hs_cli_main(int argc, char **argv);

#endif
