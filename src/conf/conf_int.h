/* SPDX-License-Identifier: MIT */
/*
 * Private to the schema files (conf.c and every conf_*.c but the YAML
 * layer's conf_yaml.c, conf_yaml_err.c and conf_node.c, and
 * conf_secret.c) and to the unit tests test_conf.c and test_conf_tables.c:
 * the sections of the file, the helpers and bounds they share and what
 * conf.c calls in the others while it walks the node tree.
 * Every function here reports its errors through ld and does no I/O, but
 * two: auth's route_parse reads a key set's file, and the modules' settle
 * (sl_conf_modules_settle) loads what their keys name (a WAF's rule
 * files). No other module may include it; theirs is conf.h.
 */
#ifndef SL_CONF_INT_H
#define SL_CONF_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#include "conf_types.h"
#include "conf_yaml.h"

/* What a client connection's input buffer holds at most: the larger of
 * buffer_bytes and max_header_bytes, as the HTTP/1 codec sizes it
 * (client_h1.c, in_cap). The checks of what must wait in it (a WAF's
 * body, an Idempotency-Key's body) compare against this. */
static inline uint64_t
sl_conf_limits_room(const struct sl_conf_limits *lim)
{
	return lim->buffer_bytes > lim->max_header_bytes
		   ? lim->buffer_bytes
		   : lim->max_header_bytes;
}

#define CONF_DAY_MS    (24ULL * 3600 * 1000) /* longest duration (ms) */
#define CONF_MAX_COUNT 4294967295ULL	     /* max_requests */
#define CONF_MAX_CONNS 10000000		     /* max_connections(_per_ip) */

/* ---- the sections: conf.c's outline, conf_keys.c's checks ------------- */

enum sl_conf_section {
	SL_CONF_SEC_TOP = 0,
	SL_CONF_SEC_ADMIN,
	SL_CONF_SEC_ADMIN_AUTH,
	SL_CONF_SEC_LOG,
	SL_CONF_SEC_RESOLVER,
	SL_CONF_SEC_LISTENER,
	SL_CONF_SEC_LIMITS,
	SL_CONF_SEC_TLS_SERVER,
	SL_CONF_SEC_TLS_CERT, /* an item of a listener's tls.certificates */
	SL_CONF_SEC_HTTP3,
	SL_CONF_SEC_PROXY_PROTOCOL,
	SL_CONF_SEC_LISTENER_HEADERS, /* request_headers, response_headers */
	SL_CONF_SEC_ROUTE,
	SL_CONF_SEC_MATCH,
	SL_CONF_SEC_SPLIT, /* an item of split */
	SL_CONF_SEC_RETRY,
	SL_CONF_SEC_ROUTE_HEADERS,
	SL_CONF_SEC_CLUSTER,
	SL_CONF_SEC_ENDPOINT, /* an item of endpoints written as a mapping */
	SL_CONF_SEC_POOL,
	SL_CONF_SEC_HEALTH,
	SL_CONF_SEC_OUTLIER,
	SL_CONF_SEC_TLS_CLIENT,
	SL_CONF_SEC_DNS, /* a cluster's dns: */
	SL_CONF_SEC_N
};
/* A module's sections' parents among its own (core/module.h's secs):
 * its top_sec, its route_sec, its secs[k]; conf_mods.c numbers them. */
#define SL_CONF_SEC_MOD_TOP    ((enum sl_conf_section)SL_CONF_SEC_N)
#define SL_CONF_SEC_MOD_ROUTE  ((enum sl_conf_section)(SL_CONF_SEC_N + 1))
#define SL_CONF_SEC_MOD_SUB(k) ((enum sl_conf_section)(SL_CONF_SEC_N + 2 + (k)))

/*
 * A section of the file and how messages name it: one entry of the
 * outline of the schema (sl_conf_outline, conf.c). A key of it found in
 * another section is said to belong "down" from its parent, "up" from a
 * section inside it, and "far" from anywhere else.
 */
struct sl_conf_section_def {
	enum sl_conf_section parent;	    /* the top level's is itself */
	const char *const *keys;	    /* NULL-terminated, or NULL */
	const struct sl_conf_keydef *table; /* the keys when keys is NULL */
	const char *where; /* "in limits": unknown key "x" in limits */
	const char *down;  /* seen from its parent */
	const char *far;   /* seen from elsewhere */
	const char *up;	   /* seen from inside; NULL: nothing is */
};

/*
 * Reports the keys of map that section sec does not hold, or holds twice
 * (sl_yaml_check_keys). An unknown key that is no typing mistake for one of
 * sec's is looked up in the other sections: the message says where it
 * belongs ("(it belongs under \"limits\")") or which key of another
 * section it likely misspells. The sections are those of ld->outline,
 * which the loader set (sl_conf_outline).
 */
void sl_conf_check_keys(struct sl_yaml_loader *ld,
			const struct sl_yaml_node *map,
			enum sl_conf_section sec);

/*
 * The configuration as tables: a key declared once, with how it is read,
 * its range, its default and where it is stored, as nginx's command
 * tables do. A section's table lists every key of the section, in the
 * order its old key list had (the outline, sl_conf_outline, takes the
 * names from it); the typed keys are read by sl_conf_table_read() in the
 * table's order, which is the order the old parser read them in, so that
 * errors at one position (two keys through one alias) come out in the
 * same order. doc/design-notes.md ("The configuration as tables") says
 * what is left.
 */
enum sl_conf_type {
	SL_CONF_CODE = 0, /* read by the section's own code, before or after
			     sl_conf_table_read(); named here for the outline */
	SL_CONF_DURATION, /* "250ms", "30s" (sl_yaml_get_duration): ms */
	SL_CONF_SIZE,	  /* "16KiB" (sl_yaml_get_size): bytes */
	SL_CONF_UINT,	  /* a plain integer (sl_yaml_get_uint) */
	SL_CONF_PERCENT,  /* "20%" (sl_yaml_get_percent): the number */
	SL_CONF_BOOL,	  /* true | false (sl_conf_get_bool): 1 or 0 */
	SL_CONF_ENUM,	  /* one of names (sl_yaml_get_enum): its index */
	SL_CONF_SET,	  /* read by the entry's set(), in the table's order */
};

struct sl_conf_keydef {
	const char *name; /* NULL ends a table */
	enum sl_conf_type type;
	uint64_t min, max; /* the range, in the unit stored (DURATION, SIZE,
			      UINT, PERCENT) */
	uint64_t def;	   /* the value when the key is not written */
	size_t off, size;  /* the field it is stored in, in the section's
			      struct: offset, and width in bytes (8: a
			      uint64_t; 4: a uint32_t, an int or an enum);
			      size 0: none (CODE, or a SET without default) */
	const char *const *names; /* ENUM: the values, NULL-terminated */
	const char *expected;	  /* ENUM: its "expected ..." text, as
				     "error, warn, info or debug" */
	/* SET: reads the key's value v into base (the section's struct);
	 * lbl names the item in messages (NULL at the top level). Returns
	 * 0, or -1 with the error reported. */
	int (*set)(struct sl_yaml_loader *ld, const char *lbl,
		   const struct sl_yaml_node *v, void *base);
};

/* An entry's field: member f of struct st (SL_CONF_FIELD(struct x, f)). */
#define SL_CONF_FIELD(st, f)                                                   \
	.off = offsetof(st, f), .size = sizeof(((st *)0)->f)

/* Tables hold at most this many keys. */
#define SL_CONF_TABLE_MAX 32

/* Stores the default of every key of table t that has a field into
 * base. */
void sl_conf_table_defaults(const struct sl_conf_keydef *t, void *base);

/*
 * Reads each key of table t that map holds and that is not SL_CONF_CODE
 * into base, in the table's order, each error reported at its value; lbl
 * is passed to the set() handlers. When got is not NULL, got[i] is then
 * the value node of t[i] when it was written and read, NULL when it was
 * not written, is wrong (base keeps the default) or is SL_CONF_CODE.
 */
void sl_conf_table_read(struct sl_yaml_loader *ld, const char *lbl,
			const struct sl_yaml_node *map,
			const struct sl_conf_keydef *t, void *base,
			const struct sl_yaml_node **got);

/* got[i] (see sl_conf_table_read) of the key of t named name. */
const struct sl_yaml_node *
sl_conf_table_got(const struct sl_conf_keydef *t,
		  const struct sl_yaml_node *const *got, const char *name);

/* The sections declared as tables, each with the struct it fills. */
extern const struct sl_conf_keydef sl_conf_top_table[];	    /* sl_conf */
extern const struct sl_conf_keydef sl_conf_log_table[];	    /* sl_conf */
extern const struct sl_conf_keydef sl_conf_limits_table[];  /* sl_conf_limits */
extern const struct sl_conf_keydef sl_conf_route_table[];   /* sl_conf_route */
extern const struct sl_conf_keydef sl_conf_retry_table[];   /* sl_conf_retry */
extern const struct sl_conf_keydef sl_conf_cluster_table[]; /* .._cluster */
extern const struct sl_conf_keydef sl_conf_pool_table[];    /* .._cluster */
extern const struct sl_conf_keydef sl_conf_health_table[];  /* .._health */
extern const struct sl_conf_keydef sl_conf_outlier_table[]; /* .._outlier */
extern const struct sl_conf_keydef sl_conf_resolver_table[]; /* sl_conf */
extern const struct sl_conf_keydef sl_conf_dns_table[];	     /* .._cluster */

/*
 * The outline of the schema: every section of the file (SL_CONF_SEC_N of
 * them), where it sits and the keys it may hold, its own list or its
 * table's. conf.c's: it names the section files' tables, and hands the
 * outline to the key checks through the loader (ld->outline). conf_keys.c
 * never names it, so that the section files may call conf_keys.c while
 * conf.c names their tables: the calls go one way (contrib/layers.sh).
 */
extern const struct sl_conf_section_def sl_conf_outline[];

/* ---- conf_mods.c: the module table (core/module.h) ----------------------- */

/* The modules the table holds, most, and their sections, most. */
#define SL_CONF_MODULES_MAX	 16
#define SL_CONF_MODULES_SECS_MAX 48
/* Sets each module's slot and counters' first words, once for the
 * process. */
void sl_conf_modules_init(void);
/* Appends the modules' sections to outline o of n sections (numbering
 * them: each module's top_sec_id, route_sec_id); returns the new count.
 * Once for the process (conf.c's sl_conf_outline_all). */
unsigned sl_conf_modules_sections(struct sl_conf_section_def *o, unsigned n);
/* Where a module's key is written. */
enum sl_conf_mod_where {
	SL_CONF_MOD_TOP = 0,
	SL_CONF_MOD_ROUTE,
	SL_CONF_MOD_LISTENER,
};
/* keys: table t's names (t NULL: none), then names (NULL-terminated, or
 * NULL), then the modules' keys written there, NULL-terminated (room:
 * those and SL_CONF_MODULES_MAX). */
void sl_conf_modules_keys(const char **keys, const struct sl_conf_keydef *t,
			  const char *const *names,
			  enum sl_conf_mod_where where);
/* The whole outline (conf.c): sl_conf_outline's sections, then the
 * modules'; the top level's and a route's keys with theirs. *n
 * sections. */
const struct sl_conf_section_def *sl_conf_outline_all(unsigned *n);
/* The modules' top-level keys (root: the file's mapping, NULL: none
 * written): each module's slot of conf, its value or its defaults. */
void sl_conf_modules_top(struct sl_yaml_loader *ld,
			 const struct sl_yaml_node *root, struct sl_conf *conf);
void sl_conf_modules_top_free(struct sl_conf *conf);
/* A route's keys of the modules (map: the route), into its slots. */
void sl_conf_modules_route(struct sl_yaml_loader *ld, const char *lbl,
			   const struct sl_yaml_node *map,
			   struct sl_conf_route *r, struct sl_conf *conf);
/* A listener's keys of the modules (map: the listener), into its
 * slots; and what they hold, freed. */
void sl_conf_modules_listener(struct sl_yaml_loader *ld, const char *lbl,
			      const struct sl_yaml_node *map,
			      struct sl_conf_listener *l, struct sl_conf *conf);
void sl_conf_modules_listener_free(struct sl_conf_listener *l);
/* The modules' checks once the whole file is read: every module's
 * route_settle of every route, then every module's settle. */
void sl_conf_modules_settle(struct sl_yaml_loader *ld, struct sl_conf *conf);
/* The modules' secrets (conf_secret.c): read, and shared on a reload. */
void sl_conf_modules_secrets(struct sl_conf *conf, char **errors,
			     char **warnings);
int sl_conf_modules_share(struct sl_conf *nc, const struct sl_conf *oc);
/* Appends one "FILE:LINE:COL: LEVEL: TEXT" line to *out (conf_util.c):
 * a secret's message (conf_secret.c, a module's secrets). */
void sl_conf_msg(char **out, const struct sl_conf *conf, const char *level,
		 const struct sl_conf_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The password in secret file f (conf_util.c): one line of printable
 * bytes, its line end removed; a malloc'd string, or NULL said in
 * *errors (key: the key that names the file, what: "password"). */
char *sl_conf_read_password(const struct sl_conf *conf,
			    const struct sl_conf_file *f, const char *key,
			    const char *what, char **errors, char **warnings);
/* A sealing key of 32 bytes in file f (conf_idem.c; idempotency's
 * key_file, acme's): the bytes as they are, or 64 hexadecimal digits.
 * 0 with out set, or -1 said in *errors (what: the key that names it). */
int sl_conf_read_seal_key(struct sl_conf *conf, const struct sl_conf_file *f,
			  const char *what, unsigned char out[32],
			  char **errors, char **warnings);
/* At most cap bytes of secret file f into buf (conf_util.c): the bytes
 * read, or -1 said in *errors; a file others may read warned of. The
 * caller cleanses buf. */
ssize_t sl_conf_secret_read(const struct sl_conf *conf,
			    const struct sl_conf_file *f, const char *key,
			    void *buf, size_t cap, char **errors,
			    char **warnings);
void sl_conf_modules_route_free(struct sl_conf_route *r);

/* ---- conf_util.c: shared helpers
 * --------------------------------------------- */

/* An HTTP token of len bytes (RFC 9110 tchar), s holding no NUL: 1 or 0. */
int sl_conf_is_token(const char *s, size_t len);
/* The whole of the regular file path (at most max bytes, max_text in
 * messages) that key names at node n, NUL-terminated, into *buf (*len
 * bytes, the caller frees it). Returns 0, or -1 with an error at n. */
int sl_conf_read_file(struct sl_yaml_loader *ld, const char *lbl,
		      const char *key, const struct sl_yaml_node *n,
		      const char *path, size_t max, const char *max_text,
		      char **buf, size_t *len);
/* Whether s (len bytes) is a route's host: 0 a name or "*.suffix"
 * (*wild 1 then), -2 a name with a port, -1 anything else. */
int sl_conf_host_pattern(const char *s, size_t len, int *wild);

/* true | false into *out. Returns 0, or -1 with the error reported. */
int sl_conf_get_bool(struct sl_yaml_loader *ld, const char *key,
		     const struct sl_yaml_node *n, int *out);

/*
 * "header:NAME", "cookie:NAME" or "client_ip" (sticky:, hash_key:, a rate
 * limit's key:) into k; k->name is malloc'd, header names lower-cased.
 * Returns 0, or -1 with the error reported.
 */
int sl_conf_parse_key(struct sl_yaml_loader *ld, const char *key,
		      const struct sl_yaml_node *n, struct sl_conf_key *k);

/*
 * The required "name" of a listener's or a cluster's mapping (what: its
 * kind) into *name, and the label its messages start with into lbl
 * (SL_YAML_LABEL_MAX bytes): "listener \"api\"", or "listener #2" when the
 * name is missing (reported) or unusable.
 */
void sl_conf_item_name(struct sl_yaml_loader *ld,
		       const struct sl_yaml_node *map, const char *what,
		       size_t idx, char *lbl, char **name);

/* The same address and port: 1 or 0. */
/* The port of an address, in host order. */
uint16_t sl_conf_sockaddr_port(const struct sockaddr_storage *ss);
int sl_conf_sockaddr_same(const struct sockaddr_storage *a,
			  const struct sockaddr_storage *b);

/* Two listening sockets on these addresses would fight over the same port
 * (the same port, and either address a wildcard): 1 or 0. */
int sl_conf_sockaddr_overlap(const struct sockaddr_storage *a,
			     const struct sockaddr_storage *b);

/* ---- conf_cluster.c ----------------------------------------------------- */

/*
 * The top-level clusters: (the value seq) into conf->clusters, names
 * checked unique. Routes may then name them.
 */
void sl_conf_parse_clusters(struct sl_yaml_loader *ld,
			    const struct sl_yaml_node *seq,
			    struct sl_conf *conf);
/* Frees what sl_conf_parse_clusters allocated in cl (not cl itself). */
void sl_conf_free_cluster(struct sl_conf_cluster *cl);

/* ---- conf_route.c ------------------------------------------------------- */

/*
 * Route number idx of a listener (the item map) into r, its clusters
 * looked up in conf->clusters; counts it in conf->nroutes.
 */
void sl_conf_parse_route(struct sl_yaml_loader *ld,
			 const struct sl_yaml_node *map, size_t idx,
			 struct sl_conf_route *r, struct sl_conf *conf);
/* Frees what sl_conf_parse_route allocated in r (not r itself). */
void sl_conf_free_route(struct sl_conf_route *r);

/* ---- conf_hosts.c ------------------------------------------------------- */

/* A route's match.hosts_file, the node n naming it: the file read and
 * every name checked into r->hosts, or errors at n. */
void sl_conf_parse_hosts_file(struct sl_yaml_loader *ld, const char *lbl,
			      const struct sl_yaml_node *n,
			      struct sl_conf_route *r);
void sl_conf_free_hostset(struct sl_conf_hostset *hs);

/* ---- conf_edge.c: identity (doc/edge.md sections 2 and 3) --------------- */

/* A listener's proxy_protocol, trusted_proxies, client_address_header and
 * untrusted_forwarded, read from the listener's mapping map into l. */
void sl_conf_parse_identity(struct sl_yaml_loader *ld, const char *lbl,
			    const struct sl_yaml_node *map,
			    struct sl_conf_listener *l);
/* A cluster's proxy_protocol (off | v2), from the cluster's mapping. */
void sl_conf_parse_cluster_identity(struct sl_yaml_loader *ld,
				    const struct sl_yaml_node *map,
				    struct sl_conf_cluster *cl);
/* Frees what sl_conf_parse_identity allocated in l (not l itself). */
void sl_conf_free_identity(struct sl_conf_listener *l);

/* ---- conf_edge.c: policy (doc/edge.md sections 4 and 5) ----------------- */

/*
 * allow, deny, request_headers and response_headers of a listener or a
 * route (the mapping map) into a malloc'd *pp, which stays NULL when none
 * is written; the generation frees it with sl_policy_free. headers is the
 * section of its header rules (SL_CONF_SEC_LISTENER_HEADERS or
 * SL_CONF_SEC_ROUTE_HEADERS).
 */
void sl_conf_parse_policy(struct sl_yaml_loader *ld,
			  const struct sl_yaml_node *map,
			  enum sl_conf_section headers,
			  const struct sl_conf *conf, struct sl_policy **pp);
/* A route's policy and max_body_bytes; call after its
 * expose_cluster_header is read. */
void sl_conf_parse_route_policy(struct sl_yaml_loader *ld, const char *lbl,
				const struct sl_yaml_node *map,
				const struct sl_conf *conf,
				struct sl_conf_route *r);
/*
 * Credentials in header values (doc/sluice.yaml.5, secret_headers): no
 * message quotes one. sl_conf_secret_header: whether the field
 * name[0..len) holds one, by the built-in names or conf's secret_headers
 * (read before the listeners). sl_conf_qstarred: what a message shows
 * instead of a value of len bytes, one '*' a byte (cut as a quote is),
 * in one of ld's quote buffers. sl_conf_value_flaw: why a field value
 * v[0..len) is refused (a control byte, a blank at an end), said by its
 * place and never its bytes (in buf when it needs one), or NULL.
 */
int sl_conf_secret_header(const struct sl_conf *conf, const char *name,
			  size_t len);
const char *sl_conf_qstarred(struct sl_yaml_loader *ld, size_t len);
const char *sl_conf_value_flaw(const char *v, size_t len, char *buf,
			       size_t bufsz);
/*
 * Once a listener's tls, policy and routes are read: checks the rules
 * against the fields sluice writes, puts together the rules each route's
 * messages meet, and gives a route without max_body_bytes the listener's.
 */
void sl_conf_check_listener_policy(struct sl_yaml_loader *ld,
				   struct sl_conf_listener *l);

/* The cluster a string node names, or NULL (reported, with a suggestion
 * when one is close): conf_route.c's. */
struct sl_conf_cluster *sl_conf_find_cluster(struct sl_yaml_loader *ld,
					     const char *lbl, const char *key,
					     const struct sl_yaml_node *n,
					     struct sl_conf *conf);

/* ---- conf_tls.c (doc/tls.md) -------------------------------------------- */

/*
 * A listener's tls: (the value map) into t, which holds the defaults;
 * lbl names the listener in messages. File names are kept, not opened.
 */
/* A file's path at node n of key (not empty), and its place for the
 * messages of whatever reads it later (conf_tls.c). */
void sl_conf_get_file(struct sl_yaml_loader *ld, const char *key,
		      const struct sl_yaml_node *n, struct sl_conf_file *f);
void sl_conf_parse_tls_server(struct sl_yaml_loader *ld, const char *lbl,
			      const struct sl_yaml_node *map,
			      struct sl_conf_tls_server *t);
/* A cluster's tls: (the value map) into t, which holds the defaults. */
void sl_conf_parse_tls_client(struct sl_yaml_loader *ld, const char *lbl,
			      const struct sl_yaml_node *map,
			      struct sl_conf_tls_client *t);
/* A listener's http3: (map, true or false), beside its other keys
 * (listener: it needs tls:, and no proxy_protocol:). */
void sl_conf_parse_http3(struct sl_yaml_loader *ld, const char *lbl,
			 const struct sl_yaml_node *listener,
			 const struct sl_yaml_node *map,
			 struct sl_conf_listener *l);

#endif
