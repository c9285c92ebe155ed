/* SPDX-License-Identifier: MIT */
/*
 * Unit test of what a server-side TLS connection holds from its start: the
 * SSL that sl_tls_accept makes for a listener holds no more of OpenSSL's
 * allocations than SSL_new and SSL_set_fd on the same context do. Every
 * block it adds stays for the connection's whole life, idle or not
 * (doc/performance.md, "Issue 62, session 42": the application data it
 * once set cost two blocks a connection, read by nothing).
 *
 * And of sl_tls_name_covered, the 421 check, on a connection of each of a
 * listener's two sets of contexts: the TCP one and the one made for QUIC
 * (tls.qctx), among whose certificates SNI chooses (issue 77: a QUIC
 * connection's context was looked for among the TCP set's only, so a
 * name its certificate holds, other than the SNI, was refused).
 *
 * OpenSSL's allocations are counted through CRYPTO_set_mem_functions,
 * which must come before OpenSSL allocates anything: first in main.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "conf_types.h"
#include "tls.h"

/* OpenSSL's blocks alive (realloc of NULL makes one, to 0 frees one) */
static long live;

static void *
count_malloc(size_t n, const char *file, int line)
{
	void *p = malloc(n);

	(void)file;
	(void)line;
	if (p != NULL)
		live++;
	return p;
}

static void *
count_realloc(void *old, size_t n, const char *file, int line)
{
	void *p;

	(void)file;
	(void)line;
	if (n == 0) {
		if (old != NULL)
			live--;
		free(old);
		return NULL;
	}
	p = realloc(old, n);
	if (p != NULL && old == NULL)
		live++;
	return p;
}

static void
count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p != NULL)
		live--;
	free(p);
}

static char dir[] = "/tmp/sl-test-tls-XXXXXX";
static char cert_path[64], key_path[64];

/* A P-256 key and a certificate signed by it, written as PEM files. */
static void
write_cert(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *crt = X509_new();
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
	assert_non_null(key);
	assert_non_null(crt);
	X509_set_version(crt, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(crt), 1);
	X509_gmtime_adj(X509_getm_notBefore(crt), -3600);
	X509_gmtime_adj(X509_getm_notAfter(crt), 3600);
	X509_set_pubkey(crt, key);
	X509_NAME_add_entry_by_txt(
	    X509_get_subject_name(crt), "CN", MBSTRING_ASC,
	    (const unsigned char *)"unit.test", -1, -1, 0);
	X509_set_issuer_name(crt, X509_get_subject_name(crt));
	assert_true(X509_sign(crt, key, EVP_sha256()) > 0);
	assert_non_null(f = fopen(cert_path, "w"));
	assert_int_equal(PEM_write_X509(f, crt), 1);
	fclose(f);
	assert_non_null(f = fopen(key_path, "w"));
	assert_int_equal(
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	X509_free(crt);
	EVP_PKEY_free(key);
}

static void
test_accept_holds_what_openssl_needs(void **state)
{
	char yaml[1024], *errs = NULL, *warn = NULL, *why;
	struct sl_conf *conf;
	SSL_CTX *ctx;
	SSL *ssl;
	int sv[2];
	long before, bare, ours;

	(void)state;
	write_cert();
	snprintf(yaml, sizeof(yaml),
		 "listeners:\n"
		 "  - name: t\n"
		 "    address: 127.0.0.1:18999\n"
		 "    protocols: [h2, http/1.1]\n"
		 "    tls:\n"
		 "      certificates:\n"
		 "        - { cert: %s, key: %s }\n"
		 "    routes:\n"
		 "      - cluster: up\n"
		 "clusters:\n"
		 "  - name: up\n"
		 "    endpoints: [127.0.0.1:1]\n",
		 cert_path, key_path);
	conf = sl_conf_load_buffer("t.yaml", yaml, strlen(yaml), &errs);
	if (conf == NULL)
		fail_msg("%s", errs);
	why = sl_tls_load(conf, &warn);
	if (why != NULL)
		fail_msg("%s", why);
	free(warn);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

	/* the context's own way, as a baseline: what any server-side SSL
	 * on this listener holds */
	assert_non_null(ssl = sl_tls_accept(&conf->listeners[0].tls, sv[0]));
	ctx = SSL_get_SSL_CTX(ssl);
	SSL_free(ssl);
	before = live;
	assert_non_null(ssl = SSL_new(ctx));
	assert_int_equal(SSL_set_fd(ssl, sv[0]), 1);
	SSL_set_accept_state(ssl);
	bare = live - before;
	SSL_free(ssl);
	assert_int_equal(live, before);

	before = live;
	assert_non_null(ssl = sl_tls_accept(&conf->listeners[0].tls, sv[0]));
	ours = live - before;
	SSL_free(ssl);
	assert_int_equal(live, before);
	assert_true(bare > 0);
	assert_int_equal(ours, bare);

	close(sv[0]);
	close(sv[1]);
	sl_conf_unref(conf);
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
}

/* ---- the 421 check on each set of contexts ------------------------------ */

/* A P-256 certificate for san ("DNS:a,DNS:b", openssl's form), self-signed,
 * and its key, written to d/base.pem and d/base.key (paths in cert and key,
 * of len bytes). */
static void
write_named(const char *d, const char *base, const char *san, char *cert,
	    char *key, size_t len)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *crt = X509_new();
	X509_EXTENSION *ext;
	FILE *f;

	assert_non_null(pk);
	assert_non_null(crt);
	snprintf(cert, len, "%s/%s.pem", d, base);
	snprintf(key, len, "%s/%s.key", d, base);
	X509_set_version(crt, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(crt), 1);
	X509_gmtime_adj(X509_getm_notBefore(crt), -3600);
	X509_gmtime_adj(X509_getm_notAfter(crt), 3600);
	X509_set_pubkey(crt, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(crt), "CN",
				   MBSTRING_ASC, (const unsigned char *)base,
				   -1, -1, 0);
	X509_set_issuer_name(crt, X509_get_subject_name(crt));
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(crt, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(crt, pk, EVP_sha256()) > 0);
	assert_non_null(f = fopen(cert, "w"));
	assert_int_equal(PEM_write_X509(f, crt), 1);
	fclose(f);
	assert_non_null(f = fopen(key, "w"));
	assert_int_equal(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL),
			 1);
	fclose(f);
	X509_free(crt);
	EVP_PKEY_free(pk);
}

/* What src/quic's sl_qtls_ctx_setup does to a context is QUIC's transport
 * (its SSL_QUIC_METHOD); the name check needs none of it, and without it
 * a handshake runs over a BIO pair as TCP's would. */
static int
quic_hook_none(SSL_CTX *ctx)
{
	(void)ctx;
	return 0;
}

/* A server SSL on ctx that has read a ClientHello with SNI sni (NULL:
 * none): its SNI callback ran, and switched its context where the name
 * chose one. The handshake is run to its end over a BIO pair. */
static SSL *
hello(SSL_CTX *ctx, const char *sni)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *cl, *sv;
	BIO *a, *b;
	int done = 0;

	assert_non_null(cctx);
	assert_non_null(cl = SSL_new(cctx));
	assert_non_null(sv = SSL_new(ctx));
	assert_int_equal(BIO_new_bio_pair(&a, 0, &b, 0), 1);
	SSL_set_bio(cl, a, a);
	SSL_set_bio(sv, b, b);
	SSL_set_connect_state(cl);
	SSL_set_accept_state(sv);
	if (sni != NULL)
		assert_int_equal(SSL_set_tlsext_host_name(cl, sni), 1);
	for (int i = 0; i < 20 && done != 3; i++) {
		if (SSL_do_handshake(cl) == 1)
			done |= 1;
		if (SSL_do_handshake(sv) == 1)
			done |= 2;
	}
	assert_int_equal(done, 3);
	SSL_free(cl);
	SSL_CTX_free(cctx);
	return sv;
}

static int
covered(SSL *ssl, const struct sl_conf_tls_server *t, const char *host)
{
	return sl_tls_name_covered(ssl, t, host, strlen(host));
}

static void
test_name_covered_on_tcp_and_quic_contexts(void **state)
{
	char d[] = "/tmp/sl-test-names-XXXXXX";
	char pc[64], pk[64], sc[64], sk[64], yaml[2048];
	char *errs = NULL, *warn = NULL, *why;
	const struct sl_conf_tls_server *t;
	struct sl_conf *conf;

	(void)state;
	assert_non_null(mkdtemp(d));
	write_named(d, "pay", "DNS:pay.test,DNS:www.pay.test", pc, pk,
		    sizeof(pc));
	write_named(d, "shop", "DNS:shop.test", sc, sk, sizeof(sc));
	snprintf(yaml, sizeof(yaml),
		 "listeners:\n"
		 "  - name: t\n"
		 "    address: 127.0.0.1:18998\n"
		 "    tls:\n"
		 "      certificates:\n"
		 "        - { cert: %s, key: %s }\n"
		 "        - { cert: %s, key: %s }\n"
		 "    http3: true\n"
		 "    routes:\n"
		 "      - cluster: up\n"
		 "clusters:\n"
		 "  - name: up\n"
		 "    endpoints: [127.0.0.1:1]\n",
		 pc, pk, sc, sk);
	conf = sl_conf_load_buffer("t.yaml", yaml, strlen(yaml), &errs);
	if (conf == NULL)
		fail_msg("%s", errs);
	sl_tls_quic_hook = quic_hook_none;
	why = sl_tls_load(conf, &warn);
	sl_tls_quic_hook = NULL;
	if (why != NULL)
		fail_msg("%s", why);
	free(warn);
	t = &conf->listeners[0].tls;
	assert_non_null(t->ctx);
	assert_non_null(t->qctx);

	/* each set alike: TCP's contexts, then QUIC's */
	for (int quic = 0; quic <= 1; quic++) {
		SSL_CTX *ctx = sl_tls_server_ctx(quic ? t->qctx : t->ctx);
		SSL *ssl;

		/* SNI pay.test: its certificate's names, the SNI itself,
		 * an address; not shop.test's, nor a name none holds */
		ssl = hello(ctx, "pay.test");
		assert_true(covered(ssl, t, "pay.test"));
		assert_true(covered(ssl, t, "WWW.Pay.Test"));
		assert_true(covered(ssl, t, "127.0.0.1"));
		assert_false(covered(ssl, t, "shop.test"));
		assert_false(covered(ssl, t, "a.pay.test"));
		assert_false(covered(ssl, t, "nothing.test"));
		SSL_free(ssl);
		/* SNI www.pay.test chose the same certificate */
		ssl = hello(ctx, "www.pay.test");
		assert_true(covered(ssl, t, "pay.test"));
		assert_false(covered(ssl, t, "shop.test"));
		SSL_free(ssl);
		/* SNI shop.test put the second certificate on the
		 * connection (one context per set, sni_cb) */
		ssl = hello(ctx, "shop.test");
		assert_int_equal(X509_check_host(SSL_get_certificate(ssl),
						 "shop.test", 0, 0, NULL),
				 1);
		assert_true(covered(ssl, t, "shop.test"));
		assert_false(covered(ssl, t, "pay.test"));
		SSL_free(ssl);
		/* a name none holds: the first certificate, whose names are
		 * covered, and the SNI itself */
		ssl = hello(ctx, "other.test");
		assert_int_equal(X509_check_host(SSL_get_certificate(ssl),
						 "pay.test", 0, 0, NULL),
				 1);
		assert_true(covered(ssl, t, "pay.test"));
		assert_true(covered(ssl, t, "other.test"));
		assert_false(covered(ssl, t, "shop.test"));
		SSL_free(ssl);
		/* no SNI: no name relied on, nothing refused */
		ssl = hello(ctx, NULL);
		assert_true(covered(ssl, t, "shop.test"));
		SSL_free(ssl);
	}
	sl_conf_unref(conf);
	unlink(pc);
	unlink(pk);
	unlink(sc);
	unlink(sk);
	rmdir(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept_holds_what_openssl_needs),
	    cmocka_unit_test(test_name_covered_on_tcp_and_quic_contexts),
	};

	if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) !=
	    1) {
		fprintf(stderr, "OpenSSL allocated before main\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
