/* test_memmap.c: unit tests for the memory map over a synthetic process. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../heapwalk/heapwalk.h"
#include "check.h"

/*
 * The address space (pages of 4 KiB):
 *   0x10000  libx.so: ELF header page (R), code (R X, never dumped by the
 *            kernel), .data (RW, points at region A); its span runs to
 *            0x14000, of which 0x13000 up is not mapped
 *   0x100000 a heap range of 0x20000 with four chunks, then 0x20000 reserved
 *            (PROT_NONE)
 *   0x200000 a guard page, then a thread's 32 KiB stack (sp and TLS in it)
 *   0x300000 /srv/data.db, two pages, not dumped
 *   0x380000 /dev/zero (deleted): shared anonymous memory
 *   0x400000 region A, 4 pages libx.so's data points at (and a stray chunk)
 *   0x500000 region B, 3 pages nobody points at, 1 in the core
 *   0x600000 16 pages PROT_NONE
 *   0x700000 /usr/lib/libfoo.so in NT_FILE, no segment (gcore leaves out
 *            unmodified file mappings)
 *   0x7ec000 vvar (4 pages), then the vdso (2 pages) at AT_SYSINFO_EHDR
 */
#define PG 4096u
#define LIBX 0x10000u
#define HEAP 0x100000u
#define GUARD 0x200000u
#define STACK (GUARD + PG)
#define DATA_DB 0x300000u
#define SHM 0x380000u
#define REGION_A 0x400000u
#define REGION_B 0x500000u
#define NONE 0x600000u
#define FOO 0x700000u
#define VVAR 0x7ec000u
#define VDSO 0x7f0000u

static uint8_t buf[0x40000];
static uint64_t auxv[4] = { AT_SYSINFO_EHDR, VDSO, AT_NULL, 0 };
static struct hs_file_mapping files[] = {
	{ LIBX, LIBX + 2 * PG, 0, "/lib/libx.so" },
	{ DATA_DB, DATA_DB + 2 * PG, 0, "/srv/data.db" },
	{ SHM, SHM + PG, 0, "/dev/zero (deleted)" },
	{ FOO, FOO + PG, 0, "/usr/lib/libfoo.so" },
};

static void add(struct hs_process *proc, uint64_t start, uint64_t size, uint64_t filesz,
		uint32_t flags)
{
	CHECK(hs_memory_add(&proc->mem, start, size, filesz ? buf : NULL, filesz, flags) == NULL);
}

/* The process as `writer` writes it: gcore marks PROT_NONE readable and
 * dumps it (zeros); the kernel keeps its flags and dumps nothing of it. */
static struct hs_process *build(enum hs_core_writer writer)
{
	struct hs_process *proc;
	CHECK(hs_process_create(&proc) == NULL);
	bool kernel = writer == HS_CORE_WRITER_KERNEL;
	uint32_t none = kernel ? 0 : PF_R;
	proc->core_writer = writer;
	/* libx.so's .data points at region A (every range reads buf). */
	uint64_t ptr = REGION_A + 0x10;
	memcpy(buf, &ptr, sizeof(ptr));
	add(proc, LIBX, PG, PG, PF_R);
	add(proc, LIBX + PG, PG, kernel ? 0 : PG, PF_R | PF_X);
	add(proc, LIBX + 2 * PG, PG, PG, PF_R | PF_W);
	add(proc, HEAP, 0x20000, 0x20000, PF_R | PF_W);
	add(proc, HEAP + 0x20000, 0x20000, kernel ? 0 : 0x20000, none);
	add(proc, GUARD, PG, kernel ? 0 : PG, none);
	add(proc, STACK, 8 * PG, 8 * PG, PF_R | PF_W);
	add(proc, DATA_DB, 2 * PG, 0, PF_R);
	add(proc, SHM, PG, PG, PF_R | PF_W);
	add(proc, REGION_A, 4 * PG, 4 * PG, PF_R | PF_W);
	add(proc, REGION_B, 3 * PG, PG, PF_R | PF_W);
	add(proc, NONE, 16 * PG, kernel ? 0 : 16 * PG, none);
	add(proc, VVAR, 4 * PG, 4 * PG, PF_R);
	add(proc, VDSO, 2 * PG, 2 * PG, PF_R | PF_X);
	CHECK(hs_memory_seal(&proc->mem) == NULL);
	struct hs_thread t = { .tid = 1, .rsp = STACK + 8 * PG - 0x100,
			       .fs_base = STACK + 8 * PG - 0x80 };
	CHECK(hs_process_add_thread(proc, &t) == NULL);
	proc->files = files;
	proc->nfiles = HS_ARRAY_SIZE(files);
	proc->auxv = auxv;
	proc->naux = 1;
	proc->modules = calloc(1, sizeof(*proc->modules));
	proc->modules[0] = (struct hs_module){ .name = strdup("/lib/libx.so"),
					       .start = LIBX, .end = LIBX + 4 * PG };
	proc->nmodules = 1;
	return proc;
}

/* The files and auxv are the test's: detach them before the process goes. */
static void destroy(struct hs_process *proc)
{
	proc->files = NULL;
	proc->nfiles = 0;
	proc->auxv = NULL;
	hs_process_destroy(proc);
}

/* A glibc-like heap (chunk addresses 16 bytes past the chunk) in
 * [HEAP, +0x20000), the rest of its reservation after it, and a chunk in
 * region A that no declared range holds. */
static struct hs_heap *build_heap(bool overlap)
{
	struct hs_heap *heap;
	CHECK(hs_heap_create(&heap) == NULL);
	heap->chunk_offset = 16;
	CHECK(hs_heap_add_region(heap, HS_REGION_HEAP, HEAP, 0x20000));
	CHECK(hs_heap_add_region(heap, HS_REGION_RESERVED, HEAP + 0x20000, 0x20000));
	CHECK(hs_heap_add_region(heap, "arena_header", HEAP, 0x10));
	CHECK(hs_heap_add_chunk(heap, HEAP + 0x10, 0x100, HS_CHUNK_IN_USE, 0));
	CHECK(hs_heap_add_chunk(heap, HEAP + 0x110, 0x200, HS_CHUNK_FREE, 0));
	CHECK(hs_heap_add_chunk(heap, HEAP + 0x310, 0x40, HS_CHUNK_CACHED, 0));
	CHECK(hs_heap_add_chunk(heap, HEAP + 0x350, 0x290, HS_CHUNK_IN_USE,
				HS_CHUNK_F_METADATA));
	CHECK(hs_heap_add_chunk(heap, REGION_A + 0x110, 0x20, HS_CHUNK_IN_USE, 0));
	if (overlap) /* a corrupt size: over the others, the heap and past it */
		CHECK(hs_heap_add_chunk(heap, HEAP + 0x210, 0x40000, HS_CHUNK_FREE, 0));
	CHECK(hs_heap_finish(heap) == NULL);
	return heap;
}

static const struct hs_mem_row *row(const struct hs_memmap *m, enum hs_mem_kind kind,
				    const char *name)
{
	for (size_t i = 0; i < m->nrows; i++)
		if (m->rows[i].kind == kind && (name ? m->rows[i].name &&
						!strcmp(m->rows[i].name, name) : !m->rows[i].name))
			return &m->rows[i];
	return NULL;
}

static uint64_t bytes(const struct hs_memmap *m, enum hs_mem_kind kind, const char *name)
{
	const struct hs_mem_row *r = row(m, kind, name);
	return r ? r->bytes : UINT64_MAX;
}

static uint64_t dumped(const struct hs_memmap *m, enum hs_mem_kind kind, const char *name)
{
	const struct hs_mem_row *r = row(m, kind, name);
	return r ? r->dumped : UINT64_MAX;
}

/* Rows sum to mapped and dumped; every kind has its main row, in order. */
static void check_sums(const struct hs_memmap *m, const struct hs_process *proc)
{
	uint64_t v = 0, d = 0, mapped = 0, backed = 0;
	int kind = -1;
	for (size_t i = 0; i < m->nrows; i++) {
		v += m->rows[i].bytes;
		d += m->rows[i].dumped;
		CHECK((int)m->rows[i].kind >= kind);
		if (!m->rows[i].name)
			CHECK((int)m->rows[i].kind == ++kind);
	}
	CHECK_EQ(kind, HS_MEM_NKINDS - 1);
	CHECK_EQ(v, m->mapped);
	CHECK_EQ(d, m->dumped);
	for (size_t i = 0; i < proc->mem.count; i++) {
		mapped += proc->mem.ranges[i].memsz;
		backed += proc->mem.ranges[i].filesz;
	}
	/* libfoo.so: NT_FILE only */
	CHECK_EQ(m->mapped, mapped + PG);
	CHECK_EQ(m->dumped, backed);
}

static void test_table(enum hs_core_writer writer)
{
	bool kernel = writer == HS_CORE_WRITER_KERNEL;
	struct hs_process *proc = build(writer);
	struct hs_heap *heap = build_heap(false);
	struct hs_memmap *m = NULL;
	CHECK(hs_memmap_build(proc, heap, &m) == NULL);
	if (!m)
		return;
	check_sums(m, proc);
	CHECK_EQ(m->writer, writer);
	CHECK_EQ(bytes(m, HS_MEM_IN_USE, NULL), 0x100);
	CHECK_EQ(bytes(m, HS_MEM_FREE, NULL), 0x200);
	CHECK_EQ(bytes(m, HS_MEM_CACHED, NULL), 0x40);
	/* The heap range less its chunks; the metadata chunk is in it. */
	CHECK_EQ(bytes(m, HS_MEM_ALLOCATOR_METADATA, NULL), 0x20000 - 0x340);
	CHECK_EQ(dumped(m, HS_MEM_ALLOCATOR_METADATA, NULL), 0x20000 - 0x340);
	CHECK_EQ(bytes(m, HS_MEM_ALLOCATOR_RESERVED, NULL), 0x20000);
	CHECK_EQ(dumped(m, HS_MEM_ALLOCATOR_RESERVED, NULL), kernel ? 0 : 0x20000);
	/* libx.so's three mapped pages, vvar and the vdso. */
	CHECK_EQ(bytes(m, HS_MEM_MODULES, NULL), 9 * PG);
	CHECK_EQ(dumped(m, HS_MEM_MODULES, NULL), kernel ? 8 * PG : 9 * PG);
	CHECK_EQ(bytes(m, HS_MEM_DATA_FILES, NULL), 3 * PG);
	CHECK_EQ(dumped(m, HS_MEM_DATA_FILES, NULL), 0);
	CHECK_EQ(bytes(m, HS_MEM_STACKS, NULL), 9 * PG);
	CHECK_EQ(dumped(m, HS_MEM_STACKS, NULL), kernel ? 8 * PG : 9 * PG);
	CHECK_EQ(bytes(m, HS_MEM_OTHER_ANONYMOUS, NULL), 3 * PG);
	CHECK_EQ(dumped(m, HS_MEM_OTHER_ANONYMOUS, NULL), PG);
	CHECK_EQ(bytes(m, HS_MEM_OTHER_ANONYMOUS, "libx.so"), 4 * PG);
	CHECK_EQ(bytes(m, HS_MEM_OTHER_ANONYMOUS, "shared memory"), PG);
	CHECK_EQ(bytes(m, HS_MEM_INACCESSIBLE, NULL), 16 * PG);
	CHECK_EQ(dumped(m, HS_MEM_INACCESSIBLE, NULL), kernel ? 0 : 16 * PG);
	const struct hs_mem_row *lr = row(m, HS_MEM_OTHER_ANONYMOUS, "libx.so");
	CHECK(lr && lr->ranges == 1);
	CHECK(row(m, HS_MEM_IN_USE, NULL) && row(m, HS_MEM_IN_USE, NULL)->ranges == 0);
	/* The stray chunk in region A: one word, and counted where it lies. */
	CHECK_EQ(m->diags.count, 1);
	CHECK(m->diags.count && strstr(m->diags.items[0].message, "32 bytes of chunks"));

	const struct hs_mem_range *r = hs_memmap_find(m, HEAP + 0x100);
	CHECK(r && r->kind == HS_MEM_HEAP && r->start == HEAP && r->end == HEAP + 0x20000);
	r = hs_memmap_find(m, STACK + 5);
	CHECK(r && r->kind == HS_MEM_STACKS && r->start == GUARD && r->end == STACK + 8 * PG);
	r = hs_memmap_find(m, REGION_A);
	CHECK(r && r->kind == HS_MEM_OTHER_ANONYMOUS && r->name && !strcmp(r->name, "libx.so"));
	CHECK(hs_memmap_find(m, LIBX + 3 * PG) == NULL); /* in the span, not mapped */
	CHECK(hs_memmap_find(m, 0x800000) == NULL);
	hs_memmap_destroy(m);

	/* Without an allocator: no chunk, nothing the walker holds. */
	CHECK(hs_memmap_build(proc, NULL, &m) == NULL);
	if (m) {
		check_sums(m, proc);
		CHECK_EQ(bytes(m, HS_MEM_IN_USE, NULL), 0);
		CHECK_EQ(bytes(m, HS_MEM_ALLOCATOR_RESERVED, NULL), 0);
		CHECK_EQ(bytes(m, HS_MEM_OTHER_ANONYMOUS, NULL), 3 * PG + 0x20000);
		CHECK_EQ(bytes(m, HS_MEM_INACCESSIBLE, NULL), 16 * PG + 0x20000);
	}
	hs_memmap_destroy(m);
	hs_heap_destroy(heap);
	destroy(proc);
}

/* A chunk whose size covers others, the whole heap and more (corruption):
 * each byte counts once, for the first chunk that claims it, and the table
 * still adds up. */
static void test_overlap(void)
{
	struct hs_process *proc = build(HS_CORE_WRITER_KERNEL);
	struct hs_heap *heap = build_heap(true);
	struct hs_memmap *m = NULL;
	CHECK(hs_memmap_build(proc, heap, &m) == NULL);
	if (m) {
		check_sums(m, proc);
		CHECK_EQ(bytes(m, HS_MEM_IN_USE, NULL), 0x100);
		CHECK_EQ(bytes(m, HS_MEM_CACHED, NULL), 0);
		CHECK_EQ(bytes(m, HS_MEM_FREE, NULL), 0x20000 - 0x100);
		CHECK_EQ(bytes(m, HS_MEM_ALLOCATOR_METADATA, NULL), 0);
		CHECK_EQ(bytes(m, HS_MEM_ALLOCATOR_RESERVED, NULL), 0x20000);
	}
	hs_memmap_destroy(m);
	hs_heap_destroy(heap);
	destroy(proc);
}

/* A walker that declares no range: its chunks stand for its heap, so the
 * chunk rows still equal what it found, and a word says so. */
static void test_undeclared(void)
{
	struct hs_process *proc = build(HS_CORE_WRITER_KERNEL);
	struct hs_heap *heap;
	CHECK(hs_heap_create(&heap) == NULL);
	snprintf(heap->allocator, sizeof(heap->allocator), "old");
	CHECK(hs_heap_add_chunk(heap, HEAP, 0x100, HS_CHUNK_IN_USE, 0));
	CHECK(hs_heap_add_chunk(heap, HEAP + 0x100, 0x200, HS_CHUNK_FREE, 0));
	CHECK(hs_heap_add_chunk(heap, HEAP + 0x1000, 0x40, HS_CHUNK_CACHED, 0));
	CHECK(hs_heap_finish(heap) == NULL);
	struct hs_memmap *m = NULL;
	CHECK(hs_memmap_build(proc, heap, &m) == NULL);
	if (m) {
		check_sums(m, proc);
		CHECK_EQ(bytes(m, HS_MEM_IN_USE, NULL), 0x100);
		CHECK_EQ(bytes(m, HS_MEM_FREE, NULL), 0x200);
		CHECK_EQ(bytes(m, HS_MEM_CACHED, NULL), 0x40);
		CHECK_EQ(bytes(m, HS_MEM_ALLOCATOR_METADATA, NULL), 0);
		/* The rest of the heap's mapping is nobody's. */
		CHECK_EQ(bytes(m, HS_MEM_OTHER_ANONYMOUS, NULL), 3 * PG + 0x20000 - 0x340);
		CHECK(m->diags.count == 1 &&
		      strstr(m->diags.items[0].message, "declares no heap ranges"));
	}
	hs_memmap_destroy(m);
	hs_heap_destroy(heap);
	destroy(proc);
}

int main(void)
{
	test_table(HS_CORE_WRITER_KERNEL);
	test_table(HS_CORE_WRITER_GCORE);
	test_overlap();
	test_undeclared();
	return check_summary("test_memmap");
}
