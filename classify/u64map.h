/* u64map.h: private to classify/: an open-addressing map from 64-bit keys to 32-bit values. */
#ifndef HS_U64MAP_H
#define HS_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The classifier's caches (vptr value -> type, pattern key -> cluster) see
 * millions of lookups and a few thousand distinct keys, so a flat table with
 * linear probing stays in cache. Any 64-bit key is allowed: occupancy is kept
 * in a separate byte per slot rather than by reserving a key value.
 */
struct hs_u64map {
	uint64_t *keys;
	uint32_t *values;
	uint8_t *used;
	size_t cap, count; /* cap is 0 or a power of two */
};

void hs_u64map_init(struct hs_u64map *m);
void hs_u64map_deinit(struct hs_u64map *m);
/* The value for key, or false if absent. */
bool hs_u64map_get(const struct hs_u64map *m, uint64_t key, uint32_t *ret);
/* Insert or overwrite. false only when out of memory (the map is unchanged). */
bool hs_u64map_put(struct hs_u64map *m, uint64_t key, uint32_t value);

#endif
