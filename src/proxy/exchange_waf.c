/* SPDX-License-Identifier: MIT */
/*
 * A route's WAF (doc/operations.md, "A WAF for PCI DSS 6.4.2"): before the
 * request goes upstream, its request line, its fields and the first
 * body_limit bytes of its body go to libmodsecurity (waf.h) on one of the
 * worker's WAF threads (tpool.h), never on its loop: the rules cost
 * milliseconds a request, which the loop's other requests would wait.
 *
 *   nothing to stop     the request goes on
 *   an intervention     block: its status (403) to the client, nothing
 *                       upstream; detect: logged, the request goes on
 *   a body past the     on_body_limit: reject answers 413; partial
 *   limit               inspects the first body_limit bytes
 *   no verdict          the queue full, or the deadline (timeout) passed:
 *                       on_failure deny answers failure_status (503),
 *                       allow lets it through, counted
 *
 * The request waits as for an external check: its head kept in `in`, its
 * body read meanwhile. A job the request no longer wants (its deadline
 * passed, its client went) is taken back from the queue, or left to end
 * on its thread and freed then.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "budget.h"
#include "coding.h"
#include "conf_waf.h"
#include "exchange.h"
#include "exchange_int.h"
#include "log.h"
#include "pan.h"
#include "runtime.h"
#include "tpool.h"
#include "util.h"
#include "waf.h"
#include "wafcheck.h"
#include "wloop.h"
#include "wproxy.h"

#define NICE_INC 10 /* the WAF threads' priority under the loops' */

enum wf_phase {
	WF_BODY = 1, /* waiting for the body's first bytes */
	WF_RUNNING,  /* a WAF thread has the job */
	WF_DONE,     /* the verdict is in (or the failure); once applied,
			its job is gone */
};
enum wf_verdict {
	WV_PASS = 0,
	WV_STOP,
	WV_FAIL,
	WV_OVER,
	WV_LIMIT,
	WV_BUDGET, /* its client owes thread time: wait retry_s */
	WV_SHED,   /* the queue full, its client holding the most */
};

struct wafjob;

/* The worker's WAF (its per-worker state, filter.h's wsize): its threads
 * (tpool.h), made at the first request a WAF inspects, and their number
 * and queue as the worker started; the clients' budgets of thread time
 * (budget.h), made with the threads when waf.client_budget is not 0, and
 * what they were made of (the top-level waf: as the worker started). */
struct waf_ws {
	struct sl_tpool *pool;
	unsigned threads, queue;
	struct sl_budget *budget;
	uint64_t budget_ms, burst_ms, guard_ms;
	int key, prio;
	uint64_t seed; /* the clients' keys' hash seed */
	/* the last job's listener and client addresses as text: the next
	 * job's are a compare while they repeat (a keep-alive client, one
	 * listener), not a conversion (job_addrs) */
	uint8_t lvalid, cvalid;
	uint16_t lport;
	struct sockaddr_storage lsa;
	struct sl_ip cip;
	char ltext[64], ctext[64];
};

/* A request's WAF state: the loop's. */
struct sl_txwaf {
	struct sl_txn *t;
	struct wafjob *job;  /* the pool's while WF_RUNNING, then ours */
	uint8_t phase;	     /* enum wf_phase */
	uint8_t verdict;     /* enum wf_verdict, with WF_DONE */
	uint8_t partial;     /* the body inspected is not all of it */
	uint8_t limit;	     /* WV_LIMIT: enum sl_wafcheck_limit */
	uint64_t found, max; /* WV_LIMIT: the request's figure, the limit */
	uint64_t key;	     /* its client's (the budget's, the queue's) */
	uint32_t retry_s;    /* WV_BUDGET: Retry-After */
	int64_t left;	     /* its client's budget left, as it came */
	const char *why;     /* a failure's: static */
	uint32_t body_want;  /* body bytes to wait for; 0: none */
	void (*woken)(struct sl_txn *);
	struct event ev; /* the deadline, or the verdict's wake */
};

/* The filter's slot (filter.h): the request's state, owned (NULL: none),
 * and what the WAF said, for the access log (1 + enum sl_waf_res; 0: not
 * looked). */
struct waf_slot {
	struct sl_txwaf *tw;
	uint8_t res;
};

extern struct sl_filter sl_filter_waf;

static inline struct waf_ws *
wws(const struct sl_worker *w)
{
	return (
	    struct waf_ws *)(void *)(sl_wproxy(w)->fws +
				     sl_filter_wstate_off[sl_filter_waf.id]);
}

static inline struct waf_slot *
wslot(struct sl_txn *t)
{
	return sl_fctx(t, &sl_filter_waf);
}

/* A job: what one inspection reads, and what it says. One allocation,
 * the request's copy after it. */
struct wafjob {
	struct sl_tjob j;	/* first: the pool's */
	struct sl_txwaf *owner; /* NULL: abandoned, freed when it ends */
	struct sl_worker *w;
	struct sl_waf_rules *rules; /* one reference */
	struct sl_waf_input in;
	struct sl_waf_result res;
	char ip[64], sip[64];
	char rid[SL_REQUEST_ID_MAX + 1];
	struct sl_waf_field f[];
};

static _Thread_local struct sl_txwaf *spare;

/* ---- the job ------------------------------------------------------------ */

static void
job_run(struct sl_tjob *j)
{
	struct wafjob *wj = (struct wafjob *)j;

	sl_waf_run(wj->rules, &wj->in, &wj->res);
}

static void
job_free(struct wafjob *wj)
{
	sl_waf_rules_unref(wj->rules);
	free(wj);
}

/* The request waiting for it is woken from the loop's event: not inside
 * the pool's reap, nor the pump. */
static void
tw_wake(struct sl_txwaf *tw)
{
	event_del(&tw->ev);
	event_active(&tw->ev, EV_TIMEOUT, 1);
}

static void
job_done(struct sl_tjob *j)
{
	struct wafjob *wj = (struct wafjob *)j;
	struct sl_txwaf *tw = wj->owner;
	struct sl_budget *b = wws(wj->w)->budget;
	struct sl_txn *t;

	/* what it cost its client's budget: the thread's time, spent
	 * whether or not anyone still waits for the verdict */
	if (b != NULL && j->run_ns != 0)
		sl_budget_charge(b, j->flow, j->cpu_ns, j->end_ns);
	if (tw == NULL) {
		job_free(wj);
		return;
	}
	t = tw->t;
	tw->phase = WF_DONE;
	if (j->dropped == SL_TJOB_SHED) {
		/* its client held the most of a full queue: room made for
		 * another's */
		tw->verdict = WV_SHED;
		tw_wake(tw);
		return;
	}
	if (j->dropped) {
		/* the worker stops: the request is freed with its client,
		 * never sent on */
		tw->verdict = WV_FAIL;
		tw->why = "stopping";
		event_del(&tw->ev);
		return;
	}
	if (j->run_ns != 0) {
		struct sl_waf_counts *rc =
		    sl_waf_counts(&t->route->state->counts[t->s->w->id]);
		uint64_t us = (j->end_ns - j->run_ns) / 1000;
		SL_STAT_INC(rc->dur[sl_hist_slot(us / 1000)]);
		SL_STAT_ADD(rc->dur_sum_us, us);
		SL_STAT_ADD(rc->wait_sum_us, (j->run_ns - j->queued_ns) / 1000);
		SL_STAT_ADD(rc->cpu_sum_us, j->cpu_ns / 1000);
	}
	tw->verdict = wj->res.error	     ? WV_FAIL
		      : wj->res.intervention ? WV_STOP
					     : WV_PASS;
	if (wj->res.error)
		tw->why = "library";
	tw_wake(tw);
}

/* The pool just made: its gauge, its class, the clients' budgets. */
static void
pool_setup(struct sl_worker *w, struct waf_ws *wp)
{
	struct sl_waf_wcounts *wc = sl_waf_wcounts(&w->stats);

	sl_tpool_gauge(wp->pool, &wc->busy, &wc->queued);
	/* one client never holds every thread: another's request finds
	 * one free when there are two or more */
	if (wp->threads > 1)
		sl_tpool_share(wp->pool, wp->threads - 1);
	if (wp->prio == SL_WAF_PRIO_IDLE) {
		if (sl_tpool_idle(wp->pool, (uint32_t)wp->guard_ms,
				  &wc->raises) == 0)
			SL_STAT_INC(wc->idle);
		else if (errno == EPERM)
			log_warnx("worker %u: waf: priority idle: the WAF "
				  "threads stay at nice +10 (waf.priority: "
				  "low): raising them out of the idle class "
				  "needs CAP_SYS_NICE or an RLIMIT_NICE of 10 "
				  "at least (systemd: LimitNICE=+10)",
				  w->id);
		else
			log_warn("worker %u: waf: priority idle", w->id);
	}
	if (wp->budget_ms > 0 &&
	    (wp->budget = sl_budget_new(wp->budget_ms * 1000000u,
					wp->burst_ms * 1000000u)) == NULL)
		log_warn("worker %u: waf: the clients' budgets", w->id);
	/* and its costly inspections do not take half the CPU from
	 * another's cheap one on the other thread: the cheap one runs out
	 * of the idle class, above them, which only priority: idle and two
	 * threads or more make possible (issue 77; doc/operations.md
	 * section 15.7). A client's cost is its budget's mean: without
	 * budgets every hint would be 0, counted cheap, so none is
	 * favoured */
	if (wp->budget != NULL)
		sl_tpool_favour(wp->pool, 2);
}

/* The worker's pool, made at its first inspection. NULL: none could be. */
static struct sl_tpool *
pool(struct sl_seam *s)
{
	struct sl_worker *w = s->w;
	struct waf_ws *wp = wws(w);

	/* none could be made: tried again a second later, not on every
	 * request (nor logged on every one) */
	static _Thread_local uint64_t retry_ms;

	if (wp->pool == NULL && sl_now_ms() >= retry_ms) {
		wp->pool =
		    sl_tpool_new(w->base, wp->threads, wp->queue, NICE_INC);
		if (wp->pool == NULL) {
			log_warn("worker %u: the WAF's threads", w->id);
			retry_ms = sl_now_ms() + 1000;
		} else
			pool_setup(w, wp);
	}
	return wp->pool;
}

/* "A.B.C.D" or the IPv6 text, and the port, of a socket address (an
 * IPv4 address written by table, sl_addr_ip: inet_ntop prints, 1,700
 * instructions). */
static int
addr_str(const struct sockaddr *sa, char *out, size_t outsz)
{
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(out, outsz, "0.0.0.0");
		return 0;
	}
	sl_addr_ip(sa, out, outsz);
	return sa->sa_family == AF_INET
		   ? ntohs(((const struct sockaddr_in *)(const void *)sa)
			       ->sin_port)
		   : ntohs(((const struct sockaddr_in6 *)(const void *)sa)
			       ->sin6_port);
}

/* The job's addresses as text: its client's (after PROXY protocol and
 * trusted proxies) and its listener's, from the worker's last ones when
 * they are the same. */
static void
job_addrs(struct sl_seam *s, struct wafjob *wj)
{
	struct waf_ws *wp = wws(s->w);
	const struct sl_ip *ip = &s->txn->client_addr;
	const struct sockaddr *sa = (const struct sockaddr *)&s->lconf->addr.ss;
	size_t salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						 : sizeof(struct sockaddr_in);

	if (!wp->cvalid || !sl_ip_eq(&wp->cip, ip)) {
		wp->cip = *ip;
		sl_ip_str(ip, wp->ctext, sizeof(wp->ctext));
		wp->cvalid = 1;
	}
	if (!wp->lvalid || memcmp(&wp->lsa, sa, salen) != 0) {
		memcpy(&wp->lsa, sa, salen);
		wp->lport =
		    (uint16_t)addr_str(sa, wp->ltext, sizeof(wp->ltext));
		wp->lvalid = 1;
	}
	memcpy(wj->ip, wp->ctext, sizeof(wj->ip));
	memcpy(wj->sip, wp->ltext, sizeof(wj->sip));
	wj->in.client_ip = wj->ip;
	wj->in.server_ip = wj->sip;
	wj->in.server_port = wp->lport;
}

/*
 * The job for req: one copy of what the rules read (the target, the
 * method, the fields as sent, Host for an HTTP/2 request that had only
 * :authority, the body's first bytes). NULL: no memory.
 */
static struct wafjob *
job_make(struct sl_seam *s, const struct sl_h1_request *req, const char *body,
	 size_t blen)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_waf_route *c = sl_waf_route(t->route);
	/* secret_headers, copied: an abandoned job outlives its request,
	 * and the generation may go with it */
	const struct sl_conf *conf = s->gen->conf;
	size_t nf = req->nheaders, ns = conf->nsecret_headers, bytes, o = 0;
	int host = 0;
	struct wafjob *wj;
	const char **sn;
	char *d;

	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].kind == SL_HK_HOST)
			host = 1;
	if (!host && req->host != NULL)
		nf++;
	bytes = req->method_len + 1 + req->target_len + 1 + blen + 4;
	for (size_t i = 0; i < req->nheaders; i++)
		bytes += req->headers[i].name_len + req->headers[i].value_len;
	if (!host && req->host != NULL)
		bytes += req->host_len + 4;
	for (size_t i = 0; i < ns; i++)
		bytes += strlen(conf->secret_headers[i]) + 1;
	wj = malloc(sizeof(*wj) + nf * sizeof(wj->f[0]) + ns * sizeof(*sn) +
		    bytes);
	if (wj == NULL)
		return NULL;
	/* the result is the run's to set (sl_waf_run), the strings after
	 * it written below: 3 KB not cleared */
	memset(wj, 0, offsetof(struct wafjob, res));
	sn = (const char **)(void *)&wj->f[nf];
	d = (char *)&sn[ns];
#define PUT(p, n) (memcpy(d + o, (p), (n)), o += (n), d + o - (n))
	wj->in.method = PUT(req->method, req->method_len);
	d[o++] = '\0';
	wj->in.uri = PUT(req->target, req->target_len);
	d[o++] = '\0';
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		wj->f[i].name = PUT(h->name, h->name_len);
		wj->f[i].nlen = (uint32_t)h->name_len;
		wj->f[i].value = PUT(h->value, h->value_len);
		wj->f[i].vlen = (uint32_t)h->value_len;
	}
	if (!host && req->host != NULL) {
		wj->f[nf - 1].name = PUT("Host", 4);
		wj->f[nf - 1].nlen = 4;
		wj->f[nf - 1].value = PUT(req->host, req->host_len);
		wj->f[nf - 1].vlen = (uint32_t)req->host_len;
	}
	wj->in.fields = wj->f;
	wj->in.nfields = nf;
	if (body != NULL && blen > 0) {
		wj->in.body = PUT(body, blen);
		wj->in.blen = blen;
	}
	for (size_t i = 0; i < ns; i++)
		sn[i] = PUT(conf->secret_headers[i],
			    strlen(conf->secret_headers[i]) + 1);
	wj->in.secret_names = sn;
	wj->in.nsecret_names = ns;
#undef PUT
	/* HTTP/3 says 2.0 too: the CRS's allowed_http_versions (920430)
	 * knows no HTTP/3.0, and would refuse every such request */
	wj->in.version = SL_SEAM_PROTO(s) != 0 ? "2.0"
			 : req->minor == 0     ? "1.0"
					       : "1.1";
	job_addrs(s, wj);
	wj->in.client_port = ntohs(s->peer.sin6_port);
	wj->in.logging = c->audit;
	memcpy(wj->rid, t->request_id, sizeof(wj->rid));
	wj->in.id = wj->rid;
	wj->rules = c->rules;
	sl_waf_rules_ref(wj->rules);
	wj->w = s->w;
	wj->j.run = job_run;
	wj->j.done = job_done;
	return wj;
}

/* ---- the WAF log -------------------------------------------------------- */

/* The matches' part of the WAF log line, "[...]", into out (outsz, room
 * for SL_WAF_HITS of the largest): its length. */
static size_t
waf_log_matches(const struct sl_waf_result *r, char *out, size_t outsz)
{
	char esc[2 * SL_WAF_DATA_MAX + 1];
	size_t o = 0;
	int el;

#define ADD(...)                                                               \
	do {                                                                   \
		int n_ = snprintf(out + o, outsz - o, __VA_ARGS__);            \
		if (n_ > 0)                                                    \
			o = o + (size_t)n_ < outsz ? o + (size_t)n_            \
						   : outsz - 1;                \
	} while (0)
	ADD("[");
	for (unsigned i = 0; i < r->nhits; i++) {
		const struct sl_waf_hit *h = &r->hits[i];
		ADD("%s{\"id\":%u", i > 0 ? "," : "", h->id);
		if (h->severity != 255)
			ADD(",\"severity\":%u", h->severity);
		el = (int)sl_json_escape(esc, sizeof(esc) - 1, h->msg,
					 strlen(h->msg));
		ADD(",\"msg\":\"%.*s\"", el, esc);
		el = (int)sl_json_escape(esc, sizeof(esc) - 1, h->data,
					 strlen(h->data));
		ADD(",\"data\":\"%.*s\"}", el, esc);
	}
	ADD("]");
#undef ADD
	return o;
}

/*
 * The head of a WAF log line, in line (cap bytes, 2 KiB at least, which
 * the head never passes: its names and path are 1,023 bytes each at most
 * once escaped, and cap is more than their sum) from its start: the time,
 * the action, the request's id, listener, route, client, method, and its
 * target as the access log shows it (log.query, card numbers masked:
 * t->note.path has them only with an access log). Returns its length.
 */
static size_t
waf_log_head(struct sl_seam *s, const char *action, const char *client,
	     char *line, size_t cap)
{
	struct sl_txn *t = s->txn;
	char esc[4][1024], ts[40], path[sizeof(t->note.path)];
	const char *in[4] = {t->request_id, s->lconf->name, t->route->name,
			     t->note.method};
	int el[4], n;
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(path, sizeof(path), "%s", sl_exchange_note_path(t));
	if (sl_log_cards())
		(void)sl_pan_mask(path, strlen(path), 0);
	/* the request id and the method may be the client's: escaped */
	for (int i = 0; i < 4; i++)
		el[i] = (int)sl_json_escape(esc[i], sizeof(esc[i]) - 1, in[i],
					    strlen(in[i]));
	n = snprintf(line, cap,
		     "{\"time\":\"%s.%03ldZ\",\"type\":\"waf\",\"action\":"
		     "\"%s\",\"request_id\":\"%.*s\",\"listener\":\"%.*s\","
		     "\"route\":\"%.*s\",\"client\":\"%s\",\"method\":\"%.*s\"",
		     ts, now.tv_nsec / 1000000, action, el[0], esc[0], el[1],
		     esc[1], el[2], esc[2], client, el[3], esc[3]);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	el[0] =
	    (int)sl_json_escape(esc[0], sizeof(esc[0]) - 1, path, strlen(path));
	n += snprintf(line + n, cap - (size_t)n, ",\"path\":\"%.*s\"", el[0],
		      esc[0]);
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* One JSON line for an intervention (blocked, or detected). */
static void
waf_log(struct sl_seam *s, struct sl_txwaf *tw, const char *action)
{
	const struct sl_waf_result *r = &tw->job->res;
	/* room for all of it: the names and the path escaped (1,023 bytes
	 * each at most), every id kept (SL_WAF_IDS of at most 10 bytes),
	 * the matches (SL_WAF_HITS of at most 127 + 159 printable bytes,
	 * twice that escaped) and the body's error: a line is never cut (a
	 * cut one is no JSON), and ids past the room left are counted */
	char line[16384], matches[SL_WAF_HITS * 700], esc[1024];
	size_t o, mlen, tail;
	unsigned listed = 0;
	int el;

	if (!sl_sidelog_enabled(&sl_waf_log))
		return;
#define ADD(...)                                                               \
	do {                                                                   \
		int n_ = snprintf(line + o, sizeof(line) - o, __VA_ARGS__);    \
		if (n_ > 0)                                                    \
			o = o + (size_t)n_ < sizeof(line) ? o + (size_t)n_     \
							  : sizeof(line) - 1;  \
	} while (0)
	o = waf_log_head(s, action, tw->job->ip, line, sizeof(line));
	ADD(",\"status\":%d,\"anomaly_score\":%d",
	    tw->verdict == WV_STOP ? r->status : 0, r->score);
	if (tw->partial)
		ADD(",\"body\":\"partial\"");
	if (r->body_error) {
		el = (int)sl_json_escape(esc, sizeof(esc) - 1, r->body_why,
					 strlen(r->body_why));
		ADD(",\"body_error\":\"%.*s\"", el, esc);
	}
	mlen = waf_log_matches(r, matches, sizeof(matches));
	/* what follows the ids: the matches and the counts */
	tail = mlen + 170;
	ADD(",\"rules\":[");
	for (; listed < r->nids; listed++) {
		if (o + 11 + tail >= sizeof(line))
			break;
		ADD("%s%u", listed > 0 ? "," : "", r->ids[listed]);
	}
	ADD("],\"matches\":%.*s", (int)mlen, matches);
	if (r->more > 0)
		ADD(",\"more_matches\":%u", r->more);
	if (r->ids_left + (r->nids - listed) > 0)
		ADD(",\"rules_left_out\":%u", r->ids_left + (r->nids - listed));
	if (r->unparsed > 0)
		ADD(",\"unparsed_messages\":%u", r->unparsed);
	/* what the rules took on their thread: its time there, and its CPU
	 * (less when other work took the CPU from it) */
	if (tw->job->j.run_ns != 0)
		ADD(",\"rules_ms\":%.3f,\"cpu_ms\":%.3f",
		    (double)(tw->job->j.end_ns - tw->job->j.run_ns) / 1e6,
		    (double)tw->job->j.cpu_ns / 1e6);
	ADD("}\n");
#undef ADD
	if (line[o - 1] != '\n') /* cut: still one line */
		line[o - 1] = '\n';
	/* the rest of what the client chose (its method, its own request
	 * id, the processor's words on its body) masked as the error log's
	 * lines are: whole, the matches and the path already done (issue
	 * 61); ids and scores are joined by ',' and ':', never a card's
	 * separators */
	if (sl_log_cards())
		(void)sl_pan_mask(line, o, 0);
	sl_sidelog_write(&sl_waf_log, s->w->alog, line, o);
}

/* ---- the verdict applied ------------------------------------------------ */

static void
count(struct sl_seam *s, enum sl_waf_res res)
{
	SL_STAT_INC(
	    sl_waf_counts(&s->txn->route->state->counts[s->w->id])->res[res]);
	wslot(s->txn)->res = (uint8_t)(1 + res);
	s->txn->flags |= SL_TXN_F_LOGF;
}

static int apply_verdict(struct sl_seam *s, struct sl_txwaf *tw);

/* The WAF log's line of a request past the route's limits, or whose
 * client is past its budget or holds the most of a full queue (action
 * "refused", or "detected" in detect mode): no rule ran, the limit it
 * passed says why (doc/operations.md sections 15.7 and 15.8). */
static void
waf_log_limit(struct sl_seam *s, struct sl_txwaf *tw, const char *action)
{
	struct sl_txn *t = s->txn;
	char line[8192], ip[64];
	size_t o;
	int n;

	if (!sl_sidelog_enabled(&sl_waf_log))
		return;
	o = waf_log_head(s, action, sl_ip_str(&t->client_addr, ip, sizeof(ip)),
			 line, sizeof(line));
	if (tw->verdict == WV_BUDGET || tw->verdict == WV_SHED)
		/* the client's share of the threads, not the request's */
		n = snprintf(line + o, sizeof(line) - o,
			     ",\"status\":%d,\"limit\":\"%s\","
			     "\"retry_after\":%u,\"rules\":[]}\n",
			     action[0] == 'r' ? 429 : 0,
			     tw->verdict == WV_BUDGET ? "client_budget"
						      : "queue_share",
			     tw->verdict == WV_BUDGET ? tw->retry_s : 1);
	else
		n = snprintf(
		    line + o, sizeof(line) - o,
		    ",\"status\":%d,\"limit\":\"%s\",\"found\":%llu,"
		    "\"max\":%llu,\"rules\":[]}\n",
		    action[0] == 'r'
			? (tw->limit == SL_WAFCHECK_ARGS_BYTES ? 413 : 400)
			: 0,
		    sl_wafcheck_name((enum sl_wafcheck_limit)tw->limit),
		    (unsigned long long)tw->found, (unsigned long long)tw->max);
	if (o == 0 || n <= 0 || (size_t)n >= sizeof(line) - o)
		return; /* never a cut line */
	o += (size_t)n;
	if (sl_log_cards())
		(void)sl_pan_mask(line, o, 0);
	sl_sidelog_write(&sl_waf_log, s->w->alog, line, o);
}

/* Applies the verdict, once; the job's copy goes with it. */
static int
apply(struct sl_seam *s, struct sl_txwaf *tw)
{
	int r = apply_verdict(s, tw);

	if (tw->job != NULL) {
		job_free(tw->job);
		tw->job = NULL;
	}
	return r;
}

static int
apply_verdict(struct sl_seam *s, struct sl_txwaf *tw)
{
	const struct sl_conf_waf_route *c = sl_waf_route(s->txn->route);
	struct sl_txn *t = s->txn;

	switch (tw->verdict) {
	case WV_PASS:
		count(s, SL_WAF_R_PASS);
		return 0;
	case WV_OVER:
		count(s, SL_WAF_R_OVER_LIMIT);
		log_info("conn=%llu request_id=%s route=%s: 413 waf: the body "
			 "is over body_limit (%u bytes)",
			 (unsigned long long)s->id, t->request_id,
			 t->route->name, c->body_limit);
		sl_exchange_answer(s, 413, "waf_body_too_large", 1, NULL);
		return -1;
	case WV_LIMIT:
		/* past a limit: the threads never see it. Refused in block
		 * mode; in detect mode, which never refuses, it goes on
		 * uninspected (a route being tried out must not cut its
		 * clients on a limit not tuned yet) */
		count(s, SL_WAF_R_LIMITED);
		waf_log_limit(
		    s, tw, c->mode == SL_WAF_DETECT ? "detected" : "refused");
		if (c->mode == SL_WAF_DETECT)
			return 0;
		log_info("conn=%llu request_id=%s route=%s: %d waf: %s %llu "
			 "past limits.%s %llu",
			 (unsigned long long)s->id, t->request_id,
			 t->route->name,
			 tw->limit == SL_WAFCHECK_ARGS_BYTES ? 413 : 400,
			 sl_wafcheck_name((enum sl_wafcheck_limit)tw->limit),
			 (unsigned long long)tw->found,
			 sl_wafcheck_name((enum sl_wafcheck_limit)tw->limit),
			 (unsigned long long)tw->max);
		sl_exchange_answer(
		    s, tw->limit == SL_WAFCHECK_ARGS_BYTES ? 413 : 400,
		    "waf_limit", t->req_ph != SL_TXN_REQ_DONE, NULL);
		return -1;
	case WV_BUDGET:
	case WV_SHED: {
		/* the client's share of the threads: past its budget, it
		 * waits for the refill (detect mode lets it through
		 * uninspected, as a limit); the most of a full queue, it is
		 * shed: refused whatever on_failure says, or a flood would
		 * pass its excess uninspected */
		int budget = tw->verdict == WV_BUDGET;
		char ra[32];
		count(s, budget ? SL_WAF_R_BUDGET : SL_WAF_R_SHED);
		if (budget && c->mode == SL_WAF_DETECT) {
			waf_log_limit(s, tw, "detected");
			return 0;
		}
		waf_log_limit(s, tw, "refused");
		log_info("conn=%llu request_id=%s route=%s: 429 waf: %s",
			 (unsigned long long)s->id, t->request_id,
			 t->route->name,
			 budget ? "the client is past waf.client_budget"
				: "the queue is full, the client holds the "
				  "most of it");
		snprintf(ra, sizeof(ra), "Retry-After: %u\r\n",
			 budget ? tw->retry_s : 1);
		sl_exchange_answer(s, 429, budget ? "waf_budget" : "waf_shed",
				   t->req_ph != SL_TXN_REQ_DONE, ra);
		return -1;
	}
	case WV_STOP:
		if (c->mode == SL_WAF_DETECT) {
			count(s, SL_WAF_R_DETECTED);
			waf_log(s, tw, "detected");
			return 0;
		}
		count(s, SL_WAF_R_BLOCKED);
		waf_log(s, tw, "blocked");
		/* a body the rules could not read is the client's error, as
		 * a malformed one is elsewhere */
		sl_exchange_answer_as(
		    s, tw->job->res.status,
		    tw->job->res.status == 403	 ? "forbidden"
		    : tw->job->res.status == 400 ? "bad_request"
		    : tw->job->res.status == 415 ? "unsupported_media_type"
						 : "waf_blocked",
		    "waf_blocked", 0, NULL);
		return -1;
	default:
		break;
	}
	log_warnx("conn=%llu request_id=%s route=%s: waf: no verdict (%s)%s",
		  (unsigned long long)s->id, t->request_id, t->route->name,
		  tw->why != NULL ? tw->why : "error",
		  c->on_failure == SL_WAF_FAIL_ALLOW ? "; on_failure: allow"
						     : "");
	if (c->on_failure == SL_WAF_FAIL_ALLOW) {
		count(s, SL_WAF_R_FAIL_ALLOW);
		return 0;
	}
	count(s, SL_WAF_R_FAIL_DENY);
	sl_exchange_answer(s, c->failure_status, "waf_unavailable", 0,
			   c->failure_status == 503 ? "Retry-After: 1\r\n"
						    : NULL);
	return -1;
}

/* ---- the wait ----------------------------------------------------------- */

static void
tw_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct sl_txwaf *tw = arg;
	struct sl_txn *t = tw->t;

	sl_now_refresh();
	if (tw->phase == WF_RUNNING) {
		/* the deadline: the job is taken back, or left to end */
		struct wafjob *wj = tw->job;
		if (sl_tpool_cancel(wws(t->s->w)->pool, &wj->j))
			job_free(wj);
		else
			wj->owner = NULL;
		tw->job = NULL;
		tw->phase = WF_DONE;
		tw->verdict = WV_FAIL;
		tw->why = "timeout";
	}
	tw->woken(t);
}

/* The exchange ends: its inspection, if any, is dropped. */
static void
waf_end(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txwaf *tw = wslot(t)->tw;

	if (tw == NULL)
		return;
	event_del(&tw->ev);
	if (tw->job != NULL) {
		if (tw->phase != WF_RUNNING ||
		    sl_tpool_cancel(wws(t->s->w)->pool, &tw->job->j))
			job_free(tw->job);
		else
			tw->job->owner = NULL; /* freed when it ends */
	}
	if (spare == NULL)
		spare = tw;
	else
		free(tw);
	wslot(t)->tw = NULL;
}

/* The worker starts with generation conf: its top-level waf: as it is
 * now stays the worker's (a reload says so). */
static int
waf_worker_init(struct sl_worker *w, void *ws, const struct sl_conf *conf)
{
	const struct sl_conf_waf *c = sl_waf_conf(conf);
	struct waf_ws *wp = ws;

	(void)w;
	if (c != NULL) {
		wp->threads = (unsigned)c->threads;
		wp->queue = (unsigned)c->queue;
		wp->budget_ms = c->client_budget_ms;
		wp->burst_ms = c->client_burst_ms;
		wp->key = c->client_key;
		wp->prio = c->priority;
		wp->guard_ms = c->guard_ms;
	}
	/* before the first request's key is made */
	if (getrandom(&wp->seed, sizeof(wp->seed), GRND_NONBLOCK) !=
	    sizeof(wp->seed))
		wp->seed = (uint64_t)(uintptr_t)wp ^ sl_now_ms();
	return 0;
}

/* The worker's threads stopped, after its requests: at its end. */
static void
waf_worker_free(struct sl_worker *w, void *ws)
{
	struct waf_ws *wp = ws;

	(void)w;
	sl_tpool_free(wp->pool);
	wp->pool = NULL;
	sl_budget_free(wp->budget);
	wp->budget = NULL;
}

/* The calling thread's spare request state (filter.h's thread_free). */
static void
waf_thread_free(void)
{
	free(spare);
	spare = NULL;
}

/* The request's state, made. NULL: no memory (answered). */
static struct sl_txwaf *
tw_new(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txwaf *tw;

	if ((tw = spare) != NULL)
		spare = NULL;
	else if ((tw = malloc(sizeof(*tw))) == NULL) {
		sl_exchange_local(s, 503, "out_of_memory", 0);
		return NULL;
	}
	memset(tw, 0, offsetof(struct sl_txwaf, ev));
	tw->t = t;
	evtimer_assign(&tw->ev, s->w->base, tw_on_event, tw);
	wslot(t)->tw = tw;
	t->flags |= SL_TXN_F_FEND;
	return tw;
}

/* Whose request it is, for the budgets and the queue's turns: the
 * verified token's issuer and subject (waf.client_key: caller), else the
 * client's address after PROXY protocol and trusted proxies, an IPv6
 * one by its /64 (what one host is given); hashed with the worker's seed,
 * so that no client can choose to share another's key. */
static uint64_t
client_key(struct sl_seam *s, const struct sl_fhead *h)
{
	const struct waf_ws *wp = wws(s->w);
	const struct sl_ip *ip = &s->txn->client_addr;

	if (wp->key == SL_WAF_KEY_CALLER && h->caller != NULL)
		return sl_hash64_seeded(~wp->seed, h->caller, h->caller_len);
	return sl_hash64_seeded(wp->seed, ip->a, ip->len == 16 ? 8 : ip->len);
}

/* The loop's checks (wafcheck.h): what the rules would be given to read
 * (the cookies, the query's arguments, a form's or a JSON body's, as far
 * as body_limit lets them see it) against the route's limits. */
static enum sl_wafcheck_limit
waf_precheck(const struct sl_h1_request *req, const char *body, size_t blen,
	     const struct sl_conf_waf_route *w, uint64_t *found, uint64_t *max)
{
	const struct sl_waf_limits *l = &w->limits;
	struct sl_wafcheck c = {0};
	const char *q;
	/* a body without a type is parsed as the route's untyped_body */
	int json = w->untyped == SL_WAF_UNTYPED_JSON,
	    form = w->untyped == SL_WAF_UNTYPED_FORM;

	if (l->cookies == 0 && l->args == 0 && l->args_bytes == 0 &&
	    l->json_depth == 0)
		return SL_WAFCHECK_OK;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];

		if (h->name_len == 6 && sl_h1_ieq(h->name, 6, "cookie"))
			sl_wafcheck_cookies(&c, h->value, h->value_len);
		else if (h->name_len == 12 &&
			 sl_h1_ieq(h->name, 12, "content-type")) {
			/* the types the rules' processors take (waf.c:
			 * application/json, application/...+json; a form) */
			json = sl_coding_type_match("application/json",
						    h->value, h->value_len) ||
			       sl_coding_type_match("application/*+json",
						    h->value, h->value_len);
			form = sl_coding_type_match(
			    "application/x-www-form-urlencoded", h->value,
			    h->value_len);
		}
	}
	if (req->path != NULL &&
	    (q = memchr(req->path, '?', req->path_len)) != NULL) {
		size_t qlen = req->path_len - (size_t)(q + 1 - req->path);
		/* a query of n bytes has n arguments and n bytes of them at
		 * most: counted only when that bound does not settle it, or
		 * a body's count comes on top */
		if (blen > 0 || (l->args > 0 && c.args + qlen > l->args) ||
		    (l->args_bytes > 0 && c.args_bytes + qlen > l->args_bytes))
			sl_wafcheck_form(&c, q + 1, qlen);
	}
	if (blen > 0 && form)
		sl_wafcheck_form(&c, body, blen);
	else if (blen > 0 && json) {
		/* the exact count only when its bounds do not settle it
		 * (a body near a limit, or not JSON) */
		uint64_t args, depth;
		sl_wafcheck_json_bound(body, blen, &args, &depth);
		if ((l->args > 0 && c.args + args > l->args) ||
		    (l->json_depth > 0 && depth > l->json_depth) ||
		    (l->args_bytes > 0 && c.args_bytes + blen > l->args_bytes))
			(void)sl_wafcheck_json(&c, body, blen);
	}
	return sl_wafcheck_over(&c, l, found, max);
}

static int waf_run(struct sl_seam *s, struct sl_txwaf *tw, struct wafjob *wj);

/*
 * The route's WAF: GO when the request may go on (passed, detected only,
 * or let through by on_failure: allow); ANSWERED when it was answered
 * (blocked, a body over the limit, no verdict and on_failure: deny); WAIT
 * for its body's first bytes, or for the verdict of a WAF thread.
 */
static int
waf_head(struct sl_seam *s, struct sl_fhead *h)
{
	const struct sl_h1_request *req = h->req;
	struct sl_txn *t = s->txn;
	const struct sl_conf_waf_route *c = sl_waf_route(t->route);
	struct sl_txwaf *tw = wslot(t)->tw;
	struct wafjob *wj;
	const char *body = NULL;
	size_t blen = 0;
	enum sl_wafcheck_limit lim;

	if (tw != NULL && tw->phase == WF_DONE)
		return apply(s, tw); /* woken by its verdict */
	if (tw == NULL) {
		struct waf_ws *wp = wws(s->w);
		uint64_t now = sl_now_ms() * 1000000u;
		if ((tw = tw_new(s)) == NULL)
			return -1;
		tw->key = client_key(s, h);
		/* a client that owes thread time waits for it here, before
		 * its body is read, at no thread's cost; what it has left is
		 * its place in the queue */
		if (wp->budget != NULL &&
		    (tw->left = sl_budget_left(wp->budget, tw->key, now)) < 0) {
			uint64_t wait =
			    sl_budget_wait_ms(wp->budget, tw->key, now);
			tw->phase = WF_DONE;
			tw->verdict = WV_BUDGET;
			tw->retry_s = (uint32_t)((wait + 999) / 1000);
			return apply(s, tw);
		}
	}
	tw->woken = sl_exchange_filters_woken;
	if ((tw->phase == 0 || tw->phase == WF_BODY) && c->body_limit > 0 &&
	    req->body != SL_H1_BODY_NONE) {
		if (req->body == SL_H1_BODY_LENGTH &&
		    req->content_length > c->body_limit) {
			if (c->over == SL_WAF_OVER_REJECT) {
				tw->phase = WF_DONE;
				tw->verdict = WV_OVER;
				return apply(s, tw);
			}
			tw->body_want = c->body_limit;
		} else if (req->body == SL_H1_BODY_LENGTH)
			tw->body_want = (uint32_t)req->content_length;
		else /* chunked: one byte more says it is over */
			tw->body_want = c->body_limit + 1;
		/* a client that waits for 100 Continue gets it now: its
		 * body is looked at before the request goes on, and an
		 * Expect never skips the rules */
		if (tw->phase == 0 && (req->flags & SL_H1_F_EXPECT_CONTINUE) &&
		    req->minor >= 1 && sl_buf_pending(&s->in) == 0)
			sl_exchange_continue(s);
		if (!sl_exchange_body_wait(s, tw->body_want)) {
			tw->phase = WF_BODY;
			return SL_FILTER_WAIT;
		}
	}
	if (tw->body_want > 0) {
		uint64_t total = req->body == SL_H1_BODY_LENGTH
				     ? req->content_length
				     : UINT64_MAX;
		int whole, over;
		blen = sl_exchange_body_take(t, s->in.data + s->in.off,
					     s->in.len - s->in.off,
					     tw->body_want, &body, &whole);
		if (whole < 0) {
			/* refused by its codec (malformed framing, too
			 * large): answered as the exchange would, before any
			 * of it goes on half-read */
			tw->phase = WF_DONE;
			return sl_exchange_body_refuse(s);
		}
		/* past the limit: more than body_limit came (a chunked
		 * body's one more byte), or the buffer holds no more and
		 * the body goes on (the buffer holds payload alone: the
		 * codecs drop a chunked body's framing); a buffer full
		 * before body_limit bytes cannot be inspected as the route
		 * says, whatever its on_body_limit */
		over = blen > c->body_limit || (!whole && blen < total);
		if (over && (c->over == SL_WAF_OVER_REJECT ||
			     (blen < c->body_limit && blen < total))) {
			tw->phase = WF_DONE;
			tw->verdict = WV_OVER;
			return apply(s, tw);
		}
		if (over) {
			tw->partial = 1;
			if (blen > c->body_limit)
				blen = c->body_limit;
		}
	}
	/* what the rules would be given, against the route's limits, here
	 * on the loop: a request past them costs no thread */
	if ((lim = waf_precheck(req, body, blen, c, &tw->found, &tw->max)) !=
	    SL_WAFCHECK_OK) {
		tw->phase = WF_DONE;
		tw->verdict = WV_LIMIT;
		tw->limit = (uint8_t)lim;
		return apply(s, tw);
	}
	wj = job_make(s, req, body, blen);
	if (wj == NULL) {
		sl_exchange_local(s, 503, "out_of_memory", 0);
		return -1;
	}
	return waf_run(s, tw, wj);
}

/* wj, the request's inspection, queued on a WAF thread (the exchange
 * waits for its verdict, or its timeout), or the verdict of a pool that
 * cannot take it. Returns as waf_head. */
static int
waf_run(struct sl_seam *s, struct sl_txwaf *tw, struct wafjob *wj)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_waf_route *c = sl_waf_route(t->route);
	struct sl_tpool *p;
	int r;

	wj->in.cut = tw->partial;
	wj->j.flow = tw->key;
	/* the client that has spent least of its budget first: fair in
	 * thread time, not only in turns (a client of 50 ms requests and
	 * one of 2 ms ones would otherwise get one each a round); its
	 * budget as its request came, read once for its wait and its
	 * place (its mean cost below is a second look-up) */
	wj->j.prio = tw->left;
	/* what its client's inspections cost, for a cheap one to run above
	 * a costly one (0: not known, or no budgets, when the pool favours
	 * none: pool_setup) */
	wj->j.hint_ns = wws(s->w)->budget != NULL
			    ? sl_budget_cost(wws(s->w)->budget, tw->key)
			    : 0;
	tw->job = wj;
	wj->owner = tw;
	tw->phase = WF_DONE;
	tw->verdict = WV_FAIL;
	if ((p = pool(s)) == NULL) {
		tw->why = "no_threads";
		return apply(s, tw);
	}
	if ((r = sl_tpool_submit(p, &wj->j)) < 0) {
		if (r == -2)
			tw->verdict = WV_SHED;
		tw->why = "queue_full";
		return apply(s, tw);
	}
	if (r == 1)
		SL_STAT_INC(
		    sl_waf_counts(&t->route->state->counts[s->w->id])->waits);
	tw->phase = WF_RUNNING;
	{
		struct timeval tv = {c->timeout_ms / 1000,
				     (c->timeout_ms % 1000) * 1000};
		evtimer_add(&tw->ev, &tv);
	}
	return SL_FILTER_WAIT;
}

static int
waf_used(const struct sl_conf_route *r)
{
	return sl_waf_route(r) != NULL;
}

/* What the WAF said (1 + enum sl_waf_res), as the access log shows it. */
static const char *
waf_str(uint8_t res)
{
	static const char *const names[SL_WAF_NRESULTS] = {
	    "pass",	  "blocked",	   "detected",
	    "over_limit", "failed_denied", "failed_allowed",
	    "limited",	  "budget",	   "shed"};
	return res >= 1 && res <= SL_WAF_NRESULTS ? names[res - 1] : "";
}

static void
waf_log_fields(struct sl_txn *t, struct sl_flog *l)
{
	if (wslot(t)->res != 0)
		/* at place 10, after the trace's ids (1, 2) */
		sl_flog_add(l, 10, "waf", waf_str(wslot(t)->res));
}

struct sl_filter sl_filter_waf = {
    .name = "waf",
    .ctx_size = sizeof(struct waf_slot),
    .used = waf_used,
    .req_head = waf_head,
    .log_fields = waf_log_fields,
    .end = waf_end,
    .thread_free = waf_thread_free,
    .wsize = sizeof(struct waf_ws),
    .worker_init = waf_worker_init,
    .worker_free = waf_worker_free,
};
