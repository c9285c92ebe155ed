/* SPDX-License-Identifier: MIT */
/* Spliced request bodies: the pipe pool and the two moves (splice.h). */
#include "splice.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

void
sl_pipes_init(struct sl_pipes *pp)
{
	pp->free = NULL;
	pp->nfree = pp->inuse = 0;
	pp->max_inuse = SL_PIPES_MAX_INUSE;
}

static void
pipe_close(struct sl_pipe *p)
{
	(void)close(p->rd);
	(void)close(p->wr);
	free(p);
}

void
sl_pipes_drain(struct sl_pipes *pp)
{
	struct sl_pipe *p;

	while ((p = pp->free) != NULL) {
		pp->free = p->next;
		pipe_close(p);
	}
	pp->nfree = 0;
}

struct sl_pipe *
sl_pipe_get(struct sl_pipes *pp)
{
	struct sl_pipe *p = pp->free;
	int fds[2];

	if (pp->inuse >= pp->max_inuse) {
		errno = EBUSY;
		return NULL;
	}
	if (p != NULL) {
		pp->free = p->next;
		pp->nfree--;
	} else {
		if ((p = malloc(sizeof(*p))) == NULL)
			return NULL;
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
			int e = errno;
			free(p);
			errno = e;
			return NULL;
		}
		p->rd = fds[0];
		p->wr = fds[1];
	}
	p->held = 0;
	p->next = NULL;
	pp->inuse++;
	return p;
}

void
sl_pipe_put(struct sl_pipes *pp, struct sl_pipe *p)
{
	pp->inuse--;
	if (p->held != 0 || pp->nfree >= SL_PIPES_MAX_FREE) {
		pipe_close(p); /* its bytes are dropped with it */
		return;
	}
	p->next = pp->free;
	pp->free = p;
	pp->nfree++;
}

ssize_t
sl_splice_in(struct sl_pipe *p, int fd, size_t max)
{
	ssize_t n;

	do
		n = splice(fd, NULL, p->wr, NULL, max,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		p->held += (uint32_t)n;
	return n;
}

int
sl_splice_stuck(int fd)
{
	int atmark = 0;

	return ioctl(fd, SIOCATMARK, &atmark) == 0 && atmark != 0;
}

ssize_t
sl_splice_out(struct sl_pipe *p, int fd)
{
	ssize_t n;

	do
		n = splice(p->rd, NULL, fd, NULL, p->held,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		p->held -= (uint32_t)n;
	return n;
}
