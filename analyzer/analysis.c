/* analysis.c: from a core file to a report: open, walk, count. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

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

/*
 * Size-class counting: an open-addressing table keyed by size. A heap has
 * few distinct sizes (hundreds) but tens of millions of chunks, so this stays
 * in cache while the chunk array streams past once.
 */
struct hs_size_table {
	struct hs_report_size_class *slots;
	size_t cap, used;
};

static bool hs_size_table_add(struct hs_size_table *t, uint64_t size)
{
	if ((t->used + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 1024;
		struct hs_report_size_class *ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return false;
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->slots[i].count)
				continue;
			size_t h = (t->slots[i].size * 0x9e3779b97f4a7c15ull) >> 20;
			while (ns[h & (ncap - 1)].count)
				h++;
			ns[h & (ncap - 1)] = t->slots[i];
		}
		free(t->slots);
		t->slots = ns;
		t->cap = ncap;
	}
	size_t h = (size * 0x9e3779b97f4a7c15ull) >> 20;
	for (;; h++) {
		struct hs_report_size_class *s = &t->slots[h & (t->cap - 1)];
		if (!s->count) {
			s->size = size;
			s->count = 1;
			s->bytes = size;
			t->used++;
			return true;
		}
		if (s->size == size) {
			s->count++;
			s->bytes += size;
			return true;
		}
	}
}

static int hs_cmp_size_class(const void *a, const void *b)
{
	const struct hs_report_size_class *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->size < y->size ? -1 : x->size > y->size;
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
	for (size_t i = 0; i < proc->mem.count; i++) {
		mem->mapped += proc->mem.ranges[i].memsz;
		mem->dumped += proc->mem.ranges[i].filesz;
	}
	for (size_t i = 0; i < proc->nmodules; i++)
		mem->modules += proc->modules[i].end - proc->modules[i].start;
	for (size_t i = 0; i < heap->nregions; i++)
		if (!hs_report_add_region(r, heap->regions[i].kind, 1, heap->regions[i].size))
			return HS_ENOMEM;

	struct hs_size_table table = {0};
	for (size_t i = 0; i < heap->nchunks; i++) {
		const struct hs_chunk *c = &heap->chunks[i];
		uint64_t size = hs_chunk_size(c);
		enum hs_chunk_state st = hs_chunk_state(c);
		r->totals[st].count++;
		r->totals[st].bytes += size;
		mem->chunks += size;
		if (hs_chunk_flags(c) & HS_CHUNK_F_METADATA) {
			r->metadata.count++;
			r->metadata.bytes += size;
			continue;
		}
		if (st == HS_CHUNK_IN_USE && !hs_size_table_add(&table, size)) {
			free(table.slots);
			return HS_ENOMEM;
		}
	}
	size_t n = 0;
	for (size_t i = 0; i < table.cap; i++)
		if (table.slots[i].count)
			table.slots[n++] = table.slots[i];
	if (n) /* no chunk in use: slots is NULL, and qsort(NULL) is UB */
		qsort(table.slots, n, sizeof(*table.slots), hs_cmp_size_class);
	r->size_classes = table.slots;
	r->nsize_classes = n;

	if (!hs_report_add_diags(r, &proc->diags) ||
	    !hs_report_add_diags(r, &heap->diags))
		return HS_ENOMEM;
	return NULL;
}

static double hs_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct hs_error *hs_analysis_run(const char *core_path,
				 const struct hs_analyze_options *opts,
				 struct hs_analysis **ret)
{
	struct hs_analysis *a = calloc(1, sizeof(*a));
	if (!a)
		return HS_ENOMEM;
	hs_report_init(&a->report);
	struct hs_process_options popts = {
		.sysroot = opts->sysroot,
		.exe = opts->exe,
		.no_debuginfo = opts->no_debuginfo,
	};
	double t0 = hs_now(), t1;
	struct hs_error *err = hs_process_open(core_path, &popts, &a->proc);
	t1 = hs_now();
	a->phase_seconds[HS_PHASE_OPEN] = t1 - t0;
	if (!err) {
		struct hs_walk_options wopts = {
			.no_debuginfo = opts->no_debuginfo,
			.allocator = opts->allocator,
		};
		err = hs_heapwalk_run(a->proc, &wopts, &a->heap);
		t0 = hs_now();
		a->phase_seconds[HS_PHASE_WALK] = t0 - t1;
	}
	if (!err) {
		err = hs_report_build(&a->report, a->proc, a->heap);
		t1 = hs_now();
		a->phase_seconds[HS_PHASE_COUNT] = t1 - t0;
	}
	if (!err) {
		struct hs_classify_options copts = {.redact = opts->redact};
		err = hs_classify(a->proc, a->heap, &copts, &a->classes);
	}
	if (!err)
		err = hs_classes_report(a->classes, &a->report);
	a->phase_seconds[HS_PHASE_CLASSIFY] = hs_now() - t1;
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
		"open core and modules", "walk allocator", "count", "classify",
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
	fprintf(out, "heapscope: %-22s %8.3f s, %zu chunks\n", "total", total,
		a->heap ? a->heap->nchunks : 0);
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
	hs_classes_destroy(a->classes);
	hs_heap_destroy(a->heap);
	hs_process_destroy(a->proc);
	free(a);
}
