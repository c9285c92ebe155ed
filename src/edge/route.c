/* SPDX-License-Identifier: MIT */
/*
 * Route matching on host, path, method and header values, first match wins;
 * the keys that keep a user on one cluster of a split (or one endpoint of
 * a hash-balanced cluster), and the cluster of a split a request fails over
 * to. Pure: no I/O, no allocation. A listener of many routes is looked up
 * through its index (route_index.c, which calls the walk here for the
 * others, and is tested against it).
 */
#include "route.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "balance.h"

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

size_t
sl_route_host_len(const char *host, size_t len)
{
	if (len > 0 && host[0] == '[') {
		/* IP literal: the port follows the closing bracket */
		const char *end = memchr(host, ']', len);
		return end == NULL ? len : (size_t)(end - host) + 1;
	}
	for (size_t i = 0; i < len; i++)
		if (host[i] == ':')
			return i;
	return len;
}

/* Whether a route's name (plen bytes, lower-case; a wildcard's ".suffix"
 * when wild) matches a request's host, len bytes without its port and
 * trailing dot. */
static int
name_eq(const char *name, size_t plen, int wild, const char *host, size_t len)
{
	const char *p;

	if (wild) {
		/* ".example.com" needs at least one label before it */
		if (len <= plen)
			return 0;
		p = host + len - plen;
	} else {
		if (len != plen)
			return 0;
		p = host;
	}
	for (size_t i = 0; i < plen; i++)
		if (lower((unsigned char)p[i]) != (unsigned char)name[i])
			return 0;
	return 1;
}

static int
host_eq(const struct sl_conf_route *r, const char *host, size_t len)
{
	return name_eq(r->host, strlen(r->host), r->host_wildcard, host, len);
}

/* Whether a name of r's hosts_file matches, walked: the index finds it by
 * hash, and this is its oracle. */
static int
set_eq(const struct sl_conf_hostset *hs, const char *host, size_t len)
{
	for (size_t k = 0; k < hs->n; k++)
		if (name_eq(hs->names + hs->at[k].off, hs->at[k].len,
			    hs->at[k].wild, host, len))
			return 1;
	return 0;
}

/* The host of a Host value as routes compare it: without its port, and
 * without a trailing dot (an absolute FQDN names the same host). */
static size_t
host_key_len(const char *host, size_t len)
{
	len = sl_route_host_len(host, len);
	if (len > 1 && host[len - 1] == '.')
		len--;
	return len;
}

int
sl_route_host_match(const struct sl_conf_route *r, const char *host, size_t len)
{
	return host_eq(r, host, host_key_len(host, len));
}

/* Whether r's path matches a path of len bytes without its query. */
static int
path_eq(const struct sl_conf_route *r, const char *path, size_t len)
{
	size_t plen = strlen(r->path);

	if (r->path_prefix)
		return len >= plen && memcmp(path, r->path, plen) == 0;
	return len == plen && memcmp(path, r->path, plen) == 0;
}

static int
method_match(const struct sl_conf_route *r, const struct sl_h1_request *req)
{
	for (size_t i = 0; i < r->nmethods; i++)
		if (strlen(r->methods[i]) == req->method_len &&
		    memcmp(r->methods[i], req->method, req->method_len) == 0)
			return 1;
	return 0;
}

static int
header_match(const struct sl_conf_header_match *m,
	     const struct sl_h1_request *req)
{
	size_t vlen = strlen(m->value);

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (sl_h1_ieq(h->name, h->name_len, m->name) &&
		    h->value_len == vlen &&
		    memcmp(h->value, m->value, vlen) == 0)
			return 1;
	}
	return 0;
}

static inline int
rest_match(const struct sl_conf_route *r, const struct sl_h1_request *req)
{
	size_t j;

	if (r->methods != NULL && !method_match(r, req))
		return 0;
	for (j = 0; j < r->nheaders; j++)
		if (!header_match(&r->headers[j], req))
			return 0;
	return 1;
}

int
sl_route_any(const struct sl_conf_route *r)
{
	return r->host == NULL && r->hosts == NULL && r->path == NULL &&
	       r->methods == NULL && r->nheaders == 0;
}

int
sl_route_rest_match(const struct sl_conf_route *r,
		    const struct sl_h1_request *req)
{
	return rest_match(r, req);
}

const struct sl_conf_route *
sl_route_match_walk(const struct sl_conf_route *routes, size_t n,
		    const struct sl_h1_request *req)
{
	/* the request's host and path as routes compare them, measured
	 * once, when a route first asks (a route of any host and path asks
	 * nothing) */
	size_t hlen = SIZE_MAX, plen = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		const struct sl_conf_route *r = &routes[i];

		if (r->host != NULL || r->hosts != NULL) {
			if (req->host == NULL)
				continue;
			if (hlen == SIZE_MAX)
				hlen = host_key_len(req->host, req->host_len);
			if (r->host != NULL
				? !host_eq(r, req->host, hlen)
				: !set_eq(r->hosts, req->host, hlen))
				continue;
		}
		if (r->path != NULL) {
			if (plen == SIZE_MAX) {
				const char *q =
				    memchr(req->path, '?', req->path_len);
				/* the query is not part of the path */
				plen = q != NULL ? (size_t)(q - req->path)
						 : req->path_len;
			}
			if (!path_eq(r, req->path, plen))
				continue;
		}
		if (!rest_match(r, req))
			continue;
		return r;
	}
	return NULL;
}

int
sl_route_cookie(const char *v, size_t vlen, const char *name, size_t nlen,
		const char **val, size_t *vallen)
{
	size_t i = 0;

	/* cookie-string = cookie-pair *( ";" SP cookie-pair ), read with
	 * blanks tolerated around the separators */
	while (i < vlen) {
		size_t ns, ne, vs, ve;

		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ';'))
			i++;
		ns = i;
		while (i < vlen && v[i] != '=' && v[i] != ';')
			i++;
		ne = i;
		while (ne > ns && (v[ne - 1] == ' ' || v[ne - 1] == '\t'))
			ne--;
		if (i >= vlen || v[i] != '=') {
			continue; /* a pair without "=": skipped */
		}
		vs = ++i;
		while (i < vlen && v[i] != ';')
			i++;
		ve = i;
		while (vs < ve && (v[vs] == ' ' || v[vs] == '\t'))
			vs++;
		while (ve > vs && (v[ve - 1] == ' ' || v[ve - 1] == '\t'))
			ve--;
		if (ne - ns == nlen && memcmp(v + ns, name, nlen) == 0) {
			*val = v + vs;
			*vallen = ve - vs;
			return 1;
		}
	}
	return 0;
}

int
sl_route_key(const struct sl_conf_key *k, const struct sl_h1_request *req,
	     const struct sl_ip *client, const void **key, size_t *len)
{
	switch (k->source) {
	case SL_KEY_HEADER:
		for (size_t i = 0; i < req->nheaders; i++) {
			const struct sl_h1_header *h = &req->headers[i];
			if (h->value_len > 0 &&
			    sl_h1_ieq(h->name, h->name_len, k->name)) {
				*key = h->value;
				*len = h->value_len;
				return 1;
			}
		}
		return 0;
	case SL_KEY_COOKIE:
		for (size_t i = 0; i < req->nheaders; i++) {
			const struct sl_h1_header *h = &req->headers[i];
			const char *val;
			size_t vl;
			if (h->name_len == 6 &&
			    sl_h1_ieq(h->name, 6, "cookie") &&
			    sl_route_cookie(h->value, h->value_len, k->name,
					    k->name_len, &val, &vl) &&
			    vl > 0) {
				*key = val;
				*len = vl;
				return 1;
			}
		}
		return 0;
	case SL_KEY_CLIENT_IP:
		/* cidr.h keeps a mapped IPv4 address as IPv4: a dual-stack
		 * listener's IPv4 clients hash as on an IPv4 listener */
		if (client->len == 0)
			return 0;
		*key = client->a;
		*len = client->len;
		return 1;
	case SL_KEY_NONE:
		break;
	}
	return 0;
}

size_t
sl_route_failover(const struct sl_conf_route *r, const uint32_t *weights,
		  uint64_t left, const uint64_t *key, int64_t *swrr)
{
	unsigned char skip[64];
	size_t n = r->nsplit < 64 ? r->nsplit : 64, open = 0;

	for (size_t i = 0; i < n; i++) {
		skip[i] = ((left >> i) & 1) || weights[i] == 0;
		open += !skip[i];
	}
	if (open == 0)
		return SL_BALANCE_NONE;
	if (key != NULL)
		return sl_balance_race(*key, r->split_ids, weights, n, skip);
	return sl_balance_swrr(swrr, weights, n, skip);
}

const uint32_t *
sl_route_split_weights(const struct sl_conf_route *r, uint32_t *cache,
		       uint64_t *mask, int64_t *swrr)
{
	uint64_t m =
	    r->split_held != NULL
		? atomic_load_explicit(r->split_held, memory_order_relaxed)
		: 0;

	if (m == *mask)
		return m == 0 ? r->split_weights : cache;
	for (size_t i = 0; i < r->nsplit; i++)
		cache[i] = i < 64 && ((m >> i) & 1) ? 0 : r->split_weights[i];
	*mask = m;
	/* a held entry's round-robin credit must not win it one more
	 * request */
	memset(swrr, 0, r->nsplit * sizeof(*swrr));
	return m == 0 ? r->split_weights : cache;
}
