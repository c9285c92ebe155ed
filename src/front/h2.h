/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/2 codec of a client connection (doc/http2.md): what the
 * connection calls, through its codec table, once it speaks HTTP/2 (ALPN
 * "h2", or the connection preface on a listener with h2 in its
 * protocols). The connection keeps
 * its socket, transport and place among the worker's connections
 * (client.c); the codec turns its bytes into streams, each one exchange
 * (exchange.h) through the codec seam (seam.h), and writes what they
 * hand it, under the connection's and every stream's budgets.
 */
#ifndef SL_H2_H
#define SL_H2_H

#include <stddef.h>
#include <stdint.h>

struct sl_client;
struct sl_worker;

/* Why the codec refused a frame, a stream or the connection
 * (sluice_http2_refused_total{reason}, doc/http2.md section 5). */
enum sl_h2_refusal {
	SL_H2_R_PROTOCOL = 0,	  /* a frame or request RFC 9113 forbids */
	SL_H2_R_RAPID_RESET,	  /* streams reset faster than they finish */
	SL_H2_R_CONTINUATION,	  /* CONTINUATION frames past the bound */
	SL_H2_R_SETTINGS_FLOOD,	  /* SETTINGS past the frame budget */
	SL_H2_R_PING_FLOOD,	  /* PING past it */
	SL_H2_R_PRIORITY_FLOOD,	  /* PRIORITY past it */
	SL_H2_R_WINDOW_FLOOD,	  /* WINDOW_UPDATE past it */
	SL_H2_R_EMPTY_FRAMES,	  /* empty DATA, CONTINUATION or unknown
				     frames past it */
	SL_H2_R_RESET_FLOOD,	  /* RST_STREAM past it */
	SL_H2_R_HEADER_LIST,	  /* a decoded header list over
				     max_header_list_bytes (431) */
	SL_H2_R_STREAM_IDS,	  /* stream ids near their end: GOAWAY */
	SL_H2_R_ZERO_WINDOW,	  /* a window kept shut past send_timeout */
	SL_H2_R_TOO_MANY_STREAMS, /* over max_concurrent_streams */
	SL_H2_R_HEADER_TIMEOUT,	  /* the preface or a header block past
				     header_timeout */
	SL_H2_R_MISDIRECTED,	  /* an authority the certificate does not
				     cover (421) */
	SL_H2_R_BODY_OVERFLOW,	  /* DATA past a stream's buffer (no
				     memory for it) */
	SL_H2_R_HPACK_BOMB,	  /* a header block decoding to twice
				     max_header_list_bytes: GOAWAY */
	SL_H2_NREFUSALS
};

/* The reason's name in metrics and logs. */
const char *sl_h2_refusal_str(enum sl_h2_refusal r);

/*
 * The connection c speaks HTTP/2 from now on: its bytes read so far (in
 * c->s.in: the connection preface, or more) are the codec's first input,
 * its deadline becomes the codec's, and the connection calls the codec
 * through its table (client_codec.h) from then on. Returns 0, or -1 when
 * c was closed (out of memory). The worker gives it to its connections
 * (client.h, struct sl_client_codecs): client.c does not name it.
 */
int sl_h2_start(struct sl_client *c);

/* HTTP/2's table for a connection in the H2 state (client_codec.h): the
 * worker hands it to client.c (struct sl_client_codecs). */
struct sl_client_codec;
extern const struct sl_client_codec sl_h2_codec;

/* Frees the streams the worker keeps for reuse (worker teardown). */
void sl_h2_worker_free(struct sl_worker *w);

struct sl_seam;
struct sl_h1_request;
struct sl_h1_limits;
/* The stream operation head (seam.h) of any codec whose request head is
 * a block at the stream's in.off (hblock.h, :method and :path first):
 * HTTP/2's, which HTTP/3's shares (h3_stream.c). */
int sl_h2_block_head(struct sl_seam *s, struct sl_h1_request *req,
		     const struct sl_h1_limits *lim, size_t *text_len);

#endif
