/* fuzz_tcm_rows.h: the tcmalloc layout row a fuzz input's flags name, stable as rows are added. */
#ifndef HS_FUZZ_TCM_ROWS_H
#define HS_FUZZ_TCM_ROWS_H

#include <string.h>

#include "../../heapwalk/tcmalloc_layout.h"

/*
 * Inputs name a row by index in this list, not in the table: the corpus
 * was made when the table held 2.8.1, 2.10 and 2.16 (indices 0-2), and a
 * row added before them must not move what those inputs walk. New rows go
 * at the end.
 */
static const char *const hs_fuzz_tcm_rows[] = {
	"2.8.1", "2.10", "2.16", "2.5", "2.6", "2.6.2", "2.11",
};

static inline const struct hs_tcm_layout *hs_fuzz_tcm_row(unsigned index)
{
	size_t n = sizeof(hs_fuzz_tcm_rows) / sizeof(hs_fuzz_tcm_rows[0]);
	const struct hs_tcm_layout *L = hs_tcm_layout_for_version(hs_fuzz_tcm_rows[index % n]);
	return L ? L : &hs_tcm_layouts[0];
}

/* The index of a row in that list (0 if absent). */
static inline unsigned hs_fuzz_tcm_row_index(const struct hs_tcm_layout *L)
{
	for (unsigned i = 0; i < sizeof(hs_fuzz_tcm_rows) / sizeof(hs_fuzz_tcm_rows[0]); i++)
		if (strcmp(hs_fuzz_tcm_rows[i], L->version) == 0)
			return i;
	return 0;
}

#endif
