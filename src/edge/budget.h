/* SPDX-License-Identifier: MIT */
/*
 * Budgets of a cost per client (issue 63, item 1: a worker's WAF thread
 * time; doc/operations.md section 15.7): a token bucket for each client
 * key, in the cost's unit (nanoseconds of thread time), refilled at `rate`
 * a second up to `burst`. A cost is charged once spent, when it is known:
 * a client may overdraw by what it had running (a burst at most), and is
 * refused until the refill brings it back to zero; its wait says when.
 *
 * A fixed table (SL_BUDGET_SLOTS): a key is kept in one of a window of
 * slots; a client the window has no room for takes the place of the one
 * nearest a full bucket there, which is the one that had least to answer
 * for (a full bucket is a client the table need not remember). A client
 * it never charged has its whole burst.
 *
 * Pure: one thread's (a worker's loop), no I/O, one allocation.
 */
#ifndef SL_BUDGET_H
#define SL_BUDGET_H

#include <stdint.h>

#define SL_BUDGET_SLOTS 4096 /* clients a table remembers (128 KiB) */

struct sl_budget;

/* A table of budgets refilled at rate a second (1,000,000 at least: a
 * millisecond of thread time a second) up to burst. NULL: no memory, or
 * a rate below that. */
struct sl_budget *sl_budget_new(uint64_t rate, uint64_t burst);
void sl_budget_free(struct sl_budget *b);

/* 0 when key may spend at now_ns (monotonic), else the milliseconds
 * until it may (1 at least). */
uint64_t sl_budget_wait_ms(struct sl_budget *b, uint64_t key, uint64_t now_ns);

/* Charges key cost spent at now_ns. */
void sl_budget_charge(struct sl_budget *b, uint64_t key, uint64_t cost,
		      uint64_t now_ns);

/* What a charge of key costs, a moving mean of its charges (the last
 * weigh a quarter each); 0 for a key not charged yet (or forgotten). A
 * request's hint of what it will cost: a client of costly requests is
 * told from one of cheap ones before its request runs (issue 77). */
uint64_t sl_budget_cost(struct sl_budget *b, uint64_t key);

/* key's balance at now_ns: what it may still spend (negative: owes).
 * For tests and the admin. */
int64_t sl_budget_left(struct sl_budget *b, uint64_t key, uint64_t now_ns);

#endif
