/* SPDX-License-Identifier: MIT */
/*
 * The ACME slots and the http-01 tokens (acmeslot.h): a hash table of
 * slots and a small list of tokens, each under its lock, which only loads,
 * the ACME thread, the admin and a request for a challenge take; a
 * handshake reads a slot's certificate with one atomic load.
 */
#include "acmeslot.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlscert.h"

#define RETIRE_S 60 /* a replaced certificate is kept this long */

atomic_uint_fast64_t sl_acme_retries[SL_ACME_NRETRY];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* the slots by name: chains from a power of two of buckets, doubled past
 * two slots a bucket (a platform's 100,000 names are made in linear time,
 * not by a sorted table's moves) */
static struct sl_acme_slot **buckets;
static size_t nbuckets, nslots;

/* certificates replaced, freed RETIRE_S later */
static struct retired {
	struct sl_tls_cert *c;
	time_t at;
	struct retired *next;
} * retired;

static size_t
hash(const char *name)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)h;
}

/* The link that points at name's slot, or at the end of its chain. */
static struct sl_acme_slot **
find(const char *name)
{
	struct sl_acme_slot **pp;

	if (nbuckets == 0)
		return NULL;
	for (pp = &buckets[hash(name) & (nbuckets - 1)]; *pp != NULL;
	     pp = &(*pp)->hnext)
		if (strcmp((*pp)->name, name) == 0)
			break;
	return pp;
}

/* Room for one more slot. 0, or -1 (no memory). */
static int
grow(void)
{
	size_t n = nbuckets ? 2 * nbuckets : 64;
	struct sl_acme_slot **b;

	if (nslots < 2 * nbuckets)
		return 0;
	if ((b = calloc(n, sizeof(*b))) == NULL)
		return nbuckets > 0 ? 0 : -1; /* longer chains, still right */
	for (size_t i = 0; i < nbuckets; i++)
		while (buckets[i] != NULL) {
			struct sl_acme_slot *s = buckets[i];
			size_t k = hash(s->name) & (n - 1);
			buckets[i] = s->hnext;
			s->hnext = b[k];
			b[k] = s;
		}
	free(buckets);
	buckets = b;
	nbuckets = n;
	return 0;
}

struct sl_acme_slot *
sl_acme_slot_get(const char *name)
{
	struct sl_acme_slot *s = NULL, **pp;

	pthread_mutex_lock(&lock);
	if ((pp = find(name)) != NULL && (s = *pp) != NULL) {
		atomic_fetch_add(&s->refs, 1);
		goto out;
	}
	if (grow() == -1 || (s = calloc(1, sizeof(*s))) == NULL ||
	    (s->name = strdup(name)) == NULL) {
		free(s);
		s = NULL;
		goto out;
	}
	atomic_init(&s->refs, 1);
	pp = find(name);
	*pp = s;
	nslots++;
out:
	pthread_mutex_unlock(&lock);
	return s;
}

struct sl_acme_slot *
sl_acme_slot_find(const char *name)
{
	struct sl_acme_slot *s = NULL, **pp;

	pthread_mutex_lock(&lock);
	if ((pp = find(name)) != NULL && (s = *pp) != NULL)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&lock);
	return s;
}

void
sl_acme_slot_put(struct sl_acme_slot *s)
{
	struct sl_acme_slot **pp;

	if (s == NULL)
		return;
	pthread_mutex_lock(&lock);
	if (atomic_fetch_sub(&s->refs, 1) > 1) {
		pthread_mutex_unlock(&lock);
		return;
	}
	if ((pp = find(s->name)) != NULL && *pp == s) {
		*pp = s->hnext;
		nslots--;
	}
	pthread_mutex_unlock(&lock);
	/* no generation holds it: no handshake reads it any more */
	sl_tls_cert_unref(atomic_load(&s->cert));
	sl_tls_cert_unref(atomic_load(&s->alpn));
	free(s->name);
	free(s);
}

void
sl_acme_slot_set(struct sl_acme_slot *s, struct sl_tls_cert *c, int alpn)
{
	struct sl_tls_cert *old =
	    atomic_exchange(alpn ? &s->alpn : &s->cert, c);
	time_t now = time(NULL);
	struct retired *r, **pp, *gone = NULL;

	pthread_mutex_lock(&lock);
	if (old != NULL && (r = malloc(sizeof(*r))) != NULL) {
		r->c = old;
		r->at = now;
		r->next = retired;
		retired = r;
		old = NULL;
	}
	for (pp = &retired; (r = *pp) != NULL;)
		if (now - r->at >= RETIRE_S) {
			*pp = r->next;
			r->next = gone;
			gone = r;
		} else
			pp = &r->next;
	if (!alpn && c != NULL) {
		atomic_store(&s->not_after, (int64_t)c->not_after);
		atomic_store(&s->renewed_at, (int64_t)now);
	}
	pthread_mutex_unlock(&lock);
	/* out of memory for the list: kept for good (a leak, not a
	 * certificate freed under a handshake) */
	(void)old;
	while ((r = gone) != NULL) {
		gone = r->next;
		sl_tls_cert_unref(r->c);
		free(r);
	}
}

void
sl_acme_slot_error(struct sl_acme_slot *s, const char *text)
{
	pthread_mutex_lock(&lock);
	strncpy(s->error, text, sizeof(s->error) - 1);
	s->error[sizeof(s->error) - 1] = '\0';
	pthread_mutex_unlock(&lock);
}

void
sl_acme_slots_each(void (*fn)(const struct sl_acme_slot *s, void *arg),
		   void *arg)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nbuckets; i++)
		for (const struct sl_acme_slot *s = buckets[i]; s != NULL;
		     s = s->hnext)
			fn(s, arg);
	pthread_mutex_unlock(&lock);
}

size_t
sl_acme_slots_count(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = nslots;
	pthread_mutex_unlock(&lock);
	return n;
}

/* ---- http-01 tokens ------------------------------------------------------
 */

static pthread_mutex_t tok_lock = PTHREAD_MUTEX_INITIALIZER;
static struct token {
	char *token, *keyauth;
	struct token *next;
} * tokens;

int
sl_acme_token_put(const char *token, const char *keyauth)
{
	struct token *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->token = strdup(token)) == NULL ||
	    (t->keyauth = strdup(keyauth)) == NULL) {
		if (t != NULL)
			free(t->token);
		free(t);
		return -1;
	}
	pthread_mutex_lock(&tok_lock);
	t->next = tokens;
	tokens = t;
	pthread_mutex_unlock(&tok_lock);
	return 0;
}

void
sl_acme_token_del(const char *token)
{
	struct token *t = NULL, **pp;

	pthread_mutex_lock(&tok_lock);
	for (pp = &tokens; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->token, token) == 0) {
			t = *pp;
			*pp = t->next;
			break;
		}
	pthread_mutex_unlock(&tok_lock);
	if (t != NULL) {
		free(t->token);
		free(t->keyauth);
		free(t);
	}
}

long
sl_acme_token_get(const char *token, size_t len, char *out, size_t n)
{
	long r = -1;

	pthread_mutex_lock(&tok_lock);
	for (struct token *t = tokens; t != NULL; t = t->next)
		if (strlen(t->token) == len &&
		    memcmp(t->token, token, len) == 0) {
			size_t k = strlen(t->keyauth);
			if (k < n) {
				memcpy(out, t->keyauth, k + 1);
				r = (long)k;
			}
			break;
		}
	pthread_mutex_unlock(&tok_lock);
	return r;
}

void
sl_acme_slots_free(void)
{
	struct retired *r;
	struct token *t;

	pthread_mutex_lock(&lock);
	if (nslots == 0) {
		free(buckets);
		buckets = NULL;
		nbuckets = 0;
	}
	while ((r = retired) != NULL) {
		retired = r->next;
		sl_tls_cert_unref(r->c);
		free(r);
	}
	pthread_mutex_unlock(&lock);
	pthread_mutex_lock(&tok_lock);
	while ((t = tokens) != NULL) {
		tokens = t->next;
		free(t->token);
		free(t->keyauth);
		free(t);
	}
	pthread_mutex_unlock(&tok_lock);
}
