/* SPDX-License-Identifier: MIT */
/*
 * The generations the main thread makes after the first: a reload
 * (SIGHUP, or a change the watch saw) and the answers of the file's
 * names (DNS), each handed to every worker once checked, or refused with
 * the running generation kept; and the first generation's answers at
 * start. Opens no socket itself (main_serve.c does) and never exits the
 * process on a bad file.
 */
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "conf.h"
#include "health.h"
#include "log.h"
#include "main_int.h"
#include "pan.h"
#include "preflight.h"
#include "resolve.h"
#include "runtime.h"
#include "tls.h"
#include "watch.h"
#include "worker.h"

/*
 * Under a sanitizer its allocator owns the heap: glibc's malloc_trim has
 * nothing of sluice's to give back (as in core/buf.c).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MAIN_MALLOC_TRIM 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||     \
    __has_feature(memory_sanitizer)
#define MAIN_MALLOC_TRIM 0
#endif
#endif
#ifndef MAIN_MALLOC_TRIM
#define MAIN_MALLOC_TRIM 1
#endif

void
sl_main_trim(void)
{
	/* a load's YAML tree is freed once the generation is built: 1.8 KB
	 * a host route, which glibc would otherwise keep as RSS (issue 78:
	 * 100,000 routes, 180 MB) */
	if (MAIN_MALLOC_TRIM)
		malloc_trim(0);
}

/* ---- the reaper ----------------------------------------------------------
 *
 * The last reference of a generation is most often a worker's (its view
 * of the generation goes with the last request under it). Freeing
 * 100,000 routes and letting go of their shared state takes milliseconds:
 * not on a worker's loop. The worker hands the generation over (a list
 * and an eventfd), and the main thread frees it.
 */
static _Atomic(struct sl_conf *) reaped; /* by reap_next */
static int reap_fd = -1;

static void
main_reap(struct sl_conf *conf)
{
	uint64_t one = 1;

	if (reap_fd == -1) { /* the main loop is gone: here and now */
		sl_conf_destroy(conf);
		return;
	}
	conf->reap_next = atomic_load(&reaped);
	while (!atomic_compare_exchange_weak(&reaped, &conf->reap_next, conf))
		;
	(void)!write(reap_fd, &one, sizeof(one));
}

/* Frees the generations handed over; returns how many. */
static size_t
reap_all(void)
{
	struct sl_conf *c = atomic_exchange(&reaped, NULL), *next;
	size_t n = 0;

	for (; c != NULL; c = next, n++) {
		next = c->reap_next;
		sl_conf_destroy(c);
	}
	return n;
}

static void
main_on_reap(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	(void)what;
	(void)arg;
	(void)!read(fd, &v, sizeof(v));
	if (reap_all() > 0)
		sl_main_trim();
}

int
sl_main_reaper_init(struct sl_main *m)
{
	if ((reap_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	m->reap_ev =
	    event_new(m->base, reap_fd, EV_READ | EV_PERSIST, main_on_reap, m);
	if (m->reap_ev == NULL || event_add(m->reap_ev, NULL) == -1)
		return -1;
	return 0;
}

void
sl_main_reaper_adopt(struct sl_conf *conf)
{
	if (reap_fd != -1)
		conf->reap = main_reap;
}

void
sl_main_reaper_free(struct sl_main *m)
{
	/* the workers are joined: what they let go of is freed here, and
	 * the last generation where its last reference goes */
	(void)reap_all();
	if (m->conf != NULL)
		m->conf->reap = NULL;
	event_free(m->reap_ev);
	m->reap_ev = NULL;
	if (reap_fd != -1)
		close(reap_fd);
	reap_fd = -1;
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
		if (m->run_admin != NULL && admin == NULL)
			log_warnx("reload: \"admin\" changes need an "
				  "upgrade (SIGUSR2) or a restart; the admin "
				  "listener stays on %s, with the credentials, "
				  "TLS and hosts it had",
				  m->run_admin);
		else if (m->run_admin != NULL)
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
	/* the modules' (the WAF's threads and log) */
	for (size_t i = 0; i < sl_conf_nmodules; i++)
		if (sl_conf_modules[i]->reload != NULL)
			sl_conf_modules[i]->reload(nc);
}

void
sl_main_modules_loaded(const struct sl_conf *conf, const char *why)
{
	for (size_t i = 0; i < sl_conf_nmodules; i++)
		if (sl_conf_modules[i]->loaded != NULL)
			sl_conf_modules[i]->loaded(conf, why);
}

/* The files of route r's modules' slots (a key set's) into v[*k..cap). */
static void
route_files(const struct sl_conf_route *r, const char **v, size_t *k,
	    size_t cap)
{
	for (size_t i = 0; i < sl_conf_nmodules && r->mod != NULL; i++) {
		const struct sl_module *m = sl_conf_modules[i];
		const char *f;
		if (m->route_file != NULL && r->mod[i] != NULL &&
		    (f = m->route_file(r->mod[i])) != NULL && *k < cap)
			v[(*k)++] = f;
	}
}

/* The files conf names (certificates, keys, CAs, the Redis password,
 * the routes' JSON Web Key sets and hosts files, the admin listener's
 * credentials and TLS), after the file itself: what the watch follows. *n is
 * set; the array is malloc'd (NULL when out of memory), its strings conf's. */
static const char **
conf_files(const struct sl_conf *conf, const char *path, size_t *n)
{
	size_t cap = 2, k = 0, files = 1; /* a hosts file, the modules' */
	const char **v;

	for (size_t i = 0; i < conf->nlisteners; i++)
		cap += 2 * conf->listeners[i].tls.ncerts + 1;
	cap += 3 * conf->nclusters;
	for (size_t i = 0; i < sl_conf_nmodules; i++)
		files += sl_conf_modules[i]->route_file != NULL;
	for (size_t i = 0; i < conf->nlisteners; i++)
		cap += files * conf->listeners[i].nroutes;
	cap += 2 + 2 * conf->admin_tls.ncerts + 1;
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
	if (conf->fleet_store != NULL &&
	    conf->fleet_store->password_file.path != NULL && k < cap)
		v[k++] = conf->fleet_store->password_file.path;
	if (conf->admin_auth.token_file.path != NULL)
		v[k++] = conf->admin_auth.token_file.path;
	if (conf->admin_auth.basic_file.path != NULL)
		v[k++] = conf->admin_auth.basic_file.path;
	for (size_t j = 0; j < conf->admin_tls.ncerts; j++) {
		v[k++] = conf->admin_tls.certs[j].cert.path;
		v[k++] = conf->admin_tls.certs[j].key.path;
	}
	if (conf->admin_tls.client_ca.path != NULL)
		v[k++] = conf->admin_tls.client_ca.path;
	for (size_t i = 0; i < conf->nlisteners; i++)
		for (size_t j = 0; j < conf->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &conf->listeners[i].routes[j];
			route_files(r, v, &k, cap);
			if (r->hosts != NULL && k < cap)
				v[k++] = r->hosts->file;
		}
	*n = k;
	return v;
}

static void main_on_watch(void *arg);

/* Follows (or stops following) the running file and what it names, as
 * its watch: says (doc/fleet.md section 3). fp: take their fingerprint as
 * the one now loaded. */
void
sl_main_watch_refresh(struct sl_main *m, int fp)
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

/* What the status page says of the last reload (admin.h): why it was
 * asked, and error, a refusal's first line (NULL: applied), with card
 * numbers masked as the logs mask them. */
static void
reload_noted(struct sl_main *m, const char *why, const char *error)
{
	struct timespec ts;
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	m->view.last_reload_ms =
	    (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	m->view.last_reload_ok = error == NULL;
	m->view.last_reload_why = why;
	if (error != NULL)
		while (error[n] != '\0' && error[n] != '\n' &&
		       n < sizeof(m->view.last_reload_error) - 1)
			n++;
	memcpy(m->view.last_reload_error, error != NULL ? error : "", n);
	m->view.last_reload_error[n] = '\0';
	(void)sl_pan_mask(m->view.last_reload_error, n,
			  error != NULL && error[n] != '\0' &&
			      error[n] != '\n');
}

/*
 * A file without "admin" while the admin listener runs (it stays until an
 * upgrade): the listener keeps the credentials, the TLS context and the
 * Host names it had, so that a reload never opens it to everyone
 * (doc/dashboard.md).
 */
static void
admin_inherit(struct sl_main *m, struct sl_conf *nc, const struct sl_conf *oc)
{
	struct sl_admin_auth *na = &nc->admin_auth;
	const struct sl_admin_auth *oa = &oc->admin_auth;

	if (nc->has_admin || m->run_admin == NULL)
		return;
	na->has_token = oa->has_token;
	na->has_basic = oa->has_basic;
	memcpy(na->token_sha, oa->token_sha, sizeof(na->token_sha));
	memcpy(na->basic_sha, oa->basic_sha, sizeof(na->basic_sha));
	na->hosts_any = oa->hosts_any;
	if (oa->hosts != NULL && (na->hosts = malloc(oa->hosts_len)) != NULL) {
		memcpy(na->hosts, oa->hosts, oa->hosts_len);
		na->hosts_len = oa->hosts_len;
	} else if (oa->hosts != NULL) /* fails closed: fewer names */
		log_warnx("reload: out of memory: the admin listener answers "
			  "only addresses and localhost until the next reload");
	if (nc->admin_tls.ctx == NULL)
		nc->admin_tls.ctx = sl_tls_server_ref(oc->admin_tls.ctx);
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
	admin_inherit(m, nc, oc);
	if (sl_runtime_bind(nc) == -1 ||
	    (nfds = sl_main_reload_sockets(m, nc)) == NULL) {
		log_error("%s: %s not applied; generation %llu keeps running",
			  why, m->path, (unsigned long long)oc->generation);
		sl_conf_unref(nc);
		return -1;
	}
	nc->generation = oc->generation + 1;
	sl_main_reaper_adopt(nc);
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
		reload_noted(m, why, NULL);
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
		sl_main_modules_loaded(nc, why);
		sl_acme_apply(nc);
		sl_main_h3_unbound(m, nc, why);
		sl_main_watch_refresh(m, 0);
	}
	sl_conf_unref(oc);
	sl_main_trim(); /* the load's YAML tree */
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
		reload_noted(m, m->pending_why, "out of memory");
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
		reload_noted(m, m->pending_why,
			     "the new generation could not be applied (the "
			     "log says why)");
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
void
sl_main_reload(struct sl_main *m, const char *why)
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
		reload_noted(m, why, errors != NULL ? errors : "not valid");
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
		reload_noted(m, why, errors);
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
		reload_noted(m, why, "out of memory");
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

void
sl_main_on_pending(evutil_socket_t fd, short what, void *arg)
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
	if (m->conf->text == NULL) {
		/* the running file names no endpoint by a DNS name (its
		 * text was not kept): answers for an older one's names
		 * change nothing */
		m->dns_dirty = 0;
		return;
	}
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

void
sl_main_on_dns(void *arg)
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
	sl_main_reload(m, "watch");
}

void
sl_main_on_reload_retry(evutil_socket_t fd, short what, void *arg)
{
	struct sl_main *m = arg;

	if (m->retry_why != NULL) {
		const char *why = m->retry_why;
		m->retry_why = NULL;
		sl_main_reload(m, why);
	}
	main_dns_update(m);
}

/*
 * The first answers for the names of the file, before anything serves:
 * waits up to sl_resolver_settle_ms (names without an answer by then
 * start with no address, and get one when their lookups succeed), then
 * puts the endpoints in the first generation. Returns 0, or -1 when a
 * signal asked to stop meanwhile.
 */
int
sl_main_resolve_at_start(struct sl_main *m)
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
