/* prefault.h: a second thread that maps the core's pages ahead of a single-threaded phase. */
#ifndef HS_PREFAULT_H
#define HS_PREFAULT_H

#include "symbols.h"

/*
 * The walk is one thread, and the first to touch the core: on a big core it
 * spent much of its time taking page faults and waiting on memory, one page
 * after another, while the other core stood idle. hs_prefault_start() starts
 * a thread that reads one byte a page of the core mapping, front to back
 * (the order gcore and the kernel write memory), so that the walker finds
 * the pages mapped and the file read in. It stops at the end of the core or
 * at hs_prefault_stop(), whichever comes first.
 *
 * Nothing is started (NULL, no error) for a process without a core, for one
 * thread, or for a core bigger than a quarter of memory (touching it all
 * would evict what the walk needs). Only the page tables and the page cache
 * change: no result depends on it.
 */
struct hs_prefault;
struct hs_prefault *hs_prefault_start(const struct hs_process *proc, unsigned threads);
void hs_prefault_stop(struct hs_prefault *pf);

#endif
