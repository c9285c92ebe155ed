/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for what crosses from a route's Lua script into a head
 * (src/http/fieldcheck.c; doc/lua.md): a name and a value the checks let
 * through, written as a field of a request head, must be read back by
 * sluice's own HTTP/1.1 parser (the oracle) as exactly one field, of that
 * name and that value, of no kind the framing or forwarding owns: no
 * line break smuggles a second field in, no Content-Length or Host is
 * set, nothing is lost. Input: the name's length (its first byte), the
 * name, then the value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldcheck.h"
#include "fuzz.h"
#include "h1_parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char head[SL_FIELDCHECK_VALUE_MAX + 512];
	struct sl_h1_limits lim = {.max_header_bytes = sizeof(head),
				   .max_headers = 8,
				   .max_uri_bytes = 64};
	struct sl_h1_header h[8];
	struct sl_h1_request req;
	const char *name, *value;
	size_t nn, vn, n;
	int r;

	if (size < 1)
		return 0;
	nn = data[0];
	if (nn > size - 1)
		nn = size - 1;
	name = (const char *)data + 1;
	value = name + nn;
	vn = size - 1 - nn;
	if (sl_fieldcheck_name(name, nn) != SL_FC_OK ||
	    sl_fieldcheck_value(value, vn) != SL_FC_OK) {
		/* refused: never written anywhere */
		return 0;
	}
	CHECK(nn >= 1 && nn <= 256 && vn <= SL_FIELDCHECK_VALUE_MAX);
	n = (size_t)snprintf(head, sizeof(head),
			     "GET / HTTP/1.1\r\nHost: a\r\n");
	memcpy(head + n, name, nn);
	memcpy(head + n + nn, ": ", 2);
	memcpy(head + n + nn + 2, value, vn);
	memcpy(head + n + nn + 2 + vn, "\r\n\r\n", 4);
	n += nn + 2 + vn + 4;
	req.headers = h;
	req.max_headers = 8;
	r = sl_h1_parse_request(head, n, &req, &lim);
	CHECK(r == 0);
	CHECK(req.nheaders == 2);
	CHECK(h[1].name_len == nn && memcmp(h[1].name, name, nn) == 0);
	CHECK(h[1].value_len == vn &&
	      (vn == 0 || memcmp(h[1].value, value, vn) == 0));
	CHECK(sl_h1_classify(name, nn) == SL_HK_OTHER);
	CHECK(req.body == SL_H1_BODY_NONE);
	CHECK(req.host_len == 1 && req.host[0] == 'a');
	return 0;
}
