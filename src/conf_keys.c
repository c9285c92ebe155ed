/* SPDX-License-Identifier: MIT */
/*
 * The outline of the sluice schema: every section of the file (the top
 * level, a listener, its limits, a route, a cluster, its pool, ...), where
 * it sits and the keys it may hold, the check of a mapping's keys against
 * it, and the reading of a section declared as a table of keys. A key unknown
 * in its section is looked up in the others, so that a key written one level
 * off is pointed to where it belongs. The section files call it; it reads only
 * the keys of a mapping, calls no section parser, and does no I/O.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf_int.h"
#include "conf_yaml.h"
#include "util.h"

/* ---- the keys of each section ------------------------------------------ */

static const char *const admin_keys[] = {"address", NULL};
static const char *const rate_limit_store_keys[] = {
    "address", "timeout", "prefix", "username", "password_file", NULL,
};

static const char *const listener_keys[] = {
    "name",
    "address",
    "protocols",
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
static const char *const tls_server_keys[] = {
    "certificates", "min_version",     "ciphers",
    "ciphersuites", "session_tickets", "session_cache",
    "client_ca",    "client_verify",   "client_subject_header",
    NULL,
};
static const char *const tls_cert_keys[] = {"cert", "key", NULL};
static const char *const proxy_protocol_keys[] = {"from", "versions", NULL};
static const char *const header_rules_keys[] = {"set", "add", "remove", NULL};

static const char *const match_keys[] = {
    "host", "path", "path_prefix", "methods", "headers", NULL,
};
static const char *const split_keys[] = {"cluster", "weight", NULL};
static const char *const mirror_keys[] = {"cluster", "percent", NULL};
static const char *const rate_limit_keys[] = {
    "name", "key", "rate", "burst", "scope", "max_keys", "on_store_error", NULL,
};

static const char *const endpoint_keys[] = {"address", "weight", "srv",
					     NULL};
static const char *const tls_client_keys[] = {
    "sni", "ca", "verify", "cert", "key", "min_version", NULL,
};

/* ---- the sections ------------------------------------------------------ */

/*
 * A section of the file and how messages name it. A key of it found in
 * another section is said to belong "down" from its parent, "up" from a
 * section inside it, and "far" from anywhere else.
 */
struct section {
	enum sl_conf_section parent;	    /* the top level's is itself */
	const char *const *keys;	    /* NULL-terminated, or NULL */
	const struct sl_conf_keydef *table; /* the keys when keys is NULL */
	const char *where; /* "in limits": unknown key "x" in limits */
	const char *down;  /* seen from its parent */
	const char *far;   /* seen from elsewhere */
	const char *up;	   /* seen from inside; NULL: nothing is */
};

#define HDRS "\"request_headers\" or \"response_headers\""

static const struct section sections[SL_CONF_SEC_N] = {
    [SL_CONF_SEC_TOP] = {SL_CONF_SEC_TOP, NULL, sl_conf_top_table,
			 "at the top level", "at the top level",
			 "at the top level", "at the top level"},
    [SL_CONF_SEC_ADMIN] = {SL_CONF_SEC_TOP, admin_keys, NULL, "in admin",
			   "under \"admin\"", "under the top-level \"admin\"",
			   NULL},
    [SL_CONF_SEC_LOG] = {SL_CONF_SEC_TOP, NULL, sl_conf_log_table, "in log",
			 "under \"log\"", "under the top-level \"log\"", NULL},
    [SL_CONF_SEC_RL_STORE] = {SL_CONF_SEC_TOP, rate_limit_store_keys, NULL,
			      "in rate_limit_store",
			      "under \"rate_limit_store\"",
			      "under the top-level \"rate_limit_store\"", NULL},

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
    [SL_CONF_SEC_MIRROR] = {SL_CONF_SEC_ROUTE, mirror_keys, NULL, "in mirror",
			    "under \"mirror\"", "under a route's \"mirror\"",
			    NULL},
    [SL_CONF_SEC_RATE_LIMIT] = {SL_CONF_SEC_ROUTE, rate_limit_keys, NULL,
				"in rate_limit", "in a \"rate_limit\" item",
				"in a \"rate_limit\" item of a route", NULL},
    [SL_CONF_SEC_ROUTE_HEADERS] = {SL_CONF_SEC_ROUTE, header_rules_keys, NULL,
				   "in header rules", "under " HDRS,
				   "under a route's " HDRS, NULL},
    [SL_CONF_SEC_GUARD] = {SL_CONF_SEC_ROUTE, NULL, sl_conf_guard_table,
			   "in guard", "under \"guard\"",
			   "under a route's \"guard\"", NULL},

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
    [SL_CONF_SEC_DNS] = {SL_CONF_SEC_CLUSTER, NULL, sl_conf_dns_table,
			 "in dns", "under \"dns\"",
			 "under a cluster's \"dns\"", NULL},
};

/* Sections between s and the top level. */
static unsigned
depth(enum sl_conf_section s)
{
	unsigned d = 0;

	for (; s != SL_CONF_SEC_TOP; s = sections[s].parent)
		d++;
	return d;
}

/* Whether a is b or holds it, at any depth. */
static int
holds(enum sl_conf_section a, enum sl_conf_section b)
{
	for (;; b = sections[b].parent) {
		if (a == b)
			return 1;
		if (b == SL_CONF_SEC_TOP)
			return 0;
	}
}

/* Steps from a to b through the tree of sections. */
static unsigned
distance(enum sl_conf_section a, enum sl_conf_section b)
{
	unsigned da = depth(a), db = depth(b), n = 0;

	for (; da > db; da--, n++)
		a = sections[a].parent;
	for (; db > da; db--, n++)
		b = sections[b].parent;
	for (; a != b; n += 2) {
		a = sections[a].parent;
		b = sections[b].parent;
	}
	return n;
}

/* Where section t is, as seen from section cur. */
static const char *
place(enum sl_conf_section cur, enum sl_conf_section t)
{
	if (holds(t, cur) && sections[t].up != NULL)
		return sections[t].up;
	if (t != SL_CONF_SEC_TOP && sections[t].parent == cur)
		return sections[t].down;
	return sections[t].far;
}

/* Whether word is one or more whole words of name: "prefix" of
 * "path_prefix", "health" of "health_check". */
static int
part_of(const char *word, const char *name)
{
	size_t wl = strlen(word);
	const char *p;

	if (wl == 0)
		return 0;
	for (p = name; (p = strstr(p, word)) != NULL; p++)
		if ((p == name || p[-1] == '_') &&
		    (p[wl] == '\0' || p[wl] == '_'))
			return 1;
	return 0;
}

/* Key number i of section s, NULL past the last. */
static const char *
key_at(enum sl_conf_section s, size_t i)
{
	if (sections[s].table != NULL)
		return sections[s].table[i].name;
	return sections[s].keys[i];
}

static int
has_key(enum sl_conf_section s, const char *key)
{
	const char *k;

	for (size_t i = 0; (k = key_at(s, i)) != NULL; i++)
		if (strcmp(k, key) == 0)
			return 1;
	return 0;
}

/*
 * key is unknown in section cur and no typing mistake for one of its keys:
 * says in buf which key of cur it likely stands for when it is a part of
 * one of them only ("prefix" in match: "path_prefix"), else where it
 * belongs when another section has it (the nearest ones, all of those),
 * else which key of another section it most likely misspells (the nearest
 * of the closest, keys of 5 bytes or more). Leaves buf empty otherwise.
 */
static void
elsewhere(const void *ctx, const char *key, char *buf, size_t sz)
{
	enum sl_conf_section cur = *(const enum sl_conf_section *)ctx;
	enum sl_conf_section t, near[3], best = SL_CONF_SEC_TOP;
	int ti;
	unsigned d, mind = UINT_MAX, bestd = UINT_MAX, bestdist = UINT_MAX;
	const char *bestkey = NULL, *name;
	size_t n = 0, i, len;

	buf[0] = '\0';
	/* a part of one key of its own section: most likely that key, but
	 * for a key of that very name one step away ("interval" in a
	 * cluster is its health_check's, not its ping_interval) */
	for (ti = 0; ti < SL_CONF_SEC_N; ti++) {
		t = (enum sl_conf_section)ti;
		if (t != cur && distance(cur, t) == 1 && has_key(t, key))
			break;
	}
	for (i = 0; ti == SL_CONF_SEC_N && (name = key_at(cur, i)) != NULL;
	     i++) {
		if (!part_of(key, name))
			continue;
		if (bestkey != NULL) {
			bestkey = NULL; /* two: it says nothing */
			break;
		}
		bestkey = name;
	}
	if (bestkey != NULL) {
		snprintf(buf, sz, " (did you mean \"%s\"?)", bestkey);
		return;
	}
	for (ti = 0; ti < SL_CONF_SEC_N; ti++) {
		t = (enum sl_conf_section)ti;
		if (t == cur || !has_key(t, key))
			continue;
		if ((d = distance(cur, t)) < mind) {
			mind = d;
			n = 0;
		}
		if (d == mind && n < SL_NELEM(near))
			near[n++] = t;
	}
	if (n > 0) {
		snprintf(buf, sz, " (it belongs %s", place(cur, near[0]));
		for (i = 1; i < n; i++) {
			const char *p = place(cur, near[i]);
			size_t j;

			/* the same words for two sections say nothing more */
			for (j = 0; j < i; j++)
				if (strcmp(p, place(cur, near[j])) == 0)
					break;
			if (j < i)
				continue;
			len = strlen(buf);
			snprintf(buf + len, sz - len, " or %s", p);
		}
		len = strlen(buf);
		snprintf(buf + len, sz - len, ")");
		return;
	}
	for (ti = 0; ti < SL_CONF_SEC_N; ti++) {
		t = (enum sl_conf_section)ti;
		if (t == cur)
			continue;
		for (i = 0; (name = key_at(t, i)) != NULL; i++) {
			const char *close = NULL;
			unsigned cd = 0, dist;

			/* across ~150 keys, a short one is met by chance */
			if (strlen(name) < 5)
				continue;
			sl_yaml_suggest(key, name, &close, &cd);
			if (close == NULL)
				continue;
			dist = distance(cur, t);
			if (cd < bestd || (cd == bestd && dist < bestdist)) {
				bestkey = name;
				best = t;
				bestd = cd;
				bestdist = dist;
			}
		}
	}
	if (bestkey != NULL)
		snprintf(buf, sz, " (did you mean \"%s\" %s?)", bestkey,
			 place(cur, best));
}

void
sl_conf_check_keys(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		   enum sl_conf_section sec)
{
	const char *names[SL_CONF_TABLE_MAX + 1];
	const char *const *keys = sections[sec].keys;
	size_t i;

	if (keys == NULL) {
		for (i = 0; i < SL_CONF_TABLE_MAX &&
			    (names[i] = key_at(sec, i)) != NULL;
		     i++)
			;
		names[i] = NULL;
		keys = names;
	}
	sl_yaml_check_keys(ld, map, keys, sections[sec].where, elsewhere, &sec);
}

/* ---- sections declared as tables --------------------------------------- */

/* Stores v into the field of entry t in base, at its width. */
static void
table_store(const struct sl_conf_keydef *t, void *base, uint64_t v)
{
	char *p = (char *)base + t->off;
	uint32_t v32 = (uint32_t)v;

	if (t->size == sizeof(v))
		memcpy(p, &v, sizeof(v));
	else if (t->size == sizeof(v32))
		memcpy(p, &v32, sizeof(v32));
}

void
sl_conf_table_defaults(const struct sl_conf_keydef *t, void *base)
{
	for (; t->name != NULL; t++)
		table_store(t, base, t->def);
}

/* Reads the value v of entry t into base. Returns 0, or -1 with the error
 * reported (the field keeps what it held). */
static int
table_get(struct sl_yaml_loader *ld, const char *lbl,
	  const struct sl_conf_keydef *t, const struct sl_yaml_node *v,
	  void *base)
{
	uint64_t u = 0;
	int rc = -1, i;

	switch (t->type) {
	case SL_CONF_CODE:
		break;
	case SL_CONF_DURATION:
		rc = sl_yaml_get_duration(ld, t->name, v, t->min, t->max, &u);
		break;
	case SL_CONF_SIZE:
		rc = sl_yaml_get_size(ld, t->name, v, t->min, t->max, &u);
		break;
	case SL_CONF_UINT:
		rc = sl_yaml_get_uint(ld, t->name, v, t->min, t->max, &u);
		break;
	case SL_CONF_PERCENT:
		rc = sl_yaml_get_percent(ld, t->name, v, t->min, t->max, &u);
		break;
	case SL_CONF_BOOL:
		if ((rc = sl_conf_get_bool(ld, t->name, v, &i)) == 0)
			u = (uint64_t)i;
		break;
	case SL_CONF_ENUM:
		if ((i = sl_yaml_get_enum(ld, t->name, v, t->names,
					  t->expected)) >= 0) {
			u = (uint64_t)i;
			rc = 0;
		}
		break;
	case SL_CONF_SET:
		return t->set(ld, lbl, v, base); /* it stores what it read */
	}
	if (rc == 0)
		table_store(t, base, u);
	return rc;
}

void
sl_conf_table_read(struct sl_yaml_loader *ld, const char *lbl,
		   const struct sl_yaml_node *map,
		   const struct sl_conf_keydef *t, void *base,
		   const struct sl_yaml_node **got)
{
	const struct sl_yaml_node *v;
	size_t i;

	for (i = 0; t[i].name != NULL; i++) {
		if (got != NULL)
			got[i] = NULL;
		if (t[i].type == SL_CONF_CODE ||
		    (v = sl_yaml_map_get(map, t[i].name, NULL)) == NULL)
			continue;
		if (table_get(ld, lbl, &t[i], v, base) == 0 && got != NULL)
			got[i] = v;
	}
}

const struct sl_yaml_node *
sl_conf_table_got(const struct sl_conf_keydef *t,
		  const struct sl_yaml_node *const *got, const char *name)
{
	for (size_t i = 0; t[i].name != NULL; i++)
		if (strcmp(t[i].name, name) == 0)
			return got[i];
	return NULL;
}
