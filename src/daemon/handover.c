/* SPDX-License-Identifier: MIT */
/*
 * Sockets that outlive a process: the upgrade's two ends and systemd's
 * socket activation (see handover.h, doc/upgrade.md). The channel of an
 * upgrade is a SOCK_SEQPACKET socket pair: each message is one line of
 * text ("FDS 12" with the descriptors attached, "COUNTERS 3456", "C" and
 * a piece of the counters, "END", "READY pid version sha256 [conns]",
 * "CONNS 12" with idle client connections attached, "BYE"), so that no
 * message is ever split or merged.
 */
#include "handover.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "util.h"

#define HANDOVER_FD_ENV "SLUICE_UPGRADE_FD"
#define MSG_MAX		65536 /* bytes of one channel message */
#define FDS_PER_MSG	200   /* below the kernel's SCM_MAX_FD (253) */
#define RECEIVE_MS	10000 /* the new process reads what it is given */
#define CHUNK		(MSG_MAX - 16)

extern char **environ;

/* ---- the channel ----------------------------------------------------- */

_Static_assert(SL_HANDOVER_CONNS_MAX <= FDS_PER_MSG,
	       "the idle connections of one message fit the receiver's array");

/* Sends one message, with fds attached when nfds > 0, and send(2)'s flags
 * beside MSG_NOSIGNAL. Returns 0 or -1. */
static int
chan_send_flags(int chan, const void *data, size_t len, const int *fds,
		size_t nfds, int flags)
{
	struct iovec iov = {(void *)data, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	char ctl[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
	ssize_t n;

	if (nfds > 0) {
		struct cmsghdr *cm;
		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(chan, &mh, MSG_NOSIGNAL | flags);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* Sends one message, waiting for room. Returns 0 or -1. */
static int
chan_send(int chan, const void *data, size_t len, const int *fds, size_t nfds)
{
	return chan_send_flags(chan, data, len, fds, nfds, 0);
}

static int chan_sendf(int chan, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
chan_sendf(int chan, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return chan_send(chan, line, (size_t)n, NULL, 0);
}

/*
 * Receives one message into buf (bufsz, NUL-terminated), waiting at most
 * until deadline_ms (0: do not wait). Descriptors that come with it go to
 * fds (at most maxfds, *nfds set; more are closed). Returns the length, 0
 * at the channel's end, SL_AGAIN when nothing came in time, -1 on error.
 */
static ssize_t
chan_recv(int chan, char *buf, size_t bufsz, int *fds, size_t maxfds,
	  size_t *nfds, uint64_t deadline_ms)
{
	char ctl[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
	struct iovec iov = {buf, bufsz - 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl,
			    .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm;
	ssize_t n;

	*nfds = 0;
	for (;;) {
		struct pollfd p = {chan, POLLIN, 0};
		uint64_t now = sl_now_ms();
		int wait = deadline_ms > now ? (int)(deadline_ms - now) : 0;
		int r = poll(&p, 1, wait);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			return SL_AGAIN;
		n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	if (n == -1)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;
		int *p;
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		p = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, p + i, sizeof(fd));
			if (*nfds < maxfds)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		errno = EMSGSIZE;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/* Sends a /metrics page in pieces: "COUNTERS len", then "C" + pieces. */
static int
chan_send_counters(int chan, const char *text)
{
	size_t len = text != NULL ? strlen(text) : 0;
	char piece[MSG_MAX];

	if (chan_sendf(chan, "COUNTERS %zu", len) == -1)
		return -1;
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t k = SL_MIN(CHUNK, len - off);
		piece[0] = 'C';
		memcpy(piece + 1, text + off, k);
		if (chan_send(chan, piece, k + 1, NULL, 0) == -1)
			return -1;
	}
	return 0;
}

/* After "COUNTERS len": the pieces, into a malloc'd string. Returns it, or
 * NULL (*broken set when the channel failed). */
static char *
chan_recv_counters(int chan, size_t len, uint64_t deadline_ms, int *broken)
{
	char *text, buf[MSG_MAX];
	size_t have = 0, nfds;
	int fd;

	*broken = 0;
	if (len > 64 << 20 || (text = malloc(len + 1)) == NULL) {
		*broken = 1;
		return NULL;
	}
	while (have < len) {
		ssize_t n = chan_recv(chan, buf, sizeof(buf), &fd, 1, &nfds,
				      deadline_ms);
		if (nfds > 0)
			close(fd);
		if (n <= 0 || buf[0] != 'C' || (size_t)n - 1 > len - have) {
			free(text);
			*broken = 1;
			return NULL;
		}
		memcpy(text + have, buf + 1, (size_t)n - 1);
		have += (size_t)n - 1;
	}
	text[len] = '\0';
	return text;
}

/* ---- the new process ---------------------------------------------------- */

static int
given_add(struct sl_handover *h, int fd, const char *name)
{
	struct sl_given *v = realloc(h->v, (h->n + 1) * sizeof(*v));
	struct sl_given *g;

	if (v == NULL)
		return -1;
	h->v = v;
	g = &v[h->n];
	memset(g, 0, sizeof(*g));
	g->fd = fd;
	g->sslen = sizeof(g->ss);
	if (getsockname(fd, (struct sockaddr *)&g->ss, &g->sslen) == -1)
		g->sslen = 0;
	{
		int type = 0;
		socklen_t tl = sizeof(type);
		g->dgram =
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
		    type == SOCK_DGRAM;
	}
	if (name != NULL && (g->name = strdup(name)) == NULL)
		return -1;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	h->n++;
	return 0;
}

/* The sockets and counters of the sluice this process replaces. */
static int
receive_upgrade(struct sl_handover *h, int chan, char *why, size_t whysz)
{
	uint64_t deadline = sl_now_ms() + RECEIVE_MS;
	char buf[MSG_MAX];
	int fds[FDS_PER_MSG];

	h->chan = chan;
	for (;;) {
		size_t nfds;
		ssize_t n = chan_recv(chan, buf, sizeof(buf), fds,
				      SL_NELEM(fds), &nfds, deadline);
		unsigned long k;
		size_t len;

		if (n <= 0) {
			snprintf(why, whysz,
				 "the hand-over from the running sluice %s",
				 n == 0		 ? "ended early"
				 : n == SL_AGAIN ? "did not come in time"
						 : strerror(errno));
			for (size_t i = 0; i < nfds; i++)
				close(fds[i]);
			return -1;
		}
		if (sscanf(buf, "SLUICE-UPGRADE 1 %ld %63s", &h->old_pid,
			   h->old_version) == 2)
			continue;
		if (sscanf(buf, "FDS %lu", &k) == 1 && k == nfds) {
			for (size_t i = 0; i < nfds; i++)
				if (given_add(h, fds[i], NULL) == -1) {
					snprintf(why, whysz, "out of memory");
					for (; i < nfds; i++)
						close(fds[i]);
					return -1;
				}
			continue;
		}
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		if (sscanf(buf, "COUNTERS %zu", &len) == 1) {
			int broken;
			free(h->counters);
			h->counters =
			    chan_recv_counters(chan, len, deadline, &broken);
			if (broken) {
				snprintf(why, whysz,
					 "the hand-over's counters broke off");
				return -1;
			}
			continue;
		}
		if (strncmp(buf, "QKEY ", 5) == 0 && strlen(buf) == 5 + 64) {
			for (size_t i = 0; i < 32; i++) {
				unsigned v;
				if (sscanf(buf + 5 + 2 * i, "%2x", &v) != 1)
					break;
				h->qkey[i] = (uint8_t)v;
			}
			h->has_qkey = 1;
			continue;
		}
		if (strcmp(buf, "END") == 0)
			return 0;
		snprintf(why, whysz, "the hand-over sent \"%.40s\"", buf);
		return -1;
	}
}

/* systemd's sockets: LISTEN_FDS from fd 3 on, when LISTEN_PID is ours. */
static int
receive_systemd(struct sl_handover *h, char *why, size_t whysz)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char *copy = NULL, *save = NULL, *name;
	long n;

	if (pid == NULL || nfds == NULL || atol(pid) != (long)getpid())
		return 0;
	n = atol(nfds);
	if (n <= 0 || n > 4096) {
		snprintf(why, whysz, "LISTEN_FDS=%s is not a count", nfds);
		return -1;
	}
	if (names != NULL && (copy = strdup(names)) == NULL) {
		snprintf(why, whysz, "out of memory");
		return -1;
	}
	name = copy != NULL ? strtok_r(copy, ":", &save) : NULL;
	for (long i = 0; i < n; i++) {
		int fd = 3 + (int)i;
		if (given_add(h, fd, name) == -1) {
			free(copy);
			snprintf(why, whysz, "out of memory");
			return -1;
		}
		if (name != NULL)
			name = strtok_r(NULL, ":", &save);
	}
	free(copy);
	h->from_systemd = 1;
	return 0;
}

int
sl_handover_upgrading(void)
{
	return getenv(HANDOVER_FD_ENV) != NULL;
}

int
sl_handover_receive(struct sl_handover *h, char *why, size_t whysz)
{
	const char *up = getenv(HANDOVER_FD_ENV);
	int r = 0;

	memset(h, 0, sizeof(*h));
	h->chan = -1;
	if (up != NULL) {
		int chan = atoi(up);
		unsetenv(HANDOVER_FD_ENV);
		if (chan < 3 || fcntl(chan, F_GETFD) == -1) {
			snprintf(why, whysz, "%s=%s names no open descriptor",
				 HANDOVER_FD_ENV, up);
			return -1;
		}
		(void)fcntl(chan, F_SETFD, FD_CLOEXEC);
		r = receive_upgrade(h, chan, why, whysz);
	} else
		r = receive_systemd(h, why, whysz);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r;
}

/* Whether two socket addresses are the same address and port. */
static int
same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return 0;
}

size_t
sl_handover_claim(struct sl_handover *h, const struct sockaddr *ss,
		  const char *name, int *out, size_t max)
{
	size_t k = 0;

	h->misnamed = NULL;
	for (size_t i = 0; i < h->n && k < max; i++) {
		struct sl_given *g = &h->v[i];
		int named = name != NULL && g->name != NULL &&
			    strcmp(name, g->name) == 0;
		if (g->claimed || g->dgram)
			continue;
		if (named && g->sslen > 0 && !same_addr(ss, &g->ss)) {
			/* the socket unit and the file disagree: serving it
			 * would listen where the file does not say */
			h->misnamed = g;
			return 0;
		}
		if (named || (g->sslen > 0 && same_addr(ss, &g->ss))) {
			g->claimed = 1;
			out[k++] = g->fd;
		}
	}
	return k;
}

size_t
sl_handover_claim_dgram(struct sl_handover *h, const struct sockaddr *ss,
			int *out, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < h->n && k < max; i++) {
		struct sl_given *g = &h->v[i];
		if (g->claimed || !g->dgram || g->sslen == 0 ||
		    !same_addr(ss, &g->ss))
			continue;
		g->claimed = 1;
		out[k++] = g->fd;
	}
	return k;
}

void
sl_handover_close_unclaimed(struct sl_handover *h)
{
	for (size_t i = 0; i < h->n; i++) {
		struct sl_given *g = &h->v[i];
		char a[64];
		if (g->claimed || g->fd == -1)
			continue;
		log_info("%s: a socket on %s no listener uses: closed",
			 h->from_systemd ? "socket activation" : "upgrade",
			 g->sslen > 0 ? sl_addr_str((struct sockaddr *)&g->ss,
						    a, sizeof(a))
				      : "?");
		close(g->fd);
		g->fd = -1;
	}
}

static void
handover_on_chan(evutil_socket_t fd, short what, void *arg)
{
	struct sl_handover *h = arg;
	char buf[MSG_MAX];
	size_t nfds, len;
	int fds[FDS_PER_MSG];
	unsigned long k;
	ssize_t n =
	    chan_recv(h->chan, buf, sizeof(buf), fds, SL_NELEM(fds), &nfds, 0);

	if (n > 0 && nfds > 0 && h->on_conns != NULL &&
	    sscanf(buf, "CONNS %lu", &k) == 1 && k == nfds) {
		/* idle connections, given as they are: their workers read
		 * them at once (a request may have come on the way) */
		log_info("upgrade: %zu idle keep-alive connections taken over "
			 "from pid %ld",
			 nfds, h->old_pid);
		h->on_conns(h->arg, fds, nfds);
		return;
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (n == SL_AGAIN)
		return;
	if (n > 0 && sscanf(buf, "COUNTERS %zu", &len) == 1) {
		int broken;
		char *text = chan_recv_counters(
		    h->chan, len, sl_now_ms() + RECEIVE_MS, &broken);
		if (!broken) {
			h->on_counters(h->arg, text);
			return;
		}
		n = -1;
	}
	if (n > 0 && strcmp(buf, "BYE") != 0)
		return; /* nothing else is expected: ignored */
	/* the old process is gone (or said so) */
	event_free(h->ev);
	h->ev = NULL;
	close(h->chan);
	h->chan = -1;
	if (n < 0)
		log_warnx("upgrade: the channel to pid %ld broke: its final "
			  "counters are not known",
			  h->old_pid);
	h->on_counters(h->arg, NULL);
}

int
sl_handover_ready(struct sl_handover *h, struct event_base *base,
		  const char *sha256)
{
	if (h->chan == -1)
		return 0;
	/* "conns": the old process may hand its idle connections over (a
	 * sluice that does not know the word ignores it, and hands none) */
	if (chan_sendf(h->chan, "READY %ld %s %s%s", (long)getpid(),
		       PACKAGE_VERSION, sha256[0] ? sha256 : "-",
		       h->on_conns != NULL ? " conns" : "") == -1) {
		log_warn("upgrade: cannot tell pid %ld that this one serves",
			 h->old_pid);
		close(h->chan);
		h->chan = -1;
		return -1;
	}
	h->ev =
	    event_new(base, h->chan, EV_READ | EV_PERSIST, handover_on_chan, h);
	if (h->ev == NULL || event_add(h->ev, NULL) == -1) {
		close(h->chan);
		h->chan = -1;
		return -1;
	}
	return 0;
}

void
sl_handover_free(struct sl_handover *h)
{
	sl_handover_close_unclaimed(h);
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].name);
	free(h->v);
	if (h->ev != NULL)
		event_free(h->ev);
	if (h->chan != -1)
		close(h->chan);
	free(h->counters);
	memset(h, 0, sizeof(*h));
	h->chan = -1;
}

void
sl_handover_discard(struct sl_handover *h)
{
	/* a start that fails: the sockets are the old process's still */
	for (size_t i = 0; i < h->n; i++) {
		if (h->v[i].fd != -1 && !h->v[i].claimed)
			close(h->v[i].fd);
		h->v[i].fd = -1;
	}
	sl_handover_free(h);
}

/* ---- the process being replaced ---------------------------------------- */

struct sl_upgrade {
	struct event_base *base;
	int chan;
	pid_t pid;
	struct event *ev, *tev;
	void (*done)(void *, const struct sl_upgrade_result *);
	void *arg;
	int over; /* done was called */
	struct sl_upgrade_result r;
};

/* Ends the upgrade with r, killing a new process that did not make it. */
static void
upgrade_end(struct sl_upgrade *u)
{
	if (u->ev != NULL)
		event_del(u->ev);
	event_del(u->tev);
	if (!u->r.ok && u->pid > 0) {
		int st;
		if (waitpid(u->pid, &st, WNOHANG) == 0) {
			kill(u->pid, SIGKILL);
			(void)waitpid(u->pid, &st, 0);
		}
		u->pid = 0;
	}
	u->over = 1;
	u->done(u->arg, &u->r);
}

/* What became of a child that is gone, in r.reason. */
static void
upgrade_child_status(struct sl_upgrade *u)
{
	int st;

	if (u->pid <= 0 || waitpid(u->pid, &st, WNOHANG) != u->pid)
		return;
	u->pid = 0;
	if (WIFEXITED(st))
		snprintf(u->r.reason, sizeof(u->r.reason),
			 "the new process exited with status %d",
			 WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(u->r.reason, sizeof(u->r.reason),
			 "the new process was killed by signal %d",
			 WTERMSIG(st));
}

static void
upgrade_on_chan(evutil_socket_t fd, short what, void *arg)
{
	struct sl_upgrade *u = arg;
	char buf[512], conns[16] = "";
	size_t nfds;
	int extra, k;
	ssize_t n = chan_recv(u->chan, buf, sizeof(buf), &extra, 1, &nfds, 0);

	if (nfds > 0)
		close(extra);
	if (n == SL_AGAIN)
		return;
	if (n > 0 && (k = sscanf(buf, "READY %ld %63s %64s %15s", &u->r.pid,
				 u->r.version, u->r.sha256, conns)) >= 3) {
		u->r.ok = 1;
		u->r.conns = k == 4 && strcmp(conns, "conns") == 0;
		u->r.why = NULL;
		upgrade_end(u);
		return;
	}
	/* the end of the channel before READY: the new process is gone or
	 * going; wait for it a moment to say why */
	u->r.why = "the new process ended before it served";
	for (int i = 0; i < 50 && u->pid > 0; i++) {
		upgrade_child_status(u);
		if (u->pid > 0)
			usleep(20000);
	}
	if (u->r.reason[0] == '\0')
		snprintf(u->r.reason, sizeof(u->r.reason), "%s",
			 n < 0 ? strerror(errno) : "the channel closed");
	upgrade_end(u);
}

static void
upgrade_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sl_upgrade *u = arg;

	u->r.why = "no ready report in time";
	snprintf(u->r.reason, sizeof(u->r.reason),
		 "pid %ld said nothing; killed", (long)u->pid);
	upgrade_end(u);
}

struct sl_upgrade *
sl_upgrade_start(struct event_base *base, const char *exe, char *const argv[],
		 const int *fds, size_t nfds, const char *counters,
		 const uint8_t *qkey, unsigned timeout_ms,
		 void (*done)(void *, const struct sl_upgrade_result *),
		 void *arg, char *why, size_t whysz)
{
	struct sl_upgrade *u = calloc(1, sizeof(*u));
	posix_spawn_file_actions_t fa;
	char env_fd[64];
	char **env = NULL;
	size_t nenv = 0;
	int sv[2] = {-1, -1}, child = -1, rc, err;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

	if (u == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	u->base = base;
	u->chan = -1;
	u->done = done;
	u->arg = arg;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(why, whysz, "socketpair: %s", strerror(errno));
		free(u);
		return NULL;
	}
	/* the child's end, without close-on-exec (a fresh descriptor) */
	if ((child = fcntl(sv[1], F_DUPFD, 10)) == -1) {
		snprintf(why, whysz, "fcntl: %s", strerror(errno));
		goto fail;
	}
	snprintf(env_fd, sizeof(env_fd), HANDOVER_FD_ENV "=%d", child);
	while (environ[nenv] != NULL)
		nenv++;
	if ((env = calloc(nenv + 2, sizeof(*env))) == NULL) {
		snprintf(why, whysz, "out of memory");
		goto fail;
	}
	nenv = 0;
	/* NOTIFY_SOCKET stays: the new process is systemd's main pid once
	 * this one says so (MAINPID=), and must then tell systemd of the next
	 * upgrade and of its stop itself; before that it sends nothing */
	for (size_t i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], HANDOVER_FD_ENV "=",
			    sizeof(HANDOVER_FD_ENV)) != 0 &&
		    strncmp(environ[i], "LISTEN_", 7) != 0)
			env[nenv++] = environ[i];
	env[nenv++] = env_fd;
	env[nenv] = NULL;
	posix_spawn_file_actions_init(&fa);
	rc = posix_spawn(&u->pid, exe, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(child);
	child = -1;
	close(sv[1]);
	sv[1] = -1;
	if (rc != 0) {
		snprintf(why, whysz, "cannot start %s: %s", exe, strerror(rc));
		goto fail;
	}
	u->chan = sv[0];
	/* what the new process is given, all at once: small messages, the
	 * socket buffer takes them without waiting for the reader */
	if (chan_sendf(u->chan, "SLUICE-UPGRADE 1 %ld %s", (long)getpid(),
		       PACKAGE_VERSION) == -1)
		goto sendfail;
	for (size_t off = 0; off < nfds; off += FDS_PER_MSG) {
		size_t k = SL_MIN(FDS_PER_MSG, nfds - off);
		char line[32];
		int len = snprintf(line, sizeof(line), "FDS %zu", k);
		if (chan_send(u->chan, line, (size_t)len, fds + off, k) == -1)
			goto sendfail;
	}
	if (qkey != NULL) {
		char line[8 + 64];
		memcpy(line, "QKEY ", 5);
		for (size_t i = 0; i < 32; i++)
			snprintf(line + 5 + 2 * i, 3, "%02x", qkey[i]);
		if (chan_send(u->chan, line, 5 + 64, NULL, 0) == -1) {
			OPENSSL_cleanse(line, sizeof(line));
			goto sendfail;
		}
		OPENSSL_cleanse(line, sizeof(line));
	}
	if (chan_send_counters(u->chan, counters) == -1 ||
	    chan_sendf(u->chan, "END") == -1)
		goto sendfail;
	u->ev =
	    event_new(base, u->chan, EV_READ | EV_PERSIST, upgrade_on_chan, u);
	u->tev = evtimer_new(base, upgrade_on_timeout, u);
	if (u->ev == NULL || u->tev == NULL || event_add(u->ev, NULL) == -1 ||
	    event_add(u->tev, &tv) == -1) {
		snprintf(why, whysz, "out of memory");
		goto killfail;
	}
	u->r.pid = u->pid;
	return u;
sendfail:
	err = errno;
	snprintf(why, whysz, "the hand-over to pid %ld failed: %s",
		 (long)u->pid, strerror(err));
	/* the new process is gone before it read the sockets (a binary that
	 * exits at once): say how it ended, as when it goes later */
	for (int i = 0; i < 50 && u->pid > 0 && err == EPIPE; i++) {
		upgrade_child_status(u);
		if (u->pid > 0)
			usleep(20000);
	}
	if (u->r.reason[0] != '\0')
		snprintf(why, whysz, "%s before it took the sockets",
			 u->r.reason);
killfail:
	if (u->pid > 0) {
		int st;
		kill(u->pid, SIGKILL);
		(void)waitpid(u->pid, &st, 0);
	}
fail:
	if (u->ev != NULL)
		event_free(u->ev);
	if (u->tev != NULL)
		event_free(u->tev);
	if (child != -1)
		close(child);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	free(u);
	return NULL;
}

void
sl_upgrade_finish(struct sl_upgrade *u, const char *counters)
{
	if (u == NULL)
		return;
	if (u->chan != -1 && (chan_send_counters(u->chan, counters) == -1 ||
			      chan_sendf(u->chan, "BYE") == -1))
		log_warn("upgrade: the final counters did not reach pid %ld",
			 u->r.pid);
	sl_upgrade_free(u);
}

void
sl_upgrade_free(struct sl_upgrade *u)
{
	if (u == NULL)
		return;
	if (u->ev != NULL)
		event_free(u->ev);
	if (u->tev != NULL)
		event_free(u->tev);
	if (u->chan != -1)
		close(u->chan);
	free(u);
}

int
sl_upgrade_conn_chan(const struct sl_upgrade *u)
{
	return u != NULL && u->r.ok && u->r.conns ? u->chan : -1;
}

int
sl_handover_send_conns(int chan, const int *fds, size_t n)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "CONNS %zu", n);

	if (n == 0 || n > SL_HANDOVER_CONNS_MAX) {
		errno = EINVAL;
		return -1;
	}
	/* a worker does not wait: a full channel is tried again later */
	if (chan_send_flags(chan, line, (size_t)len, fds, n, MSG_DONTWAIT) == 0)
		return 0;
	return errno == EAGAIN || errno == EWOULDBLOCK ? SL_AGAIN : -1;
}

/* ---- systemd ------------------------------------------------------------ */

int
sl_sd_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t plen;
	int fd, r;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	plen = strlen(path);
	if (plen >= sizeof(sun.sun_path))
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	r = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
		   len) == (ssize_t)strlen(msg)
		? 0
		: -1;
	close(fd);
	return r;
}
