/* SPDX-License-Identifier: MIT */
/*
 * ACME in a fleet (acme_int.h; doc/tls.md, "ACME in a fleet"): what the
 * ACME thread keeps in and takes from the fleet's store (acme_store.c),
 * and the fleet thread, which, every 250 ms, takes the challenges' answers
 * that other gateways' orders published (a CA's validation may reach any
 * gateway behind a balancer) and installs the certificates they kept. A
 * thread of its own, beside the ACME thread, so that an order under way
 * here does not hold another gateway's validation.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme_int.h"
#include "acmeslot.h"
#include "conf.h"
#include "conf_acme.h"
#include "log.h"
#include "tlscert.h"

#define FLEET_TICK_MS 250

/* ---- a certificate in the store: its key's PEM, a NUL, its chain's PEM */

void
acme_fleet_keep(struct acme_store *st, const char *name, EVP_PKEY *key,
		const char *pem, size_t len)
{
	char *kpem = acme_key_pem(key), *blob = NULL, why[300];
	size_t kl, bl;

	if (kpem == NULL)
		return;
	kl = strlen(kpem);
	bl = kl + 1 + len;
	if ((blob = malloc(bl)) != NULL) {
		memcpy(blob, kpem, kl + 1);
		memcpy(blob + kl + 1, pem, len);
		if (acme_store_put(st, "cert:", name, blob, bl, 0, why,
				   sizeof(why)) == -1 ||
		    acme_store_updated(st, name, why, sizeof(why)) == -1)
			log_warnx(
			    "acme: %s: not kept in the fleet's store (the "
			    "other gateways order it again): %s",
			    name, why);
		OPENSSL_cleanse(blob, bl);
		free(blob);
	}
	OPENSSL_cleanse(kpem, kl);
	free(kpem);
}

int
acme_fleet_fetch(struct acme_store *st, const char *dir,
		 struct sl_acme_slot *slot, char *why, size_t n)
{
	char *blob = NULL;
	size_t len = 0, kl;
	EVP_PKEY *key;
	int r;

	if ((r = acme_store_get(st, "cert:", slot->name, &blob, &len, why,
				n)) != 1)
		return r;
	kl = strnlen(blob, len);
	if (kl == len || (key = acme_key_read(blob, kl)) == NULL) {
		snprintf(why, n,
			 "the fleet's store: %s's value is not a key and "
			 "a certificate",
			 slot->name);
		r = -1;
	} else {
		r = acme_install(dir, slot, blob + kl + 1, len - kl - 1, key, 1,
				 why, n);
		EVP_PKEY_free(key);
	}
	OPENSSL_cleanse(blob, len);
	free(blob);
	return r;
}

/* ---- the fleet thread ---------------------------------------------------
 */

/* An answer this thread put in the gateway's tables, from the store. */
struct given {
	char *field; /* "h:TOKEN" or "a:NAME" */
	int seen;    /* in the store at the last look */
	struct given *next;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int running, stop;
	struct sl_conf *conf; /* the generation to follow (a reference) */
	int changed;
} f = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, 0};

struct fleet {
	struct sl_conf *conf; /* a reference */
	const struct sl_conf_acme *cfg;
	struct acme_store st;
	int64_t seen; /* acme:updated's score taken */
	struct given *given;
	int down; /* the store's failure said */
};

static void
on_challenge(const char *field, const char *keyauth, void *arg)
{
	struct fleet *fl = arg;
	struct given *g;

	for (g = fl->given; g != NULL; g = g->next)
		if (strcmp(g->field, field) == 0) {
			g->seen = 1;
			return;
		}
	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->field = strdup(field)) == NULL) {
		free(g);
		return;
	}
	if (strncmp(field, "h:", 2) == 0) {
		char have[8];
		/* the gateway's own order's, there already */
		if (sl_acme_token_get(field + 2, strlen(field + 2), have,
				      sizeof(have)) == -1 &&
		    sl_acme_token_put(field + 2, keyauth) == -1) {
			free(g->field);
			free(g);
			return;
		}
	} else if (strncmp(field, "a:", 2) == 0) {
		struct sl_acme_slot *s = sl_acme_slot_find(field + 2);
		if (s != NULL && sl_acme_slot_alpn(s) == NULL)
			sl_acme_slot_set(s, acme_alpn_cert(field + 2, keyauth),
					 1);
		sl_acme_slot_put(s);
	}
	g->seen = 1;
	g->next = fl->given;
	fl->given = g;
}

/* What this thread gave and the store no longer holds is taken back. */
static void
given_prune(struct fleet *fl, int all)
{
	struct given **pp = &fl->given, *g;

	while ((g = *pp) != NULL) {
		if (g->seen && !all) {
			g->seen = 0;
			pp = &g->next;
			continue;
		}
		*pp = g->next;
		if (strncmp(g->field, "h:", 2) == 0)
			sl_acme_token_del(g->field + 2);
		else {
			struct sl_acme_slot *s =
			    sl_acme_slot_find(g->field + 2);
			if (s != NULL)
				sl_acme_slot_set(s, NULL, 1);
			sl_acme_slot_put(s);
		}
		free(g->field);
		free(g);
	}
}

static void
on_changed(const char *name, void *arg)
{
	struct fleet *fl = arg;
	struct sl_acme_slot *s = sl_acme_slot_find(name);
	char why[300];

	if (s == NULL)
		return; /* not a name of this gateway's */
	if (acme_fleet_fetch(&fl->st, fl->cfg->storage, s, why, sizeof(why)) ==
	    1)
		log_info("acme: %s: certificate from the fleet's store, valid "
			 "for %lld s",
			 name,
			 (long long)(atomic_load(&s->not_after) - time(NULL)));
	sl_acme_slot_put(s);
}

static void
fleet_tick(struct fleet *fl)
{
	char why[300];

	if (acme_store_challenges(&fl->st, on_challenge, fl, why,
				  sizeof(why)) == -1 ||
	    acme_store_changed(&fl->st, &fl->seen, on_changed, fl, why,
			       sizeof(why)) == -1) {
		if (!fl->down)
			log_warnx("acme: %s (the fleet's certificates and "
				  "challenges wait for it)",
				  why);
		fl->down = 1;
		return;
	}
	if (fl->down)
		log_info("acme: the fleet's store answers again");
	fl->down = 0;
	given_prune(fl, 0);
}

static void *
fleet_run(void *arg)
{
	struct fleet fl = {0};

	(void)arg;
	for (;;) {
		struct sl_conf *conf = NULL;
		struct timespec ts;

		pthread_mutex_lock(&f.mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += FLEET_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!f.stop && !f.changed &&
		       pthread_cond_timedwait(&f.cv, &f.mu, &ts) != ETIMEDOUT)
			;
		if (f.changed) {
			conf = sl_conf_ref(f.conf);
			f.changed = 0;
		}
		pthread_mutex_unlock(&f.mu);
		if (f.stop) {
			sl_conf_unref(conf);
			break;
		}
		if (conf != NULL) {
			const struct sl_conf_acme *c = sl_conf_acme(conf);
			if (fl.conf != NULL)
				sl_conf_unref(fl.conf);
			fl.conf = conf;
			fl.cfg = c;
			acme_store_init(&fl.st, conf->fleet_store, c->seal_key,
					acme_store_timeout(conf));
			fl.seen = 0; /* every name's, once: a reload may
					add names the store holds */
		}
		if (fl.cfg != NULL)
			fleet_tick(&fl);
	}
	given_prune(&fl, 1);
	acme_store_free(&fl.st);
	if (fl.conf != NULL)
		sl_conf_unref(fl.conf);
	return NULL;
}

uint64_t
acme_store_timeout(const struct sl_conf *conf)
{
	uint64_t t =
	    conf->fleet_store != NULL ? conf->fleet_store->timeout_ms : 0;
	return t < 1000 ? 1000 : t;
}

void
acme_fleet_apply(struct sl_conf *conf)
{
	const struct sl_conf_acme *c = conf != NULL ? sl_conf_acme(conf) : NULL;
	int want = c != NULL && c->store_redis && c->has_key &&
		   conf->fleet_store != NULL;

	if (!want) {
		acme_fleet_stop();
		return;
	}
	pthread_mutex_lock(&f.mu);
	if (f.conf != NULL)
		sl_conf_unref(f.conf);
	f.conf = sl_conf_ref(conf);
	f.changed = 1;
	pthread_cond_signal(&f.cv);
	pthread_mutex_unlock(&f.mu);
	if (f.running)
		return;
	f.stop = 0;
	if (pthread_create(&f.th, NULL, fleet_run, NULL) != 0) {
		log_error("acme: cannot start the fleet's thread");
		return;
	}
	f.running = 1;
}

void
acme_fleet_stop(void)
{
	if (!f.running)
		return;
	pthread_mutex_lock(&f.mu);
	f.stop = 1;
	pthread_cond_signal(&f.cv);
	pthread_mutex_unlock(&f.mu);
	pthread_join(f.th, NULL);
	f.running = 0;
	pthread_mutex_lock(&f.mu);
	if (f.conf != NULL)
		sl_conf_unref(f.conf);
	f.conf = NULL;
	f.changed = 0;
	pthread_mutex_unlock(&f.mu);
}
