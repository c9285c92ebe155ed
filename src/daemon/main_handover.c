/* SPDX-License-Identifier: MIT */
/*
 * This process's side of a binary upgrade (doc/upgrade.md) and of
 * systemd: SIGUSR2 hands the sockets and counters to a new process, which
 * then serves while this one drains; a new process tells the one it
 * replaces (or systemd) that it serves and takes what that one hands on.
 * The protocol itself is handover.c's; nothing here reads the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#ifdef HAVE_QUIC
#include "h3.h"
#endif
#include "handover.h"
#include "log.h"
#include "main_int.h"
#include "worker.h"

/* How long a new process has to report that it serves. */
#define UPGRADE_TIMEOUT_MS 30000

static void
main_on_upgrade_done(void *arg, const struct sl_upgrade_result *r)
{
	struct sl_main *m = arg;
	char msg[64];

	if (!r->ok) {
		m->view.upgrades_failed++;
		log_error("upgrade: failed: %s (%s); this process (pid %ld, "
			  "sluice %s) keeps serving",
			  r->why, r->reason, (long)getpid(), PACKAGE_VERSION);
		sl_upgrade_free(m->upgrade);
		m->upgrade = NULL;
		return;
	}
	m->view.upgrades_ok++;
	m->handed_over = 1;
	log_info("upgrade: pid %ld (sluice %s, configuration sha256 %s) "
		 "serves; pid %ld (sluice %s, sha256 %s) hands over and drains",
		 r->pid, r->version, r->sha256, (long)getpid(), PACKAGE_VERSION,
		 m->conf->sha256[0] ? m->conf->sha256 : "-");
	/* systemd follows the new process from now on */
	snprintf(msg, sizeof(msg), "MAINPID=%ld", r->pid);
	(void)sl_sd_notify(msg);
	/* the admin socket is the new process's now (it holds it) */
	sl_admin_free(m->admin);
	m->admin = NULL;
	sl_main_stop(m, "upgrade");
}

/*
 * SIGUSR2: hands every listening socket (the admin's too) and this
 * process's counters to a new process of this binary's path, which
 * loads the file and serves; this one then drains and exits. If the new
 * one fails at any point, this one serves on as if nothing happened.
 */
void
sl_main_on_usr2(evutil_socket_t sig, short what, void *arg)
{
	struct sl_main *m = arg;
	size_t n = 0, cap = m->nworkers * m->conf->nlisteners + m->nxfds +
			    m->nqsocks + 1;
	char why[512], *counters;
	int *fds;

	if (m->stopping || m->upgrade != NULL) {
		log_warnx("SIGUSR2: %s; no upgrade",
			  m->stopping ? "stopping" : "an upgrade is under way");
		return;
	}
	if ((fds = calloc(cap, sizeof(*fds))) == NULL) {
		log_warnx("SIGUSR2: out of memory; no upgrade");
		return;
	}
	for (unsigned i = 0; i < m->nworkers; i++)
		for (size_t j = 0; j < m->conf->nlisteners; j++)
			fds[n++] = m->fds[i][j];
	for (size_t i = 0; i < m->nxfds; i++)
		fds[n++] = m->xfds[i].fd;
	if (m->admin != NULL)
		fds[n++] = sl_admin_fd(m->admin);
	/* the http3 listeners' UDP sockets, each group in its order, and the
	 * key their connections' resets are made with (doc/http3.md) */
	for (size_t i = 0; i < m->nqsocks; i++)
		fds[n++] = m->qsocks[i].fd;
	counters = sl_admin_metrics(&m->view);
	m->upgrade = sl_upgrade_start(
	    m->base, m->exe, m->argv, fds, n, counters,
#ifdef HAVE_QUIC
	    m->nqsocks > 0 ? sl_h3_key() : NULL,
#else
	    NULL,
#endif
	    UPGRADE_TIMEOUT_MS, main_on_upgrade_done, m, why, sizeof(why));
	free(counters);
	free(fds);
	if (m->upgrade == NULL) {
		m->view.upgrades_failed++;
		log_error("upgrade: failed: %s; this process keeps serving",
			  why);
		return;
	}
	log_info("upgrade: started %s: %zu listening sockets handed over",
		 m->exe, n);
}

/* The counters of the process this one took over from, at its exit
 * (text), or the end of its channel (NULL). */
static void
main_on_carried(void *arg, char *text)
{
	struct sl_main *m = arg;

	if (text == NULL) {
		log_info("upgrade: pid %ld has finished", m->given.old_pid);
		return;
	}
	free(m->view.carried);
	m->view.carried = text;
}

/* Idle connections the process this one took over from hands over as it
 * drains: to the workers in turn. */
static void
main_on_conns(void *arg, const int *fds, size_t n)
{
	struct sl_main *m = arg;

	for (size_t i = 0; i < n; i++)
		sl_worker_adopt(m->workers[m->next_adopt++ % m->nworkers],
				fds[i]);
}

/*
 * This binary's path as it was started, for the upgrade: argv[0] made
 * absolute, a symbolic link left as it is (a package upgrade or a link
 * moved to another build puts the new binary there), or found on PATH.
 */
char *
sl_main_exe_path(const char *argv0)
{
	char cwd[4096], *p;

	if (strchr(argv0, '/') != NULL) {
		if (argv0[0] == '/')
			return strdup(argv0);
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return NULL;
		return asprintf(&p, "%s/%s", cwd, argv0) == -1 ? NULL : p;
	}
	{
		const char *path = getenv("PATH");
		char *copy, *save = NULL, *dir;
		if (path == NULL || (copy = strdup(path)) == NULL)
			return NULL;
		for (dir = strtok_r(copy, ":", &save); dir != NULL;
		     dir = strtok_r(NULL, ":", &save)) {
			if (asprintf(&p, "%s/%s", dir, argv0) == -1)
				break;
			if (access(p, X_OK) == 0) {
				free(copy);
				return p;
			}
			free(p);
		}
		free(copy);
	}
	/* the kernel's idea, as a last resort */
	p = realpath("/proc/self/exe", NULL);
	return p;
}

void
sl_main_announce(struct sl_main *m)
{
	if (m->given.chan != -1) {
		/* an upgrade: the old process learns that this one serves,
		 * and carries on with its counters */
		m->view.carried = m->given.counters;
		m->given.counters = NULL;
		m->given.on_counters = main_on_carried;
		m->given.on_conns = main_on_conns;
		m->given.arg = m;
		log_info("upgrade: took over from pid %ld (sluice %s): %zu "
			 "sockets",
			 m->given.old_pid, m->given.old_version, m->given.n);
		(void)sl_handover_ready(&m->given, m->base, m->conf->sha256);
	} else {
		if (m->given.from_systemd)
			log_info("socket activation: %zu sockets from systemd",
				 m->given.n);
		(void)sl_sd_notify("READY=1");
	}
}

void
sl_main_handover_end(struct sl_main *m)
{
	if (m->handed_over) {
		/* the new process carries on from this one's final counts */
		char *counters = sl_admin_metrics(&m->view);
		sl_upgrade_finish(m->upgrade, counters);
		m->upgrade = NULL;
		free(counters);
	}
	sl_upgrade_free(m->upgrade);
	sl_handover_free(&m->given);
}
