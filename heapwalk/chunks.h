/* chunks.h: the chunk store's life cycle, for heap.c (private to heapwalk/). */
#ifndef HS_CHUNKS_H
#define HS_CHUNKS_H

#include "heapwalk.h"

/* An empty store, or NULL when out of memory. */
struct hs_chunk_store *hs_chunk_store_create(void);
/* Frees the store and every run's bits; takes NULL. */
void hs_chunk_store_destroy(struct hs_chunk_store *st);

#endif
