/* vtables.c: C++ classes of heap objects from their vptr: vtable symbols, or RTTI when the binary is stripped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers.h"
#include "vtables.h"

/*
 * Facts (Itanium C++ ABI, sections 2.5 "Virtual Table Layout" and 2.9.5
 * "RTTI Layout"; libstdc++ cxxabi.h / tinfo.h):
 *  - An object's vptr points at an address point of its class's vtable.
 *    At vptr - 8 is the type_info pointer of the complete class (0 with
 *    -fno-rtti), at vptr - 16 the offset-to-top: 0 for the primary vtable,
 *    minus the subobject's offset for secondary vtables in the group (virtual
 *    and multiple inheritance). Virtual-base and vcall offsets come before.
 *    So an object that starts a chunk has a vptr with offset-to-top 0, and its
 *    type_info names the complete class whatever the inheritance.
 *  - The vtable symbol _ZTV<type> covers the whole group; the primary
 *    address point is the symbol + 16.
 *  - A class type_info is an object whose own vptr is an address point of
 *    __cxxabiv1::__class_type_info, __si_class_type_info or
 *    __vmi_class_type_info's vtable, followed by a const char *name: the
 *    type's mangling without "_Z" ("N6common7ClosureE"). GCC prefixes '*' to
 *    the name of types with internal linkage (anonymous namespaces) so that
 *    they compare by address; type_info::name() skips it.
 */

/* libstdc++'s demangler (cxxabi.h); it accepts type manglings as well. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define HS_VT_NAME_MAX 4096
#define HS_VT_MAX_OTT (1 << 20) /* a secondary vtable's offset-to-top bound */

struct hs_vtsym {
	uint64_t start, size;
	const char *name; /* owned by the module */
};

struct hs_vtables {
	struct hs_process *proc;
	struct hs_vtsym *syms; /* _ZTV symbols, sorted by start */
	size_t nsyms, syms_cap;
	uint64_t tinfo_vptrs[3]; /* address points of the type_info vtables */
	size_t ntinfo;
	uint64_t mod_lo, mod_hi;
};

static bool hs_vt_collect(const struct hs_symbol *sym, void *arg)
{
	struct hs_vtables *vt = arg;
	if (strncmp(sym->name, "_ZTV", 4) != 0 || sym->size < 24 || !sym->addr)
		return true;
	if (!hs_grow((void **)&vt->syms, &vt->syms_cap, vt->nsyms + 1, sizeof(*vt->syms)))
		return false; /* out of memory: fewer symbols, RTTI still works */
	vt->syms[vt->nsyms++] = (struct hs_vtsym){sym->addr, sym->size, sym->name};
	return true;
}

static int hs_vt_cmp(const void *a, const void *b)
{
	const struct hs_vtsym *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

struct hs_error *hs_vtables_create(struct hs_process *proc, struct hs_vtables **ret)
{
	struct hs_vtables *vt = calloc(1, sizeof(*vt));
	if (!vt)
		return HS_ENOMEM;
	vt->proc = proc;
	static const char *const tinfo[] = {
		"_ZTVN10__cxxabiv117__class_type_infoE",
		"_ZTVN10__cxxabiv120__si_class_type_infoE",
		"_ZTVN10__cxxabiv121__vmi_class_type_infoE",
	};
	vt->mod_lo = UINT64_MAX;
	for (size_t m = 0; m < proc->nmodules; m++) {
		struct hs_module *mod = &proc->modules[m];
		if (mod->start < vt->mod_lo)
			vt->mod_lo = mod->start;
		if (mod->end > vt->mod_hi)
			vt->mod_hi = mod->end;
		if (mod->symbols == HS_SYMS_NONE)
			continue;
		hs_module_for_each_symbol(mod, hs_vt_collect, vt);
		for (size_t t = 0; t < HS_ARRAY_SIZE(tinfo); t++) {
			struct hs_symbol s;
			if (vt->ntinfo < HS_ARRAY_SIZE(vt->tinfo_vptrs) &&
			    hs_module_symbol(mod, tinfo[t], &s))
				vt->tinfo_vptrs[vt->ntinfo++] = s.addr + 16;
		}
	}
	if (vt->nsyms)
		qsort(vt->syms, vt->nsyms, sizeof(*vt->syms), hs_vt_cmp);
	*ret = vt;
	return NULL;
}

void hs_vtables_destroy(struct hs_vtables *vt)
{
	if (!vt)
		return;
	free(vt->syms);
	free(vt);
}

char *hs_demangle_type(const char *mangled)
{
	int status = -1;
	char *s = __cxa_demangle(mangled, NULL, NULL, &status);
	if (status != 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* The _ZTV symbol whose range contains v, or NULL. */
static const struct hs_vtsym *hs_vt_sym_at(const struct hs_vtables *vt, uint64_t v)
{
	size_t lo = 0, hi = vt->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (vt->syms[mid].start <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const struct hs_vtsym *s = &vt->syms[lo - 1];
	return v - s->start <= s->size ? s : NULL;
}

/*
 * A NUL-terminated string at addr (from the core, or from the module file
 * for .rodata that gcore did not dump), into buf. false if unreadable,
 * unterminated within len - 1 bytes, or empty.
 */
static bool hs_vt_read_cstr(struct hs_process *proc, uint64_t addr, char *buf, size_t len)
{
	size_t n = 0;
	while (n + 1 < len) {
		size_t step = 64;
		const uint8_t *p = hs_process_ptr_or_file(proc, addr + n, step);
		if (!p) {
			step = 1; /* near the end of a mapping */
			p = hs_process_ptr_or_file(proc, addr + n, 1);
			if (!p)
				return false;
		}
		for (size_t k = 0; k < step && n + 1 < len; k++) {
			buf[n] = (char)p[k];
			if (!p[k])
				return n > 0;
			n++;
		}
	}
	return false;
}

static bool hs_mangled_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '$'))
			return false;
	return true;
}

enum hs_vt_how { HS_VT_RTTI, HS_VT_RTTI_UNANCHORED, HS_VT_SYMBOL };

struct hs_vt_info {
	char *name; /* malloc'd, demangled */
	enum hs_vt_how how;
	int64_t ott;
	uint64_t tinfo, tinfo_name;
	const struct hs_vtsym *sym;
};

/* Validate a type_info at ti and demangle its name. */
static char *hs_vt_tinfo_name(const struct hs_vtables *vt, uint64_t ti, bool *anchored,
			      uint64_t *name_addr)
{
	uint64_t tvptr, np;
	if (!hs_memory_u64(&vt->proc->mem, ti, &tvptr) ||
	    !hs_memory_u64(&vt->proc->mem, ti + 8, &np))
		return NULL;
	if (vt->ntinfo) {
		size_t k;
		for (k = 0; k < vt->ntinfo; k++)
			if (tvptr == vt->tinfo_vptrs[k])
				break;
		if (k == vt->ntinfo)
			return NULL;
		*anchored = true;
	} else {
		/* libstdc++ without symbols (static, stripped): the type_info's
		 * vptr must at least point into a module. */
		if (!hs_process_module_at(vt->proc, tvptr))
			return NULL;
		*anchored = false;
	}
	char buf[HS_VT_NAME_MAX];
	if (!hs_vt_read_cstr(vt->proc, np, buf, sizeof(buf)))
		return NULL;
	const char *m = buf[0] == '*' ? buf + 1 : buf;
	if (!hs_mangled_ok(m))
		return NULL;
	*name_addr = np;
	return hs_demangle_type(m);
}

static bool hs_vt_resolve(const struct hs_vtables *vt, uint64_t v, struct hs_vt_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	if ((v & 7) || v < vt->mod_lo || v >= vt->mod_hi || v < 16 ||
	    !hs_process_module_at(vt->proc, v))
		return false;
	uint64_t ott, ti;
	bool have = hs_memory_u64(&vt->proc->mem, v - 16, &ott) &&
		    hs_memory_u64(&vt->proc->mem, v - 8, &ti);
	const struct hs_vtsym *sym = vt->nsyms ? hs_vt_sym_at(vt, v) : NULL;
	ret->sym = sym;
	if (have) {
		int64_t o = (int64_t)ott;
		if (o > 0 || o < -HS_VT_MAX_OTT || (o & 7))
			return false;
		ret->ott = o;
	}
	if (have && ti) {
		bool anchored = false;
		char *name = hs_vt_tinfo_name(vt, ti, &anchored, &ret->tinfo_name);
		if (name) {
			ret->name = name;
			ret->how = anchored ? HS_VT_RTTI : HS_VT_RTTI_UNANCHORED;
			ret->tinfo = ti;
			return true;
		}
	}
	/* By symbol: v is an address point inside a _ZTV group, whose
	 * type_info slot matches the group's (both 0 with -fno-rtti). */
	if (!sym || v < sym->start + 16)
		return false;
	if (have) {
		uint64_t ti0;
		if (!hs_memory_u64(&vt->proc->mem, sym->start + 8, &ti0) || ti0 != ti)
			return false;
	} else if (v != sym->start + 16) {
		return false; /* not dumped: only the primary address point is sure */
	}
	ret->name = hs_demangle_type(sym->name + 4);
	ret->how = HS_VT_SYMBOL;
	return ret->name != NULL;
}

uint32_t hs_vtables_classify(const struct hs_vtables *vt, struct hs_classes *c, uint64_t v)
{
	if (v < vt->mod_lo || v >= vt->mod_hi || (v & 7))
		return HS_TYPE_NONE;
	/*
	 * Heaps can sit between modules (tcmalloc and jemalloc mmap theirs among
	 * the libraries): without this, every distinct heap pointer would become
	 * a negative entry in the cache, millions of them.
	 */
	if (!hs_process_module_at(vt->proc, v))
		return HS_TYPE_NONE;
	uint32_t id;
	if (hs_u64map_get(&c->by_vptr, v, &id))
		return id;
	struct hs_vt_info info;
	id = HS_TYPE_NONE;
	if (hs_vt_resolve(vt, v, &info)) {
		char renamed[512];
		if (info.ott == 0 && hs_container_rename(info.name, renamed, sizeof(renamed))) {
			id = hs_classes_type(c, renamed, HS_KIND_CONTAINER, -1);
		} else if (info.ott == 0) {
			id = hs_classes_type(c, info.name, HS_KIND_VTABLE, -1);
			if (id != HS_TYPE_NONE && info.how == HS_VT_RTTI_UNANCHORED &&
			    c->types[id].confidence < 0)
				c->types[id].confidence = c->types[id].weak_confidence = 0.9;
		}
		free(info.name);
	}
	/* Out of memory in the cache only costs speed. */
	(void)hs_u64map_put(&c->by_vptr, v, id);
	return id;
}

bool hs_vtables_explain(const struct hs_vtables *vt, uint64_t v, char *buf, size_t len)
{
	struct hs_vt_info info;
	if (!hs_vt_resolve(vt, v, &info))
		return false;
	char where[512] = "";
	if (info.sym) {
		char *vn = hs_demangle_type(info.sym->name + 4);
		snprintf(where, sizeof(where), "vtable for %s + %llu", vn ? vn : info.sym->name,
			 (unsigned long long)(v - info.sym->start));
		free(vn);
	}
	switch (info.how) {
	case HS_VT_SYMBOL:
		snprintf(buf, len, "first word 0x%llx is the vptr of %s (%s)",
			 (unsigned long long)v, info.name, where);
		break;
	default:
		snprintf(buf, len,
			 "first word 0x%llx is the vptr of %s (%s%sRTTI: offset-to-top %lld, "
			 "type_info at 0x%llx%s, name string at 0x%llx)",
			 (unsigned long long)v, info.name, where, *where ? "; " : "",
			 (long long)info.ott, (unsigned long long)info.tinfo,
			 info.how == HS_VT_RTTI ? " with a libstdc++ class_type_info vptr"
						: " (libstdc++ type_info vtables unknown)",
			 (unsigned long long)info.tinfo_name);
		break;
	}
	if (info.ott != 0) {
		size_t n = strlen(buf);
		snprintf(buf + n, len > n ? len - n : 0,
			 "; a secondary vptr (offset-to-top %lld), not a complete object at the chunk start",
			 (long long)info.ott);
	}
	free(info.name);
	return true;
}
