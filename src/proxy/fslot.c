/* SPDX-License-Identifier: MIT */
/*
 * Where each filter's slot is in an exchange's area, and the area's size
 * (filter.h, "the slots"). Set once by filter.c, read by the exchange
 * (the area's size, at an exchange's malloc) and by each filter (its own
 * slot, sl_fctx). A file of its own: the filters and the exchange read
 * them without naming filter.c, whose table names every filter.
 */
#include "filter.h"

uint16_t sl_filter_slot_off[SL_FILTERS_MAX];
uint16_t sl_filter_wstate_off[SL_FILTERS_MAX];
size_t sl_filter_wstate_bytes;
size_t sl_filter_slot_bytes;
