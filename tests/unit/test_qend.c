/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of a worker's QUIC endpoint (src/quic/qend.c), its
 * datagrams carried in memory to and from clients that are libngtcp2
 * connections through sluice's glue (qconn.c): a handshake; one after a
 * Retry (the token opened, the client's first and the Retry's IDs in the
 * server's transport parameters, which the client checks); a client
 * whose address changes after the handshake, found by its connection ID
 * and answered at its new address; a stateless reset for a short header
 * of no connection, its QUIC bit set or greased (its token the HMAC of
 * the ID), nothing for one too
 * short to be answered smaller; Version Negotiation for a version not
 * spoken here, nothing for a datagram under 1,200 bytes; the idle
 * timeout closing a connection; an Initial past max_conns dropped.
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
#include "qend.h"
#include "qroute.h"
#include "qtls.h"
#include "quic_cert.h"

#define QMAX 64

static const uint8_t key[32] = {9, 9, 9};
static struct sockaddr_in saddr;

/* What the endpoint sent, in order. */
static struct sent {
	uint8_t d[1500];
	size_t n;
	struct sockaddr_in to;
} q[QMAX];
static size_t nq;

static void
on_send(void *arg, const struct sockaddr *to, socklen_t tl, const uint8_t *d,
	size_t n)
{
	(void)arg;
	assert_true(nq < QMAX);
	assert_int_equal(tl, sizeof(struct sockaddr_in));
	memcpy(&q[nq].to, to, sizeof(q[nq].to));
	memcpy(q[nq].d, d, n);
	q[nq++].n = n;
}

static struct sockaddr_in
client_addr(uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(0x7f000001);
	a.sin_port = htons(port);
	return a;
}

static struct sl_qend *
endpoint(SSL_CTX *sctx, int retry, size_t max_conns)
{
	struct sl_qend_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.ctx = sctx;
	cfg.worker = 3;
	cfg.key = key;
	cfg.retry = retry;
	cfg.max_conns = max_conns;
	cfg.token_age_ms = 10000;
	cfg.send = on_send;

	saddr = client_addr(443);
	nq = 0;
	return sl_qend_new(&cfg, (struct sockaddr *)&saddr, sizeof(saddr));
}

/* One round: what client c (at *ca) writes into e, what e sent into c.
 * Returns the datagrams carried. */
static int
exchange(struct sl_qend *e, struct sl_qconn *c, struct sockaddr_in *ca,
	 uint64_t now)
{
	struct sl_qpath cp = {(struct sockaddr *)ca, (struct sockaddr *)&saddr,
			      sizeof(*ca), sizeof(saddr)};
	uint8_t d[1500];
	long n;
	int k = 0;

	while ((n = sl_qconn_write(c, d, sizeof(d), now, NULL, NULL)) > 0) {
		sl_qend_input(e, d, (size_t)n, (struct sockaddr *)ca,
			      sizeof(*ca), now);
		k++;
	}
	assert_true(n == 0);
	for (size_t i = 0; i < nq; i++, k++) {
		assert_memory_equal(&q[i].to, ca, sizeof(*ca));
		(void)sl_qconn_read(c, &cp, q[i].d, q[i].n, now);
	}
	nq = 0;
	return k;
}

/* Rounds until neither side has datagrams, the clock moved to the next
 * timer when both are quiet, until c's handshake is done (at most
 * rounds). */
static void
carry(struct sl_qend *e, struct sl_qconn *c, struct sockaddr_in *ca,
      uint64_t *now, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		if (exchange(e, c, ca, *now) == 0) {
			uint64_t t = sl_qconn_expiry(c),
				 te = sl_qend_run(e, *now);
			if (te < t)
				t = te;
			if (t == UINT64_MAX || sl_qconn_established(c))
				return;
			*now = t > *now ? t : *now + 1;
			(void)sl_qconn_expire(c, *now);
			(void)sl_qend_run(e, *now);
		}
	}
}

static struct sl_qconn *
client(SSL_CTX *cctx, struct sockaddr_in *ca, uint64_t now)
{
	struct sl_qpath cp = {(struct sockaddr *)ca, (struct sockaddr *)&saddr,
			      sizeof(*ca), sizeof(saddr)};
	struct sl_qconn *c = sl_qconn_connect(cctx, "quic.test", &cp, now);

	assert_non_null(c);
	return c;
}

static void
test_handshake_and_retry(void **state)
{
	SSL_CTX *sctx = quic_server_ctx(), *cctx = quic_client_ctx(NULL);

	(void)state;
	for (int retry = 0; retry <= 1; retry++) {
		struct sl_qend *e = endpoint(sctx, retry, 10);
		struct sockaddr_in ca = client_addr(50000);
		uint64_t now = 1000000000;
		struct sl_qconn *c = client(cctx, &ca, now);

		carry(e, c, &ca, &now, 20);
		if (!sl_qconn_established(c))
			fail_msg("retry %d: client: %s; accepted %llu retries "
				 "%llu dropped %llu",
				 retry, sl_qconn_error(c),
				 (unsigned long long)sl_qend_stats(e)->accepted,
				 (unsigned long long)sl_qend_stats(e)->retries,
				 (unsigned long long)sl_qend_stats(e)->dropped);
		assert_string_equal(sl_qconn_error(c), "");
		assert_int_equal(sl_qend_established(e), 1);
		assert_int_equal(sl_qend_stats(e)->accepted, 1);
		assert_int_equal(sl_qend_stats(e)->retries, (uint64_t)retry);
		assert_int_equal(sl_qend_stats(e)->dropped, 0);
		sl_qconn_free(c);
		sl_qend_free(e);
	}
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void
test_new_address(void **state)
{
	SSL_CTX *sctx = quic_server_ctx(), *cctx = quic_client_ctx(NULL);
	struct sl_qend *e = endpoint(sctx, 0, 10);
	struct sockaddr_in ca = client_addr(50000), moved = client_addr(50999);
	uint64_t now = 1000000000;
	struct sl_qconn *c = client(cctx, &ca, now), *s;
	const struct sockaddr_in *remote;
	socklen_t rl;

	(void)state;
	carry(e, c, &ca, &now, 20);
	assert_int_equal(sl_qend_established(e), 1);
	/* the client's NAT gives it another port: its packets (a PING each
	 * 50 ms) still find its connection, which answers there after
	 * validating the path */
	sl_qconn_keep_alive(c, 50000000);
	for (int r = 0; r < 20; r++) {
		now += 10000000;
		(void)sl_qconn_expire(c, now);
		(void)sl_qend_run(e, now);
		exchange(e, c, &moved, now);
	}
	assert_int_equal(sl_qend_stats(e)->accepted, 1);
	assert_int_equal(sl_qend_stats(e)->resets, 0);
	s = sl_qend_conn(e, 0);
	assert_non_null(s);
	remote = (const struct sockaddr_in *)sl_qconn_remote(s, &rl);
	assert_int_equal(ntohs(remote->sin_port), 50999);
	sl_qconn_free(c);
	sl_qend_free(e);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void
test_no_connection(void **state)
{
	SSL_CTX *sctx = quic_server_ctx();
	struct sl_qend *e = endpoint(sctx, 0, 10);
	struct sockaddr_in ca = client_addr(50000);
	uint8_t d[1200], token[16];

	(void)state;
	/* a short header to an ID of no connection */
	memset(d, 0x5a, sizeof(d));
	d[0] = 0x40;
	assert_int_equal(sl_qroute_cid(d + 1, 16, 3), 0);
	sl_qend_input(e, d, 60, (struct sockaddr *)&ca, sizeof(ca), 1);
	assert_int_equal(nq, 1);
	assert_true(q[0].n < 60 && q[0].n >= 21);
	assert_int_equal(q[0].d[0] & 0xc0, 0x40);
	assert_int_equal(sl_qroute_reset_token(key, d + 1, 16, token), 0);
	assert_memory_equal(q[0].d + q[0].n - 16, token, 16);
	assert_int_equal(sl_qend_stats(e)->resets, 1);
	/* its QUIC bit greased (RFC 9287, which libngtcp2 offers): the
	 * same */
	nq = 0;
	d[0] = 0x00;
	sl_qend_input(e, d, 60, (struct sockaddr *)&ca, sizeof(ca), 1);
	assert_int_equal(nq, 1);
	assert_int_equal(sl_qend_stats(e)->resets, 2);
	d[0] = 0x40;
	/* too short to be answered smaller with 21 bytes */
	nq = 0;
	sl_qend_input(e, d, 21, (struct sockaddr *)&ca, sizeof(ca), 1);
	assert_int_equal(nq, 0);
	/* a version not spoken here: Version Negotiation, naming 1 */
	d[0] = 0xc0;
	d[1] = 0x1a, d[2] = 0x2a, d[3] = 0x3a, d[4] = 0x4a;
	d[5] = 8;
	d[14] = 8;
	sl_qend_input(e, d, sizeof(d), (struct sockaddr *)&ca, sizeof(ca), 1);
	assert_int_equal(nq, 1);
	assert_int_equal(sl_qend_stats(e)->vneg, 1);
	assert_true(q[0].d[0] & 0x80);
	assert_memory_equal(q[0].d + 1, "\0\0\0\0", 4);
	/* ... but not to a datagram no client Initial could be */
	nq = 0;
	sl_qend_input(e, d, 100, (struct sockaddr *)&ca, sizeof(ca), 1);
	assert_int_equal(nq, 0);
	assert_int_equal(sl_qend_stats(e)->dropped, 2);
	/* no QUIC at all */
	sl_qend_input(e, d, 3, (struct sockaddr *)&ca, sizeof(ca), 1);
	assert_int_equal(sl_qend_stats(e)->dropped, 3);
	assert_int_equal(sl_qend_stats(e)->accepted, 0);
	sl_qend_free(e);
	SSL_CTX_free(sctx);
}

/* The client's datagrams into e, one at a time (after it queued one byte
 * on a stream of its own, so that it has some to send). */
static void
client_sends(struct sl_qend *e, struct sl_qconn *c, struct sockaddr_in *ca,
	     uint64_t now)
{
	int64_t id = sl_qconn_open(c, 1);
	uint8_t d[1500];
	long n;

	assert_true(id >= 0);
	assert_int_equal(sl_qconn_send(c, id, (const uint8_t *)"x", 1, 0), 0);
	while ((n = sl_qconn_write(c, d, sizeof(d), now, NULL, NULL)) > 0)
		sl_qend_input(e, d, (size_t)n, (struct sockaddr *)ca,
			      sizeof(*ca), now);
}

/* A connection the endpoint closed stays known by its IDs for three
 * probe timeouts (RFC 9000 section 10.2): what its client still sends
 * gets the CONNECTION_CLOSE again (a few times), never a stateless
 * reset; after that, a stranger's answer. */
static void
test_closed_ids_kept(void **state)
{
	SSL_CTX *sctx = quic_server_ctx(), *cctx = quic_client_ctx(NULL);
	struct sl_qend *e = endpoint(sctx, 0, 10);
	struct sockaddr_in ca = client_addr(50001);
	uint64_t now = 1000000000;
	struct sl_qconn *c = client(cctx, &ca, now);

	(void)state;
	carry(e, c, &ca, &now, 20);
	assert_true(sl_qconn_established(c));
	nq = 0;
	sl_qconn_fail(sl_qend_conn(e, 0), 0x100);
	sl_qend_close(e, sl_qend_conn(e, 0), now);
	assert_int_equal(nq, 1); /* its CONNECTION_CLOSE */
	assert_int_equal(sl_qend_stats(e)->conns, 0);
	for (int i = 0; i < 5; i++)
		client_sends(e, c, &ca, now);
	assert_int_equal(sl_qend_stats(e)->resets, 0);
	assert_int_equal(nq, 1 + 3); /* sent again three times */
	assert_memory_equal(q[1].d, q[0].d, q[0].n);
	/* three probe timeouts later: forgotten */
	now += 60ull * 1000000000u;
	(void)sl_qend_run(e, now);
	client_sends(e, c, &ca, now);
	assert_int_equal(sl_qend_stats(e)->resets, 1);
	sl_qconn_free(c);
	sl_qend_free(e);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void
test_idle_and_full(void **state)
{
	SSL_CTX *sctx = quic_server_ctx(), *cctx = quic_client_ctx(NULL);
	struct sl_qend *e = endpoint(sctx, 0, 1);
	struct sockaddr_in ca = client_addr(50000), cb = client_addr(50001);
	uint64_t now = 1000000000;
	struct sl_qconn *c = client(cctx, &ca, now), *c2;

	(void)state;
	carry(e, c, &ca, &now, 20);
	assert_int_equal(sl_qend_established(e), 1);
	/* a second client past max_conns: its Initial is dropped */
	c2 = client(cctx, &cb, now);
	{
		uint8_t d[1500];
		long n = sl_qconn_write(c2, d, sizeof(d), now, NULL, NULL);
		assert_true(n >= 1200);
		sl_qend_input(e, d, (size_t)n, (struct sockaddr *)&cb,
			      sizeof(cb), now);
	}
	assert_int_equal(sl_qend_stats(e)->full, 1);
	assert_int_equal(sl_qend_stats(e)->accepted, 1);
	/* 30 s without a packet: the idle timeout ends the connection */
	now += 31ull * 1000000000;
	(void)sl_qend_run(e, now);
	assert_int_equal(sl_qend_stats(e)->conns, 0);
	assert_int_equal(sl_qend_stats(e)->closed, 1);
	assert_int_equal(nq, 0); /* an idle end says nothing */
	sl_qconn_free(c);
	sl_qconn_free(c2);
	sl_qend_free(e);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_and_retry),
	    cmocka_unit_test(test_new_address),
	    cmocka_unit_test(test_no_connection),
	    cmocka_unit_test(test_closed_ids_kept),
	    cmocka_unit_test(test_idle_and_full),
	};

	return cmocka_run_group_tests(tests, quic_cert_make, quic_cert_free);
}
