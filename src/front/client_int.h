/* SPDX-License-Identifier: MIT */
/*
 * Private to the connection itself (client.c, client_pool.c) and to the
 * unit tests that play a client: what goes beyond the codecs' view of it
 * (client_codec.h). No codec and no other module may include it.
 */
#ifndef SL_CLIENT_INT_H
#define SL_CLIENT_INT_H

#include <sys/socket.h>

#include "client_codec.h"

/*
 * A connection of listener l on w over a memory end (xprt.h), for tests:
 * what sl_client_new makes of an accepted socket, the client at sa. It
 * takes its place among l's connections (not counted per address) and
 * owns end from then on (closed with the connection). Returns the
 * connection (closed already when it ended on its first read), or NULL
 * when it could not be made (l's max_connections, no memory; end closed).
 * A closed connection's struct goes back to the worker's pool (client.h,
 * sl_client_reap), where it is kept for the next connection.
 */
struct sl_client *sl_client_new_mem(struct sl_worker *w,
				    const struct sl_conf_listener *l,
				    struct sl_xprt_mem *end,
				    const struct sockaddr *sa, socklen_t salen);

#endif
