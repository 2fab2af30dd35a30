/* classify.h: the classification layer's interface: what each in-use chunk is, and the census of types. */
#ifndef HS_CLASSIFY_H
#define HS_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"
#include "../formats/formats.h"
#include "../heapwalk/heapwalk.h"
#include "../symbols/symbols.h"

/*
 * What a chunk is: a C++ class by its vptr, a Redis sds string or robj, a
 * std::string body (C++11 or COW), a C string, a libstdc++ container's
 * internals, or else a pattern cluster (size and the shape of its first
 * words). Nothing is stored per chunk: a classifier holds what is known of
 * the process (vtables, sizes, the Redis verdict, and the evidence bits it
 * set in the heap's chunk store), and any thread can ask it about any chunk.
 */
struct hs_classifier;

struct hs_classify_options {
	bool redact;      /* keep no heap bytes (hexdump samples) in the results */
	unsigned threads; /* 0: one per CPU, at most 8 */
	struct hs_progress *progress; /* or NULL */
};

/*
 * Prepare a classifier: find the vtables, scan writable memory for the
 * pointers that are evidence (a pointer to an sds buffer, a std::string's
 * (pointer, length, capacity) triple, a COW string's characters) and record
 * it in each target chunk's HS_CHUNK_BIT_REF, and decide whether the process
 * shows enough Redis to accept structure-only Redis objects. `proc` and
 * `heap` are borrowed and must outlive the classifier; the heap's REF bits
 * are (re)set. Errors: HS_ERR_NOMEM.
 */
struct hs_error *hs_classifier_create(struct hs_process *proc, struct hs_heap *heap,
				      const struct hs_classify_options *opts,
				      struct hs_classifier **ret);
void hs_classifier_destroy(struct hs_classifier *cl);

/*
 * One in-use chunk's type, from scratch: its name and kind ("vtable", "sds",
 * "robj", "string", "cstring", "container", "pattern") into the buffers, and
 * why in one line (if why is not NULL). false when the chunk is not in use,
 * is allocator metadata, or memory ran out. Slow (it builds a thread's state
 * each call): for `show`, not for loops.
 */
bool hs_classify_chunk(struct hs_classifier *cl, hs_chunk_id id, char *name, size_t namelen,
		       const char **kind, char *why, size_t whylen);

/*
 * The census: every in-use chunk counted by type, with examples, pattern
 * clusters (runs of adjacent chunks, hexdump samples) and, when the heap's
 * MARK bits hold reachability (leaks = true: set means reachable), the
 * leaked count per type. The chunks are split between threads by address;
 * the result does not depend on their number.
 */
struct hs_census;

struct hs_census_options {
	bool leaks; /* MARK bits are reachability marks */
	/* Called for every chunk counted, from the thread that counted it,
	 * with a tag for its type that hs_census_type_of_tag() turns into a
	 * census type once the run is over (the dominator tree keeps them). */
	void (*sink)(void *arg, hs_chunk_id id, uint32_t tag);
	void *sink_arg;
};

struct hs_error *hs_census_run(struct hs_classifier *cl, const struct hs_census_options *opts,
			       struct hs_census **ret);
void hs_census_destroy(struct hs_census *cs);

/*
 * Count an indirect leak: chunk id, leaked and referenced by another leaked
 * chunk (refgraph/ calls this once per such chunk, from one thread).
 * Errors: HS_ERR_NOMEM.
 */
struct hs_error *hs_census_add_indirect(struct hs_census *cs, hs_chunk_id id);

/* The census's types: their number, a tag's type (UINT32_MAX if none),
 * and a type's name and kind. */
uint32_t hs_census_ntypes(const struct hs_census *cs);
uint32_t hs_census_type_of_tag(const struct hs_census *cs, uint32_t tag);
const char *hs_census_type_name(const struct hs_census *cs, uint32_t type, const char **kind);
/* Add retained bytes to a type (outermost instances only: the caller
 * decides which). Marks the census as having retained sizes. */
void hs_census_add_type_retained(struct hs_census *cs, uint32_t type, uint64_t bytes);

/* Fill r->types, r->patterns and, with leaks, r->leaks' per-type rows and
 * totals (they must be empty). Errors: HS_ERR_NOMEM. */
struct hs_error *hs_census_report(const struct hs_census *cs, struct hs_report *r);

/*
 * Call fn with the address of every in-use chunk whose type is named `name`
 * (any type if name is NULL) and, with only_leaked, whose MARK bit is
 * clear, in address order. *found says whether a chunk had that type.
 * Errors: HS_ERR_NOMEM.
 */
struct hs_error *hs_classify_each_of_type(struct hs_classifier *cl, const char *name,
					  bool only_leaked,
					  void (*fn)(uint64_t addr, void *arg), void *arg,
					  bool *found);

/* Bytes the application may use from the chunk's address on. */
uint64_t hs_classify_usable(const struct hs_classifier *cl, const struct hs_chunk *c);

/* An sds header at p (the start of the allocation) of header type `type`
 * (0: sdshdr5, 1: 8, 2: 16, 3: 32, 4: 64, as the flags byte encodes it):
 * flags byte right, len <= alloc, and a NUL at buf[len] within avail bytes. */
struct hs_sds {
	unsigned type, hdrlen;
	uint64_t len, alloc;
};
bool hs_sds_parse(const uint8_t *p, size_t avail, unsigned type, struct hs_sds *ret);

/* `hexdump -C` text of n bytes (offsets from 0), with "*" for repeated
 * lines and a closing offset line. Malloc'd; NULL when out of memory. */
char *hs_hexdump(const uint8_t *p, size_t n);

/*
 * The shape of the first nwords (<= 8) 8-byte words at p, one letter each:
 * 0 zero, H inside a heap chunk, M inside a module, i small integer, t text,
 * ? anything else. Encoded 3 bits per word plus the word count; the code has
 * no addresses in it, so it is the same in two cores of one program.
 */
#define HS_PATTERN_MAX_WORDS 8
uint32_t hs_pattern_code(struct hs_process *proc, const struct hs_heap *heap,
			 const uint8_t *p, size_t nwords);
/* "H M 0 i t ?" for a code, into buf. */
const char *hs_pattern_format(uint32_t code, char *buf, size_t len);

#endif
