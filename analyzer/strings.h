/* strings.h: private to analyzer/: std::string bodies (C++11 and COW), C strings, and the memory scan that finds them. */
#ifndef HS_STRINGS_H
#define HS_STRINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "sds.h"

/*
 * Scan every 8-byte aligned word of writable memory in the core (stacks,
 * static data, in-use chunks; not free chunks, whose words are stale) and set
 * c->chunk_ref bits for words that point into in-use chunks at the offsets
 * the detectors care about. A word at a chunk's start followed by a length and
 * a capacity that fit the chunk is a C++11 std::string: HS_REF_STRING.
 */
void hs_strings_scan(struct hs_classes *c);

/* Old-ABI COW std::string _Rep at the start of chunk i, referenced at +24. */
bool hs_cow_detect(struct hs_classes *c, size_t i, const uint8_t *p, size_t avail,
		   struct hs_detect *ret, char *why, size_t whylen);
/* NUL-terminated printable text filling the chunk. */
bool hs_cstring_detect(struct hs_classes *c, size_t i, const uint8_t *p, size_t avail,
		       struct hs_detect *ret, char *why, size_t whylen);

/* Whether n bytes read as text: printable ASCII, tab/newline/CR, or UTF-8
 * lead/continuation bytes, and at least 3/4 printable ASCII. */
bool hs_text_ok(const uint8_t *p, size_t n);

#endif
