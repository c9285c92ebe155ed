/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the worker's buffer pool (buf.h): a steady load takes
 * nothing from malloc once warm, a class keeps up to its byte cap, what
 * sits unused goes back by ticks, `allocated` is exact, a buffer that
 * grows keeps its bytes, and a size gets the smallest class that holds it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

#define MAX_FREE 64 /* the worker's BUF_FREE_PER_CLASS */
#define KIB	 1024u

/* the free buffers a class keeps at most, by buf.h's rule */
static uint32_t
class_cap(uint32_t max_free, uint32_t size)
{
	uint32_t n = SL_BUF_FREE_BYTES / size;

	return n > max_free ? n : max_free;
}

static int
cls_of(uint32_t size)
{
	int c = 0;

	while (((uint32_t)1 << (c + SL_BUF_MIN_SHIFT)) < size)
		c++;
	return c;
}

/* One round of a load that has n buffers of size in use at its peak. */
static void
cycle(struct sl_bufpool *p, struct sl_buf *b, int n, uint32_t size)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(sl_buf_alloc(p, &b[i], size), 0);
	for (int i = 0; i < n; i++)
		sl_buf_release(p, &b[i]);
}

static void
test_steady_load_takes_nothing_from_malloc_once_warm(void **state)
{
	/* 128 calls in flight each held a 64 KiB and an 8 KiB buffer, and
	 * 4 KiB ones came and went: more than 64 of each */
	static struct sl_buf big[129], mid[128], small[200];
	struct sl_bufpool p;

	(void)state;
	memset(big, 0, sizeof(big));
	memset(mid, 0, sizeof(mid));
	memset(small, 0, sizeof(small));
	sl_bufpool_init(&p, MAX_FREE);
	cycle(&p, big, 129, 64 * KIB);
	cycle(&p, mid, 128, 8 * KIB);
	cycle(&p, small, 200, 4 * KIB);
	assert_int_equal(p.from_malloc,
			 129 * 64 * KIB + 128 * 8 * KIB + 200 * 4 * KIB);
	assert_int_equal(p.to_malloc, 0);
	sl_bufpool_tick(&p);
	/* 50 rounds (10 s of ticks), the load going up and down by up to
	 * 40 buffers a class: the working set stays */
	for (int r = 0; r < 50; r++) {
		int d = (r * 7) % 41;

		cycle(&p, big, 129 - d / 2, 64 * KIB);
		cycle(&p, mid, 128 - d, 8 * KIB);
		cycle(&p, small, 200 - d, 4 * KIB);
		assert_int_equal(p.from_malloc, 0);
		assert_int_equal(p.to_malloc, 0);
		assert_int_equal(p.allocated, 0);
		sl_bufpool_tick(&p);
	}
	assert_int_equal(p.nfree[cls_of(64 * KIB)], 129);
	assert_int_equal(p.nfree[cls_of(8 * KIB)], 128);
	assert_int_equal(p.nfree[cls_of(4 * KIB)], 200);
	sl_bufpool_drain(&p);
}

static void
test_release_keeps_up_to_the_byte_cap(void **state)
{
	static struct sl_buf b[5000];
	static const struct {
		uint32_t max_free, size, n;
	} cases[] = {
	    {MAX_FREE, 4 * KIB, 5000},	/* 16 MiB of 4 KiB: 4,096 */
	    {MAX_FREE, 64 * KIB, 300},	/* 256 */
	    {MAX_FREE, 128 * KIB, 200}, /* 128 */
	    {MAX_FREE, 1024 * KIB, 80}, /* the byte cap is 16: max_free */
	    {8, 1024 * KIB, 80},	/* 16 */
	};
	struct sl_bufpool p;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint32_t size = cases[k].size, n = cases[k].n;
		uint32_t keep = class_cap(cases[k].max_free, size);

		assert_true(keep < n);
		memset(b, 0, sizeof(b));
		sl_bufpool_init(&p, cases[k].max_free);
		cycle(&p, b, (int)n, size);
		assert_int_equal(p.nfree[cls_of(size)], keep);
		assert_int_equal(p.to_malloc, (uint64_t)(n - keep) * size);
		assert_int_equal(p.allocated, 0);
		/* and the next round takes them all again */
		sl_bufpool_tick(&p);
		cycle(&p, b, (int)keep, size);
		assert_int_equal(p.from_malloc, 0);
		sl_bufpool_drain(&p);
		assert_int_equal(p.nfree[cls_of(size)], 0);
	}
	assert_int_equal(class_cap(MAX_FREE, 4 * KIB), 4096);
}

static void
test_ticks_give_back_what_sits_unused(void **state)
{
	static struct sl_buf b[4096];
	struct sl_bufpool p;
	int c4 = cls_of(4 * KIB), c64 = cls_of(64 * KIB);
	uint32_t prev;

	(void)state;
	/* a small burst (under the 1 MiB that makes a trim): 200 buffers of
	 * 4 KiB stay free after it, then go back by halves to max_free */
	memset(b, 0, sizeof(b));
	sl_bufpool_init(&p, MAX_FREE);
	cycle(&p, b, 200, 4 * KIB);
	assert_int_equal(p.nfree[c4], 200);
	/* the period's requests needed them: the first tick keeps them */
	sl_bufpool_tick(&p);
	assert_int_equal(p.nfree[c4], 200);
	/* none was needed in the next one: half the slack over 64 goes */
	sl_bufpool_tick(&p);
	assert_int_equal(p.nfree[c4], 200 - 68);
	prev = p.nfree[c4];
	for (int i = 0; i < 20; i++) {
		sl_bufpool_tick(&p);
		assert_true(p.nfree[c4] <= prev);
		assert_true(p.nfree[c4] >= MAX_FREE);
		prev = p.nfree[c4];
	}
	assert_int_equal(p.nfree[c4], MAX_FREE);
	assert_int_equal(p.to_malloc, (uint64_t)(200 - MAX_FREE) * 4 * KIB);
	assert_int_equal(p.allocated, 0);

	/* a load that drops from 200 to 100 buffers keeps what it uses and
	 * max_free more, and takes nothing from malloc for it */
	sl_bufpool_drain(&p);
	sl_bufpool_init(&p, MAX_FREE);
	cycle(&p, b, 200, 4 * KIB);
	sl_bufpool_tick(&p);
	for (int i = 0; i < 20; i++) {
		cycle(&p, b, 100, 4 * KIB);
		assert_int_equal(p.from_malloc, 0);
		sl_bufpool_tick(&p);
	}
	assert_int_equal(p.nfree[c4], 100 + MAX_FREE);

	/* a burst the lists hold whole (16 MiB of 4 KiB, 4 MiB of 64 KiB):
	 * what the decay gives back passes 1 MiB, the burst is over, and
	 * the lists are cut to a quarter of max_free */
	sl_bufpool_drain(&p);
	sl_bufpool_init(&p, MAX_FREE);
	cycle(&p, b, 4096, 4 * KIB);
	cycle(&p, b, 64, 64 * KIB);
	assert_int_equal(p.nfree[c4], 4096);
	assert_int_equal(p.nfree[c64], 64);
	assert_int_equal(p.to_malloc, 0);
	sl_bufpool_tick(&p);
	assert_int_equal(p.nfree[c4], 4096);
	sl_bufpool_tick(&p);
	assert_int_equal(p.nfree[c4], MAX_FREE / 4);
	assert_int_equal(p.nfree[c64], MAX_FREE / 4);
	assert_int_equal(p.to_malloc, 0); /* counted from the trim again */
	for (int i = 0; i < 10; i++)
		sl_bufpool_tick(&p);
	assert_int_equal(p.nfree[c4], MAX_FREE / 4);
	assert_int_equal(p.allocated, 0);
	sl_bufpool_drain(&p);
}

static void
test_allocated_is_exact(void **state)
{
	static const size_t sizes[] = {1,     4096,	 4097,	 8192,
				       16000, 64 * 1024, 100000, 1 << 20};
	enum { N = 300 };
	static struct sl_buf b[N];
	struct sl_bufpool p;
	uint64_t held = 0;

	(void)state;
	memset(b, 0, sizeof(b));
	sl_bufpool_init(&p, MAX_FREE);
	for (int i = 0; i < N; i++) {
		size_t size = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];

		assert_int_equal(sl_buf_alloc(&p, &b[i], size), 0);
		assert_true(b[i].cap >= size);
		assert_true(b[i].cap < 2 * size || b[i].cap == 4096);
		held += b[i].cap;
		assert_int_equal(p.allocated, held);
	}
	/* a buffer that has one keeps it */
	assert_int_equal(sl_buf_alloc(&p, &b[0], 1 << 20), 0);
	assert_int_equal(p.allocated, held);
	/* growing moves the bytes held, from one class to another */
	held -= b[1].cap;
	assert_int_equal(sl_buf_grow(&p, &b[1], 200000), 0);
	held += b[1].cap;
	assert_int_equal(p.allocated, held);
	/* one with bytes waiting is not released */
	b[2].len = 10;
	sl_buf_release_if_empty(&p, &b[2]);
	assert_int_equal(p.allocated, held);
	b[2].off = 10;
	held -= b[2].cap;
	sl_buf_release_if_empty(&p, &b[2]);
	assert_int_equal(p.allocated, held);
	/* released halves, kept or freed, and ticks on the way */
	for (int i = 0; i < N; i += 2) {
		held -= b[i].cap;
		sl_buf_release(&p, &b[i]);
		assert_int_equal(p.allocated, held);
		if (i % 50 == 0)
			sl_bufpool_tick(&p);
	}
	for (int i = 0; i < 25; i++)
		sl_bufpool_tick(&p);
	assert_int_equal(p.allocated, held);
	for (int i = 1; i < N; i += 2)
		sl_buf_release(&p, &b[i]);
	assert_int_equal(p.allocated, 0);
	sl_bufpool_drain(&p);
	assert_int_equal(p.allocated, 0);
}

static void
test_grow_keeps_bytes(void **state)
{
	struct sl_bufpool p;
	struct sl_buf b = {0};
	char *data;

	(void)state;
	sl_bufpool_init(&p, MAX_FREE);
	/* growing nothing allocates */
	assert_int_equal(sl_buf_grow(&p, &b, 100), 0);
	assert_int_equal(b.cap, 4096);
	for (uint32_t i = 0; i < b.cap; i++)
		b.data[i] = (char)(i * 7);
	b.off = 100;
	b.len = b.cap;
	/* to a larger class: bytes, off and len stay, the old buffer is
	 * kept free */
	assert_int_equal(sl_buf_grow(&p, &b, 10000), 0);
	assert_int_equal(b.cap, 16384);
	assert_int_equal(b.off, 100);
	assert_int_equal(b.len, 4096);
	for (uint32_t i = 0; i < 4096; i++)
		assert_int_equal(b.data[i], (char)(i * 7));
	assert_int_equal(p.allocated, 16384);
	assert_int_equal(p.nfree[cls_of(4 * KIB)], 1);
	/* a size it has room for changes nothing */
	data = b.data;
	assert_int_equal(sl_buf_grow(&p, &b, 16384), 0);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, 16384);
	/* and once more, across several classes */
	memset(b.data + 4096, 'x', 16384 - 4096);
	b.len = 16384;
	assert_int_equal(sl_buf_grow(&p, &b, 300000), 0);
	assert_int_equal(b.cap, 512 * 1024);
	assert_int_equal(b.off, 100);
	assert_int_equal(b.len, 16384);
	for (uint32_t i = 0; i < 4096; i++)
		assert_int_equal(b.data[i], (char)(i * 7));
	for (uint32_t i = 4096; i < 16384; i++)
		assert_int_equal(b.data[i], 'x');
	assert_int_equal(p.allocated, 512 * 1024);
	sl_buf_release(&p, &b);
	assert_null(b.data);
	assert_int_equal(b.cap + b.off + b.len, 0);
	assert_int_equal(p.allocated, 0);
	sl_bufpool_drain(&p);
}

static void
test_sizes_round_up_to_their_class(void **state)
{
	static const struct {
		size_t size;
		uint32_t cap;
	} cases[] = {
	    {0, 4096},
	    {1, 4096},
	    {4096, 4096},
	    {4097, 8192},
	    {8192, 8192},
	    {33 * 1024, 64 * 1024},
	    {64 * 1024, 64 * 1024},
	    {64 * 1024 + 1, 128 * 1024},
	    {(1 << 26) + 1, 1u << 27},
	    {1u << 27, 1u << 27},
	};
	struct sl_bufpool p;

	(void)state;
	sl_bufpool_init(&p, MAX_FREE);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct sl_buf b = {0};

		assert_int_equal(sl_buf_alloc(&p, &b, cases[k].size), 0);
		assert_int_equal(b.cap, cases[k].cap);
		sl_buf_release(&p, &b);
		/* it went back to its own class's list */
		assert_int_equal(p.nfree[cls_of(cases[k].cap)], 1);
		sl_bufpool_drain(&p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_steady_load_takes_nothing_from_malloc_once_warm),
	    cmocka_unit_test(test_release_keeps_up_to_the_byte_cap),
	    cmocka_unit_test(test_ticks_give_back_what_sits_unused),
	    cmocka_unit_test(test_allocated_is_exact),
	    cmocka_unit_test(test_grow_keeps_bytes),
	    cmocka_unit_test(test_sizes_round_up_to_their_class),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
