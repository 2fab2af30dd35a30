/* diff.h: the change between two reports (heapscope-diff/1): analyzer/ builds it, html/ draws it. */
#ifndef HS_DIFF_H
#define HS_DIFF_H

#include <stdio.h>

#include "analyzer.h"

#define HS_DIFF_SCHEMA "heapscope-diff/1"

enum hs_diff_status {
	HS_DIFF_COMMON, /* present on both sides */
	HS_DIFF_NEW,    /* only in the newer report */
	HS_DIFF_GONE,   /* only in the older report (vanished) */
};

/*
 * One matched row of a view. The key strings point into the two reports,
 * which must outlive the diff. Deltas are after - before, clamped to the
 * int64 range (no real heap comes near it, a hostile report might).
 */
struct hs_diff_row {
	const char *name; /* type name or pattern signature; NULL for size classes */
	const char *kind; /* type kind; NULL otherwise */
	uint64_t size;    /* size-class size, or a pattern cluster's chunk size */
	struct hs_report_count before, after;
	int64_t dcount, dbytes;
	enum hs_diff_status status;
	/* Types, when both reports have reachability: the leaked chunks. */
	struct hs_report_count leaked_before, leaked_after;
	int64_t dleaked_count, dleaked_bytes;
};

/*
 * A view (types, size classes, patterns, memory). `rows` is sorted by byte growth
 * (hs_diff_sort_rows); the filter keeps a prefix of the sorted rows that pass
 * and drops the rest. `nall` and the all_* sums describe every matched row,
 * so that what a filter hid can still be reported.
 */
struct hs_diff_table {
	struct hs_diff_row *rows;
	size_t nrows, nall;
	int64_t all_dcount, all_dbytes;
};

/* One allocator statistic; a side that lacks it has in_* false. */
struct hs_diff_stat {
	const char *name;
	bool in_before, in_after;
	uint64_t before, after;
	int64_t delta;
};

/* A module whose build-id differs between the sides (the main executable
 * is compared even when its path changed). */
struct hs_diff_build {
	const char *module;
	const char *before, *after; /* hex build-ids */
};

/* Where a side came from: the path given on the command line, and whether it
 * was a core (analysed now) or a saved report. */
struct hs_diff_input {
	const struct hs_report *report;
	const char *source;
	bool from_core;
};

enum { HS_DIFF_TOTAL_METADATA = HS_REPORT_NSTATES, HS_DIFF_NTOTALS };

struct hs_diff {
	struct hs_diff_input before, after;
	bool has_elapsed;
	int64_t elapsed; /* seconds from before's capture to after's */

	struct hs_diff_row totals[HS_DIFF_NTOTALS]; /* in_use, free, cached, metadata */
	/* Both reports have reachability: the leaked totals, and the types'
	 * leaked columns are meaningful. */
	bool has_leaks;
	struct hs_diff_row leaked;
	struct hs_diff_stat *stats;
	size_t nstats;
	struct hs_diff_table types, size_classes, patterns;
	/* The memory table's rows, by kind and owner (name); a row's count is
	 * its address ranges, its bytes its virtual size. */
	struct hs_diff_table memory;

	bool different_builds;
	struct hs_diff_build *builds;
	size_t nbuilds;
	bool different_allocators;

	/* The filter last applied, echoed in the output. */
	uint64_t top, min_bytes;
};

/*
 * Compare two reports. Types match by name and kind, size classes by size,
 * pattern clusters by their address-free signature and chunk size (the two
 * make the cluster); a key repeated within one report is summed.
 * The reports (and the source strings) are borrowed and must outlive the
 * diff. Errors: HS_ERR_NOMEM only. The result is sorted and unfiltered.
 */
struct hs_error *hs_diff_create(const struct hs_diff_input *before,
				const struct hs_diff_input *after,
				struct hs_diff **ret);
void hs_diff_destroy(struct hs_diff *d);

/* Sort rows by byte growth, largest first; ties by new bytes, then count
 * growth, then key, so the order is deterministic. */
void hs_diff_sort_rows(struct hs_diff_row *rows, size_t n);

/*
 * Keep, in every view, the first `top` rows (0: all) whose byte change is at
 * least `min_bytes` in absolute value. Filters only ever narrow: calling it
 * again with a smaller `top` narrows further.
 */
void hs_diff_filter(struct hs_diff *d, uint64_t top, uint64_t min_bytes);
void hs_diff_filter_table(struct hs_diff_table *t, uint64_t top, uint64_t min_bytes);

/* after.bytes / before.bytes; false when before.bytes is 0 (a new row). */
bool hs_diff_growth(const struct hs_diff_row *row, double *ret);

/* The human form and the heapscope-diff/1 JSON document (documented in
 * docs/report-schema.json). Errors: HS_ERR_IO, HS_ERR_NOMEM. */
struct hs_error *hs_diff_write_text(const struct hs_diff *d, FILE *out,
				    const char *where);
struct hs_error *hs_diff_write_json(const struct hs_diff *d, FILE *out,
				    const char *where);

/* The `diff` command (cmd_diff.c), for the command table in cli.c. */
int hs_cmd_diff(int argc, char **argv);

#endif
