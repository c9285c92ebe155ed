/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for test_regress.py: every socket sluice connects (the
 * upstream connections) gets a 4 KiB send buffer, so that a large request
 * head is written in several steps and an upstream can answer before it is
 * all out.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

int
connect(int fd, const struct sockaddr *sa, socklen_t l)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	int v = 4096;

	if (!real)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(
		    RTLD_NEXT, "connect");
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
	return real(fd, sa, l);
}
