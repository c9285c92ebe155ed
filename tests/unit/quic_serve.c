/* SPDX-License-Identifier: MIT */
/*
 * A QUIC server for the HTTP/3 integration tests (test_http3.py), until
 * the daemon serves QUIC itself: sluice's QUIC connection (src/quic,
 * libngtcp2 with sluice's OpenSSL glue) on a UDP socket of 127.0.0.1,
 * for an independent client (ngtcp2's gtlsclient, GnuTLS) to handshake
 * with. Prints "port N" once bound, then "established SUITE ALPN" for
 * each handshake done (and " resumed" when it resumed a session) and
 * "closed REASON" for each connection ended;
 * exits after COUNT connections have ended, or after 20 s.
 *
 *   quic_serve CERT.pem KEY.pem [COUNT]
 *
 * One connection a client address (no connection-ID routing: that is the
 * endpoint's, doc/http3.md).
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

#include "qconn.h"
#include "qtls.h"

#define MAXC 8

struct peer {
	struct sl_qconn *c;
	struct sockaddr_in addr;
	int said;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct sockaddr_in local;
/* worker 0's connection IDs, random reset tokens */
static const struct sl_qconn_ids ids = {0, NULL};

static struct sl_qpath
path_of(const struct peer *p)
{
	struct sl_qpath q;

	q.local = (const struct sockaddr *)&local;
	q.local_len = sizeof(local);
	q.remote = (const struct sockaddr *)&p->addr;
	q.remote_len = sizeof(p->addr);
	return q;
}

/* What p writes, sent; its end said and freed when it is over. Returns 1
 * when it ended. */
static int
pump(int fd, struct peer *p, uint64_t now)
{
	uint8_t d[1500];
	long n;

	while ((n = sl_qconn_write(p->c, d, sizeof(d), now)) > 0)
		(void)sendto(fd, d, (size_t)n, 0,
			     (const struct sockaddr *)&p->addr,
			     sizeof(p->addr));
	if (!p->said && sl_qconn_established(p->c)) {
		SSL *ssl = sl_qconn_ssl(p->c);
		const unsigned char *alpn;
		unsigned int alen;

		SSL_get0_alpn_selected(ssl, &alpn, &alen);
		printf("established %s %.*s%s\n",
		       SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)),
		       (int)alen, (const char *)alpn,
		       SSL_session_reused(ssl) ? " resumed" : "");
		fflush(stdout);
		p->said = 1;
	}
	return n < 0;
}

static void
end(struct peer *p)
{
	printf("closed %s\n", sl_qconn_error(p->c));
	fflush(stdout);
	sl_qconn_free(p->c);
	p->c = NULL;
}

int
main(int argc, char **argv)
{
	struct peer peers[MAXC];
	SSL_CTX *ctx;
	socklen_t sl = sizeof(local);
	uint64_t start = now_ns();
	int fd, count = argc > 3 ? atoi(argv[3]) : 1, ended = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: quic_serve CERT KEY [COUNT]\n");
		return 2;
	}
	memset(peers, 0, sizeof(peers));
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1 ||
	    sl_qtls_ctx_setup(ctx, 1) != 0) {
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
	printf("port %d\n", ntohs(local.sin_port));
	fflush(stdout);
	while (ended < count && now_ns() - start < 20ull * 1000000000u) {
		struct pollfd pfd = {fd, POLLIN, 0};
		uint64_t now = now_ns(), next = UINT64_MAX;
		int timeout;

		for (int i = 0; i < MAXC; i++)
			if (peers[i].c != NULL &&
			    sl_qconn_expiry(peers[i].c) < next)
				next = sl_qconn_expiry(peers[i].c);
		timeout = next == UINT64_MAX ? 100
			  : next <= now	     ? 0
					: (int)((next - now) / 1000000 + 1);
		if (timeout > 100)
			timeout = 100;
		if (poll(&pfd, 1, timeout) > 0) {
			uint8_t d[65536];
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(fd, d, sizeof(d), 0,
					     (struct sockaddr *)&from, &fl);
			struct peer *p = NULL, *spare = NULL;

			now = now_ns();
			for (int i = 0; n > 0 && i < MAXC; i++) {
				if (peers[i].c == NULL) {
					if (spare == NULL)
						spare = &peers[i];
				} else if (memcmp(&peers[i].addr, &from,
						  sizeof(from)) == 0)
					p = &peers[i];
			}
			if (p != NULL) {
				struct sl_qpath q = path_of(p);
				if (sl_qconn_read(p->c, &q, d, (size_t)n,
						  now) != 0) {
					end(p);
					ended++;
				}
			} else if (spare != NULL && n > 0) {
				struct sl_qpath q;
				spare->addr = from;
				spare->said = 0;
				q = path_of(spare);
				spare->c = sl_qconn_accept(ctx, &ids, &q, d,
							   (size_t)n, now);
			}
		}
		now = now_ns();
		for (int i = 0; i < MAXC; i++) {
			struct peer *p = &peers[i];
			if (p->c == NULL)
				continue;
			if ((sl_qconn_expiry(p->c) <= now &&
			     sl_qconn_expire(p->c, now) != 0) ||
			    pump(fd, p, now)) {
				end(p);
				ended++;
			}
		}
	}
	for (int i = 0; i < MAXC; i++)
		if (peers[i].c != NULL)
			sl_qconn_free(peers[i].c);
	SSL_CTX_free(ctx);
	close(fd);
	return 0;
}
