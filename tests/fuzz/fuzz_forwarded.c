/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the forwarded fields (forwarded.c) and what goes
 * upstream (h1_msg.c). The first byte picks the listener's settings; the
 * rest are field lines, "F..." a Forwarded value and anything else an
 * X-Forwarded-For value, split at CR, LF and NUL (a parsed request holds
 * none of them). Every element must parse to nothing or to an address; the
 * walk's client must be an element at the place it names (an untrusted
 * one, unless the walk ran out of untrusted ones); and the head written
 * upstream must fit, carry exactly one X-Forwarded-For ending with the
 * client, and no Forwarded field when stripped.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "forwarded.h"
#include "fuzz.h"

#define MAXH 64

static struct sl_cidr tv[3];
static struct sl_cidr_set trusted = {tv, 3};

static void
init(void)
{
	static int done;
	char why[64];

	if (done)
		return;
	done = 1;
	CHECK(sl_cidr_parse("10.0.0.0/8", &tv[0], why, sizeof(why)) == 0);
	CHECK(sl_cidr_parse("127.0.0.0/8", &tv[1], why, sizeof(why)) == 0);
	CHECK(sl_cidr_parse("2001:db8::/32", &tv[2], why, sizeof(why)) == 0);
}

/* The number of lines of head that start with name. */
static int
lines_with(const char *head, size_t n, const char *name, const char **last)
{
	size_t nl = strlen(name);
	int count = 0;

	for (size_t i = 0; i + nl <= n; i++)
		if ((i == 0 || head[i - 1] == '\n') &&
		    memcmp(head + i, name, nl) == 0) {
			count++;
			*last = head + i + nl;
		}
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[1 << 18];
	struct sl_h1_header h[MAXH];
	struct sl_h1_request req;
	struct sl_conf_listener l;
	struct sl_forwarded_walk w;
	struct sl_fwd fwd;
	struct sl_ip client, peer;
	char ip[64];
	const char *p = (const char *)data, *end = p + size, *xff = NULL;
	size_t nh = 0;
	long n;

	if (size < 1)
		return 0;
	init();
	memset(&l, 0, sizeof(l));
	l.trusted_proxies = trusted;
	l.client_address_header =
	    (data[0] & 1) ? SL_CLIENT_HEADER_FORWARDED : SL_CLIENT_HEADER_XFF;
	l.untrusted_forwarded =
	    (data[0] & 2) ? SL_UNTRUSTED_STRIP : SL_UNTRUSTED_APPEND;
	/* the connection's client: a trusted proxy or not */
	CHECK(sl_ip_parse((data[0] & 4) ? "198.51.100.7" : "10.1.1.1",
			  (data[0] & 4) ? 12 : 8, &peer) == 0);
	for (p++; p < end && nh < MAXH;) {
		const char *e = p;
		while (e < end && *e != '\r' && *e != '\n' && *e != '\0')
			e++;
		if (e > p && *p == 'F') {
			h[nh].name = "Forwarded";
			h[nh].name_len = 9;
			h[nh].value = p + 1;
			h[nh].value_len = (size_t)(e - p - 1);
		} else {
			h[nh].name = "X-Forwarded-For";
			h[nh].name_len = 15;
			h[nh].value = p;
			h[nh].value_len = (size_t)(e - p);
		}
		h[nh].kind = SL_HK_UNSET; /* found when asked */
		nh++;
		p = e + 1;
	}

	/* every element of every value: nothing, or an address */
	for (size_t i = 0; i < nh; i++) {
		struct sl_ip a;
		if (sl_forwarded_element(SL_CLIENT_HEADER_XFF, h[i].value,
					 h[i].value_len, &a) == 0)
			CHECK(a.len == 4 || a.len == 16);
		if (sl_forwarded_element(SL_CLIENT_HEADER_FORWARDED, h[i].value,
					 h[i].value_len, &a) == 0)
			CHECK(a.len == 4 || a.len == 16);
	}
	for (int f = 0; f < 2; f++) {
		enum sl_client_header fld =
		    f ? SL_CLIENT_HEADER_FORWARDED : SL_CLIENT_HEADER_XFF;
		if (!sl_forwarded_walk(h, nh, fld, &trusted, &w))
			continue;
		CHECK(w.hdr < nh && w.off < h[w.hdr].value_len);
		CHECK(w.client.len == 4 || w.client.len == 16);
		CHECK(w.seen >= 1);
		CHECK(h[w.hdr].name_len == (f ? 9u : 15u));
		if (!f) {
			/* the element at off, up to its comma */
			const char *v = h[w.hdr].value + w.off;
			size_t len = h[w.hdr].value_len - w.off;
			const char *c = memchr(v, ',', len);
			struct sl_ip a;
			if (c != NULL)
				len = (size_t)(c - v);
			while (len > 0 &&
			       (v[len - 1] == ' ' || v[len - 1] == '\t'))
				len--;
			CHECK(sl_forwarded_element(fld, v, len, &a) == 0);
			CHECK(sl_ip_eq(&a, &w.client));
		}
	}

	/* the request as it goes upstream */
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.method_len = 3;
	req.path = "/";
	req.path_len = 1;
	req.host = "h";
	req.host_len = 1;
	req.minor = 1;
	req.headers = h;
	req.nheaders = nh;
	memset(&fwd, 0, sizeof(fwd));
	fwd.proto = "http";
	fwd.request_id = "rid";
	fwd.default_host = "h";
	fwd.xff = SL_FWD_APPEND;
	client = peer;
	if (sl_forwarded_settle(&l, &req, &client, &fwd))
		CHECK(sl_cidr_set_find(&trusted, &peer) >= 0);
	else
		CHECK(sl_ip_eq(&client, &peer));
	fwd.client_ip = sl_ip_str(&client, ip, sizeof(ip));
	n = sl_h1_write_request_head(out, sizeof(out), &req, &fwd);
	CHECK(n > 0);
	CHECK(lines_with(out, (size_t)n, "X-Forwarded-For: ", &xff) == 1);
	{
		const char *eol = strstr(xff, "\r\n");
		size_t il = strlen(ip);
		CHECK(eol != NULL && (size_t)(eol - xff) >= il);
		CHECK(memcmp(eol - il, ip, il) == 0);
		CHECK(eol - il == xff || eol[-(long)il - 1] == ' ');
	}
	if (fwd.xff == SL_FWD_STRIP) {
		const char *x;
		CHECK(lines_with(out, (size_t)n, "Forwarded: ", &x) == 0);
	}
	return 0;
}
