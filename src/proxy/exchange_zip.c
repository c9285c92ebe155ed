/* SPDX-License-Identifier: MIT */
/*
 * Compression of a route's responses (doc/operations.md, "Compression"):
 * the coding a request accepts, chosen when it is forwarded; the head of
 * a response rewritten for it; its body compressed as the client takes
 * it, the compressor's output handed to the client's codec as payload
 * pieces (SL_H1_BODY_STREAM, its end the compressor's), which the codec
 * frames (HTTP/1.1's chunks, HTTP/2's DATA: doc/design-notes.md, "The
 * message between codecs", "HTTP/1.1 as a codec of fields"). The
 * upstream's body stays where it was read (u->in, made ready by
 * exchange_resp.c's framing, a chunked body's payload only) until the
 * compressor takes it, and the compressor takes more only once the client
 * took what it gave: a slow client holds one output buffer, never a copy
 * of the body. Called by the exchange's core and exchange_resp.c; it
 * calls neither.
 */
#include "exchange.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coding.h"
#include "conf_compress.h"
#include "exchange_int.h"
#include "h1_parse.h"
#include "log.h"
#include "route.h"
#include "runtime.h"
#include "upstream.h"
#include "zstream.h"

/* The output buffer. */
#define ZOUT_SIZE (16 * 1024)

struct sl_txzip {
	struct sl_zstream *zs; /* made at the first bytes (or never, when
				  the whole body goes at once) */
	uint64_t len_hint;     /* the body's length, when known */
	struct sl_buf out;
	uint64_t in_bytes, out_bytes;
	uint64_t charged;   /* bytes counted in the worker's mem */
	uint64_t reserve;   /* what it was admitted for: counted at least */
	const char *failed; /* why it cannot go on (the exchange is cut at
			       its next step, never inside the output) */
	uint8_t coding;	    /* enum sl_coding */
	uint8_t level;
	uint8_t wlog;
	uint8_t each;	  /* flush at each read: a stream, an event stream */
	uint8_t whole;	  /* a body of known length within the buffer:
			     compressed at once when it is all in */
	uint8_t more;	  /* the compressor holds output for the last ask */
	uint8_t last_fl;  /* that ask's flush (enum sl_zflush): repeated,
			     with the rest of its input and nothing new,
			     until its output is out */
	uint32_t held_in; /* that rest: bytes of u->in offered and not
			     taken */
	uint8_t flushed;  /* nothing taken since the last flush */
	uint8_t finished; /* its end was written */
};

/* The filter's slot (filter.h), zeroed when a request is routed to a
 * route that compresses (no begin: the exchange zeroes it). */
struct zip_slot {
	struct sl_txzip *z; /* the response's compressor, owned (NULL:
			       none) */
	uint8_t pick;	    /* the coding the request accepts best among
			       its route's (enum sl_coding, 0: none) */
	uint8_t sent;	    /* the one its response went with (the log) */
	uint8_t creds;	    /* it carried credentials a browser sends */
	uint8_t inm_weak;   /* its If-None-Match named a weak tag */
};

extern struct sl_filter sl_filter_zip;

static inline struct zip_slot *
zslot(const struct sl_txn *t)
{
	return sl_fctx(t, &sl_filter_zip);
}

/* ---- the request -------------------------------------------------------- */

/* A credential a browser attaches by itself (the requests a BREACH
 * attacker makes it send carry it): a cookie, or an Authorization of a
 * scheme the browser keeps (Basic, Digest, Negotiate), not a Bearer token
 * the page's code adds. */
static int
ambient_credential(const struct sl_h1_header *h)
{
	if (sl_h1_ieq(h->name, h->name_len, "cookie"))
		return 1;
	if (!sl_h1_ieq(h->name, h->name_len, "authorization"))
		return 0;
	return !(h->value_len >= 7 && strncasecmp(h->value, "bearer ", 7) == 0);
}

/* The request: the coding it accepts best among its route's (its slot's pick),
 * whether it carries credentials a browser sends by itself (creds),
 * and whether its If-None-Match names a weak tag. */
static int
zip_req_head(struct sl_seam *s, struct sl_fhead *fh)
{
	const struct sl_h1_request *req = fh->req;
	struct sl_txn *t = s->txn;
	const struct sl_conf_compress_route *c = sl_compress_route(t->route);
	struct sl_accenc a;
	int named = 0;

	/* a tunnel's bytes are never compressed: its request is an
	 * extended CONNECT, or asks for an upgrade its route allows (which
	 * the exchange checks after the filters: zip_head looks again) */
	if (req->method_id == SL_M_HEAD ||
	    (s->flags & (SL_SEAM_F_GRPC | SL_SEAM_F_XCONNECT)))
		return SL_FILTER_GO;
	sl_accenc_init(&a);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (sl_h1_ieq(h->name, h->name_len, "accept-encoding")) {
			sl_accenc_parse(&a, h->value, h->value_len);
			named = 1;
		} else if (ambient_credential(h))
			zslot(t)->creds = 1;
		else if (sl_h1_ieq(h->name, h->name_len, "if-none-match") &&
			 memmem(h->value, h->value_len, "W/", 2) != NULL)
			zslot(t)->inm_weak = 1;
	}
	/* a client that sent no Accept-Encoding gets the body as it is:
	 * RFC 9110 lets "any coding" be read into its absence, no client
	 * that can decode one fails to say so */
	if (named)
		zslot(t)->pick =
		    (uint8_t)sl_accenc_pick(&a, c->offer, c->noffer);
	if (s->flags & SL_SEAM_F_PEER_CERT)
		zslot(t)->creds = 1; /* a client certificate is one too */
	if (c->credentials != SL_COMPRESS_CREDS_SKIP)
		zslot(t)->creds = 0;
	return SL_FILTER_GO;
}

/* ---- the response head -------------------------------------------------- */

static int
field_is(const struct sl_h1_header *h, const char *lower)
{
	return sl_h1_ieq(h->name, h->name_len, lower);
}

/* Is token (lower case) one of the comma-separated list v[0..n)? */
static int
list_has(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < n) {
		size_t s, e;
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		/* a directive's argument ("no-transform" has none) */
		for (size_t k = s; k < e; k++)
			if (v[k] == '=' || v[k] == ';') {
				e = k;
				break;
			}
		if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
			return 1;
	}
	return 0;
}

/* Removes field i of resp. */
static void
drop_field(struct sl_h1_response *resp, size_t i)
{
	memmove(&resp->headers[i], &resp->headers[i + 1],
		(resp->nheaders - i - 1) * sizeof(resp->headers[0]));
	resp->nheaders--;
}

static void
add_field(struct sl_h1_response *resp, const char *name, const char *value)
{
	resp->headers[resp->nheaders++] = (struct sl_h1_header){
	    name, strlen(name), value, strlen(value), SL_HK_UNSET};
}

/* scratch: an ETag's value in its first half, a Vary's in the second */
#define ETAG_ROOM (SL_FILTER_SCRATCH / 2)

/* A strong ETag made weak (RFC 9110 section 8.8.3: the compressed body is
 * not the same bytes); one too long for its room goes. An unquoted one,
 * which is not RFC 9110's but which some services write, keeps its bytes
 * after the W/ so that a revalidation still names what they know. */
static void
weaken_etag(struct sl_h1_response *resp, char *scratch)
{
	for (size_t i = 0; i < resp->nheaders; i++) {
		struct sl_h1_header *h = &resp->headers[i];
		if (!field_is(h, "etag") ||
		    (h->value_len >= 2 && h->value[0] == 'W' &&
		     h->value[1] == '/'))
			continue;
		if (h->value_len + 2 >= ETAG_ROOM) {
			drop_field(resp, i);
			return;
		}
		memcpy(scratch, "W/", 2);
		memcpy(scratch + 2, h->value, h->value_len);
		h->value = scratch;
		h->value_len += 2;
		return;
	}
}

/* Does the response already say it varies by Accept-Encoding (or by
 * everything)? */
static int
varies(const struct sl_h1_response *resp)
{
	for (size_t i = 0; i < resp->nheaders; i++) {
		const struct sl_h1_header *h = &resp->headers[i];
		if (field_is(h, "vary") &&
		    (list_has(h->value, h->value_len, "accept-encoding") ||
		     list_has(h->value, h->value_len, "*")))
			return 1;
	}
	return 0;
}

/* Vary: Accept-Encoding, unless the response says so already: merged into
 * its last Vary field (RFC 9110 section 5.3: a list is one field), a field
 * of its own when it has none or that one is too long for scratch's
 * room. The caller checked there is room for a field. */
static void
vary_accept_encoding(struct sl_h1_response *resp, char *scratch)
{
	static const char ae[] = ", Accept-Encoding";
	struct sl_h1_header *last = NULL;
	char *v = scratch + ETAG_ROOM;

	if (varies(resp))
		return;
	for (size_t i = 0; i < resp->nheaders; i++)
		if (field_is(&resp->headers[i], "vary"))
			last = &resp->headers[i];
	if (last == NULL || last->value_len == 0 ||
	    last->value_len + sizeof(ae) > SL_FILTER_SCRATCH - ETAG_ROOM) {
		add_field(resp, "Vary", "Accept-Encoding");
		return;
	}
	memcpy(v, last->value, last->value_len);
	memcpy(v + last->value_len, ae, sizeof(ae) - 1);
	last->value = v;
	last->value_len += sizeof(ae) - 1;
}

/*
 * What the response's fields say of its compression: 0 when they forbid
 * it (already encoded, or no-transform: RFC 9111 section 5.2.2.6) or name
 * a type the route does not list, 1 when they name a listed type, and
 * untyped when they name none.
 */
static int
fields_compressible(const struct sl_txn *t, const struct sl_h1_response *resp,
		    int untyped)
{
	const struct sl_conf_compress_route *c = sl_compress_route(t->route);
	int typed = -1;

	for (size_t i = 0; i < resp->nheaders; i++) {
		const struct sl_h1_header *h = &resp->headers[i];
		if (field_is(h, "content-encoding"))
			return 0;
		if (field_is(h, "cache-control") &&
		    list_has(h->value, h->value_len, "no-transform"))
			return 0;
		if (field_is(h, "content-type") && typed != 1) {
			typed = 0;
			for (size_t k = 0; k < c->ntypes && !typed; k++)
				typed = sl_coding_type_match(
				    c->types[k], h->value, h->value_len);
		}
	}
	return typed == -1 ? untyped : typed;
}

/*
 * Would a 304's 200 have been looked at for compression, and so have said
 * Vary: Accept-Encoding? What the 304 says of it decides: a type the
 * route does not list, a Content-Encoding or no-transform say no. Most
 * 304s say no type (RFC 9110 section 15.4.5 does not ask for one): that
 * is a yes, since a Vary too many costs a cache a copy per coding where
 * one missing lets it give a coding to a client that did not ask for it.
 */
static int
nm_varies(const struct sl_txn *t, const struct sl_h1_response *resp)
{
	return fields_compressible(t, resp, 1);
}

/*
 * Could this response be compressed for a request that accepted a
 * coding? Its status and body, its type, its length, and what it says of
 * itself: already encoded, or no-transform (RFC 9111 section 5.2.2.6).
 */
static int
eligible(const struct sl_txn *t, const struct sl_h1_response *resp)
{
	const struct sl_conf_compress_route *c = sl_compress_route(t->route);
	/* a HEAD's fields are its GET's (RFC 9110 section 9.3.2): it is
	 * looked at as the GET would be, for its Vary */
	int head = t->method_id == SL_M_HEAD;

	if (resp->status == 204 || resp->status == 206 || resp->status == 304 ||
	    (resp->body == SL_H1_BODY_NONE && !head))
		return 0;
	if (resp->body == SL_H1_BODY_LENGTH && !head &&
	    resp->content_length < c->min_length)
		return 0;
	return fields_compressible(t, resp, 0);
}

/* Is the response an event stream, whose every event must go at once? */
static int
event_stream(const struct sl_h1_response *resp)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (field_is(&resp->headers[i], "content-type"))
			return sl_coding_type_match("text/event-stream",
						    resp->headers[i].value,
						    resp->headers[i].value_len);
	return 0;
}

/* The module's counters: the route's block of this worker's counts, and
 * the worker's (conf_compress.h). */
static struct sl_zip_counts *
zcounts(struct sl_seam *s, const struct sl_txn *t)
{
	return (struct sl_zip_counts *)sl_counts_mod(
	    &t->route->state->counts[s->w->id], &sl_module_compress);
}

static struct sl_zip_wcounts *
zwcounts(struct sl_seam *s)
{
	return (struct sl_zip_wcounts *)&s->w->stats
	    .mod[sl_module_compress.worker_at];
}

/* The workers' budget (compress.memory; a loaded generation always has
 * it). */
static uint64_t
zip_memory(const struct sl_seam *s)
{
	const struct sl_conf_compress *c =
	    sl_conf_mod(s->gen->conf, &sl_module_compress);

	return c != NULL ? c->memory : 0;
}

static void
skipped(struct sl_seam *s, enum sl_zip_skip why)
{
	SL_STAT_INC(zcounts(s, s->txn)->skip[why]);
}

/* The worker's count of the compressor's bytes follows what it holds. */
static void
charge(struct sl_seam *s, struct sl_txzip *z)
{
	uint64_t now = (z->zs != NULL ? sl_zstream_mem(z->zs) : 0) +
		       (z->out.data != NULL ? z->out.cap : 0);

	if (now < z->reserve)
		now = z->reserve;

	SL_STAT_ADD(zwcounts(s)->mem, (int64_t)(now - z->charged));
	z->charged = now;
}

static void zip_end(struct sl_seam *s);

/*
 * The final response head: when the response is compressed, its fields
 * are rewritten for it (Content-Encoding, Vary, a weakened ETag, no
 * Content-Length, Transfer-Encoding or Accept-Ranges), resp->body becomes
 * pieces (SL_H1_BODY_STREAM, which the codec frames), its slot's z
 * is set and SL_FILTER_R_TRANSFORM is returned. A 304
 * gets its ETag weakened and its Vary as its 200 would. Returns 0 when the
 * body goes as it came.
 */
static int
zip_resp_head(struct sl_seam *s, struct sl_h1_response *resp, char *scratch)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_compress_route *c = sl_compress_route(t->route);
	struct sl_txzip *z;
	size_t est;
	int level, whole;

	if (zslot(t)->z != NULL)
		zip_end(s); /* a head before this one's */
	if (s->flags & SL_SEAM_F_GRPC)
		return 0; /* gRPC compresses its messages itself */
	if (t->upgrade != 0) {
		/* the answer to an upgrade, a tunnel's: never compressed,
		 * though its Vary says what a 200 would vary on */
		zslot(t)->pick = 0;
		zslot(t)->creds = 0;
		zslot(t)->inm_weak = 0;
	}
	if (resp->status == 304) {
		/* revalidated: its ETag as the client holds it. A 304 has no
		 * type to say whether its 200 was compressed; the client's
		 * If-None-Match does: a weak tag it sent for a strong one
		 * the upstream knows is one a compressed 200 gave it */
		if (zslot(t)->inm_weak)
			weaken_etag(resp, scratch);
		/* and the Vary its 200 would have (RFC 9110 section
		 * 15.4.5) */
		if (resp->nheaders + 1 < resp->max_headers &&
		    nm_varies(t, resp))
			vary_accept_encoding(resp, scratch);
		return 0;
	}
	/* room for Content-Encoding, Vary and Transfer-Encoding */
	if (resp->nheaders + 3 >= resp->max_headers || !eligible(t, resp))
		return 0;
	/* whether it is compressed or not, a cache must know that it
	 * depends on Accept-Encoding */
	vary_accept_encoding(resp, scratch);
	if (zslot(t)->pick == 0)
		return 0;
	if (zslot(t)->creds) {
		skipped(s, SL_ZIP_S_CREDENTIALS);
		return 0;
	}
	level = zslot(t)->pick == SL_CODING_GZIP ? (int)c->gzip_level
		: zslot(t)->pick == SL_CODING_BR ? (int)c->brotli_level
						 : (int)c->zstd_level;
	/* the budget, with what the compressor may come to hold (its
	 * libraries allocate as they go; what it holds is counted exactly
	 * from then on) */
	whole = resp->body == SL_H1_BODY_LENGTH && !event_stream(resp) &&
		resp->content_length > 0 &&
		resp->content_length <= s->lconf->limits.buffer_bytes &&
		sl_zstream_oneshot_bound(zslot(t)->pick, level, 1) > 0;
	/* a whole body holds its output (at most its bound, a stream's
	 * state and a buffer); reserved at once, so that heads arriving
	 * together cannot all pass on the same figure */
	est = whole ? SL_MAX(sl_zstream_oneshot_bound(zslot(t)->pick, level,
						      resp->content_length),
			     (size_t)ZOUT_SIZE)
		    : sl_zstream_estimate(zslot(t)->pick, level, c->wlog,
					  resp->body == SL_H1_BODY_LENGTH
					      ? resp->content_length
					      : 0) +
			  ZOUT_SIZE;
	if (atomic_load_explicit(&zwcounts(s)->mem, memory_order_relaxed) +
		est >
	    zip_memory(s)) {
		skipped(s, SL_ZIP_S_MEMORY);
		return 0;
	}
	/* the whole body waits in the upstream buffer: it has its full
	 * size now, so that reading never stops at a smaller one's end (a
	 * TLS or HTTP/2 upstream's bytes wait where epoll cannot see) */
	if (whole && sl_buf_grow(&s->w->bufs, &t->up->in,
				 s->lconf->limits.buffer_bytes) == -1)
		whole = 0;
	if ((z = calloc(1, sizeof(*z))) == NULL) {
		skipped(s, SL_ZIP_S_MEMORY);
		return 0;
	}
	z->len_hint =
	    resp->body == SL_H1_BODY_LENGTH ? resp->content_length : 0;
	z->level = (uint8_t)level;
	z->wlog = c->wlog;
	z->coding = zslot(t)->pick;
	z->each = resp->body != SL_H1_BODY_LENGTH || event_stream(resp);
	/* a body the upstream buffer holds whole waits for its end and goes
	 * through the one-shot compressor: one call, no stream's state */
	z->whole = (uint8_t)whole;
	z->reserve = est;
	zslot(t)->z = z;
	t->flags |= SL_TXN_F_FEND;
	zslot(t)->sent = z->coding;
	t->flags |= SL_TXN_F_LOGF;
	charge(s, z);
	/* the fields: the body's length and ranges are the upstream's, not
	 * the coded body's */
	for (size_t i = 0; i < resp->nheaders;) {
		struct sl_h1_header *h = &resp->headers[i];
		enum sl_h1_hk k = sl_h1_hkind(h);
		if (k == SL_HK_CONTENT_LENGTH || k == SL_HK_TRANSFER_ENCODING ||
		    k == SL_HK_TRAILER || field_is(h, "accept-ranges"))
			drop_field(resp, i);
		else
			i++;
	}
	weaken_etag(resp, scratch);
	add_field(resp, "Content-Encoding", sl_coding_name(z->coding));
	/* the coded bytes as they come, the compressor's end the
	 * message's (zip_ended) */
	resp->body = SL_H1_BODY_STREAM;
	resp->content_length = 0;
	/* the compressor takes a chunked body's payload, as the exchange
	 * hands every codec (its trailer section is dropped:
	 * doc/operations.md) */
	return SL_FILTER_R_TRANSFORM;
}

/* ---- the body ----------------------------------------------------------- */

/* The compressor cannot go on (a library error, no memory): logged, and
 * the exchange cut at its next step, from its timer, not from inside the
 * codec's call for output, whose callers go on with the stream. */
static void
fail(struct sl_seam *s, struct sl_txzip *z, const char *why)
{
	struct sl_txn *t = s->txn;

	if (z->failed != NULL)
		return;
	log_warnx("conn=%llu request_id=%s route=%s: %s (%s)",
		  (unsigned long long)s->id, t->request_id, t->route->name, why,
		  sl_coding_name(z->coding));
	z->failed = why;
	t->error = why;
	event_active(&t->tev, EV_TIMEOUT, 1);
}

/* Compresses what the upstream made ready into z->out (empty), framed. */
static void
fill(struct sl_seam *s, struct sl_txzip *z)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	size_t avail = 0, cons, prod, room, bound;
	enum sl_zflush fl;
	char *at;
	int r;

	if (u != NULL && u->in.data != NULL)
		avail = u->ready - u->in.off;
	fl = t->up_ph == SL_TXN_UP_DONE ? SL_ZFLUSH_END
	     : z->each			? SL_ZFLUSH_SYNC
					: SL_ZFLUSH_NONE;
	/* output held back for the last ask comes out first, with the same
	 * ask and the rest of its input, nothing new: Brotli refuses new
	 * input in the middle of a flush, and an end asked with input left
	 * must still take that input */
	if (z->more) {
		avail = SL_MIN(avail, (size_t)z->held_in);
		fl = (enum sl_zflush)z->last_fl;
	}
	/* nothing new, nothing held, nothing to end; or a whole body not
	 * all in yet */
	if ((avail == 0 && !z->more && fl != SL_ZFLUSH_END &&
	     (fl == SL_ZFLUSH_NONE || z->flushed)) ||
	    (z->whole && fl != SL_ZFLUSH_END))
		return;
	/* the whole body here at once: the one-shot compressor (a body that
	 * came at once, or one that waited for its end: z->whole) */
	if (z->zs == NULL && fl == SL_ZFLUSH_END && avail > 0 &&
	    (bound = sl_zstream_oneshot_bound(z->coding, z->level, avail)) >
		0) {
		/* into the 16 KiB buffer first (a JSON body of buffer_bytes
		 * compresses to a fifth); only an output that does not fit
		 * it is made again into a buffer of its bound */
		for (int k = 0; k < 2; k++) {
			size_t want = k == 0 ? (size_t)ZOUT_SIZE : bound;
			if (k == 1 && want <= ZOUT_SIZE)
				break;
			if (k == 1)
				sl_buf_release(&s->w->bufs, &z->out);
			if (sl_buf_alloc(&s->w->bufs, &z->out, want) == -1) {
				fail(s, z, "out_of_memory");
				return;
			}
			z->out.off = z->out.len = 0;
			at = z->out.data;
			room = z->out.cap;
			prod = sl_zstream_oneshot(z->coding, z->level, z->wlog,
						  u->in.data + u->in.off, avail,
						  at, room);
			if (prod > 0)
				break;
		}
		if (prod > 0) {
			cons = avail;
			r = 0;
			goto done;
		}
	}
	if (z->zs == NULL &&
	    (z->zs = sl_zstream_new(z->coding, z->level, z->wlog,
				    z->len_hint)) == NULL) {
		fail(s, z, "out_of_memory");
		return;
	}
	if (sl_buf_alloc(&s->w->bufs, &z->out, ZOUT_SIZE) == -1) {
		fail(s, z, "out_of_memory");
		return;
	}
	z->out.off = z->out.len = 0;
	at = z->out.data;
	room = z->out.cap;
	r = sl_zstream_run(z->zs, avail > 0 ? u->in.data + u->in.off : NULL,
			   avail, &cons, at, room, &prod, fl);
done:
	if (r == -1) {
		fail(s, z, "compress_failed");
		return;
	}
	if (cons > 0) {
		sl_upstream_consume(u, cons);
		z->flushed = 0;
	}
	if (fl == SL_ZFLUSH_SYNC && r == 0)
		z->flushed = 1;
	z->more = r == 1;
	z->last_fl = (uint8_t)fl;
	z->held_in = (uint32_t)(avail - cons);
	z->finished = fl == SL_ZFLUSH_END && r == 0;
	z->in_bytes += cons;
	z->out_bytes += prod;
	if (prod > 0)
		z->out.len = (uint32_t)prod;
	/* nothing came out (a stream's compressor kept it): no buffer
	 * held for it */
	if (sl_buf_pending(&z->out) == 0)
		sl_buf_release(&s->w->bufs, &z->out);
	charge(s, z);
}

static size_t
zip_out(struct sl_seam *s, char **p)
{
	struct sl_txzip *z = zslot(s->txn)->z;

	/* a few rounds: a compressor that took input and gave nothing yet
	 * (it fills its window first) may take more at once */
	for (int i = 0; i < 4 && sl_buf_pending(&z->out) == 0 && !z->finished &&
			z->failed == NULL;
	     i++) {
		uint64_t before = z->in_bytes;
		fill(s, z);
		if (s->txn == NULL || zslot(s->txn)->z != z)
			return 0;
		if (z->in_bytes == before && !z->more)
			break;
	}
	*p = z->out.data + z->out.off;
	return sl_buf_pending(&z->out);
}

static void
zip_sent(struct sl_seam *s, size_t n)
{
	struct sl_txzip *z = zslot(s->txn)->z;

	z->out.off += (uint32_t)SL_MIN(n, (size_t)sl_buf_pending(&z->out));
	if (sl_buf_pending(&z->out) == 0) {
		/* an idle stream (events to come) holds no buffer */
		sl_buf_release(&s->w->bufs, &z->out);
		charge(s, z);
	}
}

static int
zip_pending(const struct sl_txn *t)
{
	const struct sl_txzip *z = zslot(t)->z;
	const struct sl_upconn *u = t->up;

	/* failed: never "done" (the connection is cut, not reused) */
	if (z->failed != NULL)
		return 1;
	/* a whole body's bytes wait for its end, not for the client */
	if (z->whole && t->up_ph != SL_TXN_UP_DONE)
		return sl_buf_pending(&z->out) > 0;
	return sl_buf_pending(&z->out) > 0 || z->more ||
	       (u != NULL && u->ready > u->in.off) ||
	       (t->up_ph == SL_TXN_UP_DONE && !z->finished);
}

/* The compressor wrote its end: nothing follows what zip_out gave (the
 * codec of pieces ends the message with those bytes). */
static int
zip_ended(const struct sl_txn *t)
{
	const struct sl_txzip *z = zslot(t)->z;

	return z != NULL && z->finished && z->failed == NULL;
}

static const char *
zip_failed(const struct sl_txn *t)
{
	return zslot(t)->z != NULL ? zslot(t)->z->failed : NULL;
}

static int
zip_whole(const struct sl_txn *t)
{
	return zslot(t)->z != NULL && zslot(t)->z->whole;
}

static void
zip_end(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txzip *z = zslot(t)->z;
	struct sl_zip_counts *rc;

	if (z == NULL)
		return;
	rc = zcounts(s, t);
	SL_STAT_INC(rc->zip[z->coding]);
	SL_STAT_ADD(rc->in[z->coding], z->in_bytes);
	SL_STAT_ADD(rc->out[z->coding], z->out_bytes);
	sl_buf_release(&s->w->bufs, &z->out);
	sl_zstream_free(z->zs);
	z->zs = NULL;
	z->reserve = 0;
	charge(s, z);
	free(z);
	zslot(t)->z = NULL;
}

static int
zip_used(const struct sl_conf_route *r)
{
	return sl_compress_route(r) != NULL;
}

/* sluice answers in place of a response head held back: its
 * compressor goes, and the log names no coding. */
static void
zip_resp_drop(struct sl_seam *s)
{
	zip_end(s);
	zslot(s->txn)->sent = 0;
}

static const struct sl_ftransform zip_xf = {
    .out = zip_out,
    .sent = zip_sent,
    .pending = zip_pending,
    .ended = zip_ended,
    .failed = zip_failed,
    .whole = zip_whole,
};

/* The coding the body went with, for the access log. */
static void
zip_log_fields(struct sl_txn *t, struct sl_flog *l)
{
	if (zslot(t)->sent != 0)
		/* the coding the body went with (bytes_out counts the coded
		 * bytes): the line's second optional field */
		sl_flog_add(l, 20, "encoding", sl_coding_name(zslot(t)->sent));
}

struct sl_filter sl_filter_zip = {
    .name = "compress",
    .ctx_size = sizeof(struct zip_slot),
    .log_fields = zip_log_fields,
    .used = zip_used,
    .req_head = zip_req_head,
    .resp_head = zip_resp_head,
    .resp_drop = zip_resp_drop,
    .xf = &zip_xf,
    .end = zip_end,
    .thread_free = sl_zstream_thread_free,
};
