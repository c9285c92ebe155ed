/* SPDX-License-Identifier: MIT */
/*
 * idempotency: at the top level (the local store's bound) and a route's
 * idempotency: (which requests' Idempotency-Key is kept, whose key it is,
 * what of an answer is kept and for how long) (doc/operations.md,
 * "Idempotent payments").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_int.h"
#include "h1_parse.h"

#define TOP(f) SL_CONF_FIELD(struct sl_conf_idem, f)

/* key_file: a path, read with the other secrets (conf_secret.c) */
static int
read_key_file(struct sl_yaml_loader *ld, const char *lbl,
	      const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_idem *c = base;
	const char *s;

	(void)lbl;
	if (sl_yaml_get_str(ld, "key_file", v, &s) == -1)
		return -1;
	if (*s == '\0') {
		sl_yaml_err_node(ld, v, "\"key_file\": must not be empty");
		return -1;
	}
	free(c->key_file.path);
	c->key_file.path = sl_yaml_strdup(ld, s);
	c->key_file.pos.line = v->line;
	c->key_file.pos.col = v->col;
	return 0;
}

/* previous_key_files: [path, ...], at most SL_IDEM_OLD_KEYS: keys whose
 * answers still open while a fleet moves to a new key_file */
static int
read_old_key_files(struct sl_yaml_loader *ld, const char *lbl,
		   const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_idem *c = base;
	const char *s;

	(void)lbl;
	if (sl_yaml_get_seq(ld, "previous_key_files", v) == -1)
		return -1;
	if (v->nkids > SL_IDEM_OLD_KEYS) {
		sl_yaml_err_node(ld, v,
				 "\"previous_key_files\": at most %d files",
				 SL_IDEM_OLD_KEYS);
		return -1;
	}
	for (size_t i = 0; i < c->nold; i++)
		free(c->old_files[i].path);
	c->nold = 0;
	for (size_t i = 0; i < v->nkids; i++) {
		if (sl_yaml_get_str(ld, "previous_key_files", v->kids[i], &s) ==
		    -1)
			continue;
		if (*s == '\0') {
			sl_yaml_err_node(ld, v->kids[i],
					 "\"previous_key_files\": a path must "
					 "not be empty");
			continue;
		}
		c->old_files[c->nold].path = sl_yaml_strdup(ld, s);
		c->old_files[c->nold].pos.line = v->kids[i]->line;
		c->old_files[c->nold].pos.col = v->kids[i]->col;
		c->nold++;
	}
	return 0;
}

const struct sl_conf_keydef sl_conf_idem_table[] = {
    {"memory", SL_CONF_SIZE, 1024 * 1024, (uint64_t)1 << 40, 64 * 1024 * 1024,
     TOP(memory)},
    {"key_file", SL_CONF_SET, .set = read_key_file},
    {"previous_key_files", SL_CONF_SET, .set = read_old_key_files},
    {.name = NULL},
};
#undef TOP

void
sl_conf_parse_idem(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		   struct sl_conf *conf)
{
	const struct sl_yaml_node *v;

	if (sl_yaml_get_map(ld, "idempotency", map) == -1)
		return;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_IDEM);
	sl_conf_table_read(ld, NULL, map, sl_conf_idem_table, &conf->idem,
			   NULL);
	if (conf->idem.nold > 0 && conf->idem.key_file.path == NULL &&
	    (v = sl_yaml_map_get(map, "previous_key_files", NULL)) != NULL)
		sl_yaml_err_node(ld, v,
				 "\"previous_key_files\" needs \"key_file\" "
				 "(the key that seals; the previous ones only "
				 "open)");
}

/* ---- a route's idempotency: --------------------------------------------- */

/* The methods a key may be kept for: those that change something. GET,
 * HEAD, OPTIONS and TRACE are safe (the upstream may get them twice),
 * CONNECT is a tunnel. */
static const struct {
	const char *name;
	enum sl_h1_method m;
} kept_methods[] = {{"POST", SL_M_POST},
		    {"PUT", SL_M_PUT},
		    {"PATCH", SL_M_PATCH},
		    {"DELETE", SL_M_DELETE},
		    {NULL, SL_M_OTHER}};

/* methods: [POST, PATCH] */
static int
read_methods(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_idem_route *c = base;
	const char *s;
	int bad = 0;

	if (sl_yaml_get_seq(ld, "methods", v) == -1)
		return -1;
	if (v->nkids == 0) {
		sl_yaml_err_node(ld, v, "%s: idempotency: \"methods\" is empty",
				 lbl);
		return -1;
	}
	c->methods = 0;
	for (size_t i = 0; i < v->nkids; i++) {
		size_t k;
		if (sl_yaml_get_str(ld, "methods", v->kids[i], &s) == -1) {
			bad = 1;
			continue;
		}
		for (k = 0; kept_methods[k].name != NULL; k++)
			if (strcmp(s, kept_methods[k].name) == 0)
				break;
		if (kept_methods[k].name == NULL) {
			sl_yaml_err_node(ld, v->kids[i],
					 "%s: idempotency: \"methods\": "
					 "expected POST, PUT, PATCH or DELETE, "
					 "got %s",
					 lbl, sl_yaml_qnode(ld, v->kids[i]));
			bad = 1;
			continue;
		}
		c->methods |= 1u << kept_methods[k].m;
	}
	return bad ? -1 : 0;
}

static void
release_set(struct sl_conf_idem_route *c, unsigned from, unsigned to)
{
	for (unsigned s = from; s <= to && s < SL_IDEM_STATUS_MAX; s++)
		c->release[s / 64] |= (uint64_t)1 << (s % 64);
}

/* release: [5xx, 408, 425, 429]: statuses (200..599) and classes
 * ("4xx", "5xx") whose answers are not kept */
static int
read_release(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_idem_route *c = base;
	const char *s;
	int bad = 0;

	if (sl_yaml_get_seq(ld, "release", v) == -1)
		return -1;
	memset(c->release, 0, sizeof(c->release));
	for (size_t i = 0; i < v->nkids; i++) {
		char *end;
		unsigned long n;
		if (sl_yaml_get_str(ld, "release", v->kids[i], &s) == -1) {
			bad = 1;
			continue;
		}
		if (strlen(s) == 3 && s[0] >= '2' && s[0] <= '5' &&
		    strcasecmp(s + 1, "xx") == 0) {
			unsigned cls = (unsigned)(s[0] - '0') * 100;
			release_set(c, cls, cls + 99);
			continue;
		}
		n = strtoul(s, &end, 10);
		if (end == s || *end != '\0' || n < 200 || n > 599) {
			sl_yaml_err_node(
			    ld, v->kids[i],
			    "%s: idempotency: \"release\": "
			    "expected a final status (200..599) "
			    "or a class (\"4xx\", \"5xx\"), got %s",
			    lbl, sl_yaml_qnode(ld, v->kids[i]));
			bad = 1;
			continue;
		}
		release_set(c, (unsigned)n, (unsigned)n);
	}
	return bad ? -1 : 0;
}

/* caller_header: a field name */
static int
read_caller_header(struct sl_yaml_loader *ld, const char *lbl,
		   const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_idem_route *c = base;
	const char *s;

	if (sl_yaml_get_str(ld, "caller_header", v, &s) == -1)
		return -1;
	if (!sl_conf_is_token(s, strlen(s))) {
		sl_yaml_err_node(ld, v,
				 "%s: idempotency: \"caller_header\": %s is "
				 "not a field name",
				 lbl, sl_yaml_qnode(ld, v));
		return -1;
	}
	free(c->caller_header);
	c->caller_header = sl_yaml_strdup(ld, s);
	return 0;
}

static const char *const store_names[] = {"local", "redis", NULL};
static const char *const caller_names[] = {"auto",   "jwt",  "certificate",
					   "header", "none", NULL};
static const char *const fail_names[] = {"closed", "open", NULL};

#define RI(f) SL_CONF_FIELD(struct sl_conf_idem_route, f)
/* The keys of a route's idempotency: (doc/sluice.yaml.5), read in this
 * order. */
const struct sl_conf_keydef sl_conf_route_idem_table[] = {
    {"store", SL_CONF_ENUM, .def = SL_IDEM_STORE_LOCAL, RI(store),
     .names = store_names, .expected = "local or redis"},
    {"methods", SL_CONF_SET, .set = read_methods},
    {"required", SL_CONF_BOOL, .def = 0, RI(required)},
    {"ttl", SL_CONF_DURATION, 1000, 30 * CONF_DAY_MS, CONF_DAY_MS, RI(ttl_ms)},
    {"caller", SL_CONF_ENUM, .def = SL_IDEM_CALLER_AUTO, RI(caller),
     .names = caller_names,
     .expected = "auto, jwt, certificate, header or none"},
    {"caller_header", SL_CONF_SET, .set = read_caller_header},
    {"max_request_bytes", SL_CONF_SIZE, 0, 16 * 1024 * 1024, 64 * 1024,
     RI(max_request_bytes)},
    {"max_response_bytes", SL_CONF_SIZE, 0, 16 * 1024 * 1024, 64 * 1024,
     RI(max_response_bytes)},
    {"release", SL_CONF_SET, .set = read_release},
    {"fail", SL_CONF_ENUM, .def = SL_IDEM_FAIL_CLOSED, RI(fail),
     .names = fail_names, .expected = "closed or open"},
    {"wait", SL_CONF_DURATION, 0, 60000, 0, RI(wait_ms)},
    {.name = NULL},
};
#undef RI

void
sl_conf_parse_route_idem(struct sl_yaml_loader *ld, const char *lbl,
			 const struct sl_yaml_node *map,
			 struct sl_conf_route *r, struct sl_conf *conf)
{
	struct sl_conf_idem_route *c;
	const struct sl_yaml_node *got[SL_CONF_TABLE_MAX], *v;
	int b;

	/* idempotency: true is the defaults; false is none */
	if (map->type != SL_YAML_NODE_MAP) {
		if (sl_conf_get_bool(ld, "idempotency", map, &b) == -1 || !b)
			return;
	} else
		sl_conf_check_keys(ld, map, SL_CONF_SEC_ROUTE_IDEM);
	if ((c = r->idem = calloc(1, sizeof(*c))) == NULL) {
		ld->oom = 1;
		return;
	}
	c->line = map->line;
	c->col = map->col;
	c->mrb_line = map->line;
	c->mrb_col = map->col;
	sl_conf_table_defaults(sl_conf_route_idem_table, c);
	/* by default: the methods that create and change, and the answers
	 * a retry may well change (RFC 9110's retryable ones, the 5xx) */
	c->methods = (1u << SL_M_POST) | (1u << SL_M_PATCH);
	release_set(c, 500, 599);
	release_set(c, 408, 408);
	release_set(c, 425, 425);
	release_set(c, 429, 429);
	if (map->type != SL_YAML_NODE_MAP)
		return;
	sl_conf_table_read(ld, lbl, map, sl_conf_route_idem_table, c, got);
	if ((v = sl_conf_table_got(sl_conf_route_idem_table, got,
				   "max_request_bytes")) != NULL) {
		c->mrb_line = v->line;
		c->mrb_col = v->col;
	}
	if (c->caller == SL_IDEM_CALLER_HEADER && c->caller_header == NULL)
		sl_yaml_err_node(
		    ld,
		    sl_conf_table_got(sl_conf_route_idem_table, got,
				      "caller") != NULL
			? sl_conf_table_got(sl_conf_route_idem_table, got,
					    "caller")
			: map,
		    "%s: idempotency: \"caller: header\" needs "
		    "\"caller_header\" (the field that names the "
		    "caller)",
		    lbl);
	if (c->caller != SL_IDEM_CALLER_HEADER && c->caller_header != NULL)
		sl_yaml_err_node(ld,
				 sl_conf_table_got(sl_conf_route_idem_table,
						   got, "caller_header"),
				 "%s: idempotency: \"caller_header\" needs "
				 "\"caller: header\"",
				 lbl);
	if (c->store == SL_IDEM_STORE_REDIS) {
		const struct sl_yaml_node *at =
		    sl_conf_table_got(sl_conf_route_idem_table, got, "store");
		conf->idem.nredis++;
		if (!conf->rl_store.set)
			sl_yaml_err_node(ld, at,
					 "%s: idempotency: \"store: redis\" "
					 "needs the top-level "
					 "\"rate_limit_store\" (the Redis it "
					 "uses)",
					 lbl);
		if (conf->idem.key_file.path == NULL)
			sl_yaml_err_node(ld, at,
					 "%s: idempotency: \"store: redis\" "
					 "needs the top-level "
					 "\"idempotency.key_file\" (answers "
					 "are sealed in Redis)",
					 lbl);
	}
	if (c->caller == SL_IDEM_CALLER_JWT &&
	    (r->auth == NULL || r->auth->jwt == NULL))
		sl_yaml_err_node(
		    ld,
		    sl_conf_table_got(sl_conf_route_idem_table, got, "caller"),
		    "%s: idempotency: \"caller: jwt\" needs the "
		    "route's \"auth.jwt\"",
		    lbl);
}

void
sl_conf_settle_idem(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	for (size_t i = 0; i < conf->nlisteners; i++) {
		const struct sl_conf_listener *l = &conf->listeners[i];
		/* the body waits whole, for its fingerprint, in the client's
		 * buffer (at most the larger of the two): a longer limit
		 * would be a promise the route cannot keep, its requests
		 * refused 413 in its name */
		uint64_t room = sl_conf_limits_room(&l->limits);
		for (size_t j = 0; j < l->nroutes; j++) {
			const struct sl_conf_route *r = &l->routes[j];
			const struct sl_conf_idem_route *c = r->idem;
			if (c == NULL || c->max_request_bytes <= room)
				continue;
			sl_yaml_err_at(
			    ld, c->mrb_line, c->mrb_col,
			    "route \"%s\": idempotency: max_request_bytes "
			    "(%llu bytes) is more than listener \"%s\"'s "
			    "buffer_bytes (%llu): the body waits whole, "
			    "beside the request's head, in that buffer; raise "
			    "both together",
			    r->name, (unsigned long long)c->max_request_bytes,
			    l->name, (unsigned long long)room);
		}
	}
}

void
sl_conf_free_route_idem(struct sl_conf_idem_route *c)
{
	if (c == NULL)
		return;
	free(c->caller_header);
	free(c);
}
