/* SPDX-License-Identifier: MIT */
/*
 * Key sets fetched from a URL (keysrc.h, doc/auth.md): the registry that
 * carries a source from one generation to the next, the decisions of when
 * to fetch, and each worker's reference to the current set.
 */
#include "keysrc.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BACKOFF_FIRST_MS 1000

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sl_keysrc *reg;

static const char *const reason_names[SL_KEYSRC_R_N] = {
    [SL_KEYSRC_R_START] = "start",
    [SL_KEYSRC_R_REFRESH] = "refresh",
    [SL_KEYSRC_R_KID] = "unknown_kid",
};
static const char *const result_names[SL_KEYSRC_RESULT_N] = {
    [SL_KEYSRC_OK] = "ok",
    [SL_KEYSRC_FAILED] = "failed",
    [SL_KEYSRC_INVALID] = "invalid",
};
static const char *const kid_names[SL_KEYSRC_KID_N] = {
    [SL_KEYSRC_KID_REFETCH] = "refetch",
    [SL_KEYSRC_KID_LIMITED] = "limited",
    [SL_KEYSRC_KID_NEGATIVE] = "negative",
};

const char *
sl_keysrc_reason_str(int reason)
{
	return reason >= 0 && reason < SL_KEYSRC_R_N ? reason_names[reason]
						     : "?";
}

const char *
sl_keysrc_result_str(int result)
{
	return result >= 0 && result < SL_KEYSRC_RESULT_N ? result_names[result]
							  : "?";
}

const char *
sl_keysrc_kid_str(int kid)
{
	return kid >= 0 && kid < SL_KEYSRC_KID_N ? kid_names[kid] : "?";
}

uint64_t
sl_keysrc_kid_hash(const char *kid, size_t len)
{
	uint64_t h = sl_fnv1a(SL_FNV_INIT, kid, len);

	return h ? h : 1; /* 0 is "no kid" */
}

static void
src_free(struct sl_keysrc *src)
{
	for (size_t i = 0; i < SL_KEYSRC_WORKERS; i++)
		sl_jwks_free(src->slot[i].ks);
	sl_jwks_free(src->cur);
	pthread_mutex_destroy(&src->mu);
	free(src->url);
	free(src->cluster);
	free(src);
}

struct sl_keysrc *
sl_keysrc_get(const char *url, const char *cluster, uint64_t refresh_ms,
	      uint64_t refetch_ms, uint64_t cluster_sig)
{
	struct sl_keysrc *src;

	pthread_mutex_lock(&reg_mu);
	for (src = reg; src != NULL; src = src->next)
		if (strcmp(src->url, url) == 0 &&
		    strcmp(src->cluster, cluster) == 0) {
			src->refs++;
			atomic_store(&src->refresh_ms, refresh_ms);
			atomic_store(&src->refetch_ms, refetch_ms);
			if (src->cluster_sig != cluster_sig) {
				/* other endpoints: the set is asked of them */
				src->cluster_sig = cluster_sig;
				atomic_store(&src->due_ms, 0);
			}
			pthread_mutex_unlock(&reg_mu);
			return src;
		}
	if ((src = calloc(1, sizeof(*src))) == NULL ||
	    (src->url = strdup(url)) == NULL ||
	    (src->cluster = strdup(cluster)) == NULL ||
	    pthread_mutex_init(&src->mu, NULL) != 0) {
		if (src != NULL) {
			free(src->url);
			free(src->cluster);
			free(src);
		}
		pthread_mutex_unlock(&reg_mu);
		return NULL;
	}
	atomic_init(&src->refresh_ms, refresh_ms);
	atomic_init(&src->refetch_ms, refetch_ms);
	src->cluster_sig = cluster_sig;
	src->backoff_ms = BACKOFF_FIRST_MS;
	src->refs = 1;
	src->next = reg;
	reg = src;
	pthread_mutex_unlock(&reg_mu);
	return src;
}

void
sl_keysrc_put(struct sl_keysrc *src)
{
	struct sl_keysrc **pp;

	if (src == NULL)
		return;
	pthread_mutex_lock(&reg_mu);
	if (--src->refs > 0) {
		pthread_mutex_unlock(&reg_mu);
		return;
	}
	for (pp = &reg; *pp != NULL; pp = &(*pp)->next)
		if (*pp == src) {
			*pp = src->next;
			break;
		}
	pthread_mutex_unlock(&reg_mu);
	src_free(src);
}

struct sl_jwks *
sl_keysrc_set(struct sl_keysrc *src, unsigned wid)
{
	uint64_t v = atomic_load_explicit(&src->version, memory_order_acquire);
	struct sl_jwks *ks, *old;

	if (wid >= SL_KEYSRC_WORKERS)
		return NULL;
	if (src->slot[wid].version == v)
		return src->slot[wid].ks;
	pthread_mutex_lock(&src->mu);
	if ((ks = src->cur) != NULL)
		sl_jwks_ref(ks);
	v = atomic_load_explicit(&src->version, memory_order_relaxed);
	pthread_mutex_unlock(&src->mu);
	old = src->slot[wid].ks;
	src->slot[wid].ks = ks;
	src->slot[wid].version = v;
	sl_jwks_free(old);
	return ks;
}

/* Becomes the one fetching: 1, or 0 when another worker is. */
static int
claim(struct sl_keysrc *src)
{
	int zero = 0;

	return atomic_compare_exchange_strong(&src->fetching, &zero, 1);
}

int
sl_keysrc_claim_due(struct sl_keysrc *src, uint64_t now_ms)
{
	if (atomic_load_explicit(&src->fetching, memory_order_relaxed) ||
	    now_ms < atomic_load_explicit(&src->due_ms, memory_order_relaxed))
		return 0;
	return claim(src);
}

/* The entry of kid h in the negative ring, or -1. mu held. */
static int
neg_find(const struct sl_keysrc *src, uint64_t h)
{
	for (int i = 0; i < SL_KEYSRC_NEG; i++)
		if (src->neg[i].hash == h)
			return i;
	return -1;
}

/*
 * Whether the set of version v was fetched without kid h less than a
 * refetch interval before now_ms. mu held. A newer set may hold the key;
 * so may the same set's next fetch, once the provider publishes it: the
 * entry lapses then (it once lasted until the set changed, and a kid sent
 * before its key was published was refused until the next refresh).
 */
static int
neg_has(const struct sl_keysrc *src, uint64_t h, uint64_t v, uint64_t now_ms)
{
	int i = neg_find(src, h);

	return i >= 0 && src->neg[i].version == v &&
	       now_ms < src->neg[i].until_ms;
}

int
sl_keysrc_unknown_kid(struct sl_keysrc *src, uint64_t kid_hash, uint64_t now_ms,
		      int *fetch)
{
	uint64_t v = atomic_load_explicit(&src->version, memory_order_acquire);
	int r = SL_KEYSRC_KID_REFETCH;

	*fetch = 0;
	if (kid_hash != 0) {
		pthread_mutex_lock(&src->mu);
		if (neg_has(src, kid_hash, v, now_ms))
			r = SL_KEYSRC_KID_NEGATIVE;
		pthread_mutex_unlock(&src->mu);
	}
	if (r == SL_KEYSRC_KID_REFETCH &&
	    !atomic_load_explicit(&src->fetching, memory_order_acquire)) {
		/* one refetch per interval, whatever the kids: a flood of
		 * made-up ones costs the key server one request */
		uint64_t ok = atomic_load(&src->kid_ok_ms);
		if (now_ms < ok || !atomic_compare_exchange_strong(
				       &src->kid_ok_ms, &ok,
				       now_ms + atomic_load(&src->refetch_ms)))
			r = SL_KEYSRC_KID_LIMITED;
		else if (claim(src))
			*fetch = 1;
		/* else another worker began one meanwhile: join it */
	}
	atomic_fetch_add_explicit(&src->kids[r], 1, memory_order_relaxed);
	return r;
}

void
sl_keysrc_negative(struct sl_keysrc *src, uint64_t kid_hash, uint64_t now_ms)
{
	uint64_t v = atomic_load_explicit(&src->version, memory_order_acquire);
	int i;

	if (kid_hash == 0)
		return;
	pthread_mutex_lock(&src->mu);
	/* a kid has one entry, never made longer by tokens that waited
	 * for the same fetch; one that lapsed is taken over, and pushes no
	 * other kid out */
	if (neg_has(src, kid_hash, v, now_ms)) {
		pthread_mutex_unlock(&src->mu);
		return;
	}
	if ((i = neg_find(src, kid_hash)) < 0) {
		i = (int)src->neg_next;
		src->neg_next = (src->neg_next + 1) % SL_KEYSRC_NEG;
	}
	src->neg[i].hash = kid_hash;
	src->neg[i].version = v;
	src->neg[i].until_ms = now_ms + atomic_load(&src->refetch_ms);
	pthread_mutex_unlock(&src->mu);
}

void
sl_keysrc_fetched(struct sl_keysrc *src, int reason, int result, int status,
		  struct sl_jwks *ks, int64_t max_age_s, uint64_t now_ms,
		  uint64_t now_unix_s)
{
	struct sl_jwks *old = NULL;
	uint64_t next, refresh = atomic_load(&src->refresh_ms),
		       refetch = atomic_load(&src->refetch_ms);

	if (reason < 0 || reason >= SL_KEYSRC_R_N)
		reason = SL_KEYSRC_R_REFRESH;
	if (result < 0 || result >= SL_KEYSRC_RESULT_N)
		result = SL_KEYSRC_FAILED;
	if (ks != NULL && result != SL_KEYSRC_OK) {
		sl_jwks_free(ks);
		ks = NULL;
	}
	if (ks != NULL) {
		/* the answer's lifetime, never shorter than the refetch
		 * interval nor longer than refresh */
		next = refresh;
		if (max_age_s >= 0 && (uint64_t)max_age_s * 1000 < next)
			next = (uint64_t)max_age_s * 1000;
		if (next < refetch)
			next = refetch;
		src->backoff_ms = BACKOFF_FIRST_MS;
		pthread_mutex_lock(&src->mu);
		old = src->cur;
		src->cur = ks;
		atomic_store(&src->nkeys, (unsigned)ks->n);
		atomic_fetch_add_explicit(&src->version, 1,
					  memory_order_release);
		pthread_mutex_unlock(&src->mu);
		atomic_store(&src->ok_unix_s, now_unix_s);
		sl_jwks_free(old);
	} else {
		/* the last good set stays; ask again soon, less often
		 * while the server stays down */
		next = src->backoff_ms;
		if (next > refetch)
			next = refetch;
		src->backoff_ms = next * 2;
	}
	atomic_store(&src->due_ms, now_ms + next);
	atomic_store(&src->last_status, status);
	atomic_fetch_add_explicit(&src->fetches[reason][result], 1,
				  memory_order_relaxed);
	atomic_store_explicit(&src->fetching, 0, memory_order_release);
}

struct sl_jwks *
sl_keysrc_current(struct sl_keysrc *src)
{
	struct sl_jwks *ks;

	pthread_mutex_lock(&src->mu);
	if ((ks = src->cur) != NULL)
		sl_jwks_ref(ks);
	pthread_mutex_unlock(&src->mu);
	return ks;
}
