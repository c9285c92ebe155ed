/* SPDX-License-Identifier: MIT */
/*
 * Who else listens on a listener's address. Every worker binds its own
 * socket with SO_REUSEPORT, and the kernel lets any other process of the
 * same user join that group silently (and take a share of the
 * connections). So after binding, sluice lists the listening TCP sockets
 * of its network namespace and refuses an address that a socket it does
 * not own also listens on; `sluice -t` asks the same before binding, and a
 * bind that fails with EADDRINUSE names the holder. Main thread only;
 * reads the kernel's socket table (sock_diag netlink, else /proc/net/tcp*)
 * and /proc, opens nothing else.
 */
#ifndef SL_PORTCHECK_H
#define SL_PORTCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One listening socket as the kernel lists it. */
struct sl_listen_sock {
	struct sockaddr_storage ss; /* family, address and port */
	int v6only;		    /* AF_INET6: IPV6_V6ONLY is set */
	uint64_t inode;		    /* of the socket, as fstat() gives it */
	uint32_t uid;		    /* owner of the socket, as the kernel
				       reports it */
};

/* A listening socket of another process, and who holds it. */
struct sl_port_holder {
	uint64_t inode; /* of the socket */
	uint32_t uid;	/* owner of the socket (sock_diag, /proc/net/tcp) */
	long pid;	/* a process holding it; 0 when /proc does not show
			   one (another user's descriptors) */
	char comm[32];	/* that process's name; "" when pid is 0 */
};

/*
 * Whether a socket listening on b shares connections or a port with one
 * that listens on a: same family (or a dual-stack IPv6 wildcard and an
 * IPv4 address), same port, and the same address or either a wildcard.
 * Pure.
 */
int sl_portcheck_overlap(const struct sockaddr_storage *a,
			 const struct sl_listen_sock *b);

/*
 * The IPv4 address that a dual-stack (not IPV6_V6ONLY) IPv6 socket bound to
 * a also takes: 0.0.0.0 for ::, a.b.c.d for ::ffff:a.b.c.d, same port.
 * The admin listener's socket is dual-stack. Returns 1 and fills *v4, or
 * 0 when a is not such an address. Pure.
 */
int sl_portcheck_v4_alias(const struct sockaddr_storage *a,
			  struct sockaddr_storage *v4);

/*
 * Parses one line of /proc/net/tcp or /proc/net/tcp6 (family AF_INET or
 * AF_INET6) into *out. Returns 1 for a socket in LISTEN state, 0 for any
 * other line (header, other states), -1 when the line is malformed. Pure.
 */
int sl_portcheck_parse_proc(const char *line, int family,
			    struct sl_listen_sock *out);

/*
 * Lists the listening sockets that overlap ss (see above) and are none of
 * own[0..nown) (descriptors of this process), at most max of them into
 * h[0..max), each with a process that holds it when /proc shows one.
 * Returns how many were stored (0: none), or -1 when the socket table
 * cannot be read (then nothing is known).
 */
int sl_portcheck_holders(const struct sockaddr_storage *ss, const int *own,
			 size_t nown, struct sl_port_holder *h, size_t max);

/*
 * Writes who holds h into out (outsz bytes): "pid N (comm)", or "a
 * process this user cannot see (uid N)". Pure.
 */
void sl_portcheck_describe(const struct sl_port_holder *h, char *out,
			   size_t outsz);

/*
 * The same as sl_portcheck_holders for the first holder only, described
 * into who (whosz bytes). Returns 1 when there is one, 0 when there is
 * none, -1 when the socket table cannot be read.
 */
int sl_portcheck_foreign(const struct sockaddr_storage *ss, const int *own,
			 size_t nown, char *who, size_t whosz);

/*
 * The configuration file a sluice started with the command line
 * cmdline[0..len) (NUL-separated arguments, as /proc/PID/cmdline holds
 * them) reads: the last -c argument, or default_conf without one. Returns
 * a pointer into cmdline or default_conf, or NULL when that command line
 * does not run a server (-t, -V, -h, an unknown option, a missing
 * argument, an operand). Pure.
 */
const char *sl_portcheck_cmdline_conf(const char *cmdline, size_t len,
				      const char *default_conf);

/*
 * The name of process pid (/proc/PID/comm) into comm (commsz bytes).
 * Returns 0, or -1 when /proc does not show it.
 */
int sl_portcheck_comm(long pid, char *comm, size_t commsz);

/*
 * Whether process pid runs sluice: its name is "sluice", or it runs the
 * same executable file as this process. Returns 1 or 0.
 */
int sl_portcheck_is_sluice(long pid);

/*
 * Whether process pid is a sluice serving the configuration file whose
 * real path (realpath(3)) is conf_real, default_conf being the file a
 * sluice reads without -c. A relative -c is taken from that process's
 * working directory. Returns 1 or 0 (also when /proc does not tell).
 */
int sl_portcheck_serves(long pid, const char *conf_real,
			const char *default_conf);

#endif
