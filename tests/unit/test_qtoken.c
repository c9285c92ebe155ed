/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of Retry tokens (src/quic/qtoken.c): a token opens for the
 * address it was made for, with what it carried; not for another address
 * or port, nor IPv6 for IPv4, nor under another key, nor with any byte
 * changed, nor cut, nor past its age or from the future.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "qtoken.h"

static void
test_tokens(void **state)
{
	uint8_t key[32] = {7}, other[32] = {8}, tok[SL_QTOKEN_MAX];
	struct sockaddr_in a, b;
	struct sockaddr_in6 a6;
	struct sl_qtoken t, got;
	long n;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(0x7f000001);
	a.sin_port = htons(40000);
	b = a;
	b.sin_port = htons(40001);
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	a6.sin6_port = a.sin_port;
	memset(&t, 0, sizeof(t));
	t.odcid_len = 8;
	memset(t.odcid, 0xaa, 8);
	t.rscid_len = 16;
	memset(t.rscid, 0xbb, 16);
	t.made_ms = 1000000;
	n = sl_qtoken_seal(key, &t, (struct sockaddr *)&a, sizeof(a), tok);
	assert_true(n > 0 && n <= SL_QTOKEN_MAX);
	assert_int_equal(sl_qtoken_open(key, tok, (size_t)n,
					(struct sockaddr *)&a, sizeof(a),
					1000500, 10000, &got),
			 0);
	assert_int_equal(got.odcid_len, 8);
	assert_memory_equal(got.odcid, t.odcid, 8);
	assert_int_equal(got.rscid_len, 16);
	assert_memory_equal(got.rscid, t.rscid, 16);
	assert_int_equal(got.made_ms, 1000000);
	/* another port, another family, another key */
	assert_int_equal(sl_qtoken_open(key, tok, (size_t)n,
					(struct sockaddr *)&b, sizeof(b),
					1000500, 10000, &got),
			 -1);
	assert_int_equal(sl_qtoken_open(key, tok, (size_t)n,
					(struct sockaddr *)&a6, sizeof(a6),
					1000500, 10000, &got),
			 -1);
	assert_int_equal(sl_qtoken_open(other, tok, (size_t)n,
					(struct sockaddr *)&a, sizeof(a),
					1000500, 10000, &got),
			 -1);
	/* too old, from the future */
	assert_int_equal(sl_qtoken_open(key, tok, (size_t)n,
					(struct sockaddr *)&a, sizeof(a),
					1010001, 10000, &got),
			 -1);
	assert_int_equal(sl_qtoken_open(key, tok, (size_t)n,
					(struct sockaddr *)&a, sizeof(a),
					999999, 10000, &got),
			 -1);
	/* any byte changed, or cut */
	for (long i = 0; i < n; i++) {
		tok[i] ^= 0x01;
		assert_int_equal(
		    sl_qtoken_open(key, tok, (size_t)n, (struct sockaddr *)&a,
				   sizeof(a), 1000500, 10000, &got),
		    -1);
		tok[i] ^= 0x01;
	}
	assert_int_equal(sl_qtoken_open(key, tok, (size_t)n - 1,
					(struct sockaddr *)&a, sizeof(a),
					1000500, 10000, &got),
			 -1);
	/* an IPv6 client's token opens for it */
	n = sl_qtoken_seal(key, &t, (struct sockaddr *)&a6, sizeof(a6), tok);
	assert_true(n > 0);
	assert_int_equal(sl_qtoken_open(key, tok, (size_t)n,
					(struct sockaddr *)&a6, sizeof(a6),
					1000000, 10000, &got),
			 0);
	/* an ID longer than QUIC allows is refused */
	t.odcid_len = 21;
	assert_int_equal(
	    sl_qtoken_seal(key, &t, (struct sockaddr *)&a, sizeof(a), tok), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
