/* SPDX-License-Identifier: MIT */
/*
 * The ACME thread's HTTPS client (acme_int.h): one connection per call
 * (Connection: close), every step non-blocking under poll with the call's
 * one deadline, and the thread's stop descriptor among what it waits for,
 * so that a CA that hangs holds no one but the ACME thread, and a stop
 * ends the wait at once. Verifies the CA's certificate and name; knows
 * HTTP/1.1's Content-Length, chunked and close-delimited answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acme_int.h"
#include "tlscert.h" /* sl_tls_ossl_reason */
#include "util.h"

int
acme_http_init(struct acme_http *c, const char *ca_file, char *why, size_t n)
{
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* a server that closes without close_notify after its answer (many
	 * do, Connection: close): the end, which the answer's own framing
	 * then checks (a cut Content-Length or chunked body is refused) */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL
		? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1
		: SSL_CTX_set_default_verify_paths(c->ctx) != 1)
		goto fail;
	return 0;
fail:
	sl_tls_ossl_reason(why, n);
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
	return -1;
}

void
acme_http_free(struct acme_http *c)
{
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}

void
acme_resp_free(struct acme_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

/* Waits for ev on fd until the deadline: 1 ready, 0 stopped or timed
 * out (why says), -1 poll failed. */
static int
wait_fd(const struct acme_http *c, int fd, short ev, uint64_t deadline,
	char *why, size_t n)
{
	for (;;) {
		struct pollfd p[2] = {{fd, ev, 0}, {c->stop_fd, POLLIN, 0}};
		uint64_t now = sl_now_ms();
		int r;

		if (now >= deadline) {
			snprintf(why, n, "no answer within %llu ms",
				 (unsigned long long)c->timeout_ms);
			return 0;
		}
		r = poll(p, c->stop_fd >= 0 ? 2 : 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, n, "poll: %s", strerror(errno));
			return -1;
		}
		if (c->stop_fd >= 0 && (p[1].revents & POLLIN)) {
			snprintf(why, n, "stopping");
			return 0;
		}
		if (p[0].revents != 0)
			return 1;
	}
}

/* https://HOST[:PORT]/PATH into its parts. 0, or -1. */
static int
url_split(const char *url, char *host, size_t hn, char *port, size_t pn,
	  const char **path)
{
	const char *h, *e, *p;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	h = url + 8;
	p = strchr(h, '/');
	if (p == NULL)
		p = h + strlen(h);
	if (*h == '[') {
		if ((e = memchr(h, ']', (size_t)(p - h))) == NULL)
			return -1;
		if ((size_t)(e - h - 1) >= hn)
			return -1;
		memcpy(host, h + 1, (size_t)(e - h - 1));
		host[e - h - 1] = '\0';
		e++;
	} else {
		e = memchr(h, ':', (size_t)(p - h));
		if (e == NULL)
			e = p;
		if ((size_t)(e - h) >= hn || e == h)
			return -1;
		memcpy(host, h, (size_t)(e - h));
		host[e - h] = '\0';
	}
	if (*e == ':') {
		if ((size_t)(p - e - 1) >= pn || p == e + 1)
			return -1;
		memcpy(port, e + 1, (size_t)(p - e - 1));
		port[p - e - 1] = '\0';
	} else
		snprintf(port, pn, "443");
	*path = *p ? p : "/";
	return 0;
}

/* A connected socket to host:port, or -1 (why). */
static int
dial(const struct acme_http *c, const char *host, const char *port,
     uint64_t deadline, char *why, size_t n)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int fd = -1, e;

	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, n, "cannot resolve %s: %s", host,
			 gai_strerror(e));
		return -1;
	}
	snprintf(why, n, "cannot connect to %s:%s", host, port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int err = 0;
		socklen_t el = sizeof(err);

		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS &&
		    wait_fd(c, fd, POLLOUT, deadline, why, n) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		    err == 0)
			break;
		if (err != 0)
			snprintf(why, n, "cannot connect to %s:%s: %s", host,
				 port, strerror(err));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Drives one OpenSSL call to its end: 1 done, 0 the peer closed, -1
 * failed (why). */
static int
ssl_step(const struct acme_http *c, SSL *ssl, int fd, int r, uint64_t deadline,
	 char *why, size_t n)
{
	int e = SSL_get_error(ssl, r);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return wait_fd(c, fd,
			       e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			       deadline, why, n) == 1
			   ? 2
			   : -1;
	if (e == SSL_ERROR_ZERO_RETURN ||
	    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
		return 0;
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		snprintf(
		    why, n, "the CA's certificate: %s",
		    X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
	else {
		char r2[200];
		snprintf(why, n, "TLS: %s", sl_tls_ossl_reason(r2, sizeof(r2)));
	}
	return -1;
}

/* The value of field name in head (len bytes) into out, trimmed. 1, or 0
 * when absent. */
static int
field(const char *head, size_t len, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	const char *p = head, *end = head + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			const char *v = p + nl + 1, *ve = eol;
			size_t k;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			k = (size_t)(ve - v) < n - 1 ? (size_t)(ve - v) : n - 1;
			memcpy(out, v, k);
			out[k] = '\0';
			return 1;
		}
		p = eol + 1;
	}
	return 0;
}

static int
hexdig(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* A chunked body decoded in place (RFC 9112 section 7.1: hexadecimal
 * sizes, extensions after ';' ignored, each chunk's CRLF, the trailers
 * skipped): its length, or -1. */
static long
dechunk(char *b, size_t len)
{
	size_t in = 0, out = 0;

	for (;;) {
		const char *eol = memchr(b + in, '\n', len - in);
		size_t sz = 0, k = in;
		int d;

		if (eol == NULL)
			return -1;
		for (; k < (size_t)(eol - b) && (d = hexdig(b[k])) >= 0; k++) {
			if (sz > (SIZE_MAX >> 4))
				return -1;
			sz = sz << 4 | (size_t)d;
		}
		if (k == in || (b[k] != ';' && b[k] != '\r' && b[k] != '\n'))
			return -1;
		in = (size_t)(eol - b) + 1;
		if (sz == 0)
			return (long)out;
		if (sz > len - in || len - in - sz < 2 || b[in + sz] != '\r' ||
		    b[in + sz + 1] != '\n')
			return -1;
		memmove(b + out, b + in, sz);
		out += sz;
		in += sz + 2;
	}
}

/* A field of digits only: its value (at most max), or -1. */
static long
digits(const char *s, long max)
{
	long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > max / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v > max ? -1 : v;
}

int
acme_http_parse(char *raw, size_t len, struct acme_resp *r, char *why, size_t n)
{
	char *sep = NULL, te[64], cl[32], ra[64];
	size_t hlen, blen;

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(raw + i, "\r\n\r\n", 4) == 0) {
			sep = raw + i;
			break;
		}
	/* "HTTP/1.x NNN" and a space or the line's end */
	if (sep == NULL || sep - raw < 12 || strncmp(raw, "HTTP/1.", 7) != 0 ||
	    raw[8] != ' ' || raw[9] < '1' || raw[9] > '5' || raw[10] < '0' ||
	    raw[10] > '9' || raw[11] < '0' || raw[11] > '9' ||
	    (raw[12] != ' ' && raw[12] != '\r')) {
		snprintf(why, n, "not an HTTP answer");
		return -1;
	}
	r->status = (raw[9] - '0') * 100 + (raw[10] - '0') * 10 + raw[11] - '0';
	hlen = (size_t)(sep - raw) + 2;
	/* a nonce is base64url (RFC 8555 section 6.5.1): another is not
	 * taken (it would go into a JWS's header) */
	if (field(raw, hlen, "Replay-Nonce", r->nonce, sizeof(r->nonce)))
		for (const char *p = r->nonce; *p; p++)
			if (!((*p >= 'A' && *p <= 'Z') ||
			      (*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' ||
			      *p == '_')) {
				r->nonce[0] = '\0';
				break;
			}
	(void)field(raw, hlen, "Location", r->location, sizeof(r->location));
	(void)field(raw, hlen, "Content-Type", r->ctype, sizeof(r->ctype));
	if (field(raw, hlen, "Retry-After", ra, sizeof(ra))) {
		if (ra[0] >= '0' && ra[0] <= '9') {
			long v = digits(ra, 1L << 40);
			r->retry_after = v < 0 ? -1 : v > 86400 ? 86400 : v;
		} else {
			struct tm tm = {0};
			if (strptime(ra, "%a, %d %b %Y %H:%M:%S GMT", &tm) !=
			    NULL) {
				long d = (long)(timegm(&tm) - time(NULL));
				r->retry_after =
				    d > 0 ? (d > 86400 ? 86400 : d) : 0;
			}
		}
	}
	blen = len - hlen - 2;
	if ((r->body = malloc(blen + 1)) == NULL) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	memcpy(r->body, sep + 4, blen);
	r->body[blen] = '\0';
	r->len = blen;
	if (field(raw, hlen, "Transfer-Encoding", te, sizeof(te))) {
		long k = strcasecmp(te, "chunked") == 0 ? dechunk(r->body, blen)
							: -2;
		if (k < 0) {
			snprintf(why, n,
				 k == -2 ? "a Transfer-Encoding other than "
					   "chunked"
					 : "a malformed chunked body");
			acme_resp_free(r);
			return -1;
		}
		r->len = (size_t)k;
		r->body[k] = '\0';
	} else if (field(raw, hlen, "Content-Length", cl, sizeof(cl))) {
		long want = digits(cl, ACME_BODY_MAX);
		if (want < 0 || (size_t)want > blen) {
			snprintf(why, n,
				 want < 0 ? "a bad Content-Length"
					  : "the answer was cut short");
			acme_resp_free(r);
			return -1;
		}
		r->len = (size_t)want;
		r->body[want] = '\0';
	}
	return 0;
}

int
acme_http_call(struct acme_http *c, const char *method, const char *url,
	       const char *body, size_t blen, struct acme_resp *r, char *why,
	       size_t n)
{
	uint64_t deadline = sl_now_ms() + c->timeout_ms;
	char host[256], port[8], *req = NULL, *raw = NULL;
	const char *path;
	size_t rlen = 0, cap = 0, off = 0, qlen;
	unsigned char a[16];
	SSL *ssl = NULL;
	int fd = -1, ret = -1, s;

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	if (url_split(url, host, sizeof(host), port, sizeof(port), &path) ==
	    -1) {
		snprintf(why, n, "not an https URL: %.200s", url);
		return -1;
	}
	for (const char *p = url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
			snprintf(why, n, "a URL with spaces or quotes");
			return -1;
		}
	qlen = strlen(path) + strlen(host) + strlen(port) + 256;
	if ((req = malloc(qlen + blen)) == NULL)
		goto oom;
	s = snprintf(req, qlen,
		     "%s %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n"
		     "User-Agent: sluice/%s (ACME)\r\nAccept: */*\r\n"
		     "Connection: close\r\n",
		     method, path, strchr(host, ':') ? "[" : "", host,
		     strchr(host, ':') ? "]" : "",
		     strcmp(port, "443") ? ":" : "",
		     strcmp(port, "443") ? port : "", PACKAGE_VERSION);
	if (body != NULL)
		s += snprintf(req + s, qlen - (size_t)s,
			      "Content-Type: application/jose+json\r\n"
			      "Content-Length: %zu\r\n",
			      blen);
	s += snprintf(req + s, qlen - (size_t)s, "\r\n");
	if (body != NULL) {
		memcpy(req + s, body, blen);
		s += (int)blen;
	}
	if ((fd = dial(c, host, port, deadline, why, n)) == -1)
		goto out;
	if ((ssl = SSL_new(c->ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
		goto oom;
	if (inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	else if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
		 SSL_set1_host(ssl, host) != 1)
		goto oom;
	for (;;) {
		int k = SSL_connect(ssl), st;
		if (k == 1)
			break;
		if ((st = ssl_step(c, ssl, fd, k, deadline, why, n)) != 2) {
			if (st == 0)
				snprintf(why, n, "the CA closed the handshake");
			goto out;
		}
	}
	while (off < (size_t)s) {
		size_t w = 0;
		int k = SSL_write_ex(ssl, req + off, (size_t)s - off, &w), st;
		if (k == 1) {
			off += w;
			continue;
		}
		if ((st = ssl_step(c, ssl, fd, k, deadline, why, n)) != 2) {
			if (st == 0)
				snprintf(why, n,
					 "the CA closed the connection");
			goto out;
		}
	}
	for (;;) {
		size_t got = 0;
		int k, st;
		if (cap - rlen < 4096) {
			char *nb;
			if (cap >= ACME_BODY_MAX + 65536) {
				snprintf(why, n, "an answer over %d bytes",
					 ACME_BODY_MAX);
				goto out;
			}
			cap = cap ? 2 * cap : 16384;
			if ((nb = realloc(raw, cap)) == NULL)
				goto oom;
			raw = nb;
		}
		k = SSL_read_ex(ssl, raw + rlen, cap - rlen - 1, &got);
		if (k == 1) {
			rlen += got;
			continue;
		}
		st = ssl_step(c, ssl, fd, k, deadline, why, n);
		if (st == 0)
			break;
		if (st != 2)
			goto out;
	}
	ret = acme_http_parse(raw, rlen, r, why, n);
	goto out;
oom:
	snprintf(why, n, "out of memory");
out:
	if (ssl != NULL)
		SSL_free(ssl);
	if (fd != -1)
		close(fd);
	free(req);
	free(raw);
	ERR_clear_error();
	return ret;
}
