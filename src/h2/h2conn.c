/* SPDX-License-Identifier: MIT */
/*
 * One HTTP/2 connection's protocol state (h2conn.h): frames from the
 * reader judged by the stream rules, header blocks joined and decoded,
 * SETTINGS, PING, windows and GOAWAY, and the frames sluice sends. Pure:
 * no I/O, no timer; it allocates the stream map and a header block that
 * spans frames, and frees each when it empties.
 */
#include <stdlib.h>
#include <string.h>

#include "h2conn.h"

#define MAP_MIN 16 /* chains of a new stream map */

/* ---- output and failure ---------------------------------------------------*/

/* Room for n bytes of output, or NULL (the connection is then failed). */
static uint8_t *
out(struct sl_h2c *c, size_t n)
{
	uint8_t *p = c->ops->out(c->arg, n);

	if (p == NULL) {
		c->failed = 1;
		c->err = SL_H2F_INTERNAL_ERROR;
		c->why = "no memory for output";
	}
	return p;
}

/* A connection error: GOAWAY with code, naming the last stream the peer
 * opened. Returns -1. */
static int
fail(struct sl_h2c *c, uint32_t code, const char *why)
{
	uint8_t *p;

	if (c->failed)
		return -1;
	if ((p = out(c, SL_H2F_HEADER_LEN + 8)) != NULL)
		(void)sl_h2f_write_goaway(p, SL_H2F_HEADER_LEN + 8,
					  c->last_peer_id, code, NULL, 0);
	c->failed = 1;
	c->err = code;
	c->why = why;
	return -1;
}

static int
write_rst(struct sl_h2c *c, uint32_t id, uint32_t code)
{
	uint8_t *p = out(c, 13);

	if (p == NULL)
		return -1;
	(void)sl_h2f_write_rst_stream(p, 13, id, code);
	return 0;
}

/* ---- streams --------------------------------------------------------------*/

static uint32_t
slot(const struct sl_h2c *c, uint32_t id)
{
	return (id * 2654435761u >> 8) & (c->map_cap - 1);
}

struct sl_h2c_stream *
sl_h2c_stream(const struct sl_h2c *c, uint32_t id)
{
	struct sl_h2c_stream *s;

	if (c->map == NULL)
		return NULL;
	for (s = c->map[slot(c, id)]; s != NULL; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static int
map_add(struct sl_h2c *c, struct sl_h2c_stream *s)
{
	if (c->map == NULL || c->nstreams >= c->map_cap) {
		uint32_t cap = c->map == NULL ? MAP_MIN : c->map_cap * 2;
		struct sl_h2c_stream **m = calloc(cap, sizeof(*m));

		if (m == NULL)
			return -1;
		for (uint32_t i = 0; c->map != NULL && i < c->map_cap; i++) {
			struct sl_h2c_stream *t, *n;

			for (t = c->map[i]; t != NULL; t = n) {
				uint32_t k =
				    (t->id * 2654435761u >> 8) & (cap - 1);

				n = t->next;
				t->next = m[k];
				m[k] = t;
			}
		}
		free(c->map);
		c->map = m;
		c->map_cap = cap;
	}
	s->next = c->map[slot(c, s->id)];
	c->map[slot(c, s->id)] = s;
	c->nstreams++;
	return 0;
}

/* Forgets s, remembering how it closed (its state, a closed one). */
static void
forget(struct sl_h2c *c, struct sl_h2c_stream *s)
{
	struct sl_h2c_stream **pp;

	for (pp = &c->map[slot(c, s->id)]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->next = NULL;
	c->closed_id[c->closed_at] = s->id;
	c->closed_st[c->closed_at] = (uint8_t)s->st;
	c->closed_at = (c->closed_at + 1) % SL_H2C_CLOSED_KEPT;
	if (--c->nstreams == 0) {
		free(c->map);
		c->map = NULL;
		c->map_cap = 0;
	}
}

/* The state of an id no stream holds: a remembered closed one, or what
 * the ids say (idle above the highest opened, else gone). */
static enum sl_h2f_st
state_of(const struct sl_h2c *c, uint32_t id)
{
	int peers = (id & 1) == (c->is_server ? 1u : 0u);

	/* above the highest id its side opened: never opened, so never
	 * closed (a new stream's HEADERS, every request: the walk of the
	 * closed ones cost 80 instructions) */
	if (id > (peers ? c->last_peer_id : c->last_local_id))
		return sl_h2f_stream_unknown(id, c->is_server, c->last_peer_id,
					     c->last_local_id);
	for (uint32_t i = 0; i < SL_H2C_CLOSED_KEPT; i++)
		if (c->closed_id[i] == id && id != 0)
			return (enum sl_h2f_st)c->closed_st[i];
	return sl_h2f_stream_unknown(id, c->is_server, c->last_peer_id,
				     c->last_local_id);
}

/* s's new state; a stream closed both ways is forgotten. */
static void
set_state(struct sl_h2c *c, struct sl_h2c_stream *s, enum sl_h2f_st st)
{
	s->st = (uint8_t)st;
	if (st == SL_H2F_ST_CLOSED)
		forget(c, s);
}

/* A stream error on id (s when the connection holds it): RST_STREAM, the
 * stream forgotten, the caller told. Returns 0 or -1. */
static int
stream_error(struct sl_h2c *c, uint32_t id, struct sl_h2c_stream *s,
	     uint32_t code)
{
	if (write_rst(c, id, code) != 0)
		return -1;
	if (s != NULL) {
		s->st = SL_H2F_ST_CLOSED_RESET_SENT;
		forget(c, s);
		c->ops->reset(c->arg, s, code, 1);
	}
	return 0;
}

/* ---- windows --------------------------------------------------------------*/

/* Gives back what was consumed once half a window is: WINDOW_UPDATE. */
static int
give_back(struct sl_h2c *c, uint32_t id, uint32_t *consumed, int32_t *win,
	  uint32_t full)
{
	uint8_t *p;

	if (*consumed < full / 2)
		return 0;
	if ((p = out(c, 13)) == NULL)
		return -1;
	(void)sl_h2f_write_window_update(p, 13, id, *consumed);
	*win += (int32_t)*consumed;
	*consumed = 0;
	return 0;
}

int
sl_h2c_consumed(struct sl_h2c *c, struct sl_h2c_stream *s, size_t n)
{
	if (c->failed)
		return -1;
	c->consumed += (uint32_t)n;
	if (give_back(c, 0, &c->consumed, &c->recv_win, c->local_conn_window))
		return -1;
	if (s == NULL || s->in_end || sl_h2c_stream(c, s->id) != s)
		return 0; /* its window no longer matters (a closed stream
			     takes no WINDOW_UPDATE) */
	s->consumed += (uint32_t)n;
	return give_back(c, s->id, &s->consumed, &s->recv_win, c->local_window);
}

/* ---- header blocks --------------------------------------------------------*/

struct emit_ctx {
	struct sl_h2c *c;
	struct sl_h2c_stream *s; /* NULL: decode for the table only */
};

static int
emit(void *arg, const char *name, size_t nlen, const char *value, size_t vlen,
     unsigned flags)
{
	struct emit_ctx *e = arg;

	if (e->s == NULL)
		return 1;
	return e->c->ops->field(e->c->arg, e->s, name, nlen, value, vlen,
				flags);
}

/* Room for n more bytes of the block being joined: it grows to twice
 * what it holds, within block_max (checked by the caller). Returns 0, or
 * -1 when out of memory. */
static int
block_room(struct sl_h2c *c, size_t n)
{
	size_t cap = c->block_cap;
	uint8_t *b;

	if (c->block != NULL && c->block_len + n <= cap)
		return 0;
	cap = 2 * (c->block_len + n);
	if (cap < 1024)
		cap = 1024;
	if (cap > c->block_max)
		cap = c->block_max;
	if ((b = realloc(c->block, cap)) == NULL)
		return -1;
	c->block = b;
	c->block_cap = cap;
	return 0;
}

/* Decodes a whole block for block_sid (its stream accepted, or refused
 * when block_refused: decoded for the table only). */
static int
block_done(struct sl_h2c *c, const uint8_t *block, size_t len,
	   uint32_t reset_code)
{
	struct emit_ctx e = {c, NULL};
	int rc;

	if (!c->block_refused)
		e.s = sl_h2c_stream(c, c->block_sid);
	rc = sl_hpack_decode(&c->dec, block, len, c->scratch, c->scratch_len,
			     emit, &e);
	free(c->block);
	c->block = NULL;
	c->block_len = c->block_cap = 0;
	if (rc == SL_HPACK_COMPRESSION)
		return fail(c, SL_H2F_COMPRESSION_ERROR, "HPACK");
	if (e.s == NULL)
		return 0;
	if (reset_code != 0) /* a stream depending on itself */
		return stream_error(c, e.s->id, e.s, reset_code);
	c->ops->headers(c->arg, e.s, rc, c->block_end_stream);
	if (sl_h2c_stream(c, c->block_sid) == e.s) /* not reset meanwhile */
		set_state(c, e.s, (enum sl_h2f_st)c->block_next);
	return 0;
}

/* A HEADERS frame: the stream's verdict, then its block (whole, or the
 * first part of one). */
static int
on_headers(struct sl_h2c *c, const struct sl_h2f_event *ev)
{
	uint32_t id = ev->hd.stream_id, code = 0;
	struct sl_h2c_stream *s = sl_h2c_stream(c, id);
	enum sl_h2f_st st = s != NULL ? (enum sl_h2f_st)s->st : state_of(c, id),
		       next;
	int v =
	    sl_h2f_stream_recv(st, SL_H2F_HEADERS, ev->hd.flags, &next, &code);

	if (v == SL_H2F_CONN_ERROR)
		return fail(c, code, "HEADERS on a stream in the wrong state");
	c->block_sid = id;
	c->block_end_stream = (ev->hd.flags & SL_H2F_F_END_STREAM) != 0;
	c->block_refused = 1;
	if (v == SL_H2F_STREAM_ERROR) {
		if (write_rst(c, id, code) != 0)
			return -1;
		if (s != NULL) {
			s->st = SL_H2F_ST_CLOSED_RESET_SENT;
			forget(c, s);
			c->ops->reset(c->arg, s, code, 1);
		}
	} else if (v == SL_H2F_ACCEPT && s == NULL) {
		/* a new stream from the peer */
		if (id > c->last_peer_id)
			c->last_peer_id = id;
		if (c->nstreams >= c->max_streams ||
		    (s = c->ops->stream_open(c->arg, id)) == NULL) {
			if (write_rst(c, id, SL_H2F_REFUSED_STREAM) != 0)
				return -1;
		} else {
			s->id = id;
			s->st = (uint8_t)next;
			s->send_win = (int32_t)c->peer_window;
			s->recv_win = (int32_t)c->local_window;
			if (map_add(c, s) != 0)
				return fail(c, SL_H2F_INTERNAL_ERROR,
					    "no memory for a stream");
			c->block_refused = 0;
		}
	} else if (v == SL_H2F_ACCEPT && c->is_server && !c->block_end_stream) {
		/* trailers from a client must end the stream (RFC 9113
		 * 8.1); the block is still decoded, for the table */
		if (stream_error(c, id, s, SL_H2F_PROTOCOL_ERROR) != 0)
			return -1;
	} else if (v == SL_H2F_ACCEPT) {
		/* trailers, or from a server a final head after 1xx */
		c->block_refused = 0;
	}
	c->block_next = (uint8_t)next; /* applied when the block is read */
	if (c->block_end_stream && !c->block_refused) {
		s = sl_h2c_stream(c, id);
		if (s != NULL)
			s->in_end = 1;
	}
	if (ev->hd.flags & SL_H2F_F_END_HEADERS)
		return block_done(c, ev->data, ev->len, ev->code);
	c->block_reset = ev->code; /* for when the block is whole */
	if (ev->len > c->block_max)
		return fail(c, SL_H2F_ENHANCE_YOUR_CALM,
			    "header block too big");
	c->block_len = 0;
	if (block_room(c, ev->len) != 0)
		return fail(c, SL_H2F_INTERNAL_ERROR, "no memory for a block");
	memcpy(c->block, ev->data, ev->len);
	c->block_len = ev->len;
	return 0;
}

static int
on_continuation(struct sl_h2c *c, const struct sl_h2f_event *ev)
{
	if (c->block == NULL)
		return fail(c, SL_H2F_INTERNAL_ERROR, "no block");
	if (ev->len > c->block_max - c->block_len)
		return fail(c, SL_H2F_ENHANCE_YOUR_CALM,
			    "header block too big");
	if (block_room(c, ev->len) != 0)
		return fail(c, SL_H2F_INTERNAL_ERROR, "no memory for a block");
	memcpy(c->block + c->block_len, ev->data, ev->len);
	c->block_len += ev->len;
	if (ev->hd.flags & SL_H2F_F_END_HEADERS)
		return block_done(c, c->block, c->block_len, c->block_reset);
	return 0;
}

/* ---- DATA -----------------------------------------------------------------*/

static int
on_data(struct sl_h2c *c, const struct sl_h2f_event *ev)
{
	uint32_t id = ev->hd.stream_id, code = 0, left;
	struct sl_h2c_stream *s = NULL;
	enum sl_h2f_st next;
	int v;

	if (ev->first) {
		s = sl_h2c_stream(c, id);
		v = sl_h2f_stream_recv(s != NULL ? (enum sl_h2f_st)s->st
						 : state_of(c, id),
				       SL_H2F_DATA, ev->hd.flags, &next, &code);
		if (v == SL_H2F_CONN_ERROR)
			return fail(c, code,
				    "DATA on a stream in the wrong "
				    "state");
		/* the connection's window counts every DATA frame */
		if (sl_h2f_window_consume(&c->recv_win, ev->hd.length) != 0)
			return fail(c, SL_H2F_FLOW_CONTROL_ERROR,
				    "DATA past the connection's window");
		c->data_sent = 0;
		c->data_s = NULL;
		if (v == SL_H2F_STREAM_ERROR) {
			if (stream_error(c, id, s, code) != 0)
				return -1;
		} else if (v == SL_H2F_ACCEPT && s != NULL) {
			if (sl_h2f_window_consume(&s->recv_win,
						  ev->hd.length) != 0) {
				if (stream_error(c, id, s,
						 SL_H2F_FLOW_CONTROL_ERROR))
					return -1;
			} else {
				if (ev->hd.flags & SL_H2F_F_END_STREAM)
					s->in_end = 1;
				c->data_s = s;
			}
		}
	}
	/* a stream reset since the frame began (by the caller, in a
	 * handler) takes no more of it */
	s = c->data_s;
	if (s != NULL && sl_h2c_stream(c, id) != s)
		s = c->data_s = NULL;
	if (s != NULL && (ev->len > 0 || ev->last)) {
		c->data_sent += (uint32_t)ev->len;
		/* (an empty piece may have no pointer: never NULL to the
		 * owner, who may memcpy it; fuzz_health_h2 found one) */
		c->ops->data(
		    c->arg, s, ev->len > 0 ? ev->data : (const uint8_t *)"",
		    ev->len, ev->last && (ev->hd.flags & SL_H2F_F_END_STREAM));
		if (sl_h2c_stream(c, id) != s)
			s = c->data_s = NULL;
	}
	if (!ev->last)
		return 0;
	/* what the caller never had (padding, a dropped frame's bytes) is
	 * given back at once */
	left = ev->hd.length - c->data_sent;
	c->data_s = NULL;
	if (left > 0 && sl_h2c_consumed(c, s, left) != 0)
		return -1;
	if (s != NULL && (ev->hd.flags & SL_H2F_F_END_STREAM))
		set_state(c, s,
			  s->st == SL_H2F_ST_HALF_CLOSED_LOCAL
			      ? SL_H2F_ST_CLOSED
			      : SL_H2F_ST_HALF_CLOSED_REMOTE);
	return 0;
}

/* ---- control frames -------------------------------------------------------*/

static int
on_settings(struct sl_h2c *c, const struct sl_h2f_event *ev)
{
	uint8_t *p;

	if (ev->hd.flags & SL_H2F_F_ACK) {
		if (!c->local_acked) {
			c->local_acked = 1;
			sl_hpack_dec_set_max(&c->dec, c->local_table);
		}
		return 0;
	}
	for (size_t i = 0; i < ev->len / 6; i++) {
		uint16_t id;
		uint32_t v;

		sl_h2f_setting_at(ev->data, i, &id, &v);
		switch (id) {
		case SL_H2F_SET_HEADER_TABLE_SIZE:
			c->peer_table = v; /* sluice's encoder keeps none */
			break;
		case SL_H2F_SET_MAX_CONCURRENT_STREAMS:
			c->peer_max_streams = v;
			break;
		case SL_H2F_SET_INITIAL_WINDOW_SIZE:
			for (uint32_t k = 0; c->map != NULL && k < c->map_cap;
			     k++)
				for (struct sl_h2c_stream *s = c->map[k];
				     s != NULL; s = s->next)
					if (sl_h2f_window_resize(&s->send_win,
								 c->peer_window,
								 v) != 0)
						return fail(
						    c,
						    SL_H2F_FLOW_CONTROL_ERROR,
						    "a window past 2^31-1");
			c->peer_window = v;
			if (c->map != NULL)
				c->ops->window(c->arg, NULL);
			break;
		case SL_H2F_SET_MAX_FRAME_SIZE:
			c->peer_max_frame = v;
			break;
		default:
			break;
		}
	}
	if ((p = out(c, SL_H2F_HEADER_LEN)) == NULL)
		return -1;
	(void)sl_h2f_write_settings_ack(p, SL_H2F_HEADER_LEN);
	return 0;
}

static int
on_window_update(struct sl_h2c *c, const struct sl_h2f_event *ev)
{
	uint32_t id = ev->hd.stream_id, code = 0;
	struct sl_h2c_stream *s;
	enum sl_h2f_st next;
	int v;

	if (id == 0) {
		if (sl_h2f_window_add(&c->send_win, ev->value) != 0)
			return fail(c, SL_H2F_FLOW_CONTROL_ERROR,
				    "the connection's window past 2^31-1");
		c->ops->window(c->arg, NULL);
		return 0;
	}
	s = sl_h2c_stream(c, id);
	v = sl_h2f_stream_recv(s != NULL ? (enum sl_h2f_st)s->st
					 : state_of(c, id),
			       SL_H2F_WINDOW_UPDATE, 0, &next, &code);
	if (v == SL_H2F_CONN_ERROR)
		return fail(c, code, "WINDOW_UPDATE on an idle stream");
	if (v == SL_H2F_STREAM_ERROR)
		return stream_error(c, id, s, code);
	if (v != SL_H2F_ACCEPT || s == NULL)
		return 0;
	if (sl_h2f_window_add(&s->send_win, ev->value) != 0)
		return stream_error(c, id, s, SL_H2F_FLOW_CONTROL_ERROR);
	c->ops->window(c->arg, s);
	return 0;
}

static int
on_rst_stream(struct sl_h2c *c, const struct sl_h2f_event *ev)
{
	uint32_t id = ev->hd.stream_id, code = 0;
	struct sl_h2c_stream *s = sl_h2c_stream(c, id);
	enum sl_h2f_st next;
	int v = sl_h2f_stream_recv(s != NULL ? (enum sl_h2f_st)s->st
					     : state_of(c, id),
				   SL_H2F_RST_STREAM, 0, &next, &code);

	if (v == SL_H2F_CONN_ERROR)
		return fail(c, code, "RST_STREAM on an idle stream");
	if (s == NULL || v != SL_H2F_ACCEPT)
		return 0;
	s->st = SL_H2F_ST_CLOSED_RESET_RECV;
	forget(c, s);
	c->ops->reset(c->arg, s, ev->code, 0);
	return 0;
}

/* A frame whose verdict is only the stream's: PRIORITY, or a stream
 * error the reader found (the stream's state may say more first). */
static int
on_stream_only(struct sl_h2c *c, const struct sl_h2f_event *ev,
	       uint32_t reader_code)
{
	uint32_t id = ev->hd.stream_id, code = 0;
	struct sl_h2c_stream *s = sl_h2c_stream(c, id);
	enum sl_h2f_st next;
	int v = sl_h2f_stream_recv(s != NULL ? (enum sl_h2f_st)s->st
					     : state_of(c, id),
				   ev->hd.type, ev->hd.flags, &next, &code);

	if (v == SL_H2F_CONN_ERROR)
		return fail(c, code, "a frame on a stream in the wrong state");
	if (v == SL_H2F_IGNORE)
		return 0;
	if (v == SL_H2F_STREAM_ERROR)
		return stream_error(c, id, s, code);
	return reader_code != 0 ? stream_error(c, id, s, reader_code) : 0;
}

static int
on_frame(struct sl_h2c *c, const struct sl_h2f_event *ev)
{
	uint8_t *p;

	switch (ev->hd.type) {
	case SL_H2F_DATA:
		return on_data(c, ev);
	case SL_H2F_HEADERS:
		return on_headers(c, ev);
	case SL_H2F_CONTINUATION:
		return on_continuation(c, ev);
	case SL_H2F_SETTINGS:
		return on_settings(c, ev);
	case SL_H2F_PING:
		if (ev->hd.flags & SL_H2F_F_ACK)
			return 0;
		if ((p = out(c, SL_H2F_HEADER_LEN + 8)) == NULL)
			return -1;
		(void)sl_h2f_write_ping(p, SL_H2F_HEADER_LEN + 8, ev->data, 1);
		return 0;
	case SL_H2F_GOAWAY:
		c->goaway_in = 1;
		c->ops->goaway(c->arg, ev->value, ev->code);
		return 0;
	case SL_H2F_WINDOW_UPDATE:
		return on_window_update(c, ev);
	case SL_H2F_RST_STREAM:
		return on_rst_stream(c, ev);
	default: /* PRIORITY (the reader passes no other type) */
		return on_stream_only(c, ev, 0);
	}
}

int
sl_h2c_input(struct sl_h2c *c, const uint8_t *in, size_t len)
{
	while (!c->failed) {
		struct sl_h2f_event ev;
		size_t used = 0;
		int rv = sl_h2f_read(&c->rd, in, len, &used, &ev);

		in += used;
		len -= used;
		if (rv == SL_H2F_EV_NONE)
			return 0;
		if (rv == SL_H2F_EV_CONN_ERROR)
			return fail(c, c->rd.code, c->rd.why);
		if ((ev.hd.type != SL_H2F_DATA || ev.first) &&
		    c->ops->frame(c->arg, &ev.hd) != 0)
			return fail(c, SL_H2F_ENHANCE_YOUR_CALM, "budget");
		if (rv == SL_H2F_EV_STREAM_ERROR) {
			if (on_stream_only(c, &ev, ev.code) != 0)
				return -1;
			continue;
		}
		if (on_frame(c, &ev) != 0)
			return -1;
	}
	return -1;
}

/* ---- what sluice sends ----------------------------------------------------*/

int
sl_h2c_init(struct sl_h2c *c, int is_server, const struct sl_h2c_settings *set,
	    uint8_t *buf, size_t buf_len, char *scratch, size_t scratch_len,
	    size_t block_max, const struct sl_h2c_ops *ops, void *arg)
{
	struct sl_h2f_setting s[8];
	size_t n = 0, len;
	uint8_t *p;

	memset(c, 0, sizeof(*c));
	if (set->window < SL_H2F_INITIAL_WINDOW ||
	    set->window > SL_H2F_MAX_WINDOW ||
	    set->conn_window < SL_H2F_INITIAL_WINDOW ||
	    set->conn_window > SL_H2F_MAX_WINDOW ||
	    scratch_len < SL_HPACK_SCRATCH_MIN ||
	    scratch_len < set->header_table ||
	    sl_h2f_reader_init(&c->rd, is_server, buf, buf_len,
			       set->max_frame) != 0)
		return -1;
	c->ops = ops;
	c->arg = arg;
	c->is_server = (uint8_t)is_server;
	c->scratch = scratch;
	c->scratch_len = scratch_len;
	c->block_max = block_max;
	c->send_win = c->recv_win = SL_H2F_INITIAL_WINDOW;
	c->peer_window = SL_H2F_INITIAL_WINDOW;
	c->peer_max_frame = SL_H2F_MAX_FRAME_MIN;
	c->peer_max_streams = UINT32_MAX;
	c->peer_table = 4096;
	c->local_window = set->window;
	c->local_conn_window = set->conn_window;
	c->local_table = set->header_table;
	c->max_streams = set->max_streams;
	/* the table the peer may use is 4,096 until it has our SETTINGS */
	sl_hpack_dec_init(&c->dec, 4096);
	if (!is_server)
		s[n++] = (struct sl_h2f_setting){SL_H2F_SET_ENABLE_PUSH, 0};
	if (set->header_table != 4096)
		s[n++] = (struct sl_h2f_setting){SL_H2F_SET_HEADER_TABLE_SIZE,
						 set->header_table};
	s[n++] = (struct sl_h2f_setting){SL_H2F_SET_MAX_CONCURRENT_STREAMS,
					 set->max_streams};
	if (set->window != SL_H2F_INITIAL_WINDOW)
		s[n++] = (struct sl_h2f_setting){SL_H2F_SET_INITIAL_WINDOW_SIZE,
						 set->window};
	if (set->max_frame != SL_H2F_MAX_FRAME_MIN)
		s[n++] = (struct sl_h2f_setting){SL_H2F_SET_MAX_FRAME_SIZE,
						 set->max_frame};
	if (set->max_header_list != 0)
		s[n++] = (struct sl_h2f_setting){
		    SL_H2F_SET_MAX_HEADER_LIST_SIZE, set->max_header_list};
	if (is_server && set->connect_proto)
		s[n++] = (struct sl_h2f_setting){
		    SL_H2F_SET_ENABLE_CONNECT_PROTOCOL, 1};
	if (is_server)
		s[n++] = (struct sl_h2f_setting){
		    SL_H2F_SET_NO_RFC7540_PRIORITIES, 1};
	len = (is_server ? 0 : SL_H2F_PREFACE_LEN) + SL_H2F_HEADER_LEN + 6 * n +
	      (set->conn_window > SL_H2F_INITIAL_WINDOW ? 13 : 0);
	if ((p = ops->out(arg, len)) == NULL)
		return -1;
	if (!is_server) {
		memcpy(p, SL_H2F_PREFACE, SL_H2F_PREFACE_LEN);
		p += SL_H2F_PREFACE_LEN;
	}
	p += sl_h2f_write_settings(p, SL_H2F_HEADER_LEN + 6 * n, s, n);
	if (set->conn_window > SL_H2F_INITIAL_WINDOW) {
		(void)sl_h2f_write_window_update(
		    p, 13, 0, set->conn_window - SL_H2F_INITIAL_WINDOW);
		c->recv_win = (int32_t)set->conn_window;
	}
	return 0;
}

int
sl_h2c_stream_add(struct sl_h2c *c, struct sl_h2c_stream *s)
{
	s->st = SL_H2F_ST_IDLE;
	s->send_win = (int32_t)c->peer_window;
	s->recv_win = (int32_t)c->local_window;
	if (map_add(c, s) != 0)
		return -1;
	if (s->id > c->last_local_id)
		c->last_local_id = s->id;
	return 0;
}

int
sl_h2c_send_headers(struct sl_h2c *c, struct sl_h2c_stream *s,
		    const uint8_t *block, size_t block_len, int end_stream)
{
	size_t n = sl_h2f_headers_size(block_len, c->peer_max_frame);
	uint8_t *p;

	if (c->failed || (p = out(c, n)) == NULL)
		return -1;
	(void)sl_h2f_write_headers(p, n, s->id, block, block_len,
				   c->peer_max_frame, end_stream);
	set_state(c, s,
		  sl_h2f_stream_send((enum sl_h2f_st)s->st, SL_H2F_HEADERS,
				     end_stream ? SL_H2F_F_END_STREAM : 0));
	return 0;
}

int
sl_h2c_send_headers_placed(struct sl_h2c *c, struct sl_h2c_stream *s,
			   uint8_t *frame, size_t block_len, int end_stream)
{
	if (c->failed || block_len > c->peer_max_frame)
		return -1;
	(void)sl_h2f_write_header(
	    frame, SL_H2F_HEADER_LEN, (uint32_t)block_len, SL_H2F_HEADERS,
	    (uint8_t)(SL_H2F_F_END_HEADERS |
		      (end_stream ? SL_H2F_F_END_STREAM : 0)),
	    s->id);
	set_state(c, s,
		  sl_h2f_stream_send((enum sl_h2f_st)s->st, SL_H2F_HEADERS,
				     end_stream ? SL_H2F_F_END_STREAM : 0));
	return 0;
}

size_t
sl_h2c_send_room(const struct sl_h2c *c, const struct sl_h2c_stream *s)
{
	int32_t w = c->send_win < s->send_win ? c->send_win : s->send_win;

	if (w <= 0)
		return 0;
	return (uint32_t)w < c->peer_max_frame ? (size_t)w : c->peer_max_frame;
}

int
sl_h2c_send_data(struct sl_h2c *c, struct sl_h2c_stream *s, const uint8_t *data,
		 size_t len, int end_stream)
{
	uint8_t *p;

	if (c->failed || len > sl_h2c_send_room(c, s) ||
	    (p = out(c, SL_H2F_HEADER_LEN + len)) == NULL)
		return -1;
	(void)sl_h2f_write_data_header(p, SL_H2F_HEADER_LEN, s->id,
				       (uint32_t)len, end_stream);
	memcpy(p + SL_H2F_HEADER_LEN, data, len);
	c->send_win -= (int32_t)len;
	s->send_win -= (int32_t)len;
	if (end_stream)
		set_state(c, s,
			  sl_h2f_stream_send((enum sl_h2f_st)s->st, SL_H2F_DATA,
					     SL_H2F_F_END_STREAM));
	return 0;
}

int
sl_h2c_reset(struct sl_h2c *c, struct sl_h2c_stream *s, uint32_t code)
{
	if (c->failed || write_rst(c, s->id, code) != 0)
		return -1;
	if (sl_h2c_stream(c, s->id) == s) {
		s->st = SL_H2F_ST_CLOSED_RESET_SENT;
		forget(c, s);
	}
	return 0;
}

void
sl_h2c_forget(struct sl_h2c *c, struct sl_h2c_stream *s)
{
	if (sl_h2c_stream(c, s->id) == s) {
		s->st = SL_H2F_ST_CLOSED_RESET_SENT;
		forget(c, s);
	}
}

int
sl_h2c_goaway(struct sl_h2c *c, uint32_t code)
{
	uint8_t *p;

	if (c->failed || (p = out(c, SL_H2F_HEADER_LEN + 8)) == NULL)
		return -1;
	(void)sl_h2f_write_goaway(p, SL_H2F_HEADER_LEN + 8, c->last_peer_id,
				  code, NULL, 0);
	return 0;
}

void
sl_h2c_free(struct sl_h2c *c)
{
	free(c->map);
	c->map = NULL;
	c->map_cap = c->nstreams = 0;
	free(c->block);
	c->block = NULL;
	c->block_len = c->block_cap = 0;
	sl_hpack_dec_free(&c->dec);
}

size_t
sl_h2c_mem(const struct sl_h2c *c)
{
	return (size_t)c->map_cap * sizeof(*c->map) + c->block_cap +
	       sl_hpack_dec_mem(&c->dec);
}
