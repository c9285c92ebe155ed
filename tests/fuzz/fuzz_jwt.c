/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for JSON Web Tokens and key sets (src/edge/jwt.c). The
 * first byte picks what the rest is:
 *   0-63    a key set: sl_jwks_parse must give a set of usable keys, each
 *           of a known type, with distinct kids, or NULL with a reason;
 *   64-191  a token, checked against a fixed set (one P-256 key, "doc")
 *           with a policy the byte's low bits vary, as not verified and
 *           as a cache's verified: the outcome is one of the enum's, the
 *           two differ only where the signature is decoded and checked,
 *           no token of the input passes the signature (the input has no
 *           key's private half: a pass would be a forgery), and a
 *           token's fields lie in the output's buffer and hold no control
 *           byte;
 *   192-255 an Authorization value and a Cookie value (split at the first
 *           NUL): what sl_jwt_bearer and sl_jwt_cookie find lies inside
 *           them, the bearer token with no space, comma or tab.
 */
#include <string.h>

#include "fuzz.h"
#include "jwt.h"

static const char doc_jwks[] =
    "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", "
    "\"x\": \"n_P3yv83hrzbe4d1QK2hZl5h1eNSk28X4CTIC4D01u4\", "
    "\"y\": \"QQTp7yg7ohYabW9VLD7po-finBgtneIJUNCltqEQYQE\", "
    "\"kid\": \"doc\", \"use\": \"sig\"}]}";

static struct sl_jwks *doc_set;

static void
fuzz_keys(const char *p, size_t n)
{
	char why[256];
	struct sl_jwks *ks = sl_jwks_parse(p, n, why, sizeof(why));

	if (ks == NULL) {
		CHECK(memchr(why, '\0', sizeof(why)) != NULL && why[0] != '\0');
		return;
	}
	CHECK(ks->n > 0);
	for (size_t i = 0; i < ks->n; i++) {
		const struct sl_jwk *k = &ks->keys[i];
		CHECK(k->pkey != NULL);
		CHECK(k->type >= SL_JWK_RSA && k->type <= SL_JWK_OKP);
		CHECK(k->alg >= -1 && k->alg < SL_JWA_N);
		for (size_t j = 0; k->kid != NULL && j < i; j++)
			CHECK(ks->keys[j].kid == NULL ||
			      strcmp(ks->keys[j].kid, k->kid) != 0);
	}
	sl_jwks_free(ks);
}

static void
fuzz_token(unsigned sel, const char *p, size_t n)
{
	static char *iss[] = {"https://id.test"}, *aud[] = {"pay"},
		    *vals[] = {"pay:write"};
	struct sl_jwt_require rq[1] = {{"scope", vals, 1}};
	struct sl_jwt_field fl[3] = {
	    {"sub", "X-Sub"}, {"n", "X-N"}, {"tenant", "X-T"}};
	struct sl_jwt_policy pol = {0};
	struct sl_jwt_out out;
	char kid[64];
	int r, rv;

	if (doc_set == NULL) {
		char why[256];
		doc_set = sl_jwks_parse(doc_jwks, sizeof(doc_jwks) - 1, why,
					sizeof(why));
		CHECK(doc_set != NULL);
	}
	pol.algs = SL_JWA_ALL;
	if (sel & 1) {
		pol.issuers = iss;
		pol.nissuers = 1;
		pol.audiences = aud;
		pol.naudiences = 1;
	}
	if (sel & 2) {
		pol.require = rq;
		pol.nrequire = 1;
	}
	pol.fields = fl;
	pol.nfields = 3;
	pol.exp_optional = (sel & 4) != 0;
	pol.skew_s = (sel & 8) ? 60 : 0;
	r = sl_jwt_check(&pol, doc_set, p, n, 1800000000LL, 0, &out);
	CHECK(r >= 0 && r < SL_JWT_N);
	/* the fuzzer holds no private key: nothing it writes is signed */
	CHECK(r != SL_JWT_OK);
	rv = sl_jwt_check(&pol, doc_set, p, n, 1800000000LL, 1, &out);
	CHECK(rv >= 0 && rv < SL_JWT_N);
	if (rv == SL_JWT_OK) {
		size_t used = 0;
		for (size_t i = 0; i < pol.nfields; i++) {
			if (!out.f[i].present) {
				CHECK(out.f[i].len == 0);
				continue;
			}
			CHECK((size_t)out.f[i].off + out.f[i].len <=
			      sizeof(out.buf));
			CHECK(out.f[i].off >= used);
			used = (size_t)out.f[i].off + out.f[i].len;
			for (size_t k = 0; k < out.f[i].len; k++) {
				unsigned char c =
				    (unsigned char)out.buf[out.f[i].off + k];
				CHECK((c >= 0x20 || c == '\t') && c != 0x7f);
			}
		}
	}
	/* a cache's word changes the signature's step only: its decoding
	 * (malformed) and its check */
	CHECK(rv == r || r == SL_JWT_SIGNATURE || r == SL_JWT_MALFORMED);
	if (sl_jwt_kid(p, n, kid, sizeof(kid)) == 0)
		CHECK(strlen(kid) < sizeof(kid));
}

static void
fuzz_fields(const char *p, size_t n)
{
	const char *z = memchr(p, '\0', n), *t;
	size_t an = z != NULL ? (size_t)(z - p) : n, tl;

	if (sl_jwt_bearer(p, an, &t, &tl) == 0) {
		CHECK(t >= p && t + tl <= p + an && tl > 0);
		CHECK(memchr(t, ' ', tl) == NULL &&
		      memchr(t, ',', tl) == NULL &&
		      memchr(t, '\t', tl) == NULL);
	}
	if (z != NULL) {
		const char *c = z + 1;
		size_t cn = n - an - 1;
		if (sl_jwt_cookie(c, cn, "session", 7, &t, &tl) == 0)
			CHECK(t >= c && t + tl <= c + cn);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;

	if (size == 0)
		return 0;
	if (data[0] < 64)
		fuzz_keys(p, size - 1);
	else if (data[0] < 192)
		fuzz_token(data[0], p, size - 1);
	else
		fuzz_fields(p, size - 1);
	return 0;
}
