/* strings.h: private to classify/: std::string bodies (C++11 and COW), C strings, and the memory scan that finds them. */
#ifndef HS_STRINGS_H
#define HS_STRINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classes.h"
#include "sds.h"

/*
 * Scan every 8-byte aligned word of writable memory in the core (stacks,
 * static data, in-use chunks; not free chunks, whose words are stale) for
 * pointers into in-use chunks that are evidence of what the chunk is, and
 * set the chunk's HS_CHUNK_BIT_REF for each: a pointer to an sds buffer
 * (chunk + 1/3/5/9/17) where exactly that header parses, a pointer to a COW
 * string's characters (chunk + 24) of a valid _Rep, and a C++11 std::string
 * (pointer, length, capacity) triple at the chunk start. The evidence is
 * taken only where it is unambiguous (no other reading of the chunk fits),
 * so that one bit says which. Runs on cl->threads threads. Errors:
 * HS_ERR_NOMEM.
 */
struct hs_error *hs_strings_scan(struct hs_classifier *cl);
/* Old-ABI COW std::string _Rep at the start of chunk k: the header is
 * valid. */
bool hs_cow_valid(const struct hs_classes *c, const struct hs_cchunk *k);
/* The COW string at chunk k (with the evidence bit set by the scan). */
bool hs_cow_detect(struct hs_classes *c, const struct hs_cchunk *k,
		   struct hs_detect *ret, char *why, size_t whylen);
/* NUL-terminated printable text filling the chunk. */
/* Four characters or no C string: the first bytes of most chunks say no,
 * before any search for the NUL (the test hs_cstring_detect starts with). */
static inline bool hs_cstring_maybe(const struct hs_cchunk *k)
{
	if (!k->p || k->avail < 5)
		return false;
	for (unsigned i = 0; i < 4; i++) {
		uint8_t b = k->p[i];
		if (b < 0x20 && b != '\t' && b != '\n' && b != '\r')
			return false;
	}
	return true;
}
bool hs_cstring_detect(struct hs_classes *c, const struct hs_cchunk *k,
		       struct hs_detect *ret, char *why, size_t whylen);
/* Whether n bytes read as text: printable ASCII, tab/newline/CR, or UTF-8
 * lead/continuation bytes, and at least 3/4 printable ASCII. */
bool hs_text_ok(const uint8_t *p, size_t n);

#endif
