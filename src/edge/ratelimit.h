/* SPDX-License-Identifier: MIT */
/*
 * Rate limits, the part without I/O: the generic cell rate algorithm
 * (GCRA) over a table of keys that every worker updates lock-free, and the
 * per-worker table of cells leased from a fleet-wide store (rlstore.c asks
 * the store). No clock of its own, no I/O, no allocation past the tables:
 * the caller passes the time, in microseconds of a monotonic clock counted
 * from an epoch of its choosing (at least 1), and below 2^48.
 */
#ifndef SL_RATELIMIT_H
#define SL_RATELIMIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* ---- one limit ----------------------------------------------------------
 *
 * GCRA keeps one time per key, the theoretical arrival time (TAT) of the
 * next request at the configured rate. A request at now passes when
 * max(TAT, now) - now <= tolerance, and moves the TAT on by one interval.
 * With interval T = unit / rate and tolerance (burst - 1) * T, that is a
 * token bucket of burst tokens refilled at rate, without a refill step.
 */
struct sl_rl_spec {
	uint64_t interval_us;  /* T: one request per T (rounded up) */
	uint64_t tolerance_us; /* (burst - 1) * T */
};

/* The largest (burst x interval) a limit may have: the TATs fit in 48
 * bits with room for years of uptime. */
#define SL_RL_MAX_SPAN_US ((uint64_t)1 << 40) /* 12.7 days */

/*
 * T and tolerance of "rate per unit_s seconds, burst at once" (rate,
 * unit_s, burst >= 1). The interval is rounded up to the microsecond: a
 * rate is never exceeded, and is exact when 10^6 x unit_s / rate is whole.
 */
void sl_rl_spec_init(struct sl_rl_spec *s, uint64_t rate, uint64_t unit_s,
		     uint64_t burst);

/* What became of a request. evicted is the tables' only count of keys
 * pushed out: the caller counts it where its counters live (by the
 * limit's labels, per worker), not in the table every worker reads. */
struct sl_rl_result {
	uint64_t wait_us; /* refused: until one more may pass (> 0) */
	int evicted;	  /* admitted on a slot taken from a live key */
};

/* ---- local limits: one table shared by the workers ----------------------
 *
 * A slot is one 64-bit word: the top 16 bits are a tag of the key's hash,
 * the low 48 the key's TAT; a slot whose TAT is not in the future is free
 * (a key at rest is a key with a full burst). A key lives in one bucket
 * of SL_RL_WAYS slots (its hash's low bits); a lookup reads the bucket,
 * finds the slot with its tag, or else takes the first never used, or
 * else the slot with the oldest TAT (free, or when all are live the one
 * that would be free soonest: that key starts over), and writes the new
 * word with compare-and-swap, trying again when another worker wrote the
 * bucket first. Two workers taking from one key thus never admit more than the
 * key's rate between them. The errors, stated in doc/edge.md section 6:
 * two keys with one tag in one bucket share a TAT (a chance of at most
 * SL_RL_WAYS / 2^16 per lookup, when the bucket is full of other keys),
 * and a key evicted while live starts over with a full burst.
 */
#define SL_RL_WAYS     4
#define SL_RL_TAT_BITS 48
#define SL_RL_TAT_MASK (((uint64_t)1 << SL_RL_TAT_BITS) - 1)
#define SL_RL_MAX_KEYS ((uint64_t)1 << 24) /* slots: 128 MiB */

struct sl_rl_table {
	uint64_t mask;		 /* slots - 1 */
	_Atomic uint64_t slot[]; /* (tag << 48) | TAT */
};

/* A table of max_keys slots (rounded up to a power of two, at least
 * SL_RL_WAYS), all free. Returns NULL when out of memory. */
struct sl_rl_table *sl_rl_table_new(uint64_t max_keys);
void sl_rl_table_free(struct sl_rl_table *t);
/* Bytes a table of max_keys takes. */
size_t sl_rl_table_bytes(uint64_t max_keys);

/*
 * One request of the key whose hash is h at now. Returns 1 (admitted: its
 * cell taken) or 0 (refused: nothing taken), with r filled. Thread-safe,
 * lock-free. Inline: the path of every request of a limited route.
 */
static inline int
sl_rl_take(struct sl_rl_table *t, const struct sl_rl_spec *s, uint64_t h,
	   uint64_t now, struct sl_rl_result *r)
{
	_Atomic uint64_t *b =
	    &t->slot[(h & t->mask) & ~(uint64_t)(SL_RL_WAYS - 1)];
	uint64_t tag = h >> SL_RL_TAT_BITS;

	r->wait_us = 0;
	r->evicted = 0;
	for (;;) {
		uint64_t w, old = 0, tat, start, next, oldest = UINT64_MAX;
		unsigned i, slot = 0;
		int own = 0;

		/*
		 * The slot the request uses: its key's (the first with its
		 * tag, live or at rest), else the first never used (slots
		 * fill in order and are never emptied: no key's slot is past
		 * it), else the one with the oldest TAT, ties to the first.
		 * The choice depends on the bucket's words only, not on the
		 * time: two workers that read the same bucket pick the same
		 * slot, and one of their writes fails (doc/edge.md section 6
		 * says when they cannot).
		 */
		for (i = 0; i < SL_RL_WAYS; i++) {
			w = atomic_load_explicit(&b[i], memory_order_acquire);
			if ((w >> SL_RL_TAT_BITS) == tag && w != 0) {
				own = 1;
				slot = i;
				old = w;
				break;
			}
			if (w == 0) {
				slot = i;
				old = w;
				break;
			}
			if ((w & SL_RL_TAT_MASK) < oldest) {
				oldest = w & SL_RL_TAT_MASK;
				slot = i;
				old = w;
			}
		}
		/* a key not in the table is at rest: its TAT is now */
		tat = own ? old & SL_RL_TAT_MASK : now;
		start = tat > now ? tat : now;
		if (start - now > s->tolerance_us) {
			r->wait_us = start - now - s->tolerance_us;
			return 0;
		}
		next = start + s->interval_us;
		if (atomic_compare_exchange_weak_explicit(
			&b[slot], &old,
			(tag << SL_RL_TAT_BITS) | (next & SL_RL_TAT_MASK),
			memory_order_acq_rel, memory_order_acquire)) {
			if (!own && (old & SL_RL_TAT_MASK) > now)
				r->evicted = 1;
			return 1;
		}
		/* another worker wrote the bucket: read it again */
	}
}

/* Gives back the cell an admitted request of h took (a later limit of the
 * same request refused it). Thread-safe. */
void sl_rl_give_back(struct sl_rl_table *t, const struct sl_rl_spec *s,
		     uint64_t h, uint64_t now);

/* A seeded hash of a key for a local table: so that a client cannot
 * choose keys that fall into one bucket. An address inline (client_ip
 * keys, the usual); other keys through util.h's sl_hash64_seeded. */
static inline uint64_t
sl_rl_hash_seeded(uint64_t seed, const void *key, size_t len)
{
	/* an address (4 or 16 bytes, client_ip): mixed a word at a time */
	if (len == 4) {
		uint32_t a;
		memcpy(&a, key, 4);
		return sl_mix64(sl_mix64(a ^ seed) ^ 4);
	}
	if (len == 16) {
		uint64_t w[2];
		memcpy(w, key, 16);
		return sl_mix64(sl_mix64(w[0] ^ seed) ^ w[1] ^ 16);
	}
	return sl_hash64_seeded(seed, key, len);
}

/* ---- fleet limits: cells leased from the store, per worker --------------
 *
 * The store (Redis) keeps each key's TAT for the whole fleet and grants
 * cells in leases; a worker keeps, per key, the cells it was granted and
 * not used yet, for at most SL_RL_LEASE_TTL_US. A request takes one of
 * them without waiting. The first request of a key the worker holds
 * nothing for passes at once and is counted in the lease the worker asks
 * for then (its "debt"). A request that finds no cell while a lease is on
 * its way waits for it. A key the store refused stays refused here until
 * the time the store named. Worker thread only.
 */
#define SL_RL_LEASE_TTL_US 1000000 /* leased cells unused after this go */

struct sl_rl_wait;
/* A request waiting for a lease, embedded in its owner. done is called
 * once, with SL_RL_CELL (a cell of the lease is its), SL_RL_REFUSED
 * (wait_us until one may pass) or SL_RL_STORE_ERROR. */
struct sl_rl_wait {
	struct sl_rl_wait *next;
	struct sl_rl_lentry *entry; /* waited on; NULL when not waiting */
	void (*done)(struct sl_rl_wait *wt, int verdict, uint64_t wait_us);
};

#define SL_RL_L_INFLIGHT 0x01 /* a lease request is on its way */

/* A key's leased cells in one worker. */
struct sl_rl_lentry {
	uint64_t h;	       /* the key's hash; 0: free */
	uint64_t until_us;     /* the cells are usable until then */
	uint64_t next_us;      /* the store's next cell: none before */
	uint64_t used_us;      /* last use (least recently used goes) */
	uint32_t cells;	       /* granted, not used yet */
	uint32_t flags;	       /* SL_RL_L_* */
	struct sl_rl_wait *wq; /* waiting requests, oldest first */
	struct sl_rl_wait **wq_tail;
};

/* The leases of one limit in one worker: SL_RL_WAYS-way buckets. */
struct sl_rl_ltab {
	uint64_t mask; /* entries - 1 */
	struct sl_rl_lentry e[];
};

/* What sl_rl_lease_take says of a request. */
enum sl_rl_verdict {
	SL_RL_CELL = 0,	   /* pass: a leased cell taken */
	SL_RL_FIRST,	   /* pass: a key not held here; ask the store for
			      a lease, this request counted in it */
	SL_RL_WAIT,	   /* wait for the lease on its way */
	SL_RL_ASK,	   /* ask the store for a lease and wait for it */
	SL_RL_REFUSED,	   /* refused: the store said so (wait_us) */
	SL_RL_FULL,	   /* no room for the key: every entry of its
			      bucket waits for the store */
	SL_RL_STORE_ERROR, /* the store did not answer (a done verdict) */
};

struct sl_rl_ltab *sl_rl_ltab_new(uint64_t max_keys);
void sl_rl_ltab_free(struct sl_rl_ltab *t);
size_t sl_rl_ltab_bytes(uint64_t max_keys);

/*
 * A request of key h at now. Returns the verdict, with *e set to the
 * key's entry (not for SL_RL_FULL), r->wait_us for SL_RL_REFUSED,
 * r->evicted when SL_RL_FIRST took the entry of another key that was
 * still live, and *prefetch set when the caller should ask for the next
 * lease now in the background (SL_RL_CELL left the entry at or below low
 * cells). A verdict of SL_RL_FIRST or SL_RL_ASK (or prefetch) obliges the
 * caller to send a lease request and mark it with sl_rl_lease_sent, or,
 * when it cannot, to call sl_rl_lease_failed.
 */
enum sl_rl_verdict sl_rl_lease_take(struct sl_rl_ltab *t, uint64_t h,
				    uint64_t now, uint32_t low,
				    struct sl_rl_lentry **e, int *prefetch,
				    struct sl_rl_result *r);

/* A lease request for e is on its way. */
void sl_rl_lease_sent(struct sl_rl_lentry *e);

/* Queues wt on e (after SL_RL_WAIT or SL_RL_ASK). */
void sl_rl_lease_wait(struct sl_rl_lentry *e, struct sl_rl_wait *wt);

/* Takes wt out of its queue (its owner went away). */
void sl_rl_lease_cancel(struct sl_rl_wait *wt);

/*
 * The store granted cells to e at now, and said its next cell comes
 * wait_us later. The requests waiting on e that get a cell are taken off
 * its queue into *served, those refused into *refused (wait_us), in
 * order: the caller tells them (sl_rl_wait_run) once e is in order again,
 * for a request told may start the next one of its connection, which may
 * take from e. Returns 1 when requests still wait and the store may grant
 * more at once (wait_us 0): the caller asks again (sl_rl_lease_sent) or
 * fails them (sl_rl_lease_failed).
 */
int sl_rl_lease_granted(struct sl_rl_lentry *e, uint32_t cells,
			uint64_t wait_us, uint64_t now,
			struct sl_rl_wait **served,
			struct sl_rl_wait **refused);

/* The lease request for e failed (error, timeout, no connection): every
 * waiting request goes to *failed, to be told SL_RL_STORE_ERROR. */
void sl_rl_lease_failed(struct sl_rl_lentry *e, struct sl_rl_wait **failed);

/* Tells each request of list its verdict (its done is called). */
void sl_rl_wait_run(struct sl_rl_wait *list, int verdict, uint64_t wait_us);

/* Gives back a cell taken with SL_RL_CELL (a later limit refused the
 * request), if e still holds h. */
void sl_rl_lease_give_back(struct sl_rl_ltab *t, uint64_t h, uint64_t now);

/* ---- the tables' clock (rlcheck.c and rlstore.c both read it) ---------- */

/* The process's rate limit epoch, in microseconds of CLOCK_MONOTONIC: 0
 * until sl_ratelimit_epoch sets it, with the first reading, by whichever
 * thread. */
extern _Atomic uint64_t sl_rl_epoch_us;
uint64_t sl_ratelimit_epoch(uint64_t now_us);

/* Microseconds of CLOCK_MONOTONIC since the epoch (at least 1 s after
 * it): the time of the tables. The event's time (sl_now_refresh), not a
 * clock reading: requests handled in one event arrive together. */
static inline uint64_t
sl_ratelimit_now_us(void)
{
	uint64_t e = atomic_load_explicit(&sl_rl_epoch_us,
					  memory_order_relaxed),
		 now = sl_now_us_cached();

	if (e == 0)
		e = sl_ratelimit_epoch(now);
	return now - e;
}

#endif
