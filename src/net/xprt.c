/* SPDX-License-Identifier: MIT */
/*
 * The transports of real connections (xprt.h): plain TCP on a socket, and
 * TLS on the same socket through tls.c (SSL_read_ex / SSL_write_ex on the
 * descriptor, no BIO of ours), and the table of every kind. Knows no
 * connection: each operation gets a descriptor and the transport's
 * context.
 */
#include "xprt.h"

#include <event2/event.h>
#include <stdint.h>
#include <unistd.h>

/* ---- plain TCP -------------------------------------------------------- */

static ssize_t
tcp_recv(int fd, void *x, void *buf, size_t len, int *want)
{
	(void)x;
	*want = SL_TLS_WANT_READ;
	return recv(fd, buf, len, 0);
}

/* Several buffers: out of tcp_sendv's way, so that the common single one
 * is a tail call to send(). */
static __attribute__((noinline)) ssize_t
tcp_sendmsg(int fd, struct iovec *iov, int niov, int flags)
{
	return sl_sendv(fd, iov, niov, flags);
}

static ssize_t
tcp_sendv(int fd, void *x, struct iovec *iov, int niov, int flags, int *want)
{
	(void)x;
	*want = SL_TLS_WANT_WRITE;
	if (niov == 1)
		return send(fd, iov[0].iov_base, iov[0].iov_len,
			    flags | MSG_NOSIGNAL);
	return tcp_sendmsg(fd, iov, niov, flags);
}

static void
tcp_shutdown(int fd, void *x)
{
	(void)x;
	shutdown(fd, SHUT_WR);
}

static int
tcp_connect_error(int fd, void *x)
{
	socklen_t len;
	int err = 0;

	(void)x;
	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	return err;
}

static int
tcp_pending(int fd, void *x)
{
	(void)fd;
	(void)x;
	return 0;
}

static int
tcp_more_waiting(int fd, void *x)
{
	int avail = 0;

	(void)x;
	return ioctl(fd, FIONREAD, &avail) == 0 && avail > 0;
}

static int
tcp_outq(int fd, void *x)
{
	int outq = 0;

	(void)x;
	if (ioctl(fd, SIOCOUTQ, &outq) == -1 || outq < 0)
		return 0;
	return outq;
}

static int
tcp_unsent(int fd, void *x)
{
	int n = 0;

	(void)x;
	if (ioctl(fd, SIOCOUTQNSD, &n) == -1 || n < 0)
		return 0;
	return n;
}

/*
 * The kernel counts its send buffer in memory (SO_MEMINFO: sndbuf, and
 * wmem_queued, bytes plus their buffers' overhead); half of what is free
 * is what a write can take. Less than an eighth free counts as none: the
 * kernel reports the socket writable only once a third is free, so a
 * wait for writability ends with room (no spinning), and only after the
 * client read a fifth of the buffer, not when a few bytes in flight were
 * acknowledged (a wait that ends fast says the client reads fast).
 * Under TLS the same holds for the plain text: a record adds 22 bytes to
 * up to 16 KiB, far less than the half kept back. A failed query: no
 * limit.
 */
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#define MEMINFO_SNDBUF 3 /* SK_MEMINFO_SNDBUF */
#define MEMINFO_QUEUED 5 /* SK_MEMINFO_WMEM_QUEUED */

static size_t
tcp_send_room(int fd, void *x)
{
	uint32_t mi[9] = {0};
	socklen_t len = sizeof(mi);
	uint32_t sndbuf, queued, free;

	(void)x;
	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == -1 ||
	    len < sizeof(uint32_t) * (MEMINFO_QUEUED + 1))
		return SIZE_MAX;
	sndbuf = mi[MEMINFO_SNDBUF];
	queued = mi[MEMINFO_QUEUED];
	free = sndbuf > queued ? sndbuf - queued : 0;
	return free >= sndbuf / 8 ? free / 2 : 0;
}

static int
tcp_watch(int fd, void *x, struct event *ev, int on)
{
	(void)fd;
	(void)x;
	return on ? event_add(ev, NULL) : event_del(ev);
}

static void
tcp_abort(int fd, void *x)
{
	struct linger lg = {1, 0};

	(void)x;
	/* SO_LINGER 0: close() sends a reset, and drops what is queued */
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void
tcp_close(int fd, void *x, int notify)
{
	(void)x;
	(void)notify;
	if (fd != -1)
		close(fd);
}

static const struct sl_xprt_ops tcp_ops = {
    .name = "tcp",
    .recv = tcp_recv,
    .sendv = tcp_sendv,
    .shutdown = tcp_shutdown,
    .connect_error = tcp_connect_error,
    .pending = tcp_pending,
    .more_waiting = tcp_more_waiting,
    .outq = tcp_outq,
    .unsent = tcp_unsent,
    .send_room = tcp_send_room,
    .watch = tcp_watch,
    .abort = tcp_abort,
    .close = tcp_close,
};

/* ---- TLS on the socket ------------------------------------------------ */

static ssize_t
tls_recv(int fd, void *x, void *buf, size_t len, int *want)
{
	(void)fd;
	return sl_tls_read(x, buf, len, want);
}

static ssize_t
tls_sendv(int fd, void *x, struct iovec *iov, int niov, int flags, int *want)
{
	(void)fd;
	(void)flags;
	return sl_tls_writev(x, iov, niov, want);
}

static void
tls_shutdown(int fd, void *x)
{
	sl_tls_close_notify(x);
	shutdown(fd, SHUT_WR);
}

static int
tls_pending(int fd, void *x)
{
	(void)fd;
	return sl_tls_pending(x);
}

static int
tls_more_waiting(int fd, void *x)
{
	return sl_tls_pending(x) || tcp_more_waiting(fd, NULL);
}

static int
tls_outq(int fd, void *x)
{
	(void)x;
	return sl_tls_plain_bytes(tcp_outq(fd, NULL));
}

static void
tls_abort(int fd, void *x)
{
	tcp_abort(fd, NULL);
	/* and no close_notify: the peer must not take the part for all */
	sl_tls_abort(x);
}

static void
tls_close(int fd, void *x, int notify)
{
	/* close_notify: the end is an end, not a cut */
	sl_tls_free(x, notify);
	tcp_close(fd, NULL, 0);
}

static const struct sl_xprt_ops tls_ops = {
    .name = "tls",
    .recv = tls_recv,
    .sendv = tls_sendv,
    .shutdown = tls_shutdown,
    .connect_error = tcp_connect_error,
    .pending = tls_pending,
    .more_waiting = tls_more_waiting,
    .outq = tls_outq,
    .unsent = tcp_unsent,
    .send_room = tcp_send_room,
    .watch = tcp_watch,
    .abort = tls_abort,
    .close = tls_close,
};

const struct sl_xprt_ops *sl_xprt_table[SL_XPRT_NKINDS] = {
    [SL_XPRT_TCP] = &tcp_ops, [SL_XPRT_TLS] = &tls_ops,
    /* SL_XPRT_MEM: xprt_mem.c's, set by its first pair (a test's) */
};

void
sl_xprt_thread_free(void)
{
	/* a thread that ends may read a kind another thread gives its
	 * operations now (its first HTTP/2 upstream stream, a test's first
	 * memory pair): the two sides are atomic */
	for (int k = 0; k < SL_XPRT_NKINDS; k++) {
		const struct sl_xprt_ops *o =
		    __atomic_load_n(&sl_xprt_table[k], __ATOMIC_ACQUIRE);
		if (o != NULL && o->thread_free != NULL)
			o->thread_free();
	}
}

void
sl_xprt_set_stream(const struct sl_xprt_ops *ops)
{
	__atomic_store_n(&sl_xprt_table[SL_XPRT_STREAM], ops, __ATOMIC_RELEASE);
}
