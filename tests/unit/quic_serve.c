/* SPDX-License-Identifier: MIT */
/*
 * A QUIC server for the QUIC integration tests (test_quic.py), until the
 * daemon serves QUIC itself: sluice's endpoint (src/quic/qend.c:
 * libngtcp2 with sluice's OpenSSL glue) on a UDP socket of 127.0.0.1,
 * for an independent client (ngtcp2's gtlsclient, GnuTLS) to handshake
 * with. Prints "port N" once bound, then "established SUITE ALPN" for
 * each handshake done (" resumed" after it when it resumed a session);
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

#include "qconn.h"
#include "qend.h"
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
			size_t k = 0;
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
