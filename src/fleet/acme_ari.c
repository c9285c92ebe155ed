/* SPDX-License-Identifier: MIT */
/*
 * ACME Renewal Information (RFC 9773; acme_int.h): a certificate's
 * identifier (section 4.1) and the window its CA suggests for renewing it
 * (section 4.2), asked for on the ACME thread.
 */
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme_int.h"
#include "log.h"
#include "tlscert.h"

/* The certificate's ARI identifier (section 4.1): base64url of its
 * Authority Key Identifier's keyIdentifier, ".", base64url of its serial's
 * bytes. 0, or -1 (no AKI). */
static int
ari_id(const struct sl_tls_cert *c, char *out, size_t n)
{
	const ASN1_OCTET_STRING *kid = X509_get0_authority_key_id(c->leaf);
	const ASN1_INTEGER *sn = X509_get0_serialNumber(c->leaf);
	unsigned char *der = NULL;
	char *a = NULL, *b = NULL;
	int len, ret = -1;

	/* the serial's DER content octets: its encoding less the tag and
	 * length (a leading zero kept) */
	if (kid == NULL || sn == NULL || (len = i2d_ASN1_INTEGER(sn, &der)) < 3)
		goto out;
	{
		const unsigned char *p = der;
		long clen;
		int tag, cls;
		if (ASN1_get_object(&p, &clen, &tag, &cls, len) & 0x80 ||
		    clen <= 0)
			goto out;
		a = acme_b64url(ASN1_STRING_get0_data(kid),
				(size_t)ASN1_STRING_length(kid));
		b = acme_b64url(p, (size_t)clen);
	}
	if (a != NULL && b != NULL && strlen(a) + strlen(b) + 2 <= n) {
		size_t la = strlen(a);
		memcpy(out, a, la);
		out[la] = '.';
		memcpy(out + la + 1, b, strlen(b) + 1);
		ret = 0;
	}
out:
	OPENSSL_free(der);
	free(a);
	free(b);
	return ret;
}

/* An RFC 3339 time ("2026-11-30T03:20:00Z", fractions of a second and an
 * offset allowed): seconds since 1970, or -1. */
static int64_t
rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t t;

	if (p == NULL)
		return -1;
	t = (int64_t)timegm(&tm);
	if (*p == '.')
		while (*++p >= '0' && *p <= '9')
			;
	if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
		int64_t off = (p[1] - '0') * 36000 + (p[2] - '0') * 3600 +
			      (p[4] - '0') * 600 + (p[5] - '0') * 60;
		t += *p == '+' ? -off : off;
	} else if (*p != 'Z' && *p != 'z')
		return -1;
	return t;
}

int
acme_ari_window(struct acme_http *h, const char *ari_url,
		const struct sl_tls_cert *c, int64_t now, int64_t *when,
		int64_t *again)
{
	char id[256], url[1400], start[64], end[64], why[300];
	struct acme_resp r;
	struct acme_js j;
	int64_t ws, we;
	int w;

	if (ari_id(c, id, sizeof(id)) == -1)
		return -1;
	snprintf(url, sizeof(url), "%s%s%s", ari_url,
		 ari_url[strlen(ari_url) - 1] == '/' ? "" : "/", id);
	if (acme_http_call(h, "GET", url, NULL, 0, &r, why, sizeof(why)) ==
	    -1) {
		log_warnx("acme: renewal information %s: %s", url, why);
		return -1;
	}
	if (r.status != 200 || acme_js_parse(&j, &r) == -1 ||
	    (w = sl_json_get(j.text, j.t, 0, "suggestedWindow", 15)) < 0 ||
	    acme_js_str(&j, w, "start", start, sizeof(start)) == -1 ||
	    acme_js_str(&j, w, "end", end, sizeof(end)) == -1 ||
	    (ws = rfc3339(start)) < 0 || (we = rfc3339(end)) < ws) {
		log_warnx("acme: renewal information %s: %d, no window", url,
			  r.status);
		acme_resp_free(&r);
		return -1;
	}
	*again = now + (r.retry_after < 0	   ? 6 * 3600
			: r.retry_after < 1	   ? 1
			: r.retry_after > 6 * 3600 ? 6 * 3600
						   : r.retry_after);
	acme_resp_free(&r);
	*when = ws + (int64_t)acme_rnd((uint64_t)(we - ws) + 1);
	return 0;
}
