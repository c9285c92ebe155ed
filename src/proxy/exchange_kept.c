/* SPDX-License-Identifier: MIT */
/*
 * What a request keeps across a filter's wait (exchange_int.h,
 * sl_exchange_keep): its head as parsed, taken back at the wake instead of
 * parsed again, and what the filters before the waiting one put in the
 * run's struct sl_fhead, for the run to resume at the waiting filter
 * (filter.h: SL_FILTER_WAIT). Performs no I/O.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exchange_int.h"
#include "util.h"

/*
 * The head of a request a filter keeps waiting, as parsed: its fields
 * leave the worker's array (the next request parses into it), and the
 * pointers into the head's text stay good while the text stays where it
 * was, or are moved with it (a body read during the wait may grow or
 * compact the buffer; the text itself does not change). The resumed run
 * reads them where they are kept, not copied back. What the wake saves is
 * a second parse: on an inspected GET, 1,400 of sluice's 14,000
 * instructions (doc/performance.md, issue 63 session 44), for a copy of
 * about 150 (issue 79).
 */
/* The fields a block kept from request to request holds at most: past
 * it a block is freed once its request went on. */
#define KEPT_CAP 64

struct sl_txn_kept {
	struct sl_h1_request req;
	/* the filters' struct sl_fhead across the wait, in its own block
	 * (5 KiB: its fields' and a token's room), made at the first wait
	 * that has something in it and kept with this one; fh_used: it
	 * holds this request's */
	struct sl_fhead *fh;
	uint8_t fh_used;
	size_t cap; /* fields h holds */
	struct sl_h1_header h[];
};

/* p, kept from an object at old of len bytes, where that object is now
 * (at base); a pointer elsewhere (a constant: "/" for an empty path; a
 * value in a filter's state) as it was. */
static const void *
moved(const void *p, const void *old, size_t len, const void *base)
{
	/* compared as integers: p may point into another object; one past
	 * the text is in it (an HTTP/2 head's last value, when empty, ends
	 * its block) */
	uintptr_t o = (uintptr_t)p - (uintptr_t)old;

	return p != NULL && o <= len ? (const char *)base + o : p;
}

/* What the filters before the waiting one put in stack-made h, into k's
 * block: the fields to set and drop, a mark, the verified token; the
 * pointers into h move with it (a token's claims are values of the fields
 * it sets), the others (a filter's state, the configuration) stay.
 * Returns 0, or -1 when there is no memory for the block. */
static int
keep_fhead_in(struct sl_txn_kept *k, const struct sl_fhead *h)
{
	struct sl_fhead *d = k->fh;
	const struct sl_fwd_extra *x = h->extra;

	if (d == NULL && (k->fh = d = malloc(sizeof(*d))) == NULL)
		return -1;
	d->req = &k->req;
	d->extra = NULL;
	d->mark = moved(h->mark, h, sizeof(*h), d);
	d->mark_at = 0;
	d->room_used = h->room_used;
	memcpy(d->room, h->room, h->room_used);
	d->caller = moved(h->caller, h, sizeof(*h), d);
	d->caller_len = h->caller_len;
	d->split_pick = h->split_pick;
	if (x != NULL) {
		struct sl_fwd_extra *dx = sl_fhead_extra(d);
		dx->drop_lens = x->drop_lens;
		dx->ndrop = x->ndrop;
		dx->nset = x->nset;
		/* a name a filter copied into the room (a script's) moves
		 * with it; the configuration's stay */
		for (unsigned i = 0; i < x->ndrop; i++) {
			dx->drop[i] = x->drop[i];
			dx->drop[i].name =
			    moved(x->drop[i].name, h, sizeof(*h), d);
		}
		for (unsigned i = 0; i < x->nset; i++) {
			dx->set[i] = x->set[i];
			dx->set[i].name =
			    moved(x->set[i].name, h, sizeof(*h), d);
			dx->set[i].value =
			    moved(x->set[i].value, h, sizeof(*h), d);
		}
	}
	k->fh_used = 1;
	return 0;
}

/* keep_fhead_in, for an h with something in it: most waits have nothing
 * there (a WAF's on a route without a token), and the wake makes it
 * fresh. */
static inline int
keep_fhead(struct sl_txn_kept *k, const struct sl_fhead *h)
{
	k->fh_used = 0;
	if (h->extra == NULL && h->caller == NULL && h->mark == NULL &&
	    h->room_used == 0 && h->split_pick == 0)
		return 0;
	return keep_fhead_in(k, h);
}

int
sl_exchange_keep(struct sl_seam *s, struct sl_txn *t, struct sl_fhead *h)
{
	struct sl_txn_kept *k = t->fw.kept;
	const struct sl_h1_request *req = h->req;

	t->fw.kept_base = s->in.data + s->in.off;
	if (k != NULL && req == &k->req) {
		/* a resumed run waits again: its head is kept already,
		 * where the text is now (sl_exchange_unkeep moved it), and
		 * its fhead too unless the wake made it fresh */
		if ((k->fh_used && h == k->fh) || keep_fhead(k, h) == 0)
			return 0;
		t->fw.kept_base = NULL;
		return -1;
	}
	if (k == NULL || k->cap < req->nheaders) {
		size_t cap = SL_MAX(req->nheaders, (size_t)16);
		struct sl_fhead *fh = k != NULL ? k->fh : NULL;
		free(k);
		t->fw.kept = k = malloc(sizeof(*k) + cap * sizeof(k->h[0]));
		if (k == NULL) {
			free(fh);
			t->fw.kept_base = NULL;
			return -1;
		}
		k->fh = fh;
		k->cap = cap;
	}
	k->req = *req;
	k->req.headers = k->h;
	memcpy(k->h, req->headers, req->nheaders * sizeof(k->h[0]));
	if (keep_fhead(k, h) != 0) {
		t->fw.kept_base = NULL;
		return -1;
	}
	return 0;
}

struct sl_fhead *
sl_exchange_unkeep(struct sl_seam *s, struct sl_txn *t, size_t head_len,
		   struct sl_fhead *fresh)
{
	struct sl_txn_kept *k = t->fw.kept;
	const char *base = s->in.data + s->in.off, *ob = t->fw.kept_base;
	struct sl_h1_request *req;
	struct sl_fhead *h;

	if (t->resp_ph == SL_TXN_RESP_LOCAL)
		return NULL; /* answered meanwhile */
	if (k == NULL || ob == NULL) {
		s->ops->close(s, "out_of_memory"); /* defensive: kept */
		return NULL;
	}
	s->in.off += (uint32_t)head_len;
	req = &k->req;
	t->fw.kept_base = NULL;
	if (k->fh_used)
		h = k->fh;
	else {
		h = fresh;
		h->extra = NULL;
		h->caller = NULL;
		h->caller_len = 0;
		h->mark = NULL;
		h->room_used = 0;
		h->split_pick = 0;
	}
	h->req = req;
	if (base == ob)
		return h;
	/* the text moved: so does each pointer into it. A field added to
	 * struct sl_h1_request or sl_h1_header that points into the text
	 * must be moved here too. */
	req->method = moved(req->method, ob, head_len, base);
	req->target = moved(req->target, ob, head_len, base);
	req->path = moved(req->path, ob, head_len, base);
	req->host = moved(req->host, ob, head_len, base);
	for (size_t i = 0; i < req->nheaders; i++) {
		struct sl_h1_header *f = &req->headers[i];
		f->name = moved(f->name, ob, head_len, base);
		f->value = moved(f->value, ob, head_len, base);
	}
	return h;
}

void
sl_exchange_kept_done(struct sl_txn *t)
{
	/* max_headers may be thousands */
	if (t->fw.kept != NULL && t->fw.kept->cap > KEPT_CAP)
		sl_exchange_keep_free(t);
}

void
sl_exchange_keep_free(struct sl_txn *t)
{
	if (t->fw.kept != NULL)
		free(t->fw.kept->fh);
	free(t->fw.kept);
	t->fw.kept = NULL;
	t->fw.kept_base = NULL;
}
