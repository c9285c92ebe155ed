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

#endif
