/* vtables.h: private to classify/: C++ vtables by symbol and by RTTI, and the per-vptr cache. */
#ifndef HS_VTABLES_H
#define HS_VTABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classes.h"

/*
 * Built once per process: the _ZTV symbols of every module and the address
 * points of libstdc++'s type_info vtables (__class_type_info,
 * __si_class_type_info, __vmi_class_type_info); read-only afterwards, so
 * threads share it. Each thread caches lookups per vptr value in its own
 * classes (by_vptr), so the cost per chunk is one hash probe.
 */
struct hs_vtables;

struct hs_error *hs_vtables_create(struct hs_process *proc, struct hs_vtables **ret);
void hs_vtables_destroy(struct hs_vtables *vt);

/*
 * The class whose complete object starts with vptr value `v`, registered as
 * a type in c: returns its id, or HS_TYPE_NONE if v is not the address point
 * of a vtable with offset-to-top 0.
 */
uint32_t hs_vtables_classify(const struct hs_vtables *vt, struct hs_classes *c, uint64_t v);

/* How v resolves, in words, for `show` (uncached). false if it does not. */
bool hs_vtables_explain(const struct hs_vtables *vt, uint64_t v, char *buf, size_t len);

/* Demangle a type's mangling ("N6common7ClosureE") with libstdc++'s
 * __cxa_demangle. Malloc'd; NULL if it is not a valid type mangling. */
char *hs_demangle_type(const char *mangled);

#endif
