/* SPDX-License-Identifier: MIT */
/*
 * Where each filter's slot is in an exchange's area, and the area's size
 * (filter.h, "the slots"). Set once by filter.c, read by the exchange
 * (the area's size, at an exchange's malloc) and by each filter (its own
 * slot, sl_fctx); and a routed request's state made in its filters'
 * slots. A file of its own: the filters and the exchange read them
 * without naming filter.c, whose table names every filter.
 */
#include <stdint.h>
#include <string.h>

#include "exchange_int.h"
#include "filter.h"
#include "wgen.h"

uint16_t sl_filter_slot_off[SL_FILTERS_MAX];
uint16_t sl_filter_wstate_off[SL_FILTERS_MAX];
size_t sl_filter_wstate_bytes;
size_t sl_filter_slot_bytes;

void
sl_filters_begin(struct sl_txn *t, const struct sl_wroute *wr)
{
	for (unsigned i = 0; i < wr->nfilt; i++) {
		const struct sl_filter *f = wr->filt[i];
		if (f->begin != NULL)
			f->begin(t, sl_fctx(t, f));
		else if (f->ctx_size > 16)
			memset(sl_fctx(t, f), 0, f->ctx_size);
		else if (f->ctx_size != 0) {
			/* a pointer or two and a result: two stores (a slot
			 * is 16-byte aligned and padded, filter.c) */
			uint64_t *w = sl_fctx(t, f);
			w[0] = w[1] = 0;
		}
	}
}
