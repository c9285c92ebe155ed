/* SPDX-License-Identifier: MIT */
/*
 * Private to the ACME client's files (doc/tls.md, "ACME"): acme.c runs the
 * thread, the account and the orders; acme_http.c is its HTTPS client;
 * acme_jws.c its keys, JWS, CSR and tls-alpn-01 certificates. All of it
 * runs on the ACME thread only, never on a worker's loop.
 */
#ifndef SL_ACME_INT_H
#define SL_ACME_INT_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

struct sl_tls_cert;

/* ---- acme_http.c --------------------------------------------------------
 */

#define ACME_BODY_MAX (1024 * 1024)

/* An HTTPS client for one CA: its context (verifying with the CA file
 * given, else the system's store), the deadline of one call, and the fd
 * that ends a wait at once (the thread is stopping). */
struct acme_http {
	SSL_CTX *ctx;
	uint64_t timeout_ms;
	int stop_fd; /* readable: stop */
};

/* An answer: status, body (malloc'd, NUL-ended), the fields ACME reads. */
struct acme_resp {
	int status;
	char *body;
	size_t len;
	char nonce[256];     /* Replay-Nonce */
	char location[1024]; /* Location */
	char ctype[128];     /* Content-Type */
	long retry_after;    /* seconds, -1: none */
};

/* Makes c's context. 0, or -1 with why. */
int acme_http_init(struct acme_http *c, const char *ca_file, char *why,
		   size_t n);
void acme_http_free(struct acme_http *c);

/* One call: method on url (https only), body (blen bytes) of
 * application/jose+json when not NULL. 0 with *r filled (any status), or
 * -1 with why (no answer: DNS, connect, TLS, a deadline, a stop, a
 * malformed answer). */
int acme_http_call(struct acme_http *c, const char *method, const char *url,
		   const char *body, size_t blen, struct acme_resp *r,
		   char *why, size_t n);
void acme_resp_free(struct acme_resp *r);
/* An answer read whole (raw, len bytes, the connection closed after it)
 * into *r: its status line, the fields above, and its body by
 * Content-Length, chunked or the close. 0, or -1 with why (r's body
 * freed). The fuzz driver's entry (tests/fuzz/fuzz_acme.c). */
int acme_http_parse(char *raw, size_t len, struct acme_resp *r, char *why,
		    size_t n);

/* ---- acme_jws.c ---------------------------------------------------------
 */

/* base64url without padding of d[0..n): malloc'd, or NULL. */
char *acme_b64url(const unsigned char *d, size_t n);

/* A new key: P-256, or RSA of 2048 bits. NULL when it failed. */
EVP_PKEY *acme_key_new(int rsa);
/* key's PEM (PKCS #8), malloc'd, or NULL. */
char *acme_key_pem(EVP_PKEY *key);
/* A key from PEM text, or NULL. */
EVP_PKEY *acme_key_read(const char *pem, size_t len);

/* The JWK of key's public part, its members in the order RFC 7638's
 * thumbprint needs; malloc'd, or NULL. */
char *acme_jwk(EVP_PKEY *key);
/* base64url(SHA-256(jwk)) into out (44 bytes with its NUL). 0, or -1. */
int acme_thumbprint(const char *jwk, char out[44]);

/* A flattened JWS (RFC 8555 section 6.2) of payload ("" : POST-as-GET)
 * for url, signed by key, identified by kid (NULL: by its jwk). Malloc'd,
 * or NULL. */
char *acme_jws(EVP_PKEY *key, const char *jwk, const char *kid,
	       const char *nonce, const char *url, const char *payload);
/* The External Account Binding (RFC 8555 section 7.3.4): a JWS of jwk,
 * HS256 with the CA's MAC key, for the newAccount url. Malloc'd, or NULL. */
char *acme_eab(const char *kid, const unsigned char *mac, size_t maclen,
	       const char *jwk, const char *url);

/* A CSR for name, signed by key, in base64url DER. Malloc'd, or NULL. */
char *acme_csr(EVP_PKEY *key, const char *name);

/* tls-alpn-01's certificate (RFC 8737 section 3) for name: self-signed,
 * name its one SAN, the critical acmeIdentifier extension holding
 * SHA-256(keyauth). A reference, or NULL. */
struct sl_tls_cert *acme_alpn_cert(const char *name, const char *keyauth);

#endif
