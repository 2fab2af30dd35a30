/* analysis.c: from a core file to a report: open, walk, count. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/parallel.h"
#include "../common/progress.h"
#include "../symbols/prefault.h"
#include "../refgraph/refgraph.h"

#include "analyzer.h"

int hs_exit_code_for(const struct hs_error *err)
{
	if (!err)
		return HS_EXIT_OK;
	switch (err->code) {
	case HS_ERR_USAGE:
		return HS_EXIT_USAGE;
	case HS_ERR_NOMEM:
	case HS_ERR_OTHER:
		return HS_EXIT_FAILURE;
	default:
		return HS_EXIT_BAD_INPUT;
	}
}

static char *hs_hex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	s[2 * n] = 0;
	return s;
}

static bool hs_report_add_diags(struct hs_report *r, const struct hs_diags *d)
{
	for (size_t i = 0; i < d->count; i++)
		if (!hs_report_add_diag(r, hs_severity_name(d->items[i].severity),
					d->items[i].message, d->items[i].has_address,
					d->items[i].address))
			return false;
	r->diags_dropped += d->dropped;
	return true;
}

static struct hs_error *hs_report_memory_table(struct hs_report *r,
					       struct hs_process *proc,
					       const struct hs_heap *heap);

struct hs_error *hs_report_build(struct hs_report *r, struct hs_process *proc,
				 const struct hs_heap *heap)
{
	r->core_path = hs_strdup(proc->core_path);
	r->core_bytes = proc->core_bytes;
	r->pid = proc->pid;
	struct hs_module *exe = hs_process_main_module(proc);
	r->executable = hs_strdup(exe ? exe->name : proc->exe_name);
	r->threads = proc->nthreads;
	/* When the core was taken: gcore and the kernel write the file at
	 * capture time, so its mtime is the best default (a copy made with
	 * cp -p or rsync -t keeps it; --captured-at overrides it). */
	struct stat core_st;
	if (proc->core_path && stat(proc->core_path, &core_st) == 0)
		r->captured_at = core_st.st_mtim.tv_sec;

	for (size_t i = 0; i < proc->nmodules; i++) {
		const struct hs_module *m = &proc->modules[i];
		char *bid = m->build_id_len ? hs_hex(m->build_id, m->build_id_len) : NULL;
		bool ok = hs_report_add_module(r, m->name, m->start, bid,
					       hs_symbol_source_name(m->symbols));
		free(bid);
		if (!ok)
			return HS_ENOMEM;
	}

	r->alloc_name = hs_strdup(heap->allocator);
	r->alloc_version = hs_strdup(heap->version);
	r->located_by = hs_strdup(hs_located_by_name(heap->located_by));
	r->layout = hs_strdup(hs_layout_status_name(heap->layout));
	r->layout_row = hs_strdup(heap->layout_row);
	r->arenas = heap->narenas;
	if ((proc->core_path && !r->core_path) || !r->alloc_name ||
	    !r->alloc_version || !r->located_by || !r->layout || !r->layout_row)
		return HS_ENOMEM;
	for (size_t i = 0; i < heap->nstats; i++)
		if (!hs_report_add_stat(r, heap->stats[i].name, heap->stats[i].value))
			return HS_ENOMEM;

	struct hs_report_memory *mem = &r->memory;
	for (size_t i = 0; i < heap->nregions; i++)
		if (!hs_report_add_alloc_region(r, heap->regions[i].kind, heap->regions[i].count,
						heap->regions[i].size))
			return HS_ENOMEM;

	for (int st = 0; st < HS_CHUNK_NSTATES; st++) {
		r->totals[st].count = heap->totals[st].count;
		r->totals[st].bytes = heap->totals[st].bytes;
		mem->chunks += heap->totals[st].bytes;
	}
	r->metadata.count = heap->metadata.count;
	r->metadata.bytes = heap->metadata.bytes;
	size_t n;
	const struct hs_size_count *sizes = hs_heap_size_classes(heap, &n);
	if (n) {
		r->size_classes = calloc(n, sizeof(*r->size_classes));
		if (!r->size_classes)
			return HS_ENOMEM;
		for (size_t i = 0; i < n; i++)
			r->size_classes[i] = (struct hs_report_size_class){
				sizes[i].size, sizes[i].count, sizes[i].bytes};
		r->nsize_classes = n;
	}

	if (!hs_report_add_diags(r, &proc->diags) ||
	    !hs_report_add_diags(r, &heap->diags))
		return HS_ENOMEM;
	return hs_report_memory_table(r, proc, heap);
}

/*
 * memory: the memory map's table, and what it says about the core: which
 * tool wrote it, whether untouched pages are in it, and the verdict. The
 * map's own diagnostics go with the walker's.
 */
static struct hs_error *hs_report_memory_table(struct hs_report *r,
					       struct hs_process *proc,
					       const struct hs_heap *heap)
{
	struct hs_memmap *map;
	struct hs_error *err = hs_memmap_build(proc, heap, &map);
	if (err)
		return err;
	struct hs_report_memory *mem = &r->memory;
	mem->mapped = map->mapped;
	mem->dumped = map->dumped;
	bool ok = true;
	for (size_t i = 0; i < map->nrows && ok; i++) {
		const struct hs_mem_row *row = &map->rows[i];
		bool counted = row->kind != HS_MEM_IN_USE && row->kind != HS_MEM_FREE &&
			       row->kind != HS_MEM_CACHED &&
			       row->kind != HS_MEM_ALLOCATOR_METADATA;
		if (row->kind == HS_MEM_MODULES)
			mem->modules += row->bytes;
		ok = hs_report_add_mem_row(r, hs_mem_kind_name(row->kind), row->name,
					   row->bytes, row->dumped, counted,
					   row->ranges);
	}
	mem->core_writer = hs_strdup(hs_core_writer_name(map->writer));
	mem->untouched_pages = hs_strdup(map->writer == HS_CORE_WRITER_GCORE ? "dumped" :
					 map->writer == HS_CORE_WRITER_KERNEL ? "omitted" :
					 "unknown");
	char verdict[512];
	if (ok && hs_report_memory_verdict(r, verdict, sizeof(verdict)))
		mem->verdict = hs_strdup(verdict);
	ok = ok && mem->core_writer && mem->untouched_pages &&
	     (!mem->nregions || mem->verdict) && hs_report_add_diags(r, &map->diags);
	hs_memmap_destroy(map);
	return ok ? NULL : HS_ENOMEM;
}

static double hs_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct hs_error *hs_add_indirect(hs_chunk_id id, void *arg)
{
	return hs_census_add_indirect(arg, id);
}

/* Count every chunk by type and, with reachability, the leaks. */
static void hs_dom_sink(void *arg, hs_chunk_id id, uint32_t tag)
{
	hs_dominators_set_type(arg, id, tag);
}

static uint32_t hs_dom_map(uint32_t tag, void *arg)
{
	return hs_census_type_of_tag(arg, tag);
}

static void hs_dom_add(uint32_t type, uint64_t retained, void *arg)
{
	hs_census_add_type_retained(arg, type, retained);
}

/* The chunks that keep the most alive, with their types, into the report. */
static struct hs_error *hs_report_retainers(struct hs_analysis *a, struct hs_census *cs,
					    const struct hs_dominators *dom)
{
	enum { TOP = 20 };
	hs_chunk_id ids[TOP];
	uint64_t retained[TOP];
	size_t n = hs_dominators_top(dom, TOP, ids, retained);
	struct hs_report_leaks *l = &a->report.leaks;
	l->has_retained = true;
	l->retainers = calloc(n ? n : 1, sizeof(*l->retainers));
	if (!l->retainers)
		return HS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct hs_report_retainer *rt = &l->retainers[l->nretainers++];
		struct hs_chunk ch;
		char name[512];
		const char *kind = "";
		hs_heap_chunk(a->heap, ids[i], &ch);
		rt->address = ch.addr;
		rt->size = hs_chunk_size(&ch);
		rt->retained = retained[i];
		if (!hs_classify_chunk(a->classifier, ids[i], name, sizeof(name), &kind, NULL, 0))
			snprintf(name, sizeof(name), "?");
		rt->type = hs_strdup(name);
		rt->kind = hs_strdup(kind);
		if (!rt->type || !rt->kind)
			return HS_ENOMEM;
	}
	(void)cs;
	return NULL;
}

/*
 * Count every chunk by type and, with reachability, the leaks; with the
 * dominator tree, the types' and the top chunks' retained sizes.
 */
static struct hs_error *hs_analysis_census(struct hs_analysis *a,
					   const struct hs_analyze_options *opts, double *t)
{
	struct hs_census *cs = NULL;
	struct hs_dominators *dom = NULL;
	struct hs_error *err = NULL;
	double now;
	if (a->graph) {
		const char *why = NULL;
		dom = hs_refgraph_tree(a->graph, &why);
		if (why && (!hs_report_add_diag(&a->report, "info", why, false, 0) ||
			    !hs_report_add_diag(&a->report, "info",
						"retained sizes left out (raise --retained-limit, "
						"or --no-retained)", false, 0)))
			err = HS_ENOMEM;
		a->retained_bytes = dom ? hs_dominators_bytes(dom) : 0;
	}
	struct hs_census_options csopts = {
		.leaks = a->graph != NULL,
		.sink = dom ? hs_dom_sink : NULL,
		.sink_arg = dom,
	};
	if (!err)
		err = hs_census_run(a->classifier, &csopts, &cs);
	now = hs_now();
	a->phase_seconds[HS_PHASE_CLASSIFY] = now - *t;
	*t = now;
	if (!err && a->graph) {
		err = hs_refgraph_indirect(a->graph, hs_add_indirect, cs);
		hs_refgraph_root_counts(a->graph, a->report.leaks.roots);
		now = hs_now();
		a->phase_seconds[HS_PHASE_LEAKS] = now - *t;
		*t = now;
	}
	if (!err && dom) {
		err = hs_dominators_outermost(dom, hs_census_ntypes(cs), hs_dom_map, hs_dom_add, cs);
		if (!err)
			err = hs_report_retainers(a, cs, dom);
		now = hs_now();
		a->phase_seconds[HS_PHASE_RETAINED] += now - *t;
		*t = now;
	}
	if (!err)
		err = hs_census_report(cs, &a->report);
	hs_census_destroy(cs);
	return err;
}

struct hs_error *hs_analysis_run(const char *core_path,
				 const struct hs_analyze_options *opts,
				 struct hs_analysis **ret)
{
	struct hs_analysis *a = calloc(1, sizeof(*a));
	if (!a)
		return HS_ENOMEM;
	hs_report_init(&a->report);
	bool progress = opts->progress == HS_PROGRESS_ON ||
			(opts->progress == HS_PROGRESS_AUTO && isatty(STDERR_FILENO));
	a->progress = hs_progress_create(stderr, progress);
	struct hs_process_options popts = {
		.sysroot = opts->sysroot,
		.exe = opts->exe,
		.no_debuginfo = opts->no_debuginfo,
	};
	double t0 = hs_now(), t1;
	hs_progress_phase(a->progress, "open core and modules", 0);
	struct hs_error *err = hs_process_open(core_path, &popts, &a->proc);
	t1 = hs_now();
	a->phase_seconds[HS_PHASE_OPEN] = t1 - t0;
	if (!err) {
		struct hs_walk_options wopts = {
			.no_debuginfo = opts->no_debuginfo,
			.allocator = opts->allocator,
			.threads = opts->threads,
		};
		hs_progress_phase(a->progress, "walk the allocator", 0);
		/* The walk is one thread: the other maps the core ahead of it. */
		struct hs_prefault *pf = hs_prefault_start(a->proc,
							   hs_parallel_threads(opts->threads));
		err = hs_heapwalk_run(a->proc, &wopts, &a->heap);
		hs_prefault_stop(pf);
	}
	if (!err)
		err = hs_report_build(&a->report, a->proc, a->heap);
	t0 = hs_now();
	a->phase_seconds[HS_PHASE_WALK] = t0 - t1;
	if (!err) {
		struct hs_classify_options copts = {
			.redact = opts->redact,
			.threads = opts->threads,
			.progress = a->progress,
		};
		err = hs_classifier_create(a->proc, a->heap, &copts, &a->classifier);
		t1 = hs_now();
		a->phase_seconds[HS_PHASE_SCAN] = t1 - t0;
	}
	if (!err && !opts->no_leaks) {
		struct hs_refgraph_options gopts = {
			.threads = opts->threads,
			.progress = a->progress,
			/* show and list need no tree; show builds its own. */
			.retained = !opts->no_retained && !opts->no_census,
			.retained_limit = opts->retained_limit ? opts->retained_limit
							       : HS_RETAINED_LIMIT_DEFAULT,
		};
		err = hs_refgraph_create(a->proc, a->heap, &gopts, &a->graph);
		t0 = hs_now();
		a->phase_seconds[HS_PHASE_MARK] = t0 - t1;
		t1 = t0;
	}
	if (!err && !opts->no_census)
		err = hs_analysis_census(a, opts, &t1);
	hs_progress_destroy(a->progress);
	a->progress = NULL;
	if (!err && opts->has_captured_at)
		a->report.captured_at = opts->captured_at;
	if (err) {
		hs_analysis_destroy(a);
		return err;
	}
	*ret = a;
	return NULL;
}

/* A "Key:   123 kB" line of /proc/self/status, in bytes; 0 if absent. */
static uint64_t hs_status_kb(const char *status, const char *key)
{
	const char *p = strstr(status, key);
	uint64_t kb = 0;
	if (p && sscanf(p + strlen(key), " %" SCNu64, &kb) != 1)
		kb = 0;
	return kb * 1024;
}

void hs_analysis_print_stats(const struct hs_analysis *a, FILE *out)
{
	static const char *const names[HS_NPHASES] = {
		"open core and modules", "walk allocator", "scan for evidence",
		"mark reachable", "classify and count", "leaks", "retained sizes",
	};
	char buf[4096] = "";
	FILE *f = fopen("/proc/self/status", "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
	}
	char b1[32], b2[32], b3[32];
	double total = 0;
	for (int i = 0; i < HS_NPHASES; i++) {
		fprintf(out, "heapscope: %-22s %8.3f s\n", names[i], a->phase_seconds[i]);
		total += a->phase_seconds[i];
	}
	fprintf(out, "heapscope: %-22s %8.3f s, %" PRIu64 " chunks\n", "total", total,
		a->heap ? a->heap->nchunks : 0);
	if (a->heap) {
		uint64_t span = hs_heap_span(a->heap), store = hs_heap_store_bytes(a->heap);
		fprintf(out, "heapscope: heap %s in chunks (\"heap bytes\"); chunk store %s, "
			"%.2f bytes a chunk; bound 64 MiB + heap/64 = %s\n",
			hs_format_bytes(span, b1, sizeof(b1)), hs_format_bytes(store, b2, sizeof(b2)),
			a->heap->nchunks ? (double)store / (double)a->heap->nchunks : 0.0,
			hs_format_bytes((UINT64_C(64) << 20) + span / 64, b3, sizeof(b3)));
	}
	if (a->retained_bytes)
		fprintf(out, "heapscope: dominator tree %s (retained sizes; --retained-limit)\n",
			hs_format_bytes(a->retained_bytes, b1, sizeof(b1)));
	fprintf(out, "heapscope: memory: peak RSS %s; now anonymous %s, file-backed %s\n",
		hs_format_bytes(hs_status_kb(buf, "VmHWM:"), b1, sizeof(b1)),
		hs_format_bytes(hs_status_kb(buf, "RssAnon:"), b2, sizeof(b2)),
		hs_format_bytes(hs_status_kb(buf, "RssFile:"), b3, sizeof(b3)));
}

void hs_analysis_destroy(struct hs_analysis *a)
{
	if (!a)
		return;
	hs_report_deinit(&a->report);
	hs_refgraph_destroy(a->graph);
	hs_classifier_destroy(a->classifier);
	hs_progress_destroy(a->progress);
	hs_heap_destroy(a->heap);
	hs_process_destroy(a->proc);
	free(a);
}
