/* SPDX-License-Identifier: MIT */
/*
 * A field that code of the operator's (a route's Lua script, doc/lua.md)
 * puts in a head sluice writes: its name a token of RFC 9110 and no field
 * of the framing or of sluice's own forwarding, its value without a
 * control character but the tab, without white space at either end, and
 * of a bounded length. Pure; included by proxy/exchange_lua.c and
 * tests/fuzz/fuzz_fieldcheck.c, whose oracle is the HTTP/1.1 parser: a
 * field these let through is one field of the head it is written into.
 */
#ifndef SL_FIELDCHECK_H
#define SL_FIELDCHECK_H

#include <stddef.h>

/* A value's bytes at most. */
#define SL_FIELDCHECK_VALUE_MAX 8192

/* What is wrong with a name or a value (0: nothing). */
enum sl_fieldcheck {
	SL_FC_OK = 0,
	SL_FC_NAME_LENGTH,  /* not 1 to 256 bytes */
	SL_FC_NAME_TOKEN,   /* a byte a token does not hold */
	SL_FC_NAME_FRAMING, /* Content-Length, Host, X-Forwarded-For, ... */
	SL_FC_VALUE_LENGTH, /* over SL_FIELDCHECK_VALUE_MAX */
	SL_FC_VALUE_CTL,    /* a control character (CR, LF, NUL, ...) */
	SL_FC_VALUE_SPACE,  /* white space at an end */
};

/* Whether the n bytes at p name a field sluice's framing or forwarding
 * owns (compared without case): Content-Length, Transfer-Encoding, Host,
 * Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, Expect,
 * X-Request-Id, X-Forwarded-For, X-Forwarded-Proto, Forwarded. */
int sl_fieldcheck_framing(const char *p, size_t n);

enum sl_fieldcheck sl_fieldcheck_name(const char *p, size_t n);
enum sl_fieldcheck sl_fieldcheck_value(const char *p, size_t n);

/* What a check said, as a log line says it ("a control character"). */
const char *sl_fieldcheck_str(enum sl_fieldcheck e);

#endif
