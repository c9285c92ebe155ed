/* SPDX-License-Identifier: MIT */
/*
 * The routes of the sluice schema: what a route matches (host, path,
 * methods, headers), where it sends (a cluster or a weighted split, sticky,
 * a mirror), its timeout, retry policy and the response field naming the
 * cluster (its edge keys through conf_edge.c), and freeing what it
 * allocated. conf.c calls it for each route of a listener once every
 * cluster is read: it looks clusters up by name and never parses one.
 * Like conf.c it reads the node tree and nothing else: no libyaml,
 * sockets, DNS or logs.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_int.h"
#include "conf_types.h"
#include "conf_yaml.h"
#include "policy.h"
#include "util.h"

#define CONF_MAX_SPLIT_WEIGHT 10000

static const char *const retry_on_names[] = {
    "connect-failure", "reset", "timeout", "502", "503", "504", NULL,
};

/* Exact host name or "*.suffix"; lower-cased into r->host. */
static void
parse_host(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
	   struct sl_conf_route *r)
{
	const char *s;
	int wild, bad;

	if (sl_yaml_get_str(ld, "host", n, &s) == -1)
		return;
	if ((bad = sl_conf_host_pattern(s, n->len, &wild)) == -2) {
		sl_yaml_err_node(ld, n,
				 "\"host\": \"%s\" must not contain a port",
				 sl_yaml_qnode(ld, n));
		return;
	}
	if (bad != 0) {
		sl_yaml_err_node(
		    ld, n,
		    "\"host\": invalid host pattern \"%s\" (expected a "
		    "name or *.suffix)",
		    sl_yaml_qnode(ld, n));
		return;
	}
	if ((r->host = sl_yaml_strdup(ld, s + wild)) == NULL)
		return;
	for (size_t i = 0; r->host[i] != '\0'; i++)
		if (r->host[i] >= 'A' && r->host[i] <= 'Z')
			r->host[i] = (char)(r->host[i] - 'A' + 'a');
	r->host_wildcard = wild;
}

static void
parse_path(struct sl_yaml_loader *ld, const char *key,
	   const struct sl_yaml_node *n, struct sl_conf_route *r)
{
	const char *s;
	size_t i;

	if (sl_yaml_get_str(ld, key, n, &s) == -1)
		return;
	if (s[0] != '/') {
		sl_yaml_err_node(ld, n, "\"%s\": \"%s\" must start with \"/\"",
				 key, sl_yaml_qnode(ld, n));
		return;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '?' ||
		    s[i] == '#') {
			sl_yaml_err_node(
			    ld, n,
			    "\"%s\": invalid character in \"%s\" (no "
			    "spaces, controls, \"?\" or \"#\")",
			    key, sl_yaml_qnode(ld, n));
			return;
		}
	}
	if (r->path == NULL && (r->path = sl_yaml_strdup(ld, s)) != NULL)
		r->path_prefix = strcmp(key, "path_prefix") == 0;
}

static void
parse_methods(struct sl_yaml_loader *ld, const struct sl_yaml_node *seq,
	      struct sl_conf_route *r)
{
	const struct sl_yaml_node *m;
	size_t i;

	if (sl_yaml_get_seq(ld, "methods", seq) == -1)
		return;
	if (seq->nkids == 0) {
		sl_yaml_err_lacks(ld, seq, "\"methods\": must not be empty");
		return;
	}
	if ((r->methods = calloc(seq->nkids, sizeof(*r->methods))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i < seq->nkids; i++) {
		m = seq->kids[i];
		if (m->type == SL_YAML_NODE_BAD)
			continue;
		if (m->type != SL_YAML_NODE_SCALAR ||
		    !sl_conf_is_token(m->str, m->len)) {
			if (m->type == SL_YAML_NODE_SCALAR)
				sl_yaml_err_node(
				    ld, m, "\"methods\": invalid method \"%s\"",
				    sl_yaml_qnode(ld, m));
			else
				sl_yaml_err_node(
				    ld, m,
				    "\"methods\": expected a method name");
			continue;
		}
		if ((r->methods[r->nmethods] = sl_yaml_strdup(ld, m->str)) !=
		    NULL)
			r->nmethods++;
	}
}

/* upgrade: [websocket, ...]: protocols a request may switch to, kept
 * lower-cased (the Upgrade field's tokens compare without case). */
static void
parse_upgrade(struct sl_yaml_loader *ld, const char *lbl,
	      const struct sl_yaml_node *seq, struct sl_conf_route *r)
{
	const struct sl_yaml_node *m;

	if (sl_yaml_get_seq(ld, "upgrade", seq) == -1)
		return;
	if (seq->nkids == 0) {
		sl_yaml_err_lacks(ld, seq, "%s: \"upgrade\": must not be empty",
				  lbl);
		return;
	}
	if ((r->upgrade = calloc(seq->nkids, sizeof(*r->upgrade))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (size_t i = 0; i < seq->nkids; i++) {
		m = seq->kids[i];
		if (m->type == SL_YAML_NODE_BAD)
			continue;
		if (m->type != SL_YAML_NODE_SCALAR ||
		    !sl_conf_is_token(m->str, m->len) ||
		    strcasecmp(m->str, "h2c") == 0) {
			sl_yaml_err_node(ld, m,
					 "%s: \"upgrade\": expected a protocol "
					 "name such as websocket (h2c is not "
					 "one: HTTP/2 is a listener's "
					 "protocols)",
					 lbl);
			continue;
		}
		if ((r->upgrade[r->nupgrade] = sl_yaml_strdup(ld, m->str)) ==
		    NULL)
			continue;
		for (char *p = r->upgrade[r->nupgrade]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		r->nupgrade++;
	}
}

static void
parse_headers(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	      const struct sl_conf *conf, struct sl_conf_route *r)
{
	struct sl_conf_header_match *h;
	const struct sl_yaml_node *k, *v;
	size_t i, j, vl;
	int bad, secret;
	char flaw[64];
	const char *why;

	if (sl_yaml_get_map(ld, "headers", map) == -1 || map->nkids == 0)
		return;
	if ((r->headers = calloc(map->nkids / 2, sizeof(*h))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i + 1 < map->nkids; i += 2) {
		k = map->kids[i];
		v = map->kids[i + 1];
		if (k->type == SL_YAML_NODE_BAD || v->type == SL_YAML_NODE_BAD)
			continue;
		/* the name and the value are checked apart: both may be
		 * wrong */
		bad = k->type != SL_YAML_NODE_SCALAR ||
		      !sl_conf_is_token(k->str, k->len);
		if (bad)
			sl_yaml_err_node(
			    ld, k, "\"headers\": invalid header name \"%s\"",
			    k->type == SL_YAML_NODE_SCALAR
				? sl_yaml_qnode(ld, k)
				: "");
		if (!sl_yaml_is_string(v)) {
			sl_yaml_err_node(
			    ld, v,
			    "\"headers\": the value of \"%s\" must be a "
			    "string",
			    k->type == SL_YAML_NODE_SCALAR
				? sl_yaml_qnode(ld, k)
				: "");
			continue;
		}
		vl = v->len;
		secret = k->type == SL_YAML_NODE_SCALAR &&
			 sl_conf_secret_header(conf, k->str, k->len);
		if ((why = sl_conf_value_flaw(v->str, vl, flaw,
					      sizeof(flaw))) != NULL &&
		    secret) {
			/* a credential's value is never quoted */
			sl_yaml_err_node(
			    ld, v,
			    "\"headers\": invalid value \"%s\" for \"%s\" "
			    "(a credential's value, %zu bytes, shown "
			    "starred): %s (no control characters, no "
			    "leading or trailing blanks)",
			    sl_conf_qstarred(ld, vl), sl_yaml_qnode(ld, k), vl,
			    why);
			continue;
		}
		if (why != NULL) {
			sl_yaml_err_node(
			    ld, v,
			    "\"headers\": invalid value \"%s\" for "
			    "\"%s\" (no control characters, no leading "
			    "or trailing blanks)",
			    sl_yaml_qnode(ld, v),
			    k->type == SL_YAML_NODE_SCALAR
				? sl_yaml_qnode(ld, k)
				: "");
			continue;
		}
		if (bad)
			continue;
		h = &r->headers[r->nheaders];
		if ((h->name = sl_yaml_strdup(ld, k->str)) == NULL)
			continue;
		for (j = 0; h->name[j] != '\0'; j++)
			if (h->name[j] >= 'A' && h->name[j] <= 'Z')
				h->name[j] = (char)(h->name[j] - 'A' + 'a');
		for (j = 0; j < r->nheaders; j++)
			if (strcmp(r->headers[j].name, h->name) == 0)
				break;
		if (j < r->nheaders) {
			sl_yaml_err_node(ld, k,
					 "\"headers\": duplicate header \"%s\"",
					 sl_yaml_qstr(ld, h->name));
			free(h->name);
			h->name = NULL;
			continue;
		}
		if ((h->value = sl_yaml_strdup(ld, v->str)) == NULL) {
			free(h->name);
			h->name = NULL;
			continue;
		}
		r->nheaders++;
	}
}

static void
parse_match(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, const struct sl_conf *conf,
	    struct sl_conf_route *r)
{
	const struct sl_yaml_node *v, *path, *prefix, *pathk, *prefixk;
	const struct sl_yaml_node *file, *hostk, *filek;

	sl_conf_check_keys(ld, map, SL_CONF_SEC_MATCH);
	v = sl_yaml_map_get(map, "host", &hostk);
	file = sl_yaml_map_get(map, "hosts_file", &filek);
	if (v != NULL && file != NULL)
		sl_yaml_err_node(ld, sl_yaml_later(hostk, filek),
				 "%s: \"host\" and \"hosts_file\" are mutually "
				 "exclusive",
				 lbl);
	else if (v != NULL)
		parse_host(ld, v, r);
	else if (file != NULL)
		sl_conf_parse_hosts_file(ld, lbl, file, r);
	path = sl_yaml_map_get(map, "path", &pathk);
	prefix = sl_yaml_map_get(map, "path_prefix", &prefixk);
	if (path != NULL && prefix != NULL)
		sl_yaml_err_node(
		    ld, sl_yaml_later(pathk, prefixk),
		    "%s: \"path\" and \"path_prefix\" are mutually "
		    "exclusive",
		    lbl);
	/* both values are checked; the first usable one is kept */
	if (path != NULL)
		parse_path(ld, "path", path, r);
	if (prefix != NULL)
		parse_path(ld, "path_prefix", prefix, r);
	if ((v = sl_yaml_map_get(map, "methods", NULL)) != NULL)
		parse_methods(ld, v, r);
	if ((v = sl_yaml_map_get(map, "headers", NULL)) != NULL)
		parse_headers(ld, v, conf, r);
}

/* split: a list of { cluster: NAME, weight: 0..10000 }, weights not all
 * 0, each cluster once. */
static void
parse_split(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *key, const struct sl_yaml_node *seq,
	    struct sl_conf_route *r, struct sl_conf *conf)
{
	uint64_t total = 0, w;
	size_t i, j;
	int bad = 0; /* a weight missing or wrong: the sum means nothing */

	if (sl_yaml_get_seq(ld, "split", seq) == -1)
		return;
	if (seq->nkids == 0) {
		sl_yaml_err_lacks(ld, seq, "%s: \"split\" must not be empty",
				  lbl);
		return;
	}
	if ((r->split = calloc(seq->nkids, sizeof(*r->split))) == NULL ||
	    (r->split_weights = calloc(seq->nkids, sizeof(uint32_t))) == NULL ||
	    (r->split_ids = calloc(seq->nkids, sizeof(uint64_t))) == NULL) {
		ld->oom = 1;
		return;
	}
	r->nsplit = seq->nkids;
	for (i = 0; i < seq->nkids; i++) {
		const struct sl_yaml_node *item = seq->kids[i], *c, *wn;
		struct sl_conf_split *sp = &r->split[i];

		if (item->type != SL_YAML_NODE_MAP) {
			if (item->type != SL_YAML_NODE_BAD)
				sl_yaml_err_node(
				    ld, item,
				    "%s: each \"split\" item is a mapping "
				    "{ cluster: NAME, weight: N }",
				    lbl);
			bad = 1;
			continue;
		}
		sl_conf_check_keys(ld, item, SL_CONF_SEC_SPLIT);
		if ((c = sl_yaml_map_get(item, "cluster", NULL)) == NULL)
			sl_yaml_err_lacks(ld, item,
					  "%s: split: missing key \"cluster\"",
					  lbl);
		else if ((sp->cluster = sl_conf_find_cluster(
			      ld, lbl, "cluster", c, conf)) != NULL) {
			sp->id = sl_hash64(sp->cluster->name,
					   strlen(sp->cluster->name));
			for (j = 0; j < i; j++)
				if (r->split[j].cluster == sp->cluster) {
					sl_yaml_err_node(
					    ld, c,
					    "%s: cluster \"%s\" is in the "
					    "split twice",
					    lbl, sl_yaml_qnode(ld, c));
					break;
				}
		}
		if ((wn = sl_yaml_map_get(item, "weight", NULL)) == NULL) {
			sl_yaml_err_lacks(
			    ld, item, "%s: split: missing key \"weight\"", lbl);
			bad = 1;
		} else if (sl_yaml_get_uint(ld, "weight", wn, 0,
					    CONF_MAX_SPLIT_WEIGHT, &w) == 0) {
			sp->weight = (uint32_t)w;
			total += w;
		} else
			bad = 1;
	}
	for (i = 0; i < r->nsplit; i++) {
		r->split_weights[i] = r->split[i].weight;
		r->split_ids[i] = r->split[i].id;
	}
	if (!bad && total == 0 && sl_yaml_whole(ld, seq))
		sl_yaml_err_node(ld, key,
				 "%s: every weight of the split is 0 (at least "
				 "one must get traffic)",
				 lbl);
}

/* retry.on: a list of the failures to retry, into a mask of
 * SL_RETRY_ON_*. */
static int
read_retry_on(struct sl_yaml_loader *ld, const char *lbl,
	      const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_retry *rt = base;

	(void)lbl;
	if (sl_yaml_get_seq(ld, "on", v) == -1)
		return -1;
	rt->on = 0;
	for (size_t i = 0; i < v->nkids; i++) {
		int e = sl_yaml_get_enum(
		    ld, "on", v->kids[i], retry_on_names,
		    "connect-failure, reset, timeout, 502, 503 or 504");
		if (e >= 0)
			rt->on |= 1u << e;
	}
	return 0;
}

#define RT(f) SL_CONF_FIELD(struct sl_conf_retry, f)

/* The keys of a route's retry: (doc/sluice.yaml.5), read in this order. */
const struct sl_conf_keydef sl_conf_retry_table[] = {
    {"attempts", SL_CONF_UINT, 1, 10, 2, RT(attempts)},
    {"on", SL_CONF_SET, .def = SL_RETRY_ON_CONNECT | SL_RETRY_ON_RESET, RT(on),
     .set = read_retry_on},
    {"idempotency_key", SL_CONF_BOOL, .def = 0, RT(idempotency_key)},
    /* 0, the default, stands for the route's timeout */
    {"per_try_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 0,
     RT(per_try_timeout_ms)},
    {"budget", SL_CONF_PERCENT, 0, 100, 20, RT(budget_percent)},
    {.name = NULL},
};
#undef RT

/* retry: { attempts, on, idempotency_key, per_try_timeout, budget } */
static void
parse_retry(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, struct sl_conf_route *r)
{
	if (sl_yaml_get_map(ld, "retry", map) == -1)
		return;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_RETRY);
	sl_conf_table_read(ld, lbl, map, sl_conf_retry_table, &r->retry, NULL);
}

/* A response field name sluice may add: a token, not one that frames
 * the message or that sluice sets itself. */
static void
parse_expose(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *n, struct sl_conf_route *r)
{
	static const char *const reserved[] = {
	    "connection",
	    "content-length",
	    "transfer-encoding",
	    "keep-alive",
	    "te",
	    "trailer",
	    "upgrade",
	    "proxy-connection",
	    "x-request-id",
	    "date",
	    NULL,
	};
	const char *s;

	if (sl_yaml_get_str(ld, "expose_cluster_header", n, &s) == -1)
		return;
	if (!sl_conf_is_token(s, n->len)) {
		sl_yaml_err_node(ld, n,
				 "\"expose_cluster_header\": \"%s\" is not a "
				 "valid header name",
				 sl_yaml_qnode(ld, n));
		return;
	}
	for (size_t i = 0; reserved[i] != NULL; i++)
		if (strcasecmp(s, reserved[i]) == 0) {
			sl_yaml_err_node(ld, n,
					 "%s: \"expose_cluster_header\": "
					 "\"%s\" is a field sluice controls",
					 lbl, sl_yaml_qnode(ld, n));
			return;
		}
	r->expose_cluster_header = sl_yaml_strdup(ld, s);
}

#define RO(f) SL_CONF_FIELD(struct sl_conf_route, f)

/*
 * The keys of a route (doc/sluice.yaml.5). sl_conf_parse_route() reads
 * the table after retry; every other key is its code's.
 */
const struct sl_conf_keydef sl_conf_route_table[] = {
    {"name", .type = SL_CONF_CODE},
    {"match", .type = SL_CONF_CODE},
    {"cluster", .type = SL_CONF_CODE},
    {"split", .type = SL_CONF_CODE},
    {"sticky", .type = SL_CONF_CODE},
    {"timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 30000, RO(timeout_ms)},
    {"expose_cluster_header", .type = SL_CONF_CODE},
    {"retry", .type = SL_CONF_CODE},
    {"split_failover", .type = SL_CONF_CODE},
    /* edge policy (doc/edge.md sections 4 and 5) */
    {"allow", .type = SL_CONF_CODE},
    {"deny", .type = SL_CONF_CODE},
    {"request_headers", .type = SL_CONF_CODE},
    {"response_headers", .type = SL_CONF_CODE},
    {"max_body_bytes", .type = SL_CONF_CODE},
    /* rate limits (doc/edge.md section 6) */
    /* tunnels (doc/websocket.md) */
    {"upgrade", .type = SL_CONF_CODE},
    {.name = NULL},
};
#undef RO

void
sl_conf_parse_route(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		    size_t idx, struct sl_conf_route *r, struct sl_conf *conf)
{
	const struct sl_yaml_node *v, *namen, *clk, *clv, *splitk, *splitv, *k;
	char lbl[SL_YAML_LABEL_MAX];

	sl_conf_table_defaults(sl_conf_route_table, r);
	sl_conf_table_defaults(sl_conf_retry_table, &r->retry);
	r->split_failover = 1;
	r->index = conf->nroutes++;
	snprintf(lbl, sizeof(lbl), "route-%zu", idx + 1);
	if (map->type != SL_YAML_NODE_MAP) {
		if (map->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(
			    ld, map, "\"routes\": each item must be a mapping");
		return;
	}
	if ((namen = sl_yaml_map_get(map, "name", NULL)) != NULL) {
		sl_yaml_label(ld, lbl, sizeof(lbl), "route", namen, idx);
		sl_yaml_get_name(ld, namen, &r->name);
	} else {
		r->name = sl_yaml_strdup(ld, lbl);
		snprintf(lbl, sizeof(lbl), "route \"route-%zu\"", idx + 1);
	}
	ld->owner = lbl; /* every message below names the route */
	sl_conf_check_keys(ld, map, SL_CONF_SEC_ROUTE);

	if ((v = sl_yaml_map_get(map, "match", NULL)) != NULL &&
	    sl_yaml_get_map(ld, "match", v) == 0)
		parse_match(ld, lbl, v, conf, r);

	/*
	 * Each value is checked even when the route is wrong as a
	 * whole, so that one run shows every mistake.
	 */
	clv = sl_yaml_map_get(map, "cluster", &clk);
	splitv = sl_yaml_map_get(map, "split", &splitk);
	if (clv != NULL && splitv != NULL)
		sl_yaml_err_node(ld, sl_yaml_later(clk, splitk),
				 "%s: \"cluster\" and \"split\" are "
				 "mutually exclusive",
				 lbl);
	else if (clv == NULL && splitv == NULL)
		sl_yaml_err_lacks(
		    ld, map, "%s: missing key \"cluster\" (or \"split\")", lbl);
	if (clv != NULL)
		r->cluster =
		    sl_conf_find_cluster(ld, lbl, "cluster", clv, conf);
	if (splitv != NULL)
		parse_split(ld, lbl, splitk, splitv, r, conf);
	if ((v = sl_yaml_map_get(map, "sticky", &k)) != NULL) {
		if (splitv == NULL && sl_yaml_whole(ld, map))
			sl_yaml_err_node(ld, k,
					 "%s: \"sticky\" needs \"split\" (it "
					 "keeps a user on one cluster of it)",
					 lbl);
		sl_conf_parse_key(ld, "sticky", v, &r->sticky);
	}
	if ((v = sl_yaml_map_get(map, "split_failover", &k)) != NULL) {
		if (splitv == NULL)
			sl_yaml_err_node(
			    ld, k,
			    "%s: \"split_failover\" needs \"split\" "
			    "(it moves "
			    "a request to another cluster of it)",
			    lbl);
		else
			sl_conf_get_bool(ld, "split_failover", v,
					 &r->split_failover);
	}
	if ((v = sl_yaml_map_get(map, "expose_cluster_header", NULL)) != NULL)
		parse_expose(ld, lbl, v, r);
	if ((v = sl_yaml_map_get(map, "retry", NULL)) != NULL)
		parse_retry(ld, lbl, v, r);
	sl_conf_table_read(ld, lbl, map, sl_conf_route_table, r, NULL);
	sl_conf_parse_route_policy(ld, lbl, map, conf, r);
	if ((v = sl_yaml_map_get(map, "upgrade", NULL)) != NULL)
		parse_upgrade(ld, lbl, v, r);
	/* the modules' keys (conf_mods.c): auth, the WAF, compress,
	 * idempotency, mirror, tracing, the canary guard, rate limits */
	sl_conf_modules_route(ld, lbl, map, r, conf);
	ld->owner = NULL;
}

void
sl_conf_free_route(struct sl_conf_route *r)
{
	size_t k;

	free(r->name);
	free(r->host);
	sl_conf_free_hostset(r->hosts);
	free(r->path);
	for (k = 0; k < r->nmethods; k++)
		free(r->methods[k]);
	free(r->methods);
	for (k = 0; k < r->nheaders; k++) {
		free(r->headers[k].name);
		free(r->headers[k].value);
	}
	free(r->headers);
	free(r->split);
	free(r->split_weights);
	free(r->split_ids);
	free(r->sticky.name);
	free(r->expose_cluster_header);
	sl_policy_free(r->policy);
	for (k = 0; k < r->nupgrade; k++)
		free(r->upgrade[k]);
	free(r->upgrade);
	sl_conf_modules_route_free(r);
}
