/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for protocol upgrades (ws.c): the input is a request
 * head, a NUL, an upstream's response head, a NUL, and tunnel bytes. The
 * request is checked against a route allowing websocket and x-chat: a
 * request that passes for websocket must accept the 101 an RFC 6455 server
 * would answer, and a fuzzed 101 it accepts must carry that same
 * Sec-WebSocket-Accept. The tunnel bytes are followed as WebSocket frames
 * whole and cut at a place the input chooses: both must end in the same
 * state. ASan sees any read past a buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "ws.h"

static char *allowed[] = {"websocket", "x-chat"};

/* The next piece of the input up to a NUL (or its end), as a malloc'd
 * copy of exactly its bytes. */
static char *
piece(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
	size_t n = z != NULL ? (size_t)(z - *p) : (size_t)(end - *p);
	char *c = malloc(n ? n : 1);

	if (c == NULL)
		abort();
	memcpy(c, *p, n);
	*len = n;
	*p = z != NULL ? z + 1 : end;
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_h1_limits lim = {8192, 32768, 64};
	struct sl_h1_header hdrs[64], rh[64];
	struct sl_h1_request req;
	struct sl_h1_response resp;
	const uint8_t *p = data, *end = data + size;
	char accept[SL_WS_ACCEPT_LEN + 1] = "";
	const char *code = NULL, *fields = NULL, *why;
	size_t rlen, slen, tlen, idx = 0;
	char *rq = piece(&p, end, &rlen), *rs = piece(&p, end, &slen);
	char *tb = piece(&p, end, &tlen);
	int v = 0;

	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	req.max_headers = 64;
	if (sl_h1_parse_request(rq, rlen, &req, &lim) == 0) {
		v = sl_ws_request(&req, allowed, 2, &idx, accept, &code,
				  &fields);
		CHECK(v >= -1 && v <= 1);
		CHECK(v != -1 || code != NULL);
		CHECK(v != 1 || idx < 2);
	}
	if (v == 1 && idx == 0) {
		/* what a server following RFC 6455 answers passes */
		char ok[256];
		int n = snprintf(ok, sizeof(ok),
				 "HTTP/1.1 101 Switching Protocols\r\n"
				 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
				 "Sec-WebSocket-Accept: %s\r\n\r\n",
				 accept);
		memset(&resp, 0, sizeof(resp));
		resp.headers = rh;
		resp.max_headers = 64;
		CHECK(sl_h1_parse_response(ok, (size_t)n, &resp, SL_M_GET) ==
		      0);
		CHECK(sl_ws_response(&resp, "websocket", accept) == NULL);
	}
	memset(&resp, 0, sizeof(resp));
	resp.headers = rh;
	resp.max_headers = 64;
	if (sl_h1_parse_response(rs, slen, &resp, SL_M_GET) == 0 &&
	    resp.status == 101) {
		why = sl_ws_response(&resp, v == 1 ? allowed[idx] : "websocket",
				     accept);
		if (why == NULL && (v != 1 || idx == 0)) {
			int k;
			const struct sl_h1_header *h = sl_h1_find(
			    rh, resp.nheaders, "sec-websocket-accept", &k);
			CHECK(h != NULL && k == 1 &&
			      h->value_len == SL_WS_ACCEPT_LEN &&
			      memcmp(h->value, accept, SL_WS_ACCEPT_LEN) == 0);
		}
	}
	{
		struct sl_ws_track a, b;
		size_t cut =
		    tlen > 0 ? (size_t)(unsigned char)tb[0] % (tlen + 1) : 0;
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		sl_ws_track(&a, (const unsigned char *)tb, tlen);
		sl_ws_track(&b, (const unsigned char *)tb, cut);
		sl_ws_track(&b, (const unsigned char *)tb + cut, tlen - cut);
		CHECK(a.left == b.left && a.hlen == b.hlen &&
		      a.close_seen == b.close_seen &&
		      memcmp(a.hdr, b.hdr, a.hlen) == 0);
		CHECK(a.hlen < 14);
	}
	free(rq);
	free(rs);
	free(tb);
	return 0;
}
