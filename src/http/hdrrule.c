/* SPDX-License-Identifier: MIT */
/*
 * Header rules: the compiler (names checked and lower-cased, values split
 * at their variables) and the writer of the fields they add. See
 * hdrrule.h; h1_msg.c calls the writer while it writes a head.
 */
#include "hdrrule.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const var_names[SL_HDR_V_N] = {
    [SL_HDR_V_CLIENT_IP] = "client_ip",
    [SL_HDR_V_REQUEST_ID] = "request_id",
    [SL_HDR_V_ROUTE] = "route",
    [SL_HDR_V_CLUSTER] = "cluster",
    [SL_HDR_V_TLS_VERSION] = "tls_version",
    [SL_HDR_V_TLS_CLIENT_SUBJECT] = "tls_client_subject",
};

const char *
sl_hdr_var_name(int v)
{
	return v >= 0 && v < SL_HDR_V_N ? var_names[v] : NULL;
}

static int
var_find(const char *s, size_t n)
{
	for (int v = 0; v < SL_HDR_V_N; v++)
		if (strlen(var_names[v]) == n &&
		    memcmp(var_names[v], s, n) == 0)
			return v;
	return -1;
}

struct sl_hdr_rules *
sl_hdr_rules_new(void)
{
	return calloc(1, sizeof(struct sl_hdr_rules));
}

static void
field_free(struct sl_hdr_field *f)
{
	free(f->name);
	free(f->lname);
	free(f->text);
	free(f->lit);
	free(f->parts);
	free(f->wire);
}

void
sl_hdr_rules_free(struct sl_hdr_rules *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nremove; i++)
		free(r->remove[i].name);
	free(r->remove);
	for (size_t i = 0; i < r->ndrop; i++)
		free(r->drop[i].name);
	free(r->drop);
	for (size_t i = 0; i < r->nfields; i++)
		field_free(&r->fields[i]);
	free(r->fields);
	free(r->block);
	free(r);
}

/* r's block, made again after a field came: its fields' wires in order
 * when none holds a variable. Returns 0, or -1 (out of memory). */
static int
make_block(struct sl_hdr_rules *r)
{
	size_t n = 0;
	char *b;

	free(r->block);
	r->block = NULL;
	r->block_len = 0;
	r->own_clash = 0;
	for (size_t i = 0; i < r->nfields; i++) {
		if (r->fields[i].nvars != 0)
			return 0;
		n += r->fields[i].wire_len;
		r->own_clash |= r->fields[i].own_clash;
	}
	/* one byte at least: an empty block (fields whose values are
	 * empty) writes nothing, but is not NULL */
	if ((b = malloc(n + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < r->nfields; i++) {
		memcpy(b + r->block_len, r->fields[i].wire,
		       r->fields[i].wire_len);
		r->block_len += r->fields[i].wire_len;
	}
	r->block = b;
	return 0;
}

/* ---- names ------------------------------------------------------------ */

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The names no rule may touch, and why. */
static const struct {
	const char *name;
	int request_only;
	const char *why;
} refused[] = {
    {"content-length", 0, "frames the message"},
    {"transfer-encoding", 0, "frames the message"},
    {"connection", 0, "is hop-by-hop"},
    {"keep-alive", 0, "is hop-by-hop"},
    {"te", 0, "is hop-by-hop"},
    {"trailer", 0, "is hop-by-hop"},
    {"upgrade", 0, "is hop-by-hop"},
    {"proxy-connection", 0, "is hop-by-hop"},
    {"x-request-id", 0, "is sluice's own"},
    {"host", 1, "names the request's target"},
    {"expect", 1, "is answered by sluice itself"},
    {"x-forwarded-for", 1, "is sluice's own"},
    {"x-forwarded-proto", 1, "is sluice's own"},
    {"x-sluice-mirror", 1, "is sluice's own"},
};

const char *
sl_hdr_name_refused(const char *name, size_t len, int request)
{
	if (len == 0 || len > 256)
		return "is not a valid header name";
	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)name[i]))
			return "is not a valid header name";
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if ((request || !refused[i].request_only) &&
		    strlen(refused[i].name) == len &&
		    strncasecmp(name, refused[i].name, len) == 0)
			return refused[i].why;
	return NULL;
}

/* The built-in credential names, lower-cased (hdrrule.h). */
static const char *const secret_names[] = {
    "authorization",  "proxy-authorization",
    "cookie",	      "set-cookie",
    "x-api-key",      "api-key",
    "apikey",	      "x-auth-token",
    "x-access-token", "x-amz-security-token",
    "x-vault-token",
};

/* Words that say a name holds a credential wherever they stand in it
 * (X-Session-Id, card_token, json.a.password): the WAF log's heuristic
 * since it began, kept so that no value masked before is shown now. */
static const char *const secret_words[] = {
    "token",  "password", "passwd", "secret",  "cvv",
    "cvc",    "api_key",  "apikey", "api-key", "authorization",
    "cookie", "session",  "sessid"};

/* Whether name[0..len) is one of the built-in names or extra[0..n). */
static int
secret_exact(const char *name, size_t len, const char *const *extra, size_t n)
{
	for (size_t i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]);
	     i++)
		if (strlen(secret_names[i]) == len &&
		    strncasecmp(name, secret_names[i], len) == 0)
			return 1;
	for (size_t i = 0; i < n; i++)
		if (strlen(extra[i]) == len &&
		    strncasecmp(name, extra[i], len) == 0)
			return 1;
	return 0;
}

int
sl_hdr_name_secret(const char *name, size_t len, const char *const *extra,
		   size_t n)
{
	size_t last = len, colon = len;

	for (size_t w = 0; w < sizeof(secret_words) / sizeof(secret_words[0]);
	     w++) {
		size_t wl = strlen(secret_words[w]);
		for (size_t i = 0; i + wl <= len; i++)
			if (strncasecmp(name + i, secret_words[w], wl) == 0)
				return 1;
	}
	/* a WAF variable's field is past its last ':'
	 * (REQUEST_HEADERS:X-Partner-Key); a header name has none */
	while (colon > 0 && name[colon - 1] != ':')
		colon--;
	if (secret_exact(name, len, extra, n) ||
	    (colon > 0 && secret_exact(name + colon, len - colon, extra, n)))
		return 1;
	/* "pin" only as a whole part: "shipping" is no pin, json.pin is */
	while (last > 0 && strchr(".:[", name[last - 1]) == NULL)
		last--;
	return len - last == 3 && strncasecmp(name + last, "pin", 3) == 0;
}

char *
sl_hdr_starred(char *out, size_t cap, size_t len)
{
	size_t n;

	if (cap == 0)
		return out;
	n = len < cap - 1 ? len : cap - 1;
	memset(out, '*', n);
	out[n] = '\0';
	return out;
}

char *
sl_hdr_lower_dup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	d[n] = '\0';
	return d;
}

static int
has_drop(const struct sl_hdr_rules *r, const char *lname, size_t len)
{
	for (size_t i = 0; i < r->ndrop; i++)
		if (r->drop[i].len == len &&
		    memcmp(r->drop[i].name, lname, len) == 0)
			return 1;
	return 0;
}

/* Adds lname (taken over) to the names dropped. */
static int
add_drop(struct sl_hdr_rules *r, char *lname, size_t len)
{
	struct sl_hdr_drop *d;

	if (has_drop(r, lname, len)) {
		free(lname);
		return 0;
	}
	d = realloc(r->drop, (r->ndrop + 1) * sizeof(*d));
	if (d == NULL) {
		free(lname);
		return -1;
	}
	r->drop = d;
	d[r->ndrop].name = lname;
	d[r->ndrop].len = len;
	r->ndrop++;
	r->drop_lens |= (uint64_t)1 << (len & 63);
	return 0;
}

enum sl_hdr_err
sl_hdr_rules_remove(struct sl_hdr_rules *r, const char *name, unsigned line,
		    unsigned col)
{
	size_t len = strlen(name);
	struct sl_hdr_removal *rm;
	char *lname;

	for (size_t i = 0; i < r->nremove; i++)
		if (strcasecmp(r->remove[i].name, name) == 0)
			return SL_HDR_E_DUP;
	rm = realloc(r->remove, (r->nremove + 1) * sizeof(*rm));
	if (rm == NULL)
		return SL_HDR_E_NOMEM;
	r->remove = rm;
	if ((rm[r->nremove].name = strdup(name)) == NULL)
		return SL_HDR_E_NOMEM;
	rm[r->nremove].line = line;
	rm[r->nremove].col = col;
	r->nremove++;
	if ((lname = sl_hdr_lower_dup(name, len)) == NULL ||
	    add_drop(r, lname, len) == -1)
		return SL_HDR_E_NOMEM;
	return SL_HDR_E_OK;
}

/* ---- values ----------------------------------------------------------- */

/*
 * Splits v[0..n) into f's parts: literal runs (with "$$" turned into "$")
 * and ${variables}. Checks the bytes as it goes: no control byte but HTAB,
 * no blank at either end (a receiver would strip it, or take the field for
 * a continuation).
 */
static enum sl_hdr_err
split_value(struct sl_hdr_field *f, const char *v, size_t n, unsigned *vars,
	    size_t *off, size_t *elen)
{
	size_t i = 0, litn = 0, run = 0;
	struct sl_hdr_part *p;

	*off = 0;
	*elen = 0;
	if (n > 0 && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
		      v[n - 1] == '\t')) {
		*off = (v[0] == ' ' || v[0] == '\t') ? 0 : n - 1;
		*elen = 1;
		return SL_HDR_E_BLANK;
	}
	/* at most one part per byte, and the literal is never longer */
	if ((f->lit = malloc(n + 1)) == NULL ||
	    (f->parts = calloc(n + 1, sizeof(*f->parts))) == NULL)
		return SL_HDR_E_NOMEM;
	while (i < n) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*off = i;
			*elen = 1;
			return SL_HDR_E_CTL;
		}
		if (c != '$') {
			f->lit[litn++] = (char)c;
			run++;
			i++;
			continue;
		}
		if (i + 1 < n && v[i + 1] == '$') {
			f->lit[litn++] = '$';
			run++;
			i += 2;
			continue;
		}
		if (i + 1 >= n || v[i + 1] != '{') {
			*off = i;
			*elen = 1;
			return SL_HDR_E_DOLLAR;
		}
		{
			const char *end = memchr(v + i + 2, '}', n - i - 2);
			int var;

			if (end == NULL) {
				*off = i;
				*elen = n - i;
				return SL_HDR_E_OPEN;
			}
			var = var_find(v + i + 2, (size_t)(end - v) - i - 2);
			if (var < 0) {
				*off = i;
				*elen = (size_t)(end - v) - i + 1;
				return SL_HDR_E_VAR;
			}
			if (run > 0) {
				f->parts[f->nparts].lit = f->lit + litn - run;
				f->parts[f->nparts++].len = (uint32_t)run;
				run = 0;
			}
			f->parts[f->nparts++].var = (uint8_t)var;
			*vars |= 1u << var;
			i = (size_t)(end - v) + 1;
		}
	}
	if (run > 0) {
		f->parts[f->nparts].lit = f->lit + litn - run;
		f->parts[f->nparts++].len = (uint32_t)run;
	}
	f->lit[litn] = '\0';
	/* one part a byte was the most it could take */
	if ((p = realloc(f->parts, (f->nparts + 1) * sizeof(*p))) != NULL)
		f->parts = p;
	return SL_HDR_E_OK;
}

/* Fields sluice's own answers carry, besides the protected ones. */
static int
own_clash(const char *lname)
{
	return strcmp(lname, "content-type") == 0 ||
	       strcmp(lname, "allow") == 0 || strcmp(lname, "retry-after") == 0;
}

enum sl_hdr_err
sl_hdr_rules_field(struct sl_hdr_rules *r, const char *name, const char *value,
		   size_t len, int add, unsigned line, unsigned col,
		   size_t *off, size_t *elen)
{
	struct sl_hdr_field f, *fs;
	size_t nlen = strlen(name), at;
	unsigned vars = 0;
	enum sl_hdr_err e;

	*off = *elen = 0;
	for (size_t i = 0; i < r->nfields; i++)
		if (r->fields[i].add == add &&
		    strcasecmp(r->fields[i].name, name) == 0)
			return SL_HDR_E_DUP;
	memset(&f, 0, sizeof(f));
	f.add = add;
	f.name_len = nlen;
	f.line = line;
	f.col = col;
	if ((f.name = strdup(name)) == NULL ||
	    (f.lname = sl_hdr_lower_dup(name, nlen)) == NULL ||
	    (f.text = malloc(len + 1)) == NULL) {
		field_free(&f);
		return SL_HDR_E_NOMEM;
	}
	memcpy(f.text, value, len);
	f.text[len] = '\0';
	f.own_clash = own_clash(f.lname);
	f.secret =
	    sl_hdr_name_secret(name, nlen, r->secret_names, r->nsecret_names);
	if ((e = split_value(&f, value, len, &vars, off, elen)) !=
	    SL_HDR_E_OK) {
		field_free(&f);
		return e;
	}
	/* what the writer copies, made once */
	f.fixed = nlen + 4;
	for (size_t i = 0; i < f.nparts; i++)
		if (f.parts[i].lit != NULL)
			f.fixed += f.parts[i].len;
		else
			f.nvars++;
	if ((f.wire = malloc(f.fixed)) == NULL) {
		field_free(&f);
		return SL_HDR_E_NOMEM;
	}
	memcpy(f.wire, name, nlen);
	memcpy(f.wire + nlen, ": ", 2);
	f.wire_len = nlen + 2;
	if (f.nvars == 0) {
		for (size_t i = 0; i < f.nparts; i++) {
			memcpy(f.wire + f.wire_len, f.parts[i].lit,
			       f.parts[i].len);
			f.wire_len += f.parts[i].len;
		}
		memcpy(f.wire + f.wire_len, "\r\n", 2);
		f.wire_len += 2;
		if (f.nparts == 0)
			f.wire_len = 0; /* empty: never written */
	}
	if (!add) {
		char *d = sl_hdr_lower_dup(name, nlen);
		if (d == NULL || add_drop(r, d, nlen) == -1) {
			field_free(&f);
			return SL_HDR_E_NOMEM;
		}
	}
	if ((fs = realloc(r->fields, (r->nfields + 1) * sizeof(*fs))) == NULL) {
		field_free(&f);
		return SL_HDR_E_NOMEM;
	}
	r->fields = fs;
	/* set: before add: (remove, then set, then add, for one name) */
	for (at = r->nfields; !add && at > 0 && fs[at - 1].add; at--)
		;
	memmove(fs + at + 1, fs + at, (r->nfields - at) * sizeof(*fs));
	fs[at] = f;
	r->nfields++;
	r->vars |= vars;
	if (make_block(r) == -1)
		return SL_HDR_E_NOMEM; /* the field stays: r is freed whole */
	return SL_HDR_E_OK;
}

/* ---- writing ---------------------------------------------------------- */

/* Whether route rules r drop a field of the listener's l. */
static int
drops_any(const struct sl_hdr_rules *r, const struct sl_hdr_rules *l)
{
	for (size_t i = 0; i < l->nfields; i++)
		if (sl_hdr_rules_drop(r, l->fields[i].lname,
				      l->fields[i].name_len))
			return 1;
	return 0;
}

struct sl_hdr_apply *
sl_hdr_apply_set(struct sl_hdr_apply *a, const struct sl_hdr_rules *l,
		 const struct sl_hdr_rules *r)
{
	if (l == NULL && r == NULL)
		return NULL;
	a->r[0] = l;
	a->r[1] = r;
	a->drop_lens =
	    (l != NULL ? l->drop_lens : 0) | (r != NULL ? r->drop_lens : 0);
	a->nfields =
	    (l != NULL ? l->nfields : 0) + (r != NULL ? r->nfields : 0);
	a->vars_used = (l != NULL ? l->vars : 0) | (r != NULL ? r->vars : 0);
	/* one set with fields, or the route's alone: a route's rules
	 * drop none of their own fields, and the listener's come first */
	a->block = NULL;
	a->block_len = 0;
	a->own_clash = 0;
	if (l == NULL || l->nfields == 0 || r == NULL || r->nfields == 0) {
		const struct sl_hdr_rules *one =
		    l != NULL && l->nfields > 0 ? l : r;
		if (one != NULL && one->block != NULL &&
		    (one == r || !drops_any(r, one))) {
			a->block = one->block;
			a->block_len = one->block_len;
			a->own_clash = one->own_clash;
		}
	}
	return a;
}

/* Writes field f at p (end: the buffer's end). Returns the end of what
 * it wrote (p itself for a field whose value is empty: not sent), or
 * NULL when it does not fit. */
static SL_INLINE char *
write_field(char *p, const char *end, const struct sl_hdr_field *f,
	    const char *const *val)
{
	const struct sl_hdr_part *pp, *pe;
	size_t n;

	if (f->nvars == 0) {
		/* the whole field, made at load; an empty value is not
		 * sent (wire_len 0) */
		if ((size_t)(end - p) < f->wire_len)
			return NULL;
		memcpy(p, f->wire, f->wire_len);
		return p + f->wire_len;
	}
	if (f->nparts == 1) {
		/* a variable alone, the usual other case */
		const char *v = val[f->parts[0].var];
		size_t vl = strlen(v);
		if (vl == 0)
			return p;
		if ((size_t)(end - p) < f->wire_len + vl + 2)
			return NULL;
		memcpy(p, f->wire, f->wire_len);
		p += f->wire_len;
		memcpy(p, v, vl);
		p += vl;
		*p++ = '\r';
		*p++ = '\n';
		return p;
	}
	pe = f->parts + f->nparts;
	n = f->fixed;
	for (pp = f->parts; pp < pe; pp++)
		if (pp->lit == NULL)
			n += strlen(val[pp->var]);
	if (n == f->name_len + 4)
		return p; /* an empty value is not sent */
	if ((size_t)(end - p) < n)
		return NULL;
	memcpy(p, f->wire, f->wire_len);
	p += f->wire_len;
	for (pp = f->parts; pp < pe; pp++) {
		const char *s = pp->lit;
		size_t l = pp->len;
		if (s == NULL) {
			s = val[pp->var];
			l = strlen(s);
		}
		memcpy(p, s, l);
		p += l;
	}
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

long
sl_hdr_write_fields(char *out, size_t cap, const struct sl_hdr_apply *a,
		    const struct sl_hdr_vars *vars, int own)
{
	const struct sl_hdr_rules *l = a->r[0], *r = a->r[1];
	const char *end = out + cap;
	char *p = out;
	size_t i;

	/* the listener's, but those the route's rules drop (they apply
	 * after the listener's) */
	for (i = 0; l != NULL && i < l->nfields; i++) {
		const struct sl_hdr_field *f = &l->fields[i];
		if ((own && f->own_clash) ||
		    sl_hdr_rules_drop(r, f->lname, f->name_len))
			continue;
		if ((p = write_field(p, end, f, vars->v)) == NULL)
			return -1;
	}
	for (i = 0; r != NULL && i < r->nfields; i++) {
		const struct sl_hdr_field *f = &r->fields[i];
		if (own && f->own_clash)
			continue;
		if ((p = write_field(p, end, f, vars->v)) == NULL)
			return -1;
	}
	return (long)(p - out);
}
