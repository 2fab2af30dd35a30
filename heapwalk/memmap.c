/* memmap.c: the memory map: every mapped byte given to one owner, and the memory table. */
#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "memmap.h"

/* x86_64's legacy vsyscall page (arch/x86/include/uapi/asm/vsyscall.h). */
#define MM_VSYSCALL UINT64_C(0xffffffffff600000)
/* The kernel's vvar pages sit right below the vdso; they are a few pages
 * (vvar, vvar_vclock), never more than this. */
#define MM_VVAR_MAX (256 * 1024)
/* Link maps followed from _r_debug: a process maps hundreds at most. */
#define MM_MAX_LINK_MAPS 65536
/* Bytes of ld.so's writable data read for pointers. */
#define MM_MAX_LDSO_SCAN (UINT64_C(16) << 20)
/* Named rows of the table (kinds × names): a handful in practice. */
#define MM_MAX_ROWS 64

static const char *const mm_kind_names[HS_MEM_NKINDS + 1] = {
	[HS_MEM_IN_USE] = "in_use",
	[HS_MEM_FREE] = "free",
	[HS_MEM_CACHED] = "cached",
	[HS_MEM_ALLOCATOR_METADATA] = "allocator_metadata",
	[HS_MEM_ALLOCATOR_RESERVED] = "allocator_reserved",
	[HS_MEM_MODULES] = "modules",
	[HS_MEM_DATA_FILES] = "data_files",
	[HS_MEM_STACKS] = "stacks",
	[HS_MEM_OTHER_ANONYMOUS] = "other_anonymous",
	[HS_MEM_INACCESSIBLE] = "inaccessible",
	[HS_MEM_HEAP] = "heap",
};

const char *hs_mem_kind_name(enum hs_mem_kind kind)
{
	return (unsigned)kind <= HS_MEM_HEAP ? mm_kind_names[kind] : "unknown";
}

/* ------------------------------------------------------------------------
 * Pieces and claims.
 * ------------------------------------------------------------------------ */

bool hs_mm_claim(struct mm_ctx *c, uint64_t start, uint64_t end,
		 enum mm_level level)
{
	if (end <= start)
		return true;
	if (c->nclaims == c->claims_cap &&
	    !hs_grow((void **)&c->claims, &c->claims_cap, c->nclaims + 1,
		     sizeof(*c->claims)))
		return false;
	c->claims[c->nclaims++] = (struct mm_claim){ start, end, level };
	return true;
}

size_t hs_mm_piece_at(const struct mm_ctx *c, uint64_t addr)
{
	size_t lo = 0, hi = c->npieces;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->pieces[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= c->pieces[lo - 1].end)
		return SIZE_MAX;
	return lo - 1;
}

bool hs_mm_anonymous(const struct mm_ctx *c, const struct mm_piece *p)
{
	(void)c;
	return p->file == SIZE_MAX;
}

/*
 * The kernel keeps each mapping's protection in its segment. gcore does
 * not: BFD marks every segment readable, so a PROT_NONE reservation and a
 * read-only mapping look alike; anonymous memory that is neither writable
 * nor executable is counted as inaccessible there (read-only anonymous
 * memory is rare; reservations are everywhere).
 */
bool hs_mm_noaccess(const struct mm_ctx *c, const struct mm_piece *p)
{
	if (!p->load)
		return false;
	switch (c->proc->core_writer) {
	case HS_CORE_WRITER_KERNEL:
		return !(p->flags & (PF_R | PF_W | PF_X));
	case HS_CORE_WRITER_GCORE:
		return !(p->flags & (PF_W | PF_X));
	case HS_CORE_WRITER_UNKNOWN:
		break;
	}
	return p->flags == 0;
}

bool hs_mm_writable(const struct mm_ctx *c, const struct mm_piece *p)
{
	(void)c;
	return p->load && (p->flags & PF_W);
}

static int mm_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * Cut the address space the core records (PT_LOAD segments, and NT_FILE
 * mappings, which gcore leaves out when they are unmodified files) into
 * pieces at every boundary of either, so that each piece has one segment
 * (or none) and one file (or none).
 */
static bool mm_build_pieces(struct mm_ctx *c)
{
	const struct hs_process *proc = c->proc;
	const struct hs_memory *mem = &proc->mem;
	size_t n = 2 * (mem->count + proc->nfiles);
	uint64_t *pts = malloc((n ? n : 1) * sizeof(*pts));
	if (!pts)
		return false;
	size_t k = 0;
	for (size_t i = 0; i < mem->count; i++) {
		pts[k++] = mem->ranges[i].start;
		pts[k++] = mem->ranges[i].start + mem->ranges[i].memsz;
	}
	for (size_t i = 0; i < proc->nfiles; i++) {
		if (proc->files[i].end <= proc->files[i].start)
			continue;
		pts[k++] = proc->files[i].start;
		pts[k++] = proc->files[i].end;
	}
	qsort(pts, k, sizeof(*pts), mm_cmp_u64);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (!u || pts[i] != pts[u - 1])
			pts[u++] = pts[i];
	size_t cap = 0;
	for (size_t i = 0; i + 1 < u; i++) {
		uint64_t a = pts[i], b = pts[i + 1];
		const struct hs_memory_range *r = hs_memory_find(mem, a);
		const struct hs_file_mapping *fm = hs_process_file_at(proc, a);
		size_t f = fm ? (size_t)(fm - proc->files) : SIZE_MAX;
		if (!r && f == SIZE_MAX)
			continue;
		if (c->npieces == cap &&
		    !hs_grow((void **)&c->pieces, &cap, c->npieces + 1,
			     sizeof(*c->pieces))) {
			free(pts);
			return false;
		}
		struct mm_piece *p = &c->pieces[c->npieces++];
		memset(p, 0, sizeof(*p));
		p->start = a;
		p->end = b;
		p->backed_end = a;
		p->file = f;
		if (r) {
			uint64_t be = r->start + r->filesz;
			p->load = true;
			p->flags = r->flags;
			p->backed_end = be <= a ? a : be < b ? be : b;
		}
	}
	free(pts);
	return true;
}

/* ------------------------------------------------------------------------
 * The sweep: exact claims, highest level wins.
 * ------------------------------------------------------------------------ */

struct mm_event {
	uint64_t addr;
	enum mm_level level;
	int delta;
};

static int mm_cmp_event(const void *a, const void *b)
{
	const struct mm_event *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static enum mm_level mm_winner(const int64_t *count)
{
	for (int l = 0; l < MM_NONE; l++)
		if (count[l] > 0)
			return (enum mm_level)l;
	return MM_NONE;
}

static bool mm_push_seg(struct mm_ctx *c, size_t *cap, size_t pi, uint64_t a,
			uint64_t b, enum mm_level level)
{
	if (c->nsegs == *cap &&
	    !hs_grow((void **)&c->segs, cap, c->nsegs + 1, sizeof(*c->segs)))
		return false;
	c->segs[c->nsegs++] = (struct mm_seg){ a, b, pi, level, NULL };
	return true;
}

static bool mm_sweep(struct mm_ctx *c)
{
	size_t nev = 2 * c->nclaims;
	struct mm_event *ev = malloc((nev ? nev : 1) * sizeof(*ev));
	if (!ev)
		return false;
	for (size_t i = 0; i < c->nclaims; i++) {
		ev[2 * i] = (struct mm_event){ c->claims[i].start, c->claims[i].level, 1 };
		ev[2 * i + 1] = (struct mm_event){ c->claims[i].end, c->claims[i].level, -1 };
	}
	qsort(ev, nev, sizeof(*ev), mm_cmp_event);
	int64_t count[MM_NONE] = { 0 };
	size_t e = 0, cap = 0;
	bool ok = true;
	for (size_t pi = 0; pi < c->npieces && ok; pi++) {
		struct mm_piece *p = &c->pieces[pi];
		while (e < nev && ev[e].addr <= p->start) {
			count[ev[e].level] += ev[e].delta;
			e++;
		}
		p->seg0 = c->nsegs;
		uint64_t cur = p->start;
		while (cur < p->end && ok) {
			uint64_t next = e < nev && ev[e].addr < p->end ? ev[e].addr : p->end;
			if (next > cur)
				ok = mm_push_seg(c, &cap, pi, cur, next, mm_winner(count));
			cur = next;
			while (e < nev && ev[e].addr <= cur) {
				count[ev[e].level] += ev[e].delta;
				e++;
			}
		}
		p->nseg = c->nsegs - p->seg0;
	}
	free(ev);
	return ok;
}

/* Give what is still unclaimed in a piece to `level`. */
static void mm_take_piece_named(struct mm_ctx *c, size_t pi, enum mm_level level,
				const char *name)
{
	if (pi >= c->npieces)
		return;
	const struct mm_piece *p = &c->pieces[pi];
	for (size_t i = p->seg0; i < p->seg0 + p->nseg; i++) {
		if (c->segs[i].level == MM_NONE) {
			c->segs[i].level = level;
			c->segs[i].name = name;
		}
	}
}

static void mm_take_piece(struct mm_ctx *c, size_t pi, enum mm_level level)
{
	mm_take_piece_named(c, pi, level, NULL);
}

/* ------------------------------------------------------------------------
 * Who holds what.
 * ------------------------------------------------------------------------ */

static enum mm_level mm_region_level(const char *kind)
{
	static const struct {
		const char *kind;
		enum mm_level level;
	} map[] = {
		{ HS_REGION_HEAP, MM_HEAP },
		{ HS_REGION_METADATA, MM_META },
		{ HS_REGION_RESERVED, MM_RESERVED },
		/* The walkers' own words for reserved space. */
		{ "retained", MM_RESERVED }, /* jemalloc */
		{ "unmapped", MM_RESERVED }, /* tcmalloc */
	};
	for (size_t i = 0; i < HS_ARRAY_SIZE(map); i++)
		if (strcmp(kind, map[i].kind) == 0)
			return map[i].level;
	return MM_NONE;
}

struct mm_runs {
	struct mm_ctx *c;
	bool ok;
};

static bool mm_claim_run(uint64_t start, uint64_t end, void *arg)
{
	struct mm_runs *r = arg;
	r->ok = hs_mm_claim(r->c, start, end, MM_HEAP);
	return r->ok;
}

/*
 * The walker's declared ranges. A walker that declares no heap range (one
 * written before the memory table) still has its chunks counted as chunks:
 * the runs of touching chunks stand for its heap, and a word says its
 * metadata and reserved space are not known.
 */
static bool mm_claim_walker(struct mm_ctx *c, struct hs_diags *diags)
{
	const struct hs_heap *heap = c->heap;
	bool heap_declared = false;
	for (size_t i = 0; heap && i < heap->nregions; i++) {
		const struct hs_region *r = &heap->regions[i];
		enum mm_level l = mm_region_level(r->kind);
		uint64_t end = r->start + r->size < r->start ? UINT64_MAX : r->start + r->size;
		heap_declared |= l == MM_HEAP;
		if (l != MM_NONE && !hs_mm_claim(c, r->start, end, l))
			return false;
	}
	if (!heap || heap_declared || !heap->nchunks)
		return true;
	hs_diags_add(diags, HS_DIAG_INFO, false, 0,
		     "memory table: the %s walker declares no heap ranges; its chunks "
		     "stand for its heap, and its metadata and reserved space are "
		     "counted as other memory", heap->allocator);
	struct mm_runs runs = { c, true };
	hs_heap_chunk_runs(heap, mm_claim_run, &runs);
	return runs.ok;
}

static uint64_t mm_auxv(const struct hs_process *proc, uint64_t type)
{
	for (size_t i = 0; i < proc->naux; i++)
		if (proc->auxv[2 * i] == type)
			return proc->auxv[2 * i + 1];
	return 0;
}

/* The modules' spans, and what the kernel maps for every process: the
 * vdso (AT_SYSINFO_EHDR), the vvar pages right below it, the vsyscall page. */
static bool mm_claim_modules(struct mm_ctx *c)
{
	const struct hs_process *proc = c->proc;
	for (size_t i = 0; i < proc->nmodules; i++)
		if (!hs_mm_claim(c, proc->modules[i].start, proc->modules[i].end,
				 MM_MODULE))
			return false;
	uint64_t vdso = mm_auxv(proc, AT_SYSINFO_EHDR);
	size_t pi = vdso ? hs_mm_piece_at(c, vdso) : SIZE_MAX;
	if (pi != SIZE_MAX) {
		const struct mm_piece *p = &c->pieces[pi];
		if (!hs_mm_claim(c, p->start, p->end, MM_MODULE))
			return false;
		uint64_t below = 0;
		for (size_t j = pi; j > 0; j--) {
			const struct mm_piece *q = &c->pieces[j - 1];
			below += q->end - q->start;
			if (q->end != c->pieces[j].start || !hs_mm_anonymous(c, q) ||
			    hs_mm_writable(c, q) || below > MM_VVAR_MAX)
				break;
			if (!hs_mm_claim(c, q->start, q->end, MM_MODULE))
				return false;
		}
	}
	pi = hs_mm_piece_at(c, MM_VSYSCALL);
	if (pi != SIZE_MAX &&
	    !hs_mm_claim(c, c->pieces[pi].start, c->pieces[pi].end, MM_MODULE))
		return false;
	return true;
}

/* A stack's piece and the inaccessible piece right below it (glibc's guard
 * page; no bigger than the stack itself). */
static void mm_stack_piece(struct mm_ctx *c, size_t pi)
{
	if (pi == SIZE_MAX || !hs_mm_anonymous(c, &c->pieces[pi]))
		return;
	mm_take_piece(c, pi, MM_STACK);
	const struct mm_piece *s = &c->pieces[pi];
	const struct mm_piece *g = pi ? &c->pieces[pi - 1] : NULL;
	if (g && g->end == s->start && hs_mm_anonymous(c, g) && hs_mm_noaccess(c, g) &&
	    g->end - g->start <= s->end - s->start)
		mm_take_piece(c, pi - 1, MM_STACK);
}

/*
 * Stacks: the piece holding each thread's stack pointer, and the one
 * holding its thread pointer: the main thread's TLS block, and for the
 * other threads the top of their stack mapping, where glibc puts the TLS
 * block and thread descriptor (so a thread caught on another stack, a
 * signal handler's, still has its own counted). The main thread's stack
 * is also where the kernel put the program's name and random bytes
 * (AT_EXECFN, AT_RANDOM), whatever stack the thread was on.
 */
static void mm_stacks(struct mm_ctx *c)
{
	const struct hs_process *proc = c->proc;
	static const uint64_t initial[] = { AT_EXECFN, AT_RANDOM };
	for (size_t i = 0; i < HS_ARRAY_SIZE(initial); i++) {
		uint64_t a = mm_auxv(proc, initial[i]);
		if (a)
			mm_stack_piece(c, hs_mm_piece_at(c, a));
	}
	for (size_t t = 0; t < proc->nthreads; t++) {
		const struct hs_thread *th = &proc->threads[t];
		mm_stack_piece(c, hs_mm_piece_at(c, th->rsp));
		if (th->fs_base)
			mm_stack_piece(c, hs_mm_piece_at(c, th->fs_base));
	}
}

static void mm_take_anon_at(struct mm_ctx *c, uint64_t addr, enum mm_level level,
			    const char *name)
{
	size_t pi = addr >= 4096 ? hs_mm_piece_at(c, addr) : SIZE_MAX;
	if (pi != SIZE_MAX && hs_mm_anonymous(c, &c->pieces[pi]))
		mm_take_piece_named(c, pi, level, name);
}

/* Give the unclaimed anonymous pieces that the words of a module's
 * writable data point into to `level` (and `name`), reading at most
 * *budget bytes. */
static void mm_module_pointers(struct mm_ctx *c, const struct hs_module *mod,
			       uint64_t *budget, enum mm_level level, const char *name)
{
	for (size_t pi = hs_mm_piece_at(c, mod->start);
	     pi < c->npieces && c->pieces[pi].start < mod->end && *budget; pi++) {
		const struct mm_piece *p = &c->pieces[pi];
		uint64_t n = (p->backed_end - p->start) / 8;
		if (!hs_mm_writable(c, p) || !n)
			continue;
		if (n > *budget / 8)
			n = *budget / 8;
		*budget -= 8 * n;
		const uint8_t *w = hs_memory_ptr(&c->proc->mem, p->start, 8 * n);
		for (uint64_t k = 0; w && k < n; k++) {
			uint64_t v;
			memcpy(&v, w + 8 * k, sizeof(v));
			mm_take_anon_at(c, v, level, name);
		}
	}
}

/*
 * The dynamic linker's own allocations: before libc's malloc is ready,
 * ld.so maps pages of its own (rtld's minimal malloc) for the link maps of
 * the libraries it loads, their names and search paths, and the main
 * thread's TLS and dtv. Its writable data points at them, and so do the
 * link maps on _r_debug's list (<link.h>: r_map at +8; l_name at +8, l_next
 * at +24) and each thread's dtv (tcbhead_t.dtv, at fs_base + 8).
 */
static void mm_ldso(struct mm_ctx *c)
{
	struct hs_process *proc = c->proc;
	struct hs_symbol sym;
	/* ld.so is where the kernel loaded the interpreter (AT_BASE); its
	 * data is in the core even when its file (and _r_debug) is not. */
	uint64_t at_base = mm_auxv(proc, AT_BASE);
	struct hs_module *ld = at_base ? hs_process_module_at(proc, at_base) : NULL;
	uint64_t l = 0;
	if (!ld || !hs_module_symbol(ld, "_r_debug", &sym) ||
	    !hs_memory_u64(&proc->mem, sym.addr + 8, &l))
		l = 0;
	/* ld.so's data is tens of KiB; a hostile span gets no more than this. */
	uint64_t budget = MM_MAX_LDSO_SCAN;
	if (ld)
		mm_module_pointers(c, ld, &budget, MM_LDSO, NULL);
	uint64_t tortoise = l, power = 1, lam = 0;
	for (size_t n = 0; l && n < MM_MAX_LINK_MAPS; n++) {
		uint64_t name, next;
		mm_take_anon_at(c, l, MM_LDSO, NULL);
		if (hs_memory_u64(&proc->mem, l + 8, &name))
			mm_take_anon_at(c, name, MM_LDSO, NULL);
		if (!hs_memory_u64(&proc->mem, l + 24, &next))
			break;
		l = next;
		if (l == tortoise)
			break;
		if (++lam == power) {
			tortoise = l;
			power *= 2;
			lam = 0;
		}
	}
	for (size_t t = 0; t < proc->nthreads; t++) {
		uint64_t dtv;
		if (proc->threads[t].fs_base &&
		    hs_memory_u64(&proc->mem, proc->threads[t].fs_base + 8, &dtv))
			mm_take_anon_at(c, dtv, MM_LDSO, NULL);
	}
}

/*
 * Anonymous memory that a module's writable data points at is the module's
 * own mmap (a memory pool, a cache: libunwind's, say), named after it; what
 * stays in other_anonymous is memory no global points at. The scan reads
 * each module's data once, bounded.
 */
#define MM_MAX_DATA_SCAN (UINT64_C(256) << 20)

static void mm_referenced(struct mm_ctx *c)
{
	const struct hs_process *proc = c->proc;
	uint64_t budget = MM_MAX_DATA_SCAN;
	for (size_t m = 0; m < proc->nmodules && budget; m++) {
		const struct hs_module *mod = &proc->modules[m];
		const char *base = strrchr(mod->name, '/');
		mm_module_pointers(c, mod, &budget, MM_REFERENCED,
				   base ? base + 1 : mod->name);
	}
}

static bool mm_shared_anonymous(const char *path)
{
	/* MAP_SHARED|MAP_ANONYMOUS shows as /dev/zero, SysV shm as /SYSV...,
	 * memfd_create as /memfd:NAME, all "(deleted)". */
	return strncmp(path, "/dev/zero", 9) == 0 || strncmp(path, "/SYSV", 5) == 0 ||
	       strncmp(path, "/memfd:", 7) == 0;
}

static void mm_files(struct mm_ctx *c)
{
	for (size_t pi = 0; pi < c->npieces; pi++) {
		size_t f = c->pieces[pi].file;
		if (f == SIZE_MAX)
			continue;
		mm_take_piece(c, pi, mm_shared_anonymous(c->proc->files[f].path) ?
			      MM_SHARED_ANON : MM_FILE);
	}
}

/* ------------------------------------------------------------------------
 * Ranges and the table.
 * ------------------------------------------------------------------------ */

static void mm_seg_kind(const struct mm_ctx *c, const struct mm_seg *s,
			enum hs_mem_kind *kind, const char **name)
{
	const struct mm_piece *p = &c->pieces[s->piece];
	enum hs_mem_kind anon = hs_mm_noaccess(c, p) ? HS_MEM_INACCESSIBLE :
				HS_MEM_OTHER_ANONYMOUS;
	*name = NULL;
	switch (s->level) {
	case MM_HEAP:
		*kind = HS_MEM_HEAP;
		return;
	case MM_META:
		*kind = HS_MEM_ALLOCATOR_METADATA;
		return;
	case MM_RESERVED:
		*kind = HS_MEM_ALLOCATOR_RESERVED;
		return;
	case MM_MODULE:
		*kind = HS_MEM_MODULES;
		return;
	case MM_LDSO:
		*kind = HS_MEM_MODULES;
		*name = "dynamic linker";
		return;
	case MM_STACK:
		*kind = HS_MEM_STACKS;
		return;
	case MM_GO_HEAP:
		*kind = anon;
		*name = "Go heap";
		return;
	case MM_GO_RUNTIME:
		*kind = anon;
		*name = "Go runtime";
		return;
	case MM_SHARED_ANON:
		*kind = HS_MEM_OTHER_ANONYMOUS;
		*name = "shared memory";
		return;
	case MM_REFERENCED:
		*kind = anon;
		*name = s->name;
		return;
	case MM_FILE:
		*kind = HS_MEM_DATA_FILES;
		return;
	case MM_NONE:
		break;
	}
	*kind = hs_mm_anonymous(c, p) ? anon : HS_MEM_DATA_FILES;
}

static uint64_t mm_seg_dumped(const struct mm_ctx *c, const struct mm_seg *s)
{
	const struct mm_piece *p = &c->pieces[s->piece];
	uint64_t hi = p->backed_end < s->end ? p->backed_end : s->end;
	return hi > s->start ? hi - s->start : 0;
}

static bool mm_build_ranges(struct mm_ctx *c, struct hs_memmap *m)
{
	size_t cap = 0;
	for (size_t i = 0; i < c->nsegs; i++) {
		const struct mm_seg *s = &c->segs[i];
		enum hs_mem_kind kind;
		const char *name;
		mm_seg_kind(c, s, &kind, &name);
		uint64_t dumped = mm_seg_dumped(c, s);
		struct hs_mem_range *last = m->nranges ? &m->ranges[m->nranges - 1] : NULL;
		if (last && last->end == s->start && last->kind == kind &&
		    last->name == name) {
			last->end = s->end;
			last->dumped += dumped;
			continue;
		}
		if (m->nranges == cap &&
		    !hs_grow((void **)&m->ranges, &cap, m->nranges + 1,
			     sizeof(*m->ranges)))
			return false;
		m->ranges[m->nranges++] = (struct hs_mem_range){
			s->start, s->end, dumped, kind, name,
		};
	}
	return true;
}

/* The row for (kind, name), added if new; NULL when the table is full
 * (more names than any process has: the bytes go to the main row). */
static struct hs_mem_row *mm_row(struct hs_mem_row *rows, size_t *n,
				 enum hs_mem_kind kind, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (rows[i].kind == kind && rows[i].name == name)
			return &rows[i];
	if (*n == MM_MAX_ROWS)
		return name ? mm_row(rows, n, kind, NULL) : NULL;
	rows[*n] = (struct hs_mem_row){ .kind = kind, .name = name };
	return &rows[(*n)++];
}

static int mm_cmp_row(const void *a, const void *b)
{
	const struct hs_mem_row *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (!x->name != !y->name)
		return x->name ? 1 : -1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->name && y->name ? strcmp(x->name, y->name) : 0;
}

/*
 * The allocator's heap ranges split into chunk states, the metadata chunks
 * and what no chunk covers. Chunks outside every range of the allocator's
 * are already counted where they lie (a walker that did not declare them):
 * they get a word, and the table stays exact.
 */
static void mm_heap_rows(struct hs_memmap *m, const struct hs_heap *heap,
			 const struct hs_memory *mem, struct hs_mem_row *rows,
			 size_t *n)
{
	uint64_t hv = 0, hd = 0;
	for (size_t i = 0; i < m->nranges; i++) {
		const struct hs_mem_range *r = &m->ranges[i];
		if (r->kind != HS_MEM_HEAP)
			continue;
		hv += r->end - r->start;
		hd += r->dumped;
	}
	struct hs_heap_cover cv;
	memset(&cv, 0, sizeof(cv));
	if (heap)
		hs_heap_cover(heap, mem, m->ranges, m->nranges, &cv);
	if (cv.outside)
		hs_diags_add(&m->diags, HS_DIAG_WARNING, false, 0,
			     "memory table: %" PRIu64 " bytes of chunks lie outside the "
			     "ranges the %s walker declared; they are counted where "
			     "they lie", cv.outside, heap->allocator);
	static const enum hs_mem_kind state_kind[3] = {
		[HS_CHUNK_IN_USE] = HS_MEM_IN_USE,
		[HS_CHUNK_FREE] = HS_MEM_FREE,
		[HS_CHUNK_CACHED] = HS_MEM_CACHED,
	};
	uint64_t v = 0, d = 0;
	for (int k = 0; k < 3; k++) {
		struct hs_mem_row *row = mm_row(rows, n, state_kind[k], NULL);
		row->bytes += cv.bytes[k];
		row->dumped += cv.dumped[k];
		v += cv.bytes[k];
		d += cv.dumped[k];
	}
	/* Metadata chunks and what no chunk covers (the cover counts each
	 * byte of the heap ranges once, so v <= hv and d <= hd). */
	struct hs_mem_row *meta = mm_row(rows, n, HS_MEM_ALLOCATOR_METADATA, NULL);
	meta->bytes += hv - v;
	meta->dumped += hd - d;
}

static bool mm_build_table(struct hs_memmap *m, const struct hs_heap *heap,
			   const struct hs_memory *mem)
{
	struct hs_mem_row rows[MM_MAX_ROWS];
	size_t n = 0;
	for (int k = 0; k < HS_MEM_NKINDS; k++)
		mm_row(rows, &n, (enum hs_mem_kind)k, NULL);
	for (size_t i = 0; i < m->nranges; i++) {
		const struct hs_mem_range *r = &m->ranges[i];
		m->mapped += r->end - r->start;
		m->dumped += r->dumped;
		if (r->kind == HS_MEM_HEAP)
			continue;
		struct hs_mem_row *row = mm_row(rows, &n, r->kind, r->name);
		row->bytes += r->end - r->start;
		row->dumped += r->dumped;
		row->ranges++;
	}
	mm_heap_rows(m, heap, mem, rows, &n);
	qsort(rows, n, sizeof(*rows), mm_cmp_row);
	m->rows = malloc(n * sizeof(*m->rows));
	if (!m->rows)
		return false;
	memcpy(m->rows, rows, n * sizeof(*rows));
	m->nrows = n;
	return true;
}

struct hs_error *hs_memmap_build(struct hs_process *proc,
				 const struct hs_heap *heap,
				 struct hs_memmap **ret)
{
	struct hs_memmap *m = calloc(1, sizeof(*m));
	if (!m)
		return HS_ENOMEM;
	hs_diags_init(&m->diags);
	m->writer = proc->core_writer;
	struct mm_ctx c = {
		.proc = proc,
		.heap = heap,
	};
	bool ok = mm_build_pieces(&c) && mm_claim_walker(&c, &m->diags) &&
		  mm_claim_modules(&c) && hs_mm_go_heap(&c) && mm_sweep(&c);
	if (ok) {
		mm_stacks(&c);
		mm_ldso(&c);
		ok = hs_mm_go_runtime(&c);
	}
	if (ok) {
		mm_referenced(&c);
		mm_files(&c);
		ok = mm_build_ranges(&c, m) && mm_build_table(m, heap, &proc->mem);
	}
	free(c.pieces);
	free(c.claims);
	free(c.segs);
	if (!ok) {
		hs_memmap_destroy(m);
		return HS_ENOMEM;
	}
	*ret = m;
	return NULL;
}

void hs_memmap_destroy(struct hs_memmap *map)
{
	if (!map)
		return;
	free(map->ranges);
	free(map->rows);
	hs_diags_deinit(&map->diags);
	free(map);
}

const struct hs_mem_range *hs_memmap_find(const struct hs_memmap *map,
					  uint64_t addr)
{
	size_t lo = 0, hi = map->nranges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (map->ranges[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= map->ranges[lo - 1].end)
		return NULL;
	return &map->ranges[lo - 1];
}
