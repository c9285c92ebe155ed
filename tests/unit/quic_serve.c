/* SPDX-License-Identifier: MIT */
/*
 * A QUIC server for the QUIC integration tests (test_quic.py), until the
 * daemon serves QUIC itself: sluice's endpoint (src/quic/qend.c:
 * libngtcp2 with sluice's OpenSSL glue) on a UDP socket of 127.0.0.1,
 * for an independent client (ngtcp2's gtlsclient, GnuTLS) to handshake
 * with, and to make HTTP/3 requests of: each request (HEADERS, by
 * sluice's QPACK decoder and frame reader, src/h3) is answered 200 with
 * a body naming its method and path, after the control stream and its
 * SETTINGS. Prints "port N" once bound, then "established SUITE ALPN" for
 * each handshake done (" resumed" after it when it resumed a session),
 * "request METHOD PATH" for each request answered;
 * when COUNT connections have been opened and all have ended, or after
 * 20 s, "stats accepted=N retries=N closed=N resets=N" and exits.
 *
 *   quic_serve CERT.pem KEY.pem [COUNT [retry]]
 *
 * With "retry", every client's address is validated by a Retry first.
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

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "h3frame.h"
#include "qconn.h"
#include "qend.h"
#include "qpack.h"
#include "qtls.h"

#define MAXSAID 64

static int fd;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
on_send(void *arg, const struct sockaddr *to, socklen_t tl, const uint8_t *d,
	size_t n)
{
	(void)arg;
	(void)sendto(fd, d, n, 0, to, tl);
}

/* ---- a minimal HTTP/3 responder (the daemon's codec is to come) ---------- */

#define REQ_MAX 16384

struct h3req {
	int64_t id;
	uint8_t buf[REQ_MAX];
	size_t len;
	int used;
};

struct h3conn {
	struct sl_qconn *c;
	int controlled; /* its control stream opened */
	struct h3req reqs[128];
};

struct head {
	char method[16], path[256];
};

static int
on_field(void *arg, const char *n, size_t nl, const char *v, size_t vl,
	 unsigned flags)
{
	struct head *h = arg;

	(void)flags;
	if (nl == 7 && memcmp(n, ":method", 7) == 0 && vl < sizeof(h->method))
		memcpy(h->method, v, vl);
	if (nl == 5 && memcmp(n, ":path", 5) == 0 && vl < sizeof(h->path))
		memcpy(h->path, v, vl);
	return 0;
}

/* A request stream's bytes, whole: its HEADERS decoded, the answer sent. */
static int
answer(struct h3conn *hc, struct h3req *r)
{
	struct head h;
	size_t at = 0;
	uint8_t out[1024], sec[512];
	char body[400], scratch[4096];
	size_t sl, n, bl;

	memset(&h, 0, sizeof(h));
	while (at < r->len) {
		struct sl_h3f_reader rd;
		memset(&rd, 0, sizeof(rd));
		at += sl_h3f_reader_feed(&rd, r->buf + at, r->len - at);
		if (rd.part != 2 || rd.length > r->len - at)
			return -1;
		if (rd.type == SL_H3F_HEADERS &&
		    sl_qpack_decode(r->buf + at, (size_t)rd.length, 16384,
				    scratch, sizeof(scratch), on_field,
				    &h) != SL_QPACK_OK)
			return -1;
		at += (size_t)rd.length;
	}
	printf("request %s %s\n", h.method, h.path);
	fflush(stdout);
	bl = (size_t)snprintf(body, sizeof(body), "%s %s over HTTP/3\n",
			      h.method, h.path);
	/* HEADERS: :status 200 and content-type, then DATA */
	sl = sl_qpack_enc_prefix(sec, sizeof(sec));
	sl += sl_qpack_enc_status(sec + sl, sizeof(sec) - sl, 200);
	sl += sl_qpack_enc_field(sec + sl, sizeof(sec) - sl, "content-type", 12,
				 "text/plain", 10, 0);
	n = sl_h3f_write_header(out, sizeof(out), SL_H3F_HEADERS, sl);
	memcpy(out + n, sec, sl);
	n += sl;
	n += sl_h3f_write_header(out + n, sizeof(out) - n, SL_H3F_DATA, bl);
	memcpy(out + n, body, bl);
	n += bl;
	return sl_qconn_send(hc->c, r->id, out, n, 1);
}

static int
h3_recv(void *arg, int64_t id, const uint8_t *d, size_t n, int fin)
{
	struct h3conn *hc = arg;
	struct h3req *r = NULL;

	if ((id & 3) != 0)
		return 0; /* the client's control and QPACK streams: read */
	for (size_t i = 0; i < 128 && r == NULL; i++)
		if (hc->reqs[i].used && hc->reqs[i].id == id)
			r = &hc->reqs[i];
	for (size_t i = 0; i < 128 && r == NULL; i++)
		if (!hc->reqs[i].used) {
			r = &hc->reqs[i];
			r->used = 1;
			r->id = id;
			r->len = 0;
		}
	if (r == NULL || r->len + n > REQ_MAX)
		return -1;
	if (n > 0) /* a FIN alone comes with no bytes, and d NULL */
		memcpy(r->buf + r->len, d, n);
	r->len += n;
	if (!fin)
		return 0;
	r->used = 0;
	return answer(hc, r);
}

static void
h3_closed(void *arg, int64_t id, uint64_t app_error)
{
	(void)arg;
	(void)id;
	(void)app_error;
}

/* The server's control stream and its SETTINGS, once 1-RTT is ready. */
static void
h3_control(struct h3conn *hc)
{
	struct sl_h3_settings st;
	uint8_t b[64];
	size_t n = 1;
	int64_t id;

	if (hc->controlled || !sl_qconn_established(hc->c) ||
	    (id = sl_qconn_open(hc->c, 0)) < 0)
		return;
	b[0] = 0x00; /* the control stream's type */
	sl_h3_settings_init(&st);
	st.max_field_section_size = 16384;
	n += sl_h3_settings_write(b + 1, sizeof(b) - 1, &st, 0);
	(void)sl_qconn_send(hc->c, id, b, n, 0);
	hc->controlled = 1;
}

static struct h3conn *h3conns[64];

static struct h3conn **
h3_of(const struct sl_qconn *c)
{
	for (size_t i = 0; i < 64; i++)
		if (h3conns[i] != NULL && h3conns[i]->c == c)
			return &h3conns[i];
	return NULL;
}

static void
on_opened(void *arg, struct sl_qconn *c)
{
	struct h3conn *hc = calloc(1, sizeof(*hc)), **slot = h3_of(NULL);
	struct sl_qconn_app app = {h3_recv, NULL, h3_closed, hc, 0, NULL, NULL};

	(void)arg;
	for (size_t i = 0; slot == NULL && i < 64; i++)
		if (h3conns[i] == NULL)
			slot = &h3conns[i];
	if (hc == NULL || slot == NULL) {
		free(hc);
		return;
	}
	hc->c = c;
	*slot = hc;
	sl_qconn_set_app(c, &app);
}

static void
on_ended(void *arg, struct sl_qconn *c)
{
	struct h3conn **slot = h3_of(c);

	(void)arg;
	if (slot != NULL) {
		free(*slot);
		*slot = NULL;
	}
}

int
main(int argc, char **argv)
{
	static uint64_t said[MAXSAID];
	struct sockaddr_in local;
	socklen_t sl = sizeof(local);
	uint8_t key[32];
	struct sl_qend_cfg cfg;
	struct sl_qend *e;
	SSL_CTX *ctx;
	uint64_t start = now_ns();
	size_t nsaid = 0;
	int count = argc > 3 ? atoi(argv[3]) : 1;

	if (argc < 3) {
		fprintf(stderr, "usage: quic_serve CERT KEY [COUNT [retry]]\n");
		return 2;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1 ||
	    sl_qtls_ctx_setup(ctx, 1) != 0 || RAND_bytes(key, 32) != 1) {
		fprintf(stderr, "quic_serve: the certificate\n");
		return 1;
	}
	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &sl) != 0) {
		perror("quic_serve: socket");
		return 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.ctx = ctx;
	cfg.key = key;
	cfg.retry = argc > 4 && strcmp(argv[4], "retry") == 0;
	cfg.max_conns = 64;
	cfg.token_age_ms = 10000;
	cfg.send = on_send;
	cfg.opened = on_opened;
	cfg.ended = on_ended;
	if ((e = sl_qend_new(&cfg, (struct sockaddr *)&local, sl)) == NULL)
		return 1;
	printf("port %d\n", ntohs(local.sin_port));
	fflush(stdout);
	while (now_ns() - start < 20ull * 1000000000u) {
		const struct sl_qend_stats *st = sl_qend_stats(e);
		struct pollfd pfd = {fd, POLLIN, 0};
		uint64_t now = now_ns(), next = sl_qend_run(e, now);
		int timeout = next == UINT64_MAX ? 100
			      : next <= now	 ? 0
					    : (int)((next - now) / 1000000 + 1);

		if (st->accepted >= (uint64_t)count && st->conns == 0)
			break;
		if (poll(&pfd, 1, timeout > 100 ? 100 : timeout) > 0) {
			uint8_t d[65536];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(fd, d, sizeof(d), 0,
					     (struct sockaddr *)&from, &fl);
			if (n > 0)
				sl_qend_input(e, d, (size_t)n,
					      (struct sockaddr *)&from, fl,
					      now_ns());
		}
		/* each handshake done, said once */
		for (size_t i = 0; i < st->conns; i++) {
			struct sl_qconn *c = sl_qend_conn(e, i);
			uint64_t serial = sl_qend_conn_serial(e, i);
			struct h3conn **hc = h3_of(c);
			size_t k = 0;

			if (hc != NULL)
				h3_control(*hc);
			while (k < nsaid && said[k] != serial)
				k++;
			if (k < nsaid || !sl_qconn_established(c) ||
			    nsaid == MAXSAID)
				continue;
			{
				SSL *ssl = sl_qconn_ssl(c);
				const unsigned char *alpn;
				unsigned int alen;
				SSL_get0_alpn_selected(ssl, &alpn, &alen);
				printf("established %s %.*s%s\n",
				       SSL_CIPHER_get_name(
					   SSL_get_current_cipher(ssl)),
				       (int)alen, (const char *)alpn,
				       SSL_session_reused(ssl) ? " resumed"
							       : "");
				fflush(stdout);
			}
			said[nsaid++] = serial;
		}
	}
	{
		const struct sl_qend_stats *st = sl_qend_stats(e);
		printf("stats accepted=%llu retries=%llu closed=%llu "
		       "resets=%llu\n",
		       (unsigned long long)st->accepted,
		       (unsigned long long)st->retries,
		       (unsigned long long)st->closed,
		       (unsigned long long)st->resets);
	}
	sl_qend_free(e);
	SSL_CTX_free(ctx);
	close(fd);
	return 0;
}
