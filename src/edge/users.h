/* SPDX-License-Identifier: MIT */
/*
 * The users a split route's sticky key sent to each of its entries over
 * the last minute (the status page, doc/dashboard.md section 2.3): a
 * HyperLogLog sketch (Flajolet et al., 2007) of the keys' hashes per
 * entry, in 13 slots of 5 s, so that the minute's is the union of the
 * slots that are not older. Approximate: a user or so off below about
 * 30, about 5 % (one standard error) to a few hundred, 6.5 % above.
 */
#ifndef SL_USERS_H
#define SL_USERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SL_USERS_ENTRIES 8 /* a split's first 8, as SL_SPLIT_SEEN */
#define SL_USERS_BITS	 8 /* 256 registers an entry and slot */
#define SL_USERS_REGS	 (1u << SL_USERS_BITS)
#define SL_USERS_SLOTS	 13 /* of SL_USERS_STEP_MS: 60 to 65 s */
#define SL_USERS_STEP_MS 5000

/*
 * One route's sketches (26 KiB), shared by its workers: a register only
 * grows, so a worker's write is a load and, rarely, a store; the first
 * worker into a new 5 s step clears its slot. A race loses a key now and
 * then, and a reading while a slot is being cleared may count some of
 * the keys of 65 s before: both dwarfed by the estimate's error.
 */
struct sl_users {
	atomic_uint_fast64_t step[SL_USERS_SLOTS]; /* of what the slot holds */
	_Atomic uint8_t reg[SL_USERS_SLOTS][SL_USERS_ENTRIES][SL_USERS_REGS];
};

/* Notes the key whose hash is h (sl_hash64) sent to entry at now_ms. */
void sl_users_note(struct sl_users *u, size_t entry, uint64_t h,
		   uint64_t now_ms);

/* The distinct keys entry got over the minute before now_ms. */
uint64_t sl_users_count(const struct sl_users *u, size_t entry,
			uint64_t now_ms);

#endif
