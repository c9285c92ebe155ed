/* SPDX-License-Identifier: MIT */
/*
 * SNI names indexed by hash (sniname.h): two open-addressing tables, the
 * exact names and the wildcards' suffixes, each name with the groups that
 * carry it in order. Pure: no I/O, no OpenSSL.
 */
#include "sniname.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One name and the groups that carry it: first, then more[0..n) in
 * increasing order (most names are in one group: more stays NULL). */
struct ent {
	uint64_t h;
	char *key; /* lower-cased, owned; NULL: an empty slot */
	size_t len;
	uint32_t first;
	uint32_t n, cap; /* of more */
	uint32_t *more;
};

struct tab {
	struct ent *ents;
	size_t cap; /* a power of two, or 0 */
	size_t n;   /* used, at most half of cap */
};

struct sl_sni_idx {
	struct tab exact; /* "a.example.com", "*.example.com" as written */
	struct tab wild;  /* ".example.com" of "*.example.com" */
};

static inline unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* FNV-1a of the case-folded bytes. */
static uint64_t
hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ lower((unsigned char)s[i])) * 1099511628211ull;
	return h;
}

static int
same(const struct ent *e, uint64_t h, const char *s, size_t len)
{
	if (e->h != h || e->len != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)e->key[i] != lower((unsigned char)s[i]))
			return 0;
	return 1;
}

static const struct ent *
tab_get(const struct tab *t, const char *s, size_t len)
{
	uint64_t h;

	if (t->cap == 0)
		return NULL;
	h = hash(s, len);
	for (size_t i = (size_t)h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		const struct ent *e = &t->ents[i];
		if (e->key == NULL)
			return NULL;
		if (same(e, h, s, len))
			return e;
	}
}

static int
tab_grow(struct tab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	struct ent *ents = calloc(cap, sizeof(*ents));

	if (ents == NULL)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		struct ent *e = &t->ents[i];
		size_t j;
		if (e->key == NULL)
			continue;
		for (j = (size_t)e->h & (cap - 1); ents[j].key != NULL;
		     j = (j + 1) & (cap - 1))
			;
		ents[j] = *e;
	}
	free(t->ents);
	t->ents = ents;
	t->cap = cap;
	return 0;
}

static int
tab_add(struct tab *t, const char *s, size_t len, uint32_t g)
{
	uint64_t h = hash(s, len);
	struct ent *e;
	size_t i;

	if ((t->n + 1) * 2 > t->cap && tab_grow(t) == -1)
		return -1;
	for (i = (size_t)h & (t->cap - 1); t->ents[i].key != NULL;
	     i = (i + 1) & (t->cap - 1)) {
		e = &t->ents[i];
		if (!same(e, h, s, len))
			continue;
		/* groups come in order: g is this name's last so far, or a
		 * new last one */
		if (g == (e->n > 0 ? e->more[e->n - 1] : e->first))
			return 0;
		if (e->n == e->cap) {
			uint32_t cap = e->cap ? e->cap * 2 : 2;
			uint32_t *m = realloc(e->more, cap * sizeof(*m));
			if (m == NULL)
				return -1;
			e->more = m;
			e->cap = cap;
		}
		e->more[e->n++] = g;
		return 0;
	}
	e = &t->ents[i];
	if ((e->key = malloc(len + 1)) == NULL)
		return -1;
	for (size_t k = 0; k < len; k++)
		e->key[k] = (char)lower((unsigned char)s[k]);
	e->key[len] = '\0';
	e->h = h;
	e->len = len;
	e->first = g;
	t->n++;
	return 0;
}

static void
tab_free(struct tab *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		free(t->ents[i].key);
		free(t->ents[i].more);
	}
	free(t->ents);
}

static int
ent_has(const struct ent *e, uint32_t g)
{
	size_t lo = 0, hi;

	if (e == NULL || g < e->first)
		return 0;
	if (g == e->first)
		return 1;
	for (hi = e->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		if (e->more[mid] == g)
			return 1;
		if (e->more[mid] < g)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The part of name a wildcard covers: from its first dot on, or NULL
 * (no dot, or the name starts with it). */
static const char *
suffix(const char *name, size_t len)
{
	const char *dot = memchr(name, '.', len);

	return dot == NULL || dot == name ? NULL : dot;
}

struct sl_sni_idx *
sl_sni_idx_new(void)
{
	return calloc(1, sizeof(struct sl_sni_idx));
}

void
sl_sni_idx_free(struct sl_sni_idx *x)
{
	if (x == NULL)
		return;
	tab_free(&x->exact);
	tab_free(&x->wild);
	free(x);
}

int
sl_sni_idx_add(struct sl_sni_idx *x, const char *pattern, uint32_t g)
{
	size_t len = strlen(pattern);

	if (tab_add(&x->exact, pattern, len, g) == -1)
		return -1;
	if (pattern[0] == '*' && pattern[1] == '.' &&
	    tab_add(&x->wild, pattern + 1, len - 1, g) == -1)
		return -1;
	return 0;
}

long
sl_sni_idx_find(const struct sl_sni_idx *x, const char *name, size_t len)
{
	const struct ent *e = tab_get(&x->exact, name, len);
	const char *dot;

	if (e != NULL)
		return (long)e->first;
	if ((dot = suffix(name, len)) == NULL)
		return -1;
	e = tab_get(&x->wild, dot, len - (size_t)(dot - name));
	return e != NULL ? (long)e->first : -1;
}

int
sl_sni_idx_covers(const struct sl_sni_idx *x, uint32_t g, const char *name,
		  size_t len)
{
	const char *dot;

	if (ent_has(tab_get(&x->exact, name, len), g))
		return 1;
	if ((dot = suffix(name, len)) == NULL)
		return 0;
	return ent_has(tab_get(&x->wild, dot, len - (size_t)(dot - name)), g);
}

/* ---- the walk ------------------------------------------------------------ */

int
sl_sni_name_matches(const char *pattern, const char *name)
{
	const char *dot;

	if (strcasecmp(pattern, name) == 0)
		return 2;
	if (pattern[0] != '*' || pattern[1] != '.')
		return 0;
	if ((dot = strchr(name, '.')) == NULL || dot == name)
		return 0;
	return strcasecmp(pattern + 1, dot) == 0;
}

long
sl_sni_walk_find(char **const *names, const size_t *nnames, size_t ngroups,
		 const char *name)
{
	/* an exact name first, then a wildcard */
	for (int want = 2; want > 0; want--)
		for (size_t i = 0; i < ngroups; i++)
			for (size_t j = 0; j < nnames[i]; j++)
				if (sl_sni_name_matches(names[i][j], name) ==
				    want)
					return (long)i;
	return -1;
}
