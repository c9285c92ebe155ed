/* SPDX-License-Identifier: MIT */
/*
 * One proxied request/response exchange of a client connection: routing,
 * choosing an endpoint and connecting (queueing, retries, replay), streaming
 * both bodies with backpressure, the exchange's deadlines, local error
 * responses and the access log. Parsing and header rewriting are delegated
 * to h1_parse/h1_msg; the client socket itself is client.c's.
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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "balance.h"
#include "client_int.h"
#include "forwarded.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "log.h"
#include "mirror.h"
#include "policy.h"
#include "rate.h"
#include "retry.h"
#include "rlcheck.h"
#include "route.h"
#include "runtime.h"
#include "tls.h"
#include "upstream.h"
#include "wloop.h"
#include "xprt.h"

static void exchange_on_timer(evutil_socket_t, short, void *);
static void txn_choose_cluster(struct sl_client *c,
			       const struct sl_h1_request *req);
static void txn_mirror(struct sl_client *c, const struct sl_h1_request *req);
static int up_read(struct sl_client *c);
static void txn_forward(struct sl_client *c, struct sl_h1_request *req);
static int txn_rate_limit(struct sl_client *c, struct sl_h1_request *req,
			  size_t head_len);
static int req_body_read(struct sl_client *c);
static inline int req_body_advance(struct sl_client *c);

static size_t
head_cap(const struct sl_client *c)
{
	/* a rewritten head is the original plus a few fields we add */
	return c->lconf->limits.max_header_bytes + 1024;
}

/* The values of the variables a's rules use (ip: the client address's
 * text when it is made already, else NULL). The cheap ones are filled
 * whether used or not: a test per variable costs more than a store. */
static inline const struct sl_hdr_vars *
txn_rules_vars(struct sl_client *c, const struct sl_hdr_apply *a,
	       struct sl_hdr_vars *vars, const char *ip, char ipbuf[64])
{
	const struct sl_txn *t = c->txn;

	if (a->vars_used & (1u << SL_HDR_V_CLIENT_IP))
		vars->v[SL_HDR_V_CLIENT_IP] =
		    ip != NULL ? ip : sl_ip_str(&t->client_addr, ipbuf, 64);
	vars->v[SL_HDR_V_REQUEST_ID] = t->request_id;
	vars->v[SL_HDR_V_ROUTE] = t->route != NULL ? t->route->name : "";
	vars->v[SL_HDR_V_CLUSTER] = t->wc != NULL ? t->wc->conf->name : "";
	if (a->vars_used & (1u << SL_HDR_V_TLS_VERSION))
		vars->v[SL_HDR_V_TLS_VERSION] =
		    c->ssl != NULL ? sl_tls_version(c->ssl) : "";
	vars->v[SL_HDR_V_TLS_CLIENT_SUBJECT] =
	    c->tls_subject != NULL ? c->tls_subject : "";
	return vars;
}

/*
 * The header rules for the request (request 1) or the response of c's
 * exchange: its route's with its listener's, or the listener's before
 * routing (put together at load); NULL when none apply, which costs a
 * pointer test or two. The values of the variables they use go to vars
 * (*varsp); ip is the client address's text when the caller has it
 * (else NULL: made in ipbuf if a rule needs it).
 */
static inline const struct sl_hdr_apply *
txn_rules(struct sl_client *c, int request, struct sl_hdr_vars *vars,
	  const struct sl_hdr_vars **varsp, const char *ip, char ipbuf[64])
{
	const struct sl_txn *t = c->txn;
	const struct sl_policy *p =
	    t->route != NULL ? t->route->policy : c->lconf->policy;
	const struct sl_hdr_apply *a;

	if (p == NULL || (a = p->rules[request ? 0 : 1]) == NULL)
		return NULL;
	*varsp =
	    a->vars_used != 0 ? txn_rules_vars(c, a, vars, ip, ipbuf) : vars;
	return a;
}

/* ---- access log ------------------------------------------------------ */

/* What the error field of the access log says: the rule a refused
 * request broke when there is one (more precise than its code). */
static const char *
txn_error(const struct sl_txn *t)
{
	if (t->why != SL_H1_R_NONE)
		return sl_h1_reason_str(t->why);
	return t->error ? t->error : "";
}

/*
 * The failed attempts of an exchange, as the access log shows them: in
 * JSON, [{"class":2,"error":"upstream_reset","upstream":"10.0.0.1:80"}],
 * in the combined format 2:upstream_reset@10.0.0.1:80,1:...; "" when
 * none failed. Returns the length.
 */
static size_t
txn_failures(const struct sl_txn *t, char *buf, size_t size, int json)
{
	size_t n = 0, k = SL_MIN((size_t)t->nfail, SL_NELEM(t->fails));
	int w;

	buf[0] = '\0';
	for (size_t i = 0; i < k && t->wc != NULL; i++) {
		const char *ep =
		    t->fails[i].upstream ? t->fails[i].upstream : "-";
		if (json)
			w = snprintf(buf + n, size - n,
				     "%s{\"class\":%u,\"error\":\"%s\","
				     "\"upstream\":\"%s\"}",
				     i ? "," : "", t->fails[i].cls,
				     t->fails[i].why, ep);
		else
			w = snprintf(buf + n, size - n, "%s%u:%s@%s",
				     i ? "," : "", t->fails[i].cls,
				     t->fails[i].why, ep);
		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
	return n;
}

/* Response body bytes sent to the client (chunk framing included, as
 * nginx's $body_bytes_sent): what the combined format's bytes column
 * means to every tool that reads it. bytes_out counts heads too. */
static uint64_t
txn_body_out(const struct sl_txn *t)
{
	return t->bytes_out > t->head_out ? t->bytes_out - t->head_out : 0;
}

/* ---- access log lines ---------------------------------------------- */

/* A line being written: p moves towards end, never past it. */
struct lw {
	char *p, *end;
};

static inline void
lw_mem(struct lw *w, const char *s, size_t n)
{
	if (n > (size_t)(w->end - w->p))
		n = (size_t)(w->end - w->p);
	memcpy(w->p, s, n);
	w->p += n;
}

#define LW_LIT(w, s) lw_mem((w), (s), sizeof(s) - 1)

static inline void
lw_str(struct lw *w, const char *s)
{
	lw_mem(w, s, strlen(s));
}

static inline void
lw_ch(struct lw *w, char ch)
{
	if (w->p < w->end)
		*w->p++ = ch;
}

/* v in decimal, at least width digits (zero-padded). */
static void
lw_u64w(struct lw *w, uint64_t v, int width)
{
	char b[20];
	int i = (int)sizeof(b);

	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 || (int)sizeof(b) - i < width);
	lw_mem(w, b + i, sizeof(b) - (size_t)i);
}

static inline void
lw_u64(struct lw *w, uint64_t v)
{
	lw_u64w(w, v, 1);
}

/* s JSON-escaped, at most cap bytes of output. */
static void
lw_esc(struct lw *w, const char *s, size_t cap)
{
	size_t room = (size_t)(w->end - w->p);

	w->p += sl_json_escape(w->p, SL_MIN(room, cap), s, strlen(s));
}

/* The access log's time, to the second, made once a second per thread:
 * gmtime_r and strftime were a tenth of a request's instructions. */
static __thread time_t ts_sec = (time_t)-1;
static __thread char ts_json[24], ts_clf[40];
static __thread size_t ts_json_len;

static void
access_time(time_t sec)
{
	struct tm tm;

	if (sec == ts_sec)
		return;
	gmtime_r(&sec, &tm);
	ts_json_len =
	    strftime(ts_json, sizeof(ts_json), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(ts_clf, sizeof(ts_clf), "%d/%b/%Y:%H:%M:%S +0000", &tm);
	ts_sec = sec;
}

/* Counts the exchange and writes its access log line; called once for
 * every exchange, finished or cut. The line's time is when the exchange
 * ended (duration_ms before it, it started). */
void
sl_exchange_log(struct sl_client *c, struct sl_txn *t)
{
	char line[4096], peer[64], fails[512], viab[64];
	const char *upstream = "-", *via = NULL, *auth = NULL;
	struct timespec now;
	size_t n = 0;
	uint64_t dur = now_ms() - t->start_ms, up_ms = 0;
	int cls = t->status >= 100 && t->status < 600 ? t->status / 100 : 0;
	const char *cluster = "-", *close_why = "";

	SL_STAT_INC(c->w->stats.requests);
	SL_STAT_INC(c->w->stats.responses[cls]);
	{
		struct sl_counts *lc = &c->lconf->state->counts[c->w->id];
		SL_STAT_INC(lc->requests);
		SL_STAT_INC(lc->responses[cls]);
	}
	if (t->route != NULL) {
		struct sl_counts *rc = &t->route->state->counts[c->w->id];
		SL_STAT_INC(rc->requests);
		SL_STAT_INC(rc->responses[cls]);
		SL_STAT_INC(rc->dur[sl_hist_slot(dur)]);
		SL_STAT_ADD(rc->dur_sum_ms, dur);
	}
	if (t->wc != NULL) {
		struct sl_counts *cc = &t->wc->conf->state->counts[c->w->id];
		SL_STAT_INC(cc->requests);
		SL_STAT_INC(cc->responses[cls]);
		if (t->up_start_ms != 0) {
			uint64_t up = now_ms() - t->up_start_ms;
			SL_STAT_INC(cc->dur[sl_hist_slot(up)]);
			SL_STAT_ADD(cc->dur_sum_ms, up);
		}
	}
	if (!sl_access_enabled())
		return;
	if (t->wc != NULL) {
		cluster = t->wc->conf->name;
		if (t->up_start_ms != 0)
			up_ms = now_ms() - t->up_start_ms;
	}
	/* why the connection ends with this exchange, "" when it is kept */
	if (c->close_reason != NULL)
		close_why = c->close_reason;
	else if (t->flags & T_CLOSE)
		/* a refusal or a cut closes for its own reason */
		close_why = (t->flags & T_LOCAL) && txn_error(t)[0] != '\0'
				? txn_error(t)
				: "connection_close";
	clock_gettime(CLOCK_REALTIME, &now);
	sl_ip_str(&t->client_addr, peer, sizeof(peer));
	/* identity: who connected, when not the client (edge.md) */
	if (c->pp != NULL || (t->flags & T_FWD_CLIENT)) {
		via = sl_client_via(c, t, viab, sizeof(viab));
		if (c->pp != NULL && c->pp->authority_len > 0)
			auth = c->pp->authority;
	}
	if (t->wc != NULL)
		upstream = t->wc->eps[t->ep_index]->conf->addr.text;
	if (sl_access_format() == SL_ACCESS_JSON) {
		/* by hand, not snprintf: the line is most of what logging
		 * costs per request */
		struct lw w = {line, line + sizeof(line) - 1};
		access_time(now.tv_sec);
		LW_LIT(&w, "{\"time\":\"");
		lw_mem(&w, ts_json, ts_json_len);
		lw_ch(&w, '.');
		lw_u64w(&w, (uint64_t)(now.tv_nsec / 1000000), 3);
		LW_LIT(&w, "Z\",\"conn\":");
		lw_u64(&w, c->id);
		LW_LIT(&w, ",\"peer\":\"");
		lw_str(&w, peer);
		if (via != NULL) {
			LW_LIT(&w, "\",\"via\":\"");
			lw_str(&w, via);
		}
		if (auth != NULL) {
			LW_LIT(&w, "\",\"authority\":\"");
			lw_esc(&w, auth, 512);
		}
		LW_LIT(&w, "\",\"listener\":\"");
		lw_str(&w, c->lconf->name);
		LW_LIT(&w, "\",\"method\":\"");
		lw_esc(&w, t->method, 128);
		LW_LIT(&w, "\",\"path\":\"");
		lw_esc(&w, t->path, 1024);
		LW_LIT(&w, "\",\"host\":\"");
		lw_esc(&w, t->host, 256);
		LW_LIT(&w, "\",\"status\":");
		lw_u64(&w, (uint64_t)(t->status > 0 ? t->status : 0));
		LW_LIT(&w, ",\"route\":\"");
		lw_str(&w, t->route ? t->route->name : "-");
		LW_LIT(&w, "\",\"upstream\":\"");
		lw_str(&w, upstream);
		LW_LIT(&w, "\",\"bytes_in\":");
		lw_u64(&w, t->bytes_in);
		LW_LIT(&w, ",\"bytes_out\":");
		lw_u64(&w, t->bytes_out);
		LW_LIT(&w, ",\"duration_ms\":");
		lw_u64(&w, dur);
		LW_LIT(&w, ",\"request_id\":\"");
		lw_str(&w, t->request_id);
		LW_LIT(&w, "\",\"error\":\"");
		lw_str(&w, txn_error(t));
		LW_LIT(&w, "\",\"retried\":");
		if (t->flags & T_RETRIED)
			LW_LIT(&w, "true");
		else
			LW_LIT(&w, "false");
		LW_LIT(&w, ",\"retries\":");
		lw_u64(&w, t->nretries);
		LW_LIT(&w, ",\"failures\":[");
		if (t->nfail > 0) {
			txn_failures(t, fails, sizeof(fails), 1);
			lw_str(&w, fails);
		}
		LW_LIT(&w, "],\"referer\":\"");
		lw_esc(&w, t->referer, 512);
		LW_LIT(&w, "\",\"user_agent\":\"");
		lw_esc(&w, t->user_agent, 512);
		LW_LIT(&w, "\",\"cluster\":\"");
		lw_str(&w, cluster);
		LW_LIT(&w, "\",\"connect_ms\":");
		lw_u64(&w, t->connect_ms);
		LW_LIT(&w, ",\"upstream_ms\":");
		lw_u64(&w, up_ms);
		LW_LIT(&w, ",\"close\":\"");
		lw_str(&w, close_why);
		LW_LIT(&w, "\"}\n");
		n = (size_t)(w.p - line);
		if (w.p == w.end) /* cut short: still one line */
			line[n - 1] = '\n';
	} else {
		char m[64], p[1024], r[512], u[512], retries[24] = "";
		char ident[1200] = "";
		access_time(now.tv_sec);
		if (t->nretries > 0)
			snprintf(retries, sizeof(retries), " retries=%u",
				 t->nretries);
		sl_escape(m, sizeof(m), t->method, strlen(t->method));
		sl_escape(p, sizeof(p), t->path, strlen(t->path));
		sl_escape(r, sizeof(r), t->referer, strlen(t->referer));
		sl_escape(u, sizeof(u), t->user_agent, strlen(t->user_agent));
		if (via != NULL || auth != NULL) {
			char a[1100];
			snprintf(
			    ident, sizeof(ident), "%s%s%s%s",
			    via ? " via=" : "", via ? via : "",
			    auth ? " authority=" : "",
			    auth ? sl_escape(a, sizeof(a), auth, strlen(auth))
				 : "");
		}
		/* the combined format proper, then sluice's fields */
		n = (size_t)snprintf(
		    line, sizeof(line),
		    "%s - - [%s] \"%s %s HTTP/1.%d\" %d %llu \"%s\" \"%s\" "
		    "rid=%s route=%s upstream=%s ms=%llu cluster=%s "
		    "connect_ms=%u upstream_ms=%llu close=%s%s%s%s%s%s%s\n",
		    peer, ts_clf, m[0] ? m : "-", p[0] ? p : "-", t->minor,
		    t->status, (unsigned long long)txn_body_out(t),
		    r[0] ? r : "-", u[0] ? u : "-", t->request_id,
		    t->route ? t->route->name : "-", upstream,
		    (unsigned long long)dur, cluster, t->connect_ms,
		    (unsigned long long)up_ms, close_why[0] ? close_why : "-",
		    txn_error(t)[0] ? " error=" : "", txn_error(t), retries,
		    txn_failures(t, fails, sizeof(fails), 0) ? " failures="
							     : "",
		    fails, ident);
	}
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	sl_access_append(c->w->alog, line, n);
}

/* ---- closing --------------------------------------------------------- */

void
sl_exchange_free(struct sl_client *c)
{
	struct sl_txn *t = c->txn;

	if (t == NULL)
		return;
	sl_client_want_write(c, 0);
	event_del(&t->tev);
	sl_buf_release(&c->w->bufs, &t->out);
	sl_rlcheck_cancel(&t->rl); /* a request waiting for a lease */
	sl_attempt_dequeue(t);
	sl_attempt_release(c, 0);
	sl_attempt_done(t);
	sl_buf_release(&c->w->bufs, &t->uphead);
	if (t->mirror != NULL) {
		/* the request never completed: no copy goes out */
		sl_mirror_abort(t->mirror);
		t->mirror = NULL;
	}
	t->next_free = c->w->free_txns;
	c->w->free_txns = t;
	c->txn = NULL;
}

/* ---- local responses ---------------------------------------------------*/

static struct sl_txn *
txn_new(struct sl_client *c)
{
	struct sl_worker *w = c->w;
	struct sl_txn *t = w->free_txns;

	if (t != NULL)
		w->free_txns = t->next_free;
	else if ((t = malloc(sizeof(*t))) == NULL)
		return NULL;
	memset(t, 0, offsetof(struct sl_txn, request_id));
	t->rl.wait.entry = NULL;
	t->request_id[0] = t->method[0] = t->path[0] = t->host[0] = '\0';
	t->referer[0] = t->user_agent[0] = '\0';
	/* an exchange starts with the first byte of its head */
	t->start_ms =
	    c->state == SL_CLIENT_ST_HEAD
		? c->tnode.deadline_ms - c->lconf->limits.header_timeout_ms
		: now_ms();
	t->client = c;
	/* the request's client, until something more is known of it */
	(void)sl_ip_from_sockaddr((const struct sockaddr *)&c->peer,
				  &t->client_addr);
	event_assign(&t->wev, w->base, c->fd, EV_WRITE | EV_PERSIST,
		     sl_client_on_write, c);
	evtimer_assign(&t->tev, w->base, exchange_on_timer, c);
	/* the exchange keeps its own deadlines */
	sl_timeq_del(w, &c->tnode);
	c->txn = t;
	return t;
}

static void
copy_slice(char *dst, size_t dstsz, const char *s, size_t n)
{
	if (s == NULL)
		n = 0;
	if (n >= dstsz)
		n = dstsz - 1;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Whether the target and Referer kept for the access log are masked: an
 * error-log line is masked whole when it is written (log.c), so without
 * an access log there is nothing to do here. Method, Host and User-Agent
 * are not scanned: a card number has no business there, and a browser's
 * User-Agent alone would cost more than the target and Referer together
 * (doc/performance.md, issue 22). */
static int
note_cards(void)
{
	return sl_access_enabled() && sl_log_cards();
}

/* Keeps what the logs show of the request: its target and Referer with
 * log.query applied (card numbers travel in query strings), and no card
 * number in either, whatever log.query says. */
static void
txn_note(struct sl_txn *t, const char *method, size_t method_len,
	 const char *target, size_t target_len, const char *host,
	 size_t host_len)
{
	copy_slice(t->method, sizeof(t->method), method, method_len);
	if (target != NULL)
		sl_log_target(t->path, sizeof(t->path), target, target_len,
			      sl_log_query(), note_cards());
	else
		t->path[0] = '\0';
	copy_slice(t->host, sizeof(t->host), host, host_len);
}

static void
txn_note_agent(struct sl_txn *t, const char *referer, size_t referer_len,
	       const char *ua, size_t ua_len)
{
	if (referer != NULL)
		sl_log_target(t->referer, sizeof(t->referer), referer,
			      referer_len, sl_log_query(), note_cards());
	copy_slice(t->user_agent, sizeof(t->user_agent), ua, ua_len);
}

/* Referer and User-Agent of a parsed request, for the access log. */
static void
txn_agent_from(struct sl_txn *t, const struct sl_h1_request *req)
{
	const char *ref = NULL, *ua = NULL;
	size_t rl = 0, ul = 0;

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (ref == NULL && sl_h1_ieq(h->name, h->name_len, "referer")) {
			ref = h->value;
			rl = h->value_len;
		} else if (ua == NULL &&
			   sl_h1_ieq(h->name, h->name_len, "user-agent")) {
			ua = h->value;
			ul = h->value_len;
		}
	}
	txn_note_agent(t, ref, rl, ua, ul);
}

/* Fills the logged fields of t from a refused head of len bytes, as far
 * as they can be read; nothing already known is replaced. */
static void
txn_salvage(struct sl_txn *t, const char *head, size_t len)
{
	struct sl_h1_salvage sv;

	sl_h1_salvage(head, len, &sv);
	if (t->method[0] == '\0' && t->path[0] == '\0')
		txn_note(t, sv.method, sv.method_len, sv.target, sv.target_len,
			 sv.host, sv.host_len);
	else if (t->host[0] == '\0')
		copy_slice(t->host, sizeof(t->host), sv.host, sv.host_len);
	if (sl_access_enabled())
		txn_note_agent(t, sv.referer, sv.referer_len, sv.user_agent,
			       sv.user_agent_len);
	if (t->minor == 0 && sv.minor == 1)
		t->minor = 1;
}

/* An exchange for a head that will not be parsed (refused by the scanner,
 * or timed out): what was read of it is logged, then dropped. */
static struct sl_txn *
txn_for_head(struct sl_client *c)
{
	struct sl_txn *t;

	if ((t = txn_new(c)) == NULL) {
		sl_client_close(c, "out_of_memory");
		return NULL;
	}
	if (c->in.data != NULL) {
		t->bytes_in = sl_buf_pending(&c->in);
		txn_salvage(t, c->in.data + c->in.off, sl_buf_pending(&c->in));
		c->in.off = c->in.len; /* the bad head is dropped */
	}
	t->flags |= T_CLOSE;
	sl_client_set_state(c, SL_CLIENT_ST_TXN);
	return t;
}

static int
out_reserve(struct sl_client *c, size_t n)
{
	if (sl_buf_alloc(&c->w->bufs, &c->txn->out, head_cap(c)) == -1)
		return -1;
	if (c->txn->out.off == c->txn->out.len)
		c->txn->out.off = c->txn->out.len = 0;
	if (sl_buf_space(&c->txn->out) < n && c->txn->out.off > 0) {
		memmove(c->txn->out.data, c->txn->out.data + c->txn->out.off,
			sl_buf_pending(&c->txn->out));
		c->txn->out.len -= c->txn->out.off;
		c->txn->out.off = 0;
	}
	return sl_buf_space(&c->txn->out) >= n ? 0 : -1;
}

/*
 * Answers the current request (or the head being read) with a local error
 * and stops the exchange with the upstream. close forces the connection to
 * close after it; so does a request whose body was not read. fields, when
 * not NULL, are the answer's own (a rate limit's); they also keep it from
 * the info log (rlcheck.c says those).
 */
static void
exchange_local(struct sl_client *c, int status, const char *code, int close,
	       const char *fields)
{
	struct sl_txn *t = c->txn;
	const struct sl_hdr_apply *rules;
	const struct sl_hdr_vars *vp = NULL;
	struct sl_hdr_vars vars;
	char ip[64];
	long n;

	if (t == NULL && (t = txn_for_head(c)) == NULL)
		return;
	if (t->request_id[0] == '\0')
		sl_worker_request_id(c->w, t->request_id);
	if ((t->flags & T_RESP_HEAD) && t->bytes_out > 0) {
		/* part of the upstream response is out: it cannot be
		 * replaced, only cut */
		t->status = t->status ? t->status : status;
		t->error = code;
		sl_client_close(c, code);
		return;
	}
	if (t->flags & T_RESP_HEAD) {
		/* a head held back for its body (resp_head_held)
		 * never went out: this answer replaces it */
		t->flags &= ~T_RESP_HEAD;
		t->head_out -= sl_buf_pending(&t->out);
		t->out.off = t->out.len = 0;
	}
	sl_attempt_dequeue(t); /* a request answered here waits for nothing */
	sl_rlcheck_cancel(&t->rl);
	sl_attempt_release(c, 0);
	t->flags |= T_LOCAL;
	t->status = status;
	t->error = code;
	if (close || !(t->flags & T_REQ_READ_DONE))
		t->flags |= T_CLOSE;
	if (out_reserve(c, 512) == -1) {
		sl_client_close(c, "out_of_memory");
		return;
	}
	rules = txn_rules(c, 0, &vars, &vp, NULL, ip);
	n = sl_h1_write_error_fields(
	    c->txn->out.data + c->txn->out.len, sl_buf_space(&c->txn->out),
	    status, code, t->request_id, (t->flags & T_CLOSE) != 0,
	    (t->flags & T_HEAD_ONLY) != 0, t->minor, fields, rules, vp);
	if (n < 0 && rules != NULL)
		/* the answer goes out all the same, without the rules */
		n = sl_h1_write_error_fields(
		    c->txn->out.data + c->txn->out.len,
		    sl_buf_space(&c->txn->out), status, code, t->request_id,
		    (t->flags & T_CLOSE) != 0, (t->flags & T_HEAD_ONLY) != 0,
		    t->minor, fields, NULL, NULL);
	if (n < 0) {
		sl_client_close(c, code);
		return;
	}
	{
		/* the body follows the head's blank line (none after HEAD) */
		const char *h = c->txn->out.data + c->txn->out.len;
		const char *e = memmem(h, (size_t)n, "\r\n\r\n", 4);
		t->head_out += e != NULL ? (uint32_t)(e - h + 4) : (uint32_t)n;
	}
	c->txn->out.len += (uint32_t)n;
	if (sl_log_enabled(SL_LOG_INFO) && status != 404 && fields == NULL) {
		char peer[SL_PEER_MAX], m[64], p[1024], h[512];
		/* the rule a refused request broke: the response says only
		 * bad_request, the operator needs more */
		log_info(
		    "conn=%llu peer=%s request_id=%s route=%s: %d %s%s%s%s%s%s "
		    "method=%s target=\"%s\" host=\"%s\"",
		    (unsigned long long)c->id,
		    sl_client_peer_str(c, t, peer, sizeof(peer)), t->request_id,
		    t->route ? t->route->name : "-", status, code,
		    t->why != SL_H1_R_NONE ? " reason=" : "",
		    t->why != SL_H1_R_NONE ? sl_h1_reason_str(t->why) : "",
		    t->rule != NULL ? " rule=\"" : "",
		    t->rule != NULL ? t->rule : "", t->rule != NULL ? "\"" : "",
		    sl_escape(m, sizeof(m), t->method, strlen(t->method)),
		    sl_escape(p, sizeof(p), t->path, strlen(t->path)),
		    sl_escape(h, sizeof(h), t->host, strlen(t->host)));
	}
}

void
sl_exchange_local(struct sl_client *c, int status, const char *code, int close)
{
	exchange_local(c, status, code, close, NULL);
}

void
sl_exchange_reject(struct sl_client *c, int status, int why)
{
	struct sl_txn *t = c->txn;

	if (t == NULL && (t = txn_for_head(c)) == NULL)
		return;
	if (why <= SL_H1_R_NONE || why >= SL_H1_R_NREASONS)
		why = SL_H1_R_NONE;
	t->why = (enum sl_h1_reason)why;
	SL_STAT_INC(c->w->stats.rejected[why]);
	sl_exchange_local(c, status, sl_exchange_status_code_name(status), 1);
}

const char *
sl_exchange_status_code_name(int status)
{
	switch (status) {
	case 400:
		return "bad_request";
	case 405:
		return "method_not_allowed";
	case 408:
		return "request_timeout";
	case 413:
		return "payload_too_large";
	case 414:
		return "uri_too_long";
	case 417:
		return "expectation_failed";
	case 431:
		return "header_too_large";
	case 501:
		return "not_implemented";
	case 505:
		return "version_not_supported";
	default:
		return "bad_request";
	}
}

/* 417 may keep the connection (doc/contracts.md section 3.2); every
 * other request error closes it. */
static int
status_closes(int status)
{
	return status != 417;
}

/* Refuses the request by an allow or deny rule (doc/edge.md section 4):
 * 403, the connection kept as after a 404, counted and logged with the
 * rule. May close c. */
static void
txn_forbid(struct sl_client *c, const char *rule)
{
	struct sl_txn *t = c->txn;

	t->why = SL_H1_R_ACCESS_DENIED;
	t->rule = rule;
	SL_STAT_INC(c->w->stats.rejected[SL_H1_R_ACCESS_DENIED]);
	sl_exchange_local(c, 403, "forbidden", 0);
}

/* ---- starting an exchange --------------------------------------------- */

/* The connection ends after this request: the client asks for it (RFC
 * 9112 section 9.3), or the gateway does (the connection's last request
 * under max_requests, a draining worker, a listener a reload removed). */
static int
req_ends_connection(const struct sl_client *c, const struct sl_h1_request *req)
{
	const struct sl_conf_limits *lim = &c->lconf->limits;

	return !sl_h1_persists(req->minor, req->flags) ||
	       (lim->max_requests && c->nrequests + 1 >= lim->max_requests) ||
	       c->w->draining || (c->flags & C_F_RETIRED);
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
txn_retry_setup(struct sl_client *c, const struct sl_h1_request *req)
{
	struct sl_txn *t = c->txn;
	const struct sl_conf_retry *p = &t->route->retry;

	if (sl_retry_idempotent(req->method_id) ||
	    (p->idempotency_key && has_idempotency_key(req)))
		t->flags |= T_IDEMPOTENT;
	t->try_timeout_ms = p->per_try_timeout_ms ? p->per_try_timeout_ms
						  : t->route->timeout_ms;
	if (p->attempts > 1 &&
	    (req->body == SL_H1_BODY_CHUNKED ||
	     (req->body == SL_H1_BODY_LENGTH &&
	      req->content_length <= c->lconf->limits.buffer_bytes)))
		t->flags |= T_RETAIN;
	if (t->flags & T_REQ_READ_DONE)
		t->deadline_ms = now_ms() + t->route->timeout_ms;
}

/* The whole request was read: the route's deadline starts. */
static void
req_complete(struct sl_txn *t)
{
	t->flags |= T_REQ_READ_DONE;
	if (t->route != NULL)
		t->deadline_ms = now_ms() + t->route->timeout_ms;
}

/* The body kept for a retry is let go: after an answer, or when it no
 * longer fits the buffer (it cannot be sent again then). */
static void
req_unretain(struct sl_client *c)
{
	struct sl_txn *t = c->txn;

	c->in.off += t->body_off;
	t->body_off = 0;
	t->flags &= ~T_RETAIN;
}

/*
 * A complete head of head_len bytes is at in.off: parse it, route it,
 * prepare the upstream head and get an upstream connection.
 */
void
sl_exchange_start(struct sl_client *c, size_t head_len)
{
	struct sl_worker *w = c->w;
	const struct sl_conf_limits *lim = &c->lconf->limits;
	struct sl_h1_limits hl = {lim->max_uri_bytes, lim->max_header_bytes,
				  lim->max_headers};
	struct sl_h1_request req;
	struct sl_txn *t;
	const char *rule;
	int r;

	if ((t = txn_new(c)) == NULL) {
		sl_client_close(c, "out_of_memory");
		return;
	}
	sl_client_set_state(c, SL_CLIENT_ST_TXN);
	memset(&req, 0, sizeof(req));
	req.headers = w->hdrs;
	req.max_headers = SL_MIN(w->max_hdrs, lim->max_headers);
	r = sl_h1_parse_request(c->in.data + c->in.off, head_len, &req, &hl);
	t->bytes_in = head_len;
	if (r == 0 || req.method != NULL) {
		/* known from the request line on: even an error answer must
		 * be framed for it (no body after HEAD, the client's version)
		 */
		t->method_id = req.method_id;
		t->minor = req.minor;
		if (req.method_id == SL_M_HEAD)
			t->flags |= T_HEAD_ONLY;
	}
	if (r == 0) {
		txn_note(t, req.method, req.method_len, req.path, req.path_len,
			 req.host, req.host_len);
		if (sl_access_enabled())
			txn_agent_from(t, &req);
	}
	if (r < 0) {
		/* what the logs need of a refused head, read leniently */
		txn_salvage(t, c->in.data + c->in.off, head_len);
		c->in.off += (uint32_t)head_len;
		c->in_ready = c->in.off;
		/* a 417 without a body leaves the connection in sync */
		if (r == -417 && req.body == SL_H1_BODY_NONE)
			t->flags |= T_REQ_READ_DONE;
		sl_worker_request_id(w, t->request_id);
		t->why = req.why;
		SL_STAT_INC(w->stats.rejected[req.why]);
		sl_exchange_local(c, -r, sl_exchange_status_code_name(-r),
				  status_closes(-r) ||
				      req_ends_connection(c, &req));
		return;
	}
	/* identity: who the client is, before anything keyed on it (a
	 * trusted proxy's forwarded fields, doc/edge.md section 3) */
	if (c->lconf->trusted_proxies.n > 0 || c->lconf->untrusted_forwarded) {
		struct sl_fwd fwd = {.xff = SL_FWD_APPEND};
		if (sl_forwarded_settle(c->lconf, &req, &t->client_addr, &fwd))
			t->flags |= T_FWD_CLIENT;
		t->fwd_xff = (uint8_t)fwd.xff;
		t->fwd_cut_hdr = (uint16_t)fwd.cut_hdr;
		t->fwd_cut_off = (uint32_t)fwd.cut_off;
	}
	if (!sl_h1_client_request_id(&req, t->request_id))
		sl_worker_request_id(w, t->request_id);
	if (req_ends_connection(c, &req))
		t->flags |= T_CLOSE;
	t->req_body = req.body;
	t->req_remaining = req.content_length;
	if (req.body == SL_H1_BODY_CHUNKED) {
		sl_h1_chunked_init(&t->req_chunked, lim->max_header_bytes);
		t->req_chunked.max_trailers = lim->max_headers;
		t->req_chunked.own = c->lconf->tls.client_subject_header;
	}
	c->in.off += (uint32_t)head_len;
	c->in_ready = c->in.off;
	if (req.body == SL_H1_BODY_NONE)
		t->flags |= T_REQ_READ_DONE;

	if ((rule = sl_policy_check(c->lconf->policy, &t->client_addr)) !=
	    NULL) {
		txn_forbid(c, rule);
		return;
	}
	t->route = sl_route_match(c->lconf, &req);
	if (t->route == NULL) {
		sl_exchange_local(c, 404, "no_route", 0);
		return;
	}
	if ((rule = sl_policy_check(t->route->policy, &t->client_addr)) !=
	    NULL) {
		txn_forbid(c, rule);
		return;
	}
	/* the route's limit: its own max_body_bytes, or the listener's */
	if (req.body == SL_H1_BODY_LENGTH && t->route->max_body_bytes &&
	    req.content_length > t->route->max_body_bytes) {
		sl_exchange_reject(c, 413, SL_H1_R_BODY_TOO_LARGE);
		return;
	}
	if (t->route->rate_limits != NULL &&
	    txn_rate_limit(c, &req, head_len) != 0)
		return;
	txn_forward(c, &req);
}

/*
 * The request passed its route's checks: its cluster, its upstream head,
 * a mirror copy, and the first upstream attempt.
 */
static void
txn_forward(struct sl_client *c, struct sl_h1_request *req)
{
	struct sl_worker *w = c->w;
	const struct sl_conf_limits *lim = &c->lconf->limits;
	struct sl_txn *t = c->txn;
	char ip[64];
	struct sl_fwd fwd;
	struct sl_hdr_vars vars;
	long n;

	txn_choose_cluster(c, req);
	txn_retry_setup(c, req);

	if (sl_buf_alloc(&w->bufs, &t->uphead, head_cap(c)) == -1) {
		sl_exchange_local(c, 503, "out_of_memory", 0);
		return;
	}
	fwd.client_ip = sl_ip_str(&t->client_addr, ip, sizeof(ip));
	fwd.proto = c->ssl != NULL ? "https" : "http";
	fwd.subject_header = c->lconf->tls.client_subject_header;
	fwd.subject = c->tls_subject;
	fwd.request_id = t->request_id;
	fwd.default_host = c->lconf->addr.text;
	fwd.xff = (enum sl_fwd_xff)t->fwd_xff;
	fwd.cut_hdr = t->fwd_cut_hdr;
	fwd.cut_off = t->fwd_cut_off;
	fwd.vars = NULL;
	fwd.rules = txn_rules(c, 1, &vars, &fwd.vars, fwd.client_ip, ip);
	n = sl_h1_write_request_head(t->uphead.data, t->uphead.cap, req, &fwd);
	if (n < 0) {
		/* the head with the fields sluice adds does not fit */
		sl_exchange_reject(c, 431, SL_H1_R_HEAD_TOO_LARGE);
		return;
	}
	t->uphead.len = (uint32_t)n;
	if (t->route->mirror != NULL && sl_mirror_due(c->gen, t->route))
		txn_mirror(c, req);
	/* a request without a body is all in uphead now: an empty head
	 * buffer goes back to the pool while the exchange lasts (req's
	 * strings are not used past this point) */
	if (req->body == SL_H1_BODY_NONE && sl_buf_pending(&c->in) == 0 &&
	    c->in_ready == c->in.len) {
		sl_buf_release(&w->bufs, &c->in);
		c->in_ready = 0;
	}

	/* 100-continue: we ask for the body ourselves, once we are about to
	 * read it; the upstream never sees Expect */
	if ((req->flags & SL_H1_F_EXPECT_CONTINUE) && req->minor >= 1 &&
	    req->body != SL_H1_BODY_NONE && sl_buf_pending(&c->in) == 0) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (out_reserve(c, sizeof(cont) - 1) == 0) {
			memcpy(c->txn->out.data + c->txn->out.len, cont,
			       sizeof(cont) - 1);
			c->txn->out.len += sizeof(cont) - 1;
			t->head_out += sizeof(cont) - 1;
		}
	}
	c->txn->last_read_ms = now_ms();
	if (req->body != SL_H1_BODY_NONE && lim->min_body_rate_bps > 0)
		sl_rate_start(&t->body_rate, c->txn->last_read_ms);
	sl_attempt_start(c);
}

/* ---- rate limits (doc/edge.md section 6) ------------------------------- */

/* Acts on what the route's limits said of the request. Returns 0 when it
 * goes on, 1 when it was answered (429, 503) or waits for a lease. */
static int
txn_rl_verdict(struct sl_client *c, int r, size_t head_len)
{
	struct sl_txn *t = c->txn;
	char fields[512];
	int status = r == SL_RLC_LIMITED ? 429 : 503;

	if (r == SL_RLC_PASS)
		return 0;
	if (r == SL_RLC_WAIT) {
		/* the head stays in `in` (a compaction keeps it at in.off),
		 * to be parsed again when the lease comes */
		t->rl.head_len = (uint32_t)head_len;
		c->in.off -= (uint32_t)head_len;
		return 1;
	}
	/* a body already here in full is read, so that the connection is
	 * kept: a bot's small POSTs do not cost a connection each */
	if (req_body_advance(c) == -1)
		return 1; /* a malformed body: answered 400 */
	exchange_local(
	    c, status,
	    status == 429 ? "rate_limited" : "rate_limit_unavailable", 0,
	    sl_rlcheck_fields(&t->rl, status, t->route, fields,
			      sizeof(fields)) > 0
		? fields
		: "");
	return 1;
}

/* The lease a request waited for came, or failed: the request goes on
 * through its route's limits, and on to the upstream when they let it. */
static void
txn_rl_woken(struct sl_rl_wait *wt, int verdict, uint64_t wait_us)
{
	struct sl_txn *t =
	    (struct sl_txn *)((char *)wt - offsetof(struct sl_txn, rl.wait));
	struct sl_client *c = t->client;
	const struct sl_conf_limits *lim = &c->lconf->limits;
	struct sl_h1_limits hl = {lim->max_uri_bytes, lim->max_header_bytes,
				  lim->max_headers};
	size_t head_len = t->rl.head_len;
	struct sl_h1_request req;
	int r;

	sl_now_refresh();
	if (c->state != SL_CLIENT_ST_TXN || c->txn != t || (t->flags & T_LOCAL))
		return;
	/* the head as it was parsed before the wait */
	memset(&req, 0, sizeof(req));
	req.headers = c->w->hdrs;
	req.max_headers = SL_MIN(c->w->max_hdrs, lim->max_headers);
	if (sl_h1_parse_request(c->in.data + c->in.off, head_len, &req, &hl) !=
	    0) {
		sl_client_close(c, "out_of_memory");
		return;
	}
	c->in.off += (uint32_t)head_len;
	r = sl_rlcheck_resume(&t->rl, verdict, wait_us, c->w, c->gen->conf,
			      t->route, &req, &t->client_addr, c->id);
	if (txn_rl_verdict(c, r, head_len) == 0)
		txn_forward(c, &req);
	sl_client_process(c);
}

/* The route's rate limits, in order (a route without any costs its
 * caller one pointer test). Returns as txn_rl_verdict. */
static int
txn_rate_limit(struct sl_client *c, struct sl_h1_request *req, size_t head_len)
{
	struct sl_txn *t = c->txn;
	int r = sl_rlcheck_start(&t->rl, c->w, c->gen->conf, t->route, req,
				 &t->client_addr, c->id, txn_rl_woken);

	return r == SL_RLC_PASS ? 0 : txn_rl_verdict(c, r, head_len);
}

/*
 * The cluster of the route that takes this request: its cluster, or one of
 * its split, by the sticky key's race when the request has the key, else
 * in turn by weight (smooth weighted round robin, per worker). With a hash
 * balancer, its key is hashed now, while the request's fields are here.
 */
static void
txn_choose_cluster(struct sl_client *c, const struct sl_h1_request *req)
{
	struct sl_txn *t = c->txn;
	const struct sl_conf_route *r = t->route;
	const struct sl_conf_cluster *cc = r->cluster;
	const void *key;
	size_t len;

	if (cc == NULL) {
		size_t i;
		if (r->sticky.source != SL_KEY_NONE &&
		    sl_route_key(&r->sticky, req, &t->client_addr, &key,
				 &len)) {
			/* kept: a failover takes the key's next choice */
			t->sticky_key = sl_hash64(key, len);
			t->flags |= T_STICKY_KEY;
			i = sl_balance_race(t->sticky_key, r->split_ids,
					    r->split_weights, r->nsplit, NULL);
		} else
			i = sl_balance_swrr(c->gen->routes[r->index].swrr,
					    r->split_weights, r->nsplit, NULL);
		cc = r->split[i].cluster;
	}
	t->wc = &c->gen->clusters[cc->index];
	if (cc->balance == SL_BALANCE_HASH &&
	    sl_route_key(&cc->hash_key, req, &t->client_addr, &key, &len)) {
		t->hash_key = sl_hash64(key, len);
		t->flags |= T_HASH_KEY;
	}
}

/*
 * Starts a mirror copy of the request: its head now, its body as it is
 * read (req_body_advance), sent when the request is complete. A body
 * larger than buffer_bytes is not copied.
 */
static void
txn_mirror(struct sl_client *c, const struct sl_h1_request *req)
{
	struct sl_txn *t = c->txn;
	uint64_t max = c->lconf->limits.buffer_bytes;

	if (req->body == SL_H1_BODY_LENGTH && req->content_length > max) {
		SL_STAT_INC(t->route->state->counts[c->w->id]
				.mirror[SL_MIRROR_TOO_LARGE]);
		return;
	}
	t->mirror = sl_mirror_new(c->w, c->gen, t->route, t->uphead.data,
				  t->uphead.len, max);
	if (t->mirror != NULL && t->route->mirror->proxy_protocol) {
		/* identity: the copy carries the client too (edge.md) */
		unsigned char pp[SL_PP_V2_OUT_MAX];
		sl_mirror_set_proxy_header(t->mirror, pp,
					   sl_attempt_pp_header(c, pp));
	}
	if (t->mirror != NULL && (t->flags & T_REQ_READ_DONE)) {
		sl_mirror_send(t->mirror);
		t->mirror = NULL;
	}
}

/* ---- request direction -------------------------------------------------*/

/* Body bytes (as framed) for the mirror copy; the copy goes once the
 * request is complete. */
static void
txn_mirror_body(struct sl_txn *t, const char *p, size_t n)
{
	if (n > 0 && sl_mirror_body(t->mirror, p, n) == -1) {
		t->mirror = NULL; /* too large: dropped and counted */
		return;
	}
	if (t->flags & T_REQ_READ_DONE) {
		sl_mirror_send(t->mirror);
		t->mirror = NULL;
	}
}

/* Checks newly read request body bytes (some came, and the body is not
 * complete); returns -1 when the exchange was turned into an error
 * response. */
static int
req_body_read(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	uint32_t avail = c->in.len - c->in_ready;
	size_t consumed, data;
	int r;

	if (t->req_body == SL_H1_BODY_LENGTH) {
		uint64_t k = SL_MIN((uint64_t)avail, t->req_remaining);
		c->in_ready += (uint32_t)k;
		t->req_remaining -= k;
		t->req_body_bytes += k;
		t->bytes_in += k;
		if (t->req_remaining == 0)
			req_complete(t);
		if (t->mirror != NULL)
			txn_mirror_body(t, c->in.data + c->in_ready - k,
					(size_t)k);
		return 0;
	}
	r = sl_h1_chunked_decode(&t->req_chunked, c->in.data + c->in_ready,
				 avail, 0, &consumed, &data);
	c->in_ready += (uint32_t)consumed;
	t->req_body_bytes += data;
	t->bytes_in += consumed;
	if (r < 0) {
		sl_exchange_reject(c, 400, t->req_chunked.why);
		return -1;
	}
	/* the announced chunk size counts at once: a client must not hold
	 * the connection for bytes it could never be allowed to send. The
	 * route's limit (a body is read for a routed request only). */
	if (t->route->max_body_bytes &&
	    t->req_body_bytes + t->req_chunked.remaining >
		t->route->max_body_bytes) {
		sl_exchange_reject(c, 413, SL_H1_R_BODY_TOO_LARGE);
		return -1;
	}
	if (r == 1)
		req_complete(t);
	if (t->mirror != NULL)
		txn_mirror_body(t, c->in.data + c->in_ready - consumed,
				consumed);
	return 0;
}

/* The request body bytes that came, checked and counted (req_body_read);
 * one test when there are none (most requests have no body). */
static inline int
req_body_advance(struct sl_client *c)
{
	if ((c->txn->flags & T_REQ_READ_DONE) || c->in.len == c->in_ready)
		return 0;
	return req_body_read(c);
}

/* Writes what is ready of the request upstream. Returns -1 when the
 * exchange failed (already handled). */
static int
up_write(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	struct iovec iov[2];
	int niov = 0;
	ssize_t n;
	size_t hp;
	uint32_t from;
	int werr;

	if (u == NULL || u->state != SL_UP_ST_ACTIVE ||
	    (t->flags & (T_REQ_SENT | T_UP_WBLOCK | T_UP_WDEAD)))
		return 0;
	hp = sl_buf_pending(&t->uphead);
	if (hp > 0)
		iov[niov++] =
		    (struct iovec){t->uphead.data + t->uphead.off, hp};
	/* a kept body is sent from past what this attempt sent already */
	from = c->in.off + t->body_off;
	if (c->in_ready > from)
		iov[niov++] =
		    (struct iovec){c->in.data + from, c->in_ready - from};
	if (niov > 0) {
		n = sl_upstream_writev(u, iov, niov, 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				t->flags |= T_UP_WBLOCK;
				sl_upstream_want_write(u, 1);
				return 0;
			}
			/* an upstream may answer early (413) and close: its
			 * answer, already here, wins over the write error */
			werr = errno;
			t->flags |= T_UP_WDEAD | T_UP_BROKEN;
			sl_upstream_want_write(u, 0);
			if (t->flags & T_RESP_HEAD)
				return 0;
			if (up_read(c) == -1)
				return -1;
			if (t->flags & T_RESP_HEAD)
				return 0;
			sl_attempt_failed(c, FAIL_RESET, "upstream_write",
					  strerror(werr));
			return -1;
		}
		t->up_progress_ms = now_ms();
		if ((size_t)n >= hp) {
			uint32_t body = (uint32_t)(n - (ssize_t)hp);
			t->uphead.off += (uint32_t)hp;
			t->req_body_sent += body;
			if (t->flags & T_RETAIN) {
				t->body_off += body;
			} else if (body > 0) {
				c->in.off += body;
				t->flags |= T_BODY_GONE;
			}
		} else
			t->uphead.off += (uint32_t)n;
		/* a chunked body that outgrew the buffer: what went out is
		 * dropped, so that the rest can be read */
		if ((t->flags & (T_RETAIN | T_REQ_READ_DONE)) == T_RETAIN &&
		    c->in_ready - c->in.off >= c->lconf->limits.buffer_bytes) {
			req_unretain(c);
			t->flags |= T_BODY_GONE;
		}
		if (sl_buf_pending(&t->uphead) > 0 ||
		    c->in_ready > c->in.off + t->body_off) {
			t->flags |= T_UP_WBLOCK;
			sl_upstream_want_write(u, 1);
			return 0;
		}
	}
	sl_upstream_want_write(u, 0);
	if (t->flags & T_REQ_READ_DONE) {
		t->flags |= T_REQ_SENT;
		t->up_progress_ms = now_ms();
	}
	return 0;
}

/* ---- response direction ----------------------------------------------- */

/* Checks new response bytes: head, then body framing. Returns -1 when
 * the exchange failed (already handled). */
/*
 * An interim (1xx) response from the upstream (RFC 9110 section 15.2): a
 * proxy passes on the ones it did not ask for, in order, before the final
 * response. Passed on to HTTP/1.1 clients only (HTTP/1.0 has no 1xx), and
 * never 100 Continue: the upstream never sees Expect, sluice answers the
 * client's expectation itself, so the client has had its 100 already. All
 * the interim heads of one request together stay within max_header_bytes.
 */
static int
resp_interim(struct sl_client *c, const struct sl_h1_response *resp,
	     size_t hlen)
{
	struct sl_txn *t = c->txn;
	long n;

	if (hlen > c->lconf->limits.max_header_bytes - t->interim_bytes) {
		sl_attempt_failed(c, FAIL_BAD, "upstream_head_too_large",
				  "interim_responses");
		return -1;
	}
	t->interim_bytes += (uint32_t)hlen;
	if (resp->status == 100 || t->minor == 0)
		return 0;
	if (out_reserve(c, hlen) == -1 ||
	    (n = sl_h1_write_interim_head(c->txn->out.data + c->txn->out.len,
					  sl_buf_space(&c->txn->out), resp)) <
		0) {
		sl_attempt_failed(c, FAIL_BAD, "upstream_head_too_large",
				  "interim_responses");
		return -1;
	}
	c->txn->out.len += (uint32_t)n;
	t->head_out += (uint32_t)n;
	return 0;
}

/* An incomplete response head fills the upstream buffer: it needs a
 * larger one, or (at buffer_bytes) it is too large. */
static int
head_fills_buffer(const struct sl_txn *t, const struct sl_upconn *u)
{
	return !(t->flags & T_RESP_HEAD) && u->in.data != NULL &&
	       sl_buf_pending(&u->in) >= u->in.cap;
}

static int
resp_advance(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	struct sl_worker *w = c->w;

	while (!(t->flags & T_RESP_HEAD)) {
		struct sl_h1_limits hl = {c->lconf->limits.max_header_bytes,
					  c->lconf->limits.max_header_bytes,
					  w->max_hdrs};
		struct sl_h1_response resp;
		struct sl_h1_header expose;
		const struct sl_hdr_apply *rules;
		const struct sl_hdr_vars *vp = NULL;
		struct sl_hdr_vars vars;
		char ip[64];
		long hlen, n;
		int close;

		if (sl_buf_pending(&u->in) == 0)
			return 0;
		hlen = sl_h1_scan_head(&t->resp_scan, u->in.data + u->in.off,
				       sl_buf_pending(&u->in), &hl, 0);
		if (hlen == 0 && head_fills_buffer(t, u) &&
		    u->in.cap >= c->lconf->limits.buffer_bytes) {
			/* a head that does not fit the whole budget never
			 * will (a smaller buffer grows: up_read) */
			sl_attempt_failed(c, FAIL_BAD,
					  "upstream_head_too_large",
					  "buffer_bytes");
			return -1;
		}
		if (hlen == 0)
			return 0;
		if (hlen < 0) {
			sl_attempt_failed(c, FAIL_BAD, "upstream_bad_response",
					  sl_h1_reason_str(t->resp_scan.why));
			return -1;
		}
		/* sl_h1_parse_response clears the rest */
		resp.headers = w->hdrs;
		resp.max_headers = w->max_hdrs;
		if (sl_h1_parse_response(u->in.data + u->in.off, (size_t)hlen,
					 &resp, t->method_id) < 0) {
			sl_attempt_failed(c, FAIL_BAD, "upstream_bad_response",
					  sl_h1_reason_str(resp.why));
			return -1;
		}
		if (resp.status == 101) {
			sl_attempt_failed(c, FAIL_BAD, "upstream_bad_response",
					  "unrequested_101");
			return -1;
		}
		if (resp.status < 200) {
			if (resp_interim(c, &resp, (size_t)hlen) == -1)
				return -1;
			u->in.off += (uint32_t)hlen;
			u->ready = u->in.off;
			sl_h1_scan_init(&t->resp_scan);
			continue;
		}
		/* a status the route retries is dropped here, unseen; the
		 * outlier detector hears of every answer */
		if ((resp.status >= 500 || t->wc->conf->outlier.enabled) &&
		    sl_attempt_answered(c, resp.status))
			return -1;
		if (resp.ka_timeout > 0 || resp.ka_max > 0)
			sl_upstream_keepalive(u, resp.ka_timeout, resp.ka_max);
		/* answered: the request is not sent again, its kept body
		 * goes */
		if (t->flags & T_RETAIN)
			req_unretain(c);
		t->status = resp.status;
		t->resp_body = resp.body;
		t->resp_remaining = resp.content_length;
		t->resp_keepalive = sl_h1_persists(resp.minor, resp.flags);
		if (resp.body == SL_H1_BODY_CHUNKED) {
			sl_h1_chunked_init(&t->resp_chunked,
					   c->lconf->limits.max_header_bytes);
			t->resp_chunked.max_trailers =
			    c->lconf->limits.max_headers;
			t->resp_chunked.own = t->route->expose_cluster_header;
			if (t->minor == 0)
				t->flags |= T_DECHUNK;
		}
		if (resp.body == SL_H1_BODY_CLOSE || (t->flags & T_DECHUNK))
			t->flags |= T_CLOSE;
		close =
		    (t->flags & T_CLOSE) != 0 || !(t->flags & T_REQ_READ_DONE);
		if (close)
			t->flags |= T_CLOSE;
		if (out_reserve(c, (size_t)hlen + 512) == -1) {
			sl_attempt_failed(c, FAIL_BAD,
					  "upstream_head_too_large",
					  "max_header_bytes");
			return -1;
		}
		if (t->route->expose_cluster_header != NULL) {
			/* which cluster served it (a split's, say) */
			expose.name = t->route->expose_cluster_header;
			expose.name_len = strlen(expose.name);
			expose.value = t->wc->conf->name;
			expose.value_len = strlen(expose.value);
		}
		rules = txn_rules(c, 0, &vars, &vp, NULL, ip);
		n = sl_h1_write_response_head(
		    c->txn->out.data + c->txn->out.len,
		    sl_buf_space(&c->txn->out), &resp, t->minor, close,
		    (t->flags & T_DECHUNK) != 0, t->request_id,
		    t->route->expose_cluster_header != NULL ? &expose : NULL,
		    rules, vp);
		if (n < 0) {
			sl_attempt_failed(c, FAIL_BAD,
					  "upstream_head_too_large",
					  "max_header_bytes");
			return -1;
		}
		c->txn->out.len += (uint32_t)n;
		t->head_out += (uint32_t)n;
		u->in.off += (uint32_t)hlen;
		u->ready = u->in.off;
		t->flags |= T_RESP_HEAD;
		if (c->lconf->limits.min_send_rate_bps > 0)
			sl_rate_start(&t->send_rate, now_ms());
		/* an answer before the whole request went out: the upstream
		 * connection cannot carry another exchange */
		if (!(t->flags & T_REQ_SENT))
			t->flags |= T_UP_BROKEN;
		/* the request cannot be replayed any more; a head still
		 * being written is kept until it is out */
		if (sl_buf_pending(&t->uphead) == 0)
			sl_buf_release(&w->bufs, &t->uphead);
		if (resp.body == SL_H1_BODY_NONE)
			t->flags |= T_RESP_DONE;
	}
	if (!(t->flags & T_RESP_DONE) && u->in.len > u->ready) {
		uint32_t avail = u->in.len - u->ready;
		size_t consumed, data;
		int r;

		switch (t->resp_body) {
		case SL_H1_BODY_LENGTH: {
			uint64_t k = SL_MIN((uint64_t)avail, t->resp_remaining);
			u->ready += (uint32_t)k;
			t->resp_remaining -= k;
			if (t->resp_remaining == 0)
				t->flags |= T_RESP_DONE;
			break;
		}
		case SL_H1_BODY_CHUNKED:
			r = sl_h1_chunked_decode(
			    &t->resp_chunked, u->in.data + u->ready, avail,
			    (t->flags & T_DECHUNK) != 0, &consumed, &data);
			if (t->flags & T_DECHUNK) {
				/* payload moved to ready; close the gap
				 * left by the framing bytes */
				memmove(u->in.data + u->ready + data,
					u->in.data + u->ready + consumed,
					avail - consumed);
				u->in.len -= (uint32_t)(consumed - data);
				u->ready += (uint32_t)data;
			} else
				u->ready += (uint32_t)consumed;
			if (r < 0 && t->bytes_out == 0) {
				/* nothing of it went out yet: the client
				 * gets a whole 502 instead */
				t->flags |= T_UP_BROKEN;
				sl_attempt_failed(
				    c, FAIL_BAD, "upstream_bad_chunk",
				    sl_h1_reason_str(t->resp_chunked.why));
				return -1;
			}
			if (r < 0) {
				char peer[SL_PEER_MAX];
				/* part of the body is out: only a close tells
				 * the client the rest will not come */
				log_warnx(
				    "conn=%llu peer=%s request_id=%s "
				    "route=%s upstream=%s: "
				    "upstream_bad_chunk (%s)",
				    (unsigned long long)c->id,
				    sl_client_peer_str(c, t, peer,
						       sizeof(peer)),
				    t->request_id, t->route->name,
				    t->wc->eps[t->ep_index]->conf->addr.text,
				    sl_h1_reason_str(t->resp_chunked.why));
				t->error = "upstream_bad_chunk";
				t->flags |= T_UP_BROKEN;
				sl_client_close(c, "upstream_bad_chunk");
				return -1;
			}
			if (r == 1)
				t->flags |= T_RESP_DONE;
			break;
		case SL_H1_BODY_CLOSE:
			u->ready = u->in.len;
			break;
		case SL_H1_BODY_NONE:
			break;
		}
	}
	if ((t->flags & T_RESP_DONE) && u->in.len > u->ready)
		t->flags |= T_UP_BROKEN; /* bytes after the response */
	return 0;
}

/*
 * Is the response body paced to what the client's socket takes? A client
 * that has not shown it reads fast (the first response buffer class, not
 * proven: sl_client_rbuf_size) gets, after its first buffer_bytes, only
 * as much read from the upstream as its socket takes at once. What it has
 * not taken yet then waits in the upstream socket, not in a buffer of
 * ours: a thousand clients that stop reading hold no response buffer at
 * all, where they held one each (and under TLS, OpenSSL no record it
 * could not write).
 */
static int
resp_paced(const struct sl_client *c, const struct sl_txn *t)
{
	return (t->flags & T_RESP_HEAD) &&
	       !(c->flags & (C_F_RBUF_PROVEN | C_F_RBUF_MASK)) &&
	       t->send_written >= c->lconf->limits.buffer_bytes;
}

/* Reads from the upstream. Returns -1 when the exchange failed. */
static int
up_read(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	size_t size, max = SIZE_MAX;
	ssize_t n;
	int rerr;

	if (resp_paced(c, t)) {
		/* the bytes still here go first */
		size_t room = sl_xprt_send_room(c->fd, c->ssl);
		size_t held = u->in.data != NULL ? sl_buf_pending(&u->in) : 0;
		max = room > held ? room - held : 0;
	}
	if (max == 0) {
		if (!(t->flags & T_PACE_WOKE)) {
			/* the client's socket is full: the rest waits
			 * upstream until the client is writable
			 * (sl_client_on_write) */
			t->flags |= T_PACED;
			sl_upstream_want_read(u, 0);
			sl_client_want_write(c, 1);
			return 0;
		}
		/* writable, yet no room: a kernel that counts otherwise.
		 * One read as without pacing, not a wake-up loop. */
		max = SIZE_MAX;
	}
	t->flags &= ~T_PACE_WOKE;

	/* the buffer the client has earned (sl_client_rbuf_size), or the
	 * whole budget for a head that does not fit it; with no room left
	 * the read interest goes off: the client is slower than the
	 * upstream */
again:
	size = head_fills_buffer(t, u) ? c->lconf->limits.buffer_bytes
				       : sl_client_rbuf_size(c);
	n = sl_upstream_read(u, size, max);
	if (n > 0) {
		t->up_progress_ms = now_ms();
		if (u->in.len == u->in.cap && (c->flags & C_F_RBUF_PROVEN))
			sl_client_rbuf_set(c, 1);
		if (resp_advance(c) == -1)
			return -1;
		/* a head that filled a buffer smaller than the budget: read
		 * on now, into a larger one. Waiting for the next event is not
		 * enough: the full buffer turned reading off, the rest may be
		 * inside TLS where epoll cannot see it, and an upstream that
		 * answered early and closed gets one call to be read. */
		if (head_fills_buffer(t, u) &&
		    u->in.cap < c->lconf->limits.buffer_bytes) {
			sl_upstream_want_read(u, 1);
			goto again;
		}
		return 0;
	}
	if (n == SL_AGAIN)
		return 0;
	if (n == -1 && errno == ENOMEM) {
		sl_attempt_failed(c, FAIL_RESET, "out_of_memory", NULL);
		return -1;
	}
	/* end of stream or error */
	rerr = errno;
	sl_upstream_want_read(u, 0);
	if (resp_advance(c) == -1)
		return -1;
	if (!(t->flags & T_RESP_HEAD)) {
		sl_attempt_failed(c, FAIL_RESET,
				  n == 0 ? "upstream_closed" : "upstream_reset",
				  n == 0 ? NULL : strerror(rerr));
		return -1;
	}
	if (t->resp_body == SL_H1_BODY_CLOSE && n == 0) {
		t->flags |= T_RESP_DONE | T_UP_BROKEN;
		return 0;
	}
	if (!(t->flags & T_RESP_DONE)) {
		sl_attempt_failed(c, FAIL_RESET, "upstream_truncated",
				  n == 0 ? "closed" : strerror(rerr));
		return -1;
	}
	t->flags |= T_UP_BROKEN;
	return 0;
}

/*
 * Whether a response head waits for the first bytes of its body. Upstreams
 * commonly write the head and a Content-Length body with two calls (nginx:
 * writev, then sendfile); forwarding each as it comes costs the client a
 * second segment, a second read and an ACK. The head alone is held, and only
 * while the upstream is being read for a body of known length: body bytes
 * are never delayed, and chunked or close-delimited responses (event
 * streams) get their head at once. A stalled upstream is on its response
 * timeout as before.
 */
static int
resp_head_held(const struct sl_txn *t, const struct sl_upconn *u)
{
	return u != NULL &&
	       (t->flags & (T_LOCAL | T_RESP_HEAD | T_RESP_DONE)) ==
		   T_RESP_HEAD &&
	       t->resp_body == SL_H1_BODY_LENGTH && t->bytes_out == 0 &&
	       u->ready == u->in.off && u->rev_on;
}

/*
 * Is this a bulk write of a Content-Length body whose next bytes already
 * wait on the upstream socket? Then it goes with MSG_MORE: the kernel
 * keeps the last partial segment for the next write, and a 64 KiB write
 * does not leave as a full segment plus a 53-byte one (loopback's MSS is
 * 65483). Only then: bytes held with nothing to follow would wait up to
 * 200 ms in the kernel. Costs one FIONREAD per bulk write; small writes,
 * and the last one of a body, go out at once.
 */
#define SEND_MORE_MIN (16 * 1024)

static int
body_more_ready(const struct sl_txn *t, const struct sl_upconn *u)
{
	if (t->resp_body != SL_H1_BODY_LENGTH || (t->flags & T_RESP_DONE) ||
	    u->ready - u->in.off < SEND_MORE_MIN)
		return 0;
	return sl_upstream_more_waiting(u);
}

int
sl_exchange_output(struct sl_client *c, struct iovec *iov, int *more)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	size_t op;
	int niov = 0;

	*more = 0;
	if (resp_head_held(t, u))
		return 0; /* wait for the body's first bytes */
	if ((op = sl_buf_pending(&t->out)) > 0)
		iov[niov++] = (struct iovec){t->out.data + t->out.off, op};
	if (u != NULL && (t->flags & T_RESP_HEAD) && u->ready > u->in.off) {
		iov[niov++] = (struct iovec){u->in.data + u->in.off,
					     u->ready - u->in.off};
		*more = body_more_ready(t, u);
	}
	return niov;
}

int
sl_exchange_sent(struct sl_client *c, size_t n)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	size_t op = sl_buf_pending(&t->out);

	t->bytes_out += (uint64_t)n;
	t->send_written += (uint64_t)n;
	if (t->send_written - t->rbuf_mark >= SL_RBUF_PROOF)
		c->flags |= C_F_RBUF_PROVEN; /* sl_client_rbuf_size */
	if (n >= op) {
		t->out.off += (uint32_t)op;
		if (u != NULL && n > op)
			sl_upstream_consume(u, n - op);
	} else
		t->out.off += (uint32_t)n;
	if (sl_buf_pending(&t->out) == 0)
		sl_buf_release(&c->w->bufs, &t->out);
	/* paced: what the client has not taken waits upstream, not here */
	if (u != NULL && u->in.data != NULL && sl_buf_pending(&u->in) == 0 &&
	    resp_paced(c, t))
		sl_buf_release(&c->w->bufs, &u->in);
	return sl_buf_pending(&t->out) > 0 ||
	       (u != NULL && (t->flags & T_RESP_HEAD) && u->ready > u->in.off);
}

void
sl_exchange_schedule(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	uint64_t x = UINT64_MAX, d;

	if (!(c->flags & C_F_REV) && t->body_rate.start_ms != 0)
		/* not reading is the gateway's doing, not the client's */
		sl_rate_excuse(&t->body_rate, now_ms());
	if (t->flags & T_QUEUED)
		x = SL_MIN(x, t->queue_deadline_ms);
	if (t->flags & T_BACKOFF)
		x = SL_MIN(x, t->retry_at_ms);
	/* the route's deadline holds until a response head came */
	if (t->deadline_ms != 0 && !(t->flags & (T_LOCAL | T_RESP_HEAD)))
		x = SL_MIN(x, t->deadline_ms);
	if (t->body_rate.start_ms != 0 &&
	    !(t->flags & (T_LOCAL | T_REQ_READ_DONE)))
		x = SL_MIN(x, t->body_rate.next_ms);
	if (t->send_rate.start_ms != 0 && !(t->flags & T_LOCAL))
		x = SL_MIN(x, t->send_rate.next_ms);
	if (!(t->flags & (T_LOCAL | T_REQ_READ_DONE)) && (c->flags & C_F_REV))
		x = SL_MIN(x,
			   t->last_read_ms + c->lconf->limits.body_timeout_ms);
	if (u != NULL && sl_upstream_connecting(u))
		x = SL_MIN(x, t->connect_deadline_ms);
	else if (u != NULL && !(t->flags & T_RESP_DONE)) {
		/* resume reading the upstream once there is room (paced:
		 * once the client's socket has room) */
		if (!u->rev_on && !(t->flags & T_PACED) &&
		    (u->in.data == NULL || sl_buf_space(&u->in) > 0 ||
		     u->in.off > 0))
			sl_upstream_want_read(u, 1);
		/* the upstream is on the clock only while we wait for it,
		 * not while it waits for a slow client */
		if (((t->flags & T_REQ_SENT) && u->rev_on) ||
		    (t->flags & T_UP_WBLOCK))
			x = SL_MIN(x, t->up_progress_ms + t->try_timeout_ms);
	}
	if (c->flags & C_F_WEV)
		x = SL_MIN(x,
			   t->last_write_ms + c->lconf->limits.send_timeout_ms);
	d = x == UINT64_MAX ? 0 : x;
	if (d == t->armed_ms)
		return;
	if (d == 0) {
		event_del(&t->tev);
	} else {
		uint64_t now = now_ms();
		uint64_t ms = d > now ? d - now : 0;
		struct timeval tv = {(time_t)(ms / 1000),
				     (suseconds_t)(ms % 1000) * 1000};
		event_add(&t->tev, &tv);
	}
	t->armed_ms = d;
}

/* ---- the exchange ----------------------------------------------------- */

/* The exchange is over: give the upstream connection back, log, and go on
 * with the next request or close. */
static void
txn_finish(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	unsigned flags;
	const char *why;
	int linger = 0;

	if (u != NULL) {
		const struct sl_conf_cluster *cc = t->wc->conf;
		int reusable = (t->flags & T_REQ_SENT) &&
			       (t->flags & T_RESP_DONE) &&
			       !(t->flags & T_UP_BROKEN) && t->resp_keepalive &&
			       (cc->pool_max_requests == 0 ||
				u->nrequests < cc->pool_max_requests);
		sl_attempt_release(c, reusable);
	}
	if (t->flags & T_REQ_READ_DONE) {
		c->in.off = c->in_ready; /* body the upstream did not take */
	} else {
		t->flags |= T_CLOSE;
		linger = 1;
	}
	if ((t->flags & T_LOCAL) && (t->flags & T_CLOSE))
		linger = 1;
	sl_exchange_log(c, t);
	c->nrequests++;
	flags = t->flags;
	/* a refusal or a cut that closes, closes for its own reason */
	why = (flags & T_CLOSE) && (flags & T_LOCAL) && t->error != NULL
		  ? t->error
	      : (flags & T_CLOSE) ? "close"
				  : "eof";
	sl_exchange_free(c);
	/* a client that shut its write side after pipelining still gets
	 * every complete request it sent answered */
	if ((flags & T_CLOSE) || c->w->draining ||
	    ((c->flags & C_F_EOF) && sl_buf_pending(&c->in) == 0)) {
		sl_client_finish(c, why, linger);
		return;
	}
	sl_client_set_state(c, SL_CLIENT_ST_IDLE);
	sl_timeq_set(c->w, &c->tnode, c->lconf->limits.idle_timeout_ms,
		     now_ms());
	sl_buf_release_if_empty(&c->w->bufs, &c->in);
}

/* Moves bytes as far as they can go now. Returns -1 when c was closed or
 * the exchange ended, 0 when it waits for an event. */
int
sl_exchange_pump(struct sl_client *c)
{
	struct sl_txn *t;

	for (int guard = 0; guard < 8; guard++) {
		t = c->txn;
		if (c->state != SL_CLIENT_ST_TXN || t == NULL)
			return -1;
		if (!(t->flags & T_LOCAL)) {
			if (req_body_advance(c) == -1)
				continue; /* now a local response */
			if ((c->flags & C_F_EOF) &&
			    !(t->flags & T_REQ_READ_DONE) &&
			    c->in_ready == c->in.len) {
				/* half-closed before this (pipelined) body was
				 * complete: the rest will never come */
				sl_client_close(c, "client_closed_in_body");
				return -1;
			}
			if (up_write(c) == -1)
				continue;
			if (c->state != SL_CLIENT_ST_TXN)
				return -1;
		}
		if (sl_client_write(c) == -1)
			return -1;
		t = c->txn;
		if (sl_buf_pending(&c->txn->out) > 0 || (c->flags & C_F_WEV))
			return 0;
		if (t->flags & T_LOCAL) {
			txn_finish(c);
			return -1;
		}
		if ((t->flags & T_RESP_DONE) &&
		    (t->up == NULL || t->up->ready == t->up->in.off)) {
			txn_finish(c);
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
client_send_progress(struct sl_client *c, uint64_t now)
{
	struct sl_txn *t = c->txn;
	int outq = 0;
	uint64_t delivered;

	outq = sl_xprt_outq(c->fd, c->ssl);
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
 * The exchange's timer fired: acts on whichever of its deadlines passed.
 * Returns -1 when c was closed, 0 when it should be processed.
 */
static int
txn_on_deadline(struct sl_client *c, struct sl_txn *t, uint64_t now)
{
	struct sl_upconn *u = t->up;
	int pending_out;

	if ((c->flags & C_F_WEV) &&
	    now >= c->txn->last_write_ms + c->lconf->limits.send_timeout_ms) {
		sl_client_count_timeout(c, SL_TO_SEND);
		t->error = "send_timeout";
		sl_client_close(c, "send_timeout");
		return -1;
	}
	/* a held head is the upstream's delay, not the client's */
	pending_out =
	    !resp_head_held(t, u) &&
	    (sl_buf_pending(&c->txn->out) > 0 ||
	     (u != NULL && (t->flags & T_RESP_HEAD) && u->ready > u->in.off));
	if (t->send_rate.start_ms != 0 && now >= t->send_rate.next_ms) {
		/* the client took everything there was: waiting for
		 * the upstream is not its fault */
		if (client_send_progress(c, now) == 0 && !pending_out)
			sl_rate_excuse(&t->send_rate, now);
		if (sl_rate_check(&t->send_rate, now,
				  c->lconf->limits.min_send_rate_bps)) {
			sl_client_count_timeout(c, SL_TO_SEND_RATE);
			t->error = "min_send_rate";
			sl_client_close(c, "min_send_rate");
			return -1;
		}
	}
	if (t->deadline_ms != 0 && !(t->flags & (T_LOCAL | T_RESP_HEAD)) &&
	    now >= t->deadline_ms) {
		sl_attempt_deadline(c);
		return 0;
	}
	if ((t->flags & T_BACKOFF) && now >= t->retry_at_ms) {
		sl_attempt_resume(c);
		return 0;
	}
	if ((t->flags & T_QUEUED) && now >= t->queue_deadline_ms) {
		sl_attempt_dequeue(t);
		sl_attempt_overloaded(c);
		return 0;
	}
	if (u != NULL && sl_upstream_connecting(u) &&
	    now >= t->connect_deadline_ms) {
		char d[64];
		snprintf(d, sizeof(d),
			 "no answer within connect_timeout %llu ms",
			 (unsigned long long)t->wc->conf->connect_timeout_ms);
		sl_attempt_failed(c, FAIL_CONNECT_TIMEOUT,
				  "upstream_connect_timeout", d);
		return 0;
	}
	if (u != NULL && u->state == SL_UP_ST_ACTIVE &&
	    !(t->flags & T_RESP_DONE) &&
	    (((t->flags & T_REQ_SENT) && u->rev_on) ||
	     (t->flags & T_UP_WBLOCK)) &&
	    now >= t->up_progress_ms + t->try_timeout_ms) {
		char d[64];
		snprintf(d, sizeof(d), "silent for %llu ms (per-try timeout)",
			 (unsigned long long)t->try_timeout_ms);
		sl_attempt_failed(c, FAIL_TIMEOUT, "upstream_timeout", d);
		return 0;
	}
	if (t->flags & (T_LOCAL | T_REQ_READ_DONE))
		return 0;
	if ((c->flags & C_F_REV) &&
	    now >= c->txn->last_read_ms + c->lconf->limits.body_timeout_ms) {
		sl_client_count_timeout(c, SL_TO_BODY);
		sl_exchange_local(c, 408, "request_timeout", 1);
		if (c->txn != NULL && c->state == SL_CLIENT_ST_TXN)
			c->txn->error = "body_timeout";
		return 0;
	}
	if (t->body_rate.start_ms != 0 && now >= t->body_rate.next_ms &&
	    !(c->flags & C_F_REV))
		/* reading is off: the upstream holds the body back */
		sl_rate_excuse(&t->body_rate, now);
	if (t->body_rate.start_ms != 0 && now >= t->body_rate.next_ms &&
	    sl_rate_check(&t->body_rate, now,
			  c->lconf->limits.min_body_rate_bps)) {
		sl_client_count_timeout(c, SL_TO_BODY_RATE);
		sl_exchange_local(c, 408, "request_timeout", 1);
		if (c->txn != NULL && c->state == SL_CLIENT_ST_TXN)
			c->txn->error = "min_body_rate";
		return 0;
	}
	return 0;
}

static void
exchange_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_client *c = arg;
	struct sl_txn *t = c->txn;
	uint64_t now = sl_now_refresh();

	/* only an exchange arms this timer; other states use the worker's
	 * lists (sl_client_on_deadline) */
	if (c->state != SL_CLIENT_ST_TXN || t == NULL)
		return;
	t->armed_ms = 0;
	if (txn_on_deadline(c, t, now) == -1)
		return;
	sl_client_process(c);
}

/* The handler of the exchange's upstream connection (arg: its client). */
void
sl_exchange_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err,
			void *arg)
{
	struct sl_client *c = arg;
	struct sl_txn *t = c->txn;

	sl_now_refresh();
	if (c->state != SL_CLIENT_ST_TXN || t == NULL || t->up != u)
		return;
	switch (ev) {
	case SL_UP_EV_FAILED:
		/* the OS's reason: refused, no route to host, its own SYN
		 * timeout */
		if (err == SL_UP_ERR_TLS)
			sl_attempt_failed(c, FAIL_TLS, "upstream_tls",
					  sl_upstream_tls_why());
		else
			sl_attempt_failed(c, FAIL_REFUSED,
					  "upstream_connect_failed",
					  strerror(err));
		break;
	case SL_UP_EV_CONNECTED:
		/* the attempt started connecting at its last progress */
		t->connect_ms +=
		    (uint32_t)SL_MIN(now_ms() - t->up_progress_ms, UINT32_MAX);
		t->up_progress_ms = now_ms();
		break;
	case SL_UP_EV_WRITABLE:
		t->flags &= ~T_UP_WBLOCK;
		sl_upstream_want_write(u, 0);
		break;
	case SL_UP_EV_READABLE:
		/* on failure the exchange is now a local answer or a close,
		 * and processing carries on from there all the same */
		(void)up_read(c);
		break;
	}
	sl_client_process(c);
}
