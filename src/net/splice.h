/* SPDX-License-Identifier: MIT */
/*
 * Moving a request body from the client's socket to the upstream's in the
 * kernel: splice(2) through a pipe, so that the bytes never pass through
 * sluice's buffers (doc/design-notes.md, "Spliced request bodies"). A
 * worker keeps its pipes in a small pool: a pipe is taken when a body
 * starts going this way and given back, empty, when it is done; one that
 * still holds bytes (the exchange ended early) is closed instead. Not
 * thread-safe: each worker has its own pool.
 */
#ifndef SL_SPLICE_H
#define SL_SPLICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wpools.h" /* struct sl_pipes, embedded in the worker */

/* Pipes one worker may have in use at once (two descriptors each), and
 * empty ones it keeps for the next body. */
#define SL_PIPES_MAX_INUSE 256
#define SL_PIPES_MAX_FREE  16

struct sl_pipe {
	int rd, wr;
	uint32_t held; /* bytes in it, taken from one socket and not yet
			  given to the other */
	struct sl_pipe *next;
};

void sl_pipes_init(struct sl_pipes *pp);
/* Closes the free pipes (the worker's end; every pipe is back by then). */
void sl_pipes_drain(struct sl_pipes *pp);
/* A pipe, empty; NULL when the worker has SL_PIPES_MAX_INUSE in use or
 * the system gives no more (errno says which: EMFILE, ENFILE, ENOMEM;
 * EBUSY for the limit). */
struct sl_pipe *sl_pipe_get(struct sl_pipes *pp);
/* Gives p back: kept for the next body when it is empty and the pool is
 * not full, closed otherwise. */
void sl_pipe_put(struct sl_pipes *pp, struct sl_pipe *p);

/*
 * Moves up to max bytes from the socket fd into p (max is what the body
 * still owes: never a byte of what follows it). Returns the bytes moved,
 * 0 at the end of the stream, or -1 with errno (EAGAIN: nothing to read,
 * or the pipe is full).
 */
ssize_t sl_splice_in(struct sl_pipe *p, int fd, size_t max);
/*
 * 1 when splicing from the TCP socket fd cannot go on though bytes wait:
 * sl_splice_in said EAGAIN on a readable socket because it stands at
 * urgent data (a byte the peer sent with MSG_OOB). splice(2) stops at the
 * urgent mark and moves nothing more while epoll keeps reporting the
 * socket readable; recv() passes the mark, so the caller reads on that
 * way. One ioctl (SIOCATMARK: FIONREAD says 0 at the mark).
 */
int sl_splice_stuck(int fd);
/* Moves what p holds to the socket fd. Returns the bytes moved (p->held
 * is what is left), or -1 with errno (EAGAIN: the socket is full). */
ssize_t sl_splice_out(struct sl_pipe *p, int fd);

#endif
