/* SPDX-License-Identifier: MIT */
/*
 * The generic layer of the configuration loader, its error side: the
 * error list of one load (positions, the aliases a node came through, the
 * sorted output), values quoted for messages, positions in the input text,
 * and libyaml's syntax errors said in the operator's words at the place to
 * edit. conf_yaml.c builds the tree and calls it; it builds no node and
 * walks no tree but the open collections it is shown, knows no sluice
 * key, and does no I/O, no DNS and no logging.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "conf_yaml.h"
#include "conf_yaml_int.h"

/* ---- where parsing stopped ---------------------------------------------- */

/* Here rather than with the other tree access (conf_node.c): it answers
 * from the stop of the parse, and the syntax-error messages below ask it. */
int
sl_yaml_whole(const struct sl_yaml_loader *ld, const struct sl_yaml_node *n)
{
	if (n->type != SL_YAML_NODE_SEQ && n->type != SL_YAML_NODE_MAP)
		return 1;
	return n->end_line > 0 && (!ld->stopped || n->end_line < ld->stop_line);
}

/* ---- the errors of one load --------------------------------------------- */

static void verr_at(struct sl_yaml_loader *, unsigned, unsigned,
		    const struct sl_yaml_via *, const char *, va_list)
    __attribute__((format(printf, 5, 0)));

/* How many aliases of a chain a message names before "...". */
#define VIA_SHOWN 4

static void
verr_at(struct sl_yaml_loader *ld, unsigned line, unsigned col,
	const struct sl_yaml_via *via, const char *fmt, va_list ap)
{
	char msg[1024];
	struct sl_yaml_err *e;
	size_t sz, l;
	int i;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* what it is said of, unless the message says it first */
	if (ld->owner != NULL &&
	    strncmp(msg, ld->owner, strlen(ld->owner)) != 0) {
		size_t ol = strlen(ld->owner) + 2;
		if (ol < sizeof(msg)) {
			memmove(msg + ol, msg, sizeof(msg) - ol);
			msg[sizeof(msg) - 1] = '\0';
			memcpy(msg, ld->owner, ol - 2);
			memcpy(msg + ol - 2, ": ", 2);
		}
	}
	/* the alias it came through, and the one that brought that, ... */
	for (i = 0; via != NULL && i <= VIA_SHOWN; via = via->next, i++) {
		l = strlen(msg);
		if (i == VIA_SHOWN)
			snprintf(msg + l, sizeof(msg) - l, ", ...");
		else
			snprintf(
			    msg + l, sizeof(msg) - l, "%s*%s at %u:%u",
			    i == 0 ? " (through the alias " : ", then ",
			    sl_yaml_quote(ld, via->name, strlen(via->name)),
			    via->line, via->col);
	}
	if (i > 0) {
		l = strlen(msg);
		snprintf(msg + l, sizeof(msg) - l, ")");
	}
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

void
sl_yaml_err_at(struct sl_yaml_loader *ld, unsigned line, unsigned col,
	       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(ld, line, col, NULL, fmt, ap);
	va_end(ap);
}

void
sl_yaml_err_node(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(ld, n->line, n->col, n->via, fmt, ap);
	va_end(ap);
}

void
sl_yaml_err_lacks(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
		  const char *fmt, ...)
{
	va_list ap;

	if (!sl_yaml_whole(ld, n))
		return;
	va_start(ap, fmt);
	verr_at(ld, n->line, n->col, n->via, fmt, ap);
	va_end(ap);
}

void
sl_yaml_err_append(struct sl_yaml_loader *ld, size_t i, const char *text)
{
	size_t l = strlen(ld->errs[i].text), tl = strlen(text);
	char *t;

	if ((t = realloc(ld->errs[i].text, l + tl + 1)) == NULL) {
		ld->oom = 1;
		return;
	}
	memcpy(t + l, text, tl + 1);
	ld->errs[i].text = t;
}

static int
err_cmp(const void *a, const void *b)
{
	const struct sl_yaml_err *x = a, *y = b;

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
char *
sl_yaml_errors_finish(struct sl_yaml_loader *ld)
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
	while (ld->vias != NULL) {
		struct sl_yaml_via *v = ld->vias;

		ld->vias = v->all;
		free(v->own);
		free(v);
	}
	/* the tree's arena (conf_yaml.c), its trees freed by now */
	while (ld->arena != NULL) {
		struct sl_yaml_chunk *c = ld->arena;

		ld->arena = c->next;
		free(c);
	}
	return out;
}

const char *
sl_yaml_quote(struct sl_yaml_loader *ld, const char *s, size_t len)
{
	char *buf = ld->qbuf[ld->qi++ % 4], *p = buf;
	size_t i;

	for (i = 0; i < len && i < SL_YAML_QUOTE_MAX; i++) {
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

const char *
sl_yaml_qnode(struct sl_yaml_loader *ld, const struct sl_yaml_node *n)
{
	return sl_yaml_quote(ld, n->str, n->len);
}

const char *
sl_yaml_qstr(struct sl_yaml_loader *ld, const char *s)
{
	return sl_yaml_quote(ld, s, strlen(s));
}

/* ---- positions in the input text --------------------------------------- */

void
sl_yaml_offset_pos(const struct sl_yaml_loader *ld, size_t off, unsigned *line,
		   unsigned *col)
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

/* ---- YAML syntax errors, said where the operator has to edit --------- */

/* Line number line (1-based) of the input, without its line break. */
static const char *
text_line(const struct sl_yaml_loader *ld, unsigned line, size_t *len)
{
	const char *p = ld->text, *end = ld->text + ld->len, *nl;

	for (; line > 1; line--) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			*len = 0;
			return end;
		}
		p = nl + 1;
	}
	/* libyaml does not count a byte order mark as a column. */
	if (p == ld->text && ld->len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	nl = memchr(p, '\n', (size_t)(end - p));
	*len = (size_t)((nl != NULL ? nl : end) - p);
	if (*len > 0 && p[*len - 1] == '\r')
		(*len)--;
	return p;
}

/* Byte index in s of column col (1-based, in UTF-8 characters); <= len. */
static size_t
col_index(const char *s, size_t len, unsigned col)
{
	size_t i = 0;

	for (; col > 1 && i < len; col--)
		for (i++; i < len && ((unsigned char)s[i] & 0xc0) == 0x80; i++)
			;
	return i;
}

/*
 * The byte at line:col (1-based) of the input, or -1 past the end of that
 * line; its offset in the input in *off.
 */
static int
text_at(const struct sl_yaml_loader *ld, unsigned line, unsigned col,
	size_t *off)
{
	size_t len, i;
	const char *s = text_line(ld, line, &len);

	i = col_index(s, len, col);
	*off = (size_t)(s - ld->text) + i;
	return i < len ? (unsigned char)s[i] : -1;
}

void
sl_yaml_skip_properties(const struct sl_yaml_loader *ld, struct sl_yaml_node *n)
{
	size_t len, i, j;
	const char *s = text_line(ld, n->line, &len);
	unsigned col = n->col;

	i = col_index(s, len, col);
	while (i < len && (s[i] == '&' || s[i] == '!')) {
		for (j = i; j < len && s[j] != ' ' && s[j] != '\t'; j++)
			;
		for (; j < len && (s[j] == ' ' || s[j] == '\t'); j++)
			;
		if (j == len)
			return;
		/* columns count characters, not bytes */
		for (; i < j; i++)
			if (((unsigned char)s[i] & 0xc0) != 0x80)
				col++;
		n->col = col;
	}
}

/* Whether only blanks follow line:col in the input. */
static int
at_end(const struct sl_yaml_loader *ld, unsigned line, unsigned col)
{
	size_t i;

	text_at(ld, line, col, &i);
	for (; i < ld->len; i++)
		if (ld->text[i] == '\0' ||
		    strchr(" \t\r\n", ld->text[i]) == NULL)
			return 0;
	return 1;
}

/* The closing quote of the quoted string that q opens, or end. */
static const char *
quote_end(const char *q, const char *end)
{
	char c = *q;

	for (q++; q < end; q++) {
		if (c == '"' && *q == '\\' && q + 1 < end)
			q++;
		else if (*q == c && c == '\'' && q + 1 < end && q[1] == c)
			q++; /* '' is a quote inside single quotes */
		else if (*q == c)
			return q;
	}
	return end;
}

/*
 * Whether the "[" or "{" at byte off of the input is ever closed: brackets
 * of both kinds counted, quoted strings and comments skipped.
 */
static int
flow_closed(const struct sl_yaml_loader *ld, size_t off)
{
	const char *q, *end = ld->text + ld->len;
	int depth = 0;
	char prev = '['; /* the last byte that is not a blank */

	for (q = ld->text + off; q < end; q++) {
		if (*q == '[' || *q == '{')
			depth++;
		else if ((*q == ']' || *q == '}') && --depth == 0)
			return 1;
		else if ((*q == '"' || *q == '\'') && prev != '\0' &&
			 strchr("[{,:?\n", prev) != NULL) {
			if ((q = quote_end(q, end)) == end)
				return 0;
		} else if (*q == '#' &&
			   (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\n')) {
			if ((q = memchr(q, '\n', (size_t)(end - q))) == NULL)
				return 0;
		}
		if (*q != ' ' && *q != '\t' && *q != '\r')
			prev = *q;
	}
	return 0;
}

/*
 * libyaml found no "," or closing bracket at line:col in the flow
 * collection whose bracket is at oline:ocol (comma: it said so). When the
 * bracket is never closed, report it there; else where the "," is missing.
 */
static int
flow_error(struct sl_yaml_loader *ld, unsigned oline, unsigned ocol,
	   unsigned line, unsigned col, int comma)
{
	size_t off;
	int open = text_at(ld, oline, ocol, &off);
	int close = open == '[' ? ']' : '}';

	if (open != '[' && open != '{')
		return -1;
	if (flow_closed(ld, off)) {
		if (!comma)
			return -1;
		sl_yaml_err_at(ld, line, col,
			       "expected \",\" or \"%c\" in the %s that starts "
			       "at %u:%u",
			       close, open == '[' ? "list" : "mapping", oline,
			       ocol);
	} else if (at_end(ld, line, col))
		sl_yaml_err_at(ld, oline, ocol,
			       "unclosed \"%c\" (no matching \"%c\" before the "
			       "end of the file)",
			       open, close);
	else
		sl_yaml_err_at(ld, oline, ocol,
			       "unclosed \"%c\" (no matching \"%c\" before "
			       "%u:%u)",
			       open, close, line, col);
	return 0;
}

/*
 * The column (1-based) where line starts after its indentation; *seq: the
 * line starts with "- ".
 */
static unsigned
line_indent(const struct sl_yaml_loader *ld, unsigned line, int *seq)
{
	size_t len, i = 0;
	const char *s = text_line(ld, line, &len);

	while (i < len && s[i] == ' ')
		i++;
	*seq = i < len && s[i] == '-' &&
	       (i + 1 == len || s[i + 1] == ' ' || s[i + 1] == '\t');
	return (unsigned)i + 1;
}

/*
 * Keeps n in *best when it is a block collection of the kind wanted (seq:
 * a list) and at least as near to col.
 */
static void
nearer(const struct sl_yaml_node *n, unsigned col, int seq,
       const struct sl_yaml_node **best)
{
	unsigned d = n->col > col ? n->col - col : col - n->col;
	const struct sl_yaml_node *o = *best;

	if (n->flow || n->type != (seq ? SL_YAML_NODE_SEQ : SL_YAML_NODE_MAP))
		return;
	if (o == NULL || d <= (o->col > col ? o->col - col : col - o->col))
		*best = n;
}

/*
 * The line that starts at line:col (seq: with "- ") lines up with no list
 * or mapping. Names the one of its kind nearest to col among those still
 * open and those the line has closed: what the operator most likely meant
 * to continue.
 */
static int
err_indent(struct sl_yaml_loader *ld, const struct build *b, unsigned line,
	   unsigned col, int seq)
{
	const struct sl_yaml_node *top = b->stack[b->depth - 1], *n;
	const struct sl_yaml_node *best = NULL;
	size_t i;

	for (i = 0; i < b->depth; i++)
		nearer(b->stack[i], col, seq, &best);
	for (n = top; !n->flow && n->nkids > 0;) {
		n = n->kids[n->nkids - 1];
		if (n->type != SL_YAML_NODE_SEQ && n->type != SL_YAML_NODE_MAP)
			break;
		nearer(n, col, seq, &best);
	}
	if (best != NULL && best->col != col)
		sl_yaml_err_at(ld, line, col,
			       "bad indentation: this line does not line up "
			       "with the %s at %u:%u",
			       seq ? "items of the list"
				   : "keys of the mapping",
			       best->line, best->col);
	else if (top->type == SL_YAML_NODE_MAP)
		sl_yaml_err_at(ld, line, col,
			       "expected a key like the others of the mapping "
			       "at %u:%u",
			       top->line, top->col);
	else
		sl_yaml_err_at(ld, line, col,
			       "expected a list item (\"- \") like the others "
			       "of the list at %u:%u",
			       top->line, top->col);
	return 0;
}

/*
 * The plain scalar at line:col was meant as a key but has no ":" (next:
 * the line libyaml read as its continuation, or 0). Only its first word is
 * quoted.
 */
static int
err_colon(struct sl_yaml_loader *ld, unsigned line, unsigned col, unsigned next)
{
	size_t len, i, n;
	const char *s = text_line(ld, line, &len), *word;

	i = col_index(s, len, col);
	for (n = i; n < len; n++)
		if (s[n] == '#' && n > i &&
		    (s[n - 1] == ' ' || s[n - 1] == '\t'))
			break;
	while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	/* the first word alone: it is the key the ":" was meant after,
	 * and the rest of the line may be its value, a credential
	 * ("Authorization Bearer ..."), which no message may echo; and
	 * "X-Api-Key:abc" (no blank after the ":") is one plain scalar
	 * whose text past the ":" is the value */
	for (size_t w = i; w < n; w++)
		if (s[w] == ' ' || s[w] == '\t' || s[w] == ':') {
			if (s[w] == ':') {
				word = sl_yaml_quote(ld, s + i, w - i);
				sl_yaml_err_at(ld, line, col,
					       "missing a blank after \"%s:\" "
					       "(YAML reads the key and what "
					       "follows as one value, not "
					       "shown)",
					       word);
				return 0;
			}
			n = w;
			break;
		}
	word = sl_yaml_quote(ld, s + i, n - i);
	if (next > 0)
		sl_yaml_err_at(ld, line, col,
			       "missing \":\" after \"%s\" (YAML reads this "
			       "line and line %u as one value)",
			       word, next);
	else
		sl_yaml_err_at(ld, line, col, "missing \":\" after \"%s\"",
			       word);
	return 0;
}

/*
 * libyaml expected a key or "- " at line:col. At the start of a line that
 * is bad indentation; after a value on the line, text that cannot follow.
 */
static int
err_block(struct sl_yaml_loader *ld, const struct build *b, unsigned line,
	  unsigned col)
{
	const struct sl_yaml_node *top = b->stack[b->depth - 1], *last;
	size_t off;
	int seq, c;

	if (line_indent(ld, line, &seq) == col)
		return err_indent(ld, b, line, col, seq);
	last = top->nkids > 0 ? top->kids[top->nkids - 1] : NULL;
	if (last == NULL || last->line != line || last->col >= col)
		return -1;
	c = text_at(ld, last->line, last->col, &off);
	sl_yaml_err_at(ld, line, col, "unexpected text after the %s at %u:%u",
		       last->type == SL_YAML_NODE_SEQ	? "list"
		       : last->type == SL_YAML_NODE_MAP ? "mapping"
		       : c == '"' || c == '\''		? "quoted string"
							: "value",
		       last->line, last->col);
	return 0;
}

/*
 * libyaml found a ":" on line after a plain value that cannot be a key:
 * a value with ": " in it, a line indented so far that it continues the
 * value above it, or a value on a line of its own that lacks its ":".
 */
static int
err_value(struct sl_yaml_loader *ld, const struct build *b, unsigned line)
{
	const struct sl_yaml_node *top = b->stack[b->depth - 1], *last;
	const struct sl_yaml_node *key = NULL;
	unsigned col;
	int seq;

	last = top->nkids > 0 ? top->kids[top->nkids - 1] : NULL;
	if (last == NULL || last->type != SL_YAML_NODE_SCALAR || !last->plain)
		return -1;
	if (top->type == SL_YAML_NODE_MAP) {
		if (top->nkids % 2 != 0)
			return -1; /* last is a key */
		key = top->kids[top->nkids - 2];
	}
	if (last->line == line) {
		sl_yaml_err_at(ld, last->line, last->col,
			       "a value containing \": \" must be quoted");
		return 0;
	}
	if (key == NULL || key->line != last->line)
		return err_colon(ld, last->line, last->col, line);
	col = line_indent(ld, line, &seq);
	return err_indent(ld, b, line, col, seq);
}

int
sl_yaml_says(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Reports libyaml's syntax error p in the operator's words when it is a
 * known mistake, at the place to edit. Returns -1 when it is not.
 */
static int
explain(struct sl_yaml_loader *ld, const yaml_parser_t *p,
	const struct build *b)
{
	unsigned line = (unsigned)p->problem_mark.line + 1;
	unsigned col = (unsigned)p->problem_mark.column + 1;
	unsigned cline = (unsigned)p->context_mark.line + 1;
	unsigned ccol = (unsigned)p->context_mark.column + 1;
	const char *problem = p->problem != NULL ? p->problem : "";
	const char *context = p->context != NULL ? p->context : "";
	const struct sl_yaml_node *top;
	size_t off;
	int c, q, seq;

	top = b->depth > 0 ? b->stack[b->depth - 1] : NULL;
	c = text_at(ld, line, col, &off);
	/* A tab where libyaml wants an indentation space or a token. */
	if (c == '\t') {
		sl_yaml_err_at(ld, line, col,
			       "tabs are not allowed for indentation (indent "
			       "with spaces)");
		return 0;
	}
	if (sl_yaml_says(context, "while scanning a quoted scalar")) {
		q = text_at(ld, cline, ccol, &off) == '\'' ? '\'' : '"';
		if (sl_yaml_says(problem, "found unexpected end of stream"))
			sl_yaml_err_at(ld, cline, ccol,
				       "unclosed quoted string (no closing %c "
				       "before the end of the file)",
				       q);
		else if (sl_yaml_says(problem,
				      "found unexpected document indicator"))
			sl_yaml_err_at(ld, cline, ccol,
				       "unclosed quoted string (no closing %c "
				       "before the document marker at %u:%u)",
				       q, line, col);
		else
			return -1;
		return 0;
	}
	/*
	 * A quote left open takes in the lines up to the next quote, and
	 * libyaml stumbles on what follows that one.
	 */
	if (b->quote != 0 && line == b->qend_line) {
		sl_yaml_err_at(ld, b->qline, b->qcol,
			       "unclosed quoted string (the next %c is at "
			       "%u:%u)",
			       b->quote, b->qend_line, b->qend_col);
		return 0;
	}
	if (sl_yaml_says(problem, "did not find expected ',' or "))
		return flow_error(ld, cline, ccol, line, col, 1);
	if (sl_yaml_says(problem, "did not find expected node content") &&
	    top != NULL && top->flow)
		return flow_error(ld, top->line, top->col, line, col, 0);
	if (sl_yaml_says(problem,
			 "found character that cannot start any token") &&
	    (c == '@' || c == '`' || c == '%')) {
		sl_yaml_err_at(ld, line, col,
			       "\"%c\" cannot start a value (quote the value)",
			       c);
		return 0;
	}
	if (sl_yaml_says(problem, "could not find expected ':'"))
		return err_colon(ld, cline, ccol, 0);

	/* Block structure: indentation, mostly. */
	if (top == NULL || top->flow)
		return -1;
	if (sl_yaml_says(problem, "did not find expected key") ||
	    sl_yaml_says(problem, "did not find expected '-' indicator"))
		return err_block(ld, b, line, col);
	if (sl_yaml_says(problem, "mapping values are not allowed"))
		return err_value(ld, b, line);
	if (sl_yaml_says(problem, "block sequence entries are not allowed")) {
		if (line_indent(ld, line, &seq) == col)
			return err_indent(ld, b, line, col, 1);
		sl_yaml_err_at(ld, line, col,
			       "\"- \" cannot follow a key on the same line "
			       "(start the list on the next line)");
		return 0;
	}
	return -1;
}

void
sl_yaml_syntax_error(struct sl_yaml_loader *ld, const yaml_parser_t *p,
		     const struct build *b)
{
	unsigned line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		ld->oom = 1;
		break;
	case YAML_READER_ERROR:
		sl_yaml_offset_pos(ld, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			sl_yaml_err_at(ld, line, col, "invalid YAML: %s (#x%x)",
				       p->problem, (unsigned)p->problem_value);
		else
			sl_yaml_err_at(ld, line, col, "invalid YAML: %s",
				       p->problem);
		break;
	default:
		if (explain(ld, p, b) == 0)
			break;
		line = (unsigned)p->problem_mark.line + 1;
		col = (unsigned)p->problem_mark.column + 1;
		if (p->context != NULL)
			sl_yaml_err_at(
			    ld, line, col, "invalid YAML: %s (%s at %u:%u)",
			    p->problem ? p->problem : "syntax error",
			    p->context, (unsigned)p->context_mark.line + 1,
			    (unsigned)p->context_mark.column + 1);
		else
			sl_yaml_err_at(ld, line, col, "invalid YAML: %s",
				       p->problem ? p->problem
						  : "syntax error");
		break;
	}
}
