/* SPDX-License-Identifier: MIT */
/*
 * The access log line of an exchange (JSON or combined), written once per
 * exchange, finished or cut, with the counters it feeds, and the
 * exchange's phases and flags in words for debug logs. Reads the exchange
 * and its connection; changes neither, and calls nothing of the exchange's
 * other files.
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
#include "exchange_int.h"
#include "forwarded.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "log.h"
#include "mirror.h"
#include "pan.h"
#include "policy.h"
#include "rate.h"
#include "retry.h"
#include "rlcheck.h"
#include "route.h"
#include "runtime.h"
#include "tls.h"
#include "upstream.h"
#include "users.h"
#include "wloop.h"
#include "xprt.h"

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

/* The entry of its route's split an exchange ended on (its cluster's
 * place; nsplit when the route has no split or none matches). */
static size_t
txn_split_entry(const struct sl_txn *t)
{
	const struct sl_conf_route *r = t->route;
	size_t i;

	for (i = 0; i < r->nsplit && r->split[i].cluster != t->wc->conf; i++)
		;
	return i;
}

_Static_assert(SL_USERS_ENTRIES == SL_SPLIT_SEEN,
	       "the users' sketch follows the entries the page counts");

/* A split route's exchange counted by the entry i it ended on (the
 * status page's shares), and by whether a sticky key chose it. */
static void
txn_split_note(struct sl_counts *rc, const struct sl_txn *t, size_t i)
{
	if (i >= t->route->nsplit || i >= SL_SPLIT_SEEN)
		return;
	SL_STAT_INC(rc->split[i]);
	if (t->flags & SL_TXN_F_STICKY_KEY) {
		struct sl_users *u = atomic_load_explicit(
		    &t->route->state->users, memory_order_relaxed);
		SL_STAT_INC(rc->sticky[i]);
		if (u != NULL)
			sl_users_note(u, i, t->sticky_key, now_ms());
	}
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
	size_t n = 0, k = SL_MIN((size_t)t->att.nfail, SL_NELEM(t->att.fails));
	int w;

	buf[0] = '\0';
	for (size_t i = 0; i < k && t->wc != NULL; i++) {
		const char *ep =
		    t->att.fails[i].upstream ? t->att.fails[i].upstream : "-";
		if (json)
			w = snprintf(buf + n, size - n,
				     "%s{\"class\":%u,\"error\":\"%s\","
				     "\"upstream\":\"%s\"}",
				     i ? "," : "", t->att.fails[i].cls,
				     t->att.fails[i].why, ep);
		else
			w = snprintf(buf + n, size - n, "%s%u:%s@%s",
				     i ? "," : "", t->att.fails[i].cls,
				     t->att.fails[i].why, ep);
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

/* The exchange counted: the worker's, its listener's, its route's
 * (and split's) and its cluster's counters. hdur: its time
 * for the histograms, slot its bucket. */
static void
exchange_count(struct sl_seam *s, struct sl_txn *t, int cls, uint64_t hdur,
	       unsigned slot)
{
	SL_STAT_INC(s->w->stats.requests);
	SL_STAT_INC(s->w->stats.responses[cls]);
	if (t->grpc.status != 0)
		SL_STAT_INC(s->w->stats.grpc_local[t->grpc.status]);
	else if (t->grpc.up != 0)
		SL_STAT_INC(s->w->stats.grpc_upstream[t->grpc.up - 1]);
	/* by protocol: HTTP/2's and HTTP/3's counted, HTTP/1.x's are the
	 * rest (the admin page subtracts); the durations of each */
	if (SL_SEAM_PROTO(s) != 0) {
		SL_STAT_INC(s->w->stats.proto_requests[SL_SEAM_PROTO(s)]);
		SL_STAT_INC(s->w->stats.proto_responses[SL_SEAM_PROTO(s)][cls]);
	}
	SL_STAT_INC(s->w->stats.proto_dur[SL_SEAM_PROTO(s)][slot]);
	SL_STAT_ADD(s->w->stats.proto_dur_sum_ms[SL_SEAM_PROTO(s)], hdur);
	{
		struct sl_counts *lc = &s->lconf->counters->counts[s->w->id];
		SL_STAT_INC(lc->requests);
		SL_STAT_INC(lc->responses[cls]);
		SL_STAT_INC(lc->dur[slot]); /* the status page's */
	}
	if (t->route != NULL) {
		struct sl_counts *rc = &t->route->state->counts[s->w->id];
		SL_STAT_INC(rc->requests);
		SL_STAT_INC(rc->responses[cls]);
		SL_STAT_INC(rc->dur[slot]);
		SL_STAT_ADD(rc->dur_sum_ms, hdur);
		if (t->route->split != NULL && t->wc != NULL) {
			txn_split_note(rc, t, txn_split_entry(t));
		}
	}
	if (t->wc != NULL) {
		struct sl_counts *cc = &t->wc->conf->state->counts[s->w->id];
		SL_STAT_INC(cc->requests);
		SL_STAT_INC(cc->responses[cls]);
		if (t->clk.up_start_ms != 0) {
			uint64_t up =
			    t->status == 101
				? t->clk.start_ms + t->switch_ms -
				      SL_MIN(t->clk.up_start_ms,
					     t->clk.start_ms + t->switch_ms)
				: now_ms() - t->clk.up_start_ms;
			SL_STAT_INC(cc->dur[sl_hist_slot(up)]);
			SL_STAT_ADD(cc->dur_sum_ms, up);
		}
	}
}

/* What one line says beyond the exchange's own fields, worked out once
 * for either format. */
struct lline {
	struct timespec now;
	uint64_t dur, up_ms;
	const char *upstream, *cluster, *close_why;
	const char *via, *auth; /* NULL: not said */
	char peer[64], viab[64], rid[SL_REQUEST_ID_MAX + 1], authb[512];
	struct sl_flog fl; /* the filters' fields */
};

static void
line_values(struct sl_seam *s, struct sl_txn *t, struct lline *l)
{
	l->upstream = "-";
	l->cluster = "-";
	l->close_why = "";
	l->via = l->auth = NULL;
	l->up_ms = 0;
	if (t->wc != NULL) {
		l->cluster = t->wc->conf->name;
		if (t->clk.up_start_ms != 0)
			l->up_ms = now_ms() - t->clk.up_start_ms;
	}
	/* why the connection ends with this exchange, "" when it is kept
	 * (an HTTP/2 stream: why the stream was cut, "" when it was not) */
	if (s->close_reason != NULL)
		l->close_why = s->close_reason;
	else if ((t->flags & SL_TXN_F_CLOSE) && SL_SEAM_PROTO(s) == 0)
		/* a refusal or a cut closes for its own reason */
		l->close_why =
		    (t->resp_ph == SL_TXN_RESP_LOCAL) && txn_error(t)[0] != '\0'
			? txn_error(t)
			: "connection_close";
	clock_gettime(CLOCK_REALTIME, &l->now);
	sl_ip_str(&t->client_addr, l->peer, sizeof(l->peer));
	/* identity: who connected, when not the client (edge.md) */
	if (s->pp != NULL || (t->flags & SL_TXN_F_FWD_CLIENT)) {
		l->via = sl_seam_via(s, (t->flags & SL_TXN_F_FWD_CLIENT) != 0,
				     &t->client_addr, l->viab, sizeof(l->viab));
		if (s->pp != NULL && s->pp->authority_len > 0) {
			/* the PROXY protocol's authority is the client's
			 * choice of name: masked as the others are */
			snprintf(l->authb, sizeof(l->authb), "%s",
				 s->pp->authority);
			if (sl_log_cards())
				(void)sl_pan_mask(l->authb, strlen(l->authb),
						  s->pp->authority_len >=
						      sizeof(l->authb));
			l->auth = l->authb;
		}
	}
	if (t->wc != NULL)
		l->upstream = t->wc->eps[t->ep_index]->conf->addr.text;
	/* a client's own X-Request-Id is a value it chose, masked as the
	 * others are (one sluice made holds no card number) */
	memcpy(l->rid, t->request_id, sizeof(l->rid));
	if ((t->flags & SL_TXN_F_CLIENT_RID) && sl_log_cards())
		(void)sl_pan_mask(l->rid, strlen(l->rid), 0);
	access_time(l->now.tv_sec);
}

/* The values of field i of fl and of the fields after it of its name,
 * joined by commas ("jwt,external"): the index of the next field. */
static unsigned
flog_values(struct lw *w, const struct sl_flog *fl, unsigned i)
{
	lw_str(w, fl->f[i].value);
	while (++i < fl->n && strcmp(fl->f[i].name, fl->f[i - 1].name) == 0) {
		LW_LIT(w, ",");
		lw_str(w, fl->f[i].value);
	}
	return i;
}

/* The line as JSON, written by hand, not by snprintf: the line is most of
 * what logging costs per request. Returns its length. */
static size_t
line_json(struct sl_seam *s, struct sl_txn *t, const struct lline *l,
	  char *line, size_t cap)
{
	struct lw w = {line, line + cap - 1};
	char fails[512];
	size_t n;
	unsigned i = 0; /* the filters' fields written */

	LW_LIT(&w, "{\"time\":\"");
	lw_mem(&w, ts_json, ts_json_len);
	lw_ch(&w, '.');
	lw_u64w(&w, (uint64_t)(l->now.tv_nsec / 1000000), 3);
	LW_LIT(&w, "Z\",\"conn\":");
	lw_u64(&w, s->id);
	LW_LIT(&w, ",\"peer\":\"");
	lw_str(&w, l->peer);
	if (l->via != NULL) {
		LW_LIT(&w, "\",\"via\":\"");
		lw_str(&w, l->via);
	}
	if (l->auth != NULL) {
		LW_LIT(&w, "\",\"authority\":\"");
		lw_esc(&w, l->auth, 512);
	}
	LW_LIT(&w, "\",\"listener\":\"");
	lw_str(&w, s->lconf->name);
	if (SL_SEAM_PROTO(s) == 2) {
		LW_LIT(&w, "\",\"protocol\":\"HTTP/3\",\"stream\":");
		lw_u64(&w, s->stream_id);
		LW_LIT(&w, ",\"method\":\"");
	} else if (s->stream_id != 0) {
		LW_LIT(&w, "\",\"protocol\":\"HTTP/2.0\",\"stream\":");
		lw_u64(&w, s->stream_id);
		LW_LIT(&w, ",\"method\":\"");
	} else if (t->minor == 0)
		LW_LIT(&w, "\",\"protocol\":\"HTTP/1.0\",\"method\":\"");
	else
		LW_LIT(&w, "\",\"protocol\":\"HTTP/1.1\",\"method\":\"");
	lw_esc(&w, t->note.method, 128);
	LW_LIT(&w, "\",\"path\":\"");
	lw_esc(&w, sl_exchange_note_path(t), 1024);
	LW_LIT(&w, "\",\"host\":\"");
	lw_esc(&w, t->note.host, 256);
	LW_LIT(&w, "\",\"status\":");
	lw_u64(&w, (uint64_t)(t->status > 0 ? t->status : 0));
	if (t->grpc.status != 0) {
		/* sluice's own gRPC answer (doc/grpc.md) */
		LW_LIT(&w, ",\"grpc_status\":");
		lw_u64(&w, t->grpc.status);
	} else if (t->grpc.up != 0) {
		/* the upstream's */
		LW_LIT(&w, ",\"grpc_status\":");
		lw_u64(&w, (uint64_t)(t->grpc.up - 1));
	}
	/* the filters' early fields (filter.h's SL_FLOG_EARLY): the
	 * auth's, where it always stood */
	while (i < l->fl.n && l->fl.f[i].pos < SL_FLOG_EARLY) {
		LW_LIT(&w, ",\"");
		lw_str(&w, l->fl.f[i].name);
		LW_LIT(&w, "\":\"");
		i = flog_values(&w, &l->fl, i);
		LW_LIT(&w, "\"");
	}
	LW_LIT(&w, ",\"route\":\"");
	lw_str(&w, t->route ? t->route->name : "-");
	LW_LIT(&w, "\",\"upstream\":\"");
	lw_str(&w, l->upstream);
	LW_LIT(&w, "\",\"bytes_in\":");
	lw_u64(&w, t->bytes_in);
	LW_LIT(&w, ",\"bytes_out\":");
	lw_u64(&w, t->bytes_out);
	LW_LIT(&w, ",\"duration_ms\":");
	lw_u64(&w, l->dur);
	LW_LIT(&w, ",\"request_id\":\"");
	lw_str(&w, l->rid);
	/* the filters' other fields (filter.h's sl_flog), in their places */
	while (i < l->fl.n) {
		LW_LIT(&w, "\",\"");
		lw_str(&w, l->fl.f[i].name);
		LW_LIT(&w, "\":\"");
		i = flog_values(&w, &l->fl, i);
	}
	LW_LIT(&w, "\",\"error\":\"");
	lw_str(&w, txn_error(t));
	LW_LIT(&w, "\",\"retried\":");
	if (t->att.nretries > 0)
		LW_LIT(&w, "true");
	else
		LW_LIT(&w, "false");
	LW_LIT(&w, ",\"retries\":");
	lw_u64(&w, t->att.nretries);
	LW_LIT(&w, ",\"failures\":[");
	if (t->att.nfail > 0) {
		txn_failures(t, fails, sizeof(fails), 1);
		lw_str(&w, fails);
	}
	LW_LIT(&w, "],\"referer\":\"");
	lw_esc(&w, t->note.referer, 512);
	LW_LIT(&w, "\",\"user_agent\":\"");
	lw_esc(&w, t->note.user_agent, 512);
	LW_LIT(&w, "\",\"cluster\":\"");
	lw_str(&w, l->cluster);
	LW_LIT(&w, "\",\"connect_ms\":");
	lw_u64(&w, t->connect_ms);
	LW_LIT(&w, ",\"upstream_ms\":");
	lw_u64(&w, l->up_ms);
	LW_LIT(&w, ",\"close\":\"");
	lw_str(&w, l->close_why);
	LW_LIT(&w, "\"}\n");
	n = (size_t)(w.p - line);
	if (w.p == w.end) /* cut short: still one line */
		line[n - 1] = '\n';
	return n;
}

/* The line in the combined format, then sluice's fields. Returns what
 * snprintf does. */
static size_t
line_clf(struct sl_seam *s, struct sl_txn *t, const struct lline *l, char *line,
	 size_t cap)
{
	char m[64], p[1024], r[512], u[512], retries[24] = "", fails[512];
	char ident[1200] = "", proto[16], sid[24] = "", gs[24] = "";
	char fields[256] = "";

	if (t->att.nretries > 0)
		snprintf(retries, sizeof(retries), " retries=%u",
			 t->att.nretries);
	sl_escape(m, sizeof(m), t->note.method, strlen(t->note.method));
	(void)sl_exchange_note_path(t);
	sl_escape(p, sizeof(p), t->note.path, strlen(t->note.path));
	sl_escape(r, sizeof(r), t->note.referer, strlen(t->note.referer));
	sl_escape(u, sizeof(u), t->note.user_agent, strlen(t->note.user_agent));
	if (l->via != NULL || l->auth != NULL) {
		char a[1100];
		snprintf(
		    ident, sizeof(ident), "%s%s%s%s", l->via ? " via=" : "",
		    l->via ? l->via : "", l->auth ? " authority=" : "",
		    l->auth ? sl_escape(a, sizeof(a), l->auth, strlen(l->auth))
			    : "");
	}
	if (t->grpc.status != 0)
		snprintf(gs, sizeof(gs), " grpc_status=%u", t->grpc.status);
	else if (t->grpc.up != 0)
		snprintf(gs, sizeof(gs), " grpc_status=%u",
			 (unsigned)(t->grpc.up - 1));
	/* the filters' fields (filter.h's sl_flog), in their places */
	for (unsigned i = 0, at = 0; i < l->fl.n && at < sizeof(fields); i++) {
		const struct sl_flog_field *f = &l->fl.f[i];
		/* a field of the name before's: one more of its values */
		if (i > 0 && strcmp(f->name, f[-1].name) == 0)
			at += (unsigned)snprintf(
			    fields + at, sizeof(fields) - at, ",%s", f->value);
		else
			at +=
			    (unsigned)snprintf(fields + at, sizeof(fields) - at,
					       " %s=%s", f->name, f->value);
	}
	if (SL_SEAM_PROTO(s) != 0) {
		snprintf(proto, sizeof(proto), "%s",
			 SL_SEAM_PROTO(s) == 2 ? "HTTP/3" : "HTTP/2.0");
		snprintf(sid, sizeof(sid), " stream=%u", s->stream_id);
	} else
		snprintf(proto, sizeof(proto), "HTTP/1.%d", t->minor);
	return (size_t)snprintf(
	    line, cap,
	    "%s - - [%s] \"%s %s %s\" %d %llu \"%s\" \"%s\" "
	    "rid=%s route=%s upstream=%s ms=%llu cluster=%s "
	    "connect_ms=%u upstream_ms=%llu "
	    "close=%s%s%s%s%s%s%s%s%s%s\n",
	    l->peer, ts_clf, m[0] ? m : "-", p[0] ? p : "-", proto, t->status,
	    (unsigned long long)txn_body_out(t), r[0] ? r : "-", u[0] ? u : "-",
	    l->rid, t->route ? t->route->name : "-", l->upstream,
	    (unsigned long long)l->dur, l->cluster, t->connect_ms,
	    (unsigned long long)l->up_ms, l->close_why[0] ? l->close_why : "-",
	    txn_error(t)[0] ? " error=" : "", txn_error(t), retries,
	    txn_failures(t, fails, sizeof(fails), 0) ? " failures=" : "", fails,
	    ident, sid, gs, fields);
}

/* Counts the exchange and writes its access log line; called once for
 * every exchange, finished or cut. The line's time is when the exchange
 * ended (duration_ms before it, it started). */
void
sl_exchange_log(struct sl_seam *s, struct sl_txn *t)
{
	char line[4096];
	struct lline l;
	size_t n;
	uint64_t dur = now_ms() - t->clk.start_ms;
	int cls = t->status >= 100 && t->status < 600 ? t->status / 100 : 0;
	/* a tunnel's life is no request's latency: its histograms take the
	 * time to the switch */
	uint64_t hdur = t->status == 101 ? t->switch_ms : dur;

	int access = sl_access_enabled();

	l.fl.n = 0;
	if ((t->fops & SL_FOP_LOG) || (access && (t->flags & SL_TXN_F_LOGF))) {
		/* the filters' own records go (a trace's spans), and their
		 * fields of the line when there is one */
		const struct sl_wroute *wr = &s->gen->routes[t->route->index];
		for (unsigned i = 0; i < wr->nfilt; i++) {
			const struct sl_filter *f = wr->filt[i];
			if (f->log != NULL)
				f->log(s, t, &l.fl);
			else if (f->log_fields != NULL && access &&
				 (t->flags & SL_TXN_F_LOGF))
				f->log_fields(t, &l.fl);
		}
	}
	exchange_count(s, t, cls, hdur, sl_hist_slot(hdur));
	if (!access)
		return;
	l.dur = dur;
	line_values(s, t, &l);
	if (sl_access_format() == SL_ACCESS_JSON)
		n = line_json(s, t, &l, line, sizeof(line));
	else
		n = line_clf(s, t, &l, line, sizeof(line));
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	sl_access_append(s->w->alog, line, n);
}

/* ---- the exchange's state, for debug logs ------------------------------- */

static const char *const req_phases[] = {"head", "body", "done"};
static const char *const up_phases[] = {"none",	   "queued",	 "unqueuing",
					"backoff", "connecting", "sending",
					"waiting", "receiving",	 "done"};
static const char *const send_phases[] = {"open", "blocked", "dead", "done"};
static const char *const resp_phases[] = {"none", "upstream", "local"};
static const char *const body_phases[] = {"stream", "kept", "gone"};
static const char *const replays[] = {"none", "fresh", "done"};
static const char *const paces[] = {"none", "paused", "woke"};

static const struct {
	unsigned bit;
	const char *name;
} txn_flags[] = {
    {SL_TXN_F_CLOSE, "close"},
    {SL_TXN_F_IDEMPOTENT, "idempotent"},
    {SL_TXN_F_DECHUNK, "dechunk"},
    {SL_TXN_F_UP_BROKEN, "up_broken"},
    {SL_TXN_F_HASH_KEY, "hash_key"},
    {SL_TXN_F_STICKY_KEY, "sticky_key"},
    {SL_TXN_F_FWD_CLIENT, "fwd_client"},
    {SL_TXN_F_IN_CLUSTER, "in_cluster"},
    {SL_TXN_F_IN_BUDGET, "in_budget"},
    {SL_TXN_F_TUN_SLOT, "tun_slot"},
    {SL_TXN_F_TUNNEL, "tunnel"},
    {SL_TXN_F_SPLICE_TRIED, "splice_tried"},
};

/* The name of value v of a table of n, "?" past its end. */
static const char *
state_name(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : "?";
}

#define STATE_NAME(names, v) state_name((names), SL_NELEM(names), (v))

const char *
sl_exchange_state_str(const struct sl_txn *t, char *buf, size_t size)
{
	int n = snprintf(
	    buf, size,
	    "req=%s up=%s send=%s resp=%s body=%s replay=%s "
	    "pace=%s flags=",
	    STATE_NAME(req_phases, t->req_ph), STATE_NAME(up_phases, t->up_ph),
	    STATE_NAME(send_phases, t->send_ph),
	    STATE_NAME(resp_phases, t->resp_ph),
	    STATE_NAME(body_phases, t->body_ph), STATE_NAME(replays, t->replay),
	    STATE_NAME(paces, t->pace));
	const char *sep = "";

	for (size_t i = 0;
	     i < SL_NELEM(txn_flags) && n >= 0 && (size_t)n < size; i++) {
		if (!(t->flags & txn_flags[i].bit))
			continue;
		n += snprintf(buf + n, size - (size_t)n, "%s%s", sep,
			      txn_flags[i].name);
		sep = ",";
	}
	if (*sep == '\0' && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, "-");
	return buf;
}
