/* SPDX-License-Identifier: MIT */
/*
 * QUIC's TLS 1.3 handshake on OpenSSL 3.0, which has no QUIC API (RFC
 * 9001 sections 4 and 8; doc/http3.md): the technique nginx and HAProxy
 * use, written for sluice. OpenSSL runs the handshake as for TLS over
 * TCP, and this glue stands between it and QUIC's CRYPTO frames:
 *
 *   - the traffic secrets of each level come from the key log callback;
 *   - the handshake messages OpenSSL writes come from the message
 *     callback, at the level of the last secret it logged for sending
 *     (the records it writes into its output BIO are dropped);
 *   - the peer's handshake bytes, as CRYPTO frames deliver them, go to
 *     OpenSSL as TLS records: plaintext at the Initial level, protected
 *     here with the peer's secret once OpenSSL reads protected records
 *     (qcrypto.h, sl_qkey_init_tls);
 *   - QUIC's transport parameters travel in extension 0x39, the ALPN is
 *     h3, TLS 1.3 alone, no middlebox compatibility records, no early
 *     data.
 *
 * One struct sl_qtls a connection, on the worker's thread; no I/O.
 */
#ifndef SL_QTLS_H
#define SL_QTLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "qcrypto.h"

/* QUIC's encryption levels that carry CRYPTO frames (0-RTT has none). */
enum sl_qlevel {
	SL_QL_INITIAL = 0,
	SL_QL_HANDSHAKE,
	SL_QL_APP,
	SL_QL_N,
};

/* What the handshake hands its connection, from inside OpenSSL's calls
 * (sl_qtls_input). A callback returning -1 fails the handshake. */
struct sl_qtls_ops {
	/* the secret of level lv for sending (tx 1) or receiving, of
	 * aead's suite */
	int (*secret)(void *arg, enum sl_qlevel lv, int tx,
		      const uint8_t *secret, size_t len, enum sl_qaead aead);
	/* handshake bytes to send in CRYPTO frames at lv */
	int (*crypto)(void *arg, enum sl_qlevel lv, const uint8_t *p, size_t n);
};

struct sl_qtls;

/* Makes ctx a QUIC context: TLS 1.3 only, the callbacks above, extension
 * 0x39 and, on a server's, ALPN h3 chosen or the handshake refused with
 * no_application_protocol. Returns 0, or -1. */
int sl_qtls_ctx_setup(SSL_CTX *ctx, int server);

/*
 * A connection's handshake on ctx (made by sl_qtls_ctx_setup), sending
 * the transport parameters tp[0 .. tp_len); a client names the server
 * (sni, or NULL) and offers h3. NULL: no memory.
 */
struct sl_qtls *sl_qtls_new(SSL_CTX *ctx, int server, const char *sni,
			    const uint8_t *tp, size_t tp_len,
			    const struct sl_qtls_ops *ops, void *arg);
void sl_qtls_free(struct sl_qtls *q);

/* The transport parameters sent, when they are known only after
 * sl_qtls_new (a server's: libngtcp2 encodes them once it has read the
 * client's first packet). Returns 0, or -1 (no memory). */
int sl_qtls_set_tp(struct sl_qtls *q, const uint8_t *tp, size_t tp_len);

/* A client's first flight (its ClientHello, through ops->crypto).
 * Returns 0, or -1. */
int sl_qtls_start(struct sl_qtls *q);

/*
 * The peer's CRYPTO bytes at level lv, in order: handed to OpenSSL, which
 * answers through ops. Returns 1 once the handshake is done (and on any
 * bytes after it: a session ticket), 0 while it goes on, -1 when it
 * failed: sl_qtls_alert then says the TLS alert (the connection closes
 * with CRYPTO_ERROR, 0x100 + the alert).
 */
int sl_qtls_input(struct sl_qtls *q, enum sl_qlevel lv, const uint8_t *p,
		  size_t n);

/* The alert the handshake failed with (80, internal_error, when
 * OpenSSL sent none). */
uint8_t sl_qtls_alert(const struct sl_qtls *q);

/* The peer's transport parameters, once received (else NULL). */
const uint8_t *sl_qtls_peer_tp(const struct sl_qtls *q, size_t *len);

/* The connection's SSL, for what the TLS listeners read of one (its
 * SNI, its client certificate, its session's resumption). */
SSL *sl_qtls_ssl(const struct sl_qtls *q);

#endif
