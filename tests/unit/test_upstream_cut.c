/* SPDX-License-Identifier: MIT */
/*
 * An upstream cut in each of its phases (exchange_int.h: connecting,
 * sending, waiting, receiving) and a pooled connection found dead, with
 * both sides on the memory transport (xprt.h): the client on a memory end
 * as in test_client.c, and every upstream connection on one too, made by
 * the endpoints' connector (upstream.h), so that the test decides when a
 * connect completes or fails, how much an upstream takes in, and exactly
 * where its answer stops (a reset or a FIN). The worker's own loop runs
 * between the test's steps (harness.h), until what a test waits for is
 * seen (bounded by WAIT_MS, no sleeping). Assertions read what the client
 * received (and whether it ended with a FIN or a reset), what each upstream
 * connection received, the exchange's phases as its debug decoder writes them,
 * the worker's, cluster's and listener's counters, the access log lines and the
 * error log (stderr, captured).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "client_int.h"
#include "conf_types.h"
#include "exchange.h"
#include "retry.h"
#include "runtime.h"
#include "upstream.h"
#include "wloop.h"
#include "xprt.h"

#include "harness.h"

/* The endpoints' ports name them (never connected: every connection is on
 * a memory end). /one/ and /once/ go to one endpoint, with the default
 * retry policy and with retries off; /two/ to two endpoints; /slow/ to an
 * endpoint with a 50 ms connect_timeout; /tls/ to a cluster with TLS.
 * buffer_bytes is 16 KiB, so that a body of 8000 bytes is kept for a
 * retry and one of 40000 is not. */
#define PORT0 9000
static const char yaml[] =
    "listeners:\n"
    "  - name: gw\n"
    "    address: 127.0.0.1:8080\n"
    "    limits: { buffer_bytes: 16KiB, max_header_bytes: 8KiB }\n"
    "    routes:\n"
    "      - match: { path_prefix: /one/ }\n"
    "        cluster: one\n"
    "      - match: { path_prefix: /once/ }\n"
    "        cluster: one\n"
    "        retry: { attempts: 1 }\n"
    "      - match: { path_prefix: /two/ }\n"
    "        cluster: two\n"
    "      - match: { path_prefix: /slow/ }\n"
    "        cluster: slow\n"
    "        retry: { attempts: 1 }\n"
    "      - match: { path_prefix: /tls/ }\n"
    "        cluster: tls\n"
    "        retry: { attempts: 1 }\n"
    "clusters:\n"
    "  - name: one\n"
    "    endpoints: [127.0.0.1:9001]\n"
    "  - name: two\n"
    "    endpoints: [127.0.0.1:9002, 127.0.0.1:9003]\n"
    "  - name: slow\n"
    "    endpoints: [127.0.0.1:9004]\n"
    "    connect_timeout: 50ms\n"
    "  - name: tls\n"
    "    endpoints: [127.0.0.1:9005]\n"
    "    tls: { verify: false }\n";

enum { CL_ONE, CL_TWO, CL_SLOW, CL_TLS };

static const char ok_a[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfrom-a";
static const char ok_b[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfrom-b";

/*
 * The upstream connections, in the order the connector made them. What
 * one does is set by a test before it is made (ups[i] is zeroed at
 * setup); what it saw is kept for the assertions.
 */
#define MAXUP 8
struct up {
	struct sl_xprt_mem *e; /* the test's end; NULL once the test closed
				  it (or refused at once) */
	int ep;		       /* its endpoint: the port less PORT0 */
	/* what it does */
	int refuse;	    /* refuse the connect at once with this errno */
	int hold;	    /* hold the connect until the test says */
	int stall;	    /* read nothing */
	size_t window;	    /* its receive window (0: no limit) */
	const char *answer; /* written for every whole request */
	/* what it saw */
	char got[65536];
	size_t gotlen;
	size_t taken; /* got's bytes of whole requests */
	int nreq;     /* whole requests read */
	int ended;    /* its peer closed or shut down: 1, or reset: 2 */
};
static struct up ups[MAXUP];
static int nups;

/* the error log (stderr), captured between setup and teardown */
static int log_fd = -1, saved_stderr = -1;

/* The endpoints' connector: the connection's end of a new pair, the
 * other end kept in ups[] and set up as the test planned. */
static int
connector(struct sl_wendpoint *ep, struct sl_xprt_mem **end)
{
	const struct sockaddr_in *sin =
	    (const struct sockaddr_in *)&ep->conf->addr.ss;
	struct up *u;

	if (nups == MAXUP) {
		errno = EMFILE;
		return -1;
	}
	u = &ups[nups++];
	u->ep = ntohs(sin->sin_port) - PORT0;
	if (u->refuse != 0) {
		errno = u->refuse;
		return -1;
	}
	if (sl_xprt_mem_pair(end, &u->e) == -1)
		return -1;
	if (u->hold)
		sl_xprt_mem_hold(u->e);
	if (u->window > 0)
		sl_xprt_mem_set_window(u->e, u->window);
	return 0;
}

/* The end of the first whole request in u->got past taken (a head, and as
 * many body bytes as its Content-Length says), or 0. */
static size_t
whole_request(const struct up *u)
{
	const char *p = u->got + u->taken, *e = strstr(p, "\r\n\r\n");
	const char *cl;
	size_t end;

	if (e == NULL)
		return 0;
	end = (size_t)(e + 4 - u->got);
	cl = strstr(p, "Content-Length: ");
	if (cl != NULL && cl < e)
		end += (size_t)atoi(cl + 16);
	return end <= u->gotlen ? end : 0;
}

/* One step of every upstream connection: read what came, answer whole
 * requests as told. */
static void
serve_upstreams(void)
{
	for (int i = 0; i < nups; i++) {
		struct up *u = &ups[i];
		size_t end;
		ssize_t n = -1;

		if (u->e == NULL || u->stall || u->ended ||
		    sl_xprt_mem_held_connect(u->e))
			continue;
		while ((n = sl_xprt_mem_read(u->e, u->got + u->gotlen,
					     sizeof(u->got) - 1 - u->gotlen)) >
		       0)
			u->gotlen += (size_t)n;
		u->got[u->gotlen] = '\0';
		if (n == 0)
			u->ended = 1;
		else if (errno == ECONNRESET)
			u->ended = 2;
		while ((end = whole_request(u)) > 0) {
			u->taken = end;
			u->nreq++;
			if (u->answer != NULL && !u->ended) {
				size_t len = strlen(u->answer);
				assert_int_equal(
				    sl_xprt_mem_write(u->e, u->answer, len),
				    (ssize_t)len);
			}
		}
	}
}

static int
first_up_made(void)
{
	return nups >= 1;
}

static int
first_up_took_a_request(void)
{
	return nups >= 1 && ups[0].nreq >= 1;
}

static int
second_up_took_a_request(void)
{
	return nups >= 2 && ups[1].nreq >= 1;
}

/* The exchange's phases in words (sl_exchange_state_str), "" when the
 * connection has none. */
static const char *
phases(void)
{
	static char buf[256];

	if (c->s.txn == NULL)
		return "";
	return sl_exchange_state_str(c->s.txn, buf, sizeof(buf));
}

static int
sending_blocked(void)
{
	return strstr(phases(), "up=sending send=blocked") != NULL;
}

static int
waiting(void)
{
	return strstr(phases(), "up=waiting send=done") != NULL;
}

/* The error log so far. */
static int
errlog_has(const char *s)
{
	static char buf[65536];
	ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	return strstr(buf, s) != NULL;
}

static struct sl_clstate *
cluster(int i)
{
	return conf->clusters[i].state;
}

/* The pool of endpoint port PORT0 + i. */
static struct sl_wendpoint *
endpoint(int i)
{
	struct sl_wendpoint *ep;

	TAILQ_FOREACH(ep, &w->eps, link)
	{
		const struct sockaddr_in *sin =
		    (const struct sockaddr_in *)&ep->conf->addr.ss;
		if (ntohs(sin->sin_port) == PORT0 + i)
			return ep;
	}
	fail_msg("no endpoint %d", PORT0 + i);
	return NULL;
}

/* A request with a body of n bytes of 'x'. */
static void
client_write_body(const char *method, const char *path, size_t n)
{
	char head[256];
	char *body = malloc(n);

	assert_non_null(body);
	memset(body, 'x', n);
	snprintf(head, sizeof(head),
		 "%s %s HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n",
		 method, path, n);
	client_write(head);
	assert_int_equal(sl_xprt_mem_write(cli, body, n), (ssize_t)n);
	free(body);
}

/* The test's end of upstream connection i: a reset, or a close (FIN). */
static void
up_reset(int i)
{
	sl_xprt_mem_reset(ups[i].e);
	ups[i].e = NULL;
}

static void
up_close(int i)
{
	sl_xprt_mem_close(ups[i].e);
	ups[i].e = NULL;
}

static void
up_write(int i, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(sl_xprt_mem_write(ups[i].e, s, n), (ssize_t)n);
}

/* Resets upstream connection i, then runs the loop until the client has a
 * response. */
static void
up_reset_until_response(int i)
{
	up_reset(i);
	run_until(one_response);
}

/* The client's response is a 502 for an upstream's reset. */
static void
assert_upstream_reset_502(void)
{
	assert_non_null(strstr(got, "HTTP/1.1 502 "));
	assert_non_null(strstr(got, "\"error\":\"upstream_reset\""));
}

/* The request went to a second connection, on the other endpoint, which
 * took it once. */
static void
assert_other_endpoint_took_it(void)
{
	assert_int_equal(nups, 2);
	assert_int_not_equal(ups[0].ep, ups[1].ep);
	assert_int_equal(ups[1].nreq, 1);
}

static int
setup(void **state)
{
	char path[] = "/tmp/sluice-test-upcut.XXXXXX";
	struct sl_wendpoint *ep;

	(void)state;
	/* with the TLS cluster's context, as the daemon loads it */
	harness_setup(yaml, 1, serve_upstreams);
	/* every endpoint's connections on memory ends */
	TAILQ_FOREACH(ep, &w->eps, link)
	ep->connector = connector;

	memset(ups, 0, sizeof(ups));
	nups = 0;
	log_fd = mkstemp(path);
	assert_true(log_fd >= 0);
	unlink(path);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(log_fd, 2), 2);
	/* every test plays a client of the one listener */
	client_connect(0);
	return 0;
}

static int
teardown(void **state)
{
	char buf[4096];
	ssize_t n;
	off_t off = 0;

	(void)state;
	harness_close_all();
	for (int i = 0; i < nups; i++)
		if (ups[i].e != NULL)
			sl_xprt_mem_close(ups[i].e);
	harness_teardown();

	/* the error log goes where stderr went, after the fact */
	assert_int_equal(dup2(saved_stderr, 2), 2);
	close(saved_stderr);
	while ((n = pread(log_fd, buf, sizeof(buf), off)) > 0) {
		(void)!write(2, buf, (size_t)n);
		off += n;
	}
	close(log_fd);
	log_fd = -1;
	return 0;
}

/* ---- connecting ----------------------------------------------------------*/

/* A GET of path whose first connect the upstream holds: the exchange is
 * left connecting, with nothing written yet. */
static void
connect_held(const char *path)
{
	ups[0].hold = 1;
	client_get(path);
	run_until(first_up_made);
	run_ready();
	assert_non_null(strstr(phases(), "up=connecting"));
}

static void
test_connect_refused_at_once(void **state)
{
	(void)state;
	/* retries off: the refusal is the answer, and the client keeps its
	 * connection */
	ups[0].refuse = ECONNREFUSED;
	client_get("/once/a");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 502 "));
	assert_non_null(strstr(got, "\"error\":\"upstream_connect_failed\""));
	assert_kept();
	assert_int_equal(nups, 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_connects), 1);
	assert_int_equal(
	    SL_STAT_GET(w->stats.upstream_closed[SL_UP_CLOSE_CONNECT]), 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_failures), 1);
	assert_true(errlog_has("upstream_connect_failed (Connection refused)"));
	assert_true(alog_has("\"status\":502"));
}

static void
test_connect_refused_retried_on_the_other_endpoint(void **state)
{
	(void)state;
	/* the first connect is held, then refused: a class 1 failure,
	 * retried at once on the other endpoint, which answers */
	ups[1].answer = ok_b;
	connect_held("/two/a");
	assert_true(sl_xprt_mem_held_connect(ups[0].e));
	assert_int_equal(gotlen, 0);
	sl_xprt_mem_refuse(ups[0].e, ECONNREFUSED);
	ups[0].e = NULL;
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "from-b"));
	assert_other_endpoint_took_it();
	assert_int_equal(SL_STAT_GET(w->stats.upstream_retries), 1);
	assert_int_equal(SL_STAT_GET(cluster(CL_TWO)->retries[1]), 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_failures), 1);
	assert_true(errlog_has("upstream_connect_failed (Connection refused)"));
}

static void
test_connect_completes_late(void **state)
{
	(void)state;
	/* nothing is written before the connect completes; once accepted,
	 * the request goes and the answer comes back */
	ups[0].answer = ok_a;
	connect_held("/once/a");
	assert_int_equal(sl_xprt_mem_held(ups[0].e), 0);
	sl_xprt_mem_accept(ups[0].e);
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "from-a"));
	assert_int_equal(ups[0].nreq, 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_failures), 0);
	assert_int_equal(endpoint(1)->nidle, 1);
}

static void
test_connect_never_completes(void **state)
{
	(void)state;
	/* held for good: the cluster's connect_timeout (50 ms) gives up,
	 * closes the connection and answers 504 */
	connect_held("/slow/a");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 504 "));
	assert_non_null(strstr(got, "\"error\":\"upstream_connect_timeout\""));
	assert_kept();
	/* the connection given up is closed: its peer sees it */
	assert_true(sl_xprt_mem_peer_closed(ups[0].e));
	assert_int_equal(nups, 1);
	assert_true(errlog_has("upstream_connect_timeout"));
	assert_true(alog_has("\"status\":504"));
}

static void
test_connect_tls_on_a_memory_end(void **state)
{
	(void)state;
	/* a cluster with TLS cannot run on a memory end: its handshake
	 * fails as a handshake does, and says why */
	client_get("/tls/a");
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 502 "));
	assert_non_null(strstr(got, "\"error\":\"upstream_tls\""));
	assert_int_equal(nups, 1);
	assert_true(errlog_has("upstream_tls (no TLS on a memory end)"));
}

/* ---- sending -------------------------------------------------------------*/

/* A request with a body of n bytes, which the first upstream takes no
 * more of than its window (2048 bytes) and then stalls on: the exchange's
 * write is left blocked. */
static void
body_blocked(const char *method, const char *path, size_t n)
{
	ups[0].window = 2048;
	ups[0].stall = 1;
	client_write_body(method, path, n);
	run_until(sending_blocked);
}

static void
test_sending_reset_while_the_body_is_written(void **state)
{
	(void)state;
	/* a POST whose body (8000 bytes, kept in the buffer) does not fit
	 * the upstream's window (2048): the write blocks; the upstream
	 * resets. A POST is not sent twice, though the other endpoint is
	 * there: 502, and the connection kept (the request was read whole) */
	ups[1].answer = ok_b;
	body_blocked("POST", "/two/a", 8000);
	assert_non_null(strstr(phases(), "req=done"));
	assert_true(sl_xprt_mem_held(ups[0].e) <= 2048);
	up_reset_until_response(0);
	assert_upstream_reset_502();
	assert_null(strstr(got, "Connection: close"));
	assert_kept();
	assert_int_equal(nups, 1);
	assert_int_equal(
	    SL_STAT_GET(cluster(CL_TWO)->not_retried[SL_RETRY_NOT_SAFE]), 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_retries), 0);
	assert_true(errlog_has("upstream_reset (Connection reset by peer)"));
	assert_true(alog_has("\"status\":502"));
}

static void
test_sending_reset_idempotent_sent_again_whole(void **state)
{
	(void)state;
	/* the same cut for a PUT: idempotent, and its body was kept, so
	 * the other endpoint gets all of it */
	ups[1].answer = ok_b;
	body_blocked("PUT", "/two/a", 8000);
	up_reset_until_response(0);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "from-b"));
	assert_other_endpoint_took_it();
	assert_non_null(strstr(ups[1].got, "Content-Length: 8000\r\n"));
	assert_int_equal(
	    ups[1].gotlen -
		(size_t)(strstr(ups[1].got, "\r\n\r\n") + 4 - ups[1].got),
	    8000);
	assert_int_equal(SL_STAT_GET(cluster(CL_TWO)->retries[2]), 1);
}

static void
test_sending_reset_body_larger_than_the_buffer(void **state)
{
	(void)state;
	/* a PUT of 40000 bytes, more than buffer_bytes (16 KiB): what went
	 * out was dropped, so the request cannot be sent again even though
	 * it is idempotent; the client is still sending it, so the 502
	 * closes its connection */
	ups[1].answer = ok_b;
	body_blocked("PUT", "/two/a", 40000);
	assert_non_null(strstr(phases(), "req=body"));
	assert_non_null(strstr(phases(), "body=gone"));
	up_reset_until_response(0);
	assert_upstream_reset_502();
	assert_non_null(strstr(got, "Connection: close"));
	assert_int_equal(nups, 1);
	assert_int_equal(
	    SL_STAT_GET(cluster(CL_TWO)->not_retried[SL_RETRY_NO_BODY]), 1);
}

static void
test_sending_early_answer_wins(void **state)
{
	(void)state;
	/* the upstream answers 413 while the body is still blocked, and
	 * closes. Its window opens first, so that the write event comes
	 * before the read event and the write fails (EPIPE) with the answer
	 * not read yet: the answer, not a 502, is what the client gets */
	body_blocked("POST", "/once/a", 8000);
	sl_xprt_mem_set_window(ups[0].e, SIZE_MAX);
	up_write(0, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n"
		    "Connection: close\r\n\r\nbig");
	up_close(0);
	run_until(one_response);
	assert_non_null(strstr(got, "HTTP/1.1 413 "));
	assert_non_null(strstr(got, "\r\n\r\nbig"));
	assert_int_equal(nups, 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_failures), 0);
	assert_true(alog_has("\"status\":413"));
}

/* ---- waiting ------------------------------------------------------------ */

/* The client sends req; the first upstream takes it whole, then resets
 * before any byte of its answer (the second answers ok_b, should the
 * request come to it). Returns once the client has a response. */
static void
reset_while_waiting(const char *req)
{
	ups[1].answer = ok_b;
	client_write(req);
	run_until(first_up_took_a_request);
	run_until(waiting);
	up_reset_until_response(0);
}

static void
test_waiting_get_reset_retried(void **state)
{
	(void)state;
	/* the whole GET was taken, then a reset before any byte of the
	 * head: idempotent, retried on the other endpoint (class 2) */
	ups[0].answer = NULL;
	reset_while_waiting("GET /two/a HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "from-b"));
	assert_int_equal(nups, 2);
	assert_int_not_equal(ups[0].ep, ups[1].ep);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_retries), 1);
	assert_int_equal(SL_STAT_GET(cluster(CL_TWO)->retries[2]), 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_failures), 1);
	assert_true(errlog_has("upstream_reset"));
	assert_true(alog_has("\"status\":200"));
}

static void
test_waiting_post_reset_not_retried(void **state)
{
	(void)state;
	/* the same for a POST: it may have been acted on, so 502 */
	reset_while_waiting("POST /two/a HTTP/1.1\r\nHost: a\r\n"
			    "Content-Length: 5\r\n\r\nhello");
	assert_upstream_reset_502();
	assert_kept();
	assert_int_equal(nups, 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_retries), 0);
	assert_int_equal(
	    SL_STAT_GET(cluster(CL_TWO)->not_retried[SL_RETRY_NOT_SAFE]), 1);
	assert_true(errlog_has("upstream_reset"));
}

/* ---- receiving -----------------------------------------------------------*/

/* A GET of path taken whole by the first upstream, which then writes
 * bytes, the start of its answer. */
static void
answer_starts(const char *path, const char *bytes)
{
	client_get(path);
	run_until(first_up_took_a_request);
	up_write(0, bytes);
}

static void
test_receiving_reset_in_the_head(void **state)
{
	(void)state;
	/* half a head, then a reset: nothing of it reaches the client,
	 * which gets a 502 and keeps its connection */
	answer_starts("/once/a", "HTTP/1.1 200 OK\r\nContent-Le");
	run_ready();
	assert_int_equal(gotlen, 0);
	up_reset_until_response(0);
	assert_upstream_reset_502();
	assert_null(strstr(got, "200 OK"));
	assert_kept();
	assert_int_equal(closed_count(SL_CLOSE_UPSTREAM_CUT), 0);
}

static void
test_receiving_reset_in_a_length_body(void **state)
{
	(void)state;
	/* the head and part of a Content-Length body went to the client;
	 * the upstream resets: the client's connection is reset (a FIN
	 * could pass the part for the whole), not retried (class 3) */
	ups[1].answer = ok_b;
	answer_starts("/two/a", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
				"\r\npart");
	run_ready();
	assert_non_null(strstr(got, "\r\n\r\npart"));
	assert_non_null(strstr(phases(), "up=receiving"));
	up_reset(0);
	run_until(client_ended);
	assert_int_equal(got_eof, 2);
	assert_int_equal(responses(), 0);
	assert_int_equal(closed_count(SL_CLOSE_UPSTREAM_CUT), 1);
	assert_int_equal(nups, 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_retries), 0);
	assert_true(
	    errlog_has("upstream_truncated (Connection reset by peer)"));
	assert_true(alog_has("\"status\":200"));
	assert_true(alog_has("\"close\":\"upstream_truncated\""));
}

static void
test_receiving_fin_in_a_length_body(void **state)
{
	(void)state;
	/* the same with a FIN: short of its Content-Length, the body is
	 * cut all the same */
	answer_starts("/one/a", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
				"\r\npart");
	up_close(0);
	run_until(client_ended);
	assert_int_equal(got_eof, 2);
	assert_non_null(strstr(got, "\r\n\r\npart"));
	assert_int_equal(closed_count(SL_CLOSE_UPSTREAM_CUT), 1);
	assert_true(errlog_has("upstream_truncated (closed)"));
}

static void
test_receiving_close_delimited_body(void **state)
{
	(void)state;
	/* no Content-Length, no chunks: the FIN ends the body, and the
	 * response is complete; the client's connection ends with a FIN
	 * after it, and the upstream's is not pooled */
	answer_starts("/one/a", "HTTP/1.1 200 OK\r\n\r\nhello, ");
	run_ready();
	assert_non_null(strstr(phases(), "up=receiving"));
	up_write(0, "world");
	sl_xprt_mem_shutdown(ups[0].e);
	run_until(client_ended);
	assert_int_equal(got_eof, 1);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "hello, world"));
	assert_int_equal(closed_count(SL_CLOSE_UPSTREAM_CUT), 0);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_failures), 0);
	assert_int_equal(endpoint(1)->nidle, 0);
	assert_true(sl_xprt_mem_peer_closed(ups[0].e));
	assert_true(alog_has("\"status\":200"));
	assert_false(errlog_has("upstream_truncated"));
}

/* ---- a pooled connection -------------------------------------------------*/

/* One request answered on a new connection, which goes to the pool. */
static void
pool_one(const char *path)
{
	ups[0].answer = ok_a;
	client_get(path);
	run_until(one_response);
	assert_non_null(strstr(got, "from-a"));
	assert_int_equal(endpoint(1)->nidle, 1);
	assert_int_equal(c->state, SL_CLIENT_ST_IDLE);
}

static void
test_pooled_closed_while_idle(void **state)
{
	(void)state;
	/* the upstream closes an idle pooled connection: the pool sees it
	 * and drops it; the next request takes a new one, no retry */
	pool_one("/once/a");
	up_close(0);
	run_ready();
	assert_int_equal(endpoint(1)->nidle, 0);
	assert_int_equal(
	    SL_STAT_GET(w->stats.upstream_closed[SL_UP_CLOSE_PEER]), 1);
	ups[1].answer = ok_b;
	client_get("/once/b");
	run_until(two_responses);
	assert_non_null(strstr(got, "from-b"));
	assert_int_equal(nups, 2);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_reused), 0);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_retries), 0);
}

static void
test_pooled_found_closed_replayed(void **state)
{
	(void)state;
	/* the upstream's close and the next request come in the same turn,
	 * the request first: it takes the pooled connection before the
	 * pool could see the close, and is replayed once on a new
	 * connection, though the route's retries are off */
	pool_one("/once/a");
	ups[1].answer = ok_b;
	client_get("/once/b");
	up_close(0);
	run_until(two_responses);
	assert_non_null(strstr(got, "from-b"));
	assert_int_equal(got_eof, 0);
	assert_int_equal(nups, 2);
	assert_int_equal(ups[1].ep, ups[0].ep);
	assert_int_equal(ups[1].nreq, 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_reused), 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_retries), 1);
	assert_int_equal(SL_STAT_GET(cluster(CL_ONE)->retries[1]), 1);
	assert_true(alog_has("\"status\":200"));
}

static void
test_pooled_found_closed_replayed_once_only(void **state)
{
	(void)state;
	/* the replay's new connection takes the request and resets too:
	 * no second replay, 502 */
	pool_one("/once/a");
	ups[1].answer = NULL;
	client_get("/once/b");
	up_close(0);
	run_until(second_up_took_a_request);
	run_until(waiting);
	assert_non_null(strstr(phases(), "replay=done"));
	up_reset(1);
	run_until(two_responses);
	assert_non_null(strstr(got, "HTTP/1.1 502 "));
	assert_int_equal(nups, 2);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_retries), 1);
}

static void
test_pooled_post_closed_after_it_was_sent(void **state)
{
	(void)state;
	/* a POST written whole on a pooled connection, which then closes
	 * without an answer: the upstream may have acted on it, so it is
	 * not replayed */
	pool_one("/one/a");
	ups[0].answer = NULL;
	ups[1].answer = ok_b; /* what a replay would get */
	client_write("POST /one/b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		     "\r\nhello");
	run_until(waiting);
	assert_int_equal(ups[0].nreq, 2);
	up_close(0);
	run_until(two_responses);
	assert_upstream_reset_502();
	assert_int_equal(nups, 1);
	assert_int_equal(SL_STAT_GET(w->stats.upstream_retries), 0);
	assert_true(errlog_has("upstream_closed"));
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_connect_refused_at_once),
	    T(test_connect_refused_retried_on_the_other_endpoint),
	    T(test_connect_completes_late),
	    T(test_connect_never_completes),
	    T(test_connect_tls_on_a_memory_end),
	    T(test_sending_reset_while_the_body_is_written),
	    T(test_sending_reset_idempotent_sent_again_whole),
	    T(test_sending_reset_body_larger_than_the_buffer),
	    T(test_sending_early_answer_wins),
	    T(test_waiting_get_reset_retried),
	    T(test_waiting_post_reset_not_retried),
	    T(test_receiving_reset_in_the_head),
	    T(test_receiving_reset_in_a_length_body),
	    T(test_receiving_fin_in_a_length_body),
	    T(test_receiving_close_delimited_body),
	    T(test_pooled_closed_while_idle),
	    T(test_pooled_found_closed_replayed),
	    T(test_pooled_found_closed_replayed_once_only),
	    T(test_pooled_post_closed_after_it_was_sent),
	};
#undef T

	/* one test, or those matching a pattern: TEST_FILTER=test_pooled_* */
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
