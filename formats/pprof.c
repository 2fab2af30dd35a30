/* pprof.c: the report as a gzipped pprof profile (profile.proto), one "stack" per type. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "formats.h"

/*
 * The encoder is hand-written: profile.proto needs only varints and
 * length-delimited fields, about a hundred lines, where protobuf-c would add
 * a code generator to the build and a copy of Google's .proto file to the
 * repository for the same bytes. Field numbers are those of
 * github.com/google/pprof proto/profile.proto.
 */
enum {
	PB_PROFILE_SAMPLE_TYPE = 1, PB_PROFILE_SAMPLE = 2, PB_PROFILE_MAPPING = 3,
	PB_PROFILE_LOCATION = 4,
	PB_PROFILE_FUNCTION = 5, PB_PROFILE_STRING_TABLE = 6, PB_PROFILE_TIME_NANOS = 9,
	PB_PROFILE_PERIOD_TYPE = 11, PB_PROFILE_PERIOD = 12, PB_PROFILE_COMMENT = 13,
	PB_PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	PB_VALUE_TYPE_TYPE = 1, PB_VALUE_TYPE_UNIT = 2,
	PB_SAMPLE_LOCATION_ID = 1, PB_SAMPLE_VALUE = 2,
	PB_MAPPING_ID = 1, PB_MAPPING_FILENAME = 5, PB_MAPPING_BUILD_ID = 6,
	PB_MAPPING_HAS_FUNCTIONS = 7,
	PB_LOCATION_ID = 1, PB_LOCATION_MAPPING_ID = 2, PB_LOCATION_LINE = 4,
	PB_LINE_FUNCTION_ID = 1,
	PB_FUNCTION_ID = 1, PB_FUNCTION_NAME = 2, PB_FUNCTION_SYSTEM_NAME = 3,
};
enum { PB_VARINT = 0, PB_LEN = 2 };

struct pb_buf {
	uint8_t *p;
	size_t n, cap;
	bool failed; /* out of memory: every later append is a no-op */
};

static void pb_bytes(struct pb_buf *b, const void *p, size_t n)
{
	if (b->failed || !n)
		return;
	if (!hs_grow((void **)&b->p, &b->cap, b->n + n, 1)) {
		b->failed = true;
		return;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void pb_varint(struct pb_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	do {
		tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	pb_bytes(b, tmp, n);
}

static void pb_key(struct pb_buf *b, unsigned field, unsigned wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

/* A varint field; proto3 leaves zero values out. */
static void pb_uint(struct pb_buf *b, unsigned field, uint64_t v)
{
	if (!v)
		return;
	pb_key(b, field, PB_VARINT);
	pb_varint(b, v);
}

static void pb_len(struct pb_buf *b, unsigned field, const void *p, size_t n)
{
	pb_key(b, field, PB_LEN);
	pb_varint(b, n);
	pb_bytes(b, p, n);
}

/* Append sub (an encoded message) as field `field` of b, and empty sub. */
static void pb_message(struct pb_buf *b, unsigned field, struct pb_buf *sub)
{
	if (sub->failed)
		b->failed = true;
	pb_len(b, field, sub->p, sub->n);
	sub->n = 0;
}

/*
 * The string table: pprof refers to every string by its index, and index 0
 * must be "". Strings are few (a few per type), so a linear search for a
 * repeat (kind and allocator names) is cheap enough.
 */
struct pb_strings {
	char **s; /* owned copies */
	size_t n, cap;
	bool failed;
};

static uint64_t pb_string(struct pb_strings *t, const char *s)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->s[i], s))
			return i;
	char *copy = strdup(s);
	if (!copy || !hs_grow((void **)&t->s, &t->cap, t->n + 1, sizeof(*t->s))) {
		free(copy);
		t->failed = true;
		return 0;
	}
	t->s[t->n] = copy;
	return t->n++;
}

/*
 * One frame of a stack: a function named `name` and a location holding it,
 * with the same id (frames are never shared between levels, so the kind
 * "vtable" under glibc and the type "vtable" could not collide).
 */
static uint64_t pb_frame(struct pb_buf *prof, struct pb_buf *tmp, struct pb_buf *tmp2,
			 struct pb_strings *st, uint64_t *next_id, const char *name)
{
	uint64_t id = (*next_id)++;
	/*
	 * pprof shortens C++ names for display, dropping <template arguments>
	 * and (parameter lists): "std::map/set node <proxy::CacheEntry*>"
	 * would show as "std::map/set node" and merge with its siblings. The
	 * profile says [ ] instead.
	 */
	char shown[1024];
	size_t n = 0;
	for (; name[n] && n + 1 < sizeof(shown); n++)
		shown[n] = name[n] == '<' || name[n] == '(' ? '['
			 : name[n] == '>' || name[n] == ')' ? ']' : name[n];
	shown[n] = 0;
	uint64_t sname = pb_string(st, shown);
	pb_uint(tmp, PB_FUNCTION_ID, id);
	pb_uint(tmp, PB_FUNCTION_NAME, sname);
	pb_uint(tmp, PB_FUNCTION_SYSTEM_NAME, sname);
	pb_message(prof, PB_PROFILE_FUNCTION, tmp);
	pb_uint(tmp2, PB_LINE_FUNCTION_ID, id);
	pb_uint(tmp, PB_LOCATION_ID, id);
	pb_uint(tmp, PB_LOCATION_MAPPING_ID, 1);
	pb_message(tmp, PB_LOCATION_LINE, tmp2);
	pb_message(prof, PB_PROFILE_LOCATION, tmp);
	return id;
}

static void pb_value_type(struct pb_buf *prof, unsigned field, struct pb_buf *tmp,
			  struct pb_strings *st, const char *type, const char *unit)
{
	pb_uint(tmp, PB_VALUE_TYPE_TYPE, pb_string(st, type));
	pb_uint(tmp, PB_VALUE_TYPE_UNIT, pb_string(st, unit));
	pb_message(prof, field, tmp);
}

/* One sample: a stack of three frames (leaf first, as pprof wants) and its
 * values; signed in the proto, and no count reaches 2^63. */
static void pb_sample(struct pb_buf *prof, struct pb_buf *tmp, const uint64_t stack[3],
		      const uint64_t *values, size_t nvalues)
{
	for (size_t i = 0; i < 3; i++) {
		pb_key(tmp, PB_SAMPLE_LOCATION_ID, PB_VARINT);
		pb_varint(tmp, stack[i]);
	}
	for (size_t i = 0; i < nvalues; i++) {
		pb_key(tmp, PB_SAMPLE_VALUE, PB_VARINT);
		pb_varint(tmp, values[i] > INT64_MAX ? INT64_MAX : values[i]);
	}
	pb_message(prof, PB_PROFILE_SAMPLE, tmp);
}

static struct hs_error *hs_pprof_encode(const struct hs_report *r, struct pb_buf *prof)
{
	struct pb_buf tmp = {0}, tmp2 = {0};
	struct pb_strings st = {0};
	pb_string(&st, "");
	const char *alloc = r->alloc_name ? r->alloc_name : "allocator";

	/* Once the report carries leak verdicts, two more value columns. */
	bool leaks = hs_report_has_leaks(r);
	pb_value_type(prof, PB_PROFILE_SAMPLE_TYPE, &tmp, &st, "inuse_objects", "count");
	pb_value_type(prof, PB_PROFILE_SAMPLE_TYPE, &tmp, &st, "inuse_space", "bytes");
	if (leaks) {
		pb_value_type(prof, PB_PROFILE_SAMPLE_TYPE, &tmp, &st, "leaked_objects", "count");
		pb_value_type(prof, PB_PROFILE_SAMPLE_TYPE, &tmp, &st, "leaked_space", "bytes");
	}
	pb_value_type(prof, PB_PROFILE_PERIOD_TYPE, &tmp, &st, "space", "bytes");
	pb_uint(prof, PB_PROFILE_PERIOD, 1);
	if (r->captured_at > 0)
		pb_uint(prof, PB_PROFILE_TIME_NANOS, (uint64_t)r->captured_at * 1000000000u);

	/*
	 * One mapping, the main executable, marked as having its functions
	 * already: the frames are names, not addresses, and pprof must not
	 * look for a binary to symbolize them with.
	 */
	const char *exe = r->executable ? r->executable : "";
	const char *build_id = "";
	for (size_t i = 0; i < r->nmodules; i++)
		if (r->modules[i].path && !strcmp(r->modules[i].path, exe) &&
		    r->modules[i].build_id)
			build_id = r->modules[i].build_id;
	pb_uint(&tmp, PB_MAPPING_ID, 1);
	pb_uint(&tmp, PB_MAPPING_FILENAME, pb_string(&st, exe));
	pb_uint(&tmp, PB_MAPPING_BUILD_ID, pb_string(&st, build_id));
	pb_uint(&tmp, PB_MAPPING_HAS_FUNCTIONS, 1);
	pb_message(prof, PB_PROFILE_MAPPING, &tmp);

	uint64_t next_id = 1;
	uint64_t alloc_id = pb_frame(prof, &tmp, &tmp2, &st, &next_id, alloc);
	/* One location per kind, found again by name: kinds are few. */
	const char *kinds[16];
	uint64_t kind_ids[16];
	size_t nkinds = 0;
	for (size_t i = 0; i <= r->ntypes; i++) {
		const char *kind, *name;
		uint64_t v[4] = {0};
		if (i < r->ntypes) {
			const struct hs_report_type *t = &r->types[i];
			kind = t->kind;
			name = t->name;
			v[0] = t->count;
			v[1] = t->bytes;
			hs_report_type_leaked(r, i, &v[2], &v[3]);
		} else if (r->metadata.count) {
			/* So that inuse_space sums to totals.in_use exactly. */
			kind = "metadata";
			name = "allocator metadata";
			v[0] = r->metadata.count;
			v[1] = r->metadata.bytes;
		} else {
			break;
		}
		uint64_t kind_id = 0;
		for (size_t k = 0; k < nkinds; k++)
			if (!strcmp(kinds[k], kind))
				kind_id = kind_ids[k];
		if (!kind_id) {
			kind_id = pb_frame(prof, &tmp, &tmp2, &st, &next_id, kind);
			if (nkinds < HS_ARRAY_SIZE(kinds)) {
				kinds[nkinds] = kind;
				kind_ids[nkinds++] = kind_id;
			}
		}
		uint64_t stack[3] = {pb_frame(prof, &tmp, &tmp2, &st, &next_id, name), kind_id,
				     alloc_id};
		pb_sample(prof, &tmp, stack, v, leaks ? 4 : 2);
	}

	char comment[512];
	snprintf(comment, sizeof(comment), "heapscope %s: %s, pid %lld, %s %s", HS_VERSION,
		 r->core_path ? r->core_path : "-", (long long)r->pid, alloc,
		 r->alloc_version ? r->alloc_version : "");
	pb_uint(prof, PB_PROFILE_COMMENT, pb_string(&st, comment));
	pb_uint(prof, PB_PROFILE_DEFAULT_SAMPLE_TYPE, pb_string(&st, "inuse_space"));
	for (size_t i = 0; i < st.n; i++)
		pb_len(prof, PB_PROFILE_STRING_TABLE, st.s[i], strlen(st.s[i]));

	bool failed = tmp.failed || tmp2.failed || st.failed || prof->failed;
	free(tmp.p);
	free(tmp2.p);
	for (size_t i = 0; i < st.n; i++)
		free(st.s[i]);
	free(st.s);
	return failed ? HS_ENOMEM : NULL;
}

static struct hs_error *hs_pprof_write_error(const char *where)
{
	return hs_error_create(HS_ERR_IO, "%s: write failed: %s", where, strerror(errno));
}

/* gzip (deflate with a gzip header: windowBits 15 + 16), as pprof expects. */
static struct hs_error *hs_pprof_gzip(const uint8_t *p, size_t n, FILE *out,
				      const char *where)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return HS_ENOMEM;
	uint8_t buf[65536];
	struct hs_error *err = NULL;
	zs.next_in = (Bytef *)p;
	int rc;
	do {
		/* deflate's avail_in is 32 bits: feed a large profile in pieces. */
		if (!zs.avail_in) {
			size_t done = (size_t)(zs.next_in - p);
			size_t left = n - done;
			zs.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
		}
		bool last = (size_t)(zs.next_in - p) + zs.avail_in == n;
		zs.next_out = buf;
		zs.avail_out = sizeof(buf);
		rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
		if (rc == Z_STREAM_ERROR) {
			err = hs_error_create(HS_ERR_OTHER, "%s: deflate failed", where);
			break;
		}
		size_t have = sizeof(buf) - zs.avail_out;
		if (have && fwrite(buf, 1, have, out) != have) {
			err = hs_pprof_write_error(where);
			break;
		}
	} while (rc != Z_STREAM_END);
	deflateEnd(&zs);
	if (!err && (fflush(out) != 0 || ferror(out)))
		err = hs_pprof_write_error(where);
	return err;
}

struct hs_error *hs_report_write_pprof(const struct hs_report *r, FILE *out,
				       const char *where)
{
	struct pb_buf prof = {0};
	struct hs_error *err = hs_pprof_encode(r, &prof);
	if (!err)
		err = hs_pprof_gzip(prof.p, prof.n, out, where);
	free(prof.p);
	return err;
}
