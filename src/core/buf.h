/* SPDX-License-Identifier: MIT */
/*
 * I/O buffers and the per-worker free lists they come from. A connection
 * holds a buffer only while bytes wait in it; an idle connection holds none.
 * Not thread-safe: each worker has its own pool.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>
#include <stdint.h>

/*
 * A linear buffer: bytes [off, len) are waiting; [0, off) are consumed.
 * data == NULL means no memory is held.
 */
struct sl_buf {
	char *data;
	uint32_t cap; /* bytes */
	uint32_t off;
	uint32_t len;
};

#define SL_BUF_MIN_SHIFT 12 /* 4 KiB */
#define SL_BUF_MAX_SHIFT 27 /* 128 MiB */
#define SL_BUF_NCLASS	 (SL_BUF_MAX_SHIFT - SL_BUF_MIN_SHIFT + 1)

/*
 * A class keeps up to this many bytes of free buffers, and never fewer
 * than max_free buffers: 4,096 of 4 KiB, ..., 256 of 64 KiB, 128 of
 * 128 KiB, max_free of 256 KiB and up (buf.c says why).
 */
#define SL_BUF_FREE_BYTES ((uint32_t)16 << 20)

struct sl_bufpool {
	void *free[SL_BUF_NCLASS]; /* singly linked through the first word */
	uint32_t nfree[SL_BUF_NCLASS];
	/* the fewest free buffers of the class since the last tick: that many
	 * sat unused through the whole period */
	uint32_t low[SL_BUF_NCLASS];
	uint32_t max_free;    /* floor of a class's cap and of its decay */
	uint64_t allocated;   /* bytes held by connections now */
	uint64_t from_malloc; /* bytes taken from malloc since the last tick */
	uint64_t to_malloc;   /* bytes given back to malloc since a trim */
};

void sl_bufpool_init(struct sl_bufpool *p, uint32_t max_free);
/*
 * Called periodically (every 200 ms): frees half of what each class kept
 * unused through the period, above max_free. Once a burst is over (at
 * least 1 MiB went back to malloc, and the period needed nothing new from
 * it), cuts the free lists to a quarter of max_free and asks malloc to
 * return its free pages to the kernel.
 */
void sl_bufpool_tick(struct sl_bufpool *p);
void sl_bufpool_drain(struct sl_bufpool *p);

/*
 * Gives b a buffer of at least size bytes (rounded up to a power of two)
 * unless it has one. Returns 0, or -1 when out of memory.
 */
int sl_buf_alloc(struct sl_bufpool *p, struct sl_buf *b, size_t size);
/*
 * Moves b's bytes to a buffer of at least size bytes, keeping off and len
 * (positions into b stay valid). Returns 0, or -1 when out of memory (b is
 * unchanged).
 */
int sl_buf_grow(struct sl_bufpool *p, struct sl_buf *b, size_t size);
/* Returns b's memory to the pool; b holds nothing afterwards. */
void sl_buf_release(struct sl_bufpool *p, struct sl_buf *b);
/* Releases b's memory if no byte waits in it. */
void sl_buf_release_if_empty(struct sl_bufpool *p, struct sl_buf *b);

static inline uint32_t
sl_buf_pending(const struct sl_buf *b)
{
	return b->len - b->off;
}

static inline uint32_t
sl_buf_space(const struct sl_buf *b)
{
	return b->cap - b->len;
}

#endif
