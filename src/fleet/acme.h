/* SPDX-License-Identifier: MIT */
/*
 * ACME (RFC 8555; doc/tls.md, "ACME"): certificates for tls.acme's names,
 * ordered from the top-level acme's CA and renewed before they expire, by
 * one thread of the process that is not a worker. It installs what it
 * obtains in the names' slots (net/acmeslot.h), where the next handshake
 * finds it, and keeps it in the storage directory for the next start.
 */
#ifndef SL_ACME_H
#define SL_ACME_H

struct sl_conf;

/* Generation conf is served (the start, each reload): its names are
 * ordered or kept, the names it no longer has stop being renewed. Starts
 * the thread the first time a generation has names. Main thread. */
void sl_acme_apply(struct sl_conf *conf);

/* The process ends: the thread stops (an order under way is given up:
 * the next start orders again) and joins. Main thread. */
void sl_acme_stop(void);

#endif
