/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the route index (src/edge/route_index.c) against
 * the walk (route.c), its oracle: the input is a list of routes and a
 * series of requests, both spelled in a small alphabet so that hosts,
 * suffixes and prefixes meet often; every request must get the same route
 * from both.
 *
 * Input: a byte n (routes, 1 + n % 48), then per route a flags byte (host:
 * none, exact or wildcard; path: none, exact or prefix; a method; a field)
 * and its host and path (a length byte, then that many alphabet bytes);
 * then requests until the input ends: a flags byte, a host (or none) and a
 * path, the same way. A route with a host and flag 0x10 has a hosts_file
 * instead: its host and the host of each earlier route (exact or
 * wildcard as each was).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf_types.h"
#include "fuzz.h"
#include "route.h"
#include "route_index.h"

#define MAXR 48

static const char alpha[] = "ab.:[]/?*A-1";

/* A length byte, then that many bytes mapped to the alphabet. */
static size_t
take(const uint8_t **p, const uint8_t *end, char *out, size_t max)
{
	size_t n;

	if (*p >= end)
		return 0;
	n = *(*p)++ % max;
	for (size_t i = 0; i < n; i++)
		out[i] = *p < end ? alpha[*(*p)++ % (sizeof(alpha) - 1)] : 'a';
	out[n] = '\0';
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *mset[2][1] = {{"GET"}, {"POST"}};
	static struct sl_conf_header_match hm = {.name = "x-t", .value = "1"};
	static char hosts[MAXR][24], paths[MAXR][24];
	static struct sl_conf_hostset sets[MAXR];
	static struct sl_conf_hostname at[MAXR][MAXR];
	static char names[MAXR][MAXR * 24];
	struct sl_conf_route r[MAXR];
	const uint8_t *p = data, *end = data + size;
	struct sl_route_index *idx;
	size_t n;

	if (size < 1)
		return 0;
	n = 1 + *p++ % MAXR;
	memset(r, 0, sizeof(r));
	for (size_t i = 0; i < n; i++) {
		unsigned f = p < end ? *p++ : 0;
		size_t hl = take(&p, end, hosts[i] + 1, 22);
		take(&p, end, paths[i], 23);
		for (size_t k = 1; k <= hl; k++) /* the loader lower-cases */
			if (hosts[i][k] == 'A')
				hosts[i][k] = 'a';
		switch (f % 3) {
		case 1:
			r[i].host = hosts[i] + 1;
			break;
		case 2: /* the loader keeps ".suffix" */
			hosts[i][0] = '.';
			r[i].host = hosts[i];
			r[i].host_wildcard = 1;
			break;
		}
		if ((f / 3) % 3 > 0) {
			r[i].path = paths[i];
			r[i].path_prefix = (f / 3) % 3 == 2;
		}
		if (f & 0x20) {
			r[i].methods = mset[(f >> 6) & 1];
			r[i].nmethods = 1;
		}
		if (f & 0x80) {
			r[i].headers = &hm;
			r[i].nheaders = 1;
		}
		if ((f & 0x10) && r[i].host != NULL) {
			/* a hosts_file: this host, then the earlier ones */
			struct sl_conf_hostset *hs = &sets[i];
			size_t used = 0;

			memset(hs, 0, sizeof(*hs));
			hs->names = names[i];
			hs->at = at[i];
			for (size_t k = i + 1; k-- > 0;) {
				const char *h = k == i ? r[i].host : r[k].host;
				int w = k == i ? r[i].host_wildcard
					       : r[k].host_wildcard;
				size_t len;

				if (h == NULL && k < i && r[k].hosts != NULL) {
					/* an earlier set: its first name */
					h = r[k].hosts->names;
					w = r[k].hosts->at[0].wild;
				}
				if (h == NULL)
					continue;
				len = strlen(h);
				memcpy(names[i] + used, h, len + 1);
				at[i][hs->n].off = (uint32_t)used;
				at[i][hs->n].len = (uint32_t)len;
				at[i][hs->n].wild = (uint32_t)w;
				hs->n++;
				used += len + 1;
			}
			r[i].hosts = hs;
			r[i].host = NULL;
			r[i].host_wildcard = 0;
		}
	}
	idx = sl_route_index_build(r, n);
	CHECK(idx != NULL);
	while (p < end) {
		struct sl_h1_header h = {
		    .name = "X-T", .name_len = 3, .value = "1", .value_len = 1};
		struct sl_h1_request q;
		char host[32], path[32];
		unsigned f = *p++;
		size_t hl = take(&p, end, host, 31);
		size_t pl = take(&p, end, path, 31);

		memset(&q, 0, sizeof(q));
		q.method = (f & 1) ? "POST" : "GET";
		q.method_len = strlen(q.method);
		q.host = (f & 2) ? NULL : host;
		q.host_len = q.host != NULL ? hl : 0;
		q.path = path;
		q.path_len = pl;
		q.headers = &h;
		q.nheaders = (f & 4) ? 1 : 0;
		q.max_headers = 1;
		CHECK(sl_route_index_match(idx, r, &q) ==
		      sl_route_match_walk(r, n, &q));
	}
	sl_route_index_free(idx);
	return 0;
}
