/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the TLS record path: the server side of a
 * connection, driven through sluice's own calls (sl_tls_handshake,
 * sl_tls_read, sl_tls_writev, sl_tls_why_failed, sl_tls_close_notify)
 * over memory BIOs instead of a socket. The first byte picks what the
 * rest of the input is:
 *   even  the bytes a client sends from the start (ClientHello parsing,
 *         alerts, the handshake state machine), fed in pieces;
 *   odd   bytes sent after a real handshake with an in-memory OpenSSL
 *         client has completed (records, alerts, renegotiation attempts,
 *         garbage after close_notify), interleaved with genuine records
 *         carrying the same bytes as application data.
 * Nothing may crash, leak (LeakSanitizer at exit) or loop: every loop is
 * bounded, and a server that keeps asking to be called without input is
 * a failure.
 */
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "fuzz.h"
#include "tls.h"

static SSL_CTX *server_ctx, *client_ctx;

/* One ECDSA P-256 key and a self-signed certificate, made once. */
static void
init(void)
{
	EVP_PKEY *key;
	X509 *crt;

	if (server_ctx != NULL)
		return;
	key = EVP_EC_gen("P-256");
	crt = X509_new();
	CHECK(key != NULL && crt != NULL);
	X509_set_version(crt, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(crt), 1);
	X509_gmtime_adj(X509_getm_notBefore(crt), -3600);
	X509_gmtime_adj(X509_getm_notAfter(crt), 3600L * 24 * 365);
	X509_set_pubkey(crt, key);
	X509_NAME_add_entry_by_txt(
	    X509_get_subject_name(crt), "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz.test", -1, -1, 0);
	X509_set_issuer_name(crt, X509_get_subject_name(crt));
	CHECK(X509_sign(crt, key, EVP_sha256()) > 0);

	/* as tls.c configures a listener: TLS 1.2 and 1.3, no
	 * renegotiation, no read-ahead */
	server_ctx = SSL_CTX_new(TLS_server_method());
	CHECK(server_ctx != NULL);
	SSL_CTX_set_min_proto_version(server_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(server_ctx, SSL_OP_NO_RENEGOTIATION |
					    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(server_ctx, SSL_MODE_RELEASE_BUFFERS |
					 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	CHECK(SSL_CTX_use_certificate(server_ctx, crt) == 1);
	CHECK(SSL_CTX_use_PrivateKey(server_ctx, key) == 1);
	client_ctx = SSL_CTX_new(TLS_client_method());
	CHECK(client_ctx != NULL);
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	X509_free(crt);
	EVP_PKEY_free(key);
}

struct side {
	SSL *ssl;
	BIO *in;  /* what this side reads (written by the test) */
	BIO *out; /* what this side wrote */
};

static void
side_new(struct side *s, SSL_CTX *ctx, int server)
{
	s->ssl = SSL_new(ctx);
	s->in = BIO_new(BIO_s_mem());
	s->out = BIO_new(BIO_s_mem());
	CHECK(s->ssl != NULL && s->in != NULL && s->out != NULL);
	BIO_set_mem_eof_return(s->in, -1); /* empty is "try again" */
	SSL_set_bio(s->ssl, s->in, s->out);
	if (server)
		SSL_set_accept_state(s->ssl);
	else
		SSL_set_connect_state(s->ssl);
}

/* Moves what one side wrote to the other's input. */
static size_t
pump(struct side *from, struct side *to)
{
	char buf[4096];
	size_t moved = 0;
	int n;

	while ((n = BIO_read(from->out, buf, sizeof(buf))) > 0) {
		CHECK(BIO_write(to->in, buf, n) == n);
		moved += (size_t)n;
	}
	return moved;
}

/*
 * The server's turn, as client.c drives it: handshake until done, then
 * read what there is and answer it. Returns -1 once the connection
 * failed or ended, else 0.
 */
static int
server_turn(struct side *s, int *done)
{
	char buf[16384], why[256];
	struct iovec iov;
	int want = 0, r;
	ssize_t n;

	if (!*done) {
		r = sl_tls_handshake(s->ssl, &want);
		if (r < 0) {
			(void)sl_tls_why_failed(s->ssl, why, sizeof(why));
			CHECK(why[0] != '\0');
			return -1;
		}
		if (r == 0) {
			CHECK(want == SL_TLS_WANT_READ ||
			      want == SL_TLS_WANT_WRITE);
			return 0;
		}
		*done = 1;
	}
	/* bounded: each round reads at most the buffer, and the input of
	 * one call is at most a fuzz input */
	for (int i = 0; i < 64; i++) {
		n = sl_tls_read(s->ssl, buf, sizeof(buf), &want);
		if (n == 0)
			return -1; /* end of stream */
		if (n < 0) {
			if (want != 0)
				return 0;
			(void)sl_tls_why(s->ssl, why, sizeof(why));
			return -1;
		}
		CHECK((size_t)n <= sizeof(buf));
		iov.iov_base = buf;
		iov.iov_len = (size_t)n;
		n = sl_tls_writev(s->ssl, &iov, 1, &want);
		if (n < 0 && want == 0)
			return -1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct side srv, cli;
	int done = 0, cdone = 0, dead = 0;
	size_t off = 1, piece;

	if (size < 1 || size > 65536)
		return 0;
	init();
	side_new(&srv, server_ctx, 1);
	cli.ssl = NULL;
	piece = 1 + data[0] / 2 % 97; /* bytes per feed */
	if (data[0] & 1) {
		/* a real handshake first */
		side_new(&cli, client_ctx, 0);
		for (int i = 0; i < 32 && !(done && cdone) && !dead; i++) {
			if (!cdone && SSL_do_handshake(cli.ssl) == 1)
				cdone = 1;
			pump(&cli, &srv);
			dead = server_turn(&srv, &done) == -1;
			pump(&srv, &cli);
		}
		CHECK(dead || (done && cdone));
	}
	while (!dead && off < size) {
		size_t n = size - off < piece ? size - off : piece;

		if (cli.ssl != NULL && (data[off] & 3) == 0) {
			/* a genuine record with these bytes as content */
			size_t w;
			if (SSL_write_ex(cli.ssl, data + off, n, &w) == 1)
				pump(&cli, &srv);
		} else {
			CHECK(BIO_write(srv.in, data + off, (int)n) == (int)n);
		}
		off += n;
		dead = server_turn(&srv, &done) == -1;
		/* what the server answered goes nowhere (or to the client,
		 * which reads it only to keep its buffers small) */
		if (cli.ssl != NULL) {
			char sink[4096];
			size_t r;
			pump(&srv, &cli);
			while (SSL_read_ex(cli.ssl, sink, sizeof(sink), &r) ==
			       1)
				;
			ERR_clear_error();
		} else {
			(void)BIO_reset(srv.out);
		}
	}
	if (!dead && done)
		sl_tls_close_notify(srv.ssl);
	SSL_free(srv.ssl);
	if (cli.ssl != NULL)
		SSL_free(cli.ssl);
	ERR_clear_error();
	return 0;
}
