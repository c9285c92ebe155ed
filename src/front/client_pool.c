/* SPDX-License-Identifier: MIT */
/*
 * What a worker holds for its client connections (struct sl_client_pool):
 * their lists, the client structs kept for reuse, the slab their read
 * events come from, and the parking of idle connections. It moves
 * connections between lists and descriptors between epoll sets, and
 * reads or writes no connection's bytes; it also grows a fast reader's
 * SO_SNDBUF within the worker's budget (sl_client_sndbuf_grow). It calls
 * nothing in client.c: a
 * parked connection that becomes readable goes to the handler client.c
 * stored in the pool (sl_client_pool_init).
 */
#include "client_pool.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "client_int.h"
#include "wloop.h"
#include "xprt.h"

#define FREE_CLIENTS_MAX 1024

/* ---- parking ---------------------------------------------------------- */

/*
 * An idle keep-alive connection costs its struct, its read event (a
 * libevent struct event is 128 bytes, a third of the rest) and libevent's
 * bookkeeping of its descriptor. Once it has been idle for PARK_AFTER_MS,
 * it is parked: its descriptor moves from libevent's epoll set to the
 * worker's own (park_fd, data.ptr = the client), and its event goes back
 * to the worker. When it becomes readable, it gets an event again and
 * carries on as before. A busy connection never parks: the walk looks at
 * the unparked connections only (cpool.clients), and a keep-alive client
 * that sends its next request within PARK_AFTER_MS pays nothing; one that
 * comes back later pays two epoll_ctl calls.
 */
#define PARK_AFTER_MS 1000
#define PARK_BATCH    64

/*
 * The events live in regions of their own (REV_REGION bytes, aligned to
 * their size, from mmap), not among the client structs: the events that
 * parked connections give back then leave whole regions empty, which go
 * back to the kernel (one empty region is kept). From malloc they would be
 * 144-byte holes between live structs, and RSS would not move.
 */
#define REV_REGION ((size_t)64 << 10)

struct sl_rev_region {
	LIST_ENTRY(sl_rev_region) link; /* in rev_avail while not full */
	void *free;			/* free slots, linked */
	unsigned used, bumped, nslots, slot;
	int avail;
};

static struct sl_rev_region *
rev_region_new(void)
{
	struct sl_rev_region *r;
	size_t slot = (event_get_struct_event_size() + 15) & ~(size_t)15;
	char *p, *a;

	p = mmap(NULL, 2 * REV_REGION, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* keep the aligned middle: a slot finds its region by masking */
	a = (char *)(((uintptr_t)p + REV_REGION - 1) & ~(REV_REGION - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + REV_REGION, (size_t)(p + REV_REGION - a));
	r = (struct sl_rev_region *)a;
	r->free = NULL;
	r->used = r->bumped = 0;
	r->slot = (unsigned)slot;
	r->nslots = (unsigned)((REV_REGION - sizeof(*r)) / slot);
	r->avail = 0;
	return r;
}

static struct event *
rev_get(struct sl_client_pool *p)
{
	struct sl_rev_region *r = LIST_FIRST(&p->rev_avail);
	void *ev;

	if (r == NULL) {
		if ((r = rev_region_new()) == NULL)
			return NULL;
		LIST_INSERT_HEAD(&p->rev_avail, r, link);
		r->avail = 1;
		p->rev_regions++;
	}
	if ((ev = r->free) != NULL)
		r->free = *(void **)ev;
	else
		ev = (char *)(r + 1) + (size_t)r->bumped++ * r->slot;
	if (r->used++ == 0 && r == p->rev_spare)
		p->rev_spare = NULL;
	if (r->free == NULL && r->bumped == r->nslots) {
		LIST_REMOVE(r, link);
		r->avail = 0;
	}
	return ev;
}

static void
rev_put(struct sl_client_pool *p, struct event *ev)
{
	struct sl_rev_region *r =
	    (struct sl_rev_region *)((uintptr_t)ev & ~(REV_REGION - 1));

	if (ev == NULL)
		return;
	*(void **)ev = r->free;
	r->free = ev;
	if (!r->avail) {
		LIST_INSERT_HEAD(&p->rev_avail, r, link);
		r->avail = 1;
	}
	if (--r->used > 0)
		return;
	/* empty: kept as the spare, or given back */
	if (p->rev_spare == NULL) {
		p->rev_spare = r;
		return;
	}
	LIST_REMOVE(r, link);
	p->rev_regions--;
	munmap(r, REV_REGION);
}

void
sl_client_park_leave(struct sl_client *c)
{
	struct sl_worker *w = c->s.w;

	(void)epoll_ctl(w->cpool.park_fd, EPOLL_CTL_DEL, c->fd, NULL);
	TAILQ_REMOVE(&w->cpool.parked, c, entry);
	TAILQ_INSERT_TAIL(&w->cpool.clients, c, entry);
	c->s.flags &= ~C_F_PARKED;
	SL_STAT_ADD(w->stats.parked, -1);
}

int
sl_client_unpark(struct sl_client *c)
{
	sl_client_park_leave(c);
	return (c->rev = rev_get(&c->s.w->cpool)) == NULL ? -1 : 0;
}

/* Parked connections became readable (or were closed by their peer). */
static void
pool_on_parked(evutil_socket_t fd, short what, void *arg)
{
	struct sl_client_pool *p = arg;
	struct epoll_event ev[PARK_BATCH];
	int n;

	n = epoll_wait(p->park_fd, ev, PARK_BATCH, 0);
	for (int i = 0; i < n; i++)
		p->on_wake(ev[i].data.ptr);
}

static int
park_init(struct sl_worker *w)
{
	struct sl_client_pool *p = &w->cpool;

	if (p->park_ev != NULL)
		return 0;
	if ((p->park_fd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	p->park_ev = event_new(w->base, p->park_fd, EV_READ | EV_PERSIST,
			       pool_on_parked, p);
	if (p->park_ev == NULL || event_add(p->park_ev, NULL) == -1) {
		if (p->park_ev != NULL)
			event_free(p->park_ev);
		p->park_ev = NULL;
		close(p->park_fd);
		p->park_fd = -1;
		return -1;
	}
	return 0;
}

static void
client_park(struct sl_client *c)
{
	struct sl_worker *w = c->s.w;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};

	event_del(c->rev);
	if (epoll_ctl(w->cpool.park_fd, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		event_add(c->rev, NULL);
		return;
	}
	rev_put(&w->cpool, c->rev);
	c->rev = NULL;
	c->s.flags = (c->s.flags & ~C_F_REV) | C_F_PARKED;
	TAILQ_REMOVE(&w->cpool.clients, c, entry);
	TAILQ_INSERT_TAIL(&w->cpool.parked, c, entry);
	SL_STAT_INC(w->stats.parked);
}

void
sl_client_park_idle(struct sl_worker *w)
{
	struct sl_client *c, *next;
	uint64_t now;

	if (w->draining)
		return;
	sl_now_refresh();
	now = sl_now_cached();
	for (c = TAILQ_FIRST(&w->cpool.clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		/* idle since the deadline's start (its codec says: an
		 * HTTP/1 keep-alive wait, an HTTP/2 connection with no
		 * stream open), reading, nothing held, on a socket (a
		 * memory end has no descriptor to park) */
		if (!w->cpool.parkable(c) || !(c->s.flags & C_F_REV) ||
		    (c->s.flags & (C_F_REV_W | C_F_MEM)) ||
		    c->s.in.data != NULL ||
		    sl_xprt_pending(c->s.flags >> C_F_XPRT_SHIFT, c->fd,
				    c->xc) ||
		    c->tnode.deadline_ms - c->s.lconf->limits.idle_timeout_ms +
			    PARK_AFTER_MS >
			now)
			continue;
		if (park_init(w) == -1)
			return;
		client_park(c);
	}
}

/* ---- the lists and the structs kept --------------------------------------*/

void
sl_client_pool_init(struct sl_client_pool *p,
		    void (*on_wake)(struct sl_client *c),
		    int (*parkable)(const struct sl_client *c))
{
	TAILQ_INIT(&p->clients);
	TAILQ_INIT(&p->parked);
	p->park_fd = -1;
	p->on_wake = on_wake;
	p->parkable = parkable;
}

struct sl_client *
sl_client_pool_take(struct sl_client_pool *p)
{
	struct sl_client *c;
	struct event *rev = NULL;

	if ((c = p->free_clients) != NULL) {
		p->free_clients = *(void **)c;
		p->nfree_clients--;
		rev = c->rev;
		memset(c, 0, sizeof(*c));
	} else if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (rev == NULL && (rev = rev_get(p)) == NULL) {
		free(c);
		return NULL;
	}
	c->rev = rev;
	return c;
}

void
sl_client_pool_put(struct sl_client_pool *p, struct sl_client *c)
{
	/* a few structs are kept for the next connections: no malloc per
	 * short connection (the event stays with its struct) */
	if (p->nfree_clients < FREE_CLIENTS_MAX) {
		*(void **)c = p->free_clients;
		p->free_clients = c;
		p->nfree_clients++;
	} else {
		rev_put(p, c->rev);
		free(c);
	}
}

void
sl_client_free_list(struct sl_worker *w)
{
	struct sl_client_pool *p = &w->cpool;
	struct sl_rev_region *r;

	while (p->free_clients != NULL) {
		struct sl_client *c = p->free_clients;
		void *next = *(void **)c;
		rev_put(p, c->rev);
		free(c);
		p->free_clients = next;
	}
	p->nfree_clients = 0;
	if (p->bodies_spare != NULL)
		sl_h1_bodies_free(p->bodies_spare);
	p->bodies_spare = NULL;
	/* at teardown every event is back: the regions go */
	while ((r = LIST_FIRST(&p->rev_avail)) != NULL) {
		LIST_REMOVE(r, link);
		munmap(r, REV_REGION);
	}
	p->rev_spare = NULL;
	p->rev_regions = 0;
	if (p->park_ev != NULL) {
		event_free(p->park_ev);
		p->park_ev = NULL;
	}
	if (p->park_fd != -1) {
		close(p->park_fd);
		p->park_fd = -1;
	}
}

struct sl_client *
sl_client_first(struct sl_worker *w)
{
	struct sl_client *c = TAILQ_FIRST(&w->cpool.clients);

	return c != NULL ? c : TAILQ_FIRST(&w->cpool.parked);
}

struct sl_client *
sl_client_next(struct sl_client *c)
{
	struct sl_client *n = TAILQ_NEXT(c, entry);

	/* the unparked ones, then the parked ones */
	if (n == NULL && !(c->s.flags & C_F_PARKED))
		n = TAILQ_FIRST(&c->s.w->cpool.parked);
	return n;
}

/*
 * Every client socket starts with SO_SNDBUF = buffer_bytes (inherited
 * from its listening socket), so that a slow reader pins little kernel
 * memory. The kernel wakes a blocked writer once a third of the (doubled)
 * buffer is free: when that comes within SNDBUF_FAST_MS of the stall, the
 * client's side took 2/3 of the buffer that fast, and the buffer, not the
 * client, holds the transfer back (a distant client gets one buffer per
 * round trip). Such a client gets SO_SNDBUF doubled, up to
 * SNDBUF_MAX_FACTOR x buffer_bytes. What this measures is the client's TCP
 * (its receive window included), not its application: a slow application
 * behind a large window may earn a doubling before the window fills. So
 * the extra kernel memory is also bounded per worker (SNDBUF_EXTRA_MAX,
 * given back when the connection closes): clients that read fast and then
 * stop cannot pin more than that together, until send_timeout or
 * min_send_rate cuts them.
 */
#define SNDBUF_FAST_MS	  SL_RBUF_FAST_MS
#define SNDBUF_MAX_FACTOR 8
#define SNDBUF_EXTRA_MAX  ((size_t)64 << 20)

void
sl_client_sndbuf_grow(struct sl_client *c, uint64_t stalled_ms)
{
	struct sl_worker *w = c->s.w;
	uint64_t max = SNDBUF_MAX_FACTOR * c->s.lconf->limits.buffer_bytes;
	uint64_t want;
	socklen_t len;
	int cur = 0, v;

	if (stalled_ms > SNDBUF_FAST_MS || (c->s.flags & C_F_SNDBUF_MAX))
		return;
	/* asked, not remembered: a reload may have changed buffer_bytes
	 * since the listening socket gave this one its size */
	len = sizeof(cur);
	if (getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &cur, &len) == -1 ||
	    cur <= 1)
		return;
	cur /= 2; /* the kernel reports twice what was set */
	want = SL_MIN((uint64_t)cur * 2, SL_MIN(max, (uint64_t)INT_MAX / 2));
	if (want <= (uint64_t)cur) {
		c->s.flags |= C_F_SNDBUF_MAX;
		return;
	}
	if (w->cpool.sndbuf_extra + (want - (uint64_t)cur) > SNDBUF_EXTRA_MAX)
		return; /* others hold the budget: maybe later */
	v = (int)want;
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) == -1)
		return;
	/* what the kernel granted: it caps the size at net.core.wmem_max */
	len = sizeof(v);
	if (getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &v, &len) == -1)
		v = (int)want * 2;
	v /= 2;
	if (v <= cur) {
		c->s.flags |= C_F_SNDBUF_MAX;
		return;
	}
	c->sndbuf_extra += (uint32_t)(v - cur);
	w->cpool.sndbuf_extra += (size_t)(v - cur);
}
