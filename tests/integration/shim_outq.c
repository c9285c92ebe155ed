/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for test_regress.py: counts sluice's
 * ioctl(SIOCOUTQNSD) calls (what a close asks about bytes still unsent)
 * by appending a line to the file SHIM_OUTQ_LOG names.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

int
ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real =
		    (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	if (req == SIOCOUTQNSD && getenv("SHIM_OUTQ_LOG") != NULL) {
		int lf = open(getenv("SHIM_OUTQ_LOG"),
			      O_WRONLY | O_APPEND | O_CREAT, 0600);
		if (lf >= 0) {
			(void)write(lf, "q\n", 2);
			close(lf);
		}
	}
	return real(fd, req, arg);
}
