/* SPDX-License-Identifier: MIT */
/*
 * HTTP/3 to clients (RFC 9114; doc/http3.md): a worker's endpoint on each
 * http3 listener's UDP socket, and its connections. Each worker has its
 * own socket in the listener's SO_REUSEPORT group, and the program
 * attached to the group (qroute.c) gives every datagram of a connection
 * to the worker whose index its connection IDs begin with, so a
 * connection lives on one worker for its whole life. Datagrams are read
 * into the endpoint (qend.c), whose connections (qconn.c) hand this file
 * their streams' bytes: the client's control stream (SETTINGS first,
 * then GOAWAY and MAX_PUSH_ID), its QPACK streams (checked: with a
 * dynamic table of capacity 0 they carry almost nothing), and its
 * request streams, which h3_stream.c carries to exchanges. A run (after
 * a read, a timer, or an exchange's kick from the loop's active queue)
 * pumps the streams and sends what they queued.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "h3_int.h"
#include "log.h"
#include "qconn.h"
#include "qend.h"
#include "qroute.h"
#include "runtime.h"
#include "tls.h"
#include "wgen.h"
#include "wloop.h"

/* The datagrams one read event takes at most before the others' turn. */
#define READ_BATCH 64

static uint8_t h3_key[32];

void
sl_h3_set_key(const uint8_t key[32])
{
	memcpy(h3_key, key, sizeof(h3_key));
}

const uint8_t *
sl_h3_key(void)
{
	return h3_key;
}

/* The worker's endpoints (w->h3). */
static struct sl_h3ep **
eps_of(struct sl_worker *w)
{
	return (struct sl_h3ep **)&w->h3;
}

/* ---- a connection --------------------------------------------------------*/

/* Our control stream and its SETTINGS, once 1-RTT keys are there. */
static void
conn_control(struct sl_h3conn *h)
{
	struct sl_h3_settings st;
	uint8_t b[64];
	size_t n = 1;
	int64_t id;

	if ((h->f & H3C_CONTROL) || h->qc == NULL ||
	    !sl_qconn_established(h->qc) || (id = sl_qconn_open(h->qc, 0)) < 0)
		return;
	b[0] = SL_H3_UNI_CONTROL;
	sl_h3_settings_init(&st);
	st.max_field_section_size = h->lconf->limits.max_header_list_bytes;
	n += sl_h3_settings_write(b + 1, sizeof(b) - 1, &st, 0);
	if (sl_qconn_send(h->qc, id, b, n, 0) == 0)
		h->f |= H3C_CONTROL | H3C_FLUSH;
	h->ctrl_id = id;
}

/* GOAWAY with the first request stream id not served (RFC 9114 section
 * 5.2): the requests begun are answered, the connection ends after. */
static void
conn_goaway(struct sl_h3conn *h)
{
	uint8_t b[16];
	size_t n;
	uint64_t next = h->max_seen < 0 ? 0 : (uint64_t)h->max_seen + 4;

	if ((h->f & H3C_GOAWAY) || h->qc == NULL)
		return;
	conn_control(h);
	if (!(h->f & H3C_CONTROL)) {
		/* no handshake yet: nothing was asked */
		h->f |= H3C_GOAWAY;
		return;
	}
	n = sl_h3f_id_write(b, sizeof(b), SL_H3F_GOAWAY, next);
	if (n > 0 && sl_qconn_send(h->qc, h->ctrl_id, b, n, 0) == 0)
		h->f |= H3C_FLUSH;
	h->f |= H3C_GOAWAY;
}

/* A frame of the client's control stream, whole in u->fbuf. */
static int
control_frame(struct sl_h3conn *h, struct h3_uni *u)
{
	uint64_t id;

	switch (u->rd.type) {
	case SL_H3F_SETTINGS: {
		struct sl_h3_settings st;
		int r;
		sl_h3_settings_init(&st);
		if ((r = sl_h3_settings_parse(u->fbuf, u->fgot, &st)) != 0) {
			h3_conn_error(h, (uint64_t)r, SL_H3_R_PROTOCOL,
				      "bad SETTINGS");
			return -1;
		}
		h->f |= H3C_SETTINGS;
		return 0;
	}
	case SL_H3F_GOAWAY:
	case SL_H3F_MAX_PUSH_ID:
	case SL_H3F_CANCEL_PUSH:
		if (sl_h3f_id_parse(u->fbuf, u->fgot, &id) != 0) {
			h3_conn_error(h, SL_H3_FRAME_ERROR, SL_H3_R_PROTOCOL,
				      "a bad id frame");
			return -1;
		}
		/* the client's GOAWAY: it opens no stream more; sluice
		 * pushes nothing, so push ids mean nothing here */
		return 0;
	default:
		return 0;
	}
}

/* The client's control stream's bytes. */
static int
control_recv(struct sl_h3conn *h, struct h3_uni *u, const uint8_t *d, size_t n)
{
	while (n > 0) {
		size_t k;
		if (u->rd.part != 2) {
			int c;
			k = sl_h3f_reader_feed(&u->rd, d, n);
			d += k;
			n -= k;
			if (u->rd.part != 2)
				return 0;
			c = sl_h3f_check(SL_H3_STREAM_CONTROL, u->rd.type,
					 !u->first, 1);
			u->first = 1;
			if (c != SL_H3F_TAKE && c != SL_H3F_IGNORE) {
				h3_conn_error(h, (uint64_t)c, SL_H3_R_PROTOCOL,
					      "a frame the control stream may "
					      "not carry");
				return -1;
			}
			u->skip = c == SL_H3F_IGNORE;
			if (u->skip &&
			    h3_calm_spend(h, "frames that carry no request") !=
				0)
				return -1;
			if (!u->skip && u->rd.length > sizeof(u->fbuf)) {
				h3_conn_error(h, SL_H3_EXCESSIVE_LOAD,
					      SL_H3_R_PROTOCOL,
					      "a control frame too long");
				return -1;
			}
			u->left = u->rd.length;
			u->fgot = 0;
		}
		k = (size_t)SL_MIN((uint64_t)n, u->left);
		if (!u->skip) {
			memcpy(u->fbuf + u->fgot, d, k);
			u->fgot += (uint32_t)k;
		}
		d += k;
		n -= k;
		u->left -= k;
		if (u->left == 0) {
			if (!u->skip && control_frame(h, u) != 0)
				return -1;
			memset(&u->rd, 0, sizeof(u->rd));
		}
	}
	return 0;
}

/* A client's unidirectional stream's bytes (RFC 9114 section 6.2). */
static int
uni_recv(struct sl_h3conn *h, int64_t id, const uint8_t *d, size_t n, int fin)
{
	struct h3_uni *u = NULL;

	for (size_t i = 0; i < H3_UNI_MAX && u == NULL; i++)
		if (h->uni[i].id == id)
			u = &h->uni[i];
	for (size_t i = 0; i < H3_UNI_MAX && u == NULL; i++)
		if (h->uni[i].id == -1) {
			u = &h->uni[i];
			memset(u, 0, sizeof(*u));
			u->id = id;
			u->type = -1;
		}
	if (u == NULL) {
		/* more than a client needs: read and dropped */
		return 0;
	}
	if (u->type == -1) {
		uint64_t t;
		while (
		    n > 0 && u->tgot < sizeof(u->tbuf) &&
		    (u->tgot == 0 || u->tgot < SL_H3_VARINT_LEN(u->tbuf[0]))) {
			u->tbuf[u->tgot++] = *d++;
			n--;
		}
		if (u->tgot == 0 || u->tgot < SL_H3_VARINT_LEN(u->tbuf[0]))
			return 0;
		(void)sl_h3_varint_read(u->tbuf, u->tgot, &t);
		for (size_t i = 0; i < H3_UNI_MAX; i++)
			if (&h->uni[i] != u && h->uni[i].id != -1 &&
			    h->uni[i].type >= 0 &&
			    (uint64_t)h->uni[i].type == t && t <= 3) {
				h3_conn_error(h, SL_H3_STREAM_CREATION_ERROR,
					      SL_H3_R_PROTOCOL,
					      "a second critical stream");
				return -1;
			}
		if (t == SL_H3_UNI_PUSH) {
			h3_conn_error(h, SL_H3_STREAM_CREATION_ERROR,
				      SL_H3_R_PROTOCOL,
				      "a push stream from a client");
			return -1;
		}
		u->type = t <= 3 ? (int)t : 0x7f;
	}
	switch (u->type) {
	case SL_H3_UNI_CONTROL:
		if (fin) {
			h3_conn_error(h, SL_H3_CLOSED_CRITICAL_STREAM,
				      SL_H3_R_PROTOCOL,
				      "the control stream closed");
			return -1;
		}
		return control_recv(h, u, d, n);
	case SL_H3_UNI_QPACK_ENCODER:
		if (n > 0 && sl_qpack_estream_feed(d, n) != 0) {
			h3_conn_error(h, SL_QPACK_ENCODER_STREAM_ERROR,
				      SL_H3_R_PROTOCOL,
				      "an insertion into a table of 0");
			return -1;
		}
		break;
	case SL_H3_UNI_QPACK_DECODER:
		if (n > 0 && sl_qpack_dstream_feed(&u->ds, d, n) != 0) {
			h3_conn_error(h, SL_QPACK_DECODER_STREAM_ERROR,
				      SL_H3_R_PROTOCOL,
				      "a bad decoder instruction");
			return -1;
		}
		break;
	default:
		/* unknown types are read and dropped; each piece spends the
		 * budget of what carries no request */
		if (n > 0 && h3_calm_spend(h, "an unknown stream's bytes") != 0)
			return -1;
		break;
	}
	if (fin && (u->type == SL_H3_UNI_QPACK_ENCODER ||
		    u->type == SL_H3_UNI_QPACK_DECODER)) {
		h3_conn_error(h, SL_H3_CLOSED_CRITICAL_STREAM, SL_H3_R_PROTOCOL,
			      "a QPACK stream closed");
		return -1;
	}
	return 0;
}

static int
app_recv(void *arg, int64_t id, const uint8_t *d, size_t n, int fin)
{
	struct sl_h3conn *h = arg;

	h3_conn_kick(h); /* its run follows the read */
	if (h->qc == NULL || sl_qconn_app_failed(h->qc))
		return -1;
	if ((id & 1) != 0)
		return 0; /* a server stream: ours, the client sends nothing */
	if ((id & 2) != 0)
		return uni_recv(h, id, d, n, fin) == 0 &&
			       !sl_qconn_app_failed(h->qc)
			   ? 0
			   : -1;
	if (h3_stream_recv(h, id, d, n, fin) != 0 || sl_qconn_app_failed(h->qc))
		return -1;
	return 0;
}

static void
app_established(void *arg)
{
	struct sl_h3conn *h = arg;
	SSL *ssl = sl_qconn_ssl(h->qc);
	struct sl_lcstate *st = h->lconf->counters;

	/* counted with the listener's TLS handshakes, as over TCP */
	atomic_fetch_add(&st->tls_handshakes, 1);
	if (sl_tls_resumed(ssl))
		atomic_fetch_add(&st->tls_resumed, 1);
	/* the client certificate, as client_accept.c takes it: its subject
	 * for client_subject_header, ${tls_client_subject}, external
	 * authorization and an Idempotency-Key's caller; a verified one is
	 * a credential for compression's BREACH rule */
	if (h->lconf->tls.client_subject_header != NULL ||
	    h->lconf->wants_subject)
		h->tls_subject = sl_tls_peer_subject(ssl);
	h->peer_cert = sl_tls_peer_verified(ssl);
	h3_conn_kick(h); /* its control stream and SETTINGS go */
}

static void
app_acked(void *arg, int64_t id)
{
	(void)id;
	h3_conn_kick(arg); /* streams waiting for room may go on */
}

static void
app_reset(void *arg, int64_t id, uint64_t code)
{
	struct sl_h3conn *h = arg;

	h3_conn_kick(h);
	if ((id & 3) == 0)
		h3_stream_reset(h, id, code);
}

static void
app_closed(void *arg, int64_t id, uint64_t code)
{
	struct sl_h3conn *h = arg;

	h3_conn_kick(h);
	(void)code;
	if ((id & 3) == 0)
		h3_stream_closed(h, id);
}

static const struct sl_conf_listener *
listener_now(struct sl_h3ep *e)
{
	const struct sl_conf *conf = e->w->gen->conf;

	for (size_t i = 0; i < conf->nlisteners; i++)
		if ((void *)conf->listeners[i].state == e->lstate &&
		    conf->listeners[i].http3.enabled)
			return &conf->listeners[i];
	return NULL;
}

static void
ep_opened(void *arg, struct sl_qconn *c)
{
	struct sl_h3ep *e = arg;
	struct sl_h3conn *h = calloc(1, sizeof(*h));
	struct sl_qconn_app app = {
	    .recv = app_recv,
	    .reset = app_reset,
	    .closed = app_closed,
	    .arg = h,
	    .manual = 1,
	    .acked = app_acked,
	    .established = app_established,
	};
	socklen_t len;
	const struct sockaddr *sa = sl_qconn_remote(c, &len);

	if (h == NULL) {
		sl_qconn_fail(c, SL_H3_INTERNAL_ERROR);
		return;
	}
	h->ep = e;
	h->qc = c;
	h->id = sl_conn_id();
	h->start_ms = now_ms();
	h->max_seen = -1;
	h->ctrl_id = -1;
	TAILQ_INIT(&h->streams);
	for (size_t i = 0; i < H3_UNI_MAX; i++)
		h->uni[i].id = -1;
	if (len <= sizeof(h->peer))
		memcpy(&h->peer, sa, len);
	h->gen = e->w->gen;
	sl_wgen_ref(h->gen);
	h->lconf = e->l;
	TAILQ_INSERT_TAIL(&e->conns, h, link);
	e->w->nclients++;
	SL_STAT_INC(e->w->stats.quic_conns);
	sl_qconn_set_app(c, &app);
}

static struct sl_h3conn *
conn_of(struct sl_h3ep *e, const struct sl_qconn *c)
{
	struct sl_h3conn *h;

	TAILQ_FOREACH(h, &e->conns, link)
	if (h->qc == c)
		return h;
	return NULL;
}

static void
conn_free(struct sl_h3conn *h)
{
	struct sl_worker *w = h->ep->w;

	h3_streams_free(h);
	TAILQ_REMOVE(&h->ep->conns, h, link);
	sl_wgen_unref(w, h->gen);
	free(h->tls_subject);
	free(h);
	w->nclients--;
	atomic_fetch_sub_explicit(&w->stats.quic_conns, 1,
				  memory_order_relaxed);
	sl_worker_maybe_done(w);
}

/* The endpoint ends c (its close sent): its streams' exchanges are cut,
 * and it is freed at the end of the run. */
static void
ep_ended(void *arg, struct sl_qconn *c)
{
	struct sl_h3ep *e = arg;
	struct sl_h3conn *h = conn_of(e, c);

	if (h == NULL)
		return;
	h3_streams_end(h, sl_qconn_app_failed(c) ? "http3_error"
						 : "connection_closed");
	h->qc = NULL;
	h->f |= H3C_DEAD;
	h3_conn_kick(h);
}

/* ---- the endpoint ------------------------------------------------------- */

static void
ep_send(void *arg, const struct sockaddr *to, socklen_t tl, const uint8_t *d,
	size_t n)
{
	struct sl_h3ep *e = arg;

	/* a datagram the kernel cannot take now is lost, as on the network:
	 * QUIC sends it again */
	(void)sendto(e->fd, d, n, MSG_DONTWAIT, to, tl);
}

/* A connection's run: its streams pumped, what they queued sent; a
 * drained one (GOAWAY sent, no stream open) closed. */
static void
conn_run(struct sl_h3ep *e, struct sl_h3conn *h, uint64_t now)
{
	if (h->f & H3C_DEAD)
		return;
	conn_control(h);
	if ((e->draining || e->l == NULL) && !(h->f & H3C_GOAWAY))
		conn_goaway(h);
	h3_streams_writable(h);
	h3_streams_pump(h);
	e->head_ms = SL_MIN(e->head_ms, h3_streams_heads(h, now_ms()));
	h3_streams_pump(h);
	h3_streams_reap(h);
	/* after GOAWAY, once every stream is answered and QUIC closed it
	 * (its answer acknowledged) */
	if (h->qc != NULL && (h->f & H3C_GOAWAY) && h->nopen == 0 &&
	    TAILQ_EMPTY(&h->streams)) {
		sl_qconn_fail(h->qc, SL_H3_NO_ERROR);
		(void)sl_qend_flush(e->qe, h->qc, now);
		if (h->qc != NULL)
			sl_qend_close(e->qe, h->qc, now);
		return;
	}
	if (h->qc != NULL && sl_qconn_app_failed(h->qc)) {
		sl_qend_close(e->qe, h->qc, now);
		return;
	}
	/* what its streams queued, credit given back, resets: each run
	 * ends with what the connection has to send */
	if (h->qc != NULL) {
		h->f &= ~H3C_FLUSH;
		(void)sl_qend_flush(e->qe, h->qc, now);
	}
}

/* Arms the timer for the endpoint's next deadline. */
static void
ep_arm(struct sl_h3ep *e, uint64_t next, uint64_t now)
{
	struct timeval tv;
	uint64_t d;

	if (next == UINT64_MAX) {
		if (e->tev_ns != 0)
			event_del(&e->tev);
		e->tev_ns = 0;
		return;
	}
	if (e->tev_ns == next)
		return;
	d = next > now ? next - now : 0;
	tv.tv_sec = (time_t)(d / 1000000000u);
	tv.tv_usec = (suseconds_t)(d % 1000000000u / 1000 + 1);
	e->tev_ns = next;
	event_add(&e->tev, &tv);
}

/* The worker's counts follow the endpoint's (what it did since the
 * last run). */
static void
ep_count(struct sl_h3ep *e)
{
	const struct sl_qend_stats *st = sl_qend_stats(e->qe);
	struct sl_worker_stats *ws = &e->w->stats;
	uint64_t per_ip = st->per_ip - e->seen.per_ip;

	SL_STAT_ADD(ws->quic_events[SL_H3_EV_ACCEPTED],
		    st->accepted - e->seen.accepted);
	SL_STAT_ADD(ws->quic_events[SL_H3_EV_CLOSED],
		    st->closed - e->seen.closed);
	SL_STAT_ADD(ws->quic_events[SL_H3_EV_RETRY],
		    st->retries - e->seen.retries);
	SL_STAT_ADD(ws->quic_events[SL_H3_EV_RESET],
		    st->resets - e->seen.resets);
	SL_STAT_ADD(ws->quic_events[SL_H3_EV_VNEG], st->vneg - e->seen.vneg);
	SL_STAT_ADD(ws->quic_events[SL_H3_EV_DROPPED],
		    st->dropped - e->seen.dropped);
	SL_STAT_ADD(ws->quic_events[SL_H3_EV_FULL], st->full - e->seen.full);
	/* one said (and counted) by h3_refused, the rest counted */
	if (per_ip > 0) {
		h3_refused(e, NULL, SL_H3_R_HANDSHAKES_PER_IP, -1,
			   "an address past max_handshakes_per_ip");
		SL_STAT_ADD(ws->h3_refused[SL_H3_R_HANDSHAKES_PER_IP],
			    per_ip - 1);
	}
	e->seen = *st;
}

/* A run: the connections on the run list (those a read, an
 * acknowledgment or an exchange touched), or every one (all: a timer, a
 * drain, a reload); then the timer for the next deadline. */
static void
ep_run(struct sl_h3ep *e, int all)
{
	uint64_t now = sl_mono_ns(), t;
	struct sl_h3conn *h, *next;

	sl_now_refresh();
	if (all) {
		e->head_ms = UINT64_MAX;
		TAILQ_FOREACH(h, &e->conns, link)
		conn_run(e, h, now);
	} else
		for (h = e->run; h != NULL; h = h->run_next)
			conn_run(e, h, now);
	/* the list, run or not (a dead connection waits on it), emptied */
	for (h = e->run, e->run = NULL; h != NULL; h = next) {
		next = h->run_next;
		h->f &= ~H3C_ON_LIST;
		if (h->f & H3C_DEAD)
			conn_free(h);
	}
	ep_count(e);
	t = sl_qend_run(e->qe, now);
	/* the header deadlines are of the loop's clock (ms), the
	 * endpoint's of the monotonic one (ns) */
	if (e->head_ms != UINT64_MAX)
		t = SL_MIN(t, now + (e->head_ms > now_ms()
					 ? (e->head_ms - now_ms()) * 1000000u
					 : 0));
	ep_arm(e, t, now);
}

static void
ep_on_run(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ep_run(arg, 0);
}

static void
ep_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_h3ep *e = arg;

	(void)fd;
	(void)what;
	e->tev_ns = 0;
	ep_run(e, 1);
}

static void
ep_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sl_h3ep *e = arg;
	uint8_t d[65536];

	(void)what;
	sl_now_refresh();
	if (e->l != NULL && e->l->http3.retry == SL_H3_RETRY_AUTO) {
		const struct sl_qend_stats *st = sl_qend_stats(e->qe);
		sl_qend_set_retry(e->qe,
				  st->conns - sl_qend_established(e->qe) >=
				      e->l->http3.retry_threshold);
	}
	for (int i = 0; i < READ_BATCH; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, d, sizeof(d), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		if (n < 0) {
			/* an ICMP error of a datagram sent earlier comes
			 * back as one of the socket's: counted, not fatal */
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				SL_STAT_INC(
				    e->w->stats
					.quic_events[SL_H3_EV_READ_ERROR]);
				continue;
			}
			break;
		}
		/* a drained endpoint takes no new connection: its datagrams
		 * of none are dropped (the other process or a restart's
		 * answer them) */
		sl_qend_input(e->qe, d, (size_t)n, (struct sockaddr *)&from, fl,
			      sl_mono_ns());
	}
	ep_run(e, 0);
}

/* What an endpoint takes of listener l (at its start and each reload). */
static void
ep_cfg(struct sl_qend_cfg *cfg, const struct sl_conf_listener *l)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ctx = sl_tls_server_ctx(l->tls.qctx);
	cfg->retry = l->http3.retry == SL_H3_RETRY_ALWAYS;
	cfg->max_conns = (size_t)l->http3.max_connections;
	cfg->max_handshakes_per_ip = (unsigned)l->http3.max_handshakes_per_ip;
	cfg->max_streams = l->limits.max_concurrent_streams;
	cfg->token_age_ms = 10000;
}

int
sl_h3_start(struct sl_worker *w, const struct sl_conf_listener *l, int fd,
	    unsigned slot)
{
	struct sl_h3ep *e = calloc(1, sizeof(*e));
	struct sl_qend_cfg cfg;

	if (e == NULL || l->tls.qctx == NULL)
		goto fail;
	e->w = w;
	e->l = l;
	e->lstate = l->state;
	e->fd = fd;
	TAILQ_INIT(&e->conns);
	e->local_len = sizeof(e->local);
	if (getsockname(fd, (struct sockaddr *)&e->local, &e->local_len) != 0)
		goto fail;
	ep_cfg(&cfg, l);
	cfg.worker = slot;
	cfg.key = h3_key;
	cfg.send = ep_send;
	cfg.opened = ep_opened;
	cfg.ended = ep_ended;
	cfg.arg = e;
	if ((e->qe = sl_qend_new(&cfg, (struct sockaddr *)&e->local,
				 e->local_len)) == NULL)
		goto fail;
	event_assign(&e->rev, w->base, fd, EV_READ | EV_PERSIST, ep_on_read, e);
	event_assign(&e->tev, w->base, -1, 0, ep_on_timer, e);
	event_assign(&e->run_ev, w->base, -1, 0, ep_on_run, e);
	if (event_add(&e->rev, NULL) != 0)
		goto fail;
	e->next = *eps_of(w);
	*eps_of(w) = e;
	return 0;
fail:
	if (e != NULL && e->qe != NULL)
		sl_qend_free(e->qe);
	free(e);
	close(fd);
	return -1;
}

void
sl_h3_reloaded(struct sl_worker *w)
{
	for (struct sl_h3ep *e = *eps_of(w); e != NULL; e = e->next) {
		struct sl_h3conn *h;
		e->l = e->draining && !e->retired ? NULL : listener_now(e);
		/* new streams run under the new generation, on the
		 * listener's new settings */
		TAILQ_FOREACH(h, &e->conns, link)
		{
			if (e->l == NULL)
				continue;
			sl_wgen_unref(w, h->gen);
			h->gen = w->gen;
			sl_wgen_ref(h->gen);
			h->lconf = e->l;
		}
		if (e->l == NULL && !e->draining) {
			e->draining = e->retired = 1;
			sl_qend_set_max_conns(e->qe, 0);
		} else if (e->l != NULL) {
			/* http3 back on its listener (its sockets were kept):
			 * the endpoint serves again */
			if (e->retired && !w->draining)
				e->draining = e->retired = 0;
			/* the new generation's TLS contexts and settings for
			 * the connections to come: the old generation's go
			 * with it */
			struct sl_qend_cfg cfg;
			ep_cfg(&cfg, e->l);
			sl_qend_reconfigure(e->qe, &cfg);
		}
		ep_run(e, 1);
	}
}

void
sl_h3_drain(struct sl_worker *w, int handover)
{
	for (struct sl_h3ep *e = *eps_of(w); e != NULL; e = e->next) {
		e->draining = 1;
		sl_qend_set_max_conns(e->qe, 0);
		if (handover)
			event_del(&e->rev);
		ep_run(e, 1);
	}
	if (handover)
		sl_h3_abort(w);
}

void
sl_h3_abort(struct sl_worker *w)
{
	for (struct sl_h3ep *e = *eps_of(w); e != NULL; e = e->next) {
		struct sl_h3conn *h;
		TAILQ_FOREACH(h, &e->conns, link)
		if (h->qc != NULL) {
			sl_qconn_fail(h->qc, SL_H3_NO_ERROR);
			sl_qend_close(e->qe, h->qc, sl_mono_ns());
		}
		ep_run(e, 1);
	}
}

size_t
sl_h3_conns(const struct sl_worker *w)
{
	size_t n = 0;

	for (const struct sl_h3ep *e = w->h3; e != NULL; e = e->next)
		n += sl_qend_stats(e->qe)->conns;
	return n;
}

void
sl_h3_worker_free(struct sl_worker *w)
{
	struct sl_h3ep *e;

	while ((e = *eps_of(w)) != NULL) {
		struct sl_h3conn *h;
		*eps_of(w) = e->next;
		event_del(&e->rev);
		event_del(&e->tev);
		event_del(&e->run_ev);
		/* every connection ends: ended marks each */
		while ((h = TAILQ_FIRST(&e->conns)) != NULL) {
			if (h->qc != NULL)
				sl_qend_close(e->qe, h->qc, sl_mono_ns());
			else
				conn_free(h);
		}
		sl_qend_free(e->qe);
		close(e->fd);
		free(e);
	}
}

int
sl_h3_socket_open(const struct sl_conf_listener *l)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->addr.ss;
	socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	int fd = socket(sa->sa_family,
			SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
	    on = 1, buf = 4 << 20;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
	    bind(fd, sa, len) != 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	/* bursts of a few connections' datagrams wait here */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	return fd;
}

int
sl_h3_route(int fd, unsigned nworkers)
{
	return sl_qroute_attach(fd, nworkers);
}
