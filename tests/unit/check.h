/* check.h: the unit tests' CHECK macros, tally and exit status, and synthetic processes. */
#ifndef HS_TESTS_UNIT_CHECK_H
#define HS_TESTS_UNIT_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../symbols/symbols.h"

/* One test program per file: the counters are the file's own. */
static int check_count, check_failures;

/* A failed check is reported and counted; the test goes on. */
#define CHECK(cond)                                                          \
	do {                                                                 \
		check_count++;                                               \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                            \
			check_failures++;                                    \
		}                                                            \
	} while (0)

/* Two values compared as uint64_t; a failure prints both, in decimal and hex. */
#define CHECK_EQ(a, b)                                                       \
	do {                                                                 \
		uint64_t a_ = (a), b_ = (b);                                 \
		check_count++;                                               \
		if (a_ != b_) {                                              \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = %" PRIu64 \
				" (0x%" PRIx64 "), %s = %" PRIu64 " (0x%" PRIx64 ")\n", \
				__FILE__, __LINE__, #a, a_, a_, #b, b_, b_);  \
			check_failures++;                                    \
		}                                                            \
	} while (0)

/* A xorshift64 step: the tests' repeatable pseudo-random numbers, from a
 * state the caller keeps (never 0). */
static inline uint64_t check_rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* The end of a test program: prints the tally (failures to stderr) and
 * returns main's exit status, 1 if anything failed. A test's own reporting
 * helper may count a failure of its own with check_failures++. */
static inline int check_summary(const char *name)
{
	if (check_failures) {
		fprintf(stderr, "%s: %d failure(s) (%d checks)\n", name, check_failures,
			check_count);
		return 1;
	}
	printf("%s: %d checks ok\n", name, check_count);
	return 0;
}

/* ------------------------------------------------------------------------
 * A synthetic address space: regions backed by calloc'd buffers, and the
 * hs_process a walker reads them through.
 * ------------------------------------------------------------------------ */

struct check_region {
	uint64_t start, size;
	uint8_t *buf;    /* NULL: the region is not mapped */
	uint64_t filesz; /* bytes backed in the "core"; 0 means all */
};

/* (Re)maps region r at start: size zero bytes, all backed. Aborts without memory. */
static inline void check_region_set(struct check_region *r, uint64_t start, uint64_t size)
{
	free(r->buf);
	*r = (struct check_region){.start = start, .size = size, .buf = calloc(1, size)};
	if (!r->buf)
		abort();
}

/* Unmaps all n regions (frees their buffers). */
static inline void check_regions_free(struct check_region *r, int n)
{
	for (int i = 0; i < n; i++) {
		free(r[i].buf);
		r[i] = (struct check_region){0};
	}
}

/* The buffer bytes behind addr..addr+len, which must lie in one mapped
 * region; anything else is a bug in the test and aborts. */
static inline uint8_t *check_at(struct check_region *r, int n, uint64_t addr, uint64_t len)
{
	for (int i = 0; i < n; i++)
		if (r[i].buf && addr - r[i].start < r[i].size &&
		    addr + len <= r[i].start + r[i].size)
			return r[i].buf + (addr - r[i].start);
	fprintf(stderr, "test bug: 0x%" PRIx64 " (%" PRIu64 " bytes) not in a region\n",
		addr, len);
	abort();
}

/* A sealed process whose memory is the mapped regions (read-write, each
 * backed up to its filesz), with no threads or modules. The buffers stay the
 * caller's and must outlive the process. Aborts on failure. */
static inline struct hs_process *check_process(const struct check_region *r, int n)
{
	struct hs_process *proc;
	if (hs_process_create(&proc))
		abort();
	for (int i = 0; i < n; i++) {
		if (!r[i].buf)
			continue;
		if (hs_memory_add(&proc->mem, r[i].start, r[i].size, r[i].buf,
				  r[i].filesz ? r[i].filesz : r[i].size, 6 /* PF_R|PF_W */))
			abort();
	}
	if (hs_memory_seal(&proc->mem))
		abort();
	return proc;
}

#endif
