/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of a QUIC connection on libngtcp2's core (src/quic/qconn.c):
 * a client and a server, both libngtcp2 with sluice's packet protection
 * and TLS glue, their datagrams carried between them in memory. The
 * handshake completes on both sides with each TLS 1.3 suite, in a few
 * round trips; a datagram changed on the way is dropped and the
 * handshake completes anyway (the loss recovered by a retransmission
 * after the timer); a datagram that is no client Initial opens no
 * connection; 600 KiB echoed on a stream each way, past the flow-control
 * windows, with and without lost datagrams (sent again from the chunks
 * kept until acknowledged). gtlsclient and quic-go against the real
 * binary are the integration tests' (doc/http3.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "qconn.h"
#include "qtls.h"
#include "quic_cert.h"

static struct sockaddr_in caddr, saddr;
static const uint8_t reset_key[32] = {42};
/* the server's IDs, worker 5's (qroute.h) */
static const struct sl_qconn_ids ids = {5, reset_key, 0};

static struct sl_qpath
path(int server)
{
	struct sl_qpath p;

	p.local = (const struct sockaddr *)(server ? &saddr : &caddr);
	p.remote = (const struct sockaddr *)(server ? &caddr : &saddr);
	p.local_len = p.remote_len = sizeof(struct sockaddr_in);
	return p;
}

/* What c writes now, into the other's read (or its accept, when *s is
 * NULL); drop_nth: that datagram (counted from 1) changed on the way.
 * Returns the datagrams carried. */
static int
flush(struct sl_qconn *from, struct sl_qconn **to, int to_server, SSL_CTX *sctx,
      uint64_t now, int *seq, int drop_nth)
{
	uint8_t d[1500];
	long n;
	int k = 0;
	struct sl_qpath p = path(to_server);

	while ((n = sl_qconn_write(from, d, sizeof(d), now, NULL, NULL)) > 0) {
		k++;
		if (++*seq == drop_nth) {
			d[n / 2] ^= 0x40;
			/* a changed datagram is dropped, not an error */
		}
		if (*to == NULL) {
			*to =
			    sl_qconn_accept(sctx, &ids, &p, d, (size_t)n, now);
			assert_non_null(*to);
		} else if (sl_qconn_read(*to, &p, d, (size_t)n, now) != 0)
			fail_msg("%s's read: %s",
				 to_server ? "server" : "client",
				 sl_qconn_error(*to));
	}
	if (n != 0)
		fail_msg("%s's write: %s", to_server ? "client" : "server",
			 sl_qconn_error(from));
	return k;
}

/* A handshake to its end, the clock moved to the next timer when no
 * datagram is left to carry. Returns the round trips. */
static int
handshake(SSL_CTX *cctx, SSL_CTX *sctx, int drop_nth, struct sl_qconn **pc,
	  struct sl_qconn **ps)
{
	uint64_t now = 1000000000;
	struct sl_qpath cp = path(0);
	struct sl_qconn *c = sl_qconn_connect(cctx, "quic.test", &cp, now),
			*s = NULL;
	int seq = 0, rounds = 0;

	assert_non_null(c);
	for (; rounds < 50; rounds++) {
		int k = flush(c, &s, 1, sctx, now, &seq, drop_nth);
		if (s != NULL)
			k += flush(s, &c, 0, sctx, now, &seq, drop_nth);
		if (s != NULL && sl_qconn_established(c) &&
		    sl_qconn_established(s) && k == 0)
			break;
		if (k == 0) {
			/* nothing in flight: the earliest timer */
			uint64_t e = sl_qconn_expiry(c);
			if (s != NULL && sl_qconn_expiry(s) < e)
				e = sl_qconn_expiry(s);
			assert_true(e != UINT64_MAX);
			now = e > now ? e : now + 1;
			assert_int_equal(sl_qconn_expire(c, now), 0);
			if (s != NULL)
				assert_int_equal(sl_qconn_expire(s, now), 0);
		}
	}
	assert_non_null(s);
	assert_true(sl_qconn_established(c));
	assert_true(sl_qconn_established(s));
	assert_string_equal(sl_qconn_error(c), "");
	assert_string_equal(sl_qconn_error(s), "");
	*pc = c;
	*ps = s;
	return rounds;
}

static void
test_handshake(void **state)
{
	static const char *const suites[] = {"TLS_AES_128_GCM_SHA256",
					     "TLS_AES_256_GCM_SHA384",
					     "TLS_CHACHA20_POLY1305_SHA256"};
	SSL_CTX *sctx = quic_server_ctx();

	(void)state;
	assert_non_null(sctx);
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		SSL_CTX *cctx = quic_client_ctx(suites[i]);
		struct sl_qconn *c, *s;
		const unsigned char *alpn;
		unsigned int alen;

		assert_non_null(cctx);
		assert_true(handshake(cctx, sctx, 0, &c, &s) <= 4);
		SSL_get0_alpn_selected(sl_qconn_ssl(s), &alpn, &alen);
		assert_int_equal(alen, 2);
		assert_memory_equal(alpn, "h3", 2);
		assert_string_equal(SSL_CIPHER_get_name(SSL_get_current_cipher(
					sl_qconn_ssl(c))),
				    suites[i]);
		sl_qconn_free(c);
		sl_qconn_free(s);
		SSL_CTX_free(cctx);
	}
	SSL_CTX_free(sctx);
}

static void
test_loss(void **state)
{
	SSL_CTX *sctx = quic_server_ctx(), *cctx = quic_client_ctx(NULL);
	struct sl_qconn *c, *s;

	(void)state;
	/* the server's first flight, then the client's Finished, changed
	 * on the way */
	for (int nth = 2; nth <= 4; nth++) {
		handshake(cctx, sctx, nth, &c, &s);
		sl_qconn_free(c);
		sl_qconn_free(s);
	}
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

/* ---- streams: an echo ----------------------------------------------- */

struct echo {
	struct sl_qconn *self;
	int echo;     /* the server: sends back what it gets */
	uint8_t *got; /* the client: what came back */
	size_t ngot, cap;
	int fin, closed;
};

static int
echo_recv(void *arg, int64_t id, const uint8_t *d, size_t n, int fin)
{
	struct echo *e = arg;

	if (e->echo)
		return sl_qconn_send(e->self, id, d, n, fin);
	assert_true(e->ngot + n <= e->cap);
	memcpy(e->got + e->ngot, d, n);
	e->ngot += n;
	e->fin |= fin;
	return 0;
}

static void
echo_closed(void *arg, int64_t id, uint64_t app_error)
{
	struct echo *e = arg;

	(void)id;
	assert_int_equal(app_error, 0);
	e->closed++;
}

/* Datagrams both ways until the client has its echo (every nth of the
 * server's dropped when drop is set), the clock moved to the next
 * timer when nothing is in flight. */
static void
pump_echo(struct sl_qconn *c, struct sl_qconn *s, struct echo *ce,
	  uint64_t *now, int drop)
{
	struct sl_qpath cp = path(0), sp = path(1);
	uint8_t d[1500];
	long n;
	int k, seq = 0;

	for (int r = 0; r < 5000 && !(ce->fin && ce->closed); r++) {
		k = 0;
		while ((n = sl_qconn_write(c, d, sizeof(d), *now, NULL, NULL)) >
		       0) {
			assert_int_equal(
			    sl_qconn_read(s, &sp, d, (size_t)n, *now), 0);
			k++;
		}
		assert_true(n == 0);
		while ((n = sl_qconn_write(s, d, sizeof(d), *now, NULL, NULL)) >
		       0) {
			k++;
			if (drop && ++seq % 7 == 0)
				continue; /* lost */
			assert_int_equal(
			    sl_qconn_read(c, &cp, d, (size_t)n, *now), 0);
		}
		assert_true(n == 0);
		if (k == 0) {
			uint64_t e = sl_qconn_expiry(c);
			if (sl_qconn_expiry(s) < e)
				e = sl_qconn_expiry(s);
			*now = e > *now ? e : *now + 1000;
			assert_int_equal(sl_qconn_expire(c, *now), 0);
			assert_int_equal(sl_qconn_expire(s, *now), 0);
		}
	}
}

static void
test_stream_echo(void **state)
{
	SSL_CTX *sctx = quic_server_ctx(), *cctx = quic_client_ctx(NULL);
	size_t len = 600 * 1024;
	uint8_t *data = malloc(len);

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	/* 600 KiB each way, past a stream's window (256 KiB) and the
	 * connection's (1 MiB with both ways), then the same with every
	 * seventh datagram of the server's lost */
	for (int drop = 0; drop <= 1; drop++) {
		struct sl_qconn *c, *s;
		struct echo ce = {0}, se = {0};
		struct sl_qconn_app ca = {echo_recv, NULL, echo_closed, &ce,
					  0,	     NULL, NULL},
				    sa = {echo_recv, NULL, echo_closed, &se,
					  0,	     NULL, NULL};
		uint64_t now = 2000000000;
		int64_t id;

		handshake(cctx, sctx, 0, &c, &s);
		ce.self = c;
		ce.got = malloc(len);
		ce.cap = len;
		se.self = s;
		se.echo = 1;
		sl_qconn_set_app(c, &ca);
		sl_qconn_set_app(s, &sa);
		id = sl_qconn_open(c, 1);
		assert_true(id >= 0);
		assert_int_equal(sl_qconn_send(c, id, data, len, 1), 0);
		assert_int_equal(sl_qconn_send(c, id, data, 1, 0), -1);
		pump_echo(c, s, &ce, &now, drop);
		assert_true(ce.fin);
		assert_int_equal(ce.ngot, len);
		assert_memory_equal(ce.got, data, len);
		assert_int_equal(sl_qconn_unacked(c, id), 0);
		assert_int_equal(ce.closed, 1);
		free(ce.got);
		sl_qconn_free(c);
		sl_qconn_free(s);
	}
	free(data);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

/* The server's side of a stream whose credit it gives back itself: what
 * came, counted, not yet credited. */
static int
hold_recv(void *arg, int64_t id, const uint8_t *d, size_t n, int fin)
{
	struct echo *e = arg;

	(void)id;
	(void)d;
	e->ngot += n;
	e->fin |= fin;
	return 0;
}

/* Datagrams both ways until neither side has one to send. */
static void
pump_quiet(struct sl_qconn *c, struct sl_qconn *s, uint64_t now)
{
	struct sl_qpath cp = path(0), sp = path(1);
	uint8_t d[1500];
	long n;
	int k = 1;

	for (int r = 0; r < 2000 && k > 0; r++) {
		k = 0;
		while ((n = sl_qconn_write(c, d, sizeof(d), now, NULL, NULL)) >
		       0) {
			assert_int_equal(
			    sl_qconn_read(s, &sp, d, (size_t)n, now), 0);
			k++;
		}
		while ((n = sl_qconn_write(s, d, sizeof(d), now, NULL, NULL)) >
		       0) {
			assert_int_equal(
			    sl_qconn_read(c, &cp, d, (size_t)n, now), 0);
			k++;
		}
	}
}

/* With app.manual, a request stream's data is credited back only as the
 * layer above takes it: the client stops at the stream's window (256
 * KiB) until then, and goes on as it is given back. */
static void
test_manual_credit(void **state)
{
	SSL_CTX *sctx = quic_server_ctx(), *cctx = quic_client_ctx(NULL);
	const size_t len = 600 * 1024, win = 256 * 1024;
	uint8_t *data = calloc(1, len);
	struct sl_qconn *c, *s;
	struct echo se = {0};
	struct sl_qconn_app sa = {hold_recv, NULL, NULL, &se, 1, NULL, NULL};
	uint64_t now = 2000000000;
	size_t credited = 0, before;
	int64_t id;

	(void)state;
	assert_non_null(data);
	handshake(cctx, sctx, 0, &c, &s);
	sl_qconn_set_app(s, &sa);
	id = sl_qconn_open(c, 1);
	assert_true(id >= 0);
	assert_int_equal(sl_qconn_send(c, id, data, len, 1), 0);
	pump_quiet(c, s, now);
	assert_true(se.ngot <= win);
	assert_true(se.ngot >= win / 2);
	before = se.ngot;
	pump_quiet(c, s, now);
	assert_int_equal(se.ngot, before); /* held: nothing more */
	for (int r = 0; r < 20 && !se.fin; r++) {
		sl_qconn_consumed(s, id, se.ngot - credited);
		credited = se.ngot;
		pump_quiet(c, s, now);
	}
	assert_true(se.fin);
	assert_int_equal(se.ngot, len);
	sl_qconn_free(c);
	sl_qconn_free(s);
	free(data);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void
test_not_initial(void **state)
{
	SSL_CTX *sctx = quic_server_ctx();
	uint8_t junk[1200];
	struct sl_qpath p = path(1);

	(void)state;
	memset(junk, 0x41, sizeof(junk)); /* a short header, nothing known */
	assert_null(sl_qconn_accept(sctx, &ids, &p, junk, sizeof(junk), 1));
	junk[0] = 0xc0; /* a long header of an unknown version 0x41414141 */
	assert_null(sl_qconn_accept(sctx, &ids, &p, junk, sizeof(junk), 1));
	assert_null(sl_qconn_accept(sctx, &ids, &p, junk, 10, 1));
	SSL_CTX_free(sctx);
}

static int
setup(void **state)
{
	caddr.sin_family = saddr.sin_family = AF_INET;
	caddr.sin_addr.s_addr = saddr.sin_addr.s_addr = htonl(0x7f000001);
	caddr.sin_port = htons(50000);
	saddr.sin_port = htons(443);
	return quic_cert_make(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake),
	    cmocka_unit_test(test_loss),
	    cmocka_unit_test(test_stream_echo),
	    cmocka_unit_test(test_manual_credit),
	    cmocka_unit_test(test_not_initial),
	};

	return cmocka_run_group_tests(tests, setup, quic_cert_free);
}
