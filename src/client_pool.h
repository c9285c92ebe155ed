/* SPDX-License-Identifier: MIT */
/*
 * What a worker holds for its client connections, owned by the client
 * layer (client.c): their lists, the client structs kept for reuse, the
 * slab their read events come from, the epoll set of parked idle ones and
 * the SO_SNDBUF budget. struct sl_worker embeds it; nothing outside the
 * client layer reads its fields.
 */
#ifndef SL_CLIENT_POOL_H
#define SL_CLIENT_POOL_H

#include <stddef.h>
#include <sys/queue.h>

struct event;
struct sl_client;
struct sl_rev_region;

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
};

#endif
