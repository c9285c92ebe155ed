/* SPDX-License-Identifier: MIT */
/*
 * The JSON pieces the admin pages are written with (/config, /status):
 * strings escaped, and "key": value pairs.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "admin_int.h"

/* The body of a JSON string of s (quotes not added). Strings of the file
 * are UTF-8 (libyaml checks it), passed on as they are; a byte that does
 * not start a valid sequence (the -c path may hold anything) becomes
 * U+FFFD. Nothing is cut short. */
void
sl_admin_jesc(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;

	for (run = p; *p != '\0';) {
		unsigned char c = *p;
		size_t n = 1;
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f &&
		    c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0x80) {
			/* RFC 3629: the second byte's range depends on
			 * the first (no overlongs, no surrogates) */
			unsigned char lo = 0x80, hi = 0xbf;
			if (c >= 0xc2 && c <= 0xdf)
				n = 2;
			else if (c >= 0xe0 && c <= 0xef) {
				n = 3;
				lo = c == 0xe0 ? 0xa0 : 0x80;
				hi = c == 0xed ? 0x9f : 0xbf;
			} else if (c >= 0xf0 && c <= 0xf4) {
				n = 4;
				lo = c == 0xf0 ? 0x90 : 0x80;
				hi = c == 0xf4 ? 0x8f : 0xbf;
			} else
				n = 0;
			for (size_t i = 1; n > 0 && i < n; i++)
				if (p[i] < (i == 1 ? lo : 0x80) ||
				    p[i] > (i == 1 ? hi : 0xbf))
					n = 0;
			if (n > 0) {
				p += n;
				continue;
			}
		}
		sb_printf(b, "%.*s", (int)(p - run), (const char *)run);
		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x80)
			sb_printf(b, "\\u%04x", c);
		else
			sb_printf(b, "\\ufffd");
		run = ++p;
	}
	sb_printf(b, "%.*s", (int)(p - run), (const char *)run);
}

/* A JSON string of prefix and s, or null when s is NULL. */
void
sl_admin_jstr2(struct sbuf *b, const char *prefix, const char *s)
{
	if (s == NULL) {
		sb_printf(b, "null");
		return;
	}
	sb_printf(b, "\"%s", prefix);
	sl_admin_jesc(b, s);
	sb_printf(b, "\"");
}

/* A JSON string of s, or null. */
void
sl_admin_jstr(struct sbuf *b, const char *s)
{
	sl_admin_jstr2(b, "", s);
}

/* ,"key":"s" (or null) */
void
sl_admin_jkv_str(struct sbuf *b, const char *key, const char *s)
{
	sb_printf(b, ",\"%s\":", key);
	sl_admin_jstr(b, s);
}

/* ,"key":N */
void
sl_admin_jkv_u64(struct sbuf *b, const char *key, uint64_t v)
{
	sb_printf(b, ",\"%s\":%llu", key, (unsigned long long)v);
}

/* ,"key":true|false */
void
sl_admin_jkv_bool(struct sbuf *b, const char *key, int v)
{
	sb_printf(b, ",\"%s\":%s", key, v ? "true" : "false");
}

static void __attribute__((format(printf, 2, 3)))
jout_printf(void *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(ctx, fmt, ap);
	va_end(ap);
}

static void
jout_str(void *ctx, const char *s)
{
	sl_admin_jstr(ctx, s);
}

void
sl_admin_jout(struct sl_jout *o, struct sbuf *b)
{
	o->ctx = b;
	o->printf = jout_printf;
	o->str = jout_str;
}
