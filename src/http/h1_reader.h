/* SPDX-License-Identifier: MIT */
/*
 * One incremental reader of an upstream's response (issue 62, item 2):
 * the head scan, its parse, the interim (1xx) heads, and the body's
 * framing (a length, chunked, to the connection's end, or pieces that end
 * with the message's mark), in one place for every reader of an answer
 * but the exchange's own (doc/design-notes.md, "one reader of upstream
 * responses"). Pure: no I/O, no malloc; the bytes are the caller's.
 * sl_upstream_read_response (upstream.h) is the same reader on an
 * upstream connection's buffer, reading it as it needs.
 *
 * The contract. The caller hands the reader the bytes it holds, from the
 * first one not yet dropped (buf, len), each time more came or the last
 * event was handled, and drops ev->used bytes from the front before the
 * next call, whatever the event (an event's slices point into buf until
 * then; sl_upstream_read_response drops them itself). Each call returns
 * one event:
 *
 *   MORE       more bytes are needed (ev->used may still be framing or
 *              skipped interim heads to drop). Never at the input's end.
 *   INTERIM    a 1xx head, with SL_H1_RD_F_INTERIM only (else skipped):
 *              ev->resp, ev->head and ev->head_len. 101 is one.
 *   HEAD       the final head: ev->resp (its fields point into buf, in
 *              the headers array given to init), ev->head, ev->head_len.
 *              A response to HEAD, a 204 and a 304 have no body.
 *   DATA       body bytes: ev->data, ev->len. A chunked body's come
 *              framed as they came (the chunk sizes, the trailer section:
 *              ev->data is buf, ev->len ev->used), or, with
 *              SL_H1_RD_F_PAYLOAD, its payload alone moved to the front
 *              of buf (buf is written). None with SL_H1_RD_F_DROP: the
 *              body's bytes are dropped as they come. The bytes read
 *              before a failure or a cut in the same input come as DATA
 *              first, and the failure at the next call: the events are
 *              the same whatever pieces the bytes came in.
 *   END        the message is whole: ev->data, ev->len its last bytes
 *              (as DATA's); ev->reusable when the connection may carry
 *              another request (sl_h1_persists, no close-delimited body,
 *              not a codec's stream, nothing after the message in buf,
 *              not the input's end). r->resp.status is the final head's.
 *              Its trailers: in a chunked body's framed bytes (the
 *              decoder checked them, sl_h1_trailer_forbidden included);
 *              a codec's pieces' are the codec's (sl_upstream_trailers).
 *   BAD_HEAD   a head that breaks a rule (ev->why): the scan's, the
 *              parse's, a head block's, or max_header_bytes without the
 *              head's end (SL_H1_R_HEAD_TOO_LARGE).
 *   BAD_BODY   a chunked body's framing broke a rule (ev->why).
 *   CLOSED     the input ended before the final head.
 *   TRUNCATED  the input ended inside the body.
 *   FAILED     (sl_upstream_read_response's) the connection's read
 *              failed: ev->err is its errno.
 *
 * After END or a failure the reader returns it again, taking nothing.
 * in (SL_H1_RD_IN_*) says what the caller knows of the input: its end
 * (no byte will follow buf: a body to the connection's end ends, any
 * other is cut), the codec's mark of the message's end (an HTTP/2
 * stream's END_STREAM, every byte of it in buf), and that the bytes are
 * a codec's (an HTTP/2 upstream's): a head may then be a head block
 * (hblock.h, sl_h1_block_response), which an HTTP/1.1 peer's bytes never
 * are.
 */
#ifndef SL_H1_READER_H
#define SL_H1_READER_H

#include <stddef.h>
#include <stdint.h>

#include "h1_parse.h"

enum sl_h1_rd_ev {
	SL_H1_RD_MORE = 0,
	SL_H1_RD_INTERIM,
	SL_H1_RD_HEAD,
	SL_H1_RD_DATA,
	SL_H1_RD_END,
	/* the failures, from here on (sl_h1_rd_failure names them) */
	SL_H1_RD_BAD_HEAD,
	SL_H1_RD_BAD_BODY,
	SL_H1_RD_CLOSED,
	SL_H1_RD_TRUNCATED,
	SL_H1_RD_FAILED,
};

/* The reader's settings (init's flags; r->flags may change after HEAD,
 * before the body's first bytes). */
#define SL_H1_RD_F_INTERIM 0x01 /* 1xx heads are events, not skipped */
#define SL_H1_RD_F_DROP	   0x02 /* body bytes dropped, never DATA */
#define SL_H1_RD_F_PAYLOAD 0x04 /* a chunked body's payload, not framed */

/* Where a reader is (r->state). */
enum sl_h1_rd_state {
	SL_H1_RD_ST_HEAD = 0, /* the final head is not read yet */
	SL_H1_RD_ST_BODY,     /* the body (none: SL_H1_BODY_NONE) */
	SL_H1_RD_ST_DONE,     /* END was returned */
	SL_H1_RD_ST_FAILED,
};

/* What the caller knows of its input (next's in). */
#define SL_H1_RD_IN_EOF	  0x01 /* no byte follows buf */
#define SL_H1_RD_IN_ENDED 0x02 /* the codec marked the message's end */
#define SL_H1_RD_IN_CODEC 0x04 /* a codec's bytes: heads may be blocks */

struct sl_h1_reader {
	struct sl_h1_limits lim;   /* the head's (max_uri_bytes unused);
				      max_header_bytes bounds the trailer
				      section too */
	size_t max_trailers;	   /* a chunked body's trailer fields, at
				      most (0: no bound) */
	struct sl_h1_header *hdrs; /* the caller's array for a head's fields */
	size_t max_hdrs;
	enum sl_h1_method method; /* the request's: HEAD has no body */
	unsigned flags;		  /* SL_H1_RD_F_* */
	uint8_t state;		  /* enum sl_h1_rd_state */
	uint8_t persists;	  /* the final head lets the connection go on */
	uint8_t eof;		 /* sl_upstream_read_response's: read its end */
	uint32_t held;		 /* sl_upstream_read_response's: bytes of the
				    last event, dropped at the next call */
	enum sl_h1_rd_ev failed; /* the failure, once failed */
	enum sl_h1_reason why;	 /* its rule */
	enum sl_h1_body body;	 /* the final head's framing */
	uint64_t remaining;	 /* SL_H1_BODY_LENGTH: bytes to come */
	struct sl_h1_scan scan;
	struct sl_h1_chunked chunked;
	struct sl_h1_response resp; /* the last head (status stays valid) */
};

struct sl_h1_rd_event {
	size_t used; /* bytes of buf to drop before the next call */
	const struct sl_h1_response *resp; /* INTERIM, HEAD (and END: its
					      status) */
	const char *head; /* INTERIM, HEAD: the head's bytes in buf */
	size_t head_len;
	char *data; /* DATA, END: body bytes in buf */
	size_t len;
	int reusable;	       /* END */
	int err;	       /* FAILED: errno */
	enum sl_h1_reason why; /* BAD_HEAD, BAD_BODY */
};

/*
 * A reader of a response to a request of method, its head under lim
 * (max_header_bytes, max_headers), its fields into hdrs (max_hdrs of
 * them), with flags.
 */
void sl_h1_reader_init(struct sl_h1_reader *r, const struct sl_h1_limits *lim,
		       struct sl_h1_header *hdrs, size_t max_hdrs,
		       enum sl_h1_method method, unsigned flags);

/*
 * The same reader put inside a body whose head someone else read (the
 * exchange, whose answer the Idempotency-Key store reads on without its
 * client): its framing, the bytes left of a length, the chunked
 * decoder's state (NULL unless chunked). The connection is not reused.
 */
void sl_h1_reader_resume(struct sl_h1_reader *r, enum sl_h1_body body,
			 uint64_t remaining, const struct sl_h1_chunked *c);

/* The next event of the response in buf[0 .. len) (the header's
 * contract). */
enum sl_h1_rd_ev sl_h1_reader_next(struct sl_h1_reader *r, char *buf,
				   size_t len, unsigned in,
				   struct sl_h1_rd_event *ev);

/* A failure's name for logs: "bad_response", "bad_chunk", "closed",
 * "truncated", "read"; NULL for an event that is none. */
const char *sl_h1_rd_failure(enum sl_h1_rd_ev e);

#endif
