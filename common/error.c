/* error.c: the error object every fallible function returns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <elfutils/libdw.h>
#include <libelf.h>

#include "common.h"

const struct hs_error hs_error_nomem = {
	.code = HS_ERR_NOMEM,
	.message = (char *)"out of memory",
};

struct hs_error *hs_error_vcreate(enum hs_error_code code, const char *fmt,
				  va_list ap)
{
	struct hs_error *err = malloc(sizeof(*err));
	if (!err)
		return HS_ENOMEM;
	if (vasprintf(&err->message, fmt, ap) < 0) {
		free(err);
		return HS_ENOMEM;
	}
	hs_one_line(err->message); /* the contract: a one-line message */
	err->code = code;
	return err;
}

struct hs_error *hs_error_create(enum hs_error_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct hs_error *err = hs_error_vcreate(code, fmt, ap);
	va_end(ap);
	return err;
}

struct hs_error *hs_error_libelf(const char *call, const char *input)
{
	return hs_error_create(HS_ERR_FORMAT, "%s: %s: %s", input, call,
			       elf_errmsg(-1));
}

struct hs_error *hs_error_libdw(const char *call, const char *input)
{
	return hs_error_create(HS_ERR_FORMAT, "%s: %s: %s", input, call,
			       dwarf_errmsg(-1));
}

struct hs_error *hs_error_errno(const char *call, const char *input)
{
	int e = errno;
	return hs_error_create(HS_ERR_IO, "%s: %s: %s", input, call,
			       strerror(e));
}

void hs_error_destroy(struct hs_error *err)
{
	if (!err || err == &hs_error_nomem)
		return;
	free(err->message);
	free(err);
}
