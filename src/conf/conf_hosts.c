/* SPDX-License-Identifier: MIT */
/*
 * A route's hosts_file (doc/sluice.yaml.5, "match"): the names a route
 * matches, one a line, read from their own file at each load (start, -t,
 * every reload), so that a platform's hundred thousand merchant hosts are
 * one route, not a hundred thousand (doc/design-notes.md, "Routes at
 * scale"). Each name is checked as a route's host is; every bad line is
 * an error at the hosts_file key, with the file's line, up to
 * HOSTS_MAX_ERRORS of them.
 */
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "conf_types.h"
#include "conf_yaml.h"

#define HOSTS_FILE_MAX	 (64u << 20) /* bytes: about two million names */
#define HOSTS_MAX_ERRORS 20	     /* said of one file; then a count */

void
sl_conf_free_hostset(struct sl_conf_hostset *hs)
{
	if (hs == NULL)
		return;
	free(hs->file);
	free(hs->names);
	free(hs->at);
	free(hs);
}

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One bad line said at n: the file, its line, the name quoted (at most
 * 80 bytes of it). */
static void
bad_line(struct sl_yaml_loader *ld, const char *lbl,
	 const struct sl_yaml_node *n, const char *path, size_t line,
	 const char *s, size_t len, const char *why)
{
	char q[81];

	if (len > sizeof(q) - 1)
		len = sizeof(q) - 1;
	memcpy(q, s, len);
	q[len] = '\0';
	sl_yaml_err_node(ld, n, "%s: \"hosts_file\": %s:%zu: \"%s\" %s", lbl,
			 sl_yaml_qstr(ld, path), line, sl_yaml_qstr(ld, q),
			 why);
}

void
sl_conf_parse_hosts_file(struct sl_yaml_loader *ld, const char *lbl,
			 const struct sl_yaml_node *n, struct sl_conf_route *r)
{
	struct sl_conf_hostset *hs;
	const char *path;
	size_t len, lines = 1, nbad = 0, line = 0, used = 0;
	char *buf, *p, *end;

	if (sl_yaml_get_str(ld, "hosts_file", n, &path) == -1)
		return;
	if (path[0] == '\0') {
		sl_yaml_err_node(ld, n, "%s: \"hosts_file\" must name a file",
				 lbl);
		return;
	}
	if (sl_conf_read_file(ld, lbl, "hosts_file", n, path, HOSTS_FILE_MAX,
			      "64 MiB", &buf, &len) == -1)
		return;
	for (p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))) != NULL;
	     p++)
		lines++;
	if ((hs = calloc(1, sizeof(*hs))) == NULL ||
	    (hs->file = sl_yaml_strdup(ld, path)) == NULL ||
	    (hs->at = malloc(lines * sizeof(*hs->at))) == NULL) {
		ld->oom = 1;
		sl_conf_free_hostset(hs);
		free(buf);
		return;
	}
	/* names are written over the text they came from: each is no longer
	 * than its line, and its NUL takes the line's end */
	hs->names = buf;
	for (p = buf, end = buf + len; p < end; p++) {
		char *eol = memchr(p, '\n', (size_t)(end - p)), *s, *e, *c;
		int wild, bad;

		if (eol == NULL)
			eol = end;
		line++;
		s = p;
		e = eol;
		if ((c = memchr(s, '#', (size_t)(e - s))) != NULL)
			e = c;
		while (s < e && blank(*s))
			s++;
		while (e > s && blank(e[-1]))
			e--;
		p = eol;
		if (s == e)
			continue;
		bad = 0;
		for (c = s; c < e; c++)
			if (blank(*c) || *c == '\0')
				bad = 1;
		if (!bad && (bad = sl_conf_host_pattern(s, (size_t)(e - s),
							&wild)) == 0) {
			size_t nl = (size_t)(e - s) - (size_t)wild;

			/* "*.x" is kept as ".x", a route's host's form */
			memmove(buf + used, s + wild, nl);
			for (size_t i = 0; i < nl; i++)
				if (buf[used + i] >= 'A' &&
				    buf[used + i] <= 'Z')
					buf[used + i] += 'a' - 'A';
			buf[used + nl] = '\0';
			hs->at[hs->n].off = (uint32_t)used;
			hs->at[hs->n].len = (uint32_t)nl;
			hs->at[hs->n].wild = (uint32_t)wild;
			hs->n++;
			used += nl + 1;
			continue;
		}
		if (++nbad <= HOSTS_MAX_ERRORS)
			bad_line(ld, lbl, n, path, line, s, (size_t)(e - s),
				 bad == 1    ? "is not one name"
				 : bad == -2 ? "must not contain a port"
					     : "is not a host name (expected a "
					       "name or *.suffix)");
	}
	if (nbad > HOSTS_MAX_ERRORS)
		sl_yaml_err_node(ld, n,
				 "%s: \"hosts_file\": \"%s\": %zu more bad "
				 "lines",
				 lbl, sl_yaml_qstr(ld, path),
				 nbad - HOSTS_MAX_ERRORS);
	if (nbad == 0 && hs->n == 0)
		sl_yaml_err_node(ld, n,
				 "%s: \"hosts_file\": \"%s\" holds no name (a "
				 "route of no host would match none)",
				 lbl, sl_yaml_qstr(ld, path));
	if (nbad > 0 || hs->n == 0) {
		sl_conf_free_hostset(hs);
		return;
	}
	/* what was sized for the file's text, cut to what is used */
	if ((p = realloc(hs->names, used)) != NULL)
		hs->names = p;
	{
		struct sl_conf_hostname *a =
		    realloc(hs->at, hs->n * sizeof(*hs->at));
		if (a != NULL)
			hs->at = a;
	}
	r->hosts = hs;
}
