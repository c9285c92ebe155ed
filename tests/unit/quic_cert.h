/* SPDX-License-Identifier: MIT */
/*
 * A self-signed P-256 certificate for the QUIC tests' servers
 * (test_qtls.c, test_qconn.c), made at run time.
 */
#ifndef QUIC_CERT_H
#define QUIC_CERT_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static EVP_PKEY *quic_pkey;
static X509 *quic_cert;

static int
quic_cert_make(void **state)
{
	X509_NAME *name;

	(void)state;
	if ((quic_pkey = EVP_EC_gen("P-256")) == NULL ||
	    (quic_cert = X509_new()) == NULL)
		return -1;
	ASN1_INTEGER_set(X509_get_serialNumber(quic_cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(quic_cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(quic_cert), 3600);
	X509_set_pubkey(quic_cert, quic_pkey);
	name = X509_get_subject_name(quic_cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"quic.test", -1, -1,
				   0);
	X509_set_issuer_name(quic_cert, name);
	return X509_sign(quic_cert, quic_pkey, EVP_sha256()) > 0 ? 0 : -1;
}

static int
quic_cert_free(void **state)
{
	(void)state;
	X509_free(quic_cert);
	EVP_PKEY_free(quic_pkey);
	return 0;
}

/* A server's context with the certificate, made QUIC's; NULL on
 * failure. */
static SSL_CTX *
quic_server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL || SSL_CTX_use_certificate(ctx, quic_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, quic_pkey) != 1 ||
	    sl_qtls_ctx_setup(ctx, 1) != 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A client's context, made QUIC's, that verifies nothing (the tests'
 * certificate is self-signed), offering suites (NULL: OpenSSL's). */
static SSL_CTX *
quic_client_ctx(const char *suites)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	if ((suites != NULL && SSL_CTX_set_ciphersuites(ctx, suites) != 1) ||
	    sl_qtls_ctx_setup(ctx, 0) != 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

#endif
