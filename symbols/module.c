/* module.c: modules from NT_FILE: load bias, build-ids, files on disk, symbol tables, TLS relocations. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <gelf.h>
#include <libelf.h>

#include "module.h"

/* x86_64 pages: mappings start on 4 KiB boundaries whatever p_align says. */
#define PAGE_MASK_4K (~UINT64_C(0xfff))
/* Bounds for what we accept from the ELF headers dumped in the core. */
#define MAX_CORE_PHNUM 256
#define MAX_NOTE_BYTES (64 * 1024)
/* A hostile NT_FILE can list millions of objects, each of which would be
 * opened and its symbols loaded (about 3 ms and 440 KiB for libc with its
 * debug info): keep at most this many modules, and load the symbols of at
 * most this many distinct files. A real process maps a few hundred. */
#define MAX_MODULES 65536
#define MAX_MODULE_FILES 4096
/* How far symbol_at looks back for an enclosing symbol. */
#define SYMBOL_AT_WINDOW 64

struct symtab {
	enum hs_symbol_source source;
	struct hs_symbol *syms; /* non-TLS by (addr, preference), then TLS */
	size_t nsyms, naddr;    /* naddr: the address-sorted prefix */
	/* Name lookup: a chained hash of the name up to any "@VERSION". A hash
	 * is built in one pass; sorting by name cost a strcmp-heavy n log n
	 * per module, which dominated loading a C++ binary's .symtab. */
	uint32_t *bucket;       /* nbuckets heads, indices into syms, or NONE */
	uint32_t *chain;        /* per symbol: the next in its bucket, or NONE */
	size_t nbuckets;        /* a power of two */
};

#define SYMTAB_NONE UINT32_MAX

struct tpoff {
	uint64_t slot;
	int64_t addend;
	const char *sym;
};

/* struct hs_module_elf: what hs_module.priv points to. */
struct hs_module_elf {
	Elf *elf;            /* the module's file, or NULL */
	const uint8_t *raw;  /* its mapped bytes (libelf's read-only mmap) */
	size_t rawsize;
	Elf *dbg;            /* separate debug file, or NULL */
	GElf_Phdr *loads;    /* the file's PT_LOAD headers */
	size_t nloads;
	GElf_Phdr tls;       /* its PT_TLS header, if has_tls */
	bool has_tls;
	struct symtab tabs[3]; /* preference order: debuginfo, symtab, dynsym */
	size_t ntabs;
	struct tpoff *tpoffs; /* sorted by slot */
	size_t ntpoffs;
};

/* The ELF facts a module needs, from the core's dumped first page or, failing
 * that, from the file. */
struct elf_view {
	uint16_t type;
	GElf_Phdr ph[MAX_CORE_PHNUM];
	size_t phnum;
};

static void hex(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && k + 3 <= outlen; i++, k += 2)
		snprintf(out + k, 3, "%02x", p[i]);
}

/* ---- Reading the ELF header and program headers dumped in the core ---- */

static bool core_elf_view(struct hs_process *proc, uint64_t start,
			  struct elf_view *v)
{
	Elf64_Ehdr eh;
	const void *p = hs_memory_ptr(&proc->mem, start, sizeof(eh));
	if (!p)
		return false;
	memcpy(&eh, p, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > MAX_CORE_PHNUM || eh.e_phoff > UINT32_MAX)
		return false;
	size_t len = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
	const uint8_t *ph = hs_memory_ptr(&proc->mem, start + eh.e_phoff, len);
	if (!ph)
		return false;
	v->type = eh.e_type;
	v->phnum = eh.e_phnum;
	for (size_t i = 0; i < v->phnum; i++)
		memcpy(&v->ph[i], ph + i * sizeof(Elf64_Phdr), sizeof(Elf64_Phdr));
	return true;
}

static bool file_elf_view(Elf *elf, struct elf_view *v)
{
	GElf_Ehdr eh;
	size_t phnum;
	if (!gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &phnum) != 0)
		return false;
	v->type = eh.e_type;
	v->phnum = 0;
	for (size_t i = 0; i < phnum && v->phnum < MAX_CORE_PHNUM; i++)
		if (gelf_getphdr(elf, (int)i, &v->ph[v->phnum]))
			v->phnum++;
	return v->phnum > 0;
}

/* Load bias of an object whose file offset 0 is mapped at `start`: the
 * PT_LOAD that covers file offset 0 sits at trunc(p_vaddr) + bias. */
static bool view_bias(const struct elf_view *v, uint64_t start, uint64_t *bias,
		      uint64_t *link_end)
{
	bool found = false;
	uint64_t hi = 0;
	for (size_t i = 0; i < v->phnum; i++) {
		const GElf_Phdr *p = &v->ph[i];
		if (p->p_type != PT_LOAD)
			continue;
		if (!found && (p->p_offset & PAGE_MASK_4K) == 0) {
			*bias = start - (p->p_vaddr & PAGE_MASK_4K);
			found = true;
		}
		if (p->p_vaddr + p->p_memsz > hi &&
		    p->p_vaddr + p->p_memsz >= p->p_vaddr)
			hi = p->p_vaddr + p->p_memsz;
	}
	*link_end = hi;
	return found;
}

/* Find NT_GNU_BUILD_ID in a buffer of notes aligned to `align`. */
static size_t find_build_id(const uint8_t *p, size_t len, size_t align,
			    uint8_t *out, size_t outcap)
{
	size_t pos = 0;
	while (len - pos >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, p + pos, 4);
		memcpy(&descsz, p + pos + 4, 4);
		memcpy(&type, p + pos + 8, 4);
		uint64_t name_off = pos + 12;
		uint64_t desc_off = name_off + ((namesz + (uint64_t)align - 1) &
						~(uint64_t)(align - 1));
		if (desc_off > len || descsz > len - desc_off)
			return 0;
		if (type == NT_GNU_BUILD_ID && namesz == 4 &&
		    memcmp(p + name_off, "GNU", 4) == 0) {
			if (descsz == 0 || descsz > outcap)
				return 0;
			memcpy(out, p + desc_off, descsz);
			return descsz;
		}
		uint64_t next = desc_off + ((descsz + (uint64_t)align - 1) &
					    ~(uint64_t)(align - 1));
		if (next >= len)
			break;
		pos = next;
	}
	return 0;
}

static size_t core_build_id(struct hs_process *proc, const struct elf_view *v,
			    uint64_t bias, uint8_t *out, size_t outcap)
{
	for (size_t i = 0; i < v->phnum; i++) {
		const GElf_Phdr *p = &v->ph[i];
		if (p->p_type != PT_NOTE || p->p_filesz == 0 ||
		    p->p_filesz > MAX_NOTE_BYTES)
			continue;
		const uint8_t *n = hs_memory_ptr(&proc->mem, p->p_vaddr + bias,
						 p->p_filesz);
		if (!n)
			continue;
		size_t len = find_build_id(n, p->p_filesz,
					   p->p_align == 8 ? 8 : 4, out, outcap);
		if (len)
			return len;
	}
	return 0;
}

/* ---- Files on disk ---- */

/* --sysroot, opened once. Paths built from it start with its len bytes. */
struct sysroot_dir {
	int fd;
	size_t len;
};

static bool has_dotdot(const char *p)
{
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		p += strspn(p, "/");
	}
	return false;
}

/*
 * Open a path that came from the core; with root, one built by join() from
 * the sysroot. The rest of it resolves first as if the sysroot were "/"
 * (openat2's RESOLVE_IN_ROOT, Linux 5.6): ".." cannot climb out, and an
 * absolute symlink inside leads inside, as it does on the production
 * machine (Debian's packages ship such links). Failing that, a plain open,
 * which follows symlinks to this machine's files: a sysroot made of links
 * to copies is common, and its links were made by the user, not by the
 * core. A path with a ".." component gets no plain open.
 */
static struct hs_error *open_path(const struct sysroot_dir *root,
				  const char *path, int flags, bool *missing,
				  int *ret)
{
	int fd = -1;
	*missing = false;
	if (root) {
		struct open_how how = { .flags = (uint64_t)flags,
					.resolve = RESOLVE_IN_ROOT };
		/* EAGAIN: a rename raced the walk; the kernel asks to retry. */
		for (int i = 0; i < 3; i++) {
			fd = (int)syscall(SYS_openat2, root->fd, path + root->len,
					  &how, sizeof(how));
			if (fd >= 0 || errno != EAGAIN)
				break;
		}
		if (fd < 0 && has_dotdot(path + root->len)) {
			if (errno == ENOSYS || errno == EPERM) /* no openat2 */
				return hs_error_create(HS_ERR_IO, "%s: a \"..\" in "
						       "the path could leave the sysroot",
						       path);
			return hs_error_errno("open", path);
		}
	}
	if (fd < 0)
		fd = open(path, flags);
	if (fd < 0) {
		*missing = errno == ENOENT || errno == ENOTDIR;
		return hs_error_errno("open", path);
	}
	*ret = fd;
	return NULL;
}

/* Why open_elf failed, for the caller to decide what the mapping is. */
enum elf_failure {
	ELF_FAIL_OTHER = 0,
	ELF_FAIL_NOT_ELF, /* read, but no ELF at all */
	ELF_FAIL_MISSING, /* no such file (any more) */
};

/*
 * Open an x86_64 ELF64 file read-only. libelf maps it itself (ELF_C_READ_MMAP:
 * PROT_READ, and headers copied so elf_compress can update them), so the fd
 * is not needed afterwards. On failure, a message for a diagnostic, and
 * *why (if given) says whether the file was missing or no ELF.
 */
static struct hs_error *open_elf(const struct sysroot_dir *root,
				 const char *path, enum elf_failure *why,
				 Elf **ret, struct stat *st_ret)
{
	/* The path comes from the core: never block on a FIFO or a device. */
	int fd = -1; /* open_path sets it on success only */
	bool missing;
	struct hs_error *oerr = open_path(root, path, O_RDONLY | O_CLOEXEC |
					  O_NONBLOCK | O_NOCTTY, &missing, &fd);
	if (oerr) {
		if (why && missing)
			*why = ELF_FAIL_MISSING;
		return oerr;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		struct hs_error *err = hs_error_errno("fstat", path);
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return hs_error_create(HS_ERR_IO, "%s: not a regular file", path);
	}
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		struct hs_error *err = hs_error_libelf("elf_begin", path);
		close(fd);
		return err;
	}
	struct hs_error *err = NULL;
	GElf_Ehdr eh;
	if (elf_kind(elf) != ELF_K_ELF) {
		err = hs_error_create(HS_ERR_FORMAT, "%s: not an ELF file", path);
		if (why)
			*why = ELF_FAIL_NOT_ELF;
	} else if (!gelf_getehdr(elf, &eh))
		err = hs_error_libelf("gelf_getehdr", path);
	else if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
		err = hs_error_create(HS_ERR_UNSUPPORTED,
				      "%s: not an x86_64 ELF64 file", path);
	else if (elf_cntl(elf, ELF_C_FDREAD) != 0)
		err = hs_error_libelf("elf_cntl", path);
	close(fd);
	if (err) {
		elf_end(elf);
		return err;
	}
	*ret = elf;
	if (st_ret)
		*st_ret = st;
	return NULL;
}

static size_t file_build_id(Elf *elf, uint8_t *out, size_t outcap)
{
	const void *id;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
	if (n <= 0 || (size_t)n > outcap)
		return 0;
	memcpy(out, id, (size_t)n);
	return (size_t)n;
}

static char *join(const char *a, const char *b)
{
	char *s;
	if (asprintf(&s, "%s%s", a ? a : "", b) < 0)
		return NULL;
	return s;
}

/* ---- Symbol tables ---- */

static int bind_rank(uint8_t bind)
{
	return bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
}

static int type_rank(uint8_t type)
{
	return (type == STT_FUNC || type == STT_OBJECT ||
		type == STT_GNU_IFUNC) ? 0 : 1;
}

/* Preference among symbols at one address or with one name: global before
 * weak before local, functions/objects before untyped labels, sized first. */
static int pref_cmp(const struct hs_symbol *x, const struct hs_symbol *y)
{
	int d = bind_rank(x->bind) - bind_rank(y->bind);
	if (!d)
		d = type_rank(x->type) - type_rank(y->type);
	if (!d)
		d = (x->size == 0) - (y->size == 0);
	return d;
}

static int cmp_sym_addr(const void *a, const void *b)
{
	const struct hs_symbol *x = a, *y = b;
	bool tx = x->type == STT_TLS, ty = y->type == STT_TLS;
	if (tx != ty)
		return tx - ty;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	int d = pref_cmp(x, y);
	return d ? d : strcmp(x->name, y->name);
}

/* FNV-1a of the name up to its end or an '@' (the version suffix that
 * .symtab gives some definitions: "memcpy@GLIBC_2.2.5"), and that length. */
static uint32_t sym_name_hash(const char *name, size_t *lenp)
{
	uint32_t h = 2166136261u;
	size_t n = 0;
	for (; name[n] && name[n] != '@'; n++)
		h = (h ^ (uint8_t)name[n]) * 16777619u;
	*lenp = n;
	return h;
}

static void symtab_free(struct symtab *t)
{
	free(t->syms);
	free(t->bucket);
	free(t->chain);
	memset(t, 0, sizeof(*t));
}

/* Make a section's data readable, decompressing SHF_COMPRESSED sections
 * (separate debug files compress theirs; elf_compress inflates in memory). */
static Elf_Data *section_data(Elf *elf, Elf_Scn *scn, const char *path,
			      struct hs_diags *diags)
{
	GElf_Shdr sh;
	if (!gelf_getshdr(scn, &sh))
		return NULL;
	if ((sh.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0) {
		hs_diags_add(diags, HS_DIAG_WARNING, false, 0,
			     "%s: elf_compress (section %zu): %s", path,
			     elf_ndxscn(scn), elf_errmsg(-1));
		return NULL;
	}
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d)
		hs_diags_add(diags, HS_DIAG_WARNING, false, 0,
			     "%s: elf_getdata (section %zu): %s", path,
			     elf_ndxscn(scn), elf_errmsg(-1));
	return d;
}

/* Load the first section of type `shtype` as a symbol table. false if the
 * file has none (or it is unreadable: then a diagnostic says why). */
static bool symtab_load(Elf *elf, uint32_t shtype, uint64_t bias,
			enum hs_symbol_source source, const char *path,
			struct hs_diags *diags, struct symtab *t,
			struct hs_error **errp)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	while ((scn = elf_nextscn(elf, scn)) != NULL)
		if (gelf_getshdr(scn, &sh) && sh.sh_type == shtype)
			break;
	if (!scn)
		return false;
	Elf_Scn *strscn = elf_getscn(elf, sh.sh_link);
	Elf_Data *d = section_data(elf, scn, path, diags);
	if (!d || !strscn || !section_data(elf, strscn, path, diags))
		return false;
	size_t n = d->d_size / sizeof(Elf64_Sym);
	if (n > INT32_MAX) /* gelf_getsym takes an int index */
		return false;
	memset(t, 0, sizeof(*t));
	t->source = source;
	t->syms = malloc((n ? n : 1) * sizeof(*t->syms));
	if (!t->syms) {
		*errp = HS_ENOMEM;
		return false;
	}
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		if (!gelf_getsym(d, (int)i, &s))
			continue;
		uint8_t type = GELF_ST_TYPE(s.st_info);
		if (s.st_shndx == SHN_UNDEF || s.st_shndx == SHN_ABS ||
		    type == STT_SECTION || type == STT_FILE)
			continue;
		const char *name = elf_strptr(elf, sh.sh_link, s.st_name);
		if (!name || !*name)
			continue;
		t->syms[t->nsyms++] = (struct hs_symbol){
			.name = name,
			/* TLS symbols: st_value is the offset in the module's
			 * TLS block, not an address; no bias. */
			.addr = type == STT_TLS ? s.st_value : s.st_value + bias,
			.size = s.st_size,
			.type = type,
			.bind = GELF_ST_BIND(s.st_info),
		};
	}
	qsort(t->syms, t->nsyms, sizeof(*t->syms), cmp_sym_addr);
	t->naddr = 0;
	while (t->naddr < t->nsyms && t->syms[t->naddr].type != STT_TLS)
		t->naddr++;
	t->nbuckets = 1;
	while (t->nbuckets < t->nsyms)
		t->nbuckets <<= 1;
	t->bucket = malloc(t->nbuckets * sizeof(*t->bucket));
	t->chain = malloc((t->nsyms ? t->nsyms : 1) * sizeof(*t->chain));
	if (!t->bucket || !t->chain) {
		symtab_free(t);
		*errp = HS_ENOMEM;
		return false;
	}
	for (size_t i = 0; i < t->nbuckets; i++)
		t->bucket[i] = SYMTAB_NONE;
	/* Pushed in reverse so that each chain keeps table order. */
	for (size_t i = t->nsyms; i-- > 0;) {
		size_t len;
		uint32_t h = sym_name_hash(t->syms[i].name, &len) & (t->nbuckets - 1);
		t->chain[i] = t->bucket[h];
		t->bucket[h] = (uint32_t)i;
	}
	return true;
}

/* Whether symbol x is preferred to y when both answer one name lookup:
 * the exact name before "name@VERSION" (then by version string), then
 * global before weak before local and so on (pref_cmp), then the lower
 * address, so that the answer does not depend on table order. */
static bool sym_name_better(const struct hs_symbol *x, const struct hs_symbol *y)
{
	int d = strcmp(x->name, y->name);
	if (!d)
		d = pref_cmp(x, y);
	return d ? d < 0 : x->addr < y->addr;
}

/* Exact name, or (if versioned) the name with an "@VERSION" suffix, which
 * .symtab uses for some versioned definitions ("memcpy@GLIBC_2.2.5"). */
static bool symtab_by_name(const struct symtab *t, const char *name,
			   bool versioned, struct hs_symbol *ret)
{
	if (!t->nsyms)
		return false;
	size_t len;
	uint32_t h = sym_name_hash(name, &len) & (t->nbuckets - 1);
	if (name[len]) /* the name itself has an '@': only exact matches */
		versioned = false;
	const struct hs_symbol *best = NULL;
	/* The chain is at most as long as the table: bounded. */
	for (uint32_t i = t->bucket[h]; i != SYMTAB_NONE; i = t->chain[i]) {
		const struct hs_symbol *s = &t->syms[i];
		if (strncmp(s->name, name, len) != 0)
			continue;
		bool exact = name[len] ? strcmp(s->name + len, name + len) == 0 :
					 s->name[len] == '\0';
		if (!exact && !(versioned && s->name[len] == '@'))
			continue;
		if (!best || sym_name_better(s, best))
			best = s;
	}
	if (!best)
		return false;
	*ret = *best;
	return true;
}

static bool symtab_at(const struct symtab *t, uint64_t addr,
		      struct hs_symbol *ret)
{
	size_t lo = 0, hi = t->naddr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	size_t top = lo - 1;
	/* An enclosing symbol, nearest start first; within one address the
	 * table order is the preference order, so take the first of them. */
	for (size_t k = 0; k < SYMBOL_AT_WINDOW && k <= top; k++) {
		size_t j = top - k;
		const struct hs_symbol *s = &t->syms[j];
		if (s->size && addr - s->addr < s->size) {
			while (j > 0 && t->syms[j - 1].addr == s->addr &&
			       t->syms[j - 1].size &&
			       addr - t->syms[j - 1].addr < t->syms[j - 1].size)
				j--;
			*ret = t->syms[j];
			return true;
		}
	}
	/* Else the nearest preceding label without a size. */
	uint64_t a = t->syms[top].addr;
	size_t j = top;
	while (j > 0 && t->syms[j - 1].addr == a)
		j--;
	for (; j <= top; j++) {
		if (t->syms[j].size == 0) {
			*ret = t->syms[j];
			return true;
		}
	}
	return false;
}

/* ---- TLS relocations ---- */

static int cmp_tpoff(const void *a, const void *b)
{
	const struct tpoff *x = a, *y = b;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static struct hs_error *tpoff_load(struct hs_module *mod,
				   struct hs_module_elf *me,
				   struct hs_diags *diags)
{
	size_t cap = 0;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(me->elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    !(sh.sh_flags & SHF_ALLOC))
			continue;
		Elf_Data *d = section_data(me->elf, scn, mod->disk_path, diags);
		Elf_Scn *symscn = elf_getscn(me->elf, sh.sh_link);
		GElf_Shdr symsh;
		Elf_Data *sd = NULL;
		if (symscn && gelf_getshdr(symscn, &symsh))
			sd = section_data(me->elf, symscn, mod->disk_path, diags);
		if (!d)
			continue;
		size_t n = d->d_size / sizeof(Elf64_Rela);
		for (size_t i = 0; i < n && i <= INT32_MAX; i++) {
			GElf_Rela r;
			if (!gelf_getrela(d, (int)i, &r) ||
			    GELF_R_TYPE(r.r_info) != R_X86_64_TPOFF64)
				continue;
			const char *name = "";
			GElf_Sym s;
			size_t si = GELF_R_SYM(r.r_info);
			if (si && sd && si <= INT32_MAX &&
			    gelf_getsym(sd, (int)si, &s)) {
				const char *nm = elf_strptr(me->elf, symsh.sh_link,
							    s.st_name);
				if (nm)
					name = nm;
			}
			if (!hs_grow((void **)&me->tpoffs, &cap,
				     me->ntpoffs + 1, sizeof(*me->tpoffs)))
				return HS_ENOMEM;
			me->tpoffs[me->ntpoffs++] = (struct tpoff){
				.slot = r.r_offset + mod->bias,
				.addend = r.r_addend,
				.sym = name,
			};
		}
	}
	if (me->ntpoffs)
		qsort(me->tpoffs, me->ntpoffs, sizeof(*me->tpoffs), cmp_tpoff);
	return NULL;
}

/* ---- Building one module ---- */

struct load_ctx {
	struct hs_process *proc;
	const struct hs_process_options *opts;
	const char *debug_dir;
	struct sysroot_dir root; /* fd -1: none */
	struct {
		dev_t dev;
		ino_t ino;
	} *opened; /* files whose symbols are loaded */
	size_t nopened, opened_cap;
};

/* The sysroot to resolve paths joined to opts->sysroot in, or NULL. */
static const struct sysroot_dir *ctx_root(const struct load_ctx *c)
{
	return c->root.fd >= 0 ? &c->root : NULL;
}

static void load_file_phdrs(struct hs_module_elf *me)
{
	size_t phnum;
	if (elf_getphdrnum(me->elf, &phnum) != 0)
		return;
	me->loads = calloc(phnum ? phnum : 1, sizeof(*me->loads));
	if (!me->loads)
		return;
	for (size_t i = 0; i < phnum && i <= INT32_MAX; i++) {
		GElf_Phdr p;
		if (!gelf_getphdr(me->elf, (int)i, &p))
			continue;
		if (p.p_type == PT_LOAD) {
			me->loads[me->nloads++] = p;
		} else if (p.p_type == PT_TLS) {
			me->tls = p;
			me->has_tls = true;
		}
	}
}

/* Try the separate debug file for the module's build-id; keep it if it has
 * a .symtab and its own build-id agrees. */
static struct hs_error *load_debuginfo(struct load_ctx *c, struct hs_module *mod,
				       struct hs_module_elf *me)
{
	if (c->opts->no_debuginfo || mod->build_id_len < 2)
		return NULL;
	char idhex[2 * sizeof(mod->build_id) + 1];
	hex(mod->build_id, mod->build_id_len, idhex, sizeof(idhex));
	char *rel;
	if (asprintf(&rel, "%s/.build-id/%.2s/%s.debug", c->debug_dir, idhex,
		     idhex + 2) < 0)
		return HS_ENOMEM;
	const char *prefixes[2] = { c->opts->sysroot, NULL };
	size_t nprefix = c->opts->sysroot && *c->opts->sysroot ? 2 : 1;
	if (nprefix == 1)
		prefixes[0] = NULL;
	struct hs_error *ret = NULL;
	for (size_t i = 0; i < nprefix && !me->dbg; i++) {
		char *path = join(prefixes[i], rel);
		if (!path) {
			ret = HS_ENOMEM;
			break;
		}
		Elf *dbg;
		struct hs_error *err = open_elf(prefixes[i] ? ctx_root(c) : NULL, path,
						 NULL, &dbg, NULL);
		if (err) {
			if (access(path, F_OK) == 0)
				hs_diags_add(&c->proc->diags, HS_DIAG_WARNING, false,
					     0, "%s: debug file unusable: %s",
					     mod->name, err->message);
			hs_error_destroy(err);
			free(path);
			continue;
		}
		uint8_t id[sizeof(mod->build_id)];
		size_t idlen = file_build_id(dbg, id, sizeof(id));
		if (idlen != mod->build_id_len ||
		    memcmp(id, mod->build_id, idlen) != 0) {
			hs_diags_add(&c->proc->diags, HS_DIAG_WARNING, false, 0,
				     "%s: debug file %s has another build-id; "
				     "ignored", mod->name, path);
			elf_end(dbg);
			free(path);
			continue;
		}
		struct symtab t;
		if (!symtab_load(dbg, SHT_SYMTAB, mod->bias, HS_SYMS_DEBUGINFO,
				 path, &c->proc->diags, &t, &ret)) {
			elf_end(dbg);
			free(path);
			if (ret)
				break;
			continue;
		}
		me->dbg = dbg;
		me->tabs[me->ntabs++] = t;
		mod->debug_path = path;
	}
	free(rel);
	return ret;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Open the module's file, check it against the core's build-id, and load
 * symbols. Problems are diagnostics; the return is for out-of-memory only.
 * *data_ret says the mapping is a data file rather than an object.
 */
static struct hs_error *module_open_file(struct load_ctx *c,
					 struct hs_module *mod,
					 struct hs_module_elf *me,
					 bool have_core_view, struct elf_view *v,
					 bool *data_ret)
{
	struct hs_process *proc = c->proc;
	char *path;
	const struct sysroot_dir *root = NULL;
	if (mod->is_main && c->opts->exe) {
		path = hs_strdup(c->opts->exe);
	} else {
		path = join(c->opts->sysroot, mod->name);
		root = ctx_root(c);
	}
	if (!path)
		return HS_ENOMEM;
	Elf *elf = NULL;
	struct stat st;
	enum elf_failure why = ELF_FAIL_OTHER;
	struct hs_error *err = open_elf(root, path, &why, &elf, &st);
	if (err && err->code == HS_ERR_IO && ends_with(path, " (deleted)")) {
		/* The kernel marks unlinked files; a sysroot may hold them. */
		path[strlen(path) - strlen(" (deleted)")] = '\0';
		hs_error_destroy(err);
		why = ELF_FAIL_OTHER;
		err = open_elf(root, path, &why, &elf, &st);
	}
	/*
	 * A mapped file that is no ELF, and no ELF header in the core either:
	 * a locale archive, a gconv cache, a database. Services map many; they
	 * are data, not modules, and not worth a word. So is a file that no
	 * longer exists and of which the core holds no byte: a shared-memory
	 * file of a service that has since exited (varnish's working
	 * directory), where there is nothing to tell an object from data.
	 */
	uint64_t backed;
	if (err && !have_core_view && !mod->is_main &&
	    (why == ELF_FAIL_NOT_ELF ||
	     (why == ELF_FAIL_MISSING &&
	      (!hs_memory_next_backed(&proc->mem, mod->start, &backed) ||
	       backed >= mod->end)))) {
		*data_ret = true;
		hs_error_destroy(err);
		free(path);
		return NULL;
	}
	if (!have_core_view)
		hs_diags_add(&proc->diags, HS_DIAG_INFO, false, 0,
			     "%s: ELF headers not dumped in the core; "
			     "load bias and build-id come from the file",
			     mod->name);
	if (err) {
		/* The message starts with the path it could not use: name
		 * the module once, and the file only if it is another one. */
		const char *msg = err->message;
		size_t n = strlen(path);
		if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
			msg += n + 2;
		size_t nn = strlen(mod->name);
		if (ends_with(mod->name, " (deleted)"))
			nn -= strlen(" (deleted)");
		if (n == nn && strncmp(path, mod->name, n) == 0)
			hs_diags_add(&proc->diags, HS_DIAG_WARNING, false, 0,
				     "%s: %s; its symbols are ignored", mod->name, msg);
		else
			hs_diags_add(&proc->diags, HS_DIAG_WARNING, false, 0,
				     "%s: %s: %s; its symbols are ignored", mod->name,
				     path, msg);
		hs_error_destroy(err);
		free(path);
		return NULL;
	}
	/* Each file's symbols are loaded once, and at most MAX_MODULE_FILES
	 * files: a hostile NT_FILE can name one file under endless spellings
	 * ("/usr/./lib/...") or every library on this machine. */
	bool again = false;
	for (size_t i = 0; i < c->nopened && !again; i++)
		again = c->opened[i].dev == st.st_dev && c->opened[i].ino == st.st_ino;
	if (again || c->nopened >= MAX_MODULE_FILES) {
		hs_diags_add(&proc->diags, HS_DIAG_WARNING, true, mod->start,
			     again ? "%s: %s is the file of an earlier module; its "
				     "symbols are not loaded twice" :
				     "%s: %s: more than %d module files; its symbols "
				     "are not loaded", mod->name, path, MAX_MODULE_FILES);
		elf_end(elf);
		free(path);
		return NULL;
	}
	if (!hs_grow((void **)&c->opened, &c->opened_cap, c->nopened + 1,
		     sizeof(*c->opened))) {
		elf_end(elf);
		free(path);
		return HS_ENOMEM;
	}
	c->opened[c->nopened].dev = st.st_dev;
	c->opened[c->nopened++].ino = st.st_ino;

	uint8_t id[sizeof(mod->build_id)];
	size_t idlen = file_build_id(elf, id, sizeof(id));
	if (mod->build_id_len && idlen &&
	    (idlen != mod->build_id_len || memcmp(id, mod->build_id, idlen))) {
		char a[2 * sizeof(id) + 1], b[2 * sizeof(id) + 1];
		hex(mod->build_id, mod->build_id_len, a, sizeof(a));
		hex(id, idlen, b, sizeof(b));
		hs_diags_add(&proc->diags, HS_DIAG_WARNING, false, 0,
			     "%s: build-id mismatch (core %s, file %s %s); its "
			     "symbols are ignored", mod->name, a, path, b);
		elf_end(elf);
		free(path);
		return NULL;
	}
	if (mod->build_id_len && !idlen)
		hs_diags_add(&proc->diags, HS_DIAG_INFO, false, 0,
			     "%s: %s has no build-id; cannot check it matches the core",
			     mod->name, path);
	if (!mod->build_id_len && idlen) {
		memcpy(mod->build_id, id, idlen);
		mod->build_id_len = idlen;
		hs_diags_add(&proc->diags, HS_DIAG_INFO, false, 0,
			     "%s: build-id not dumped in the core; %s used "
			     "unverified", mod->name, path);
	}
	if (!have_core_view) {
		/* Bias from the file's headers (only if the core lacked them). */
		uint64_t link_end;
		if (file_elf_view(elf, v) &&
		    view_bias(v, mod->start, &mod->bias, &link_end)) {
			uint64_t e = (link_end + mod->bias + 0xfff) &
				     PAGE_MASK_4K;
			if (e > mod->end && e > mod->start)
				mod->end = e;
		} else {
			hs_diags_add(&proc->diags, HS_DIAG_WARNING, false, 0,
				     "%s: cannot compute its load bias; its "
				     "symbols are ignored", mod->name);
			elf_end(elf);
			free(path);
			return NULL;
		}
	}
	me->elf = elf;
	size_t rawsize = 0;
	me->raw = (const uint8_t *)elf_rawfile(elf, &rawsize);
	me->rawsize = me->raw ? rawsize : 0;
	mod->disk_path = path;
	load_file_phdrs(me);

	err = load_debuginfo(c, mod, me);
	if (err)
		return err;
	struct symtab t;
	if (symtab_load(elf, SHT_SYMTAB, mod->bias, HS_SYMS_SYMTAB, path,
			&proc->diags, &t, &err))
		me->tabs[me->ntabs++] = t;
	if (err)
		return err;
	if (symtab_load(elf, SHT_DYNSYM, mod->bias, HS_SYMS_DYNSYM, path,
			&proc->diags, &t, &err))
		me->tabs[me->ntabs++] = t;
	if (err)
		return err;
	mod->symbols = me->ntabs ? me->tabs[0].source : HS_SYMS_NONE;
	if (!me->ntabs)
		hs_diags_add(&proc->diags, HS_DIAG_INFO, false, 0,
			     "%s: %s has no symbol table", mod->name, path);
	return tpoff_load(mod, me, &proc->diags);
}

/* ---- The module list ---- */

static int cmp_file_idx_r(const void *a, const void *b, void *arg)
{
	const struct hs_file_mapping *f = arg;
	const struct hs_file_mapping *x = &f[*(const size_t *)a];
	const struct hs_file_mapping *y = &f[*(const size_t *)b];
	int d = strcmp(x->path, y->path);
	if (d)
		return d;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_module(const void *a, const void *b)
{
	const struct hs_module *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static uint64_t auxv_get(const struct hs_process *proc, uint64_t type)
{
	for (size_t i = 0; i < proc->naux; i++)
		if (proc->auxv[2 * i] == type)
			return proc->auxv[2 * i + 1];
	return 0;
}

/* The main executable: AT_PHDR or AT_ENTRY inside it (what the kernel
 * loaded), else an ET_EXEC object, else AT_EXECFN's path or pr_fname. */
static void pick_main(struct hs_process *proc, const uint16_t *types)
{
	uint64_t at[2] = { auxv_get(proc, AT_PHDR), auxv_get(proc, AT_ENTRY) };
	for (size_t k = 0; k < 2; k++) {
		if (!at[k])
			continue;
		struct hs_module *m = hs_process_module_at(proc, at[k]);
		if (m) {
			m->is_main = true;
			return;
		}
	}
	for (size_t i = 0; i < proc->nmodules; i++) {
		if (types[i] == ET_EXEC) {
			proc->modules[i].is_main = true;
			return;
		}
	}
	char execfn[256];
	uint64_t fnaddr = auxv_get(proc, AT_EXECFN);
	const char *fn = NULL;
	size_t n = 0;
	for (; fnaddr && n + 1 < sizeof(execfn); n++) {
		const char *p = hs_memory_ptr(&proc->mem, fnaddr + n, 1);
		if (!p || !*p)
			break;
		execfn[n] = *p;
	}
	if (n) {
		execfn[n] = '\0';
		fn = execfn;
	}
	for (size_t i = 0; i < proc->nmodules; i++) {
		const char *name = proc->modules[i].name;
		const char *b = strrchr(name, '/');
		b = b ? b + 1 : name;
		if ((fn && *fn && strcmp(name, fn) == 0) ||
		    (proc->exe_name && *proc->exe_name &&
		     strncmp(b, proc->exe_name, 15) == 0)) {
			proc->modules[i].is_main = true;
			return;
		}
	}
}

struct hs_error *hs_modules_load(struct hs_process *proc,
				 const struct hs_process_options *opts)
{
	struct load_ctx c = {
		.proc = proc,
		.opts = opts,
		.debug_dir = opts->debug_dir ? opts->debug_dir : "/usr/lib/debug",
		.root = { .fd = -1 },
	};
	size_t n = proc->nfiles;
	if (!n)
		return NULL;
	elf_version(EV_CURRENT); /* idempotent; required before any libelf call */
	/* Not there: every path under it fails to open, with a diagnostic. */
	if (opts->sysroot && *opts->sysroot) {
		c.root.fd = open(opts->sysroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
		c.root.len = strlen(opts->sysroot);
	}
	size_t *idx = malloc(n * sizeof(*idx));
	struct elf_view *v = malloc(sizeof(*v));
	/* Per module: its ELF type and whether the core had its headers. */
	uint16_t *types = malloc(n * sizeof(*types));
	bool *core_view = malloc(n * sizeof(*core_view));
	size_t cap = 0;
	struct hs_error *err = NULL;
	if (!idx || !v || !types || !core_view) {
		err = HS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	/* Group by path, by address within a path. */
	qsort_r(idx, n, sizeof(*idx), cmp_file_idx_r, proc->files);

	const char *last_path = NULL;
	for (size_t k = 0; k < n; k++) {
		const struct hs_file_mapping *f = &proc->files[idx[k]];
		if (f->file_offset != 0 || f->start == f->end)
			continue;
		if (proc->nmodules >= MAX_MODULES) {
			hs_diags_add(&proc->diags, HS_DIAG_WARNING, false, 0,
				     "NT_FILE lists more than %d objects; the rest are "
				     "not modules", MAX_MODULES);
			break;
		}
		/* Files are grouped by path: the same file mapped again (by
		 * dlmopen, or by a hostile NT_FILE a million times) is one
		 * module, the first. */
		if (last_path && strcmp(last_path, f->path) == 0) {
			hs_diags_add(&proc->diags, HS_DIAG_INFO, true, f->start,
				     "%s: mapped again at 0x%" PRIx64 "; only its first "
				     "mapping is a module", f->path, f->start);
			continue;
		}
		bool have_view = core_elf_view(proc, f->start, v);
		if (!have_view) {
			/* Not dumped, or not an ELF: a module only if the
			 * first bytes are not in the core and the file is
			 * ELF (checked when opening it). */
			if (hs_memory_readable(&proc->mem, f->start, SELFMAG))
				continue;
		}
		struct hs_module mod = {
			.start = f->start,
			.end = f->end,
		};
		/* Its other mappings: same path, up to the next offset 0. */
		for (size_t j = k + 1; j < n; j++) {
			const struct hs_file_mapping *g = &proc->files[idx[j]];
			if (strcmp(g->path, f->path) != 0 || g->file_offset == 0)
				break;
			if (g->end > mod.end)
				mod.end = g->end;
		}
		uint64_t link_end = 0;
		if (have_view) {
			if (v->type != ET_EXEC && v->type != ET_DYN)
				continue; /* e.g. a mapped .o or core: not code */
			if (!view_bias(v, mod.start, &mod.bias, &link_end)) {
				have_view = false;
			} else {
				/* Cover .bss, which NT_FILE does not list. */
				uint64_t e = (link_end + mod.bias + 0xfff) &
					     PAGE_MASK_4K;
				if (e > mod.end && e > mod.start)
					mod.end = e; /* (no wrap-around) */
				mod.build_id_len = core_build_id(proc, v, mod.bias,
							mod.build_id,
							sizeof(mod.build_id));
			}
		}
		mod.name = hs_strdup(f->path);
		if (!mod.name ||
		    !hs_grow((void **)&proc->modules, &cap, proc->nmodules + 1,
			     sizeof(*proc->modules))) {
			free(mod.name);
			err = HS_ENOMEM;
			goto out;
		}
		types[proc->nmodules] = have_view ? v->type : ET_NONE;
		core_view[proc->nmodules] = have_view;
		proc->modules[proc->nmodules++] = mod;
		last_path = f->path;
	}
	/* Sort by address (carrying the side arrays along) and make spans
	 * disjoint so module_at can binary-search. */
	for (size_t i = 1; i < proc->nmodules; i++) {
		for (size_t j = i; j > 0 &&
		     cmp_module(&proc->modules[j - 1], &proc->modules[j]) > 0;
		     j--) {
			struct hs_module tm = proc->modules[j];
			proc->modules[j] = proc->modules[j - 1];
			proc->modules[j - 1] = tm;
			uint16_t tt = types[j];
			types[j] = types[j - 1];
			types[j - 1] = tt;
			bool tb = core_view[j];
			core_view[j] = core_view[j - 1];
			core_view[j - 1] = tb;
		}
	}
	for (size_t i = 0; i + 1 < proc->nmodules; i++)
		if (proc->modules[i].end > proc->modules[i + 1].start)
			proc->modules[i].end = proc->modules[i + 1].start;
	/* Two objects at one address (a hostile NT_FILE) leave an empty span:
	 * drop it, with a word. */
	size_t kept = 0;
	for (size_t i = 0; i < proc->nmodules; i++) {
		struct hs_module *m = &proc->modules[i];
		if (m->end <= m->start) {
			hs_diags_add(&proc->diags, HS_DIAG_WARNING, true, m->start,
				     "%s: mapped at 0x%" PRIx64 " where another "
				     "object starts; ignored", m->name, m->start);
			free(m->name);
			continue;
		}
		types[kept] = types[i];
		core_view[kept] = core_view[i];
		proc->modules[kept++] = *m;
	}
	proc->nmodules = kept;
	pick_main(proc, types);
	if (opts->exe && !hs_process_main_module(proc))
		hs_diags_add(&proc->diags, HS_DIAG_WARNING, false, 0,
			     "--exe %s: the main executable is not identifiable "
			     "in the core; ignored", opts->exe);

	for (size_t i = 0; i < proc->nmodules; i++) {
		struct hs_module *mod = &proc->modules[i];
		struct hs_module_elf *me = calloc(1, sizeof(*me));
		if (!me) {
			err = HS_ENOMEM;
			goto out;
		}
		mod->priv = me;
		if (core_view[i])
			core_elf_view(proc, mod->start, v);
		bool data = false;
		err = module_open_file(&c, mod, me, core_view[i], v, &data);
		if (err)
			goto out;
		if (data)
			hs_module_deinit(mod); /* name NULL: dropped below */
	}
	kept = 0;
	for (size_t i = 0; i < proc->nmodules; i++)
		if (proc->modules[i].name)
			proc->modules[kept++] = proc->modules[i];
	proc->nmodules = kept;
	/* Spans can grow from file headers: keep them disjoint. */
	for (size_t i = 0; i + 1 < proc->nmodules; i++)
		if (proc->modules[i].end > proc->modules[i + 1].start)
			proc->modules[i].end = proc->modules[i + 1].start;
out:
	if (c.root.fd >= 0)
		close(c.root.fd);
	free(c.opened);
	free(idx);
	free(v);
	free(types);
	free(core_view);
	return err;
}

void hs_module_deinit(struct hs_module *mod)
{
	if (!mod)
		return;
	struct hs_module_elf *me = mod->priv;
	if (me) {
		for (size_t i = 0; i < me->ntabs; i++)
			symtab_free(&me->tabs[i]);
		free(me->tpoffs);
		free(me->loads);
		if (me->dbg)
			elf_end(me->dbg);
		if (me->elf)
			elf_end(me->elf);
		free(me);
	}
	free(mod->name);
	free(mod->disk_path);
	free(mod->debug_path);
	memset(mod, 0, sizeof(*mod));
}

/* ---- Public lookups ---- */

bool hs_module_symbol(struct hs_module *mod, const char *name,
		      struct hs_symbol *ret)
{
	struct hs_module_elf *me = mod ? mod->priv : NULL;
	if (!me || !name)
		return false;
	for (int versioned = 0; versioned < 2; versioned++)
		for (size_t i = 0; i < me->ntabs; i++)
			if (symtab_by_name(&me->tabs[i], name, versioned, ret))
				return true;
	return false;
}

bool hs_module_symbol_at(struct hs_module *mod, uint64_t addr,
			 struct hs_symbol *ret)
{
	struct hs_module_elf *me = mod ? mod->priv : NULL;
	if (!me)
		return false;
	for (size_t i = 0; i < me->ntabs; i++)
		if (symtab_at(&me->tabs[i], addr, ret))
			return true;
	return false;
}

void hs_module_for_each_symbol(struct hs_module *mod,
			       bool (*fn)(const struct hs_symbol *sym, void *arg),
			       void *arg)
{
	struct hs_module_elf *me = mod ? mod->priv : NULL;
	if (!me || !me->ntabs)
		return;
	const struct symtab *t = &me->tabs[0];
	for (size_t i = 0; i < t->nsyms; i++)
		if (!fn(&t->syms[i], arg))
			return;
}

/* The file bytes of PT_LOAD p from `delta` into its file image, clipped to
 * the file (a program header may claim more than the file holds); NULL if
 * none are there. delta < p_filesz. */
static const uint8_t *load_bytes(const struct hs_module_elf *me,
				 const GElf_Phdr *p, uint64_t delta, size_t *avail)
{
	uint64_t off = p->p_offset + delta;
	if (p->p_offset > me->rawsize || off >= me->rawsize)
		return NULL;
	uint64_t n = p->p_filesz - delta;
	if (n > me->rawsize - off)
		n = me->rawsize - off;
	*avail = (size_t)n;
	return me->raw + off;
}

const uint8_t *hs_module_file_span(struct hs_module *mod, uint64_t addr,
				   size_t *avail)
{
	struct hs_module_elf *me = mod ? mod->priv : NULL;
	if (!me || !me->raw)
		return NULL;
	uint64_t link = addr - mod->bias;
	for (size_t i = 0; i < me->nloads; i++) {
		const GElf_Phdr *p = &me->loads[i];
		if (link < p->p_vaddr || link - p->p_vaddr >= p->p_filesz)
			continue;
		return load_bytes(me, p, link - p->p_vaddr, avail);
	}
	return NULL;
}

void hs_module_for_each_file_span(struct hs_module *mod,
				  bool (*fn)(uint64_t addr, const uint8_t *bytes,
					     size_t len, void *arg),
				  void *arg)
{
	struct hs_module_elf *me = mod ? mod->priv : NULL;
	if (!me || !me->raw)
		return;
	for (size_t i = 0; i < me->nloads; i++) {
		const GElf_Phdr *p = &me->loads[i];
		size_t n;
		const uint8_t *bytes = p->p_filesz ? load_bytes(me, p, 0, &n) : NULL;
		if (bytes && !fn(p->p_vaddr + mod->bias, bytes, n, arg))
			return;
	}
}

const void *hs_module_file_bytes(struct hs_module *mod, uint64_t addr,
				 size_t len)
{
	size_t avail;
	const uint8_t *p = hs_module_file_span(mod, addr, &avail);
	return p && len <= avail ? p : NULL;
}

void hs_module_for_each_tpoff(struct hs_module *mod,
			      bool (*fn)(uint64_t slot, int64_t addend,
					 const char *sym, void *arg),
			      void *arg)
{
	struct hs_module_elf *me = mod ? mod->priv : NULL;
	if (!me)
		return;
	for (size_t i = 0; i < me->ntpoffs; i++)
		if (!fn(me->tpoffs[i].slot, me->tpoffs[i].addend,
			me->tpoffs[i].sym, arg))
			return;
}

bool hs_process_tpoff(struct hs_process *proc, uint64_t slot_addr,
		      int64_t *ret)
{
	struct hs_module *mod = hs_process_module_at(proc, slot_addr);
	struct hs_module_elf *me = mod ? mod->priv : NULL;
	if (!me || !me->ntpoffs)
		return false;
	size_t lo = 0, hi = me->ntpoffs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (me->tpoffs[mid].slot < slot_addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == me->ntpoffs || me->tpoffs[lo].slot != slot_addr)
		return false;
	uint64_t v;
	if (!hs_memory_u64(&proc->mem, slot_addr, &v))
		return false;
	*ret = (int64_t)v;
	return true;
}

void hs_module_for_each_load(struct hs_module *mod,
			     bool (*fn)(uint64_t addr, uint64_t memsz, uint32_t flags, void *arg),
			     void *arg)
{
	const struct hs_module_elf *me = mod->priv;
	for (size_t i = 0; me && i < me->nloads; i++) {
		const GElf_Phdr *p = &me->loads[i];
		if (!fn(p->p_vaddr + mod->bias, p->p_memsz, p->p_flags, arg))
			return;
	}
}

bool hs_module_tls(struct hs_module *mod, uint64_t *memsz, uint64_t *align)
{
	const struct hs_module_elf *me = mod->priv;
	if (!me || !me->has_tls)
		return false;
	*memsz = me->tls.p_memsz;
	*align = me->tls.p_align ? me->tls.p_align : 1;
	return true;
}
