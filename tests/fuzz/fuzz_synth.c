/* fuzz_synth.c: decode a fuzz input into a synthetic process (memory ranges and parameters). */
#include <string.h>

#include "fuzz_synth.h"

struct cursor {
	const uint8_t *p;
	size_t left;
};

/* Read n bytes little-endian; missing bytes read as zero. */
static uint64_t take(struct cursor *c, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!c->left)
			break;
		v |= (uint64_t)*c->p << (8 * i);
		c->p++;
		c->left--;
	}
	return v;
}

bool hs_fuzz_synth_init(struct hs_fuzz_synth *s, const uint8_t *data,
			size_t size)
{
	memset(s, 0, sizeof(*s));
	struct cursor c = { data, size };
	size_t nranges = take(&c, 1) % (HS_FUZZ_MAX_RANGES + 1);
	s->nparams = take(&c, 1) % (HS_FUZZ_MAX_PARAMS + 1);
	s->flags = (uint16_t)take(&c, 2);
	struct {
		uint64_t start, memsz, filesz;
	} r[HS_FUZZ_MAX_RANGES];
	for (size_t i = 0; i < nranges; i++) {
		r[i].start = take(&c, 8);
		r[i].memsz = take(&c, 4);
		r[i].filesz = take(&c, 4);
	}
	for (size_t i = 0; i < s->nparams; i++)
		s->params[i] = take(&c, 8);

	struct hs_error *err = hs_process_create(&s->proc);
	if (err) {
		hs_error_destroy(err);
		return false;
	}
	for (size_t i = 0; i < nranges; i++) {
		uint64_t filesz = r[i].filesz;
		if (filesz > r[i].memsz)
			filesz = r[i].memsz;
		if (filesz > c.left)
			filesz = c.left;
		err = hs_memory_add(&s->proc->mem, r[i].start, r[i].memsz,
				    filesz ? c.p : NULL, filesz, 0x6 /* RW */);
		if (err)
			goto fail;
		c.p += filesz;
		c.left -= filesz;
	}
	err = hs_memory_seal(&s->proc->mem);
	if (err)
		goto fail;
	s->rest = c.p;
	s->nrest = c.left;
	return true;
fail:
	hs_error_destroy(err);
	hs_process_destroy(s->proc);
	s->proc = NULL;
	return false;
}

void hs_fuzz_synth_deinit(struct hs_fuzz_synth *s)
{
	hs_process_destroy(s->proc);
	s->proc = NULL;
}
