/* SPDX-License-Identifier: MIT */
/*
 * Where the Idempotency-Key filter's slot and per-worker state are
 * (exchange_idem_int.h): set once by the filter's placed hook
 * (exchange_idem.c), read by the store's files. A file that calls
 * nothing, so that reading them makes no call cycle among those files.
 */
#include "exchange_idem_int.h"

size_t sl_idem_slot_off, sl_idem_ws_off;
