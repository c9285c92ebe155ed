/* SPDX-License-Identifier: MIT */
/*
 * The head of a request a filter keeps waiting (exchange_int.h,
 * sl_exchange_keep), taken back at the wake instead of parsed again.
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
 * compact the buffer; the text itself does not change). What the wake
 * saves is a second parse: on an inspected GET, 1,400 of sluice's 14,000
 * instructions (doc/performance.md, issue 63 session 44).
 */
/* The fields a block kept from request to request holds at most: past
 * it a block is freed after its wake. */
#define KEPT_CAP 64

struct sl_txn_kept {
	struct sl_h1_request req;
	size_t cap; /* fields h holds */
	struct sl_h1_header h[];
};

void
sl_exchange_keep(struct sl_seam *s, struct sl_txn *t,
		 const struct sl_h1_request *req)
{
	struct sl_txn_kept *k = t->fw.kept;

	if (k == NULL || k->cap < req->nheaders) {
		size_t cap = SL_MAX(req->nheaders, (size_t)16);
		free(k);
		t->fw.kept = k = malloc(sizeof(*k) + cap * sizeof(k->h[0]));
		if (k == NULL)
			return;
		k->cap = cap;
	}
	k->req = *req;
	memcpy(k->h, req->headers, req->nheaders * sizeof(k->h[0]));
	t->fw.kept_base = s->in.data + s->in.off;
}

/* p, kept from a head's text at old_base of len bytes, where that text is
 * now (at base); a pointer elsewhere (a constant: "/" for an empty path)
 * as it was. A field added to struct sl_h1_request or sl_h1_header that
 * points into the text must be moved here too. */
static const char *
kept_at(const char *p, const char *old_base, size_t len, const char *base)
{
	/* compared as integers: p may point into another object; one past
	 * the text is in it (an HTTP/2 head's last value, when empty, ends
	 * its block) */
	uintptr_t o = (uintptr_t)p - (uintptr_t)old_base;

	return p != NULL && o <= len ? base + o : p;
}

int
sl_exchange_unkeep(struct sl_seam *s, struct sl_txn *t, size_t head_len,
		   struct sl_h1_request *req)
{
	struct sl_txn_kept *k = t->fw.kept;
	const char *base = s->in.data + s->in.off, *ob;

	if (k == NULL || t->fw.kept_base == NULL)
		return -1;
	ob = t->fw.kept_base;
	*req = k->req;
	req->headers = s->w->hdrs;
	memcpy(req->headers, k->h, req->nheaders * sizeof(k->h[0]));
	t->fw.kept_base = NULL;
	/* a block grown by a head of many fields is not kept for the next
	 * request (max_headers may be thousands) */
	if (k->cap > KEPT_CAP) {
		t->fw.kept = NULL;
		free(k);
	}
	if (base == ob)
		return 0;
	req->method = kept_at(req->method, ob, head_len, base);
	req->target = kept_at(req->target, ob, head_len, base);
	req->path = kept_at(req->path, ob, head_len, base);
	req->host = kept_at(req->host, ob, head_len, base);
	for (size_t i = 0; i < req->nheaders; i++) {
		struct sl_h1_header *h = &req->headers[i];
		h->name = kept_at(h->name, ob, head_len, base);
		h->value = kept_at(h->value, ob, head_len, base);
	}
	return 0;
}

void
sl_exchange_keep_free(struct sl_txn *t)
{
	free(t->fw.kept);
	t->fw.kept = NULL;
	t->fw.kept_base = NULL;
}
