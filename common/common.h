/* common.h: the error object, diagnostics and small helpers every layer shares. */
#ifndef HS_COMMON_H
#define HS_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_VERSION "0.1.0"

#if defined(__GNUC__)
#define HS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define HS_MUST_CHECK __attribute__((warn_unused_result))
#else
#define HS_PRINTF(fmt, args)
#define HS_MUST_CHECK
#endif

#define HS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Error codes. They decide the process exit status in the CLI: HS_ERR_USAGE
 * maps to 64, everything else that stops an analysis maps to 2.
 */
enum hs_error_code {
	HS_ERR_NOMEM = 1,
	HS_ERR_IO,          /* open/read/mmap of an input failed */
	HS_ERR_FORMAT,      /* input is not what it claims (not ELF, not a core, bad JSON) */
	HS_ERR_TRUNCATED,   /* input ends early */
	HS_ERR_UNSUPPORTED, /* valid input we do not handle (other arch, unknown allocator) */
	HS_ERR_FAULT,       /* address not present in the core */
	HS_ERR_NOT_FOUND,   /* symbol, module or allocator not found */
	HS_ERR_USAGE,       /* bad command line */
	HS_ERR_OTHER,
};

/*
 * An error: a code and a one-line message. Fallible functions return one
 * (NULL means success) and write results through their last *ret parameter
 * only on success. The caller owns the error and frees it with
 * hs_error_destroy(), which accepts NULL and the static out-of-memory error.
 */
struct hs_error {
	enum hs_error_code code;
	char *message;
};

/* The preallocated out-of-memory error; returned when formatting an error
 * would itself need memory we do not have. Never freed. */
extern const struct hs_error hs_error_nomem;
#define HS_ENOMEM ((struct hs_error *)&hs_error_nomem)

struct hs_error *hs_error_create(enum hs_error_code code, const char *fmt, ...)
	HS_PRINTF(2, 3);
struct hs_error *hs_error_vcreate(enum hs_error_code code, const char *fmt,
				  va_list ap) HS_PRINTF(2, 0);
/* Wrap a failed libelf call: "<input>: <call>: <elf_errmsg(-1)>". */
struct hs_error *hs_error_libelf(const char *call, const char *input);
/* Wrap a failed libdw/libdwfl call the same way, with dwarf_errmsg(-1). */
struct hs_error *hs_error_libdw(const char *call, const char *input);
/* Wrap errno: "<input>: <call>: strerror(errno)"; code is HS_ERR_IO. */
struct hs_error *hs_error_errno(const char *call, const char *input);
void hs_error_destroy(struct hs_error *err);

/*
 * Diagnostics: heap corruption and analysis caveats. They are data, not
 * errors: a walk records them and goes on. The list caps the number kept
 * (hostile cores can produce millions) and counts the ones it dropped.
 */
enum hs_severity { HS_DIAG_INFO, HS_DIAG_WARNING, HS_DIAG_ERROR };

struct hs_diag {
	enum hs_severity severity;
	bool has_address;
	uint64_t address;
	char *message;
};

struct hs_diags {
	struct hs_diag *items;
	size_t count, cap, limit;
	uint64_t dropped;
};

#define HS_DIAGS_DEFAULT_LIMIT 1000

void hs_diags_init(struct hs_diags *d);
void hs_diags_deinit(struct hs_diags *d);
/* Record a diagnostic; silently counts it as dropped when over the limit or
 * out of memory, because losing a diagnostic must never stop a walk. */
void hs_diags_add(struct hs_diags *d, enum hs_severity sev, bool has_address,
		  uint64_t address, const char *fmt, ...) HS_PRINTF(5, 6);
const char *hs_severity_name(enum hs_severity sev);
/* Append every diagnostic of `from` to `to` (within to's limit; the rest
 * count as dropped), leaving `from` empty. */
void hs_diags_move(struct hs_diags *to, struct hs_diags *from);

/*
 * Make room for `need` elements of `elem` bytes in *ptr (capacity *cap),
 * growing geometrically. Returns false on overflow or allocation failure,
 * leaving *ptr and *cap untouched.
 */
bool hs_grow(void **ptr, size_t *cap, size_t need, size_t elem) HS_MUST_CHECK;

/*
 * Big arrays (common/bigmem.c). hs_mem_huge asks the kernel to back the
 * whole 2 MiB pages of a block of at least 4 MiB with transparent huge pages
 * (a hint: nothing changes where THP is off). hs_calloc_big and
 * hs_malloc_big are calloc and malloc (n elements of elem bytes, checked
 * for overflow) with that advice; free their results with free(), grow them
 * with realloc() or hs_grow(). NULL on allocation failure.
 */
void hs_mem_huge(void *p, size_t bytes);
void *hs_calloc_big(size_t n, size_t elem);
void *hs_malloc_big(size_t n, size_t elem);

/* Parse a whole string as an unsigned number (base 0: 0x.., 0.., decimal)
 * with strtoull and full checking. Returns false on any junk or overflow. */
bool hs_parse_u64(const char *s, uint64_t *ret);

/* Replace control characters (a newline in a path read from a core, ...)
 * with '?', in place, so that a message built from untrusted strings stays
 * one line. Errors and diagnostics apply it to every message they format. */
void hs_one_line(char *s);

/* strdup that returns NULL only on allocation failure of a non-NULL input. */
char *hs_strdup(const char *s);

#endif
