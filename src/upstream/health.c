/* SPDX-License-Identifier: MIT */
/*
 * Active health checks (health.h). One check per endpoint at a time: a
 * fresh connection, a GET of the configured path with Connection: close,
 * the response head read and checked as strictly as a proxied one, then
 * the connection closed. Every step has the check's timeout; the next
 * check starts one interval after the previous one started.
 */
#include "health.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf_types.h"
#include "h1_reader.h"
#include "health_h2.h"
#include "log.h"
#include "proxyproto.h"
#include "runtime.h"
#include "util.h"
#include "xprt.h"

/* The longest response head a check reads (the body is never read). */
#define HC_BUF 16384

enum hc_phase {
	HC_IDLE,       /* waiting for the next check */
	HC_CONNECTING, /* connect() in progress */
	HC_HANDSHAKE,  /* TLS: the handshake */
	HC_SENDING,    /* the request is being written */
	HC_READING,    /* the response head is being read */
};

/* The checker of one endpoint. */
struct hc {
	TAILQ_ENTRY(hc) link;
	struct sl_health *h;
	struct sl_epstate *st; /* shared with the workers; its key, "cluster
				  address", names the endpoint in logs */
	struct sockaddr_storage ss;
	socklen_t sslen;
	char ip[INET6_ADDRSTRLEN]; /* for TLS verification without sni */
	char *req;		   /* the GET, built once (owned) */
	size_t req_len;
	uint64_t interval_ms, timeout_ms;
	uint32_t healthy, unhealthy;
	uint64_t expect[8];
	enum hc_phase phase;
	int fd;
	const struct sl_tls_client *tls; /* the cluster's TLS, of the newest
					    generation; NULL: plain */
	SSL *ssl;
	struct event ev;  /* fd readable or writable, while a check runs */
	struct event tev; /* the next check, or the running one's timeout */
	uint64_t started_ms;
	size_t sent;
	char *buf; /* HC_BUF bytes while reading (owned) */
	size_t len;
	struct sl_health_streak streak;
	uint64_t fp; /* sl_health_check_fp of the settings in use */
	int mark;    /* seen by the current sl_health_apply */
	int pp;	     /* identity: the cluster sends PROXY headers; a check
			sends a LOCAL one (doc/edge.md section 2) */
	/* HTTP/2 clusters (health_h2.c): the check goes over HTTP/2, a GET
	 * of path or, with grpc_service, the gRPC health protocol */
	int h2;
	char *grpc_service; /* owned; NULL: a GET */
	char *authority;    /* owned: the endpoint's address */
	char *path;	    /* owned */
	struct sl_hc_h2 *x; /* the running check's session */
	const char *h2req;  /* its bytes (x's) */
	size_t h2req_len;
};

struct sl_health {
	struct event_base *base;
	TAILQ_HEAD(, hc) checks;
};

/* ---- pure parts -------------------------------------------------------- */

int
sl_health_expected(const uint64_t expect[8], int status)
{
	if (status < 100 || status > 599)
		return 0;
	return (expect[(status - 100) / 64] >> ((status - 100) % 64)) & 1;
}

enum sl_health_change
sl_health_note(struct sl_health_streak *s, int ok, uint32_t healthy,
	       uint32_t unhealthy)
{
	if (ok) {
		s->fail = 0;
		if (s->ok < UINT32_MAX)
			s->ok++;
		if (s->down && s->ok >= healthy) {
			s->down = 0;
			return SL_HEALTH_WENT_UP;
		}
	} else {
		s->ok = 0;
		if (s->fail < UINT32_MAX)
			s->fail++;
		if (!s->down && s->fail >= unhealthy) {
			s->down = 1;
			return SL_HEALTH_WENT_DOWN;
		}
	}
	return SL_HEALTH_SAME;
}

void
sl_health_rejudge(struct sl_health_streak *s, uint32_t healthy)
{
	s->fail = 0;
	s->ok = s->down && healthy > 0 ? healthy - 1 : 0;
}

/* FNV-1a over n bytes. */
static uint64_t
fp_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

uint64_t
sl_health_check_fp(const struct sl_conf_cluster *cc)
{
	const struct sl_conf_health *hh = &cc->health;
	uint64_t h = 1469598103934665603ull, tls;

	tls = cc->tls.ctx != NULL ? cc->tls.ctx->fp : 0;
	if (hh->path != NULL)
		h = fp_bytes(h, hh->path, strlen(hh->path) + 1);
	h = fp_bytes(h, &cc->proxy_protocol, sizeof(cc->proxy_protocol));
	h = fp_bytes(h, &hh->timeout_ms, sizeof(hh->timeout_ms));
	h = fp_bytes(h, hh->expect, sizeof(hh->expect));
	h = fp_bytes(h, &cc->protocol, sizeof(cc->protocol));
	if (hh->grpc_service != NULL)
		h = fp_bytes(h, hh->grpc_service, strlen(hh->grpc_service) + 1);
	return fp_bytes(h, &tls, sizeof(tls));
}

int
sl_health_response(const char *buf, size_t len, size_t cap, int *status,
		   const char **why)
{
	struct sl_h1_limits lim = {cap, cap, 100};
	struct sl_h1_header headers[100];
	struct sl_h1_rd_event ev;
	struct sl_h1_reader rd;

	sl_h1_reader_init(&rd, &lim, headers, SL_NELEM(headers), SL_M_GET,
			  SL_H1_RD_F_INTERIM | SL_H1_RD_F_DROP);
	/* the reader writes to buf only to unframe a body: a check's ends
	 * with its head */
	switch (sl_h1_reader_next(&rd, (char *)(uintptr_t)buf, len, 0, &ev)) {
	case SL_H1_RD_MORE:
		return 0;
	case SL_H1_RD_HEAD:
		*status = ev.resp->status;
		return 1;
	case SL_H1_RD_INTERIM:
		/* an interim answer to a GET nobody asked to continue */
		*why = "interim_response";
		return -1;
	default:
		*why = sl_h1_reason_str(ev.why);
		return -1;
	}
}

const char *
sl_health_error_str(enum sl_health_error e)
{
	static const char *const names[SL_HC_NERRORS] = {
	    "ok",	    "connect_failed",	 "timeout", "closed",
	    "bad_response", "unexpected_status", "tls",
	};

	return (unsigned)e < SL_HC_NERRORS ? names[e] : "?";
}

/* ---- one check ---------------------------------------------------------- */

/* The check's transport (xprt.h): TLS once it has its SSL, else TCP. */
#define XPRT(c) sl_xprt((c)->ssl != NULL ? SL_XPRT_TLS : SL_XPRT_TCP)

static void hc_on_io(evutil_socket_t fd, short what, void *arg);
static void hc_on_timer(evutil_socket_t fd, short what, void *arg);

static void
hc_arm(struct hc *c, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	event_add(&c->tev, &tv);
}

/* Ends the running check (if any): no socket, no buffer. */
static void
hc_stop(struct hc *c)
{
	if (c->fd != -1) {
		event_del(&c->ev);
		XPRT(c)->close(c->fd, c->ssl, 1);
		c->ssl = NULL;
		c->fd = -1;
	}
	free(c->buf);
	c->buf = NULL;
	c->len = c->sent = 0;
	c->phase = HC_IDLE;
	sl_hc_h2_free(c->x);
	c->x = NULL;
}

/* The check ended with err (and status when one came): record it, tell
 * the workers when the verdict changes, and wait for the next one. */
static void
hc_done(struct hc *c, enum sl_health_error err, int status, const char *detail)
{
	uint64_t now = sl_now_ms(), next;
	enum sl_health_change ch;

	hc_stop(c);
	atomic_store(&c->st->check_status, status);
	atomic_store(&c->st->check_error, (int)err);
	if (err == SL_HC_OK)
		atomic_fetch_add(&c->st->checks_ok, 1);
	else
		atomic_fetch_add(&c->st->checks_failed, 1);
	ch = sl_health_note(&c->streak, err == SL_HC_OK, c->healthy,
			    c->unhealthy);
	if (ch == SL_HEALTH_WENT_DOWN) {
		atomic_store(&c->st->unhealthy, 1);
		atomic_store(&c->st->health_since_ms, now);
		log_warnx("health: %s is down after %u failed checks in a row "
			  "(last: %s%s%s)",
			  c->st->key, c->streak.fail, sl_health_error_str(err),
			  detail ? ", " : "", detail ? detail : "");
	} else if (ch == SL_HEALTH_WENT_UP) {
		atomic_store(&c->st->unhealthy, 0);
		atomic_store(&c->st->health_since_ms, now);
		log_info("health: %s is up after %u passed checks in a row",
			 c->st->key, c->streak.ok);
	} else if (err != SL_HC_OK && sl_log_enabled(SL_LOG_DEBUG)) {
		log_debug("health: %s: check failed (%s%s%s)", c->st->key,
			  sl_health_error_str(err), detail ? ", " : "",
			  detail ? detail : "");
	}
	next = c->started_ms + c->interval_ms;
	hc_arm(c, next > now ? next - now : 0);
}

static void
hc_start(struct hc *c)
{
	int on = 1;

	c->started_ms = sl_now_ms();
	if (c->h2 && (c->x = sl_hc_h2_new(c->authority, c->path, c->tls != NULL,
					  c->grpc_service, &c->h2req,
					  &c->h2req_len)) == NULL) {
		log_warnx("health: %s: out of memory", c->st->key);
		hc_arm(c, c->interval_ms);
		return;
	}
	c->fd = socket(c->ss.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		/* out of descriptors is sluice's trouble, not the
		 * endpoint's: no verdict, try again next interval */
		log_warn("health: %s: socket", c->st->key);
		sl_hc_h2_free(c->x);
		c->x = NULL;
		hc_arm(c, c->interval_ms);
		return;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	event_assign(&c->ev, c->h->base, c->fd, EV_WRITE | EV_PERSIST, hc_on_io,
		     c);
	if (connect(c->fd, (const struct sockaddr *)&c->ss, c->sslen) == -1 &&
	    errno != EINPROGRESS) {
		hc_done(c, SL_HC_CONNECT, 0, strerror(errno));
		return;
	}
	c->phase = HC_CONNECTING;
	event_add(&c->ev, NULL);
	hc_arm(c, c->timeout_ms);
}

/* The running check waits for readability or writability. */
static void
hc_wait(struct hc *c, int want)
{
	short what = want == SL_TLS_WANT_WRITE ? EV_WRITE : EV_READ;

	if (event_get_events(&c->ev) == (what | EV_PERSIST))
		return;
	event_del(&c->ev);
	event_assign(&c->ev, c->h->base, c->fd, what | EV_PERSIST, hc_on_io, c);
	event_add(&c->ev, NULL);
}

/* What came on an HTTP/2 check (in c->buf): fed to its session, the
 * verdict once the answer is whole. Returns 1 when the check ended. */
static int
hc_read_h2(struct hc *c)
{
	struct sl_hc_h2_result res;
	const char *why = NULL;
	char d[48];
	int r = sl_hc_h2_input(c->x, c->buf, c->len, &res, &why);

	c->len = 0;
	if (r == 0)
		return 0;
	if (r < 0) {
		hc_done(c, SL_HC_BAD, 0, why);
		return 1;
	}
	if (c->grpc_service == NULL) {
		if (!sl_health_expected(c->expect, res.status)) {
			snprintf(d, sizeof(d), "status %d", res.status);
			hc_done(c, SL_HC_STATUS, res.status, d);
		} else {
			hc_done(c, SL_HC_OK, res.status, NULL);
		}
		return 1;
	}
	/* gRPC: 200, grpc-status 0 (OK) and SERVING */
	if (res.status != 200) {
		snprintf(d, sizeof(d), "status %d", res.status);
		hc_done(c, SL_HC_STATUS, res.status, d);
	} else if (res.grpc_status != 0) {
		snprintf(d, sizeof(d), "grpc-status %d", res.grpc_status);
		hc_done(c, SL_HC_STATUS, res.status, d);
	} else if (res.serving != 1) {
		static const char *const names[] = {
		    "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
		snprintf(d, sizeof(d), "%s",
			 res.serving >= 0 && res.serving <= 3
			     ? names[res.serving]
			     : "no serving status");
		hc_done(c, SL_HC_STATUS, res.status, d);
	} else {
		hc_done(c, SL_HC_OK, res.status, NULL);
	}
	return 1;
}

/* Reads what came; returns 1 when the check ended. */
static int
hc_read(struct hc *c)
{
	const char *why = NULL;
	ssize_t n;
	int status = 0, r, want;

	if (c->buf == NULL && (c->buf = malloc(HC_BUF)) == NULL) {
		hc_done(c, SL_HC_CLOSED, 0, "out of memory");
		return 1;
	}
	n = XPRT(c)->recv(c->fd, c->ssl, c->buf + c->len, HC_BUF - c->len,
			  &want);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		hc_wait(c, want);
		return 0;
	}
	if (n <= 0) {
		hc_done(c, SL_HC_CLOSED, 0, n == 0 ? NULL : strerror(errno));
		return 1;
	}
	c->len += (size_t)n;
	if (c->h2)
		return hc_read_h2(c);
	r = sl_health_response(c->buf, c->len, HC_BUF, &status, &why);
	if (r == 0)
		return 0;
	if (r < 0)
		hc_done(c, SL_HC_BAD, 0, why);
	else if (!sl_health_expected(c->expect, status)) {
		char d[32];
		snprintf(d, sizeof(d), "status %d", status);
		hc_done(c, SL_HC_STATUS, status, d);
	} else
		hc_done(c, SL_HC_OK, status, NULL);
	return 1;
}

/* A cluster that takes PROXY headers: the check's connection is sluice's
 * own, a LOCAL one (as a balancer's checks are), sent before anything
 * else. Returns 0, or -1 when the check ended. */
static int
hc_send_local(struct hc *c)
{
	unsigned char pp[SL_PP_V2_FIXED];
	size_t len = sl_pp_write_v2(pp, sizeof(pp), NULL, 0, NULL, 0);
	ssize_t n = send(c->fd, pp, len, MSG_NOSIGNAL);

	if (n != (ssize_t)len) {
		hc_done(c, SL_HC_CLOSED, 0,
			n == -1 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

static void
hc_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct hc *c = arg;
	socklen_t len = sizeof(int);
	int err = 0, want = 0;
	struct iovec iov;
	ssize_t n;
	char why[200];

	switch (c->phase) {
	case HC_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			hc_done(c, SL_HC_CONNECT, 0, strerror(err));
			return;
		}
		if (c->pp && hc_send_local(c) == -1)
			return;
		if (c->tls != NULL) {
			/* checked the way requests go: over TLS, with the
			 * cluster's verification */
			if ((c->ssl = sl_tls_connect(c->tls, c->fd, c->ip,
						     NULL)) == NULL) {
				hc_done(c, SL_HC_CONNECT, 0, "out of memory");
				return;
			}
			c->phase = HC_HANDSHAKE;
		} else
			c->phase = HC_SENDING;
		/* FALLTHROUGH */
	case HC_HANDSHAKE:
		if (c->phase == HC_HANDSHAKE) {
			int r = sl_tls_handshake(c->ssl, &want);
			if (r == 0) {
				hc_wait(c, want);
				return;
			}
			if (r == -1) {
				hc_done(c, SL_HC_TLS, 0,
					sl_tls_why(c->ssl, why, sizeof(why)));
				return;
			}
			if (c->h2 && !sl_tls_alpn_h2(c->ssl)) {
				hc_done(c, SL_HC_TLS, 0, "no h2 by ALPN");
				return;
			}
			c->phase = HC_SENDING;
		}
		/* FALLTHROUGH */
	case HC_SENDING:
		if (c->h2) {
			iov.iov_base = (void *)(uintptr_t)(c->h2req + c->sent);
			iov.iov_len = c->h2req_len - c->sent;
		} else {
			iov.iov_base = c->req + c->sent;
			iov.iov_len = c->req_len - c->sent;
		}
		n = XPRT(c)->sendv(c->fd, c->ssl, &iov, 1, 0, &want);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			hc_wait(c, want);
			return;
		}
		if (n == -1) {
			hc_done(c, SL_HC_CLOSED, 0, strerror(errno));
			return;
		}
		c->sent += (size_t)n;
		if (c->sent < (c->h2 ? c->h2req_len : c->req_len))
			return;
		hc_wait(c, SL_TLS_WANT_READ);
		c->phase = HC_READING;
		return;
	case HC_READING:
		(void)hc_read(c);
		return;
	case HC_IDLE:
		return;
	}
}

static void
hc_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hc *c = arg;
	char d[48];

	if (c->phase == HC_IDLE) {
		hc_start(c);
		return;
	}
	snprintf(d, sizeof(d), "no answer within %llu ms",
		 (unsigned long long)c->timeout_ms);
	hc_done(c, SL_HC_TIMEOUT, 0, d);
}

/* ---- the set of checks --------------------------------------------------- */

/* Takes the settings of cc's health_check for the endpoint ce. Returns 0
 * or -1 (out of memory: c keeps its old request). */
static int
hc_configure(struct hc *c, const struct sl_conf_cluster *cc,
	     const struct sl_conf_endpoint *ce)
{
	const struct sl_conf_health *hh = &cc->health;
	char *req;
	int n;

	n = snprintf(NULL, 0,
		     "GET %s HTTP/1.1\r\nHost: %s\r\n"
		     "User-Agent: sluice-health-check\r\n"
		     "Connection: close\r\n\r\n",
		     hh->path, ce->addr.text);
	if (n < 0 || (req = malloc((size_t)n + 1)) == NULL)
		return -1;
	snprintf(req, (size_t)n + 1,
		 "GET %s HTTP/1.1\r\nHost: %s\r\n"
		 "User-Agent: sluice-health-check\r\n"
		 "Connection: close\r\n\r\n",
		 hh->path, ce->addr.text);
	if (c->phase == HC_SENDING) {
		/* the running check keeps the request it is sending */
		free(req);
	} else {
		free(c->req);
		c->req = req;
		c->req_len = (size_t)n;
	}
	memcpy(&c->ss, &ce->addr.ss, sizeof(c->ss));
	c->sslen = ce->addr.sslen;
	c->tls = cc->tls.ctx;
	sl_addr_ip((const struct sockaddr *)&ce->addr.ss, c->ip, sizeof(c->ip));
	c->interval_ms = hh->interval_ms;
	c->timeout_ms = hh->timeout_ms;
	c->healthy = hh->healthy;
	c->unhealthy = hh->unhealthy;
	memcpy(c->expect, hh->expect, sizeof(c->expect));
	c->fp = sl_health_check_fp(cc);
	c->pp = cc->proxy_protocol != 0;
	if (c->phase == HC_IDLE) {
		/* (a running check keeps its session, which names them) */
		char *svc = hh->grpc_service ? strdup(hh->grpc_service) : NULL;
		char *auth = strdup(ce->addr.text), *path = strdup(hh->path);
		if (auth == NULL || path == NULL ||
		    (hh->grpc_service != NULL && svc == NULL)) {
			free(svc);
			free(auth);
			free(path);
			return -1;
		}
		free(c->grpc_service);
		free(c->authority);
		free(c->path);
		c->grpc_service = svc;
		c->authority = auth;
		c->path = path;
		c->h2 = cc->protocol != SL_UP_PROTO_HTTP1;
	}
	return 0;
}

static void
hc_free(struct hc *c)
{
	hc_stop(c);
	event_del(&c->tev);
	free(c->req);
	free(c->grpc_service);
	free(c->authority);
	free(c->path);
	free(c);
}

struct sl_health *
sl_health_new(struct event_base *base)
{
	struct sl_health *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->base = base;
	TAILQ_INIT(&h->checks);
	return h;
}

static struct hc *
hc_find(struct sl_health *h, const struct sl_epstate *st)
{
	struct hc *c;

	TAILQ_FOREACH(c, &h->checks, link)
	if (c->st == st)
		return c;
	return NULL;
}

/* The check of c changed (hc_configure took the new settings): the
 * verdict of the old one is not kept against the endpoint, and the new
 * one runs at once. */
static void
hc_rejudge(struct hc *c)
{
	if (c->streak.down)
		log_info("health: %s: the check changed; checking it now, "
			 "one pass brings it back",
			 c->st->key);
	sl_health_rejudge(&c->streak, c->healthy);
	hc_arm(c, 0);
}

/* Outlier ejection is earned by real traffic, which goes over the
 * cluster's TLS: when its settings or files change, errors earned under
 * the old ones (a wrong sni, an old CA) are forgotten. */
static void
outlier_carry(const struct sl_conf *conf)
{
	uint64_t now = sl_now_ms();

	for (size_t i = 0; i < conf->nclusters; i++) {
		const struct sl_conf_cluster *cc = &conf->clusters[i];
		uint64_t fp = cc->tls.ctx != NULL ? cc->tls.ctx->fp : 0;
		for (size_t j = 0; j < cc->nendpoints; j++) {
			struct sl_epstate *st = cc->endpoints[j].state;
			if (st->tls_seen && st->tls_fp != fp) {
				if (atomic_load(&st->ejected_until_ms) > now)
					log_info("outlier: cluster %s endpoint "
						 "%s: TLS settings changed, "
						 "ejection lifted",
						 cc->name,
						 cc->endpoints[j].addr.text);
				atomic_store(&st->ejected_until_ms, 0);
				atomic_store(&st->consecutive_errors, 0);
				atomic_store(&st->eject_streak, 0);
			}
			st->tls_fp = fp;
			st->tls_seen = 1;
		}
	}
}

int
sl_health_apply(struct sl_health *h, const struct sl_conf *conf)
{
	struct hc *c, *next;
	int rc = 0;

	outlier_carry(conf);
	TAILQ_FOREACH(c, &h->checks, link)
	c->mark = 0;
	for (size_t i = 0; i < conf->nclusters; i++) {
		const struct sl_conf_cluster *cc = &conf->clusters[i];
		if (!cc->health.enabled)
			continue;
		for (size_t j = 0; j < cc->nendpoints; j++) {
			const struct sl_conf_endpoint *ce = &cc->endpoints[j];
			if ((c = hc_find(h, ce->state)) != NULL) {
				uint64_t old = c->interval_ms;
				int changed = c->fp != sl_health_check_fp(cc);
				c->mark = 1;
				/* a check of the old settings says nothing
				 * of the new: no verdict from it */
				if (changed)
					hc_stop(c);
				if (hc_configure(c, cc, ce) == -1)
					rc = -1;
				if (changed) {
					hc_rejudge(c);
					continue;
				}
				/* a shorter interval takes effect now */
				if (c->phase == HC_IDLE && c->interval_ms < old)
					hc_arm(c, c->interval_ms);
				continue;
			}
			if ((c = calloc(1, sizeof(*c))) == NULL) {
				rc = -1;
				continue;
			}
			c->h = h;
			c->st = ce->state;
			c->fd = -1;
			c->mark = 1;
			if (hc_configure(c, cc, ce) == -1) {
				free(c);
				rc = -1;
				continue;
			}
			/* healthy until the checks say otherwise */
			atomic_store(&c->st->unhealthy, 0);
			evtimer_assign(&c->tev, h->base, hc_on_timer, c);
			TAILQ_INSERT_TAIL(&h->checks, c, link);
			hc_arm(c, 0);
		}
	}
	for (c = TAILQ_FIRST(&h->checks); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->mark)
			continue;
		/* no longer checked: nothing keeps it out */
		atomic_store(&c->st->unhealthy, 0);
		TAILQ_REMOVE(&h->checks, c, link);
		hc_free(c);
	}
	return rc;
}

void
sl_health_free(struct sl_health *h)
{
	struct hc *c;

	if (h == NULL)
		return;
	while ((c = TAILQ_FIRST(&h->checks)) != NULL) {
		TAILQ_REMOVE(&h->checks, c, link);
		hc_free(c);
	}
	free(h);
}
