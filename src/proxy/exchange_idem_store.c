/* SPDX-License-Identifier: MIT */
/*
 * The Idempotency-Key store's fleet side (exchange_idem.c's store:
 * redis): a key's look-up and reservation, its answer's keeping (sent
 * again while Redis does not take it) and its letting go, each one
 * script through rlstore.c's connection. Knows of the exchange only the
 * request's key state (exchange_idem_int.h).
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

#include "conf.h"
#include "conf_idem.h"
#include "exchange.h"
#include "exchange_idem_int.h"
#include "exchange_int.h"
#include "idem.h"
#include "log.h"
#include "rlstore.h"
#include "runtime.h"
#include "util.h"
#include "wloop.h"
#include "wproxy.h"

/* ---- the digest (the request side's too) ---------------------------- */

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
int
sl_exchange_idem_digest(struct sl_worker *w, uint8_t out[SL_IDEM_HASH],
			const void *const *p, const size_t *n, size_t parts)
{
	EVP_MD_CTX *ctx = sl_idem_ws(w)->md;
	unsigned int len = 0;
	int ok;

	pthread_once(&sha256_once, sha256_fetch);
	if (ctx == NULL && (ctx = sl_idem_ws(w)->md = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(
	    ctx, sha256_md != NULL ? sha256_md : EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < parts; i++)
		ok = EVP_DigestUpdate(ctx, p[i], n[i]) &&
		     EVP_DigestUpdate(ctx, "", 1);
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) && len == SL_IDEM_HASH;
	return ok ? 0 : -1;
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
#define FLIGHT_LEN (1 + SL_IDEM_HASH + 8)
#define DONE_HEAD  (1 + 4 + SL_IDEM_HASH) /* "D", the key's id, the fp */

static void store_release_later(struct sl_txidem *ip, struct sl_counts *rc);

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
	const char *prefix = ip->conf->fleet_store->prefix;
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
	const struct sl_conf_idem *ci = sl_idem_conf(ip->conf);

	if (memcmp(kid, ip->kid, 4) == 0) {
		memcpy(rfp, ip->rfp, SL_IDEM_HASH);
		return ci->key;
	}
	for (size_t i = 0; ci->has_old && i < ci->nold; i++)
		if (memcmp(kid, ci->old_ids[i], 4) == 0) {
			const void *parts[] = {ci->old_keys[i], ip->fp};
			const size_t lens[] = {SL_IDEM_SEAL_KEY, SL_IDEM_HASH};
			return sl_exchange_idem_digest(ip->w, rfp, parts, lens,
						       2) == 0
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

/* Asks the store for the key. Returns 0 (its word wakes the request),
 * or -1 when it cannot be asked. */
int
sl_exchange_idem_store_reserve(struct sl_seam *s, struct sl_txidem *ip,
			       void (*woken)(struct sl_txn *))
{
	char key[256], lease[24];
	unsigned char flight[FLIGHT_LEN];
	const char *argv[3];
	size_t lens[3];

	const struct sl_conf_idem *ci = sl_idem_conf(s->gen->conf);
	const void *fparts[] = {ci->key, ip->fp};
	const size_t lens2[] = {SL_IDEM_SEAL_KEY, SL_IDEM_HASH};

	ip->redis = 1;
	/* what Redis sees of the request is a hash under the sealing key,
	 * so that a value's fingerprint gives no guess of an amount away;
	 * a kept value names its sealing key (key_id), so that a gateway
	 * with another key_file knows it cannot read it */
	if (store_token(ip->rtok) != 0 ||
	    sl_exchange_idem_digest(s->w, ip->rfp, fparts, lens2, 2) != 0)
		return -1;
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
		return -1;
	ip->phase = IP_STORE;
	return 0;
}

/* A letting go's answer: counted (arg: the route's counts, kept alive
 * by the command's reference on the generation). */
static void
store_on_after(void *arg, const struct redisReply *r, int result)
{
	struct sl_counts *rc = arg;

	(void)result;
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		SL_STAT_INC(sl_idem_counts(rc)->store_err);
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
	TAILQ_ENTRY(sl_idem_commit) link; /* in sl_idem_ws(w)->commits */
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
	struct sl_txidem *ip; /* the request whose answer waits for this
				 keeping's first word (borrowed; NULL: none) */
};

static void commit_send(struct sl_idem_commit *k);

/* The answer that waits for k's first word goes on, from its event (this
 * may run inside hiredis, which must not be asked for anything). */
static void
commit_unhold(struct sl_idem_commit *k)
{
	if (k->ip == NULL)
		return;
	k->ip->hold = NULL;
	event_active(&k->ip->hev, EV_TIMEOUT, 1);
	k->ip = NULL;
}

void
sl_exchange_idem_store_forget(struct sl_txidem *ip)
{
	if (ip->hold != NULL)
		ip->hold->ip = NULL;
	ip->hold = NULL;
}

static void
commit_free(struct sl_idem_commit *k)
{
	commit_unhold(k);
	if (k->cmd != NULL)
		sl_rlstore_cancel(k->cmd);
	event_del(&k->tev);
	TAILQ_REMOVE(&sl_idem_ws(k->w)->commits, k, link);
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
	SL_STAT_INC(sl_idem_counts(k->rc)->rel[SL_IDEM_R_MEMORY]);
	commit_free(k);
}

/* Tries again later, or gives up at the lease's end (said). */
static void
commit_later(struct sl_idem_commit *k)
{
	struct timeval tv = {0, COMMIT_RETRY_MS * 1000};

	/* a first try that failed: the answer goes without waiting for the
	 * next (the store is away; its retry may get 409 meanwhile) */
	commit_unhold(k);
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
	commit_unhold(k); /* kept, or not to be: its answer goes on */
	if (k->release && r != NULL && r->type == REDIS_REPLY_INTEGER) {
		commit_free(k); /* let go, or the key was not this one's */
		return;
	}
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
		SL_STAT_INC(sl_idem_counts(k->rc)->stored);
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
	SL_STAT_INC(sl_idem_counts(k->rc)->store_err);
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
	TAILQ_INSERT_TAIL(&sl_idem_ws(k->w)->commits, k, link);
	return k;
}

/* Keeps the answer (ip->a, alen bytes) in the store, sealed: counted
 * once the store took it. Returns 0, or -1 (no memory: not kept). */
int
sl_exchange_idem_store_commit(struct sl_txidem *ip, struct sl_counts *rc,
			      int hold)
{
	size_t vlen = DONE_HEAD + ip->alen + SL_IDEM_SEAL_OVERHEAD;
	unsigned char *v = malloc(vlen);
	struct sl_idem_commit *k;

	if (v == NULL)
		return -1;
	v[0] = 'D';
	memcpy(v + 1, ip->kid, 4);
	memcpy(v + 5, ip->rfp, SL_IDEM_HASH);
	if (sl_idem_seal(sl_idem_conf(ip->conf)->key, ip->id, ip->a, ip->alen,
			 v + DONE_HEAD) != 0 ||
	    (k = commit_new(ip, rc)) == NULL) {
		free(v);
		return -1;
	}
	k->v = v;
	k->vlen = vlen;
	snprintf(k->ttl, sizeof(k->ttl), "%llu",
		 (unsigned long long)ip->ic->ttl_ms);
	if (hold) {
		k->ip = ip;
		ip->hold = k;
	}
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
void
sl_exchange_idem_store_release(struct sl_txidem *ip, struct sl_counts *rc)
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
		SL_STAT_INC(sl_idem_counts(rc)->store_err);
}

void
sl_exchange_idem_store_free(struct sl_worker *w)
{
	struct sl_idem_commit *k;

	/* answers still on their way to the store (it was away): lost
	 * with the process, their keys free at their leases' end */
	while ((k = TAILQ_FIRST(&sl_idem_ws(w)->commits)) != NULL) {
		if (!k->release)
			log_warnx("request_id=%s route=%s: idempotency: the "
				  "answer is not kept: stopping before the "
				  "store took it",
				  k->request_id, k->route);
		commit_free(k);
	}
}
