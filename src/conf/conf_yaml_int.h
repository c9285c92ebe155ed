/* SPDX-License-Identifier: MIT */
/*
 * Private to the YAML layer of the configuration loader: what conf_yaml.c
 * (the tree) and conf_yaml_err.c (the errors) share. The schema files and
 * every other module use conf_yaml.h; nothing here is for them.
 */
#ifndef SL_CONF_YAML_INT_H
#define SL_CONF_YAML_INT_H

#include <stddef.h>
#include <yaml.h>

#include "conf_yaml.h"

#define CONF_MAX_DEPTH 32 /* YAML nesting levels */

/* One error line; sorted by position before they are handed out. */
struct sl_yaml_err {
	unsigned line, col; /* 0 when the error has no position */
	size_t seq;	    /* order of discovery, keeps the sort stable */
	char *text;	    /* "FILE:LINE:COL: error: MESSAGE" */
};

/* A table of names (with their length: they may hold NUL) to nodes. */
struct strtab {
	struct strtab_slot {
		char *key; /* NULL: empty slot */
		size_t len;
		struct sl_yaml_node *node; /* borrowed */
	} * slots;
	size_t cap, n; /* cap: 0 or a power of two, at most half full */
	int owned;     /* the keys are malloc'd copies */
};

/* What tree_build knows as it goes, and when libyaml stops. */
struct build {
	struct sl_yaml_node *stack[CONF_MAX_DEPTH]; /* open collections */
	size_t depth;
	struct strtab anchors; /* name -> the node it was last set on */
	/* Taken out of the tree (merge keys, merged and overridden
	 * entries): kept to the end, for anchors may name them. */
	struct sl_yaml_node *grave;
	size_t copied; /* nodes aliases and merges added */
	/* The first alias refused for the bound, as an index of ld->errs,
	 * and how many more were: they are not listed one by one. */
	size_t over_err, over_more;
	struct sl_yaml_via *cur; /* of the alias being expanded */
	unsigned long gen;	 /* aliases expanded, for via_for() */
	/* The node made last, until a collection ends: libyaml may have
	 * read it wrong when it stumbles just after it. */
	struct sl_yaml_node *last;
	/* The last scalar when it is quoted over several lines. */
	int quote;		      /* '"' or '\'', or 0: it is not */
	unsigned qline, qcol;	      /* its opening quote, 1-based */
	unsigned qend_line, qend_col; /* its closing quote */
};

/* ---- conf_yaml_err.c ---------------------------------------------------- */

/*
 * Escapes s[0..len) for an error message (no surrounding quotes):
 * non-printable bytes as \xNN, long values cut with "...". The result
 * lives in one of four rotating buffers of the loader: valid for the next
 * three calls.
 */
const char *sl_yaml_quote(struct sl_yaml_loader *ld, const char *s, size_t len);

/* Adds text to the end of the error ld->errs[i]. */
void sl_yaml_err_append(struct sl_yaml_loader *ld, size_t i, const char *text);

/* Line and column (1-based, in characters) of a byte offset of the input. */
void sl_yaml_offset_pos(const struct sl_yaml_loader *ld, size_t off,
			unsigned *line, unsigned *col);

/*
 * A scalar's event starts at its anchor or tag ("&a", "!!str") when it
 * has one: moves n to the value after them, if that is on the same line,
 * so that errors point at the value.
 */
void sl_yaml_skip_properties(const struct sl_yaml_loader *ld,
			     struct sl_yaml_node *n);

/* Whether libyaml's message s starts with prefix. */
int sl_yaml_says(const char *s, const char *prefix);

/*
 * Reports libyaml's error p (out of memory: sets ld->oom): in the
 * operator's words at the place to edit when it is a known mistake, else
 * as libyaml says it. b is the tree as far as it was built.
 */
void sl_yaml_syntax_error(struct sl_yaml_loader *ld, const yaml_parser_t *p,
			  const struct build *b);

#endif
