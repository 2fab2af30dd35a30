/* u64map.c: an open-addressing map from 64-bit keys to 32-bit values. */
#include <stdlib.h>

#include "u64map.h"

void hs_u64map_init(struct hs_u64map *m)
{
	m->keys = NULL;
	m->values = NULL;
	m->used = NULL;
	m->cap = m->count = 0;
}

void hs_u64map_deinit(struct hs_u64map *m)
{
	free(m->keys);
	free(m->values);
	free(m->used);
	hs_u64map_init(m);
}

static size_t hs_u64map_hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key;
}

bool hs_u64map_get(const struct hs_u64map *m, uint64_t key, uint32_t *ret)
{
	if (!m->cap)
		return false;
	for (size_t h = hs_u64map_hash(key);; h++) {
		size_t i = h & (m->cap - 1);
		if (!m->used[i])
			return false;
		if (m->keys[i] == key) {
			*ret = m->values[i];
			return true;
		}
	}
}

static void hs_u64map_place(uint64_t *keys, uint32_t *values, uint8_t *used,
			    size_t cap, uint64_t key, uint32_t value)
{
	for (size_t h = hs_u64map_hash(key);; h++) {
		size_t i = h & (cap - 1);
		if (!used[i] || keys[i] == key) {
			used[i] = 1;
			keys[i] = key;
			values[i] = value;
			return;
		}
	}
}

bool hs_u64map_put(struct hs_u64map *m, uint64_t key, uint32_t value)
{
	if ((m->count + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 256;
		uint64_t *nk = malloc(ncap * sizeof(*nk));
		uint32_t *nv = malloc(ncap * sizeof(*nv));
		uint8_t *nu = calloc(ncap, 1);
		if (!nk || !nv || !nu || ncap < m->cap) {
			free(nk);
			free(nv);
			free(nu);
			return false;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->used[i])
				hs_u64map_place(nk, nv, nu, ncap, m->keys[i], m->values[i]);
		free(m->keys);
		free(m->values);
		free(m->used);
		m->keys = nk;
		m->values = nv;
		m->used = nu;
		m->cap = ncap;
	}
	uint32_t old;
	if (!hs_u64map_get(m, key, &old))
		m->count++;
	hs_u64map_place(m->keys, m->values, m->used, m->cap, key, value);
	return true;
}
