/* SPDX-License-Identifier: MIT */
/*
 * The filters a route gets (src/proxy/filter.c, doc/design-notes.md,
 * "Filters"): the ones its configuration uses, in the table's order,
 * with the set of operations they have between them. The exchange runs
 * exactly these lists, so their order is the order of a request's
 * checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "filter.h"
#include "wgen.h"
#include "wproxy.h"

static const char yaml[] =
    "tracing:\n"
    "  cluster: a\n"
    "listeners:\n"
    "  - name: l\n"
    "    address: 127.0.0.1:19999\n"
    "    routes:\n"
    "      - name: plain\n"
    "        match: { path_prefix: /plain }\n"
    "        cluster: a\n"
    "        tracing: false\n"
    "      - name: busy\n"
    "        match: { path_prefix: /busy }\n"
    "        cluster: a\n"
    "        tracing: false\n"
    "        mirror: { cluster: b, percent: 10 }\n"
    "        compress: true\n"
    "        idempotency: true\n"
    "        deny: [10.0.0.0/8]\n"
    "        rate_limit:\n"
    "          - { name: ip, key: client_ip, rate: 10/s }\n"
    "      - name: traced\n"
    "        cluster: a\n"
    "      - name: plain2\n"
    "        match: { path_prefix: /plain2 }\n"
    "        cluster: a\n"
    "        tracing: false\n"
    "      - name: traced2\n"
    "        match: { path_prefix: /traced2 }\n"
    "        cluster: a\n"
    "clusters:\n"
    "  - name: a\n"
    "    endpoints: [127.0.0.1:9001]\n"
    "  - name: b\n"
    "    endpoints: [127.0.0.1:9002]\n";

/* The names of the filters r got, comma-separated, into out. */
static const char *
names(const struct sl_wroute *wr, char *out, size_t n)
{
	out[0] = '\0';
	for (unsigned i = 0; i < wr->nfilt; i++) {
		if (i > 0)
			strncat(out, ",", n - strlen(out) - 1);
		strncat(out, wr->filt[i]->name, n - strlen(out) - 1);
	}
	return out;
}

/* The configuration text, loaded, and a generation g of its routes with
 * their filters attached, as a worker makes it. */
static struct sl_conf *
attach(const char *text, struct sl_wgen *g)
{
	char *errs = NULL;
	struct sl_conf *conf =
	    sl_conf_load_buffer("t.yaml", text, strlen(text), &errs);

	if (conf == NULL)
		print_error("errors:\n%s", errs ? errs : "(none)\n");
	assert_non_null(conf);
	memset(g, 0, sizeof(*g));
	g->conf = conf;
	g->nroutes = conf->nroutes;
	g->routes = calloc(g->nroutes, sizeof(*g->routes));
	assert_non_null(g->routes);
	assert_int_equal(sl_filters_attach(g), 0);
	return conf;
}

static void
test_routes_get_what_they_use_in_order(void **state)
{
	char buf[256];
	struct sl_wgen g;
	struct sl_conf *conf = attach(yaml, &g);
	const struct sl_conf_listener *l;

	(void)state;
	l = &conf->listeners[0];
	assert_int_equal(l->nroutes, 5);

	/* a route without features runs no filter, and no place tests
	 * more than its empty set */
	assert_int_equal(g.routes[l->routes[0].index].nfilt, 0);
	assert_int_equal(g.routes[l->routes[0].index].fops, 0);

	/* the order is the checks' (doc/auth.md): allow and deny first,
	 * rate limits, the store, compression, the mirror last */
	assert_string_equal(
	    names(&g.routes[l->routes[1].index], buf, sizeof(buf)),
	    "allow_deny,rate_limits,idempotency,compress,mirror");
	{
		const struct sl_wroute *wr = &g.routes[l->routes[1].index];
		assert_true(wr->fops & SL_FOP_REQ_HEAD);
		assert_true(wr->fops & SL_FOP_RESP_HEAD);
		assert_true(wr->fops & SL_FOP_RESP_DROP);
		assert_true(wr->fops & SL_FOP_STOP); /* the lease */
		assert_true(wr->fops & SL_FOP_UP_HEAD);
		assert_true(wr->fops & SL_FOP_END);
		assert_false(wr->fops & SL_FOP_LOG); /* no trace */
		for (unsigned i = 0; i < wr->nfilt; i++)
			/* every ACCESS filter before the others */
			if (i > 0 && wr->filt[i]->phase == SL_FPHASE_ACCESS)
				assert_int_equal(wr->filt[i - 1]->phase,
						 SL_FPHASE_ACCESS);
	}

	/* a traced route: the trace, which sees every answer, first */
	assert_string_equal(
	    names(&g.routes[l->routes[2].index], buf, sizeof(buf)), "trace");
	assert_true(g.routes[l->routes[2].index].fops & SL_FOP_LOG);
	assert_int_equal(g.routes[l->routes[2].index].filt[0]->phase,
			 SL_FPHASE_ACCESS);

	/* routes of the same filters share one list; others have theirs
	 * (a platform's many plain routes cost one list, not one each) */
	assert_ptr_equal(g.routes[l->routes[3].index].filt,
			 g.routes[l->routes[0].index].filt);
	assert_ptr_equal(g.routes[l->routes[4].index].filt,
			 g.routes[l->routes[2].index].filt);
	assert_ptr_not_equal(g.routes[l->routes[0].index].filt,
			     g.routes[l->routes[1].index].filt);
	assert_ptr_not_equal(g.routes[l->routes[1].index].filt,
			     g.routes[l->routes[2].index].filt);
	assert_string_equal(
	    names(&g.routes[l->routes[4].index], buf, sizeof(buf)), "trace");

	free(g.routes);
	free(g.flists);
	sl_conf_unref(conf);
}

static const char yaml_slots[] =
    "tracing:\n"
    "  cluster: a\n"
    "listeners:\n"
    "  - name: l\n"
    "    address: 127.0.0.1:19999\n"
    "    routes:\n"
    "      - name: bare\n"
    "        match: { path_prefix: /bare }\n"
    "        cluster: a\n"
    "        tracing: false\n"
    "      - name: denying\n"
    "        match: { path_prefix: /denying }\n"
    "        cluster: a\n"
    "        tracing: false\n"
    "        deny: [10.0.0.0/8]\n"
    "      - name: one\n"
    "        match: { path_prefix: /one }\n"
    "        cluster: a\n"
    "        compress: true\n"
    "        rate_limit:\n"
    "          - { name: ip, key: client_ip, rate: 10/s }\n"
    "      - name: two\n"
    "        cluster: a\n"
    "        tracing: false\n"
    "        idempotency: true\n"
    "        mirror: { cluster: b, percent: 10 }\n"
    "clusters:\n"
    "  - name: a\n"
    "    endpoints: [127.0.0.1:9001]\n"
    "  - name: b\n"
    "    endpoints: [127.0.0.1:9002]\n";

/* The slots of wr's filters that have one: their [off, end) into r (n of
 * them), each inside the exchange's area. Returns n. */
static unsigned
slots(const struct sl_wroute *wr, size_t r[][2])
{
	unsigned n = 0;

	for (unsigned i = 0; i < wr->nfilt; i++) {
		size_t len, off = sl_filters_slot(wr, i, &len);
		if (len == 0)
			continue;
		assert_true(off + len <= sl_filter_slot_bytes);
		assert_int_equal(off % 16, 0);
		r[n][0] = off;
		r[n++][1] = off + len;
	}
	return n;
}

static int
overlap(const size_t a[2], const size_t b[2])
{
	return a[0] < b[1] && b[0] < a[1];
}

/* Each filter with per-request state gets its own slot in the exchange's
 * area (filter.h): a route's never overlap, two routes with different
 * filters get distinct ones, and a route whose filters keep nothing (or
 * that has none) has none and pays nothing when a request begins. */
static void
test_slots(void **state)
{
	char buf[256];
	struct sl_wgen g;
	struct sl_conf *conf = attach(yaml_slots, &g);
	const struct sl_conf_listener *l;
	const struct sl_wroute *bare, *denying, *one, *two;
	size_t a[SL_WROUTE_FILTERS][2], b[SL_WROUTE_FILTERS][2];
	unsigned na, nb;

	(void)state;
	l = &conf->listeners[0];
	assert_int_equal(l->nroutes, 4);
	bare = &g.routes[l->routes[0].index];
	denying = &g.routes[l->routes[1].index];
	one = &g.routes[l->routes[2].index];
	two = &g.routes[l->routes[3].index];

	/* no filter: no slot, nothing made when a request begins */
	assert_int_equal(bare->nfilt, 0);
	assert_int_equal(slots(bare, a), 0);
	assert_false(bare->fops & SL_FOP_BEGIN);
	/* a filter without state (allow and deny) gets none either */
	assert_string_equal(names(denying, buf, sizeof(buf)), "allow_deny");
	assert_int_equal(slots(denying, a), 0);
	assert_false(denying->fops & SL_FOP_BEGIN);

	assert_string_equal(names(one, buf, sizeof(buf)),
			    "trace,rate_limits,compress");
	assert_string_equal(names(two, buf, sizeof(buf)), "idempotency,mirror");
	assert_true(one->fops & SL_FOP_BEGIN);
	assert_true(two->fops & SL_FOP_BEGIN);
	na = slots(one, a);
	nb = slots(two, b);
	assert_int_equal(na, 3);
	assert_int_equal(nb, 2);
	/* a route's slots never overlap */
	for (unsigned i = 0; i < na; i++)
		for (unsigned j = i + 1; j < na; j++)
			assert_false(overlap(a[i], a[j]));
	for (unsigned i = 0; i < nb; i++)
		for (unsigned j = i + 1; j < nb; j++)
			assert_false(overlap(b[i], b[j]));
	/* nor do two routes' with different filters: distinct places */
	for (unsigned i = 0; i < na; i++)
		for (unsigned j = 0; j < nb; j++)
			assert_false(overlap(a[i], b[j]));

	free(g.routes);
	free(g.flists);
	sl_conf_unref(conf);
}

/* The filters' fields of the access log line come out in their places,
 * whatever order the filters add them in (the WAF's, the coding's, the
 * store's: 10, 20, 30), none past the room, none for a NULL value. */
static void
test_log_fields_in_place(void **state)
{
	struct sl_flog l;

	(void)state;
	l.n = 0;
	sl_flog_add(&l, 30, "idempotency", "replayed");
	sl_flog_add(&l, 10, "waf", "pass");
	sl_flog_add(&l, 20, "encoding", NULL);
	sl_flog_add(&l, 20, "encoding", "gzip");
	assert_int_equal(l.n, 3);
	assert_string_equal(l.f[0].name, "waf");
	assert_string_equal(l.f[1].name, "encoding");
	assert_string_equal(l.f[1].value, "gzip");
	assert_string_equal(l.f[2].name, "idempotency");
	/* one place's fields keep the filters' order: the line joins
	 * auth's values as "jwt,external" */
	sl_flog_add(&l, 0, "auth", "jwt");
	sl_flog_add(&l, 0, "auth", "external");
	assert_int_equal(l.n, 5);
	assert_string_equal(l.f[0].value, "jwt");
	assert_string_equal(l.f[1].value, "external");
	assert_string_equal(l.f[2].name, "waf");
	for (int i = 0; i < SL_FLOG_FIELDS; i++)
		sl_flog_add(&l, 5, "x", "y");
	assert_int_equal(l.n, SL_FLOG_FIELDS);
	assert_string_equal(l.f[2].name, "x");
}

/* A worker's proxy state holds each filter's per-worker state (the
 * idempotency store's lists): made as the worker starts, stopped and
 * freed with it, without the worker naming a filter. */
static void
test_worker_states(void **state)
{
	struct sl_worker w;
	struct sl_wproxy *p;
	struct sl_conf *conf;
	struct sl_wgen g;

	(void)state;
	conf = attach(yaml, &g);
	assert_true(sl_filters_wstate_size() > 0);
	memset(&w, 0, sizeof(w));
	assert_int_equal(sl_wproxy_init(&w, conf), 0);
	p = sl_wproxy(&w);
	assert_non_null(p);
	/* every filter's place is inside the area */
	for (unsigned i = 0; i < SL_FILTERS_MAX; i++)
		assert_true(sl_filter_wstate_off[i] <= sl_filter_wstate_bytes);
	sl_wproxy_stop(&w);
	sl_wproxy_free(&w);
	assert_null(w.proxy);
	free(g.routes);
	free(g.flists);
	sl_conf_unref(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routes_get_what_they_use_in_order),
	    cmocka_unit_test(test_slots),
	    cmocka_unit_test(test_log_fields_in_place),
	    cmocka_unit_test(test_worker_states),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
