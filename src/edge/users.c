/* SPDX-License-Identifier: MIT */
/*
 * Distinct sticky keys a split entry got over the last minute
 * (users.h): HyperLogLog registers in slots of 5 s.
 */
#include "users.h"

#include <math.h>

#include "util.h"

#define RELAXED memory_order_relaxed

void
sl_users_note(struct sl_users *u, size_t entry, uint64_t h, uint64_t now_ms)
{
	uint64_t step = now_ms / SL_USERS_STEP_MS, was;
	size_t s = (size_t)(step % SL_USERS_SLOTS);
	unsigned rho;
	uint8_t old;

	if (entry >= SL_USERS_ENTRIES)
		return;
	was = atomic_load_explicit(&u->step[s], RELAXED);
	if (was != step &&
	    atomic_compare_exchange_strong(&u->step[s], &was, step))
		for (size_t e = 0; e < SL_USERS_ENTRIES; e++)
			for (size_t i = 0; i < SL_USERS_REGS; i++)
				atomic_store_explicit(&u->reg[s][e][i], 0,
						      RELAXED);
	/* mixed again: the split chose the entry by this hash, and the
	 * registers must not see the bits it chose by */
	h = sl_mix64(h ^ 0x9e3779b97f4a7c15ULL);
	/* the first SL_USERS_BITS bits pick a register; it keeps the most
	 * leading zeros of the rest, plus one */
	rho = (h << SL_USERS_BITS) == 0
		  ? 64 - SL_USERS_BITS + 1
		  : (unsigned)__builtin_clzll(h << SL_USERS_BITS) + 1;
	_Atomic uint8_t *r = &u->reg[s][entry][h >> (64 - SL_USERS_BITS)];
	old = atomic_load_explicit(r, RELAXED);
	if (rho > old)
		atomic_store_explicit(r, (uint8_t)rho, RELAXED);
}

uint64_t
sl_users_count(const struct sl_users *u, size_t entry, uint64_t now_ms)
{
	uint64_t step = now_ms / SL_USERS_STEP_MS;
	uint8_t reg[SL_USERS_REGS] = {0};
	const double m = SL_USERS_REGS;
	double sum = 0, est;
	unsigned zeros = 0;

	if (entry >= SL_USERS_ENTRIES)
		return 0;
	for (size_t s = 0; s < SL_USERS_SLOTS; s++) {
		uint64_t at = atomic_load_explicit(&u->step[s], RELAXED);
		if (at > step || step - at >= SL_USERS_SLOTS)
			continue; /* older than the minute, or never used */
		for (size_t i = 0; i < SL_USERS_REGS; i++) {
			uint8_t v =
			    atomic_load_explicit(&u->reg[s][entry][i], RELAXED);
			if (v > reg[i])
				reg[i] = v;
		}
	}
	for (size_t i = 0; i < SL_USERS_REGS; i++) {
		sum += ldexp(1.0, -(int)reg[i]);
		zeros += reg[i] == 0;
	}
	if (zeros == SL_USERS_REGS)
		return 0;
	/* the raw estimate, and linear counting where it is the better
	 * one (few keys: most registers still empty) */
	est = 0.7213 / (1 + 1.079 / m) * m * m / sum;
	if (est <= 2.5 * m && zeros > 0)
		est = m * log(m / zeros);
	return (uint64_t)llround(est);
}
