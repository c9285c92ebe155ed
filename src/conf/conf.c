/* SPDX-License-Identifier: MIT */
/*
 * The sluice schema: walks the YAML node tree of conf_yaml.c into one
 * immutable generation (struct sl_conf), with every validation rule of
 * doc/contracts.md section 1, and owns the generation's lifetime (load,
 * reference counts, free). Holds the top level, the listeners and their
 * limits, and the outline of every section that the key checks of
 * conf_keys.c read; the helpers conf_int.h shares are conf_util.c's; clusters
 * are in conf_cluster.c, routes in conf_route.c, the edge keys (identity,
 * policy) in conf_edge.c, the modules' keys through conf_mods.c, the tls
 * keys in conf_tls.c;
 * conf_secret.c reads the secrets a valid generation names. Reads the file and
 * nothing else; it must not touch libyaml, sockets, DNS or the logs.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "conf_int.h"
#include "conf_yaml.h"
#include "hdrrule.h"
#include "policy.h"
#include "route.h"
#include "route_index.h"
#include "util.h"

#define CONF_MAX_FILE	 (16 * 1024 * 1024) /* bytes */
#define CONF_MAX_WORKERS 1024
#define CONF_MAX_HEADERS 10000
#define CONF_MAX_RATE	 (1ULL << 30) /* 1GiB: min_*_rate, bytes/s */

/* ---- HTTP tokens and socket addresses ---------------------------------- */

/* ---- listeners and their limits ---------------------------------------- */

/*
 * The keys of limits: (doc/contracts.md section 1.3), each declared once:
 * how it is read, its range, its default and where it is kept. Read in
 * this order.
 */
#define LIM(f) SL_CONF_FIELD(struct sl_conf_limits, f)
const struct sl_conf_keydef sl_conf_limits_table[] = {
    {"header_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 10000,
     LIM(header_timeout_ms)},
    {"body_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 30000,
     LIM(body_timeout_ms)},
    {"send_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 30000,
     LIM(send_timeout_ms)},
    {"idle_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 60000,
     LIM(idle_timeout_ms)},
    {"max_header_bytes", SL_CONF_SIZE, 256, 1024 * 1024, 32 * 1024,
     LIM(max_header_bytes)},
    {"max_uri_bytes", SL_CONF_SIZE, 16, UINT64_MAX, 8 * 1024,
     LIM(max_uri_bytes)},
    {"max_headers", SL_CONF_UINT, 1, CONF_MAX_HEADERS, 100, LIM(max_headers)},
    {"max_body_bytes", SL_CONF_SIZE, 0, UINT64_MAX, 16 * 1024 * 1024,
     LIM(max_body_bytes)},
    {"buffer_bytes", SL_CONF_SIZE, 4 * 1024, 64 * 1024 * 1024, 64 * 1024,
     LIM(buffer_bytes)},
    /* 0: never (doc/design-notes.md, "Spliced request bodies") */
    {"splice_min_bytes", SL_CONF_SIZE, 0, UINT64_MAX, 128 * 1024,
     LIM(splice_min_bytes)},
    {"max_requests", SL_CONF_UINT, 0, CONF_MAX_COUNT, 0, LIM(max_requests)},
    /* Rates are written as sizes: bytes per second, no "/s". */
    {"min_body_rate", SL_CONF_SIZE, 0, CONF_MAX_RATE, 0,
     LIM(min_body_rate_bps)},
    {"min_send_rate", SL_CONF_SIZE, 0, CONF_MAX_RATE, 0,
     LIM(min_send_rate_bps)},
    {"max_connections", SL_CONF_UINT, 0, CONF_MAX_CONNS, 0,
     LIM(max_connections)},
    {"max_connections_per_ip", SL_CONF_UINT, 0, CONF_MAX_CONNS, 0,
     LIM(max_connections_per_ip)},
    /* HTTP/2 (doc/http2.md section 4) */
    {"max_concurrent_streams", SL_CONF_UINT, 1, 10000, 100,
     LIM(max_concurrent_streams)},
    /* 0 here: max_header_bytes (parse_limits) */
    {"max_header_list_bytes", SL_CONF_SIZE, 0, 1024 * 1024, 0,
     LIM(max_header_list_bytes)},
    /* tunnels (doc/websocket.md) */
    {"tunnel_idle_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 300000,
     LIM(tunnel_idle_timeout_ms)},
    {"tunnel_lifetime", SL_CONF_DURATION, 0, 365 * CONF_DAY_MS, 0,
     LIM(tunnel_lifetime_ms)},
    {"tunnel_drain_timeout", SL_CONF_DURATION, 1, CONF_DAY_MS, 60000,
     LIM(tunnel_drain_timeout_ms)},
    {"tunnel_buffer_bytes", SL_CONF_SIZE, 1024, 16 * 1024 * 1024, 16 * 1024,
     LIM(tunnel_buffer_bytes)},
    {"max_tunnels", SL_CONF_UINT, 0, CONF_MAX_CONNS, 0, LIM(max_tunnels)},
    {"max_tunnels_per_ip", SL_CONF_UINT, 0, CONF_MAX_CONNS, 0,
     LIM(max_tunnels_per_ip)},
    {.name = NULL},
};
#undef LIM

static void
parse_limits(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	     struct sl_conf_limits *lim)
{
	const struct sl_conf_keydef *t = sl_conf_limits_table;
	const struct sl_yaml_node *got[SL_NELEM(sl_conf_limits_table)];
	const struct sl_yaml_node *uri, *hdr, *buf;
	char a[32], b[32];
	int whole;

	sl_conf_check_keys(ld, map, SL_CONF_SEC_LIMITS);
	sl_conf_table_read(ld, NULL, map, t, lim, got);
	/* the values read: a wrong one keeps the default and skips the
	 * cross checks */
	hdr = sl_conf_table_got(t, got, "max_header_bytes");
	uri = sl_conf_table_got(t, got, "max_uri_bytes");
	buf = sl_conf_table_got(t, got, "buffer_bytes");
	/* written as 0, or not at all: as max_header_bytes */
	if (sl_conf_table_got(t, got, "max_header_list_bytes") == NULL ||
	    lim->max_header_list_bytes == 0)
		lim->max_header_list_bytes = lim->max_header_bytes;

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

/* protocols: [h2, http/1.1]: a non-empty list, each once (doc/http2.md
 * section 2). */
static void
parse_protocols(struct sl_yaml_loader *ld, const char *lbl,
		const struct sl_yaml_node *v, unsigned *out)
{
	static const char *const names[] = {"http/1.1", "h2", NULL};
	unsigned got = 0;

	if (sl_yaml_get_seq(ld, "protocols", v) == -1)
		return;
	if (v->nkids == 0) {
		sl_yaml_err_lacks(ld, v, "%s: \"protocols\" must not be empty",
				  lbl);
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		const struct sl_yaml_node *n = v->kids[i];
		int k;

		if (n->type == SL_YAML_NODE_BAD)
			continue;
		k = sl_yaml_get_enum(ld, "protocols", n, names,
				     "\"h2\" or \"http/1.1\"");
		if (k < 0)
			continue;
		if (got & (1u << k))
			sl_yaml_err_node(ld, n,
					 "%s: \"protocols\": \"%s\" is listed "
					 "twice",
					 lbl, names[k]);
		got |= 1u << k;
	}
	if (got != 0)
		*out = got; /* bit 0 http/1.1, bit 1 h2: SL_PROTO_* */
}

/*
 * Two routes of one listener with one name, given or the default
 * "route-N": /metrics would carry each of their series twice with the
 * same labels, which Prometheus refuses as duplicate samples. seq is the
 * listener's routes, lbl its label.
 */
static void
check_route_names(struct sl_yaml_loader *ld, const char *lbl,
		  const struct sl_yaml_node *seq,
		  const struct sl_conf_listener *l)
{
	const struct sl_yaml_node *na, *nb, *first;
	struct sl_strtab seen = {0};

	/* by a table of the names seen, not route by route: a listener of
	 * 100,000 routes (issue 78) */
	for (size_t i = 0; i < l->nroutes; i++) {
		const char *b = l->routes[i].name;
		size_t j;
		int added;
		if (b == NULL)
			continue;
		if ((added = sl_strtab_put(&seen, b, i, &j)) == -1) {
			ld->oom = 1;
			break;
		}
		if (added == 0) {
			na = sl_yaml_map_get(seq->kids[j], "name", NULL);
			nb = sl_yaml_map_get(seq->kids[i], "name", NULL);
			first = na != NULL ? na : seq->kids[j];
			if (nb == NULL)
				sl_yaml_err_node(
				    ld, seq->kids[i],
				    "%s: route %zu has no \"name\", and its "
				    "default \"%s\" is the name of the route "
				    "at %u:%u (give it a name)",
				    lbl, i + 1, sl_yaml_qstr(ld, b),
				    first->line, first->col);
			else if (na == NULL)
				sl_yaml_err_node(
				    ld, nb,
				    "%s: duplicate route name \"%s\" (the "
				    "default name of route %zu, at %u:%u)",
				    lbl, sl_yaml_qnode(ld, nb), j + 1,
				    first->line, first->col);
			else
				sl_yaml_err_node(ld, nb,
						 "%s: duplicate route name "
						 "\"%s\" (first at %u:%u)",
						 lbl, sl_yaml_qnode(ld, nb),
						 first->line, first->col);
		}
	}
	sl_strtab_free(&seen);
}

/* Returns the address node when the listener's address is usable. */
static const struct sl_yaml_node *
parse_listener(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	       size_t idx, struct sl_conf_listener *l, struct sl_conf *conf)
{
	const struct sl_yaml_node *v, *addr = NULL;
	char lbl[SL_YAML_LABEL_MAX];
	size_t i;

	sl_conf_table_defaults(sl_conf_limits_table, &l->limits);
	l->limits.max_header_list_bytes = l->limits.max_header_bytes;
	l->protocols = SL_PROTO_HTTP1;
	if (map->type != SL_YAML_NODE_MAP) {
		if (map->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(ld, map,
					 "\"listeners\": each item "
					 "must be a mapping");
		return NULL;
	}
	sl_conf_check_keys(ld, map, SL_CONF_SEC_LISTENER);
	sl_conf_item_name(ld, map, "listener", idx, lbl, &l->name);

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
	if ((v = sl_yaml_map_get(map, "protocols", NULL)) != NULL)
		parse_protocols(ld, lbl, v, &l->protocols);
	l->tls.min_version = 12;
	l->tls.session_tickets = 1;
	l->tls.session_cache = 20000;
	if ((v = sl_yaml_map_get(map, "tls", NULL)) != NULL)
		sl_conf_parse_tls_server(ld, lbl, v, &l->tls);
	if ((v = sl_yaml_map_get(map, "http3", NULL)) != NULL) {
		sl_conf_parse_http3(ld, lbl, map, v, l);
		/* a connection ID's first byte names its worker's socket */
		if (l->http3.enabled && conf->workers > 256)
			sl_yaml_err_node(ld, v,
					 "%s: \"http3\" serves at most 256 "
					 "workers (\"workers\" is %u): a "
					 "connection ID's first byte names its "
					 "worker",
					 lbl, conf->workers);
	}
	sl_conf_parse_policy(ld, map, SL_CONF_SEC_LISTENER_HEADERS, conf,
			     &l->policy);
	sl_conf_parse_identity(ld, lbl, map, l);
	/* the modules' keys (conf_mods.c): tracing's trace_context */
	sl_conf_modules_listener(ld, lbl, map, l, conf);

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
			sl_conf_parse_route(ld, v->kids[i], i, &l->routes[i],
					    conf);
		check_route_names(ld, lbl, v, l);
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
			if (sl_conf_sockaddr_same(&a->addr.ss, &b->addr.ss))
				sl_yaml_err_node(
				    ld, addrs[i],
				    "listener \"%s\": address %s is "
				    "already used by listener \"%s\"",
				    b->name ? sl_yaml_qstr(ld, b->name) : "?",
				    sl_yaml_qstr(ld, b->addr.text),
				    a->name ? sl_yaml_qstr(ld, a->name) : "?");
			else if (sl_conf_sockaddr_overlap(&a->addr.ss,
							  &b->addr.ss))
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
		    !(sl_conf_sockaddr_same(&a->addr.ss,
					    &conf->admin_addr.ss) ||
		      sl_conf_sockaddr_overlap(&a->addr.ss,
					       &conf->admin_addr.ss)))
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

/* ---- top level --------------------------------------------------------- */

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

/* log.access: off, stdout, stderr or a file path, with where it is
 * written (for sl_preflight). */
static int
read_access_log(struct sl_yaml_loader *ld, const char *lbl,
		const struct sl_yaml_node *v, void *base)
{
	struct sl_conf *conf = base;
	const char *s;
	char *d;

	(void)lbl;
	if (sl_yaml_get_str(ld, "access", v, &s) == -1)
		return -1;
	if (s[0] == '\0') {
		sl_yaml_err_node(ld, v,
				 "\"access\": expected off, stdout, stderr or "
				 "a file path");
		return -1;
	}
	if ((d = sl_yaml_strdup(ld, s)) == NULL)
		return -1;
	free(conf->access_log);
	conf->access_log = d;
	conf->access_log_pos.line = v->line;
	conf->access_log_pos.col = v->col;
	return 0;
}

#define TOP(f) SL_CONF_FIELD(struct sl_conf, f)

/* The keys of log: (doc/sluice.yaml.5), read in this order. access
 * defaults to "stdout", set by sl_conf_load_buffer. */
const struct sl_conf_keydef sl_conf_log_table[] = {
    {"level", SL_CONF_ENUM, .def = SL_LOG_INFO, TOP(log_level),
     .names = level_names, .expected = "error, warn, info or debug"},
    {"access", SL_CONF_SET, .set = read_access_log},
    {"access_format", SL_CONF_ENUM, .def = SL_ACCESS_JSON, TOP(access_format),
     .names = format_names, .expected = "json or combined"},
    {"query", SL_CONF_ENUM, .def = SL_LOG_QUERY_NAMES, TOP(log_query),
     .names = query_names, .expected = "names, full or off"},
    {"mask_card_numbers", SL_CONF_BOOL, .def = 1, TOP(log_cards)},
    {.name = NULL},
};

static int
read_log(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *map, void *conf)
{
	if (sl_yaml_get_map(ld, "log", map) == -1)
		return -1;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_LOG);
	sl_conf_table_read(ld, lbl, map, sl_conf_log_table, conf, NULL);
	return 0;
}

/*
 * The keys of the top level (doc/sluice.yaml.5). parse_root() reads
 * workers and admin before the table, clusters, the modules' keys and
 * listeners after it.
 */
/* resolver.nameservers: a list of "ADDRESS" or "ADDRESS:PORT" (53). */
static int
read_nameservers(struct sl_yaml_loader *ld, const char *lbl,
		 const struct sl_yaml_node *seq, void *base)
{
	struct sl_conf *conf = base;

	(void)lbl;
	if (sl_yaml_get_seq(ld, "nameservers", seq) == -1)
		return -1;
	if (seq->nkids == 0) {
		sl_yaml_err_lacks(ld, seq,
				  "\"nameservers\": must not be empty (leave "
				  "it out for /etc/resolv.conf's)");
		return -1;
	}
	if ((conf->nameservers =
		 calloc(seq->nkids, sizeof(*conf->nameservers))) == NULL) {
		ld->oom = 1;
		return -1;
	}
	for (size_t i = 0; i < seq->nkids; i++) {
		const struct sl_yaml_node *n = seq->kids[i];
		struct sl_conf_addr *a = &conf->nameservers[conf->nnameservers];
		char text[80];

		if (sl_yaml_is_string(n) && n->len < 64 &&
		    sl_conf_parse_addr(n->str, &a->ss, &a->sslen) == -1) {
			/* no port: 53 */
			snprintf(text, sizeof(text),
				 strchr(n->str, ':') != NULL ? "[%s]:53"
							     : "%s:53",
				 n->str);
			if (sl_conf_parse_addr(text, &a->ss, &a->sslen) == 0) {
				if ((a->text = sl_yaml_strdup(ld, text)) !=
				    NULL)
					conf->nnameservers++;
				continue;
			}
		}
		if (sl_yaml_get_addr(ld, "nameservers", n, a) == 0)
			conf->nnameservers++;
	}
	return 0;
}

/* The keys of resolver: (doc/sluice.yaml.5), read in this order. */
const struct sl_conf_keydef sl_conf_resolver_table[] = {
    {"nameservers", SL_CONF_SET, .set = read_nameservers},
    {"timeout", SL_CONF_DURATION, 100, 60000, 2000, TOP(dns_timeout_ms)},
    {"attempts", SL_CONF_UINT, 1, 10, 2, TOP(dns_attempts)},
    {.name = NULL},
};

static int
read_resolver(struct sl_yaml_loader *ld, const char *lbl,
	      const struct sl_yaml_node *map, void *conf)
{
	if (sl_yaml_get_map(ld, "resolver", map) == -1)
		return -1;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_RESOLVER);
	sl_conf_table_read(ld, lbl, map, sl_conf_resolver_table, conf, NULL);
	return 0;
}

/* secret_headers: a list of header names whose values are credentials,
 * besides the built-in ones (doc/sluice.yaml.5): kept lower-cased. */
static int
read_secret_headers(struct sl_yaml_loader *ld, const char *lbl,
		    const struct sl_yaml_node *seq, void *base)
{
	struct sl_conf *conf = base;

	(void)lbl;
	if (sl_yaml_get_seq(ld, "secret_headers", seq) == -1)
		return -1;
	if (seq->nkids == 0)
		return 0;
	if ((conf->secret_headers =
		 calloc(seq->nkids, sizeof(*conf->secret_headers))) == NULL) {
		ld->oom = 1;
		return -1;
	}
	for (size_t i = 0; i < seq->nkids; i++) {
		const struct sl_yaml_node *n = seq->kids[i];
		char *d;

		if (n->type == SL_YAML_NODE_BAD)
			continue;
		if (!sl_yaml_is_string(n)) {
			sl_yaml_err_node(ld, n,
					 "\"secret_headers\": expected a "
					 "header name");
			continue;
		}
		if (!sl_conf_is_token(n->str, n->len)) {
			sl_yaml_err_node(ld, n,
					 "\"secret_headers\": invalid header "
					 "name \"%s\"",
					 sl_yaml_qnode(ld, n));
			continue;
		}
		if ((d = sl_hdr_lower_dup(n->str, n->len)) == NULL) {
			ld->oom = 1;
			return -1;
		}
		conf->secret_headers[conf->nsecret_headers++] = d;
	}
	return 0;
}

const struct sl_conf_keydef sl_conf_top_table[] = {
    {"workers", .type = SL_CONF_CODE},
    {"admin", .type = SL_CONF_CODE},
    {"log", SL_CONF_SET, .set = read_log},
    {"drain_timeout", SL_CONF_DURATION, 0, CONF_DAY_MS, 30000,
     TOP(drain_timeout_ms)},
    {"listeners", .type = SL_CONF_CODE},
    {"clusters", .type = SL_CONF_CODE},
    /* a fleet (doc/fleet.md) */
    {"resolver", SL_CONF_SET, .set = read_resolver},
    {"watch", SL_CONF_BOOL, .def = 0, TOP(watch)},
    {"watch_debounce", SL_CONF_DURATION, 50, 60000, 1000,
     TOP(watch_debounce_ms)},
    /* credentials' header names (doc/sluice.yaml.5): read before the
     * listeners, whose header rules ask it */
    {"secret_headers", SL_CONF_SET, .set = read_secret_headers},
    {.name = NULL},
};
#undef TOP

/* admin.auth (doc/dashboard.md): a bearer token's file, a basic user's
 * file, or both; one of them at least. */
static void
parse_admin_auth(struct sl_yaml_loader *ld, const struct sl_yaml_node *v,
		 struct sl_conf *conf)
{
	const struct sl_yaml_node *f;

	if (sl_yaml_get_map(ld, "auth", v) == -1)
		return;
	sl_conf_check_keys(ld, v, SL_CONF_SEC_ADMIN_AUTH);
	/* named here, read by sl_conf_load_secrets */
	if ((f = sl_yaml_map_get(v, "token_file", NULL)) != NULL)
		sl_conf_get_file(ld, "token_file", f,
				 &conf->admin_auth.token_file);
	if ((f = sl_yaml_map_get(v, "basic_file", NULL)) != NULL)
		sl_conf_get_file(ld, "basic_file", f,
				 &conf->admin_auth.basic_file);
	if (conf->admin_auth.token_file.path == NULL &&
	    conf->admin_auth.basic_file.path == NULL && sl_yaml_whole(ld, v))
		sl_yaml_err_node(ld, v,
				 "admin: \"auth\" needs \"token_file\" or "
				 "\"basic_file\"");
}

/* admin.hosts (doc/dashboard.md 6.7): host names without a port, or
 * "*" for any. An address needs no entry: one is always allowed. */
static void
parse_admin_hosts(struct sl_yaml_loader *ld, const struct sl_yaml_node *v,
		  struct sl_admin_auth *au)
{
	size_t len = 1;
	int bad = 0;
	char *p;

	if (sl_yaml_get_seq(ld, "hosts", v) == -1)
		return;
	for (size_t i = 0; i < v->nkids; i++) {
		const struct sl_yaml_node *n = v->kids[i];
		const char *s;
		size_t k;

		if (sl_yaml_get_str(ld, "hosts", n, &s) == -1) {
			bad = 1;
			continue;
		}
		if (strcmp(s, "*") == 0) {
			au->hosts_any = 1;
			continue;
		}
		for (k = 0; s[k] != '\0'; k++)
			if (!isalnum((unsigned char)s[k]) && s[k] != '-' &&
			    s[k] != '.' && s[k] != '_')
				break;
		if (k == 0 || s[k] != '\0' || k - (s[k - 1] == '.') > 253 ||
		    s[0] == '.') {
			sl_yaml_err_node(ld, n,
					 "admin: hosts: \"%s\" is not a host "
					 "name (letters, digits, '-', '.' and "
					 "'_'; no port, no scheme; \"*\" for "
					 "any)",
					 sl_yaml_qnode(ld, n));
			bad = 1;
			continue;
		}
		len += k + 1;
	}
	if (bad || len == 1) /* none, or "*" only */
		return;
	if ((p = malloc(len)) == NULL) {
		ld->oom = 1;
		return;
	}
	au->hosts = p;
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = v->kids[i]->str;
		size_t k = strlen(s);

		if (strcmp(s, "*") == 0)
			continue;
		/* "gw.example." is "gw.example" */
		k -= k > 1 && s[k - 1] == '.';
		for (size_t j = 0; j < k; j++)
			*p++ = (char)tolower((unsigned char)s[j]);
		*p++ = '\0';
	}
	*p = '\0';
	au->hosts_len = (size_t)(p - au->hosts) + 1;
}

static void
parse_root(struct sl_yaml_loader *ld, const struct sl_yaml_node *root,
	   struct sl_conf *conf)
{
	const struct sl_yaml_node *v, *a, *admin = NULL;

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
	sl_conf_check_keys(ld, root, SL_CONF_SEC_TOP);
	if ((v = sl_yaml_map_get(root, "workers", NULL)) != NULL)
		parse_workers(ld, v, conf);
	if ((v = sl_yaml_map_get(root, "admin", NULL)) != NULL &&
	    sl_yaml_get_map(ld, "admin", v) == 0) {
		sl_conf_check_keys(ld, v, SL_CONF_SEC_ADMIN);
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
		if ((a = sl_yaml_map_get(v, "auth", NULL)) != NULL)
			parse_admin_auth(ld, a, conf);
		if ((a = sl_yaml_map_get(v, "hosts", NULL)) != NULL)
			parse_admin_hosts(ld, a, &conf->admin_auth);
		if ((a = sl_yaml_map_get(v, "route_metrics", NULL)) != NULL) {
			static const char *const rm[] = {"auto", "on", "off",
							 NULL};
			int k = sl_yaml_get_enum(ld, "route_metrics", a, rm,
						 "auto, on or off");
			if (k >= 0)
				conf->route_metrics = (enum sl_route_metrics)k;
		}
		/* a listener's tls keys and defaults (doc/dashboard.md),
		 * but a small session cache: operators, not clients */
		conf->admin_tls.min_version = 12;
		conf->admin_tls.session_tickets = 1;
		conf->admin_tls.session_cache = 100;
		if ((a = sl_yaml_map_get(v, "tls", NULL)) != NULL)
			sl_conf_parse_tls_server(ld, "admin", a,
						 &conf->admin_tls);
		if (conf->admin_tls.client_subject_header != NULL)
			sl_yaml_err_node(
			    ld,
			    sl_yaml_map_get(a, "client_subject_header", NULL),
			    "admin: tls: \"client_subject_header\" "
			    "has no use here: the admin listener "
			    "forwards nothing");
	}
	sl_conf_table_read(ld, NULL, root, sl_conf_top_table, conf, NULL);
	/* Clusters first: routes refer to them wherever they are
	 * written. */
	if ((v = sl_yaml_map_get(root, "clusters", NULL)) != NULL)
		sl_conf_parse_clusters(ld, v, conf);
	/* after a stop, a cluster a route names may be in the part not
	 * read */
	ld->names_cut = !sl_yaml_whole(ld, v != NULL ? v : root);
	/* the modules' (conf_mods.c): the WAF, compression, idempotency,
	 * the mirror, tracing, rate limits' store */
	sl_conf_modules_top(ld, root, conf);
	if ((v = sl_yaml_map_get(root, "listeners", NULL)) == NULL)
		sl_yaml_err_lacks(ld, root, "missing key \"listeners\"");
	else
		parse_listeners(ld, v, admin, conf);
	sl_conf_modules_settle(ld, conf);
}

/* ---- the outline of the schema ------------------------------------------ */

/*
 * Every section of the file, where it sits, the keys it may hold and how
 * messages name it (conf_int.h). A section read through a table takes its
 * keys from it; the others list them here. The section files' tables are
 * named here, in the file that calls their parsers, and not in
 * conf_keys.c, which the section files call: the loader hands this to the
 * key checks (ld->outline).
 */

static const char *const admin_keys[] = {"address", "auth",	     "hosts",
					 "tls",	    "route_metrics", NULL};
static const char *const admin_auth_keys[] = {"token_file", "basic_file", NULL};

static const char *const listener_keys[] = {
    "name",
    "address",
    "protocols",
    "limits",
    "tls",
    "http3",
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
static const char *const tls_server_keys[] = {
    "certificates",	     "min_version",   "ciphers",   "ciphersuites",
    "session_tickets",	     "session_cache", "client_ca", "client_verify",
    "client_subject_header", "acme",	      NULL,
};
static const char *const tls_cert_keys[] = {"cert", "key", NULL};
static const char *const http3_keys[] = {
    "alt_svc_max_age",	     "retry", "retry_threshold", "max_connections",
    "max_handshakes_per_ip", NULL,
};
static const char *const proxy_protocol_keys[] = {"from", "versions", NULL};
static const char *const header_rules_keys[] = {"set", "add", "remove", NULL};

static const char *const match_keys[] = {
    "host", "hosts_file", "path", "path_prefix", "methods", "headers", NULL,
};
static const char *const split_keys[] = {"cluster", "weight", NULL};

static const char *const endpoint_keys[] = {"address", "weight", "srv", NULL};
static const char *const tls_client_keys[] = {
    "sni", "ca", "verify", "cert", "key", "min_version", NULL,
};

#define HDRS "\"request_headers\" or \"response_headers\""
const struct sl_conf_section_def sl_conf_outline[SL_CONF_SEC_N] = {
    [SL_CONF_SEC_TOP] = {SL_CONF_SEC_TOP, NULL, sl_conf_top_table,
			 "at the top level", "at the top level",
			 "at the top level", "at the top level"},
    [SL_CONF_SEC_ADMIN] = {SL_CONF_SEC_TOP, admin_keys, NULL, "in admin",
			   "under \"admin\"", "under the top-level \"admin\"",
			   NULL},
    [SL_CONF_SEC_ADMIN_AUTH] = {SL_CONF_SEC_ADMIN, admin_auth_keys, NULL,
				"in admin.auth", "under \"auth\"",
				"under \"admin\"'s \"auth\"", NULL},
    [SL_CONF_SEC_LOG] = {SL_CONF_SEC_TOP, NULL, sl_conf_log_table, "in log",
			 "under \"log\"", "under the top-level \"log\"", NULL},

    [SL_CONF_SEC_RESOLVER] = {SL_CONF_SEC_TOP, NULL, sl_conf_resolver_table,
			      "in resolver", "under \"resolver\"",
			      "under the top-level \"resolver\"", NULL},

    [SL_CONF_SEC_LISTENER] = {SL_CONF_SEC_TOP, listener_keys, NULL,
			      "in listener", "in a listener", "in a listener",
			      "in the listener"},
    [SL_CONF_SEC_LIMITS] = {SL_CONF_SEC_LISTENER, NULL, sl_conf_limits_table,
			    "in limits", "under \"limits\"",
			    "under a listener's \"limits\"", NULL},
    [SL_CONF_SEC_TLS_SERVER] = {SL_CONF_SEC_LISTENER, tls_server_keys, NULL,
				"in tls", "under \"tls\"",
				"under a listener's \"tls\"", "in \"tls\""},
    [SL_CONF_SEC_TLS_CERT] = {SL_CONF_SEC_TLS_SERVER, tls_cert_keys, NULL,
			      "in a certificate", "in a \"certificates\" item",
			      "in a \"certificates\" item of a listener's "
			      "\"tls\"",
			      NULL},
    [SL_CONF_SEC_HTTP3] = {SL_CONF_SEC_LISTENER, http3_keys, NULL, "in http3",
			   "under \"http3\"", "under a listener's \"http3\"",
			   NULL},
    [SL_CONF_SEC_PROXY_PROTOCOL] = {SL_CONF_SEC_LISTENER, proxy_protocol_keys,
				    NULL, "in proxy_protocol",
				    "under \"proxy_protocol\"",
				    "under a listener's \"proxy_protocol\"",
				    NULL},
    [SL_CONF_SEC_LISTENER_HEADERS] = {SL_CONF_SEC_LISTENER, header_rules_keys,
				      NULL, "in header rules", "under " HDRS,
				      "under a listener's " HDRS, NULL},

    [SL_CONF_SEC_ROUTE] = {SL_CONF_SEC_LISTENER, NULL, sl_conf_route_table,
			   "in route", "in a route", "in a route",
			   "in the route"},
    [SL_CONF_SEC_MATCH] = {SL_CONF_SEC_ROUTE, match_keys, NULL, "in match",
			   "under \"match\"", "under a route's \"match\"",
			   NULL},
    [SL_CONF_SEC_SPLIT] = {SL_CONF_SEC_ROUTE, split_keys, NULL, "in split",
			   "in a \"split\" item",
			   "in a \"split\" item of a route", NULL},
    [SL_CONF_SEC_RETRY] = {SL_CONF_SEC_ROUTE, NULL, sl_conf_retry_table,
			   "in retry", "under \"retry\"",
			   "under a route's \"retry\"", NULL},
    [SL_CONF_SEC_ROUTE_HEADERS] = {SL_CONF_SEC_ROUTE, header_rules_keys, NULL,
				   "in header rules", "under " HDRS,
				   "under a route's " HDRS, NULL},

    [SL_CONF_SEC_CLUSTER] = {SL_CONF_SEC_TOP, NULL, sl_conf_cluster_table,
			     "in cluster", "in a cluster", "in a cluster",
			     "in the cluster"},
    [SL_CONF_SEC_ENDPOINT] = {SL_CONF_SEC_CLUSTER, endpoint_keys, NULL,
			      "in endpoint", "in an \"endpoints\" item",
			      "in an \"endpoints\" item of a cluster", NULL},
    [SL_CONF_SEC_POOL] = {SL_CONF_SEC_CLUSTER, NULL, sl_conf_pool_table,
			  "in pool", "under \"pool\"",
			  "under a cluster's \"pool\"", NULL},
    [SL_CONF_SEC_HEALTH] = {SL_CONF_SEC_CLUSTER, NULL, sl_conf_health_table,
			    "in health_check", "under \"health_check\"",
			    "under a cluster's \"health_check\"", NULL},
    [SL_CONF_SEC_OUTLIER] = {SL_CONF_SEC_CLUSTER, NULL, sl_conf_outlier_table,
			     "in outlier", "under \"outlier\"",
			     "under a cluster's \"outlier\"", NULL},
    [SL_CONF_SEC_TLS_CLIENT] = {SL_CONF_SEC_CLUSTER, tls_client_keys, NULL,
				"in tls", "under \"tls\"",
				"under a cluster's \"tls\"", NULL},
    [SL_CONF_SEC_DNS] = {SL_CONF_SEC_CLUSTER, NULL, sl_conf_dns_table, "in dns",
			 "under \"dns\"", "under a cluster's \"dns\"", NULL},
};
#undef HDRS

/* The whole outline: the sections above, then the modules' (conf_mods.c);
 * the top level's and a route's lists of keys are their tables', then the
 * modules' keys. Made once for the process. */
static struct sl_conf_section_def
    outline_all[SL_CONF_SEC_N + SL_CONF_MODULES_SECS_MAX];
static unsigned noutline_all;
static const char *top_keys[SL_CONF_TABLE_MAX + SL_CONF_MODULES_MAX + 1];
static const char *route_keys[SL_CONF_TABLE_MAX + SL_CONF_MODULES_MAX + 1];
static const char *lis_keys[SL_NELEM(listener_keys) + SL_CONF_MODULES_MAX];
static pthread_once_t outline_once = PTHREAD_ONCE_INIT;

static void
outline_init(void)
{
	memcpy(outline_all, sl_conf_outline,
	       SL_CONF_SEC_N * sizeof(outline_all[0]));
	noutline_all = sl_conf_modules_sections(outline_all, SL_CONF_SEC_N);
	sl_conf_modules_keys(top_keys, sl_conf_top_table, NULL,
			     SL_CONF_MOD_TOP);
	outline_all[SL_CONF_SEC_TOP].table = NULL;
	outline_all[SL_CONF_SEC_TOP].keys = top_keys;
	sl_conf_modules_keys(route_keys, sl_conf_route_table, NULL,
			     SL_CONF_MOD_ROUTE);
	outline_all[SL_CONF_SEC_ROUTE].table = NULL;
	outline_all[SL_CONF_SEC_ROUTE].keys = route_keys;
	sl_conf_modules_keys(lis_keys, NULL, listener_keys,
			     SL_CONF_MOD_LISTENER);
	outline_all[SL_CONF_SEC_LISTENER].keys = lis_keys;
}

const struct sl_conf_section_def *
sl_conf_outline_all(unsigned *n)
{
	pthread_once(&outline_once, outline_init);
	*n = noutline_all;
	return outline_all;
}

/* ---- the generation: load, reference counts, free ------------------- */

static void
tls_server_free(struct sl_conf_tls_server *t)
{
	for (size_t j = 0; j < t->ncerts; j++) {
		free(t->certs[j].cert.path);
		free(t->certs[j].key.path);
	}
	free(t->certs);
	for (size_t j = 0; j < t->nacme; j++)
		free(t->acme[j]);
	free(t->acme);
	free(t->ciphers);
	free(t->ciphersuites);
	free(t->client_ca.path);
	free(t->client_subject_header);
}

/* What only the load looks names up in. */
static void
conf_names_free(struct sl_conf *conf)
{
	if (conf->cluster_names != NULL)
		sl_strtab_free(conf->cluster_names);
	free(conf->cluster_names);
	conf->cluster_names = NULL;
}

static void
conf_free(struct sl_conf *conf)
{
	conf_names_free(conf);
	if (conf->tls_free != NULL)
		conf->tls_free(conf);
	struct sl_conf_listener *l;
	size_t i, j;

	for (i = 0; i < conf->nlisteners; i++) {
		l = &conf->listeners[i];
		free(l->name);
		free(l->addr.text);
		sl_route_index_free(l->rindex);
		for (j = 0; j < l->nroutes; j++)
			sl_conf_free_route(&l->routes[j]);
		free(l->routes);
		tls_server_free(&l->tls);
		sl_policy_free(l->policy);
		sl_conf_free_identity(l);
		sl_conf_modules_listener_free(l);
	}
	free(conf->listeners);
	for (i = 0; i < conf->nclusters; i++)
		sl_conf_free_cluster(&conf->clusters[i]);
	free(conf->clusters);
	free(conf->admin_addr.text);
	tls_server_free(&conf->admin_tls);
	free(conf->admin_auth.token_file.path);
	free(conf->admin_auth.basic_file.path);
	free(conf->admin_auth.hosts);
	OPENSSL_cleanse(&conf->admin_auth, sizeof(conf->admin_auth));
	for (i = 0; i < conf->nnameservers; i++)
		free(conf->nameservers[i].text);
	free(conf->nameservers);
	for (i = 0; i < conf->nsecret_headers; i++)
		free(conf->secret_headers[i]);
	free(conf->secret_headers);
	sl_conf_modules_top_free(conf);
	free(conf->access_log);
	free(conf->path);
	free(conf->text);
	free(conf);
}

/* Each listener's route index, when it has enough routes to need one. */
static void
index_routes(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	for (size_t i = 0; i < conf->nlisteners; i++) {
		struct sl_conf_listener *l = &conf->listeners[i];
		int sets = 0;

		for (size_t j = 0; j < l->nroutes; j++) {
			sets |= l->routes[j].hosts != NULL;
			if (l->any_at == 0 && sl_route_any(&l->routes[j]))
				l->any_at = j + 1;
		}
		/* a hosts_file's names are found by the index, never walked */
		if (l->nroutes < SL_ROUTE_INDEX_MIN && !sets)
			continue;
		l->rindex = sl_route_index_build(l->routes, l->nroutes);
		if (l->rindex == NULL)
			ld->oom = 1;
	}
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
	ld.outline = sl_conf_outline_all(&ld.noutline);
	root = sl_yaml_parse(&ld, &fatal);

	if (!fatal && (conf = calloc(1, sizeof(*conf))) == NULL)
		ld.oom = 1;
	if (conf != NULL) {
		atomic_init(&conf->refcnt, 1);
		sl_conf_table_defaults(sl_conf_top_table, conf);
		sl_conf_table_defaults(sl_conf_log_table, conf);
		sl_conf_table_defaults(sl_conf_resolver_table, conf);
		conf->path = sl_yaml_strdup(&ld, ld.name);
		conf->access_log = sl_yaml_strdup(&ld, "stdout");
		parse_root(&ld, root, conf);
		conf_names_free(conf);
		if (ld.nerrs == 0 && !ld.oom)
			index_routes(&ld, conf);
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
		/* kept: a generation made from this one with new DNS
		 * answers parses the same bytes (sl_conf_reparse); a file
		 * that names no endpoint by a DNS name never has new
		 * answers (72 bytes a host route kept for nothing: issue
		 * 78) */
		for (size_t i = 0; i < conf->nclusters && buf != NULL; i++)
			if (conf->clusters[i].nnames > 0) {
				conf->text = buf;
				conf->text_len = len;
				buf = NULL;
			}
	}
	free(buf);
	return conf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

struct sl_conf *
sl_conf_reparse(const struct sl_conf *conf)
{
	struct sl_conf *nc;
	char *errors = NULL;

	if (conf->text == NULL) {
		errno = EINVAL;
		return NULL;
	}
	nc = sl_conf_load_buffer(conf->path, conf->text, conf->text_len,
				 &errors);
	free(errors);
	if (nc == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if ((nc->text = malloc(conf->text_len + 1)) == NULL) {
		sl_conf_unref(nc);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(nc->text, conf->text, conf->text_len);
	nc->text_len = conf->text_len;
	memcpy(nc->sha256, conf->sha256, sizeof(nc->sha256));
	nc->loaded_at = conf->loaded_at;
	return nc;
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
		if (conf->reap != NULL)
			conf->reap(conf);
		else
			sl_conf_destroy(conf);
	}
}

void
sl_conf_destroy(struct sl_conf *conf)
{
	if (conf->on_free != NULL)
		conf->on_free(conf);
	conf_free(conf);
}
