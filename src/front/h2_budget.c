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
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "h2_int.h"
#include "log.h"
#include "runtime.h"

/* The second GOAWAY of a drain goes after the PING's answer, or this
 * long after the first. */
#define GOAWAY_WAIT_MS 1000
/* An idle connection gives its session's large pages back after this long
 * (a syscall: not at every idle moment of a busy connection). */
#define PARK_MS 1000

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
 * once it is written: set here, done at the end of the run.
 */
void
h2_fail(struct sl_h2conn *h, uint32_t code, const char *reason)
{
	if (h->dead != NULL)
		return;
	(void)nghttp2_session_terminate_session(h->ng, code);
	h->dead = reason;
	/* an error: what else the client sends is not read (a flood is
	 * not drained by a lingering close) */
	h->dead_now = code != NGHTTP2_NO_ERROR;
	h->f |= C2_AGAIN;
}

/* A frame sluice sends that nghttp2 made on its own (its protocol checks,
 * its refusal of streams over max_concurrent_streams): an RST_STREAM or a
 * GOAWAY with an error is a refusal; nghttp2's own GOAWAY ends the
 * connection (h->dead) without reading on. */
void
h2_refused_sent(struct sl_h2conn *h, const nghttp2_frame *frame)
{
	switch (frame->hd.type) {
	case NGHTTP2_RST_STREAM:
		if (frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM)
			h2_refused(h, SL_H2_R_TOO_MANY_STREAMS,
				   frame->hd.stream_id,
				   "over max_concurrent_streams");
		else if (frame->rst_stream.error_code != NGHTTP2_NO_ERROR)
			h2_refused(h, SL_H2_R_PROTOCOL, frame->hd.stream_id,
				   nghttp2_http2_strerror(
				       frame->rst_stream.error_code));
		break;
	case NGHTTP2_GOAWAY:
		if (frame->goaway.error_code != NGHTTP2_NO_ERROR &&
		    frame->goaway.error_code != NGHTTP2_ENHANCE_YOUR_CALM &&
		    h->dead == NULL) {
			/* nghttp2's own connection error: its debug data says
			 * which rule the client broke */
			char why[160], esc[200], e[256];
			size_t n = SL_MIN(frame->goaway.opaque_data_len,
					  sizeof(why) - 1);
			enum sl_h2_refusal r = SL_H2_R_PROTOCOL;

			/* nghttp2's own GOAWAY may carry no debug data */
			if (n > 0)
				memcpy(why, frame->goaway.opaque_data, n);
			why[n] = '\0';
			if (strstr(why, "CONTINUATION") != NULL)
				r = SL_H2_R_CONTINUATION;
			else if (strstr(why, "concurrent streams") != NULL)
				r = SL_H2_R_TOO_MANY_STREAMS;
			snprintf(
			    e, sizeof(e), "%s: %s",
			    nghttp2_http2_strerror(frame->goaway.error_code),
			    n > 0 ? sl_escape(esc, sizeof(esc), why, n) : "-");
			h2_refused(h, r, frame->goaway.last_stream_id, e);
			h->dead = "http2_protocol_error";
			h->dead_now = 1;
		}
		break;
	default:
		break;
	}
}

/* nghttp2 refused what the client sent (rv < 0 from mem_recv, with no
 * failure noted yet): the refusal it is, and the connection's GOAWAY. */
void
h2_recv_failed(struct sl_h2conn *h, ssize_t rv)
{
	enum sl_h2_refusal r = SL_H2_R_PROTOCOL;
	uint32_t code = NGHTTP2_PROTOCOL_ERROR;
	const char *what = nghttp2_strerror((int)rv);
	if (rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
		r = SL_H2_R_CONTINUATION;
		code = NGHTTP2_ENHANCE_YOUR_CALM;
	} else if (h->f & C2_BOMB) {
		r = SL_H2_R_HPACK_BOMB;
		code = NGHTTP2_ENHANCE_YOUR_CALM;
		what = "a header block decoding past twice "
		       "max_header_list_bytes";
	} else if (rv == NGHTTP2_ERR_FLOODED ||
		   rv == NGHTTP2_ERR_TOO_MANY_SETTINGS) {
		r = SL_H2_R_SETTINGS_FLOOD;
		code = NGHTTP2_ENHANCE_YOUR_CALM;
	}
	h2_refused(h, r, 0, what);
	h2_fail(h, code,
		code == NGHTTP2_ENHANCE_YOUR_CALM ? "http2_enhance_your_calm"
						  : "http2_protocol_error");
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
	h2_fail(h, NGHTTP2_ENHANCE_YOUR_CALM, "http2_enhance_your_calm");
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

/*
 * A HEADERS frame's stream id (RFC 9113 section 5.1.1): a new stream's id
 * must be greater than every one the client began, and one it skipped is
 * closed for good. nghttp2 keeps no closed stream and ignores a HEADERS
 * below the last id (it cannot tell a trailer that crossed an RST_STREAM
 * from a stream the client never began); the ids of the last 64 streams
 * begun tell them apart: one of those is a closed stream's (ignored, as
 * nghttp2 does), one between them that was never begun is a connection
 * error. Returns -1 when the connection fails.
 */
static int
ids_check(struct sl_h2conn *h, int32_t id)
{
	uint32_t back;

	if (id <= 0 || (id & 1) == 0)
		return 0; /* nghttp2's own errors */
	if (id > h->max_id) {
		back = (uint32_t)(id - h->max_id) / 2;
		h->ids = back >= 64 ? 0 : h->ids << back;
		h->ids |= 1;
		h->max_id = id;
		return 0;
	}
	if (nghttp2_session_find_stream(h->ng, id) != NULL)
		return 0; /* a trailer of an open stream */
	back = (uint32_t)(h->max_id - id) / 2;
	if (back >= 64 || (h->ids >> back) & 1)
		return 0;
	h2_refused(h, SL_H2_R_PROTOCOL, id,
		   "HEADERS for a stream id below the last one begun");
	h2_fail(h, NGHTTP2_PROTOCOL_ERROR, "http2_protocol_error");
	return -1;
}

/* nghttp2's on_begin_frame callback: each frame pays its budget before
 * it is read. */
int
h2_on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *ud)
{
	struct sl_h2conn *h = H2_OF_SESSION(ud);

	switch (hd->type) {
	case NGHTTP2_DATA:
		if (hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM))
			h2_calm_spend(h, SL_H2_R_EMPTY_FRAMES, 1);
		break;
	case NGHTTP2_HEADERS:
		if (ids_check(h, hd->stream_id) == -1)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		break;
	case NGHTTP2_PRIORITY:
		h2_calm_spend(h, SL_H2_R_PRIORITY_FLOOD, 1);
		break;
	case NGHTTP2_RST_STREAM:
		/* charged when it arrives: early resets are rapid_reset's,
		 * resets of streams gone already reset_flood's */
		break;
	case NGHTTP2_SETTINGS:
		h2_calm_spend(h, SL_H2_R_SETTINGS_FLOOD, 1);
		break;
	case NGHTTP2_PING:
		if (hd->flags & NGHTTP2_FLAG_ACK)
			h2_calm_spend(h, SL_H2_R_PING_FLOOD, 1);
		else
			flow_spend(h, SL_H2_R_PING_FLOOD);
		break;
	case NGHTTP2_WINDOW_UPDATE:
		flow_spend(h, SL_H2_R_WINDOW_FLOOD);
		break;
	case NGHTTP2_CONTINUATION:
		if (hd->length == 0)
			h2_calm_spend(h, SL_H2_R_EMPTY_FRAMES, 1);
		break;
	default:
		h2_calm_spend(h, SL_H2_R_EMPTY_FRAMES, 1);
		break;
	}
	return h->dead != NULL ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
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
		h2_fail(h, NGHTTP2_ENHANCE_YOUR_CALM,
			"http2_enhance_your_calm");
	}
}

/* ---- deadlines: the connection's time budgets -------------------------- */

/* Arms the connection's timer for its nearest deadline. */
void
h2_schedule(struct sl_h2conn *h)
{
	const struct sl_conf_limits *l = &h->c->s.lconf->limits;
	uint64_t d = UINT64_MAX;

	if (h->f & C2_CLOSING)
		d = SL_MIN(d, h->closing_ms + l->send_timeout_ms);
	if (!(h->f & C2_PREFACE))
		d = SL_MIN(d, h->start_ms + l->header_timeout_ms);
	if (h->hs != NULL && h->hdr_block_ms != 0)
		d = SL_MIN(d, h->hdr_block_ms + l->header_timeout_ms);
	if (h->nopen == 0 && !(h->f & C2_SHUTDOWN))
		d = SL_MIN(d, h->idle_ms + l->idle_timeout_ms);
	if (h->nopen == 0 && !(h->f & C2_PARKED))
		d = SL_MIN(d, h->idle_ms + PARK_MS);
	if (h->wblock_ms != 0)
		d = SL_MIN(d, h->wblock_ms + l->send_timeout_ms);
	if (h->zwin_ms != 0)
		d = SL_MIN(d, h->zwin_ms + l->send_timeout_ms);
	if ((h->f & C2_GOAWAY1) && !(h->f & C2_GOAWAY2))
		d = SL_MIN(d, h->goaway_ms + GOAWAY_WAIT_MS);
	if (d == UINT64_MAX)
		d = 0;
	/* a timer armed for earlier stays: it fires, finds nothing due and
	 * arms again (a connection's deadlines move at every stream; this
	 * saves an event_del and an event_add each time) */
	if (d == h->armed_ms ||
	    (h->armed_ms != 0 && (d == 0 || d > h->armed_ms)))
		return;
	h->armed_ms = d;
	{
		uint64_t now = now_ms(), ms = d > now ? d - now : 0;
		struct timeval tv = {(time_t)(ms / 1000),
				     (suseconds_t)(ms % 1000) * 1000};
		event_add(&h->tev, &tv);
	}
}

/*
 * The deadline due at now, but for the last frames' (C2_CLOSING, h2.c's):
 * one past its budget is counted and refused (h->dead, or h2_fail's
 * GOAWAY); the drain's last GOAWAY and an idle connection's parking are
 * the caller's (H2_DL_GOAWAY, H2_DL_PARK). Returns H2_DL_NONE otherwise.
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
		h2_fail(h, NGHTTP2_ENHANCE_YOUR_CALM, "header_timeout");
	} else if (h->wblock_ms != 0 &&
		   now >= h->wblock_ms + l->send_timeout_ms) {
		SL_STAT_INC(w->stats.timeouts[SL_TO_SEND]);
		h->dead = "send_timeout";
		h->dead_abort = 1;
	} else if (h->zwin_ms != 0 && now >= h->zwin_ms + l->send_timeout_ms) {
		if (nghttp2_session_get_remote_window_size(h->ng) <= 0) {
			SL_STAT_INC(w->stats.timeouts[SL_TO_SEND]);
			h2_refused(h, SL_H2_R_ZERO_WINDOW, 0,
				   "connection window shut past send_timeout");
			h2_fail(h, NGHTTP2_ENHANCE_YOUR_CALM, "send_timeout");
		} else
			h->zwin_ms = 0;
	} else if (h->nopen == 0 && !(h->f & C2_SHUTDOWN) &&
		   now >= h->idle_ms + l->idle_timeout_ms) {
		SL_STAT_INC(w->stats.timeouts[SL_TO_IDLE]);
		h2_fail(h, NGHTTP2_NO_ERROR, "idle_timeout");
	} else if ((h->f & C2_GOAWAY1) && !(h->f & C2_GOAWAY2) &&
		   now >= h->goaway_ms + GOAWAY_WAIT_MS) {
		return H2_DL_GOAWAY;
	} else if (h->nopen == 0 && !(h->f & C2_PARKED) &&
		   now >= h->idle_ms + PARK_MS) {
		return H2_DL_PARK;
	}
	return H2_DL_NONE;
}
