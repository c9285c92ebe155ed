/* SPDX-License-Identifier: MIT */
/*
 * An upstream connection's response through the reader (upread.h).
 */
#include "upread.h"

#include <errno.h>
#include <stdint.h>

#include "upstream.h"
#include "util.h"

enum sl_h1_rd_ev
sl_upstream_read_response(struct sl_upconn *u, struct sl_h1_reader *r,
			  size_t bufsize, struct sl_h1_rd_event *ev)
{
	enum sl_h1_rd_ev e;
	size_t size;
	ssize_t n;

	sl_upstream_consume(u, r->held);
	r->held = 0;
	for (;;) {
		unsigned in = r->eof ? SL_H1_RD_IN_EOF : 0;

		if (u->h2s)
			in |= SL_H1_RD_IN_CODEC |
			      (sl_upstream_ended(u) ? SL_H1_RD_IN_ENDED : 0);
		e = sl_h1_reader_next(
		    r, u->in.data != NULL ? u->in.data + u->in.off : NULL,
		    sl_buf_pending(&u->in), in, ev);
		if (e == SL_H1_RD_INTERIM || e == SL_H1_RD_HEAD ||
		    e == SL_H1_RD_DATA) {
			r->held = (uint32_t)ev->used;
			return e;
		}
		sl_upstream_consume(u, ev->used);
		if (e != SL_H1_RD_MORE)
			return e;
		/* a head that fills the buffer gets a larger one, up to
		 * its bound (where the reader says it is too large) */
		size = bufsize;
		if (r->state == SL_H1_RD_ST_HEAD && u->in.data != NULL &&
		    sl_buf_pending(&u->in) >= u->in.cap &&
		    r->lim.max_header_bytes > size)
			size = r->lim.max_header_bytes;
		n = sl_upstream_read(u, size, SIZE_MAX);
		if (n == SL_AGAIN)
			return SL_H1_RD_MORE;
		if (n == -1) {
			ev->err = errno;
			return SL_H1_RD_FAILED;
		}
		if (n == 0)
			r->eof = 1;
		u->ready = u->in.len; /* nobody passes these bytes on */
	}
}
