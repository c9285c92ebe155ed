/* SPDX-License-Identifier: MIT */
/*
 * Who else listens on a listener's address. Every worker binds its own
 * socket with SO_REUSEPORT, and the kernel lets any other process of the
 * same user join that group silently (and take a share of the
 * connections). So after binding, sluice lists the listening TCP sockets
 * of its network namespace and refuses an address that a socket it does
 * not own also listens on; `sluice -t` asks the same before binding, and a
 * bind that fails with EADDRINUSE names the holder: a listener, or else a
 * connection on that port (an outgoing one may take any port of the
 * kernel's ephemeral range). An http3 listener's UDP port is asked the
 * same of the UDP tables. Main thread only; reads the kernel's socket
 * tables (sock_diag netlink, else /proc/net/tcp* and udp*) and /proc, and
 * opens nothing else but the probe's unlistened socket
 * (sl_portcheck_probe).
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
 * Parses one line of /proc/net/udp or /proc/net/udp6 (family AF_INET or
 * AF_INET6) into *out. UDP has no LISTEN state: a bound socket is in 07
 * (CLOSE), a connected one in 01 (ESTABLISHED), and both hold their port.
 * Returns 1 for a socket bound to a port, whatever its state, 0 for the
 * header line or a socket on no port, -1 when the line is malformed.
 * Pure.
 */
int sl_portcheck_parse_udp(const char *line, int family,
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
 * The same as sl_portcheck_holders for UDP (an http3 listener's port):
 * every UDP socket bound on an address that overlaps ss, whatever its
 * state, other than own[0..nown). A socket of this process that is not
 * among own is named as this process's.
 */
int sl_portcheck_udp_holders(const struct sockaddr_storage *ss, const int *own,
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

/* One TCP socket in any state, as /proc/net/tcp or tcp6 lists it. */
struct sl_tcp_sock {
	struct sockaddr_storage local;	/* family, address and port */
	struct sockaddr_storage remote; /* the peer's; zero for a listener */
	int state;			/* the kernel's TCP_* number
					   (1 ESTABLISHED .. 12) */
	uint64_t inode;			/* of the socket; 0 when no process
					   holds it (TIME_WAIT) */
	uint32_t uid;			/* owner of the socket */
};

/*
 * Parses one line of /proc/net/tcp or /proc/net/tcp6 (family AF_INET or
 * AF_INET6) into *out, whatever the socket's state. Returns 1 for a
 * socket, 0 for the header line, -1 when the line is malformed. Pure.
 */
int sl_portcheck_parse_tcp(const char *line, int family,
			   struct sl_tcp_sock *out);

/* The name of the kernel's TCP state number ("ESTABLISHED", "TIME_WAIT",
 * ...; "?" for none it has). Pure. */
const char *sl_portcheck_state_str(int state);

/* A socket that is no listener (a connection, in any state) on an
 * address, and who holds it. */
struct sl_conn_holder {
	struct sl_tcp_sock sock;
	long pid;      /* a process holding it; 0 when none is seen */
	char comm[32]; /* that process's name; "" when pid is 0 */
};

/*
 * Lists the sockets other than listeners whose local address overlaps ss
 * (its port, and its address or a wildcard), at most max of them into
 * h[0..max), each with a process that holds it when /proc shows one
 * (this process's own included). Reads /proc/net/tcp and tcp6. Returns
 * how many there are (more than max when some were not stored), or -1
 * when neither table can be read.
 */
int sl_portcheck_connections(const struct sockaddr_storage *ss,
			     struct sl_conn_holder *h, size_t max);

/*
 * Writes what h is into out (outsz bytes): "a connection (state
 * ESTABLISHED, to 127.0.0.1:8080) of pid N (comm)", "... held by a
 * process this user cannot see (uid N)", or, for a socket no process
 * holds (TIME_WAIT), "... that no process owns (...)". Pure.
 */
void sl_portcheck_describe_conn(const struct sl_conn_holder *h, char *out,
				size_t outsz);

/*
 * Whether port is among the local ports the kernel gives outgoing
 * connections: inside range (the text of
 * /proc/sys/net/ipv4/ip_local_port_range, "32768 60999") and not in
 * reserved (that of ip_local_reserved_ports, "8080,9000-9010", may be
 * NULL or empty). Returns 1 with the range in *lo and *hi, or 0 (also
 * when range does not parse). Pure.
 */
int sl_portcheck_ephemeral(const char *range, const char *reserved,
			   unsigned port, unsigned *lo, unsigned *hi);

/*
 * Why binding ss failed with EADDRINUSE, in words for an error line, into
 * out (outsz bytes): "address already in use by pid N (comm)" for a
 * listening socket of another process (own[0..nown) are this process's
 * listening sockets), else "address already in use by a connection
 * (...)" for one that is no listener, else that none shows in the
 * kernel's tables; the last two followed by a hint when the port is one
 * the kernel gives outgoing connections (sl_portcheck_ephemeral). An
 * IPv6 wildcard or v4-mapped ss is also looked up as its IPv4 address
 * (a dual-stack socket, the admin's, takes both). Returns out.
 */
const char *sl_portcheck_in_use(const struct sockaddr_storage *ss,
				const int *own, size_t nown, char *out,
				size_t outsz);

/*
 * Why binding a UDP socket on ss failed with EADDRINUSE, into out (outsz
 * bytes): "address already in use by pid N (comm)" for a UDP socket of
 * another process (own[0..nown) are this process's UDP sockets there),
 * else that none shows in the kernel's tables; followed by the hint of
 * sl_portcheck_in_use when the port is one the kernel gives out. Returns
 * out.
 */
const char *sl_portcheck_udp_in_use(const struct sockaddr_storage *ss,
				    const int *own, size_t nown, char *out,
				    size_t outsz);

/*
 * Asks the kernel whether ss can be bound by a socket with a listener's
 * options: reuseport (SO_REUSEPORT, as listeners have; the admin's has
 * not) and, for IPv6, v6only. The socket is bound, never listens, and is
 * closed at once: nothing can connect to it. The one question the tables
 * cannot answer: a connection on the port blocks a bind or not depending
 * on options of its socket that they do not show (SO_REUSEADDR, which
 * accepted connections inherit). Returns 0 when it could be bound, -1
 * with errno otherwise.
 */
int sl_portcheck_probe(const struct sockaddr_storage *ss, int reuseport,
		       int v6only);

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
 * The inodes of the sockets process pid holds (/proc/PID/fd), into a
 * malloc'd array *inodes (the caller frees it) of *n. Returns 0, or -1
 * when /proc does not show them (another user's process, or gone).
 */
int sl_portcheck_pid_sockets(long pid, uint64_t **inodes, size_t *n);

/*
 * Whether process pid is a sluice serving the configuration file whose
 * real path (realpath(3)) is conf_real, default_conf being the file a
 * sluice reads without -c. A relative -c is taken from that process's
 * working directory. Returns 1 or 0 (also when /proc does not tell).
 */
int sl_portcheck_serves(long pid, const char *conf_real,
			const char *default_conf);

#endif
