/* SPDX-License-Identifier: MIT */
/*
 * Private to net/'s TLS files: a listener's contexts (tls.c) and their
 * ACME names (tls_acme.c, doc/tls.md "ACME"). Nothing outside net/
 * includes it.
 */
#ifndef SL_TLS_INT_H
#define SL_TLS_INT_H

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stddef.h>

struct sl_acme_slot;
struct sl_conf_tls_server;
struct sl_sni_idx;
struct sl_tls_cert;

/* Certificates of the same names (RSA and ECDSA), served together. */
struct sl_tls_group {
	struct sl_tls_cert **certs; /* a reference each */
	size_t ncerts;
};

/* A listener's TLS (or QUIC's, tls.qctx): one context, holding the first
 * group's certificates; the others are put on a connection by SNI. */
struct sl_tls_server {
	atomic_int refs;	     /* generations holding it */
	SSL_CTX *ctx;		     /* the listener's settings */
	struct sl_tls_group *groups; /* the first is the default */
	size_t ngroups;
	struct sl_sni_idx *idx; /* the groups' names */
	/* tls.acme's names (acmeslot.h): their own index, looked up before
	 * the groups' (a name's certificate from ACME is served rather than
	 * a file's, which serves until the first comes); NULL: none */
	struct sl_sni_idx *aidx;
	struct sl_acme_slot **acme;
	size_t nacme;
};

/* Whether proto is among the ALPN protocols in[0..inlen) (the
 * ClientHello's list); *out and *outlen point at it there. */
int sl_tls_alpn_offered(const unsigned char *in, unsigned int inlen,
			const char *proto, const unsigned char **out,
			unsigned char *outlen);

/* ---- tls_acme.c: tls.acme's names on a listener's contexts ------------ */

/* tls-alpn-01's protocol (RFC 8737), and the connection's mark that its
 * ClientHello offers it (SSL ex_data; -1 until the first load). */
#define SL_TLS_ACME_ALPN "acme-tls/1"
extern int sl_tls_acme_idx;

/* srv's ACME names (t->acme): their slots (made on first use, kept by
 * name across generations) and their index; a slot without a certificate
 * yet gets the one storage holds (NAME.crt, NAME.key), read as the
 * certificate files are (in threads when there are many, again only when
 * they changed), when it matches its key and has not expired: served
 * from the load on. 0, or -1 out of memory. */
int sl_tls_server_acme(struct sl_tls_server *srv,
		       const struct sl_conf_tls_server *t, const char *storage,
		       int seclevel);
void sl_tls_server_acme_free(struct sl_tls_server *srv);

/* SNI name[0..len) on an ACME listener: 1 its certificate (or for a
 * tls-alpn-01 handshake its challenge's) put on ssl, 0 not an ACME name,
 * 2 an ACME name without its first certificate yet (the files' lookup
 * goes on for both), -1 the handshake must fail. */
int sl_tls_acme_use(const struct sl_tls_server *srv, SSL *ssl, const char *name,
		    size_t len);

/* The handshake for name is refused for want of any certificate: said,
 * at most once a second. */
void sl_tls_acme_none(const char *name);

/* An ACME listener's ClientHello callback: marks a tls-alpn-01
 * handshake. */
int sl_tls_acme_hello(SSL *ssl, int *al, void *arg);

#endif
