/* SPDX-License-Identifier: MIT */
/*
 * compress: at the top level (the workers' budget for compressors) and a
 * route's compress: (its codings, levels, window, types, and the
 * credentials rule against BREACH) (doc/operations.md, "Compression").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "conf_compress.h"
#include "conf_int.h"
#include "util.h"
#include "zstream.h"

#define TOP(f) SL_CONF_FIELD(struct sl_conf_compress, f)

static const struct sl_conf_keydef top_table[] = {
    {"memory", SL_CONF_SIZE, 64 * 1024, (uint64_t)1 << 40, 256 * 1024 * 1024,
     TOP(memory)},
    {.name = NULL},
};
#undef TOP

static void
top_parse(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	  void **slot, struct sl_conf *conf)
{
	struct sl_conf_compress *c;

	(void)conf;
	if ((c = *slot = calloc(1, sizeof(*c))) == NULL) {
		ld->oom = 1;
		return;
	}
	sl_conf_table_defaults(top_table, c);
	if (map == NULL || sl_yaml_get_map(ld, "compress", map) == -1)
		return;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_compress.top_sec_id);
	sl_conf_table_read(ld, NULL, map, top_table, c, NULL);
}

/* ---- a route's compress: ----------------------------------------------- */

/* What each coding needs at build time, for -t's message. */
static const char *const needs[SL_CODING_N] = {
    NULL, "zlib (Debian: zlib1g-dev)", "libbrotlienc (Debian: libbrotli-dev)",
    "libzstd (Debian: libzstd-dev)"};

/* algorithms: [zstd, br, gzip]: the codings offered, in order */
static int
read_algorithms(struct sl_yaml_loader *ld, const char *lbl,
		const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_compress_route *c = base;
	const char *s;
	int bad = 0;

	if (sl_yaml_get_seq(ld, "algorithms", v) == -1)
		return -1;
	c->noffer = 0;
	for (size_t i = 0; i < v->nkids; i++) {
		enum sl_coding k;
		if (sl_yaml_get_str(ld, "algorithms", v->kids[i], &s) == -1) {
			bad = 1;
			continue;
		}
		k = strcmp(s, "x-gzip") == 0 ? SL_CODING_N
					     : sl_coding_by_name(s, strlen(s));
		if (k == SL_CODING_N || k == SL_CODING_IDENTITY) {
			sl_yaml_err_node(ld, v->kids[i],
					 "%s: compress: \"algorithms\": "
					 "expected gzip, br or zstd, got %s",
					 lbl, sl_yaml_qnode(ld, v->kids[i]));
			bad = 1;
			continue;
		}
		if (!sl_zstream_built((int)k)) {
			sl_yaml_err_node(ld, v->kids[i],
					 "%s: compress: \"%s\" needs %s: this "
					 "sluice was built without it",
					 lbl, s, needs[k]);
			bad = 1;
			continue;
		}
		for (size_t j = 0; j < c->noffer; j++)
			if (c->offer[j] == k) {
				sl_yaml_err_node(
				    ld, v->kids[i],
				    "%s: compress: \"algorithms\": "
				    "%s is named twice",
				    lbl, s);
				bad = 1;
				k = SL_CODING_N;
				break;
			}
		if (k != SL_CODING_N)
			c->offer[c->noffer++] = (uint8_t)k;
	}
	if (v->nkids == 0) {
		sl_yaml_err_node(ld, v, "%s: compress: \"algorithms\" is empty",
				 lbl);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* types: media types, and patterns with a star for the subtype (coding.h) */
static int
read_types(struct sl_yaml_loader *ld, const char *lbl,
	   const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_compress_route *c = base;
	const char *s;

	if (sl_yaml_get_seq(ld, "types", v) == -1)
		return -1;
	if (v->nkids == 0) {
		sl_yaml_err_node(ld, v, "%s: compress: \"types\" is empty",
				 lbl);
		return -1;
	}
	for (size_t i = 0; i < c->ntypes; i++)
		free(c->types[i]);
	free(c->types);
	c->types = NULL;
	c->ntypes = 0;
	for (size_t i = 0; i < v->nkids; i++) {
		const char *slash, *star;
		char **t;
		if (sl_yaml_get_str(ld, "types", v->kids[i], &s) == -1)
			continue;
		slash = strchr(s, '/');
		star = strchr(s, '*');
		if (slash == NULL || slash == s || slash[1] == '\0' ||
		    strchr(s, ';') != NULL || strchr(s, ' ') != NULL ||
		    (star != NULL &&
		     (star != slash + 1 || strchr(star + 1, '*') != NULL ||
		      (star[1] != '\0' && star[1] != '+')))) {
			sl_yaml_err_node(ld, v->kids[i],
					 "%s: compress: \"types\": %s is not "
					 "a media type as \"application/json\""
					 ", \"text/*\" or "
					 "\"application/*+json\"",
					 lbl, sl_yaml_qnode(ld, v->kids[i]));
			continue;
		}
		if ((t = realloc(c->types, (c->ntypes + 1) * sizeof(*t))) ==
		    NULL) {
			ld->oom = 1;
			return -1;
		}
		c->types = t;
		c->types[c->ntypes++] = sl_yaml_strdup(ld, s);
	}
	return 0;
}

static const char *const creds_names[] = {"skip", "compress", NULL};

#define RC(f) SL_CONF_FIELD(struct sl_conf_compress_route, f)
/* The keys of a route's compress: (doc/sluice.yaml.5), read in this
 * order. */
static const struct sl_conf_keydef route_table[] = {
    {"algorithms", SL_CONF_SET, .set = read_algorithms},
    {"gzip_level", SL_CONF_UINT, 1, 9, 5, RC(gzip_level)},
    {"brotli_level", SL_CONF_UINT, 0, 9, 4, RC(brotli_level)},
    {"zstd_level", SL_CONF_UINT, 1, 19, 3, RC(zstd_level)},
    {"window", SL_CONF_SIZE, 1024, 1024 * 1024, 32 * 1024, RC(window)},
    {"min_length", SL_CONF_SIZE, 0, (uint64_t)1 << 30, 256, RC(min_length)},
    {"types", SL_CONF_SET, .set = read_types},
    {"credentials", SL_CONF_ENUM, .def = SL_COMPRESS_CREDS_SKIP,
     RC(credentials), .names = creds_names, .expected = "skip or compress"},
    {.name = NULL},
};
#undef RC

/* What a route compresses when it names no types: JSON, text,
 * JavaScript and SVG. */
static const char *const default_types[] = {"application/json",
					    "application/*+json",
					    "text/*",
					    "application/javascript",
					    "application/x-javascript",
					    "application/xml",
					    "application/*+xml",
					    "image/svg+xml",
					    NULL};

static void
route_parse(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, void **slot,
	    const struct sl_conf_route *r, struct sl_conf *conf)
{
	(void)r;
	(void)conf;
	struct sl_conf_compress_route *c;
	const struct sl_yaml_node *got[SL_CONF_TABLE_MAX];
	int b;

	/* compress: true is the defaults; false is none */
	if (map->type != SL_YAML_NODE_MAP) {
		if (sl_conf_get_bool(ld, "compress", map, &b) == -1 || !b)
			return;
	} else
		sl_conf_check_keys(
		    ld, map,
		    (enum sl_conf_section)sl_module_compress.route_sec_id);
	if ((c = *slot = calloc(1, sizeof(*c))) == NULL) {
		ld->oom = 1;
		return;
	}
	c->line = map->line;
	c->col = map->col;
	sl_conf_table_defaults(route_table, c);
	/* by default each coding built, Zstandard first: of the three it
	 * costs the least CPU for a ratio near Brotli's */
	static const uint8_t pref[] = {SL_CODING_ZSTD, SL_CODING_BR,
				       SL_CODING_GZIP};
	for (size_t i = 0; i < sizeof(pref); i++)
		if (sl_zstream_built(pref[i]))
			c->offer[c->noffer++] = pref[i];
	if (map->type == SL_YAML_NODE_MAP)
		sl_conf_table_read(ld, lbl, map, route_table, c, got);
	if (c->noffer == 0 &&
	    (map->type != SL_YAML_NODE_MAP ||
	     sl_yaml_map_get(map, "algorithms", NULL) == NULL))
		sl_yaml_err_node(ld, map,
				 "%s: compress: this sluice was built without "
				 "zlib, libbrotlienc and libzstd: nothing to "
				 "compress with",
				 lbl);
	if (c->types == NULL)
		for (size_t i = 0; default_types[i] != NULL; i++) {
			char **t =
			    realloc(c->types, (c->ntypes + 1) * sizeof(*t));
			if (t == NULL) {
				ld->oom = 1;
				return;
			}
			c->types = t;
			c->types[c->ntypes++] =
			    sl_yaml_strdup(ld, default_types[i]);
		}
	/* the window: the power of two at or below what was written */
	c->wlog = 10;
	while (c->wlog < 20 && ((uint64_t)1 << (c->wlog + 1)) <= c->window)
		c->wlog++;
	c->window = (uint64_t)1 << c->wlog;
}

static void
route_free(void *slot)
{
	struct sl_conf_compress_route *c = slot;

	for (size_t i = 0; i < c->ntypes; i++)
		free(c->types[i]);
	free(c->types);
	free(c);
}

/* ---- /config ---------------------------------------------------------- */

static void
top_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_compress *c = slot;

	o->printf(o->ctx, ",\"compress\":{\"memory\":%llu}",
		  (unsigned long long)(c != NULL ? c->memory : 0));
}

static void
route_print(const struct sl_jout *o, const void *slot)
{
	static const char *const alg[4] = {"identity", "gzip", "br", "zstd"};
	const struct sl_conf_compress_route *c = slot;

	if (c == NULL) {
		o->printf(o->ctx, ",\"compress\":null");
		return;
	}
	o->printf(o->ctx, ",\"compress\":{\"algorithms\":[");
	for (size_t i = 0; i < c->noffer; i++)
		o->printf(o->ctx, "%s\"%s\"", i ? "," : "",
			  alg[c->offer[i] & 3]);
	o->printf(
	    o->ctx,
	    "],\"gzip_level\":%llu,\"brotli_level\":%llu,"
	    "\"zstd_level\":%llu,\"window\":%llu,\"min_length\":%llu,"
	    "\"credentials\":\"%s\"",
	    (unsigned long long)c->gzip_level,
	    (unsigned long long)c->brotli_level,
	    (unsigned long long)c->zstd_level, (unsigned long long)c->window,
	    (unsigned long long)c->min_length,
	    c->credentials == SL_COMPRESS_CREDS_ALLOW ? "compress" : "skip");
	o->printf(o->ctx, ",\"types\":[");
	for (size_t i = 0; i < c->ntypes; i++) {
		o->printf(o->ctx, "%s", i ? "," : "");
		o->str(o->ctx, c->types[i]);
	}
	o->printf(o->ctx, "]}");
}

/* ---- the module --------------------------------------------------------- */

static const struct sl_conf_section_def top_sec = {
    SL_CONF_SEC_TOP,
    NULL,
    top_table,
    "in compress",
    "under \"compress\"",
    "under the top-level \"compress\"",
    NULL};
static const struct sl_conf_section_def route_sec = {
    SL_CONF_SEC_ROUTE,
    NULL,
    route_table,
    "in compress",
    "under \"compress\"",
    "under a route's \"compress\"",
    NULL};

#define W(f) (uint16_t)(offsetof(struct sl_zip_counts, f) / sizeof(uint64_t))
static const char *const alg_names[4] = {NULL, "gzip", "br", "zstd"};
static const char *const skip_names[SL_ZIP_NSKIP] = {
    [SL_ZIP_S_CREDENTIALS] = "credentials",
    [SL_ZIP_S_MEMORY] = "memory",
};
static const struct sl_mfamily families[] = {
    {.name = "sluice_compress_responses_total",
     .help = "Responses a route compressed, by algorithm.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(zip),
     .first = 1,
     .n = 4,
     .label = "algorithm",
     .values = alg_names},
    {.name = "sluice_compress_bytes_in_total",
     .help = "Body bytes compressed (before), by algorithm.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(in),
     .first = 1,
     .n = 4,
     .label = "algorithm",
     .values = alg_names},
    {.name = "sluice_compress_bytes_out_total",
     .help =
	 "Compressed body bytes (after, without chunk framing), by algorithm.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(out),
     .first = 1,
     .n = 4,
     .label = "algorithm",
     .values = alg_names},
    {.name = "sluice_compress_skipped_total",
     .help = "Responses that could have been compressed for their request and "
	     "went as they came, by reason.",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .off = W(skip),
     .n = SL_ZIP_NSKIP,
     .label = "reason",
     .values = skip_names},
    {.name = "sluice_compress_memory_bytes",
     .help = "Bytes the compressors and their buffers hold now, all workers "
	     "(compress.memory bounds each worker's).",
     .kind = SL_MFAM_GAUGE,
     .scope = SL_MFAM_WORKERS,
     .n = 1},
};

/* the status page: body bytes before over after, in the minute */
static const struct sl_mstatus status[] = {
    {.name = "compress_ratio",
     .num_off = W(in) + 1,
     .den_off = W(out) + 1,
     .num_n = 3,
     .den_n = 3},
};
#undef W

struct sl_module sl_module_compress = {
    .name = "compress",
    .key = "compress",
    .top_parse = top_parse,
    .top_free = free,
    .route_parse = route_parse,
    .route_free = route_free,
    .top_print = top_print,
    .route_print = route_print,
    .top_sec = &top_sec,
    .route_sec = &route_sec,
    .route_words = sizeof(struct sl_zip_counts) / sizeof(uint64_t),
    .worker_words = sizeof(struct sl_zip_wcounts) / sizeof(uint64_t),
    .families = families,
    .nfamilies = SL_NELEM(families),
    .status = status,
    .nstatus = SL_NELEM(status),
};
