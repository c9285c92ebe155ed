/* SPDX-License-Identifier: MIT */
/*
 * Mirror copies: a route's requests copied to another cluster (a shadow
 * of a new service version), their responses read and thrown away. A copy
 * never holds the client connection, its budgets or its response: it is
 * filled while the request is read, and goes out on its own connection
 * once the request is complete. A worker keeps at most a few copies in
 * flight; more are dropped and counted, as are copies of bodies larger
 * than buffer_bytes and copies that fail.
 */
#ifndef SL_MIRROR_H
#define SL_MIRROR_H

#include <sys/queue.h>

#include <stddef.h>

#include "conf_types.h"
#include "wloop.h"

struct sl_mirror;
struct sl_wgen;

/* Copies in flight per worker, at most; more are dropped. */
#define SL_MIRROR_MAX 64

/*
 * Whether this request of route r is to be copied (percent of them, in
 * turn, per worker). gen is the request's generation in this worker.
 */
int sl_mirror_due(struct sl_wgen *gen, const struct sl_conf_route *r);

/*
 * A copy of a request of route r for r->mirror, starting with head (the
 * request head as sent upstream, head_len bytes); body bytes up to
 * body_max may follow: with pieces, a body of pieces (SL_H1_BODY_STREAM,
 * the head saying chunked), which the upstream's writer frames as its
 * protocol wants (sl_upstream_write_chunked), its trailers given by
 * sl_mirror_trailers. Returns NULL when none can be made (the worker's
 * copies at their bound, or out of memory: counted as dropped). The copy
 * holds a reference on gen.
 */
struct sl_mirror *sl_mirror_new(struct sl_worker *w, struct sl_wgen *gen,
				const struct sl_conf_route *r, const char *head,
				size_t head_len, size_t body_max, int pieces);

/* A body of pieces' trailers (a field block, hblock.h, copied; NULL:
 * none), before sl_mirror_send. Returns 0, or -1 (no memory: the copy is
 * dropped, counted, and m must not be used again). */
int sl_mirror_trailers(struct sl_mirror *m, const char *block);

/* identity: the copy's connection starts with this PROXY header (the
 * mirror cluster has proxy_protocol: v2), len bytes, at most
 * SL_PP_V2_OUT_MAX. Call before sl_mirror_send. */
void sl_mirror_set_proxy_header(struct sl_mirror *m, const void *pp,
				size_t len);

/*
 * Body bytes of the request, as read. Returns 0, or -1 when they would
 * pass body_max: the copy is then dropped (counted as too large) and m
 * must not be used again.
 */
int sl_mirror_body(struct sl_mirror *m, const char *p, size_t n);

/* The request is complete: the copy goes out on its own. m belongs to
 * the mirror module from now on. */
void sl_mirror_send(struct sl_mirror *m);

/* The request was not read completely (the client went, the request was
 * refused): the copy is dropped without being counted. */
void sl_mirror_abort(struct sl_mirror *m);

/* Closes every copy of w (worker teardown). */
void sl_mirror_close_all(struct sl_worker *w);

/* The filter's per-worker state (filter.h's wsize): the copies in
 * flight. Where it is in the worker's proxy state is set once by the
 * filter's placed (exchange_mirror.c), kept by mirror.c, which never
 * names the filter (whose file calls it). */
struct sl_mirror_ws {
	TAILQ_HEAD(, sl_mirror) all;
	unsigned n;
};
extern size_t sl_mirror_ws_off;

#endif
