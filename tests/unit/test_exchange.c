/* SPDX-License-Identifier: MIT */
/*
 * The exchange's state in words (sl_exchange_state_str), as the debug log
 * shows it: one phase per side, the sub-states, then the flags that vary
 * on their own. And the run of a route's filters (filter.h) on a worker
 * (harness.h), with filters of the test's own in place of the route's: a
 * filter that waits is resumed where it stopped, the filters before it
 * never run again, and what they put in the run's struct sl_fhead (a
 * field, a mark, a verified token) reaches the head sent upstream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "exchange.h"
#include "exchange_int.h"
#include "filter.h"
#include "wgen.h"

#include "harness.h"

static void
test_fresh_exchange(void **state)
{
	struct sl_txn t;
	char buf[256];

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=head up=none send=open resp=none body=stream "
			    "replay=none pace=none flags=-");
}

static void
test_phases_and_flags(void **state)
{
	struct sl_txn t;
	char buf[256];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.req_ph = SL_TXN_REQ_DONE;
	t.up_ph = SL_TXN_UP_BACKOFF;
	t.resp_ph = SL_TXN_RESP_LOCAL;
	t.body_ph = SL_TXN_BODY_KEPT;
	t.replay = SL_TXN_REPLAY_DONE;
	t.flags = SL_TXN_F_CLOSE | SL_TXN_F_IN_BUDGET | SL_TXN_F_FWD_CLIENT;
	assert_string_equal(
	    sl_exchange_state_str(&t, buf, sizeof(buf)),
	    "req=done up=backoff send=open resp=local body=kept "
	    "replay=done pace=none "
	    "flags=close,fwd_client,in_budget");
	t.up_ph = SL_TXN_UP_UNQUEUING;
	t.resp_ph = SL_TXN_RESP_UPSTREAM;
	t.body_ph = SL_TXN_BODY_GONE;
	t.replay = SL_TXN_REPLAY_FRESH;
	t.flags = 0;
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=done up=unqueuing send=open resp=upstream "
			    "body=gone replay=fresh pace=none flags=-");
}

/* An attempt under way: its upstream phase and how its request goes. */
static void
test_attempt_phases(void **state)
{
	struct sl_txn t;
	char buf[256];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.req_ph = SL_TXN_REQ_BODY;
	t.up_ph = SL_TXN_UP_CONNECTING;
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=body up=connecting send=open resp=none "
			    "body=stream replay=none pace=none flags=-");
	t.up_ph = SL_TXN_UP_SENDING;
	t.send_ph = SL_TXN_SEND_BLOCKED;
	t.flags = SL_TXN_F_IN_CLUSTER;
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=body up=sending send=blocked resp=none "
			    "body=stream replay=none pace=none "
			    "flags=in_cluster");
	t.req_ph = SL_TXN_REQ_DONE;
	t.up_ph = SL_TXN_UP_WAITING;
	t.send_ph = SL_TXN_SEND_DONE;
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=done up=waiting send=done resp=none "
			    "body=stream replay=none pace=none "
			    "flags=in_cluster");
	/* an early answer while the request still goes, and its write
	 * failed */
	t.up_ph = SL_TXN_UP_RECEIVING;
	t.send_ph = SL_TXN_SEND_DEAD;
	t.resp_ph = SL_TXN_RESP_UPSTREAM;
	t.pace = SL_TXN_PACE_PAUSED;
	t.flags |= SL_TXN_F_UP_BROKEN | SL_TXN_F_IDEMPOTENT;
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=done up=receiving send=dead resp=upstream "
			    "body=stream replay=none pace=paused "
			    "flags=idempotent,up_broken,in_cluster");
	t.up_ph = SL_TXN_UP_DONE;
	t.pace = SL_TXN_PACE_WOKE;
	t.flags = SL_TXN_F_DECHUNK | SL_TXN_F_HASH_KEY | SL_TXN_F_STICKY_KEY;
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=done up=done send=dead resp=upstream "
			    "body=stream replay=none pace=woke "
			    "flags=dechunk,hash_key,sticky_key");
}

/* A value past its table's end is said, not read past the table. */
static void
test_unknown_values(void **state)
{
	struct sl_txn t;
	char buf[256];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.up_ph = 200;
	t.send_ph = 9;
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=head up=? send=? resp=none body=stream "
			    "replay=none pace=none flags=-");
}

static void
test_cut_to_the_buffer(void **state)
{
	struct sl_txn t;
	char buf[24];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.flags = ~0u;
	sl_exchange_state_str(&t, buf, sizeof(buf));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_memory_equal(buf, "req=head up=none send=o", sizeof(buf) - 1);
}

/* ---- a route's filters, resumed where one waited ------------------------ */

static const char yaml_fmt[] = "listeners:\n"
			       "  - name: l\n"
			       "    address: 127.0.0.1:8080\n"
			       "    routes:\n"
			       "      - cluster: up\n"
			       "clusters:\n"
			       "  - name: up\n"
			       "    endpoints: [127.0.0.1:%d]\n";

/* The upstream: a listening socket on 127.0.0.1, served between the
 * loop's turns; what it read of the request, and its answer once the
 * head came. */
static int up_lfd = -1, up_fd = -1;
static char up_got[8192];
static size_t up_gotlen;
static int up_answered;

static void
serve_upstream(void)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
				 "ok";
	const char *end;
	ssize_t n;
	int fd;

	if (up_fd == -1 && (fd = accept(up_lfd, NULL, NULL)) >= 0) {
		(void)fcntl(fd, F_SETFL, O_NONBLOCK);
		up_fd = fd;
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
	/* answered once the head and its body (the tests' are 5 bytes at
	 * most, counted from a Content-Length) are here */
	if (up_answered || (end = strstr(up_got, "\r\n\r\n")) == NULL ||
	    (strstr(up_got, "Content-Length: 5") != NULL &&
	     strlen(end + 4) < 5))
		return;
	assert_int_equal(send(up_fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL),
			 (ssize_t)(sizeof(ok) - 1));
	up_answered = 1;
}

/* What the test's filters saw. */
static struct {
	int first;	  /* the first filter's req_head calls */
	int waiter;	  /* the waiting one's */
	int last;	  /* the one after it */
	int waits;	  /* how often the waiter is to wait (by event) */
	int body;	  /* it waits for the body's 5 bytes first */
	int token_seen;	  /* the waiter, resumed, saw the first's token */
	int mark_ok;	  /* up_head found the mark where it was written */
	struct event *ev; /* the waiter's own wake */
	struct sl_txn *t;
} fs;

static const char mark_val[] = "mark-one";

/* Puts a field, a mark among the fields and a verified token in the run's
 * fhead, as a trace and a token do: the token's caller is a value of a
 * field too, pointing into the fhead itself (as a token's claims do). */
static int
first_head(struct sl_seam *s, struct sl_fhead *h)
{
	struct sl_fwd_extra *x = sl_fhead_extra(h);

	(void)s;
	fs.first++;
	memcpy(h->room + 16, "iss\nalice", 9);
	h->room_used = 32;
	h->caller = (const char *)h->room + 16;
	h->caller_len = 9;
	x->set[x->nset].name = "X-First";
	x->set[x->nset].nlen = 7;
	x->set[x->nset].value = mark_val;
	x->set[x->nset++].vlen = sizeof(mark_val) - 1;
	x->set[x->nset].name = "X-Caller";
	x->set[x->nset].nlen = 8;
	x->set[x->nset].value = h->caller + 4;
	x->set[x->nset++].vlen = 5;
	h->mark = mark_val;
	return SL_FILTER_GO;
}

/* Where the mark went: its value there, in the head written. */
static void
first_up_head(struct sl_seam *s, struct sl_fhead *h)
{
	fs.mark_ok =
	    h->mark_at != 0 && memcmp(s->txn->uphead.data + h->mark_at,
				      mark_val, sizeof(mark_val) - 1) == 0;
}

static void
waiter_on_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sl_exchange_filters_woken(fs.t);
}

/* Waits for the body when asked, then on its own event fs.waits times,
 * as a WAF waits for its body, then for a thread. */
static int
waiter_head(struct sl_seam *s, struct sl_fhead *h)
{
	struct timeval tv = {0, 0};

	fs.waiter++;
	if (fs.waiter > 1)
		/* resumed: the run's fhead as the first filter left it */
		fs.token_seen = h->caller == (const char *)h->room + 16 &&
				h->caller_len == 9 &&
				memcmp(h->caller, "iss\nalice", 9) == 0 &&
				h->mark == mark_val && h->extra != NULL &&
				h->extra->nset == 2 &&
				h->extra->set[1].value == h->caller + 4;
	if (fs.body && !sl_exchange_body_wait(s, 5))
		return SL_FILTER_WAIT;
	fs.body = 0;
	if (fs.waits == 0)
		return SL_FILTER_GO;
	fs.waits--;
	fs.t = s->txn;
	assert_int_equal(evtimer_add(fs.ev, &tv), 0);
	return SL_FILTER_WAIT;
}

/* After the waiter: runs once, and adds to the same fields. */
static int
last_head(struct sl_seam *s, struct sl_fhead *h)
{
	struct sl_fwd_extra *x = sl_fhead_extra(h);

	(void)s;
	fs.last++;
	x->set[x->nset].name = "X-Last";
	x->set[x->nset].nlen = 6;
	x->set[x->nset].value = "two";
	x->set[x->nset++].vlen = 3;
	return SL_FILTER_GO;
}

static const struct sl_filter f_first = {
    .name = "first",
    .phase = SL_FPHASE_ACCESS,
    .req_head = first_head,
    .up_head = first_up_head,
};
static const struct sl_filter f_waiter = {
    .name = "waiter",
    .req_head = waiter_head,
};
static const struct sl_filter f_last = {
    .name = "last",
    .req_head = last_head,
};
static const struct sl_filter *const test_filters[] = {&f_first, &f_waiter,
						       &f_last};

/* The route's own list, put back before the generation is freed. */
static struct sl_wroute saved;

static int
run_setup(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct sl_wroute *wr;
	char yaml[512];

	(void)state;
	up_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(up_lfd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(up_lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(up_lfd, 4), 0);
	assert_int_equal(getsockname(up_lfd, (struct sockaddr *)&sin, &len), 0);
	snprintf(yaml, sizeof(yaml), yaml_fmt, ntohs(sin.sin_port));
	harness_setup(yaml, 0, serve_upstream);
	up_gotlen = 0;
	up_answered = 0;
	/* the test's filters in place of the route's (none) */
	wr = &w->gen->routes[conf->listeners[0].routes[0].index];
	saved = *wr;
	wr->filt = test_filters;
	wr->nfilt = 3;
	wr->fops = SL_FOP_REQ_HEAD | SL_FOP_UP_HEAD;
	memset(&fs, 0, sizeof(fs));
	fs.ev = evtimer_new(w->base, waiter_on_event, NULL);
	assert_non_null(fs.ev);
	return 0;
}

static int
run_teardown(void **state)
{
	(void)state;
	event_free(fs.ev);
	*(&w->gen->routes[conf->listeners[0].routes[0].index]) = saved;
	if (up_fd != -1)
		close(up_fd);
	close(up_lfd);
	up_fd = up_lfd = -1;
	harness_close_all();
	harness_teardown();
	return 0;
}

/* What every run below checks: each filter before the waiter ran once,
 * the waiter once more for each wake, the one after it once, and the
 * first's fields and mark, and the last's, went upstream. */
static void
assert_resumed(int waiter_runs)
{
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_int_equal(fs.first, 1);
	assert_int_equal(fs.waiter, waiter_runs);
	assert_int_equal(fs.last, 1);
	assert_true(fs.token_seen);
	assert_true(fs.mark_ok);
	assert_non_null(strstr(up_got, "\r\nX-First: mark-one\r\n"));
	assert_non_null(strstr(up_got, "\r\nX-Caller: alice\r\n"));
	assert_non_null(strstr(up_got, "\r\nX-Last: two\r\n"));
	assert_kept();
}

/* A filter waits on its own event (a WAF thread, a lease): the run
 * resumes at it. */
static void
test_wait_resumes_at_the_waiter(void **state)
{
	(void)state;
	fs.waits = 1;
	client_connect(0);
	client_get("/a");
	run_until(one_response);
	assert_resumed(2);
}

/* It waits twice (its body, then its event), the body coming after the
 * head: each wake resumes at it, with the fhead as the first left it. */
static void
test_waits_twice_for_body_then_event(void **state)
{
	(void)state;
	fs.waits = 1;
	fs.body = 1;
	client_connect(0);
	client_write(
	    "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");
	run_ready();
	assert_int_equal(fs.first, 1);
	assert_int_equal(fs.waiter, 1);
	client_write("hello");
	run_until(one_response);
	assert_resumed(3);
	assert_non_null(strstr(up_got, "\r\n\r\nhello"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh_exchange),
	    cmocka_unit_test(test_phases_and_flags),
	    cmocka_unit_test(test_attempt_phases),
	    cmocka_unit_test(test_unknown_values),
	    cmocka_unit_test(test_cut_to_the_buffer),
	    cmocka_unit_test_setup_teardown(test_wait_resumes_at_the_waiter,
					    run_setup, run_teardown),
	    cmocka_unit_test_setup_teardown(
		test_waits_twice_for_body_then_event, run_setup, run_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
