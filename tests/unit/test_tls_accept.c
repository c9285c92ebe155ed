/* SPDX-License-Identifier: MIT */
/*
 * Unit test of what a server-side TLS connection holds from its start: the
 * SSL that sl_tls_accept makes for a listener holds no more of OpenSSL's
 * allocations than SSL_new and SSL_set_fd on the same context do. Every
 * block it adds stays for the connection's whole life, idle or not
 * (doc/performance.md, "Issue 62, session 42": the application data it
 * once set cost two blocks a connection, read by nothing).
 *
 * OpenSSL's allocations are counted through CRYPTO_set_mem_functions,
 * which must come before OpenSSL allocates anything: first in main.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept_holds_what_openssl_needs),
	};

	if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) !=
	    1) {
		fprintf(stderr, "OpenSSL allocated before main\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
