/* SPDX-License-Identifier: MIT */
/*
 * The resolver (resolve.h, doc/fleet.md section 2). One entry per name of
 * a cluster (struct rname), with the answer in use, its schedule and its
 * lookup in progress (a round: the queries of one lookup, A and AAAA, or
 * an SRV record and the addresses of its targets). A round's queries
 * report into it; when the last one is in, the round ends: its answer
 * replaces the one in use, or, when it failed, the one in use stands
 * until keep_stale has passed since the first failure. Queries are evdns
 * requests (A, AAAA) or our own (struct oq: SRV, and what evdns found
 * truncated), each with a context that outlives a cancelled round.
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "dnsmsg.h"
#include "log.h"
#include "util.h"

/* A failed lookup is tried again after min_ttl, doubling up to this (and
 * to max_ttl). */
#define RETRY_MAX_MS 30000
/* What our UDP queries offer to take (EDNS0): the size the DNS flag day
 * of 2020 chose, which no path fragments; larger answers come by TCP. */
#define EDNS_SIZE 1232
/* Addresses kept from one name: the endpoints it may add. */
#define MAX_ADDRS 1024

const char *
sl_dns_result_str(enum sl_dns_result r)
{
	static const char *const s[] = {"ok",	    "empty",   "nxdomain",
					"servfail", "refused", "timeout",
					"error"};

	return r < SL_DNS_NRESULTS ? s[r] : "?";
}

struct rname;

/* One address of an answer. weight: an SRV record's (0 for A and AAAA,
 * whose weight is the configuration's). */
struct raddr {
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint32_t weight;
};

/* The context of one query of a round. Freed when the query reports,
 * even after its round was dropped (dead). */
struct rq {
	struct rname *n;		 /* NULL once dead */
	char qname[SL_DNS_NAME_MAX + 1]; /* what is looked up */
	uint16_t qtype;
	uint16_t port;		   /* an SRV target's */
	uint32_t weight;	   /* an SRV target's */
	struct evdns_request *req; /* evdns's, while it runs */
	struct oq *oq;		   /* ours, while it runs */
	TAILQ_ENTRY(rq) link;	   /* in n->queries */
};

/* One query of ours: UDP to each nameserver in turn, then TCP when the
 * answer was truncated. */
struct oq {
	struct sl_resolver *r;
	struct rq *q;
	char name[SL_DNS_NAME_MAX + 1];
	uint16_t qtype, id;
	int fd, tcp;
	unsigned tries; /* sent so far */
	size_t ns;	/* nameserver of the current try */
	struct event *ev;
	uint8_t query[SL_DNS_QUERY_MAX + 2]; /* with TCP's length first */
	size_t qlen;
	uint8_t *buf; /* the answer (TCP: its length first) */
	size_t got, want;
};

struct rname {
	TAILQ_ENTRY(rname) link;
	struct sl_resolver *r;
	char *cluster, *text, *name; /* cluster's name, "NAME:PORT" or
					"srv:NAME", the name looked up */
	int srv, family;
	uint16_t port;
	uint64_t min_ttl_ms, max_ttl_ms, keep_stale_ms;
	int used; /* named by the configuration being applied */
	/* the answer in use */
	struct raddr *addrs;
	size_t naddrs;
	int have;
	uint32_t ttl_s;
	uint64_t good_ms, stale_since_ms;
	enum sl_dns_result last;
	int looked_up;
	unsigned failures; /* lookups failed in a row */
	uint64_t lookups[SL_DNS_NRESULTS];
	/* the round in progress */
	int busy;
	TAILQ_HEAD(, rq) queries;
	struct raddr *got;
	size_t ngot, capgot;
	uint32_t round_ttl;
	int round_err;		    /* a query failed: the round fails */
	enum sl_dns_result outcome; /* the first failure's kind, or the
				       answers' (NXDOMAIN, NODATA) */
	int nx;			    /* every answer so far was NXDOMAIN */
	/* the next round */
	struct event *timer;
	uint64_t next_ms;
};

struct sl_resolver {
	struct event_base *base;
	struct evdns_base *dns;
	/* the settings dns was made with */
	char *ns_key;
	uint64_t timeout_ms, attempts;
	/* nameservers for our own queries */
	struct sockaddr_storage *ns;
	socklen_t *nslen;
	size_t nns;
	TAILQ_HEAD(, rname) names;
	sl_resolver_fn *changed;
	void *arg;
	struct event *changed_ev; /* coalesces a turn's changes */
	int stopping;
};

static void round_start(struct rname *n);
static void round_report(struct rname *n, struct rq *q, enum sl_dns_result res,
			 uint32_t ttl);
static void oq_free(struct oq *o);

/* ---- answers -------------------------------------------------------- */

static int
got_add(struct rname *n, int family, const void *addr, uint16_t port,
	uint32_t weight)
{
	struct raddr *a;

	for (size_t i = 0; i < n->ngot; i++) {
		const struct raddr *b = &n->got[i];
		if (b->ss.ss_family != family)
			continue;
		if (family == AF_INET &&
		    memcmp(&((const struct sockaddr_in *)&b->ss)->sin_addr,
			   addr, 4) == 0 &&
		    ((const struct sockaddr_in *)&b->ss)->sin_port ==
			htons(port))
			return 0;
		if (family == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)&b->ss)->sin6_addr,
			   addr, 16) == 0 &&
		    ((const struct sockaddr_in6 *)&b->ss)->sin6_port ==
			htons(port))
			return 0;
	}
	if (n->ngot >= MAX_ADDRS)
		return 0;
	if (n->ngot == n->capgot) {
		size_t cap = n->capgot ? n->capgot * 2 : 8;
		if ((a = realloc(n->got, cap * sizeof(*a))) == NULL)
			return -1;
		n->got = a;
		n->capgot = cap;
	}
	a = &n->got[n->ngot++];
	memset(a, 0, sizeof(*a));
	a->weight = weight;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		a->sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		a->sslen = sizeof(*sin6);
	}
	return 0;
}

static int
raddr_cmp(const void *pa, const void *pb)
{
	const struct raddr *a = pa, *b = pb;

	if (a->ss.ss_family != b->ss.ss_family)
		return a->ss.ss_family < b->ss.ss_family ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	return memcmp(&a->ss, &b->ss, a->sslen);
}

/* The "ADDRESS:PORT" of a, for log lines. */
static const char *
raddr_str(const struct raddr *a, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&a->ss;
		inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
		snprintf(buf, n, "[%s]:%u", host, ntohs(s->sin6_port));
	} else {
		const struct sockaddr_in *s = (const void *)&a->ss;
		inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
		snprintf(buf, n, "%s:%u", host, ntohs(s->sin_port));
	}
	return buf;
}

/* Says what a new answer adds and removes, for the log line. */
static void
answer_diff(const struct rname *n, char *out, size_t size)
{
	size_t o = 0;
	char a[INET6_ADDRSTRLEN + 10];

	out[0] = '\0';
	for (size_t i = 0; i < n->ngot && o < size; i++) {
		size_t j;
		for (j = 0; j < n->naddrs; j++)
			if (raddr_cmp(&n->got[i], &n->addrs[j]) == 0)
				break;
		if (j == n->naddrs)
			o += (size_t)snprintf(
			    out + o, size - o, " +%s",
			    raddr_str(&n->got[i], a, sizeof(a)));
	}
	for (size_t j = 0; j < n->naddrs && o < size; j++) {
		size_t i;
		for (i = 0; i < n->ngot; i++)
			if (raddr_cmp(&n->got[i], &n->addrs[j]) == 0)
				break;
		if (i == n->ngot)
			o += (size_t)snprintf(
			    out + o, size - o, " -%s",
			    raddr_str(&n->addrs[j], a, sizeof(a)));
	}
}

static void
changed(struct sl_resolver *r)
{
	if (!r->stopping)
		event_active(r->changed_ev, EV_TIMEOUT, 1);
}

static void
schedule(struct rname *n, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	n->next_ms = sl_now_ms() + ms;
	evtimer_add(n->timer, &tv);
}

/* The round is over: what it found replaces the answer in use, or the
 * answer in use stands (for keep_stale). */
static void
round_end(struct rname *n)
{
	uint64_t now = sl_now_ms(), ms;
	enum sl_dns_result res;
	int differs = 0;

	n->busy = 0;
	n->looked_up = 1;
	res = n->round_err  ? n->outcome
	      : n->ngot > 0 ? SL_DNS_R_OK
	      : n->nx	    ? SL_DNS_R_NXDOMAIN
			    : SL_DNS_R_EMPTY;
	n->last = res;
	n->lookups[res]++;
	if (res == SL_DNS_R_OK) {
		qsort(n->got, n->ngot, sizeof(*n->got), raddr_cmp);
		differs =
		    !n->have || n->ngot != n->naddrs ||
		    memcmp(n->got, n->addrs, n->ngot * sizeof(*n->got)) != 0;
		if (differs) {
			char d[512];
			answer_diff(n, d, sizeof(d));
			log_info("dns: cluster \"%s\": %s: %zu address%s "
				 "(ttl %u s):%s",
				 n->cluster, n->text, n->ngot,
				 n->ngot == 1 ? "" : "es", n->round_ttl, d);
		} else if (n->stale_since_ms != 0)
			log_info("dns: cluster \"%s\": %s: answered again",
				 n->cluster, n->text);
		free(n->addrs);
		n->addrs = n->got;
		n->naddrs = n->ngot;
		n->got = NULL;
		n->ngot = n->capgot = 0;
		n->have = 1;
		n->ttl_s = n->round_ttl;
		n->good_ms = now;
		n->stale_since_ms = 0;
		n->failures = 0;
		ms =
		    SL_MIN(SL_MAX((uint64_t)n->round_ttl * 1000, n->min_ttl_ms),
			   n->max_ttl_ms);
		schedule(n, ms);
		if (differs)
			changed(n->r);
		return;
	}
	/* failed, or empty: the answer in use stands for a while */
	n->ngot = 0;
	if (n->failures < 16)
		n->failures++;
	ms = SL_MIN(n->min_ttl_ms << (n->failures - 1),
		    SL_MIN((uint64_t)RETRY_MAX_MS, n->max_ttl_ms));
	ms = SL_MAX(ms, n->min_ttl_ms);
	if (n->have) {
		if (n->stale_since_ms == 0) {
			n->stale_since_ms = now;
			log_warnx("dns: cluster \"%s\": %s: lookup %s: the "
				  "last answer (%zu address%s) stands for up "
				  "to %.1f s (keep_stale)",
				  n->cluster, n->text, sl_dns_result_str(res),
				  n->naddrs, n->naddrs == 1 ? "" : "es",
				  (double)n->keep_stale_ms / 1000);
		}
		if (now - n->stale_since_ms >= n->keep_stale_ms) {
			log_warnx("dns: cluster \"%s\": %s: lookups %s for "
				  "%.1f s (keep_stale): its %zu address%s "
				  "dropped",
				  n->cluster, n->text, sl_dns_result_str(res),
				  (double)(now - n->stale_since_ms) / 1000,
				  n->naddrs, n->naddrs == 1 ? "" : "es");
			free(n->addrs);
			n->addrs = NULL;
			n->naddrs = 0;
			n->have = 0;
			changed(n->r);
		} else
			/* the drop comes on time */
			ms = SL_MIN(ms,
				    n->stale_since_ms + n->keep_stale_ms - now);
	} else if (n->failures == 1)
		log_warnx("dns: cluster \"%s\": %s: lookup %s: no address "
			  "yet",
			  n->cluster, n->text, sl_dns_result_str(res));
	schedule(n, ms);
}

/* ---- queries: evdns -------------------------------------------------- */

static enum sl_dns_result
evdns_result(int err)
{
	switch (err) {
	case DNS_ERR_NONE:
		return SL_DNS_R_OK;
	case DNS_ERR_NODATA:
		return SL_DNS_R_EMPTY;
	case DNS_ERR_NOTEXIST:
		return SL_DNS_R_NXDOMAIN;
	case DNS_ERR_SERVERFAILED:
		return SL_DNS_R_SERVFAIL;
	case DNS_ERR_REFUSED:
		return SL_DNS_R_REFUSED;
	case DNS_ERR_TIMEOUT:
		return SL_DNS_R_TIMEOUT;
	default:
		return SL_DNS_R_ERROR;
	}
}

static void oq_start(struct sl_resolver *r, struct rq *q, int tcp);

static void
on_evdns(int err, char type, int count, int ttl, void *addresses, void *arg)
{
	struct rq *q = arg;
	struct rname *n = q->n;

	q->req = NULL;
	if (n == NULL) {
		free(q); /* its round was dropped */
		return;
	}
	if (err == DNS_ERR_TRUNCATED) {
		/* more than a UDP answer holds: ours, over TCP */
		oq_start(n->r, q, 1);
		return;
	}
	if (err == DNS_ERR_NONE) {
		for (int i = 0; i < count; i++) {
			if (type == DNS_IPv4_A)
				(void)got_add(
				    n, AF_INET, (const char *)addresses + 4 * i,
				    n->srv ? q->port : n->port, q->weight);
			else if (type == DNS_IPv6_AAAA)
				(void)got_add(n, AF_INET6,
					      (const char *)addresses + 16 * i,
					      n->srv ? q->port : n->port,
					      q->weight);
		}
	}
	round_report(n, q, evdns_result(err), ttl > 0 ? (uint32_t)ttl : 0);
}

/* An A or AAAA query for name (an SRV target when port is set). */
static void
query_addr(struct rname *n, const char *name, uint16_t qtype, uint16_t port,
	   uint32_t weight)
{
	struct rq *q = calloc(1, sizeof(*q));

	if (q == NULL) {
		n->round_err = 1;
		n->outcome = SL_DNS_R_ERROR;
		return;
	}
	q->n = n;
	q->qtype = qtype;
	q->port = port;
	q->weight = weight;
	snprintf(q->qname, sizeof(q->qname), "%s", name);
	TAILQ_INSERT_TAIL(&n->queries, q, link);
	q->req = qtype == SL_DNS_A
		     ? evdns_base_resolve_ipv4(n->r->dns, name, 0, on_evdns, q)
		     : evdns_base_resolve_ipv6(n->r->dns, name, 0, on_evdns, q);
	if (q->req == NULL && q->n != NULL) {
		/* not sent (evdns could not); it may have reported already */
		TAILQ_REMOVE(&n->queries, q, link);
		free(q);
		n->round_err = 1;
		n->outcome = SL_DNS_R_ERROR;
	}
}

/* ---- queries: ours ---------------------------------------------------- */

static void
oq_free(struct oq *o)
{
	if (o == NULL)
		return;
	if (o->ev != NULL)
		event_free(o->ev);
	if (o->fd != -1)
		close(o->fd);
	free(o->buf);
	free(o);
}

/* Our query o ended with res (its answer parsed into a when OK). */
static void oq_done(struct oq *o, enum sl_dns_result res,
		    const struct sl_dns_answer *a);

static void oq_on_event(evutil_socket_t fd, short what, void *arg);

/* Sends try o->tries to the next nameserver, by UDP or TCP. Returns 0 or
 * -1 (nothing to send it with). */
static int
oq_send(struct oq *o)
{
	struct sl_resolver *r = o->r;
	const struct sockaddr *sa;
	struct timeval tv = {(time_t)(r->timeout_ms / 1000),
			     (suseconds_t)(r->timeout_ms % 1000) * 1000};

	if (r->nns == 0)
		return -1;
	if (o->ev != NULL) {
		event_free(o->ev);
		o->ev = NULL;
	}
	if (o->fd != -1)
		close(o->fd);
	o->ns = (o->ns + (o->tries > 0)) % r->nns;
	sa = (const struct sockaddr *)&r->ns[o->ns];
	o->tries++;
	if (getrandom(&o->id, sizeof(o->id), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(o->id))
		o->id = (uint16_t)(sl_now_ms() * 2654435761u);
	o->qlen =
	    (size_t)sl_dnsmsg_query(o->query + 2, SL_DNS_QUERY_MAX, o->id,
				    o->name, o->qtype, o->tcp ? 0 : EDNS_SIZE);
	o->query[0] = (uint8_t)(o->qlen >> 8);
	o->query[1] = (uint8_t)o->qlen;
	o->got = o->want = 0;
	o->fd = socket(sa->sa_family,
		       (o->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK |
			   SOCK_CLOEXEC,
		       0);
	if (o->fd == -1)
		return -1;
	if (connect(o->fd, sa, r->nslen[o->ns]) == -1 && errno != EINPROGRESS)
		return -1;
	if (!o->tcp && send(o->fd, o->query + 2, o->qlen, 0) == -1)
		return -1;
	o->ev = event_new(r->base, o->fd,
			  (o->tcp ? EV_WRITE : EV_READ) | EV_PERSIST,
			  oq_on_event, o);
	if (o->ev == NULL || event_add(o->ev, &tv) == -1)
		return -1;
	return 0;
}

/* Tries again (another nameserver) or gives up with res. */
static void
oq_retry(struct oq *o, enum sl_dns_result res)
{
	if (o->tries < o->r->attempts * SL_MAX(o->r->nns, 1) && oq_send(o) == 0)
		return;
	oq_done(o, res, NULL);
}

static void
oq_answer(struct oq *o, const uint8_t *p, size_t len)
{
	struct sl_dns_answer *a = malloc(sizeof(*a));

	if (a == NULL) {
		oq_done(o, SL_DNS_R_ERROR, NULL);
		return;
	}
	if (sl_dnsmsg_parse(p, len, o->id, o->name, o->qtype, a) == -1) {
		free(a);
		if (o->tcp)
			oq_retry(o, SL_DNS_R_ERROR);
		/* UDP: not the answer (a stray or forged datagram): the
		 * real one may still come */
		return;
	}
	if (a->truncated && !o->tcp) {
		free(a);
		/* the same nameserver, by TCP */
		o->tcp = 1;
		o->tries = 0;
		if (oq_send(o) == -1)
			oq_done(o, SL_DNS_R_ERROR, NULL);
		return;
	}
	switch (a->rcode) {
	case SL_DNS_NOERROR:
		oq_done(o, SL_DNS_R_OK, a);
		break;
	case SL_DNS_NXDOMAIN:
		oq_done(o, SL_DNS_R_NXDOMAIN, a);
		break;
	case SL_DNS_SERVFAIL:
		oq_retry(o, SL_DNS_R_SERVFAIL);
		break;
	case SL_DNS_REFUSED:
		oq_retry(o, SL_DNS_R_REFUSED);
		break;
	default:
		oq_retry(o, SL_DNS_R_ERROR);
		break;
	}
	free(a);
}

static void
oq_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct oq *o = arg;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		oq_retry(o, SL_DNS_R_TIMEOUT);
		return;
	}
	if (!o->tcp) {
		uint8_t buf[4096];
		if ((n = recv(fd, buf, sizeof(buf), 0)) <= 0) {
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			/* ICMP: the port is closed */
			oq_retry(o, SL_DNS_R_ERROR);
			return;
		}
		oq_answer(o, buf, (size_t)n);
		return;
	}
	if (what & EV_WRITE) {
		/* connected: the query goes in one write (it is small) */
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0 ||
		    send(fd, o->query, o->qlen + 2, MSG_NOSIGNAL) !=
			(ssize_t)(o->qlen + 2)) {
			oq_retry(o, SL_DNS_R_ERROR);
			return;
		}
		event_del(o->ev);
		event_assign(o->ev, o->r->base, fd, EV_READ | EV_PERSIST,
			     oq_on_event, o);
		event_add(o->ev,
			  &(struct timeval){
			      (time_t)(o->r->timeout_ms / 1000),
			      (suseconds_t)(o->r->timeout_ms % 1000) * 1000});
		return;
	}
	if (o->buf == NULL && (o->buf = malloc(65535 + 2)) == NULL) {
		oq_done(o, SL_DNS_R_ERROR, NULL);
		return;
	}
	for (;;) {
		size_t want = o->got < 2 ? 2 : o->want + 2;
		n = recv(fd, o->buf + o->got, want - o->got, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			oq_retry(o, SL_DNS_R_ERROR);
			return;
		}
		o->got += (size_t)n;
		if (o->got == 2)
			o->want = (size_t)o->buf[0] << 8 | o->buf[1];
		if (o->got >= 2 && o->got == o->want + 2) {
			oq_answer(o, o->buf + 2, o->want);
			return;
		}
	}
}

/* Our query for q: an SRV record, or, over TCP, what evdns found
 * truncated. */
static void
oq_start(struct sl_resolver *r, struct rq *q, int tcp)
{
	struct oq *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		round_report(q->n, q, SL_DNS_R_ERROR, 0);
		return;
	}
	o->r = r;
	o->q = q;
	o->fd = -1;
	o->tcp = tcp;
	o->qtype = q->qtype;
	snprintf(o->name, sizeof(o->name), "%s", q->qname);
	q->oq = o;
	if (oq_send(o) == -1)
		oq_done(o, SL_DNS_R_ERROR, NULL);
}

/* The SRV records of a, into the round: the lowest priority's, each
 * target's addresses from the additional section, or looked up. */
static void
srv_answer(struct rname *n, const struct sl_dns_answer *a, uint32_t *ttl)
{
	uint32_t maxw = 0;
	int prio = -1;

	for (size_t i = 0; i < a->nsrvs; i++)
		if (a->srvs[i].target[0] != '\0' &&
		    (prio == -1 || a->srvs[i].priority < prio))
			prio = a->srvs[i].priority;
	for (size_t i = 0; i < a->nsrvs; i++)
		if (a->srvs[i].priority == prio)
			maxw = SL_MAX(maxw, a->srvs[i].weight);
	for (size_t i = 0; i < a->nsrvs; i++) {
		const struct sl_dns_srv *s = &a->srvs[i];
		int glued = 0;
		/* the weights as sluice takes them: 1 to 1000, in the
		 * records' proportions (RFC 2782's 0 as 1) */
		uint32_t w = maxw > 1000
				 ? (uint32_t)((uint64_t)s->weight * 1000 / maxw)
				 : s->weight;

		if (s->priority != prio || s->target[0] == '\0')
			continue;
		w = SL_MAX(w, 1);
		*ttl = SL_MIN(*ttl, s->ttl);
		for (size_t j = 0; j < a->nglue; j++) {
			const struct sl_dns_glue *g = &a->glue[j];
			if (strcmp(g->name, s->target) != 0)
				continue;
			if ((g->a.family == AF_INET &&
			     n->family == SL_DNS_FAMILY_IPV6) ||
			    (g->a.family == AF_INET6 &&
			     n->family == SL_DNS_FAMILY_IPV4))
				continue;
			glued = 1;
			*ttl = SL_MIN(*ttl, g->a.ttl);
			(void)got_add(n, g->a.family, g->a.addr, s->port, w);
		}
		if (glued)
			continue;
		/* no address given: the target's own lookups */
		if (n->family != SL_DNS_FAMILY_IPV6)
			query_addr(n, s->target, SL_DNS_A, s->port, w);
		if (n->family != SL_DNS_FAMILY_IPV4)
			query_addr(n, s->target, SL_DNS_AAAA, s->port, w);
	}
}

static void
oq_done(struct oq *o, enum sl_dns_result res, const struct sl_dns_answer *a)
{
	struct rq *q = o->q;
	struct rname *n = q->n;
	uint32_t ttl = UINT32_MAX;

	q->oq = NULL;
	oq_free(o);
	if (n == NULL) {
		free(q);
		return;
	}
	if (res == SL_DNS_R_OK && a != NULL) {
		if (q->qtype == SL_DNS_SRV)
			srv_answer(n, a, &ttl);
		for (size_t i = 0; i < a->naddrs; i++) {
			ttl = SL_MIN(ttl, a->addrs[i].ttl);
			(void)got_add(n, a->addrs[i].family, a->addrs[i].addr,
				      n->srv ? q->port : n->port, q->weight);
		}
		if (a->naddrs == 0 && a->nsrvs == 0)
			res = SL_DNS_R_EMPTY;
	}
	round_report(n, q, res, ttl == UINT32_MAX ? 0 : ttl);
}

/* ---- rounds ------------------------------------------------------------ */

/* Query q of n's round reported res (its addresses already added). */
static void
round_report(struct rname *n, struct rq *q, enum sl_dns_result res,
	     uint32_t ttl)
{
	TAILQ_REMOVE(&n->queries, q, link);
	free(q);
	switch (res) {
	case SL_DNS_R_OK:
		n->nx = 0;
		if (ttl > 0 || n->round_ttl == UINT32_MAX)
			n->round_ttl = SL_MIN(n->round_ttl, ttl);
		break;
	case SL_DNS_R_EMPTY:
		n->nx = 0;
		break;
	case SL_DNS_R_NXDOMAIN:
		break;
	default:
		if (!n->round_err) {
			n->round_err = 1;
			n->outcome = res;
		}
		break;
	}
	if (TAILQ_EMPTY(&n->queries)) {
		if (n->round_ttl == UINT32_MAX)
			n->round_ttl = 0;
		round_end(n);
	}
}

static void
round_start(struct rname *n)
{
	struct rq *q;

	if (n->busy || n->r->stopping)
		return;
	n->busy = 1;
	n->ngot = 0;
	n->round_ttl = UINT32_MAX;
	n->round_err = 0;
	n->nx = 1;
	if (n->srv) {
		if ((q = calloc(1, sizeof(*q))) == NULL) {
			n->busy = 0;
			schedule(n, n->min_ttl_ms);
			return;
		}
		q->n = n;
		q->qtype = SL_DNS_SRV;
		snprintf(q->qname, sizeof(q->qname), "%s", n->name);
		TAILQ_INSERT_TAIL(&n->queries, q, link);
		oq_start(n->r, q, 0);
		return;
	}
	/* one query may report at once (evdns): the round must not end
	 * before the other is sent, so a placeholder holds it open */
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		n->busy = 0;
		schedule(n, n->min_ttl_ms);
		return;
	}
	q->n = n;
	TAILQ_INSERT_TAIL(&n->queries, q, link);
	if (n->family != SL_DNS_FAMILY_IPV6)
		query_addr(n, n->name, SL_DNS_A, 0, 0);
	if (n->family != SL_DNS_FAMILY_IPV4)
		query_addr(n, n->name, SL_DNS_AAAA, 0, 0);
	round_report(n, q, SL_DNS_R_NXDOMAIN, 0);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	round_start(arg);
}

/* Drops n's round: its queries report to nobody. base_going: the evdns
 * base is about to be freed without calling back (evdns_base_free(.., 0)),
 * so its requests need no cancelling. */
static void
round_drop(struct rname *n, int base_going)
{
	struct rq *q;

	while ((q = TAILQ_FIRST(&n->queries)) != NULL) {
		TAILQ_REMOVE(&n->queries, q, link);
		q->n = NULL;
		if (q->oq != NULL) {
			oq_free(q->oq);
			free(q);
		} else if (q->req != NULL && !base_going)
			/* evdns calls back with DNS_ERR_CANCEL (from the
			 * loop), which frees q */
			evdns_cancel_request(n->r->dns, q->req);
		else
			free(q);
	}
	n->busy = 0;
}

static void
rname_free(struct rname *n, int base_going)
{
	round_drop(n, base_going);
	if (n->timer != NULL)
		event_free(n->timer);
	free(n->cluster);
	free(n->text);
	free(n->name);
	free(n->addrs);
	free(n->got);
	free(n);
}

/* ---- the resolver ------------------------------------------------------ */

/* evdns's own lines (a nameserver found down, then up again): detail,
 * beside the lookups' results that this file logs */
static void
on_evdns_log(int is_warning, const char *msg)
{
	log_debug("dns: evdns%s: %s", is_warning ? " warning" : "", msg);
}

static void
on_changed(evutil_socket_t fd, short what, void *arg)
{
	struct sl_resolver *r = arg;

	r->changed(r->arg);
}

struct sl_resolver *
sl_resolver_new(struct event_base *base, sl_resolver_fn *fn, void *arg)
{
	struct sl_resolver *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	evdns_set_log_fn(on_evdns_log);
	r->base = base;
	r->changed = fn;
	r->arg = arg;
	TAILQ_INIT(&r->names);
	if ((r->changed_ev = event_new(base, -1, 0, on_changed, r)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

/*
 * Name n goes: when the configuration still names it for its cluster,
 * looked up for another address family (dns.family changed), the entry
 * that does it now takes n's lookup counts. /metrics labels them by
 * cluster and name only, and a reload must not take them back down.
 */
static void
rname_carry(struct sl_resolver *r, const struct rname *n)
{
	struct rname *m;

	TAILQ_FOREACH(m, &r->names, link)
	if (m != n && m->used && strcmp(m->cluster, n->cluster) == 0 &&
	    strcmp(m->text, n->text) == 0) {
		for (int i = 0; i < SL_DNS_NRESULTS; i++)
			m->lookups[i] += n->lookups[i];
		return;
	}
}

static struct rname *
rname_find(const struct sl_resolver *r, const char *cluster, const char *text,
	   int family)
{
	struct rname *n;

	TAILQ_FOREACH(n, &r->names, link)
	if (strcmp(n->cluster, cluster) == 0 && strcmp(n->text, text) == 0 &&
	    n->family == family)
		return n;
	return NULL;
}

/* The nameservers of conf as a key: a change makes a new evdns base. */
static char *
ns_key(const struct sl_conf *conf)
{
	size_t len = 16;
	char *k;

	for (size_t i = 0; i < conf->nnameservers; i++)
		len += strlen(conf->nameservers[i].text) + 1;
	if ((k = calloc(1, len)) == NULL)
		return NULL;
	strcpy(k, "-");
	for (size_t i = 0; i < conf->nnameservers; i++) {
		strcat(k, conf->nameservers[i].text);
		strcat(k, ",");
	}
	return k;
}

/* A new evdns base for conf's resolver settings; our queries' nameservers
 * with it. Returns 0 or -1. */
static int
dns_setup(struct sl_resolver *r, const struct sl_conf *conf)
{
	struct evdns_base *dns;
	char val[32];
	int n;

	dns = evdns_base_new(
	    r->base,
	    (conf->nnameservers > 0 ? 0 : EVDNS_BASE_INITIALIZE_NAMESERVERS) |
		EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (dns == NULL)
		return -1;
	for (size_t i = 0; i < conf->nnameservers; i++)
		if (evdns_base_nameserver_sockaddr_add(
			dns, (const struct sockaddr *)&conf->nameservers[i].ss,
			conf->nameservers[i].sslen, 0) != 0)
			log_warnx("resolver: nameserver %s not added",
				  conf->nameservers[i].text);
	snprintf(val, sizeof(val), "%.3f", (double)conf->dns_timeout_ms / 1000);
	(void)evdns_base_set_option(dns, "timeout", val);
	snprintf(val, sizeof(val), "%llu",
		 (unsigned long long)conf->dns_attempts);
	(void)evdns_base_set_option(dns, "attempts", val);
	/* a whole lookup's tries are ours to bound, not evdns's probes */
	(void)evdns_base_set_option(dns, "max-timeouts", "1000");
	n = evdns_base_count_nameservers(dns);
	free(r->ns);
	free(r->nslen);
	r->ns = calloc(n > 0 ? (size_t)n : 1, sizeof(*r->ns));
	r->nslen = calloc(n > 0 ? (size_t)n : 1, sizeof(*r->nslen));
	r->nns = 0;
	if (r->ns == NULL || r->nslen == NULL) {
		evdns_base_free(dns, 0);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int l = evdns_base_get_nameserver_addr(
		    dns, i, (struct sockaddr *)&r->ns[r->nns],
		    sizeof(r->ns[r->nns]));
		if (l > 0 && (size_t)l <= sizeof(r->ns[r->nns]))
			r->nslen[r->nns++] = (socklen_t)l;
	}
	if (r->nns == 0)
		log_warnx("resolver: no nameserver (%s)",
			  conf->nnameservers > 0 ? "resolver.nameservers"
						 : "/etc/resolv.conf");
	r->dns = dns;
	r->timeout_ms = conf->dns_timeout_ms;
	r->attempts = conf->dns_attempts;
	return 0;
}

int
sl_resolver_apply(struct sl_resolver *r, const struct sl_conf *conf)
{
	struct rname *n, *next;
	char *key;
	int restart = 0, any = 0;

	for (size_t i = 0; i < conf->nclusters; i++)
		any |= conf->clusters[i].nnames > 0;
	TAILQ_FOREACH(n, &r->names, link)
	n->used = 0;
	if (any || r->dns != NULL) {
		if ((key = ns_key(conf)) == NULL)
			return -1;
		if (r->dns == NULL || strcmp(key, r->ns_key) != 0 ||
		    r->timeout_ms != conf->dns_timeout_ms ||
		    r->attempts != conf->dns_attempts) {
			/* other settings: every lookup starts over on a new
			 * base */
			TAILQ_FOREACH(n, &r->names, link)
			round_drop(n, 1);
			if (r->dns != NULL)
				evdns_base_free(r->dns, 0);
			r->dns = NULL;
			if (any && dns_setup(r, conf) == -1) {
				free(key);
				return -1;
			}
			restart = 1;
		}
		free(r->ns_key);
		r->ns_key = key;
	}
	for (size_t i = 0; i < conf->nclusters; i++) {
		const struct sl_conf_cluster *cl = &conf->clusters[i];
		for (size_t k = 0; k < cl->nnames; k++) {
			const struct sl_conf_dns_name *nm = &cl->names[k];
			int restart_n;
			n = rname_find(r, cl->name, nm->text, cl->dns_family);
			if (n == NULL) {
				if ((n = calloc(1, sizeof(*n))) == NULL)
					return -1;
				n->r = r;
				TAILQ_INIT(&n->queries);
				n->cluster = strdup(cl->name);
				n->text = strdup(nm->text);
				n->name = strdup(nm->name);
				n->timer = evtimer_new(r->base, on_timer, n);
				if (n->cluster == NULL || n->text == NULL ||
				    n->name == NULL || n->timer == NULL) {
					rname_free(n, 0);
					return -1;
				}
				n->srv = nm->srv;
				n->port = nm->port;
				n->family = cl->dns_family;
				TAILQ_INSERT_TAIL(&r->names, n, link);
				restart_n = 1;
			} else
				restart_n = restart && !n->busy;
			n->used = 1;
			n->min_ttl_ms = cl->dns_min_ttl_ms;
			n->max_ttl_ms = cl->dns_max_ttl_ms;
			n->keep_stale_ms = cl->dns_keep_stale_ms;
			if (restart_n) {
				evtimer_del(n->timer);
				round_start(n);
			}
		}
	}
	for (n = TAILQ_FIRST(&r->names); n != NULL; n = next) {
		next = TAILQ_NEXT(n, link);
		if (!n->used) {
			rname_carry(r, n);
			TAILQ_REMOVE(&r->names, n, link);
			rname_free(n, 0);
		}
	}
	return 0;
}

int
sl_resolver_settled(const struct sl_resolver *r, const struct sl_conf *conf)
{
	for (size_t i = 0; i < conf->nclusters; i++) {
		const struct sl_conf_cluster *cl = &conf->clusters[i];
		for (size_t k = 0; k < cl->nnames; k++) {
			const struct rname *n = rname_find(
			    r, cl->name, cl->names[k].text, cl->dns_family);
			if (n == NULL || !n->looked_up)
				return 0;
		}
	}
	return 1;
}

uint64_t
sl_resolver_settle_ms(const struct sl_conf *conf)
{
	return 2 * conf->dns_timeout_ms * conf->dns_attempts + 500;
}

int
sl_resolver_fill(const struct sl_resolver *r, struct sl_conf *conf)
{
	struct sl_conf_resolved *v = NULL;
	size_t cap = 0;

	for (size_t i = 0; i < conf->nclusters; i++) {
		struct sl_conf_cluster *cl = &conf->clusters[i];
		for (size_t k = 0; k < cl->nnames; k++) {
			const struct rname *n = rname_find(
			    r, cl->name, cl->names[k].text, cl->dns_family);
			if (n == NULL || !n->have || n->naddrs == 0)
				continue;
			if (n->naddrs > cap) {
				struct sl_conf_resolved *nv =
				    realloc(v, n->naddrs * sizeof(*v));
				if (nv == NULL) {
					free(v);
					return -1;
				}
				v = nv;
				cap = n->naddrs;
			}
			for (size_t j = 0; j < n->naddrs; j++) {
				v[j].ss = n->addrs[j].ss;
				v[j].sslen = n->addrs[j].sslen;
				v[j].weight = n->srv ? n->addrs[j].weight
						     : cl->names[k].weight;
			}
			if (sl_conf_add_resolved(cl, k, v, n->naddrs) == -1) {
				free(v);
				return -1;
			}
		}
	}
	free(v);
	return 0;
}

int
sl_resolver_state(const struct sl_resolver *r, const char *cluster,
		  const char *text, struct sl_resolver_state *st)
{
	const struct rname *n;

	memset(st, 0, sizeof(*st));
	if (r == NULL)
		return -1;
	TAILQ_FOREACH(n, &r->names, link)
	if (strcmp(n->cluster, cluster) == 0 && strcmp(n->text, text) == 0)
		break;
	if (n == NULL)
		return -1;
	st->last = n->last;
	st->looked_up = n->looked_up;
	st->have = n->have;
	st->naddrs = n->naddrs;
	st->good_ms = n->good_ms;
	st->stale_since_ms = n->stale_since_ms;
	st->ttl_s = n->ttl_s;
	st->next_ms = n->next_ms;
	memcpy(st->lookups, n->lookups, sizeof(st->lookups));
	return 0;
}

void
sl_resolver_free(struct sl_resolver *r)
{
	struct rname *n;

	if (r == NULL)
		return;
	r->stopping = 1;
	/* the base goes without calling back: no request is cancelled, no
	 * callback left to run after the loop */
	while ((n = TAILQ_FIRST(&r->names)) != NULL) {
		TAILQ_REMOVE(&r->names, n, link);
		rname_free(n, 1);
	}
	if (r->dns != NULL)
		evdns_base_free(r->dns, 0);
	event_free(r->changed_ev);
	free(r->ns_key);
	free(r->ns);
	free(r->nslen);
	free(r);
}

static void
check_changed(void *arg)
{
	(void)arg;
}

static void
check_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int
sl_resolver_check(const struct sl_conf *conf, char **warnings)
{
	struct event_base *base;
	struct sl_resolver *r;
	uint64_t until;
	int any = 0, rc = 0;

	for (size_t i = 0; i < conf->nclusters; i++)
		any |= conf->clusters[i].nnames > 0;
	if (!any)
		return 0;
	if ((base = event_base_new()) == NULL)
		return -1;
	if ((r = sl_resolver_new(base, check_changed, NULL)) == NULL ||
	    sl_resolver_apply(r, conf) == -1) {
		sl_resolver_free(r);
		event_base_free(base);
		return -1;
	}
	until = sl_now_ms() + sl_resolver_settle_ms(conf);
	while (!sl_resolver_settled(r, conf) && sl_now_ms() < until) {
		struct event *tick = evtimer_new(base, check_tick, NULL);
		struct timeval tv = {0, 100000};
		if (tick != NULL)
			evtimer_add(tick, &tv);
		event_base_loop(base, EVLOOP_ONCE);
		if (tick != NULL)
			event_free(tick);
	}
	for (size_t i = 0; i < conf->nclusters && rc == 0; i++) {
		const struct sl_conf_cluster *cl = &conf->clusters[i];
		for (size_t k = 0; k < cl->nnames && rc == 0; k++) {
			const struct sl_conf_dns_name *nm = &cl->names[k];
			const struct rname *n =
			    rname_find(r, cl->name, nm->text, cl->dns_family);
			char line[1024];
			size_t have, len;
			char *w;

			if (n != NULL && n->have)
				continue;
			snprintf(line, sizeof(line),
				 "%s:%u:%u: warning: cluster \"%s\": %s does "
				 "not resolve (%s): the cluster has no address "
				 "from it until it does\n",
				 conf->path, nm->pos.line, nm->pos.col,
				 cl->name, nm->text,
				 n == NULL || !n->looked_up
				     ? "no answer yet"
				     : sl_dns_result_str(n->last));
			have = *warnings != NULL ? strlen(*warnings) : 0;
			len = strlen(line);
			if ((w = realloc(*warnings, have + len + 1)) == NULL) {
				rc = -1;
				break;
			}
			memcpy(w + have, line, len + 1);
			*warnings = w;
		}
	}
	sl_resolver_free(r);
	event_base_free(base);
	return rc;
}
