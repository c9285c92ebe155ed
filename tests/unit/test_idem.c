/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for idem.c: the Idempotency-Key field's syntax (a Structured
 * Field string or a bare token, its bounds, what is refused), a kept
 * answer's bytes (written and read back, and every refusal of bytes that
 * may come from another process's store), and the local store: reserve,
 * conflict, commit, replay, mismatch, release, the lease's and the ttl's
 * ends, the memory bound (done entries pushed out, in-flight ones never),
 * the counters, the table growing, threads racing for one key, and a
 * failed allocation at each step. idem.c is included, so that its
 * allocations can be made to fail (t_malloc, t_calloc) and the table's
 * size read.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* The allocations of idem.c: the nth from now fails (0: none does). */
static int fail_malloc, fail_calloc;

/* malloc(0) returns NULL here, as C lets it (C11 7.22.3), so that idem.c
 * is seen not to count on glibc's non-NULL pointer. */
static void *
t_malloc(size_t n)
{
	if (n == 0 || (fail_malloc > 0 && --fail_malloc == 0))
		return NULL;
	return malloc(n);
}

static void *
t_calloc(size_t n, size_t size)
{
	if (fail_calloc > 0 && --fail_calloc == 0)
		return NULL;
	return calloc(n, size);
}

#define malloc t_malloc
#define calloc t_calloc
#include "idem.c"
#undef malloc
#undef calloc

#define NOW   ((uint64_t)1000000)
#define LEASE ((uint64_t)30000)
#define TTL   ((uint64_t)86400000)
#define BIG   ((uint64_t)64 << 20)

/* ---- the key ------------------------------------------------------------ */

/* sl_idem_key on an exact-size copy of s[0..n) (ASan sees a read past
 * it); on success, the key's offset in s and its length. */
static int
key(const char *s, size_t n, size_t *off, size_t *klen)
{
	char *c = malloc(n ? n : 1);
	const char *k = NULL;
	int r;

	assert_non_null(c);
	memcpy(c, s, n);
	*klen = 0;
	r = sl_idem_key(c, n, &k, klen);
	if (r == 0) {
		assert_true(k >= c && k + *klen <= c + n);
		*off = (size_t)(k - c);
	}
	free(c);
	return r;
}

static int
key_s(const char *s)
{
	size_t off, klen;

	return key(s, strlen(s), &off, &klen);
}

/* s is accepted, its key the bytes at off of length klen */
static void
key_is(const char *s, size_t off_want, size_t klen_want)
{
	size_t off, klen;

	if (key(s, strlen(s), &off, &klen) != 0)
		fail_msg("sl_idem_key(%s) refused", s);
	assert_int_equal(off, off_want);
	assert_int_equal(klen, klen_want);
}

static void
test_key_accepted(void **state)
{
	(void)state;
	/* an sf-string: the key is between the quotes, escapes kept */
	key_is("\"abc\"", 1, 3);
	key_is("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", 1, 36);
	key_is("\"a\\\"b\"", 1, 4);    /* "a\"b" */
	key_is("\"a\\\\b\"", 1, 4);    /* "a\\b" */
	key_is("\"\\\\\"", 1, 2);      /* "\\" */
	key_is("\"\\\"\"", 1, 2);      /* "\"" */
	key_is("\"a b,c;d=e\"", 1, 9); /* space, comma, ';' inside */
	key_is("\"~\"", 1, 1);
	key_is("\" \"", 1, 1);
	/* bare: visible ASCII without quotes or commas */
	key_is("abc", 0, 3);
	key_is("8e03978e-40d5-43e8-bc93-6894a57f9324", 0, 36);
	key_is("a\\b", 0, 3);
	key_is("!#$%&'()*+-./:;<=>?@[]^_`{|}~", 0, 29);
	key_is("x", 0, 1);
}

static void
test_key_lengths(void **state)
{
	char b[300];
	size_t off, klen;

	(void)state;
	memset(b, 'k', sizeof(b));
	/* bare: 1 and 255 bytes, not 256 */
	assert_int_equal(key(b, 1, &off, &klen), 0);
	assert_int_equal(klen, 1);
	assert_int_equal(key(b, 255, &off, &klen), 0);
	assert_int_equal(off, 0);
	assert_int_equal(klen, 255);
	assert_int_equal(key(b, 256, &off, &klen), -1);
	assert_int_equal(key(b, 299, &off, &klen), -1);
	/* quoted: 1 and 255 bytes between the quotes, not 256 */
	b[0] = '"';
	b[2] = '"';
	assert_int_equal(key(b, 3, &off, &klen), 0);
	assert_int_equal(off, 1);
	assert_int_equal(klen, 1);
	b[2] = 'k';
	b[256] = '"';
	assert_int_equal(key(b, 257, &off, &klen), 0);
	assert_int_equal(off, 1);
	assert_int_equal(klen, 255);
	b[256] = 'k';
	b[257] = '"';
	assert_int_equal(key(b, 258, &off, &klen), -1);
	/* escapes count as the two bytes they are */
	memset(b + 1, '\\', 256);
	b[257] = '"';
	assert_int_equal(key(b, 258, &off, &klen), -1);
	b[255] = 'k';
	b[256] = '"';
	assert_int_equal(key(b, 257, &off, &klen), 0); /* 127 "\\", a k */
	assert_int_equal(klen, 255);
	/* the length counts, not a NUL or what follows */
	assert_int_equal(key("abc,def", 3, &off, &klen), 0);
	assert_int_equal(klen, 3);
	assert_int_equal(key("\"ab\"cd", 4, &off, &klen), 0);
	assert_int_equal(klen, 2);
	assert_int_equal(key("\"ab\"", 3, &off, &klen), -1);
}

static void
test_key_refused(void **state)
{
	static const char *const bad[] = {
	    "",		   /* empty */
	    "\"\"",	   /* empty quotes */
	    "\"",	   /* a quote alone */
	    "\"abc",	   /* unterminated */
	    "\"abc\\",	   /* an escape cut */
	    "\"a\\\"",	   /* the closing quote escaped: unterminated */
	    "\"a\\nb\"",   /* \n is no sf-string escape */
	    "\"a\\'b\"",   /* nor \' */
	    "\"a\\ b\"",   /* nor "\ " */
	    "\"abc\"x",	   /* bytes after the closing quote */
	    "\"abc\" ",	   /* a space after it */
	    "\"abc\";a=1", /* parameters */
	    "\"a\"b\"",	   /* a quote inside, not escaped */
	    "\"a\tb\"",	   /* HTAB in a string */
	    "\"a\x01b\"",  /* a control byte */
	    "\"a\x1f\"",
	    "\"a\x7f\"",       /* DEL */
	    "\"caf\xc3\xa9\"", /* non-ASCII */
	    "\"\x80\"",
	    "\"\xff\"",
	    "a b", /* bare: a space */
	    " abc",
	    "abc ",
	    "a,b", /* a comma */
	    ",",
	    "a\"b", /* a quote */
	    "abc\"",
	    "a\tb", /* control bytes */
	    "a\x01",
	    "\x1f",
	    "\r\n",
	    "a\x7f",	   /* DEL */
	    "caf\xc3\xa9", /* non-ASCII */
	    "\x80",
	    "\xff",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (key_s(bad[i]) != -1)
			fail_msg("sl_idem_key accepted bad[%zu]", i);
	/* a NUL, bare or quoted */
	{
		size_t off, klen;
		assert_int_equal(key("a\0b", 3, &off, &klen), -1);
		assert_int_equal(key("\"a\0b\"", 5, &off, &klen), -1);
		assert_int_equal(key("\0", 1, &off, &klen), -1);
	}
}

/* ---- a kept answer ----------------------------------------------------- */

/* A kept answer: its head as sl_idem_resp_head writes it, then f and b
 * (fl and bl bytes), in an exact-size block (the caller frees it). */
static unsigned char *
answer(int status, const char *f, size_t fl, const char *b, size_t bl,
       size_t *n)
{
	unsigned char *p;

	*n = SL_IDEM_RESP_HEAD + fl + bl;
	p = malloc(*n);
	assert_non_null(p);
	sl_idem_resp_head(p, status, (uint32_t)fl, (uint32_t)bl);
	memcpy(p + SL_IDEM_RESP_HEAD, f, fl);
	memcpy(p + SL_IDEM_RESP_HEAD + fl, b, bl);
	return p;
}

/* sl_idem_resp_parse of an answer of status with fields f and body b */
static int
parse_fb(int status, const char *f, const char *b)
{
	size_t n;
	unsigned char *p = answer(status, f, strlen(f), b, strlen(b), &n);
	struct sl_idem_resp r;
	int rc = sl_idem_resp_parse(p, n, &r);

	free(p);
	return rc;
}

static void
test_resp_head_bytes(void **state)
{
	unsigned char h[SL_IDEM_RESP_HEAD];
	static const unsigned char want[SL_IDEM_RESP_HEAD] = {
	    'S',  'L',	'I',  '1',  0x01, 0xf4, 0x01,
	    0x02, 0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0};

	(void)state;
	sl_idem_resp_head(h, 500, 0x01020304u, 0xa0b0c0d0u);
	assert_memory_equal(h, want, sizeof(want));
	sl_idem_resp_head(h, 200, 0, 0);
	assert_memory_equal(h, "SLI1\x00\xc8\0\0\0\0\0\0\0\0", 14);
}

static void
test_resp_round_trip(void **state)
{
	static const char f[] = "Content-Type: application/json\r\n"
				"X-Empty:\r\n"
				"X-Tab:\tv\tw\r\n"
				"Set-Cookie: a=b; Path=/\r\n";
	static const char b[] = "{\"id\": 1}\r\n\0\x01\xff";
	static const int statuses[] = {200, 201, 204, 302, 404, 409, 500, 599};
	struct sl_idem_resp r;
	unsigned char *p;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		p = answer(statuses[i], f, sizeof(f) - 1, b, sizeof(b) - 1, &n);
		memset(&r, 0, sizeof(r));
		assert_int_equal(sl_idem_resp_parse(p, n, &r), 0);
		assert_int_equal(r.status, statuses[i]);
		assert_ptr_equal(r.fields, (const char *)p + 14);
		assert_int_equal(r.flen, sizeof(f) - 1);
		assert_memory_equal(r.fields, f, r.flen);
		assert_ptr_equal(r.body, r.fields + r.flen);
		assert_int_equal(r.blen, sizeof(b) - 1);
		assert_memory_equal(r.body, b, r.blen);
		free(p);
	}
	/* no fields, no body */
	p = answer(204, "", 0, "", 0, &n);
	assert_int_equal(n, SL_IDEM_RESP_HEAD);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), 0);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.flen, 0);
	assert_int_equal(r.blen, 0);
	assert_ptr_equal(r.body, (const char *)p + n);
	free(p);
	/* a body alone */
	p = answer(200, "", 0, "ok", 2, &n);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), 0);
	assert_int_equal(r.flen, 0);
	assert_int_equal(r.blen, 2);
	assert_memory_equal(r.body, "ok", 2);
	free(p);
}

static void
test_resp_head_refused(void **state)
{
	struct sl_idem_resp r;
	unsigned char *p;
	size_t n;

	(void)state;
	/* short: nothing, a head cut */
	p = answer(200, "", 0, "", 0, &n);
	for (size_t k = 0; k < SL_IDEM_RESP_HEAD; k++) {
		unsigned char *c = malloc(k ? k : 1);
		assert_non_null(c);
		memcpy(c, p, k);
		assert_int_equal(sl_idem_resp_parse(c, k, &r), -1);
		free(c);
	}
	/* bad magic */
	for (int i = 0; i < 4; i++) {
		p[i] ^= 0x20; /* SLI1 -> sLI1 ... */
		assert_int_equal(sl_idem_resp_parse(p, n, &r), -1);
		p[i] ^= 0x20;
	}
	memcpy(p, "SLI2", 4);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), -1);
	memcpy(p, "SLI1", 4);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), 0);
	free(p);
	/* the status: final, 200..599 */
	assert_int_equal(parse_fb(199, "", ""), -1);
	assert_int_equal(parse_fb(200, "", ""), 0);
	assert_int_equal(parse_fb(599, "", ""), 0);
	assert_int_equal(parse_fb(600, "", ""), -1);
	assert_int_equal(parse_fb(0, "", ""), -1);
	assert_int_equal(parse_fb(100, "", ""), -1);
	assert_int_equal(parse_fb(101, "", ""), -1);
	assert_int_equal(parse_fb(0xffff, "", ""), -1);
	assert_int_equal(parse_fb(200 + 0x10000, "", ""), 0); /* 16 bits */
}

static void
test_resp_lengths_refused(void **state)
{
	static const char f[] = "A: b\r\n";
	struct sl_idem_resp r;
	unsigned char *p, *q;
	size_t n;

	(void)state;
	p = answer(200, f, 6, "body", 4, &n);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), 0);
	/* a byte short, a byte over */
	assert_int_equal(sl_idem_resp_parse(p, n - 1, &r), -1);
	q = malloc(n + 1);
	assert_non_null(q);
	memcpy(q, p, n);
	q[n] = 'x';
	assert_int_equal(sl_idem_resp_parse(q, n + 1, &r), -1);
	free(q);
	/* the lengths moved between fields and body: the total is right,
	 * but the fields are then not lines */
	sl_idem_resp_head(p, 200, 5, 5);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), -1);
	sl_idem_resp_head(p, 200, 10, 0);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), -1);
	/* the fields as body: fine, a body is any bytes */
	sl_idem_resp_head(p, 200, 0, 10);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), 0);
	assert_int_equal(r.blen, 10);
	/* lengths that would add up in 32 bits (2^32 - 1 + 1 = 0) */
	sl_idem_resp_head(p, 200, 0xffffffffu, 1);
	assert_int_equal(sl_idem_resp_parse(p, SL_IDEM_RESP_HEAD, &r), -1);
	sl_idem_resp_head(p, 200, 1, 0xffffffffu);
	assert_int_equal(sl_idem_resp_parse(p, SL_IDEM_RESP_HEAD, &r), -1);
	sl_idem_resp_head(p, 200, 0xffffffffu, 0xffffffffu);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), -1);
	sl_idem_resp_head(p, 200, 0xffffffffu - 13, 0);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), -1);
	free(p);
}

static void
test_resp_fields_refused(void **state)
{
	static const char *const bad[] = {
	    "A\r\n",   /* no colon */
	    "A b\r\n", /* no colon, a space */
	    ": b\r\n", /* empty name */
	    ":\r\n",
	    "\r\n", /* an empty line: no name */
	    "A: b\r\n\r\n",
	    "A b: c\r\n", /* not a token */
	    "A(b): c\r\n",
	    "A\"b: c\r\n",
	    "A/b: c\r\n",
	    "A@b: c\r\n",
	    "A,b: c\r\n",
	    "A;b: c\r\n",
	    "A=b: c\r\n",
	    "\tA: b\r\n",
	    " A: b\r\n",
	    "A : b\r\n",
	    "\xc3\xa9: b\r\n",
	    "A: b\r",	      /* CR without LF */
	    "A: b\rC: d\r\n", /* CR, then not LF */
	    "A: b\r\r\n",
	    "A: b\n", /* bare LF */
	    "A: b\nC: d\r\n",
	    "A: b\n\r\n",
	    "A: b", /* not ended */
	    "A:",
	    "A",
	    "A: b\r\nC",
	    "A: b\r\nC: d",
	    "A: b\x01\r\n", /* a control byte in a value */
	    "A: \x1f\r\n",
	    "A: b\x0b\r\n",
	    "A: b\x0c\r\n",
	    "A: b\x7f\r\n", /* DEL */
	};
	struct sl_idem_resp r;
	unsigned char *p;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_fb(200, bad[i], "") != -1)
			fail_msg("fields bad[%zu] accepted", i);
	/* a NUL in a value or a name */
	p = answer(200, "A: b\0c\r\n", 8, "", 0, &n);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), -1);
	free(p);
	p = answer(200, "A\0: b\r\n", 7, "", 0, &n);
	assert_int_equal(sl_idem_resp_parse(p, n, &r), -1);
	free(p);
}

static void
test_resp_fields_accepted(void **state)
{
	static const char *const good[] = {
	    "",
	    "A:b\r\n",
	    "A:\r\n",			    /* an empty value */
	    "A:\t\r\n",			    /* HTAB */
	    "A:\tb\tc\t\r\n",		    /* HTAB anywhere in a value */
	    "A: b c  d\r\n",		    /* spaces */
	    "A: b:c: d\r\n",		    /* colons in a value */
	    "A: \"q\" (c) <x> @;,=/\\\r\n", /* separators in a value */
	    "A: caf\xc3\xa9\r\n",	    /* obs-text */
	    "A: \x80\xff\r\n",
	    "!#$%&'*+-.^_`|~09azAZ: v\r\n", /* every tchar class */
	    "A: 1\r\nB: 2\r\nC: 3\r\n",
	    "a:1\r\na:2\r\n", /* repeated */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (parse_fb(200, good[i], "") != 0)
			fail_msg("fields good[%zu] refused", i);
	/* the body is not read as fields */
	assert_int_equal(parse_fb(200, "A: b\r\n", "\n\r\x01\x7f: \r"), 0);
}

/* ---- the local store --------------------------------------------------- */

/* An id or a fingerprint from a counter: n in the first bytes (the table's
 * hash) and again in the last, tag elsewhere. */
static void
mk(uint8_t out[SL_IDEM_HASH], uint32_t n, uint8_t tag)
{
	memset(out, tag, SL_IDEM_HASH);
	memcpy(out, &n, sizeof(n));
	memcpy(out + SL_IDEM_HASH - sizeof(n), &n, sizeof(n));
}

/* An id that shares its first 8 bytes with every other such id (one
 * bucket, whatever the table's size): n only in the last bytes. */
static void
mk_same_bucket(uint8_t out[SL_IDEM_HASH], uint32_t n)
{
	memset(out, 0x5a, SL_IDEM_HASH);
	memcpy(out + SL_IDEM_HASH - sizeof(n), &n, sizeof(n));
}

static uint8_t FP[SL_IDEM_HASH], FP2[SL_IDEM_HASH];

/* Looks id up (fingerprint fp) at now against memory: the outcome, the
 * token on RESERVED; on REPLAY, the answer is compared to want (wl bytes)
 * and freed. */
static int
look(const uint8_t *id, const uint8_t *fp, uint64_t now, uint64_t memory,
     uint64_t *tok, const void *want, size_t wl)
{
	unsigned char *a = (unsigned char *)"x";
	size_t al = 99;
	uint64_t t = 0;
	int r = sl_idem_local_reserve(id, fp, now, LEASE, memory, &t, &a, &al);

	if (r == SL_IDEM_REPLAY) {
		assert_non_null(a);
		assert_int_equal(al, wl);
		if (wl > 0)
			assert_memory_equal(a, want, wl);
		free(a);
	} else {
		assert_null(a);
		assert_int_equal(al, 0);
	}
	if (r == SL_IDEM_RESERVED) {
		assert_int_not_equal(t, 0);
		if (tok != NULL)
			*tok = t;
	}
	return r;
}

static uint64_t
entries(void)
{
	uint64_t e, b, ev;

	sl_idem_local_stats(&e, &b, &ev);
	return e;
}

static uint64_t
bytes(void)
{
	uint64_t e, b, ev;

	sl_idem_local_stats(&e, &b, &ev);
	return b;
}

/* A test stopped inside idem.c (a crash cmocka caught) leaves the
 * store's lock held: said, instead of a hang at the next call. */
static void
lock_free(void)
{
	if (pthread_mutex_trylock(&st.lock) != 0) {
		fprintf(stderr, "test_idem: the store's lock is held: a test "
				"stopped inside idem.c\n");
		_exit(1);
	}
	pthread_mutex_unlock(&st.lock);
}

static int
setup(void **state)
{
	(void)state;
	lock_free();
	mk(FP, 1, 0xf0);
	mk(FP2, 2, 0xf0);
	fail_malloc = fail_calloc = 0;
	sl_idem_local_free();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	lock_free();
	fail_malloc = fail_calloc = 0;
	sl_idem_local_free();
	/* everything counted is given back, the buckets too */
	assert_int_equal(entries(), 0);
	assert_int_equal(bytes(), 0);
	assert_null(st.oldest);
	assert_null(st.newest);
	assert_int_equal(st.nb, 0);
	return 0;
}

static const char ANS[] = "SLI1 an answer's bytes\r\n\0and a NUL";

static void
test_reserve_commit_replay(void **state)
{
	uint8_t id[SL_IDEM_HASH], id2[SL_IDEM_HASH];
	uint64_t tok, tok2;

	(void)state;
	mk(id, 7, 0);
	mk(id2, 8, 0);
	assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	/* in flight: another request, with this fingerprint or another */
	assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
	assert_int_equal(look(id, FP2, NOW + 1, BIG, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
	/* another key: its own reservation, another token */
	assert_int_equal(look(id2, FP, NOW, BIG, &tok2, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_not_equal(tok2, tok);
	/* a commit by another token, or of another id, is refused */
	assert_int_equal(
	    sl_idem_local_commit(id, tok2, ANS, sizeof(ANS), NOW, TTL, BIG),
	    -1);
	assert_int_equal(
	    sl_idem_local_commit(id, 0, ANS, sizeof(ANS), NOW, TTL, BIG), -1);
	assert_int_equal(
	    sl_idem_local_commit(id, tok, ANS, sizeof(ANS), NOW, TTL, BIG), 0);
	/* once done: a second commit is refused, even by its token */
	assert_int_equal(sl_idem_local_commit(id, tok, "x", 1, NOW, TTL, BIG),
			 -1);
	/* the same fingerprint: the answer, a copy each time */
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    look(id, FP, NOW + 10, BIG, NULL, ANS, sizeof(ANS)),
		    SL_IDEM_REPLAY);
	/* another: refused */
	assert_int_equal(look(id, FP2, NOW + 10, BIG, NULL, NULL, 0),
			 SL_IDEM_MISMATCH);
	/* the release of a done key by its old token does nothing */
	sl_idem_local_release(id, tok);
	assert_int_equal(look(id, FP, NOW + 10, BIG, NULL, ANS, sizeof(ANS)),
			 SL_IDEM_REPLAY);
	/* the other key is still in flight */
	assert_int_equal(look(id2, FP, NOW + 10, BIG, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
	assert_int_equal(entries(), 2);
}

static void
test_replay_copy_is_own(void **state)
{
	uint8_t id[SL_IDEM_HASH];
	uint64_t tok;
	unsigned char *a1, *a2, buf[64];
	size_t l1, l2;
	uint64_t t;

	(void)state;
	mk(id, 1, 0);
	memcpy(buf, ANS, sizeof(ANS));
	assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(
	    sl_idem_local_commit(id, tok, buf, sizeof(ANS), NOW, TTL, BIG), 0);
	/* the store copied it: the caller's buffer may change */
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(
	    sl_idem_local_reserve(id, FP, NOW, LEASE, BIG, &t, &a1, &l1),
	    SL_IDEM_REPLAY);
	assert_int_equal(
	    sl_idem_local_reserve(id, FP, NOW, LEASE, BIG, &t, &a2, &l2),
	    SL_IDEM_REPLAY);
	assert_ptr_not_equal(a1, a2);
	assert_int_equal(l1, sizeof(ANS));
	assert_memory_equal(a1, ANS, l1);
	/* a copy changed changes nothing kept */
	memset(a1, 'y', l1);
	assert_memory_equal(a2, ANS, l2);
	free(a1);
	free(a2);
	assert_int_equal(look(id, FP, NOW, BIG, NULL, ANS, sizeof(ANS)),
			 SL_IDEM_REPLAY);
}

static void
test_release(void **state)
{
	uint8_t id[SL_IDEM_HASH], other[SL_IDEM_HASH];
	uint64_t tok, tok2;

	(void)state;
	mk(id, 3, 0);
	mk(other, 4, 0);
	/* nothing held: a no-op */
	sl_idem_local_release(id, 1);
	assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	/* the wrong token, 0, or another id: a no-op */
	sl_idem_local_release(id, tok + 1);
	sl_idem_local_release(id, 0);
	sl_idem_local_release(other, tok);
	assert_int_equal(entries(), 1);
	assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
	/* the right one: the key is free */
	sl_idem_local_release(id, tok);
	assert_int_equal(entries(), 0);
	assert_int_equal(look(id, FP2, NOW, BIG, &tok2, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_not_equal(tok2, tok);
	/* the old token is nothing now: no commit, no release */
	assert_int_equal(
	    sl_idem_local_commit(id, tok, ANS, sizeof(ANS), NOW, TTL, BIG), -1);
	sl_idem_local_release(id, tok);
	assert_int_equal(look(id, FP2, NOW, BIG, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
	assert_int_equal(
	    sl_idem_local_commit(id, tok2, ANS, sizeof(ANS), NOW, TTL, BIG), 0);
	/* the fingerprint is the new reservation's */
	assert_int_equal(look(id, FP2, NOW, BIG, NULL, ANS, sizeof(ANS)),
			 SL_IDEM_REPLAY);
	assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
			 SL_IDEM_MISMATCH);
}

static void
test_lease_expiry(void **state)
{
	uint8_t id[SL_IDEM_HASH];
	uint64_t tok, tok2;

	(void)state;
	mk(id, 5, 0);
	assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(look(id, FP, NOW + LEASE - 1, BIG, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
	/* the lease is over: the key is free for another request */
	assert_int_equal(look(id, FP, NOW + LEASE, BIG, &tok2, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_not_equal(tok2, tok);
	assert_int_equal(entries(), 1);
	/* the first request's commit and release are refused */
	assert_int_equal(sl_idem_local_commit(id, tok, ANS, sizeof(ANS),
					      NOW + LEASE, TTL, BIG),
			 -1);
	sl_idem_local_release(id, tok);
	assert_int_equal(look(id, FP, NOW + LEASE, BIG, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
	/* the second's is kept */
	assert_int_equal(sl_idem_local_commit(id, tok2, ANS, sizeof(ANS),
					      NOW + LEASE + 1, TTL, BIG),
			 0);
	assert_int_equal(
	    look(id, FP, NOW + LEASE + 2, BIG, NULL, ANS, sizeof(ANS)),
	    SL_IDEM_REPLAY);
}

/* An entry whose time is past, behind older ones whose time is not (the
 * age list is by arrival, not by end): it goes when its key is looked
 * up. */
static void
test_expired_behind_live(void **state)
{
	uint8_t old1[SL_IDEM_HASH], old2[SL_IDEM_HASH], id[SL_IDEM_HASH];
	unsigned char *a;
	size_t al;
	uint64_t t, tok, tok2;

	(void)state;
	mk(old1, 50, 0);
	mk(old2, 51, 0);
	mk(id, 52, 0);
	assert_int_equal(
	    sl_idem_local_reserve(old1, FP, NOW, 10 * LEASE, BIG, &t, &a, &al),
	    SL_IDEM_RESERVED);
	assert_int_equal(
	    sl_idem_local_reserve(old2, FP, NOW, 10 * LEASE, BIG, &t, &a, &al),
	    SL_IDEM_RESERVED);
	assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(look(id, FP, NOW + LEASE, BIG, &tok2, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_not_equal(tok2, tok);
	assert_int_equal(entries(), 3);
	/* a done one the same way */
	assert_int_equal(sl_idem_local_commit(id, tok2, ANS, sizeof(ANS),
					      NOW + LEASE, 10, BIG),
			 0);
	assert_int_equal(look(id, FP2, NOW + LEASE + 9, BIG, NULL, NULL, 0),
			 SL_IDEM_MISMATCH);
	assert_int_equal(look(id, FP2, NOW + LEASE + 10, BIG, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(entries(), 3);
	assert_int_equal(look(old1, FP, NOW + LEASE + 10, BIG, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
}

static void
test_ttl_expiry(void **state)
{
	uint8_t id[SL_IDEM_HASH], id2[SL_IDEM_HASH];
	uint64_t tok;
	const uint64_t ttl = 5000;

	(void)state;
	mk(id, 9, 0);
	mk(id2, 10, 0);
	assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	/* the ttl counts from the commit */
	assert_int_equal(sl_idem_local_commit(id, tok, ANS, sizeof(ANS),
					      NOW + 100, ttl, BIG),
			 0);
	assert_int_equal(
	    look(id, FP, NOW + 100 + ttl - 1, BIG, NULL, ANS, sizeof(ANS)),
	    SL_IDEM_REPLAY);
	assert_int_equal(look(id, FP2, NOW + 100 + ttl - 1, BIG, NULL, NULL, 0),
			 SL_IDEM_MISMATCH);
	/* its end: the key is new again, for any fingerprint */
	assert_int_equal(look(id, FP2, NOW + 100 + ttl, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(entries(), 1);
	sl_idem_local_release(id, tok);
	/* an expired entry goes when other keys come, unasked */
	assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(
	    sl_idem_local_commit(id, tok, ANS, sizeof(ANS), NOW, ttl, BIG), 0);
	assert_int_equal(entries(), 1);
	assert_int_equal(look(id2, FP, NOW + ttl, BIG, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(entries(), 1);
}

/* What the table's buckets count, and an entry without its answer: from
 * the counters of one reservation and its release. */
static void
measure(uint64_t *buckets, uint64_t *ecost)
{
	uint8_t id[SL_IDEM_HASH];
	uint64_t tok, b;

	sl_idem_local_free();
	mk(id, 0xffffff, 0xee);
	assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	b = bytes();
	sl_idem_local_release(id, tok);
	*buckets = bytes();
	*ecost = b - *buckets;
	assert_true(*buckets > 0);
	assert_true(*ecost >= 2 * SL_IDEM_HASH);
	assert_int_equal(entries(), 0);
}

#define A 100 /* bytes of the answers below */

/* Done entries under a bound of n of them: the oldest go. */
static void
test_memory_done_evicted(void **state)
{
	uint8_t id[SL_IDEM_HASH];
	unsigned char a[A];
	uint64_t buckets, ecost, mem, tok;
	const uint32_t n = 10;

	(void)state;
	measure(&buckets, &ecost);
	mem = buckets + n * (ecost + A);
	for (uint32_t i = 0; i < n; i++) {
		mk(id, i, 0);
		memset(a, (int)i, A);
		assert_int_equal(look(id, FP, NOW + i, mem, &tok, NULL, 0),
				 SL_IDEM_RESERVED);
		assert_int_equal(
		    sl_idem_local_commit(id, tok, a, A, NOW + i, TTL, mem), 0);
	}
	assert_int_equal(entries(), n);
	assert_int_equal(bytes(), mem);
	/* n more keys: each takes the place of the oldest */
	for (uint32_t i = n; i < 2 * n; i++) {
		mk(id, i, 0);
		memset(a, (int)i, A);
		assert_int_equal(look(id, FP, NOW + i, mem, &tok, NULL, 0),
				 SL_IDEM_RESERVED);
		assert_int_equal(entries(), n);
		assert_int_equal(
		    sl_idem_local_commit(id, tok, a, A, NOW + i, TTL, mem), 0);
		assert_int_equal(entries(), n);
		assert_true(bytes() <= mem);
		/* the oldest went, the one after it is kept */
		mk(id, i - n + 1, 0);
		memset(a, (int)(i - n + 1), A);
		assert_int_equal(look(id, FP, NOW + i, mem, NULL, a, A),
				 SL_IDEM_REPLAY);
	}
	for (uint32_t i = n; i < 2 * n; i++) {
		mk(id, i, 0);
		memset(a, (int)i, A);
		assert_int_equal(look(id, FP, NOW + 2 * n, mem, NULL, a, A),
				 SL_IDEM_REPLAY);
	}
	/* the first ones are new keys now */
	mk(id, 0, 0);
	assert_int_equal(look(id, FP2, NOW + 2 * n, mem, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
}

/* In-flight entries are never pushed out: the store is full. */
static void
test_memory_inflight_full(void **state)
{
	uint8_t id[SL_IDEM_HASH];
	uint64_t buckets, ecost, mem, tok[10], t;
	const uint32_t n = 10;

	(void)state;
	measure(&buckets, &ecost);
	mem = buckets + n * ecost;
	for (uint32_t i = 0; i < n; i++) {
		mk(id, i, 0);
		assert_int_equal(look(id, FP, NOW, mem, &tok[i], NULL, 0),
				 SL_IDEM_RESERVED);
	}
	assert_int_equal(bytes(), mem);
	mk(id, n, 0);
	t = 12345;
	assert_int_equal(look(id, FP, NOW + 1, mem, &t, NULL, 0), SL_IDEM_FULL);
	assert_int_equal(t, 12345);
	assert_int_equal(entries(), n);
	/* every one still held */
	for (uint32_t i = 0; i < n; i++) {
		mk(id, i, 0);
		assert_int_equal(look(id, FP, NOW + 1, mem, NULL, NULL, 0),
				 SL_IDEM_CONFLICT);
	}
	/* one let go: room for one */
	mk(id, 3, 0);
	sl_idem_local_release(id, tok[3]);
	mk(id, n, 0);
	assert_int_equal(look(id, FP, NOW + 1, mem, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	mk(id, n + 1, 0);
	assert_int_equal(look(id, FP, NOW + 1, mem, NULL, NULL, 0),
			 SL_IDEM_FULL);
	/* their leases over, they may go */
	assert_int_equal(look(id, FP, NOW + LEASE, mem, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_true(bytes() <= mem);
	/* and the commit of one pushed out is refused */
	mk(id, 0, 0);
	assert_int_equal(look(id, FP, NOW + LEASE, mem, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(
	    sl_idem_local_commit(id, tok[0], "x", 1, NOW + LEASE, TTL, mem),
	    -1);
}

/* A done entry goes before an older one in flight. */
static void
test_memory_inflight_kept_over_done(void **state)
{
	uint8_t id[SL_IDEM_HASH], held[SL_IDEM_HASH];
	unsigned char a[A];
	uint64_t buckets, ecost, mem, tok, htok;

	(void)state;
	measure(&buckets, &ecost);
	mem = buckets + ecost + 3 * (ecost + A);
	memset(a, 'a', A);
	mk(held, 1000, 0);
	assert_int_equal(look(held, FP, NOW, mem, &htok, NULL, 0),
			 SL_IDEM_RESERVED);
	for (uint32_t i = 0; i < 20; i++) {
		mk(id, i, 0);
		assert_int_equal(look(id, FP, NOW + 1, mem, &tok, NULL, 0),
				 SL_IDEM_RESERVED);
		assert_int_equal(
		    sl_idem_local_commit(id, tok, a, A, NOW + 1, TTL, mem), 0);
		assert_true(bytes() <= mem);
	}
	assert_int_equal(entries(), 4);
	assert_int_equal(look(held, FP, NOW + 2, mem, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
	/* its commit makes room by pushing out done ones */
	assert_int_equal(
	    sl_idem_local_commit(held, htok, a, A, NOW + 2, TTL, mem), 0);
	assert_int_equal(look(held, FP, NOW + 2, mem, NULL, a, A),
			 SL_IDEM_REPLAY);
	assert_true(bytes() <= mem);
}

/* An answer that cannot fit: -2, and the key is let go. */
static void
test_commit_no_room(void **state)
{
	uint8_t id[SL_IDEM_HASH], other[SL_IDEM_HASH];
	unsigned char a[4 * A];
	uint64_t buckets, ecost, mem, tok, otok;

	(void)state;
	measure(&buckets, &ecost);
	memset(a, 'a', sizeof(a));
	mem = buckets + 2 * ecost + A;
	mk(id, 1, 0);
	mk(other, 2, 0);
	assert_int_equal(look(id, FP, NOW, mem, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(look(other, FP, NOW, mem, &otok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(sl_idem_local_commit(id, tok, a, A + 1, NOW, TTL, mem),
			 -2);
	assert_int_equal(entries(), 1);
	assert_int_equal(bytes(), buckets + ecost);
	/* the key is free; the other reservation stands */
	assert_int_equal(look(id, FP, NOW, mem, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(look(other, FP, NOW, mem, NULL, NULL, 0),
			 SL_IDEM_CONFLICT);
	/* exactly the room left: kept */
	assert_int_equal(sl_idem_local_commit(id, tok, a, A, NOW, TTL, mem), 0);
	assert_int_equal(bytes(), mem);
	/* an answer larger than the whole bound */
	assert_int_equal(
	    sl_idem_local_commit(other, otok, a, sizeof(a), NOW, TTL, mem), -2);
	assert_int_equal(look(other, FP, NOW, mem, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
}

/* An answer that will not be kept pushes no other out: the kept answers
 * stay when the room the entries that may go would make is not enough. */
static void
test_commit_no_room_evicts_nothing(void **state)
{
	uint8_t id[SL_IDEM_HASH], big[SL_IDEM_HASH];
	unsigned char a[A], *b;
	uint64_t buckets, ecost, mem, tok, btok;
	size_t most;

	(void)state;
	measure(&buckets, &ecost);
	mem = buckets + 4 * (ecost + A) + ecost;
	most = 4 * (ecost + A); /* what the done ones would give back */
	b = calloc(1, most + 1);
	assert_non_null(b);
	memset(a, 'a', A);
	for (uint32_t i = 0; i < 4; i++) {
		mk(id, i, 0);
		assert_int_equal(look(id, FP, NOW, mem, &tok, NULL, 0),
				 SL_IDEM_RESERVED);
		assert_int_equal(
		    sl_idem_local_commit(id, tok, a, A, NOW, TTL, mem), 0);
	}
	mk(big, 99, 0);
	assert_int_equal(look(big, FP, NOW, mem, &btok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(bytes(), mem);
	/* a byte more than all of them: -2, and every one is kept */
	assert_int_equal(
	    sl_idem_local_commit(big, btok, b, most + 1, NOW, TTL, mem), -2);
	assert_int_equal(entries(), 4);
	for (uint32_t i = 0; i < 4; i++) {
		mk(id, i, 0);
		assert_int_equal(look(id, FP, NOW, mem, NULL, a, A),
				 SL_IDEM_REPLAY);
	}
	/* exactly all of them: they go, and it is kept */
	assert_int_equal(look(big, FP, NOW, mem, &btok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(
	    sl_idem_local_commit(big, btok, b, most, NOW, TTL, mem), 0);
	assert_int_equal(entries(), 1);
	assert_int_equal(bytes(), mem);
	assert_int_equal(look(big, FP, NOW, mem, NULL, b, most),
			 SL_IDEM_REPLAY);
	free(b);
}

static void
test_stats(void **state)
{
	uint8_t id[SL_IDEM_HASH];
	uint64_t tok[8], buckets, ecost, b0;

	(void)state;
	assert_int_equal(entries(), 0);
	assert_int_equal(bytes(), 0);
	measure(&buckets, &ecost);
	/* the buckets stay until the store is freed */
	assert_int_equal(bytes(), buckets);
	b0 = bytes();
	for (uint32_t i = 0; i < 8; i++) {
		mk(id, i, 0);
		assert_int_equal(look(id, FP, NOW, BIG, &tok[i], NULL, 0),
				 SL_IDEM_RESERVED);
		assert_int_equal(entries(), i + 1);
		assert_int_equal(bytes(), b0 + (i + 1) * ecost);
	}
	/* answers count their bytes */
	for (uint32_t i = 0; i < 4; i++) {
		mk(id, i, 0);
		assert_int_equal(sl_idem_local_commit(id, tok[i], ANS, 10 * i,
						      NOW, TTL, BIG),
				 0);
	}
	assert_int_equal(bytes(), b0 + 8 * ecost + 10 * (0 + 1 + 2 + 3));
	/* a commit of nothing is kept as nothing */
	mk(id, 0, 0);
	assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0), SL_IDEM_REPLAY);
	/* releases of what is in flight give their bytes back */
	for (uint32_t i = 4; i < 8; i++) {
		mk(id, i, 0);
		sl_idem_local_release(id, tok[i]);
	}
	assert_int_equal(entries(), 4);
	assert_int_equal(bytes(), b0 + 4 * ecost + 60);
	/* expiry too */
	mk(id, 100, 0);
	assert_int_equal(look(id, FP, NOW + TTL, BIG, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	mk(id, 101, 0);
	assert_int_equal(look(id, FP, NOW + TTL, BIG, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	mk(id, 102, 0);
	assert_int_equal(look(id, FP, NOW + TTL, BIG, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(entries(), 3);
	assert_int_equal(bytes(), b0 + 3 * ecost);
	/* the free gives back everything, the buckets too (teardown) */
	sl_idem_local_free();
	assert_int_equal(entries(), 0);
	assert_int_equal(bytes(), 0);
	/* and the store works after it */
	mk(id, 0, 0);
	assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(bytes(), b0 + ecost);
}

/* Past 1024 entries the table grows; every key is found. */
static void
test_grow(void **state)
{
	uint8_t id[SL_IDEM_HASH];
	uint64_t buckets, ecost, b;
	const uint32_t n = 5000;
	static uint64_t tok[5000];

	(void)state;
	measure(&buckets, &ecost);
	for (uint32_t i = 0; i < n; i++) {
		mk(id, i * 2654435761u, 0);
		assert_int_equal(look(id, FP, NOW, BIG, &tok[i], NULL, 0),
				 SL_IDEM_RESERVED);
	}
	assert_int_equal(entries(), n);
	assert_true(st.nb >= n);
	assert_null(st.ob); /* every move over */
	b = bytes() - n * ecost;
	assert_int_equal(b, st.nb * sizeof(void *));
	assert_true(b > buckets);
	for (uint32_t i = 0; i < n; i++) {
		mk(id, i * 2654435761u, 0);
		assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
				 SL_IDEM_CONFLICT);
		if (i % 2 == 0)
			assert_int_equal(sl_idem_local_commit(id, tok[i], &i,
							      sizeof(i), NOW,
							      TTL, BIG),
					 0);
		else if (i % 3 == 0)
			sl_idem_local_release(id, tok[i]);
	}
	for (uint32_t i = 0; i < n; i++) {
		mk(id, i * 2654435761u, 0);
		assert_int_equal(look(id, FP, NOW, BIG, NULL, &i, sizeof(i)),
				 i % 2 == 0   ? SL_IDEM_REPLAY
				 : i % 3 == 0 ? SL_IDEM_RESERVED
					      : SL_IDEM_CONFLICT);
	}
	/* keys never reserved are not found */
	mk(id, 1, 0x77);
	assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
}

/* Keys in one bucket: each found, each let go from anywhere in its
 * chain. */
static void
test_one_bucket(void **state)
{
	uint8_t id[SL_IDEM_HASH];
	uint64_t tok[64];

	(void)state;
	for (uint32_t i = 0; i < 64; i++) {
		mk_same_bucket(id, i);
		assert_int_equal(look(id, FP, NOW, BIG, &tok[i], NULL, 0),
				 SL_IDEM_RESERVED);
	}
	for (uint32_t i = 0; i < 64; i += 3) {
		mk_same_bucket(id, i);
		sl_idem_local_release(id, tok[i]);
	}
	for (uint32_t i = 0; i < 64; i++) {
		mk_same_bucket(id, i);
		assert_int_equal(look(id, FP, NOW, BIG, &tok[i], NULL, 0),
				 i % 3 == 0 ? SL_IDEM_RESERVED
					    : SL_IDEM_CONFLICT);
	}
	assert_int_equal(entries(), 64);
}

/* Threads race for the same keys: one reservation each. */
#define NTHR  8
#define NKEYS 200
static int won[NKEYS];
static pthread_mutex_t won_lock = PTHREAD_MUTEX_INITIALIZER;

static void *
racer(void *arg)
{
	uint8_t id[SL_IDEM_HASH];

	(void)arg;
	for (uint32_t k = 0; k < NKEYS; k++) {
		unsigned char *a;
		size_t al;
		uint64_t tok;
		int r;
		mk(id, k, 0x33);
		r = sl_idem_local_reserve(id, FP, NOW, LEASE, BIG, &tok, &a,
					  &al);
		if (r == SL_IDEM_RESERVED) {
			pthread_mutex_lock(&won_lock);
			won[k]++;
			pthread_mutex_unlock(&won_lock);
			if (k % 2 == 0)
				(void)sl_idem_local_commit(
				    id, tok, &k, sizeof(k), NOW, TTL, BIG);
		} else if (r == SL_IDEM_REPLAY) {
			free(a);
		}
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t t[NTHR];

	(void)state;
	memset(won, 0, sizeof(won));
	for (int i = 0; i < NTHR; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer, NULL), 0);
	for (int i = 0; i < NTHR; i++)
		pthread_join(t[i], NULL);
	for (uint32_t k = 0; k < NKEYS; k++)
		assert_int_equal(won[k], 1);
	assert_int_equal(entries(), NKEYS);
}

/* A failed allocation at each step: refused, nothing held, nothing
 * broken. */
static void
test_alloc_fails(void **state)
{
	uint8_t id[SL_IDEM_HASH];
	uint64_t tok;

	(void)state;
	/* the first reservation makes the entry and the table: either one
	 * failing is FULL, with nothing held */
	for (int k = 1; k <= 2; k++) {
		sl_idem_local_free();
		mk(id, 1, 0);
		fail_calloc = k;
		assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
				 SL_IDEM_FULL);
		assert_int_equal(fail_calloc, 0);
		assert_int_equal(entries(), 0);
		assert_null(st.oldest);
		/* and the next one works */
		assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
				 SL_IDEM_RESERVED);
		assert_int_equal(entries(), 1);
	}
	/* the copy of an answer to keep: -2, the key let go */
	fail_malloc = 1;
	assert_int_equal(
	    sl_idem_local_commit(id, tok, ANS, sizeof(ANS), NOW, TTL, BIG), -2);
	assert_int_equal(fail_malloc, 0);
	assert_int_equal(entries(), 0);
	assert_int_equal(look(id, FP, NOW, BIG, &tok, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(
	    sl_idem_local_commit(id, tok, ANS, sizeof(ANS), NOW, TTL, BIG), 0);
	/* the copy of a kept answer to replay: FULL, the answer kept */
	fail_malloc = 1;
	assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0), SL_IDEM_FULL);
	assert_int_equal(fail_malloc, 0);
	assert_int_equal(look(id, FP, NOW, BIG, NULL, ANS, sizeof(ANS)),
			 SL_IDEM_REPLAY);
	/* the table cannot grow past 1024 entries: longer chains, every
	 * key found */
	for (uint32_t i = 10; i < 1034; i++) {
		mk(id, i, 0);
		if (i == 10 + 1023)
			fail_calloc = 1; /* the table's, before the entry's */
		assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
				 SL_IDEM_RESERVED);
	}
	assert_int_equal(st.nb, 1024);
	for (uint32_t i = 10; i < 1034; i++) {
		mk(id, i, 0);
		assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
				 SL_IDEM_CONFLICT);
	}
	/* the next one grows it */
	mk(id, 5000, 0);
	assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
			 SL_IDEM_RESERVED);
	assert_int_equal(st.nb, 2048);
}

/* While the old buckets are moved into the new table, a few at each
 * call, every key is found wherever it is: inserted before the move or
 * during it, kept, let go; the old table goes once empty, its bytes
 * with it. */
static void
test_grow_moves_a_few_at_a_time(void **state)
{
	uint8_t id[SL_IDEM_HASH];
	static uint64_t tok[3000];
	uint64_t buckets, ecost;
	uint32_t i, n = 0;

	(void)state;
	measure(&buckets, &ecost);
	/* up to the first growth past 1024: the move starts */
	while (st.ob == NULL || n <= 1024) {
		mk(id, n * 2654435761u, 1);
		assert_int_equal(look(id, FP, NOW, BIG, &tok[n], NULL, 0),
				 SL_IDEM_RESERVED);
		n++;
		assert_true(n < 1100);
	}
	assert_int_equal(st.onb, 1024);
	assert_int_equal(st.nb, 2048);
	assert_true(st.mv < st.onb);
	/* both tables counted meanwhile */
	assert_int_equal(bytes(), n * ecost + (1024 + 2048) * sizeof(void *));
	/* in the middle of the move: every key there, some kept, some let
	 * go, new ones in */
	for (i = 0; i < n && st.ob != NULL; i++) {
		mk(id, i * 2654435761u, 1);
		assert_int_equal(look(id, FP, NOW, BIG, NULL, NULL, 0),
				 SL_IDEM_CONFLICT);
		if (i % 3 == 0)
			assert_int_equal(sl_idem_local_commit(id, tok[i], &i,
							      sizeof(i), NOW,
							      TTL, BIG),
					 0);
		else if (i % 3 == 1)
			sl_idem_local_release(id, tok[i]);
	}
	/* the move ended within those calls (3 per key, 16 buckets each) */
	assert_null(st.ob);
	for (uint32_t j = 0; j < n; j++) {
		int want = j >= i	? SL_IDEM_CONFLICT
			   : j % 3 == 0 ? SL_IDEM_REPLAY
			   : j % 3 == 1 ? SL_IDEM_RESERVED /* let go */
					: SL_IDEM_CONFLICT;
		int kept = want == SL_IDEM_REPLAY;
		mk(id, j * 2654435761u, 1);
		assert_int_equal(look(id, FP, NOW, BIG, NULL, kept ? &j : NULL,
				      kept ? sizeof(j) : 0),
				 want);
	}
	assert_int_equal(st.nb, 2048);
	sl_idem_local_free();
	assert_int_equal(bytes(), 0);
	assert_null(st.ob);
}

/* An answer sealed opens with its key and id only, and not once a byte
 * of it changed; each sealing takes a nonce of its own. */
static void
test_seal_open(void **state)
{
	unsigned char key[32], other[32], id[SL_IDEM_HASH], id2[SL_IDEM_HASH];
	static const char msg[] = "SLI1 a payment's answer";
	unsigned char s1[sizeof(msg) + SL_IDEM_SEAL_OVERHEAD];
	unsigned char s2[sizeof(s1)], out[sizeof(s1)];

	(void)state;
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	memset(id, 1, sizeof(id));
	memset(id2, 2, sizeof(id2));
	assert_int_equal(sl_idem_seal(key, id, msg, sizeof(msg), s1), 0);
	assert_int_equal(sl_idem_seal(key, id, msg, sizeof(msg), s2), 0);
	assert_memory_not_equal(s1, s2, SL_IDEM_NONCE);
	assert_null(memmem(s1, sizeof(s1), "payment", 7));
	assert_int_equal(sl_idem_open(key, id, s1, sizeof(s1), out),
			 (long)sizeof(msg));
	assert_memory_equal(out, msg, sizeof(msg));
	assert_int_equal(sl_idem_open(other, id, s1, sizeof(s1), out), -1);
	assert_int_equal(sl_idem_open(key, id2, s1, sizeof(s1), out), -1);
	for (size_t i = 0; i < sizeof(s1); i += 7) {
		s1[i] ^= 1;
		assert_int_equal(sl_idem_open(key, id, s1, sizeof(s1), out),
				 -1);
		s1[i] ^= 1;
	}
	assert_int_equal(
	    sl_idem_open(key, id, s1, SL_IDEM_SEAL_OVERHEAD - 1, out), -1);
	/* an empty answer seals and opens too */
	assert_int_equal(sl_idem_seal(key, id, "", 0, s2), 0);
	assert_int_equal(sl_idem_open(key, id, s2, SL_IDEM_SEAL_OVERHEAD, out),
			 0);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_accepted),
	    cmocka_unit_test(test_key_lengths),
	    cmocka_unit_test(test_key_refused),
	    cmocka_unit_test(test_resp_head_bytes),
	    cmocka_unit_test(test_resp_round_trip),
	    cmocka_unit_test(test_seal_open),
	    cmocka_unit_test(test_resp_head_refused),
	    cmocka_unit_test(test_resp_lengths_refused),
	    cmocka_unit_test(test_resp_fields_refused),
	    cmocka_unit_test(test_resp_fields_accepted),
	    T(test_reserve_commit_replay),
	    T(test_replay_copy_is_own),
	    T(test_release),
	    T(test_lease_expiry),
	    T(test_expired_behind_live),
	    T(test_ttl_expiry),
	    T(test_memory_done_evicted),
	    T(test_memory_inflight_full),
	    T(test_memory_inflight_kept_over_done),
	    T(test_commit_no_room),
	    T(test_commit_no_room_evicts_nothing),
	    T(test_stats),
	    T(test_grow),
	    T(test_grow_moves_a_few_at_a_time),
	    T(test_one_bucket),
	    T(test_threads),
	    T(test_alloc_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
