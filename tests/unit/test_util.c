/* SPDX-License-Identifier: MIT */
/* Unit tests for util.c: address formatting (IPv4 is formatted by hand,
 * so it is checked against inet_ntop over every octet value). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "util.h"

static void
check_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct sockaddr_in sin;
	char got[INET6_ADDRSTRLEN], want[INET_ADDRSTRLEN];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, (uint8_t[]){a, b, c, d}, 4);
	memset(got, 'x', sizeof(got));
	assert_ptr_equal(sl_addr_ip((struct sockaddr *)&sin, got, sizeof(got)),
			 got);
	assert_non_null(inet_ntop(AF_INET, &sin.sin_addr, want, sizeof(want)));
	assert_string_equal(got, want);
}

static void
test_ipv4_every_octet(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		check_v4((uint8_t)v, 0, 0, 0);
		check_v4(1, (uint8_t)v, 2, 3);
		check_v4(10, 20, (uint8_t)v, 255);
		check_v4(255, 255, 255, (uint8_t)v);
	}
	check_v4(127, 0, 0, 1);
}

/* sl_ipv4_str copies 4 bytes an octet: the longest address still ends
 * in its 16 bytes (ASan sees a write past a heap block's end). */
static void
test_ipv4_longest_fits_16_bytes(void **state)
{
	char *out = test_malloc(16);

	(void)state;
	assert_string_equal(
	    sl_ipv4_str((const unsigned char[]){255, 255, 255, 255}, out),
	    "255.255.255.255");
	assert_string_equal(
	    sl_ipv4_str((const unsigned char[]){100, 10, 1, 200}, out),
	    "100.10.1.200");
	test_free(out);
}

static void
test_ipv4_small_buffer_falls_back(void **state)
{
	struct sockaddr_in sin;
	char out[8];

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, (uint8_t[]){192, 168, 100, 200}, 4);
	/* too small for the address: never written past the end */
	sl_addr_ip((struct sockaddr *)&sin, out, sizeof(out));
	assert_true(memchr(out, '\0', sizeof(out)) != NULL);
}

static void
test_ipv6_and_port(void **state)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	char out[64];

	(void)state;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(8080);
	s6.sin6_addr.s6_addr[15] = 1;
	assert_string_equal(
	    sl_addr_ip((struct sockaddr *)&s6, out, sizeof(out)), "::1");
	assert_string_equal(
	    sl_addr_str((struct sockaddr *)&s6, out, sizeof(out)),
	    "[::1]:8080");
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = htons(80);
	memcpy(&s4.sin_addr, (uint8_t[]){10, 0, 0, 7}, 4);
	assert_string_equal(
	    sl_addr_str((struct sockaddr *)&s4, out, sizeof(out)),
	    "10.0.0.7:80");
}

/* The request id's text, byte for byte, whichever of the two ways
 * (SSE2 or the table) built it: nibble i of a is place i, places 12 and
 * 25 a letter. */
static void
test_request_id_format_vectors(void **state)
{
	static const struct {
		uint64_t a, b;
		const char *want;
	} v[] = {
	    {0x0123456789abcdefull, 0xfedcba9876543210ull,
	     "fedcba987654d210012345678dabcdef"},
	    {0, 0, "000000000000a000000000000a000000"},
	    {~0ull, ~0ull, "ffffffffffffffffffffffffffffffff"},
	    {0x9999999999999999ull, 0xa5a5a5a5a5a5a5a5ull,
	     "999999999999d9995a5a5a5a5a5a5a5a"},
	};
	char out[33];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(out, 'x', sizeof(out));
		sl_request_id_format(v[i].a, v[i].b, out);
		assert_string_equal(out, v[i].want);
	}
}

/* JSON escaping: runs of plain bytes (copied sixteen at a time) around
 * bytes that need escaping, and a full output cut before a byte that
 * does not fit, never in the middle of an escape. */
static void
test_json_escape_runs(void **state)
{
	static const char in[] = "/api/v1/payments?q=\"x\"&p=a\\b\x01"
				 "0123456789abcdef0123456789abcdef\xc3\xa9";
	static const char want[] =
	    "/api/v1/payments?q=\\\"x\\\"&p=a\\\\b\\u0001"
	    "0123456789abcdef0123456789abcdef\\u00c3\\u00a9";
	char out[256];
	size_t n;

	(void)state;
	n = sl_json_escape(out, sizeof(out), in, sizeof(in) - 1);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(out, want, n);
	/* every cut: a prefix of the whole, never half an escape */
	for (size_t cap = 0; cap < sizeof(want); cap++) {
		n = sl_json_escape(out, cap, in, sizeof(in) - 1);
		assert_true(n <= cap);
		assert_memory_equal(out, want, n);
		assert_true(n == cap || want[n] == '\\');
	}
}

/* sl_strtab: the first value of a key is kept, every key is found after
 * the table grew many times, a missing key is not, and the table is empty
 * again once freed. */
static void
test_strtab(void **state)
{
	enum { N = 5000 };
	struct sl_strtab t = {0};
	char(*keys)[16] = calloc(N, sizeof(*keys));
	size_t v = 0;

	(void)state;
	assert_non_null(keys);
	assert_int_equal(sl_strtab_get(&t, "x", &v), 0);
	for (size_t i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "name-%zu", i);
		assert_int_equal(sl_strtab_put(&t, keys[i], i, NULL), 1);
	}
	assert_int_equal(t.n, N);
	assert_true(t.cap >= 2 * N);
	for (size_t i = 0; i < N; i++) {
		char k[16];
		snprintf(k, sizeof(k), "name-%zu", i); /* another copy */
		assert_int_equal(sl_strtab_get(&t, k, &v), 1);
		assert_int_equal(v, i);
		/* a duplicate: refused, the first value said */
		v = 0;
		assert_int_equal(sl_strtab_put(&t, k, i + N, &v), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(t.n, N);
	assert_int_equal(sl_strtab_get(&t, "name-5000", &v), 0);
	assert_int_equal(sl_strtab_get(&t, "", &v), 0);
	sl_strtab_free(&t);
	assert_int_equal(t.n, 0);
	assert_int_equal(sl_strtab_get(&t, "name-1", &v), 0);
	free(keys);
}

/* sl_copy_short copies every length, short or not, and nothing past it. */
static void
test_copy_short(void **state)
{
	char src[64], dst[80];

	(void)state;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)('a' + i % 26);
	for (size_t n = 0; n <= sizeof(src); n++) {
		memset(dst, '#', sizeof(dst));
		sl_copy_short(dst + 1, src, n);
		assert_int_equal(dst[0], '#');
		assert_memory_equal(dst + 1, src, n);
		for (size_t k = n + 1; k < sizeof(dst); k++)
			assert_int_equal(dst[k], '#');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_every_octet),
	    cmocka_unit_test(test_strtab),
	    cmocka_unit_test(test_copy_short),
	    cmocka_unit_test(test_request_id_format_vectors),
	    cmocka_unit_test(test_json_escape_runs),
	    cmocka_unit_test(test_ipv4_longest_fits_16_bytes),
	    cmocka_unit_test(test_ipv4_small_buffer_falls_back),
	    cmocka_unit_test(test_ipv6_and_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
