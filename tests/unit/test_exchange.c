/* SPDX-License-Identifier: MIT */
/*
 * The exchange's state in words (sl_exchange_state_str), as the debug log
 * shows it: one phase per side, the sub-states, then the flags that vary
 * on their own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "exchange.h"
#include "exchange_int.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh_exchange),
	    cmocka_unit_test(test_phases_and_flags),
	    cmocka_unit_test(test_attempt_phases),
	    cmocka_unit_test(test_unknown_values),
	    cmocka_unit_test(test_cut_to_the_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
