/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of Envoy's CheckRequest and CheckResponse written and read by
 * hand (src/edge/authzpb.c): a request's bytes against ones written out by
 * hand from the protos' field numbers; a response's allow, deny and
 * oneof cases; unknown fields skipped; malformed messages refused. The
 * integration suite (test_auth_grpc.py) has python3-protobuf read and
 * write the same messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "authzpb.c"

#define S(x) ((struct sl_authzpb_str){x, sizeof(x) - 1})

static void
test_request_bytes(void **state)
{
	uint8_t out[256];
	struct sl_authzpb_field f = {S("x-a"), S("1")};
	struct sl_authzpb_req r;
	/* CheckRequest{attributes{source{address{socket_address{address
	 * "1.2.3.4"}}}, request{http{id "i", method "GET", headers {key
	 * "x-a" value "1"}, path "/p", size 0 (left out)}}}} */
	static const uint8_t want[] = {
	    0x0a, 0x29, /* attributes */
	    0x0a, 0x0d, /* source */
	    0x0a, 0x0b, /* address */
	    0x0a, 0x09, /* socket_address */
	    0x12, 0x07, '1', '.', '2', '.',  '3',  '.', '4', /* address */
	    0x22, 0x18,					     /* request */
	    0x12, 0x16,					     /* http */
	    0x0a, 0x01, 'i',				     /* id */
	    0x12, 0x03, 'G', 'E', 'T',			     /* method */
	    0x1a, 0x08,					     /* headers entry */
	    0x0a, 0x03, 'x', '-', 'a', 0x12, 0x01, '1', 0x22,
	    0x02, '/',	'p', /* path */
	};
	long n;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.id = S("i");
	r.method = S("GET");
	r.path = S("/p");
	r.src_addr = S("1.2.3.4");
	r.headers = &f;
	r.nheaders = 1;
	n = sl_authzpb_check_request(out, sizeof(out), &r);
	assert_int_equal(n, 5 + sizeof(want));
	assert_int_equal(out[0], 0);
	assert_int_equal(out[4], sizeof(want));
	assert_memory_equal(out + 5, want, sizeof(want));
	/* too small a buffer, at every size */
	for (size_t cap = 0; cap < (size_t)n; cap++)
		assert_int_equal(sl_authzpb_check_request(out, cap, &r), -1);
	/* size -1 is ten varint bytes; a time and a principal go in */
	r.size = -1;
	r.time_s = 1800000000;
	r.time_ns = 5;
	r.principal = S("CN=c");
	r.dst_addr = S("::1");
	r.dst_port = 443;
	r.body = S("xy");
	n = sl_authzpb_check_request(out, sizeof(out), &r);
	assert_true(n > 5 + (long)sizeof(want) + 10);
}

/* A gRPC message of the bytes. */
static size_t
frame(uint8_t *out, const uint8_t *m, size_t n)
{
	out[0] = 0;
	out[1] = out[2] = 0;
	out[3] = (uint8_t)(n >> 8);
	out[4] = (uint8_t)n;
	memcpy(out + 5, m, n);
	return n + 5;
}

static void
test_response_allow(void **state)
{
	/* status{code 0}, ok_response{headers{header{key "k" value "v"}
	 * append{value true}}, headers_to_remove "authorization"},
	 * an unknown field 9 (varint) and 10 (fixed64) */
	static const uint8_t m[] = {
	    0x0a, 0x00,					  /* status {} */
	    0x1a, 0x1d,					  /* ok_response */
	    0x12, 0x0a,					  /* headers */
	    0x0a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v', /* header */
	    0x12, 0x00,					  /* append {} */
	    0x2a, 0x0d, 'a',  'u',  't', 'h',  'o',  'r',  'i',
	    'z',  'a',	't',  'i',  'o', 'n',  0x48, 0x05, 0x51,
	    1,	  2,	3,    4,    5,	 6,    7,    8,
	};
	uint8_t b[128];
	struct sl_authzpb_resp r;
	size_t n = frame(b, m, sizeof(m));

	(void)state;
	assert_int_equal(sl_authzpb_check_response(b, n, &r), 0);
	assert_int_equal(r.has_status, 1);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.nfields, 1);
	assert_int_equal(r.fields[0].name.len, 1);
	assert_memory_equal(r.fields[0].name.p, "k", 1);
	assert_memory_equal(r.fields[0].value.p, "v", 1);
	assert_int_equal(r.append[0], 0);
	assert_int_equal(r.nremove, 1);
	assert_memory_equal(r.remove[0].p, "authorization", 13);
	/* a message shorter or longer than its prefix says */
	b[4]++;
	assert_int_equal(sl_authzpb_check_response(b, n, &r), -1);
	b[4] -= 2;
	assert_int_equal(sl_authzpb_check_response(b, n, &r), -1);
	b[4]++;
	b[0] = 1; /* compressed */
	assert_int_equal(sl_authzpb_check_response(b, n, &r), -1);
	assert_int_equal(sl_authzpb_check_response(b, 4, &r), -1);
}

static void
test_response_deny(void **state)
{
	/* status{code 7}, denied_response{status{code 401}, headers{header{
	 * key "w" raw_value "B"} append{value 1}}, body "no"}; then an
	 * ok_response after it: the oneof's last wins */
	static const uint8_t deny[] = {
	    0x0a, 0x02, 0x08, 0x07,	  /* status {code 7} */
	    0x12, 0x17,			  /* denied_response */
	    0x0a, 0x03, 0x08, 0x91, 0x03, /* status {code 401} */
	    0x12, 0x0c, 0x0a, 0x06, 0x0a, 0x01, 'w',
	    0x1a, 0x01, 'B',  0x12, 0x02, 0x08, 0x01, /* headers */
	    0x1a, 0x02, 'n',  'o',		      /* body */
	};
	static const uint8_t last_ok[] = {0x1a, 0x00};
	uint8_t m[64], b[128];
	struct sl_authzpb_resp r;
	size_t n;

	(void)state;
	n = frame(b, deny, sizeof(deny));
	assert_int_equal(sl_authzpb_check_response(b, n, &r), 0);
	assert_int_equal(r.code, 7);
	assert_int_equal(r.http_status, 401);
	assert_int_equal(r.nfields, 1);
	assert_memory_equal(r.fields[0].value.p, "B", 1);
	assert_int_equal(r.append[0], 1);
	assert_int_equal(r.body.len, 2);
	memcpy(m, deny, sizeof(deny));
	memcpy(m + sizeof(deny), last_ok, sizeof(last_ok));
	n = frame(b, m, sizeof(deny) + sizeof(last_ok));
	assert_int_equal(sl_authzpb_check_response(b, n, &r), 0);
	assert_int_equal(r.http_status, 0);
	assert_int_equal(r.nfields, 0);
	assert_int_equal(r.body.len, 0);
	assert_int_equal(r.code, 7);
}

static void
test_response_malformed(void **state)
{
	static const uint8_t bad[][12] = {
	    {0x0a, 0x05, 0x08},		    /* a length past the end */
	    {0x0b},			    /* a group */
	    {0x08},			    /* a varint cut */
	    {0x00, 0x01},		    /* field 0 */
	    {0x0a, 0x01, 0x0a},		    /* status.code as a string */
	    {0x11, 1, 2, 3},		    /* a fixed64 cut */
	    {0x15, 1, 2},		    /* a fixed32 cut */
	    {0x12, 0x02, 0x0a, 0x01},	    /* denied status cut */
	    {0x1a, 0x02, 0x2a, 0x05},	    /* a removal past its message */
	    {0x12, 0x03, 0x12, 0x01, 0x0b}, /* a group in headers */
	};
	static const size_t lens[] = {3, 1, 1, 2, 3, 4, 3, 4, 4, 5};
	uint8_t b[64];
	struct sl_authzpb_resp r;

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		assert_int_equal(
		    sl_authzpb_check_response(b, frame(b, bad[i], lens[i]), &r),
		    -1);
	/* more fields than taken */
	{
		uint8_t m[3 + 33 * 7], big[sizeof(m) + 5];
		size_t o = 0;
		m[o++] = 0x1a;
		m[o++] = 0;
		m[o++] = 0;
		for (int i = 0; i < 33; i++) {
			static const uint8_t h[] = {0x12, 0x05, 0x0a, 0x03,
						    0x0a, 0x01, 'k'};
			memcpy(m + o, h, sizeof(h));
			o += sizeof(h);
		}
		/* the length, 231, as a two-byte varint */
		m[1] = (uint8_t)(((o - 3) & 0x7f) | 0x80);
		m[2] = (uint8_t)((o - 3) >> 7);
		assert_int_equal(
		    sl_authzpb_check_response(big, frame(big, m, o), &r), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_bytes),
	    cmocka_unit_test(test_response_allow),
	    cmocka_unit_test(test_response_deny),
	    cmocka_unit_test(test_response_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
