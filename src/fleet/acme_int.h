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

#include "json.h"

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

/* ---- acme_store.c: the fleet's store (store: redis) ---------------------
 */

struct redisContext;
struct sl_conf_fleet_store;

struct acme_store {
	struct redisContext *rc;	      /* NULL: not connected */
	const struct sl_conf_fleet_store *fs; /* the generation's */
	unsigned char key[32];		      /* acme.key_file's */
	uint64_t timeout_ms;
};

/* Sets s to fs (borrowed from a generation the caller holds) and key; a
 * connection made before is closed. */
void acme_store_init(struct acme_store *s, const struct sl_conf_fleet_store *fs,
		     const unsigned char key[32], uint64_t timeout_ms);
void acme_store_close(struct acme_store *s);
void acme_store_free(struct acme_store *s);

/* The sealed value acme:WHAT NAME ("cert:", "account:"), opened into *out
 * (malloc'd, NUL-ended, *len bytes): 1, 0 when there is none, -1 (why). */
int acme_store_get(struct acme_store *s, const char *what, const char *name,
		   char **out, size_t *len, char *why, size_t n);
/* Keeps data sealed as acme:WHAT NAME; nx: only when there is none. 1
 * kept, 0 not (nx, one was there), -1 (why). */
int acme_store_put(struct acme_store *s, const char *what, const char *name,
		   const char *data, size_t len, int nx, char *why, size_t n);
/* NAME's certificate was kept: acme:updated says so. 0, or -1. */
int acme_store_updated(struct acme_store *s, const char *name, char *why,
		       size_t n);
/* fn for each name kept since *seen (a score of acme:updated), *seen
 * moved on. 0, or -1. */
int acme_store_changed(struct acme_store *s, int64_t *seen,
		       void (*fn)(const char *name, void *arg), void *arg,
		       char *why, size_t n);
/* NAME's lock for lease_ms under token: 1 taken, 0 another holds it, -1. */
int acme_store_lock(struct acme_store *s, const char *name, const char *token,
		    uint64_t lease_ms, char *why, size_t n);
/* Lets the lock go if token still holds it. */
void acme_store_unlock(struct acme_store *s, const char *name,
		       const char *token);
/* A challenge's answer for the fleet (keyauth NULL: gone): field "h:TOKEN"
 * or "a:NAME". 0, or -1. */
int acme_store_challenge(struct acme_store *s, const char *field,
			 const char *keyauth, char *why, size_t n);
/* fn for each answer under way (an expired one is removed). 0, or -1. */
int acme_store_challenges(struct acme_store *s,
			  void (*fn)(const char *field, const char *keyauth,
				     void *arg),
			  void *arg, char *why, size_t n);

/* ---- acme_util.c: below the other ACME files ---------------------------- */

struct sl_acme_slot;
struct sl_conf;

/* An atomic write of a private file (0600): dir/file.tmp, fsync,
 * rename. 0, or -1 with why. */
int acme_file_write(const char *dir, const char *file, const char *data,
		    size_t len, char *why, size_t n);
/* A certificate (its chain pem[0..len), its key) served for slot's name
 * from the next handshake, and kept in the storage dir; newer_only: only
 * when it expires after the one served. 1 installed, 0 not newer, -1
 * (why). */
int acme_install(const char *dir, struct sl_acme_slot *slot, const char *pem,
		 size_t len, EVP_PKEY *key, int newer_only, char *why,
		 size_t n);

/* A CA's JSON answer parsed (json.h's tokens), and a member string of one
 * of its objects. */
struct acme_js {
	const char *text;
	struct sl_json_tok t[512];
	int n;
};
/* 0 when r's body is a JSON object, else -1. */
int acme_js_parse(struct acme_js *j, const struct acme_resp *r);
/* Member name of object obj, a string without a NUL, into out. 0, or -1. */
int acme_js_str(const struct acme_js *j, int obj, const char *name, char *out,
		size_t n);
/* A random number below n (0 for 0). */
uint64_t acme_rnd(uint64_t n);

/* ---- acme_ari.c: ACME Renewal Information (RFC 9773) ------------------- */

/* The CA's suggested window for c, asked at ari_url (the directory's
 * renewalInfo): *when a moment chosen in it at random, *again when to ask
 * again (its Retry-After, at most six hours; six hours without one). 0,
 * or -1: no answer to go by (said; the two thirds rule then). */
int acme_ari_window(struct acme_http *h, const char *ari_url,
		    const struct sl_tls_cert *c, int64_t now, int64_t *when,
		    int64_t *again);

/* ---- acme_fleet.c ------------------------------------------------------- */

/* A certificate obtained here, kept sealed in the store for the fleet
 * (a failure is said: the others order it themselves). */
void acme_fleet_keep(struct acme_store *st, const char *name, EVP_PKEY *key,
		     const char *pem, size_t len);
/* slot's certificate from the store, installed when it expires after the
 * one served: 1, 0 (none, or not newer), -1 (why). */
int acme_fleet_fetch(struct acme_store *st, const char *dir,
		     struct sl_acme_slot *slot, char *why, size_t n);
/* A store command's bound: rate_limit_store.timeout, a second at least
 * (the ACME threads are not on the request path). */
uint64_t acme_store_timeout(const struct sl_conf *conf);
/* The fleet thread follows conf (started with the first generation of
 * store: redis, stopped by one without). ACME thread. */
void acme_fleet_apply(struct sl_conf *conf);
void acme_fleet_stop(void);

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
