/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of QUIC's datagram steering (src/quic/qroute.c): three UDP
 * sockets of 127.0.0.1 in one SO_REUSEPORT group, the program attached,
 * and datagrams from new source ports (as after a NAT rebinding) whose
 * destination connection ID names each worker, in short and long
 * headers: each reaches the socket of the worker it names, as
 * sl_qroute_worker computes it; a datagram of one byte reaches one, and
 * nothing breaks. The connection IDs issued name their worker; the reset
 * token of a connection ID is the same for the same key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qroute.h"

#define N 3

/* Which of fds received a datagram sent now (-1: none within a second);
 * it is read. */
static int
which(const int *fds)
{
	struct pollfd p[N];
	uint8_t d[64];

	for (int i = 0; i < N; i++) {
		p[i].fd = fds[i];
		p[i].events = POLLIN;
	}
	if (poll(p, N, 1000) <= 0)
		return -1;
	for (int i = 0; i < N; i++)
		if (p[i].revents & POLLIN) {
			assert_true(recv(fds[i], d, sizeof(d), 0) > 0);
			return i;
		}
	return -1;
}

static void
test_steering(void **state)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fds[N], on = 1;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* the workers' sockets, in the workers' order */
	for (int i = 0; i < N; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(setsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT,
					    &on, sizeof(on)),
				 0);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&a, sizeof(a)),
				 0);
		if (i == 0)
			assert_int_equal(
			    getsockname(fds[0], (struct sockaddr *)&a, &al), 0);
	}
	assert_int_equal(sl_qroute_attach(fds[0], N), 0);
	for (int k = 0; k < 4 * N; k++) {
		uint8_t d[32];
		unsigned want = (unsigned)k % N;
		int c = socket(AF_INET, SOCK_DGRAM, 0);

		assert_true(c >= 0);
		memset(d, 0xee, sizeof(d));
		assert_int_equal(
		    sl_qroute_cid(k < 2 * N ? d + 1 : d + 6, 8, want), 0);
		d[0] = k < 2 * N ? 0x40 : 0xc0; /* short, then long */
		if (k >= 2 * N)
			d[5] = 8;
		assert_int_equal(sl_qroute_worker(d, sizeof(d), N), want);
		assert_int_equal(sendto(c, d, sizeof(d), 0,
					(struct sockaddr *)&a, sizeof(a)),
				 sizeof(d));
		assert_int_equal(which(fds), (int)want);
		/* a datagram of one byte: a socket takes it */
		assert_int_equal(
		    sendto(c, d, 1, 0, (struct sockaddr *)&a, sizeof(a)), 1);
		assert_int_equal(which(fds), (int)sl_qroute_worker(d, 1, N));
		close(c);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	errno = 0;
	assert_int_equal(sl_qroute_attach(-1, 0), -1);
}

static void
test_ids_and_tokens(void **state)
{
	uint8_t a[20], b[20], key[32] = {1, 2, 3}, t1[16], t2[16], t3[16];

	(void)state;
	assert_int_equal(sl_qroute_cid(a, 16, 7), 0);
	assert_int_equal(sl_qroute_cid(b, 16, 7), 0);
	assert_int_equal(a[0], 7);
	assert_memory_not_equal(a + 1, b + 1, 15);
	assert_int_equal(sl_qroute_cid(a, 21, 0), -1);
	assert_int_equal(sl_qroute_cid(a, 8, SL_QROUTE_MAX), -1);
	assert_int_equal(sl_qroute_reset_token(key, a, 16, t1), 0);
	assert_int_equal(sl_qroute_reset_token(key, a, 16, t2), 0);
	assert_memory_equal(t1, t2, 16);
	assert_int_equal(sl_qroute_reset_token(key, b, 16, t3), 0);
	assert_memory_not_equal(t1, t3, 16);
	key[0] ^= 1;
	assert_int_equal(sl_qroute_reset_token(key, a, 16, t3), 0);
	assert_memory_not_equal(t1, t3, 16);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_steering),
	    cmocka_unit_test(test_ids_and_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
