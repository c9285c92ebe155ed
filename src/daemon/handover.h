/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets that outlive a process (doc/upgrade.md): a running
 * sluice hands its sockets and counters to a new sluice (SIGUSR2, over a
 * Unix socket pair with SCM_RIGHTS), and systemd may give a sluice its
 * sockets (socket activation, LISTEN_FDS). Both ends of an upgrade are
 * here, and the few lines of systemd's notification protocol. Main thread
 * only, but for sl_handover_send_conns (a worker's, as it drains);
 * nothing on the request path.
 */
#ifndef SL_HANDOVER_H
#define SL_HANDOVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct event_base;

/* A listening socket this process was given, until a listener (or the
 * admin) claims it. */
struct sl_given {
	int fd;
	struct sockaddr_storage ss; /* getsockname */
	socklen_t sslen;
	char *name; /* systemd's FileDescriptorName, else NULL */
	int claimed;
	int dgram; /* a UDP socket (an http3 listener's), not a listening
		      one: claimed only by sl_handover_claim_dgram */
};

/* What a new process was given at start. */
struct sl_handover {
	struct sl_given *v;
	size_t n;
	int from_systemd; /* LISTEN_FDS */
	/* an upgrade: the channel to the process being replaced, -1 none */
	int chan;
	long old_pid;
	char old_version[64];
	char *counters; /* the old process's /metrics page, malloc'd */
	/* the old process's QUIC token key (stateless resets, Retry), so
	 * that its connections, whose datagrams now come here, are reset at
	 * once (doc/http3.md) */
	uint8_t qkey[32];
	int has_qkey;
	/* set by sl_handover_claim: a socket named as the listener but bound
	 * to another address (nothing was claimed), else NULL */
	const struct sl_given *misnamed;
	struct event *ev;
	/* the old process's final counters (at its exit), or the channel's
	 * end: text is malloc'd (taken) or NULL at the end */
	void (*on_counters)(void *arg, char *text);
	/* idle connections the old process hands over as it drains: the
	 * descriptors fds[0..n) are taken. Set before sl_handover_ready;
	 * NULL: this process takes none (the old one is told so) */
	void (*on_conns)(void *arg, const int *fds, size_t n);
	void *arg; /* of both */
};

/*
 * At start, before anything is bound: takes what the environment gives,
 * the sockets and counters of a sluice being replaced (SLUICE_UPGRADE_FD,
 * read within a few seconds) or systemd's sockets (LISTEN_PID,
 * LISTEN_FDS, LISTEN_FDNAMES), and removes those variables. h is zeroed
 * first. Returns 0 (also when nothing is given), or -1 with the reason in
 * why: the process must not start.
 */
int sl_handover_receive(struct sl_handover *h, char *why, size_t whysz);

/* Whether this process was started as the new process of an upgrade
 * (SIGUSR2): true until sl_handover_receive removes the variable. */
int sl_handover_upgrading(void);

/*
 * Claims the given sockets that listen on ss's address and port, or that
 * systemd named name (name may be NULL). Returns how many; their
 * descriptors go to out (at most max; the rest stay unclaimed).
 */
size_t sl_handover_claim(struct sl_handover *h, const struct sockaddr *ss,
			 const char *name, int *out, size_t max);
/* The UDP sockets given on address ss (an http3 listener's), in the order
 * the old process sent them, which is their order in the kernel's
 * SO_REUSEPORT group: at most max into out. Returns how many. */
size_t sl_handover_claim_dgram(struct sl_handover *h, const struct sockaddr *ss,
			       int *out, size_t max);

/* Closes the given sockets nothing claimed (a listener the new file does
 * not have), logging each. */
void sl_handover_close_unclaimed(struct sl_handover *h);

/*
 * The new process serves: READY (with its pid, version and file digest,
 * and whether it takes idle connections: h->on_conns set) to the process
 * it replaces, then waits on base for the connections it hands over
 * (h->on_conns) and its final counters (h->on_counters). Returns 0 or -1
 * (the old process is gone: logged; serving goes on).
 */
int sl_handover_ready(struct sl_handover *h, struct event_base *base,
		      const char *sha256);

/* Frees h (given sockets not claimed are closed). */
void sl_handover_free(struct sl_handover *h);

/*
 * The same for a start that fails before it serves: the sockets it was
 * given are closed without a log line each (they stay open in the
 * process that gave them).
 */
void sl_handover_discard(struct sl_handover *h);

/* ---- the process being replaced --------------------------------------- */

struct sl_upgrade;

/* How an upgrade ended, for the old process. */
struct sl_upgrade_result {
	int ok;		  /* the new process serves */
	long pid;	  /* of the new process, 0 if none started */
	char version[64]; /* what it said, "" if nothing */
	char sha256[65];  /* its file's digest */
	int conns;	  /* it takes idle connections (sl_upgrade_conn_chan) */
	const char *why;  /* when not ok, static or in reason */
	char reason[256]; /* the details */
};

/*
 * Starts an upgrade: spawns exe with argv (the new process is told by
 * SLUICE_UPGRADE_FD where to read), hands it fds[0..nfds) (every listening
 * socket of this process, the admin's included, and the http3 listeners'
 * UDP sockets in their groups' order), counters (this process's /metrics
 * page) and qkey (its QUIC token key, 32 bytes, or NULL), and waits on base for
 * its READY at most timeout_ms. done(arg, result) is called once from base's
 * loop: ok, or failed (the new process exited, did not answer in time, or the
 * channel broke; a process still running then is killed). Returns NULL
 * with why set when the upgrade cannot start (done is not called).
 */
struct sl_upgrade *
sl_upgrade_start(struct event_base *base, const char *exe, char *const argv[],
		 const int *fds, size_t nfds, const char *counters,
		 const uint8_t *qkey, unsigned timeout_ms,
		 void (*done)(void *arg, const struct sl_upgrade_result *r),
		 void *arg, char *why, size_t whysz);

/* After a successful upgrade, at this process's exit: sends counters (the
 * final /metrics page) to the new process and frees u. Takes NULL. */
void sl_upgrade_finish(struct sl_upgrade *u, const char *counters);

/* Frees an upgrade that ended (after done): closes the channel. */
void sl_upgrade_free(struct sl_upgrade *u);

/*
 * The channel to the new process of a successful upgrade when it takes
 * idle connections (it said so with READY), for the workers' drain
 * (sl_handover_send_conns); else -1. Takes NULL. The channel stays open
 * until sl_upgrade_finish, after the workers have ended.
 */
int sl_upgrade_conn_chan(const struct sl_upgrade *u);

/* At most this many descriptors in one sl_handover_send_conns. */
#define SL_HANDOVER_CONNS_MAX 200

/*
 * From a worker of the process being replaced, as it drains; thread-safe
 * (each call is one message of the channel) and never waits. Sends
 * fds[0..n) (0 < n <= SL_HANDOVER_CONNS_MAX), idle client connections
 * nothing watches or reads any more, to the new process over chan.
 * Returns 0: they are on their way (the caller closes its descriptors,
 * which ends no connection: the new process holds them, or the kernel
 * does until it reads them). SL_AGAIN: the channel is full, nothing was
 * sent; try again once chan is writable. -1 (errno): nothing was sent
 * (the new process is gone, or the kernel refused, as with too many
 * descriptors in flight); the caller tries no more.
 */
int sl_handover_send_conns(int chan, const int *fds, size_t n);

/* ---- systemd ------------------------------------------------------------ */

/* Sends msg ("READY=1", "MAINPID=123", "STOPPING=1") to systemd when
 * NOTIFY_SOCKET is set. Returns 0 (also when it is not), or -1. */
int sl_sd_notify(const char *msg);

#endif
