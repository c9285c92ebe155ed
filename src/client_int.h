/* SPDX-License-Identifier: MIT */
/*
 * Private to the client layer (client.c, client_pool.c): the client
 * connection's struct, its states and flag values. No other module may
 * include it; the exchange sees a connection only as the struct
 * sl_stream it embeds (stream.h), other modules through client.h.
 */
#ifndef SL_CLIENT_INT_H
#define SL_CLIENT_INT_H

#include <event2/event_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/queue.h>

#include "h1_parse.h"
#include "proxyproto.h"
#include "stream.h"
#include "tls.h"
#include "wloop.h"
#include "xprt.h"

enum sl_client_state {
	SL_CLIENT_ST_HANDSHAKE, /* TLS: the handshake, under header_timeout;
				   nothing read yet */
	SL_CLIENT_ST_PROXY,	/* a proxy_protocol listener: the connection's
				   first bytes are read as a PROXY header (a
				   "from" source) or checked for one (any
				   other), under header_timeout (idle_timeout
				   for another source on plain HTTP) */
	SL_CLIENT_ST_IDLE,   /* between requests: s.txn == NULL, no byte of the
				next head yet; deadline = idle timeout */
	SL_CLIENT_ST_HEAD,   /* part of a head is in `in`: s.txn == NULL;
				deadline = header deadline */
	SL_CLIENT_ST_TXN,    /* s.txn != NULL: one exchange, proxied or
				local */
	SL_CLIENT_ST_LINGER, /* final response sent, write side shut down;
				input is dropped until EOF or deadline */
	SL_CLIENT_ST_H2,     /* the connection speaks HTTP/2: h2 is its
				codec's state (h2.c), s.txn == NULL (the
				exchanges are on the codec's streams), the
				deadlines are the codec's */
	SL_CLIENT_ST_TUNNEL, /* after a 101: bytes both ways between the
				client and the upstream connection the
				tunnel owns (tunnel.c); s.txn == NULL, the
				deadline is the tunnel's */
	SL_CLIENT_ST_CLOSED, /* fd closed, no events; freed by tev */
};

/* In c->s.flags, beside the stream's own (stream.h), which are these: */
#define C_F_REV 0x01 /* rev is added: SL_STREAM_F_READING */
/* the exchange's write event is added, a write would block:
 * SL_STREAM_F_WBLOCK */
#define C_F_WEV 0x02
#define C_F_EOF 0x04 /* the client shut its write side: SL_STREAM_F_EOF */
/* its listener left the configuration: close after the current exchange
 * (SL_STREAM_F_RETIRED) */
#define C_F_RETIRED    0x08
#define C_F_TLS	       0x8000 /* SL_STREAM_F_TLS */
#define C_F_CORKED     0x10   /* the last response went out with MSG_MORE */
#define C_F_SNDBUF_MAX 0x20   /* SO_SNDBUF has grown as far as it may */
#define C_F_REV_W                                                              \
	0x40 /* TLS: rev waits for writability (a read                         \
		     needs a write to go first) */
/* idle for a while: in w->cpool.parked and its park_fd, rev given back */
#define C_F_PARKED 0x1000
/* LINGER with response bytes not yet sent: linger_out_end says until
 * when it waits for the client to take them */
#define C_F_LINGER_OUT 0x2000
/* PROXY state, a source not in proxy_protocol.from: its first bytes are
 * checked for a header it may not send (doc/edge.md section 2) */
#define C_F_PP_SNIFF 0x4000
/* the connection is on a memory end (xprt_mem.c: a test's), not a socket */
#define C_F_MEM 0x10000
/* what was written may not all be sent yet: a write stalled or came back
 * short, or more than SURELY_SENT bytes went (client_write); only then
 * does the close ask the kernel (xprt unsent, an ioctl) */
#define C_F_OUT_BACKLOG 0x80000
/* 0x80 and 0xf00: the response buffer's class (SL_STREAM_F_RBUF_*) */

/* The transport's kind (xprt.h) is the two bits C_F_TLS and C_F_MEM: a
 * connection needs no pointer to its operations. */
#define C_F_XPRT_SHIFT 15
_Static_assert(C_F_TLS == SL_XPRT_TLS << C_F_XPRT_SHIFT &&
		   C_F_MEM == SL_XPRT_MEM << C_F_XPRT_SHIFT,
	       "C_F_TLS and C_F_MEM are the transport's kind");

_Static_assert(C_F_REV == SL_STREAM_F_READING &&
		   C_F_WEV == SL_STREAM_F_WBLOCK &&
		   C_F_EOF == SL_STREAM_F_EOF &&
		   C_F_RETIRED == SL_STREAM_F_RETIRED &&
		   C_F_TLS == SL_STREAM_F_TLS,
	       "the connection's flags that are the stream's");

/* Owned by its worker's list; freed after client_close by tev. */
struct sl_h2conn;
struct sl_tunnel;

struct sl_client {
	TAILQ_ENTRY(sl_client) entry;
	struct sl_stream s; /* what its exchange sees of it (stream.h): its
			       worker, generation, listener, flags, request
			       bytes, identity */
	enum sl_client_state state;
	int fd; /* the socket; -1 on a memory end */
	union {
		struct sl_h1_scan scan; /* HEAD: the head being read */
		struct sl_h2conn *h2;	/* H2: the codec's state (owned) */
		struct sl_tunnel *tun;	/* TUNNEL: the tunnel (owned) */
		/* LINGER with C_F_LINGER_OUT: when waiting for the client to
		 * take the response ends, the low 32 bits of a now_ms() time
		 * (the scanner is done with by then) */
		uint32_t linger_out_end;
	};
	uint32_t sndbuf_extra; /* SO_SNDBUF granted above the inherited
				  one (w->cpool.sndbuf_extra) */
	int ip_slot;	       /* per-address count to release, or
				  SL_RUNTIME_IP_UNCOUNTED */
	uint32_t out_bytes;    /* written to the client, until it passes
				  SURELY_SENT (C_F_OUT_BACKLOG) */
	struct sl_tnode tnode; /* IDLE, HEAD, LINGER deadline (worker list);
				  the reap list once CLOSED */
	union {
		void *xc; /* the transport's context (xprt.h): NULL on
			     TCP, the memory end with C_F_MEM */
		SSL *ssl; /* with C_F_TLS */
	};
	struct event *rev; /* the only event of an idle connection; NULL
			      while parked (C_F_PARKED) */
};

/*
 * A connection of listener l on w over a memory end (xprt.h), for tests:
 * what sl_client_new makes of an accepted socket, the client at sa. It
 * takes its place among l's connections (not counted per address) and
 * owns end from then on (closed with the connection). Returns the
 * connection (closed already when it ended on its first read), or NULL
 * when it could not be made (l's max_connections, no memory; end closed).
 * A closed connection's struct goes back to the worker's pool (client.h,
 * sl_client_reap), where it is kept for the next connection.
 */
struct sl_client *sl_client_new_mem(struct sl_worker *w,
				    const struct sl_conf_listener *l,
				    struct sl_xprt_mem *end,
				    const struct sockaddr *sa, socklen_t salen);

/*
 * For the HTTP/2 codec (h2.c), the other codec of the client layer: the
 * connection's own operations it shares with HTTP/1. Closing is deferred
 * (STYLE.md): c stays readable until the reap.
 */
/* Closes c now; reason is static. */
void sl_client_close(struct sl_client *c, const char *reason);
/* Closes c with a reset: what it was sent is cut, and must not look whole
 * (no close_notify on TLS). */
void sl_client_abort_reset(struct sl_client *c, const char *reason);
/* Ends c after its last bytes: shuts the write side and reads and drops
 * input for a while when linger is set (the client reads them instead of
 * a reset), else closes. */
void sl_client_finish(struct sl_client *c, const char *reason, int linger);
/* Ends c for what its client sent: its last bytes and the FIN go, no
 * byte more is read, and the close follows a second later. */
void sl_client_finish_deaf(struct sl_client *c, const char *reason);
/* Read interest on or off (through the transport). */
void sl_client_want_read(struct sl_client *c, int on);
/* What the read event waits for (TLS: SL_TLS_WANT_WRITE when a read must
 * write first). */
void sl_client_rev_wait(struct sl_client *c, int want);
/* A new request on c takes the newest generation and c's listener in it.
 * Returns 0, or -1 when a reload removed the listener (c keeps its own:
 * it is to end, SL_STREAM_F_RETIRED). */
int sl_client_adopt(struct sl_client *c);

/* client.c's own, for client_accept.c: c's state (logged at debug), and
 * "ADDR:PORT" of its client for its log lines. */
void sl_client_set_state(struct sl_client *c, enum sl_client_state s);
const char *sl_client_peer_str(const struct sl_client *c, char *buf, size_t n);

/*
 * client_accept.c: what comes before HTTP. The PROXY state of a plain
 * listener (sl_client_proxy_scan: the header in `in`, then the request
 * after it) and of a TLS one (sl_client_proxy_tls: read off the socket
 * before the handshake), a PROXY stream's end (sl_client_proxy_eof), the
 * TLS handshake (sl_client_handshake). Each returns 1 when c went on, 0
 * when it waits, -1 when c was closed (the handshake: or handed to the
 * HTTP/2 codec). A refusal for the header (sl_client_pp_refuse) or a
 * failed handshake (sl_client_tls_failed: counted and said; the caller
 * closes) from the deadlines too.
 */
int sl_client_proxy_scan(struct sl_client *c);
int sl_client_proxy_tls(struct sl_client *c);
void sl_client_proxy_eof(struct sl_client *c);
int sl_client_handshake(struct sl_client *c);
void sl_client_pp_refuse(struct sl_client *c, enum sl_pp_error why);
void sl_client_tls_failed(struct sl_client *c, enum sl_tls_fail f,
			  const char *why);

/* The operations of c's transport (xprt.h). */
static inline const struct sl_xprt_ops *
sl_client_xprt(const struct sl_client *c)
{
	return sl_xprt(c->s.flags >> C_F_XPRT_SHIFT);
}

#endif
