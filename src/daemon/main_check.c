/* SPDX-License-Identifier: MIT */
/*
 * The configuration file before anything serves: loaded, and every need
 * of a start on it checked at once (what it opens, its addresses, the pid
 * file, certificates, secrets), which is all -t does; and the pid file's
 * life (-p). Binds nothing and starts nothing: main_serve.c does.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "handover.h"
#include "log.h"
#include "main_int.h"
#include "portcheck.h"
#include "preflight.h"
#include "resolve.h"
#include "tls.h"

/* Logs every line of a loader's error (or, with warning, warning) text. */
void
sl_main_log_lines(int warning, const char *prefix, const char *text)
{
	const char *p = text, *nl;

	while (p != NULL && *p != '\0') {
		int n;
		nl = strchr(p, '\n');
		n = nl ? (int)(nl - p) : (int)strlen(p);
		if (warning)
			log_warnx("%s%.*s", prefix, n, p);
		else
			log_error("%s%.*s", prefix, n, p);
		p = nl ? nl + 1 : NULL;
	}
}

/*
 * Writes the error (or, with warning, warning) lines of a start that has
 * not loaded its file yet or cannot start on it: as they are for -t and a
 * start from a shell or a unit ("FILE:LINE:COL: error: ...", a
 * compiler's form), or, in the new process of an upgrade (upgrading), as
 * log lines ("TIME error: upgrade: FILE:LINE:COL: error: ..."): its
 * stderr is the error log of the process it would replace, whose lines
 * all carry a time and a level. text may be NULL.
 */
static void
start_lines(int upgrading, int warning, const char *text)
{
	if (text == NULL)
		return;
	if (upgrading)
		sl_main_log_lines(warning, "upgrade: ", text);
	else
		fputs(text, stderr);
}

/* ---- pid file (-p) ------------------------------------------------------ */

/* The pid written in path, or 0 when there is none (no file, no number). */
static long
pidfile_read(const char *path)
{
	char buf[32];
	ssize_t n;
	long pid;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%ld", &pid) != 1 || pid <= 0)
		return 0;
	return pid;
}

/*
 * Refuses to start when path names a running sluice (a second sluice
 * given the same -p). A file left by a process that is gone, or whose
 * pid now belongs to another program (the number came round again), is
 * stale: it is replaced once this one serves. Exits on refusal.
 */
void
sl_main_pidfile_check(const char *path, long replaced)
{
	long pid = pidfile_read(path);
	char comm[32];

	/* replaced: the sluice this one takes over from (an upgrade) */
	if (pid == 0 || pid == (long)getpid() || pid == replaced ||
	    (kill((pid_t)pid, 0) == -1 && errno == ESRCH))
		return;
	if (sl_portcheck_is_sluice(pid))
		fatalx("pid file %s: pid %ld (sluice) is running; not "
		       "starting a second sluice with the same pid file",
		       path, pid);
	if (sl_portcheck_comm(pid, comm, sizeof(comm)) == -1)
		fatalx("pid file %s: pid %ld is running, a process this "
		       "user cannot see; not starting",
		       path, pid);
	log_warnx("pid file %s: stale: pid %ld is now %s, not sluice; "
		  "replacing it",
		  path, pid, comm);
}

/* Writes this process's pid to path: a temporary file in the same
 * directory renamed over it, so that a reader never sees half a file.
 * Returns 0, or -1 (errno set). */
int
sl_main_pidfile_write(const char *path)
{
	char tmp[4096], buf[32];
	int fd, n, ok, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	/* readable by all, as pid files are, whatever the umask */
	ok = write(fd, buf, (size_t)n) == n && fchmod(fd, 0644) == 0;
	saved = errno;
	if (close(fd) == -1 && ok) {
		ok = 0;
		saved = errno;
	}
	if (!ok) {
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

/* Removes path at a clean exit if it still names this process. */
void
sl_main_pidfile_remove(const char *path)
{
	if (pidfile_read(path) == (long)getpid() && unlink(path) == -1)
		log_warn("pid file %s: cannot remove it", path);
}

/*
 * Unless -t: the sockets of a sluice being replaced, or systemd's, into
 * m->given; the addresses they listen on are this process's own, for the
 * check of the file's addresses (*given, *ngiven; malloc'd, or NULL).
 * Returns 0, or -1 (logged; m->given and m->conf freed): no start.
 */
static int
given_addrs(struct sl_main *m, struct sockaddr_storage **given, size_t *ngiven)
{
	char why[512];

	if (sl_handover_receive(&m->given, why, sizeof(why)) == -1) {
		log_error("cannot start: %s", why);
		sl_handover_discard(&m->given);
		sl_conf_unref(m->conf);
		return -1;
	}
	if (m->given.n > 0 &&
	    (*given = calloc(m->given.n, sizeof(**given))) == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < m->given.n; i++)
		if (m->given.v[i].sslen > 0)
			(*given)[(*ngiven)++] = m->given.v[i].ss;
	return 0;
}

int
sl_main_load(struct sl_main *m, const char *path, const char *pid_file,
	     int check)
{
	char *errors = NULL, *warnings = NULL, *tls_errors, *port_errors;
	char *secret_errors;
	char *port_warnings = NULL, *pid_errors = NULL;
	struct sockaddr_storage *given = NULL;
	size_t ngiven = 0;
	int upgrading;

	/* the new process of an upgrade (SIGUSR2), asked before
	 * sl_handover_receive removes what says so */
	upgrading = !check && sl_handover_upgrading();

	m->conf = sl_conf_load(path, &errors);
	if (m->conf == NULL) {
		start_lines(upgrading, 0,
			    errors ? errors : "configuration: unknown error\n");
		free(errors);
		return -1;
	}
	free(errors);
	if (!check && given_addrs(m, &given, &ngiven) == -1)
		return -1;
	/* a file that -t calls OK must also start: what start-up will open
	 * must open, its addresses must be free (a sluice serving this very
	 * file aside: -t runs before its reload; and for -t with -p, the
	 * sluice its pid file names: a staged copy of that sluice's file is
	 * checked before it replaces the file, issue 41), the pid file must
	 * be writable, certificates, keys and CAs load, and the password
	 * files read: every problem at once, -t included */
	errors = sl_preflight(m->conf, NULL);
	port_errors = sl_preflight_ports(
	    m->conf, DEFAULT_CONF, given, ngiven,
	    check && pid_file != NULL ? pidfile_read(pid_file) : 0,
	    &port_warnings);
	free(given);
	if (pid_file != NULL) {
		char why[512];
		if (sl_preflight_pidfile(pid_file, why, sizeof(why)) == -1 &&
		    asprintf(&pid_errors,
			     "error: -p: cannot write the pid file \"%s\": "
			     "%s\n",
			     pid_file, why) == -1)
			pid_errors = NULL;
	}
	tls_errors = sl_tls_load(m->conf, &warnings);
	secret_errors = sl_conf_load_secrets(m->conf, &warnings);
	start_lines(upgrading, 1, port_warnings);
	free(port_warnings);
	start_lines(upgrading, 1, warnings);
	free(warnings);
	if (errors != NULL || port_errors != NULL || pid_errors != NULL ||
	    tls_errors != NULL || secret_errors != NULL) {
		start_lines(upgrading, 0, errors);
		start_lines(upgrading, 0, port_errors);
		start_lines(upgrading, 0, pid_errors);
		start_lines(upgrading, 0, tls_errors);
		start_lines(upgrading, 0, secret_errors);
		free(errors);
		free(port_errors);
		free(pid_errors);
		free(tls_errors);
		free(secret_errors);
		sl_handover_discard(&m->given);
		sl_conf_unref(m->conf);
		return -1;
	}
	return 0;
}

int
sl_main_check_ok(struct sl_main *m)
{
	char *warnings = NULL;

	/* names that do not resolve are warnings: they may by the time it
	 * runs (doc/fleet.md section 2) */
	/* its warnings only, not the resolver's progress */
	sl_log_set_level(SL_LOG_ERROR);
	if (sl_resolver_check(m->conf, &warnings) == -1)
		fatalx("out of memory");
	if (warnings != NULL) {
		fputs(warnings, stderr);
		free(warnings);
	}
	printf("configuration OK\n");
	sl_conf_unref(m->conf);
	return 0;
}
