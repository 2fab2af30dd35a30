/* openmetrics.c: the report as OpenMetrics text, for a Prometheus textfile collector. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "formats.h"

/*
 * Only gauges: a report is a snapshot, and the node_exporter textfile
 * collector parses files with the Prometheus text parser, which rejects the
 * OpenMetrics-only types (info, stateset). "# UNIT" and "# EOF" are comments
 * to that parser, so one file serves both. Every sample carries the
 * executable, so that several services on one host do not collide.
 */

/* Write a label value: UTF-8 with backslash, double quote and newline
 * escaped. Bytes that are not valid UTF-8 (type names come from a core) and
 * other control characters become '?', which keeps the line parseable. */
static void hs_om_value(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		unsigned char ch = *p;
		size_t n = ch < 0x80 ? 1 : (ch & 0xe0) == 0xc0 ? 2
				   : (ch & 0xf0) == 0xe0 ? 3 : (ch & 0xf8) == 0xf0 ? 4 : 0;
		bool valid = n > 0;
		for (size_t i = 1; valid && i < n; i++)
			valid = (p[i] & 0xc0) == 0x80;
		/* Overlong two-byte forms and code points past U+10FFFF. */
		if (valid && n == 2 && ch < 0xc2)
			valid = false;
		if (valid && n == 4 && ch > 0xf4)
			valid = false;
		if (!valid) {
			fputc('?', out);
			p++;
			continue;
		}
		if (ch == '\\')
			fputs("\\\\", out);
		else if (ch == '"')
			fputs("\\\"", out);
		else if (ch == '\n')
			fputs("\\n", out);
		else if (ch < 0x20 || ch == 0x7f)
			fputc('?', out);
		else
			fwrite(p, 1, n, out);
		p += n;
	}
}

static void hs_om_family(FILE *out, const char *name, const char *unit,
			 const char *help)
{
	fprintf(out, "# TYPE %s gauge\n", name);
	if (unit)
		fprintf(out, "# UNIT %s %s\n", name, unit);
	fprintf(out, "# HELP %s %s\n", name, help);
}

/* `name{executable="...",k1="v1",k2="v2"} value`; k2 may be NULL. */
static void hs_om_sample(FILE *out, const struct hs_report *r, const char *name,
			 const char *k1, const char *v1, const char *k2,
			 const char *v2, uint64_t value)
{
	fprintf(out, "%s{executable=\"", name);
	hs_om_value(out, r->executable ? r->executable : "unknown");
	if (k1) {
		fprintf(out, "\",%s=\"", k1);
		hs_om_value(out, v1);
	}
	if (k2) {
		fprintf(out, "\",%s=\"", k2);
		hs_om_value(out, v2);
	}
	fprintf(out, "\"} %" PRIu64 "\n", value);
}

struct hs_error *hs_report_write_openmetrics(const struct hs_report *r, FILE *out,
					     const char *where)
{
	char pid[24];
	snprintf(pid, sizeof(pid), "%" PRId64, r->pid);
	hs_om_family(out, "heapscope_core", NULL,
		     "The analysed core: process id and allocator (value always 1).");
	fprintf(out, "heapscope_core{executable=\"");
	hs_om_value(out, r->executable ? r->executable : "unknown");
	fprintf(out, "\",pid=\"%s\",allocator=\"", pid);
	hs_om_value(out, r->alloc_name);
	fprintf(out, "\",allocator_version=\"");
	hs_om_value(out, r->alloc_version);
	fprintf(out, "\"} 1\n");

	if (r->captured_at >= 0) {
		hs_om_family(out, "heapscope_core_captured_timestamp_seconds", "seconds",
			     "When the core was taken (unix time).");
		hs_om_sample(out, r, "heapscope_core_captured_timestamp_seconds", NULL,
			     NULL, NULL, NULL, (uint64_t)r->captured_at);
	}

	hs_om_family(out, "heapscope_chunks", NULL,
		     "Heap chunks per state; in_use includes allocator metadata.");
	for (int s = 0; s < HS_REPORT_NSTATES; s++)
		hs_om_sample(out, r, "heapscope_chunks", "state",
			     hs_report_state_name(s), NULL, NULL, r->totals[s].count);
	hs_om_family(out, "heapscope_chunk_bytes", "bytes",
		     "Heap bytes per chunk state, as the allocator accounts them.");
	for (int s = 0; s < HS_REPORT_NSTATES; s++)
		hs_om_sample(out, r, "heapscope_chunk_bytes", "state",
			     hs_report_state_name(s), NULL, NULL, r->totals[s].bytes);
	hs_om_family(out, "heapscope_metadata_bytes", "bytes",
		     "Allocator metadata chunks, already counted in state in_use.");
	hs_om_sample(out, r, "heapscope_metadata_bytes", NULL, NULL, NULL, NULL,
		     r->metadata.bytes);

	if (r->memory.nregions) {
		/* The memory table, its address space then its bytes in the
		 * core: name="" on a kind's main row, so that every series of a
		 * family has the same labels. */
		static const struct {
			const char *family, *help;
		} fams[2] = {
			{"heapscope_memory_bytes", "Address space per kind of the memory table "
			 "(and named part); the kinds sum to the mapped memory."},
			{"heapscope_memory_dumped_bytes", "Bytes of each memory table row that "
			 "the core holds."},
		};
		for (int f = 0; f < 2; f++) {
			hs_om_family(out, fams[f].family, "bytes", fams[f].help);
			for (size_t i = 0; i < r->memory.nregions; i++) {
				const struct hs_report_mem_row *row = &r->memory.regions[i];
				hs_om_sample(out, r, fams[f].family, "kind", row->kind, "name",
					     row->name ? row->name : "",
					     f ? row->dumped : row->bytes);
			}
		}
	}

	if (r->nstats) {
		hs_om_family(out, "heapscope_allocator_stat", NULL,
			     "The allocator's own statistics, under its own names.");
		for (size_t i = 0; i < r->nstats; i++)
			hs_om_sample(out, r, "heapscope_allocator_stat", "allocator",
				     r->alloc_name, "name", r->stats[i].name,
				     r->stats[i].value);
	}

	if (r->ntypes) {
		hs_om_family(out, "heapscope_type_objects", NULL,
			     "In-use objects per classified type.");
		for (size_t i = 0; i < r->ntypes; i++)
			hs_om_sample(out, r, "heapscope_type_objects", "name",
				     r->types[i].name, "kind", r->types[i].kind,
				     r->types[i].count);
		hs_om_family(out, "heapscope_type_bytes", "bytes",
			     "In-use bytes per classified type.");
		for (size_t i = 0; i < r->ntypes; i++)
			hs_om_sample(out, r, "heapscope_type_bytes", "name",
				     r->types[i].name, "kind", r->types[i].kind,
				     r->types[i].bytes);
	}
	fputs("# EOF\n", out);
	if (fflush(out) != 0 || ferror(out))
		return hs_error_create(HS_ERR_IO, "%s: write failed: %s", where,
				       strerror(errno));
	return NULL;
}
