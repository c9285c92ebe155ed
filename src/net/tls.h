/* SPDX-License-Identifier: MIT */
/*
 * TLS with OpenSSL, under the transport seam (xprt.h): the contexts built
 * from a generation's tls: keys (certificates chosen by SNI, session
 * tickets with keys rotated by sluice, client certificates; upstream
 * verification, mutual TLS and session resumption), and the handshake,
 * read, write and close_notify on one connection. The connection's fd is
 * the socket; OpenSSL reads and writes it directly, never blocking: each
 * call says what it waits for (SL_TLS_WANT_*), and the caller turns that
 * into read or write interest. Knows no HTTP and no client.
 */
#ifndef SL_TLS_H
#define SL_TLS_H

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct sl_conf;
struct sl_conf_tls_server;

/* What a non-blocking TLS call waits for before it can go on. */
#define SL_TLS_WANT_READ  1
#define SL_TLS_WANT_WRITE 2

/* Why a client's handshake failed (sluice_tls_handshake_failures_total). */
enum sl_tls_fail {
	SL_TLS_F_PLAIN_HTTP = 0,  /* an HTTP request on the TLS port */
	SL_TLS_F_TIMEOUT,	  /* not done within header_timeout */
	SL_TLS_F_CLOSED,	  /* the client closed or reset it */
	SL_TLS_F_PROTOCOL,	  /* no common version, cipher or group */
	SL_TLS_F_NO_CLIENT_CERT,  /* client_verify: required, none sent */
	SL_TLS_F_BAD_CLIENT_CERT, /* it did not verify */
	SL_TLS_F_OTHER,		  /* anything else (in the log line) */
	SL_TLS_NFAIL
};
const char *sl_tls_fail_str(enum sl_tls_fail f);

/* A TLS listener's contexts: one per set of names (certificates for the
 * same names, RSA and ECDSA, share one), the first the default. */
struct sl_tls_server;
/* A TLS cluster's context. */
struct sl_tls_client {
	atomic_int refs; /* generations holding it (sl_tls_share) */
	SSL_CTX *ctx;
	char *sni;   /* NULL: none */
	int verify;  /* chain and name */
	uint64_t fp; /* identity of the settings and files: a pooled
			connection or a session made under another is
			not reused */
};

/*
 * Builds the TLS contexts of every TLS listener and cluster of conf (and
 * sets conf->tls_free). Reads the files; changes nothing else. Returns
 * NULL when all is usable, else a malloc'd string of error lines in the
 * loader's form ("FILE:LINE:COL: error: MESSAGE\n"). Warnings (an expired
 * certificate, a key readable by others) go to *warnings the same way
 * (malloc'd, or left NULL).
 */
char *sl_tls_load(struct sl_conf *conf, char **warnings);

/*
 * What makes a listener's context QUIC's (src/quic's sl_qtls_ctx_setup for
 * a server), set by the daemon before a configuration is loaded: net calls
 * no layer above it. sl_tls_load builds each http3 listener's contexts a
 * second time (tls.qctx) and hands each to it; NULL (a build without
 * HTTP/3): an http3 listener fails to load. Returns 0, or -1.
 */
extern int (*sl_tls_quic_hook)(SSL_CTX *ctx);

/* One more reference to srv (NULL: none), which the generation it is
 * given to drops with its own (the admin listener's, kept across a
 * reload of a file without "admin"). */
struct sl_tls_server *sl_tls_server_ref(struct sl_tls_server *srv);

/* A listener's default context (its first certificate's), on which a
 * connection starts before SNI picks another. */
SSL_CTX *sl_tls_server_ctx(const struct sl_tls_server *srv);

/*
 * Gives nc, a generation sl_conf_reparse made from oc (the same listeners
 * and clusters), oc's TLS contexts instead of loading them again: one more
 * reference each, so that a generation the resolver makes reads no
 * certificate (doc/fleet.md section 2). Sets nc->tls_free.
 */
void sl_tls_share(struct sl_conf *nc, const struct sl_conf *oc);

/* ---- one connection ---------------------------------------------------- */

/* A server-side connection on fd for a listener, or NULL (out of memory). */
SSL *sl_tls_accept(const struct sl_conf_tls_server *t, int fd);

/* Where an upstream connection keeps the session to resume: one per
 * endpoint per worker. */
struct sl_tls_slot {
	SSL_SESSION *sess;
	uint64_t fp; /* of the sl_tls_client that made it */
};
void sl_tls_slot_clear(struct sl_tls_slot *s);

/* A client-side connection to an upstream on fd: SNI, host (or ip, for
 * an address without sni) verification, the session in slot if it is of
 * this context; new sessions are kept there. NULL when out of memory. */
SSL *sl_tls_connect(const struct sl_tls_client *cl, int fd, const char *ip,
		    struct sl_tls_slot *slot);

/* Drives the handshake: 1 done, 0 not yet (*want says for what), -1
 * failed (SSL's error queue and verify result say why). */
int sl_tls_handshake(SSL *ssl, int *want);

/* Why a server-side handshake failed, and in words (buf). */
enum sl_tls_fail sl_tls_why_failed(SSL *ssl, char *buf, size_t n);
/* Why a client-side handshake failed, in words: "certificate verify
 * failed: Hostname mismatch", ... */
const char *sl_tls_why(SSL *ssl, char *buf, size_t n);

/*
 * Reads decrypted bytes, as many as fit (several records). Returns bytes
 * read, 0 at the end (close_notify, or the peer's FIN), or -1 with errno:
 * EAGAIN (then *want), EPROTO (a TLS error) or the socket's.
 */
ssize_t sl_tls_read(SSL *ssl, void *buf, size_t len, int *want);

/*
 * Writes iov[0..niov): small pieces are put together so that a head and
 * the start of its body go in one record. Returns bytes taken, or -1 with
 * errno: EAGAIN (then *want; the next call must start with the same
 * bytes), EPIPE/ECONNRESET or EPROTO.
 */
ssize_t sl_tls_writev(SSL *ssl, const struct iovec *iov, int niov, int *want);

/* Decrypted bytes that OpenSSL holds, or a close_notify it read and
 * that was not reported yet (it came after data in one read): epoll
 * cannot see either. (Not SSL_has_pending: a record that is not
 * complete yet waits for the socket, and epoll sees that; without
 * read-ahead OpenSSL reads no further than the record it needs.) */
static inline int
sl_tls_pending(SSL *ssl)
{
	return SSL_pending(ssl) > 0 ||
	       (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
}

/* Sends close_notify (once, without waiting for the peer's). */
void sl_tls_close_notify(SSL *ssl);

/* The connection is cut, not ended: no close_notify will be sent (the
 * peer must not take the part for all). */
void sl_tls_abort(SSL *ssl);

/* Frees the connection's TLS state, after its close_notify when notify is
 * set (not in the middle of a handshake). */
void sl_tls_free(SSL *ssl, int notify);

/* Bytes of plain text in outq bytes of TLS records (FIONREAD and
 * SIOCOUTQ count records). */
int sl_tls_plain_bytes(int outq);

/* Whether the handshake resumed a session. */
static inline int
sl_tls_resumed(SSL *ssl)
{
	return SSL_session_reused(ssl);
}

/* WebSocket (RFC 6455 section 4.2.2): the Sec-WebSocket-Accept value of
 * a Sec-WebSocket-Key, base64(SHA-1(key GUID)), 28 characters and a NUL
 * into out. Returns 0, or -1 when the digest failed. Here because this is
 * the file that calls OpenSSL. */
#define SL_WS_ACCEPT_LEN 28
int sl_tls_ws_accept(const char *key, size_t len,
		     char out[SL_WS_ACCEPT_LEN + 1]);
/* A Sec-WebSocket-Key of sluice's own (16 random bytes in base64, 24
 * characters and a NUL): the key it writes for a client of RFC 8441,
 * which has none. Returns 0, or -1 when no random bytes came. */
#define SL_WS_KEY_LEN 24
int sl_tls_ws_key(char out[SL_WS_KEY_LEN + 1]);

/* The connection's protocol version, "TLSv1.3" (a static string). */
static inline const char *
sl_tls_version(SSL *ssl)
{
	return SSL_get_version(ssl);
}

/* Whether ALPN chose "h2" (doc/http2.md section 2). */
int sl_tls_alpn_h2(SSL *ssl);

/*
 * Whether host[0..len) (a request's authority, without its port) is a name
 * the connection's certificate covers, so that a request for it may come
 * on this connection (RFC 9110 section 15.5.20, doc/http2.md section 7):
 * the name the client asked for by SNI, or one of the names of the
 * certificate that SNI chose on listener t. 1 as well when the client sent
 * no SNI (it relied on no name).
 */
int sl_tls_name_covered(SSL *ssl, const struct sl_conf_tls_server *t,
			const char *host, size_t len);

/* The verified client certificate's subject (RFC 2253, controls and
 * non-ASCII escaped), malloc'd, or NULL: none, or not verified. */
char *sl_tls_peer_subject(SSL *ssl);
/* Did the peer present a certificate that verified? 1 or 0. */
int sl_tls_peer_verified(SSL *ssl);

#endif
