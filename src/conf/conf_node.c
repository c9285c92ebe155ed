/* SPDX-License-Identifier: MIT */
/*
 * The generic layer of the configuration loader, second half: reading the
 * node tree conf_yaml.c builds (lookups, key checks, "did you mean") and
 * typed getters for scalars (integers, durations, sizes, addresses,
 * names, enums), each reporting its error at the node. Knows no sluice
 * key; does no I/O, no DNS and no logging.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf_yaml.h"

#define CONF_MAX_NAME 64 /* bytes of a name */

struct unit {
	const char *name;
	uint64_t mult;
};

static const struct unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {NULL, 0},
};

static const struct unit size_units[] = {
    {"B", 1},  {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024},
    {NULL, 0},
};

/* ---- tree access ------------------------------------------------------- */

int
sl_yaml_is_null(const struct sl_yaml_node *n)
{
	if (n->type != SL_YAML_NODE_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->str, "~") == 0 ||
	       strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	       strcmp(n->str, "NULL") == 0;
}

/* A non-null scalar without NUL bytes: usable as a C string. */
int
sl_yaml_is_string(const struct sl_yaml_node *n)
{
	return n->type == SL_YAML_NODE_SCALAR && !sl_yaml_is_null(n) &&
	       strlen(n->str) == n->len;
}

static int
key_is(const struct sl_yaml_node *k, const char *key)
{
	return k->type == SL_YAML_NODE_SCALAR && strlen(key) == k->len &&
	       memcmp(k->str, key, k->len) == 0;
}

/* The value of key in map (first occurrence), its key node in *keyp. */
const struct sl_yaml_node *
sl_yaml_map_get(const struct sl_yaml_node *map, const char *key,
		const struct sl_yaml_node **keyp)
{
	size_t i;

	for (i = 0; i + 1 < map->nkids; i += 2) {
		if (key_is(map->kids[i], key)) {
			if (keyp != NULL)
				*keyp = map->kids[i];
			return map->kids[i + 1];
		}
	}
	return NULL;
}

/* Of two nodes, the one written later in the file. */
const struct sl_yaml_node *
sl_yaml_later(const struct sl_yaml_node *a, const struct sl_yaml_node *b)
{
	if (a->line != b->line)
		return a->line > b->line ? a : b;
	return a->col > b->col ? a : b;
}

/* Damerau-Levenshtein (optimal string alignment) distance of a and b. */
unsigned
sl_yaml_distance(const char *a, const char *b)
{
	/* Rows i - 2, i - 1 and i of the edit matrix, by i % 3. */
	unsigned d[3][CONF_MAX_NAME + 1], *cur, *up, *up2, v;
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > CONF_MAX_NAME || lb > CONF_MAX_NAME)
		return UINT_MAX;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		cur = d[i % 3];
		up = d[(i - 1) % 3];
		up2 = d[(i + 1) % 3];
		cur[0] = (unsigned)i;
		for (j = 1; j <= lb; j++) {
			v = up[j - 1] + (a[i - 1] != b[j - 1]);
			if (up[j] + 1 < v)
				v = up[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && up2[j - 2] + 1 < v)
				v = up2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

/* Keeps in *best the closest name that word is a likely misspelling of. */
void
sl_yaml_suggest(const char *word, const char *name, const char **best,
		unsigned *bestd)
{
	size_t len = strlen(name);
	unsigned d = sl_yaml_distance(word, name);

	if (d <= (len < 6 ? 1u : 2u) && d < len &&
	    (*best == NULL || d < *bestd)) {
		*best = name;
		*bestd = d;
	}
}

/* Reports unknown and duplicate keys; where is "in listener" etc. */
void
sl_yaml_check_keys(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		   const char *const *allowed, const char *where,
		   void (*hint)(const void *ctx, const char *key, char *buf,
				size_t sz),
		   const void *ctx)
{
	const struct sl_yaml_node *k;
	char mean[2 * SL_YAML_LABEL_MAX];
	const char *best;
	unsigned bestd = 0;
	size_t i, j;
	int ok;

	for (i = 0; i + 1 < map->nkids; i += 2) {
		k = map->kids[i];
		if (k->type == SL_YAML_NODE_BAD)
			continue;
		if (k->type != SL_YAML_NODE_SCALAR) {
			sl_yaml_err_node(ld, k, "keys must be strings %s",
					 where);
			continue;
		}
		ok = 0;
		for (j = 0; allowed[j] != NULL; j++)
			if (key_is(k, allowed[j]))
				ok = 1;
		if (!ok) {
			best = NULL;
			for (j = 0; allowed[j] != NULL; j++)
				if (sl_yaml_is_string(k))
					sl_yaml_suggest(k->str, allowed[j],
							&best, &bestd);
			mean[0] = '\0';
			if (best != NULL)
				snprintf(mean, sizeof(mean),
					 " (did you mean \"%s\"?)", best);
			else if (hint != NULL && sl_yaml_is_string(k))
				hint(ctx, k->str, mean, sizeof(mean));
			sl_yaml_err_node(ld, k, "unknown key \"%s\" %s%s",
					 sl_yaml_qnode(ld, k), where, mean);
			continue;
		}
		for (j = 0; j < i; j += 2) {
			if (key_is(map->kids[j], k->str)) {
				sl_yaml_err_node(
				    ld, k,
				    "duplicate key \"%s\" %s (first at "
				    "%u:%u)",
				    sl_yaml_qnode(ld, k), where,
				    map->kids[j]->line, map->kids[j]->col);
				break;
			}
		}
	}
}

char *
sl_yaml_strdup(struct sl_yaml_loader *ld, const char *s)
{
	size_t len = strlen(s) + 1;
	char *d;

	if ((d = malloc(len)) == NULL) {
		ld->oom = 1;
		return NULL;
	}
	return memcpy(d, s, len);
}

/* ---- scalar parsers ---------------------------------------------------- */

enum sl_yaml_num
sl_yaml_parse_digits(const char **sp, uint64_t *v)
{
	const char *s = *sp;
	int overflow = 0;

	*v = 0;
	if (*s < '0' || *s > '9')
		return SL_YAML_NUM_BAD;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (*v > (UINT64_MAX - d) / 10)
			overflow = 1;
		else
			*v = *v * 10 + d;
	}
	*sp = s;
	return overflow ? SL_YAML_NUM_OVERFLOW : SL_YAML_NUM_OK;
}

static enum sl_yaml_num
parse_units(const char *s, const struct unit *units, uint64_t *out)
{
	enum sl_yaml_num r;
	uint64_t v;
	size_t i;

	if (s == NULL)
		return SL_YAML_NUM_BAD;
	r = sl_yaml_parse_digits(&s, &v);
	if (r == SL_YAML_NUM_BAD)
		return SL_YAML_NUM_BAD;
	if (*s == '\0')
		return r == SL_YAML_NUM_OK ? SL_YAML_NUM_BARE
					   : SL_YAML_NUM_OVERFLOW;
	for (i = 0; units[i].name != NULL; i++) {
		if (strcmp(s, units[i].name) != 0)
			continue;
		if (r == SL_YAML_NUM_OVERFLOW || v > UINT64_MAX / units[i].mult)
			return SL_YAML_NUM_OVERFLOW;
		*out = v * units[i].mult;
		return SL_YAML_NUM_OK;
	}
	return SL_YAML_NUM_BAD;
}

int
sl_conf_parse_duration(const char *text, uint64_t *ms)
{
	return parse_units(text, duration_units, ms) == SL_YAML_NUM_OK ? 0 : -1;
}

int
sl_conf_parse_size(const char *text, uint64_t *bytes)
{
	return parse_units(text, size_units, bytes) == SL_YAML_NUM_OK ? 0 : -1;
}

/* Formats v with the largest unit that divides it: 65536 -> "64KiB". */
static const char *
fmt_units(char *buf, size_t sz, uint64_t v, const struct unit *units)
{
	size_t i, best = 0;

	for (i = 0; units[i].name != NULL; i++)
		if (v != 0 && v % units[i].mult == 0)
			best = i;
	snprintf(buf, sz, "%llu%s", (unsigned long long)(v / units[best].mult),
		 units[best].name);
	return buf;
}

const char *
sl_yaml_fmt_size(char *buf, size_t sz, uint64_t bytes)
{
	return fmt_units(buf, sz, bytes, size_units);
}

/*
 * The workhorse of sl_conf_parse_addr; *why says what is wrong.
 */
static int
parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *sslen,
	   const char **why)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	const char *host, *end, *port;
	char buf[64];
	uint64_t p;
	size_t hlen;
	int v6 = 0;

	memset(ss, 0, sizeof(*ss));
	*why = "expected HOST:PORT or [IPV6]:PORT";
	if (text == NULL)
		return -1;
	if (text[0] == '[') {
		host = text + 1;
		if ((end = strchr(host, ']')) == NULL) {
			*why = "missing \"]\" after the IPv6 address";
			return -1;
		}
		if (end[1] != ':') {
			*why = "missing \":PORT\"";
			return -1;
		}
		port = end + 2;
		v6 = 1;
	} else {
		if ((end = strrchr(text, ':')) == NULL) {
			*why = "missing \":PORT\"";
			return -1;
		}
		host = text;
		if (memchr(text, ':', (size_t)(end - text)) != NULL) {
			*why = "write IPv6 addresses as [ADDRESS]:PORT";
			return -1;
		}
		port = end + 1;
	}
	hlen = (size_t)(end - host);
	if (hlen == 0) {
		*why = "missing host";
		return -1;
	}
	if (sl_yaml_parse_digits(&port, &p) != SL_YAML_NUM_OK ||
	    *port != '\0' || p < 1 || p > 65535) {
		*why = "the port must be a number from 1 to 65535";
		return -1;
	}
	if (hlen >= sizeof(buf)) {
		*why = v6 ? "invalid IPv6 address"
			  : "the host must be a numeric IP address or "
			    "localhost (no DNS)";
		return -1;
	}
	memcpy(buf, host, hlen);
	buf[hlen] = '\0';
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1) {
			*why = "invalid IPv6 address";
			return -1;
		}
		*sslen = sizeof(*sin6);
		return 0;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)p);
	if (strcasecmp(buf, "localhost") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1) {
		*why = "the host must be a numeric IP address or localhost "
		       "(no DNS)";
		return -1;
	}
	*sslen = sizeof(*sin);
	return 0;
}

int
sl_conf_parse_addr(const char *text, struct sockaddr_storage *ss,
		   socklen_t *sslen)
{
	const char *why;

	return parse_addr(text, ss, sslen, &why);
}

/* ---- typed getters: 0 and *out set, or -1 with the error reported ------ */

int
sl_yaml_get_map(struct sl_yaml_loader *ld, const char *key,
		const struct sl_yaml_node *n)
{
	if (n->type == SL_YAML_NODE_MAP)
		return 0;
	if (n->type != SL_YAML_NODE_BAD)
		sl_yaml_err_node(ld, n, "\"%s\": expected a mapping", key);
	return -1;
}

int
sl_yaml_get_seq(struct sl_yaml_loader *ld, const char *key,
		const struct sl_yaml_node *n)
{
	if (n->type == SL_YAML_NODE_SEQ)
		return 0;
	if (n->type != SL_YAML_NODE_BAD)
		sl_yaml_err_node(ld, n, "\"%s\": expected a list", key);
	return -1;
}

int
sl_yaml_get_str(struct sl_yaml_loader *ld, const char *key,
		const struct sl_yaml_node *n, const char **out)
{
	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	if (!sl_yaml_is_string(n)) {
		if (n->type == SL_YAML_NODE_SCALAR && !sl_yaml_is_null(n))
			sl_yaml_err_node(
			    ld, n, "\"%s\": must not contain NUL bytes", key);
		else
			sl_yaml_err_node(ld, n, "\"%s\": expected a string",
					 key);
		return -1;
	}
	*out = n->str;
	return 0;
}

int
sl_yaml_get_uint(struct sl_yaml_loader *ld, const char *key,
		 const struct sl_yaml_node *n, uint64_t min, uint64_t max,
		 uint64_t *out)
{
	const char *s;
	enum sl_yaml_num r;
	uint64_t v;

	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	s = n->str;
	if (n->type != SL_YAML_NODE_SCALAR || !n->plain ||
	    strlen(s) != n->len ||
	    (r = sl_yaml_parse_digits(&s, &v)) == SL_YAML_NUM_BAD ||
	    *s != '\0') {
		sl_yaml_err_node(
		    ld, n, "\"%s\": expected an integer (%llu..%llu)", key,
		    (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	if (r == SL_YAML_NUM_OVERFLOW || v < min || v > max) {
		sl_yaml_err_node(ld, n,
				 "\"%s\": %s is out of range (%llu..%llu)", key,
				 sl_yaml_qnode(ld, n), (unsigned long long)min,
				 (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int
sl_yaml_get_percent(struct sl_yaml_loader *ld, const char *key,
		    const struct sl_yaml_node *n, uint64_t min, uint64_t max,
		    uint64_t *out)
{
	const char *s;
	enum sl_yaml_num r;
	uint64_t v;

	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	s = n->str;
	if (n->type != SL_YAML_NODE_SCALAR || !sl_yaml_is_string(n) ||
	    (r = sl_yaml_parse_digits(&s, &v)) == SL_YAML_NUM_BAD ||
	    (*s != '\0' && strcmp(s, "%") != 0)) {
		sl_yaml_err_node(ld, n,
				 "\"%s\": expected a percentage such as "
				 "\"20%%\" (%llu%%..%llu%%)",
				 key, (unsigned long long)min,
				 (unsigned long long)max);
		return -1;
	}
	if (r == SL_YAML_NUM_OVERFLOW || v < min || v > max) {
		sl_yaml_err_node(
		    ld, n, "\"%s\": %s is out of range (%llu%%..%llu%%)", key,
		    sl_yaml_qnode(ld, n), (unsigned long long)min,
		    (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Durations and sizes: an integer with a unit, within [min, max]. */
static int
get_units(struct sl_yaml_loader *ld, const char *key,
	  const struct sl_yaml_node *n, const struct unit *units, uint64_t min,
	  uint64_t max, uint64_t *out)
{
	int dur = units == duration_units;
	const char *what = dur ? "duration" : "size";
	const char *ulist = dur ? "ms, s, m or h" : "B, KiB, MiB or GiB";
	char a[32], b[32];
	uint64_t v;

	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	if (!sl_yaml_is_string(n)) {
		sl_yaml_err_node(
		    ld, n, "\"%s\": expected a %s (an integer with unit %s)",
		    key, what, ulist);
		return -1;
	}
	switch (parse_units(n->str, units, &v)) {
	case SL_YAML_NUM_OK:
		break;
	case SL_YAML_NUM_BARE:
		sl_yaml_err_node(ld, n, "\"%s\": %s \"%s\" needs a unit (%s)",
				 key, what, sl_yaml_qnode(ld, n), ulist);
		return -1;
	case SL_YAML_NUM_OVERFLOW:
		sl_yaml_err_node(ld, n, "\"%s\": %s \"%s\" is too large", key,
				 what, sl_yaml_qnode(ld, n));
		return -1;
	default:
		sl_yaml_err_node(
		    ld, n,
		    "\"%s\": invalid %s \"%s\" (expected an integer with "
		    "unit %s)",
		    key, what, sl_yaml_qnode(ld, n), ulist);
		return -1;
	}
	if (v < min || v > max) {
		if (max == UINT64_MAX)
			sl_yaml_err_node(ld, n,
					 "\"%s\": %s is out of range (>= %s)",
					 key, sl_yaml_qnode(ld, n),
					 fmt_units(a, sizeof(a), min, units));
		else
			sl_yaml_err_node(ld, n,
					 "\"%s\": %s is out of range (%s..%s)",
					 key, sl_yaml_qnode(ld, n),
					 fmt_units(a, sizeof(a), min, units),
					 fmt_units(b, sizeof(b), max, units));
		return -1;
	}
	*out = v;
	return 0;
}

int
sl_yaml_get_duration(struct sl_yaml_loader *ld, const char *key,
		     const struct sl_yaml_node *n, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	return get_units(ld, key, n, duration_units, min, max, out);
}

int
sl_yaml_get_size(struct sl_yaml_loader *ld, const char *key,
		 const struct sl_yaml_node *n, uint64_t min, uint64_t max,
		 uint64_t *out)
{
	return get_units(ld, key, n, size_units, min, max, out);
}

int
sl_yaml_get_addr(struct sl_yaml_loader *ld, const char *key,
		 const struct sl_yaml_node *n, struct sl_conf_addr *a)
{
	const char *why;

	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	if (!sl_yaml_is_string(n)) {
		sl_yaml_err_node(
		    ld, n, "\"%s\": expected an address \"HOST:PORT\"", key);
		return -1;
	}
	if (parse_addr(n->str, &a->ss, &a->sslen, &why) == -1) {
		sl_yaml_err_node(ld, n, "\"%s\": invalid address \"%s\": %s",
				 key, sl_yaml_qnode(ld, n), why);
		return -1;
	}
	a->text = sl_yaml_strdup(ld, n->str);
	return a->text == NULL ? -1 : 0;
}

/* Names of listeners, clusters and routes: 1-64 of [A-Za-z0-9._-]. */
static int
valid_name(const struct sl_yaml_node *n)
{
	size_t i;

	if (!sl_yaml_is_string(n) || n->len == 0 || n->len > CONF_MAX_NAME)
		return 0;
	for (i = 0; i < n->len; i++) {
		char c = n->str[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

int
sl_yaml_get_name(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
		 char **out)
{
	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	if (n->type != SL_YAML_NODE_SCALAR || sl_yaml_is_null(n)) {
		sl_yaml_err_node(ld, n, "\"name\": expected a string");
		return -1;
	}
	if (!valid_name(n)) {
		sl_yaml_err_node(
		    ld, n,
		    "\"name\": invalid name \"%s\" (1 to %d letters, "
		    "digits, \".\", \"_\" or \"-\")",
		    sl_yaml_qnode(ld, n), CONF_MAX_NAME);
		return -1;
	}
	*out = sl_yaml_strdup(ld, n->str);
	return *out == NULL ? -1 : 0;
}

/* Picks one of names[] (NULL-terminated); returns its index or -1. */
int
sl_yaml_get_enum(struct sl_yaml_loader *ld, const char *key,
		 const struct sl_yaml_node *n, const char *const *names,
		 const char *expected)
{
	int i;

	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	if (sl_yaml_is_string(n))
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(n->str, names[i]) == 0)
				return i;
	sl_yaml_err_node(ld, n, "\"%s\": expected %s", key, expected);
	return -1;
}

/* "kind "name"" for messages, or "kind #N" when the name is unusable. */
void
sl_yaml_label(struct sl_yaml_loader *ld, char *buf, size_t sz, const char *kind,
	      const struct sl_yaml_node *name, size_t idx)
{
	if (name != NULL && sl_yaml_is_string(name) && name->len > 0)
		snprintf(buf, sz, "%s \"%s\"", kind, sl_yaml_qnode(ld, name));
	else
		snprintf(buf, sz, "%s #%zu", kind, idx + 1);
}
