/* SPDX-License-Identifier: MIT */
/*
 * Start-up needs that a valid file does not guarantee, checked with stat()
 * and access() and the kernel's socket table, and for an address no
 * listener holds a bind that never listens (portcheck.h): no file is
 * created or opened, nothing listens. See preflight.h.
 */
#include "preflight.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "portcheck.h"

/* Whether a file can be created in the directory of path (which need not
 * exist). Returns 0, or -1 with the reason in why. */
static int
dir_can_create(const char *path, char *why, size_t whysz)
{
	char dir[4096];
	const char *slash;
	struct stat st;

	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) == -1) {
		if (errno == ENOENT)
			snprintf(why, whysz,
				 "the directory \"%.200s\" does not exist",
				 dir);
		else
			snprintf(why, whysz, "the directory \"%.200s\": %s",
				 dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whysz, "\"%.200s\" is not a directory", dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(why, whysz, "it cannot be created in \"%.200s\": %s",
			 dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
sl_preflight_appendable(const char *path, char *why, size_t whysz)
{
	struct stat st;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(why, whysz, "it is a directory");
			return -1;
		}
		/* EROFS too: a read-only file system fails here, root or
		 * not */
		if (access(path, W_OK) == -1) {
			snprintf(why, whysz, "%s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		/* a component is not a directory, or not searchable */
		snprintf(why, whysz, "%s", strerror(errno));
		return -1;
	}
	/* the file would be created: its directory must let us */
	return dir_can_create(path, why, whysz);
}

/* Appends one line ("FILE:LINE:COL: LEVEL: MESSAGE") to *out (growing
 * it); gives up quietly when out of memory, leaving what it has. */
static void __attribute__((format(printf, 5, 0)))
add_line(char **out, const char *level, const struct sl_conf *conf,
	 const struct sl_conf_pos *pos, const char *fmt, va_list ap)
{
	char msg[1024], line[1400];
	size_t have = *out ? strlen(*out) : 0, n;
	char *p;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (pos != NULL && pos->line > 0)
		snprintf(line, sizeof(line), "%s:%u:%u: %s: %s\n", conf->path,
			 pos->line, pos->col, level, msg);
	else
		snprintf(line, sizeof(line), "%s: %s: %s\n", conf->path, level,
			 msg);
	n = strlen(line);
	if ((p = realloc(*out, have + n + 1)) == NULL)
		return;
	memcpy(p + have, line, n + 1);
	*out = p;
}

static void __attribute__((format(printf, 4, 5)))
add_error(char **out, const struct sl_conf *conf, const struct sl_conf_pos *pos,
	  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line(out, "error", conf, pos, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 5)))
add_warning(char **out, const struct sl_conf *conf,
	    const struct sl_conf_pos *pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line(out, "warning", conf, pos, fmt, ap);
	va_end(ap);
}

char *
sl_preflight(const struct sl_conf *conf, const char *running_access)
{
	const char *a = conf->access_log;
	char *errors = NULL, why[512];

	if (strcmp(a, "off") != 0 && strcmp(a, "stdout") != 0 &&
	    strcmp(a, "stderr") != 0 &&
	    (running_access == NULL || strcmp(a, running_access) != 0) &&
	    sl_preflight_appendable(a, why, sizeof(why)) == -1)
		add_error(&errors, conf, &conf->access_log_pos,
			  "\"access\": cannot open \"%.512s\" for appending: "
			  "%s",
			  a, why);
	/* the modules' logs of their own (the WAF's), opened at start only
	 * (a reload keeps the running ones: the module says so) */
	for (size_t i = 0; running_access == NULL && i < sl_conf_nmodules;
	     i++) {
		const struct sl_module *mod = sl_conf_modules[i];
		struct sl_mfile f;
		if (mod->log_file != NULL && mod->log_file(conf, &f) &&
		    sl_preflight_appendable(f.path, why, sizeof(why)) == -1)
			add_error(&errors, conf, f.pos,
				  "%s: cannot open \"%.512s\" for appending: "
				  "%s",
				  f.key, f.path, why);
	}
	return errors;
}

int
sl_preflight_pidfile(const char *path, char *why, size_t whysz)
{
	struct stat st;

	if (path[0] == '\0') {
		snprintf(why, whysz, "empty path");
		return -1;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(why, whysz, "it is a directory");
		return -1;
	}
	/* written as a temporary file renamed over path: the directory
	 * must let us create and replace files, whatever path's own mode */
	return dir_can_create(path, why, whysz);
}

#define MAX_HOLDERS 256 /* a sluice with many workers has one socket each */

/* Whether sluice runs under socket activation (SLUICE_SOCKET_ACTIVATION=1,
 * set by contrib/systemd/sluice-socket.conf): the service manager holds
 * the listening sockets between two starts, and the check before a start
 * (ExecStartPre, which gets no LISTEN_FDS) must not call them another
 * process's. */
static int
socket_activated(void)
{
	const char *v = getenv("SLUICE_SOCKET_ACTIVATION");

	return v != NULL && strcmp(v, "1") == 0;
}

/* Whether h is the service manager's socket: pid 1, a systemd process
 * (systemd-socket-activate, a user manager), or, under ProtectProc=
 * invisible, a socket of root's that this user cannot see. */
static int
service_manager(const struct sl_port_holder *h)
{
	if (h->pid == 1 || (h->pid == 0 && h->uid == 0))
		return 1;
	return strncmp(h->comm, "systemd", 7) == 0;
}

/* The holders of this file's addresses that are no other process. */
struct ours {
	const char *conf_real;	  /* the file's real path; NULL: unknown */
	const char *default_conf; /* the file of a sluice without -c */
	const uint64_t *running;  /* sockets of the sluice -p names */
	size_t nrunning;
};

/* Whether a socket of the sluice that -p names (the one a staged copy of
 * its file is for) is h. Its own sockets are asked, not the pid that
 * /proc showed first: during an upgrade two sluices hold each one. */
static int
held_by_running(const struct ours *o, const struct sl_port_holder *h)
{
	for (size_t i = 0; i < o->nrunning; i++)
		if (o->running[i] == h->inode)
			return 1;
	return 0;
}

/* The first holder of h[0..n) that is neither a sluice serving
 * o->conf_real nor a socket of the sluice -p names, or NULL. */
static const struct sl_port_holder *
other_holder(const struct sl_port_holder *h, int n, const struct ours *o)
{
	int activated = socket_activated();

	for (int i = 0; i < n; i++) {
		if (activated && service_manager(&h[i]))
			continue;
		if (held_by_running(o, &h[i]))
			continue;
		if (o->conf_real == NULL ||
		    !sl_portcheck_serves(h[i].pid, o->conf_real,
					 o->default_conf))
			return &h[i];
	}
	return NULL;
}

/*
 * Checks one address (and, with dual, the IPv4 address a dual-stack
 * socket on it also takes: the admin's, which is not SO_REUSEPORT
 * either); returns -1 when the socket table cannot be read. An address
 * no listener holds is then probed (portcheck.h): a connection on its
 * port may block the bind, which only the kernel can tell (issue 41: -t
 * said OK, then the start failed on a port an outgoing connection held).
 */
static int
check_addr(char **errors, const struct sl_conf *conf, const char *what,
	   const struct sl_conf_addr *addr, const struct sl_conf_pos *pos,
	   int dual, const struct ours *o)
{
	struct sl_port_holder h[MAX_HOLDERS];
	const struct sl_port_holder *other;
	struct sockaddr_storage v4;
	char who[128], why[768];
	int n, any;

	if ((n = sl_portcheck_holders(&addr->ss, NULL, 0, h, MAX_HOLDERS)) ==
	    -1)
		return -1;
	any = n > 0;
	other = other_holder(h, n, o);
	if (other == NULL && dual && sl_portcheck_v4_alias(&addr->ss, &v4)) {
		if ((n = sl_portcheck_holders(&v4, NULL, 0, h, MAX_HOLDERS)) ==
		    -1)
			return -1;
		any |= n > 0;
		other = other_holder(h, n, o);
	}
	if (other != NULL) {
		sl_portcheck_describe(other, who, sizeof(who));
		add_error(errors, conf, pos,
			  "%s %s: address already in use by %s", what,
			  addr->text, who);
	} else if (!any && sl_portcheck_probe(&addr->ss, !dual, !dual) == -1 &&
		   errno == EADDRINUSE) {
		/* only when no listener is there: one that is accepted (the
		 * running sluice of this file, the service manager) holds
		 * the address, and the probe would only meet it. Other
		 * errors are not this check's: a port below 1024 for a user
		 * the service is not, an address of another host */
		add_error(
		    errors, conf, pos, "%s %s: %s", what, addr->text,
		    sl_portcheck_in_use(&addr->ss, NULL, 0, why, sizeof(why)));
	}
	return 0;
}

/*
 * Checks the UDP port of an http3 listener (its QUIC sockets bind the
 * listener's address): any UDP socket bound there holds it, and one with
 * SO_REUSEPORT of the same user would take a share of the datagrams, so
 * every one counts, not only those that would fail the bind (issue 77: -t
 * said OK, then the start failed). Returns -1 when the socket table
 * cannot be read.
 */
static int
check_udp(char **errors, const struct sl_conf *conf, const char *what,
	  const struct sl_conf_addr *addr, const struct sl_conf_pos *pos,
	  const struct ours *o)
{
	struct sl_port_holder h[MAX_HOLDERS];
	const struct sl_port_holder *other;
	char who[128];
	int n;

	if ((n = sl_portcheck_udp_holders(&addr->ss, NULL, 0, h,
					  MAX_HOLDERS)) == -1)
		return -1;
	if ((other = other_holder(h, n, o)) != NULL) {
		sl_portcheck_describe(other, who, sizeof(who));
		add_error(errors, conf, pos,
			  "%s UDP %s (http3): address already in use by %s",
			  what, addr->text, who);
	}
	return 0;
}

/* Whether ss is the address of one of given[0..n). */
static int
is_given(const struct sockaddr_storage *ss,
	 const struct sockaddr_storage *given, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (given[i].ss_family != ss->ss_family)
			continue;
		if (ss->ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)ss,
						 *b = (const void *)&given[i];
			if (a->sin_port == b->sin_port &&
			    a->sin_addr.s_addr == b->sin_addr.s_addr)
				return 1;
		} else if (ss->ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)ss,
						  *b = (const void *)&given[i];
			if (a->sin6_port == b->sin6_port &&
			    memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0)
				return 1;
		}
	}
	return 0;
}

char *
sl_preflight_ports(const struct sl_conf *conf, const char *default_conf,
		   const struct sockaddr_storage *given, size_t ngiven,
		   long running, char **warnings)
{
	char *errors = NULL, *conf_real, what[128];
	struct ours o = {.default_conf = default_conf};
	uint64_t *inodes = NULL;
	int unreadable = 0;

	if (warnings != NULL)
		*warnings = NULL;
	/* NULL (a file that is gone, or a buffer): every holder counts */
	o.conf_real = conf_real = realpath(conf->path, NULL);
	/* a pid file may name a process that is no sluice (a stale file
	 * whose number came round again): its sockets count; and when /proc
	 * does not show a sluice's sockets (another user's), they count too
	 */
	if (running > 0 && sl_portcheck_is_sluice(running) &&
	    sl_portcheck_pid_sockets(running, &inodes, &o.nrunning) == 0)
		o.running = inodes;
	/* in the order of the file, as the loader reports: admin comes
	 * first there */
	if (conf->has_admin && !is_given(&conf->admin_addr.ss, given, ngiven))
		unreadable = check_addr(&errors, conf, "admin listener",
					&conf->admin_addr,
					&conf->admin_addr_pos, 1, &o) == -1;
	for (size_t i = 0; i < conf->nlisteners && !unreadable; i++) {
		const struct sl_conf_listener *l = &conf->listeners[i];
		if (is_given(&l->addr.ss, given, ngiven))
			continue; /* this process was given a socket there */
		snprintf(what, sizeof(what), "listener \"%s\"", l->name);
		/* listeners are IPV6_V6ONLY: no IPv4 alias */
		unreadable = check_addr(&errors, conf, what, &l->addr,
					&l->addr_pos, 0, &o) == -1;
		if (!unreadable && l->http3.enabled)
			unreadable = check_udp(&errors, conf, what, &l->addr,
					       &l->addr_pos, &o) == -1;
	}
	if (unreadable && warnings != NULL)
		add_warning(warnings, conf, NULL,
			    "cannot read the kernel's table of listening "
			    "sockets; not checked whether another process "
			    "listens on an address of this file");
	free(conf_real);
	free(inodes);
	return errors;
}
