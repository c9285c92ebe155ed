/* SPDX-License-Identifier: MIT */
/*
 * A client connection's first bytes, before HTTP: the PROXY protocol
 * header a balancer sends (doc/edge.md section 1: the client it names
 * becomes the connection's) and the TLS handshake (doc/tls.md), with their
 * refusals counted by reason and said at info. A codec of the connection
 * (client_codec.h) in its PROXY and HANDSHAKE states: the connection calls
 * it only through its table (sl_client_accept_codec, which the worker
 * gives it), and it calls down into client.c to close it, and sideways
 * into HTTP/1 (client_h1.c, which never calls it) to read the first bytes
 * of a plain PROXY listener and to move the connection on
 * (sl_client_accepted: HTTP/1, or HTTP/2 by ALPN).
 */
#include "client_accept.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "client_codec.h"
#include "h1_msg.h"
#include "log.h"
#include "proxyproto.h"
#include "runtime.h"
#include "tls.h"
#include "wloop.h"
#include "xprt.h"

/* "ADDR:PORT" of the connection's client, for its log lines. */
static const char *
peer_str(const struct sl_client *c, char *buf, size_t n)
{
	return sl_seam_peer_str(&c->s, NULL, buf, n);
}

/* ---- TLS handshake -------------------------------------------------------*/

/* A failed handshake: counted by reason, said at info (the caller
 * closes). */
static void
tls_failed(struct sl_client *c, enum sl_tls_fail f, const char *why)
{
	atomic_fetch_add(&c->s.lconf->counters->tls_failures[f], 1);
	if (sl_log_enabled(SL_LOG_INFO)) {
		char peer[SL_PEER_MAX];
		log_info("conn=%llu peer=%s listener=%s: TLS handshake "
			 "failed: %s (%s)",
			 (unsigned long long)c->s.id,
			 peer_str(c, peer, sizeof(peer)), c->s.lconf->name,
			 sl_tls_fail_str(f), why);
	}
}

/*
 * An HTTP request on a TLS port: a 400 in clear text, then a lingering
 * close, so that the client reads it instead of waiting for a handshake.
 */
static void
client_plain_http(struct sl_client *c, int head)
{
	char rid[SL_REQUEST_ID_MAX + 1], body[160], hdr[320];
	struct iovec iov[2];
	int nb, nh, want;

	tls_failed(c, SL_TLS_F_PLAIN_HTTP, "an HTTP request on a TLS listener");
	/* an error response like any other (contracts.md 3.1) */
	sl_worker_request_id(c->s.w, rid);
	nb = snprintf(body, sizeof(body),
		      "{\"error\":\"plain_http_on_tls_port\",\"status\":400,"
		      "\"request_id\":\"%s\"}\n",
		      rid);
	nh = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.1 400 Bad Request\r\nContent-Type: "
		      "application/json\r\nContent-Length: %d\r\n"
		      "X-Request-Id: %s\r\nConnection: close\r\n\r\n",
		      nb, rid);
	iov[0].iov_base = hdr;
	iov[0].iov_len = (size_t)nh;
	iov[1].iov_base = body;
	iov[1].iov_len = head ? 0 : (size_t)nb;
	/* small enough for any socket buffer; a short write is a client
	 * that is gone already */
	(void)sl_xprt(SL_XPRT_TCP)->sendv(c->fd, NULL, iov, 2, 0, &want);
	/* a refused request like the others: counted as a request and as
	 * a response, of the worker and of the listener */
	SL_STAT_INC(c->s.w->stats.requests);
	SL_STAT_INC(c->s.w->stats.responses[4]);
	{
		struct sl_counts *lc =
		    &c->s.lconf->counters->counts[c->s.w->id];
		SL_STAT_INC(lc->requests);
		SL_STAT_INC(lc->responses[4]);
	}
	sl_client_finish(c, "plain_http_on_tls_port", 1);
}

/*
 * Drives the handshake of a TLS client. Returns 1 when it is done (c is
 * IDLE, HTTP's: sl_client_accepted), 0 when it waits (interest set), -1
 * when c was closed.
 */
static int
client_handshake(struct sl_client *c)
{
	struct sl_lcstate *st = c->s.lconf->counters;
	char why[256];
	int want = 0, r;

	if (!(c->s.flags & C_F_TLS)) {
		unsigned char p[5];
		ssize_t n = recv(c->fd, p, sizeof(p), MSG_PEEK);
		unsigned char b = p[0];

		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			tls_failed(c, SL_TLS_F_CLOSED,
				   n == 0 ? "closed by the client"
					  : strerror(errno));
			sl_client_close(c, "client_closed_in_handshake");
			return -1;
		}
		if (n == -1)
			return 0; /* read interest is on */
		/* a TLS handshake record starts with 22; a request with a
		 * letter of its method */
		if (b != 22) {
			if (b >= 'A' && b <= 'Z') {
				client_plain_http(
				    c, n == 5 && memcmp(p, "HEAD ", 5) == 0);
				return -1;
			}
			tls_failed(c, SL_TLS_F_PROTOCOL, "not a TLS handshake");
			sl_client_close(c, "tls_handshake_failed");
			return -1;
		}
		if ((c->ssl = sl_tls_accept(&c->s.lconf->tls, c->fd)) == NULL) {
			sl_client_close(c, "out_of_memory");
			return -1;
		}
		c->s.flags |= C_F_TLS;
	}
	r = sl_tls_handshake(c->ssl, &want);
	if (r == 0) {
		sl_client_rev_wait(c, want);
		sl_client_want_read(c, 1);
		return 0;
	}
	if (r == -1) {
		enum sl_tls_fail f =
		    sl_tls_why_failed(c->ssl, why, sizeof(why));
		tls_failed(c, f, why);
		sl_client_close(c, f == SL_TLS_F_CLOSED
				       ? "client_closed_in_handshake"
				       : "tls_handshake_failed");
		return -1;
	}
	atomic_fetch_add(&st->tls_handshakes, 1);
	if (sl_tls_resumed(c->ssl))
		atomic_fetch_add(&st->tls_resumed, 1);
	/* for the listener's client_subject_header and the header rules'
	 * ${tls_client_subject} */
	if (c->s.lconf->tls.client_subject_header != NULL ||
	    c->s.lconf->wants_subject)
		c->s.tls_subject = sl_tls_peer_subject(c->ssl);
	if (sl_tls_peer_verified(c->ssl))
		c->s.flags |= SL_SEAM_F_PEER_CERT;
	sl_client_rev_wait(c, SL_TLS_WANT_READ);
	sl_client_set_state(c, SL_CLIENT_ST_IDLE);
	return 1;
}

/* ---- PROXY protocol ------------------------------------------------------*/

/* Close reasons, by enum sl_pp_error (static strings, as close needs). */
static const char *const pp_close_reason[SL_PP_NERRORS] = {
    "proxy_protocol_missing",	"proxy_protocol_untrusted",
    "proxy_protocol_version",	"proxy_protocol_malformed",
    "proxy_protocol_too_large", "proxy_protocol_truncated",
    "proxy_protocol_timeout",
};

/* A connection refused for its PROXY header (or the lack of one): counted
 * by reason, said at info like a failed TLS handshake, closed without a
 * word (nothing is known of its protocol). */
static void
pp_refuse(struct sl_client *c, enum sl_pp_error why)
{
	atomic_fetch_add(&c->s.lconf->counters->pp_errors[why], 1);
	if (sl_log_enabled(SL_LOG_INFO)) {
		char peer[SL_PEER_MAX];
		log_info("conn=%llu peer=%s listener=%s: PROXY protocol: %s, "
			 "connection closed",
			 (unsigned long long)c->s.id,
			 peer_str(c, peer, sizeof(peer)), c->s.lconf->name,
			 sl_pp_error_str(why));
	}
	sl_client_close(c, pp_close_reason[why]);
}

/*
 * A header was read: the client it names becomes the connection's for
 * everything (doc/edge.md section 1), counted against
 * max_connections_per_ip as the balancer's connection was not. Returns 0,
 * or -1 when c was closed (out of memory, past the per-address limit).
 */
static int
client_pp_accept(struct sl_client *c, const struct sl_pp_hdr *h)
{
	struct sl_lstate *st = c->s.lconf->state;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct sl_ip tcp;

	atomic_fetch_add(&c->s.lconf->counters->pp_accepted[h->local], 1);
	if (!h->local) {
		size_t alen = h->authority != NULL ? h->authority_len : 0;
		if ((c->s.pp = malloc(sizeof(*c->s.pp) + alen + 1)) == NULL) {
			sl_client_close(c, "out_of_memory");
			return -1;
		}
		memcpy(&c->s.pp->via, &c->s.peer, sizeof(c->s.pp->via));
		c->s.pp->authority_len = alen;
		memcpy(c->s.pp->authority,
		       h->authority != NULL ? h->authority : "", alen);
		c->s.pp->authority[alen] = '\0';
		(void)sl_ip_from_sockaddr((const struct sockaddr *)&c->s.peer,
					  &tcp);
		c->s.pp->via_shown = !sl_ip_eq(&tcp, &h->src);
		sl_ip_to_sockaddr(&h->src, h->sport, &ss, &sslen);
		memset(&c->s.peer, 0, sizeof(c->s.peer));
		memcpy(&c->s.peer, &ss,
		       SL_MIN((size_t)sslen, sizeof(c->s.peer)));
	}
	c->ip_slot =
	    sl_runtime_ip_take(st, (const struct sockaddr *)&c->s.peer,
			       c->s.lconf->limits.max_connections_per_ip);
	if (c->ip_slot == -1) {
		c->ip_slot = SL_RUNTIME_IP_UNCOUNTED;
		atomic_fetch_add(&c->s.lconf->counters->rejected_per_ip, 1);
		if (sl_log_enabled(SL_LOG_INFO)) {
			char peer[SL_PEER_MAX];
			log_info("conn=%llu peer=%s listener=%s: "
				 "max_connections_per_ip (%llu) reached: "
				 "connection closed",
				 (unsigned long long)c->s.id,
				 peer_str(c, peer, sizeof(peer)),
				 c->s.lconf->name,
				 (unsigned long long)
				     c->s.lconf->limits.max_connections_per_ip);
		}
		sl_client_close(c, "max_connections_per_ip");
		return -1;
	}
	return 0;
}

/*
 * A TLS listener: OpenSSL reads the socket itself once the handshake
 * starts, so not one byte past the header may be taken. What is there is
 * looked at (MSG_PEEK) and only the header's bytes are read; while the
 * header is incomplete everything there is part of it and is read (no
 * level-triggered loop on bytes left in the socket). A source not in
 * "from" has its first bytes looked at the same way: what is not a PROXY
 * header is left for the handshake. Returns 1 when the connection goes on
 * to its handshake, 0 when it waits, -1 when it was closed.
 */
static int
client_proxy_tls(struct sl_client *c)
{
	size_t have, total;
	enum sl_pp_error why;
	struct sl_pp_hdr h;
	ssize_t n;
	long r;

	if (sl_buf_alloc(&c->s.w->bufs, &c->s.in, SL_PP_MAX) == -1) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	have = c->s.in.len;
	n = recv(c->fd, c->s.in.data + have, SL_PP_MAX - have, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		if (c->s.flags & C_F_PP_SNIFF) {
			/* what the handshake would have said */
			tls_failed(c, SL_TLS_F_CLOSED,
				   n == 0 ? "closed by the client"
					  : strerror(errno));
			sl_client_close(c, "client_closed_in_handshake");
		} else if (n == 0 && have > 0)
			pp_refuse(c, SL_PP_E_TRUNCATED);
		else
			/* connected and gone: a balancer's TCP check */
			sl_client_close(c, n == 0 ? "client_closed"
						  : "client_read_error");
		return -1;
	}
	total = have + (size_t)n;
	if (c->s.flags & C_F_PP_SNIFF) {
		switch (sl_pp_detect(c->s.in.data, total)) {
		case SL_PP_AGAIN:
			break; /* read below: a PROXY prefix is no TLS */
		case SL_PP_NONE:
			if (have == 0) {
				c->s.flags &= ~C_F_PP_SNIFF;
				sl_buf_release(&c->s.w->bufs, &c->s.in);
				sl_client_set_state(c, SL_CLIENT_ST_HANDSHAKE);
				return 1;
			}
			/* the bytes read were not a TLS record either */
			if (c->s.in.data[0] >= 'A' && c->s.in.data[0] <= 'Z') {
				client_plain_http(c, 0);
				return -1;
			}
			tls_failed(c, SL_TLS_F_PROTOCOL, "not a TLS handshake");
			sl_client_close(c, "tls_handshake_failed");
			return -1;
		default:
			pp_refuse(c, SL_PP_E_UNTRUSTED);
			return -1;
		}
		r = 0;
	} else if ((r = sl_pp_parse(c->s.in.data, total,
				    c->s.lconf->proxy_protocol.versions, &h,
				    &why)) < 0) {
		pp_refuse(c, why);
		return -1;
	}
	/* the header's bytes (they were seen: the read takes them all),
	 * or all there is of an incomplete one */
	n = r > 0 ? r - (long)have : n;
	if (recv(c->fd, c->s.in.data + have, (size_t)n, 0) != n) {
		sl_client_close(c, "client_read_error");
		return -1;
	}
	SL_STAT_ADD(c->s.w->stats.client_bytes_in, (uint64_t)n);
	c->s.in.len = (uint32_t)(have + (size_t)n);
	if (r == 0)
		return 0;
	if (client_pp_accept(c, &h) == -1)
		return -1;
	sl_buf_release(&c->s.w->bufs, &c->s.in);
	/* the handshake goes on under the same deadline */
	sl_client_set_state(c, SL_CLIENT_ST_HANDSHAKE);
	return 1;
}

/*
 * The PROXY state of a plain HTTP listener: the bytes read into `in`, like
 * a request head, are a "from" source's header, or are checked for one
 * that another source may not send; the request that follows in the same
 * read is parsed from the same buffer. Returns 1 when the connection went
 * on (IDLE, bytes left in `in`), 0 when it waits for more, -1 when it was
 * closed.
 */
static int
client_proxy_scan(struct sl_client *c)
{
	enum sl_pp_error why;
	struct sl_pp_hdr h;
	const char *p;
	long r;

	if (c->s.in.data == NULL || sl_buf_pending(&c->s.in) == 0)
		return 0;
	p = c->s.in.data + c->s.in.off;
	if (c->s.flags & C_F_PP_SNIFF) {
		switch (sl_pp_detect(p, sl_buf_pending(&c->s.in))) {
		case SL_PP_AGAIN:
			return 0;
		case SL_PP_NONE:
			/* a request: on as without proxy_protocol, under the
			 * idle deadline set at accept */
			c->s.flags &= ~C_F_PP_SNIFF;
			sl_client_set_state(c, SL_CLIENT_ST_IDLE);
			return 1;
		default:
			pp_refuse(c, SL_PP_E_UNTRUSTED);
			return -1;
		}
	}
	r = sl_pp_parse(p, sl_buf_pending(&c->s.in),
			c->s.lconf->proxy_protocol.versions, &h, &why);
	if (r == 0)
		return 0;
	if (r < 0) {
		pp_refuse(c, why);
		return -1;
	}
	if (client_pp_accept(c, &h) == -1)
		return -1;
	c->s.in.off += (uint32_t)r;
	/* a new connection from here on: its first request, or idle */
	sl_client_set_state(c, SL_CLIENT_ST_IDLE);
	sl_timeq_set(c->s.w, &c->tnode, c->s.lconf->limits.idle_timeout_ms,
		     now_ms());
	return 1;
}

/* The end of the stream in the PROXY state (plain HTTP): inside a header,
 * or before one byte came (a balancer's TCP check: not an error). */
static void
client_proxy_eof(struct sl_client *c)
{
	int some = c->s.in.data != NULL && sl_buf_pending(&c->s.in) > 0;

	if (some && !(c->s.flags & C_F_PP_SNIFF))
		pp_refuse(c, SL_PP_E_TRUNCATED);
	else
		sl_client_close(c, some ? "client_closed_in_head"
					: "client_closed");
}

/* ---- the accept phase as the connection's codec ------------------------*/

static void
accept_on_read(struct sl_client *c)
{
	ssize_t n;
	int r;

	/* TLS: the PROXY header is read here, not one byte past it */
	if (c->state == SL_CLIENT_ST_PROXY && c->s.lconf->tls.ctx != NULL &&
	    client_proxy_tls(c) != 1)
		return;
	if (c->state == SL_CLIENT_ST_HANDSHAKE) {
		if (client_handshake(c) == 1)
			sl_client_accepted(c);
		return;
	}
	/* a plain listener's PROXY state: read as a head is */
	n = sl_client_read(c);
	if (n == -1)
		return;
	if (n == 0) {
		c->s.flags |= C_F_EOF;
		sl_client_want_read(c, 0);
		client_proxy_eof(c);
		return;
	}
	r = client_proxy_scan(c);
	if (r == 1)
		sl_client_accepted(c);
	else if (r == 0)
		sl_client_read_more(c);
}

static void
accept_on_deadline(struct sl_client *c)
{
	switch (c->state) {
	case SL_CLIENT_ST_PROXY:
		if (!(c->s.flags & C_F_PP_SNIFF)) {
			pp_refuse(c, SL_PP_E_TIMEOUT);
			return;
		}
		/* another source: the deadline is the one it would have had
		 * without proxy_protocol */
		if (c->s.lconf->tls.ctx == NULL) {
			SL_STAT_INC(c->s.w->stats.timeouts[SL_TO_IDLE]);
			sl_client_close(c, "idle_timeout");
			return;
		}
		/* FALLTHROUGH */
	case SL_CLIENT_ST_HANDSHAKE:
		/* header_timeout: a handshake is part of getting a head */
		tls_failed(c, SL_TLS_F_TIMEOUT,
			   "not done within header_timeout");
		sl_client_close(c, "tls_handshake_timeout");
		return;
	default:
		return;
	}
}

/* A drain: no request can have begun (a TLS handshake or a PROXY header
 * under way). */
static void
accept_drain(struct sl_client *c)
{
	sl_client_close(c, "draining");
}

static void
accept_retire(struct sl_client *c)
{
	sl_client_close(c, "listener_removed");
}

/* Nothing to write, no timer or state of its own, a reload changes
 * nothing of a PROXY header or a handshake. */
const struct sl_client_codec sl_client_accept_codec = {
    .on_read = accept_on_read,
    .on_deadline = accept_on_deadline,
    .drain = accept_drain,
    .retire = accept_retire,
};
