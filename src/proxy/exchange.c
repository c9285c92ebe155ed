/* SPDX-License-Identifier: MIT */
/*
 * One proxied request/response exchange of a client connection, its core:
 * starting it (the request head checked, routed, its rate limits, a
 * cluster chosen, the mirror), pumping bytes between the two directions,
 * finishing it, its scheduling and deadlines (a switch over its phases,
 * exchange_int.h), and the upstream's events (an attempt connected, a
 * blocked request writable again). The top of the exchange's files: the
 * request direction (its body, writing upstream) is exchange_req.c's, the
 * response direction (head parsing, interim responses, pacing, output)
 * exchange_resp.c's, an HTTP/2 client's tunnel exchange_tun.c's, the
 * upstream attempts attempt.c's, the local answers exchange_answer.c's,
 * the access log exchange_log.c's; none of them calls back into this
 * file, and what they share is exchange_int.h. This file alone calls the
 * two directions and the tunnel, which never call each other: what one
 * of them leaves to another (a 101's switch, a tunnel's bytes, reading an
 * upstream whose write failed, a tunnel's new deadline) it returns as an
 * enum sl_txn_next, and this file takes that step. Parsing and
 * header rewriting are delegated to h1_parse/h1_msg. The connection under
 * the exchange is its stream (seam.h): the exchange calls its codec only
 * through the stream's operations, never client.c.
 */
#include "exchange.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "attempt.h"
#include "balance.h"
#include "exchange_int.h"
#include "forwarded.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "log.h"
#include "policy.h"
#include "rate.h"
#include "retry.h"
#include "rlcheck.h"
#include "route.h"
#include "route_index.h"
#include "runtime.h"
#include "tls.h"
#include "upstream.h"
#include "wloop.h"
#include "ws.h"
#include "xprt.h"

static void exchange_on_timer(evutil_socket_t, short, void *);
static SL_INLINE void txn_forward(struct sl_seam *s, struct sl_h1_request *req,
				  size_t head_len);
static void txn_forward_filters(struct sl_seam *s, const struct sl_wroute *wr,
				struct sl_h1_request *req, size_t head_len);
static void txn_upstream(struct sl_seam *s, const struct sl_wroute *wr,
			 struct sl_h1_request *req, struct sl_fhead *h);
static SL_INLINE int txn_filters(struct sl_seam *s, struct sl_fhead *h,
				 size_t head_len, unsigned from);

/* The request body bytes that came, checked and counted (exchange_req.c),
 * and an HTTP/2 tunnel's followed (exchange_tun.c). Returns -1 when the
 * exchange was turned into an error response. Not inlined: where it was
 * (the pump), the tunnel's `from` held a register across every call. */
static int txn_req_read(struct sl_seam *s) __attribute__((noinline));
static int
txn_req_read(struct sl_seam *s)
{
	uint32_t from = s->in_ready;
	int next = sl_exchange_req_read(s);

	if (next == SL_TXN_NEXT_TUNNEL_IN) {
		sl_exchange_xtun_in(s->txn, s->in.data + from,
				    s->in_ready - from);
		return 0;
	}
	return next;
}

static void txn_body_came(struct sl_seam *s);

/* txn_req_read, with one test when there are no bytes (most requests have
 * no body). */
static inline int
txn_req_advance(struct sl_seam *s)
{
	int r;

	if ((s->txn->req_ph == SL_TXN_REQ_DONE) || s->in.len == s->in_ready)
		return 0;
	r = txn_req_read(s);
	/* a filter waiting for the body's first bytes */
	if (r == 0 && s->txn != NULL && (s->txn->flags & SL_TXN_F_BODY_WAIT))
		txn_body_came(s);
	return r;
}
static void txn_choose_cluster(struct sl_seam *s, unsigned pick,
			       const struct sl_h1_request *req);

/* ---- closing --------------------------------------------------------- */

void
sl_exchange_free(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;

	if (t == NULL)
		return;
	s->ops->want_write(s, 0);
	/* tev stays armed for the struct's next request (no later than its
	 * deadline) or none (t->s NULL): event_del and event_add spared */
	sl_buf_release(&s->w->bufs, &t->out);
	if (t->flags & SL_TXN_F_FEV)
		event_del(&t->fw.ev);
	/* the route's filters let go of what they hold: a wait, a key
	 * still reserved, a compressor */
	if (t->flags & SL_TXN_F_FEND) {
		const struct sl_wroute *wr = &s->gen->routes[t->route->index];
		for (unsigned i = 0; i < wr->nfilt; i++) {
			const struct sl_filter *f = wr->filt[i];
			if (f->end != NULL)
				f->end(s);
		}
	}
	sl_attempt_dequeue(t);
	sl_attempt_release(s, 0);
	sl_attempt_done(t);
	sl_buf_release(&s->w->bufs, &t->uphead);
	if (t->flags & SL_TXN_F_TUN_SLOT) {
		sl_runtime_release(&s->lconf->state->tunnels);
		sl_runtime_tunnel_ip_release(s->lconf->state, t->tun_ip_slot);
	}
	if (t->flags & SL_TXN_F_TUNNEL) {
		/* HTTP/2's tunnel ends with its exchange */
		enum sl_tun_end e =
		    t->ws != NULL && t->ws->end != SL_TUN_NENDS
			? (enum sl_tun_end)t->ws->end
		    : t->error != NULL &&
			    strcmp(t->error, "tunnel_idle_timeout") == 0
			? SL_TUN_IDLE_TIMEOUT
		    : t->error != NULL &&
			    strcmp(t->error, "tunnel_lifetime") == 0
			? SL_TUN_LIFETIME
		    : t->error != NULL && strcmp(t->error, "send_timeout") == 0
			? SL_TUN_SEND_TIMEOUT
		    : t->error != NULL && strcmp(t->error, "min_send_rate") == 0
			? SL_TUN_MIN_SEND_RATE
		    : t->up_ph == SL_TXN_UP_DONE   ? SL_TUN_UPSTREAM_CLOSED
		    : t->req_ph == SL_TXN_REQ_DONE ? SL_TUN_CLIENT_CLOSED
						   : SL_TUN_CLIENT_ERROR;
		SL_STAT_ADD(s->w->stats.tunnels_open, -1);
		SL_STAT_INC(s->w->stats.tunnels_closed[e]);
	}
	free(t->ws);
	t->ws = NULL;
	if (t->pipe != NULL)
		sl_exchange_splice_end(s);
	t->s = NULL;
	t->next_free = s->w->free_txns;
	s->w->free_txns = t;
	s->txn = NULL;
}

void
sl_exchange_txns_free(struct sl_worker *w)
{
	while (w->free_txns != NULL) {
		struct sl_txn *t = w->free_txns;
		w->free_txns = t->next_free;
		event_del(&t->tev);
		sl_exchange_keep_free(t);
		free(t);
	}
}

/* ---- local responses ---------------------------------------------------*/

struct sl_txn *
sl_exchange_new(struct sl_seam *s, uint64_t start_ms)
{
	struct sl_worker *w = s->w;
	struct sl_txn *t = w->free_txns;
	uint64_t armed_ms = t != NULL ? t->clk.armed_ms : 0; /* still armed */

	if (t != NULL)
		w->free_txns = t->next_free;
	else if ((t = calloc(1, sizeof(*t) + sl_filter_slot_bytes)) == NULL)
		return NULL;
	else /* new, fw.kept NULL: its timer assigned for good */
		evtimer_assign(&t->tev, w->base, exchange_on_timer, t);
	/* no wake of this request takes a head kept for another's */
	t->fw.kept_base = NULL;
	/* the filters' slots are theirs to make (sl_filters_begin) */
	memset(t, 0, offsetof(struct sl_txn, att.fails));
	t->request_id[0] = t->note.method[0] = t->note.path[0] =
	    t->note.host[0] = '\0';
	t->note.referer[0] = t->note.user_agent[0] = '\0';
	t->note.raw = 0;
	t->clk.start_ms = start_ms;
	t->clk.armed_ms = armed_ms;
	t->s = s;
	t->on_upstream = sl_exchange_on_upstream;
	/* the request's client, until something more is known of it */
	(void)sl_ip_from_sockaddr((const struct sockaddr *)&s->peer,
				  &t->client_addr);
	s->txn = t;
	return t;
}

struct event *
sl_exchange_codec_event(struct sl_txn *t)
{
	return &t->codec_ev;
}

/* Counts a client cut for being slow or silent; the send timeouts are
 * said at info (the others are logged with the 408 they answer). */
static void
txn_count_timeout(struct sl_seam *s, struct sl_txn *t, enum sl_timeout_reason r)
{
	SL_STAT_INC(s->w->stats.timeouts[r]);
	if ((r == SL_TO_SEND || r == SL_TO_SEND_RATE) &&
	    sl_log_enabled(SL_LOG_INFO)) {
		char peer[SL_PEER_MAX];
		log_info("conn=%llu peer=%s request_id=%s: %s",
			 (unsigned long long)s->id,
			 sl_exchange_peer_str(s, t, peer, sizeof(peer)),
			 t->request_id, sl_timeout_reason_str(r));
	}
}

void
sl_exchange_closed(struct sl_seam *s, const char *reason)
{
	struct sl_txn *t = s->txn;

	t->error = t->error ? t->error : reason;
	if (t->status == 0)
		t->status = 499; /* client went away */
	sl_exchange_log(s, t);
	sl_exchange_free(s);
}

void
sl_exchange_last(struct sl_seam *s)
{
	s->txn->flags |= SL_TXN_F_CLOSE;
}

int
sl_exchange_reading(const struct sl_seam *s)
{
	return s->txn->req_ph != SL_TXN_REQ_DONE;
}

/* 417 may keep the connection (doc/contracts.md section 3.2); every
 * other request error closes it. */
static int
status_closes(int status)
{
	return status != 417;
}

/* ---- starting an exchange --------------------------------------------- */

/* The connection ends after this request: the client asks for it (RFC
 * 9112 section 9.3), or the gateway does (the connection's last request
 * under max_requests, a draining worker, a listener a reload removed). */
static int
req_ends_connection(const struct sl_seam *s, const struct sl_h1_request *req)
{
	const struct sl_conf_limits *lim = &s->lconf->limits;

	return !sl_h1_persists(req->minor, req->flags) ||
	       (lim->max_requests && s->nrequests + 1 >= lim->max_requests) ||
	       s->w->draining || (s->flags & SL_SEAM_F_RETIRED);
}

/* Whether the request carries a non-empty Idempotency-Key (the IETF
 * draft's field, what payment APIs ask their clients for). */
static int
has_idempotency_key(const struct sl_h1_request *req)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (h->value_len > 0 &&
		    sl_h1_ieq(h->name, h->name_len, "idempotency-key"))
			return 1;
	}
	return 0;
}

/*
 * What the route's retry policy needs to know of the request: whether it
 * may be sent twice, the per-try timeout, whether its body is kept until
 * the answer (so that a retry can send it again: a body of up to
 * buffer_bytes, or a chunked one while it fits) and the overall deadline
 * once the request is complete.
 */
static void
txn_retry_setup(struct sl_seam *s, const struct sl_h1_request *req)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_retry *p = &t->route->retry;

	if (sl_retry_idempotent(req->method_id) ||
	    (p->idempotency_key && has_idempotency_key(req)))
		t->flags |= SL_TXN_F_IDEMPOTENT;
	t->clk.try_timeout_ms = p->per_try_timeout_ms ? p->per_try_timeout_ms
						      : t->route->timeout_ms;
	if (p->attempts > 1 &&
	    (req->body == SL_H1_BODY_CHUNKED ||
	     req->body == SL_H1_BODY_STREAM ||
	     (req->body == SL_H1_BODY_LENGTH &&
	      req->content_length <= s->lconf->limits.buffer_bytes)))
		t->body_ph = SL_TXN_BODY_KEPT;
	if (t->req_ph == SL_TXN_REQ_DONE)
		t->clk.deadline_ms = now_ms() + t->route->timeout_ms;
}

/*
 * The request head at in.off, head_len bytes: parsed from HTTP/1.1 text,
 * or taken as its codec built it (HTTP/2: s->ops->head), the same checks
 * applied either way. req's headers are the worker's. Returns as
 * sl_h1_parse_request; *text_len gets the head's size as text.
 */
static SL_INLINE int
txn_head(struct sl_seam *s, size_t head_len, struct sl_h1_request *req,
	 size_t *text_len)
{
	const struct sl_conf_limits *lim = &s->lconf->limits;
	struct sl_h1_limits hl = {lim->max_uri_bytes, lim->max_header_bytes,
				  lim->max_headers};

	memset(req, 0, sizeof(*req));
	req->headers = s->w->hdrs;
	req->max_headers = SL_MIN(s->w->max_hdrs, lim->max_headers);
	if (s->ops->head != NULL)
		return s->ops->head(s, req, &hl, text_len);
	*text_len = head_len;
	return sl_h1_parse_request(s->in.data + s->in.off, head_len, req, &hl);
}

/*
 * A complete head of head_len bytes is at in.off: parse it, route it,
 * prepare the upstream head and get an upstream connection.
 */
void
sl_exchange_start(struct sl_seam *s, size_t head_len)
{
	struct sl_worker *w = s->w;
	struct sl_h1_request req;
	struct sl_txn *t = s->txn;
	const char *rule;
	size_t text_len;
	int r;

	t->req_ph = SL_TXN_REQ_BODY;
	/* the body's clock starts with the head (txn_upstream starts it
	 * again once the route's checks are done) */
	t->clk.last_read_ms = now_ms();
	r = txn_head(s, head_len, &req, &text_len);
	t->bytes_in = text_len;
	if (r == 0 || req.method != NULL) {
		/* known from the request line on: even an error answer must
		 * be framed for it (no body after HEAD, the client's version)
		 */
		t->method_id = req.method_id;
		t->minor = req.minor;
	}
	if (r == 0) {
		sl_exchange_note(t, req.method, req.method_len, req.path,
				 req.path_len, req.host, req.host_len);
		if (sl_access_enabled())
			sl_exchange_note_agent(t, &req);
	}
	if (r < 0) {
		/* what the logs need of a refused head, read leniently */
		sl_exchange_salvage(t, s->in.data + s->in.off, head_len);
		s->in.off += (uint32_t)head_len;
		s->in_ready = s->in.off;
		/* a 417 without a body leaves the connection in sync */
		if (r == -417 && req.body == SL_H1_BODY_NONE)
			t->req_ph = SL_TXN_REQ_DONE;
		sl_worker_request_id(w, t->request_id);
		t->why = req.why;
		SL_STAT_INC(w->stats.rejected[req.why]);
		sl_exchange_local(s, -r, sl_exchange_status_code_name(-r),
				  status_closes(-r) ||
				      req_ends_connection(s, &req));
		return;
	}
	/* identity: who the client is, before anything keyed on it (a
	 * trusted proxy's forwarded fields, doc/edge.md section 3) */
	if (s->lconf->trusted_proxies.n > 0 || s->lconf->untrusted_forwarded) {
		struct sl_fwd fwd = {.xff = SL_FWD_APPEND};
		if (sl_forwarded_settle(s->lconf, &req, &t->client_addr, &fwd))
			t->flags |= SL_TXN_F_FWD_CLIENT;
		t->fwd.xff = (uint8_t)fwd.xff;
		t->fwd.cut_hdr = (uint16_t)fwd.cut_hdr;
		t->fwd.cut_off = (uint32_t)fwd.cut_off;
	}
	if (sl_h1_client_request_id(&req, t->request_id))
		t->flags |= SL_TXN_F_CLIENT_RID;
	else
		sl_worker_request_id(w, t->request_id);
	if (req_ends_connection(s, &req))
		t->flags |= SL_TXN_F_CLOSE;
	t->req.body = req.body;
	/* a tunnel over HTTP/2: its body is the tunnel's bytes to the
	 * stream's end */
	if (s->flags & SL_SEAM_F_XCONNECT)
		t->req.body = SL_H1_BODY_CLOSE;
	t->req.remaining = req.content_length;
	s->in.off += (uint32_t)head_len;
	s->in_ready = s->in.off;
	if (t->req.body == SL_H1_BODY_NONE)
		t->req_ph = SL_TXN_REQ_DONE;

	if ((rule = sl_policy_check(s->lconf->policy, &t->client_addr)) !=
	    NULL) {
		sl_exchange_forbid(s, rule);
		return;
	}
	if (s->lconf->acme_http && sl_exchange_acme(s, &req))
		return;
	t->route = sl_route_match(s->lconf, &req);
	if (t->route == NULL) {
		sl_exchange_local(s, 404, "no_route", 0);
		return;
	}
	/* a route's counters are made at its first request (runtime.h):
	 * without them it cannot be counted, nor served */
	if (sl_runtime_route_counts(t->route->state) == NULL) {
		t->route = NULL;
		sl_exchange_local(s, 503, "out_of_memory", 0);
		return;
	}
	if (req.body == SL_H1_BODY_CHUNKED &&
	    sl_exchange_req_dechunk(s, &req) == -1)
		return;
	txn_forward(s, &req, head_len);
}

/*
 * A request on a route with upgrade: (doc/websocket.md): when its Upgrade
 * names a protocol the route allows (with Connection: upgrade), it is
 * checked (ws.c), takes one of the listener's max_tunnels and of
 * max_tunnels_per_ip (held until the tunnel ends), and goes upstream
 * asking for it. Any other Upgrade is dropped as hop-by-hop. Returns -1
 * when it was refused (answered).
 */
static int
txn_upgrade(struct sl_seam *s, const struct sl_h1_request *req)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_route *r = t->route;
	struct sl_lstate *ls = s->lconf->state;
	const char *code = NULL, *fields = NULL;
	struct sockaddr_storage sa;
	socklen_t salen;
	size_t idx = 0;
	int v, slot;

	/* no Connection field names anything but close or keep-alive: no
	 * switch is asked (the parser's flag: a route allowing upgrades
	 * costs other requests one test) */
	if (!(req->flags & SL_H1_F_CONN_OTHER) || r->nupgrade > 254 ||
	    (s->ops->tunnel == NULL && !(s->flags & SL_SEAM_F_XCONNECT)))
		return 0;
	v = sl_ws_request(req, r->upgrade, r->nupgrade, &idx, t->ws_accept,
			  &code, &fields);
	/* an extended CONNECT is a switch or nothing */
	if ((s->flags & SL_SEAM_F_XCONNECT) &&
	    (v == 0 || strcmp(r->upgrade[idx], "websocket") != 0)) {
		sl_exchange_local(s, 400, "bad_upgrade", 1);
		return -1;
	}
	if (v == 0)
		return 0;
	if (v < 0) {
		/* the other protocol's bytes may follow: the answer closes */
		sl_exchange_answer(s, 400, code, 1, fields);
		return -1;
	}
	if (!sl_runtime_take(&ls->tunnels, s->lconf->limits.max_tunnels)) {
		atomic_fetch_add(&s->lconf->counters->rejected_tunnels, 1);
		sl_exchange_local(s, 503, "tunnel_limit", 1);
		return -1;
	}
	sl_ip_to_sockaddr(&t->client_addr, 0, &sa, &salen);
	slot = sl_runtime_tunnel_ip_take(ls, (struct sockaddr *)&sa,
					 s->lconf->limits.max_tunnels_per_ip);
	if (slot == -1) {
		sl_runtime_release(&ls->tunnels);
		atomic_fetch_add(&s->lconf->counters->rejected_tunnels_per_ip,
				 1);
		sl_exchange_local(s, 503, "tunnel_limit", 1);
		return -1;
	}
	t->tun_ip_slot = slot;
	t->flags |= SL_TXN_F_TUN_SLOT;
	t->upgrade = (uint8_t)(idx + 1);
	/* a refused upgrade leaves bytes of the other protocol behind it:
	 * the connection ends with the answer */
	t->flags |= SL_TXN_F_CLOSE;
	return 0;
}

/* A checked 101 (exchange_resp.c, SL_TXN_NEXT_SWITCH): the response head
 * is in out, the upstream's bytes after it in t->up's buffer; the codec
 * takes both sides as a tunnel. Returns -1: the exchange is the codec's
 * now (or failed). */
static int
txn_upgraded(struct sl_seam *s, int ws)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;

	/* the attempt is over: the connection is the tunnel's, never a
	 * pool's again */
	sl_upstream_active_add(t->wc->eps[t->ep_index], -1);
	t->up = NULL;
	sl_attempt_done(t);
	event_del(&t->tev);
	t->clk.armed_ms = 0;
	if (s->ops->tunnel(s, u, ws) == -1) {
		sl_upstream_active_add(t->wc->eps[t->ep_index], 1);
		t->up = u;
		s->ops->close(s, "out_of_memory");
	}
	return -1;
}

struct sl_buf *
sl_exchange_tunnel_head(struct sl_txn *t)
{
	return &t->out;
}

void
sl_exchange_tunnel_end(struct sl_seam *s, uint64_t bytes_in, uint64_t bytes_out)
{
	struct sl_txn *t = s->txn;

	t->bytes_in += bytes_in;
	t->bytes_out += bytes_out;
	sl_exchange_log(s, t);
	sl_exchange_free(s);
}

/* An HTTP/2 client's tunnel (exchange_tun.c) drains: its deadlines move. */
void
sl_exchange_tunnel_reloaded(struct sl_seam *s)
{
	if (s->txn != NULL &&
	    sl_exchange_xtun_reloaded(s, s->txn) == SL_TXN_NEXT_SCHEDULE)
		sl_exchange_schedule(s);
}

void
sl_exchange_tunnel_drain(struct sl_seam *s)
{
	if (s->txn != NULL &&
	    sl_exchange_xtun_stop(s->txn) == SL_TXN_NEXT_SCHEDULE)
		sl_exchange_schedule(s);
}

/*
 * Whether the upstream head goes as a head block (hblock.h), which an
 * HTTP/2 upstream (h2up.c) takes without parsing: every attempt of the
 * request goes to one HTTP/2 cluster (a route's cluster, not a split
 * whose failover may cross to HTTP/1.1), and no copy of the head goes
 * anywhere else as text (a mirror) or asks for an upgrade.
 */
static inline int
txn_up_fields(const struct sl_txn *t)
{
	const struct sl_conf_route *r = t->route;

	return r->cluster != NULL &&
	       r->cluster->protocol != SL_UP_PROTO_HTTP1 &&
	       !(t->fops & SL_FOP_TEXT_HEAD) && t->upgrade == 0;
}

/* ---- the route's filters (filter.h) ------------------------------------ */

void
sl_exchange_filters_woken(struct sl_txn *t)
{
	struct sl_seam *s = t->s;
	struct sl_fhead fresh, *h;

	/* one wake a wait (a filter's event for an exchange made anew is
	 * not its request's); the wait is over, whatever comes of it (an
	 * exchange answered meanwhile may still read a body: its clock runs
	 * again) */
	if (s->txn != t || !(t->flags & SL_TXN_F_FWAIT))
		return;
	t->flags &= ~(SL_TXN_F_HELD | SL_TXN_F_FWAIT);
	sl_now_refresh();
	if ((h = sl_exchange_unkeep(s, t, t->fw.head_len, &fresh)) == NULL)
		return;
	/* the run resumes at the filter that waited, with what those before
	 * it found in h */
	if (txn_filters(s, h, t->fw.head_len, t->fw.at) == 0)
		txn_upstream(s, &s->gen->routes[t->route->index], h->req, h);
	/* the kept head is no longer read unless the exchange (maybe
	 * another request's by now) waits again */
	if (t->fw.kept_base == NULL)
		sl_exchange_kept_done(t);
	s->ops->resume(s);
}

/* The body bytes a filter waits for are here: the run resumes at it, from
 * the loop (not from inside the pump that read them). */
static void
txn_on_body(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sl_now_refresh();
	sl_exchange_filters_woken(arg);
}

int
sl_exchange_body_wait(struct sl_seam *s, size_t want)
{
	struct sl_txn *t = s->txn;

	if (sl_exchange_body_ready(s, s->in.off, want))
		return 1;
	t->fw.body_want = (uint32_t)SL_MIN(want, (size_t)UINT32_MAX);
	t->flags |= SL_TXN_F_BODY_WAIT;
	return 0;
}

/* Body bytes came while a filter waits for them (SL_TXN_F_BODY_WAIT; the
 * head is kept at in.off): once there are enough, the run resumes at it. */
static void
txn_body_came(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;

	if (!sl_exchange_body_ready(s, s->in.off + t->fw.head_len,
				    t->fw.body_want))
		return;
	t->flags &= ~SL_TXN_F_BODY_WAIT;
	if (!(t->flags & SL_TXN_F_FEV)) {
		evtimer_assign(&t->fw.ev, s->w->base, txn_on_body, t);
		t->flags |= SL_TXN_F_FEV;
	}
	event_active(&t->fw.ev, EV_TIMEOUT, 1);
}

/* The route's limit on a body's length: its own max_body_bytes, or the
 * listener's (a chunked body is counted as it is read, exchange_req.c).
 * Returns -1 when the request was answered 413. */
static int
txn_body_limit(struct sl_seam *s, const struct sl_h1_request *req)
{
	const struct sl_conf_route *r = s->txn->route;

	if (req->body == SL_H1_BODY_LENGTH && r->max_body_bytes &&
	    req->content_length > r->max_body_bytes) {
		sl_exchange_reject(s, 413, SL_H1_R_BODY_TOO_LARGE);
		return -1;
	}
	return 0;
}

/*
 * Runs the route's filters on the request's head (head_len bytes, in.off
 * past them) from the from-th (0, or where a wait stopped the run: the
 * filters before it ran, and the route's body limit too unless the one
 * that waited runs before it). Returns 0 when the request goes on, -1 when
 * a filter keeps it (the head goes back in front of in.off, its parse and
 * h kept for the wake: exchange_kept.c) or answered it.
 */
static SL_INLINE int
txn_filters(struct sl_seam *s, struct sl_fhead *h, size_t head_len,
	    unsigned from)
{
	struct sl_txn *t = s->txn;
	const struct sl_wroute *wr = &s->gen->routes[t->route->index];
	int limited = from > 0 && wr->filt[from]->phase != SL_FPHASE_ACCESS;

	for (unsigned i = from; i < wr->nfilt; i++) {
		const struct sl_filter *f = wr->filt[i];
		int r;

		if (!limited && f->phase != SL_FPHASE_ACCESS) {
			if (txn_body_limit(s, h->req) != 0)
				return -1;
			limited = 1;
		}
		if (f->req_head == NULL ||
		    (r = f->req_head(s, h)) == SL_FILTER_GO)
			continue;
		if (r == SL_FILTER_WAIT) {
			/* the head stays in `in` (a compaction keeps it at
			 * in.off), its parse and h kept; the body's clock
			 * stops unless the filter waits for the body itself.
			 * The wake resumes the run at this filter. */
			t->fw.head_len = (uint32_t)head_len;
			t->fw.at = (uint8_t)i;
			s->in.off -= (uint32_t)head_len;
			if (sl_exchange_keep(s, t, h) != 0) {
				/* no memory to keep it: answered, and the
				 * filter's wake finds no wait (its end lets
				 * go of what it holds) */
				s->in.off += (uint32_t)head_len;
				t->flags &= ~SL_TXN_F_BODY_WAIT;
				sl_exchange_local(s, 503, "out_of_memory", 0);
				return -1;
			}
			t->flags |= SL_TXN_F_FWAIT;
			if (!(t->flags & SL_TXN_F_BODY_WAIT))
				t->flags |= SL_TXN_F_HELD;
		} else if (r == SL_FILTER_ANSWER && txn_req_advance(s) != -1 &&
			   s->txn == t)
			f->answer(s);
		return -1;
	}
	if (!limited && txn_body_limit(s, h->req) != 0)
		return -1;
	/* every filter let it on: their fields for the upstream head */
	if (wr->fops & SL_FOP_REQ_FIELDS)
		for (unsigned i = 0; i < wr->nfilt; i++)
			if (wr->filt[i]->req_fields != NULL)
				wr->filt[i]->req_fields(s, h);
	return 0;
}

/* A route without filters' fhead: empty, never written (txn_upstream
 * writes one only for filters). */
static const struct sl_fhead txn_no_fhead;

/*
 * The request is routed: its route's filters run on it (a wait resumes
 * them at sl_exchange_filters_woken), then it goes upstream. Inline in its
 * one caller: a request of a route without filters costs one call, to
 * txn_upstream, and no struct sl_fhead (5 KiB of stack).
 */
static SL_INLINE void
txn_forward(struct sl_seam *s, struct sl_h1_request *req, size_t head_len)
{
	struct sl_txn *t = s->txn;
	const struct sl_wroute *wr = &s->gen->routes[t->route->index];

	/* the route's filters' operations (a route without filters pays one
	 * test) */
	if ((t->fops = wr->fops) != 0)
		txn_forward_filters(s, wr, req, head_len);
	else if (txn_body_limit(s, req) == 0)
		txn_upstream(s, wr, req, (struct sl_fhead *)&txn_no_fhead);
}

/* txn_forward, for a route with filters: the state of those that keep
 * one, and the run's struct sl_fhead when they see the request's head. */
static void
txn_forward_filters(struct sl_seam *s, const struct sl_wroute *wr,
		    struct sl_h1_request *req, size_t head_len)
{
	struct sl_txn *t = s->txn;
	struct sl_fhead h;

	if (wr->fops & SL_FOP_BEGIN)
		sl_filters_begin(t, wr);
	/* the route's filters: who the caller is, what the rules say,
	 * before anything of the request goes on or takes a tunnel's place
	 * (doc/auth.md) */
	h.extra = NULL;
	h.mark = NULL;
	h.split_pick = 0;
	if (wr->fops & SL_FOP_REQ_HEAD) {
		h.req = req;
		h.caller = NULL;
		h.caller_len = 0;
		h.room_used = 0;
		if (txn_filters(s, &h, head_len, 0) != 0)
			return;
	} else if (txn_body_limit(s, req) != 0)
		return;
	txn_upstream(s, wr, req, &h);
}

/*
 * The request passed its route's checks (wr: its route's; h: what its
 * filters found for the head sent upstream, txn_no_fhead without filters),
 * once: its cluster, its upstream head, a mirror copy, and the first
 * upstream attempt.
 */
static void
txn_upstream(struct sl_seam *s, const struct sl_wroute *wr,
	     struct sl_h1_request *req, struct sl_fhead *h)
{
	struct sl_worker *w = s->w;
	const struct sl_conf_limits *lim = &s->lconf->limits;
	struct sl_txn *t = s->txn;
	char ip[64];
	struct sl_fwd fwd;
	struct sl_hdr_vars vars;
	uint32_t tp_at = 0;
	size_t cap_max;
	long n;
	int block;

	fwd.extra = h->extra;
	fwd.extra_lens = fwd.extra != NULL ? fwd.extra->drop_lens : 0;
	if ((t->route->upgrade != NULL || (s->flags & SL_SEAM_F_XCONNECT)) &&
	    txn_upgrade(s, req) == -1)
		return;
	/* a tunnel's request never ends before its answer: the route's
	 * timeout bounds the wait for the 101 from now */
	if (s->flags & SL_SEAM_F_XCONNECT)
		t->clk.deadline_ms = now_ms() + t->route->timeout_ms;
	txn_choose_cluster(s, h->split_pick, req);
	txn_retry_setup(s, req);
	/* a gRPC call's deadline runs from its start, while its request
	 * streams too; the route's, once it is whole, never passes it */
	if ((s->flags & SL_SEAM_F_GRPC) && s->grpc_timeout_ms != 0) {
		t->grpc.deadline_ms = t->clk.start_ms + s->grpc_timeout_ms;
		if (t->clk.deadline_ms == 0 ||
		    t->grpc.deadline_ms < t->clk.deadline_ms)
			t->clk.deadline_ms = t->grpc.deadline_ms;
	}

	/* the head as the client sent it and the fields sluice adds, most
	 * often: the buffer grows below when rules or a filter's fields
	 * need more (a buffer of max_header_bytes a request in flight was
	 * 64 KiB a gRPC call where its head takes a few hundred bytes) */
	if (sl_buf_alloc(&w->bufs, &t->uphead,
			 SL_MIN(sl_exchange_head_cap(s),
				(size_t)t->bytes_in + 1024)) == -1) {
		sl_exchange_local(s, 503, "out_of_memory", 0);
		return;
	}
	fwd.client_ip = sl_ip_str(&t->client_addr, ip, sizeof(ip));
	fwd.proto = (s->flags & SL_SEAM_F_TLS) ? "https" : "http";
	fwd.subject_header = s->lconf->tls.client_subject_header;
	fwd.subject = s->tls_subject;
	fwd.request_id = t->request_id;
	fwd.default_host = s->lconf->addr.text;
	fwd.xff = (enum sl_fwd_xff)t->fwd.xff;
	fwd.cut_hdr = t->fwd.cut_hdr;
	fwd.cut_off = t->fwd.cut_off;
	fwd.vars = NULL;
	fwd.upgrade = t->upgrade ? t->route->upgrade[t->upgrade - 1] : NULL;
	fwd.rules =
	    sl_exchange_rules(s, 1, &vars, &fwd.vars, fwd.client_ip, ip);
	/* a filter's mark (a trace's traceparent, rewritten for each
	 * attempt): where it goes */
	fwd.mark = h->mark;
	fwd.mark_at = &tp_at;
	/* a head that does not fit gets a buffer twice as large, up to the
	 * buffer a head of max_header_bytes had (the first power of two at
	 * or past it, as the doubling reaches; twice that for a block,
	 * which takes a few bytes a field more than its text) */
	block = txn_up_fields(t); /* the upgrade is known (txn_upgrade) */
	cap_max =
	    SL_MAX(sl_exchange_head_cap(s), (size_t)1 << SL_BUF_MIN_SHIFT) *
	    (block ? 2 : 1);
	for (;;) {
		if (block)
			n = sl_h1_block_request_head(t->uphead.data,
						     t->uphead.cap, req, &fwd);
		else
			n = sl_h1_write_request_head(t->uphead.data,
						     t->uphead.cap, req, &fwd);
		if (n >= 0 || t->uphead.cap >= cap_max ||
		    sl_buf_grow(&w->bufs, &t->uphead,
				(size_t)t->uphead.cap * 2) == -1)
			break;
	}
	if (n < 0) {
		/* the head with the fields sluice adds does not fit */
		sl_exchange_reject(s, 431, SL_H1_R_HEAD_TOO_LARGE);
		return;
	}
	t->uphead.len = (uint32_t)n;
	/* a body of pieces to a peer of text goes chunked (the head says
	 * so: sl_h1_write_request_head) */
	t->req.framed = req->body == SL_H1_BODY_STREAM && !block;
	/* the filters see the head as it goes (a trace notes its mark, a
	 * mirror copies it; h is theirs: txn_forward) */
	if (wr->fops & SL_FOP_UP_HEAD) {
		h->req = req;
		h->mark_at = tp_at;
		for (unsigned i = 0; i < wr->nfilt; i++)
			if (wr->filt[i]->up_head != NULL)
				wr->filt[i]->up_head(s, h);
	}
	/* a request without a body is all in uphead now: an empty head
	 * buffer goes back to the pool while the exchange lasts (req's
	 * strings are not used past this point) */
	if (req->body == SL_H1_BODY_NONE && sl_buf_pending(&s->in) == 0 &&
	    s->in_ready == s->in.len) {
		sl_buf_release(&w->bufs, &s->in);
		s->in_ready = 0;
	}

	/* 100-continue: we ask for the body ourselves, once we are about to
	 * read it; the upstream never sees Expect */
	if ((req->flags & SL_H1_F_EXPECT_CONTINUE) && req->minor >= 1 &&
	    req->body != SL_H1_BODY_NONE && sl_buf_pending(&s->in) == 0)
		sl_exchange_continue(s);
	s->txn->clk.last_read_ms = now_ms();
	if (req->body != SL_H1_BODY_NONE && lim->min_body_rate_bps > 0)
		sl_rate_start(&t->body_rate, s->txn->clk.last_read_ms);
	sl_attempt_start(s);
}

/*
 * The cluster of the route that takes this request: its cluster, or one of
 * its split: the entry a filter chose (pick, plus one: a script's
 * r:cluster), else by the sticky key's race when the request has the key,
 * else in turn by weight (smooth weighted round robin, per worker). With a hash
 * balancer, its key is hashed now, while the request's fields are here.
 */
static void
txn_choose_cluster(struct sl_seam *s, unsigned pick,
		   const struct sl_h1_request *req)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_route *r = t->route;
	const struct sl_conf_cluster *cc = r->cluster;
	const void *key;
	size_t len;

	if (cc == NULL) {
		const uint32_t *w = sl_exchange_split_weights(s, r);
		size_t i;
		if (pick > 0 && pick <= r->nsplit)
			i = pick - 1; /* a filter chose it (a script's) */
		else if (r->sticky.source != SL_KEY_NONE &&
			 sl_route_key(&r->sticky, req, &t->client_addr, &key,
				      &len)) {
			/* kept: a failover takes the key's next choice */
			t->sticky_key = sl_hash64(key, len);
			t->flags |= SL_TXN_F_STICKY_KEY;
			i = sl_balance_race(t->sticky_key, r->split_ids, w,
					    r->nsplit, NULL);
		} else
			i = sl_balance_swrr(s->gen->routes[r->index].swrr, w,
					    r->nsplit, NULL);
		cc = r->split[i].cluster;
		t->att.split_first = i < 64 ? (uint8_t)i : 0xff;
	}
	t->wc = &s->gen->clusters[cc->index];
	if (cc->balance == SL_BALANCE_HASH &&
	    sl_route_key(&cc->hash_key, req, &t->client_addr, &key, &len)) {
		t->hash_key = sl_hash64(key, len);
		t->flags |= SL_TXN_F_HASH_KEY;
	}
}

/* ---- scheduling and deadlines ---------------------------------------- */

/*
 * Is the upstream on the clock (per-try timeout) in an attempt's phase
 * (SENDING, WAITING, RECEIVING)? Only while the exchange waits for it:
 * for a write to go, or, with the whole request out, for bytes while it is
 * read (not while it waits for a slow client: read interest is off then).
 */
static inline int
up_on_clock(const struct sl_txn *t, const struct sl_upconn *u)
{
	return (t->send_ph == SL_TXN_SEND_DONE && u->rev_on) ||
	       t->send_ph == SL_TXN_SEND_BLOCKED;
}

/*
 * Whether the request body's body_timeout runs: while its codec reads it,
 * and not while a filter holds the request (SL_TXN_F_HELD: a lease, a key
 * set's fetch, a WAF thread, a service; the gateway's doing, as a body
 * held back by the upstream is).
 */
static inline int
body_clock_runs(const struct sl_seam *s, const struct sl_txn *t)
{
	return (s->flags & SL_SEAM_F_READING) && !(t->flags & SL_TXN_F_HELD);
}

/*
 * Arms the exchange's timer for the nearest of the deadlines its phases
 * have, and turns the upstream's read interest back on when there is room:
 * the client's (send_timeout while its socket is full, min_send_rate while
 * it is sent the upstream's answer), the route's until a response head
 * came, the upstream's by its phase, the request body's while it is read.
 */
void
sl_exchange_schedule(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	uint64_t x = UINT64_MAX, d;

	if (s->flags & SL_SEAM_F_WBLOCK)
		x = SL_MIN(x, t->clk.last_write_ms +
				  s->lconf->limits.send_timeout_ms);
	if (t->send_rate.start_ms != 0 && t->resp_ph != SL_TXN_RESP_LOCAL)
		x = SL_MIN(x, t->send_rate.next_ms);
	if (t->flags & SL_TXN_F_TUNNEL) {
		x = SL_MIN(x, sl_exchange_xtun_deadline(s, t));
		if (u != NULL && !u->rev_on && t->pace != SL_TXN_PACE_PAUSED &&
		    (u->in.data == NULL || sl_buf_space(&u->in) > 0 ||
		     u->in.off > 0))
			sl_upstream_want_read(u, 1);
		goto arm;
	}
	/* the route's deadline holds until a response head came */
	if (t->clk.deadline_ms != 0 && t->resp_ph == SL_TXN_RESP_NONE)
		x = SL_MIN(x, t->clk.deadline_ms);
	switch ((enum sl_txn_up_phase)t->up_ph) {
	case SL_TXN_UP_QUEUED:
		x = SL_MIN(x, t->clk.queue_deadline_ms);
		break;
	case SL_TXN_UP_BACKOFF:
		x = SL_MIN(x, t->clk.retry_at_ms);
		break;
	case SL_TXN_UP_CONNECTING:
		x = SL_MIN(x, t->clk.connect_deadline_ms);
		break;
	case SL_TXN_UP_SENDING:
	case SL_TXN_UP_WAITING:
	case SL_TXN_UP_RECEIVING:
		/* resume reading the upstream once there is room (paced:
		 * once the client's socket has room) */
		if (!u->rev_on && t->pace != SL_TXN_PACE_PAUSED &&
		    (u->in.data == NULL || sl_buf_space(&u->in) > 0 ||
		     u->in.off > 0))
			sl_upstream_want_read(u, 1);
		if (up_on_clock(t, u))
			x = SL_MIN(x, t->clk.up_progress_ms +
					  t->clk.try_timeout_ms);
		break;
	case SL_TXN_UP_NONE:
	case SL_TXN_UP_UNQUEUING:
	case SL_TXN_UP_DONE:
		break;
	}
	switch ((enum sl_txn_req_phase)t->req_ph) {
	case SL_TXN_REQ_HEAD:
	case SL_TXN_REQ_BODY:
		if (!(s->flags & SL_SEAM_F_READING) &&
		    t->body_rate.start_ms != 0)
			/* not reading is the gateway's doing, not the
			 * client's */
			sl_rate_excuse(&t->body_rate, now_ms());
		if (t->resp_ph == SL_TXN_RESP_LOCAL)
			break;
		if (t->body_rate.start_ms != 0)
			x = SL_MIN(x, t->body_rate.next_ms);
		if (body_clock_runs(s, t))
			x = SL_MIN(x, t->clk.last_read_ms +
					  s->lconf->limits.body_timeout_ms);
		break;
	case SL_TXN_REQ_DONE:
		break;
	}
arm:
	d = x == UINT64_MAX ? 0 : x;
	if (d == t->clk.armed_ms)
		return;
	/* Nothing due, or due later than the timer armed: it stays, and
	 * when it fires early exchange_on_timer finds nothing due and
	 * schedules again. Most requests end before their deadlines, and
	 * this spares a timer's removal each (and a re-insertion whenever
	 * an upstream's progress moves its per-try deadline on). */
	if (d == 0 || (t->clk.armed_ms != 0 && t->clk.armed_ms < d))
		return;
	{
		uint64_t now = now_ms();
		uint64_t ms = d > now ? d - now : 0;
		struct timeval tv = {(time_t)(ms / 1000),
				     (suseconds_t)(ms % 1000) * 1000};
		event_add(&t->tev, &tv);
	}
	t->clk.armed_ms = d;
}

/* ---- the directions' verdicts (enum sl_txn_next) ------------------------ */

/* Takes the step a read of the upstream (exchange_resp.c) returned, one
 * above 0: the switch of a 101, an HTTP/2 tunnel's bytes to the tunnel.
 * Returns -1 when the exchange is the codec's now (or failed), else 0. */
static int
txn_up_next(struct sl_seam *s, int next)
{
	switch ((enum sl_txn_next)next) {
	case SL_TXN_NEXT_TUNNEL_OUT:
		sl_exchange_xtun_out(s->txn, s->txn->up);
		return 0;
	case SL_TXN_NEXT_SWITCH:
	case SL_TXN_NEXT_SWITCH_WS:
		return txn_upgraded(s, next == SL_TXN_NEXT_SWITCH_WS);
	case SL_TXN_NEXT_FAILED:
	case SL_TXN_NEXT_NONE:
	case SL_TXN_NEXT_READ_UP:
	case SL_TXN_NEXT_TUNNEL_IN:
	case SL_TXN_NEXT_SCHEDULE:
		break;
	}
	return -1;
}

/* Reads the upstream (exchange_resp.c) and takes the step it returns.
 * Returns -1 when the exchange failed or is the codec's now, else 0. */
static inline int
txn_up_read(struct sl_seam *s)
{
	int next = sl_exchange_up_read(s);

	return next > 0 ? txn_up_next(s, next) : next;
}

/*
 * A write of the request upstream (exchange_req.c) failed with errno
 * werr (SL_TXN_NEXT_READ_UP): the attempt ends, unless the upstream
 * answered early (413) and closed: its answer, read now if it is not yet,
 * wins over the write error. Returns -1 when the exchange failed (already
 * handled), else 0. Out of the pump's way: a failed write is rare.
 */
static int txn_up_write_failed(struct sl_seam *s, int werr)
    __attribute__((noinline));
static int
txn_up_write_failed(struct sl_seam *s, int werr)
{
	struct sl_txn *t = s->txn;

	if (txn_up_read(s) == -1)
		return -1;
	if (t->resp_ph == SL_TXN_RESP_UPSTREAM)
		return 0;
	sl_attempt_failed(s, FAIL_RESET, "upstream_write", strerror(werr));
	return -1;
}

/* ---- the exchange ----------------------------------------------------- */

/* The exchange is over: give the upstream connection back, log, and go on
 * with the next request or close. */
static void
txn_finish(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	unsigned flags;
	const char *why;
	int linger = 0;

	if (u != NULL) {
		const struct sl_conf_cluster *cc = t->wc->conf;
		int reusable = t->send_ph == SL_TXN_SEND_DONE &&
			       t->up_ph == SL_TXN_UP_DONE &&
			       !(t->flags & SL_TXN_F_UP_BROKEN) &&
			       t->rsp.keepalive &&
			       (cc->pool_max_requests == 0 ||
				u->nrequests < cc->pool_max_requests);
		sl_attempt_release(s, reusable);
	}
	if (t->req_ph == SL_TXN_REQ_DONE) {
		s->in.off = s->in_ready; /* body the upstream did not take */
	} else {
		t->flags |= SL_TXN_F_CLOSE;
		linger = 1;
	}
	if ((t->resp_ph == SL_TXN_RESP_LOCAL) && (t->flags & SL_TXN_F_CLOSE))
		linger = 1;
	sl_exchange_log(s, t);
	flags = t->flags;
	/* a refusal or a cut that closes, closes for its own reason */
	why = (flags & SL_TXN_F_CLOSE) && t->resp_ph == SL_TXN_RESP_LOCAL &&
		      t->error != NULL
		  ? t->error
	      : (flags & SL_TXN_F_CLOSE) ? "close"
					 : "eof";
	sl_exchange_free(s);
	s->ops->done(s, why, (flags & SL_TXN_F_CLOSE) != 0, linger);
}

/* Moves bytes as far as they can go now. Returns -1 when the stream was closed
 * or the exchange ended, 0 when it waits for an event. */
int
sl_exchange_pump(struct sl_seam *s)
{
	struct sl_txn *t;

	for (int guard = 0; guard < 8; guard++) {
		if ((t = s->txn) == NULL)
			return -1;
		if (t->resp_ph != SL_TXN_RESP_LOCAL) {
			if (txn_req_advance(s) == -1)
				continue; /* now a local response */
			/* the client's end, with every byte it sent read */
			if ((s->flags & (SL_SEAM_F_EOF | SL_SEAM_F_BODY_END)) &&
			    t->req_ph != SL_TXN_REQ_DONE &&
			    s->in_ready == s->in.len) {
				/* half-closed before this (pipelined) body was
				 * complete: the rest will never come */
				if (t->req.body != SL_H1_BODY_CLOSE &&
				    t->req.body != SL_H1_BODY_STREAM) {
					s->ops->close(s,
						      "client_closed_in_body");
					return -1;
				}
				/* a tunnel's request, or a body of pieces,
				 * ends with its stream */
				if (sl_exchange_req_ended(s) == -1)
					continue; /* now a local response */
				/* a filter waiting for the body learns of its
				 * end, which came with no byte */
				if (t->flags & SL_TXN_F_BODY_WAIT)
					txn_body_came(s);
			}
			/* 0, or a write failed */
			if (sl_exchange_up_write(s) == SL_TXN_NEXT_READ_UP &&
			    txn_up_write_failed(s, errno) == -1)
				continue;
			if (s->txn != t)
				return -1;
		}
		/* the codec writes what there is: nothing before an answer
		 * began or a head of sluice's is queued (a call across the
		 * seam spared, each request's first pump) */
		if ((t->resp_ph != SL_TXN_RESP_NONE ||
		     sl_buf_pending(&t->out) > 0 || t->ws != NULL) &&
		    s->ops->flush(s) == -1)
			return -1;
		if ((t = s->txn) == NULL)
			return -1;
		/* an HTTP/2 tunnel that closes: its close frame to flush */
		if (t->ws != NULL && t->ws->closing_ms != 0 &&
		    sl_exchange_xtun_tell(s) == 1)
			continue;
		if (sl_buf_pending(&s->txn->out) > 0 ||
		    (s->flags & SL_SEAM_F_WBLOCK))
			return 0;
		if (t->resp_ph == SL_TXN_RESP_LOCAL) {
			txn_finish(s);
			return -1;
		}
		/* an answer a filter still holds (the Idempotency-Key store
		 * taking it) is not over: a close would tell its client it
		 * is whole */
		if ((t->up_ph == SL_TXN_UP_DONE) &&
		    !sl_exchange_resp_pending(t->up) &&
		    !(s->flags & SL_SEAM_F_FRAMING) &&
		    (t->xf == NULL || t->resp_ph != SL_TXN_RESP_UPSTREAM ||
		     !t->xf->pending(t)) &&
		    !(t->flags & SL_TXN_F_END_HELD)) {
			txn_finish(s);
			return -1;
		}
		return 0;
	}
	return 0;
}

/* ---- events ------------------------------------------------------------*/

/*
 * Feeds the send-rate meter with the bytes the client actually took since
 * the last check: written minus what still waits in the kernel's send
 * queue. Counting writes would be wrong both ways: a multi-megabyte send
 * buffer swallows a response at once and then lets a steady reader look
 * idle for seconds. One ioctl per check (once a second), not per write.
 * Returns the bytes still queued in the kernel.
 */
static int
client_send_progress(struct sl_seam *s, uint64_t now)
{
	struct sl_txn *t = s->txn;
	int outq = 0;
	uint64_t delivered;

	outq = s->ops->unacked(s);
	delivered = t->send_written > (uint64_t)outq
			? t->send_written - (uint64_t)outq
			: 0;
	if (delivered > t->send_delivered) {
		sl_rate_add_completed(&t->send_rate, now,
				      delivered - t->send_delivered);
		t->send_delivered = delivered;
	}
	return outq;
}

/*
 * The request body's deadlines, while it is read (sl_exchange_schedule):
 * body_timeout, then min_body_rate. Returns 0.
 */
static int
txn_body_deadline(struct sl_seam *s, struct sl_txn *t, uint64_t now)
{
	if (body_clock_runs(s, t) &&
	    now >= t->clk.last_read_ms + s->lconf->limits.body_timeout_ms) {
		txn_count_timeout(s, t, SL_TO_BODY);
		sl_exchange_timed_out(s, "body_timeout");
		return 0;
	}
	if (t->body_rate.start_ms != 0 && now >= t->body_rate.next_ms &&
	    !(s->flags & SL_SEAM_F_READING))
		/* reading is off: the upstream holds the body back */
		sl_rate_excuse(&t->body_rate, now);
	if (t->body_rate.start_ms != 0 && now >= t->body_rate.next_ms &&
	    sl_rate_check(&t->body_rate, now,
			  s->lconf->limits.min_body_rate_bps)) {
		txn_count_timeout(s, t, SL_TO_BODY_RATE);
		sl_exchange_timed_out(s, "min_body_rate");
		return 0;
	}
	return 0;
}

/*
 * The exchange's timer fired: acts on the first of its deadlines that
 * passed (sl_exchange_schedule), in this order: the client's (it is cut
 * whatever else is due), the route's, the upstream's by its phase, the
 * request body's. Returns -1 when the stream was closed, 0 when it should
 * be processed.
 */
static int
txn_on_deadline(struct sl_seam *s, struct sl_txn *t, uint64_t now)
{
	struct sl_upconn *u = t->up;
	int pending_out;
	char d[64];

	if ((s->flags & SL_SEAM_F_WBLOCK) &&
	    now >= t->clk.last_write_ms + s->lconf->limits.send_timeout_ms) {
		txn_count_timeout(s, t, SL_TO_SEND);
		t->error = "send_timeout";
		s->ops->close(s, "send_timeout");
		return -1;
	}
	/* a held head is the upstream's delay, not the client's */
	pending_out = !sl_exchange_resp_held(t, u) &&
		      (sl_buf_pending(&t->out) > 0 ||
		       (t->xf != NULL && t->resp_ph == SL_TXN_RESP_UPSTREAM &&
			t->xf->pending(t)) ||
		       (t->resp_ph == SL_TXN_RESP_UPSTREAM &&
			sl_exchange_resp_pending(u)));
	if (t->send_rate.start_ms != 0 && now >= t->send_rate.next_ms) {
		/* the client took everything there was: waiting for
		 * the upstream is not its fault */
		if (client_send_progress(s, now) == 0 && !pending_out)
			sl_rate_excuse(&t->send_rate, now);
		if (sl_rate_check(&t->send_rate, now,
				  s->lconf->limits.min_send_rate_bps)) {
			txn_count_timeout(s, t, SL_TO_SEND_RATE);
			t->error = "min_send_rate";
			s->ops->close(s, "min_send_rate");
			return -1;
		}
	}
	if (t->flags & SL_TXN_F_TUNNEL) {
		int next = sl_exchange_xtun_expired(s, t, now);
		if (next != SL_TXN_NEXT_SCHEDULE)
			return next;
		sl_exchange_schedule(s); /* its close began */
		return 0;
	}
	if (t->clk.deadline_ms != 0 && t->resp_ph == SL_TXN_RESP_NONE &&
	    now >= t->clk.deadline_ms) {
		sl_attempt_deadline(s);
		return 0;
	}
	switch ((enum sl_txn_up_phase)t->up_ph) {
	case SL_TXN_UP_BACKOFF:
		if (now < t->clk.retry_at_ms)
			break;
		sl_attempt_resume(s);
		return 0;
	case SL_TXN_UP_QUEUED:
		if (now < t->clk.queue_deadline_ms)
			break;
		sl_attempt_dequeue(t);
		sl_attempt_overloaded(s);
		return 0;
	case SL_TXN_UP_CONNECTING:
		if (now < t->clk.connect_deadline_ms)
			break;
		snprintf(d, sizeof(d),
			 "no answer within connect_timeout %llu ms",
			 (unsigned long long)t->wc->conf->connect_timeout_ms);
		sl_attempt_failed(s, FAIL_CONNECT_TIMEOUT,
				  "upstream_connect_timeout", d);
		return 0;
	case SL_TXN_UP_SENDING:
	case SL_TXN_UP_WAITING:
	case SL_TXN_UP_RECEIVING:
		if (!up_on_clock(t, u) ||
		    now < t->clk.up_progress_ms + t->clk.try_timeout_ms)
			break;
		snprintf(d, sizeof(d), "silent for %llu ms (per-try timeout)",
			 (unsigned long long)t->clk.try_timeout_ms);
		sl_attempt_failed(s, FAIL_TIMEOUT, "upstream_timeout", d);
		return 0;
	case SL_TXN_UP_NONE:
	case SL_TXN_UP_UNQUEUING:
	case SL_TXN_UP_DONE:
		break;
	}
	switch ((enum sl_txn_req_phase)t->req_ph) {
	case SL_TXN_REQ_HEAD:
	case SL_TXN_REQ_BODY:
		if (t->resp_ph != SL_TXN_RESP_LOCAL)
			return txn_body_deadline(s, t, now);
		break;
	case SL_TXN_REQ_DONE:
		break;
	}
	return 0;
}

static void
exchange_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_txn *t = arg;
	struct sl_seam *s = t->s;
	uint64_t now = sl_now_refresh();

	t->clk.armed_ms = 0;
	if (s == NULL) /* armed for a request that ended (sl_exchange_free) */
		return;
	if (t->xf != NULL && t->xf->failed(t) != NULL) {
		/* its compressor failed: part of the body may be out, only a
		 * close tells the client the rest will not come */
		s->ops->close(s, t->xf->failed(t));
		return;
	}
	if (txn_on_deadline(s, t, now) == -1)
		return;
	/* early (sl_exchange_schedule leaves a timer armed for a deadline
	 * that moved on), or a step taken: the next deadline */
	if (s->txn == t)
		sl_exchange_schedule(s);
	s->ops->resume(s);
}

/* The handler of the exchange's upstream connection (arg: its client). */
void
sl_exchange_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err,
			void *arg)
{
	struct sl_seam *s = arg;
	struct sl_txn *t = s->txn;

	sl_now_refresh();
	if (t == NULL || t->up != u)
		return;
	switch (ev) {
	case SL_UP_EV_FAILED:
		/* the OS's reason: refused, no route to host, its own SYN
		 * timeout */
		if (err == SL_UP_ERR_TLS)
			sl_attempt_failed(s, FAIL_TLS, "upstream_tls",
					  sl_upstream_tls_why());
		else
			sl_attempt_failed(s, FAIL_REFUSED,
					  "upstream_connect_failed",
					  strerror(err));
		break;
	case SL_UP_EV_CONNECTED:
		/* the attempt started connecting at its last progress */
		t->connect_ms += (uint32_t)SL_MIN(
		    now_ms() - t->clk.up_progress_ms, UINT32_MAX);
		t->clk.up_progress_ms = now_ms();
		t->up_ph = SL_TXN_UP_SENDING;
		if (t->flags & SL_TXN_F_WATCH)
			sl_exchange_watch(t, &(struct sl_fattempt){
						 .ev = SL_FA_CONN,
						 .u = u,
						 .connected = 1,
					     });
		break;
	case SL_UP_EV_WRITABLE:
		if (t->send_ph == SL_TXN_SEND_BLOCKED)
			t->send_ph = SL_TXN_SEND_OPEN;
		sl_upstream_want_write(u, 0);
		break;
	case SL_UP_EV_READABLE:
		/* on failure the exchange is now a local answer or a close,
		 * and processing carries on from there all the same */
		(void)txn_up_read(s);
		break;
	}
	s->ops->resume(s);
}
