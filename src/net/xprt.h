/* SPDX-License-Identifier: MIT */
/*
 * The transport seam: read, write, shut down, close, watch and ask about
 * one connection through a small operations table, one per kind of
 * transport: plain TCP and TLS (xprt.c, on tls.h), and a pair of ends
 * that hold their bytes in memory (xprt_mem.c), which lets a test drive a
 * client or an upstream connection without a socket, and a stream of an
 * HTTP/2 upstream connection (h2up.c), whose operations read and write
 * the stream's own buffers: no second end between the exchange and the
 * stream. client.c,
 * upstream.c and health.c read, write, shut down and close a connection only
 * through here; what they still do on the socket itself comes before a
 * transport is chosen or is about the socket, not the bytes (connect(), a
 * health check's PROXY header sent before TLS, the peek at a TLS listener's
 * first bytes, SO_SNDBUF). A connection names its transport by kind
 * (SL_XPRT_*: two bits a client connection keeps among its flags, a byte
 * of an upstream connection's, or the presence of a health check's SSL),
 * and passes each operation its descriptor (-1 on a memory end) and the
 * transport's context, x: NULL on TCP, the SSL on TLS, the end on memory.
 * What a call waits for is the transport's (*want): a TLS read may need
 * the socket writable first, and a TLS write readable; the caller turns
 * *want into read or write interest, and turns interest on and off
 * through watch, so that a transport with no descriptor can wake the
 * connection itself.
 */
#ifndef SL_XPRT_H
#define SL_XPRT_H

#include <errno.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tls.h"
#include "util.h"

struct event;

/* The kinds of transport; a kind is two bits (client.c keeps them in its
 * flags: C_F_TLS, C_F_MEM; upstream.c in a byte). */
enum sl_xprt_kind {
	SL_XPRT_TCP = 0,
	SL_XPRT_TLS = 1,
	SL_XPRT_MEM = 2,    /* xprt_mem.c, for tests */
	SL_XPRT_STREAM = 3, /* a stream of a connection sluice multiplexes
			       itself (an HTTP/2 upstream's, h2up.c): its
			       operations are its module's, given once by
			       sl_xprt_set_stream; upstream connections
			       only (a client's two bits never say 3) */
	SL_XPRT_NKINDS = 4
};

struct sl_xprt_ops {
	const char *name; /* "tcp", "tls", "mem" */
	/*
	 * Reads up to len bytes. Returns bytes read, 0 at the end of the
	 * stream, or -1 with errno (EAGAIN: *want says for what; EPROTO: a
	 * TLS error; ECONNRESET: a reset).
	 */
	ssize_t (*recv)(int fd, void *x, void *buf, size_t len, int *want);
	/*
	 * Writes iov[0..niov) (flags: MSG_MORE; TLS puts small pieces of
	 * one call into one record instead). Returns bytes taken, or -1 with
	 * errno (EAGAIN: *want says for what; call again starting with the
	 * same bytes).
	 */
	ssize_t (*sendv)(int fd, void *x, struct iovec *iov, int niov,
			 int flags, int *want);
	/* Ends the write side: close_notify first on TLS, then the FIN. */
	void (*shutdown)(int fd, void *x);
	/* How a connect in progress ended, once the connection is writable:
	 * 0 connected, EINPROGRESS not yet, else why it failed (TCP:
	 * SO_ERROR; memory: what the other end said). */
	int (*connect_error)(int fd, void *x);
	/* Bytes the transport holds that epoll cannot see (TLS: decrypted,
	 * or a close_notify read and not reported; memory: anything to
	 * read). */
	int (*pending)(int fd, void *x);
	/* 1 when more bytes are waiting: in the transport or in the
	 * kernel. */
	int (*more_waiting)(int fd, void *x);
	/* Plain-text bytes written but still in the kernel's send queue
	 * (TLS records are counted back to their contents; memory: not yet
	 * read by the other end). */
	int (*outq)(int fd, void *x);
	/* Bytes written but not sent yet: the peer's window has no room
	 * for them (TLS: record bytes). */
	int (*unsent)(int fd, void *x);
	/* Bytes a write is sure to be taken whole right now, or 0 when the
	 * caller should wait for writability instead (xprt.c, tcp_send_room,
	 * says how TCP's is counted); SIZE_MAX: no limit known. */
	size_t (*send_room)(int fd, void *x);
	/*
	 * Turns interest in ev on or off (event_add / event_del): ev is an
	 * event on fd for EV_READ or EV_WRITE whose callback reads or writes
	 * through this transport. TCP and TLS leave it to epoll; a memory
	 * end keeps ev and activates it when bytes, room, an end or a reset
	 * come. Returns event_add's or event_del's result.
	 */
	int (*watch)(int fd, void *x, struct event *ev, int on);
	/* The close that follows is a reset: what is queued is dropped and
	 * the peer is told so (TCP: SO_LINGER 0; TLS: no close_notify). */
	void (*abort)(int fd, void *x);
	/* Closes the connection and frees x (fd -1: none). notify: TLS sends
	 * its close_notify first (not in the middle of a handshake). */
	void (*close)(int fd, void *x, int notify);
	/* What the transport keeps per thread for reuse (the memory
	 * transport's pairs), freed: a worker's last step, and the main
	 * thread's after the workers' teardown. NULL: nothing. */
	void (*thread_free)(void);
};

extern const struct sl_xprt_ops *sl_xprt_table[SL_XPRT_NKINDS];

/* Each transport's thread_free, for the calling thread. */
void sl_xprt_thread_free(void);

/* Gives SL_XPRT_STREAM its operations: the module that multiplexes the
 * streams (h2up.c), which lives above this layer, once (pthread_once)
 * before its first stream; workers read the table afterwards. */
void sl_xprt_set_stream(const struct sl_xprt_ops *ops);

/* The operations of a kind of transport. */
static inline const struct sl_xprt_ops *
sl_xprt(unsigned kind)
{
	return sl_xprt_table[kind & (SL_XPRT_NKINDS - 1)];
}

/* The pending operation of a kind of transport, without a call for TCP,
 * which holds nothing (the data path asks once or twice per request). */
static inline int
sl_xprt_pending(unsigned kind, int fd, void *x)
{
	kind &= SL_XPRT_NKINDS - 1;
	return kind != SL_XPRT_TCP && sl_xprt(kind)->pending(fd, x);
}

/* ---- the memory transport (xprt_mem.c), for tests ----------------------
 * A pair of ends, each holding the bytes the other wrote until they are
 * read. One end is a connection's (its kind SL_XPRT_MEM, its descriptor
 * -1, its events assigned on -1 and armed through watch); the other is
 * the test's, which writes, reads, shuts down and resets through the
 * functions below (or the same operations) and runs the event loop to let
 * the connection act. An end activates the events its connection watches
 * whenever what they wait for is there (level-triggered, as epoll is):
 * bytes or an end or a reset to read, room to write. A test sets how much
 * an end takes in (its window), so that a slow reader is deterministic.
 * An end closed after an abort, or with bytes it had not read, resets the
 * connection, as TCP does; the bytes the other end already holds are
 * still read before the reset is (ECONNRESET).
 * A pair may also stand for a connect in progress (an upstream's, made by
 * a test's connector: upstream.h): held, the connecting end can neither
 * read nor write until the test's end accepts or refuses, and its
 * connect_error says which.
 */
struct sl_xprt_mem;

/* Its operations, the table's SL_XPRT_MEM once a pair was made: the
 * table does not name them, so that the daemon, which makes none, does not
 * carry the memory transport (issue 79). */
extern const struct sl_xprt_ops sl_xprt_mem_ops;

/* A connected pair: *a and *b, each the other's peer; the first puts the
 * transport in the table. Returns 0, or -1 when out of memory. */
int sl_xprt_mem_pair(struct sl_xprt_mem **a, struct sl_xprt_mem **b);

/* Frees the pairs the calling thread keeps for reuse (a pair whose two
 * ends closed is kept, with its buffers, for the next one the thread
 * makes): a worker's thread at its end, and the main thread after the
 * workers' teardown. */
void sl_xprt_mem_cache_free(void);

/* Sets how many unread bytes e holds at most: a write by its peer takes
 * no more than what is left (EAGAIN when nothing is). SIZE_MAX: no limit
 * (the start). Wakes the peer's writer when room appears. */
void sl_xprt_mem_set_window(struct sl_xprt_mem *e, size_t window);

/* Writes len bytes to e's peer, up to its window. Returns bytes taken, or
 * -1 (EPIPE: the peer is closed or e shut down; ECONNRESET: reset). */
ssize_t sl_xprt_mem_write(struct sl_xprt_mem *e, const void *buf, size_t len);

/* Reads what e holds, up to len bytes. Returns bytes read, 0 at the end
 * (the peer shut down or closed), or -1 (EAGAIN: nothing yet; ECONNRESET:
 * the peer reset). */
ssize_t sl_xprt_mem_read(struct sl_xprt_mem *e, void *buf, size_t len);

/* Bytes e holds, not yet read. */
size_t sl_xprt_mem_held(const struct sl_xprt_mem *e);

/* 1 once e's peer shut its write side down or closed (after the bytes it
 * sent); 2 when it reset; 0 while it may still write. */
int sl_xprt_mem_peer_ended(const struct sl_xprt_mem *e);

/* 1 once e's peer closed (through its transport's close). */
int sl_xprt_mem_peer_closed(const struct sl_xprt_mem *e);

/* Ends e's write side (a FIN). */
void sl_xprt_mem_shutdown(struct sl_xprt_mem *e);

/* Cuts the connection with a reset: the peer's reads and writes fail with
 * ECONNRESET, what it had not read is dropped. e is closed (freed with
 * the pair once the peer closes too). */
void sl_xprt_mem_reset(struct sl_xprt_mem *e);

/* Closes e (a FIN, if it did not shut down). The pair is freed once both
 * ends are closed. */
void sl_xprt_mem_close(struct sl_xprt_mem *e);

/* Holds the connect of e's peer: in progress (EINPROGRESS, neither
 * readable nor writable) until sl_xprt_mem_accept or sl_xprt_mem_refuse
 * on e. Call it before the peer is used. */
void sl_xprt_mem_hold(struct sl_xprt_mem *e);

/* Completes the held connect of e's peer: it is connected (and wakes its
 * writer). */
void sl_xprt_mem_accept(struct sl_xprt_mem *e);

/* Fails the held connect of e's peer with err (ECONNREFUSED, ...): its
 * connect_error, reads and writes say err. e is closed (freed with the
 * pair once the peer closes too). */
void sl_xprt_mem_refuse(struct sl_xprt_mem *e, int err);

/* 1 while e's peer's connect is held (sl_xprt_mem_hold). */
int sl_xprt_mem_held_connect(const struct sl_xprt_mem *e);

/* Marks e: what its peer wrote was not processed (an HTTP/2 stream
 * refused, h2up.c), which sl_xprt_mem_peer_unprocessed tells the peer. */
void sl_xprt_mem_set_unprocessed(struct sl_xprt_mem *e);
int sl_xprt_mem_peer_unprocessed(const struct sl_xprt_mem *e);

/* A number e carries for its peer to read (h2up.c: an answer's gRPC
 * status plus one); 0 until set. */
void sl_xprt_mem_set_note(struct sl_xprt_mem *e, unsigned note);
unsigned sl_xprt_mem_peer_note(const struct sl_xprt_mem *e);

#endif
