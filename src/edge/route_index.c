/* SPDX-License-Identifier: MIT */
/*
 * A listener's routes indexed by host and path, built once per generation
 * (doc/design-notes.md, "Routes at scale"): the route a request gets is
 * the one the list order gives (route.c's walk is the oracle of
 * tests/unit/test_route_index.c and tests/fuzz/fuzz_route.c), found among
 * a few candidates instead of all of them.
 *
 * A route's host puts it in a host class: any host (no "host"), one exact
 * host, or one wildcard suffix (".example.com"); a route with a
 * hosts_file is in the class of each of its names. Within a class its path
 * puts it in one list: no path, one exact path, or one path prefix. Each
 * list holds route positions in list order. A request's classes are the
 * "any" class, its host's, and one per "." of its host (each suffix a
 * wildcard may name); in each class its lists are the no-path list, its
 * path's, and one per prefix length of the class that its path reaches.
 * The first route of each list whose methods and fields match competes;
 * the smallest position wins.
 *
 * Host keys are hashed from their last byte to their first, so one pass
 * from the end of a request's host gives every suffix's hash at its ".";
 * path keys from their first byte, so one pass gives every prefix's.
 * The tables are open addressing, at most half full; their keys are the
 * routes' own strings (borrowed from the generation). Allocation only at
 * build; a lookup is pure.
 */
#include "route_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

#define H_SEED 0xcbf29ce484222325ULL
#define H_MUL  0x100000001b3ULL

enum { K_EXACT = 0, K_WILD = 1, K_PATH = 2, K_PREFIX = 3 };

/* One key of a table: a host (exact or wildcard suffix) naming a class, or
 * a path (exact or prefix) of a class naming a list. */
struct slot {
	uint32_t hash;	 /* low bits of the key's hash; 0: free */
	uint32_t cls;	 /* the class a path key belongs to */
	const char *key; /* borrowed: the route's host or path */
	uint32_t len : 30;
	uint32_t kind : 2;
	uint32_t val; /* a host key: its class; a path key: its list */
};

struct list {
	uint32_t off, n; /* in idx->pos */
};

struct cls {
	uint32_t any;	   /* its list of routes without a path, or
			      UINT32_MAX */
	uint32_t plen_off; /* its prefix lengths, ascending, in
			      idx->plens */
	uint32_t nplen;
	uint32_t exact_paths; /* how many exact paths it has */
};

struct sl_route_index {
	struct slot *hosts, *paths;
	uint32_t hmask, pmask;
	struct cls *cls; /* [0]: any host */
	uint32_t ncls;
	struct list *lists;
	uint32_t nlists;
	uint32_t *pos; /* route positions, list by list */
	uint32_t *plens;
	int wild; /* some class is a wildcard's */
	size_t nroutes;
};

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static uint64_t
hstep(uint64_t h, unsigned char c)
{
	return (h ^ c) * H_MUL;
}

/* A hash's table form: never 0 (a free slot). */
static uint32_t
hfin(uint64_t h, uint32_t salt)
{
	uint64_t x = h ^ ((uint64_t)salt * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (uint32_t)x | 1;
}

static uint64_t
host_hash(const char *s, size_t len)
{
	uint64_t h = H_SEED;

	while (len-- > 0)
		h = hstep(h, (unsigned char)s[len]);
	return h;
}

static uint64_t
path_hash(uint64_t h, const char *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		h = hstep(h, (unsigned char)s[i]);
	return h;
}

static const struct slot *
find(const struct slot *t, uint32_t mask, uint32_t h, uint32_t kind,
     uint32_t cls, const char *key, size_t len)
{
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		const struct slot *s = &t[i];
		if (s->hash == 0)
			return NULL;
		if (s->hash == h && s->kind == kind && s->cls == cls &&
		    s->len == len && memcmp(s->key, key, len) == 0)
			return s;
	}
}

static struct slot *
put(struct slot *t, uint32_t mask, uint32_t h)
{
	uint32_t i = h & mask;

	while (t[i].hash != 0)
		i = (i + 1) & mask;
	return &t[i];
}

static uint32_t
table_size(size_t n)
{
	uint32_t sz = 8;

	while (sz < 2 * n)
		sz <<= 1;
	return sz;
}

/* ---- build --------------------------------------------------------- */

/* What build needs per entry before the lists are laid out: an entry is
 * a route and one of its hosts (each name of its hosts_file, else its
 * host or none). */
struct pre {
	uint32_t route, cls, list;
};

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void
sl_route_index_free(struct sl_route_index *idx)
{
	if (idx == NULL)
		return;
	free(idx->hosts);
	free(idx->paths);
	free(idx->cls);
	free(idx->lists);
	free(idx->pos);
	free(idx->plens);
	free(idx);
}

/* The entry's class: the one its host names, made when new. */
static uint32_t
host_class(struct sl_route_index *idx, const char *host, size_t len, int wild)
{
	uint32_t kind = wild ? K_WILD : K_EXACT, h, c;
	const struct slot *s;
	struct slot *ns;

	h = hfin(host_hash(host, len), kind);
	if ((s = find(idx->hosts, idx->hmask, h, kind, 0, host, len)) != NULL)
		return s->val;
	c = idx->ncls++;
	idx->cls[c].any = UINT32_MAX;
	ns = put(idx->hosts, idx->hmask, h);
	*ns = (struct slot){h, 0, host, (uint32_t)len, kind, c};
	idx->wild |= kind == K_WILD;
	return c;
}

/* The entry's list within its class c: the one its path names, made when
 * new. */
static uint32_t
path_list(struct sl_route_index *idx, uint32_t c, const struct sl_conf_route *r,
	  size_t *nplen)
{
	uint32_t kind, h, j;
	const struct slot *s;
	struct slot *ns;
	size_t len;

	if (r->path == NULL) {
		if (idx->cls[c].any == UINT32_MAX)
			idx->cls[c].any = idx->nlists++;
		return idx->cls[c].any;
	}
	len = strlen(r->path);
	kind = r->path_prefix ? K_PREFIX : K_PATH;
	h = hfin(path_hash(H_SEED, r->path, 0, len), kind ^ (c << 2));
	if ((s = find(idx->paths, idx->pmask, h, kind, c, r->path, len)) !=
	    NULL)
		return s->val;
	j = idx->nlists++;
	ns = put(idx->paths, idx->pmask, h);
	*ns = (struct slot){h, c, r->path, (uint32_t)len, kind, j};
	if (kind == K_PREFIX)
		(*nplen)++;
	else
		idx->cls[c].exact_paths++;
	return j;
}

/* Each class's prefix lengths (nplen prefix keys in all): collected per
 * class (one per distinct prefix), then sorted and made unique, into
 * idx->plens. Returns 0, or -1 when out of memory. */
static int
class_plens(struct sl_route_index *idx, size_t nplen)
{
	uint32_t *tmp = malloc(nplen * sizeof(*tmp));
	uint32_t *cnt = calloc(idx->ncls + 1, sizeof(*cnt));
	size_t k = 0;

	if (tmp == NULL || cnt == NULL) {
		free(tmp);
		free(cnt);
		return -1;
	}
	/* where each class's lengths start */
	for (uint32_t j = 0; j <= idx->pmask; j++)
		if (idx->paths[j].hash != 0 && idx->paths[j].kind == K_PREFIX)
			cnt[idx->paths[j].cls + 1]++;
	for (uint32_t c = 0; c < idx->ncls; c++)
		cnt[c + 1] += cnt[c];
	for (uint32_t c = 0; c < idx->ncls; c++)
		idx->cls[c].plen_off = cnt[c];
	for (uint32_t j = 0; j <= idx->pmask; j++)
		if (idx->paths[j].hash != 0 && idx->paths[j].kind == K_PREFIX) {
			uint32_t c = idx->paths[j].cls;
			tmp[idx->cls[c].plen_off + idx->cls[c].nplen++] =
			    idx->paths[j].len;
		}
	for (uint32_t c = 0; c < idx->ncls; c++) {
		uint32_t *v = tmp + idx->cls[c].plen_off;
		uint32_t m = 0;
		qsort(v, idx->cls[c].nplen, sizeof(*v), cmp_u32);
		for (uint32_t j = 0; j < idx->cls[c].nplen; j++)
			if (m == 0 || v[m - 1] != v[j])
				v[m++] = v[j];
		memcpy(idx->plens + k, v, m * sizeof(*v));
		idx->cls[c].plen_off = (uint32_t)k;
		idx->cls[c].nplen = m;
		k += m;
	}
	free(tmp);
	free(cnt);
	return 0;
}

struct sl_route_index *
sl_route_index_build(const struct sl_conf_route *routes, size_t n)
{
	struct sl_route_index *idx = calloc(1, sizeof(*idx));
	struct pre *pre = NULL;
	uint32_t *count = NULL, *fill = NULL, *last = NULL;
	size_t nhosts = 0, nent = 0, npaths = 0, e = 0, nplen = 0, npos = 0;

	if (idx == NULL)
		goto fail;
	idx->nroutes = n;
	for (size_t i = 0; i < n; i++) {
		size_t k = routes[i].hosts != NULL  ? routes[i].hosts->n
			   : routes[i].host != NULL ? 1
						    : 0;
		nhosts += k;
		nent += k > 0 ? k : 1;
		npaths += routes[i].path != NULL ? (k > 0 ? k : 1) : 0;
	}
	/* the paths' table holds at most one key per entry with a path, the
	 * lists one per entry, the classes one per host and the "any"
	 * class */
	if (nent >= UINT32_MAX / 4 ||
	    (pre = calloc(nent > 0 ? nent : 1, sizeof(*pre))) == NULL)
		goto fail;
	idx->hmask = table_size(nhosts) - 1;
	idx->pmask = table_size(npaths) - 1;
	idx->hosts = calloc(idx->hmask + 1, sizeof(*idx->hosts));
	idx->paths = calloc(idx->pmask + 1, sizeof(*idx->paths));
	idx->cls = calloc(nhosts + 1, sizeof(*idx->cls));
	idx->lists = calloc(nent > 0 ? nent : 1, sizeof(*idx->lists));
	idx->plens = calloc(npaths > 0 ? npaths : 1, sizeof(*idx->plens));
	if (idx->hosts == NULL || idx->paths == NULL || idx->cls == NULL ||
	    idx->lists == NULL || idx->plens == NULL)
		goto fail;
	idx->ncls = 1;
	idx->cls[0].any = UINT32_MAX;

	/* classes and lists, entry by entry in route order */
	for (size_t i = 0; i < n; i++) {
		const struct sl_conf_route *r = &routes[i];
		const struct sl_conf_hostset *hs = r->hosts;

		if (hs != NULL)
			for (size_t k = 0; k < hs->n; k++) {
				uint32_t c =
				    host_class(idx, hs->names + hs->at[k].off,
					       hs->at[k].len, hs->at[k].wild);
				pre[e++] =
				    (struct pre){(uint32_t)i, c,
						 path_list(idx, c, r, &nplen)};
			}
		else {
			uint32_t c =
			    r->host == NULL
				? 0
				: host_class(idx, r->host, strlen(r->host),
					     r->host_wildcard);
			pre[e++] = (struct pre){(uint32_t)i, c,
						path_list(idx, c, r, &nplen)};
		}
	}

	/* each class's prefix lengths */
	if (nplen > 0 && class_plens(idx, nplen) == -1)
		goto fail;

	/* the lists laid out one after another, positions in order; a route
	 * whose hosts_file names a host twice is in its list once */
	count = calloc(idx->nlists + 1, sizeof(*count));
	fill = calloc(idx->nlists + 1, sizeof(*fill));
	last = calloc(idx->nlists + 1, sizeof(*last));
	if (count == NULL || fill == NULL || last == NULL)
		goto fail;
	for (size_t k = 0; k < nent; k++)
		if (last[pre[k].list] != pre[k].route + 1) {
			last[pre[k].list] = pre[k].route + 1;
			count[pre[k].list + 1]++;
			npos++;
		}
	if ((idx->pos = calloc(npos > 0 ? npos : 1, sizeof(*idx->pos))) == NULL)
		goto fail;
	for (uint32_t j = 0; j < idx->nlists; j++) {
		count[j + 1] += count[j];
		idx->lists[j].off = count[j];
		idx->lists[j].n = count[j + 1] - count[j];
		last[j] = 0;
	}
	for (size_t k = 0; k < nent; k++)
		if (last[pre[k].list] != pre[k].route + 1) {
			last[pre[k].list] = pre[k].route + 1;
			idx->pos[idx->lists[pre[k].list].off +
				 fill[pre[k].list]++] = pre[k].route;
		}
	free(count);
	free(fill);
	free(last);
	free(pre);
	/* what was sized for the worst case, cut to what is used */
	{
		struct cls *c = realloc(idx->cls, idx->ncls * sizeof(*c));
		struct list *l =
		    realloc(idx->lists,
			    (idx->nlists > 0 ? idx->nlists : 1) * sizeof(*l));
		uint32_t *pl =
		    realloc(idx->plens, (nplen > 0 ? nplen : 1) * sizeof(*pl));
		if (c != NULL)
			idx->cls = c;
		if (l != NULL)
			idx->lists = l;
		if (pl != NULL)
			idx->plens = pl;
	}
	return idx;
fail:
	free(count);
	free(fill);
	free(last);
	free(pre);
	sl_route_index_free(idx);
	return NULL;
}

/* ---- lookup -------------------------------------------------------- */

/* The first route of list j whose methods and fields match, if before
 * best. */
static size_t
list_first(const struct sl_route_index *idx, uint32_t j,
	   const struct sl_conf_route *routes, const struct sl_h1_request *req,
	   size_t best)
{
	const struct list *l = &idx->lists[j];

	for (uint32_t k = 0; k < l->n; k++) {
		uint32_t p = idx->pos[l->off + k];
		if (p >= best)
			break;
		if (sl_route_rest_match(&routes[p], req))
			return p;
	}
	return best;
}

static size_t
class_first(const struct sl_route_index *idx, uint32_t c,
	    const struct sl_conf_route *routes, const struct sl_h1_request *req,
	    size_t plen, size_t best)
{
	const struct cls *k = &idx->cls[c];
	const struct slot *s;

	if (k->any != UINT32_MAX)
		best = list_first(idx, k->any, routes, req, best);
	if (k->exact_paths > 0) {
		uint32_t h = hfin(path_hash(H_SEED, req->path, 0, plen),
				  K_PATH ^ (c << 2));
		s = find(idx->paths, idx->pmask, h, K_PATH, c, req->path, plen);
		if (s != NULL)
			best = list_first(idx, s->val, routes, req, best);
	}
	if (k->nplen > 0) {
		uint64_t h = H_SEED;
		size_t at = 0;
		for (uint32_t j = 0; j < k->nplen; j++) {
			size_t len = idx->plens[k->plen_off + j];
			if (len > plen)
				break;
			h = path_hash(h, req->path, at, len);
			at = len;
			s = find(idx->paths, idx->pmask,
				 hfin(h, K_PREFIX ^ (c << 2)), K_PREFIX, c,
				 req->path, len);
			if (s != NULL)
				best =
				    list_first(idx, s->val, routes, req, best);
		}
	}
	return best;
}

const struct sl_conf_route *
sl_route_index_match(const struct sl_route_index *idx,
		     const struct sl_conf_route *routes,
		     const struct sl_h1_request *req)
{
	size_t best = idx->nroutes, plen = req->path_len;
	const char *q = memchr(req->path, '?', req->path_len);

	/* the query is not part of the path */
	if (q != NULL)
		plen = (size_t)(q - req->path);
	if (req->host != NULL && idx->ncls > 1) {
		char host[256];
		size_t len = sl_route_host_len(req->host, req->host_len);
		size_t from = 0;
		uint64_t h = H_SEED;
		const struct slot *s;

		/* a trailing dot names the same host (absolute FQDN) */
		if (len > 1 && req->host[len - 1] == '.')
			len--;
		/* a host longer than any name (253 bytes) can only end in a
		 * wildcard's suffix (254 at most): its last 255 bytes are
		 * probed, never walked (a long Host must not buy a walk of
		 * a platform's 100,000 names) */
		if (len >= sizeof(host))
			from = len - (sizeof(host) - 1);
		for (size_t i = len; i-- > from;) {
			char *c = &host[i - from];
			*c = (char)lower((unsigned char)req->host[i]);
			h = hstep(h, (unsigned char)*c);
			/* ".suffix" with at least one byte before it */
			if (idx->wild && *c == '.' && i > 0 &&
			    (s = find(idx->hosts, idx->hmask, hfin(h, K_WILD),
				      K_WILD, 0, c, len - i)) != NULL)
				best = class_first(idx, s->val, routes, req,
						   plen, best);
		}
		if (from == 0 &&
		    (s = find(idx->hosts, idx->hmask, hfin(h, K_EXACT), K_EXACT,
			      0, host, len)) != NULL)
			best =
			    class_first(idx, s->val, routes, req, plen, best);
	}
	best = class_first(idx, 0, routes, req, plen, best);
	return best < idx->nroutes ? &routes[best] : NULL;
}

const struct sl_conf_route *
sl_route_match(const struct sl_conf_listener *l,
	       const struct sl_h1_request *req)
{
	const struct sl_conf_route *r;

	if (l->rindex != NULL)
		return sl_route_index_match(l->rindex, l->routes, req);
	if (l->any_at == 0)
		return sl_route_match_walk(l->routes, l->nroutes, req);
	/* the routes before the first that matches every request, walked;
	 * then that one (a listener of one catch-all route walks none) */
	if (l->any_at > 1 &&
	    (r = sl_route_match_walk(l->routes, l->any_at - 1, req)) != NULL)
		return r;
	return &l->routes[l->any_at - 1];
}
