/* layout_try.c: the record of layout rows tried on a build, and the refusal. */
#include <stdarg.h>
#include <stdio.h>

#include "layout_try.h"

void hs_layout_try_note(struct hs_layout_try *t, const char *row, const char *fmt, ...)
{
	size_t cap = sizeof(t->text);
	t->tried++;
	if (t->len + 1 >= cap)
		return;
	int n = snprintf(t->text + t->len, cap - t->len, "%s%s: ", t->len ? "; " : "", row);
	if (n < 0)
		return;
	t->len = t->len + (size_t)n < cap ? t->len + (size_t)n : cap - 1;
	va_list ap;
	va_start(ap, fmt);
	n = vsnprintf(t->text + t->len, cap - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len = t->len + (size_t)n < cap ? t->len + (size_t)n : cap - 1;
}

size_t hs_layout_try_errors(const struct hs_heap *heap, char *first, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < heap->diags.count; i++) {
		const struct hs_diag *d = &heap->diags.items[i];
		if (d->severity != HS_DIAG_ERROR)
			continue;
		if (!n++ && cap)
			snprintf(first, cap, "%s", d->message);
	}
	return n;
}

struct hs_error *hs_layout_try_refuse(const struct hs_layout_try *t,
				      const char *module, const char *allocator,
				      const char *version, const char *rows)
{
	return hs_error_create(HS_ERR_UNSUPPORTED,
			       "%s: %s %s has no layout row and no row reconciles with"
			       " its own counters (%s); supported: %s", module, allocator,
			       version && *version ? version : "of unknown version",
			       t->tried ? t->text : "no row tried", rows);
}
