/* SPDX-License-Identifier: MIT */
/*
 * The types of one configuration generation (struct sl_conf and what it
 * holds: listeners, their limits and tls, routes, clusters, ...), for the
 * many files that read a generation and call none of conf.h's functions.
 * Types only, and the two accessors of a module's slots; no include
 * beyond what the types need.
 * conf.h includes it and adds the loading and reference counting. Here in
 * core, the lowest layer, because net/ (TLS) and edge/ (routes, the
 * registry) read a generation too and include only downward; conf/ fills
 * it (issue 79).
 */
#ifndef SL_CONF_TYPES_H
#define SL_CONF_TYPES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "cidr.h"   /* struct sl_cidr_set */
#include "log.h"    /* enum sl_log_level, sl_access_format, sl_log_query */
#include "module.h" /* struct sl_module: sl_route_mod, sl_conf_mod */

struct sl_lstate;
struct sl_lcstate;
struct sl_policy;
struct sl_clstate;
struct sl_epstate;
struct sl_rstate;
struct sl_tls_server;
struct sl_tls_client;

enum sl_balance {
	SL_BALANCE_ROUND_ROBIN = 0, /* smooth weighted round robin */
	SL_BALANCE_LEAST_REQUEST,
	SL_BALANCE_HASH, /* consistent, by hash_key */
};

/* Where a per-request key comes from (route sticky:, cluster hash_key:). */
enum sl_key_source {
	SL_KEY_NONE = 0,  /* no key: every request on its own */
	SL_KEY_HEADER,	  /* the first value of a request header */
	SL_KEY_COOKIE,	  /* the value of a cookie */
	SL_KEY_CLIENT_IP, /* the client's address */
};

struct sl_conf_key {
	enum sl_key_source source;
	char *name;	 /* header name (lower-cased) or cookie name (as
			    written); NULL for the client address */
	size_t name_len; /* bytes */
};

/* Where a value was written in the file (1-based; 0 = not written). */
struct sl_conf_pos {
	unsigned line, col;
};

/* A parsed HOST:PORT or [V6]:PORT. */
struct sl_conf_addr {
	char *text; /* as written in the file, NUL-terminated */
	struct sockaddr_storage ss;
	socklen_t sslen;
};

/* Per-connection budgets of a listener (doc/contracts.md section 1.3). */
struct sl_conf_limits {
	uint64_t header_timeout_ms; /* whole head, from its first byte */
	uint64_t body_timeout_ms;   /* longest gap between body reads */
	uint64_t send_timeout_ms;   /* longest write without progress */
	uint64_t idle_timeout_ms;   /* keep-alive wait */
	uint64_t max_uri_bytes;
	uint64_t max_header_bytes;
	uint64_t max_headers;
	uint64_t max_body_bytes;    /* 0 = unlimited */
	uint64_t buffer_bytes;	    /* per direction per connection */
	uint64_t splice_min_bytes;  /* a request body this long or longer
				       goes by splice(2) where it can; 0 =
				       never */
	uint64_t max_requests;	    /* per client connection, 0 = unlimited */
	uint64_t min_body_rate_bps; /* request body, bytes per second over a
				       5s window after 5s grace; 0 = off */
	uint64_t min_send_rate_bps; /* response to the client, bytes per
				       second, same window; 0 = off */
	uint64_t max_connections;   /* client connections on this listener,
				       all workers; 0 = unlimited */
	uint64_t max_connections_per_ip; /* client connections from one IP
					    address; 0 = unlimited */
	/* HTTP/2 (doc/http2.md section 4) */
	uint64_t max_concurrent_streams; /* streams open at once on one
					    connection, default 100 */
	uint64_t max_header_list_bytes;	 /* a request's decoded header list
					    (RFC 9113 section 6.5.2: names,
					    values and 32 bytes a field);
					    default max_header_bytes */
	/* tunnels after a 101 (doc/websocket.md) */
	uint64_t tunnel_idle_timeout_ms;  /* no byte either way, 300s */
	uint64_t tunnel_lifetime_ms;	  /* longest life, 0 = none */
	uint64_t tunnel_drain_timeout_ms; /* a reload's grace for an open
					     tunnel (a stop drains at once),
					     60s */
	uint64_t tunnel_buffer_bytes;	  /* per direction, 16 KiB */
	uint64_t max_tunnels;		  /* open on this listener, all
					     workers; 0 = unlimited */
	uint64_t max_tunnels_per_ip;	  /* ... from one client address;
					     0 = unlimited */
};

struct sl_conf_endpoint {
	struct sl_conf_addr addr; /* a resolved one's text is its address
				     and port, as a written one's would be */
	uint32_t weight;	  /* >= 1, default 1 */
	const char *dns_name;	  /* the name it was resolved from
				     (sl_conf_dns_name.text, borrowed from
				     the same generation); NULL: written */
	uint64_t id;		  /* hash of addr.text: its place in the hash
				     balancer's race, whatever its position */
	size_t index;		  /* position in its cluster's endpoint array */
	struct sl_epstate *state; /* shared counters, set by sl_runtime_bind */
};

/* Active health checks of a cluster (health_check:). */
struct sl_conf_health {
	int enabled;
	char *path;	      /* GET target, default "/" */
	uint64_t interval_ms; /* default 5s */
	uint64_t timeout_ms;  /* default 1s */
	uint32_t healthy;     /* successes in a row to come back, 2 */
	uint32_t unhealthy;   /* failures in a row to go out, 3 */
	uint64_t expect[8];   /* statuses 100..599 that pass, a bit each
				 (status - 100); default 200..299 */
	/* the gRPC health protocol for this service ("": the server as a
	 * whole) instead of a GET; NULL: a GET (HTTP/2 clusters only) */
	char *grpc_service;
};

/* Passive outlier ejection of a cluster (outlier:). */
struct sl_conf_outlier {
	int enabled;
	uint32_t consecutive_errors;  /* default 5 */
	uint64_t ejection_time_ms;    /* default 30s, grows with repeats */
	uint32_t max_ejected_percent; /* default 10 */
};

/* A file named in the configuration, with where it was named. */
struct sl_conf_file {
	char *path; /* NULL when not set */
	struct sl_conf_pos pos;
};

/* A listener's tls: (doc/tls.md). The contexts are built by sl_tls_load
 * (tls.c) from these, once the file is valid. */
struct sl_conf_tls_cert {
	struct sl_conf_file cert, key;
};
struct sl_conf_tls_server {
	struct sl_conf_tls_cert *certs; /* NULL (and no acme): plain HTTP */
	size_t ncerts;			/* the first is the default */
	/* tls.acme (doc/tls.md, "ACME"): the names whose certificates the
	 * top-level acme orders and renews, lowercase, a certificate each;
	 * NULL: none */
	char **acme;
	size_t nacme;
	struct sl_conf_pos acme_pos;
	int enabled;		      /* certificates or acme: a TLS listener */
	int min_version;	      /* 12 or 13; default 12 */
	char *ciphers, *ciphersuites; /* NULL: the defaults */
	struct sl_conf_pos ciphers_pos, ciphersuites_pos;
	int session_tickets;	       /* default on */
	uint64_t session_cache;	       /* entries, 0 = off; default 20000 */
	struct sl_conf_file client_ca; /* optional */
	int client_verify_optional;    /* client_verify: optional */
	char *client_subject_header;   /* optional; as written */
	struct sl_tls_server *ctx;     /* built by sl_tls_load */
	/* the same settings for QUIC (http3:), built by sl_tls_load with
	 * the hook sl_tls_quic_hook; NULL: no http3 */
	struct sl_tls_server *qctx;
};

/* A listener's http3: (doc/http3.md): HTTP/3 over QUIC on the UDP port of
 * its TLS address, with the same certificates, routes and limits. */
enum sl_h3_retry {
	SL_H3_RETRY_AUTO = 0, /* a Retry once handshakes in progress pass
				 retry_threshold on a worker */
	SL_H3_RETRY_ALWAYS,   /* every client's address validated first */
	SL_H3_RETRY_NEVER,
};
struct sl_conf_http3 {
	int enabled;
	uint64_t alt_svc_max_age_ms; /* Alt-Svc's ma; 0: no Alt-Svc sent */
	enum sl_h3_retry retry;
	uint64_t retry_threshold; /* auto: handshakes in progress a worker */
	uint64_t max_connections; /* a worker's QUIC connections at most */
	uint64_t max_handshakes_per_ip; /* a worker's handshakes in progress
					   from one address at most */
	struct sl_conf_pos pos;		/* of the key, for messages */
};

/* A cluster's tls: (doc/tls.md). */
struct sl_conf_tls_client {
	int enabled;
	char *sni;		       /* NULL: none */
	struct sl_conf_file ca;	       /* NULL path: the system store */
	int verify;		       /* default on */
	struct sl_conf_file cert, key; /* mutual TLS, both or neither */
	int min_version;	       /* 12 or 13 */
	struct sl_tls_client *ctx;     /* built by sl_tls_load */
};

/*
 * A name among a cluster's endpoints (doc/fleet.md section 2): every
 * address it resolves to (A and AAAA), or every target of its SRV records,
 * is an endpoint of the generation made with the answer.
 */
struct sl_conf_dns_name {
	char *name;	 /* lower-cased, no final dot */
	char *text;	 /* for logs and pages: "NAME:PORT" or "srv:NAME" */
	int srv;	 /* an SRV name: targets, ports and weights from it */
	uint16_t port;	 /* not srv: the port of every address */
	uint32_t weight; /* not srv: the weight of every address */
	struct sl_conf_pos pos; /* where it is written */
};

/* How a cluster's names are looked up (dns:). */
enum {
	SL_DNS_FAMILY_ANY = 0, /* A and AAAA */
	SL_DNS_FAMILY_IPV4,    /* A */
	SL_DNS_FAMILY_IPV6,    /* AAAA */
};

/* One address a name resolved to (sl_conf_add_resolved). */
struct sl_conf_resolved {
	struct sockaddr_storage ss; /* with its port */
	socklen_t sslen;
	uint32_t weight; /* >= 1 */
};

struct sl_conf_cluster {
	char *name;
	/* the written addresses first (nstatic of them), then what the
	 * names resolved to (sl_conf_add_resolved); owned. May be empty
	 * when the cluster has names: no address yet, or none left */
	struct sl_conf_endpoint *endpoints;
	size_t nendpoints;
	size_t nstatic;
	struct sl_conf_dns_name *names; /* owned; NULL when none */
	size_t nnames;
	int dns_family;		    /* SL_DNS_FAMILY_*; default ANY */
	uint64_t dns_min_ttl_ms;    /* a record's TTL raised to this; 1s */
	uint64_t dns_max_ttl_ms;    /* ... and lowered to this; 5m */
	uint64_t dns_keep_stale_ms; /* the last good answer stands this long
				       when lookups fail or come back empty;
				       10m */
	enum sl_balance balance;
	struct sl_conf_key hash_key;   /* balance: hash; default client_ip */
	uint64_t connect_timeout_ms;   /* default 1s */
	uint64_t pool_max_idle;	       /* per endpoint per worker, default 64 */
	uint64_t pool_idle_timeout_ms; /* default 30s */
	uint64_t pool_max_requests; /* per upstream connection, 0 = unlimited;
				       default 10000 */
	uint64_t pool_max_lifetime_ms; /* an upstream connection's age after
					  which it takes no new request;
					  0 = none, the default */
	size_t index;		       /* position in sl_conf.clusters */
	uint64_t max_connections; /* open upstream connections per endpoint,
				     all workers, idle ones included;
				     0 = unlimited, default 0 */
	uint64_t max_pending;	  /* requests waiting for a connection, all
				     workers; 0 = none wait, default 100 */
	struct sl_conf_health health;
	struct sl_conf_outlier outlier;
	uint64_t queue_timeout_ms; /* longest wait for a connection, default
				      1s */
	struct sl_conf_tls_client tls;
	struct sl_clstate *state; /* shared counters, set by sl_runtime_bind */
	/* identity (doc/edge.md section 2): every upstream connection
	 * starts with a PROXY version 2 header naming the client */
	int proxy_protocol; /* 0: off (default), 2: v2 */
	/* protocol: what its endpoints speak (doc/http2.md section 10) */
	int protocol;			 /* SL_UP_PROTO_*; default http1 */
	uint64_t max_concurrent_streams; /* h2, h2c: streams per connection,
					    under the server's limit;
					    default 100 */
	uint64_t ping_interval_ms;	 /* h2, h2c: a shared connection silent
					    this long gets a PING (0: never);
					    default 15s */
};

/* A cluster's protocol. */
enum {
	SL_UP_PROTO_HTTP1 = 0,
	SL_UP_PROTO_H2C = 1, /* HTTP/2 over cleartext, prior knowledge */
	SL_UP_PROTO_H2 = 2,  /* HTTP/2 over TLS, chosen by ALPN */
};

struct sl_conf_header_match {
	char *name;  /* lower-cased */
	char *value; /* exact, case-sensitive */
};

/* Which failures a route retries (retry.on). */
#define SL_RETRY_ON_CONNECT 0x01 /* connect refused or timed out */
#define SL_RETRY_ON_RESET   0x02 /* reset or closed before a response */
#define SL_RETRY_ON_TIMEOUT 0x04 /* per_try_timeout passed */
#define SL_RETRY_ON_502	    0x08 /* the upstream answered 502 */
#define SL_RETRY_ON_503	    0x10
#define SL_RETRY_ON_504	    0x20

/* A route's retry policy (retry:). */
struct sl_conf_retry {
	uint32_t attempts;	     /* tries in all, the first included;
					default 2 */
	unsigned on;		     /* SL_RETRY_ON_*; default CONNECT|RESET */
	int idempotency_key;	     /* an Idempotency-Key makes a request
					replayable after it was sent */
	uint64_t per_try_timeout_ms; /* default: the route's timeout */
	uint32_t budget_percent;     /* retries in flight per cluster per
					worker, of its requests; default 20 */
};

/* One cluster of a route's split. */
struct sl_conf_split {
	struct sl_conf_cluster *cluster; /* borrowed from sl_conf.clusters */
	uint32_t weight;		 /* 0..10000; 0 gets no traffic */
	uint64_t id;			 /* hash of the cluster's name: its
					    place in the sticky race */
};

struct sl_route_index;
/* A route's hosts_file: its names, read at each load (conf_hosts.c).
 * Name i is names + at[i].off, at[i].len bytes and a NUL, lower-cased;
 * a wildcard's holds its suffix (".example.com") as a route's host does. */
struct sl_conf_hostname {
	uint32_t off;
	uint32_t len : 31;
	uint32_t wild : 1;
};
struct sl_conf_hostset {
	char *file; /* as written */
	char *names;
	struct sl_conf_hostname *at;
	size_t n;
};

struct sl_conf_route {
	char *name; /* given, or "route-N" with N from 1 within its listener */
	size_t index; /* position among all routes of the generation (every
			 listener's), for per-worker route state */
	/* match; every part optional, all present parts must match */
	char *host;	   /* NULL = any; lower-cased, without port */
	int host_wildcard; /* 1: host holds the suffix, e.g. ".example.com" */
	struct sl_conf_hostset *hosts; /* match.hosts_file (host is NULL
					  then); NULL: none (owned) */
	char *path;		       /* NULL = any */
	int path_prefix; /* 1: path is a prefix (path_prefix:), 0: exact */
	char **methods;	 /* NULL = any; upper-case tokens as written */
	size_t nmethods;
	struct sl_conf_header_match *headers;
	size_t nheaders;
	/* target: exactly one of cluster and split */
	struct sl_conf_cluster *cluster; /* borrowed from sl_conf.clusters */
	struct sl_conf_split *split;	 /* owned, nsplit >= 1 */
	size_t nsplit;
	uint32_t *split_weights;     /* owned: split[i].weight, and */
	uint64_t *split_ids;	     /* split[i].id, as arrays */
	struct sl_conf_key sticky;   /* split only; SL_KEY_NONE = per
					request */
	char *expose_cluster_header; /* response field naming the cluster
					that served it; NULL = none */
	uint64_t timeout_ms; /* the whole request read -> response head, across
				all attempts, 30s */
	struct sl_conf_retry retry;
	int split_failover;	 /* split only: a request no upstream saw (retry
				    class 1) may move to another cluster of the
				    split; default 1 */
	uint8_t caller;		 /* a module verifies who calls (auth.jwt: the
				    token's issuer and subject), for the modules
				    keyed on it (module.h's route_caller) */
	struct sl_rstate *state; /* shared counters, set by sl_runtime_bind */
	/* ---- edge policy (doc/edge.md sections 4 and 5) ---- */
	struct sl_policy *policy; /* allow, deny, request_headers,
				     response_headers; NULL: none (owned) */
	uint64_t max_body_bytes;  /* the route's max_body_bytes, else its
				     listener's limits.max_body_bytes;
				     0 = unlimited */
	/* upgrade: the protocols a request may switch to (doc/websocket.md),
	 * lower-cased tokens; NULL when none */
	char **upgrade;
	size_t nupgrade;
	/* the split's entries a module holds back (the canary guard): bit
	 * i set, entry i (of the first 64) has weight 0 on this gateway;
	 * NULL: none (set by the module's route_bind; edge/route.h's
	 * sl_route_split_weights reads it) */
	const atomic_uint_fast64_t *split_held;
	/* the modules' slots (core/module.h: sl_route_mod), NULL while the
	 * route uses none (owned, each slot by its module) */
	void **mod;
};

/* A listener's proxy_protocol: (doc/edge.md section 2). */
struct sl_conf_proxy_protocol {
	int enabled;		 /* the key is there */
	struct sl_cidr_set from; /* the balancers; not empty when enabled */
	unsigned versions;	 /* SL_PP_V1 | SL_PP_V2 (proxyproto.h) */
};

/* Which request field names the client behind a trusted proxy. */
enum sl_client_header {
	SL_CLIENT_HEADER_XFF = 0,   /* X-Forwarded-For (default) */
	SL_CLIENT_HEADER_FORWARDED, /* Forwarded's for= (RFC 7239) */
};

/* What becomes of the forwarded fields of a client that is no trusted
 * proxy. */
enum sl_untrusted_forwarded {
	SL_UNTRUSTED_APPEND = 0, /* passed on, the client appended (default) */
	SL_UNTRUSTED_STRIP,	 /* dropped: X-Forwarded-For names the client
				    alone */
};

/* What a listener speaks (protocols:), bits of sl_conf_listener.protocols:
 * doc/http2.md section 2. */
#define SL_PROTO_HTTP1 0x1 /* "http/1.1" */
#define SL_PROTO_H2                                                            \
	0x2 /* "h2": by ALPN on TLS, by prior knowledge on                     \
	       plain TCP */

struct sl_conf_listener {
	char *name;
	struct sl_conf_addr addr;
	unsigned protocols;	     /* SL_PROTO_*, default SL_PROTO_HTTP1 */
	struct sl_conf_pos addr_pos; /* of the address, for sl_preflight */
	struct sl_conf_limits limits;
	struct sl_conf_tls_server tls;
	struct sl_conf_http3 http3; /* enabled 0: TCP only */
	struct sl_conf_route *routes;
	size_t nroutes;
	/* its routes by host and path (edge/route_index.c), built by the
	 * loader when there are SL_ROUTE_INDEX_MIN or more; NULL: walked */
	struct sl_route_index *rindex;
	/* 1 + the position of its first route that matches every request
	 * (no match part), set by the loader; 0: none (or not known). The
	 * walk stops there. */
	size_t any_at;
	struct sl_lstate *state;     /* by address: connections, set by
					sl_runtime_bind */
	struct sl_lcstate *counters; /* by name: its counters, set by
					sl_runtime_bind */
	/* ---- edge policy (doc/edge.md sections 4 and 5) ---- */
	struct sl_policy *policy; /* allow, deny, request_headers,
				     response_headers; NULL: none (owned) */
	int wants_subject;	  /* a header rule of the listener or of one of
				     its routes reads ${tls_client_subject} */
	/*
	 * Who the client is (doc/edge.md sections 2 and 3): the sources
	 * whose connections start with a PROXY header, and the peers whose
	 * forwarded fields are believed.
	 */
	struct sl_conf_proxy_protocol proxy_protocol;
	struct sl_cidr_set trusted_proxies; /* empty: none */
	enum sl_client_header client_address_header;
	enum sl_untrusted_forwarded untrusted_forwarded;
	/* a plain listener that answers ACME's http-01 challenges before
	 * any route (conf_acme.c sets it; doc/tls.md, "ACME") */
	int acme_http;
	/* the modules' slots of the listener (core/module.h:
	 * sl_listener_mod), NULL while none has one */
	void **mod;
};

/*
 * The fleet's store (rate_limit_store:, doc/edge.md section 6.4): a Redis
 * that the processes of a fleet share, where fleet rate limits keep their
 * counts and the idempotency store its answers (store: redis).
 */
struct sl_conf_fleet_store {
	int set;		  /* its address was read */
	struct sl_conf_addr addr; /* Redis, HOST:PORT */
	uint64_t timeout_ms;	  /* per command, default 50 */
	char *prefix;		  /* of every key, "sluice:" */
	/* AUTH (doc/edge.md section 6.5): the password is read from
	 * password_file by sl_conf_load_secrets, never written in the file
	 * itself */
	char *username;			   /* NULL: AUTH with the password */
	struct sl_conf_file password_file; /* NULL path: no AUTH */
	char *password; /* NULL until read; never logged or shown */
};

/*
 * One generation. Immutable once loaded; shared by the main thread and the
 * workers through sl_conf_ref()/sl_conf_unref(). Freed by the last unref.
 */
struct sl_strtab; /* util.h */
struct sl_conf {
	atomic_int refcnt;
	uint64_t generation; /* set by the caller that installs it */
	char *path;	     /* file it was loaded from */
	unsigned workers;    /* 0 = auto (one per CPU) */
	int has_admin;
	struct sl_conf_addr admin_addr;
	struct sl_conf_pos admin_addr_pos; /* of its value, for sl_preflight */
	/* admin.auth (doc/dashboard.md): the files named, and what
	 * sl_conf_load_secrets read from them: the SHA-256 of the
	 * Authorization value each allows ("Bearer TOKEN", "Basic
	 * BASE64"); has_*: read */
	struct sl_admin_auth {
		struct sl_conf_file token_file, basic_file;
		int has_token, has_basic;
		unsigned char token_sha[32], basic_sha[32];
		/* admin.hosts: the names a request's Host may give, besides
		 * an address and localhost, when no credentials are needed
		 * (doc/dashboard.md 6.7): lowercase, each NUL-ended, an
		 * empty one last (hosts_len bytes in all); NULL: none.
		 * hosts_any: "*", any name */
		char *hosts;
		size_t hosts_len;
		int hosts_any;
	} admin_auth;
	/* admin.tls (doc/dashboard.md): a listener's TLS settings; certs
	 * NULL: plain HTTP. Its context is built by sl_tls_load */
	struct sl_conf_tls_server admin_tls;
	/* admin.route_metrics (doc/operations.md "A platform's size"):
	 * /metrics' per-route series, or their sums per listener
	 * (route="*"); auto: per route up to SL_ROUTE_METRICS_AUTO_MAX
	 * routes in the generation */
	enum sl_route_metrics {
		SL_ROUTE_METRICS_AUTO = 0,
		SL_ROUTE_METRICS_ON,
		SL_ROUTE_METRICS_OFF,
	} route_metrics;
	enum sl_log_level log_level;
	char *access_log; /* "off", "stdout", "stderr" or a file path */
	struct sl_conf_pos access_log_pos; /* of its value, for sl_preflight */
	enum sl_access_format access_format;
	enum sl_log_query log_query; /* both logs; default names */
	int log_cards; /* mask card numbers in both logs; default 1 */
	uint64_t drain_timeout_ms; /* graceful stop bound, default 30s */
	struct sl_conf_listener *listeners;
	size_t nlisteners;
	struct sl_conf_cluster *clusters;
	size_t nclusters;
	/* the load's: clusters by name (sl_conf_find_cluster), owned; NULL
	 * once the load is done */
	struct sl_strtab *cluster_names;
	size_t nroutes; /* every listener's together */
	int bound;	/* sl_runtime_bind attached shared state */
	/* called with the last reference, before the generation is freed:
	 * set by whoever attached state to it (sl_runtime_bind) */
	void (*on_free)(struct sl_conf *conf);
	/* set by the daemon on a generation it serves: the last reference,
	 * often a worker's, hands the generation to reap, which frees it
	 * (sl_conf_destroy) on the main thread, not on the worker's loop
	 * (a generation of 100,000 routes takes milliseconds to free);
	 * NULL: freed where the last reference goes */
	void (*reap)(struct sl_conf *conf);
	struct sl_conf *reap_next; /* the reaper's list */
	/* resolver: (doc/fleet.md section 2): nameservers, none written:
	 * /etc/resolv.conf's */
	struct sl_conf_addr *nameservers; /* owned */
	size_t nnameservers;
	uint64_t dns_timeout_ms; /* one try of a query; 2s */
	uint64_t dns_attempts;	 /* tries of a query; 2 */
	/* watch: (doc/fleet.md section 3): reload when the file or one it
	 * names changes */
	int watch;
	uint64_t watch_debounce_ms; /* quiet time first; 1s */
	char sha256[65]; /* of the file's bytes, hex; "" from a buffer */
	/* acme.storage (doc/tls.md, "ACME"), borrowed from the acme
	 * module's slot: tls.c serves what it holds from the load on;
	 * NULL: no ACME */
	const char *acme_storage;
	char *text; /* the file's bytes (sl_conf_load), NULL from a
		       buffer: what sl_conf_reparse parses again */
	size_t text_len;
	time_t loaded_at; /* when it was read */
	/* frees what sl_tls_load built (set by it) */
	void (*tls_free)(struct sl_conf *conf);
	/* the fleet's store (rate_limit_store:, doc/edge.md section 6.4),
	 * which fleet rate limits and the idempotency store's redis share:
	 * the rate limits' module's top-level slot (conf/conf_rl.c), which
	 * owns it; NULL when the key is not written or its address is
	 * wrong (borrowed) */
	const struct sl_conf_fleet_store *fleet_store;
	/* the modules' top-level slots (core/module.h: sl_conf_mod), one
	 * a module, each owned by its module */
	void **mod;
	/* secret_headers: (doc/sluice.yaml.5): the names whose values are
	 * credentials besides the built-in ones (sl_hdr_name_secret),
	 * lower-cased: no message, /config or log shows their values */
	char **secret_headers; /* owned, each owned */
	size_t nsecret_headers;
};

/* Module m's slot of route r (NULL: r does not use m) and of the top
 * level (NULL: m has no top-level key, or the generation was not made by
 * the loader). */
static inline void *
sl_route_mod(const struct sl_conf_route *r, const struct sl_module *m)
{
	return r->mod != NULL ? r->mod[m->slot] : NULL;
}

static inline void *
sl_conf_mod(const struct sl_conf *c, const struct sl_module *m)
{
	return c->mod != NULL ? c->mod[m->slot] : NULL;
}

static inline void *
sl_listener_mod(const struct sl_conf_listener *l, const struct sl_module *m)
{
	return l->mod != NULL ? l->mod[m->slot] : NULL;
}

#endif
