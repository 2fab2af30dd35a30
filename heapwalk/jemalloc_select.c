/* jemalloc_select.c: the jemalloc 5.x walker: its row, or the row that reconciles. */
#include <stdio.h>
#include <string.h>

#include "jemalloc4_internal.h"
#include "jemalloc_internal.h"
#include "layout_try.h"
#include "walkers.h"

static bool je_detect(struct hs_process *proc)
{
	return hs_jemalloc_module(proc, NULL) != NULL;
}

static void je_set_layout(struct hs_heap *heap, const struct hs_je_layout *L,
			  const struct hs_je_globals *g, const char *version,
			  enum hs_layout_status status)
{
	snprintf(heap->version, sizeof(heap->version), "%s", version);
	snprintf(heap->layout_row, sizeof(heap->layout_row), "%s", L->version);
	heap->layout = status;
	hs_diags_add(&heap->diags, HS_DIAG_INFO, false, 0,
		     "jemalloc: configuration read from the process: %u size classes"
		     " (%u small), LG_QUANTUM %u, LG_PAGE %u, LG_VADDR %u",
		     L->nsizes, L->nbins, g->lg_quantum, L->lg_page, g->lg_vaddr);
}

/* The version a report names: the release ("5.3.0" for "5.3.0-0-g54ea..."
 * or Redis's "5.3.0-0-g0"), or a git build's whole describe string. */
static void je_version_name(const struct hs_je_ident *id, char *buf, size_t cap)
{
	struct hs_je_version v;
	if (hs_je_version_parse(id->version, &v) && !v.commits)
		snprintf(buf, cap, "%u.%u.%u", v.major, v.minor, v.patch);
	else
		snprintf(buf, cap, "%s", id->version);
}

/* The rows to try on a build with no row of its own, nearest first: for a
 * known version, by distance from it (older before newer at equal
 * distance, since layouts grow by appending); otherwise newest first. */
static size_t je_candidates(const struct hs_je_ident *id, const struct hs_je_layout **out,
			    size_t cap)
{
	size_t n;
	const struct hs_je_layout *rows = hs_je_layout_rows(&n);
	struct hs_je_version v;
	bool known = hs_je_version_parse(id->version, &v);
	size_t k = 0;
	for (size_t i = 0; i < n && k < cap; i++)
		out[k++] = &rows[i];
	if (!known)
		return k;
	/* Distance in (major, minor, patch) steps; insertion sort, k is tiny. */
	uint64_t key[16];
	for (size_t i = 0; i < k && i < 16; i++) {
		struct hs_je_version r;
		if (!hs_je_version_parse(out[i]->version, &r)) {
			key[i] = UINT64_MAX;
			continue;
		}
		/* commits after a tag count as steps past it (capped) */
		int64_t a = (((int64_t)v.major * 1000 + v.minor) * 1000 + v.patch) * 100000 +
			    (int64_t)(v.commits < 99999 ? v.commits : 99999);
		int64_t b = (((int64_t)r.major * 1000 + r.minor) * 1000 + r.patch) * 100000 +
			    (int64_t)(r.commits < 99999 ? r.commits : 99999);
		key[i] = 2 * (uint64_t)(a > b ? a - b : b - a) + (b > a);
	}
	for (size_t i = 1; i < k && i < 16; i++)
		for (size_t j = i; j > 0 && key[j] < key[j - 1]; j--) {
			uint64_t t = key[j];
			key[j] = key[j - 1];
			key[j - 1] = t;
			const struct hs_je_layout *x = out[j];
			out[j] = out[j - 1];
			out[j - 1] = x;
		}
	return k;
}

/* One try of `row` into a scratch heap: NULL and the number of error
 * diagnostics (with the first) if the walk ran, else the error. */
static struct hs_error *je_try(struct hs_process *proc, const struct hs_walk_options *opts,
			       const struct hs_je_ident *id, const struct hs_je_layout *row,
			       size_t *nerrors, char *first, size_t cap)
{
	struct hs_heap *scratch;
	struct hs_error *err = hs_heap_create(&scratch);
	if (err)
		return err;
	struct hs_je_layout L;
	struct hs_je_globals g;
	err = hs_jemalloc_locate_row(proc, opts, id, row, scratch, &L, &g);
	if (!err)
		err = hs_jemalloc_walk_at(proc, &L, &g, scratch);
	if (!err) {
		*nerrors = hs_layout_try_errors(scratch, first, cap);
		if (!scratch->nchunks && !*nerrors) {
			*nerrors = 1;
			snprintf(first, cap, "the walk found no chunk");
		}
	}
	hs_heap_destroy(scratch);
	return err;
}

static struct hs_error *je_walk(struct hs_process *proc,
				const struct hs_walk_options *opts,
				struct hs_heap *heap)
{
	/* jemalloc 4 is another allocator inside (chunks and page runs, no
	 * extents): its own walker (jemalloc4*.c), which also gets a version
	 * no 5.x row reconciles with when the binary does not say which. */
	if (hs_jemalloc4_claims(proc))
		return hs_jemalloc4_walk(proc, opts, heap);
	struct hs_je_ident id;
	hs_jemalloc_identify(proc, heap, &id);
	struct hs_error *err = hs_jemalloc_check_ident(&id);
	if (err)
		return err;
	char version[96];
	je_version_name(&id, version, sizeof(version));
	struct hs_je_layout L;
	struct hs_je_globals g;
	if (id.row) {
		if ((err = hs_jemalloc_locate_row(proc, opts, &id, id.row, heap, &L, &g)))
			return err;
		je_set_layout(heap, &L, &g, version, id.row->verified ? HS_LAYOUT_VERIFIED
								 : HS_LAYOUT_FROM_SOURCE);
		return hs_jemalloc_walk_at(proc, &L, &g, heap);
	}
	/*
	 * No row for this version: try the neighbouring rows, and accept the
	 * first whose walk reconciles with jemalloc's own counters in the core
	 * (bin curregs and curslabs, large nmalloc - ndalloc, nactive, the
	 * tcache descriptors: each disagreement is an error diagnostic).
	 */
	const struct hs_je_layout *cands[16];
	size_t ncands = je_candidates(&id, cands, HS_ARRAY_SIZE(cands));
	struct hs_layout_try tries = {0};
	for (size_t i = 0; i < ncands; i++) {
		size_t nerrors = 0;
		char first[256] = "";
		err = je_try(proc, opts, &id, cands[i], &nerrors, first, sizeof(first));
		if (err == HS_ENOMEM)
			return err;
		if (err) {
			/* The refusal names the module once. */
			const char *why = err->message;
			size_t mlen = strlen(id.mod->name);
			if (!strncmp(why, id.mod->name, mlen) && !strncmp(why + mlen, ": ", 2))
				why += mlen + 2;
			hs_layout_try_note(&tries, cands[i]->version, "%s", why);
			hs_error_destroy(err);
			continue;
		}
		if (nerrors) {
			hs_layout_try_note(&tries, cands[i]->version, "%zu error%s (%s)",
					   nerrors, nerrors == 1 ? "" : "s", first);
			continue;
		}
		if ((err = hs_jemalloc_locate_row(proc, opts, &id, cands[i], heap, &L, &g)))
			return err;
		je_set_layout(heap, &L, &g, version[0] ? version : "unknown",
			      HS_LAYOUT_INFERRED);
		hs_diags_add(&heap->diags, HS_DIAG_WARNING, false, 0,
			     "jemalloc %s in %s has no layout row; the %s row reconciles"
			     " with its counters and is used (layout inferred)",
			     id.version[0] ? id.version : "of unknown version", id.mod->name,
			     cands[i]->version);
		return hs_jemalloc_walk_at(proc, &L, &g, heap);
	}
	char rows[256];
	hs_je_layout_names(rows, sizeof(rows));
	return hs_jemalloc4_after_5x(proc, opts, heap,
				     hs_layout_try_refuse(&tries, id.mod->name, "jemalloc",
							  id.version, rows));
}

const struct hs_walker hs_jemalloc_walker = {
	.name = "jemalloc",
	.detect = je_detect,
	.walk = je_walk,
};
