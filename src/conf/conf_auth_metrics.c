/* SPDX-License-Identifier: MIT */
/*
 * The auth module's /metrics families (conf_auth.h; doc/auth.md), which
 * its descriptor cannot describe (their labels are its slots': a route's
 * kinds of check, its key sets' URLs), written through the admin's
 * struct sl_mout: each route's decisions, its external checks' cache and
 * time, and each key set fetched from a URL (its fetches, the tokens
 * whose kid it lacked, its keys and the time of its last good fetch).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "conf_auth.h"
#include "jwt.h"
#include "keysrc.h"
#include "module.h"

/* the words of a route's block (struct sl_auth_counts) */
#define W(f)                                                                   \
	((unsigned)(offsetof(struct sl_auth_counts, f) /                       \
		    sizeof(atomic_uint_fast64_t)))

static uint64_t
load(atomic_uint_fast64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static const char *
decision_str(int k)
{
	return k == SL_JWT_OK	   ? "allow"
	       : k == SL_JWT_N	   ? "missing"
	       : k == SL_JWT_N + 1 ? "keys_unavailable"
				   : sl_jwt_err_str(k);
}

static const char *const ext_results[SL_EXT_NRESULTS] = {
    [SL_EXT_ALLOW] = "allow",
    [SL_EXT_DENY] = "deny",
    [SL_EXT_ERROR_DENY] = "error_deny",
    [SL_EXT_ERROR_ALLOW] = "error_allow",
};

/* One route's decisions of a kind: n words from word off of its block,
 * named by name(k); skip (-1: none) is left out. */
static void
decisions(const struct sl_mout *o, const char *lname,
	  const struct sl_conf_route *r, const char *kind, unsigned off, int n,
	  int skip, const char *(*name)(int))
{
	for (int k = 0; k < n; k++)
		if (k != skip)
			o->printf(o->ctx,
				  "sluice_auth_decisions_total{listener=\"%s\","
				  "route=\"%s\",kind=\"%s\",result=\"%s\"} "
				  "%llu\n",
				  lname, r->name, kind, name(k),
				  (unsigned long long)o->route_word(
				      o->ctx, r, off + (unsigned)k));
}

static const char *
ext_str(int k)
{
	return ext_results[k];
}

/* Each route's decisions: its token's (allow, missing, keys_unavailable
 * for a key set from a URL, or why a token was refused) and its
 * external check's. */
static void
metrics_decisions(const struct sl_mout *o, const struct sl_conf *c)
{
	int head = 0;

	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			const char *ln = c->listeners[i].name;
			const struct sl_conf_auth *a = sl_route_mod(r, o->m);
			if (a == NULL)
				continue;
			if (!head++)
				o->printf(o->ctx,
					  "# HELP sluice_auth_decisions_total "
					  "A route's authentication "
					  "decisions.\n# TYPE "
					  "sluice_auth_decisions_total "
					  "counter\n");
			if (a->jwt != NULL)
				decisions(
				    o, ln, r, "jwt", W(auth), SL_JWT_N + 2,
				    a->keys_url == NULL ? SL_JWT_N + 1 : -1,
				    decision_str);
			if (a->external != NULL)
				decisions(o, ln, r, "external", W(ext),
					  SL_EXT_NRESULTS, -1, ext_str);
		}
}

/* The routes with auth.external: the checks their cache answered, and
 * the checks' time. */
static void
metrics_external(const struct sl_mout *o, const struct sl_conf *c)
{
	int head = 0;

	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			const struct sl_conf_auth *a = sl_route_mod(r, o->m);
			if (a == NULL || a->external == NULL)
				continue;
			if (!head++)
				o->printf(o->ctx,
					  "# HELP "
					  "sluice_auth_external_cache_hits_"
					  "total External checks a route's "
					  "cache of decisions answered.\n"
					  "# TYPE "
					  "sluice_auth_external_cache_hits_"
					  "total counter\n");
			o->printf(o->ctx,
				  "sluice_auth_external_cache_hits_total{"
				  "listener=\"%s\",route=\"%s\"} %llu\n",
				  c->listeners[i].name, r->name,
				  (unsigned long long)o->route_word(
				      o->ctx, r, W(ext_cached)));
		}
	if (!head)
		return;
	o->printf(o->ctx, "# HELP sluice_auth_external_duration_seconds An "
			  "external check's time, from its request to the "
			  "service's whole answer (or its failure).\n# TYPE "
			  "sluice_auth_external_duration_seconds histogram\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			char labels[160];
			const struct sl_conf_auth *a = sl_route_mod(r, o->m);
			if (a == NULL || a->external == NULL)
				continue;
			snprintf(labels, sizeof(labels),
				 "listener=\"%s\",route=\"%s\"",
				 c->listeners[i].name, r->name);
			o->route_hist(
			    o->ctx, "sluice_auth_external_duration_seconds",
			    labels, r, W(ext_dur), W(ext_dur_sum_us), 1e6);
		}
}

/* The key sets fetched from URLs, each source once. */
static void
metrics_keysets(const struct sl_mout *o, const struct sl_conf *conf)
{
	const struct sl_auth_gen *c = sl_conf_mod(conf, o->m);

	if (c == NULL || c->nkeys_urls == 0)
		return;
	o->printf(o->ctx,
		  "# HELP sluice_jwks_fetches_total Fetches of a key set "
		  "from its URL, by reason and result.\n# TYPE "
		  "sluice_jwks_fetches_total counter\n");
	for (size_t i = 0; i < c->nkeys_urls; i++) {
		struct sl_keysrc *src = c->keys_urls[i]->src;
		for (int r = 0; r < SL_KEYSRC_R_N; r++)
			for (int k = 0; k < SL_KEYSRC_RESULT_N; k++)
				o->printf(
				    o->ctx,
				    "sluice_jwks_fetches_total{url=\"%s\","
				    "reason=\"%s\",result=\"%s\"} %llu\n",
				    src->url, sl_keysrc_reason_str(r),
				    sl_keysrc_result_str(k),
				    (unsigned long long)load(
					&src->fetches[r][k]));
	}
	o->printf(o->ctx,
		  "# HELP sluice_jwks_unknown_kid_total Tokens whose kid "
		  "the key set lacked: a refetch made or joined, limited "
		  "by refetch_interval, or known unknown.\n# TYPE "
		  "sluice_jwks_unknown_kid_total counter\n");
	for (size_t i = 0; i < c->nkeys_urls; i++) {
		struct sl_keysrc *src = c->keys_urls[i]->src;
		for (int k = 0; k < SL_KEYSRC_KID_N; k++)
			o->printf(o->ctx,
				  "sluice_jwks_unknown_kid_total{url=\"%s\","
				  "action=\"%s\"} %llu\n",
				  src->url, sl_keysrc_kid_str(k),
				  (unsigned long long)load(&src->kids[k]));
	}
	o->printf(o->ctx,
		  "# HELP sluice_jwks_keys Keys of the key set in use (0: "
		  "none fetched yet).\n# TYPE sluice_jwks_keys gauge\n");
	for (size_t i = 0; i < c->nkeys_urls; i++)
		o->printf(o->ctx, "sluice_jwks_keys{url=\"%s\"} %u\n",
			  c->keys_urls[i]->src->url,
			  atomic_load(&c->keys_urls[i]->src->nkeys));
	o->printf(o->ctx,
		  "# HELP sluice_jwks_last_success_seconds When the key "
		  "set in use was fetched (Unix time; 0: never).\n# TYPE "
		  "sluice_jwks_last_success_seconds gauge\n");
	for (size_t i = 0; i < c->nkeys_urls; i++)
		o->printf(
		    o->ctx,
		    "sluice_jwks_last_success_seconds{url=\"%s\"} %llu\n",
		    c->keys_urls[i]->src->url,
		    (unsigned long long)load(&c->keys_urls[i]->src->ok_unix_s));
}

void
sl_conf_auth_metrics(const struct sl_mout *o, const struct sl_conf *conf)
{
	metrics_decisions(o, conf);
	metrics_external(o, conf);
	metrics_keysets(o, conf);
}
