/* SPDX-License-Identifier: MIT */
/*
 * A worker's pool of threads (tpool.h). One mutex guards the flows of
 * waiting jobs and the list of ended ones; a condition wakes the threads;
 * an eventfd wakes the loop, which takes the ended list whole and calls
 * each job's done. A job is a few instructions of locking at each end of
 * milliseconds of work.
 *
 * The waiting jobs are kept by flow, each with its jobs in order, found
 * by a small hash of their keys, on one of two lists: the new flows (no
 * job of theirs taken since they came) and the old. A thread takes the
 * first job of the first new flow, else of the first old one; a flow
 * that still has jobs goes to the old list's end: one job of each flow
 * in turn (round robin, as a fair queue of equal weights), and a client
 * that comes while another's burst waits is next, not behind the turn of
 * the flow being served (fq_codel's new flows, RFC 8290). A flow with a
 * job running is not new: its turn is that job. Flows come
 * from an array made with the pool: there are never more than jobs
 * waiting.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tpool.h"

/* The jobs of one flow that wait. */
struct tflow {
	uint64_t key;
	struct sl_tjob *head, *tail;
	unsigned n;
	struct tflow *next;  /* in its list, or free */
	struct tflow *hnext; /* in its hash chain */
	int fresh;	     /* on the new list */
	int64_t prio;	     /* its latest job's */
};

/* A list of flows. */
struct tlist {
	struct tflow *head, *tail;
};

struct sl_tpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tlist fresh, old; /* flows with jobs waiting, in turn */
	struct tflow *free_flows;
	struct tflow **hash; /* nhash chains */
	unsigned nhash;
	struct sl_tjob *ended; /* ended, for the loop (any order) */
	unsigned nqueued, max_queued;
	unsigned nbusy;	   /* threads running a job */
	unsigned nstarted; /* threads that said their id */
	unsigned cap;	   /* threads one flow may hold (sl_tpool_share),
			      0: any */
	int stopping;
	int efd;
	int nice_inc;
	atomic_uint_fast64_t *busy;   /* sl_tpool_gauge's, or NULL */
	atomic_uint_fast64_t *queued; /* the jobs waiting, or NULL */
	/* the idle class (sl_tpool_idle): a thread is in it only while it
	 * runs a job, never while it holds mu (a thread of the idle class
	 * preempted with the lock would hold the loop as long as the CPU
	 * is busy elsewhere). raised is the guard's (the loop's), read by
	 * the threads as they start a job: atomic */
	int idle;
	atomic_int raised;
	uint64_t guard_ns, raised_until;
	atomic_uint_fast64_t *raises;
	struct event guard_ev;
	int guard_armed;
	struct tflow *flows;  /* the array */
	pid_t *tids;	      /* each thread's, for the guard */
	uint64_t *run_since;  /* each thread's job's start, 0: none */
	uint64_t *run_cpu;    /* and the thread's CPU time then */
	clockid_t *cpu_clock; /* each thread's CPU clock, for the guard */
	struct tflow *big;    /* a flow holding the most waiting jobs, or
				 one that did (NULL: none known) */
	uint64_t *run_flow;   /* and its flow */
	struct event ev;
	unsigned nthreads;
	pthread_t th[];
};

/* nice's highest value (the lowest priority) */
#define SL_MIN_NICE(v) ((v) > 19 ? 19 : (v))
/* the guard keeps the threads raised this long at least */
#define GUARD_HOLD_NS 1000000000u

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

/* The gauge of waiting jobs, after a change (under mu). */
static void
queued_gauge(struct sl_tpool *p)
{
	if (p->queued != NULL)
		atomic_store_explicit(p->queued, p->nqueued,
				      memory_order_relaxed);
}

/* ---- flows (under mu) ---------------------------------------------------- */

static struct tflow **
flow_slot(struct sl_tpool *p, uint64_t key)
{
	/* the key is a hash already (the caller's) */
	struct tflow **pp = &p->hash[(key ^ (key >> 29)) & (p->nhash - 1)];

	while (*pp != NULL && (*pp)->key != key)
		pp = &(*pp)->hnext;
	return pp;
}

static void
list_append(struct tlist *l, struct tflow *f)
{
	f->next = NULL;
	if (l->tail != NULL)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
}

/* Unlinks f from l, prev the flow before it (NULL: the first). */
static void
list_unlink(struct tlist *l, struct tflow *f, struct tflow *prev)
{
	if (prev != NULL)
		prev->next = f->next;
	else
		l->head = f->next;
	if (l->tail == f)
		l->tail = prev;
}

/* Unlinks f from its list (a walk: only a cancel's and a shed's). */
static void
list_remove(struct tlist *l, struct tflow *f)
{
	struct tflow *prev = NULL, *q;

	for (q = l->head; q != f; q = q->next)
		prev = q;
	list_unlink(l, f, prev);
}

/* f, out of its list, has no job left: out of its hash chain, free. */
static void
flow_free(struct sl_tpool *p, struct tflow *f)
{
	*flow_slot(p, f->key) = f->hnext;
	if (p->big == f)
		p->big = NULL;
	f->next = p->free_flows;
	p->free_flows = f;
}

/* Takes j out of flow f's jobs (j waits there), counted; f stays where
 * it is. */
static void
job_unlink(struct sl_tpool *p, struct tflow *f, struct sl_tjob *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		f->head = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	else
		f->tail = j->prev;
	j->queued = 0;
	f->n--;
	p->nqueued--;
	queued_gauge(p);
}

/* Takes j out of flow f's jobs, and f away when it has none left. */
static void
flow_unlink(struct sl_tpool *p, struct tflow *f, struct sl_tjob *j)
{
	job_unlink(p, f, j);
	if (f->n == 0) {
		list_remove(f->fresh ? &p->fresh : &p->old, f);
		flow_free(p, f);
	}
}

/* Jobs of flow key running now (under mu). */
static unsigned
running(const struct sl_tpool *p, uint64_t key)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->nthreads; i++)
		n += p->run_since[i] != 0 && p->run_flow[i] == key;
	return n;
}

/* In l, the flow of the highest priority (the first of those) whose
 * jobs run on fewer than the cap's threads (cap 0: any), if higher than
 * *best's; *prev the one before it, *in its list. */
static void
best_of(struct sl_tpool *p, struct tlist *l, unsigned cap, struct tflow **best,
	struct tflow **prev, struct tlist **in)
{
	struct tflow *before = NULL;

	for (struct tflow *f = l->head; f != NULL; before = f, f = f->next)
		if ((*best == NULL || f->prio > (*best)->prio) &&
		    (cap == 0 || running(p, f->key) < cap)) {
			*best = f;
			*prev = before;
			*in = l;
		}
}

/*
 * The next job in turn, or NULL: of the flow of the highest priority
 * (the caller's, of its latest job: the WAF's is what its client has
 * left of its budget, so that a client that spent less goes first, fair
 * in thread time and not only in turns), and among equals in turn. A
 * walk of the flows waiting: a handful, the queue's bound at most. A
 * flow already running on cap threads
 * waits for one of them (cap 0: none does): with sl_tpool_share, one
 * client never holds every thread, so another's request finds one free
 * when there is more than one (issue 63). The cap costs a walk of the
 * running threads a flow: a handful.
 */
static struct sl_tjob *
take(struct sl_tpool *p, unsigned cap)
{
	struct tlist *l = NULL;
	struct tflow *f = NULL, *prev = NULL;
	struct sl_tjob *j;

	/* the highest priority; among equals, the new flows first, then
	 * the old in turn */
	best_of(p, &p->fresh, cap, &f, &prev, &l);
	best_of(p, &p->old, cap, &f, &prev, &l);
	if (f == NULL)
		return NULL;
	j = f->head;
	job_unlink(p, f, j);
	/* its turn is over: out of its list, to the old list's end while
	 * it has jobs */
	list_unlink(l, f, prev);
	if (f->n == 0)
		flow_free(p, f);
	else {
		f->fresh = 0;
		list_append(&p->old, f);
	}
	return j;
}

/* ---- the threads --------------------------------------------------------- */

static int
set_class(pid_t tid, int idle)
{
	struct sched_param sp = {0};

	return sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, &sp);
}

static void *
tpool_main(void *arg)
{
	struct sl_tpool *p = arg;
	struct sl_tjob *j;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	unsigned me;
	uint64_t c0;
	int idle;

	if (p->nice_inc > 0) {
		/* lower than the loops, whatever their own nice: the
		 * thread's value is set, so it is theirs plus nice_inc */
		int now;
		errno = 0;
		now = getpriority(PRIO_PROCESS, (id_t)tid);
		if (errno == 0)
			(void)setpriority(PRIO_PROCESS, (id_t)tid,
					  SL_MIN_NICE(now + p->nice_inc));
	}
	pthread_mutex_lock(&p->mu);
	me = p->nstarted++;
	p->tids[me] = tid;
	if (pthread_getcpuclockid(pthread_self(), &p->cpu_clock[me]) != 0)
		p->cpu_clock[me] = (clockid_t)-1;
	pthread_cond_broadcast(&p->cv);
	for (;;) {
		while ((j = take(p, p->cap)) == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (j == NULL)
			break;
		p->nbusy++;
		c0 = cpu_ns();
		j->run_ns = mono_ns();
		p->run_since[me] = j->run_ns;
		p->run_cpu[me] = c0;
		p->run_flow[me] = j->flow;
		idle = p->idle;
		pthread_mutex_unlock(&p->mu);
		if (p->busy != NULL)
			atomic_fetch_add_explicit(p->busy, 1,
						  memory_order_relaxed);
		/* the idle class for the job alone; raised meanwhile (the
		 * guard sets raised, then the classes of the threads in a
		 * job), the thread sees it after its own change, or the
		 * guard's change comes after that */
		if (idle && !atomic_load(&p->raised)) {
			(void)set_class(0, 1);
			if (atomic_load(&p->raised))
				(void)set_class(0, 0);
		}
		j->run(j);
		if (idle)
			(void)set_class(0, 0);
		j->cpu_ns = cpu_ns() - c0;
		j->end_ns = mono_ns();
		if (p->busy != NULL)
			atomic_fetch_sub_explicit(p->busy, 1,
						  memory_order_relaxed);
		pthread_mutex_lock(&p->mu);
		p->nbusy--;
		p->run_since[me] = 0;
		j->next = p->ended;
		p->ended = j;
		/* a job its flow's cap held back may go now, on another
		 * thread too */
		if (p->nqueued > 0 && p->cap > 0)
			pthread_cond_signal(&p->cv);
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
		/* shed, then the pool stopped before the loop saw it */
		if (j->dropped == SL_TJOB_SHED && p->stopping)
			j->dropped = SL_TJOB_STOPPING;
		j->done(j);
	}
}

static void
tpool_on_event(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	(void)!read(fd, &n, sizeof(n));
	tpool_reap(arg);
}

/* The pool's arrays, and the pool. */
static void
free_arrays(struct sl_tpool *p)
{
	free(p->flows);
	free(p->hash);
	free(p->tids);
	free(p->run_since);
	free(p->run_flow);
	free(p->run_cpu);
	free(p->cpu_clock);
	free(p);
}

struct sl_tpool *
sl_tpool_new(struct event_base *base, unsigned nthreads, unsigned max_queued,
	     int nice_inc)
{
	struct sl_tpool *p;
	/* at most this many jobs wait at once (sl_tpool_submit's bound),
	 * each flow holding one at least */
	unsigned nflows = max_queued + nthreads;

	if ((p = calloc(1, sizeof(*p) + nthreads * sizeof(pthread_t))) == NULL)
		return NULL;
	p->max_queued = max_queued;
	p->nice_inc = nice_inc;
	for (p->nhash = 8; p->nhash < nflows && p->nhash < (1u << 20);)
		p->nhash *= 2;
	p->flows = calloc(nflows, sizeof(*p->flows));
	p->hash = calloc(p->nhash, sizeof(*p->hash));
	p->tids = calloc(nthreads, sizeof(*p->tids));
	p->run_since = calloc(nthreads, sizeof(*p->run_since));
	p->run_flow = calloc(nthreads, sizeof(*p->run_flow));
	p->run_cpu = calloc(nthreads, sizeof(*p->run_cpu));
	p->cpu_clock = calloc(nthreads, sizeof(*p->cpu_clock));
	if (p->flows == NULL || p->hash == NULL || p->tids == NULL ||
	    p->run_since == NULL || p->run_flow == NULL || p->run_cpu == NULL ||
	    p->cpu_clock == NULL)
		goto fail0;
	for (unsigned i = 0; i < nflows; i++) {
		p->flows[i].next = p->free_flows;
		p->free_flows = &p->flows[i];
	}
	if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail0;
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
	/* each thread's id, for the guard: said as it starts */
	pthread_mutex_lock(&p->mu);
	while (p->nstarted < p->nthreads)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return p;
fail:
	sl_tpool_free(p);
	errno = ENOMEM;
	return NULL;
fail0:
	free_arrays(p);
	errno = ENOMEM;
	return NULL;
}

void
sl_tpool_gauge(struct sl_tpool *p, atomic_uint_fast64_t *busy,
	       atomic_uint_fast64_t *queued)
{
	p->busy = busy;
	p->queued = queued;
}

void
sl_tpool_share(struct sl_tpool *p, unsigned cap)
{
	pthread_mutex_lock(&p->mu);
	p->cap = cap;
	pthread_mutex_unlock(&p->mu);
}

/* ---- the idle class and its guard ---------------------------------------- */

/* Whether this process may move a thread of nice `nice` from SCHED_IDLE
 * back to SCHED_OTHER (sched(7)): with CAP_SYS_NICE, or an RLIMIT_NICE
 * that allows that nice. */
static int
can_leave_idle(int nice)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	struct rlimit rl;

	if (getrlimit(RLIMIT_NICE, &rl) == 0 &&
	    (rl.rlim_cur == RLIM_INFINITY ||
	     rl.rlim_cur >= (rlim_t)(20 - nice)))
		return 1;
	return syscall(SYS_capget, &h, d) == 0 &&
	       (d[CAP_TO_INDEX(CAP_SYS_NICE)].effective &
		CAP_TO_MASK(CAP_SYS_NICE)) != 0;
}

/* The most a job now running was kept from the CPU: its wall time
 * less its thread's CPU time since it started (under mu; 0: none). A
 * job that waits in the queue is load, not starvation, and is not
 * counted: threads outside a job are in their normal class. */
static uint64_t
starved_ns(struct sl_tpool *p, uint64_t now)
{
	uint64_t most = 0;
	struct timespec ts;

	for (unsigned i = 0; i < p->nthreads; i++) {
		uint64_t wall, cpu;
		if (p->run_since[i] == 0 || p->cpu_clock[i] == (clockid_t)-1 ||
		    clock_gettime(p->cpu_clock[i], &ts) != 0)
			continue;
		wall = now - p->run_since[i];
		cpu = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec -
		      p->run_cpu[i];
		if (wall > cpu && wall - cpu > most)
			most = wall - cpu;
	}
	return most;
}

static void
guard_arm(struct sl_tpool *p)
{
	struct timeval tv = {(time_t)(p->guard_ns / 1000000000u),
			     (suseconds_t)(p->guard_ns % 1000000000u / 1000)};

	p->guard_armed = event_add(&p->guard_ev, &tv) == 0;
}

/* The guard's tick, every guard_ns while jobs run or the threads are
 * raised: a job kept from the CPU longer than the bound raises the
 * threads in a job (the others are in their normal class already), and
 * the jobs that start then stay out of the idle class; a second later,
 * with none kept from it half the bound, the next jobs go back to it. */
static void
guard_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sl_tpool *p = arg;
	uint64_t now = mono_ns(), starved;
	int busy, raised = atomic_load(&p->raised);

	(void)fd;
	(void)what;
	p->guard_armed = 0;
	pthread_mutex_lock(&p->mu);
	starved = starved_ns(p, now);
	busy = p->nqueued > 0 || p->nbusy > 0;
	if (!raised && starved > p->guard_ns) {
		int moved = 0;
		atomic_store(&p->raised, raised = 1);
		for (unsigned i = 0; i < p->nthreads; i++)
			if (p->run_since[i] != 0)
				moved += set_class(p->tids[i], 0) == 0;
		if (moved > 0 && p->raises != NULL)
			atomic_fetch_add_explicit(p->raises, 1,
						  memory_order_relaxed);
	}
	if (raised && starved > p->guard_ns / 2)
		p->raised_until = now + GUARD_HOLD_NS;
	else if (raised && now >= p->raised_until)
		atomic_store(&p->raised, raised = 0);
	pthread_mutex_unlock(&p->mu);
	if (busy || raised)
		guard_arm(p);
}

int
sl_tpool_idle(struct sl_tpool *p, uint32_t guard_ms,
	      atomic_uint_fast64_t *raises)
{
	int nice;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, (id_t)p->tids[0]);
	if (errno != 0 || !can_leave_idle(nice)) {
		errno = EPERM;
		return -1;
	}
	if (event_assign(&p->guard_ev, event_get_base(&p->ev), -1, 0,
			 guard_tick, p) == -1) {
		errno = ENOMEM;
		return -1;
	}
	p->guard_ns = (uint64_t)guard_ms * 1000000u;
	p->raises = raises;
	pthread_mutex_lock(&p->mu);
	p->idle = 1; /* from the next job on */
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/* ---- the loop's side ----------------------------------------------------- */

/* The flow holding the most waiting jobs (under mu; the queue is full),
 * NULL: none. The one kept in p->big, which submit keeps as the flow
 * that grew the most, while it holds more than one: a flood of one
 * client costs no walk; else a walk of the lists, and the flood of many
 * clients that makes it long sheds nothing (each holds one). */
static struct tflow *
longest(struct sl_tpool *p)
{
	struct tflow *m = NULL;

	if (p->big != NULL && p->big->n > 1)
		return p->big;

	for (struct tflow *f = p->fresh.head; f != NULL; f = f->next)
		if (m == NULL || f->n > m->n)
			m = f;
	for (struct tflow *f = p->old.head; f != NULL; f = f->next)
		if (m == NULL || f->n > m->n)
			m = f;
	return p->big = m;
}

int
sl_tpool_submit(struct sl_tpool *p, struct sl_tjob *j)
{
	struct tflow **pp, *f;
	struct sl_tjob *shed = NULL;
	int waits;

	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	pp = flow_slot(p, j->flow);
	f = *pp;
	/* the queue bounds the jobs that wait for a thread: those that an
	 * idle thread is about to take do not count */
	if (p->nqueued >= p->max_queued + (p->nthreads - p->nbusy)) {
		struct tflow *m = longest(p);
		unsigned mine = f != NULL ? f->n : 0;
		if (m == NULL || m->n <= mine + 1) {
			/* shedding would not make it fairer */
			pthread_mutex_unlock(&p->mu);
			return mine > 0 ? -2 : -1;
		}
		shed = m->tail;
		flow_unlink(p, m, shed);
		shed->dropped = SL_TJOB_SHED;
		shed->next = p->ended;
		p->ended = shed;
	}
	if ((f = *pp) == NULL) {
		f = p->free_flows;
		p->free_flows = f->next;
		f->key = j->flow;
		f->head = f->tail = NULL;
		f->n = 0;
		f->hnext = NULL;
		f->fresh = running(p, j->flow) == 0;
		f->prio = j->prio;
		*pp = f;
		list_append(f->fresh ? &p->fresh : &p->old, f);
	}
	j->next = NULL;
	j->prev = f->tail;
	if (f->tail != NULL)
		f->tail->next = j;
	else
		f->head = j;
	f->tail = j;
	f->n++;
	f->prio = j->prio;
	if (p->big == NULL || f->n > p->big->n)
		p->big = f;
	j->queued = 1;
	j->queued_ns = mono_ns();
	j->run_ns = j->end_ns = j->cpu_ns = 0;
	j->dropped = 0;
	p->nqueued++;
	queued_gauge(p);
	/* behind others: every thread taken, or its flow's share */
	waits = p->nbusy + p->nqueued > p->nthreads ||
		(p->cap > 0 && running(p, j->flow) >= p->cap);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (shed != NULL)
		wake_loop(p); /* its done, from the loop's event */
	if (p->idle && !p->guard_armed)
		guard_arm(p);
	return waits;
}

int
sl_tpool_cancel(struct sl_tpool *p, struct sl_tjob *j)
{
	int found = 0;

	pthread_mutex_lock(&p->mu);
	if (j->queued) {
		flow_unlink(p, *flow_slot(p, j->flow), j);
		found = 1;
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
	struct sl_tjob *j, *drop = NULL, **dt = &drop;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	/* the waiting jobs, dropped in the order they would have run */
	while ((j = take(p, 0)) != NULL) {
		*dt = j;
		dt = &j->next;
	}
	*dt = NULL;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (; drop != NULL; drop = j) {
		j = drop->next;
		drop->dropped = SL_TJOB_STOPPING;
		drop->done(drop);
	}
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	tpool_reap(p);
	if (event_initialized(&p->guard_ev))
		event_del(&p->guard_ev);
	if (event_initialized(&p->ev))
		event_del(&p->ev);
	close(p->efd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free_arrays(p);
}
