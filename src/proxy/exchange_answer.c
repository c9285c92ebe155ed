/* SPDX-License-Identifier: MIT */
/*
 * An exchange's own answers: the local responses (errors, refusals,
 * timeouts) that replace or stop the exchange with the upstream, the
 * refused head's salvage for the logs, what the logs keep of a request,
 * and the client's text in the exchange's log lines. The bottom of the
 * exchange's files: every other one calls it, and it calls none of them
 * (what ends an upstream attempt is attempt_end.c's). The connection under
 * the exchange is its stream (seam.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeslot.h"
#include "attempt.h"
#include "exchange.h"
#include "exchange_int.h"
#include "grpc.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "hblock.h"
#include "log.h"
#include "pan.h"
#include "rlcheck.h"
#include "wloop.h"

const char *
sl_exchange_peer_str(const struct sl_seam *s, const struct sl_txn *t, char *buf,
		     size_t n)
{
	return sl_seam_peer_str(s,
				t != NULL && (t->flags & SL_TXN_F_FWD_CLIENT)
				    ? &t->client_addr
				    : NULL,
				buf, n);
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

/* Whether the values kept for the access log are masked: an error-log
 * line is masked whole when it is written (log.c), so without an access
 * log there is nothing to do here. Every value the client chose is
 * masked (issue 61: a card number in a User-Agent reached the log); the
 * fields sluice writes itself (ids, counts, times) are not, so that a
 * byte count is never taken for a card number. */
static int
note_cards(void)
{
	return sl_access_enabled() && sl_log_cards();
}

/* copy_slice, then, when cards (note_cards()), the card numbers in the
 * copy masked; a value cut to fit counts as cut (its end may be a
 * card's). Inline: without an access log it is copy_slice. */
static inline void
note_slice(char *dst, size_t dstsz, const char *s, size_t n, int cards)
{
	copy_slice(dst, dstsz, s, n);
	if (cards && s != NULL && n > 0)
		(void)sl_pan_mask(dst, SL_MIN(n, dstsz - 1), n >= dstsz);
}

/* Keeps what the logs show of the request: its target and Referer with
 * log.query applied (card numbers travel in query strings), and no card
 * number in either, whatever log.query says. */
void
sl_exchange_note(struct sl_txn *t, const char *method, size_t method_len,
		 const char *target, size_t target_len, const char *host,
		 size_t host_len)
{
	int cards = note_cards();

	note_slice(t->note.method, sizeof(t->note.method), method, method_len,
		   cards);
	t->note.raw = 0;
	if (target == NULL)
		t->note.path[0] = '\0';
	else if (!sl_access_enabled() && target_len < sizeof(t->note.path)) {
		/* no access log: kept as it came, log.query applied only by
		 * the rare line that shows it (sl_exchange_note_path) */
		copy_slice(t->note.path, sizeof(t->note.path), target,
			   target_len);
		t->note.raw = 1;
	} else
		sl_log_target(t->note.path, sizeof(t->note.path), target,
			      target_len, sl_log_query(), cards);
	note_slice(t->note.host, sizeof(t->note.host), host, host_len, cards);
}

/* The kept target as the logs show it: log.query applied now to a
 * target kept as it came (sl_exchange_note, without an access log). */
const char *
sl_exchange_note_path(struct sl_txn *t)
{
	char m[sizeof(t->note.path)];

	if (t->note.raw) {
		t->note.raw = 0;
		sl_log_target(m, sizeof(m), t->note.path, strlen(t->note.path),
			      sl_log_query(), note_cards());
		memcpy(t->note.path, m, sizeof(m));
	}
	return t->note.path;
}

static void
txn_note_agent(struct sl_txn *t, const char *referer, size_t referer_len,
	       const char *ua, size_t ua_len)
{
	int cards = note_cards();

	if (referer != NULL)
		sl_log_target(t->note.referer, sizeof(t->note.referer), referer,
			      referer_len, sl_log_query(), cards);
	note_slice(t->note.user_agent, sizeof(t->note.user_agent), ua, ua_len,
		   cards);
}

/* Referer and User-Agent of a parsed request, for the access log. */
void
sl_exchange_note_agent(struct sl_txn *t, const struct sl_h1_request *req)
{
	const char *ref = NULL, *ua = NULL;
	size_t ref_len = 0, ua_len = 0;

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (ref == NULL && sl_h1_ieq(h->name, h->name_len, "referer")) {
			ref = h->value;
			ref_len = h->value_len;
		} else if (ua == NULL &&
			   sl_h1_ieq(h->name, h->name_len, "user-agent")) {
			ua = h->value;
			ua_len = h->value_len;
		}
	}
	txn_note_agent(t, ref, ref_len, ua, ua_len);
}

/* sl_h1_salvage of a request head block (hblock.h) an HTTP/2 codec wrote,
 * or was writing when it was refused: its records whole within len. */
static void
salvage_block(const char *buf, size_t len, struct sl_h1_salvage *out)
{
	struct sl_hblk_it it;
	const char *n, *v;
	size_t nl, vl;

	memset(out, 0, sizeof(*out));
	out->minor = -1;
	if (len < sizeof(struct sl_hblk) || buf[0] != SL_HBLK_MARK)
		return;
	/* the records written so far: a head refused while it was being
	 * written (past its cap) has no length in its header yet */
	it.p = buf + sizeof(struct sl_hblk);
	it.end = buf + len;
	while (sl_hblk_next(&it, &n, &nl, &v, &vl)) {
		if (nl == 7 && memcmp(n, ":method", 7) == 0) {
			out->method = v;
			out->method_len = vl;
		} else if (nl == 5 && memcmp(n, ":path", 5) == 0) {
			out->target = v;
			out->target_len = vl;
		} else if (out->host == NULL && sl_h1_ieq(n, nl, "host")) {
			out->host = v;
			out->host_len = vl;
		} else if (out->referer == NULL &&
			   sl_h1_ieq(n, nl, "referer")) {
			out->referer = v;
			out->referer_len = vl;
		} else if (out->user_agent == NULL &&
			   sl_h1_ieq(n, nl, "user-agent")) {
			out->user_agent = v;
			out->user_agent_len = vl;
		}
	}
	/* a codec of fields wrote it: HTTP/1.1's framing rules apply */
	out->minor = 1;
}

/* Fills the logged fields of t from a refused head of len bytes, as far
 * as they can be read; nothing already known is replaced. */
void
sl_exchange_salvage(struct sl_txn *t, const char *head, size_t len)
{
	struct sl_h1_salvage sv;

	/* a block only from a codec of fields (an HTTP/2 codec's): an
	 * HTTP/1.1 client's NUL is text the scanner refused */
	if (len > 0 && head[0] == SL_HBLK_MARK && t->s->ops->head != NULL)
		salvage_block(head, len, &sv);
	else
		sl_h1_salvage(head, len, &sv);
	if (t->note.method[0] == '\0' && t->note.path[0] == '\0')
		sl_exchange_note(t, sv.method, sv.method_len, sv.target,
				 sv.target_len, sv.host, sv.host_len);
	else if (t->note.host[0] == '\0')
		note_slice(t->note.host, sizeof(t->note.host), sv.host,
			   sv.host_len, note_cards());
	if (sl_access_enabled())
		txn_note_agent(t, sv.referer, sv.referer_len, sv.user_agent,
			       sv.user_agent_len);
	if (t->minor == 0 && sv.minor == 1)
		t->minor = 1;
}

/* An exchange for a head that will not be parsed (refused by the codec's
 * scanner, or timed out): what was read of it is logged, then dropped. */
static void
txn_for_head(struct sl_seam *s, struct sl_txn *t)
{
	if (s->in.data != NULL) {
		t->bytes_in = sl_buf_pending(&s->in);
		sl_exchange_salvage(t, s->in.data + s->in.off,
				    sl_buf_pending(&s->in));
		s->in.off = s->in.len; /* the bad head is dropped */
	}
	t->flags |= SL_TXN_F_CLOSE;
	t->req_ph = SL_TXN_REQ_BODY; /* never read: the answer closes */
}

int
sl_exchange_out_reserve(struct sl_seam *s, size_t n)
{
	if (sl_buf_alloc(&s->w->bufs, &s->txn->out, sl_exchange_head_cap(s)) ==
	    -1)
		return -1;
	if (s->txn->out.off == s->txn->out.len)
		s->txn->out.off = s->txn->out.len = 0;
	if (sl_buf_space(&s->txn->out) < n && s->txn->out.off > 0) {
		memmove(s->txn->out.data, s->txn->out.data + s->txn->out.off,
			sl_buf_pending(&s->txn->out));
		s->txn->out.len -= s->txn->out.off;
		s->txn->out.off = 0;
	}
	/* a head block is a few bytes a field larger than the text the
	 * buffer's size was chosen for (doc/design-notes.md, "The
	 * structured head"): it grows rather than refuse the head */
	if (sl_buf_space(&s->txn->out) < n &&
	    sl_buf_grow(&s->w->bufs, &s->txn->out,
			(size_t)s->txn->out.len + n) == -1)
		return -1;
	return 0;
}

/*
 * Answers the current request (or the head being read) with a local error
 * and stops the exchange with the upstream. close forces the connection to
 * close after it; so does a request whose body was not read. fields, when
 * not NULL, are the answer's own (a rate limit's); they also keep it from
 * the info log (rlcheck.c says those).
 */
static void txn_answer(struct sl_seam *s, int status, const char *code,
		       const char *error, int close, const char *fields,
		       const char *body, size_t blen);

/* 100-continue: sluice asks for the body itself, once it is about to read
 * it; the upstream never sees Expect. */
void
sl_exchange_continue(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	size_t hl;
	long cn;

	if (sl_exchange_out_reserve(s, sizeof(struct sl_hblk) + 32) != 0)
		return;
	cn = s->ops->write_head(
	    s, &(struct sl_h1_head){.kind = SL_H1_H_CONTINUE},
	    t->out.data + t->out.len, sl_buf_space(&t->out), &hl);
	if (cn > 0) {
		t->out.len += (uint32_t)cn;
		t->head_out += (uint32_t)cn;
	}
}

void
sl_exchange_answer(struct sl_seam *s, int status, const char *code, int close,
		   const char *fields)
{
	txn_answer(s, status, code, code, close, fields, NULL, 0);
}

void
sl_exchange_answer_as(struct sl_seam *s, int status, const char *code,
		      const char *error, int close, const char *fields)
{
	txn_answer(s, status, code, error, close, fields, NULL, 0);
}

void
sl_exchange_answer_body(struct sl_seam *s, int status, const char *error,
			const char *fields, const char *body, size_t blen)
{
	txn_answer(s, status, error, error, 0, fields, body, blen);
}

static void answer_note(struct sl_seam *s, struct sl_txn *t, int status,
			const char *error);

/* sl_exchange_answer, with what the logs call it (error: the access log's
 * "error", the info line's name) apart from the answer's code. */
static void
txn_answer(struct sl_seam *s, int status, const char *code, const char *error,
	   int close, const char *fields, const char *body, size_t blen)
{
	struct sl_txn *t = s->txn;
	const struct sl_hdr_apply *rules;
	const struct sl_hdr_vars *vp = NULL;
	struct sl_hdr_vars vars;
	struct sl_hblk b;
	char ip[64];
	size_t hl = 0;
	long n = -1;

	if (t->req_ph == SL_TXN_REQ_HEAD)
		txn_for_head(s, t);
	if (t->request_id[0] == '\0')
		sl_worker_request_id(s->w, t->request_id);
	if ((t->resp_ph == SL_TXN_RESP_UPSTREAM) && t->bytes_out > 0) {
		/* part of the upstream response is out: it cannot be
		 * replaced, only cut */
		t->status = t->status ? t->status : status;
		t->error = error;
		s->ops->close(s, code);
		return;
	}
	if (t->resp_ph == SL_TXN_RESP_UPSTREAM) {
		/* a head held back for its body (sl_exchange_resp_held)
		 * never went out: this answer replaces it */
		t->resp_ph = SL_TXN_RESP_NONE;
		t->head_out -= sl_buf_pending(&t->out);
		t->out.off = t->out.len = 0;
		if (t->fops & SL_FOP_RESP_DROP) {
			/* nor what the filters made of it (a compressor) */
			const struct sl_wroute *wr =
			    &s->gen->routes[t->route->index];
			for (unsigned i = 0; i < wr->nfilt; i++)
				if (wr->filt[i]->resp_drop != NULL)
					wr->filt[i]->resp_drop(s);
		}
		t->xf = NULL;
	}
	sl_attempt_dequeue(t); /* a request answered here waits for nothing */
	if ((t->flags & SL_TXN_F_HELD) && (t->fops & SL_FOP_STOP)) {
		/* nor for a filter that can stop (a lease): the body's clock
		 * runs again. One that cannot (a WAF thread) wakes it as it
		 * ends. */
		const struct sl_filter *f =
		    s->gen->routes[t->route->index].filt[t->fw.at];
		if (f->stop != NULL) {
			f->stop(t);
			t->flags &= ~SL_TXN_F_HELD;
		}
	}
	sl_attempt_release(s, 0);
	t->resp_ph = SL_TXN_RESP_LOCAL;
	t->status = status;
	t->error = error;
	if (close || t->req_ph != SL_TXN_REQ_DONE)
		t->flags |= SL_TXN_F_CLOSE;
	if (sl_exchange_out_reserve(
		s, 512 + (body != NULL ? blen + strlen(fields) : 0)) == -1) {
		s->ops->close(s, "out_of_memory");
		return;
	}
	rules = sl_exchange_rules(s, 0, &vars, &vp, NULL, ip);
	if (s->flags & SL_SEAM_F_GRPC) {
		/* a gRPC call: the status its client's retry logic knows, in
		 * a trailers-only answer (doc/grpc.md) */
		char msg[96];
		t->grpc.status = (uint8_t)sl_grpc_status_of(status);
		t->status = 200;
		(void)sl_grpc_message_encode(msg, sizeof(msg), code,
					     strlen(code));
		/* only an HTTP/2 stream carries a gRPC call: the codec takes
		 * fields */
		n = sl_h1_block_grpc_error(s->txn->out.data + s->txn->out.len,
					   sl_buf_space(&s->txn->out),
					   t->grpc.status, msg, t->request_id,
					   fields, rules, vp);
		if (n < 0 && rules != NULL)
			n = sl_h1_block_grpc_error(
			    s->txn->out.data + s->txn->out.len,
			    sl_buf_space(&s->txn->out), t->grpc.status, msg,
			    t->request_id, fields, NULL, NULL);
		if (n >= 0) {
			sl_hblk_head(t->out.data + t->out.len, &b);
			hl = b.len;
		}
		goto written;
	}
	/* the answer goes out all the same without the rules when they do
	 * not fit (the second round) */
	for (int round = 0; round < 2; round++) {
		const struct sl_hdr_apply *r = round == 0 ? rules : NULL;
		if (round == 1 && rules == NULL)
			break;
		n = s->ops->write_head(
		    s,
		    &(struct sl_h1_head){
			.kind = body != NULL ? SL_H1_H_ANSWER : SL_H1_H_ERROR,
			.minor = (uint8_t)t->minor,
			.close = (t->flags & SL_TXN_F_CLOSE) != 0,
			.head_only = t->method_id == SL_M_HEAD,
			.status = status,
			.request_id = t->request_id,
			.rules = r,
			.vars = r != NULL ? vp : NULL,
			.code = code,
			.fields = fields,
			.body = body,
			.blen = blen},
		    t->out.data + t->out.len, sl_buf_space(&t->out), &hl);
		if (n >= 0)
			break;
	}
written:
	if (n < 0) {
		s->ops->close(s, code);
		return;
	}
	t->head_out += (uint32_t)hl;
	s->txn->out.len += (uint32_t)n;
	if (sl_log_enabled(SL_LOG_INFO) && status != 404 && fields == NULL)
		answer_note(s, t, status, error);
}

/* The rule a refused request broke, at info: the response says only
 * bad_request, the operator needs more. */
static void
answer_note(struct sl_seam *s, struct sl_txn *t, int status, const char *error)
{
	char peer[SL_PEER_MAX], m[64], p[1024], h[512];

	(void)sl_exchange_note_path(t);
	log_info(
	    "conn=%llu peer=%s request_id=%s route=%s: %d %s%s%s%s%s%s "
	    "method=%s target=\"%s\" host=\"%s\"",
	    (unsigned long long)s->id,
	    sl_exchange_peer_str(s, t, peer, sizeof(peer)), t->request_id,
	    t->route ? t->route->name : "-", status, error,
	    t->why != SL_H1_R_NONE ? " reason=" : "",
	    t->why != SL_H1_R_NONE ? sl_h1_reason_str(t->why) : "",
	    t->rule != NULL ? " rule=\"" : "", t->rule != NULL ? t->rule : "",
	    t->rule != NULL ? "\"" : "",
	    sl_escape(m, sizeof(m), t->note.method, strlen(t->note.method)),
	    sl_escape(p, sizeof(p), t->note.path, strlen(t->note.path)),
	    sl_escape(h, sizeof(h), t->note.host, strlen(t->note.host)));
}

void
sl_exchange_local(struct sl_seam *s, int status, const char *code, int close)
{
	sl_exchange_answer(s, status, code, close, NULL);
}

void
sl_exchange_timed_out(struct sl_seam *s, const char *error)
{
	/* the answer's code is the contract's (doc/contracts.md); the logs
	 * name the budget that ran out, both the same */
	txn_answer(s, 408, "request_timeout", error, 1, NULL, NULL, 0);
}

void
sl_exchange_forbid(struct sl_seam *s, const char *rule)
{
	struct sl_txn *t = s->txn;

	t->why = SL_H1_R_ACCESS_DENIED;
	t->rule = rule;
	SL_STAT_INC(s->w->stats.rejected[SL_H1_R_ACCESS_DENIED]);
	sl_exchange_local(s, 403, "forbidden", 0);
}

void
sl_exchange_reject(struct sl_seam *s, int status, int why)
{
	struct sl_txn *t = s->txn;

	if (t->req_ph == SL_TXN_REQ_HEAD)
		txn_for_head(s, t);
	if (why <= SL_H1_R_NONE || why >= SL_H1_R_NREASONS)
		why = SL_H1_R_NONE;
	t->why = (enum sl_h1_reason)why;
	SL_STAT_INC(s->w->stats.rejected[why]);
	sl_exchange_local(s, status, sl_exchange_status_code_name(status), 1);
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
	case 421:
		return "misdirected_request";
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

#define ACME_PREFIX "/.well-known/acme-challenge/"
int
sl_exchange_acme(struct sl_seam *s, const struct sl_h1_request *req)
{
	const size_t pl = sizeof(ACME_PREFIX) - 1;
	char ka[320];
	size_t len;
	const char *q;
	long n;

	/* the CA's validation is a GET (RFC 8555 section 8.3): another
	 * method goes on to the routes */
	if (req->path_len <= pl || memcmp(req->path, ACME_PREFIX, pl) != 0 ||
	    req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
		return 0;
	q = memchr(req->path + pl, '?', req->path_len - pl);
	len = (q != NULL ? (size_t)(q - req->path) : req->path_len) - pl;
	if ((n = sl_acme_token_get(req->path + pl, len, ka, sizeof(ka))) < 0)
		return 0;
	sl_exchange_answer_body(s, 200, "acme_challenge",
				"Content-Type: application/octet-stream\r\n",
				ka, (size_t)n);
	return 1;
}
