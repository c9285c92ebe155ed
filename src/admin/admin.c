/* SPDX-License-Identifier: MIT */
/*
 * Admin HTTP endpoint on the main thread: the listener, its connections
 * (over TLS with admin.tls), admin.auth's credentials, /healthz, /readyz,
 * and the status page's files. Requests are tiny and answered whole, then
 * the connection closes: simplicity over speed, since only operators and
 * scrapers call it. /metrics is admin_metrics.c's, /config
 * admin_config.c's, /status and its history admin_status.c's.
 */
#include "admin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin_int.h"
#include "conf.h"
#include "h1_parse.h"
#include "log.h"
#include "runtime.h"
#include "tls.h"
#include "util.h"

#define ADMIN_HEAD_MAX	      4096
#define ADMIN_TIMEOUT_S	      5	    /* a write's, from its last progress */
#define ADMIN_HEAD_TIMEOUT_MS 10000 /* the handshake and the head, in all */
#define ADMIN_MAX_CONNS	      64
#define ADMIN_MAX_PER_ADDR    8 /* of one client address */

struct admin_conn {
	struct sl_admin *a;
	int fd;
	/* the generation it was accepted under (a reference): its TLS
	 * context, which a reload may let go, lives as long as the SSL */
	struct sl_conf *gen;
	struct sockaddr_storage peer;
	uint64_t head_until_ms; /* the handshake and the head by then */
	SSL *ssl;		/* admin.tls: NULL plain */
	int hs;			/* its handshake is done */
	struct event *ev;
	char in[ADMIN_HEAD_MAX];
	size_t inlen;
	char *out; /* owned */
	size_t outlen, outoff;
	/* /config, written a piece at a time: the generation it is of (a
	 * reference; NULL: nothing more to write), where it stands, and
	 * whether each piece is a chunk (HTTP/1.1) or the bytes alone, the
	 * end being the close (HTTP/1.0) */
	struct sl_conf *stream;
	struct sl_admin_config_cursor cursor;
	int chunked;
	struct admin_conn *next;
};

struct sl_admin {
	const struct sl_admin_view *view; /* borrowed */
	struct event_base *base;
	int fd;
	struct event *ev;
	struct sl_admin_ring *ring; /* the status page's history */
	struct sl_admin_rm_seen rm; /* admin.route_metrics, as last logged */
	struct event *tick;	    /* reads it once a second */
	uint64_t refused_logged_ms; /* the last 401 said in the log */
	uint64_t host_logged_ms;    /* the last 403 (Host) said */
	struct admin_conn *conns;
	unsigned nconns;
};

static void
conn_free(struct admin_conn *ac)
{
	struct sl_admin *a = ac->a;
	struct admin_conn **pp;

	for (pp = &a->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ac) {
			*pp = ac->next;
			break;
		}
	a->nconns--;
	event_free(ac->ev);
	if (ac->ssl != NULL)
		sl_tls_free(ac->ssl, ac->hs);
	sl_conf_unref(ac->gen);
	if (ac->stream != NULL)
		sl_conf_unref(ac->stream);
	close(ac->fd);
	free(ac->out);
	free(ac);
}

/* Whether path (n bytes) is exactly p: paths are case-sensitive. */
static int
path_is(const char *path, size_t n, const char *p)
{
	return strlen(p) == n && memcmp(path, p, n) == 0;
}

/* Whether req's path (plen bytes, its query left out) is one a load
 * balancer probes: answered without credentials, by any Host. */
static int
is_probe(const struct sl_h1_request *req, size_t plen)
{
	return path_is(req->path, plen, "/healthz") ||
	       path_is(req->path, plen, "/readyz");
}

/* Whether admin.auth asks for credentials: a file named (one not read
 * yet lets no one in: fail closed) or digests kept (a reload without
 * "admin" keeps the running ones). */
static int
needs_credentials(const struct sl_admin_auth *au)
{
	return au->has_token || au->has_basic || au->token_file.path != NULL ||
	       au->basic_file.path != NULL;
}

/*
 * Whether an Authorization value (n bytes) is one admin.auth allows: its
 * scheme in any case (RFC 9110 section 11.1), one or more spaces, its
 * credentials; the SHA-256 of "Bearer " or "Basic " and those compared
 * with the files' in constant time.
 */
static int
credentials_ok(const struct sl_admin_auth *au, const char *s, size_t n)
{
	char buf[ADMIN_HEAD_MAX + 8];
	unsigned char md[32];
	const unsigned char *want;
	unsigned len = 0;
	size_t k = 0, at;

	while (k < n && s[k] != ' ')
		k++;
	if (sl_h1_ieq(s, k, "bearer") && au->has_token) {
		memcpy(buf, "Bearer ", 7);
		want = au->token_sha;
	} else if (sl_h1_ieq(s, k, "basic") && au->has_basic) {
		memcpy(buf, "Basic ", 6);
		want = au->basic_sha;
	} else
		return 0;
	at = k == 6 ? 7 : 6;
	while (k < n && s[k] == ' ')
		k++;
	if (k == n || n - k > ADMIN_HEAD_MAX)
		return 0;
	memcpy(buf + at, s + k, n - k);
	return EVP_Digest(buf, at + n - k, md, &len, EVP_sha256(), NULL) == 1 &&
	       len == 32 && CRYPTO_memcmp(md, want, 32) == 0;
}

/*
 * Whether req may read path (its query left out) under admin.auth
 * (doc/dashboard.md): always when it is not set, and for /healthz and
 * /readyz, which load balancers probe without credentials; else when one
 * of its Authorization fields holds credentials the files allow.
 */
static int
allowed(const struct sl_admin_view *v, const struct sl_h1_request *req,
	size_t plen)
{
	const struct sl_admin_auth *au = &v->conf->admin_auth;

	if (!needs_credentials(au))
		return 1;
	if (is_probe(req, plen))
		return 1;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (sl_h1_ieq(h->name, h->name_len, "authorization") &&
		    credentials_ok(au, h->value, h->value_len))
			return 1;
	}
	return 0;
}

/*
 * Whether req's Host may read the admin listener (doc/dashboard.md 6.7).
 * Over plain HTTP without credentials to ask for, a page of another site
 * whose name is made to resolve here (DNS rebinding) would read it in a
 * browser; so only an address, localhost (and *.localhost, which browsers
 * keep on this machine), or a name of admin.hosts. No Host (HTTP/1.0) is
 * no browser's. With credentials the other site has none; over TLS the
 * browser finds that the certificate is not the other site's.
 */
static int
host_ok(const struct sl_admin_view *v, const struct sl_h1_request *req, int tls)
{
	const struct sl_admin_auth *au = &v->conf->admin_auth;
	char name[256], ip[16];
	size_t n = req->host_len;
	const char *h = req->host, *end;

	if (au->hosts_any || needs_credentials(au) || tls || h == NULL)
		return 1;
	if (n > 0 && h[0] == '[') { /* an IPv6 address (h1_parse checked) */
		end = memchr(h, ']', n);
		if (end == NULL || (size_t)(end - h - 1) >= sizeof(name))
			return 0;
		memcpy(name, h + 1, (size_t)(end - h - 1));
		name[end - h - 1] = '\0';
		return inet_pton(AF_INET6, name, ip) == 1;
	}
	if ((end = memchr(h, ':', n)) != NULL)
		n = (size_t)(end - h);
	if (n == 0 || n >= sizeof(name))
		return 0;
	for (size_t i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)h[i]);
	n -= n > 1 && name[n - 1] == '.'; /* "localhost." is localhost */
	name[n] = '\0';
	if (inet_pton(AF_INET, name, ip) == 1 ||
	    strcmp(name, "localhost") == 0 ||
	    (n > 10 && strcmp(name + n - 10, ".localhost") == 0))
		return 1;
	for (const char *p = au->hosts; p != NULL && *p != '\0';
	     p += strlen(p) + 1)
		if (strcmp(p, name) == 0)
			return 1;
	return 0;
}

/* Whether a refusal may be logged now: at most once a second for each
 * kind, whose last line's time *last holds. */
static int
log_due(uint64_t *last)
{
	uint64_t now = sl_now_ms();

	if (now - *last < 1000)
		return 0;
	*last = now;
	return 1;
}

/* The bytes of s (n) before the first c, or all n. */
static size_t
strcspn_n(const char *s, size_t n, char c)
{
	const char *p = memchr(s, c, n);

	return p != NULL ? (size_t)(p - s) : n;
}

/* The page's files (dash_assets.c, written at build time from
 * src/admin/dash/): the one at path, or NULL. */
static const struct sl_admin_asset *
asset(const char *path, size_t len)
{
	for (size_t i = 0; sl_admin_assets[i].path != NULL; i++)
		if (strlen(sl_admin_assets[i].path) == len &&
		    memcmp(sl_admin_assets[i].path, path, len) == 0)
			return &sl_admin_assets[i];
	return NULL;
}

/* Builds the whole response for the request head in ac->in. */
static void
respond(struct admin_conn *ac, size_t head_len)
{
	const struct sl_admin_view *v = ac->a->view;
	struct sl_h1_header hdrs[64];
	struct sl_h1_request req;
	struct sl_h1_limits lim = {1024, ADMIN_HEAD_MAX, 64};
	struct sbuf body = {0}, out = {0};
	const char *ctype = "application/json";
	const struct sl_admin_asset *as = NULL;
	int status = 200;
	size_t plen = 0; /* of the path, its query left out */
	char length[48];
	int bad, streamed = 0;

	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	req.max_headers = 64;
	bad = sl_h1_parse_request(ac->in, head_len, &req, &lim) != 0;
	if (!bad)
		plen = strcspn_n(req.path, req.path_len, '?');
	if (bad) {
		status = 400;
		sb_printf(&body, "{\"error\":\"bad_request\"}\n");
	} else if (req.method_id != SL_M_GET && req.method_id != SL_M_HEAD) {
		status = 405;
		sb_printf(&body, "{\"error\":\"method_not_allowed\"}\n");
	} else if (!is_probe(&req, plen) &&
		   !host_ok(v, &req, ac->ssl != NULL)) {
		status = 403;
		sb_printf(&body, "{\"error\":\"host_not_allowed\"}\n");
		if (log_due(&ac->a->host_logged_ms))
			log_info("admin: %.*s refused (403): Host \"%.*s\" is "
				 "not an address, localhost or a name of "
				 "admin.hosts (doc/dashboard.md 6.7)",
				 (int)SL_MIN(plen, 128), req.path,
				 (int)SL_MIN(req.host_len, 128), req.host);
	} else if (!allowed(v, &req, plen)) {
		status = 401;
		sb_printf(&body, "{\"error\":\"unauthorized\"}\n");
		if (log_due(&ac->a->refused_logged_ms))
			log_info("admin: %.*s refused (401): no valid "
				 "credentials (admin.auth)",
				 (int)SL_MIN(plen, 128), req.path);
	} else if (path_is(req.path, plen, "/status")) {
		sl_admin_page_status_q(
		    v, ac->a->ring, req.path + SL_MIN(plen + 1, req.path_len),
		    req.path_len - SL_MIN(plen + 1, req.path_len), &body);
	} else if ((as = asset(req.path, plen)) != NULL) {
		ctype = as->ctype;
		sb_put(&body, (const char *)as->data, as->len);
	} else if (path_is(req.path, plen, "/healthz")) {
		sb_printf(&body, "{\"status\":\"ok\"}\n");
	} else if (path_is(req.path, plen, "/readyz")) {
		if (v->draining) {
			status = 503;
			sb_printf(&body, "{\"status\":\"draining\"}\n");
		} else
			sb_printf(&body, "{\"status\":\"ready\"}\n");
	} else if (path_is(req.path, plen, "/config")) {
		/* written as it is made (stream_more), not held whole */
		streamed = 1;
		ac->chunked = req.minor >= 1;
		if (req.method_id != SL_M_HEAD)
			ac->stream = sl_conf_ref(v->conf);
	} else if (path_is(req.path, plen, "/metrics")) {
		ctype = "text/plain; version=0.0.4";
		sl_admin_page_metrics(v, &body);
	} else {
		status = 404;
		sb_printf(&body, "{\"error\":\"not_found\"}\n");
	}
	if (body.failed) {
		status = 500;
		body.len = 0;
	}
	if (streamed)
		snprintf(length, sizeof(length), "%s",
			 ac->chunked ? "Transfer-Encoding: chunked\r\n" : "");
	else
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n",
			 body.len);
	/* read only, never framed, nothing from elsewhere
	 * (doc/dashboard.md) */
	sb_printf(&out,
		  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s"
		  "Cache-Control: no-store\r\nConnection: close\r\n"
		  "Content-Security-Policy: default-src 'none'; script-src "
		  "'self'; style-src 'self'; img-src 'self'; connect-src "
		  "'self'; base-uri 'none'; form-action 'none'; "
		  "frame-ancestors 'none'\r\n"
		  "X-Frame-Options: DENY\r\nX-Content-Type-Options: "
		  "nosniff\r\nReferrer-Policy: no-referrer\r\n%s\r\n",
		  status,
		  status == 200	  ? "OK"
		  : status == 401 ? "Unauthorized"
		  : status == 403 ? "Forbidden"
		  : status == 404 ? "Not Found"
		  : status == 405 ? "Method Not Allowed"
		  : status == 503 ? "Service Unavailable"
		  : status == 400 ? "Bad Request"
				  : "Internal Server Error",
		  ctype, length,
		  status != 401 ? ""
		  : v->conf->admin_auth.has_basic
		      ? "WWW-Authenticate: Basic realm=\"sluice admin\", "
			"charset=\"UTF-8\"\r\n"
		      : "WWW-Authenticate: Bearer realm=\"sluice admin\"\r\n");
	if (req.method_id != SL_M_HEAD && body.len > 0)
		sb_put(&out, body.p, body.len);
	free(body.p);
	ac->out = out.p;
	ac->outlen = out.failed ? 0 : out.len;
	ac->outoff = 0;
}

/* The next piece of a streamed answer into ac->out, framed; 0 when
 * there is none: the answer is whole. */
static int
stream_more(struct admin_conn *ac)
{
	struct sbuf b = {0};
	char head[24];
	int last, n;

	if (ac->stream == NULL)
		return 0;
	/* room for the chunk's size line before the piece */
	sb_put(&b, "                  ", 18);
	last = sl_admin_config_piece(ac->a->view, ac->stream, &ac->cursor, &b);
	if (b.failed) {
		/* out of memory: the answer ends short, which the chunked
		 * framing (or the JSON) shows the client */
		free(b.p);
		return 0;
	}
	if (ac->chunked) {
		n = snprintf(head, sizeof(head), "%zx\r\n", b.len - 18);
		memcpy(b.p + 18 - n, head, (size_t)n);
		sb_put(&b, last ? "\r\n0\r\n\r\n" : "\r\n", last ? 7 : 2);
		ac->outoff = 18 - (size_t)n;
	} else
		ac->outoff = 18;
	if (last) {
		sl_conf_unref(ac->stream);
		ac->stream = NULL;
	}
	free(ac->out);
	ac->out = b.p;
	ac->outlen = b.failed ? ac->outoff : b.len;
	return 1;
}

static void admin_on_conn(evutil_socket_t fd, short what, void *arg);

/* Waits for the socket to be readable (or writable: what TLS wants). */
static void
conn_wait(struct admin_conn *ac, int writable)
{
	struct timeval tv = {ADMIN_TIMEOUT_S, 0};

	/* before the answer: the head's deadline, which progress does
	 * not move */
	if (ac->out == NULL) {
		uint64_t now = sl_now_ms();
		uint64_t left =
		    ac->head_until_ms > now ? ac->head_until_ms - now : 1;
		tv.tv_sec = (time_t)(left / 1000);
		tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	}

	event_del(ac->ev);
	event_assign(ac->ev, ac->a->base, ac->fd,
		     (writable ? EV_WRITE : EV_READ) | EV_PERSIST,
		     admin_on_conn, ac);
	event_add(ac->ev, &tv);
}

/* Reads or writes on the connection, through TLS when it has it: the
 * bytes, 0 at the end, or -1 (errno EAGAIN: *want says what for). */
static ssize_t
conn_io(struct admin_conn *ac, int writing, char *p, size_t n, int *want)
{
	ssize_t r;

	*want = writing;
	if (ac->ssl != NULL) {
		struct iovec iov = {p, n};
		int w = 0;
		r = writing ? sl_tls_writev(ac->ssl, &iov, 1, &w)
			    : sl_tls_read(ac->ssl, p, n, &w);
		*want = w == SL_TLS_WANT_WRITE;
		return r;
	}
	r = writing ? write(ac->fd, p, n) : read(ac->fd, p, n);
	if (r == -1 && errno == EINTR)
		errno = EAGAIN;
	return r;
}

static void
admin_on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *ac = arg;
	struct sl_h1_scan scan;
	struct sl_h1_limits lim = {1024, ADMIN_HEAD_MAX, 64};
	ssize_t n;
	long r;
	int want;

	if (what & EV_TIMEOUT) {
		conn_free(ac);
		return;
	}
	if (ac->ssl != NULL && !ac->hs) {
		switch (sl_tls_handshake(ac->ssl, &want)) {
		case 1:
			ac->hs = 1;
			conn_wait(ac, 0);
			break; /* a request may be in its buffers already */
		case 0:
			conn_wait(ac, want == SL_TLS_WANT_WRITE);
			return;
		default:
			if (sl_log_enabled(SL_LOG_DEBUG)) {
				char why[160];
				log_debug(
				    "admin: TLS handshake failed: %s",
				    sl_tls_why(ac->ssl, why, sizeof(why)));
			}
			conn_free(ac);
			return;
		}
	}
	if (ac->out == NULL) {
		n = conn_io(ac, 0, ac->in + ac->inlen,
			    sizeof(ac->in) - ac->inlen, &want);
		if (n == -1 && errno == EAGAIN) {
			conn_wait(ac, want);
			return;
		}
		if (n <= 0) {
			conn_free(ac);
			return;
		}
		ac->inlen += (size_t)n;
		sl_h1_scan_init(&scan);
		r = sl_h1_scan_head(&scan, ac->in, ac->inlen, &lim, 1);
		if (r == 0 && ac->inlen < sizeof(ac->in)) {
			conn_wait(ac, 0);
			return;
		}
		if (r <= 0) {
			conn_free(ac);
			return;
		}
		respond(ac, (size_t)r);
	}
	n = conn_io(ac, 1, ac->out + ac->outoff, ac->outlen - ac->outoff,
		    &want);
	if (n == -1 && errno == EAGAIN) {
		conn_wait(ac, want);
		return;
	}
	if (n <= 0 ||
	    ((ac->outoff += (size_t)n) == ac->outlen && !stream_more(ac)))
		conn_free(ac);
	else
		conn_wait(ac, 1);
}

/* Whether a and b are the same IP address (ports aside). */
static int
same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      16) == 0;
	return 1;
}

/* The connections open from the address of ss. */
static unsigned
conns_from(const struct sl_admin *a, const struct sockaddr_storage *ss)
{
	unsigned n = 0;

	for (const struct admin_conn *ac = a->conns; ac != NULL; ac = ac->next)
		n += same_ip(&ac->peer, ss);
	return n;
}

/*
 * A connection is taken unless 64 are open, or 8 from its address: with
 * the head's deadline, a client that holds connections open without a
 * request (or a handshake) holds them for 10 s at most, and never all of
 * them (a load balancer's /healthz gets its own).
 */
static void
admin_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct sl_admin *a = arg;
	struct timeval tv = {ADMIN_TIMEOUT_S, 0};
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct admin_conn *ac;
	struct sl_conf *c = a->view->conf;
	int fd;

	fd = accept4(a->fd, (struct sockaddr *)&ss, &sslen,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;
	if (a->nconns >= ADMIN_MAX_CONNS ||
	    conns_from(a, &ss) >= ADMIN_MAX_PER_ADDR ||
	    (ac = calloc(1, sizeof(*ac))) == NULL) {
		close(fd);
		return;
	}
	ac->a = a;
	ac->fd = fd;
	ac->peer = ss;
	ac->head_until_ms = sl_now_ms() + ADMIN_HEAD_TIMEOUT_MS;
	if (c->admin_tls.ctx != NULL &&
	    (ac->ssl = sl_tls_accept(&c->admin_tls, fd)) == NULL) {
		close(fd);
		free(ac);
		return;
	}
	ac->gen = sl_conf_ref(c);
	ac->ev =
	    event_new(a->base, fd, EV_READ | EV_PERSIST, admin_on_conn, ac);
	if (ac->ev == NULL) {
		if (ac->ssl != NULL)
			sl_tls_free(ac->ssl, 0);
		sl_conf_unref(ac->gen);
		close(fd);
		free(ac);
		return;
	}
	ac->next = a->conns;
	a->conns = ac;
	a->nconns++;
	event_add(ac->ev, &tv);
}

static void
admin_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sl_admin *a = arg;

	sl_admin_route_series_note(a->view->conf, &a->rm);
	sl_admin_ring_tick(a->ring, a->view, sl_now_ms());
}

struct sl_admin *
sl_admin_start(struct event_base *base, const struct sl_admin_view *view,
	       int fd)
{
	const struct sl_conf_addr *addr = &view->conf->admin_addr;
	struct sl_admin *a;
	int on = 1;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->view = view;
	a->base = base;
	if (fd != -1) {
		/* given: listening already */
		a->fd = fd;
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
			goto fail;
	} else {
		a->fd = socket(addr->ss.ss_family,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (a->fd == -1)
			goto fail;
		(void)setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &on,
				 sizeof(on));
		if (bind(a->fd, (const struct sockaddr *)&addr->ss,
			 addr->sslen) == -1 ||
		    listen(a->fd, 64) == -1)
			goto fail;
	}
	a->ev =
	    event_new(base, a->fd, EV_READ | EV_PERSIST, admin_on_accept, a);
	if (a->ev == NULL || event_add(a->ev, NULL) == -1)
		goto fail;
	/* the status page's history: from the start, so that it has the
	 * minutes before someone looks */
	a->ring = sl_admin_ring_new();
	a->tick = event_new(base, -1, EV_PERSIST, admin_on_tick, a);
	if (a->ring == NULL || a->tick == NULL ||
	    event_add(a->tick, &(struct timeval){1, 0}) == -1)
		goto fail;
	return a;
fail : {
	int saved = errno;
	if (a->tick)
		event_free(a->tick);
	sl_admin_ring_free(a->ring);
	if (a->ev)
		event_free(a->ev);
	if (a->fd != -1)
		close(a->fd);
	free(a);
	errno = saved;
	return NULL;
}
}

int
sl_admin_fd(const struct sl_admin *a)
{
	return a->fd;
}

void
sl_admin_free(struct sl_admin *a)
{
	if (a == NULL)
		return;
	while (a->conns != NULL)
		conn_free(a->conns);
	event_free(a->tick);
	sl_admin_ring_free(a->ring);
	event_free(a->ev);
	close(a->fd);
	free(a);
}
