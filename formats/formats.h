/* formats.h: the report model (heapscope-report/1) and its JSON and text forms. */
#ifndef HS_FORMATS_H
#define HS_FORMATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/common.h"

#define HS_REPORT_SCHEMA "heapscope-report/1"

/*
 * The report is plain data: every string in it is owned by the report and
 * freed by hs_report_deinit(). It is filled either from a live analysis
 * (analyzer/) or, later, read back from JSON, so nothing in it points into a
 * core or a heap.
 */
struct hs_report_module {
	char *path;
	uint64_t base;
	char *build_id; /* hex, or NULL */
	char *symbols;  /* debuginfo|symtab|dynsym|none */
};

struct hs_report_stat {
	char *name;
	uint64_t value;
};

struct hs_report_count {
	uint64_t count, bytes;
};

struct hs_report_size_class {
	uint64_t size, count, bytes;
};

struct hs_report_sample {
	uint64_t address;
	char *hex; /* hexdump -C style text, or NULL when redacted */
};

struct hs_report_type {
	char *name;
	char *kind; /* vtable|sds|robj|string|cstring|container|pattern */
	uint64_t count, bytes;
	bool has_confidence;
	double confidence;
	uint64_t *examples;
	size_t nexamples;
	/* With reachability (the report's leaks.present): */
	bool has_leaks;
	struct hs_report_count leaked, direct;
	bool has_retained;
	uint64_t retained; /* bytes its outermost instances keep alive */
};

struct hs_report_pattern {
	char *signature;
	uint64_t size, count, bytes, runs;
	struct hs_report_sample *samples;
	size_t nsamples;
};

/* The ranges the allocator walker declared, summed per kind in its own
 * words ("heap", "reserved", jemalloc "retained", tcmalloc "unmapped"...):
 * memory.allocator_regions. */
struct hs_report_alloc_region {
	char *kind;
	uint64_t count, bytes;
};

/* One row of the memory table (memory.regions): a kind, or a named part
 * of it. */
struct hs_report_mem_row {
	char *kind;      /* in_use ... inaccessible (docs/report-schema.json) */
	char *name;      /* "Go heap", ..., or NULL on the kind's main row */
	uint64_t bytes;  /* virtual: address space */
	uint64_t dumped; /* of which the core holds */
	bool has_count;
	uint64_t count;  /* address ranges (not for chunk states) */
};

/* Where the process's memory went: the breakdown of seeds 002 and 004
 * (allocator-managed vs other, address space vs what is dumped). */
struct hs_report_memory {
	uint64_t mapped;  /* address space of the core's mappings */
	uint64_t dumped;  /* bytes of it present in the core file */
	uint64_t modules; /* address space of mapped ELF modules */
	uint64_t chunks;  /* bytes in allocator chunks, all states */
	struct hs_report_alloc_region *alloc_regions;
	size_t nalloc_regions;
	/* The memory table; every byte of `mapped` in one row. Empty in
	 * reports written before it existed. */
	struct hs_report_mem_row *regions;
	size_t nregions;
	char *core_writer;     /* gcore|kernel|unknown, or NULL */
	char *untouched_pages; /* dumped|omitted|unknown, or NULL */
	char *verdict;         /* one sentence, or NULL */
};

/* Where the references that keep chunks alive come from. */
enum hs_root_kind {
	HS_ROOT_REGISTERS,
	HS_ROOT_STACKS,
	HS_ROOT_MODULES,
	HS_ROOT_TLS,
	HS_ROOT_OTHER,
	HS_ROOT_NKINDS,
};
const char *hs_root_kind_name(enum hs_root_kind k);

/* A chunk that keeps much memory alive (dominator tree). */
struct hs_report_retainer {
	uint64_t address, size, retained;
	char *type, *kind;
};

/*
 * Reachability: which in-use chunks no root reaches (leaked), and of those
 * which no other leaked chunk refers to (direct) and which are only
 * referenced from other leaks (indirect), in LeakSanitizer's words. Per-type
 * figures are in the types' rows.
 */
struct hs_report_leaks {
	bool present;
	struct hs_report_count leaked, direct, indirect;
	uint64_t roots[HS_ROOT_NKINDS]; /* root words that refer to a chunk */
	bool has_retained;
	struct hs_report_retainer *retainers; /* by retained bytes, descending */
	size_t nretainers;
};

struct hs_report_diag {
	char *severity; /* info|warning|error */
	char *message;
	bool has_address;
	uint64_t address;
};

enum hs_report_state { HS_REPORT_IN_USE, HS_REPORT_FREE, HS_REPORT_CACHED, HS_REPORT_NSTATES };

struct hs_report {
	/* core */
	char *core_path;
	uint64_t core_bytes;
	int64_t pid;
	char *executable;
	uint64_t threads;
	int64_t captured_at; /* unix seconds, or -1 if unknown */

	struct hs_report_module *modules;
	size_t nmodules;

	/* allocator */
	char *alloc_name, *alloc_version, *located_by;
	/* verified|from_source|inferred, and the layout row used (NULL when
	 * unknown: a report from before heapscope 0.2). */
	char *layout, *layout_row;
	uint64_t arenas;
	struct hs_report_stat *stats;
	size_t nstats;

	struct hs_report_count totals[HS_REPORT_NSTATES];
	struct hs_report_count metadata; /* included in totals[in_use] */

	struct hs_report_size_class *size_classes; /* sorted by bytes, descending */
	size_t nsize_classes;

	struct hs_report_type *types; /* sorted by bytes, descending */
	size_t ntypes;
	struct hs_report_pattern *patterns;
	size_t npatterns;

	struct hs_report_memory memory;
	struct hs_report_leaks leaks;

	struct hs_report_diag *diags;
	size_t ndiags;
	uint64_t diags_dropped;
};

void hs_report_init(struct hs_report *r);
void hs_report_deinit(struct hs_report *r);

/* Append helpers: copy their string arguments. false on out-of-memory. */
bool hs_report_add_module(struct hs_report *r, const char *path, uint64_t base,
			  const char *build_id, const char *symbols) HS_MUST_CHECK;
bool hs_report_add_stat(struct hs_report *r, const char *name, uint64_t value)
	HS_MUST_CHECK;
bool hs_report_add_diag(struct hs_report *r, const char *severity,
			const char *message, bool has_address,
			uint64_t address) HS_MUST_CHECK;

/* Add `bytes` in `count` more regions of `kind` to memory.allocator_regions
 * (summed per kind). false on out-of-memory. */
bool hs_report_add_alloc_region(struct hs_report *r, const char *kind,
				uint64_t count, uint64_t bytes) HS_MUST_CHECK;
/* Append a row to the memory table (memory.regions); name may be NULL, a
 * count is kept only if has_count. false on out-of-memory. */
bool hs_report_add_mem_row(struct hs_report *r, const char *kind,
			   const char *name, uint64_t bytes, uint64_t dumped,
			   bool has_count, uint64_t count) HS_MUST_CHECK;
/*
 * The memory table's verdict in words, from memory.regions: which kind
 * dominates, and whether growth there would be a heap leak (in the
 * allocator's chunks) or an mmap leak (outside the allocator). Written
 * into buf (truncated to len); false if the report has no table.
 */
bool hs_report_memory_verdict(const struct hs_report *r, char *buf, size_t len);

const char *hs_report_state_name(enum hs_report_state s);

/*
 * Write the report as heapscope-report/1 JSON (documented in
 * docs/report-schema.json) to `out`. `where` names the destination for error
 * messages. Errors: HS_ERR_IO when writing fails, HS_ERR_NOMEM.
 */
struct hs_error *hs_report_write_json(const struct hs_report *r, FILE *out,
				      const char *where);

/*
 * Read a heapscope-report/1 JSON document (as written by
 * hs_report_write_json) from `path` into *ret, which the caller then owns
 * (hs_report_deinit). The file is untrusted input: sizes are bounded and
 * every value is type-checked; keys it does not know are ignored, and the
 * `types` and `patterns` sections may be absent. Errors name the file in one
 * line: HS_ERR_IO (cannot open/read), HS_ERR_FORMAT (empty, malformed,
 * truncated or too large JSON, another schema, a missing or mistyped key),
 * HS_ERR_NOMEM. *ret is untouched on failure.
 */
struct hs_error *hs_report_read_json(const char *path, struct hs_report *ret);

/*
 * Write the per-type counts and bytes, the totals per chunk state and the
 * allocator statistics as OpenMetrics text (gauges only, ending in "# EOF"),
 * for a Prometheus textfile collector. Errors: HS_ERR_IO.
 */
struct hs_error *hs_report_write_openmetrics(const struct hs_report *r, FILE *out,
					     const char *where);

/*
 * Reachability verdicts (the report's `leaks` section), as the pages and the
 * pprof profile read them: hs_report_has_leaks says whether the report
 * carries them; hs_report_type_leaked gives types[i]'s leaked count and
 * bytes (0 and 0 when the report has no verdicts).
 */
bool hs_report_has_leaks(const struct hs_report *r);
void hs_report_type_leaked(const struct hs_report *r, size_t i, uint64_t *count,
			   uint64_t *bytes);

/*
 * Write the report as a gzipped pprof profile (github.com/google/pprof
 * proto/profile.proto) to `out`: sample types inuse_objects (count) and
 * inuse_space (bytes), plus leaked_objects and leaked_space when the report
 * has leak verdicts; one sample per type, its stack [allocator; kind; type]
 * (leaf last here, first in the proto), and one for allocator metadata, so
 * inuse_space sums to totals.in_use. Errors: HS_ERR_IO when writing fails,
 * HS_ERR_NOMEM.
 */
struct hs_error *hs_report_write_pprof(const struct hs_report *r, FILE *out,
				       const char *where);

struct hs_text_options {
	unsigned top; /* rows per table */
};

/* Write the short human summary. Errors: HS_ERR_IO. */
struct hs_error *hs_report_write_text(const struct hs_report *r, FILE *out,
				      const struct hs_text_options *opts,
				      const char *where);

/*
 * JSON helpers shared by every document heapscope writes (jansson's json_t).
 * hs_json_u64: a count as a JSON integer, clamped at INT64_MAX (no real count
 * gets there). hs_json_write_doc: dump `root` indented with a final newline
 * and drop the caller's reference to it; NULL root means the document could
 * not be built (HS_ERR_NOMEM); write failures are HS_ERR_IO naming `where`.
 */
struct json_t;
struct json_t *hs_json_u64(uint64_t v);
struct hs_error *hs_json_write_doc(struct json_t *root, FILE *out, const char *where);

/* Format a byte count for people ("12.3 MiB") into buf. */
const char *hs_format_bytes(uint64_t bytes, char *buf, size_t len);

#endif
