/* fuzz_synth.c: decode a fuzz input into a synthetic process (memory ranges and parameters). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz_synth.h"

/* HS_FUZZ_ZERO ranges all read one read-only mapping of zero pages, made
 * once per process (a harness-only global: nothing else would hold it). */
static const uint8_t *zero_pages(void)
{
	static const uint8_t *zeros;
	if (!zeros) {
		void *p = mmap(NULL, HS_FUZZ_ZERO_MAX, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		zeros = p == MAP_FAILED ? NULL : p;
	}
	return zeros;
}

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
	/* Where each range's bytes are: input, the zero pages, or none. */
	struct piece {
		uint64_t start, memsz, filesz;
		const uint8_t *data;
	} pc[HS_FUZZ_MAX_RANGES];
	for (size_t i = 0; i < nranges; i++) {
		pc[i].start = r[i].start;
		pc[i].memsz = r[i].memsz;
		if (r[i].filesz & HS_FUZZ_ZERO) {
			const uint8_t *z = zero_pages();
			pc[i].filesz = !z ? 0 : r[i].memsz < HS_FUZZ_ZERO_MAX ?
				r[i].memsz : HS_FUZZ_ZERO_MAX;
			pc[i].data = z;
			continue;
		}
		uint64_t filesz = r[i].filesz;
		if (filesz > r[i].memsz)
			filesz = r[i].memsz;
		if (filesz > c.left)
			filesz = c.left;
		pc[i].filesz = filesz;
		pc[i].data = filesz ? c.p : NULL;
		c.p += filesz;
		c.left -= filesz;
	}
	for (size_t i = 0; i < nranges;) {
		/* The run of ranges that follow end to end, all backed. */
		size_t j = i + 1;
		uint64_t total = pc[i].memsz;
		while (j < nranges && pc[j - 1].filesz == pc[j - 1].memsz &&
		       pc[j].filesz == pc[j].memsz &&
		       pc[j - 1].start + pc[j - 1].memsz == pc[j].start &&
		       total + pc[j].memsz <= HS_FUZZ_MERGE_MAX) {
			total += pc[j].memsz;
			j++;
		}
		if (j == i + 1 || total == 0) {
			j = i + 1;
			err = hs_memory_add(&s->proc->mem, pc[i].start, pc[i].memsz,
					    pc[i].data, pc[i].filesz, 0x6 /* RW */);
		} else {
			uint8_t *buf = calloc(1, total);
			if (!buf) {
				err = HS_ENOMEM;
				goto fail;
			}
			s->merged[s->nmerged++] = buf;
			for (size_t k = i, off = 0; k < j; off += pc[k].memsz, k++)
				if (pc[k].filesz && pc[k].data != zero_pages())
					memcpy(buf + off, pc[k].data, pc[k].filesz);
			err = hs_memory_add(&s->proc->mem, pc[i].start, total, buf,
					    total, 0x6 /* RW */);
		}
		if (err)
			goto fail;
		i = j;
	}
	err = hs_memory_seal(&s->proc->mem);
	if (err)
		goto fail;
	s->rest = c.p;
	s->nrest = c.left;
	return true;
fail:
	hs_error_destroy(err);
	hs_fuzz_synth_deinit(s);
	return false;
}

void hs_fuzz_synth_deinit(struct hs_fuzz_synth *s)
{
	hs_process_destroy(s->proc);
	s->proc = NULL;
	for (size_t i = 0; i < s->nmerged; i++)
		free(s->merged[i]);
	s->nmerged = 0;
}
