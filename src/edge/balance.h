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
 * The weighted race behind sticky splits and the hash balancer (weighted
 * rendezvous hashing, in integers so that every machine agrees): entry i
 * draws h = sl_mix64(key ^ ids[i]) and L = sl_balance_neglog2(h), and the
 * smallest L / weights[i] wins (ties: the smaller id). ids name the
 * entries (a hash of a cluster's name, of an endpoint's address), not
 * their positions. Entries of weight 0, and skipped ones, never win. The
 * same key always wins on the same entry; raising an entry's weight only
 * moves keys to it, lowering it only moves keys away from it, adding an
 * entry only moves keys to it, and removing one moves only its own keys
 * (doc/weighted-routes.md has the proof). An entry wins a share of the
 * keys equal to its share of the weight. Returns an index or
 * SL_BALANCE_NONE.
 */
size_t sl_balance_race(uint64_t key, const uint64_t *ids,
		       const uint32_t *weights, size_t n,
		       const unsigned char *skip);

/*
 * -log2(u) for u = ((h >> 11) + 1) / 2^53 in (0, 1], in Q32 fixed point
 * (2^32 = 1.0), computed with integers only (the bits of the fraction by
 * repeated squaring), never 0. Exposed for tests.
 */
uint64_t sl_balance_neglog2(uint64_t h);

#endif
