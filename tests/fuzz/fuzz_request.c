/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for request heads: the scanner at once and byte by byte
 * (which must agree), then sl_h1_parse_request on what it measured and on
 * the raw input, checking every slice stays inside the buffer; a head it
 * takes, handed over as fields to sl_h1_request_check (as HTTP/2 hands
 * one over), must be taken the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "h1_parse.h"

#define NHDR 40

static void
check_slice(const char *buf, size_t len, const char *p, size_t n)
{
	if (p == NULL) {
		CHECK(n == 0);
		return;
	}
	CHECK(p >= buf && n <= len && (size_t)(p - buf) <= len - n);
}

static int
known_status(int r)
{
	return r == 0 || r == -400 || r == -405 || r == -414 || r == -417 ||
	       r == -431 || r == -501 || r == -505;
}

static int
parse(const char *buf, size_t len, const struct sl_h1_limits *lim, size_t cap)
{
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;
	size_t i;
	int r;

	req.headers = h;
	req.max_headers = cap;
	r = sl_h1_parse_request(buf, len, &req, lim);
	CHECK(known_status(r));
	CHECK(req.headers == h && req.max_headers == cap);
	/* every refusal names its rule (logs and metrics depend on it) */
	CHECK(r == 0 || (req.why > SL_H1_R_NONE && req.why < SL_H1_R_NREASONS));
	if (r != 0)
		return r;
	check_slice(buf, len, req.method, req.method_len);
	CHECK(req.method_len > 0);
	check_slice(buf, len, req.target, req.target_len);
	CHECK(req.target_len > 0 && req.target_len <= lim->max_uri_bytes);
	if (!(req.path_len == 1 && req.path[0] == '/'))
		check_slice(buf, len, req.path, req.path_len);
	CHECK(req.path_len > 0 && (req.path[0] == '/' || req.path[0] == '*'));
	check_slice(buf, len, req.host, req.host_len);
	CHECK(req.minor == 0 || req.minor == 1);
	if (req.minor == 1)
		CHECK(req.host != NULL && req.host_len > 0);
	CHECK(req.method_id != SL_M_CONNECT);
	CHECK(req.nheaders <= cap && req.nheaders <= lim->max_headers);
	for (i = 0; i < req.nheaders; i++) {
		check_slice(buf, len, h[i].name, h[i].name_len);
		check_slice(buf, len, h[i].value, h[i].value_len);
		CHECK(h[i].name_len > 0);
	}
	switch (req.body) {
	case SL_H1_BODY_NONE:
		CHECK(req.content_length == 0);
		break;
	case SL_H1_BODY_LENGTH:
		CHECK(req.content_length > 0 &&
		      req.content_length <= (uint64_t)INT64_MAX);
		break;
	case SL_H1_BODY_CHUNKED:
		CHECK(req.minor == 1 && req.content_length == 0);
		break;
	default:
		CHECK(0);
	}
	if (req.minor == 1) {
		/* the same head handed over as fields (a codec's, HTTP/2)
		 * gets the same verdict from sl_h1_request_check, whether
		 * the fields' bytes are read again or not */
		struct sl_h1_header h2[NHDR];
		struct sl_h1_request f;
		unsigned checked;
		for (checked = 0; checked <= SL_H1_CHECKED_FIELDS; checked++) {
			memset(&f, 0, sizeof(f));
			f.method = req.method;
			f.method_len = req.method_len;
			f.target = req.target;
			f.target_len = req.target_len;
			f.headers = h2;
			f.max_headers = cap;
			f.nheaders = req.nheaders;
			memcpy(h2, h, req.nheaders * sizeof(*h));
			for (i = 0; i < req.nheaders; i++)
				h2[i].kind = SL_HK_UNSET;
			CHECK(sl_h1_request_check(&f, len, lim, checked) == 0);
			CHECK(f.body == req.body &&
			      f.content_length == req.content_length &&
			      f.flags == req.flags &&
			      f.host_len == req.host_len &&
			      f.path_len == req.path_len &&
			      f.method_id == req.method_id);
			for (i = 0; i < req.nheaders; i++)
				CHECK(h2[i].kind == h[i].kind &&
				      h2[i].value_len == h[i].value_len);
		}
	}
	return 0;
}

static void
run(const char *buf, size_t size, const struct sl_h1_limits *lim)
{
	struct sl_h1_scan s;
	long r1, r2 = 0;
	size_t n;
	int r;

	sl_h1_scan_init(&s);
	r1 = sl_h1_scan_head(&s, buf, size, lim, 1);
	CHECK(r1 >= 0 || r1 == -400 || r1 == -414 || r1 == -431);
	CHECK(r1 >= 0 || (s.why > SL_H1_R_NONE && s.why < SL_H1_R_NREASONS));
	sl_h1_scan_init(&s);
	for (n = 1; n <= size && r2 == 0; n++) {
		r2 = sl_h1_scan_head(&s, buf, n, lim, 1);
		CHECK(s.off <= n);
	}
	CHECK(r1 == r2);

	if (r1 > 0) {
		CHECK((size_t)r1 <= size &&
		      (size_t)r1 <= lim->max_header_bytes);
		CHECK(r1 >= 4 && buf[r1 - 4] == '\r' && buf[r1 - 3] == '\n' &&
		      buf[r1 - 2] == '\r' && buf[r1 - 1] == '\n');
		r = parse(buf, (size_t)r1, lim, NHDR);
		/* What the scanner enforces, the parser cannot find. */
		CHECK(r != -414 && r != -431);
	}
	/* The parser on its own, on anything. */
	(void)parse(buf, size, lim, NHDR);
	(void)parse(buf, size, lim, 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_h1_limits wide = {256, 8192, 32};
	static const struct sl_h1_limits tight = {16, 128, 3};
	const char *buf = (const char *)data;

	if (size > 65536)
		return 0;
	run(buf, size, &wide);
	run(buf, size, &tight);
	return 0;
}
