/* SPDX-License-Identifier: MIT */
/*
 * A route's Idempotency-Key store (doc/operations.md, "Idempotent
 * payments"; draft-ietf-httpapi-idempotency-key-header): a request of the
 * route's methods that carries the key is looked up by its route, its
 * caller and its key, once its whole body is in (its fingerprint is a
 * hash of its method, its target and its body):
 *
 *   a new key        reserved, the request goes on; its final answer
 *                    (status, end-to-end fields, body) is kept as the
 *                    upstream sends it, and the key is its own once the
 *                    answer is whole
 *   in flight        409, Retry-After
 *   done, same       the kept answer, with Idempotent-Replayed: true;
 *                    the upstream sees nothing
 *   done, other      422
 *   no key           400 when the route requires one, else it goes on
 *   no room          fail: closed answers 503, open lets it go unkept
 *
 * A key is let go, so that the client's next try goes upstream, when its
 * answer has a status the route's release names, is longer than
 * max_response_bytes, or never came whole (the upstream failed or was
 * cut, sluice answered instead).
 */
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "conf.h"
#include "exchange.h"
#include "exchange_int.h"
#include "idem.h"
#include "jwt.h"
#include "log.h"
#include "rlstore.h"
#include "upstream.h"
#include "util.h"
#include "wloop.h"

/* Past the route's deadline, a reservation whose exchange still runs
 * holds its key this long more (the lease: a key whose request is gone
 * without a word is free again then). */
#define LEASE_MARGIN_MS 5000

/* The answers sluice gives a request itself, decided in
 * sl_exchange_idem and given by sl_exchange_idem_answer once the core
 * has read what is here of the request's body (so that the connection
 * stays open). */
enum ip_ans {
	ANS_NONE = 0,
	ANS_MISSING,
	ANS_INVALID,
	ANS_NO_CALLER,
	ANS_TOO_LARGE,
	ANS_CONFLICT,
	ANS_MISMATCH,
	ANS_REPLAY,
	ANS_UNAVAILABLE,
};

enum ip_phase {
	IP_BODY = 1, /* waiting for the request's whole body */
	IP_BODY_READY,
	IP_STORE,      /* waiting for the fleet store's word on the key */
	IP_STORE_DONE, /* it came (sres) */
	IP_WAIT,       /* in flight elsewhere: asked again when ev fires */
	IP_HELD,       /* reserved: the request went on */
	IP_KEEPING,    /* ... and its answer is being kept */
	IP_DONE,       /* kept, or let go */
};

/* A request's key, reserved, and its answer as it is kept. */
struct sl_txidem {
	struct sl_txn *t;
	uint8_t id[SL_IDEM_HASH];
	uint64_t token;
	uint8_t phase;	       /* enum ip_phase */
	uint8_t chunked;       /* the body bytes kept are chunk-framed */
	uint8_t rel;	       /* 1 + enum sl_idem_rel: why it goes (0: none) */
	uint32_t flen;	       /* the fields' bytes kept */
	unsigned char *a;      /* the kept answer: its head, fields, body */
	size_t alen, acap;     /* bytes of it, room */
	int status;	       /* of the answer kept */
	uint64_t lease_end_ms; /* the reservation's end */
	uint64_t wait_end_ms;  /* the route's wait: 409 from then (0: not
				  waiting yet) */
	/* what keeping the answer needs, also without its exchange */
	const struct sl_conf_idem_route *ic;
	const char *route; /* its name (borrowed, as ic) */
	size_t hdr_max, nhdr_max;
	uint64_t memory;
	char request_id[SL_REQUEST_ID_MAX + 1];
	/* the fleet store (Redis): the request's fingerprint and its
	 * reservation's token (what the key holds while in flight), the
	 * worker and generation that ask (borrowed: an orphan holds its
	 * own reference), the command in flight, and its word */
	uint8_t redis;
	uint8_t fp[SL_IDEM_HASH];
	uint8_t kid[4];		   /* the sealing key's, in a kept value */
	uint8_t rfp[SL_IDEM_HASH]; /* the fingerprint Redis holds */
	unsigned char rtok[8];
	struct sl_worker *w;
	struct sl_conf *conf;
	struct sl_rlstore_cmd *cmd;
	int sres;	     /* enum sl_idem_look, or -1: the store failed */
	uint8_t ans;	     /* enum ip_ans: the answer decided */
	unsigned char *kept; /* ANS_REPLAY: the kept answer (owned) */
	size_t klen;
	void (*woken)(struct sl_txn *);
	struct event ev; /* the body's wake, the store's, the wait's timer */
};

static void
count(struct sl_seam *s, enum sl_idem_out o)
{
	struct sl_txn *t = s->txn;

	t->idem_res = (uint8_t)(1 + o);
	SL_STAT_INC(t->route->state->counts[s->w->id].idem[o]);
}

const char *
sl_exchange_idem_str(int res)
{
	static const char *const names[SL_IDEM_NOUT] = {
	    [SL_IDEM_O_RESERVED] = "reserved",
	    [SL_IDEM_O_REPLAYED] = "replayed",
	    [SL_IDEM_O_CONFLICT] = "conflict",
	    [SL_IDEM_O_MISMATCH] = "mismatch",
	    [SL_IDEM_O_MISSING] = "missing",
	    [SL_IDEM_O_INVALID] = "invalid",
	    [SL_IDEM_O_TOO_LARGE] = "too_large",
	    [SL_IDEM_O_UNAVAILABLE] = "unavailable",
	    [SL_IDEM_O_UNPROTECTED] = "unprotected",
	};

	return res > 0 && res <= SL_IDEM_NOUT ? names[res - 1] : NULL;
}

/* Answers status with an RFC 9457 problem (application/problem+json),
 * title and detail (static, JSON-safe), and more fields (CRLF lines, or
 * ""); error is what the logs call it, and the problem's "error" member
 * (an extension: clients dispatch on status and error, as on every other
 * answer of sluice's, doc/contracts.md 3.1). */
static void
problem(struct sl_seam *s, int status, const char *error, const char *title,
	const char *detail, const char *more)
{
	struct sl_txn *t = s->txn;
	char body[512], fields[256];
	int n;

	if (t->request_id[0] == '\0')
		sl_worker_request_id(s->w, t->request_id);
	n = snprintf(
	    body, sizeof(body),
	    "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,"
	    "\"detail\":\"%s\",\"error\":\"%s\",\"request_id\":\"%s\"}\n",
	    title, status, detail, error, t->request_id);
	snprintf(fields, sizeof(fields),
		 "Content-Type: application/problem+json\r\n%s", more);
	sl_exchange_answer_body(s, status, error, fields, body,
				n > 0 && (size_t)n < sizeof(body) ? (size_t)n
								  : 0);
}

/* ---- the caller, the key's id, the fingerprint ------------------------ */

/* The field named name (nlen bytes) of req: its only line's value in *v
 * and *vn. Returns how many lines it has (0, 1, or 2 for more). */
static int
field(const struct sl_h1_request *req, const char *name, const char **v,
      size_t *vn)
{
	int n = 0;

	for (size_t i = 0; i < req->nheaders && n < 2; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (sl_h1_ieq(h->name, h->name_len, name)) {
			*v = h->value;
			*vn = h->value_len;
			n++;
		}
	}
	return n;
}

/* Who the key belongs to, as the route says: its kind (a byte, so that
 * two kinds never share an id) and its text. Returns 0, or -1 when the
 * request has no such caller. */
static int
caller(struct sl_seam *s, const struct sl_h1_request *req,
       const struct sl_jwt_out *jwt, char *kind, const char **c, size_t *cn)
{
	const struct sl_conf_idem_route *ic = s->txn->route->idem;
	int how = (int)ic->caller;

	if (how == SL_IDEM_CALLER_AUTO)
		how = jwt != NULL && jwt->caller_len > 0 ? SL_IDEM_CALLER_JWT
		      : s->tls_subject != NULL		 ? SL_IDEM_CALLER_CERT
							 : SL_IDEM_CALLER_NONE;
	*kind = (char)('0' + how);
	switch (how) {
	case SL_IDEM_CALLER_JWT:
		if (jwt == NULL || jwt->caller_len == 0)
			return -1;
		*c = jwt->caller;
		*cn = jwt->caller_len;
		return 0;
	case SL_IDEM_CALLER_CERT:
		if (s->tls_subject == NULL)
			return -1;
		*c = s->tls_subject;
		*cn = strlen(s->tls_subject);
		return 0;
	case SL_IDEM_CALLER_HEADER:
		return field(req, ic->caller_header, c, cn) == 1 && *cn > 0
			   ? 0
			   : -1;
	default:
		*c = "";
		*cn = 0;
		return 0;
	}
}

/* SHA-256, fetched once: EVP_sha256() is looked up again at each
 * EVP_DigestInit_ex (OpenSSL 3), some thousand instructions a request. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 of the parts (lengths given), each followed by a NUL, in w's
 * context (made at its first digest: a context made and freed at each
 * digest cost some thousand instructions a request). */
static int
digest(struct sl_worker *w, uint8_t out[SL_IDEM_HASH], const void *const *p,
       const size_t *n, size_t parts)
{
	EVP_MD_CTX *ctx = w->idem_md;
	unsigned int len = 0;
	int ok;

	pthread_once(&sha256_once, sha256_fetch);
	if (ctx == NULL && (ctx = w->idem_md = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(
	    ctx, sha256_md != NULL ? sha256_md : EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < parts; i++)
		ok = EVP_DigestUpdate(ctx, p[i], n[i]) &&
		     EVP_DigestUpdate(ctx, "", 1);
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) && len == SL_IDEM_HASH;
	return ok ? 0 : -1;
}

/* ---- the wait for the body --------------------------------------------- */

static void
ip_on_body(evutil_socket_t fd, short what, void *arg)
{
	struct sl_txidem *ip = arg;

	(void)fd;
	(void)what;
	sl_now_refresh();
	ip->woken(ip->t);
}

void
sl_exchange_idem_body(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txidem *ip = t->idem;
	const struct sl_conf_idem_route *ic = t->route->idem;

	if (ip == NULL || ip->phase != IP_BODY ||
	    !sl_exchange_body_ready(
		s, s->in.off + t->aw.head_len,
		t->req_body == SL_H1_BODY_LENGTH
		    ? (size_t)(t->req_body_bytes + t->req_remaining)
		    : (size_t)ic->max_request_bytes + 1))
		return;
	/* from the pump: the request goes on from the loop */
	t->flags &= ~SL_TXN_F_IDEM_BODY;
	ip->phase = IP_BODY_READY;
	event_active(&ip->ev, EV_TIMEOUT, 1);
}

static struct sl_txidem *
ip_new(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txidem *ip = calloc(1, sizeof(*ip));

	if (ip == NULL) {
		sl_exchange_local(s, 503, "out_of_memory", 0);
		return NULL;
	}
	ip->t = t;
	event_assign(&ip->ev, s->w->base, -1, 0, ip_on_body, ip);
	t->idem = ip;
	return ip;
}

static void store_release(struct sl_txidem *ip, struct sl_counts *rc);
static void store_release_later(struct sl_txidem *ip, struct sl_counts *rc);
static int look_verdict(struct sl_seam *s, struct sl_txidem *ip, int r);
static int look(struct sl_seam *s, struct sl_txidem *ip);
static int decide(struct sl_seam *s, enum ip_ans a);

static void
ip_free(struct sl_txn *t)
{
	struct sl_txidem *ip = t->idem;

	if (ip->cmd != NULL) {
		/* its word on the key will not be heard: a reservation it
		 * may have made goes (the token says whose) */
		sl_rlstore_cancel(ip->cmd);
		ip->cmd = NULL;
		store_release(ip, &t->route->state->counts[ip->w->id]);
	}
	event_del(&ip->ev);
	free(ip->a);
	free(ip->kept);
	free(ip);
	t->idem = NULL;
	t->flags &= ~SL_TXN_F_IDEM_BODY;
}

/* ---- the request ------------------------------------------------------- */

/* The kept answer of the key, after the upstream's fields: to the
 * client, marked as a replay. */
static void
replay(struct sl_seam *s, const unsigned char *a, size_t alen)
{
	struct sl_txn *t = s->txn;
	struct sl_idem_resp r;
	static const char mark[] = "Idempotent-Replayed: true\r\n";
	char *fields;

	if (sl_idem_resp_parse(a, alen, &r) != 0 ||
	    (fields = malloc(r.flen + sizeof(mark))) == NULL) {
		log_warnx("conn=%llu request_id=%s route=%s: idempotency: "
			  "the kept answer cannot be read",
			  (unsigned long long)s->id, t->request_id,
			  t->route->name);
		problem(s, 500, "idempotency_store",
			"The kept answer cannot be read",
			"The answer kept for this Idempotency-Key cannot be "
			"read. The request was not sent on.",
			"");
		return;
	}
	memcpy(fields, r.fields, r.flen);
	memcpy(fields + r.flen, mark, sizeof(mark));
	count(s, SL_IDEM_O_REPLAYED);
	sl_exchange_answer_body(s, r.status, "idempotent_replay", fields,
				r.body, r.blen);
	free(fields);
	/* a replay is no error: the log shows its outcome instead */
	if (s->txn == t)
		t->error = NULL;
}

/* ---- the fleet store (Redis, through rlstore.c's connection) -----------
 *
 * A key is one Redis string under rate_limit_store.prefix, "idem:" and
 * the id in hexadecimal: while in flight "F", the fingerprint and the
 * reservation's token (8 random bytes), expiring at the lease's end;
 * once done "D", the fingerprint and the answer sealed (idem.h),
 * expiring at the ttl's end. Each step is one script, one round trip:
 * the look (the key's value, or the reservation made), the keeping and
 * the letting go (each only while the key holds this request's
 * reservation).
 */
#define FLIGHT_LEN	(1 + SL_IDEM_HASH + 8)
#define LOOK_UNREADABLE 100 /* a kept answer that does not open */
#define DONE_HEAD	(1 + 4 + SL_IDEM_HASH) /* "D", the key's id, the fp */

static struct sl_rlstore_script reserve_lua = {
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then return v end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 0\n",
    ""};
static struct sl_rlstore_script commit_lua = {
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and v ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
    "return 1\n",
    ""};
static struct sl_rlstore_script release_lua = {
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "return redis.call('DEL', KEYS[1])\n",
    ""};

/*
 * The process's scripts named (their SHA-1: sent as EVALSHA), and the
 * base of the reservations' tokens: a token need only differ from every
 * other reservation's of the same key (of every gateway), not be secret,
 * so it is a random 64-bit base drawn once plus a counter (RAND_bytes at
 * each request cost some thousand instructions and a lock).
 */
static pthread_once_t store_once = PTHREAD_ONCE_INIT;
static uint64_t tok_base;
static int tok_ready;
static _Atomic uint64_t tok_next;

static void
store_init(void)
{
	sl_rlstore_script_init(&reserve_lua);
	sl_rlstore_script_init(&commit_lua);
	sl_rlstore_script_init(&release_lua);
	tok_ready =
	    RAND_bytes((unsigned char *)&tok_base, sizeof(tok_base)) == 1;
}

/* A new reservation token into out (8 bytes). Returns 0, or -1. */
static int
store_token(unsigned char out[8])
{
	uint64_t t;

	pthread_once(&store_once, store_init);
	if (!tok_ready)
		return RAND_bytes(out, 8) == 1 ? 0 : -1;
	t = tok_base +
	    atomic_fetch_add_explicit(&tok_next, 1, memory_order_relaxed);
	memcpy(out, &t, 8);
	return 0;
}

/* The key's name in Redis into out (room for it). */
static void
store_key(const struct sl_txidem *ip, char *out, size_t room)
{
	static const char hex[] = "0123456789abcdef";
	const char *prefix = ip->conf->rl_store.prefix;
	size_t n = strlen(prefix);

	/* without snprintf: a Redis round trip's own cost is counted */
	if (n + 5 >= room)
		n = 0; /* cannot be: the prefix is bounded by the conf */
	memcpy(out, prefix, n);
	memcpy(out + n, "idem:", 5);
	n += 5;
	for (size_t i = 0; i < SL_IDEM_HASH && n + 2 < room; i++) {
		out[n++] = hex[ip->id[i] >> 4];
		out[n++] = hex[ip->id[i] & 15];
	}
	out[n] = '\0';
}

/* What the key holds while in flight, into out (FLIGHT_LEN bytes). */
static void
store_flight(const struct sl_txidem *ip, unsigned char *out)
{
	out[0] = 'F';
	memcpy(out + 1, ip->rfp, SL_IDEM_HASH);
	memcpy(out + 1 + SL_IDEM_HASH, ip->rtok, 8);
}

/* The key that sealed a kept value whose key id is kid: key_file's, or
 * one of previous_key_files' (a fleet moving to a new key); the
 * fingerprint Redis holds for this request under that key into rfp.
 * NULL: none of them. */
static const unsigned char *
open_key(const struct sl_txidem *ip, const unsigned char *kid,
	 uint8_t rfp[SL_IDEM_HASH])
{
	const struct sl_conf_idem *ci = &ip->conf->idem;

	if (memcmp(kid, ip->kid, 4) == 0) {
		memcpy(rfp, ip->rfp, SL_IDEM_HASH);
		return ci->key;
	}
	for (size_t i = 0; ci->has_old && i < ci->nold; i++)
		if (memcmp(kid, ci->old_ids[i], 4) == 0) {
			const void *parts[] = {ci->old_keys[i], ip->fp};
			const size_t lens[] = {SL_IDEM_SEAL_KEY, SL_IDEM_HASH};
			return digest(ip->w, rfp, parts, lens, 2) == 0
				   ? ci->old_keys[i]
				   : NULL;
		}
	return NULL;
}

/* The store's word on the key (from inside hiredis: the request goes on
 * from its event). */
static void
store_on_look(void *arg, const struct redisReply *r, int result)
{
	struct sl_txidem *ip = arg;
	const unsigned char *v, *sk;
	uint8_t rfp[SL_IDEM_HASH];
	long n;

	(void)result;
	ip->cmd = NULL;
	ip->sres = -1;
	if (r == NULL)
		/* no word: a slow Redis may have reserved it all the same */
		store_release_later(ip,
				    &ip->t->route->state->counts[ip->w->id]);
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		ip->sres = SL_IDEM_RESERVED;
	else if (r != NULL && r->type == REDIS_REPLY_STRING && r->len > 0) {
		v = (const unsigned char *)r->str;
		if (v[0] == 'F' && r->len == FLIGHT_LEN)
			ip->sres = SL_IDEM_CONFLICT;
		else if (v[0] == 'D' &&
			 r->len >= DONE_HEAD + SL_IDEM_SEAL_OVERHEAD) {
			if ((sk = open_key(ip, v + 1, rfp)) == NULL) {
				log_warnx("request_id=%s route=%s: "
					  "idempotency: the kept answer is "
					  "sealed under another key_file "
					  "(neither key_file nor "
					  "previous_key_files)",
					  ip->request_id, ip->route);
				ip->sres = LOOK_UNREADABLE;
			} else if (memcmp(v + 5, rfp, SL_IDEM_HASH) != 0)
				ip->sres = SL_IDEM_MISMATCH;
			else if ((ip->kept = malloc(r->len)) != NULL &&
				 (n = sl_idem_open(sk, ip->id, v + DONE_HEAD,
						   r->len - DONE_HEAD,
						   ip->kept)) >= 0) {
				ip->klen = (size_t)n;
				ip->sres = SL_IDEM_REPLAY;
			} else {
				/* kept: the payment was made; it never goes
				 * upstream again, whatever fail says */
				log_warnx("request_id=%s route=%s: "
					  "idempotency: the kept answer does "
					  "not open (another key_file?)",
					  ip->request_id, ip->route);
				ip->sres = LOOK_UNREADABLE;
			}
		}
	}
	ip->phase = IP_STORE_DONE;
	event_active(&ip->ev, EV_TIMEOUT, 1);
}

/* Asks the store for the key. Returns as sl_exchange_idem. */
static int
store_reserve(struct sl_seam *s, struct sl_txidem *ip,
	      void (*woken)(struct sl_txn *))
{
	char key[256], lease[24];
	unsigned char flight[FLIGHT_LEN];
	const char *argv[3];
	size_t lens[3];

	const struct sl_conf_idem *ci = &s->gen->conf->idem;
	const void *fparts[] = {ci->key, ip->fp};
	const size_t lens2[] = {SL_IDEM_SEAL_KEY, SL_IDEM_HASH};

	ip->redis = 1;
	/* what Redis sees of the request is a hash under the sealing key,
	 * so that a value's fingerprint gives no guess of an amount away;
	 * a kept value names its sealing key (key_id), so that a gateway
	 * with another key_file knows it cannot read it */
	if (store_token(ip->rtok) != 0 ||
	    digest(s->w, ip->rfp, fparts, lens2, 2) != 0)
		return look_verdict(s, ip, -1);
	memcpy(ip->kid, ci->key_id, sizeof(ip->kid));
	store_key(ip, key, sizeof(key));
	store_flight(ip, flight);
	snprintf(
	    lease, sizeof(lease), "%llu",
	    (unsigned long long)(s->txn->route->timeout_ms + LEASE_MARGIN_MS));
	argv[0] = key;
	argv[1] = (const char *)flight;
	argv[2] = lease;
	lens[0] = strlen(key);
	lens[1] = sizeof(flight);
	lens[2] = strlen(lease);
	ip->woken = woken;
	ip->cmd = sl_rlstore_eval(s->w, s->gen->conf, &reserve_lua, 1, 3, argv,
				  lens, store_on_look, ip);
	if (ip->cmd == NULL)
		return look_verdict(s, ip, -1);
	ip->phase = IP_STORE;
	return 1;
}

/* A letting go's answer: counted (arg: the route's counts, kept alive
 * by the command's reference on the generation). */
static void
store_on_after(void *arg, const struct redisReply *r, int result)
{
	struct sl_counts *rc = arg;

	(void)result;
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		SL_STAT_INC(rc->idem_store_err);
}

/*
 * An answer on its way to the store: sent again, every COMMIT_RETRY_MS,
 * while the store does not take it (down, restarting, slow) and the
 * lease runs. Without it, an answer made while Redis was away would be
 * lost and its key let go at the lease's end: the client's retry would
 * execute the payment again.
 */
#define COMMIT_RETRY_MS 250

struct sl_idem_commit {
	TAILQ_ENTRY(sl_idem_commit) link; /* in w->idem_commits */
	struct sl_worker *w;
	struct sl_conf *conf; /* a reference */
	struct sl_counts *rc;
	struct sl_rlstore_cmd *cmd; /* in flight, NULL: none */
	uint64_t lease_end_ms;
	char key[256], ttl[24];
	char request_id[SL_REQUEST_ID_MAX + 1];
	const char *route; /* borrowed from conf */
	unsigned char flight[FLIGHT_LEN];
	unsigned char *v; /* the value: "D", the fingerprint, sealed */
	size_t vlen;
	uint8_t release; /* not a keeping: a letting go (v NULL) */
	struct event tev;
};

static void commit_send(struct sl_idem_commit *k);

static void
commit_free(struct sl_idem_commit *k)
{
	if (k->cmd != NULL)
		sl_rlstore_cancel(k->cmd);
	event_del(&k->tev);
	TAILQ_REMOVE(&k->w->idem_commits, k, link);
	sl_conf_unref(k->conf);
	free(k->v);
	free(k);
}

static void
commit_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sl_now_refresh();
	commit_send(arg);
}

/* The answer will not be kept (why, said): counted, and k goes. */
static void
commit_lost(struct sl_idem_commit *k, const char *why)
{
	log_warnx("request_id=%s route=%s: idempotency: the answer is not "
		  "kept: %s",
		  k->request_id, k->route, why);
	SL_STAT_INC(k->rc->idem_rel[SL_IDEM_R_MEMORY]);
	commit_free(k);
}

/* Tries again later, or gives up at the lease's end (said). */
static void
commit_later(struct sl_idem_commit *k)
{
	struct timeval tv = {0, COMMIT_RETRY_MS * 1000};

	if (now_ms() + COMMIT_RETRY_MS >= k->lease_end_ms) {
		if (k->release)
			commit_free(k); /* the lease ends the key anyway */
		else
			commit_lost(k, "the store (rate_limit_store) did not "
				       "take it before the lease's end; the "
				       "key is let go");
	} else
		evtimer_add(&k->tev, &tv);
}

/* The store's word on a keeping (from inside hiredis: nothing is sent
 * from here; a try again waits for the timer). */
static void
commit_on_reply(void *arg, const struct redisReply *r, int result)
{
	struct sl_idem_commit *k = arg;

	(void)result;
	k->cmd = NULL;
	if (k->release && r != NULL && r->type == REDIS_REPLY_INTEGER) {
		commit_free(k); /* let go, or the key was not this one's */
		return;
	}
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
		SL_STAT_INC(k->rc->idem_stored);
		commit_free(k);
		return;
	}
	if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
		/* the key holds another request's reservation, or an answer:
		 * this one's lease ran out meanwhile */
		commit_lost(k, "its reservation ran out (the route's timeout) "
			       "and the key is another's");
		return;
	}
	SL_STAT_INC(k->rc->idem_store_err);
	commit_later(k);
}

static void
commit_send(struct sl_idem_commit *k)
{
	const char *argv[4] = {k->key, (const char *)k->flight,
			       (const char *)k->v, k->ttl};
	const size_t lens[4] = {strlen(k->key), sizeof(k->flight), k->vlen,
				strlen(k->ttl)};

	k->cmd = sl_rlstore_eval(
	    k->w, k->conf, k->release ? &release_lua : &commit_lua, 1,
	    k->release ? 2 : 4, argv, lens, commit_on_reply, k);
	if (k->cmd == NULL)
		commit_later(k);
}

/* A keeping or a letting go of ip's key on its way to the store (its
 * value, for a keeping, set by the caller), in w's list, its timer set
 * but not armed. NULL: no memory. */
static struct sl_idem_commit *
commit_new(struct sl_txidem *ip, struct sl_counts *rc)
{
	struct sl_idem_commit *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->w = ip->w;
	k->conf = sl_conf_ref(ip->conf);
	k->rc = rc;
	k->route = ip->route;
	k->lease_end_ms = ip->lease_end_ms;
	memcpy(k->request_id, ip->request_id, sizeof(k->request_id));
	store_key(ip, k->key, sizeof(k->key));
	store_flight(ip, k->flight);
	evtimer_assign(&k->tev, k->w->base, commit_on_timer, k);
	TAILQ_INSERT_TAIL(&k->w->idem_commits, k, link);
	return k;
}

/* Keeps the answer (ip->a, alen bytes) in the store, sealed: counted
 * once the store took it. Returns 0, or -1 (no memory: not kept). */
static int
store_commit(struct sl_txidem *ip, struct sl_counts *rc)
{
	size_t vlen = DONE_HEAD + ip->alen + SL_IDEM_SEAL_OVERHEAD;
	unsigned char *v = malloc(vlen);
	struct sl_idem_commit *k;

	if (v == NULL)
		return -1;
	v[0] = 'D';
	memcpy(v + 1, ip->kid, 4);
	memcpy(v + 5, ip->rfp, SL_IDEM_HASH);
	if (sl_idem_seal(ip->conf->idem.key, ip->id, ip->a, ip->alen,
			 v + DONE_HEAD) != 0 ||
	    (k = commit_new(ip, rc)) == NULL) {
		free(v);
		return -1;
	}
	k->v = v;
	k->vlen = vlen;
	snprintf(k->ttl, sizeof(k->ttl), "%llu",
		 (unsigned long long)ip->ic->ttl_ms);
	commit_send(k);
	return 0;
}

/*
 * A look-up that got no answer (the store's timeout, a lost connection)
 * may still have reserved the key in Redis: its retries would get 409
 * until the lease's end. The reservation, if made, is let go (only while
 * the key holds this request's token), tried every COMMIT_RETRY_MS
 * within the lease; the first try waits one period (called from inside
 * hiredis, which must not be asked for anything from there).
 */
static void
store_release_later(struct sl_txidem *ip, struct sl_counts *rc)
{
	struct sl_idem_commit *k = commit_new(ip, rc);
	struct timeval tv = {0, COMMIT_RETRY_MS * 1000};

	if (k == NULL)
		return; /* the lease ends it */
	k->release = 1;
	evtimer_add(&k->tev, &tv);
}

/* Lets the reservation go in the store (if the key still holds it). */
static void
store_release(struct sl_txidem *ip, struct sl_counts *rc)
{
	char key[256];
	unsigned char flight[FLIGHT_LEN];
	const char *argv[2] = {key, (const char *)flight};
	size_t lens[2];

	store_key(ip, key, sizeof(key));
	store_flight(ip, flight);
	lens[0] = strlen(key);
	lens[1] = sizeof(flight);
	if (sl_rlstore_eval(ip->w, ip->conf, &release_lua, 1, 2, argv, lens,
			    store_on_after, rc) == NULL)
		SL_STAT_INC(rc->idem_store_err);
}

/* The request is to get answer a (its state made for it when it has
 * none). Returns 2, or -1 when out of memory (answered). */
static int
decide(struct sl_seam *s, enum ip_ans a)
{
	struct sl_txn *t = s->txn;

	if (t->idem == NULL && ip_new(s) == NULL)
		return -1;
	t->idem->ans = (uint8_t)a;
	t->idem->phase = IP_DONE;
	return 2;
}

int
sl_exchange_idem(struct sl_seam *s, const struct sl_h1_request *req,
		 const struct sl_jwt_out *jwt, void (*woken)(struct sl_txn *))
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_idem_route *ic = t->route->idem;
	struct sl_txidem *ip = t->idem;
	const char *v = NULL, *key, *who, *body = NULL;
	size_t vn = 0, klen, wn, blen = 0, want = 0;
	char kind, *copy = NULL;
	uint8_t fp[SL_IDEM_HASH];
	int n, whole = 1, r;

	if (ip != NULL && ip->phase == IP_STORE)
		return 1; /* woken for another reason: still waiting */
	if (ip != NULL && ip->phase == IP_STORE_DONE)
		return look_verdict(s, ip, ip->sres);
	if (ip != NULL && ip->phase == IP_WAIT)
		return event_pending(&ip->ev, EV_TIMEOUT, NULL)
			   ? 1 /* woken for another reason: still waiting */
			   : look(s, ip);
	if (ip != NULL && ip->phase >= IP_HELD)
		return ip->ans != ANS_NONE ? 2 : 0; /* decided already */
	if (!(ic->methods & (1u << req->method_id)))
		return 0;
	/* a gRPC call's answer ends in trailers (grpc-status), which the
	 * store does not keep: not looked at, as another method's request
	 * (doc/operations.md section 17.1) */
	if (s->flags & SL_SEAM_F_GRPC)
		return 0;
	if ((n = field(req, "idempotency-key", &v, &vn)) == 0)
		return ic->required ? decide(s, ANS_MISSING) : 0;
	if (n > 1 || sl_idem_key(v, vn, &key, &klen) != 0)
		return decide(s, ANS_INVALID);
	if (caller(s, req, jwt, &kind, &who, &wn) != 0)
		return decide(s, ANS_NO_CALLER);
	/* the whole body, for the fingerprint */
	if (req->body == SL_H1_BODY_LENGTH &&
	    req->content_length > ic->max_request_bytes)
		return decide(s, ANS_TOO_LARGE);
	if (req->body != SL_H1_BODY_NONE) {
		want = req->body == SL_H1_BODY_LENGTH
			   ? (size_t)req->content_length
			   : (size_t)ic->max_request_bytes + 1;
		if (ip == NULL) {
			if ((ip = ip_new(s)) == NULL)
				return -1;
			ip->woken = woken;
			if ((req->flags & SL_H1_F_EXPECT_CONTINUE) &&
			    req->minor >= 1 && sl_buf_pending(&s->in) == 0)
				sl_exchange_continue(s);
		}
		if (!sl_exchange_body_ready(s, s->in.off, want)) {
			ip->phase = IP_BODY;
			t->flags |= SL_TXN_F_IDEM_BODY;
			return 1;
		}
		blen = sl_exchange_body_take(t, s->in.data + s->in.off,
					     s->in.len - s->in.off, want, &body,
					     &copy, &whole);
		if (whole < 0) {
			free(copy);
			sl_exchange_answer(s, 400, "bad_request", 1, NULL);
			return -1;
		}
		if (!whole || blen > ic->max_request_bytes) {
			free(copy);
			return decide(s, ANS_TOO_LARGE);
		}
	}
	{
		const char *rn = t->route->name;
		const void *ip_parts[] = {"sluice-idempotency-1", rn, &kind,
					  who, key};
		const size_t ip_lens[] = {20, strlen(rn), 1, wn, klen};
		const void *fp_parts[] = {req->method, req->path,
					  body != NULL ? body : ""};
		const size_t fp_lens[] = {req->method_len, req->path_len, blen};
		if (ip == NULL && (ip = ip_new(s)) == NULL) {
			free(copy);
			return -1;
		}
		r = digest(s->w, ip->id, ip_parts, ip_lens, 5) == 0 &&
			    digest(s->w, fp, fp_parts, fp_lens, 3) == 0
			? 0
			: -1;
		free(copy);
		if (r != 0) {
			sl_exchange_local(s, 503, "out_of_memory", 0);
			return -1;
		}
	}
	memcpy(ip->fp, fp, SL_IDEM_HASH);
	ip->ic = ic;
	ip->route = t->route->name;
	ip->hdr_max = s->lconf->limits.max_header_bytes;
	ip->nhdr_max = s->lconf->limits.max_headers;
	ip->memory = s->gen->conf->idem.memory;
	ip->w = s->w;
	ip->conf = s->gen->conf;
	ip->woken = woken;
	memcpy(ip->request_id, t->request_id, sizeof(ip->request_id));
	return look(s, ip);
}

/* Asks the store for the key of ip (its id and fingerprint made): the
 * first time, or again after a wait. Returns as sl_exchange_idem. */
static int
look(struct sl_seam *s, struct sl_txidem *ip)
{
	struct sl_txn *t = s->txn;
	int r;

	ip->lease_end_ms = now_ms() + t->route->timeout_ms + LEASE_MARGIN_MS;
	if (ip->ic->store == SL_IDEM_STORE_REDIS)
		return store_reserve(s, ip, ip->woken);
	r = sl_idem_local_reserve(
	    ip->id, ip->fp, now_ms(), t->route->timeout_ms + LEASE_MARGIN_MS,
	    s->gen->conf->idem.memory, &ip->token, &ip->kept, &ip->klen);
	return look_verdict(s, ip, r);
}

/*
 * The key is in flight elsewhere: with the route's wait, ip waits for the
 * first's answer, asking the store again every WAIT_POLL_MS (local: a
 * look under the table's lock) or WAIT_POLL_REDIS_MS (one script a
 * time), until the key is done (a replay), let go (this request takes
 * it), or the wait is over (409). Returns as sl_exchange_idem.
 */
#define WAIT_POLL_MS	   25
#define WAIT_POLL_REDIS_MS 100

static int
wait_or_conflict(struct sl_seam *s, struct sl_txidem *ip)
{
	uint64_t now = now_ms(), step;
	struct timeval tv;

	if (ip->ic->wait_ms == 0)
		return decide(s, ANS_CONFLICT);
	if (ip->wait_end_ms == 0)
		ip->wait_end_ms = now + ip->ic->wait_ms;
	if (now >= ip->wait_end_ms)
		return decide(s, ANS_CONFLICT);
	step = ip->ic->store == SL_IDEM_STORE_REDIS ? WAIT_POLL_REDIS_MS
						    : WAIT_POLL_MS;
	step = SL_MIN(step, ip->wait_end_ms - now);
	tv.tv_sec = (time_t)(step / 1000);
	tv.tv_usec = (suseconds_t)(step % 1000) * 1000;
	ip->phase = IP_WAIT;
	if (event_add(&ip->ev, &tv) != 0)
		return decide(s, ANS_CONFLICT);
	return 1;
}

/* What the store said of the key (enum sl_idem_look; -1: it failed), as
 * sl_exchange_idem returns. */
static int
look_verdict(struct sl_seam *s, struct sl_txidem *ip, int r)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_idem_route *ic = t->route->idem;

	switch (r) {
	case SL_IDEM_RESERVED:
		ip->phase = IP_HELD;
		count(s, SL_IDEM_O_RESERVED);
		return 0;
	case SL_IDEM_CONFLICT:
		return wait_or_conflict(s, ip);
	case SL_IDEM_MISMATCH:
		return decide(s, ANS_MISMATCH);
	case SL_IDEM_REPLAY:
		return decide(s, ANS_REPLAY);
	case LOOK_UNREADABLE:
		return decide(s, ANS_UNAVAILABLE);
	default:
		log_warnx("conn=%llu request_id=%s route=%s: idempotency: "
			  "%s%s",
			  (unsigned long long)s->id, t->request_id,
			  t->route->name,
			  r == SL_IDEM_FULL
			      ? "the store is full (idempotency.memory)"
			      : "the store (rate_limit_store) did not answer",
			  ic->fail == SL_IDEM_FAIL_OPEN
			      ? "; fail: open, sent on unkept"
			      : "");
		if (r != SL_IDEM_FULL)
			SL_STAT_INC(
			    t->route->state->counts[s->w->id].idem_store_err);
		if (ic->fail == SL_IDEM_FAIL_OPEN) {
			ip_free(t);
			count(s, SL_IDEM_O_UNPROTECTED);
			return 0;
		}
		return decide(s, ANS_UNAVAILABLE);
	}
}

void
sl_exchange_idem_answer(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txidem *ip = t->idem;

	switch (ip->ans) {
	case ANS_MISSING:
		count(s, SL_IDEM_O_MISSING);
		problem(s, 400, "idempotency_key_missing",
			"Idempotency-Key is missing",
			"This operation is idempotent: it requires an "
			"Idempotency-Key field.",
			"");
		break;
	case ANS_INVALID:
		count(s, SL_IDEM_O_INVALID);
		problem(s, 400, "idempotency_key_invalid",
			"Idempotency-Key is not valid",
			"The Idempotency-Key field must be one string of 1 to "
			"255 printable characters.",
			"");
		break;
	case ANS_NO_CALLER:
		count(s, SL_IDEM_O_INVALID);
		problem(s, 400, "idempotency_caller_missing",
			"The caller is not known",
			"An Idempotency-Key on this route belongs to a caller, "
			"and the request does not say who it is.",
			"");
		break;
	case ANS_TOO_LARGE:
		count(s, SL_IDEM_O_TOO_LARGE);
		problem(s, 413, "idempotency_body_too_large",
			"The request body is too large for its "
			"Idempotency-Key",
			"A request with an Idempotency-Key is kept whole to be "
			"compared with its retries, and this one is longer "
			"than the route's max_request_bytes.",
			"");
		break;
	case ANS_CONFLICT:
		count(s, SL_IDEM_O_CONFLICT);
		problem(s, 409, "idempotency_conflict",
			"A request with this Idempotency-Key is in progress",
			"Try again once it is done: its answer will be "
			"given again.",
			"Retry-After: 1\r\n");
		break;
	case ANS_MISMATCH:
		count(s, SL_IDEM_O_MISMATCH);
		problem(s, 422, "idempotency_mismatch",
			"Idempotency-Key is already used",
			"This Idempotency-Key was used for another request "
			"(another method, target or body).",
			"");
		break;
	case ANS_REPLAY:
		replay(s, ip->kept, ip->klen);
		break;
	default:
		count(s, SL_IDEM_O_UNAVAILABLE);
		problem(s, 503, "idempotency_unavailable",
			"The Idempotency-Key store is unavailable",
			"The request was not sent on. Try again later.",
			"Retry-After: 1\r\n");
		break;
	}
}

/* ---- the answer --------------------------------------------------------- */

/* The answer is not kept: the key goes (at the exchange's end, or the
 * orphan's). */
static void
ip_drop_answer(struct sl_txidem *ip, enum sl_idem_rel why)
{
	ip->rel = (uint8_t)(1 + why);
	ip->phase = IP_HELD;
	free(ip->a);
	ip->a = NULL;
	ip->alen = ip->acap = 0;
}

static int
ip_add(struct sl_txidem *ip, const void *p, size_t n, size_t bound)
{
	if (ip->alen + n > bound) {
		ip_drop_answer(ip, SL_IDEM_R_TOO_LARGE);
		return -1;
	}
	if (ip->alen + n > ip->acap) {
		size_t cap = ip->acap != 0 ? ip->acap : 1024;
		unsigned char *a;
		while (cap < ip->alen + n)
			cap *= 2;
		if (cap > bound)
			cap = bound;
		if ((a = realloc(ip->a, cap)) == NULL) {
			ip_drop_answer(ip, SL_IDEM_R_MEMORY);
			return -1;
		}
		ip->a = a;
		ip->acap = cap;
	}
	memcpy(ip->a + ip->alen, p, n);
	ip->alen += n;
	return 0;
}

/* The final head: its status, its end-to-end fields (framed: the body's
 * bytes are kept chunk-framed). */
static void
ip_keep_head(struct sl_txidem *ip, const struct sl_h1_response *resp,
	     int framed)
{
	const struct sl_conf_idem_route *ic = ip->ic;
	unsigned char head[SL_IDEM_RESP_HEAD] = {0};
	size_t bound;

	if (ip->phase != IP_HELD || ip->rel != 0)
		return;
	if (resp->status >= SL_IDEM_STATUS_MAX ||
	    (ic->release[resp->status / 64] >> (resp->status % 64)) & 1) {
		ip->rel = 1 + SL_IDEM_R_STATUS;
		return;
	}
	/* the fields may take what max_header_bytes allows them; the body
	 * is bounded by max_response_bytes */
	bound = SL_IDEM_RESP_HEAD + ip->hdr_max + ic->max_response_bytes;
	ip->phase = IP_KEEPING;
	ip->chunked = framed;
	if (ip_add(ip, head, sizeof(head), bound) != 0)
		return;
	for (size_t i = 0; i < resp->nheaders; i++) {
		const struct sl_h1_header *h = &resp->headers[i];
		/* hop-by-hop fields, the framing, and the request id (the
		 * replay has its own) stay behind */
		if (sl_h1_hkind(h) != SL_HK_OTHER)
			continue;
		if (ip_add(ip, h->name, h->name_len, bound) != 0 ||
		    ip_add(ip, ": ", 2, bound) != 0 ||
		    ip_add(ip, h->value, h->value_len, bound) != 0 ||
		    ip_add(ip, "\r\n", 2, bound) != 0)
			return;
	}
	ip->flen = (uint32_t)(ip->alen - SL_IDEM_RESP_HEAD);
	ip->status = resp->status;
}

/* The chunk-framed body kept (from the fields' end) decoded in place.
 * Returns 0, or -1 when it does not decode whole. */
static int
ip_dechunk(struct sl_txidem *ip)
{
	struct sl_h1_chunked c;
	size_t from = SL_IDEM_RESP_HEAD + ip->flen, consumed = 0, data = 0;

	sl_h1_chunked_init(&c, ip->hdr_max);
	c.max_trailers = ip->nhdr_max;
	if (sl_h1_chunked_decode(&c, (char *)ip->a + from, ip->alen - from, 1,
				 &consumed, &data) != 1)
		return -1;
	ip->alen = from + data;
	return 0;
}

/* n more body bytes at p; done: the answer is whole. Returns 1 when it
 * was kept (counted), 0 when more is to come or it is not kept, -1 when
 * it could not be kept for want of room or of its reservation (the key
 * let go, counted). */
static int
ip_keep(struct sl_txidem *ip, struct sl_counts *rc, const char *p, size_t n,
	int done)
{
	const struct sl_conf_idem_route *ic = ip->ic;
	size_t bound;
	int r;

	if (ip->phase != IP_KEEPING)
		return 0;
	/* a chunked body's framing is kept with it, and decoded at its
	 * end: the bound leaves room for the framing of a body near it */
	bound = SL_IDEM_RESP_HEAD + ip->flen + ic->max_response_bytes +
		(ip->chunked ? ic->max_response_bytes / 8 + 1024 : 0);
	if (n > 0 && ip_add(ip, p, n, bound) != 0)
		return 0;
	if (!done)
		return 0;
	if (ip->chunked && ip_dechunk(ip) != 0) {
		ip_drop_answer(ip, SL_IDEM_R_FAILED);
		return 0;
	}
	if (ip->alen - SL_IDEM_RESP_HEAD - ip->flen > ic->max_response_bytes) {
		ip_drop_answer(ip, SL_IDEM_R_TOO_LARGE);
		return 0;
	}
	sl_idem_resp_head(ip->a, ip->status, ip->flen,
			  (uint32_t)(ip->alen - SL_IDEM_RESP_HEAD - ip->flen));
	r = ip->redis ? (store_commit(ip, rc) == 0 ? 1 : -3)
		      : sl_idem_local_commit(ip->id, ip->token, ip->a, ip->alen,
					     now_ms(), ic->ttl_ms, ip->memory);
	free(ip->a);
	ip->a = NULL;
	ip->alen = ip->acap = 0;
	ip->phase = IP_DONE;
	if (r == 1)
		return 1; /* on its way to the store: counted there */
	if (r == 0) {
		SL_STAT_INC(rc->idem_stored);
		return 1;
	}
	if (r == -3) {
		/* the key stays in flight in the store until its lease */
		SL_STAT_INC(rc->idem_rel[SL_IDEM_R_MEMORY]);
		log_warnx("request_id=%s route=%s: idempotency: the answer is "
			  "not kept: out of memory; the key is let go at its "
			  "lease's end",
			  ip->request_id, ip->route);
		return -1;
	}
	SL_STAT_INC(rc->idem_rel[SL_IDEM_R_MEMORY]);
	log_warnx("request_id=%s route=%s: idempotency: the answer is not "
		  "kept: %s; the key is let go",
		  ip->request_id, ip->route,
		  r == -2 ? "the store is full (idempotency.memory)"
			  : "its reservation ran out (the route's timeout)");
	return -1;
}

void
sl_exchange_idem_head(struct sl_seam *s, const struct sl_h1_response *resp)
{
	struct sl_txn *t = s->txn;

	ip_keep_head(t->idem, resp,
		     resp->body == SL_H1_BODY_CHUNKED &&
			 !(t->flags & SL_TXN_F_DECHUNK));
}

void
sl_exchange_idem_resp(struct sl_seam *s, const char *p, size_t n)
{
	struct sl_txn *t = s->txn;

	(void)ip_keep(t->idem, &t->route->state->counts[s->w->id], p, n,
		      t->up_ph == SL_TXN_UP_DONE);
}

/* The key goes without its answer kept: counted (why: 1 + enum
 * sl_idem_rel, 0 for FAILED) and said. */
static void
ip_release(struct sl_txidem *ip, struct sl_counts *rc, const char *cut)
{
	enum sl_idem_rel why =
	    ip->rel != 0 ? (enum sl_idem_rel)(ip->rel - 1) : SL_IDEM_R_FAILED;

	if (ip->redis)
		store_release(ip, rc);
	else
		sl_idem_local_release(ip->id, ip->token);
	ip->phase = IP_DONE;
	SL_STAT_INC(rc->idem_rel[why]);
	if (why == SL_IDEM_R_TOO_LARGE)
		log_warnx("request_id=%s route=%s: idempotency: the answer is "
			  "longer than max_response_bytes: not kept, the key "
			  "is let go",
			  ip->request_id, ip->route);
	else if (why == SL_IDEM_R_FAILED && sl_log_enabled(SL_LOG_INFO))
		log_info("request_id=%s route=%s: idempotency: no whole "
			 "answer (%s): the key is let go",
			 ip->request_id, ip->route, cut);
}

/* ---- the orphan: an answer read after its client went ------------------
 *
 * A client that goes while its request is at the upstream leaves an
 * answer its retry will ask for: the upstream connection is taken from
 * the exchange and read to the answer's end (or the reservation's lease),
 * and the answer kept as if the client had stayed. HTTP/1 upstreams (an
 * HTTP/2 upstream's stream ends with its exchange: the key goes).
 */
#define ORPHAN_READ_BUF (16 * 1024)

struct sl_idem_orphan {
	TAILQ_ENTRY(sl_idem_orphan) link; /* in w->idem_orphans */
	struct sl_worker *w;
	struct sl_upconn *u;
	struct sl_txidem *ip;
	struct sl_conf *conf; /* a reference: keeps the route */
	const struct sl_conf_route *route;
	struct sl_h1_scan scan;
	struct sl_h1_chunked chunked;
	enum sl_h1_body rbody;
	uint64_t remaining;
	int head_done;
	int dechunk; /* a chunked body not kept framed: its payload is */
	enum sl_h1_method method;
	struct event tev; /* the lease's end; the first read */
};

static void orphan_on_upstream(struct sl_upconn *, enum sl_up_event, int,
			       void *);

static void
orphan_free(struct sl_idem_orphan *o, const char *cut)
{
	struct sl_counts *rc = &o->route->state->counts[o->w->id];

	if (o->ip->phase == IP_HELD || o->ip->phase == IP_KEEPING)
		ip_release(o->ip, rc, cut);
	if (o->u != NULL)
		sl_upstream_put(o->u, 0);
	event_del(&o->tev);
	TAILQ_REMOVE(&o->w->idem_orphans, o, link);
	free(o->ip->a);
	free(o->ip);
	sl_conf_unref(o->conf);
	free(o);
}

/* The head, when it is not read yet. Returns 1 when it is, 0 to wait, -1
 * when it is bad. */
static int
orphan_head(struct sl_idem_orphan *o)
{
	struct sl_upconn *u = o->u;
	struct sl_h1_limits hl = {o->ip->hdr_max, o->ip->hdr_max,
				  o->w->max_hdrs};
	struct sl_h1_response resp;
	long hlen;

	for (;;) {
		memset(&resp, 0, sizeof(resp));
		resp.headers = o->w->hdrs;
		resp.max_headers = o->w->max_hdrs;
		if (sl_buf_pending(&u->in) > 0 &&
		    u->in.data[u->in.off] == SL_HBLK_MARK) {
			/* an HTTP/2 upstream's head, as fields */
			hlen = sl_h1_block_response(u->in.data + u->in.off,
						    sl_buf_pending(&u->in),
						    o->ip->hdr_max, &resp);
			if (hlen <= 0)
				return hlen == 0 ? 0 : -1;
		} else {
			hlen = sl_h1_scan_head(&o->scan, u->in.data + u->in.off,
					       sl_buf_pending(&u->in), &hl, 0);
			if (hlen <= 0)
				return hlen == 0 ? 0 : -1;
			if (sl_h1_parse_response(u->in.data + u->in.off,
						 (size_t)hlen, &resp,
						 o->method) < 0)
				return -1;
		}
		if (resp.status >= 200) {
			ip_keep_head(o->ip, &resp,
				     resp.body == SL_H1_BODY_CHUNKED);
			sl_upstream_consume(u, (size_t)hlen);
			break;
		}
		sl_upstream_consume(u, (size_t)hlen);
		sl_h1_scan_init(&o->scan); /* an interim response */
	}
	o->head_done = 1;
	o->rbody = resp.body;
	o->remaining = resp.content_length;
	if (resp.body == SL_H1_BODY_CHUNKED) {
		sl_h1_chunked_init(&o->chunked, o->ip->hdr_max);
		o->chunked.max_trailers = o->ip->nhdr_max;
	}
	return 1;
}

/* The body bytes there are, kept. Returns 1 when the answer is whole, 0
 * to wait, -1 when its framing is bad. */
static int
orphan_body(struct sl_idem_orphan *o, struct sl_counts *rc, int eof)
{
	struct sl_upconn *u = o->u;
	size_t avail = sl_buf_pending(&u->in), consumed, data, k = 0;
	const char *p = u->in.data + u->in.off;
	int r = 0;

	switch (o->rbody) {
	case SL_H1_BODY_NONE:
		r = 1;
		break;
	case SL_H1_BODY_LENGTH:
		k = avail < o->remaining ? avail : (size_t)o->remaining;
		o->remaining -= k;
		r = o->remaining == 0;
		(void)ip_keep(o->ip, rc, p, k, r);
		sl_upstream_consume(u, k);
		return r;
	case SL_H1_BODY_CHUNKED:
		r = sl_h1_chunked_decode(&o->chunked, u->in.data + u->in.off,
					 avail, o->dechunk, &consumed, &data);
		if (r < 0)
			return -1;
		(void)ip_keep(o->ip, rc, p, o->dechunk ? data : consumed,
			      r == 1);
		sl_upstream_consume(u, consumed);
		return r;
	case SL_H1_BODY_CLOSE:
		(void)ip_keep(o->ip, rc, p, avail, eof);
		sl_upstream_consume(u, avail);
		return eof;
	}
	(void)ip_keep(o->ip, rc, p, 0, 1);
	return r;
}

static void
orphan_read(struct sl_idem_orphan *o)
{
	struct sl_counts *rc = &o->route->state->counts[o->w->id];
	ssize_t n = 1;
	int r;

	for (;;) {
		if (o->head_done || sl_buf_pending(&o->u->in) == 0) {
			n = sl_upstream_read(o->u, ORPHAN_READ_BUF, SIZE_MAX);
			if (n == SL_AGAIN) {
				sl_upstream_want_read(o->u, 1);
				return;
			}
			if (n == -1) {
				orphan_free(o, "upstream_read");
				return;
			}
		}
		o->u->ready = o->u->in.len; /* nobody passes these on */
		if (!o->head_done && (r = orphan_head(o)) != 1) {
			if (r == -1 || n == 0)
				orphan_free(o, r == -1 ? "upstream_bad_response"
						       : "upstream_closed");
			else if (sl_buf_pending(&o->u->in) > 0)
				continue; /* read more of the head */
			return;
		}
		if ((r = orphan_body(o, rc, n == 0)) != 0 || n == 0) {
			orphan_free(o, r == -1 ? "upstream_bad_chunk"
					       : "upstream_truncated");
			return;
		}
	}
}

static void
orphan_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err, void *arg)
{
	struct sl_idem_orphan *o = arg;

	(void)u;
	(void)err;
	sl_now_refresh();
	if (ev == SL_UP_EV_READABLE)
		orphan_read(o);
	else if (ev == SL_UP_EV_WRITABLE)
		sl_upstream_want_write(o->u, 0);
	else
		orphan_free(o, "upstream_failed");
}

static void
orphan_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_idem_orphan *o = arg;

	uint64_t now = sl_now_refresh();
	struct timeval tv;

	(void)fd;
	(void)what;
	if (now >= o->ip->lease_end_ms) {
		orphan_free(o, "lease");
		return;
	}
	/* the first look, from the loop; the lease's end stays armed */
	if (!evtimer_pending(&o->tev, NULL)) {
		now = o->ip->lease_end_ms - now;
		tv.tv_sec = (time_t)(now / 1000);
		tv.tv_usec = (suseconds_t)(now % 1000) * 1000;
		evtimer_add(&o->tev, &tv);
	}
	orphan_read(o);
}

/* Whether t's answer is to be read without its client: its request went
 * out whole to an HTTP/1 upstream that has not answered it whole. */
static int
orphan_due(const struct sl_txn *t)
{
	const struct sl_txidem *ip = t->idem;

	return (ip->phase == IP_KEEPING ||
		(ip->phase == IP_HELD && ip->rel == 0)) &&
	       t->up != NULL && t->resp_ph != SL_TXN_RESP_LOCAL &&
	       t->send_ph == SL_TXN_SEND_DONE &&
	       (t->up_ph == SL_TXN_UP_WAITING ||
		t->up_ph == SL_TXN_UP_RECEIVING);
}

/* Takes t's upstream connection and its key: the answer is read to its
 * end without the client. Returns 0, or -1 (no memory: the key goes). */
static int
orphan_start(struct sl_seam *s, struct sl_txn *t)
{
	struct sl_idem_orphan *o = calloc(1, sizeof(*o));
	struct sl_upconn *u = t->up;

	if (o == NULL)
		return -1;
	o->w = s->w;
	o->ip = t->idem;
	o->conf = sl_conf_ref(s->gen->conf);
	o->route = t->route;
	o->method = t->method_id;
	o->ip->t = NULL;
	if (t->up_ph == SL_TXN_UP_RECEIVING) {
		/* the head is read; what the exchange made ready of the body
		 * is kept already, the rest follows its framing */
		o->head_done = 1;
		o->rbody = t->resp_body;
		o->remaining = t->resp_remaining;
		o->chunked = t->resp_chunked;
		o->dechunk =
		    t->resp_body == SL_H1_BODY_CHUNKED && !o->ip->chunked;
		sl_upstream_consume(u, u->ready - u->in.off);
	} else
		sl_h1_scan_init(&o->scan);
	/* the connection is the orphan's: out of the exchange's count */
	t->wc->eps[t->ep_index]->active--;
	t->up = NULL;
	t->up_ph = SL_TXN_UP_NONE;
	t->idem = NULL;
	o->u = u;
	u->handler = orphan_on_upstream;
	u->arg = o;
	sl_upstream_want_write(u, 0);
	sl_upstream_want_read(u, 1);
	TAILQ_INSERT_TAIL(&o->w->idem_orphans, o, link);
	evtimer_assign(&o->tev, o->w->base, orphan_on_timer, o);
	/* read from the loop first (bytes may wait in the buffer); the
	 * lease's end is armed then */
	event_active(&o->tev, EV_TIMEOUT, 1);
	if (sl_log_enabled(SL_LOG_INFO))
		log_info("conn=%llu request_id=%s route=%s: idempotency: the "
			 "client went before the answer: it is read for the "
			 "key",
			 (unsigned long long)s->id, t->request_id,
			 t->route->name);
	return 0;
}

void
sl_exchange_idem_worker_free(struct sl_worker *w)
{
	struct sl_idem_orphan *o;
	struct sl_idem_commit *k;

	while ((o = TAILQ_FIRST(&w->idem_orphans)) != NULL)
		orphan_free(o, "stopping");
	/* answers still on their way to the store (it was away): lost
	 * with the process, their keys free at their leases' end */
	while ((k = TAILQ_FIRST(&w->idem_commits)) != NULL) {
		if (!k->release)
			log_warnx("request_id=%s route=%s: idempotency: the "
				  "answer is not kept: stopping before the "
				  "store took it",
				  k->request_id, k->route);
		commit_free(k);
	}
	EVP_MD_CTX_free(w->idem_md);
	w->idem_md = NULL;
}

void
sl_exchange_idem_end(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txidem *ip = t->idem;

	if (orphan_due(t) && orphan_start(s, t) == 0)
		return;
	if (ip->phase == IP_HELD || ip->phase == IP_KEEPING)
		ip_release(ip, &t->route->state->counts[s->w->id],
			   t->error != NULL ? t->error : "cut");
	ip_free(t);
}
