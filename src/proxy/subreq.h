/* SPDX-License-Identifier: MIT */
/*
 * sluice's own requests to a cluster (a key set's fetch, an external
 * authorization check, doc/auth.md): a request written whole on a pooled
 * HTTP/1.1 connection of the cluster (or a stream of an HTTP/2 one),
 * its response read to its end within one deadline, the head and up to a
 * bound of body handed to the owner's handler. Like a mirror copy, a
 * subrequest owns an upstream connection through upstream.c's handler and
 * answers to no client; unlike one, its answer matters.
 */
#ifndef SL_SUBREQ_H
#define SL_SUBREQ_H

#include <stddef.h>
#include <stdint.h>

struct sl_h1_header;
struct sl_worker;
struct sl_wgen;
struct sl_wcluster;
struct sl_subreq;

/* How it ended: why (a static code) is NULL for a whole answer, else
 * what cut it; status is the answer's (0: no head came), head the
 * response head's text (an HTTP/2 cluster's written as text), headers
 * its fields as the reader parsed them (pointing into head), body its
 * payload (what came of it, with why set). grpc_status: the grpc-status
 * of an HTTP/2 cluster's answer, -1 none. All valid during the handler
 * only. */
struct sl_subreq_result {
	int status;
	int grpc_status;
	int closing; /* the worker stops: an owner must not go on */
	const char *why;
	const char *head;
	size_t head_len;
	const struct sl_h1_header *headers;
	size_t nheaders;
	const char *body;
	size_t body_len;
};

typedef void (*sl_subreq_done_fn)(const struct sl_subreq_result *r, void *arg);

/*
 * Sends req (len bytes, a whole HTTP/1.1 request; taken over, malloc'd)
 * to an endpoint of wc (of generation gen, which it holds meanwhile), and
 * calls done once, when the answer is read or it failed: a connection that
 * cannot be made or fails, a deadline of timeout_ms from now, a body over
 * body_max, or the worker closing; never before this returns. Returns
 * NULL (req freed, done not called) when it could not begin, or failed
 * at once.
 */
struct sl_subreq *sl_subreq_start(struct sl_worker *w, struct sl_wgen *gen,
				  struct sl_wcluster *wc, char *req, size_t len,
				  size_t body_max, uint64_t timeout_ms,
				  sl_subreq_done_fn done, void *arg);

/* The same with req left the caller's: it must stay until done is called
 * or the subrequest is cancelled (a span export's batch, sent again on a
 * retry without a copy). */
struct sl_subreq *sl_subreq_start_borrowed(struct sl_worker *w,
					   struct sl_wgen *gen,
					   struct sl_wcluster *wc,
					   const char *req, size_t len,
					   size_t body_max, uint64_t timeout_ms,
					   sl_subreq_done_fn done, void *arg);

/* The owner goes away first: done is not called. */
void sl_subreq_cancel(struct sl_subreq *q);

/* The worker stops: every subrequest ends with why "closing". */
void sl_subreq_close_all(struct sl_worker *w);

#endif
