/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets: creation (SO_REUSEPORT, one per worker per listener)
 * and accepting, with a pause when the process runs out of descriptors.
 */
#ifndef SL_LISTENER_H
#define SL_LISTENER_H

#include <event2/event_struct.h>
#include <sys/socket.h>

#include "conf_types.h"

struct sl_worker;
struct sl_lsock;

/* What a listener does with a connection it accepted and counted (the
 * per-address slot to release at close, see sl_runtime_ip_take): takes fd
 * over. */
typedef void sl_accept_handler(struct sl_lsock *ls, int fd,
			       const struct sockaddr *sa, socklen_t salen,
			       int ip_slot);

/* One listener's socket in one worker. */
struct sl_lsock {
	struct sl_worker *w;		     /* owner */
	const struct sl_conf_listener *conf; /* borrowed from w->conf */
	sl_accept_handler *on_accept;	     /* set by sl_listener_start */
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

/*
 * Takes fd, a socket this process was given listening on l's address (an
 * upgrade, socket activation), as if sl_listener_open had made it: checks
 * that it is a listening stream socket, makes it non-blocking and
 * close-on-exec and sets l's options. Returns 0, or -1 (errno set).
 */
int sl_listener_adopt(int fd, const struct sl_conf_listener *l);

/*
 * How well local, the local address of a connection an upgrade handed
 * over, is l's: 2 the same address and port, 1 l's wildcard address on
 * that port, 0 not l's, or l cannot take such a connection (TLS, a PROXY
 * header, no HTTP/1.1: it was none of these in the old process).
 */
int sl_listener_owns(const struct sl_conf_listener *l,
		     const struct sockaddr *local);

/*
 * Takes fd over, an idle connection from peer that an upgrade handed over
 * (sl_listener_owns said it is ls's): counts it on ls, past its limits if
 * need be (its client has had it all along and sent nothing wrong), and
 * gives it to ls's on_accept as if just accepted.
 */
void sl_listener_take(struct sl_lsock *ls, int fd, const struct sockaddr *peer,
		      socklen_t peerlen);

/* Starts accepting on ls (fd already set); each connection goes to
 * on_accept. Returns 0 or -1. */
int sl_listener_start(struct sl_lsock *ls, sl_accept_handler *on_accept);
/* Stops accepting and closes the socket. */
void sl_listener_close(struct sl_lsock *ls);

#endif
