/* SPDX-License-Identifier: MIT */
/*
 * The client connection as its codecs see it: the struct, its states, the
 * flags a codec reads or sets, the table of operations through which the
 * connection (client.c: socket, transport, states, deadlines, closing)
 * calls the codec that owns its bytes, and the connection's functions a
 * codec calls back down. The codecs are the accept phase (client_accept.c:
 * a PROXY header, the TLS handshake), HTTP/1 (client_h1.c), HTTP/2
 * (h2.c) and a tunnel after a 101 (tunnel.c). client.c names none of
 * them: the worker gives it their entry points (client.h, struct
 * sl_client_codecs). What only client.c, its HTTP/1 codec and
 * client_pool.c share is in client_int.h; the exchange sees a connection
 * only as the struct sl_seam it embeds (seam.h), other modules through
 * client.h.
 */
#ifndef SL_CLIENT_CODEC_H
#define SL_CLIENT_CODEC_H

#include <event2/event_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "h1_parse.h"
#include "proxyproto.h"
#include "seam.h"
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
/* c->state is a bit-field of 8 bits */
_Static_assert(SL_CLIENT_ST_CLOSED < 128, "a client state fits in a byte");

/* In c->s.flags, beside the stream's own (seam.h), which are these: */
#define C_F_REV 0x01 /* rev is added: SL_SEAM_F_READING */
/* the exchange's write event is added, a write would block:
 * SL_SEAM_F_WBLOCK */
#define C_F_WEV 0x02
#define C_F_EOF 0x04 /* the client shut its write side: SL_SEAM_F_EOF */
/* its listener left the configuration: close after the current exchange
 * (SL_SEAM_F_RETIRED) */
#define C_F_RETIRED    0x08
#define C_F_TLS	       0x8000 /* SL_SEAM_F_TLS */
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
/* 0x80 and 0xf00: the response buffer's class (SL_SEAM_F_RBUF_*) */

/* The transport's kind (xprt.h) is the two bits C_F_TLS and C_F_MEM: a
 * connection needs no pointer to its operations. */
#define C_F_XPRT_SHIFT 15
_Static_assert(C_F_TLS == SL_XPRT_TLS << C_F_XPRT_SHIFT &&
		   C_F_MEM == SL_XPRT_MEM << C_F_XPRT_SHIFT,
	       "C_F_TLS and C_F_MEM are the transport's kind");

_Static_assert(C_F_REV == SL_SEAM_F_READING && C_F_WEV == SL_SEAM_F_WBLOCK &&
		   C_F_EOF == SL_SEAM_F_EOF &&
		   C_F_RETIRED == SL_SEAM_F_RETIRED && C_F_TLS == SL_SEAM_F_TLS,
	       "the connection's flags that are the stream's");

struct sl_client_codec;
struct sl_h1_bodies;
struct sl_h2conn;
struct sl_tunnel;

/* Owned by its worker's list; freed after client_close by tev. */

struct sl_client {
	TAILQ_ENTRY(sl_client) entry;
	struct sl_seam s; /* what its exchange sees of it (seam.h): its
			       worker, generation, listener, flags, request
			       bytes, identity */
	/* a byte, not an int: with out_bytes it takes the word beside fd,
	 * where two ints made a hole (every idle connection pays for the
	 * struct: doc/performance.md, idle memory) */
	enum sl_client_state state : 8;
	uint16_t out_bytes; /* written to the client, until it passes
			       SURELY_SENT (C_F_OUT_BACKLOG): at most
			       2 x SURELY_SENT + 1 (client_h1.c) */
	int fd;		    /* the socket; -1 on a memory end */
	union {
		/* HEAD, when the head did not come whole in one read: the
		 * scanner's state until the rest comes (owned; freed as c
		 * leaves HEAD). NULL while a read scans a head: its state
		 * is on the stack then. */
		struct sl_h1_scan *scan;
		struct sl_h2conn *h2;  /* H2: the codec's state (owned) */
		struct sl_tunnel *tun; /* TUNNEL: the tunnel (owned) */
		/* TXN, a chunked request body: its decoder (client_h1.c,
		 * owned; freed as the exchange ends). NULL otherwise. */
		struct sl_h1_bodies *bodies;
		/* LINGER with C_F_LINGER_OUT: when waiting for the client to
		 * take the response ends, the low 32 bits of a now_ms() time
		 * (the scanner is done with by then) */
		uint32_t linger_out_end;
	};
	uint32_t sndbuf_extra; /* SO_SNDBUF granted above the inherited
				  one (w->cpool.sndbuf_extra) */
	int ip_slot;	       /* per-address count to release, or
				  SL_RUNTIME_IP_UNCOUNTED */
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

/* Whose bytes they are now: the state says (client.c's codec_of). */

/*
 * An idle keep-alive connection costs sluice malloc's chunk for its
 * struct sl_client and about 43 bytes more, mostly libevent's record of
 * its descriptor (a 32-byte chunk and a slot of 8 in its table, kept when
 * the connection parks and gives its event back): doc/performance.md,
 * "Idle memory". glibc's chunk (64-bit) is the size plus 8, rounded up to
 * 16: 232 bytes (232 now) make a 240-byte chunk and 283 B a connection;
 * 240 and 248 bytes, 256 and 299 B; a byte more, 272 and 315 B. Issue
 * 42 found it at 315, grown a field at a time (an ops pointer, an HTTP/2
 * stream id, a byte count, the codec's pointer) with nothing to say so;
 * the codec's pointer went again, since the state says it (codec_of).
 * Past 232 bytes this fails: what an idle plain HTTP/1.1 connection does
 * not use (TLS, HTTP/2, a tunnel, a head in pieces, a PROXY header) goes
 * out of line, as c->scan does, or the cost is a decision written in
 * doc/performance.md.
 */
#define SL_CLIENT_CHUNK(size) (((size) + 8 + 15) & ~(size_t)15)
_Static_assert(SL_CLIENT_CHUNK(sizeof(struct sl_client)) <= 240,
	       "an idle connection must stay under 300 bytes (see above)");

/*
 * A codec's operations: what the connection calls, and only through this
 * table, while the codec owns its bytes (its state). Each gets c; none may
 * assume c is still open afterwards ("may close c"). An operation left
 * NULL is one the connection does not call for that codec (noted).
 */
struct sl_client_codec {
	/* c's read event fired (rev: readable, or writable when TLS must
	 * write to read). May close c. */
	void (*on_read)(struct sl_client *c);
	/* the write event an exchange lent c fired (an HTTP/1 exchange's,
	 * or the tunnel's it became); NULL for a codec that writes from an
	 * event of its own. May close c. */
	void (*on_write)(struct sl_client *c);
	/* c's deadline in the worker's lists (c->tnode) passed; NULL for a
	 * codec that keeps its own timers. May close c. */
	void (*on_deadline)(struct sl_client *c);
	/* the worker drains (w->draining says why). May close c. */
	void (*drain)(struct sl_client *c);
	/* a reload kept c's listener; NULL: nothing to do. */
	void (*reloaded)(struct sl_client *c);
	/* a reload removed c's listener (C_F_RETIRED is set already): the
	 * codec ends c as a drain would, or after its exchange. May close
	 * c. */
	void (*retire)(struct sl_client *c);
	/* c closes under the codec (reason static): the codec frees its
	 * state, and logs what it must; NULL: nothing of its own. Called by
	 * the close only, before the close ends c's exchange (c->s.txn). */
	void (*free)(struct sl_client *c, const char *reason);
	/* 1 when c is idle as a keep-alive connection is: nothing open,
	 * nothing to write, its idle deadline in c->tnode (armed when it
	 * became idle), so that it may give its read event back and wait
	 * in the worker's park set (client_pool.c) until its next bytes;
	 * NULL: never */
	int (*parkable)(const struct sl_client *c);
};

/*
 * The connection's operations a codec calls. Closing is deferred
 * (STYLE.md): c stays readable until the reap.
 */
/* Closes c now; reason is static. */
void sl_client_close(struct sl_client *c, const char *reason);
/* Closes c with a reset: what it was sent is cut, and must not look whole
 * (no close_notify on TLS). */
void sl_client_abort_reset(struct sl_client *c, const char *reason);
/* Ends c after its last bytes: shuts the write side and reads and drops
 * input for a while when linger is set (the client reads them instead of
 * a reset), else closes. The lingering is the connection's own (its
 * HTTP/1 reading, its state): the codec's part is over. */
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
 * it is to end, SL_SEAM_F_RETIRED). */
int sl_client_adopt(struct sl_client *c);
/* c's state (logged at debug, A -> B). */
void sl_client_set_state(struct sl_client *c, enum sl_client_state s);

/*
 * For the accept phase (client_accept.c), which reads the first bytes of
 * a plain PROXY listener as HTTP/1 reads a head: HTTP/1's (client_h1.c),
 * which the accept phase calls sideways (HTTP/1 never calls it).
 * sl_client_read: reads
 * what the client sent into c->s.in, within the connection's budget;
 * returns the bytes read, 0 at the end of the stream, SL_AGAIN when
 * nothing could be read (reading off when `in` is full), -1 when c was
 * closed. sl_client_read_more: read interest while `in` has room (and the
 * client did not end). sl_client_accepted: the first bytes were the
 * accept phase's, c is IDLE: HTTP from now on, in the codec the listener
 * and (TLS) ALPN choose, which goes on with what is there (TLS: the
 * socket; plain: `in`). May close c.
 */
ssize_t sl_client_read(struct sl_client *c);
void sl_client_read_more(struct sl_client *c);
void sl_client_accepted(struct sl_client *c);

/* The operations of c's transport (xprt.h). */
static inline const struct sl_xprt_ops *
sl_client_xprt(const struct sl_client *c)
{
	return sl_xprt(c->s.flags >> C_F_XPRT_SHIFT);
}

#endif
