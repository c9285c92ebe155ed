/* SPDX-License-Identifier: MIT */
/*
 * HTTP/3's defences (doc/http3.md, "Defences"), in the spirit of HTTP/2's
 * (h2_budget.c): what the codec refuses, counted by reason and said at
 * info a few times a second; the budget of frames that carry no request;
 * requests cancelled faster than they finish; connection errors. It
 * performs no I/O but telling the connection to fail, and calls nothing
 * of h3.c or h3_stream.c.
 */
#include <stdio.h>
#include <string.h>

#include "h3_int.h"
#include "log.h"
#include "qconn.h"
#include "wloop.h"

/* The budget of frames that carry no request: a burst, then so many a
 * second (HTTP/2's figures); a request answered gives back two. */
#define CALM_BURST 400
#define CALM_RATE  200
/* refusals said at info each second; the rest counted only */
#define REFUSAL_LINES 10

_Static_assert(SL_H3_NREFUSALS == SL_WSTAT_H3_REFUSALS,
	       "wloop.h's SL_WSTAT_H3_REFUSALS is h3.h's SL_H3_NREFUSALS");
_Static_assert(SL_H3_NEVENTS == SL_WSTAT_QUIC_EVENTS,
	       "wloop.h's SL_WSTAT_QUIC_EVENTS is h3.h's SL_H3_NEVENTS");

const char *
sl_h3_refusal_str(enum sl_h3_refusal r)
{
	static const char *const s[SL_H3_NREFUSALS] = {
	    [SL_H3_R_PROTOCOL] = "protocol",
	    [SL_H3_R_MESSAGE] = "malformed_request",
	    [SL_H3_R_HEADER_LIST] = "header_list",
	    [SL_H3_R_MISDIRECTED] = "misdirected",
	    [SL_H3_R_IDLE_FRAMES] = "idle_frames",
	    [SL_H3_R_RAPID_RESET] = "rapid_reset",
	    [SL_H3_R_HEADER_TIMEOUT] = "header_timeout",
	    [SL_H3_R_HANDSHAKES_PER_IP] = "handshakes_per_ip",
	    [SL_H3_R_BODY_OVERFLOW] = "body_overflow",
	};

	return (unsigned)r < SL_H3_NREFUSALS ? s[r] : "?";
}

const char *
sl_h3_event_str(enum sl_h3_event e)
{
	static const char *const s[SL_H3_NEVENTS] = {
	    [SL_H3_EV_ACCEPTED] = "accepted",
	    [SL_H3_EV_CLOSED] = "closed",
	    [SL_H3_EV_RETRY] = "retry",
	    [SL_H3_EV_RESET] = "stateless_reset",
	    [SL_H3_EV_VNEG] = "version_negotiation",
	    [SL_H3_EV_DROPPED] = "dropped",
	    [SL_H3_EV_FULL] = "full",
	    [SL_H3_EV_READ_ERROR] = "read_error",
	};

	return (unsigned)e < SL_H3_NEVENTS ? s[e] : "?";
}

void
h3_refused(struct sl_h3ep *e, const struct sockaddr_in6 *peer,
	   enum sl_h3_refusal r, int64_t id, const char *why)
{
	uint64_t sec = now_ms() / 1000;
	char at[SL_PEER_MAX], sid[32] = "";
	struct sl_seam s;

	SL_STAT_INC(e->w->stats.h3_refused[r]);
	if (sec != e->said_sec) {
		e->said_sec = sec;
		e->said = 0;
	}
	if (e->said++ >= REFUSAL_LINES)
		return;
	memset(&s, 0, sizeof(s));
	if (peer != NULL)
		s.peer = *peer;
	if (id >= 0)
		snprintf(sid, sizeof(sid), " stream=%lld", (long long)id);
	log_info(
	    "http3: peer=%s listener=%s%s refused (%s): %s",
	    peer != NULL ? sl_seam_peer_str(&s, NULL, at, sizeof(at)) : "?",
	    e->l != NULL ? e->l->name : "?", sid, sl_h3_refusal_str(r), why);
}

void
h3_conn_error(struct sl_h3conn *h, uint64_t code, enum sl_h3_refusal r,
	      const char *why)
{
	char text[160];

	if (h->qc == NULL || sl_qconn_app_failed(h->qc))
		return;
	snprintf(text, sizeof(text), "connection error %s: %s",
		 sl_h3_err_str(code), why);
	h3_refused(h->ep, &h->peer, r, -1, text);
	sl_qconn_fail(h->qc, code);
}

int
h3_calm_spend(struct sl_h3conn *h, const char *what)
{
	uint64_t now = now_ms();

	if (h->calm_ms == 0) {
		h->calm = CALM_BURST;
		h->calm_ms = now;
	} else if (now > h->calm_ms) {
		h->calm += (int64_t)((now - h->calm_ms) * CALM_RATE / 1000);
		if (h->calm > CALM_BURST)
			h->calm = CALM_BURST;
		h->calm_ms = now;
	}
	if (--h->calm >= 0)
		return 0;
	h3_conn_error(h, SL_H3_EXCESSIVE_LOAD, SL_H3_R_IDLE_FRAMES, what);
	return -1;
}

void
h3_calm_earn(struct sl_h3conn *h, int n)
{
	if (h->calm_ms != 0 && (h->calm += n) > CALM_BURST)
		h->calm = CALM_BURST;
}

int
h3_rapid_reset(struct sl_h3conn *h)
{
	if (++h->resets <= 2 * h->lconf->limits.max_concurrent_streams)
		return 0;
	h3_conn_error(h, SL_H3_EXCESSIVE_LOAD, SL_H3_R_RAPID_RESET,
		      "requests cancelled faster than they finish");
	return -1;
}
