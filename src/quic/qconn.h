/* SPDX-License-Identifier: MIT */
/*
 * A QUIC connection on the core of Debian's libngtcp2 (doc/http3.md):
 * its packet protection by qcrypto.c and its TLS handshake by qtls.c,
 * through libngtcp2's crypto callbacks. Every call into libngtcp2 is in
 * this file's .c, so that its 1.x API changes it alone. No socket: the
 * caller gives the datagrams that came and sends those written, with
 * the time in nanoseconds of a monotonic clock.
 */
#ifndef SL_QCONN_H
#define SL_QCONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct sl_qconn;

/* The addresses of a connection's path: ours and the peer's. */
struct sl_qpath {
	const struct sockaddr *local, *remote;
	socklen_t local_len, remote_len;
};

/* Whose connection IDs a server's connection issues: its worker's
 * (qroute.h), their stateless reset tokens under reset_key (32 bytes;
 * NULL: random tokens, which no other process can reproduce). */
struct sl_qconn_ids {
	unsigned worker;
	const uint8_t *reset_key;
	/* the requests a client may have open at once (0: 100), the
	 * listener's max_concurrent_streams */
	uint64_t max_streams;
};

/*
 * A server's connection for a client's first datagram (pkt, n bytes),
 * on ctx (made by sl_qtls_ctx_setup). NULL when the datagram opens no
 * connection (not a client's Initial of a version spoken here), or no
 * memory. The datagram is read: write what it answers next.
 */
struct sl_qconn *sl_qconn_accept(SSL_CTX *ctx, const struct sl_qconn_ids *ids,
				 const struct sl_qpath *path,
				 const uint8_t *pkt, size_t n, uint64_t now);

/* A datagram's first packet, as an endpoint routes it. */
struct sl_qpeek {
	uint32_t version; /* 0: a short header */
	const uint8_t *dcid, *scid;
	size_t dcid_len, scid_len;
};

/* pkt's header into p: 0, 1 when its version is not spoken here (answer
 * with sl_qconn_write_vn), -1 when it is no QUIC packet. */
int sl_qconn_peek(const uint8_t *pkt, size_t n, struct sl_qpeek *p);

/* A client's Initial that could open a connection. */
struct sl_qinitial {
	uint32_t version;
	uint8_t dcid[20], scid[20];
	size_t dcid_len, scid_len;
	const uint8_t *token; /* in the datagram */
	size_t token_len;
};

/* pkt as a client's first Initial into i: 0, or -1 when it cannot open a
 * connection (another packet, a datagram under 1,200 bytes). */
int sl_qconn_initial(const uint8_t *pkt, size_t n, struct sl_qinitial *i);

/* The Version Negotiation packet that answers p (our versions: 1), the
 * Retry that answers i (from the new connection ID rscid, carrying
 * token), the stateless reset of token that answers a datagram of
 * trigger_len bytes (smaller than it, RFC 9000 10.3): their length in
 * out, or -1 (none to send: a reset would not be smaller). */
long sl_qconn_write_vn(uint8_t *out, size_t room, const struct sl_qpeek *p);
long sl_qconn_write_retry(uint8_t *out, size_t room,
			  const struct sl_qinitial *i, const uint8_t *rscid,
			  size_t rscid_len, const uint8_t *token,
			  size_t token_len);
long sl_qconn_write_reset(uint8_t *out, size_t room, const uint8_t *token,
			  size_t trigger_len);

/* A client's Initial after a Retry, its token opened: the original
 * destination connection ID and the Retry's source connection ID, which
 * the server's transport parameters must name. */
struct sl_qretried {
	const uint8_t *odcid, *rscid;
	size_t odcid_len, rscid_len;
};

/* sl_qconn_accept's, for an Initial that followed a Retry (retried not
 * NULL). */
struct sl_qconn *sl_qconn_accept_retried(SSL_CTX *ctx,
					 const struct sl_qconn_ids *ids,
					 const struct sl_qretried *retried,
					 const struct sl_qpath *path,
					 const uint8_t *pkt, size_t n,
					 uint64_t now);

/* The connection IDs c answers to now, into ids (max of them, each up to
 * 20 bytes, their lengths in lens): their number. */
size_t sl_qconn_scids(const struct sl_qconn *c, uint8_t (*ids)[20],
		      uint8_t *lens, size_t max);

/* The datagram that closes c (a CONNECTION_CLOSE of the error that ended
 * it, or none in its draining period): its length in out, to (its
 * peer's address), 0 when none is sent. */
long sl_qconn_write_close(struct sl_qconn *c, uint8_t *out, size_t room,
			  uint64_t now);

/* c's peer's address now (after a migration, the new one). */
const struct sockaddr *sl_qconn_remote(const struct sl_qconn *c,
				       socklen_t *len);

/* A client's connection to sni on ctx (tests, and HTTP/3 upstreams later);
 * its first datagram is written next. NULL: no memory. */
struct sl_qconn *sl_qconn_connect(SSL_CTX *ctx, const char *sni,
				  const struct sl_qpath *path, uint64_t now);

void sl_qconn_free(struct sl_qconn *c);

/* A server's handshake not done within this long ends its connection. */
#define SL_QCONN_HANDSHAKE_NS (10ull * 1000000000u)

/* A datagram that came for c. Returns 0, or -1 when the connection is
 * over (closed, or an error: sl_qconn_error says which). */
int sl_qconn_read(struct sl_qconn *c, const struct sl_qpath *path,
		  const uint8_t *pkt, size_t n, uint64_t now);

/* The next datagram c sends, into out (room bytes, 1,200 at least), and
 * where to (to, when not NULL: a path being validated may be new): its
 * length, 0 when there is none now, -1 when the connection is over. */
long sl_qconn_write(struct sl_qconn *c, uint8_t *out, size_t room, uint64_t now,
		    struct sockaddr_storage *to, socklen_t *to_len);

/* A PING after ns of quiet (0: none), which keeps a path's NAT binding
 * and tells the peer the path is alive. */
void sl_qconn_keep_alive(struct sl_qconn *c, uint64_t ns);

/* ---- streams ------------------------------------------------------------
 * What the layer above (HTTP/3) hears of c's streams, from inside
 * sl_qconn_read: a stream's data in order (taken: its flow-control
 * credit goes back to the peer), its end (fin), its reset by the peer
 * and its close. A callback returning -1 ends the connection. */
struct sl_qconn_app {
	int (*recv)(void *arg, int64_t id, const uint8_t *d, size_t n, int fin);
	void (*reset)(void *arg, int64_t id, uint64_t app_error);
	void (*closed)(void *arg, int64_t id, uint64_t app_error);
	void *arg;
	/* 1: the data of the peer's bidirectional streams is not credited
	 * back when heard, but by sl_qconn_consumed as the layer above
	 * takes it (a request body goes no faster than its upstream) */
	int manual;
	/* data of ours on stream id was acknowledged (room to send more);
	 * may be NULL */
	void (*acked)(void *arg, int64_t id);
	/* the handshake is done (1-RTT keys): streams of ours may open;
	 * may be NULL */
	void (*established)(void *arg);
};

void sl_qconn_set_app(struct sl_qconn *c, const struct sl_qconn_app *app);

/* A stream of ours: bidirectional (a client's requests) or
 * unidirectional (HTTP/3's control and QPACK streams). Its id, or -1
 * when the peer allows none more now. */
int64_t sl_qconn_open(struct sl_qconn *c, int bidi);

/* n bytes queued on stream id (copied: kept until the peer acknowledges
 * them), and its end after them (fin). Sent by sl_qconn_write as flow
 * control allows. Returns 0, or -1 (its end already queued, no
 * memory). */
int sl_qconn_send(struct sl_qconn *c, int64_t id, const uint8_t *d, size_t n,
		  int fin);

/* n bytes of stream id's data were taken (with app.manual): the peer
 * may send as many more, on the stream and on the connection. */
void sl_qconn_consumed(struct sl_qconn *c, int64_t id, size_t n);

/* The peer is asked to stop sending on stream id (STOP_SENDING with
 * app_error): its request is answered, the rest is not wanted. */
void sl_qconn_stop(struct sl_qconn *c, int64_t id, uint64_t app_error);

/* The layer above ends c with app_error (an HTTP/3 connection error, or
 * H3_NO_ERROR after its GOAWAY): its CONNECTION_CLOSE says so, sent when
 * the endpoint ends it (sl_qend_close, or a callback that returned -1).
 * sl_qconn_app_failed: whether it was. */
void sl_qconn_fail(struct sl_qconn *c, uint64_t app_error);
int sl_qconn_app_failed(const struct sl_qconn *c);

/* Bytes queued on stream id and not yet acknowledged. */
size_t sl_qconn_unacked(const struct sl_qconn *c, int64_t id);

/* Stream id ended both ways with app_error (RESET_STREAM and
 * STOP_SENDING). Returns 0, or -1. */
int sl_qconn_shutdown(struct sl_qconn *c, int64_t id, uint64_t app_error);

/* When c's next timer is due (ns, UINT64_MAX: none), and its run: 0, or
 * -1 when it ended the connection (the idle timeout). */
uint64_t sl_qconn_expiry(struct sl_qconn *c);
int sl_qconn_expire(struct sl_qconn *c, uint64_t now);

/* c's probe timeout now (ns): how long an ended connection's IDs are
 * kept is three of them (RFC 9000 section 10.2). */
uint64_t sl_qconn_pto(struct sl_qconn *c);

/* The CONNECTION_CLOSE c's peer sent: 1 with its code (*app: an
 * application error, else a transport one), 0 when none came. */
int sl_qconn_peer_close(struct sl_qconn *c, uint64_t *code, int *app);

/* What holds c (its endpoint's record of it), set and read back. */
void sl_qconn_set_owner(struct sl_qconn *c, void *owner);
void *sl_qconn_owner(const struct sl_qconn *c);

/* Whether c's handshake is done. */
int sl_qconn_established(const struct sl_qconn *c);

/* The TLS alert or libngtcp2 error that ended c, as text ("" while it
 * lives). */
const char *sl_qconn_error(const struct sl_qconn *c);

/* The connection's SSL (its SNI, ALPN, session). */
SSL *sl_qconn_ssl(const struct sl_qconn *c);

/* The version of the libngtcp2 loaded (sluice -V). */
const char *sl_quic_version(void);

#endif
