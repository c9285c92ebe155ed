/* SPDX-License-Identifier: MIT */
/*
 * A route's auth: (doc/auth.md), checked after its policy and its rate
 * limits and before anything goes upstream: the token found where the
 * route says, checked by jwt.c against the generation's key set, and
 * either the fields its claims set for the upstream, or the answer: 401
 * with WWW-Authenticate (RFC 6750 section 3), or 403 for a token that
 * lacks what the route requires. The token itself is never logged.
 *
 * A worker remembers the tokens whose signature it verified (a digest of
 * the whole token with the key set's id), so that a client sending the
 * same token again pays for its claims and not for another ECDSA or RSA
 * verification; a reload's new key set has a new id, so a key removed
 * from the set stops a cached token at once.
 */
#include <assert.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf_auth.h"
#include "exchange_int.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "jwt.h"
#include "keyfetch.h"
#include "keysrc.h"
#include "log.h"
#include "runtime.h"
#include "util.h"
#include "wproxy.h"

/* the counts: SL_JWT_OK, each failure, SL_JWT_N (no token), SL_JWT_N + 1
 * (no key set to check with) */
_Static_assert(SL_JWT_N + 2 <= SL_AUTH_NRESULTS, "conf_auth.h's auth counts");
_Static_assert(SL_JWT_FIELDS_MAX + 1 <= SL_FWD_EXTRA_MAX, "h1_msg.h's extra");

#define CACHE_N 1024 /* verified tokens a worker remembers */

struct cache_ent {
	uint8_t digest[32];
	uint64_t ks_id; /* 0: empty */
};

static _Thread_local struct cache_ent *cache;

static _Thread_local EVP_MD_CTX *md_ctx; /* kept: a new one a token is
					     a malloc and a fetch */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* The calling thread's cache of verified tokens and its SHA-256 context
 * (filter.h's thread_free). */
static void
auth_thread_free(void)
{
	free(cache);
	cache = NULL;
	EVP_MD_CTX_free(md_ctx);
	md_ctx = NULL;
}

EVP_MD_CTX *
sl_exchange_sha256(void)
{
	(void)pthread_once(&sha256_once, sha256_fetch);
	if (sha256 == NULL ||
	    (md_ctx == NULL && (md_ctx = EVP_MD_CTX_new()) == NULL) ||
	    EVP_DigestInit_ex2(md_ctx, sha256, NULL) != 1)
		return NULL;
	return md_ctx;
}

/* The digest of tok, and its entry in the worker's cache (NULL: no
 * cache, no memory). */
static struct cache_ent *
cache_slot(const char *tok, size_t len, uint8_t digest[32])
{
	unsigned int dl = 0;

	if (sl_exchange_sha256() == NULL ||
	    EVP_DigestUpdate(md_ctx, tok, len) != 1 ||
	    EVP_DigestFinal_ex(md_ctx, digest, &dl) != 1 || dl != 32)
		return NULL;
	if (cache == NULL && (cache = calloc(CACHE_N, sizeof(*cache))) == NULL)
		return NULL;
	return &cache[(digest[0] | (unsigned)digest[1] << 8) % CACHE_N];
}

/* The token where the route's auth looks for it, or -1 (none, or more
 * than one: two Authorization fields are no credential). */
static int
find_token(const struct sl_conf_auth *a, const struct sl_h1_request *req,
	   const char **tok, size_t *tlen)
{
	int found = 0;

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		const char *v;
		size_t vl;

		if (a->token.source == SL_KEY_COOKIE) {
			if (h->name_len != 6 ||
			    strncasecmp(h->name, "cookie", 6) != 0 ||
			    sl_jwt_cookie(h->value, h->value_len, a->token.name,
					  a->token.name_len, &v, &vl) != 0)
				continue;
		} else {
			if (h->name_len != a->token.name_len ||
			    strncasecmp(h->name, a->token.name, h->name_len) !=
				0)
				continue;
			v = h->value;
			vl = h->value_len;
			if (a->token.name_len == 13 &&
			    strcmp(a->token.name, "authorization") == 0 &&
			    sl_jwt_bearer(h->value, h->value_len, &v, &vl) != 0)
				continue; /* another scheme: not ours */
		}
		if (found++)
			return -1;
		*tok = v;
		*tlen = vl;
	}
	return found == 1 ? 0 : -1;
}

static void
refuse(struct sl_seam *s, int err, const char *tok, size_t len)
{
	static const char *const errors[SL_JWT_N + 1] = {
	    [SL_JWT_MALFORMED] = "jwt_malformed",
	    [SL_JWT_TOO_LARGE] = "jwt_too_large",
	    [SL_JWT_ALG] = "jwt_algorithm",
	    [SL_JWT_CRIT] = "jwt_crit",
	    [SL_JWT_NO_KEY] = "jwt_no_key",
	    [SL_JWT_SIGNATURE] = "jwt_signature",
	    [SL_JWT_EXPIRED] = "jwt_expired",
	    [SL_JWT_NOT_YET] = "jwt_not_yet_valid",
	    [SL_JWT_NO_EXP] = "jwt_no_exp",
	    [SL_JWT_ISSUER] = "jwt_issuer",
	    [SL_JWT_AUDIENCE] = "jwt_audience",
	    [SL_JWT_CLAIM_VALUE] = "jwt_claim_value",
	    [SL_JWT_FORBIDDEN] = "jwt_forbidden",
	    [SL_JWT_N] = "jwt_missing",
	};
	struct sl_txn *t = s->txn;
	const char *fields;
	char kid[72], ekid[300], peer[SL_PEER_MAX];
	int status = 401;

	if (err == SL_JWT_N)
		/* no credential: the scheme, no error (RFC 6750 section
		 * 3.1) */
		fields = "WWW-Authenticate: Bearer\r\n";
	else if (err == SL_JWT_FORBIDDEN) {
		status = 403;
		fields = "WWW-Authenticate: Bearer error=\"insufficient_scope\""
			 "\r\n";
	} else
		fields = "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n";
	SL_STAT_INC(
	    sl_auth_counts(&t->route->state->counts[s->w->id])->auth[err]);
	if (sl_log_enabled(SL_LOG_INFO))
		log_info("conn=%llu peer=%s request_id=%s route=%s: %d %s "
			 "token_bytes=%zu kid=%s",
			 (unsigned long long)s->id,
			 sl_exchange_peer_str(s, t, peer, sizeof(peer)),
			 t->request_id[0] ? t->request_id : "-", t->route->name,
			 status, errors[err], len,
			 tok != NULL &&
				 sl_jwt_kid(tok, len, kid, sizeof(kid)) == 0
			     ? sl_escape(ekid, sizeof(ekid), kid, strlen(kid))
			     : "-");
	sl_exchange_answer_as(s, status,
			      status == 401 ? "unauthorized" : "forbidden",
			      errors[err], 0, fields);
}

/* ---- waiting for a key set's fetch ----------------------------------- */

/* The filter's slot (filter.h): a request waiting for the fetch of its
 * route's key set (src set), with its head kept at in.off as for a
 * lease; src != NULL while in its worker's waits (struct auth_ws). */
struct sl_auth_wait {
	TAILQ_ENTRY(sl_auth_wait) link; /* in its worker's waits */
	struct sl_keysrc *src;		/* NULL: not waiting for a key set */
	struct sl_txn *t;		/* whose wait it is */
	void (*woken)(struct sl_txn *);
	uint64_t deadline_ms;
	uint8_t waited; /* it waited once: never again */
	uint8_t ok;	/* its token let it through: the access log says so */
};

extern struct sl_filter sl_filter_jwt;

/* The worker's (the filter's per-worker state, filter.h's wsize): the
 * requests waiting for a key set's fetch, and the poll of the fetch they
 * wait for. */
struct auth_ws {
	TAILQ_HEAD(, sl_auth_wait) waits;
	struct event *ev;
};

static inline struct auth_ws *
aws(const struct sl_worker *w)
{
	return (
	    struct auth_ws *)(void *)(sl_wproxy(w)->fws +
				      sl_filter_wstate_off[sl_filter_jwt.id]);
}

static inline struct sl_auth_wait *
awt(struct sl_txn *t)
{
	return sl_fctx(t, &sl_filter_jwt);
}

/* Only what is read first is set: no wait, none yet. */
static void
jwt_begin(struct sl_txn *t, void *ctx)
{
	struct sl_auth_wait *aw = ctx;

	aw->src = NULL;
	aw->waited = 0;
	aw->ok = 0;
	aw->t = t;
}

#define WAIT_POLL_MS  10   /* a fetch another worker makes ends unheard */
#define WAIT_SLACK_MS 1000 /* past the fetch's own deadline */

static void
wait_end(struct sl_worker *w, struct sl_txn *t)
{
	TAILQ_REMOVE(&aws(w)->waits, awt(t), link);
	awt(t)->src = NULL;
}

/* The exchange ends: it stops waiting for a fetch. */
static void
jwt_end(struct sl_seam *s)
{
	if (awt(s->txn)->src != NULL)
		wait_end(s->w, s->txn);
}

/* The worker's poll: requests whose fetch ended (or whose wait passed its
 * deadline) are checked again, in the order they came. */
static void
auth_on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;
	struct sl_auth_wait *aw;
	struct timeval tv = {0, WAIT_POLL_MS * 1000};
	uint64_t now = sl_now_refresh();

again:
	TAILQ_FOREACH(aw, &aws(w)->waits, link)
	{
		struct sl_txn *t = aw->t;
		void (*woken)(struct sl_txn *) = aw->woken;
		if (atomic_load(&aw->src->fetching) && now < aw->deadline_ms)
			continue;
		wait_end(w, t);
		/* it may answer, end a connection and other waits with it:
		 * the list is walked again */
		woken(t);
		goto again;
	}
	if (!TAILQ_EMPTY(&aws(w)->waits))
		event_add(aws(w)->ev, &tv);
}

/* t waits for src's fetch. Returns 0, or -1 (no memory for the poll). */
static int
wait_fetch(struct sl_seam *s, struct sl_keysrc *src,
	   const struct sl_conf_keys_url *k, void (*woken)(struct sl_txn *))
{
	struct sl_worker *w = s->w;
	struct sl_txn *t = s->txn;
	struct timeval tv = {0, WAIT_POLL_MS * 1000};

	if (aws(w)->ev == NULL &&
	    (aws(w)->ev = evtimer_new(w->base, auth_on_poll, w)) == NULL)
		return -1;
	awt(t)->src = src;
	awt(t)->woken = woken;
	awt(t)->waited = 1;
	awt(t)->deadline_ms = sl_now_ms() + k->timeout_ms + WAIT_SLACK_MS;
	if (TAILQ_EMPTY(&aws(w)->waits))
		event_add(aws(w)->ev, &tv);
	TAILQ_INSERT_TAIL(&aws(w)->waits, awt(t), link);
	t->flags |= SL_TXN_F_FEND;
	return 0;
}

/* No key set to check with: the first fetch has not succeeded. The
 * request waits for one that runs or begins now, once; else 503, a
 * gateway's fault and not the client's (never 401 for a token that may
 * be good). Returns as jwt_check. */
static int
no_set(struct sl_seam *s, const struct sl_conf_keys_url *k,
       void (*woken)(struct sl_txn *))
{
	struct sl_keysrc *src = k->src;
	struct sl_txn *t = s->txn;

	if (!awt(t)->waited) {
		if (sl_keysrc_claim_due(src, sl_now_ms()))
			sl_keyfetch_start(s->w, s->gen, k, SL_KEYSRC_R_START);
		if (atomic_load(&src->fetching) &&
		    wait_fetch(s, src, k, woken) == 0)
			return 1;
	}
	SL_STAT_INC(sl_auth_counts(&t->route->state->counts[s->w->id])
			->auth[SL_JWT_N + 1]);
	if (sl_log_enabled(SL_LOG_INFO))
		log_info("conn=%llu request_id=%s route=%s: 503 "
			 "auth_keys_unavailable: no key set from %s yet",
			 (unsigned long long)s->id,
			 t->request_id[0] ? t->request_id : "-", t->route->name,
			 k->url);
	sl_exchange_answer(s, 503, "auth_keys_unavailable", 0,
			   "Retry-After: 1\r\n");
	return -1;
}

/* A token's kid is not in the fetched set: the set may be older than the
 * key (a rotation), so the request waits for a refetch, once, when the
 * source allows one now (keysrc.c: one per refetch_interval, and not
 * within one for a kid the current set was fetched without). Returns 1
 * when it waits, else SL_JWT_NO_KEY. */
static int
unknown_kid(struct sl_seam *s, const struct sl_conf_keys_url *k,
	    const char *tok, size_t len, void (*woken)(struct sl_txn *))
{
	struct sl_txn *t = s->txn;
	char kid[256];
	uint64_t h;
	int fetch;

	h = sl_jwt_kid(tok, len, kid, sizeof(kid)) == 0
		? sl_keysrc_kid_hash(kid, strlen(kid))
		: 0;
	if (h == 0)
		return SL_JWT_NO_KEY; /* no kid: every key was tried */
	if (awt(t)->waited) {
		/* the refetch it waited for did not bring it */
		sl_keysrc_negative(k->src, h, sl_now_ms());
		return SL_JWT_NO_KEY;
	}
	if (sl_keysrc_unknown_kid(k->src, h, sl_now_ms(), &fetch) !=
	    SL_KEYSRC_KID_REFETCH)
		return SL_JWT_NO_KEY;
	if (fetch)
		sl_keyfetch_start(s->w, s->gen, k, SL_KEYSRC_R_KID);
	if (atomic_load(&k->src->fetching) &&
	    wait_fetch(s, k->src, k, woken) == 0)
		return 1;
	return SL_JWT_NO_KEY;
}

/*
 * The route's token: 0 when the request may go on, with x the fields its
 * token sets (pointing into out); -1: it was answered (401, 403, 503); 1:
 * it waits for its key set's fetch (its slot), and woken(t) is called when
 * it may be checked again.
 */
static int
jwt_check(struct sl_seam *s, const struct sl_h1_request *req,
	  struct sl_fwd_extra *x, struct sl_jwt_out *out,
	  void (*woken)(struct sl_txn *))
{
	const struct sl_conf_auth *a = sl_auth_route(s->txn->route);
	const struct sl_jwt_policy *p = a->jwt;
	const struct sl_jwks *ks = a->keys;
	struct cache_ent *ce = NULL;
	uint8_t digest[32];
	const char *tok = NULL;
	size_t len = 0;
	int r;

	if (p == NULL) {
		/* a load that failed leaves no such route: defensive */
		sl_exchange_local(s, 503, "auth_unavailable", 0);
		return -1;
	}
	if (find_token(a, req, &tok, &len) != 0) {
		refuse(s, SL_JWT_N, NULL, 0);
		return -1;
	}
	if (a->keys_url != NULL &&
	    (ks = sl_keysrc_set(a->keys_url->src, s->w->id)) == NULL)
		return no_set(s, a->keys_url, woken);
	if (ks == NULL) {
		sl_exchange_local(s, 503, "auth_unavailable", 0);
		return -1;
	}
	if (len <= SL_JWT_MAX)
		ce = cache_slot(tok, len, digest);
	r = sl_jwt_check(p, ks, tok, len, (int64_t)time(NULL),
			 ce != NULL && ce->ks_id == ks->id &&
			     memcmp(ce->digest, digest, 32) == 0,
			 out);
	if (r == SL_JWT_NO_KEY && a->keys_url != NULL &&
	    (r = unknown_kid(s, a->keys_url, tok, len, woken)) == 1)
		return 1;
	if (r != SL_JWT_OK) {
		refuse(s, r, tok, len);
		return -1;
	}
	if (ce != NULL && out->key != NULL) {
		/* verified now: remembered for the token's next use */
		memcpy(ce->digest, digest, 32);
		ce->ks_id = ks->id;
	}
	SL_STAT_INC(sl_auth_counts(&s->txn->route->state->counts[s->w->id])
			->auth[SL_JWT_OK]);
	awt(s->txn)->ok = 1; /* the access log says so (jwt_log_fields) */
	s->txn->flags |= SL_TXN_F_LOGF;
	/* the client's own fields of the claims' names never go up, nor
	 * the token when the route keeps it (added to what filters before
	 * this one set: sl_fhead_extra made the list) */
	for (size_t i = 0; i < p->nfields; i++) {
		x->drop[x->ndrop].name = p->fields[i].field;
		x->drop[x->ndrop++].len = strlen(p->fields[i].field);
		if (!out->f[i].present)
			continue;
		x->set[x->nset].name = p->fields[i].field;
		x->set[x->nset].nlen = strlen(p->fields[i].field);
		x->set[x->nset].value = out->buf + out->f[i].off;
		x->set[x->nset++].vlen = out->f[i].len;
	}
	if (!a->forward_token && a->token.source == SL_KEY_HEADER) {
		x->drop[x->ndrop].name = a->token.name;
		x->drop[x->ndrop++].len = a->token.name_len;
	}
	for (unsigned i = 0; i < x->ndrop; i++)
		x->drop_lens |= (uint64_t)1 << (x->drop[i].len & 63);
	return 0;
}

static_assert(sizeof(struct sl_jwt_out) <= SL_FHEAD_ROOM,
	      "the head's room holds a token's claims");

static int
jwt_head(struct sl_seam *s, struct sl_fhead *h)
{
	/* the claims in the head's room: the fields set upstream are
	 * values there, kept with the head while a later filter waits */
	struct sl_jwt_out *out = (struct sl_jwt_out *)(void *)h->room;
	int r = jwt_check(s, h->req, sl_fhead_extra(h), out,
			  sl_exchange_filters_woken);

	if (r != 0)
		return r;
	h->room_used = (uint32_t)sizeof(*out);
	if (out->caller_len > 0) {
		/* who calls, for the filters after it */
		h->caller = out->caller;
		h->caller_len = out->caller_len;
	}
	return 0;
}

static int
jwt_used(const struct sl_conf_route *r)
{
	const struct sl_conf_auth *a = sl_auth_route(r);

	return a != NULL && a->jwt != NULL;
}

/* The access log's auth: "jwt", an early field of the line; the external
 * check's value joins it ("jwt,external"). */
static void
jwt_log_fields(struct sl_txn *t, struct sl_flog *l)
{
	if (awt(t)->ok)
		sl_flog_add(l, 0, "auth", "jwt");
}

/* The worker's tick: the key sets from URLs due a refresh are fetched. */
static void
jwt_tick(struct sl_worker *w, void *ws)
{
	(void)ws;
	sl_keyfetch_tick(w);
}

static int
jwt_worker_init(struct sl_worker *w, void *ws, const struct sl_conf *conf)
{
	struct auth_ws *a = ws;

	(void)w;
	(void)conf;
	TAILQ_INIT(&a->waits);
	return 0;
}

static void
jwt_worker_free(struct sl_worker *w, void *ws)
{
	struct auth_ws *a = ws;

	(void)w;
	if (a->ev != NULL)
		event_free(a->ev);
	a->ev = NULL;
}

struct sl_filter sl_filter_jwt = {
    .name = "auth.jwt",
    .ctx_size = sizeof(struct sl_auth_wait),
    .wsize = sizeof(struct auth_ws),
    .worker_init = jwt_worker_init,
    .worker_free = jwt_worker_free,
    .worker_tick = jwt_tick,
    .log_fields = jwt_log_fields,
    .begin = jwt_begin,
    .used = jwt_used,
    .req_head = jwt_head,
    .end = jwt_end,
    .thread_free = auth_thread_free,
};
