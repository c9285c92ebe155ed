/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets: creation (SO_REUSEPORT, one per worker per listener)
 * and accepting, with a pause when the process runs out of descriptors.
 */
#ifndef SL_LISTENER_H
#define SL_LISTENER_H

#include <event2/event_struct.h>

#include "conf.h"

struct sl_worker;

/* One listener's socket in one worker. */
struct sl_lsock {
	struct sl_worker *w;		     /* owner */
	const struct sl_conf_listener *conf; /* borrowed from w->conf */
	int fd;
	struct event ev;       /* readable: connections wait */
	struct event pause_ev; /* resume after EMFILE */
	int active;	       /* ev is added */
	uint64_t last_emfile_log_ms;
	uint64_t last_reject_log_ms;
};

/*
 * Opens, binds and listens on l's address with SO_REUSEPORT. Returns the
 * descriptor or -1 (errno kept).
 */
int sl_listener_open(const struct sl_conf_listener *l);

/* Starts accepting on ls (fd already set). Returns 0 or -1. */
int sl_listener_start(struct sl_lsock *ls);
/* Stops accepting and closes the socket. */
void sl_listener_close(struct sl_lsock *ls);

#endif
