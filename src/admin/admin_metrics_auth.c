/* SPDX-License-Identifier: MIT */
/*
 * The /metrics families of routes' auth: (doc/auth.md): each route's
 * decisions, and each key set fetched from a URL (its fetches, the tokens
 * whose kid it lacked, its keys and the time of its last good fetch).
 */
#include "conf.h"
#include "jwt.h"
#include "keysrc.h"

#include "admin_int.h"

/* Whether a route of c checks tokens. */
static int
has_jwt(const struct sl_conf *c)
{
	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++)
			if (c->listeners[i].routes[j].auth != NULL &&
			    c->listeners[i].routes[j].auth->jwt != NULL)
				return 1;
	return 0;
}

static const char *
decision_str(int k)
{
	return k == SL_JWT_OK	   ? "allow"
	       : k == SL_JWT_N	   ? "missing"
	       : k == SL_JWT_N + 1 ? "keys_unavailable"
				   : sl_jwt_err_str(k);
}

/* Allow, missing (no token), keys_unavailable (no set fetched yet), or
 * why a token was refused. */
static void
metrics_decisions(const struct sl_admin_view *v, struct sbuf *b)
{
	const struct sl_conf *c = v->conf;
	int head = 0;

	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			if (r->auth == NULL || r->auth->jwt == NULL)
				continue;
			if (!head++)
				sb_printf(b,
					  "# HELP sluice_auth_decisions_total "
					  "A route's authentication "
					  "decisions.\n# TYPE "
					  "sluice_auth_decisions_total "
					  "counter\n");
			for (int k = 0; k <= SL_JWT_N + 1; k++) {
				if (k == SL_JWT_N + 1 &&
				    r->auth->keys_url == NULL)
					continue;
				sb_printf(
				    b,
				    "sluice_auth_decisions_total{listener="
				    "\"%s\",route=\"%s\",kind=\"jwt\","
				    "result=\"%s\"} %llu\n",
				    c->listeners[i].name, r->name,
				    decision_str(k),
				    (unsigned long long)counts_sum(
					v, r->state->counts,
					COUNT_OFF(auth) +
					    (size_t)k *
						sizeof(atomic_uint_fast64_t)));
			}
		}
}

static const char *const ext_results[SL_EXT_NRESULTS] = {
    [SL_EXT_ALLOW] = "allow",
    [SL_EXT_DENY] = "deny",
    [SL_EXT_ERROR_DENY] = "error_deny",
    [SL_EXT_ERROR_ALLOW] = "error_allow",
};

/* The routes with auth.external: their decisions (kind="external" in the
 * decisions' family), the ones their cache gave, and the checks' time. */
static void
metrics_external(const struct sl_admin_view *v, struct sbuf *b)
{
	static const double bounds[SL_HIST_N - 1] = SL_HIST_BOUNDS;
	const struct sl_conf *c = v->conf;
	int any = 0;

	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			if (r->auth == NULL || r->auth->external == NULL)
				continue;
			if (!any++ && !has_jwt(c))
				sb_printf(b,
					  "# HELP sluice_auth_decisions_total "
					  "A route's authentication "
					  "decisions.\n# TYPE "
					  "sluice_auth_decisions_total "
					  "counter\n");
			for (int k = 0; k < SL_EXT_NRESULTS; k++)
				sb_printf(
				    b,
				    "sluice_auth_decisions_total{listener="
				    "\"%s\",route=\"%s\",kind=\"external\","
				    "result=\"%s\"} %llu\n",
				    c->listeners[i].name, r->name,
				    ext_results[k],
				    (unsigned long long)counts_sum(
					v, r->state->counts,
					COUNT_OFF(ext) +
					    (size_t)k *
						sizeof(atomic_uint_fast64_t)));
		}
	if (!any)
		return;
	sb_printf(b, "# HELP sluice_auth_external_cache_hits_total External "
		     "checks a route's cache of decisions answered.\n# TYPE "
		     "sluice_auth_external_cache_hits_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			if (r->auth == NULL || r->auth->external == NULL)
				continue;
			sb_printf(
			    b,
			    "sluice_auth_external_cache_hits_total{"
			    "listener=\"%s\",route=\"%s\"} %llu\n",
			    c->listeners[i].name, r->name,
			    (unsigned long long)counts_sum(
				v, r->state->counts, COUNT_OFF(ext_cached)));
		}
	sb_printf(b, "# HELP sluice_auth_external_duration_seconds An "
		     "external check's time, from its request to the "
		     "service's whole answer (or its failure).\n# TYPE "
		     "sluice_auth_external_duration_seconds histogram\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			const char *n = "sluice_auth_external_duration_seconds";
			uint64_t cum = 0;
			if (r->auth == NULL || r->auth->external == NULL)
				continue;
			for (int k = 0; k < SL_HIST_N; k++) {
				cum += counts_sum(
				    v, r->state->counts,
				    COUNT_OFF(ext_dur) +
					(size_t)k *
					    sizeof(atomic_uint_fast64_t));
				if (k < SL_HIST_N - 1)
					sb_printf(b,
						  "%s_bucket{listener=\"%s\","
						  "route=\"%s\",le=\"%g\"} "
						  "%llu\n",
						  n, c->listeners[i].name,
						  r->name, bounds[k] / 1000.0,
						  (unsigned long long)cum);
				else
					sb_printf(b,
						  "%s_bucket{listener=\"%s\","
						  "route=\"%s\",le=\"+Inf\"} "
						  "%llu\n",
						  n, c->listeners[i].name,
						  r->name,
						  (unsigned long long)cum);
			}
			sb_printf(
			    b,
			    "%s_sum{listener=\"%s\",route=\"%s\"} %.6f\n"
			    "%s_count{listener=\"%s\",route=\"%s\"} "
			    "%llu\n",
			    n, c->listeners[i].name, r->name,
			    (double)counts_sum(v, r->state->counts,
					       COUNT_OFF(ext_dur_sum_us)) /
				1e6,
			    n, c->listeners[i].name, r->name,
			    (unsigned long long)cum);
		}
}

/* The key sets fetched from URLs, each source once. */
static void
metrics_keysets(const struct sl_conf *c, struct sbuf *b)
{
	if (c->nkeys_urls == 0)
		return;
	sb_printf(b, "# HELP sluice_jwks_fetches_total Fetches of a key set "
		     "from its URL, by reason and result.\n# TYPE "
		     "sluice_jwks_fetches_total counter\n");
	for (size_t i = 0; i < c->nkeys_urls; i++) {
		struct sl_keysrc *src = c->keys_urls[i]->src;
		for (int r = 0; r < SL_KEYSRC_R_N; r++)
			for (int k = 0; k < SL_KEYSRC_RESULT_N; k++)
				sb_printf(
				    b,
				    "sluice_jwks_fetches_total{url=\"%s\","
				    "reason=\"%s\",result=\"%s\"} %llu\n",
				    src->url, sl_keysrc_reason_str(r),
				    sl_keysrc_result_str(k),
				    (unsigned long long)load(
					&src->fetches[r][k]));
	}
	sb_printf(b, "# HELP sluice_jwks_unknown_kid_total Tokens whose kid "
		     "the key set lacked: a refetch made or joined, limited "
		     "by refetch_interval, or known unknown.\n# TYPE "
		     "sluice_jwks_unknown_kid_total counter\n");
	for (size_t i = 0; i < c->nkeys_urls; i++) {
		struct sl_keysrc *src = c->keys_urls[i]->src;
		for (int k = 0; k < SL_KEYSRC_KID_N; k++)
			sb_printf(b,
				  "sluice_jwks_unknown_kid_total{url=\"%s\","
				  "action=\"%s\"} %llu\n",
				  src->url, sl_keysrc_kid_str(k),
				  (unsigned long long)load(&src->kids[k]));
	}
	sb_printf(b, "# HELP sluice_jwks_keys Keys of the key set in use (0: "
		     "none fetched yet).\n# TYPE sluice_jwks_keys gauge\n");
	for (size_t i = 0; i < c->nkeys_urls; i++)
		sb_printf(b, "sluice_jwks_keys{url=\"%s\"} %u\n",
			  c->keys_urls[i]->src->url,
			  atomic_load(&c->keys_urls[i]->src->nkeys));
	sb_printf(b, "# HELP sluice_jwks_last_success_seconds When the key "
		     "set in use was fetched (Unix time; 0: never).\n# TYPE "
		     "sluice_jwks_last_success_seconds gauge\n");
	for (size_t i = 0; i < c->nkeys_urls; i++)
		sb_printf(
		    b, "sluice_jwks_last_success_seconds{url=\"%s\"} %llu\n",
		    c->keys_urls[i]->src->url,
		    (unsigned long long)load(&c->keys_urls[i]->src->ok_unix_s));
}

void
sl_admin_metrics_auth(const struct sl_admin_view *v, struct sbuf *b)
{
	metrics_decisions(v, b);
	metrics_external(v, b);
	metrics_keysets(v->conf, b);
}
