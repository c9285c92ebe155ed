/* SPDX-License-Identifier: MIT */
/*
 * The auth module (doc/auth.md; doc/design-notes.md, "A module"): a
 * route's auth: -- JSON Web Tokens checked against a key set, and an
 * external authorization service -- in the module's route slot; the key
 * sets fetched from URLs in its slot of the generation. conf_auth.c reads
 * them (conf_auth_print.c prints them, conf_auth_metrics.c renders their
 * families); proxy/'s exchange_auth.c, exchange_extauth.c and keyfetch.c
 * use them.
 */
#ifndef SL_CONF_AUTH_H
#define SL_CONF_AUTH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf_types.h"
#include "hist.h"
#include "runtime.h" /* sl_counts_mod */

struct sl_jwt_policy;
struct sl_jwks;
struct sl_keysrc;

extern struct sl_module sl_module_auth;

/* A route's auth: (doc/auth.md): JSON Web Tokens checked against a key
 * set before the request goes upstream. */
struct sl_conf_auth {
	struct sl_jwt_policy *jwt; /* owned (jwt.h) */
	struct sl_jwks *keys;	   /* owned: the key set, parsed; NULL with
				      keys_url */
	char *keys_path;
	struct sl_conf_keys_url *keys_url; /* owned; NULL: keys from a file */
	struct sl_conf_extauth *external;  /* owned; NULL: none */
	struct sl_conf_key token;	   /* header:NAME (Authorization: the
					      Bearer scheme) or cookie:NAME */
	int forward_token; /* the token goes upstream (default 1) */
};

/* What an external authorization check sends and takes (doc/auth.md,
 * "External authorization"). */
enum sl_extauth_proto {
	SL_EXTAUTH_HTTP = 0, /* a request to path + the client's target */
	SL_EXTAUTH_GRPC,     /* envoy.service.auth.v3.Authorization/Check */
};
enum sl_extauth_failure {
	SL_EXTAUTH_FAIL_DENY = 0, /* failure_status (503 by default) */
	SL_EXTAUTH_FAIL_ALLOW,	  /* on, marked with failure_header */
};
#define SL_EXTAUTH_FIELDS_MAX 8 /* names in each list */
struct sl_conf_extauth {
	uint64_t id; /* unique in the process: a worker's cache of decisions
			is never one generation's for another's */
	const struct sl_conf_cluster *cluster;
	int protocol;	     /* enum sl_extauth_proto */
	char *path;	     /* HTTP: the prefix of the target; "" none */
	uint64_t timeout_ms; /* one check, connect included; 1s */
	/* the client's fields sent (lower case), the answer's fields set on
	 * the upstream request, and the denial's fields sent to the client */
	char *send[SL_EXTAUTH_FIELDS_MAX];
	size_t nsend;
	char *upstream[SL_EXTAUTH_FIELDS_MAX];
	size_t nupstream;
	char *client[SL_EXTAUTH_FIELDS_MAX];
	size_t nclient;
	int on_failure;		/* enum sl_extauth_failure */
	int failure_status;	/* 503 or 403 */
	char *failure_header;	/* set on a request let through on failure */
	uint32_t cache_entries; /* 0: no cache */
	uint64_t cache_ttl_ms;
	uint32_t body_bytes; /* the request body's first bytes sent; 0 */
};

/* A key set fetched from a URL through a cluster (doc/auth.md, "Key sets
 * from a URL"): the source shared across generations (keysrc.h) and the
 * request that fetches it. */
struct sl_conf_keys_url {
	struct sl_keysrc *src; /* a reference */
	const struct sl_conf_cluster *cluster;
	char *url;
	char *request; /* the GET's head, whole */
	size_t request_len;
	uint64_t timeout_ms;		 /* a fetch's deadline; 5s */
	uint64_t refresh_ms, refetch_ms; /* as src's, for /config */
};

/* A route's auth decisions by outcome (jwt.h's enum sl_jwt_err, and one
 * past it: no token). */
#define SL_AUTH_NRESULTS 16

/* A route's external authorization (doc/auth.md): the service allowed,
 * denied, or failed (no answer, a timeout, a 5xx) and the route's
 * on_failure denied or allowed. */
enum sl_ext_result {
	SL_EXT_ALLOW = 0,
	SL_EXT_DENY,
	SL_EXT_ERROR_DENY,
	SL_EXT_ERROR_ALLOW,
	SL_EXT_NRESULTS
};

/* Its block of a route's per-worker counts (the module's route_words):
 * the token's decisions; the external check's, those a cache gave, and
 * the checks' durations (a histogram, the sum in microseconds). */
struct sl_auth_counts {
	atomic_uint_fast64_t auth[SL_AUTH_NRESULTS];
	atomic_uint_fast64_t ext[SL_EXT_NRESULTS];
	atomic_uint_fast64_t ext_cached;
	atomic_uint_fast64_t ext_dur[SL_HIST_N];
	atomic_uint_fast64_t ext_dur_sum_us;
};

/* Its counters in counts c (a route's, of one worker). */
static inline struct sl_auth_counts *
sl_auth_counts(struct sl_counts *c)
{
	return (struct sl_auth_counts *)sl_counts_mod(c, &sl_module_auth);
}

/* The generation's share (the module's top slot): the key sets routes
 * fetch from a URL, each source once (borrowed from the routes' auth):
 * what a worker's tick refreshes. */
struct sl_auth_gen {
	struct sl_conf_keys_url **keys_urls;
	size_t nkeys_urls;
};

/* /config's ,"auth":VALUE of a route's slot (conf_auth_print.c). */
void sl_conf_auth_print(const struct sl_jout *o, const void *slot);

/* Its /metrics families (conf_auth_metrics.c): the descriptor's
 * metrics. */
void sl_conf_auth_metrics(const struct sl_mout *o, const struct sl_conf *conf);

/* A route's auth, NULL: none. */
static inline const struct sl_conf_auth *
sl_auth_route(const struct sl_conf_route *r)
{
	return sl_route_mod(r, &sl_module_auth);
}

/* The generation's key sets fetched from URLs (NULL: a generation the
 * loader did not make). */
static inline const struct sl_auth_gen *
sl_auth_gen(const struct sl_conf *c)
{
	return sl_conf_mod(c, &sl_module_auth);
}

#endif
