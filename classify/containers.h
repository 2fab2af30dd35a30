/* containers.h: private to classify/: libstdc++ container internals recognised from their structure. */
#ifndef HS_CONTAINERS_H
#define HS_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>

#include "classes.h"
#include "sds.h"

/*
 * A libstdc++ container's internal allocation at chunk k: a std::map/set
 * (red-black tree) node, a std::unordered_map/set node or bucket array, a
 * std::list node, a std::vector body, a std::deque map or block, or a
 * std::shared_ptr control block. Names begin as documented in
 * docs/report.md; a suffix names the element's class where the element
 * starts with a vptr.
 */
bool hs_container_detect(struct hs_classes *c, const struct hs_cchunk *k,
			 struct hs_detect *ret, char *why, size_t whylen);

#endif
