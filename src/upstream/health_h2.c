/* SPDX-License-Identifier: MIT */
/*
 * Health checks over HTTP/2 (health_h2.h): one request on a connection
 * of sluice's own HTTP/2 layer (src/h2/h2conn.h, client side), as a
 * state machine over bytes; the first user of that layer (issue 43),
 * where an nghttp2 client session was. The gRPC health
 * protocol's two messages are tiny protobuf messages, encoded and read
 * here by hand (grpc/grpc doc/health-checking.md and its health.proto):
 *   HealthCheckRequest  { string service = 1; }
 *   HealthCheckResponse { ServingStatus status = 1; }  (an enum: varint)
 * each in a gRPC frame: one flag byte (0: not compressed; sluice asks
 * for no compression, so a compressed answer is malformed), a 4-byte
 * big-endian length, the message.
 */
#include "health_h2.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2conn.h"

#define ANSWER_MAX 256 /* bytes of a gRPC health answer kept */

/* One check's connection. Owned by its caller (sl_hc_h2_free). */
struct sl_hc_h2 {
	struct sl_h2c c;
	struct sl_h2c_stream s; /* the check's stream, 1 */
	unsigned char *out;	/* the first bytes to send */
	size_t outlen;
	int sent;			 /* they are out: the rest is dropped */
	unsigned char body[5 + 3 + 255]; /* the gRPC request */
	size_t bodylen;
	int grpc;
	int done;	 /* the answer is whole: 1, or failed: -1 */
	const char *why; /* of a failure */
	struct sl_hc_h2_result res;
	unsigned char ans[ANSWER_MAX]; /* gRPC: the answer's DATA */
	size_t anslen;
	int ans_over;			    /* more than ANSWER_MAX came */
	uint8_t spare[64];		    /* where dropped answers go */
	uint8_t rbuf[16384];		    /* a frame split across reads */
	char scratch[SL_HPACK_SCRATCH_MIN]; /* HPACK's Huffman strings */
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

/* ---- the check's side of the connection (h2conn.h) ---------------------*/

static struct sl_h2c_stream *
hc_open(void *arg, uint32_t id)
{
	(void)arg;
	(void)id;
	return NULL; /* a server opens no stream of a check's */
}

static int
hc_field(void *arg, struct sl_h2c_stream *s, const char *name, size_t nlen,
	 const char *value, size_t vlen, unsigned flags)
{
	struct sl_hc_h2 *x = arg;
	int v = 0;

	(void)s;
	(void)flags;
	/* a number of up to 6 digits; anything else reads as 1000 (no
	 * status nor gRPC status: the check fails) */
	for (size_t i = 0; i < vlen; i++) {
		if (i == 6 || value[i] < '0' || value[i] > '9') {
			v = 1000;
			break;
		}
		v = v * 10 + (value[i] - '0');
	}
	if (nlen == 7 && memcmp(name, ":status", 7) == 0 && x->res.status < 200)
		x->res.status = v;
	else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
		x->res.grpc_status = v > 1000 ? 1000 : v;
	if (x->res.status > 999)
		x->res.status = 999;
	return 0;
}

/* The answer is whole: its result, or why the check failed. */
static void
hc_end(struct sl_hc_h2 *x)
{
	if (x->done)
		return;
	if (x->res.status < 200) {
		x->done = -1;
		x->why = "no answer";
		return;
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
}

static void
hc_headers(void *arg, struct sl_h2c_stream *s, int rc, int end_stream)
{
	struct sl_hc_h2 *x = arg;

	(void)s;
	if (rc != SL_HPACK_OK && !x->done) {
		x->done = -1;
		x->why = "malformed answer head";
		return;
	}
	if (end_stream)
		hc_end(x);
}

static void
hc_data(void *arg, struct sl_h2c_stream *s, const uint8_t *p, size_t len,
	int end_stream)
{
	struct sl_hc_h2 *x = arg;

	(void)s;
	if (x->grpc) {
		if (len > ANSWER_MAX - x->anslen)
			x->ans_over = 1;
		else {
			memcpy(x->ans + x->anslen, p, len);
			x->anslen += len;
		}
	}
	if (end_stream)
		hc_end(x);
}

static void
hc_reset(void *arg, struct sl_h2c_stream *s, uint32_t code, int sent)
{
	struct sl_hc_h2 *x = arg;

	(void)s;
	(void)sent;
	if (x->done)
		return;
	x->done = -1;
	x->why =
	    code == SL_H2F_REFUSED_STREAM ? "stream refused" : "stream reset";
}

static void
hc_goaway(void *arg, uint32_t last_id, uint32_t code)
{
	struct sl_hc_h2 *x = arg;

	(void)code;
	if (!x->done && last_id < 1) {
		x->done = -1;
		x->why = "GOAWAY before the check's stream";
	}
}

static void
hc_window(void *arg, struct sl_h2c_stream *s)
{
	(void)arg;
	(void)s;
}

static int
hc_frame(void *arg, const struct sl_h2f_header *hd)
{
	(void)arg;
	(void)hd;
	return 0; /* one answer, then the check closes: no budget */
}

/* The check's request goes out with the connection's first bytes; what
 * the connection would answer after them (SETTINGS' ACK, window
 * updates) is not sent: the check reads one answer and closes. */
static uint8_t *
hc_out(void *arg, size_t n)
{
	struct sl_hc_h2 *x = arg;
	unsigned char *q;

	if (x->sent) {
		if (n > sizeof(x->spare))
			return NULL;
		return x->spare;
	}
	if ((q = realloc(x->out, x->outlen + n)) == NULL)
		return NULL;
	x->out = q;
	x->outlen += n;
	return q + x->outlen - n;
}

static const struct sl_h2c_ops hc_ops = {
    hc_open,   hc_field,  hc_headers, hc_data, hc_reset,
    hc_goaway, hc_window, hc_frame,   hc_out,
};

/* A field of the request into its block; 0 when it does not fit. */
static size_t
put(struct sl_hc_h2 *x, uint8_t *block, size_t *n, size_t room,
    const char *name, const char *value)
{
	size_t w = sl_hpack_enc_field(block + *n, room - *n, name, strlen(name),
				      value, strlen(value), 0);

	(void)x;
	*n += w;
	return w;
}

struct sl_hc_h2 *
sl_hc_h2_new(const char *authority, const char *path, int tls,
	     const char *grpc_service, const char **out, size_t *outlen)
{
	/* what the check announces: sluice's usual windows, no push (a
	 * client's SETTINGS say so), a frame of 16 KiB */
	static const struct sl_h2c_settings set = {
	    .header_table = 4096,
	    .max_streams = 100,
	    .window = 65535,
	    .conn_window = 65535,
	    .max_frame = 16384,
	};
	struct sl_hc_h2 *x;
	uint8_t block[1024];
	size_t n = 0, room = sizeof(block);
	int ok;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->res.grpc_status = -1;
	x->res.serving = -1;
	x->grpc = grpc_service != NULL;
	if (sl_h2c_init(&x->c, 0, &set, x->rbuf, sizeof(x->rbuf), x->scratch,
			sizeof(x->scratch), sizeof(x->rbuf), &hc_ops, x) != 0) {
		sl_hc_h2_free(x);
		return NULL;
	}
	ok = put(x, block, &n, room, ":method", x->grpc ? "POST" : "GET") &&
	     put(x, block, &n, room, ":scheme", tls ? "https" : "http") &&
	     put(x, block, &n, room, ":authority", authority) &&
	     put(x, block, &n, room, ":path",
		 x->grpc ? "/grpc.health.v1.Health/Check" : path) &&
	     put(x, block, &n, room, "user-agent", "sluice-health-check");
	if (ok && x->grpc) {
		size_t sl = strlen(grpc_service), ml;

		if (sl > 255)
			sl = 255; /* the configuration allows no more */
		ml = sl > 0 ? 2 + sl : 0;
		ok = put(x, block, &n, room, "content-type",
			 "application/grpc") &&
		     put(x, block, &n, room, "te", "trailers");
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
	}
	x->s.id = 1;
	if (!ok || sl_h2c_stream_add(&x->c, &x->s) != 0 ||
	    sl_h2c_send_headers(&x->c, &x->s, block, n, !x->grpc) != 0 ||
	    (x->grpc &&
	     sl_h2c_send_data(&x->c, &x->s, x->body, x->bodylen, 1) != 0)) {
		sl_hc_h2_free(x);
		return NULL;
	}
	x->sent = 1;
	*out = (const char *)x->out;
	*outlen = x->outlen;
	return x;
}

int
sl_hc_h2_input(struct sl_hc_h2 *x, const void *buf, size_t len,
	       struct sl_hc_h2_result *res, const char **why)
{
	if (!x->done && sl_h2c_input(&x->c, buf, len) != 0) {
		/* the connection ended (a server whose first frame was not
		 * its SETTINGS, a connection error): no answer will come */
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
	sl_h2c_free(&x->c);
	free(x->out);
	free(x);
}
