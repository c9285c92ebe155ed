/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of W3C Trace Context and OTLP spans written by hand
 * (src/edge/trace.c): traceparent's accepted and refused forms (the W3C
 * specification's rules: version 00's exact form, a later version's
 * extension, ff, zero ids, upper-case hex), tracestate's grammar and
 * limits, a span's bytes against ones written out by hand from the
 * protos' field numbers, the request's envelope, a response's partial
 * success, and the queue's walk. The integration suite
 * (test_tracing.py) decodes what sluice sends with OpenTelemetry's own
 * generated code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trace.c"

#define TP(s) sl_trace_parse_parent(s, strlen(s), &ctx)

static void
test_parent_valid(void **state)
{
	struct sl_tracectx ctx;
	static const uint8_t tid[16] = {0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd,
					0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21,
					0x1c, 0x80, 0x31, 0x9c};
	static const uint8_t pid[8] = {0xb7, 0xad, 0x6b, 0x71,
				       0x69, 0x20, 0x33, 0x31};
	char out[SL_TRACEPARENT_LEN + 1] = {0};

	(void)state;
	assert_int_equal(
	    TP("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), 1);
	assert_memory_equal(ctx.trace_id, tid, 16);
	assert_memory_equal(ctx.parent_id, pid, 8);
	assert_int_equal(ctx.flags, 1);
	sl_trace_format_parent(ctx.trace_id, ctx.parent_id, ctx.flags, out);
	assert_string_equal(
	    out, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	assert_int_equal(
	    TP("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"), 1);
	assert_int_equal(ctx.flags, 0);
	/* a later version: its first fields, what follows after a '-' */
	assert_int_equal(
	    TP("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-09-xyz"),
	    1);
	assert_int_equal(ctx.flags, 9);
	assert_int_equal(
	    TP("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), 1);
}

static void
test_parent_malformed(void **state)
{
	struct sl_tracectx ctx;
	static const char *const bad[] = {
	    "",
	    "00",
	    /* version 00 with more after it */
	    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
	    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-010",
	    /* a later version followed by no '-' */
	    "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",
	    /* version ff */
	    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	    /* zero ids */
	    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
	    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
	    /* upper case, not hex, short fields, wrong separators */
	    "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
	    "00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",
	    "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
	    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
	    "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	    "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	    "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
	    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01",
	    "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01abcd",
	    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(TP(bad[i]), 0);
}

#define ST(s) sl_trace_state_ok(s, strlen(s))

static void
test_state(void **state)
{
	char big[SL_TRACESTATE_MAX + 2], many[33 * 6 + 2];
	size_t n = 0;

	(void)state;
	assert_int_equal(ST(""), 1);
	assert_int_equal(ST("rojo=00f067aa0ba902b7"), 1);
	assert_int_equal(ST("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), 1);
	assert_int_equal(ST("rojo=1 , , congo=2"), 1);
	assert_int_equal(ST("tenant@vendor=x,a_b-c*d/e=1"), 1);
	assert_int_equal(ST("0tenant@v=x"), 1);
	/* keys: lower case, a letter first (simple), one '@', system-id
	 * of at most 14 beginning with a letter */
	assert_int_equal(ST("Rojo=1"), 0);
	assert_int_equal(ST("0rojo=1"), 0);
	assert_int_equal(ST("a@b@c=1"), 0);
	assert_int_equal(ST("a@=1"), 0);
	assert_int_equal(ST("@a=1"), 0);
	assert_int_equal(ST("a@0b=1"), 0);
	assert_int_equal(ST("a@abcdefghijklmno=1"), 0);
	assert_int_equal(ST("ro.jo=1"), 0);
	/* values: printable, no ',' or '=', not ending in a space */
	assert_int_equal(ST("rojo="), 0);
	assert_int_equal(ST("rojo=a=b"), 0);
	assert_int_equal(ST("rojo=a\x01"), 0);
	assert_int_equal(ST("rojo"), 0);
	/* a key twice */
	assert_int_equal(ST("rojo=1,rojo=2"), 0);
	/* 32 members at most */
	for (int i = 0; i < 33; i++)
		n += (size_t)sprintf(many + n, "%sk%02d=1", i ? "," : "", i);
	assert_int_equal(sl_trace_state_ok(many, n), 0);
	assert_int_equal(sl_trace_state_ok(many, n - 6), 1);
	/* 512 bytes at most */
	memset(big, 'a', sizeof(big));
	big[0] = 'k';
	big[1] = '=';
	assert_int_equal(sl_trace_state_ok(big, 258), 1); /* value 256 */
	assert_int_equal(sl_trace_state_ok(big, 259), 0); /* value 257 */
	assert_int_equal(sl_trace_state_ok(big, SL_TRACESTATE_MAX + 1), 0);
}

static void
test_span_bytes(void **state)
{
	static const uint8_t tid[16] = {1, 2,  3,  4,  5,  6,  7,  8,
					9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t sid[8] = {0xa1, 0xa2, 0xa3, 0xa4,
				       0xa5, 0xa6, 0xa7, 0xa8};
	static const uint8_t pid[8] = {0xb1, 0xb2, 0xb3, 0xb4,
				       0xb5, 0xb6, 0xb7, 0xb8};
	struct sl_span_attr at[3] = {
	    {.key = "k", .type = SL_ATTR_STR, .str = "v", .len = 1},
	    {.key = "n", .type = SL_ATTR_INT, .i = 300},
	    {.key = "b", .type = SL_ATTR_BOOL, .i = 1},
	};
	struct sl_span_event ev = {0x0102030405060708ull, "e", "d", 5};
	struct sl_span sp = {
	    tid, sid, pid, "a=1", 3, "GET x", 5, SL_SPAN_SERVER,
	    1,	 1,   2,   at,	  3, &ev,     1};
	uint8_t out[512];
	static const uint8_t
	    want[] =
		{
		    0x12, 0x7e, /* spans */
		    0x0a, 0x10, 1,    2,    3,	  4,	5,
		    6,	  7,	8,    9,    10,	  11,	12,
		    13,	  14,	15,   16, /* trace_id */
		    0x12, 0x08, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
		    0xa6, 0xa7, 0xa8,		 /* span_id */
		    0x1a, 0x03, 'a',  '=',  '1', /* trace_state */
		    0x22, 0x08, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
		    0xb6, 0xb7, 0xb8, /* parent_span_id */
		    0x2a, 0x05, 'G',  'E',  'T',  ' ',	'x', /* name */
		    0x30, 0x02,				     /* kind SERVER */
		    0x39, 1,	0,    0,    0,	  0,	0,
		    0,	  0, /* start_time_unix_nano */
		    0x41, 2,	0,    0,    0,	  0,	0,
		    0,	  0, /* end_time_unix_nano */
		    0x4a, 0x08, 0x0a, 0x01, 'k',  0x12, 0x03,
		    0x0a, 0x01, 'v', /* k=v */
		    0x4a, 0x08, 0x0a, 0x01, 'n',  0x12, 0x03,
		    0x18, 0xac, 0x02, /* n=300 */
		    0x4a, 0x07, 0x0a, 0x01, 'b',  0x12, 0x02,
		    0x10, 0x01, /* b=true */
		    0x5a, 0x15, /* events */
		    0x09, 8,	7,    6,    5,	  4,	3,
		    2,	  1,	     /* time */
		    0x12, 0x01, 'e', /* name */
		    0x1a, 0x07, 0x0a, 0x01, 'd',  0x12, 0x02,
		    0x18, 0x05,		    /* d=5 */
		    0x7a, 0x02, 0x18, 0x02, /* status ERROR */
		};
	size_t n;

	(void)state;
	n = sl_trace_put_span(out, sizeof(out), &sp);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* too little room: nothing */
	assert_int_equal(sl_trace_put_span(out, sizeof(want) - 1, &sp), 0);
	assert_int_equal(sl_trace_put_span(out, 3, &sp), 0);
	/* a root, no status: 10 + 4 bytes fewer */
	sp.parent_id = NULL;
	sp.error = 0;
	assert_int_equal(sl_trace_put_span(out, sizeof(out), &sp),
			 sizeof(want) - 14);
}

/* A negative integer is a 10-byte varint: every room about the span's
 * size, each an exact heap block, is written within (under ASan, a byte
 * past it fails: the short attributes' path once wrote one, review of
 * session 32), and one of 2 bytes more takes the whole span. */
static void
test_room_exact(void **state)
{
	static const uint8_t id[16] = {1};
	/* the integer last: the room left for it is then exactly what the
	 * span's end needs */
	struct sl_span_attr at[2] = {
	    {.key = "s", .type = SL_ATTR_STR, .str = "abc", .len = 3},
	    {.key = "neg", .type = SL_ATTR_INT, .i = -5},
	};
	struct sl_span sp = {id, id, NULL, NULL, 0, "n",  1, SL_SPAN_CLIENT,
			     0,	 1,  2,	   at,	 2, NULL, 0};
	uint8_t whole[256];
	size_t n;

	(void)state;
	n = sl_trace_put_span(whole, sizeof(whole), &sp);
	assert_true(n > 0);
	for (size_t cap = n - 3; cap <= n + 2; cap++) {
		uint8_t *b = malloc(cap);
		size_t k;
		assert_non_null(b);
		k = sl_trace_put_span(b, cap, &sp);
		if (cap < n)
			assert_int_equal(k, 0);
		if (cap >= n + 2)
			assert_int_equal(k, n);
		if (k == n)
			assert_memory_equal(b, whole, n);
		free(b);
	}
}

static void
test_envelope(void **state)
{
	struct sl_span_attr ra = {
	    .key = "s", .type = SL_ATTR_STR, .str = "x", .len = 1};
	uint8_t out[64];
	size_t n = sl_trace_request_prefix_len(&ra, 1, "sl", "1", 3);
	static const uint8_t want[] = {
	    0x0a, 0x1a, /* resource_spans */
	    0x0a, 0x0a, /* resource */
	    0x0a, 0x08, 0x0a, 0x01, 's',  0x12,
	    0x03, 0x0a, 0x01, 'x',  0x12, 0x0c, /* scope_spans */
	    0x0a, 0x07,				/* scope */
	    0x0a, 0x02, 's',  'l',		/* name */
	    0x12, 0x01, '1',			/* version */
						/* then 3 bytes of spans */
	};

	(void)state;
	assert_int_equal(n, sizeof(want));
	assert_int_equal(sl_trace_request_prefix(out, &ra, 1, "sl", "1", 3),
			 sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void
test_response(void **state)
{
	static const uint8_t partial[] = {0x0a, 0x05, 0x08, 0x07,
					  0x12, 0x01, 'x'};
	static const uint8_t other[] = {0x10, 0x01, 0x1a, 0x00};
	static const uint8_t bad[] = {0x0a, 0x05, 0x08};
	static const uint8_t badvar[] = {0x08, 0xff};

	(void)state;
	assert_int_equal(sl_trace_response_rejected(NULL, 0), 0);
	assert_int_equal(sl_trace_response_rejected(partial, sizeof(partial)),
			 7);
	assert_int_equal(sl_trace_response_rejected(other, sizeof(other)), 0);
	assert_int_equal(sl_trace_response_rejected(bad, sizeof(bad)), -1);
	assert_int_equal(sl_trace_response_rejected(badvar, sizeof(badvar)),
			 -1);
}

static void
test_take(void **state)
{
	uint8_t q[64] = {0x12, 0x02, 0, 0, 0x12, 0x01, 0, 0x12, 0x00};
	size_t bytes;

	(void)state;
	assert_int_equal(sl_trace_spans_take(q, 9, 10, &bytes), 3);
	assert_int_equal(bytes, 9);
	assert_int_equal(sl_trace_spans_take(q, 9, 2, &bytes), 2);
	assert_int_equal(bytes, 7);
	/* a cut entry ends the walk */
	assert_int_equal(sl_trace_spans_take(q, 6, 10, &bytes), 1);
	assert_int_equal(bytes, 4);
}

static void
test_hex(void **state)
{
	static const uint8_t b[3] = {0x00, 0xab, 0xff};
	char out[7] = {0};

	(void)state;
	sl_trace_hex(b, 3, out);
	assert_string_equal(out, "00abff");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parent_valid),
	    cmocka_unit_test(test_parent_malformed),
	    cmocka_unit_test(test_state),
	    cmocka_unit_test(test_span_bytes),
	    cmocka_unit_test(test_room_exact),
	    cmocka_unit_test(test_envelope),
	    cmocka_unit_test(test_response),
	    cmocka_unit_test(test_take),
	    cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
