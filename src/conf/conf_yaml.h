/* SPDX-License-Identifier: MIT */
/*
 * Internal to the configuration module (the schema files conf*.c, its
 * tests and fuzzers): the YAML document as a node tree with positions, the
 * error list of one load, and typed getters for scalars. Knows no sluice
 * key; that is the schema's job.
 */
#ifndef SL_CONF_YAML_H
#define SL_CONF_YAML_H

#include <stddef.h>
#include <stdint.h>

#define SL_YAML_QUOTE_MAX 64 /* bytes of a value in messages */
/*
 * Nodes that aliases (and merge keys taking an anchored mapping) may add
 * to one document, all together: a bound on the memory and time of
 * expanding them (about 150 bytes a node), whatever the file does.
 */
#define SL_YAML_MAX_ALIAS_NODES 100000
/* Bytes of a buffer for sl_yaml_label() and for labels built alike. */
#define SL_YAML_LABEL_MAX (SL_YAML_QUOTE_MAX * 4 + 32)

struct sl_conf_addr;
struct sl_conf_section_def;

/*
 * The YAML document as a small tree built from libyaml events, so that every
 * node keeps its position. Owned by the loader, freed before it returns.
 */
enum sl_yaml_node_type {
	SL_YAML_NODE_SCALAR,
	SL_YAML_NODE_SEQ,
	SL_YAML_NODE_MAP,
	SL_YAML_NODE_BAD, /* an alias in error: already reported, ignored by
			     every check */
};

/*
 * An alias that a node was reached through: a node copied from an anchor
 * carries the alias that copied it, which leads on to the alias that had
 * copied the original, if any (the original was itself inside an anchor
 * that an alias expanded). Owned by the loader.
 */
struct sl_yaml_via {
	unsigned line, col;	  /* of the "*", 1-based */
	const char *name;	  /* the anchor's name */
	char *own;		  /* name, when this via owns it */
	struct sl_yaml_via *next; /* NULL: the original was written */
	struct sl_yaml_via *all;  /* every via of the load, to free */
	struct sl_yaml_via *memo; /* see via_for() in conf_yaml.c */
	unsigned long memo_gen;
};

struct sl_yaml_node {
	enum sl_yaml_node_type type;
	unsigned line, col; /* 1-based position of the node's first char */
	char *str;	    /* scalars: the value, NUL-terminated */
	size_t len;	    /* scalars: bytes in str, NULs included */
	int plain;	    /* scalars: plain style and no tag */
	int flow;	    /* seq, map: written [...] or {...} */
	unsigned end_line;  /* seq, map: line of its end; 0 while open */
	struct sl_yaml_node **kids; /* seq: items; map: key, value, ... */
	size_t nkids, cap;
	/*
	 * A copy made by an alias keeps the position of the node it copies
	 * (where the user wrote the value) and says through which alias it
	 * came: error messages name it. NULL: written here.
	 */
	struct sl_yaml_via *via;
	size_t size; /* once whole: nodes in the subtree, itself too */
	unsigned
	    levels;   /* once whole: nested seqs and maps in it, itself too */
	int anchored; /* an anchor names it: merges copy, never move it */
	int in_arena; /* it and its str are the loader's arena's, freed
			 with it (sl_yaml_errors_finish) */
};

/* A chunk of the loader's arena: nodes and their values, bump-allocated
 * (a file of 100,000 routes makes a million nodes). */
struct sl_yaml_chunk {
	struct sl_yaml_chunk *next;
	size_t used, size;
	/* the bytes follow, max_align_t-aligned */
};

struct sl_yaml_err; /* one error line, private to conf_yaml_int.h */

/*
 * One load: the input and every error found in it so far. On the caller's
 * stack; sl_yaml_errors_finish() frees what it holds.
 */
struct sl_yaml_loader {
	const char *name; /* FILE in messages; borrowed */
	const char *text; /* the input, for positions of reader errors */
	size_t len;
	struct sl_yaml_err *errs;
	size_t nerrs, errcap;
	int oom;		     /* set by any failed malloc */
	struct sl_yaml_via *vias;    /* every via, to free */
	struct sl_yaml_chunk *arena; /* the tree's nodes, newest first */
	/*
	 * YAML parsing stopped before the end of the input (a syntax
	 * error): the tree is the part before stop_line, and a collection
	 * still open there is not whole (see sl_yaml_whole()).
	 */
	int stopped;
	unsigned stop_line;
	/*
	 * Set by the schema when the names that references are checked
	 * against may be cut short by the stop: "unknown NAME" is not said.
	 */
	int names_cut;
	/*
	 * Set by the schema: the outline of its sections that its key checks
	 * read (conf_int.h's sl_conf_outline_all; borrowed). NULL from
	 * sl_yaml_loader_init: this layer never reads it.
	 */
	const struct sl_conf_section_def *outline;
	unsigned noutline; /* its sections */
	/*
	 * Set by the schema while it reads one named part (a route's
	 * label, `route "api"`): every message is then said of it, so that
	 * one from a generic reader ("\"gzip_level\": 11 is out of range")
	 * names its route. A message that begins with it already is left
	 * as it is. Borrowed; NULL outside.
	 */
	const char *owner;
	/*
	 * Set by the schema while a module reads its value (conf_mods.c):
	 * the key the value is written under, for a message about the key
	 * itself. Borrowed; NULL outside.
	 */
	const struct sl_yaml_node *mod_key;
	char qbuf[4][SL_YAML_QUOTE_MAX * 4 + 8]; /* see sl_yaml_qnode() */
	unsigned qi;
};

enum sl_yaml_num {
	SL_YAML_NUM_OK = 0,
	SL_YAML_NUM_BARE,     /* digits without a unit */
	SL_YAML_NUM_BAD,      /* not digits followed by a known unit */
	SL_YAML_NUM_OVERFLOW, /* does not fit in 64 bits */
};

/* ---- loading and errors ------------------------------------------------ */

/*
 * Zeroes ld and points it at the input (borrowed, must outlive ld); a NULL
 * name reads "<buffer>", a NULL text is the empty input.
 */
void sl_yaml_loader_init(struct sl_yaml_loader *ld, const char *name,
			 const char *text, size_t len);

/*
 * Parses ld's input into a tree and returns the root of the first document
 * (NULL for an empty stream); the caller frees it with sl_yaml_node_free().
 * After a syntax error (reported, with a note that nothing after it was
 * checked) the tree holds what came before it and ld->stopped is set.
 * Sets *fatal when there is no usable tree (out of memory: ld->oom).
 */
struct sl_yaml_node *sl_yaml_parse(struct sl_yaml_loader *ld, int *fatal);

/* Frees n and everything under it; takes NULL. The nodes themselves and
 * their values are the loader's arena's, released by
 * sl_yaml_errors_finish: only the lists of their kids go at once. */
void sl_yaml_node_free(struct sl_yaml_node *n);

/*
 * Records "FILE:LINE:COL: error: MESSAGE" (no position when line is 0).
 * The _node forms add " (through the alias *NAME at LINE:COL)" for a node
 * an alias copied.
 */
void sl_yaml_err_at(struct sl_yaml_loader *ld, unsigned line, unsigned col,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same at the position of n. */
void sl_yaml_err_node(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
		      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The same, unless YAML parsing stopped inside n: for what n lacks (a key,
 * an item), which may be written after the stop.
 */
void sl_yaml_err_lacks(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
		       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Hands the collected errors out as one malloc'd string (the caller frees
 * it), one per line, sorted by position, and frees them and all else ld
 * holds (call it after the tree is freed). Returns NULL when there are
 * none (or no memory for them).
 */
char *sl_yaml_errors_finish(struct sl_yaml_loader *ld);

/*
 * The scalar n, or the string s, escaped for an error message (no
 * surrounding quotes): non-printable bytes as \xNN, long values cut with
 * "...". The result lives in one of four rotating buffers of ld: valid for
 * the next three calls.
 */
const char *sl_yaml_qnode(struct sl_yaml_loader *ld,
			  const struct sl_yaml_node *n);
const char *sl_yaml_qstr(struct sl_yaml_loader *ld, const char *s);

/* A malloc'd copy of s, or NULL with ld->oom set. */
char *sl_yaml_strdup(struct sl_yaml_loader *ld, const char *s);

/* ---- tree access ------------------------------------------------------- */

/*
 * Whether n was read to its end: true unless YAML parsing stopped inside
 * it. A check that something is missing from n (a key, an item) needs it.
 */
int sl_yaml_whole(const struct sl_yaml_loader *ld,
		  const struct sl_yaml_node *n);

/* A plain scalar "", "~" or "null" in any of its YAML spellings. */
int sl_yaml_is_null(const struct sl_yaml_node *n);
/* A non-null scalar without NUL bytes: usable as a C string. */
int sl_yaml_is_string(const struct sl_yaml_node *n);

/*
 * The value of key in map (first occurrence) or NULL; its key node in *keyp
 * when keyp is not NULL. Borrowed from the tree.
 */
const struct sl_yaml_node *sl_yaml_map_get(const struct sl_yaml_node *map,
					   const char *key,
					   const struct sl_yaml_node **keyp);

/* Of two nodes, the one written later in the file. */
const struct sl_yaml_node *sl_yaml_later(const struct sl_yaml_node *a,
					 const struct sl_yaml_node *b);

/*
 * Reports keys of map that are not strings, not in allowed (NULL-terminated)
 * or duplicated; where is "in listener" etc. An unknown key that is a
 * likely typing mistake for one of allowed gets "(did you mean ...?)";
 * for any other, hint (when not NULL) may write " (...)" into buf (sz
 * bytes, NUL-terminated, left empty when it has nothing to say) for the
 * message to end with. ctx is passed to it.
 */
void sl_yaml_check_keys(struct sl_yaml_loader *ld,
			const struct sl_yaml_node *map,
			const char *const *allowed, const char *where,
			void (*hint)(const void *ctx, const char *key,
				     char *buf, size_t sz),
			const void *ctx);

/*
 * Damerau-Levenshtein distance of a and b in bytes (optimal string
 * alignment: an insertion, a deletion, a substitution or a swap of two
 * adjacent bytes is one edit). UINT_MAX when either is longer than 64 bytes.
 */
unsigned sl_yaml_distance(const char *a, const char *b);

/*
 * For "did you mean": call it with each known name; *best (NULL at first)
 * becomes name when name is closer to word than *best (distance in *bestd)
 * and close enough to be a typing mistake: at most 2 edits, 1 for names
 * shorter than 6 bytes, and fewer edits than name has bytes.
 */
void sl_yaml_suggest(const char *word, const char *name, const char **best,
		     unsigned *bestd);

/* ---- scalars ----------------------------------------------------------- */

/*
 * Reads the decimal digits at *sp into *v and advances *sp past them.
 * Returns SL_YAML_NUM_OK, SL_YAML_NUM_BAD (no digit) or SL_YAML_NUM_OVERFLOW.
 */
enum sl_yaml_num sl_yaml_parse_digits(const char **sp, uint64_t *v);

/* Formats bytes with the largest unit that divides it: 65536 -> "64KiB". */
const char *sl_yaml_fmt_size(char *buf, size_t sz, uint64_t bytes);

/*
 * Typed getters: key names n's key in messages. Each returns 0 (and sets
 * *out), or -1 with the error reported at n (none for an alias, which was
 * reported already). Strings set in *out are borrowed from the tree, except
 * where a getter says malloc'd.
 */
int sl_yaml_get_map(struct sl_yaml_loader *ld, const char *key,
		    const struct sl_yaml_node *n);
int sl_yaml_get_seq(struct sl_yaml_loader *ld, const char *key,
		    const struct sl_yaml_node *n);
int sl_yaml_get_str(struct sl_yaml_loader *ld, const char *key,
		    const struct sl_yaml_node *n, const char **out);
/* A plain decimal integer in [min, max]. */
int sl_yaml_get_uint(struct sl_yaml_loader *ld, const char *key,
		     const struct sl_yaml_node *n, uint64_t min, uint64_t max,
		     uint64_t *out);
/* "20%" in [min, max] percent (a bare integer is read the same). */
int sl_yaml_get_percent(struct sl_yaml_loader *ld, const char *key,
			const struct sl_yaml_node *n, uint64_t min,
			uint64_t max, uint64_t *out);
/* "250ms", "30s", "5m", "1h" in [min, max] milliseconds. */
int sl_yaml_get_duration(struct sl_yaml_loader *ld, const char *key,
			 const struct sl_yaml_node *n, uint64_t min,
			 uint64_t max, uint64_t *out);
/* "512B", "16KiB", "8MiB", "1GiB" in [min, max] bytes. */
int sl_yaml_get_size(struct sl_yaml_loader *ld, const char *key,
		     const struct sl_yaml_node *n, uint64_t min, uint64_t max,
		     uint64_t *out);
/* Fills a (see sl_conf_parse_addr()); a->text is malloc'd. */
int sl_yaml_get_addr(struct sl_yaml_loader *ld, const char *key,
		     const struct sl_yaml_node *n, struct sl_conf_addr *a);
/* A listener, cluster or route "name": 1-64 of [A-Za-z0-9._-], malloc'd. */
int sl_yaml_get_name(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
		     char **out);

/*
 * Picks one of names[] (NULL-terminated) and returns its index, or -1 with
 * "expected <expected>" reported.
 */
int sl_yaml_get_enum(struct sl_yaml_loader *ld, const char *key,
		     const struct sl_yaml_node *n, const char *const *names,
		     const char *expected);

/*
 * Writes "kind "name"" for messages into buf (SL_YAML_LABEL_MAX bytes do),
 * or "kind #N" (idx + 1) when name is NULL or unusable.
 */
void sl_yaml_label(struct sl_yaml_loader *ld, char *buf, size_t sz,
		   const char *kind, const struct sl_yaml_node *name,
		   size_t idx);

#endif
