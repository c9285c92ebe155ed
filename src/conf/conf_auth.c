/* SPDX-License-Identifier: MIT */
/*
 * The auth module (conf_auth.h): a route's auth: (doc/auth.md), the JSON
 * Web Token policy and its key set, read from the file when the
 * generation loads (a reload reads it again; a set that does not parse
 * refuses the reload, and the old one keeps serving), and the external
 * authorization service, checked whole so that -t says every mistake.
 * Its /config text is conf_auth_print.c's.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf_auth.h"
#include "conf_int.h"
#include "jwt.h"
#include "keysrc.h"
#include "log.h"
#include "util.h"

#define KEYS_FILE_MAX (1024 * 1024) /* a key set is a few KiB */

/* its sections inside a route's auth (secs, below) */
#define SEC_JWT		  (sl_module_auth.sec_id + 0)
#define SEC_JWT_KEYS	  (sl_module_auth.sec_id + 1)
#define SEC_EXTAUTH	  (sl_module_auth.sec_id + 2)
#define SEC_EXTAUTH_CACHE (sl_module_auth.sec_id + 3)

/* Fields a claim may not set: they frame the message, route it, or are
 * sluice's own. */
static const char *const reserved_fields[] = {
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "host",
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-proto",
    "forwarded",
    "authorization",
    "cookie",
    "expect",
    "content-type",
    "content-encoding",
    NULL,
};

/* A string, or a sequence of strings, into a malloc'd list. */
static void
str_list(struct sl_yaml_loader *ld, const char *lbl, const char *key,
	 const struct sl_yaml_node *n, char ***out, size_t *nout)
{
	const struct sl_yaml_node *const *items = &n;
	size_t k = 1;

	if (n->type == SL_YAML_NODE_SEQ) {
		items = (const struct sl_yaml_node *const *)n->kids;
		k = n->nkids;
		if (k == 0) {
			sl_yaml_err_lacks(
			    ld, n, "%s: \"%s\": must not be empty", lbl, key);
			return;
		}
	}
	if ((*out = calloc(k, sizeof(**out))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (size_t i = 0; i < k; i++) {
		const char *s;
		if (sl_yaml_get_str(ld, key, items[i], &s) == -1)
			continue;
		if (s[0] == '\0' || strlen(s) != items[i]->len) {
			sl_yaml_err_node(ld, items[i],
					 "%s: \"%s\": expected a non-empty "
					 "string",
					 lbl, key);
			continue;
		}
		if (((*out)[*nout] = sl_yaml_strdup(ld, s)) != NULL)
			(*nout)++;
	}
}

static void
parse_algorithms(struct sl_yaml_loader *ld, const char *lbl,
		 const struct sl_yaml_node *n, struct sl_jwt_policy *p)
{
	if (sl_yaml_get_seq(ld, "algorithms", n) == -1)
		return;
	if (n->nkids == 0) {
		sl_yaml_err_lacks(ld, n,
				  "%s: \"algorithms\": must not be empty", lbl);
		return;
	}
	p->algs = 0;
	for (size_t i = 0; i < n->nkids; i++) {
		const struct sl_yaml_node *m = n->kids[i];
		const char *s;
		int a;
		if (sl_yaml_get_str(ld, "algorithms", m, &s) == -1)
			continue;
		if ((a = sl_jwa_parse(s, strlen(s))) < 0) {
			sl_yaml_err_node(
			    ld, m,
			    "%s: \"algorithms\": \"%s\" is not one sluice "
			    "verifies (RS256, RS384, RS512, PS256, PS384, "
			    "PS512, ES256, ES384, EdDSA; never none or "
			    "HS256: doc/auth.md)",
			    lbl, sl_yaml_qnode(ld, m));
			continue;
		}
		p->algs |= 1u << a;
	}
}

/* require: { claim: [values] | value | [] } */
static void
parse_require(struct sl_yaml_loader *ld, const char *lbl,
	      const struct sl_yaml_node *n, struct sl_jwt_policy *p)
{
	if (sl_yaml_get_map(ld, "require", n) == -1)
		return;
	if ((p->require = calloc(n->nkids / 2 + 1, sizeof(*p->require))) ==
	    NULL) {
		ld->oom = 1;
		return;
	}
	for (size_t i = 0; i + 1 < n->nkids; i += 2) {
		const struct sl_yaml_node *k = n->kids[i], *v = n->kids[i + 1];
		struct sl_jwt_require *q = &p->require[p->nrequire];
		if (k->type != SL_YAML_NODE_SCALAR || k->str[0] == '\0')
			continue;
		if ((q->claim = sl_yaml_strdup(ld, k->str)) == NULL)
			continue;
		p->nrequire++;
		if (v->type == SL_YAML_NODE_SEQ && v->nkids == 0)
			continue; /* present, any value */
		str_list(ld, lbl, "require", v, &q->values, &q->nvalues);
	}
}

/* claims_to_headers: { claim: Field-Name } */
static void
parse_fields(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *n, struct sl_jwt_policy *p)
{
	if (sl_yaml_get_map(ld, "claims_to_headers", n) == -1)
		return;
	if (n->nkids / 2 > SL_JWT_FIELDS_MAX) {
		sl_yaml_err_node(ld, n,
				 "%s: \"claims_to_headers\": at most %d claims",
				 lbl, SL_JWT_FIELDS_MAX);
		return;
	}
	if ((p->fields = calloc(n->nkids / 2 + 1, sizeof(*p->fields))) ==
	    NULL) {
		ld->oom = 1;
		return;
	}
	for (size_t i = 0; i + 1 < n->nkids; i += 2) {
		const struct sl_yaml_node *k = n->kids[i], *v = n->kids[i + 1];
		const char *f;
		int bad = 0;
		if (k->type != SL_YAML_NODE_SCALAR || k->str[0] == '\0' ||
		    sl_yaml_get_str(ld, "claims_to_headers", v, &f) == -1)
			continue;
		if (!sl_conf_is_token(f, v->len)) {
			sl_yaml_err_node(ld, v,
					 "%s: \"claims_to_headers\": \"%s\" is "
					 "not a valid header name",
					 lbl, sl_yaml_qnode(ld, v));
			continue;
		}
		for (size_t r = 0; reserved_fields[r] != NULL; r++)
			if (strcasecmp(f, reserved_fields[r]) == 0)
				bad = 1;
		for (size_t j = 0; j < p->nfields; j++)
			if (strcasecmp(f, p->fields[j].field) == 0)
				bad = 2;
		if (bad) {
			sl_yaml_err_node(ld, v,
					 "%s: \"claims_to_headers\": \"%s\" %s",
					 lbl, sl_yaml_qnode(ld, v),
					 bad == 1 ? "is a field sluice controls"
						  : "is set by another claim");
			continue;
		}
		p->fields[p->nfields].claim = sl_yaml_strdup(ld, k->str);
		p->fields[p->nfields].field = sl_yaml_strdup(ld, f);
		if (p->fields[p->nfields].claim != NULL &&
		    p->fields[p->nfields].field != NULL)
			p->nfields++;
	}
}

/* The key set in path, parsed; errors at n. */
static struct sl_jwks *
read_keys(struct sl_yaml_loader *ld, const char *lbl,
	  const struct sl_yaml_node *n, const char *path)
{
	char why[256], *buf;
	struct sl_jwks *ks = NULL;
	size_t len;

	if (sl_conf_read_file(ld, lbl, "keys", n, path, KEYS_FILE_MAX, "1 MiB",
			      &buf, &len) == -1)
		return NULL;
	if ((ks = sl_jwks_parse(buf, len, why, sizeof(why))) == NULL)
		sl_yaml_err_node(ld, n, "%s: \"keys\": \"%s\": %s", lbl,
				 sl_yaml_qstr(ld, path), why);
	free(buf);
	return ks;
}

/* Whether url holds a "@" anywhere: user information, a credential
 * ("https://u:pa/ss@host/" too, whose password has a "/" in it, so its
 * authority as split below would not hold the "@"). A key set's URL has
 * no reason to hold one. */
static int
has_userinfo(const char *url)
{
	return strchr(url, '@') != NULL;
}

/* Splits url into its scheme's TLS (1: https), its authority and its
 * path (with the query). Returns 0, or -1 when it is no absolute http or
 * https URL sluice can send as it is. */
static int
split_url(const char *url, int *tls, const char **auth, size_t *alen,
	  const char **path)
{
	const char *p;

	if (strncmp(url, "https://", 8) == 0) {
		*tls = 1;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		*tls = 0;
		p = url + 7;
	} else
		return -1;
	*auth = p;
	*alen = strcspn(p, "/?#");
	if (*alen == 0 || has_userinfo(url))
		return -1; /* no host, or credentials in the URL */
	*path = p + *alen;
	if (**path != '/')
		return -1;
	for (const char *c = url; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f ||
		    *c == '#' || *c == '"' || *c == '\\')
			return -1;
	return 0;
}

/* A hash of what a cluster connects to: its endpoints' addresses and its
 * TLS (a reload that changes them has a key set fetched again). */
static uint64_t
cluster_sig(const struct sl_conf_cluster *cl)
{
	const char *parts[4] = {
	    cl->tls.enabled ? "tls" : "plain",
	    cl->tls.sni,
	    cl->tls.ca.path,
	    cl->tls.verify ? "verify" : "no-verify",
	};
	uint64_t h = SL_FNV_INIT;

	for (size_t i = 0; i < cl->nendpoints; i++)
		if (cl->endpoints[i].addr.text != NULL)
			h = sl_fnv1a(h, cl->endpoints[i].addr.text,
				     strlen(cl->endpoints[i].addr.text));
	for (size_t i = 0; i < 4; i++) {
		if (parts[i] != NULL)
			h = sl_fnv1a(h, parts[i], strlen(parts[i]));
		h = sl_fnv1a(h, "\xff", 1);
	}
	return h;
}

/* keys: { url, cluster, refresh, refetch_interval, timeout } */
static void
parse_keys_url(struct sl_yaml_loader *ld, const char *lbl,
	       const struct sl_yaml_node *map, struct sl_conf_auth *a,
	       struct sl_conf *conf)
{
	const struct sl_yaml_node *urln, *cn, *v;
	const struct sl_conf_cluster *cl;
	struct sl_conf_keys_url *k, **kk;
	struct sl_auth_gen *g;
	uint64_t refresh = 300000, refetch = 30000, timeout = 5000;
	const char *url, *authority, *path;
	size_t alen;
	int tls, n;

	sl_conf_check_keys(ld, map, (enum sl_conf_section)SEC_JWT_KEYS);
	if ((v = sl_yaml_map_get(map, "refresh", NULL)) != NULL)
		sl_yaml_get_duration(ld, "refresh", v, 1000, 86400000,
				     &refresh);
	if ((v = sl_yaml_map_get(map, "refetch_interval", NULL)) != NULL)
		sl_yaml_get_duration(ld, "refetch_interval", v, 1000, 86400000,
				     &refetch);
	if ((v = sl_yaml_map_get(map, "timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "timeout", v, 100, 60000, &timeout);
	if (refetch > refresh) {
		sl_yaml_err_node(ld, map,
				 "%s: keys: \"refetch_interval\" is longer "
				 "than \"refresh\"",
				 lbl);
		return;
	}
	if ((urln = sl_yaml_map_get(map, "url", NULL)) == NULL ||
	    (cn = sl_yaml_map_get(map, "cluster", NULL)) == NULL) {
		sl_yaml_err_lacks(ld, map,
				  "%s: keys: needs \"url\" and \"cluster\" "
				  "(the key set's URL, fetched through the "
				  "cluster)",
				  lbl);
		return;
	}
	if (sl_yaml_get_str(ld, "url", urln, &url) == -1 ||
	    (cl = sl_conf_find_cluster(ld, lbl, "cluster", cn, conf)) == NULL)
		return;
	if (split_url(url, &tls, &authority, &alen, &path) == -1) {
		if (has_userinfo(url))
			/* never quoted: what stands before "@" is a
			 * credential */
			sl_yaml_err_node(
			    ld, urln,
			    "%s: keys: \"url\": credentials in a "
			    "URL (user:password@) are refused, and "
			    "not shown: a key set is public",
			    lbl);
		else
			sl_yaml_err_node(
			    ld, urln,
			    "%s: keys: \"url\": \"%s\" is not an http:// "
			    "or https:// URL with a host and a path",
			    lbl, sl_yaml_qnode(ld, urln));
		return;
	}
	if (tls != (cl->tls.enabled != 0) ||
	    cl->protocol != SL_UP_PROTO_HTTP1 || cl->proxy_protocol) {
		sl_yaml_err_node(
		    ld, cn,
		    "%s: keys: cluster \"%s\" must speak HTTP/1.1%s, "
		    "without proxy_protocol, for a%s URL",
		    lbl, cl->name, tls ? " over TLS (tls:)" : " without TLS",
		    tls ? "n https://" : "n http://");
		return;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->url = sl_yaml_strdup(ld, url)) == NULL) {
		free(k);
		ld->oom = 1;
		return;
	}
	a->keys_url = k;
	k->cluster = cl;
	k->timeout_ms = timeout;
	k->refresh_ms = refresh;
	k->refetch_ms = refetch;
	n = snprintf(NULL, 0,
		     "GET %s HTTP/1.1\r\nHost: %.*s\r\nAccept: "
		     "application/jwk-set+json, application/json\r\n"
		     "User-Agent: sluice\r\n\r\n",
		     path, (int)alen, authority);
	if (n < 0 || (k->request = malloc((size_t)n + 1)) == NULL) {
		ld->oom = 1;
		return;
	}
	snprintf(k->request, (size_t)n + 1,
		 "GET %s HTTP/1.1\r\nHost: %.*s\r\nAccept: "
		 "application/jwk-set+json, application/json\r\n"
		 "User-Agent: sluice\r\n\r\n",
		 path, (int)alen, authority);
	k->request_len = (size_t)n;
	if ((k->src = sl_keysrc_get(url, cl->name, refresh, refetch,
				    cluster_sig(cl))) == NULL) {
		ld->oom = 1;
		return;
	}
	if ((g = sl_conf_mod(conf, &sl_module_auth)) == NULL) {
		ld->oom = 1; /* the top slot is made before any route */
		return;
	}
	for (size_t i = 0; i < g->nkeys_urls; i++)
		if (g->keys_urls[i]->src == k->src)
			return; /* another route's: fetched once */
	if ((kk = realloc(g->keys_urls, (g->nkeys_urls + 1) * sizeof(*kk))) ==
	    NULL) {
		ld->oom = 1;
		return;
	}
	g->keys_urls = kk;
	kk[g->nkeys_urls++] = k;
}

/* Whether a route before route j of listener l read the same key set
 * from the same file: it is logged once. */
static int
keys_logged(const struct sl_conf *conf, size_t l, size_t j)
{
	const struct sl_conf_auth *a =
	    sl_auth_route(&conf->listeners[l].routes[j]);

	for (size_t i = 0; i <= l; i++)
		for (size_t k = 0; k < (i < l ? conf->listeners[i].nroutes : j);
		     k++) {
			const struct sl_conf_auth *b =
			    sl_auth_route(&conf->listeners[i].routes[k]);
			if (b != NULL && b->keys != NULL &&
			    b->keys_path != NULL &&
			    strcmp(b->keys_path, a->keys_path) == 0 &&
			    strcmp(b->keys->sha256, a->keys->sha256) == 0)
				return 1;
		}
	return 0;
}

/*
 * Logs at info each key set of generation conf, which starts serving (why:
 * "start", "reload", "watch"): a file's keys and its fingerprint, the
 * SHA-256 of the file as this load read it, once a file; a URL's set kept
 * from the generation before, or none yet (its fetch logs a line of its
 * own). The configuration's sha256 is the YAML file's alone: this is how
 * a reload after a key file changed says that it took the new set
 * (doc/auth.md section 4).
 */
static void
loaded(const struct sl_conf *conf, const char *why)
{
	const struct sl_auth_gen *g = sl_auth_gen(conf);

	for (size_t l = 0; l < conf->nlisteners; l++)
		for (size_t j = 0; j < conf->listeners[l].nroutes; j++) {
			const struct sl_conf_auth *a =
			    sl_auth_route(&conf->listeners[l].routes[j]);
			if (a == NULL || a->keys == NULL ||
			    a->keys_path == NULL || keys_logged(conf, l, j))
				continue;
			log_info("%s: keys %s: %zu %s, %zu skipped (sha256 %s)",
				 why, a->keys_path, a->keys->n,
				 a->keys->n == 1 ? "key" : "keys",
				 a->keys->skipped, a->keys->sha256);
		}
	for (size_t i = 0; g != NULL && i < g->nkeys_urls; i++) {
		const struct sl_conf_keys_url *k = g->keys_urls[i];
		struct sl_jwks *ks = sl_keysrc_current(k->src);
		if (ks != NULL)
			log_info("%s: keys url=%s cluster=%s: %zu %s, %zu "
				 "skipped, in use (sha256 %s)",
				 why, k->url, k->cluster->name, ks->n,
				 ks->n == 1 ? "key" : "keys", ks->skipped,
				 ks->sha256);
		else
			log_info("%s: keys url=%s cluster=%s: no set yet, "
				 "being fetched",
				 why, k->url, k->cluster->name);
		sl_jwks_free(ks);
	}
}

static void
parse_jwt(struct sl_yaml_loader *ld, const char *lbl,
	  const struct sl_yaml_node *map, struct sl_conf_auth *a,
	  struct sl_conf *conf)
{
	struct sl_jwt_policy *p;
	const struct sl_yaml_node *v, *keysn;
	const char *s;
	uint64_t ms;
	int b;

	if (sl_yaml_get_map(ld, "jwt", map) == -1)
		return;
	sl_conf_check_keys(ld, map, (enum sl_conf_section)SEC_JWT);
	if ((p = a->jwt = calloc(1, sizeof(*p))) == NULL) {
		ld->oom = 1;
		return;
	}
	p->algs = SL_JWA_ALL;
	p->skew_s = 30;
	if ((keysn = sl_yaml_map_get(map, "keys", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map,
				  "%s: jwt: missing key \"keys\" (a "
				  "JSON Web Key set file, or a map with its "
				  "url and cluster)",
				  lbl);
	else if (keysn->type == SL_YAML_NODE_MAP)
		parse_keys_url(ld, lbl, keysn, a, conf);
	else if (sl_yaml_get_str(ld, "keys", keysn, &s) == 0 &&
		 (a->keys_path = sl_yaml_strdup(ld, s)) != NULL)
		a->keys = read_keys(ld, lbl, keysn, s);
	if ((v = sl_yaml_map_get(map, "algorithms", NULL)) != NULL)
		parse_algorithms(ld, lbl, v, p);
	if ((v = sl_yaml_map_get(map, "issuer", NULL)) != NULL)
		str_list(ld, lbl, "issuer", v, &p->issuers, &p->nissuers);
	if ((v = sl_yaml_map_get(map, "audience", NULL)) != NULL)
		str_list(ld, lbl, "audience", v, &p->audiences, &p->naudiences);
	if ((v = sl_yaml_map_get(map, "clock_skew", NULL)) != NULL &&
	    sl_yaml_get_duration(ld, "clock_skew", v, 0, 600000, &ms) == 0)
		p->skew_s = (int64_t)(ms / 1000);
	if ((v = sl_yaml_map_get(map, "require_exp", NULL)) != NULL &&
	    sl_conf_get_bool(ld, "require_exp", v, &b) == 0)
		p->exp_optional = !b;
	a->token.source = SL_KEY_HEADER;
	if ((v = sl_yaml_map_get(map, "token", NULL)) != NULL) {
		if (sl_conf_parse_key(ld, "token", v, &a->token) == 0 &&
		    a->token.source == SL_KEY_CLIENT_IP) {
			sl_yaml_err_node(ld, v,
					 "%s: \"token\": expected header:NAME "
					 "or cookie:NAME",
					 lbl);
			a->token.source = SL_KEY_HEADER;
		}
	}
	if (a->token.name == NULL && a->token.source == SL_KEY_HEADER &&
	    (a->token.name = sl_yaml_strdup(ld, "authorization")) != NULL)
		a->token.name_len = 13;
	a->forward_token = 1;
	if ((v = sl_yaml_map_get(map, "forward_token", NULL)) != NULL &&
	    sl_conf_get_bool(ld, "forward_token", v, &a->forward_token) == 0 &&
	    !a->forward_token && a->token.source == SL_KEY_COOKIE)
		sl_yaml_err_node(ld, v,
				 "%s: \"forward_token\": false needs a token "
				 "from a header (a cookie's other values go "
				 "on)",
				 lbl);
	if ((v = sl_yaml_map_get(map, "require", NULL)) != NULL)
		parse_require(ld, lbl, v, p);
	if ((v = sl_yaml_map_get(map, "claims_to_headers", NULL)) != NULL)
		parse_fields(ld, lbl, v, p);
}

/* Which field names a list of auth.external may hold. */
enum {
	NAMES_SENT = 0, /* headers: not the ones the check writes itself */
	NAMES_UPSTREAM, /* upstream_headers */
	NAMES_CLIENT,	/* client_headers: a denial's Content-Type too */
};

/* Whether name is refused in a list of kind (a field that frames or routes
 * the message, or one sluice writes itself). */
static int
names_refused(const char *f, int kind)
{
	static const char *const own[] = {"x-client-subject",
					  "x-auth-partial-body", NULL};

	if (strcasecmp(f, "authorization") == 0 ||
	    strcasecmp(f, "cookie") == 0 ||
	    (kind == NAMES_CLIENT && strcasecmp(f, "content-type") == 0))
		return 0;
	for (size_t r = 0; reserved_fields[r] != NULL; r++)
		if (strcasecmp(f, reserved_fields[r]) == 0)
			return 1;
	for (size_t r = 0; kind == NAMES_SENT && own[r] != NULL; r++)
		if (strcasecmp(f, own[r]) == 0)
			return 1;
	return 0;
}

/* A list of field names (at most SL_EXTAUTH_FIELDS_MAX) into out, lower
 * case, as kind allows them. */
static void
field_list(struct sl_yaml_loader *ld, const char *lbl, const char *key,
	   const struct sl_yaml_node *n, char **out, size_t *nout, int kind)
{
	if (sl_yaml_get_seq(ld, key, n) == -1)
		return;
	if (n->nkids > SL_EXTAUTH_FIELDS_MAX) {
		sl_yaml_err_node(ld, n,
				 "%s: external: \"%s\": at most %d names", lbl,
				 key, SL_EXTAUTH_FIELDS_MAX);
		return;
	}
	for (size_t i = 0; i < n->nkids; i++) {
		const struct sl_yaml_node *m = n->kids[i];
		const char *f;
		char *c;
		int bad;
		if (sl_yaml_get_str(ld, key, m, &f) == -1)
			continue;
		if (!sl_conf_is_token(f, m->len)) {
			sl_yaml_err_node(
			    ld, m,
			    "%s: external: \"%s\": \"%s\" is not a "
			    "valid header name",
			    lbl, key, sl_yaml_qnode(ld, m));
			continue;
		}
		bad = names_refused(f, kind);
		if (bad) {
			sl_yaml_err_node(ld, m,
					 "%s: external: \"%s\": \"%s\" is a "
					 "field sluice controls",
					 lbl, key, sl_yaml_qnode(ld, m));
			continue;
		}
		if ((c = sl_yaml_strdup(ld, f)) == NULL)
			continue;
		for (char *p = c; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		out[(*nout)++] = c;
	}
}

/* external: { cluster, protocol, path, timeout, headers, upstream_headers,
 * client_headers, on_failure, failure_status, failure_header, cache } */
static void
parse_external(struct sl_yaml_loader *ld, const char *lbl,
	       const struct sl_yaml_node *map, struct sl_conf_auth *a,
	       struct sl_conf *conf)
{
	const struct sl_yaml_node *v, *c;
	struct sl_conf_extauth *x;
	const char *s;
	uint64_t u;

	if (sl_yaml_get_map(ld, "external", map) == -1)
		return;
	sl_conf_check_keys(ld, map, (enum sl_conf_section)SEC_EXTAUTH);
	static atomic_uint_fast64_t ids;

	if ((x = a->external = calloc(1, sizeof(*x))) == NULL) {
		ld->oom = 1;
		return;
	}
	x->id = atomic_fetch_add(&ids, 1) + 1;
	x->timeout_ms = 1000;
	x->failure_status = 503;
	x->protocol = SL_EXTAUTH_HTTP;
	if ((v = sl_yaml_map_get(map, "protocol", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "protocol", v, &s) == 0) {
		if (strcmp(s, "grpc") == 0)
			x->protocol = SL_EXTAUTH_GRPC;
		else if (strcmp(s, "http") != 0)
			sl_yaml_err_node(ld, v,
					 "%s: external: \"protocol\": expected "
					 "http or grpc, got \"%s\"",
					 lbl, sl_yaml_qnode(ld, v));
	}
	if ((c = sl_yaml_map_get(map, "cluster", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map,
				  "%s: external: missing key \"cluster\" (the "
				  "authorization service)",
				  lbl);
	else if ((x->cluster = sl_conf_find_cluster(ld, lbl, "cluster", c,
						    conf)) != NULL) {
		if (x->protocol == SL_EXTAUTH_GRPC &&
		    x->cluster->protocol == SL_UP_PROTO_HTTP1)
			sl_yaml_err_node(ld, c,
					 "%s: external: protocol grpc needs a "
					 "cluster of protocol h2c or h2 "
					 "(\"%s\" speaks HTTP/1.1)",
					 lbl, x->cluster->name);
		if (x->cluster->proxy_protocol)
			sl_yaml_err_node(ld, c,
					 "%s: external: cluster \"%s\" has "
					 "proxy_protocol: the service is asked "
					 "by sluice, for no one client",
					 lbl, x->cluster->name);
	}
	if ((v = sl_yaml_map_get(map, "path", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "path", v, &s) == 0) {
		if (x->protocol == SL_EXTAUTH_GRPC)
			sl_yaml_err_node(
			    ld, v,
			    "%s: external: \"path\" is for protocol "
			    "http (gRPC's is the method's)",
			    lbl);
		else if (s[0] != '/' || strpbrk(s, " ?#\"\\") != NULL ||
			 strlen(s) != v->len)
			sl_yaml_err_node(
			    ld, v,
			    "%s: external: \"path\": \"%s\" is not "
			    "an absolute path without a query",
			    lbl, sl_yaml_qnode(ld, v));
		else
			x->path = sl_yaml_strdup(ld, s);
	}
	if (x->path == NULL)
		x->path = sl_yaml_strdup(ld, "");
	if ((v = sl_yaml_map_get(map, "timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "timeout", v, 10, 60000,
				     &x->timeout_ms);
	if ((v = sl_yaml_map_get(map, "headers", NULL)) != NULL)
		field_list(ld, lbl, "headers", v, x->send, &x->nsend,
			   NAMES_SENT);
	if ((v = sl_yaml_map_get(map, "upstream_headers", NULL)) != NULL)
		field_list(ld, lbl, "upstream_headers", v, x->upstream,
			   &x->nupstream, NAMES_UPSTREAM);
	if ((v = sl_yaml_map_get(map, "client_headers", NULL)) != NULL)
		field_list(ld, lbl, "client_headers", v, x->client, &x->nclient,
			   NAMES_CLIENT);
	else {
		x->client[x->nclient++] =
		    sl_yaml_strdup(ld, "www-authenticate");
		x->client[x->nclient++] = sl_yaml_strdup(ld, "content-type");
		x->client[x->nclient++] = sl_yaml_strdup(ld, "location");
	}
	if ((v = sl_yaml_map_get(map, "on_failure", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "on_failure", v, &s) == 0) {
		if (strcmp(s, "allow") == 0)
			x->on_failure = SL_EXTAUTH_FAIL_ALLOW;
		else if (strcmp(s, "deny") != 0)
			sl_yaml_err_node(
			    ld, v,
			    "%s: external: \"on_failure\": expected "
			    "deny or allow, got \"%s\"",
			    lbl, sl_yaml_qnode(ld, v));
	}
	if ((v = sl_yaml_map_get(map, "failure_status", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "failure_status", v, 0, 999, &u) == 0) {
		if (u != 503 && u != 403)
			sl_yaml_err_node(
			    ld, v,
			    "%s: external: \"failure_status\": 503 "
			    "or 403",
			    lbl);
		else
			x->failure_status = (int)u;
	}
	if ((v = sl_yaml_map_get(map, "failure_header", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "failure_header", v, &s) == 0) {
		if (!sl_conf_is_token(s, v->len))
			sl_yaml_err_node(ld, v,
					 "%s: external: \"failure_header\": "
					 "\"%s\" is not a valid header name",
					 lbl, sl_yaml_qnode(ld, v));
		else
			x->failure_header = sl_yaml_strdup(ld, s);
	}
	if (x->failure_header == NULL)
		x->failure_header = sl_yaml_strdup(ld, "X-Auth-Unchecked");
	if ((v = sl_yaml_map_get(map, "body_bytes", NULL)) != NULL &&
	    sl_yaml_get_size(ld, "body_bytes", v, 0, 64 * 1024, &u) == 0)
		x->body_bytes = (uint32_t)u;
	if ((v = sl_yaml_map_get(map, "cache", NULL)) != NULL &&
	    sl_yaml_get_map(ld, "cache", v) == 0) {
		const struct sl_yaml_node *e;
		sl_conf_check_keys(ld, v,
				   (enum sl_conf_section)SEC_EXTAUTH_CACHE);
		x->cache_entries = 1024;
		x->cache_ttl_ms = 10000;
		if ((e = sl_yaml_map_get(v, "max_entries", NULL)) != NULL &&
		    sl_yaml_get_uint(ld, "max_entries", e, 1, 1000000, &u) == 0)
			x->cache_entries = (uint32_t)u;
		if ((e = sl_yaml_map_get(v, "ttl", NULL)) != NULL)
			sl_yaml_get_duration(ld, "ttl", e, 100, 3600000,
					     &x->cache_ttl_ms);
	}
}

/* A route's auth: into its slot. */
static void
route_parse(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, void **slot,
	    const struct sl_conf_route *r, struct sl_conf *conf)
{
	const struct sl_yaml_node *v;
	struct sl_conf_auth *a;

	(void)r;
	if (sl_yaml_get_map(ld, "auth", map) == -1)
		return;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_auth.route_sec_id);
	if ((a = *slot = calloc(1, sizeof(*a))) == NULL) {
		ld->oom = 1;
		return;
	}
	if ((v = sl_yaml_map_get(map, "external", NULL)) != NULL)
		parse_external(ld, lbl, v, a, conf);
	if ((v = sl_yaml_map_get(map, "jwt", NULL)) != NULL)
		parse_jwt(ld, lbl, v, a, conf);
	else if (a->external == NULL)
		sl_yaml_err_lacks(ld, map,
				  "%s: auth: needs \"jwt\", \"external\" or "
				  "both",
				  lbl);
}

static void
strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
route_free(void *slot)
{
	struct sl_conf_auth *a = slot;
	struct sl_jwt_policy *p;

	if (a == NULL)
		return;
	if ((p = a->jwt) != NULL) {
		strs_free(p->issuers, p->nissuers);
		strs_free(p->audiences, p->naudiences);
		for (size_t i = 0; i < p->nrequire; i++) {
			free(p->require[i].claim);
			strs_free(p->require[i].values, p->require[i].nvalues);
		}
		free(p->require);
		for (size_t i = 0; i < p->nfields; i++) {
			free(p->fields[i].claim);
			free(p->fields[i].field);
		}
		free(p->fields);
		free(p);
	}
	sl_jwks_free(a->keys);
	free(a->keys_path);
	if (a->external != NULL) {
		struct sl_conf_extauth *x = a->external;
		for (size_t i = 0; i < x->nsend; i++)
			free(x->send[i]);
		for (size_t i = 0; i < x->nupstream; i++)
			free(x->upstream[i]);
		for (size_t i = 0; i < x->nclient; i++)
			free(x->client[i]);
		free(x->path);
		free(x->failure_header);
		free(x);
	}
	if (a->keys_url != NULL) {
		sl_keysrc_put(a->keys_url->src);
		free(a->keys_url->url);
		free(a->keys_url->request);
		free(a->keys_url);
	}
	free(a->token.name);
	free(a);
}

/* A route's requests carry a verified caller (its token's issuer and
 * subject) when it checks a token. */
static int
route_caller(const void *slot)
{
	return ((const struct sl_conf_auth *)slot)->jwt != NULL;
}

/* The generation's slot: its key sets fetched from URLs, filled by the
 * routes (parse_keys_url). auth has no top-level key: v is NULL. */
static void
top_parse(struct sl_yaml_loader *ld, const struct sl_yaml_node *v, void **slot,
	  struct sl_conf *conf)
{
	(void)v;
	(void)conf;
	if ((*slot = calloc(1, sizeof(struct sl_auth_gen))) == NULL)
		ld->oom = 1;
}

static void
top_free(void *slot)
{
	struct sl_auth_gen *g = slot;

	free(g->keys_urls); /* each is a route's */
	free(g);
}

/* A file a watch follows: a route's key set read from a file. */
static const char *
route_file(const void *slot)
{
	return ((const struct sl_conf_auth *)slot)->keys_path;
}

static const char *const auth_keys[] = {"jwt", "external", NULL};
static const char *const jwt_keys[] = {
    "keys",	  "algorithms",	       "issuer", "audience",
    "clock_skew", "require_exp",       "token",	 "forward_token",
    "require",	  "claims_to_headers", NULL,
};
static const char *const jwt_keys_keys[] = {
    "url", "cluster", "refresh", "refetch_interval", "timeout", NULL,
};
static const char *const external_keys[] = {
    "cluster",
    "protocol",
    "path",
    "timeout",
    "headers",
    "upstream_headers",
    "client_headers",
    "on_failure",
    "failure_status",
    "failure_header",
    "cache",
    "body_bytes",
    NULL,
};
static const char *const external_cache_keys[] = {"max_entries", "ttl", NULL};

static const struct sl_conf_section_def route_sec = {
    SL_CONF_SEC_ROUTE,		auth_keys, NULL, "in auth", "under \"auth\"",
    "under a route's \"auth\"", NULL};
/* SEC_JWT, SEC_JWT_KEYS, SEC_EXTAUTH, SEC_EXTAUTH_CACHE */
static const struct sl_conf_section_def secs[] = {
    {SL_CONF_SEC_MOD_ROUTE, jwt_keys, NULL, "in jwt", "under \"jwt\"",
     "under a route's \"auth.jwt\"", NULL},
    {SL_CONF_SEC_MOD_SUB(0), jwt_keys_keys, NULL, "in keys", "under \"keys\"",
     "under a route's \"auth.jwt.keys\"", NULL},
    {SL_CONF_SEC_MOD_ROUTE, external_keys, NULL, "in external",
     "under \"external\"", "under a route's \"auth.external\"", NULL},
    {SL_CONF_SEC_MOD_SUB(2), external_cache_keys, NULL, "in cache",
     "under \"cache\"", "under a route's \"auth.external.cache\"", NULL},
};

#define W(f)                                                                   \
	(uint16_t)(offsetof(struct sl_auth_counts, f) /                        \
		   sizeof(atomic_uint_fast64_t))

/* The status page's: the minute's refusals, the token's (every result
 * but allow) and the service's (its denials, and failures denied). */
static const struct sl_mstatus status[] = {
    {.name = "auth_refused",
     .num_off = W(auth) + 1,
     .num_n = SL_AUTH_NRESULTS - 1,
     .num2_off = W(ext) + SL_EXT_DENY,
     .num2_n = SL_EXT_ERROR_DENY - SL_EXT_DENY + 1},
};
_Static_assert(SL_EXT_ERROR_DENY == SL_EXT_DENY + 1,
	       "the service's refusals are one run of words");

struct sl_module sl_module_auth = {
    .name = "auth",
    .key = "auth",
    .top_parse = top_parse,
    .top_free = top_free,
    .top_hidden = 1,
    .route_parse = route_parse,
    .route_free = route_free,
    .route_caller = route_caller,
    .route_file = route_file,
    .route_print = sl_conf_auth_print,
    .route_sec = &route_sec,
    .secs = secs,
    .nsecs = SL_NELEM(secs),
    .loaded = loaded,
    .route_words = sizeof(struct sl_auth_counts) / sizeof(uint64_t),
    .status = status,
    .nstatus = SL_NELEM(status),
    .metrics = sl_conf_auth_metrics,
};
