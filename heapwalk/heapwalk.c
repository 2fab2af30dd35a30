/* heapwalk.c: the walker table, allocator detection and the walk driver. */
#include <string.h>

#include "heapwalk.h"
#include "walkers.h"

/*
 * Most specific first: a process that uses jemalloc or tcmalloc still maps
 * libc, and libc's malloc then owns only what was allocated before the
 * replacement took over (normally nothing).
 */
static const struct hs_walker *const hs_walkers[] = {
	&hs_jemalloc_walker,
	&hs_tcmalloc_walker,
	&hs_glibc_walker,
};

const struct hs_walker *const *hs_heapwalk_walkers(size_t *count)
{
	*count = HS_ARRAY_SIZE(hs_walkers);
	return hs_walkers;
}

struct hs_error *hs_heapwalk_run(struct hs_process *proc,
				 const struct hs_walk_options *opts,
				 struct hs_heap **ret)
{
	const struct hs_walker *walker = NULL;
	for (size_t i = 0; i < HS_ARRAY_SIZE(hs_walkers); i++) {
		const struct hs_walker *w = hs_walkers[i];
		if (opts && opts->allocator) {
			if (strcmp(opts->allocator, w->name) == 0) {
				walker = w;
				break;
			}
		} else if (w->detect(proc)) {
			walker = w;
			break;
		}
	}
	if (!walker) {
		if (opts && opts->allocator)
			return hs_error_create(HS_ERR_USAGE,
					       "unknown allocator '%s'",
					       opts->allocator);
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "%s: no supported allocator found (glibc, jemalloc, tcmalloc)",
				       proc->core_path ? proc->core_path : "process");
	}

	struct hs_heap *heap;
	struct hs_error *err = hs_heap_create(&heap);
	if (err)
		return err;
	strncpy(heap->allocator, walker->name, sizeof(heap->allocator) - 1);
	struct hs_walk_options defaults = {0};
	err = walker->walk(proc, opts ? opts : &defaults, heap);
	if (err) {
		hs_heap_destroy(heap);
		/* The CLI prints one line that must name the input file. */
		if (proc->core_path && err != HS_ENOMEM) {
			struct hs_error *named = hs_error_create(
				err->code, "%s: %s", proc->core_path, err->message);
			hs_error_destroy(err);
			err = named;
		}
		return err;
	}
	err = hs_heap_finish(heap);
	if (err) {
		hs_heap_destroy(heap);
		return err;
	}
	*ret = heap;
	return NULL;
}
