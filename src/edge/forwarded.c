/* SPDX-License-Identifier: MIT */
/*
 * X-Forwarded-For and Forwarded (RFC 7239) read from the right past the
 * trusted proxies (see forwarded.h and doc/edge.md section 3).
 */
#include "forwarded.h"

#include <string.h>

/* One element of a list field: value + off, len bytes. */
struct span {
	size_t off, len;
};

static int
ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The end of the list item or pair that starts at v[i]: the index of the
 * next sep at or after i, or n. In Forwarded (quoted), a quoted string
 * hides its separators; a backslash in it escapes the next byte.
 */
static size_t
item_end(const char *v, size_t n, size_t i, char sep, int quoted)
{
	const char *e;
	int inq = 0;

	if (!quoted) {
		/* X-Forwarded-For: no quoting, the next separator */
		if (i >= n || (e = memchr(v + i, sep, n - i)) == NULL)
			return n;
		return (size_t)(e - v);
	}
	for (; i < n; i++) {
		if (quoted && inq && v[i] == '\\') {
			i++; /* the escaped byte, whatever it is */
			continue;
		}
		if (quoted && v[i] == '"')
			inq = !inq;
		else if (!inq && v[i] == sep)
			return i;
	}
	return n;
}

/*
 * The non-empty elements of v[0..n), whitespace around each trimmed, into
 * sp as a ring: the right-most SL_FORWARDED_MAX_ELEMS are kept, element k
 * at sp[k % SL_FORWARDED_MAX_ELEMS]. Returns how many there are in all.
 */
static size_t
split(const char *v, size_t n, int quoted, struct span *sp)
{
	size_t count = 0;

	for (size_t i = 0; i <= n;) {
		size_t e = item_end(v, n, i, ',', quoted), a = i, b = e;
		while (a < b && ows(v[a]))
			a++;
		while (b > a && ows(v[b - 1]))
			b--;
		if (b > a) {
			sp[count % SL_FORWARDED_MAX_ELEMS].off = a;
			sp[count % SL_FORWARDED_MAX_ELEMS].len = b - a;
			count++;
		}
		i = e + 1;
	}
	return count;
}

/* A port: 1 to 5 digits up to 65535; in Forwarded also an obfuscated one
 * ("_" and letters, digits, ".", "_", "-"). Returns 0 or -1. */
static int
port_ok(const char *s, size_t n, int obf)
{
	uint32_t v = 0;

	if (n == 0)
		return -1;
	if (obf && s[0] == '_') {
		for (size_t i = 1; i < n; i++)
			if (!((s[i] >= 'a' && s[i] <= 'z') ||
			      (s[i] >= 'A' && s[i] <= 'Z') ||
			      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
			      s[i] == '_' || s[i] == '-'))
				return -1;
		return 0;
	}
	if (n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	return v <= 65535 ? 0 : -1;
}

/*
 * A dotted quad (inet_pton's rules: four numbers of 0..255 without
 * leading zeros) into *ip, by hand: the usual element of X-Forwarded-For
 * costs a quarter of what inet_pton does. Returns 0 or -1.
 */
static int
ipv4(const char *s, size_t n, struct sl_ip *ip)
{
	const char *e = s + n;

	for (int k = 0; k < 4; k++) {
		unsigned v;
		if (s == e || *s < '0' || *s > '9')
			return -1;
		/* a leading 0 is the whole number */
		if ((v = (unsigned)(*s++ - '0')) != 0)
			for (int d = 0;
			     d < 2 && s < e && *s >= '0' && *s <= '9'; d++)
				v = v * 10 + (unsigned)(*s++ - '0');
		if (v > 255 || (k < 3 && (s == e || *s++ != '.')))
			return -1;
		ip->a[k] = (uint8_t)v;
	}
	if (s != e)
		return -1;
	ip->len = 4;
	return 0;
}

/*
 * A node: "[v6]", "[v6]:port", "v4", "v4:port", and, when bare6 (in
 * X-Forwarded-For), a bare IPv6 address. Returns 0 or -1.
 */
static int
node_ip(const char *s, size_t n, int bare6, struct sl_ip *ip)
{
	const char *c, *rb;

	if (n == 0)
		return -1;
	if (s[0] == '[') {
		if ((rb = memchr(s, ']', n)) == NULL || rb == s + 1)
			return -1;
		if ((size_t)(rb + 1 - s) < n &&
		    (rb[1] != ':' ||
		     port_ok(rb + 2, n - (size_t)(rb + 2 - s), !bare6) == -1))
			return -1;
		/* brackets hold IPv6 only */
		if (memchr(s + 1, ':', (size_t)(rb - s - 1)) == NULL)
			return -1;
		return sl_ip_parse(s + 1, (size_t)(rb - s - 1), ip);
	}
	if ((c = memchr(s, ':', n)) == NULL)
		return ipv4(s, n, ip);
	if (memchr(c + 1, ':', n - (size_t)(c + 1 - s)) == NULL) {
		/* one colon: IPv4 and a port */
		if (port_ok(c + 1, n - (size_t)(c + 1 - s), !bare6) == -1)
			return -1;
		return ipv4(s, (size_t)(c - s), ip);
	}
	return bare6 ? sl_ip_parse(s, n, ip) : -1;
}

/* The for= node of a Forwarded element s[0..n): 0 with *node set, or
 * -1 (none, two, an empty or escaped value). */
static int
forwarded_for(const char *s, size_t n, const char **node, size_t *node_len)
{
	int found = 0;

	for (size_t i = 0; i <= n;) {
		size_t e = item_end(s, n, i, ';', 1), a = i, b = e;
		const char *eq;
		size_t nl;
		while (a < b && ows(s[a]))
			a++;
		while (b > a && ows(s[b - 1]))
			b--;
		i = e + 1;
		if (b == a)
			continue; /* "for=a;;proto=b": an empty pair */
		if ((eq = memchr(s + a, '=', b - a)) == NULL)
			return -1;
		nl = (size_t)(eq - (s + a));
		while (nl > 0 && ows(s[a + nl - 1]))
			nl--;
		if (!sl_h1_ieq(s + a, nl, "for"))
			continue;
		if (found)
			return -1; /* two for=: which one? neither */
		found = 1;
		a = (size_t)(eq + 1 - s);
		while (a < b && ows(s[a]))
			a++;
		if (b - a >= 2 && s[a] == '"' && s[b - 1] == '"') {
			a++;
			b--;
			/* a node needs no escape: one is a trick */
			if (memchr(s + a, '\\', b - a) != NULL ||
			    memchr(s + a, '"', b - a) != NULL)
				return -1;
		} else if (memchr(s + a, '"', b - a) != NULL)
			return -1;
		*node = s + a;
		*node_len = b - a;
	}
	return found ? 0 : -1;
}

int
sl_forwarded_element(enum sl_client_header field, const char *s, size_t n,
		     struct sl_ip *ip)
{
	const char *node;
	size_t len;

	if (field == SL_CLIENT_HEADER_XFF)
		return node_ip(s, n, 1, ip);
	if (forwarded_for(s, n, &node, &len) == -1)
		return -1;
	return node_ip(node, len, 0, ip);
}

/* Whether the field name n (a token, as the parser checked) is name (lower
 * case letters and '-', len bytes): a token's byte is one of those, in
 * either case, exactly when it is with bit 0x20 set. */
static int
name_is(const char *n, const char *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)n[i] | 0x20) != (unsigned char)name[i])
			return 0;
	return 1;
}

int
sl_forwarded_walk(const struct sl_h1_header *hdrs, size_t n,
		  enum sl_client_header field,
		  const struct sl_cidr_set *trusted,
		  struct sl_forwarded_walk *w)
{
	const char *name =
	    field == SL_CLIENT_HEADER_XFF ? "x-forwarded-for" : "forwarded";
	size_t name_len = strlen(name);
	struct span sp[SL_FORWARDED_MAX_ELEMS];
	int have = 0; /* w->client is a trusted element right of the walk */

	w->seen = 0;
	for (size_t i = n; i-- > 0;) {
		const struct sl_h1_header *h = &hdrs[i];
		size_t count, low;

		if (h->name_len != name_len ||
		    !name_is(h->name, name, name_len))
			continue;
		count = split(h->value, h->value_len,
			      field == SL_CLIENT_HEADER_FORWARDED, sp);
		low = count > SL_FORWARDED_MAX_ELEMS
			  ? count - SL_FORWARDED_MAX_ELEMS
			  : 0;
		for (size_t k = count; k-- > low;) {
			const struct span *s = &sp[k % SL_FORWARDED_MAX_ELEMS];
			struct sl_ip ip;
			w->seen++;
			if (sl_forwarded_element(field, h->value + s->off,
						 s->len, &ip) == -1)
				return have;
			w->client = ip;
			w->hdr = i;
			w->off = s->off;
			if (sl_cidr_set_find(trusted, &ip) < 0)
				return 1;
			have = 1;
		}
		if (low > 0)
			return have; /* more than the bound: stop there */
	}
	return have;
}

int
sl_forwarded_settle(const struct sl_conf_listener *l,
		    const struct sl_h1_request *req, struct sl_ip *client,
		    struct sl_fwd *fwd)
{
	struct sl_forwarded_walk w;

	if (l->trusted_proxies.n == 0 ||
	    sl_cidr_set_find(&l->trusted_proxies, client) < 0) {
		/* nothing a client writes there is believed */
		if (l->untrusted_forwarded == SL_UNTRUSTED_STRIP)
			fwd->xff = SL_FWD_STRIP;
		return 0;
	}
	if (!sl_forwarded_walk(req->headers, req->nheaders,
			       l->client_address_header, &l->trusted_proxies,
			       &w))
		return 0;
	*client = w.client;
	if (l->client_address_header == SL_CLIENT_HEADER_XFF) {
		/* the list goes on up to the client, and the client */
		fwd->xff = SL_FWD_CUT;
		fwd->cut_hdr = w.hdr;
		fwd->cut_off = w.off;
	}
	return 1;
}
