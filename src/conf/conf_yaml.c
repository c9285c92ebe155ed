/* SPDX-License-Identifier: MIT */
/*
 * The generic layer of the configuration loader, first half: YAML text to
 * a node tree with positions (anchors, aliases and merge keys expanded,
 * bounded), and the sorted error list. conf_node.c reads the tree. Knows
 * no sluice key and builds no struct sl_conf; does no I/O, no DNS and no
 * logging.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "conf_types.h"
#include "conf_yaml.h"
#include "conf_yaml_int.h"

#define CONF_MAX_DEPTH 32 /* YAML nesting levels */

/* ---- the loader --------------------------------------------------------- */

void
sl_yaml_loader_init(struct sl_yaml_loader *ld, const char *name,
		    const char *text, size_t len)
{
	memset(ld, 0, sizeof(*ld));
	ld->name = name != NULL ? name : "<buffer>";
	ld->text = text != NULL ? text : "";
	ld->len = text != NULL ? len : 0;
}

/* ---- the YAML tree ----------------------------------------------------- */

#define ARENA_CHUNK (256u << 10) /* bytes; a larger value gets its own */
#define ARENA_ALIGN 16u

/* n bytes of the loader's arena (not zeroed), or NULL when out of memory.
 * Freed all at once by sl_yaml_errors_finish. */
static void *
arena_alloc(struct sl_yaml_loader *ld, size_t n)
{
	size_t hdr = (sizeof(struct sl_yaml_chunk) + ARENA_ALIGN - 1) &
		     ~(size_t)(ARENA_ALIGN - 1);
	struct sl_yaml_chunk *c = ld->arena;
	void *p;

	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (c == NULL || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;

		if (n > SIZE_MAX - hdr || (c = malloc(hdr + size)) == NULL) {
			ld->oom = 1;
			return NULL;
		}
		c->used = 0;
		c->size = size;
		if (size == n && ld->arena != NULL) {
			/* a large value: behind the current chunk, which
			 * keeps taking the small ones */
			c->next = ld->arena->next;
			ld->arena->next = c;
		} else {
			c->next = ld->arena;
			ld->arena = c;
		}
	}
	p = (char *)c + hdr + c->used;
	c->used += n;
	return p;
}

/* A node with room for a value of len bytes and its NUL (scalars) after
 * it, from the arena. */
static struct sl_yaml_node *
node_alloc(struct sl_yaml_loader *ld, size_t len, int scalar)
{
	struct sl_yaml_node *n;
	size_t sz = sizeof(*n);

	if (scalar && len > SIZE_MAX / 2) {
		ld->oom = 1;
		return NULL;
	}
	if (scalar)
		sz += len + 1;
	if ((n = arena_alloc(ld, sz)) == NULL)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->in_arena = 1;
	if (scalar)
		n->str = (char *)(n + 1);
	return n;
}

static struct sl_yaml_node *
node_new(struct sl_yaml_loader *ld, enum sl_yaml_node_type type,
	 const yaml_mark_t *m, size_t len)
{
	struct sl_yaml_node *n;

	if ((n = node_alloc(ld, len, type == SL_YAML_NODE_SCALAR)) == NULL)
		return NULL;
	n->type = type;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	n->size = 1;
	return n;
}

void
sl_yaml_node_free(struct sl_yaml_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	/* Depth is bounded by CONF_MAX_DEPTH, so recursion is. */
	for (i = 0; i < n->nkids; i++)
		sl_yaml_node_free(n->kids[i]);
	free(n->kids);
	n->kids = NULL;
	n->nkids = 0;
	if (!n->in_arena) {
		free(n->str);
		free(n);
	}
}

static int
node_add(struct sl_yaml_loader *ld, struct sl_yaml_node *parent,
	 struct sl_yaml_node *kid)
{
	struct sl_yaml_node **k;

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

/* ---- anchors, aliases and merge keys ----------------------------------- */

/*
 * An alias is expanded into a copy of the node its anchor names, made when
 * the alias is read (the anchor's node is whole by then), so the rest of
 * the loader sees an ordinary tree. The copies keep the positions of what
 * they copy and name the alias they came through (struct sl_yaml_via).
 * All copies together are bounded by SL_YAML_MAX_ALIAS_NODES, so that a
 * few nested aliases cannot make billions of nodes; each node knows its
 * size once whole, so an alias over the bound is refused before copying.
 */

static uint64_t
str_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	while (len-- > 0) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The slot of key in t (cap > 0): its own, or the empty one for it. */
static struct strtab_slot *
strtab_slot(struct strtab *t, const char *key, size_t len)
{
	size_t i = (size_t)str_hash(key, len) & (t->cap - 1);

	while (t->slots[i].key != NULL &&
	       (t->slots[i].len != len || memcmp(t->slots[i].key, key, len)))
		i = (i + 1) & (t->cap - 1);
	return &t->slots[i];
}

/* The node key names in t, or NULL. */
static struct sl_yaml_node *
strtab_get(struct strtab *t, const char *key, size_t len)
{
	struct strtab_slot *sl;

	if (t->cap == 0)
		return NULL;
	sl = strtab_slot(t, key, len);
	return sl->key != NULL ? sl->node : NULL;
}

/* Sets key to node in t (a copy of key when t->owned). Returns 0 or -1. */
static int
strtab_set(struct sl_yaml_loader *ld, struct strtab *t, const char *key,
	   size_t len, struct sl_yaml_node *node)
{
	struct strtab_slot *sl, *old = t->slots;
	size_t i, cap = t->cap;

	if ((t->n + 1) * 2 > t->cap) {
		t->cap = cap > 0 ? cap * 2 : 16;
		if ((t->slots = calloc(t->cap, sizeof(*t->slots))) == NULL) {
			t->slots = old;
			t->cap = cap;
			ld->oom = 1;
			return -1;
		}
		for (i = 0; i < cap; i++)
			if (old[i].key != NULL)
				*strtab_slot(t, old[i].key, old[i].len) =
				    old[i];
		free(old);
	}
	sl = strtab_slot(t, key, len);
	if (sl->key == NULL) {
		if (!t->owned)
			sl->key = (char *)(uintptr_t)key;
		else if ((sl->key = malloc(len + 1)) == NULL) {
			ld->oom = 1;
			return -1;
		} else {
			memcpy(sl->key, key, len);
			sl->key[len] = '\0';
		}
		sl->len = len;
		t->n++;
	}
	sl->node = node;
	return 0;
}

static void
strtab_free(struct strtab *t)
{
	size_t i;

	for (i = 0; t->owned && i < t->cap; i++)
		free(t->slots[i].key);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Keeps n, taken out of the tree, until the tree is built. */
static void
bury(struct sl_yaml_loader *ld, struct build *b, struct sl_yaml_node *n)
{
	if (n == NULL)
		return;
	if (b->grave == NULL &&
	    (b->grave = calloc(1, sizeof(*b->grave))) == NULL)
		ld->oom = 1;
	if (b->grave == NULL || node_add(ld, b->grave, n) == -1)
		sl_yaml_node_free(n); /* out of memory: parsing ends */
}

/*
 * A via for the alias *name at line:col, leading on to next. The first
 * via of an expansion owns a copy of name; those made from it (via_for)
 * borrow it: a long name is not copied once per node.
 */
static struct sl_yaml_via *
via_new(struct sl_yaml_loader *ld, unsigned line, unsigned col,
	const char *name, struct sl_yaml_via *next)
{
	struct sl_yaml_via *v;

	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (next == NULL && (v->own = sl_yaml_strdup(ld, name)) == NULL)) {
		free(v);
		ld->oom = 1;
		return NULL;
	}
	v->name = next == NULL ? v->own : name;
	v->line = line;
	v->col = col;
	v->next = next;
	v->all = ld->vias;
	ld->vias = v;
	return v;
}

/*
 * The via of the copy of a node reached through w, in the expansion of
 * b->cur (NULL: copying without an alias, the via stays). Nodes that came
 * through the same w share one new via: w remembers it for this expansion.
 */
static struct sl_yaml_via *
via_for(struct sl_yaml_loader *ld, struct build *b, struct sl_yaml_via *w)
{
	struct sl_yaml_via *v;

	if (b->cur == NULL)
		return w;
	if (w == NULL)
		return b->cur;
	if (w->memo_gen == b->gen)
		return w->memo;
	v = via_new(ld, b->cur->line, b->cur->col, b->cur->name, w);
	w->memo = v;
	w->memo_gen = b->gen;
	return v;
}

/*
 * A deep copy of src (whole), counted in b->copied; NULL when out of
 * memory. Recursion is bounded by CONF_MAX_DEPTH like the tree.
 */
static struct sl_yaml_node *
node_copy(struct sl_yaml_loader *ld, struct build *b,
	  const struct sl_yaml_node *src)
{
	struct sl_yaml_node *n, *k;
	size_t i;

	if ((n = node_alloc(ld, src->len, src->str != NULL)) == NULL)
		return NULL;
	{
		char *str = n->str;

		*n = *src;
		n->str = str;
	}
	n->in_arena = 1;
	n->kids = NULL;
	n->nkids = n->cap = 0;
	n->anchored = 0;
	n->via = via_for(ld, b, src->via);
	b->copied++;
	if (src->str != NULL)
		memcpy(n->str, src->str, src->len + 1);
	if (src->nkids > 0) {
		if ((n->kids = calloc(src->nkids, sizeof(*n->kids))) == NULL) {
			ld->oom = 1;
			sl_yaml_node_free(n);
			return NULL;
		}
		n->cap = src->nkids;
	}
	for (i = 0; i < src->nkids; i++) {
		if ((k = node_copy(ld, b, src->kids[i])) == NULL) {
			sl_yaml_node_free(n);
			return NULL;
		}
		n->kids[n->nkids++] = k;
	}
	return n;
}

/*
 * The node for the alias of ev: a copy of what its anchor names, or a
 * SL_YAML_NODE_BAD one with the error reported at the alias. NULL when out
 * of memory.
 */
static struct sl_yaml_node *
alias_expand(struct sl_yaml_loader *ld, struct build *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	unsigned line = (unsigned)ev->start_mark.line + 1;
	unsigned col = (unsigned)ev->start_mark.column + 1;
	struct sl_yaml_node *t = strtab_get(&b->anchors, name, strlen(name));
	struct sl_yaml_node *n;
	const char *q = sl_yaml_quote(ld, name, strlen(name));

	if (t == NULL)
		sl_yaml_err_at(ld, line, col,
			       "undefined alias *%s (no anchor &%s before it)",
			       q, q);
	else if ((t->type == SL_YAML_NODE_SEQ || t->type == SL_YAML_NODE_MAP) &&
		 t->end_line == 0)
		/* YAML allows it; a configuration cannot contain itself */
		sl_yaml_err_at(ld, line, col,
			       "alias *%s is inside what its anchor at %u:%u "
			       "names (a recursive structure)",
			       q, t->line, t->col);
	else if (b->depth + t->levels > CONF_MAX_DEPTH)
		sl_yaml_err_at(ld, line, col,
			       "alias *%s nests the YAML more than %d levels "
			       "deep",
			       q, CONF_MAX_DEPTH);
	else if (t->size > SL_YAML_MAX_ALIAS_NODES - b->copied) {
		if (b->over_more++ == 0) {
			b->over_err = ld->nerrs;
			sl_yaml_err_at(ld, line, col,
				       "alias *%s expands to more than %d "
				       "nodes (it adds %zu to the %zu the "
				       "aliases before it added)",
				       q, SL_YAML_MAX_ALIAS_NODES, t->size,
				       b->copied);
		}
	} else {
		b->gen++;
		if ((b->cur = via_new(ld, line, col, name, NULL)) == NULL)
			return NULL;
		n = node_copy(ld, b, t);
		b->cur = NULL;
		return n;
	}
	return node_new(ld, SL_YAML_NODE_BAD, &ev->start_mark, 0);
}

/* The YAML 1.1 merge key "<<" (plain, untagged). */
static int
is_merge_key(const struct sl_yaml_node *k)
{
	return k->type == SL_YAML_NODE_SCALAR && k->plain && k->len == 2 &&
	       memcmp(k->str, "<<", 2) == 0;
}

/*
 * Adds to out (room made) the entries of the mapping m whose keys are not
 * in seen yet (written keys and those of earlier merges win): moved out of
 * m, or copied when an anchor may name m (copy), since an alias after it
 * must still find it whole. mk is the merge key, for errors.
 */
static void
merge_from(struct sl_yaml_loader *ld, struct build *b, struct sl_yaml_node *out,
	   struct strtab *seen, struct sl_yaml_node *m, int copy,
	   const struct sl_yaml_node *mk)
{
	struct sl_yaml_node *k, *v;
	size_t i;

	for (i = 0; i + 1 < m->nkids && !ld->oom; i += 2) {
		k = m->kids[i];
		v = m->kids[i + 1];
		if (k->type == SL_YAML_NODE_SCALAR &&
		    strtab_get(seen, k->str, k->len) != NULL)
			continue;
		if (copy) {
			if (k->size + v->size >
			    SL_YAML_MAX_ALIAS_NODES - b->copied) {
				sl_yaml_err_node(
				    ld, mk,
				    "merge key \"<<\": aliases and merges may "
				    "add at most %d nodes",
				    SL_YAML_MAX_ALIAS_NODES);
				return;
			}
			k = node_copy(ld, b, k);
			v = node_copy(ld, b, v);
			if (k == NULL || v == NULL) {
				sl_yaml_node_free(k);
				sl_yaml_node_free(v);
				return;
			}
		} else
			m->kids[i] = m->kids[i + 1] = NULL;
		if (k->type == SL_YAML_NODE_SCALAR)
			strtab_set(ld, seen, k->str, k->len, k);
		out->kids[out->nkids++] = k;
		out->kids[out->nkids++] = v;
	}
}

/* Entries the value of a merge key may bring. */
static size_t
merge_room(const struct sl_yaml_node *v)
{
	size_t i, n = 0;

	if (v->type == SL_YAML_NODE_MAP)
		return v->nkids;
	for (i = 0; v->type == SL_YAML_NODE_SEQ && i < v->nkids; i++)
		if (v->kids[i]->type == SL_YAML_NODE_MAP)
			n += v->kids[i]->nkids;
	return n;
}

/*
 * Replaces the merge key of the whole mapping map ("<<: *a" or
 * "<<: [*a, *b]") by the entries it brings, with YAML 1.1's precedence:
 * keys written in map win, then the earlier mapping of the list. A second
 * "<<" is a duplicate key.
 */
static void
merge_keys(struct sl_yaml_loader *ld, struct build *b, struct sl_yaml_node *map)
{
	struct sl_yaml_node out, *k, *v, *mk = NULL, *mv = NULL;
	struct strtab seen;
	size_t i;

	for (i = 0; i + 1 < map->nkids; i += 2)
		if (is_merge_key(map->kids[i]))
			break;
	if (i + 1 >= map->nkids)
		return;
	/* room for everything at once: nothing below can fail half-way */
	memset(&out, 0, sizeof(out));
	memset(&seen, 0, sizeof(seen));
	out.cap = map->nkids + merge_room(map->kids[i + 1]);
	if ((out.kids = calloc(out.cap, sizeof(*out.kids))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i + 1 < map->nkids; i += 2) {
		k = map->kids[i];
		v = map->kids[i + 1];
		if (!is_merge_key(k)) {
			if (k->type == SL_YAML_NODE_SCALAR)
				strtab_set(ld, &seen, k->str, k->len, k);
			out.kids[out.nkids++] = k;
			out.kids[out.nkids++] = v;
		} else if (mk == NULL) {
			mk = k;
			mv = v;
		} else {
			sl_yaml_err_node(ld, k,
					 "duplicate key \"<<\" (first at "
					 "%u:%u; merge several mappings with "
					 "\"<<: [*a, *b]\")",
					 mk->line, mk->col);
			bury(ld, b, k);
			bury(ld, b, v);
		}
	}
	if (mv->type == SL_YAML_NODE_MAP)
		merge_from(ld, b, &out, &seen, mv, mv->anchored, mk);
	else if (mv->type == SL_YAML_NODE_SEQ)
		for (i = 0; i < mv->nkids; i++) {
			v = mv->kids[i];
			if (v->type == SL_YAML_NODE_MAP)
				merge_from(ld, b, &out, &seen, v,
					   mv->anchored || v->anchored, mk);
			else if (v->type != SL_YAML_NODE_BAD)
				sl_yaml_err_node(ld, v,
						 "merge key \"<<\": expected "
						 "a mapping to merge");
		}
	else if (mv->type != SL_YAML_NODE_BAD)
		sl_yaml_err_node(ld, mv,
				 "merge key \"<<\": expected a mapping or a "
				 "list of mappings to merge");
	bury(ld, b, mk);
	bury(ld, b, mv);
	free(map->kids);
	map->kids = out.kids;
	map->nkids = out.nkids;
	map->cap = out.cap;
	strtab_free(&seen);
}

/*
 * A mapping still open where parsing stopped keeps no merge key: what it
 * brings may be overridden by keys never read.
 */
static void
drop_merge_keys(struct sl_yaml_loader *ld, struct build *b,
		struct sl_yaml_node *map)
{
	size_t i, j = 0;

	for (i = 0; i < map->nkids; i += 2) {
		if (is_merge_key(map->kids[i])) {
			bury(ld, b, map->kids[i]);
			if (i + 1 < map->nkids)
				bury(ld, b, map->kids[i + 1]);
			continue;
		}
		map->kids[j++] = map->kids[i];
		if (i + 1 < map->nkids)
			map->kids[j++] = map->kids[i + 1];
	}
	map->nkids = j;
}

/* The collection n is whole: merges done, its size and levels known. */
static void
close_node(struct sl_yaml_loader *ld, struct build *b, struct sl_yaml_node *n,
	   unsigned end_line)
{
	size_t i;

	n->end_line = end_line;
	if (n->type == SL_YAML_NODE_MAP)
		merge_keys(ld, b, n);
	n->size = 1;
	n->levels = 0;
	for (i = 0; i < n->nkids; i++) {
		n->size += n->kids[i]->size;
		if (n->kids[i]->levels > n->levels)
			n->levels = n->kids[i]->levels;
	}
	n->levels++;
}

/* ---- events to the tree ------------------------------------------------ */

/* Remembers the scalar ev when it is quoted over several lines. */
static void
note_quote(struct build *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark, *e = &ev->end_mark;

	b->quote = 0;
	if (e->line == m->line)
		return;
	if (ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		b->quote = '"';
	else if (ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE)
		b->quote = '\'';
	else
		return;
	b->qline = (unsigned)m->line + 1;
	b->qcol = (unsigned)m->column + 1;
	/* The end mark is just after the closing quote. */
	b->qend_line = (unsigned)e->line + 1;
	b->qend_col = (unsigned)e->column;
}

/*
 * Parsing stopped at line:col (1-based): says so in the errors recorded
 * since index first (nothing after it is in the tree), drops the node
 * libyaml may have read wrong just before, and records in ld from which
 * line on (at the latest stop_line) the tree may be cut short or wrong.
 */
static void
stop_at(struct sl_yaml_loader *ld, struct build *b, struct sl_yaml_node **root,
	size_t first, unsigned line, unsigned col, unsigned stop_line)
{
	struct sl_yaml_node *n = b->last, *parent;
	char note[96];
	size_t i;

	/* n is the open collection on top, or the last item of it */
	if (n != NULL) {
		if (b->depth > 0 && b->stack[b->depth - 1] == n)
			b->depth--;
		parent = b->depth > 0 ? b->stack[b->depth - 1] : NULL;
		if (parent != NULL && parent->nkids > 0 &&
		    parent->kids[parent->nkids - 1] == n)
			parent->nkids--;
		else if (n == *root)
			*root = NULL;
		else
			n = NULL; /* not where it was made: keep it */
		/* the note below still names where libyaml stopped */
		if (n != NULL && n->line < stop_line)
			stop_line = n->line;
		sl_yaml_node_free(n);
		b->last = NULL;
	}
	for (i = 0; i < b->depth; i++)
		if (b->stack[i]->type == SL_YAML_NODE_MAP)
			drop_merge_keys(ld, b, b->stack[i]);
	ld->stopped = 1;
	ld->stop_line = stop_line;
	for (i = first; i < ld->nerrs; i++) {
		struct sl_yaml_err *e = &ld->errs[i];

		if (e->line == line)
			snprintf(note, sizeof(note),
				 "; YAML parsing stopped here: nothing after "
				 "this point was checked");
		else
			snprintf(note, sizeof(note),
				 "; YAML parsing stopped at %u:%u: nothing "
				 "after that point was checked",
				 line, col);
		sl_yaml_err_append(ld, i, note);
		/* an error said before the stop: what is there is suspect */
		if (e->line > 0 && e->line < ld->stop_line)
			ld->stop_line = e->line;
	}
}

/*
 * Reads the whole event stream into a tree. Returns the root of the first
 * document (NULL for an empty stream). After a syntax error the tree is
 * what came before it (ld->stopped); sets *fatal when there is no usable
 * tree (out of memory).
 */
static struct sl_yaml_node *
tree_build(struct sl_yaml_loader *ld, yaml_parser_t *p, int *fatal)
{
	struct build b;
	struct sl_yaml_node *root = NULL, *n;
	const yaml_char_t *anchor;
	unsigned line, col, cline;
	int ndocs = 0, done = 0, opens;
	yaml_event_t ev;

	*fatal = 0;
	memset(&b, 0, sizeof(b));
	b.anchors.owned = 1;
	while (!done) {
		if (!yaml_parser_parse(p, &ev)) {
			size_t first = ld->nerrs;

			sl_yaml_syntax_error(ld, p, &b);
			if (p->error == YAML_READER_ERROR) {
				sl_yaml_offset_pos(ld, p->problem_offset, &line,
						   &col);
				stop_at(ld, &b, &root, first, line, col, line);
				break;
			}
			line = (unsigned)p->problem_mark.line + 1;
			col = (unsigned)p->problem_mark.column + 1;
			/* the token libyaml began there is lost */
			cline = line;
			if (p->context != NULL &&
			    sl_yaml_says(p->context, "while scanning"))
				cline = (unsigned)p->context_mark.line + 1;
			/* an unclosed quote took in what follows */
			if (p->context != NULL &&
			    sl_yaml_says(p->context,
					 "while scanning a quoted")) {
				line = cline;
				col = (unsigned)p->context_mark.column + 1;
			}
			stop_at(ld, &b, &root, first, line, col,
				cline < line ? cline : line);
			break;
		}
		n = NULL;
		anchor = NULL;
		opens = 0;
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (ndocs++ > 0) {
				sl_yaml_err_at(
				    ld, (unsigned)ev.start_mark.line + 1,
				    (unsigned)ev.start_mark.column + 1,
				    "only one YAML document is allowed");
				done = 1;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_ALIAS_EVENT:
			n = alias_expand(ld, &b, &ev);
			break;
		case YAML_SCALAR_EVENT:
			if ((n = node_new(ld, SL_YAML_NODE_SCALAR,
					  &ev.start_mark,
					  ev.data.scalar.length)) == NULL)
				break;
			n->len = ev.data.scalar.length;
			memcpy(n->str, ev.data.scalar.value, n->len);
			n->str[n->len] = '\0';
			n->plain =
			    ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			    ev.data.scalar.tag == NULL;
			if (ev.data.scalar.anchor != NULL ||
			    ev.data.scalar.tag != NULL)
				sl_yaml_skip_properties(ld, n);
			note_quote(&b, &ev);
			anchor = ev.data.scalar.anchor;
			break;
		case YAML_SEQUENCE_START_EVENT:
			n = node_new(ld, SL_YAML_NODE_SEQ, &ev.start_mark, 0);
			if (n != NULL)
				n->flow = ev.data.sequence_start.style ==
					  YAML_FLOW_SEQUENCE_STYLE;
			anchor = ev.data.sequence_start.anchor;
			opens = 1;
			break;
		case YAML_MAPPING_START_EVENT:
			n = node_new(ld, SL_YAML_NODE_MAP, &ev.start_mark, 0);
			if (n != NULL)
				n->flow = ev.data.mapping_start.style ==
					  YAML_FLOW_MAPPING_STYLE;
			anchor = ev.data.mapping_start.anchor;
			opens = 1;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (b.depth > 0)
				close_node(ld, &b, b.stack[--b.depth],
					   (unsigned)ev.start_mark.line + 1);
			b.last = NULL;
			break;
		default:
			break;
		}
		if (n != NULL) {
			if (b.depth > 0) {
				if (node_add(ld, b.stack[b.depth - 1], n)) {
					sl_yaml_node_free(n);
					n = NULL;
				}
			} else if (root == NULL)
				root = n;
			else {
				sl_yaml_node_free(n);
				n = NULL;
			}
		}
		if (n != NULL && anchor != NULL) {
			n->anchored = 1;
			strtab_set(ld, &b.anchors, (const char *)anchor,
				   strlen((const char *)anchor), n);
		}
		if (n != NULL && opens) {
			if (b.depth == CONF_MAX_DEPTH) {
				size_t first = ld->nerrs;

				sl_yaml_err_node(
				    ld, n,
				    "YAML nested more than %d levels deep",
				    CONF_MAX_DEPTH);
				b.last = NULL; /* read right, but never ends */
				stop_at(ld, &b, &root, first, n->line, n->col,
					n->line);
				done = 1;
			} else
				b.stack[b.depth++] = n;
		}
		if (n != NULL)
			b.last = n;
		yaml_event_delete(&ev);
		if (ld->oom)
			done = 1;
	}
	if (b.over_more > 1 && b.over_err < ld->nerrs) {
		char more[96];

		snprintf(more, sizeof(more),
			 "; %zu more aliases were refused for the same reason",
			 b.over_more - 1);
		sl_yaml_err_append(ld, b.over_err, more);
	}
	strtab_free(&b.anchors);
	sl_yaml_node_free(b.grave);
	*fatal = ld->oom;
	return root;
}

struct sl_yaml_node *
sl_yaml_parse(struct sl_yaml_loader *ld, int *fatal)
{
	struct sl_yaml_node *root;
	yaml_parser_t parser;

	*fatal = 1;
	if (!yaml_parser_initialize(&parser)) {
		ld->oom = 1;
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)ld->text,
				     ld->len);
	root = tree_build(ld, &parser, fatal);
	yaml_parser_delete(&parser);
	return root;
}
