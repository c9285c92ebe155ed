/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for sticky keys: parses the input as a request head and
 * takes its keys as a sticky split or a hash balancer would (a header, a
 * cookie, the client address), then races them; also reads the input as
 * one Cookie field value under a few names. Slices must stay in the input,
 * a cookie value must hold no ';', and the race must pick an entry of
 * non-zero weight.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "fuzz.h"
#include "h1_parse.h"
#include "route.h"
#include "util.h"

static void
in_buffer(const void *base, size_t size, const void *p, size_t n)
{
	const char *b = base, *q = p;

	CHECK(q >= b && q + n <= b + size);
}

static void
race(const void *key, size_t len)
{
	static const uint64_t ids[3] = {11, 22, 33};
	static const uint32_t w[3] = {90, 0, 10};
	size_t i = sl_balance_race(sl_hash64(key, len), ids, w, 3, NULL);

	CHECK(i == 0 || i == 2);
}

static void
cookies(const char *v, size_t n)
{
	static const char *const names[] = {"sess", "a", "", "x y"};
	const char *val;
	size_t vl;

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (!sl_route_cookie(v, n, names[k], strlen(names[k]), &val,
				     &vl))
			continue;
		in_buffer(v, n, val, vl);
		CHECK(memchr(val, ';', vl) == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct sl_h1_limits lim = {4096, 16384, 64};
	struct sl_h1_header h[64];
	struct sl_h1_request req;
	struct sockaddr_in6 peer;
	struct sl_conf_key keys[3] = {
	    {SL_KEY_HEADER, (char *)"x-user-id", 9},
	    {SL_KEY_COOKIE, (char *)"sess", 4},
	    {SL_KEY_CLIENT_IP, NULL, 0},
	};
	struct sl_ip client;
	const void *key;
	size_t len;

	if (size > 65536)
		return 0;
	cookies(buf, size);
	memset(&req, 0, sizeof(req));
	req.headers = h;
	req.max_headers = 64;
	if (sl_h1_parse_request(buf, size, &req, &lim) != 0)
		return 0;
	memset(&peer, 0, sizeof(peer));
	peer.sin6_family = AF_INET6;
	if (size >= 16)
		memcpy(&peer.sin6_addr, data, 16);
	(void)sl_ip_from_sockaddr((struct sockaddr *)&peer, &client);
	for (int k = 0; k < 3; k++) {
		if (!sl_route_key(&keys[k], &req, &client, &key, &len))
			continue;
		CHECK(len > 0);
		if (k < 2)
			in_buffer(buf, size, key, len);
		else
			CHECK(key == client.a && (len == 4 || len == 16));
		race(key, len);
	}
	for (size_t i = 0; i < req.nheaders; i++)
		if (sl_h1_ieq(h[i].name, h[i].name_len, "cookie"))
			cookies(h[i].value, h[i].value_len);
	return 0;
}
