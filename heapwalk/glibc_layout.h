/* glibc_layout.h: ptmalloc layouts and code anchors, one row per glibc release (private). */
#ifndef HS_GLIBC_LAYOUT_H
#define HS_GLIBC_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A field offset that a release does not have. */
#define HS_GLIBC_ABSENT UINT32_MAX

/* Chunk size-field flag bits; unchanged since ptmalloc2 (malloc.c:1367-1399 in 2.36). */
#define HS_GLIBC_PREV_INUSE 0x1
#define HS_GLIBC_IS_MMAPPED 0x2
#define HS_GLIBC_NON_MAIN_ARENA 0x4
#define HS_GLIBC_SIZE_BITS 0x7

/* What a code anchor's RIP-relative operand points into. */
enum hs_glibc_anchor_target {
	HS_GLIBC_ANCHOR_MAIN_ARENA,
	HS_GLIBC_ANCHOR_MP,
};

/*
 * A code anchor: in the exported function `func`, the first instruction
 * whose mnemonic is `mnemonic`, whose first operand is a register and that
 * has a RIP-relative memory operand addresses `field` bytes into the target
 * global. Anchors are facts about
 * one build of one release (read with objdump), so they live in the row.
 */
struct hs_glibc_anchor {
	const char *func;
	const char *mnemonic;
	enum hs_glibc_anchor_target target;
	uint32_t field;
};

#define HS_GLIBC_MAX_ANCHORS 8

/*
 * One glibc release, x86_64 (LP64, MALLOC_ALIGNMENT 16). Offsets are bytes
 * from the start of the struct; sizes are sizeof. Every row cites the source
 * tag and file:line each struct was read from.
 */
struct hs_glibc_layout {
	const char *version;    /* "2.36": what gnu_get_libc_version() returns */
	unsigned major, minor;
	bool verified;          /* checked against a real build's cores, not only the source */

	uint64_t malloc_alignment; /* 16 */
	uint64_t minsize;          /* MINSIZE, 0x20 */
	uint64_t hdr_size;         /* CHUNK_HDR_SZ, 0x10: chunk to user pointer */

	/* struct malloc_state */
	struct {
		uint32_t size;
		uint32_t flags;          /* int; bit NONCONTIGUOUS_BIT */
		uint32_t fastbins;       /* fastbinsY[nfastbins]; ABSENT from 2.43 */
		uint32_t top;
		uint32_t last_remainder;
		uint32_t bins;           /* bins[2 * nbins - 2] */
		uint32_t next;
		uint32_t next_free;
		uint32_t attached_threads;
		uint32_t system_mem;
		uint32_t max_system_mem;
	} ms;
	unsigned nfastbins; /* NFASTBINS; 0 from 2.43 (fastbins removed) */
	unsigned nbins;     /* NBINS */
	uint32_t noncontiguous_bit;

	/* struct malloc_par (the global mp_) */
	struct {
		uint32_t size;
		uint32_t mmap_threshold;
		uint32_t hp_pagesize;    /* HS_GLIBC_ABSENT before 2.35 */
		uint32_t n_mmaps;        /* int */
		uint32_t mmapped_mem;
		uint32_t sbrk_base;
		uint32_t tcache_bins;    /* tcache_bins (tcache_small_bins from
					  * 2.42); HS_GLIBC_ABSENT without USE_TCACHE */
		uint32_t tcache_count;   /* size_t tcache_count: the fill limit */
	} mp;

	/* heap_info (arena.c) */
	struct {
		uint32_t size;           /* sizeof(heap_info): arena / first chunk follow */
		uint32_t ar_ptr;
		uint32_t prev;
		uint32_t hsize;          /* heap_info.size: bytes mapped read-write */
		uint32_t mprotect_size;
	} hi;
	uint64_t heap_max_size;      /* HEAP_MAX_SIZE; heaps are aligned to it */
	bool heap_max_from_hugetlb;  /* heap_max_size() is hp_pagesize*4 when that is set */

	/* tcache_perthread_struct */
	struct {
		bool present;
		unsigned nbins;          /* TCACHE_MAX_BINS */
		unsigned small_bins;     /* bins of one chunk size each (TCACHE_SMALL_BINS
					  * from 2.42; = nbins before); bin i >= small_bins
					  * holds sizes with one highest bit */
		unsigned count_bytes;    /* sizeof(counts[0]): 1 before 2.30, then 2 */
		bool count_is_slots;     /* 2.42+: num_slots[] counts the free slots
					  * left, from mp_.tcache_count down */
		uint32_t counts;
		uint32_t entries;
		uint32_t size;           /* sizeof(tcache_perthread_struct) */
		uint64_t chunk_size;     /* chunk holding it: request2size(size) */
		uint32_t entry_next;     /* tcache_entry.next */
		uint32_t entry_key;      /* tcache_entry.key (2.29+), else ABSENT */
		/* In `tls_func`, the first `mov GOT(%rip),%reg` whose %reg then
		 * addresses %fs:(%reg) loads the TPOFF64 GOT slot of `tcache`. */
		const char *tls_func;
	} tc;
	bool safe_linking;           /* PROTECT_PTR on tcache next and fastbin fd (2.32+) */
	/* Mmapped chunks: 0 up to 2.42 (the chunk is the whole mapping, its
	 * prev_size the memalign offset); 2.43 keeps a CHUNK_HDR_SZ tail past
	 * the chunk, and bit 0 of prev_size says huge pages (mmap_set_chunk,
	 * malloc.c:1443-1451 in 2.43). */
	uint64_t mmap_tail;

	struct hs_glibc_anchor anchors[HS_GLIBC_MAX_ANCHORS];
	size_t nanchors;
};

/* The row for a release, or NULL if there is none. Rows are static. */
const struct hs_glibc_layout *hs_glibc_layout_find(unsigned major,
						   unsigned minor);
/* All rows, oldest first. */
const struct hs_glibc_layout *hs_glibc_layouts(size_t *count);
/*
 * For a release without a row: the rows to try, nearest release first (ties:
 * the newer one), at most `max`. Returns how many were written to `out`.
 */
size_t hs_glibc_layout_candidates(unsigned major, unsigned minor,
				  const struct hs_glibc_layout **out, size_t max);
/* "2.26, 2.27, ..., 2.43": every row's version, for messages. */
void hs_glibc_layout_list(char *buf, size_t len);
/* Parse "2.36" (optionally followed by anything not a digit) into major
 * and minor. false on anything else. */
bool hs_glibc_parse_version(const char *s, size_t len, unsigned *major,
			    unsigned *minor);

#endif
