/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for test_regress.py (fault injection): the first time
 * sluice writes a 400 response, the socket "is not writable" for 1.5 s, as
 * for a client with a full receive window. writev() returns EAGAIN for any
 * response starting "HTTP/1.1 400" during that time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

static double t0;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (!real)
		real = (ssize_t(*)(int, const struct iovec *, int))dlsym(
		    RTLD_NEXT, "writev");
	if (n > 0 && iov[0].iov_len >= 12 &&
	    memcmp(iov[0].iov_base, "HTTP/1.1 400", 12) == 0) {
		if (t0 == 0)
			t0 = now();
		if (now() - t0 < 1.5) {
			errno = EAGAIN;
			return -1;
		}
	}
	return real(fd, iov, n);
}
