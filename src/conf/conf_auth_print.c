/* SPDX-License-Identifier: MIT */
/*
 * The auth module's /config text (conf_auth.h): a route's auth as the
 * file has it, and what its key set loaded: the keys' ids, the set's
 * fingerprint (the SHA-256 of the text it was parsed from), and how many
 * keys it skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_auth.h"
#include "jwt.h"
#include "keysrc.h"
#include "module.h"

/* ,"key":["a","b"] */
static void
strs(const struct sl_jout *o, const char *key, char *const *v, size_t n)
{
	o->printf(o->ctx, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		o->printf(o->ctx, "%s", i ? "," : "");
		o->str(o->ctx, v[i]);
	}
	o->printf(o->ctx, "]");
}

static void
u64(const struct sl_jout *o, const char *key, uint64_t v)
{
	o->printf(o->ctx, ",\"%s\":%llu", key, (unsigned long long)v);
}

/* The token's place as written ("header:authorization", the name
 * lower-cased as it is matched, "cookie:session"), or null. */
static void
token(const struct sl_jout *o, const struct sl_conf_key *k)
{
	const char *how = k->source == SL_KEY_HEADER ? "header:" : "cookie:";
	const char *name = k->name != NULL ? k->name : "";
	size_t n = strlen(how) + strlen(name) + 1;
	char *s;

	o->printf(o->ctx, ",\"token\":");
	if (k->source == SL_KEY_NONE) {
		o->printf(o->ctx, "null");
		return;
	}
	if (k->source == SL_KEY_CLIENT_IP) {
		o->printf(o->ctx, "\"client_ip\"");
		return;
	}
	if ((s = malloc(n)) == NULL) {
		o->str(o->ctx, how); /* no room: the kind at least */
		return;
	}
	snprintf(s, n, "%s%s", how, name);
	o->str(o->ctx, s);
	free(s);
}

/* A route's auth.external, or nothing without one. */
static void
external(const struct sl_jout *o, const struct sl_conf_extauth *x)
{
	if (x == NULL)
		return;
	o->printf(o->ctx, "\"external\":{\"cluster\":");
	o->str(o->ctx, x->cluster->name);
	o->printf(o->ctx, ",\"protocol\":\"%s\",\"path\":",
		  x->protocol == SL_EXTAUTH_GRPC ? "grpc" : "http");
	o->str(o->ctx, x->path);
	u64(o, "timeout_ms", x->timeout_ms);
	strs(o, "headers", x->send, x->nsend);
	strs(o, "upstream_headers", x->upstream, x->nupstream);
	strs(o, "client_headers", x->client, x->nclient);
	o->printf(o->ctx,
		  ",\"on_failure\":\"%s\",\"failure_status\":%d,"
		  "\"failure_header\":",
		  x->on_failure == SL_EXTAUTH_FAIL_ALLOW ? "allow" : "deny",
		  x->failure_status);
	o->str(o->ctx, x->failure_header);
	u64(o, "body_bytes", x->body_bytes);
	if (x->cache_entries > 0) {
		o->printf(o->ctx, ",\"cache\":{\"max_entries\":%u",
			  (unsigned)x->cache_entries);
		u64(o, "ttl_ms", x->cache_ttl_ms);
		o->printf(o->ctx, "}");
	} else
		o->printf(o->ctx, ",\"cache\":null");
	o->printf(o->ctx, "}");
}

/* The keys as the file has them: a URL's source, or the file's path. */
static void
keys(const struct sl_jout *o, const struct sl_conf_auth *a)
{
	const struct sl_conf_keys_url *k = a->keys_url;

	if (k == NULL) {
		o->str(o->ctx, a->keys_path);
		return;
	}
	o->printf(o->ctx, "{\"url\":");
	o->str(o->ctx, k->url);
	o->printf(o->ctx, ",\"cluster\":");
	o->str(o->ctx, k->cluster->name);
	u64(o, "refresh_ms", k->refresh_ms);
	u64(o, "refetch_interval_ms", k->refetch_ms);
	u64(o, "timeout_ms", k->timeout_ms);
	o->printf(o->ctx, "}");
}

/* The policy's checks: algorithms, issuers, audiences, skew, the token's
 * place, the claims required and those sent on as fields. */
static void
policy(const struct sl_jout *o, const struct sl_conf_auth *a)
{
	const struct sl_jwt_policy *p = a->jwt;

	o->printf(o->ctx, ",\"algorithms\":[");
	for (int i = 0, n = 0; i < SL_JWA_N; i++)
		if (p->algs & (1u << i))
			o->printf(o->ctx, "%s\"%s\"", n++ ? "," : "",
				  sl_jwa_name(i));
	o->printf(o->ctx, "]");
	strs(o, "issuer", p->issuers, p->nissuers);
	strs(o, "audience", p->audiences, p->naudiences);
	u64(o, "clock_skew_ms", (uint64_t)p->skew_s * 1000);
	o->printf(o->ctx, ",\"require_exp\":%s",
		  !p->exp_optional ? "true" : "false");
	token(o, &a->token);
	o->printf(o->ctx, ",\"forward_token\":%s",
		  a->forward_token ? "true" : "false");
	o->printf(o->ctx, ",\"require\":{");
	for (size_t i = 0; i < p->nrequire; i++) {
		o->printf(o->ctx, "%s", i ? "," : "");
		o->str(o->ctx, p->require[i].claim);
		o->printf(o->ctx, ":[");
		for (size_t k = 0; k < p->require[i].nvalues; k++) {
			o->printf(o->ctx, "%s", k ? "," : "");
			o->str(o->ctx, p->require[i].values[k]);
		}
		o->printf(o->ctx, "]");
	}
	o->printf(o->ctx, "},\"claims_to_headers\":{");
	for (size_t i = 0; i < p->nfields; i++) {
		o->printf(o->ctx, "%s", i ? "," : "");
		o->str(o->ctx, p->fields[i].claim);
		o->printf(o->ctx, ":");
		o->str(o->ctx, p->fields[i].field);
	}
	o->printf(o->ctx, "}");
}

void
sl_conf_auth_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_auth *a = slot;
	struct sl_jwks *ks;

	if (a == NULL) {
		o->printf(o->ctx, ",\"auth\":null");
		return;
	}
	o->printf(o->ctx, ",\"auth\":{");
	external(o, a->external);
	if (a->jwt == NULL) {
		o->printf(o->ctx, "%s\"jwt\":null}", a->external ? "," : "");
		return;
	}
	o->printf(o->ctx, "%s\"jwt\":{\"keys\":", a->external ? "," : "");
	keys(o, a);
	policy(o, a);
	/* the set in use: the file's, or the last fetched (none yet:
	 * empty) */
	ks =
	    a->keys_url != NULL ? sl_keysrc_current(a->keys_url->src) : a->keys;
	o->printf(o->ctx, ",\"key_ids\":[");
	for (size_t i = 0; ks != NULL && i < ks->n; i++) {
		o->printf(o->ctx, "%s", i ? "," : "");
		o->str(o->ctx, ks->keys[i].kid);
	}
	o->printf(o->ctx, "],\"keys_sha256\":\"%s\"",
		  ks != NULL ? ks->sha256 : "");
	o->printf(o->ctx, ",\"keys_skipped\":%zu}}",
		  ks != NULL ? ks->skipped : 0);
	if (a->keys_url != NULL)
		sl_jwks_free(ks);
}
