/* SPDX-License-Identifier: MIT */
/*
 * attempt.c's interface, for the exchange's files: the upstream attempts of
 * an exchange (an endpoint, a connection or a place in the queue, and what
 * a failure leads to: another attempt, an error answer or a cut). Nothing
 * but the exchange calls attempt.c. attempt.c calls back into the exchange
 * through exchange_int.h (its local answers, the upstream's event handler),
 * and into the codec under it only through its stream's operations
 * (seam.h): cutting a client whose response had begun (reset), carrying
 * on when a queued request gets a connection (resume).
 */
#ifndef SL_ATTEMPT_H
#define SL_ATTEMPT_H

#include <stddef.h>

/* The exchange's struct and its stream are passed through, never read
 * here: attempt.c and attempt_end.c include exchange_int.h themselves, so
 * that including attempt.h shows no file the exchange's internals. */
struct sl_seam;
struct sl_txn;

/* How an upstream attempt failed. */
enum {
	FAIL_REFUSED,
	FAIL_CONNECT_TIMEOUT,
	FAIL_TLS, /* the upstream's TLS handshake failed: nothing sent */
	FAIL_RESET,
	FAIL_BAD,
	FAIL_TIMEOUT
};

/* The first attempt: an endpoint, a connection (or a place in the
 * queue). */
void sl_attempt_start(struct sl_seam *s);

/* The attempt failed in the way fail says (FAIL_*); why is the error
 * code, detail what the OS or the parser said. Retries when the class,
 * the route's policy, the budget and the deadline allow, else answers or
 * cuts the client. */
void sl_attempt_failed(struct sl_seam *s, int fail, const char *why,
		       const char *detail);

/* A response head with this status came (called for 5xx, and for every
 * status on a cluster with outlier detection). Returns 1 when it is
 * dropped and the request retried (a status the route retries), 0 when
 * it goes to the client. Feeds the outlier detector either way. */
int sl_attempt_answered(struct sl_seam *s, int status);

/* The backoff passed: the next attempt. */
void sl_attempt_resume(struct sl_seam *s);

/* Ends the exchange's use of its upstream connection (pooled when
 * reusable). */
void sl_attempt_release(struct sl_seam *s, int reusable);

/* Stops waiting for a connection (no-op when not waiting). */
void sl_attempt_dequeue(struct sl_txn *t);

/* The request waited too long for a connection: 503. */
void sl_attempt_overloaded(struct sl_seam *s);

/* The route's deadline passed before a response head came: 504. */
void sl_attempt_deadline(struct sl_seam *s);

/* The exchange ends: its counts in the cluster go. */
void sl_attempt_done(struct sl_txn *t);

/* identity: the PROXY version 2 header for an upstream connection of s's
 * exchange (doc/edge.md section 2): from its client address to the
 * listener's address, into out (SL_PP_V2_OUT_MAX bytes). Returns its
 * length. */
size_t sl_attempt_pp_header(const struct sl_seam *s, void *out);

#endif
