/* SPDX-License-Identifier: MIT */
/*
 * The memory transport (xprt.h), for tests: a pair of ends, each holding
 * in memory the bytes the other wrote until they are read. One end is a
 * connection's, the other the test's. There is no descriptor, so nothing
 * tells libevent when an end can be read or written: the end keeps the
 * events its connection watches (assigned on descriptor -1, which libevent
 * adds without asking epoll) and activates them itself whenever what they
 * wait for is there, after every operation on either end, as epoll's
 * level-triggered readiness would. An end may also be connecting (an
 * upstream connection a test's connector made): held, it waits for the
 * other end to accept or refuse, as a socket waits for the SYN's answer.
 * The daemon does not use it: an HTTP/2 upstream's stream is a transport
 * of its own (SL_XPRT_STREAM, h2up.c).
 */
#include "xprt.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define M_SHUT	 0x01 /* this end shut its write side (or closed) */
#define M_CLOSED 0x02 /* this end closed: only its peer uses the pair */
#define M_RESET	 0x04 /* this end cut the connection with a reset */
#define M_ABORT	 0x08 /* its close is to be a reset (abort) */
#define M_FIRST	 0x10 /* the pair's allocation starts here */
#define M_UNPROC 0x20 /* what the peer wrote was not processed */

struct sl_xprt_mem {
	struct sl_xprt_mem *peer;
	unsigned flags; /* M_* */
	char *buf;	/* bytes for this end to read: [off, len) */
	size_t off, len, cap;
	size_t window;	   /* most unread bytes it holds; SIZE_MAX: any */
	unsigned note;	   /* for its peer (sl_xprt_mem_set_note) */
	int conn_err;	   /* its connect: 0 made, EINPROGRESS held (by the
			      peer: sl_xprt_mem_hold), else refused */
	struct event *rev; /* its connection's events, while watched */
	struct event *wev;
};

/*
 * Pairs whose two ends closed, kept by the thread that closed them (a
 * worker makes and ends its pairs itself), with their buffers when these
 * are no larger than PAIR_BUF_KEPT: when each gRPC call through an HTTP/2
 * upstream made one (until issue 62), its calloc, the buffers' first
 * reallocs and the frees were about 1,500 instructions a call; the tests
 * that make thousands of pairs keep the reuse. Linked
 * through the first end's peer. As many as the calls a worker has in
 * flight at once are reused (a pair calloc'd again at every call past
 * the kept number cost 2,350 instructions a call at 128 calls in flight,
 * session 30), and the buffers they keep are bounded in bytes: after a
 * peak, a worker keeps at most PAIRS_KEPT structs and PAIR_BYTES_KEPT
 * of buffers.
 */
#define PAIRS_KEPT	256
#define PAIR_BUF_KEPT	16384
#define PAIR_BYTES_KEPT (512 * 1024)
static _Thread_local struct sl_xprt_mem *pairs_kept;
static _Thread_local unsigned npairs_kept;
static _Thread_local size_t pair_bytes_kept;

/* An end as new, its buffer kept. */
static void
end_reset(struct sl_xprt_mem *e)
{
	char *buf = e->buf;
	size_t cap = e->cap;

	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->cap = cap;
}

/* A pair's memory back to malloc: its two buffers and the pair. */
static void
pair_dispose(struct sl_xprt_mem *p)
{
	free(p[0].buf);
	free(p[1].buf);
	free(p);
}

/* The pair both of whose ends closed: kept, or freed. */
static void
pair_put(struct sl_xprt_mem *p)
{
	if (npairs_kept >= PAIRS_KEPT) {
		pair_dispose(p);
		return;
	}
	for (int i = 0; i < 2; i++)
		if (p[i].cap > PAIR_BUF_KEPT ||
		    pair_bytes_kept + p[i].cap > PAIR_BYTES_KEPT) {
			free(p[i].buf);
			p[i].buf = NULL;
			p[i].cap = 0;
		} else {
			pair_bytes_kept += p[i].cap;
		}
	p[0].peer = pairs_kept;
	pairs_kept = p;
	npairs_kept++;
}

void
sl_xprt_mem_cache_free(void)
{
	struct sl_xprt_mem *p;

	while ((p = pairs_kept) != NULL) {
		pairs_kept = p[0].peer;
		pair_dispose(p);
	}
	npairs_kept = 0;
	pair_bytes_kept = 0;
}

static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void
table_set(void)
{
	/* atomic: sl_xprt_thread_free reads it on other threads */
	__atomic_store_n(&sl_xprt_table[SL_XPRT_MEM], &sl_xprt_mem_ops,
			 __ATOMIC_RELEASE);
}

int
sl_xprt_mem_pair(struct sl_xprt_mem **a, struct sl_xprt_mem **b)
{
	struct sl_xprt_mem *p = pairs_kept;

	pthread_once(&table_once, table_set);
	if (p != NULL) {
		pairs_kept = p[0].peer;
		npairs_kept--;
		pair_bytes_kept -= p[0].cap + p[1].cap;
		end_reset(&p[0]);
		end_reset(&p[1]);
	} else if ((p = calloc(2, sizeof(*p))) == NULL) {
		return -1;
	}
	p[0].peer = &p[1];
	p[1].peer = &p[0];
	p[0].flags = M_FIRST;
	p[0].window = p[1].window = SIZE_MAX;
	*a = &p[0];
	*b = &p[1];
	return 0;
}

static size_t
held(const struct sl_xprt_mem *e)
{
	return e->len - e->off;
}

/* What a read on e would not wait for: bytes, an end, a reset, a
 * refused connect. */
static int
readable(const struct sl_xprt_mem *e)
{
	if (e->conn_err != 0)
		return e->conn_err != EINPROGRESS;
	return held(e) > 0 || (e->peer->flags & (M_SHUT | M_RESET));
}

/* Room in e's peer for what e writes; a write that would fail (an end, a
 * reset) does not wait either. */
static size_t
room(const struct sl_xprt_mem *e)
{
	const struct sl_xprt_mem *p = e->peer;

	/* a connect in progress is not writable; one that failed is (as a
	 * socket's: the write says why) */
	if (e->conn_err != 0)
		return e->conn_err == EINPROGRESS ? 0 : SIZE_MAX;
	if ((e->flags & M_SHUT) || (p->flags & (M_CLOSED | M_RESET)))
		return SIZE_MAX;
	if (p->window == SIZE_MAX)
		return SIZE_MAX;
	return p->window > held(p) ? p->window - held(p) : 0;
}

/* Activates the events e's connection watches whose wait is over. */
static void
kick(struct sl_xprt_mem *e)
{
	if (e->flags & M_CLOSED)
		return;
	/* e->rev and e->wev are set only while watched (mem_watch) */
	if (e->rev != NULL && readable(e))
		event_active(e->rev, EV_READ, 1);
	if (e->wev != NULL && room(e) > 0)
		event_active(e->wev, EV_WRITE, 1);
}

static ssize_t
mem_recv(int fd, void *x, void *buf, size_t len, int *want)
{
	struct sl_xprt_mem *e = x;
	size_t n;

	(void)fd;
	*want = SL_TLS_WANT_READ;
	if (e->flags & M_CLOSED) {
		errno = EBADF;
		return -1;
	}
	if (e->conn_err != 0) {
		errno = e->conn_err == EINPROGRESS ? EAGAIN : e->conn_err;
		return -1;
	}
	/* bytes already come are read before an end or a reset */
	if ((n = SL_MIN(len, held(e))) > 0) {
		memcpy(buf, e->buf + e->off, n);
		e->off += n;
		if (e->off == e->len)
			e->off = e->len = 0;
		kick(e->peer); /* room for its writer */
		kick(e);       /* more to read: level-triggered */
		return (ssize_t)n;
	}
	if (e->peer->flags & M_RESET) {
		errno = ECONNRESET;
		return -1;
	}
	if (e->peer->flags & M_SHUT)
		return 0;
	errno = EAGAIN;
	return -1;
}

static ssize_t
mem_sendv(int fd, void *x, struct iovec *iov, int niov, int flags, int *want)
{
	struct sl_xprt_mem *e = x, *p = e->peer;
	size_t total = 0, r, n;

	(void)fd;
	(void)flags;
	*want = SL_TLS_WANT_WRITE;
	if (e->flags & M_CLOSED) {
		errno = EBADF;
		return -1;
	}
	if (e->conn_err != 0 || p->conn_err != 0) {
		/* connecting (the test's end: not accepted yet), or refused */
		errno = e->conn_err == EINPROGRESS ? EAGAIN
			: e->conn_err != 0	   ? e->conn_err
						   : ENOTCONN;
		return -1;
	}
	if (p->flags & M_RESET) {
		errno = ECONNRESET;
		return -1;
	}
	if ((e->flags & M_SHUT) || (p->flags & M_CLOSED)) {
		errno = EPIPE;
		return -1;
	}
	for (int i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if ((r = room(e)) == 0) {
		errno = EAGAIN;
		return -1;
	}
	total = SL_MIN(total, r);
	if (p->len + total > p->cap) {
		/* from 1 KiB: a unary call's head and message */
		size_t cap = p->cap > 0 ? p->cap : 1024;
		char *nb;
		while (cap < p->len + total)
			cap *= 2;
		if ((nb = realloc(p->buf, cap)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		p->buf = nb;
		p->cap = cap;
	}
	n = 0;
	for (int i = 0; i < niov && n < total; i++) {
		size_t k = SL_MIN(iov[i].iov_len, total - n);
		memcpy(p->buf + p->len + n, iov[i].iov_base, k);
		n += k;
	}
	p->len += total;
	kick(p);
	kick(e);
	return (ssize_t)total;
}

static void
mem_shutdown(int fd, void *x)
{
	struct sl_xprt_mem *e = x;

	(void)fd;
	e->flags |= M_SHUT;
	kick(e->peer);
}

static int
mem_connect_error(int fd, void *x)
{
	(void)fd;
	return ((const struct sl_xprt_mem *)x)->conn_err;
}

static int
mem_pending(int fd, void *x)
{
	(void)fd;
	return readable(x);
}

static int
mem_more_waiting(int fd, void *x)
{
	(void)fd;
	return held(x) > 0;
}

static int
mem_outq(int fd, void *x)
{
	const struct sl_xprt_mem *e = x;

	(void)fd;
	if (e->peer->flags & M_CLOSED)
		return 0;
	return (int)SL_MIN(held(e->peer), (size_t)INT32_MAX);
}

/* What the other end's window keeps back is never taken by a write (it
 * says EAGAIN): nothing waits unsent. */
static int
mem_unsent(int fd, void *x)
{
	(void)fd;
	(void)x;
	return 0;
}

static size_t
mem_send_room(int fd, void *x)
{
	(void)fd;
	return room(x);
}

static int
mem_watch(int fd, void *x, struct event *ev, int on)
{
	struct sl_xprt_mem *e = x;
	struct event **slot =
	    (event_get_events(ev) & EV_WRITE) ? &e->wev : &e->rev;

	(void)fd;
	if (!on) {
		if (*slot == ev)
			*slot = NULL;
		/* an activation not yet run is cancelled */
		return event_del(ev);
	}
	/* only kick activates an end's event, while the end keeps it: it
	 * is never added to libevent (descriptor -1, nothing to poll), which
	 * saves an event_add a watch and an event_pending a kick (gRPC calls
	 * make a few of each: 790 instructions a call) */
	*slot = ev;
	kick(e);
	return 0;
}

static void
mem_abort(int fd, void *x)
{
	(void)fd;
	((struct sl_xprt_mem *)x)->flags |= M_ABORT;
}

/* Closes e: its peer sees an end, or a reset when e aborted or left bytes
 * unread (as TCP resets a connection closed with unread input). Frees the
 * pair once both ends are closed. */
static void
mem_close(int fd, void *x, int notify)
{
	struct sl_xprt_mem *e = x, *p;

	(void)fd;
	(void)notify;
	/* NULL: a connection whose connect failed before it had an end */
	if (e == NULL || (e->flags & M_CLOSED))
		return;
	p = e->peer;
	e->flags |= M_SHUT | M_CLOSED;
	if ((e->flags & M_ABORT) || held(e) > 0)
		e->flags |= M_RESET;
	e->rev = e->wev = NULL;
	/* what it held is dropped; its buffer stays with the pair */
	e->off = e->len = 0;
	if (p->flags & M_CLOSED) {
		pair_put(e->flags & M_FIRST ? e : p);
		return;
	}
	kick(p);
}

const struct sl_xprt_ops sl_xprt_mem_ops = {
    .name = "mem",
    .recv = mem_recv,
    .sendv = mem_sendv,
    .shutdown = mem_shutdown,
    .connect_error = mem_connect_error,
    .pending = mem_pending,
    .more_waiting = mem_more_waiting,
    .outq = mem_outq,
    .unsent = mem_unsent,
    .send_room = mem_send_room,
    .watch = mem_watch,
    .abort = mem_abort,
    .close = mem_close,
    .thread_free = sl_xprt_mem_cache_free,
};

/* ---- the test's end ---------------------------------------------------- */

void
sl_xprt_mem_set_window(struct sl_xprt_mem *e, size_t window)
{
	e->window = window;
	kick(e->peer);
}

ssize_t
sl_xprt_mem_write(struct sl_xprt_mem *e, const void *buf, size_t len)
{
	struct iovec iov = {(void *)buf, len};
	int want;

	return mem_sendv(-1, e, &iov, 1, 0, &want);
}

ssize_t
sl_xprt_mem_read(struct sl_xprt_mem *e, void *buf, size_t len)
{
	int want;

	return mem_recv(-1, e, buf, len, &want);
}

size_t
sl_xprt_mem_held(const struct sl_xprt_mem *e)
{
	return held(e);
}

int
sl_xprt_mem_peer_ended(const struct sl_xprt_mem *e)
{
	if (e->peer->flags & M_RESET)
		return 2;
	return (e->peer->flags & M_SHUT) != 0;
}

int
sl_xprt_mem_peer_closed(const struct sl_xprt_mem *e)
{
	return (e->peer->flags & M_CLOSED) != 0;
}

void
sl_xprt_mem_shutdown(struct sl_xprt_mem *e)
{
	mem_shutdown(-1, e);
}

void
sl_xprt_mem_reset(struct sl_xprt_mem *e)
{
	mem_abort(-1, e);
	mem_close(-1, e, 0);
}

void
sl_xprt_mem_close(struct sl_xprt_mem *e)
{
	mem_close(-1, e, 0);
}

void
sl_xprt_mem_hold(struct sl_xprt_mem *e)
{
	e->peer->conn_err = EINPROGRESS;
}

void
sl_xprt_mem_accept(struct sl_xprt_mem *e)
{
	e->peer->conn_err = 0;
	kick(e->peer);
}

void
sl_xprt_mem_refuse(struct sl_xprt_mem *e, int err)
{
	e->peer->conn_err = err;
	mem_close(-1, e, 0); /* kicks the peer: its connect is over */
}

int
sl_xprt_mem_held_connect(const struct sl_xprt_mem *e)
{
	return e->peer->conn_err == EINPROGRESS;
}

void
sl_xprt_mem_set_unprocessed(struct sl_xprt_mem *e)
{
	e->flags |= M_UNPROC;
}

int
sl_xprt_mem_peer_unprocessed(const struct sl_xprt_mem *e)
{
	return (e->peer->flags & M_UNPROC) != 0;
}

void
sl_xprt_mem_set_note(struct sl_xprt_mem *e, unsigned note)
{
	e->note = note;
}

unsigned
sl_xprt_mem_peer_note(const struct sl_xprt_mem *e)
{
	return e->peer->note;
}
