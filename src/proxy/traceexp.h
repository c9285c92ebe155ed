/* SPDX-License-Identifier: MIT */
/*
 * A worker's span export (doc/operations.md, "Tracing"): the spans its
 * exchanges wrote, queued as OTLP protobuf, sent to the tracing cluster
 * in batches by size or by time, one export in flight at a time, off the
 * requests' path: a request writes its spans into the queue and goes on;
 * a full queue drops them (counted). A failed export is retried with
 * backoff on 429, 502, 503, 504 or no connection, as OTLP says. The queue
 * is the worker's, not a generation's: a reload keeps it; a drain flushes
 * it before the worker's loop ends.
 */
#ifndef SL_TRACEEXP_H
#define SL_TRACEEXP_H

#include <stddef.h>
#include <stdint.h>

struct sl_worker;

/* The results of spans and exports, as sluice_trace_spans_total and
 * sluice_trace_exports_total name them. */
enum sl_trace_spans {
	SL_SPANS_EXPORTED = 0,
	SL_SPANS_DROPPED,
	SL_SPANS_FAILED
};
enum sl_trace_exports {
	SL_EXPORTS_OK = 0,
	SL_EXPORTS_RETRY,
	SL_EXPORTS_FAILED
};

/*
 * Room for nspans spans in at most cap bytes at the end of w's queue, or
 * NULL when the queue holds too many already (or memory ran out): the
 * spans are dropped then, and counted.
 */
uint8_t *sl_traceexp_room(struct sl_worker *w, size_t cap, size_t nspans);

/* The spans written at the room: len bytes of nspans spans; dropped spans
 * that could not be written (counted). */
void sl_traceexp_commit(struct sl_worker *w, size_t len, size_t nspans,
			size_t dropped);

/*
 * A draining worker asks whether its exports keep it: 1 while spans are
 * queued or an export is in flight (the queue is flushed at once, and
 * failures are not retried), 0 when it may end.
 */
int sl_traceexp_busy(struct sl_worker *w);
/* Where the worker's export is kept: off, the trace filter's per-worker
 * state's place in the worker's proxy state (its placed hook). */
void sl_traceexp_place(uint16_t off);

/* The worker ends: what is left is dropped (counted). */
void sl_traceexp_free(struct sl_worker *w);

#endif
