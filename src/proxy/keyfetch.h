/* SPDX-License-Identifier: MIT */
/*
 * The fetches of key sets from their URLs (doc/auth.md, "Key sets from a
 * URL"): keysrc.c decides when; a worker makes the request through the
 * source's cluster (subreq.h), parses the answer into a set (jwt.c) and
 * gives it to the source, or keeps the last good one.
 */
#ifndef SL_KEYFETCH_H
#define SL_KEYFETCH_H

struct sl_worker;
struct sl_wgen;
struct sl_conf_keys_url;

/* The background: every key set of the worker's current generation whose
 * fetch is due, and that no other worker fetches, is fetched. From the
 * worker's periodic timer. */
void sl_keyfetch_tick(struct sl_worker *w);

/* Fetches k's set for reason (enum sl_keysrc_reason); the caller claimed
 * the fetch (keysrc.h), and sl_keysrc_fetched is called when it ends,
 * at once when it cannot begin. */
void sl_keyfetch_start(struct sl_worker *w, struct sl_wgen *gen,
		       const struct sl_conf_keys_url *k, int reason);

#endif
