/* SPDX-License-Identifier: MIT */
/*
 * The edge keys of the sluice schema (doc/edge.md): who the client is
 * (proxy_protocol, trusted_proxies), what a listener or route lets in and
 * rewrites (allow, deny, header rules, a route's max_body_bytes); the
 * rate limits are a module (conf_rl.c). Called by conf.c while it walks a
 * listener, route, cluster or the top level; like conf.c it reads the
 * node tree and nothing else.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cidr.h"
#include "conf.h"
#include "conf_int.h"
#include "conf_yaml.h"
#include "hdrrule.h"
#include "policy.h"
#include "proxyproto.h"
#include "util.h"

/* ---- identity: PROXY protocol and trusted proxies ---------------------- */

static const char *const client_header_names[] = {"x-forwarded-for",
						  "forwarded", NULL};
static const char *const untrusted_names[] = {"append", "strip", NULL};
static const char *const cluster_pp_names[] = {"off", "v2", NULL};

/*
 * A list of addresses and CIDR ranges into set ("10.0.0.0/8",
 * "192.0.2.10", "2001:db8::/32"); empty_ok says whether [] is allowed.
 * Every bad item is reported.
 */
static void
parse_cidr_list(struct sl_yaml_loader *ld, const char *lbl, const char *key,
		const struct sl_yaml_node *seq, int empty_ok,
		struct sl_cidr_set *set, unsigned **lines)
{
	char why[128];

	if (sl_yaml_get_seq(ld, key, seq) == -1)
		return;
	if (seq->nkids == 0) {
		if (!empty_ok)
			sl_yaml_err_lacks(
			    ld, seq, "%s: \"%s\" must not be empty", lbl, key);
		return;
	}
	if ((set->v = calloc(seq->nkids, sizeof(*set->v))) == NULL ||
	    (lines != NULL &&
	     (*lines = calloc(seq->nkids, sizeof(**lines))) == NULL)) {
		ld->oom = 1;
		return;
	}
	for (size_t i = 0; i < seq->nkids; i++) {
		const struct sl_yaml_node *n = seq->kids[i];
		if (n->type == SL_YAML_NODE_BAD)
			continue;
		if (!sl_yaml_is_string(n)) {
			sl_yaml_err_node(ld, n,
					 "\"%s\": expected an address or a "
					 "range such as 10.0.0.0/8",
					 key);
			continue;
		}
		if (sl_cidr_parse(n->str, &set->v[set->n], why, sizeof(why)) ==
		    -1) {
			sl_yaml_err_node(ld, n, "\"%s\": \"%s\": %s", key,
					 sl_yaml_qnode(ld, n), why);
			continue;
		}
		if (lines != NULL)
			(*lines)[set->n] = n->line;
		set->n++;
	}
}

/* proxy_protocol: { from: [...], versions: [1, 2] } */
static void
parse_proxy_protocol(struct sl_yaml_loader *ld, const char *lbl,
		     const struct sl_yaml_node *map,
		     struct sl_conf_proxy_protocol *pp)
{
	const struct sl_yaml_node *v;

	if (sl_yaml_get_map(ld, "proxy_protocol", map) == -1)
		return;
	pp->enabled = 1;
	pp->versions = SL_PP_V1 | SL_PP_V2;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_PROXY_PROTOCOL);
	if ((v = sl_yaml_map_get(map, "from", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map,
				  "%s: \"proxy_protocol\": missing key "
				  "\"from\" (the balancers' addresses)",
				  lbl);
	else
		parse_cidr_list(ld, lbl, "from", v, 0, &pp->from, NULL);
	if ((v = sl_yaml_map_get(map, "versions", NULL)) == NULL ||
	    sl_yaml_get_seq(ld, "versions", v) == -1)
		return;
	if (v->nkids == 0) {
		sl_yaml_err_lacks(ld, v, "%s: \"versions\" must not be empty",
				  lbl);
		return;
	}
	pp->versions = 0;
	for (size_t i = 0; i < v->nkids; i++) {
		const struct sl_yaml_node *n = v->kids[i];
		if (n->type == SL_YAML_NODE_BAD)
			continue;
		if (n->type == SL_YAML_NODE_SCALAR && n->plain &&
		    (strcmp(n->str, "1") == 0 || strcmp(n->str, "2") == 0)) {
			pp->versions |= n->str[0] == '1' ? SL_PP_V1 : SL_PP_V2;
			continue;
		}
		sl_yaml_err_node(ld, n,
				 "\"versions\": expected 1 or 2 (PROXY "
				 "protocol versions), not \"%s\"",
				 sl_yaml_qnode(ld, n));
	}
	if (pp->versions == 0)
		pp->versions = SL_PP_V1 | SL_PP_V2; /* reported above */
}

/* A listener's proxy_protocol, trusted_proxies, client_address_header and
 * untrusted_forwarded. */
void
sl_conf_parse_identity(struct sl_yaml_loader *ld, const char *lbl,
		       const struct sl_yaml_node *map,
		       struct sl_conf_listener *l)
{
	const struct sl_yaml_node *v;
	int e;

	if ((v = sl_yaml_map_get(map, "proxy_protocol", NULL)) != NULL)
		parse_proxy_protocol(ld, lbl, v, &l->proxy_protocol);
	if ((v = sl_yaml_map_get(map, "trusted_proxies", NULL)) != NULL)
		parse_cidr_list(ld, lbl, "trusted_proxies", v, 1,
				&l->trusted_proxies, NULL);
	if ((v = sl_yaml_map_get(map, "client_address_header", NULL)) != NULL &&
	    (e = sl_yaml_get_enum(ld, "client_address_header", v,
				  client_header_names,
				  "x-forwarded-for or forwarded")) >= 0)
		l->client_address_header = (enum sl_client_header)e;
	if ((v = sl_yaml_map_get(map, "untrusted_forwarded", NULL)) != NULL &&
	    (e = sl_yaml_get_enum(ld, "untrusted_forwarded", v, untrusted_names,
				  "append or strip")) >= 0)
		l->untrusted_forwarded = (enum sl_untrusted_forwarded)e;
}

/* A cluster's proxy_protocol: off | v2. */
void
sl_conf_parse_cluster_identity(struct sl_yaml_loader *ld,
			       const struct sl_yaml_node *map,
			       struct sl_conf_cluster *cl)
{
	const struct sl_yaml_node *v;
	int e;

	if ((v = sl_yaml_map_get(map, "proxy_protocol", NULL)) != NULL &&
	    (e = sl_yaml_get_enum(ld, "proxy_protocol", v, cluster_pp_names,
				  "off or v2")) >= 0)
		cl->proxy_protocol = e == 1 ? 2 : 0;
}

void
sl_conf_free_identity(struct sl_conf_listener *l)
{
	free(l->proxy_protocol.from.v);
	free(l->trusted_proxies.v);
}

/* ---- edge policy: allow, deny, header rules (doc/edge.md 4, 5) ---------- */

/* A body limit a route did not set: its listener's, filled in once the
 * listener's routes are read (sl_conf_check_listener_policy). */
#define ROUTE_BODY_UNSET UINT64_MAX

/* The policy *pp, made on first use (NULL with ld->oom set). */
static struct sl_policy *
policy_of(struct sl_yaml_loader *ld, struct sl_policy **pp)
{
	if (*pp == NULL && (*pp = calloc(1, sizeof(**pp))) == NULL)
		ld->oom = 1;
	return *pp;
}

/* allow: or deny: a list of ranges (parse_cidr_list; allow not empty),
 * and the rule the log names when one refuses a request. */
static void
parse_cidrs(struct sl_yaml_loader *ld, const struct sl_yaml_node *keyn,
	    const struct sl_yaml_node *seq, struct sl_policy *p)
{
	const char *key = keyn->str;
	int deny = strcmp(key, "deny") == 0;
	struct sl_cidr_set *set = deny ? &p->deny : &p->allow;
	char rule[SL_YAML_LABEL_MAX + 96], c[64];
	unsigned *lines = NULL;

	if (!deny && seq->type == SL_YAML_NODE_SEQ && seq->nkids == 0) {
		/* it would refuse everybody: a mistake more often than not */
		sl_yaml_err_lacks(ld, seq,
				  "\"allow\": must not be empty (to refuse "
				  "every client, deny [0.0.0.0/0, ::/0])");
		return;
	}
	parse_cidr_list(ld, key, key, seq, 1, set, deny ? &lines : NULL);
	if (deny && set->n > 0) {
		if ((p->deny_rules = calloc(set->n, sizeof(char *))) == NULL) {
			ld->oom = 1;
			free(lines);
			return;
		}
		for (size_t i = 0; i < set->n; i++) {
			snprintf(rule, sizeof(rule), "deny %s (%s:%u)",
				 sl_cidr_str(&set->v[i], c, sizeof(c)),
				 ld->name, lines[i]);
			if ((p->deny_rules[i] = sl_yaml_strdup(ld, rule)) ==
			    NULL)
				break;
		}
	}
	free(lines);
	if (!deny) {
		snprintf(rule, sizeof(rule), "not in allow (%s:%u)", ld->name,
			 keyn->line);
		p->allow_rule = sl_yaml_strdup(ld, rule);
	}
}

int
sl_conf_secret_header(const struct sl_conf *conf, const char *name, size_t len)
{
	return sl_hdr_name_secret(name, len,
				  (const char *const *)conf->secret_headers,
				  conf->nsecret_headers);
}

const char *
sl_conf_qstarred(struct sl_yaml_loader *ld, size_t len)
{
	char stars[SL_YAML_QUOTE_MAX + 1];

	return sl_yaml_qstr(ld, sl_hdr_starred(stars, sizeof(stars), len));
}

const char *
sl_conf_value_flaw(const char *v, size_t len, char *buf, size_t bufsz)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(buf, bufsz, "a control character at byte %zu",
				 i + 1);
			return buf;
		}
	}
	if (len > 0 && (v[0] == ' ' || v[0] == '\t'))
		return "a blank at its start";
	if (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		return "a blank at its end";
	return NULL;
}

/*
 * The message for a value sl_hdr_rules_field refused. A credential's
 * value (secret) is never quoted, not even the part in error: it is shown
 * starred with its length, and the flaw said with its place.
 */
static void
header_value_error(struct sl_yaml_loader *ld, const char *key,
		   const struct sl_yaml_node *k, const struct sl_yaml_node *v,
		   int secret, enum sl_hdr_err e, size_t off, size_t elen)
{
	char var[SL_YAML_QUOTE_MAX + 1], mean[SL_YAML_LABEL_MAX] = "";
	char flaw[64];
	const char *best = NULL, *why;
	unsigned bestd = 0;

	switch (e) {
	case SL_HDR_E_VAR:
		if (secret) {
			sl_yaml_err_node(
			    ld, v,
			    "\"%s\": unknown variable at byte %zu of the "
			    "value of \"%s\" (a credential's value, "
			    "not shown; known: client_ip, request_id, "
			    "route, cluster, tls_version, "
			    "tls_client_subject)",
			    key, off + 1, sl_yaml_qnode(ld, k));
			break;
		}
		/* "${name}": the name without its braces */
		snprintf(var, sizeof(var), "%.*s",
			 (int)SL_MIN(elen - 3, SL_YAML_QUOTE_MAX),
			 v->str + off + 2);
		for (int i = 0; sl_hdr_var_name(i) != NULL; i++)
			sl_yaml_suggest(var, sl_hdr_var_name(i), &best, &bestd);
		if (best != NULL)
			snprintf(mean, sizeof(mean),
				 " (did you mean \"${%s}\"?)", best);
		else
			snprintf(mean, sizeof(mean),
				 " (known: client_ip, request_id, route, "
				 "cluster, tls_version, tls_client_subject)");
		sl_yaml_err_node(ld, v,
				 "\"%s\": unknown variable \"${%s}\" in the "
				 "value of \"%s\"%s",
				 key, sl_yaml_qstr(ld, var),
				 sl_yaml_qnode(ld, k), mean);
		break;
	case SL_HDR_E_OPEN:
		sl_yaml_err_node(ld, v,
				 "\"%s\": \"${\" without \"}\" in the value "
				 "of \"%s\"",
				 key, sl_yaml_qnode(ld, k));
		break;
	case SL_HDR_E_DOLLAR:
		sl_yaml_err_node(ld, v,
				 "\"%s\": a lone \"$\" in the value of \"%s\" "
				 "(\"$$\" is a dollar sign, \"${NAME}\" a "
				 "variable)",
				 key, sl_yaml_qnode(ld, k));
		break;
	case SL_HDR_E_NOMEM:
		ld->oom = 1;
		break;
	default:
		if (secret) {
			/* the flaw sl_hdr_rules_field found, by its place */
			snprintf(flaw, sizeof(flaw),
				 "a control character at byte %zu", off + 1);
			why = e == SL_HDR_E_CTL	    ? flaw
			      : e != SL_HDR_E_BLANK ? NULL
			      : off == 0	    ? "a blank at its start"
						    : "a blank at its end";
			sl_yaml_err_node(
			    ld, v,
			    "\"%s\": invalid value \"%s\" for \"%s\" (a "
			    "credential's value, %zu bytes, shown starred): "
			    "%s (no control characters, no leading or "
			    "trailing blanks)",
			    key, sl_conf_qstarred(ld, v->len),
			    sl_yaml_qnode(ld, k), v->len,
			    why != NULL ? why : "a byte not allowed");
			break;
		}
		sl_yaml_err_node(ld, v,
				 "\"%s\": invalid value \"%s\" for \"%s\" (no "
				 "control characters, no leading or trailing "
				 "blanks)",
				 key, sl_yaml_qnode(ld, v),
				 sl_yaml_qnode(ld, k));
		break;
	}
}

/* A name a header rule names: a token that rules may touch; reported at
 * n. Returns 0 when usable. */
static int
header_rule_name(struct sl_yaml_loader *ld, const char *key,
		 const struct sl_yaml_node *n, int request)
{
	const char *why;

	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	if (!sl_yaml_is_string(n)) {
		sl_yaml_err_node(ld, n, "\"%s\": expected a header name", key);
		return -1;
	}
	if (!sl_conf_is_token(n->str, n->len)) {
		sl_yaml_err_node(ld, n, "\"%s\": invalid header name \"%s\"",
				 key, sl_yaml_qnode(ld, n));
		return -1;
	}
	if ((why = sl_hdr_name_refused(n->str, n->len, request)) != NULL) {
		sl_yaml_err_node(ld, n,
				 "\"%s\": \"%s\" %s: no rule may touch it", key,
				 sl_yaml_qnode(ld, n), why);
		return -1;
	}
	return 0;
}

/* set: or add: { NAME: VALUE, ... } of one set of header rules. */
static void
parse_header_fields(struct sl_yaml_loader *ld, const char *key, int add,
		    const struct sl_yaml_node *map, int request,
		    const struct sl_conf *conf, struct sl_hdr_rules *r)
{
	if (sl_yaml_get_map(ld, add ? "add" : "set", map) == -1)
		return;
	for (size_t i = 0; i + 1 < map->nkids; i += 2) {
		const struct sl_yaml_node *k = map->kids[i],
					  *v = map->kids[i + 1];
		size_t off, elen;
		enum sl_hdr_err e;
		int bad = header_rule_name(ld, key, k, request);

		if (v->type == SL_YAML_NODE_BAD)
			continue;
		if (!sl_yaml_is_string(v)) {
			sl_yaml_err_node(ld, v,
					 "\"%s\": the value of \"%s\" must be "
					 "a string",
					 key,
					 k->type == SL_YAML_NODE_SCALAR
					     ? sl_yaml_qnode(ld, k)
					     : "");
			continue;
		}
		if (bad)
			continue;
		e = sl_hdr_rules_field(r, k->str, v->str, v->len, add, k->line,
				       k->col, &off, &elen);
		if (e == SL_HDR_E_DUP)
			sl_yaml_err_node(ld, k, "\"%s\": %s names \"%s\" twice",
					 key, add ? "add" : "set",
					 sl_yaml_qnode(ld, k));
		else if (e != SL_HDR_E_OK)
			header_value_error(
			    ld, key, k, v,
			    sl_conf_secret_header(conf, k->str, k->len), e, off,
			    elen);
	}
}

/* request_headers: or response_headers: { set, add, remove }. */
static void
parse_header_rules(struct sl_yaml_loader *ld, const char *key,
		   const struct sl_yaml_node *map, enum sl_conf_section sec,
		   const struct sl_conf *conf, struct sl_hdr_rules **out)
{
	int request = strcmp(key, "request_headers") == 0;
	const struct sl_yaml_node *v;
	struct sl_hdr_rules *r;

	if (sl_yaml_get_map(ld, key, map) == -1)
		return;
	sl_conf_check_keys(ld, map, sec);
	if ((r = *out = sl_hdr_rules_new()) == NULL) {
		ld->oom = 1;
		return;
	}
	/* the file's credentials besides the built-in ones: their
	 * fields are marked, so that /config stars their values */
	r->secret_names = (const char *const *)conf->secret_headers;
	r->nsecret_names = conf->nsecret_headers;
	if ((v = sl_yaml_map_get(map, "remove", NULL)) != NULL &&
	    sl_yaml_get_seq(ld, "remove", v) == 0)
		for (size_t i = 0; i < v->nkids; i++) {
			const struct sl_yaml_node *n = v->kids[i];
			enum sl_hdr_err e;

			if (header_rule_name(ld, key, n, request) == -1)
				continue;
			e = sl_hdr_rules_remove(r, n->str, n->line, n->col);
			if (e == SL_HDR_E_DUP)
				sl_yaml_err_node(ld, n,
						 "\"%s\": remove names \"%s\" "
						 "twice",
						 key, sl_yaml_qnode(ld, n));
			else if (e == SL_HDR_E_NOMEM)
				ld->oom = 1;
		}
	if ((v = sl_yaml_map_get(map, "set", NULL)) != NULL)
		parse_header_fields(ld, key, 0, v, request, conf, r);
	if ((v = sl_yaml_map_get(map, "add", NULL)) != NULL)
		parse_header_fields(ld, key, 1, v, request, conf, r);
}

/* allow, deny, request_headers and response_headers of a listener or a
 * route (the mapping map); *pp stays NULL when none is written. */
void
sl_conf_parse_policy(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		     enum sl_conf_section headers, const struct sl_conf *conf,
		     struct sl_policy **pp)
{
	static const char *const keys[] = {"allow", "deny", "request_headers",
					   "response_headers"};
	const struct sl_yaml_node *v, *k;
	struct sl_policy *p;

	for (size_t i = 0; i < SL_NELEM(keys); i++) {
		if ((v = sl_yaml_map_get(map, keys[i], &k)) == NULL ||
		    (p = policy_of(ld, pp)) == NULL)
			continue;
		if (i < 2)
			parse_cidrs(ld, k, v, p);
		else
			parse_header_rules(ld, keys[i], v, headers, conf,
					   i == 2 ? &p->request : &p->response);
	}
}

/* Reports each rule of r that names name (a field sluice writes, which
 * whose says). */
static void
check_own_name(struct sl_yaml_loader *ld, const char *key,
	       const struct sl_hdr_rules *r, const char *name,
	       const char *whose)
{
	if (r == NULL || name == NULL)
		return;
	for (size_t i = 0; i < r->nremove; i++)
		if (strcasecmp(r->remove[i].name, name) == 0)
			sl_yaml_err_at(ld, r->remove[i].line, r->remove[i].col,
				       "\"%s\": \"%s\" is %s: no rule may "
				       "touch it",
				       key, sl_yaml_qstr(ld, r->remove[i].name),
				       whose);
	for (size_t i = 0; i < r->nfields; i++)
		if (strcasecmp(r->fields[i].name, name) == 0)
			sl_yaml_err_at(ld, r->fields[i].line, r->fields[i].col,
				       "\"%s\": \"%s\" is %s: no rule may "
				       "touch it",
				       key, sl_yaml_qstr(ld, r->fields[i].name),
				       whose);
}

/* A route's allow, deny, header rules and max_body_bytes. */
void
sl_conf_parse_route_policy(struct sl_yaml_loader *ld, const char *lbl,
			   const struct sl_yaml_node *map,
			   const struct sl_conf *conf, struct sl_conf_route *r)
{
	const struct sl_yaml_node *v;
	char whose[SL_YAML_LABEL_MAX + 32];

	r->max_body_bytes = ROUTE_BODY_UNSET;
	if ((v = sl_yaml_map_get(map, "max_body_bytes", NULL)) != NULL &&
	    sl_yaml_get_size(ld, "max_body_bytes", v, 0, UINT64_MAX - 1,
			     &r->max_body_bytes) == -1)
		r->max_body_bytes = ROUTE_BODY_UNSET;
	sl_conf_parse_policy(ld, map, SL_CONF_SEC_ROUTE_HEADERS, conf,
			     &r->policy);
	snprintf(whose, sizeof(whose), "%s's expose_cluster_header", lbl);
	if (r->policy != NULL)
		check_own_name(ld, "response_headers", r->policy->response,
			       r->expose_cluster_header, whose);
}

/* Whether rules r name field name (set:, add: or remove:). */
static int
rules_name(const struct sl_hdr_rules *r, const char *name)
{
	for (size_t i = 0; r != NULL && i < r->nremove; i++)
		if (strcasecmp(r->remove[i].name, name) == 0)
			return 1;
	for (size_t i = 0; r != NULL && i < r->nfields; i++)
		if (strcasecmp(r->fields[i].name, name) == 0)
			return 1;
	return 0;
}

/*
 * A listener with http3 advertises it on every response (RFC 7838):
 * Alt-Svc: h3=":PORT"; ma=SECONDS, a response_headers set: of its own,
 * unless alt_svc_max_age is 0 or the listener's response_headers name
 * Alt-Svc already (the operator's word wins: another port, behind a
 * balancer that maps it). Its wire is written with the listener's other
 * fields, by one copy.
 */
static void
alt_svc(struct sl_yaml_loader *ld, struct sl_conf_listener *l)
{
	struct sl_policy *p;
	char v[64];
	size_t off, elen;
	int n;

	if (!l->http3.enabled || l->http3.alt_svc_max_age_ms == 0 ||
	    (l->policy != NULL && rules_name(l->policy->response, "alt-svc")))
		return;
	if ((p = policy_of(ld, &l->policy)) == NULL ||
	    (p->response == NULL &&
	     (p->response = sl_hdr_rules_new()) == NULL)) {
		ld->oom = 1;
		return;
	}
	n = snprintf(v, sizeof(v), "h3=\":%u\"; ma=%llu",
		     (unsigned)sl_conf_sockaddr_port(&l->addr.ss),
		     (unsigned long long)(l->http3.alt_svc_max_age_ms / 1000));
	if (sl_hdr_rules_field(p->response, "Alt-Svc", v, (size_t)n, 0,
			       l->http3.pos.line, l->http3.pos.col, &off,
			       &elen) == SL_HDR_E_NOMEM)
		ld->oom = 1;
}

/*
 * A listener's policy (sl_conf_parse_policy) with its routes: no rule of the
 * listener or of a route may name the listener's client_subject_header,
 * nor a listener's response rule a route's expose_cluster_header; a route
 * without max_body_bytes takes the listener's.
 */
void
sl_conf_check_listener_policy(struct sl_yaml_loader *ld,
			      struct sl_conf_listener *l)
{
	const char *subject = l->tls.client_subject_header;
	const struct sl_hdr_rules *lq = NULL, *ls = NULL;
	char whose[SL_YAML_LABEL_MAX + 32];

	alt_svc(ld, l);
	if (l->policy != NULL)
		check_own_name(ld, "request_headers", l->policy->request,
			       subject, "the listener's client_subject_header");
	l->wants_subject =
	    sl_policy_uses(l->policy, SL_HDR_V_TLS_CLIENT_SUBJECT);
	/* the rules each message meets, put together once */
	if (l->policy != NULL) {
		lq = l->policy->request;
		ls = l->policy->response;
		l->policy->rules[0] =
		    sl_hdr_apply_set(&l->policy->apply[0], lq, NULL);
		l->policy->rules[1] =
		    sl_hdr_apply_set(&l->policy->apply[1], ls, NULL);
	}
	for (size_t i = 0; i < l->nroutes; i++) {
		struct sl_conf_route *r = &l->routes[i];
		struct sl_policy *p = r->policy;

		if ((lq != NULL || ls != NULL ||
		     (p != NULL &&
		      (p->request != NULL || p->response != NULL))) &&
		    (p = policy_of(ld, &r->policy)) != NULL) {
			p->rules[0] =
			    sl_hdr_apply_set(&p->apply[0], lq, p->request);
			p->rules[1] =
			    sl_hdr_apply_set(&p->apply[1], ls, p->response);
		}

		if (r->max_body_bytes == ROUTE_BODY_UNSET)
			r->max_body_bytes = l->limits.max_body_bytes;
		if (r->policy != NULL)
			check_own_name(ld, "request_headers",
				       r->policy->request, subject,
				       "the listener's client_subject_header");
		if (l->policy != NULL && r->expose_cluster_header != NULL) {
			snprintf(whose, sizeof(whose),
				 "route \"%s\"'s expose_cluster_header",
				 r->name != NULL ? r->name : "?");
			check_own_name(ld, "response_headers",
				       l->policy->response,
				       r->expose_cluster_header, whose);
		}
		if (sl_policy_uses(r->policy, SL_HDR_V_TLS_CLIENT_SUBJECT))
			l->wants_subject = 1;
		/* (a module may want it too: the idempotency store's
		 * settle, conf_idem.c) */
	}
}
