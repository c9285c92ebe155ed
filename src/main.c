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

/* Settings read at start only: say so when a reload asks for something
 * other than what is running (not merely other than the previous file:
 * putting the original value back is no change). */
static void
reload_check_static(struct sl_main *m, struct sl_conf *nc)
{
	unsigned want = sl_main_workers_wanted(nc);
	const char *admin = nc->has_admin ? nc->admin_addr.text : NULL;

	if (want != m->nworkers)
		log_warnx(
		    "reload: \"workers\" changes need an upgrade (SIGUSR2) "
		    "or a restart; the file asks for %u, %u %s keep running",
		    want, m->nworkers,
		    sl_main_plural(m->nworkers, "worker", "workers"));
	if ((admin == NULL) != (m->run_admin == NULL) ||
	    (admin != NULL && strcmp(admin, m->run_admin) != 0)) {
		if (m->run_admin != NULL)
			log_warnx("reload: \"admin\" changes need an "
				  "upgrade (SIGUSR2) or a restart; the admin "
				  "listener stays on %s",
				  m->run_admin);
		else
			log_warnx("reload: \"admin\" changes need an "
				  "upgrade (SIGUSR2) or a restart; there is no "
				  "admin listener until then");
	}
	if (strcmp(nc->access_log, m->run_access) != 0)
		log_warnx("reload: \"log.access\" changes need an upgrade "
			  "(SIGUSR2) or a restart; access lines still go to %s",
			  m->run_access);
}

/* Once a second: the canary guards judge their windows (guard.h). */
static void
main_on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct sl_main *m = arg;

	sl_guard_tick(m->conf, sl_now_ms());
}

/* The files conf names (certificates, keys, CAs, the Redis password),
 * after the file itself: what the watch follows. *n is set; the array is
 * malloc'd (NULL when out of memory), its strings conf's. */
static const char **
conf_files(const struct sl_conf *conf, const char *path, size_t *n)
{
	size_t cap = 2, k = 0;
	const char **v;

	for (size_t i = 0; i < conf->nlisteners; i++)
		cap += 2 * conf->listeners[i].tls.ncerts + 1;
	cap += 3 * conf->nclusters;
	if ((v = calloc(cap, sizeof(*v))) == NULL)
		return NULL;
	v[k++] = path;
	for (size_t i = 0; i < conf->nlisteners; i++) {
		const struct sl_conf_tls_server *t = &conf->listeners[i].tls;
		for (size_t j = 0; j < t->ncerts; j++) {
			v[k++] = t->certs[j].cert.path;
			v[k++] = t->certs[j].key.path;
		}
		if (t->client_ca.path != NULL)
			v[k++] = t->client_ca.path;
	}
	for (size_t i = 0; i < conf->nclusters; i++) {
		const struct sl_conf_tls_client *t = &conf->clusters[i].tls;
		if (!t->enabled)
			continue;
		if (t->ca.path != NULL)
			v[k++] = t->ca.path;
		if (t->cert.path != NULL)
			v[k++] = t->cert.path;
		if (t->key.path != NULL)
			v[k++] = t->key.path;
	}
	if (conf->rl_store.password_file.path != NULL && k < cap)
		v[k++] = conf->rl_store.password_file.path;
	*n = k;
	return v;
}

static void main_on_watch(void *arg);

/* Follows (or stops following) the running file and what it names, as
 * its watch: says (doc/fleet.md section 3). fp: take their fingerprint as
 * the one now loaded. */
static void
watch_refresh(struct sl_main *m, int fp)
{
	const char **paths;
	size_t n = 0;

	if (!m->conf->watch) {
		if (m->watch != NULL)
			log_info("watch: off");
		sl_watch_free(m->watch);
		m->watch = NULL;
		return;
	}
	if (m->watch == NULL) {
		if ((m->watch = sl_watch_new(m->base, main_on_watch, m)) ==
		    NULL) {
			log_warn("watch: inotify");
			return;
		}
		log_info("watch: following %s and the files it names", m->path);
		fp = 1; /* what runs is the mark changes are judged by */
	}
	if ((paths = conf_files(m->conf, m->path, &n)) == NULL)
		return;
	if (sl_watch_set(m->watch, paths, n, m->conf->watch_debounce_ms) == -1)
		log_warn("watch: %s: nothing could be watched", m->path);
	if (fp) {
		if (sl_watch_fingerprint(paths, n, m->loaded_fp) == -1)
			m->loaded_fp[0] = '\0';
		memcpy(m->tried_fp, m->loaded_fp, sizeof(m->tried_fp));
	}
	free(paths);
}

/*
 * Hands generation nc (loaded and checked, its names' answers filled in,
 * nobody using it yet) to every worker: what a reload, a watch and a DNS
 * change end with. why: "reload", "watch" or "dns", for the log. Returns
 * 0, or -1 when it was not applied (logged; nc is dropped, the running
 * generation stays).
 */
static int
main_apply(struct sl_main *m, struct sl_conf *nc, const char *why)
{
	struct sl_conf *oc = m->conf;
	int **nfds;

	if (strcmp(why, "dns") != 0)
		reload_check_static(m, nc);
	if (sl_runtime_bind(nc) == -1 ||
	    (nfds = sl_main_reload_sockets(m, nc)) == NULL) {
		log_error("%s: %s not applied; generation %llu keeps running",
			  why, m->path, (unsigned long long)oc->generation);
		sl_conf_unref(nc);
		return -1;
	}
	nc->generation = oc->generation + 1;
	sl_log_set_level(nc->log_level);
	sl_access_set_format(nc->access_format);
	sl_log_set_query(nc->log_query);
	sl_log_set_cards(nc->log_cards);
	for (unsigned i = 0; i < m->nworkers; i++) {
		struct sl_reload_msg *msg = malloc(sizeof(*msg));
		int *fds = malloc((nc->nlisteners + 1) * sizeof(*fds));
		if (msg == NULL || fds == NULL)
			fatalx("out of memory");
		memcpy(fds, nfds[i], (nc->nlisteners + 1) * sizeof(*fds));
		msg->conf = sl_conf_ref(nc);
		msg->fds = fds;
		sl_worker_reload(m->workers[i], msg);
		free(m->fds[i]);
		m->fds[i] = nfds[i];
	}
	free(nfds);
	/* the workers close the extra sockets of a removed listener */
	for (size_t x = 0; x < m->nxfds; x++) {
		int kept = 0;
		for (size_t j = 0; j < nc->nlisteners && !kept; j++)
			kept = strcmp(nc->listeners[j].addr.text,
				      m->xfds[x].addr) == 0;
		if (!kept) {
			free(m->xfds[x].addr);
			m->xfds[x--] = m->xfds[--m->nxfds];
		}
	}
	m->conf = nc;
	m->view.conf = nc;
	/* before the old generation goes: checks it shares move over */
	if (sl_health_apply(m->health, nc) == -1)
		log_warnx("%s: out of memory: some health checks did not "
			  "start",
			  why);
	if (strcmp(why, "dns") == 0) {
		m->view.dns_updates++;
		log_info("dns: generation %llu: the endpoints of names "
			 "changed",
			 (unsigned long long)nc->generation);
	} else {
		m->view.reloads_ok++;
		/* the files as they were before this reload read them: a
		 * change since differs from it, and is reloaded ("" when
		 * not taken: then any change is) */
		memcpy(m->loaded_fp, m->reload_fp, sizeof(m->loaded_fp));
		memcpy(m->tried_fp, m->reload_fp, sizeof(m->tried_fp));
		log_info(
		    "%s: generation %llu from %s: %zu %s, %zu %s "
		    "(sha256 %s)",
		    why, (unsigned long long)nc->generation, m->path,
		    nc->nlisteners,
		    sl_main_plural(nc->nlisteners, "listener", "listeners"),
		    nc->nclusters,
		    sl_main_plural(nc->nclusters, "cluster", "clusters"),
		    nc->sha256);
		watch_refresh(m, 0);
	}
	sl_conf_unref(oc);
	return 0;
}

/* The workers still take in the last generation: one at a time. */
static int
workers_busy(const struct sl_main *m)
{
	for (unsigned i = 0; i < m->nworkers; i++)
		if (atomic_load(&m->workers[i]->applied_gen) <
		    m->conf->generation)
			return 1;
	return 0;
}

/* A reload that waited for the first answers of its new names ends. */
static void
pending_apply(struct sl_main *m)
{
	struct sl_conf *nc = m->pending;

	m->pending = NULL;
	event_del(m->pending_ev);
	if (!sl_resolver_settled(m->resolver, nc))
		log_warnx("%s: some new names have no answer yet; their "
			  "clusters start without those endpoints",
			  m->pending_why);
	if (sl_resolver_fill(m->resolver, nc) == -1) {
		m->view.reloads_failed++;
		log_error("%s: out of memory; generation %llu keeps running",
			  m->pending_why,
			  (unsigned long long)m->conf->generation);
		sl_conf_unref(nc);
		(void)sl_resolver_apply(m->resolver, m->conf);
		return;
	}
	m->dns_dirty = 0; /* the answers are in nc */
	if (main_apply(m, nc, m->pending_why) == -1) {
		m->view.reloads_failed++;
		(void)sl_resolver_apply(m->resolver, m->conf);
	}
}

/*
 * The mark a reload from oc to nc leaves the watch with (reload_fp, taken
 * over oc's files before nc was read): when nc names other files, their
 * fingerprint now, else a file it names anew would count as changed at
 * the next event. A change in the moment between nc's reading and this
 * would then go unseen until the files change again: only when the files
 * named change, and for that moment.
 */
static void
reload_fp_for(struct sl_main *m, const struct sl_conf *oc,
	      const struct sl_conf *nc)
{
	const char **a, **b;
	size_t na = 0, nb = 0;
	int same;

	a = conf_files(oc, m->path, &na);
	b = conf_files(nc, m->path, &nb);
	same = a != NULL && b != NULL && na == nb;
	for (size_t i = 0; same && i < na; i++)
		same = strcmp(a[i], b[i]) == 0;
	if (!same &&
	    (b == NULL || sl_watch_fingerprint(b, nb, m->reload_fp) == -1))
		m->reload_fp[0] = '\0';
	free(a);
	free(b);
}

/*
 * SIGHUP (why "reload") or a change the watch saw ("watch"): load and
 * check the file completely; on any error keep the running generation.
 * Else hand the new generation to every worker, once the names it adds
 * have answers (or had the time to). A generation number names one
 * configuration that ran: the file gets the next number only once it is
 * applied, so a refused reload never names a number that the next good
 * one will also take.
 */
static void
main_reload(struct sl_main *m, const char *why)
{
	struct sl_conf *nc, *oc = m->conf;
	char *errors = NULL, *warnings = NULL;

	if (m->stopping)
		return;
	if (m->workers == NULL) {
		/* start-up waits for the first DNS answers */
		log_info("%s: not serving yet: the file loads as it is when "
			 "sluice starts",
			 why);
		return;
	}
	if (workers_busy(m)) {
		/* the previous generation is still being handed out: one at
		 * a time */
		m->retry_why = why;
		event_add(m->reload_ev, &(struct timeval){0, 20000});
		return;
	}
	m->reload_fp[0] = '\0';
	if (m->watch != NULL) {
		const char **paths;
		size_t n = 0;
		if ((paths = conf_files(oc, m->path, &n)) != NULL &&
		    sl_watch_fingerprint(paths, n, m->reload_fp) == -1)
			m->reload_fp[0] = '\0';
		free(paths);
	}
	nc = sl_conf_load(m->path, &errors);
	if (nc == NULL) {
		m->view.reloads_failed++;
		log_error("%s: %s is not valid; generation %llu keeps "
			  "running",
			  why, m->path, (unsigned long long)oc->generation);
		sl_main_log_lines(0, "reload: ", errors);
		free(errors);
		return;
	}
	/* what a restart on this file would open must open */
	if ((errors = sl_preflight(nc, m->run_access)) != NULL ||
	    (errors = sl_tls_load(nc, &warnings)) != NULL ||
	    (errors = sl_conf_load_secrets(nc, &warnings)) != NULL) {
		m->view.reloads_failed++;
		sl_main_log_lines(1, "reload: ", warnings);
		free(warnings);
		log_error("%s: %s cannot start as it is; generation %llu "
			  "keeps running",
			  why, m->path, (unsigned long long)oc->generation);
		sl_main_log_lines(0, "reload: ", errors);
		free(errors);
		sl_conf_unref(nc);
		return;
	}
	sl_main_log_lines(1, "reload: ", warnings);
	free(warnings);
	if (m->watch != NULL)
		reload_fp_for(m, oc, nc);
	/* a newer file replaces a reload still waiting for answers */
	if (m->pending != NULL) {
		sl_conf_unref(m->pending);
		m->pending = NULL;
		event_del(m->pending_ev);
	}
	if (sl_resolver_apply(m->resolver, nc) == -1) {
		m->view.reloads_failed++;
		log_error("%s: out of memory; generation %llu keeps running",
			  why, (unsigned long long)oc->generation);
		sl_conf_unref(nc);
		(void)sl_resolver_apply(m->resolver, oc);
		return;
	}
	m->pending = nc;
	m->pending_why = why;
	m->pending_until_ms = sl_now_ms() + sl_resolver_settle_ms(nc);
	if (sl_resolver_settled(m->resolver, nc))
		pending_apply(m);
	else
		event_add(m->pending_ev, &(struct timeval){0, 20000});
}

static void
main_on_pending(evutil_socket_t fd, short what, void *arg)
{
	struct sl_main *m = arg;

	if (m->pending == NULL)
		return;
	if (sl_resolver_settled(m->resolver, m->pending) ||
	    sl_now_ms() >= m->pending_until_ms)
		pending_apply(m);
	else
		event_add(m->pending_ev, &(struct timeval){0, 20000});
}

/*
 * Answers changed (resolve.h): a generation from the running one's bytes
 * with the endpoints the names resolve to now, its TLS contexts and
 * secrets shared, handed out like a reload's.
 */
static void
main_dns_update(struct sl_main *m)
{
	struct sl_conf *nc;

	if (m->stopping || !m->dns_dirty || m->workers == NULL)
		return;
	if (m->pending != NULL)
		return; /* the pending reload takes the answers */
	if (workers_busy(m)) {
		event_add(m->reload_ev, &(struct timeval){0, 20000});
		return;
	}
	m->dns_dirty = 0;
	if ((nc = sl_conf_reparse(m->conf)) == NULL) {
		log_warn("dns: a generation with the new answers");
		m->dns_dirty = 1;
		event_add(m->reload_ev, &(struct timeval){1, 0});
		return;
	}
	sl_tls_share(nc, m->conf);
	if (sl_conf_share_secrets(nc, m->conf) == -1 ||
	    sl_resolver_fill(m->resolver, nc) == -1) {
		log_warnx("dns: out of memory: the new answers wait");
		sl_conf_unref(nc);
		m->dns_dirty = 1;
		event_add(m->reload_ev, &(struct timeval){1, 0});
		return;
	}
	(void)main_apply(m, nc, "dns");
}

static void
main_on_dns(void *arg)
{
	struct sl_main *m = arg;

	m->dns_dirty = 1;
	main_dns_update(m);
}

/*
 * The watch saw a change (watch.h): a reload when the files' contents
 * differ both from what the running generation was loaded from and from
 * what the watch last tried. Compared with the running generation first:
 * a refused edit undone puts back what runs, which is no change (it was
 * once compared with the refused edit only, and loaded again as a new
 * generation of the same bytes).
 */
static void
main_on_watch(void *arg)
{
	struct sl_main *m = arg;
	const char **paths;
	char fp[65];
	size_t n = 0;

	if ((paths = conf_files(m->conf, m->path, &n)) == NULL)
		return;
	if (sl_watch_fingerprint(paths, n, fp) == -1) {
		free(paths);
		return;
	}
	free(paths);
	if (strcmp(fp, m->loaded_fp) == 0 && strcmp(fp, m->tried_fp) != 0) {
		/* said at info: the operator who undid an edit learns that
		 * what runs is what the file holds again */
		log_info("watch: %s and the files it names are as generation "
			 "%llu loaded them (sha256 %s): nothing to reload",
			 m->path, (unsigned long long)m->conf->generation,
			 m->conf->sha256[0] ? m->conf->sha256 : "-");
		memcpy(m->tried_fp, fp, sizeof(fp));
		return;
	}
	if (strcmp(fp, m->tried_fp) == 0) {
		log_debug("watch: no change in %s or the files it names",
			  m->path);
		return;
	}
	memcpy(m->tried_fp, fp, sizeof(fp));
	log_info("watch: %s or a file it names changed: reloading", m->path);
	m->view.watch_reloads++;
	main_reload(m, "watch");
}

static void
main_on_reload_retry(evutil_socket_t fd, short what, void *arg)
{
	struct sl_main *m = arg;

	if (m->retry_why != NULL) {
		const char *why = m->retry_why;
		m->retry_why = NULL;
		main_reload(m, why);
	}
	main_dns_update(m);
}

static void
main_on_hup(evutil_socket_t sig, short what, void *arg)
{
	main_reload(arg, "reload");
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

/*
 * The first answers for the names of the file, before anything serves:
 * waits up to sl_resolver_settle_ms (names without an answer by then
 * start with no address, and get one when their lookups succeed), then
 * puts the endpoints in the first generation. Returns 0, or -1 when a
 * signal asked to stop meanwhile.
 */
static int
resolve_at_start(struct sl_main *m)
{
	uint64_t until;
	int any = 0;

	for (size_t i = 0; i < m->conf->nclusters; i++)
		any |= m->conf->clusters[i].nnames > 0;
	if (!any)
		return 0;
	if (sl_resolver_apply(m->resolver, m->conf) == -1)
		fatalx("out of memory");
	until = sl_now_ms() + sl_resolver_settle_ms(m->conf);
	while (!sl_resolver_settled(m->resolver, m->conf) && !m->stopping &&
	       sl_now_ms() < until) {
		event_add(m->pending_ev, &(struct timeval){0, 50000});
		event_base_loop(m->base, EVLOOP_ONCE);
	}
	event_del(m->pending_ev);
	if (m->stopping)
		return -1;
	/* nobody uses the first generation yet: its endpoints can grow */
	sl_runtime_unbind(m->conf);
	if (sl_resolver_fill(m->resolver, m->conf) == -1 ||
	    sl_runtime_bind(m->conf) == -1)
		fatalx("out of memory");
	m->dns_dirty = 0;
	return 0;
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
	m.reload_ev = evtimer_new(m.base, main_on_reload_retry, &m);
	m.guard_ev = event_new(m.base, -1, EV_PERSIST, main_on_guard, &m);
	m.pending_ev = evtimer_new(m.base, main_on_pending, &m);
	m.resolver = sl_resolver_new(m.base, main_on_dns, &m);
	if (m.wait_ev == NULL || m.reload_ev == NULL || m.guard_ev == NULL ||
	    m.pending_ev == NULL || m.resolver == NULL ||
	    event_add(m.guard_ev, &(struct timeval){1, 0}) == -1)
		fatalx("out of memory");
	if (resolve_at_start(&m) == -1) {
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
	watch_refresh(&m, 1);
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
