/* memory.c: the process memory map: sorted, non-overlapping ranges with bounds-checked reads. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "symbols.h"

void hs_memory_init(struct hs_memory *mem)
{
	memset(mem, 0, sizeof(*mem));
}

void hs_memory_deinit(struct hs_memory *mem)
{
	if (!mem)
		return;
	free(mem->ranges);
	memset(mem, 0, sizeof(*mem));
}

static inline uint64_t range_end(const struct hs_memory_range *r)
{
	return r->start + r->memsz; /* hs_memory_add rejects wrap-around */
}

/* Index of the last range whose start is <= addr, or (size_t)-1. */
static size_t upper_index(const struct hs_memory *mem, uint64_t addr)
{
	size_t lo = 0, hi = mem->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mem->ranges[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

/*
 * The range containing addr, or NULL. The last hit is remembered because
 * walkers read neighbouring addresses over and over; the cache is updated
 * with relaxed atomics so concurrent readers of a shared map stay race-free
 * (the map itself is immutable once sealed).
 */
static const struct hs_memory_range *lookup(const struct hs_memory *mem,
					    uint64_t addr)
{
	if (!mem->sealed || !mem->count)
		return NULL;
	size_t *cache = (size_t *)&mem->last;
	size_t last = __atomic_load_n(cache, __ATOMIC_RELAXED);
	if (last < mem->count) {
		const struct hs_memory_range *r = &mem->ranges[last];
		if (addr - r->start < r->memsz)
			return r;
	}
	size_t i = upper_index(mem, addr);
	if (i == (size_t)-1)
		return NULL;
	const struct hs_memory_range *r = &mem->ranges[i];
	if (addr - r->start >= r->memsz)
		return NULL;
	__atomic_store_n(cache, i, __ATOMIC_RELAXED);
	return r;
}

static bool overlaps(const struct hs_memory_range *a,
		     const struct hs_memory_range *b)
{
	return a->start < range_end(b) && b->start < range_end(a);
}

static struct hs_error *overlap_error(const struct hs_memory_range *a,
				      const struct hs_memory_range *b)
{
	return hs_error_create(HS_ERR_FORMAT,
			       "memory ranges overlap: [0x%" PRIx64 ", 0x%" PRIx64
			       ") and [0x%" PRIx64 ", 0x%" PRIx64 ")",
			       a->start, range_end(a), b->start, range_end(b));
}

struct hs_error *hs_memory_add(struct hs_memory *mem, uint64_t start,
			       uint64_t memsz, const void *data,
			       uint64_t filesz, uint32_t flags)
{
	if (memsz == 0)
		return NULL; /* nothing to map; not worth a slot */
	if (start + memsz < start)
		return hs_error_create(HS_ERR_FORMAT,
				       "memory range at 0x%" PRIx64 " (0x%" PRIx64
				       " bytes) wraps around the address space",
				       start, memsz);
	if (filesz > memsz || (filesz && !data))
		return hs_error_create(HS_ERR_FORMAT,
				       "memory range at 0x%" PRIx64 ": 0x%" PRIx64
				       " bytes of data for 0x%" PRIx64 " bytes",
				       start, filesz, memsz);
	struct hs_memory_range nr = {
		.start = start,
		.memsz = memsz,
		.filesz = filesz,
		.data = data,
		.flags = flags,
	};
	/* Position: append before sealing (seal sorts), sorted insert after. */
	size_t pos = mem->count;
	if (mem->sealed && mem->count) {
		pos = upper_index(mem, start) + 1;
		if (pos > 0 && overlaps(&mem->ranges[pos - 1], &nr))
			return overlap_error(&mem->ranges[pos - 1], &nr);
		if (pos < mem->count && overlaps(&mem->ranges[pos], &nr))
			return overlap_error(&nr, &mem->ranges[pos]);
	}
	if (!hs_grow((void **)&mem->ranges, &mem->cap, mem->count + 1,
		     sizeof(*mem->ranges)))
		return HS_ENOMEM;
	memmove(&mem->ranges[pos + 1], &mem->ranges[pos],
		(mem->count - pos) * sizeof(*mem->ranges));
	mem->ranges[pos] = nr;
	mem->count++;
	mem->last = 0;
	return NULL;
}

static int cmp_range(const void *a, const void *b)
{
	const struct hs_memory_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

struct hs_error *hs_memory_seal(struct hs_memory *mem)
{
	bool sorted = true;
	for (size_t i = 1; i < mem->count && sorted; i++)
		sorted = mem->ranges[i - 1].start <= mem->ranges[i].start;
	if (!sorted)
		qsort(mem->ranges, mem->count, sizeof(*mem->ranges), cmp_range);
	for (size_t i = 1; i < mem->count; i++) {
		if (overlaps(&mem->ranges[i - 1], &mem->ranges[i])) {
			mem->sealed = false;
			return overlap_error(&mem->ranges[i - 1],
					     &mem->ranges[i]);
		}
	}
	mem->last = 0;
	mem->sealed = true;
	return NULL;
}

const void *hs_memory_ptr(const struct hs_memory *mem, uint64_t addr,
			  size_t len)
{
	const struct hs_memory_range *r = lookup(mem, addr);
	if (!r)
		return NULL;
	uint64_t off = addr - r->start;
	if (off > r->filesz || len > r->filesz - off)
		return NULL;
	return r->data + off;
}

/*
 * Copy len bytes at addr without allocating (with buf NULL, only check that
 * they are all backed): returns 0 or the error code, and the first address
 * that failed. A read may span adjacent ranges (gcore splits one mapping
 * where its protection changes), as long as every byte is backed.
 */
static enum hs_error_code copy_bytes(const struct hs_memory *mem,
				     uint64_t addr, void *buf, size_t len,
				     uint64_t *bad)
{
	uint8_t *out = buf;
	if (len && addr + (len - 1) < addr) {
		*bad = addr;
		return HS_ERR_FAULT;
	}
	while (len) {
		const struct hs_memory_range *r = lookup(mem, addr);
		if (!r) {
			*bad = addr;
			return HS_ERR_FAULT;
		}
		uint64_t off = addr - r->start;
		if (off >= r->filesz) {
			*bad = addr;
			return HS_ERR_TRUNCATED;
		}
		uint64_t n = r->filesz - off;
		if (n > len)
			n = len;
		if (out) {
			memcpy(out, r->data + off, n);
			out += n;
		}
		addr += n;
		len -= n;
	}
	return 0;
}

struct hs_error *hs_memory_read(const struct hs_memory *mem, uint64_t addr,
				void *buf, size_t len)
{
	const void *p = hs_memory_ptr(mem, addr, len);
	if (p) {
		memcpy(buf, p, len);
		return NULL;
	}
	if (!mem->sealed)
		return hs_error_create(HS_ERR_OTHER,
				       "memory map read before hs_memory_seal");
	uint64_t bad = addr;
	enum hs_error_code code = copy_bytes(mem, addr, buf, len, &bad);
	if (!code)
		return NULL;
	if (code == HS_ERR_TRUNCATED)
		return hs_error_create(code,
				       "address 0x%" PRIx64 " (reading %zu bytes at 0x%"
				       PRIx64 ") is mapped but not in the core "
				       "(truncated or not dumped)", bad, len, addr);
	return hs_error_create(code,
			       "address 0x%" PRIx64 " (reading %zu bytes at 0x%"
			       PRIx64 ") is not mapped in the core", bad, len, addr);
}

bool hs_memory_u64(const struct hs_memory *mem, uint64_t addr, uint64_t *ret)
{
	const void *p = hs_memory_ptr(mem, addr, sizeof(*ret));
	uint64_t v, bad;
	if (p)
		memcpy(&v, p, sizeof(v));
	else if (copy_bytes(mem, addr, &v, sizeof(v), &bad) != 0)
		return false;
	*ret = v; /* x86_64 cores only: host order is the core's order */
	return true;
}

bool hs_memory_u32(const struct hs_memory *mem, uint64_t addr, uint32_t *ret)
{
	const void *p = hs_memory_ptr(mem, addr, sizeof(*ret));
	uint32_t v;
	uint64_t bad;
	if (p)
		memcpy(&v, p, sizeof(v));
	else if (copy_bytes(mem, addr, &v, sizeof(v), &bad) != 0)
		return false;
	*ret = v;
	return true;
}

const struct hs_memory_range *hs_memory_find(const struct hs_memory *mem,
					     uint64_t addr)
{
	return lookup(mem, addr);
}

bool hs_memory_backed(const struct hs_memory *mem, uint64_t addr, size_t len)
{
	uint64_t bad;
	return mem->sealed && copy_bytes(mem, addr, NULL, len, &bad) == 0;
}

uint64_t hs_memory_backed_bytes(const struct hs_memory *mem, uint64_t addr,
				uint64_t len)
{
	if (!mem->sealed || !len)
		return 0;
	uint64_t end = addr + len < addr ? UINT64_MAX : addr + len, n = 0;
	size_t i = upper_index(mem, addr);
	for (i = i == (size_t)-1 ? 0 : i; i < mem->count; i++) {
		const struct hs_memory_range *r = &mem->ranges[i];
		if (r->start >= end)
			break;
		uint64_t lo = r->start > addr ? r->start : addr;
		uint64_t hi = r->start + r->filesz < end ? r->start + r->filesz : end;
		if (hi > lo)
			n += hi - lo;
	}
	return n;
}

bool hs_memory_next_backed(const struct hs_memory *mem, uint64_t addr,
			   uint64_t *ret)
{
	if (!mem->sealed)
		return false;
	size_t i = upper_index(mem, addr);
	if (i != (size_t)-1 && addr - mem->ranges[i].start < mem->ranges[i].filesz) {
		*ret = addr;
		return true;
	}
	/* Ranges do not overlap, so every later one starts above addr. */
	for (i++; i < mem->count; i++) {
		if (mem->ranges[i].filesz) {
			*ret = mem->ranges[i].start;
			return true;
		}
	}
	return false;
}

bool hs_memory_readable(const struct hs_memory *mem, uint64_t addr,
			uint64_t len)
{
	const struct hs_memory_range *r = lookup(mem, addr);
	if (!r)
		return false;
	uint64_t off = addr - r->start;
	return off <= r->filesz && len <= r->filesz - off;
}
