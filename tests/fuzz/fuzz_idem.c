/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the parsers of the Idempotency-Key store
 * (src/edge/idem.c). The first byte, modulo 3, picks what the rest is:
 *   0  an Idempotency-Key value (sl_idem_key): taken exactly when a
 *      reference written here from idem.h's words takes it; a key taken
 *      lies within the value, is 1..255 bytes of printable ASCII, is the
 *      bytes between the quotes of a quoted value and the whole of a bare
 *      one; a bare key without a backslash, quoted, is taken the same;
 *   1  a kept answer's bytes (sl_idem_resp_parse), as a store gives them
 *      back: taken exactly when the reference takes them; then its
 *      pointers and lengths lie within the input and add up, the status
 *      is 200..599, sl_idem_resp_head writes the input's first 14 bytes
 *      back, and the input a byte short is refused;
 *   2  a kept answer made here, so that its head is right and the fields
 *      are what is fuzzed: the next two bytes are the status (big-endian),
 *      then the fields up to the first NUL, then the body; checked as 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "idem.h"

/* ---- the references ---------------------------------------------------- */

/* Whether v[0..n) is a key: a quoted sf-string of 1..255 bytes between
 * the quotes (printable ASCII, a backslash only before '"' or '\'), or a
 * bare run of 1..255 visible ASCII bytes without '"' or ','. */
static int
ref_key(const unsigned char *v, size_t n)
{
	if (n >= 1 && v[0] == '"') {
		if (n < 3 || n - 2 > SL_IDEM_KEY_MAX || v[n - 1] != '"')
			return 0;
		for (size_t i = 1; i < n - 1; i++) {
			if (v[i] < 0x20 || v[i] > 0x7e || v[i] == '"')
				return 0;
			if (v[i] == '\\') {
				/* the escaped byte lies before the closing
				 * quote */
				if (i + 1 >= n - 1 ||
				    (v[i + 1] != '"' && v[i + 1] != '\\'))
					return 0;
				i++;
			}
		}
		return 1;
	}
	if (n == 0 || n > SL_IDEM_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] <= 0x20 || v[i] >= 0x7f || v[i] == '"' || v[i] == ',')
			return 0;
	return 1;
}

static int
ref_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') ||
	       (c != 0 && memchr("!#$%&'*+-.^_`|~", c, 15) != NULL);
}

/* Whether f[0..n) is lines, each ended by CRLF: a token, ':', then bytes
 * that are no control byte but HTAB. */
static int
ref_fields(const unsigned char *f, size_t n)
{
	size_t s = 0;

	while (s < n) {
		size_t e = s, c;
		/* the line's end: the first CRLF */
		while (e + 1 < n && !(f[e] == '\r' && f[e + 1] == '\n'))
			e++;
		if (e + 1 >= n)
			return 0;
		for (c = s; c < e && ref_tchar(f[c]); c++)
			;
		if (c == s || c == e || f[c] != ':')
			return 0;
		for (c++; c < e; c++)
			if ((f[c] < 0x20 && f[c] != '\t') || f[c] == 0x7f)
				return 0;
		s = e + 2;
	}
	return 1;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int
ref_resp(const unsigned char *p, size_t n)
{
	unsigned status;
	uint64_t flen, blen;

	if (n < SL_IDEM_RESP_HEAD || memcmp(p, "SLI1", 4) != 0)
		return 0;
	status = (unsigned)p[4] << 8 | p[5];
	flen = be32(p + 6);
	blen = be32(p + 10);
	if (status < 200 || status > 599 ||
	    SL_IDEM_RESP_HEAD + flen + blen != n)
		return 0;
	return ref_fields(p + SL_IDEM_RESP_HEAD, (size_t)flen);
}

/* ---- the checks --------------------------------------------------------- */

static void
check_key(const char *v, size_t n)
{
	const char *k = NULL;
	size_t kl = 0;
	int r = sl_idem_key(v, n, &k, &kl);

	CHECK(r == 0 || r == -1);
	CHECK((r == 0) == ref_key((const unsigned char *)v, n));
	if (r != 0)
		return;
	CHECK(k != NULL && k >= v && kl <= n && k + kl <= v + n);
	CHECK(kl >= 1 && kl <= SL_IDEM_KEY_MAX);
	for (size_t i = 0; i < kl; i++) {
		unsigned char c = (unsigned char)k[i];
		CHECK(c >= 0x20 && c < 0x7f);
	}
	if (v[0] == '"') {
		/* the bytes between the quotes, escapes kept */
		CHECK(k == v + 1 && kl == n - 2 && v[n - 1] == '"');
		return;
	}
	CHECK(k == v && kl == n);
	CHECK(memchr(k, ' ', kl) == NULL && memchr(k, ',', kl) == NULL &&
	      memchr(k, '"', kl) == NULL);
	/* quoted, the same key (a backslash would be an escape) */
	if (memchr(v, '\\', n) == NULL) {
		char *q = malloc(n + 2);
		const char *k2;
		size_t kl2;
		if (q == NULL)
			return;
		q[0] = '"';
		memcpy(q + 1, v, n);
		q[n + 1] = '"';
		CHECK(sl_idem_key(q, n + 2, &k2, &kl2) == 0);
		CHECK(k2 == q + 1 && kl2 == n && memcmp(k2, v, n) == 0);
		free(q);
	}
}

static void
check_resp(const unsigned char *p, size_t n)
{
	struct sl_idem_resp r;
	unsigned char head[SL_IDEM_RESP_HEAD];
	int rc = sl_idem_resp_parse(p, n, &r);

	CHECK(rc == 0 || rc == -1);
	CHECK((rc == 0) == ref_resp(p, n));
	if (rc != 0)
		return;
	CHECK(r.status >= 200 && r.status <= 599);
	CHECK(r.fields == (const char *)p + SL_IDEM_RESP_HEAD);
	CHECK(r.flen <= n - SL_IDEM_RESP_HEAD);
	CHECK(r.body == r.fields + r.flen);
	CHECK(r.blen <= n - SL_IDEM_RESP_HEAD - r.flen);
	CHECK(SL_IDEM_RESP_HEAD + r.flen + r.blen == n);
	CHECK(r.body + r.blen == (const char *)p + n);
	/* fields, when there are any, end with CRLF */
	CHECK(r.flen == 0 ||
	      (r.flen >= 4 && memcmp(r.fields + r.flen - 2, "\r\n", 2) == 0));
	sl_idem_resp_head(head, r.status, (uint32_t)r.flen, (uint32_t)r.blen);
	CHECK(memcmp(head, p, SL_IDEM_RESP_HEAD) == 0);
	/* the lengths are exact: a byte short is refused */
	CHECK(sl_idem_resp_parse(p, n - 1, &r) == -1);
}

/* Mode 2: status, fields up to the first NUL, body, into an answer of
 * exactly its size. */
static void
check_made(const unsigned char *d, size_t n)
{
	const unsigned char *nul;
	size_t flen, blen;
	unsigned char *a;

	if (n < 2)
		return;
	nul = memchr(d + 2, 0, n - 2);
	flen = nul != NULL ? (size_t)(nul - (d + 2)) : n - 2;
	blen = nul != NULL ? n - 2 - flen - 1 : 0;
	if ((a = malloc(SL_IDEM_RESP_HEAD + flen + blen)) == NULL)
		return;
	sl_idem_resp_head(a, d[0] << 8 | d[1], (uint32_t)flen, (uint32_t)blen);
	memcpy(a + SL_IDEM_RESP_HEAD, d + 2, flen);
	if (blen > 0)
		memcpy(a + SL_IDEM_RESP_HEAD + flen, nul + 1, blen);
	check_resp(a, SL_IDEM_RESP_HEAD + flen + blen);
	/* with a good status, only the fields decide */
	a[4] = 0x01; /* 0x01c8: 456 */
	a[5] = 0xc8;
	CHECK((sl_idem_resp_parse(a, SL_IDEM_RESP_HEAD + flen + blen,
				  &(struct sl_idem_resp){0}) == 0) ==
	      ref_fields(a + SL_IDEM_RESP_HEAD, flen));
	free(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 65536)
		return 0;
	/* data + 1 ends where the input does: a read past it is seen */
	switch (data[0] % 3) {
	case 0:
		check_key((const char *)data + 1, size - 1);
		break;
	case 1:
		check_resp(data + 1, size - 1);
		break;
	default:
		check_made(data + 1, size - 1);
		break;
	}
	return 0;
}
