/* SPDX-License-Identifier: MIT */
/*
 * Protocol upgrades: the handshake checks and WebSocket frame boundaries
 * (ws.h, doc/websocket.md).
 */
#include "ws.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "h1_msg.h"
#include "util.h"

/* 1 when one of the Connection fields of h[0..n) lists "upgrade". */
static int
conn_upgrade(const struct sl_h1_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == 10 &&
		    strncasecmp(h[i].name, "connection", 10) == 0 &&
		    sl_h1_list_has(h[i].value, h[i].value_len, "upgrade"))
			return 1;
	return 0;
}

/* A WebSocket key (RFC 6455 section 4.1): 16 bytes in base64, 24
 * characters, the last two "=" (and so the one before them one of the four
 * that end 16 bytes). */
static int
ws_key_ok(const char *v, size_t len)
{
	if (len != 24 || v[22] != '=' || v[23] != '=' ||
	    memchr("AQgw", v[21], 4) == NULL)
		return 0;
	for (size_t i = 0; i < 22; i++)
		if (!(isalnum((unsigned char)v[i]) || v[i] == '+' ||
		      v[i] == '/'))
			return 0;
	return 1;
}

int
sl_ws_request(const struct sl_h1_request *req, char *const *allowed, size_t n,
	      size_t *idx, char accept[SL_WS_ACCEPT_LEN + 1], const char **code,
	      const char **fields)
{
	const struct sl_h1_header *key, *ver;
	int nk, nv, asked = 0;
	size_t i = n;

	*fields = NULL;
	if (!conn_upgrade(req->headers, req->nheaders))
		return 0;
	/* the first allowed protocol of the Upgrade field lines (a list
	 * may be split over several: RFC 9110 section 5.3) */
	for (size_t h = 0; h < req->nheaders && i == n; h++) {
		const struct sl_h1_header *f = &req->headers[h];
		if (f->name_len != 7 || strncasecmp(f->name, "upgrade", 7) != 0)
			continue;
		asked = 1;
		for (i = 0; i < n; i++)
			if (sl_h1_list_has(f->value, f->value_len, allowed[i]))
				break;
	}
	if (!asked || i == n)
		return 0;
	*idx = i;
	/* a switch needs HTTP/1.1 and no body in the way */
	if (req->minor < 1 || req->body != SL_H1_BODY_NONE) {
		*code = "bad_upgrade";
		return -1;
	}
	if (strcmp(allowed[i], "websocket") != 0)
		return 1;
	key = sl_h1_find(req->headers, req->nheaders, "sec-websocket-key", &nk);
	ver = sl_h1_find(req->headers, req->nheaders, "sec-websocket-version",
			 &nv);
	if (req->method_id != SL_M_GET || nk != 1 ||
	    !ws_key_ok(key->value, key->value_len)) {
		*code = "bad_websocket_handshake";
		return -1;
	}
	if (nv != 1 || ver->value_len != 2 ||
	    memcmp(ver->value, "13", 2) != 0) {
		/* the version sluice passes on (RFC 6455 section 4.4) */
		*code = "bad_websocket_version";
		*fields = "Sec-WebSocket-Version: 13\r\n";
		return -1;
	}
	if (sl_tls_ws_accept(key->value, key->value_len, accept) == -1) {
		*code = "bad_websocket_handshake";
		return -1;
	}
	return 1;
}

const char *
sl_ws_response(const struct sl_h1_response *resp, const char *proto,
	       const char *accept)
{
	const struct sl_h1_header *h;
	int n;

	h = sl_h1_find(resp->headers, resp->nheaders, "upgrade", &n);
	if (h == NULL || n != 1 ||
	    !sl_h1_list_has(h->value, h->value_len, proto))
		return "upgrade_not_asked";
	if (!conn_upgrade(resp->headers, resp->nheaders))
		return "connection_not_upgrade";
	if (strcmp(proto, "websocket") != 0)
		return NULL;
	h = sl_h1_find(resp->headers, resp->nheaders, "sec-websocket-accept",
		       &n);
	if (h == NULL || n != 1 || h->value_len != SL_WS_ACCEPT_LEN ||
	    memcmp(h->value, accept, SL_WS_ACCEPT_LEN) != 0)
		return "bad_websocket_accept";
	return NULL;
}

/* ---- WebSocket frames ------------------------------------------------  */

void
sl_ws_track(struct sl_ws_track *k, const unsigned char *p, size_t n)
{
	while (n > 0) {
		if (k->left > 0) {
			size_t m = (size_t)SL_MIN((uint64_t)n, k->left);
			k->left -= m;
			p += m;
			n -= m;
			continue;
		}
		k->hdr[k->hlen++] = *p++;
		n--;
		if (k->hlen == 2) {
			unsigned l7 = k->hdr[1] & 0x7f;
			k->need = (uint8_t)(2 +
					    (l7 == 126	 ? 2
					     : l7 == 127 ? 8
							 : 0) +
					    ((k->hdr[1] & 0x80) ? 4 : 0));
		}
		if (k->hlen < 2 || k->hlen < k->need)
			continue;
		/* a whole header: the payload's length */
		{
			unsigned l7 = k->hdr[1] & 0x7f;
			uint64_t len = l7;
			if (l7 == 126)
				len = (uint64_t)k->hdr[2] << 8 | k->hdr[3];
			else if (l7 == 127) {
				len = 0;
				for (int i = 2; i < 10; i++)
					len = len << 8 | k->hdr[i];
			}
			if ((k->hdr[0] & 0x0f) == 0x8)
				k->close_seen = 1;
			k->left = len;
			k->hlen = 0;
			k->need = 0;
		}
	}
}

size_t
sl_ws_close_frame(unsigned char *f, unsigned code, int masked, uint32_t key)
{
	unsigned char m[4] = {(unsigned char)(key >> 24),
			      (unsigned char)(key >> 16),
			      (unsigned char)(key >> 8), (unsigned char)key};

	f[0] = 0x88; /* FIN, close */
	if (!masked) {
		f[1] = 2;
		f[2] = (unsigned char)(code >> 8);
		f[3] = (unsigned char)code;
		return 4;
	}
	f[1] = 0x82;
	memcpy(f + 2, m, 4);
	f[6] = (unsigned char)((code >> 8) ^ m[0]);
	f[7] = (unsigned char)((code & 0xff) ^ m[1]);
	return 8;
}
