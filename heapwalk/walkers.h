/* walkers.h: the walkers compiled into heapwalk (private to heapwalk/). */
#ifndef HS_WALKERS_H
#define HS_WALKERS_H

#include "heapwalk.h"

extern const struct hs_walker hs_jemalloc_walker;
extern const struct hs_walker hs_tcmalloc_walker;
extern const struct hs_walker hs_glibc_walker;

#endif
