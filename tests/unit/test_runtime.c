/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the registry of shared state (runtime.c): states carried
 * over from one generation to the next by their keys, each let go with
 * the last generation that names it, a registry of many entries (issue
 * 78: 100,000 routes), and a route's counters made at its first request,
 * once. The file under test is included to read its tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/edge/runtime.c"
#include "conf.h"
#include "wloop.h" /* SL_STAT_ADD */

/* A file of one listener and nroutes host routes named rFIRST.., with
 * route "fixed" first, to cluster a (and b when two). */
static char *
routes_yaml(size_t first, size_t nroutes, int two)
{
	size_t cap = 512 + nroutes * 96, n;
	char *s = malloc(cap);

	assert_non_null(s);
	n = (size_t)snprintf(s, cap,
			     "listeners:\n"
			     "  - name: main\n"
			     "    address: 127.0.0.1:8080\n"
			     "    routes:\n"
			     "      - { name: fixed, cluster: a }\n");
	for (size_t i = first; i < first + nroutes; i++)
		n += (size_t)snprintf(s + n, cap - n,
				      "      - { name: r%zu, match: { host: "
				      "h%zu.example }, cluster: a }\n",
				      i, i);
	snprintf(s + n, cap - n,
		 "clusters:\n"
		 "  - { name: a, endpoints: [127.0.0.1:9001] }\n%s",
		 two ? "  - { name: b, endpoints: [127.0.0.1:9002] }\n" : "");
	return s;
}

static struct sl_conf *
load(size_t first, size_t nroutes, int two)
{
	char *text = routes_yaml(first, nroutes, two), *errors = NULL;
	struct sl_conf *c =
	    sl_conf_load_buffer("t.yaml", text, strlen(text), &errors);

	if (c == NULL)
		fprintf(stderr, "%s", errors != NULL ? errors : "?");
	free(errors);
	free(text);
	assert_non_null(c);
	assert_int_equal(sl_runtime_bind(c), 0);
	return c;
}

/* The route of c named name, or NULL. */
static struct sl_conf_route *
route(struct sl_conf *c, const char *name)
{
	struct sl_conf_listener *l = &c->listeners[0];

	for (size_t i = 0; i < l->nroutes; i++)
		if (strcmp(l->routes[i].name, name) == 0)
			return &l->routes[i];
	return NULL;
}

static void
assert_registry_empty(void)
{
	assert_int_equal(lstates.n, 0);
	assert_int_equal(lcstates.n, 0);
	assert_int_equal(clstates.n, 0);
	assert_int_equal(epstates.n, 0);
	assert_int_equal(rstates.n, 0);
	assert_null(rstates.b);
}

/* A reload keeps what the new file still names, by key, with its
 * counters and its birth; makes what is new; and lets go of what only the
 * old one named once the old one goes. */
static void
test_carry_over(void **state)
{
	struct sl_conf *a, *b;
	struct sl_rstate *r1, *r2, *fixed;
	struct sl_counts *cnt;

	(void)state;
	sl_runtime_set_workers(2);
	a = load(1, 2, 0); /* fixed, r1, r2 */
	assert_int_equal(rstates.n, 3);
	r1 = route(a, "r1")->state;
	r2 = route(a, "r2")->state;
	fixed = route(a, "fixed")->state;
	assert_string_equal(r2->key, "main r2");
	assert_int_equal(r2->refs, 1);
	/* counters wait for a first request, and are made once */
	assert_null(atomic_load(&r2->counts));
	cnt = sl_runtime_route_counts(r2);
	assert_non_null(cnt);
	assert_ptr_equal(sl_runtime_route_counts(r2), cnt);
	assert_ptr_equal(atomic_load(&r2->counts), cnt);
	SL_STAT_ADD(cnt[1].requests, 7);
	r2->born_ms = 1; /* as if made long ago */

	b = load(2, 2, 1);		/* fixed, r2, r3; cluster b */
	assert_int_equal(rstates.n, 4); /* r1 still a's */
	assert_ptr_equal(route(b, "r2")->state, r2);
	assert_ptr_equal(route(b, "fixed")->state, fixed);
	assert_int_equal(r2->refs, 2);
	assert_int_equal(r2->born_ms, 1);
	assert_ptr_equal(atomic_load(&r2->counts), cnt);
	assert_int_equal(SL_STAT_GET(cnt[1].requests), 7);
	assert_null(atomic_load(&route(b, "r3")->state->counts));
	assert_ptr_equal(b->listeners[0].state, a->listeners[0].state);
	assert_ptr_equal(b->listeners[0].counters, a->listeners[0].counters);
	assert_ptr_equal(b->clusters[0].state, a->clusters[0].state);
	assert_ptr_equal(b->clusters[0].endpoints[0].state,
			 a->clusters[0].endpoints[0].state);
	assert_int_equal(clstates.n, 2);
	assert_int_equal(epstates.n, 2);
	(void)r1;

	/* the old generation goes: what only it named goes with it */
	sl_conf_unref(a);
	assert_int_equal(rstates.n, 3);
	assert_int_equal(r2->refs, 1);
	assert_int_equal(SL_STAT_GET(cnt[1].requests), 7);
	{
		/* r1 is no longer found: a file naming it again makes it
		 * anew, from zero */
		struct sl_conf *c = load(1, 1, 1);
		assert_int_equal(rstates.n, 4);
		assert_null(atomic_load(&route(c, "r1")->state->counts));
		assert_int_equal(route(c, "r1")->state->refs, 1);
		sl_conf_unref(c);
	}
	assert_int_equal(rstates.n, 3);
	sl_conf_unref(b);
	assert_registry_empty();
}

/* Many entries: each route its own state, found again by its key from
 * a second generation, every one let go at the end (the table grows and
 * is freed with its last entry). */
static void
test_many(void **state)
{
	enum { N = 20000 };
	struct sl_conf *a, *b;
	struct sl_conf_listener *la, *lb;

	(void)state;
	sl_runtime_set_workers(1);
	a = load(0, N, 0);
	la = &a->listeners[0];
	assert_int_equal(la->nroutes, N + 1);
	assert_int_equal(rstates.n, N + 1);
	assert_true(rstates.nb >= rstates.n);
	for (size_t i = 0; i < la->nroutes; i++) {
		char key[64];
		snprintf(key, sizeof(key), "main %s", la->routes[i].name);
		assert_string_equal(la->routes[i].state->key, key);
		assert_int_equal(la->routes[i].state->refs, 1);
		/* every state is its own */
		if (i > 0)
			assert_ptr_not_equal(la->routes[i].state,
					     la->routes[i - 1].state);
	}
	/* half of them again, and half new */
	b = load(N / 2, N, 0);
	lb = &b->listeners[0];
	assert_int_equal(rstates.n, N + N / 2 + 1);
	for (size_t i = 1; i <= N / 2; i++)
		assert_ptr_equal(lb->routes[i].state,
				 la->routes[N / 2 + i].state);
	for (size_t i = N / 2 + 1; i < lb->nroutes; i++)
		assert_int_equal(lb->routes[i].state->refs, 1);
	sl_conf_unref(a);
	assert_int_equal(rstates.n, N + 1);
	sl_conf_unref(b);
	assert_registry_empty();
}

/* The registry's table by itself: entries of one bucket taken out in any
 * order, a key found only while it is there. */
static void
test_table(void **state)
{
	struct sl_rstate *e[100];
	char key[32];

	(void)state;
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		e[i] = LOOKUP(sl_rstate, rstates, key);
		assert_non_null(e[i]);
		assert_string_equal(e[i]->key, key);
	}
	assert_int_equal(rstates.n, 100);
	assert_int_equal(rstates.nb, 128);
	/* found again: one more reference, no new entry */
	assert_ptr_equal(LOOKUP(sl_rstate, rstates, "k42"), e[42]);
	assert_int_equal(e[42]->refs, 2);
	RELEASE(sl_rstate, rstates, e[42]);
	assert_int_equal(rstates.n, 100);
	for (int i = 0; i < 100; i += 2)
		RELEASE(sl_rstate, rstates, e[i]);
	assert_int_equal(rstates.n, 50);
	for (int i = 1; i < 100; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_ptr_equal(LOOKUP(sl_rstate, rstates, key), e[i]);
		assert_int_equal(e[i]->refs, 2);
		RELEASE(sl_rstate, rstates, e[i]);
	}
	assert_int_equal(rstates.n, 50);
	for (int i = 1; i < 100; i += 2)
		RELEASE(sl_rstate, rstates, e[i]);
	assert_int_equal(rstates.n, 0);
	assert_null(rstates.b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_carry_over),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
