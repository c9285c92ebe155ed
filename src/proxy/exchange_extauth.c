/* SPDX-License-Identifier: MIT */
/*
 * A route's external authorization (doc/auth.md, "External
 * authorization"): before the request goes upstream, sluice asks a service
 * of the configuration's clusters, over HTTP (the request's method and
 * target under the route's path, with the fields it names) or over gRPC
 * (Envoy's Authorization/Check, authzpb.c), and the answer decides:
 *
 *   2xx / status OK      allowed: the answer's upstream_headers (or the
 *                        CheckResponse's headers) set on the request,
 *                        the fields it names removed
 *   4xx, 3xx / denied    the answer's status, client_headers and body go
 *                        to the client; nothing goes upstream
 *   none, 5xx, timeout   a failure: on_failure says deny (failure_status)
 *                        or allow (marked with failure_header, counted)
 *
 * A denial is never a failure, whatever the route's on_failure: a 403 of
 * the service never lets a request through. The check is a subrequest
 * (subreq.c) that the request waits for, its head kept as for a lease.
 * Decisions may be cached per worker, keyed by a digest of all that was
 * sent but the request id.
 */
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "authzpb.h"
#include "conf_auth.h"
#include "exchange_int.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "log.h"
#include "runtime.h"
#include "subreq.h"
#include "util.h"
#include "wgen.h"

#define REQ_MAX	      16384	  /* the check's request, fields and all */
#define ANSWER_MAX    (64 * 1024) /* the service's answer's body */
#define DENY_BODY_MAX 8192	  /* a denial's body passed on; more: ours */
#define KEEP_MAX      4096	  /* the answer's fields kept */
#define HDR_REMOVE    "x-envoy-auth-headers-to-remove"
#define GRPC_CHECK    "/envoy.service.auth.v3.Authorization/Check"

/* Microseconds of the monotonic clock, read now. */
static uint64_t
now_us(void)
{
	sl_now_refresh();
	return sl_now_us_cached();
}

enum ea_phase {
	EA_ASKING = 1, /* the service is asked: q set */
	EA_DONE,       /* the decision is in d */
	EA_BODY,       /* waiting for the body's first body_want bytes */
};
enum ea_verdict { EA_ALLOW = 0, EA_DENY, EA_FAIL };

/* A field kept from an answer: offsets into buf. */
struct ea_field {
	uint16_t noff, nlen, voff, vlen;
};

/* A decision: what a request was told, in a form the cache can keep. */
struct ea_decision {
	uint8_t verdict; /* enum ea_verdict */
	int status;	 /* a denial's */
	struct ea_field set[SL_AUTHZPB_FIELDS_MAX];
	unsigned nset;
	struct ea_field rm[SL_AUTHZPB_FIELDS_MAX]; /* nlen only */
	unsigned nrm;
	uint16_t body_off, body_len; /* a denial's body */
	int has_body;
	uint16_t len; /* of buf */
	char buf[KEEP_MAX + DENY_BODY_MAX];
};

struct sl_extauth {
	struct sl_subreq *q; /* while ASKING */
	struct sl_txn *t;
	uint8_t phase;	 /* enum ea_phase */
	uint8_t cached;	 /* the decision came from the cache */
	const char *why; /* a failure's: static */
	void (*woken)(struct sl_txn *);
	uint64_t start_us;
	uint32_t body_want; /* body bytes the check sends; 0: none */
	const char *logged; /* the access log's auth: "external",
			       "unchecked"; NULL: it did not let it */
	uint8_t key[32];    /* the cache's key, when the route caches */
	struct ea_decision d;
};

extern struct sl_filter sl_filter_extauth;

/* The filter's slot (filter.h): the request's external check, owned
 * (NULL: none, zeroed by the exchange when a request is routed). */
static inline struct sl_extauth **
eslot(struct sl_txn *t)
{
	return sl_fctx(t, &sl_filter_extauth);
}

/* ---- the cache -------------------------------------------------------- */

struct cache_ent {
	uint8_t key[32];
	uint64_t expires_ms; /* 0: empty */
	struct ea_decision *d;
};

static _Thread_local struct cache_ent *cache;
static _Thread_local uint32_t cache_n;
/* a check's state kept for the next (12 KiB: not a malloc a check) */
static _Thread_local struct sl_extauth *spare;

static void
cache_free(void)
{
	for (uint32_t i = 0; i < cache_n; i++)
		free(cache[i].d);
	free(cache);
	cache = NULL;
	cache_n = 0;
}

/* The calling thread's external decisions and its spare state
 * (filter.h's thread_free). */
static void
extauth_thread_free(void)
{
	cache_free();
	free(spare);
	spare = NULL;
}

/* The entry for key in a table of at least n entries (NULL: none). */
static struct cache_ent *
cache_slot(const uint8_t key[32], uint32_t n)
{
	if (cache_n < n) {
		struct cache_ent *c = calloc(n, sizeof(*c));
		if (c == NULL)
			return NULL;
		cache_free();
		cache = c;
		cache_n = n;
	}
	return &cache[((uint32_t)key[0] | (uint32_t)key[1] << 8 |
		       (uint32_t)key[2] << 16) %
		      cache_n];
}

/* ---- the request to the service --------------------------------------- */

/* A field the check sends: the client's, or a token's claim. */
struct sent_field {
	const char *n, *v;
	size_t nl, vl;
};
#define SENT_MAX 64 /* fields of the named ones a check sends */

struct req_in {
	const struct sl_h1_request *req;
	struct sent_field f[SENT_MAX];
	size_t nf;
	const char *ip;
	const char *scheme;
	const char *subject;
	const char *protocol; /* "HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/3" */
	int64_t size;	      /* the body's, -1: not known */
	const char *body;     /* the body's first bytes sent (blen), or NULL */
	size_t blen;
	int partial; /* they are not the whole body */
};

/* Whether the client's field name (n bytes) is one the route sends. */
static int
sent_name(const struct sl_conf_extauth *x, const char *name, size_t n)
{
	for (size_t i = 0; i < x->nsend; i++)
		if (strlen(x->send[i]) == n &&
		    strncasecmp(x->send[i], name, n) == 0)
			return 1;
	return 0;
}

static void
digest_add(EVP_MD_CTX *md, const void *p, size_t n)
{
	(void)EVP_DigestUpdate(md, p, n);
	(void)EVP_DigestUpdate(md, "\n", 1);
}

/* Whether the route's token check drops the client's fields of this
 * name (jx: its fields, NULL: no token check). */
static int
dropped(const struct sl_fwd_extra *jx, const char *name, size_t n)
{
	for (unsigned i = 0; jx != NULL && i < jx->ndrop; i++)
		if (jx->drop[i].len == n &&
		    strncasecmp(jx->drop[i].name, name, n) == 0)
			return 1;
	return 0;
}

/* The named fields the check sends: the client's, but those the token
 * check replaces (a client's X-User-Id next to a token's sub is never
 * what the service sees), and the token's claims sent as fields. */
static void
collect_sent(const struct sl_conf_extauth *x, struct req_in *in,
	     const struct sl_fwd_extra *jx)
{
	const struct sl_h1_request *req = in->req;

	in->nf = 0;
	for (size_t i = 0; i < req->nheaders && in->nf < SENT_MAX; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (!sent_name(x, h->name, h->name_len) ||
		    dropped(jx, h->name, h->name_len))
			continue;
		in->f[in->nf++] = (struct sent_field){
		    h->name, h->value, h->name_len, h->value_len};
	}
	for (unsigned i = 0; jx != NULL && i < jx->nset && in->nf < SENT_MAX;
	     i++)
		if (sent_name(x, jx->set[i].name, jx->set[i].nlen))
			in->f[in->nf++] = (struct sent_field){
			    jx->set[i].name, jx->set[i].value, jx->set[i].nlen,
			    jx->set[i].vlen};
}

/* The cache key: the route's check and everything sent but the id. */
static int
make_key(const struct sl_conf_extauth *x, const struct req_in *in,
	 uint8_t key[32])
{
	const struct sl_h1_request *req = in->req;
	EVP_MD_CTX *md = sl_exchange_sha256();
	unsigned int dl = 0;

	if (md == NULL)
		return -1;
	digest_add(md, &x->id, sizeof(x->id));
	digest_add(md, in->protocol, strlen(in->protocol));
	digest_add(md, &in->size, sizeof(in->size));
	digest_add(md, req->method, req->method_len);
	digest_add(md, req->target, req->target_len);
	digest_add(md, req->host != NULL ? req->host : "",
		   req->host != NULL ? req->host_len : 0);
	digest_add(md, in->ip, strlen(in->ip));
	digest_add(md, in->scheme, strlen(in->scheme));
	digest_add(md, in->subject ? in->subject : "",
		   in->subject ? strlen(in->subject) : 0);
	for (size_t i = 0; i < in->nf; i++) {
		digest_add(md, in->f[i].n, in->f[i].nl);
		digest_add(md, in->f[i].v, in->f[i].vl);
	}
	if (in->body != NULL) {
		digest_add(md, in->partial ? "partial" : "whole",
			   in->partial ? 7 : 5);
		digest_add(md, in->body, in->blen);
	}
	return EVP_DigestFinal_ex(md, key, &dl) == 1 && dl == 32 ? 0 : -1;
}

/* The HTTP check: the method, the route's path and the client's target,
 * Host, the client's address, the scheme, the request id, the
 * certificate's subject and the fields the route names. */
static char *
http_request(const struct sl_conf_extauth *x, const struct req_in *in,
	     const char *request_id, size_t *len)
{
	const struct sl_h1_request *req = in->req;
	char *b = malloc(REQ_MAX + in->blen);
	int n;
	size_t o;

	if (b == NULL)
		return NULL;
	n = snprintf(
	    b, REQ_MAX,
	    "%.*s %s%.*s HTTP/1.1\r\nHost: %.*s\r\n"
	    "X-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\n"
	    "X-Request-Id: %s\r\nContent-Length: %zu\r\n%s",
	    (int)req->method_len, req->method, x->path, (int)req->target_len,
	    req->target, req->host != NULL ? (int)req->host_len : 0,
	    req->host != NULL ? req->host : "", in->ip, in->scheme, request_id,
	    in->blen, in->partial ? "X-Auth-Partial-Body: true\r\n" : "");
	if (n < 0 || n >= REQ_MAX)
		goto fail;
	o = (size_t)n;
	if (in->subject != NULL) {
		n = snprintf(b + o, REQ_MAX - o, "X-Client-Subject: %s\r\n",
			     in->subject);
		if (n < 0 || (size_t)n >= REQ_MAX - o)
			goto fail;
		o += (size_t)n;
	}
	for (size_t i = 0; i < in->nf; i++) {
		const struct sent_field *h = &in->f[i];
		if (o + h->nl + h->vl + 4 >= REQ_MAX)
			goto fail;
		memcpy(b + o, h->n, h->nl);
		o += h->nl;
		memcpy(b + o, ": ", 2);
		memcpy(b + o + 2, h->v, h->vl);
		o += 2 + h->vl;
		memcpy(b + o, "\r\n", 2);
		o += 2;
	}
	if (o + 2 > REQ_MAX)
		goto fail;
	memcpy(b + o, "\r\n", 2);
	if (in->blen > 0)
		memcpy(b + o + 2, in->body, in->blen);
	*len = o + 2 + in->blen;
	return b;
fail:
	free(b);
	return NULL;
}

/* The gRPC check: a CheckRequest on POST, its fields joined by name. */
static char *
grpc_request(const struct sl_conf_extauth *x, const struct sl_seam *s,
	     const struct req_in *in, const char *request_id, size_t *len)
{
	const struct sl_h1_request *req = in->req;
	struct sl_authzpb_field f[SL_EXTAUTH_FIELDS_MAX];
	char joined[8192];
	size_t nf = 0, jo = 0;
	struct sl_authzpb_req r;
	struct timespec ts;
	char *b = malloc(REQ_MAX + in->blen);
	long n;
	int hl;

	if (b == NULL)
		return NULL;
	/* each named field once, its values joined with commas */
	for (size_t k = 0; k < x->nsend; k++) {
		size_t start = jo, seen = 0;
		for (size_t i = 0; i < in->nf; i++) {
			const struct sent_field *h = &in->f[i];
			if (h->nl != strlen(x->send[k]) ||
			    strncasecmp(h->n, x->send[k], h->nl) != 0)
				continue;
			if (jo + h->vl + 1 > sizeof(joined))
				goto fail;
			if (seen++)
				joined[jo++] = ',';
			memcpy(joined + jo, h->v, h->vl);
			jo += h->vl;
		}
		if (seen) {
			f[nf].name.p = x->send[k];
			f[nf].name.len = strlen(x->send[k]);
			f[nf].value.p = joined + start;
			f[nf++].value.len = jo - start;
		}
	}
	memset(&r, 0, sizeof(r));
	r.id = (struct sl_authzpb_str){request_id, strlen(request_id)};
	r.method = (struct sl_authzpb_str){req->method, req->method_len};
	r.path = (struct sl_authzpb_str){req->target, req->target_len};
	r.host = (struct sl_authzpb_str){req->host ? req->host : "",
					 req->host ? req->host_len : 0};
	r.scheme = (struct sl_authzpb_str){in->scheme, strlen(in->scheme)};
	r.protocol =
	    SL_SEAM_PROTO(s) == 2   ? (struct sl_authzpb_str){"HTTP/3", 6}
	    : SL_SEAM_PROTO(s) == 1 ? (struct sl_authzpb_str){"HTTP/2", 6}
	    : req->minor == 0	    ? (struct sl_authzpb_str){"HTTP/1.0", 8}
				    : (struct sl_authzpb_str){"HTTP/1.1", 8};
	r.src_addr = (struct sl_authzpb_str){in->ip, strlen(in->ip)};
	if (in->subject != NULL)
		r.principal =
		    (struct sl_authzpb_str){in->subject, strlen(in->subject)};
	r.headers = f;
	r.nheaders = nf;
	r.size = in->size;
	if (in->body != NULL)
		r.body = (struct sl_authzpb_str){in->body, in->blen};
	clock_gettime(CLOCK_REALTIME, &ts);
	r.time_s = (int64_t)ts.tv_sec;
	r.time_ns = (int32_t)ts.tv_nsec;
	hl = snprintf(b, REQ_MAX,
		      "POST " GRPC_CHECK " HTTP/1.1\r\nHost: %s\r\n"
		      "Content-Type: application/grpc\r\nTE: trailers\r\n"
		      "Content-Length: %05u\r\n\r\n",
		      x->cluster->name, 0u);
	if (hl < 0 || hl >= REQ_MAX)
		goto fail;
	n = sl_authzpb_check_request((uint8_t *)b + hl,
				     REQ_MAX + in->blen - (size_t)hl, &r);
	if (n < 0 || n > 99999)
		goto fail;
	/* the length, in the five digits kept for it */
	{
		char *cl = strstr(b, "Content-Length: ") + 16;
		char d[6];
		snprintf(d, sizeof(d), "%05ld", n);
		memcpy(cl, d, 5);
	}
	*len = (size_t)hl + (size_t)n;
	return b;
fail:
	free(b);
	return NULL;
}

/* ---- the answer ------------------------------------------------------- */

/* Keeps name and value in d's buf; returns the field, or -1. */
static int
keep(struct ea_decision *d, struct ea_field *f, const char *name, size_t nl,
     const char *value, size_t vl)
{
	if ((size_t)d->len + nl + vl > KEEP_MAX)
		return -1;
	f->noff = d->len;
	f->nlen = (uint16_t)nl;
	memcpy(d->buf + d->len, name, nl);
	d->len += (uint16_t)nl;
	f->voff = d->len;
	f->vlen = (uint16_t)vl;
	memcpy(d->buf + d->len, value, vl);
	d->len += (uint16_t)vl;
	return 0;
}

/* Whether a name (n bytes) is among names (lower case). */
static int
named(char *const *names, size_t nnames, const char *name, size_t n)
{
	for (size_t i = 0; i < nnames; i++)
		if (strlen(names[i]) == n &&
		    strncasecmp(names[i], name, n) == 0)
			return 1;
	return 0;
}

/* A value that may become a field: no CR, LF or NUL. */
static int
clean(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
			return 0;
	return 1;
}

/* Names the service may not remove or set: the message's framing and
 * sluice's own. */
static int
protected_name(const char *n, size_t len)
{
	static const char *const p[] = {
	    "host",
	    "content-length",
	    "transfer-encoding",
	    "connection",
	    "upgrade",
	    "te",
	    "trailer",
	    "keep-alive",
	    "x-request-id",
	    "proxy-connection",
	    ":authority",
	    ":path",
	    ":method",
	    ":scheme",
	    NULL,
	};
	for (size_t i = 0; p[i] != NULL; i++)
		if (strlen(p[i]) == len && strncasecmp(p[i], n, len) == 0)
			return 1;
	return 0;
}

/* Adds each comma-separated name of v to d's removals. */
static void
removals(struct ea_decision *d, const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t a, b;
		while (i < n && (v[i] == ' ' || v[i] == ',' || v[i] == '\t'))
			i++;
		a = i;
		while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		b = i;
		if (b > a && d->nrm < SL_AUTHZPB_FIELDS_MAX &&
		    sl_h1_is_token(v + a, b - a) &&
		    !protected_name(v + a, b - a))
			(void)keep(d, &d->rm[d->nrm++], v + a, b - a, "", 0);
	}
}

/* An HTTP answer into d. */
static void
http_decide(struct sl_extauth *ea, const struct sl_conf_extauth *x,
	    const struct sl_subreq_result *r)
{
	struct ea_decision *d = &ea->d;
	int allow = r->status >= 200 && r->status < 300;

	d->verdict = allow ? EA_ALLOW : EA_DENY;
	d->status = r->status;
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct sl_h1_header *h = &r->headers[i];
		if (allow && h->name_len == sizeof(HDR_REMOVE) - 1 &&
		    strncasecmp(h->name, HDR_REMOVE, h->name_len) == 0) {
			removals(d, h->value, h->value_len);
			continue;
		}
		if (!named(allow ? x->upstream : x->client,
			   allow ? x->nupstream : x->nclient, h->name,
			   h->name_len) ||
		    !clean(h->value, h->value_len) ||
		    d->nset >= SL_AUTHZPB_FIELDS_MAX)
			continue;
		if (keep(d, &d->set[d->nset], h->name, h->name_len, h->value,
			 h->value_len) == 0)
			d->nset++;
	}
	if (!allow && r->why == NULL && r->body_len <= DENY_BODY_MAX &&
	    d->len + r->body_len <= sizeof(d->buf)) {
		d->has_body = 1;
		d->body_off = d->len;
		d->body_len = (uint16_t)r->body_len;
		memcpy(d->buf + d->len, r->body, r->body_len);
		d->len += (uint16_t)r->body_len;
	}
}

/* A gRPC answer into d; -1 when it is no CheckResponse (a failure). */
static int
grpc_decide(struct sl_extauth *ea, const struct sl_conf_extauth *x,
	    const struct sl_subreq_result *r)
{
	struct ea_decision *d = &ea->d;
	struct sl_authzpb_resp *pb = malloc(sizeof(*pb));
	int allow;

	if (pb == NULL) {
		ea->why = "out_of_memory";
		return -1;
	}
	if (r->status != 200 || r->grpc_status != 0 ||
	    sl_authzpb_check_response((const uint8_t *)r->body, r->body_len,
				      pb) == -1) {
		ea->why = r->status != 200	? "bad_status"
			  : r->grpc_status != 0 ? "grpc_status"
						: "bad_message";
		free(pb);
		return -1;
	}
	allow = pb->code == 0;
	d->verdict = allow ? EA_ALLOW : EA_DENY;
	/* a denial without a status of its own is a 403, as Envoy's */
	d->status = allow ? 200
		    : pb->http_status >= 300 && pb->http_status <= 599
			? pb->http_status
			: 403;
	for (size_t i = 0; i < pb->nfields; i++) {
		const struct sl_authzpb_field *f = &pb->fields[i];
		/* never a field that frames the message or is sluice's;
		 * a denial's only as client_headers names them */
		if (!sl_h1_is_token(f->name.p, f->name.len) ||
		    !clean(f->value.p, f->value.len) ||
		    protected_name(f->name.p, f->name.len) ||
		    (!allow &&
		     !named(x->client, x->nclient, f->name.p, f->name.len)) ||
		    d->nset >= SL_AUTHZPB_FIELDS_MAX)
			continue;
		if (keep(d, &d->set[d->nset], f->name.p, f->name.len,
			 f->value.p, f->value.len) == 0)
			d->nset++;
	}
	for (size_t i = 0; allow && i < pb->nremove; i++)
		if (d->nrm < SL_AUTHZPB_FIELDS_MAX &&
		    sl_h1_is_token(pb->remove[i].p, pb->remove[i].len) &&
		    !protected_name(pb->remove[i].p, pb->remove[i].len))
			(void)keep(d, &d->rm[d->nrm++], pb->remove[i].p,
				   pb->remove[i].len, "", 0);
	if (!allow && pb->body.len <= DENY_BODY_MAX &&
	    d->len + pb->body.len <= sizeof(d->buf)) {
		d->has_body = 1;
		d->body_off = d->len;
		d->body_len = (uint16_t)pb->body.len;
		memcpy(d->buf + d->len, pb->body.p, pb->body.len);
		d->len += (uint16_t)pb->body.len;
	}
	free(pb);
	return 0;
}

static void
extauth_done(const struct sl_subreq_result *r, void *arg)
{
	struct sl_extauth *ea = arg;
	struct sl_txn *t = ea->t;
	struct sl_seam *s = t->s;
	const struct sl_conf_extauth *x = sl_auth_route(t->route)->external;
	struct sl_auth_counts *rc =
	    sl_auth_counts(&t->route->state->counts[s->w->id]);
	uint64_t us = now_us() - ea->start_us;

	ea->q = NULL;
	ea->phase = EA_DONE;
	if (r->closing) {
		/* the worker stops: the request is freed with its client,
		 * never sent on */
		ea->d.verdict = EA_FAIL;
		ea->why = r->why;
		return;
	}
	SL_STAT_INC(rc->ext_dur[sl_hist_slot(us / 1000)]);
	SL_STAT_ADD(rc->ext_dur_sum_us, us);
	memset(&ea->d, 0, offsetof(struct ea_decision, buf));
	if (r->status == 0 ||
	    (r->why != NULL && (r->status < 300 || r->status >= 500))) {
		/* no answer, or a cut one that cannot be a denial */
		ea->why = r->why != NULL ? r->why : "no_answer";
		ea->d.verdict = EA_FAIL;
	} else if (r->status >= 500) {
		ea->why = "status_5xx";
		ea->d.verdict = EA_FAIL;
	} else if (x->protocol == SL_EXTAUTH_GRPC) {
		if (grpc_decide(ea, x, r) == -1)
			ea->d.verdict = EA_FAIL;
	} else
		http_decide(ea, x, r);
	if (ea->d.verdict == EA_FAIL && sl_log_enabled(SL_LOG_WARN)) {
		/* "(status 0)" left the reader guessing: no status came */
		char st[24] = "no answer";
		if (r->status != 0)
			snprintf(st, sizeof(st), "status %d", r->status);
		log_warnx("conn=%llu request_id=%s route=%s: external auth "
			  "cluster=%s failed: %s (%s)%s",
			  (unsigned long long)s->id, t->request_id,
			  t->route->name, x->cluster->name, ea->why, st,
			  x->on_failure == SL_EXTAUTH_FAIL_ALLOW
			      ? "; on_failure: allow"
			      : "");
	}
	/* only what the service decided is kept: never a failure */
	if (x->cache_entries > 0 && ea->d.verdict != EA_FAIL) {
		struct cache_ent *ce = cache_slot(ea->key, x->cache_entries);
		struct ea_decision *d;
		size_t sz = offsetof(struct ea_decision, buf) + ea->d.len;
		if (ce != NULL && (d = malloc(sz)) != NULL) {
			memcpy(d, &ea->d, sz);
			free(ce->d);
			ce->d = d;
			memcpy(ce->key, ea->key, 32);
			ce->expires_ms = sl_now_ms() + x->cache_ttl_ms;
		}
	}
	ea->woken(t);
}

/* ---- the decision applied --------------------------------------------- */

static void
ext_count(struct sl_seam *s, int result)
{
	SL_STAT_INC(sl_auth_counts(&s->txn->route->state->counts[s->w->id])
			->ext[result]);
}

/* One more name the client's fields of which are dropped. Returns 0, or
 * -1 when there is no room. */
static int
drop_name(struct sl_fwd_extra *fx, const char *name, size_t len)
{
	if (fx->ndrop >= SL_FWD_EXTRA_MAX)
		return -1;
	fx->drop[fx->ndrop].name = name;
	fx->drop[fx->ndrop++].len = len;
	return 0;
}

/* Adds the decision's fields to fx: first the names whose client fields
 * must go (the ones the service sets, the failure marker), then what the
 * service removes, then what it sets. Returns 0, or -1 when they do not
 * all fit: the caller fails closed, for a client's field that was to be
 * replaced must never go up beside the service's. */
static int
allow_fields(const struct sl_conf_extauth *x, struct sl_extauth *ea,
	     struct sl_fwd_extra *fx)
{
	const struct ea_decision *d = &ea->d;
	int r = 0;

	for (size_t i = 0; i < x->nupstream; i++)
		r |= drop_name(fx, x->upstream[i], strlen(x->upstream[i]));
	/* a gRPC service names what it sets: the client's go */
	for (unsigned i = 0; x->protocol == SL_EXTAUTH_GRPC && i < d->nset; i++)
		r |= drop_name(fx, d->buf + d->set[i].noff, d->set[i].nlen);
	r |= drop_name(fx, x->failure_header, strlen(x->failure_header));
	for (unsigned i = 0; i < d->nrm; i++)
		r |= drop_name(fx, d->buf + d->rm[i].noff, d->rm[i].nlen);
	for (unsigned i = 0; i < d->nset; i++) {
		if (fx->nset >= SL_FWD_EXTRA_MAX) {
			r = -1;
			break;
		}
		fx->set[fx->nset].name = d->buf + d->set[i].noff;
		fx->set[fx->nset].nlen = d->set[i].nlen;
		fx->set[fx->nset].value = d->buf + d->set[i].voff;
		fx->set[fx->nset++].vlen = d->set[i].vlen;
	}
	fx->drop_lens = 0;
	for (unsigned i = 0; i < fx->ndrop; i++)
		fx->drop_lens |= (uint64_t)1 << (fx->drop[i].len & 63);
	return r;
}

/* The denial passed on to the client. */
static void
deny(struct sl_seam *s, struct sl_extauth *ea)
{
	const struct ea_decision *d = &ea->d;
	struct sl_txn *t = s->txn;
	char fields[KEEP_MAX + 256];
	size_t o = 0;
	int status = d->status >= 300 && d->status <= 599 ? d->status : 403;

	for (unsigned i = 0; i < d->nset; i++) {
		if (o + d->set[i].nlen + d->set[i].vlen + 4 >= sizeof(fields))
			break;
		memcpy(fields + o, d->buf + d->set[i].noff, d->set[i].nlen);
		o += d->set[i].nlen;
		memcpy(fields + o, ": ", 2);
		memcpy(fields + o + 2, d->buf + d->set[i].voff, d->set[i].vlen);
		o += 2 + d->set[i].vlen;
		memcpy(fields + o, "\r\n", 2);
		o += 2;
	}
	fields[o] = '\0';
	ext_count(s, SL_EXT_DENY);
	if (sl_log_enabled(SL_LOG_INFO))
		log_info("conn=%llu request_id=%s route=%s: %d "
			 "ext_auth_denied%s",
			 (unsigned long long)s->id, t->request_id,
			 t->route->name, status, ea->cached ? " (cached)" : "");
	if (d->has_body)
		sl_exchange_answer_body(s, status, "ext_auth_denied", fields,
					d->buf + d->body_off, d->body_len);
	else
		sl_exchange_answer_as(s, status,
				      status == 401   ? "unauthorized"
				      : status == 403 ? "forbidden"
						      : "ext_auth_denied",
				      "ext_auth_denied", 0,
				      o > 0 ? fields : NULL);
}

/* Applies a decision made. Returns as sl_exchange_extauth. */
static int
apply(struct sl_seam *s, const struct sl_conf_extauth *x, struct sl_extauth *ea,
      struct sl_fwd_extra *fx)
{
	switch (ea->d.verdict) {
	case EA_ALLOW:
		if (allow_fields(x, ea, fx) == -1) {
			log_warnx("conn=%llu request_id=%s route=%s: external "
				  "auth: the allowance's fields do not fit; "
				  "refused",
				  (unsigned long long)s->id, s->txn->request_id,
				  s->txn->route->name);
			ext_count(s, SL_EXT_ERROR_DENY);
			sl_exchange_answer(s, 503, "ext_auth_unavailable", 0,
					   "Retry-After: 1\r\n");
			return -1;
		}
		ext_count(s, SL_EXT_ALLOW);
		ea->logged = "external"; /* the access log says so */
		s->txn->flags |= SL_TXN_F_LOGF;
		return 0;
	case EA_DENY:
		deny(s, ea);
		return -1;
	default:
		break;
	}
	if (x->on_failure == SL_EXTAUTH_FAIL_ALLOW) {
		/* let through, marked: the upstream may refuse what it
		 * must, and the count says how many went unchecked */
		ea->d.nset = ea->d.nrm = 0;
		if (allow_fields(x, ea, fx) == -1 ||
		    fx->nset >= SL_FWD_EXTRA_MAX) {
			/* the marker must go with it, or it does not go */
			ext_count(s, SL_EXT_ERROR_DENY);
			sl_exchange_answer(s, 503, "ext_auth_unavailable", 0,
					   "Retry-After: 1\r\n");
			return -1;
		}
		ext_count(s, SL_EXT_ERROR_ALLOW);
		fx->set[fx->nset].name = x->failure_header;
		fx->set[fx->nset].nlen = strlen(x->failure_header);
		fx->set[fx->nset].value = "1";
		fx->set[fx->nset++].vlen = 1;
		ea->logged = "unchecked";
		s->txn->flags |= SL_TXN_F_LOGF;
		return 0;
	}
	ext_count(s, SL_EXT_ERROR_DENY);
	sl_exchange_answer(
	    s, x->failure_status,
	    x->failure_status == 403 ? "forbidden" : "ext_auth_unavailable", 0,
	    x->failure_status == 503 ? "Retry-After: 1\r\n" : NULL);
	return -1;
}

/* The exchange ends: its check, if it has one, is dropped. */
static void
ea_end(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_extauth *ea = *eslot(t);

	if (ea == NULL)
		return;
	if (ea->q != NULL)
		sl_subreq_cancel(ea->q);
	if (spare == NULL)
		spare = ea;
	else
		free(ea);
	*eslot(t) = NULL;
}

/*
 * The route's external check: GO when the request may go on, with the
 * fields the decision sets and removes added to the head's extra fields
 * (valid until t is freed); ANSWERED when it was answered (the service's
 * denial, or the route's on_failure: deny); WAIT while the service is
 * asked, or the body's first bytes it is sent are not here yet.
 */
static int
ea_head(struct sl_seam *s, struct sl_fhead *h)
{
	const struct sl_h1_request *req = h->req;
	struct sl_fwd_extra *fx = sl_fhead_extra(h);
	struct sl_txn *t = s->txn;
	const struct sl_conf_extauth *x = sl_auth_route(t->route)->external;
	struct sl_extauth *ea = *eslot(t);
	struct req_in in;
	struct cache_ent *ce;
	char ip[64];
	char *rq;
	size_t len;

	if (ea != NULL && ea->phase == EA_DONE)
		return apply(s, x, ea, fx); /* woken by the decision */
	if (ea == NULL) {
		if ((ea = spare) != NULL)
			spare = NULL;
		else if ((ea = malloc(sizeof(*ea))) == NULL) {
			sl_exchange_local(s, 503, "out_of_memory", 0);
			return -1;
		}
		*eslot(t) = ea;
		t->flags |= SL_TXN_F_FEND;
		memset(ea, 0, offsetof(struct sl_extauth, d));
		ea->t = t;
	}
	/* all but the fields' array, which collect_sent fills */
	memset(&in, 0, offsetof(struct req_in, f));
	memset((char *)&in + offsetof(struct req_in, nf), 0,
	       sizeof(in) - offsetof(struct req_in, nf));
	in.req = req;
	collect_sent(x, &in, fx->nset > 0 || fx->ndrop > 0 ? fx : NULL);
	in.protocol = SL_SEAM_PROTO(s) == 2   ? "HTTP/3"
		      : SL_SEAM_PROTO(s) == 1 ? "HTTP/2"
		      : req->minor == 0	      ? "HTTP/1.0"
					      : "HTTP/1.1";
	in.size = req->body == SL_H1_BODY_LENGTH ? (int64_t)req->content_length
		  : req->body == SL_H1_BODY_NONE ? 0
						 : -1;
	in.ip = sl_ip_str(&t->client_addr, ip, sizeof(ip));
	in.scheme = (s->flags & SL_SEAM_F_TLS) ? "https" : "http";
	in.subject = s->tls_subject;
	if ((ea->phase == 0 || ea->phase == EA_BODY) && x->body_bytes > 0 &&
	    req->body != SL_H1_BODY_NONE &&
	    !(req->flags & SL_H1_F_EXPECT_CONTINUE)) {
		/* the body's first bytes go with the check: wait for them
		 * (not with Expect: 100-continue, whose body comes only
		 * after sluice asks for it, once the request may go on) */
		ea->body_want = req->body == SL_H1_BODY_LENGTH &&
					req->content_length < x->body_bytes
				    ? (uint32_t)req->content_length
				    : x->body_bytes;
		if (!sl_exchange_body_wait(s, ea->body_want)) {
			ea->phase = EA_BODY;
			return SL_FILTER_WAIT;
		}
	}
	if (ea->body_want > 0) {
		int whole;
		in.blen = sl_exchange_body_take(
		    t, s->in.data + s->in.off, s->in.len - s->in.off,
		    ea->body_want, &in.body, &whole);
		/* a body its codec refused is answered, not asked about */
		if (whole < 0)
			return sl_exchange_body_refuse(s);
		in.partial = !whole;
	}
	if (x->cache_entries > 0 && make_key(x, &in, ea->key) == 0 &&
	    (ce = cache_slot(ea->key, x->cache_entries)) != NULL &&
	    ce->d != NULL && memcmp(ce->key, ea->key, 32) == 0 &&
	    ce->expires_ms > sl_now_ms()) {
		memcpy(&ea->d, ce->d,
		       offsetof(struct ea_decision, buf) + ce->d->len);
		ea->phase = EA_DONE;
		ea->cached = 1;
		SL_STAT_INC(sl_auth_counts(&t->route->state->counts[s->w->id])
				->ext_cached);
		return apply(s, x, ea, fx);
	}
	rq = x->protocol == SL_EXTAUTH_GRPC
		 ? grpc_request(x, s, &in, t->request_id, &len)
		 : http_request(x, &in, t->request_id, &len);
	if (rq == NULL) {
		/* too large to ask about: a failure, under the route's
		 * policy */
		ea->phase = EA_DONE;
		ea->why = "request_too_large";
		ea->d.verdict = EA_FAIL;
		return apply(s, x, ea, fx);
	}
	ea->woken = sl_exchange_filters_woken;
	ea->start_us = now_us();
	ea->phase = EA_ASKING;
	ea->q = sl_subreq_start(s->w, s->gen,
				&s->gen->clusters[x->cluster->index], rq, len,
				ANSWER_MAX, x->timeout_ms, extauth_done, ea);
	if (ea->q == NULL) {
		ea->phase = EA_DONE;
		ea->why = "connect";
		ea->d.verdict = EA_FAIL;
		return apply(s, x, ea, fx);
	}
	return SL_FILTER_WAIT;
}

static int
ea_used(const struct sl_conf_route *r)
{
	const struct sl_conf_auth *a = sl_auth_route(r);

	return a != NULL && a->external != NULL;
}

/* The access log's auth: after the token's, in one field
 * ("jwt,unchecked"). */
static void
ea_log_fields(struct sl_txn *t, struct sl_flog *l)
{
	const struct sl_extauth *ea = *eslot(t);

	if (ea != NULL)
		sl_flog_add(l, 0, "auth", ea->logged);
}

struct sl_filter sl_filter_extauth = {
    .log_fields = ea_log_fields,
    .name = "auth.external",
    .ctx_size = sizeof(struct sl_extauth *),
    .used = ea_used,
    .req_head = ea_head,
    .end = ea_end,
    .thread_free = extauth_thread_free,
};
