/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for W3C Trace Context and OTLP spans by hand
 * (src/edge/trace.c). The input is read as a traceparent (one it takes
 * must be written back the same by sl_trace_format_parent, flags and all,
 * for version 00), as a tracestate (one it takes keeps W3C's limits), as
 * an ExportTraceServiceResponse and as a span queue (their reads stay
 * within the input). Then the input is cut into a span's strings, which is
 * written and walked back with a protobuf reader of this file's own: the
 * lengths must close where the nesting says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "trace.h"

static uint8_t out[1 << 16];

static int
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (int sh = 0; sh < 64 && *p < end; sh += 7) {
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* The messages a Span holds: the field numbers of each kind that are
 * messages, and of which kind. */
enum kind { K_SPAN, K_KV, K_ANY, K_EVENT, K_STATUS, K_NONE };

static enum kind
nested(enum kind k, uint64_t f)
{
	switch (k) {
	case K_SPAN:
		return f == 9	 ? K_KV
		       : f == 11 ? K_EVENT
		       : f == 15 ? K_STATUS
				 : K_NONE;
	case K_KV:
		return f == 2 ? K_ANY : K_NONE;
	case K_EVENT:
		return f == 3 ? K_KV : K_NONE;
	default:
		return K_NONE;
	}
}

/* Walks a message of kind k at [p, end): every field well formed, the
 * nested messages walked too. */
static void
walk(const uint8_t *p, const uint8_t *end, enum kind k)
{
	while (p < end) {
		uint64_t tag, len;
		enum kind in;
		CHECK(varint(&p, end, &tag) == 0);
		switch (tag & 7) {
		case 0:
			CHECK(varint(&p, end, &len) == 0);
			break;
		case 1:
			CHECK(end - p >= 8);
			p += 8;
			break;
		case 2:
			CHECK(varint(&p, end, &len) == 0);
			CHECK(len <= (uint64_t)(end - p));
			if ((in = nested(k, tag >> 3)) != K_NONE)
				walk(p, p + len, in);
			p += len;
			break;
		default:
			CHECK(0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct sl_tracectx ctx;
	size_t bytes;

	if (sl_trace_parse_parent(s, size, &ctx)) {
		char back[SL_TRACEPARENT_LEN];
		CHECK(size >= SL_TRACEPARENT_LEN);
		sl_trace_format_parent(ctx.trace_id, ctx.parent_id, ctx.flags,
				       back);
		/* the version aside, the same text */
		CHECK(memcmp(back + 2, s + 2, SL_TRACEPARENT_LEN - 2) == 0);
		CHECK(s[0] != 'f' || s[1] != 'f');
	}
	if (sl_trace_state_ok(s, size))
		CHECK(size <= SL_TRACESTATE_MAX);
	(void)sl_trace_response_rejected(data, size);
	CHECK(sl_trace_spans_take(data, size, 1000, &bytes) <= size);
	CHECK(bytes <= size);

	/* a span of the input's strings */
	{
		struct sl_span_attr at[4];
		struct sl_span_event ev = {7, "e", "k", (int64_t)size};
		static const uint8_t id[16] = {1};
		size_t third = size / 3, n;
		struct sl_span sp = {id,
				     id,
				     size & 1 ? id : NULL,
				     size & 8 ? s : NULL,
				     size & 8 ? third : 0,
				     s,
				     third,
				     SL_SPAN_CLIENT,
				     size & 2 ? 1 : 0,
				     1,
				     2,
				     at,
				     4,
				     &ev,
				     size & 4 ? 1 : 0};
		at[0] = (struct sl_span_attr){.key = "a",
					      .type = SL_ATTR_STR,
					      .str = s + third,
					      .len = third};
		at[1] = (struct sl_span_attr){.key = "b",
					      .type = SL_ATTR_STR,
					      .str = s + 2 * third,
					      .len = size - 2 * third};
		at[2] = (struct sl_span_attr){
		    .key = "c",
		    .type = SL_ATTR_INT,
		    .i = size > 8 ? (int64_t)((uint64_t)data[0] << 56 | data[1])
				  : -1};
		at[3] = (struct sl_span_attr){
		    .key = "d", .type = SL_ATTR_BOOL, .i = (int64_t)size};
		n = sl_trace_put_span(out, sizeof(out), &sp);
		if (size < 8000) {
			const uint8_t *p = out + 1;
			uint64_t len;
			CHECK(n > 0);
			CHECK(out[0] == 0x12);
			CHECK(varint(&p, out + n, &len) == 0);
			CHECK(p + len == out + n);
			walk(p, out + n, K_SPAN);
			CHECK(sl_trace_spans_take(out, n, 5, &bytes) == 1);
			CHECK(bytes == n);
		}
		/* rooms about the span's size, each a heap block of exactly
		 * that size (ASan sees a byte written past it): too small
		 * writes nothing past it and says 0; enough writes the same */
		if (n > 0) {
			for (size_t cap = n > 2 ? n - 2 : 1; cap <= n + 3;
			     cap++) {
				uint8_t *b = malloc(cap);
				size_t k;
				CHECK(b != NULL);
				k = sl_trace_put_span(b, cap, &sp);
				/* the span's length takes 3 bytes until its
				 * end: up to 2 more than it keeps (trace.h) */
				CHECK(cap < n	     ? k == 0
				      : cap >= n + 2 ? k == n
						     : k == 0 || k == n);
				if (k == n)
					CHECK(memcmp(b, out, n) == 0);
				free(b);
			}
		}
	}
	return 0;
}
