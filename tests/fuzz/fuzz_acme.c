/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the ACME client's answer reader (acme_http_parse,
 * src/fleet/acme_http.c): the input is an answer as a CA's connection
 * leaves it, read whole until the close, given in a writable copy of
 * exactly its size. The answer is taken or refused: taken, its body is
 * NUL-ended and no longer than the bytes after the head's end, and the
 * bytes right after it when the head names no chunked coding; its fields
 * are NUL-ended within their arrays, Retry-After none (-1) or seconds;
 * refused, no body is left and why says something. The same bytes give
 * the same answer again.
 */
#include <string.h>
#include <strings.h>

#include "acme_int.h"
#include "fuzz.h"

/* Whether s[0..n) holds w (a NUL-ended word) in any case. */
static int
has_word(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);

	for (size_t i = 0; i + wl <= n; i++)
		if (strncasecmp(s + i, w, wl) == 0)
			return 1;
	return 0;
}

/* The offset of the first CRLF CRLF in s[0..n), or n. */
static size_t
head_end(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (memcmp(s + i, "\r\n\r\n", 4) == 0)
			return i;
	return n;
}

static void
check_strings(const struct acme_resp *r)
{
	CHECK(memchr(r->nonce, '\0', sizeof(r->nonce)) != NULL);
	CHECK(memchr(r->location, '\0', sizeof(r->location)) != NULL);
	CHECK(memchr(r->ctype, '\0', sizeof(r->ctype)) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acme_resp r, again;
	char why[256], why2[256], *raw;
	size_t sep, tail;
	int rc, rc2;

	if (size > ACME_BODY_MAX + 65536)
		return 0;
	/* a copy of exactly the input's size: ASan sees a read past it */
	if ((raw = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(raw, data, size);
	memset(&r, 0, sizeof(r));
	why[0] = '\0';
	rc = acme_http_parse(raw, size, &r, why, sizeof(why));
	CHECK(rc == 0 || rc == -1);
	check_strings(&r);
	if (rc == -1) {
		CHECK(r.body == NULL);
		CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)) != NULL);
		free(raw);
		return 0;
	}

	/* taken: an HTTP/1.x answer with a head's end */
	sep = head_end((const char *)data, size);
	CHECK(sep < size);
	CHECK(size >= 12 && memcmp(data, "HTTP/1.", 7) == 0);
	tail = size - sep - 4;
	CHECK(r.body != NULL);
	CHECK(r.len <= tail);
	CHECK(r.body[r.len] == '\0');
	CHECK(r.retry_after >= -1);
	if (!has_word((const char *)data, sep, "chunked"))
		CHECK(memcmp(r.body, data + sep + 4, r.len) == 0);

	/* the same bytes, the same answer (a date's Retry-After may move by
	 * the second that passed) */
	memcpy(raw, data, size);
	memset(&again, 0, sizeof(again));
	rc2 = acme_http_parse(raw, size, &again, why2, sizeof(why2));
	CHECK(rc2 == 0);
	CHECK(again.status == r.status && again.len == r.len);
	CHECK(memcmp(again.body, r.body, r.len + 1) == 0);
	CHECK(strcmp(again.nonce, r.nonce) == 0);
	CHECK(strcmp(again.location, r.location) == 0);
	CHECK(strcmp(again.ctype, r.ctype) == 0);
	CHECK(again.retry_after == r.retry_after ||
	      (again.retry_after >= 0 && r.retry_after >= 0 &&
	       again.retry_after - r.retry_after <= 1 &&
	       r.retry_after - again.retry_after <= 1));
	acme_resp_free(&again);
	acme_resp_free(&r);
	CHECK(r.body == NULL && r.len == 0);
	free(raw);
	return 0;
}
