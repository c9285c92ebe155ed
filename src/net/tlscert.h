/* SPDX-License-Identifier: MIT */
/*
 * A TLS listener's certificate files, parsed once: the leaf, its chain and
 * its key, with the DNS names the leaf carries. A key file that many
 * certificates share is read once; files are parsed on as many threads as
 * the machine has CPUs when there are many; and what was parsed is kept
 * by the files' identity (path, device, inode, size, modification and
 * change times), so that a reload reads again only the files that
 * changed. Used by tls.c alone, on the main thread.
 */
#ifndef SL_TLSCERT_H
#define SL_TLSCERT_H

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One certificate file and its key, checked to match and to pass the
 * security level it was loaded for; shared by reference (the cache, and
 * every listener set that serves it) and read-only. */
struct sl_tls_cert {
	atomic_int refs;
	X509 *leaf;
	STACK_OF(X509) * chain; /* the certificates after the leaf; may be
				   NULL */
	EVP_PKEY *key;
	char **names; /* the leaf's DNS names (its CN when it has none) */
	size_t nnames;
	time_t not_before, not_after; /* the leaf's dates (seconds) */
	struct sl_tls_cert_id *id;    /* the files it was read from */
};

/* What a message of a job is about: the certificate's file, its key's,
 * or neither (out of memory). */
enum { SL_TLS_CERT_ABOUT_CERT, SL_TLS_CERT_ABOUT_KEY, SL_TLS_CERT_ABOUT_NONE };

/* What a listener asks for one of its certificates, and what it gets. */
struct sl_tls_cert_job {
	const char *cert_path, *key_path; /* borrowed */
	const void *arg;		  /* the caller's (its positions) */
	struct sl_tls_cert *cert; /* a reference, or NULL (msg says why) */
	unsigned nmsg;
	struct {
		int about; /* SL_TLS_CERT_ABOUT_* */
		char text[900];
	} msg[2];
};

/*
 * Fills each of jobs[0..n): from the cache when its files did not change
 * since they were read, else by reading them (keys once each, then the
 * certificates, in threads when there are many), checked at security
 * level seclevel (the listener's context's: its ciphers may lower it).
 * Returns 0, or -1 when out of memory (jobs may be half done: free what
 * they hold).
 */
int sl_tls_certs_load(struct sl_tls_cert_job *jobs, size_t n, int seclevel);

/* Drops the cache's own reference to the certificates no generation
 * holds any more: called after a load, when the new generation holds
 * what it uses. */
void sl_tls_certs_prune(void);

struct sl_tls_cert *sl_tls_cert_ref(struct sl_tls_cert *c);
/* Drops a reference; frees c with the last. */
void sl_tls_cert_unref(struct sl_tls_cert *c);

/* A private key from pem[0..len) (no password), read the fastest way
 * OpenSSL 3 has: with decoders of one thread's reader, made once for
 * many keys (kr NULL: the untyped read alone). A new reference, or NULL
 * with why (n bytes). */
struct sl_tls_keyreader;
struct sl_tls_keyreader *sl_tls_keyreader_new(void);
void sl_tls_keyreader_free(struct sl_tls_keyreader *kr);
EVP_PKEY *sl_tls_key_read(struct sl_tls_keyreader *kr, const char *pem,
			  size_t len, char *why, size_t n);

/* A certificate from memory (ACME's, fleet/acme.c): the leaf and its
 * chain in pem[0..len), with key (one more reference taken), checked to
 * match. NULL with why (n bytes) when it cannot be read or does not. */
struct sl_tls_cert *sl_tls_cert_from_pem(const char *pem, size_t len,
					 EVP_PKEY *key, char *why, size_t n);

/* Loads c (leaf, key, chain) into ctx or, when ssl is not NULL, into the
 * connection ssl, replacing a certificate of the same key type. 1, or 0. */
int sl_tls_cert_use(struct sl_tls_cert *c, SSL_CTX *ctx, SSL *ssl);

/* The set of c's names, case folded, sorted and written out one after
 * another with their NULs (*len bytes, hashed into *h): equal for two
 * certificates of the same names, which are served together (a group).
 * Returns it (the caller frees it), or NULL when out of memory. */
char *sl_tls_cert_names_key(const struct sl_tls_cert *c, size_t *len,
			    uint64_t *h);

/* OpenSSL's last reason, for a message, in buf; clears the queue. */
const char *sl_tls_ossl_reason(char *buf, size_t n);

#endif
