/* SPDX-License-Identifier: MIT */
/*
 * contrib/bench/wcount.c -- a gateway's writes, reads, loop turns and TLS
 * records, counted from inside it (LD_PRELOAD), for doc/performance.md
 * ("Issue 79, session 51"). Build and use:
 *	cc -O2 -shared -fPIC -o wcount.so contrib/bench/wcount.c -ldl
 *	WCOUNT_OUT=/tmp/w.bin WCOUNT_UP_PORT=19100 LD_PRELOAD=./wcount.so \
 *	    sluice -c ...	(or haproxy -f ...)
 * The counters are twelve 64-bit words in WCOUNT_OUT, a file mapped shared,
 * so that they can be read before and after a run while the gateway runs
 * (python3 -c 'import struct,sys; print(struct.unpack("12Q",
 * open(sys.argv[1],"rb").read(96)))' /tmp/w.bin): epoll_wait calls, the
 * events they returned, those that returned none; writes to clients
 * (write, send, sendto, writev, sendmsg on a socket whose peer's port is
 * not WCOUNT_UP_PORT), their bytes, reads from clients; writes and reads
 * on upstream sockets; SSL_write and SSL_write_ex calls, their bytes, the
 * TLS records they made (a record per 16 KiB: neither gateway changes
 * max_send_fragment), and those that failed. OpenSSL's socket BIO and
 * HAProxy's own both write through libc, so sluice, nginx and HAProxy are
 * counted alike. Not for production: a getpeername per new descriptor.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
	EPW,
	EPW_EV,
	EPW_ZERO,
	C_W,
	C_WB,
	C_R,
	U_W,
	U_R,
	SSLW,
	SSLWB,
	SSLREC,
	SSLW_FAIL,
	NC
};
static volatile uint64_t *cnt;
static uint16_t peer[65536]; /* 0: not asked yet; 2: a client; 3: an upstream */
static int upport;

static void __attribute__((constructor)) init(void)
{
	const char *p = getenv("WCOUNT_OUT");
	const char *u = getenv("WCOUNT_UP_PORT");
	static uint64_t dummy[NC];
	cnt = dummy;
	upport = u ? atoi(u) : 29100;
	if (p) {
		int fd = open(p, O_RDWR | O_CREAT, 0644);
		if (fd >= 0 && ftruncate(fd, 4096) == 0) {
			void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_SHARED, fd, 0);
			if (m != MAP_FAILED)
				cnt = m;
		}
	}
}
#define ADD(i, n) __atomic_fetch_add(&cnt[i], (uint64_t)(n), __ATOMIC_RELAXED)

static int
side(int fd) /* 0 other, 1 client, 2 upstream */
{
	if (fd < 0 || fd >= 65536)
		return 0;
	if (peer[fd] == 0) {
		struct sockaddr_storage ss;
		socklen_t l = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &l) == 0 &&
		    ss.ss_family == AF_INET)
			peer[fd] = (uint16_t)(ntohs(((struct sockaddr_in *)&ss)
							->sin_port) == upport
						  ? 3
						  : 2);
		else
			return 0; /* not yet connected, or not a socket: ask
				     again */
	}
	return peer[fd] - 1;
}
#define REAL(name)                                                             \
	static __typeof__(name) *real;                                         \
	if (!real)                                                             \
	real = dlsym(RTLD_NEXT, #name)

static void
wr(int fd, ssize_t n)
{
	int s = side(fd);
	if (s == 1) {
		ADD(C_W, 1);
		if (n > 0)
			ADD(C_WB, n);
	} else if (s == 2)
		ADD(U_W, 1);
}
static void
rd(int fd)
{
	int s = side(fd);
	if (s == 1)
		ADD(C_R, 1);
	else if (s == 2)
		ADD(U_R, 1);
}

ssize_t
write(int fd, const void *b, size_t n)
{
	REAL(write);
	ssize_t r = real(fd, b, n);
	wr(fd, r);
	return r;
}
ssize_t
send(int fd, const void *b, size_t n, int f)
{
	REAL(send);
	ssize_t r = real(fd, b, n, f);
	wr(fd, r);
	return r;
}
ssize_t
sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a,
       socklen_t l)
{
	REAL(sendto);
	ssize_t r = real(fd, b, n, f, a, l);
	wr(fd, r);
	return r;
}
ssize_t
writev(int fd, const struct iovec *v, int c)
{
	REAL(writev);
	ssize_t r = real(fd, v, c);
	wr(fd, r);
	return r;
}
ssize_t
sendmsg(int fd, const struct msghdr *m, int f)
{
	REAL(sendmsg);
	ssize_t r = real(fd, m, f);
	wr(fd, r);
	return r;
}
ssize_t
read(int fd, void *b, size_t n)
{
	REAL(read);
	ssize_t r = real(fd, b, n);
	rd(fd);
	return r;
}
ssize_t
recv(int fd, void *b, size_t n, int f)
{
	REAL(recv);
	ssize_t r = real(fd, b, n, f);
	rd(fd);
	return r;
}
ssize_t
recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l)
{
	REAL(recvfrom);
	ssize_t r = real(fd, b, n, f, a, l);
	rd(fd);
	return r;
}
ssize_t
readv(int fd, const struct iovec *v, int c)
{
	REAL(readv);
	ssize_t r = real(fd, v, c);
	rd(fd);
	return r;
}
int
close(int fd)
{
	REAL(close);
	if (fd >= 0 && fd < 65536)
		peer[fd] = 0;
	return real(fd);
}
int
epoll_wait(int e, struct epoll_event *ev, int m, int t)
{
	REAL(epoll_wait);
	int r = real(e, ev, m, t);
	ADD(EPW, 1);
	if (r > 0)
		ADD(EPW_EV, r);
	else
		ADD(EPW_ZERO, 1);
	return r;
}
int
SSL_write(void *s, const void *b, int n)
{
	REAL(SSL_write);
	int r = real(s, b, n);
	ADD(SSLW, 1);
	if (r > 0) {
		ADD(SSLWB, r);
		ADD(SSLREC, (r + 16383) / 16384);
	} else
		ADD(SSLW_FAIL, 1);
	return r;
}
int
SSL_write_ex(void *s, const void *b, size_t n, size_t *w)
{
	REAL(SSL_write_ex);
	int r = real(s, b, n, w);
	ADD(SSLW, 1);
	if (r > 0) {
		ADD(SSLWB, *w);
		ADD(SSLREC, (*w + 16383) / 16384);
	} else
		ADD(SSLW_FAIL, 1);
	return r;
}
