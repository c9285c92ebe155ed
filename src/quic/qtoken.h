/* SPDX-License-Identifier: MIT */
/*
 * A Retry's address validation token (RFC 9000 section 8.1.2): what the
 * server needs back from the client's next Initial, sealed so that only
 * the process that made it can read it and only from the address it was
 * made for: the client's original destination connection ID, the
 * connection ID the Retry gave it, and when. AES-256-GCM under a key of
 * the process, the client's address its associated data, a random nonce
 * in front.
 */
#ifndef SL_QTOKEN_H
#define SL_QTOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SL_QTOKEN_MAX 96 /* a token's bytes, at most */

/* What a token carries. */
struct sl_qtoken {
	uint8_t odcid[20], rscid[20];
	uint8_t odcid_len, rscid_len;
	uint64_t made_ms; /* when it was made (the caller's clock) */
};

/* t sealed for a client at addr into out (SL_QTOKEN_MAX bytes): its
 * length, or -1. */
long sl_qtoken_seal(const uint8_t key[32], const struct sl_qtoken *t,
		    const struct sockaddr *addr, socklen_t addr_len,
		    uint8_t *out);

/*
 * The token tok[0 .. n) a client at addr sent back, opened into t.
 * Returns 0, or -1 when it is no token of key's for that address (made
 * for another, changed, or not a token), or older than max_age_ms at
 * now_ms.
 */
int sl_qtoken_open(const uint8_t key[32], const uint8_t *tok, size_t n,
		   const struct sockaddr *addr, socklen_t addr_len,
		   uint64_t now_ms, uint64_t max_age_ms, struct sl_qtoken *t);

#endif
