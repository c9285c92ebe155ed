/* SPDX-License-Identifier: MIT */
/*
 * Which worker a QUIC datagram is for (doc/http3.md, "One connection, one
 * worker"). Each worker has its own UDP socket on a QUIC listener's
 * address, in one SO_REUSEPORT group, the workers' sockets added in the
 * workers' order; every connection ID sluice issues starts with its
 * worker's index. A classic BPF program on the group (unprivileged:
 * SO_ATTACH_REUSEPORT_CBPF) gives a datagram to the socket its
 * destination connection ID's first byte names: a short header's at byte
 * 1, a long header's at byte 6. A client's first Initial carries a
 * connection ID of its own choosing, the same in each of its
 * retransmissions: some worker, always the same one, which answers with
 * a connection ID of its own. So the packets of a connection reach its
 * worker whatever the client's address and port do (NAT rebinding,
 * migration), which the kernel's hash of the 4-tuple alone would not do.
 */
#ifndef SL_QROUTE_H
#define SL_QROUTE_H

#include <stddef.h>
#include <stdint.h>

#define SL_QROUTE_MAX 256 /* the workers a byte can name */

/* Attaches the program to fd's SO_REUSEPORT group of n sockets (one a
 * worker, 1 <= n <= SL_QROUTE_MAX). Returns 0, or -1 (errno set). */
int sl_qroute_attach(int fd, unsigned n);

/* The worker of n the program gives pkt[0 .. len) to: the same
 * arithmetic in C (a datagram shorter than the byte read goes to 0, as
 * the kernel's program, which reads nothing there, returns 0). */
unsigned sl_qroute_worker(const uint8_t *pkt, size_t len, unsigned n);

/* A new connection ID of len bytes (1 to 20) for worker: its index, then
 * random bytes. Returns 0, or -1 (no randomness). */
int sl_qroute_cid(uint8_t *cid, size_t len, unsigned worker);

/* The stateless reset token of a connection ID (RFC 9000 section
 * 10.3.2): an HMAC of it under key, so that any worker, or a restarted
 * process with the same key, can reset a connection it does not know.
 * Returns 0, or -1. */
int sl_qroute_reset_token(const uint8_t key[32], const uint8_t *cid, size_t len,
			  uint8_t token[16]);

#endif
