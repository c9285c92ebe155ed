/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for h2ng.c, the nghttp2 set-up shared by the HTTP/2 codecs:
 * a client and a server session made by it talk to each other in memory
 * (the first SETTINGS, push off first, the codec's own after it, the
 * connection window, the server's allocator); a codec's callbacks and
 * options are made once, from any number of threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "h2ng.h"

/* What one side saw of the other's first SETTINGS. */
struct side {
	nghttp2_settings_entry iv[16];
	size_t niv;
	int settings; /* SETTINGS frames (not ACKs) received */
};

static int
on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	struct side *s = ud;

	(void)ng;
	if (frame->hd.type != NGHTTP2_SETTINGS ||
	    (frame->hd.flags & NGHTTP2_FLAG_ACK))
		return 0;
	if (s->settings++ == 0) {
		s->niv = frame->settings.niv < 16 ? frame->settings.niv : 16;
		memcpy(s->iv, frame->settings.iv, s->niv * sizeof(s->iv[0]));
	}
	return 0;
}

/* The server's allocator, counting its calls (as h2.c's would). */
static int mem_calls;

static void *
t_malloc(size_t n, void *ud)
{
	(void)ud;
	mem_calls++;
	return malloc(n);
}

static void
t_free(void *p, void *ud)
{
	(void)ud;
	free(p);
}

static void *
t_calloc(size_t k, size_t n, void *ud)
{
	(void)ud;
	mem_calls++;
	return calloc(k, n);
}

static void *
t_realloc(void *p, size_t n, void *ud)
{
	(void)ud;
	mem_calls++;
	return realloc(p, n);
}

static struct sl_h2ng client_ng = {
    .on_frame_recv = on_frame_recv,
    .opts = SL_H2NG_O_WINDOW_BY_HAND | SL_H2NG_O_NO_CLOSED_STREAMS |
	    SL_H2NG_O_DEFLATE_TABLE,
    .deflate_table = 4096,
};

static struct sl_h2ng server_ng = {
    .on_frame_recv = on_frame_recv,
    .opts = SL_H2NG_O_WINDOW_BY_HAND | SL_H2NG_O_NO_CLOSED_STREAMS |
	    SL_H2NG_O_DEFLATE_TABLE | SL_H2NG_O_RESET_RATE,
    .deflate_table = 0,
    .reset_burst = 1000,
    .reset_rate = 1000,
};

/* Moves what from has to send into to. Returns the bytes moved. */
static size_t
pass(nghttp2_session *from, nghttp2_session *to)
{
	const uint8_t *p;
	ssize_t n;
	size_t all = 0;

	while ((n = nghttp2_session_mem_send(from, &p)) > 0) {
		assert_int_equal(nghttp2_session_mem_recv(to, p, (size_t)n), n);
		all += (size_t)n;
	}
	assert_true(n == 0);
	return all;
}

static void
test_sessions_talk(void **state)
{
	const nghttp2_settings_entry civ[] = {
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1000},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 5000},
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 0},
	};
	const nghttp2_settings_entry siv[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 7},
	    {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
	};
	nghttp2_mem mem = {NULL, t_malloc, t_free, t_calloc, t_realloc};
	struct side cs = {0}, ss = {0};
	nghttp2_session *c, *s;

	(void)state;
	mem_calls = 0;
	c = sl_h2ng_client(&client_ng, &cs, civ, 3, 1 << 20);
	s = sl_h2ng_server(&server_ng, &ss, &mem, siv, 2, 0);
	assert_non_null(c);
	assert_non_null(s);
	assert_true(mem_calls > 0); /* the server's memory is its allocator's */
	for (int i = 0; i < 3; i++) {
		pass(c, s);
		pass(s, c);
	}
	/* the server saw push off first, then the client's own, in order */
	assert_int_equal(ss.settings, 1);
	assert_int_equal(ss.niv, 4);
	assert_int_equal(ss.iv[0].settings_id, NGHTTP2_SETTINGS_ENABLE_PUSH);
	assert_int_equal(ss.iv[0].value, 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(ss.iv[1 + i].settings_id, civ[i].settings_id);
		assert_int_equal(ss.iv[1 + i].value, civ[i].value);
	}
	assert_int_equal(nghttp2_session_get_remote_settings(
			     s, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
			 1000);
	/* the client's connection window went up by a WINDOW_UPDATE; the
	 * server's stayed the protocol's */
	assert_int_equal(nghttp2_session_get_remote_window_size(s), 1 << 20);
	assert_int_equal(nghttp2_session_get_remote_window_size(c), 65535);
	/* and the client saw the server's */
	assert_int_equal(cs.settings, 1);
	assert_int_equal(cs.niv, 3);
	assert_int_equal(cs.iv[0].settings_id, NGHTTP2_SETTINGS_ENABLE_PUSH);
	assert_int_equal(nghttp2_session_get_remote_settings(
			     c, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
			 7);
	assert_true(nghttp2_session_want_read(c));
	assert_true(nghttp2_session_want_read(s));
	nghttp2_session_del(c);
	nghttp2_session_del(s);
}

static void
test_made_once(void **state)
{
	nghttp2_session *a, *b;
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry many[SL_H2NG_SETTINGS_MAX + 1];

	(void)state;
	a = sl_h2ng_client(&client_ng, NULL, NULL, 0, 0);
	assert_non_null(a);
	cb = client_ng.cb;
	assert_non_null(cb);
	b = sl_h2ng_client(&client_ng, NULL, NULL, 0, 0);
	assert_non_null(b);
	assert_ptr_equal(client_ng.cb, cb);
	nghttp2_session_del(a);
	nghttp2_session_del(b);
	/* more settings than it holds: none */
	for (size_t i = 0; i < SL_H2NG_SETTINGS_MAX + 1; i++)
		many[i] = (nghttp2_settings_entry){
		    NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1};
	assert_null(sl_h2ng_client(&client_ng, NULL, many,
				   SL_H2NG_SETTINGS_MAX + 1, 0));
	a = sl_h2ng_client(&client_ng, NULL, many, SL_H2NG_SETTINGS_MAX, 0);
	assert_non_null(a);
	nghttp2_session_del(a);
}

/* Threads making the first sessions of one codec at once. */
static struct sl_h2ng race_ng = {.on_frame_recv = on_frame_recv};

static void *
racer(void *arg)
{
	nghttp2_session_callbacks **seen = arg;

	for (int i = 0; i < 20; i++) {
		nghttp2_session *s = sl_h2ng_client(&race_ng, NULL, NULL, 0, 0);
		if (s == NULL)
			return NULL;
		if (i == 0)
			*seen = race_ng.cb;
		nghttp2_session_del(s);
	}
	return arg;
}

static void
test_made_once_across_threads(void **state)
{
	pthread_t t[4];
	nghttp2_session_callbacks *seen[4] = {NULL};

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer, &seen[i]),
				 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_non_null(r);
		assert_ptr_equal(seen[i], race_ng.cb);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sessions_talk),
	    cmocka_unit_test(test_made_once),
	    cmocka_unit_test(test_made_once_across_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
