/* SPDX-License-Identifier: MIT */
/*
 * What can be read of a request head the parser refused, for the logs
 * only (sl_h1_salvage, declared in h1_parse.h): lenient where h1_parse.c
 * is strict, it shares none of its rules, and nothing it finds is ever
 * routed or forwarded. Pure: no I/O, no malloc, no global state.
 */
#include <stddef.h>
#include <string.h>

#include "h1_parse.h"

/* The value of field line [p, end) when its name is lname, else NULL. */
static const char *
salvage_field(const char *p, const char *end, const char *lname, size_t *vlen)
{
	size_t n = strlen(lname);
	const char *v;

	if ((size_t)(end - p) <= n || p[n] != ':' || !sl_h1_ieq(p, n, lname))
		return NULL;
	v = p + n + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

void
sl_h1_salvage(const char *buf, size_t len, struct sl_h1_salvage *out)
{
	const char *p = buf, *end = buf + len, *eol, *sp;

	memset(out, 0, sizeof(*out));
	out->minor = -1;
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	/* request line: up to LF (a bare one too), without its CR */
	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		eol = end;
	if (eol > p && eol[-1] == '\r' && eol < end)
		eol--;
	if ((sp = memchr(p, ' ', (size_t)(eol - p))) != NULL && sp > p) {
		out->method = p;
		out->method_len = (size_t)(sp - p);
		p = sp + 1;
		sp = memchr(p, ' ', (size_t)(eol - p));
		out->target = p;
		out->target_len = (size_t)((sp ? sp : eol) - p);
		if (sp != NULL && eol - sp == 9 &&
		    memcmp(sp + 1, "HTTP/1.", 7) == 0 && sp[8] >= '0' &&
		    sp[8] <= '9')
			out->minor = sp[8] == '0' ? 0 : 1;
	}
	/* field lines, whatever else is wrong with them */
	for (p = eol; p < end;) {
		const char *v;
		size_t vl;

		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p++;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		else if (eol > p && eol[-1] == '\r')
			eol--;
		if (eol == p)
			break; /* the empty line ends the head */
		if (out->host == NULL &&
		    (v = salvage_field(p, eol, "host", &vl)) != NULL) {
			out->host = v;
			out->host_len = vl;
		} else if (out->referer == NULL &&
			   (v = salvage_field(p, eol, "referer", &vl)) !=
			       NULL) {
			out->referer = v;
			out->referer_len = vl;
		} else if (out->user_agent == NULL &&
			   (v = salvage_field(p, eol, "user-agent", &vl)) !=
			       NULL) {
			out->user_agent = v;
			out->user_agent_len = vl;
		}
		p = eol;
	}
}
