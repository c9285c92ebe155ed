/* SPDX-License-Identifier: MIT */
/*
 * Private to h3*.c, the client side's HTTP/3 codec (doc/http3.md): the
 * endpoint's, the connections' and the streams' structs. h3.c (a worker's
 * endpoints on their UDP sockets, the connections, their control and
 * QPACK streams, the runs) calls h3_stream.c (the request streams: their
 * frames, their heads into blocks, their exchanges, the answers), which
 * never calls h3.c: what a stream asks of its connection (a run, a
 * connection error) is h3_stream.c's too. No other file includes this
 * one.
 */
#ifndef SL_H3_INT_H
#define SL_H3_INT_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "h3.h"
#include "h3frame.h"
#include "qend.h"
#include "qpack.h"
#include "seam.h"

struct sl_qconn;
struct sl_h3conn;

/* A request stream's place in its life (as HTTP/2's). */
enum h3s_state {
	H3S_HEAD,  /* its HEADERS are being read; no exchange */
	H3S_READY, /* the head is whole: its exchange starts at the run */
	H3S_BUSY,  /* s.txn != NULL */
	H3S_DONE,  /* the exchange is over: the answer's end follows */
	H3S_CLOSED /* freed at the end of the run */
};

enum h3s_body { H3B_NONE, H3B_LENGTH, H3B_UNTIL_END };

/* A stream's facts (st->f). */
#define T_CL	    0x0001 /* the request has a content-length */
#define T_PIECES    0x0002 /* its body, of no length, goes as pieces */
#define T_IN_END    0x0004 /* its FIN came: the request is whole */
#define T_HEAD_OUT  0x0008 /* the final response head went */
#define T_OUT_END   0x0010 /* the response's FIN went */
#define T_DIRTY	    0x0020 /* on the connection's dirty list */
#define T_HEAD_REQ  0x0040 /* a HEAD request: no response body */
#define T_TOO_LARGE 0x0080 /* a field section past the limit: a 431 */
#define T_RESET	    0x0100 /* reset (by either side): nothing more goes */
#define T_DISCARD   0x0200 /* its body is no longer wanted */
#define T_WANT	    0x0400 /* the exchange waits for room */
#define T_SKIP	    0x0800 /* the frame being read is skipped */
#define T_AUTHORITY 0x1000 /* :authority came */
#define T_MISDIRECT 0x2000 /* an authority the certificate does not cover */
/* QUIC closed the stream (both ways): its struct may go once the codec
 * is done with it too; until then its id stays known, so that bytes still
 * coming for it are dropped, not taken for a new request */
#define T_QCLOSED 0x4000

/* The bytes of a response a stream keeps queued and not yet acknowledged
 * at most: past them the exchange waits (send_room 0). */
#define H3_STREAM_OUT_MAX (256 * 1024)

struct sl_h3stream {
	struct sl_seam s; /* what its exchange sees (first member) */
	struct sl_h3conn *h;
	TAILQ_ENTRY(sl_h3stream) link;
	struct sl_h3stream *next; /* on h->dirty */
	int64_t id;
	uint8_t state; /* enum h3s_state */
	uint8_t body;  /* enum h3s_body */
	uint8_t msg;   /* the frames' order (sl_h3f_message_next) */
	uint8_t pseudo;
	uint32_t f;		 /* T_* */
	struct sl_h3f_reader rd; /* the frame header being read */
	uint64_t left;		 /* the frame's payload bytes still to come */
	struct sl_buf sec;	 /* a HEADERS frame's payload, gathered */
	uint64_t start_ms;
	uint64_t req_cl, req_in, resp_left;
	uint32_t head_len;
	uint32_t unconsumed; /* body bytes not yet credited back */
	uint32_t taken;	     /* in.off + held at the last give-back */
	uint32_t nrec, text_len;
	const char *bad; /* why the head is malformed */
	/* the pseudo-fields' values and the cookie, in scratch */
	struct sl_buf scratch;
	uint32_t m_off, m_len, p_off, p_len, a_off, a_len, ck_off, ck_len;
	char *rtrl;	 /* the request's trailers, a field block */
	char *trl_block; /* the response's trailers (malloc'd) */
};

TAILQ_HEAD(sl_h3stream_q, sl_h3stream);

/* A client's unidirectional stream (control, QPACK's, or unknown). */
struct h3_uni {
	int64_t id;
	int type; /* -1: its type is still being read */
	uint8_t tbuf[8], tgot;
	struct sl_h3f_reader rd;
	uint64_t left;
	uint8_t skip, first;
	uint8_t fbuf[64]; /* a control frame's payload */
	uint32_t fgot;
	struct sl_qpack_dstream ds;
};

#define H3_UNI_MAX 6

/* The connection's flags (h->f). */
#define H3C_CONTROL  0x01 /* our control stream and SETTINGS went */
#define H3C_SETTINGS 0x02 /* the client's SETTINGS came */
#define H3C_GOAWAY   0x04 /* our GOAWAY went: no new request */
#define H3C_DEAD     0x08 /* ended: freed at the end of the run */
#define H3C_FLUSH    0x10 /* output queued outside a read */
#define H3C_ON_LIST  0x20 /* on the endpoint's run list */

struct sl_h3ep;

struct sl_h3conn {
	struct sl_h3ep *ep;
	struct sl_qconn *qc;	       /* NULL once ended */
	TAILQ_ENTRY(sl_h3conn) link;   /* in ep->conns */
	struct sl_h3conn *run_next;    /* on ep->run */
	struct sl_h3stream_q streams;  /* every stream not freed */
	struct sl_h3stream *dirty;     /* streams to pump */
	struct sl_h3stream *reap;      /* closed, freed at the run's end */
	struct h3_uni uni[H3_UNI_MAX]; /* the client's */
	uint64_t id;		       /* for log lines */
	uint64_t start_ms;
	int64_t calm;	  /* frames that carry no request left */
	uint64_t calm_ms; /* its last refill; 0: not yet spent */
	uint32_t resets;  /* requests cancelled, less those finished */
	int64_t max_seen; /* the largest request stream id opened */
	int64_t ctrl_id;  /* our control stream, -1 before it */
	unsigned nopen;	  /* streams HEAD to DONE */
	uint32_t f;
	struct sockaddr_in6 peer;
	struct sl_wgen *gen; /* the generation its streams start under */
	/* the verified client certificate's subject, when the listener
	 * forwards it (its streams borrow it), and whether one verified */
	char *tls_subject;
	int peer_cert;
	const struct sl_conf_listener *lconf;
};

/* A worker's endpoint on one http3 listener's UDP socket. */
struct sl_h3ep {
	struct sl_worker *w;
	struct sl_h3ep *next;		  /* the worker's */
	const struct sl_conf_listener *l; /* in w->gen, or NULL: drains */
	void *lstate;			  /* l->state: its address's */
	int fd;
	int draining; /* the worker drains, or retired */
	int retired;  /* its listener left the generation, or lost http3 */
	struct event rev, tev, run_ev;
	uint64_t tev_ns;	   /* tev's deadline, 0: none */
	uint64_t head_ms;	   /* the streams' next header deadline (ms) */
	struct sl_qend_stats seen; /* the endpoint's counts, as last added
				      to the worker's */
	struct sl_qend *qe;
	TAILQ_HEAD(, sl_h3conn) conns;
	struct sl_h3conn *run; /* connections to run */
	struct sockaddr_storage local;
	socklen_t local_len;
	/* refusals said at info: a few a second, the rest counted */
	uint64_t said_sec;
	unsigned said;
};

/* ---- h3_stream.c --------------------------------------------------------*/

/* Something changed outside a read (an exchange's operation): the
 * connection runs from the loop's active queue. */
void h3_conn_kick(struct sl_h3conn *h);

/* ---- h3_budget.c --------------------------------------------------------*/

/* A refusal of endpoint e's, counted by reason r and said (peer and the
 * stream id when known, id -1 else; why static or copied). */
void h3_refused(struct sl_h3ep *e, const struct sockaddr_in6 *peer,
		enum sl_h3_refusal r, int64_t id, const char *why);
/* A connection error (RFC 9114 section 8): the connection closes with
 * code, refused for r; why is logged. */
void h3_conn_error(struct sl_h3conn *h, uint64_t code, enum sl_h3_refusal r,
		   const char *why);
/* A frame that carries no request (an unknown or reserved one, an empty
 * DATA, an unknown stream) spends the budget: -1 once it is spent (the
 * connection fails, H3_EXCESSIVE_LOAD). h3_calm_earn gives back n. */
int h3_calm_spend(struct sl_h3conn *h, const char *what);
void h3_calm_earn(struct sl_h3conn *h, int n);
/* A request the client cancelled before its answer: -1 once they pass
 * twice max_concurrent_streams more than the requests finished (the
 * connection fails). */
int h3_rapid_reset(struct sl_h3conn *h);

/* A request stream's bytes (fin: its end). Returns 0, or -1 after a
 * connection error. */
int h3_stream_recv(struct sl_h3conn *h, int64_t id, const uint8_t *d, size_t n,
		   int fin);
/* The client reset the stream. */
void h3_stream_reset(struct sl_h3conn *h, int64_t id, uint64_t code);
/* QUIC closed the stream (both ways ended, or reset). */
void h3_stream_closed(struct sl_h3conn *h, int64_t id);
/* Pumps the dirty streams; the closed ones go to h->reap. */
void h3_streams_pump(struct sl_h3conn *h);
/* Frees the closed streams. */
void h3_streams_reap(struct sl_h3conn *h);
/* The connection goes: its streams' exchanges cut, every stream freed. */
void h3_streams_free(struct sl_h3conn *h);
/* The connection ended: every stream's exchange is cut (reason). */
void h3_streams_end(struct sl_h3conn *h, const char *reason);
/* The streams whose HEADERS are not whole within header_timeout are
 * reset (never begun); returns the next such deadline (ms), UINT64_MAX:
 * none. */
uint64_t h3_streams_heads(struct sl_h3conn *h, uint64_t now_ms);
/* Streams that wait for room, now that acknowledgments may have come. */
void h3_streams_writable(struct sl_h3conn *h);

#endif
