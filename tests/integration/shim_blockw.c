/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for test_regress.py (fault injection): the first time
 * sluice writes a 400 response, the socket "is not writable" for 1.5 s, as
 * for a client with a full receive window. send(), sendmsg() and writev()
 * return EAGAIN for any response starting "HTTP/1.1 400" during that time.
 * The first refusal creates the file named by $SHIM_MARK, so that the test
 * can tell the fault was injected at all.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double t0;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether a write starting with buf must fail now. */
static int
blocked(const void *buf, size_t len)
{
	if (len < 12 || memcmp(buf, "HTTP/1.1 400", 12) != 0)
		return 0;
	if (t0 == 0) {
		const char *mark = getenv("SHIM_MARK");
		int fd;

		t0 = now();
		if (mark != NULL &&
		    (fd = open(mark, O_WRONLY | O_CREAT, 0600)) != -1)
			close(fd);
	}
	if (now() - t0 < 1.5) {
		errno = EAGAIN;
		return 1;
	}
	return 0;
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (!real)
		real = (ssize_t(*)(int, const struct iovec *, int))dlsym(
		    RTLD_NEXT, "writev");
	if (n > 0 && blocked(iov[0].iov_base, iov[0].iov_len))
		return -1;
	return real(fd, iov, n);
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, const void *, size_t, int);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, int))dlsym(
		    RTLD_NEXT, "send");
	if (blocked(buf, len))
		return -1;
	return real(fd, buf, len, flags);
}

ssize_t
sendmsg(int fd, const struct msghdr *mh, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	if (!real)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(
		    RTLD_NEXT, "sendmsg");
	if (mh->msg_iovlen > 0 &&
	    blocked(mh->msg_iov[0].iov_base, mh->msg_iov[0].iov_len))
		return -1;
	return real(fd, mh, flags);
}
