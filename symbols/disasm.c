/* disasm.c: x86-64 disassembly of module code with capstone, memory operands decoded. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "module.h"

/* A function bigger than this is not worth scanning for anchors. */
#define MAX_FUNCTION_BYTES (64 * 1024)
/* Without a symbol size: read this much and stop at the first ret. */
#define UNSIZED_FUNCTION_BYTES 4096

/* Copy a string into a fixed field, truncating (capstone's are longer). */
static void copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void fill_insn(csh h, const cs_insn *in, struct hs_insn *out)
{
	memset(out, 0, sizeof(*out));
	out->addr = in->address;
	out->size = in->size;
	copy_field(out->mnemonic, sizeof(out->mnemonic), in->mnemonic);
	copy_field(out->op_str, sizeof(out->op_str), in->op_str);
	out->is_call = cs_insn_group(h, in, CS_GRP_CALL);
	out->is_jump = cs_insn_group(h, in, CS_GRP_JUMP);
	out->is_ret = cs_insn_group(h, in, CS_GRP_RET);
	const cs_x86 *x = &in->detail->x86;
	for (uint8_t i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];
		switch (op->type) {
		case X86_OP_REG:
			if (i == 0)
				out->dst_reg = (uint16_t)op->reg;
			else if (i == 1)
				out->src_reg = (uint16_t)op->reg;
			break;
		case X86_OP_IMM:
			if (!out->has_imm) {
				out->has_imm = true;
				out->imm = op->imm;
			}
			break;
		case X86_OP_MEM:
			if (out->has_mem)
				break;
			out->has_mem = true;
			out->mem_base = (uint16_t)op->mem.base;
			out->mem_disp = op->mem.disp;
			out->mem_fs = op->mem.segment == X86_REG_FS;
			out->mem_rip = op->mem.base == X86_REG_RIP;
			/* RIP-relative: relative to the next instruction. */
			out->mem_target = out->mem_rip ?
				in->address + in->size + (uint64_t)op->mem.disp :
				(uint64_t)op->mem.disp;
			break;
		default:
			break;
		}
	}
	if ((out->is_call || out->is_jump) && x->op_count >= 1 &&
	    x->operands[0].type == X86_OP_IMM)
		out->branch_target = (uint64_t)x->operands[0].imm;
}

struct hs_error *hs_disasm(struct hs_module *mod, uint64_t addr,
			   size_t max_bytes, size_t max_insns,
			   bool stop_at_ret, struct hs_insn **ret,
			   size_t *nret)
{
	size_t avail = 0;
	const uint8_t *code = hs_module_file_span(mod, addr, &avail);
	if (!code)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "%s: no code in the file at 0x%" PRIx64,
				       mod && mod->name ? mod->name : "(module)",
				       addr);
	if (max_bytes > avail)
		max_bytes = avail;
	csh h;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return hs_error_create(HS_ERR_OTHER, "cs_open: %s",
				       cs_strerror(cs_errno(0)));
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	cs_insn *in = cs_malloc(h);
	struct hs_insn *out = NULL;
	size_t n = 0, cap = 0;
	struct hs_error *err = NULL;
	if (!in) {
		err = HS_ENOMEM;
		goto done;
	}
	size_t left = max_bytes;
	uint64_t pc = addr;
	while (n < max_insns && cs_disasm_iter(h, &code, &left, &pc, in)) {
		if (!hs_grow((void **)&out, &cap, n + 1, sizeof(*out))) {
			err = HS_ENOMEM;
			goto done;
		}
		fill_insn(h, in, &out[n]);
		n++;
		if (stop_at_ret && out[n - 1].is_ret)
			break;
	}
done:
	if (in)
		cs_free(in, 1);
	cs_close(&h);
	if (err) {
		free(out);
		return err;
	}
	*ret = out;
	*nret = n;
	return NULL;
}

struct hs_error *hs_disasm_function(struct hs_module *mod, const char *func,
				    size_t max_insns, struct hs_insn **ret,
				    size_t *nret)
{
	struct hs_symbol sym;
	if (!hs_module_symbol(mod, func, &sym))
		return hs_error_create(HS_ERR_NOT_FOUND, "%s: no symbol %s",
				       mod && mod->name ? mod->name : "(module)",
				       func);
	bool sized = sym.size != 0;
	size_t bytes = sized ? (sym.size > MAX_FUNCTION_BYTES ?
				MAX_FUNCTION_BYTES : (size_t)sym.size) :
			       UNSIZED_FUNCTION_BYTES;
	return hs_disasm(mod, sym.addr, bytes, max_insns, !sized, ret, nret);
}

const char *hs_disasm_reg_name(uint16_t reg)
{
	if (reg == 0)
		return "";
	/* Register names are capstone's static strings: they outlive the
	 * handle, so a short-lived handle is enough (and no global state). */
	csh h;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return "?";
	const char *name = cs_reg_name(h, reg);
	cs_close(&h);
	return name ? name : "?";
}
