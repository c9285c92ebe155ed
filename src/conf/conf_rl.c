/* SPDX-License-Identifier: MIT */
/*
 * Rate limits as a module (core/module.h; doc/edge.md section 6): a
 * route's rate_limit: list, in its route slot (edge/ratelimit_conf.h's
 * struct sl_rl_route), and the top-level rate_limit_store: (the fleet's
 * Redis, which the idempotency store's redis shares: core/conf_types.h's
 * struct sl_conf_fleet_store), in its top-level slot, its password read
 * with the secrets and never printed; their checks, /config text and
 * free. Reads the node tree and nothing else; the module table
 * (conf_mods.c) names only its descriptor.
 */
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "conf_rl.h"
#include "conf_yaml.h"
#include "ratelimit_conf.h"
#include "ratelimit_state.h" /* struct sl_rlcounts, sl_rl_state_bind */
#include "util.h"

/* rate_limit_store's timeout when the file does not say (ms). */
#define DEF_RL_TIMEOUT_MS 50

/* ---- a route's rate_limit: ---------------------------------------------- */

#define CONF_RL_MAX	   8	     /* limits per route */
#define CONF_RL_MAX_RATE   1000000   /* requests per unit */
#define CONF_RL_MAX_BURST  1000000   /* requests at once */
#define CONF_RL_MAX_KEYS   (1 << 24) /* max_keys */
#define DEF_RL_LOCAL_KEYS  65536
#define DEF_RL_FLEET_KEYS  4096
#define CONF_RL_MAX_PREFIX 64
#define CONF_RL_MAX_USER   128 /* bytes of a Redis ACL user name */
#define CONF_RL_SPAN_US	   ((uint64_t)1 << 40) /* burst x interval */

static const char *const rl_scope_names[] = {"local", "fleet", NULL};
static const char *const rl_error_names[] = {"allow", "deny", NULL};

/* "10/s", "100/m", "1000/h" into rate and unit. Returns 0 or -1
 * (reported). */
static int
parse_rl_rate(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
	      struct sl_conf_rate_limit *rl)
{
	const char *s;
	uint64_t v;
	enum sl_yaml_num r;

	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	s = n->str;
	if (!sl_yaml_is_string(n) ||
	    (r = sl_yaml_parse_digits(&s, &v)) == SL_YAML_NUM_BAD ||
	    s[0] != '/' || (s[1] != 's' && s[1] != 'm' && s[1] != 'h') ||
	    s[2] != '\0') {
		sl_yaml_err_node(
		    ld, n,
		    "\"rate\": expected N/s, N/m or N/h (requests "
		    "per second, minute or hour), not \"%s\"",
		    n->type == SL_YAML_NODE_SCALAR ? sl_yaml_qnode(ld, n) : "");
		return -1;
	}
	if (r != SL_YAML_NUM_OK || v == 0 || v > CONF_RL_MAX_RATE) {
		sl_yaml_err_node(ld, n,
				 "\"rate\": %s is out of range (1 to %d "
				 "requests per unit)",
				 sl_yaml_qnode(ld, n), CONF_RL_MAX_RATE);
		return -1;
	}
	rl->rate = v;
	rl->unit_s = s[1] == 's' ? 1 : s[1] == 'm' ? 60 : 3600;
	return 0;
}

/* "client_ip", "header:NAME", "cookie:NAME" or "route" (one bucket). */
static int
parse_rl_key(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
	     struct sl_conf_key *k)
{
	const char *s;

	if (sl_yaml_get_str(ld, "key", n, &s) == -1)
		return -1;
	if (strcmp(s, "route") == 0) {
		k->source = SL_KEY_NONE;
		return 0;
	}
	if (strcmp(s, "client_ip") != 0 && strncmp(s, "header:", 7) != 0 &&
	    strncmp(s, "cookie:", 7) != 0) {
		sl_yaml_err_node(ld, n,
				 "\"key\": expected client_ip, header:NAME, "
				 "cookie:NAME or route, not \"%s\"",
				 sl_yaml_qnode(ld, n));
		return -1;
	}
	return sl_conf_parse_key(ld, "key", n, k);
}

/* One item of rate_limit:. */
static void
parse_rate_limit(struct sl_yaml_loader *ld, const char *lbl,
		 const struct sl_yaml_node *map, struct sl_conf_rate_limit *rl)
{
	const struct sl_yaml_node *v, *burstn, *errk;
	char rlbl[2 * SL_YAML_LABEL_MAX];
	int e, rate_ok = 0, scope_ok = 0;

	rl->scope = SL_RL_SCOPE_LOCAL;
	if (map->type != SL_YAML_NODE_MAP) {
		if (map->type != SL_YAML_NODE_BAD)
			sl_yaml_err_node(ld, map,
					 "%s: each \"rate_limit\" item is a "
					 "mapping with \"name\", \"key\" and "
					 "\"rate\"",
					 lbl);
		return;
	}
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_rl.route_sec_id);
	if ((v = sl_yaml_map_get(map, "name", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map,
				  "%s: rate_limit: missing key \"name\"", lbl);
	else
		sl_yaml_get_name(ld, v, &rl->name);
	snprintf(rlbl, sizeof(rlbl), "%s: rate_limit \"%s\"", lbl,
		 rl->name != NULL ? rl->name : "?");
	if ((v = sl_yaml_map_get(map, "key", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map, "%s: missing key \"key\"", rlbl);
	else
		parse_rl_key(ld, v, &rl->key);
	if ((v = sl_yaml_map_get(map, "rate", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map, "%s: missing key \"rate\"", rlbl);
	else
		rate_ok = parse_rl_rate(ld, v, rl) == 0;
	rl->burst = rl->rate;
	if ((burstn = sl_yaml_map_get(map, "burst", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "burst", burstn, 1, CONF_RL_MAX_BURST,
			     &rl->burst) == -1)
		burstn = NULL;
	/* the TATs of a key must stay within 48 bits of microseconds */
	if (rate_ok &&
	    rl->burst * ((rl->unit_s * 1000000 + rl->rate - 1) / rl->rate) >
		CONF_RL_SPAN_US)
		sl_yaml_err_node(ld, burstn != NULL ? burstn : map,
				 "%s: \"burst\" (%llu) at %llu/%s spans more "
				 "than 12 days; lower the burst",
				 rlbl, (unsigned long long)rl->burst,
				 (unsigned long long)rl->rate,
				 rl->unit_s == 1    ? "s"
				 : rl->unit_s == 60 ? "m"
						    : "h");
	if ((v = sl_yaml_map_get(map, "scope", NULL)) != NULL &&
	    (e = sl_yaml_get_enum(ld, "scope", v, rl_scope_names,
				  "local or fleet")) >= 0) {
		rl->scope = (enum sl_conf_rl_scope)e;
		rl->scope_pos.line = v->line;
		rl->scope_pos.col = v->col;
		scope_ok = 1;
	}
	rl->max_keys = rl->scope == SL_RL_SCOPE_FLEET ? DEF_RL_FLEET_KEYS
						      : DEF_RL_LOCAL_KEYS;
	if ((v = sl_yaml_map_get(map, "max_keys", NULL)) != NULL)
		sl_yaml_get_uint(ld, "max_keys", v, 1, CONF_RL_MAX_KEYS,
				 &rl->max_keys);
	if ((v = sl_yaml_map_get(map, "on_store_error", &errk)) != NULL) {
		if ((e = sl_yaml_get_enum(ld, "on_store_error", v,
					  rl_error_names, "allow or deny")) >=
		    0)
			rl->store_error_deny = e == 1;
		/* a wrong scope may have meant fleet; one not read yet
		 * may be fleet */
		if (rl->scope != SL_RL_SCOPE_FLEET &&
		    (scope_ok || (sl_yaml_map_get(map, "scope", NULL) == NULL &&
				  sl_yaml_whole(ld, map))))
			sl_yaml_err_node(ld, errk,
					 "%s: \"on_store_error\" needs "
					 "\"scope: fleet\"",
					 rlbl);
	}
}

/* rate_limit: a list of limits, each name once. */
static void
parse_rate_limits(struct sl_yaml_loader *ld, const char *lbl,
		  const struct sl_yaml_node *seq, struct sl_rl_route *r)
{
	if (sl_yaml_get_seq(ld, "rate_limit", seq) == -1)
		return;
	if (seq->nkids == 0) {
		sl_yaml_err_lacks(ld, seq,
				  "%s: \"rate_limit\" must not be empty", lbl);
		return;
	}
	if (seq->nkids > CONF_RL_MAX) {
		sl_yaml_err_node(ld, seq->kids[CONF_RL_MAX],
				 "%s: more than %d rate limits", lbl,
				 CONF_RL_MAX);
		return;
	}
	if ((r->rate_limits = calloc(seq->nkids, sizeof(*r->rate_limits))) ==
	    NULL) {
		ld->oom = 1;
		return;
	}
	r->nrate_limits = seq->nkids;
	for (size_t i = 0; i < seq->nkids; i++) {
		struct sl_conf_rate_limit *rl = &r->rate_limits[i];
		parse_rate_limit(ld, lbl, seq->kids[i], rl);
		for (size_t j = 0; rl->name != NULL && j < i; j++)
			if (r->rate_limits[j].name != NULL &&
			    strcmp(r->rate_limits[j].name, rl->name) == 0) {
				sl_yaml_err_node(
				    ld,
				    sl_yaml_map_get(seq->kids[i], "name", NULL),
				    "%s: duplicate rate_limit name "
				    "\"%s\"",
				    lbl, sl_yaml_qstr(ld, rl->name));
				break;
			}
	}
}

static void
route_free(void *slot)
{
	struct sl_rl_route *r = slot;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nrate_limits; i++) {
		free(r->rate_limits[i].name);
		free(r->rate_limits[i].key.name);
	}
	free(r->rate_limits);
	free(r);
}

/* ---- the top-level rate_limit_store: ------------------------------------- */

/* The top-level slot: the store, and whether its key is written. */
struct rl_top {
	struct sl_conf_fleet_store store; /* first: the generation's
					     fleet_store points at it */
	int written; /* rate_limit_store: is in the file (right or not) */
};

/* A string of 1 to max printable ASCII characters without spaces. */
static int
printable_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

/* rate_limit_store's AUTH: username, password_file. The file is only
 * named here; sl_conf_load_secrets (conf_secret.c) reads it. */
static void
parse_rl_store_auth(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		    struct sl_conf_fleet_store *st)
{
	const struct sl_yaml_node *v, *userk, *user;
	const char *s;

	if ((v = sl_yaml_map_get(map, "password_file", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "password_file", v, &s) == 0) {
		if (s[0] == '\0')
			sl_yaml_err_node(
			    ld, v, "\"password_file\": must not be empty");
		else {
			st->password_file.pos.line = v->line;
			st->password_file.pos.col = v->col;
			st->password_file.path = sl_yaml_strdup(ld, s);
		}
	}
	if ((user = sl_yaml_map_get(map, "username", &userk)) == NULL ||
	    sl_yaml_get_str(ld, "username", user, &s) == -1)
		return;
	if (!printable_word(s, CONF_RL_MAX_USER)) {
		sl_yaml_err_node(ld, user,
				 "\"username\": \"%s\" must be 1 to %d "
				 "printable characters without spaces",
				 sl_yaml_qnode(ld, user), CONF_RL_MAX_USER);
		return;
	}
	/* a user without a password would be AUTH with nothing: Redis
	 * has no such form (not said when the key may be in a part of the
	 * file not read) */
	if (v == NULL) {
		if (sl_yaml_whole(ld, map))
			sl_yaml_err_node(
			    ld, userk,
			    "rate_limit_store: \"username\" needs "
			    "\"password_file\" (Redis authenticates a "
			    "user by its password)");
	} else
		st->username = sl_yaml_strdup(ld, s);
}

/* rate_limit_store: { address, timeout, prefix, username, password_file }
 */
static void
parse_rl_store(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	       struct sl_conf_fleet_store *st)
{
	const struct sl_yaml_node *v;
	const char *s;

	if (sl_yaml_get_map(ld, "rate_limit_store", map) == -1)
		return;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_rl.top_sec_id);
	if ((v = sl_yaml_map_get(map, "address", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map,
				  "rate_limit_store: missing key \"address\"");
	else if (sl_yaml_get_addr(ld, "address", v, &st->addr) == 0)
		st->set = 1;
	if ((v = sl_yaml_map_get(map, "timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "timeout", v, 1, 10000,
				     &st->timeout_ms);
	if ((v = sl_yaml_map_get(map, "prefix", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "prefix", v, &s) == 0) {
		int ok = strlen(s) <= CONF_RL_MAX_PREFIX;
		for (size_t i = 0; ok && s[i] != '\0'; i++)
			ok = s[i] > 0x20 && s[i] < 0x7f;
		if (!ok)
			sl_yaml_err_node(
			    ld, v,
			    "\"prefix\": \"%s\" must be at most %d "
			    "printable characters without spaces",
			    sl_yaml_qnode(ld, v), CONF_RL_MAX_PREFIX);
		else {
			free(st->prefix);
			st->prefix = sl_yaml_strdup(ld, s);
		}
	}
	parse_rl_store_auth(ld, map, st);
}

/* A fleet limit needs the store; said where its scope is written. */
static void
settle(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	const struct rl_top *top = sl_conf_mod(conf, &sl_module_rl);

	/* not when the store is written (wrong or not), nor when it may
	 * be in the part not read (the file's top level is not whole when
	 * the YAML stopped) */
	if (top == NULL || top->written || ld->stopped)
		return;
	for (size_t i = 0; i < conf->nlisteners; i++)
		for (size_t j = 0; j < conf->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &conf->listeners[i].routes[j];
			const struct sl_rl_route *rr =
			    sl_route_mod(r, &sl_module_rl);
			for (size_t k = 0; rr != NULL && k < rr->nrate_limits;
			     k++) {
				const struct sl_conf_rate_limit *rl =
				    &rr->rate_limits[k];
				if (rl->scope != SL_RL_SCOPE_FLEET)
					continue;
				sl_yaml_err_at(
				    ld, rl->scope_pos.line, rl->scope_pos.col,
				    "route \"%s\": rate_limit \"%s\": "
				    "\"scope: fleet\" needs "
				    "\"rate_limit_store\" at the top "
				    "level",
				    r->name ? r->name : "?",
				    rl->name ? rl->name : "?");
			}
		}
}

/* ---- the module's slots -------------------------------------------------- */

/* The top-level rate_limit_store:, or its defaults (v NULL). */
static void
top_parse(struct sl_yaml_loader *ld, const struct sl_yaml_node *v, void **slot,
	  struct sl_conf *conf)
{
	struct rl_top *t;

	if ((t = *slot = calloc(1, sizeof(*t))) == NULL) {
		ld->oom = 1;
		return;
	}
	t->store.prefix = sl_yaml_strdup(ld, "sluice:");
	t->store.timeout_ms = DEF_RL_TIMEOUT_MS;
	if (v != NULL) {
		t->written = 1;
		parse_rl_store(ld, v, &t->store);
	}
	conf->fleet_store = t->store.set ? &t->store : NULL;
}

static void
top_free(void *slot)
{
	struct rl_top *t = slot;

	free(t->store.addr.text);
	free(t->store.prefix);
	free(t->store.username);
	free(t->store.password_file.path);
	if (t->store.password != NULL) {
		OPENSSL_cleanse(t->store.password, strlen(t->store.password));
		free(t->store.password);
	}
	free(t);
}

/* A route's rate_limit: (a list). */
static void
route_parse(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *v, void **slot,
	    const struct sl_conf_route *r, struct sl_conf *conf)
{
	struct sl_rl_route *rr;

	(void)r;
	(void)conf;
	if ((rr = calloc(1, sizeof(*rr))) == NULL) {
		ld->oom = 1;
		return;
	}
	parse_rate_limits(ld, lbl, v, rr);
	if (rr->rate_limits == NULL) {
		route_free(rr);
		return;
	}
	*slot = rr;
}

/* The store's password, read from password_file (doc/edge.md section
 * 6.5). */
static void
secrets(struct sl_conf *conf, char **errors, char **warnings)
{
	struct rl_top *t = sl_conf_mod(conf, &sl_module_rl);

	if (t != NULL && t->store.password_file.path != NULL &&
	    t->store.password == NULL)
		t->store.password = sl_conf_read_password(
		    conf, &t->store.password_file, "password_file", "password",
		    errors, warnings);
}

/* A reload: the password the old generation read. */
static int
share(struct sl_conf *nc, const struct sl_conf *oc)
{
	struct rl_top *n = sl_conf_mod(nc, &sl_module_rl);
	const struct rl_top *o = sl_conf_mod(oc, &sl_module_rl);

	if (n == NULL || o == NULL || o->store.password == NULL ||
	    n->store.password != NULL)
		return 0;
	if ((n->store.password = strdup(o->store.password)) == NULL)
		return -1;
	return 0;
}

/* ---- /config ------------------------------------------------------------- */

/* ,"rate_limit_store":{...} or null: the password file's name and whether
 * a password was read from it, never the password. */
static void
top_print(const struct sl_jout *o, const void *slot)
{
	const struct rl_top *t = slot;

	if (t == NULL || !t->store.set) {
		o->printf(o->ctx, ",\"rate_limit_store\":null");
		return;
	}
	o->printf(o->ctx, ",\"rate_limit_store\":{\"address\":");
	o->str(o->ctx, t->store.addr.text);
	o->printf(o->ctx, ",\"timeout_ms\":%llu,\"prefix\":",
		  (unsigned long long)t->store.timeout_ms);
	o->str(o->ctx, t->store.prefix);
	o->printf(o->ctx, ",\"username\":");
	o->str(o->ctx, t->store.username);
	o->printf(o->ctx, ",\"password_file\":");
	o->str(o->ctx, t->store.password_file.path);
	o->printf(o->ctx, ",\"password_set\":%s}",
		  t->store.password != NULL ? "true" : "false");
}

/* A limit's key as written ("header:x-api-key", the field's name
 * lower-cased as it is matched), or "route". */
static void
print_key(const struct sl_jout *o, const struct sl_conf_key *k)
{
	const char *pre = k->source == SL_KEY_HEADER ? "header:" : "cookie:";
	const char *name = k->name != NULL ? k->name : "";
	char *s;

	if (k->source == SL_KEY_NONE) {
		o->printf(o->ctx, ",\"key\":\"route\"");
		return;
	}
	if (k->source == SL_KEY_CLIENT_IP) {
		o->printf(o->ctx, ",\"key\":\"client_ip\"");
		return;
	}
	o->printf(o->ctx, ",\"key\":");
	if ((s = malloc(strlen(pre) + strlen(name) + 1)) == NULL) {
		o->str(o->ctx, NULL);
		return;
	}
	strcpy(s, pre);
	strcat(s, name);
	o->str(o->ctx, s);
	free(s);
}

/* A route's rate limits, in the file's form ("10/s"), or null. */
static void
route_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_rl_route *r = slot;

	if (r == NULL || r->nrate_limits == 0) {
		o->printf(o->ctx, ",\"rate_limit\":null");
		return;
	}
	o->printf(o->ctx, ",\"rate_limit\":[");
	for (size_t k = 0; k < r->nrate_limits; k++) {
		const struct sl_conf_rate_limit *rl = &r->rate_limits[k];
		o->printf(o->ctx, "%s{\"name\":", k ? "," : "");
		o->str(o->ctx, rl->name);
		print_key(o, &rl->key);
		o->printf(o->ctx, ",\"rate\":\"%llu/%s\",\"burst\":%llu",
			  (unsigned long long)rl->rate,
			  rl->unit_s == 1    ? "s"
			  : rl->unit_s == 60 ? "m"
					     : "h",
			  (unsigned long long)rl->burst);
		o->printf(o->ctx, ",\"scope\":\"%s\",\"max_keys\":%llu",
			  rl->scope == SL_RL_SCOPE_FLEET ? "fleet" : "local",
			  (unsigned long long)rl->max_keys);
		o->printf(o->ctx, ",\"on_store_error\":");
		o->str(o->ctx, rl->scope != SL_RL_SCOPE_FLEET ? NULL
			       : rl->store_error_deny	      ? "deny"
							      : "allow");
		o->printf(o->ctx, "}");
	}
	o->printf(o->ctx, "]");
}

/* ---- the descriptor ------------------------------------------------------ */

static const char *const rate_limit_store_keys[] = {
    "address", "timeout", "prefix", "username", "password_file", NULL,
};
static const char *const rate_limit_keys[] = {
    "name", "key", "rate", "burst", "scope", "max_keys", "on_store_error", NULL,
};

static const struct sl_conf_section_def top_sec = {
    SL_CONF_SEC_TOP,
    rate_limit_store_keys,
    NULL,
    "in rate_limit_store",
    "under \"rate_limit_store\"",
    "under the top-level \"rate_limit_store\"",
    NULL,
};
/* a route's value is a list: its items' keys */
static const struct sl_conf_section_def route_sec = {
    SL_CONF_SEC_ROUTE,
    rate_limit_keys,
    NULL,
    "in rate_limit",
    "in a \"rate_limit\" item",
    "in a \"rate_limit\" item of a route",
    NULL,
};

/* ---- counters: a limit's (its labels' block of each worker, kept by
 * its name across reloads: runtime.c), and the store's connection's in a
 * worker's stats -------------------------------------------------------- */

static size_t
items(const void *slot)
{
	return ((const struct sl_rl_route *)slot)->nrate_limits;
}

static const char *
item_name(const void *slot, size_t k)
{
	return ((const struct sl_rl_route *)slot)->rate_limits[k].name;
}

static const void *
item_counts(const void *slot, size_t k)
{
	const struct sl_conf_rate_limit *rl =
	    &((const struct sl_rl_route *)slot)->rate_limits[k];

	return rl->state != NULL ? rl->state->counts : NULL;
}

/* The store's families: while one is configured. */
static int
store_shown(const struct sl_conf *conf)
{
	return conf->fleet_store != NULL;
}

/* A fleet limit's. */
static int
fleet_item(const void *slot, size_t k)
{
	return ((const struct sl_rl_route *)slot)->rate_limits[k].scope ==
	       SL_RL_SCOPE_FLEET;
}

#define W(f)  (offsetof(struct sl_rlcounts, f) / sizeof(uint64_t))
#define WW(f) (offsetof(struct sl_rl_wcounts, f) / sizeof(uint64_t))
static const char *const store_results[] = {"ok", "error", "timeout"};
static const char *const connect_results[] = {"ok", "failed"};

static const struct sl_mfamily families[] = {
    {.name = "sluice_rate_limited_total",
     .help = "Requests a rate limit refused (429), by route and limit.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ITEM,
     .off = W(limited)},
    {.name = "sluice_rate_limit_admitted_total",
     .help = "Requests a rate limit let through (requests without its key "
	     "are not counted), by route and limit.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ITEM,
     .off = W(admitted)},
    {.name = "sluice_rate_limit_evictions_total",
     .help = "Live keys pushed out of a rate limit's table (max_keys too "
	     "small for the keys in use): each starts over.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ITEM,
     .off = W(evictions)},
    {.name = "sluice_rate_limit_store_allowed_total",
     .help = "Requests a fleet limit let through because its store did not "
	     "answer (on_store_error: allow).",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ITEM,
     .off = W(store_allowed),
     .shown = store_shown,
     .item_shown = fleet_item},
    {.name = "sluice_rate_limit_store_denied_total",
     .help = "Requests a fleet limit answered 503 because its store did not "
	     "answer (on_store_error: deny).",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ITEM,
     .off = W(store_denied),
     .shown = store_shown,
     .item_shown = fleet_item},
    {.name = "sluice_rate_limit_store_requests_total",
     .help = "Lease requests and idempotency scripts to the rate limit "
	     "store, by result.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_WORKERS,
     .off = WW(store),
     .n = 3,
     .label = "result",
     .values = store_results,
     .shown = store_shown},
    {.name = "sluice_rate_limit_store_seconds",
     .help = "Time from a lease request (or an idempotency script) to its "
	     "answer.",
     .kind = SL_MFAM_HISTOGRAM,
     .scope = SL_MFAM_WORKERS,
     .off = WW(store_dur),
     .sum_off = WW(store_dur_sum_ms),
     .div = 1000.0,
     .shown = store_shown},
    {.name = "sluice_rate_limit_store_connects_total",
     .help = "Connections to the rate limit store, by result (failed ones "
	     "are retried after 100 ms, doubling to 5 s).",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_WORKERS,
     .off = WW(store_connects),
     .n = 2,
     .label = "result",
     .values = connect_results,
     .shown = store_shown},
    {.name = "sluice_rate_limit_store_disconnects_total",
     .help = "Connections to the rate limit store lost, or dropped by "
	     "sluice after a command timed out.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_WORKERS,
     .off = WW(store_lost),
     .shown = store_shown},
    {.name = "sluice_rate_limit_store_connected",
     .help = "Workers connected to the rate limit store now.",
     .kind = SL_MFAM_GAUGE,
     .scope = SL_MFAM_WORKERS,
     .off = WW(store_up),
     .shown = store_shown},
};

/* a route's features_1m: its limits' 429s */
static const struct sl_mstatus status[] = {
    {.name = "rate_limited", .num_off = W(limited), .num_n = 1},
};
#undef W
#undef WW

/* The table gave the module its slot: the lower files that read a route's
 * limits (edge/ratelimit_conf.h) find it there. */
static void
placed(const struct sl_module *m)
{
	sl_rl_module = m;
}

/* The limits' state in the runtime's registry, with their route's
 * (edge/ratelimit_state.c). */
static int
route_bind(void *slot, const struct sl_conf_listener *l,
	   struct sl_conf_route *r, unsigned nworkers)
{
	(void)slot;
	(void)nworkers;
	return sl_rl_state_bind(l, r);
}

static void
route_unbind(void *slot, struct sl_conf_route *r)
{
	(void)slot;
	sl_rl_state_unbind(r);
}

struct sl_module sl_module_rl = {
    .name = "rate_limits",
    .key = "rate_limit",
    .top_key = "rate_limit_store",
    .route_bind = route_bind,
    .route_unbind = route_unbind,
    .top_parse = top_parse,
    .top_free = top_free,
    .route_parse = route_parse,
    .route_free = route_free,
    .settle = settle,
    .secrets = secrets,
    .share = share,
    .top_print = top_print,
    .route_print = route_print,
    .top_sec = &top_sec,
    .route_sec = &route_sec,
    .placed = placed,
    .worker_words = sizeof(struct sl_rl_wcounts) / sizeof(uint64_t),
    .families = families,
    .nfamilies = SL_NELEM(families),
    .families_always = 1, /* a limit's HELP and TYPE without limits */
    .status = status,
    .nstatus = SL_NELEM(status),
    .items = items,
    .item_name = item_name,
    .item_counts = item_counts,
    .item_stride = sizeof(struct sl_rlcounts),
    .item_label = "limit",
};
