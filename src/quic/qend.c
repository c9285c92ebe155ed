/* SPDX-License-Identifier: MIT */
/*
 * A worker's QUIC endpoint (qend.h).
 */
#include "qend.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "qconn.h"
#include "qroute.h"
#include "qtoken.h"

#define NBUCKETS 1024 /* the ID table's (a power of two) */
#define MAX_IDS	 8    /* the IDs a connection answers to, at most */
#define CID_LEN	 16   /* the IDs sluice issues (qconn.c's) */
#define DGRAM	 1500 /* a datagram written */
/* handshakes in progress by address: counts in a table of this many
 * slots by a hash of the address (two addresses may share one: each is
 * then held to the limit with the other's) */
#define IPSLOTS 4096

/* A connection ended answers its closed state this many times at most:
 * its CONNECTION_CLOSE again (RFC 9000 section 10.2.1). */
#define CLOSE_RESENDS 3

/* A connection, and the IDs it is found by. Once ended (c NULL), it
 * stays found by them for three probe timeouts (RFC 9000 section 10.2),
 * so that what the peer still sends is not taken for a stranger's: its
 * CONNECTION_CLOSE is sent again (closing) or nothing is (draining). */
struct qe_conn {
	struct qe_conn *gone_next; /* in e->gone, once ended */
	uint64_t gone_until;	   /* ns */
	uint8_t *close;		   /* the CONNECTION_CLOSE it sent, or NULL */
	size_t close_len;
	unsigned resent;
	uint16_t ipslot;     /* its address's slot in e->hs_ip */
	uint8_t handshaking; /* counted in e->hs_ip and e->nhs */
	struct sl_qconn *c;
	uint64_t serial;
	uint8_t ids[MAX_IDS + 1][20]; /* its own, then the client's first */
	uint8_t lens[MAX_IDS + 1];
	size_t nids;
};

/* An ID in the table. */
struct qe_id {
	struct qe_id *next;
	struct qe_conn *qc;
	uint8_t len;
	uint8_t id[20];
};

struct sl_qend {
	struct sl_qend_cfg cfg;
	uint8_t key[32];
	struct sockaddr_storage local;
	socklen_t local_len;
	struct qe_conn **conns;
	size_t nconns, cap;
	struct qe_conn *gone; /* ended, still found by their IDs */
	size_t nhs;	      /* connections whose handshake goes on */
	uint16_t hs_ip[IPSLOTS];
	struct qe_id *buckets[NBUCKETS];
	struct sl_qend_stats st;
	uint8_t buf[DGRAM];
};

static size_t
bucket(const uint8_t *id, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ id[i]) * 16777619u;
	return h & (NBUCKETS - 1);
}

static struct qe_conn *
find(const struct sl_qend *e, const uint8_t *id, size_t len)
{
	for (const struct qe_id *x = e->buckets[bucket(id, len)]; x != NULL;
	     x = x->next)
		if (x->len == len && memcmp(x->id, id, len) == 0)
			return x->qc;
	return NULL;
}

/* qc's IDs out of the table. */
static void
ids_drop(struct sl_qend *e, struct qe_conn *qc)
{
	for (size_t i = 0; i < qc->nids; i++) {
		struct qe_id **pp =
		    &e->buckets[bucket(qc->ids[i], qc->lens[i])];
		while (*pp != NULL) {
			struct qe_id *x = *pp;
			if (x->qc == qc) {
				*pp = x->next;
				free(x);
			} else
				pp = &x->next;
		}
	}
}

/* qc's IDs as its connection answers to them now, and the client's
 * first one (its Initials' retransmissions), into the table. */
static void
ids_sync(struct sl_qend *e, struct qe_conn *qc)
{
	uint8_t first[20], flen = 0;
	size_t n;

	if (qc->nids > 0) {
		flen = qc->lens[qc->nids - 1];
		memcpy(first, qc->ids[qc->nids - 1], flen);
	}
	/* the same IDs as at the last sync (nearly every flush): nothing to
	 * do */
	{
		uint8_t now[MAX_IDS + 1][20], lens[MAX_IDS + 1];
		size_t k = sl_qconn_scids(qc->c, now, lens, MAX_IDS), i = 0;
		if (qc->nids == k + (flen > 0))
			for (; i < k; i++)
				if (lens[i] != qc->lens[i] ||
				    memcmp(now[i], qc->ids[i], lens[i]) != 0)
					break;
		if (qc->nids == k + (flen > 0) && i == k)
			return;
	}
	ids_drop(e, qc);
	n = sl_qconn_scids(qc->c, qc->ids, qc->lens, MAX_IDS);
	if (flen > 0) {
		memcpy(qc->ids[n], first, flen);
		qc->lens[n++] = flen;
	}
	qc->nids = n;
	for (size_t i = 0; i < n; i++) {
		struct qe_id *x = malloc(sizeof(*x));
		size_t b = bucket(qc->ids[i], qc->lens[i]);
		if (x == NULL)
			continue; /* not found by that ID: its packets drop */
		x->qc = qc;
		x->len = qc->lens[i];
		memcpy(x->id, qc->ids[i], x->len);
		x->next = e->buckets[b];
		e->buckets[b] = x;
	}
}

/* qc's handshake is over (done, or the connection ended): its address
 * may begin another. */
static void
hs_done(struct sl_qend *e, struct qe_conn *qc)
{
	if (!qc->handshaking)
		return;
	qc->handshaking = 0;
	e->nhs--;
	if (e->hs_ip[qc->ipslot] > 0)
		e->hs_ip[qc->ipslot]--;
}

static uint16_t
ip_slot(const struct sockaddr *sa)
{
	const uint8_t *a;
	size_t n;
	uint32_t h = 2166136261u;

	if (sa->sa_family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)sa)
			->sin6_addr;
		n = 16;
	} else {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)
			->sin_addr;
		n = 4;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ a[i]) * 16777619u;
	return (uint16_t)(h % IPSLOTS);
}

static void
conn_end(struct sl_qend *e, struct qe_conn *qc, uint64_t now)
{
	socklen_t tl;
	const struct sockaddr *to = sl_qconn_remote(qc->c, &tl);
	long n = sl_qconn_write_close(qc->c, e->buf, sizeof(e->buf), now);
	uint64_t pto = sl_qconn_pto(qc->c);

	if (n > 0) {
		e->cfg.send(e->cfg.arg, to, tl, e->buf, (size_t)n);
		if ((qc->close = malloc((size_t)n)) != NULL) {
			memcpy(qc->close, e->buf, (size_t)n);
			qc->close_len = (size_t)n;
		}
	}
	if (e->cfg.ended != NULL)
		e->cfg.ended(e->cfg.arg, qc->c);
	hs_done(e, qc);
	for (size_t i = 0; i < e->nconns; i++)
		if (e->conns[i] == qc) {
			e->conns[i] = e->conns[--e->nconns];
			break;
		}
	sl_qconn_free(qc->c);
	qc->c = NULL;
	qc->gone_until = now + 3 * pto;
	qc->gone_next = e->gone;
	e->gone = qc;
	e->st.closed++;
	e->st.conns = e->nconns;
}

/* What qc has to send, sent; its IDs kept up to date. Returns -1 when
 * it ended (and was freed). */
static int
flush(struct sl_qend *e, struct qe_conn *qc, uint64_t now)
{
	struct sockaddr_storage to;
	socklen_t tl = 0;
	long n;

	while ((n = sl_qconn_write(qc->c, e->buf, sizeof(e->buf), now, &to,
				   &tl)) > 0)
		e->cfg.send(e->cfg.arg, (const struct sockaddr *)&to, tl,
			    e->buf, (size_t)n);
	if (n < 0) {
		conn_end(e, qc, now);
		return -1;
	}
	if (qc->handshaking && sl_qconn_established(qc->c))
		hs_done(e, qc);
	ids_sync(e, qc);
	return 0;
}

struct sl_qend *
sl_qend_new(const struct sl_qend_cfg *cfg, const struct sockaddr *local,
	    socklen_t local_len)
{
	struct sl_qend *e = calloc(1, sizeof(*e));

	if (e == NULL || local_len > sizeof(e->local)) {
		free(e);
		return NULL;
	}
	e->cfg = *cfg;
	memcpy(e->key, cfg->key, sizeof(e->key));
	e->cfg.key = e->key;
	memcpy(&e->local, local, local_len);
	e->local_len = local_len;
	return e;
}

/* Ended connections whose time is up (all: UINT64_MAX) forgotten. */
static void
gone_expire(struct sl_qend *e, uint64_t now)
{
	struct qe_conn **pp = &e->gone;

	while (*pp != NULL) {
		struct qe_conn *qc = *pp;
		if (qc->gone_until > now) {
			pp = &qc->gone_next;
			continue;
		}
		*pp = qc->gone_next;
		ids_drop(e, qc);
		free(qc->close);
		free(qc);
	}
}

void
sl_qend_free(struct sl_qend *e)
{
	if (e == NULL)
		return;
	while (e->nconns > 0)
		conn_end(e, e->conns[e->nconns - 1], 0);
	gone_expire(e, UINT64_MAX);
	free(e->conns);
	OPENSSL_cleanse(e->key, sizeof(e->key));
	free(e);
}

/* An answer of no connection's, sent back to from. */
static void
answer(struct sl_qend *e, long n, const struct sockaddr *from, socklen_t fl,
       uint64_t *count)
{
	if (n > 0) {
		e->cfg.send(e->cfg.arg, from, fl, e->buf, (size_t)n);
		(*count)++;
	} else
		e->st.dropped++;
}

/* A client's Initial of no connection: a Retry, or a new connection. */
static void
initial(struct sl_qend *e, const uint8_t *d, size_t n,
	const struct sockaddr *from, socklen_t fl, uint64_t now)
{
	struct sl_qinitial in;
	struct sl_qtoken t;
	struct sl_qretried rt, *retried = NULL;
	struct sl_qconn_ids ids = {e->cfg.worker, e->key, e->cfg.max_streams};
	struct sl_qpath path;
	struct qe_conn *qc, **grown;
	uint64_t now_ms = now / 1000000;

	if (sl_qconn_initial(d, n, &in) != 0) {
		e->st.dropped++;
		return;
	}
	if (e->nconns >= e->cfg.max_conns) {
		e->st.full++;
		return;
	}
	/* a token of ours for this address, for the ID the Retry gave */
	if (in.token_len > 0 &&
	    sl_qtoken_open(e->key, in.token, in.token_len, from, fl, now_ms,
			   e->cfg.token_age_ms, &t) == 0 &&
	    t.rscid_len == in.dcid_len &&
	    memcmp(t.rscid, in.dcid, in.dcid_len) == 0) {
		rt.odcid = t.odcid;
		rt.odcid_len = t.odcid_len;
		rt.rscid = in.dcid;
		rt.rscid_len = in.dcid_len;
		retried = &rt;
	}
	if (e->cfg.retry && retried == NULL) {
		uint8_t tok[SL_QTOKEN_MAX];
		long tl;
		memset(&t, 0, sizeof(t));
		memcpy(t.odcid, in.dcid, in.dcid_len);
		t.odcid_len = (uint8_t)in.dcid_len;
		t.rscid_len = CID_LEN;
		t.made_ms = now_ms;
		if (sl_qroute_cid(t.rscid, CID_LEN, e->cfg.worker) != 0 ||
		    (tl = sl_qtoken_seal(e->key, &t, from, fl, tok)) < 0) {
			e->st.dropped++;
			return;
		}
		answer(e,
		       sl_qconn_write_retry(e->buf, sizeof(e->buf), &in,
					    t.rscid, CID_LEN, tok, (size_t)tl),
		       from, fl, &e->st.retries);
		return;
	}
	if (e->cfg.max_handshakes_per_ip > 0 &&
	    e->hs_ip[ip_slot(from)] >= e->cfg.max_handshakes_per_ip) {
		e->st.per_ip++;
		return;
	}
	path.local = (const struct sockaddr *)&e->local;
	path.local_len = e->local_len;
	path.remote = from;
	path.remote_len = fl;
	if (e->nconns == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 16;
		if ((grown = realloc(e->conns, cap * sizeof(*grown))) == NULL) {
			e->st.dropped++;
			return;
		}
		e->conns = grown;
		e->cap = cap;
	}
	if ((qc = calloc(1, sizeof(*qc))) == NULL ||
	    (qc->c = sl_qconn_accept_retried(e->cfg.ctx, &ids, retried, &path,
					     d, n, now)) == NULL) {
		free(qc);
		e->st.dropped++;
		return;
	}
	/* the client's first DCID finds it too, until the client has ours
	 * (its Initials are sent again to it) */
	memcpy(qc->ids[0], in.dcid, in.dcid_len);
	qc->lens[0] = (uint8_t)in.dcid_len;
	qc->nids = 1;
	/* its first datagram, read, held only the ClientHello: no stream
	 * data comes before the layer above has its callbacks set */
	if (e->cfg.opened != NULL)
		e->cfg.opened(e->cfg.arg, qc->c);
	e->conns[e->nconns++] = qc;
	sl_qconn_set_owner(qc->c, qc);
	qc->ipslot = ip_slot(from);
	qc->handshaking = 1;
	e->hs_ip[qc->ipslot]++;
	e->nhs++;
	e->st.accepted++;
	qc->serial = e->st.accepted;
	e->st.conns = e->nconns;
	(void)flush(e, qc, now);
}

void
sl_qend_input(struct sl_qend *e, const uint8_t *d, size_t n,
	      const struct sockaddr *from, socklen_t fl, uint64_t now)
{
	struct sl_qpeek p;
	struct qe_conn *qc;
	int r = sl_qconn_peek(d, n, &p);

	if (r < 0) {
		e->st.dropped++;
		return;
	}
	if (r == 1) {
		/* RFC 9000 6.1: only to a datagram a client's Initial could
		 * be, so an answer never amplifies */
		answer(e,
		       n >= 1200 ? sl_qconn_write_vn(e->buf, sizeof(e->buf), &p)
				 : -1,
		       from, fl, &e->st.vneg);
		return;
	}
	if ((qc = find(e, p.dcid, p.dcid_len)) != NULL && qc->c == NULL) {
		/* ended: its close again, a few times, or silence */
		if (qc->close != NULL && qc->resent < CLOSE_RESENDS) {
			qc->resent++;
			e->cfg.send(e->cfg.arg, from, fl, qc->close,
				    qc->close_len);
		} else
			e->st.dropped++;
		return;
	}
	if (qc != NULL) {
		struct sl_qpath path = {(const struct sockaddr *)&e->local,
					from, e->local_len, fl};
		if (sl_qconn_read(qc->c, &path, d, n, now) != 0)
			conn_end(e, qc, now);
		else
			(void)flush(e, qc, now);
		return;
	}
	if (p.version == 0) {
		uint8_t token[16];
		answer(
		    e,
		    sl_qroute_reset_token(e->key, p.dcid, p.dcid_len, token) ==
			    0
			? sl_qconn_write_reset(e->buf, sizeof(e->buf), token, n)
			: -1,
		    from, fl, &e->st.resets);
		return;
	}
	initial(e, d, n, from, fl, now);
}

uint64_t
sl_qend_run(struct sl_qend *e, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	gone_expire(e, now);
	for (const struct qe_conn *g = e->gone; g != NULL; g = g->gone_next)
		if (g->gone_until < next)
			next = g->gone_until;

	for (size_t i = 0; i < e->nconns;) {
		struct qe_conn *qc = e->conns[i];
		/* an ended connection's place is another's now: i again */
		if (sl_qconn_expiry(qc->c) <= now) {
			if (sl_qconn_expire(qc->c, now) != 0) {
				conn_end(e, qc, now);
				continue;
			}
			if (flush(e, qc, now) != 0)
				continue;
		}
		if (sl_qconn_expiry(qc->c) < next)
			next = sl_qconn_expiry(qc->c);
		i++;
	}
	return next;
}

const struct sl_qend_stats *
sl_qend_stats(const struct sl_qend *e)
{
	return &e->st;
}

size_t
sl_qend_established(const struct sl_qend *e)
{
	size_t k = 0;

	for (size_t i = 0; i < e->nconns; i++)
		k += sl_qconn_established(e->conns[i]->c) != 0;
	return k;
}

size_t
sl_qend_handshaking(const struct sl_qend *e)
{
	return e->nhs;
}

struct sl_qconn *
sl_qend_conn(const struct sl_qend *e, size_t i)
{
	return i < e->nconns ? e->conns[i]->c : NULL;
}

uint64_t
sl_qend_conn_serial(const struct sl_qend *e, size_t i)
{
	return i < e->nconns ? e->conns[i]->serial : 0;
}

static struct qe_conn *
qe_of(const struct sl_qend *e, const struct sl_qconn *c)
{
	(void)e;
	return sl_qconn_owner(c);
}

int
sl_qend_flush(struct sl_qend *e, struct sl_qconn *c, uint64_t now)
{
	struct qe_conn *qc = qe_of(e, c);

	return qc != NULL ? flush(e, qc, now) : -1;
}

void
sl_qend_close(struct sl_qend *e, struct sl_qconn *c, uint64_t now)
{
	struct qe_conn *qc = qe_of(e, c);

	if (qc != NULL)
		conn_end(e, qc, now);
}

void
sl_qend_set_max_conns(struct sl_qend *e, size_t n)
{
	e->cfg.max_conns = n;
}

void
sl_qend_set_retry(struct sl_qend *e, int on)
{
	e->cfg.retry = on;
}

void
sl_qend_reconfigure(struct sl_qend *e, const struct sl_qend_cfg *cfg)
{
	e->cfg.ctx = cfg->ctx;
	e->cfg.retry = cfg->retry;
	e->cfg.max_conns = cfg->max_conns;
	e->cfg.max_handshakes_per_ip = cfg->max_handshakes_per_ip;
	e->cfg.max_streams = cfg->max_streams;
	e->cfg.token_age_ms = cfg->token_age_ms;
}
