/* SPDX-License-Identifier: MIT */
/* The status page (admin_status.c, doc/dashboard.md): its percentiles,
 * interpolated within a bucket as Prometheus's histogram_quantile does,
 * and the /status document its ring writes from the workers' counters:
 * parsed back, its keys and its figures, across ticks and a reload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin_int.h"
#include "conf.h"
#include "conf_compress.h"
#include "json.h"
#include "runtime.h"
#include "users.h"
#include "util.h"

static void
test_empty(void **state)
{
	uint64_t h[SL_HIST_N] = {0};

	(void)state;
	assert_true(sl_admin_quantile(h, 0.5) < 0);
	assert_true(sl_admin_quantile(h, 0.99) < 0);
}

static void
test_interpolated(void **state)
{
	uint64_t h[SL_HIST_N] = {0};

	(void)state;
	/* 100 requests of at most 1 ms: the median half way to 1 ms */
	h[0] = 100;
	assert_float_equal(sl_admin_quantile(h, 0.5), 0.5, 1e-9);
	assert_float_equal(sl_admin_quantile(h, 0.99), 0.99, 1e-9);
	/* and 100 more between 5 and 10 ms: p50 is the top of the first
	 * bucket, p75 half way through (5, 10] */
	h[3] = 100;
	assert_float_equal(sl_admin_quantile(h, 0.5), 1.0, 1e-9);
	assert_float_equal(sl_admin_quantile(h, 0.75), 7.5, 1e-9);
	/* empty buckets between are skipped, never landed in */
	assert_float_equal(sl_admin_quantile(h, 0.51), 5.1, 1e-9);
}

static void
test_past_the_last_bound(void **state)
{
	uint64_t h[SL_HIST_N] = {0};

	(void)state;
	/* slower than 10 s: the last bound, not a guess past it */
	h[SL_HIST_N - 1] = 10;
	assert_float_equal(sl_admin_quantile(h, 0.5), 10000, 1e-9);
	h[0] = 90;
	assert_float_equal(sl_admin_quantile(h, 0.5), 50.0 / 90, 1e-9);
	assert_float_equal(sl_admin_quantile(h, 0.99), 10000, 1e-9);
}

static const char two_way[] = "workers: 2\n"
			      "admin: { address: 127.0.0.1:9901 }\n"
			      "listeners:\n"
			      "  - name: main\n"
			      "    address: 127.0.0.1:8080\n"
			      "    routes:\n"
			      "      - name: pay\n"
			      "        sticky: header:X-User\n"
			      "        split:\n"
			      "          - { cluster: v1, weight: 90 }\n"
			      "          - { cluster: v2, weight: 10 }\n"
			      "      - name: page\n"
			      "        match: { path_prefix: /page/ }\n"
			      "        cluster: v1\n"
			      "        compress: true\n"
			      "clusters:\n"
			      "  - name: v1\n"
			      "    endpoints: [127.0.0.1:2]\n"
			      "    health_check: { path: /, interval: 1s }\n"
			      "  - { name: v2, endpoints: [127.0.0.1:3] }\n";

/* the same route, split three ways */
static const char three_way[] = "workers: 2\n"
				"admin: { address: 127.0.0.1:9901 }\n"
				"listeners:\n"
				"  - name: main\n"
				"    address: 127.0.0.1:8080\n"
				"    routes:\n"
				"      - name: pay\n"
				"        split:\n"
				"          - { cluster: v1, weight: 80 }\n"
				"          - { cluster: v2, weight: 10 }\n"
				"          - { cluster: v3, weight: 10 }\n"
				"clusters:\n"
				"  - name: v1\n"
				"    endpoints: [127.0.0.1:2]\n"
				"    health_check: { path: /, interval: 1s }\n"
				"  - { name: v2, endpoints: [127.0.0.1:3] }\n"
				"  - { name: v3, endpoints: [127.0.0.1:4] }\n";

static struct sl_conf *
load_conf(const char *text)
{
	char *errors = NULL;
	struct sl_conf *c =
	    sl_conf_load_buffer("t.yaml", text, strlen(text), &errors);

	if (c == NULL)
		fprintf(stderr, "%s", errors);
	free(errors);
	assert_non_null(c);
	assert_int_equal(sl_runtime_bind(c), 0);
	/* the tests count on every route: as a first request does, its
	 * counters are made */
	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++)
			assert_non_null(sl_runtime_route_counts(
			    c->listeners[i].routes[j].state));
	return c;
}

/* the ticks' clock, in seconds: one a tick, from a second after the
 * states of the test's first file were made (their born_ms is the real
 * monotonic clock's); a state a later file makes is given a time of
 * this clock by hand */
static uint64_t clock_ms;

#define NTOK 8192
struct doc {
	struct sbuf b;
	struct sl_json_tok t[NTOK];
	int n;
};

/* /status now, parsed (strict JSON). */
static void
render(struct doc *d, const struct sl_admin_view *v, struct sl_admin_ring *r)
{
	free(d->b.p);
	memset(&d->b, 0, sizeof(d->b));
	sl_admin_page_status(v, r, &d->b);
	assert_false(d->b.failed);
	d->n = sl_json_parse(d->b.p, d->b.len, d->t, NTOK, 16, NULL);
	assert_true(d->n > 0);
}

/* The token of a path of member names and array indexes ("#0"), from
 * the top; -1 when it is not there. */
static int
at(const struct doc *d, const char *path)
{
	char part[64];
	int i = 0;

	while (*path != '\0') {
		size_t n = strcspn(path, ".");
		memcpy(part, path, n);
		part[n] = '\0';
		path += n + (path[n] == '.');
		if (part[0] == '#') {
			int k = atoi(part + 1), j = i + 1;
			if (d->t[i].type != SL_JSON_ARRAY ||
			    k >= (int)d->t[i].size)
				return -1;
			while (k-- > 0)
				j = (int)d->t[j].end;
			i = j;
		} else if ((i = sl_json_get(d->b.p, d->t, i, part, n)) < 0)
			return -1;
	}
	return i;
}

static int64_t
num(const struct doc *d, const char *path)
{
	int64_t x = -1;
	int i = at(d, path);

	assert_true(i >= 0);
	assert_int_equal(sl_json_int(d->b.p, d->t, i, &x), 0);
	return x;
}

static int
is_null(const struct doc *d, const char *path)
{
	int i = at(d, path);

	assert_true(i >= 0);
	return d->t[i].type == SL_JSON_NULL;
}

static int
str_is(const struct doc *d, const char *path, const char *s)
{
	int i = at(d, path);

	assert_true(i >= 0);
	return sl_json_str_eq(d->b.p, d->t, i, s, strlen(s));
}

static void
count(struct sl_counts *c, uint64_t n, unsigned cls, unsigned slot)
{
	SL_STAT_ADD(c->requests, n);
	SL_STAT_ADD(c->responses[cls], n);
	SL_STAT_ADD(c->dur[slot], n);
}

static void
test_status_document(void **state)
{
	static struct sl_worker w0, w1;
	struct sl_worker *ws[2] = {&w0, &w1};
	struct sl_admin_view v = {0};
	struct sl_admin_ring *r = sl_admin_ring_new();
	struct doc *d = calloc(1, sizeof(*d));
	struct sl_conf *c, *c3;
	struct sl_conf_route *rt;
	struct sl_zip_counts *zc;

	(void)state;
	assert_non_null(r);
	assert_non_null(d);
	sl_runtime_set_workers(2);
	c = load_conf(two_way);
	rt = &c->listeners[0].routes[0];
	v.conf = c;
	v.workers = ws;
	v.nworkers = 2;
	clock_ms = sl_now_ms() / 1000 + 1;
	v.start_ms = clock_ms * 1000;
	/* before the first tick: 100 requests, 90 and 10 by the split, 5 of
	 * them by a sticky key, in worker 0 and 1 */
	count(&rt->state->counts[0], 60, 2, 0);
	count(&rt->state->counts[1], 40, 2, 3);
	SL_STAT_ADD(rt->state->counts[0].split[0], 90);
	SL_STAT_ADD(rt->state->counts[1].split[1], 10);
	SL_STAT_ADD(rt->state->counts[1].sticky[1], 5);
	/* ... from 3 users (users.h; the sketch keeps the real clock) */
	assert_non_null(atomic_load(&rt->state->users));
	for (int i = 0; i < 5; i++)
		sl_users_note(atomic_load(&rt->state->users), 1,
			      sl_hash64(&(int){i % 3}, sizeof(int)),
			      sl_now_ms());
	count(&c->listeners[0].counters->counts[0], 100, 2, 0);
	/* the page route compresses 4,000 bytes to 1,000, in two codings
	 * and two workers */
	zc = (struct sl_zip_counts *)sl_counts_mod(
	    &c->listeners[0].routes[1].state->counts[0], &sl_module_compress);
	SL_STAT_ADD(zc->in[1], 3000);
	SL_STAT_ADD(zc->out[1], 800);
	zc = (struct sl_zip_counts *)sl_counts_mod(
	    &c->listeners[0].routes[1].state->counts[1], &sl_module_compress);
	SL_STAT_ADD(zc->in[3], 1000);
	SL_STAT_ADD(zc->out[3], 200);
	render(d, &v, r); /* nothing read yet */
	assert_int_equal(num(d, "schema"), 1);
	assert_int_equal(num(d, "listeners.#0.routes.#0.window_s"), 0);
	assert_true(is_null(d, "listeners.#0.routes.#0.p50_ms"));
	assert_true(is_null(d, "sluice.reloads.last"));
	for (int i = 0; i < 12; i++)
		sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	render(d, &v, r);
	/* counted before the first tick: in the minute all the same */
	assert_int_equal(num(d, "listeners.#0.routes.#0.requests"), 100);
	assert_int_equal(num(d, "listeners.#0.routes.#0.requests_1m"), 100);
	assert_int_equal(num(d, "listeners.#0.routes.#0.window_s"), 12);
	assert_int_equal(num(d, "listeners.#0.routes.#0.status_1m.2xx"), 100);
	assert_int_equal(num(d, "listeners.#0.routes.#0.status_1m.5xx"), 0);
	assert_int_equal(num(d, "listeners.#0.requests_1m"), 100);
	assert_int_equal(num(d, "listeners.#0.routes.#0.split.#0.requests_1m"),
			 90);
	assert_int_equal(num(d, "listeners.#0.routes.#0.split.#1.sticky_1m"),
			 5);
	assert_int_equal(num(d, "listeners.#0.routes.#0.split.#1.users_1m"), 3);
	assert_int_equal(num(d, "listeners.#0.routes.#0.split.#0.users_1m"), 0);
	assert_int_equal(num(d, "listeners.#0.routes.#0.split.#1.weight"), 10);
	assert_true(str_is(d, "listeners.#0.routes.#0.split.#0.cluster", "v1"));
	assert_true(is_null(d, "listeners.#0.routes.#0.split.#0.guard"));
	/* the listener's own durations */
	assert_false(is_null(d, "listeners.#0.p99_ms"));
	assert_true(at(d, "listeners.#0.routes.#0.features_1m.waf_blocked") >=
		    0);
	assert_true(
	    is_null(d, "listeners.#0.routes.#0.features_1m.waf_blocked"));
	assert_true(
	    is_null(d, "listeners.#0.routes.#0.features_1m.compress_ratio"));
	/* every module's fields are there, null for a route without it
	 * (idempotency_conflicts was left out once: the fields' room held
	 * fewer words than the modules' fields took) */
	assert_true(is_null(
	    d, "listeners.#0.routes.#0.features_1m.idempotency_replayed"));
	assert_true(is_null(
	    d, "listeners.#0.routes.#0.features_1m.idempotency_conflicts"));
	/* the route that compresses: its ratio over the minute */
	{
		int i =
		    at(d, "listeners.#0.routes.#1.features_1m.compress_ratio");
		assert_true(i >= 0);
		assert_int_equal(d->t[i].type, SL_JSON_NUMBER);
		assert_int_equal(d->t[i].len, 1);
		assert_memory_equal(d->b.p + d->t[i].start, "4", 1);
	}
	assert_true(
	    is_null(d, "listeners.#0.routes.#1.features_1m.rate_limited"));
	/* the sparkline: 60 points, the last two measured (ticks 5, 10) */
	{
		int i = at(d, "listeners.#0.routes.#0.spark.rps");
		assert_true(i >= 0);
		assert_int_equal(d->t[i].size, 60);
	}
	assert_false(is_null(d, "listeners.#0.routes.#0.spark.rps.#59"));
	assert_false(is_null(d, "listeners.#0.routes.#0.spark.rps.#58"));
	assert_true(is_null(d, "listeners.#0.routes.#0.spark.rps.#57"));
	/* endpoints: v1's health is checked, v2's not */
	assert_true(str_is(d, "clusters.#0.endpoints.#0.state", "up"));
	assert_false(is_null(d, "clusters.#0.endpoints.#0.checks"));
	assert_true(is_null(d, "clusters.#1.endpoints.#0.checks"));
	/* the minute moves on: those 100 leave it after 60 to 64 s */
	for (int i = 0; i < 60; i++)
		sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	render(d, &v, r);
	assert_int_equal(num(d, "listeners.#0.routes.#0.requests"), 100);
	assert_int_equal(num(d, "listeners.#0.routes.#0.requests_1m"), 0);
	assert_true(num(d, "listeners.#0.routes.#0.window_s") >= 60);
	assert_true(num(d, "listeners.#0.routes.#0.window_s") < 65);
	assert_true(is_null(d, "listeners.#0.routes.#0.split.#0.share_1m"));
	/* a reload splits the route three ways: its figures start afresh
	 * from the next snapshot, the other objects keep theirs */
	c3 = load_conf(three_way);
	c3->clusters[2].state->born_ms = clock_ms * 1000 + 500; /* v3: new */
	v.conf = c3;
	count(&c3->listeners[0].routes[0].state->counts[0], 7, 5, 1);
	sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	render(d, &v, r);
	assert_int_equal(num(d, "listeners.#0.routes.#0.requests"), 107);
	assert_int_equal(num(d, "listeners.#0.routes.#0.window_s"), 0);
	/* v3 is new to the page: its counters began at zero a tick ago */
	assert_int_equal(num(d, "clusters.#2.window_s"), 1);
	assert_true(at(d, "listeners.#0.routes.#0.split.#2") >= 0);
	/* without a sticky key, no users */
	assert_true(is_null(d, "listeners.#0.routes.#0.split.#1.users_1m"));
	for (int i = 0; i < 10; i++)
		sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	count(&c3->listeners[0].routes[0].state->counts[1], 3, 5, 1);
	sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	render(d, &v, r);
	assert_int_equal(num(d, "listeners.#0.routes.#0.requests_1m"), 3);
	assert_int_equal(num(d, "listeners.#0.routes.#0.status_1m.5xx"), 3);
	/* v3 is new to the page: from zero, its counts are in its minute */
	assert_int_equal(num(d, "clusters.#2.window_s"), 12);
	/* a reload takes v3 out and the next puts it back while the older
	 * generation still holds its state: a new track, from its first
	 * snapshot (its state's counts are older than its minute) */
	v.conf = c;
	for (int i = 0; i < 5; i++)
		sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	v.conf = c3;
	sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	render(d, &v, r);
	assert_int_equal(num(d, "clusters.#2.window_s"), 0);
	assert_int_equal(num(d, "clusters.#2.requests_1m"), 0);
	for (int i = 0; i < 6; i++)
		sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	/* counts that go back are another state's: from zero */
	SL_STAT_ADD(c3->clusters[2].state->counts[1].requests, 10);
	sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	for (unsigned w = 0; w < 2; w++)
		atomic_store(&c3->clusters[2].state->counts[w].requests, 0);
	SL_STAT_ADD(c3->clusters[2].state->counts[0].requests, 2);
	sl_admin_ring_tick(r, &v, ++clock_ms * 1000);
	render(d, &v, r);
	assert_int_equal(num(d, "clusters.#2.requests"), 2);
	assert_int_equal(num(d, "clusters.#2.requests_1m"), 2);
	assert_int_equal(num(d, "clusters.#2.window_s"), 1);
	free(d->b.p);
	free(d);
	sl_admin_ring_free(r);
	sl_runtime_unbind(c3);
	sl_conf_unref(c3);
	sl_runtime_unbind(c);
	sl_conf_unref(c);
}

/* only v1 */
static const char solo[] = "workers: 2\n"
			   "admin: { address: 127.0.0.1:9901 }\n"
			   "listeners:\n"
			   "  - name: main\n"
			   "    address: 127.0.0.1:8080\n"
			   "    routes:\n"
			   "      - { name: pay, cluster: v1 }\n"
			   "clusters:\n"
			   "  - { name: v1, endpoints: [127.0.0.1:2] }\n";

static void
test_old_state_named_again(void **state)
{
	static struct sl_worker w0, w1;
	struct sl_worker *ws[2] = {&w0, &w1};
	struct sl_admin_view v = {0};
	struct sl_admin_ring *r = sl_admin_ring_new();
	struct doc *d = calloc(1, sizeof(*d));
	struct sl_conf *c, *c1;
	uint64_t now;

	(void)state;
	assert_non_null(r);
	assert_non_null(d);
	sl_runtime_set_workers(2);
	c = load_conf(two_way);
	c1 = load_conf(solo);
	v.conf = c;
	v.workers = ws;
	v.nworkers = 2;
	/* the daemon's clock: the states were made before these ticks */
	now = sl_now_ms() + 1000;
	v.start_ms = now - 1000;
	sl_admin_ring_tick(r, &v, now);
	/* v2 counts, then no generation names it for longer than its
	 * history is kept, while c still holds its state */
	count(&c->clusters[1].state->counts[0], 50, 2, 0);
	v.conf = c1;
	for (int i = 0; i < 3; i++)
		sl_admin_ring_tick(r, &v, now += 1000);
	v.conf = c;
	sl_admin_ring_tick(r, &v, now += 1000);
	render(d, &v, r);
	/* named again: its 50 are old, not of its last minute */
	assert_true(str_is(d, "clusters.#1.name", "v2"));
	assert_int_equal(num(d, "clusters.#1.requests"), 50);
	assert_int_equal(num(d, "clusters.#1.requests_1m"), 0);
	assert_int_equal(num(d, "clusters.#1.window_s"), 0);
	/* it counts from its first snapshot on (the tick of the next
	 * step) */
	for (int i = 0; i < 10 && num(d, "clusters.#1.window_s") == 0; i++) {
		sl_admin_ring_tick(r, &v, now += 1000);
		render(d, &v, r);
	}
	assert_true(num(d, "clusters.#1.window_s") > 0);
	count(&c->clusters[1].state->counts[1], 3, 2, 0);
	for (int i = 0; i < 6; i++)
		sl_admin_ring_tick(r, &v, now += 1000);
	render(d, &v, r);
	assert_int_equal(num(d, "clusters.#1.requests_1m"), 3);
	free(d->b.p);
	free(d);
	sl_admin_ring_free(r);
	sl_runtime_unbind(c1);
	sl_conf_unref(c1);
	sl_runtime_unbind(c);
	sl_conf_unref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_interpolated),
	    cmocka_unit_test(test_past_the_last_bound),
	    cmocka_unit_test(test_status_document),
	    cmocka_unit_test(test_old_state_named_again),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
