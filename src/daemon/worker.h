/* SPDX-License-Identifier: MIT */
/*
 * A worker: one thread, one event_base, its own listening sockets, client
 * connections, upstream pools and balancer state. This is the top of a
 * worker: it starts the thread, applies new generations, drains, and
 * stores in the layers below the handlers they call (wloop.h). Nothing is
 * shared with other threads except through the notify descriptor and
 * atomics.
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include "conf_types.h"
#include "wloop.h"

/* A new generation handed from the main thread to one worker. */
struct sl_reload_msg {
	struct sl_conf *conf; /* a reference, taken over by the worker */
	int *fds;	      /* listening socket per conf listener: kept ones
				 are the worker's own, new ones taken over */
};

/*
 * Creates a worker for conf (takes a reference) with the listening sockets
 * fds[0..nlisteners) (taken over). Returns NULL on failure.
 */
struct sl_worker *sl_worker_new(unsigned id, struct sl_conf *conf,
				const int *fds);
/*
 * Gives a worker not started yet one more socket of its listener index
 * listener (taken over): a socket handed over by an upgrade when the
 * replaced sluice had more workers than this one. It is served like the
 * worker's own, follows its address across reloads and closes with it.
 * Returns 0 or -1 (the caller still owns fd).
 */
int sl_worker_add_socket(struct sl_worker *w, size_t listener, int fd);
int sl_worker_start(struct sl_worker *w);
/* Gives a worker not started yet a UDP socket of an http3 listener (index
 * listener; taken over) at place slot of its group: an HTTP/3 endpoint
 * (h3.h). Returns 0 or -1 (fd closed). Only in a build with HTTP/3. */
int sl_worker_add_h3(struct sl_worker *w, size_t listener, int fd,
		     unsigned slot);
/*
 * Hands msg (a new generation) to the worker; thread-safe. The caller
 * waits until applied_gen shows it before sending another.
 */
void sl_worker_reload(struct sl_worker *w, struct sl_reload_msg *msg);
/*
 * Asks the worker to stop accepting and drain; thread-safe. how is
 * SL_DRAIN_STOP (the process stops) or SL_DRAIN_HANDOVER (a new process
 * serves: idle keep-alive connections are held longer, doc/upgrade.md);
 * chan, on SL_DRAIN_HANDOVER, the channel to the new process when it
 * takes idle connections (sl_upgrade_conn_chan), else -1.
 */
void sl_worker_stop(struct sl_worker *w, enum sl_drain how, int chan);
/*
 * Gives the worker fd (taken over), an idle connection the process this
 * one replaces handed over, to serve as an idle keep-alive connection of
 * the listener its local address is on (closed when there is none, or
 * the worker drains); thread-safe.
 */
void sl_worker_adopt(struct sl_worker *w, int fd);
/* Joins the thread and frees the worker. */
void sl_worker_join_free(struct sl_worker *w);

#endif
