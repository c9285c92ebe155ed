/* SPDX-License-Identifier: MIT */
/*
 * The WAF's module (conf_waf.h; doc/operations.md, "A WAF for PCI DSS
 * 6.4.2"): waf: at the top level (the workers' WAF threads, the WAF log)
 * and a route's waf: (its rules, mode, body limit, deadline), with the
 * rule sets loaded here, once per distinct list of files and exclusions;
 * its /config text, /metrics families and status field; and its log,
 * opened as the process starts.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "conf_waf.h"
#include "log.h"
#include "util.h"
#include "waf.h"

struct sl_sidelog sl_waf_log = SL_SIDELOG_INIT;

/* its sections inside a route's waf: (secs below) */
#define SEC_EXCLUDE (sl_module_waf.sec_id + 0)
#define SEC_LIMITS  (sl_module_waf.sec_id + 1)

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
static const struct sl_conf_keydef top_table[] = {
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

/* The top-level waf:, or its defaults (map NULL). */
static void
top_parse(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	  void **slot, struct sl_conf *conf)
{
	struct sl_conf_waf *w;

	(void)conf;
	if ((w = *slot = calloc(1, sizeof(*w))) == NULL) {
		ld->oom = 1;
		return;
	}
	sl_conf_table_defaults(top_table, w);
	if (map != NULL && sl_yaml_get_map(ld, "waf", map) == 0) {
		sl_conf_check_keys(
		    ld, map, (enum sl_conf_section)sl_module_waf.top_sec_id);
		sl_conf_table_read(ld, NULL, map, top_table, w, NULL);
	}
	if (w->log == NULL)
		w->log = sl_yaml_strdup(ld, "access");
}

static void
top_free(void *slot)
{
	struct sl_conf_waf *w = slot;

	free(w->log);
	free(w);
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
		sl_conf_check_keys(ld, e, (enum sl_conf_section)SEC_EXCLUDE);
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
	sl_conf_check_keys(ld, map, (enum sl_conf_section)SEC_LIMITS);
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

static void
route_parse(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, void **slot,
	    const struct sl_conf_route *r, struct sl_conf *conf)
{
	static const char *const modes[] = {"block", "detect", NULL};
	static const char *const overs[] = {"reject", "partial", NULL};
	static const char *const fails[] = {"deny", "allow", NULL};
	const struct sl_yaml_node *v;
	struct sl_conf_waf_route *w;
	uint64_t u;
	int i;

	(void)r;
	(void)conf;
	if (sl_yaml_get_map(ld, "waf", map) == -1)
		return;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_waf.route_sec_id);
	if ((w = *slot = calloc(1, sizeof(*w))) == NULL) {
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

static void
route_free(void *slot)
{
	struct sl_conf_waf_route *w = slot;

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

/* The rules of every route with a waf, loaded (one set for the routes
 * that name the same files and exclusions), and its body_limit held to
 * its listener's buffer. */
static void
settle(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	char err[512];

	for (size_t i = 0; i < conf->nlisteners; i++) {
		struct sl_conf_listener *l = &conf->listeners[i];
		for (size_t j = 0; j < l->nroutes; j++) {
			struct sl_conf_route *r = &l->routes[j];
			struct sl_conf_waf_route *w =
			    sl_route_mod(r, &sl_module_waf);
			uint64_t room;
			if (w == NULL)
				continue;
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
					    sl_route_mod(&pl->routes[pj],
							 &sl_module_waf);
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

/* ---- /config ------------------------------------------------------------ */

static void
top_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_waf *w = slot;

	o->printf(o->ctx,
		  ",\"waf\":{\"threads\":%llu,\"queue\":%llu,"
		  "\"client_budget_ms\":%llu,\"client_burst_ms\":%llu,"
		  "\"client_key\":\"%s\",\"priority\":\"%s\",\"guard_ms\":%llu,"
		  "\"log\":",
		  (unsigned long long)w->threads, (unsigned long long)w->queue,
		  (unsigned long long)w->client_budget_ms,
		  (unsigned long long)w->client_burst_ms,
		  w->client_key == SL_WAF_KEY_CALLER ? "caller" : "address",
		  w->priority == SL_WAF_PRIO_LOW ? "low" : "idle",
		  (unsigned long long)w->guard_ms);
	o->str(o->ctx, w->log != NULL ? w->log : "access");
	o->printf(o->ctx, "}");
}

/* A route's waf: its rule files as expanded, its exclusions as the
 * directives they became. */
static void
route_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_waf_route *w = slot;
	const char *p;

	if (w == NULL) {
		o->printf(o->ctx, ",\"waf\":null");
		return;
	}
	o->printf(o->ctx,
		  ",\"waf\":{\"mode\":\"%s\",\"body_limit\":%u,"
		  "\"on_body_limit\":\"%s\",\"timeout_ms\":%u,"
		  "\"on_failure\":\"%s\",\"failure_status\":%d,"
		  "\"audit\":%s",
		  w->mode == SL_WAF_DETECT ? "detect" : "block", w->body_limit,
		  w->over == SL_WAF_OVER_PARTIAL ? "partial" : "reject",
		  w->timeout_ms,
		  w->on_failure == SL_WAF_FAIL_ALLOW ? "allow" : "deny",
		  w->failure_status, w->audit ? "true" : "false");
	if (w->untyped != SL_WAF_UNTYPED_REFUSE)
		o->printf(o->ctx, ",\"untyped_body\":\"%s\"",
			  sl_waf_untyped_name((enum sl_waf_untyped)w->untyped));
	o->printf(o->ctx,
		  ",\"limits\":{\"cookies\":%u,\"args\":%u,\"json_depth\":%u,"
		  "\"args_bytes\":%llu},\"rules\":[",
		  w->limits.cookies, w->limits.args, w->limits.json_depth,
		  (unsigned long long)w->limits.args_bytes);
	for (size_t i = 0; i < w->nfiles; i++) {
		o->printf(o->ctx, "%s", i ? "," : "");
		o->str(o->ctx, w->files[i]);
	}
	o->printf(o->ctx, "],\"exclude\":[");
	for (p = w->after; p != NULL && *p != '\0';) {
		const char *e = strchr(p, '\n');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		if (p != w->after)
			o->printf(o->ctx, ",");
		o->str(o->ctx, line);
		p += n + (e != NULL);
	}
	o->printf(o->ctx, "]}");
}

/* ---- the process: its log, and what a reload cannot change ------------- */

/* the top-level waf: as the process started (its log's copy owned) */
static struct sl_conf_waf started;

static int
start(const struct sl_conf *conf, char *why, size_t whysz)
{
	const struct sl_conf_waf *w = sl_waf_conf(conf);

	if (sl_sidelog_open(&sl_waf_log, w->log) == -1) {
		snprintf(why, whysz, "WAF log %s", w->log);
		return -1;
	}
	started = *w;
	if ((started.log = strdup(w->log)) == NULL) {
		snprintf(why, whysz, "WAF log %s", w->log);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static void
reopen(void)
{
	if (sl_sidelog_reopen(&sl_waf_log) == -1)
		log_warn("SIGUSR1: reopening the WAF log");
}

static void
reload(const struct sl_conf *nc)
{
	const struct sl_conf_waf *w = sl_waf_conf(nc);

	/* a reload comes after the first generation, so after start; a
	 * process that never started (-t) reloads nothing */
	if (started.log == NULL)
		return;
	if (strcmp(w->log, started.log) != 0)
		log_warnx("reload: \"waf.log\" changes need an upgrade "
			  "(SIGUSR2) or a restart; WAF lines still go to %s",
			  started.log);
	if (w->threads != started.threads || w->queue != started.queue ||
	    w->client_budget_ms != started.client_budget_ms ||
	    w->client_burst_ms != started.client_burst_ms ||
	    w->client_key != started.client_key ||
	    w->priority != started.priority || w->guard_ms != started.guard_ms)
		log_warnx(
		    "reload: changes of the top-level \"waf\" keys "
		    "threads, queue, client_budget, client_burst, "
		    "client_key, priority and guard need an upgrade "
		    "(SIGUSR2) or a restart; %llu thread(s) and a queue of "
		    "%llu a worker keep running, as they were",
		    (unsigned long long)started.threads,
		    (unsigned long long)started.queue);
}

/* Its log of its own (a path), opened at start only: a reload keeps the
 * running one (reload says so). */
static int
log_file(const struct sl_conf *conf, struct sl_mfile *f)
{
	const struct sl_conf_waf *w = sl_waf_conf(conf);

	if (w == NULL || w->log == NULL || w->log[0] != '/')
		return 0;
	f->path = w->log;
	f->pos = &w->log_pos;
	f->key = "waf: \"log\"";
	return 1;
}

static void
process_free(void)
{
	free(started.log);
	started.log = NULL;
	free(sl_waf_log.path);
	sl_waf_log.path = NULL;
}

/* ---- the module --------------------------------------------------------- */

static const char *const route_waf_keys[] = {
    "rules",   "mode",	     "body_limit",     "on_body_limit",
    "timeout", "on_failure", "failure_status", "audit",
    "exclude", "limits",     "untyped_body",   NULL};
static const char *const route_waf_limits_keys[] = {
    "cookies", "args", "args_bytes", "json_depth", NULL};
static const char *const route_waf_exclude_keys[] = {"rule", "field", NULL};

static const struct sl_conf_section_def top_sec = {
    SL_CONF_SEC_TOP,
    NULL,
    top_table,
    "in waf",
    "under \"waf\"",
    "under the top-level \"waf\"",
    NULL};
static const struct sl_conf_section_def route_sec = {SL_CONF_SEC_ROUTE,
						     route_waf_keys,
						     NULL,
						     "in waf",
						     "under \"waf\"",
						     "under a route's \"waf\"",
						     NULL};
/* SEC_EXCLUDE, SEC_LIMITS */
static const struct sl_conf_section_def secs[] = {
    {SL_CONF_SEC_MOD_ROUTE, route_waf_exclude_keys, NULL, "in exclude",
     "in an \"exclude\" item", "in a route's \"waf.exclude\" item", NULL},
    {SL_CONF_SEC_MOD_ROUTE, route_waf_limits_keys, NULL, "in waf.limits",
     "under \"limits\"", "under a route's \"waf.limits\"", NULL},
};

static const char *const results[SL_WAF_NRESULTS] = {
    [SL_WAF_R_PASS] = "pass",
    [SL_WAF_R_BLOCKED] = "blocked",
    [SL_WAF_R_DETECTED] = "detected",
    [SL_WAF_R_OVER_LIMIT] = "over_limit",
    [SL_WAF_R_FAIL_DENY] = "failed_denied",
    [SL_WAF_R_FAIL_ALLOW] = "failed_allowed",
    [SL_WAF_R_LIMITED] = "limited",
    [SL_WAF_R_BUDGET] = "budget",
    [SL_WAF_R_SHED] = "shed",
};

#define W(f) ((uint16_t)(offsetof(struct sl_waf_counts, f) / sizeof(uint64_t)))
#define WW(f)                                                                  \
	((uint16_t)(offsetof(struct sl_waf_wcounts, f) / sizeof(uint64_t)))

#define FAM(nm, hp, kd, sc, of)                                                \
	.name = nm, .help = hp, .kind = kd, .scope = sc, .off = of

static const struct sl_mfamily families[] = {
    {FAM("sluice_waf_requests_total",
	 "Requests a route's WAF looked at, by what came of them.",
	 SL_MFAM_COUNTER, SL_MFAM_ROUTE, W(res)),
     .first = 0, .n = SL_WAF_NRESULTS, .label = "result", .values = results},
    {FAM("sluice_waf_inspect_seconds",
	 "The rules' time on a WAF thread, a request.", SL_MFAM_HISTOGRAM,
	 SL_MFAM_ROUTE, W(dur)),
     .sum_off = W(dur_sum_us), .div = 1e6},
    {FAM("sluice_waf_queue_waits_total",
	 "Requests that found every WAF thread of their worker busy.",
	 SL_MFAM_COUNTER, SL_MFAM_ROUTE, W(waits))},
    {FAM("sluice_waf_queue_wait_seconds_total",
	 "Time requests waited for a WAF thread.", SL_MFAM_SECONDS,
	 SL_MFAM_ROUTE, W(wait_sum_us)),
     .div = 1e6},
    {FAM("sluice_waf_cpu_seconds_total",
	 "The WAF threads' CPU time on a route's requests.", SL_MFAM_SECONDS,
	 SL_MFAM_ROUTE, W(cpu_sum_us)),
     .div = 1e6},
    /* the workers' threads: running a request's rules now, and made (as
     * the running settings say: threads takes effect at a restart or an
     * upgrade, so the generation's value may not be theirs) */
    {FAM("sluice_waf_threads_busy",
	 "WAF threads running a request's rules now, all workers.",
	 SL_MFAM_GAUGE, SL_MFAM_WORKERS, WW(busy))},
    {FAM("sluice_waf_queued",
	 "Requests waiting for a WAF thread now, all workers.", SL_MFAM_GAUGE,
	 SL_MFAM_WORKERS, WW(queued))},
    {FAM("sluice_waf_threads_idle_class",
	 "Workers whose WAF threads run in the idle class (waf.priority: "
	 "idle, and the process may raise them).",
	 SL_MFAM_GAUGE, SL_MFAM_WORKERS, WW(idle))},
    {FAM("sluice_waf_threads_raised_total",
	 "Times the guard raised a worker's idle WAF threads back to their "
	 "class (an inspection kept from the CPU past waf.guard).",
	 SL_MFAM_COUNTER, SL_MFAM_WORKERS, WW(raises))},
};
#undef FAM

static const struct sl_mstatus status[] = {
    {.name = "waf_blocked", .num_off = W(res) + SL_WAF_R_BLOCKED, .num_n = 1},
};

struct sl_module sl_module_waf = {
    .name = "waf",
    .key = "waf",
    .top_parse = top_parse,
    .top_free = top_free,
    .route_parse = route_parse,
    .route_free = route_free,
    .settle = settle,
    .top_print = top_print,
    .route_print = route_print,
    .top_sec = &top_sec,
    .route_sec = &route_sec,
    .secs = secs,
    .nsecs = SL_NELEM(secs),
    .version = sl_waf_version,
    .start = start,
    .reopen = reopen,
    .reload = reload,
    .log_file = log_file,
    .process_free = process_free,
    .route_words = sizeof(struct sl_waf_counts) / sizeof(uint64_t),
    .worker_words = sizeof(struct sl_waf_wcounts) / sizeof(uint64_t),
    .families = families,
    .nfamilies = SL_NELEM(families),
    .status = status,
    .nstatus = SL_NELEM(status),
};
