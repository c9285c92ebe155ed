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

/* A client's connection to sni on ctx (tests, and HTTP/3 upstreams later);
 * its first datagram is written next. NULL: no memory. */
struct sl_qconn *sl_qconn_connect(SSL_CTX *ctx, const char *sni,
				  const struct sl_qpath *path, uint64_t now);

void sl_qconn_free(struct sl_qconn *c);

/* A datagram that came for c. Returns 0, or -1 when the connection is
 * over (closed, or an error: sl_qconn_error says which). */
int sl_qconn_read(struct sl_qconn *c, const struct sl_qpath *path,
		  const uint8_t *pkt, size_t n, uint64_t now);

/* The next datagram c sends, into out (room bytes, 1,200 at least): its
 * length, 0 when there is none now, -1 when the connection is over. */
long sl_qconn_write(struct sl_qconn *c, uint8_t *out, size_t room,
		    uint64_t now);

/* When c's next timer is due (ns, UINT64_MAX: none), and its run: 0, or
 * -1 when it ended the connection (the idle timeout). */
uint64_t sl_qconn_expiry(struct sl_qconn *c);
int sl_qconn_expire(struct sl_qconn *c, uint64_t now);

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
