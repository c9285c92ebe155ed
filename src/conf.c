/* SPDX-License-Identifier: MIT */
/*
 * The sluice schema: walks the YAML node tree of conf_yaml.c into one
 * immutable generation (struct sl_conf), with every validation rule of
 * doc/contracts.md section 1, and owns the generation's lifetime. Holds
 * the top level, listeners, limits, routes and clusters, and the helpers
 * conf_int.h shares; the edge keys (identity, policy, rate limits) are in
 * conf_edge.c, the tls keys in conf_tls.c; conf_secret.c reads the
 * secrets a valid generation names. Reads the file and nothing else; it
 * must not touch libyaml, sockets, DNS or the logs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "conf_int.h"
#include "conf_yaml.h"
#include "policy.h"
#include "util.h"

#define CONF_MAX_FILE	      (16 * 1024 * 1024) /* bytes */
#define CONF_MAX_HOST	      253		 /* bytes of a host pattern */
#define CONF_DAY_MS	      (24ULL * 3600 * 1000)
#define CONF_MAX_WORKERS      1024
#define CONF_MAX_HEADERS      10000
#define CONF_MAX_WEIGHT	      1000
#define CONF_MAX_SPLIT_WEIGHT 10000
#define CONF_MAX_POOL_IDLE    100000
#define CONF_MAX_COUNT	      4294967295ULL /* max_requests */
#define CONF_MAX_RATE	      (1ULL << 30)  /* 1GiB: min_*_rate, bytes/s */
#define CONF_MAX_CONNS	      10000000	    /* max_connections(_per_ip) */
#define CONF_MAX_PENDING      1000000	    /* max_pending */

/* Defaults, doc/contracts.md section 1.3. */
#define DEF_HEADER_TIMEOUT_MS  10000
#define DEF_BODY_TIMEOUT_MS    30000
#define DEF_SEND_TIMEOUT_MS    30000
#define DEF_IDLE_TIMEOUT_MS    60000
#define DEF_MAX_URI_BYTES      (8 * 1024)
#define DEF_MAX_HEADER_BYTES   (32 * 1024)
#define DEF_MAX_HEADERS	       100
#define DEF_MAX_BODY_BYTES     (16 * 1024 * 1024)
#define DEF_BUFFER_BYTES       (64 * 1024)
#define DEF_ROUTE_TIMEOUT_MS   30000
#define DEF_CONNECT_TIMEOUT_MS 1000
#define DEF_POOL_MAX_IDLE      64
#define DEF_POOL_IDLE_MS       30000
#define DEF_POOL_MAX_REQUESTS  10000
#define DEF_DRAIN_TIMEOUT_MS   30000
#define DEF_MAX_PENDING	       100
#define DEF_QUEUE_TIMEOUT_MS   1000

/* ---- HTTP tokens and socket addresses ---------------------------------- */

static int
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int
sl_conf_is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_tchar(s[i]))
			return 0;
	return 1;
}

static int
sockaddr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static uint16_t
sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int
sockaddr_same(const struct sockaddr_storage *a,
	      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family ||
	    sockaddr_port(a) != sockaddr_port(b))
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

/* Two listening sockets would fight over the same port. */
static int
sockaddr_overlap(const struct sockaddr_storage *a,
		 const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family ||
	    sockaddr_port(a) != sockaddr_port(b))
		return 0;
	return sockaddr_is_any(a) || sockaddr_is_any(b);
}

/* ---- clusters ---------------------------------------------------------- */

static const char *const cluster_keys[] = {
    "name",
    "endpoints",
    "balance",
    "hash_key",
    "connect_timeout",
    "pool",
    "max_connections",
    "max_pending",
    "queue_timeout",
    "health_check",
    "outlier",
    "tls",
    /* identity (doc/edge.md section 2) */
    "proxy_protocol",
    NULL,
};
static const char *const health_keys[] = {
    "path",	 "interval",	  "timeout", "healthy",
    "unhealthy", "expect_status", NULL,
};
static const char *const outlier_keys[] = {
    "consecutive_errors",
    "ejection_time",
    "max_ejected_percent",
    NULL,
};
static const char *const pool_keys[] = {
    "max_idle",
    "idle_timeout",
    "max_requests",
    NULL,
};
static const char *const endpoint_keys[] = {"address", "weight", NULL};
static const char *const balance_names[] = {
    "round_robin",
    "least_request",
    "hash",
    NULL,
};

/*
 * "header:NAME", "cookie:NAME" or "client_ip" (sticky: and hash_key:) into
 * k. Returns 0, or -1 with the error reported.
 */
int
sl_conf_parse_key(struct sl_yaml_loader *ld, const char *key,
		  const struct sl_yaml_node *n, struct sl_conf_key *k)
{
	const char *s, *name = NULL;
	enum sl_key_source src;

	if (sl_yaml_get_str(ld, key, n, &s) == -1)
		return -1;
	if (strcmp(s, "client_ip") == 0)
		src = SL_KEY_CLIENT_IP;
	else if (strncmp(s, "header:", 7) == 0) {
		src = SL_KEY_HEADER;
		name = s + 7;
	} else if (strncmp(s, "cookie:", 7) == 0) {
		src = SL_KEY_COOKIE;
		name = s + 7;
	} else {
		sl_yaml_err_node(ld, n,
				 "\"%s\": expected header:NAME, cookie:NAME or "
				 "client_ip, not \"%s\"",
				 key, sl_yaml_qnode(ld, n));
		return -1;
	}
	if (name != NULL && !sl_conf_is_token(name, strlen(name))) {
		sl_yaml_err_node(ld, n, "\"%s\": \"%s\" is not a valid %s name",
				 key, sl_yaml_qstr(ld, name),
				 src == SL_KEY_HEADER ? "header" : "cookie");
		return -1;
	}
	k->source = src;
	if (name != NULL) {
		if ((k->name = sl_yaml_strdup(ld, name)) == NULL)
			return -1;
		k->name_len = strlen(name);
		/* header names compare case-insensitively, cookie names
		 * exactly (RFC 6265) */
		for (size_t i = 0; src == SL_KEY_HEADER && i < k->name_len; i++)
			if (k->name[i] >= 'A' && k->name[i] <= 'Z')
				k->name[i] = (char)(k->name[i] - 'A' + 'a');
	}
	return 0;
}

/* true | false */
int
sl_conf_get_bool(struct sl_yaml_loader *ld, const char *key,
		 const struct sl_yaml_node *n, int *out)
{
	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	if (n->type == SL_YAML_NODE_SCALAR && n->plain &&
	    (strcmp(n->str, "true") == 0 || strcmp(n->str, "false") == 0)) {
		*out = n->str[0] == 't';
		return 0;
	}
	sl_yaml_err_node(ld, n, "\"%s\": expected true or false", key);
	return -1;
}

/* One item of expect_status: 200 or "2xx" into set. Returns 0 or -1. */
static int
expect_item(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
	    uint64_t *set)
{
	const char *s = n->str;
	unsigned lo, hi;

	if (n->type == SL_YAML_NODE_SCALAR && n->len == 3 && s[0] >= '1' &&
	    s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
	    s[2] <= '9') {
		lo = hi = (unsigned)(s[0] - '0') * 100 +
			  (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
	} else if (n->type == SL_YAML_NODE_SCALAR && n->len == 3 &&
		   s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
		   (s[2] == 'x' || s[2] == 'X')) {
		lo = (unsigned)(s[0] - '0') * 100;
		hi = lo + 99;
	} else {
		if (n->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(ld, n,
					 "\"expect_status\": expected a status "
					 "from 100 to 599 or a class such as "
					 "\"2xx\"");
		return -1;
	}
	for (unsigned st = lo; st <= hi; st++)
		set[(st - 100) / 64] |= (uint64_t)1 << ((st - 100) % 64);
	return 0;
}

/* health_check: { path, interval, timeout, healthy, unhealthy,
 * expect_status } */
static void
parse_health(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *map, struct sl_conf_cluster *cl)
{
	struct sl_conf_health *h = &cl->health;
	const struct sl_yaml_node *v;
	const char *str;
	uint64_t u;

	if (sl_yaml_get_map(ld, "health_check", map) == -1)
		return;
	sl_yaml_check_keys(ld, map, health_keys, "in health_check");
	h->enabled = 1;
	if ((v = sl_yaml_map_get(map, "path", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "path", v, &str) == 0) {
		int ok = str[0] == '/';
		for (size_t i = 0; ok && str[i] != '\0'; i++)
			ok = str[i] > 0x20 && str[i] < 0x7f && str[i] != '#';
		if (!ok)
			sl_yaml_err_node(ld, v,
					 "%s: \"path\": \"%s\" must start with "
					 "\"/\" and hold no spaces, controls "
					 "or \"#\"",
					 lbl, sl_yaml_qnode(ld, v));
		else if ((h->path = sl_yaml_strdup(ld, str)) == NULL)
			return;
	}
	if (h->path == NULL && (h->path = sl_yaml_strdup(ld, "/")) == NULL)
		return;
	if ((v = sl_yaml_map_get(map, "interval", NULL)) != NULL)
		sl_yaml_get_duration(ld, "interval", v, 100, CONF_DAY_MS,
				     &h->interval_ms);
	if ((v = sl_yaml_map_get(map, "timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "timeout", v, 1, CONF_DAY_MS,
				     &h->timeout_ms);
	else if (h->timeout_ms >= h->interval_ms)
		/* the default follows a short interval */
		h->timeout_ms = h->interval_ms / 2;
	if ((v = sl_yaml_map_get(map, "healthy", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "healthy", v, 1, 100, &u) == 0)
		h->healthy = (uint32_t)u;
	if ((v = sl_yaml_map_get(map, "unhealthy", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "unhealthy", v, 1, 100, &u) == 0)
		h->unhealthy = (uint32_t)u;
	/* with one of them not read yet, the other may be right */
	if (h->timeout_ms >= h->interval_ms &&
	    (sl_yaml_whole(ld, map) ||
	     (sl_yaml_map_get(map, "timeout", NULL) != NULL &&
	      sl_yaml_map_get(map, "interval", NULL) != NULL)))
		sl_yaml_err_node(
		    ld, map,
		    "%s: health_check: \"timeout\" (%llu ms) must be "
		    "shorter than \"interval\" (%llu ms)",
		    lbl, (unsigned long long)h->timeout_ms,
		    (unsigned long long)h->interval_ms);
	if ((v = sl_yaml_map_get(map, "expect_status", NULL)) != NULL) {
		memset(h->expect, 0, sizeof(h->expect));
		if (v->type == SL_YAML_NODE_SEQ) {
			if (v->nkids == 0)
				sl_yaml_err_lacks(ld, v,
						  "\"expect_status\": must not "
						  "be empty");
			for (size_t i = 0; i < v->nkids; i++)
				expect_item(ld, v->kids[i], h->expect);
		} else
			expect_item(ld, v, h->expect);
	}
}

/* outlier: { consecutive_errors, ejection_time, max_ejected_percent } */
static void
parse_outlier(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	      struct sl_conf_cluster *cl)
{
	struct sl_conf_outlier *o = &cl->outlier;
	const struct sl_yaml_node *v;
	uint64_t u;

	if (sl_yaml_get_map(ld, "outlier", map) == -1)
		return;
	sl_yaml_check_keys(ld, map, outlier_keys, "in outlier");
	o->enabled = 1;
	if ((v = sl_yaml_map_get(map, "consecutive_errors", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "consecutive_errors", v, 1, 1000, &u) == 0)
		o->consecutive_errors = (uint32_t)u;
	if ((v = sl_yaml_map_get(map, "ejection_time", NULL)) != NULL)
		sl_yaml_get_duration(ld, "ejection_time", v, 1, CONF_DAY_MS,
				     &o->ejection_time_ms);
	if ((v = sl_yaml_map_get(map, "max_ejected_percent", NULL)) != NULL &&
	    sl_yaml_get_percent(ld, "max_ejected_percent", v, 0, 100, &u) == 0)
		o->max_ejected_percent = (uint32_t)u;
}

static void
parse_pool(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	   struct sl_conf_cluster *cl)
{
	const struct sl_yaml_node *v;

	sl_yaml_check_keys(ld, map, pool_keys, "in pool");
	if ((v = sl_yaml_map_get(map, "max_idle", NULL)) != NULL)
		sl_yaml_get_uint(ld, "max_idle", v, 0, CONF_MAX_POOL_IDLE,
				 &cl->pool_max_idle);
	if ((v = sl_yaml_map_get(map, "idle_timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "idle_timeout", v, 1, CONF_DAY_MS,
				     &cl->pool_idle_timeout_ms);
	if ((v = sl_yaml_map_get(map, "max_requests", NULL)) != NULL)
		sl_yaml_get_uint(ld, "max_requests", v, 0, CONF_MAX_COUNT,
				 &cl->pool_max_requests);
}

static void
parse_endpoints(struct sl_yaml_loader *ld, const char *lbl,
		const struct sl_yaml_node *seq, struct sl_conf_cluster *cl)
{
	struct sl_conf_endpoint *ep;
	const struct sl_yaml_node *item, *addr, **where;
	uint64_t w;
	size_t i, j;

	if ((cl->endpoints = calloc(seq->nkids, sizeof(*ep))) == NULL ||
	    (where = calloc(seq->nkids, sizeof(*where))) == NULL) {
		ld->oom = 1;
		return;
	}
	cl->nendpoints = seq->nkids;
	for (i = 0; i < seq->nkids; i++) {
		ep = &cl->endpoints[i];
		ep->index = i;
		ep->weight = 1;
		item = seq->kids[i];
		addr = NULL;
		if (item->type == SL_YAML_NODE_MAP) {
			sl_yaml_check_keys(ld, item, endpoint_keys,
					   "in endpoint");
			if ((addr = sl_yaml_map_get(item, "address", NULL)) ==
			    NULL)
				sl_yaml_err_lacks(ld, item,
						  "%s: endpoint: missing key "
						  "\"address\"",
						  lbl);
			if ((item = sl_yaml_map_get(item, "weight", NULL)) !=
				NULL &&
			    sl_yaml_get_uint(ld, "weight", item, 1,
					     CONF_MAX_WEIGHT, &w) == 0)
				ep->weight = (uint32_t)w;
		} else if (item->type == SL_YAML_NODE_SCALAR &&
			   !sl_yaml_is_null(item))
			addr = item;
		else if (item->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(
			    ld, item,
			    "\"endpoints\": expected \"HOST:PORT\" or a "
			    "mapping with \"address\" and \"weight\"");
		if (addr == NULL ||
		    sl_yaml_get_addr(ld, "address", addr, &ep->addr))
			continue;
		ep->id = sl_hash64(ep->addr.text, strlen(ep->addr.text));
		where[i] = addr;
		for (j = 0; j < i; j++) {
			if (where[j] != NULL &&
			    sockaddr_same(&cl->endpoints[j].addr.ss,
					  &ep->addr.ss)) {
				sl_yaml_err_node(
				    ld, addr,
				    "%s: duplicate endpoint %s (first at "
				    "%u:%u; use \"weight\" instead)",
				    lbl, sl_yaml_qnode(ld, addr),
				    where[j]->line, where[j]->col);
				break;
			}
		}
	}
	free(where);
}

static void
parse_cluster(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	      size_t idx, struct sl_conf_cluster *cl)
{
	const struct sl_yaml_node *v, *namen, *k;
	char lbl[SL_YAML_LABEL_MAX];
	int e;

	cl->index = idx;
	cl->balance = SL_BALANCE_ROUND_ROBIN;
	cl->connect_timeout_ms = DEF_CONNECT_TIMEOUT_MS;
	cl->pool_max_idle = DEF_POOL_MAX_IDLE;
	cl->pool_idle_timeout_ms = DEF_POOL_IDLE_MS;
	cl->pool_max_requests = DEF_POOL_MAX_REQUESTS;
	cl->max_connections = 0;
	cl->max_pending = DEF_MAX_PENDING;
	cl->queue_timeout_ms = DEF_QUEUE_TIMEOUT_MS;
	cl->health.interval_ms = 5000;
	cl->health.timeout_ms = 1000;
	cl->health.healthy = 2;
	cl->health.unhealthy = 3;
	for (unsigned st = 200; st <= 299; st++)
		cl->health.expect[(st - 100) / 64] |= (uint64_t)1
						      << ((st - 100) % 64);
	cl->outlier.consecutive_errors = 5;
	cl->outlier.ejection_time_ms = 30000;
	cl->outlier.max_ejected_percent = 10;
	if (map->type != SL_YAML_NODE_MAP) {
		if (map->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(
			    ld, map,
			    "\"clusters\": each item must be a mapping");
		return;
	}
	sl_yaml_check_keys(ld, map, cluster_keys, "in cluster");
	namen = sl_yaml_map_get(map, "name", NULL);
	sl_yaml_label(ld, lbl, sizeof(lbl), "cluster", namen, idx);
	if (namen == NULL)
		sl_yaml_err_lacks(ld, map, "%s: missing key \"name\"", lbl);
	else
		sl_yaml_get_name(ld, namen, &cl->name);

	if ((v = sl_yaml_map_get(map, "endpoints", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map, "%s: missing key \"endpoints\"",
				  lbl);
	else if (sl_yaml_get_seq(ld, "endpoints", v) == 0) {
		if (v->nkids == 0)
			sl_yaml_err_lacks(
			    ld, v, "%s: \"endpoints\" must not be empty", lbl);
		else
			parse_endpoints(ld, lbl, v, cl);
	}
	/* -1: "balance" wrong; -2: not read, it may come after a stop */
	e = sl_yaml_whole(ld, map) ? 0 : -2;
	if ((v = sl_yaml_map_get(map, "balance", NULL)) != NULL &&
	    (e = sl_yaml_get_enum(ld, "balance", v, balance_names,
				  "round_robin, least_request or hash")) >= 0)
		cl->balance = (enum sl_balance)e;
	cl->hash_key.source = SL_KEY_CLIENT_IP;
	if ((v = sl_yaml_map_get(map, "hash_key", &k)) != NULL) {
		/* not when "balance" is wrong itself: it may say hash */
		if (cl->balance != SL_BALANCE_HASH && e >= 0)
			sl_yaml_err_node(ld, k,
					 "%s: \"hash_key\" needs \"balance: "
					 "hash\"",
					 lbl);
		sl_conf_parse_key(ld, "hash_key", v, &cl->hash_key);
	}
	if ((v = sl_yaml_map_get(map, "connect_timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "connect_timeout", v, 1, CONF_DAY_MS,
				     &cl->connect_timeout_ms);
	if ((v = sl_yaml_map_get(map, "pool", NULL)) != NULL &&
	    sl_yaml_get_map(ld, "pool", v) == 0)
		parse_pool(ld, v, cl);
	if ((v = sl_yaml_map_get(map, "max_connections", NULL)) != NULL)
		sl_yaml_get_uint(ld, "max_connections", v, 0, CONF_MAX_CONNS,
				 &cl->max_connections);
	if ((v = sl_yaml_map_get(map, "max_pending", NULL)) != NULL)
		sl_yaml_get_uint(ld, "max_pending", v, 0, CONF_MAX_PENDING,
				 &cl->max_pending);
	if ((v = sl_yaml_map_get(map, "queue_timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "queue_timeout", v, 1, CONF_DAY_MS,
				     &cl->queue_timeout_ms);
	if ((v = sl_yaml_map_get(map, "health_check", NULL)) != NULL)
		parse_health(ld, lbl, v, cl);
	if ((v = sl_yaml_map_get(map, "outlier", NULL)) != NULL)
		parse_outlier(ld, v, cl);
	cl->tls.verify = 1;
	cl->tls.min_version = 12;
	if ((v = sl_yaml_map_get(map, "tls", NULL)) != NULL)
		sl_conf_parse_tls_client(ld, lbl, v, &cl->tls);
	sl_conf_parse_cluster_identity(ld, map, cl);
}

static void
parse_clusters(struct sl_yaml_loader *ld, const struct sl_yaml_node *seq,
	       struct sl_conf *conf)
{
	const struct sl_yaml_node *a, *b;
	size_t i, j;

	if (sl_yaml_get_seq(ld, "clusters", seq) == -1 || seq->nkids == 0)
		return;
	if ((conf->clusters = calloc(seq->nkids, sizeof(*conf->clusters))) ==
	    NULL) {
		ld->oom = 1;
		return;
	}
	conf->nclusters = seq->nkids;
	for (i = 0; i < seq->nkids; i++)
		parse_cluster(ld, seq->kids[i], i, &conf->clusters[i]);
	for (i = 1; i < conf->nclusters; i++) {
		if (conf->clusters[i].name == NULL)
			continue;
		for (j = 0; j < i; j++) {
			if (conf->clusters[j].name == NULL ||
			    strcmp(conf->clusters[i].name,
				   conf->clusters[j].name) != 0)
				continue;
			a = sl_yaml_map_get(seq->kids[j], "name", NULL);
			b = sl_yaml_map_get(seq->kids[i], "name", NULL);
			sl_yaml_err_node(
			    ld, b,
			    "duplicate cluster name \"%s\" (first at "
			    "%u:%u)",
			    sl_yaml_qnode(ld, b), a->line, a->col);
			break;
		}
	}
}

/* ---- listeners and routes ---------------------------------------------- */

static const char *const listener_keys[] = {
    "name",
    "address",
    "limits",
    "tls",
    "routes",
    /* edge policy (doc/edge.md sections 4 and 5) */
    "allow",
    "deny",
    "request_headers",
    "response_headers",
    /* identity (doc/edge.md sections 2 and 3) */
    "proxy_protocol",
    "trusted_proxies",
    "client_address_header",
    "untrusted_forwarded",
    NULL,
};
static const char *const limits_keys[] = {
    "header_timeout",  "body_timeout",		 "send_timeout",
    "idle_timeout",    "max_uri_bytes",		 "max_header_bytes",
    "max_headers",     "max_body_bytes",	 "buffer_bytes",
    "max_requests",    "min_body_rate",		 "min_send_rate",
    "max_connections", "max_connections_per_ip", NULL,
};
static const char *const route_keys[] = {
    "name",
    "match",
    "cluster",
    "split",
    "sticky",
    "mirror",
    "timeout",
    "expose_cluster_header",
    "retry",
    "split_failover",
    /* edge policy (doc/edge.md sections 4 and 5) */
    "allow",
    "deny",
    "request_headers",
    "response_headers",
    "max_body_bytes",
    /* rate limits (doc/edge.md section 6) */
    "rate_limit",
    NULL,
};
static const char *const split_keys[] = {"cluster", "weight", NULL};
static const char *const retry_keys[] = {
    "attempts", "on", "idempotency_key", "per_try_timeout", "budget", NULL,
};
static const char *const retry_on_names[] = {
    "connect-failure", "reset", "timeout", "502", "503", "504", NULL,
};
static const char *const mirror_keys[] = {"cluster", "percent", NULL};
static const char *const match_keys[] = {
    "host", "path", "path_prefix", "methods", "headers", NULL,
};

static void
parse_limits(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	     struct sl_conf_limits *lim)
{
	const struct sl_yaml_node *v, *uri, *hdr, *buf;
	char a[32], b[32];
	int whole;

	sl_yaml_check_keys(ld, map, limits_keys, "in limits");
	if ((v = sl_yaml_map_get(map, "header_timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "header_timeout", v, 1, CONF_DAY_MS,
				     &lim->header_timeout_ms);
	if ((v = sl_yaml_map_get(map, "body_timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "body_timeout", v, 1, CONF_DAY_MS,
				     &lim->body_timeout_ms);
	if ((v = sl_yaml_map_get(map, "send_timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "send_timeout", v, 1, CONF_DAY_MS,
				     &lim->send_timeout_ms);
	if ((v = sl_yaml_map_get(map, "idle_timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "idle_timeout", v, 1, CONF_DAY_MS,
				     &lim->idle_timeout_ms);
	if ((hdr = sl_yaml_map_get(map, "max_header_bytes", NULL)) != NULL &&
	    sl_yaml_get_size(ld, "max_header_bytes", hdr, 256, 1024 * 1024,
			     &lim->max_header_bytes) == -1)
		hdr = NULL; /* keep the default, skip the cross checks */
	if ((uri = sl_yaml_map_get(map, "max_uri_bytes", NULL)) != NULL &&
	    sl_yaml_get_size(ld, "max_uri_bytes", uri, 16, UINT64_MAX,
			     &lim->max_uri_bytes) == -1)
		uri = NULL;
	if ((v = sl_yaml_map_get(map, "max_headers", NULL)) != NULL)
		sl_yaml_get_uint(ld, "max_headers", v, 1, CONF_MAX_HEADERS,
				 &lim->max_headers);
	if ((v = sl_yaml_map_get(map, "max_body_bytes", NULL)) != NULL)
		sl_yaml_get_size(ld, "max_body_bytes", v, 0, UINT64_MAX,
				 &lim->max_body_bytes);
	if ((buf = sl_yaml_map_get(map, "buffer_bytes", NULL)) != NULL &&
	    sl_yaml_get_size(ld, "buffer_bytes", buf, 4 * 1024,
			     64 * 1024 * 1024, &lim->buffer_bytes) == -1)
		buf = NULL;
	if ((v = sl_yaml_map_get(map, "max_requests", NULL)) != NULL)
		sl_yaml_get_uint(ld, "max_requests", v, 0, CONF_MAX_COUNT,
				 &lim->max_requests);
	/* Rates are written as sizes: bytes per second, no "/s". */
	if ((v = sl_yaml_map_get(map, "min_body_rate", NULL)) != NULL)
		sl_yaml_get_size(ld, "min_body_rate", v, 0, CONF_MAX_RATE,
				 &lim->min_body_rate_bps);
	if ((v = sl_yaml_map_get(map, "min_send_rate", NULL)) != NULL)
		sl_yaml_get_size(ld, "min_send_rate", v, 0, CONF_MAX_RATE,
				 &lim->min_send_rate_bps);
	if ((v = sl_yaml_map_get(map, "max_connections", NULL)) != NULL)
		sl_yaml_get_uint(ld, "max_connections", v, 0, CONF_MAX_CONNS,
				 &lim->max_connections);
	if ((v = sl_yaml_map_get(map, "max_connections_per_ip", NULL)) != NULL)
		sl_yaml_get_uint(ld, "max_connections_per_ip", v, 0,
				 CONF_MAX_CONNS, &lim->max_connections_per_ip);

	/*
	 * Report a conflict at whichever of the two keys is written; with
	 * one of them not read yet (parsing stopped), it may be right.
	 */
	whole = sl_yaml_whole(ld, map);
	if (lim->max_uri_bytes > lim->max_header_bytes && (uri || hdr) &&
	    (whole || (uri && hdr)))
		sl_yaml_err_node(
		    ld, uri ? uri : hdr,
		    "\"max_uri_bytes\" (%s) must not exceed "
		    "\"max_header_bytes\" (%s)",
		    sl_yaml_fmt_size(a, sizeof(a), lim->max_uri_bytes),
		    sl_yaml_fmt_size(b, sizeof(b), lim->max_header_bytes));
	/* The whole request head must fit in one buffer. */
	if (lim->max_header_bytes > lim->buffer_bytes && (hdr || buf) &&
	    (whole || (hdr && buf)))
		sl_yaml_err_node(
		    ld, hdr ? hdr : buf,
		    "\"max_header_bytes\" (%s) must not exceed "
		    "\"buffer_bytes\" (%s)",
		    sl_yaml_fmt_size(a, sizeof(a), lim->max_header_bytes),
		    sl_yaml_fmt_size(b, sizeof(b), lim->buffer_bytes));
}

/* Exact host name or "*.suffix"; lower-cased into r->host. */
static void
parse_host(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
	   struct sl_conf_route *r)
{
	const char *s, *p, *name;
	size_t i, len, nlen;
	int wild = 0, ok = 1;

	if (sl_yaml_get_str(ld, "host", n, &s) == -1)
		return;
	len = n->len;
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		wild = 1;
		s++;
		len--;
	}
	if (s[0] == '[') {
		/* An IPv6 literal as it appears in a Host header. */
		p = strchr(s, ']');
		if (wild || p == NULL || p == s + 1)
			ok = 0;
		else if (p[1] == ':') {
			sl_yaml_err_node(ld, n,
					 "\"host\": \"%s\" must not contain a "
					 "port",
					 sl_yaml_qnode(ld, n));
			return;
		} else if (p[1] != '\0')
			ok = 0;
		for (i = 1; ok && s + i < p; i++)
			if (strchr("0123456789abcdefABCDEF:.", s[i]) == NULL)
				ok = 0;
	} else {
		if ((p = strchr(s, ':')) != NULL) {
			sl_yaml_err_node(ld, n,
					 "\"host\": \"%s\" must not contain a "
					 "port",
					 sl_yaml_qnode(ld, n));
			return;
		}
		/* Dot-separated non-empty labels of [A-Za-z0-9_-]. */
		name = s + wild; /* after the "." of "*." */
		nlen = len - (size_t)wild;
		if (nlen == 0 || nlen > CONF_MAX_HOST || name[0] == '.' ||
		    name[nlen - 1] == '.')
			ok = 0;
		for (i = 0; ok && i < nlen; i++) {
			char c = name[i];

			if (c == '.' && name[i + 1] == '.')
				ok = 0;
			else if (!((c >= 'a' && c <= 'z') ||
				   (c >= 'A' && c <= 'Z') ||
				   (c >= '0' && c <= '9') || c == '-' ||
				   c == '_' || c == '.'))
				ok = 0;
		}
	}
	if (!ok) {
		sl_yaml_err_node(
		    ld, n,
		    "\"host\": invalid host pattern \"%s\" (expected a "
		    "name or *.suffix)",
		    sl_yaml_qnode(ld, n));
		return;
	}
	if ((r->host = sl_yaml_strdup(ld, s)) == NULL)
		return;
	for (i = 0; r->host[i] != '\0'; i++)
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

static void
parse_headers(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	      struct sl_conf_route *r)
{
	struct sl_conf_header_match *h;
	const struct sl_yaml_node *k, *v;
	size_t i, j, vl;
	int bad;

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
		for (j = 0; j < vl; j++) {
			unsigned char c = (unsigned char)v->str[j];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				break;
		}
		if (j < vl ||
		    (vl > 0 &&
		     (v->str[0] == ' ' || v->str[0] == '\t' ||
		      v->str[vl - 1] == ' ' || v->str[vl - 1] == '\t'))) {
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
	    const struct sl_yaml_node *map, struct sl_conf_route *r)
{
	const struct sl_yaml_node *v, *path, *prefix, *pathk, *prefixk;

	sl_yaml_check_keys(ld, map, match_keys, "in match");
	if ((v = sl_yaml_map_get(map, "host", NULL)) != NULL)
		parse_host(ld, v, r);
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
		parse_headers(ld, v, r);
}

/* "unknown cluster", with the closest cluster name when one is close. */
static void
unknown_cluster(struct sl_yaml_loader *ld, const char *lbl,
		const struct sl_yaml_node *n, const struct sl_conf *conf)
{
	char mean[SL_YAML_LABEL_MAX] = "";
	const char *best = NULL;
	unsigned bestd = 0;
	size_t i;

	for (i = 0; i < conf->nclusters; i++)
		if (conf->clusters[i].name != NULL)
			sl_yaml_suggest(n->str, conf->clusters[i].name, &best,
					&bestd);
	if (best != NULL)
		snprintf(mean, sizeof(mean), " (did you mean \"%s\"?)", best);
	sl_yaml_err_node(ld, n, "%s: unknown cluster \"%s\"%s", lbl,
			 sl_yaml_qnode(ld, n), mean);
}

/* The cluster a string node names, or NULL (reported, with a suggestion
 * when one is close). */
static struct sl_conf_cluster *
find_cluster(struct sl_yaml_loader *ld, const char *lbl, const char *key,
	     const struct sl_yaml_node *n, struct sl_conf *conf)
{
	const char *s;

	if (sl_yaml_get_str(ld, key, n, &s) == -1)
		return NULL;
	for (size_t i = 0; i < conf->nclusters; i++)
		if (conf->clusters[i].name != NULL &&
		    strcmp(conf->clusters[i].name, s) == 0)
			return &conf->clusters[i];
	if (!ld->names_cut)
		unknown_cluster(ld, lbl, n, conf);
	return NULL;
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
		sl_yaml_check_keys(ld, item, split_keys, "in split");
		if ((c = sl_yaml_map_get(item, "cluster", NULL)) == NULL)
			sl_yaml_err_lacks(ld, item,
					  "%s: split: missing key \"cluster\"",
					  lbl);
		else if ((sp->cluster = find_cluster(ld, lbl, "cluster", c,
						     conf)) != NULL) {
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

/* retry: { attempts, on, idempotency_key, per_try_timeout, budget } */
static void
parse_retry(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	    struct sl_conf_route *r)
{
	struct sl_conf_retry *rt = &r->retry;
	const struct sl_yaml_node *v;
	uint64_t u;

	if (sl_yaml_get_map(ld, "retry", map) == -1)
		return;
	sl_yaml_check_keys(ld, map, retry_keys, "in retry");
	if ((v = sl_yaml_map_get(map, "attempts", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "attempts", v, 1, 10, &u) == 0)
		rt->attempts = (uint32_t)u;
	if ((v = sl_yaml_map_get(map, "on", NULL)) != NULL &&
	    sl_yaml_get_seq(ld, "on", v) == 0) {
		rt->on = 0;
		for (size_t i = 0; i < v->nkids; i++) {
			int e = sl_yaml_get_enum(
			    ld, "on", v->kids[i], retry_on_names,
			    "connect-failure, reset, timeout, 502, 503 or 504");
			if (e >= 0)
				rt->on |= 1u << e;
		}
	}
	if ((v = sl_yaml_map_get(map, "idempotency_key", NULL)) != NULL)
		sl_conf_get_bool(ld, "idempotency_key", v,
				 &rt->idempotency_key);
	if ((v = sl_yaml_map_get(map, "per_try_timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "per_try_timeout", v, 1, CONF_DAY_MS,
				     &rt->per_try_timeout_ms);
	if ((v = sl_yaml_map_get(map, "budget", NULL)) != NULL &&
	    sl_yaml_get_percent(ld, "budget", v, 0, 100, &u) == 0)
		rt->budget_percent = (uint32_t)u;
}

/* mirror: { cluster: NAME, percent: 0..100 } */
static void
parse_mirror(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *map, struct sl_conf_route *r,
	     struct sl_conf *conf)
{
	const struct sl_yaml_node *c, *p;
	uint64_t pct = 100;

	if (sl_yaml_get_map(ld, "mirror", map) == -1)
		return;
	sl_yaml_check_keys(ld, map, mirror_keys, "in mirror");
	/* a wrong percent does not hide what is wrong with the cluster */
	if ((p = sl_yaml_map_get(map, "percent", NULL)) != NULL)
		sl_yaml_get_uint(ld, "percent", p, 0, 100, &pct);
	if ((c = sl_yaml_map_get(map, "cluster", NULL)) == NULL) {
		sl_yaml_err_lacks(ld, map,
				  "%s: mirror: missing key \"cluster\"", lbl);
		return;
	}
	if ((r->mirror = find_cluster(ld, lbl, "cluster", c, conf)) == NULL)
		return;
	r->mirror_percent = (uint32_t)pct;
	/* a copy sent where the request goes anyway doubles its effect */
	if (r->mirror == r->cluster) {
		sl_yaml_err_node(ld, c,
				 "%s: \"mirror\" to \"%s\", the route's own "
				 "cluster",
				 lbl, sl_yaml_qnode(ld, c));
		r->mirror = NULL;
	}
	for (size_t i = 0; r->mirror != NULL && i < r->nsplit; i++)
		if (r->split[i].cluster == r->mirror) {
			sl_yaml_err_node(ld, c,
					 "%s: \"mirror\" to \"%s\", a cluster "
					 "of the route's split",
					 lbl, sl_yaml_qnode(ld, c));
			r->mirror = NULL;
		}
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

static void
parse_route(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	    size_t idx, struct sl_conf_route *r, struct sl_conf *conf)
{
	const struct sl_yaml_node *v, *namen, *clk, *clv, *splitk, *splitv, *k;
	char lbl[SL_YAML_LABEL_MAX];

	r->timeout_ms = DEF_ROUTE_TIMEOUT_MS;
	r->retry.attempts = 2;
	r->retry.on = SL_RETRY_ON_CONNECT | SL_RETRY_ON_RESET;
	r->retry.budget_percent = 20;
	r->split_failover = 1;
	r->index = conf->nroutes++;
	snprintf(lbl, sizeof(lbl), "route-%zu", idx + 1);
	if (map->type != SL_YAML_NODE_MAP) {
		if (map->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(
			    ld, map, "\"routes\": each item must be a mapping");
		return;
	}
	sl_yaml_check_keys(ld, map, route_keys, "in route");
	if ((namen = sl_yaml_map_get(map, "name", NULL)) != NULL) {
		sl_yaml_label(ld, lbl, sizeof(lbl), "route", namen, idx);
		sl_yaml_get_name(ld, namen, &r->name);
	} else {
		r->name = sl_yaml_strdup(ld, lbl);
		snprintf(lbl, sizeof(lbl), "route \"route-%zu\"", idx + 1);
	}

	if ((v = sl_yaml_map_get(map, "match", NULL)) != NULL &&
	    sl_yaml_get_map(ld, "match", v) == 0)
		parse_match(ld, lbl, v, r);

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
		r->cluster = find_cluster(ld, lbl, "cluster", clv, conf);
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
	if ((v = sl_yaml_map_get(map, "mirror", NULL)) != NULL)
		parse_mirror(ld, lbl, v, r, conf);
	if ((v = sl_yaml_map_get(map, "expose_cluster_header", NULL)) != NULL)
		parse_expose(ld, lbl, v, r);
	if ((v = sl_yaml_map_get(map, "retry", NULL)) != NULL)
		parse_retry(ld, v, r);
	if ((v = sl_yaml_map_get(map, "timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "timeout", v, 1, CONF_DAY_MS,
				     &r->timeout_ms);
	sl_conf_parse_route_policy(ld, lbl, map, r);
	if ((v = sl_yaml_map_get(map, "rate_limit", NULL)) != NULL)
		sl_conf_parse_rate_limits(ld, lbl, v, r);
}

static void
limits_defaults(struct sl_conf_limits *lim)
{
	lim->header_timeout_ms = DEF_HEADER_TIMEOUT_MS;
	lim->body_timeout_ms = DEF_BODY_TIMEOUT_MS;
	lim->send_timeout_ms = DEF_SEND_TIMEOUT_MS;
	lim->idle_timeout_ms = DEF_IDLE_TIMEOUT_MS;
	lim->max_uri_bytes = DEF_MAX_URI_BYTES;
	lim->max_header_bytes = DEF_MAX_HEADER_BYTES;
	lim->max_headers = DEF_MAX_HEADERS;
	lim->max_body_bytes = DEF_MAX_BODY_BYTES;
	lim->buffer_bytes = DEF_BUFFER_BYTES;
	lim->max_requests = 0;
	lim->min_body_rate_bps = 0;
	lim->min_send_rate_bps = 0;
	lim->max_connections = 0;
	lim->max_connections_per_ip = 0;
}

/* Returns the address node when the listener's address is usable. */
static const struct sl_yaml_node *
parse_listener(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	       size_t idx, struct sl_conf_listener *l, struct sl_conf *conf)
{
	const struct sl_yaml_node *v, *namen, *addr = NULL;
	char lbl[SL_YAML_LABEL_MAX];
	size_t i;

	limits_defaults(&l->limits);
	if (map->type != SL_YAML_NODE_MAP) {
		if (map->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(ld, map,
					 "\"listeners\": each item "
					 "must be a mapping");
		return NULL;
	}
	sl_yaml_check_keys(ld, map, listener_keys, "in listener");
	namen = sl_yaml_map_get(map, "name", NULL);
	sl_yaml_label(ld, lbl, sizeof(lbl), "listener", namen, idx);
	if (namen == NULL)
		sl_yaml_err_lacks(ld, map, "%s: missing key \"name\"", lbl);
	else
		sl_yaml_get_name(ld, namen, &l->name);

	if ((v = sl_yaml_map_get(map, "address", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map, "%s: missing key \"address\"", lbl);
	else if (sl_yaml_get_addr(ld, "address", v, &l->addr) == 0) {
		addr = v;
		l->addr_pos.line = v->line;
		l->addr_pos.col = v->col;
	}

	if ((v = sl_yaml_map_get(map, "limits", NULL)) != NULL &&
	    sl_yaml_get_map(ld, "limits", v) == 0)
		parse_limits(ld, v, &l->limits);
	l->tls.min_version = 12;
	l->tls.session_tickets = 1;
	l->tls.session_cache = 20000;
	if ((v = sl_yaml_map_get(map, "tls", NULL)) != NULL)
		sl_conf_parse_tls_server(ld, lbl, v, &l->tls);
	sl_conf_parse_policy(ld, map, &l->policy);
	sl_conf_parse_identity(ld, lbl, map, l);

	if ((v = sl_yaml_map_get(map, "routes", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map, "%s: missing key \"routes\"", lbl);
	else if (sl_yaml_get_seq(ld, "routes", v) == 0) {
		if (v->nkids == 0) {
			sl_yaml_err_lacks(
			    ld, v, "%s: \"routes\" must not be empty", lbl);
			return addr;
		}
		if ((l->routes = calloc(v->nkids, sizeof(*l->routes))) ==
		    NULL) {
			ld->oom = 1;
			return addr;
		}
		l->nroutes = v->nkids;
		for (i = 0; i < v->nkids; i++)
			parse_route(ld, v->kids[i], i, &l->routes[i], conf);
	}
	sl_conf_check_listener_policy(ld, l);
	return addr;
}

/* Duplicate names, and addresses that two sockets cannot both listen
 * on. */
static void
check_listeners(struct sl_yaml_loader *ld, const struct sl_yaml_node *seq,
		const struct sl_yaml_node **addrs,
		const struct sl_yaml_node *admin, struct sl_conf *conf)
{
	const struct sl_conf_listener *a, *b;
	const struct sl_yaml_node *na, *nb;
	size_t i, j;

	for (i = 1; i < conf->nlisteners; i++) {
		b = &conf->listeners[i];
		for (j = 0; b->name != NULL && j < i; j++) {
			a = &conf->listeners[j];
			if (a->name == NULL || strcmp(a->name, b->name) != 0)
				continue;
			na = sl_yaml_map_get(seq->kids[j], "name", NULL);
			nb = sl_yaml_map_get(seq->kids[i], "name", NULL);
			sl_yaml_err_node(
			    ld, nb,
			    "duplicate listener name \"%s\" (first at "
			    "%u:%u)",
			    sl_yaml_qnode(ld, nb), na->line, na->col);
			break;
		}
		for (j = 0; addrs[i] != NULL && j < i; j++) {
			a = &conf->listeners[j];
			if (addrs[j] == NULL)
				continue;
			if (sockaddr_same(&a->addr.ss, &b->addr.ss))
				sl_yaml_err_node(
				    ld, addrs[i],
				    "listener \"%s\": address %s is "
				    "already used by listener \"%s\"",
				    b->name ? sl_yaml_qstr(ld, b->name) : "?",
				    sl_yaml_qstr(ld, b->addr.text),
				    a->name ? sl_yaml_qstr(ld, a->name) : "?");
			else if (sockaddr_overlap(&a->addr.ss, &b->addr.ss))
				sl_yaml_err_node(
				    ld, addrs[i],
				    "listener \"%s\": address %s "
				    "overlaps "
				    "%s of listener \"%s\"",
				    b->name ? sl_yaml_qstr(ld, b->name) : "?",
				    sl_yaml_qstr(ld, b->addr.text),
				    sl_yaml_qstr(ld, a->addr.text),
				    a->name ? sl_yaml_qstr(ld, a->name) : "?");
			else
				continue;
			break;
		}
	}
	if (admin == NULL)
		return;
	for (j = 0; j < conf->nlisteners; j++) {
		a = &conf->listeners[j];
		if (addrs[j] == NULL ||
		    !(sockaddr_same(&a->addr.ss, &conf->admin_addr.ss) ||
		      sockaddr_overlap(&a->addr.ss, &conf->admin_addr.ss)))
			continue;
		sl_yaml_err_node(ld, admin,
				 "\"admin\": address %s conflicts with %s of "
				 "listener "
				 "\"%s\"",
				 sl_yaml_qstr(ld, conf->admin_addr.text),
				 sl_yaml_qstr(ld, a->addr.text),
				 a->name ? sl_yaml_qstr(ld, a->name) : "?");
		break;
	}
}

static void
parse_listeners(struct sl_yaml_loader *ld, const struct sl_yaml_node *seq,
		const struct sl_yaml_node *admin, struct sl_conf *conf)
{
	const struct sl_yaml_node **addrs;
	size_t i;

	if (sl_yaml_get_seq(ld, "listeners", seq) == -1)
		return;
	if (seq->nkids == 0) {
		sl_yaml_err_lacks(ld, seq, "\"listeners\": must not be empty");
		return;
	}
	if ((conf->listeners = calloc(seq->nkids, sizeof(*conf->listeners))) ==
		NULL ||
	    (addrs = calloc(seq->nkids, sizeof(*addrs))) == NULL) {
		ld->oom = 1;
		return;
	}
	conf->nlisteners = seq->nkids;
	for (i = 0; i < seq->nkids; i++)
		addrs[i] = parse_listener(ld, seq->kids[i], i,
					  &conf->listeners[i], conf);
	check_listeners(ld, seq, addrs, admin, conf);
	free(addrs);
}

/* ---- top level
 * --------------------------------------------------------- */

static const char *const top_keys[] = {
    "workers",		"admin",     "log",
    "drain_timeout",	"listeners", "clusters",
    "rate_limit_store", NULL,
};
static const char *const admin_keys[] = {"address", NULL};
static const char *const log_keys[] = {
    "level", "access", "access_format", "query", "mask_card_numbers", NULL};
static const char *const query_names[] = {"names", "full", "off", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug",
					  NULL};
static const char *const format_names[] = {"json", "combined", NULL};

static void
parse_workers(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
	      struct sl_conf *conf)
{
	const char *s = n->str;
	uint64_t v;

	if (n->type == SL_YAML_NODE_BAD)
		return;
	if (sl_yaml_is_string(n) && strcmp(n->str, "auto") == 0) {
		conf->workers = 0;
		return;
	}
	if (n->type != SL_YAML_NODE_SCALAR || !n->plain ||
	    strlen(s) != n->len ||
	    sl_yaml_parse_digits(&s, &v) == SL_YAML_NUM_BAD || *s != '\0' ||
	    v == 0) {
		sl_yaml_err_node(ld, n,
				 "\"workers\": expected an integer >= 1 or "
				 "\"auto\"");
		return;
	}
	s = n->str;
	if (sl_yaml_parse_digits(&s, &v) != SL_YAML_NUM_OK ||
	    v > CONF_MAX_WORKERS) {
		sl_yaml_err_node(ld, n,
				 "\"workers\": %s is out of range (1..%d)",
				 sl_yaml_qnode(ld, n), CONF_MAX_WORKERS);
		return;
	}
	conf->workers = (unsigned)v;
}

static void
parse_log(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	  struct sl_conf *conf)
{
	const struct sl_yaml_node *v;
	const char *s;
	char *d;
	int e;

	sl_yaml_check_keys(ld, map, log_keys, "in log");
	if ((v = sl_yaml_map_get(map, "level", NULL)) != NULL &&
	    (e = sl_yaml_get_enum(ld, "level", v, level_names,
				  "error, warn, info or debug")) >= 0)
		conf->log_level = (enum sl_log_level)e;
	if ((v = sl_yaml_map_get(map, "access", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "access", v, &s) == 0) {
		if (s[0] == '\0')
			sl_yaml_err_node(ld, v,
					 "\"access\": expected off, "
					 "stdout, stderr or "
					 "a file path");
		else if ((d = sl_yaml_strdup(ld, s)) != NULL) {
			free(conf->access_log);
			conf->access_log = d;
			conf->access_log_pos.line = v->line;
			conf->access_log_pos.col = v->col;
		}
	}
	if ((v = sl_yaml_map_get(map, "access_format", NULL)) != NULL &&
	    (e = sl_yaml_get_enum(ld, "access_format", v, format_names,
				  "json or combined")) >= 0)
		conf->access_format = (enum sl_access_format)e;
	if ((v = sl_yaml_map_get(map, "query", NULL)) != NULL &&
	    (e = sl_yaml_get_enum(ld, "query", v, query_names,
				  "names, full or off")) >= 0)
		conf->log_query = (enum sl_log_query)e;
	if ((v = sl_yaml_map_get(map, "mask_card_numbers", NULL)) != NULL)
		sl_conf_get_bool(ld, "mask_card_numbers", v, &conf->log_cards);
}

static void
parse_root(struct sl_yaml_loader *ld, const struct sl_yaml_node *root,
	   struct sl_conf *conf)
{
	const struct sl_yaml_node *v, *admin = NULL;

	if (root == NULL) {
		if (ld->stopped)
			return; /* the stop is reported; nothing was
				   read */
		sl_yaml_err_at(ld, 1, 1,
			       "the configuration is empty (expected a "
			       "mapping with "
			       "\"listeners\")");
		return;
	}
	if (root->type != SL_YAML_NODE_MAP) {
		if (root->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(ld, root,
					 "expected a mapping at the top level");
		return;
	}
	sl_yaml_check_keys(ld, root, top_keys, "at the top level");
	if ((v = sl_yaml_map_get(root, "workers", NULL)) != NULL)
		parse_workers(ld, v, conf);
	if ((v = sl_yaml_map_get(root, "admin", NULL)) != NULL &&
	    sl_yaml_get_map(ld, "admin", v) == 0) {
		sl_yaml_check_keys(ld, v, admin_keys, "in admin");
		if ((admin = sl_yaml_map_get(v, "address", NULL)) == NULL)
			sl_yaml_err_lacks(ld, v,
					  "admin: missing key \"address\"");
		else if (sl_yaml_get_addr(ld, "address", admin,
					  &conf->admin_addr) == 0) {
			conf->has_admin = 1;
			conf->admin_addr_pos.line = admin->line;
			conf->admin_addr_pos.col = admin->col;
		} else
			admin = NULL;
	}
	if ((v = sl_yaml_map_get(root, "log", NULL)) != NULL &&
	    sl_yaml_get_map(ld, "log", v) == 0)
		parse_log(ld, v, conf);
	if ((v = sl_yaml_map_get(root, "drain_timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "drain_timeout", v, 0, CONF_DAY_MS,
				     &conf->drain_timeout_ms);
	/* Clusters first: routes refer to them wherever they are
	 * written. */
	if ((v = sl_yaml_map_get(root, "clusters", NULL)) != NULL)
		parse_clusters(ld, v, conf);
	/* after a stop, a cluster a route names may be in the part not
	 * read */
	ld->names_cut = !sl_yaml_whole(ld, v != NULL ? v : root);
	if ((v = sl_yaml_map_get(root, "rate_limit_store", NULL)) != NULL)
		sl_conf_parse_rate_limit_store(ld, v, conf);
	if ((v = sl_yaml_map_get(root, "listeners", NULL)) == NULL)
		sl_yaml_err_lacks(ld, root, "missing key \"listeners\"");
	else
		parse_listeners(ld, v, admin, conf);
	sl_conf_check_rate_limit_store(ld, root, conf);
}

/* ---- public
 * ------------------------------------------------------------ */

static void
conf_free(struct sl_conf *conf)
{
	if (conf->tls_free != NULL)
		conf->tls_free(conf);
	struct sl_conf_listener *l;
	struct sl_conf_route *r;
	struct sl_conf_cluster *cl;
	size_t i, j, k;

	for (i = 0; i < conf->nlisteners; i++) {
		l = &conf->listeners[i];
		free(l->name);
		free(l->addr.text);
		for (j = 0; j < l->nroutes; j++) {
			r = &l->routes[j];
			free(r->name);
			free(r->host);
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
			sl_conf_free_rate_limits(r);
		}
		free(l->routes);
		for (j = 0; j < l->tls.ncerts; j++) {
			free(l->tls.certs[j].cert.path);
			free(l->tls.certs[j].key.path);
		}
		free(l->tls.certs);
		free(l->tls.ciphers);
		free(l->tls.ciphersuites);
		free(l->tls.client_ca.path);
		free(l->tls.client_subject_header);
		sl_policy_free(l->policy);
		sl_conf_free_identity(l);
	}
	free(conf->listeners);
	for (i = 0; i < conf->nclusters; i++) {
		cl = &conf->clusters[i];
		free(cl->name);
		for (j = 0; j < cl->nendpoints; j++)
			free(cl->endpoints[j].addr.text);
		free(cl->endpoints);
		free(cl->hash_key.name);
		free(cl->health.path);
		free(cl->tls.sni);
		free(cl->tls.ca.path);
		free(cl->tls.cert.path);
		free(cl->tls.key.path);
	}
	free(conf->clusters);
	free(conf->admin_addr.text);
	free(conf->rl_store.addr.text);
	free(conf->rl_store.prefix);
	free(conf->rl_store.username);
	free(conf->rl_store.password_file.path);
	if (conf->rl_store.password != NULL) {
		OPENSSL_cleanse(conf->rl_store.password,
				strlen(conf->rl_store.password));
		free(conf->rl_store.password);
	}
	free(conf->access_log);
	free(conf->path);
	free(conf);
}

struct sl_conf *
sl_conf_load_buffer(const char *name, const char *text, size_t len,
		    char **errors)
{
	struct sl_yaml_loader ld;
	struct sl_conf *conf = NULL;
	struct sl_yaml_node *root;
	int fatal;

	sl_yaml_loader_init(&ld, name, text, len);
	root = sl_yaml_parse(&ld, &fatal);

	if (!fatal && (conf = calloc(1, sizeof(*conf))) == NULL)
		ld.oom = 1;
	if (conf != NULL) {
		atomic_init(&conf->refcnt, 1);
		conf->log_level = SL_LOG_INFO;
		conf->access_format = SL_ACCESS_JSON;
		conf->log_cards = 1;
		conf->drain_timeout_ms = DEF_DRAIN_TIMEOUT_MS;
		conf->path = sl_yaml_strdup(&ld, ld.name);
		conf->access_log = sl_yaml_strdup(&ld, "stdout");
		conf->rl_store.prefix = sl_yaml_strdup(&ld, "sluice:");
		conf->rl_store.timeout_ms = DEF_RL_TIMEOUT_MS;
		parse_root(&ld, root, conf);
	}
	sl_yaml_node_free(root);

	if (ld.oom)
		sl_yaml_err_at(&ld, 0, 0, "out of memory");
	if (ld.nerrs > 0 || ld.oom) {
		if (conf != NULL)
			conf_free(conf);
		conf = NULL;
	}
	if (errors != NULL)
		*errors = sl_yaml_errors_finish(&ld);
	else
		free(sl_yaml_errors_finish(&ld));
	return conf;
}

/* One error line without a position, for problems with the file itself.
 */
static char *
file_error(const char *path, const char *what, int err)
{
	size_t sz = strlen(path) + strlen(what) + 128;
	char *s;

	if ((s = malloc(sz)) != NULL)
		snprintf(s, sz, "%s: error: %s%s%s\n", path, what,
			 err ? ": " : "", err ? strerror(err) : "");
	return s;
}

struct sl_conf *
sl_conf_load(const char *path, char **errors)
{
	struct sl_conf *conf;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;
	FILE *f;

	if (errors != NULL)
		*errors = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		if (errors != NULL)
			*errors = file_error(path, "cannot open", errno);
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16384;
			if (cap > CONF_MAX_FILE + 1)
				cap = CONF_MAX_FILE + 1;
			if (len == cap) {
				if (errors != NULL)
					*errors = file_error(
					    path,
					    "the file is larger than "
					    "16MiB",
					    0);
				goto fail;
			}
			if ((nb = realloc(buf, cap)) == NULL) {
				if (errors != NULL)
					*errors = file_error(
					    path, "cannot read", ENOMEM);
				goto fail;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				if (errors != NULL)
					*errors = file_error(
					    path, "cannot read", errno);
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	conf = sl_conf_load_buffer(path, buf, len, errors);
	if (conf != NULL) {
		/* which file runs: the same bytes, the same digest */
		unsigned char md[32];
		unsigned int mdlen = 0;
		if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) == 1)
			for (unsigned i = 0; i < mdlen && i < 32; i++)
				snprintf(conf->sha256 + 2 * i, 3, "%02x",
					 md[i]);
		conf->loaded_at = time(NULL);
	}
	free(buf);
	return conf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

struct sl_conf *
sl_conf_ref(struct sl_conf *conf)
{
	atomic_fetch_add_explicit(&conf->refcnt, 1, memory_order_relaxed);
	return conf;
}

void
sl_conf_unref(struct sl_conf *conf)
{
	if (conf == NULL)
		return;
	if (atomic_fetch_sub_explicit(&conf->refcnt, 1, memory_order_acq_rel) ==
	    1) {
		if (conf->on_free != NULL)
			conf->on_free(conf);
		conf_free(conf);
	}
}
