/* SPDX-License-Identifier: MIT */
/*
 * Private to the daemon's own files: the main thread's state and what
 * main.c calls to do its work. main_check.c loads the file and checks
 * what a start on it needs (-t stops there) and keeps the pid file;
 * main_serve.c opens the listening sockets, starts the workers and stops
 * them; main_reload.c makes the generations after the first (SIGHUP, the
 * watch, DNS answers); main_handover.c is this process's side of an
 * upgrade. Main thread only; no module of libsluice.a may include it.
 */
#ifndef SL_MAIN_INT_H
#define SL_MAIN_INT_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "admin.h"
#include "conf_types.h"
#include "handover.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF SYSCONFDIR "/sluice/sluice.yaml"

/* The signals the main loop handles (main.c). */
#define SL_MAIN_NSIGS 5

struct sl_health;
struct sl_resolver;
struct sl_watch;
struct sl_worker;

/* The main thread's state: one, main()'s, which frees what it owns. */
struct sl_main {
	struct sl_conf *conf;
	struct sl_worker **workers;
	unsigned nworkers;
	struct event_base *base;
	struct sl_admin *admin;
	struct sl_health *health;  /* active health checks */
	struct sl_admin_view view; /* what admin pages show */
	struct event *wait_ev;	   /* polls for drained workers */
	struct event *second_ev;   /* the filters' second (filter.h's tick) */
	/* a fleet (doc/fleet.md) */
	struct sl_resolver *resolver; /* endpoints by name */
	struct sl_conf *pending;      /* a reload waiting for its new names'
					 first answers (or until
					 pending_until_ms) */
	uint64_t pending_until_ms;
	const char *pending_why;  /* "reload", "watch" */
	const char *retry_why;	  /* a reload waiting for the workers */
	struct event *pending_ev; /* polls it */
	int dns_dirty;		  /* answers changed: a generation is due */
	struct sl_watch *watch;	  /* the file and those it names */
	char loaded_fp[65];	  /* their fingerprint, as the running
				     generation read them ("": not known,
				     any change reloads) */
	char tried_fp[65];	  /* ... as the watch last found them, or
				     as the last reload applied them */
	char reload_fp[65];	  /* ... as a reload under way found them
				     before it read the file ("": not
				     taken) */
	struct event *reload_ev;  /* retries a reload that had to wait */
	struct event *reap_ev;	  /* generations a worker let go of, to free
				     (main_reload.c's reaper) */
	const char *path;	  /* configuration file */
	const char *pid_file;	  /* -p, NULL for none */
	int pid_written;	  /* pid_file is ours: remove it at exit */
	int **fds; /* listening sockets: [worker][listener of conf] */
	int stopping;
	/* what start-up opened, which a reload cannot change */
	char *run_admin;  /* admin address, NULL for none (owned) */
	char *run_access; /* access log destination (owned) */
	/* binary upgrades (doc/upgrade.md) */
	char *exe;		    /* this binary's path as started (owned) */
	char **argv;		    /* as started, for the new process */
	struct sl_handover given;   /* what this process was given */
	struct sl_upgrade *upgrade; /* to a new process, under way or done */
	int handed_over;     /* the new process serves: this one drains */
	unsigned next_adopt; /* the worker the next connection handed over
				by the replaced process goes to */
	/* sockets given to the workers beyond one per worker and listener
	 * (an upgrade from a sluice with more workers): handed over again */
	struct sl_xfd {
		int fd;
		char *addr; /* the listener's address text (owned) */
	} * xfds;
	size_t nxfds;
	struct event *sig_ev[SL_MAIN_NSIGS]; /* TERM, INT, HUP, USR1, USR2 */
	/* the http3 listeners' UDP sockets (doc/http3.md): this process's
	 * copies (each worker holds its own), in their SO_REUSEPORT groups'
	 * order, each group's sockets together: what an upgrade hands over,
	 * so that the groups, and the routing by connection ID, stay */
	struct sl_qsock {
		int fd;
		unsigned slot; /* its place in its group: the first byte of
				  the connection IDs of the endpoint on it */
		struct sockaddr_storage ss; /* its listener's address */
	} * qsocks;
	size_t nqsocks;
};

/* Says which http3 listeners of nc have no UDP sockets (http3 added by
 * a reload: it serves from the next start or upgrade, doc/http3.md). */
void sl_main_h3_unbound(const struct sl_main *m, const struct sl_conf *nc,
			const char *why);

/* Generation conf serves (why: "start", or the reload's cause): what each
 * module logs of it (module.h's loaded). */
void sl_main_modules_loaded(const struct sl_conf *conf, const char *why);

/* "1 worker", "2 workers": for the log lines of a start and a reload. */
static inline const char *
sl_main_plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- main_check.c: the file, -t, the pid file ---------------------------- */

/*
 * Loads path into m->conf and checks everything a start on it needs
 * (what it will open, its addresses, the pid file pid_file when not NULL,
 * certificates, secrets), saying every problem on stderr; unless check
 * (-t), first takes the sockets a replaced sluice or systemd gives
 * (m->given). Returns 0, or -1 when the process must exit 1 (nothing is
 * left to free).
 */
int sl_main_load(struct sl_main *m, const char *path, const char *pid_file,
		 int check);

/* -t, once sl_main_load passed: the names that do not resolve, as
 * warnings, then "configuration OK". Frees m->conf; returns the exit
 * status, 0. */
int sl_main_check_ok(struct sl_main *m);

/* Logs every line of a loader's error (or, with warning, warning) text,
 * each after prefix. text may be NULL. */
void sl_main_log_lines(int warning, const char *prefix, const char *text);

/* Exits when path names a running sluice other than this one and
 * replaced (the one an upgrade takes over from); warns of a stale file. */
void sl_main_pidfile_check(const char *path, long replaced);

/* Writes this process's pid to path, atomically. Returns 0, or -1 (errno
 * set). */
int sl_main_pidfile_write(const char *path);

/* Removes path at a clean exit if it still names this process. */
void sl_main_pidfile_remove(const char *path);

/* ---- main_serve.c: listening sockets, workers, stop ---------------------- */

/* The workers conf asks for: its "workers", or one per CPU. */
unsigned sl_main_workers_wanted(const struct sl_conf *conf);

/* Starts the admin listener when m->conf has one (a socket given for its
 * address first); exits when it cannot listen. */
void sl_main_admin_start(struct sl_main *m);

/* Opens (or takes, when given) every listening socket of m->conf for
 * every worker, makes sure no other process listens there, and starts
 * the workers on them. Exits on any failure. */
void sl_main_start_workers(struct sl_main *m);

/* The listening sockets of nc for every worker, the running ones kept
 * where an address is unchanged ([worker][listener of nc], malloc'd), or
 * NULL (logged; nothing left open). */
int **sl_main_reload_sockets(struct sl_main *m, struct sl_conf *nc);

/* Stops accepting and drains (why: "signal 15", "upgrade"); the loop
 * ends once every worker has finished (sl_main_on_wait). */
void sl_main_stop(struct sl_main *m, const char *why);

/* m->wait_ev's callback: ends the loop when every worker is done. */
void sl_main_on_wait(evutil_socket_t fd, short what, void *arg);

/* ---- main_reload.c: generations after the first -------------------------- */

/* SIGHUP (why "reload") or the watch ("watch"): loads, checks and hands
 * out the file, or keeps the running generation (logged either way). */
void sl_main_reload(struct sl_main *m, const char *why);

/* Waits for the first answers of the file's names, then puts them in the
 * first generation. Returns 0, or -1 when a signal asked to stop first. */
int sl_main_resolve_at_start(struct sl_main *m);

/* Follows (or stops following) the running file and what it names, as
 * its watch: says; fp: take their fingerprint as the one now loaded. */
void sl_main_watch_refresh(struct sl_main *m, int fp);

/* The reaper (main_reload.c): generations whose last reference goes on
 * a worker are freed on the main thread (m->reap_ev). init returns 0 or
 * -1; adopt marks a generation the process serves as the reaper's; free
 * (after the workers are joined) frees what was handed over. */
int sl_main_reaper_init(struct sl_main *m);
void sl_main_reaper_adopt(struct sl_conf *conf);
void sl_main_reaper_free(struct sl_main *m);
/* Gives the heap's free pages back (a load's YAML tree), but under a
 * sanitizer. */
void sl_main_trim(void);

/* The callbacks of m->pending_ev, m->reload_ev and the resolver. */
void sl_main_on_pending(evutil_socket_t fd, short what, void *arg);
void sl_main_on_reload_retry(evutil_socket_t fd, short what, void *arg);
void sl_main_on_dns(void *arg);

/* ---- main_handover.c: upgrades, systemd ---------------------------------- */

/* This binary's path as it was started (malloc'd), or NULL. */
char *sl_main_exe_path(const char *argv0);

/* SIGUSR2: hands the sockets and counters to a new process. */
void sl_main_on_usr2(evutil_socket_t sig, short what, void *arg);

/* Once serving: tells the process this one replaces (an upgrade) or
 * systemd that this one serves. */
void sl_main_announce(struct sl_main *m);

/* At exit: hands the final counters to the new process of an upgrade,
 * and frees m->upgrade and m->given. */
void sl_main_handover_end(struct sl_main *m);

#endif
