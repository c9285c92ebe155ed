/* SPDX-License-Identifier: MIT */
/*
 * Active health checks (a cluster's health_check:): one checker per
 * process, on the main thread's event loop, off the request path. Each
 * endpoint of a checked cluster gets an HTTP GET of the configured path
 * over a connection of its own every interval; `unhealthy` failures in a
 * row take it out (no new requests), `healthy` successes in a row bring
 * it back. The verdict is shared with the workers through the endpoint's
 * state (sl_epstate.unhealthy), so a reload that keeps an endpoint keeps
 * its health.
 */
#ifndef SL_HEALTH_H
#define SL_HEALTH_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sl_conf;
struct sl_health;

/* A checker on base, with nothing to check yet. NULL when out of
 * memory. */
struct sl_health *sl_health_new(struct event_base *base);

/*
 * Checks what conf asks for from now on: endpoints new to health checks
 * are checked at once (and count as healthy until their first verdict),
 * those conf checks the same way keep their state and their schedule,
 * those it no longer checks stop and count as healthy again. An endpoint
 * whose check changed (path, timeout, expect_status or the cluster's TLS:
 * sl_health_check_fp) is checked again at once, and one pass of the new
 * check brings it back (sl_health_rejudge). An endpoint whose cluster's
 * TLS settings or files changed has its outlier ejection lifted: errors
 * earned under the old TLS say nothing of the new. conf must outlive the
 * next call (the checker keeps pointers to its shared state). Returns 0,
 * or -1 when out of memory (the checks left are consistent).
 */
int sl_health_apply(struct sl_health *h, const struct sl_conf *conf);

/* Stops every check and frees h. */
void sl_health_free(struct sl_health *h);

/* ---- pure parts, for tests -------------------------------------------- */

/* Whether status is in an expect_status set (sl_conf_health.expect). */
int sl_health_expected(const uint64_t expect[8], int status);

/* The streaks of one endpoint's checks. */
struct sl_health_streak {
	uint32_t ok;   /* successes in a row */
	uint32_t fail; /* failures in a row */
	int down;      /* out: unhealthy */
};

enum sl_health_change {
	SL_HEALTH_SAME = 0,
	SL_HEALTH_WENT_DOWN,
	SL_HEALTH_WENT_UP,
};

/* Counts one check's result; returns what it changed. */
enum sl_health_change sl_health_note(struct sl_health_streak *s, int ok,
				     uint32_t healthy, uint32_t unhealthy);

/*
 * The check changed: the streaks earned under the old one are dropped.
 * An endpoint that is up stays up and needs `unhealthy` failures of the
 * new check to go out, as at a fresh start; one that is down stays down
 * until the next check, and its first pass brings it back (a failure
 * first leaves it needing `healthy` passes, as any failing endpoint).
 */
void sl_health_rejudge(struct sl_health_streak *s, uint32_t healthy);

struct sl_conf_cluster;
/*
 * What decides the verdict of cc's checks: the path, the timeout, the
 * expected statuses and the identity of the cluster's TLS settings and
 * files (sl_tls_client.fp; 0 for plain). Not the interval or the
 * thresholds, which change when and how often, not what a check says.
 */
uint64_t sl_health_check_fp(const struct sl_conf_cluster *cc);

/*
 * Reads a check's response from buf[0 .. len): 1 with *status set when
 * the head is complete and valid, 0 when more bytes are needed, -1 when
 * it is malformed or longer than len allows (*why: the rule it broke).
 */
int sl_health_response(const char *buf, size_t len, size_t cap, int *status,
		       const char **why);

/* Why the last check of an endpoint failed (sl_epstate.check_error). */
enum sl_health_error {
	SL_HC_OK = 0,
	SL_HC_CONNECT, /* refused, unreachable */
	SL_HC_TIMEOUT, /* no complete answer within timeout */
	SL_HC_CLOSED,  /* closed or reset before a complete head */
	SL_HC_BAD,     /* a malformed response */
	SL_HC_STATUS,  /* a status not in expect_status */
	SL_HC_TLS,     /* the TLS handshake failed (cluster tls:) */
	SL_HC_NERRORS,
};

/* "connect_failed", "timeout", ...: for logs, metrics and /config. */
const char *sl_health_error_str(enum sl_health_error e);

#endif
