/* SPDX-License-Identifier: MIT */
/*
 * Per-worker buffer free lists by power-of-two size class, so the request
 * path does not call malloc once the worker is warm.
 *
 * A class keeps what its traffic uses: a released buffer stays unless the
 * class already keeps SL_BUF_FREE_BYTES (and max_free buffers), and what
 * sat unused through a tick's period goes back by halves. Like HAProxy's
 * pools, the lists follow the working set up and shrink after it; a fixed
 * 64 per class made 128 gRPC calls in flight on one worker call malloc 1.6
 * times a call.
 *
 * Why 16 MiB a class: a request in flight holds a 64 KiB buffer (the
 * upstream head's, max_header_bytes' 32 KiB default + 1 KiB, rounded up;
 * buffer_bytes' own default is 64 KiB too), so 128 calls in flight held
 * 129 of them, 8.1 MiB; 4 MiB (64 of 64 KiB, the old cap) still missed.
 * 16 MiB serves 256 such requests a worker, or 4,096 4 KiB buffers. The
 * five classes up to 64 KiB could then keep 80 MiB between them, but only
 * while the traffic cycles through them: the decay in sl_bufpool_tick
 * takes what sits unused back within a second. From 256 KiB up a class
 * keeps max_free (64) buffers, as before.
 */
#include "buf.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define TRIM_AFTER_BYTES (1u << 20)

void
sl_bufpool_init(struct sl_bufpool *p, uint32_t max_free)
{
	for (int i = 0; i < SL_BUF_NCLASS; i++) {
		p->free[i] = NULL;
		p->nfree[i] = p->low[i] = 0;
	}
	p->max_free = max_free;
	p->allocated = p->from_malloc = p->to_malloc = 0;
}

/* Frees n buffers of class cls's free list (n <= nfree). */
static void
class_free(struct sl_bufpool *p, int cls, uint32_t n)
{
	for (; n > 0; n--) {
		void *next = *(void **)p->free[cls];
		free(p->free[cls]);
		p->free[cls] = next;
		p->nfree[cls]--;
	}
}

/* Frees the buffers of every free list beyond the first `keep`. */
static void
free_lists_cut(struct sl_bufpool *p, uint32_t keep)
{
	for (int i = 0; i < SL_BUF_NCLASS; i++)
		if (p->nfree[i] > keep)
			class_free(p, i, p->nfree[i] - keep);
}

void
sl_bufpool_drain(struct sl_bufpool *p)
{
	free_lists_cut(p, 0);
}

/* The class whose buffers hold size bytes (the largest, for more than
 * it holds). The highest bit of size - 1 gives it at once: counting the
 * shifts was a fifth of the pool's instructions, about 20 a call. */
static int
size_class(size_t size)
{
	if (size <= (size_t)1 << SL_BUF_MIN_SHIFT)
		return 0;
	if (size >= (size_t)1 << SL_BUF_MAX_SHIFT)
		return SL_BUF_NCLASS - 1;
	return 64 - __builtin_clzll((unsigned long long)size - 1) -
	       SL_BUF_MIN_SHIFT;
}

int
sl_buf_alloc(struct sl_bufpool *p, struct sl_buf *b, size_t size)
{
	int cls;
	void *mem;

	if (b->data != NULL)
		return 0;
	cls = size_class(size);
	if (p->free[cls] != NULL) {
		mem = p->free[cls];
		p->free[cls] = *(void **)mem;
		if (--p->nfree[cls] < p->low[cls])
			p->low[cls] = p->nfree[cls];
	} else if ((mem = malloc((size_t)1 << (cls + SL_BUF_MIN_SHIFT))) ==
		   NULL)
		return -1;
	else
		p->from_malloc += (size_t)1 << (cls + SL_BUF_MIN_SHIFT);
	b->data = mem;
	b->cap = (uint32_t)1 << (cls + SL_BUF_MIN_SHIFT);
	b->off = b->len = 0;
	p->allocated += b->cap;
	return 0;
}

int
sl_buf_grow(struct sl_bufpool *p, struct sl_buf *b, size_t size)
{
	struct sl_buf nb = {0};

	if (b->data == NULL)
		return sl_buf_alloc(p, b, size);
	if (b->cap >= size)
		return 0;
	if (sl_buf_alloc(p, &nb, size) == -1)
		return -1;
	memcpy(nb.data, b->data, b->len);
	nb.off = b->off;
	nb.len = b->len;
	sl_buf_release(p, b);
	*b = nb;
	return 0;
}

void
sl_buf_release(struct sl_bufpool *p, struct sl_buf *b)
{
	int cls;

	if (b->data == NULL)
		return;
	cls = size_class(b->cap);
	p->allocated -= b->cap;
	if (p->nfree[cls] < p->max_free ||
	    p->nfree[cls] < SL_BUF_FREE_BYTES >> (cls + SL_BUF_MIN_SHIFT)) {
		*(void **)b->data = p->free[cls];
		p->free[cls] = b->data;
		p->nfree[cls]++;
	} else {
		free(b->data);
		p->to_malloc += b->cap;
	}
	b->data = NULL;
	b->cap = b->off = b->len = 0;
}

/*
 * Under a sanitizer the sanitizer's allocator owns the heap: glibc's
 * malloc_trim has nothing of sluice's to give back there, and walking
 * glibc's own (unused) arenas from a worker crashed an ASan build (SEGV in
 * mtrim, twice in CI's test_attack). It is left out of those builds.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SL_MALLOC_TRIM 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||     \
    __has_feature(memory_sanitizer)
#define SL_MALLOC_TRIM 0
#endif
#endif
#ifndef SL_MALLOC_TRIM
#define SL_MALLOC_TRIM 1
#endif

/*
 * The buffers of a class that no request needed during the whole period
 * (its low-water mark) are slack: half of it above max_free goes back to
 * malloc each tick, so a burst's buffers drain in a second or two while a
 * steady load, whose lists empty down to about the same mark each period,
 * keeps its working set and max_free more for its ups and downs. What the
 * halving frees counts in to_malloc like any buffer given back, so a burst
 * the lists could hold whole (up to 16 MiB a class) still ends in the trim
 * below.
 *
 * glibc keeps freed chunks in the worker thread's arena, so after a burst
 * (an attack of slow readers, a spike of large bodies) the process stays
 * at its peak RSS. malloc_trim hands the free pages back, after the free
 * lists are cut to a quarter of max_free. It is not done
 * while buffers are still being taken from malloc: a steady churn would
 * otherwise fault the same pages in again every period. (The cut reaches
 * a working set's spare buffers too; that costs the next period some
 * mallocs, once per MiB given back.)
 */
void
sl_bufpool_tick(struct sl_bufpool *p)
{
	for (int i = 0; i < SL_BUF_NCLASS; i++)
		if (p->low[i] > p->max_free) {
			uint32_t n = (p->low[i] - p->max_free + 1) / 2;

			class_free(p, i, n);
			p->to_malloc += (uint64_t)n << (i + SL_BUF_MIN_SHIFT);
		}
	if (p->to_malloc >= TRIM_AFTER_BYTES && p->from_malloc == 0) {
		/* the free lists were filled by the burst too: keep a
		 * quarter, enough for the traffic that stayed */
		free_lists_cut(p, p->max_free / 4);
		if (SL_MALLOC_TRIM)
			malloc_trim(0);
		p->to_malloc = 0;
	}
	for (int i = 0; i < SL_BUF_NCLASS; i++)
		p->low[i] = p->nfree[i];
	p->from_malloc = 0;
}

void
sl_buf_release_if_empty(struct sl_bufpool *p, struct sl_buf *b)
{
	if (b->data != NULL && b->off == b->len)
		sl_buf_release(p, b);
}
