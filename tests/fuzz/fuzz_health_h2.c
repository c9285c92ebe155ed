/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for health_h2.c: what a server sends to an HTTP/2
 * health check, fed to a check. Pure: no socket, no worker.
 *
 * An input is one byte of settings, then the server's bytes:
 *   [0] & 0x03   the check: a GET, a gRPC check of the server as a whole,
 *                of a named service, or (3) a GET over "TLS" (the scheme)
 *   [0] & 0x04   a SETTINGS frame (empty) is put before the bytes, as a
 *                server's connection preface, so that the fuzzer reaches
 *                the frames after it
 *   [0] >> 3     the bytes are fed in pieces of this many (0: all at once)
 * Checked (CHECK):
 * - the check's own bytes start with the client preface, then a SETTINGS
 *   frame;
 * - sl_hc_h2_input says 0 until it says 1 or -1, never anything else, and
 *   after 1 or -1 it is not fed again; with 1 the result holds a final
 *   :status (200..999), a grpc-status of -1 or 0..1000, a serving status
 *   of -1 or 0..1000 (and -1 on a GET); with -1 it gives a reason;
 * - sl_hc_grpc_serving on the same bytes (as a gRPC frame) returns -1 or
 *   0..1000, and -1 when the frame's length does not match;
 * - nothing leaks (LeakSanitizer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "health_h2.h"

#include "fuzz.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
	static uint8_t buf[9 + 65536];
	struct sl_hc_h2_result res;
	const char *out, *why = NULL;
	size_t outlen, n, piece, off = 0;
	struct sl_hc_h2 *x;
	int kind, r = 0;

	if (size < 1)
		return 0;
	kind = data[0] & 3;
	piece = data[0] >> 3;
	data++;
	size--;
	if (size > sizeof(buf) - 9)
		size = sizeof(buf) - 9;

	/* the message's reader, on the bytes as they are */
	{
		int s = sl_hc_grpc_serving(data, size);
		CHECK(s >= -1 && s <= 1000);
		if (size >= 5 &&
		    (((uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
		      (uint32_t)data[3] << 8 | data[4]) != size - 5))
			CHECK(s == -1);
	}

	x = sl_hc_h2_new("127.0.0.1:50051", "/healthz", kind == 3,
			 kind == 1   ? ""
			 : kind == 2 ? "risk.v1.Scoring"
				     : NULL,
			 &out, &outlen);
	if (x == NULL)
		return 0; /* out of memory */
	CHECK(outlen >= sizeof(preface) - 1 + 9);
	CHECK(memcmp(out, preface, sizeof(preface) - 1) == 0);
	CHECK(out[sizeof(preface) - 1 + 3] == 4); /* SETTINGS */

	n = 0;
	if (data[-1] & 4) {
		memcpy(buf, settings, sizeof(settings));
		n = sizeof(settings);
	}
	memcpy(buf + n, data, size);
	n += size;
	if (piece == 0)
		piece = n > 0 ? n : 1;
	while (off < n && r == 0) {
		size_t k = n - off < piece ? n - off : piece;
		memset(&res, 0xa5, sizeof(res));
		r = sl_hc_h2_input(x, buf + off, k, &res, &why);
		CHECK(r == 0 || r == 1 || r == -1);
		off += k;
	}
	if (r == 1) {
		CHECK(res.status >= 200 && res.status <= 999);
		CHECK(res.grpc_status >= -1 && res.grpc_status <= 1000);
		CHECK(res.serving >= -1 && res.serving <= 1000);
		if (kind == 0 || kind == 3)
			CHECK(res.serving == -1);
	} else if (r == -1) {
		CHECK(why != NULL && why[0] != '\0');
	}
	sl_hc_h2_free(x);
	return 0;
}
