/* test_core.c: unit tests for the core parser: a hand-built core (whole, cut, mutated) and a real gcore of a fork. */
#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../symbols/symbols.h"
#include "check.h"

/* Image layout (kernel style: notes before the memory):
 *   0x0     ELF header, program headers (PT_NOTE, 2 × PT_LOAD)
 *   0x200   notes: 2 × NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE
 *   0x1000  PT_LOAD at 0x400000 (0x1000): a library's first page (an ELF
 *           header, its PT_LOAD and PT_NOTE with a GNU build-id)
 *   0x2000  PT_LOAD at 0x10000 (0x2000): a byte pattern
 */
#define IMG_SIZE 0x4000
#define NOTES_OFF 0x200
#define LIB_OFF 0x1000
#define LIB_VADDR 0x400000
#define DATA_OFF 0x2000
#define DATA_VADDR 0x10000
#define DATA_SIZE 0x2000
#define LIB_PATH "/nonexistent-heapscope-test/libfake.so.1"
#define EXTRA_VADDR 0x700000

static uint8_t img[IMG_SIZE];
static size_t notes_end;
static char tmp_path[64];
static FILE *tmp_file;

static void put16(size_t off, uint16_t v) { memcpy(img + off, &v, 2); }
static void put32(size_t off, uint32_t v) { memcpy(img + off, &v, 4); }
static void put64(size_t off, uint64_t v) { memcpy(img + off, &v, 8); }

static size_t add_note(size_t off, const char *name, uint32_t type,
		       const void *desc, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	put32(off, namesz);
	put32(off + 4, descsz);
	put32(off + 8, type);
	memcpy(img + off + 12, name, namesz);
	off += 12 + ((namesz + 3) & ~3u);
	memcpy(img + off, desc, descsz);
	return off + ((descsz + 3) & ~3u);
}

static void put_phdr(size_t i, uint32_t type, uint32_t flags, uint64_t off,
		     uint64_t vaddr, uint64_t filesz, uint64_t memsz)
{
	Elf64_Phdr p = {
		.p_type = type, .p_flags = flags, .p_offset = off,
		.p_vaddr = vaddr, .p_filesz = filesz, .p_memsz = memsz,
		.p_align = 1,
	};
	memcpy(img + 64 + i * sizeof(p), &p, sizeof(p));
}

/* extra: a third NT_FILE path, mapped at EXTRA_VADDR and not dumped. */
static void build_image_with(const char *extra)
{
	memset(img, 0, sizeof(img));
	Elf64_Ehdr eh = {
		.e_type = ET_CORE, .e_machine = EM_X86_64, .e_version = 1,
		.e_phoff = 64, .e_ehsize = 64, .e_phentsize = 56, .e_phnum = 3,
	};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = 1;
	memcpy(img, &eh, sizeof(eh));

	/* Notes. Layouts: <sys/procfs.h> (prstatus 336 bytes, pid at 32,
	 * pr_reg at 112; prpsinfo 136 bytes, pid 24, fname 40, psargs 56). */
	uint8_t d[512];
	size_t off = NOTES_OFF;
	for (int t = 0; t < 2; t++) {
		memset(d, 0, sizeof(d));
		int32_t tid = 101 + t;
		memcpy(d + 32, &tid, 4);
		for (int r = 0; r < 27; r++) {
			uint64_t v = 0x1000 * (t + 1) + r;
			memcpy(d + 112 + 8 * r, &v, 8);
		}
		off = add_note(off, "CORE", NT_PRSTATUS, d, 336);
	}
	/* An unrelated note is skipped. */
	off = add_note(off, "LINUX", 0x202, "xsave", 5);
	memset(d, 0, sizeof(d));
	int32_t pid = 100;
	memcpy(d + 24, &pid, 4);
	memcpy(d + 40, "fakeprog", 8);
	memcpy(d + 56, "fakeprog --flag", 15);
	off = add_note(off, "CORE", NT_PRPSINFO, d, 136);
	uint64_t aux[] = { AT_PAGESZ, 4096, AT_PHDR, LIB_VADDR + 64,
			   AT_ENTRY, LIB_VADDR + 0x100, AT_NULL, 0 };
	off = add_note(off, "CORE", NT_AUXV, aux, sizeof(aux));
	/* NT_FILE, entries out of address order (the parser sorts). */
	memset(d, 0, sizeof(d));
	uint64_t nf[] = { extra ? 3 : 2, 4096,
			  LIB_VADDR, LIB_VADDR + 0x1000, 0,
			  DATA_VADDR, DATA_VADDR + DATA_SIZE, 0,
			  EXTRA_VADDR, EXTRA_VADDR + 0x1000, 0 };
	size_t dl = extra ? sizeof(nf) : sizeof(nf) - 3 * 8;
	memcpy(d, nf, dl);
	memcpy(d + dl, LIB_PATH, sizeof(LIB_PATH));
	dl += sizeof(LIB_PATH);
	memcpy(d + dl, "/data.bin", sizeof("/data.bin"));
	dl += sizeof("/data.bin");
	if (extra) {
		memcpy(d + dl, extra, strlen(extra) + 1);
		dl += strlen(extra) + 1;
	}
	off = add_note(off, "CORE", 0x46494c45 /* NT_FILE */, d, (uint32_t)dl);
	notes_end = off;

	put_phdr(0, PT_NOTE, PF_R, NOTES_OFF, 0, notes_end - NOTES_OFF, 0);
	put_phdr(1, PT_LOAD, PF_R | PF_X, LIB_OFF, LIB_VADDR, 0x1000, 0x1000);
	put_phdr(2, PT_LOAD, PF_R | PF_W, DATA_OFF, DATA_VADDR, DATA_SIZE,
		 DATA_SIZE);

	/* The library's first page: ELF header + PT_LOAD + PT_NOTE. */
	Elf64_Ehdr lh = {
		.e_type = ET_DYN, .e_machine = EM_X86_64, .e_version = 1,
		.e_phoff = 64, .e_ehsize = 64, .e_phentsize = 56, .e_phnum = 2,
	};
	memcpy(lh.e_ident, eh.e_ident, EI_NIDENT);
	memcpy(img + LIB_OFF, &lh, sizeof(lh));
	Elf64_Phdr lp[2] = {
		{ .p_type = PT_LOAD, .p_offset = 0, .p_vaddr = 0,
		  .p_filesz = 0x1000, .p_memsz = 0x3000, .p_align = 0x1000 },
		{ .p_type = PT_NOTE, .p_offset = 0x200, .p_vaddr = 0x200,
		  .p_filesz = 36, .p_memsz = 36, .p_align = 4 },
	};
	memcpy(img + LIB_OFF + 64, lp, sizeof(lp));
	put32(LIB_OFF + 0x200, 4);
	put32(LIB_OFF + 0x204, 20);
	put32(LIB_OFF + 0x208, NT_GNU_BUILD_ID);
	memcpy(img + LIB_OFF + 0x20c, "GNU", 4);
	for (int i = 0; i < 20; i++)
		img[LIB_OFF + 0x210 + i] = (uint8_t)(0xa0 + i);

	for (size_t i = 0; i < DATA_SIZE; i++)
		img[DATA_OFF + i] = (uint8_t)(i * 7);
}

static void build_image(void)
{
	build_image_with(NULL);
}

static void write_image(const uint8_t *p, size_t len)
{
	if (ftruncate(fileno(tmp_file), 0) != 0 ||
	    pwrite(fileno(tmp_file), p, len, 0) != (ssize_t)len) {
		perror("write_image");
		exit(2);
	}
}

static struct hs_error *open_image_in(const char *sysroot, const uint8_t *p,
				      size_t len, struct hs_process **proc)
{
	write_image(p, len);
	struct hs_process_options o = { .no_debuginfo = true, .sysroot = sysroot };
	return hs_process_open(tmp_path, &o, proc);
}

static struct hs_error *open_image(const uint8_t *p, size_t len,
				   struct hs_process **proc)
{
	return open_image_in(NULL, p, len, proc);
}

static bool has_diag(const struct hs_process *proc, const char *needle)
{
	for (size_t i = 0; i < proc->diags.count; i++)
		if (strstr(proc->diags.items[i].message, needle))
			return true;
	return false;
}

static void test_whole(void)
{
	build_image();
	struct hs_process *proc = NULL;
	struct hs_error *err = open_image(img, IMG_SIZE, &proc);
	CHECK(!err);
	if (err) {
		fprintf(stderr, "  %s\n", err->message);
		hs_error_destroy(err);
		return;
	}
	CHECK(proc->pid == 100);
	CHECK(proc->exe_name && strcmp(proc->exe_name, "fakeprog") == 0);
	CHECK(proc->psargs && strcmp(proc->psargs, "fakeprog --flag") == 0);
	CHECK(proc->core_bytes == IMG_SIZE);
	CHECK(proc->nthreads == 2);
	if (proc->nthreads == 2) {
		CHECK(proc->threads[0].tid == 101 && proc->threads[1].tid == 102);
		CHECK(proc->threads[0].fs_base == 0x1000 + 21);
		CHECK(proc->threads[1].fs_base == 0x2000 + 21);
		CHECK(proc->threads[0].rip == 0x1000 + 16);
		CHECK(proc->threads[1].rsp == 0x2000 + 19);
		CHECK(proc->threads[1].regs[26] == 0x2000 + 26);
	}
	CHECK(proc->naux == 3 && proc->auxv[0] == AT_PAGESZ &&
	      proc->auxv[5] == LIB_VADDR + 0x100);
	CHECK(proc->nfiles == 2);
	if (proc->nfiles == 2) {
		CHECK(proc->files[0].start == DATA_VADDR);
		CHECK(strcmp(proc->files[0].path, "/data.bin") == 0);
		CHECK(strcmp(proc->files[1].path, LIB_PATH) == 0);
		CHECK(proc->files[1].end == LIB_VADDR + 0x1000);
	}
	/* Memory. */
	uint64_t v;
	uint64_t want;
	memcpy(&want, img + DATA_OFF + 0x100, 8);
	CHECK(hs_memory_u64(&proc->mem, DATA_VADDR + 0x100, &v) && v == want);
	CHECK(hs_memory_ptr(&proc->mem, DATA_VADDR, DATA_SIZE) != NULL);
	CHECK(hs_memory_ptr(&proc->mem, DATA_VADDR, DATA_SIZE + 1) == NULL);
	CHECK(hs_memory_find(&proc->mem, LIB_VADDR)->flags == (PF_R | PF_X));
	/* Module: found from the core's first page, file missing. */
	CHECK(proc->nmodules == 1);
	struct hs_module *m = hs_process_find_module(proc, "libfake.so", true);
	CHECK(m != NULL);
	CHECK(hs_process_find_module(proc, "libfake.so.1", false) == m);
	CHECK(hs_process_find_module(proc, "libfak", true) == NULL);
	CHECK(hs_process_find_module(proc, "data.bin", false) == NULL);
	if (m) {
		CHECK(m->start == LIB_VADDR && m->bias == LIB_VADDR);
		CHECK(m->end == LIB_VADDR + 0x3000); /* .bss from p_memsz */
		CHECK(m->is_main); /* AT_PHDR is inside it */
		CHECK(hs_process_main_module(proc) == m);
		CHECK(m->symbols == HS_SYMS_NONE && m->disk_path == NULL);
		CHECK(m->build_id_len == 20 && m->build_id[0] == 0xa0 &&
		      m->build_id[19] == 0xa0 + 19);
		CHECK(hs_process_module_at(proc, LIB_VADDR + 0x2fff) == m);
		CHECK(hs_process_module_at(proc, LIB_VADDR + 0x3000) == NULL);
		CHECK(hs_process_module_at(proc, LIB_VADDR - 1) == NULL);
		struct hs_symbol s;
		CHECK(!hs_module_symbol(m, "anything", &s));
		CHECK(!hs_module_symbol_at(m, LIB_VADDR, &s));
		CHECK(hs_module_file_bytes(m, LIB_VADDR, 4) == NULL);
		int64_t tp;
		CHECK(!hs_process_tpoff(proc, LIB_VADDR + 8, &tp));
		struct hs_insn *ins;
		size_t n;
		err = hs_disasm(m, LIB_VADDR, 16, 4, false, &ins, &n);
		CHECK(err && err->code == HS_ERR_NOT_FOUND);
		hs_error_destroy(err);
	}
	CHECK(hs_process_ptr_or_file(proc, LIB_VADDR, 4) != NULL);
	CHECK(hs_process_ptr_or_file(proc, LIB_VADDR + 0x1000, 4) == NULL);
	CHECK(has_diag(proc, LIB_PATH));
	CHECK(has_diag(proc, "its symbols are ignored"));
	CHECK(!has_diag(proc, "truncated"));
	hs_process_destroy(proc);
}

static void write_text(const char *path)
{
	FILE *f = fopen(path, "w");
	CHECK(f && fputs("# data, not an object\n", f) >= 0);
	if (f)
		fclose(f);
}

/*
 * A mapped file that is no ELF and not in the core (a locale archive, a
 * gconv cache) is data: not a module, and no diagnostic. So is the same
 * path once deleted (a shared-memory file of a service that has exited):
 * with no byte of it in the core, nothing says it was a library. A missing
 * library whose headers are in the core stays a module, and its warning
 * names its path once.
 */
static size_t count_in_diags(const struct hs_process *proc, const char *needle)
{
	size_t n = 0;
	for (size_t i = 0; i < proc->diags.count; i++)
		for (const char *p = proc->diags.items[i].message;
		     (p = strstr(p, needle)) != NULL; p += strlen(needle))
			n++;
	return n;
}

static void test_data_files(void)
{
	char path[96];
	snprintf(path, sizeof(path), "%s.dat", tmp_path);
	write_text(path);
	build_image_with(path);
	struct hs_process *proc = NULL;
	struct hs_error *err = open_image(img, IMG_SIZE, &proc);
	CHECK(!err);
	if (!err) {
		CHECK(proc->nfiles == 3 && proc->nmodules == 1);
		CHECK(hs_process_module_at(proc, EXTRA_VADDR) == NULL);
		CHECK(hs_process_find_module(proc, "libfake.so", true) != NULL);
		CHECK(!has_diag(proc, path));
	}
	hs_process_destroy(proc);
	hs_error_destroy(err);
	unlink(path);

	build_image_with(path);
	err = open_image(img, IMG_SIZE, &proc);
	CHECK(!err);
	if (!err) {
		CHECK(proc->nmodules == 1);
		CHECK(hs_process_module_at(proc, EXTRA_VADDR) == NULL);
		CHECK(!has_diag(proc, path));
		CHECK(hs_process_find_module(proc, "libfake.so", true) != NULL);
		CHECK_EQ(count_in_diags(proc, LIB_PATH), 1);
	}
	hs_process_destroy(proc);
	hs_error_destroy(err);
}

/* How many modules the image with `extra` has under sysroot, and whether
 * a diagnostic names `needle`. */
static size_t modules_under(const char *sysroot, const char *extra,
			    const char *needle, bool *diag)
{
	build_image_with(extra);
	struct hs_process *proc = NULL;
	struct hs_error *err = open_image_in(sysroot, img, IMG_SIZE, &proc);
	CHECK(!err);
	hs_error_destroy(err);
	size_t n = proc ? proc->nmodules : 0;
	*diag = proc && has_diag(proc, needle);
	hs_process_destroy(proc);
	return n;
}

/*
 * Paths from the core resolve inside --sysroot as if it were "/" first: an
 * absolute symlink in it stays in it (Debian's packages ship them), and
 * ".." does not climb out to this machine's files. A link the user made to
 * a file outside (a sysroot of links) is followed when that fails. Each
 * case is told by a non-ELF file, which is data (no module) when reached.
 */
static void test_sysroot(void)
{
	char root[96], real[112], dat[128], lnk[112], outside[96], up[256];
	char farm[112];
	snprintf(root, sizeof(root), "%s.root", tmp_path);
	snprintf(real, sizeof(real), "%s/real", root);
	snprintf(dat, sizeof(dat), "%s/x.dat", real);
	snprintf(lnk, sizeof(lnk), "%s/lib", root);
	snprintf(outside, sizeof(outside), "%s.out", tmp_path);
	CHECK(mkdir(root, 0700) == 0 && mkdir(real, 0700) == 0);
	write_text(dat);
	write_text(outside);
	CHECK(symlink("/real", lnk) == 0);
	snprintf(farm, sizeof(farm), "%s/farm.dat", root);
	CHECK(symlink(outside, farm) == 0);

	bool diag;
	CHECK(modules_under(root, "/lib/x.dat", "x.dat", &diag) == 1 && !diag);
	/* The host's copy is reached without the sysroot. */
	CHECK(modules_under(NULL, outside, outside, &diag) == 1 && !diag);
	snprintf(up, sizeof(up), "/../../../../../../..%s", outside);
	if (outside[0] == '/') {
		CHECK(modules_under(root, up, outside, &diag) == 2 && diag);
	}
	CHECK(modules_under(root, "/farm.dat", "farm.dat", &diag) == 1 && !diag);

	unlink(farm);
	unlink(lnk);
	unlink(dat);
	unlink(outside);
	rmdir(real);
	rmdir(root);
}

/* Every cut of the file: a clean error before the notes end, a usable
 * process with a truncation diagnostic after. */
static void test_truncated(void)
{
	build_image();
	for (size_t cut = 0; cut < IMG_SIZE; cut++) {
		if (cut > notes_end + 64 && cut % 61 != 0 && cut != IMG_SIZE - 1 &&
		    cut != DATA_OFF && cut != LIB_OFF)
			continue;
		struct hs_process *proc = NULL;
		struct hs_error *err = open_image(img, cut, &proc);
		if (cut < notes_end) {
			CHECK(err != NULL);
			if (!err)
				continue;
			if (cut < SELFMAG) {
				CHECK(err->code == HS_ERR_FORMAT);
				CHECK(strstr(err->message, "not an ELF file"));
			} else {
				CHECK(err->code == HS_ERR_TRUNCATED);
			}
			CHECK(strstr(err->message, tmp_path) != NULL);
			hs_error_destroy(err);
			continue;
		}
		CHECK(!err);
		if (err) {
			fprintf(stderr, "  cut %zu: %s\n", cut, err->message);
			hs_error_destroy(err);
			continue;
		}
		CHECK(proc->nthreads == 2 && proc->nfiles == 2);
		char want[64];
		snprintf(want, sizeof(want), "core is truncated: %zu bytes missing",
			 (size_t)IMG_SIZE - cut);
		CHECK(has_diag(proc, want));
		/* The last byte of the data segment is cut off. */
		uint8_t b;
		struct hs_error *rerr = hs_memory_read(&proc->mem,
						       DATA_VADDR + DATA_SIZE - 1,
						       &b, 1);
		CHECK(rerr && rerr->code == HS_ERR_TRUNCATED);
		hs_error_destroy(rerr);
		if (cut > DATA_OFF) {
			CHECK(hs_memory_ptr(&proc->mem, DATA_VADDR,
					    cut - DATA_OFF) != NULL);
			CHECK(hs_memory_ptr(&proc->mem, DATA_VADDR,
					    cut - DATA_OFF + 1) == NULL);
		}
		hs_process_destroy(proc);
	}
}

static void expect_error(const uint8_t *p, size_t len, enum hs_error_code code,
			 const char *needle)
{
	struct hs_process *proc = NULL;
	struct hs_error *err = open_image(p, len, &proc);
	CHECK(err != NULL);
	if (!err) {
		hs_process_destroy(proc);
		return;
	}
	if (err->code != code || !strstr(err->message, needle)) {
		fprintf(stderr, "  want %d '%s', got %d '%s'\n", code, needle,
			err->code, err->message);
		check_failures++;
	}
	hs_error_destroy(err);
}

static void test_bad_headers(void)
{
	static uint8_t copy[IMG_SIZE];
	build_image();
	memcpy(copy, img, IMG_SIZE);
	expect_error((const uint8_t *)"hello world, not an ELF", 23,
		     HS_ERR_FORMAT, "not an ELF file");
	put16(16, ET_EXEC);
	expect_error(img, IMG_SIZE, HS_ERR_FORMAT, "not a core file (ELF type EXEC)");
	memcpy(img, copy, IMG_SIZE);
	put16(18, EM_AARCH64);
	expect_error(img, IMG_SIZE, HS_ERR_UNSUPPORTED,
		     "unsupported architecture aarch64 (only x86_64)");
	memcpy(img, copy, IMG_SIZE);
	img[EI_CLASS] = ELFCLASS32;
	expect_error(img, IMG_SIZE, HS_ERR_UNSUPPORTED, "class");
	memcpy(img, copy, IMG_SIZE);
	put16(54, 32); /* e_phentsize */
	expect_error(img, IMG_SIZE, HS_ERR_FORMAT, "e_phentsize");
	memcpy(img, copy, IMG_SIZE);
	put16(56, 0xfff0); /* e_phnum past the end of the file */
	expect_error(img, IMG_SIZE, HS_ERR_TRUNCATED, "program headers");
	memcpy(img, copy, IMG_SIZE);
	put64(64 + 8, IMG_SIZE - 4); /* PT_NOTE offset */
	expect_error(img, IMG_SIZE, HS_ERR_TRUNCATED, "PT_NOTE");
	memcpy(img, copy, IMG_SIZE);
	put32(NOTES_OFF + 4, 0x7fffffff); /* first note's descsz */
	expect_error(img, IMG_SIZE, HS_ERR_TRUNCATED, "runs past");
	memcpy(img, copy, IMG_SIZE);
	put32(NOTES_OFF + 4, 100); /* NT_PRSTATUS too short */
	expect_error(img, IMG_SIZE, HS_ERR_FORMAT, "NT_PRSTATUS");
	memcpy(img, copy, IMG_SIZE);
	/* Overlapping PT_LOADs. */
	put64(64 + 2 * 56 + 16, LIB_VADDR + 0x800);
	expect_error(img, IMG_SIZE, HS_ERR_FORMAT, "overlap");
	memcpy(img, copy, IMG_SIZE);

	/* NT_FILE: find its descriptor and break it. */
	size_t nf = 0;
	for (size_t o = NOTES_OFF; o + 12 < notes_end;) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, img + o, 4);
		memcpy(&descsz, img + o + 4, 4);
		memcpy(&type, img + o + 8, 4);
		size_t desc = o + 12 + ((namesz + 3) & ~3u);
		if (type == 0x46494c45)
			nf = desc;
		o = desc + ((descsz + 3) & ~3u);
	}
	CHECK(nf != 0);
	put64(nf, 1000000); /* count */
	expect_error(img, IMG_SIZE, HS_ERR_FORMAT, "NT_FILE");
	memcpy(img, copy, IMG_SIZE);
	put64(nf + 8, 3000); /* page size */
	expect_error(img, IMG_SIZE, HS_ERR_FORMAT, "page size");
	memcpy(img, copy, IMG_SIZE);
	put64(nf + 16 + 8, 1); /* end < start */
	expect_error(img, IMG_SIZE, HS_ERR_FORMAT, "NT_FILE");
	memcpy(img, copy, IMG_SIZE);
	/* Paths without their NULs. */
	for (size_t i = nf + 16 + 48; i < notes_end; i++)
		if (img[i] == 0)
			img[i] = 'x';
	expect_error(img, IMG_SIZE, HS_ERR_FORMAT, "path missing");
	memcpy(img, copy, IMG_SIZE);
}

/* Random byte mutations of the headers, notes and the library's first page:
 * whatever happens, no crash, and success or a clean error. */
static void test_mutations(void)
{
	static uint8_t copy[IMG_SIZE];
	build_image();
	memcpy(copy, img, IMG_SIZE);
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (int iter = 0; iter < 4000; iter++) {
		memcpy(img, copy, IMG_SIZE);
		int nmut = 1 + iter % 4;
		for (int k = 0; k < nmut; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			uint64_t r = seed >> 33;
			size_t region = r % 3;
			size_t off = region == 0 ? (r >> 2) % 0x100 :
				     region == 1 ? NOTES_OFF + (r >> 2) % (notes_end - NOTES_OFF) :
				     LIB_OFF + (r >> 2) % 0x240;
			uint8_t val = (uint8_t)(r >> 24);
			img[off] = (iter & 1) ? val : (uint8_t)(img[off] ^ (1u << (val & 7)));
		}
		struct hs_process *proc = NULL;
		struct hs_error *err = open_image(img, IMG_SIZE, &proc);
		if (err) {
			CHECK(err->code >= HS_ERR_IO && err->code <= HS_ERR_UNSUPPORTED);
			CHECK(err->message && *err->message);
			hs_error_destroy(err);
			continue;
		}
		/* Touch everything the parse produced. */
		for (size_t i = 0; i < proc->nfiles; i++)
			CHECK(strlen(proc->files[i].path) < IMG_SIZE);
		for (size_t i = 0; i < proc->nmodules; i++) {
			struct hs_module *m = &proc->modules[i];
			CHECK(m->start < m->end);
			CHECK(hs_process_module_at(proc, m->start) == m);
		}
		uint64_t v;
		hs_memory_u64(&proc->mem, DATA_VADDR, &v);
		hs_process_destroy(proc);
	}
}

/* ---- A real core: fork, gcore the child, compare with what we know. ---- */

struct own_libc {
	uint8_t id[64];
	size_t idlen;
};

/* The build-id of our own libc, from its PT_NOTE in memory. */
static int find_libc_id(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct own_libc *o = arg;
	(void)size;
	const char *b = strrchr(info->dlpi_name, '/');
	if (!b || strncmp(b + 1, "libc.so", 7) != 0)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_NOTE)
			continue;
		const uint8_t *n = (const uint8_t *)(info->dlpi_addr + p->p_vaddr);
		size_t pos = 0, align = p->p_align == 8 ? 8 : 4;
		while (pos + 12 <= p->p_filesz) {
			uint32_t namesz, descsz, type;
			memcpy(&namesz, n + pos, 4);
			memcpy(&descsz, n + pos + 4, 4);
			memcpy(&type, n + pos + 8, 4);
			size_t desc = pos + 12 + ((namesz + align - 1) & ~(align - 1));
			if (type == NT_GNU_BUILD_ID && namesz == 4 &&
			    descsz <= sizeof(o->id)) {
				memcpy(o->id, n + desc, descsz);
				o->idlen = descsz;
				return 1;
			}
			pos = desc + ((descsz + align - 1) & ~(align - 1));
		}
	}
	return 0;
}

struct tp_check {
	struct hs_process *proc;
	size_t seen, matched;
};

static bool check_tpoff(uint64_t slot, int64_t addend, const char *sym,
			void *arg)
{
	struct tp_check *c = arg;
	(void)addend;
	(void)sym;
	int64_t v;
	c->seen++;
	/* The child is a fork: its GOT holds what ours holds. */
	if (hs_process_tpoff(c->proc, slot, &v) &&
	    v == *(const int64_t *)(uintptr_t)slot)
		c->matched++;
	return true;
}

static void test_real_core(void)
{
#if defined(__SANITIZE_ADDRESS__)
	/* ASan reserves terabytes of shadow that gcore would write out. */
	printf("test_core: real-core smoke skipped (ASan build)\n");
	return;
#endif
	if (system("command -v gcore >/dev/null 2>&1") != 0) {
		printf("test_core: real-core smoke skipped (no gcore)\n");
		return;
	}
	int fds[2];
	char c = 0;
	if (pipe(fds) != 0)
		return;
	fflush(NULL);
	pid_t child = fork();
	if (child == 0) {
		close(fds[0]);
		if (write(fds[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (child < 0 || read(fds[0], &c, 1) != 1) {
		close(fds[0]);
		return;
	}
	close(fds[0]);
	char prefix[96], core[128], cmd[256];
	snprintf(prefix, sizeof(prefix), "%s.gcore", tmp_path);
	snprintf(core, sizeof(core), "%s.%d", prefix, (int)child);
	snprintf(cmd, sizeof(cmd), "gcore -o %s %d >/dev/null 2>&1", prefix,
		 (int)child);
	int rc = system(cmd);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (rc != 0 || access(core, R_OK) != 0) {
		printf("test_core: real-core smoke skipped (gcore failed: no "
		       "ptrace permission?)\n");
		unlink(core);
		return;
	}
	struct hs_process *proc = NULL;
	struct hs_process_options o = { 0 };
	struct hs_error *err = hs_process_open(core, &o, &proc);
	CHECK(!err);
	if (err) {
		fprintf(stderr, "  %s\n", err->message);
		hs_error_destroy(err);
		unlink(core);
		return;
	}
	CHECK(proc->pid == child);
	CHECK(proc->nthreads == 1);
	if (proc->nthreads >= 1) {
		CHECK(proc->threads[0].tid == child);
		/* x86_64 glibc: the thread pointer is pthread_self(), which
		 * the fork inherited. */
		CHECK(proc->threads[0].fs_base == (uint64_t)pthread_self());
	}
	struct hs_module *exe = hs_process_main_module(proc);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK(exe && n > 0);
	if (exe && n > 0) {
		self[n] = '\0';
		CHECK(strcmp(exe->name, self) == 0);
		CHECK(exe->disk_path && exe->symbols != HS_SYMS_NONE);
	}
	struct hs_module *libc = hs_process_find_module(proc, "libc.so", true);
	CHECK(libc != NULL);
	struct own_libc own = { .idlen = 0 };
	dl_iterate_phdr(find_libc_id, &own);
	void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *real_malloc = h ? dlsym(h, "malloc") : NULL;
	if (libc) {
		CHECK(own.idlen == 20 && libc->build_id_len == own.idlen &&
		      memcmp(libc->build_id, own.id, own.idlen) == 0);
		CHECK(libc->symbols != HS_SYMS_NONE && libc->disk_path);
		struct hs_symbol s;
		CHECK(hs_module_symbol(libc, "malloc", &s));
		CHECK(real_malloc && s.addr == (uint64_t)(uintptr_t)real_malloc);
		CHECK(s.size > 0 && s.type == STT_FUNC);
		struct hs_symbol at;
		CHECK(hs_module_symbol_at(libc, s.addr + 1, &at) &&
		      at.addr == s.addr);
		CHECK(hs_process_module_at(proc, s.addr) == libc);
		const void *code = hs_module_file_bytes(libc, s.addr, 16);
		CHECK(code && real_malloc && memcmp(code, real_malloc, 16) == 0);
		CHECK(hs_process_ptr_or_file(proc, s.addr, 16) != NULL);
		struct hs_insn *ins = NULL;
		size_t nins = 0;
		err = hs_disasm_function(libc, "malloc", 8, &ins, &nins);
		CHECK(!err && nins > 0 && ins[0].addr == s.addr);
		hs_error_destroy(err);
		free(ins);
		struct tp_check tc = { .proc = proc };
		hs_module_for_each_tpoff(libc, check_tpoff, &tc);
		CHECK(tc.seen > 0 && tc.matched == tc.seen);
	}
	if (h)
		dlclose(h);
	for (size_t i = 0; i < proc->diags.count; i++)
		CHECK(!strstr(proc->diags.items[i].message, "mismatch"));
	hs_process_destroy(proc);
	unlink(core);
}

int main(void)
{
	const char *dir = getenv("TMPDIR");
	snprintf(tmp_path, sizeof(tmp_path), "%s/hs-test-core-XXXXXX",
		 dir && strlen(dir) < 32 ? dir : "/tmp");
	int fd = mkstemp(tmp_path);
	if (fd < 0 || !(tmp_file = fdopen(fd, "w+"))) {
		perror("mkstemp");
		return 2;
	}
	test_whole();
	test_data_files();
	test_sysroot();
	test_truncated();
	test_bad_headers();
	test_mutations();
	test_real_core();
	fclose(tmp_file);
	unlink(tmp_path);
	return check_summary("test_core");
}
