/* SPDX-License-Identifier: MIT */
/*
 * waf: at the top level (the workers' WAF threads, the WAF log) and a
 * route's waf: (its rules, mode, body limit, deadline), with the rule sets
 * loaded here, once per distinct list of files and exclusions
 * (doc/operations.md, "A WAF for PCI DSS 6.4.2").
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "waf.h"

#define WAF(f) SL_CONF_FIELD(struct sl_conf_waf, f)

/* log: "access", "off", "stdout", "stderr" or an absolute path */
static int
read_log(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_waf *w = base;
	const char *s;

	(void)lbl;
	if (sl_yaml_get_str(ld, "log", v, &s) == -1)
		return -1;
	if (strcmp(s, "access") != 0 && strcmp(s, "off") != 0 &&
	    strcmp(s, "stdout") != 0 && strcmp(s, "stderr") != 0 &&
	    s[0] != '/') {
		sl_yaml_err_node(ld, v,
				 "\"log\": expected access, off, stdout, "
				 "stderr or an absolute path, got %s",
				 sl_yaml_qnode(ld, v));
		return -1;
	}
	free(w->log);
	w->log = sl_yaml_strdup(ld, s);
	w->log_pos.line = v->line;
	w->log_pos.col = v->col;
	return 0;
}

static const char *const client_key_names[] = {"address", "caller", NULL};
static const char *const priority_names[] = {"idle", "low", NULL};

/* The keys of the top-level waf: (doc/sluice.yaml.5), read in this
 * order. */
const struct sl_conf_keydef sl_conf_waf_table[] = {
    {"threads", SL_CONF_UINT, 1, 64, 2, WAF(threads)},
    {"queue", SL_CONF_UINT, 1, 100000, 128, WAF(queue)},
    {"client_budget", SL_CONF_DURATION, 0, 64000, 1000, WAF(client_budget_ms)},
    {"client_burst", SL_CONF_DURATION, 1, 3600000, 10000, WAF(client_burst_ms)},
    {"client_key", SL_CONF_ENUM, .def = SL_WAF_KEY_ADDRESS, WAF(client_key),
     .names = client_key_names, .expected = "address or caller"},
    {"priority", SL_CONF_ENUM, .def = SL_WAF_PRIO_IDLE, WAF(priority),
     .names = priority_names, .expected = "idle or low"},
    {"guard", SL_CONF_DURATION, 10, 10000, 50, WAF(guard_ms)},
    {"log", SL_CONF_SET, .set = read_log},
    {.name = NULL},
};
#undef WAF

void
sl_conf_parse_waf(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		  struct sl_conf *conf)
{
	if (sl_yaml_get_map(ld, "waf", map) == -1)
		return;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_WAF);
	sl_conf_table_read(ld, NULL, map, sl_conf_waf_table, &conf->waf, NULL);
}

/* ---- a route's waf: ---------------------------------------------------- */

/* One of the names (NULL-terminated) for v: its index, or -1 reported. */
static int
one_of(struct sl_yaml_loader *ld, const char *lbl, const char *key,
       const struct sl_yaml_node *v, const char *const *names,
       const char *expected)
{
	const char *s;

	if (sl_yaml_get_str(ld, key, v, &s) == -1)
		return -1;
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	sl_yaml_err_node(ld, v, "%s: waf: \"%s\": expected %s, got %s", lbl,
			 key, expected, sl_yaml_qnode(ld, v));
	return -1;
}

/* The files one rules item names (a glob pattern, or a path), appended. */
static void
add_files(struct sl_yaml_loader *ld, const char *lbl,
	  const struct sl_yaml_node *v, struct sl_conf_waf_route *w)
{
	const char *s;
	glob_t g;
	int r;

	if (sl_yaml_get_str(ld, "rules", v, &s) == -1)
		return;
	if (s[0] != '/') {
		sl_yaml_err_node(ld, v,
				 "%s: waf: \"rules\": %s is not an absolute "
				 "path",
				 lbl, sl_yaml_qnode(ld, v));
		return;
	}
	r = glob(s, 0, NULL, &g);
	if (r != 0) {
		sl_yaml_err_node(ld, v, "%s: waf: \"rules\": %s: %s", lbl,
				 sl_yaml_qnode(ld, v),
				 r == GLOB_NOMATCH ? "no such file"
						   : "cannot be read");
		if (r != GLOB_NOMATCH)
			globfree(&g);
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char **f = realloc(w->files, (w->nfiles + 1) * sizeof(*f));
		if (f == NULL) {
			ld->oom = 1;
			break;
		}
		w->files = f;
		w->files[w->nfiles++] = sl_yaml_strdup(ld, g.gl_pathv[i]);
	}
	globfree(&g);
}

/* A rule's variable as an exclusion names it: "ARGS:json.note",
 * "REQUEST_HEADERS:User-Agent", "REQUEST_COOKIES"; nothing that could end
 * the directive it goes into. */
static int
target_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 128)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("_.:-/", *s) != NULL))
			return 0;
	return 1;
}

/* Appends a printf'd directive line to w->after. */
static void
after_add(struct sl_yaml_loader *ld, struct sl_conf_waf_route *w,
	  const char *line)
{
	size_t o = w->after != NULL ? strlen(w->after) : 0;
	char *a = realloc(w->after, o + strlen(line) + 1);

	if (a == NULL) {
		ld->oom = 1;
		return;
	}
	memcpy(a + o, line, strlen(line) + 1);
	w->after = a;
}

/* Whether id is one of sluice's own rules (waf.h), reported: removing
 * one would let a body no processor read past the rules. */
static int
own_rule(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *v, uint64_t id)
{
	if (id < SL_WAF_RULE_FIRST || id > SL_WAF_RULE_LAST)
		return 0;
	sl_yaml_err_node(ld, v,
			 "%s: waf: \"exclude\": %llu is one of sluice's own "
			 "rules (%d..%d), which cannot be excluded",
			 lbl, (unsigned long long)id, SL_WAF_RULE_FIRST,
			 SL_WAF_RULE_LAST);
	return 1;
}

/* exclude: rule ids (the rule removed from the route's set), or
 * { rule, field } (one field no longer looked at by that rule). */
static void
read_exclude(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *seq, struct sl_conf_waf_route *w)
{
	char line[256];
	uint64_t id;

	if (sl_yaml_get_seq(ld, "exclude", seq) == -1)
		return;
	for (size_t i = 0; i < seq->nkids; i++) {
		const struct sl_yaml_node *e = seq->kids[i], *v;
		const char *f;
		if (e->type != SL_YAML_NODE_MAP) {
			if (sl_yaml_get_uint(ld, "exclude", e, 1, 99999999,
					     &id) == 0 &&
			    !own_rule(ld, lbl, e, id)) {
				snprintf(line, sizeof(line),
					 "SecRuleRemoveById %llu\n",
					 (unsigned long long)id);
				after_add(ld, w, line);
			}
			continue;
		}
		sl_conf_check_keys(ld, e, SL_CONF_SEC_ROUTE_WAF_EXCLUDE);
		if ((v = sl_yaml_map_get(e, "rule", NULL)) == NULL) {
			sl_yaml_err_lacks(ld, e,
					  "%s: waf: an \"exclude\" item needs "
					  "\"rule\"",
					  lbl);
			continue;
		}
		if (sl_yaml_get_uint(ld, "rule", v, 1, 99999999, &id) == -1 ||
		    own_rule(ld, lbl, v, id))
			continue;
		if ((v = sl_yaml_map_get(e, "field", NULL)) == NULL) {
			snprintf(line, sizeof(line), "SecRuleRemoveById %llu\n",
				 (unsigned long long)id);
			after_add(ld, w, line);
			continue;
		}
		if (sl_yaml_get_str(ld, "field", v, &f) == -1)
			continue;
		if (!target_ok(f)) {
			sl_yaml_err_node(ld, v,
					 "%s: waf: \"field\": %s is not a "
					 "variable as \"ARGS:json.note\" or "
					 "\"REQUEST_HEADERS:User-Agent\"",
					 lbl, sl_yaml_qnode(ld, v));
			continue;
		}
		snprintf(line, sizeof(line),
			 "SecRuleUpdateTargetById %llu \"!%s\"\n",
			 (unsigned long long)id, f);
		after_add(ld, w, line);
	}
}

/* waf: limits: what a request may give the rules to read, checked on
 * the loop before it costs a thread; 0 turns one off. */
static void
read_limits(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	    struct sl_conf_waf_route *w)
{
	const struct sl_yaml_node *v;
	uint64_t u;

	if (sl_yaml_get_map(ld, "limits", map) == -1)
		return;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_ROUTE_WAF_LIMITS);
	if ((v = sl_yaml_map_get(map, "cookies", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "cookies", v, 0, 1000000, &u) == 0)
		w->limits.cookies = (uint32_t)u;
	if ((v = sl_yaml_map_get(map, "args", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "args", v, 0, 1000000, &u) == 0)
		w->limits.args = (uint32_t)u;
	if ((v = sl_yaml_map_get(map, "json_depth", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "json_depth", v, 0, 100000, &u) == 0)
		w->limits.json_depth = (uint32_t)u;
	if ((v = sl_yaml_map_get(map, "args_bytes", NULL)) != NULL &&
	    sl_yaml_get_size(ld, "args_bytes", v, 0, 1024 * 1024 * 1024, &u) ==
		0)
		w->limits.args_bytes = u;
}

/* untyped_body: the type a body sent without a Content-Type is parsed
 * as; one the rules' processors take (waf.c), or octet-stream (raw).
 * Absent: such a body is refused (415). */
static void
read_untyped(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *v, struct sl_conf_waf_route *w)
{
	const char *s;
	int u;

	if (sl_yaml_get_str(ld, "untyped_body", v, &s) == -1)
		return;
	if ((u = sl_waf_untyped_parse(s, strlen(s))) < 0) {
		sl_yaml_err_node(ld, v,
				 "%s: waf: \"untyped_body\": expected "
				 "application/json, application/xml, "
				 "application/x-www-form-urlencoded or "
				 "application/octet-stream (the types the WAF "
				 "parses, or raw), got %s",
				 lbl, sl_yaml_qnode(ld, v));
		return;
	}
	w->untyped = (uint8_t)u;
}

void
sl_conf_parse_route_waf(struct sl_yaml_loader *ld, const char *lbl,
			const struct sl_yaml_node *map, struct sl_conf_route *r)
{
	static const char *const modes[] = {"block", "detect", NULL};
	static const char *const overs[] = {"reject", "partial", NULL};
	static const char *const fails[] = {"deny", "allow", NULL};
	const struct sl_yaml_node *v;
	struct sl_conf_waf_route *w;
	uint64_t u;
	int i;

	if (sl_yaml_get_map(ld, "waf", map) == -1)
		return;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_ROUTE_WAF);
	if ((w = r->waf = calloc(1, sizeof(*w))) == NULL) {
		ld->oom = 1;
		return;
	}
	w->body_limit = 32 * 1024;
	w->timeout_ms = 1000;
	w->failure_status = 503;
	/* what no legitimate request reaches and a costly one does
	 * (doc/operations.md section 15.7: the CRS ships its own
	 * tx.max_num_args and tx.total_arg_length off; its example, 255
	 * arguments, would refuse an order of 150 lines); the bytes are
	 * bounded by body_limit and max_uri_bytes already */
	w->limits = (struct sl_waf_limits){
	    .cookies = 100, .args = 1000, .json_depth = 32, .args_bytes = 0};
	w->line = map->line;
	w->col = map->col;
	if ((v = sl_yaml_map_get(map, "rules", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map,
				  "%s: waf: missing key \"rules\" (the rule "
				  "files: the Core Rule Set's, yours)",
				  lbl);
	else {
		w->line = v->line;
		w->col = v->col;
		if (v->type == SL_YAML_NODE_SEQ) {
			for (size_t k = 0; k < v->nkids; k++)
				add_files(ld, lbl, v->kids[k], w);
			if (v->nkids == 0)
				sl_yaml_err_node(
				    ld, v, "%s: waf: \"rules\" is empty", lbl);
		} else
			add_files(ld, lbl, v, w);
	}
	if ((v = sl_yaml_map_get(map, "mode", NULL)) != NULL &&
	    (i = one_of(ld, lbl, "mode", v, modes, "block or detect")) >= 0)
		w->mode = (uint8_t)i;
	if ((v = sl_yaml_map_get(map, "body_limit", NULL)) != NULL &&
	    sl_yaml_get_size(ld, "body_limit", v, 0, 64 * 1024 * 1024, &u) == 0)
		w->body_limit = (uint32_t)u;
	if ((v = sl_yaml_map_get(map, "on_body_limit", NULL)) != NULL &&
	    (i = one_of(ld, lbl, "on_body_limit", v, overs,
			"reject or partial")) >= 0)
		w->over = (uint8_t)i;
	if ((v = sl_yaml_map_get(map, "timeout", NULL)) != NULL &&
	    sl_yaml_get_duration(ld, "timeout", v, 10, 60000, &u) == 0)
		w->timeout_ms = (uint32_t)u;
	if ((v = sl_yaml_map_get(map, "on_failure", NULL)) != NULL &&
	    (i = one_of(ld, lbl, "on_failure", v, fails, "deny or allow")) >= 0)
		w->on_failure = (uint8_t)i;
	if ((v = sl_yaml_map_get(map, "failure_status", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "failure_status", v, 0, 999, &u) == 0) {
		if (u != 503 && u != 403)
			sl_yaml_err_node(ld, v,
					 "%s: waf: \"failure_status\": 503 "
					 "or 403",
					 lbl);
		else
			w->failure_status = (int)u;
	}
	if ((v = sl_yaml_map_get(map, "audit", NULL)) != NULL &&
	    sl_conf_get_bool(ld, "audit", v, &i) == 0)
		w->audit = (uint8_t)i;
	if ((v = sl_yaml_map_get(map, "untyped_body", NULL)) != NULL)
		read_untyped(ld, lbl, v, w);
	if ((v = sl_yaml_map_get(map, "exclude", NULL)) != NULL)
		read_exclude(ld, lbl, v, w);
	if ((v = sl_yaml_map_get(map, "limits", NULL)) != NULL)
		read_limits(ld, v, w);
}

void
sl_conf_free_route_waf(struct sl_conf_waf_route *w)
{
	if (w == NULL)
		return;
	sl_waf_rules_unref(w->rules);
	for (size_t i = 0; i < w->nfiles; i++)
		free(w->files[i]);
	free(w->files);
	free(w->after);
	free(w->key);
	free(w);
}

/* The set's identity: its files and exclusions, each NUL-ended (a file
 * name holds no NUL, the exclusions' text no NUL either), then what it
 * does with a body without a type (one byte); its length in w->keylen,
 * compared whole. */
static char *
set_key(struct sl_conf_waf_route *w)
{
	const char *after = w->after != NULL ? w->after : "";
	size_t n = strlen(after) + 2, o = 0;
	char *k;

	for (size_t i = 0; i < w->nfiles; i++)
		n += strlen(w->files[i]) + 1;
	if ((k = malloc(n)) == NULL)
		return NULL;
	for (size_t i = 0; i < w->nfiles; i++) {
		size_t l = strlen(w->files[i]) + 1;
		memcpy(k + o, w->files[i], l);
		o += l;
	}
	memcpy(k + o, after, strlen(after) + 1);
	/* 1 + the enum: never a NUL */
	k[n - 1] = (char)(1 + w->untyped);
	w->keylen = n;
	return k;
}

void
sl_conf_settle_waf(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	char err[512];

	if (conf->waf.log == NULL)
		conf->waf.log = sl_yaml_strdup(ld, "access");
	for (size_t i = 0; i < conf->nlisteners; i++) {
		struct sl_conf_listener *l = &conf->listeners[i];
		for (size_t j = 0; j < l->nroutes; j++) {
			struct sl_conf_route *r = &l->routes[j];
			struct sl_conf_waf_route *w = r->waf;
			uint64_t room;
			if (w == NULL)
				continue;
			conf->nwaf_routes++;
			/* the head waits in the client's buffer with the
			 * body inspected: both must fit, or a legitimate
			 * request with a large head would be cut */
			room = sl_conf_limits_room(&l->limits);
			if ((uint64_t)w->body_limit +
				l->limits.max_header_bytes >
			    room)
				sl_yaml_err_at(
				    ld, w->line, w->col,
				    "route \"%s\": waf: body_limit (%u bytes) "
				    "and listener \"%s\"'s max_header_bytes "
				    "(%llu) are more than its buffer_bytes "
				    "(%llu): the head and the body inspected "
				    "wait in that buffer together",
				    r->name, w->body_limit, l->name,
				    (unsigned long long)
					l->limits.max_header_bytes,
				    (unsigned long long)room);
			if (w->nfiles == 0 || ld->nerrs > 0 || ld->oom)
				continue; /* no set loaded for a bad file */
			if ((w->key = set_key(w)) == NULL) {
				ld->oom = 1;
				return;
			}
			/* the same files and exclusions: the same set */
			for (size_t pi = 0; pi <= i && w->rules == NULL; pi++) {
				struct sl_conf_listener *pl =
				    &conf->listeners[pi];
				size_t pn = pi == i ? j : pl->nroutes;
				for (size_t pj = 0; pj < pn; pj++) {
					struct sl_conf_waf_route *o =
					    pl->routes[pj].waf;
					if (o != NULL && o->rules != NULL &&
					    o->keylen == w->keylen &&
					    memcmp(o->key, w->key, w->keylen) ==
						0) {
						sl_waf_rules_ref(o->rules);
						w->rules = o->rules;
						break;
					}
				}
			}
			if (w->rules != NULL)
				continue;
			w->rules = sl_waf_rules_load_as(
			    (const char *const *)w->files, w->nfiles, w->after,
			    (enum sl_waf_untyped)w->untyped, err, sizeof(err));
			if (w->rules == NULL)
				sl_yaml_err_at(ld, w->line, w->col,
					       "route \"%s\": waf: %s", r->name,
					       err);
		}
	}
}
