/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the ACME client's cryptography and its answer reader
 * (src/fleet/acme_jws.c, acme_http_parse in src/fleet/acme_http.c):
 * base64url on RFC 4648's vectors, the JWK's members and RFC 7638's
 * thumbprint, each JWS parsed back (json.c) and its signature verified
 * here with OpenSSL, External Account Binding against an HMAC made here,
 * the CSR and tls-alpn-01's certificate read back with OpenSSL, and
 * answers framed by Content-Length, chunked and the close, with the
 * fields ACME reads and the ways an answer is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/x509v3.h>

#include "acme_int.h"
#include "json.h"
#include "tlscert.h"

/* ---- helpers ---------------------------------------------------------*/

/* base64url of in[0..n) without padding into out (4n/3 + 2 bytes): the
 * test's own, to compare sluice's with. */
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

/* Strict base64url of s[0..n) (no padding, no other byte, no length of
 * 4k + 1) into out: its length, or -1. */
static long
b64u_dec(const char *s, size_t n, uint8_t *out, size_t room)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v;
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == room)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)o;
}

/* Whether k's signature sig (DER for EC) of msg[0..n) verifies with
 * SHA-256: 1, or 0. */
static int
verify(EVP_PKEY *k, const char *msg, size_t n, const uint8_t *sig,
       size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	assert_non_null(md);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k),
			 1);
	ok = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)msg, n) ==
	     1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* JWS's raw ES256 signature (r || s, 32 bytes each) as DER, as
 * EVP_DigestVerify takes it; *der freed by the caller (OPENSSL_free). */
static int
es256_der(const uint8_t raw[64], unsigned char **der)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL),
	       *s = BN_bin2bn(raw + 32, 32, NULL);
	int n;

	assert_non_null(es);
	assert_non_null(r);
	assert_non_null(s);
	assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
	*der = NULL;
	n = i2d_ECDSA_SIG(es, der);
	assert_true(n > 0);
	ECDSA_SIG_free(es);
	return n;
}

/* A flattened JWS, its parts found with json.c. */
struct jws {
	struct sl_json_tok t[16];
	const char *text;
	const char *prot, *pay, *sig; /* spans in text (base64url) */
	size_t prot_len, pay_len, sig_len;
	char head[2048]; /* the protected header, decoded */
	size_t head_len;
	struct sl_json_tok ht[64]; /* its tokens */
	char payload[2048];	   /* the payload, decoded */
	size_t payload_len;
	uint8_t sigraw[1024]; /* the signature, decoded */
	size_t sigraw_len;
	char input[4096]; /* the signing input: protected.payload */
};

/* A string member's span of object 0 (base64url: no escapes). */
static const char *
member(struct jws *j, const char *name, size_t *len)
{
	int i = sl_json_get(j->text, j->t, 0, name, strlen(name));

	assert_true(i > 0);
	assert_int_equal(j->t[i].type, SL_JSON_STRING);
	*len = j->t[i].len;
	return j->text + j->t[i].start;
}

/* Reads s, a flattened JWS: exactly protected, payload and signature, each
 * strict base64url; the protected header a JSON object. */
static void
jws_read(const char *s, struct jws *j)
{
	long k;
	int nt;

	memset(j, 0, sizeof(*j));
	j->text = s;
	nt = sl_json_parse(s, strlen(s), j->t, 16, 1, NULL);
	assert_int_equal(nt, 7);
	assert_int_equal(j->t[0].type, SL_JSON_OBJECT);
	assert_int_equal(j->t[0].size, 3);
	j->prot = member(j, "protected", &j->prot_len);
	j->pay = member(j, "payload", &j->pay_len);
	j->sig = member(j, "signature", &j->sig_len);

	k = b64u_dec(j->prot, j->prot_len, (uint8_t *)j->head,
		     sizeof(j->head) - 1);
	assert_true(k > 0);
	j->head_len = (size_t)k;
	j->head[k] = '\0';
	nt = sl_json_parse(j->head, j->head_len, j->ht, 64, 2, NULL);
	assert_true(nt > 0);
	assert_int_equal(j->ht[0].type, SL_JSON_OBJECT);

	k = b64u_dec(j->pay, j->pay_len, (uint8_t *)j->payload,
		     sizeof(j->payload) - 1);
	assert_true(k >= 0);
	j->payload_len = (size_t)k;
	j->payload[k] = '\0';

	k = b64u_dec(j->sig, j->sig_len, j->sigraw, sizeof(j->sigraw));
	assert_true(k > 0);
	j->sigraw_len = (size_t)k;

	assert_true(j->prot_len + j->pay_len + 2 <= sizeof(j->input));
	snprintf(j->input, sizeof(j->input), "%.*s.%.*s", (int)j->prot_len,
		 j->prot, (int)j->pay_len, j->pay);
}

/* Whether the protected header's member name is the string v. */
static int
head_str_is(const struct jws *j, const char *name, const char *v)
{
	int i = sl_json_get(j->head, j->ht, 0, name, strlen(name));

	return i > 0 && sl_json_str_eq(j->head, j->ht, i, v, strlen(v));
}

/* Whether the protected header has member name. */
static int
head_has(const struct jws *j, const char *name)
{
	return sl_json_get(j->head, j->ht, 0, name, strlen(name)) > 0;
}

/* Whether j's signature verifies with k (ES256 or RS256). */
static int
jws_verifies(const struct jws *j, EVP_PKEY *k, const char *input)
{
	unsigned char *der;
	int n, ok;

	if (!EVP_PKEY_is_a(k, "EC"))
		return verify(k, input, strlen(input), j->sigraw,
			      j->sigraw_len);
	assert_int_equal(j->sigraw_len, 64);
	n = es256_der(j->sigraw, &der);
	ok = verify(k, input, strlen(input), der, (size_t)n);
	OPENSSL_free(der);
	return ok;
}

/* ---- base64url -------------------------------------------------------*/

static void
test_b64url(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} v[] = {
	    {"", 0, ""},
	    {"f", 1, "Zg"},
	    {"fo", 2, "Zm8"},
	    {"foo", 3, "Zm9v"},
	    {"foob", 4, "Zm9vYg"},
	    {"fooba", 5, "Zm9vYmE"},
	    {"foobar", 6, "Zm9vYmFy"},
	    {"\xfb\xff", 2, "-_8"},
	    {"\xfb\xff\xbf", 3, "-_-_"},
	    {"\x00\x00\x00\x00", 4, "AAAAAA"},
	};
	uint8_t buf[200], back[200];
	char want[300];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *s = acme_b64url((const unsigned char *)v[i].in, v[i].n);
		assert_non_null(s);
		assert_string_equal(s, v[i].out);
		free(s);
	}
	/* every length and every byte: the test's encoder's text, no '=',
	 * ceil(4n/3) characters, and strictly decodable back */
	for (size_t n = 0; n < sizeof(buf); n++) {
		char *s;
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)(i * 37 + n * 11 + 255 * (i & 1));
		s = acme_b64url(buf, n);
		assert_non_null(s);
		b64u_enc(buf, n, want);
		assert_string_equal(s, want);
		assert_null(strchr(s, '='));
		assert_int_equal(strlen(s), (4 * n + 2) / 3);
		assert_int_equal(b64u_dec(s, strlen(s), back, sizeof(back)),
				 (long)n);
		assert_memory_equal(back, buf, n);
		free(s);
	}
}

/* ---- keys, JWK, thumbprint -------------------------------------------*/

static EVP_PKEY *k_ec, *k_rsa;

static int
keys_make(void **state)
{
	(void)state;
	k_ec = acme_key_new(0);
	k_rsa = acme_key_new(1);
	return k_ec != NULL && k_rsa != NULL ? 0 : -1;
}

static int
keys_free(void **state)
{
	(void)state;
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_rsa);
	return 0;
}

static void
test_keys(void **state)
{
	char group[64];
	size_t gl = 0;
	char *pem;
	EVP_PKEY *back;

	(void)state;
	assert_true(EVP_PKEY_is_a(k_ec, "EC"));
	assert_int_equal(
	    EVP_PKEY_get_utf8_string_param(k_ec, OSSL_PKEY_PARAM_GROUP_NAME,
					   group, sizeof(group), &gl),
	    1);
	assert_string_equal(group, "prime256v1");
	assert_true(EVP_PKEY_is_a(k_rsa, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(k_rsa), 2048);

	/* PEM out and back: the same key, private half included */
	pem = acme_key_pem(k_ec);
	assert_non_null(pem);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	back = acme_key_read(pem, strlen(pem));
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(back, k_ec), 1);
	{
		/* the key read back signs what k_ec verifies */
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned char sig[128];
		size_t sl = sizeof(sig);
		assert_int_equal(
		    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, back), 1);
		assert_int_equal(
		    EVP_DigestSign(md, sig, &sl, (const unsigned char *)"x", 1),
		    1);
		EVP_MD_CTX_free(md);
		assert_true(verify(k_ec, "x", 1, sig, sl));
	}
	EVP_PKEY_free(back);
	free(pem);
	pem = acme_key_pem(k_rsa);
	assert_non_null(pem);
	back = acme_key_read(pem, strlen(pem));
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(back, k_rsa), 1);
	EVP_PKEY_free(back);
	free(pem);
	assert_null(acme_key_read("not a key", 9));
}

static void
test_thumbprint_rfc7638(void **state)
{
	/* RFC 7638 section 3.1 */
	static const char jwk[] =
	    "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\""
	    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtV"
	    "T86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64t"
	    "Z_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
	    "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
	    "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
	    "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	    "\"}";
	char out[44];

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_int_equal(acme_thumbprint(jwk, out), 0);
	assert_string_equal(out, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	/* the JWK text itself is hashed: one byte more, another print */
	assert_int_equal(acme_thumbprint("{\"e\":\"AQAB\"}", out), 0);
	assert_int_equal(strlen(out), 43);
	assert_string_not_equal(out,
				"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

/* A P-256 key of private scalar d (its public point d * G computed
 * here), so that its coordinates are known. */
static EVP_PKEY *
ec_key_of(unsigned long d, uint8_t pub[65])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *p = EC_POINT_new(g);
	BIGNUM *bd = BN_new();
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(g);
	assert_non_null(p);
	assert_non_null(bd);
	assert_non_null(b);
	assert_non_null(ctx);
	assert_int_equal(BN_set_word(bd, d), 1);
	assert_int_equal(EC_POINT_mul(g, p, bd, NULL, NULL, NULL), 1);
	assert_int_equal(EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED,
					    pub, 65, NULL),
			 65);
	assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(
			     b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
			 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(
			     b, OSSL_PKEY_PARAM_PUB_KEY, pub, 65),
			 1);
	assert_int_equal(
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, bd), 1);
	params = OSSL_PARAM_BLD_to_param(b);
	assert_non_null(params);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params),
			 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bd);
	EC_POINT_free(p);
	EC_GROUP_free(g);
	return k;
}

/* acme_jwk of the P-256 key d * G is {"crv","kty","x","y"} in that order,
 * x and y its coordinates on 32 bytes each (43 characters). */
static void
check_ec_jwk(unsigned long d)
{
	uint8_t pub[65];
	EVP_PKEY *k = ec_key_of(d, pub);
	char x[64], y[64], want[256], *jwk;

	b64u_enc(pub + 1, 32, x);
	b64u_enc(pub + 33, 32, y);
	assert_int_equal(strlen(x), 43);
	assert_int_equal(strlen(y), 43);
	snprintf(want, sizeof(want),
		 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		 x, y);
	jwk = acme_jwk(k);
	assert_non_null(jwk);
	assert_string_equal(jwk, want);
	free(jwk);
	EVP_PKEY_free(k);
}

static void
test_jwk(void **state)
{
	/* P-256's generator: d = 1 */
	static const uint8_t gx[32] = {
	    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6,
	    0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb,
	    0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96};
	uint8_t pub[65];
	EVP_PKEY *g = ec_key_of(1, pub);
	char *jwk, want[2048], e[16], nb[400];
	unsigned long d, zx = 0, zy = 0;
	struct sl_json_tok t[16];
	BIGNUM *bn = NULL;
	uint8_t buf[256];

	(void)state;
	assert_memory_equal(pub + 1, gx, 32);
	EVP_PKEY_free(g);
	check_ec_jwk(1);

	/* a coordinate whose first byte is 0 keeps its 32 bytes: the first
	 * d whose x, and the first whose y, begins with a zero byte */
	for (d = 2; d < 4000 && (zx == 0 || zy == 0); d++) {
		EVP_PKEY *k = ec_key_of(d, pub);
		if (zx == 0 && pub[1] == 0)
			zx = d;
		if (zy == 0 && pub[33] == 0)
			zy = d;
		EVP_PKEY_free(k);
	}
	assert_true(zx != 0 && zy != 0);
	check_ec_jwk(zx);
	check_ec_jwk(zy);

	/* a generated key: the members in the thumbprint's order, 43
	 * characters of x and y */
	jwk = acme_jwk(k_ec);
	assert_non_null(jwk);
	assert_int_equal(sl_json_parse(jwk, strlen(jwk), t, 16, 1, NULL), 9);
	assert_true(sl_json_str_eq(jwk, t, 1, "crv", 3));
	assert_true(sl_json_str_eq(jwk, t, 2, "P-256", 5));
	assert_true(sl_json_str_eq(jwk, t, 3, "kty", 3));
	assert_true(sl_json_str_eq(jwk, t, 4, "EC", 2));
	assert_true(sl_json_str_eq(jwk, t, 5, "x", 1));
	assert_int_equal(t[6].len, 43);
	assert_true(sl_json_str_eq(jwk, t, 7, "y", 1));
	assert_int_equal(t[8].len, 43);
	free(jwk);

	/* RSA: e, kty, n; n its 256 bytes, e 65537's "AQAB" */
	assert_int_equal(
	    EVP_PKEY_get_bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
	assert_int_equal(BN_bn2binpad(bn, buf, 256), 256);
	BN_free(bn);
	b64u_enc(buf, 256, nb);
	assert_int_equal(strlen(nb), 342);
	bn = NULL;
	assert_int_equal(
	    EVP_PKEY_get_bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_E, &bn), 1);
	b64u_enc(buf, (size_t)BN_bn2bin(bn, buf), e);
	BN_free(bn);
	assert_string_equal(e, "AQAB");
	snprintf(want, sizeof(want),
		 "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e, nb);
	jwk = acme_jwk(k_rsa);
	assert_non_null(jwk);
	assert_string_equal(jwk, want);
	free(jwk);
}

/* ---- JWS -------------------------------------------------------------*/

#define URL_ACCT  "https://ca.test/acme/new-acct"
#define URL_ORDER "https://ca.test/acme/order/7"
#define KID	  "https://ca.test/acme/acct/1234"

/* A JWS by k with its jwk (kid NULL) or kid, checked whole: the
 * protected header's alg, nonce, url and one of jwk and kid, the payload,
 * the signature verified; a byte changed in the signing input or in the
 * signature fails. */
static void
check_jws(EVP_PKEY *k, const char *alg, const char *kid, const char *payload)
{
	char *jwk = acme_jwk(k), *s, *input;
	struct jws *j = calloc(1, sizeof(*j));
	const char *nonce = "oFvnlFP1wIhRlYS2jTaXbA";
	int ij;

	assert_non_null(jwk);
	assert_non_null(j);
	s = acme_jws(k, jwk, kid, nonce, URL_ORDER, payload);
	assert_non_null(s);
	jws_read(s, j);

	assert_true(head_str_is(j, "alg", alg));
	assert_true(head_str_is(j, "nonce", nonce));
	assert_true(head_str_is(j, "url", URL_ORDER));
	assert_int_equal(j->ht[0].size, 4);
	ij = sl_json_get(j->head, j->ht, 0, "jwk", 3);
	if (kid == NULL) {
		/* the account's key itself, exactly as acme_jwk wrote it */
		assert_false(head_has(j, "kid"));
		assert_true(ij > 0);
		assert_int_equal(j->ht[ij].type, SL_JSON_OBJECT);
		assert_int_equal(j->ht[ij].len, strlen(jwk));
		assert_memory_equal(j->head + j->ht[ij].start, jwk,
				    strlen(jwk));
	} else {
		assert_int_equal(ij, -1);
		assert_true(head_str_is(j, "kid", kid));
	}
	assert_int_equal(j->pay_len, (4 * strlen(payload) + 2) / 3);
	assert_int_equal(j->payload_len, strlen(payload));
	assert_string_equal(j->payload, payload);

	if (EVP_PKEY_is_a(k, "EC"))
		assert_int_equal(j->sigraw_len, 64);
	else
		assert_int_equal(j->sigraw_len, 256);
	assert_true(jws_verifies(j, k, j->input));

	/* a byte of the signing input changed */
	input = strdup(j->input);
	assert_non_null(input);
	input[3] ^= 0x01;
	assert_false(jws_verifies(j, k, input));
	free(input);
	/* or of the signature: r's, then s's (the last byte) */
	j->sigraw[0] ^= 0x80;
	assert_false(jws_verifies(j, k, j->input));
	j->sigraw[0] ^= 0x80;
	j->sigraw[j->sigraw_len - 1] ^= 0x01;
	assert_false(jws_verifies(j, k, j->input));
	j->sigraw[j->sigraw_len - 1] ^= 0x01;
	assert_true(jws_verifies(j, k, j->input));
	/* nor does another key of its kind verify it */
	{
		EVP_PKEY *other = acme_key_new(EVP_PKEY_is_a(k, "RSA"));
		assert_non_null(other);
		assert_false(jws_verifies(j, other, j->input));
		EVP_PKEY_free(other);
	}

	free(s);
	free(j);
	free(jwk);
}

static void
test_jws_es256(void **state)
{
	(void)state;
	check_jws(k_ec, "ES256", NULL,
		  "{\"termsOfServiceAgreed\":true,\"contact\":"
		  "[\"mailto:ops@example.test\"]}");
	check_jws(k_ec, "ES256", KID,
		  "{\"identifiers\":[{\"type\":\"dns\","
		  "\"value\":\"www.example.test\"}]}");
	/* POST-as-GET: the empty payload */
	check_jws(k_ec, "ES256", KID, "");
	/* ECDSA signs anew each time: two signatures, both good, differ */
	{
		char *a = acme_jws(k_ec, "{}", KID, "n", URL_ORDER, "");
		char *b = acme_jws(k_ec, "{}", KID, "n", URL_ORDER, "");
		assert_non_null(a);
		assert_non_null(b);
		assert_string_not_equal(a, b);
		free(a);
		free(b);
	}
}

static void
test_jws_rs256(void **state)
{
	(void)state;
	check_jws(k_rsa, "RS256", NULL, "{\"termsOfServiceAgreed\":true}");
	check_jws(k_rsa, "RS256", KID, "{\"csr\":\"MIIB\"}");
	check_jws(k_rsa, "RS256", KID, "");
}

/* ---- External Account Binding ----------------------------------------*/

static void
test_eab(void **state)
{
	static const unsigned char mac[] = {
	    0x5a, 0x8b, 0x1f, 0x00, 0x42, 0xde, 0xad, 0xbe, 0xef, 0x10, 0x20,
	    0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0,
	    0xe0, 0xf0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xff};
	char *jwk = acme_jwk(k_ec), *s;
	struct jws *j = calloc(1, sizeof(*j));
	unsigned char md[32];
	unsigned int mdlen = 0;

	(void)state;
	assert_non_null(jwk);
	assert_non_null(j);
	s = acme_eab("kid-1", mac, sizeof(mac), jwk, URL_ACCT);
	assert_non_null(s);
	jws_read(s, j);
	/* RFC 8555 section 7.3.4: alg, kid, url, and no nonce */
	assert_int_equal(j->ht[0].size, 3);
	assert_true(head_str_is(j, "alg", "HS256"));
	assert_true(head_str_is(j, "kid", "kid-1"));
	assert_true(head_str_is(j, "url", URL_ACCT));
	assert_false(head_has(j, "nonce"));
	/* the payload: the account key's JWK */
	assert_string_equal(j->payload, jwk);
	/* the MAC of protected.payload with the CA's key */
	assert_non_null(HMAC(EVP_sha256(), mac, (int)sizeof(mac),
			     (const unsigned char *)j->input, strlen(j->input),
			     md, &mdlen));
	assert_int_equal(mdlen, 32);
	assert_int_equal(j->sigraw_len, 32);
	assert_memory_equal(j->sigraw, md, 32);
	/* another key, another MAC */
	assert_non_null(HMAC(EVP_sha256(), mac, (int)sizeof(mac) - 1,
			     (const unsigned char *)j->input, strlen(j->input),
			     md, &mdlen));
	assert_memory_not_equal(j->sigraw, md, 32);
	free(s);
	free(j);
	free(jwk);
}

/* ---- CSR -------------------------------------------------------------*/

/* The DNS names of a subjectAltName extension's value, checked to be
 * exactly one: name. */
static void
check_one_dns(GENERAL_NAMES *gens, const char *name)
{
	const GENERAL_NAME *g;
	const ASN1_IA5STRING *d;

	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	g = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(g->type, GEN_DNS);
	d = g->d.dNSName;
	assert_int_equal(ASN1_STRING_length(d), strlen(name));
	assert_memory_equal(ASN1_STRING_get0_data(d), name, strlen(name));
}

/* The subject's CN of nm, checked to be name. */
static void
check_cn(const X509_NAME *nm, const char *name)
{
	char cn[300];

	/* longer than a CN may be: no subject, the SAN alone */
	if (strlen(name) > 64) {
		assert_int_equal(X509_NAME_entry_count(nm), 0);
		return;
	}
	assert_int_equal(X509_NAME_entry_count(nm), 1);
	assert_int_equal(X509_NAME_get_text_by_NID(
			     (X509_NAME *)nm, NID_commonName, cn, sizeof(cn)),
			 (int)strlen(name));
	assert_string_equal(cn, name);
}

static void
check_csr(EVP_PKEY *k, const char *name)
{
	char *s = acme_csr(k, name);
	uint8_t der[4096];
	const unsigned char *p = der;
	X509_REQ *req;
	EVP_PKEY *pub;
	STACK_OF(X509_EXTENSION) * exts;
	long n;
	int nsan = 0;

	assert_non_null(s);
	n = b64u_dec(s, strlen(s), der, sizeof(der));
	assert_true(n > 0);
	req = d2i_X509_REQ(NULL, &p, n);
	assert_non_null(req);
	assert_ptr_equal(p, der + n); /* nothing after it */
	pub = X509_REQ_get0_pubkey(req);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	assert_int_equal(X509_REQ_verify(req, k), 1);
	assert_int_equal(X509_REQ_get_signature_nid(req),
			 EVP_PKEY_is_a(k, "EC") ? NID_ecdsa_with_SHA256
						: NID_sha256WithRSAEncryption);
	check_cn(X509_REQ_get_subject_name(req), name);
	exts = X509_REQ_get_extensions(req);
	assert_non_null(exts);
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) ==
		    NID_subject_alt_name) {
			GENERAL_NAMES *g = X509V3_EXT_d2i(e);
			check_one_dns(g, name);
			GENERAL_NAMES_free(g);
			nsan++;
		}
	}
	assert_int_equal(nsan, 1);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	/* a changed byte of the request's body fails its signature */
	{
		uint8_t bad[4096];
		const unsigned char *q = bad;
		X509_REQ *r2;
		memcpy(bad, der, (size_t)n);
		/* the CN's last byte, found in the DER */
		for (long i = n - (long)strlen(name); i >= 0; i--)
			if (memcmp(bad + i, name, strlen(name)) == 0) {
				bad[i + (long)strlen(name) - 1] ^= 0x01;
				break;
			}
		r2 = d2i_X509_REQ(NULL, &q, n);
		assert_non_null(r2);
		assert_int_not_equal(X509_REQ_verify(r2, k), 1);
		X509_REQ_free(r2);
	}
	X509_REQ_free(req);
	free(s);
}

static void
test_csr(void **state)
{
	(void)state;
	check_csr(k_ec, "www.example.test");
	check_csr(k_rsa, "example.test");
	/* 64 characters: the most a CN holds (RFC 5280's ub-common-name) */
	check_csr(k_ec, "a-label-of-fifty-one-characters-for-the-test-xxxxxx"
			".example.test");
	/* longer (69): it was refused (OpenSSL's CN bound), so such a name
	 * never got a certificate */
	check_csr(k_ec,
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaa.test");
	/* a comma is a name's byte, not a list of names (it was made from
	 * an OpenSSL config string, "a.test,DNS:evil.test" two SANs) */
	check_csr(k_ec, "a.test,DNS:evil.test");
}

/* The keys' reader (tlscert.c's sl_tls_key_read): typed decoders used
 * again for many keys, EC and RSA; what they do not read goes to the
 * untyped read (an EC key in SEC 1's form, "BEGIN EC PRIVATE KEY");
 * an encrypted key is refused, with no prompt; garbage says why. */
static void
test_key_reader(void **state)
{
	struct sl_tls_keyreader *kr = sl_tls_keyreader_new();
	EVP_PKEY *keys[2] = {k_ec, k_rsa}, *k;
	char why[200], *pem;
	BIO *b;
	long n;

	(void)state;
	assert_non_null(kr);
	for (int round = 0; round < 3; round++) /* the reader used again */
		for (int i = 0; i < 2; i++) {
			pem = acme_key_pem(keys[i]);
			assert_non_null(pem);
			k = sl_tls_key_read(round == 2 ? NULL : kr, pem,
					    strlen(pem), why, sizeof(why));
			assert_non_null(k);
			assert_int_equal(EVP_PKEY_eq(k, keys[i]), 1);
			EVP_PKEY_free(k);
			free(pem);
		}
	/* SEC 1 (traditional) and encrypted PKCS #8 */
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey_traditional(
			     b, k_ec, NULL, NULL, 0, NULL, NULL),
			 1);
	n = BIO_get_mem_data(b, &pem);
	k = sl_tls_key_read(kr, pem, (size_t)n, why, sizeof(why));
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_eq(k, k_ec), 1);
	EVP_PKEY_free(k);
	BIO_free(b);
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(
			     b, k_ec, EVP_aes_256_cbc(), "pw", 2, NULL, NULL),
			 1);
	n = BIO_get_mem_data(b, &pem);
	why[0] = '\0';
	assert_null(sl_tls_key_read(kr, pem, (size_t)n, why, sizeof(why)));
	assert_true(why[0] != '\0');
	BIO_free(b);
	why[0] = '\0';
	assert_null(sl_tls_key_read(kr, "not a key\n", 10, why, sizeof(why)));
	assert_true(why[0] != '\0');
	sl_tls_keyreader_free(kr);
}

/* ---- tls-alpn-01 -----------------------------------------------------*/

/* A name longer than a CN may be gets its challenge certificate (it got
 * none: OpenSSL refused the CN), its one SAN the whole name. */
static void
test_alpn_cert_long_name(void **state)
{
	const char *name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			   "aaaaaaaaaaaaaaaa.test";
	struct sl_tls_cert *c = acme_alpn_cert(name, "t.k");

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->nnames, 1);
	assert_string_equal(c->names[0], name);
	sl_tls_cert_unref(c);
}

static void
test_alpn_cert(void **state)
{
	const char *name = "acme.example.test";
	const char *keyauth = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA."
			      "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
	struct sl_tls_cert *c = acme_alpn_cert(name, keyauth);
	ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	unsigned char md[32];
	unsigned int mdlen = 0;
	X509_EXTENSION *e;
	const ASN1_OCTET_STRING *v;
	GENERAL_NAMES *gens;
	int at, crit = -1;
	time_t now = time(NULL);

	(void)state;
	assert_non_null(c);
	assert_non_null(obj);
	assert_non_null(c->leaf);
	assert_non_null(c->key);
	assert_int_equal(X509_check_private_key(c->leaf, c->key), 1);
	/* self-signed */
	assert_int_equal(X509_verify(c->leaf, X509_get0_pubkey(c->leaf)), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(c->leaf),
				       X509_get_issuer_name(c->leaf)),
			 0);
	assert_true(c->not_before <= now && now < c->not_after);
	assert_int_equal(c->nnames, 1);
	assert_string_equal(c->names[0], name);

	/* the SAN: exactly name */
	gens = X509_get_ext_d2i(c->leaf, NID_subject_alt_name, &crit, NULL);
	check_one_dns(gens, name);
	GENERAL_NAMES_free(gens);

	/* acmeIdentifier: once, critical, an OCTET STRING holding the DER
	 * of the OCTET STRING of SHA-256(keyauth) */
	at = X509_get_ext_by_OBJ(c->leaf, obj, -1);
	assert_true(at >= 0);
	assert_int_equal(X509_get_ext_by_OBJ(c->leaf, obj, at), -1);
	e = X509_get_ext(c->leaf, at);
	assert_int_equal(X509_EXTENSION_get_critical(e), 1);
	v = X509_EXTENSION_get_data(e);
	assert_int_equal(ASN1_STRING_length(v), 34);
	assert_int_equal(ASN1_STRING_get0_data(v)[0], 0x04);
	assert_int_equal(ASN1_STRING_get0_data(v)[1], 0x20);
	assert_int_equal(EVP_Digest(keyauth, strlen(keyauth), md, &mdlen,
				    EVP_sha256(), NULL),
			 1);
	assert_memory_equal(ASN1_STRING_get0_data(v) + 2, md, 32);
	/* ...of this keyauth, not another */
	assert_int_equal(EVP_Digest(keyauth, strlen(keyauth) - 1, md, &mdlen,
				    EVP_sha256(), NULL),
			 1);
	assert_memory_not_equal(ASN1_STRING_get0_data(v) + 2, md, 32);

	/* each certificate its own key and serial */
	{
		struct sl_tls_cert *c2 = acme_alpn_cert(name, keyauth);
		assert_non_null(c2);
		assert_int_not_equal(EVP_PKEY_eq(c->key, c2->key), 1);
		assert_int_not_equal(
		    ASN1_INTEGER_cmp(X509_get0_serialNumber(c->leaf),
				     X509_get0_serialNumber(c2->leaf)),
		    0);
		sl_tls_cert_unref(c2);
	}
	ASN1_OBJECT_free(obj);
	sl_tls_cert_unref(c);
}

/* ---- acme_http_parse -------------------------------------------------*/

static char why[256];

/* Parses s (strlen bytes) from a writable copy of exactly its size, as a
 * read leaves it, into *r (zeroed first, as acme_http_call does). */
static int
parse(const char *s, struct acme_resp *r)
{
	size_t n = strlen(s);
	char *raw = malloc(n ? n : 1);
	int rc;

	assert_non_null(raw);
	memcpy(raw, s, n);
	memset(r, 0, sizeof(*r));
	why[0] = '\0';
	rc = acme_http_parse(raw, n, r, why, sizeof(why));
	free(raw);
	if (rc == 0) {
		assert_non_null(r->body);
		assert_int_equal(r->body[r->len], '\0');
	} else {
		assert_null(r->body);
		assert_true(why[0] != '\0');
	}
	return rc;
}

static void
test_http_length(void **state)
{
	struct acme_resp r;

	(void)state;
	assert_int_equal(parse("HTTP/1.1 201 Created\r\n"
			       "Server: test\r\n"
			       "Replay-Nonce: oFvnlFP1wIhRlYS2jTaXbA\r\n"
			       "Location: https://ca.test/acme/acct/1234\r\n"
			       "Content-Type: application/json\r\n"
			       "Content-Length: 17\r\n"
			       "\r\n"
			       "{\"status\":\"valid\"}",
			       &r),
			 0);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.nonce, "oFvnlFP1wIhRlYS2jTaXbA");
	assert_string_equal(r.location, "https://ca.test/acme/acct/1234");
	assert_string_equal(r.ctype, "application/json");
	assert_int_equal(r.retry_after, -1);
	/* the body is the length's: 17 of the 18 bytes sent */
	assert_int_equal(r.len, 17);
	assert_string_equal(r.body, "{\"status\":\"valid\"");
	acme_resp_free(&r);
	assert_null(r.body);

	/* names in any case, values trimmed; an empty body */
	assert_int_equal(parse("HTTP/1.1 204 No Content\r\n"
			       "replay-NONCE:   n1 \r\n"
			       "content-length: 0\r\n\r\n",
			       &r),
			 0);
	assert_int_equal(r.status, 204);
	assert_string_equal(r.nonce, "n1");
	assert_string_equal(r.location, "");
	assert_int_equal(r.len, 0);
	assert_string_equal(r.body, "");
	acme_resp_free(&r);

	/* HTTP/1.0, a body of NULs kept whole by its length */
	{
		static const char a[] = "HTTP/1.0 200 OK\r\n"
					"Content-Length: 3\r\n\r\n\0\0\0";
		char *raw = malloc(sizeof(a) - 1);
		assert_non_null(raw);
		memcpy(raw, a, sizeof(a) - 1);
		memset(&r, 0, sizeof(r));
		assert_int_equal(
		    acme_http_parse(raw, sizeof(a) - 1, &r, why, sizeof(why)),
		    0);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.len, 3);
		assert_memory_equal(r.body, "\0\0\0", 4);
		acme_resp_free(&r);
		free(raw);
	}

	/* cut short: fewer bytes than the length says */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
			       "hello",
			       &r),
			 -1);
	assert_int_equal(
	    parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", &r), -1);
	/* a negative length */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"
			       "hello",
			       &r),
			 -1);
}

static void
test_http_chunked(void **state)
{
	struct acme_resp r;

	(void)state;
	assert_int_equal(
	    parse("HTTP/1.1 200 OK\r\n"
		  "Content-Type: application/pem-certificate-chain\r\n"
		  "Transfer-Encoding: chunked\r\n"
		  "Replay-Nonce: abc\r\n"
		  "\r\n"
		  "5;ext=\"a b\"\r\nhello\r\n"
		  "6\r\n world\r\n"
		  "A\r\n0123456789\r\n"
		  "0\r\n\r\n",
		  &r),
	    0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "application/pem-certificate-chain");
	assert_string_equal(r.nonce, "abc");
	assert_int_equal(r.len, 21);
	assert_string_equal(r.body, "hello world0123456789");
	acme_resp_free(&r);

	/* chunked wins over a Content-Length (RFC 9112 section 6.3) */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\n"
			       "Content-Length: 100\r\n"
			       "transfer-encoding: Chunked\r\n\r\n"
			       "3\r\nabc\r\n0\r\n\r\n",
			       &r),
			 0);
	assert_int_equal(r.len, 3);
	assert_string_equal(r.body, "abc");
	acme_resp_free(&r);

	/* the empty body, then trailers */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n0\r\nX-T: 1\r\n\r\n",
			       &r),
			 0);
	assert_int_equal(r.len, 0);
	acme_resp_free(&r);

	/* a malformed size, a chunk longer than what came, no last chunk,
	 * nothing at all */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
			       &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n;x\r\nhello\r\n0\r\n\r\n",
			       &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n10\r\nhello\r\n0\r\n\r\n",
			       &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n5\r\nhello\r\n",
			       &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n",
			       &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\nffffffffffffffffffff\r\nx\r\n0\r\n\r\n",
			       &r),
			 -1);
}

static void
test_http_close(void **state)
{
	struct acme_resp r;

	(void)state;
	/* neither length nor chunked: the body runs to the close */
	assert_int_equal(parse("HTTP/1.1 400 Bad Request\r\n"
			       "Content-Type: application/problem+json\r\n"
			       "Connection: close\r\n\r\n"
			       "{\"type\":\"urn:ietf:params:acme:error:"
			       "badNonce\"}\r\n\r\nmore",
			       &r),
			 0);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.ctype, "application/problem+json");
	assert_string_equal(r.body, "{\"type\":\"urn:ietf:params:acme:error:"
				    "badNonce\"}\r\n\r\nmore");
	assert_int_equal(r.len, strlen(r.body));
	acme_resp_free(&r);
	/* a Transfer-Encoding other than chunked is refused (its bytes are
	 * no body sluice can read) */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
			       "\r\nabc",
			       &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, "
			       "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			       &r),
			 -1);
}

static void
test_http_retry_after(void **state)
{
	struct acme_resp r;
	char a[256], date[64];
	time_t t = time(NULL) + 3600;
	struct tm tm;

	(void)state;
	assert_int_equal(parse("HTTP/1.1 503 Service Unavailable\r\n"
			       "Retry-After: 120\r\nContent-Length: 0\r\n\r\n",
			       &r),
			 0);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.retry_after, 120);
	acme_resp_free(&r);
	assert_int_equal(
	    parse("HTTP/1.1 429 Too Many\r\nRetry-After: 0\r\n\r\n", &r), 0);
	assert_int_equal(r.retry_after, 0);
	acme_resp_free(&r);

	/* an HTTP-date an hour ahead: about 3600 seconds */
	gmtime_r(&t, &tm);
	assert_true(
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
	snprintf(a, sizeof(a),
		 "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 date);
	assert_int_equal(parse(a, &r), 0);
	assert_true(r.retry_after > 3500 && r.retry_after <= 3600);
	acme_resp_free(&r);

	/* one in the past: now (0), never negative */
	assert_int_equal(
	    parse("HTTP/1.1 503 x\r\nRetry-After: Sun, 06 Nov 1994 "
		  "08:49:37 GMT\r\n\r\n",
		  &r),
	    0);
	assert_int_equal(r.retry_after, 0);
	acme_resp_free(&r);

	/* neither: none */
	assert_int_equal(
	    parse("HTTP/1.1 503 x\r\nRetry-After: soon\r\n\r\n", &r), 0);
	assert_int_equal(r.retry_after, -1);
	acme_resp_free(&r);
}

static void
test_http_refused(void **state)
{
	struct acme_resp r;

	(void)state;
	assert_int_equal(parse("", &r), -1);
	assert_int_equal(parse("\r\n\r\n", &r), -1);
	assert_int_equal(parse("SSH-2.0-OpenSSH_9.6\r\n\r\n", &r), -1);
	assert_int_equal(parse("HTTP/2 200\r\n\r\n", &r), -1);
	assert_int_equal(parse("HTTP/1.1\r\n\r\nabcdef", &r), -1);
	assert_int_equal(parse("<html><body>hello</body></html>\r\n\r\n", &r),
			 -1);
	/* no end of the head */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\n\nhello", &r), -1);
	/* the status: three digits (atoi read past an empty one, into the
	 * body and off the buffer: the fuzzer's first find) */
	assert_int_equal(parse("HTTP/1.0 \r\n\r\n\r\n", &r), -1);
	assert_int_equal(parse("HTTP/1.1 \r\n\r\n201", &r), -1);
	assert_int_equal(parse("HTTP/1.1 -200 OK\r\n\r\n", &r), -1);
	assert_int_equal(parse("HTTP/1.1 abc\r\n\r\n", &r), -1);
	assert_int_equal(parse("HTTP/1.1 2000 OK\r\n\r\n", &r), -1);
	/* Content-Length: digits alone */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n"
			       "\r\nabc",
			       &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n"
			       "\r\nabc",
			       &r),
			 -1);
	/* chunks: hexadecimal sizes, each chunk's CRLF */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n5\r\nhello6\r\n world0\r\n\r\n",
			       &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
			       &r),
			 -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n5zz\r\nhello\r\n0\r\n\r\n",
			       &r),
			 -1);
	/* a nonce that is not base64url is not taken (it would go into a
	 * JWS's header); a huge Retry-After is a day */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nReplay-Nonce: a\",\"url\""
			       ":\"x\r\nRetry-After: 99999999999999999\r\n"
			       "\r\n",
			       &r),
			 0);
	assert_string_equal(r.nonce, "");
	assert_int_equal(r.retry_after, -1);
	acme_resp_free(&r);
	assert_int_equal(parse("HTTP/1.1 503 Busy\r\nRetry-After: 9999999\r\n"
			       "\r\n",
			       &r),
			 0);
	assert_int_equal(r.retry_after, 86400);
	acme_resp_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64url),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_key_reader),
	    cmocka_unit_test(test_thumbprint_rfc7638),
	    cmocka_unit_test(test_jwk),
	    cmocka_unit_test(test_jws_es256),
	    cmocka_unit_test(test_jws_rs256),
	    cmocka_unit_test(test_eab),
	    cmocka_unit_test(test_csr),
	    cmocka_unit_test(test_alpn_cert),
	    cmocka_unit_test(test_alpn_cert_long_name),
	    cmocka_unit_test(test_http_length),
	    cmocka_unit_test(test_http_chunked),
	    cmocka_unit_test(test_http_close),
	    cmocka_unit_test(test_http_retry_after),
	    cmocka_unit_test(test_http_refused),
	};

	return cmocka_run_group_tests(tests, keys_make, keys_free);
}
