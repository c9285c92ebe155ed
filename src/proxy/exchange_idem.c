/* SPDX-License-Identifier: MIT */
/*
 * A route's Idempotency-Key store (doc/operations.md, "Idempotent
 * payments"; draft-ietf-httpapi-idempotency-key-header): a request of the
 * route's methods that carries the key is looked up by its route, its
 * caller and its key, once its whole body is in (its fingerprint is a
 * hash of its method, its target and its body):
 *
 *   a new key        reserved, the request goes on; its final answer
 *                    (status, end-to-end fields, body) is kept as the
 *                    upstream sends it, and the key is its own once the
 *                    answer is whole
 *   in flight        409, Retry-After
 *   done, same       the kept answer, with Idempotent-Replayed: true;
 *                    the upstream sees nothing
 *   done, other      422
 *   no key           400 when the route requires one, else it goes on
 *   no room          fail: closed answers 503, open lets it go unkept
 *
 * A key is let go, so that the client's next try goes upstream, when its
 * answer has a status the route's release names, is longer than
 * max_response_bytes, or never came whole (the upstream failed or was
 * cut, sluice answered instead).
 *
 * This file owns the request's side: its key, the look-up's verdict, the
 * wait, the answers sluice gives and the replay. The answer kept as it
 * comes is exchange_idem_keep.c's, the fleet store (Redis)
 * exchange_idem_store.c's, an answer read after its client went
 * exchange_idem_orphan.c's; the state they share is in
 * exchange_idem_int.h.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "conf_idem.h"
#include "exchange.h"
#include "exchange_idem_int.h"
#include "exchange_int.h"
#include "idem.h"
#include "log.h"
#include "rlstore.h"
#include "runtime.h"
#include "util.h"
#include "wloop.h"
#include "wproxy.h"

static void
count(struct sl_seam *s, enum sl_idem_out o)
{
	struct sl_txn *t = s->txn;

	sl_idem_slot(t)->res = (uint8_t)(1 + o);
	t->flags |= SL_TXN_F_LOGF;
	SL_STAT_INC(sl_idem_counts(&t->route->state->counts[s->w->id])->out[o]);
}

/* Answers status with an RFC 9457 problem (application/problem+json),
 * title and detail (static, JSON-safe), and more fields (CRLF lines, or
 * ""); error is what the logs call it, and the problem's "error" member
 * (an extension: clients dispatch on status and error, as on every other
 * answer of sluice's, doc/contracts.md 3.1). */
static void
problem(struct sl_seam *s, int status, const char *error, const char *title,
	const char *detail, const char *more)
{
	struct sl_txn *t = s->txn;
	char body[512], fields[256];
	int n;

	if (t->request_id[0] == '\0')
		sl_worker_request_id(s->w, t->request_id);
	n = snprintf(
	    body, sizeof(body),
	    "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,"
	    "\"detail\":\"%s\",\"error\":\"%s\",\"request_id\":\"%s\"}\n",
	    title, status, detail, error, t->request_id);
	snprintf(fields, sizeof(fields),
		 "Content-Type: application/problem+json\r\n%s", more);
	sl_exchange_answer_body(s, status, error, fields, body,
				n > 0 && (size_t)n < sizeof(body) ? (size_t)n
								  : 0);
}

/* ---- the caller, the key's id, the fingerprint ------------------------ */

/* The field named name (nlen bytes) of req: its only line's value in *v
 * and *vn. Returns how many lines it has (0, 1, or 2 for more). */
static int
field(const struct sl_h1_request *req, const char *name, const char **v,
      size_t *vn)
{
	int n = 0;

	for (size_t i = 0; i < req->nheaders && n < 2; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (sl_h1_ieq(h->name, h->name_len, name)) {
			*v = h->value;
			*vn = h->value_len;
			n++;
		}
	}
	return n;
}

/* Who the key belongs to, as the route says: its kind (a byte, so that
 * two kinds never share an id) and its text. Returns 0, or -1 when the
 * request has no such caller. */
static int
caller(struct sl_seam *s, const struct sl_h1_request *req,
       const struct sl_fhead *h, char *kind, const char **c, size_t *cn)
{
	const struct sl_conf_idem_route *ic = sl_idem_route(s->txn->route);
	int how = (int)ic->caller;

	if (how == SL_IDEM_CALLER_AUTO)
		how = h != NULL && h->caller != NULL ? SL_IDEM_CALLER_TOKEN
		      : s->tls_subject != NULL	     ? SL_IDEM_CALLER_CERT
						     : SL_IDEM_CALLER_NONE;
	*kind = (char)('0' + how);
	switch (how) {
	case SL_IDEM_CALLER_TOKEN:
		if (h == NULL || h->caller == NULL)
			return -1;
		*c = h->caller;
		*cn = h->caller_len;
		return 0;
	case SL_IDEM_CALLER_CERT:
		if (s->tls_subject == NULL)
			return -1;
		*c = s->tls_subject;
		*cn = strlen(s->tls_subject);
		return 0;
	case SL_IDEM_CALLER_HEADER:
		return field(req, ic->caller_header, c, cn) == 1 && *cn > 0
			   ? 0
			   : -1;
	default:
		*c = "";
		*cn = 0;
		return 0;
	}
}

/* ---- the wait for the body --------------------------------------------- */

static void
ip_on_body(evutil_socket_t fd, short what, void *arg)
{
	struct sl_txidem *ip = arg;

	(void)fd;
	(void)what;
	sl_now_refresh();
	ip->woken(ip->t);
}

static struct sl_txidem *
ip_new(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txidem *ip = calloc(1, sizeof(*ip));

	if (ip == NULL) {
		sl_exchange_local(s, 503, "out_of_memory", 0);
		return NULL;
	}
	ip->t = t;
	event_assign(&ip->ev, s->w->base, -1, 0, ip_on_body, ip);
	sl_idem_slot(t)->ip = ip;
	t->flags |= SL_TXN_F_FEND;
	return ip;
}

static int look(struct sl_seam *s, struct sl_txidem *ip);
static int sl_exchange_idem_verdict(struct sl_seam *s, struct sl_txidem *ip,
				    int r);
static int decide(struct sl_seam *s, enum ip_ans a);

static void
ip_free(struct sl_txn *t)
{
	struct sl_txidem *ip = sl_idem_slot(t)->ip;

	if (ip->cmd != NULL) {
		/* its word on the key will not be heard: a reservation it
		 * may have made goes (the token says whose) */
		sl_rlstore_cancel(ip->cmd);
		ip->cmd = NULL;
		sl_exchange_idem_store_release(
		    ip, &t->route->state->counts[ip->w->id]);
	}
	event_del(&ip->ev);
	if (ip->hold != NULL)
		sl_exchange_idem_store_forget(ip);
	if (event_initialized(&ip->hev))
		event_del(&ip->hev);
	free(ip->a);
	free(ip->kept);
	free(ip);
	sl_idem_slot(t)->ip = NULL;
	t->flags &= ~SL_TXN_F_END_HELD;
}

/* ---- the request ------------------------------------------------------- */

/* The kept answer of the key, after the upstream's fields: to the
 * client, marked as a replay. */
static void
replay(struct sl_seam *s, const unsigned char *a, size_t alen)
{
	struct sl_txn *t = s->txn;
	struct sl_idem_resp r;
	static const char mark[] = "Idempotent-Replayed: true\r\n";
	char *fields;

	if (sl_idem_resp_parse(a, alen, &r) != 0 ||
	    (fields = malloc(r.flen + sizeof(mark))) == NULL) {
		log_warnx("conn=%llu request_id=%s route=%s: idempotency: "
			  "the kept answer cannot be read",
			  (unsigned long long)s->id, t->request_id,
			  t->route->name);
		problem(s, 500, "idempotency_store",
			"The kept answer cannot be read",
			"The answer kept for this Idempotency-Key cannot be "
			"read. The request was not sent on.",
			"");
		return;
	}
	memcpy(fields, r.fields, r.flen);
	memcpy(fields + r.flen, mark, sizeof(mark));
	count(s, SL_IDEM_O_REPLAYED);
	sl_exchange_answer_body(s, r.status, "idempotent_replay", fields,
				r.body, r.blen);
	free(fields);
	/* a replay is no error: the log shows its outcome instead */
	if (s->txn == t)
		t->error = NULL;
}

/* The request is to get answer a (its state made for it when it has
 * none). Returns 2, or -1 when out of memory (answered). */
static int
decide(struct sl_seam *s, enum ip_ans a)
{
	struct sl_txn *t = s->txn;

	if (sl_idem_slot(t)->ip == NULL && ip_new(s) == NULL)
		return -1;
	sl_idem_slot(t)->ip->ans = (uint8_t)a;
	sl_idem_slot(t)->ip->phase = IP_DONE;
	return 2;
}

/*
 * The route's idempotency, for a request that passed its other checks
 * (h: what the filters before found, its verified caller): 0 when the request
 * goes on (its key reserved, or none to keep); 2 when sluice answers it itself
 * (the kept answer, 400, 409, 413, 422, 503: idem_answer,
 * once what is here of its body was read); -1 when it was answered (out
 * of memory, a malformed body); 1 when it waits (for its whole body, the
 * store's word, or the key's holder), woken(t) called when it may go on.
 */
static int
idem_check(struct sl_seam *s, const struct sl_fhead *h,
	   void (*woken)(struct sl_txn *))
{
	const struct sl_h1_request *req = h->req;
	struct sl_txn *t = s->txn;
	const struct sl_conf_idem_route *ic = sl_idem_route(t->route);
	struct sl_txidem *ip = sl_idem_slot(t)->ip;
	const char *v = NULL, *key, *who, *body = NULL;
	size_t vn = 0, klen, wn, blen = 0, want = 0;
	char kind;
	uint8_t fp[SL_IDEM_HASH];
	int n, whole = 1, r;

	/* woken: by the store's word, by the poll of a key in flight
	 * elsewhere, or by the body (IP_BODY, below) */
	if (ip != NULL && ip->phase == IP_STORE_DONE)
		return sl_exchange_idem_verdict(s, ip, ip->sres);
	if (ip != NULL && ip->phase == IP_WAIT)
		return look(s, ip);
	if (!(ic->methods & (1u << req->method_id)))
		return 0;
	/* a gRPC call's answer ends in trailers (grpc-status), which the
	 * store does not keep: not looked at, as another method's request
	 * (doc/operations.md section 17.1) */
	if (s->flags & SL_SEAM_F_GRPC)
		return 0;
	if ((n = field(req, "idempotency-key", &v, &vn)) == 0)
		return ic->required ? decide(s, ANS_MISSING) : 0;
	if (n > 1 || sl_idem_key(v, vn, &key, &klen) != 0)
		return decide(s, ANS_INVALID);
	if (caller(s, req, h, &kind, &who, &wn) != 0)
		return decide(s, ANS_NO_CALLER);
	/* the whole body, for the fingerprint */
	if (req->body == SL_H1_BODY_LENGTH &&
	    req->content_length > ic->max_request_bytes)
		return decide(s, ANS_TOO_LARGE);
	if (req->body != SL_H1_BODY_NONE) {
		want = req->body == SL_H1_BODY_LENGTH
			   ? (size_t)req->content_length
			   : (size_t)ic->max_request_bytes + 1;
		if (ip == NULL) {
			if ((ip = ip_new(s)) == NULL)
				return -1;
			ip->woken = woken;
			if ((req->flags & SL_H1_F_EXPECT_CONTINUE) &&
			    req->minor >= 1 && sl_buf_pending(&s->in) == 0)
				sl_exchange_continue(s);
		}
		if (!sl_exchange_body_wait(s, want)) {
			ip->phase = IP_BODY;
			return SL_FILTER_WAIT;
		}
		blen = sl_exchange_body_take(t, s->in.data + s->in.off,
					     s->in.len - s->in.off, want, &body,
					     &whole);
		if (whole < 0)
			return sl_exchange_body_refuse(s);
		if (!whole || blen > ic->max_request_bytes) {
			/* a body the route allows that its head leaves no
			 * room for in the buffer: said as it is */
			return decide(s,
				      !whole && blen <= ic->max_request_bytes &&
					      !(s->flags & SL_SEAM_F_EOF)
					  ? ANS_TOO_LARGE_BUF
					  : ANS_TOO_LARGE);
		}
	}
	{
		const char *rn = t->route->name;
		const void *ip_parts[] = {"sluice-idempotency-1", rn, &kind,
					  who, key};
		const size_t ip_lens[] = {20, strlen(rn), 1, wn, klen};
		const void *fp_parts[] = {req->method, req->path,
					  body != NULL ? body : ""};
		const size_t fp_lens[] = {req->method_len, req->path_len, blen};
		if (ip == NULL && (ip = ip_new(s)) == NULL) {
			return -1;
		}
		r = sl_exchange_idem_digest(s->w, ip->id, ip_parts, ip_lens,
					    5) == 0 &&
			    sl_exchange_idem_digest(s->w, fp, fp_parts, fp_lens,
						    3) == 0
			? 0
			: -1;
		if (r != 0) {
			sl_exchange_local(s, 503, "out_of_memory", 0);
			return -1;
		}
	}
	memcpy(ip->fp, fp, SL_IDEM_HASH);
	ip->ic = ic;
	ip->route = t->route->name;
	ip->hdr_max = s->lconf->limits.max_header_bytes;
	ip->nhdr_max = s->lconf->limits.max_headers;
	ip->memory = sl_idem_conf(s->gen->conf)->memory;
	ip->w = s->w;
	ip->conf = s->gen->conf;
	ip->woken = woken;
	memcpy(ip->request_id, t->request_id, sizeof(ip->request_id));
	return look(s, ip);
}

/* Asks the store for the key of ip (its id and fingerprint made): the
 * first time, or again after a wait. Returns as idem_check. */
static int
look(struct sl_seam *s, struct sl_txidem *ip)
{
	struct sl_txn *t = s->txn;
	int r;

	ip->lease_end_ms = now_ms() + t->route->timeout_ms + LEASE_MARGIN_MS;
	if (ip->ic->store == SL_IDEM_STORE_REDIS)
		return sl_exchange_idem_store_reserve(s, ip, ip->woken) == 0
			   ? 1
			   : sl_exchange_idem_verdict(s, ip, -1);
	r = sl_idem_local_reserve(ip->id, ip->fp, now_ms(),
				  t->route->timeout_ms + LEASE_MARGIN_MS,
				  sl_idem_conf(s->gen->conf)->memory,
				  &ip->token, &ip->kept, &ip->klen);
	return sl_exchange_idem_verdict(s, ip, r);
}

/*
 * The key is in flight elsewhere: with the route's wait, ip waits for the
 * first's answer, asking the store again every WAIT_POLL_MS (local: a
 * look under the table's lock) or WAIT_POLL_REDIS_MS (one script a
 * time), until the key is done (a replay), let go (this request takes
 * it), or the wait is over (409). Returns as idem_check.
 */
#define WAIT_POLL_MS	   25
#define WAIT_POLL_REDIS_MS 100

static int
wait_or_conflict(struct sl_seam *s, struct sl_txidem *ip)
{
	uint64_t now = now_ms(), step;
	struct timeval tv;

	if (ip->ic->wait_ms == 0)
		return decide(s, ANS_CONFLICT);
	if (ip->wait_end_ms == 0)
		ip->wait_end_ms = now + ip->ic->wait_ms;
	if (now >= ip->wait_end_ms)
		return decide(s, ANS_CONFLICT);
	step = ip->ic->store == SL_IDEM_STORE_REDIS ? WAIT_POLL_REDIS_MS
						    : WAIT_POLL_MS;
	step = SL_MIN(step, ip->wait_end_ms - now);
	tv.tv_sec = (time_t)(step / 1000);
	tv.tv_usec = (suseconds_t)(step % 1000) * 1000;
	ip->phase = IP_WAIT;
	if (event_add(&ip->ev, &tv) != 0)
		return decide(s, ANS_CONFLICT);
	return 1;
}

/* What the store said of the key (enum sl_idem_look; -1: it failed), as
 * idem_check returns. */
static int
sl_exchange_idem_verdict(struct sl_seam *s, struct sl_txidem *ip, int r)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_idem_route *ic = sl_idem_route(t->route);

	switch (r) {
	case SL_IDEM_RESERVED:
		ip->phase = IP_HELD;
		count(s, SL_IDEM_O_RESERVED);
		return 0;
	case SL_IDEM_CONFLICT:
		return wait_or_conflict(s, ip);
	case SL_IDEM_MISMATCH:
		return decide(s, ANS_MISMATCH);
	case SL_IDEM_REPLAY:
		return decide(s, ANS_REPLAY);
	case LOOK_UNREADABLE:
		return decide(s, ANS_UNAVAILABLE);
	default:
		log_warnx("conn=%llu request_id=%s route=%s: idempotency: "
			  "%s%s",
			  (unsigned long long)s->id, t->request_id,
			  t->route->name,
			  r == SL_IDEM_FULL
			      ? "the store is full (idempotency.memory)"
			      : "the store (rate_limit_store) did not answer",
			  ic->fail == SL_IDEM_FAIL_OPEN
			      ? "; fail: open, sent on unkept"
			      : "");
		if (r != SL_IDEM_FULL)
			SL_STAT_INC(
			    sl_idem_counts(&t->route->state->counts[s->w->id])
				->store_err);
		if (ic->fail == SL_IDEM_FAIL_OPEN) {
			ip_free(t);
			count(s, SL_IDEM_O_UNPROTECTED);
			return 0;
		}
		return decide(s, ANS_UNAVAILABLE);
	}
}

static void
idem_answer(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txidem *ip = sl_idem_slot(t)->ip;

	switch (ip->ans) {
	case ANS_MISSING:
		count(s, SL_IDEM_O_MISSING);
		problem(s, 400, "idempotency_key_missing",
			"Idempotency-Key is missing",
			"This operation is idempotent: it requires an "
			"Idempotency-Key field.",
			"");
		break;
	case ANS_INVALID:
		count(s, SL_IDEM_O_INVALID);
		problem(s, 400, "idempotency_key_invalid",
			"Idempotency-Key is not valid",
			"The Idempotency-Key field must be one string of 1 to "
			"255 printable characters.",
			"");
		break;
	case ANS_NO_CALLER:
		count(s, SL_IDEM_O_INVALID);
		problem(s, 400, "idempotency_caller_missing",
			"The caller is not known",
			"An Idempotency-Key on this route belongs to a caller, "
			"and the request does not say who it is.",
			"");
		break;
	case ANS_TOO_LARGE:
		count(s, SL_IDEM_O_TOO_LARGE);
		problem(s, 413, "idempotency_body_too_large",
			"The request body is too large for its "
			"Idempotency-Key",
			"A request with an Idempotency-Key is kept whole to be "
			"compared with its retries, and this one is longer "
			"than the route's max_request_bytes.",
			"");
		break;
	case ANS_TOO_LARGE_BUF:
		count(s, SL_IDEM_O_TOO_LARGE);
		problem(s, 413, "idempotency_body_too_large",
			"The request body is too large for its "
			"Idempotency-Key",
			"A request with an Idempotency-Key is kept whole to be "
			"compared with its retries, and this one does not fit "
			"beside its head in the listener's buffer_bytes.",
			"");
		break;
	case ANS_CONFLICT:
		count(s, SL_IDEM_O_CONFLICT);
		problem(s, 409, "idempotency_conflict",
			"A request with this Idempotency-Key is in progress",
			"Try again once it is done: its answer will be "
			"given again.",
			"Retry-After: 1\r\n");
		break;
	case ANS_MISMATCH:
		count(s, SL_IDEM_O_MISMATCH);
		problem(s, 422, "idempotency_mismatch",
			"Idempotency-Key is already used",
			"This Idempotency-Key was used for another request "
			"(another method, target or body).",
			"");
		break;
	case ANS_REPLAY:
		replay(s, ip->kept, ip->klen);
		break;
	default:
		count(s, SL_IDEM_O_UNAVAILABLE);
		problem(s, 503, "idempotency_unavailable",
			"The Idempotency-Key store is unavailable",
			"The request was not sent on. Try again later.",
			"Retry-After: 1\r\n");
		break;
	}
}

static int
idem_worker_init(struct sl_worker *w, void *ws, const struct sl_conf *conf)
{
	struct sl_idem_ws *x = ws;

	(void)w;
	(void)conf;
	TAILQ_INIT(&x->orphans);
	TAILQ_INIT(&x->commits);
	return 0;
}

/* The worker stopped: the answers of gone clients and those on their way
 * to the fleet store go (their keys are let go). */
static void
idem_worker_stop(struct sl_worker *w, void *ws)
{
	struct sl_idem_ws *x = ws;

	sl_exchange_idem_orphans_free(w);
	sl_exchange_idem_store_free(w);
	EVP_MD_CTX_free(x->md);
	x->md = NULL;
}

void
sl_exchange_idem_end(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txidem *ip = sl_idem_slot(t)->ip;

	if (ip == NULL)
		return;
	if (sl_exchange_idem_orphan_due(t) &&
	    sl_exchange_idem_orphan_start(s, t) == 0)
		return;
	if (ip->phase == IP_HELD || ip->phase == IP_KEEPING)
		sl_exchange_idem_release(ip, &t->route->state->counts[s->w->id],
					 t->error != NULL ? t->error : "cut");
	ip_free(t);
}

static int
idem_head(struct sl_seam *s, struct sl_fhead *h)
{
	return idem_check(s, h, sl_exchange_filters_woken);
}

static int
idem_used(const struct sl_conf_route *r)
{
	return sl_idem_route(r) != NULL;
}

/* What the store did, for the access log. */
static void
idem_log_fields(struct sl_txn *t, struct sl_flog *l)
{
	if (sl_idem_slot(t)->res != 0)
		/* what the store did: the line's field at place 30 */
		sl_flog_add(l, 30, "idempotency",
			    sl_idem_out_str(sl_idem_slot(t)->res));
}

static void
idem_placed(const struct sl_filter *f)
{
	sl_idem_slot_off = sl_filter_slot_off[f->id];
	sl_idem_ws_off = sl_filter_wstate_off[f->id];
}

struct sl_filter sl_filter_idem = {
    .name = "idempotency",
    .placed = idem_placed,
    .wsize = sizeof(struct sl_idem_ws),
    .worker_init = idem_worker_init,
    .worker_stop = idem_worker_stop,
    .ctx_size = sizeof(struct sl_idem_slot),
    .log_fields = idem_log_fields,
    .used = idem_used,
    .req_head = idem_head,
    .answer = idem_answer,
    .resp_head = sl_exchange_idem_resp_head,
    .resp_data = sl_exchange_idem_resp_data,
    .end = sl_exchange_idem_end,
};
