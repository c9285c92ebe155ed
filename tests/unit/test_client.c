/* SPDX-License-Identifier: MIT */
/*
 * The client connection (client.c), its HTTP/1 codec and the exchange
 * under it, driven through the memory transport (xprt.h): a connection is
 * made on one end of a pair, the test plays the client on the other, and
 * the worker's own event loop and deadline lists run between its steps
 * (harness.h). Local answers, pipelining, a head in pieces (its scanner
 * kept off the struct between them), half-close (after a request, after
 * pipelined ones, in a head, in a body), a reset while the upstream
 * thinks, the idle, header, body and send deadlines, a client that takes
 * no bytes or a few at a time, and exchanges with an upstream on a
 * 127.0.0.1 socket that the test serves between the loop's
 * turns: answered (then pooled), silent (the route's timeout), refused,
 * and cut before or after its response head. Assertions read what the
 * client end received (and whether it ended with a FIN or a reset), the
 * connection's state and close reason, the access log lines the worker
 * batches, and the worker's and listener's counters. No sleeping: a
 * deadline under test is short, the others long, and the loop runs until
 * what a test waits for is seen (bounded by WAIT_MS).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "client_int.h"
#include "h1_parse.h"
#include "runtime.h"
#include "wloop.h"
#include "xprt.h"

#include "harness.h"

/* Two listeners with the same routes: "calm" has the default limits (no
 * deadline of the client's can fire while a test runs), "quick" short
 * ones, for the tests of those deadlines. /up/ goes to the test's
 * upstream, /late/ too with a short timeout, /down/ to a port where
 * nothing listens. */
#define ROUTES                                                                 \
	"    routes:\n"                                                        \
	"      - match: { path_prefix: /up/ }\n"                               \
	"        cluster: up\n"                                                \
	"      - match: { path_prefix: /late/ }\n"                             \
	"        cluster: up\n"                                                \
	"        timeout: 50ms\n"                                              \
	"      - match: { path_prefix: /down/ }\n"                             \
	"        cluster: down\n"                                              \
	"      - match: { path_prefix: /small/ }\n"                            \
	"        cluster: up\n"                                                \
	"        max_body_bytes: 16B\n"                                        \
	"      - match: { path_prefix: /again/ }\n"                            \
	"        cluster: up\n"                                                \
	"        retry: { attempts: 2 }\n"
static const char yaml_fmt[] =
    "listeners:\n"
    "  - name: calm\n"
    "    address: 127.0.0.1:8080\n" ROUTES "  - name: quick\n"
    "    address: 127.0.0.1:8081\n"
    "    limits: { header_timeout: 50ms, idle_timeout: 50ms,\n"
    "              send_timeout: 50ms, body_timeout: 50ms }\n" ROUTES
    "clusters:\n"
    "  - name: up\n"
    "    endpoints: [127.0.0.1:%d]\n"
    "  - name: down\n"
    "    endpoints: [127.0.0.1:%d]\n";

enum { CALM, QUICK };

/* The upstream: a listening socket on 127.0.0.1, served between the
 * loop's turns (serve_upstream). */
static int up_lfd = -1, up_fd = -1;
static int up_accepts;
static char up_got[8192];
static size_t up_gotlen;
/* what the upstream does once a request head came: its answer (NULL:
 * none), and whether it then closes */
static const char *up_answer;
static int up_close_after;
static int up_close_once; /* up_close_after for one connection only */

/* A listening socket on 127.0.0.1 for the upstream. Returns its port. */
static int
upstream_listen(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	up_lfd = fd;
	return ntohs(sin.sin_port);
}

/* One step of the upstream: accept, read, answer as told. */
static void
serve_upstream(void)
{
	ssize_t n;
	int fd;

	if (up_fd == -1 && (fd = accept(up_lfd, NULL, NULL)) >= 0) {
		(void)fcntl(fd, F_SETFL, O_NONBLOCK);
		up_fd = fd;
		up_accepts++;
		up_gotlen = 0;
	}
	if (up_fd == -1)
		return;
	while ((n = recv(up_fd, up_got + up_gotlen,
			 sizeof(up_got) - 1 - up_gotlen, 0)) > 0)
		up_gotlen += (size_t)n;
	up_got[up_gotlen] = '\0';
	if (n == 0) {
		close(up_fd);
		up_fd = -1;
		return;
	}
	if (strstr(up_got, "\r\n\r\n") == NULL)
		return;
	if (up_answer != NULL) {
		size_t len = strlen(up_answer);
		assert_int_equal(send(up_fd, up_answer, len, MSG_NOSIGNAL),
				 (ssize_t)len);
	}
	if (up_answer != NULL || up_close_after) {
		up_gotlen = 0;
		up_got[0] = '\0';
	}
	if (up_close_after) {
		close(up_fd);
		up_fd = -1;
		if (up_close_once)
			up_close_after = 0;
	}
}

/* A port where nothing listens (it was bound, then closed). */
static int
closed_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* The client writes s and shuts its write side; the loop runs until the
 * connection has closed. */
static void
write_then_shut(const char *s)
{
	client_write(s);
	sl_xprt_mem_shutdown(cli);
	run_until(closed);
}

static int
setup(void **state)
{
	char yaml[2048];
	int up_port = upstream_listen();

	(void)state;
	snprintf(yaml, sizeof(yaml), yaml_fmt, up_port, closed_port());
	harness_setup(yaml, 0, serve_upstream);
	up_accepts = 0;
	up_gotlen = 0;
	up_answer = NULL;
	up_close_after = 0;
	up_close_once = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (up_fd != -1)
		close(up_fd);
	close(up_lfd);
	up_fd = up_lfd = -1;
	harness_close_all();
	harness_teardown();
	return 0;
}

/* ---- answered by sluice itself ------------------------------------------ */

static void
test_local_answer_keeps_the_connection(void **state)
{
	(void)state;
	client_connect(CALM);
	client_get("/nowhere");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 404 "));
	assert_non_null(strstr(got, "\"error\":\"no_route\""));
	assert_null(strstr(got, "Connection: close"));
	assert_kept();
	assert_int_equal(c->s.nrequests, 1);
	assert_true(alog_has("\"path\":\"/nowhere\""));
	assert_true(alog_has("\"status\":404"));
	assert_true(alog_has("\"close\":\"\""));
}

static void
test_pipelined_requests_answered_in_order(void **state)
{
	const char *a, *b;

	(void)state;
	client_connect(CALM);
	/* two requests in one write */
	client_write("GET /one HTTP/1.1\r\nHost: a\r\nX-Request-Id: req-one\r\n"
		     "\r\n"
		     "GET /two HTTP/1.1\r\nHost: a\r\nX-Request-Id: req-two\r\n"
		     "\r\n");
	run_until(two_responses);
	a = strstr(got, "X-Request-Id: req-one");
	b = strstr(got, "X-Request-Id: req-two");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_int_equal(c->s.nrequests, 2);
	assert_kept();
	a = strstr(w->alog->data, "\"path\":\"/one\"");
	b = strstr(w->alog->data, "\"path\":\"/two\"");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
}

static void
test_head_in_pieces(void **state)
{
	(void)state;
	client_connect(CALM);
	client_write("GET /nowh");
	run_ready();
	assert_int_equal(c->state, SL_CLIENT_ST_HEAD);
	/* the scanner's state waits off the struct between the pieces */
	assert_non_null(c->scan);
	client_write("ere HTTP/1.1\r\nHo");
	run_ready();
	assert_int_equal(c->state, SL_CLIENT_ST_HEAD);
	assert_non_null(c->scan);
	assert_int_equal(gotlen, 0);
	client_write("st: a\r\n\r\n");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 404 "));
	assert_int_equal(c->state, SL_CLIENT_ST_IDLE);
	assert_null(c->scan); /* freed with the head */
	assert_true(alog_has("\"path\":\"/nowhere\""));
}

static void
test_half_close_after_a_request(void **state)
{
	(void)state;
	client_connect(CALM);
	/* the client sends its request and shuts its write side: it still
	 * gets its answer, then the end */
	write_then_shut("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n");
	drain_client();
	assert_int_equal(responses(), 1);
	assert_non_null(strstr(got, "HTTP/1.1 404 "));
	assert_int_equal(got_eof, 1); /* a FIN, not a reset */
	assert_string_equal(c->s.close_reason, "client_closed");
	assert_int_equal(closed_count(SL_CLOSE_CLIENT_CLOSED), 1);
}

static void
test_half_close_after_pipelined_requests(void **state)
{
	(void)state;
	client_connect(CALM);
	write_then_shut("GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
			"GET /two HTTP/1.1\r\nHost: a\r\n\r\n");
	drain_client();
	assert_int_equal(responses(), 2);
	assert_int_equal(got_eof, 1);
	assert_int_equal(c->s.nrequests, 2);
}

static void
test_half_close_while_the_upstream_answers(void **state)
{
	(void)state;
	client_connect(CALM);
	/* the end of the client's stream is read while the exchange waits
	 * for its upstream: the answer still goes out, then the FIN */
	up_answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	write_then_shut("GET /up/a HTTP/1.1\r\nHost: a\r\n\r\n");
	drain_client();
	assert_int_equal(responses(), 1);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_int_equal(got_eof, 1);
	assert_int_equal(closed_count(SL_CLOSE_CLIENT_CLOSED), 1);
	assert_true(alog_has("\"status\":200"));
}

static void
test_half_close_in_a_head(void **state)
{
	(void)state;
	client_connect(CALM);
	write_then_shut("GET /nowhere HTTP/1.1\r\nHo");
	assert_int_equal(gotlen, 0);
	assert_string_equal(c->s.close_reason, "client_closed_in_head");
}

/* ---- deadlines ---------------------------------------------------------- */

static void
test_idle_timeout_on_a_new_connection(void **state)
{
	(void)state;
	client_connect(QUICK);
	run_until(closed);
	assert_int_equal(gotlen, 0);
	assert_int_equal(got_eof, 1);
	assert_string_equal(c->s.close_reason, "idle_timeout");
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_IDLE]), 1);
	assert_int_equal(closed_count(SL_CLOSE_IDLE_TIMEOUT), 1);
}

static void
test_idle_timeout_after_a_request(void **state)
{
	(void)state;
	client_connect(QUICK);
	client_get("/nowhere");
	run_until(one_response);
	assert_int_equal(c->state, SL_CLIENT_ST_IDLE);
	run_until(closed);
	assert_int_equal(responses(), 1);
	assert_int_equal(got_eof, 1);
	assert_string_equal(c->s.close_reason, "idle_timeout");
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_IDLE]), 1);
}

static void
test_header_timeout(void **state)
{
	(void)state;
	client_connect(QUICK);
	/* a head that never ends: 408, and the connection lingers (it
	 * reads and drops what comes) until the client closes */
	client_write("GET /nowhere HTTP/1.1\r\nHost: a\r\n");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 408 "));
	assert_non_null(strstr(got, "\"error\":\"request_timeout\""));
	assert_non_null(strstr(got, "Connection: close"));
	assert_int_equal(got_eof, 1); /* the write side is shut */
	assert_int_equal(c->state, SL_CLIENT_ST_LINGER);
	write_then_shut("more");
	assert_string_equal(c->s.close_reason, "header_timeout");
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_HEADER]), 1);
	assert_int_equal(closed_count(SL_CLOSE_REQUEST_TIMEOUT), 1);
	assert_true(alog_has("\"status\":408"));
	assert_true(alog_has("\"close\":\"header_timeout\""));
}

static void
test_slow_reader_cut_by_send_timeout(void **state)
{
	(void)state;
	client_connect(QUICK);
	/* the client takes no bytes at all: the answer cannot be written,
	 * and send_timeout closes the connection */
	sl_xprt_mem_set_window(cli, 0);
	client_get("/nowhere");
	run_until(closed);
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_SEND]), 1);
	assert_int_equal(closed_count(SL_CLOSE_SEND_TIMEOUT), 1);
	assert_string_equal(c->s.close_reason, "send_timeout");
	assert_true(alog_has("\"close\":\"send_timeout\""));
	drain_client();
	assert_int_equal(got_eof, 1);
	assert_int_equal(gotlen, 0);
}

static void
test_slow_reader_gets_its_answer(void **state)
{
	(void)state;
	client_connect(CALM);
	/* a window of a few bytes: the answer goes out a few bytes at a
	 * time as the client takes them, within send_timeout each time */
	sl_xprt_mem_set_window(cli, 7);
	client_get("/nowhere");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 404 "));
	assert_int_equal(got_eof, 0);
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_SEND]), 0);
}

/* ---- with an upstream ----------------------------------------------------*/

static void
test_upstream_answers(void **state)
{
	(void)state;
	client_connect(CALM);
	up_answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	client_get("/up/a");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "\r\n\r\nhello"));
	assert_int_equal(up_accepts, 1);
	assert_kept();
	assert_true(alog_has("\"status\":200"));
	/* the next request goes on the pooled connection */
	up_answer = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbye";
	client_get("/up/b");
	run_until(two_responses);
	assert_non_null(strstr(got, "\r\n\r\nbye"));
	assert_int_equal(up_accepts, 1);
}

static void
test_upstream_silent_route_timeout(void **state)
{
	(void)state;
	client_connect(CALM);
	/* the upstream takes the request and says nothing: 504 at the
	 * route's timeout, and the connection is kept */
	client_get("/late/a");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 504 "));
	assert_kept();
	assert_true(alog_has("\"status\":504"));
}

static void
test_upstream_cut_before_its_head(void **state)
{
	(void)state;
	client_connect(CALM);
	/* the upstream reads the request and closes: a POST is not sent
	 * twice, the client gets a 502 and keeps its connection */
	up_close_after = 1;
	client_write("POST /up/a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
		     "\r\n");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 502 "));
	assert_kept();
	assert_true(alog_has("\"status\":502"));
}

static void
test_upstream_cut_after_its_head(void **state)
{
	(void)state;
	client_connect(CALM);
	/* the head and part of the body went to the client: the client's
	 * connection is reset, so that it cannot take the part for all */
	up_answer = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart";
	up_close_after = 1;
	client_get("/up/a");
	run_until(reset_seen);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_int_equal(responses(), 0); /* never complete */
	assert_true(closed());
	assert_int_equal(closed_count(SL_CLOSE_UPSTREAM_CUT), 1);
	assert_true(alog_has("\"status\":200"));
}

static void
test_body_timeout(void **state)
{
	(void)state;
	client_connect(QUICK);
	/* a body that stops coming: 408 and the close, the upstream's
	 * connection with it */
	client_write("POST /up/a HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
		     "\r\nabc");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 408 "));
	assert_non_null(strstr(got, "Connection: close"));
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_BODY]), 1);
	assert_true(alog_has("\"status\":408"));
	assert_int_equal(up_accepts, 1);
	sl_xprt_mem_shutdown(cli);
	run_until(closed);
	assert_string_equal(c->s.close_reason, "body_timeout");
	assert_int_equal(closed_count(SL_CLOSE_REQUEST_TIMEOUT), 1);
}

static void
test_client_closed_in_body(void **state)
{
	(void)state;
	client_connect(CALM);
	/* the client shuts its side in the middle of its body: no answer
	 * can follow, the connection closes at once */
	write_then_shut(
	    "POST /up/a HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
	    "\r\nabc");
	assert_string_equal(c->s.close_reason, "client_closed_in_body");
	assert_int_equal(closed_count(SL_CLOSE_CLIENT_CLOSED), 1);
	assert_true(alog_has("\"close\":\"client_closed_in_body\""));
}

static void
test_client_reset_while_the_upstream_thinks(void **state)
{
	(void)state;
	client_connect(CALM);
	/* the request went upstream; the client resets before the answer:
	 * the exchange is logged (499: nothing was answered) and the
	 * upstream connection is not kept */
	client_get("/up/a");
	run_ready();
	assert_int_equal(c->state, SL_CLIENT_ST_TXN);
	sl_xprt_mem_reset(cli);
	cli = NULL;
	run_ready();
	assert_int_equal(c->state, SL_CLIENT_ST_CLOSED);
	assert_string_equal(c->s.close_reason, "client_read_error");
	assert_true(alog_has("\"status\":499"));
}

static void
test_upstream_refused(void **state)
{
	(void)state;
	client_connect(CALM);
	/* nothing listens: the connect fails, the client gets a 502 and
	 * keeps its connection */
	client_get("/down/a");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 502 "));
	assert_true(alog_has("\"error\":\"upstream_connect_failed\""));
	assert_kept();
}

/* ---- a chunked request body: the codec decodes it ---------------------- */

#define CHUNKED_POST                                                           \
	"POST /up/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

/* The upstream got a whole chunked body: its last chunk, and the empty
 * line that ends the trailer section. */
static int
up_body_whole(void)
{
	const char *b = strstr(up_got, "\r\n\r\n");

	return b != NULL && strstr(b + 2, "\r\n0\r\n") != NULL &&
	       up_gotlen >= 4 &&
	       memcmp(up_got + up_gotlen - 4, "\r\n\r\n", 4) == 0;
}

/* The payload of the chunked body the upstream got, decoded by the
 * library's decoder, in out. */
static void
up_payload(char *out, size_t cap)
{
	struct sl_h1_chunked ck;
	char *b = strstr(up_got, "\r\n\r\n") + 4;
	size_t consumed, data;

	sl_h1_chunked_init(&ck, 1024);
	assert_int_equal(
	    sl_h1_chunked_decode(&ck, b, strlen(b), 1, &consumed, &data), 1);
	assert_true(data < cap);
	memcpy(out, b, data);
	out[data] = '\0';
}

static void
test_chunked_body_goes_up_as_its_payload(void **state)
{
	char n[64];

	(void)state;
	client_connect(CALM);
	/* two chunks, an extension, a trailer, and the next request, in
	 * one write: the payload read at once goes as one chunk, the last
	 * chunk with the trailer in the same write; the next request waits
	 * for this one's answer */
	client_write(CHUNKED_POST
		     "3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
		     "GET /up/b HTTP/1.1\r\nHost: a\r\n\r\n");
	run_until(up_body_whole);
	assert_non_null(
	    strstr(up_got, "\r\n\r\n5\r\nabcde\r\n0\r\nX-T: 1\r\n\r\n"));
	assert_non_null(strstr(up_got, "Transfer-Encoding: chunked\r\n"));
	assert_null(strstr(up_got, "x=1"));
	assert_null(strstr(up_got, "/up/b"));
	up_answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	run_until(two_responses);
	assert_int_equal(c->s.nrequests, 2);
	assert_true(alog_has("\"path\":\"/up/b\""));
	assert_null(c->bodies); /* gone with its exchange */
	assert_kept();
	/* what the client sent, framing included */
	snprintf(n, sizeof(n), "\"bytes_in\":%zu,",
		 strlen(CHUNKED_POST
			"3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"));
	assert_true(alog_has(n));
}

static void
test_chunked_body_in_pieces(void **state)
{
	static const char *const piece[] = {CHUNKED_POST "3",
					    "\r",
					    "\nab",
					    "c\r\n4\r\ndefg\r",
					    "\n0\r\nX-T",
					    ": 1\r\n",
					    "\r\nGET /up/b HTTP/1.1\r\nHo",
					    "st: a\r\n\r\n"};
	char payload[64];

	(void)state;
	client_connect(CALM);
	/* every cut: in a size line, before its LF, in the payload, in the
	 * trailer, in the next request's head, which stays held */
	for (size_t i = 0; i < sizeof(piece) / sizeof(piece[0]); i++) {
		client_write(piece[i]);
		run_ready();
	}
	run_until(up_body_whole);
	up_payload(payload, sizeof(payload));
	assert_string_equal(payload, "abcdefg");
	assert_non_null(strstr(up_got, "\r\n0\r\nX-T: 1\r\n\r\n"));
	assert_null(strstr(up_got, "/up/b"));
	up_answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	run_until(two_responses);
	assert_true(alog_has("\"path\":\"/up/b\""));
	assert_kept();
}

static void
test_half_close_after_a_chunked_body(void **state)
{
	(void)state;
	client_connect(CALM);
	/* the whole body, then the client's FIN: it is answered, not cut
	 * for closing in its body */
	up_answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	client_write(CHUNKED_POST "2\r\nhi\r\n0\r\n\r\n");
	sl_xprt_mem_shutdown(cli);
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	run_until(closed);
	assert_false(alog_has("client_closed_in_body"));
}

static void
test_malformed_chunk_is_refused(void **state)
{
	(void)state;
	client_connect(CALM);
	client_write(CHUNKED_POST "2\r\nhi\r\nzz\r\n");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 400 "));
	assert_non_null(strstr(got, "Connection: close"));
	assert_true(alog_has("\"status\":400"));
	assert_int_equal(SL_STAT_GET(w->stats.rejected[SL_H1_R_BAD_CHUNK_SIZE]),
			 1);
}

static void
test_announced_chunk_past_the_limit_is_refused(void **state)
{
	(void)state;
	client_connect(CALM);
	/* /small/ takes 16 bytes: a chunk of 255 is refused as announced,
	 * before its bytes come */
	client_write("POST /small/a HTTP/1.1\r\nHost: a\r\n"
		     "Transfer-Encoding: chunked\r\n\r\nff\r\n");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 413 "));
	assert_int_equal(SL_STAT_GET(w->stats.rejected[SL_H1_R_BODY_TOO_LARGE]),
			 1);
}

static void
test_bytes_held_after_a_chunked_body_stop_reading_when_full(void **state)
{
	static char more[100 * 1024];

	(void)state;
	client_connect(CALM);
	/* the upstream has the request and says nothing yet; a pipelining
	 * client's next bytes wait past the body's end (held while its
	 * exchange lasts) and fill the buffer: reading stops then. It went
	 * on asking for a readable socket it would not read, a busy loop
	 * for as long as the upstream took (the held bytes were not counted
	 * as taking room) */
	client_write(CHUNKED_POST "2\r\nhi\r\n0\r\n\r\n");
	run_until(up_body_whole);
	memset(more, 'x', sizeof(more) - 1);
	client_write(more);
	run_ready();
	assert_int_equal(c->state, SL_CLIENT_ST_TXN);
	assert_non_null(c->bodies);
	assert_true(c->bodies->tail > 0);
	assert_false(c->s.flags & C_F_REV);
}

/* The upstream closed a connection after a request (up_close_after) and
 * has the next one's head. */
static int
up_second_request(void)
{
	return up_accepts == 2 && up_body_whole();
}

static void
test_chunked_body_framed_again_for_a_retry(void **state)
{
	char payload[64];

	(void)state;
	client_connect(CALM);
	/* the first connection takes the request and closes: the kept body
	 * goes again on a new connection, framed from its start by that
	 * connection's writer */
	up_close_after = up_close_once = 1;
	client_write("PUT /again/a HTTP/1.1\r\nHost: a\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n"
		     "3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n");
	run_until(up_second_request);
	up_payload(payload, sizeof(payload));
	assert_string_equal(payload, "abcde");
	assert_non_null(strstr(up_got, "\r\n0\r\nX-T: 1\r\n\r\n"));
	up_answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_true(alog_has("\"retries\":1"));
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_local_answer_keeps_the_connection),
	    T(test_pipelined_requests_answered_in_order),
	    T(test_head_in_pieces),
	    T(test_half_close_after_a_request),
	    T(test_half_close_after_pipelined_requests),
	    T(test_half_close_while_the_upstream_answers),
	    T(test_half_close_in_a_head),
	    T(test_idle_timeout_on_a_new_connection),
	    T(test_idle_timeout_after_a_request),
	    T(test_header_timeout),
	    T(test_slow_reader_cut_by_send_timeout),
	    T(test_slow_reader_gets_its_answer),
	    T(test_upstream_answers),
	    T(test_upstream_silent_route_timeout),
	    T(test_upstream_cut_before_its_head),
	    T(test_upstream_cut_after_its_head),
	    T(test_body_timeout),
	    T(test_client_closed_in_body),
	    T(test_client_reset_while_the_upstream_thinks),
	    T(test_upstream_refused),
	    T(test_chunked_body_goes_up_as_its_payload),
	    T(test_chunked_body_in_pieces),
	    T(test_half_close_after_a_chunked_body),
	    T(test_malformed_chunk_is_refused),
	    T(test_announced_chunk_past_the_limit_is_refused),
	    T(test_chunked_body_framed_again_for_a_retry),
	    T(test_bytes_held_after_a_chunked_body_stop_reading_when_full),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
