/* jemalloc4_config.c: jemalloc 4's build configuration read from the process, and what its globals must look like. */
#include <inttypes.h>
#include <string.h>

#include "jemalloc4_internal.h"

/* RUN_MAXREGS with 4 KiB pages: a run's bitmap covers 512 regions. */
#define J4C_MAX_NREGS 512
/* The largest struct read whole into a local buffer (rtree_t), and the
 * bins' table. */
#define J4C_MAX_STRUCT 256
#define J4C_MAX_BIN_INFO 128

bool hs_je4_valid_rtree(const struct hs_memory *mem, const struct hs_je4_layout *L,
			uint64_t addr, unsigned *lg_chunk)
{
	uint8_t r[J4C_MAX_STRUCT];
	if (L->rtree.size > sizeof(r) || (addr & 7) || !hs_je4_read(mem, addr, r, L->rtree.size))
		return false;
	/* rtree_new (src/rtree.c:12-60 in 4.0.0): levels of 16 key bits but
	 * the last, which takes the rest; start_level[i] = min(HEIGHT_MAX - 1
	 * - i, height - 1). The allocation hook is set, the keys span less
	 * than a pointer's bits. */
	uint32_t height = hs_je4_load32(r + L->rtree.height);
	if (!hs_je4_load64(r) || height < 1 || height > L->rtree.height_max ||
	    L->rtree.height_max > HS_JE4_MAX_HEIGHT)
		return false;
	unsigned cum = 0;
	for (uint32_t i = 0; i < height; i++) {
		const uint8_t *lv = r + L->rtree.levels + (size_t)i * L->rtree.level_size;
		uint32_t bits = hs_je4_load32(lv + L->rtree.level_bits);
		uint32_t cumbits = hs_je4_load32(lv + L->rtree.level_cumbits);
		uint64_t sub = hs_je4_load64(lv + L->rtree.level_subtree);
		if (bits < 1 || bits > 16 || (i + 1 < height && bits != 16) ||
		    cumbits != cum + bits || (sub & 7))
			return false;
		cum = cumbits;
	}
	for (uint32_t i = 0; i < L->rtree.height_max; i++) {
		uint32_t want = L->rtree.height_max - 1 - i;
		if (want > height - 1)
			want = height - 1;
		if (hs_je4_load32(r + L->rtree.start_level + 4 * i) != want)
			return false;
	}
	if (cum >= 64 || 64 - cum < 14 || 64 - cum > 40)
		return false;
	*lg_chunk = 64 - cum;
	return true;
}

unsigned hs_je4_read_sizes(struct hs_process *proc, const struct hs_je4_layout *L,
			   uint64_t addr, uint64_t *sz)
{
	/* Whole, or entry by entry where the bytes after the table are not
	 * there (it may end its segment). */
	const uint8_t *t = hs_process_ptr_or_file(proc, addr, 8ull * HS_JE4_MAX_NSIZES);
	const uint8_t *e = t ? t : hs_process_ptr_or_file(proc, addr, 8);
	if (!e || (addr & 7))
		return 0;
	uint64_t first = hs_je4_load64(e);
	if (first < 8 || first > 64 || (first & (first - 1)))
		return 0;
	sz[0] = first;
	for (unsigned i = 1; i < HS_JE4_MAX_NSIZES; i++) {
		e = t ? t + 8 * i : hs_process_ptr_or_file(proc, addr + 8 * i, 8);
		if (!e)
			return 0;
		uint64_t v = hs_je4_load64(e), d = v - sz[i - 1];
		if (v <= sz[i - 1] || (d & (d - 1)) || d > sz[i - 1] || v % d)
			return 0;
		sz[i] = v;
		if (v == L->huge_maxclass)
			return i + 1;
		if (v > L->huge_maxclass)
			return 0;
	}
	return 0;
}

unsigned hs_je4_size2index(const struct hs_je4_config *c, uint64_t size)
{
	unsigned lo = 0, hi = c->nsizes;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (c->sz[mid] < size)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct hs_error *hs_je4_config_read(struct hs_process *proc,
				    const struct hs_je4_layout *L,
				    const struct hs_je4_globals *g,
				    struct hs_je4_config *ret)
{
	const struct hs_memory *mem = &proc->mem;
	struct hs_je4_config c = {0};
	unsigned lg_chunk;
	if (!hs_je4_valid_rtree(mem, L, g->rtree, &lg_chunk))
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc %s: chunks_rtree at %#" PRIx64
				       " is not a radix tree of chunks", L->name, g->rtree);
	if (!(c.nsizes = hs_je4_read_sizes(proc, L, g->sz_tab, c.sz)))
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc %s: index2size_tab at %#" PRIx64
				       " does not hold size classes up to %#" PRIx64,
				       L->name, g->sz_tab, L->huge_maxclass);
	/* arena_bin_info: bin 0's run is one page (RUN_MAXREGS regions of the
	 * smallest class); the small classes are those below four pages
	 * (size_classes.sh: lg_size < LG_PAGE + LG_SIZE_CLASS_GROUP). */
	uint8_t bibuf[HS_JE4_MAX_NBINS * J4C_MAX_BIN_INFO];
	const uint8_t *bi = bibuf;
	uint64_t page = 0;
	if (L->bin_info.size <= J4C_MAX_BIN_INFO &&
	    hs_je4_read(mem, g->bin_info, bibuf, L->bin_info.size))
		page = hs_je4_load64(bibuf + L->bin_info.run_size);
	if (page < 4096 || page > 65536 || (page & (page - 1)))
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc %s: arena_bin_info at %#" PRIx64
				       " does not start with a one-page run", L->name,
				       g->bin_info);
	c.page = page;
	c.lg_page = (unsigned)__builtin_ctzll(page);
	while (c.nbins < c.nsizes && c.sz[c.nbins] < 4 * page)
		c.nbins++;
	if (c.nbins == 0 || c.nbins > HS_JE4_MAX_NBINS)
		return hs_error_create(HS_ERR_NOT_FOUND, "jemalloc %s: %u small classes",
				       L->name, c.nbins);
	if (!hs_je4_read(mem, g->bin_info, bibuf, (size_t)c.nbins * L->bin_info.size))
		bi = NULL;
	for (unsigned i = 0; bi && i < c.nbins; i++) {
		const uint8_t *b = bi + (size_t)i * L->bin_info.size;
		struct hs_je4_bin *o = &c.bins[i];
		o->reg_size = hs_je4_load64(b + L->bin_info.reg_size);
		o->reg_interval = hs_je4_load64(b + L->bin_info.reg_interval);
		o->run_size = hs_je4_load64(b + L->bin_info.run_size);
		o->nregs = hs_je4_load32(b + L->bin_info.nregs);
		o->reg0_offset = hs_je4_load32(b + L->bin_info.reg0_offset);
		uint64_t nbits = hs_je4_load64(b + L->bin_info.nbits);
		if (o->reg_size != c.sz[i] || o->reg_interval < o->reg_size ||
		    !o->run_size || o->run_size % page || o->run_size >> lg_chunk ||
		    o->nregs == 0 ||
		    o->nregs > J4C_MAX_NREGS || nbits != o->nregs ||
		    o->reg0_offset + (uint64_t)o->nregs * o->reg_interval > o->run_size)
			bi = NULL;
	}
	if (!bi)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc %s: arena_bin_info at %#" PRIx64
				       " does not describe the %u small classes",
				       L->name, g->bin_info, c.nbins);
	if (lg_chunk <= c.lg_page + 1)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc %s: chunks of 2^%u bytes", L->name, lg_chunk);
	c.lg_chunk = lg_chunk;
	c.chunksize = UINT64_C(1) << lg_chunk;
	c.chunk_npages = (unsigned)(c.chunksize >> c.lg_page);
	/* arena_boot (src/arena.c:3250-3260 in 4.0.3): the header holds the
	 * page map of the pages after it; three rounds settle it. */
	for (unsigned i = 0; i < 3; i++) {
		uint64_t header = L->chunk.map_bits +
				  (uint64_t)(L->chunk.bits_size + L->chunk.misc_size) *
				  (c.chunk_npages - c.map_bias);
		c.map_bias = (unsigned)((header + page - 1) >> c.lg_page);
	}
	if (c.map_bias >= c.chunk_npages)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc %s: a chunk of %u pages has no room past its"
				       " header", L->name, c.chunk_npages);
	c.map_misc_offset = L->chunk.map_bits +
			    (uint64_t)L->chunk.bits_size * (c.chunk_npages - c.map_bias);
	/* large_maxclass: the class below the chunk size, if it fits the
	 * room a chunk has (src/arena.c:3262-3275). */
	unsigned ci = hs_je4_size2index(&c, c.chunksize);
	if (ci == 0 || ci >= c.nsizes || ci <= c.nbins)
		return hs_error_create(HS_ERR_NOT_FOUND,
				       "jemalloc %s: no size class for chunks of %#" PRIx64,
				       L->name, c.chunksize);
	c.large_maxclass = c.sz[ci - 1];
	uint64_t maxrun = c.chunksize - ((uint64_t)c.map_bias << c.lg_page);
	if (c.large_maxclass > maxrun)
		c.large_maxclass = maxrun;
	c.nlclasses = hs_je4_size2index(&c, c.large_maxclass) - (c.nbins - 1);
	if (c.nbins + c.nlclasses > c.nsizes)
		return hs_error_create(HS_ERR_NOT_FOUND, "jemalloc %s: bad large classes",
				       L->name);
	c.nhclasses = c.nsizes - c.nlclasses - c.nbins;
	*ret = c;
	return NULL;
}

bool hs_je4_valid_arena(const struct hs_memory *mem, const struct hs_je4_layout *L,
			const struct hs_je4_config *cfg, uint64_t addr,
			unsigned ind)
{
	uint32_t got;
	uint64_t lstats, hstats;
	if (!addr || (addr & 7) || !hs_memory_u32(mem, addr + L->arena.ind, &got) ||
	    got != ind || !hs_memory_u64(mem, addr + L->arena.stats_lstats, &lstats) ||
	    !hs_memory_u64(mem, addr + L->arena.stats_hstats, &hstats))
		return false;
	/* arena_new (src/arena.c:3000-3030 in 4.0.3): lstats follows the
	 * arena (and its bins) at a cacheline boundary, hstats follows
	 * lstats at a quantum boundary. */
	uint64_t bins_end = addr + L->arena.bins + (uint64_t)cfg->nbins * L->arena.bin_size;
	uint64_t lbytes = (uint64_t)cfg->nlclasses * L->arena.lstats_size;
	return lstats >= bins_end && lstats - bins_end < 65536 && !(lstats & 63) &&
	       hstats >= lstats + lbytes && hstats - (lstats + lbytes) < 16 &&
	       hs_memory_backed(mem, addr, L->arena.bins);
}
