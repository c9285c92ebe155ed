/* SPDX-License-Identifier: MIT */
/*
 * Command line, start-up, signals and stop. Everything that touches
 * requests runs in the workers; this thread only loads the configuration,
 * opens the listening sockets and relays signals.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "admin.h"
#include "conf.h"
#include "guard.h"
#include "handover.h"
#include "health.h"
#include "listener.h"
#include "log.h"
#include "main_int.h"
#include "portcheck.h"
#include "preflight.h"
#include "resolve.h"
#include "runtime.h"
#include "tls.h"
#include "watch.h"
#include "worker.h"

/* How long a new process has to report that it serves. */
#define UPGRADE_TIMEOUT_MS 30000

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: sluice [-c FILE] [-p FILE] [-t] [-V] [-h]\n"
		"  -c FILE   configuration (default: %s)\n"
		"  -p FILE   write the process id to FILE once serving; "
		"removed at exit\n"
		"  -t        check the configuration (and that -p FILE can be "
		"written) and exit;\n"
		"            with -p, the addresses of the sluice it names "
		"count as free\n"
		"  -V        print versions and exit\n"
		"  -h        this help\n"
		"signals: HUP reload, USR1 reopen the access log, USR2 upgrade "
		"(hand the\n"
		"sockets to a new process of this binary's path), TERM/INT "
		"stop\n",
		DEFAULT_CONF);
}

static void
version(void)
{
	printf("sluice %s\n", PACKAGE_VERSION);
	printf("libevent %s\n", event_get_version());
	printf("OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("libyaml %s\n", yaml_get_version_string());
	printf("libnghttp2 %s\n", nghttp2_version(0)->version_str);
	/* hiredis has no call that names its version, only these macros of
	 * the headers built with: the library loaded may be another one of
	 * the same soname, so the line says which it is */
	printf("hiredis %d.%d.%d (the headers built with; hiredis reports no "
	       "version at run time)\n",
	       HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
	/* buildflags.h, included by the build (see Makefile.am) */
#ifdef SL_BUILD_CC
	printf("built with: %s %s\n", SL_BUILD_CC, SL_BUILD_CFLAGS);
#endif
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit(RLIMIT_NOFILE)");
	}
}

static void
main_on_stop(evutil_socket_t sig, short what, void *arg)
{
	char why[32];

	snprintf(why, sizeof(why), "signal %d", (int)sig);
	sl_main_stop(arg, why);
}

/* Once a second: the canary guards judge their windows (guard.h). */
static void
main_on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct sl_main *m = arg;

	sl_guard_tick(m->conf, sl_now_ms());
}

static void
main_on_hup(evutil_socket_t sig, short what, void *arg)
{
	sl_main_reload(arg, "reload");
}

static void
main_on_usr1(evutil_socket_t sig, short what, void *arg)
{
	if (sl_access_reopen() == -1)
		log_warn("SIGUSR1: reopening the access log");
	else
		log_info("SIGUSR1: access log reopened");
}

/* ---- upgrade (SIGUSR2) -------------------------------------------------- */

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
static void
main_on_usr2(evutil_socket_t sig, short what, void *arg)
{
	struct sl_main *m = arg;
	size_t n = 0, cap = m->nworkers * m->conf->nlisteners + m->nxfds + 1;
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
	counters = sl_admin_metrics(&m->view);
	m->upgrade = sl_upgrade_start(
	    m->base, m->exe, m->argv, fds, n, counters, UPGRADE_TIMEOUT_MS,
	    main_on_upgrade_done, m, why, sizeof(why));
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
static char *
exe_path(const char *argv0)
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

int
main(int argc, char **argv)
{
	struct sl_main m;
	const char *path = DEFAULT_CONF, *pid_file = NULL;
	int check = 0, ch;
	struct event *ev_term, *ev_int, *ev_hup, *ev_usr1, *ev_usr2;

	memset(&m, 0, sizeof(m));
	m.given.chan = -1;
	/* a reload or reopen asked for before the handlers are in place
	 * (the file is being loaded right now) must not kill the process:
	 * the default action of SIGHUP and SIGUSR1 is to terminate */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	while ((ch = getopt(argc, argv, "c:p:tVh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'p':
			pid_file = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'V':
			version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	/* the file and all a start on it needs: -t stops here */
	if (sl_main_load(&m, path, pid_file, check) == -1)
		return 1;
	if (check)
		return sl_main_check_ok(&m);
	/* a second sluice given the same -p stops here, before it binds */
	if (pid_file != NULL)
		sl_main_pidfile_check(pid_file, m.given.old_pid);
	m.conf->generation = 1;
	/* per-worker counters are sized by the workers there will be */
	sl_runtime_set_workers(sl_main_workers_wanted(m.conf));
	if (sl_runtime_bind(m.conf) == -1)
		fatalx("out of memory");
	sl_log_set_level(m.conf->log_level);
	sl_log_set_query(m.conf->log_query);
	sl_log_set_cards(m.conf->log_cards);
	if (sl_access_open(m.conf->access_log, m.conf->access_format) == -1)
		fatal("access log %s", m.conf->access_log);
	if ((m.run_access = strdup(m.conf->access_log)) == NULL ||
	    (m.conf->has_admin &&
	     (m.run_admin = strdup(m.conf->admin_addr.text)) == NULL))
		fatalx("out of memory");
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	if ((m.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	ev_term = evsignal_new(m.base, SIGTERM, main_on_stop, &m);
	ev_int = evsignal_new(m.base, SIGINT, main_on_stop, &m);
	ev_hup = evsignal_new(m.base, SIGHUP, main_on_hup, &m);
	ev_usr1 = evsignal_new(m.base, SIGUSR1, main_on_usr1, &m);
	ev_usr2 = evsignal_new(m.base, SIGUSR2, main_on_usr2, &m);
	if (!ev_term || !ev_int || !ev_hup || !ev_usr1 || !ev_usr2 ||
	    evsignal_add(ev_term, NULL) || evsignal_add(ev_int, NULL) ||
	    evsignal_add(ev_hup, NULL) || evsignal_add(ev_usr1, NULL) ||
	    evsignal_add(ev_usr2, NULL))
		fatalx("cannot install signal handlers");
	if ((m.exe = exe_path(argv[0])) == NULL)
		fatalx("out of memory");
	m.argv = argv;

	m.path = path;
	m.wait_ev = event_new(m.base, -1, EV_PERSIST, sl_main_on_wait, &m);
	m.reload_ev = evtimer_new(m.base, sl_main_on_reload_retry, &m);
	m.guard_ev = event_new(m.base, -1, EV_PERSIST, main_on_guard, &m);
	m.pending_ev = evtimer_new(m.base, sl_main_on_pending, &m);
	m.resolver = sl_resolver_new(m.base, sl_main_on_dns, &m);
	if (m.wait_ev == NULL || m.reload_ev == NULL || m.guard_ev == NULL ||
	    m.pending_ev == NULL || m.resolver == NULL ||
	    event_add(m.guard_ev, &(struct timeval){1, 0}) == -1)
		fatalx("out of memory");
	if (sl_main_resolve_at_start(&m) == -1) {
		/* a signal to stop came first */
		log_info("stopped before serving");
		return 0;
	}
	m.view.conf = m.conf;
	m.view.resolver = m.resolver;
	m.view.start_ms = sl_now_ms();
	m.view.run_admin = m.run_admin;
	m.view.run_access = m.run_access;
	if ((m.health = sl_health_new(m.base)) == NULL ||
	    sl_health_apply(m.health, m.conf) == -1)
		fatalx("out of memory");
	sl_main_admin_start(&m);
	sl_main_start_workers(&m);
	sl_main_watch_refresh(&m, 1);
	/* listeners bound and workers serving: the pid now means "running" */
	m.pid_file = pid_file;
	if (pid_file != NULL) {
		if (sl_main_pidfile_write(pid_file) == -1)
			fatal("pid file %s: cannot write it", pid_file);
		m.pid_written = 1;
	}
	m.view.workers = m.workers;
	m.view.nworkers = m.nworkers;
	for (size_t i = 0; i < m.conf->nlisteners; i++)
		log_info("listener \"%s\" on %s", m.conf->listeners[i].name,
			 m.conf->listeners[i].addr.text);
	log_info("sluice %s started: %u %s, configuration %s "
		 "(generation %llu)",
		 PACKAGE_VERSION, m.nworkers,
		 sl_main_plural(m.nworkers, "worker", "workers"), path,
		 (unsigned long long)m.conf->generation);
	if (m.given.chan != -1) {
		/* an upgrade: the old process learns that this one serves,
		 * and carries on with its counters */
		m.view.carried = m.given.counters;
		m.given.counters = NULL;
		m.given.on_counters = main_on_carried;
		m.given.on_conns = main_on_conns;
		m.given.arg = &m;
		log_info("upgrade: took over from pid %ld (sluice %s): %zu "
			 "sockets",
			 m.given.old_pid, m.given.old_version, m.given.n);
		(void)sl_handover_ready(&m.given, m.base, m.conf->sha256);
	} else {
		if (m.given.from_systemd)
			log_info("socket activation: %zu sockets from systemd",
				 m.given.n);
		(void)sl_sd_notify("READY=1");
	}

	event_base_dispatch(m.base);

	if (m.handed_over) {
		/* the new process carries on from this one's final counts */
		char *counters = sl_admin_metrics(&m.view);
		sl_upgrade_finish(m.upgrade, counters);
		m.upgrade = NULL;
		free(counters);
	}
	sl_upgrade_free(m.upgrade);
	sl_handover_free(&m.given);

	sl_admin_free(m.admin);
	sl_health_free(m.health);
	sl_watch_free(m.watch);
	sl_resolver_free(m.resolver);
	sl_conf_unref(m.pending);
	for (unsigned i = 0; i < m.nworkers; i++)
		sl_worker_join_free(m.workers[i]);
	event_free(m.wait_ev);
	event_free(m.reload_ev);
	event_free(m.guard_ev);
	event_free(m.pending_ev);
	for (unsigned i = 0; i < m.nworkers; i++)
		free(m.fds[i]);
	free(m.fds);
	if (m.pid_written)
		sl_main_pidfile_remove(m.pid_file);
	log_info("stopped");
	free(m.workers);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_usr1);
	event_free(ev_usr2);
	event_base_free(m.base);
	sl_conf_unref(m.conf);
	free(m.run_admin);
	free(m.run_access);
	free(m.exe);
	free(m.view.carried);
	for (size_t x = 0; x < m.nxfds; x++)
		free(m.xfds[x].addr);
	free(m.xfds);
	return 0;
}
