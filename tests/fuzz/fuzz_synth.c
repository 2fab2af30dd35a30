/* fuzz_synth.c: decode a fuzz input into a synthetic process (memory ranges and parameters). */
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

/*
 * Merged runs are assembled in one scratch mapping, reused from input to
 * input: a calloc of up to HS_FUZZ_MERGE_MAX bytes per run (and its ASan
 * shadow) made the walker targets several times slower. Only the bytes
 * copied in are cleared afterwards (hs_fuzz_synth_deinit); the rest of the
 * mapping stays zero. One synthetic process at a time uses it.
 */
#define SCRATCH_SIZE (64u << 20)

static uint8_t *scratch(void)
{
	static uint8_t *area;
	if (!area) {
		void *p = mmap(NULL, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		area = p == MAP_FAILED ? NULL : p;
	}
	return area;
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
			size_t size, bool merge)
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
	uint64_t zero_left = HS_FUZZ_ZERO_TOTAL;
	for (size_t i = 0; i < nranges; i++) {
		pc[i].start = r[i].start;
		pc[i].memsz = r[i].memsz;
		if (r[i].filesz & HS_FUZZ_ZERO) {
			const uint8_t *z = zero_pages();
			uint64_t n = r[i].memsz < HS_FUZZ_ZERO_MAX ? r[i].memsz :
								     HS_FUZZ_ZERO_MAX;
			if (n > zero_left)
				n = zero_left;
			zero_left -= n;
			pc[i].filesz = z ? n : 0;
			pc[i].data = n ? z : NULL;
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
	size_t used = 0; /* bytes of the scratch mapping handed out */
	for (size_t i = 0; i < nranges;) {
		/* The run of ranges that follow end to end, all backed. */
		size_t j = i + 1;
		uint64_t total = pc[i].memsz;
		while (merge && j < nranges && pc[j - 1].filesz == pc[j - 1].memsz &&
		       pc[j].filesz == pc[j].memsz &&
		       pc[j - 1].start + pc[j - 1].memsz == pc[j].start &&
		       total + pc[j].memsz <= HS_FUZZ_MERGE_MAX) {
			total += pc[j].memsz;
			j++;
		}
		uint8_t *area = scratch();
		if (j == i + 1 || total == 0 || !area || total > SCRATCH_SIZE - used) {
			j = i + 1;
			err = hs_memory_add(&s->proc->mem, pc[i].start, pc[i].memsz,
					    pc[i].data, pc[i].filesz, 0x6 /* RW */);
		} else {
			uint8_t *buf = area + used;
			used += (total + 15) & ~(uint64_t)15;
			for (size_t k = i, off = 0; k < j; off += pc[k].memsz, k++) {
				if (!pc[k].filesz || pc[k].data == zero_pages())
					continue;
				memcpy(buf + off, pc[k].data, pc[k].filesz);
				s->dirty[s->ndirty].p = buf + off;
				s->dirty[s->ndirty++].len = pc[k].filesz;
			}
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
	for (size_t i = 0; i < s->ndirty; i++)
		memset(s->dirty[i].p, 0, s->dirty[i].len);
	s->ndirty = 0;
}

bool hs_fuzz_synth_is_zero(const struct hs_memory_range *r)
{
	const uint8_t *z = zero_pages();
	return z && r->data >= z && r->data < z + HS_FUZZ_ZERO_MAX;
}
