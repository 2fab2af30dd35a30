/* json_read.c: read a heapscope-report/1 JSON document back into the report model. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "formats.h"

/*
 * A saved report is input like a core: it may be truncated, hand-edited, of
 * another schema, or hostile. Everything here is bounded before it is
 * allocated: the file size, then the number of JSON values (counted in one
 * pass over the text before jansson builds its tree, because jansson's tree
 * costs tens of bytes per value), then every array we copy.
 */
#define HS_JR_MAX_FILE (256u << 20)  /* bytes of JSON text */
#define HS_JR_MAX_VALUES (1u << 22)  /* JSON values in the whole document */
#define HS_JR_MAX_ROWS (1u << 22)    /* rows in one table (size classes, types) */
#define HS_JR_MAX_SMALL (1u << 16)   /* modules, stats, examples, samples */

struct hs_jr {
	const char *file;
	struct hs_error *err;
};

/* Copy untrusted text (at most len - 4 bytes) into a message, control
 * characters replaced, so that an error stays one line. */
static const char *hs_jr_clean(const char *s, char *buf, size_t len)
{
	size_t n = 0;
	for (; s && *s && n + 4 < len; s++)
		buf[n++] = *s == '"' ? '\'' : ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	if (s && *s && n + 4 >= len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = 0;
	return buf;
}

/* Record the first error: "<file>: <what>". Later ones are consequences. */
static bool hs_jr_fail(struct hs_jr *c, enum hs_error_code code, const char *fmt, ...)
	HS_PRINTF(3, 4);
static bool hs_jr_fail(struct hs_jr *c, enum hs_error_code code, const char *fmt, ...)
{
	if (c->err)
		return false;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->err = hs_error_create(code, "%s: %s", c->file, msg);
	if (!c->err)
		c->err = HS_ENOMEM;
	return false;
}

static bool hs_jr_bad(struct hs_jr *c, const char *where, const char *what)
{
	return hs_jr_fail(c, HS_ERR_FORMAT, "not a valid heapscope report: %s: %s",
			  *where ? where : "top level", what);
}

/* "where.key", or "key" at the top level: the JSON path named in messages. */
static const char *hs_jr_path(char *buf, size_t len, const char *where, const char *key)
{
	snprintf(buf, len, "%s%s%s", where, *where ? "." : "", key);
	return buf;
}

/* Read the whole file, at most HS_JR_MAX_FILE bytes. */
static bool hs_jr_slurp(struct hs_jr *c, char **ret, size_t *retlen)
{
	int fd = open(c->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		c->err = hs_error_errno("open", c->file);
		return false;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		c->err = hs_error_errno("fstat", c->file);
		close(fd);
		return false;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > HS_JR_MAX_FILE) {
		close(fd);
		return hs_jr_fail(c, HS_ERR_FORMAT,
				  "report too large (%" PRIu64 " bytes, the limit is %u MiB)",
				  (uint64_t)st.st_size, HS_JR_MAX_FILE >> 20);
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (!hs_grow((void **)&buf, &cap, len + 65536, 1)) {
			free(buf);
			close(fd);
			c->err = HS_ENOMEM;
			return false;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			c->err = hs_error_errno("read", c->file);
			free(buf);
			close(fd);
			return false;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > HS_JR_MAX_FILE) {
			free(buf);
			close(fd);
			return hs_jr_fail(c, HS_ERR_FORMAT, "report too large (over %u MiB)",
					  HS_JR_MAX_FILE >> 20);
		}
	}
	close(fd);
	*ret = buf;
	*retlen = len;
	return true;
}

/*
 * An upper bound on the number of values in a JSON text: every value but the
 * first follows a ',', ':' or '['. Characters inside strings do not count.
 * Malformed text is left for jansson to reject with a position.
 */
static size_t hs_jr_count_values(const char *s, size_t len)
{
	size_t n = 1;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = false;
		} else if (ch == '"') {
			in_string = true;
		} else if (ch == ',' || ch == ':' || ch == '[') {
			n++;
		}
	}
	return n;
}

/* ------------------------------------------------------------ typed getters */

/* A member of `obj` (NULL if absent). `where` names obj for messages. */
static json_t *hs_jr_get(struct hs_jr *c, json_t *obj, const char *where,
			 const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);
	if (!v && required) {
		char msg[128];
		snprintf(msg, sizeof(msg), "missing key \"%s\"", key);
		hs_jr_bad(c, where, msg);
	}
	return v;
}

static json_t *hs_jr_object(struct hs_jr *c, json_t *obj, const char *where,
			    const char *key, bool required)
{
	json_t *v = hs_jr_get(c, obj, where, key, required);
	if (v && !json_is_object(v)) {
		char w[160];
		hs_jr_path(w, sizeof(w), where, key);
		hs_jr_bad(c, w, "expected an object");
		return NULL;
	}
	return v;
}

/* An array of at most `max` elements; *n is its size (0 when absent). */
static json_t *hs_jr_array(struct hs_jr *c, json_t *obj, const char *where,
			   const char *key, bool required, size_t max, size_t *n)
{
	*n = 0;
	json_t *v = hs_jr_get(c, obj, where, key, required);
	if (!v)
		return NULL;
	char w[160];
	hs_jr_path(w, sizeof(w), where, key);
	if (!json_is_array(v)) {
		hs_jr_bad(c, w, "expected an array");
		return NULL;
	}
	if (json_array_size(v) > max) {
		char msg[96];
		snprintf(msg, sizeof(msg), "%zu entries, more than the limit of %zu",
			 json_array_size(v), max);
		hs_jr_bad(c, w, msg);
		return NULL;
	}
	*n = json_array_size(v);
	return v;
}

static bool hs_jr_u64(struct hs_jr *c, json_t *obj, const char *where,
		      const char *key, bool required, uint64_t *ret)
{
	json_t *v = hs_jr_get(c, obj, where, key, required);
	if (!v)
		return !required;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		char w[160];
		hs_jr_path(w, sizeof(w), where, key);
		return hs_jr_bad(c, w, "expected a non-negative integer");
	}
	*ret = (uint64_t)json_integer_value(v);
	return true;
}

static bool hs_jr_i64(struct hs_jr *c, json_t *obj, const char *where,
		      const char *key, bool required, int64_t *ret)
{
	json_t *v = hs_jr_get(c, obj, where, key, required);
	if (!v)
		return !required;
	if (!json_is_integer(v)) {
		char w[160];
		hs_jr_path(w, sizeof(w), where, key);
		return hs_jr_bad(c, w, "expected an integer");
	}
	*ret = json_integer_value(v);
	return true;
}

/* A string copied into *ret; null (when allowed) gives NULL. */
static bool hs_jr_str(struct hs_jr *c, json_t *obj, const char *where,
		      const char *key, bool required, bool nullable, char **ret)
{
	json_t *v = hs_jr_get(c, obj, where, key, required);
	*ret = NULL;
	if (!v || (nullable && json_is_null(v)))
		return !c->err;
	if (!json_is_string(v)) {
		char w[160];
		hs_jr_path(w, sizeof(w), where, key);
		return hs_jr_bad(c, w, nullable ? "expected a string or null"
						 : "expected a string");
	}
	*ret = strdup(json_string_value(v));
	if (!*ret) {
		c->err = HS_ENOMEM;
		return false;
	}
	return true;
}

/* Addresses are strings ("0x7f..."): JSON numbers lose precision past 2^53. */
static bool hs_jr_addr_value(struct hs_jr *c, json_t *v, const char *where,
			     uint64_t *ret)
{
	if (!json_is_string(v) || !hs_parse_u64(json_string_value(v), ret))
		return hs_jr_bad(c, where, "expected an address string (\"0x...\")");
	return true;
}

static bool hs_jr_addr(struct hs_jr *c, json_t *obj, const char *where,
		       const char *key, bool required, bool *present, uint64_t *ret)
{
	json_t *v = hs_jr_get(c, obj, where, key, required);
	if (present)
		*present = v != NULL;
	if (!v)
		return !required;
	char w[160];
	hs_jr_path(w, sizeof(w), where, key);
	return hs_jr_addr_value(c, v, w, ret);
}

/* Allocate a zeroed table of n rows, n already bounded by the caller. */
static void *hs_jr_calloc(struct hs_jr *c, size_t n, size_t elem)
{
	if (!n)
		return NULL;
	void *p = calloc(n, elem);
	if (!p)
		c->err = HS_ENOMEM;
	return p;
}

/* ----------------------------------------------------------------- sections */

static bool hs_jr_core(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	json_t *core = hs_jr_object(c, root, "", "core", true);
	if (!core)
		return false;
	uint64_t threads = 0;
	int64_t captured = -1;
	bool ok = hs_jr_str(c, core, "core", "path", true, true, &r->core_path) &&
		  hs_jr_u64(c, core, "core", "bytes", true, &r->core_bytes) &&
		  hs_jr_i64(c, core, "core", "pid", true, &r->pid) &&
		  hs_jr_str(c, core, "core", "executable", true, true, &r->executable) &&
		  hs_jr_u64(c, core, "core", "threads", true, &threads) &&
		  hs_jr_i64(c, core, "core", "captured_at", false, &captured);
	r->threads = threads;
	/* The model keeps "unknown" as -1; no core predates 1970. */
	r->captured_at = captured >= 0 ? captured : -1;
	return ok;
}

static bool hs_jr_modules(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	size_t n;
	json_t *arr = hs_jr_array(c, root, "", "modules", true, HS_JR_MAX_SMALL, &n);
	if (!arr)
		return !c->err;
	r->modules = hs_jr_calloc(c, n, sizeof(*r->modules));
	if (n && !r->modules)
		return false;
	r->nmodules = n;
	for (size_t i = 0; i < n; i++) {
		char w[48];
		snprintf(w, sizeof(w), "modules[%zu]", i);
		json_t *m = json_array_get(arr, i);
		struct hs_report_module *rm = &r->modules[i];
		if (!json_is_object(m))
			return hs_jr_bad(c, w, "expected an object");
		if (!hs_jr_str(c, m, w, "path", true, true, &rm->path) ||
		    !hs_jr_addr(c, m, w, "base", true, NULL, &rm->base) ||
		    !hs_jr_str(c, m, w, "build_id", true, true, &rm->build_id) ||
		    !hs_jr_str(c, m, w, "symbols", true, false, &rm->symbols))
			return false;
	}
	return true;
}

static bool hs_jr_allocator(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	json_t *a = hs_jr_object(c, root, "", "allocator", true);
	if (!a)
		return false;
	if (!hs_jr_str(c, a, "allocator", "name", true, false, &r->alloc_name) ||
	    !hs_jr_str(c, a, "allocator", "version", true, true, &r->alloc_version) ||
	    !hs_jr_str(c, a, "allocator", "located_by", true, true, &r->located_by) ||
	    !hs_jr_str(c, a, "allocator", "layout", false, true, &r->layout) ||
	    !hs_jr_str(c, a, "allocator", "layout_row", false, true, &r->layout_row) ||
	    !hs_jr_u64(c, a, "allocator", "arenas", true, &r->arenas))
		return false;
	json_t *stats = hs_jr_object(c, a, "allocator", "stats", true);
	if (!stats)
		return false;
	size_t n = json_object_size(stats);
	if (n > HS_JR_MAX_SMALL)
		return hs_jr_bad(c, "allocator.stats", "too many statistics");
	r->stats = hs_jr_calloc(c, n, sizeof(*r->stats));
	if (n && !r->stats)
		return false;
	const char *key;
	json_t *v;
	/* jansson iterates in insertion order, which is the writer's order. */
	json_object_foreach(stats, key, v) {
		if (r->nstats == n)
			break;
		struct hs_report_stat *s = &r->stats[r->nstats];
		if (!hs_jr_u64(c, stats, "allocator.stats", key, true, &s->value))
			return false;
		if (!(s->name = strdup(key))) {
			c->err = HS_ENOMEM;
			return false;
		}
		r->nstats++;
	}
	return true;
}

static bool hs_jr_count(struct hs_jr *c, json_t *obj, const char *where,
			const char *key, bool required, struct hs_report_count *ret)
{
	json_t *v = hs_jr_get(c, obj, where, key, required);
	if (!v)
		return !c->err;
	char w[160];
	hs_jr_path(w, sizeof(w), where, key);
	if (!json_is_object(v))
		return hs_jr_bad(c, w, "expected an object {count, bytes}");
	return hs_jr_u64(c, v, w, "count", true, &ret->count) &&
	       hs_jr_u64(c, v, w, "bytes", true, &ret->bytes);
}

static bool hs_jr_totals(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	json_t *t = hs_jr_object(c, root, "", "totals", true);
	if (!t)
		return false;
	for (int s = 0; s < HS_REPORT_NSTATES; s++)
		if (!hs_jr_count(c, t, "totals", hs_report_state_name(s), true,
				 &r->totals[s]))
			return false;
	return hs_jr_count(c, t, "totals", "metadata", false, &r->metadata);
}

/* memory.regions, the memory table: optional (reports written before it
 * lack it); every row needs kind, virtual and dumped. */
static bool hs_jr_mem_rows(struct hs_jr *c, json_t *m, struct hs_report *r)
{
	size_t n;
	json_t *arr = hs_jr_array(c, m, "memory", "regions", false, HS_JR_MAX_ROWS, &n);
	if (!arr)
		return !c->err;
	for (size_t i = 0; i < n; i++) {
		char w[64];
		snprintf(w, sizeof(w), "memory.regions[%zu]", i);
		json_t *o = json_array_get(arr, i);
		char *kind = NULL, *name = NULL;
		uint64_t bytes = 0, dumped = 0, count = 0;
		if (!json_is_object(o))
			return hs_jr_bad(c, w, "expected an object");
		bool has_count = json_object_get(o, "count") != NULL;
		bool ok = hs_jr_str(c, o, w, "kind", true, false, &kind) &&
			  hs_jr_str(c, o, w, "name", false, false, &name) &&
			  hs_jr_u64(c, o, w, "virtual", true, &bytes) &&
			  hs_jr_u64(c, o, w, "dumped", true, &dumped) &&
			  hs_jr_u64(c, o, w, "count", false, &count);
		if (ok && !hs_report_add_mem_row(r, kind, name, bytes, dumped,
						 has_count, count)) {
			c->err = HS_ENOMEM;
			ok = false;
		}
		free(kind);
		free(name);
		if (!ok)
			return false;
	}
	return true;
}

/* Optional: reports written before the memory section existed lack it. */
static bool hs_jr_memory(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	json_t *m = hs_jr_object(c, root, "", "memory", false);
	if (!m)
		return !c->err;
	struct hs_report_memory *mem = &r->memory;
	if (!hs_jr_u64(c, m, "memory", "mapped", false, &mem->mapped) ||
	    !hs_jr_u64(c, m, "memory", "dumped", false, &mem->dumped) ||
	    !hs_jr_u64(c, m, "memory", "modules", false, &mem->modules) ||
	    !hs_jr_u64(c, m, "memory", "allocator_chunks", false, &mem->chunks) ||
	    !hs_jr_str(c, m, "memory", "core_writer", false, false, &mem->core_writer) ||
	    !hs_jr_str(c, m, "memory", "untouched_pages", false, false,
		       &mem->untouched_pages) ||
	    !hs_jr_str(c, m, "memory", "verdict", false, false, &mem->verdict) ||
	    !hs_jr_mem_rows(c, m, r))
		return false;
	size_t n;
	json_t *arr = hs_jr_array(c, m, "memory", "allocator_regions", false, HS_JR_MAX_ROWS, &n);
	if (!arr)
		return !c->err;
	for (size_t i = 0; i < n; i++) {
		char w[64];
		snprintf(w, sizeof(w), "memory.allocator_regions[%zu]", i);
		json_t *o = json_array_get(arr, i);
		char *kind = NULL;
		struct hs_report_count cb = {0};
		if (!json_is_object(o))
			return hs_jr_bad(c, w, "expected an object");
		if (!hs_jr_str(c, o, w, "kind", true, false, &kind) ||
		    !hs_jr_u64(c, o, w, "count", true, &cb.count) ||
		    !hs_jr_u64(c, o, w, "bytes", true, &cb.bytes)) {
			free(kind);
			return false;
		}
		bool ok = hs_report_add_alloc_region(r, kind, cb.count, cb.bytes);
		free(kind);
		if (!ok) {
			c->err = HS_ENOMEM;
			return false;
		}
	}
	return true;
}

static bool hs_jr_size_classes(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	size_t n;
	json_t *arr = hs_jr_array(c, root, "", "size_classes", true, HS_JR_MAX_ROWS, &n);
	if (!arr)
		return !c->err;
	r->size_classes = hs_jr_calloc(c, n, sizeof(*r->size_classes));
	if (n && !r->size_classes)
		return false;
	r->nsize_classes = n;
	for (size_t i = 0; i < n; i++) {
		char w[48];
		snprintf(w, sizeof(w), "size_classes[%zu]", i);
		json_t *o = json_array_get(arr, i);
		struct hs_report_size_class *sc = &r->size_classes[i];
		if (!json_is_object(o))
			return hs_jr_bad(c, w, "expected an object");
		if (!hs_jr_u64(c, o, w, "size", true, &sc->size) ||
		    !hs_jr_u64(c, o, w, "count", true, &sc->count) ||
		    !hs_jr_u64(c, o, w, "bytes", true, &sc->bytes))
			return false;
	}
	return true;
}

static bool hs_jr_types(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	size_t n;
	json_t *arr = hs_jr_array(c, root, "", "types", false, HS_JR_MAX_ROWS, &n);
	if (!arr)
		return !c->err;
	r->types = hs_jr_calloc(c, n, sizeof(*r->types));
	if (n && !r->types)
		return false;
	r->ntypes = n;
	for (size_t i = 0; i < n; i++) {
		char w[48];
		snprintf(w, sizeof(w), "types[%zu]", i);
		json_t *o = json_array_get(arr, i);
		struct hs_report_type *t = &r->types[i];
		if (!json_is_object(o))
			return hs_jr_bad(c, w, "expected an object");
		if (!hs_jr_str(c, o, w, "name", true, false, &t->name) ||
		    !hs_jr_str(c, o, w, "kind", true, false, &t->kind) ||
		    !hs_jr_u64(c, o, w, "count", true, &t->count) ||
		    !hs_jr_u64(c, o, w, "bytes", true, &t->bytes))
			return false;
		if (json_object_get(o, "leaked")) {
			t->has_leaks = true;
			if (!hs_jr_count(c, o, w, "leaked", true, &t->leaked) ||
			    !hs_jr_count(c, o, w, "direct", true, &t->direct))
				return false;
		}
		if (json_object_get(o, "retained")) {
			t->has_retained = true;
			if (!hs_jr_u64(c, o, w, "retained", true, &t->retained))
				return false;
		}
		json_t *conf = json_object_get(o, "confidence");
		if (conf) {
			if (!json_is_number(conf))
				return hs_jr_bad(c, w, "confidence: expected a number");
			t->has_confidence = true;
			t->confidence = json_number_value(conf);
		}
		size_t ne;
		json_t *ex = hs_jr_array(c, o, w, "examples", false, HS_JR_MAX_SMALL, &ne);
		if (c->err)
			return false;
		t->examples = hs_jr_calloc(c, ne, sizeof(*t->examples));
		if (ne && !t->examples)
			return false;
		t->nexamples = ne;
		for (size_t j = 0; j < ne; j++) {
			char we[80];
			snprintf(we, sizeof(we), "%s.examples[%zu]", w, j);
			if (!hs_jr_addr_value(c, json_array_get(ex, j), we, &t->examples[j]))
				return false;
		}
	}
	return true;
}

/* leaks: the totals and the root counts (per-type figures are in types). */
static bool hs_jr_leaks(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	json_t *l = hs_jr_object(c, root, "", "leaks", false);
	if (!l)
		return !c->err;
	struct hs_report_leaks *lk = &r->leaks;
	lk->present = true;
	if (!hs_jr_count(c, l, "leaks", "leaked", true, &lk->leaked) ||
	    !hs_jr_count(c, l, "leaks", "direct", true, &lk->direct) ||
	    !hs_jr_count(c, l, "leaks", "indirect", true, &lk->indirect))
		return false;
	json_t *roots = hs_jr_object(c, l, "leaks", "roots", false);
	for (int k = 0; roots && k < HS_ROOT_NKINDS; k++)
		if (!hs_jr_u64(c, roots, "leaks.roots", hs_root_kind_name(k), false,
			       &lk->roots[k]))
			return false;
	return !c->err;
}

static bool hs_jr_patterns(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	size_t n;
	json_t *arr = hs_jr_array(c, root, "", "patterns", false, HS_JR_MAX_ROWS, &n);
	if (!arr)
		return !c->err;
	r->patterns = hs_jr_calloc(c, n, sizeof(*r->patterns));
	if (n && !r->patterns)
		return false;
	r->npatterns = n;
	for (size_t i = 0; i < n; i++) {
		char w[48];
		snprintf(w, sizeof(w), "patterns[%zu]", i);
		json_t *o = json_array_get(arr, i);
		struct hs_report_pattern *p = &r->patterns[i];
		if (!json_is_object(o))
			return hs_jr_bad(c, w, "expected an object");
		if (!hs_jr_str(c, o, w, "signature", true, false, &p->signature) ||
		    !hs_jr_u64(c, o, w, "size", true, &p->size) ||
		    !hs_jr_u64(c, o, w, "count", true, &p->count) ||
		    !hs_jr_u64(c, o, w, "bytes", true, &p->bytes) ||
		    !hs_jr_u64(c, o, w, "runs", false, &p->runs))
			return false;
		size_t ns;
		json_t *sa = hs_jr_array(c, o, w, "samples", false, HS_JR_MAX_SMALL, &ns);
		if (c->err)
			return false;
		p->samples = hs_jr_calloc(c, ns, sizeof(*p->samples));
		if (ns && !p->samples)
			return false;
		p->nsamples = ns;
		for (size_t j = 0; j < ns; j++) {
			char ws[80];
			snprintf(ws, sizeof(ws), "%s.samples[%zu]", w, j);
			json_t *s = json_array_get(sa, j);
			if (!json_is_object(s))
				return hs_jr_bad(c, ws, "expected an object");
			if (!hs_jr_addr(c, s, ws, "address", true, NULL,
					&p->samples[j].address) ||
			    !hs_jr_str(c, s, ws, "hex", false, true, &p->samples[j].hex))
				return false;
		}
	}
	return true;
}

static bool hs_jr_diags(struct hs_jr *c, json_t *root, struct hs_report *r)
{
	size_t n;
	json_t *arr = hs_jr_array(c, root, "", "diagnostics", true, HS_JR_MAX_ROWS, &n);
	if (!arr)
		return !c->err;
	r->diags = hs_jr_calloc(c, n, sizeof(*r->diags));
	if (n && !r->diags)
		return false;
	r->ndiags = n;
	for (size_t i = 0; i < n; i++) {
		char w[48];
		snprintf(w, sizeof(w), "diagnostics[%zu]", i);
		json_t *o = json_array_get(arr, i);
		struct hs_report_diag *d = &r->diags[i];
		if (!json_is_object(o))
			return hs_jr_bad(c, w, "expected an object");
		if (!hs_jr_str(c, o, w, "severity", true, false, &d->severity) ||
		    !hs_jr_str(c, o, w, "message", true, false, &d->message) ||
		    !hs_jr_addr(c, o, w, "address", false, &d->has_address, &d->address))
			return false;
	}
	return hs_jr_u64(c, root, "", "diagnostics_dropped", false, &r->diags_dropped);
}

static bool hs_jr_schema(struct hs_jr *c, json_t *root)
{
	if (!json_is_object(root))
		return hs_jr_fail(c, HS_ERR_FORMAT,
				  "not a heapscope report: the document is not a JSON object");
	json_t *s = json_object_get(root, "schema");
	if (!s)
		return hs_jr_fail(c, HS_ERR_FORMAT,
				  "not a heapscope report: no \"schema\" key (expected \"%s\")",
				  HS_REPORT_SCHEMA);
	char buf[64];
	if (!json_is_string(s))
		return hs_jr_fail(c, HS_ERR_FORMAT,
				  "not a heapscope report: \"schema\" is not a string "
				  "(expected \"%s\")",
				  HS_REPORT_SCHEMA);
	if (strcmp(json_string_value(s), HS_REPORT_SCHEMA) != 0)
		return hs_jr_fail(c, HS_ERR_FORMAT,
				  "unsupported schema \"%s\" (expected \"%s\")",
				  hs_jr_clean(json_string_value(s), buf, sizeof(buf)),
				  HS_REPORT_SCHEMA);
	return true;
}

struct hs_error *hs_report_read_json(const char *path, struct hs_report *ret)
{
	struct hs_jr c = {.file = path};
	char *text = NULL;
	size_t len = 0;
	if (!hs_jr_slurp(&c, &text, &len))
		return c.err;

	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' ||
			   text[i] == '\n'))
		i++;
	if (i == len) {
		free(text);
		hs_jr_fail(&c, HS_ERR_FORMAT, "empty file (expected a %s JSON document)",
			   HS_REPORT_SCHEMA);
		return c.err;
	}
	size_t nvalues = hs_jr_count_values(text, len);
	if (nvalues > HS_JR_MAX_VALUES) {
		free(text);
		hs_jr_fail(&c, HS_ERR_FORMAT,
			   "report too large (about %zu JSON values, the limit is %u)",
			   nvalues, HS_JR_MAX_VALUES);
		return c.err;
	}

	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!root) {
		char buf[120];
		enum json_error_code code = json_error_code(&jerr);
		if (code == json_error_out_of_memory)
			return HS_ENOMEM;
		hs_jr_fail(&c, HS_ERR_FORMAT, "%s JSON at line %d, column %d: %s",
			   code == json_error_premature_end_of_input ? "truncated"
								     : "invalid",
			   jerr.line, jerr.column, hs_jr_clean(jerr.text, buf, sizeof(buf)));
		return c.err;
	}

	struct hs_report r;
	hs_report_init(&r);
	bool ok = hs_jr_schema(&c, root) && hs_jr_core(&c, root, &r) &&
		  hs_jr_modules(&c, root, &r) && hs_jr_allocator(&c, root, &r) &&
		  hs_jr_totals(&c, root, &r) && hs_jr_memory(&c, root, &r) &&
		  hs_jr_size_classes(&c, root, &r) &&
		  hs_jr_types(&c, root, &r) && hs_jr_leaks(&c, root, &r) &&
		  hs_jr_patterns(&c, root, &r) &&
		  hs_jr_diags(&c, root, &r);
	json_decref(root);
	if (!ok || c.err) {
		hs_report_deinit(&r);
		return c.err ? c.err : HS_ENOMEM;
	}
	*ret = r;
	return NULL;
}
