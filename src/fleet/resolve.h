/* SPDX-License-Identifier: MIT */
/*
 * The resolver (doc/fleet.md section 2): the main thread's lookups of the
 * names among clusters' endpoints. A and AAAA go through libevent's evdns
 * (nameservers and search list from /etc/resolv.conf, or the file's
 * resolver:); SRV records, and answers too large for evdns's UDP, through
 * sluice's own queries (dnsmsg.h, over UDP with EDNS0, then TCP). Each
 * name is looked up again when its answer's TTL runs out (within the
 * cluster's min_ttl and max_ttl); a failed or empty lookup keeps the last
 * good answer for keep_stale. When an answer changes, the caller is told,
 * and makes a generation with the new endpoints (sl_resolver_fill): the
 * workers see endpoints by name like any generation change. Nothing here
 * runs on a worker; nothing here blocks.
 */
#ifndef SL_RESOLVE_H
#define SL_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sl_conf;
struct sl_resolver;

/* What a lookup came to (sluice_dns_lookups_total's result). */
enum sl_dns_result {
	SL_DNS_R_OK = 0,   /* addresses */
	SL_DNS_R_EMPTY,	   /* the name has no address (NODATA), or an SRV
			      record's targets have none */
	SL_DNS_R_NXDOMAIN, /* the name does not exist */
	SL_DNS_R_SERVFAIL,
	SL_DNS_R_REFUSED,
	SL_DNS_R_TIMEOUT, /* no answer from any nameserver */
	SL_DNS_R_ERROR,	  /* anything else: a malformed answer, a
			     socket's error */
	SL_DNS_NRESULTS
};

/* "ok", "empty", "nxdomain", ... */
const char *sl_dns_result_str(enum sl_dns_result r);

/* Told when some answer in use changed (called from the loop, once for
 * the changes of one turn). */
typedef void sl_resolver_fn(void *arg);

/* A resolver on base (the main thread's). Returns NULL when out of
 * memory. */
struct sl_resolver *sl_resolver_new(struct event_base *base,
				    sl_resolver_fn *changed, void *arg);

/*
 * Follows the names of conf from now on: new ones are looked up at once,
 * the ones conf no longer has are forgotten (their lookups cancelled),
 * the others keep their answers and their schedule. The resolver:
 * settings apply (a change restarts every lookup). Returns 0 or -1 (out
 * of memory).
 */
int sl_resolver_apply(struct sl_resolver *r, const struct sl_conf *conf);

/* Whether every name of conf has had a lookup end (an answer or a
 * failure). */
int sl_resolver_settled(const struct sl_resolver *r,
			const struct sl_conf *conf);

/* How long to wait for conf's names to settle: a query's tries, for a
 * name and then an SRV record's targets. */
uint64_t sl_resolver_settle_ms(const struct sl_conf *conf);

/*
 * Adds to conf's clusters (a generation nobody uses yet) the endpoints
 * their names resolve to now (sl_conf_add_resolved). Returns 0 or -1 (out
 * of memory).
 */
int sl_resolver_fill(const struct sl_resolver *r, struct sl_conf *conf);

/* What the resolver knows of one name of a cluster, for the admin pages
 * (NULL from sl_resolver_state when it does not follow it). */
struct sl_resolver_state {
	enum sl_dns_result last; /* of the last lookup */
	int looked_up;		 /* one ended */
	int have;		 /* an answer is in use */
	size_t naddrs;		 /* ... of so many addresses */
	uint64_t good_ms;	 /* the last good answer (0: none) */
	uint64_t stale_since_ms; /* lookups fail since (0: they do
				    not) */
	uint32_t ttl_s;		 /* of the answer in use */
	uint64_t next_ms;	 /* next lookup */
	uint64_t lookups[SL_DNS_NRESULTS];
};
int sl_resolver_state(const struct sl_resolver *r, const char *cluster,
		      const char *text, struct sl_resolver_state *st);

/*
 * For sluice -t: looks up every name of conf (a resolver of its own on a
 * base of its own, for at most sl_resolver_settle_ms) and appends a
 * warning line to *warnings (malloc'd, or left as it is) for each that
 * does not resolve. Returns 0 or -1 (out of memory).
 */
int sl_resolver_check(const struct sl_conf *conf, char **warnings);

/* Stops every lookup and frees r (NULL is fine). */
void sl_resolver_free(struct sl_resolver *r);

#endif
