/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the reader of upstream responses (src/http/h1_reader.c):
 * its events for each framing, whole and fed in pieces, its failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "h1_reader.h"
#include "hblock.h"

#define NHDRS 32

static struct sl_h1_header hdrs[NHDRS];

static void
reader(struct sl_h1_reader *r, size_t max_head, enum sl_h1_method m,
       unsigned flags)
{
	struct sl_h1_limits lim = {max_head, max_head, NHDRS};

	sl_h1_reader_init(r, &lim, hdrs, NHDRS, m, flags);
}

/* What a reader made of a response: its events but DATA, one word each
 * ("I100 H200 E1", "Fbad_chunk:bad_chunk_size", "M" when it wanted more
 * at the input's end), and the body's bytes from DATA and END. */
struct run {
	char ev[256];
	char body[4096];
	size_t body_len;
};

static void
note(struct run *out, const char *fmt, ...)
{
	size_t n = strlen(out->ev);
	va_list ap;

	if (n > 0 && n < sizeof(out->ev) - 1)
		out->ev[n++] = ' ';
	va_start(ap, fmt);
	vsnprintf(out->ev + n, sizeof(out->ev) - n, fmt, ap);
	va_end(ap);
}

/*
 * Feeds r the n bytes of resp, piece bytes at a time (0: all at once), as
 * a connection's buffer would hold them: each event's bytes dropped from
 * its front before the next call, more appended when the reader wants
 * them; in goes with the last byte (SL_H1_RD_IN_EOF, ...).
 */
static void
feed(struct sl_h1_reader *r, const char *resp, size_t n, size_t piece,
     unsigned in, struct run *out)
{
	char buf[8192];
	size_t len = 0, fed = 0, k;
	struct sl_h1_rd_event ev;
	enum sl_h1_rd_ev e;

	memset(out, 0, sizeof(*out));
	assert_true(n <= sizeof(buf));
	for (;;) {
		if (fed == 0) {
			k = piece == 0 ? n : (piece < n ? piece : n);
			memcpy(buf + len, resp + fed, k);
			len += k;
			fed += k;
		}
		e = sl_h1_reader_next(r, buf, len, fed == n ? in : 0, &ev);
		assert_true(ev.used <= len);
		if (ev.len > 0) {
			assert_true(ev.data >= buf &&
				    ev.data + ev.len <= buf + len);
			assert_true(out->body_len + ev.len <=
				    sizeof(out->body));
			memcpy(out->body + out->body_len, ev.data, ev.len);
			out->body_len += ev.len;
		}
		memmove(buf, buf + ev.used, len - ev.used);
		len -= ev.used;
		switch (e) {
		case SL_H1_RD_INTERIM:
			note(out, "I%d", ev.resp->status);
			break;
		case SL_H1_RD_HEAD:
			note(out, "H%d", ev.resp->status);
			break;
		case SL_H1_RD_DATA:
			break;
		case SL_H1_RD_END:
			note(out, "E%d", ev.reusable);
			return;
		case SL_H1_RD_MORE:
			if (fed == n) {
				note(out, "M");
				return;
			}
			k = piece < n - fed ? piece : n - fed;
			memcpy(buf + len, resp + fed, k);
			len += k;
			fed += k;
			break;
		default:
			note(out, "F%s:%s", sl_h1_rd_failure(e),
			     sl_h1_reason_str(ev.why));
			return;
		}
	}
}

/* The same response whole, byte by byte and in pieces of 2, 3 and 7:
 * the same events and body every time. Returns the whole's run. */
static void
feed_all(const char *resp, size_t max_head, enum sl_h1_method m, unsigned flags,
	 unsigned in, struct run *whole)
{
	static const size_t pieces[] = {1, 2, 3, 7};
	struct sl_h1_reader r;
	struct run part;

	reader(&r, max_head, m, flags);
	feed(&r, resp, strlen(resp), 0, in, whole);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		reader(&r, max_head, m, flags);
		feed(&r, resp, strlen(resp), pieces[i], in, &part);
		assert_string_equal(part.ev, whole->ev);
		assert_int_equal(part.body_len, whole->body_len);
		assert_memory_equal(part.body, whole->body, whole->body_len);
	}
}

/* feed_all's run of resp must be the events want and, unless body is
 * NULL, the body bytes body. */
static void
expect(const char *resp, size_t max_head, enum sl_h1_method m, unsigned flags,
       unsigned in, const char *want, const char *body)
{
	struct run run;

	feed_all(resp, max_head, m, flags, in, &run);
	assert_string_equal(run.ev, want);
	if (body != NULL) {
		assert_int_equal(run.body_len, strlen(body));
		assert_memory_equal(run.body, body, run.body_len);
	}
}

static void
test_length(void **state)
{
	static const char ok[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
	struct sl_h1_rd_event ev;
	struct sl_h1_reader r;
	char buf[256];

	(void)state;
	expect(ok, 1024, SL_M_GET, 0, 0, "H200 E1", "hello");
	/* the head's event: its fields, its bytes, what it took */
	reader(&r, 1024, SL_M_GET, 0);
	memcpy(buf, ok, sizeof(ok));
	assert_int_equal(sl_h1_reader_next(&r, buf, sizeof(ok) - 1, 0, &ev),
			 SL_H1_RD_HEAD);
	assert_int_equal(ev.head_len, sizeof(ok) - 1 - 5);
	assert_ptr_equal(ev.head, buf);
	assert_int_equal(ev.used, ev.head_len);
	assert_int_equal(ev.resp->nheaders, 2);
	assert_memory_equal(ev.resp->headers[1].value, "b", 1);
	assert_int_equal(ev.resp->body, SL_H1_BODY_LENGTH);
	/* the body, and bytes after it: the connection is out of sync */
	memcpy(buf, "helloHTTP", 9);
	assert_int_equal(sl_h1_reader_next(&r, buf, 9, 0, &ev), SL_H1_RD_END);
	assert_int_equal(ev.used, 5);
	assert_int_equal(ev.len, 5);
	assert_false(ev.reusable);
	/* once ended, it stays so and takes nothing */
	assert_int_equal(sl_h1_reader_next(&r, buf + 5, 4, 0, &ev),
			 SL_H1_RD_END);
	assert_int_equal(ev.used, 0);
	/* the end of the input after the body: no reuse either */
	expect(ok, 1024, SL_M_GET, 0, SL_H1_RD_IN_EOF, "H200 E0", NULL);
	/* HTTP/1.0 without keep-alive, and Connection: close */
	expect("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 1024, SL_M_GET,
	       0, 0, "H200 E0", NULL);
	expect("HTTP/1.1 200 OK\r\nConnection: close\r\n"
	       "Content-Length: 1\r\n\r\nx",
	       1024, SL_M_GET, 0, 0, "H200 E0", NULL);
	/* cut: the bytes that came, then the cut */
	expect("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 1024,
	       SL_M_GET, 0, SL_H1_RD_IN_EOF, "H200 Ftruncated:none", "abc");
	/* dropped: no body bytes come out */
	expect(ok, 1024, SL_M_GET, SL_H1_RD_F_DROP, 0, "H200 E1", "");
}

static void
test_chunked(void **state)
{
	static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
				 "chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n "
				 "world\r\n0\r\nX-T: 1\r\n\r\n";
	const char *framed = strstr(ch, "\r\n\r\n") + 4;

	(void)state;
	/* the payload alone */
	expect(ch, 1024, SL_M_GET, SL_H1_RD_F_PAYLOAD, 0, "H200 E1",
	       "hello world");
	/* framed as it came, the trailer section included */
	expect(ch, 1024, SL_M_GET, 0, 0, "H200 E1", framed);
	/* the end of the input before the last chunk */
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "5\r\nhello\r\n",
	       1024, SL_M_GET, SL_H1_RD_F_PAYLOAD, SL_H1_RD_IN_EOF,
	       "H200 Ftruncated:none", "hello");
	/* a trailer field that frames the message */
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "0\r\nContent-Length: 5\r\n\r\n",
	       1024, SL_M_GET, SL_H1_RD_F_PAYLOAD, 0,
	       "H200 Fbad_chunk:forbidden_trailer", NULL);
}

static void
test_bad_chunk(void **state)
{

	(void)state;
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "zz\r\nhello\r\n0\r\n\r\n",
	       1024, SL_M_GET, SL_H1_RD_F_PAYLOAD, 0,
	       "H200 Fbad_chunk:bad_chunk_size", "");
	/* the payload before the bad chunk comes first, whole or not */
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "5\r\nhello\r\nzz\r\n",
	       1024, SL_M_GET, SL_H1_RD_F_PAYLOAD, 0,
	       "H200 Fbad_chunk:bad_chunk_size", "hello");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "5\r\nhelloXX0\r\n\r\n",
	       1024, SL_M_GET, SL_H1_RD_F_DROP, 0,
	       "H200 Fbad_chunk:bad_chunk_end", NULL);
}

static void
test_close_delimited(void **state)
{
	static const char cl[] = "HTTP/1.1 200 OK\r\n\r\nabc";

	(void)state;
	/* to the connection's end, never reused */
	expect(cl, 1024, SL_M_GET, 0, SL_H1_RD_IN_EOF, "H200 E0", "abc");
	/* not ended while the connection is open */
	expect(cl, 1024, SL_M_GET, 0, 0, "H200 M", "abc");
	/* the stream's mark ends a close-delimited body only at the end */
	expect(cl, 1024, SL_M_GET, 0, SL_H1_RD_IN_ENDED, "H200 M", NULL);
}

static void
test_head_and_no_body(void **state)
{

	(void)state;
	/* a response to HEAD has no body, whatever its length says */
	expect("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 1024, SL_M_HEAD,
	       0, 0, "H200 E1", "");
	/* the same to a GET waits for its ten bytes */
	expect("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 1024, SL_M_GET,
	       0, 0, "H200 M", NULL);
	expect("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 1024,
	       SL_M_GET, 0, 0, "H304 E1", NULL);
}

static void
test_interim(void **state)
{
	static const char in[] =
	    "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
	    "HTTP/1.1 204 No Content\r\n\r\n";
	struct sl_h1_rd_event ev;
	struct sl_h1_reader r;
	char buf[256];

	(void)state;
	/* skipped: one HEAD that takes them all */
	expect(in, 1024, SL_M_GET, 0, 0, "H204 E1", NULL);
	reader(&r, 1024, SL_M_GET, 0);
	memcpy(buf, in, sizeof(in));
	assert_int_equal(sl_h1_reader_next(&r, buf, sizeof(in) - 1, 0, &ev),
			 SL_H1_RD_HEAD);
	assert_int_equal(ev.used, sizeof(in) - 1);
	assert_ptr_equal(ev.head, strstr(buf, "HTTP/1.1 204"));
	/* reported, each in turn */
	expect(in, 1024, SL_M_GET, SL_H1_RD_F_INTERIM, 0, "I100 I103 H204 E1",
	       NULL);
	/* an interim head and then the connection's end */
	expect("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2", 1024, SL_M_GET, 0,
	       SL_H1_RD_IN_EOF, "Fclosed:none", NULL);
}

static void
test_head_too_large(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nX-Pad: aaaaaaaaaaaaaaaa"
				   "aaaaaaaaaaaaaaaa\r\nContent-Length: 0\r\n"
				   "\r\n";
	size_t n = sizeof(head) - 1;

	(void)state;
	/* exactly its bound */
	expect(head, n, SL_M_GET, 0, 0, "H200 E1", NULL);
	/* one byte over, seen whole or as it comes */
	expect(head, n - 1, SL_M_GET, 0, 0, "Fbad_response:head_too_large",
	       NULL);
	/* its bound's worth of bytes without an end: never a head */
	expect("HTTP/1.1 200 OK\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaa", 32, SL_M_GET,
	       0, 0, "Fbad_response:head_too_large", NULL);
	/* what follows the bound never decides: a CR as its last byte,
	 * bare only by the byte after it, is too large, whole or not */
	expect("HTTP/1.1 200 OK aaaaaaaaaaaaaaa\rX", 32, SL_M_GET, 0, 0,
	       "Fbad_response:head_too_large", NULL);
	/* fewer: more is needed */
	expect("HTTP/1.1 200 OK\r\nX-Pad: a", 64, SL_M_GET, 0, 0, "M", NULL);
	/* the end of the input there */
	expect("HTTP/1.1 200 OK\r\nX-Pad: a", 64, SL_M_GET, 0, SL_H1_RD_IN_EOF,
	       "Fclosed:none", NULL);
}

static void
test_bad_head(void **state)
{

	(void)state;
	expect("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n",
	       1024, SL_M_GET, 0, 0, "Fbad_response:cl_te_conflict", NULL);
	expect("HTTP/1.1 200 OK\nX: y\r\n\r\n", 1024, SL_M_GET, 0, 0,
	       "Fbad_response:bare_lf", NULL);
}

/* A head block of status, body and one field x: y into p. Returns its
 * length. */
static size_t
block(char *p, int status, enum sl_h1_body body, uint64_t length)
{
	struct sl_hblk b;

	sl_hblk_init(&b, status);
	b.body = (uint8_t)body;
	b.length = length;
	b.nfields = 1;
	b.len = (uint32_t)(sizeof(b) + SL_HBLK_REC_SIZE(1, 1));
	memcpy(p, &b, sizeof(b));
	sl_hblk_put(p + sizeof(b), "x", 1, "y", 1);
	return b.len;
}

static void
test_codec_blocks(void **state)
{
	struct sl_h1_rd_event ev;
	struct sl_h1_reader r;
	char buf[256];
	size_t n;

	(void)state;
	/* from an HTTP/1.1 peer, the bytes of a head block are a bad head */
	n = block(buf, 200, SL_H1_BODY_NONE, 0);
	reader(&r, 1024, SL_M_GET, 0);
	assert_int_equal(sl_h1_reader_next(&r, buf, n, 0, &ev),
			 SL_H1_RD_BAD_HEAD);
	assert_int_equal(ev.why, SL_H1_R_NUL_BYTE);
	/* a codec's head block, its body pieces, ended by its mark */
	n = block(buf, 200, SL_H1_BODY_STREAM, 0);
	memcpy(buf + n, "piece", 5);
	reader(&r, 1024, SL_M_GET, 0);
	assert_int_equal(
	    sl_h1_reader_next(&r, buf, n + 5, SL_H1_RD_IN_CODEC, &ev),
	    SL_H1_RD_HEAD);
	assert_int_equal(ev.used, n);
	assert_int_equal(ev.resp->nheaders, 1);
	assert_memory_equal(ev.resp->headers[0].name, "x", 1);
	assert_int_equal(
	    sl_h1_reader_next(&r, buf + n, 5, SL_H1_RD_IN_CODEC, &ev),
	    SL_H1_RD_DATA);
	assert_int_equal(ev.len, 5);
	assert_int_equal(
	    sl_h1_reader_next(&r, buf + n, 0,
			      SL_H1_RD_IN_CODEC | SL_H1_RD_IN_ENDED, &ev),
	    SL_H1_RD_END);
	assert_false(ev.reusable); /* a stream serves one request */
	/* a block not all in yet */
	reader(&r, 1024, SL_M_GET, 0);
	assert_int_equal(
	    sl_h1_reader_next(&r, buf, n - 1, SL_H1_RD_IN_CODEC, &ev),
	    SL_H1_RD_MORE);
	/* a block's fields over the head's bound */
	reader(&r, 16, SL_M_GET, 0);
	assert_int_equal(sl_h1_reader_next(&r, buf, n, SL_H1_RD_IN_CODEC, &ev),
			 SL_H1_RD_BAD_HEAD);
	assert_int_equal(ev.why, SL_H1_R_HEAD_TOO_LARGE);
	/* a length, to a HEAD: none */
	n = block(buf, 200, SL_H1_BODY_NONE, 0);
	reader(&r, 1024, SL_M_HEAD, 0);
	assert_int_equal(sl_h1_reader_next(&r, buf, n, SL_H1_RD_IN_CODEC, &ev),
			 SL_H1_RD_HEAD);
	assert_int_equal(
	    sl_h1_reader_next(&r, buf + n, 0, SL_H1_RD_IN_CODEC, &ev),
	    SL_H1_RD_END);
}

static void
test_resume(void **state)
{
	char buf[64] = "3\r\nabc\r\n0\r\n\r\n";
	struct sl_h1_rd_event ev;
	struct sl_h1_reader r;
	struct sl_h1_chunked c;

	(void)state;
	/* a chunked body whose head the exchange read, in its first
	 * chunk's data */
	sl_h1_chunked_init(&c, 1024);
	reader(&r, 1024, SL_M_GET, SL_H1_RD_F_PAYLOAD);
	sl_h1_reader_resume(&r, SL_H1_BODY_CHUNKED, 0, &c);
	assert_int_equal(sl_h1_reader_next(&r, buf, strlen(buf), 0, &ev),
			 SL_H1_RD_END);
	assert_int_equal(ev.len, 3);
	assert_memory_equal(ev.data, "abc", 3);
	assert_false(ev.reusable); /* not its to say */
	/* a length: the bytes left of it */
	reader(&r, 1024, SL_M_GET, 0);
	sl_h1_reader_resume(&r, SL_H1_BODY_LENGTH, 2, NULL);
	assert_int_equal(sl_h1_reader_next(&r, buf, 5, 0, &ev), SL_H1_RD_END);
	assert_int_equal(ev.used, 2);
}

static void
test_failure_names(void **state)
{
	(void)state;
	assert_string_equal(sl_h1_rd_failure(SL_H1_RD_BAD_HEAD),
			    "bad_response");
	assert_string_equal(sl_h1_rd_failure(SL_H1_RD_BAD_BODY), "bad_chunk");
	assert_string_equal(sl_h1_rd_failure(SL_H1_RD_CLOSED), "closed");
	assert_string_equal(sl_h1_rd_failure(SL_H1_RD_TRUNCATED), "truncated");
	assert_string_equal(sl_h1_rd_failure(SL_H1_RD_FAILED), "read");
	assert_null(sl_h1_rd_failure(SL_H1_RD_END));
	assert_null(sl_h1_rd_failure(SL_H1_RD_DATA));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_length),
	    cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_bad_chunk),
	    cmocka_unit_test(test_close_delimited),
	    cmocka_unit_test(test_head_and_no_body),
	    cmocka_unit_test(test_interim),
	    cmocka_unit_test(test_head_too_large),
	    cmocka_unit_test(test_bad_head),
	    cmocka_unit_test(test_codec_blocks),
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_failure_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
