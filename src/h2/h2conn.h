/* SPDX-License-Identifier: MIT */
/*
 * One HTTP/2 connection's protocol state, sluice's own (issue 43): the
 * frame reader (frame.h) and HPACK (hpack.h) put together with what RFC
 * 9113 asks of a connection: the streams' states with a memory of the
 * ones recently closed, header blocks joined across CONTINUATION and
 * decoded straight to the caller, SETTINGS applied and acknowledged, PING
 * answered, both directions' windows, WINDOW_UPDATE given back as the
 * caller consumes, GOAWAY. Pure: no I/O, no timer, no allocation but the
 * stream map (made with the first stream, freed with the last) and the
 * HPACK table; output goes to a buffer the caller gives through its
 * handlers. Budgets (floods, rapid reset) are the caller's, which every
 * frame is shown to. The client connections' codec (front/h2.c) and the
 * health checks run on it (doc/design-notes.md, "One connection's
 * state").
 */
#ifndef SL_H2CONN_H
#define SL_H2CONN_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "hpack.h"

/* A stream as the connection keeps it: embedded in the caller's stream
 * struct, which owns it. */
struct sl_h2c_stream {
	uint32_t id;
	uint8_t st;		    /* enum sl_h2f_st */
	uint8_t in_end;		    /* the peer's END_STREAM came */
	int32_t send_win;	    /* bytes sluice may send (may go below
				       0 after a SETTINGS) */
	int32_t recv_win;	    /* bytes the peer may send */
	uint32_t consumed;	    /* bytes the caller consumed, not yet
				       given back by WINDOW_UPDATE */
	struct sl_h2c_stream *next; /* in the map's chain */
};

struct sl_h2c;

/* What the connection asks of and tells its owner. arg is sl_h2c.arg. */
struct sl_h2c_ops {
	/* A stream the peer opens (HEADERS on a new id): the caller's
	 * stream, zeroed but for what it keeps, or NULL to refuse it
	 * (RST_STREAM REFUSED_STREAM; its header block is still decoded). */
	struct sl_h2c_stream *(*stream_open)(void *arg, uint32_t id);
	/* A field of a header block (as sl_hpack_emit_fn); non-zero refuses
	 * the rest of the block. */
	int (*field)(void *arg, struct sl_h2c_stream *s, const char *name,
		     size_t nlen, const char *value, size_t vlen,
		     unsigned flags);
	/* A header block ended: rc is the decoder's (enum sl_hpack_rc, never
	 * SL_HPACK_COMPRESSION), end_stream whether the peer's side is
	 * done. */
	void (*headers)(void *arg, struct sl_h2c_stream *s, int rc,
			int end_stream);
	/* DATA bytes (padding left out), in pieces as they come; end_stream
	 * on the last piece of a frame with END_STREAM. */
	void (*data)(void *arg, struct sl_h2c_stream *s, const uint8_t *p,
		     size_t len, int end_stream);
	/* The stream is closed by a reset: the peer's (sent 0) or sluice's
	 * for a stream error (sent 1), with its code. The connection has
	 * forgotten s when this returns: the caller may free it. */
	void (*reset)(void *arg, struct sl_h2c_stream *s, uint32_t code,
		      int sent);
	/* The peer's GOAWAY. */
	void (*goaway)(void *arg, uint32_t last_id, uint32_t code);
	/* Sending may go on: the connection's window (s NULL) or s's grew. */
	void (*window)(void *arg, struct sl_h2c_stream *s);
	/* Every frame read, before anything else is done with it (type,
	 * flags, stream id, length): for the caller's budgets. Returns 0, or
	 * non-zero to end the connection with ENHANCE_YOUR_CALM. */
	int (*frame)(void *arg, const struct sl_h2f_header *hd);
	/* Room for n bytes of output at the end of the caller's write
	 * buffer, which the connection fills at once; NULL when there is no
	 * memory (the connection then fails with INTERNAL_ERROR). */
	uint8_t *(*out)(void *arg, size_t n);
};

/* What sluice announces in its SETTINGS (sl_h2c_init). */
struct sl_h2c_settings {
	uint32_t header_table;	  /* HPACK table the peer may use (4096) */
	uint32_t max_streams;	  /* concurrent streams the peer may open */
	uint32_t window;	  /* each stream's receive window */
	uint32_t conn_window;	  /* the connection's receive window */
	uint32_t max_frame;	  /* largest frame sluice takes (16384) */
	uint32_t max_header_list; /* advisory (0: not announced) */
	uint8_t connect_proto;	  /* RFC 8441's extended CONNECT */
};

/* How many closed streams a connection remembers (section 5.1: frames on
 * them get the error their way of closing calls for). */
#define SL_H2C_CLOSED_KEPT 16

/*
 * One connection. Owned by its caller (embedded in its connection);
 * sl_h2c_init, then sl_h2c_input for every read; sl_h2c_free at the end.
 */
struct sl_h2c {
	struct sl_h2f_reader rd;
	struct sl_hpack_dec dec;
	const struct sl_h2c_ops *ops;
	void *arg;
	struct sl_h2c_stream **map; /* open streams by id, NULL when none */
	uint32_t map_cap;	    /* chains (a power of 2) */
	uint32_t nstreams;	    /* streams in the map */
	uint32_t last_peer_id;	    /* highest stream id the peer opened */
	uint32_t last_local_id;	    /* highest sluice opened */
	int32_t send_win;	    /* the connection's, bytes */
	int32_t recv_win;
	uint32_t consumed;     /* connection bytes consumed, not given back */
	uint32_t local_window; /* sluice's announced stream window */
	uint32_t local_conn_window; /* and the connection's */
	uint32_t peer_window;	   /* the peer's SETTINGS_INITIAL_WINDOW_SIZE */
	uint32_t peer_max_frame;   /* the peer's SETTINGS_MAX_FRAME_SIZE */
	uint32_t peer_max_streams; /* the peer's MAX_CONCURRENT_STREAMS */
	uint32_t peer_table;	   /* the peer's HEADER_TABLE_SIZE */
	uint32_t max_streams;	   /* sluice's, announced */
	uint32_t err;		   /* the connection error sent, when failed */
	const char *why;	   /* its rule, for logs */
	/* the streams forgotten last: their ids, and their states (enum
	 * sl_h2f_st, a closed one) in an array of their own, 80 bytes where
	 * pairs would take 128 (every connection keeps them) */
	uint32_t closed_id[SL_H2C_CLOSED_KEPT];
	uint8_t closed_st[SL_H2C_CLOSED_KEPT];
	uint32_t closed_at; /* the next slot of closed_id[] */
	/* the header block being joined: HEADERS without END_HEADERS */
	uint8_t *block;	  /* malloc'd while one is open, else NULL */
	size_t block_len; /* bytes */
	size_t block_cap; /* bytes allocated (twice what it held) */
	size_t block_max; /* the most a block may be (its limit) */
	uint32_t block_sid;
	uint8_t block_end_stream;
	uint8_t block_refused; /* its stream was refused or reset */
	uint32_t block_reset;  /* a code to reset its stream with once it is
				  decoded (it depends on itself), or 0 */
	uint8_t is_server;
	uint8_t failed;	     /* a connection error was sent */
	uint8_t goaway_in;   /* the peer's GOAWAY came */
	uint8_t local_acked; /* the peer acknowledged sluice's SETTINGS */
	uint8_t block_next;  /* the block's stream's state after it */
	uint32_t data_sent;  /* bytes of the DATA frame being read handed
				to the caller */
	struct sl_h2c_stream *data_s; /* its stream (NULL: dropped) */
	uint32_t local_table;	      /* sluice's HEADER_TABLE_SIZE */
	char *scratch;	    /* borrowed: HPACK's Huffman strings (a worker's) */
	size_t scratch_len; /* >= SL_HPACK_SCRATCH_MIN and local_table */
};

/*
 * Prepares c: is_server (the peer is a client, sends the preface and
 * opens odd streams), what sluice announces (windows of at least 65,535:
 * they apply at once), the reader's buffer for a frame split across reads
 * (buf_len >= set->max_frame), HPACK's scratch (borrowed, shared by a
 * worker's connections: decoding is done within one call), the most a
 * header block may be, the handlers and their arg. Writes the client
 * preface (not is_server), sluice's SETTINGS and the WINDOW_UPDATE that
 * raises the connection's window through ops->out. Returns 0, or -1 (bad
 * settings, or no output room).
 */
int sl_h2c_init(struct sl_h2c *c, int is_server,
		const struct sl_h2c_settings *set, uint8_t *buf, size_t buf_len,
		char *scratch, size_t scratch_len, size_t block_max,
		const struct sl_h2c_ops *ops, void *arg);

/*
 * Takes len bytes the peer sent, calling the handlers as frames complete.
 * Returns 0, or -1 after a connection error (GOAWAY c->err written
 * through ops->out; c->why says which rule): the caller sends what it has
 * and closes. After -1 every call returns -1.
 */
int sl_h2c_input(struct sl_h2c *c, const uint8_t *in, size_t len);

/*
 * The caller consumed n bytes of s's DATA: every byte the data handler
 * was given, kept or thrown away, is to be consumed once (s NULL once the
 * stream is gone: the connection's window only). Gives the window back with
 * WINDOW_UPDATE once half of it is consumed. Returns 0, or -1 (no output
 * room: the connection failed).
 */
int sl_h2c_consumed(struct sl_h2c *c, struct sl_h2c_stream *s, size_t n);

/*
 * A header block from sluice: the fields as HPACK at block (block_len
 * bytes, from sl_hpack_enc_*), framed as HEADERS and CONTINUATIONs to the
 * peer's frame size. Opens s as sluice's stream when it is idle (the
 * client side: s->id must be the next of sluice's parity; the caller put
 * it in with sl_h2c_stream_add). Returns 0 or -1 (no room).
 */
int sl_h2c_send_headers(struct sl_h2c *c, struct sl_h2c_stream *s,
			const uint8_t *block, size_t block_len, int end_stream);

/*
 * sl_h2c_send_headers for a block the caller encoded in place, as one
 * HEADERS frame: frame is SL_H2F_HEADER_LEN bytes the caller took through
 * ops->out with the block_len bytes of the block after them (block_len at
 * most the peer's frame size, c->peer_max_frame); the frame's header goes
 * there. Spares a copy of the block (the upstream's request heads).
 * Returns 0, or -1 (the connection failed, or the block needs
 * CONTINUATIONs: sl_h2c_send_headers then).
 */
int sl_h2c_send_headers_placed(struct sl_h2c *c, struct sl_h2c_stream *s,
			       uint8_t *frame, size_t block_len,
			       int end_stream);

/* The most DATA bytes s may send now: its window, the connection's and
 * the peer's frame size. */
size_t sl_h2c_send_room(const struct sl_h2c *c, const struct sl_h2c_stream *s);

/*
 * A DATA frame of len bytes (len <= sl_h2c_send_room) from data on s,
 * END_STREAM when end_stream; both windows are taken. Returns 0 or -1
 * (no room).
 */
int sl_h2c_send_data(struct sl_h2c *c, struct sl_h2c_stream *s,
		     const uint8_t *data, size_t len, int end_stream);

/*
 * Resets s with code (RST_STREAM) and forgets it; the reset handler is
 * not called. Returns 0 or -1.
 */
int sl_h2c_reset(struct sl_h2c *c, struct sl_h2c_stream *s, uint32_t code);

/* Forgets s without a frame (the connection ends: its streams go). */
void sl_h2c_forget(struct sl_h2c *c, struct sl_h2c_stream *s);

/* Adds s (its id set, the next of sluice's parity) as a stream sluice
 * opens (the client side). Returns 0, or -1 (no memory). */
int sl_h2c_stream_add(struct sl_h2c *c, struct sl_h2c_stream *s);

/* The stream of id, or NULL. */
struct sl_h2c_stream *sl_h2c_stream(const struct sl_h2c *c, uint32_t id);

/* GOAWAY with code, naming the last stream the peer opened. Returns 0 or
 * -1. */
int sl_h2c_goaway(struct sl_h2c *c, uint32_t code);

/* Frees what c holds (the map, a block being joined, the HPACK table);
 * the caller's streams are the caller's. */
void sl_h2c_free(struct sl_h2c *c);

/* Bytes c holds beyond its struct (for the memory a connection costs). */
size_t sl_h2c_mem(const struct sl_h2c *c);

#endif
