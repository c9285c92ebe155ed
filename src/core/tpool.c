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
	int level;	      /* the guard's: LEVEL_* */
	int strong_denied;    /* LEVEL_STRONG refused: not tried again */
	int thread_nice;      /* the threads' nice, the loop's + nice_inc */
	int loop_nice;	      /* the loop's, as the pool was made */
	unsigned ncpu;	      /* CPUs the process may run on, as the pool
				 was made (1 at least) */
	unsigned favour;      /* sl_tpool_favour's ratio, 0: off */
	uint64_t g_tick;      /* the guard's last look (monotonic ns) */
	uint64_t *g_since;    /* each thread's job's start then */
	uint64_t *g_cpu;      /* and its CPU clock then */
	uint64_t *g_scratch;  /* starved_ns's, 2 * nthreads */
	uint64_t *g_kept;     /* a job's time kept from the CPU by other work
				 than the pool's, since it started or the
				 level changed */
	uint64_t *run_hint;   /* each thread's job's hint_ns */
	atomic_int *favoured; /* each thread's job runs above the idle
				 class, short beside a long one */
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
/* a job is long, for sl_tpool_favour, from this cost or time on */
#define FAVOUR_MIN_NS 20000000u

/* The guard's steps (p->level). */
enum {
	LEVEL_IDLE,   /* jobs in the idle class */
	LEVEL_RAISED, /* jobs in the normal class, at the threads' nice */
	LEVEL_STRONG  /* and every thread at the loop's nice */
};

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

/*
 * Whether a job of hint mine is short beside one of hint theirs that has
 * run age ns (sl_tpool_favour): the other is long (FAVOUR_MIN_NS at
 * least, by its hint or by the time it has run) and ratio times mine at
 * least. A job without a hint (a client not seen yet) is short beside a
 * long one: it has not shown otherwise.
 */
static int
shorter(uint64_t mine, uint64_t theirs, uint64_t age, unsigned ratio)
{
	uint64_t other = theirs > age ? theirs : age;

	return ratio > 0 && other >= FAVOUR_MIN_NS && mine <= other / ratio;
}

/* At the start of thread me's job j (under mu, me in its normal class):
 * whether j runs above the idle class, short beside a long job running;
 * when j is long, the short jobs running beside it are raised now (their
 * threads see favoured after their own change of class, or this one
 * comes after it), and *under says so. */
static int
favour_start(struct sl_tpool *p, unsigned me, const struct sl_tjob *j,
	     uint64_t now, int *under)
{
	int fav = 0;

	*under = 0;
	if (p->favour == 0)
		return 0;
	for (unsigned k = 0; k < p->nthreads; k++) {
		uint64_t age;
		if (k == me || p->run_since[k] == 0)
			continue;
		age = now > p->run_since[k] ? now - p->run_since[k] : 0;
		if (shorter(j->hint_ns, p->run_hint[k], age, p->favour))
			fav = 1;
		else if (shorter(p->run_hint[k] > age ? p->run_hint[k] : age,
				 j->hint_ns, 0, p->favour)) {
			*under = 1;
			if (!atomic_load(&p->favoured[k])) {
				atomic_store(&p->favoured[k], 1);
				(void)set_class(p->tids[k], 0);
			}
		}
	}
	return fav;
}

/* Thread me's job j ended (under mu): out of the threads running, to
 * the ended list. A favoured job that ends was the last one above the
 * jobs that started idle under it while the threads were raised: they go
 * back to the pool's level now, not when the guard finds them kept from
 * the CPU (review of issue 77); at the idle level the idle class is
 * theirs. */
static void
job_end(struct sl_tpool *p, unsigned me, struct sl_tjob *j)
{
	int fav = atomic_load(&p->favoured[me]);

	p->nbusy--;
	p->run_since[me] = 0;
	atomic_store(&p->favoured[me], 0);
	for (unsigned k = 0; k < p->nthreads && fav; k++)
		if (p->run_since[k] != 0 && atomic_load(&p->favoured[k]))
			fav = 0; /* another still above them */
	if (fav && atomic_load(&p->raised))
		for (unsigned k = 0; k < p->nthreads; k++)
			if (p->run_since[k] != 0)
				(void)set_class(p->tids[k], 0);
	j->next = p->ended;
	p->ended = j;
	/* a job its flow's cap held back may go now, on another thread
	 * too */
	if (p->nqueued > 0 && p->cap > 0)
		pthread_cond_signal(&p->cv);
}

static void *
tpool_main(void *arg)
{
	struct sl_tpool *p = arg;
	struct sl_tjob *j;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	unsigned me;
	uint64_t c0;
	int idle, fav, nice_now, lng;

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
	/* the threads' nice, for the guard to put them back to */
	errno = 0;
	nice_now = getpriority(PRIO_PROCESS, (id_t)tid);
	if (errno == 0)
		p->thread_nice = nice_now;
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
		p->run_hint[me] = j->hint_ns;
		idle = p->idle;
		lng = 0;
		fav = idle && favour_start(p, me, j, j->run_ns, &lng);
		atomic_store(&p->favoured[me], fav);
		/* a long job beside a short one running starts idle even
		 * while the threads are raised, so that the short one has
		 * the CPU first where other work on it would otherwise make
		 * the two equals; the short one's end (job_end) or its
		 * favour's (favour_check) raises it, and so does the guard
		 * when it is kept from the CPU past the bound itself */
		pthread_mutex_unlock(&p->mu);
		if (p->busy != NULL)
			atomic_fetch_add_explicit(p->busy, 1,
						  memory_order_relaxed);
		/* the idle class for the job alone; raised meanwhile (the
		 * guard sets raised, then the classes of the threads in a
		 * job), the thread sees it after its own change, or the
		 * guard's change comes after that */
		if (idle && (!atomic_load(&p->raised) || lng) &&
		    !atomic_load(&p->favoured[me])) {
			(void)set_class(0, 1);
			if ((atomic_load(&p->raised) && !lng) ||
			    atomic_load(&p->favoured[me]))
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
		job_end(p, me, j);
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
	free(p->g_since);
	free(p->g_cpu);
	free(p->g_kept);
	free(p->g_scratch);
	free(p->run_hint);
	free(p->favoured);
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
	p->g_since = calloc(nthreads, sizeof(*p->g_since));
	p->g_cpu = calloc(nthreads, sizeof(*p->g_cpu));
	p->g_kept = calloc(nthreads, sizeof(*p->g_kept));
	p->g_scratch = calloc(2 * (size_t)nthreads, sizeof(*p->g_scratch));
	p->run_hint = calloc(nthreads, sizeof(*p->run_hint));
	p->favoured = calloc(nthreads, sizeof(*p->favoured));
	if (p->flows == NULL || p->hash == NULL || p->tids == NULL ||
	    p->run_since == NULL || p->run_flow == NULL || p->run_cpu == NULL ||
	    p->cpu_clock == NULL || p->g_since == NULL || p->g_cpu == NULL ||
	    p->g_kept == NULL || p->g_scratch == NULL || p->run_hint == NULL ||
	    p->favoured == NULL)
		goto fail0;
	/* the loop's nice: where the guard's strongest step puts the
	 * threads */
	errno = 0;
	p->loop_nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
	if (p->loop_nice == -1 && errno != 0)
		p->loop_nice = 0;
	{
		cpu_set_t set;
		p->ncpu = sched_getaffinity(0, sizeof(set), &set) == 0
			      ? (unsigned)CPU_COUNT(&set)
			      : 1;
		if (p->ncpu == 0)
			p->ncpu = 1;
	}
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
sl_tpool_favour(struct sl_tpool *p, unsigned ratio)
{
	pthread_mutex_lock(&p->mu);
	p->favour = ratio;
	pthread_mutex_unlock(&p->mu);
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
	struct rlimit lim;

	if (getrlimit(RLIMIT_NICE, &lim) == 0 &&
	    (lim.rlim_cur == RLIM_INFINITY ||
	     lim.rlim_cur >= (rlim_t)(20 - nice)))
		return 1;
	return syscall(SYS_capget, &h, d) == 0 &&
	       (d[CAP_TO_INDEX(CAP_SYS_NICE)].effective &
		CAP_TO_MASK(CAP_SYS_NICE)) != 0;
}

/* Thread i's CPU clock (0: unknown). */
static uint64_t
thread_cpu(const struct sl_tpool *p, unsigned i)
{
	struct timespec ts;

	if (p->cpu_clock[i] == (clockid_t)-1 ||
	    clock_gettime(p->cpu_clock[i], &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The guard's look starts again at now: what the jobs running were kept
 * from the CPU is forgotten (under mu; at a change of level, and when the
 * guard starts after a rest). */
static void
guard_reset(struct sl_tpool *p, uint64_t now)
{
	for (unsigned i = 0; i < p->nthreads; i++) {
		p->g_cpu[i] = thread_cpu(p, i);
		p->g_since[i] = p->run_since[i];
		p->g_kept[i] = 0;
	}
	p->g_tick = now;
}

/*
 * At the guard's look (under mu): a favour is decided at its job's start
 * from its client's mean cost, which one costly request of a cheap
 * client (or of one not seen yet) belies; so it holds while its job has
 * run less than a long one's bound (FAVOUR_MIN_NS) and is still short
 * beside one running under it (its hint or its run time, the larger,
 * against the other's), and no longer (review of issue 77). When the
 * last favour goes, the threads under it leave the idle class: the jobs
 * are equals then (a thread in a job is never moved down: it would end
 * the job with the pool's lock in the idle class).
 */
static void
favour_check(struct sl_tpool *p, uint64_t now)
{
	int dropped = 0, left = 0;

	for (unsigned i = 0; i < p->nthreads; i++) {
		uint64_t age, mine;
		int keep = 0;
		if (p->run_since[i] == 0 || !atomic_load(&p->favoured[i]))
			continue;
		age = now > p->run_since[i] ? now - p->run_since[i] : 0;
		mine = p->run_hint[i] > age ? p->run_hint[i] : age;
		for (unsigned k = 0; k < p->nthreads && age < FAVOUR_MIN_NS;
		     k++) {
			if (k == i || p->run_since[k] == 0 ||
			    atomic_load(&p->favoured[k]))
				continue;
			keep |= shorter(
			    mine, p->run_hint[k],
			    now > p->run_since[k] ? now - p->run_since[k] : 0,
			    p->favour);
		}
		if (keep)
			left = 1;
		else {
			atomic_store(&p->favoured[i], 0);
			dropped = 1;
		}
	}
	if (dropped && !left)
		for (unsigned k = 0; k < p->nthreads; k++)
			if (p->run_since[k] != 0)
				(void)set_class(p->tids[k], 0);
}

/*
 * The most a job now running has been kept from the CPU by other work
 * than the pool's own, since it started or the level changed (under mu; 0:
 * none), from each thread's CPU clock now in p->g_scratch (starved_ns
 * reads them; a test gives its own): at each look, its wall time since
 * the last, less its thread's CPU time, less the CPU time the pool's
 * other threads had over the CPUs the process may use. The pool's own
 * threads are load, not starvation: raising all of them would take
 * nothing from each other; but they took a thread's CPU only where they
 * shared it, and on N CPUs a thread starved by other work beside one of
 * the pool's running freely on the next CPU would lose nothing if all
 * their time were taken off (review of issue 77). Over N, their time
 * hides a thread's loss only as far as they kept all N CPUs busy, when
 * raising it would take from them alone; else the loss counts, less at
 * most their time over N: a thread starved by other work is raised later
 * than on one CPU (twice as late at most, with two threads), never not at
 * all. A job that a short one runs above (sl_tpool_favour) is kept from
 * the CPU by design, and is not counted while the favour holds.
 */
static uint64_t
guard_look(struct sl_tpool *p, uint64_t now)
{
	uint64_t most = 0, sum = 0;
	uint64_t *c = p->g_scratch, *d = p->g_scratch + p->nthreads;
	int fav = 0;

	favour_check(p, now);
	for (unsigned i = 0; i < p->nthreads; i++) {
		d[i] = c[i] > p->g_cpu[i] ? c[i] - p->g_cpu[i] : 0;
		sum += d[i];
		fav |= p->run_since[i] != 0 && atomic_load(&p->favoured[i]);
	}
	for (unsigned i = 0; i < p->nthreads; i++) {
		uint64_t from, own, wall;
		uint64_t others = (sum - d[i]) / p->ncpu;
		if (p->run_since[i] == 0 || c[i] == 0)
			continue;
		if (p->run_since[i] != p->g_since[i]) {
			/* a job started since the last look */
			p->g_kept[i] = 0;
			from = p->run_since[i];
			own = c[i] > p->run_cpu[i] ? c[i] - p->run_cpu[i] : 0;
		} else {
			from = p->g_tick;
			own = d[i];
		}
		wall = now > from ? now - from : 0;
		if (!(fav && !atomic_load(&p->favoured[i])) &&
		    wall > own + others)
			p->g_kept[i] += wall - own - others;
		if (p->g_kept[i] > most)
			most = p->g_kept[i];
	}
	for (unsigned i = 0; i < p->nthreads; i++) {
		if (c[i] != 0)
			p->g_cpu[i] = c[i];
		p->g_since[i] = p->run_since[i];
	}
	p->g_tick = now;
	return most;
}

/* guard_look on the threads' CPU clocks now (under mu). */
static uint64_t
starved_ns(struct sl_tpool *p, uint64_t now)
{
	for (unsigned i = 0; i < p->nthreads; i++)
		p->g_scratch[i] = thread_cpu(p, i);
	return guard_look(p, now);
}

/*
 * The guard's next level (pure): from level, with a job kept from the CPU
 * starved ns of the guard's bound guard (since it started or the level
 * changed), and whether the hold is over. One step up when starved past
 * the bound (to LEVEL_STRONG only when strong_ok); down to LEVEL_IDLE when
 * the hold is over and none is kept from the CPU half the bound; else
 * where it is. *hold says the hold starts again (a step up, or starved
 * half the bound).
 */
static int
guard_next(int level, uint64_t starved, uint64_t guard, int strong_ok,
	   int hold_over, int *hold)
{
	*hold = 0;
	if (starved > guard &&
	    (level == LEVEL_IDLE || (level == LEVEL_RAISED && strong_ok))) {
		*hold = 1;
		return level + 1;
	}
	if (level != LEVEL_IDLE && starved > guard / 2) {
		*hold = 1;
		return level;
	}
	if (level != LEVEL_IDLE && hold_over)
		return LEVEL_IDLE;
	return level;
}

/* Every thread's nice to nice (under mu). 0, or -1 when one was refused
 * (the others keep theirs: the caller puts them back). */
static int
set_nice_all(struct sl_tpool *p, int nice)
{
	int r = 0;

	for (unsigned i = 0; i < p->nthreads; i++)
		if (setpriority(PRIO_PROCESS, (id_t)p->tids[i], nice) != 0)
			r = -1;
	return r;
}

static void
guard_arm(struct sl_tpool *p)
{
	struct timeval tv = {(time_t)(p->guard_ns / 1000000000u),
			     (suseconds_t)(p->guard_ns % 1000000000u / 1000)};

	p->guard_armed = event_add(&p->guard_ev, &tv) == 0;
}

/* The guard's tick, every guard_ns while jobs run or the threads are
 * raised (guard_next): a job kept from the CPU longer than the bound
 * raises the threads in a job (the others are in their normal class
 * already), and the jobs that start then stay out of the idle class; kept
 * that long again, every thread goes to the loop's nice; a second later,
 * with none kept from it half the bound, the threads go back to their
 * nice and the next jobs to the idle class. */
static void
guard_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sl_tpool *p = arg;
	uint64_t now = mono_ns(), starved;
	int busy, hold, level;

	(void)fd;
	(void)what;
	p->guard_armed = 0;
	pthread_mutex_lock(&p->mu);
	starved = starved_ns(p, now);
	busy = p->nqueued > 0 || p->nbusy > 0;
	level = guard_next(p->level, starved, p->guard_ns,
			   !p->strong_denied && p->loop_nice < p->thread_nice,
			   now >= p->raised_until, &hold);
	if (level == LEVEL_RAISED && p->level == LEVEL_IDLE) {
		int moved = 0;
		atomic_store(&p->raised, 1);
		for (unsigned i = 0; i < p->nthreads; i++)
			if (p->run_since[i] != 0)
				moved += set_class(p->tids[i], 0) == 0;
		if (moved > 0 && p->raises != NULL)
			atomic_fetch_add_explicit(p->raises, 1,
						  memory_order_relaxed);
	} else if (level == LEVEL_STRONG && p->level == LEVEL_RAISED) {
		if (set_nice_all(p, p->loop_nice) == 0) {
			if (p->raises != NULL)
				atomic_fetch_add_explicit(p->raises, 1,
							  memory_order_relaxed);
		} else {
			/* not allowed here: raised as before */
			(void)set_nice_all(p, p->thread_nice);
			p->strong_denied = 1;
			level = LEVEL_RAISED;
		}
	} else if (level == LEVEL_IDLE && p->level != LEVEL_IDLE) {
		if (p->level == LEVEL_STRONG)
			(void)set_nice_all(p, p->thread_nice);
		atomic_store(&p->raised, 0);
	} else if (level != LEVEL_IDLE && level == p->level) {
		/* raised: a long job that started idle (see tpool_main) and
		 * is kept from the CPU past the bound itself */
		for (unsigned i = 0; i < p->nthreads; i++)
			if (p->run_since[i] != 0 && p->g_kept[i] > p->guard_ns)
				(void)set_class(p->tids[i], 0);
	}
	if (level != p->level)
		guard_reset(p, now);
	p->level = level;
	if (hold)
		p->raised_until = now + GUARD_HOLD_NS;
	pthread_mutex_unlock(&p->mu);
	if (busy || level != LEVEL_IDLE)
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

/* Whether j, just queued, waits behind others (under mu): its flow has
 * its share of the threads, or the jobs that may run no fewer threads
 * than are free. With a share, the jobs of a flow that has its share do
 * not take a free thread (issue 77: another client's request beside one
 * client's burst finds a thread, and is not counted as waiting). */
static int
must_wait(struct sl_tpool *p, const struct sl_tjob *j)
{
	unsigned free_th = p->nthreads - p->nbusy, ahead = 0;
	const struct tlist *ls[2] = {&p->fresh, &p->old};

	if (p->cap > 0 && running(p, j->flow) >= p->cap)
		return 1;
	if (p->nqueued <= free_th)
		return 0; /* every job waiting, j's too, has a thread */
	/* no thread free, or no share: behind the others, no walk (a
	 * submit holds the lock the threads wait on) */
	if (p->cap == 0 || free_th == 0)
		return 1;
	for (unsigned i = 0; i < 2; i++)
		for (const struct tflow *f = ls[i]->head; f != NULL;
		     f = f->next) {
			unsigned run = running(p, f->key);
			unsigned room = run < p->cap ? p->cap - run : 0;
			unsigned n = f->key == j->flow ? f->n - 1 : f->n;
			if (f->key == j->flow && n >= room)
				return 1; /* its own take its share */
			ahead += n < room ? n : room;
			if (ahead >= free_th)
				return 1; /* the rest cannot change it */
		}
	return 0;
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
	waits = must_wait(p, j);
	/* the guard starts after a rest: what the threads did before is
	 * not this look's */
	if (p->idle && !p->guard_armed)
		guard_reset(p, mono_ns());
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
