/* SPDX-License-Identifier: MIT */
/*
 * wakecost -- what one sleep in epoll_wait costs the sleeper, in the CPU
 * time the kernel charges it (utime + stime, as the bench reads them).
 *
 * Thread A, on CPU 0, waits in epoll_wait on an eventfd; thread B, on
 * CPU 1, wakes it, waits for its answer, spins GAP microseconds and wakes
 * it again. A does no work but the read and write of one eventfd each, so
 * its CPU per wake cycle is the price of going to sleep and being woken.
 *
 *   cc -O2 -pthread -o wakecost contrib/bench/wakecost.c
 *   ./wakecost [GAP_US] [SECONDS]        (defaults 20 and 4)
 *
 * Used in doc/performance.md ("What a sleep costs"). Needs 2 CPUs.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int to_a, to_b;
static atomic_int stop;
static atomic_long cycles;
static atomic_int tid_a;
static long gap_ns;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int
wait_on(int fd)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};

	if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		perror("epoll");
		exit(1);
	}
	return ep;
}

static void *
sleeper(void *arg)
{
	struct epoll_event ev;
	uint64_t v = 1;
	int ep;

	(void)arg;
	pin(0);
	atomic_store(&tid_a, (int)syscall(SYS_gettid));
	ep = wait_on(to_a);
	while (!atomic_load(&stop)) {
		if (epoll_wait(ep, &ev, 1, 100) != 1)
			continue;
		if (read(to_a, &v, sizeof(v)) != sizeof(v))
			continue;
		v = 1;
		if (write(to_b, &v, sizeof(v)) != sizeof(v))
			break;
		atomic_fetch_add(&cycles, 1);
	}
	return NULL;
}

static void *
waker(void *arg)
{
	struct epoll_event ev;
	uint64_t v = 1, until;
	int ep;

	(void)arg;
	pin(1);
	ep = wait_on(to_b);
	while (!atomic_load(&stop)) {
		v = 1;
		if (write(to_a, &v, sizeof(v)) != sizeof(v))
			break;
		while (epoll_wait(ep, &ev, 1, 100) != 1)
			if (atomic_load(&stop))
				return NULL;
		if (read(to_b, &v, sizeof(v)) != sizeof(v))
			break;
		for (until = now_ns() + (uint64_t)gap_ns; now_ns() < until;)
			;
	}
	return NULL;
}

/* utime + stime of one thread, in clock ticks */
static long
thread_ticks(int tid)
{
	char path[64], line[1024], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL)
		return -1;
	/* after ")": state is field 3; utime and stime are fields 14, 15 */
	for (int i = 0; i < 12 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, "%lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

int
main(int argc, char **argv)
{
	long gap_us = argc > 1 ? atol(argv[1]) : 20;
	int secs = argc > 2 ? atoi(argv[2]) : 4;
	double hz = (double)sysconf(_SC_CLK_TCK);
	pthread_t a, b;
	long n0, n1, t0, t1;

	if (gap_us < 0 || secs < 1) {
		fprintf(stderr, "usage: wakecost [GAP_US] [SECONDS]\n");
		return 2;
	}
	gap_ns = gap_us * 1000;
	to_a = eventfd(0, EFD_NONBLOCK);
	to_b = eventfd(0, EFD_NONBLOCK);
	if (to_a == -1 || to_b == -1 ||
	    pthread_create(&a, NULL, sleeper, NULL) != 0 ||
	    pthread_create(&b, NULL, waker, NULL) != 0) {
		perror("wakecost");
		return 1;
	}
	sleep(1); /* warm up */
	n0 = atomic_load(&cycles);
	t0 = thread_ticks(atomic_load(&tid_a));
	sleep((unsigned)secs);
	n1 = atomic_load(&cycles);
	t1 = thread_ticks(atomic_load(&tid_a));
	atomic_store(&stop, 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	if (t0 < 0 || t1 < 0 || n1 <= n0) {
		fprintf(stderr, "wakecost: no measurement\n");
		return 1;
	}
	printf("gap %ld us: %.0f wake cycles/s, sleeper CPU %.2f us per "
	       "cycle (%.0f%% of its wall time)\n",
	       gap_us, (double)(n1 - n0) / secs,
	       (double)(t1 - t0) / hz * 1e6 / (double)(n1 - n0),
	       100.0 * (double)(t1 - t0) / hz / secs);
	return 0;
}
