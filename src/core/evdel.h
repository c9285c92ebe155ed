/* SPDX-License-Identifier: MIT */
/*
 * libevent's calls without their cost when the event's own flags answer:
 * each takes the base's lock, about 40 to 90 instructions, for an
 * event_del that finds nothing added or active (an upstream stream's
 * events, a shared connection's idle timer), an event_active of an event
 * already active for the same reason (a stream woken by each of its
 * frames), a look at whether a timer is pending. No I/O; the event's own
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

/* event_active(ev, res, 1), unless ev is active already with res among
 * its results: libevent's would only add res to them. */
static inline void
sl_event_active(struct event *ev, short res)
{
	if ((ev->ev_evcallback.evcb_flags & EVLIST_ACTIVE) &&
	    (ev->ev_res & res) == res)
		return;
	event_active(ev, res, 1);
}

/* evtimer_pending(ev, NULL): ev is a timer that is added, or active from
 * its timeout. */
static inline int
sl_evtimer_pending(const struct event *ev)
{
	short f = ev->ev_evcallback.evcb_flags;

	return (f & EVLIST_TIMEOUT) ||
	       ((f & (EVLIST_ACTIVE | EVLIST_ACTIVE_LATER)) &&
		(ev->ev_res & EV_TIMEOUT));
}

#endif
