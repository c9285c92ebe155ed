/* SPDX-License-Identifier: MIT */
/*
 * The key machinery of the sluice schema: the check of a mapping's keys
 * against the outline of the sections (the top level, a listener, its
 * limits, a route, a cluster, its pool, ...: conf.c's sl_conf_outline,
 * handed in through the loader), and the reading of a section declared as
 * a table of keys. A key unknown in its section is looked up in the others,
 * so that a key written one level off is pointed to where it belongs. The
 * section files call it; it names no section and no section's table, reads
 * only the keys of a mapping, calls no section parser, and does no I/O.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf_int.h"
#include "conf_yaml.h"
#include "util.h"

/* Sections of outline o between s and the top level. */
static unsigned
depth(const struct sl_conf_section_def *o, enum sl_conf_section s)
{
	unsigned d = 0;

	for (; s != SL_CONF_SEC_TOP; s = o[s].parent)
		d++;
	return d;
}

/* Whether a is b or holds it, at any depth. */
static int
holds(const struct sl_conf_section_def *o, enum sl_conf_section a,
      enum sl_conf_section b)
{
	for (;; b = o[b].parent) {
		if (a == b)
			return 1;
		if (b == SL_CONF_SEC_TOP)
			return 0;
	}
}

/* Steps from a to b through the tree of sections. */
static unsigned
distance(const struct sl_conf_section_def *o, enum sl_conf_section a,
	 enum sl_conf_section b)
{
	unsigned da = depth(o, a), db = depth(o, b), n = 0;

	for (; da > db; da--, n++)
		a = o[a].parent;
	for (; db > da; db--, n++)
		b = o[b].parent;
	for (; a != b; n += 2) {
		a = o[a].parent;
		b = o[b].parent;
	}
	return n;
}

/* Where section t is, as seen from section cur. */
static const char *
place(const struct sl_conf_section_def *o, enum sl_conf_section cur,
      enum sl_conf_section t)
{
	if (holds(o, t, cur) && o[t].up != NULL)
		return o[t].up;
	if (t != SL_CONF_SEC_TOP && o[t].parent == cur)
		return o[t].down;
	return o[t].far;
}

/* Whether word is one or more whole words of name: "prefix" of
 * "path_prefix", "health" of "health_check". */
static int
part_of(const char *word, const char *name)
{
	size_t wl = strlen(word);
	const char *p;

	if (wl == 0)
		return 0;
	for (p = name; (p = strstr(p, word)) != NULL; p++)
		if ((p == name || p[-1] == '_') &&
		    (p[wl] == '\0' || p[wl] == '_'))
			return 1;
	return 0;
}

/* Key number i of section s, NULL past the last. */
static const char *
key_at(const struct sl_conf_section_def *o, enum sl_conf_section s, size_t i)
{
	if (o[s].table != NULL)
		return o[s].table[i].name;
	return o[s].keys[i];
}

static int
has_key(const struct sl_conf_section_def *o, enum sl_conf_section s,
	const char *key)
{
	const char *k;

	for (size_t i = 0; (k = key_at(o, s, i)) != NULL; i++)
		if (strcmp(k, key) == 0)
			return 1;
	return 0;
}

/* What elsewhere() is told: the outline and the section the key is in. */
struct look {
	const struct sl_conf_section_def *outline;
	int n; /* its sections */
	enum sl_conf_section sec;
};

/*
 * key is unknown in section cur and no typing mistake for one of its keys:
 * says in buf which key of cur it likely stands for when it is a part of
 * one of them only ("prefix" in match: "path_prefix"), else where it
 * belongs when another section has it (the nearest ones, all of those),
 * else which key of another section it most likely misspells (the nearest
 * of the closest, keys of 5 bytes or more). Leaves buf empty otherwise.
 */
static void
elsewhere(const void *ctx, const char *key, char *buf, size_t sz)
{
	const struct look *lk = ctx;
	const struct sl_conf_section_def *o = lk->outline;
	enum sl_conf_section cur = lk->sec;
	enum sl_conf_section t, near[3], best = SL_CONF_SEC_TOP;
	int ti;
	unsigned d, mind = UINT_MAX, bestd = UINT_MAX, bestdist = UINT_MAX;
	const char *bestkey = NULL, *name;
	size_t n = 0, i, len;

	buf[0] = '\0';
	/* a part of one key of its own section: most likely that key, but
	 * for a key of that very name one step away ("interval" in a
	 * cluster is its health_check's, not its ping_interval) */
	for (ti = 0; ti < lk->n; ti++) {
		t = (enum sl_conf_section)ti;
		if (t != cur && distance(o, cur, t) == 1 && has_key(o, t, key))
			break;
	}
	for (i = 0; ti == lk->n && (name = key_at(o, cur, i)) != NULL; i++) {
		if (!part_of(key, name))
			continue;
		if (bestkey != NULL) {
			bestkey = NULL; /* two: it says nothing */
			break;
		}
		bestkey = name;
	}
	if (bestkey != NULL) {
		snprintf(buf, sz, " (did you mean \"%s\"?)", bestkey);
		return;
	}
	for (ti = 0; ti < lk->n; ti++) {
		t = (enum sl_conf_section)ti;
		if (t == cur || !has_key(o, t, key))
			continue;
		if ((d = distance(o, cur, t)) < mind) {
			mind = d;
			n = 0;
		}
		if (d == mind && n < SL_NELEM(near))
			near[n++] = t;
	}
	if (n > 0) {
		snprintf(buf, sz, " (it belongs %s", place(o, cur, near[0]));
		for (i = 1; i < n; i++) {
			const char *p = place(o, cur, near[i]);
			size_t j;

			/* the same words for two sections say nothing more */
			for (j = 0; j < i; j++)
				if (strcmp(p, place(o, cur, near[j])) == 0)
					break;
			if (j < i)
				continue;
			len = strlen(buf);
			snprintf(buf + len, sz - len, " or %s", p);
		}
		len = strlen(buf);
		snprintf(buf + len, sz - len, ")");
		return;
	}
	for (ti = 0; ti < lk->n; ti++) {
		t = (enum sl_conf_section)ti;
		if (t == cur)
			continue;
		for (i = 0; (name = key_at(o, t, i)) != NULL; i++) {
			const char *close = NULL;
			unsigned cd = 0, dist;

			/* across ~150 keys, a short one is met by chance */
			if (strlen(name) < 5)
				continue;
			sl_yaml_suggest(key, name, &close, &cd);
			if (close == NULL)
				continue;
			dist = distance(o, cur, t);
			if (cd < bestd || (cd == bestd && dist < bestdist)) {
				bestkey = name;
				best = t;
				bestd = cd;
				bestdist = dist;
			}
		}
	}
	if (bestkey != NULL)
		snprintf(buf, sz, " (did you mean \"%s\" %s?)", bestkey,
			 place(o, cur, best));
}

void
sl_conf_check_keys(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		   enum sl_conf_section sec)
{
	const char *names[SL_CONF_TABLE_MAX + 1];
	const struct look lk = {ld->outline, (int)ld->noutline, sec};
	const struct sl_conf_section_def *o = ld->outline;
	const char *const *keys = o[sec].keys;
	size_t i;

	if (keys == NULL) {
		for (i = 0; i < SL_CONF_TABLE_MAX &&
			    (names[i] = key_at(o, sec, i)) != NULL;
		     i++)
			;
		names[i] = NULL;
		keys = names;
	}
	sl_yaml_check_keys(ld, map, keys, o[sec].where, elsewhere, &lk);
}

/* ---- sections declared as tables --------------------------------------- */

/* Stores v into the field of entry t in base, at its width. */
static void
table_store(const struct sl_conf_keydef *t, void *base, uint64_t v)
{
	char *p = (char *)base + t->off;
	uint32_t v32 = (uint32_t)v;

	if (t->size == sizeof(v))
		memcpy(p, &v, sizeof(v));
	else if (t->size == sizeof(v32))
		memcpy(p, &v32, sizeof(v32));
}

void
sl_conf_table_defaults(const struct sl_conf_keydef *t, void *base)
{
	for (; t->name != NULL; t++)
		table_store(t, base, t->def);
}

/* Reads the value v of entry t into base. Returns 0, or -1 with the error
 * reported (the field keeps what it held). */
static int
table_get(struct sl_yaml_loader *ld, const char *lbl,
	  const struct sl_conf_keydef *t, const struct sl_yaml_node *v,
	  void *base)
{
	uint64_t u = 0;
	int rc = -1, i;

	switch (t->type) {
	case SL_CONF_CODE:
		break;
	case SL_CONF_DURATION:
		rc = sl_yaml_get_duration(ld, t->name, v, t->min, t->max, &u);
		break;
	case SL_CONF_SIZE:
		rc = sl_yaml_get_size(ld, t->name, v, t->min, t->max, &u);
		break;
	case SL_CONF_UINT:
		rc = sl_yaml_get_uint(ld, t->name, v, t->min, t->max, &u);
		break;
	case SL_CONF_PERCENT:
		rc = sl_yaml_get_percent(ld, t->name, v, t->min, t->max, &u);
		break;
	case SL_CONF_BOOL:
		if ((rc = sl_conf_get_bool(ld, t->name, v, &i)) == 0)
			u = (uint64_t)i;
		break;
	case SL_CONF_ENUM:
		if ((i = sl_yaml_get_enum(ld, t->name, v, t->names,
					  t->expected)) >= 0) {
			u = (uint64_t)i;
			rc = 0;
		}
		break;
	case SL_CONF_SET:
		return t->set(ld, lbl, v, base); /* it stores what it read */
	}
	if (rc == 0)
		table_store(t, base, u);
	return rc;
}

void
sl_conf_table_read(struct sl_yaml_loader *ld, const char *lbl,
		   const struct sl_yaml_node *map,
		   const struct sl_conf_keydef *t, void *base,
		   const struct sl_yaml_node **got)
{
	const struct sl_yaml_node *v;
	size_t i;

	for (i = 0; t[i].name != NULL; i++) {
		if (got != NULL)
			got[i] = NULL;
		if (t[i].type == SL_CONF_CODE ||
		    (v = sl_yaml_map_get(map, t[i].name, NULL)) == NULL)
			continue;
		if (table_get(ld, lbl, &t[i], v, base) == 0 && got != NULL)
			got[i] = v;
	}
}

const struct sl_yaml_node *
sl_conf_table_got(const struct sl_conf_keydef *t,
		  const struct sl_yaml_node *const *got, const char *name)
{
	for (size_t i = 0; t[i].name != NULL; i++)
		if (strcmp(t[i].name, name) == 0)
			return got[i];
	return NULL;
}
