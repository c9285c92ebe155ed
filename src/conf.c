/* SPDX-License-Identifier: MIT */
/*
 * The YAML configuration file turned into one immutable generation (struct
 * sl_conf), with every validation rule of DESIGN.md section 3. Reads the
 * file and nothing else: no sockets, no DNS, no logging; problems are
 * returned to the caller as "FILE:LINE:COL: error: MESSAGE" lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "conf.h"

#define CONF_MAX_DEPTH	   32		      /* YAML nesting levels */
#define CONF_MAX_FILE	   (16 * 1024 * 1024) /* bytes */
#define CONF_MAX_NAME	   64		      /* bytes of a name */
#define CONF_MAX_HOST	   253		      /* bytes of a host pattern */
#define CONF_QUOTE_MAX	   64		      /* bytes of a value in messages */
#define CONF_DAY_MS	   (24ULL * 3600 * 1000)
#define CONF_MAX_WORKERS   1024
#define CONF_MAX_HEADERS   10000
#define CONF_MAX_WEIGHT	   1000
#define CONF_MAX_POOL_IDLE 100000
#define CONF_MAX_COUNT	   4294967295ULL /* max_requests */

/* Defaults, DESIGN.md section 3. */
#define DEF_HEADER_TIMEOUT_MS  10000
#define DEF_BODY_TIMEOUT_MS    30000
#define DEF_SEND_TIMEOUT_MS    30000
#define DEF_IDLE_TIMEOUT_MS    60000
#define DEF_MAX_URI_BYTES      (8 * 1024)
#define DEF_MAX_HEADER_BYTES   (32 * 1024)
#define DEF_MAX_HEADERS	       100
#define DEF_MAX_BODY_BYTES     (16 * 1024 * 1024)
#define DEF_BUFFER_BYTES       (64 * 1024)
#define DEF_ROUTE_TIMEOUT_MS   30000
#define DEF_CONNECT_TIMEOUT_MS 1000
#define DEF_POOL_MAX_IDLE      64
#define DEF_POOL_IDLE_MS       30000
#define DEF_POOL_MAX_REQUESTS  10000
#define DEF_DRAIN_TIMEOUT_MS   30000

/*
 * The YAML document as a small tree built from libyaml events, so that every
 * node keeps its position. Owned by the loader, freed before it returns.
 */
enum node_type {
	NODE_SCALAR,
	NODE_SEQ,
	NODE_MAP,
	NODE_BAD, /* an alias: already reported, ignored by every check */
};

struct node {
	enum node_type type;
	unsigned line, col; /* 1-based position of the node's first char */
	char *str;	    /* scalars: the value, NUL-terminated */
	size_t len;	    /* scalars: bytes in str, NULs included */
	int plain;	    /* scalars: plain style and no tag */
	struct node **kids; /* seq: items; map: key, value, key, value ... */
	size_t nkids, cap;
};

/* One error line; sorted by position before they are handed out. */
struct conf_err {
	unsigned line, col; /* 0 when the error has no position */
	size_t seq;	    /* order of discovery, keeps the sort stable */
	char *text;	    /* "FILE:LINE:COL: error: MESSAGE" */
};

struct loader {
	const char *name; /* FILE in messages; borrowed */
	const char *text; /* the input, for positions of reader errors */
	size_t len;
	struct conf_err *errs;
	size_t nerrs, errcap;
	int oom;
	char qbuf[4][CONF_QUOTE_MAX * 4 + 8]; /* see quote() */
	unsigned qi;
};

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

enum num_result {
	NUM_OK = 0,
	NUM_BARE,     /* digits without a unit */
	NUM_BAD,      /* not digits followed by a known unit */
	NUM_OVERFLOW, /* does not fit in 64 bits */
};

/* ---- errors ------------------------------------------------------------ */

static void verr_at(struct loader *, unsigned, unsigned, const char *, va_list)
    __attribute__((format(printf, 4, 0)));
static void err_at(struct loader *, unsigned, unsigned, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void err_node(struct loader *, const struct node *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
verr_at(struct loader *ld, unsigned line, unsigned col, const char *fmt,
	va_list ap)
{
	char msg[1024];
	struct conf_err *e;
	size_t sz;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (ld->nerrs == ld->errcap) {
		size_t cap = ld->errcap ? ld->errcap * 2 : 8;

		e = realloc(ld->errs, cap * sizeof(*e));
		if (e == NULL) {
			ld->oom = 1;
			return;
		}
		ld->errs = e;
		ld->errcap = cap;
	}
	sz = strlen(ld->name) + strlen(msg) + 64;
	e = &ld->errs[ld->nerrs];
	if ((e->text = malloc(sz)) == NULL) {
		ld->oom = 1;
		return;
	}
	if (line > 0)
		snprintf(e->text, sz, "%s:%u:%u: error: %s", ld->name, line,
			 col, msg);
	else
		snprintf(e->text, sz, "%s: error: %s", ld->name, msg);
	e->line = line;
	e->col = col;
	e->seq = ld->nerrs++;
}

static void
err_at(struct loader *ld, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(ld, line, col, fmt, ap);
	va_end(ap);
}

static void
err_node(struct loader *ld, const struct node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(ld, n->line, n->col, fmt, ap);
	va_end(ap);
}

static int
err_cmp(const void *a, const void *b)
{
	const struct conf_err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Hands the collected errors out as one string, sorted by position, and
 * frees them. Returns NULL when there are none (or no memory for them).
 */
static char *
errors_finish(struct loader *ld)
{
	char *out = NULL, *p;
	size_t i, sz = 1;

	if (ld->nerrs > 0) {
		qsort(ld->errs, ld->nerrs, sizeof(*ld->errs), err_cmp);
		for (i = 0; i < ld->nerrs; i++)
			sz += strlen(ld->errs[i].text) + 1;
		if ((out = malloc(sz)) != NULL) {
			p = out;
			for (i = 0; i < ld->nerrs; i++) {
				size_t l = strlen(ld->errs[i].text);

				memcpy(p, ld->errs[i].text, l);
				p += l;
				*p++ = '\n';
			}
			*p = '\0';
		}
	}
	for (i = 0; i < ld->nerrs; i++)
		free(ld->errs[i].text);
	free(ld->errs);
	ld->errs = NULL;
	ld->nerrs = ld->errcap = 0;
	return out;
}

/*
 * Escapes s for an error message (no surrounding quotes): non-printable
 * bytes as \xNN, long values cut with "...". The result lives in one of
 * four rotating buffers of the loader: valid for the next three calls.
 */
static const char *
quote(struct loader *ld, const char *s, size_t len)
{
	char *buf = ld->qbuf[ld->qi++ % 4], *p = buf;
	size_t i;

	for (i = 0; i < len && i < CONF_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20 || c > 0x7e) {
			snprintf(p, 5, "\\x%02x", c);
			p += 4;
		} else
			*p++ = (char)c;
	}
	if (i < len) {
		memcpy(p, "...", 3);
		p += 3;
	}
	*p = '\0';
	return buf;
}

static const char *
qnode(struct loader *ld, const struct node *n)
{
	return quote(ld, n->str, n->len);
}

static const char *
qstr(struct loader *ld, const char *s)
{
	return quote(ld, s, strlen(s));
}

/* ---- the YAML tree ----------------------------------------------------- */

static struct node *
node_new(struct loader *ld, enum node_type type, const yaml_mark_t *m)
{
	struct node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		ld->oom = 1;
		return NULL;
	}
	n->type = type;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	return n;
}

static void
node_free(struct node *n)
{
	size_t i;

	if (n == NULL)
		return;
	/* Depth is bounded by CONF_MAX_DEPTH, so recursion is. */
	for (i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

static int
node_add(struct loader *ld, struct node *parent, struct node *kid)
{
	struct node **k;

	if (parent->nkids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;

		if ((k = realloc(parent->kids, cap * sizeof(*k))) == NULL) {
			ld->oom = 1;
			return -1;
		}
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->nkids++] = kid;
	return 0;
}

/* Line and column (1-based, in characters) of a byte offset of the input. */
static void
offset_pos(const struct loader *ld, size_t off, unsigned *line, unsigned *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < ld->len; i++) {
		unsigned char c = (unsigned char)ld->text[i];

		if (c == '\n') {
			(*line)++;
			*col = 1;
		} else if ((c & 0xc0) != 0x80)
			(*col)++;
	}
}

static void
yaml_error(struct loader *ld, const yaml_parser_t *p)
{
	unsigned line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		ld->oom = 1;
		break;
	case YAML_READER_ERROR:
		offset_pos(ld, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			err_at(ld, line, col, "invalid YAML: %s (#x%x)",
			       p->problem, (unsigned)p->problem_value);
		else
			err_at(ld, line, col, "invalid YAML: %s", p->problem);
		break;
	default:
		line = (unsigned)p->problem_mark.line + 1;
		col = (unsigned)p->problem_mark.column + 1;
		if (p->context != NULL)
			err_at(ld, line, col, "invalid YAML: %s (%s at %u:%u)",
			       p->problem ? p->problem : "syntax error",
			       p->context, (unsigned)p->context_mark.line + 1,
			       (unsigned)p->context_mark.column + 1);
		else
			err_at(ld, line, col, "invalid YAML: %s",
			       p->problem ? p->problem : "syntax error");
		break;
	}
}

/*
 * Reads the whole event stream into a tree. Returns the root of the first
 * document (NULL for an empty stream); sets *fatal when the tree cannot be
 * trusted (syntax error, too deep, out of memory).
 */
static struct node *
tree_build(struct loader *ld, yaml_parser_t *p, int *fatal)
{
	struct node *stack[CONF_MAX_DEPTH];
	struct node *root = NULL, *n;
	size_t depth = 0;
	int ndocs = 0, done = 0;
	yaml_event_t ev;

	*fatal = 0;
	while (!done) {
		if (!yaml_parser_parse(p, &ev)) {
			yaml_error(ld, p);
			*fatal = 1;
			break;
		}
		n = NULL;
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (ndocs++ > 0) {
				err_at(ld, (unsigned)ev.start_mark.line + 1,
				       (unsigned)ev.start_mark.column + 1,
				       "only one YAML document is allowed");
				done = 1;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_ALIAS_EVENT:
			n = node_new(ld, NODE_BAD, &ev.start_mark);
			if (n != NULL)
				err_node(ld, n,
					 "YAML aliases are not supported");
			break;
		case YAML_SCALAR_EVENT:
			if ((n = node_new(ld, NODE_SCALAR, &ev.start_mark)) ==
			    NULL)
				break;
			n->len = ev.data.scalar.length;
			if ((n->str = malloc(n->len + 1)) == NULL) {
				ld->oom = 1;
				node_free(n);
				n = NULL;
				break;
			}
			memcpy(n->str, ev.data.scalar.value, n->len);
			n->str[n->len] = '\0';
			n->plain =
			    ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			    ev.data.scalar.tag == NULL;
			break;
		case YAML_SEQUENCE_START_EVENT:
			n = node_new(ld, NODE_SEQ, &ev.start_mark);
			break;
		case YAML_MAPPING_START_EVENT:
			n = node_new(ld, NODE_MAP, &ev.start_mark);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		if (n != NULL) {
			if (depth > 0) {
				if (node_add(ld, stack[depth - 1], n) == -1) {
					node_free(n);
					n = NULL;
				}
			} else if (root == NULL)
				root = n;
			else {
				node_free(n);
				n = NULL;
			}
		}
		if (n != NULL && (n->type == NODE_SEQ || n->type == NODE_MAP)) {
			if (depth == CONF_MAX_DEPTH) {
				err_node(ld, n,
					 "YAML nested more than %d levels deep",
					 CONF_MAX_DEPTH);
				*fatal = 1;
				done = 1;
			} else
				stack[depth++] = n;
		}
		yaml_event_delete(&ev);
		if (ld->oom) {
			*fatal = 1;
			done = 1;
		}
	}
	return root;
}

/* ---- tree access ------------------------------------------------------- */

static int
is_null(const struct node *n)
{
	if (n->type != NODE_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->str, "~") == 0 ||
	       strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	       strcmp(n->str, "NULL") == 0;
}

/* A non-null scalar without NUL bytes: usable as a C string. */
static int
is_string(const struct node *n)
{
	return n->type == NODE_SCALAR && !is_null(n) &&
	       strlen(n->str) == n->len;
}

static int
key_is(const struct node *k, const char *key)
{
	return k->type == NODE_SCALAR && strlen(key) == k->len &&
	       memcmp(k->str, key, k->len) == 0;
}

/* The value of key in map (first occurrence), its key node in *keyp. */
static const struct node *
map_get(const struct node *map, const char *key, const struct node **keyp)
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
static const struct node *
later(const struct node *a, const struct node *b)
{
	if (a->line != b->line)
		return a->line > b->line ? a : b;
	return a->col > b->col ? a : b;
}

/* Reports unknown and duplicate keys; where is "in listener" etc. */
static void
check_keys(struct loader *ld, const struct node *map,
	   const char *const *allowed, const char *where)
{
	const struct node *k;
	size_t i, j;
	int ok;

	for (i = 0; i + 1 < map->nkids; i += 2) {
		k = map->kids[i];
		if (k->type == NODE_BAD)
			continue;
		if (k->type != NODE_SCALAR) {
			err_node(ld, k, "keys must be strings %s", where);
			continue;
		}
		ok = 0;
		for (j = 0; allowed[j] != NULL; j++)
			if (key_is(k, allowed[j]))
				ok = 1;
		if (!ok) {
			err_node(ld, k, "unknown key \"%s\" %s", qnode(ld, k),
				 where);
			continue;
		}
		for (j = 0; j < i; j += 2) {
			if (key_is(map->kids[j], k->str)) {
				err_node(ld, k,
					 "duplicate key \"%s\" %s (first at "
					 "%u:%u)",
					 qnode(ld, k), where,
					 map->kids[j]->line, map->kids[j]->col);
				break;
			}
		}
	}
}

static char *
xstrdup(struct loader *ld, const char *s)
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

static enum num_result
parse_digits(const char **sp, uint64_t *v)
{
	const char *s = *sp;
	int overflow = 0;

	*v = 0;
	if (*s < '0' || *s > '9')
		return NUM_BAD;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (*v > (UINT64_MAX - d) / 10)
			overflow = 1;
		else
			*v = *v * 10 + d;
	}
	*sp = s;
	return overflow ? NUM_OVERFLOW : NUM_OK;
}

static enum num_result
parse_units(const char *s, const struct unit *units, uint64_t *out)
{
	enum num_result r;
	uint64_t v;
	size_t i;

	if (s == NULL)
		return NUM_BAD;
	r = parse_digits(&s, &v);
	if (r == NUM_BAD)
		return NUM_BAD;
	if (*s == '\0')
		return r == NUM_OK ? NUM_BARE : NUM_OVERFLOW;
	for (i = 0; units[i].name != NULL; i++) {
		if (strcmp(s, units[i].name) != 0)
			continue;
		if (r == NUM_OVERFLOW || v > UINT64_MAX / units[i].mult)
			return NUM_OVERFLOW;
		*out = v * units[i].mult;
		return NUM_OK;
	}
	return NUM_BAD;
}

int
sl_conf_parse_duration(const char *text, uint64_t *ms)
{
	return parse_units(text, duration_units, ms) == NUM_OK ? 0 : -1;
}

int
sl_conf_parse_size(const char *text, uint64_t *bytes)
{
	return parse_units(text, size_units, bytes) == NUM_OK ? 0 : -1;
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
	if (parse_digits(&port, &p) != NUM_OK || *port != '\0' || p < 1 ||
	    p > 65535) {
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

static int
get_map(struct loader *ld, const char *key, const struct node *n)
{
	if (n->type == NODE_MAP)
		return 0;
	if (n->type != NODE_BAD)
		err_node(ld, n, "\"%s\": expected a mapping", key);
	return -1;
}

static int
get_seq(struct loader *ld, const char *key, const struct node *n)
{
	if (n->type == NODE_SEQ)
		return 0;
	if (n->type != NODE_BAD)
		err_node(ld, n, "\"%s\": expected a list", key);
	return -1;
}

static int
get_str(struct loader *ld, const char *key, const struct node *n,
	const char **out)
{
	if (n->type == NODE_BAD)
		return -1;
	if (!is_string(n)) {
		if (n->type == NODE_SCALAR && !is_null(n))
			err_node(ld, n, "\"%s\": must not contain NUL bytes",
				 key);
		else
			err_node(ld, n, "\"%s\": expected a string", key);
		return -1;
	}
	*out = n->str;
	return 0;
}

static int
get_uint(struct loader *ld, const char *key, const struct node *n, uint64_t min,
	 uint64_t max, uint64_t *out)
{
	const char *s;
	enum num_result r;
	uint64_t v;

	if (n->type == NODE_BAD)
		return -1;
	s = n->str;
	if (n->type != NODE_SCALAR || !n->plain || strlen(s) != n->len ||
	    (r = parse_digits(&s, &v)) == NUM_BAD || *s != '\0') {
		err_node(ld, n, "\"%s\": expected an integer (%llu..%llu)", key,
			 (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	if (r == NUM_OVERFLOW || v < min || v > max) {
		err_node(ld, n, "\"%s\": %s is out of range (%llu..%llu)", key,
			 qnode(ld, n), (unsigned long long)min,
			 (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Durations and sizes: an integer with a unit, within [min, max]. */
static int
get_units(struct loader *ld, const char *key, const struct node *n,
	  const struct unit *units, uint64_t min, uint64_t max, uint64_t *out)
{
	int dur = units == duration_units;
	const char *what = dur ? "duration" : "size";
	const char *ulist = dur ? "ms, s, m or h" : "B, KiB, MiB or GiB";
	char a[32], b[32];
	uint64_t v;

	if (n->type == NODE_BAD)
		return -1;
	if (!is_string(n)) {
		err_node(ld, n,
			 "\"%s\": expected a %s (an integer with unit %s)", key,
			 what, ulist);
		return -1;
	}
	switch (parse_units(n->str, units, &v)) {
	case NUM_OK:
		break;
	case NUM_BARE:
		err_node(ld, n, "\"%s\": %s \"%s\" needs a unit (%s)", key,
			 what, qnode(ld, n), ulist);
		return -1;
	case NUM_OVERFLOW:
		err_node(ld, n, "\"%s\": %s \"%s\" is too large", key, what,
			 qnode(ld, n));
		return -1;
	default:
		err_node(ld, n,
			 "\"%s\": invalid %s \"%s\" (expected an integer with "
			 "unit %s)",
			 key, what, qnode(ld, n), ulist);
		return -1;
	}
	if (v < min || v > max) {
		if (max == UINT64_MAX)
			err_node(ld, n, "\"%s\": %s is out of range (>= %s)",
				 key, qnode(ld, n),
				 fmt_units(a, sizeof(a), min, units));
		else
			err_node(ld, n, "\"%s\": %s is out of range (%s..%s)",
				 key, qnode(ld, n),
				 fmt_units(a, sizeof(a), min, units),
				 fmt_units(b, sizeof(b), max, units));
		return -1;
	}
	*out = v;
	return 0;
}

static int
get_duration(struct loader *ld, const char *key, const struct node *n,
	     uint64_t min, uint64_t max, uint64_t *out)
{
	return get_units(ld, key, n, duration_units, min, max, out);
}

static int
get_size(struct loader *ld, const char *key, const struct node *n, uint64_t min,
	 uint64_t max, uint64_t *out)
{
	return get_units(ld, key, n, size_units, min, max, out);
}

static int
get_addr(struct loader *ld, const char *key, const struct node *n,
	 struct sl_conf_addr *a)
{
	const char *why;

	if (n->type == NODE_BAD)
		return -1;
	if (!is_string(n)) {
		err_node(ld, n, "\"%s\": expected an address \"HOST:PORT\"",
			 key);
		return -1;
	}
	if (parse_addr(n->str, &a->ss, &a->sslen, &why) == -1) {
		err_node(ld, n, "\"%s\": invalid address \"%s\": %s", key,
			 qnode(ld, n), why);
		return -1;
	}
	a->text = xstrdup(ld, n->str);
	return a->text == NULL ? -1 : 0;
}

/* Names of listeners, clusters and routes: 1-64 of [A-Za-z0-9._-]. */
static int
valid_name(const struct node *n)
{
	size_t i;

	if (!is_string(n) || n->len == 0 || n->len > CONF_MAX_NAME)
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

static int
get_name(struct loader *ld, const struct node *n, char **out)
{
	if (n->type == NODE_BAD)
		return -1;
	if (n->type != NODE_SCALAR || is_null(n)) {
		err_node(ld, n, "\"name\": expected a string");
		return -1;
	}
	if (!valid_name(n)) {
		err_node(ld, n,
			 "\"name\": invalid name \"%s\" (1 to %d letters, "
			 "digits, \".\", \"_\" or \"-\")",
			 qnode(ld, n), CONF_MAX_NAME);
		return -1;
	}
	*out = xstrdup(ld, n->str);
	return *out == NULL ? -1 : 0;
}

/* Picks one of names[] (NULL-terminated); returns its index or -1. */
static int
get_enum(struct loader *ld, const char *key, const struct node *n,
	 const char *const *names, const char *expected)
{
	int i;

	if (n->type == NODE_BAD)
		return -1;
	if (is_string(n))
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(n->str, names[i]) == 0)
				return i;
	err_node(ld, n, "\"%s\": expected %s", key, expected);
	return -1;
}

/* "kind "name"" for messages, or "kind #N" when the name is unusable. */
static void
label(struct loader *ld, char *buf, size_t sz, const char *kind,
      const struct node *name, size_t idx)
{
	if (name != NULL && is_string(name) && name->len > 0)
		snprintf(buf, sz, "%s \"%s\"", kind, qnode(ld, name));
	else
		snprintf(buf, sz, "%s #%zu", kind, idx + 1);
}

static int
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_tchar(s[i]))
			return 0;
	return 1;
}

static int
sockaddr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static uint16_t
sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int
sockaddr_same(const struct sockaddr_storage *a,
	      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family ||
	    sockaddr_port(a) != sockaddr_port(b))
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

/* Two listening sockets would fight over the same port. */
static int
sockaddr_overlap(const struct sockaddr_storage *a,
		 const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family ||
	    sockaddr_port(a) != sockaddr_port(b))
		return 0;
	return sockaddr_is_any(a) || sockaddr_is_any(b);
}

/* ---- clusters ---------------------------------------------------------- */

static const char *const cluster_keys[] = {
    "name", "endpoints", "balance", "connect_timeout", "pool", NULL,
};
static const char *const pool_keys[] = {
    "max_idle",
    "idle_timeout",
    "max_requests",
    NULL,
};
static const char *const endpoint_keys[] = {"address", "weight", NULL};
static const char *const balance_names[] = {
    "round_robin",
    "least_request",
    "hash",
    NULL,
};

static void
parse_pool(struct loader *ld, const struct node *map,
	   struct sl_conf_cluster *cl)
{
	const struct node *v;

	check_keys(ld, map, pool_keys, "in pool");
	if ((v = map_get(map, "max_idle", NULL)) != NULL)
		get_uint(ld, "max_idle", v, 0, CONF_MAX_POOL_IDLE,
			 &cl->pool_max_idle);
	if ((v = map_get(map, "idle_timeout", NULL)) != NULL)
		get_duration(ld, "idle_timeout", v, 1, CONF_DAY_MS,
			     &cl->pool_idle_timeout_ms);
	if ((v = map_get(map, "max_requests", NULL)) != NULL)
		get_uint(ld, "max_requests", v, 0, CONF_MAX_COUNT,
			 &cl->pool_max_requests);
}

static void
parse_endpoints(struct loader *ld, const char *lbl, const struct node *seq,
		struct sl_conf_cluster *cl)
{
	struct sl_conf_endpoint *ep;
	const struct node *item, *addr, **where;
	uint64_t w;
	size_t i, j;

	if ((cl->endpoints = calloc(seq->nkids, sizeof(*ep))) == NULL ||
	    (where = calloc(seq->nkids, sizeof(*where))) == NULL) {
		ld->oom = 1;
		return;
	}
	cl->nendpoints = seq->nkids;
	for (i = 0; i < seq->nkids; i++) {
		ep = &cl->endpoints[i];
		ep->index = i;
		ep->weight = 1;
		item = seq->kids[i];
		addr = NULL;
		if (item->type == NODE_MAP) {
			check_keys(ld, item, endpoint_keys, "in endpoint");
			if ((addr = map_get(item, "address", NULL)) == NULL)
				err_node(ld, item,
					 "%s: endpoint: missing key "
					 "\"address\"",
					 lbl);
			if ((item = map_get(item, "weight", NULL)) != NULL &&
			    get_uint(ld, "weight", item, 1, CONF_MAX_WEIGHT,
				     &w) == 0)
				ep->weight = (uint32_t)w;
		} else if (item->type == NODE_SCALAR && !is_null(item))
			addr = item;
		else if (item->type != NODE_BAD)
			err_node(ld, item,
				 "\"endpoints\": expected \"HOST:PORT\" or a "
				 "mapping with \"address\" and \"weight\"");
		if (addr == NULL || get_addr(ld, "address", addr, &ep->addr))
			continue;
		where[i] = addr;
		for (j = 0; j < i; j++) {
			if (where[j] != NULL &&
			    sockaddr_same(&cl->endpoints[j].addr.ss,
					  &ep->addr.ss)) {
				err_node(ld, addr,
					 "%s: duplicate endpoint %s (first at "
					 "%u:%u; use \"weight\" instead)",
					 lbl, qnode(ld, addr), where[j]->line,
					 where[j]->col);
				break;
			}
		}
	}
	free(where);
}

static void
parse_cluster(struct loader *ld, const struct node *map, size_t idx,
	      struct sl_conf_cluster *cl)
{
	const struct node *v, *namen;
	char lbl[CONF_QUOTE_MAX * 4 + 32];
	int e;

	cl->index = idx;
	cl->balance = SL_BALANCE_ROUND_ROBIN;
	cl->connect_timeout_ms = DEF_CONNECT_TIMEOUT_MS;
	cl->pool_max_idle = DEF_POOL_MAX_IDLE;
	cl->pool_idle_timeout_ms = DEF_POOL_IDLE_MS;
	cl->pool_max_requests = DEF_POOL_MAX_REQUESTS;
	if (map->type != NODE_MAP) {
		if (map->type != NODE_BAD)
			err_node(ld, map,
				 "\"clusters\": each item must be a mapping");
		return;
	}
	check_keys(ld, map, cluster_keys, "in cluster");
	namen = map_get(map, "name", NULL);
	label(ld, lbl, sizeof(lbl), "cluster", namen, idx);
	if (namen == NULL)
		err_node(ld, map, "%s: missing key \"name\"", lbl);
	else
		get_name(ld, namen, &cl->name);

	if ((v = map_get(map, "endpoints", NULL)) == NULL)
		err_node(ld, map, "%s: missing key \"endpoints\"", lbl);
	else if (get_seq(ld, "endpoints", v) == 0) {
		if (v->nkids == 0)
			err_node(ld, v, "%s: \"endpoints\" must not be empty",
				 lbl);
		else
			parse_endpoints(ld, lbl, v, cl);
	}
	if ((v = map_get(map, "balance", NULL)) != NULL &&
	    (e = get_enum(ld, "balance", v, balance_names,
			  "round_robin, least_request or hash")) >= 0)
		cl->balance = (enum sl_balance)e;
	if ((v = map_get(map, "connect_timeout", NULL)) != NULL)
		get_duration(ld, "connect_timeout", v, 1, CONF_DAY_MS,
			     &cl->connect_timeout_ms);
	if ((v = map_get(map, "pool", NULL)) != NULL &&
	    get_map(ld, "pool", v) == 0)
		parse_pool(ld, v, cl);
}

static void
parse_clusters(struct loader *ld, const struct node *seq, struct sl_conf *conf)
{
	const struct node *a, *b;
	size_t i, j;

	if (get_seq(ld, "clusters", seq) == -1 || seq->nkids == 0)
		return;
	if ((conf->clusters = calloc(seq->nkids, sizeof(*conf->clusters))) ==
	    NULL) {
		ld->oom = 1;
		return;
	}
	conf->nclusters = seq->nkids;
	for (i = 0; i < seq->nkids; i++)
		parse_cluster(ld, seq->kids[i], i, &conf->clusters[i]);
	for (i = 1; i < conf->nclusters; i++) {
		if (conf->clusters[i].name == NULL)
			continue;
		for (j = 0; j < i; j++) {
			if (conf->clusters[j].name == NULL ||
			    strcmp(conf->clusters[i].name,
				   conf->clusters[j].name) != 0)
				continue;
			a = map_get(seq->kids[j], "name", NULL);
			b = map_get(seq->kids[i], "name", NULL);
			err_node(ld, b,
				 "duplicate cluster name \"%s\" (first at "
				 "%u:%u)",
				 qnode(ld, b), a->line, a->col);
			break;
		}
	}
}

/* ---- listeners and routes ---------------------------------------------- */

static const char *const listener_keys[] = {
    "name", "address", "limits", "routes", NULL,
};
static const char *const limits_keys[] = {
    "header_timeout", "body_timeout",	  "send_timeout", "idle_timeout",
    "max_uri_bytes",  "max_header_bytes", "max_headers",  "max_body_bytes",
    "buffer_bytes",   "max_requests",	  NULL,
};
static const char *const route_keys[] = {
    "name", "match", "cluster", "split", "sticky", "timeout", NULL,
};
static const char *const match_keys[] = {
    "host", "path", "path_prefix", "methods", "headers", NULL,
};

static void
parse_limits(struct loader *ld, const struct node *map,
	     struct sl_conf_limits *lim)
{
	const struct node *v, *uri, *hdr, *buf;
	char a[32], b[32];

	check_keys(ld, map, limits_keys, "in limits");
	if ((v = map_get(map, "header_timeout", NULL)) != NULL)
		get_duration(ld, "header_timeout", v, 1, CONF_DAY_MS,
			     &lim->header_timeout_ms);
	if ((v = map_get(map, "body_timeout", NULL)) != NULL)
		get_duration(ld, "body_timeout", v, 1, CONF_DAY_MS,
			     &lim->body_timeout_ms);
	if ((v = map_get(map, "send_timeout", NULL)) != NULL)
		get_duration(ld, "send_timeout", v, 1, CONF_DAY_MS,
			     &lim->send_timeout_ms);
	if ((v = map_get(map, "idle_timeout", NULL)) != NULL)
		get_duration(ld, "idle_timeout", v, 1, CONF_DAY_MS,
			     &lim->idle_timeout_ms);
	if ((hdr = map_get(map, "max_header_bytes", NULL)) != NULL &&
	    get_size(ld, "max_header_bytes", hdr, 256, 1024 * 1024,
		     &lim->max_header_bytes) == -1)
		hdr = NULL; /* keep the default, skip the cross checks */
	if ((uri = map_get(map, "max_uri_bytes", NULL)) != NULL &&
	    get_size(ld, "max_uri_bytes", uri, 16, UINT64_MAX,
		     &lim->max_uri_bytes) == -1)
		uri = NULL;
	if ((v = map_get(map, "max_headers", NULL)) != NULL)
		get_uint(ld, "max_headers", v, 1, CONF_MAX_HEADERS,
			 &lim->max_headers);
	if ((v = map_get(map, "max_body_bytes", NULL)) != NULL)
		get_size(ld, "max_body_bytes", v, 0, UINT64_MAX,
			 &lim->max_body_bytes);
	if ((buf = map_get(map, "buffer_bytes", NULL)) != NULL &&
	    get_size(ld, "buffer_bytes", buf, 4 * 1024, 64 * 1024 * 1024,
		     &lim->buffer_bytes) == -1)
		buf = NULL;
	if ((v = map_get(map, "max_requests", NULL)) != NULL)
		get_uint(ld, "max_requests", v, 0, CONF_MAX_COUNT,
			 &lim->max_requests);

	/* Report a conflict at whichever of the two keys is written. */
	if (lim->max_uri_bytes > lim->max_header_bytes && (uri || hdr))
		err_node(
		    ld, uri ? uri : hdr,
		    "\"max_uri_bytes\" (%s) must not exceed "
		    "\"max_header_bytes\" (%s)",
		    fmt_units(a, sizeof(a), lim->max_uri_bytes, size_units),
		    fmt_units(b, sizeof(b), lim->max_header_bytes, size_units));
	/* The whole request head must fit in one buffer. */
	if (lim->max_header_bytes > lim->buffer_bytes && (hdr || buf))
		err_node(
		    ld, hdr ? hdr : buf,
		    "\"max_header_bytes\" (%s) must not exceed "
		    "\"buffer_bytes\" (%s)",
		    fmt_units(a, sizeof(a), lim->max_header_bytes, size_units),
		    fmt_units(b, sizeof(b), lim->buffer_bytes, size_units));
}

/* Exact host name or "*.suffix"; lower-cased into r->host. */
static void
parse_host(struct loader *ld, const struct node *n, struct sl_conf_route *r)
{
	const char *s, *p, *name;
	size_t i, len, nlen;
	int wild = 0, ok = 1;

	if (get_str(ld, "host", n, &s) == -1)
		return;
	len = n->len;
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		wild = 1;
		s++;
		len--;
	}
	if (s[0] == '[') {
		/* An IPv6 literal as it appears in a Host header. */
		p = strchr(s, ']');
		if (wild || p == NULL || p == s + 1)
			ok = 0;
		else if (p[1] == ':') {
			err_node(ld, n,
				 "\"host\": \"%s\" must not contain a "
				 "port",
				 qnode(ld, n));
			return;
		} else if (p[1] != '\0')
			ok = 0;
		for (i = 1; ok && s + i < p; i++)
			if (strchr("0123456789abcdefABCDEF:.", s[i]) == NULL)
				ok = 0;
	} else {
		if ((p = strchr(s, ':')) != NULL) {
			err_node(ld, n,
				 "\"host\": \"%s\" must not contain a "
				 "port",
				 qnode(ld, n));
			return;
		}
		/* Dot-separated non-empty labels of [A-Za-z0-9_-]. */
		name = s + wild; /* after the "." of "*." */
		nlen = len - (size_t)wild;
		if (nlen == 0 || nlen > CONF_MAX_HOST || name[0] == '.' ||
		    name[nlen - 1] == '.')
			ok = 0;
		for (i = 0; ok && i < nlen; i++) {
			char c = name[i];

			if (c == '.' && name[i + 1] == '.')
				ok = 0;
			else if (!((c >= 'a' && c <= 'z') ||
				   (c >= 'A' && c <= 'Z') ||
				   (c >= '0' && c <= '9') || c == '-' ||
				   c == '_' || c == '.'))
				ok = 0;
		}
	}
	if (!ok) {
		err_node(ld, n,
			 "\"host\": invalid host pattern \"%s\" (expected a "
			 "name or *.suffix)",
			 qnode(ld, n));
		return;
	}
	if ((r->host = xstrdup(ld, s)) == NULL)
		return;
	for (i = 0; r->host[i] != '\0'; i++)
		if (r->host[i] >= 'A' && r->host[i] <= 'Z')
			r->host[i] = (char)(r->host[i] - 'A' + 'a');
	r->host_wildcard = wild;
}

static void
parse_path(struct loader *ld, const char *key, const struct node *n,
	   struct sl_conf_route *r)
{
	const char *s;
	size_t i;

	if (get_str(ld, key, n, &s) == -1)
		return;
	if (s[0] != '/') {
		err_node(ld, n, "\"%s\": \"%s\" must start with \"/\"", key,
			 qnode(ld, n));
		return;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '?' ||
		    s[i] == '#') {
			err_node(ld, n,
				 "\"%s\": invalid character in \"%s\" (no "
				 "spaces, controls, \"?\" or \"#\")",
				 key, qnode(ld, n));
			return;
		}
	}
	if ((r->path = xstrdup(ld, s)) != NULL)
		r->path_prefix = strcmp(key, "path_prefix") == 0;
}

static void
parse_methods(struct loader *ld, const struct node *seq,
	      struct sl_conf_route *r)
{
	const struct node *m;
	size_t i;

	if (get_seq(ld, "methods", seq) == -1)
		return;
	if (seq->nkids == 0) {
		err_node(ld, seq, "\"methods\": must not be empty");
		return;
	}
	if ((r->methods = calloc(seq->nkids, sizeof(*r->methods))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i < seq->nkids; i++) {
		m = seq->kids[i];
		if (m->type == NODE_BAD)
			continue;
		if (m->type != NODE_SCALAR || !is_token(m->str, m->len)) {
			if (m->type == NODE_SCALAR)
				err_node(ld, m,
					 "\"methods\": invalid method \"%s\"",
					 qnode(ld, m));
			else
				err_node(ld, m,
					 "\"methods\": expected a method name");
			continue;
		}
		if ((r->methods[r->nmethods] = xstrdup(ld, m->str)) != NULL)
			r->nmethods++;
	}
}

static void
parse_headers(struct loader *ld, const struct node *map,
	      struct sl_conf_route *r)
{
	struct sl_conf_header_match *h;
	const struct node *k, *v;
	size_t i, j, vl;

	if (get_map(ld, "headers", map) == -1 || map->nkids == 0)
		return;
	if ((r->headers = calloc(map->nkids / 2, sizeof(*h))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i + 1 < map->nkids; i += 2) {
		k = map->kids[i];
		v = map->kids[i + 1];
		if (k->type == NODE_BAD || v->type == NODE_BAD)
			continue;
		if (k->type != NODE_SCALAR || !is_token(k->str, k->len)) {
			err_node(ld, k,
				 "\"headers\": invalid header name \"%s\"",
				 k->type == NODE_SCALAR ? qnode(ld, k) : "");
			continue;
		}
		if (!is_string(v)) {
			err_node(ld, v,
				 "\"headers\": the value of \"%s\" must be a "
				 "string",
				 qnode(ld, k));
			continue;
		}
		vl = v->len;
		for (j = 0; j < vl; j++) {
			unsigned char c = (unsigned char)v->str[j];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				break;
		}
		if (j < vl ||
		    (vl > 0 &&
		     (v->str[0] == ' ' || v->str[0] == '\t' ||
		      v->str[vl - 1] == ' ' || v->str[vl - 1] == '\t'))) {
			err_node(ld, v,
				 "\"headers\": invalid value \"%s\" for "
				 "\"%s\" (no control characters, no leading "
				 "or trailing blanks)",
				 qnode(ld, v), qnode(ld, k));
			continue;
		}
		h = &r->headers[r->nheaders];
		if ((h->name = xstrdup(ld, k->str)) == NULL)
			continue;
		for (j = 0; h->name[j] != '\0'; j++)
			if (h->name[j] >= 'A' && h->name[j] <= 'Z')
				h->name[j] = (char)(h->name[j] - 'A' + 'a');
		for (j = 0; j < r->nheaders; j++)
			if (strcmp(r->headers[j].name, h->name) == 0)
				break;
		if (j < r->nheaders) {
			err_node(ld, k, "\"headers\": duplicate header \"%s\"",
				 qstr(ld, h->name));
			free(h->name);
			h->name = NULL;
			continue;
		}
		if ((h->value = xstrdup(ld, v->str)) == NULL) {
			free(h->name);
			h->name = NULL;
			continue;
		}
		r->nheaders++;
	}
}

static void
parse_match(struct loader *ld, const char *lbl, const struct node *map,
	    struct sl_conf_route *r)
{
	const struct node *v, *path, *prefix, *pathk, *prefixk;

	check_keys(ld, map, match_keys, "in match");
	if ((v = map_get(map, "host", NULL)) != NULL)
		parse_host(ld, v, r);
	path = map_get(map, "path", &pathk);
	prefix = map_get(map, "path_prefix", &prefixk);
	if (path != NULL && prefix != NULL)
		err_node(ld, later(pathk, prefixk),
			 "%s: \"path\" and \"path_prefix\" are mutually "
			 "exclusive",
			 lbl);
	else if (path != NULL)
		parse_path(ld, "path", path, r);
	else if (prefix != NULL)
		parse_path(ld, "path_prefix", prefix, r);
	if ((v = map_get(map, "methods", NULL)) != NULL)
		parse_methods(ld, v, r);
	if ((v = map_get(map, "headers", NULL)) != NULL)
		parse_headers(ld, v, r);
}

static void
parse_route(struct loader *ld, const struct node *map, size_t idx,
	    struct sl_conf_route *r, struct sl_conf *conf)
{
	const struct node *v, *namen, *clk, *clv, *splitk, *splitv, *k;
	char lbl[CONF_QUOTE_MAX * 4 + 32];
	const char *s;
	size_t i;

	r->timeout_ms = DEF_ROUTE_TIMEOUT_MS;
	snprintf(lbl, sizeof(lbl), "route-%zu", idx + 1);
	if (map->type != NODE_MAP) {
		if (map->type != NODE_BAD)
			err_node(ld, map,
				 "\"routes\": each item must be a mapping");
		return;
	}
	check_keys(ld, map, route_keys, "in route");
	if ((namen = map_get(map, "name", NULL)) != NULL) {
		label(ld, lbl, sizeof(lbl), "route", namen, idx);
		get_name(ld, namen, &r->name);
	} else {
		r->name = xstrdup(ld, lbl);
		snprintf(lbl, sizeof(lbl), "route \"route-%zu\"", idx + 1);
	}

	if ((v = map_get(map, "match", NULL)) != NULL &&
	    get_map(ld, "match", v) == 0)
		parse_match(ld, lbl, v, r);

	clv = map_get(map, "cluster", &clk);
	splitv = map_get(map, "split", &splitk);
	if (splitv != NULL)
		err_node(ld, splitk,
			 "%s: \"split\" is not supported in this version", lbl);
	if (map_get(map, "sticky", &k) != NULL)
		err_node(ld, k,
			 "%s: \"sticky\" is not supported in this version",
			 lbl);
	if (clv != NULL && splitv != NULL)
		err_node(ld, later(clk, splitk),
			 "%s: \"cluster\" and \"split\" are mutually exclusive",
			 lbl);
	else if (clv == NULL && splitv == NULL)
		err_node(ld, map, "%s: missing key \"cluster\"", lbl);
	else if (clv != NULL && get_str(ld, "cluster", clv, &s) == 0) {
		for (i = 0; i < conf->nclusters; i++) {
			if (conf->clusters[i].name != NULL &&
			    strcmp(conf->clusters[i].name, s) == 0) {
				r->cluster = &conf->clusters[i];
				break;
			}
		}
		if (r->cluster == NULL)
			err_node(ld, clv, "%s: unknown cluster \"%s\"", lbl,
				 qnode(ld, clv));
	}
	if ((v = map_get(map, "timeout", NULL)) != NULL)
		get_duration(ld, "timeout", v, 1, CONF_DAY_MS, &r->timeout_ms);
}

static void
limits_defaults(struct sl_conf_limits *lim)
{
	lim->header_timeout_ms = DEF_HEADER_TIMEOUT_MS;
	lim->body_timeout_ms = DEF_BODY_TIMEOUT_MS;
	lim->send_timeout_ms = DEF_SEND_TIMEOUT_MS;
	lim->idle_timeout_ms = DEF_IDLE_TIMEOUT_MS;
	lim->max_uri_bytes = DEF_MAX_URI_BYTES;
	lim->max_header_bytes = DEF_MAX_HEADER_BYTES;
	lim->max_headers = DEF_MAX_HEADERS;
	lim->max_body_bytes = DEF_MAX_BODY_BYTES;
	lim->buffer_bytes = DEF_BUFFER_BYTES;
	lim->max_requests = 0;
}

/* Returns the address node when the listener's address is usable. */
static const struct node *
parse_listener(struct loader *ld, const struct node *map, size_t idx,
	       struct sl_conf_listener *l, struct sl_conf *conf)
{
	const struct node *v, *namen, *addr = NULL;
	char lbl[CONF_QUOTE_MAX * 4 + 32];
	size_t i;

	limits_defaults(&l->limits);
	if (map->type != NODE_MAP) {
		if (map->type != NODE_BAD)
			err_node(ld, map,
				 "\"listeners\": each item must be a mapping");
		return NULL;
	}
	check_keys(ld, map, listener_keys, "in listener");
	namen = map_get(map, "name", NULL);
	label(ld, lbl, sizeof(lbl), "listener", namen, idx);
	if (namen == NULL)
		err_node(ld, map, "%s: missing key \"name\"", lbl);
	else
		get_name(ld, namen, &l->name);

	if ((v = map_get(map, "address", NULL)) == NULL)
		err_node(ld, map, "%s: missing key \"address\"", lbl);
	else if (get_addr(ld, "address", v, &l->addr) == 0)
		addr = v;

	if ((v = map_get(map, "limits", NULL)) != NULL &&
	    get_map(ld, "limits", v) == 0)
		parse_limits(ld, v, &l->limits);

	if ((v = map_get(map, "routes", NULL)) == NULL)
		err_node(ld, map, "%s: missing key \"routes\"", lbl);
	else if (get_seq(ld, "routes", v) == 0) {
		if (v->nkids == 0) {
			err_node(ld, v, "%s: \"routes\" must not be empty",
				 lbl);
			return addr;
		}
		if ((l->routes = calloc(v->nkids, sizeof(*l->routes))) ==
		    NULL) {
			ld->oom = 1;
			return addr;
		}
		l->nroutes = v->nkids;
		for (i = 0; i < v->nkids; i++)
			parse_route(ld, v->kids[i], i, &l->routes[i], conf);
	}
	return addr;
}

/* Duplicate names, and addresses that two sockets cannot both listen on. */
static void
check_listeners(struct loader *ld, const struct node *seq,
		const struct node **addrs, const struct node *admin,
		struct sl_conf *conf)
{
	const struct sl_conf_listener *a, *b;
	const struct node *na, *nb;
	size_t i, j;

	for (i = 1; i < conf->nlisteners; i++) {
		b = &conf->listeners[i];
		for (j = 0; b->name != NULL && j < i; j++) {
			a = &conf->listeners[j];
			if (a->name == NULL || strcmp(a->name, b->name) != 0)
				continue;
			na = map_get(seq->kids[j], "name", NULL);
			nb = map_get(seq->kids[i], "name", NULL);
			err_node(ld, nb,
				 "duplicate listener name \"%s\" (first at "
				 "%u:%u)",
				 qnode(ld, nb), na->line, na->col);
			break;
		}
		for (j = 0; addrs[i] != NULL && j < i; j++) {
			a = &conf->listeners[j];
			if (addrs[j] == NULL)
				continue;
			if (sockaddr_same(&a->addr.ss, &b->addr.ss))
				err_node(ld, addrs[i],
					 "listener \"%s\": address %s is "
					 "already used by listener \"%s\"",
					 b->name ? qstr(ld, b->name) : "?",
					 qstr(ld, b->addr.text),
					 a->name ? qstr(ld, a->name) : "?");
			else if (sockaddr_overlap(&a->addr.ss, &b->addr.ss))
				err_node(ld, addrs[i],
					 "listener \"%s\": address %s overlaps "
					 "%s of listener \"%s\"",
					 b->name ? qstr(ld, b->name) : "?",
					 qstr(ld, b->addr.text),
					 qstr(ld, a->addr.text),
					 a->name ? qstr(ld, a->name) : "?");
			else
				continue;
			break;
		}
	}
	if (admin == NULL)
		return;
	for (j = 0; j < conf->nlisteners; j++) {
		a = &conf->listeners[j];
		if (addrs[j] == NULL ||
		    !(sockaddr_same(&a->addr.ss, &conf->admin_addr.ss) ||
		      sockaddr_overlap(&a->addr.ss, &conf->admin_addr.ss)))
			continue;
		err_node(ld, admin,
			 "\"admin\": address %s conflicts with %s of listener "
			 "\"%s\"",
			 qstr(ld, conf->admin_addr.text),
			 qstr(ld, a->addr.text),
			 a->name ? qstr(ld, a->name) : "?");
		break;
	}
}

static void
parse_listeners(struct loader *ld, const struct node *seq,
		const struct node *admin, struct sl_conf *conf)
{
	const struct node **addrs;
	size_t i;

	if (get_seq(ld, "listeners", seq) == -1)
		return;
	if (seq->nkids == 0) {
		err_node(ld, seq, "\"listeners\": must not be empty");
		return;
	}
	if ((conf->listeners = calloc(seq->nkids, sizeof(*conf->listeners))) ==
		NULL ||
	    (addrs = calloc(seq->nkids, sizeof(*addrs))) == NULL) {
		ld->oom = 1;
		return;
	}
	conf->nlisteners = seq->nkids;
	for (i = 0; i < seq->nkids; i++)
		addrs[i] = parse_listener(ld, seq->kids[i], i,
					  &conf->listeners[i], conf);
	check_listeners(ld, seq, addrs, admin, conf);
	free(addrs);
}

/* ---- top level --------------------------------------------------------- */

static const char *const top_keys[] = {
    "workers", "admin", "log", "drain_timeout", "listeners", "clusters", NULL,
};
static const char *const admin_keys[] = {"address", NULL};
static const char *const log_keys[] = {"level", "access", "access_format",
				       NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug",
					  NULL};
static const char *const format_names[] = {"json", "combined", NULL};

static void
parse_workers(struct loader *ld, const struct node *n, struct sl_conf *conf)
{
	const char *s = n->str;
	uint64_t v;

	if (n->type == NODE_BAD)
		return;
	if (is_string(n) && strcmp(n->str, "auto") == 0) {
		conf->workers = 0;
		return;
	}
	if (n->type != NODE_SCALAR || !n->plain || strlen(s) != n->len ||
	    parse_digits(&s, &v) == NUM_BAD || *s != '\0' || v == 0) {
		err_node(ld, n,
			 "\"workers\": expected an integer >= 1 or "
			 "\"auto\"");
		return;
	}
	s = n->str;
	if (parse_digits(&s, &v) != NUM_OK || v > CONF_MAX_WORKERS) {
		err_node(ld, n, "\"workers\": %s is out of range (1..%d)",
			 qnode(ld, n), CONF_MAX_WORKERS);
		return;
	}
	conf->workers = (unsigned)v;
}

static void
parse_log(struct loader *ld, const struct node *map, struct sl_conf *conf)
{
	const struct node *v;
	const char *s;
	char *d;
	int e;

	check_keys(ld, map, log_keys, "in log");
	if ((v = map_get(map, "level", NULL)) != NULL &&
	    (e = get_enum(ld, "level", v, level_names,
			  "error, warn, info or debug")) >= 0)
		conf->log_level = (enum sl_log_level)e;
	if ((v = map_get(map, "access", NULL)) != NULL &&
	    get_str(ld, "access", v, &s) == 0) {
		if (s[0] == '\0')
			err_node(ld, v,
				 "\"access\": expected off, stdout, stderr or "
				 "a file path");
		else if ((d = xstrdup(ld, s)) != NULL) {
			free(conf->access_log);
			conf->access_log = d;
		}
	}
	if ((v = map_get(map, "access_format", NULL)) != NULL &&
	    (e = get_enum(ld, "access_format", v, format_names,
			  "json or combined")) >= 0)
		conf->access_format = (enum sl_access_format)e;
}

static void
parse_root(struct loader *ld, const struct node *root, struct sl_conf *conf)
{
	const struct node *v, *admin = NULL;

	if (root == NULL) {
		err_at(ld, 1, 1,
		       "the configuration is empty (expected a mapping with "
		       "\"listeners\")");
		return;
	}
	if (root->type != NODE_MAP) {
		if (root->type != NODE_BAD)
			err_node(ld, root,
				 "expected a mapping at the top level");
		return;
	}
	check_keys(ld, root, top_keys, "at the top level");
	if ((v = map_get(root, "workers", NULL)) != NULL)
		parse_workers(ld, v, conf);
	if ((v = map_get(root, "admin", NULL)) != NULL &&
	    get_map(ld, "admin", v) == 0) {
		check_keys(ld, v, admin_keys, "in admin");
		if ((admin = map_get(v, "address", NULL)) == NULL)
			err_node(ld, v, "admin: missing key \"address\"");
		else if (get_addr(ld, "address", admin, &conf->admin_addr) == 0)
			conf->has_admin = 1;
		else
			admin = NULL;
	}
	if ((v = map_get(root, "log", NULL)) != NULL &&
	    get_map(ld, "log", v) == 0)
		parse_log(ld, v, conf);
	if ((v = map_get(root, "drain_timeout", NULL)) != NULL)
		get_duration(ld, "drain_timeout", v, 0, CONF_DAY_MS,
			     &conf->drain_timeout_ms);
	/* Clusters first: routes refer to them wherever they are written. */
	if ((v = map_get(root, "clusters", NULL)) != NULL)
		parse_clusters(ld, v, conf);
	if ((v = map_get(root, "listeners", NULL)) == NULL)
		err_node(ld, root, "missing key \"listeners\"");
	else
		parse_listeners(ld, v, admin, conf);
}

/* ---- public ------------------------------------------------------------ */

static void
conf_free(struct sl_conf *conf)
{
	struct sl_conf_listener *l;
	struct sl_conf_route *r;
	struct sl_conf_cluster *cl;
	size_t i, j, k;

	for (i = 0; i < conf->nlisteners; i++) {
		l = &conf->listeners[i];
		free(l->name);
		free(l->addr.text);
		for (j = 0; j < l->nroutes; j++) {
			r = &l->routes[j];
			free(r->name);
			free(r->host);
			free(r->path);
			for (k = 0; k < r->nmethods; k++)
				free(r->methods[k]);
			free(r->methods);
			for (k = 0; k < r->nheaders; k++) {
				free(r->headers[k].name);
				free(r->headers[k].value);
			}
			free(r->headers);
		}
		free(l->routes);
	}
	free(conf->listeners);
	for (i = 0; i < conf->nclusters; i++) {
		cl = &conf->clusters[i];
		free(cl->name);
		for (j = 0; j < cl->nendpoints; j++)
			free(cl->endpoints[j].addr.text);
		free(cl->endpoints);
	}
	free(conf->clusters);
	free(conf->admin_addr.text);
	free(conf->access_log);
	free(conf->path);
	free(conf);
}

struct sl_conf *
sl_conf_load_buffer(const char *name, const char *text, size_t len,
		    char **errors)
{
	struct loader ld;
	struct sl_conf *conf = NULL;
	struct node *root = NULL;
	yaml_parser_t parser;
	int fatal = 1;

	memset(&ld, 0, sizeof(ld));
	ld.name = name != NULL ? name : "<buffer>";
	ld.text = text != NULL ? text : "";
	ld.len = text != NULL ? len : 0;

	if (yaml_parser_initialize(&parser)) {
		yaml_parser_set_input_string(
		    &parser, (const unsigned char *)ld.text, ld.len);
		root = tree_build(&ld, &parser, &fatal);
		yaml_parser_delete(&parser);
	} else
		ld.oom = 1;

	if (!fatal && (conf = calloc(1, sizeof(*conf))) == NULL)
		ld.oom = 1;
	if (conf != NULL) {
		atomic_init(&conf->refcnt, 1);
		conf->log_level = SL_LOG_INFO;
		conf->access_format = SL_ACCESS_JSON;
		conf->drain_timeout_ms = DEF_DRAIN_TIMEOUT_MS;
		conf->path = xstrdup(&ld, ld.name);
		conf->access_log = xstrdup(&ld, "stdout");
		parse_root(&ld, root, conf);
	}
	node_free(root);

	if (ld.oom)
		err_at(&ld, 0, 0, "out of memory");
	if (ld.nerrs > 0 || ld.oom) {
		if (conf != NULL)
			conf_free(conf);
		conf = NULL;
	}
	if (errors != NULL)
		*errors = errors_finish(&ld);
	else
		free(errors_finish(&ld));
	return conf;
}

/* One error line without a position, for problems with the file itself. */
static char *
file_error(const char *path, const char *what, int err)
{
	size_t sz = strlen(path) + strlen(what) + 128;
	char *s;

	if ((s = malloc(sz)) != NULL)
		snprintf(s, sz, "%s: error: %s%s%s\n", path, what,
			 err ? ": " : "", err ? strerror(err) : "");
	return s;
}

struct sl_conf *
sl_conf_load(const char *path, char **errors)
{
	struct sl_conf *conf;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;
	FILE *f;

	if (errors != NULL)
		*errors = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		if (errors != NULL)
			*errors = file_error(path, "cannot open", errno);
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16384;
			if (cap > CONF_MAX_FILE + 1)
				cap = CONF_MAX_FILE + 1;
			if (len == cap) {
				if (errors != NULL)
					*errors = file_error(
					    path,
					    "the file is larger than 16MiB", 0);
				goto fail;
			}
			if ((nb = realloc(buf, cap)) == NULL) {
				if (errors != NULL)
					*errors = file_error(
					    path, "cannot read", ENOMEM);
				goto fail;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				if (errors != NULL)
					*errors = file_error(
					    path, "cannot read", errno);
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	conf = sl_conf_load_buffer(path, buf, len, errors);
	free(buf);
	return conf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

struct sl_conf *
sl_conf_ref(struct sl_conf *conf)
{
	atomic_fetch_add_explicit(&conf->refcnt, 1, memory_order_relaxed);
	return conf;
}

void
sl_conf_unref(struct sl_conf *conf)
{
	if (conf == NULL)
		return;
	if (atomic_fetch_sub_explicit(&conf->refcnt, 1, memory_order_acq_rel) ==
	    1)
		conf_free(conf);
}
