/* SPDX-License-Identifier: MIT */
/*
 * The card number masker of the logs (see pan.h). One pass over the text;
 * the last 19 digits of the run being read are kept with their places, so
 * that every stretch of whole groups that could be a card number is
 * checked when a group ends, and masked in place.
 */
#include "pan.h"

#include <stdint.h>
#include <string.h>

#define PAN_MIN	       13 /* digits of the shortest card number (ISO/IEC 7812) */
#define PAN_MAX	       19 /* and of the longest */
#define PAN_KEEP_FIRST 6
#define PAN_KEEP_LAST  4

/* One digit of the run being read. */
struct pan_digit {
	size_t off;	     /* where it starts in the text */
	unsigned char val;   /* 0..9 */
	unsigned char pct;   /* written "%3X" */
	unsigned char first; /* the first digit of its group */
	unsigned char masked;
};

struct pan_scan {
	char *s;
	struct pan_digit ring[PAN_MAX]; /* the last PAN_MAX digits */
	size_t nd;			/* digits of the run so far */
	size_t masked;			/* digits masked in all */
};

int
sl_pan_luhn(const unsigned char *d, size_t n)
{
	unsigned sum = 0;

	for (size_t k = 0; k < n; k++) {
		unsigned v = d[n - 1 - k];
		if (k & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/* The digit k places before the newest of the run (0 = the newest). */
static struct pan_digit *
back(struct pan_scan *sc, size_t k)
{
	return &sc->ring[(sc->nd - 1 - k) % PAN_MAX];
}

static void
mask_digit(struct pan_scan *sc, struct pan_digit *d)
{
	if (d->masked)
		return;
	d->masked = 1;
	sc->masked++;
	if (d->pct) {
		/* "%3X" -> "%2A": still percent-encoded, and it reads '*' */
		sc->s[d->off + 1] = '2';
		sc->s[d->off + 2] = 'A';
	} else
		sc->s[d->off] = '*';
}

/*
 * A group ended with the newest digit: every stretch of whole groups that
 * ends here and has 13 to 19 digits is checked, from the shortest. The
 * Luhn sum is built from the right, so each start costs one step.
 */
static void
group_end(struct pan_scan *sc)
{
	size_t k, lim = sc->nd < PAN_MAX ? sc->nd : PAN_MAX;
	unsigned sum = 0;

	if (sc->nd < PAN_MIN)
		return; /* too few digits for any card number */
	for (k = 0; k < lim; k++) {
		unsigned v = back(sc, k)->val;
		if (k & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
		if (k + 1 >= PAN_MIN && back(sc, k)->first && sum % 10 == 0)
			/* keep the last four (0..3) and the first six */
			for (size_t j = PAN_KEEP_LAST; j + PAN_KEEP_FIRST <= k;
			     j++)
				mask_digit(sc, back(sc, j));
	}
}

/*
 * The text was cut inside a run: a card number may start at any group of
 * its last 19 digits and go on past the cut. Of each such start, only the
 * first six digits stay.
 */
static void
cut_end(struct pan_scan *sc)
{
	size_t k, lim = sc->nd < PAN_MAX ? sc->nd : PAN_MAX;

	for (k = 0; k < lim; k++)
		if (back(sc, k)->first)
			for (size_t j = 0; j + PAN_KEEP_FIRST <= k; j++)
				mask_digit(sc, back(sc, j));
}

/* A digit at s[p]: its length (1 or 3) and value, or 0. */
static size_t
digit_at(const char *s, size_t n, size_t p, unsigned char *val)
{
	if (s[p] >= '0' && s[p] <= '9') {
		*val = (unsigned char)(s[p] - '0');
		return 1;
	}
	if (s[p] == '%' && p + 2 < n && s[p + 1] == '3' && s[p + 2] >= '0' &&
	    s[p + 2] <= '9') {
		*val = (unsigned char)(s[p + 2] - '0');
		return 3;
	}
	return 0;
}

/* A separator at s[p]: its length (1 or 3), or 0. */
static size_t
sep_at(const char *s, size_t n, size_t p)
{
	if (s[p] == ' ' || s[p] == '-' || s[p] == '+')
		return 1;
	if (s[p] == '%' && p + 2 < n && s[p + 1] == '2' &&
	    (s[p + 2] == '0' || s[p + 2] == 'B' || s[p + 2] == 'b' ||
	     s[p + 2] == 'D' || s[p + 2] == 'd'))
		return 3;
	return 0;
}

/* A character of a digest's run: hexadecimal, or '*' (what a digit this
 * call masked already has become: the run is judged as it was). */
static int
digest_char(char c)
{
	return (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') || c == '*';
}

/* Whether the len characters at s[p] are plain digits inside a digest: a
 * run of at least SL_PAN_DIGEST_MIN digest characters holding all of them
 * (pan.h). */
static int
in_digest(const char *s, size_t n, size_t p, size_t len)
{
	size_t a = p, b = p;

	while (a > 0 && digest_char(s[a - 1]))
		a--;
	while (b < n && digest_char(s[b]))
		b++;
	return b - a >= SL_PAN_DIGEST_MIN && b >= p + len;
}

/*
 * The group of the run being read that began at s[start] ended at s[end]:
 * checked as the end of a card number, unless its digits are a digest's.
 * Those belong to no card number: the digits before them are a run that
 * ended, and the run starts again after them ("sha256 9051167536a4..." is
 * "256", then a digest, not 13 digits that pass Luhn).
 */
static void
group_done(struct pan_scan *sc, const char *s, size_t n, size_t start,
	   size_t end)
{
	if (in_digest(s, n, start, end - start))
		sc->nd = 0;
	else
		group_end(sc);
}

/*
 * Reads the run that starts with the digit at p: digits joined by single
 * separators. Without sc it only counts them; with sc it records them and
 * checks each group as it ends (group_done), the last one too. Returns
 * where the run ends; *after_sep says whether it ended with a separator.
 */
static size_t
run_read(struct pan_scan *sc, const char *s, size_t n, size_t p, size_t *ndig,
	 int *after_sep)
{
	size_t len, start = p;
	unsigned char val;

	*ndig = 0;
	*after_sep = 0;
	for (;;) {
		if (p < n && (len = digit_at(s, n, p, &val)) != 0) {
			if (*after_sep)
				start = p;
			if (sc != NULL) {
				struct pan_digit *d =
				    &sc->ring[sc->nd % PAN_MAX];
				d->off = p;
				d->val = val;
				d->pct = len == 3;
				d->first = sc->nd == 0 || *after_sep;
				d->masked = 0;
				sc->nd++;
			}
			++*ndig;
			*after_sep = 0;
			p += len;
		} else if (p < n && !*after_sep &&
			   (len = sep_at(s, n, p)) != 0) {
			if (sc != NULL)
				group_done(sc, s, n, start, p);
			*after_sep = 1;
			p += len;
		} else {
			if (sc != NULL && !*after_sep)
				group_done(sc, s, n, start, p);
			return p;
		}
	}
}

/* 8 bytes with one of them in each byte's place. */
#define BYTES(c) (0x0101010101010101ULL * (uint64_t)(c))

/*
 * The bytes of w that may be a digit or a '%', as the high bit of each:
 * the lowest one set is exact (a higher one may be a false positive of
 * the zero-byte test, which only costs a look).
 */
static uint64_t
word_starts(uint64_t w)
{
	const uint64_t high = BYTES(0x80);
	uint64_t low7 = w & ~high, pct = w ^ BYTES('%');
	/* a byte in '0'..'9' (strictly between 0x2f and 0x3a), and a zero
	 * byte of w ^ "%%%%%%%%" */
	uint64_t digit =
	    (BYTES(127 + 0x3a) - low7) & ~w & (low7 + BYTES(127 - 0x2f)) & high;

	return digit | ((pct - BYTES(1)) & ~pct & high);
}

/* Bytes that can start a digit: '0'..'9' and '%' (of "%3X"). */
static const unsigned char digit_start[256] = {
    ['%'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
};

/*
 * What a byte does to the digits a card number could hold so far: 1 for a
 * digit (a '3' and a digit of "%3X" count one each, too many, which is
 * safe), 2 for a byte that may stand inside a card number without being a
 * digit (' ', '-', '+', and '%', 'B', 'D', 'b', 'd' of the escapes), 0 for
 * a byte that ends any card number.
 */
static const unsigned char stretch_class[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, [' '] = 2, ['-'] = 2,
    ['+'] = 2, ['%'] = 2, ['B'] = 2, ['D'] = 2, ['b'] = 2, ['d'] = 2,
};

/* The bytes of w strictly between lo and hi (both below 0x80), as the
 * high bit of each: exact, no carry crosses a byte. */
static inline uint64_t
bytes_between(uint64_t w, unsigned lo, unsigned hi)
{
	const uint64_t high = BYTES(0x80);
	uint64_t low7 = w & ~high;

	return (BYTES(127 + hi) - low7) & ~w & (low7 + BYTES(127 - lo)) & high;
}

/* How many bytes of w have their high bit set in m (m holds nothing
 * else). */
static inline size_t
bytes_count(uint64_t m)
{
	return (size_t)(((m >> 7) * BYTES(1)) >> 56);
}

/*
 * Whether s[0..n) has a stretch of bytes that may stand in a card number
 * with PAN_MIN or more digits in it: a text without one holds no card
 * number, and most logged text (a browser's User-Agent: many digits, none
 * more than three in a row) is left after this one look. 8 bytes at a
 * time: a stretch that ends inside a word has its digits before the
 * word's first breaking byte, a stretch inside it has 6 at most and
 * cannot count, and the digits after its last breaking byte start the
 * next. A word's bytes that may stand in a card number are taken a little
 * wide (' ' to '9', and b, c, d in either case), which only sends some
 * texts (dotted numbers) to the closer look for nothing; the tail goes a
 * byte at a time.
 */
static int
long_stretch(const char *s, size_t n)
{
	size_t p = 0, k = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; p + 8 <= n; p += 8) {
		uint64_t w, d, brk;
		memcpy(&w, s + p, 8);
		d = bytes_between(w, 0x2f, 0x3a);
		brk = ~(bytes_between(w, 0x1f, 0x3a) |
			bytes_between(w | BYTES(0x20), 0x61, 0x65)) &
		      BYTES(0x80);
		if (brk == 0) {
			k += bytes_count(d);
		} else {
			k += bytes_count(d & ((brk & -brk) - 1));
			if (k >= PAN_MIN)
				return 1;
			k = bytes_count(
			    d & ~((2ULL << (63 - __builtin_clzll(brk))) - 1));
		}
		if (k >= PAN_MIN)
			return 1;
	}
#endif
	for (; p < n; p++) {
		unsigned char c = stretch_class[(unsigned char)s[p]];
		k = c == 0 ? 0 : k + (c & 1);
		if (k >= PAN_MIN)
			return 1;
	}
	return 0;
}

size_t
sl_pan_mask(char *s, size_t n, int cut)
{
	struct pan_scan sc;
	size_t p = 0, end, ndig;
	int after_sep, open;
	unsigned char val;

	sc.s = s;
	sc.nd = 0;
	sc.masked = 0;
	if (!cut && !long_stretch(s, n))
		return 0;
	for (;;) {
		/* between runs, most of the text: 8 bytes at a time (the
		 * first candidate is the lowest byte, x86 and the like being
		 * little-endian), the tail one table look-up a byte */
		while (p + 8 <= n) {
			uint64_t w, m;
			memcpy(&w, s + p, 8);
			if ((m = word_starts(w)) != 0 &&
			    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
				p += (size_t)__builtin_ctzll(m) / 8;
				break;
			}
			if (m != 0)
				break;
			p += 8;
		}
		while (p < n && !digit_start[(unsigned char)s[p]])
			p++;
		if (p >= n)
			break;
		if (digit_at(s, n, p, &val) == 0) {
			p++; /* a '%' that encodes no digit */
			continue;
		}
		/* most runs are too short for a card number: counted first,
		 * read again only when they could hold one */
		end = run_read(NULL, s, n, p, &ndig, &after_sep);
		/* the text ends inside the run, or inside an escape that may
		 * go on with it */
		open = end >= n || (s[end] == '%' && end + 3 > n);
		/* a run that is one group in a digest needs no second look:
		 * group_done would leave it as it is */
		if ((ndig >= PAN_MIN || (cut && open)) &&
		    !in_digest(s, n, p, ndig)) {
			sc.nd = 0;
			run_read(&sc, s, n, p, &ndig, &after_sep);
			if (cut && open)
				cut_end(&sc);
		}
		if (open)
			break;
		p = end;
	}
	return sc.masked;
}
