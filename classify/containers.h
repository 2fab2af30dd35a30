/* containers.h: private to classify/: libstdc++ container internals recognised from their structure. */
#ifndef HS_CONTAINERS_H
#define HS_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>

#include "classes.h"
#include "sds.h"

enum hs_container_kind {
	HS_CONTAINER_MAP_NODE,
	HS_CONTAINER_HASH_NODE,
	HS_CONTAINER_HASH_BUCKETS,
	HS_CONTAINER_LIST_NODE,
	HS_CONTAINER_VECTOR,
	HS_CONTAINER_DEQUE_MAP,
	HS_CONTAINER_DEQUE_BLOCK,
	HS_CONTAINER_SHARED,
	HS_CONTAINER_NKINDS,
};

/* "std::map/set node", ... (the names docs/report.md lists). */
const char *hs_container_name(enum hs_container_kind k);

/* How specific the evidence for a kind is, when two owners claim a chunk:
 * a hashtable's or a deque's (whose whole structure was checked) beats a
 * vector's triple. */
int hs_container_rank(uint32_t kind);

/* Chunks the memory scan found to be container internals, by their owner. */
struct hs_cfound {
	struct hs_cfound_item {
		hs_chunk_id id;
		uint32_t kind; /* enum hs_container_kind */
	} *items;
	size_t n, cap;
	bool nomem;
};

/* Whether the words at w (wavail bytes of them) could be a vector's,
 * unordered_map's or deque's implementation at all: their numbers alone,
 * before the first word's target is looked up. */
bool hs_containers_maybe_owner(const uint8_t *w, uint64_t wavail);

/*
 * The memory scan found a word at `at` (w: its bytes in the core, wavail of
 * them readable) that points at the start of in-use chunk tc: if the words
 * from there are a std::vector's, std::unordered_map's or std::deque's
 * implementation owning tc, add tc (and for the latter two the nodes or
 * blocks they own, each checked) to f.
 */
void hs_containers_owner(struct hs_classes *c, uint64_t at, const uint8_t *w, uint64_t wavail,
			 const struct hs_chunk *tc, hs_chunk_id tid, struct hs_cfound *f);

/*
 * A libstdc++ container's internal allocation at chunk k: one the scan
 * found (cl->containers), or a std::map/set or std::list node by the links
 * between it and its neighbours. A suffix names the element's class where
 * the element starts with a vptr or points at an object that does.
 */
bool hs_container_detect(struct hs_classes *c, const struct hs_cchunk *k,
			 struct hs_detect *ret, char *why, size_t whylen);

/* A shared_ptr control block's class (std::_Sp_counted_ptr_inplace<T, ...>
 * and its siblings) renamed "std::shared_ptr control block <T>" into buf;
 * false for any other class. */
bool hs_container_rename(const char *name, char *buf, size_t len);

#endif
