/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for response heads: the scanner at once and byte by
 * byte (which must agree, every error being -502), then
 * sl_h1_parse_response for a GET and a HEAD, checking slices and framing.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "h1_parse.h"

#define NHDR 40

static void
check_slice(const char *buf, size_t len, const char *p, size_t n)
{
	CHECK(p != NULL || n == 0);
	if (p != NULL)
		CHECK(p >= buf && n <= len && (size_t)(p - buf) <= len - n);
}

static void
parse(const char *buf, size_t len, enum sl_h1_method m, size_t cap)
{
	struct sl_h1_header h[NHDR];
	struct sl_h1_response resp;
	size_t i;
	int r;

	resp.headers = h;
	resp.max_headers = cap;
	r = sl_h1_parse_response(buf, len, &resp, m);
	CHECK(r == 0 || r == -502);
	CHECK(resp.headers == h && resp.max_headers == cap);
	CHECK(r == 0 ||
	      (resp.why > SL_H1_R_NONE && resp.why < SL_H1_R_NREASONS));
	if (r != 0)
		return;
	CHECK(resp.status >= 100 && resp.status <= 599);
	CHECK(resp.minor == 0 || resp.minor == 1);
	check_slice(buf, len, resp.reason, resp.reason_len);
	CHECK(resp.nheaders <= cap);
	for (i = 0; i < resp.nheaders; i++) {
		check_slice(buf, len, h[i].name, h[i].name_len);
		check_slice(buf, len, h[i].value, h[i].value_len);
		CHECK(h[i].name_len > 0);
	}
	CHECK((resp.flags &
	       ~(unsigned)(SL_H1_F_CONN_CLOSE | SL_H1_F_CONN_KEEPALIVE |
			   SL_H1_F_CONN_OTHER)) == 0);
	if (m == SL_M_HEAD || resp.status < 200 || resp.status == 204 ||
	    resp.status == 304)
		CHECK(resp.body == SL_H1_BODY_NONE);
	if (resp.body == SL_H1_BODY_LENGTH)
		CHECK(resp.content_length > 0 &&
		      resp.content_length <= (uint64_t)INT64_MAX);
	if (resp.body == SL_H1_BODY_CHUNKED)
		CHECK(resp.minor == 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_h1_limits lim = {0, 8192, 32};
	const char *buf = (const char *)data;
	struct sl_h1_scan s;
	long r1, r2 = 0;
	size_t n;

	if (size > 65536)
		return 0;
	sl_h1_scan_init(&s);
	r1 = sl_h1_scan_head(&s, buf, size, &lim, 0);
	CHECK(r1 >= 0 || r1 == -502);
	sl_h1_scan_init(&s);
	for (n = 1; n <= size && r2 == 0; n++)
		r2 = sl_h1_scan_head(&s, buf, n, &lim, 0);
	CHECK(r1 == r2);
	if (r1 > 0) {
		CHECK((size_t)r1 <= size);
		parse(buf, (size_t)r1, SL_M_GET, NHDR);
		parse(buf, (size_t)r1, SL_M_HEAD, NHDR);
	}
	parse(buf, size, SL_M_POST, NHDR);
	parse(buf, size, SL_M_GET, 1);
	return 0;
}
