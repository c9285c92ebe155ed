/* SPDX-License-Identifier: MIT */
/*
 * Load balancing algorithms over an endpoint array. Pure: no I/O, no
 * allocation; state lives with the caller.
 */
#include "balance.h"

#include <math.h>

#include "util.h"

size_t
sl_balance_swrr(int64_t *current, const uint32_t *weights, size_t n,
		const unsigned char *skip)
{
	int64_t total = 0;
	size_t best = SL_BALANCE_NONE;

	for (size_t i = 0; i < n; i++) {
		if (skip != NULL && skip[i])
			continue;
		current[i] += weights[i];
		total += weights[i];
		if (best == SL_BALANCE_NONE || current[i] > current[best])
			best = i;
	}
	if (best != SL_BALANCE_NONE)
		current[best] -= total;
	return best;
}

size_t
sl_balance_least(const uint32_t *active, const uint32_t *weights, size_t n,
		 const unsigned char *skip, size_t *cursor)
{
	size_t best = SL_BALANCE_NONE;

	if (n == 0)
		return best;
	for (size_t k = 0; k < n; k++) {
		size_t i = (*cursor + k) % n;
		if (skip != NULL && skip[i])
			continue;
		/* active/weight compared without division */
		if (best == SL_BALANCE_NONE ||
		    (uint64_t)active[i] * weights[best] <
			(uint64_t)active[best] * weights[i])
			best = i;
	}
	*cursor = (*cursor + 1) % n;
	return best;
}

uint64_t
sl_hash64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return sl_mix64(h);
}

size_t
sl_balance_hash(uint64_t key, const uint32_t *weights, size_t n,
		const unsigned char *skip)
{
	size_t best = SL_BALANCE_NONE;
	double best_score = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t h;
		double u, score;

		if (skip != NULL && skip[i])
			continue;
		h = sl_mix64(key ^ sl_mix64(i + 1));
		/* u in (0, 1]; -w / ln(u) is weighted rendezvous */
		u = ((double)(h >> 11) + 1.0) / 9007199254740992.0;
		score = -(double)weights[i] / log(u);
		if (best == SL_BALANCE_NONE || score > best_score) {
			best = i;
			best_score = score;
		}
	}
	return best;
}
