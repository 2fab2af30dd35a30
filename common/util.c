/* util.c: checked growth, number parsing and diagnostics lists. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

bool hs_grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return false;
		ncap *= 2;
	}
	if (elem && ncap > SIZE_MAX / elem)
		return false;
	void *p = realloc(*ptr, ncap * elem);
	if (!p)
		return false;
	hs_mem_huge(p, ncap * elem);
	*ptr = p;
	*cap = ncap;
	return true;
}

bool hs_parse_u64(const char *s, uint64_t *ret)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

char *hs_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void hs_diags_init(struct hs_diags *d)
{
	memset(d, 0, sizeof(*d));
	d->limit = HS_DIAGS_DEFAULT_LIMIT;
}

void hs_diags_deinit(struct hs_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->items[i].message);
	free(d->items);
	memset(d, 0, sizeof(*d));
}

void hs_diags_move(struct hs_diags *to, struct hs_diags *from)
{
	for (size_t i = 0; i < from->count; i++) {
		if (to->count >= to->limit ||
		    !hs_grow((void **)&to->items, &to->cap, to->count + 1, sizeof(*to->items))) {
			to->dropped++;
			free(from->items[i].message);
			continue;
		}
		to->items[to->count++] = from->items[i];
	}
	to->dropped += from->dropped;
	free(from->items);
	size_t limit = from->limit;
	memset(from, 0, sizeof(*from));
	from->limit = limit;
}

void hs_one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void hs_diags_add(struct hs_diags *d, enum hs_severity sev, bool has_address,
		  uint64_t address, const char *fmt, ...)
{
	if (d->count >= d->limit ||
	    !hs_grow((void **)&d->items, &d->cap, d->count + 1,
		     sizeof(*d->items))) {
		d->dropped++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg;
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		d->dropped++;
		return;
	}
	hs_one_line(msg);
	d->items[d->count++] = (struct hs_diag){
		.severity = sev,
		.has_address = has_address,
		.address = address,
		.message = msg,
	};
}

const char *hs_severity_name(enum hs_severity sev)
{
	switch (sev) {
	case HS_DIAG_INFO:
		return "info";
	case HS_DIAG_WARNING:
		return "warning";
	default:
		return "error";
	}
}
