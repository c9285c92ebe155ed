/* SPDX-License-Identifier: MIT */
/*
 * W3C Trace Context and OTLP spans by hand (trace.h). The field numbers
 * below are opentelemetry-proto's (trace/v1/trace.proto,
 * common/v1/common.proto, collector/trace/v1/trace_service.proto); the
 * wire format is protobuf's: a tag (field << 3 | wire type) as a varint,
 * then a varint (type 0), 8 bytes (1), a length and that many bytes (2:
 * strings and messages) or 4 bytes (5).
 */
#include "trace.h"

#include <string.h>

/* ExportTraceServiceRequest, ResourceSpans, Resource, ScopeSpans,
 * InstrumentationScope */
#define F_REQ_RESOURCE_SPANS 1
#define F_RS_RESOURCE	     1
#define F_RS_SCOPE_SPANS     2
#define F_RES_ATTRIBUTES     1
#define F_SS_SCOPE	     1
#define F_SS_SPANS	     2
#define F_SCOPE_NAME	     1
#define F_SCOPE_VERSION	     2
/* Span */
#define F_SPAN_TRACE_ID	   1
#define F_SPAN_SPAN_ID	   2
#define F_SPAN_TRACE_STATE 3
#define F_SPAN_PARENT_ID   4
#define F_SPAN_NAME	   5
#define F_SPAN_KIND	   6
#define F_SPAN_START	   7
#define F_SPAN_END	   8
#define F_SPAN_ATTRIBUTES  9
#define F_SPAN_EVENTS	   11
#define F_SPAN_STATUS	   15
/* Span.Event, Status */
#define F_EVENT_TIME	   1
#define F_EVENT_NAME	   2
#define F_EVENT_ATTRIBUTES 3
#define F_STATUS_CODE	   3
#define STATUS_ERROR	   2
/* KeyValue, AnyValue */
#define F_KV_KEY     1
#define F_KV_VALUE   2
#define F_ANY_STRING 1
#define F_ANY_BOOL   2
#define F_ANY_INT    3
/* ExportTraceServiceResponse, ExportTracePartialSuccess */
#define F_RESP_PARTIAL	 1
#define F_PARTIAL_REJECT 1

#define WT_VARINT 0
#define WT_I64	  1
#define WT_LEN	  2
#define WT_I32	  5

#define TAG(f, wt) ((uint8_t)(((f) << 3) | (wt)))

/* ---- Trace Context ------------------------------------------------------ */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n bytes from 2n lower-case hex characters; 0 when one is not, or all
 * the bytes are zero. */
static int
unhex(const char *s, size_t n, uint8_t *out)
{
	uint8_t any = 0;

	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (uint8_t)(hi << 4 | lo);
		any |= out[i];
	}
	return any != 0;
}

int
sl_trace_parse_parent(const char *v, size_t n, struct sl_tracectx *ctx)
{
	uint8_t ver, fl;

	if (n < SL_TRACEPARENT_LEN || v[2] != '-' || v[35] != '-' ||
	    v[52] != '-')
		return 0;
	if (hexval(v[0]) < 0 || hexval(v[1]) < 0)
		return 0;
	ver = (uint8_t)(hexval(v[0]) << 4 | hexval(v[1]));
	/* version 00 is exactly its 55 bytes; a later one may append
	 * fields after a '-', which a reader of 00 ignores; ff is
	 * invalid */
	if (ver == 0xff || (ver == 0 && n != SL_TRACEPARENT_LEN) ||
	    (n > SL_TRACEPARENT_LEN && v[SL_TRACEPARENT_LEN] != '-'))
		return 0;
	if (!unhex(v + 3, 16, ctx->trace_id) ||
	    !unhex(v + 36, 8, ctx->parent_id))
		return 0;
	if (hexval(v[53]) < 0 || hexval(v[54]) < 0)
		return 0;
	fl = (uint8_t)(hexval(v[53]) << 4 | hexval(v[54]));
	ctx->flags = fl;
	return 1;
}

static int
key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-' || c == '*' || c == '/';
}

/* A list member's key: simple-key, or tenant-id "@" system-id. */
static int
state_key_ok(const char *k, size_t n)
{
	size_t at = n;

	if (n == 0 || n > 256)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (k[i] == '@') {
			if (at != n)
				return 0;
			at = i;
			continue;
		}
		if (!key_char(k[i]) || (k[i] >= 'A' && k[i] <= 'Z'))
			return 0;
	}
	if (at == n) /* simple-key: lcalpha first */
		return k[0] >= 'a' && k[0] <= 'z';
	/* tenant-id: up to 241 of (lcalpha / DIGIT) first; system-id: up
	 * to 14, lcalpha first */
	if (at == 0 || at > 241 || n - at - 1 == 0 || n - at - 1 > 14)
		return 0;
	return ((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')) &&
	       k[at + 1] >= 'a' && k[at + 1] <= 'z';
}

/* value: 1 to 256 of chr (0x20..0x7e but ',' and '='), the last not a
 * space */
static int
state_value_ok(const char *v, size_t n)
{
	if (n == 0 || n > 256 || v[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return 0;
	return 1;
}

int
sl_trace_state_ok(const char *v, size_t n)
{
	const char *keys[32];
	size_t klens[32], nm = 0, i = 0;

	if (n > SL_TRACESTATE_MAX)
		return 0;
	while (i <= n) {
		size_t b = i, e, eq;
		while (i < n && v[i] != ',')
			i++;
		e = i++;
		/* OWS around a member */
		while (b < e && (v[b] == ' ' || v[b] == '\t'))
			b++;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (b == e)
			continue; /* an empty member */
		for (eq = b; eq < e && v[eq] != '='; eq++)
			;
		if (eq == e || !state_key_ok(v + b, eq - b) ||
		    !state_value_ok(v + eq + 1, e - eq - 1) || nm == 32)
			return 0;
		for (size_t j = 0; j < nm; j++)
			if (klens[j] == eq - b &&
			    memcmp(keys[j], v + b, eq - b) == 0)
				return 0;
		keys[nm] = v + b;
		klens[nm++] = eq - b;
	}
	return 1;
}

/* Each byte's two hex characters. */
#define HX4(h)                                                                 \
	h "0" h "1" h "2" h "3" h "4" h "5" h "6" h "7" h "8" h "9" h "a" h    \
	  "b" h "c" h "d" h "e" h "f"
static const char hex2[] =
    HX4("0") HX4("1") HX4("2") HX4("3") HX4("4") HX4("5") HX4("6") HX4("7")
	HX4("8") HX4("9") HX4("a") HX4("b") HX4("c") HX4("d") HX4("e") HX4("f");

void
sl_trace_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		memcpy(out + 2 * i, hex2 + 2 * b[i], 2);
}

void
sl_trace_format_parent(const uint8_t trace_id[16], const uint8_t span_id[8],
		       uint8_t flags, char *out)
{
	out[0] = out[1] = '0';
	out[2] = out[35] = out[52] = '-';
	sl_trace_hex(trace_id, 16, out + 3);
	sl_trace_hex(span_id, 8, out + 36);
	sl_trace_hex(&flags, 1, out + 53);
}

/* ---- protobuf ----------------------------------------------------------- */

static inline size_t
vlen(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* The writer stops writing once its room is gone (w->p > w->end then), so
 * that a caller tests once at the end. */
static inline int
room(struct sl_pbw *w, size_t n)
{
	if (w->p > w->end || n > (size_t)(w->end - w->p)) {
		w->p = w->end + 1;
		return 0;
	}
	return 1;
}

static inline void
put_varint(struct sl_pbw *w, uint64_t v)
{
	if (!room(w, vlen(v)))
		return;
	while (v >= 0x80) {
		*w->p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*w->p++ = (uint8_t)v;
}

static inline void
put_raw(struct sl_pbw *w, const void *s, size_t n)
{
	if (!room(w, n))
		return;
	memcpy(w->p, s, n);
	w->p += n;
}

static inline void
put_tag(struct sl_pbw *w, unsigned f, unsigned wt)
{
	if (room(w, 1))
		*w->p++ = TAG(f, wt);
}

static inline void
put_bytes(struct sl_pbw *w, unsigned f, const void *s, size_t n)
{
	put_tag(w, f, WT_LEN);
	put_varint(w, n);
	put_raw(w, s, n);
}

static inline void
put_fixed64(struct sl_pbw *w, unsigned f, uint64_t v)
{
	uint8_t b[9];

	b[0] = TAG(f, WT_I64);
	for (int i = 0; i < 8; i++)
		b[i + 1] = (uint8_t)(v >> (8 * i));
	put_raw(w, b, 9);
}

/* A KeyValue of field f whose AnyValue holds al bytes, written by the
 * caller after this. */
static inline void
put_kv_head(struct sl_pbw *w, unsigned f, const char *key, size_t klen,
	    size_t al)
{
	put_tag(w, f, WT_LEN);
	put_varint(w, 1 + vlen(klen) + klen + 1 + vlen(al) + al);
	put_bytes(w, F_KV_KEY, key, klen);
	put_tag(w, F_KV_VALUE, WT_LEN);
	put_varint(w, al);
}

/*
 * Most attributes are a short key and a short value: every length of
 * theirs is one byte, and the KeyValue is written straight, its lengths
 * known without a varint's loop (what a traced request's end spends its
 * time on). The general way for the rest.
 */
#define KV_SHORT 100 /* key + value bytes for one-byte lengths */

static void
kv_str(struct sl_pbw *w, unsigned f, const char *key, size_t klen,
       const char *v, size_t n)
{
	uint8_t *p = w->p;

	if (klen + n < KV_SHORT && w->p <= w->end &&
	    (size_t)(w->end - w->p) >= klen + n + 8) {
		p[0] = TAG(f, WT_LEN);
		p[1] = (uint8_t)(klen + n + 6);
		p[2] = TAG(F_KV_KEY, WT_LEN);
		p[3] = (uint8_t)klen;
		memcpy(p + 4, key, klen);
		p += 4 + klen;
		p[0] = TAG(F_KV_VALUE, WT_LEN);
		p[1] = (uint8_t)(n + 2);
		p[2] = TAG(F_ANY_STRING, WT_LEN);
		p[3] = (uint8_t)n;
		memcpy(p + 4, v, n);
		w->p = p + 4 + n;
		return;
	}
	put_kv_head(w, f, key, klen, 1 + vlen(n) + n);
	put_bytes(w, F_ANY_STRING, v, n);
}

static void
kv_int(struct sl_pbw *w, unsigned f, const char *key, size_t klen, int64_t v)
{
	uint8_t *p = w->p;
	uint64_t u = (uint64_t)v;

	if (klen < KV_SHORT && w->p <= w->end &&
	    (size_t)(w->end - w->p) >= klen + 17) {
		size_t k = 0;
		uint8_t b[10];
		while (u >= 0x80) {
			b[k++] = (uint8_t)(u | 0x80);
			u >>= 7;
		}
		b[k++] = (uint8_t)u;
		p[0] = TAG(f, WT_LEN);
		p[1] = (uint8_t)(klen + k + 5);
		p[2] = TAG(F_KV_KEY, WT_LEN);
		p[3] = (uint8_t)klen;
		memcpy(p + 4, key, klen);
		p += 4 + klen;
		p[0] = TAG(F_KV_VALUE, WT_LEN);
		p[1] = (uint8_t)(k + 1);
		p[2] = TAG(F_ANY_INT, WT_VARINT);
		memcpy(p + 3, b, k);
		w->p = p + 3 + k;
		return;
	}
	put_kv_head(w, f, key, klen, 1 + vlen(u));
	put_tag(w, F_ANY_INT, WT_VARINT);
	put_varint(w, u);
}

static void
kv_bool(struct sl_pbw *w, unsigned f, const char *key, size_t klen, int v)
{
	put_kv_head(w, f, key, klen, 2);
	put_tag(w, F_ANY_BOOL, WT_VARINT);
	put_varint(w, v != 0);
}

static void
put_attr(struct sl_pbw *w, unsigned f, const struct sl_span_attr *a)
{
	size_t kl = strlen(a->key);

	switch (a->type) {
	case SL_ATTR_INT:
		kv_int(w, f, a->key, kl, a->i);
		break;
	case SL_ATTR_BOOL:
		kv_bool(w, f, a->key, kl, a->i != 0);
		break;
	default:
		kv_str(w, f, a->key, kl, a->str, a->len);
	}
}

/* A span's length is kept in 3 bytes at first (2 MiB: more than any
 * span's room), and moved down to its varint's own size at the end. */
#define SPAN_LEN_ROOM 3

void
sl_span_open(struct sl_pbw *w, const struct sl_span *sp)
{
	w->mark = w->p;
	put_tag(w, F_SS_SPANS, WT_LEN);
	if (room(w, SPAN_LEN_ROOM))
		w->p += SPAN_LEN_ROOM;
	put_bytes(w, F_SPAN_TRACE_ID, sp->trace_id, 16);
	put_bytes(w, F_SPAN_SPAN_ID, sp->span_id, 8);
	if (sp->trace_state_len > 0)
		put_bytes(w, F_SPAN_TRACE_STATE, sp->trace_state,
			  sp->trace_state_len);
	if (sp->parent_id != NULL)
		put_bytes(w, F_SPAN_PARENT_ID, sp->parent_id, 8);
	put_bytes(w, F_SPAN_NAME, sp->name, sp->name_len);
	put_tag(w, F_SPAN_KIND, WT_VARINT);
	put_varint(w, sp->kind);
	put_fixed64(w, F_SPAN_START, sp->start_ns);
	put_fixed64(w, F_SPAN_END, sp->end_ns);
}

void
sl_span_str(struct sl_pbw *w, const char *key, size_t klen, const char *v,
	    size_t n)
{
	kv_str(w, F_SPAN_ATTRIBUTES, key, klen, v, n);
}

void
sl_span_int(struct sl_pbw *w, const char *key, size_t klen, int64_t v)
{
	kv_int(w, F_SPAN_ATTRIBUTES, key, klen, v);
}

void
sl_span_bool(struct sl_pbw *w, const char *key, size_t klen, int v)
{
	kv_bool(w, F_SPAN_ATTRIBUTES, key, klen, v);
}

void
sl_span_event(struct sl_pbw *w, const struct sl_span_event *e)
{
	size_t nl = strlen(e->name), n = 9 + 1 + vlen(nl) + nl, kl = 0, k = 0;

	if (e->key != NULL) {
		kl = strlen(e->key);
		k = 1 + vlen(kl) + kl + 1 + 1 + 1 + vlen((uint64_t)e->value);
		n += 1 + vlen(k) + k;
	}
	put_tag(w, F_SPAN_EVENTS, WT_LEN);
	put_varint(w, n);
	put_fixed64(w, F_EVENT_TIME, e->time_ns);
	put_bytes(w, F_EVENT_NAME, e->name, nl);
	if (e->key != NULL)
		kv_int(w, F_EVENT_ATTRIBUTES, e->key, kl, e->value);
}

size_t
sl_span_close(struct sl_pbw *w, int error)
{
	uint8_t *body = w->mark + 1 + SPAN_LEN_ROOM;
	size_t len, k;

	if (error) {
		/* Status { code: STATUS_CODE_ERROR } */
		static const uint8_t st[] = {TAG(F_SPAN_STATUS, WT_LEN), 2,
					     TAG(F_STATUS_CODE, WT_VARINT),
					     STATUS_ERROR};
		put_raw(w, st, sizeof(st));
	}
	if (w->p > w->end)
		return 0;
	len = (size_t)(w->p - body);
	k = vlen(len);
	if (k > SPAN_LEN_ROOM)
		return 0;
	if (k < SPAN_LEN_ROOM)
		memmove(w->mark + 1 + k, body, len);
	{
		struct sl_pbw lw = {w->mark + 1, w->mark + 1 + k, NULL};
		put_varint(&lw, len);
	}
	w->p = w->mark + 1 + k + len;
	return (size_t)(w->p - w->mark);
}

size_t
sl_trace_put_span(uint8_t *p, size_t cap, const struct sl_span *sp)
{
	struct sl_pbw w = {p, p + cap, NULL};

	sl_span_open(&w, sp);
	for (size_t i = 0; i < sp->nattrs; i++)
		put_attr(&w, F_SPAN_ATTRIBUTES, &sp->attrs[i]);
	for (size_t i = 0; i < sp->nevents; i++)
		sl_span_event(&w, &sp->events[i]);
	return sl_span_close(&w, sp->error);
}

/* The length of a KeyValue of a (for the envelope). */
static size_t
kv_len(const struct sl_span_attr *a)
{
	size_t kl = strlen(a->key), al;

	switch (a->type) {
	case SL_ATTR_INT:
		al = 1 + vlen((uint64_t)a->i);
		break;
	case SL_ATTR_BOOL:
		al = 2;
		break;
	default:
		al = 1 + vlen(a->len) + a->len;
	}
	return 1 + vlen(kl) + kl + 1 + vlen(al) + al;
}

/* The lengths of the envelope's messages, innermost first. */
struct env_lens {
	size_t res, scope, ss, rs;
};

static void
env_lens(const struct sl_span_attr *rattrs, size_t nr, const char *scope,
	 const char *version, size_t spans_len, struct env_lens *l)
{
	size_t sl = strlen(scope), vl = strlen(version);

	l->res = 0;
	for (size_t i = 0; i < nr; i++) {
		size_t k = kv_len(&rattrs[i]);
		l->res += 1 + vlen(k) + k;
	}
	l->scope = 1 + vlen(sl) + sl + 1 + vlen(vl) + vl;
	l->ss = 1 + vlen(l->scope) + l->scope + spans_len;
	l->rs = 1 + vlen(l->res) + l->res + 1 + vlen(l->ss) + l->ss;
}

size_t
sl_trace_request_prefix_len(const struct sl_span_attr *rattrs, size_t nr,
			    const char *scope, const char *version,
			    size_t spans_len)
{
	struct env_lens l;

	env_lens(rattrs, nr, scope, version, spans_len, &l);
	return 1 + vlen(l.rs) + l.rs - spans_len;
}

size_t
sl_trace_request_prefix(uint8_t *p, const struct sl_span_attr *rattrs,
			size_t nr, const char *scope, const char *version,
			size_t spans_len)
{
	struct env_lens l;
	struct sl_pbw w = {p,
			   p + sl_trace_request_prefix_len(rattrs, nr, scope,
							   version, spans_len),
			   NULL};

	env_lens(rattrs, nr, scope, version, spans_len, &l);
	put_tag(&w, F_REQ_RESOURCE_SPANS, WT_LEN);
	put_varint(&w, l.rs);
	put_tag(&w, F_RS_RESOURCE, WT_LEN);
	put_varint(&w, l.res);
	for (size_t i = 0; i < nr; i++)
		put_attr(&w, F_RES_ATTRIBUTES, &rattrs[i]);
	put_tag(&w, F_RS_SCOPE_SPANS, WT_LEN);
	put_varint(&w, l.ss);
	put_tag(&w, F_SS_SCOPE, WT_LEN);
	put_varint(&w, l.scope);
	put_bytes(&w, F_SCOPE_NAME, scope, strlen(scope));
	put_bytes(&w, F_SCOPE_VERSION, version, strlen(version));
	return (size_t)(w.p - p);
}

/* ---- reading ------------------------------------------------------------ */

static int
get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned s = 0; s < 64 && *p < end; s += 7) {
		uint8_t b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* Skips a field of wire type wt. */
static int
skip_field(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t n;

	switch (wt) {
	case WT_VARINT:
		return get_varint(p, end, &n);
	case WT_I64:
		n = 8;
		break;
	case WT_I32:
		n = 4;
		break;
	case WT_LEN:
		if (get_varint(p, end, &n) == -1)
			return -1;
		break;
	default:
		return -1;
	}
	if (n > (uint64_t)(end - *p))
		return -1;
	*p += n;
	return 0;
}

int64_t
sl_trace_response_rejected(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	int64_t rejected = 0;

	while (p < end) {
		uint64_t tag, n;
		if (get_varint(&p, end, &tag) == -1)
			return -1;
		if (tag >> 3 == F_RESP_PARTIAL && (tag & 7) == WT_LEN) {
			const uint8_t *m, *mend;
			if (get_varint(&p, end, &n) == -1 ||
			    n > (uint64_t)(end - p))
				return -1;
			m = p;
			mend = p + n;
			p = mend;
			while (m < mend) {
				uint64_t t2, v;
				if (get_varint(&m, mend, &t2) == -1)
					return -1;
				if (t2 >> 3 == F_PARTIAL_REJECT &&
				    (t2 & 7) == WT_VARINT) {
					if (get_varint(&m, mend, &v) == -1)
						return -1;
					rejected =
					    (int64_t)v < 0 ? 0 : (int64_t)v;
				} else if (skip_field(&m, mend,
						      (unsigned)(t2 & 7)) == -1)
					return -1;
			}
		} else if (skip_field(&p, end, (unsigned)(tag & 7)) == -1)
			return -1;
	}
	return rejected;
}

size_t
sl_trace_spans_take(const uint8_t *p, size_t len, size_t max, size_t *bytes)
{
	const uint8_t *q = p, *end = p + len;
	size_t n = 0;

	while (n < max && q < end) {
		const uint8_t *r = q + 1;
		uint64_t l;
		if (*q != TAG(F_SS_SPANS, WT_LEN) ||
		    get_varint(&r, end, &l) == -1 || l > (uint64_t)(end - r))
			break;
		q = r + l;
		n++;
	}
	*bytes = (size_t)(q - p);
	return n;
}
