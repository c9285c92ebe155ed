/* SPDX-License-Identifier: MIT */
/*
 * What serves: the listening sockets of the workers and the admin
 * listener (those a replaced sluice or systemd gave claimed first, no
 * address shared with another process), the workers started on them, the
 * new sockets a reload needs, and the stop that drains the workers. Loads
 * no file and decides no generation: main_check.c and main_reload.c do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "conf_types.h"
#ifdef HAVE_QUIC
#include "h3.h"
#endif
#include "handover.h"
#include "listener.h"
#include "log.h"
#include "main_int.h"
#include "portcheck.h"
#include "worker.h"

/* Stops a start whose socket unit names a socket for a listener that the
 * file puts on another address. */
static void
misnamed(const struct sl_handover *h, const char *what, const char *name,
	 const char *addr)
{
	char a[64];

	if (h->misnamed == NULL)
		return;
	fatalx("%s%s%s%s %s: the socket systemd named \"%s\" listens on %s; "
	       "the socket unit and the configuration must agree",
	       what, name != NULL ? " \"" : "", name != NULL ? name : "",
	       name != NULL ? "\"" : "", addr, h->misnamed->name,
	       sl_addr_str((const struct sockaddr *)&h->misnamed->ss, a,
			   sizeof(a)));
}

static unsigned
cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (unsigned)n;
}

unsigned
sl_main_workers_wanted(const struct sl_conf *conf)
{
	return conf->workers ? conf->workers : cpu_count();
}

/*
 * "FILE:LINE:COL" of pos in conf's file into buf (bufsz bytes), or FILE
 * alone when pos is not known: where a message about an address points,
 * as the loader's errors and -t's do, so that a refused reload or start
 * names the line to change.
 */
static const char *
conf_where(char *buf, size_t bufsz, const struct sl_conf *conf,
	   const struct sl_conf_pos *pos)
{
	if (pos->line > 0)
		snprintf(buf, bufsz, "%s:%u:%u", conf->path, pos->line,
			 pos->col);
	else
		snprintf(buf, bufsz, "%s", conf->path);
	return buf;
}

/*
 * Refuses an address that another process also listens on: every worker
 * binds with SO_REUSEPORT, and the kernel would let another process of the
 * same user join the group and take a share of the connections (another
 * sluice started on the same file, say). l is a listener of conf;
 * own[0..nown) are all the listening sockets of this process. Returns 0,
 * or -1 (logged).
 */
static int
listener_exclusive(const char *prefix, const struct sl_conf *conf,
		   const struct sl_conf_listener *l, const int *own,
		   size_t nown)
{
	char who[128], at[1024];
	int r;

	r = sl_portcheck_foreign(&l->addr.ss, own, nown, who, sizeof(who));
	if (r == 1) {
		log_error("%s%s: error: listener \"%s\" %s: address already in "
			  "use by %s; two processes listening there would "
			  "share its connections",
			  prefix,
			  conf_where(at, sizeof(at), conf, &l->addr_pos),
			  l->name, l->addr.text, who);
		return -1;
	}
	if (r == -1)
		log_warnx("%slistener \"%s\" %s: cannot read the kernel's "
			  "table of listening sockets; not checked whether "
			  "another process listens there too",
			  prefix, l->name, l->addr.text);
	return 0;
}

/* Appends fds[0..i) (nl sockets each) and fds[i][0..j) to out at *n: the
 * sockets opened so far, in the order they are opened. */
static void
opened_fds(int *out, size_t *n, int **fds, size_t nl, unsigned i, size_t j)
{
	for (unsigned w = 0; w <= i; w++)
		for (size_t k = 0; k < (w < i ? nl : j); k++)
			out[(*n)++] = fds[w][k];
}

/*
 * Why ss cannot be bound or listened on after a failure with errno err:
 * for EADDRINUSE, what holds it, a listener ("address already in use by
 * pid 123 (nginx)") or a connection (portcheck.h), own[0..nown) being
 * this process's sockets; else strerror(err). Writes into msg (msgsz
 * bytes).
 */
static const char *
cannot_listen(char *msg, size_t msgsz, int err,
	      const struct sockaddr_storage *ss, const int *own, size_t nown)
{
	if (err == EADDRINUSE)
		return sl_portcheck_in_use(ss, own, nown, msg, msgsz);
	snprintf(msg, msgsz, "%s", strerror(err));
	return msg;
}

/* Every listening socket of m (running) and of nfds (being prepared for
 * nc), for listener_exclusive(). Returns a malloc'd array or NULL. */
static int *
all_fds(struct sl_main *m, int **nfds, const struct sl_conf *nc, size_t *n)
{
	size_t cap = m->nworkers * (m->conf->nlisteners + nc->nlisteners);
	int *all = calloc(cap + 1, sizeof(*all));

	*n = 0;
	if (all == NULL)
		return NULL;
	for (unsigned i = 0; i < m->nworkers; i++) {
		for (size_t j = 0; m->fds != NULL && j < m->conf->nlisteners;
		     j++)
			all[(*n)++] = m->fds[i][j];
		for (size_t j = 0; nfds != NULL && j < nc->nlisteners; j++)
			all[(*n)++] = nfds[i][j];
	}
	return all;
}

/* Listening sockets of nc for every worker: the running socket of an
 * unchanged address, a new one otherwise. Returns NULL (nothing left open)
 * when a new address cannot be opened, or another process listens on
 * it. */
int **
sl_main_reload_sockets(struct sl_main *m, struct sl_conf *nc)
{
	const struct sl_conf *oc = m->conf;
	int **nfds = calloc(m->nworkers, sizeof(*nfds));
	int *all;
	unsigned i;
	size_t j, k, nall;

	if (nfds == NULL)
		return NULL;
	for (i = 0; i < m->nworkers; i++) {
		if ((nfds[i] = calloc(nc->nlisteners + 1, sizeof(**nfds))) ==
		    NULL)
			goto fail;
		for (j = 0; j < nc->nlisteners; j++) {
			nfds[i][j] = -1;
			for (k = 0; k < oc->nlisteners; k++)
				if (strcmp(nc->listeners[j].addr.text,
					   oc->listeners[k].addr.text) == 0)
					nfds[i][j] = m->fds[i][k];
			if (nfds[i][j] != -1)
				continue;
			if ((nfds[i][j] =
				 sl_listener_open(&nc->listeners[j])) == -1) {
				int err = errno;
				char why[768], at[1024];
				size_t nown;
				int *own = all_fds(m, NULL, nc, &nown);
				if (own != NULL)
					opened_fds(own, &nown, nfds,
						   nc->nlisteners, i, j);
				log_error(
				    "reload: %s: error: listener \"%s\" %s: "
				    "cannot listen: %s",
				    conf_where(at, sizeof(at), nc,
					       &nc->listeners[j].addr_pos),
				    nc->listeners[j].name,
				    nc->listeners[j].addr.text,
				    cannot_listen(why, sizeof(why), err,
						  &nc->listeners[j].addr.ss,
						  own, nown));
				free(own);
				goto fail;
			}
		}
	}
	/* a new address must be ours alone; a kept one was checked when it
	 * was opened */
	all = all_fds(m, nfds, nc, &nall);
	for (j = 0; j < nc->nlisteners; j++) {
		int kept = 0;
		for (k = 0; k < oc->nlisteners; k++)
			kept |= strcmp(nc->listeners[j].addr.text,
				       oc->listeners[k].addr.text) == 0;
		if (!kept &&
		    listener_exclusive("reload: ", nc, &nc->listeners[j], all,
				       nall) == -1) {
			free(all);
			goto fail;
		}
	}
	free(all);
	return nfds;
fail:
	/* close only what this reload opened */
	for (i = 0; i < m->nworkers && nfds[i] != NULL; i++) {
		for (j = 0; j < nc->nlisteners; j++) {
			int kept = 0;
			for (k = 0; k < oc->nlisteners; k++)
				kept |= nfds[i][j] == m->fds[i][k];
			if (!kept && nfds[i][j] > 0)
				close(nfds[i][j]);
		}
		free(nfds[i]);
	}
	free(nfds);
	return NULL;
}

void
sl_main_admin_start(struct sl_main *m)
{
	/* bound before the workers start, so a taken admin port stops
	 * start-up before any traffic is served */
	int afd = -1;

	if (!m->conf->has_admin)
		return;
	if (sl_handover_claim(&m->given,
			      (const struct sockaddr *)&m->conf->admin_addr.ss,
			      "admin", &afd, 1) == 0)
		afd = -1;
	misnamed(&m->given, "admin listener", NULL, m->conf->admin_addr.text);
	m->admin = sl_admin_start(m->base, &m->view, afd);
	if (m->admin == NULL) {
		char why[768], at[1024];
		log_error("%s: error: admin listener %s: cannot "
			  "listen: %s",
			  conf_where(at, sizeof(at), m->conf,
				     &m->conf->admin_addr_pos),
			  m->conf->admin_addr.text,
			  cannot_listen(why, sizeof(why), errno,
					&m->conf->admin_addr.ss, NULL, 0));
		exit(1);
	}
	log_info("admin listener on %s", m->conf->admin_addr.text);
}

#ifdef HAVE_QUIC
/* The same address and port (a listener's, as the loader wrote it). */
static int
same_ss(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	return a->ss_family == AF_INET6
		   ? memcmp(a, b, sizeof(struct sockaddr_in6)) == 0
		   : memcmp(a, b, sizeof(struct sockaddr_in)) == 0;
}

static void
qsock_add(struct sl_main *m, int fd, unsigned slot,
	  const struct sockaddr_storage *ss)
{
	struct sl_qsock *v = realloc(m->qsocks, (m->nqsocks + 1) * sizeof(*v));

	if (v == NULL)
		fatalx("out of memory");
	m->qsocks = v;
	v[m->nqsocks].fd = fd;
	v[m->nqsocks].slot = slot;
	v[m->nqsocks++].ss = *ss;
}

/*
 * Why an http3 listener's UDP socket on ss cannot be bound after a failure
 * with errno err: for EADDRINUSE, who holds a UDP socket there, asked of
 * the UDP tables with this process's sockets on ss (the group's, so far)
 * left out; the TCP tables would only find the listener's own TCP
 * sockets, once named "a process this user cannot see" (issue 77). Else
 * strerror(err). Writes into msg (msgsz bytes).
 */
static const char *
udp_cannot_listen(char *msg, size_t msgsz, int err, const struct sl_main *m,
		  const struct sockaddr_storage *ss)
{
	int *own;
	size_t nown = 0;

	if (err != EADDRINUSE) {
		snprintf(msg, msgsz, "%s", strerror(err));
		return msg;
	}
	if ((own = calloc(m->nqsocks + 1, sizeof(*own))) != NULL)
		for (size_t x = 0; x < m->nqsocks; x++)
			if (same_ss(&m->qsocks[x].ss, ss))
				own[nown++] = m->qsocks[x].fd;
	sl_portcheck_udp_in_use(ss, own, nown, msg, msgsz);
	free(own);
	return msg;
}

/* The UDP sockets an upgrade handed over for each http3 listener, in
 * their group's order (before the sockets no listener claims are closed):
 * the new process takes the old one's groups, and with them the routing
 * of each connection ID's datagrams (its first byte names the socket). */
static void
main_h3_claim(struct sl_main *m, const struct sl_conf *conf)
{
	for (size_t j = 0; j < conf->nlisteners; j++) {
		const struct sl_conf_listener *l = &conf->listeners[j];
		int got[SL_H3_SLOTS];
		size_t k;

		if (!l->http3.enabled)
			continue;
		k = sl_handover_claim_dgram(
		    &m->given, (const struct sockaddr *)&l->addr.ss, got,
		    SL_H3_SLOTS);
		for (size_t x = 0; x < k; x++)
			qsock_add(m, got[x], (unsigned)x, &l->addr.ss);
	}
}

/* Each http3 listener's UDP sockets: those handed over, then new ones for
 * the workers beyond them, bound in the group's order, which the routing
 * program counts on (doc/http3.md); each served by worker slot %
 * nworkers. A reload keeps them (an endpoint follows its listener's
 * address); a listener that gains http3 at a reload serves it from the
 * next start or upgrade. */
static void
main_h3_sockets(struct sl_main *m, const struct sl_conf *conf)
{
	if (m->given.has_qkey)
		sl_h3_set_key(m->given.qkey);
	for (size_t j = 0; j < conf->nlisteners; j++) {
		const struct sl_conf_listener *l = &conf->listeners[j];
		size_t had = 0, n;
		int first = -1;

		if (!l->http3.enabled)
			continue;
		for (size_t x = 0; x < m->nqsocks; x++)
			if (same_ss(&m->qsocks[x].ss, &l->addr.ss))
				had++;
		n = SL_MAX(had, (size_t)m->nworkers);
		if (n > SL_H3_SLOTS) {
			char at[1024];
			log_error(
			    "%s: error: listener \"%s\": http3 serves "
			    "at most %d workers, and this start has %zu "
			    "(\"workers\": auto on a machine of as many "
			    "CPUs): set \"workers\"",
			    conf_where(at, sizeof(at), conf, &l->addr_pos),
			    l->name, SL_H3_SLOTS, n);
			exit(1);
		}
		for (size_t slot = had; slot < n; slot++) {
			char why[768], at[1024];
			int fd = sl_h3_socket_open(l);
			if (fd == -1) {
				log_error("%s: error: listener \"%s\" UDP %s "
					  "(http3): cannot listen: %s",
					  conf_where(at, sizeof(at), conf,
						     &l->addr_pos),
					  l->name, l->addr.text,
					  udp_cannot_listen(why, sizeof(why),
							    errno, m,
							    &l->addr.ss));
				exit(1);
			}
			qsock_add(m, fd, (unsigned)slot, &l->addr.ss);
		}
		for (size_t x = 0; x < m->nqsocks; x++) {
			struct sl_qsock *q = &m->qsocks[x];
			int fd;
			if (!same_ss(&q->ss, &l->addr.ss))
				continue;
			if (first == -1)
				first = q->fd;
			/* the worker's own descriptor: this one stays for an
			 * upgrade */
			if ((fd = fcntl(q->fd, F_DUPFD_CLOEXEC, 0)) == -1 ||
			    sl_worker_add_h3(m->workers[q->slot % m->nworkers],
					     j, fd, q->slot) != 0)
				fatalx("listener \"%s\": http3: cannot start",
				       l->name);
		}
		if (n > 1 && sl_h3_route(first, (unsigned)n) != 0)
			log_warn("listener \"%s\": http3: the routing "
				 "program could not be attached: a "
				 "connection whose address changes may be "
				 "lost",
				 l->name);
		log_info("listener \"%s\": http3 on UDP %s (%zu sockets%s)",
			 l->name, l->addr.text, n,
			 had > 0 ? ", handed over" : "");
	}
}
#endif

void
sl_main_h3_unbound(const struct sl_main *m, const struct sl_conf *nc,
		   const char *why)
{
	for (size_t j = 0; j < nc->nlisteners; j++) {
		const struct sl_conf_listener *l = &nc->listeners[j];
		int bound = 0;
		if (!l->http3.enabled)
			continue;
#ifdef HAVE_QUIC
		for (size_t x = 0; x < m->nqsocks && !bound; x++)
			bound = same_ss(&m->qsocks[x].ss, &l->addr.ss);
#else
		(void)m;
#endif
		if (!bound)
			log_warnx("%s: listener \"%s\": http3 serves from the "
				  "next start or upgrade (its UDP sockets are "
				  "opened then)",
				  why, l->name);
	}
}

void
sl_main_start_workers(struct sl_main *m)
{
	struct sl_conf *conf = m->conf;
	size_t nall;
	int *all;

	m->nworkers = sl_main_workers_wanted(conf);
	m->workers = calloc(m->nworkers, sizeof(*m->workers));
	m->fds = calloc(m->nworkers, sizeof(*m->fds));
	if (m->workers == NULL || m->fds == NULL)
		fatalx("out of memory");
	for (unsigned i = 0; i < m->nworkers; i++)
		if ((m->fds[i] = calloc(conf->nlisteners + 1,
					sizeof(**m->fds))) == NULL)
			fatalx("out of memory");
	/* sockets given (an upgrade, systemd) first: a listener takes the
	 * ones on its address, one per worker; a worker without one opens
	 * its own (an upgrade's sockets are in a SO_REUSEPORT group it
	 * joins; systemd's one socket is shared by every worker); sockets
	 * beyond one per worker are served as well, or their queues would
	 * be lost */
	for (size_t j = 0; j < conf->nlisteners; j++) {
		const struct sl_conf_listener *l = &conf->listeners[j];
		int *got = calloc(m->given.n + 1, sizeof(*got));
		size_t k;

		if (got == NULL)
			fatalx("out of memory");
		k = sl_handover_claim(&m->given,
				      (const struct sockaddr *)&l->addr.ss,
				      l->name, got, m->given.n);
		misnamed(&m->given, "listener", l->name, l->addr.text);
		for (size_t x = 0; x < k; x++)
			if (sl_listener_adopt(got[x], l) == -1)
				fatal("listener \"%s\" %s: the socket given "
				      "for it",
				      l->name, l->addr.text);
		for (unsigned i = 0; i < m->nworkers && k > 0; i++) {
			if (i < k)
				m->fds[i][j] = got[i];
			else if (m->given.from_systemd &&
				 (m->fds[i][j] =
				      fcntl(got[0], F_DUPFD_CLOEXEC, 0)) == -1)
				fatal("listener \"%s\": dup", l->name);
		}
		for (size_t x = m->nworkers; x < k; x++) {
			struct sl_xfd *v =
			    realloc(m->xfds, (m->nxfds + 1) * sizeof(*v));
			if (v == NULL)
				fatalx("out of memory");
			m->xfds = v;
			v[m->nxfds].fd = got[x];
			v[m->nxfds].addr = strdup(l->addr.text);
			if (v[m->nxfds++].addr == NULL)
				fatalx("out of memory");
		}
		free(got);
	}
#ifdef HAVE_QUIC
	main_h3_claim(m, conf);
#endif
	sl_handover_close_unclaimed(&m->given);
	/* every socket is bound before any is checked or used: the check
	 * must know all of our own */
	for (unsigned i = 0; i < m->nworkers; i++) {
		for (size_t j = 0; j < conf->nlisteners; j++) {
			const struct sl_conf_listener *l = &conf->listeners[j];
			int err, *own;
			size_t nown = 0;
			char why[768], at[1024];

			if (m->fds[i][j] > 0)
				continue; /* given */
			if ((m->fds[i][j] = sl_listener_open(l)) != -1)
				continue;
			err = errno;
			own = calloc(m->nworkers * conf->nlisteners + 1,
				     sizeof(*own));
			if (own != NULL)
				opened_fds(own, &nown, m->fds, conf->nlisteners,
					   i, j);
			/* at its place in the file, as -t and a reload say it
			 * (log_error: "fatal: FILE:LINE:COL: error:" says
			 * "error" once too often) */
			log_error(
			    "%s: error: listener \"%s\" %s: cannot "
			    "listen: %s",
			    conf_where(at, sizeof(at), conf, &l->addr_pos),
			    l->name, l->addr.text,
			    cannot_listen(why, sizeof(why), err, &l->addr.ss,
					  own, nown));
			exit(1);
		}
	}
	if ((all = all_fds(m, NULL, conf, &nall)) == NULL)
		fatalx("out of memory");
	/* the sockets beyond one per worker are ours too */
	if (m->nxfds > 0) {
		int *more = realloc(all, (nall + m->nxfds + 1) * sizeof(*all));
		if (more == NULL)
			fatalx("out of memory");
		all = more;
		for (size_t x = 0; x < m->nxfds; x++)
			all[nall++] = m->xfds[x].fd;
	}
	for (size_t j = 0; j < conf->nlisteners; j++)
		if (listener_exclusive("", conf, &conf->listeners[j], all,
				       nall) == -1)
			exit(1);
	free(all);
	for (unsigned i = 0; i < m->nworkers; i++) {
		/* the worker takes over its copy of the descriptors */
		int *fds = malloc((conf->nlisteners + 1) * sizeof(*fds));
		if (fds == NULL)
			fatalx("out of memory");
		memcpy(fds, m->fds[i], conf->nlisteners * sizeof(*fds));
		m->workers[i] = sl_worker_new(i, conf, fds);
		free(fds);
		if (m->workers[i] == NULL)
			fatalx("worker %u: cannot create", i);
	}
	for (size_t x = 0; x < m->nxfds; x++) {
		size_t j = 0;
		while (strcmp(conf->listeners[j].addr.text, m->xfds[x].addr))
			j++;
		if (sl_worker_add_socket(m->workers[x % m->nworkers], j,
					 m->xfds[x].fd) == -1)
			fatalx("out of memory");
	}
#ifdef HAVE_QUIC
	main_h3_sockets(m, conf);
#endif
	for (unsigned i = 0; i < m->nworkers; i++)
		if (sl_worker_start(m->workers[i]) == -1)
			fatal("worker %u: cannot start", i);
}

/* Stops accepting and drains (why: "signal 15", "upgrade"). */
void
sl_main_stop(struct sl_main *m, const char *why)
{
	if (m->stopping) {
		log_info("%s: already stopping", why);
		return;
	}
	m->stopping = 1;
	log_info("%s: stopping: no new connections, finishing requests in "
		 "flight (drain_timeout %llu ms)",
		 why, (unsigned long long)m->conf->drain_timeout_ms);
	if (!m->handed_over)
		(void)sl_sd_notify("STOPPING=1");
	m->view.draining = 1;
	for (unsigned i = 0; i < m->nworkers; i++)
		sl_worker_stop(m->workers[i],
			       m->handed_over ? SL_DRAIN_HANDOVER
					      : SL_DRAIN_STOP,
			       sl_upgrade_conn_chan(m->upgrade));
	/* the main loop keeps serving the admin listener (readyz says
	 * draining) until every worker has finished */
	event_add(m->wait_ev, &(struct timeval){0, 50000});
}

void
sl_main_on_wait(evutil_socket_t fd, short what, void *arg)
{
	struct sl_main *m = arg;

	for (unsigned i = 0; i < m->nworkers; i++)
		if (!atomic_load(&m->workers[i]->done))
			return;
	event_base_loopexit(m->base, NULL);
}
