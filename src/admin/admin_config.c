/* SPDX-License-Identifier: MIT */
/*
 * The admin listener's /config page (admin.c serves it): the running
 * generation, every key with its default filled in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_int.h"
#include "conf.h"
#include "h1_parse.h"
#include "health.h"
#include "keysrc.h"
#include "policy.h"
#include "proxyproto.h"
#include "resolve.h"
#include "route.h"
#include "runtime.h"
#include "util.h"

/* ---- /config ------------------------------------------------------------
 *
 * The running generation, every key with its default filled in, in the
 * file's names: a duration as KEY_ms (milliseconds), a rate as
 * KEY_bytes_per_s, a percentage as KEY_percent, sizes in bytes (their
 * keys end in _bytes already); a part that is not set is null. Key files
 * are never named. workers, admin and log.access are what runs (they
 * change at a restart only).
 */

/* Where a module's value is printed (config_modules, below). */
enum mod_where { MOD_ROUTE = 0, MOD_TOP, MOD_LISTENER };
static void config_modules(struct sbuf *b, void *const *mod,
			   enum mod_where where);

static const char *
tls_version_str(int v)
{
	return v == 13 ? "TLSv1.3" : "TLSv1.2";
}

/* A header's value as a JSON string: a credential's (secret) starred, one
 * '*' a byte, as the WAF's log shows one: its length, never its bytes. */
static void
config_value(struct sbuf *b, const char *v, int secret)
{
	size_t n = strlen(v);
	char *s;

	if (!secret) {
		sl_admin_jstr(b, v);
		return;
	}
	if ((s = malloc(n + 1)) == NULL) {
		sl_admin_jstr(b, "");
		return;
	}
	sl_admin_jstr(b, sl_hdr_starred(s, n + 1, n));
	free(s);
}

/* A sticky: or hash_key: as written ("header:x-user-id", with the
 * header's name lower-cased as it is matched), or null. */
static void
config_key(struct sbuf *b, const char *name, const struct sl_conf_key *k)
{
	sb_printf(b, ",\"%s\":", name);
	if (k->source == SL_KEY_NONE)
		sb_printf(b, "null");
	else if (k->source == SL_KEY_CLIENT_IP)
		sb_printf(b, "\"client_ip\"");
	else
		sl_admin_jstr2(
		    b, k->source == SL_KEY_HEADER ? "header:" : "cookie:",
		    k->name != NULL ? k->name : "");
}

/* A listener's limits (doc/contracts.md 1.3). */
static void
config_limits(struct sbuf *b, const struct sl_conf_limits *l)
{
	sb_printf(b, ",\"limits\":{\"header_timeout_ms\":%llu",
		  (unsigned long long)l->header_timeout_ms);
	sl_admin_jkv_u64(b, "body_timeout_ms", l->body_timeout_ms);
	sl_admin_jkv_u64(b, "send_timeout_ms", l->send_timeout_ms);
	sl_admin_jkv_u64(b, "idle_timeout_ms", l->idle_timeout_ms);
	sl_admin_jkv_u64(b, "max_uri_bytes", l->max_uri_bytes);
	sl_admin_jkv_u64(b, "max_header_bytes", l->max_header_bytes);
	sl_admin_jkv_u64(b, "max_headers", l->max_headers);
	sl_admin_jkv_u64(b, "max_body_bytes", l->max_body_bytes);
	sl_admin_jkv_u64(b, "buffer_bytes", l->buffer_bytes);
	sl_admin_jkv_u64(b, "splice_min_bytes", l->splice_min_bytes);
	sl_admin_jkv_u64(b, "max_requests", l->max_requests);
	sl_admin_jkv_u64(b, "min_body_rate_bytes_per_s", l->min_body_rate_bps);
	sl_admin_jkv_u64(b, "min_send_rate_bytes_per_s", l->min_send_rate_bps);
	sl_admin_jkv_u64(b, "max_connections", l->max_connections);
	sl_admin_jkv_u64(b, "max_connections_per_ip",
			 l->max_connections_per_ip);
	sl_admin_jkv_u64(b, "max_concurrent_streams",
			 l->max_concurrent_streams);
	sl_admin_jkv_u64(b, "max_header_list_bytes", l->max_header_list_bytes);
	sl_admin_jkv_u64(b, "tunnel_idle_timeout_ms",
			 l->tunnel_idle_timeout_ms);
	sl_admin_jkv_u64(b, "tunnel_lifetime_ms", l->tunnel_lifetime_ms);
	sl_admin_jkv_u64(b, "tunnel_drain_timeout_ms",
			 l->tunnel_drain_timeout_ms);
	sl_admin_jkv_u64(b, "tunnel_buffer_bytes", l->tunnel_buffer_bytes);
	sl_admin_jkv_u64(b, "max_tunnels", l->max_tunnels);
	sl_admin_jkv_u64(b, "max_tunnels_per_ip", l->max_tunnels_per_ip);
	sb_printf(b, "}");
}

/* A listener's tls: the certificate files and the choices, never a key;
 * null for plain HTTP. */
static void
config_tls_server(struct sbuf *b, const struct sl_conf_tls_server *t)
{
	if (!t->enabled) {
		sb_printf(b, ",\"tls\":null");
		return;
	}
	sb_printf(b, ",\"tls\":{\"certificates\":[");
	for (size_t i = 0; i < t->ncerts; i++) {
		sb_printf(b, "%s{\"cert\":", i ? "," : "");
		sl_admin_jstr(b, t->certs[i].cert.path);
		sb_printf(b, "}");
	}
	/* the names ACME orders for (doc/tls.md, "ACME"); null: none */
	if (t->nacme == 0)
		sb_printf(b, "],\"acme\":null");
	else {
		sb_printf(b, "],\"acme\":[");
		for (size_t i = 0; i < t->nacme; i++) {
			sb_printf(b, "%s", i ? "," : "");
			sl_admin_jstr(b, t->acme[i]);
		}
		sb_printf(b, "]");
	}
	sb_printf(b, ",\"min_version\":\"%s\"",
		  tls_version_str(t->min_version));
	/* null: sluice's own list (doc/tls.md), OpenSSL's suites */
	sl_admin_jkv_str(b, "ciphers", t->ciphers);
	sl_admin_jkv_str(b, "ciphersuites", t->ciphersuites);
	sl_admin_jkv_bool(b, "session_tickets", t->session_tickets);
	sl_admin_jkv_u64(b, "session_cache", t->session_cache);
	sl_admin_jkv_str(b, "client_ca", t->client_ca.path);
	sl_admin_jkv_str(b, "client_verify",
			 t->client_ca.path == NULL   ? NULL
			 : t->client_verify_optional ? "optional"
						     : "required");
	sl_admin_jkv_str(b, "client_subject_header", t->client_subject_header);
	sb_printf(b, "}");
}

/* A listener's http3 (null when off; doc/http3.md). */
static void
config_http3(struct sbuf *b, const struct sl_conf_http3 *h)
{
	static const char *const retry[] = {"auto", "always", "never"};

	if (!h->enabled) {
		sb_printf(b, ",\"http3\":null");
		return;
	}
	sb_printf(b, ",\"http3\":{\"alt_svc_max_age_ms\":%llu",
		  (unsigned long long)h->alt_svc_max_age_ms);
	sl_admin_jkv_str(b, "retry", retry[h->retry]);
	sl_admin_jkv_u64(b, "retry_threshold", h->retry_threshold);
	sl_admin_jkv_u64(b, "max_connections", h->max_connections);
	sl_admin_jkv_u64(b, "max_handshakes_per_ip", h->max_handshakes_per_ip);
	sb_printf(b, "}");
}

/* ,"key":[...] of a list of ranges as JSON strings ("10.0.0.0/8");
 * an empty list is [] or, with empty_null, null (a list that is off). */
static void
config_cidrs(struct sbuf *b, const char *key, const struct sl_cidr_set *set,
	     int empty_null)
{
	char buf[64];

	if (set->n == 0 && empty_null) {
		sb_printf(b, ",\"%s\":null", key);
		return;
	}
	sb_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; i < set->n; i++)
		sb_printf(b, "%s\"%s\"", i ? "," : "",
			  sl_cidr_str(&set->v[i], buf, sizeof(buf)));
	sb_printf(b, "]");
}

/* identity: a listener's proxy_protocol (null when off), trusted_proxies,
 * client_address_header and untrusted_forwarded. */
static void
config_identity(struct sbuf *b, const struct sl_conf_listener *l)
{
	const struct sl_conf_proxy_protocol *pp = &l->proxy_protocol;

	if (!pp->enabled)
		sb_printf(b, ",\"proxy_protocol\":null");
	else {
		sb_printf(b, ",\"proxy_protocol\":{\"versions\":[%s%s%s]",
			  pp->versions & SL_PP_V1 ? "1" : "",
			  (pp->versions & SL_PP_V1) && (pp->versions & SL_PP_V2)
			      ? ","
			      : "",
			  pp->versions & SL_PP_V2 ? "2" : "");
		config_cidrs(b, "from", &pp->from, 0);
		sb_printf(b, "}");
	}
	config_cidrs(b, "trusted_proxies", &l->trusted_proxies, 0);
	sl_admin_jkv_str(b, "client_address_header",
			 l->client_address_header == SL_CLIENT_HEADER_FORWARDED
			     ? "forwarded"
			     : "x-forwarded-for");
	sl_admin_jkv_str(
	    b, "untrusted_forwarded",
	    l->untrusted_forwarded == SL_UNTRUSTED_STRIP ? "strip" : "append");
	config_modules(b, l->mod, MOD_LISTENER);
}

/* A route's match: every part, null where any value matches. */
static void
config_match(struct sbuf *b, const struct sl_conf *c,
	     const struct sl_conf_route *r)
{
	sb_printf(b, ",\"match\":{\"host\":");
	/* a wildcard's host holds its suffix, ".example.com" */
	sl_admin_jstr2(b, r->host_wildcard ? "*" : "", r->host);
	/* a hosts_file: its path and how many names it held at the load */
	sl_admin_jkv_str(b, "hosts_file", r->hosts ? r->hosts->file : NULL);
	if (r->hosts != NULL)
		sb_printf(b, ",\"hosts\":%zu", r->hosts->n);
	else
		sb_printf(b, ",\"hosts\":null");
	sl_admin_jkv_str(b, "path", r->path_prefix ? NULL : r->path);
	sl_admin_jkv_str(b, "path_prefix", r->path_prefix ? r->path : NULL);
	if (r->methods == NULL)
		sb_printf(b, ",\"methods\":null");
	else {
		sb_printf(b, ",\"methods\":[");
		for (size_t k = 0; k < r->nmethods; k++) {
			sb_printf(b, "%s", k ? "," : "");
			sl_admin_jstr(b, r->methods[k]);
		}
		sb_printf(b, "]");
	}
	if (r->headers == NULL)
		sb_printf(b, ",\"headers\":null}");
	else {
		sb_printf(b, ",\"headers\":{");
		for (size_t k = 0; k < r->nheaders; k++) {
			sb_printf(b, "%s", k ? "," : "");
			sl_admin_jstr(b, r->headers[k].name);
			sb_printf(b, ":");
			config_value(b, r->headers[k].value,
				     sl_hdr_name_secret(
					 r->headers[k].name,
					 strlen(r->headers[k].name),
					 (const char *const *)c->secret_headers,
					 c->nsecret_headers));
		}
		sb_printf(b, "}}");
	}
}

/* A route's timeout and retry policy. */
static void
config_retry(struct sbuf *b, const struct sl_conf_route *r)
{
	static const char *const on[] = {
	    "connect-failure", "reset", "timeout", "502", "503", "504"};
	const struct sl_conf_retry *p = &r->retry;
	int first = 1;

	sb_printf(b, ",\"timeout_ms\":%llu,\"retry\":{\"attempts\":%u,\"on\":[",
		  (unsigned long long)r->timeout_ms, p->attempts);
	for (size_t k = 0; k < SL_NELEM(on); k++)
		if (p->on & (1u << k)) {
			sb_printf(b, "%s\"%s\"", first ? "" : ",", on[k]);
			first = 0;
		}
	sb_printf(b,
		  "],\"idempotency_key\":%s,\"per_try_timeout_ms\":%llu,"
		  "\"budget_percent\":%u}",
		  p->idempotency_key ? "true" : "false",
		  (unsigned long long)(p->per_try_timeout_ms
					   ? p->per_try_timeout_ms
					   : r->timeout_ms),
		  p->budget_percent);
}

/* One direction's header rules, values as written but a credential's
 * (starred); null without any. */
static void
config_hdr_rules(struct sbuf *b, const char *key, const struct sl_hdr_rules *r)
{
	if (r == NULL) {
		sb_printf(b, ",\"%s\":null", key);
		return;
	}
	sb_printf(b, ",\"%s\":{", key);
	for (int add = 0; add < 2; add++) {
		int first = 1;
		sb_printf(b, "%s\"%s\":{", add ? "," : "", add ? "add" : "set");
		for (size_t i = 0; i < r->nfields; i++) {
			if (r->fields[i].add != add)
				continue;
			sb_printf(b, "%s", first ? "" : ",");
			sl_admin_jstr(b, r->fields[i].name);
			sb_printf(b, ":");
			config_value(b, r->fields[i].text, r->fields[i].secret);
			first = 0;
		}
		sb_printf(b, "}");
	}
	sb_printf(b, ",\"remove\":[");
	for (size_t i = 0; i < r->nremove; i++) {
		sb_printf(b, "%s", i ? "," : "");
		sl_admin_jstr(b, r->remove[i].name);
	}
	sb_printf(b, "]}");
}

/* A listener's or a route's allow, deny and header rules. */
static void
config_policy(struct sbuf *b, const struct sl_policy *p)
{
	static const struct sl_cidr_set none;

	config_cidrs(b, "allow", p != NULL ? &p->allow : &none, 1);
	config_cidrs(b, "deny", p != NULL ? &p->deny : &none, 1);
	config_hdr_rules(b, "request_headers", p != NULL ? p->request : NULL);
	config_hdr_rules(b, "response_headers", p != NULL ? p->response : NULL);
}

/* The modules' values of a slot array (a route's, a listener's or the top
 * level's; NULL: none), each at its module's place in the table
 * (core/module.h). */
static void
config_modules(struct sbuf *b, void *const *mod, enum mod_where where)
{
	struct sl_jout o;

	sl_admin_jout(&o, b);
	for (size_t i = 0; i < sl_conf_nmodules; i++) {
		const struct sl_module *m = sl_conf_modules[i];
		void (*print)(const struct sl_jout *, const void *) =
		    where == MOD_TOP	 ? m->top_print
		    : where == MOD_ROUTE ? m->route_print
					 : m->listener_print;
		if (print != NULL)
			print(&o, mod != NULL ? mod[m->slot] : NULL);
	}
}

static void
config_route(struct sbuf *b, const struct sl_conf *c,
	     const struct sl_conf_route *r)
{
	sb_printf(b, "{\"name\":");
	sl_admin_jstr(b, r->name);
	config_match(b, c, r);
	sl_admin_jkv_str(b, "cluster",
			 r->cluster != NULL ? r->cluster->name : NULL);
	if (r->split == NULL)
		sb_printf(b, ",\"split\":null");
	else {
		sb_printf(b, ",\"split\":[");
		for (size_t k = 0; k < r->nsplit; k++) {
			sb_printf(b, "%s{\"cluster\":", k ? "," : "");
			sl_admin_jstr(b, r->split[k].cluster->name);
			sb_printf(b, ",\"weight\":%u", r->split[k].weight);
			if (r->split_held != NULL)
				/* what this gateway sends it now: 0 while a
				 * module (the canary guard) holds it back */
				sb_printf(b, ",\"effective_weight\":%u",
					  sl_route_split_held(r, k)
					      ? 0
					      : r->split[k].weight);
			sb_printf(b, "}");
		}
		sb_printf(b, "]");
	}
	config_modules(b, r->mod, MOD_ROUTE);
	config_key(b, "sticky", &r->sticky);
	sl_admin_jkv_bool(b, "split_failover", r->split_failover);
	sl_admin_jkv_str(b, "expose_cluster_header", r->expose_cluster_header);
	config_retry(b, r);
	config_policy(b, r->policy);
	sl_admin_jkv_u64(b, "max_body_bytes", r->max_body_bytes);
	sb_printf(b, ",\"upgrade\":[");
	for (size_t k = 0; k < r->nupgrade; k++) {
		sb_printf(b, "%s", k ? "," : "");
		sl_admin_jstr(b, r->upgrade[k]);
	}
	sb_printf(b, "]}");
}

/* A cluster's health_check, outlier and tls, each null when not set. */
static void
config_checks(struct sbuf *b, const struct sl_conf_cluster *cl)
{
	const struct sl_conf_health *h = &cl->health;
	const struct sl_conf_outlier *o = &cl->outlier;
	const struct sl_conf_tls_client *t = &cl->tls;

	if (h->enabled) {
		int first = 1;
		sb_printf(b, ",\"health_check\":{\"path\":");
		sl_admin_jstr(b, h->path);
		sb_printf(b,
			  ",\"interval_ms\":%llu,\"timeout_ms\":%llu,"
			  "\"healthy\":%u,\"unhealthy\":%u,"
			  "\"expect_status\":[",
			  (unsigned long long)h->interval_ms,
			  (unsigned long long)h->timeout_ms, h->healthy,
			  h->unhealthy);
		/* as written: a whole class as "2xx", else each status
		 */
		for (int cls = 1; cls <= 5; cls++) {
			int all = 1;
			for (int st = cls * 100; st < cls * 100 + 100; st++)
				all &= sl_health_expected(h->expect, st);
			if (all) {
				sb_printf(b, "%s\"%dxx\"", first ? "" : ",",
					  cls);
				first = 0;
				continue;
			}
			for (int st = cls * 100; st < cls * 100 + 100; st++)
				if (sl_health_expected(h->expect, st)) {
					sb_printf(b, "%s%d", first ? "" : ",",
						  st);
					first = 0;
				}
		}
		sb_printf(b, "]");
		if (h->grpc_service != NULL) {
			sb_printf(b, ",\"grpc_service\":");
			sl_admin_jstr(b, h->grpc_service);
		}
		sb_printf(b, "}");
	} else
		sb_printf(b, ",\"health_check\":null");
	if (o->enabled)
		sb_printf(b,
			  ",\"outlier\":{\"consecutive_errors\":%u,"
			  "\"ejection_time_ms\":%llu,"
			  "\"max_ejected_percent\":%u}",
			  o->consecutive_errors,
			  (unsigned long long)o->ejection_time_ms,
			  o->max_ejected_percent);
	else
		sb_printf(b, ",\"outlier\":null");
	if (!t->enabled) {
		sb_printf(b, ",\"tls\":null");
		return;
	}
	sb_printf(b, ",\"tls\":{\"sni\":");
	sl_admin_jstr(b, t->sni);
	/* the client certificate's file, never its key's */
	sl_admin_jkv_str(b, "ca", t->ca.path != NULL ? t->ca.path : "system");
	sl_admin_jkv_bool(b, "verify", t->verify);
	sl_admin_jkv_str(b, "client_cert", t->cert.path);
	sb_printf(b, ",\"min_version\":\"%s\"}",
		  tls_version_str(t->min_version));
}

/* What health checks and outlier detection say of an endpoint now. */
static void
config_endpoint_state(struct sbuf *b, const struct sl_conf_cluster *cl,
		      const struct sl_conf_endpoint *e)
{
	struct sl_epstate *st = e->state;

	if (cl->health.enabled)
		sb_printf(
		    b,
		    ",\"healthy\":%s,\"checks_ok\":%llu,"
		    "\"checks_failed\":%llu,"
		    "\"last_check\":{\"status\":%d,\"result\":\"%s\"}",
		    atomic_load(&st->unhealthy) ? "false" : "true",
		    (unsigned long long)load(&st->checks_ok),
		    (unsigned long long)load(&st->checks_failed),
		    atomic_load(&st->check_status),
		    load(&st->checks_ok) + load(&st->checks_failed) == 0
			? "none"
			: sl_health_error_str((enum sl_health_error)atomic_load(
			      &st->check_error)));
	if (cl->outlier.enabled) {
		uint64_t until = load(&st->ejected_until_ms), now = sl_now_ms();
		sb_printf(b,
			  ",\"ejected\":%s,\"ejected_ms_left\":%llu,"
			  "\"ejections\":%llu",
			  until > now ? "true" : "false",
			  (unsigned long long)(until > now ? until - now : 0),
			  (unsigned long long)load(&st->ejections));
	}
}

/* A name of cluster cl (doc/fleet.md section 2): as written, what the
 * resolver knows of it, and the endpoints it gives now. */
static void
config_name(struct sbuf *b, const struct sl_admin_view *v,
	    const struct sl_conf_cluster *cl, size_t k)
{
	const struct sl_conf_dns_name *nm = &cl->names[k];
	struct sl_resolver_state st;
	uint64_t now = sl_now_ms();
	int first = 1;

	if (nm->srv) {
		sb_printf(b, "{\"srv\":");
		sl_admin_jstr(b, nm->name);
	} else {
		sb_printf(b, "{\"address\":");
		sl_admin_jstr(b, nm->text);
		sb_printf(b, ",\"weight\":%u", nm->weight);
	}
	if (sl_resolver_state(v->resolver, cl->name, nm->text, &st) == 0) {
		sb_printf(b, ",\"dns\":{\"result\":\"%s\"",
			  st.looked_up ? sl_dns_result_str(st.last) : "none");
		sl_admin_jkv_u64(b, "ttl_s", st.ttl_s);
		if (st.good_ms != 0)
			sl_admin_jkv_u64(b, "answer_age_ms", now - st.good_ms);
		else
			sb_printf(b, ",\"answer_age_ms\":null");
		if (st.stale_since_ms != 0)
			sl_admin_jkv_u64(b, "stale_ms",
					 now - st.stale_since_ms);
		else
			sb_printf(b, ",\"stale_ms\":null");
		sl_admin_jkv_u64(b, "next_lookup_ms",
				 st.next_ms > now ? st.next_ms - now : 0);
		sb_printf(b, "}");
	} else
		sb_printf(b, ",\"dns\":null");
	sb_printf(b, ",\"resolved\":[");
	for (size_t j = cl->nstatic; j < cl->nendpoints; j++) {
		if (cl->endpoints[j].dns_name != nm->text)
			continue;
		sb_printf(b, "%s{\"address\":", first ? "" : ",");
		first = 0;
		sl_admin_jstr(b, cl->endpoints[j].addr.text);
		sb_printf(b, ",\"weight\":%u", cl->endpoints[j].weight);
		config_endpoint_state(b, cl, &cl->endpoints[j]);
		sb_printf(b, "}");
	}
	sb_printf(b, "]}");
}

static void
config_cluster(struct sbuf *b, const struct sl_admin_view *v,
	       const struct sl_conf_cluster *cl)
{
	static const char *const balance[] = {"round_robin", "least_request",
					      "hash"};

	sb_printf(b, "{\"name\":");
	sl_admin_jstr(b, cl->name);
	sb_printf(b, ",\"balance\":\"%s\"",
		  (unsigned)cl->balance < SL_NELEM(balance)
		      ? balance[cl->balance]
		      : "?");
	if (cl->balance == SL_BALANCE_HASH)
		config_key(b, "hash_key", &cl->hash_key);
	else
		sl_admin_jkv_str(b, "hash_key", NULL);
	sl_admin_jkv_u64(b, "connect_timeout_ms", cl->connect_timeout_ms);
	sb_printf(b, ",\"pool\":{\"max_idle\":%llu",
		  (unsigned long long)cl->pool_max_idle);
	sl_admin_jkv_u64(b, "idle_timeout_ms", cl->pool_idle_timeout_ms);
	sl_admin_jkv_u64(b, "max_requests", cl->pool_max_requests);
	sl_admin_jkv_u64(b, "max_lifetime_ms", cl->pool_max_lifetime_ms);
	sb_printf(b, "}");
	sl_admin_jkv_u64(b, "max_connections", cl->max_connections);
	sl_admin_jkv_u64(b, "max_pending", cl->max_pending);
	sl_admin_jkv_u64(b, "queue_timeout_ms", cl->queue_timeout_ms);
	config_checks(b, cl);
	sl_admin_jkv_str(b, "proxy_protocol",
			 cl->proxy_protocol ? "v2" : "off");
	{
		static const char *const proto[] = {"http1", "h2c", "h2"};
		sl_admin_jkv_str(b, "protocol", proto[cl->protocol]);
		sl_admin_jkv_u64(b, "max_concurrent_streams",
				 cl->max_concurrent_streams);
		sl_admin_jkv_u64(b, "ping_interval_ms", cl->ping_interval_ms);
	}
	if (cl->nnames > 0) {
		static const char *const fam[] = {"any", "ipv4", "ipv6"};
		sb_printf(b, ",\"dns\":{\"family\":\"%s\"",
			  fam[cl->dns_family]);
		sl_admin_jkv_u64(b, "min_ttl_ms", cl->dns_min_ttl_ms);
		sl_admin_jkv_u64(b, "max_ttl_ms", cl->dns_max_ttl_ms);
		sl_admin_jkv_u64(b, "keep_stale_ms", cl->dns_keep_stale_ms);
		sb_printf(b, "}");
	} else
		sb_printf(b, ",\"dns\":null");
	/* as written: the addresses, then the names with what they resolve
	 * to now */
	sb_printf(b, ",\"endpoints\":[");
	for (size_t j = 0; j < cl->nstatic; j++) {
		sb_printf(b, "%s{\"address\":", j ? "," : "");
		sl_admin_jstr(b, cl->endpoints[j].addr.text);
		sb_printf(b, ",\"weight\":%u", cl->endpoints[j].weight);
		config_endpoint_state(b, cl, &cl->endpoints[j]);
		sb_printf(b, "}");
	}
	for (size_t k = 0; k < cl->nnames; k++) {
		sb_printf(b, "%s", cl->nstatic + k ? "," : "");
		config_name(b, v, cl, k);
	}
	sb_printf(b, "]}");
}

/* The top of /config: every key before the listeners. */
static void
config_top(const struct sl_admin_view *v, const struct sl_conf *c,
	   struct sbuf *b)
{
	static const char *const level[] = {"error", "warn", "info", "debug"};
	static const char *const query[] = {"names", "full", "off"};
	char when[32] = "";
	struct tm tm;

	sb_printf(b, "{\"generation\":%llu,\"path\":",
		  (unsigned long long)c->generation);
	sl_admin_jstr(b, c->path ? c->path : "");
	if (c->loaded_at != 0 && gmtime_r(&c->loaded_at, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	sb_printf(b, ",\"sha256\":\"%s\",\"loaded_at\":\"%s\"", c->sha256,
		  when);
	sb_printf(b, ",\"workers\":%u", v->nworkers);
	if (v->run_admin != NULL) {
		const struct sl_admin_auth *au = &c->admin_auth;
		sb_printf(b, ",\"admin\":{\"address\":");
		sl_admin_jstr(b, v->run_admin);
		/* the files' names, never what they hold; a file without
		 * "admin" keeps the running listener's (doc/dashboard.md) */
		if (!c->has_admin && (au->has_token || au->has_basic))
			sb_printf(b, ",\"auth\":{\"kept\":true}");
		else if (au->token_file.path != NULL ||
			 au->basic_file.path != NULL) {
			sb_printf(b, ",\"auth\":{\"token_file\":");
			sl_admin_jstr(b, au->token_file.path);
			sl_admin_jkv_str(b, "basic_file", au->basic_file.path);
			sb_printf(b, "}");
		} else
			sb_printf(b, ",\"auth\":null");
		sb_printf(b, ",\"hosts\":[");
		if (au->hosts_any)
			sl_admin_jstr(b, "*");
		for (const char *p = au->hosts; p != NULL && *p != '\0';
		     p += strlen(p) + 1) {
			sb_printf(b, "%s",
				  p != au->hosts || au->hosts_any ? "," : "");
			sl_admin_jstr(b, p);
		}
		sb_printf(b, "]");
		/* the file's choice, and what /metrics does with it */
		sb_printf(b, ",\"route_metrics\":\"%s\"",
			  c->route_metrics == SL_ROUTE_METRICS_ON    ? "on"
			  : c->route_metrics == SL_ROUTE_METRICS_OFF ? "off"
								     : "auto");
		sl_admin_jkv_bool(b, "route_series", sl_admin_route_series(c));
		if (!c->has_admin && c->admin_tls.ctx != NULL)
			sb_printf(b, ",\"tls\":{\"kept\":true}");
		else
			config_tls_server(b, &c->admin_tls);
		sb_printf(b, "}");
	} else
		sb_printf(b, ",\"admin\":null");
	sb_printf(b, ",\"log\":{\"level\":\"%s\"",
		  (unsigned)c->log_level < SL_NELEM(level) ? level[c->log_level]
							   : "?");
	sl_admin_jkv_str(b, "access",
			 v->run_access != NULL ? v->run_access : c->access_log);
	sb_printf(b, ",\"access_format\":\"%s\"",
		  c->access_format == SL_ACCESS_COMBINED ? "combined" : "json");
	sb_printf(b, ",\"query\":\"%s\"",
		  (unsigned)c->log_query < SL_NELEM(query) ? query[c->log_query]
							   : "?");
	sl_admin_jkv_bool(b, "mask_card_numbers", c->log_cards);
	sb_printf(b, "}");
	sl_admin_jkv_u64(b, "drain_timeout_ms", c->drain_timeout_ms);
	/* a fleet (doc/fleet.md) */
	sb_printf(b, ",\"resolver\":{\"nameservers\":");
	if (c->nnameservers == 0)
		sb_printf(b, "\"/etc/resolv.conf\"");
	else {
		sb_printf(b, "[");
		for (size_t i = 0; i < c->nnameservers; i++) {
			sb_printf(b, "%s", i ? "," : "");
			sl_admin_jstr(b, c->nameservers[i].text);
		}
		sb_printf(b, "]");
	}
	sl_admin_jkv_u64(b, "timeout_ms", c->dns_timeout_ms);
	sl_admin_jkv_u64(b, "attempts", c->dns_attempts);
	sb_printf(b, "}");
	sb_printf(b, ",\"secret_headers\":[");
	for (size_t i = 0; i < c->nsecret_headers; i++) {
		sb_printf(b, "%s", i ? "," : "");
		sl_admin_jstr(b, c->secret_headers[i]);
	}
	sb_printf(b, "]");
	sl_admin_jkv_bool(b, "watch", c->watch);
	sl_admin_jkv_u64(b, "watch_debounce_ms", c->watch_debounce_ms);
	config_modules(b, c->mod, MOD_TOP);
	sb_printf(b, ",\"listeners\":[");
}

/* A listener's keys, up to its routes. */
static void
config_listener(const struct sl_conf_listener *l, size_t i, struct sbuf *b)
{
	{
		sb_printf(b, "%s{\"name\":", i ? "," : "");
		sl_admin_jstr(b, l->name);
		sl_admin_jkv_str(b, "address", l->addr.text);
		/* in the order of preference */
		sb_printf(b, ",\"protocols\":[%s%s%s]",
			  (l->protocols & SL_PROTO_H2) ? "\"h2\"" : "",
			  (l->protocols & SL_PROTO_H2) &&
				  (l->protocols & SL_PROTO_HTTP1)
			      ? ","
			      : "",
			  (l->protocols & SL_PROTO_HTTP1) ? "\"http/1.1\""
							  : "");
		config_limits(b, &l->limits);
		config_tls_server(b, &l->tls);
		config_http3(b, &l->http3);
		config_policy(b, l->policy);
		config_identity(b, l);
		sb_printf(b, ",\"routes\":[");
	}
}

/*
 * /config is written a piece at a time (doc/dashboard.md): the top, then
 * each listener's keys, its routes and its clusters by the batch of
 * about CONFIG_PIECE bytes, so that a generation of 100,000 routes is
 * never one buffer of its whole text.
 */
#define CONFIG_PIECE 65536

enum { CUR_TOP = 0, CUR_LISTENER, CUR_ROUTES, CUR_CLUSTERS, CUR_DONE };

int
sl_admin_config_piece(const struct sl_admin_view *v, const struct sl_conf *c,
		      struct sl_admin_config_cursor *cur, struct sbuf *b)
{
	size_t start = b->len;

	while (cur->phase != CUR_DONE && b->len - start < CONFIG_PIECE &&
	       !b->failed) {
		switch (cur->phase) {
		case CUR_TOP:
			config_top(v, c, b);
			cur->phase = CUR_LISTENER;
			cur->i = 0;
			break;
		case CUR_LISTENER:
			if (cur->i == c->nlisteners) {
				sb_printf(b, "],\"clusters\":[");
				cur->phase = CUR_CLUSTERS;
				cur->i = 0;
				break;
			}
			config_listener(&c->listeners[cur->i], cur->i, b);
			cur->phase = CUR_ROUTES;
			cur->j = 0;
			break;
		case CUR_ROUTES: {
			const struct sl_conf_listener *l =
			    &c->listeners[cur->i];
			if (cur->j == l->nroutes) {
				sb_printf(b, "]}");
				cur->phase = CUR_LISTENER;
				cur->i++;
				break;
			}
			sb_printf(b, "%s", cur->j ? "," : "");
			config_route(b, c, &l->routes[cur->j++]);
			break;
		}
		case CUR_CLUSTERS:
			if (cur->i == c->nclusters) {
				sb_printf(b, "]}\n");
				cur->phase = CUR_DONE;
				break;
			}
			sb_printf(b, "%s", cur->i ? "," : "");
			config_cluster(b, v, &c->clusters[cur->i++]);
			break;
		}
	}
	return cur->phase == CUR_DONE;
}

void
sl_admin_page_config(const struct sl_admin_view *v, struct sbuf *b)
{
	struct sl_admin_config_cursor cur = {0};

	while (!sl_admin_config_piece(v, v->conf, &cur, b) && !b->failed)
		;
}
