/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the card number masker (pan.c): the input is
 * masked whole and as a cut text, and each result must be exactly what a
 * plain reference written here computes: the input split into runs of
 * digit groups, every stretch of whole groups of 13 to 19 digits with a
 * valid Luhn digit masked but for its first six and last four digits, and
 * for a cut text, every digit past the sixth of a stretch that reaches the
 * cut, the groups inside a digest splitting runs (pan.h). Then the log's
 * own users of it (sl_log_target under each log.query) must keep their
 * output inside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "pan.h"

#define MAXN 4096

struct ref_digit {
	size_t off;
	unsigned char val, pct, first;
};

static size_t
ref_digit_len(const char *s, size_t n, size_t p, unsigned char *v)
{
	if (s[p] >= '0' && s[p] <= '9') {
		*v = (unsigned char)(s[p] - '0');
		return 1;
	}
	if (p + 3 <= n && s[p] == '%' && s[p + 1] == '3' && s[p + 2] >= '0' &&
	    s[p + 2] <= '9') {
		*v = (unsigned char)(s[p + 2] - '0');
		return 3;
	}
	return 0;
}

static size_t
ref_sep_len(const char *s, size_t n, size_t p)
{
	if (strchr(" -+", s[p]) != NULL && s[p] != '\0')
		return 1;
	if (p + 3 <= n && s[p] == '%' && s[p + 1] == '2' &&
	    strchr("0BbDd", s[p + 2]) != NULL && s[p + 2] != '\0')
		return 3;
	return 0;
}

static void
ref_mark(char *want, const struct ref_digit *d)
{
	if (d->pct) {
		want[d->off + 1] = '2';
		want[d->off + 2] = 'A';
	} else
		want[d->off] = '*';
}

/* One run d[0..m): every stretch of whole groups, then the cut. */
static void
ref_run(char *want, const struct ref_digit *d, size_t m, int open)
{
	for (size_t i = 0; i < m; i++) {
		if (!d[i].first)
			continue;
		for (size_t j = i; j < m && j - i < 19; j++) {
			size_t len = j - i + 1;
			unsigned char v[19];
			if (j + 1 < m && !d[j + 1].first)
				continue; /* not the end of a group */
			if (len < 13)
				continue;
			for (size_t k = 0; k < len; k++)
				v[k] = d[i + k].val;
			if (!sl_pan_luhn(v, len))
				continue;
			for (size_t k = i + 6; k + 4 <= j; k++)
				ref_mark(want, &d[k]);
		}
		if (open && m - i <= 19)
			for (size_t k = i + 6; k < m; k++)
				ref_mark(want, &d[k]);
	}
}

/* pan.h's digest: the group d[0..g) is plain digits inside at least
 * SL_PAN_DIGEST_MIN hexadecimal characters or '*', judged on the text as
 * it came. */
static int
ref_digest(const char *s, size_t n, const struct ref_digit *d, size_t g)
{
	size_t a, b;

	for (size_t k = 0; k < g; k++)
		if (d[k].pct)
			return 0;
	a = b = d[0].off;
	while (a > 0 && strchr("0123456789abcdefABCDEF*", s[a - 1]) != NULL &&
	       s[a - 1] != '\0')
		a--;
	while (b < n && strchr("0123456789abcdefABCDEF*", s[b]) != NULL &&
	       s[b] != '\0')
		b++;
	return b - a >= SL_PAN_DIGEST_MIN && b >= d[g - 1].off + 1;
}

/* The run d[0..m), open at the cut or not: a group in a digest is part
 * of no card number, so it splits the run in two, each checked alone. */
static void
ref_runs(const char *s, size_t n, char *want, const struct ref_digit *d,
	 size_t m, int open)
{
	size_t start = 0, i = 0;

	while (i < m) {
		size_t j = i + 1;
		while (j < m && !d[j].first)
			j++;
		if (ref_digest(s, n, d + i, j - i)) {
			ref_run(want, d + start, i - start, 0);
			start = j;
		}
		i = j;
	}
	ref_run(want, d + start, m - start, open);
}

/* The reference: want starts as a copy of s[0..n). */
static void
ref_mask(const char *s, size_t n, int cut, char *want)
{
	static struct ref_digit d[MAXN];
	size_t m = 0, p = 0, len;
	int after_sep = 0;
	unsigned char v;

	while (p < n) {
		if ((len = ref_digit_len(s, n, p, &v)) != 0) {
			d[m] = (struct ref_digit){p, v, len == 3,
						  m == 0 || after_sep};
			m++;
			after_sep = 0;
			p += len;
		} else if (m > 0 && !after_sep &&
			   (len = ref_sep_len(s, n, p)) != 0) {
			after_sep = 1;
			p += len;
		} else if (s[p] == '%' && p + 3 > n) {
			break; /* the run is open at the cut */
		} else {
			ref_runs(s, n, want, d, m, 0);
			m = 0;
			after_sep = 0;
			p++;
		}
	}
	ref_runs(s, n, want, d, m, cut);
}

static void
check_mask(const char *in, size_t n, int cut)
{
	static char got[MAXN], want[MAXN];
	size_t masked, diff = 0;

	memcpy(got, in, n);
	memcpy(want, in, n);
	masked = sl_pan_mask(got, n, cut);
	ref_mask(in, n, cut, want);
	CHECK(memcmp(got, want, n) == 0);
	for (size_t i = 0; i < n; i++)
		diff += got[i] != in[i];
	/* a literal digit changes one byte, an encoded one at most two */
	CHECK(masked <= diff && diff <= 2 * masked);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[300];
	const char *in = (const char *)data;

	if (size > MAXN)
		return 0;
	check_mask(in, size, 0);
	check_mask(in, size, 1);
	for (int q = SL_LOG_QUERY_NAMES; q <= SL_LOG_QUERY_OFF; q++) {
		size_t o = sl_log_target(out, sizeof(out), in, size,
					 (enum sl_log_query)q, 1);
		CHECK(o < sizeof(out) && out[o] == '\0');
		o = sl_log_target(out, 17, in, size, (enum sl_log_query)q, 1);
		CHECK(o < 17 && out[o] == '\0');
	}
	return 0;
}
