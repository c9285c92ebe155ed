/* SPDX-License-Identifier: MIT */
/*
 * Endpoint selection within a cluster: smooth weighted round robin, least
 * request, and hash of a key. Pure: the caller owns all state (one per
 * worker, so no locks).
 */
#ifndef SL_BALANCE_H
#define SL_BALANCE_H

#include <stddef.h>
#include <stdint.h>

#define SL_BALANCE_NONE ((size_t)-1)

/*
 * Smooth weighted round robin (the nginx algorithm): current[] holds one
 * counter per endpoint, zeroed at start. skip[i] != 0 excludes endpoint i
 * (NULL: none excluded). Returns the chosen index or SL_BALANCE_NONE.
 */
size_t sl_balance_swrr(int64_t *current, const uint32_t *weights, size_t n,
		       const unsigned char *skip);

/*
 * Fewest active requests relative to weight; ties go round robin from
 * *cursor, which is advanced. Returns an index or SL_BALANCE_NONE.
 */
size_t sl_balance_least(const uint32_t *active, const uint32_t *weights,
			size_t n, const unsigned char *skip, size_t *cursor);

/*
 * Weighted rendezvous hashing of key: the same key picks the same endpoint
 * while the set is unchanged, and removing one endpoint moves only its own
 * keys. Returns an index or SL_BALANCE_NONE.
 */
size_t sl_balance_hash(uint64_t key, const uint32_t *weights, size_t n,
		       const unsigned char *skip);

/* 64-bit hash of bytes (FNV-1a then a finalizer). */
uint64_t sl_hash64(const void *data, size_t len);

#endif
