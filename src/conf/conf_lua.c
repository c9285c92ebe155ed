/* SPDX-License-Identifier: MIT */
/*
 * A route's lua: (doc/lua.md): its script's file, read and compiled when
 * the configuration is loaded (start, -t, each reload), so that a syntax
 * error, a script that fails as it loads or a function it does not define
 * is the file's error with the script's FILE:LINE; the generation keeps
 * the text it checked, from which each worker makes its state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "conf_lua.h"
#include "util.h"

#ifdef HAVE_LUA
#include <lua.h>
#endif

/* A script's file is read whole, up to this many bytes. */
#define SCRIPT_MAX (4u << 20)

static int
read_file(struct sl_yaml_loader *ld, const char *lbl,
	  const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_lua *c = base;
	const char *path;
	FILE *f;
	size_t n;

	if (sl_yaml_get_str(ld, "file", v, &path) == -1)
		return -1;
	c->file = sl_yaml_strdup(ld, path);
	if ((f = fopen(path, "rb")) == NULL) {
		sl_yaml_err_node(ld, v, "%s: lua: cannot read \"file\" %s: %s",
				 lbl, sl_yaml_qstr(ld, path), strerror(errno));
		return -1;
	}
	if ((c->text = malloc(SCRIPT_MAX + 1)) == NULL) {
		fclose(f);
		ld->oom = 1;
		return -1;
	}
	n = fread(c->text, 1, SCRIPT_MAX + 1, f);
	fclose(f);
	if (n > SCRIPT_MAX) {
		sl_yaml_err_node(ld, v,
				 "%s: lua: \"file\" %s is larger than %u "
				 "bytes",
				 lbl, sl_yaml_qstr(ld, path), SCRIPT_MAX);
		return -1;
	}
	c->text_len = n;
	c->text[n] = '\0';
	return 0;
}

/* A function's name: a Lua name. */
static int
read_fn(struct sl_yaml_loader *ld, const char *lbl,
	const struct sl_yaml_node *v, char **out, const char *key)
{
	const char *s;
	size_t i;

	if (sl_yaml_get_str(ld, key, v, &s) == -1)
		return -1;
	for (i = 0; s[i] != '\0'; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (i > 0 && s[i] >= '0' && s[i] <= '9')))
			break;
	if (i == 0 || s[i] != '\0') {
		sl_yaml_err_node(ld, v,
				 "%s: lua: \"%s\": %s is not the name of a "
				 "function (letters, digits and _)",
				 lbl, key, sl_yaml_qnode(ld, v));
		return -1;
	}
	*out = sl_yaml_strdup(ld, s);
	return 0;
}

static int
read_request(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *v, void *base)
{
	return read_fn(ld, lbl, v,
		       &((struct sl_conf_lua *)base)->fn[SL_LUA_REQUEST],
		       "request");
}

static int
read_response(struct sl_yaml_loader *ld, const char *lbl,
	      const struct sl_yaml_node *v, void *base)
{
	return read_fn(ld, lbl, v,
		       &((struct sl_conf_lua *)base)->fn[SL_LUA_RESPONSE],
		       "response");
}

static int
read_log(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *v, void *base)
{
	return read_fn(ld, lbl, v,
		       &((struct sl_conf_lua *)base)->fn[SL_LUA_LOG], "log");
}

/* consts: a mapping of names to scalars, the functions' second argument
 * (strings, as written). */
static int
read_consts(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_lua *c = base;

	if (sl_yaml_get_map(ld, "consts", v) == -1)
		return -1;
	if ((c->consts = calloc(v->nkids / 2 + 1, sizeof(*c->consts))) ==
	    NULL) {
		ld->oom = 1;
		return -1;
	}
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		const struct sl_yaml_node *k = v->kids[i], *x = v->kids[i + 1];
		if (x->type != SL_YAML_NODE_SCALAR) {
			sl_yaml_err_node(ld, x,
					 "%s: lua: consts: %s: expected a "
					 "string or a number",
					 lbl, sl_yaml_qnode(ld, k));
			return -1;
		}
		c->consts[c->nconsts].name = sl_yaml_strdup(ld, k->str);
		c->consts[c->nconsts++].value = sl_yaml_strdup(ld, x->str);
	}
	return 0;
}

/* calls: [cluster, ...]: the clusters r:http may call. The generation
 * is the loader's (conf_int.h's sl_conf_find_cluster finds them). */
static struct sl_conf *calls_conf;

static int
read_calls(struct sl_yaml_loader *ld, const char *lbl,
	   const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_lua *c = base;

	if (sl_yaml_get_seq(ld, "calls", v) == -1)
		return -1;
	if ((c->calls = calloc(v->nkids + 1, sizeof(*c->calls))) == NULL) {
		ld->oom = 1;
		return -1;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		struct sl_conf_cluster *cl = sl_conf_find_cluster(
		    ld, lbl, "calls", v->kids[i], calls_conf);
		if (cl == NULL)
			return -1;
		c->calls[c->ncalls++] = cl;
	}
	return 0;
}

static int
read_on_error(struct sl_yaml_loader *ld, const char *lbl,
	      const struct sl_yaml_node *v, void *base)
{
	uint64_t n;

	if (sl_yaml_get_uint(ld, "on_error", v, 500, 503, &n) == -1)
		return -1;
	if (n != 500 && n != 503) {
		sl_yaml_err_node(ld, v,
				 "%s: lua: \"on_error\": expected 500 "
				 "or 503",
				 lbl);
		return -1;
	}
	((struct sl_conf_lua *)base)->on_error = (uint32_t)n;
	return 0;
}

#define RC(f) SL_CONF_FIELD(struct sl_conf_lua, f)
/* The keys of a route's lua: (doc/sluice.yaml.5), read in this order. */
static const struct sl_conf_keydef route_table[] = {
    {"file", SL_CONF_SET, .set = read_file},
    {"request", SL_CONF_SET, .set = read_request},
    {"response", SL_CONF_SET, .set = read_response},
    {"log", SL_CONF_SET, .set = read_log},
    {"consts", SL_CONF_SET, .set = read_consts},
    {"instructions", SL_CONF_UINT, 1000, (uint64_t)1 << 40, 1000000,
     RC(budget.instructions)},
    {"time", SL_CONF_DURATION, 1, 60000, 5, RC(time_ms)},
    {"memory", SL_CONF_SIZE, 256 * 1024, (uint64_t)1 << 34, 16u << 20,
     RC(budget.memory)},
    {"on_error", SL_CONF_SET, .set = read_on_error},
    {"body", SL_CONF_SIZE, 0, 16u << 20, 0, RC(body)},
    {"calls", SL_CONF_SET, .set = read_calls},
    {"kv_entries", SL_CONF_UINT, 1, 1u << 20, 1024, RC(budget.kv_entries)},
    {.name = NULL},
};
#undef RC

/* The script compiled and run once on a state of its own, its functions
 * looked up: what a worker will do, so that -t says what would fail. */
static void
check_script(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *map, struct sl_conf_lua *c)
{
#ifdef HAVE_LUA
	struct sl_luavm *vm = sl_luavm_new(&c->budget);
	char err[512];

	if (vm == NULL) {
		ld->oom = 1;
		return;
	}
	if (sl_luavm_load(vm, c->file, c->text, c->text_len, err,
			  sizeof(err)) == -1)
		sl_yaml_err_node(ld, map, "%s: lua: %s", lbl, err);
	else
		for (int p = 0; p < SL_LUA_NPHASES; p++)
			if (c->fn[p] != NULL &&
			    sl_luavm_function(vm, c->fn[p], err, sizeof(err)) ==
				-1)
				sl_yaml_err_node(ld, map, "%s: lua: %s: %s",
						 lbl, c->file, err);
	sl_luavm_free(vm);
#else
	(void)c;
	sl_yaml_err_node(ld, map,
			 "%s: lua: this sluice was built without Lua "
			 "(Debian: liblua5.4-dev)",
			 lbl);
#endif
}

static void
route_parse(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, void **slot,
	    const struct sl_conf_route *r, struct sl_conf *conf)
{
	(void)r;
	struct sl_conf_lua *c;
	int b;

	if (map->type != SL_YAML_NODE_MAP) {
		if (sl_conf_get_bool(ld, "lua", map, &b) == -1)
			return;
		if (b)
			sl_yaml_err_node(ld, map,
					 "%s: lua: expected a mapping with "
					 "\"file\" (or false)",
					 lbl);
		return;
	}
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_lua.route_sec_id);
	if ((c = *slot = calloc(1, sizeof(*c))) == NULL) {
		ld->oom = 1;
		return;
	}
	sl_conf_table_defaults(route_table, c);
	c->on_error = 500;
	calls_conf = conf;
	sl_conf_table_read(ld, lbl, map, route_table, c, NULL);
	calls_conf = NULL;
	c->budget.time_us = c->time_ms * 1000;
	if (c->file == NULL) {
		sl_yaml_err_lacks(ld, map, "%s: lua: \"file\" is missing", lbl);
		return;
	}
	if (c->text == NULL)
		return; /* its error said */
	if (c->fn[SL_LUA_REQUEST] == NULL && c->fn[SL_LUA_RESPONSE] == NULL &&
	    c->fn[SL_LUA_LOG] == NULL) {
		sl_yaml_err_node(ld, map,
				 "%s: lua: names no function to run: "
				 "\"request\", \"response\", \"log\" or "
				 "more of them",
				 lbl);
		return;
	}
	check_script(ld, lbl, map, c);
}

static void
route_free(void *slot)
{
	struct sl_conf_lua *c = slot;

#ifdef HAVE_LUA
	for (unsigned w = 0; c->vms != NULL && w < c->nworkers; w++)
		sl_luavm_free(c->vms[w]);
#endif
	free(c->vms);
	free(c->calls);
	free(c->file);
	free(c->text);
	for (int p = 0; p < SL_LUA_NPHASES; p++)
		free(c->fn[p]);
	for (size_t i = 0; i < c->nconsts; i++) {
		free(c->consts[i].name);
		free(c->consts[i].value);
	}
	free(c->consts);
	free(c);
}

/* Each worker's place for its state of the script. */
static int
route_bind(void *slot, const struct sl_conf_listener *l,
	   struct sl_conf_route *r, unsigned nworkers)
{
	struct sl_conf_lua *c = slot;

	(void)l;
	(void)r;
	if (c->vms != NULL)
		return 0;
	if ((c->vms = calloc(nworkers, sizeof(*c->vms))) == NULL)
		return -1;
	c->nworkers = nworkers;
	return 0;
}

/* ---- /config ---------------------------------------------------------- */

static void
route_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_lua *c = slot;

	if (c == NULL) {
		o->printf(o->ctx, ",\"lua\":null");
		return;
	}
	o->printf(o->ctx, ",\"lua\":{\"file\":");
	o->str(o->ctx, c->file);
	o->printf(o->ctx, ",\"request\":");
	o->str(o->ctx, c->fn[SL_LUA_REQUEST]);
	o->printf(o->ctx, ",\"response\":");
	o->str(o->ctx, c->fn[SL_LUA_RESPONSE]);
	o->printf(o->ctx, ",\"log\":");
	o->str(o->ctx, c->fn[SL_LUA_LOG]);
	/* how many constants, never their names or values: an API key
	 * table's names are the keys */
	o->printf(o->ctx, ",\"consts\":%zu,\"calls\":[", c->nconsts);
	for (size_t i = 0; i < c->ncalls; i++) {
		o->printf(o->ctx, "%s", i ? "," : "");
		o->str(o->ctx, c->calls[i]->name);
	}
	o->printf(o->ctx,
		  "],\"instructions\":%llu,\"time_ms\":%llu,"
		  "\"memory\":%llu,\"kv_entries\":%llu,\"body\":%llu,"
		  "\"on_error\":%u}",
		  (unsigned long long)c->budget.instructions,
		  (unsigned long long)c->time_ms,
		  (unsigned long long)c->budget.memory,
		  (unsigned long long)c->budget.kv_entries,
		  (unsigned long long)c->body, c->on_error);
}

/* ---- the module --------------------------------------------------------- */

static const struct sl_conf_section_def route_sec = {
    SL_CONF_SEC_ROUTE,	       NULL, route_table, "in lua", "under \"lua\"",
    "under a route's \"lua\"", NULL};

#define W(f) (uint16_t)(offsetof(struct sl_lua_counts, f) / sizeof(uint64_t))
static const char *const phase_names[SL_LUA_NPHASES] = {"request", "response",
							"log"};
/* luavm.c's sl_luavm_fail_names, here too: a build without Lua has no
 * luavm.c, and still renders the (empty) families */
static const char *const kind_names[SL_LUAVM_NFAIL] = {
    "ok", "error", "instructions", "time", "memory"};
static const struct sl_mfamily families[] = {
    {.name = "sluice_lua_calls_total",
     .help = "Calls of a route's Lua functions, by function.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(calls),
     .n = SL_LUA_NPHASES,
     .label = "function",
     .values = phase_names},
    {.name = "sluice_lua_failures_total",
     .help = "Calls of a route's Lua functions that failed, answered "
	     "with lua.on_error, by kind (an error, or the budget that ran "
	     "out).",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(failures),
     .first = 1,
     .n = SL_LUAVM_NFAIL,
     .label = "kind",
     .values = kind_names},
    {.name = "sluice_lua_answers_total",
     .help = "Requests a route's Lua function answered itself.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(answers)},
    {.name = "sluice_lua_yields_total",
     .help = "Times a route's Lua function gave the loop back in the "
	     "middle of a call (a slice of its running time was over).",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(slices)},
    {.name = "sluice_lua_seconds_total",
     .help = "Running time of a route's Lua functions.",
     .kind = SL_MFAM_SECONDS,
     .scope = SL_MFAM_ROUTE,
     .off = W(us),
     .div = 1e6},
};

/* the status page: the minute's failed calls */
static const struct sl_mstatus status[] = {
    {.name = "lua_calls", .num_off = W(calls), .num_n = SL_LUA_NPHASES},
    {.name = "lua_failures",
     .num_off = W(failures) + 1,
     .num_n = SL_LUAVM_NFAIL - 1},
};
#undef W

/* -V's line. */
static const char *
lua_lib_version(void)
{
#ifdef HAVE_LUA
	return LUA_RELEASE " (the headers built with)";
#else
	return "Lua: none (./configure --without-lua: a route's lua: is "
	       "refused)";
#endif
}

struct sl_module sl_module_lua = {
    .name = "lua",
    .key = "lua",
    .route_parse = route_parse,
    .route_free = route_free,
    .route_bind = route_bind,
    .route_print = route_print,
    .route_sec = &route_sec,
    .version = lua_lib_version,
    .route_words = sizeof(struct sl_lua_counts) / sizeof(uint64_t),
    .families = families,
    .nfamilies = SL_NELEM(families),
    .status = status,
    .nstatus = SL_NELEM(status),
};
