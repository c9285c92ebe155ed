/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the configuration's key tables (doc/design-notes.md, "The
 * configuration as tables"): every table is sane (a terminator, names
 * unique, defaults in range, fields inside their struct and apart), the
 * outline of conf.c holds each table's keys, the table reader stores
 * each type at its width, and doc/sluice.yaml.5 states the defaults and
 * ranges the tables hold. Reads doc/sluice.yaml.5 under SRCDIR; no sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_compress.h"
#include "conf_guard.h"
#include "conf_idem.h"
#include "conf_int.h"
#include "conf_lua.h"
#include "conf_trace.h"
#include "conf_waf.h"
#include "conf_yaml.h"

/* conf_keys.c's key_at() and has_key() are static; the outline they read
 * is conf.c's (sl_conf_outline). */
#include "conf_keys.c"

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* A section declared as a table, the struct it fills, and where
 * doc/sluice.yaml.5 describes its keys ("SECTION/parent key"). */
struct tbl {
	const struct sl_conf_keydef *t;
	int sec;	  /* a module's: set by setup() */
	size_t base_size; /* of the struct the table fills */
	int base;	  /* tables that fill one struct share it */
	const char *man;
	const struct sl_module *mod; /* a module's table: its sections' */
};

/* The module's sections' numbers, known once the table is set. */
#define SEC_MOD_TOP   (-1)
#define SEC_MOD_ROUTE (-2)

static struct tbl tables[] = {
    {sl_conf_top_table, SL_CONF_SEC_TOP, sizeof(struct sl_conf), 1, "TOP LEVEL",
     NULL},
    {sl_conf_log_table, SL_CONF_SEC_LOG, sizeof(struct sl_conf), 1,
     "TOP LEVEL/log", NULL},
    {sl_conf_limits_table, SL_CONF_SEC_LIMITS, sizeof(struct sl_conf_limits), 2,
     "LIMITS", NULL},
    {sl_conf_route_table, SL_CONF_SEC_ROUTE, sizeof(struct sl_conf_route), 3,
     "ROUTES", NULL},
    {sl_conf_retry_table, SL_CONF_SEC_RETRY, sizeof(struct sl_conf_retry), 4,
     "ROUTES/retry", NULL},
    {sl_conf_cluster_table, SL_CONF_SEC_CLUSTER, sizeof(struct sl_conf_cluster),
     5, "CLUSTERS", NULL},
    {sl_conf_pool_table, SL_CONF_SEC_POOL, sizeof(struct sl_conf_cluster), 5,
     "CLUSTERS/pool", NULL},
    {sl_conf_health_table, SL_CONF_SEC_HEALTH, sizeof(struct sl_conf_health), 6,
     "CLUSTERS/health_check", NULL},
    {sl_conf_outlier_table, SL_CONF_SEC_OUTLIER, sizeof(struct sl_conf_outlier),
     7, "CLUSTERS/outlier", NULL},
    {sl_conf_resolver_table, SL_CONF_SEC_RESOLVER, sizeof(struct sl_conf), 1,
     "TOP LEVEL/resolver", NULL},
    {sl_conf_dns_table, SL_CONF_SEC_DNS, sizeof(struct sl_conf_cluster), 5,
     "CLUSTERS/dns", NULL},
    {NULL, SEC_MOD_TOP, sizeof(struct sl_conf_tracing), 1, "TOP LEVEL/tracing",
     &sl_module_trace},
    {NULL, SEC_MOD_TOP, sizeof(struct sl_conf_waf), 9, "TOP LEVEL/waf",
     &sl_module_waf},
    {NULL, SEC_MOD_TOP, sizeof(struct sl_conf_compress), 10,
     "TOP LEVEL/compress", &sl_module_compress},
    {NULL, SEC_MOD_ROUTE, sizeof(struct sl_conf_compress_route), 11,
     "ROUTES/compress", &sl_module_compress},
    {NULL, SEC_MOD_TOP, sizeof(struct sl_conf_idem), 12,
     "TOP LEVEL/idempotency", &sl_module_idem},
    {NULL, SEC_MOD_ROUTE, sizeof(struct sl_conf_idem_route), 13,
     "ROUTES/idempotency", &sl_module_idem},
    {NULL, SEC_MOD_ROUTE, sizeof(struct sl_conf_guard), 8, "ROUTES/guard",
     &sl_module_guard},
    {NULL, SEC_MOD_ROUTE, sizeof(struct sl_conf_lua), 14, "LUA",
     &sl_module_lua},
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

/* Keys whose default is no value of their range but "another key's". */
static int
def_elsewhere(const struct tbl *tb, const struct sl_conf_keydef *k)
{
	/* 0: the route's timeout; max_header_bytes */
	return (tb->t == sl_conf_retry_table &&
		strcmp(k->name, "per_try_timeout") == 0) ||
	       (tb->t == sl_conf_limits_table &&
		strcmp(k->name, "max_header_list_bytes") == 0);
}

static int
typed(const struct sl_conf_keydef *k)
{
	return k->type != SL_CONF_CODE && k->type != SL_CONF_SET;
}

static size_t
nnames(const char *const *names)
{
	size_t n = 0;

	while (names[n] != NULL)
		n++;
	return n;
}

/* The whole outline (the modules' sections after conf.c's), and its
 * sections' number. */
static const struct sl_conf_section_def *full;
static unsigned nfull;

static int
setup(void **state)
{
	(void)state;
	full = sl_conf_outline_all(&nfull);
	for (size_t i = 0; i < NTABLES; i++) {
		if (tables[i].sec == SEC_MOD_TOP)
			tables[i].sec = tables[i].mod->top_sec_id;
		else if (tables[i].sec == SEC_MOD_ROUTE)
			tables[i].sec = tables[i].mod->route_sec_id;
		else
			continue;
		/* a module's tables are its own: its sections name them */
		tables[i].t = full[tables[i].sec].table;
	}
	return 0;
}

/* The outline a section's table is read from: conf.c's for its own (the
 * whole outline's top level and route list the modules' keys too), the
 * whole one for a module's. */
static const struct sl_conf_section_def *
outline_of(int sec)
{
	return sec < SL_CONF_SEC_N ? sl_conf_outline : full;
}

/* Every section the outline reads from a table is listed above, and
 * each listed table is the one its section's outline reads. */
static void
test_tables_listed(void **state)
{
	size_t i, s;

	(void)state;
	for (s = 0; s < nfull; s++) {
		const struct sl_conf_section_def *o = outline_of((int)s);
		if (o[s].table == NULL) {
			assert_non_null(o[s].keys);
			continue;
		}
		assert_null(o[s].keys);
		for (i = 0; i < NTABLES; i++)
			if (tables[i].t == o[s].table)
				break;
		assert_true(i < NTABLES);
		assert_int_equal(tables[i].sec, s);
	}
	for (i = 0; i < NTABLES; i++)
		assert_ptr_equal(outline_of(tables[i].sec)[tables[i].sec].table,
				 tables[i].t);
}

/* The whole outline's top level and route hold their tables' keys, then
 * each module's key (compress, idempotency; a route's mirror), so that the
 * key checks know them. */
static void
test_module_keys(void **state)
{
	static const int secs[] = {SL_CONF_SEC_TOP, SL_CONF_SEC_ROUTE};
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		int s = secs[i];
		const struct sl_conf_keydef *t = sl_conf_outline[s].table;
		assert_null(full[s].table);
		for (n = 0; t[n].name != NULL; n++)
			assert_string_equal(full[s].keys[n], t[n].name);
		/* then each module's that has the key there, in the
		 * table's order */
		for (size_t k = 0; k < sl_conf_nmodules; k++) {
			const struct sl_module *m = sl_conf_modules[k];
			if (s == SL_CONF_SEC_TOP
				? m->top_parse == NULL || m->top_hidden
				: m->route_parse == NULL)
				continue;
			assert_string_equal(full[s].keys[n++],
					    s == SL_CONF_SEC_TOP &&
						    m->top_key != NULL
						? m->top_key
						: m->key);
		}
		assert_null(full[s].keys[n]);
	}
	/* auth keeps a slot of the generation but has no top-level key */
	for (n = 0; full[SL_CONF_SEC_TOP].keys[n] != NULL; n++)
		assert_string_not_equal(full[SL_CONF_SEC_TOP].keys[n], "auth");
	/* the WAF, compress and idempotency have both; the mirror a
	 * route's only; tracing both and a listener's key of its own,
	 * after the listener's list; the canary guard, a route's only; rate
	 * limits, a route's key and a top-level key of another name; Lua,
	 * a route's only; ACME, last, a top-level key only (a listener's
	 * tls.acme is the tls keys') */
	assert_string_equal(full[SL_CONF_SEC_ROUTE]
				.keys[nnames(full[SL_CONF_SEC_ROUTE].keys) - 4],
			    "tracing");
	assert_string_equal(full[SL_CONF_SEC_ROUTE]
				.keys[nnames(full[SL_CONF_SEC_ROUTE].keys) - 3],
			    "guard");
	assert_string_equal(full[SL_CONF_SEC_ROUTE]
				.keys[nnames(full[SL_CONF_SEC_ROUTE].keys) - 2],
			    "rate_limit");
	assert_string_equal(full[SL_CONF_SEC_ROUTE]
				.keys[nnames(full[SL_CONF_SEC_ROUTE].keys) - 1],
			    "lua");
	assert_string_equal(
	    full[SL_CONF_SEC_TOP].keys[nnames(full[SL_CONF_SEC_TOP].keys) - 2],
	    "rate_limit_store");
	assert_string_equal(
	    full[SL_CONF_SEC_TOP].keys[nnames(full[SL_CONF_SEC_TOP].keys) - 1],
	    "acme");
	n = nnames(sl_conf_outline[SL_CONF_SEC_LISTENER].keys);
	assert_int_equal(nnames(full[SL_CONF_SEC_LISTENER].keys), n + 1);
	assert_string_equal(full[SL_CONF_SEC_LISTENER].keys[n],
			    "trace_context");
	for (size_t i = 0; i < sl_conf_nmodules; i++) {
		const struct sl_module *m = sl_conf_modules[i];
		assert_int_equal(m->slot, i);
		if (m->route_sec != NULL)
			assert_int_equal(full[m->route_sec_id].parent,
					 SL_CONF_SEC_ROUTE);
		if (m->top_sec != NULL)
			assert_int_equal(full[m->top_sec_id].parent,
					 SL_CONF_SEC_TOP);
		/* its sections inside its own follow them, their parents
		 * numbered in the whole outline */
		for (unsigned k = 0; k < m->nsecs; k++) {
			unsigned p = full[m->sec_id + k].parent;
			assert_ptr_equal(full[m->sec_id + k].keys,
					 m->secs[k].keys);
			assert_true(p < m->sec_id + k);
			assert_true(p == m->top_sec_id ||
				    p == m->route_sec_id || p >= m->sec_id);
		}
	}
	/* the WAF's exclude and limits sit in a route's waf: */
	assert_int_equal(sl_module_waf.nsecs, 2);
	assert_int_equal(full[sl_module_waf.sec_id].parent,
			 sl_module_waf.route_sec_id);
	assert_int_equal(full[sl_module_waf.sec_id + 1].parent,
			 sl_module_waf.route_sec_id);
	assert_string_equal(full[sl_module_waf.sec_id + 1].where,
			    "in waf.limits");
}

static void
check_table(const struct tbl *tb)
{
	const struct sl_conf_keydef *t = tb->t, *k;
	size_t i, j;

	for (i = 0; i <= SL_CONF_TABLE_MAX && t[i].name != NULL; i++) {
		k = &t[i];
		/* names unique in the section */
		for (j = 0; j < i; j++)
			if (strcmp(k->name, t[j].name) == 0)
				fail_msg("\"%s\" twice in one table", k->name);
		/* a field: inside the struct, 4 or 8 bytes wide */
		if (k->size != 0) {
			if (k->size != 4 && k->size != 8)
				fail_msg("\"%s\": size %zu", k->name, k->size);
			assert_true(k->off % k->size == 0);
			assert_true(k->off + k->size <= tb->base_size);
		}
		switch (k->type) {
		case SL_CONF_CODE:
			assert_int_equal(k->size, 0);
			assert_null(k->set);
			break;
		case SL_CONF_SET:
			assert_non_null(k->set);
			break;
		case SL_CONF_DURATION:
		case SL_CONF_SIZE:
		case SL_CONF_UINT:
		case SL_CONF_PERCENT:
			assert_true(k->size != 0);
			assert_null(k->set);
			assert_true(k->min <= k->max);
			if (k->size == 4)
				assert_true(k->max <= UINT32_MAX);
			if ((k->def < k->min || k->def > k->max) &&
			    !def_elsewhere(tb, k))
				fail_msg(
				    "\"%s\": default %llu out of %llu..%llu",
				    k->name, (unsigned long long)k->def,
				    (unsigned long long)k->min,
				    (unsigned long long)k->max);
			if (k->type == SL_CONF_PERCENT)
				assert_true(k->max <= 100);
			break;
		case SL_CONF_BOOL:
			assert_int_equal(k->size, sizeof(int));
			assert_true(k->def <= 1);
			break;
		case SL_CONF_ENUM:
			assert_int_equal(k->size, sizeof(int));
			assert_non_null(k->names);
			assert_non_null(k->expected);
			assert_true(k->def < nnames(k->names));
			/* the message names every value */
			for (j = 0; k->names[j] != NULL; j++)
				assert_non_null(
				    strstr(k->expected, k->names[j]));
			break;
		default:
			fail_msg("\"%s\": type %d", k->name, (int)k->type);
		}
	}
	/* the terminator, and room for the names in sl_conf_check_keys */
	assert_true(i <= SL_CONF_TABLE_MAX);
	assert_null(t[i].name);
}

/* Two keys (of one table or of two filling one struct) never share a
 * byte of their fields. */
static void
check_fields_apart(int base)
{
	unsigned char *seen = NULL;
	size_t sz = 0, i, b;

	for (i = 0; i < NTABLES; i++) {
		const struct sl_conf_keydef *k;

		if (tables[i].base != base)
			continue;
		if (seen == NULL) {
			sz = tables[i].base_size;
			assert_non_null(seen = calloc(1, sz));
		}
		for (k = tables[i].t; k->name != NULL; k++)
			for (b = k->off; b < k->off + k->size; b++) {
				if (seen[b])
					fail_msg("\"%s\" shares a field",
						 k->name);
				seen[b] = 1;
			}
	}
	free(seen);
}

static void
test_tables_sane(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NTABLES; i++)
		check_table(&tables[i]);
	for (i = 0; i < NTABLES; i++)
		check_fields_apart(tables[i].base);
}

/* Each key of a table is a key of its section in the outline, so that
 * the check of a mapping's keys and the hints of "unknown key" know it. */
static void
test_tables_in_outline(void **state)
{
	const struct sl_conf_keydef *k;
	size_t i, n;

	(void)state;
	for (i = 0; i < NTABLES; i++) {
		for (k = tables[i].t, n = 0; k->name != NULL; k++, n++) {
			const struct sl_conf_section_def *o =
			    outline_of(tables[i].sec);
			if (!has_key(o, tables[i].sec, k->name))
				fail_msg(
				    "\"%s\" is not in its section's outline",
				    k->name);
			assert_string_equal(key_at(o, tables[i].sec, n),
					    k->name);
		}
		assert_null(
		    key_at(outline_of(tables[i].sec), tables[i].sec, n));
	}
}

/* ---- the reader, on a table of every type ------------------------------ */

enum tcolor { T_RED, T_GREEN, T_BLUE };

struct tsec {
	uint32_t canary0;
	uint64_t bytes;
	uint32_t count;
	uint32_t canary1;
	int flag;
	enum tcolor color;
	uint32_t pct;
	uint32_t canary2;
	uint64_t ms;
	int hooked;
};

static const char *const color_names[] = {"red", "green", "blue", NULL};

static int
set_hook(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *v, void *base)
{
	struct tsec *s = base;

	s->hooked++;
	if (!sl_yaml_is_string(v) || strcmp(v->str, "ok") != 0) {
		sl_yaml_err_node(ld, v, "%s: \"hook\": not ok", lbl);
		return -1;
	}
	return 0;
}

#define F(f) SL_CONF_FIELD(struct tsec, f)
static const struct sl_conf_keydef ttable[] = {
    {"code", .type = SL_CONF_CODE},
    {"bytes", SL_CONF_SIZE, 1, 1024, 16, F(bytes)},
    {"count", SL_CONF_UINT, 1, 10, 2, F(count)},
    {"flag", SL_CONF_BOOL, .def = 1, F(flag)},
    {"color", SL_CONF_ENUM, .def = T_GREEN, F(color), .names = color_names,
     .expected = "red, green or blue"},
    {"pct", SL_CONF_PERCENT, 0, 100, 20, F(pct)},
    {"ms", SL_CONF_DURATION, 1, 60000, 500, F(ms)},
    {"hook", SL_CONF_SET, .set = set_hook},
    {.name = NULL},
};
#undef F

#define NT (sizeof(ttable) / sizeof(ttable[0]))

/* Reads text's top-level mapping through ttable into s, read[i] set when
 * sl_conf_table_read gave a node for ttable[i]; returns the errors
 * (malloc'd, NULL when none). */
static char *
read_ttable(const char *text, struct tsec *s, int *read)
{
	const struct sl_yaml_node *got[NT];
	struct sl_yaml_loader ld;
	struct sl_yaml_node *root;
	int fatal;

	sl_yaml_loader_init(&ld, "t.yaml", text, strlen(text));
	root = sl_yaml_parse(&ld, &fatal);
	assert_false(fatal);
	assert_non_null(root);
	sl_conf_table_read(&ld, "sec", root, ttable, s, got);
	for (size_t i = 0; ttable[i].name != NULL; i++)
		read[i] = got[i] != NULL;
	sl_yaml_node_free(root);
	return sl_yaml_errors_finish(&ld);
}

static void
test_table_read(void **state)
{
	struct tsec s;
	int read[NT];
	char *errs;

	(void)state;
	/* the defaults, each at its width: the neighbours stay */
	memset(&s, 0xa5, sizeof(s));
	s.hooked = 0;
	sl_conf_table_defaults(ttable, &s);
	assert_int_equal(s.bytes, 16);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.flag, 1);
	assert_int_equal(s.color, T_GREEN);
	assert_int_equal(s.pct, 20);
	assert_int_equal(s.ms, 500);
	assert_int_equal(s.canary0, 0xa5a5a5a5);
	assert_int_equal(s.canary1, 0xa5a5a5a5);
	assert_int_equal(s.canary2, 0xa5a5a5a5);
	assert_int_equal(s.hooked, 0);

	/* every key right; a CODE key is left to its code */
	errs = read_ttable("code: [anything]\nbytes: 1KiB\ncount: 10\n"
			   "flag: false\ncolor: blue\npct: 100%\nms: 1m\n"
			   "hook: ok\n",
			   &s, read);
	assert_null(errs);
	assert_int_equal(s.bytes, 1024);
	assert_int_equal(s.count, 10);
	assert_int_equal(s.flag, 0);
	assert_int_equal(s.color, T_BLUE);
	assert_int_equal(s.pct, 100);
	assert_int_equal(s.ms, 60000);
	assert_int_equal(s.hooked, 1);
	assert_false(read[0]);
	for (size_t i = 1; ttable[i].name != NULL; i++)
		assert_true(read[i]);
	assert_int_equal(s.canary0, 0xa5a5a5a5);
	assert_int_equal(s.canary1, 0xa5a5a5a5);
	assert_int_equal(s.canary2, 0xa5a5a5a5);

	/* every key wrong: each message at its value; the fields keep
	 * what they held */
	sl_conf_table_defaults(ttable, &s);
	errs = read_ttable("{hook: no, ms: 0ms, pct: 101%, color: pink, "
			   "flag: 1, count: 0, bytes: 2KiB}\n",
			   &s, read);
	assert_string_equal(errs,
			    "t.yaml:1:8: error: sec: \"hook\": not ok\n"
			    "t.yaml:1:16: error: \"ms\": 0ms is out of "
			    "range (1ms..1m)\n"
			    "t.yaml:1:26: error: \"pct\": 101% is out of "
			    "range (0%..100%)\n"
			    "t.yaml:1:39: error: \"color\": expected red, "
			    "green or blue\n"
			    "t.yaml:1:51: error: \"flag\": expected true or "
			    "false\n"
			    "t.yaml:1:61: error: \"count\": 0 is out of range "
			    "(1..10)\n"
			    "t.yaml:1:71: error: \"bytes\": 2KiB is out of "
			    "range (1B..1KiB)\n");
	free(errs);
	assert_int_equal(s.bytes, 16);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.flag, 1);
	assert_int_equal(s.color, T_GREEN);
	assert_int_equal(s.pct, 20);
	assert_int_equal(s.ms, 500);
	assert_int_equal(s.hooked, 2);
	for (size_t i = 0; ttable[i].name != NULL; i++)
		assert_false(read[i]);

	/* one node under two keys (an alias): both messages at its place,
	 * in the table's order, whichever key is written first */
	errs = read_ttable("count: &x abc\nbytes: *x\n", &s, read);
	assert_string_equal(
	    errs, "t.yaml:1:11: error: \"bytes\": invalid size "
		  "\"abc\" (expected an integer with unit B, KiB, "
		  "MiB or GiB) (through the alias *x at 2:8)\n"
		  "t.yaml:1:11: error: \"count\": expected an integer "
		  "(1..10)\n");
	free(errs);
}

/* ---- doc/sluice.yaml.5 states what the tables hold ---------------------- */

/* A key described in the manual: its place, the line that names it, and
 * its default as written ("" when the manual gives none). */
struct man_item {
	char path[160]; /* "CLUSTERS/pool/max_idle" */
	char head[256];
	char def[64];
};

struct man {
	struct man_item *items;
	size_t n;
};

/* The first n bytes of s (at most sz - 1) into d, NUL-terminated. */
static void
copy(char *d, size_t sz, const char *s, size_t n)
{
	if (n >= sz)
		n = sz - 1;
	memcpy(d, s, n);
	d[n] = '\0';
}

/* The word after ".BR " or ".B " (a key's name, or a default's value). */
static int
man_word(const char *line, char *out, size_t sz)
{
	size_t n;

	if (strncmp(line, ".BR ", 4) == 0)
		line += 4;
	else if (strncmp(line, ".B ", 3) == 0)
		line += 3;
	else
		return -1;
	n = strcspn(line, " \"");
	if (n == 0 || n >= sz)
		return -1;
	memcpy(out, line, n);
	out[n] = '\0';
	return 0;
}

/* Adds key, described on line (under sh and the keys of stack), to m;
 * returns its index. */
static size_t
man_add(struct man *m, const char *sh, char (*stack)[64], size_t depth,
	const char *key, const char *line)
{
	struct man_item *it;
	const char *p;
	size_t len;

	it = realloc(m->items, (m->n + 1) * sizeof(*it));
	assert_non_null(it);
	m->items = it;
	it = &m->items[m->n];
	memset(it, 0, sizeof(*it));
	len = (size_t)snprintf(it->path, sizeof(it->path), "%s", sh);
	for (size_t d = 0; d < depth; d++)
		len += (size_t)snprintf(it->path + len, sizeof(it->path) - len,
					"/%s", stack[d]);
	snprintf(it->path + len, sizeof(it->path) - len, "/%s", key);
	copy(it->head, sizeof(it->head), line, strlen(line));
	if ((p = strstr(line, "default \" ")) != NULL && p[10] != '"')
		copy(it->def, sizeof(it->def), p + 10, strcspn(p + 10, " \")"));
	return m->n++;
}

/*
 * The keys of the manual with the section (.SH) and the keys (.RS ...
 * .RE) they are under. A key is the first word of the line after .TP (or
 * each word of ".BR a \", \" b ..."); its default is the word after
 * "default \"" on that line, or the word of the line after a "Default:"
 * line in its description.
 */
static void
man_load(struct man *m)
{
	char line[1024], sh[64] = "", stack[8][64], key[64];
	size_t depth = 0, cur = SIZE_MAX, parents[8], n;
	int after_tp = 0, after_default = 0;
	const char *p;
	FILE *f;

	memset(m, 0, sizeof(*m));
	assert_non_null(f = fopen(SRCDIR "/doc/sluice.yaml.5", "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (after_default && cur != SIZE_MAX &&
		    m->items[cur].def[0] == '\0')
			man_word(line, m->items[cur].def,
				 sizeof(m->items[cur].def));
		after_default = strcmp(line, "Default:") == 0;
		if (strncmp(line, ".SH ", 4) == 0) {
			copy(sh, sizeof(sh), line + 4, strlen(line + 4));
			depth = 0;
			cur = SIZE_MAX;
		} else if (strcmp(line, ".RS") == 0 && depth < 8) {
			p = cur != SIZE_MAX
				? strrchr(m->items[cur].path, '/') + 1
				: "";
			copy(stack[depth], sizeof(stack[depth]), p, strlen(p));
			parents[depth++] = cur;
		} else if (strcmp(line, ".RE") == 0 && depth > 0)
			cur = parents[--depth];
		else if (after_tp && man_word(line, key, sizeof(key)) == 0) {
			cur = man_add(m, sh, stack, depth, key, line);
			/* .BR cert ", " key " (files, ...)" */
			for (p = strstr(line, key) + strlen(key);
			     strncmp(p, " \", \" ", 6) == 0; p += n) {
				p += 6;
				n = strcspn(p, " \"");
				copy(key, sizeof(key), p, n);
				cur = man_add(m, sh, stack, depth, key, line);
			}
		}
		after_tp = strcmp(line, ".TP") == 0;
	}
	fclose(f);
}

/* The item of m at path, or with path's last part anywhere when
 * anywhere is set; NULL when there is none. */
static const struct man_item *
man_find(const struct man *m, const char *path, int anywhere)
{
	const char *key = strrchr(path, '/'), *p;

	for (size_t i = 0; i < m->n; i++) {
		p = strrchr(m->items[i].path, '/');
		if (strcmp(m->items[i].path, path) == 0 ||
		    (anywhere && strcmp(p, key) == 0))
			return &m->items[i];
	}
	return NULL;
}

/* A value of key k as the manual writes it, in the unit k is stored in. */
static int
man_value(const struct sl_conf_keydef *k, const char *s, uint64_t *out)
{
	char *end;
	size_t i;

	switch (k->type) {
	case SL_CONF_DURATION:
		return sl_conf_parse_duration(s, out);
	case SL_CONF_SIZE:
		return sl_conf_parse_size(s, out);
	case SL_CONF_UINT:
	case SL_CONF_PERCENT:
		if (*s < '0' || *s > '9')
			return -1;
		*out = strtoull(s, &end, 10);
		if (k->type == SL_CONF_PERCENT && *end == '%')
			end++;
		return *end == '\0' ? 0 : -1;
	case SL_CONF_BOOL:
		if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
			return -1;
		*out = s[0] == 't';
		return 0;
	case SL_CONF_ENUM:
		for (i = 0; k->names[i] != NULL; i++)
			if (strcmp(s, k->names[i]) == 0) {
				*out = i;
				return 0;
			}
		return -1;
	default:
		return -1;
	}
}

/* The range "LO..HI" of a manual line, each end as written ("" when the
 * line has none). */
static void
man_range(const char *head, char *lo, char *hi, size_t sz)
{
	const char *p = strstr(head, ".."), *a;
	size_t n;

	lo[0] = hi[0] = '\0';
	if (p == NULL)
		return;
	for (a = p; a > head && strchr(" ,(", a[-1]) == NULL; a--)
		;
	snprintf(lo, sz, "%.*s", (int)(p - a), a);
	n = strcspn(p + 2, " ,)\"");
	snprintf(hi, sz, "%.*s", (int)n, p + 2);
}

static void
test_tables_man(void **state)
{
	char path[256], lo[64], hi[64];
	const struct sl_conf_keydef *k;
	const struct man_item *it;
	unsigned compared = 0, expected = 0;
	struct man m;
	uint64_t v;
	size_t i, j;

	(void)state;
	man_load(&m);
	assert_true(m.n > 100);
	for (i = 0; i < NTABLES; i++) {
		for (k = tables[i].t; k->name != NULL; k++) {
			snprintf(path, sizeof(path), "%s/%s", tables[i].man,
				 k->name);
			it = man_find(&m, path, k->type == SL_CONF_CODE);
			/* documented where it belongs; a key read by code may
			 * be told of elsewhere (a route's rate_limit) */
			if (it == NULL)
				fail_msg("%s: not in doc/sluice.yaml.5", path);
			if (!typed(k))
				continue;
			expected += !def_elsewhere(&tables[i], k);
			if (it->def[0] == '\0') {
				if (!def_elsewhere(&tables[i], k))
					fail_msg("%s: no default in the manual",
						 path);
			} else if (man_value(k, it->def, &v) != 0 ||
				   v != k->def)
				fail_msg("%s: the manual's default \"%s\" is "
					 "not the table's %llu",
					 path, it->def,
					 (unsigned long long)k->def);
			else
				compared++;
			man_range(it->head, lo, hi, sizeof(lo));
			if (man_value(k, lo, &v) == 0 && v != k->min)
				fail_msg("%s: the manual's minimum %s is not "
					 "the table's %llu",
					 path, lo, (unsigned long long)k->min);
			if (man_value(k, hi, &v) == 0 && v != k->max)
				fail_msg("%s: the manual's maximum %s is not "
					 "the table's %llu",
					 path, hi, (unsigned long long)k->max);
			/* an enum's line names each of its values */
			for (j = 0; k->type == SL_CONF_ENUM && k->names[j]; j++)
				assert_non_null(strstr(it->head, k->names[j]));
		}
	}
	/* every default was found and compared but those told in words */
	assert_int_equal(compared, expected);
	free(m.items);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tables_listed),
	    cmocka_unit_test(test_module_keys),
	    cmocka_unit_test(test_tables_sane),
	    cmocka_unit_test(test_tables_in_outline),
	    cmocka_unit_test(test_table_read),
	    cmocka_unit_test(test_tables_man),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
