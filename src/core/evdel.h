/* SPDX-License-Identifier: MIT */
/*
 * event_del without its cost when there is nothing to undo. libevent's
 * takes the base's lock and looks at the event's lists: about 90
 * instructions for an event that is neither added nor active, which is
 * what most of the request path's deletions find (an upstream stream's
 * events, a shared connection's idle timer). No I/O; the event's own
 * thread only.
 */
#ifndef SL_EVDEL_H
#define SL_EVDEL_H

#include <event2/event.h>
#include <event2/event_struct.h>

/* event_del(ev) when ev is added (for I/O or a timeout) or active;
 * otherwise nothing, as event_del would do. Returns event_del's result,
 * or 0. */
static inline int
sl_event_del(struct event *ev)
{
	if (!(ev->ev_evcallback.evcb_flags &
	      (EVLIST_INSERTED | EVLIST_TIMEOUT | EVLIST_ACTIVE |
	       EVLIST_ACTIVE_LATER)))
		return 0;
	return event_del(ev);
}

#endif
