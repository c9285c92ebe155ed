/* SPDX-License-Identifier: MIT */
/*
 * Private to the admin's files: included by every admin*.c, by the
 * status page's assets that dash/embed.sh writes (dash_assets.c) and by
 * tests/unit/test_admin_status.c. It holds the growing string the pages
 * are written into, the JSON pieces, the status page's rings, and what
 * admin.c calls to render /config, /metrics and /status. No other module
 * may include it; theirs is admin.h.
 */
#ifndef SL_ADMIN_INT_H
#define SL_ADMIN_INT_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "runtime.h"
#include "wloop.h"

/* A growing string; on allocation failure it stays short and failed. */
struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

/* Room for n more bytes and a NUL in b; 0, or -1 (b is failed). */
static inline int
sb_room(struct sbuf *b, size_t n)
{
	size_t ncap;
	char *np;

	if (b->failed)
		return -1;
	if (b->cap - b->len > n)
		return 0;
	ncap = (b->cap + n + 1) * 2;
	if ((np = realloc(b->p, ncap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

static inline void __attribute__((format(printf, 2, 0)))
sb_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	for (;;) {
		if (b->failed)
			return;
		va_copy(aq, ap);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, aq);
		va_end(aq);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		if (sb_room(b, (size_t)n) == -1)
			return;
	}
}

static inline void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Appends n bytes of s: sb_printf without a format to read. */
static inline void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (sb_room(b, n) == -1)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* A counter read by the admin thread while a worker writes it. */
static inline uint64_t
load(atomic_uint_fast64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

/* A counter of the workers' stats (struct sl_worker_stats, at offset),
 * summed. */
static inline uint64_t
wsum(const struct sl_admin_view *v, size_t offset)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < v->nworkers; i++)
		total += SL_STAT_GET(
		    *(atomic_uint_fast64_t *)((char *)&v->workers[i]->stats +
					      offset));
	return total;
}

/* A per-worker counter of a listener, route, cluster or endpoint, summed.
 * off is the counter's offset in struct sl_counts. */
static inline uint64_t
counts_sum(const struct sl_admin_view *v, const struct sl_counts *c, size_t off)
{
	uint64_t total = 0;

	for (unsigned i = 0; c != NULL && i < v->nworkers; i++)
		total +=
		    SL_STAT_GET(*(atomic_uint_fast64_t *)((char *)&c[i] + off));
	return total;
}

#define COUNT_OFF(field) offsetof(struct sl_counts, field)

/* One histogram's text from its SL_HIST_N slots (each read once, not
 * cumulative: the lines are, so that +Inf and _count agree) and its sum
 * divided by sum_div (1000: milliseconds, printed to the millisecond;
 * 1e6: microseconds, to the microsecond) as seconds. labels NULL: none
 * (a process-wide histogram). */
static inline void
sl_admin_histogram_of(struct sbuf *b, const char *name, const char *labels,
		      const uint64_t *slots, uint64_t sum, double sum_div)
{
	static const double bounds[SL_HIST_N - 1] = SL_HIST_BOUNDS;
	const char *l = labels != NULL ? labels : "";
	const char *sep = labels != NULL ? "," : "";
	const char *open = labels != NULL ? "{" : "";
	const char *close = labels != NULL ? "}" : "";
	uint64_t cum = 0;

	for (int i = 0; i < SL_HIST_N; i++) {
		cum += slots[i];
		if (i < SL_HIST_N - 1)
			sb_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, l,
				  sep, bounds[i] / 1000.0,
				  (unsigned long long)cum);
		else
			sb_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name,
				  l, sep, (unsigned long long)cum);
	}
	sb_printf(b, "%s_sum%s%s%s %.*f\n%s_count%s%s%s %llu\n", name, open, l,
		  close, sum_div > 1000.0 ? 6 : 3, (double)sum / sum_div, name,
		  open, l, close, (unsigned long long)cum);
}

/* The same from per-worker counts: the SL_HIST_N slots at offset off of
 * struct sl_counts and the sum at sum_off. */
static inline void
sl_admin_histogram(struct sbuf *b, const struct sl_admin_view *v,
		   const char *name, const char *labels,
		   const struct sl_counts *counts, size_t off, size_t sum_off,
		   double sum_div)
{
	uint64_t slots[SL_HIST_N];

	for (int i = 0; i < SL_HIST_N; i++)
		slots[i] = counts_sum(
		    v, counts, off + (size_t)i * sizeof(atomic_uint_fast64_t));
	sl_admin_histogram_of(b, name, labels, slots,
			      counts_sum(v, counts, sum_off), sum_div);
}

/* A file of the status page (dash_assets.c, written at build time from
 * src/admin/dash/ by src/admin/dash/embed.sh): its path, type and bytes;
 * the table ends with a NULL path. */
struct sl_admin_asset {
	const char *path, *ctype;
	const unsigned char *data;
	size_t len;
};
extern const struct sl_admin_asset sl_admin_assets[];

/* JSON pieces (admin_json.c): the body of a string, with every byte that
 * is not valid UTF-8 as U+FFFD; a string of prefix and s, or null; a
 * string or null; ,"key":"s" (or null); ,"key":N; ,"key":true|false. */
void sl_admin_jesc(struct sbuf *b, const char *s);
void sl_admin_jstr2(struct sbuf *b, const char *prefix, const char *s);
void sl_admin_jstr(struct sbuf *b, const char *s);
/* o writes into b (a module's /config text, core/module.h). */
void sl_admin_jout(struct sl_jout *o, struct sbuf *b);
void sl_admin_jkv_str(struct sbuf *b, const char *key, const char *s);
void sl_admin_jkv_u64(struct sbuf *b, const char *key, uint64_t v);
void sl_admin_jkv_bool(struct sbuf *b, const char *key, int v);

/*
 * The status page's history (admin_status.c, doc/dashboard.md): one
 * second's snapshots of every listener's, route's, cluster's and
 * endpoint's counters, a minute of them, and five minutes of sparkline
 * points. The admin thread's alone: ticked once a second, read by
 * /status.
 */
#define SL_ADMIN_RING_MAX 4096 /* objects followed at most */
struct sl_admin_ring;
struct sl_admin_ring *sl_admin_ring_new(void);
void sl_admin_ring_free(struct sl_admin_ring *r);
/* Reads the counters of what v->conf names at now_ms (the monotonic
 * clock, sl_now_ms); forgets what it no longer names. */
void sl_admin_ring_tick(struct sl_admin_ring *r, const struct sl_admin_view *v,
			uint64_t now_ms);
/* The /status document (doc/dashboard.md's schema) into b. */
void sl_admin_page_status(const struct sl_admin_view *v,
			  struct sl_admin_ring *r, struct sbuf *b);
/* The same for a request whose query (after '?', query_len bytes, not
 * NUL-ended) pages and searches the tables of routes and clusters
 * (doc/dashboard.md 5.11): routes_offset, routes_limit, routes_q,
 * clusters_offset, clusters_limit, clusters_q. */
void sl_admin_page_status_q(const struct sl_admin_view *v,
			    struct sl_admin_ring *r, const char *query,
			    size_t query_len, struct sbuf *b);
/* The duration (ms) under which a share q of the requests of histogram
 * h (SL_HIST_N slots, not cumulative) ended, interpolated within its
 * bucket; -1 when h is empty. */
double sl_admin_quantile(const uint64_t *h, double q);

/* The modules' families (core/module.h; admin_metrics_mods.c), in the
 * module table's order. */
void sl_admin_metrics_modules(const struct sl_admin_view *v, struct sbuf *b);
/* The HTTP/3 families (admin_metrics_h3.c): QUIC connections open, the
 * endpoints' events, the codec's refusals. */
void sl_admin_metrics_h3(const struct sl_admin_view *v, struct sbuf *b);

/* Appends the /config page (JSON) to b: the running generation, every
 * key with its default filled in. admin_config.c. */
void sl_admin_page_config(const struct sl_admin_view *v, struct sbuf *b);
/* The same a piece at a time, for admin.c to write as it goes: appends
 * the next piece (about 64 KiB) of generation c's /config to b from
 * where *cur (zeroed at first) stands, and returns 1 when that was the
 * last. c must outlive the pieces (a reference). */
struct sl_admin_config_cursor {
	int phase;
	size_t i, j;
};
int sl_admin_config_piece(const struct sl_admin_view *v,
			  const struct sl_conf *c,
			  struct sl_admin_config_cursor *cur, struct sbuf *b);

/*
 * admin.route_metrics (doc/operations.md "A platform's size"): whether
 * /metrics writes generation c's routes' requests, responses and
 * durations a series per route (1), or per listener with route="*" (0).
 * auto: per route when c has at most SL_ROUTE_METRICS_AUTO_MAX routes.
 * admin_metrics_routes.c.
 */
#define SL_ROUTE_METRICS_AUTO_MAX 1000
int sl_admin_route_series(const struct sl_conf *c);
/* Logs at info which of the two applies to generation c, and why, once
 * per load: *seen keeps what was said last (the file's digest, when it
 * was loaded and its routes), so that the generations a DNS answer makes
 * say nothing again. admin_metrics_routes.c. */
struct sl_admin_rm_seen {
	char sha256[65];
	long long loaded_at;
	size_t nroutes;
	int said;
};
void sl_admin_route_series_note(const struct sl_conf *c,
				struct sl_admin_rm_seen *seen);
/* The routes' requests, responses and durations, per route or per
 * listener as sl_admin_route_series says. admin_metrics_routes.c. */
void sl_admin_metrics_routes(const struct sl_admin_view *v, struct sbuf *b);

/* Appends the /metrics page (Prometheus text format) to b: the workers'
 * counters summed, the generation's listeners, routes, rate limits and
 * clusters, the process's, and what an upgrade carried over. On
 * allocation failure b is left failed. admin_metrics.c. */
void sl_admin_page_metrics(const struct sl_admin_view *v, struct sbuf *b);

#endif
