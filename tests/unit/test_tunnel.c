/* SPDX-License-Identifier: MIT */
/*
 * Tunnels (tunnel.c, doc/websocket.md) with both sides on the memory
 * transport (xprt.h): the client on a memory end (harness.h) and the
 * upstream connection on one made by the endpoint's connector, so that the
 * test decides exactly how much each side takes in and when a side ends.
 * The worker's own loop runs between the steps, until what a test waits for
 * is seen (bounded by WAIT_MS, no sleeping); "spin" runs it without the
 * client reading, for a client that does not read. Assertions read the
 * bytes each side received, how each ended (FIN or reset), the worker's
 * counters and the access log.
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

#include <event2/event.h>

#include "client.h"
#include "client_int.h"
#include "conf_types.h"
#include "runtime.h"
#include "tls.h"
#include "tunnel.h"
#include "upstream.h"
#include "wloop.h"
#include "xprt.h"

#include "harness.h"

/* /ws/ allows WebSocket with a 1 KiB tunnel buffer; /chat/ the x-chat
 * protocol; /idle/ a short idle timeout; /life/ a short lifetime; /slow/
 * a short send_timeout. The listeners differ only in their limits. */
static const char yaml[] =
    "listeners:\n"
    "  - name: gw\n"
    "    address: 127.0.0.1:8080\n"
    "    limits: { tunnel_buffer_bytes: 1KiB, send_timeout: 60ms }\n"
    "    routes:\n"
    "      - match: { path_prefix: /chat/ }\n"
    "        cluster: one\n"
    "        upgrade: [x-chat]\n"
    "      - cluster: one\n"
    "        upgrade: [websocket]\n"
    "  - name: idle\n"
    "    address: 127.0.0.1:8081\n"
    "    limits: { tunnel_idle_timeout: 50ms }\n"
    "    routes:\n"
    "      - cluster: one\n"
    "        upgrade: [websocket]\n"
    "  - name: life\n"
    "    address: 127.0.0.1:8082\n"
    "    limits: { tunnel_lifetime: 50ms }\n"
    "    routes:\n"
    "      - cluster: one\n"
    "        upgrade: [websocket]\n"
    "clusters:\n"
    "  - name: one\n"
    "    endpoints: [127.0.0.1:9001]\n";

enum { L_GW, L_IDLE, L_LIFE };

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

/* The upstream connection: the test's end, what it read, and what it
 * answers a head with (its 101, and bytes after it). */
static struct {
	struct sl_xprt_mem *e;
	char got[65536];
	size_t gotlen;
	size_t head_len; /* of the request head, once whole */
	int ended;	 /* 1: its peer's FIN, 2: a reset */
	const char *proto;
	const char *after; /* bytes sent right after the 101 */
	int answered;
	int made;
} up;

static int
connector(struct sl_wendpoint *ep, struct sl_xprt_mem **end)
{
	(void)ep;
	up.made++;
	return sl_xprt_mem_pair(end, &up.e);
}

/* One step of the upstream: read what came; answer a whole head with the
 * 101 its protocol needs. */
static void
serve(void)
{
	ssize_t n = -1;
	char *e;

	if (up.e == NULL || up.ended)
		return;
	while ((n = sl_xprt_mem_read(up.e, up.got + up.gotlen,
				     sizeof(up.got) - 1 - up.gotlen)) > 0)
		up.gotlen += (size_t)n;
	up.got[up.gotlen] = '\0';
	if (n == 0)
		up.ended = 1;
	else if (errno == ECONNRESET)
		up.ended = 2;
	if (up.answered || (e = strstr(up.got, "\r\n\r\n")) == NULL)
		return;
	up.head_len = (size_t)(e + 4 - up.got);
	up.answered = 1;
	{
		char head[512], acc[SL_WS_ACCEPT_LEN + 1];
		int len;
		assert_int_equal(sl_tls_ws_accept(KEY, strlen(KEY), acc), 0);
		if (strcmp(up.proto, "websocket") == 0)
			len = snprintf(head, sizeof(head),
				       "HTTP/1.1 101 Switching Protocols\r\n"
				       "Upgrade: websocket\r\n"
				       "Connection: Upgrade\r\n"
				       "Sec-WebSocket-Accept: %s\r\n\r\n%s",
				       acc, up.after ? up.after : "");
		else
			len = snprintf(head, sizeof(head),
				       "HTTP/1.1 101 Switching Protocols\r\n"
				       "Upgrade: %s\r\nConnection: upgrade\r\n"
				       "\r\n%s",
				       up.proto, up.after ? up.after : "");
		assert_int_equal(sl_xprt_mem_write(up.e, head, (size_t)len),
				 len);
	}
}

/* The worker's loop for n turns, the upstream served, the client not
 * reading. */
static void
spin(int n)
{
	for (int i = 0; i < n; i++) {
		serve();
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	}
	serve();
}

static int
is_tunnel(void)
{
	return c->state == SL_CLIENT_ST_TUNNEL;
}

/* The client's 101 head, whole. */
static int
head_seen(void)
{
	return strstr(got, "\r\n\r\n") != NULL;
}

static size_t
client_head_len(void)
{
	return (size_t)(strstr(got, "\r\n\r\n") + 4 - got);
}

/* The client got more than mark bytes, or its end. */
static size_t mark;
static int
more_than_mark(void)
{
	return gotlen > mark || got_eof != 0;
}

/* The client got at least mark bytes. */
static int
at_least_mark(void)
{
	return gotlen >= mark;
}

/* Both peers answer sluice's close: their FINs. */
static void
peers_close(void)
{
	sl_xprt_mem_shutdown(cli);
	if (up.e != NULL)
		sl_xprt_mem_shutdown(up.e);
}

static int
upstream_ended(void)
{
	serve();
	return up.ended != 0;
}

/* The client asks for a switch on listener l, with extra bytes after its
 * head, and waits for the tunnel. */
static void
open_tunnel(int l, const char *path, const char *proto, const char *extra)
{
	char req[512];

	client_connect(l);
	up.proto = proto;
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
		 "Upgrade: %s\r\nSec-WebSocket-Key: " KEY "\r\n"
		 "Sec-WebSocket-Version: 13\r\n\r\n%s",
		 path, proto, extra ? extra : "");
	client_write(req);
	run_until(head_seen);
	assert_non_null(strstr(got, "HTTP/1.1 101 "));
	run_until(is_tunnel);
}

/* Ends every connection and the test's ends, for a second tunnel in the
 * same test. */
static void
next_tunnel(void)
{
	harness_close_all();
	if (up.e != NULL)
		sl_xprt_mem_close(up.e);
	memset(&up, 0, sizeof(up));
	gotlen = 0;
	got_eof = 0;
}

static int
setup(void **state)
{
	struct sl_wendpoint *ep;

	(void)state;
	memset(&up, 0, sizeof(up));
	harness_setup(yaml, 0, serve);
	TAILQ_FOREACH(ep, &w->eps, link)
	ep->connector = connector;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	harness_close_all();
	if (up.e != NULL)
		sl_xprt_mem_close(up.e);
	up.e = NULL;
	harness_teardown();
	return 0;
}

/* What each side sent before and right after the switch reaches the other,
 * and the upstream got the upgrade. */
static void
test_bytes_at_the_switch_go_through(void **state)
{
	static char want[] = "ping-before-101";

	(void)state;
	up.after = "hello-right-after-101";
	open_tunnel(L_GW, "/ws", "websocket", want);
	assert_non_null(strstr(up.got, "Connection: upgrade\r\n"
				       "Upgrade: websocket\r\n"));
	mark = client_head_len() + strlen(up.after);
	run_until(at_least_mark);
	assert_memory_equal(got + client_head_len(), up.after,
			    strlen(up.after));
	assert_int_equal(up.gotlen, up.head_len + strlen(want));
	assert_memory_equal(up.got + up.head_len, want, strlen(want));
	assert_int_equal(SL_STAT_GET(w->stats.tunnels_open), 1);
}

/*
 * For each size of the client's window, the upstream sends more than it,
 * the client does not read for a while, then reads: every byte arrives,
 * with nothing more from the upstream to wake the tunnel. (The bug this
 * guards against, bytes of a short write left with no event after the
 * loop's eight turns, needs real sockets to show: the memory transport
 * wakes a watched read event when room appears, epoll does not;
 * test_websocket.py has the test that found it.)
 */
static void
test_a_short_write_rest_is_not_stranded(void **state)
{
	static char data[20000];
	size_t sizes[] = {700, 1500, 2600, 3333, 5000, 7700, 8200, 9999};

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t h, total = sizes[k] + 1200;

		next_tunnel();
		open_tunnel(L_GW, "/ws", "websocket", NULL);
		h = client_head_len();
		sl_xprt_mem_set_window(cli, sizes[k]);
		assert_int_equal(sl_xprt_mem_write(up.e, data, total),
				 (ssize_t)total);
		spin(30);
		/* the client reads now; nothing more comes from the upstream */
		sl_xprt_mem_set_window(cli, SIZE_MAX);
		while (gotlen < h + total) {
			size_t before = gotlen;
			spin(4);
			drain_client();
			mark = before;
			if (gotlen == before)
				run_until(more_than_mark);
		}
		assert_int_equal(gotlen, h + total);
		assert_memory_equal(got + h, data, total);
	}
}

/* A client that reads nothing holds the tunnel's buffer, no more: what
 * left the upstream's side is the client's window and one buffer. */
static void
test_backpressure_bounds_what_is_read(void **state)
{
	static char data[100000];

	(void)state;
	open_tunnel(L_GW, "/ws", "websocket", NULL);
	sl_xprt_mem_set_window(cli, 2048);
	memset(data, 'x', sizeof(data));
	assert_int_equal(sl_xprt_mem_write(up.e, data, sizeof(data)),
			 (ssize_t)sizeof(data));
	spin(50);
	assert_true(SL_STAT_GET(w->stats.tunnel_bytes_out) <= 2048 + 1024);
	assert_true(c->state == SL_CLIENT_ST_TUNNEL);
}

/* Each side's FIN goes on after its bytes; the tunnel ends when both did,
 * named after the side that closed first, with its log line. */
static void
test_half_closes_pass_both_ways(void **state)
{
	(void)state;
	open_tunnel(L_GW, "/ws", "websocket", NULL);
	client_write("last-words");
	sl_xprt_mem_shutdown(cli);
	run_until(upstream_ended);
	assert_int_equal(up.ended, 1);
	assert_memory_equal(up.got + up.head_len, "last-words", 10);
	assert_true(c->state == SL_CLIENT_ST_TUNNEL);
	assert_int_equal(sl_xprt_mem_write(up.e, "reply", 5), 5);
	sl_xprt_mem_shutdown(up.e);
	run_until(client_ended);
	assert_int_equal(got_eof, 1);
	assert_memory_equal(got + client_head_len(), "reply", 5);
	run_until(closed);
	assert_int_equal(
	    SL_STAT_GET(w->stats.tunnels_closed[SL_TUN_CLIENT_CLOSED]), 1);
	assert_true(alog_has("\"status\":101"));
	assert_true(alog_has("\"close\":\"client_closed\""));
}

/* The idle budget: a close frame (1001) to each side, at a frame
 * boundary, then the FIN; the tunnel ends after the grace. */
static void
test_idle_tunnel_gets_close_frames(void **state)
{
	const unsigned char *f;

	(void)state;
	open_tunnel(L_IDLE, "/ws", "websocket", NULL);
	run_until(client_ended);
	run_until(upstream_ended);
	peers_close();
	run_until(closed);
	f = (const unsigned char *)got + client_head_len();
	assert_int_equal(gotlen - client_head_len(), 4);
	assert_int_equal(f[0], 0x88);
	assert_int_equal(f[1], 2);
	assert_int_equal(f[2] << 8 | f[3], 1001);
	/* the upstream's is masked */
	f = (const unsigned char *)up.got + up.head_len;
	assert_int_equal(up.gotlen - up.head_len, 8);
	assert_int_equal(f[0], 0x88);
	assert_int_equal(f[1], 0x82);
	assert_int_equal((f[6] ^ f[2]) << 8 | (f[7] ^ f[3]), 1001);
	assert_int_equal(up.ended, 1);
	assert_int_equal(
	    SL_STAT_GET(w->stats.tunnels_closed[SL_TUN_IDLE_TIMEOUT]), 1);
}

/* The lifetime: 1008 while frames flow, sent between two frames. */
static void
test_lifetime_ends_with_1008_between_frames(void **state)
{
	/* a whole frame, then the first half of another */
	static const char frame[] = "\x82\x05hello\x82\x06wor";
	const unsigned char *f;

	(void)state;
	open_tunnel(L_LIFE, "/ws", "websocket", NULL);
	assert_int_equal(sl_xprt_mem_write(up.e, frame, sizeof(frame) - 1),
			 (ssize_t)sizeof(frame) - 1);
	spin(2);
	/* mid-frame: no close frame may go in; the frame's end makes it
	 * possible */
	assert_int_equal(sl_xprt_mem_write(up.e, "ld!", 3), 3);
	run_until(client_ended);
	peers_close();
	run_until(closed);
	f = (const unsigned char *)got + client_head_len() + 15;
	assert_int_equal(gotlen, client_head_len() + 15 + 4);
	assert_int_equal(f[0], 0x88);
	assert_int_equal(f[2] << 8 | f[3], 1008);
	assert_int_equal(SL_STAT_GET(w->stats.tunnels_closed[SL_TUN_LIFETIME]),
			 1);
}

/* A budget that ends a tunnel in the middle of a frame sends nothing into
 * it: the peers are told when their frames end, else the connections just
 * close after the grace (2 s). */
static void
test_no_close_frame_inside_a_frame(void **state)
{
	(void)state;
	open_tunnel(L_IDLE, "/ws", "websocket", NULL);
	/* a frame header announcing 10 bytes, and 3 of them */
	assert_int_equal(sl_xprt_mem_write(up.e,
					   "\x82\x0a"
					   "abc",
					   5),
			 5);
	client_write("\x82\x85"); /* a masked frame's first bytes */
	run_until(closed);
	assert_int_equal(gotlen, client_head_len() + 5);
	run_until(upstream_ended);
	assert_int_equal(up.gotlen, up.head_len + 2);
}

/* An upstream reset resets the client; a client that does not read is cut
 * by send_timeout, and the upstream sees a reset, not a clean end. */
static void
test_resets_and_send_timeout(void **state)
{
	static char data[50000];

	(void)state;
	open_tunnel(L_GW, "/ws", "websocket", NULL);
	sl_xprt_mem_reset(up.e);
	up.e = NULL;
	run_until(client_ended);
	assert_int_equal(got_eof, 2);
	assert_int_equal(
	    SL_STAT_GET(w->stats.tunnels_closed[SL_TUN_UPSTREAM_ERROR]), 1);

	next_tunnel();
	open_tunnel(L_GW, "/ws", "websocket", NULL);
	sl_xprt_mem_set_window(cli, 1000);
	memset(data, 'y', sizeof(data));
	assert_int_equal(sl_xprt_mem_write(up.e, data, sizeof(data)),
			 (ssize_t)sizeof(data));
	/* the client never reads again */
	for (int i = 0; i < 2000 && c->state != SL_CLIENT_ST_CLOSED; i++) {
		serve();
		event_base_loop(w->base, EVLOOP_ONCE);
	}
	assert_int_equal(c->state, SL_CLIENT_ST_CLOSED);
	assert_int_equal(
	    SL_STAT_GET(w->stats.tunnels_closed[SL_TUN_SEND_TIMEOUT]), 1);
	run_until(upstream_ended);
	assert_int_equal(up.ended, 2);
}

/* A drain sends close frames at once; another protocol gets none, its
 * connections just close. */
static void
test_drain_and_other_protocols(void **state)
{
	(void)state;
	open_tunnel(L_GW, "/ws", "websocket", NULL);
	sl_client_drain(c);
	run_until(client_ended);
	assert_int_equal(gotlen, client_head_len() + 4);
	assert_int_equal((unsigned char)got[client_head_len()], 0x88);
	run_until(upstream_ended);
	peers_close();
	run_until(closed);

	next_tunnel();
	open_tunnel(L_GW, "/chat/", "x-chat", NULL);
	assert_non_null(strstr(got, "Upgrade: x-chat\r\n"));
	client_write("any bytes");
	spin(3);
	assert_memory_equal(up.got + up.head_len, "any bytes", 9);
	sl_client_drain(c);
	run_until(closed);
	assert_int_equal(gotlen, client_head_len());
	assert_int_equal(SL_STAT_GET(w->stats.tunnels_closed[SL_TUN_DRAIN]), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bytes_at_the_switch_go_through,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_short_write_rest_is_not_stranded, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_backpressure_bounds_what_is_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_half_closes_pass_both_ways,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_tunnel_gets_close_frames,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_lifetime_ends_with_1008_between_frames, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_close_frame_inside_a_frame,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resets_and_send_timeout, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_drain_and_other_protocols,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
