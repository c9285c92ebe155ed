/* SPDX-License-Identifier: MIT */
/*
 * Command line, signals, start and stop: the program's outline. The work
 * is the other main_*.c files' (main_int.h); everything that touches
 * requests runs in the workers, and this thread only loads the
 * configuration, opens the listening sockets and relays signals.
 */
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <yaml.h>

#include "acme.h"
#include "admin.h"
#include "conf.h"
#include "filter.h"
#include "health.h"
#include "log.h"
#include "main_int.h"
#ifdef HAVE_QUIC
#include <openssl/rand.h>

#include "h3.h"
#include "qconn.h"
#include "qtls.h"
#include "tls.h"
#endif
#include "resolve.h"
#include "runtime.h"
#include "watch.h"
#include "worker.h"
#include "zstream.h"

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
	/* the modules' libraries (the WAF's libmodsecurity) */
	for (size_t i = 0; i < sl_conf_nmodules; i++)
		if (sl_conf_modules[i]->version != NULL)
			printf("%s\n", sl_conf_modules[i]->version());
#ifdef HAVE_QUIC
	printf("libngtcp2 %s\n", sl_quic_version());
#else
	printf("libngtcp2 (not built: no HTTP/3; ./configure --with-quic)\n");
#endif
	/* the compressors (doc/operations.md, "Compression") */
	for (int c = 1; c <= 4; c++) {
		static const char *const lib[5] = {NULL, "zlib", "libbrotlienc",
						   "libzstd", "libdeflate"};
		const char *v = sl_zstream_version(c);
		printf("%s %s\n", lib[c],
		       v != NULL ? v
		       : c == 4	 ? "(not built: zlib does all of gzip)"
				 : "(not built: its coding cannot be "
				   "offered)");
	}
	/* buildflags.h, included by the build (see Makefile.am) */
#ifdef SL_BUILD_CC
	printf("built with: %s %s\n", SL_BUILD_CC, SL_BUILD_CFLAGS);
#endif
}

static void
raise_nofile(void)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 &&
	    lim.rlim_cur < lim.rlim_max) {
		lim.rlim_cur = lim.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &lim) == -1)
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

/* Once a second: the filters' second (a canary guard judges its
 * windows: filter.h's tick). */
static void
main_on_second(evutil_socket_t fd, short what, void *arg)
{
	struct sl_main *m = arg;

	sl_filters_main_tick(m->conf, sl_now_ms());
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
	for (size_t i = 0; i < sl_conf_nmodules; i++)
		if (sl_conf_modules[i]->reopen != NULL)
			sl_conf_modules[i]->reopen();
}

/* Reads the command line into *path, *pid_file and *check. Returns -1 to
 * go on, else the exit status (-V, -h, a usage error). */
static int
main_args(int argc, char **argv, const char **path, const char **pid_file,
	  int *check)
{
	int ch;

	while ((ch = getopt(argc, argv, "c:p:tVh")) != -1) {
		switch (ch) {
		case 'c':
			*path = optarg;
			break;
		case 'p':
			*pid_file = optarg;
			break;
		case 't':
			*check = 1;
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
	return -1;
}

/* The checked file becomes generation 1: its counters, its log settings,
 * its access log; and what of it a reload cannot change is noted. */
static void
main_first_generation(struct sl_main *m)
{
	m->conf->generation = 1;
	/* per-worker counters are sized by the workers there will be */
	sl_runtime_set_workers(sl_main_workers_wanted(m->conf));
	if (sl_runtime_bind(m->conf) == -1)
		fatalx("out of memory");
	sl_log_set_level(m->conf->log_level);
	sl_log_set_query(m->conf->log_query);
	sl_log_set_cards(m->conf->log_cards);
	if (sl_access_open(m->conf->access_log, m->conf->access_format) == -1)
		fatal("access log %s", m->conf->access_log);
	/* the modules' logs (the WAF's), after the access log */
	for (size_t i = 0; i < sl_conf_nmodules; i++) {
		char why[512];
		if (sl_conf_modules[i]->start != NULL &&
		    sl_conf_modules[i]->start(m->conf, why, sizeof(why)) == -1)
			fatal("%s", why);
	}
	if ((m->run_access = strdup(m->conf->access_log)) == NULL ||
	    (m->conf->has_admin &&
	     (m->run_admin = strdup(m->conf->admin_addr.text)) == NULL))
		fatalx("out of memory");
}

/* The main loop and its events: the signals, the drain's and the
 * filters' second's timers, a reload's retries and the resolver. Exits on
 * failure. */
static void
main_loop_new(struct sl_main *m, char **argv, const char *path)
{
	static const struct {
		int sig;
		event_callback_fn cb;
	} sigs[SL_MAIN_NSIGS] = {
	    {SIGTERM, main_on_stop},	{SIGINT, main_on_stop},
	    {SIGHUP, main_on_hup},	{SIGUSR1, main_on_usr1},
	    {SIGUSR2, sl_main_on_usr2},
	};
	int ok = 1;

	if ((m->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (size_t i = 0; i < SL_MAIN_NSIGS; i++)
		ok &= (m->sig_ev[i] = evsignal_new(m->base, sigs[i].sig,
						   sigs[i].cb, m)) != NULL;
	for (size_t i = 0; i < SL_MAIN_NSIGS && ok; i++)
		ok = evsignal_add(m->sig_ev[i], NULL) == 0;
	if (!ok)
		fatalx("cannot install signal handlers");
	if ((m->exe = sl_main_exe_path(argv[0])) == NULL)
		fatalx("out of memory");
	m->argv = argv;

	m->path = path;
	m->wait_ev = event_new(m->base, -1, EV_PERSIST, sl_main_on_wait, m);
	m->reload_ev = evtimer_new(m->base, sl_main_on_reload_retry, m);
	m->second_ev = event_new(m->base, -1, EV_PERSIST, main_on_second, m);
	m->pending_ev = evtimer_new(m->base, sl_main_on_pending, m);
	m->resolver = sl_resolver_new(m->base, sl_main_on_dns, m);
	if (m->wait_ev == NULL || m->reload_ev == NULL ||
	    m->second_ev == NULL || m->pending_ev == NULL ||
	    m->resolver == NULL ||
	    event_add(m->second_ev, &(struct timeval){1, 0}) == -1 ||
	    sl_main_reaper_init(m) == -1)
		fatalx("out of memory");
	sl_main_reaper_adopt(m->conf);
}

/* What the admin pages show of this process, once it is about to serve. */
static void
main_view(struct sl_main *m)
{
	m->view.conf = m->conf;
	m->view.resolver = m->resolver;
	m->view.start_ms = sl_now_ms();
	m->view.run_admin = m->run_admin;
	m->view.run_access = m->run_access;
}

/* Listeners bound and workers serving: the pid now means "running"; the
 * log says what serves. */
static void
main_serving(struct sl_main *m, const char *pid_file)
{
	m->pid_file = pid_file;
	if (pid_file != NULL) {
		if (sl_main_pidfile_write(pid_file) == -1)
			fatal("pid file %s: cannot write it", pid_file);
		m->pid_written = 1;
	}
	m->view.workers = m->workers;
	m->view.nworkers = m->nworkers;
	for (size_t i = 0; i < m->conf->nlisteners; i++)
		log_info("listener \"%s\" on %s", m->conf->listeners[i].name,
			 m->conf->listeners[i].addr.text);
	log_info("sluice %s started: %u %s, configuration %s "
		 "(generation %llu)",
		 PACKAGE_VERSION, m->nworkers,
		 sl_main_plural(m->nworkers, "worker", "workers"), m->path,
		 (unsigned long long)m->conf->generation);
	sl_main_modules_loaded(m->conf, "start");
	sl_acme_apply(m->conf);
}

/* After the loop: the workers joined, everything freed, the pid file
 * removed. */
static void
main_free(struct sl_main *m)
{
	sl_acme_stop();
	sl_admin_free(m->admin);
	sl_health_free(m->health);
	sl_watch_free(m->watch);
	sl_resolver_free(m->resolver);
	sl_conf_unref(m->pending);
	for (unsigned i = 0; i < m->nworkers; i++)
		sl_worker_join_free(m->workers[i]);
	sl_conf_modules_exit(); /* the modules' (the workers' stores) */
	sl_main_reaper_free(m);
	event_free(m->wait_ev);
	event_free(m->reload_ev);
	event_free(m->second_ev);
	event_free(m->pending_ev);
	for (unsigned i = 0; i < m->nworkers; i++)
		free(m->fds[i]);
	free(m->fds);
	for (size_t i = 0; i < m->nqsocks; i++)
		close(m->qsocks[i].fd);
	free(m->qsocks);
	if (m->pid_written)
		sl_main_pidfile_remove(m->pid_file);
	log_info("stopped");
	free(m->workers);
	for (size_t i = 0; i < SL_MAIN_NSIGS; i++)
		event_free(m->sig_ev[i]);
	event_base_free(m->base);
	sl_conf_unref(m->conf);
	free(m->run_admin);
	free(m->run_access);
	free(m->exe);
	free(m->view.carried);
	for (size_t x = 0; x < m->nxfds; x++)
		free(m->xfds[x].addr);
	free(m->xfds);
}

#ifdef HAVE_QUIC
static int
quic_server_ctx(SSL_CTX *ctx)
{
	return sl_qtls_ctx_setup(ctx, 1);
}

/* HTTP/3's part of the process: the TLS loader makes an http3 listener's
 * contexts QUIC's with the glue (net calls no layer above it), and the
 * key of the stateless-reset and Retry tokens, the same for every worker
 * (any may reset or validate for another) and kept across reloads. */
static void
main_quic_init(void)
{
	uint8_t key[32];

	sl_tls_quic_hook = quic_server_ctx;
	if (RAND_bytes(key, sizeof(key)) != 1)
		fatalx("no random bytes for the QUIC token key");
	sl_h3_set_key(key);
	OPENSSL_cleanse(key, sizeof(key));
}
#endif

int
main(int argc, char **argv)
{
	struct sl_main m;
	const char *path = DEFAULT_CONF, *pid_file = NULL;
	int check = 0, r;

	memset(&m, 0, sizeof(m));
	m.given.chan = -1;
	/* a reload or reopen asked for before the handlers are in place
	 * (the file is being loaded right now) must not kill the process:
	 * the default action of SIGHUP and SIGUSR1 is to terminate */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	if ((r = main_args(argc, argv, &path, &pid_file, &check)) != -1)
		return r;
#ifdef HAVE_QUIC
	main_quic_init();
#endif
	/* the file and all a start on it needs: -t stops here */
	if (sl_main_load(&m, path, pid_file, check) == -1)
		return 1;
	if (check)
		return sl_main_check_ok(&m);
	/* a second sluice given the same -p stops here, before it binds */
	if (pid_file != NULL)
		sl_main_pidfile_check(pid_file, m.given.old_pid);
	main_first_generation(&m);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	main_loop_new(&m, argv, path);
	if (sl_main_resolve_at_start(&m) == -1) {
		/* a signal to stop came first */
		log_info("stopped before serving");
		return 0;
	}
	main_view(&m);
	if ((m.health = sl_health_new(m.base)) == NULL ||
	    sl_health_apply(m.health, m.conf) == -1)
		fatalx("out of memory");
	sl_main_admin_start(&m);
	sl_main_start_workers(&m);
	sl_main_watch_refresh(&m, 1);
	main_serving(&m, pid_file);
	sl_main_trim(); /* the load's YAML tree, freed */
	sl_main_announce(&m);

	event_base_dispatch(m.base);

	sl_main_handover_end(&m);
	main_free(&m);
	return 0;
}
