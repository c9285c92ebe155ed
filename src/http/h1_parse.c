/* SPDX-License-Identifier: MIT */
/*
 * Strict HTTP/1.1 heads after RFC 9112 and RFC 9110: the incremental head
 * scanner, request heads parsed from text, the same checks on a head a
 * codec built as fields (sl_h1_request_check), response heads and their
 * Keep-Alive. The chunked coding is h1_chunked.c's, the salvage of
 * refused heads h1_salvage.c's; all three are declared in h1_parse.h.
 * Pure: no I/O, no malloc, no mutable global state, no locale; every byte
 * class comes from the ASCII table of h1_parse_int.h.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && !defined(SL_H1_SCALAR)
#include <emmintrin.h>
#define SL_H1_SSE2 1
#endif

#include "h1_parse.h"

/* The request's checks are shared by the parser and sl_h1_request_check;
 * each caller keeps them inlined, as when the parser held them alone (a
 * call each cost an HTTP/1.1 request 130 instructions). */
#define SL_H1_INLINE inline __attribute__((always_inline))
#include "h1_parse_int.h"

/*
 * Skipping ordinary bytes 16 at a time (doc/performance.md, "Session 22").
 * A head is mostly field names and values, whose bytes mean nothing to
 * the scanner and pass the same test each: the scalar loops below stay
 * the rules and handle every byte that matters; these only move i past
 * whole 16-byte blocks that hold none, and stop at the first byte that
 * does (or where fewer than 16 remain). SSE2 is in every x86-64 CPU, so
 * there is no choice to make at run time; elsewhere, or built with
 * -DSL_H1_SCALAR, the scalar loops do it all, byte by byte.
 */
#ifdef SL_H1_SSE2
/*
 * The first byte of buf[i .. end) whose bit is set in the mask a block's
 * test makes, or end. Whole blocks first; then, when at least 16 bytes
 * are there, the last 16 of them once more, the bits of what was already
 * passed shifted out: no byte past end is read.
 */
#define SKIP_BLOCKS(test)                                                      \
	do {                                                                   \
		__m128i x;                                                     \
		unsigned m;                                                    \
		while (i + 16 <= end) {                                        \
			x = _mm_loadu_si128(                                   \
			    (const __m128i *)(const void *)(buf + i));         \
			if ((m = (test)) != 0)                                 \
				return i + (size_t)__builtin_ctz(m);           \
			i += 16;                                               \
		}                                                              \
		if (i >= end || end < 16)                                      \
			return i;                                              \
		x = _mm_loadu_si128(                                           \
		    (const __m128i *)(const void *)(buf + end - 16));          \
		m = (test) >> (i - (end - 16));                                \
		return m != 0 ? i + (size_t)__builtin_ctz(m) : end;            \
	} while (0)

/* The first CR, LF or NUL of buf[i .. end) (and SP, with sp), or end. */
static inline size_t
skip_plain(const char *buf, size_t i, size_t end, int sp)
{
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	const __m128i nul = _mm_setzero_si128();
	const __m128i spc = _mm_set1_epi8(sp ? ' ' : '\r');

	SKIP_BLOCKS((unsigned)_mm_movemask_epi8(_mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf)),
	    _mm_or_si128(_mm_cmpeq_epi8(x, nul), _mm_cmpeq_epi8(x, spc)))));
}

/* The first byte of buf[i .. end) that is no letter, digit or "-", or
 * where fewer than 16 bytes are left: the tchars nearly every field name
 * is made of (the scalar token loop takes the rest). A range is a byte
 * that max and min with its ends leave as it is. */
static inline size_t
skip_name(const char *buf, size_t i, size_t end)
{
	const __m128i a = _mm_set1_epi8('a'), z = _mm_set1_epi8('z');
	const __m128i d0 = _mm_set1_epi8('0'), d9 = _mm_set1_epi8('9');
	const __m128i dash = _mm_set1_epi8('-'), up = _mm_set1_epi8(0x20);

	SKIP_BLOCKS(
	    ~(unsigned)_mm_movemask_epi8(_mm_or_si128(
		_mm_or_si128(
		    _mm_cmpeq_epi8(
			_mm_min_epu8(_mm_max_epu8(_mm_or_si128(x, up), a), z),
			_mm_or_si128(x, up)),
		    _mm_cmpeq_epi8(_mm_min_epu8(_mm_max_epu8(x, d0), d9), x)),
		_mm_cmpeq_epi8(x, dash))) &
	    0xffff);
}

/* The first byte of buf[i .. end) that is no field-vchar, SP or HTAB (a
 * control but HTAB, or DEL), or end. */
static inline size_t
skip_field_value(const char *buf, size_t i, size_t end)
{
	const __m128i c1f = _mm_set1_epi8(0x1f), tab = _mm_set1_epi8('\t');
	const __m128i del = _mm_set1_epi8(0x7f);

	/* a control: x <= 0x1f, unsigned, so max(x, 0x1f) is 0x1f */
	SKIP_BLOCKS((unsigned)_mm_movemask_epi8(_mm_or_si128(
	    _mm_andnot_si128(_mm_cmpeq_epi8(x, tab),
			     _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f)),
	    _mm_cmpeq_epi8(x, del))));
}
#undef SKIP_BLOCKS
#endif

/* Transfer-Encoding outcomes. */
#define TE_NONE	   0
#define TE_CHUNKED 1 /* exactly "chunked" */
#define TE_OTHER   2 /* well-formed, but not only "chunked": 501 */

/* What the fields of one head say about framing and routing. */
struct fields {
	unsigned flags;	    /* SL_H1_F_* */
	int ncl;	    /* Content-Length fields seen */
	int cl_differ;	    /* two Content-Length values differ */
	uint64_t cl;	    /* value of the first one */
	int nte;	    /* Transfer-Encoding fields seen */
	int te;		    /* TE_* of the (only) one */
	int nhost;	    /* Host fields seen */
	const char *host;   /* borrowed: value of the Host field */
	size_t host_len;    /* bytes */
	int expect_unknown; /* an Expect other than 100-continue */
	const char *ka;	    /* borrowed: a response's Keep-Alive value */
	size_t ka_len;
};

/*
 * Eight bytes of s against eight of lower (ASCII, lower-case): equal when
 * they differ only by 0x20 where lower has a letter. Bytes are flagged
 * 'a'..'z' without carries between them (every byte of lower is below
 * 0x80, and so is what is added to it).
 */
static inline int
ieq8(uint64_t a, uint64_t b)
{
	const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
	uint64_t ge_a = (b + ones * (0x80 - 'a')) & high;
	uint64_t gt_z = (b + ones * (0x7f - 'z')) & high;
	uint64_t letter = (ge_a & ~gt_z) >> 2; /* 0x20 where a letter */

	return ((a ^ b) & ~letter) == 0;
}

int
sl_h1_is_token(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!IS(s[i], C_TCHAR))
			return 0;
	return 1;
}

int
sl_h1_ieq_n(const char *s, const char *lower_str, size_t n)
{
	uint64_t a, b;
	size_t i;

	if (n == 0)
		return 1;
	/* most calls differ at once: a byte whose 0x20 bit does not
	 * explain the difference */
	if (((unsigned char)s[0] | 0x20) !=
	    ((unsigned char)lower_str[0] | 0x20))
		return 0;
	if (n < 8) {
		for (i = 0; i < n; i++)
			if (lower((unsigned char)s[i]) !=
			    (unsigned char)lower_str[i])
				return 0;
		return 1;
	}
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&a, s + i, 8);
		memcpy(&b, lower_str + i, 8);
		if (!ieq8(a, b))
			return 0;
	}
	if (i == n)
		return 1;
	/* the last eight, overlapping what was compared */
	memcpy(&a, s + n - 8, 8);
	memcpy(&b, lower_str + n - 8, 8);
	return ieq8(a, b);
}

/* The len bytes at p (len at most 8; a constant once inlined) as a
 * little-endian number. */
static inline uint64_t
load_le(const char *p, size_t len)
{
	uint64_t v = 0;

	memcpy(&v, p, len);
	return v;
}

/*
 * Whether the token n equals lit (lower-case letters and '-', of n's
 * length len) without regard to case. In a token only a letter's case
 * bit (0x20) turns it into another letter or '-' (0x0d, the one other
 * byte that would, is never in a token), so OR-ing 0x20 into every byte
 * and comparing eight at a time is exact. n: a parsed field name, or a
 * name the configuration checked.
 */
static inline int
tok_is(const char *n, const char *lit, size_t len)
{
	const uint64_t bit = 0x2020202020202020ull;
	uint64_t diff = 0;
	size_t i = 0;

	for (; i + 8 <= len; i += 8)
		diff |= (load_le(n + i, 8) | bit) ^ load_le(lit + i, 8);
	if (i < len)
		diff |=
		    (load_le(n + i, len - i) | (bit >> (64 - 8 * (len - i)))) ^
		    load_le(lit + i, len - i);
	return diff == 0;
}

#define NAME_IS(n, lower_lit) tok_is((n), (lower_lit), sizeof(lower_lit) - 1)

enum sl_h1_hk
sl_h1_classify(const char *n, size_t len)
{
	switch (len) {
	case 2:
		return NAME_IS(n, "te") ? SL_HK_HOP : SL_HK_OTHER;
	case 4:
		return NAME_IS(n, "host") ? SL_HK_HOST : SL_HK_OTHER;
	case 6:
		return NAME_IS(n, "expect") ? SL_HK_EXPECT : SL_HK_OTHER;
	case 7:
		if (NAME_IS(n, "trailer"))
			return SL_HK_TRAILER;
		return NAME_IS(n, "upgrade") ? SL_HK_HOP : SL_HK_OTHER;
	case 9:
		return NAME_IS(n, "forwarded") ? SL_HK_FORWARDED : SL_HK_OTHER;
	case 10:
		if (NAME_IS(n, "connection"))
			return SL_HK_CONNECTION;
		return NAME_IS(n, "keep-alive") ? SL_HK_KEEP_ALIVE
						: SL_HK_OTHER;
	case 12:
		return NAME_IS(n, "x-request-id") ? SL_HK_X_REQUEST_ID
						  : SL_HK_OTHER;
	case 14:
		return NAME_IS(n, "content-length") ? SL_HK_CONTENT_LENGTH
						    : SL_HK_OTHER;
	case 15:
		return NAME_IS(n, "x-forwarded-for") ? SL_HK_X_FORWARDED_FOR
						     : SL_HK_OTHER;
	case 16:
		return NAME_IS(n, "proxy-connection") ? SL_HK_HOP : SL_HK_OTHER;
	case 17:
		if (NAME_IS(n, "transfer-encoding"))
			return SL_HK_TRANSFER_ENCODING;
		return NAME_IS(n, "x-forwarded-proto") ? SL_HK_X_FORWARDED_PROTO
						       : SL_HK_OTHER;
	default:
		return SL_HK_OTHER;
	}
}

#define LIM_URI	    0
#define LIM_BYTES   1
#define LIM_HEADERS 2

/* A zero limit, or no limits at all, means "unbounded". */
static size_t
limit(const struct sl_h1_limits *lim, int which)
{
	size_t v = 0;

	if (lim != NULL) {
		if (which == LIM_URI)
			v = lim->max_uri_bytes;
		else if (which == LIM_BYTES)
			v = lim->max_header_bytes;
		else
			v = lim->max_headers;
	}
	return v == 0 ? SIZE_MAX : v;
}

const char *
sl_h1_reason_str(enum sl_h1_reason r)
{
	static const char *const names[SL_H1_R_NREASONS] = {
	    [SL_H1_R_NONE] = "none",
	    [SL_H1_R_BARE_CR] = "bare_cr",
	    [SL_H1_R_BARE_LF] = "bare_lf",
	    [SL_H1_R_NUL_BYTE] = "nul_byte",
	    [SL_H1_R_BAD_REQUEST_LINE] = "bad_request_line",
	    [SL_H1_R_BAD_TARGET] = "bad_target",
	    [SL_H1_R_BAD_VERSION] = "bad_version",
	    [SL_H1_R_VERSION] = "version_not_supported",
	    [SL_H1_R_URI_TOO_LONG] = "uri_too_long",
	    [SL_H1_R_HEAD_TOO_LARGE] = "head_too_large",
	    [SL_H1_R_TOO_MANY_HEADERS] = "too_many_headers",
	    [SL_H1_R_OBS_FOLD] = "obs_fold",
	    [SL_H1_R_SPACE_BEFORE_COLON] = "space_before_colon",
	    [SL_H1_R_BAD_FIELD_NAME] = "bad_field_name",
	    [SL_H1_R_BAD_FIELD_VALUE] = "bad_field_value",
	    [SL_H1_R_MISSING_HOST] = "missing_host",
	    [SL_H1_R_DUP_HOST] = "dup_host",
	    [SL_H1_R_BAD_HOST] = "bad_host",
	    [SL_H1_R_DUP_CONTENT_LENGTH] = "dup_content_length",
	    [SL_H1_R_BAD_CONTENT_LENGTH] = "bad_content_length",
	    [SL_H1_R_CL_TE_CONFLICT] = "cl_te_conflict",
	    [SL_H1_R_TE_IN_HTTP10] = "te_in_http10",
	    [SL_H1_R_BAD_TRANSFER_ENCODING] = "bad_transfer_encoding",
	    [SL_H1_R_UNSUPPORTED_TRANSFER_ENCODING] =
		"unsupported_transfer_encoding",
	    [SL_H1_R_BAD_CONNECTION] = "bad_connection",
	    [SL_H1_R_UNSUPPORTED_EXPECT] = "unsupported_expect",
	    [SL_H1_R_CONNECT_METHOD] = "connect_method",
	    [SL_H1_R_BAD_CHUNK_SIZE] = "bad_chunk_size",
	    [SL_H1_R_BAD_CHUNK_EXT] = "bad_chunk_ext",
	    [SL_H1_R_BAD_CHUNK_END] = "bad_chunk_end",
	    [SL_H1_R_BAD_TRAILER] = "bad_trailer",
	    [SL_H1_R_TRAILER_TOO_LARGE] = "trailer_too_large",
	    [SL_H1_R_FORBIDDEN_TRAILER] = "forbidden_trailer",
	    [SL_H1_R_BODY_TOO_LARGE] = "body_too_large",
	    [SL_H1_R_ACCESS_DENIED] = "access_denied",
	    [SL_H1_R_MISDIRECTED] = "misdirected_request",
	    [SL_H1_R_BAD_STATUS_LINE] = "bad_status_line",
	    [SL_H1_R_BAD_STATUS] = "bad_status",
	    [SL_H1_R_CONTENT_LENGTH_DIFFER] = "content_length_differ",
	    [SL_H1_R_FRAMING_WITHOUT_BODY] = "framing_without_body",
	};

	return (unsigned)r < SL_H1_R_NREASONS && names[r] ? names[r] : "?";
}

/* ---- head scanner -------------------------------------------------------- */

void
sl_h1_scan_init(struct sl_h1_scan *s)
{
	memset(s, 0, sizeof(*s));
}

long
sl_h1_scan_head(struct sl_h1_scan *s, const char *buf, size_t len,
		const struct sl_h1_limits *lim, int is_request)
{
	size_t max_bytes = limit(lim, LIM_BYTES);
	size_t max_fields = limit(lim, LIM_HEADERS);
	size_t max_uri = limit(lim, LIM_URI);
	long e400 = is_request ? -400 : -502;
	long e414 = is_request ? -414 : -502;
	long e431 = is_request ? -431 : -502;
	size_t i = s->off;
	unsigned char c;

#define FAIL(status, r_)                                                       \
	do {                                                                   \
		s->why = (r_);                                                 \
		return (status);                                               \
	} while (0)
	while (i < len) {
#ifdef SL_H1_SSE2
		/* only CR, LF, NUL and (in the start line) SP mean anything
		 * to the loop below: the bytes between are passed at once,
		 * and a request-target among them is measured as the loop
		 * would have, at the first byte past max_uri_bytes */
		{
			size_t from = i;
			i = skip_plain(buf, i,
				       len < max_bytes ? len : max_bytes,
				       s->nlines == 0);
			if (s->nlines == 0 && is_request && s->sp1 != 0 &&
			    s->sp2 == 0 && i > from && i - 1 - s->sp1 > max_uri)
				FAIL(e414, SL_H1_R_URI_TOO_LONG);
			if (i >= len)
				break;
		}
#endif
		/* The head is not complete yet, so it is at least i + 1 long.
		 */
		if (i >= max_bytes)
			FAIL(e431, SL_H1_R_HEAD_TOO_LARGE);
		c = (unsigned char)buf[i];
		if (c == '\r') {
			if (i + 1 >= len)
				break; /* look at this CR again with its LF */
			if (buf[i + 1] != '\n')
				FAIL(e400, SL_H1_R_BARE_CR);
			if (i == s->line_start) {
				if (s->nlines > 0) {
					if (i + 2 > max_bytes)
						FAIL(e431,
						     SL_H1_R_HEAD_TOO_LARGE);
					s->off = i + 2;
					return (long)(i + 2);
				}
				/*
				 * RFC 9112 section 2.2: a server ignores empty
				 * lines before the request-line (clients that
				 * sent CRLF after a body). Not for responses.
				 */
				if (!is_request)
					FAIL(e400, SL_H1_R_BAD_STATUS_LINE);
			} else {
				s->nlines++;
				if ((size_t)s->nlines - 1 > max_fields ||
				    s->nlines >= SL_H1_MAX_LINES)
					FAIL(e431, SL_H1_R_TOO_MANY_HEADERS);
			}
			i += 2;
			s->line_start = i;
			continue;
		}
		if (c == '\n')
			FAIL(e400, SL_H1_R_BARE_LF);
		if (c == '\0')
			FAIL(e400, SL_H1_R_NUL_BYTE);
		if (s->nlines == 0) {
			if (c == ' ') {
				if (i == s->line_start)
					FAIL(e400,
					     is_request
						 ? SL_H1_R_BAD_REQUEST_LINE
						 : SL_H1_R_BAD_STATUS_LINE);
				if (s->sp1 == 0)
					s->sp1 = i;
				else if (s->sp2 == 0)
					s->sp2 = i;
			} else if (is_request && s->sp1 != 0 && s->sp2 == 0 &&
				   i - s->sp1 > max_uri) {
				FAIL(e414, SL_H1_R_URI_TOO_LONG);
			}
		}
		i++;
	}
#undef FAIL
	s->off = i;
	return 0;
}

/* ---- small grammar helpers ----------------------------------------------- */

static size_t
skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && IS(s[i], C_WS))
		i++;
	return i;
}

static size_t
skip_token(const char *s, size_t n, size_t i)
{
	while (i < n && IS(s[i], C_TCHAR))
		i++;
	return i;
}

/*
 * quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE starting at s[i].
 * Returns the offset after the closing DQUOTE, or 0 when malformed.
 */
static size_t
skip_qstring(const char *s, size_t n, size_t i)
{
	if (i >= n || s[i] != '"')
		return 0;
	for (i++; i < n; i++) {
		if (s[i] == '"')
			return i + 1;
		if (s[i] == '\\') {
			if (++i >= n || !IS(s[i], C_FVCHAR | C_WS))
				return 0;
		} else if (!IS(s[i], C_QDTEXT)) {
			return 0;
		}
	}
	return 0;
}

/* 1*DIGIT, no sign, no space, at most 2^63 - 1. Returns 0 or -1. */
static int
parse_length(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;
	unsigned d;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!IS(s[i], C_DIGIT))
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (SL_H1_SIZE_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/*
 * Transfer-Encoding = 1#transfer-coding, the value already OWS-trimmed;
 * transfer-coding = token *( OWS ";" OWS token BWS "=" BWS ( token /
 * quoted-string ) ). Empty list elements are refused. Returns TE_CHUNKED,
 * TE_OTHER, or -1 when malformed or when "chunked" is repeated or not the
 * final coding (RFC 9112 section 6.3: the length cannot be determined).
 */
static int
parse_te(const char *s, size_t n)
{
	size_t i = 0, j, start;
	int nelem = 0, nchunked = 0, last_chunked = 0, params = 0, is_chunked;

	for (;;) {
		start = i;
		i = skip_token(s, n, i);
		if (i == start)
			return -1;
		is_chunked = sl_h1_ieq(s + start, i - start, "chunked");
		for (;;) {
			j = skip_ws(s, n, i);
			if (j >= n || s[j] != ';')
				break;
			j = skip_ws(s, n, j + 1);
			start = j;
			j = skip_token(s, n, j);
			if (j == start)
				return -1;
			j = skip_ws(s, n, j);
			if (j >= n || s[j] != '=')
				return -1;
			j = skip_ws(s, n, j + 1);
			start = j;
			if (j < n && s[j] == '"') {
				if ((j = skip_qstring(s, n, j)) == 0)
					return -1;
			} else if ((j = skip_token(s, n, j)) == start) {
				return -1;
			}
			if (is_chunked)
				params = 1;
			i = j;
		}
		nelem++;
		nchunked += is_chunked;
		last_chunked = is_chunked;
		if (j == n)
			break;
		if (s[j] != ',')
			return -1;
		i = skip_ws(s, n, j + 1);
	}
	if (nchunked > 1 || (nchunked == 1 && !last_chunked))
		return -1;
	if (nelem == 1 && nchunked == 1 && !params)
		return TE_CHUNKED;
	return TE_OTHER;
}

/*
 * Connection = 1#connection-option (tokens), OWS-trimmed value; empty
 * elements are refused. Adds SL_H1_F_CONN_* to *flags. Returns 0 or -1.
 */
static int
parse_connection(const char *s, size_t n, unsigned *flags)
{
	size_t i = 0, j, start;

	for (;;) {
		start = i;
		i = skip_token(s, n, i);
		if (i == start)
			return -1;
		if (sl_h1_ieq(s + start, i - start, "close"))
			*flags |= SL_H1_F_CONN_CLOSE;
		else if (sl_h1_ieq(s + start, i - start, "keep-alive"))
			*flags |= SL_H1_F_CONN_KEEPALIVE;
		else
			*flags |= SL_H1_F_CONN_OTHER;
		j = skip_ws(s, n, i);
		if (j == n)
			return 0;
		if (s[j] != ',')
			return -1;
		i = skip_ws(s, n, j + 1);
	}
}

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros. */
static int
valid_ipv4(const char *s, size_t n)
{
	size_t i = 0, start;
	unsigned v;
	int part;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		start = i;
		v = 0;
		while (i < n && IS(s[i], C_DIGIT) && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return 0;
	}
	return i == n;
}

/* RFC 3986 IPv6address: 8 groups, or fewer with one "::", IPv4 tail. */
static int
valid_ipv6(const char *s, size_t n)
{
	size_t i = 0, start;
	int groups = 0, dcolon = 0;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		dcolon = 1;
		i = 2;
		if (i == n)
			return 1;
	}
	for (;;) {
		start = i;
		while (i < n && IS(s[i], C_HEX))
			i++;
		if (i < n && s[i] == '.') {
			if (!valid_ipv4(s + start, n - start))
				return 0;
			groups += 2;
			break;
		}
		if (i == start || i - start > 4)
			return 0;
		groups++;
		if (i == n)
			break;
		if (s[i] != ':' || ++i == n)
			return 0;
		if (s[i] == ':') {
			if (dcolon)
				return 0;
			dcolon = 1;
			if (++i == n)
				break;
		}
		if (groups >= 8)
			return 0;
	}
	return dcolon ? groups <= 7 : groups == 8;
}

/* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
static int
valid_ipvfuture(const char *s, size_t n)
{
	size_t i = 1, start;

	if (n == 0 || lower((unsigned char)s[0]) != 'v')
		return 0;
	while (i < n && IS(s[i], C_HEX))
		i++;
	if (i == 1 || i >= n || s[i] != '.')
		return 0;
	start = ++i;
	while (i < n && (IS(s[i], C_REG) || s[i] == ':'))
		i++;
	return i == n && i > start;
}

/*
 * uri-host [ ":" port ] with a non-empty host and, when present, a port
 * of 1 to 5 digits up to 65535 (an empty port is refused). The host is an
 * IP-literal or a reg-name (IPv4 addresses are reg-names syntactically).
 * Returns 1 when valid.
 */
static int
valid_authority(const char *s, size_t n, int need_port)
{
	size_t i = 0, start;
	unsigned port = 0;

	if (n == 0)
		return 0;
	if (s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			;
		if (i >= n)
			return 0;
		if (!valid_ipv6(s + 1, i - 1) && !valid_ipvfuture(s + 1, i - 1))
			return 0;
		i++;
	} else {
		while (i < n) {
			if (IS(s[i], C_REG)) {
				i++;
			} else if (s[i] == '%' && i + 2 < n &&
				   IS(s[i + 1], C_HEX) && IS(s[i + 2], C_HEX)) {
				i += 3;
			} else {
				break;
			}
		}
		if (i == 0)
			return 0;
	}
	if (i == n)
		return !need_port;
	if (s[i] != ':')
		return 0;
	start = ++i;
	while (i < n && IS(s[i], C_DIGIT) && i - start < 5)
		port = port * 10 + (unsigned)(s[i++] - '0');
	return i == n && i > start && port <= 65535;
}

/*
 * The last Host value valid_authority accepted on this thread, up to
 * HOST_MEMO bytes: a connection's requests, and most of a worker's, name
 * the same host, and a compare of its bytes costs a tenth of the
 * authority's grammar (about 150 instructions for "127.0.0.1:8080").
 * Only a value found valid is kept, so a value is accepted exactly when
 * valid_authority would accept it.
 */
#define HOST_MEMO 48
static _Thread_local struct {
	uint8_t len; /* 0: none */
	char b[HOST_MEMO];
} host_memo;

/* Whether the n bytes at a and b (1 to HOST_MEMO) are the same: words
 * compared, the last overlapping the one before, without a call. */
static inline int
memo_same(const char *a, const char *b, size_t n)
{
	uint64_t x, y, d = 0;
	uint32_t p, q;
	size_t i;

	if (n < 8) {
		if (n >= 4) {
			memcpy(&p, a, 4);
			memcpy(&q, b, 4);
			d = p ^ q;
			memcpy(&p, a + n - 4, 4);
			memcpy(&q, b + n - 4, 4);
			return (d | (p ^ q)) == 0;
		}
		return a[0] == b[0] && a[n / 2] == b[n / 2] &&
		       a[n - 1] == b[n - 1];
	}
	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		d |= x ^ y;
	}
	memcpy(&x, a + n - 8, 8);
	memcpy(&y, b + n - 8, 8);
	return (d | (x ^ y)) == 0;
}

/* valid_authority(v, n, 0), for a Host field, through host_memo. */
static int
valid_host(const char *v, size_t n)
{
	if (n != 0 && n == host_memo.len && memo_same(v, host_memo.b, n))
		return 1;
	if (!valid_authority(v, n, 0))
		return 0;
	if (n <= HOST_MEMO) {
		memcpy(host_memo.b, v, n);
		host_memo.len = (uint8_t)n;
	}
	return 1;
}

/* ---- field lines ----------------------------------------------------------
 */

/*
 * Parses one field line at buf[*pos .. len): name ":" OWS value OWS CRLF.
 * Returns 1 and fills h, 0 after consuming the empty line that ends the
 * head, or minus an enum sl_h1_reason when malformed (obs-fold, whitespace
 * before the colon, invalid bytes, bare CR or LF, no CRLF).
 */
static int
parse_field_line(const char *buf, size_t len, size_t *pos,
		 struct sl_h1_header *h)
{
	size_t i = *pos, start, vend;

	if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n') {
		*pos = i + 2;
		return 0;
	}
	start = i;
#ifdef SL_H1_SSE2
	i = skip_name(buf, i, len);
#endif
	i = skip_token(buf, len, i);
	if (i == start && i < len && IS(buf[i], C_WS))
		return -SL_H1_R_OBS_FOLD;
	if (i < len && i > start && IS(buf[i], C_WS))
		return -SL_H1_R_SPACE_BEFORE_COLON;
	if (i == start || i >= len || buf[i] != ':')
		return -SL_H1_R_BAD_FIELD_NAME;
	h->name = buf + start;
	h->name_len = i - start;
	h->kind = (unsigned char)sl_h1_classify(h->name, h->name_len);
	i = skip_ws(buf, len, i + 1);
	start = i;
#ifdef SL_H1_SSE2
	i = skip_field_value(buf, i, len);
#endif
	while (i < len && IS(buf[i], C_FVCHAR | C_WS))
		i++;
	if (i + 1 >= len || buf[i] != '\r' || buf[i + 1] != '\n')
		return i < len && buf[i] == '\n'   ? -SL_H1_R_BARE_LF
		       : i < len && buf[i] == '\r' ? -SL_H1_R_BARE_CR
		       : i < len && buf[i] == '\0' ? -SL_H1_R_NUL_BYTE
						   : -SL_H1_R_BAD_FIELD_VALUE;
	vend = i;
	while (vend > start && IS(buf[vend - 1], C_WS))
		vend--;
	h->value = buf + start;
	h->value_len = vend - start;
	*pos = i + 2;
	return 1;
}

/*
 * Records what a field means for framing. Returns 0, or minus an enum
 * sl_h1_reason for a field that makes the message malformed whatever else
 * it says.
 */
static SL_H1_INLINE int
note_field(struct fields *f, const struct sl_h1_header *h, int is_request)
{
	const char *v = h->value;
	size_t vn = h->value_len;
	uint64_t cl;
	int te;

	switch ((enum sl_h1_hk)h->kind) {
	case SL_HK_HOST:
		if (!is_request)
			break;
		if (++f->nhost > 1)
			return -SL_H1_R_DUP_HOST;
		if (!valid_host(v, vn))
			return -SL_H1_R_BAD_HOST;
		f->host = v;
		f->host_len = vn;
		break;
	case SL_HK_EXPECT:
		if (!is_request)
			break;
		if (sl_h1_ieq(v, vn, "100-continue"))
			f->flags |= SL_H1_F_EXPECT_CONTINUE;
		else
			f->expect_unknown = 1;
		break;
	case SL_HK_CONNECTION:
		if (parse_connection(v, vn, &f->flags) != 0)
			return -SL_H1_R_BAD_CONNECTION;
		break;
	case SL_HK_KEEP_ALIVE:
		if (!is_request && f->ka == NULL) {
			f->ka = v;
			f->ka_len = vn;
		}
		break;
	case SL_HK_CONTENT_LENGTH:
		if (parse_length(v, vn, &cl) != 0)
			return -SL_H1_R_BAD_CONTENT_LENGTH;
		if (f->ncl++ == 0)
			f->cl = cl;
		else if (is_request)
			return -SL_H1_R_DUP_CONTENT_LENGTH; /* even when equal
							     */
		else if (cl != f->cl)
			f->cl_differ = 1;
		break;
	case SL_HK_TRANSFER_ENCODING:
		if (++f->nte > 1 || (te = parse_te(v, vn)) < 0)
			return -SL_H1_R_BAD_TRANSFER_ENCODING;
		f->te = te;
		break;
	default:
		break;
	}
	return 0;
}

/*
 * Parses the field lines at buf[*pos .. len) into headers[0 .. cap).
 * Returns 0 when the final CRLF ends buf exactly, or minus an enum
 * sl_h1_reason: malformed, bytes after the final CRLF, more than cap
 * fields (SL_H1_R_TOO_MANY_HEADERS).
 */
static int
parse_fields(const char *buf, size_t len, size_t pos,
	     struct sl_h1_header *headers, size_t cap, size_t *nheaders,
	     struct fields *f, int is_request)
{
	struct sl_h1_header h;
	int r;

	*nheaders = 0;
	for (;;) {
		r = parse_field_line(buf, len, &pos, &h);
		if (r < 0)
			return r;
		if (r == 0)
			return pos == len ? 0 : -SL_H1_R_BAD_FIELD_NAME;
		if (*nheaders >= cap)
			return -SL_H1_R_TOO_MANY_HEADERS;
		headers[(*nheaders)++] = h;
		if ((r = note_field(f, &h, is_request)) != 0)
			return r;
	}
}

/* ---- requests ---------------------------------------------------------------
 */

static enum sl_h1_method
method_id(const char *m, size_t n)
{
	static const struct {
		const char *name;
		size_t len;
		enum sl_h1_method id;
	} methods[] = {
	    {"GET", 3, SL_M_GET},	  {"HEAD", 4, SL_M_HEAD},
	    {"POST", 4, SL_M_POST},	  {"PUT", 3, SL_M_PUT},
	    {"DELETE", 6, SL_M_DELETE},	  {"CONNECT", 7, SL_M_CONNECT},
	    {"OPTIONS", 7, SL_M_OPTIONS}, {"TRACE", 5, SL_M_TRACE},
	    {"PATCH", 5, SL_M_PATCH},
	};
	size_t i;

	/* Methods are case-sensitive (RFC 9110 section 9.1). */
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (methods[i].len == n && memcmp(methods[i].name, m, n) == 0)
			return methods[i].id;
	}
	return SL_M_OTHER;
}

/*
 * Classifies req->target and sets path, host (absolute-form) and flags.
 * Returns 0, -400 or -405 (with req->why).
 */
static SL_H1_INLINE int
parse_target(struct sl_h1_request *req)
{
	const char *t = req->target;
	size_t n = req->target_len, i, skip;

	req->why = SL_H1_R_BAD_TARGET;
	if (req->method_id == SL_M_CONNECT) {
		/* authority-form; sluice does not tunnel. */
		if (!valid_authority(t, n, 1))
			return -400;
		req->why = SL_H1_R_CONNECT_METHOD;
		return -405;
	}
	if (t[0] == '/') {
		req->path = t;
		req->path_len = n;
		req->why = SL_H1_R_NONE;
		return 0;
	}
	if (n == 1 && t[0] == '*') {
		if (req->method_id != SL_M_OPTIONS)
			return -400;
		req->path = t;
		req->path_len = 1;
		req->why = SL_H1_R_NONE;
		return 0;
	}
	if (n > 7 && sl_h1_ieq(t, 7, "http://"))
		skip = 7;
	else if (n > 8 && sl_h1_ieq(t, 8, "https://"))
		skip = 8;
	else
		return -400; /* authority-form or another scheme */
	for (i = skip; i < n && t[i] != '/' && t[i] != '?'; i++) {
		if (t[i] == '@')
			return -400; /* userinfo (RFC 9110 section 4.2.4) */
	}
	if (!valid_authority(t + skip, i - skip, 0))
		return -400;
	/*
	 * "http://h?q" has an empty path; its origin-form would be "/?q",
	 * which does not exist in the buffer: refused rather than rewritten.
	 */
	if (i < n && t[i] == '?')
		return -400;
	req->host = t + skip;
	req->host_len = i - skip;
	if (i == n) {
		req->path = "/";
		req->path_len = 1;
	} else {
		req->path = t + i;
		req->path_len = n - i;
	}
	req->flags |= SL_H1_F_ABSOLUTE_FORM;
	req->why = SL_H1_R_NONE;
	return 0;
}

#define FAIL(status, r_)                                                       \
	do {                                                                   \
		req->why = (r_);                                               \
		return (status);                                               \
	} while (0)

/*
 * What a request's fields, noted in f, say once they are all read: the
 * Host, the body's framing, the connection's flags, and the last errors
 * (RFC 9112 sections 3.2, 6.1 and 6.3). Returns 0 or a negative status
 * with req->why.
 */
static SL_H1_INLINE int
request_framing(struct sl_h1_request *req, const struct fields *f)
{
	if (req->host == NULL && f->nhost > 0) {
		req->host = f->host;
		req->host_len = f->host_len;
	}

	/* RFC 9112 section 6.1 and 6.3: smuggling-shaped framing. */
	if (f->nte > 0 && f->ncl > 0)
		FAIL(-400, SL_H1_R_CL_TE_CONFLICT);
	if (f->nte > 0 && req->minor == 0)
		FAIL(-400, SL_H1_R_TE_IN_HTTP10);
	/* RFC 9112 section 3.2: Host is required in 1.1, even with an
	 * absolute-form target. */
	if (req->minor == 1 && f->nhost == 0)
		FAIL(-400, SL_H1_R_MISSING_HOST);
	if (f->te == TE_OTHER)
		FAIL(-501, SL_H1_R_UNSUPPORTED_TRANSFER_ENCODING);
	/* framing is known before a 417, so the caller can tell whether a
	 * body follows and keep the connection when none does */
	if (f->te == TE_CHUNKED) {
		req->body = SL_H1_BODY_CHUNKED;
	} else if (f->ncl > 0 && f->cl > 0) {
		req->body = SL_H1_BODY_LENGTH;
		req->content_length = f->cl;
	}
	/* the connection flags too: a 417 keeps the connection only if the
	 * request does not ask to close it */
	req->flags |= f->flags;
	if (req->minor == 0)
		req->flags &=
		    ~(unsigned)SL_H1_F_EXPECT_CONTINUE; /* 9110 10.1.1 */
	if (f->expect_unknown)
		FAIL(-417, SL_H1_R_UNSUPPORTED_EXPECT);
	return 0;
}

/*
 * A field a codec decoded, held to parse_field_line's rules: a token for
 * a name, field-vchars, SP and HTAB in a value, whose leading and
 * trailing whitespace is taken off (h->value moves). Its kind is found
 * when the codec left it unset. Returns 0 or minus an enum sl_h1_reason.
 */
static int
check_field(struct sl_h1_header *h)
{
	const char *v = h->value;
	size_t i, n = h->value_len;

	i = 0;
#ifdef SL_H1_SSE2
	i = skip_name(h->name, i, h->name_len);
#endif
	if (h->name_len == 0 ||
	    skip_token(h->name, h->name_len, i) != h->name_len)
		return -SL_H1_R_BAD_FIELD_NAME;
	if (h->kind == SL_HK_UNSET)
		h->kind = (unsigned char)sl_h1_classify(h->name, h->name_len);
	i = 0;
#ifdef SL_H1_SSE2
	i = skip_field_value(v, i, n);
#endif
	while (i < n && IS(v[i], C_FVCHAR | C_WS))
		i++;
	if (i < n)
		return v[i] == '\n'   ? -SL_H1_R_BARE_LF
		       : v[i] == '\r' ? -SL_H1_R_BARE_CR
		       : v[i] == '\0' ? -SL_H1_R_NUL_BYTE
				      : -SL_H1_R_BAD_FIELD_VALUE;
	while (n > 0 && IS(v[n - 1], C_WS))
		n--;
	i = skip_ws(v, n, 0);
	h->value = v + i;
	h->value_len = n - i;
	return 0;
}

int
sl_h1_parse_request(const char *buf, size_t len, struct sl_h1_request *req,
		    const struct sl_h1_limits *lim)
{
	struct sl_h1_header *headers = req->headers;
	size_t cap = req->max_headers, i = 0, start;
	struct fields f;
	int r, bad;

	memset(req, 0, sizeof(*req));
	req->headers = headers;
	req->max_headers = cap;
	if (cap > limit(lim, LIM_HEADERS))
		cap = limit(lim, LIM_HEADERS);
	memset(&f, 0, sizeof(f));

	/* Empty lines before the request-line are ignored (see scanner). */
	while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
		i += 2;

	/* method SP request-target SP HTTP-version CRLF */
	start = i;
	i = skip_token(buf, len, i);
	if (i == start || i >= len || buf[i] != ' ')
		FAIL(-400, SL_H1_R_BAD_REQUEST_LINE);
	req->method = buf + start;
	req->method_len = i - start;
	req->method_id = method_id(req->method, req->method_len);
	start = ++i;
	/* the target's bytes checked as they are passed (one table look-up
	 * a byte); past a byte it may not hold, on to the line's SP, CR or
	 * LF, so that a target both too long and bad is a 414 as before */
	while (i < len && IS(buf[i], C_TARGET))
		i++;
	bad = i < len && buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n';
	while (i < len && buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n')
		i++;
	if (i - start > limit(lim, LIM_URI))
		FAIL(-414, SL_H1_R_URI_TOO_LONG);
	if (len > limit(lim, LIM_BYTES))
		FAIL(-431, SL_H1_R_HEAD_TOO_LARGE);
	if (i == start || i >= len || buf[i] != ' ')
		FAIL(-400, SL_H1_R_BAD_REQUEST_LINE);
	if (bad)
		FAIL(-400, SL_H1_R_BAD_TARGET);
	req->target = buf + start;
	req->target_len = i - start;
	i++;
	if (len - i < 10 || memcmp(buf + i, "HTTP/", 5) != 0 ||
	    !IS(buf[i + 5], C_DIGIT) || buf[i + 6] != '.' ||
	    !IS(buf[i + 7], C_DIGIT) || buf[i + 8] != '\r' ||
	    buf[i + 9] != '\n')
		FAIL(-400, SL_H1_R_BAD_VERSION);
	if (buf[i + 5] != '1')
		FAIL(-505, SL_H1_R_VERSION);
	req->minor = buf[i + 7] == '0' ? 0 : 1;
	i += 10;

	if ((r = parse_target(req)) != 0)
		return r;

	r = parse_fields(buf, len, i, headers, cap, &req->nheaders, &f, 1);
	if (r != 0) {
		/* the Host field, if it came before the fault, for logs */
		if (f.nhost == 1 && req->host == NULL) {
			req->host = f.host;
			req->host_len = f.host_len;
		}
		FAIL(r == -SL_H1_R_TOO_MANY_HEADERS ? -431 : -400,
		     (enum sl_h1_reason) - r);
	}
	return request_framing(req, &f);
}

/*
 * The field checks of sl_h1_parse_request on a head that a codec built
 * as fields, one by one and in the same order, so that a request is held
 * to the same rules whatever protocol brought it.
 */
int
sl_h1_request_check(struct sl_h1_request *req, size_t text_len,
		    const struct sl_h1_limits *lim, unsigned checked)
{
	size_t cap = req->max_headers < limit(lim, LIM_HEADERS)
			 ? req->max_headers
			 : limit(lim, LIM_HEADERS);
	struct fields f;
	size_t k;
	int r;

	memset(&f, 0, sizeof(f));
	req->method_id = method_id(req->method, req->method_len);
	req->minor = 1;
	req->host = NULL;
	req->host_len = 0;
	req->flags = 0;
	req->body = SL_H1_BODY_NONE;
	req->content_length = 0;
	req->why = SL_H1_R_NONE;
	if (req->target_len > limit(lim, LIM_URI))
		FAIL(-414, SL_H1_R_URI_TOO_LONG);
	if (text_len > limit(lim, LIM_BYTES))
		FAIL(-431, SL_H1_R_HEAD_TOO_LARGE);
	if (req->method_len == 0 || req->target_len == 0)
		FAIL(-400, SL_H1_R_BAD_REQUEST_LINE);
	for (k = 0; !(checked & SL_H1_CHECKED_FIELDS) && k < req->method_len;
	     k++) {
		if (!IS(req->method[k], C_TCHAR))
			FAIL(-400, SL_H1_R_BAD_REQUEST_LINE);
	}
	for (k = 0; k < req->target_len; k++) {
		if (!IS(req->target[k], C_TARGET))
			FAIL(-400, SL_H1_R_BAD_TARGET);
	}
	if ((r = parse_target(req)) != 0)
		return r;
	for (k = 0; k < req->nheaders; k++) {
		struct sl_h1_header *h = &req->headers[k];
		if (k >= cap)
			FAIL(-431, SL_H1_R_TOO_MANY_HEADERS);
		if (checked & SL_H1_CHECKED_FIELDS) {
			if (h->kind == SL_HK_UNSET)
				h->kind = (unsigned char)sl_h1_classify(
				    h->name, h->name_len);
			r = 0;
		} else
			r = check_field(h);
		if (r != 0 || (r = note_field(&f, h, 1)) != 0) {
			if (f.nhost == 1 && req->host == NULL) {
				req->host = f.host;
				req->host_len = f.host_len;
			}
			FAIL(-400, (enum sl_h1_reason) - r);
		}
	}
	return request_framing(req, &f);
}
#undef FAIL

/* ---- responses --------------------------------------------------------- */

/* A decimal parameter value, optionally quoted; -1 when not one. */
static int64_t
ka_number(const char *v, size_t n)
{
	int64_t x = 0;

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n == 0 || n > 9)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!IS(v[i], C_DIGIT))
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

void
sl_h1_keep_alive(const char *v, size_t n, uint32_t *timeout, uint32_t *max)
{
	size_t i = 0;

	*timeout = *max = 0;
	while (i < n) {
		size_t ns, ne, vs, ve;
		int64_t x;

		while (i < n && (IS(v[i], C_WS) || v[i] == ','))
			i++;
		ns = i;
		while (i < n && IS(v[i], C_TCHAR))
			i++;
		ne = i;
		while (i < n && IS(v[i], C_WS))
			i++;
		vs = ve = i;
		if (i < n && v[i] == '=') {
			i++;
			while (i < n && IS(v[i], C_WS))
				i++;
			vs = i;
			if (i < n && v[i] == '"') {
				i++;
				while (i < n && v[i] != '"')
					i++;
				if (i < n)
					i++;
			} else {
				while (i < n && v[i] != ',' && !IS(v[i], C_WS))
					i++;
			}
			ve = i;
		}
		/* skip what is left of a malformed parameter */
		while (i < n && v[i] != ',')
			i++;
		if (ne == ns)
			continue;
		x = ka_number(v + vs, ve - vs);
		if (x < 0)
			continue;
		if (sl_h1_ieq(v + ns, ne - ns, "timeout") && *timeout == 0)
			*timeout = x == 0 ? 1 : (uint32_t)x; /* 0: no idling */
		else if (sl_h1_ieq(v + ns, ne - ns, "max") && *max == 0)
			*max = x == 0 ? 1 : (uint32_t)x;
	}
}

int
sl_h1_parse_response(const char *buf, size_t len, struct sl_h1_response *resp,
		     enum sl_h1_method method)
{
	struct sl_h1_header *headers = resp->headers;
	size_t cap = resp->max_headers, i;
	struct fields f;
	int status, no_body, r;

	memset(resp, 0, sizeof(*resp));
	resp->headers = headers;
	resp->max_headers = cap;
	memset(&f, 0, sizeof(f));

#define FAIL(r_)                                                               \
	do {                                                                   \
		resp->why = (r_);                                              \
		return -502;                                                   \
	} while (0)
	/* HTTP-version SP 3DIGIT [ SP reason-phrase ] CRLF */
	if (len < 14 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    !IS(buf[7], C_DIGIT) || buf[8] != ' ' || !IS(buf[9], C_DIGIT) ||
	    !IS(buf[10], C_DIGIT) || !IS(buf[11], C_DIGIT))
		FAIL(SL_H1_R_BAD_STATUS_LINE);
	resp->minor = buf[7] == '0' ? 0 : 1;
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	/* RFC 9110 section 15: 600-999 are not HTTP statuses (some libraries
	 * use them for their own errors), and a client is told to treat them
	 * as a server error: that error is the upstream's, so it is a 502 */
	if (status < 100 || status > 599)
		FAIL(SL_H1_R_BAD_STATUS);
	resp->status = status;
	i = 12;
	if (buf[i] == ' ') {
		/* reason-phrase = *( HTAB / SP / VCHAR / obs-text ) */
		i++;
		resp->reason = buf + i;
		while (i < len && IS(buf[i], C_FVCHAR | C_WS))
			i++;
		resp->reason_len = (size_t)(buf + i - resp->reason);
	} else {
		resp->reason = buf + i; /* no SP: tolerated, empty reason */
	}
	if (i + 1 >= len || buf[i] != '\r' || buf[i + 1] != '\n')
		FAIL(SL_H1_R_BAD_STATUS_LINE);
	i += 2;

	if ((r = parse_fields(buf, len, i, headers, cap, &resp->nheaders, &f,
			      0)) != 0)
		FAIL((enum sl_h1_reason) - r);
	if (f.cl_differ)
		FAIL(SL_H1_R_CONTENT_LENGTH_DIFFER);
	if (f.nte > 0 && f.ncl > 0)
		FAIL(SL_H1_R_CL_TE_CONFLICT);
	if (f.nte > 0 && resp->minor == 0)
		FAIL(SL_H1_R_TE_IN_HTTP10);
	if (f.te == TE_OTHER)
		FAIL(SL_H1_R_UNSUPPORTED_TRANSFER_ENCODING);
	resp->flags = f.flags;
	if (f.ka != NULL)
		sl_h1_keep_alive(f.ka, f.ka_len, &resp->ka_timeout,
				 &resp->ka_max);

	/* RFC 9110 sections 8.6 and 6.1: 1xx and 204 carry no framing. */
	if ((status < 200 || status == 204) &&
	    (f.nte > 0 || (f.ncl > 0 && f.cl != 0)))
		FAIL(SL_H1_R_FRAMING_WITHOUT_BODY);
#undef FAIL
	no_body = status < 200 || status == 204 || status == 304 ||
		  method == SL_M_HEAD;
	if (f.ncl > 0)
		resp->content_length = f.cl;
	if (no_body)
		resp->body = SL_H1_BODY_NONE;
	else if (f.te == TE_CHUNKED)
		resp->body = SL_H1_BODY_CHUNKED;
	else if (f.ncl > 0)
		resp->body = f.cl > 0 ? SL_H1_BODY_LENGTH : SL_H1_BODY_NONE;
	else
		resp->body = SL_H1_BODY_CLOSE;
	return 0;
}
