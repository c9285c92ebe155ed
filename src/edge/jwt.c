/* SPDX-License-Identifier: MIT */
/*
 * JSON Web Tokens and key sets (jwt.h, doc/auth.md): the compact
 * serialization split and base64url-decoded, its two JSON objects parsed
 * strictly (json.c), the key chosen by "kid" and algorithm, the claims
 * checked and the signature verified by OpenSSL. Nothing here allocates
 * per token; the key set is made once per generation.
 */
#include "jwt.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

#define JSON_DEPTH    16
#define HEAD_TOKENS   64  /* a JOSE header has a handful of members */
#define CLAIMS_TOKENS 512 /* a claims set: a few dozen, with arrays */
#define KEYS_TOKENS   4096
#define NOKID_TRIES   3 /* keys tried for a token without "kid" */

static const char *const jwa_names[SL_JWA_N] = {
    [SL_JWA_RS256] = "RS256", [SL_JWA_RS384] = "RS384",
    [SL_JWA_RS512] = "RS512", [SL_JWA_PS256] = "PS256",
    [SL_JWA_PS384] = "PS384", [SL_JWA_PS512] = "PS512",
    [SL_JWA_ES256] = "ES256", [SL_JWA_ES384] = "ES384",
    [SL_JWA_EDDSA] = "EdDSA",
};

static const char *const err_names[SL_JWT_N] = {
    [SL_JWT_OK] = "ok",
    [SL_JWT_MALFORMED] = "malformed",
    [SL_JWT_TOO_LARGE] = "too_large",
    [SL_JWT_ALG] = "algorithm",
    [SL_JWT_CRIT] = "crit",
    [SL_JWT_NO_KEY] = "no_key",
    [SL_JWT_SIGNATURE] = "signature",
    [SL_JWT_EXPIRED] = "expired",
    [SL_JWT_NOT_YET] = "not_yet_valid",
    [SL_JWT_NO_EXP] = "no_exp",
    [SL_JWT_ISSUER] = "issuer",
    [SL_JWT_AUDIENCE] = "audience",
    [SL_JWT_CLAIM_VALUE] = "claim_value",
    [SL_JWT_FORBIDDEN] = "forbidden",
};

int
sl_jwa_parse(const char *s, size_t n)
{
	for (int i = 0; i < SL_JWA_N; i++)
		if (strlen(jwa_names[i]) == n &&
		    memcmp(jwa_names[i], s, n) == 0)
			return i;
	return -1;
}

const char *
sl_jwa_name(int alg)
{
	return alg >= 0 && alg < SL_JWA_N ? jwa_names[alg] : "?";
}

const char *
sl_jwt_err_str(int err)
{
	return err >= 0 && err < SL_JWT_N ? err_names[err] : "?";
}

/* ---- base64url (RFC 7515 section 2, RFC 4648 section 5) ---------------*/

/* Each base64url character's value plus one; 0 for the others. */
static const uint8_t b64u_tab[256] = {
    ['A'] = 1,	['B'] = 2,  ['C'] = 3,	['D'] = 4,  ['E'] = 5,	['F'] = 6,
    ['G'] = 7,	['H'] = 8,  ['I'] = 9,	['J'] = 10, ['K'] = 11, ['L'] = 12,
    ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
    ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
    ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
    ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
    ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
    ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
    ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

/*
 * in (n bytes, no padding) decoded into out (room bytes). Strict: no
 * padding, no white space, and the bits past the last byte zero (one text
 * for one value: a token is not accepted in two spellings). Returns the
 * bytes, or -1. Four characters at a time, by table: a character outside
 * the alphabet is 0 - 1 = 0xff there, whose top bits no value has.
 */
static long
b64u_decode(const char *in, size_t n, uint8_t *out, size_t room)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0, full = n / 4 * 4, rest = n % 4;
	unsigned bad = 0;
	uint32_t v;

	if (rest == 1 || full / 4 * 3 + (rest ? rest - 1 : 0) > room)
		return -1;
	for (size_t i = 0; i < full; i += 4) {
		uint8_t a = (uint8_t)(b64u_tab[p[i]] - 1),
			b = (uint8_t)(b64u_tab[p[i + 1]] - 1),
			c = (uint8_t)(b64u_tab[p[i + 2]] - 1),
			d = (uint8_t)(b64u_tab[p[i + 3]] - 1);
		bad |= a | b | c | d;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
		    d;
		out[o] = (uint8_t)(v >> 16);
		out[o + 1] = (uint8_t)(v >> 8);
		out[o + 2] = (uint8_t)v;
		o += 3;
	}
	if (bad & 0xc0)
		return -1;
	if (rest > 0) {
		v = 0;
		for (size_t i = 0; i < rest; i++) {
			uint8_t a = (uint8_t)(b64u_tab[p[full + i]] - 1);
			if (a & 0xc0)
				return -1;
			v = v << 6 | a;
		}
		/* 2 characters: 12 bits, a byte and 4 bits that must be 0;
		 * 3: 18 bits, two bytes and 2 */
		if (rest == 2) {
			if (v & 0xf)
				return -1;
			out[o++] = (uint8_t)(v >> 4);
		} else {
			if (v & 0x3)
				return -1;
			out[o++] = (uint8_t)(v >> 10);
			out[o++] = (uint8_t)(v >> 2);
		}
	}
	return (long)o;
}

/* ---- key sets ---------------------------------------------------------*/

/* Member name of object t[obj] decoded into out as a NUL-terminated
 * string: 1, 0 when absent, -1 when not a string or too long. */
static int
get_str(const char *text, const struct sl_json_tok *t, int obj,
	const char *name, char *out, size_t room)
{
	int i = sl_json_get(text, t, obj, name, strlen(name));
	long n;

	if (i < 0)
		return 0;
	if ((n = sl_json_str(text, t, i, out, room - 1)) < 0 ||
	    memchr(out, '\0', (size_t)n) != NULL)
		return -1;
	out[n] = '\0';
	return 1;
}

/* Member name of t[obj], a base64url string, decoded into out. Returns
 * its bytes, or -1 (absent, not a string, bad, or longer than room). */
static long
get_b64(const char *text, const struct sl_json_tok *t, int obj,
	const char *name, uint8_t *out, size_t room)
{
	int i = sl_json_get(text, t, obj, name, strlen(name));

	if (i < 0 || t[i].type != SL_JSON_STRING)
		return -1;
	/* base64url has no escapes to decode: a string that holds one is
	 * not base64url */
	return b64u_decode(text + t[i].start, t[i].len, out, room);
}

static EVP_PKEY *
rsa_key(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL),
	       *be = BN_bin2bn(e, (int)elen, NULL);

	if (bld != NULL && bn != NULL && be != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1 &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1)
		(void)EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY,
					params);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pkey;
}

static EVP_PKEY *
ec_key(const char *group, const uint8_t *x, const uint8_t *y, size_t clen)
{
	uint8_t pub[1 + 2 * 66];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx, *chk;
	EVP_PKEY *pkey = NULL;

	pub[0] = 0x04; /* uncompressed */
	memcpy(pub + 1, x, clen);
	memcpy(pub + 1 + clen, y, clen);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)(uintptr_t)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						      pub, 1 + 2 * clen);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	if (pkey == NULL)
		return NULL;
	/* a point off the curve is an invalid-curve attack's key */
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (chk == NULL || EVP_PKEY_public_check(chk) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(chk);
	return pkey;
}

/* A key's fault in why: "TYPE key KID: what". Returns -1. */
static int
key_why(char *why, size_t wlen, const char *type, const struct sl_jwk *k,
	const char *what)
{
	snprintf(why, wlen, "%skey%s%s: %s", type, k->kid ? " " : "",
		 k->kid ? k->kid : "", what);
	return -1;
}

/*
 * Coordinate v of n bytes at its full size clen: RFC 7518 section
 * 6.2.1.2 wants it so, and a few publishers (PyJWT before 2.8) drop its
 * leading zero bytes, the value the same: padded. Returns the length
 * now (n itself when it was bad or longer).
 */
static long
pad_left(uint8_t *v, long n, size_t clen)
{
	if (n <= 0 || n >= (long)clen)
		return n;
	memmove(v + clen - (size_t)n, v, (size_t)n);
	memset(v, 0, clen - (size_t)n);
	return (long)clen;
}

/* Key t[obj] into k. Returns 1 made, 0 skipped (a key sluice does not
 * verify with), -1 bad (why says). */
static int
jwk_make(const char *text, const struct sl_json_tok *t, int obj,
	 struct sl_jwk *k, char *why, size_t wlen)
{
	char kty[8], use[8], alg[16], crv[16], kid[256], what[64];
	uint8_t a[1024], b[1024];
	long an, bn;
	int r;

	k->alg = -1;
	if (t[obj].type != SL_JSON_OBJECT) {
		snprintf(why, wlen, "a key is not a JSON object");
		return -1;
	}
	if (get_str(text, t, obj, "kty", kty, sizeof(kty)) != 1) {
		/* a type too long for the buffer is one sluice lacks */
		if (sl_json_get(text, t, obj, "kty", 3) >= 0)
			return 0;
		snprintf(why, wlen, "a key has no \"kty\"");
		return -1;
	}
	if ((r = get_str(text, t, obj, "use", use, sizeof(use))) == -1 ||
	    (r == 1 && strcmp(use, "sig") != 0))
		return 0; /* an encryption key ("enc") signs nothing */
	if ((r = get_str(text, t, obj, "kid", kid, sizeof(kid))) == -1) {
		snprintf(why, wlen,
			 "a key's \"kid\" is not a string of at "
			 "most 255 bytes");
		return -1;
	}
	if (r == 1 && (k->kid = strdup(kid)) == NULL) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	if ((r = get_str(text, t, obj, "alg", alg, sizeof(alg))) == 1) {
		if ((k->alg = sl_jwa_parse(alg, strlen(alg))) < 0)
			return 0; /* HS256, RSA-OAEP, ...: not for sluice */
	} else if (r == -1) {
		return 0;
	}
	if (strcmp(kty, "RSA") == 0) {
		k->type = SL_JWK_RSA;
		if (k->alg > SL_JWA_PS512)
			goto mismatch;
		an = get_b64(text, t, obj, "n", a, sizeof(a));
		bn = get_b64(text, t, obj, "e", b, 8);
		if (an <= 0 || bn <= 0) {
			return key_why(why, wlen, "RSA ", k,
				       "\"n\" and \"e\" must be base64url");
		}
		if ((k->pkey = rsa_key(a, (size_t)an, b, (size_t)bn)) == NULL ||
		    EVP_PKEY_get_bits(k->pkey) < 2048) {
			return key_why(why, wlen, "RSA ", k,
				       "not a valid key of 2048 bits or more");
		}
		return 1;
	}
	if (strcmp(kty, "EC") == 0) {
		size_t clen;
		const char *group;
		k->type = SL_JWK_EC;
		if (get_str(text, t, obj, "crv", crv, sizeof(crv)) != 1)
			return 0;
		if (strcmp(crv, "P-256") == 0)
			k->curve = 256, clen = 32, group = "prime256v1";
		else if (strcmp(crv, "P-384") == 0)
			k->curve = 384, clen = 48, group = "secp384r1";
		else
			return 0; /* P-521, secp256k1: not taken */
		if (k->alg >= 0 &&
		    k->alg != (k->curve == 256 ? SL_JWA_ES256 : SL_JWA_ES384))
			goto mismatch;
		an = get_b64(text, t, obj, "x", a, sizeof(a));
		bn = get_b64(text, t, obj, "y", b, sizeof(b));
		if (pad_left(a, an, clen) != (long)clen ||
		    pad_left(b, bn, clen) != (long)clen ||
		    (k->pkey = ec_key(group, a, b, clen)) == NULL) {
			snprintf(what, sizeof(what), "not a point of %s", crv);
			return key_why(why, wlen, "EC ", k, what);
		}
		return 1;
	}
	if (strcmp(kty, "OKP") == 0) {
		k->type = SL_JWK_OKP;
		if (get_str(text, t, obj, "crv", crv, sizeof(crv)) != 1 ||
		    strcmp(crv, "Ed25519") != 0)
			return 0; /* Ed448, X25519: not taken */
		k->curve = 25519;
		if (k->alg >= 0 && k->alg != SL_JWA_EDDSA)
			goto mismatch;
		an = get_b64(text, t, obj, "x", a, sizeof(a));
		if (an != 32 || (k->pkey = EVP_PKEY_new_raw_public_key(
				     EVP_PKEY_ED25519, NULL, a, 32)) == NULL) {
			return key_why(why, wlen, "Ed25519 ", k,
				       "\"x\" must be 32 bytes, base64url");
		}
		return 1;
	}
	return 0; /* "oct" (a shared secret) and others: never */
mismatch:
	snprintf(what, sizeof(what), "\"alg\" %s does not fit its type",
		 sl_jwa_name(k->alg));
	return key_why(why, wlen, "", k, what);
}

void
sl_jwks_ref(struct sl_jwks *ks)
{
	atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
}

void
sl_jwks_free(struct sl_jwks *ks)
{
	if (ks == NULL ||
	    atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		free(ks->keys[i].kid);
		EVP_PKEY_free(ks->keys[i].pkey);
	}
	free(ks->keys);
	free(ks);
}

/* The SHA-256 of text, in hex, into out (65 bytes). Returns 0, or -1. */
static int
text_sha256(const char *text, size_t len, char *out)
{
	unsigned char md[32];
	unsigned int n = 0;

	if (EVP_Digest(text, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -1;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

struct sl_jwks *
sl_jwks_parse(const char *text, size_t len, char *why, size_t wlen)
{
	static atomic_uint_fast64_t ids;
	struct sl_json_tok *t = calloc(KEYS_TOKENS, sizeof(*t));
	struct sl_jwks *ks = calloc(1, sizeof(*ks));
	size_t where = 0, nkeys;
	int n, arr, i;

	if (ks != NULL)
		atomic_init(&ks->refs, 1);
	if (t == NULL || ks == NULL) {
		snprintf(why, wlen, "out of memory");
		goto fail;
	}
	ks->id = atomic_fetch_add(&ids, 1) + 1;
	if ((n = sl_json_parse(text, len, t, KEYS_TOKENS, JSON_DEPTH, &where)) <
	    0) {
		snprintf(why, wlen, "not valid JSON (at byte %zu)", where);
		goto fail;
	}
	if (t[0].type != SL_JSON_OBJECT) {
		snprintf(why, wlen, "not a JSON object");
		goto fail;
	}
	/* {"keys": [...]}, or one key */
	if ((arr = sl_json_get(text, t, 0, "keys", 4)) >= 0) {
		if (t[arr].type != SL_JSON_ARRAY) {
			snprintf(why, wlen, "\"keys\" is not an array");
			goto fail;
		}
		nkeys = t[arr].size;
		i = arr + 1;
	} else {
		nkeys = 1;
		i = 0;
	}
	if (nkeys > 0 &&
	    (ks->keys = calloc(nkeys, sizeof(*ks->keys))) == NULL) {
		snprintf(why, wlen, "out of memory");
		goto fail;
	}
	for (size_t k = 0; k < nkeys; k++, i = (int)t[i].end) {
		struct sl_jwk *key = &ks->keys[ks->n];
		int r = jwk_make(text, t, i, key, why, wlen);
		if (r == -1) {
			free(key->kid);
			EVP_PKEY_free(key->pkey);
			memset(key, 0, sizeof(*key));
			goto fail;
		}
		if (r == 0) {
			free(key->kid);
			EVP_PKEY_free(key->pkey);
			memset(key, 0, sizeof(*key));
			ks->skipped++;
			continue;
		}
		for (size_t j = 0; key->kid != NULL && j < ks->n; j++)
			if (ks->keys[j].kid != NULL &&
			    strcmp(ks->keys[j].kid, key->kid) == 0) {
				snprintf(why, wlen,
					 "two keys with \"kid\" \"%.64s\"",
					 key->kid);
				free(key->kid);
				EVP_PKEY_free(key->pkey);
				memset(key, 0, sizeof(*key));
				goto fail;
			}
		ks->n++;
	}
	if (ks->n == 0) {
		snprintf(why, wlen,
			 "no key sluice can verify with (%zu skipped: "
			 "encryption keys, shared secrets, other curves)",
			 ks->skipped);
		goto fail;
	}
	if (text_sha256(text, len, ks->sha256) == -1) {
		snprintf(why, wlen, "out of memory");
		goto fail;
	}
	free(t);
	return ks;
fail:
	free(t);
	sl_jwks_free(ks);
	return NULL;
}

/* ---- tokens -----------------------------------------------------------*/

/* Whether key k may verify alg. */
static int
key_fits(const struct sl_jwk *k, int alg)
{
	if (k->alg >= 0 && k->alg != alg)
		return 0;
	switch (alg) {
	case SL_JWA_RS256:
	case SL_JWA_RS384:
	case SL_JWA_RS512:
	case SL_JWA_PS256:
	case SL_JWA_PS384:
	case SL_JWA_PS512:
		return k->type == SL_JWK_RSA;
	case SL_JWA_ES256:
		return k->type == SL_JWK_EC && k->curve == 256;
	case SL_JWA_ES384:
		return k->type == SL_JWK_EC && k->curve == 384;
	case SL_JWA_EDDSA:
		return k->type == SL_JWK_OKP;
	default:
		return 0;
	}
}

static const EVP_MD *
alg_md(int alg)
{
	switch (alg) {
	case SL_JWA_RS256:
	case SL_JWA_PS256:
	case SL_JWA_ES256:
		return EVP_sha256();
	case SL_JWA_RS384:
	case SL_JWA_PS384:
	case SL_JWA_ES384:
		return EVP_sha384();
	case SL_JWA_RS512:
	case SL_JWA_PS512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* Whether sig (slen bytes) signs data (dlen bytes) by alg with key k. */
static int
verify(const struct sl_jwk *k, int alg, const char *data, size_t dlen,
       const uint8_t *sig, size_t slen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	uint8_t der[2 * 50 + 8];
	const uint8_t *s = sig;
	int ok = 0;

	if (m == NULL)
		return 0;
	if (alg == SL_JWA_ES256 || alg == SL_JWA_ES384) {
		/* JWS's R || S, each the curve's size (RFC 7518 section
		 * 3.4), as the DER that OpenSSL verifies */
		size_t half = alg == SL_JWA_ES256 ? 32 : 48;
		ECDSA_SIG *es;
		BIGNUM *r, *ss;
		uint8_t *p = der;
		int n;

		if (slen != 2 * half)
			goto out;
		es = ECDSA_SIG_new();
		r = BN_bin2bn(sig, (int)half, NULL);
		ss = BN_bin2bn(sig + half, (int)half, NULL);
		if (es == NULL || r == NULL || ss == NULL ||
		    ECDSA_SIG_set0(es, r, ss) != 1) {
			ECDSA_SIG_free(es);
			BN_free(r);
			BN_free(ss);
			goto out;
		}
		n = i2d_ECDSA_SIG(es, NULL);
		if (n <= 0 || (size_t)n > sizeof(der) ||
		    i2d_ECDSA_SIG(es, &p) != n) {
			ECDSA_SIG_free(es);
			goto out;
		}
		ECDSA_SIG_free(es);
		s = der;
		slen = (size_t)n;
	} else if (alg == SL_JWA_EDDSA) {
		if (slen != 64)
			goto out;
	} else if (slen != (size_t)EVP_PKEY_get_size(k->pkey)) {
		goto out; /* an RSA signature is the modulus' size */
	}
	if (EVP_DigestVerifyInit(m, &pc,
				 alg == SL_JWA_EDDSA ? NULL : alg_md(alg), NULL,
				 k->pkey) != 1)
		goto out;
	if (alg >= SL_JWA_PS256 && alg <= SL_JWA_PS512 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	if (alg <= SL_JWA_RS512 &&
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1)
		goto out;
	ok = EVP_DigestVerify(m, s, slen, (const uint8_t *)data, dlen) == 1;
out:
	EVP_MD_CTX_free(m);
	return ok;
}

/* Whether string t[i] equals one of vals. */
static int
str_in(const char *text, const struct sl_json_tok *t, int i, char *const *vals,
       size_t nvals)
{
	for (size_t k = 0; k < nvals; k++)
		if (sl_json_str_eq(text, t, i, vals[k], strlen(vals[k])))
			return 1;
	return 0;
}

/*
 * Whether claim t[i] satisfies rule q: present, and when q lists values,
 * a string equal to one, or a string whose space-separated words hold one
 * (OAuth's "scope", RFC 8693 section 4.2), or an array with a string
 * element that is one.
 */
static int
require_ok(const char *text, const struct sl_json_tok *t, int i,
	   const struct sl_jwt_require *q)
{
	char v[1024];
	long n;

	if (q->nvalues == 0)
		return 1;
	if (t[i].type == SL_JSON_ARRAY) {
		for (int e = i + 1; e < (int)t[i].end; e = (int)t[e].end)
			if (t[e].type == SL_JSON_STRING &&
			    str_in(text, t, e, q->values, q->nvalues))
				return 1;
		return 0;
	}
	if (t[i].type != SL_JSON_STRING)
		return 0;
	if (str_in(text, t, i, q->values, q->nvalues))
		return 1;
	if ((n = sl_json_str(text, t, i, v, sizeof(v))) < 0)
		return 0;
	for (long a = 0; a < n;) {
		long b = a;
		while (b < n && v[b] != ' ')
			b++;
		for (size_t k = 0; k < q->nvalues; k++)
			if ((size_t)(b - a) == strlen(q->values[k]) &&
			    memcmp(v + a, q->values[k], (size_t)(b - a)) == 0)
				return 1;
		a = b + 1;
	}
	return 0;
}

/* Who a signed token speaks for: "iss", a newline, "sub" (none without
 * a "sub" string, or when they do not fit). */
static void
caller_out(const char *text, const struct sl_json_tok *t,
	   struct sl_jwt_out *out)
{
	size_t room = sizeof(out->caller), n = 0;

	out->caller_len = 0;
	if (get_str(text, t, 0, "iss", out->caller, room - 1) == 1)
		n = strlen(out->caller);
	out->caller[n++] = '\n';
	if (get_str(text, t, 0, "sub", out->caller + n, room - n) == 1)
		out->caller_len = n + strlen(out->caller + n);
}

/* The policy's fields from the claims into out. Returns SL_JWT_OK or
 * SL_JWT_CLAIM_VALUE. */
static int
fields_out(const struct sl_jwt_policy *p, const char *text,
	   const struct sl_json_tok *t, struct sl_jwt_out *out)
{
	size_t used = 0;

	for (size_t f = 0; f < p->nfields && f < SL_JWT_FIELDS_MAX; f++) {
		const char *c = p->fields[f].claim;
		int i = sl_json_get(text, t, 0, c, strlen(c));
		char *o = out->buf + used;
		size_t room = sizeof(out->buf) - used;
		long n;

		out->f[f].present = 0;
		out->f[f].len = 0;
		if (i < 0)
			continue;
		switch (t[i].type) {
		case SL_JSON_STRING:
			if ((n = sl_json_str(text, t, i, o, room)) < 0)
				return SL_JWT_CLAIM_VALUE;
			break;
		case SL_JSON_NUMBER:
		case SL_JSON_TRUE:
		case SL_JSON_FALSE:
			if (t[i].len > room)
				return SL_JWT_CLAIM_VALUE;
			memcpy(o, text + t[i].start, t[i].len);
			n = (long)t[i].len;
			break;
		default:
			continue; /* an object, an array, null: no field */
		}
		/* a field's value: no control byte may reach the upstream's
		 * head (CR and LF would split it) */
		for (long k = 0; k < n; k++) {
			unsigned char ch = (unsigned char)o[k];
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return SL_JWT_CLAIM_VALUE;
		}
		out->f[f].off = (uint16_t)used;
		out->f[f].len = (uint16_t)n;
		out->f[f].present = 1;
		used += (size_t)n;
	}
	return SL_JWT_OK;
}

int
sl_jwt_check(const struct sl_jwt_policy *p, const struct sl_jwks *ks,
	     const char *tok, size_t len, int64_t now_s, int verified,
	     struct sl_jwt_out *out)
{
	uint8_t head[1024], claims[SL_JWT_MAX], sig[1024];
	struct sl_json_tok ht[HEAD_TOKENS], ct[CLAIMS_TOKENS];
	const char *d1, *d2, *hc = (const char *)head, *cc;
	const struct sl_jwk *cand[NOKID_TRIES];
	size_t ncand = 0;
	long hn, cn, sn;
	int i, alg, r;
	char kid[256];
	int64_t v;

	out->key = NULL;
	out->alg = -1;
	if (len > SL_JWT_MAX)
		return SL_JWT_TOO_LARGE;
	/* header.payload.signature, each base64url */
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL)
		return SL_JWT_MALFORMED;
	if ((hn = b64u_decode(tok, (size_t)(d1 - tok), head, sizeof(head))) <=
		0 ||
	    (cn = b64u_decode(d1 + 1, (size_t)(d2 - d1 - 1), claims,
			      sizeof(claims))) <= 0)
		return SL_JWT_MALFORMED;
	cc = (const char *)claims;
	if (sl_json_parse(hc, (size_t)hn, ht, HEAD_TOKENS, JSON_DEPTH, NULL) <
		0 ||
	    ht[0].type != SL_JSON_OBJECT ||
	    sl_json_parse(cc, (size_t)cn, ct, CLAIMS_TOKENS, JSON_DEPTH, NULL) <
		0 ||
	    ct[0].type != SL_JSON_OBJECT)
		return SL_JWT_MALFORMED;
	/* the header: an algorithm the route takes ("none" and HS256 are
	 * none of them), no extension that must be understood */
	if ((i = sl_json_get(hc, ht, 0, "alg", 3)) < 0 ||
	    ht[i].type != SL_JSON_STRING)
		return SL_JWT_MALFORMED;
	alg = sl_jwa_parse(hc + ht[i].start, ht[i].len);
	if (alg < 0 || !(p->algs & (1u << alg)))
		return SL_JWT_ALG;
	out->alg = alg;
	/* the signature: decoded when it is checked, its text checked always
	 * (a token is refused the same whether a cache knew it or not).
	 * After the algorithm: an unsecured token ("alg": "none", nothing
	 * after the last dot) is the classic attack, and counted as one
	 * (jwt_algorithm), not as a malformed token */
	sn = (long)(len - (size_t)(d2 + 1 - tok));
	if (sn == 0 || sn % 4 == 1)
		return SL_JWT_MALFORMED;
	if (sl_json_get(hc, ht, 0, "crit", 4) >= 0)
		return SL_JWT_CRIT;
	/* the key: by "kid", else the first few of the algorithm's family;
	 * keys the token carries or points at (jwk, jku, x5u) are never
	 * used */
	r = get_str(hc, ht, 0, "kid", kid, sizeof(kid));
	if (r == -1)
		return SL_JWT_MALFORMED;
	for (size_t k = 0; k < ks->n && ncand < NOKID_TRIES; k++) {
		const struct sl_jwk *key = &ks->keys[k];
		if (r == 1 && (key->kid == NULL || strcmp(key->kid, kid) != 0))
			continue;
		if (key_fits(key, alg))
			cand[ncand++] = key;
	}
	if (ncand == 0)
		return SL_JWT_NO_KEY;
	/* the claims that need no key first: an expired token costs no
	 * signature check */
	if ((i = sl_json_get(cc, ct, 0, "exp", 3)) >= 0) {
		if (sl_json_seconds(cc, ct, i, &v) != 0)
			return SL_JWT_MALFORMED;
		if (now_s >= v + p->skew_s)
			return SL_JWT_EXPIRED;
	} else if (!p->exp_optional) {
		return SL_JWT_NO_EXP;
	}
	if ((i = sl_json_get(cc, ct, 0, "nbf", 3)) >= 0) {
		if (sl_json_seconds(cc, ct, i, &v) != 0)
			return SL_JWT_MALFORMED;
		if (now_s + p->skew_s < v)
			return SL_JWT_NOT_YET;
	}
	if (p->nissuers > 0 && ((i = sl_json_get(cc, ct, 0, "iss", 3)) < 0 ||
				ct[i].type != SL_JSON_STRING ||
				!str_in(cc, ct, i, p->issuers, p->nissuers)))
		return SL_JWT_ISSUER;
	if (p->naudiences > 0) {
		int ok = 0;
		if ((i = sl_json_get(cc, ct, 0, "aud", 3)) < 0)
			return SL_JWT_AUDIENCE;
		if (ct[i].type == SL_JSON_STRING)
			ok = str_in(cc, ct, i, p->audiences, p->naudiences);
		else if (ct[i].type == SL_JSON_ARRAY)
			for (int e = i + 1; !ok && e < (int)ct[i].end;
			     e = (int)ct[e].end)
				ok = ct[e].type == SL_JSON_STRING &&
				     str_in(cc, ct, e, p->audiences,
					    p->naudiences);
		if (!ok)
			return SL_JWT_AUDIENCE;
	}
	/* the signature, over the text of header.payload */
	if (!verified) {
		size_t k;
		if ((sn = b64u_decode(d2 + 1, (size_t)sn, sig, sizeof(sig))) <=
		    0)
			return SL_JWT_MALFORMED;
		for (k = 0; k < ncand; k++)
			if (verify(cand[k], alg, tok, (size_t)(d2 - tok), sig,
				   (size_t)sn))
				break;
		if (k == ncand)
			return SL_JWT_SIGNATURE;
		out->key = cand[k];
	}
	/* a signed token's claims: what the route requires, what it sends
	 * on */
	for (size_t q = 0; q < p->nrequire; q++) {
		const char *c = p->require[q].claim;
		if ((i = sl_json_get(cc, ct, 0, c, strlen(c))) < 0 ||
		    !require_ok(cc, ct, i, &p->require[q]))
			return SL_JWT_FORBIDDEN;
	}
	caller_out(cc, ct, out);
	return fields_out(p, cc, ct, out);
}

/* ---- where a token comes from ----------------------------------------*/

int
sl_jwt_kid(const char *tok, size_t len, char *out, size_t room)
{
	uint8_t head[1024];
	struct sl_json_tok ht[HEAD_TOKENS];
	const char *d = memchr(tok, '.', len);
	long hn;

	if (d == NULL ||
	    (hn = b64u_decode(tok, (size_t)(d - tok), head, sizeof(head))) <=
		0 ||
	    sl_json_parse((const char *)head, (size_t)hn, ht, HEAD_TOKENS,
			  JSON_DEPTH, NULL) < 0 ||
	    ht[0].type != SL_JSON_OBJECT)
		return -1;
	return get_str((const char *)head, ht, 0, "kid", out, room) == 1 ? 0
									 : -1;
}

int
sl_jwt_bearer(const char *v, size_t n, const char **tok, size_t *tlen)
{
	size_t i = 0, e;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (n - i < 7 || strncasecmp(v + i, "bearer", 6) != 0 ||
	    v[i + 6] != ' ')
		return -1;
	i += 7;
	while (i < n && v[i] == ' ')
		i++;
	e = n;
	while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
		e--;
	if (e == i)
		return -1;
	/* token68 (RFC 9110 section 11.2): one word (a parsed field's value
	 * holds no other white space than these, and no CR or LF) */
	if (memchr(v + i, ' ', e - i) != NULL ||
	    memchr(v + i, ',', e - i) != NULL ||
	    memchr(v + i, '\t', e - i) != NULL)
		return -1;
	*tok = v + i;
	*tlen = e - i;
	return 0;
}

int
sl_jwt_cookie(const char *v, size_t n, const char *name, size_t nlen,
	      const char **val, size_t *vlen)
{
	size_t i = 0;

	/* cookie-string (RFC 6265 section 4.2.1): pairs separated by ";"
	 * and white space */
	while (i < n) {
		size_t s, eq, e;
		while (i < n && (v[i] == ' ' || v[i] == ';' || v[i] == '\t'))
			i++;
		s = i;
		while (i < n && v[i] != ';')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		for (eq = s; eq < e && v[eq] != '='; eq++)
			;
		if (eq < e && eq - s == nlen &&
		    memcmp(v + s, name, nlen) == 0) {
			size_t a = eq + 1;
			/* a quoted value (cookie-value may be DQUOTE'd) */
			if (e - a >= 2 && v[a] == '"' && v[e - 1] == '"')
				a++, e--;
			*val = v + a;
			*vlen = e - a;
			return 0;
		}
	}
	return -1;
}
