/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for what sluice's QUIC endpoint decodes itself from a
 * datagram before any connection reads it (src/quic): the header's form,
 * version and connection IDs (sl_qconn_peek), the worker a datagram is
 * steered to (sl_qroute_worker, the C twin of the kernel's program), a
 * client Initial's header (sl_qconn_initial, libngtcp2's), and a Retry
 * token as a client sends it back (sl_qtoken_open). Checked: the IDs lie
 * in the datagram and are no longer than QUIC allows for version 1, the
 * worker is one of those asked for, an Initial has its 1,200 bytes, and
 * no token opens but one sealed by the key for that address, whose
 * contents come back whole (a token is made of the input and sealed,
 * then opened, then the input itself is tried as one).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "qconn.h"
#include "qroute.h"
#include "qtoken.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = {1, 2, 3, 4};
	struct sl_qpeek p;
	struct sl_qinitial in;
	struct sl_qtoken t, got;
	struct sockaddr_in a;
	uint8_t tok[SL_QTOKEN_MAX];
	unsigned n = size > 0 ? (unsigned)data[0] % 8 + 1 : 1;
	int r = sl_qconn_peek(data, size, &p);
	long tl;

	CHECK(sl_qroute_worker(data, size, n) < n);
	if (r >= 0) {
		CHECK(p.dcid >= data && p.dcid + p.dcid_len <= data + size);
		if (p.version != 0)
			CHECK(p.scid >= data &&
			      p.scid + p.scid_len <= data + size);
		if (r == 0)
			CHECK(p.dcid_len <= 20 && p.scid_len <= 20);
		if (r == 1)
			CHECK(p.version != 0 && p.version != 1);
	}
	if (sl_qconn_initial(data, size, &in) == 0) {
		CHECK(size >= 1200 && in.version != 0);
		CHECK(in.dcid_len >= 8 && in.dcid_len <= 20 &&
		      in.scid_len <= 20);
		CHECK(in.token_len == 0 ||
		      (in.token >= data &&
		       in.token + in.token_len <= data + size));
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(4433);
	/* the input itself as a token: it never opens */
	CHECK(sl_qtoken_open(key, data, size, (struct sockaddr *)&a, sizeof(a),
			     1000, 1000, &got) == -1);
	/* a token of the input's bytes opens whole, and only here */
	memset(&t, 0, sizeof(t));
	t.odcid_len = (uint8_t)(size > 0 ? data[0] % 21 : 0);
	t.rscid_len = (uint8_t)(size > 1 ? data[1] % 21 : 0);
	memcpy(t.odcid, data, size < t.odcid_len ? size : t.odcid_len);
	memcpy(t.rscid, data, size < t.rscid_len ? size : t.rscid_len);
	t.made_ms = 500;
	tl = sl_qtoken_seal(key, &t, (struct sockaddr *)&a, sizeof(a), tok);
	CHECK(tl > 0 && tl <= SL_QTOKEN_MAX);
	CHECK(sl_qtoken_open(key, tok, (size_t)tl, (struct sockaddr *)&a,
			     sizeof(a), 1000, 1000, &got) == 0);
	CHECK(got.odcid_len == t.odcid_len && got.rscid_len == t.rscid_len &&
	      memcmp(got.odcid, t.odcid, t.odcid_len) == 0 &&
	      memcmp(got.rscid, t.rscid, t.rscid_len) == 0);
	a.sin_port = htons(4434);
	CHECK(sl_qtoken_open(key, tok, (size_t)tl, (struct sockaddr *)&a,
			     sizeof(a), 1000, 1000, &got) == -1);
	return 0;
}
