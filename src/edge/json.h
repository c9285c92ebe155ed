/* SPDX-License-Identifier: MIT */
/*
 * A small strict JSON parser (RFC 8259) for what the edge reads: JSON Web
 * Key sets and the claims of JSON Web Tokens (doc/auth.md). It parses a
 * text into a flat array of tokens in document order, with no malloc and
 * no copy: a token is a span of the text. Strings keep their escapes until
 * sl_json_str decodes them. Pure: no I/O.
 *
 * Strict: one value with white space around it and nothing else; no
 * comments, no trailing commas, no single quotes, no leading zeros, no
 * NaN or Infinity; control characters in strings refused; every \u escape
 * checked (a lone or reversed surrogate is refused); the text must be
 * valid UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF);
 * duplicate names within one object are refused (RFC 7515 section 5.2 and
 * RFC 7519 section 4 allow a parser to refuse them, and a token with two
 * "alg" or two "exp" is an attack); nesting deeper than the caller's
 * bound is refused.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stddef.h>
#include <stdint.h>

enum sl_json_type {
	SL_JSON_OBJECT = 1,
	SL_JSON_ARRAY,
	SL_JSON_STRING,
	SL_JSON_NUMBER,
	SL_JSON_TRUE,
	SL_JSON_FALSE,
	SL_JSON_NULL,
};

struct sl_json_tok {
	uint8_t type;	/* enum sl_json_type */
	uint32_t start; /* its span in the text: for a string, between the
			   quotes (escapes kept); else the whole value */
	uint32_t len;
	uint32_t size; /* object: its members; array: its elements */
	uint32_t end;  /* the index of the first token after this one's
			  subtree (its members' names and values) */
};

/* Errors (negative returns of sl_json_parse). */
#define SL_JSON_E_SYNTAX -1 /* not JSON, or not strict JSON */
#define SL_JSON_E_TOKENS -2 /* more than max tokens, or 256 members */
#define SL_JSON_E_DEPTH	 -3 /* nested deeper than depth_max */
#define SL_JSON_E_DUP	 -4 /* a name twice in one object */
#define SL_JSON_E_UTF8	 -5 /* bad UTF-8, or a bad \u escape */
#define SL_JSON_E_SIZE	 -6 /* the text is UINT32_MAX bytes or longer */

/*
 * Parses text (len bytes, not NUL-terminated) into t (room for max
 * tokens). An object's members are its name's token (a string) followed
 * by its value's tokens, so t[i]'s first member's name is t[i + 1].
 * Returns the tokens used (>= 1), or an SL_JSON_E_* error. *where, when
 * not NULL, gets the byte offset of the error (for a log line).
 * depth_max counts open containers: 0 allows a scalar only, 1 "[1]" but
 * not "[[1]]"; more than 64 counts as 64. An object of more than 256
 * members is refused (SL_JSON_E_TOKENS): its names are compared pairwise
 * for duplicates, and the bound keeps that linear in the text.
 */
int sl_json_parse(const char *text, size_t len, struct sl_json_tok *t,
		  size_t max, unsigned depth_max, size_t *where);

/* The index of the value of member name (nlen bytes, compared with the
 * member names decoded) in object t[obj], or -1 when it has none. */
int sl_json_get(const char *text, const struct sl_json_tok *t, int obj,
		const char *name, size_t nlen);

/*
 * String t[i] decoded (its escapes, \u surrogate pairs into UTF-8) into
 * out (room bytes; not NUL-terminated). Returns its length, or -1 when it
 * is not a string or does not fit. A decoded string may hold a NUL
 * (\u0000): callers that need none check.
 */
long sl_json_str(const char *text, const struct sl_json_tok *t, int i,
		 char *out, size_t room);

/* Whether string t[i] decodes to exactly s (n bytes). */
int sl_json_str_eq(const char *text, const struct sl_json_tok *t, int i,
		   const char *s, size_t n);

/*
 * Number t[i] as an integer: a JSON number with no fraction and no
 * exponent, or with a fraction of zeros only ("1.0"), within
 * [-2^63, 2^63). Returns 0 and sets *v, or -1. (A JWT's NumericDate may
 * carry a fraction: sl_json_seconds.)
 */
int sl_json_int(const char *text, const struct sl_json_tok *t, int i,
		int64_t *v);

/*
 * Number t[i] as whole seconds, its fraction dropped (RFC 7519 section 2,
 * NumericDate): toward zero, so -1.5 gives -1. Exponents are allowed
 * (1.7e9). The number must lie within [-2^62, 2^62]. Returns 0 and sets
 * *v, or -1. Exact decimal arithmetic: no floating point, no locale.
 */
int sl_json_seconds(const char *text, const struct sl_json_tok *t, int i,
		    int64_t *v);

#endif
