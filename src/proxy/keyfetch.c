/* SPDX-License-Identifier: MIT */
/*
 * Key sets fetched from their URLs (keyfetch.h). A fetch is a GET through
 * the source's cluster; a 200 whose body parses as a key set replaces the
 * set, and anything else keeps the last good one (keysrc.c says when to
 * ask again). Its Cache-Control max-age, when it has one, says when the
 * set is fetched next, within the source's bounds.
 */
#include "keyfetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "conf_auth.h"
#include "jwt.h"
#include "keysrc.h"
#include "log.h"
#include "subreq.h"
#include "util.h"
#include "wgen.h"

#define KEYS_BODY_MAX (1024 * 1024) /* a file's bound too (conf_auth.c) */

struct fetch {
	const struct sl_conf_keys_url *k; /* the generation's: the
					     subrequest holds it */
	int reason;
};

/* The max-age of a Cache-Control field in head (len bytes), or -1; 0 for
 * no-cache and no-store. */
static int64_t
max_age(const char *head, size_t len)
{
	const char *p = head, *end = head + len, *eol, *v;
	int64_t age = -1;

	while (p < end && (eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p = eol + 1;
		if ((size_t)(end - p) < 14 ||
		    strncasecmp(p, "cache-control:", 14))
			continue;
		for (v = p + 14; v < end && *v != '\r' && *v != '\n'; v++) {
			if ((size_t)(end - v) >= 8 &&
			    strncasecmp(v, "no-cache", 8) == 0)
				return 0;
			if ((size_t)(end - v) >= 8 &&
			    strncasecmp(v, "no-store", 8) == 0)
				return 0;
			if ((size_t)(end - v) > 8 &&
			    strncasecmp(v, "max-age=", 8) == 0 &&
			    (v == p + 14 || v[-1] == ' ' || v[-1] == ',' ||
			     v[-1] == ':')) {
				int64_t a = 0;
				const char *d = v + 8;
				if (*d < '0' || *d > '9')
					continue;
				for (; d < end && *d >= '0' && *d <= '9'; d++)
					if (a < 100000000)
						a = a * 10 + (*d - '0');
				age = a;
			}
		}
	}
	return age;
}

static void
keyfetch_done(const struct sl_subreq_result *r, void *arg)
{
	struct fetch *f = arg;
	const struct sl_conf_keys_url *k = f->k;
	struct sl_keysrc *src = k->src;
	struct sl_jwks *ks = NULL;
	int result = SL_KEYSRC_FAILED;
	int64_t age = -1;
	char why[256];

	why[0] = '\0';
	if (r->status == 200 && r->why == NULL) {
		ks = sl_jwks_parse(r->body, r->body_len, why, sizeof(why));
		result = ks != NULL ? SL_KEYSRC_OK : SL_KEYSRC_INVALID;
		age = max_age(r->head, r->head_len);
	}
	if (ks != NULL)
		log_info("keys url=%s cluster=%s: %zu keys (%s)%s (sha256 %s)",
			 k->url, k->cluster->name, ks->n,
			 sl_keysrc_reason_str(f->reason),
			 ks->skipped ? ", some skipped (doc/auth.md)" : "",
			 ks->sha256);
	else {
		char what[300];
		if (r->why != NULL)
			snprintf(what, sizeof(what), "%s", r->why);
		else if (result == SL_KEYSRC_INVALID)
			snprintf(what, sizeof(what), "not a key set: %s", why);
		else
			snprintf(what, sizeof(what), "status %d", r->status);
		log_warnx("keys url=%s cluster=%s: fetch failed (%s): %s; %s",
			  k->url, k->cluster->name,
			  sl_keysrc_reason_str(f->reason), what,
			  atomic_load(&src->version) ? "the last good set stays"
						     : "no key set yet");
	}
	sl_keysrc_fetched(src, f->reason, result, r->why ? 0 : r->status, ks,
			  age, sl_now_ms(), (uint64_t)time(NULL));
	free(f);
}

void
sl_keyfetch_start(struct sl_worker *w, struct sl_wgen *gen,
		  const struct sl_conf_keys_url *k, int reason)
{
	struct fetch *f = malloc(sizeof(*f));
	char *req = malloc(k->request_len);

	if (f == NULL || req == NULL) {
		free(f);
		free(req);
		log_warnx("keys url=%s: out of memory", k->url);
		sl_keysrc_fetched(k->src, reason, SL_KEYSRC_FAILED, 0, NULL, -1,
				  sl_now_ms(), (uint64_t)time(NULL));
		return;
	}
	f->k = k;
	f->reason = reason;
	memcpy(req, k->request, k->request_len);
	if (sl_subreq_start(w, gen, &gen->clusters[k->cluster->index], req,
			    k->request_len, KEYS_BODY_MAX, k->timeout_ms,
			    keyfetch_done, f) == NULL) {
		struct sl_subreq_result r = {.why = "connect"};
		keyfetch_done(&r, f);
	}
}

void
sl_keyfetch_tick(struct sl_worker *w)
{
	struct sl_wgen *gen = w->gen;
	const struct sl_auth_gen *g;
	uint64_t now;

	if (gen == NULL || (g = sl_auth_gen(gen->conf)) == NULL ||
	    g->nkeys_urls == 0)
		return;
	now = sl_now_ms();
	for (size_t i = 0; i < g->nkeys_urls; i++) {
		const struct sl_conf_keys_url *k = g->keys_urls[i];
		if (sl_keysrc_claim_due(k->src, now))
			sl_keyfetch_start(w, gen, k,
					  atomic_load(&k->src->version)
					      ? SL_KEYSRC_R_REFRESH
					      : SL_KEYSRC_R_START);
	}
}
