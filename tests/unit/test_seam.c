/* SPDX-License-Identifier: MIT */
/*
 * The exchange through the codec seam alone (seam.h): a fake codec, with
 * no client connection, socket or client.c under it, hands exchanges
 * their heads through a struct sl_seam and takes what they write through
 * its operations. What an exchange answers by itself (no route, a refused
 * or timed-out head, a forbidden client, a body too large), when it asks
 * for the connection to close, pipelining, a drain, and a connection that
 * closes under it. The exchanges with an upstream are the integration
 * tests' (tests/integration), through the real codec. The worker under
 * the exchanges is the daemon's own, made without listening sockets and
 * never run (harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include <cmocka.h>

#include "buf.h"
#include "conf_types.h"
#include "exchange.h"
#include "h1_msg.h"
#include "seam.h"
#include "util.h"
#include "wloop.h"

#include "harness.h"

static const char yaml[] = "listeners:\n"
			   "  - name: public\n"
			   "    address: 127.0.0.1:8080\n"
			   "    limits: { max_requests: 3 }\n"
			   "    routes:\n"
			   "      - match: { path_prefix: /small/ }\n"
			   "        max_body_bytes: 4B\n"
			   "        cluster: demo\n"
			   "      - match: { path_prefix: /private/ }\n"
			   "        deny: [127.0.0.0/8]\n"
			   "        cluster: demo\n"
			   "      - match: { path_prefix: /api/ }\n"
			   "        cluster: demo\n"
			   "clusters:\n"
			   "  - name: demo\n"
			   "    endpoints: [127.0.0.1:9]\n";

/* A codec that records what the exchange asks of it. */
struct fake {
	struct sl_seam s; /* first: the operations get &f->s */
	char out[16384];  /* every byte the exchange had written */
	size_t outlen;
	int hints; /* the last output's SL_EXCHANGE_OUT_* */
	int flushes, want_write, resumes;
	int dones, done_close, done_linger;
	const char *done_why;
	const char *closed; /* close or reset reason, NULL */
	int reset;
};

static struct fake *f;

static int
f_flush(struct sl_seam *s)
{
	struct fake *fk = (struct fake *)s;
	struct iovec iov[2];
	size_t total = 0;
	int n;

	fk->flushes++;
	n = sl_exchange_output(s, iov, &fk->hints);
	for (int i = 0; i < n; i++) {
		assert_true(fk->outlen + iov[i].iov_len <= sizeof(fk->out));
		memcpy(fk->out + fk->outlen, iov[i].iov_base, iov[i].iov_len);
		fk->outlen += iov[i].iov_len;
		total += iov[i].iov_len;
	}
	if (total > 0)
		(void)sl_exchange_sent(s, total);
	return 0;
}

static void
f_want_write(struct sl_seam *s, int on)
{
	((struct fake *)s)->want_write = on;
}

static void
f_resume(struct sl_seam *s)
{
	((struct fake *)s)->resumes++;
}

/* A codec closes its exchange with the connection, as client.c does. */
static void
f_close(struct sl_seam *s, const char *reason)
{
	((struct fake *)s)->closed = reason;
	if (s->txn != NULL)
		sl_exchange_closed(s, reason);
}

static void
f_reset(struct sl_seam *s, const char *reason)
{
	((struct fake *)s)->reset = 1;
	f_close(s, reason);
}

static void
f_done(struct sl_seam *s, const char *why, int close, int linger)
{
	struct fake *fk = (struct fake *)s;

	assert_null(s->txn); /* freed before the codec goes on */
	fk->dones++;
	fk->done_why = why;
	fk->done_close = close;
	fk->done_linger = linger;
	s->nrequests++;
}

static int
f_unacked(struct sl_seam *s)
{
	(void)s;
	return 0;
}

static size_t
f_send_room(struct sl_seam *s)
{
	(void)s;
	return SIZE_MAX;
}

static const char *
f_tls_version(struct sl_seam *s)
{
	(void)s;
	return "";
}

static long
f_write_head(struct sl_seam *s, const struct sl_h1_head *h, char *out,
	     size_t cap, size_t *head_len)
{
	(void)s;
	return sl_h1_write_head(out, cap, h, head_len);
}

static const struct sl_seam_ops fake_ops = {
    .flush = f_flush,
    .want_write = f_want_write,
    .resume = f_resume,
    .close = f_close,
    .reset = f_reset,
    .done = f_done,
    .write_head = f_write_head,
    .unacked = f_unacked,
    .send_room = f_send_room,
    .tls_version = f_tls_version,
};

static int
setup(void **state)
{
	struct sockaddr_in *sin;

	(void)state;
	harness_conf(yaml, 0);
	harness_worker();

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->s.ops = &fake_ops;
	f->s.w = w;
	f->s.gen = w->gen;
	f->s.lconf = &conf->listeners[0];
	f->s.id = 1;
	sin = (struct sockaddr_in *)&f->s.peer;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_null(f->s.txn);
	sl_buf_release(&w->bufs, &f->s.in);
	free(f);
	/* the generation holds the configuration's reference: its last
	 * unref frees it, and the shared state bound to it */
	harness_worker_free();
	return 0;
}

/* Puts bytes in the stream's request buffer, as a codec's read would. */
static void
feed(const char *bytes)
{
	size_t n = strlen(bytes);

	assert_int_equal(sl_buf_alloc(&w->bufs, &f->s.in, 8192), 0);
	assert_true(sl_buf_space(&f->s.in) >= n);
	memcpy(f->s.in.data + f->s.in.len, bytes, n);
	f->s.in.len += (uint32_t)n;
}

/* A head of the request at in.off, up to its blank line. */
static size_t
head_len(void)
{
	const char *p = f->s.in.data + f->s.in.off;
	const char *e = memmem(p, sl_buf_pending(&f->s.in), "\r\n\r\n", 4);

	assert_non_null(e);
	return (size_t)(e - p) + 4;
}

/* The codec's part for a complete head: an exchange, started, pumped. */
static void
exchange(void)
{
	size_t n = head_len();

	assert_non_null(sl_exchange_new(&f->s, sl_now_refresh()));
	sl_exchange_start(&f->s, n);
	if (f->s.txn != NULL)
		(void)sl_exchange_pump(&f->s);
}

static int
out_has(const char *s)
{
	return memmem(f->out, f->outlen, s, strlen(s)) != NULL;
}

static void
test_no_route_keeps_the_connection(void **state)
{
	(void)state;
	feed("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n");
	exchange();
	assert_true(out_has("HTTP/1.1 404 "));
	assert_true(out_has("\"error\":\"no_route\""));
	assert_false(out_has("Connection: close"));
	assert_int_equal(f->dones, 1);
	assert_int_equal(f->done_close, 0);
	assert_null(f->closed);
	assert_int_equal(f->s.in.off, f->s.in.len); /* the head was taken */
}

static void
test_closing_request_closes_after_its_answer(void **state)
{
	(void)state;
	feed("GET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	exchange();
	assert_true(out_has("HTTP/1.1 404 "));
	assert_true(out_has("Connection: close"));
	/* the last bytes: held back for the FIN */
	assert_true(f->hints & SL_EXCHANGE_OUT_LAST);
	assert_int_equal(f->dones, 1);
	assert_int_equal(f->done_close, 1);
	/* a local answer that closes, closes for its own reason */
	assert_string_equal(f->done_why, "no_route");
}

static void
test_head_answer_has_no_body(void **state)
{
	(void)state;
	feed("HEAD /nowhere HTTP/1.1\r\nHost: a\r\n\r\n");
	exchange();
	assert_true(out_has("HTTP/1.1 404 "));
	assert_false(out_has("\"error\""));
	assert_int_equal(f->dones, 1);
}

static void
test_forbidden_client(void **state)
{
	(void)state;
	feed("GET /private/x HTTP/1.1\r\nHost: a\r\n\r\n");
	exchange();
	assert_true(out_has("HTTP/1.1 403 "));
	assert_true(out_has("\"error\":\"forbidden\""));
	assert_int_equal(f->dones, 1);
}

static void
test_body_too_large_for_the_route(void **state)
{
	(void)state;
	feed("POST /small/x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"
	     "0123456789");
	exchange();
	assert_true(out_has("HTTP/1.1 413 "));
	/* a body that was not read: the connection cannot go on */
	assert_true(out_has("Connection: close"));
	assert_int_equal(f->dones, 1);
	assert_int_equal(f->done_close, 1);
	assert_int_equal(f->done_linger, 1);
}

static void
test_refused_head_is_dropped(void **state)
{
	(void)state;
	/* what the codec's scanner refused: the exchange answers it, logs
	 * what can be read of it, and drops it */
	feed("GET /nowhere HTTP/1.1\r\nBad Header: x\r\n\r\n");
	assert_non_null(sl_exchange_new(&f->s, sl_now_refresh()));
	sl_exchange_reject(&f->s, 400, 0);
	(void)sl_exchange_pump(&f->s);
	assert_true(out_has("HTTP/1.1 400 "));
	assert_true(out_has("Connection: close"));
	assert_int_equal(f->s.in.off, f->s.in.len);
	assert_int_equal(f->dones, 1);
	assert_int_equal(f->done_close, 1);
	assert_string_equal(f->done_why, "bad_request");
}

static void
test_head_timed_out(void **state)
{
	(void)state;
	feed("GET /nowh");
	assert_non_null(sl_exchange_new(&f->s, sl_now_refresh()));
	sl_exchange_timed_out(&f->s, "header_timeout");
	(void)sl_exchange_pump(&f->s);
	assert_true(out_has("HTTP/1.1 408 "));
	assert_true(out_has("\"error\":\"request_timeout\""));
	assert_int_equal(f->done_close, 1);
	assert_string_equal(f->done_why, "header_timeout");
}

static void
test_pipelined_requests_one_at_a_time(void **state)
{
	(void)state;
	feed("GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	     "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
	exchange();
	assert_int_equal(f->dones, 1);
	assert_int_equal(f->done_close, 0);
	/* the second head waits at in.off, untouched */
	assert_memory_equal(f->s.in.data + f->s.in.off, "GET /b ", 7);
	exchange();
	assert_int_equal(f->dones, 2);
	assert_int_equal(f->s.in.off, f->s.in.len);
	assert_int_equal(f->s.nrequests, 2);
}

static void
test_last_request_under_max_requests(void **state)
{
	(void)state;
	f->s.nrequests = 2; /* max_requests: 3 */
	feed("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
	exchange();
	assert_true(out_has("Connection: close"));
	assert_int_equal(f->done_close, 1);
}

static void
test_retired_connection_closes_after_the_exchange(void **state)
{
	(void)state;
	f->s.flags |= SL_SEAM_F_RETIRED;
	feed("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
	exchange();
	assert_true(out_has("Connection: close"));
	assert_int_equal(f->done_close, 1);
}

static void
test_closed_under_the_exchange(void **state)
{
	(void)state;
	/* a body that has not all come: the exchange waits for it, its
	 * first attempt under way (a connect to the discard port), and the
	 * connection goes first: the exchange is logged and freed, its
	 * upstream connection with it (ASan finds what would be left) */
	feed("POST /small/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"
	     "ab");
	assert_non_null(sl_exchange_new(&f->s, sl_now_refresh()));
	sl_exchange_start(&f->s, head_len());
	assert_non_null(f->s.txn);
	assert_int_equal(sl_exchange_reading(&f->s), 1);
	f_close(&f->s, "client_closed_in_body");
	assert_null(f->s.txn);
	assert_int_equal(f->dones, 0);
	assert_non_null(w->free_txns); /* given back for the next one */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_route_keeps_the_connection,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_closing_request_closes_after_its_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_answer_has_no_body, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_forbidden_client, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_body_too_large_for_the_route,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_head_is_dropped, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_head_timed_out, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_pipelined_requests_one_at_a_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_last_request_under_max_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_retired_connection_closes_after_the_exchange, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_closed_under_the_exchange,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
