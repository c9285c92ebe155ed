/* SPDX-License-Identifier: MIT */
/*
 * The admin listener, served by the main thread: /healthz, /readyz,
 * /config and /metrics. It reads worker counters; it never touches a
 * worker's connections.
 */
#ifndef SL_ADMIN_H
#define SL_ADMIN_H

#include "conf_types.h"

struct event_base;
struct sl_worker;
struct sl_admin;
struct sl_resolver;

/* What the admin pages report on; owned by main, borrowed here. */
struct sl_admin_view {
	struct sl_conf *conf;
	struct sl_worker **workers;
	unsigned nworkers;
	int draining;
	uint64_t start_ms;
	uint64_t reloads_ok;	 /* SIGHUP reloads applied */
	uint64_t reloads_failed; /* SIGHUP reloads refused */
	/* the last reload asked for (SIGHUP or the watch), for the status
	 * page: when it ended (wall clock, ms; 0: none yet), whether it
	 * was applied, why it was asked ("reload", "watch"), and a
	 * refusal's first error line */
	uint64_t last_reload_ms;
	int last_reload_ok;
	const char *last_reload_why;
	char last_reload_error[256];
	/* what runs of the settings read at start only (borrowed): the
	 * admin address (NULL: none) and the access log */
	const char *run_admin, *run_access;
	uint64_t upgrades_ok;	  /* hand-overs to a new process, done */
	uint64_t upgrades_failed; /* and failed */
	/* the counters of the sluice this one took over from (its /metrics
	 * page), added to this one's (doc/upgrade.md); owned by main */
	char *carried;
	/* a fleet (doc/fleet.md): the resolver (borrowed; NULL: none), the
	 * generations its answers made, the reloads the watch started */
	const struct sl_resolver *resolver;
	uint64_t dns_updates;
	uint64_t watch_reloads;
};

/*
 * Listens on conf->admin_addr, on fd when it is not -1 (a socket this
 * process was given, listening there: taken over). Returns NULL with errno
 * set when the socket cannot be opened.
 */
struct sl_admin *sl_admin_start(struct event_base *base,
				const struct sl_admin_view *view, int fd);

/* The admin's listening socket (an upgrade hands it over). */
int sl_admin_fd(const struct sl_admin *a);

/* The /metrics page as it is served now, malloc'd (NULL when out of
 * memory): what an upgrade carries over. */
char *sl_admin_metrics(const struct sl_admin_view *view);
/* Stops listening and closes admin connections. */
void sl_admin_free(struct sl_admin *a);

#endif
