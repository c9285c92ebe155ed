/* SPDX-License-Identifier: MIT */
/*
 * The exchange's state in words (sl_exchange_state_str), as the debug log
 * shows it: one phase per side, then the flags that vary on their own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "client_int.h"
#include "exchange.h"

static void
test_fresh_exchange(void **state)
{
	struct sl_txn t;
	char buf[256];

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=body up=none resp=none flags=-");
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
	t.flags = T_CLOSE | T_RETAIN | T_FWD_CLIENT;
	assert_string_equal(
	    sl_exchange_state_str(&t, buf, sizeof(buf)),
	    "req=done up=backoff resp=local flags=close,retain,fwd_client");
	t.up_ph = SL_TXN_UP_UNQUEUING;
	t.resp_ph = SL_TXN_RESP_UPSTREAM;
	t.flags = 0;
	assert_string_equal(sl_exchange_state_str(&t, buf, sizeof(buf)),
			    "req=done up=unqueuing resp=upstream flags=-");
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
	assert_memory_equal(buf, "req=body up=none resp=n", sizeof(buf) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh_exchange),
	    cmocka_unit_test(test_phases_and_flags),
	    cmocka_unit_test(test_cut_to_the_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
