/* SPDX-License-Identifier: MIT */
/*
 * A misbehaving HTTP/3 client for test_http3.py's defence tests, on
 * sluice's own QUIC client (src/quic, over a UDP socket of its own): it
 * does to a server what no well-behaved client does, and prints what the
 * server did about it. Not a test itself.
 *
 *   quic_poke PORT idle N         N reserved frames on its control stream
 *   quic_poke PORT cancel N       N requests (GET /slow), each cancelled
 *                                 (RESET_STREAM) once the server has it
 *   quic_poke PORT slowhead       one request whose HEADERS never end
 *   quic_poke PORT handshakes N   N connections that never finish their
 *                                 handshake (their first Initial only)
 *   quic_poke PORT hold N SECS    N connections, one GET / each, then held
 *                                 idle for SECS (contrib/bench/h3.sh's
 *                                 idle memory): "READY ok=K" once all are
 *                                 answered, "DONE" at the end
 *
 * Prints "established" once its handshake is done, "reset ID CODE" for
 * each stream the server reset (slowhead: then "done", or "not reset"
 * after 10 s), and at the end "closed CODE" (the
 * application error of the server's CONNECTION_CLOSE, 0 for none) or
 * "open" when the server did not close within 10 s; "sent N" for
 * handshakes. Exits 0, or 1 on a local failure.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "h3frame.h"
#include "qconn.h"
#include "qpack.h"
#include "qtls.h"

static int fd;
static struct sockaddr_in srv, local;
static struct sl_qconn *qc;
static SSL_CTX *ctx;
static int64_t wanted = -1; /* the stream whose reset ends a wait */
static int reset_seen;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
on_recv(void *arg, int64_t id, const uint8_t *d, size_t n, int fin)
{
	(void)arg;
	(void)id;
	(void)d;
	(void)n;
	(void)fin;
	return 0;
}

static void
on_reset(void *arg, int64_t id, uint64_t code)
{
	(void)arg;
	printf("reset %lld 0x%llx\n", (long long)id, (unsigned long long)code);
	fflush(stdout);
	if (id == wanted)
		reset_seen = 1;
}

/* Datagrams both ways for ms, or until done says stop. Returns -1 once
 * the connection is over. */
static int
pump(int ms, int (*done)(void))
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	uint8_t d[1500];

	while (now_ns() < end && (done == NULL || !done())) {
		uint64_t now = now_ns(), t;
		struct pollfd p = {fd, POLLIN, 0};
		long n;
		int wait;

		while ((n = sl_qconn_write(qc, d, sizeof(d), now, NULL, NULL)) >
		       0)
			(void)send(fd, d, (size_t)n, 0);
		if (n < 0)
			return -1;
		t = sl_qconn_expiry(qc);
		wait = t <= now ? 0
		       : (t - now) / 1000000 + 1 > 50
			   ? 50
			   : (int)((t - now) / 1000000 + 1);
		if (poll(&p, 1, wait) > 0) {
			ssize_t k = recv(fd, d, sizeof(d), 0);
			struct sl_qpath path = {(struct sockaddr *)&local,
						(struct sockaddr *)&srv,
						sizeof(local), sizeof(srv)};
			if (k > 0 && sl_qconn_read(qc, &path, d, (size_t)k,
						   now_ns()) != 0)
				return -1;
		}
		if (sl_qconn_expiry(qc) <= now_ns() &&
		    sl_qconn_expire(qc, now_ns()) != 0)
			return -1;
	}
	return 0;
}

static int
established(void)
{
	return sl_qconn_established(qc);
}

static int
got_reset(void)
{
	return reset_seen;
}

/* Our control stream and its SETTINGS. Returns its id. */
static int64_t
control(void)
{
	struct sl_h3_settings st;
	uint8_t b[64];
	size_t n = 1;
	int64_t id = sl_qconn_open(qc, 0);

	b[0] = SL_H3_UNI_CONTROL;
	sl_h3_settings_init(&st);
	n += sl_h3_settings_write(b + 1, sizeof(b) - 1, &st, 0);
	if (id < 0 || sl_qconn_send(qc, id, b, n, 0) != 0)
		return -1;
	return id;
}

/* A request's HEADERS frame: GET https://localhost/slow (the path a
 * test's upstream may answer late; hold's are answered at once). */
static size_t
request(uint8_t *out, size_t room)
{
	uint8_t sec[256];
	size_t sl = sl_qpack_enc_prefix(sec, sizeof(sec)), n;

	sl += sl_qpack_enc_field(sec + sl, sizeof(sec) - sl, ":method", 7,
				 "GET", 3, 0);
	sl += sl_qpack_enc_field(sec + sl, sizeof(sec) - sl, ":scheme", 7,
				 "https", 5, 0);
	sl += sl_qpack_enc_field(sec + sl, sizeof(sec) - sl, ":authority", 10,
				 "localhost", 9, 0);
	sl += sl_qpack_enc_field(sec + sl, sizeof(sec) - sl, ":path", 5,
				 "/slow", 5, 0);
	n = sl_h3f_write_header(out, room, SL_H3F_HEADERS, sl);
	memcpy(out + n, sec, sl);
	return n + sl;
}

/* hold: one connection, its request's end heard. */
struct held {
	int fd, fin, answered;
	struct sockaddr_in me;
	struct sl_qconn *c;
	int64_t id;
};

static int
held_recv(void *arg, int64_t id, const uint8_t *d, size_t n, int fin)
{
	struct held *h = arg;

	(void)d;
	(void)n;
	if (id == h->id && fin)
		h->fin = 1;
	return 0;
}

/* c's control stream and SETTINGS. */
static void
control_of(struct sl_qconn *c)
{
	struct sl_qconn *was = qc;

	qc = c;
	(void)control();
	qc = was;
}

/* hold: n connections, one GET each, held idle for secs. */
static int
hold(SSL_CTX *cx, int n, int secs)
{
	struct held *v = calloc((size_t)n, sizeof(*v));
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	uint64_t end = 0, start = now_ns();
	int ok = 0, said = 0;

	if (v == NULL || p == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		socklen_t ml = sizeof(v[i].me);
		struct sl_qpath path;
		struct sl_qconn_app app = {.recv = held_recv, .arg = &v[i]};
		if ((v[i].fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
		    connect(v[i].fd, (struct sockaddr *)&srv, sizeof(srv)) ||
		    getsockname(v[i].fd, (struct sockaddr *)&v[i].me, &ml))
			return 1;
		path = (struct sl_qpath){(struct sockaddr *)&v[i].me,
					 (struct sockaddr *)&srv,
					 sizeof(v[i].me), sizeof(srv)};
		if ((v[i].c = sl_qconn_connect(cx, "localhost", &path,
					       now_ns())) == NULL)
			return 1;
		sl_qconn_set_app(v[i].c, &app);
		v[i].id = -1;
		p[i].fd = v[i].fd;
		p[i].events = POLLIN;
	}
	for (;;) {
		uint64_t now = now_ns();
		if (end != 0 && now >= end)
			break;
		if (end == 0 && now - start > 60ull * 1000000000u)
			break; /* not all answered in a minute */
		for (int i = 0; i < n; i++) {
			uint8_t d[1500];
			long k;
			struct held *h = &v[i];
			if (h->c == NULL)
				continue;
			if (h->id < 0 && sl_qconn_established(h->c)) {
				uint8_t b[512];
				size_t m = request(b, sizeof(b));
				control_of(h->c);
				if ((h->id = sl_qconn_open(h->c, 1)) >= 0)
					(void)sl_qconn_send(h->c, h->id, b, m,
							    1);
			}
			while ((k = sl_qconn_write(h->c, d, sizeof(d), now,
						   NULL, NULL)) > 0)
				(void)send(h->fd, d, (size_t)k, 0);
			if (sl_qconn_expiry(h->c) <= now &&
			    sl_qconn_expire(h->c, now) != 0) {
				sl_qconn_free(h->c);
				h->c = NULL;
				continue;
			}
			if (!h->answered && h->fin) {
				h->answered = 1;
				ok++;
			}
		}
		if (!said && ok == n) {
			printf("READY ok=%d\n", ok);
			fflush(stdout);
			said = 1;
			end = now_ns() + (uint64_t)secs * 1000000000u;
		}
		if (poll(p, (nfds_t)n, 20) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			uint8_t d[1500];
			ssize_t k;
			if (!(p[i].revents & POLLIN) || v[i].c == NULL)
				continue;
			while ((k = recv(v[i].fd, d, sizeof(d), MSG_DONTWAIT)) >
			       0) {
				struct sl_qpath path = {
				    (struct sockaddr *)&v[i].me,
				    (struct sockaddr *)&srv, sizeof(v[i].me),
				    sizeof(srv)};
				if (sl_qconn_read(v[i].c, &path, d, (size_t)k,
						  now_ns()) != 0) {
					sl_qconn_free(v[i].c);
					v[i].c = NULL;
					break;
				}
			}
		}
	}
	if (!said)
		printf("READY ok=%d (of %d)\n", ok, n);
	puts("DONE");
	for (int i = 0; i < n; i++) {
		if (v[i].c != NULL)
			sl_qconn_free(v[i].c);
		close(v[i].fd);
	}
	free(v);
	free(p);
	return 0;
}

static int
finish(void)
{
	uint64_t code;
	int app;

	if (pump(10000, NULL) == 0) {
		puts("open");
		return 0;
	}
	if (sl_qconn_peer_close(qc, &code, &app) == 1)
		printf("closed 0x%llx\n", (unsigned long long)(app ? code : 0));
	else
		printf("closed 0 (%s)\n", sl_qconn_error(qc));
	return 0;
}

/* At exit: the connection and the context freed (the ASan build's leak
 * check runs this tool too). */
static void
cleanup(void)
{
	if (qc != NULL)
		sl_qconn_free(qc);
	SSL_CTX_free(ctx);
}

int
main(int argc, char **argv)
{
	struct sl_qconn_app app = {.recv = on_recv, .reset = on_reset};
	socklen_t ll = sizeof(local);
	const char *mode;
	int n;

	if (argc < 3) {
		fprintf(stderr, "usage: quic_poke PORT MODE [N]\n");
		return 2;
	}
	mode = argv[2];
	n = argc > 3 ? atoi(argv[3]) : 1;
	memset(&srv, 0, sizeof(srv));
	srv.sin_family = AF_INET;
	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.sin_port = htons((uint16_t)atoi(argv[1]));
	atexit(cleanup);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    sl_qtls_ctx_setup(ctx, 0) != 0)
		return 1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (strcmp(mode, "handshakes") == 0) {
		/* each a socket of its own (another port, one address), its
		 * first Initial only */
		for (int i = 0; i < n; i++) {
			uint8_t d[1500];
			long k;
			int s = socket(AF_INET, SOCK_DGRAM, 0);
			struct sockaddr_in me;
			socklen_t ml = sizeof(me);
			struct sl_qpath path;
			struct sl_qconn *c;

			if (s < 0 ||
			    connect(s, (struct sockaddr *)&srv, sizeof(srv)) ||
			    getsockname(s, (struct sockaddr *)&me, &ml))
				return 1;
			path = (struct sl_qpath){(struct sockaddr *)&me,
						 (struct sockaddr *)&srv,
						 sizeof(me), sizeof(srv)};
			if ((c = sl_qconn_connect(ctx, "localhost", &path,
						  now_ns())) == NULL)
				return 1;
			if ((k = sl_qconn_write(c, d, sizeof(d), now_ns(), NULL,
						NULL)) > 0)
				(void)send(s, d, (size_t)k, 0);
			sl_qconn_free(c);
			close(s);
		}
		printf("sent %d\n", n);
		return 0;
	}
	if (strcmp(mode, "hold") == 0)
		return hold(ctx, n, argc > 4 ? atoi(argv[4]) : 10);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&srv, sizeof(srv)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &ll) != 0)
		return 1;
	{
		struct sl_qpath path = {(struct sockaddr *)&local,
					(struct sockaddr *)&srv, sizeof(local),
					sizeof(srv)};
		if ((qc = sl_qconn_connect(ctx, "localhost", &path,
					   now_ns())) == NULL)
			return 1;
	}
	app.arg = NULL;
	sl_qconn_set_app(qc, &app);
	if (pump(5000, established) != 0 || !sl_qconn_established(qc)) {
		printf("no handshake: %s\n", sl_qconn_error(qc));
		return 1;
	}
	puts("established");
	fflush(stdout);
	if (strcmp(mode, "idle") == 0) {
		int64_t cid = control();
		/* reserved types (RFC 9114 section 7.2.8), empty: nothing
		 * for the server to do but read them */
		for (int i = 0; i < n && cid >= 0; i++) {
			uint8_t b[16];
			size_t k = sl_h3f_write_header(
			    b, sizeof(b), 0x21 + 0x1f * (uint64_t)(i % 1000),
			    0);
			if (sl_qconn_send(qc, cid, b, k, 0) != 0)
				return 1;
			if (i % 50 == 49 && pump(5, NULL) != 0)
				break;
		}
	} else if (strcmp(mode, "cancel") == 0) {
		(void)control();
		for (int i = 0; i < n; i++) {
			uint8_t b[512];
			size_t k = request(b, sizeof(b));
			int64_t id;
			/* room for a stream: the server grants more as its
			 * streams end */
			while ((id = sl_qconn_open(qc, 1)) < 0)
				if (pump(20, NULL) != 0)
					return finish();
			if (sl_qconn_send(qc, id, b, k, 1) != 0 ||
			    pump(30, NULL) != 0)
				return finish();
			(void)sl_qconn_shutdown(qc, id,
						SL_H3_REQUEST_CANCELLED);
			if (pump(5, NULL) != 0)
				return finish();
		}
	} else if (strcmp(mode, "slowhead") == 0) {
		uint8_t b[512];
		size_t k = request(b, sizeof(b));
		int64_t id;

		(void)control();
		if ((id = sl_qconn_open(qc, 1)) < 0 ||
		    sl_qconn_send(qc, id, b, k / 2, 0) != 0)
			return 1;
		wanted = id;
		(void)pump(10000, got_reset);
		puts(reset_seen ? "done" : "not reset");
		return 0;
	} else {
		fprintf(stderr, "quic_poke: no mode %s\n", mode);
		return 2;
	}
	fflush(stdout);
	return finish();
}
