/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 message rules above the parser: which fields are hop-by-hop, how
 * a request head is rewritten for the upstream and a response head for the
 * client, and the local error responses. Pure: writes into caller buffers.
 */
#ifndef SL_H1_MSG_H
#define SL_H1_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "h1_parse.h"
#include "hblock.h"
#include "hdrrule.h"

#define SL_REQUEST_ID_MAX 64 /* longest client X-Request-Id kept */

/* How the client's X-Forwarded-For and Forwarded fields go upstream
 * (doc/edge.md section 3). */
enum sl_fwd_xff {
	SL_FWD_APPEND = 0, /* passed on, client_ip appended to
			      X-Forwarded-For */
	SL_FWD_STRIP,	   /* both dropped: X-Forwarded-For is client_ip */
	SL_FWD_CUT,	   /* X-Forwarded-For up to the element at cut_off of
			      field cut_hdr (the client's), then client_ip;
			      the fields after that one dropped */
};

/* Fields an edge check sets from what it verified (doc/auth.md): the
 * client's fields named in drop never go upstream, those in set are
 * added with sluice's own. */
#define SL_FWD_EXTRA_MAX 48
/* ... and two more of each kept for tracing's traceparent and tracestate
 * (doc/operations.md section 14), after the checks' */
#define SL_FWD_EXTRA_ROOM (SL_FWD_EXTRA_MAX + 2)
struct sl_fwd_extra {
	uint64_t drop_lens; /* bit len & 63 for each name of drop */
	unsigned ndrop, nset;
	struct {
		const char *name;
		size_t len;
	} drop[SL_FWD_EXTRA_ROOM];
	struct {
		const char *name, *value;
		size_t nlen, vlen;
	} set[SL_FWD_EXTRA_ROOM];
};

/* What the gateway adds to a forwarded request. */
struct sl_fwd {
	const char *client_ip;	  /* appended to X-Forwarded-For */
	const char *proto;	  /* X-Forwarded-Proto value */
	const char *request_id;	  /* X-Request-Id value (NUL-terminated) */
	const char *default_host; /* Host for a request without one (1.0) */
	/* TLS client_subject_header: the field is dropped from what the
	 * client sent, and set to subject when that is not NULL */
	const char *subject_header; /* NULL: none configured */
	const char *subject;
	/* header rules (request_headers:), NULL: none, and the values of
	 * their variables */
	const struct sl_hdr_apply *rules;
	const struct sl_hdr_vars *vars;
	enum sl_fwd_xff xff;
	size_t cut_hdr, cut_off; /* SL_FWD_CUT: index in req->headers, and
				    bytes of its value kept before it */
	/* an upgrade the route allows (doc/websocket.md): the protocol sent
	 * on as "Connection: upgrade" and "Upgrade: <it>"; NULL: none (the
	 * client's Upgrade and Connection are hop-by-hop, dropped) */
	const char *upgrade;
	const struct sl_fwd_extra *extra; /* NULL: none */
	uint64_t extra_lens;		  /* extra's drop_lens, 0: none */
	/* the value of extra's set that mark points to (a traceparent,
	 * rewritten in place for each attempt): where it was written, the
	 * offset of its first byte in the head, into *mark_at (untouched
	 * when it was not written); mark NULL: none */
	const char *mark;
	uint32_t *mark_at;
};

/*
 * 1 when the field is hop-by-hop for a message whose Connection fields are
 * hdrs[0..n) (static list plus the names Connection lists, except
 * Content-Length, Transfer-Encoding and Host, which Connection cannot
 * remove).
 */
int sl_h1_is_hop_by_hop(const struct sl_h1_header *h,
			const struct sl_h1_header *hdrs, size_t n,
			unsigned flags);

/*
 * 1 when v[0..n) may be kept as a request id: 1 to SL_REQUEST_ID_MAX bytes
 * of [A-Za-z0-9._:-].
 */
int sl_h1_request_id_ok(const char *v, size_t n);

/*
 * The client's X-Request-Id if it sent exactly one sane value: copies it to
 * out (size > SL_REQUEST_ID_MAX) and returns 1; else returns 0.
 */
int sl_h1_client_request_id(const struct sl_h1_request *req, char *out);

/*
 * Writes the head to send upstream into out[0..cap): origin-form request
 * line in HTTP/1.1, fields without hop-by-hop ones and Expect, Host from
 * the authority of an absolute-form target, X-Forwarded-For appended,
 * X-Forwarded-Proto and X-Request-Id set, and fwd's header rules applied
 * (the fields they remove or set left out as the head is copied, the
 * fields they set or add written with sluice's own). Returns its length,
 * or -1 when it does not fit.
 */
long sl_h1_write_request_head(char *out, size_t cap,
			      const struct sl_h1_request *req,
			      const struct sl_fwd *fwd);

/*
 * The same head as a head block (hblock.h) for an HTTP/2 upstream
 * (h2up.c): :method and :path first, :authority where Host stands, the
 * body's framing (req->body, req->content_length) in the block's header,
 * and no Transfer-Encoding or upgrade fields. Returns the block's length
 * or -1 when it does not fit.
 */
long sl_h1_block_request_head(char *out, size_t cap,
			      const struct sl_h1_request *req,
			      const struct sl_fwd *fwd);

/*
 * Writes the head to send to the client for an upstream response: fields
 * without hop-by-hop ones (and without Transfer-Encoding when dechunk is
 * set; with "Transfer-Encoding: chunked" for a body of pieces,
 * SL_H1_BODY_STREAM, unless dechunk is set), X-Request-Id, and "Connection:
 * close" when close is set or "Connection: keep-alive" for a persistent
 * HTTP/1.0 client, and extra when not NULL (a field sluice sets: the upstream's
 * fields of that name are dropped), and the header rules when not NULL
 * (response_headers:, as for a request, with vars). Returns its length or -1
 * when it does not fit.
 */
long sl_h1_write_response_head(char *out, size_t cap,
			       const struct sl_h1_response *resp,
			       int client_minor, int close, int dechunk,
			       const char *request_id,
			       const struct sl_h1_header *extra,
			       const struct sl_hdr_apply *rules,
			       const struct sl_hdr_vars *vars);

/*
 * The same head as a head block (hblock.h) for a codec that takes fields
 * (HTTP/2): the status in the block's header with the body's framing
 * (resp->body, resp->content_length), then the fields the text would have
 * but the connection's (Connection, Transfer-Encoding). Returns the
 * block's length or -1 when it does not fit (or a name is longer than
 * 65,535 bytes).
 */
long sl_h1_block_response_head(char *out, size_t cap,
			       const struct sl_h1_response *resp,
			       const char *request_id,
			       const struct sl_h1_header *extra,
			       const struct sl_hdr_apply *rules,
			       const struct sl_hdr_vars *vars);

/* What sl_h1_write_head and sl_h1_block_head write. */
enum sl_h1_hkind {
	SL_H1_H_FINAL,	  /* resp, rewritten for the client */
	SL_H1_H_INTERIM,  /* a 1xx the upstream sent (resp) */
	SL_H1_H_CONTINUE, /* sluice's 100 Continue */
	SL_H1_H_ERROR,	  /* a local answer: status, its JSON body of code */
	SL_H1_H_ANSWER	  /* a local answer with another's body */
};

/* A response head as fields, as an exchange hands it to its client's
 * codec (seam.h, write_head), which writes it in its form. */
struct sl_h1_head {
	uint8_t kind;	   /* enum sl_h1_hkind */
	uint8_t minor;	   /* the client's HTTP/1 minor version */
	uint8_t close;	   /* the connection ends after this answer */
	uint8_t head_only; /* a local answer to HEAD: no body */
	int status;	   /* a local answer's */
	const struct sl_h1_response *resp; /* FINAL, INTERIM: its body a
					      length, none, the close or
					      pieces */
	const char *request_id;		   /* FINAL and local answers */
	const struct sl_h1_header *extra;  /* FINAL: a field sluice sets */
	const struct sl_hdr_apply *rules;  /* response_headers, or NULL */
	const struct sl_hdr_vars *vars;
	const char *code;   /* ERROR: the error code its body names */
	const char *fields; /* local answers: fields of their own, or NULL */
	const char *body;   /* ANSWER: the body, blen bytes */
	size_t blen;
};

/*
 * h as HTTP/1.1 text (a final head's body of pieces said chunked to an
 * HTTP/1.1 client, run to the close for an HTTP/1.0 one: its framing is
 * the codec's) or as a head block. Return as the writers above: the
 * bytes, -1 when they do not fit; *head_len gets the head's (a local
 * answer's body follows it).
 */
long sl_h1_write_head(char *out, size_t cap, const struct sl_h1_head *h,
		      size_t *head_len);
long sl_h1_block_head(char *out, size_t cap, const struct sl_h1_head *h,
		      size_t *head_len);

/* An interim (1xx) head as a block, as sl_h1_write_interim_head writes
 * it as text. */
long sl_h1_block_interim_head(char *out, size_t cap,
			      const struct sl_h1_response *resp);

/* A block of a status and no field (100 Continue). */
long sl_h1_block_status(char *out, size_t cap, int status);

/*
 * "HTTP/1.1 NNN reason\r\n" for a status of three digits into out (cap
 * bytes). Returns its length, or -1 when it does not fit.
 */
long sl_h1_status_line(char *out, size_t cap, int status, const char *reason,
		       size_t reason_len);

/* A chunk's size line, "HEX\r\n", into out (18 bytes at most), without
 * snprintf. Returns its length. */
size_t sl_h1_chunk_size_line(char *out, uint64_t n);

/*
 * A body of pieces (SL_H1_BODY_STREAM) framed for an HTTP/1.1 peer: its
 * last chunk and trailer section, "0" CRLF, a "Name: value" line for each
 * field of trailers (a field block, hblock.h; NULL: none) and the final
 * CRLF. sl_h1_last_chunk_len says how many bytes sl_h1_last_chunk writes
 * into out.
 */
size_t sl_h1_last_chunk_len(const char *trailers);
size_t sl_h1_last_chunk(char *out, const char *trailers);

/*
 * The chunked coding's writer, for a body of pieces sent to an HTTP/1.1
 * peer: the HTTP/1.1 client codec's responses (client_h1.c) and the
 * upstream writer's requests (upstream.c) both frame through it. Each call
 * frames the payload the caller has at hand: it opens a chunk for all of
 * it (a size line, the payload in place, its CRLF) when none is open, and
 * with the body's end queues the last chunk after it. Pure: the payload
 * stays the caller's until it went, and so does a last chunk with
 * trailers, which the caller writes (sl_h1_last_chunk); without, the
 * chunker's own line holds it.
 */
struct sl_h1_chunker {
	uint32_t fx_len;     /* bytes at fx still to write */
	uint32_t lx_len;     /* bytes at lx still to write */
	uint64_t left;	     /* payload bytes of the open chunk to write */
	uint64_t offered;    /* of them, in the last sl_h1_chunker_iov */
	uint8_t tail;	     /* bytes of the chunk's CRLF still to write */
	uint8_t last_queued; /* the last chunk is at fx or lx, or went */
	const char *fx;	     /* a size line or the last chunk */
	const char *lx;	     /* the last chunk, after the open one */
	char line[24];	     /* a size line (18 bytes at most), and "0"
				CRLF CRLF after it */
};

/* The iovecs sl_h1_chunker_iov writes, at most. */
#define SL_H1_CHUNKER_IOV 4

/*
 * Frames n payload bytes at p (at least the open chunk's rest, when one
 * is open) and, when end is set (no payload follows these), the body's
 * end into iov: last (last_len bytes, the caller's until it went), or
 * "0" CRLF CRLF when it is NULL. Returns the iovecs' count: 0 when there
 * is nothing to write.
 */
int sl_h1_chunker_iov(struct sl_h1_chunker *ck, const char *p, size_t n,
		      int end, const char *last, size_t last_len,
		      struct iovec *iov);

/* w bytes of the last sl_h1_chunker_iov's went. Returns how many of them
 * were payload; *ended is set once the last chunk went whole, and the
 * chunker is then fresh for another body. */
size_t sl_h1_chunker_sent(struct sl_h1_chunker *ck, size_t w, int *ended);

/* Whether framing that was offered is still to write (cut short). */
static inline int
sl_h1_chunker_open(const struct sl_h1_chunker *ck)
{
	return ck->fx_len > 0 || ck->left > 0 || ck->tail > 0 || ck->lx_len > 0;
}

/*
 * Writes an interim (1xx) response head to pass on to an HTTP/1.1 client:
 * the status line and the fields without hop-by-hop ones; no field of
 * sluice's own. Returns its length or -1 when it does not fit.
 */
long sl_h1_write_interim_head(char *out, size_t cap,
			      const struct sl_h1_response *resp);

/* Reason phrase of a status the gateway generates ("" if unknown). */
const char *sl_h1_reason(int status);

/*
 * An HTTP/2 upstream's response head as a head block (hblock.h; its first
 * byte SL_HBLK_MARK) at p, avail bytes, into resp (its headers and
 * max_headers set), as sl_h1_parse_response reads text, under
 * max_header_bytes counted as the text would be (a body of no length is
 * one of pieces, SL_H1_BODY_STREAM, which the HTTP/1.1 writer frames).
 * Returns the block's length,
 * 0 while it is not all in, -1 when it is bad (resp->why says why). Used
 * by the exchange and by the Idempotency-Key store's orphan reader.
 */
long sl_h1_block_response(const char *p, size_t avail, size_t max_header_bytes,
			  struct sl_h1_response *resp);

/*
 * Writes a complete local error response: JSON body
 * {"error":CODE,"status":N,"request_id":ID}, Content-Type, Content-Length,
 * X-Request-Id, "Connection: close" when close, "Allow" for 405,
 * "Retry-After" for 503, "Connection: keep-alive" for a persistent
 * HTTP/1.0 client (client_minor 0), and the fields the header rules set
 * or add when rules is not NULL (not those the answer has of its own:
 * Content-Type, Allow, Retry-After; nothing is removed). head_only leaves
 * the body out (HEAD). Returns the length or -1 when it does not fit.
 */
long sl_h1_write_error(char *out, size_t cap, int status, const char *code,
		       const char *request_id, int close, int head_only,
		       int client_minor, const struct sl_hdr_apply *rules,
		       const struct sl_hdr_vars *vars);

/*
 * A gRPC call's answer in place of an HTTP error (doc/grpc.md): a
 * trailers-only response, 200 with Content-Type application/grpc,
 * Grpc-Status grpc_status and Grpc-Message message (already
 * percent-encoded), X-Request-Id, Content-Length 0 (the codec ends the
 * stream with its HEADERS), then fields and the rules' fields as
 * sl_h1_write_error_fields writes them. Returns the length or -1 when it
 * does not fit.
 */
long sl_h1_write_grpc_error(char *out, size_t cap, int grpc_status,
			    const char *message, const char *request_id,
			    const char *fields,
			    const struct sl_hdr_apply *rules,
			    const struct sl_hdr_vars *vars);

/* The same with fields (each line ending in CRLF; NULL: none) in place of
 * the default Retry-After: a rate limit's 429 and 503 (rlcheck.c). */
long sl_h1_write_error_fields(char *out, size_t cap, int status,
			      const char *code, const char *request_id,
			      int close, int head_only, int client_minor,
			      const char *fields,
			      const struct sl_hdr_apply *rules,
			      const struct sl_hdr_vars *vars);

/*
 * An answer with another's body (an authorization service's denial,
 * doc/auth.md): as sl_h1_write_error_fields, with body (blen bytes) in
 * place of the JSON one and no Content-Type of sluice's (fields carry the
 * one that goes with the body). The block form is sl_h1_block_answer.
 */
long sl_h1_write_answer(char *out, size_t cap, int status,
			const char *request_id, int close, int head_only,
			int client_minor, const char *fields, const char *body,
			size_t blen, const struct sl_hdr_apply *rules,
			const struct sl_hdr_vars *vars);
long sl_h1_block_answer(char *out, size_t cap, int status,
			const char *request_id, int head_only,
			const char *fields, const char *body, size_t blen,
			const struct sl_hdr_apply *rules,
			const struct sl_hdr_vars *vars);

/*
 * sl_h1_write_error_fields and sl_h1_write_grpc_error as a head block
 * followed by the body (after the block, as after the text's blank line;
 * none with head_only): the fields are the text's but the connection's.
 * Returns the whole length or -1 when it does not fit.
 */
long sl_h1_block_error_fields(char *out, size_t cap, int status,
			      const char *code, const char *request_id,
			      int head_only, const char *fields,
			      const struct sl_hdr_apply *rules,
			      const struct sl_hdr_vars *vars);
long sl_h1_block_grpc_error(char *out, size_t cap, int grpc_status,
			    const char *message, const char *request_id,
			    const char *fields,
			    const struct sl_hdr_apply *rules,
			    const struct sl_hdr_vars *vars);

/* 1 when the comma-separated list v[0..len) has the token tok (no case,
 * optional white space around the elements). */
int sl_h1_list_has(const char *v, size_t len, const char *tok);

/* The first field named name in h[0..n) (no case), or NULL; *count says
 * how many there are. */
const struct sl_h1_header *sl_h1_find(const struct sl_h1_header *h, size_t n,
				      const char *name, int *count);

#endif
