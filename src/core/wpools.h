/* SPDX-License-Identifier: MIT */
/*
 * Two pools struct sl_worker embeds for layers above core: the client
 * layer's (client_pool.h) and the spliced bodies' pipes (splice.h). Their
 * layouts are here, with nothing of those layers but names, so that
 * wloop.h needs no header above core (issue 62) and the worker reaches
 * them without a pointer in between; only their owners read the fields.
 */
#ifndef SL_WPOOLS_H
#define SL_WPOOLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct event;
struct sl_client;
struct sl_client_codecs;
struct sl_pipe;
struct sl_rev_region;

/*
 * What a worker holds for its client connections, owned by the client
 * layer (client.c, client_pool.c): their lists, the client structs kept for
 * reuse, the slab their read events come from, the epoll set of parked idle
 * ones and the SO_SNDBUF budget.
 */
struct sl_client_pool {
	TAILQ_HEAD(, sl_client) clients; /* open, not parked */
	TAILQ_HEAD(, sl_client) parked;	 /* idle, parked */
	void *free_clients;		 /* free list of client structs */
	unsigned nfree_clients;
	LIST_HEAD(, sl_rev_region)
	rev_avail;			 /* the clients' read events:
					    regions with a free slot */
	struct sl_rev_region *rev_spare; /* the empty one kept */
	unsigned rev_regions;
	int park_fd;	       /* epoll set of parked connections, or -1 */
	struct event *park_ev; /* park_fd is readable */
	size_t sndbuf_extra;   /* SO_SNDBUF granted to fast readers, above
				  buffer_bytes, over all connections */
	/* a parked connection became readable, or its peer closed it:
	 * client.c gives it its event back (sl_client_unpark) */
	void (*on_wake)(struct sl_client *c);
	/* whether an idle client may park (its codec's word: client.c) */
	int (*parkable)(const struct sl_client *c);
	/* the codecs other than HTTP/1 (client.h), the worker's (static) */
	const struct sl_client_codecs *codecs;
	/* a chunked request body's decoder kept for the next one
	 * (client_h1.c), or NULL */
	void *bodies_spare;
};

/* A worker's pipes for spliced request bodies (splice.c): the empty ones
 * kept for the next body, and how many are in use. */
struct sl_pipes {
	struct sl_pipe *free;
	uint32_t nfree;
	uint32_t inuse;
	uint32_t max_inuse; /* SL_PIPES_MAX_INUSE; tests lower it */
};

#endif
