/* SPDX-License-Identifier: MIT */
/*
 * The harness of the unit tests that run a worker (harness.h): the
 * configuration and the worker, made and freed by the daemon's own
 * functions (sl_worker_new, sl_worker_join_free) so that the tests do not
 * keep a copy of what makes a worker; and for a client on a memory end,
 * the event loop driver, the client end's reader and the conditions and
 * counts the tests read. Each test's upstream stays in its own file and
 * is served through the hook harness_setup takes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "client.h"
#include "conf.h"
#include "log.h"
#include "tls.h"
#include "upstream.h"
#include "worker.h"

#include "harness.h"

/* The most listeners a test's configuration has: sl_worker_new takes one
 * socket for each. */
#define MAX_LISTENERS 8

struct sl_conf *conf;
struct sl_worker *w;
struct sl_xprt_mem *cli;
struct sl_client *c;
char got[65536];
size_t gotlen;
int got_eof;

static struct event *tick; /* the loop never waits longer than this */
static void (*serve_hook)(void);

/* ---- a worker ------------------------------------------------------------*/

void
harness_conf(const char *yaml, int tls)
{
	char *errs = NULL, *tls_errs;

	conf = sl_conf_load_buffer("t.yaml", yaml, strlen(yaml), &errs);
	if (conf == NULL)
		print_error("%s", errs != NULL ? errs : "?");
	assert_non_null(conf);
	if (tls) {
		tls_errs = sl_tls_load(conf, NULL);
		if (tls_errs != NULL)
			print_error("%s", tls_errs);
		assert_null(tls_errs);
	}
	sl_runtime_set_workers(1);
	assert_int_equal(sl_runtime_bind(conf), 0);
}

void
harness_worker(void)
{
	int fds[MAX_LISTENERS];

	/* a socket of -1 for each listener: the worker is never started,
	 * so none is listened on, and sl_worker_join_free closes none */
	assert_true(conf->nlisteners <= MAX_LISTENERS);
	for (size_t i = 0; i < conf->nlisteners; i++)
		fds[i] = -1;
	w = sl_worker_new(0, conf, fds);
	assert_non_null(w);
	/* the worker took a reference of its own: the generation holds the
	 * only one from here, and its last unref frees conf and the shared
	 * state bound to it */
	sl_conf_unref(conf);
}

void
harness_worker_free(void)
{
	sl_worker_join_free(w);
	w = NULL;
}

/* ---- a client on a memory end --------------------------------------------*/

/* The tick's handler: its only work is to end the loop's wait. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Milliseconds on the monotonic clock. */
static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
harness_setup(const char *yaml, int tls, void (*serve)(void))
{
	struct timeval tv = {0, 10000};

	harness_conf(yaml, tls);
	assert_int_equal(sl_access_open("/dev/null", SL_ACCESS_JSON), 0);
	harness_worker();
	tick = event_new(w->base, -1, EV_PERSIST, on_tick, NULL);
	assert_non_null(tick);
	event_add(tick, &tv);
	serve_hook = serve;
	gotlen = 0;
	got_eof = 0;
}

void
harness_close_all(void)
{
	struct sl_client *x;

	while ((x = sl_client_first(w)) != NULL)
		sl_client_abort(x);
	if (cli != NULL)
		sl_xprt_mem_close(cli);
	cli = NULL;
	event_base_loop(w->base, EVLOOP_NONBLOCK); /* the reaps */
	sl_upstream_close_idle(w);
	event_base_loop(w->base, EVLOOP_NONBLOCK);
}

void
harness_teardown(void)
{
	event_free(tick);
	tick = NULL;
	harness_worker_free();
}

void
client_connect(int l)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sl_xprt_mem *srv;

	assert_int_equal(sl_xprt_mem_pair(&cli, &srv), 0);
	sin.sin_port = htons(40000);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = sl_client_new_mem(w, &conf->listeners[l], srv,
			      (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(c);
	assert_int_equal(c->state, SL_CLIENT_ST_IDLE);
}

void
client_write(const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(sl_xprt_mem_write(cli, s, n), (ssize_t)n);
}

void
client_get(const char *path)
{
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", path);
	client_write(req);
}

void
drain_client(void)
{
	ssize_t n = -1;

	while (got_eof == 0 &&
	       (n = sl_xprt_mem_read(cli, got + gotlen,
				     sizeof(got) - 1 - gotlen)) != 0) {
		if (n == -1) {
			if (errno == ECONNRESET)
				got_eof = 2;
			break;
		}
		gotlen += (size_t)n;
	}
	if (n == 0)
		got_eof = 1;
	got[gotlen] = '\0';
}

void
run_until(int (*cond)(void))
{
	uint64_t end = wall_ms() + WAIT_MS;

	for (;;) {
		if (serve_hook != NULL)
			serve_hook();
		if (cli != NULL)
			drain_client();
		if (cond())
			return;
		if (wall_ms() > end)
			fail_msg("not seen within %d ms", WAIT_MS);
		event_base_loop(w->base, EVLOOP_ONCE);
	}
}

void
run_ready(void)
{
	for (int i = 0; i < 8; i++) {
		if (serve_hook != NULL)
			serve_hook();
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	}
	/* once more after the last turn, so that the upstream has seen what
	 * that turn wrote before the test looks */
	if (serve_hook != NULL)
		serve_hook();
	if (cli != NULL)
		drain_client();
}

int
responses(void)
{
	int n = 0;

	for (const char *p = got; (p = strstr(p, "HTTP/1.1 ")) != NULL; p++) {
		const char *e = strstr(p, "\r\n\r\n");
		const char *cl;
		if (e == NULL)
			break;
		cl = strstr(p, "Content-Length: ");
		if (cl != NULL && cl < e &&
		    (size_t)(e + 4 - got) + (size_t)atoi(cl + 16) > gotlen)
			break;
		n++;
	}
	return n;
}

int
one_response(void)
{
	return responses() >= 1;
}

int
two_responses(void)
{
	return responses() >= 2;
}

int
reset_seen(void)
{
	return got_eof == 2;
}

int
client_ended(void)
{
	return got_eof != 0;
}

int
closed(void)
{
	return sl_xprt_mem_peer_closed(cli);
}

void
assert_kept(void)
{
	assert_int_equal(got_eof, 0);
	assert_int_equal(c->state, SL_CLIENT_ST_IDLE);
}

int
alog_has(const char *s)
{
	return memmem(w->alog->data, w->alog->len, s, strlen(s)) != NULL;
}

uint64_t
closed_count(enum sl_close_kind k)
{
	return SL_STAT_GET(c->s.lconf->counters->counts[w->id].closed[k]);
}
