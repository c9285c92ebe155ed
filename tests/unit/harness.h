/* SPDX-License-Identifier: MIT */
/*
 * What the unit tests that run a worker share (harness.c): a configuration
 * loaded and bound as the daemon does it, and a worker made by
 * sl_worker_new without its listening sockets (test_seam.c,
 * test_client.c, test_upstream_cut.c); and for the tests that play a
 * client on a memory end (xprt.h), that end, what it read, the worker's
 * own event loop run between the test's steps until what a test waits for
 * is seen (bounded by WAIT_MS, no sleeping), the conditions such a test
 * waits for, and the access log and close counters it reads
 * (test_client.c, test_upstream_cut.c). The names are the ones the tests
 * were written with, so that their bodies read as before.
 */
#ifndef SL_TEST_HARNESS_H
#define SL_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "client_int.h"
#include "conf_types.h"
#include "runtime.h"
#include "wloop.h"
#include "xprt.h"

/* What a test waits for at most (wall clock), however slow the machine:
 * far above the limits the tests set, which are what the loop really
 * waits for (50 ms at most, a retry's backoff below 25 ms). */
#define WAIT_MS 10000

/* ---- a worker ------------------------------------------------------------*/

extern struct sl_conf *conf; /* held by the worker's generation */
extern struct sl_worker *w;  /* made by harness_worker */

/* Loads yaml and binds its shared state; with tls, the TLS contexts first,
 * as the daemon loads them. Fails the test with the configuration's
 * errors. */
void harness_conf(const char *yaml, int tls);
/* Makes w for conf, as sl_worker_new makes a worker, with no listening
 * sockets: the generation takes over conf's reference. */
void harness_worker(void);
/* Frees w as the daemon does, once its connections are gone. */
void harness_worker_free(void);

/* ---- a client on a memory end --------------------------------------------*/

extern struct sl_xprt_mem *cli; /* the test's end: the client */
/* the connection on the other end; once closed, its struct waits in the
 * worker's pool for the next connection (client_int.h), so a test can
 * still read its close reason */
extern struct sl_client *c;
extern char got[65536]; /* what the client end read */
extern size_t gotlen;
extern int got_eof; /* 1: the end (FIN) read, 2: a reset */

/* The configuration, the access log (batched in w->alog), the worker and
 * its tick; serve (or NULL) is the test's upstream, one step of it run at
 * every turn of the loop. */
void harness_setup(const char *yaml, int tls, void (*serve)(void));
/* Aborts every connection, then runs the loop for their reaps and closes
 * the idle upstream connections. */
void harness_close_all(void);
/* Frees the tick and the worker (after harness_close_all). */
void harness_teardown(void);

/* The client connects: a connection on listener l, made as an accept
 * would make it, on the other end of the client's pair; it starts idle. */
void client_connect(int l);
/* The client writes s, all of it. */
void client_write(const char *s);
/* The client writes a GET of path, with a Host and no body. */
void client_get(const char *path);
/* Takes what the client end holds into got. */
void drain_client(void);
/* Runs the worker's loop until cond() holds (the upstream served and the
 * client end drained at every turn). Fails after WAIT_MS. */
void run_until(int (*cond)(void));
/* Runs the loop's ready events only (no waiting for timers). */
void run_ready(void);

/* Responses complete in got: heads counted up to their blank line, and
 * their Content-Length's bytes. */
int responses(void);
/* At least one response complete in got. */
int one_response(void);
/* At least two responses complete in got. */
int two_responses(void);
/* The client end read a reset. */
int reset_seen(void);
/* The client end read its end: a FIN or a reset. */
int client_ended(void);
/* The connection closed its end of the client's pair. */
int closed(void);

/* The client keeps its connection: its end read no FIN or reset, and the
 * connection waits idle for the next request. */
void assert_kept(void);

/* The access log lines the worker batched hold s. */
int alog_has(const char *s);
/* Connections of c's listener closed on this worker, of kind k. */
uint64_t closed_count(enum sl_close_kind k);

#endif
