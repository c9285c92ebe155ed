/* SPDX-License-Identifier: MIT */
/*
 * The budgets of the HTTP/2 codec against the HTTP/2 attacks (h2.c,
 * doc/http2.md section 5): the calm budget of frames that carry no
 * request, the flow budget that DATA sent pays into, the stream ids a
 * client began, rapid resets; and the refusals, counted and logged at a
 * bounded rate, with the GOAWAY that ends a connection past a budget. The
 * lowest of the h2 files: it calls none of them, and only notes its
 * verdicts (h->dead, C2_AGAIN) for h2.c's run to act on.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "h2_int.h"
#include "log.h"
#include "runtime.h"

/* The second GOAWAY of a drain goes after the PING's answer, or this
 * long after the first. */
#define GOAWAY_WAIT_MS 1000
/* Refusal lines a worker writes a second: a flood of connections, each
 * cut, would else write thousands (the metric counts every one). */
#define REFUSAL_LINES 10

static const char *const refusal_names[SL_H2_NREFUSALS] = {
    "protocol_error",	     "rapid_reset",	     "continuation_flood",
    "settings_flood",	     "ping_flood",	     "priority_flood",
    "window_update_flood",   "empty_frames",	     "reset_flood",
    "header_list_too_large", "stream_ids_exhausted", "zero_window",
    "too_many_streams",	     "header_timeout",	     "misdirected",
    "body_overflow",	     "hpack_bomb",
};

const char *
sl_h2_refusal_str(enum sl_h2_refusal r)
{
	return (unsigned)r < SL_H2_NREFUSALS ? refusal_names[r] : "?";
}

/* ---- refusals --------------------------------------------------------- */

/* Counts a refusal (metrics) and says it at info (a flood ends its
 * connection, so it is said once), REFUSAL_LINES a second a worker at
 * most: the first line of a later second says how many were not. */
void
h2_refused(struct sl_h2conn *h, enum sl_h2_refusal r, int32_t id,
	   const char *what)
{
	struct sl_client *c = h->c;
	struct h2_worker *hw = h2w(c->s.w);

	SL_STAT_INC(c->s.w->stats.h2_refused[r]);
	if (sl_log_enabled(SL_LOG_INFO)) {
		char peer[SL_PEER_MAX];
		uint64_t sec = now_ms() / 1000;

		if (hw != NULL && sec != hw->ref_sec) {
			if (hw->ref_quiet > 0)
				log_info("HTTP/2: %llu more refusals not "
					 "logged (%d a second a worker; "
					 "sluice_http2_refused_total counts "
					 "them all)",
					 hw->ref_quiet, REFUSAL_LINES);
			hw->ref_sec = sec;
			hw->ref_lines = 0;
			hw->ref_quiet = 0;
		}
		if (hw != NULL && hw->ref_lines++ >= REFUSAL_LINES) {
			hw->ref_quiet++;
			return;
		}
		log_info("conn=%llu peer=%s listener=%s stream=%d: HTTP/2 "
			 "%s: %s",
			 (unsigned long long)c->s.id,
			 sl_seam_peer_str(&c->s, NULL, peer, sizeof(peer)),
			 c->s.lconf->name, (int)id, sl_h2_refusal_str(r), what);
	}
}

/*
 * Ends the connection with a GOAWAY of code (ENHANCE_YOUR_CALM for an
 * attack, PROTOCOL_ERROR, NO_ERROR for a graceful end), then the close
 * once it is written: set here, done at the end of the run. The
 * connection's state takes nothing more (its input returns -1).
 */
void
h2_fail(struct sl_h2conn *h, uint32_t code, const char *reason)
{
	if (h->dead != NULL)
		return;
	if (!h->h2c.failed) {
		(void)sl_h2c_goaway(&h->h2c, code);
		h->h2c.failed = 1;
		h->h2c.err = code;
		h->h2c.why = reason;
	}
	h->dead = reason;
	/* an error: what else the client sends is not read (a flood is
	 * not drained by a lingering close) */
	h->dead_now = code != SL_H2F_NO_ERROR;
	h->f |= C2_AGAIN;
}

/* The connection's state refused what the client sent (sl_h2c_input
 * returned -1, its GOAWAY written, no failure noted yet): the refusal it
 * is, and the connection's end without reading on. */
void
h2_conn_failed(struct sl_h2conn *h)
{
	enum sl_h2_refusal r = SL_H2_R_PROTOCOL;
	uint32_t code = h->h2c.err;
	const char *why = h->h2c.why != NULL ? h->h2c.why : "-";
	char e[200];

	if (code == SL_H2F_ENHANCE_YOUR_CALM &&
	    strstr(why, "header block") != NULL)
		r = SL_H2_R_CONTINUATION;
	snprintf(e, sizeof(e), "%s: %s", sl_h2f_err_str(code), why);
	h2_refused(h, r, 0, e);
	h->dead = code == SL_H2F_ENHANCE_YOUR_CALM ? "http2_enhance_your_calm"
						   : "http2_protocol_error";
	h->dead_now = 1;
	h->f |= C2_AGAIN;
}

/* ---- the budgets ------------------------------------------------------ */

/* Takes a budget token for a frame that carries no request; past the
 * budget, the connection goes (section 5). */
void
h2_calm_spend(struct sl_h2conn *h, enum sl_h2_refusal why, int64_t n)
{
	uint64_t now = now_ms();

	if (now > h->calm_ms) {
		h->calm += (int64_t)((now - h->calm_ms) * CALM_RATE / 1000);
		if (h->calm > CALM_BURST)
			h->calm = CALM_BURST;
		h->calm_ms = now;
	}
	h->calm -= n;
	if (h->calm >= 0 || h->dead != NULL)
		return;
	h2_refused(h, why, 0, "frames that carry no request past the budget");
	h2_fail(h, SL_H2F_ENHANCE_YOUR_CALM, "http2_enhance_your_calm");
}

/* A WINDOW_UPDATE or a PING: paid by the DATA frames sent, else by the
 * calm budget. */
static void
flow_spend(struct sl_h2conn *h, enum sl_h2_refusal why)
{
	if (h->flow > 0)
		h->flow--;
	else
		h2_calm_spend(h, why, 1);
}

/* The most CONTINUATION frames a header block may have: what the
 * largest block allowed needs, and a few more. */
static unsigned
cont_max(const struct sl_h2conn *h)
{
	return (unsigned)SL_MIN(h->h2c.block_max / SL_H2F_MAX_FRAME_MIN + 8,
				(size_t)250);
}

/* The handler every frame the client sends is shown to first (h2conn.h):
 * each frame pays its budget before it is read, and a few facts are
 * noted (the preface's SETTINGS, the drain's PING answer, a header
 * block's beginning). Non-zero: the connection fails. */
int
h2_on_frame(void *arg, const struct sl_h2f_header *hd)
{
	struct sl_h2conn *h = arg;
	struct sl_h2c_stream *hs;

	switch (hd->type) {
	case SL_H2F_DATA:
		if (hd->length == 0 && !(hd->flags & SL_H2F_F_END_STREAM))
			h2_calm_spend(h, SL_H2_R_EMPTY_FRAMES, 1);
		break;
	case SL_H2F_HEADERS:
		h->ncont = 0;
		hs = sl_h2c_stream(&h->h2c, hd->stream_id);
		if (hs != NULL) {
			/* a trailer section: a header list of its own */
			STREAM_OF_HS(hs)->hdr_list = 0;
		} else if (hd->stream_id > h->h2c.last_peer_id &&
			   (hd->stream_id & 1) &&
			   h->h2c.nstreams >= h->h2c.max_streams) {
			h2_refused(h, SL_H2_R_TOO_MANY_STREAMS,
				   (int32_t)hd->stream_id,
				   "over max_concurrent_streams");
			/* before the client has the limit: REFUSED_STREAM;
			 * after, a connection error (RFC 9113 section
			 * 5.1.2 lets a stream error be one) */
			if (h->h2c.local_acked)
				h2_fail(h, SL_H2F_PROTOCOL_ERROR,
					"http2_protocol_error");
		}
		break;
	case SL_H2F_PRIORITY:
		h2_calm_spend(h, SL_H2_R_PRIORITY_FLOOD, 1);
		break;
	case SL_H2F_RST_STREAM:
		/* early resets are rapid_reset's (the reset handler),
		 * resets of streams gone already reset_flood's */
		if (sl_h2c_stream(&h->h2c, hd->stream_id) == NULL)
			h2_calm_spend(h, SL_H2_R_RESET_FLOOD, 1);
		break;
	case SL_H2F_SETTINGS:
		h2_calm_spend(h, SL_H2_R_SETTINGS_FLOOD, 1);
		if (!(hd->flags & SL_H2F_F_ACK))
			h->f |= C2_PREFACE;
		break;
	case SL_H2F_PING:
		if (hd->flags & SL_H2F_F_ACK) {
			h2_calm_spend(h, SL_H2_R_PING_FLOOD, 1);
			/* the answer to the drain's PING: one round trip
			 * after the first GOAWAY, the last one (RFC 9113
			 * section 6.8) */
			if ((h->f & C2_GOAWAY1) && !(h->f & C2_GOAWAY2))
				h->goaway_ms = 1;
		} else
			flow_spend(h, SL_H2_R_PING_FLOOD);
		break;
	case SL_H2F_WINDOW_UPDATE:
		flow_spend(h, SL_H2_R_WINDOW_FLOOD);
		break;
	case SL_H2F_CONTINUATION:
		if (hd->length == 0)
			h2_calm_spend(h, SL_H2_R_EMPTY_FRAMES, 1);
		if (++h->ncont > cont_max(h) && h->dead == NULL) {
			h2_refused(h, SL_H2_R_CONTINUATION,
				   (int32_t)hd->stream_id,
				   "CONTINUATION frames past the bound");
			h2_fail(h, SL_H2F_ENHANCE_YOUR_CALM,
				"http2_enhance_your_calm");
		}
		break;
	default:
		h2_calm_spend(h, SL_H2_R_EMPTY_FRAMES, 1);
		break;
	}
	return h->dead != NULL;
}

/* The client reset stream id before its answer was whole: rapid reset
 * (CVE-2023-44487) counts these against the streams that finish, and pays
 * the calm budget for each. */
void
h2_rapid_reset(struct sl_h2conn *h, int32_t id)
{
	h->resets++;
	h2_calm_spend(h, SL_H2_R_RAPID_RESET, 1);
	if (h->resets > 2 * h->c->s.lconf->limits.max_concurrent_streams &&
	    h->dead == NULL) {
		h2_refused(h, SL_H2_R_RAPID_RESET, id,
			   "streams reset faster than they finish");
		h2_fail(h, SL_H2F_ENHANCE_YOUR_CALM, "http2_enhance_your_calm");
	}
}

/* ---- deadlines: the connection's time budgets -------------------------- */

/* The connection's nearest deadline but the idle one (the worker's lists
 * keep that: h2_idle_on), or 0 when none; h2.c arms its timer for it. */
uint64_t
h2_next_deadline(const struct sl_h2conn *h)
{
	const struct sl_conf_limits *l = &h->c->s.lconf->limits;
	uint64_t d = UINT64_MAX;

	if (h->f & C2_CLOSING)
		d = SL_MIN(d, h->closing_ms + l->send_timeout_ms);
	if (!(h->f & C2_PREFACE))
		d = SL_MIN(d, h->start_ms + l->header_timeout_ms);
	if (h->hs != NULL && h->hdr_block_ms != 0)
		d = SL_MIN(d, h->hdr_block_ms + l->header_timeout_ms);
	if (h->wblock_ms != 0)
		d = SL_MIN(d, h->wblock_ms + l->send_timeout_ms);
	if (h->zwin_ms != 0)
		d = SL_MIN(d, h->zwin_ms + l->send_timeout_ms);
	if ((h->f & C2_GOAWAY1) && !(h->f & C2_GOAWAY2))
		d = SL_MIN(d, h->goaway_ms + GOAWAY_WAIT_MS);
	return d == UINT64_MAX ? 0 : d;
}

void
h2_idle_on(struct sl_h2conn *h)
{
	struct sl_client *c = h->c;

	sl_timeq_set(c->s.w, &c->tnode, c->s.lconf->limits.idle_timeout_ms,
		     h->idle_ms);
}

void
h2_idle_off(struct sl_h2conn *h)
{
	sl_timeq_del(h->c->s.w, &h->c->tnode);
}

/*
 * The deadline due at now, but for the last frames' (C2_CLOSING, h2.c's):
 * one past its budget is counted and refused (h->dead, or h2_fail's
 * GOAWAY); the drain's last GOAWAY is the caller's (H2_DL_GOAWAY).
 * Returns H2_DL_NONE otherwise.
 */
int
h2_deadline(struct sl_h2conn *h, uint64_t now)
{
	const struct sl_conf_limits *l = &h->c->s.lconf->limits;
	struct sl_worker *w = h->c->s.w;

	if (!(h->f & C2_PREFACE) && now >= h->start_ms + l->header_timeout_ms) {
		SL_STAT_INC(w->stats.timeouts[SL_TO_HEADER]);
		h2_refused(h, SL_H2_R_HEADER_TIMEOUT, 0,
			   "no connection preface within header_timeout");
		h->dead = "header_timeout";
	} else if (h->hs != NULL && h->hdr_block_ms != 0 &&
		   now >= h->hdr_block_ms + l->header_timeout_ms) {
		SL_STAT_INC(w->stats.timeouts[SL_TO_HEADER]);
		h2_refused(h, SL_H2_R_HEADER_TIMEOUT, h->hs->id,
			   "header block not whole within header_timeout");
		h2_fail(h, SL_H2F_ENHANCE_YOUR_CALM, "header_timeout");
	} else if (h->wblock_ms != 0 &&
		   now >= h->wblock_ms + l->send_timeout_ms) {
		SL_STAT_INC(w->stats.timeouts[SL_TO_SEND]);
		h->dead = "send_timeout";
		h->dead_abort = 1;
	} else if (h->zwin_ms != 0 && now >= h->zwin_ms + l->send_timeout_ms) {
		if (h->h2c.send_win <= 0) {
			SL_STAT_INC(w->stats.timeouts[SL_TO_SEND]);
			h2_refused(h, SL_H2_R_ZERO_WINDOW, 0,
				   "connection window shut past send_timeout");
			h2_fail(h, SL_H2F_ENHANCE_YOUR_CALM, "send_timeout");
		} else
			h->zwin_ms = 0;
	} else if (h->nopen == 0 && !(h->f & C2_SHUTDOWN) &&
		   now >= h->idle_ms + l->idle_timeout_ms) {
		SL_STAT_INC(w->stats.timeouts[SL_TO_IDLE]);
		h2_fail(h, SL_H2F_NO_ERROR, "idle_timeout");
	} else if ((h->f & C2_GOAWAY1) && !(h->f & C2_GOAWAY2) &&
		   now >= h->goaway_ms + GOAWAY_WAIT_MS) {
		return H2_DL_GOAWAY;
	}
	return H2_DL_NONE;
}
