/* SPDX-License-Identifier: MIT */
/*
 * A JSON Web Key set fetched from a URL (doc/auth.md, "Key sets from a
 * URL"): shared by every worker and every generation that names the same
 * source, so that a reload with the source unchanged keeps the set it has
 * and fetches nothing. What is decided here is pure: when a fetch is due,
 * whether an unknown "kid" may cause one (at most one per refetch interval
 * a source, and not again within a refetch interval for a kid the current
 * set was already fetched without), and which set a worker checks tokens
 * with. The fetch itself is a worker's (keyfetch.c); at most one runs at
 * a time per source.
 *
 * Threads: the registry and a set's swap under mutexes; a worker's view of
 * the current set (sl_keysrc_get) costs one atomic load while the set does
 * not change.
 */
#ifndef SL_KEYSRC_H
#define SL_KEYSRC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "jwt.h"

#define SL_KEYSRC_WORKERS 1024 /* conf.c's most workers */
#define SL_KEYSRC_NEG	  64   /* kids remembered as unknown, a source */

/* Why a fetch was made: the first, the set's lifetime, an unknown kid. */
enum sl_keysrc_reason {
	SL_KEYSRC_R_START = 0,
	SL_KEYSRC_R_REFRESH,
	SL_KEYSRC_R_KID,
	SL_KEYSRC_R_N
};

/* How a fetch ended. */
enum sl_keysrc_result {
	SL_KEYSRC_OK = 0,  /* a set taken */
	SL_KEYSRC_FAILED,  /* no answer, or not a 200 */
	SL_KEYSRC_INVALID, /* a 200 whose body is no usable key set */
	SL_KEYSRC_RESULT_N
};

/* What became of tokens whose kid the set lacks. */
enum sl_keysrc_kid {
	SL_KEYSRC_KID_REFETCH = 0, /* it caused a fetch, or joined one */
	SL_KEYSRC_KID_LIMITED,	   /* the refetch interval had not passed */
	SL_KEYSRC_KID_NEGATIVE,	   /* unknown to the set fetched last */
	SL_KEYSRC_KID_N
};

struct sl_keysrc {
	/* identity, the registry's key: the URL and the cluster's name */
	char *url;
	char *cluster;
	/* the latest generation's: a reload may change them */
	atomic_uint_fast64_t refresh_ms; /* the longest a set is kept unasked */
	atomic_uint_fast64_t refetch_ms; /* an unknown kid's refetches, at most
					    one per */
	uint64_t cluster_sig;	/* the cluster's endpoints and TLS, hashed
				   (registry lock): a change fetches again */
	struct sl_keysrc *next; /* in the registry */
	unsigned refs;		/* generations holding it (registry lock) */

	pthread_mutex_t mu;
	struct sl_jwks *cur;		/* mu; NULL until a fetch succeeds */
	atomic_uint_fast64_t version;	/* 0: no set yet; +1 a new set */
	atomic_int fetching;		/* 1 while a worker fetches */
	atomic_uint_fast64_t due_ms;	/* the next fetch in the background */
	atomic_uint_fast64_t kid_ok_ms; /* an unknown kid may refetch from */
	uint64_t backoff_ms; /* after a failure: the fetching worker's */
	struct {
		uint64_t hash, version;
		uint64_t until_ms; /* refused unasked until then */
	} neg[SL_KEYSRC_NEG];	   /* mu: kids the set of version lacked */
	unsigned neg_next;

	/* what the metrics and /config read */
	atomic_uint_fast64_t fetches[SL_KEYSRC_R_N][SL_KEYSRC_RESULT_N];
	atomic_uint_fast64_t kids[SL_KEYSRC_KID_N];
	atomic_uint_fast64_t ok_unix_s; /* the last set's time, 0: none */
	atomic_uint nkeys;		/* the current set's keys */
	atomic_int last_status;		/* the last fetch's HTTP status */

	/* each worker's reference to the set it checks with */
	struct {
		uint64_t version;
		struct sl_jwks *ks;
	} slot[SL_KEYSRC_WORKERS];
};

/*
 * The source of url through the cluster of that name: the one a live
 * generation already holds (one more reference; it takes these timings,
 * and when the cluster's endpoints or TLS changed, cluster_sig says so,
 * it fetches again at once, its set kept meanwhile), or a new one with no
 * set. NULL when out of memory. Any thread.
 */
struct sl_keysrc *sl_keysrc_get(const char *url, const char *cluster,
				uint64_t refresh_ms, uint64_t refetch_ms,
				uint64_t cluster_sig);
/* A generation lets go of it: the last one frees it. */
void sl_keysrc_put(struct sl_keysrc *src);

/* The set worker wid checks tokens with, or NULL before the first fetch
 * succeeded. Valid until that worker's next call. */
struct sl_jwks *sl_keysrc_set(struct sl_keysrc *src, unsigned wid);

/*
 * Whether worker's clock now_ms says a background fetch is due; when it
 * is, and no other fetch runs, the caller becomes the one fetching (1):
 * it must call sl_keysrc_fetched when done.
 */
int sl_keysrc_claim_due(struct sl_keysrc *src, uint64_t now_ms);

/*
 * A token's kid (hash of its text, 0: the token has none) was not in the
 * set: what to do. Returns SL_KEYSRC_KID_REFETCH with *fetch 1 when the
 * caller is to fetch (it then calls sl_keysrc_fetched), or 0 when a fetch
 * already runs and the token may wait for it; LIMITED or NEGATIVE when the
 * token is refused as it is. Counts the outcome.
 */
int sl_keysrc_unknown_kid(struct sl_keysrc *src, uint64_t kid_hash,
			  uint64_t now_ms, int *fetch);

/*
 * A token waited for a fetch and its kid is still not in the set: it is
 * remembered as unknown to that set for a refetch interval from now_ms,
 * no longer: a provider that publishes the key after the first token
 * came is asked again once the interval has passed (the refetch being
 * still one per interval for the whole source).
 */
void sl_keysrc_negative(struct sl_keysrc *src, uint64_t kid_hash,
			uint64_t now_ms);

/*
 * The fetch that the caller claimed ended: ks (taken over; NULL when it
 * failed, as result and the HTTP status say) becomes the current set, or
 * the last good one stays. max_age_s is the answer's Cache-Control max-age
 * (-1: none): the next fetch comes after it, kept between the refetch
 * interval and refresh. A failure tries again after a backoff from 1 s,
 * doubling to the refetch interval.
 */
void sl_keysrc_fetched(struct sl_keysrc *src, int reason, int result,
		       int status, struct sl_jwks *ks, int64_t max_age_s,
		       uint64_t now_ms, uint64_t now_unix_s);

/* A stable hash of a kid's text. */
uint64_t sl_keysrc_kid_hash(const char *kid, size_t len);

/* The current set, with a reference the caller drops (sl_jwks_free), or
 * NULL: for /config, from any thread. */
struct sl_jwks *sl_keysrc_current(struct sl_keysrc *src);

const char *sl_keysrc_reason_str(int reason);
const char *sl_keysrc_result_str(int result);
const char *sl_keysrc_kid_str(int kid);

#endif
