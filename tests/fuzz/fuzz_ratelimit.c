/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the rate limit tables (src/edge/ratelimit.c). The input
 * is a limit (rate, unit, burst) and a run of operations on a few keys:
 * time passing, taking a cell, giving one back, and on the lease table
 * taking, waiting, the store's grants and failures, requests that leave.
 * The GCRA table must decide every request exactly as a plain reference
 * written here (one TAT per key; the keys are chosen not to share a
 * bucket, so nothing is evicted); the lease table must tell every waiting
 * request once, never one that left, and never hand out more cells than
 * the store granted.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "ratelimit.h"

#define NK 8  /* keys */
#define NW 16 /* waiting requests */

struct req {
	struct sl_rl_wait wt;
	int key;      /* queued on this key's entry; -1 none */
	int verdicts; /* times told */
};

static struct req reqs[NW];
static int told_key;

static void
req_done(struct sl_rl_wait *wt, int verdict, uint64_t wait_us)
{
	struct req *r = (struct req *)wt;

	(void)wait_us;
	CHECK(r->key >= 0 && r->verdicts == 0);
	CHECK(verdict == SL_RL_CELL || verdict == SL_RL_REFUSED ||
	      verdict == SL_RL_STORE_ERROR);
	CHECK(wt->entry == NULL);
	r->verdicts++;
	told_key = r->key;
	r->key = -1;
}

/* Tells a list, checking that every request on it waited on key k. */
static void
tell(struct sl_rl_wait *list, int k, int verdict, uint64_t *n)
{
	for (struct sl_rl_wait *w = list; w != NULL; w = w->next) {
		CHECK(((struct req *)w)->key == k);
		(*n)++;
	}
	sl_rl_wait_run(list, verdict, 0);
}

static uint64_t
key_hash(int k)
{
	/* each its own bucket (4 slots apart) and its own tag */
	return ((uint64_t)(k + 1) << 48) | ((uint64_t)k << 2) | 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t units[4] = {1, 60, 3600, 1};
	struct sl_rl_table *t;
	struct sl_rl_ltab *lt;
	struct sl_rl_spec s;
	struct sl_rl_lentry *ent[NK] = {0};
	uint64_t tat[NK] = {0}, granted[NK] = {0}, used[NK] = {0};
	uint64_t back[NK] = {0};
	uint64_t now = 1000000, rate, unit, burst;
	size_t i = 3;

	if (size < 3)
		return 0;
	rate = data[0] % 200 + 1;
	unit = units[data[1] % 4];
	burst = data[2] % 40 + 1;
	sl_rl_spec_init(&s, rate, unit, burst);
	CHECK(s.interval_us >= 1 && s.interval_us * rate >= unit * 1000000);
	t = sl_rl_table_new(64);
	lt = sl_rl_ltab_new(64);
	CHECK(t != NULL && lt != NULL);
	for (int r = 0; r < NW; r++) {
		memset(&reqs[r], 0, sizeof(reqs[r]));
		reqs[r].wt.done = req_done;
		reqs[r].key = -1;
	}
	while (i + 1 < size) {
		uint8_t op = data[i++], arg = data[i++];
		int k = arg % NK;
		struct sl_rl_result res;
		struct sl_rl_wait *served = NULL, *refused = NULL;
		uint64_t n = 0;
		int pf, v, ok, want;

		switch (op % 8) {
		case 0: /* time passes: microseconds to hours */
			now += (uint64_t)arg << (op >> 3) % 40;
			if (now >= (uint64_t)1 << 46)
				goto out;
			break;
		case 1: { /* a request: the reference GCRA decides too */
			uint64_t start = tat[k] > now ? tat[k] : now;
			want = start - now <= s.tolerance_us;
			ok = sl_rl_take(t, &s, key_hash(k), now, &res);
			CHECK(ok == want && !res.evicted);
			if (ok)
				tat[k] = start + s.interval_us;
			else
				CHECK(res.wait_us ==
				      start - now - s.tolerance_us);
			break;
		}
		case 2: /* given back: at most back to now */
			sl_rl_give_back(t, &s, key_hash(k), now);
			if (tat[k] > now)
				tat[k] = tat[k] - now > s.interval_us
					     ? tat[k] - s.interval_us
					     : now;
			break;
		case 3: { /* a request of a fleet limit */
			struct req *r = &reqs[(op >> 3) % NW];
			v = sl_rl_lease_take(lt, key_hash(k), now, 1, &ent[k],
					     &pf, &res);
			if (v == SL_RL_FULL)
				break;
			CHECK(ent[k] != NULL && ent[k]->h == key_hash(k));
			if (v == SL_RL_CELL)
				used[k]++;
			if (v == SL_RL_FIRST || v == SL_RL_ASK ||
			    (v == SL_RL_CELL && pf))
				sl_rl_lease_sent(ent[k]);
			if (v == SL_RL_REFUSED)
				CHECK(res.wait_us > 0);
			if ((v == SL_RL_WAIT || v == SL_RL_ASK) && r->key < 0) {
				r->key = k;
				r->verdicts = 0;
				sl_rl_lease_wait(ent[k], &r->wt);
			}
			break;
		}
		case 4: /* the store answers a lease in flight */
			if (ent[k] == NULL || ent[k]->h != key_hash(k) ||
			    !(ent[k]->flags & SL_RL_L_INFLIGHT))
				break;
			granted[k] += (op >> 3) % 4;
			if (sl_rl_lease_granted(ent[k], (op >> 3) % 4,
						(uint64_t)arg * 1000, now,
						&served, &refused))
				/* more to be had: asked again */
				sl_rl_lease_sent(ent[k]);
			else
				CHECK(ent[k]->wq == NULL);
			tell(served, k, SL_RL_CELL, &used[k]);
			tell(refused, k, SL_RL_REFUSED, &n);
			break;
		case 5: /* the store fails */
			if (ent[k] == NULL || ent[k]->h != key_hash(k) ||
			    !(ent[k]->flags & SL_RL_L_INFLIGHT))
				break;
			sl_rl_lease_failed(ent[k], &served);
			CHECK(ent[k]->wq == NULL);
			tell(served, k, SL_RL_STORE_ERROR, &n);
			break;
		case 6: { /* a waiting request leaves */
			struct req *r = &reqs[arg % NW];
			if (r->key >= 0 && r->wt.entry != NULL) {
				sl_rl_lease_cancel(&r->wt);
				CHECK(r->wt.entry == NULL);
				r->key = -1;
			}
			break;
		}
		default: { /* a cell given back */
			uint32_t before = ent[k] != NULL ? ent[k]->cells : 0;
			sl_rl_lease_give_back(lt, key_hash(k), now);
			if (ent[k] != NULL && ent[k]->cells > before)
				back[k] += ent[k]->cells - before;
			break;
		}
		}
		/* never more cells used than the store granted (and the
		 * requests gave back) */
		for (int j = 0; j < NK; j++)
			CHECK(used[j] <= granted[j] + back[j]);
	}
out:
	/* whoever still waits is told when its lease fails */
	for (int k = 0; k < NK; k++)
		if (ent[k] != NULL && ent[k]->h == key_hash(k) &&
		    ent[k]->wq != NULL) {
			struct sl_rl_wait *failed = NULL;
			uint64_t n = 0;
			sl_rl_lease_failed(ent[k], &failed);
			tell(failed, k, SL_RL_STORE_ERROR, &n);
		}
	for (int r = 0; r < NW; r++)
		CHECK(reqs[r].key < 0 && reqs[r].wt.entry == NULL);
	(void)told_key;
	sl_rl_table_free(t);
	sl_rl_ltab_free(lt);
	return 0;
}
