/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for what sluice keeps of ModSecurity's messages
 * (src/edge/waf.c, the parts that need no libmodsecurity). The input is
 * read three ways:
 * - as a message (sl_waf_parse_msg): the hit names a rule only when the
 *   input holds exactly one `[id "` with 1 to 9 digits after it, and then
 *   that number; the message is the field's text (cut, '?' for what is
 *   not printable); a field whose marker is not alone is dropped; a
 *   severity 0..7 or none;
 * - as a matched data text (sl_waf_mask_data, on a heap block of exactly
 *   its size and its NUL): the text never grows; it is replaced by
 *   "Matched Data: * found within VAR:NAME: *" (cut to its room) exactly
 *   when NAME (past VAR's ':' with no space after it, to ": ") is a
 *   credential's by a reference written here; otherwise bytes change only
 *   to '*' (a percent-encoded digit's "3x" to "2A"), and every credential's
 *   "NAME=VALUE" has its VALUE starred. As a score (sl_waf_msg_score): -1,
 *   or the digits after "Total Score: " up to the first past 99999;
 * - as a request's value inside messages shaped as ModSecurity 3.0.9
 *   writes them (the data cut at 200 bytes and escaped as toHexIfNeeded
 *   does, the uri not): behind a credential's name the data is masked
 *   whole, behind another it is kept but for what masking stars, and a
 *   message holding a second `[id "` (forged in the uri, or completed by
 *   the data's own closing quote) is refused.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "waf.h"

#define MAXN 8192

static const char masked_prefix[] = "Matched Data: * found within ";

/* How many times m (ml bytes) occurs in s[0..n). */
static size_t
count(const char *s, size_t n, const char *m, size_t ml)
{
	size_t c = 0;

	for (size_t i = 0; i + ml <= n; i++)
		if (memcmp(s + i, m, ml) == 0)
			c++;
	return c;
}

static const char *
find(const char *s, size_t n, const char *m)
{
	size_t ml = strlen(m);

	for (size_t i = 0; i + ml <= n; i++)
		if (memcmp(s + i, m, ml) == 0)
			return s + i;
	return NULL;
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* The reference: whether a field's name (n bytes) is a credential's
 * (doc/operations.md: it contains one of the words, or a part of it,
 * after the last '.', ':' or '[', is exactly pin). */
static int
ref_secret(const char *name, size_t n)
{
	static const char *const words[] = {
	    "token",  "password", "passwd", "secret",  "cvv",
	    "cvc",    "api_key",  "apikey", "api-key", "authorization",
	    "cookie", "session",  "sessid"};
	char low[MAXN + 1];
	size_t last = n;

	if (n > MAXN)
		return 0;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	while (last > 0 && strchr(".:[", low[last - 1]) == NULL)
		last--;
	if (n - last == 3 && memcmp(low + last, "pin", 3) == 0)
		return 1;
	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
		if (find(low, n, words[w]) != NULL)
			return 1;
	return 0;
}

static int
ref_name_byte(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Only what masking writes changed from in to out (n bytes): a byte to
 * '*' (a card digit, a credential's value), or a percent-encoded digit's
 * "3x" to "2A". */
static void
check_only_masked(const char *in, const char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (in[i] == out[i])
			continue;
		CHECK(out[i] == '*' || ((out[i] == '2' || out[i] == 'A') &&
					isdigit((unsigned char)in[i])));
	}
}

/* Every "NAME=VALUE" whose NAME (the run of name bytes before '=') is
 * a credential's has its VALUE starred in out, on to one of &;,}] and
 * a quote or a space (a quoted value: to its closing quote). */
static void
check_pairs(const char *in, const char *out, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		size_t b = i, e = i + 1;
		if (in[i] != '=' || !ref_name_byte(in[i - 1]))
			continue;
		while (b > 0 && ref_name_byte(in[b - 1]))
			b--;
		if (!ref_secret(in + b, i - b))
			continue;
		if (e < n && (in[e] == '"' || in[e] == '\'' ||
			      (n - e >= 4 && memcmp(in + e, "\\x22", 4) == 0)))
			continue; /* quoted: to its closing quote */
		for (; e < n && in[e] != '\0' &&
		       strchr("&;,}]\"' ", in[e]) == NULL &&
		       !(n - e >= 4 && memcmp(in + e, "\\x22", 4) == 0);
		     e++)
			CHECK(out[e] == '*');
	}
}

static void
as_message(const char *s, size_t n)
{
	struct sl_waf_hit h;
	int r = sl_waf_parse_msg(s, n, &h);
	const char *v;

	CHECK(r == 0 || r == 1);
	CHECK(strlen(h.msg) < sizeof(h.msg) && printable(h.msg));
	CHECK(strlen(h.data) < sizeof(h.data) && printable(h.data));
	CHECK(h.severity <= 7 || h.severity == 255);
	if (r == 0) {
		CHECK(h.id == 0 && h.msg[0] == '\0' && h.data[0] == '\0' &&
		      h.severity == 255);
		return;
	}
	/* one marker, its digits, and the id they say */
	CHECK(count(s, n, "[id \"", 5) == 1);
	v = find(s, n, "[id \"") + 5;
	{
		uint64_t id = 0;
		size_t i = 0;
		while (v + i < s + n && v[i] >= '0' && v[i] <= '9')
			id = id * 10 + (uint64_t)(v[i++] - '0');
		CHECK(i >= 1 && i <= 9);
		CHECK(v + i + 1 < s + n && v[i] == '"' && v[i + 1] == ']');
		CHECK(id == h.id);
	}
	if (count(s, n, "[msg \"", 6) != 1)
		CHECK(h.msg[0] == '\0');
	else if ((v = find(s, n, "[msg \"")) != NULL) {
		/* the text up to the first `"]`, cut, each byte that is not
		 * printable a '?' */
		const char *e = find(v + 6, n - (size_t)(v + 6 - s), "\"]");
		size_t ml = e != NULL ? (size_t)(e - v - 6) : 0;
		if (ml > SL_WAF_MSG_MAX - 1)
			ml = SL_WAF_MSG_MAX - 1;
		CHECK(strlen(h.msg) == ml);
		for (size_t i = 0; i < ml; i++)
			CHECK(h.msg[i] == v[6 + i] || h.msg[i] == '?');
	}
	if (count(s, n, "[data \"", 7) != 1)
		CHECK(h.data[0] == '\0');
	if (count(s, n, "[severity \"", 11) != 1)
		CHECK(h.severity == 255);
	else if (h.severity != 255)
		CHECK(find(s, n, "[severity \"")[11] == '0' + h.severity);
}

static void
as_data(const char *s, size_t n)
{
	char *b = malloc(n + 1);
	const char *w, *c, *e;
	size_t len;
	int secret = 0;

	CHECK(b != NULL);
	memcpy(b, s, n);
	b[n] = '\0';
	/* the score reads up to the first NUL */
	{
		int sc = sl_waf_msg_score(b);
		const char *t = strstr(b, "Total Score: "), *d;
		size_t k;
		char want[16];
		CHECK(sc >= -1 && sc < 1000000);
		if (t == NULL || !isdigit((unsigned char)t[13]))
			CHECK(sc == -1);
		else {
			/* leading zeros add nothing; past 99999 no digit
			 * more is read */
			for (d = t + 13;
			     d[0] == '0' && isdigit((unsigned char)d[1]); d++)
				;
			k = strspn(d, "0123456789");
			snprintf(want, sizeof(want), "%d", sc);
			if (k <= 6)
				CHECK(strlen(want) == k &&
				      memcmp(want, d, k) == 0);
			else
				CHECK(sc >= 100000 &&
				      memcmp(want, d, strlen(want)) == 0);
		}
	}
	/* "... found within VAR:NAME: value": the name past VAR's ':' when
	 * no space follows it, to the first ": " */
	if ((w = find(s, n, " found within ")) != NULL &&
	    (c = memchr(w + 14, ':', n - (size_t)(w + 14 - s))) != NULL &&
	    c + 1 < s + n && c[1] != ' ') {
		c++;
		e = find(c, n - (size_t)(c - s), ": ");
		if (e != NULL)
			secret = ref_secret(c, (size_t)(e - c));
	}
	sl_waf_mask_data(b, n);
	len = strlen(b);
	CHECK(len <= n);
	if (secret) {
		/* the masked form, cut to the room there is */
		CHECK(memcmp(b, masked_prefix,
			     len < sizeof(masked_prefix) - 1
				 ? len
				 : sizeof(masked_prefix) - 1) == 0);
		if (len > sizeof(masked_prefix) - 1 && len < n)
			CHECK(len >= 3 && memcmp(b + len - 3, ": *", 3) == 0);
	} else if (memchr(s, '\0', n) == NULL) {
		CHECK(len == n);
		check_only_masked(s, b, n);
		check_pairs(s, b, n);
	}
	free(b);
}

/* v (vl bytes) escaped as ModSecurity 3.0.9's toHexIfNeeded(v, true)
 * does for [data "..."]: control and non-ASCII bytes, '"' and '\' as
 * \xHH. */
static size_t
escape(char *out, size_t cap, const char *v, size_t vl)
{
	size_t o = 0;

	for (size_t i = 0; i < vl && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 32 || c > 126 || c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return o;
}

/*
 * The input as a request value in messages shaped as ModSecurity's. The
 * data's own closing `"]` can complete a marker the value ends with
 * (`... [id `): the message then holds two and is not trusted, as waf.h
 * says; so what is expected follows the markers the message holds.
 */
static void
as_value(const char *s, size_t n)
{
	static char data[200 + 64], esc[4 * sizeof(data)], msg[2 * MAXN + 2048];
	struct sl_waf_hit h;
	size_t dl, el, ml;
	int r;

	/* ModSecurity's limitTo(200, data), then toHexIfNeeded */
	if (n > 200) {
		memcpy(data, s, 200);
		dl = 200 + (size_t)snprintf(data + 200, sizeof(data) - 200,
					    " (%zu characters omitted)",
					    n - 200);
	} else {
		memcpy(data, s, n);
		dl = n;
	}
	el = escape(esc, sizeof(esc), data, dl);

	/* behind a credential's name, right after a short match */
	ml = (size_t)snprintf(
	    msg, sizeof(msg),
	    "ModSecurity: Warning. detected SQLi using libinjection. "
	    "[file \"/r.conf\"] [line \"46\"] [id \"942100\"] [rev \"\"] "
	    "[msg \"SQL Injection Attack Detected via libinjection\"] "
	    "[data \"Matched Data: s&1c found within ARGS:json.card.token: "
	    "%s\"] [severity \"2\"] [ver \"OWASP_CRS/3.3.4\"] "
	    "[hostname \"10.0.0.2\"] [uri \"/pay\"] [unique_id \"1\"]",
	    esc);
	r = sl_waf_parse_msg(msg, ml, &h);
	CHECK(r == (count(msg, ml, "[id \"", 5) == 1));
	if (r == 1) {
		CHECK(h.id == 942100);
		if (count(msg, ml, "[severity \"", 11) == 1)
			CHECK(h.severity == 2);
		if (count(msg, ml, "[data \"", 7) == 1)
			CHECK(strcmp(h.data, "Matched Data: * found within "
					     "ARGS:json.card.token: *") == 0);
		else
			CHECK(h.data[0] == '\0');
	}

	/* behind another name: kept, but for card digits, cut at the
	 * room there is */
	ml = (size_t)snprintf(
	    msg, sizeof(msg),
	    "ModSecurity: Warning. Matched \"Operator `Rx' ...\" "
	    "[file \"/r.conf\"] [line \"9\"] [id \"941110\"] "
	    "[msg \"XSS Filter - Category 1: Script Tag Vector\"] "
	    "[data \"%s\"] [severity \"2\"] [uri \"/x\"]",
	    esc);
	r = sl_waf_parse_msg(msg, ml, &h);
	CHECK(r == (count(msg, ml, "[id \"", 5) == 1));
	if (r == 1 && count(msg, ml, "[data \"", 7) == 1 &&
	    find(esc, el, " found within ") == NULL) {
		size_t hl = strlen(h.data);
		CHECK(h.id == 941110);
		CHECK(hl ==
		      (el < SL_WAF_DATA_MAX - 1 ? el : SL_WAF_DATA_MAX - 1));
		check_only_masked(esc, h.data, hl);
	}

	/* the input as the uri, unescaped as ModSecurity writes it: a
	 * forged marker there makes the whole message untrusted */
	ml = (size_t)snprintf(msg, sizeof(msg),
			      "ModSecurity: Warning. [file \"/r.conf\"] "
			      "[line \"1\"] [id \"930120\"] [msg \"OS File "
			      "Access Attempt\"] [data \"Matched Data: "
			      "etc/passwd found within ARGS:file: x\"] "
			      "[severity \"2\"] [uri \"%.*s\"] [ref \"\"]",
			      (int)n, s);
	r = sl_waf_parse_msg(msg, ml, &h);
	CHECK(r == (count(msg, ml, "[id \"", 5) == 1));
	if (r == 1)
		CHECK(h.id == 930120);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	if (size > MAXN)
		return 0;
	as_message(s, size);
	as_data(s, size);
	as_value(s, size);
	return 0;
}
