/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the hand-written messages of Envoy's external
 * authorization service (src/edge/authzpb.c). The input is read as a
 * CheckResponse in a gRPC message: a read that succeeds must point only
 * into the input and stay within its bounds. Then the input is cut into
 * the strings of a CheckRequest, which is written and walked back with a
 * protobuf reader of this file's own: every length must close where the
 * message nesting says, and the method, path, host and each field must
 * come back as they went in.
 */
#include <stdint.h>
#include <string.h>

#include "authzpb.h"
#include "fuzz.h"

static uint8_t out[1 << 16];

static int
inside(const struct sl_authzpb_str *s, const uint8_t *d, size_t n)
{
	return s->len == 0 || ((const uint8_t *)s->p >= d &&
			       (const uint8_t *)s->p + s->len <= d + n);
}

/* A varint at *p (below end); -1 when malformed. */
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

/* The length-delimited field number f of the message [p, end): its bytes
 * (the k-th of them), or -1. Every field of the message must be well
 * formed. */
static int
field(const uint8_t *p, const uint8_t *end, int f, int k, const uint8_t **s,
      size_t *n)
{
	int found = -1;

	while (p < end) {
		uint64_t tag, len;
		CHECK(varint(&p, end, &tag) == 0);
		if ((tag & 7) == 0) {
			CHECK(varint(&p, end, &len) == 0);
			continue;
		}
		CHECK((tag & 7) == 2);
		CHECK(varint(&p, end, &len) == 0);
		CHECK(len <= (uint64_t)(end - p));
		if ((int)(tag >> 3) == f && k-- == 0) {
			*s = p;
			*n = (size_t)len;
			found = 0;
		}
		p += len;
	}
	return found;
}

static void
same(const uint8_t *msg, size_t mlen, int f, struct sl_authzpb_str want)
{
	const uint8_t *s;
	size_t n;

	if (want.len == 0) {
		CHECK(field(msg, msg + mlen, f, 0, &s, &n) == -1);
		return;
	}
	CHECK(field(msg, msg + mlen, f, 0, &s, &n) == 0);
	CHECK(n == want.len && memcmp(s, want.p, n) == 0);
}

/* Cuts the input at '\n' into up to n strings. */
static size_t
cut(const uint8_t *d, size_t size, struct sl_authzpb_str *v, size_t n)
{
	size_t k = 0, a = 0;

	for (size_t i = 0; i <= size && k < n; i++)
		if (i == size || d[i] == '\n') {
			v[k].p = (const char *)d + a;
			v[k++].len = i - a;
			a = i + 1;
		}
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_authzpb_resp r;
	struct sl_authzpb_str v[16];
	struct sl_authzpb_field f[4];
	struct sl_authzpb_req q;
	const uint8_t *attr, *req, *http, *hdr, *s;
	size_t na, nr, nh, nhd, n, k;
	long len;

	if (sl_authzpb_check_response(data, size, &r) == 0) {
		CHECK(r.nfields <= SL_AUTHZPB_FIELDS_MAX);
		CHECK(r.nremove <= SL_AUTHZPB_FIELDS_MAX);
		for (size_t i = 0; i < r.nfields; i++) {
			CHECK(inside(&r.fields[i].name, data, size));
			CHECK(inside(&r.fields[i].value, data, size));
			CHECK(r.fields[i].name.len > 0);
		}
		for (size_t i = 0; i < r.nremove; i++)
			CHECK(inside(&r.remove[i], data, size));
		CHECK(inside(&r.body, data, size));
	}

	memset(v, 0, sizeof(v));
	k = cut(data, size, v, 16);
	memset(&q, 0, sizeof(q));
	q.id = v[0];
	q.method = v[1];
	q.path = v[2];
	q.host = v[3];
	q.scheme = v[4];
	q.protocol = v[5];
	q.src_addr = v[6];
	q.principal = v[7];
	for (size_t i = 0; i < 4 && 8 + 2 * i + 1 < k; i++) {
		f[i].name = v[8 + 2 * i];
		f[i].value = v[9 + 2 * i];
		q.nheaders = i + 1;
	}
	q.headers = f;
	q.size = size % 3 == 0 ? -1 : (int64_t)size;
	q.time_s = (int64_t)size;
	len = sl_authzpb_check_request(out, size % 2 ? sizeof(out) : size, &q);
	if (len < 0)
		return 0;
	CHECK(len >= 5 && (size_t)len <= sizeof(out));
	n = (size_t)out[1] << 24 | (size_t)out[2] << 16 | (size_t)out[3] << 8 |
	    out[4];
	CHECK(out[0] == 0 && n == (size_t)len - 5);
	/* CheckRequest.attributes, .request, .http */
	CHECK(field(out + 5, out + len, 1, 0, &attr, &na) == 0);
	CHECK(field(attr, attr + na, 4, 0, &req, &nr) == 0);
	CHECK(field(req, req + nr, 2, 0, &http, &nh) == 0);
	same(http, nh, 1, q.id);
	same(http, nh, 2, q.method);
	same(http, nh, 4, q.path);
	same(http, nh, 5, q.host);
	same(http, nh, 6, q.scheme);
	same(http, nh, 10, q.protocol);
	for (size_t i = 0; i < q.nheaders; i++) {
		CHECK(field(http, http + nh, 3, (int)i, &hdr, &nhd) == 0);
		CHECK(field(hdr, hdr + nhd, 1, 0, &s, &n) == 0);
		CHECK(n == f[i].name.len && !memcmp(s, f[i].name.p, n));
		CHECK(field(hdr, hdr + nhd, 2, 0, &s, &n) == 0);
		CHECK(n == f[i].value.len && !memcmp(s, f[i].value.p, n));
	}
	return 0;
}
