/* SPDX-License-Identifier: MIT */
/*
 * Per-worker buffer free lists by power-of-two size class, so the request
 * path does not call malloc once the worker is warm.
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
		p->nfree[i] = 0;
	}
	p->max_free = max_free;
	p->allocated = p->from_malloc = p->to_malloc = 0;
}

/* Frees the buffers of every free list beyond the first `keep`. */
static void
free_lists_cut(struct sl_bufpool *p, uint32_t keep)
{
	for (int i = 0; i < SL_BUF_NCLASS; i++)
		while (p->nfree[i] > keep) {
			void *next = *(void **)p->free[i];
			free(p->free[i]);
			p->free[i] = next;
			p->nfree[i]--;
		}
}

void
sl_bufpool_drain(struct sl_bufpool *p)
{
	free_lists_cut(p, 0);
}

static int
size_class(size_t size)
{
	int shift = SL_BUF_MIN_SHIFT;

	while (((size_t)1 << shift) < size && shift < SL_BUF_MAX_SHIFT)
		shift++;
	return shift - SL_BUF_MIN_SHIFT;
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
		p->nfree[cls]--;
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
	if (p->nfree[cls] < p->max_free) {
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
 * glibc keeps freed chunks in the worker thread's arena, so after a burst
 * (an attack of slow readers, a spike of large bodies) the process stays
 * at its peak RSS. malloc_trim hands the free pages back, after the free
 * lists are cut to a quarter of their size. It is not done
 * while buffers are still being taken from malloc: a steady churn would
 * otherwise fault the same pages in again every period.
 */
void
sl_bufpool_tick(struct sl_bufpool *p)
{
	if (p->to_malloc >= TRIM_AFTER_BYTES && p->from_malloc == 0) {
		/* the free lists were filled by the burst too: keep a
		 * quarter, enough for the traffic that stayed */
		free_lists_cut(p, p->max_free / 4);
		if (SL_MALLOC_TRIM)
			malloc_trim(0);
		p->to_malloc = 0;
	}
	p->from_malloc = 0;
}

void
sl_buf_release_if_empty(struct sl_bufpool *p, struct sl_buf *b)
{
	if (b->data != NULL && b->off == b->len)
		sl_buf_release(p, b);
}
