/* SPDX-License-Identifier: MIT */
/* Unit tests for spliced request bodies' pipes and moves (splice.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "splice.h"

static int
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void
test_pool_keeps_empty_pipes_and_closes_full_ones(void **state)
{
	struct sl_pipes pp;
	struct sl_pipe *a, *b;
	int ard, bwr;

	(void)state;
	sl_pipes_init(&pp);
	a = sl_pipe_get(&pp);
	b = sl_pipe_get(&pp);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(pp.inuse, 2);
	assert_int_equal(a->held, 0);
	ard = a->rd;
	bwr = b->wr;
	/* an empty pipe is kept for the next body */
	sl_pipe_put(&pp, a);
	assert_int_equal(pp.nfree, 1);
	assert_true(fd_open(ard));
	assert_ptr_equal(sl_pipe_get(&pp), a);
	assert_int_equal(pp.nfree, 0);
	/* one that holds bytes is closed, its bytes with it */
	assert_int_equal(write(b->wr, "xyz", 3), 3);
	b->held = 3;
	sl_pipe_put(&pp, b);
	assert_int_equal(pp.nfree, 0);
	assert_int_equal(pp.inuse, 1);
	assert_false(fd_open(bwr));
	sl_pipe_put(&pp, a);
	sl_pipes_drain(&pp);
	assert_false(fd_open(ard));
	assert_int_equal(pp.nfree, 0);
}

static void
test_pool_limits(void **state)
{
	struct sl_pipes pp;
	struct sl_pipe *p[SL_PIPES_MAX_FREE + 4];

	(void)state;
	sl_pipes_init(&pp);
	pp.max_inuse = 3;
	for (int i = 0; i < 3; i++)
		assert_non_null(p[i] = sl_pipe_get(&pp));
	errno = 0;
	assert_null(sl_pipe_get(&pp));
	assert_int_equal(errno, EBUSY);
	sl_pipe_put(&pp, p[0]);
	assert_non_null(p[0] = sl_pipe_get(&pp));
	for (int i = 0; i < 3; i++)
		sl_pipe_put(&pp, p[i]);
	/* no more than SL_PIPES_MAX_FREE are kept */
	pp.max_inuse = SL_PIPES_MAX_FREE + 4;
	for (int i = 0; i < SL_PIPES_MAX_FREE + 4; i++)
		assert_non_null(p[i] = sl_pipe_get(&pp));
	for (int i = 0; i < SL_PIPES_MAX_FREE + 4; i++)
		sl_pipe_put(&pp, p[i]);
	assert_int_equal(pp.nfree, SL_PIPES_MAX_FREE);
	assert_int_equal(pp.inuse, 0);
	sl_pipes_drain(&pp);
}

static void
test_moves_stop_at_max_and_keep_order(void **state)
{
	struct sl_pipes pp;
	struct sl_pipe *p;
	int in[2], out[2];
	char buf[256], got[256];
	ssize_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, in), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, out), 0);
	assert_int_equal(fcntl(in[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
	sl_pipes_init(&pp);
	p = sl_pipe_get(&pp);
	assert_non_null(p);
	/* nothing to read yet */
	errno = 0;
	assert_int_equal(sl_splice_in(p, in[1], 100), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(write(in[0], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	/* the body's rest is 100 bytes: not one more is taken */
	n = sl_splice_in(p, in[1], 100);
	assert_int_equal(n, 100);
	assert_int_equal(p->held, 100);
	n = sl_splice_out(p, out[0]);
	assert_int_equal(n, 100);
	assert_int_equal(p->held, 0);
	assert_int_equal(read(out[1], got, sizeof(got)), 100);
	assert_memory_equal(got, buf, 100);
	/* what followed the body is still in the socket, in order */
	assert_int_equal(read(in[1], got, sizeof(got)), 156);
	assert_memory_equal(got, buf + 100, 156);
	/* the end of the stream */
	close(in[0]);
	assert_int_equal(sl_splice_in(p, in[1], 100), 0);
	assert_int_equal(p->held, 0);
	sl_pipe_put(&pp, p);
	sl_pipes_drain(&pp);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

static void
test_full_socket_keeps_bytes_in_the_pipe(void **state)
{
	struct sl_pipes pp;
	struct sl_pipe *p;
	int in[2], out[2], sz = 4096;
	static char big[65536];
	uint32_t moved = 0;
	ssize_t n;
	int blocked = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, in), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, out), 0);
	assert_int_equal(fcntl(in[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(out[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(
	    setsockopt(out[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	memset(big, 'b', sizeof(big));
	sl_pipes_init(&pp);
	p = sl_pipe_get(&pp);
	/* the other side reads nothing: sooner or later some stays in the
	 * pipe, and the move says EAGAIN */
	for (int k = 0; k < 256 && !blocked; k++) {
		if (p->held == 0) {
			assert_int_equal(write(in[0], big, 16384), 16384);
			moved = 0;
			while (moved < 16384 &&
			       (n = sl_splice_in(p, in[1], 16384 - moved)) > 0)
				moved += (uint32_t)n;
			assert_int_equal(moved, 16384);
		}
		n = sl_splice_out(p, out[0]);
		if (n == -1) {
			assert_int_equal(errno, EAGAIN);
			blocked = 1;
		}
	}
	assert_true(blocked);
	assert_true(p->held > 0);
	/* drained by the reader, the rest goes */
	while (p->held > 0) {
		while (read(out[1], big, sizeof(big)) > 0)
			;
		(void)sl_splice_out(p, out[0]);
	}
	sl_pipe_put(&pp, p);
	assert_int_equal(pp.nfree, 1);
	sl_pipes_drain(&pp);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

/* A connected TCP pair on loopback: *a the connecting end, *b the
 * accepted one (non-blocking). */
static void
tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*b = accept(l, NULL, NULL);
	assert_true(*b >= 0);
	assert_int_equal(fcntl(*b, F_SETFL, O_NONBLOCK), 0);
	close(l);
}

static void
test_stuck_at_urgent_data_only(void **state)
{
	struct sl_pipes pp;
	struct sl_pipe *p;
	int a, b;
	char got[8];
	ssize_t n = 0;

	(void)state;
	tcp_pair(&a, &b);
	sl_pipes_init(&pp);
	p = sl_pipe_get(&pp);
	/* nothing there: EAGAIN, and not stuck */
	assert_int_equal(sl_splice_in(p, b, 100), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(sl_splice_stuck(b), 0);
	assert_int_equal(send(a, "ab", 2, 0), 2);
	assert_int_equal(send(a, "U", 1, MSG_OOB), 1);
	assert_int_equal(send(a, "cd", 2, 0), 2);
	/* the bytes before the mark move (once they are all there) */
	for (int i = 0; i < 1000 && p->held < 2; i++)
		(void)sl_splice_in(p, b, 100);
	assert_int_equal(p->held, 2);
	/* then nothing more, though "cd" waits: stuck */
	assert_int_equal(sl_splice_in(p, b, 100), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(sl_splice_stuck(b), 1);
	/* recv() passes the mark: the urgent byte is not in the stream */
	for (int i = 0; i < 1000 && n <= 0; i++)
		n = recv(b, got, sizeof(got), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(got, "cd", 2);
	p->held = 0; /* (its two bytes go with the pipe) */
	sl_pipe_put(&pp, p);
	sl_pipes_drain(&pp);
	close(a);
	close(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool_keeps_empty_pipes_and_closes_full_ones),
	    cmocka_unit_test(test_pool_limits),
	    cmocka_unit_test(test_moves_stop_at_max_and_keep_order),
	    cmocka_unit_test(test_full_socket_keeps_bytes_in_the_pipe),
	    cmocka_unit_test(test_stuck_at_urgent_data_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
