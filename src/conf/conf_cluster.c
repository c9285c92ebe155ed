/* SPDX-License-Identifier: MIT */
/*
 * The clusters of the sluice schema: each cluster's endpoints, balancing,
 * pool, queue, health checks and outlier ejection (its tls and
 * proxy_protocol through conf_tls.c and conf_edge.c), duplicate names,
 * and freeing what it allocated. conf.c calls it before the listeners so
 * that routes find the clusters they name. It knows no listener or route;
 * like conf.c it reads the node tree and nothing else: no libyaml,
 * sockets, DNS or logs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "conf_yaml.h"
#include "dnsmsg.h"
#include "util.h"

#define CONF_MAX_WEIGHT	   1000
#define CONF_MAX_POOL_IDLE 100000
#define CONF_MAX_PENDING   1000000 /* max_pending */

static const char *const balance_names[] = {
    "round_robin",
    "least_request",
    "hash",
    NULL,
};

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

#define HC(f) SL_CONF_FIELD(struct sl_conf_health, f)

/*
 * The keys of health_check: (doc/sluice.yaml.5). read_health() reads
 * path before the table and expect_status after it; the expect_status
 * default (2xx) is set by parse_cluster().
 */
const struct sl_conf_keydef sl_conf_health_table[] = {
    {"path", .type = SL_CONF_CODE},
    {"interval", SL_CONF_DURATION, 100, CONF_DAY_MS, 5000, HC(interval_ms)},
    /* a default not shorter than interval becomes half of it */
    {"timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 1000, HC(timeout_ms)},
    {"healthy", SL_CONF_UINT, 1, 100, 2, HC(healthy)},
    {"unhealthy", SL_CONF_UINT, 1, 100, 3, HC(unhealthy)},
    {"expect_status", .type = SL_CONF_CODE},
    {"grpc_service", .type = SL_CONF_CODE},
    {.name = NULL},
};
#undef HC

/* health_check: { path, interval, timeout, healthy, unhealthy,
 * expect_status } */
static int
read_health(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, void *base)
{
	struct sl_conf_cluster *cl = base;
	struct sl_conf_health *h = &cl->health;
	const struct sl_yaml_node *v;
	const char *str;

	if (sl_yaml_get_map(ld, "health_check", map) == -1)
		return -1;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_HEALTH);
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
			return 0;
	}
	if (h->path == NULL && (h->path = sl_yaml_strdup(ld, "/")) == NULL)
		return 0;
	sl_conf_table_read(ld, lbl, map, sl_conf_health_table, h, NULL);
	/* the default follows a short interval */
	if (sl_yaml_map_get(map, "timeout", NULL) == NULL &&
	    h->timeout_ms >= h->interval_ms)
		h->timeout_ms = h->interval_ms / 2;
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
	if ((v = sl_yaml_map_get(map, "grpc_service", NULL)) != NULL &&
	    (v->type != SL_YAML_NODE_SCALAR || sl_yaml_is_null(v) ||
	     sl_yaml_get_str(ld, "grpc_service", v, &str) == 0)) {
		/* null or "": the server as a whole */
		if (v->type == SL_YAML_NODE_SCALAR && sl_yaml_is_null(v))
			str = "";
		if (v->type != SL_YAML_NODE_SCALAR)
			sl_yaml_err_node(ld, v,
					 "%s: \"grpc_service\": expected a "
					 "service name",
					 lbl);
		else if (strlen(str) > 255)
			sl_yaml_err_node(ld, v,
					 "%s: \"grpc_service\": at most 255 "
					 "bytes",
					 lbl);
		else
			h->grpc_service = sl_yaml_strdup(ld, str);
	}
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
	return 0;
}

#define OL(f) SL_CONF_FIELD(struct sl_conf_outlier, f)

/* The keys of outlier: (doc/sluice.yaml.5), read in this order. */
const struct sl_conf_keydef sl_conf_outlier_table[] = {
    {"consecutive_errors", SL_CONF_UINT, 1, 1000, 5, OL(consecutive_errors)},
    {"ejection_time", SL_CONF_DURATION, 1, CONF_DAY_MS, 30000,
     OL(ejection_time_ms)},
    {"max_ejected_percent", SL_CONF_PERCENT, 0, 100, 10,
     OL(max_ejected_percent)},
    {.name = NULL},
};
#undef OL

/* outlier: { consecutive_errors, ejection_time, max_ejected_percent } */
static int
read_outlier(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *map, void *base)
{
	struct sl_conf_cluster *cl = base;

	if (sl_yaml_get_map(ld, "outlier", map) == -1)
		return -1;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_OUTLIER);
	cl->outlier.enabled = 1;
	sl_conf_table_read(ld, lbl, map, sl_conf_outlier_table, &cl->outlier,
			   NULL);
	return 0;
}

#define CL(f) SL_CONF_FIELD(struct sl_conf_cluster, f)

static const char *const protocol_names[] = {"http1", "h2c", "h2", NULL};
static const char *const family_names[] = {"any", "ipv4", "ipv6", NULL};

/* The keys of dns: (doc/sluice.yaml.5), read in this order. */
const struct sl_conf_keydef sl_conf_dns_table[] = {
    {"family", SL_CONF_ENUM, 0, 0, SL_DNS_FAMILY_ANY, CL(dns_family),
     .names = family_names, .expected = "any, ipv4 or ipv6"},
    {"min_ttl", SL_CONF_DURATION, 100, CONF_DAY_MS, 1000, CL(dns_min_ttl_ms)},
    {"max_ttl", SL_CONF_DURATION, 100, CONF_DAY_MS, 300000, CL(dns_max_ttl_ms)},
    {"keep_stale", SL_CONF_DURATION, 0, CONF_DAY_MS, 600000,
     CL(dns_keep_stale_ms)},
    {.name = NULL},
};

/* dns: { family, min_ttl, max_ttl, keep_stale } */
static int
read_dns(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *map, void *base)
{
	struct sl_conf_cluster *cl = base;

	if (sl_yaml_get_map(ld, "dns", map) == -1)
		return -1;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_DNS);
	sl_conf_table_read(ld, lbl, map, sl_conf_dns_table, cl, NULL);
	if (cl->dns_min_ttl_ms > cl->dns_max_ttl_ms &&
	    (sl_yaml_whole(ld, map) ||
	     (sl_yaml_map_get(map, "min_ttl", NULL) != NULL &&
	      sl_yaml_map_get(map, "max_ttl", NULL) != NULL)))
		sl_yaml_err_node(ld, map,
				 "%s: dns: \"min_ttl\" (%llu ms) must not be "
				 "longer than \"max_ttl\" (%llu ms)",
				 lbl, (unsigned long long)cl->dns_min_ttl_ms,
				 (unsigned long long)cl->dns_max_ttl_ms);
	return 0;
}

/* The keys of pool: (doc/sluice.yaml.5), read in this order. */
const struct sl_conf_keydef sl_conf_pool_table[] = {
    {"max_idle", SL_CONF_UINT, 0, CONF_MAX_POOL_IDLE, 64, CL(pool_max_idle)},
    {"idle_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 30000,
     CL(pool_idle_timeout_ms)},
    {"max_requests", SL_CONF_UINT, 0, CONF_MAX_COUNT, 10000,
     CL(pool_max_requests)},
    {"max_lifetime", SL_CONF_DURATION, 0, CONF_DAY_MS, 0,
     CL(pool_max_lifetime_ms)},
    {.name = NULL},
};

static int
read_pool(struct sl_yaml_loader *ld, const char *lbl,
	  const struct sl_yaml_node *map, void *cl)
{
	if (sl_yaml_get_map(ld, "pool", map) == -1)
		return -1;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_POOL);
	sl_conf_table_read(ld, lbl, map, sl_conf_pool_table, cl, NULL);
	return 0;
}

static int
read_tls(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *map, void *base)
{
	struct sl_conf_cluster *cl = base;

	sl_conf_parse_tls_client(ld, lbl, map, &cl->tls);
	return 0;
}

/*
 * The keys of a cluster (doc/sluice.yaml.5). parse_cluster() reads name,
 * endpoints, balance and hash_key before the table and proxy_protocol
 * after it.
 */
const struct sl_conf_keydef sl_conf_cluster_table[] = {
    {"name", .type = SL_CONF_CODE},
    {"endpoints", .type = SL_CONF_CODE},
    {"balance", .type = SL_CONF_CODE},
    {"hash_key", .type = SL_CONF_CODE},
    {"connect_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 1000,
     CL(connect_timeout_ms)},
    {"pool", SL_CONF_SET, .set = read_pool},
    {"max_connections", SL_CONF_UINT, 0, CONF_MAX_CONNS, 0,
     CL(max_connections)},
    {"max_pending", SL_CONF_UINT, 0, CONF_MAX_PENDING, 100, CL(max_pending)},
    {"queue_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 1000,
     CL(queue_timeout_ms)},
    {"health_check", SL_CONF_SET, .set = read_health},
    {"outlier", SL_CONF_SET, .set = read_outlier},
    {"tls", SL_CONF_SET, .set = read_tls},
    /* identity (doc/edge.md section 2) */
    {"proxy_protocol", .type = SL_CONF_CODE},
    /* HTTP/2 to upstreams (doc/http2.md section 10) */
    {"protocol", SL_CONF_ENUM, 0, 0, SL_UP_PROTO_HTTP1, CL(protocol),
     .names = protocol_names, .expected = "http1, h2c or h2"},
    {"max_concurrent_streams", SL_CONF_UINT, 0, 100000, 0,
     CL(max_concurrent_streams)},
    {"ping_interval", SL_CONF_DURATION, 0, CONF_DAY_MS, 15000,
     CL(ping_interval_ms)},
    /* endpoints by name (doc/fleet.md section 2) */
    {"dns", SL_CONF_SET, .set = read_dns},
    {.name = NULL},
};
#undef CL

/*
 * "NAME:PORT" of a name to resolve (doc/fleet.md section 2) into nm.
 * Returns 0, or -1 when text is not that (nothing reported).
 */
static int
name_port(struct sl_yaml_loader *ld, const char *text,
	  struct sl_conf_dns_name *nm)
{
	const char *colon = strrchr(text, ':'), *port;
	char host[SL_DNS_NAME_MAX + 2];
	uint64_t p;
	size_t hl;

	if (colon == NULL || (hl = (size_t)(colon - text)) == 0 ||
	    hl >= sizeof(host))
		return -1;
	memcpy(host, text, hl);
	host[hl] = '\0';
	port = colon + 1;
	if (!sl_dnsmsg_name_ok(host) ||
	    sl_yaml_parse_digits(&port, &p) != SL_YAML_NUM_OK ||
	    *port != '\0' || p < 1 || p > 65535)
		return -1;
	if (host[hl - 1] == '.')
		host[--hl] = '\0';
	for (size_t i = 0; i < hl; i++)
		if (host[i] >= 'A' && host[i] <= 'Z')
			host[i] = (char)(host[i] - 'A' + 'a');
	nm->port = (uint16_t)p;
	if ((nm->name = sl_yaml_strdup(ld, host)) == NULL ||
	    (nm->text = sl_yaml_strdup(ld, text)) == NULL) {
		free(nm->name);
		nm->name = NULL;
		return -1;
	}
	return 0;
}

/* srv: NAME into nm. Returns 0, or -1 with the error reported. */
static int
srv_name(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *n, struct sl_conf_dns_name *nm)
{
	char text[SL_DNS_NAME_MAX + 8];
	const char *s;
	size_t len;

	if (sl_yaml_get_str(ld, "srv", n, &s) == -1)
		return -1;
	if (!sl_dnsmsg_name_ok(s)) {
		sl_yaml_err_node(ld, n,
				 "%s: \"srv\": \"%s\" is not a DNS name "
				 "(such as _http._tcp.pay.example.com)",
				 lbl, sl_yaml_qnode(ld, n));
		return -1;
	}
	len = strlen(s);
	if (len > 0 && s[len - 1] == '.')
		len--;
	nm->srv = 1;
	snprintf(text, sizeof(text), "srv:%.*s", (int)len, s);
	if ((nm->name = sl_yaml_strdup(ld, text + 4)) == NULL ||
	    (nm->text = sl_yaml_strdup(ld, text)) == NULL) {
		free(nm->name);
		nm->name = NULL;
		return -1;
	}
	for (char *c = nm->name; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return 0;
}

/*
 * endpoints: "HOST:PORT", "NAME:PORT", { address, weight } or { srv }.
 * A numeric address (or localhost) is an endpoint now; a name is looked
 * up by the resolver (resolve.c), whose answers become endpoints of the
 * generations made from this one.
 */
static void
parse_endpoints(struct sl_yaml_loader *ld, const char *lbl,
		const struct sl_yaml_node *seq, struct sl_conf_cluster *cl)
{
	struct sl_conf_endpoint *ep;
	const struct sl_yaml_node *item, *addr, *srv, *wn, **where, **nwhere;
	uint64_t w;
	size_t i, j;

	if ((cl->endpoints = calloc(seq->nkids, sizeof(*ep))) == NULL ||
	    (cl->names = calloc(seq->nkids, sizeof(*cl->names))) == NULL ||
	    (where = calloc(seq->nkids, sizeof(*where))) == NULL) {
		ld->oom = 1;
		return;
	}
	if ((nwhere = calloc(seq->nkids, sizeof(*nwhere))) == NULL) {
		free(where);
		ld->oom = 1;
		return;
	}
	for (i = 0; i < seq->nkids; i++) {
		struct sl_conf_dns_name *nm = &cl->names[cl->nnames];
		uint32_t weight = 1;

		item = seq->kids[i];
		addr = srv = wn = NULL;
		if (item->type == SL_YAML_NODE_MAP) {
			sl_conf_check_keys(ld, item, SL_CONF_SEC_ENDPOINT);
			addr = sl_yaml_map_get(item, "address", NULL);
			srv = sl_yaml_map_get(item, "srv", NULL);
			if (addr == NULL && srv == NULL)
				sl_yaml_err_lacks(ld, item,
						  "%s: endpoint: missing key "
						  "\"address\" (or \"srv\")",
						  lbl);
			else if (addr != NULL && srv != NULL) {
				sl_yaml_err_node(
				    ld, srv,
				    "%s: endpoint: \"address\" and "
				    "\"srv\" are mutually "
				    "exclusive",
				    lbl);
				continue;
			}
			if ((wn = sl_yaml_map_get(item, "weight", NULL)) !=
				NULL &&
			    sl_yaml_get_uint(ld, "weight", wn, 1,
					     CONF_MAX_WEIGHT, &w) == 0)
				weight = (uint32_t)w;
			if (srv != NULL && wn != NULL)
				sl_yaml_err_node(ld, wn,
						 "%s: endpoint: an \"srv\" "
						 "name's weights come from its "
						 "records (no \"weight\")",
						 lbl);
		} else if (item->type == SL_YAML_NODE_SCALAR &&
			   !sl_yaml_is_null(item))
			addr = item;
		else if (item->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(
			    ld, item,
			    "\"endpoints\": expected \"HOST:PORT\" or a "
			    "mapping with \"address\" and \"weight\", or "
			    "\"srv\"");
		if (srv != NULL) {
			if (srv_name(ld, lbl, srv, nm) == -1)
				continue;
			nm->pos.line = srv->line;
			nm->pos.col = srv->col;
			nwhere[cl->nnames++] = srv;
			continue;
		}
		if (addr == NULL)
			continue;
		if (sl_yaml_is_string(addr) &&
		    sl_conf_parse_addr(addr->str, &(struct sockaddr_storage){0},
				       &(socklen_t){0}) == -1) {
			const char *colon = strrchr(addr->str, ':');
			if (name_port(ld, addr->str, nm) == 0) {
				nm->weight = weight;
				nm->pos.line = addr->line;
				nm->pos.col = addr->col;
				nwhere[cl->nnames++] = addr;
				continue;
			}
			const char *port = colon != NULL ? colon + 1 : "";
			uint64_t pn;
			if (addr->str[0] != '[' && colon != NULL &&
			    memchr(addr->str, ':',
				   (size_t)(colon - addr->str)) == NULL &&
			    sl_yaml_parse_digits(&port, &pn) ==
				SL_YAML_NUM_OK &&
			    *port == '\0' && pn >= 1 && pn <= 65535) {
				sl_yaml_err_node(
				    ld, addr,
				    "%s: endpoint %s: the host is neither an "
				    "IP address nor a DNS name (labels of "
				    "letters, digits, \"-\" and \"_\")",
				    lbl, sl_yaml_qnode(ld, addr));
				continue;
			}
		}
		ep = &cl->endpoints[cl->nendpoints];
		if (sl_yaml_get_addr(ld, "address", addr, &ep->addr))
			continue;
		ep->index = cl->nendpoints;
		ep->weight = weight;
		ep->id = sl_hash64(ep->addr.text, strlen(ep->addr.text));
		where[cl->nendpoints] = addr;
		for (j = 0; j < cl->nendpoints; j++) {
			if (sl_conf_sockaddr_same(&cl->endpoints[j].addr.ss,
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
		cl->nendpoints++;
	}
	cl->nstatic = cl->nendpoints;
	for (i = 1; i < cl->nnames; i++)
		for (j = 0; j < i; j++)
			if (cl->names[i].srv == cl->names[j].srv &&
			    cl->names[i].port == cl->names[j].port &&
			    strcmp(cl->names[i].name, cl->names[j].name) == 0) {
				sl_yaml_err_node(
				    ld, nwhere[i],
				    "%s: duplicate endpoint %s "
				    "(first at %u:%u)",
				    lbl, sl_yaml_qnode(ld, nwhere[i]),
				    nwhere[j]->line, nwhere[j]->col);
				break;
			}
	if (cl->nnames == 0) {
		free(cl->names);
		cl->names = NULL;
	}
	free(where);
	free(nwhere);
}

int
sl_conf_add_resolved(struct sl_conf_cluster *cl, size_t k,
		     const struct sl_conf_resolved *v, size_t n)
{
	struct sl_conf_endpoint *eps;
	size_t added = 0;

	if (n == 0)
		return 0;
	if ((eps = realloc(cl->endpoints,
			   (cl->nendpoints + n) * sizeof(*eps))) == NULL)
		return -1;
	cl->endpoints = eps;
	for (size_t i = 0; i < n; i++) {
		struct sl_conf_endpoint *ep = &eps[cl->nendpoints];
		char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 10];
		uint16_t port;
		size_t j;

		for (j = 0; j < cl->nendpoints; j++)
			if (sl_conf_sockaddr_same(&eps[j].addr.ss, &v[i].ss))
				break;
		if (j < cl->nendpoints)
			continue; /* written, or another name's */
		memset(ep, 0, sizeof(*ep));
		if (v[i].ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a =
			    (const struct sockaddr_in6 *)&v[i].ss;
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
			snprintf(text, sizeof(text), "[%s]:%u", host, port);
		} else {
			const struct sockaddr_in *a =
			    (const struct sockaddr_in *)&v[i].ss;
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
			snprintf(text, sizeof(text), "%s:%u", host, port);
		}
		if ((ep->addr.text = strdup(text)) == NULL)
			return -1;
		ep->addr.ss = v[i].ss;
		ep->addr.sslen = v[i].sslen;
		ep->weight = SL_MAX(SL_MIN(v[i].weight, CONF_MAX_WEIGHT), 1);
		ep->id = sl_hash64(text, strlen(text));
		ep->index = cl->nendpoints++;
		ep->dns_name = cl->names[k].text;
		added++;
	}
	return (int)added;
}

/* What an HTTP/2 cluster cannot have (doc/http2.md section 10): h2c
 * is cleartext and h2 needs TLS; a PROXY header names one client, which
 * a shared connection does not. */
static void
check_h2(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *map, const struct sl_conf_cluster *cl)
{
	static const char *const no[] = {"tls", "proxy_protocol"};
	const char *proto = cl->protocol == SL_UP_PROTO_H2 ? "h2" : "h2c";
	const struct sl_yaml_node *k, *v;

	for (size_t i = cl->protocol == SL_UP_PROTO_H2 ? 1 : 0;
	     i < sizeof(no) / sizeof(no[0]); i++)
		if (sl_yaml_map_get(map, no[i], &k) != NULL)
			sl_yaml_err_node(ld, k,
					 "%s: \"%s\" is not built for "
					 "\"protocol: %s\" yet",
					 lbl, no[i], proto);
	if (cl->protocol == SL_UP_PROTO_H2 &&
	    (v = sl_yaml_map_get(map, "protocol", &k)) != NULL &&
	    sl_yaml_map_get(map, "tls", NULL) == NULL)
		sl_yaml_err_node(ld, k,
				 "%s: \"protocol: h2\" needs \"tls\" (h2c is "
				 "HTTP/2 without TLS)",
				 lbl);
}

static void
parse_cluster(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	      size_t idx, struct sl_conf_cluster *cl)
{
	const struct sl_yaml_node *v, *k;
	char lbl[SL_YAML_LABEL_MAX];
	int e;

	cl->index = idx;
	cl->balance = SL_BALANCE_ROUND_ROBIN;
	sl_conf_table_defaults(sl_conf_cluster_table, cl);
	sl_conf_table_defaults(sl_conf_pool_table, cl);
	sl_conf_table_defaults(sl_conf_health_table, &cl->health);
	for (unsigned st = 200; st <= 299; st++)
		cl->health.expect[(st - 100) / 64] |= (uint64_t)1
						      << ((st - 100) % 64);
	sl_conf_table_defaults(sl_conf_outlier_table, &cl->outlier);
	sl_conf_table_defaults(sl_conf_dns_table, cl);
	cl->tls.verify = 1;
	cl->tls.min_version = 12;
	if (map->type != SL_YAML_NODE_MAP) {
		if (map->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(
			    ld, map,
			    "\"clusters\": each item must be a mapping");
		return;
	}
	sl_conf_check_keys(ld, map, SL_CONF_SEC_CLUSTER);
	sl_conf_item_name(ld, map, "cluster", idx, lbl, &cl->name);

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
	sl_conf_table_read(ld, lbl, map, sl_conf_cluster_table, cl, NULL);
	if (cl->nnames == 0 && (v = sl_yaml_map_get(map, "dns", &k)) != NULL &&
	    sl_yaml_whole(ld, map))
		sl_yaml_err_node(ld, k,
				 "%s: \"dns\" needs an endpoint given by name "
				 "(\"NAME:PORT\" or \"srv\")",
				 lbl);
	sl_conf_parse_cluster_identity(ld, map, cl);
	if (cl->protocol != SL_UP_PROTO_HTTP1) {
		check_h2(ld, lbl, map, cl);
		/* a shared connection's stream ids last a billion streams:
		 * no lifetime in requests unless one is written */
		v = sl_yaml_map_get(map, "pool", NULL);
		if (v == NULL || v->type != SL_YAML_NODE_MAP ||
		    sl_yaml_map_get(v, "max_requests", NULL) == NULL)
			cl->pool_max_requests = 0;
	} else if (cl->health.grpc_service != NULL &&
		   (v = sl_yaml_map_get(map, "health_check", &k)) != NULL)
		sl_yaml_err_node(ld, k,
				 "%s: health_check: \"grpc_service\" needs "
				 "\"protocol: h2c\" or \"h2\"",
				 lbl);
}

void
sl_conf_parse_clusters(struct sl_yaml_loader *ld,
		       const struct sl_yaml_node *seq, struct sl_conf *conf)
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
	/* the names in a table, which routes then look theirs up in: a
	 * file of many clusters and routes reads in linear time (issue
	 * 78) */
	if ((conf->cluster_names = calloc(1, sizeof(*conf->cluster_names))) ==
	    NULL) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i < conf->nclusters; i++) {
		int added;
		if (conf->clusters[i].name == NULL)
			continue;
		added = sl_strtab_put(conf->cluster_names,
				      conf->clusters[i].name, i, &j);
		if (added == -1) {
			ld->oom = 1;
			return;
		}
		if (added == 1)
			continue;
		a = sl_yaml_map_get(seq->kids[j], "name", NULL);
		b = sl_yaml_map_get(seq->kids[i], "name", NULL);
		sl_yaml_err_node(ld, b,
				 "duplicate cluster name \"%s\" (first at "
				 "%u:%u)",
				 sl_yaml_qnode(ld, b), a->line, a->col);
	}
}
void
sl_conf_free_cluster(struct sl_conf_cluster *cl)
{
	size_t j;

	free(cl->name);
	for (j = 0; j < cl->nendpoints; j++)
		free(cl->endpoints[j].addr.text);
	free(cl->endpoints);
	for (j = 0; j < cl->nnames; j++) {
		free(cl->names[j].name);
		free(cl->names[j].text);
	}
	free(cl->names);
	free(cl->hash_key.name);
	free(cl->health.path);
	free(cl->health.grpc_service);
	free(cl->tls.sni);
	free(cl->tls.ca.path);
	free(cl->tls.cert.path);
	free(cl->tls.key.path);
}
