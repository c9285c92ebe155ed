/* SPDX-License-Identifier: MIT */
/*
 * The head block: a head as it crosses to a codec that takes fields
 * (HTTP/2), in place of HTTP/1.1 text it would parse again
 * (doc/design-notes.md, "The structured head"): a response head to an
 * HTTP/2 client, a request head to an HTTP/2 upstream. A block is a header
 * (struct sl_hblk: its size, the status, the body's framing) and then one
 * record a field: the name's length (2 bytes), the value's (4 bytes), the
 * name, the value. A request's first records are :method and :path, and
 * its :authority stands where its Host did (a reader puts the
 * pseudo-header fields first for HTTP/2). Fields are as the
 * writer (h1_msg.c) chose them: no connection-specific field (RFC 9113
 * section 8.2.2), names as the peer wrote them. Blocks sit in buffers at
 * any offset, so every read and write goes through memcpy. No I/O, no
 * allocation.
 */
#ifndef SL_HBLOCK_H
#define SL_HBLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* The block's header, at its first byte. */
struct sl_hblk {
	uint8_t mark;	   /* SL_HBLK_MARK: no HTTP/1.1 head begins so */
	uint8_t body;	   /* enum sl_h1_body: how the body after it is
			      framed (a final head only) */
	uint16_t nfields;  /* records after the header */
	uint16_t status;   /* 100..999; 0: a request's */
	char digits[3];	   /* the status as three digits (:status) */
	uint8_t flags;	   /* SL_HBLK_F_* */
	uint32_t len;	   /* bytes of the block, this header included */
	uint32_t text_len; /* a request's: its size as HTTP/1.1 text, which
			      max_header_bytes counts (0: not said) */
	uint64_t length;   /* SL_H1_BODY_LENGTH: the body's bytes */
};

/* A block's first byte: a NUL, which no HTTP/1.1 message begins with, so
 * that a reader given either can tell them apart (h2up.c). */
#define SL_HBLK_MARK 0

/* A response head that ended its HTTP/2 stream without a content-length
 * (gRPC's trailers-only answer): a body of 0 bytes, which HTTP/1.1 text
 * frames with a Content-Length of its own and HTTP/2 with END_STREAM. */
#define SL_HBLK_F_ENDED 0x01

#define SL_HBLK_REC 6 /* a record's lengths: 2 bytes name, 4 bytes value */

/* Bytes of a record for a field of nlen + vlen bytes. */
#define SL_HBLK_REC_SIZE(nlen, vlen) (SL_HBLK_REC + (nlen) + (vlen))

/* A record's lengths at p: the name's in 2 bytes, the value's in 4 (the
 * caller checked nlen <= 65,535). */
static inline void
sl_hblk_rec_lens(char *p, size_t nlen, size_t vlen)
{
	uint16_t nl = (uint16_t)nlen;
	uint32_t vl = (uint32_t)vlen;

	memcpy(p, &nl, 2);
	memcpy(p + 2, &vl, 4);
}

/* A block's header for status (0: a request's): the mark, the status and
 * its digits; the rest zero, for the writer to fill. */
static inline void
sl_hblk_init(struct sl_hblk *h, int status)
{
	memset(h, 0, sizeof(*h));
	h->mark = SL_HBLK_MARK;
	h->status = (uint16_t)status;
	h->digits[0] = (char)('0' + status / 100 % 10);
	h->digits[1] = (char)('0' + status / 10 % 10);
	h->digits[2] = (char)('0' + status % 10);
}

/* A field as a record at p (room checked by the caller). Returns its
 * size. */
static inline size_t
sl_hblk_put(char *p, const char *n, size_t nlen, const char *v, size_t vlen)
{
	sl_hblk_rec_lens(p, nlen, vlen);
	sl_copy_short(p + SL_HBLK_REC, n, nlen);
	sl_copy_short(p + SL_HBLK_REC + nlen, v, vlen);
	return SL_HBLK_REC_SIZE(nlen, vlen);
}

/* The header of the block at p. */
static inline void
sl_hblk_head(const char *p, struct sl_hblk *h)
{
	memcpy(h, p, sizeof(*h));
}

/* Walks a block's records: start with sl_hblk_first, then sl_hblk_next
 * while it returns 1. */
struct sl_hblk_it {
	const char *p;	 /* the next record */
	const char *end; /* the block's end */
};

static inline void
sl_hblk_first(struct sl_hblk_it *it, const char *block)
{
	uint32_t len;

	memcpy(&len, block + offsetof(struct sl_hblk, len), sizeof(len));
	it->p = block + sizeof(struct sl_hblk);
	it->end = block + len;
}

/* The next field into *n, *nlen, *v, *vlen (pointing into the block).
 * Returns 1, or 0 at the block's end. */
static inline int
sl_hblk_next(struct sl_hblk_it *it, const char **n, size_t *nlen,
	     const char **v, size_t *vlen)
{
	uint16_t nl;
	uint32_t vl;

	if (it->end - it->p < SL_HBLK_REC)
		return 0;
	memcpy(&nl, it->p, 2);
	memcpy(&vl, it->p + 2, 4);
	if ((size_t)(it->end - it->p) <
	    SL_HBLK_REC_SIZE((size_t)nl, (size_t)vl))
		return 0; /* never: the writers write records whole */
	*n = it->p + SL_HBLK_REC;
	*nlen = nl;
	*v = *n + nl;
	*vlen = vl;
	it->p += SL_HBLK_REC_SIZE((size_t)nl, (size_t)vl);
	return 1;
}

#endif
