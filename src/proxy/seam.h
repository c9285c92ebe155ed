/* SPDX-License-Identifier: MIT */
/*
 * The codec seam (doc/design-notes.md, "The codec seam"): what an exchange
 * sees of the client connection under it. A codec (HTTP/1: client_h1.c;
 * HTTP/2: h2.c and h2_stream.c, on sluice's own frames and HPACK in src/h2)
 * turns a connection's bytes into exchanges and writes what they hand it;
 * each exchange it carries is given a struct sl_seam:
 * the facts of the connection it may read (worker, generation, listener,
 * the client's identity), the request bytes the codec has read for it,
 * a few flags, and the codec's operations. The exchange calls the codec
 * only through those operations and never calls client.c; the codec knows
 * no upstream. An HTTP/1 connection embeds one stream and carries one
 * exchange on it at a time; an HTTP/2 connection fills one per stream (the
 * pointers borrowed from the connection, which outlives its streams).
 * Nothing here calls anything: the only code is peer_str and via (seam.c),
 * which both sides use for log lines.
 */
#ifndef SL_SEAM_H
#define SL_SEAM_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cidr.h"
#include "conf_types.h"
#include "util.h"
#include "wloop.h"

struct sl_h1_head;
struct sl_h1_limits;
struct sl_h1_request;
struct sl_seam;
struct sl_seam_dechunk;
struct sl_txn;
struct sl_upconn;

/*
 * What an exchange asks of its codec. Each may end the stream (close,
 * reset, done; flush and resume through what they do): afterwards the
 * exchange checks that s->txn is still itself before it goes on.
 */
struct sl_seam_ops {
	/* Writes the exchange's output now (sl_exchange_output). Returns -1
	 * when the stream was closed. */
	int (*flush)(struct sl_seam *s);
	/* Turns waiting for room to write on or off. */
	void (*want_write)(struct sl_seam *s, int on);
	/* An event the exchange waited for came (an upstream's, a timer, a
	 * lease, a place in a queue): the codec carries on (pumps). */
	void (*resume)(struct sl_seam *s);
	/* Closes now; reason is static. */
	void (*close)(struct sl_seam *s, const char *reason);
	/* Closes with a reset: a response cut in the middle must not look
	 * complete to the client, even a close-delimited one. */
	void (*reset)(struct sl_seam *s, const char *reason);
	/* The exchange is over and freed (s->txn is NULL): the codec goes
	 * on with the next request, or ends the connection (close set: the
	 * exchange asks for it; linger: with a lingering close). why is the
	 * close reason, static. */
	void (*done)(struct sl_seam *s, const char *why, int close, int linger);
	/* Response bytes written but not yet taken by the client (still in
	 * the kernel's send queue, or the codec's). */
	int (*unacked)(struct sl_seam *s);
	/* Bytes a write is sure to take whole now, 0 when the exchange
	 * should wait for room instead (the transport's send_room, xprt.h). */
	size_t (*send_room)(struct sl_seam *s);
	/* The TLS version's name ("TLSv1.3"), "" on a plain connection. */
	const char *(*tls_version)(struct sl_seam *s);
	/* The upstream switched protocols (a 101 the exchange checked): the
	 * codec takes u and the exchange (s->txn, kept for the access log
	 * line at the tunnel's end; s->txn is NULL afterwards) and moves
	 * bytes both ways (doc/websocket.md). ws: the protocol is WebSocket
	 * (close frames may be sent at the end). Returns -1 when it could
	 * not: the exchange still has both. NULL: the codec has no tunnels
	 * (HTTP/2), and a request never asks for one. */
	int (*tunnel)(struct sl_seam *s, struct sl_upconn *u, int ws);
	/* The socket a request body may be spliced from: a plain TCP
	 * connection's descriptor, -1 when its bytes must pass through
	 * sluice (TLS, a memory end). NULL: never (HTTP/2). */
	int (*splice_fd)(struct sl_seam *s);
	/* The request head the codec built as fields (doc/design-notes.md,
	 * "The structured head"), in_ready's head_len bytes at in.off:
	 * fills req (its headers array and max_headers are the caller's,
	 * slices point into `in`) and applies sl_h1_request_check with lim.
	 * Returns as sl_h1_parse_request; *text_len gets the head's size
	 * as HTTP/1.1 text (the access log's bytes in, what a refused
	 * head's log lines read). NULL: the head is HTTP/1.1 text, parsed
	 * by the exchange (HTTP/1). */
	int (*head)(struct sl_seam *s, struct sl_h1_request *req,
		    const struct sl_h1_limits *lim, size_t *text_len);
	/* Writes a response head the exchange hands over as fields (struct
	 * sl_h1_head, h1_msg.h: an upstream's rewritten for the client, an
	 * interim one, 100 Continue, or a local answer with its body) into
	 * out (cap bytes) in the codec's own form: HTTP/1.1 text, whose
	 * status line, connection fields and chunked coding are the codec's
	 * (client_h1.c, sl_h1_write_head), or a head block (hblock.h) that
	 * HTTP/2 and HTTP/3 turn into HEADERS (sl_h1_block_head). The body of
	 * a final head comes as pieces or of a length, never as chunked
	 * text. Returns the bytes written, the head's in *head_len (a local
	 * answer's body follows it), or -1 when they do not fit. */
	long (*write_head)(struct sl_seam *s, const struct sl_h1_head *h,
			   char *out, size_t cap, size_t *head_len);
	/* The response's trailers as a field block (hblock.h, status 0),
	 * when its body came as pieces (SL_H1_BODY_STREAM): handed over as
	 * the upstream's message ends, before the exchange can end; the
	 * codec copies what it keeps and sends them after the body (an
	 * HTTP/1.1 client's in the last chunk, an HTTP/1.0 client's not at
	 * all). Returns 0, or -1 (no memory). NULL: the codec sends none. */
	int (*trailers)(struct sl_seam *s, const char *block);
	/* The request's trailers as a field block (hblock.h, status 0),
	 * once its body of pieces (SL_H1_BODY_STREAM) ended (the stream's
	 * end, SL_SEAM_F_EOF, or SL_SEAM_F_BODY_END): valid while the stream
	 * lasts. NULL: none came. */
	const char *(*req_trailers)(struct sl_seam *s);
	/* The request head said Transfer-Encoding: chunked (HTTP/1.1): the
	 * codec decodes the body from in_ready on, as it reads, and hands it
	 * over as pieces (SL_H1_BODY_STREAM): payload only in `in`, its end
	 * SL_SEAM_F_BODY_END, its trailers by req_trailers; malformed
	 * framing, or a body past l->max_body, ends it refused
	 * (SL_SEAM_F_BODY_BAD; req_refusal says how) (doc/design-notes.md,
	 * "HTTP/1.1 as a codec of fields"). Returns 0, or -1 (no memory).
	 * NULL: the codec's heads never say chunked (HTTP/2, HTTP/3). */
	int (*req_dechunk)(struct sl_seam *s, const struct sl_seam_dechunk *l);
	/* With SL_SEAM_F_BODY_BAD: the status the body is refused with
	 * (400, 413; 503: no memory), *why its reason (enum sl_h1_reason). */
	int (*req_refusal)(struct sl_seam *s, int *why);
};

/* write_head as a head block (hblock.h): HTTP/2's and HTTP/3's. */
long sl_seam_block_head(struct sl_seam *s, const struct sl_h1_head *h,
			char *out, size_t cap, size_t *head_len);

/* What a codec's decoder of a chunked request body enforces
 * (req_dechunk): the exchange's bounds. */
struct sl_seam_dechunk {
	uint64_t max_body;	  /* the route's max_body_bytes (0: none),
				     the announced chunk size counted at once */
	size_t max_trailer_bytes; /* the trailer section, as text */
	size_t max_trailers;	  /* its field lines */
	const char *own;	  /* a field name sluice sets (NULL: none),
				     refused in trailers */
};

/*
 * The stream's flags the exchange reads; the codec keeps its own bits in
 * the same word (client_int.h's C_F_*). The response buffer's size class
 * is the connection's (sl_seam_rbuf_size), kept here too.
 */
#define SL_SEAM_F_READING 0x01 /* the codec reads: body bytes may come */
#define SL_SEAM_F_WBLOCK  0x02 /* a write would block: it waits for room */
#define SL_SEAM_F_EOF	  0x04 /* the client shut its write side */
/* the connection ends after this exchange (its listener left the
 * configuration) */
#define SL_SEAM_F_RETIRED 0x08
#define SL_SEAM_F_TLS	  0x8000 /* the connection is TLS (https) */
/* HTTP/2 extended CONNECT for WebSocket (RFC 8441, doc/websocket.md): the
 * codec wrote the request as an HTTP/1.1 upgrade; its body is the tunnel's
 * bytes, raw, until the stream's end (SL_SEAM_F_EOF) */
#define SL_SEAM_F_XCONNECT 0x20000
/* HTTP/2: a gRPC call (content-type application/grpc, doc/grpc.md):
 * sluice's own errors become gRPC statuses, grpc_timeout_ms (when not 0)
 * shortens the route's deadline */
#define SL_SEAM_F_GRPC 0x40000
/* the request body goes by splice(2) from the codec's socket
 * (splice_fd): the codec reads it with sl_exchange_splice_read, not
 * into `in` (exchange_req.c) */
#define SL_SEAM_F_SPLICE 0x400000
/* a body the codec decodes (req_dechunk) ended: all of it is in `in` up
 * to in.len, or it was refused (with SL_SEAM_F_BODY_BAD: req_refusal) */
#define SL_SEAM_F_BODY_END 0x100000
#define SL_SEAM_F_BODY_BAD 0x200000
/* the codec frames the response's body itself (HTTP/1.1's chunked
 * coding of a body of pieces) and has framing left to write: the
 * exchange is not over before it went */
#define SL_SEAM_F_FRAMING 0x4000000
/* TLS: the client presented a certificate that verified (whether or not a
 * listener key asked for its subject): a credential its browser sends by
 * itself, for compression's BREACH rule (exchange_zip.c) */
#define SL_SEAM_F_PEER_CERT 0x1000000
/* the stream is an HTTP/3 request stream (h3_stream.c): its logs say
 * HTTP/3, its counts are the protocol's own (stream_id may be 0) */
#define SL_SEAM_F_H3 0x2000000
/* The client's protocol as the counts index it: 0 HTTP/1.x, 1 HTTP/2,
 * 2 HTTP/3. */
#define SL_SEAM_PROTO(s)                                                       \
	((s)->flags & SL_SEAM_F_H3 ? 2 : (s)->stream_id != 0 ? 1 : 0)
/* the client took SL_RBUF_PROOF bytes since its last slow stall */
#define SL_SEAM_F_RBUF_PROVEN 0x80
/* the size class of the response buffer this client has earned: 8 KiB <<
 * class bytes, at most buffer_bytes (sl_seam_rbuf_size) */
#define SL_SEAM_F_RBUF_SHIFT 8
#define SL_SEAM_F_RBUF_MASK  (0xfu << SL_SEAM_F_RBUF_SHIFT)

/* What an exchange's output says to its codec (sl_exchange_output). */
/* more response bytes already wait: a MSG_MORE hint */
#define SL_EXCHANGE_OUT_MORE 1
/* the last bytes: the connection closes after them (hold them back for
 * the FIN) */
#define SL_EXCHANGE_OUT_LAST 2
/* the first iovec is the exchange's own bytes (heads, a local answer);
 * the rest is a body's payload */
#define SL_EXCHANGE_OUT_OWN 4

/* A PROXY header that named the client (doc/edge.md section 2). */
struct sl_client_pp {
	struct sockaddr_in6 via; /* the TCP peer: the balancer */
	int via_shown;		 /* via's address is not the client's: the
				    logs show it */
	size_t authority_len;	 /* bytes of authority; 0: none */
	char authority[];	 /* TLV 0x02 as sent, NUL-terminated */
};

/* Embedded in every client connection, idle ones too: its size counts
 * against an idle connection's budget (client_codec.h, SL_CLIENT_CHUNK). */
struct sl_seam {
	const struct sl_seam_ops *ops;
	struct sl_txn *txn;  /* the exchange it carries, or NULL */
	struct sl_worker *w; /* borrowed, as the rest */
	struct sl_wgen *gen; /* generation of the current or last request
				(the connection holds one reference) */
	const struct sl_conf_listener *lconf; /* its limits are the
						 budgets */
	unsigned flags;			      /* SL_SEAM_F_*, and the
						 codec's */
	uint32_t in_ready;	  /* in: end of the request bytes checked */
	struct sl_buf in;	  /* request bytes: the head at in.off when an
				     exchange starts, then its body */
	uint64_t id;		  /* the connection's, for log lines */
	const char *close_reason; /* why the connection closed, once it
				     did */
	char *tls_subject;	  /* the verified client certificate's
				     subject, when the listener forwards it */
	struct sl_client_pp *pp;  /* what a PROXY header said, when it named
				     a client, or NULL */
	struct sockaddr_in6 peer; /* the client: the TCP peer, or the source
				     a PROXY header named; large enough for
				     AF_INET too */
	uint32_t nrequests;	  /* exchanges the connection finished */
	uint32_t stream_id;	  /* HTTP/2: the stream's id; 0 on HTTP/1 */
	uint32_t grpc_timeout_ms; /* SL_SEAM_F_GRPC: its grpc-timeout, 0:
				     none */
};

/* The time of the event being handled (see sl_now_refresh). */
static inline uint64_t
now_ms(void)
{
	return sl_now_cached();
}

/* Bytes of a buffer for sl_seam_peer_str. */
#define SL_PEER_MAX 128

/*
 * "ADDR:PORT" of the client for log lines ("peer="): fwd when it is not
 * NULL (the client a trusted proxy named: its address, no port), else the
 * connection's; " via=ADDR:PORT" follows with the TCP peer when that is
 * another address (a PROXY header or a trusted proxy named the client).
 * Returns buf.
 */
const char *sl_seam_peer_str(const struct sl_seam *s, const struct sl_ip *fwd,
			     char *buf, size_t n);

/* The TCP peer's address (no port) for a log line when it is not the
 * client's, client (the request's: the connection's, or the one a trusted
 * proxy named); in buf (46 bytes do); NULL when it is the client. */
const char *sl_seam_via(const struct sl_seam *s, int fwd,
			const struct sl_ip *client, char *buf, size_t n);

/*
 * The response buffer earns its size, as the kernel's send buffer does
 * (client.c, client_sndbuf_grow). Upstream bytes wait in user space only
 * until the client takes them, so the buffer only needs to be as large as
 * what the client drains between two of sluice's turns. It starts at
 * 8 KiB, which holds a head and a small body, and doubles up to
 * buffer_bytes each time the client shows it drains fast: a stalled write
 * that could go on within SNDBUF_FAST_MS, or a read that filled the buffer
 * once the client took SL_RBUF_PROOF bytes without a slow stall (more than
 * the kernel buffers of a client that does not read can hold:
 * SL_SEAM_F_RBUF_PROVEN). A slow stall sends it back to 8 KiB: a slow
 * reader holds that much, not buffer_bytes. The size changes when the
 * buffer is empty (or full, to grow); the class is the connection's, so a
 * keep-alive client keeps what it earned.
 */
#define SL_RBUF_MIN_SHIFT 13 /* 8 KiB */
/* a stalled write that can go on within this long: the client drains
 * fast (client.c's SO_SNDBUF follows the same verdict) */
#define SL_RBUF_FAST_MS 100
#define SL_RBUF_PROOF	((uint64_t)256 << 10)

static inline unsigned
sl_seam_rbuf_class(const struct sl_seam *s)
{
	return (s->flags & SL_SEAM_F_RBUF_MASK) >> SL_SEAM_F_RBUF_SHIFT;
}

static inline size_t
sl_seam_rbuf_size(const struct sl_seam *s)
{
	uint64_t size = (uint64_t)1
			<< (SL_RBUF_MIN_SHIFT + sl_seam_rbuf_class(s));

	return (size_t)SL_MIN(size, s->lconf->limits.buffer_bytes);
}

/* One class up (as far as buffer_bytes), or back to the first. */
static inline void
sl_seam_rbuf_set(struct sl_seam *s, int up)
{
	unsigned cls = sl_seam_rbuf_class(s);

	if (!up) {
		cls = 0;
		s->flags &= ~SL_SEAM_F_RBUF_PROVEN;
	} else if (((uint64_t)1 << (SL_RBUF_MIN_SHIFT + cls)) <
		       s->lconf->limits.buffer_bytes &&
		   cls < (SL_SEAM_F_RBUF_MASK >> SL_SEAM_F_RBUF_SHIFT))
		cls++;
	s->flags =
	    (s->flags & ~SL_SEAM_F_RBUF_MASK) | (cls << SL_SEAM_F_RBUF_SHIFT);
}

#endif
