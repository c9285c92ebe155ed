/* SPDX-License-Identifier: MIT */
/*
 * idempotency: at the top level (the local store's bound) and a route's
 * idempotency: (which requests' Idempotency-Key is kept, whose key it is,
 * what of an answer is kept and for how long) (doc/operations.md,
 * "Idempotent payments").
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_idem.h"
#include "conf_int.h"
#include "h1_parse.h"
#include "idem.h"
#include "util.h"

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

static const struct sl_conf_keydef top_table[] = {
    {"memory", SL_CONF_SIZE, 1024 * 1024, (uint64_t)1 << 40, 64 * 1024 * 1024,
     TOP(memory)},
    {"key_file", SL_CONF_SET, .set = read_key_file},
    {"previous_key_files", SL_CONF_SET, .set = read_old_key_files},
    {.name = NULL},
};
#undef TOP

static void
top_parse(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	  void **slot, struct sl_conf *conf)
{
	const struct sl_yaml_node *v;
	struct sl_conf_idem *c;

	(void)conf;
	if ((c = *slot = calloc(1, sizeof(*c))) == NULL) {
		ld->oom = 1;
		return;
	}
	sl_conf_table_defaults(top_table, c);
	if (map == NULL || sl_yaml_get_map(ld, "idempotency", map) == -1)
		return;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_idem.top_sec_id);
	sl_conf_table_read(ld, NULL, map, top_table, c, NULL);
	if (c->nold > 0 && c->key_file.path == NULL &&
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
static const struct sl_conf_keydef route_table[] = {
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

static void
route_parse(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, void **slot,
	    const struct sl_conf_route *r, struct sl_conf *conf)
{
	const struct sl_conf_idem *top = sl_idem_conf(conf);
	struct sl_conf_idem_route *c;
	const struct sl_yaml_node *got[SL_CONF_TABLE_MAX], *v;
	int b;

	/* idempotency: true is the defaults; false is none */
	if (map->type != SL_YAML_NODE_MAP) {
		if (sl_conf_get_bool(ld, "idempotency", map, &b) == -1 || !b)
			return;
	} else
		sl_conf_check_keys(
		    ld, map, (enum sl_conf_section)sl_module_idem.route_sec_id);
	if ((c = *slot = calloc(1, sizeof(*c))) == NULL) {
		ld->oom = 1;
		return;
	}
	c->line = map->line;
	c->col = map->col;
	c->mrb_line = map->line;
	c->mrb_col = map->col;
	sl_conf_table_defaults(route_table, c);
	/* by default: the methods that create and change, and the answers
	 * a retry may well change (RFC 9110's retryable ones, the 5xx) */
	c->methods = (1u << SL_M_POST) | (1u << SL_M_PATCH);
	release_set(c, 500, 599);
	release_set(c, 408, 408);
	release_set(c, 425, 425);
	release_set(c, 429, 429);
	if (map->type != SL_YAML_NODE_MAP)
		return;
	sl_conf_table_read(ld, lbl, map, route_table, c, got);
	if ((v = sl_conf_table_got(route_table, got, "max_request_bytes")) !=
	    NULL) {
		c->mrb_line = v->line;
		c->mrb_col = v->col;
	}
	if (c->caller == SL_IDEM_CALLER_HEADER && c->caller_header == NULL)
		sl_yaml_err_node(
		    ld,
		    sl_conf_table_got(route_table, got, "caller") != NULL
			? sl_conf_table_got(route_table, got, "caller")
			: map,
		    "%s: idempotency: \"caller: header\" needs "
		    "\"caller_header\" (the field that names the "
		    "caller)",
		    lbl);
	if (c->caller != SL_IDEM_CALLER_HEADER && c->caller_header != NULL)
		sl_yaml_err_node(
		    ld, sl_conf_table_got(route_table, got, "caller_header"),
		    "%s: idempotency: \"caller_header\" needs "
		    "\"caller: header\"",
		    lbl);
	if (c->store == SL_IDEM_STORE_REDIS) {
		const struct sl_yaml_node *at =
		    sl_conf_table_got(route_table, got, "store");
		if (conf->fleet_store == NULL)
			sl_yaml_err_node(ld, at,
					 "%s: idempotency: \"store: redis\" "
					 "needs the top-level "
					 "\"rate_limit_store\" (the Redis it "
					 "uses)",
					 lbl);
		if (top == NULL || top->key_file.path == NULL)
			sl_yaml_err_node(ld, at,
					 "%s: idempotency: \"store: redis\" "
					 "needs the top-level "
					 "\"idempotency.key_file\" (answers "
					 "are sealed in Redis)",
					 lbl);
	}
	if (c->caller == SL_IDEM_CALLER_TOKEN && !r->caller)
		sl_yaml_err_node(ld,
				 sl_conf_table_got(route_table, got, "caller"),
				 "%s: idempotency: \"caller: jwt\" needs the "
				 "route's \"auth.jwt\"",
				 lbl);
}

static void
settle(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	for (size_t i = 0; i < conf->nlisteners; i++) {
		struct sl_conf_listener *l = &conf->listeners[i];
		/* the body waits whole, for its fingerprint, in the client's
		 * buffer (at most the larger of the two): a longer limit
		 * would be a promise the route cannot keep, its requests
		 * refused 413 in its name */
		uint64_t room = sl_conf_limits_room(&l->limits);
		for (size_t j = 0; j < l->nroutes; j++) {
			const struct sl_conf_route *r = &l->routes[j];
			const struct sl_conf_idem_route *c = sl_idem_route(r);
			if (c == NULL)
				continue;
			/* a key belongs to the client certificate's subject
			 * (caller: certificate, or auto without a token):
			 * without it one client would get another's answers */
			if (c->caller == SL_IDEM_CALLER_AUTO ||
			    c->caller == SL_IDEM_CALLER_CERT)
				l->wants_subject = 1;
			if (c->max_request_bytes <= room)
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

static void
route_free(void *slot)
{
	struct sl_conf_idem_route *c = slot;

	free(c->caller_header);
	free(c);
}

static void
top_free(void *slot)
{
	struct sl_conf_idem *c = slot;

	free(c->key_file.path);
	for (size_t k = 0; k < c->nold; k++)
		free(c->old_files[k].path);
	OPENSSL_cleanse(c->key, sizeof(c->key));
	OPENSSL_cleanse(c->old_keys, sizeof(c->old_keys));
	free(c);
}

/* ---- the keys that seal kept answers (sl_conf_load_secrets) ---------- */

static int
hexval(unsigned char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/*
 * The key that seals kept answers (idempotency.key_file): 32 bytes as
 * they are, or as 64 hexadecimal digits (a line end after them allowed).
 * The same for each of previous_key_files (what names the key, in its
 * messages). Returns 0 with out set, or -1 with the reason in *errors.
 */
int
sl_conf_read_seal_key(struct sl_conf *conf, const struct sl_conf_file *f,
		      const char *what, unsigned char out[SL_IDEM_SEAL_KEY],
		      char **errors, char **warnings)
{
	unsigned char buf[SL_IDEM_SEAL_KEY * 2 + 3];
	ssize_t got = sl_conf_secret_read(conf, f, what, buf, sizeof(buf),
					  errors, warnings);
	size_t len;
	int r = -1;

	if (got < 0)
		return -1;
	len = (size_t)got;
	if (len == SL_IDEM_SEAL_KEY) {
		memcpy(out, buf, SL_IDEM_SEAL_KEY);
		r = 0;
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 2 * SL_IDEM_SEAL_KEY) {
		r = 0;
		for (size_t i = 0; i < SL_IDEM_SEAL_KEY && r == 0; i++) {
			int hi = hexval(buf[2 * i]),
			    lo = hexval(buf[2 * i + 1]);
			if (hi < 0 || lo < 0)
				r = -1;
			else
				out[i] = (unsigned char)(hi << 4 | lo);
		}
		if (r == 0)
			goto out;
	}
	sl_conf_msg(errors, conf, "error", &f->pos,
		    "\"%s\": \"%s\" holds no key: 32 bytes, or 64 "
		    "hexadecimal digits (openssl rand -hex 32)",
		    what, f->path);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

/* A sealing key's name in kept values (id): the first bytes of
 * SHA-256(key, 0, "key id", 0). Returns 0, or -1 (said, at f). */
static int
seal_key_id(struct sl_conf *conf, const unsigned char key[SL_IDEM_SEAL_KEY],
	    unsigned char id[4], const struct sl_conf_file *f, const char *what,
	    char **errors)
{
	unsigned char in[SL_IDEM_SEAL_KEY + 8], md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok;

	memcpy(in, key, SL_IDEM_SEAL_KEY);
	memcpy(in + SL_IDEM_SEAL_KEY, "\0key id\0", 8);
	ok = EVP_Digest(in, sizeof(in), md, &n, EVP_sha256(), NULL) == 1 &&
	     n >= 4;
	OPENSSL_cleanse(in, sizeof(in));
	if (!ok) {
		sl_conf_msg(errors, conf, "error", &f->pos,
			    "\"%s\": cannot name the key (SHA-256 failed)",
			    what);
		return -1;
	}
	memcpy(id, md, 4);
	return 0;
}

static void
secrets(struct sl_conf *conf, char **errors, char **warn)
{
	struct sl_conf_idem *ci = sl_conf_mod(conf, &sl_module_idem);

	if (ci == NULL)
		return;
	if (ci->key_file.path != NULL && !ci->has_key)
		ci->has_key =
		    sl_conf_read_seal_key(conf, &ci->key_file, "key_file",
					  ci->key, errors, warn) == 0 &&
		    seal_key_id(conf, ci->key, ci->key_id, &ci->key_file,
				"key_file", errors) == 0;
	if (ci->nold > 0 && !ci->has_old) {
		ci->has_old = 1;
		for (size_t i = 0; i < ci->nold; i++)
			if (sl_conf_read_seal_key(
				conf, &ci->old_files[i], "previous_key_files",
				ci->old_keys[i], errors, warn) != 0 ||
			    seal_key_id(conf, ci->old_keys[i], ci->old_ids[i],
					&ci->old_files[i], "previous_key_files",
					errors) != 0)
				ci->has_old = 0;
	}
}

/* The keys oc read from the same files, for nc (a reload). */
static int
share(struct sl_conf *nc, const struct sl_conf *oc)
{
	struct sl_conf_idem *n = sl_conf_mod(nc, &sl_module_idem);
	const struct sl_conf_idem *o = sl_conf_mod(oc, &sl_module_idem);

	if (n == NULL || o == NULL)
		return 0;
	if (o->has_key && !n->has_key && n->key_file.path != NULL &&
	    o->key_file.path != NULL &&
	    strcmp(n->key_file.path, o->key_file.path) == 0) {
		memcpy(n->key, o->key, SL_IDEM_SEAL_KEY);
		memcpy(n->key_id, o->key_id, sizeof(n->key_id));
		n->has_key = 1;
	}
	if (o->has_old && !n->has_old && n->nold == o->nold) {
		size_t i;
		for (i = 0; i < n->nold; i++)
			if (strcmp(n->old_files[i].path,
				   o->old_files[i].path) != 0)
				break;
		if (i == n->nold) {
			memcpy(n->old_keys, o->old_keys, sizeof(n->old_keys));
			memcpy(n->old_ids, o->old_ids, sizeof(n->old_ids));
			n->has_old = 1;
		}
	}
	return 0;
}

/* ---- /config -------------------------------------------------------- */

/* Whether status s is in c's release list (none past the table). */
static int
released(const struct sl_conf_idem_route *c, unsigned s)
{
	return s < SL_IDEM_STATUS_MAX && ((c->release[s / 64] >> (s % 64)) & 1);
}

static void
route_print(const struct sl_jout *o, const void *slot)
{
	static const char *const callers[] = {"auto", "jwt", "certificate",
					      "header", "none"};
	static const char *const methods[] = {"POST", "PUT", "PATCH", "DELETE"};
	static const enum sl_h1_method mids[] = {SL_M_POST, SL_M_PUT,
						 SL_M_PATCH, SL_M_DELETE};
	const struct sl_conf_idem_route *c = slot;
	int first = 1;

	if (c == NULL) {
		o->printf(o->ctx, ",\"idempotency\":null");
		return;
	}
	o->printf(o->ctx, ",\"idempotency\":{\"store\":\"%s\",\"methods\":[",
		  c->store == SL_IDEM_STORE_REDIS ? "redis" : "local");
	for (size_t i = 0; i < 4; i++)
		if (c->methods & (1u << mids[i])) {
			o->printf(o->ctx, "%s\"%s\"", first ? "" : ",",
				  methods[i]);
			first = 0;
		}
	o->printf(o->ctx, "],\"required\":%s,\"ttl_ms\":%llu,\"caller\":\"%s\"",
		  c->required ? "true" : "false", (unsigned long long)c->ttl_ms,
		  callers[c->caller % 5]);
	o->printf(o->ctx, ",\"caller_header\":");
	o->str(o->ctx, c->caller_header);
	o->printf(o->ctx,
		  ",\"max_request_bytes\":%llu,\"max_response_bytes\":%llu,"
		  "\"release\":[",
		  (unsigned long long)c->max_request_bytes,
		  (unsigned long long)c->max_response_bytes);
	first = 1;
	/* as the file says it: a whole class is "5xx", not 100 statuses */
	for (unsigned s = 200; s < SL_IDEM_STATUS_MAX; s++) {
		unsigned k = 0;
		while (s % 100 == 0 && k < 100 && released(c, s + k))
			k++;
		if (k == 100) {
			o->printf(o->ctx, "%s\"%uxx\"", first ? "" : ",",
				  s / 100);
			s += 99;
		} else if (released(c, s))
			o->printf(o->ctx, "%s%u", first ? "" : ",", s);
		else
			continue;
		first = 0;
	}
	o->printf(o->ctx, "],\"fail\":\"%s\",\"wait_ms\":%llu}",
		  c->fail == SL_IDEM_FAIL_OPEN ? "open" : "closed",
		  (unsigned long long)c->wait_ms);
}

/* The top level's: the store's bound and the key files' names (never a
 * key). */
static void
top_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_idem *c = slot;

	if (c == NULL) {
		o->printf(o->ctx, ",\"idempotency\":null");
		return;
	}
	o->printf(o->ctx, ",\"idempotency\":{\"memory\":%llu,\"key_file\":",
		  (unsigned long long)c->memory);
	o->str(o->ctx, c->key_file.path);
	o->printf(o->ctx, ",\"previous_key_files\":[");
	for (size_t i = 0; i < c->nold; i++) {
		o->printf(o->ctx, "%s", i ? "," : "");
		o->str(o->ctx, c->old_files[i].path);
	}
	o->printf(o->ctx, "]}");
}

/* ---- the module ----------------------------------------------------- */

const char *
sl_idem_out_str(int res)
{
	static const char *const names[SL_IDEM_NOUT] = {
	    [SL_IDEM_O_RESERVED] = "reserved",
	    [SL_IDEM_O_REPLAYED] = "replayed",
	    [SL_IDEM_O_CONFLICT] = "conflict",
	    [SL_IDEM_O_MISMATCH] = "mismatch",
	    [SL_IDEM_O_MISSING] = "missing",
	    [SL_IDEM_O_INVALID] = "invalid",
	    [SL_IDEM_O_TOO_LARGE] = "too_large",
	    [SL_IDEM_O_UNAVAILABLE] = "unavailable",
	    [SL_IDEM_O_UNPROTECTED] = "unprotected",
	};

	return res > 0 && res <= SL_IDEM_NOUT ? names[res - 1] : NULL;
}

static const struct sl_conf_section_def top_sec = {
    SL_CONF_SEC_TOP,
    NULL,
    top_table,
    "in idempotency",
    "under \"idempotency\"",
    "under the top-level \"idempotency\"",
    NULL};
static const struct sl_conf_section_def route_sec = {
    SL_CONF_SEC_ROUTE,
    NULL,
    route_table,
    "in idempotency",
    "under \"idempotency\"",
    "under a route's \"idempotency\"",
    NULL};

static uint64_t
local_entries(void)
{
	uint64_t e, b, x;

	sl_idem_local_stats(&e, &b, &x);
	return e;
}

static uint64_t
local_bytes(void)
{
	uint64_t e, b, x;

	sl_idem_local_stats(&e, &b, &x);
	return b;
}

static uint64_t
local_evicted(void)
{
	uint64_t e, b, x;

	sl_idem_local_stats(&e, &b, &x);
	return x;
}

/* the local store holds keys of routes a reload took away */
static int
alive(void)
{
	return local_entries() != 0;
}

#define W(f) (uint16_t)(offsetof(struct sl_idem_counts, f) / sizeof(uint64_t))
static const char *const out_names[SL_IDEM_NOUT] = {
    "reserved", "replayed",  "conflict",    "mismatch",	  "missing",
    "invalid",	"too_large", "unavailable", "unprotected"};
static const char *const rel_names[SL_IDEM_NREL] = {"status", "too_large",
						    "failed", "memory"};
static const struct sl_mfamily families[] = {
    {.name = "sluice_idempotency_requests_total",
     .help = "Requests with an Idempotency-Key a route keeps (or lacking one "
	     "it requires), by what the store did.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(out),
     .n = SL_IDEM_NOUT,
     .label = "outcome",
     .values = out_names},
    {.name = "sluice_idempotency_released_total",
     .help = "Keys let go without their answer kept, by reason.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(rel),
     .n = SL_IDEM_NREL,
     .label = "reason",
     .values = rel_names},
    {.name = "sluice_idempotency_stored_total",
     .help = "Answers kept for their key.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(stored),
     .n = 1},
    {.name = "sluice_idempotency_store_errors_total",
     .help = "Commands to the fleet store (Redis) that failed or were not "
	     "answered in time.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(store_err),
     .n = 1},
    {.name = "sluice_idempotency_entries",
     .help = "Keys the local store holds now, in flight and done.",
     .kind = SL_MFAM_GAUGE,
     .scope = SL_MFAM_PROCESS,
     .n = 1,
     .read = local_entries},
    {.name = "sluice_idempotency_bytes",
     .help =
	 "Bytes the local store holds now, counted against idempotency.memory.",
     .kind = SL_MFAM_GAUGE,
     .scope = SL_MFAM_PROCESS,
     .n = 1,
     .read = local_bytes},
    {.name = "sluice_idempotency_evicted_total",
     .help = "Kept answers pushed out of the local store for room before their "
	     "ttl ended (a retry of one goes upstream again: "
	     "idempotency.memory is too small).",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_PROCESS,
     .n = 1,
     .read = local_evicted},
};

/* the status page: answers replayed, and 409s and 422s (conflict and
 * mismatch are neighbours) */
static const struct sl_mstatus status[] = {
    {.name = "idempotency_replayed",
     .num_off = W(out) + SL_IDEM_O_REPLAYED,
     .num_n = 1},
    {.name = "idempotency_conflicts",
     .num_off = W(out) + SL_IDEM_O_CONFLICT,
     .num_n = 2},
};
_Static_assert(SL_IDEM_O_MISMATCH == SL_IDEM_O_CONFLICT + 1,
	       "idempotency_conflicts sums two neighbours");
#undef W

struct sl_module sl_module_idem = {
    .name = "idempotency",
    .key = "idempotency",
    .top_parse = top_parse,
    .top_free = top_free,
    .route_parse = route_parse,
    .route_free = route_free,
    .settle = settle,
    .secrets = secrets,
    .share = share,
    .alive = alive,
    .process_free = sl_idem_local_free,
    .top_print = top_print,
    .route_print = route_print,
    .top_sec = &top_sec,
    .route_sec = &route_sec,
    .route_words = sizeof(struct sl_idem_counts) / sizeof(uint64_t),
    .families = families,
    .nfamilies = SL_NELEM(families),
    .status = status,
    .nstatus = SL_NELEM(status),
};
