/* SPDX-License-Identifier: MIT */
/*
 * Differential libFuzzer driver: src/http/h1_parse.c as the gateway runs it
 * (with its SSE2 paths, from libsluice.a or fuzz.mk's build) against the
 * same file built byte by byte (SL_H1_SCALAR, h1_parse_scalar.c), which
 * must give the same answer for every input. The input goes whole to the
 * head scanner (at once and in pieces, as a request and as a response,
 * under fixed limits and limits the first byte picks), to the request and
 * response parsers, to the chunked decoder and framer, and in slices to
 * sl_h1_keep_alive, sl_h1_salvage, sl_h1_classify, sl_h1_ieq_n and
 * sl_h1_trailer_forbidden. Each build reads its own copy, placed at its
 * own alignment and ending where its allocation ends, so that ASan sees
 * any read past the bytes a function was given; the slices the parsers
 * return are compared as offsets into each build's copy.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "h1_parse.h"
#include "h1_parse_scalar.h"
#include "hblock.h"

#define NHDR	   40
#define MAX_INPUT  65536
#define MAX_PIECES 24 /* cuts of one input, then the rest at once */
#define MAX_LINES  16 /* lines whose slices are tried */
#define MAX_NAME   64 /* bytes of a line tried as a field name */

/* The functions of one build, so that each call is written once. */
struct build {
	void (*scan_init)(struct sl_h1_scan *s);
	long (*scan_head)(struct sl_h1_scan *s, const char *buf, size_t len,
			  const struct sl_h1_limits *lim, int is_request);
	int (*parse_request)(const char *buf, size_t len,
			     struct sl_h1_request *req,
			     const struct sl_h1_limits *lim);
	int (*parse_response)(const char *buf, size_t len,
			      struct sl_h1_response *resp,
			      enum sl_h1_method method_id);
	void (*chunked_init)(struct sl_h1_chunked *c, size_t max_trailer_bytes);
	int (*chunked_decode)(struct sl_h1_chunked *c, char *buf, size_t len,
			      int compact, size_t *consumed, size_t *data_len);
	int (*chunked_unframe)(struct sl_h1_chunked *c, char *buf, size_t len,
			       size_t *consumed, size_t *data_len,
			       size_t *trailer_at);
	long (*trailers_block)(const char *text, size_t len, char *out,
			       size_t cap);
	void (*keep_alive)(const char *v, size_t n, uint32_t *timeout,
			   uint32_t *max);
	void (*salvage)(const char *buf, size_t len, struct sl_h1_salvage *out);
	enum sl_h1_hk (*classify)(const char *name, size_t len);
	int (*ieq_n)(const char *s, const char *lower, size_t n);
	int (*trailer_forbidden)(const char *name, size_t len, const char *own);
	const char *(*reason_str)(enum sl_h1_reason r);
};

static const struct build simd = {
    .scan_init = sl_h1_scan_init,
    .scan_head = sl_h1_scan_head,
    .parse_request = sl_h1_parse_request,
    .parse_response = sl_h1_parse_response,
    .chunked_init = sl_h1_chunked_init,
    .chunked_decode = sl_h1_chunked_decode,
    .chunked_unframe = sl_h1_chunked_unframe,
    .trailers_block = sl_h1_trailers_block,
    .keep_alive = sl_h1_keep_alive,
    .salvage = sl_h1_salvage,
    .classify = sl_h1_classify,
    .ieq_n = sl_h1_ieq_n,
    .trailer_forbidden = sl_h1_trailer_forbidden,
    .reason_str = sl_h1_reason_str,
};

static const struct build scalar = {
    .scan_init = scalar_sl_h1_scan_init,
    .scan_head = scalar_sl_h1_scan_head,
    .parse_request = scalar_sl_h1_parse_request,
    .parse_response = scalar_sl_h1_parse_response,
    .chunked_init = scalar_sl_h1_chunked_init,
    .chunked_decode = scalar_sl_h1_chunked_decode,
    .chunked_unframe = scalar_sl_h1_chunked_unframe,
    .trailers_block = scalar_sl_h1_trailers_block,
    .keep_alive = scalar_sl_h1_keep_alive,
    .salvage = scalar_sl_h1_salvage,
    .classify = scalar_sl_h1_classify,
    .ieq_n = scalar_sl_h1_ieq_n,
    .trailer_forbidden = scalar_sl_h1_trailer_forbidden,
    .reason_str = scalar_sl_h1_reason_str,
};

/* Index 0 is always the SSE2 build, 1 the scalar one. */
static const struct build *const B[2] = {&simd, &scalar};

/* A field name sluice would set on a message, forbidden in its trailers. */
static const char own_name[] = "x-own";

/* ---- buffers ------------------------------------------------------------ */

/* Each build's copy of the bytes in hand, and the allocations to free. */
struct pair {
	char *buf[2];
	char *mem[2];
};

/*
 * Copies src[0 .. n) for each build to offset align[i] of an allocation
 * that ends with the copy's last byte: reading one byte past it is an
 * ASan report. Free with unplace().
 */
static void
place(struct pair *p, const void *src, size_t n, const size_t align[2])
{
	for (int i = 0; i < 2; i++) {
		p->mem[i] = malloc(align[i] + n + (align[i] + n == 0));
		CHECK(p->mem[i] != NULL);
		p->buf[i] = p->mem[i] + align[i];
		if (n > 0)
			memcpy(p->buf[i], src, n);
	}
}

static void
unplace(struct pair *p)
{
	free(p->mem[0]);
	free(p->mem[1]);
}

/*
 * Where p lies in buf[0 .. len]: its offset, -1 for NULL, or -2 outside
 * the buffer (a string literal, such as the "/" path of an absolute-form
 * target without one).
 */
static long
where(const char *buf, size_t len, const char *p)
{
	uintptr_t b = (uintptr_t)buf, q = (uintptr_t)p;

	if (p == NULL)
		return -1;
	if (q >= b && q - b <= len)
		return (long)(q - b);
	return -2;
}

/* The same slice of n bytes in each build's copy: the same offset, both
 * NULL, or both outside the copies with the same bytes. */
static void
same_slice(const struct pair *p, size_t len, const char *a, const char *b,
	   size_t n)
{
	long x = where(p->buf[0], len, a), y = where(p->buf[1], len, b);

	CHECK(x == y);
	if (x == -2)
		CHECK(memcmp(a, b, n) == 0);
}

/*
 * The length of the k-th piece when an input of size bytes is fed in
 * pieces: 1 to span bytes, read from the input's bytes from its end
 * backwards (the start of an input is its first line; the end varies
 * more), so that cuts fall inside and across 16-byte blocks.
 */
static size_t
piece(const uint8_t *data, size_t size, size_t k, size_t span)
{
	if (size == 0)
		return 1;
	return 1 + ((size_t)data[size - 1 - k % size] + k * 7) % span;
}

/* ---- the head scanner --------------------------------------------------- */

static void
same_scan(const struct sl_h1_scan *a, const struct sl_h1_scan *b)
{
	CHECK(a->off == b->off && a->line_start == b->line_start &&
	      a->nlines == b->nlines && a->why == b->why && a->sp1 == b->sp1 &&
	      a->sp2 == b->sp2);
}

/*
 * Scans data[0 .. size) at once (in p's copies) and in pieces, each piece
 * a new exact-size copy of the bytes so far (the scanner only needs the
 * same bytes at the same offsets, not the same buffer): both builds must
 * return the same and leave the same state after every call, and the
 * pieces must end as the whole did. Returns the result at once.
 */
static long
scan(const struct pair *p, const uint8_t *data, size_t size,
     const size_t align[2], const struct sl_h1_limits *lim, int is_request)
{
	struct sl_h1_scan s[2];
	long r[2], whole;
	size_t n = 0, k, span = size / 12 + 17;

	for (int i = 0; i < 2; i++) {
		B[i]->scan_init(&s[i]);
		r[i] = B[i]->scan_head(&s[i], p->buf[i], size, lim, is_request);
	}
	CHECK(r[0] == r[1]);
	same_scan(&s[0], &s[1]);
	whole = r[0];

	B[0]->scan_init(&s[0]);
	B[1]->scan_init(&s[1]);
	same_scan(&s[0], &s[1]);
	r[0] = 0;
	for (k = 0; n < size && r[0] == 0; k++) {
		struct pair cut;

		n += piece(data, size, k, span);
		if (n > size || k + 1 >= MAX_PIECES)
			n = size;
		place(&cut, data, n, align);
		for (int i = 0; i < 2; i++)
			r[i] = B[i]->scan_head(&s[i], cut.buf[i], n, lim,
					       is_request);
		unplace(&cut);
		CHECK(r[0] == r[1]);
		same_scan(&s[0], &s[1]);
		CHECK(s[0].off <= n);
	}
	CHECK(r[0] == whole);
	return whole;
}

/* ---- heads -------------------------------------------------------------- */

static void
same_headers(const struct pair *p, size_t len, const struct sl_h1_header *ha,
	     const struct sl_h1_header *hb, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		const struct sl_h1_header *a = &ha[j], *b = &hb[j];

		CHECK(a->name_len == b->name_len &&
		      a->value_len == b->value_len);
		CHECK(a->kind == b->kind);
		same_slice(p, len, a->name, b->name, a->name_len);
		same_slice(p, len, a->value, b->value, a->value_len);
	}
}

/* sl_h1_parse_request on p's copies of len bytes; cap fields at most. */
static void
request(const struct pair *p, size_t len, const struct sl_h1_limits *lim,
	size_t cap)
{
	struct sl_h1_header h[2][NHDR];
	struct sl_h1_request req[2];
	const struct sl_h1_request *a = &req[0], *b = &req[1];
	int r[2];

	for (int i = 0; i < 2; i++) {
		req[i].headers = h[i];
		req[i].max_headers = cap;
		r[i] = B[i]->parse_request(p->buf[i], len, &req[i], lim);
		CHECK(req[i].headers == h[i] && req[i].max_headers == cap);
	}
	/* every field, on success and failure alike: what a failure leaves
	 * set is documented too (the logs read it) */
	CHECK(r[0] == r[1] && a->why == b->why);
	CHECK(a->method_len == b->method_len && a->method_id == b->method_id);
	same_slice(p, len, a->method, b->method, a->method_len);
	CHECK(a->target_len == b->target_len);
	same_slice(p, len, a->target, b->target, a->target_len);
	CHECK(a->path_len == b->path_len);
	same_slice(p, len, a->path, b->path, a->path_len);
	CHECK(a->host_len == b->host_len);
	same_slice(p, len, a->host, b->host, a->host_len);
	CHECK(a->minor == b->minor && a->flags == b->flags &&
	      a->body == b->body && a->content_length == b->content_length);
	CHECK(a->nheaders == b->nheaders && a->nheaders <= cap);
	same_headers(p, len, h[0], h[1], a->nheaders);
}

/* sl_h1_parse_response on p's copies of len bytes, for method m. */
static void
response(const struct pair *p, size_t len, enum sl_h1_method m, size_t cap)
{
	struct sl_h1_header h[2][NHDR];
	struct sl_h1_response resp[2];
	const struct sl_h1_response *a = &resp[0], *b = &resp[1];
	int r[2];

	for (int i = 0; i < 2; i++) {
		resp[i].headers = h[i];
		resp[i].max_headers = cap;
		r[i] = B[i]->parse_response(p->buf[i], len, &resp[i], m);
		CHECK(resp[i].headers == h[i] && resp[i].max_headers == cap);
	}
	CHECK(r[0] == r[1] && a->why == b->why);
	CHECK(a->status == b->status && a->ka_timeout == b->ka_timeout &&
	      a->ka_max == b->ka_max);
	CHECK(a->reason_len == b->reason_len);
	same_slice(p, len, a->reason, b->reason, a->reason_len);
	CHECK(a->minor == b->minor && a->flags == b->flags &&
	      a->body == b->body && a->content_length == b->content_length);
	CHECK(a->nheaders == b->nheaders && a->nheaders <= cap);
	same_headers(p, len, h[0], h[1], a->nheaders);
}

/* ---- the chunked coding ------------------------------------------------- */

static void
same_chunked(const struct sl_h1_chunked *a, const struct sl_h1_chunked *b)
{
	size_t n =
	    a->name_len < sizeof(a->name) ? a->name_len : sizeof(a->name);

	CHECK(a->state == b->state && a->remaining == b->remaining &&
	      a->line_len == b->line_len &&
	      a->trailer_bytes == b->trailer_bytes &&
	      a->ntrailers == b->ntrailers &&
	      a->max_trailer_bytes == b->max_trailer_bytes &&
	      a->max_trailers == b->max_trailers && a->ndigits == b->ndigits &&
	      a->done == b->done && a->why == b->why && a->own == b->own &&
	      a->name_len == b->name_len);
	CHECK(memcmp(a->name, b->name, n) == 0);
}

/* A decoder for each build, its limits picked by the input's first byte. */
static void
chunked_start(struct sl_h1_chunked c[2], unsigned b0)
{
	for (int i = 0; i < 2; i++) {
		B[i]->chunked_init(&c[i], 16 * (1 + (b0 & 7)));
		if (b0 & 8)
			c[i].max_trailers = b0 >> 5;
		if (b0 & 0x10)
			c[i].own = own_name;
	}
	same_chunked(&c[0], &c[1]);
}

/*
 * The decoder on in[0 .. len): at once in place, in pieces compacting
 * (the payload moved to the front of each piece must be the same bytes),
 * and taking the framing off as the exchange does for a codec of fields.
 */
static void
chunked(const uint8_t *in, size_t len, unsigned b0, const size_t align[2])
{
	struct sl_h1_chunked c[2];
	struct pair p;
	size_t consumed[2], dl[2], off, k;
	int r[2];

	place(&p, in, len, align);
	chunked_start(c, b0);
	for (int i = 0; i < 2; i++) {
		r[i] = B[i]->chunked_decode(&c[i], p.buf[i], len, 0,
					    &consumed[i], &dl[i]);
		CHECK(len == 0 || memcmp(p.buf[i], in, len) == 0);
	}
	CHECK(r[0] == r[1] && consumed[0] == consumed[1] && dl[0] == dl[1]);
	same_chunked(&c[0], &c[1]);

	chunked_start(c, b0);
	r[0] = 0;
	for (off = 0, k = 0; off < len && r[0] == 0; k++) {
		size_t n = piece(in, len, k, 23);

		if (n > len - off)
			n = len - off;
		for (int i = 0; i < 2; i++)
			r[i] = B[i]->chunked_decode(&c[i], p.buf[i] + off, n, 1,
						    &consumed[i], &dl[i]);
		CHECK(r[0] == r[1] && consumed[0] == consumed[1] &&
		      dl[0] == dl[1] && consumed[0] <= n);
		same_chunked(&c[0], &c[1]);
		CHECK(dl[0] == 0 ||
		      memcmp(p.buf[0] + off, p.buf[1] + off, dl[0]) == 0);
		off += consumed[0];
	}
	unplace(&p);

	/* taking the framing off for a codec of fields: the same pieces,
	 * the same trailer text, and a block made of it that the block's
	 * checks accept (the decoder accepted the text) */
	place(&p, in, len, align);
	chunked_start(c, b0);
	{
		static char text[2][4096],
		    blk[2][sizeof(struct sl_hblk) + 8192];
		size_t nt = 0, tr[2];
		long bl[2];

		r[0] = 0;
		for (off = 0, k = 0; off < len && r[0] == 0; k++) {
			size_t n = piece(in, len, k, 29);

			if (n > len - off)
				n = len - off;
			for (int i = 0; i < 2; i++)
				r[i] = B[i]->chunked_unframe(
				    &c[i], p.buf[i] + off, n, &consumed[i],
				    &dl[i], &tr[i]);
			CHECK(r[0] == r[1] && consumed[0] == consumed[1] &&
			      dl[0] == dl[1] && tr[0] == tr[1] &&
			      dl[0] <= tr[0] && tr[0] <= consumed[0] &&
			      consumed[0] <= n);
			same_chunked(&c[0], &c[1]);
			if (r[0] < 0)
				break;
			/* the section's bytes as they came */
			CHECK(memcmp(p.buf[0] + off + tr[0], in + off + tr[0],
				     consumed[0] - tr[0]) == 0);
			if (consumed[0] - tr[0] <= sizeof(text[0]) - nt) {
				for (int i = 0; i < 2; i++)
					memcpy(text[i] + nt,
					       p.buf[i] + off + tr[0],
					       consumed[0] - tr[0]);
				nt += consumed[0] - tr[0];
			} else
				nt = sizeof(text[0]) + 1; /* past the test's */
			off += consumed[0];
		}
		if (r[0] == 1 && nt <= sizeof(text[0])) {
			for (int i = 0; i < 2; i++)
				bl[i] = B[i]->trailers_block(
				    text[i], nt, blk[i], sizeof(blk[i]));
			CHECK(bl[0] == bl[1] && bl[0] > 0 &&
			      (size_t)bl[0] <=
				  sizeof(struct sl_hblk) + 2 * nt &&
			      memcmp(blk[0], blk[1], (size_t)bl[0]) == 0);
			CHECK(sl_h1_trailers_check(blk[0], SIZE_MAX, SIZE_MAX,
						   c[0].own) == SL_H1_R_NONE);
		}
	}
	unplace(&p);
}

/* ---- slices ------------------------------------------------------------- */

/* sl_h1_keep_alive on an exact copy of v[0 .. n). */
static void
keep_alive(const char *v, size_t n, const size_t align[2])
{
	struct pair p;
	uint32_t t[2], m[2];

	place(&p, v, n, align);
	for (int i = 0; i < 2; i++)
		B[i]->keep_alive(p.buf[i], n, &t[i], &m[i]);
	unplace(&p);
	CHECK(t[0] == t[1] && m[0] == m[1]);
}

/* sl_h1_salvage on an exact copy of in[0 .. len). */
static void
salvage(const uint8_t *in, size_t len, const size_t align[2])
{
	struct sl_h1_salvage s[2];
	struct pair p;

	place(&p, in, len, align);
	for (int i = 0; i < 2; i++)
		B[i]->salvage(p.buf[i], len, &s[i]);
	CHECK(s[0].minor == s[1].minor);
	CHECK(s[0].method_len == s[1].method_len);
	same_slice(&p, len, s[0].method, s[1].method, s[0].method_len);
	CHECK(s[0].target_len == s[1].target_len);
	same_slice(&p, len, s[0].target, s[1].target, s[0].target_len);
	CHECK(s[0].host_len == s[1].host_len);
	same_slice(&p, len, s[0].host, s[1].host, s[0].host_len);
	CHECK(s[0].referer_len == s[1].referer_len);
	same_slice(&p, len, s[0].referer, s[1].referer, s[0].referer_len);
	CHECK(s[0].user_agent_len == s[1].user_agent_len);
	same_slice(&p, len, s[0].user_agent, s[1].user_agent,
		   s[0].user_agent_len);
	unplace(&p);
}

/* The lower-case names the parser compares slices with. */
static const char *const known[] = {
    "te",
    "host",
    "expect",
    "trailer",
    "upgrade",
    "forwarded",
    "connection",
    "keep-alive",
    "x-request-id",
    "content-length",
    "x-forwarded-for",
    "proxy-connection",
    "transfer-encoding",
    "x-forwarded-proto",
    "chunked",
    "close",
    "100-continue",
    "timeout",
    "max",
    "http://",
    "https://",
    "referer",
    "user-agent",
};

/* What sl_h1_ieq_n promises, byte by byte (lower: lower-case ASCII). */
static int
ieq_ref(const char *s, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + ('a' - 'A'));
		if (c != (unsigned char)lower[i])
			return 0;
	}
	return 1;
}

/*
 * A name-like slice s[0 .. n) (n <= MAX_NAME): its kind, whether it is a
 * forbidden trailer, and case compares with its lower-case form (once
 * with a byte changed, at a place and to a value flip picks) and with
 * every known name of its length, each on exact copies.
 */
static void
name(const char *s, size_t n, unsigned flip, const size_t align[2])
{
	char low[MAX_NAME];
	struct pair p, l;
	int e[2];

	place(&p, s, n, align);
	CHECK(B[0]->classify(p.buf[0], n) == B[1]->classify(p.buf[1], n));
	CHECK(B[0]->trailer_forbidden(p.buf[0], n, NULL) ==
	      B[1]->trailer_forbidden(p.buf[1], n, NULL));
	CHECK(B[0]->trailer_forbidden(p.buf[0], n, own_name) ==
	      B[1]->trailer_forbidden(p.buf[1], n, own_name));

	for (size_t j = 0; j < n; j++) {
		unsigned char c = (unsigned char)s[j] & 0x7f;

		low[j] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	for (int round = 0; round < 2; round++) {
		if (round == 1 && n > 0) {
			char c = (char)((flip >> 3) & 0x7f);

			low[flip % n] = c >= 'A' && c <= 'Z' ? 'q' : c;
		}
		place(&l, low, n, align);
		for (int i = 0; i < 2; i++)
			e[i] = B[i]->ieq_n(p.buf[i], l.buf[i], n);
		CHECK(e[0] == e[1] && e[0] == ieq_ref(s, low, n));
		unplace(&l);
	}
	for (size_t j = 0; j < sizeof(known) / sizeof(known[0]); j++) {
		if (strlen(known[j]) != n)
			continue;
		for (int i = 0; i < 2; i++)
			e[i] = B[i]->ieq_n(p.buf[i], known[j], n);
		CHECK(e[0] == e[1] && e[0] == ieq_ref(s, known[j], n));
	}
	unplace(&p);
}

/*
 * The slices of in[0 .. len) that field lines make: for each of the first
 * lines, its name (up to the colon, or the line, at most MAX_NAME bytes)
 * and its value (after the colon, to the end of the line) as a
 * Keep-Alive field.
 */
static void
lines(const uint8_t *in, size_t len, const size_t align[2])
{
	const char *s = (const char *)in, *end = s + len;

	for (int k = 0; k < MAX_LINES && s < end; k++) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));
		const char *colon;
		size_t n;

		if (eol == NULL)
			eol = end;
		colon = memchr(s, ':', (size_t)(eol - s));
		n = (size_t)((colon != NULL ? colon : eol) - s);
		name(s, n < MAX_NAME ? n : MAX_NAME, (unsigned)(n * 131 + k),
		     align);
		if (colon != NULL)
			keep_alive(colon + 1, (size_t)(eol - colon - 1), align);
		s = eol < end ? eol + 1 : end;
	}
}

/* ---- the driver --------------------------------------------------------- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_h1_limits wide = {256, 8192, 32};
	static const struct sl_h1_limits tight = {16, 128, 3};
	struct sl_h1_limits mine1, mine2;
	const struct sl_h1_limits *lims[5];
	unsigned b0 = size > 0 ? data[0] : 0;
	size_t align[2], n, k;
	struct pair whole;
	long head = 0, r;

	if (size > MAX_INPUT)
		return 0;
	/* both copies end where their allocations end; where they start
	 * differs by build and by input */
	align[0] = b0 & 15;
	align[1] = ((b0 >> 4) + size) & 15;
	place(&whole, data, size, align);

	/* no limits, the other drivers' two, and two the first byte picks,
	 * small enough to meet 414 and 431 inside and across 16-byte blocks
	 * (0 is no limit) */
	mine1.max_uri_bytes = b0 % 41;
	mine1.max_header_bytes = 8 + (b0 * 7) % 251;
	mine1.max_headers = b0 % 7;
	mine2.max_uri_bytes = 1 + (b0 >> 2);
	mine2.max_header_bytes = 24 + b0 * 3;
	mine2.max_headers = 1 + (b0 >> 5);
	lims[0] = NULL;
	lims[1] = &wide;
	lims[2] = &tight;
	lims[3] = &mine1;
	lims[4] = &mine2;

	for (int l = 0; l < 5; l++) {
		r = scan(&whole, data, size, align, lims[l], 1);
		if (l == 0)
			head = r;
		request(&whole, size, lims[l], NHDR);
		request(&whole, size, lims[l], 2);
		if (r > 0 && (size_t)r < size) {
			struct pair h;

			/* the measured head alone, as the gateway parses it */
			place(&h, data, (size_t)r, align);
			request(&h, (size_t)r, lims[l], NHDR);
			unplace(&h);
		}
	}

	for (int l = 0; l < 5; l++) {
		r = scan(&whole, data, size, align, lims[l], 0);
		if (l == 1 && r > 0) {
			struct pair h;

			place(&h, data, (size_t)r, align);
			response(&h, (size_t)r, SL_M_GET, NHDR);
			response(&h, (size_t)r, SL_M_HEAD, NHDR);
			unplace(&h);
		}
	}
	response(&whole, size, SL_M_GET, NHDR);
	response(&whole, size, SL_M_HEAD, NHDR);
	response(&whole, size, SL_M_POST, 1);

	chunked(data, size, b0, align);
	if (head > 0 && (size_t)head < size)
		chunked(data + head, size - (size_t)head, b0, align);

	keep_alive((const char *)data, size, align);
	salvage(data, size, align);
	for (n = 0, k = 0; k < 8 && n < size; k++) {
		n += piece(data, size, k, size / 8 + 9);
		salvage(data, n < size ? n : size, align);
	}
	lines(data, size, align);
	/* the last bytes of the copies, up to their ends */
	for (n = 0; n <= size && n <= 20; n++)
		CHECK(B[0]->classify(whole.buf[0] + size - n, n) ==
		      B[1]->classify(whole.buf[1] + size - n, n));
	for (int i = 0; i <= SL_H1_R_NREASONS; i++)
		CHECK(strcmp(B[0]->reason_str((enum sl_h1_reason)i),
			     B[1]->reason_str((enum sl_h1_reason)i)) == 0);

	unplace(&whole);
	return 0;
}
