/* SPDX-License-Identifier: MIT */
/*
 * Who a request is for when it comes through trusted proxies: the
 * X-Forwarded-For and Forwarded (RFC 7239) fields read from the right,
 * past the proxies the listener trusts (doc/edge.md section 3). Pure: no
 * I/O, no allocation; reads the parsed request's fields in place.
 */
#ifndef SL_FORWARDED_H
#define SL_FORWARDED_H

#include <stddef.h>

#include "cidr.h"
#include "conf_types.h"
#include "h1_msg.h"
#include "h1_parse.h"

/* The right-most elements of one field that are looked at, at most: a
 * walk that needs more stops there as at an element that is not an
 * address (every element past them is the client's own writing anyway). */
#define SL_FORWARDED_MAX_ELEMS 64

/*
 * One element into *ip: of X-Forwarded-For (field is
 * SL_CLIENT_HEADER_XFF): "192.0.2.1", "2001:db8::1", "192.0.2.1:4711",
 * "[2001:db8::1]" or "[2001:db8::1]:4711"; of Forwarded: the node of its
 * for= parameter, quoted or not ("192.0.2.1", "192.0.2.1:4711",
 * "[2001:db8::1]:4711"). s[0..n) has no surrounding whitespace. Returns 0,
 * or -1: not an address ("unknown", an obfuscated "_id", no for=, two of
 * them, anything malformed).
 */
int sl_forwarded_element(enum sl_client_header field, const char *s, size_t n,
			 struct sl_ip *ip);

/* Where the walk found the client. */
struct sl_forwarded_walk {
	struct sl_ip client;
	size_t hdr;    /* index of the field in the request's headers */
	size_t off;    /* its element starts at that field's value + off */
	unsigned seen; /* elements looked at */
};

/*
 * Walks the fields named by field (every one, in order, as one list) from
 * the right: elements that are trusted are skipped, the first untrusted
 * one is the client. An element that is not an address stops the walk:
 * the client is then the nearest trusted element to its right. When every
 * element is trusted, the left-most. Returns 1 with *w set, or 0 when no
 * element names a client (no field, or the right-most element is not an
 * address): the peer stands.
 */
int sl_forwarded_walk(const struct sl_h1_header *hdrs, size_t n,
		      enum sl_client_header field,
		      const struct sl_cidr_set *trusted,
		      struct sl_forwarded_walk *w);

/*
 * The request's client by listener l's trusted_proxies and
 * untrusted_forwarded: *client (the connection's client on entry) becomes
 * the one its forwarded field names when it is a trusted proxy, and
 * fwd->xff says how X-Forwarded-For goes upstream (SL_FWD_CUT with the
 * element's place, or SL_FWD_STRIP; fwd->xff is SL_FWD_APPEND on entry).
 * Returns 1 when *client came from a forwarded field, else 0.
 */
int sl_forwarded_settle(const struct sl_conf_listener *l,
			const struct sl_h1_request *req, struct sl_ip *client,
			struct sl_fwd *fwd);

#endif
