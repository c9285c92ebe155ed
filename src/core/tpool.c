/* SPDX-License-Identifier: MIT */
/*
 * A worker's pool of threads (tpool.h). One mutex guards the queue of
 * waiting jobs and the list of ended ones; a condition wakes the threads;
 * an eventfd wakes the loop, which takes the ended list whole and calls
 * each job's done. A job is a few instructions of locking at each end of
 * milliseconds of work.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tpool.h"

struct sl_tpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sl_tjob *head, *tail; /* waiting, in order */
	struct sl_tjob *ended;	     /* ended, for the loop (any order) */
	unsigned nqueued, max_queued;
	unsigned nbusy; /* threads running a job */
	int stopping;
	int efd;
	int nice_inc;
	atomic_uint_fast64_t *busy; /* sl_tpool_gauge's, or NULL */
	struct event ev;
	unsigned nthreads;
	pthread_t th[];
};

/* nice's highest value (the lowest priority) */
#define SL_MIN_NICE(v) ((v) > 19 ? 19 : (v))

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The calling thread's CPU time. */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
wake_loop(struct sl_tpool *p)
{
	uint64_t one = 1;

	/* a full counter still wakes the loop: the loss is harmless */
	(void)!write(p->efd, &one, sizeof(one));
}

static void *
tpool_main(void *arg)
{
	struct sl_tpool *p = arg;
	struct sl_tjob *j;
	uint64_t c0;

	if (p->nice_inc > 0) {
		/* lower than the loops, whatever their own nice: the
		 * thread's value is set, so it is theirs plus nice_inc */
		id_t tid = (id_t)syscall(SYS_gettid);
		int now;
		errno = 0;
		now = getpriority(PRIO_PROCESS, tid);
		if (errno == 0)
			(void)setpriority(PRIO_PROCESS, tid,
					  SL_MIN_NICE(now + p->nice_inc));
	}
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->head == NULL)
			break;
		j = p->head;
		if ((p->head = j->next) == NULL)
			p->tail = NULL;
		p->nqueued--;
		p->nbusy++;
		j->run_ns = mono_ns();
		pthread_mutex_unlock(&p->mu);
		if (p->busy != NULL)
			atomic_fetch_add_explicit(p->busy, 1,
						  memory_order_relaxed);
		c0 = cpu_ns();
		j->run(j);
		j->cpu_ns = cpu_ns() - c0;
		j->end_ns = mono_ns();
		if (p->busy != NULL)
			atomic_fetch_sub_explicit(p->busy, 1,
						  memory_order_relaxed);
		pthread_mutex_lock(&p->mu);
		p->nbusy--;
		j->next = p->ended;
		p->ended = j;
		/* the loop is woken with the lock released: woken first, it
		 * would preempt this (niced) thread and wait on the lock it
		 * holds, a priority inversion the benchmark caught */
		pthread_mutex_unlock(&p->mu);
		wake_loop(p);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Calls done for every ended job, on the loop. */
static void
tpool_reap(struct sl_tpool *p)
{
	struct sl_tjob *j, *next;

	pthread_mutex_lock(&p->mu);
	j = p->ended;
	p->ended = NULL;
	pthread_mutex_unlock(&p->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		j->done(j);
	}
}

static void
tpool_on_event(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	tpool_reap(arg);
}

struct sl_tpool *
sl_tpool_new(struct event_base *base, unsigned nthreads, unsigned max_queued,
	     int nice_inc)
{
	struct sl_tpool *p;

	if ((p = calloc(1, sizeof(*p) + nthreads * sizeof(pthread_t))) == NULL)
		return NULL;
	p->max_queued = max_queued;
	p->nice_inc = nice_inc;
	if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (event_assign(&p->ev, base, p->efd, EV_READ | EV_PERSIST,
			 tpool_on_event, p) == -1 ||
	    event_add(&p->ev, NULL) == -1)
		goto fail;
	for (; p->nthreads < nthreads; p->nthreads++)
		if (pthread_create(&p->th[p->nthreads], NULL, tpool_main, p) !=
		    0)
			goto fail;
	return p;
fail:
	sl_tpool_free(p);
	errno = ENOMEM;
	return NULL;
}

void
sl_tpool_gauge(struct sl_tpool *p, atomic_uint_fast64_t *busy)
{
	p->busy = busy;
}

int
sl_tpool_submit(struct sl_tpool *p, struct sl_tjob *j)
{
	int waits;

	pthread_mutex_lock(&p->mu);
	/* the queue bounds the jobs that wait for a thread: those that an
	 * idle thread is about to take do not count */
	if (p->nqueued >= p->max_queued + (p->nthreads - p->nbusy) ||
	    p->stopping) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	j->next = NULL;
	j->queued_ns = mono_ns();
	j->run_ns = j->end_ns = j->cpu_ns = 0;
	j->dropped = 0;
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->nqueued++;
	waits = p->nbusy + p->nqueued > p->nthreads;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return waits;
}

int
sl_tpool_cancel(struct sl_tpool *p, struct sl_tjob *j)
{
	struct sl_tjob **pp, *prev = NULL;
	int found = 0;

	pthread_mutex_lock(&p->mu);
	for (pp = &p->head; *pp != NULL; prev = *pp, pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			if (p->tail == j)
				p->tail = prev;
			p->nqueued--;
			found = 1;
			break;
		}
	pthread_mutex_unlock(&p->mu);
	return found;
}

unsigned
sl_tpool_queued(const struct sl_tpool *p)
{
	/* a gauge's read: a torn value is impossible for an unsigned */
	return __atomic_load_n(&p->nqueued, __ATOMIC_RELAXED);
}

void
sl_tpool_free(struct sl_tpool *p)
{
	struct sl_tjob *j, *next;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	j = p->head;
	p->head = p->tail = NULL;
	p->nqueued = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		j->dropped = 1;
		j->done(j);
	}
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	tpool_reap(p);
	if (event_initialized(&p->ev))
		event_del(&p->ev);
	close(p->efd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
