/*
 * proxy.c -- a trial, not part of sluice: a single-threaded HTTP/1.1
 * keep-alive reverse proxy for exactly the bench's "ka" pattern, with two
 * interchangeable event backends sharing the same framing logic:
 *
 *   epoll  nonblocking sockets, level-triggered epoll, recv/send directly
 *          (epoll_wait -> recv client -> send upstream -> epoll_wait ->
 *          recv upstream -> send client), one recv per readiness event
 *   uring  liburing: multishot accept, multishot recv with a provided
 *          buffer ring, sends as SQEs, all submissions of one loop turn
 *          in one io_uring_submit_and_wait
 *
 * Each accepted client connection gets its own upstream connection
 * (127.0.0.1:UPPORT, blocking connect at accept time, outside any
 * measurement).  A request ends at CRLFCRLF (GET, no body), is forwarded
 * unchanged; the response (head up to CRLFCRLF + Content-Length body) is
 * forwarded unchanged.  One request in flight per connection; a pipelined
 * next request waits in the client buffer until the response is complete.
 * Not supported (the connection is closed): request heads over 16 KiB,
 * request bodies (not detected: GET only), responses without
 * Content-Length (chunked, close-delimited), 1xx responses.
 *
 * usage: proxy epoll|uring LISTENPORT UPPORT [-F flags] [-W sends|1]
 *   -F auto|defer|coop|none  io_uring setup flags (default auto: try
 *      SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN, then fall back)
 *   -W sends|1  what each loop turn waits for: (sends submitted + 1)
 *      completions, 1 ms timeout (default), or 1 completion
 * SIGTERM/SIGINT: prints counters to stderr and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ	16384
#define MAXCONN 4096
#define NBUFS	1024 /* provided buffers (power of 2): 16 MiB */
#define BGID	7
#define CLI	0 /* side: client socket / "to client" */
#define UP	1 /* side: upstream socket / "to upstream" */

enum { ST_IDLE, ST_RESP };

struct conn {
	int used, closing, idx;
	uint32_t gen;
	int fd[2]; /* [CLI], [UP] */
	int state;
	int cin_len, cin_scan;	    /* cin: client bytes not yet forwarded */
	int hlen, head_done;	    /* hbuf: response head being collected */
	long long remaining;	    /* body bytes still to come */
	int out_off[2], out_len[2]; /* out: unsent bytes, per destination */
	/* epoll */
	uint32_t ev[2];
	/* uring */
	int refs, sending[2], resend[2], recv_armed[2], need_rearm[2], up_eof;
	int park_head[2], park_tail[2]; /* parked buffer ids, per source side */
	/* everything above is zeroed for a new connection */
	char cin[BUFSZ];
	char hbuf[BUFSZ];
	char out[2][BUFSZ];
};

static struct conn *conns[MAXCONN];
static int upport, use_epoll;
static volatile sig_atomic_t stop;
static unsigned long long n_req, n_turns, n_events, n_sqes, n_parked, n_enobufs,
    n_accepts;
static int (*be_send)(struct conn *c, int side, const char *p, int n);

static void
die(const char *m)
{
	perror(m);
	exit(1);
}

/* ------------------------------------------------------------ framing */

static long long
parse_cl(const char *h, int n) /* body length or -1 */
{
	int status;
	if (n < 12 || memcmp(h, "HTTP/1.", 7) != 0)
		return -1;
	status = atoi(h + 9);
	if (status < 200)
		return -1;
	if (status == 204 || status == 304)
		return 0;
	for (const char *p = h; p < h + n;) {
		const char *e = memmem(p, h + n - p, "\r\n", 2);
		if (!e)
			break;
		if (e - p > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			char *end;
			long long v = strtoll(p + 15, &end, 10);
			return (end == p + 15 || v < 0) ? -1 : v;
		}
		p = e + 2;
	}
	return -1;
}

/* forwards the next complete request if none is in flight; -1: close */
static int
pump(struct conn *c)
{
	int from, n;
	char *e;
	if (c->state != ST_IDLE || c->cin_len == 0)
		return 0;
	from = c->cin_scan > 3 ? c->cin_scan - 3 : 0;
	e = memmem(c->cin + from, c->cin_len - from, "\r\n\r\n", 4);
	if (!e) {
		c->cin_scan = c->cin_len;
		return c->cin_len == BUFSZ ? -1 : 0; /* head too large */
	}
	n = e + 4 - c->cin;
	c->state = ST_RESP;
	c->hlen = 0;
	c->head_done = 0;
	if (be_send(c, UP, c->cin, n) < 0)
		return -1;
	memmove(c->cin, c->cin + n, c->cin_len - n);
	c->cin_len -= n;
	c->cin_scan = 0;
	return 0;
}

static int
on_upstream_data(struct conn *c, const char *p, int n)
{
	if (c->state != ST_RESP)
		return -1; /* unsolicited bytes */
	if (!c->head_done) {
		int take = n < BUFSZ - c->hlen ? n : BUFSZ - c->hlen;
		int from = c->hlen > 3 ? c->hlen - 3 : 0, hend;
		char *e;
		memcpy(c->hbuf + c->hlen, p, take);
		c->hlen += take;
		e = memmem(c->hbuf + from, c->hlen - from, "\r\n\r\n", 4);
		if (!e) {
			if (c->hlen == BUFSZ)
				return -1;
			return be_send(c, CLI, p, n);
		}
		hend = e + 4 - c->hbuf;
		long long cl = parse_cl(c->hbuf, hend);
		if (cl < 0)
			return -1;
		c->head_done = 1;
		/* bytes of this chunk past the head are body */
		c->remaining = cl - (n - (hend - (c->hlen - take)));
	} else {
		c->remaining -= n;
	}
	if (c->remaining < 0)
		return -1; /* more than the response */
	if (be_send(c, CLI, p, n) < 0)
		return -1;
	if (c->remaining == 0) {
		c->state = ST_IDLE;
		n_req++;
		return pump(c);
	}
	return 0;
}

/* ------------------------------------------------------------ sockets */

static void
nodelay(int fd)
{
	int on = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static int
listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET,
			SOCK_STREAM | SOCK_CLOEXEC |
			    (use_epoll ? SOCK_NONBLOCK : 0),
			0),
	    on = 1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

/* a new connection: client fd -> conn with its upstream connected */
static struct conn *
conn_new(int cfd)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(upport)};
	int ufd, i;
	struct conn *c;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < MAXCONN && conns[i] && conns[i]->used; i++)
		;
	if (i == MAXCONN) {
		close(cfd);
		return NULL;
	}
	ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ufd < 0 || connect(ufd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("upstream connect");
		if (ufd >= 0)
			close(ufd);
		close(cfd);
		return NULL;
	}
	if (use_epoll) { /* io_uring gets blocking sockets (it polls itself) */
		fcntl(ufd, F_SETFL, O_NONBLOCK);
		fcntl(cfd, F_SETFL, O_NONBLOCK);
	}
	nodelay(cfd);
	nodelay(ufd);
	if (!conns[i] && !(conns[i] = calloc(1, sizeof(struct conn))))
		die("calloc");
	c = conns[i];
	uint32_t gen = c->gen + 1;
	memset(c, 0, offsetof(struct conn, cin));
	c->gen = gen;
	c->used = 1;
	c->idx = i;
	c->fd[CLI] = cfd;
	c->fd[UP] = ufd;
	c->park_head[0] = c->park_head[1] = c->park_tail[0] = c->park_tail[1] =
	    -1;
	n_accepts++;
	return c;
}

static void
conn_free(struct conn *c)
{
	close(c->fd[CLI]);
	close(c->fd[UP]);
	c->used = 0;
	c->gen++;
}

static int
pending(struct conn *c, int side)
{
	return c->out_len[side] > c->out_off[side];
}

/* ------------------------------------------------------------ epoll */

static int ep;

static uint64_t
ep_key(struct conn *c, int side)
{
	return (uint64_t)c->gen << 32 | (uint64_t)c->idx << 1 | side;
}

/* interest: read the client while cin has room, the upstream while nothing
 * waits to go to the client; write where bytes wait (epoll_ctl on change) */
static void
ep_apply(struct conn *c)
{
	uint32_t want[2] = {0, 0};
	if (c->cin_len < BUFSZ)
		want[CLI] |= EPOLLIN;
	if (pending(c, CLI))
		want[CLI] |= EPOLLOUT;
	else
		want[UP] |= EPOLLIN;
	if (pending(c, UP))
		want[UP] |= EPOLLOUT;
	for (int s = 0; s < 2; s++) {
		if (want[s] == c->ev[s])
			continue;
		struct epoll_event e = {.events = want[s],
					.data.u64 = ep_key(c, s)};
		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd[s], &e) < 0)
			die("epoll_ctl mod");
		c->ev[s] = want[s];
	}
}

static int
ep_send(struct conn *c, int side, const char *p, int n)
{
	ssize_t r = 0;
	if (!pending(c, side)) {
		r = send(c->fd[side], p, n, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno != EAGAIN)
				return -1;
			r = 0;
		}
		if (r == n)
			return 0;
		c->out_off[side] = c->out_len[side] = 0;
	}
	if (c->out_len[side] + (n - r) > BUFSZ)
		return -1;
	memcpy(c->out[side] + c->out_len[side], p + r, n - r);
	c->out_len[side] += n - r;
	return 0;
}

static int
ep_flush(struct conn *c, int side)
{
	ssize_t r = send(c->fd[side], c->out[side] + c->out_off[side],
			 c->out_len[side] - c->out_off[side], MSG_NOSIGNAL);
	if (r < 0)
		return errno == EAGAIN ? 0 : -1;
	c->out_off[side] += r;
	if (c->out_off[side] == c->out_len[side])
		c->out_off[side] = c->out_len[side] = 0;
	return 0;
}

static void
ep_close(struct conn *c)
{
	conn_free(c);
}

static int
ep_event(struct conn *c, int side, uint32_t ev)
{
	static char scratch[BUFSZ];
	ssize_t r;
	if ((ev & EPOLLOUT) && ep_flush(c, side) < 0)
		return -1;
	if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		goto done;
	if (side == CLI) {
		if (c->cin_len == BUFSZ) {
			if (ev & (EPOLLHUP | EPOLLERR))
				return -1;
			goto done;
		}
		r = recv(c->fd[CLI], c->cin + c->cin_len, BUFSZ - c->cin_len,
			 0);
		if (r == 0)
			return -1;
		if (r < 0) {
			if (errno == EAGAIN)
				goto done;
			return -1;
		}
		c->cin_len += r;
		if (pump(c) < 0)
			return -1;
	} else {
		if (pending(c, CLI)) {
			if (ev & (EPOLLHUP | EPOLLERR))
				return -1;
			goto done;
		}
		r = recv(c->fd[UP], scratch, BUFSZ, 0);
		if (r == 0)
			return -1;
		if (r < 0) {
			if (errno == EAGAIN)
				goto done;
			return -1;
		}
		if (on_upstream_data(c, scratch, r) < 0)
			return -1;
	}
done:
	ep_apply(c);
	return 0;
}

static void
run_epoll(int lfd)
{
	struct epoll_event evs[256],
	    e = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
	be_send = ep_send;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e) < 0)
		die("epoll_ctl listen");
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		n_turns++;
		n_events += n;
		for (int i = 0; i < n; i++) {
			uint64_t k = evs[i].data.u64;
			if (k == UINT64_MAX) {
				int cfd;
				while ((cfd = accept4(lfd, NULL, NULL,
						      SOCK_CLOEXEC)) >= 0) {
					struct conn *c = conn_new(cfd);
					if (!c)
						continue;
					c->ev[CLI] = c->ev[UP] = EPOLLIN;
					for (int s = 0; s < 2; s++) {
						struct epoll_event ce = {
						    .events = EPOLLIN,
						    .data.u64 = ep_key(c, s)};
						if (epoll_ctl(ep, EPOLL_CTL_ADD,
							      c->fd[s],
							      &ce) < 0)
							die("epoll_ctl add");
					}
				}
				continue;
			}
			int idx = (k >> 1) & 0x7fffffff, side = k & 1;
			struct conn *c = conns[idx];
			if (!c || !c->used || c->gen != (uint32_t)(k >> 32))
				continue;
			if (ep_event(c, side, evs[i].events) < 0)
				ep_close(c);
		}
	}
}

/* ------------------------------------------------------------ io_uring */

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static int park_next[NBUFS], park_len[NBUFS];
static int ring_lfd;
static int rearm_list[MAXCONN], n_rearm; /* conns with a recv to re-arm */
static int wait_sends = 1;		 /* -W sends (default) or -W 1 */
static unsigned sends_turn;		 /* sends prepared in this loop turn */
static int parked_now, resends_now;	 /* chunks parked, short sends resent */
enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };

static uint64_t
ud(int op, int idx, int side, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)idx << 8 | (uint64_t)side << 4 |
	       op;
}

static struct io_uring_sqe *
sqe_get(void)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);
	if (!s) {
		io_uring_submit(&ring);
		if (!(s = io_uring_get_sqe(&ring)))
			die("io_uring_get_sqe");
	}
	n_sqes++;
	return s;
}

static void
buf_recycle(int bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, bid,
			      io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(br, 1);
}

static void
arm_accept(void)
{
	struct io_uring_sqe *s = sqe_get();
	io_uring_prep_multishot_accept(s, ring_lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(s, ud(OP_ACCEPT, 0, 0, 0));
}

static void
arm_recv(struct conn *c, int idx, int side)
{
	struct io_uring_sqe *s = sqe_get();
	io_uring_prep_recv_multishot(s, c->fd[side], NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = BGID;
	io_uring_sqe_set_data64(s, ud(OP_RECV, idx, side, c->gen));
	c->recv_armed[side] = 1;
	c->need_rearm[side] = 0;
	c->refs++;
}

static void
submit_send(struct conn *c, int idx, int side)
{
	struct io_uring_sqe *s = sqe_get();
	io_uring_prep_send(s, c->fd[side], c->out[side] + c->out_off[side],
			   c->out_len[side] - c->out_off[side], MSG_NOSIGNAL);
	io_uring_sqe_set_data64(s, ud(OP_SEND, idx, side, c->gen));
	c->sending[side] = 1;
	c->refs++;
	sends_turn++;
}

static int
ur_send(struct conn *c, int side, const char *p, int n)
{
	if (c->out_len[side] + n > BUFSZ && !c->sending[side] &&
	    c->out_off[side]) {
		memmove(c->out[side], c->out[side] + c->out_off[side],
			c->out_len[side] - c->out_off[side]);
		c->out_len[side] -= c->out_off[side];
		c->out_off[side] = 0;
	}
	if (c->out_len[side] + n > BUFSZ)
		return -1;
	memcpy(c->out[side] + c->out_len[side], p, n);
	c->out_len[side] += n;
	if (!c->sending[side])
		submit_send(c, c->idx, side);
	return 0;
}

static void
ur_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	for (int s = 0; s < 2; s++) {
		shutdown(c->fd[s], SHUT_RDWR); /* ends the multishot recvs */
		while (c->park_head[s] >= 0) {
			int b = c->park_head[s];
			c->park_head[s] = park_next[b];
			buf_recycle(b);
			parked_now--;
		}
	}
}

/* can a chunk of n bytes from this source side be taken now? */
static int
can_take(struct conn *c, int src, int n)
{
	if (src == CLI)
		return c->cin_len + n <= BUFSZ;
	if (c->sending[CLI])
		return c->out_len[CLI] + n <= BUFSZ;
	return c->out_len[CLI] - c->out_off[CLI] + n <= BUFSZ;
}

static int
take_chunk(struct conn *c, int src, const char *p, int n)
{
	if (src == UP)
		return on_upstream_data(c, p, n);
	memcpy(c->cin + c->cin_len, p, n);
	c->cin_len += n;
	return pump(c);
}

/* processes parked chunks that fit now; -1: close */
static int
drain_parked(struct conn *c)
{
	int progress = 1;
	while (progress) {
		progress = 0;
		for (int s = 0; s < 2; s++) {
			int b = c->park_head[s];
			if (b < 0 || !can_take(c, s, park_len[b]))
				continue;
			c->park_head[s] = park_next[b];
			parked_now--;
			int r = take_chunk(c, s, bufs + (size_t)b * BUFSZ,
					   park_len[b]);
			buf_recycle(b);
			if (r < 0)
				return -1;
			progress = 1;
		}
	}
	/* a client head that cannot complete: cin full while idle */
	if (c->state == ST_IDLE && c->park_head[CLI] >= 0)
		return -1;
	return 0;
}

static void
want_rearm(struct conn *c, int side)
{
	if (!c->need_rearm[0] && !c->need_rearm[1] && n_rearm < MAXCONN)
		rearm_list[n_rearm++] = c->idx;
	c->need_rearm[side] = 1;
}

static void
ur_cqe(struct io_uring_cqe *cqe)
{
	uint64_t k = io_uring_cqe_get_data64(cqe);
	int op = k & 15, side = (k >> 4) & 15, idx = (k >> 8) & 0xffffff;
	int res = cqe->res;
	struct conn *c;

	if (op == OP_ACCEPT) {
		if (res >= 0 && (c = conn_new(res))) {
			arm_recv(c, c->idx, CLI);
			arm_recv(c, c->idx, UP);
		}
		if (!(cqe->flags & IORING_CQE_F_MORE))
			arm_accept();
		return;
	}
	c = conns[idx];
	if (!c || !c->used || c->gen != (uint32_t)(k >> 32)) {
		fprintf(stderr, "stale completion op %d res %d\n", op, res);
		return;
	}
	if (op == OP_RECV) {
		int more = cqe->flags & IORING_CQE_F_MORE;
		if (!more) {
			c->recv_armed[side] = 0;
			c->refs--;
		}
		if (res > 0) {
			int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			if (c->closing) {
				buf_recycle(bid);
			} else if (c->park_head[side] < 0 &&
				   can_take(c, side, res)) {
				int r = take_chunk(
				    c, side, bufs + (size_t)bid * BUFSZ, res);
				buf_recycle(bid);
				if (r < 0)
					ur_close(c);
			} else { /* park it: backpressure until the buffer frees
				  */
				park_len[bid] = res;
				park_next[bid] = -1;
				if (c->park_head[side] < 0)
					c->park_head[side] = bid;
				else
					park_next[c->park_tail[side]] = bid;
				c->park_tail[side] = bid;
				n_parked++;
				parked_now++;
				if (c->state == ST_IDLE && side == CLI)
					ur_close(c);
			}
			if (!more && !c->closing)
				want_rearm(c, side);
		} else if (res == -ENOBUFS) {
			n_enobufs++;
			if (!c->closing)
				want_rearm(c, side);
		} else if (res == 0 && side == UP) {
			c->up_eof =
			    1; /* close once what it sent has gone out */
		} else {
			ur_close(c); /* client EOF, or an error */
		}
	} else if (op == OP_SEND) {
		c->sending[side] = 0;
		c->refs--;
		if (c->resend[side]) {
			c->resend[side] = 0;
			resends_now--;
		}
		if (res < 0) {
			ur_close(c);
		} else if (!c->closing) {
			c->out_off[side] += res;
			if (c->out_off[side] == c->out_len[side])
				c->out_off[side] = c->out_len[side] = 0;
			else { /* short send: the rest */
				submit_send(c, idx, side);
				c->resend[side] = 1;
				resends_now++;
			}
		}
	}
	if (!c->closing && (c->park_head[CLI] >= 0 || c->park_head[UP] >= 0) &&
	    drain_parked(c) < 0)
		ur_close(c);
	if (!c->closing && c->up_eof && c->park_head[UP] < 0 &&
	    !c->sending[CLI])
		ur_close(c);
	if (c->closing && c->refs == 0)
		conn_free(c);
}

static unsigned
setup_flags(const char *want, struct io_uring_params *p, int entries)
{
	unsigned tries[4], nt = 0;
	if (!strcmp(want, "auto") || !strcmp(want, "defer")) {
		tries[nt++] = IORING_SETUP_SINGLE_ISSUER |
			      IORING_SETUP_DEFER_TASKRUN |
			      IORING_SETUP_COOP_TASKRUN;
		tries[nt++] =
		    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	}
	if (!strcmp(want, "auto") || !strcmp(want, "coop"))
		tries[nt++] =
		    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
	if (!strcmp(want, "auto") || !strcmp(want, "none"))
		tries[nt++] = 0;
	for (unsigned i = 0; i < nt; i++) {
		memset(p, 0, sizeof(*p));
		p->flags = tries[i] | IORING_SETUP_CQSIZE;
		p->cq_entries = entries * 4;
		if (io_uring_queue_init_params(entries, &ring, p) == 0)
			return tries[i];
	}
	fprintf(stderr, "io_uring_queue_init_params: no flag set worked\n");
	exit(1);
}

static void
run_uring(int lfd, const char *flags, int wait_one)
{
	struct io_uring_params p;
	struct io_uring_buf_reg reg = {0};
	unsigned f = setup_flags(flags, &p, 1024);
	wait_sends = !wait_one;
	fprintf(stderr, "io_uring wait: %s, flags:%s%s%s%s features 0x%x\n",
		wait_sends ? "sends+1 (1 ms timeout)" : "1",
		f & IORING_SETUP_SINGLE_ISSUER ? " SINGLE_ISSUER" : "",
		f & IORING_SETUP_DEFER_TASKRUN ? " DEFER_TASKRUN" : "",
		f & IORING_SETUP_COOP_TASKRUN ? " COOP_TASKRUN" : "",
		f ? "" : " (none)", p.features);
	be_send = ur_send;
	ring_lfd = lfd;
	/* provided buffer ring (liburing 2.3 has no io_uring_setup_buf_ring) */
	br = mmap(NULL, NBUFS * sizeof(struct io_uring_buf),
		  PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	bufs = mmap(NULL, (size_t)NBUFS * BUFSZ, PROT_READ | PROT_WRITE,
		    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED || bufs == MAP_FAILED)
		die("mmap");
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = NBUFS;
	reg.bgid = BGID;
	int r = io_uring_register_buf_ring(&ring, &reg, 0);
	if (r < 0) {
		errno = -r;
		die("io_uring_register_buf_ring");
	}
	io_uring_buf_ring_init(br);
	for (int i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, i,
				      io_uring_buf_ring_mask(NBUFS), i);
	io_uring_buf_ring_advance(br, NBUFS);
	arm_accept();
	while (!stop) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		/*
		 * Sends on loopback nearly always complete inline, during the
		 * submission: waiting for 1 completion would then return at
		 * once with just those, and cost a second io_uring_enter per
		 * turn to wait for real events.  -W sends (default) waits for
		 * (sends + 1) completions instead -- unless chunks are parked
		 * or a short send is being resent: their progress may hinge on
		 * a send's completion alone -- with a 1 ms timeout so that a
		 * send that did not complete inline, and goes short, never
		 * stalls the loop for longer.
		 */
		if (wait_sends && sends_turn && !parked_now && !resends_now) {
			struct __kernel_timespec ts = {.tv_sec = 0,
						       .tv_nsec = 1000000};
			struct io_uring_cqe *first;
			r = io_uring_submit_and_wait_timeout(
			    &ring, &first, sends_turn + 1, &ts, NULL);
		} else {
			r = io_uring_submit_and_wait(&ring, 1);
		}
		sends_turn = 0;
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY &&
		    r != -ETIME) {
			errno = -r;
			die("io_uring_submit_and_wait");
		}
		n_turns++;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			ur_cqe(cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
		n_events += n;
		for (int i = 0, nr = n_rearm; i < nr; i++) {
			struct conn *c = conns[rearm_list[i]];
			for (int s = 0; s < 2; s++) {
				if (c->used && !c->closing &&
				    c->need_rearm[s] && !c->recv_armed[s])
					arm_recv(c, c->idx, s);
				c->need_rearm[s] = 0;
			}
		}
		n_rearm = 0;
	}
}

/* ------------------------------------------------------------ main */

static void
on_signal(int s)
{
	(void)s;
	stop = 1;
}

int
main(int argc, char **argv)
{
	const char *flags = "auto";
	int wait_one = 0;
	struct sigaction sa = {.sa_handler = on_signal};
	if (argc < 4 ||
	    (strcmp(argv[1], "epoll") && strcmp(argv[1], "uring"))) {
		fprintf(stderr,
			"usage: %s epoll|uring LISTENPORT UPPORT [-F "
			"auto|defer|coop|none] [-W sends|1]\n",
			argv[0]);
		return 2;
	}
	for (int i = 4; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-F"))
			flags = argv[i + 1];
		else if (!strcmp(argv[i], "-W"))
			wait_one = !strcmp(argv[i + 1], "1");
	}
	upport = atoi(argv[3]);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	use_epoll = !strcmp(argv[1], "epoll");
	int lfd = listen_on(atoi(argv[2]));
	if (use_epoll)
		run_epoll(lfd);
	else
		run_uring(lfd, flags, wait_one);
	fprintf(stderr,
		"%s: requests %llu accepts %llu loop_turns %llu events %llu "
		"sqes %llu "
		"parked %llu enobufs %llu req/turn %.2f\n",
		argv[1], n_req, n_accepts, n_turns, n_events, n_sqes, n_parked,
		n_enobufs, n_turns ? (double)n_req / n_turns : 0);
	return 0;
}
