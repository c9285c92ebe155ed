/* SPDX-License-Identifier: MIT */
/* Unit tests for sniname.c: the SNI index against the walk it replaced
 * (the first group with the name exactly, else the first with a
 * wildcard), on chosen cases and on random groups, names and patterns
 * drawn from a small alphabet so that they collide often. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sniname.h"

#define MAXG 24
#define MAXN 8

/* Groups of names as the walk takes them, and the index of the same. */
struct set {
	char *names[MAXG][MAXN];
	size_t nnames[MAXG];
	size_t ngroups;
	struct sl_sni_idx *x;
};

static void
set_init(struct set *s)
{
	memset(s, 0, sizeof(*s));
	s->x = sl_sni_idx_new();
	assert_non_null(s->x);
}

static void
set_add(struct set *s, size_t g, const char *name)
{
	assert_true(g < MAXG && s->nnames[g] < MAXN);
	assert_true(g + 1 >= s->ngroups);
	s->names[g][s->nnames[g]++] = strdup(name);
	if (g + 1 > s->ngroups)
		s->ngroups = g + 1;
	assert_int_equal(sl_sni_idx_add(s->x, name, (uint32_t)g), 0);
}

static void
set_free(struct set *s)
{
	for (size_t g = 0; g < MAXG; g++)
		for (size_t j = 0; j < s->nnames[g]; j++)
			free(s->names[g][j]);
	sl_sni_idx_free(s->x);
}

static long
walk(const struct set *s, const char *name)
{
	char **v[MAXG];

	for (size_t g = 0; g < MAXG; g++)
		v[g] = (char **)s->names[g];
	return sl_sni_walk_find((char **const *)v, s->nnames, s->ngroups, name);
}

static int
walk_covers(const struct set *s, size_t g, const char *name)
{
	for (size_t j = 0; j < s->nnames[g]; j++)
		if (sl_sni_name_matches(s->names[g][j], name) != 0)
			return 1;
	return 0;
}

/* The index answers as the walk does, for the choice and for each
 * group's cover. */
static void
same(const struct set *s, const char *name)
{
	long want = walk(s, name);
	long got = sl_sni_idx_find(s->x, name, strlen(name));

	if (want != got)
		fail_msg("\"%s\": walk %ld, index %ld", name, want, got);
	for (size_t g = 0; g < s->ngroups; g++)
		if (walk_covers(s, g, name) !=
		    sl_sni_idx_covers(s->x, (uint32_t)g, name, strlen(name)))
			fail_msg("\"%s\" in group %zu: walk %d", name, g,
				 walk_covers(s, g, name));
}

static void
test_chosen(void **state)
{
	struct set s;

	(void)state;
	set_init(&s);
	set_add(&s, 0, "default.test");
	set_add(&s, 1, "*.example.com");
	set_add(&s, 2, "a.example.com");
	set_add(&s, 3, "A.EXAMPLE.COM");
	set_add(&s, 3, "*.a.example.com");
	set_add(&s, 4, "*.a.example.com");
	set_add(&s, 4, "trail.test.");
	/* an exact name beats an earlier group's wildcard */
	assert_int_equal(sl_sni_idx_find(s.x, "a.example.com", 13), 2);
	/* case folded; the first group of the name */
	assert_int_equal(sl_sni_idx_find(s.x, "A.Example.Com", 13), 2);
	/* a wildcard covers one label */
	assert_int_equal(sl_sni_idx_find(s.x, "b.example.com", 13), 1);
	assert_int_equal(sl_sni_idx_find(s.x, "x.a.example.com", 15), 3);
	assert_int_equal(sl_sni_idx_find(s.x, "example.com", 11), -1);
	assert_int_equal(sl_sni_idx_find(s.x, ".example.com", 12), -1);
	/* a trailing dot is a byte of the name, as it was */
	assert_int_equal(sl_sni_idx_find(s.x, "a.example.com.", 14), -1);
	assert_int_equal(sl_sni_idx_find(s.x, "trail.test.", 11), 4);
	assert_int_equal(sl_sni_idx_find(s.x, "trail.test", 10), -1);
	/* covers: a group's own names and wildcards, no other's */
	assert_true(sl_sni_idx_covers(s.x, 4, "z.a.example.com", 15));
	assert_true(sl_sni_idx_covers(s.x, 3, "a.example.com", 13));
	assert_false(sl_sni_idx_covers(s.x, 0, "a.example.com", 13));
	assert_false(sl_sni_idx_covers(s.x, 2, "b.example.com", 13));
	/* the length is the name's, not up to a NUL */
	assert_int_equal(sl_sni_idx_find(s.x, "default.test.more", 12), 0);
	for (const char *const *n =
		 (const char *const[]){"a.example.com", "b.example.com",
				       "x.a.example.com", "default.test",
				       "DEFAULT.TEST", "trail.test.",
				       "*.example.com", "*.a.example.com", "",
				       ".", "*", "*.", NULL};
	     *n != NULL; n++)
		same(&s, *n);
	set_free(&s);
}

/* xorshift: the same cases on every run */
static uint64_t rng = 88172645463325252ull;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* A name of 1 to 4 labels from a few, a wildcard first label at times,
 * a trailing dot at times, its case at random. */
static void
random_name(char *out, size_t size, int pattern)
{
	static const char *const labels[] = {"a", "b", "ab",	"x",
					     "",  "*", "xn--p", "c-d"};
	size_t n = 0, nl = 1 + rnd(4);

	out[0] = '\0';
	for (size_t i = 0; i < nl; i++) {
		const char *l =
		    (i == 0 && pattern && rnd(2) == 0)
			? "*"
			: labels[rnd(sizeof(labels) / sizeof(labels[0]))];
		n += (size_t)snprintf(out + n, size - n, "%s%s",
				      i > 0 ? "." : "", l);
	}
	if (rnd(8) == 0)
		n += (size_t)snprintf(out + n, size - n, ".");
	for (size_t i = 0; i < n; i++)
		if (out[i] >= 'a' && out[i] <= 'z' && rnd(4) == 0)
			out[i] = (char)(out[i] - 32);
}

static void
test_random(void **state)
{
	char name[64];

	(void)state;
	for (int round = 0; round < 1000; round++) {
		struct set s;
		size_t ng = 1 + rnd(MAXG);

		set_init(&s);
		for (size_t g = 0; g < ng; g++)
			for (size_t j = 0, k = rnd(MAXN); j < k; j++) {
				random_name(name, sizeof(name), 1);
				set_add(&s, g, name);
			}
		for (int q = 0; q < 64; q++) {
			random_name(name, sizeof(name), 0);
			same(&s, name);
		}
		/* the names themselves, and under them */
		for (size_t g = 0; g < ng; g++)
			for (size_t j = 0; j < s.nnames[g]; j++) {
				char *p = s.names[g][j];
				same(&s, p);
				if (p[0] == '*')
					same(&s, p + 1);
				snprintf(name, sizeof(name), "q.%s", p);
				same(&s, name);
			}
		set_free(&s);
	}
}

/* Many names: the tables grow, and still find each. */
static void
test_many(void **state)
{
	struct sl_sni_idx *x = sl_sni_idx_new();
	char name[64];

	(void)state;
	assert_non_null(x);
	for (uint32_t i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "m%u.example.com", i);
		assert_int_equal(sl_sni_idx_add(x, name, i), 0);
		snprintf(name, sizeof(name), "*.w%u.example.com", i);
		assert_int_equal(sl_sni_idx_add(x, name, i), 0);
	}
	for (uint32_t i = 0; i < 20000; i += 7) {
		snprintf(name, sizeof(name), "M%u.Example.com", i);
		assert_int_equal(sl_sni_idx_find(x, name, strlen(name)), i);
		snprintf(name, sizeof(name), "shop.w%u.example.com", i);
		assert_int_equal(sl_sni_idx_find(x, name, strlen(name)), i);
		assert_true(sl_sni_idx_covers(x, i, name, strlen(name)));
		assert_false(sl_sni_idx_covers(x, i + 1, name, strlen(name)));
	}
	assert_int_equal(sl_sni_idx_find(x, "m20000.example.com", 18), -1);
	sl_sni_idx_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chosen),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
