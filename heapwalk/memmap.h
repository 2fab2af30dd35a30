/* memmap.h: private to heapwalk/: the memory map's state, shared with its Go part. */
#ifndef HS_HEAPWALK_MEMMAP_H
#define HS_HEAPWALK_MEMMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heapwalk.h"

/*
 * Who claims an address, highest priority first. Exact claims (ranges the
 * walker declared, module spans, Go's heap arenas) are resolved by one sweep;
 * the levels after MM_GO_HEAP claim whole pieces, and only what is still
 * unclaimed in them, in this order.
 */
enum mm_level {
	MM_HEAP,        /* walker "heap" ranges: chunks and in-heap metadata */
	MM_RESERVED,    /* walker "reserved" ranges */
	MM_META,        /* walker "metadata" ranges */
	MM_MODULE,      /* module spans, vdso, vvar, vsyscall */
	MM_GO_HEAP,     /* Go heap arenas */
	MM_STACK,       /* the pieces holding a thread's sp, guard, TLS */
	MM_LDSO,        /* the dynamic linker's own allocations */
	MM_GO_RUNTIME,  /* what Go's runtime globals lead to */
	MM_REFERENCED,  /* what a module's data points at: its own mmap */
	MM_SHARED_ANON, /* /dev/zero, SysV and memfd shared memory */
	MM_FILE,        /* other mapped files */
	MM_NONE,        /* nobody: other_anonymous or inaccessible */
};

/* An elementary piece of the address space: a PT_LOAD segment, an NT_FILE
 * mapping, or the part of one the other splits off. */
struct mm_piece {
	uint64_t start, end;
	uint64_t backed_end; /* [start, backed_end) is in the core */
	uint32_t flags;      /* PF_R|PF_W|PF_X of its segment; 0 if none */
	bool load;           /* covered by a PT_LOAD segment */
	size_t file;         /* index into proc->files, or SIZE_MAX */
	size_t seg0, nseg;   /* its segments in ctx->segs */
};

/* A piece, or the part of it one claim level holds. */
struct mm_seg {
	uint64_t start, end;
	size_t piece;
	enum mm_level level;
	const char *name; /* MM_REFERENCED: the module's file name */
};

struct mm_claim {
	uint64_t start, end;
	enum mm_level level;
};

struct mm_ctx {
	struct hs_process *proc;
	const struct hs_heap *heap;
	struct mm_piece *pieces;
	size_t npieces;
	struct mm_claim *claims;
	size_t nclaims, claims_cap;
	struct mm_seg *segs;
	size_t nsegs;
};

/* Add an exact claim (before the sweep). false when out of memory. */
bool hs_mm_claim(struct mm_ctx *c, uint64_t start, uint64_t end,
		 enum mm_level level);
/* The piece holding addr, or SIZE_MAX. */
size_t hs_mm_piece_at(const struct mm_ctx *c, uint64_t addr);
/* Anonymous (no file behind it). */
bool hs_mm_anonymous(const struct mm_ctx *c, const struct mm_piece *p);
/* No access rights (as far as the core's writer tells them apart). */
bool hs_mm_noaccess(const struct mm_ctx *c, const struct mm_piece *p);
/* Writable. */
bool hs_mm_writable(const struct mm_ctx *c, const struct mm_piece *p);

/*
 * Go (memmap_go.c). hs_mm_go_heap adds exact claims for the heap arenas
 * of each Go runtime in the process, before the sweep; hs_mm_go_runtime,
 * after it, gives MM_GO_RUNTIME to the unclaimed runs of anonymous pieces
 * that the runtime's globals lead to. Both do nothing in a process without
 * Go symbols; both return false only when out of memory.
 */
bool hs_mm_go_heap(struct mm_ctx *c);
bool hs_mm_go_runtime(struct mm_ctx *c);

#endif
