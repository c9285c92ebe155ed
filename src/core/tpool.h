/* SPDX-License-Identifier: MIT */
/*
 * A worker's pool of threads for work that would hold its event loop (the
 * WAF's rules: milliseconds a request). The loop submits a job; one of the
 * pool's threads runs job->run; the loop gets it back in job->done, called
 * from its own event (an eventfd), never from the thread. The queue is
 * bounded: a submit past it fails at once, and the caller decides.
 *
 * Ownership: the job is the pool's from a successful submit until done is
 * called (or sl_tpool_cancel takes it back before it ran). The threads
 * never touch the loop, and the loop never touches a job the pool holds
 * but through sl_tpool_cancel.
 */
#ifndef SL_TPOOL_H
#define SL_TPOOL_H

#include <stdatomic.h>
#include <stdint.h>

struct event_base;

struct sl_tjob {
	struct sl_tjob *next;		 /* the pool's */
	void (*run)(struct sl_tjob *j);	 /* on a pool thread */
	void (*done)(struct sl_tjob *j); /* on the loop: ran, or dropped */
	uint64_t queued_ns;		 /* set by submit (monotonic) */
	uint64_t run_ns;		 /* when a thread took it, 0: never */
	uint64_t end_ns;		 /* when it ended */
	uint64_t cpu_ns;		 /* the thread's CPU time in run (its
					    own clock: what the job cost, not
					    the time others took the CPU) */
	int dropped;			 /* done without run: the pool stops */
};

struct sl_tpool;

/*
 * A pool of nthreads threads on base's loop, at most max_queued jobs
 * waiting (the running ones apart). nice_inc lowers the threads' priority
 * (setpriority(2) on each thread), so that the loops of the process win
 * the CPU from them. Returns NULL (errno set) on failure.
 */
struct sl_tpool *sl_tpool_new(struct event_base *base, unsigned nthreads,
			      unsigned max_queued, int nice_inc);
/* busy (NULL: none) counts the pool's threads running a job, for a
 * gauge the loop and the admin read (a relaxed atomic: the threads
 * write it). */
void sl_tpool_gauge(struct sl_tpool *p, atomic_uint_fast64_t *busy);
/* Queues j. Returns 0 when a thread is free for it, 1 when it waits
 * behind others, or -1 when the queue is full (j is the caller's). */
int sl_tpool_submit(struct sl_tpool *p, struct sl_tjob *j);
/* Takes back j if no thread took it yet: returns 1 (j is the caller's
 * again, done never called), else 0 (done will be called). */
int sl_tpool_cancel(struct sl_tpool *p, struct sl_tjob *j);
/* Jobs waiting for a thread, now. */
unsigned sl_tpool_queued(const struct sl_tpool *p);
/*
 * Stops the pool: the waiting jobs are done with dropped set, the running
 * ones are waited for and done, the threads joined. From the loop.
 */
void sl_tpool_free(struct sl_tpool *p);

#endif
