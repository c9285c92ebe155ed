/* SPDX-License-Identifier: MIT */
/*
 * Route matching on host, path, method and header values, first match wins.
 * Pure: no I/O, no allocation.
 */
#include "route.h"

#include <string.h>

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

int
sl_route_host_match(const struct sl_conf_route *r, const char *host, size_t len)
{
	size_t plen = strlen(r->host);
	const char *p;

	len = sl_route_host_len(host, len);
	/* a trailing dot names the same host (absolute FQDN) */
	if (len > 1 && host[len - 1] == '.')
		len--;
	if (r->host_wildcard) {
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
		if (lower((unsigned char)p[i]) != (unsigned char)r->host[i])
			return 0;
	return 1;
}

static int
path_match(const struct sl_conf_route *r, const char *path, size_t len)
{
	size_t plen = strlen(r->path);
	const char *q = memchr(path, '?', len);

	/* the query is not part of the path */
	if (q != NULL)
		len = (size_t)(q - path);
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

const struct sl_conf_route *
sl_route_match(const struct sl_conf_listener *l,
	       const struct sl_h1_request *req)
{
	for (size_t i = 0; i < l->nroutes; i++) {
		const struct sl_conf_route *r = &l->routes[i];
		size_t j;

		if (r->host != NULL &&
		    (req->host == NULL ||
		     !sl_route_host_match(r, req->host, req->host_len)))
			continue;
		if (r->path != NULL && !path_match(r, req->path, req->path_len))
			continue;
		if (r->methods != NULL && !method_match(r, req))
			continue;
		for (j = 0; j < r->nheaders; j++)
			if (!header_match(&r->headers[j], req))
				break;
		if (j < r->nheaders)
			continue;
		return r;
	}
	return NULL;
}
