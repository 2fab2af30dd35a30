/* glibc_split.c: one long heap segment walked by two threads, the second from a chunk boundary near its middle, kept only when the first walker's chain meets it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "glibc_walk.h"

/*
 * A main arena is one chain of chunk headers, each saying where the next
 * one is: on one thread, the walk of a 1.5 GiB heap of 40 M chunks took
 * 0.6 s. The second walker starts at an address near the middle from which
 * GL_SPLIT_CHAIN sane chunks follow one another: a guess, since user data
 * can look like chunk headers. The guess is proved, not trusted: the first
 * walker walks from the segment's start and stops only when its own chain
 * lands exactly on that address. The walk from an address is a function of
 * the address (and of the core), so from there on the second walker's
 * chunks are the ones the first would have found. If the first walker
 * passes the address instead, or resynchronised after corruption before it
 * (the resync budget is per segment), or the second walker resynchronised,
 * the second walker's work is thrown away and the first goes on alone: the
 * same chunks, diagnostics and statistics as a walk on one thread, always.
 */
#define GL_SPLIT_MIN (UINT64_C(64) << 20)    /* the shortest segment split */
/*
 * The longest: the two walkers' bitmaps grow side by side in one heap, so
 * each doubling copies (old and new bits at once), where one walker's grows
 * in place at the heap's top. On the aliased core (64 GiB of main heap, 1 GiB
 * of bits) that took the peak from 1038 MiB to 1.8 GiB, past its bound;
 * below 4 GiB the bits are under 64 MiB and the copies cost little.
 */
#define GL_SPLIT_MAX (UINT64_C(4) << 30)
#define GL_SPLIT_CHAIN 32                    /* sane chunks that make a start */
#define GL_SPLIT_SCAN (UINT64_C(1) << 20)    /* how far past the middle to look */

struct gl_half {
	struct gl_ctx c; /* a copy: its own heap, diagnostics, sets and counters */
	struct gl_seg s;
	bool ok, complete;
};

/* An address near the middle of s from which GL_SPLIT_CHAIN chunks follow. */
static bool gl_split_point(struct gl_ctx *c, const struct gl_seg *s, uint64_t *ret)
{
	uint64_t a = c->L->malloc_alignment;
	uint64_t mid = gl_align_up(s->start + (s->end - s->start) / 2, a);
	uint64_t stop = s->end - mid > GL_SPLIT_SCAN ? mid + GL_SPLIT_SCAN : s->end;
	for (uint64_t q = mid; q < stop; q += a) {
		uint64_t r = q, sz;
		unsigned k = 0;
		while (k < GL_SPLIT_CHAIN && hs_glibc_check_at(c, s, r, &sz) == GL_OK) {
			r += sz;
			k++;
		}
		if (k == GL_SPLIT_CHAIN) {
			*ret = q;
			return true;
		}
	}
	return false;
}

static void *gl_half_main(void *arg)
{
	struct gl_half *h = arg;
	h->ok = hs_glibc_walk_segment(&h->c, &h->s, &h->complete);
	return NULL;
}

static void *gl_dup(const void *p, size_t n, size_t elem)
{
	void *q = malloc(n ? n * elem : 1);
	if (q && n)
		memcpy(q, p, n * elem);
	return q;
}

static void gl_half_free(struct gl_half *h)
{
	if (!h)
		return;
	hs_heap_destroy(h->c.heap);
	free(h->c.arenas);
	free(h->c.cached);
	free(h->c.meta_seen);
	free(h);
}

/* The second walker's context: what the segment walk writes is its own. */
static struct gl_half *gl_half_create(const struct gl_ctx *c, const struct gl_seg *s,
				      uint64_t at)
{
	struct gl_half *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->c = *c;
	h->c.win = (struct gl_win){.mem = c->mem};
	h->c.heap = NULL;
	h->c.arenas = gl_dup(c->arenas, c->narenas, sizeof(*c->arenas));
	h->c.cached = gl_dup(c->cached, c->ncached, sizeof(*c->cached));
	h->c.meta_seen = gl_dup(c->meta_seen, c->nmeta, sizeof(*c->meta_seen));
	h->c.stop_at = 0;
	if (!h->c.arenas || !h->c.cached || !h->c.meta_seen || hs_heap_create(&h->c.heap)) {
		gl_half_free(h);
		return NULL;
	}
	h->c.heap->header_bytes[0] = c->heap->header_bytes[0];
	h->c.heap->header_bytes[1] = c->heap->header_bytes[1];
	hs_heap_set_granule(h->c.heap,
			    (unsigned)__builtin_ctzll(c->L->malloc_alignment | UINT64_C(1) << 15));
	h->c.diags = &h->c.heap->diags;
	h->c.arenas[s->ai].nfree = 0;
	h->c.arenas[s->ai].free_bytes = 0;
	h->s = *s;
	h->s.start = at;
	return h;
}

/* The second walker's results into the first's: its walk is the rest. */
static bool gl_half_merge(struct gl_ctx *c, struct gl_half *h, size_t ai)
{
	if (!hs_heap_splice(c->heap, h->c.heap))
		return false;
	hs_diags_move(c->diags, h->c.diags);
	for (size_t i = 0; i < c->ncached; i++)
		c->cached[i].seen |= h->c.cached[i].seen;
	for (size_t i = 0; i < c->nmeta; i++)
		c->meta_seen[i] |= h->c.meta_seen[i];
	c->arenas[ai].nfree += h->c.arenas[ai].nfree;
	c->arenas[ai].free_bytes += h->c.arenas[ai].free_bytes;
	return true;
}

bool hs_glibc_walk_split(struct gl_ctx *c, struct gl_seg *s, bool *complete)
{
	uint64_t min = c->split_min ? c->split_min : GL_SPLIT_MIN, at;
	if (c->threads < 2 || s->kind != GL_SEG_TOP || s->end <= s->start ||
	    s->end - s->start < min || s->end - s->start > GL_SPLIT_MAX ||
	    !gl_split_point(c, s, &at))
		return hs_glibc_walk_segment(c, s, complete);
	struct gl_half *h = gl_half_create(c, s, at);
	pthread_t thread;
	if (!h || pthread_create(&thread, NULL, gl_half_main, h)) {
		/* Only speed is lost. */
		gl_half_free(h);
		return hs_glibc_walk_segment(c, s, complete);
	}
	c->stop_at = at;
	c->stopped = false;
	bool ok = hs_glibc_walk_segment(c, s, complete);
	c->stop_at = 0;
	pthread_join(thread, NULL);
	if (ok && c->stopped) {
		if (h->ok && h->complete) {
			ok = gl_half_merge(c, h, s->ai);
			*complete = true;
		} else {
			/* The second walker resynchronised (or ran out of
			 * memory): the rest on this thread, as one walk would. */
			struct gl_seg rest = *s;
			rest.start = at;
			ok = hs_glibc_walk_segment(c, &rest, complete);
		}
	}
	c->stopped = false;
	gl_half_free(h);
	return ok;
}
