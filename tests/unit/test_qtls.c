/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of QUIC's TLS glue on OpenSSL 3.0 (src/quic/qtls.c): a
 * client and a server, both OpenSSL through the glue, their handshake
 * bytes carried between them level by level as CRYPTO frames would carry
 * them. The handshake completes; each side's secret for sending at a
 * level is the other's for receiving; the transport parameters cross
 * both ways; ALPN is h3; the server's ticket reaches the client at the
 * application level and resumes a second handshake (no early data); each
 * suite's AEAD is the one the keys are made for. Refused: a client that
 * offers no h3 (no_application_protocol), a changed byte of the client's
 * Finished (the handshake fails, no secret of the application level
 * given).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qtls.h"
#include "quic_cert.h"

#define QBUF 65536

/* One side: its handshake, what it sent at each level (the peer's input
 * next), and its secrets. */
struct side {
	struct sl_qtls *q;
	uint8_t out[SL_QL_N][QBUF];
	size_t out_len[SL_QL_N], out_total[SL_QL_N];
	uint8_t tx[SL_QL_N][SL_QSECRET_MAX], rx[SL_QL_N][SL_QSECRET_MAX];
	size_t tx_len[SL_QL_N], rx_len[SL_QL_N];
	int aead;
};

static int
on_secret(void *arg, enum sl_qlevel lv, int tx, const uint8_t *secret,
	  size_t len, enum sl_qaead aead)
{
	struct side *sd = arg;

	assert_true(len <= SL_QSECRET_MAX);
	memcpy(tx ? sd->tx[lv] : sd->rx[lv], secret, len);
	(tx ? sd->tx_len : sd->rx_len)[lv] = len;
	sd->aead = (int)aead;
	return 0;
}

static int
on_crypto(void *arg, enum sl_qlevel lv, const uint8_t *p, size_t n)
{
	struct side *sd = arg;

	assert_true(sd->out_len[lv] + n <= QBUF);
	memcpy(sd->out[lv] + sd->out_len[lv], p, n);
	sd->out_len[lv] += n;
	sd->out_total[lv] += n;
	return 0;
}

static const struct sl_qtls_ops ops = {on_secret, on_crypto};

static SSL_CTX *
server_ctx(void)
{
	SSL_CTX *ctx = quic_server_ctx();

	assert_non_null(ctx);
	return ctx;
}

static SSL_CTX *
client_ctx(const char *suites)
{
	SSL_CTX *ctx = quic_client_ctx(suites);

	assert_non_null(ctx);
	return ctx;
}

/* What from has sent, at each level, into to; the last of to's
 * answers. */
static int
carry(struct side *from, struct side *to)
{
	int r = 0;

	for (int lv = 0; lv < SL_QL_N; lv++) {
		size_t n = from->out_len[lv];
		if (n == 0)
			continue;
		from->out_len[lv] = 0;
		r = sl_qtls_input(to->q, (enum sl_qlevel)lv, from->out[lv], n);
		if (r < 0)
			return r;
	}
	return r;
}

/* The handshake of c and s to its end: each side's last answer. */
static void
run(struct side *c, struct side *s, int *cr, int *sr)
{
	*cr = *sr = 0;
	assert_int_equal(sl_qtls_start(c->q), 0);
	for (int i = 0; i < 10 && (*cr >= 0 && *sr >= 0); i++) {
		size_t pending = 0;
		for (int lv = 0; lv < SL_QL_N; lv++)
			pending += c->out_len[lv] + s->out_len[lv];
		if (pending == 0)
			break;
		if ((*sr = carry(c, s)) < 0)
			break;
		*cr = carry(s, c);
	}
}

static const uint8_t ctp[] = {0x01, 0x02, 0x03, 0x04},
		     stp[] = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e};

/* A fresh client and server on their contexts. */
static void
pair_new(SSL_CTX *cctx, SSL_CTX *sctx, struct side *c, struct side *s)
{
	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	c->q = sl_qtls_new(cctx, 0, "quic.test", ctp, sizeof(ctp), &ops, c);
	s->q = sl_qtls_new(sctx, 1, NULL, stp, sizeof(stp), &ops, s);
	assert_non_null(c->q);
	assert_non_null(s->q);
}

static void
pair_free(struct side *c, struct side *s)
{
	sl_qtls_free(c->q);
	sl_qtls_free(s->q);
	c->q = s->q = NULL;
}

static void
handshake(SSL_CTX *cctx, SSL_CTX *sctx, struct side *c, struct side *s,
	  SSL_SESSION *resume)
{
	int cr, sr;
	const uint8_t *tp;
	size_t n;
	const unsigned char *alpn;
	unsigned int alpn_len;

	pair_new(cctx, sctx, c, s);
	if (resume != NULL)
		assert_int_equal(SSL_set_session(sl_qtls_ssl(c->q), resume), 1);
	run(c, s, &cr, &sr);
	assert_int_equal(sr, 1);
	assert_int_equal(cr, 1);
	/* each side's sending secret is the other's receiving one */
	for (int lv = SL_QL_HANDSHAKE; lv < SL_QL_N; lv++) {
		assert_true(c->tx_len[lv] > 0);
		assert_int_equal(c->tx_len[lv], s->rx_len[lv]);
		assert_memory_equal(c->tx[lv], s->rx[lv], c->tx_len[lv]);
		assert_int_equal(s->tx_len[lv], c->rx_len[lv]);
		assert_memory_equal(s->tx[lv], c->rx[lv], s->tx_len[lv]);
		assert_memory_not_equal(c->tx[lv], s->tx[lv], c->tx_len[lv]);
	}
	assert_int_equal(c->aead, s->aead);
	tp = sl_qtls_peer_tp(s->q, &n);
	assert_int_equal(n, sizeof(ctp));
	assert_memory_equal(tp, ctp, n);
	tp = sl_qtls_peer_tp(c->q, &n);
	assert_int_equal(n, sizeof(stp));
	assert_memory_equal(tp, stp, n);
	SSL_get0_alpn_selected(sl_qtls_ssl(c->q), &alpn, &alpn_len);
	assert_int_equal(alpn_len, 2);
	assert_memory_equal(alpn, "h3", 2);
	/* the ClientHello at Initial, the server's flight at Initial and
	 * Handshake, the client's Finished at Handshake */
	assert_true(c->out_total[SL_QL_INITIAL] > 0);
	assert_true(s->out_total[SL_QL_INITIAL] > 0);
	assert_true(s->out_total[SL_QL_HANDSHAKE] > 0);
	assert_true(c->out_total[SL_QL_HANDSHAKE] > 0);
}

static void
test_handshake_and_resumption(void **state)
{
	SSL_CTX *sctx = server_ctx(),
		*cctx = client_ctx("TLS_AES_128_GCM_SHA256");
	struct side *c = calloc(1, sizeof(*c)), *s = calloc(1, sizeof(*s));
	SSL_SESSION *sess;

	(void)state;
	handshake(cctx, sctx, c, s, NULL);
	assert_int_equal(c->aead, SL_QAEAD_AES_128_GCM);
	/* the server's tickets go at the application level, and the client
	 * keeps one */
	assert_true(s->out_total[SL_QL_APP] > 0);
	assert_int_equal(c->out_total[SL_QL_APP], 0);
	sess = SSL_get1_session(sl_qtls_ssl(c->q));
	assert_non_null(sess);
	assert_true(SSL_SESSION_is_resumable(sess));
	assert_int_equal(SSL_SESSION_get_max_early_data(sess), 0);
	assert_int_equal(SSL_session_reused(sl_qtls_ssl(c->q)), 0);
	pair_free(c, s);
	/* resumed, without early data */
	handshake(cctx, sctx, c, s, sess);
	assert_int_equal(SSL_session_reused(sl_qtls_ssl(c->q)), 1);
	assert_int_equal(SSL_session_reused(sl_qtls_ssl(s->q)), 1);
	pair_free(c, s);
	SSL_SESSION_free(sess);
	free(c);
	free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void
test_suites(void **state)
{
	static const struct {
		const char *suite;
		int aead;
	} t[] = {{"TLS_AES_256_GCM_SHA384", SL_QAEAD_AES_256_GCM},
		 {"TLS_CHACHA20_POLY1305_SHA256", SL_QAEAD_CHACHA20}};
	SSL_CTX *sctx = server_ctx();
	struct side *c = calloc(1, sizeof(*c)), *s = calloc(1, sizeof(*s));

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		SSL_CTX *cctx = client_ctx(t[i].suite);
		handshake(cctx, sctx, c, s, NULL);
		assert_int_equal(c->aead, t[i].aead);
		assert_int_equal(c->tx_len[SL_QL_APP],
				 sl_qaead_secret_len((enum sl_qaead)t[i].aead));
		sl_qtls_free(c->q);
		sl_qtls_free(s->q);
		SSL_CTX_free(cctx);
	}
	free(c);
	free(s);
	SSL_CTX_free(sctx);
}

static void
test_refused(void **state)
{
	SSL_CTX *sctx = server_ctx(), *cctx = client_ctx(NULL);
	struct side *c = calloc(1, sizeof(*c)), *s = calloc(1, sizeof(*s));
	int cr, sr;

	(void)state;
	/* a client that offers h2 alone */
	pair_new(cctx, sctx, c, s);
	assert_int_equal(SSL_set_alpn_protos(sl_qtls_ssl(c->q),
					     (const unsigned char *)"\x02h2",
					     3),
			 0);
	run(c, s, &cr, &sr);
	assert_int_equal(sr, -1);
	assert_int_equal(sl_qtls_alert(s->q), 120);
	assert_int_equal(s->tx_len[SL_QL_APP], 0);
	pair_free(c, s);
	/* the client's Finished changed on the way */
	pair_new(cctx, sctx, c, s);
	assert_int_equal(sl_qtls_start(c->q), 0);
	assert_int_equal(carry(c, s), 0);
	assert_int_equal(carry(s, c), 1);
	assert_true(c->out_len[SL_QL_HANDSHAKE] > 8);
	c->out[SL_QL_HANDSHAKE][c->out_len[SL_QL_HANDSHAKE] - 1] ^= 0x01;
	assert_int_equal(carry(c, s), -1);
	assert_int_equal(sl_qtls_alert(s->q), 51); /* decrypt_error */
	pair_free(c, s);
	free(c);
	free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_and_resumption),
	    cmocka_unit_test(test_suites),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, quic_cert_make, quic_cert_free);
}
