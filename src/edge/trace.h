/* SPDX-License-Identifier: MIT */
/*
 * W3C Trace Context and OpenTelemetry spans on the wire (doc/operations.md,
 * "Tracing"): traceparent and tracestate read and written, and spans
 * written as OTLP protobuf (opentelemetry.proto.trace.v1.Span), by hand
 * from the protos' field numbers, as authzpb.c writes Envoy's messages.
 * Pure: no I/O, no clock, no allocation.
 */
#ifndef SL_TRACE_H
#define SL_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* traceparent's text: "00-" 32 hex "-" 16 hex "-" 2 hex */
#define SL_TRACEPARENT_LEN 55
/* tracestate's longest forwarded value (W3C: 512 at least must be kept;
 * a longer one may be dropped whole) */
#define SL_TRACESTATE_MAX 512

/* A caller's trace context, from its traceparent. */
struct sl_tracectx {
	uint8_t trace_id[16];
	uint8_t parent_id[8];
	uint8_t flags; /* bit 0: sampled */
};

/*
 * Reads a traceparent value of n bytes (OWS trimmed by the caller): 1 with
 * ctx set, 0 when it is malformed: not version 00's exact form (a later
 * version's first 55 bytes, followed by '-' or the end), not lower-case
 * hex, version ff, or an id of zeros.
 */
int sl_trace_parse_parent(const char *v, size_t n, struct sl_tracectx *ctx);

/*
 * 1 when a tracestate value of n bytes may be forwarded: at most
 * SL_TRACESTATE_MAX bytes and 32 list members, each key=value of W3C's
 * grammar (empty members between commas allowed), no key twice; else 0.
 */
int sl_trace_state_ok(const char *v, size_t n);

/* n bytes at b as 2n lower-case hex characters at out (no NUL). */
void sl_trace_hex(const uint8_t *b, size_t n, char *out);

/* traceparent's value for trace, span and flags: SL_TRACEPARENT_LEN
 * characters at out (no NUL). */
void sl_trace_format_parent(const uint8_t trace_id[16],
			    const uint8_t span_id[8], uint8_t flags, char *out);

/* ---- OTLP spans ---------------------------------------------------------
 */

enum sl_span_kind {
	SL_SPAN_SERVER = 2,
	SL_SPAN_CLIENT = 3,
};

enum sl_attr_type {
	SL_ATTR_STR = 0,
	SL_ATTR_INT,
	SL_ATTR_BOOL,
};

/* An attribute: key, and its value by type (a string of len bytes). */
struct sl_span_attr {
	const char *key;
	uint8_t type; /* enum sl_attr_type */
	const char *str;
	size_t len;
	int64_t i;
};

/* An event: its time, its name, and one integer attribute (key NULL:
 * none). */
struct sl_span_event {
	uint64_t time_ns;
	const char *name;
	const char *key;
	int64_t value;
};

/* A span, for sl_trace_put_span. */
struct sl_span {
	const uint8_t *trace_id;  /* 16 bytes */
	const uint8_t *span_id;	  /* 8 bytes */
	const uint8_t *parent_id; /* 8 bytes, NULL: a root */
	const char *trace_state;  /* W3C tracestate, trace_state_len bytes */
	size_t trace_state_len;	  /* 0: none */
	const char *name;
	size_t name_len;
	uint8_t kind;  /* enum sl_span_kind */
	uint8_t error; /* status ERROR; else UNSET */
	uint64_t start_ns, end_ns;
	const struct sl_span_attr *attrs;
	size_t nattrs;
	const struct sl_span_event *events;
	size_t nevents;
};

/*
 * Writes sp at p, as ScopeSpans' field "spans" (its tag, its length, the
 * Span), in at most cap bytes. Returns the bytes written, 0 when they do
 * not fit: the span's length takes 3 bytes while it is written, so it may
 * need up to 2 bytes more room than it keeps. Nothing is written past
 * cap. Strings are written as they are: the caller masks them.
 */
size_t sl_trace_put_span(uint8_t *p, size_t cap, const struct sl_span *sp);

/*
 * The same, field by field, without an array of attributes: what a
 * traced request's end uses (exchange_trace.c). A writer that runs out of
 * room stops writing (p passes end) and sl_span_close says so.
 */
struct sl_pbw {
	uint8_t *p, *end;
	uint8_t *mark; /* the span's tag */
};

/* Begins a span at w: everything of sp but its attributes, events and
 * status (sp's attrs and events are not read). */
void sl_span_open(struct sl_pbw *w, const struct sl_span *sp);

/* An attribute: key of klen bytes, and a string, integer or boolean. */
void sl_span_str(struct sl_pbw *w, const char *key, size_t klen, const char *v,
		 size_t n);
void sl_span_int(struct sl_pbw *w, const char *key, size_t klen, int64_t v);
void sl_span_bool(struct sl_pbw *w, const char *key, size_t klen, int v);

/* An event (after the attributes): its time, name, and one integer
 * attribute (key NULL: none). */
void sl_span_event(struct sl_pbw *w, const struct sl_span_event *e);

/* Ends the span (status ERROR when error): its bytes from the tag, 0 when
 * it did not fit. */
size_t sl_span_close(struct sl_pbw *w, int error);

/* A key's bytes for sl_span_str and the others: a string literal. */
#define SL_KEY(s) s, sizeof(s) - 1

/* The bytes an ExportTraceServiceRequest takes before its spans, for
 * spans_len bytes of sl_trace_put_span's output and the resource's
 * attributes rattrs[0..nr) (strings). */
size_t sl_trace_request_prefix_len(const struct sl_span_attr *rattrs, size_t nr,
				   const char *scope, const char *version,
				   size_t spans_len);

/*
 * Writes that prefix at p (sl_trace_request_prefix_len bytes: it fits);
 * the spans follow it to make an ExportTraceServiceRequest of one
 * ResourceSpans with one ScopeSpans (the scope's name and version).
 * Returns the bytes written.
 */
size_t sl_trace_request_prefix(uint8_t *p, const struct sl_span_attr *rattrs,
			       size_t nr, const char *scope,
			       const char *version, size_t spans_len);

/*
 * The spans an ExportTraceServiceResponse of len bytes says the collector
 * rejected (partial_success.rejected_spans): >= 0, or -1 when it is no
 * such message. An empty body is a response with none.
 */
int64_t sl_trace_response_rejected(const uint8_t *p, size_t len);

/*
 * How many whole span entries (sl_trace_put_span's output, one after
 * another in p[0..len)) make up at most max spans: their bytes in
 * *bytes. Returns the count.
 */
size_t sl_trace_spans_take(const uint8_t *p, size_t len, size_t max,
			   size_t *bytes);

#endif
