/* SPDX-License-Identifier: MIT */
/*
 * Envoy's CheckRequest and CheckResponse by hand (authzpb.h). The field
 * numbers below are the protos'; the wire format is protobuf's: a tag
 * (field << 3 | wire type) as a varint, then a varint (type 0), 8 bytes
 * (1), a length and that many bytes (2: strings and messages) or 4 bytes
 * (5).
 */
#include "authzpb.h"

#include <string.h>

/* CheckRequest */
#define F_CHECK_ATTRIBUTES 1
/* AttributeContext */
#define F_ATTR_SOURCE	   1
#define F_ATTR_DESTINATION 2
#define F_ATTR_REQUEST	   4
/* AttributeContext.Peer */
#define F_PEER_ADDRESS	 1
#define F_PEER_PRINCIPAL 4
/* config.core.v3.Address, SocketAddress */
#define F_ADDRESS_SOCKET 1
#define F_SOCKET_ADDRESS 2
#define F_SOCKET_PORT	 3
/* AttributeContext.Request */
#define F_REQUEST_TIME 1
#define F_REQUEST_HTTP 2
/* google.protobuf.Timestamp */
#define F_TS_SECONDS 1
#define F_TS_NANOS   2
/* AttributeContext.HttpRequest */
#define F_HTTP_ID	1
#define F_HTTP_METHOD	2
#define F_HTTP_HEADERS	3
#define F_HTTP_PATH	4
#define F_HTTP_HOST	5
#define F_HTTP_SCHEME	6
#define F_HTTP_SIZE	9
#define F_HTTP_PROTOCOL 10
#define F_HTTP_RAW_BODY 12
/* a map entry */
#define F_MAP_KEY   1
#define F_MAP_VALUE 2
/* CheckResponse */
#define F_RESP_STATUS 1
#define F_RESP_DENIED 2
#define F_RESP_OK     3
/* google.rpc.Status */
#define F_STATUS_CODE 1
/* DeniedHttpResponse */
#define F_DENIED_STATUS	 1
#define F_DENIED_HEADERS 2
#define F_DENIED_BODY	 3
/* type.v3.HttpStatus */
#define F_HTTPSTATUS_CODE 1
/* OkHttpResponse */
#define F_OK_HEADERS 2
#define F_OK_REMOVE  5
/* config.core.v3.HeaderValueOption, HeaderValue, BoolValue */
#define F_HVO_HEADER   1
#define F_HVO_APPEND   2
#define F_HV_KEY       1
#define F_HV_VALUE     2
#define F_HV_RAW_VALUE 3
#define F_BOOL_VALUE   1

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

#define NEST_MAX 6 /* the deepest a request nests */

struct w {
	uint8_t *p;
	size_t len, cap;
	int overflow;
	size_t open[NEST_MAX]; /* where each open message's length goes */
	int depth;
};

static void
put_varint(struct w *w, uint64_t v)
{
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		if (v)
			b |= 0x80;
		if (w->len >= w->cap) {
			w->overflow = 1;
			return;
		}
		w->p[w->len++] = b;
	} while (v);
}

static void
put_tag(struct w *w, int field, int type)
{
	put_varint(w, (uint64_t)field << 3 | (uint64_t)type);
}

static void
put_bytes(struct w *w, int field, const char *s, size_t n)
{
	put_tag(w, field, WT_LEN);
	put_varint(w, n);
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = 1;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

/* A string field; an empty one is left out, as proto3 writes it. */
static void
put_str(struct w *w, int field, struct sl_authzpb_str s)
{
	if (s.len > 0)
		put_bytes(w, field, s.p, s.len);
}

static void
put_uint(struct w *w, int field, uint64_t v)
{
	if (v != 0) {
		put_tag(w, field, WT_VARINT);
		put_varint(w, v);
	}
}

/* Opens a message field: its length is written when it closes, in the
 * three bytes kept for it (messages stay under 2 MiB) and moved down
 * when it needs fewer. */
static void
open_msg(struct w *w, int field)
{
	put_tag(w, field, WT_LEN);
	if (w->depth >= NEST_MAX || w->cap - w->len < 3) {
		w->overflow = 1;
		return;
	}
	w->open[w->depth++] = w->len;
	w->len += 3;
}

static void
close_msg(struct w *w)
{
	size_t at, n, k = 0;
	uint8_t v[3];

	if (w->overflow || w->depth == 0)
		return;
	at = w->open[--w->depth];
	n = w->len - at - 3;
	if (n >= (1u << 21)) {
		w->overflow = 1;
		return;
	}
	do {
		v[k] = n & 0x7f;
		n >>= 7;
		if (n)
			v[k] |= 0x80;
		k++;
	} while (n);
	memcpy(w->p + at, v, k);
	if (k < 3) {
		memmove(w->p + at + k, w->p + at + 3, w->len - at - 3);
		w->len -= 3 - k;
	}
}

static void
put_peer(struct w *w, int field, struct sl_authzpb_str addr, uint32_t port,
	 struct sl_authzpb_str principal)
{
	if (addr.len == 0 && principal.len == 0)
		return;
	open_msg(w, field);
	if (addr.len > 0) {
		open_msg(w, F_PEER_ADDRESS);
		open_msg(w, F_ADDRESS_SOCKET);
		put_str(w, F_SOCKET_ADDRESS, addr);
		put_uint(w, F_SOCKET_PORT, port);
		close_msg(w);
		close_msg(w);
	}
	put_str(w, F_PEER_PRINCIPAL, principal);
	close_msg(w);
}

long
sl_authzpb_check_request(uint8_t *out, size_t cap,
			 const struct sl_authzpb_req *r)
{
	struct w w = {.p = out, .cap = cap};
	size_t n;

	if (cap < 5)
		return -1;
	w.len = 5; /* the gRPC prefix, filled last */
	open_msg(&w, F_CHECK_ATTRIBUTES);
	put_peer(&w, F_ATTR_SOURCE, r->src_addr, r->src_port, r->principal);
	put_peer(&w, F_ATTR_DESTINATION, r->dst_addr, r->dst_port,
		 (struct sl_authzpb_str){NULL, 0});
	open_msg(&w, F_ATTR_REQUEST);
	if (r->time_s > 0) {
		open_msg(&w, F_REQUEST_TIME);
		put_uint(&w, F_TS_SECONDS, (uint64_t)r->time_s);
		put_uint(&w, F_TS_NANOS, (uint64_t)r->time_ns);
		close_msg(&w);
	}
	open_msg(&w, F_REQUEST_HTTP);
	put_str(&w, F_HTTP_ID, r->id);
	put_str(&w, F_HTTP_METHOD, r->method);
	for (size_t i = 0; i < r->nheaders; i++) {
		open_msg(&w, F_HTTP_HEADERS);
		put_bytes(&w, F_MAP_KEY, r->headers[i].name.p,
			  r->headers[i].name.len);
		put_bytes(&w, F_MAP_VALUE, r->headers[i].value.p,
			  r->headers[i].value.len);
		close_msg(&w);
	}
	put_str(&w, F_HTTP_PATH, r->path);
	put_str(&w, F_HTTP_HOST, r->host);
	put_str(&w, F_HTTP_SCHEME, r->scheme);
	/* int64 -1 is ten bytes of varint, as protobuf writes it */
	if (r->size != 0) {
		put_tag(&w, F_HTTP_SIZE, WT_VARINT);
		put_varint(&w, (uint64_t)r->size);
	}
	put_str(&w, F_HTTP_PROTOCOL, r->protocol);
	put_str(&w, F_HTTP_RAW_BODY, r->body);
	close_msg(&w); /* HttpRequest */
	close_msg(&w); /* Request */
	close_msg(&w); /* AttributeContext */
	if (w.overflow)
		return -1;
	n = w.len - 5;
	out[0] = 0;
	out[1] = (uint8_t)(n >> 24);
	out[2] = (uint8_t)(n >> 16);
	out[3] = (uint8_t)(n >> 8);
	out[4] = (uint8_t)n;
	return (long)w.len;
}

/* ---- reading ----------------------------------------------------------*/

struct r {
	const uint8_t *p, *end;
};

static int
get_varint(struct r *r, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		uint8_t b = *r->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1; /* more than ten bytes */
}

/* The next field: its number, its type, and for a length-delimited one
 * its bytes (sub). Returns 1, 0 at the end, -1 when malformed. */
static int
next_field(struct r *r, int *field, int *type, uint64_t *v, struct r *sub)
{
	uint64_t tag, n;

	if (r->p == r->end)
		return 0;
	if (get_varint(r, &tag) == -1 || (tag >> 3) == 0 ||
	    (tag >> 3) > 536870911u)
		return -1;
	*field = (int)(tag >> 3);
	*type = (int)(tag & 7);
	switch (*type) {
	case WT_VARINT:
		return get_varint(r, v) == -1 ? -1 : 1;
	case WT_I64:
		if (r->end - r->p < 8)
			return -1;
		r->p += 8;
		return 1;
	case WT_I32:
		if (r->end - r->p < 4)
			return -1;
		r->p += 4;
		return 1;
	case WT_LEN:
		if (get_varint(r, &n) == -1 || n > (uint64_t)(r->end - r->p))
			return -1;
		sub->p = r->p;
		sub->end = r->p + n;
		r->p += n;
		return 1;
	default:
		return -1; /* groups: no message of these has one */
	}
}

/* A field's value as the message expects: a length-delimited one for a
 * string or a message, a varint for a number. */
#define WANT(t, w)                                                             \
	do {                                                                   \
		if ((t) != (w))                                                \
			return -1;                                             \
	} while (0)

static int
read_bool_value(struct r m, int *out)
{
	struct r sub;
	uint64_t v = 0;
	int f, t, k;

	*out = 0;
	while ((k = next_field(&m, &f, &t, &v, &sub)) == 1)
		if (f == F_BOOL_VALUE) {
			WANT(t, WT_VARINT);
			*out = v != 0;
		}
	return k;
}

/* A HeaderValueOption into out's next field. */
static int
read_hvo(struct r m, struct sl_authzpb_resp *out)
{
	struct r sub, hv;
	struct sl_authzpb_field fl = {{"", 0}, {"", 0}};
	struct sl_authzpb_str raw = {"", 0};
	uint64_t v;
	int f, t, k, append = 0, have = 0;

	while ((k = next_field(&m, &f, &t, &v, &sub)) == 1) {
		if (f == F_HVO_HEADER) {
			WANT(t, WT_LEN);
			have = 1;
			while ((k = next_field(&sub, &f, &t, &v, &hv)) == 1) {
				if (f != F_HV_KEY && f != F_HV_VALUE &&
				    f != F_HV_RAW_VALUE)
					continue;
				WANT(t, WT_LEN);
				struct sl_authzpb_str s = {
				    (const char *)hv.p,
				    (size_t)(hv.end - hv.p)};
				if (f == F_HV_KEY)
					fl.name = s;
				else if (f == F_HV_VALUE)
					fl.value = s;
				else
					raw = s;
			}
			if (k == -1)
				return -1;
		} else if (f == F_HVO_APPEND) {
			WANT(t, WT_LEN);
			if (read_bool_value(sub, &append) == -1)
				return -1;
		}
	}
	if (k == -1)
		return -1;
	if (!have || fl.name.len == 0)
		return 0; /* nothing to set */
	if (fl.value.len == 0)
		fl.value = raw;
	if (out->nfields >= SL_AUTHZPB_FIELDS_MAX)
		return -1;
	out->append[out->nfields] = (uint8_t)append;
	out->fields[out->nfields++] = fl;
	return 0;
}

static int
read_denied(struct r m, struct sl_authzpb_resp *out)
{
	struct r sub, st;
	uint64_t v;
	int f, t, k, k2;

	while ((k = next_field(&m, &f, &t, &v, &sub)) == 1) {
		switch (f) {
		case F_DENIED_STATUS:
			WANT(t, WT_LEN);
			while ((k2 = next_field(&sub, &f, &t, &v, &st)) == 1)
				if (f == F_HTTPSTATUS_CODE) {
					WANT(t, WT_VARINT);
					out->http_status = (int32_t)v;
				}
			if (k2 == -1)
				return -1;
			break;
		case F_DENIED_HEADERS:
			WANT(t, WT_LEN);
			if (read_hvo(sub, out) == -1)
				return -1;
			break;
		case F_DENIED_BODY:
			WANT(t, WT_LEN);
			out->body.p = (const char *)sub.p;
			out->body.len = (size_t)(sub.end - sub.p);
			break;
		}
	}
	return k;
}

static int
read_ok(struct r m, struct sl_authzpb_resp *out)
{
	struct r sub;
	uint64_t v;
	int f, t, k;

	while ((k = next_field(&m, &f, &t, &v, &sub)) == 1) {
		if (f == F_OK_HEADERS) {
			WANT(t, WT_LEN);
			if (read_hvo(sub, out) == -1)
				return -1;
		} else if (f == F_OK_REMOVE) {
			WANT(t, WT_LEN);
			if (out->nremove >= SL_AUTHZPB_FIELDS_MAX)
				return -1;
			out->remove[out->nremove].p = (const char *)sub.p;
			out->remove[out->nremove++].len =
			    (size_t)(sub.end - sub.p);
		}
	}
	return k;
}

int
sl_authzpb_check_response(const uint8_t *p, size_t len,
			  struct sl_authzpb_resp *out)
{
	struct r m, sub, st;
	uint64_t v, n;
	int f, t, k, k2, which = 0;

	memset(out, 0, sizeof(*out));
	out->body.p = "";
	if (len < 5 || p[0] != 0)
		return -1; /* short, or compressed: never asked for */
	n = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 |
	    p[4];
	if (n != len - 5)
		return -1;
	m.p = p + 5;
	m.end = p + len;
	while ((k = next_field(&m, &f, &t, &v, &sub)) == 1) {
		switch (f) {
		case F_RESP_STATUS:
			WANT(t, WT_LEN);
			out->has_status = 1;
			while ((k2 = next_field(&sub, &f, &t, &v, &st)) == 1)
				if (f == F_STATUS_CODE) {
					WANT(t, WT_VARINT);
					out->code = (int32_t)v;
				}
			if (k2 == -1)
				return -1;
			break;
		case F_RESP_DENIED:
		case F_RESP_OK:
			WANT(t, WT_LEN);
			/* a oneof: the last one written is the one */
			if (which != 0 && which != f) {
				out->nfields = out->nremove = 0;
				out->http_status = 0;
				out->body.p = "";
				out->body.len = 0;
			}
			which = f;
			if ((f == F_RESP_DENIED ? read_denied(sub, out)
						: read_ok(sub, out)) == -1)
				return -1;
			break;
		}
	}
	return k == -1 ? -1 : 0;
}
