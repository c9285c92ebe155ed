/* SPDX-License-Identifier: MIT */
/*
 * The transport seam: read, write, shut down and ask about one connection,
 * plain TCP or TLS (tls.h) under it. client.c, exchange.c and upstream.c
 * make every call on a connection's bytes through here, with the
 * connection's fd and its SSL (NULL for plain TCP): a plain connection
 * pays one test of a pointer. What a call waits for is the transport's
 * (*want): a TLS read may need the socket writable first, and a TLS write
 * readable; the caller turns *want into read or write interest.
 */
#ifndef SL_XPRT_H
#define SL_XPRT_H

#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tls.h"
#include "util.h"

/*
 * Reads up to len bytes. Returns bytes read, 0 at the end of the stream,
 * or -1 with errno (EAGAIN: *want says for what; EPROTO: a TLS error).
 */
static inline ssize_t
sl_xprt_recv(int fd, SSL *ssl, void *buf, size_t len, int *want)
{
	ssize_t n;

	if (ssl != NULL)
		return sl_tls_read(ssl, buf, len, want);
	*want = SL_TLS_WANT_READ;
	n = recv(fd, buf, len, 0);
	return n;
}

/*
 * Writes iov[0..niov) (flags: MSG_MORE; TLS puts small pieces of one call
 * into one record instead). Returns bytes taken, or -1 with errno (EAGAIN:
 * *want says for what; call again starting with the same bytes).
 */
static inline ssize_t
sl_xprt_sendv(int fd, SSL *ssl, struct iovec *iov, int niov, int flags,
	      int *want)
{
	if (ssl != NULL)
		return sl_tls_writev(ssl, iov, niov, want);
	*want = SL_TLS_WANT_WRITE;
	return sl_sendv(fd, iov, niov, flags);
}

/* Ends the write side: close_notify first on TLS, then the FIN. */
static inline void
sl_xprt_shutdown(int fd, SSL *ssl)
{
	if (ssl != NULL)
		sl_tls_close_notify(ssl);
	shutdown(fd, SHUT_WR);
}

/* Bytes the transport holds that epoll cannot see (TLS: decrypted, or
 * records read from the socket but not yet decrypted). */
static inline int
sl_xprt_pending(SSL *ssl)
{
	return ssl != NULL && sl_tls_pending(ssl);
}

/* 1 when more bytes are waiting: in the transport or in the kernel. */
static inline int
sl_xprt_more_waiting(int fd, SSL *ssl)
{
	int avail = 0;

	if (sl_xprt_pending(ssl))
		return 1;
	return ioctl(fd, FIONREAD, &avail) == 0 && avail > 0;
}

/* Plain-text bytes written but still in the kernel's send queue (TLS
 * records are counted back to their contents). */
static inline int
sl_xprt_outq(int fd, SSL *ssl)
{
	int outq = 0;

	if (ioctl(fd, SIOCOUTQ, &outq) == -1 || outq < 0)
		return 0;
	return ssl != NULL ? sl_tls_plain_bytes(outq) : outq;
}

/* Bytes written but not sent yet: the peer's window has no room for them
 * (TLS: record bytes). */
static inline int
sl_xprt_unsent(int fd)
{
	int n = 0;

	if (ioctl(fd, SIOCOUTQNSD, &n) == -1 || n < 0)
		return 0;
	return n;
}

/*
 * Bytes a write is sure to be taken whole right now, or 0 when so little
 * room is left that the caller should wait for writability instead. The
 * kernel counts its send buffer in memory (SO_MEMINFO: sndbuf, and
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
#define SL_XPRT_MEMINFO_SNDBUF 3 /* SK_MEMINFO_SNDBUF */
#define SL_XPRT_MEMINFO_QUEUED 5 /* SK_MEMINFO_WMEM_QUEUED */

static inline size_t
sl_xprt_send_room(int fd, SSL *ssl)
{
	uint32_t mi[9] = {0};
	socklen_t len = sizeof(mi);
	uint32_t sndbuf, queued, free;

	(void)ssl;
	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == -1 ||
	    len < sizeof(uint32_t) * (SL_XPRT_MEMINFO_QUEUED + 1))
		return SIZE_MAX;
	sndbuf = mi[SL_XPRT_MEMINFO_SNDBUF];
	queued = mi[SL_XPRT_MEMINFO_QUEUED];
	free = sndbuf > queued ? sndbuf - queued : 0;
	return free >= sndbuf / 8 ? free / 2 : 0;
}

#endif
