/* SPDX-License-Identifier: MIT */
/*
 * ACME's cryptography with OpenSSL (acme_int.h): keys, their JWK and
 * thumbprint (RFC 7638), the JWS of each request (RFC 8555 section 6.2,
 * ES256 or RS256), External Account Binding (HS256), the CSR, and
 * tls-alpn-01's certificate (RFC 8737).
 */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme_int.h"
#include "tlscert.h"

char *
acme_b64url(const unsigned char *d, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_";
	char *out = malloc(n / 3 * 4 + 5), *o = out;
	size_t i = 0;

	if (out == NULL)
		return NULL;
	for (; i + 2 < n; i += 3) {
		uint32_t v =
		    (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)d[i] << 16;
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8;
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
	}
	*o = '\0';
	return out;
}

static char *
b64url_str(const char *s)
{
	return acme_b64url((const unsigned char *)s, strlen(s));
}

EVP_PKEY *
acme_key_new(int rsa)
{
	EVP_PKEY *k = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");

	ERR_clear_error();
	return k;
}

char *
acme_key_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *out = NULL;
	long n;

	if (b != NULL &&
	    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	ERR_clear_error();
	return out;
}

EVP_PKEY *
acme_key_read(const char *pem, size_t len)
{
	char why[200];

	struct sl_tls_keyreader *kr = sl_tls_keyreader_new();
	EVP_PKEY *k = sl_tls_key_read(kr, pem, len, why, sizeof(why));

	sl_tls_keyreader_free(kr);
	return k;
}

/* A big number's bytes, left-padded to width (0: as long as it is), in
 * base64url. */
static char *
bn_b64(EVP_PKEY *key, const char *param, size_t width)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	char *out = NULL;
	int n;

	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
		goto out;
	n = BN_num_bytes(bn);
	if (width == 0)
		width = (size_t)n;
	if (n < 0 || (size_t)n > width || width > sizeof(buf) ||
	    BN_bn2binpad(bn, buf, (int)width) < 0)
		goto out;
	out = acme_b64url(buf, width);
out:
	BN_free(bn);
	ERR_clear_error();
	return out;
}

char *
acme_jwk(EVP_PKEY *key)
{
	char *a, *b, *out = NULL;
	int rsa = EVP_PKEY_is_a(key, "RSA");

	a = bn_b64(key, rsa ? OSSL_PKEY_PARAM_RSA_E : OSSL_PKEY_PARAM_EC_PUB_X,
		   rsa ? 0 : 32);
	b = bn_b64(key, rsa ? OSSL_PKEY_PARAM_RSA_N : OSSL_PKEY_PARAM_EC_PUB_Y,
		   rsa ? 0 : 32);
	if (a != NULL && b != NULL) {
		size_t n = strlen(a) + strlen(b) + 64;
		if ((out = malloc(n)) != NULL) {
			if (rsa)
				snprintf(out, n,
					 "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":"
					 "\"%s\"}",
					 a, b);
			else
				snprintf(out, n,
					 "{\"crv\":\"P-256\",\"kty\":\"EC\","
					 "\"x\":\"%s\",\"y\":\"%s\"}",
					 a, b);
		}
	}
	free(a);
	free(b);
	return out;
}

int
acme_thumbprint(const char *jwk, char out[44])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *s;

	if (EVP_Digest(jwk, strlen(jwk), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    (s = acme_b64url(md, mdlen)) == NULL)
		return -1;
	snprintf(out, 44, "%s", s);
	free(s);
	return 0;
}

/* key's signature of data, as JWS wants it: ES256's r and s of 32 bytes
 * each (not DER), RS256's as it is. base64url, malloc'd, or NULL. */
static char *
sign(EVP_PKEY *key, const char *data, size_t len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[1024], raw[64];
	size_t siglen = sizeof(sig);
	char *out = NULL;

	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)data,
			   len) != 1)
		goto out;
	if (EVP_PKEY_is_a(key, "EC")) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		const BIGNUM *r, *s;
		if (es == NULL)
			goto out;
		ECDSA_SIG_get0(es, &r, &s);
		if (BN_bn2binpad(r, raw, 32) != 32 ||
		    BN_bn2binpad(s, raw + 32, 32) != 32) {
			ECDSA_SIG_free(es);
			goto out;
		}
		ECDSA_SIG_free(es);
		out = acme_b64url(raw, 64);
	} else
		out = acme_b64url(sig, siglen);
out:
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return out;
}

/* {"protected":P,"payload":L,"signature":S} of the parts. */
static char *
flatten(const char *prot, const char *pay, const char *sig)
{
	size_t n = strlen(prot) + strlen(pay) + strlen(sig) + 48;
	char *out = malloc(n);

	if (out != NULL)
		snprintf(out, n,
			 "{\"protected\":\"%s\",\"payload\":\"%s\","
			 "\"signature\":\"%s\"}",
			 prot, pay, sig);
	return out;
}

/* The signer of a JWS: a key's (ES256, RS256) or a MAC key's (HS256). */
struct signer {
	EVP_PKEY *key;		  /* NULL: mac */
	const unsigned char *mac; /* HS256's key */
	size_t maclen;
};

/* The flattened JWS of the protected header head and payload, signed by
 * s. Malloc'd, or NULL. */
static char *
jws_of(const char *head, const char *payload, const struct signer *s)
{
	char *prot = b64url_str(head), *pay = b64url_str(payload);
	char *input = NULL, *sig = NULL, *out = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n;

	if (prot == NULL || pay == NULL)
		goto out;
	n = strlen(prot) + strlen(pay) + 2;
	if ((input = malloc(n)) == NULL)
		goto out;
	snprintf(input, n, "%s.%s", prot, pay);
	if (s->key != NULL)
		sig = sign(s->key, input, strlen(input));
	else if (HMAC(EVP_sha256(), s->mac, (int)s->maclen,
		      (unsigned char *)input, strlen(input), md,
		      &mdlen) != NULL)
		sig = acme_b64url(md, mdlen);
	if (sig != NULL)
		out = flatten(prot, pay, sig);
out:
	free(prot);
	free(pay);
	free(input);
	free(sig);
	OPENSSL_cleanse(md, sizeof(md));
	return out;
}

char *
acme_jws(EVP_PKEY *key, const char *jwk, const char *kid, const char *nonce,
	 const char *url, const char *payload)
{
	const char *alg = EVP_PKEY_is_a(key, "RSA") ? "RS256" : "ES256";
	size_t n = strlen(url) + strlen(nonce) +
		   (kid ? strlen(kid) : strlen(jwk)) + 64;
	struct signer sg = {key, NULL, 0};
	char *head = malloc(n), *out;

	if (head == NULL)
		return NULL;
	if (kid != NULL)
		snprintf(head, n,
			 "{\"alg\":\"%s\",\"kid\":\"%s\",\"nonce\":\"%s\","
			 "\"url\":\"%s\"}",
			 alg, kid, nonce, url);
	else
		snprintf(head, n,
			 "{\"alg\":\"%s\",\"jwk\":%s,\"nonce\":\"%s\","
			 "\"url\":\"%s\"}",
			 alg, jwk, nonce, url);
	out = jws_of(head, payload, &sg);
	free(head);
	return out;
}

char *
acme_eab(const char *kid, const unsigned char *mac, size_t maclen,
	 const char *jwk, const char *url)
{
	size_t n = strlen(kid) + strlen(url) + 48;
	struct signer sg = {NULL, mac, maclen};
	char *head = malloc(n), *out;

	if (head == NULL)
		return NULL;
	snprintf(head, n, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"url\":\"%s\"}",
		 kid, url);
	out = jws_of(head, jwk, &sg);
	free(head);
	return out;
}

/* A subjectAltName of one DNS name (a GENERAL_NAME made, not a config
 * string: a comma would add names). */
static X509_EXTENSION *
san_ext(const char *name)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	X509_EXTENSION *ext = NULL;

	if (gens != NULL && g != NULL && s != NULL &&
	    ASN1_STRING_set(s, name, (int)strlen(name)) == 1) {
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		s = NULL;
		if (sk_GENERAL_NAME_push(gens, g) > 0) {
			g = NULL;
			ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
		}
	}
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	return ext;
}

/* A subject of CN=name, or an empty one for a name longer than a CN may
 * be (64): the subjectAltName carries it (RFC 5280 section 4.2.1.6). */
static int
subject_cn(X509_NAME *subj, const char *name)
{
	if (strlen(name) > 64)
		return 1;
	return X509_NAME_add_entry_by_txt(
	    subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0);
}

char *
acme_csr(EVP_PKEY *key, const char *name)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = san_ext(name);
	X509_NAME *subj = X509_NAME_new();
	unsigned char *der = NULL;
	char *out = NULL;
	int n;

	if (req == NULL || exts == NULL || san == NULL || subj == NULL ||
	    subject_cn(subj, name) != 1 ||
	    X509_REQ_set_subject_name(req, subj) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    sk_X509_EXTENSION_push(exts, san) == 0)
		goto out;
	san = NULL;
	if (X509_REQ_add_extensions(req, exts) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    (n = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	out = acme_b64url(der, (size_t)n);
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	ERR_clear_error();
	return out;
}

/* The acmeIdentifier extension (id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31),
 * critical: an OCTET STRING of SHA-256(keyauth). */
static X509_EXTENSION *
acme_id_ext(const char *keyauth)
{
	unsigned char inner[2 + 32];
	unsigned int mdlen = 0;
	ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;

	inner[0] = 0x04; /* OCTET STRING, 32 bytes: its DER */
	inner[1] = 32;
	if (obj != NULL && os != NULL &&
	    EVP_Digest(keyauth, strlen(keyauth), inner + 2, &mdlen,
		       EVP_sha256(), NULL) == 1 &&
	    mdlen == 32 && ASN1_OCTET_STRING_set(os, inner, sizeof(inner)) == 1)
		ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	return ext;
}

struct sl_tls_cert *
acme_alpn_cert(const char *name, const char *keyauth)
{
	EVP_PKEY *key = acme_key_new(0);
	X509 *x = X509_new();
	X509_NAME *subj = X509_NAME_new();
	X509_EXTENSION *san = san_ext(name), *id = acme_id_ext(keyauth);
	BIO *b = BIO_new(BIO_s_mem());
	struct sl_tls_cert *c = NULL;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char *pem = NULL, why[128];
	long n;

	if (key == NULL || x == NULL || subj == NULL || san == NULL ||
	    id == NULL || b == NULL || RAND_bytes(serial, 16) != 1)
		goto out;
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, 16, NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_set_version(x, 2) != 1 || subject_cn(subj, name) != 1 ||
	    X509_set_subject_name(x, subj) != 1 ||
	    X509_set_issuer_name(x, subj) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1 || X509_add_ext(x, san, -1) != 1 ||
	    X509_add_ext(x, id, -1) != 1 ||
	    X509_sign(x, key, EVP_sha256()) <= 0 ||
	    PEM_write_bio_X509(b, x) != 1 ||
	    (n = BIO_get_mem_data(b, &pem)) <= 0)
		goto out;
	c = sl_tls_cert_from_pem(pem, (size_t)n, key, why, sizeof(why));
out:
	BN_free(bn);
	BIO_free(b);
	X509_EXTENSION_free(san);
	X509_EXTENSION_free(id);
	X509_NAME_free(subj);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return c;
}
