/* SPDX-License-Identifier: MIT */
/*
 * Load balancing algorithms over an endpoint array. Pure: no I/O, no
 * allocation; state lives with the caller.
 */
#include "balance.h"

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
sl_balance_neglog2(uint64_t h)
{
	uint64_t v = (h >> 11) + 1; /* 1 .. 2^53 */
	int e = 63 - __builtin_clzll(v);
	/* the mantissa v / 2^e in [1, 2), Q62 */
	uint64_t m = v << (62 - e), frac = 0, l;

	for (int i = 0; i < 32; i++) {
		/* squaring doubles the logarithm: its next bit is whether
		 * the square reached 2 */
		unsigned __int128 sq = (unsigned __int128)m * m;
		m = (uint64_t)(sq >> 62);
		frac <<= 1;
		if (m >= (uint64_t)1 << 63) {
			m >>= 1;
			frac |= 1;
		}
	}
	/* log2 v = e + frac / 2^32, and -log2 u = 53 - log2 v */
	l = ((uint64_t)53 << 32) - (((uint64_t)e << 32) | frac);
	return l == 0 ? 1 : l;
}

size_t
sl_balance_race(uint64_t key, const uint64_t *ids, const uint32_t *weights,
		size_t n, const unsigned char *skip)
{
	size_t best = SL_BALANCE_NONE;
	uint64_t best_l = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t l;
		unsigned __int128 a, b;

		if (weights[i] == 0 || (skip != NULL && skip[i]))
			continue;
		l = sl_balance_neglog2(sl_mix64(key ^ ids[i]));
		if (best == SL_BALANCE_NONE) {
			best = i;
			best_l = l;
			continue;
		}
		/* l / w[i] against best_l / w[best], without division */
		a = (unsigned __int128)l * weights[best];
		b = (unsigned __int128)best_l * weights[i];
		if (a < b || (a == b && ids[i] < ids[best])) {
			best = i;
			best_l = l;
		}
	}
	return best;
}
