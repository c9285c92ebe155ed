/* SPDX-License-Identifier: MIT */
/*
 * The WAF's checks on the event loop, before a request costs a WAF thread
 * (issue 63, item 2; doc/operations.md section 15.7): what the rules will
 * be given to read, counted as they will count it, against a route's
 * limits. The rules' time grows with each argument, cookie and field
 * (hundreds of rules each): a request of 2,500 cookies costs a thread a
 * second and 30 KB to send, and is refused here in a linear scan.
 *
 * Counted as libmodsecurity 3 counts ARGS: the query's and an
 * application/x-www-form-urlencoded body's name=value pairs ('&'
 * separated, empty ones left out), a JSON body's scalar values (each an
 * argument of its own, json.a.b), and their names' and values' bytes
 * (decoded: %XX is one); REQUEST_COOKIES: the pairs of the Cookie fields
 * (';' separated). A JSON body's depth is its most nested container's.
 * The bytes are an undercount of the library's (a JSON argument's name is
 * its whole path there, its key here): a limit never refuses what the
 * rules' own limits (the CRS's tx.total_arg_length) would let pass.
 *
 * Pure: no I/O, no allocation.
 */
#ifndef SL_WAFCHECK_H
#define SL_WAFCHECK_H

#include <stddef.h>
#include <stdint.h>

/* A route's WAF limits (waf: limits:), checked on the loop; 0: none. */
struct sl_waf_limits {
	uint32_t cookies;    /* cookie pairs */
	uint32_t args;	     /* arguments: query, form and JSON values */
	uint32_t json_depth; /* a JSON body's nesting */
	uint64_t args_bytes; /* the arguments' names and values */
};

/* What a request gives the rules to read, counted so far. */
struct sl_wafcheck {
	uint64_t cookies, args, args_bytes;
	uint32_t json_depth;
};

/* Which limit a request is past (sl_wafcheck_over). */
enum sl_wafcheck_limit {
	SL_WAFCHECK_OK = 0,
	SL_WAFCHECK_COOKIES,
	SL_WAFCHECK_ARGS,
	SL_WAFCHECK_ARGS_BYTES,
	SL_WAFCHECK_JSON_DEPTH,
};

/* The pairs of one Cookie field's value. */
void sl_wafcheck_cookies(struct sl_wafcheck *c, const char *v, size_t n);

/* The name=value pairs of a query string (without its '?') or of an
 * application/x-www-form-urlencoded body. */
void sl_wafcheck_form(struct sl_wafcheck *c, const char *p, size_t n);

/* A JSON body's scalar values, their keys' and their bytes, and its
 * depth. Returns 0, or -1 when it is not JSON as far as it goes (what was
 * counted before stays counted; the rules' JSON processor refuses it). */
int sl_wafcheck_json(struct sl_wafcheck *c, const char *p, size_t n);

/* Bounds of what sl_wafcheck_json counts on p[0 .. n) when it is a JSON
 * text or the start of one (a body cut at body_limit): *args, its scalar
 * values, at most its ',' '{' '[' and one (each value but the last is
 * followed by a ',' or ends a container, and each container ends once
 * and is opened by a '{' or '['); *depth at most its '{' and '['. Bytes
 * inside strings count too: a bound, in 16-byte compares, 0.7
 * instructions a byte against the exact scan's 3.1. On a text that is
 * not JSON the exact scan may count more; the rules' JSON parser stops
 * at its first error, having seen no more than the bounds of the JSON
 * before it. */
void sl_wafcheck_json_bound(const char *p, size_t n, uint64_t *args,
			    uint64_t *depth);

/* The first limit c is past, its figure in *found and the limit in
 * *max; SL_WAFCHECK_OK when none. */
enum sl_wafcheck_limit sl_wafcheck_over(const struct sl_wafcheck *c,
					const struct sl_waf_limits *l,
					uint64_t *found, uint64_t *max);

/* The limit's key under waf: limits: ("cookies", ...); "" for OK. */
const char *sl_wafcheck_name(enum sl_wafcheck_limit w);

#endif
