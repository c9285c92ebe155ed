/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of JSON Web Tokens and key sets (src/edge/jwt.c): keys made
 * here with OpenSSL, written as JWKs and signed as JWS, every algorithm
 * through sl_jwt_check; each way a token is refused, the order of the
 * checks, the claims to fields; the key set's parse and its refusals;
 * base64url's strictness; where a token is found in a request's fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jwt.c"

#define NOW 1800000000LL

static void
b64u_enc(const uint8_t *in, size_t n, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = a[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = a[(acc << (6 - bits)) & 63];
	out[o] = '\0';
}

static char *
b64u_str(const char *s, char *out)
{
	b64u_enc((const uint8_t *)s, strlen(s), out);
	return out;
}

/* ---- keys ------------------------------------------------------------*/

static EVP_PKEY *k_ec, *k_ec384, *k_rsa, *k_ed;

static int
keys_make(void **state)
{
	(void)state;
	k_ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	k_ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	k_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return k_ec && k_ec384 && k_rsa && k_ed ? 0 : -1;
}

static int
keys_free(void **state)
{
	(void)state;
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_ec384);
	EVP_PKEY_free(k_rsa);
	EVP_PKEY_free(k_ed);
	return 0;
}

/* k's public JWK, with kid (and "alg" when alg is not NULL), appended to
 * out. */
static void
jwk_of(EVP_PKEY *k, const char *kid, const char *alg, char *out, size_t room)
{
	char a[700], b[700], extra[64] = "";
	uint8_t buf[600];
	size_t n = 0;

	if (alg != NULL)
		snprintf(extra, sizeof(extra), ",\"alg\":\"%s\"", alg);
	if (EVP_PKEY_is_a(k, "RSA")) {
		BIGNUM *bn = NULL, *be = NULL;
		assert_int_equal(EVP_PKEY_get_bn_param(k, "n", &bn), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(k, "e", &be), 1);
		n = (size_t)BN_bn2bin(bn, buf);
		b64u_enc(buf, n, a);
		n = (size_t)BN_bn2bin(be, buf);
		b64u_enc(buf, n, b);
		BN_free(bn);
		BN_free(be);
		snprintf(out + strlen(out), room - strlen(out),
			 "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":"
			 "\"%s\"%s}",
			 kid, a, b, extra);
	} else if (EVP_PKEY_is_a(k, "EC")) {
		size_t half;
		assert_int_equal(EVP_PKEY_get_octet_string_param(
				     k, "pub", buf, sizeof(buf), &n),
				 1);
		half = (n - 1) / 2;
		b64u_enc(buf + 1, half, a);
		b64u_enc(buf + 1 + half, half, b);
		snprintf(out + strlen(out), room - strlen(out),
			 "{\"kty\":\"EC\",\"crv\":\"%s\",\"kid\":\"%s\",\"x\":"
			 "\"%s\",\"y\":\"%s\"%s}",
			 half == 32 ? "P-256" : "P-384", kid, a, b, extra);
	} else {
		n = sizeof(buf);
		assert_int_equal(EVP_PKEY_get_raw_public_key(k, buf, &n), 1);
		b64u_enc(buf, n, a);
		snprintf(out + strlen(out), room - strlen(out),
			 "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"%s\","
			 "\"x\":\"%s\"%s}",
			 kid, a, extra);
	}
}

/* The test's key set: ec1, ec384, rsa1, ed1. */
static struct sl_jwks *
test_set(void)
{
	char text[8192] = "{\"keys\":[", why[256];
	struct sl_jwks *ks;

	jwk_of(k_ec, "ec1", NULL, text, sizeof(text));
	strcat(text, ",");
	jwk_of(k_ec384, "ec384", NULL, text, sizeof(text));
	strcat(text, ",");
	jwk_of(k_rsa, "rsa1", NULL, text, sizeof(text));
	strcat(text, ",");
	jwk_of(k_ed, "ed1", NULL, text, sizeof(text));
	strcat(text, "]}");
	ks = sl_jwks_parse(text, strlen(text), why, sizeof(why));
	if (ks == NULL)
		fail_msg("%s", why);
	assert_int_equal(ks->n, 4);
	return ks;
}

/* ---- tokens ----------------------------------------------------------*/

/* A token of header and claims (JSON texts) signed by alg with k. */
static void
sign(const char *alg, EVP_PKEY *k, const char *header, const char *claims,
     char *out)
{
	char h[2048], c[12000];
	uint8_t sig[1024], raw[132];
	size_t slen = sizeof(sig);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	int a = sl_jwa_parse(alg, strlen(alg));

	sprintf(out, "%s.%s", b64u_str(header, h), b64u_str(claims, c));
	assert_non_null(m);
	assert_int_equal(
	    EVP_DigestSignInit(m, &pc, a == SL_JWA_EDDSA ? NULL : alg_md(a),
			       NULL, k),
	    1);
	if (a >= SL_JWA_PS256 && a <= SL_JWA_PS512) {
		EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST);
	}
	assert_int_equal(
	    EVP_DigestSign(m, sig, &slen, (uint8_t *)out, strlen(out)), 1);
	EVP_MD_CTX_free(m);
	if (a == SL_JWA_ES256 || a == SL_JWA_ES384) {
		/* DER to R || S */
		size_t half = a == SL_JWA_ES256 ? 32 : 48;
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)slen);
		assert_non_null(es);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)half);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, (int)half);
		ECDSA_SIG_free(es);
		memcpy(sig, raw, 2 * half);
		slen = 2 * half;
	}
	strcat(out, ".");
	b64u_enc(sig, slen, out + strlen(out));
}

static char tok[16384];

static const char *
claims_std(void)
{
	static char c[512];
	snprintf(
	    c, sizeof(c),
	    "{\"iss\":\"https://id.test\",\"aud\":\"pay\",\"sub\":\"u1\","
	    "\"exp\":%lld,\"scope\":\"a b pay:write\",\"n\":42,\"t\":true}",
	    NOW + 60);
	return c;
}

static struct sl_jwt_policy
policy(void)
{
	static char *iss[] = {"https://id.test"}, *aud[] = {"pay", "other"};
	struct sl_jwt_policy p = {0};

	p.algs = SL_JWA_ALL;
	p.issuers = iss;
	p.nissuers = 1;
	p.audiences = aud;
	p.naudiences = 2;
	p.skew_s = 0;
	return p;
}

static int
check(const struct sl_jwt_policy *p, const struct sl_jwks *ks, const char *t,
      int verified)
{
	struct sl_jwt_out out;

	return sl_jwt_check(p, ks, t, strlen(t), NOW, verified, &out);
}

static void
test_every_algorithm(void **state)
{
	static const struct {
		const char *alg, *kid;
		EVP_PKEY **k;
	} cases[] = {
	    {"ES256", "ec1", &k_ec},   {"ES384", "ec384", &k_ec384},
	    {"RS256", "rsa1", &k_rsa}, {"RS384", "rsa1", &k_rsa},
	    {"RS512", "rsa1", &k_rsa}, {"PS256", "rsa1", &k_rsa},
	    {"PS384", "rsa1", &k_rsa}, {"PS512", "rsa1", &k_rsa},
	    {"EdDSA", "ed1", &k_ed},
	};
	struct sl_jwks *ks = test_set();
	struct sl_jwt_policy p = policy();
	char h[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_jwt_out out;
		snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
			 cases[i].alg, cases[i].kid);
		sign(cases[i].alg, *cases[i].k, h, claims_std(), tok);
		assert_int_equal(
		    sl_jwt_check(&p, ks, tok, strlen(tok), NOW, 0, &out),
		    SL_JWT_OK);
		assert_non_null(out.key);
		assert_string_equal(out.key->kid, cases[i].kid);
		/* only this algorithm allowed: passes; all but it: no */
		p.algs = 1u << out.alg;
		assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
		p.algs = SL_JWA_ALL & ~(1u << out.alg);
		assert_int_equal(check(&p, ks, tok, 0), SL_JWT_ALG);
		p.algs = SL_JWA_ALL;
		/* without kid: found among the keys of its family */
		snprintf(h, sizeof(h), "{\"alg\":\"%s\"}", cases[i].alg);
		sign(cases[i].alg, *cases[i].k, h, claims_std(), tok);
		assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	}
	sl_jwks_free(ks);
}

static void
test_refusals(void **state)
{
	struct sl_jwks *ks = test_set();
	struct sl_jwt_policy p = policy();
	char c[512], h[1024], b[2048];

	(void)state;
	/* a good one, then its signature's last byte changed */
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", claims_std(),
	     tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_SIGNATURE);
	/* a cache's word skips the signature, not the claims */
	assert_int_equal(check(&p, ks, tok, 1), SL_JWT_OK);
	/* none, HS256, an unknown algorithm. An unsecured token (nothing
	 * after the last dot: RFC 7519 section 6.1) is the classic attack:
	 * an algorithm refused, as an alert on jwt_algorithm expects, not a
	 * malformed token */
	snprintf(tok, sizeof(tok), "%s.%s.", b64u_str("{\"alg\":\"none\"}", h),
		 b64u_str(claims_std(), b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_ALG);
	snprintf(tok, sizeof(tok), "%s.%s.",
		 b64u_str("{\"alg\":\"None\",\"typ\":\"JWT\"}", h),
		 b64u_str(claims_std(), b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_ALG);
	snprintf(tok, sizeof(tok), "%s.%s.", b64u_str("{\"alg\":\"HS256\"}", h),
		 b64u_str(claims_std(), b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_ALG);
	/* what is malformed stays so: a taken algorithm with no signature,
	 * a signature of an impossible length, claims that are no JSON */
	snprintf(tok, sizeof(tok), "%s.%s.",
		 b64u_str("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", h),
		 b64u_str(claims_std(), b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_MALFORMED);
	snprintf(tok, sizeof(tok), "%s.%s.AAAAA",
		 b64u_str("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", h),
		 b64u_str(claims_std(), b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_MALFORMED);
	snprintf(tok, sizeof(tok), "%s.%s.", b64u_str("{\"alg\":\"none\"}", h),
		 b64u_str("not json", b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_MALFORMED);
	snprintf(tok, sizeof(tok), "%s.%s", b64u_str("{\"alg\":\"none\"}", h),
		 b64u_str(claims_std(), b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_MALFORMED);
	snprintf(tok, sizeof(tok), "%s.%s.AAAA",
		 b64u_str("{\"alg\":\"none\"}", h), b64u_str(claims_std(), b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_ALG);
	snprintf(tok, sizeof(tok), "%s.%s.AAAA",
		 b64u_str("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", h),
		 b64u_str(claims_std(), b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_ALG);
	/* an algorithm whose family is not the kid's key */
	sign("RS256", k_rsa, "{\"alg\":\"RS256\",\"kid\":\"ec1\"}",
	     claims_std(), tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_NO_KEY);
	/* ES384 signed, ES256 said: the P-384 key does not fit ES256 */
	sign("ES384", k_ec384, "{\"alg\":\"ES384\",\"kid\":\"ec384\"}",
	     claims_std(), tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec384\"}",
	     claims_std(), tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_NO_KEY);
	/* unknown kid; a key in the token is not used */
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"x\"}", claims_std(),
	     tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_NO_KEY);
	/* crit */
	sign("ES256", k_ec,
	     "{\"alg\":\"ES256\",\"kid\":\"ec1\",\"crit\":[\"b64\"],\"b64\":"
	     "false}",
	     claims_std(), tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_CRIT);
	/* two alg members: malformed (the JSON parser refuses) */
	sign("ES256", k_ec,
	     "{\"alg\":\"ES256\",\"kid\":\"ec1\",\"alg\":\"none\"}",
	     claims_std(), tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_MALFORMED);
	/* lifetime: exp is the first second it is refused */
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://id.test\",\"aud\":\"pay\",\"exp\":%lld}",
		 NOW);
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_EXPIRED);
	p.skew_s = 1;
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	p.skew_s = 0;
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://id.test\",\"aud\":\"pay\",\"exp\":%lld.9}",
		 NOW + 1);
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://id.test\",\"aud\":\"pay\",\"exp\":%lld,"
		 "\"nbf\":%lld}",
		 NOW + 60, NOW + 1);
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_NOT_YET);
	p.skew_s = 1;
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	p.skew_s = 0;
	snprintf(c, sizeof(c), "{\"iss\":\"https://id.test\",\"aud\":\"pay\"}");
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_NO_EXP);
	p.exp_optional = 1;
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	p.exp_optional = 0;
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://id.test\",\"aud\":\"pay\",\"exp\":\"1\"}");
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_MALFORMED);
	/* issuer and audience: a list holding one passes */
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://evil\",\"aud\":\"pay\",\"exp\":%lld}",
		 NOW + 60);
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_ISSUER);
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://id.test\",\"aud\":[\"x\",\"other\"],"
		 "\"exp\":%lld}",
		 NOW + 60);
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://id.test\",\"aud\":[\"x\",1],\"exp\":%lld}",
		 NOW + 60);
	sign("ES256", k_ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_AUDIENCE);
	/* an expired token costs no signature: refused as expired even
	 * with a broken signature */
	snprintf(c, sizeof(c), "{\"exp\":1}");
	snprintf(tok, sizeof(tok), "%s.%s.AAAA",
		 b64u_str("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", h),
		 b64u_str(c, b));
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_EXPIRED);
	/* shape */
	assert_int_equal(check(&p, ks, "a.b", 0), SL_JWT_MALFORMED);
	assert_int_equal(check(&p, ks, "..", 0), SL_JWT_MALFORMED);
	memset(tok, 'a', SL_JWT_MAX + 1);
	tok[SL_JWT_MAX + 1] = '\0';
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_TOO_LARGE);
	sl_jwks_free(ks);
}

static void
test_require_and_fields(void **state)
{
	static char *scope_ok[] = {"pay:write"}, *scope_prefix[] = {"pay"},
		    *subs[] = {"u1"};
	struct sl_jwt_require rq[2] = {{"scope", scope_ok, 1}, {"t", NULL, 0}};
	struct sl_jwt_field fl[5] = {{"sub", "X-Sub"},
				     {"n", "X-N"},
				     {"t", "X-T"},
				     {"missing", "X-M"},
				     {"obj", "X-O"}};
	struct sl_jwks *ks = test_set();
	struct sl_jwt_policy p = policy();
	struct sl_jwt_out out;
	char c[512];

	(void)state;
	p.require = rq;
	p.nrequire = 2;
	p.fields = fl;
	p.nfields = 5;
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://id.test\",\"aud\":\"pay\",\"sub\":"
		 "\"u\\u0031\",\"exp\":%lld,\"scope\":\"a b pay:write\",\"n\":"
		 "-4.5e1,\"t\":true,\"obj\":{\"a\":1}}",
		 NOW + 60);
	sign("EdDSA", k_ed, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}", c, tok);
	assert_int_equal(sl_jwt_check(&p, ks, tok, strlen(tok), NOW, 0, &out),
			 SL_JWT_OK);
	assert_int_equal(out.f[0].present, 1);
	assert_memory_equal(out.buf + out.f[0].off, "u1", 2);
	assert_int_equal(out.f[0].len, 2);
	assert_memory_equal(out.buf + out.f[1].off, "-4.5e1", 6);
	assert_memory_equal(out.buf + out.f[2].off, "true", 4);
	assert_int_equal(out.f[3].present, 0);
	assert_int_equal(out.f[4].present, 0);
	/* a scope's word, not a prefix of one */
	rq[0].values = scope_prefix;
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_FORBIDDEN);
	/* a list claim holding the value; a required claim absent */
	rq[0].claim = "sub";
	rq[0].values = subs;
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	rq[1].claim = "tenant";
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_FORBIDDEN);
	/* a forged token is never a 403 (a character of the signature
	 * changed for another of the alphabet) */
	tok[strlen(tok) - 3] = tok[strlen(tok) - 3] == 'A' ? 'B' : 'A';
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_SIGNATURE);
	/* control bytes in a field's value; a tab is a field's own */
	p.nrequire = 0;
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://id.test\",\"aud\":\"pay\",\"sub\":"
		 "\"a\\r\\nX-Admin: 1\",\"exp\":%lld}",
		 NOW + 60);
	sign("EdDSA", k_ed, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_CLAIM_VALUE);
	snprintf(c, sizeof(c),
		 "{\"iss\":\"https://id.test\",\"aud\":\"pay\",\"sub\":"
		 "\"a\\tb\",\"exp\":%lld}",
		 NOW + 60);
	sign("EdDSA", k_ed, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}", c, tok);
	assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	sl_jwks_free(ks);
}

static void
test_base64url(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(b64u_decode("YWJj", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(b64u_decode("YWI", 3, out, sizeof(out)), 2);
	assert_int_equal(b64u_decode("YQ", 2, out, sizeof(out)), 1);
	/* padding, the standard alphabet, one character alone */
	assert_int_equal(b64u_decode("YQ==", 4, out, sizeof(out)), -1);
	assert_int_equal(b64u_decode("a+b/", 4, out, sizeof(out)), -1);
	assert_int_equal(b64u_decode("YWJjZ", 5, out, sizeof(out)), -1);
	/* the last character's unused bits set: another spelling of "a" */
	assert_int_equal(b64u_decode("YR", 2, out, sizeof(out)), -1);
	assert_int_equal(b64u_decode("-_", 2, out, sizeof(out)), -1);
	assert_int_equal(b64u_decode("-w", 2, out, sizeof(out)), 1);
	assert_int_equal(out[0], 0xfb);
	/* room */
	assert_int_equal(b64u_decode("YWJj", 4, out, 2), -1);
}

static void
jwks_refused(const char *text, const char *why_part)
{
	char why[256] = "";
	struct sl_jwks *ks =
	    sl_jwks_parse(text, strlen(text), why, sizeof(why));

	if (ks != NULL)
		fail_msg("parsed: %s", text);
	if (strstr(why, why_part) == NULL)
		fail_msg("why \"%s\" lacks \"%s\"", why, why_part);
}

static void
test_key_sets(void **state)
{
	char text[8192], why[256];
	struct sl_jwks *ks;
	EVP_PKEY *small;
	uint8_t pub[65];
	size_t n;

	(void)state;
	/* one key, not in a set; an encryption key and a secret skipped */
	text[0] = '\0';
	jwk_of(k_ec, "solo", "ES256", text, sizeof(text));
	ks = sl_jwks_parse(text, strlen(text), why, sizeof(why));
	assert_non_null(ks);
	assert_int_equal(ks->n, 1);
	assert_int_equal(ks->keys[0].alg, SL_JWA_ES256);
	sl_jwks_free(ks);
	snprintf(
	    text, sizeof(text),
	    "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},"
	    "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"},"
	    "{\"kty\":\"EC\",\"alg\":\"HS256\"},");
	jwk_of(k_ed, "ed", NULL, text, sizeof(text));
	strcat(text, "]}");
	ks = sl_jwks_parse(text, strlen(text), why, sizeof(why));
	assert_non_null(ks);
	assert_int_equal(ks->n, 1);
	assert_int_equal(ks->skipped, 4);
	sl_jwks_free(ks);
	jwks_refused("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}",
		     "no key sluice can verify with");
	jwks_refused("{\"keys\":[]}", "no key sluice can verify with");
	jwks_refused("{\"keys\":{}}", "\"keys\" is not an array");
	jwks_refused("[1]", "not a JSON object");
	jwks_refused("{\"keys\":[1]}", "not a JSON object");
	jwks_refused("{\"keys\":[{}]}", "no \"kty\"");
	jwks_refused("{keys:[]}", "not valid JSON");
	/* two keys, one kid */
	strcpy(text, "{\"keys\":[");
	jwk_of(k_ec, "same", NULL, text, sizeof(text));
	strcat(text, ",");
	jwk_of(k_ed, "same", NULL, text, sizeof(text));
	strcat(text, "]}");
	jwks_refused(text, "two keys with \"kid\" \"same\"");
	/* an RSA key of 1024 bits */
	small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(small);
	text[0] = '\0';
	jwk_of(small, "small", NULL, text, sizeof(text));
	jwks_refused(text, "2048 bits");
	EVP_PKEY_free(small);
	/* a key's alg that does not fit its type */
	text[0] = '\0';
	jwk_of(k_ec, "mismatch", "RS256", text, sizeof(text));
	jwks_refused(text, "does not fit its type");
	text[0] = '\0';
	jwk_of(k_ec384, "mismatch", "ES256", text, sizeof(text));
	jwks_refused(text, "does not fit its type");
	/* a point off the curve: y changed */
	assert_int_equal(
	    EVP_PKEY_get_octet_string_param(k_ec, "pub", pub, sizeof(pub), &n),
	    1);
	{
		char x[64], y[64];
		pub[64] ^= 1;
		b64u_enc(pub + 1, 32, x);
		b64u_enc(pub + 33, 32, y);
		snprintf(text, sizeof(text),
			 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":"
			 "\"%s\"}",
			 x, y);
		jwks_refused(text, "not a point of P-256");
		/* a coordinate with its leading zero bytes dropped is the
		 * same value: padded (here a zero x is simply off the
		 * curve, and a 33-byte one refused) */
		snprintf(text, sizeof(text),
			 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA"
			 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"y\":"
			 "\"%s\"}",
			 y);
		jwks_refused(text, "not a point of P-256");
	}
	snprintf(text, sizeof(text),
		 "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}");
	jwks_refused(text, "32 bytes");
	snprintf(text, sizeof(text),
		 "{\"kty\":\"RSA\",\"n\":\"AQAB=\",\"e\":\"AQAB\"}");
	jwks_refused(text, "must be base64url");
}

/* A P-256 key whose x has a leading zero byte, written without it, is
 * taken: PyJWT before 2.8 wrote such keys. */
static void
test_short_ec_coordinate(void **state)
{
	char text[1024], x[64], y[64], why[256];
	uint8_t pub[65];
	struct sl_jwks *ks;
	EVP_PKEY *k = NULL;
	size_t n;
	int tries = 0;

	(void)state;
	do {
		EVP_PKEY_free(k);
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		assert_non_null(k);
		assert_int_equal(EVP_PKEY_get_octet_string_param(
				     k, "pub", pub, sizeof(pub), &n),
				 1);
	} while (pub[1] != 0 && ++tries < 5000);
	assert_int_equal(pub[1], 0);
	b64u_enc(pub + 2, 31, x);
	b64u_enc(pub + 33, 32, y);
	snprintf(text, sizeof(text),
		 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"short\",\"x\":"
		 "\"%s\",\"y\":\"%s\"}",
		 x, y);
	ks = sl_jwks_parse(text, strlen(text), why, sizeof(why));
	if (ks == NULL)
		fail_msg("%s", why);
	{
		struct sl_jwt_policy p = policy();
		char c[256];
		p.nissuers = p.naudiences = 0;
		snprintf(c, sizeof(c), "{\"exp\":%lld}", NOW + 60);
		sign("ES256", k, "{\"alg\":\"ES256\",\"kid\":\"short\"}", c,
		     tok);
		assert_int_equal(check(&p, ks, tok, 0), SL_JWT_OK);
	}
	sl_jwks_free(ks);
	EVP_PKEY_free(k);
}

static void
test_where_the_token_is(void **state)
{
	const char *t;
	size_t n;
	char kid[16];

	(void)state;
	assert_int_equal(sl_jwt_bearer("Bearer abc.def.ghi", 18, &t, &n), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(t, "abc.def.ghi", 11);
	assert_int_equal(sl_jwt_bearer("  bEaReR   x  ", 14, &t, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sl_jwt_bearer("Basic dTpw", 10, &t, &n), -1);
	assert_int_equal(sl_jwt_bearer("Bearer", 6, &t, &n), -1);
	assert_int_equal(sl_jwt_bearer("Bearer ", 7, &t, &n), -1);
	assert_int_equal(sl_jwt_bearer("Bearerx y", 9, &t, &n), -1);
	assert_int_equal(sl_jwt_bearer("Bearer a b", 10, &t, &n), -1);
	assert_int_equal(sl_jwt_bearer("Bearer a,b", 10, &t, &n), -1);
	assert_int_equal(sl_jwt_cookie("a=1; s=tok; b=2", 15, "s", 1, &t, &n),
			 0);
	assert_memory_equal(t, "tok", 3);
	assert_int_equal(n, 3);
	assert_int_equal(sl_jwt_cookie("ss=x;s=\"q\"", 10, "s", 1, &t, &n), 0);
	assert_memory_equal(t, "q", 1);
	assert_int_equal(sl_jwt_cookie("ss=x; as=y", 10, "s", 1, &t, &n), -1);
	assert_int_equal(sl_jwt_cookie("S=x", 3, "s", 1, &t, &n), -1);
	/* the kid of a token, for the log */
	{
		char h[64], b[16];
		snprintf(tok, sizeof(tok), "%s.%s.AA",
			 b64u_str("{\"alg\":\"x\",\"kid\":\"k\\n1\"}", h),
			 b64u_str("{}", b));
		assert_int_equal(sl_jwt_kid(tok, strlen(tok), kid, sizeof(kid)),
				 0);
		assert_string_equal(kid, "k\n1");
		assert_int_equal(sl_jwt_kid("x", 1, kid, sizeof(kid)), -1);
	}
	assert_string_equal(sl_jwa_name(SL_JWA_EDDSA), "EdDSA");
	assert_string_equal(sl_jwa_name(99), "?");
	assert_string_equal(sl_jwt_err_str(SL_JWT_EXPIRED), "expired");
	assert_string_equal(sl_jwt_err_str(-1), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_algorithm),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_require_and_fields),
	    cmocka_unit_test(test_base64url),
	    cmocka_unit_test(test_key_sets),
	    cmocka_unit_test(test_short_ec_coordinate),
	    cmocka_unit_test(test_where_the_token_is),
	};

	return cmocka_run_group_tests(tests, keys_make, keys_free);
}
