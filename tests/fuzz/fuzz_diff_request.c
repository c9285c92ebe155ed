/* SPDX-License-Identifier: MIT */
/*
 * Differential libFuzzer driver: the same bytes to sluice's request parser
 * (scanner, head parser, body framing and chunked decoder, as exchange.c
 * chains them) and to llhttp in strict mode, built from Debian's
 * node-llhttp sources (/usr/share/llhttp) for this target only. Fails when
 * the two disagree on accepting the first request, on its body framing, on
 * its body bytes, or on where it ends, except for the deliberate
 * differences listed in doc/design-notes.md ("Differential parsing"), which
 * diff_allowed() below encodes one by one.
 *
 * Built with -DDIFF_RESPONSE it does the same for responses (to a GET).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "h1_parse.h"
#include "llhttp.h"

#define NHDR	 64
#define MAX_BODY 65536

enum verdict { V_INCOMPLETE, V_ACCEPT, V_REJECT };
enum framing { FR_NONE, FR_LENGTH, FR_CHUNKED, FR_CLOSE };

struct outcome {
	enum verdict v;
	enum framing f;
	size_t end; /* where the message ends (V_ACCEPT) */
	size_t body_len;
	int body_overflow;
	int why;      /* sluice: enum sl_h1_reason; llhttp: llhttp_errno */
	int upgrade;  /* llhttp: the connection would be handed over */
	int minor;    /* HTTP/1.minor of an accepted head */
	int status;   /* responses */
	int head_end; /* where the head ends, 0 if unknown */
	char body[MAX_BODY]; /* last: outcome_clear() stops before it */
};

/* Clears everything but the body bytes (64 KiB, overwritten as needed). */
static void
outcome_clear(struct outcome *o)
{
	memset(o, 0, offsetof(struct outcome, body));
}

static struct outcome so, lo;

/* ---- sluice ----------------------------------------------------------- */

static void
sluice_parse(const char *buf, size_t len, struct outcome *o)
{
	static const struct sl_h1_limits lim = {65536, 65536, NHDR};
	struct sl_h1_header h[NHDR];
	struct sl_h1_scan scan;
	struct sl_h1_chunked ch;
	static char copy[65536 + 1];
	enum sl_h1_body body;
	uint64_t cl;
	long hlen;
	int r;

	outcome_clear(o);
	sl_h1_scan_init(&scan);
#ifdef DIFF_RESPONSE
	hlen = sl_h1_scan_head(&scan, buf, len, &lim, 0);
#else
	hlen = sl_h1_scan_head(&scan, buf, len, &lim, 1);
#endif
	if (hlen == 0) {
		o->v = V_INCOMPLETE;
		return;
	}
	if (hlen < 0) {
		o->v = V_REJECT;
		o->why = (int)scan.why;
		return;
	}
	o->head_end = (int)hlen;
#ifdef DIFF_RESPONSE
	{
		struct sl_h1_response resp;

		memset(&resp, 0, sizeof(resp));
		resp.headers = h;
		resp.max_headers = NHDR;
		r = sl_h1_parse_response(buf, (size_t)hlen, &resp, SL_M_GET);
		if (r == 0 && resp.status == 101) {
			/* exchange.c: an upgrade nobody asked for */
			r = -502;
			resp.why = SL_H1_R_BAD_STATUS;
		}
		if (r != 0) {
			o->v = V_REJECT;
			o->why = (int)resp.why;
			return;
		}
		if (resp.status < 200) {
			/* an interim response: a message of its own */
			o->v = V_ACCEPT;
			o->f = FR_NONE;
			o->end = (size_t)hlen;
			o->status = resp.status;
			return;
		}
		o->status = resp.status;
		o->minor = resp.minor;
		body = resp.body;
		cl = resp.content_length;
	}
#else
	{
		struct sl_h1_request req;

		memset(&req, 0, sizeof(req));
		req.headers = h;
		req.max_headers = NHDR;
		r = sl_h1_parse_request(buf, (size_t)hlen, &req, &lim);
		if (r != 0) {
			o->v = V_REJECT;
			o->why = (int)req.why;
			return;
		}
		o->minor = req.minor;
		body = req.body;
		cl = req.content_length;
	}
#endif
	switch (body) {
	case SL_H1_BODY_NONE:
		o->v = V_ACCEPT;
		o->f = FR_NONE;
		o->end = (size_t)hlen;
		return;
	case SL_H1_BODY_LENGTH:
		o->f = FR_LENGTH;
		if (cl > len - (size_t)hlen) {
			o->v = V_INCOMPLETE;
			return;
		}
		o->v = V_ACCEPT;
		o->end = (size_t)hlen + (size_t)cl;
		o->body_len = (size_t)cl < MAX_BODY ? (size_t)cl : MAX_BODY;
		o->body_overflow = (size_t)cl > MAX_BODY;
		memcpy(o->body, buf + hlen, o->body_len);
		return;
	case SL_H1_BODY_CLOSE:
	case SL_H1_BODY_STREAM: /* never from a parser: a codec's mark */
		o->f = FR_CLOSE;
		o->v = V_INCOMPLETE; /* ends with the connection */
		o->body_len = len - (size_t)hlen < MAX_BODY ? len - (size_t)hlen
							    : MAX_BODY;
		memcpy(o->body, buf + hlen, o->body_len);
		return;
	case SL_H1_BODY_CHUNKED: {
		size_t consumed, data;

		o->f = FR_CHUNKED;
		/* the decoder compacts in place: a copy */
		memcpy(copy, buf + hlen, len - (size_t)hlen);
		sl_h1_chunked_init(&ch, lim.max_header_bytes);
		r = sl_h1_chunked_decode(&ch, copy, len - (size_t)hlen, 1,
					 &consumed, &data);
		if (r < 0) {
			o->v = V_REJECT;
			o->why = (int)ch.why;
			return;
		}
		if (r == 0) {
			o->v = V_INCOMPLETE;
			return;
		}
		o->v = V_ACCEPT;
		o->end = (size_t)hlen + consumed;
		o->body_len = data < MAX_BODY ? data : MAX_BODY;
		o->body_overflow = data > MAX_BODY;
		memcpy(o->body, copy, o->body_len);
		return;
	}
	}
	abort();
}

/* ---- llhttp ----------------------------------------------------------- */

static int
on_body(llhttp_t *p, const char *at, size_t n)
{
	struct outcome *o = p->data;
	size_t k = n;

	if (o->body_len + k > MAX_BODY) {
		k = MAX_BODY - o->body_len;
		o->body_overflow = 1;
	}
	memcpy(o->body + o->body_len, at, k);
	o->body_len += k;
	return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
	struct outcome *o = p->data;

	if (p->flags & F_CHUNKED)
		o->f = FR_CHUNKED;
	else if (p->flags & F_CONTENT_LENGTH)
		o->f = p->content_length > 0 ? FR_LENGTH : FR_NONE;
	else
		o->f = FR_NONE;
	o->minor = p->http_minor;
	o->status = p->status_code;
	return 0;
}

static int
on_message_complete(llhttp_t *p)
{
	struct outcome *o = p->data;

	o->v = V_ACCEPT;
	return HPE_PAUSED; /* the first message only */
}

static void
llhttp_parse(const char *buf, size_t len, struct outcome *o)
{
	llhttp_settings_t st;
	llhttp_t p;
	llhttp_errno_t e;

	outcome_clear(o);
	o->v = V_INCOMPLETE;
	llhttp_settings_init(&st);
	st.on_body = on_body;
	st.on_headers_complete = on_headers_complete;
	st.on_message_complete = on_message_complete;
#ifdef DIFF_RESPONSE
	llhttp_init(&p, HTTP_RESPONSE, &st);
#else
	llhttp_init(&p, HTTP_REQUEST, &st);
#endif
	p.data = o;
	e = llhttp_execute(&p, buf, len);
	if (e == HPE_PAUSED && o->v == V_ACCEPT) {
		o->end = (size_t)(llhttp_get_error_pos(&p) - buf);
		return;
	}
	if (e == HPE_PAUSED_UPGRADE) {
		o->v = V_ACCEPT;
		o->upgrade = 1;
		o->end = (size_t)(llhttp_get_error_pos(&p) - buf);
		return;
	}
	if (e != HPE_OK) {
		o->v = V_REJECT;
		o->why = (int)e;
		return;
	}
	if (o->v == V_ACCEPT)
		o->end = len;
#ifdef DIFF_RESPONSE
	/* a body delimited by the end of the connection */
	if (o->v == V_INCOMPLETE && o->f == FR_NONE && p.finish == 1 /*
		 HTTP_FINISH_SAFE_WITH_CB */)
		o->f = FR_CLOSE;
#endif
}

/* ---- the differences that are on purpose -------------------------------- */

/* Moves buf past the empty lines a request may start with (RFC 9112
 * section 2.2): the request line. */
static void
skip_empty_lines(const char **buf, size_t *len)
{
	while (*len >= 2 && (*buf)[0] == '\r' && (*buf)[1] == '\n') {
		*buf += 2;
		*len -= 2;
	}
}

/* Whether the request line's method is m. */
static int
method_is(const char *buf, size_t len, const char *m)
{
	size_t n = strlen(m);

	skip_empty_lines(&buf, &len);
	return len > n && memcmp(buf, m, n) == 0 && buf[n] == ' ';
}

#ifndef DIFF_RESPONSE
/* Whether the request line's method is one llhttp takes for RTSP's (it
 * then wants "RTSP/" where the version is). */
static int
rtsp_method(const char *buf, size_t len)
{
	static const char *const m[] = {
	    "ANNOUNCE", "DESCRIBE",	 "FLUSH",    "GET_PARAMETER",
	    "PAUSE",	"PLAY",		 "RECORD",   "REDIRECT",
	    "SETUP",	"SET_PARAMETER", "TEARDOWN",
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (method_is(buf, len, m[i]))
			return 1;
	return 0;
}
#endif

/* An HTTP/1.x start line with x > 1 (checked on the first line). */
static int
minor_above_1(const char *buf, size_t len)
{
#ifdef DIFF_RESPONSE
	return len > 8 && memcmp(buf, "HTTP/1.", 7) == 0 && buf[7] >= '2' &&
	       buf[7] <= '9';
#else
	const char *e;

	skip_empty_lines(&buf, &len);
	e = memchr(buf, '\r', len);

	return e != NULL && e - buf >= 8 && memcmp(e - 8, "HTTP/1.", 7) == 0 &&
	       e[-1] >= '2' && e[-1] <= '9';
#endif
}

/* A chunk extension (a ";" after the head). */
static int
chunk_ext(const char *buf, size_t len)
{
	return so.head_end > 0 && (size_t)so.head_end < len &&
	       memchr(buf + so.head_end, ';', len - (size_t)so.head_end) !=
		   NULL;
}

/*
 * Is a disagreement one of the documented deliberate differences? Each
 * case names its entry in doc/design-notes.md ("Differential parsing").
 */
static int
diff_allowed(const char *buf, size_t len)
{
	/* D1: sluice stricter on purpose: it refuses, by one of these rules,
	 * what llhttp takes (or has not finished judging). */
	if (so.v == V_REJECT && lo.v != V_REJECT) {
		switch (so.why) {
		case SL_H1_R_BARE_LF:			    /* D1.1 */
		case SL_H1_R_BARE_CR:			    /* D1.1 */
		case SL_H1_R_OBS_FOLD:			    /* D1.2 */
		case SL_H1_R_BAD_REQUEST_LINE:		    /* D1.3 */
		case SL_H1_R_BAD_TARGET:		    /* D1.4 */
		case SL_H1_R_VERSION:			    /* D1.5 */
		case SL_H1_R_BAD_VERSION:		    /* D1.3 */
		case SL_H1_R_BAD_FIELD_NAME:		    /* D1.6 */
		case SL_H1_R_BAD_FIELD_VALUE:		    /* D1.6 */
		case SL_H1_R_BAD_TRAILER:		    /* D1.6 */
		case SL_H1_R_MISSING_HOST:		    /* D1.7 */
		case SL_H1_R_DUP_HOST:			    /* D1.7 */
		case SL_H1_R_BAD_HOST:			    /* D1.7 */
		case SL_H1_R_BAD_CONTENT_LENGTH:	    /* D1.8 */
		case SL_H1_R_DUP_CONTENT_LENGTH:	    /* D1.8 */
		case SL_H1_R_TE_IN_HTTP10:		    /* D1.9 */
		case SL_H1_R_BAD_TRANSFER_ENCODING:	    /* D1.9 */
		case SL_H1_R_UNSUPPORTED_TRANSFER_ENCODING: /* D1.9 */
		case SL_H1_R_BAD_CONNECTION:		    /* D1.10 */
		case SL_H1_R_UNSUPPORTED_EXPECT:	    /* D1.11 */
		case SL_H1_R_CONNECT_METHOD:		    /* D1.12 */
		case SL_H1_R_BAD_CHUNK_SIZE:		    /* D1.13 */
		case SL_H1_R_BAD_CHUNK_EXT:		    /* D1.13 */
		case SL_H1_R_FORBIDDEN_TRAILER:		    /* D1.14 */
		case SL_H1_R_NUL_BYTE:			    /* D1.15 */
		case SL_H1_R_BAD_STATUS_LINE:		    /* D1.16 */
		case SL_H1_R_BAD_STATUS:		    /* D1.16 */
		case SL_H1_R_FRAMING_WITHOUT_BODY:	    /* D1.17 */
		case SL_H1_R_URI_TOO_LONG:		    /* D1.18 */
		case SL_H1_R_HEAD_TOO_LARGE:		    /* D1.18 */
		case SL_H1_R_TOO_MANY_HEADERS:		    /* D1.18 */
		case SL_H1_R_TRAILER_TOO_LARGE:		    /* D1.18 */
			return 1;
		default:
			return 0;
		}
	}
	/* D2: llhttp stricter, or different, on purpose of its own */
	if (lo.v == V_REJECT && so.v == V_ACCEPT) {
		/* D2.1: HTTP/1.2 and up is HTTP/1.1 to sluice (RFC 9112
		 * section 2.3); llhttp refuses it */
		if (lo.why == HPE_INVALID_VERSION && minor_above_1(buf, len))
			return 1;
		/* D2.2: llhttp knows a fixed list of methods; sluice takes
		 * any token (RFC 9110 section 9.1) */
		if (lo.why == HPE_INVALID_METHOD)
			return 1;
#ifndef DIFF_RESPONSE
		/* D2.8: llhttp reads PLAY, SETUP, TEARDOWN and RTSP's other
		 * methods as RTSP requests and refuses an HTTP version after
		 * them; to sluice they are tokens like any other method */
		if (lo.why == HPE_INVALID_CONSTANT && rtsp_method(buf, len))
			return 1;
#endif
		/* D2.7: llhttp reads a PRI request line only as HTTP/2's
		 * connection preface (PRI * HTTP/2.0); to sluice PRI is a
		 * token like any other method, and HTTP/2.0 a 505 */
		if (lo.why == HPE_INVALID_VERSION && method_is(buf, len, "PRI"))
			return 1;
		/* D2.6: chunk extensions: BWS around ";" and "=", names
		 * and values of any token, are in RFC 9112 section 7.1.1's
		 * grammar; llhttp's strict mode refuses some */
		if ((lo.why == HPE_STRICT ||
		     lo.why == HPE_INVALID_CHUNK_SIZE) &&
		    so.f == FR_CHUNKED && chunk_ext(buf, len))
			return 1;
#ifdef DIFF_RESPONSE
		/* D2.3: identical duplicate Content-Length fields in a
		 * response are one (RFC 9110 section 8.6); sluice refuses
		 * them in requests, where a client has no excuse */
		if (lo.why == HPE_UNEXPECTED_CONTENT_LENGTH)
			return 1;
		/* D2.5: OWS after a Content-Length value is not part of it
		 * (RFC 9112 section 5); llhttp refuses a tab there */
		if (lo.why == HPE_INVALID_CONTENT_LENGTH)
			return 1;
#endif
	}
#ifdef DIFF_RESPONSE
	/* D2.4: a 304 has no content whatever its framing fields say (RFC
	 * 9112 section 6.3); llhttp reads a chunked body after one */
	if (so.v == V_ACCEPT && so.status == 304)
		return 1;
#endif
	/* D3: llhttp hands an upgraded connection over after the head;
	 * sluice never upgrades (it drops Upgrade) and frames the message
	 * as usual: only the verdict on the head is compared. */
	if (lo.upgrade && so.v != V_REJECT)
		return 1;
	return 0;
}

static void
report(const char *what)
{
	fprintf(stderr,
		"differential: %s\n"
		"  sluice: verdict %d framing %d end %zu body %zu why %s\n"
		"  llhttp: verdict %d framing %d end %zu body %zu why %s "
		"upgrade %d\n",
		what, so.v, so.f, so.end, so.body_len,
		so.v == V_REJECT ? sl_h1_reason_str(so.why) : "-", lo.v, lo.f,
		lo.end, lo.body_len,
		lo.v == V_REJECT ? llhttp_errno_name(lo.why) : "-", lo.upgrade);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	if (size > 65536)
		return 0;
	sluice_parse(buf, size, &so);
	llhttp_parse(buf, size, &lo);
	/* One judged and the other is still waiting for bytes: llhttp
	 * judges a head byte by byte, sluice once it is complete. Complete
	 * the message with an empty line and ask the one that waits again:
	 * only if it then accepts do the two disagree. */
	if ((so.v == V_INCOMPLETE) != (lo.v == V_INCOMPLETE)) {
		static char ext[65536 + 4];

		memcpy(ext, buf, size);
		memcpy(ext + size, "\r\n\r\n", 4);
		if (so.v == V_INCOMPLETE) {
			sluice_parse(ext, size + 4, &so);
			if (so.v != V_ACCEPT)
				return 0;
		} else {
			llhttp_parse(ext, size + 4, &lo);
			if (lo.v != V_ACCEPT)
				return 0;
		}
		if (so.v == V_ACCEPT && lo.v == V_ACCEPT)
			return 0; /* the ends were made up */
	}

	if (so.v == V_INCOMPLETE && lo.v == V_INCOMPLETE)
		return 0;
	if ((so.v == V_REJECT) != (lo.v == V_REJECT)) {
		if (!diff_allowed(buf, size))
			report("accept or reject");
		return 0;
	}
	if (so.v == V_REJECT)
		return 0;
	if (so.v != lo.v) {
		if (!diff_allowed(buf, size))
			report("complete or not");
		return 0;
	}
	if ((lo.upgrade || so.status == 304) && diff_allowed(buf, size))
		return 0;
	if (so.f != lo.f)
		report("body framing");
	if (so.end != lo.end)
		report("end of the message");
	if (so.body_len != lo.body_len ||
	    so.body_overflow != lo.body_overflow ||
	    memcmp(so.body, lo.body, so.body_len) != 0)
		report("body bytes");
	return 0;
}
