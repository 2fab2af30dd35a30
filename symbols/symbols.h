/* symbols.h: the symbols layer's interface: process memory, the core file, its modules and their symbols. */
#ifndef HS_SYMBOLS_H
#define HS_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

/*
 * ---------------------------------------------------------------------------
 * hs_memory: a sorted map of address ranges onto bytes that somebody else
 * owns (the mmapped core, or a test's buffers). Every read is checked against
 * the map; nothing here ever dereferences an address that is not mapped.
 *
 * A range may be shorter in the file than in memory (filesz < memsz): a
 * truncated core, or gcore's PROT_NONE reservations. Reads of the part past
 * filesz fail with HS_ERR_TRUNCATED, reads of unmapped addresses with
 * HS_ERR_FAULT. Ranges never overlap (hs_memory_add rejects overlaps).
 * ---------------------------------------------------------------------------
 */
struct hs_memory_range {
	uint64_t start;      /* virtual address */
	uint64_t memsz;      /* bytes of address space */
	uint64_t filesz;     /* bytes backed by data (<= memsz) */
	const uint8_t *data; /* filesz bytes; not owned */
	uint32_t flags;      /* PF_R | PF_W | PF_X */
};

struct hs_memory {
	struct hs_memory_range *ranges; /* sorted by start once sealed */
	size_t count, cap;
	bool sealed;
	size_t last; /* index of the last range hit: a read cache, not state */
};

void hs_memory_init(struct hs_memory *mem);
void hs_memory_deinit(struct hs_memory *mem);
/* Add a range. The data must outlive the map. Returns an error on overlap
 * (after sealing) or allocation failure. */
struct hs_error *hs_memory_add(struct hs_memory *mem, uint64_t start,
			       uint64_t memsz, const void *data,
			       uint64_t filesz, uint32_t flags);
/* Sort ranges and reject overlaps. Must be called before reads. */
struct hs_error *hs_memory_seal(struct hs_memory *mem);

/* Copy len bytes at addr into buf. Fails (HS_ERR_FAULT / HS_ERR_TRUNCATED)
 * if any byte is not backed by data, with the address in the message. The
 * bytes may span adjacent ranges (gcore splits a mapping where its
 * protection changes); hs_memory_ptr never does. All reads of a map that is
 * not sealed fail. */
struct hs_error *hs_memory_read(const struct hs_memory *mem, uint64_t addr,
				void *buf, size_t len);
/* Zero-copy: a pointer to len contiguous bytes at addr, or NULL if they are
 * not all backed by one range. This is the hot-path accessor: no allocation,
 * no error object. The pointer lives as long as the backing data. */
const void *hs_memory_ptr(const struct hs_memory *mem, uint64_t addr,
			  size_t len);
/* Convenience: read one little-endian u64/u32; false if unreadable. */
bool hs_memory_u64(const struct hs_memory *mem, uint64_t addr, uint64_t *ret);
bool hs_memory_u32(const struct hs_memory *mem, uint64_t addr, uint32_t *ret);
/* The range containing addr (mapped, whether or not backed), or NULL. */
const struct hs_memory_range *hs_memory_find(const struct hs_memory *mem,
					     uint64_t addr);
/* True if [addr, addr+len) is inside one backed range. */
bool hs_memory_readable(const struct hs_memory *mem, uint64_t addr,
			uint64_t len);
/* True if every byte of [addr, addr+len) is backed, possibly across
 * adjacent ranges: exactly when hs_memory_read would succeed, without
 * copying. Bounded by the number of ranges. */
bool hs_memory_backed(const struct hs_memory *mem, uint64_t addr, size_t len);
/* How many bytes of [addr, addr+len) the core holds (any range), for the
 * memory table's "dumped" column. Bounded by the number of ranges. */
uint64_t hs_memory_backed_bytes(const struct hs_memory *mem, uint64_t addr,
				uint64_t len);
/* The lowest address >= addr whose byte is backed, through *ret; false if
 * there is none. Lets a scan step over a stretch the core does not hold
 * (a truncated segment) in one move rather than address by address.
 * Bounded by the number of ranges. */
bool hs_memory_next_backed(const struct hs_memory *mem, uint64_t addr,
			   uint64_t *ret);

/*
 * ---------------------------------------------------------------------------
 * Threads, mapped files and modules.
 * ---------------------------------------------------------------------------
 */
struct hs_thread {
	int32_t tid;
	uint64_t fs_base; /* thread pointer; on x86_64 glibc this is pthread_self() */
	uint64_t rsp, rip;
	uint64_t regs[27]; /* struct user_regs_struct, in kernel order */
};

/* One NT_FILE entry. */
struct hs_file_mapping {
	uint64_t start, end, file_offset; /* file_offset in bytes */
	const char *path;                 /* points into the core's note; not owned */
};

enum hs_symbol_source {
	HS_SYMS_NONE = 0,
	HS_SYMS_DYNSYM,
	HS_SYMS_SYMTAB,
	HS_SYMS_DEBUGINFO,
};
const char *hs_symbol_source_name(enum hs_symbol_source src);

struct hs_symbol {
	const char *name; /* owned by the module */
	uint64_t addr;    /* runtime address (load bias applied); for STT_TLS,
			   * the offset in the module's TLS block (no bias) */
	uint64_t size;
	uint8_t type;     /* STT_* */
	uint8_t bind;     /* STB_* */
};

/*
 * A module: an ELF object mapped in the process (executable, shared library,
 * vdso excluded). Its file on disk is opened read-only and mmapped, only as an
 * ELF for symbols and code. If the file is missing or its build-id does not
 * match the one dumped in the core, the module stays in the list with
 * elf == NULL (symbols NONE) and a diagnostic is recorded.
 */
struct hs_module {
	char *name;        /* path as recorded in the core (NT_FILE) */
	char *disk_path;   /* file actually opened (after --sysroot / --exe), or NULL */
	char *debug_path;  /* separate debug file used, or NULL */
	uint64_t start, end; /* runtime address span of all its mappings */
	uint64_t bias;     /* runtime address = link-time vaddr + bias */
	uint8_t build_id[64];
	size_t build_id_len; /* 0 if unknown */
	bool is_main;      /* the executable */
	enum hs_symbol_source symbols;
	void *priv;        /* struct hs_module_elf: private to symbols/ */
};

/*
 * ---------------------------------------------------------------------------
 * hs_process: what the walkers and the analyzer see. Built from a core by
 * hs_process_open(), or assembled by hand in unit tests and fuzz targets
 * (memory ranges plus threads, no modules).
 * ---------------------------------------------------------------------------
 */
struct hs_core; /* private to symbols/ */

/*
 * What wrote the core, which decides what its segments mean: gdb's gcore
 * writes every readable page (never-touched ones as zeros, PROT_NONE as
 * read-only zeros) and leaves out unmodified file mappings; the kernel
 * writes a segment for every mapping, with no bytes for mappings never
 * written to (and for PROT_NONE ones), and its segments keep the exact
 * protection.
 */
enum hs_core_writer {
	HS_CORE_WRITER_UNKNOWN = 0, /* also: synthetic processes */
	HS_CORE_WRITER_GCORE,
	HS_CORE_WRITER_KERNEL,
};
const char *hs_core_writer_name(enum hs_core_writer w);

struct hs_process_options {
	const char *sysroot;     /* prefix for every module path, or NULL */
	const char *exe;         /* overrides the main executable's path, or NULL */
	const char *debug_dir;   /* default "/usr/lib/debug" */
	bool no_debuginfo;       /* never load separate debug info */
};

struct hs_process {
	struct hs_memory mem;
	struct hs_thread *threads;
	size_t nthreads;
	struct hs_module *modules;
	size_t nmodules;
	struct hs_file_mapping *files; /* NT_FILE, sorted by start */
	size_t nfiles;
	int32_t pid;
	char *exe_name;  /* from NT_PRPSINFO pr_fname / psargs, or NULL */
	char *psargs;
	const uint64_t *auxv; /* pairs (type, value), naux pairs */
	size_t naux;
	struct hs_diags diags; /* module diagnostics: missing files, build-id mismatch */
	struct hs_core *core;  /* NULL for synthetic processes */
	char *core_path;
	uint64_t core_bytes;
	enum hs_core_writer core_writer;
};

/*
 * Open a core file: mmap it read-only (never copied), check it is an x86_64
 * ELF core, read PT_LOAD into proc->mem, and the notes (NT_PRSTATUS per
 * thread, NT_FILE, NT_AUXV, NT_PRPSINFO). Then find each module on disk and
 * load its symbols. A truncated core is not an error as long as the notes are
 * intact: the missing tail reads as HS_ERR_TRUNCATED and a diagnostic says so.
 *
 * Errors (code, message naming the file): HS_ERR_IO (cannot open/mmap),
 * HS_ERR_FORMAT (not ELF, not a core), HS_ERR_UNSUPPORTED (other machine or
 * class), HS_ERR_TRUNCATED (headers or notes cut off). On success *ret is a
 * new process the caller frees with hs_process_destroy().
 */
struct hs_error *hs_process_open(const char *core_path,
				 const struct hs_process_options *opts,
				 struct hs_process **ret);
/* An empty synthetic process (for tests and fuzzing). */
struct hs_error *hs_process_create(struct hs_process **ret);
/* Frees everything; takes NULL. */
void hs_process_destroy(struct hs_process *proc);

/* Add a thread to a synthetic process. */
struct hs_error *hs_process_add_thread(struct hs_process *proc,
				       const struct hs_thread *t);

/* The module whose file name (basename, compared up to the first '.so'
 * suffix if `prefix` is true, e.g. "libc.so" matches "libc.so.6") matches,
 * or NULL. */
struct hs_module *hs_process_find_module(struct hs_process *proc,
					 const char *basename, bool prefix);
/* The module whose runtime span contains addr, or NULL. */
struct hs_module *hs_process_module_at(struct hs_process *proc, uint64_t addr);
/* The NT_FILE mapping holding addr (the last to start at or below it), or
 * NULL: file-backed memory, a module's or a data file's. */
const struct hs_file_mapping *hs_process_file_at(const struct hs_process *proc,
						 uint64_t addr);
struct hs_module *hs_process_main_module(struct hs_process *proc);

/*
 * Symbol lookup in one module, by name (exact match, first in preference
 * order debuginfo > symtab > dynsym; failing that, a versioned
 * "name@VERSION" .symtab entry) and by address (the symbol containing
 * addr, or the nearest preceding one with size 0; STT_TLS symbols are not
 * addresses and are never returned). Among equal names or addresses a
 * global beats a weak beats a local. Addresses are runtime. Return false if
 * not found. The symbol's strings live as long as the module.
 */
bool hs_module_symbol(struct hs_module *mod, const char *name,
		      struct hs_symbol *ret);
bool hs_module_symbol_at(struct hs_module *mod, uint64_t addr,
			 struct hs_symbol *ret);
/* Iterate every symbol of the best available table; stop if fn returns false. */
void hs_module_for_each_symbol(struct hs_module *mod,
			       bool (*fn)(const struct hs_symbol *sym, void *arg),
			       void *arg);

/*
 * Bytes of the module's file at a runtime address (bias removed, mapped
 * through the on-disk program headers), e.g. code to disassemble, .rodata or
 * .data.rel.ro contents. NULL if the module has no file or the range is not
 * in a PT_LOAD's file image. The pointer lives as long as the process.
 */
const void *hs_module_file_bytes(struct hs_module *mod, uint64_t addr,
				 size_t len);
/* Each PT_LOAD's file image, as (runtime address, bytes, length), clipped
 * to the file: what a scan of the module's contents covers, however large
 * the address range the core says the module spans. Stops if fn returns
 * false. */
void hs_module_for_each_file_span(struct hs_module *mod,
				  bool (*fn)(uint64_t addr, const uint8_t *bytes,
					     size_t len, void *arg),
				  void *arg);
/* Each PT_LOAD of the module's file, at its runtime address: (address,
 * bytes of address space, PF_* flags). Nothing when the module has no file.
 * Stops if fn returns false. The writable ones are the module's .data,
 * .bss, RELRO and GOT. */
void hs_module_for_each_load(struct hs_module *mod,
			     bool (*fn)(uint64_t addr, uint64_t memsz, uint32_t flags, void *arg),
			     void *arg);
/* The size and alignment of the module's static TLS block (PT_TLS); false
 * when it has none or no file. */
bool hs_module_tls(struct hs_module *mod, uint64_t *memsz, uint64_t *align);
/* Bytes at a runtime address: from the core if dumped there, else from the
 * module file. For read-only data that gcore does not always dump. */
const void *hs_process_ptr_or_file(struct hs_process *proc, uint64_t addr,
				   size_t len);

/*
 * The value the dynamic linker stored in a GOT slot for an
 * R_X86_64_TPOFF64 relocation, i.e. the offset of a TLS variable from the
 * thread pointer. Looks up the relocation whose slot is `slot_addr`
 * (runtime), reads the slot from the core. false if not such a slot or not
 * readable.
 */
bool hs_process_tpoff(struct hs_process *proc, uint64_t slot_addr,
		      int64_t *ret);
/* All TPOFF64 relocations of a module: slot runtime address, addend and
 * symbol name ("" for local). Calls fn for each; stop if fn returns false. */
void hs_module_for_each_tpoff(struct hs_module *mod,
			      bool (*fn)(uint64_t slot, int64_t addend,
					 const char *sym, void *arg),
			      void *arg);

/*
 * ---------------------------------------------------------------------------
 * Disassembly (capstone, x86-64) of a function in a module's file. Used to
 * find allocator globals that stripped libraries do not export: an exported
 * function that touches the global has its address in a RIP-relative operand.
 * ---------------------------------------------------------------------------
 */
struct hs_insn {
	uint64_t addr;      /* runtime address of the instruction */
	uint16_t size;
	char mnemonic[16];  /* "lea", "mov", "cmp", ... */
	char op_str[96];
	/* First memory operand, decoded: */
	bool has_mem;
	bool mem_rip;       /* base is RIP: mem_target is the absolute address */
	bool mem_fs;        /* segment is FS */
	uint64_t mem_target; /* RIP-relative target (runtime), or the displacement */
	int64_t mem_disp;
	uint16_t mem_base;  /* capstone x86_reg of base (0 if none) */
	uint16_t dst_reg;   /* capstone x86_reg of first operand if a register */
	uint16_t src_reg;   /* capstone x86_reg of second operand if a register */
	int64_t imm;        /* immediate operand if any */
	bool has_imm;
	bool is_call, is_jump, is_ret;
	uint64_t branch_target; /* for direct call/jmp */
};

/*
 * Disassemble up to max_insns instructions (and at most max_bytes) of the
 * function at runtime address `addr` in `mod`, stopping at the first `ret`
 * if stop_at_ret. On success *ret is a malloc'd array the caller frees and
 * *nret its length. Errors: HS_ERR_NOT_FOUND (no file bytes there).
 */
struct hs_error *hs_disasm(struct hs_module *mod, uint64_t addr,
			   size_t max_bytes, size_t max_insns,
			   bool stop_at_ret, struct hs_insn **ret,
			   size_t *nret);
/* Same, for the function named `func` (symbol lookup, size from the symbol
 * if known). HS_ERR_NOT_FOUND if the symbol is missing. */
struct hs_error *hs_disasm_function(struct hs_module *mod, const char *func,
				    size_t max_insns, struct hs_insn **ret,
				    size_t *nret);
/* capstone's register name, for messages and tests. */
const char *hs_disasm_reg_name(uint16_t reg);

#endif
