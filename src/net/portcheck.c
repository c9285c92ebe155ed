/* SPDX-License-Identifier: MIT */
/*
 * Finds listening sockets of other processes on a listener's address, and
 * who holds them. The kernel's table comes from sock_diag netlink (only
 * sockets in LISTEN, as ss(8) asks for them), or from /proc/net/tcp and
 * tcp6 when netlink is not available; the holder from /proc/PID/fd. An
 * http3 listener's UDP port is looked up the same way in the UDP tables,
 * where every bound socket holds the port (UDP has no LISTEN state). When
 * a bind fails and no listener explains it, the connections on the port
 * (/proc/net/tcp*, every state) do. Runs on the main thread at start-up,
 * for `sluice -t`, when a bind fails and when a reload opens a new
 * address, never on the request path.
 */
#include "portcheck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define TCP_ST_LISTEN	 10 /* the kernel's TCP_LISTEN */
#define TCP_ST_TIME_WAIT 6  /* the kernel's TCP_TIME_WAIT */
#define MAX_CONN_HOLDERS 8  /* connections stored to name one */

/* ---- pure helpers ------------------------------------------------------ */

static uint16_t
ss_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_port;
	return ((const struct sockaddr_in6 *)ss)->sin6_port;
}

static int
ss_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int
sl_portcheck_overlap(const struct sockaddr_storage *a,
		     const struct sl_listen_sock *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)&b->ss;

	if (ss_port(a) != ss_port(&b->ss))
		return 0;
	if (a->ss_family == b->ss.ss_family) {
		if (ss_any(a) || ss_any(&b->ss))
			return 1;
		if (a->ss_family == AF_INET)
			return a4->sin_addr.s_addr ==
			       ((const struct sockaddr_in *)&b->ss)
				   ->sin_addr.s_addr;
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &b6->sin6_addr, sizeof(struct in6_addr)) == 0;
	}
	/* sluice's own IPv6 listeners are IPV6_V6ONLY, so only an IPv4
	 * address can meet a socket of the other family: a dual-stack IPv6
	 * one on the wildcard or on the mapped form of that address */
	if (a->ss_family != AF_INET || b->ss.ss_family != AF_INET6 || b->v6only)
		return 0;
	if (ss_any(&b->ss))
		return 1;
	if (!IN6_IS_ADDR_V4MAPPED(&b6->sin6_addr))
		return 0;
	return ss_any(a) ||
	       memcmp(&b6->sin6_addr.s6_addr[12], &a4->sin_addr, 4) == 0;
}

int
sl_portcheck_v4_alias(const struct sockaddr_storage *a,
		      struct sockaddr_storage *v4)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	struct sockaddr_in *sin = (struct sockaddr_in *)v4;

	if (a->ss_family != AF_INET6 ||
	    !(ss_any(a) || IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)))
		return 0;
	memset(v4, 0, sizeof(*v4));
	sin->sin_family = AF_INET;
	sin->sin_port = a6->sin6_port;
	if (!ss_any(a))
		memcpy(&sin->sin_addr, &a6->sin6_addr.s6_addr[12], 4);
	return 1;
}

/* One address of a /proc/net/tcp* line, hex (each 32-bit word as a
 * host-order integer) and port, into ss. Returns 0, or -1 when hex is
 * not of family's length. */
static int
proc_addr(const char *hex, unsigned port, int family,
	  struct sockaddr_storage *ss)
{
	size_t n = strlen(hex);

	memset(ss, 0, sizeof(*ss));
	/* read back the way the kernel printed them, the bytes come out as
	 * they were */
	if (family == AF_INET && n == 8) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		uint32_t w = (uint32_t)strtoul(hex, NULL, 16);
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, &w, 4);
		return 0;
	}
	if (family == AF_INET6 && n == 32) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		for (int i = 0; i < 4; i++) {
			char word[9];
			uint32_t w;
			memcpy(word, hex + i * 8, 8);
			word[8] = '\0';
			w = (uint32_t)strtoul(word, NULL, 16);
			memcpy(&sin6->sin6_addr.s6_addr[i * 4], &w, 4);
		}
		return 0;
	}
	return -1;
}

int
sl_portcheck_parse_tcp(const char *line, int family, struct sl_tcp_sock *out)
{
	char laddr[40], raddr[40];
	unsigned lport, rport, st, uid;
	unsigned long long inode;

	/* "  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000
	 * 00000000  1000  0 123456 ..." (the header line does not scan) */
	if (sscanf(line,
		   " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x "
		   "%*x:%*x %*x:%*x %*x %u %*u %llu",
		   laddr, &lport, raddr, &rport, &st, &uid, &inode) != 7)
		return strchr(line, ':') != NULL &&
			       strstr(line, "local_address") == NULL
			   ? -1
			   : 0;
	memset(out, 0, sizeof(*out));
	out->state = (int)st;
	out->uid = uid;
	out->inode = inode;
	if (proc_addr(laddr, lport, family, &out->local) == -1 ||
	    proc_addr(raddr, rport, family, &out->remote) == -1)
		return -1;
	return 1;
}

int
sl_portcheck_parse_udp(const char *line, int family, struct sl_listen_sock *out)
{
	struct sl_tcp_sock t;
	int r;

	/* the same columns as /proc/net/tcp; the state is 07 (CLOSE) for
	 * a bound socket and 01 (ESTABLISHED) for a connected one: either
	 * holds its port, so the state says nothing here */
	if ((r = sl_portcheck_parse_tcp(line, family, &t)) != 1)
		return r;
	if (ss_port(&t.local) == 0)
		return 0; /* not bound to any port */
	memset(out, 0, sizeof(*out));
	out->ss = t.local;
	out->inode = t.inode;
	out->uid = t.uid;
	out->v6only = 0; /* not in /proc: as for TCP, err towards refusing */
	return 1;
}

int
sl_portcheck_parse_proc(const char *line, int family,
			struct sl_listen_sock *out)
{
	struct sl_tcp_sock t;
	int r = sl_portcheck_parse_tcp(line, family, &t);

	if (r != 1)
		return r;
	if (t.state != TCP_ST_LISTEN)
		return 0;
	memset(out, 0, sizeof(*out));
	out->ss = t.local;
	out->inode = t.inode;
	out->uid = t.uid;
	/* not in /proc: an IPv6 socket is taken as dual-stack, which errs
	 * towards refusing a shared port */
	out->v6only = 0;
	return 1;
}

const char *
sl_portcheck_state_str(int state)
{
	/* include/net/tcp_states.h */
	static const char *const names[] = {
	    "?",	   "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
	    "FIN_WAIT1",   "FIN_WAIT2",	  "TIME_WAIT", "CLOSE",
	    "CLOSE_WAIT",  "LAST_ACK",	  "LISTEN",    "CLOSING",
	    "NEW_SYN_RECV"};

	if (state < 1 || (size_t)state >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[state];
}

int
sl_portcheck_ephemeral(const char *range, const char *reserved, unsigned port,
		       unsigned *lo, unsigned *hi)
{
	unsigned a, b;
	const char *p = reserved;

	if (range == NULL || sscanf(range, "%u %u", &a, &b) != 2 || a > b ||
	    port < a || port > b)
		return 0;
	/* "8080,9000-9010": a reserved port is never given out */
	while (p != NULL && *p != '\0') {
		unsigned long x, y;
		char *end;

		while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p < '0' || *p > '9')
			break;
		x = y = strtoul(p, &end, 10);
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				break;
			y = strtoul(p, &end, 10);
		}
		if (port >= x && port <= y)
			return 0;
		p = end;
	}
	*lo = a;
	*hi = b;
	return 1;
}

/* ---- reading the kernel's table ---------------------------------------- */

struct search {
	const struct sockaddr_storage *ss;
	const uint64_t *own; /* inodes of our own sockets */
	size_t nown;
	struct sl_port_holder *found; /* [0..n) of max */
	size_t n, max;
};

static void
search_one(struct search *s, const struct sl_listen_sock *ls)
{
	struct sl_port_holder *h;

	if (s->n == s->max || !sl_portcheck_overlap(s->ss, ls))
		return;
	for (size_t i = 0; i < s->nown; i++)
		if (s->own[i] == ls->inode)
			return;
	h = &s->found[s->n++];
	memset(h, 0, sizeof(*h));
	h->inode = ls->inode;
	h->uid = ls->uid;
}

/* Walks the sockets of one family and protocol through sock_diag: TCP's
 * listening ones, or every UDP socket (a bound one is in CLOSE, a
 * connected one in ESTABLISHED, and both hold their port). Returns 0, or
 * -1 when netlink cannot answer. */
static int
diag_walk(int family, int protocol, struct search *s)
{
	struct sockaddr_nl nladdr = {.nl_family = AF_NETLINK};
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	long buf[8192 / sizeof(long)];
	int fd, done = 0, ret = -1;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd == -1)
		return -1;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = (uint8_t)family;
	req.r.sdiag_protocol = (uint8_t)protocol;
	req.r.idiag_states =
	    protocol == IPPROTO_UDP ? 0xffffffffU : 1U << TCP_ST_LISTEN;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nladdr,
		   sizeof(nladdr)) != (ssize_t)sizeof(req))
		goto out;
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *m;
			struct sl_listen_sock ls;
			struct rtattr *a;
			size_t alen;

			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				goto out;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			m = NLMSG_DATA(h);
			memset(&ls, 0, sizeof(ls));
			ls.inode = m->idiag_inode;
			ls.uid = m->idiag_uid;
			if (m->idiag_family == AF_INET) {
				struct sockaddr_in *sin =
				    (struct sockaddr_in *)&ls.ss;
				sin->sin_family = AF_INET;
				sin->sin_port = m->id.idiag_sport;
				memcpy(&sin->sin_addr, m->id.idiag_src, 4);
			} else if (m->idiag_family == AF_INET6) {
				struct sockaddr_in6 *sin6 =
				    (struct sockaddr_in6 *)&ls.ss;
				sin6->sin6_family = AF_INET6;
				sin6->sin6_port = m->id.idiag_sport;
				memcpy(&sin6->sin6_addr, m->id.idiag_src, 16);
			} else
				continue;
			if (ss_port(&ls.ss) == 0)
				continue; /* a UDP socket bound to no port */
			/* the kernel adds INET_DIAG_SKV6ONLY for every IPv6
			 * socket */
			a = (struct rtattr *)(m + 1);
			alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == INET_DIAG_SKV6ONLY &&
				    RTA_PAYLOAD(a) >= 1)
					ls.v6only = *(uint8_t *)RTA_DATA(a);
			search_one(s, &ls);
		}
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* The same from /proc/net/tcp, tcp6, udp or udp6. Returns 0 or -1. */
static int
proc_walk(int family, int protocol, struct search *s)
{
	const char *path;
	struct sl_listen_sock ls;
	char line[512];
	FILE *f;

	if (protocol == IPPROTO_UDP)
		path = family == AF_INET ? "/proc/net/udp" : "/proc/net/udp6";
	else
		path = family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6";
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT && family == AF_INET6 ? 0 : -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if ((protocol == IPPROTO_UDP
			 ? sl_portcheck_parse_udp(line, family, &ls)
			 : sl_portcheck_parse_proc(line, family, &ls)) == 1)
			search_one(s, &ls);
	fclose(f);
	return 0;
}

/* Reads the short text file path into buf (bufsz bytes), NUL-terminated.
 * Returns the bytes read, or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t bufsz)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, bufsz - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Reads /proc/PID/NAME (a short text file) into buf, without its
 * newline. Returns its length, or -1. */
static ssize_t
proc_read(long pid, const char *name, char *buf, size_t bufsz)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, name);
	if ((n = read_small(path, buf, bufsz)) < 0)
		return -1;
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return n;
}

/* Fills in pid and comm of each of h[0..n) that a process of /proc holds
 * (another user's descriptors need privileges to be read); this process
 * only with self (its listeners are told apart by their descriptors, its
 * connections are not). One walk over /proc for them all. */
static void
find_owners(struct sl_port_holder *h, size_t n, int self)
{
	char path[300], link[64];
	struct dirent *pe, *fe;
	size_t left = 0;
	DIR *pd, *fd;

	for (size_t i = 0; i < n; i++)
		left += h[i].inode != 0;
	if (left == 0 || (pd = opendir("/proc")) == NULL)
		return;
	while (left > 0 && (pe = readdir(pd)) != NULL) {
		long pid;

		if (pe->d_name[0] < '1' || pe->d_name[0] > '9' ||
		    ((pid = atol(pe->d_name)) == (long)getpid() && !self))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		if ((fd = opendir(path)) == NULL)
			continue;
		while (left > 0 && (fe = readdir(fd)) != NULL) {
			unsigned long long ino;
			ssize_t k = readlinkat(dirfd(fd), fe->d_name, link,
					       sizeof(link) - 1);

			if (k <= 0)
				continue;
			link[k] = '\0';
			if (sscanf(link, "socket:[%llu]", &ino) != 1)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (h[i].pid != 0 || h[i].inode != ino)
					continue;
				h[i].pid = pid;
				if (proc_read(pid, "comm", h[i].comm,
					      sizeof(h[i].comm)) <= 0)
					snprintf(h[i].comm, sizeof(h[i].comm),
						 "?");
				left--;
			}
		}
		closedir(fd);
	}
	closedir(pd);
}

/* sl_portcheck_holders and sl_portcheck_udp_holders for protocol; self:
 * whether a socket of this process not among own is named (as this
 * process) or left as one nobody shows. */
static int
holders(int protocol, int self, const struct sockaddr_storage *ss,
	const int *own, size_t nown, struct sl_port_holder *h, size_t max)
{
	struct search s = {.ss = ss, .found = h, .max = max};
	uint64_t *inodes;
	int r = 0;

	if ((inodes = calloc(nown + 1, sizeof(*inodes))) == NULL)
		return -1;
	for (size_t i = 0; i < nown; i++) {
		struct stat st;
		if (own[i] >= 0 && fstat(own[i], &st) == 0)
			inodes[s.nown++] = (uint64_t)st.st_ino;
	}
	s.own = inodes;
	/* an IPv4 address can also meet a dual-stack IPv6 socket */
	if (ss->ss_family == AF_INET)
		r = diag_walk(AF_INET, protocol, &s) == 0 &&
			    diag_walk(AF_INET6, protocol, &s) == 0
			? 0
			: -1;
	else
		r = diag_walk(AF_INET6, protocol, &s);
	if (r == -1) {
		s.n = 0;
		r = (ss->ss_family != AF_INET ||
		     proc_walk(AF_INET, protocol, &s) == 0) &&
			    proc_walk(AF_INET6, protocol, &s) == 0
			? 0
			: -1;
	}
	free(inodes);
	if (r == -1)
		return -1;
	find_owners(h, s.n, self);
	return (int)s.n;
}

int
sl_portcheck_holders(const struct sockaddr_storage *ss, const int *own,
		     size_t nown, struct sl_port_holder *h, size_t max)
{
	return holders(IPPROTO_TCP, 0, ss, own, nown, h, max);
}

int
sl_portcheck_udp_holders(const struct sockaddr_storage *ss, const int *own,
			 size_t nown, struct sl_port_holder *h, size_t max)
{
	/* this process too: a UDP socket of its own that is not among own
	 * (a TCP listener's never is: issue 77 blamed one, unnamed, for a
	 * UDP port another process held) is still named for what it is */
	return holders(IPPROTO_UDP, 1, ss, own, nown, h, max);
}

void
sl_portcheck_describe(const struct sl_port_holder *h, char *out, size_t outsz)
{
	if (h->pid > 0)
		snprintf(out, outsz, "pid %ld (%s)", h->pid,
			 h->comm[0] ? h->comm : "?");
	else
		snprintf(out, outsz, "a process this user cannot see (uid %u)",
			 (unsigned)h->uid);
}

int
sl_portcheck_foreign(const struct sockaddr_storage *ss, const int *own,
		     size_t nown, char *who, size_t whosz)
{
	struct sl_port_holder h[8];
	int n = sl_portcheck_holders(ss, own, nown, h, 8);

	if (n <= 0)
		return n;
	/* one that can be named, if any */
	for (int i = 0; i < n; i++)
		if (h[i].pid > 0) {
			sl_portcheck_describe(&h[i], who, whosz);
			return 1;
		}
	sl_portcheck_describe(&h[0], who, whosz);
	return 1;
}

/* ---- connections on a port --------------------------------------------- */

int
sl_portcheck_connections(const struct sockaddr_storage *ss,
			 struct sl_conn_holder *h, size_t max)
{
	static const int families[] = {AF_INET, AF_INET6};
	struct sl_port_holder *who;
	int total = 0, read_any = 0;
	size_t n = 0;
	char line[512];

	for (size_t k = 0; k < 2; k++) {
		int family = families[k];
		struct sl_tcp_sock t;
		FILE *f;

		/* an IPv6 listener is V6ONLY: IPv4 sockets do not meet it */
		if (ss->ss_family == AF_INET6 && family == AF_INET)
			continue;
		f = fopen(family == AF_INET ? "/proc/net/tcp"
					    : "/proc/net/tcp6",
			  "re");
		if (f == NULL)
			continue;
		read_any = 1;
		while (fgets(line, sizeof(line), f) != NULL) {
			struct sl_listen_sock ls;

			if (sl_portcheck_parse_tcp(line, family, &t) != 1 ||
			    t.state == TCP_ST_LISTEN)
				continue;
			/* a connection's local address is never a wildcard:
			 * the test of two listeners serves */
			memset(&ls, 0, sizeof(ls));
			ls.ss = t.local;
			if (!sl_portcheck_overlap(ss, &ls))
				continue;
			total++;
			if (n < max) {
				memset(&h[n], 0, sizeof(h[n]));
				h[n++].sock = t;
			}
		}
		fclose(f);
	}
	if (!read_any)
		return -1;
	if (n > 0 && (who = calloc(n, sizeof(*who))) != NULL) {
		for (size_t i = 0; i < n; i++)
			who[i].inode = h[i].sock.inode; /* 0: no process */
		find_owners(who, n, 1);
		for (size_t i = 0; i < n; i++) {
			h[i].pid = who[i].pid;
			memcpy(h[i].comm, who[i].comm, sizeof(h[i].comm));
		}
		free(who);
	}
	return total;
}

void
sl_portcheck_describe_conn(const struct sl_conn_holder *h, char *out,
			   size_t outsz)
{
	const char *st = sl_portcheck_state_str(h->sock.state);
	char peer[INET6_ADDRSTRLEN + 8];

	sl_addr_str((const struct sockaddr *)&h->sock.remote, peer,
		    sizeof(peer));
	if (h->pid > 0)
		snprintf(out, outsz,
			 "a connection (state %s, to %s) owned by pid %ld (%s)",
			 st, peer, h->pid, h->comm[0] ? h->comm : "?");
	else if (h->sock.inode == 0 && h->sock.state == TCP_ST_TIME_WAIT)
		snprintf(out, outsz,
			 "a connection (state %s, to %s) that no process "
			 "owns (the kernel keeps it 60 s after its close)",
			 st, peer);
	else if (h->sock.inode == 0)
		snprintf(out, outsz,
			 "a connection (state %s, to %s) that no process "
			 "owns (closed; the kernel ends it on its own)",
			 st, peer);
	else
		snprintf(out, outsz,
			 "a connection (state %s, to %s) owned by a process "
			 "this user cannot see (uid %u)",
			 st, peer, (unsigned)h->sock.uid);
}

/* Appends to out (outsz bytes, holding a message) a hint when port is one
 * the kernel gives outgoing connections and UDP client sockets: a
 * listener's port there can be taken by any of them, at any time. */
static void
ephemeral_hint(unsigned port, char *out, size_t outsz)
{
	char range[64], reserved[1024];
	size_t len = strlen(out);
	unsigned lo, hi;

	if (read_small("/proc/sys/net/ipv4/ip_local_reserved_ports", reserved,
		       sizeof(reserved)) == -1)
		reserved[0] = '\0';
	if (read_small("/proc/sys/net/ipv4/ip_local_port_range", range,
		       sizeof(range)) > 0 &&
	    sl_portcheck_ephemeral(range, reserved, port, &lo, &hi))
		snprintf(out + len, outsz - len,
			 "; port %u is in the kernel's range of local ports "
			 "for outgoing connections, %u-%u "
			 "(net.ipv4.ip_local_port_range): choose a port "
			 "outside it, or reserve it in "
			 "net.ipv4.ip_local_reserved_ports",
			 port, lo, hi);
}

const char *
sl_portcheck_in_use(const struct sockaddr_storage *ss, const int *own,
		    size_t nown, char *out, size_t outsz)
{
	struct sl_conn_holder h[MAX_CONN_HOLDERS];
	const struct sl_conn_holder *c;
	struct sockaddr_storage v4;
	char who[256];
	unsigned port = ntohs(ss_port(ss));
	int alias = sl_portcheck_v4_alias(ss, &v4), n;

	/* a dual-stack socket (the admin's) on [::] also needs 0.0.0.0 */
	if (sl_portcheck_foreign(ss, own, nown, who, sizeof(who)) == 1 ||
	    (alias &&
	     sl_portcheck_foreign(&v4, own, nown, who, sizeof(who)) == 1)) {
		snprintf(out, outsz, "address already in use by %s", who);
		return out;
	}
	/* no listener: a connection on the port blocks the bind (one that
	 * is not of a listener's, whose accepted sockets let a listener
	 * bind beside them) */
	n = sl_portcheck_connections(ss, h, MAX_CONN_HOLDERS);
	if (n == 0 && alias)
		n = sl_portcheck_connections(&v4, h, MAX_CONN_HOLDERS);
	if (n > 0) {
		c = &h[0];
		for (int i = 0; i < n && i < MAX_CONN_HOLDERS; i++)
			if (h[i].pid > 0) {
				c = &h[i]; /* one that can be named */
				break;
			}
		sl_portcheck_describe_conn(c, who, sizeof(who));
		if (n > 1)
			snprintf(out, outsz,
				 "address already in use by %s, and %d more "
				 "%s on the port",
				 who, n - 1,
				 n - 1 == 1 ? "connection" : "connections");
		else
			snprintf(out, outsz, "address already in use by %s",
				 who);
	} else if (n == 0)
		snprintf(out, outsz,
			 "address already in use, though no listening socket "
			 "or connection on port %u shows in the kernel's "
			 "tables (a socket bound there that neither listens "
			 "nor is connected does not show)",
			 port);
	else
		snprintf(out, outsz,
			 "address already in use (the kernel's tables of "
			 "sockets cannot be read)");
	ephemeral_hint(port, out, outsz);
	return out;
}

const char *
sl_portcheck_udp_in_use(const struct sockaddr_storage *ss, const int *own,
			size_t nown, char *out, size_t outsz)
{
	struct sl_port_holder h[8];
	int n = sl_portcheck_udp_holders(ss, own, nown, h, 8);
	char who[128];

	if (n > 0) {
		const struct sl_port_holder *c = &h[0];
		for (int i = 0; i < n; i++)
			if (h[i].pid > 0) {
				c = &h[i]; /* one that can be named */
				break;
			}
		sl_portcheck_describe(c, who, sizeof(who));
		snprintf(out, outsz, "address already in use by %s", who);
	} else if (n == 0)
		snprintf(out, outsz,
			 "address already in use, though no UDP socket on "
			 "port %u shows in the kernel's tables",
			 (unsigned)ntohs(ss_port(ss)));
	else
		snprintf(out, outsz,
			 "address already in use (the kernel's tables of "
			 "sockets cannot be read)");
	/* a UDP client socket takes its port from the same range */
	ephemeral_hint(ntohs(ss_port(ss)), out, outsz);
	return out;
}

int
sl_portcheck_probe(const struct sockaddr_storage *ss, int reuseport, int v6only)
{
	socklen_t len = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						 : sizeof(struct sockaddr_in6);
	int fd, on = 1, r, saved;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* the options of the socket that will bind there (listener.c,
	 * admin.c): the kernel's answer depends on them */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (reuseport)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	if (v6only && ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
				 sizeof(on));
	r = bind(fd, (const struct sockaddr *)ss, len);
	saved = errno;
	close(fd);
	errno = saved;
	return r == -1 ? -1 : 0;
}

/* ---- is it a sluice, and which file does it serve ------------------------ */

/* The length of the argument at a, or -1 when it does not end (with a
 * NUL) before end: a command line cut short. */
static ssize_t
arg_len(const char *a, const char *end)
{
	size_t n = strnlen(a, (size_t)(end - a));

	return a + n < end ? (ssize_t)n : -1;
}

const char *
sl_portcheck_cmdline_conf(const char *cmdline, size_t len,
			  const char *default_conf)
{
	const char *conf = default_conf, *end = cmdline + len, *a, *next;
	ssize_t n;

	/* skip argv[0]; then sluice's getopt("c:p:tVh") */
	if (len == 0 || (n = arg_len(cmdline, end)) == -1)
		return NULL;
	for (a = cmdline + n + 1; a < end; a = next) {
		if ((n = arg_len(a, end)) == -1)
			return NULL;
		next = a + n + 1;
		if (strcmp(a, "--") == 0) {
			/* nothing may follow: sluice takes no operand */
			return next < end ? NULL : conf;
		}
		if (a[0] != '-' || a[1] == '\0')
			return NULL; /* an operand: sluice refuses it */
		for (const char *o = a + 1; *o != '\0'; o++) {
			const char *val = o + 1;

			if (*o != 'c' && *o != 'p')
				return NULL; /* -t, -V, -h, unknown: no server
					      */
			if (*val == '\0') {
				/* the value is the next argument */
				if (next >= end ||
				    (n = arg_len(next, end)) == -1)
					return NULL;
				val = next;
				next += n + 1;
			}
			if (*o == 'c')
				conf = val;
			break;
		}
	}
	return conf;
}

/* Whether /proc/PID/exe is the same file as this process's executable. */
static int
same_exe(long pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
	return stat(path, &a) == 0 && stat("/proc/self/exe", &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int
sl_portcheck_comm(long pid, char *comm, size_t commsz)
{
	return proc_read(pid, "comm", comm, commsz) > 0 ? 0 : -1;
}

int
sl_portcheck_is_sluice(long pid)
{
	char comm[32];

	return (proc_read(pid, "comm", comm, sizeof(comm)) > 0 &&
		strcmp(comm, "sluice") == 0) ||
	       same_exe(pid);
}

int
sl_portcheck_pid_sockets(long pid, uint64_t **inodes, size_t *n)
{
	char path[64], link[64];
	struct dirent *fe;
	uint64_t *v = NULL;
	size_t cap = 0;
	DIR *d;

	*inodes = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((fe = readdir(d)) != NULL) {
		unsigned long long ino;
		ssize_t k =
		    readlinkat(dirfd(d), fe->d_name, link, sizeof(link) - 1);

		if (k <= 0)
			continue;
		link[k] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		if (*n == cap) {
			size_t ncap = cap != 0 ? 2 * cap : 64;
			uint64_t *nv = realloc(v, ncap * sizeof(*nv));
			if (nv == NULL) {
				free(v);
				closedir(d);
				*n = 0;
				return -1;
			}
			v = nv;
			cap = ncap;
		}
		v[(*n)++] = ino;
	}
	closedir(d);
	*inodes = v;
	return 0;
}

int
sl_portcheck_serves(long pid, const char *conf_real, const char *default_conf)
{
	char path[64], *cmdline, *real, *full = NULL;
	const char *conf;
	size_t cap = 65536;
	ssize_t n;
	int fd, r = 0;

	if (pid <= 0 || !sl_portcheck_is_sluice(pid))
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((cmdline = malloc(cap)) == NULL)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		free(cmdline);
		return 0;
	}
	n = read(fd, cmdline, cap - 1);
	close(fd);
	if (n > 0)
		cmdline[n] = '\0';
	if (n > 0 && (conf = sl_portcheck_cmdline_conf(cmdline, (size_t)n,
						       default_conf)) != NULL) {
		/* a relative path is relative to that process's working
		 * directory, which the kernel resolves for us */
		if (conf[0] != '/') {
			size_t sz = strlen(conf) + 64;
			if ((full = malloc(sz)) != NULL)
				snprintf(full, sz, "/proc/%ld/cwd/%s", pid,
					 conf);
			conf = full;
		}
		if (conf != NULL && (real = realpath(conf, NULL)) != NULL) {
			r = strcmp(real, conf_real) == 0;
			free(real);
		}
	}
	free(full);
	free(cmdline);
	return r;
}
