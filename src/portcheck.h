/* SPDX-License-Identifier: MIT */
/*
 * Who else listens on a listener's address. Every worker binds its own
 * socket with SO_REUSEPORT, and the kernel lets any other process of the
 * same user join that group silently (and take a share of the
 * connections). So after binding, sluice lists the listening TCP sockets
 * of its network namespace and refuses an address that a socket it does
 * not own also listens on. Main thread only; reads the kernel's socket
 * table (sock_diag netlink, else /proc/net/tcp*), opens nothing else.
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
 * Parses one line of /proc/net/tcp or /proc/net/tcp6 (family AF_INET or
 * AF_INET6) into *out. Returns 1 for a socket in LISTEN state, 0 for any
 * other line (header, other states), -1 when the line is malformed. Pure.
 */
int sl_portcheck_parse_proc(const char *line, int family,
			    struct sl_listen_sock *out);

/*
 * Looks for a listening socket that overlaps ss (see above) and is none of
 * own[0..nown) (descriptors of this process). Returns 1 when one exists,
 * with who (whosz bytes) set to "pid N (comm)" when the owner can be found
 * in /proc, else to "an unknown process"; 0 when there is none; -1 when
 * the socket table cannot be read (then nothing is known).
 */
int sl_portcheck_foreign(const struct sockaddr_storage *ss, const int *own,
			 size_t nown, char *who, size_t whosz);

#endif
