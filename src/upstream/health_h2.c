/* SPDX-License-Identifier: MIT */
/*
 * Health checks over HTTP/2 (health_h2.h): an nghttp2 client session
 * for one request, as a state machine over bytes. The gRPC health
 * protocol's two messages are tiny protobuf messages, encoded and read
 * here by hand (grpc/grpc doc/health-checking.md and its health.proto):
 *   HealthCheckRequest  { string service = 1; }
 *   HealthCheckResponse { ServingStatus status = 1; }  (an enum: varint)
 * each in a gRPC frame: one flag byte (0: not compressed; sluice asks
 * for no compression, so a compressed answer is malformed), a 4-byte
 * big-endian length, the message.
 */
#include "health_h2.h"

#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2ng.h"

#define ANSWER_MAX 256 /* bytes of a gRPC health answer kept */

struct sl_hc_h2 {
	nghttp2_session *ng;
	unsigned char *out; /* the bytes to send */
	size_t outlen;
	unsigned char body[5 + 3 + 255]; /* the gRPC request */
	size_t bodylen, bodyoff;
	int grpc;
	int done;	 /* stream 1 closed: 1 whole, -1 failed */
	const char *why; /* of a failure */
	struct sl_hc_h2_result res;
	unsigned char ans[ANSWER_MAX]; /* gRPC: the answer's DATA */
	size_t anslen;
	int ans_over; /* more than ANSWER_MAX came */
};

int
sl_hc_grpc_serving(const unsigned char *p, size_t n)
{
	uint32_t len;
	size_t i = 5;
	int status = 0;

	if (n < 5 || p[0] != 0)
		return -1;
	len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	      (uint32_t)p[3] << 8 | p[4];
	if (len != n - 5)
		return -1;
	while (i < n) {
		uint64_t key = 0, v = 0;
		int shift = 0;

		/* a varint key, then the value by its wire type */
		do {
			if (i >= n || shift > 63)
				return -1;
			key |= (uint64_t)(p[i] & 0x7f) << shift;
			shift += 7;
		} while (p[i++] & 0x80);
		switch (key & 7) {
		case 0: /* varint */
			shift = 0;
			do {
				if (i >= n || shift > 63)
					return -1;
				v |= (uint64_t)(p[i] & 0x7f) << shift;
				shift += 7;
			} while (p[i++] & 0x80);
			if (key >> 3 == 1)
				status = v > 1000 ? 1000 : (int)v;
			break;
		case 1: /* 64-bit */
			if (n - i < 8)
				return -1;
			i += 8;
			break;
		case 2: /* length-delimited */
			shift = 0;
			do {
				if (i >= n || shift > 63)
					return -1;
				v |= (uint64_t)(p[i] & 0x7f) << shift;
				shift += 7;
			} while (p[i++] & 0x80);
			if (v > n - i)
				return -1;
			i += (size_t)v;
			break;
		case 5: /* 32-bit */
			if (n - i < 4)
				return -1;
			i += 4;
			break;
		default:
			return -1;
		}
	}
	return status;
}

static int
on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
	  size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
	  void *ud)
{
	struct sl_hc_h2 *x = ud;
	int v = 0;

	(void)ng;
	(void)flags;
	if (frame->hd.stream_id != 1)
		return 0;
	/* a number of up to 6 digits; anything else reads as 1000 (no
	 * status nor gRPC status: the check fails) */
	for (size_t i = 0; i < valuelen; i++) {
		if (i == 6 || value[i] < '0' || value[i] > '9') {
			v = 1000;
			break;
		}
		v = v * 10 + (value[i] - '0');
	}
	if (namelen == 7 && memcmp(name, ":status", 7) == 0 &&
	    x->res.status < 200)
		x->res.status = v;
	else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
		x->res.grpc_status = v > 1000 ? 1000 : v;
	if (x->res.status > 999)
		x->res.status = 999;
	return 0;
}

static int
on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id,
	      const uint8_t *data, size_t len, void *ud)
{
	struct sl_hc_h2 *x = ud;

	(void)ng;
	(void)flags;
	if (id != 1 || !x->grpc)
		return 0;
	if (len > ANSWER_MAX - x->anslen) {
		x->ans_over = 1;
		return 0;
	}
	memcpy(x->ans + x->anslen, data, len);
	x->anslen += len;
	return 0;
}

static int
on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
	struct sl_hc_h2 *x = ud;

	(void)ng;
	if (id != 1 || x->done)
		return 0;
	if (code != NGHTTP2_NO_ERROR || x->res.status < 200) {
		x->done = -1;
		x->why = code == NGHTTP2_REFUSED_STREAM ? "stream refused"
			 : code != NGHTTP2_NO_ERROR	? "stream reset"
							: "no answer";
		return 0;
	}
	x->done = 1;
	if (x->grpc && x->anslen > 0) {
		x->res.serving =
		    x->ans_over ? -1 : sl_hc_grpc_serving(x->ans, x->anslen);
		if (x->res.serving < 0) {
			x->done = -1;
			x->why = "malformed gRPC health answer";
		}
	}
	return 0;
}

static int
on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	struct sl_hc_h2 *x = ud;

	(void)ng;
	if (frame->hd.type == NGHTTP2_GOAWAY && !x->done &&
	    frame->goaway.last_stream_id < 1) {
		x->done = -1;
		x->why = "GOAWAY before the check's stream";
	}
	return 0;
}

static ssize_t
body_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
	  uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct sl_hc_h2 *x = src->ptr;
	size_t n = x->bodylen - x->bodyoff;

	(void)ng;
	(void)id;
	(void)ud;
	if (n > length)
		n = length;
	memcpy(buf, x->body + x->bodyoff, n);
	x->bodyoff += n;
	if (x->bodyoff == x->bodylen)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* The check's nghttp2 set-up (h2ng.h): a client's, with nghttp2's
 * defaults (one request; what nghttp2 answers is never sent). */
static struct sl_h2ng hc_ng = {
    .on_header = on_header,
    .on_data_chunk_recv = on_data_chunk,
    .on_stream_close = on_stream_close,
    .on_frame_recv = on_frame_recv,
};

static void
nv(nghttp2_nv *p, const char *n, const char *v)
{
	p->name = (uint8_t *)(uintptr_t)n;
	p->namelen = strlen(n);
	p->value = (uint8_t *)(uintptr_t)v;
	p->valuelen = strlen(v);
	p->flags = NGHTTP2_NV_FLAG_NONE;
}

struct sl_hc_h2 *
sl_hc_h2_new(const char *authority, const char *path, int tls,
	     const char *grpc_service, const char **out, size_t *outlen)
{
	struct sl_hc_h2 *x;
	nghttp2_data_provider dp;
	nghttp2_nv h[8];
	size_t k = 0;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->res.grpc_status = -1;
	x->res.serving = -1;
	/* its SETTINGS: h2ng's alone (no push) */
	if ((x->ng = sl_h2ng_client(&hc_ng, x, NULL, 0, 0)) == NULL) {
		free(x);
		return NULL;
	}
	x->grpc = grpc_service != NULL;
	nv(&h[k++], ":method", x->grpc ? "POST" : "GET");
	nv(&h[k++], ":scheme", tls ? "https" : "http");
	nv(&h[k++], ":authority", authority);
	nv(&h[k++], ":path", x->grpc ? "/grpc.health.v1.Health/Check" : path);
	nv(&h[k++], "user-agent", "sluice-health-check");
	if (x->grpc) {
		size_t sl = strlen(grpc_service), ml;
		if (sl > 255)
			sl = 255; /* the configuration allows no more */
		ml = sl > 0 ? 2 + sl : 0;
		nv(&h[k++], "content-type", "application/grpc");
		nv(&h[k++], "te", "trailers");
		if (sl > 0) {
			/* field 1, length-delimited: a string (under 128
			 * bytes its length is one varint byte; up to 255,
			 * two) */
			x->body[5] = 0x0a;
			if (sl < 128) {
				x->body[6] = (unsigned char)sl;
				memcpy(x->body + 7, grpc_service, sl);
			} else {
				x->body[6] =
				    (unsigned char)(0x80 | (sl & 0x7f));
				x->body[7] = (unsigned char)(sl >> 7);
				memcpy(x->body + 8, grpc_service, sl);
				ml++;
			}
		}
		/* the gRPC frame: not compressed, the message's length in
		 * four bytes, big-endian (up to 258: two of them) */
		x->body[0] = 0;
		x->body[1] = x->body[2] = 0;
		x->body[3] = (unsigned char)(ml >> 8);
		x->body[4] = (unsigned char)(ml & 0xff);
		x->bodylen = 5 + ml;
		dp.source.ptr = x;
		dp.read_callback = body_read;
	}
	if (nghttp2_submit_request(x->ng, NULL, h, k, x->grpc ? &dp : NULL,
				   NULL) != 1) {
		sl_hc_h2_free(x);
		return NULL;
	}
	for (;;) {
		const uint8_t *p;
		ssize_t n = nghttp2_session_mem_send(x->ng, &p);
		unsigned char *q;
		if (n < 0) {
			sl_hc_h2_free(x);
			return NULL;
		}
		if (n == 0)
			break;
		if ((q = realloc(x->out, x->outlen + (size_t)n)) == NULL) {
			sl_hc_h2_free(x);
			return NULL;
		}
		x->out = q;
		memcpy(x->out + x->outlen, p, (size_t)n);
		x->outlen += (size_t)n;
	}
	*out = (const char *)x->out;
	*outlen = x->outlen;
	return x;
}

int
sl_hc_h2_input(struct sl_hc_h2 *x, const void *buf, size_t len,
	       struct sl_hc_h2_result *res, const char **why)
{
	ssize_t rv = nghttp2_session_mem_recv(x->ng, buf, len);

	if (rv < 0) {
		*why = nghttp2_strerror((int)rv);
		return -1;
	}
	/* what nghttp2 would answer (SETTINGS' ACK, window updates) is
	 * not sent: the check reads one answer and closes. Taken, so that
	 * a session nghttp2 ended (a GOAWAY of its own queued) says so */
	for (;;) {
		const uint8_t *p;
		if (nghttp2_session_mem_send(x->ng, &p) <= 0)
			break;
	}
	if (x->done == 0 && !nghttp2_session_want_read(x->ng)) {
		/* nghttp2 ended the session (a server whose first frame
		 * was not its SETTINGS, a connection error): no answer will
		 * come */
		*why = "not an HTTP/2 server's answer";
		return -1;
	}
	if (x->done == 0)
		return 0;
	if (x->done < 0) {
		*why = x->why;
		return -1;
	}
	*res = x->res;
	return 1;
}

void
sl_hc_h2_free(struct sl_hc_h2 *x)
{
	if (x == NULL)
		return;
	nghttp2_session_del(x->ng);
	free(x->out);
	free(x);
}
