/* SPDX-License-Identifier: MIT */
/*
 * A worker's pool of threads for work that would hold its event loop (the
 * WAF's rules: milliseconds a request). The loop submits a job; one of the
 * pool's threads runs job->run; the loop gets it back in job->done, called
 * from its own event (an eventfd), never from the thread. The queue is
 * bounded: a submit past it fails at once, and the caller decides.
 *
 * Fair: each job names its flow (a client) and its flow's priority;
 * waiting jobs are taken from the flow of the highest priority, and among
 * equals one flow at a time, in turn, so a burst of one client waits
 * behind its own jobs, not in front of another's. When the queue is full, the
 * flow that holds the most waiting jobs gives way: its newest is shed (done
 * with dropped SL_TJOB_SHED), or, when that is the submitting flow, the submit
 * is refused (-2).
 *
 * Idle class (sl_tpool_idle): the threads run each job at SCHED_IDLE (and
 * are in their class outside one, never idle with the pool's lock), so
 * that other work in their cgroup has the CPU first; a guard on the loop
 * raises them to SCHED_OTHER (at their nice) when a running job has been
 * kept from the CPU past a bound, for a second at least, and to the
 * loop's nice when that is not enough, so that a busy machine slows the
 * jobs down but never starves them. sl_tpool_favour runs a short job
 * above a long one.
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
	struct sl_tjob *next, *prev;	 /* the pool's */
	uint64_t flow;			 /* the caller's: whose job (a
					    client's hash), for fairness */
	int64_t prio;			 /* the caller's: its flow's priority
					    (higher first; equal: in turn) */
	uint64_t hint_ns;		 /* the caller's: what a job of its
					    flow costs, as far as it knows (0:
					    unknown), for sl_tpool_favour */
	void (*run)(struct sl_tjob *j);	 /* on a pool thread */
	void (*done)(struct sl_tjob *j); /* on the loop: ran, or dropped */
	uint64_t queued_ns;		 /* set by submit (monotonic) */
	uint64_t run_ns;		 /* when a thread took it, 0: never */
	uint64_t end_ns;		 /* when it ended */
	uint64_t cpu_ns;		 /* the thread's CPU time in run (its
					    own clock: what the job cost, not
					    the time others took the CPU) */
	int dropped;			 /* done without run: SL_TJOB_STOPPING
					    or SL_TJOB_SHED */
	int queued;			 /* the pool's: waiting */
};

#define SL_TJOB_STOPPING 1 /* the pool stops */
#define SL_TJOB_SHED	 2 /* the queue was full: its flow had the most */

struct sl_tpool;

/*
 * A pool of nthreads threads on base's loop, at most max_queued jobs
 * waiting (the running ones apart). nice_inc lowers the threads' priority
 * (setpriority(2) on each thread), so that the loops of the process win
 * the CPU from them. Returns NULL (errno set) on failure.
 */
struct sl_tpool *sl_tpool_new(struct event_base *base, unsigned nthreads,
			      unsigned max_queued, int nice_inc);
/* busy (NULL: none) counts the pool's threads running a job, and queued
 * (NULL: none) the jobs waiting, for gauges the loop and the admin read
 * (relaxed atomics: the threads write them). */
void sl_tpool_gauge(struct sl_tpool *p, atomic_uint_fast64_t *busy,
		    atomic_uint_fast64_t *queued);
/* At most cap threads run one flow's jobs at once (0, the default: any):
 * with cap the threads less one, a client never holds them all, and
 * another's job finds one free. Not work-conserving: one flow alone
 * leaves the rest idle. */
void sl_tpool_share(struct sl_tpool *p, unsigned cap);
/*
 * Runs the pool's jobs in the idle class from now on, with the guard: a
 * running job kept from the CPU (its wall time less its thread's CPU
 * time, less the CPU time the pool's other threads had meanwhile over
 * the CPUs the process may use: kept by other work than the pool's own)
 * longer than guard_ms raises the threads in a job back to their class
 * and nice, and the next jobs run there, for a second at least; a job kept from
 * the CPU that long again, raised, moves every thread to the loop's own nice,
 * where the process may (CAP_SYS_NICE, or an RLIMIT_NICE that allows it), as
 * long (issue 77: at nice +10 a thread has a tenth of a CPU beside a CPU-bound
 * job); raises (NULL: none) counts each step. From the loop. Returns 0, or -1
 * with errno EPERM when the process could not take a thread out of the
 * idle class (no CAP_SYS_NICE, and RLIMIT_NICE below their nice): the
 * pool stays as it was.
 */
int sl_tpool_idle(struct sl_tpool *p, uint32_t guard_ms,
		  atomic_uint_fast64_t *raises);
/*
 * In the idle class (sl_tpool_idle), a job that is short beside one
 * running, ratio times shorter at least (its hint against the other's
 * hint, or the time the other has run so far, the larger; 20 ms at
 * least), runs out of the idle class, above it; a long job that starts
 * raises the short ones running so. The guard checks each favour at its
 * look: it holds while its job has run less than 20 ms and is still
 * short so (by the larger of its hint and its run time); when the last
 * goes, the threads under it leave the idle class too. With one
 * client's costly inspections on one thread, another's cheap one on the
 * next thread gets the CPU first instead of half of it (issue 77). 0: off
 * (the default).
 */
void sl_tpool_favour(struct sl_tpool *p, unsigned ratio);
/* Queues j in its flow (j->flow). Returns 0 when a thread is free for it,
 * 1 when it waits behind others; -1 when the queue is full of other
 * flows' jobs, none holding more than j's would, and -2 when it is full
 * and j's flow holds the most (j is the caller's in both). A full queue
 * otherwise sheds the newest job of the flow that holds the most. */
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
