/* SPDX-License-Identifier: MIT */
/*
 * Command line, start-up, signals and stop. Everything that touches
 * requests runs in the workers; this thread only loads the configuration,
 * opens the listening sockets and relays signals.
 */
#include <errno.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <yaml.h>

#include "admin.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "runtime.h"
#include "worker.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF SYSCONFDIR "/sluice/sluice.yaml"

struct sl_main {
	struct sl_conf *conf;
	struct sl_worker **workers;
	unsigned nworkers;
	struct event_base *base;
	struct sl_admin *admin;
	struct sl_admin_view view; /* what admin pages show */
	struct event *wait_ev;	   /* polls for drained workers */
	int stopping;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: sluice [-c FILE] [-t] [-V] [-h]\n"
		   "  -c FILE   configuration (default: %s)\n"
		   "  -t        check the configuration and exit\n"
		   "  -V        print versions and exit\n"
		   "  -h        this help\n",
		   DEFAULT_CONF);
}

static void
version(void)
{
	printf("sluice %s\n", PACKAGE_VERSION);
	printf("libevent %s\n", event_get_version());
	printf("OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("libyaml %s\n", yaml_get_version_string());
}

static unsigned
cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (unsigned)n;
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
	struct sl_main *m = arg;

	if (m->stopping) {
		log_info("signal %d: already stopping", (int)sig);
		return;
	}
	m->stopping = 1;
	log_info("signal %d: stopping: no new connections, finishing "
		 "requests in flight (drain_timeout %llu ms)",
		 (int)sig, (unsigned long long)m->conf->drain_timeout_ms);
	m->view.draining = 1;
	for (unsigned i = 0; i < m->nworkers; i++)
		sl_worker_stop(m->workers[i]);
	/* the main loop keeps serving the admin listener (readyz says
	 * draining) until every worker has finished */
	event_add(m->wait_ev, &(struct timeval){0, 50000});
}

static void
main_on_wait(evutil_socket_t fd, short what, void *arg)
{
	struct sl_main *m = arg;

	for (unsigned i = 0; i < m->nworkers; i++)
		if (!atomic_load(&m->workers[i]->done))
			return;
	event_base_loopexit(m->base, NULL);
}

static void
main_on_hup(evutil_socket_t sig, short what, void *arg)
{
	log_warnx("SIGHUP: configuration reload is not available in this "
		  "version; restart sluice to apply changes");
}

static void
main_on_usr1(evutil_socket_t sig, short what, void *arg)
{
	if (sl_access_reopen() == -1)
		log_warn("SIGUSR1: reopening the access log");
	else
		log_info("SIGUSR1: access log reopened");
}

static int
start_workers(struct sl_main *m)
{
	struct sl_conf *conf = m->conf;
	int *fds;

	m->nworkers = conf->workers ? conf->workers : cpu_count();
	m->workers = calloc(m->nworkers, sizeof(*m->workers));
	fds = calloc(conf->nlisteners, sizeof(*fds));
	if (m->workers == NULL || fds == NULL)
		fatalx("out of memory");
	for (unsigned i = 0; i < m->nworkers; i++) {
		for (size_t j = 0; j < conf->nlisteners; j++) {
			const struct sl_conf_listener *l = &conf->listeners[j];
			fds[j] = sl_listener_open(l);
			if (fds[j] == -1) {
				int saved = errno;
				free(fds);
				errno = saved;
				fatal("listener \"%s\" %s: cannot listen",
				      l->name, l->addr.text);
			}
		}
		m->workers[i] = sl_worker_new(i, conf, fds);
		if (m->workers[i] == NULL)
			fatalx("worker %u: cannot create", i);
	}
	free(fds);
	for (unsigned i = 0; i < m->nworkers; i++)
		if (sl_worker_start(m->workers[i]) == -1)
			fatal("worker %u: cannot start", i);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sl_main m;
	const char *path = DEFAULT_CONF;
	int check = 0, ch;
	char *errors = NULL;
	struct event *ev_term, *ev_int, *ev_hup, *ev_usr1;

	memset(&m, 0, sizeof(m));
	while ((ch = getopt(argc, argv, "c:tVh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
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

	m.conf = sl_conf_load(path, &errors);
	if (m.conf == NULL) {
		fputs(errors ? errors : "configuration: unknown error\n",
		      stderr);
		free(errors);
		return 1;
	}
	free(errors);
	if (check) {
		printf("configuration OK\n");
		sl_conf_unref(m.conf);
		return 0;
	}
	m.conf->generation = 1;
	if (sl_runtime_bind(m.conf) == -1)
		fatalx("out of memory");
	sl_log_set_level(m.conf->log_level);
	if (sl_access_open(m.conf->access_log, m.conf->access_format) == -1)
		fatal("access log %s", m.conf->access_log);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	if ((m.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	ev_term = evsignal_new(m.base, SIGTERM, main_on_stop, &m);
	ev_int = evsignal_new(m.base, SIGINT, main_on_stop, &m);
	ev_hup = evsignal_new(m.base, SIGHUP, main_on_hup, &m);
	ev_usr1 = evsignal_new(m.base, SIGUSR1, main_on_usr1, &m);
	if (!ev_term || !ev_int || !ev_hup || !ev_usr1 ||
	    evsignal_add(ev_term, NULL) || evsignal_add(ev_int, NULL) ||
	    evsignal_add(ev_hup, NULL) || evsignal_add(ev_usr1, NULL))
		fatalx("cannot install signal handlers");

	m.wait_ev = event_new(m.base, -1, EV_PERSIST, main_on_wait, &m);
	if (m.wait_ev == NULL)
		fatalx("out of memory");
	m.view.conf = m.conf;
	m.view.start_ms = sl_now_ms();
	if (m.conf->has_admin) {
		/* bound before the workers start, so a taken admin port
		 * stops start-up before any traffic is served */
		m.admin = sl_admin_start(m.base, &m.view);
		if (m.admin == NULL)
			fatal("admin listener %s: cannot listen",
			      m.conf->admin_addr.text);
		log_info("admin listener on %s", m.conf->admin_addr.text);
	}
	start_workers(&m);
	m.view.workers = m.workers;
	m.view.nworkers = m.nworkers;
	for (size_t i = 0; i < m.conf->nlisteners; i++)
		log_info("listener \"%s\" on %s", m.conf->listeners[i].name,
			 m.conf->listeners[i].addr.text);
	log_info("sluice %s started: %u workers, configuration %s "
		 "(generation %llu)",
		 PACKAGE_VERSION, m.nworkers, path,
		 (unsigned long long)m.conf->generation);

	event_base_dispatch(m.base);

	sl_admin_free(m.admin);
	for (unsigned i = 0; i < m.nworkers; i++)
		sl_worker_join_free(m.workers[i]);
	event_free(m.wait_ev);
	log_info("stopped");
	free(m.workers);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_usr1);
	event_base_free(m.base);
	sl_conf_unref(m.conf);
	return 0;
}
