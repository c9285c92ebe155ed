/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the memory transport's kept pairs (src/net/xprt_mem.c):
 * a pair whose two ends closed is kept by the thread for the next one,
 * up to PAIRS_KEPT pairs and PAIR_BYTES_KEPT bytes of buffers, and a
 * buffer over PAIR_BUF_KEPT is not kept (session 30). No sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "xprt_mem.c"

/* k pairs whose ends each had n bytes go through them, all open at once
 * (each takes what the one before left), then all closed. */
static void
pairs_used_and_closed(int k, size_t n)
{
	static char data[64 * 1024], sink[64 * 1024];
	struct sl_xprt_mem *a[PAIRS_KEPT + 16], *b;

	assert_true(n <= sizeof(data));
	assert_true(k <= PAIRS_KEPT + 16);
	for (int i = 0; i < k; i++) {
		assert_int_equal(sl_xprt_mem_pair(&a[i], &b), 0);
		assert_int_equal(sl_xprt_mem_write(a[i], data, n), (ssize_t)n);
		assert_int_equal(sl_xprt_mem_write(b, data, n), (ssize_t)n);
		assert_int_equal(sl_xprt_mem_read(b, sink, n), (ssize_t)n);
		assert_int_equal(sl_xprt_mem_read(a[i], sink, n), (ssize_t)n);
	}
	for (int i = 0; i < k; i++) {
		b = a[i]->peer;
		sl_xprt_mem_close(a[i]);
		sl_xprt_mem_close(b);
	}
}

/* The bytes the kept pairs' buffers hold, counted. */
static size_t
kept_bytes(unsigned *npairs)
{
	size_t sum = 0;

	*npairs = 0;
	for (struct sl_xprt_mem *p = pairs_kept; p != NULL; p = p[0].peer) {
		sum += p[0].cap + p[1].cap;
		(*npairs)++;
	}
	return sum;
}

static void
test_kept_pairs_bounded_in_bytes(void **state)
{
	struct sl_xprt_mem *a[PAIRS_KEPT], *b;
	unsigned n;

	(void)state;
	/* 8 KiB buffers: 2 x 8 KiB a pair, more than PAIR_BYTES_KEPT over
	 * 200 pairs; every pair is kept, its buffers only within the
	 * bound */
	pairs_used_and_closed(200, 5000);
	assert_int_equal(npairs_kept, 200);
	assert_int_equal(kept_bytes(&n), pair_bytes_kept);
	assert_int_equal(n, 200);
	assert_true(pair_bytes_kept <= PAIR_BYTES_KEPT);
	assert_true(pair_bytes_kept > PAIR_BYTES_KEPT - 2 * 8192);
	/* taken again, the count follows: none left, nothing counted */
	for (int i = 0; i < 200; i++)
		assert_int_equal(sl_xprt_mem_pair(&a[i], &b), 0);
	assert_int_equal(npairs_kept, 0);
	assert_int_equal(pair_bytes_kept, 0);
	for (int i = 0; i < 200; i++) {
		b = a[i]->peer;
		sl_xprt_mem_close(a[i]);
		sl_xprt_mem_close(b);
	}
	sl_xprt_mem_cache_free();
	assert_int_equal(pair_bytes_kept, 0);
	assert_null(pairs_kept);
}

static void
test_large_buffer_and_extra_pairs_not_kept(void **state)
{
	unsigned n;

	(void)state;
	/* a buffer grown past PAIR_BUF_KEPT goes back to malloc */
	pairs_used_and_closed(1, PAIR_BUF_KEPT + 1);
	assert_int_equal(npairs_kept, 1);
	assert_int_equal(pairs_kept[0].cap, 0);
	assert_int_equal(pairs_kept[1].cap, 0);
	assert_int_equal(pair_bytes_kept, 0);
	/* a small one: from 1 KiB */
	pairs_used_and_closed(1, 10);
	assert_int_equal(pairs_kept[0].cap, 1024);
	assert_int_equal(pair_bytes_kept, 2048);
	/* past PAIRS_KEPT pairs: freed, not kept */
	pairs_used_and_closed(PAIRS_KEPT + 10, 10);
	assert_int_equal(npairs_kept, PAIRS_KEPT);
	assert_int_equal(kept_bytes(&n), pair_bytes_kept);
	assert_int_equal(n, PAIRS_KEPT);
	sl_xprt_mem_cache_free();
	assert_int_equal(npairs_kept, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kept_pairs_bounded_in_bytes),
	    cmocka_unit_test(test_large_buffer_and_extra_pairs_not_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
