/* SPDX-License-Identifier: MIT */
/*
 * A worker's QUIC endpoint (doc/http3.md): the connections of one UDP
 * socket, found by the connection IDs they answer to; a client's first
 * Initial opening one (after a Retry that validates its address, when
 * asked); what has no connection answered as RFC 9000 says: a version
 * not spoken here with Version Negotiation, a short header with a
 * stateless reset (its token an HMAC of the ID: any worker or a
 * restarted process knows it), anything else dropped. No socket: the
 * caller gives the datagrams read and a function that sends.
 */
#ifndef SL_QEND_H
#define SL_QEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct sl_qconn;

struct sl_qend_cfg {
	SSL_CTX *ctx;	    /* made by sl_qtls_ctx_setup */
	unsigned worker;    /* the first byte of its connection IDs */
	const uint8_t *key; /* 32 bytes: reset and Retry tokens */
	int retry;	    /* a Retry before each connection */
	size_t max_conns;   /* past it, an Initial is dropped */
	/* handshakes in progress from one address at most (0: no limit):
	 * past it, its Initials open nothing (counted as per_ip) */
	unsigned max_handshakes_per_ip;
	uint64_t max_streams;  /* a connection's requests at once (0: 100) */
	uint64_t token_age_ms; /* a Retry token's life */
	void (*send)(void *arg, const struct sockaddr *to, socklen_t to_len,
		     const uint8_t *d, size_t n);
	/* a connection opened (before its first datagram is read: the layer
	 * above sets its streams' callbacks here), and one about to be
	 * freed; either may be NULL */
	void (*opened)(void *arg, struct sl_qconn *c);
	void (*ended)(void *arg, struct sl_qconn *c);
	void *arg;
};

/* What the endpoint did, counted. */
struct sl_qend_stats {
	uint64_t accepted; /* connections opened */
	uint64_t retries;  /* Retries sent */
	uint64_t resets;   /* stateless resets sent */
	uint64_t vneg;	   /* Version Negotiations sent */
	uint64_t dropped;  /* datagrams of no connection, not answered */
	uint64_t full;	   /* Initials dropped at max_conns */
	uint64_t per_ip;   /* Initials dropped at max_handshakes_per_ip */
	uint64_t closed;   /* connections ended */
	size_t conns;	   /* open now */
};

struct sl_qend;

/* An endpoint of cfg (copied) on the socket bound to local. NULL: no
 * memory. */
struct sl_qend *sl_qend_new(const struct sl_qend_cfg *cfg,
			    const struct sockaddr *local, socklen_t local_len);
void sl_qend_free(struct sl_qend *e);

/* A datagram read from `from` at now (ns), and what it sends. */
void sl_qend_input(struct sl_qend *e, const uint8_t *d, size_t n,
		   const struct sockaddr *from, socklen_t from_len,
		   uint64_t now);

/* The timers due at now run; returns when the next is due (UINT64_MAX:
 * none). */
uint64_t sl_qend_run(struct sl_qend *e, uint64_t now);

const struct sl_qend_stats *sl_qend_stats(const struct sl_qend *e);

/* What the layer above queued on c (outside the endpoint's own input and
 * timers: an answer that came later), sent now. Returns 0, or -1 when c
 * ended (ended was called, c is freed). */
int sl_qend_flush(struct sl_qend *e, struct sl_qconn *c, uint64_t now);

/* Ends c now (its CONNECTION_CLOSE sent: sl_qconn_fail's error, if the
 * layer above set one); ended is called, c is freed. */
void sl_qend_close(struct sl_qend *e, struct sl_qconn *c, uint64_t now);

/* Whether each new connection is asked for a Retry first (cfg.retry),
 * changed as the load says (http3.retry: auto). */
void sl_qend_set_retry(struct sl_qend *e, int on);
/* A reload's new settings for the connections to come: cfg's ctx,
 * retry, max_conns, max_handshakes_per_ip, max_streams and token_age_ms
 * (the rest, the ID byte, the key and the callbacks, stay). The
 * connections open keep the context they began on (an SSL holds its
 * own reference). */
void sl_qend_reconfigure(struct sl_qend *e, const struct sl_qend_cfg *cfg);

/* The connections it holds at most from now on (0: a drain's, no new
 * one). */
void sl_qend_set_max_conns(struct sl_qend *e, size_t n);

/* The open connections whose handshake is done. */
size_t sl_qend_established(const struct sl_qend *e);

/* The handshakes in progress (connections open whose handshake is not
 * done): http3.retry auto's measure. */
size_t sl_qend_handshaking(const struct sl_qend *e);

/* The open connection i (0 .. conns - 1), for tests and the layer above
 * it. */
struct sl_qconn *sl_qend_conn(const struct sl_qend *e, size_t i);

/* Its serial number: the endpoint's connections counted from 1, never
 * the same for two (a pointer may be). */
uint64_t sl_qend_conn_serial(const struct sl_qend *e, size_t i);

#endif
