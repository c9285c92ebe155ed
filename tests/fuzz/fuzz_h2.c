/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the HTTP/2 codec (h2.c): frames into the codec of
 * a real worker over the in-memory transport (xprt.h), as the unit tests'
 * harness runs one (tests/unit/harness.c), without cmocka. Made once, on
 * the first input: a configuration with three listeners speaking h2, each
 * with two routes to clusters whose endpoints connect on memory ends
 * (upstream.h, ep->connector) and a 404 for every other path, the access
 * log to /dev/null, a worker with no sockets (freed at exit, so that
 * LeakSanitizer sees everything given back).
 *
 * An input is three bytes of settings, then what the client sends after
 * the connection preface:
 *   [0]  split: the preface and the frames are written in pieces of this
 *        many bytes, a turn of the loop after each (0: all at once)
 *   [1]  the upstreams' first answer: the n-th request they read gets
 *        the canned answer kinds[([1] + n) % NKINDS]
 *   [2]  F_* below: the listener ([h2, http/1.1] with 8 streams; [h2]
 *        with 2 streams, max_requests 4 and a 1 KiB header list; or one
 *        whose timeouts are a few milliseconds, for which the loop then
 *        waits for its timers; or the first with the debug log on), the
 *        client's receive window (a slow reader), whether the client shuts
 *        its write side or resets the connection after its bytes, whether
 *        the upstreams hold their answers until the client wrote all, and
 *        whether the worker drains the connection halfway
 * The loop runs for a bounded number of non-blocking turns, the upstream
 * ends served between them: an upstream reads whole HTTP/1.1 requests
 * (head, then a Content-Length or chunked body) and answers each with its
 * canned kind (a length, chunked with a trailer, close-delimited, a 103
 * first, a 204, cut in the middle, none, at once before the body, a
 * 70000-byte body, chunked and reset). Then every connection is aborted,
 * the upstream ends closed, and the loop reaps them.
 *
 * Checked (CHECK):
 * - what sluice writes to the client is whole HTTP/2 frames (a cut last
 *   frame only when the connection ended with a reset or is cut by the
 *   abort with bytes unwritten: never before a FIN), the first a SETTINGS
 *   on stream 0 with valid values, every later frame well formed for its
 *   type (lengths, stream 0 or not, no padding or priority), DATA at most
 *   16384 bytes and never empty but with END_STREAM, no frame larger than
 *   the client allowed, no PUSH_PROMISE, PRIORITY or unknown type,
 *   CONTINUATION only right after its HEADERS;
 * - header blocks decode (HPACK, nghttp2's decoder), with lower-case token
 *   names, no connection-specific field, no CR, LF or NUL in a value,
 *   :status first and alone among pseudo-fields (none in trailers), at
 *   most one Content-Length, of digits;
 * - per stream: only streams the client opened are answered or reset, no
 *   more at once than the listener's max_concurrent_streams; interim
 *   (1xx, not 101) heads, one final head, DATA, trailers, in this order,
 *   nothing after END_STREAM or RST_STREAM; no DATA payload for HEAD, 204,
 *   304; at END_STREAM the DATA add up to the Content-Length; an upstream
 *   answer (its x-fuzz-kind field) comes through as the upstream sent it:
 *   the same payload bytes, a cut answer never ends with END_STREAM, a
 *   chunked one ends with its trailer field;
 * - flow control: the DATA sluice sends stay within the windows the client
 *   gave (connection and stream), the WINDOW_UPDATEs sluice sends give back
 *   no more than the client's DATA took (and the connection window's
 *   raise); PING and SETTINGS acknowledgements only answer the client's,
 *   sluice's own PING is the drain's; GOAWAY last stream ids never grow,
 *   no stream past one is answered after it, nothing follows a GOAWAY with
 *   an error;
 * - every request an upstream reads parses with sl_h1_parse_request
 *   (HTTP/1.1, a Host, the route's prefix on the route's endpoint), its
 *   chunked body decodes (no forbidden trailer field); the body so far is
 *   the start of the DATA of a client stream with that :path, and a
 *   chunked body (a stream without content-length) ends only for a
 *   stream whose client sent END_STREAM; no upstream connection is ended
 *   by sluice in the middle of a head;
 * - after the abort and the reaps nothing is left: no client, no HTTP/2
 *   connection or stream counted, no request active on an endpoint nor
 *   idle in its pool, no I/O buffer held.
 * What the client sent is walked beside (walk_client) as nghttp2 reads it,
 * for the streams it opened, their :method and :path (its own HPACK
 * decoder), their DATA, and the windows, PINGs and SETTINGS it gave; the
 * bounds drawn from it are supersets (frames nghttp2 never read after a
 * connection error count too), so they only loosen.
 *
 * FUZZ_H2_TRACE=1 in the environment prints the frames both ways and the
 * heads the upstreams read, with the debug log (to study one input).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>

#include "client.h"
#include "client_int.h"
#include "conf.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "log.h"
#include "runtime.h"
#include "upstream.h"
#include "wloop.h"
#include "worker.h"
#include "ws.h"
#include "xprt.h"

#include "fuzz.h"

#define PORT0 9000 /* endpoint 9001: cluster up (/u), 9002: once (/o) */

static const char yaml[] =
    "listeners:\n"
    "  - name: both\n"
    "    address: 127.0.0.1:8080\n"
    "    protocols: [h2, http/1.1]\n"
    "    limits: { buffer_bytes: 16KiB, max_header_bytes: 4KiB,\n"
    "              max_uri_bytes: 2KiB, max_concurrent_streams: 8 }\n"
    "    routes:\n"
    "      - match: { path_prefix: /uw }\n"
    "        cluster: up\n"
    "        upgrade: [websocket]\n"
    "      - match: { path_prefix: /u }\n"
    "        cluster: up\n"
    "      - match: { path_prefix: /o }\n"
    "        cluster: once\n"
    "        retry: { attempts: 1 }\n"
    "  - name: h2only\n"
    "    address: 127.0.0.1:8081\n"
    "    protocols: [h2]\n"
    "    limits: { buffer_bytes: 8KiB, max_header_bytes: 2KiB,\n"
    "              max_uri_bytes: 1KiB,\n"
    "              max_header_list_bytes: 1KiB, max_concurrent_streams: 2,\n"
    "              max_requests: 4, max_body_bytes: 4KiB }\n"
    "    routes:\n"
    "      - match: { path_prefix: /u }\n"
    "        cluster: up\n"
    "      - match: { path_prefix: /o }\n"
    "        cluster: once\n"
    "        retry: { attempts: 1 }\n"
    "  - name: timers\n"
    "    address: 127.0.0.1:8082\n"
    "    protocols: [h2, http/1.1]\n"
    "    limits: { buffer_bytes: 16KiB, max_header_bytes: 4KiB,\n"
    "              max_uri_bytes: 2KiB, max_concurrent_streams: 4,\n"
    "              header_timeout: 3ms, body_timeout: 4ms,\n"
    "              send_timeout: 5ms, idle_timeout: 6ms }\n"
    "    routes:\n"
    "      - match: { path_prefix: /u }\n"
    "        cluster: up\n"
    "        timeout: 8ms\n"
    "      - match: { path_prefix: /o }\n"
    "        cluster: once\n"
    "        retry: { attempts: 1 }\n"
    "        timeout: 8ms\n"
    "clusters:\n"
    "  - name: up\n"
    "    endpoints: [127.0.0.1:9001]\n"
    "  - name: once\n"
    "    endpoints: [127.0.0.1:9002]\n";

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#define MAX_FRAMES_IN 16384 /* bytes of frames */
#define MAX_PIECES    512   /* pieces written with a turn between */
#define END_TURNS     64    /* turns after the last piece, at most */
#define CALM_TURNS    4	    /* ... ending after so many with nothing done */
#define MAXUP	      32    /* upstream connections of one input */
#define MAXSTREAMS    4096  /* stream ids tracked (a power of two) */
#define PATH_KEPT     128   /* bytes of a :path kept */
#define UP_BUF_MAX    (1u << 20)
#define BIG_BODY      70000 /* kind K_BIG's body: past the first windows */
#define TICK_US	      2000  /* the timed phase's longest wait */
#define TIMED_TURNS   12

/* the settings byte */
#define F_LISTENER 0x03 /* 0, 1, 2; 3: 0 with the debug log */
#define F_WINDOW   0x0c /* the client's receive window: windows[] */
#define F_FIN	   0x10 /* the client shuts its write side after its bytes */
#define F_HOLD	   0x20 /* upstreams answer once the client wrote all */
#define F_DRAIN	   0x40 /* the worker drains the connection halfway */
#define F_RESET	   0x80 /* the client resets the connection at the end */

static struct sl_conf *conf;
static struct sl_worker *w;
static uint64_t bufs_at_rest; /* w->bufs.allocated between inputs */
static struct event *tick;    /* the timed phase's (listener 2) */
static int trace;

/* ---- the upstreams' answers --------------------------------------------*/

enum kind {
	K_LENGTH,     /* Content-Length body */
	K_CHUNKED,    /* chunked, with a trailer field */
	K_CLOSE,      /* no length: the body ends with the connection */
	K_EARLY_HINT, /* a 103, then a 200 with a length */
	K_204,	      /* no content */
	K_CUT,	      /* Content-Length: 100, 5 bytes, then a FIN */
	K_SILENT,     /* no answer */
	K_EARLY,      /* answered once the head is read, body or not, with
			 Connection: close, then closed */
	K_BIG,	      /* a body of BIG_BODY bytes */
	K_CHUNK_CUT,  /* chunked, reset in the middle of a chunk */
	NKINDS
};

/* The payload of each kind as the client must see it (K_BIG's is
 * big_byte()), and whether the upstream ends its connection after it. */
static const struct {
	const char *head; /* with "x-fuzz-kind: K" */
	const char *body; /* as written after the head (framing too) */
	const char *payload;
	int ends; /* 0: keep-alive; 1: FIN after it; 2: reset */
} kinds[NKINDS] = {
    [K_LENGTH] = {"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n"
		  "x-fuzz-kind: 0\r\n\r\n",
		  "hello world", "hello world", 0},
    [K_CHUNKED] = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		   "Trailer: x-t\r\nx-fuzz-kind: 1\r\n\r\n",
		   "5\r\nhello\r\n6\r\n world\r\n0\r\nx-t: yes\r\n\r\n",
		   "hello world", 0},
    [K_CLOSE] = {"HTTP/1.1 200 OK\r\nx-fuzz-kind: 2\r\n\r\n", "hello world",
		 "hello world", 1},
    [K_EARLY_HINT] = {"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; "
		      "rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"
		      "Content-Length: 11\r\nx-fuzz-kind: 3\r\n\r\n",
		      "hello world", "hello world", 0},
    [K_204] = {"HTTP/1.1 204 No Content\r\nx-fuzz-kind: 4\r\n\r\n", "", "", 0},
    [K_CUT] = {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
	       "x-fuzz-kind: 5\r\n\r\n",
	       "hello", "hello", 1},
    [K_SILENT] = {NULL, NULL, NULL, 0},
    [K_EARLY] = {"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n"
		 "Connection: close\r\nx-fuzz-kind: 7\r\n\r\n",
		 "hello world", "hello world", 1},
    [K_BIG] = {"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n"
	       "x-fuzz-kind: 8\r\n\r\n",
	       NULL, NULL, 0},
    [K_CHUNK_CUT] = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		     "x-fuzz-kind: 9\r\n\r\n",
		     "5\r\nhello\r\n6\r\n wo", "hello wo", 2},
};

static uint8_t
big_byte(uint64_t i)
{
	return (uint8_t)('a' + i % 23);
}

/* ---- what the client sent (walked once per input) ----------------------*/

/* Appends p[0..n) to a growing buffer. */
static void
append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n)
			c *= 2;
		*buf = realloc(*buf, c);
		CHECK(*buf != NULL);
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

struct strm {
	uint32_t id; /* 0: a free slot */
	/* the client's side */
	uint8_t opened;	  /* a HEADERS frame named it */
	uint8_t prio_err; /* a PRIORITY of a length other than 5, or
			     that made it depend on itself: a stream
			     error even while idle (RFC 9113 section
			     6.3, RFC 7540 section 5.3.1; h2spec 6.3/2,
			     5.3.1/2) */
	uint8_t c_end;	  /* END_STREAM on one of its frames */
	uint8_t c_rst;	  /* the client reset it */
	uint8_t head_req; /* its request block said :method HEAD */
	uint8_t path_known;
	uint8_t path_len; /* of path, when path_known */
	char path[PATH_KEPT];
	uint64_t c_data; /* DATA payload the client sent (no padding) */
	uint8_t *pay;	 /* ... those bytes (malloc'd per input) */
	size_t paylen, paycap;
	uint64_t c_fc;	 /* DATA bytes counted by flow control */
	uint64_t c_incr; /* the client's WINDOW_UPDATE increments */
	/* sluice's side */
	uint8_t s_state; /* S_* below */
	uint8_t trailers;
	uint8_t s_reset;
	uint8_t counted; /* among out.active */
	int status;
	int kind; /* x-fuzz-kind, -1 none */
	int64_t cl;
	uint64_t s_data;
	uint64_t s_incr; /* sluice's WINDOW_UPDATE increments */
};

enum { S_IDLE, S_INTERIM, S_FINAL, S_ENDED };

static struct strm streams[MAXSTREAMS];
static uint32_t used[MAXSTREAMS];
static size_t nused;

static struct strm *
stream_get(uint32_t id, int make)
{
	uint32_t h = (id * 2654435761u) & (MAXSTREAMS - 1);

	for (size_t i = 0; i < MAXSTREAMS;
	     i++, h = (h + 1) & (MAXSTREAMS - 1)) {
		if (streams[h].id == id)
			return &streams[h];
		if (streams[h].id == 0) {
			if (!make)
				return NULL;
			memset(&streams[h], 0, sizeof(streams[h]));
			streams[h].id = id;
			streams[h].kind = -1;
			streams[h].cl = -1;
			used[nused++] = h;
			return &streams[h];
		}
	}
	CHECK(0); /* never: fewer frames than slots */
	return NULL;
}

static void
streams_clear(void)
{
	for (size_t i = 0; i < nused; i++) {
		free(streams[used[i]].pay);
		streams[used[i]].pay = NULL;
		streams[used[i]].id = 0;
	}
	nused = 0;
}

/* What the client's frames allow sluice (supersets: frames nghttp2 never
 * read after a connection error count too, so the bounds only loosen). */
static struct {
	uint64_t pings;	     /* PING without ACK */
	uint64_t settings;   /* SETTINGS without ACK */
	uint64_t conn_incr;  /* connection WINDOW_UPDATE increments */
	uint64_t fc_total;   /* DATA bytes, flow-controlled */
	uint64_t max_init;   /* largest SETTINGS_INITIAL_WINDOW_SIZE */
	uint64_t max_frame;  /* largest SETTINGS_MAX_FRAME_SIZE */
	uint32_t max_opened; /* largest id a HEADERS named */
	int hpack_ok;	     /* its header blocks were all decoded */
} cl_;

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint32_t
get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* Decodes one header block; calls field() for each pair. Returns 0, or -1
 * when the block does not decode. */
static int
hpack_block(nghttp2_hd_inflater *inf, const uint8_t *in, size_t len,
	    void (*field)(void *, const nghttp2_nv *), void *arg)
{
	static const uint8_t empty[1];

	if (in == NULL)
		in = empty;
	for (;;) {
		nghttp2_nv nv;
		int fl = 0;
		ssize_t n = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, len, 1);

		if (n < 0)
			return -1;
		in += n;
		len -= (size_t)n;
		if (fl & NGHTTP2_HD_INFLATE_EMIT)
			field(arg, &nv);
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(inf);
			return len == 0 ? 0 : -1;
		}
		if (n == 0 && len == 0 && !(fl & NGHTTP2_HD_INFLATE_EMIT))
			return -1;
	}
}

struct req_fields {
	struct strm *st;
	int methods, head, paths;
};

static void
client_field(void *arg, const nghttp2_nv *nv)
{
	struct req_fields *r = arg;

	if (nv->namelen == 7 && memcmp(nv->name, ":method", 7) == 0) {
		r->methods++;
		r->head =
		    nv->valuelen == 4 && memcmp(nv->value, "HEAD", 4) == 0;
	} else if (nv->namelen == 5 && memcmp(nv->name, ":path", 5) == 0) {
		r->paths++;
		if (nv->valuelen <= PATH_KEPT && r->paths == 1) {
			memcpy(r->st->path, nv->value, nv->valuelen);
			r->st->path_len = (uint8_t)nv->valuelen;
			r->st->path_known = 1;
		} else
			r->st->path_known = 0;
	}
}

/* Walks the client's frames as nghttp2 reads them (9-byte headers), for
 * the bounds above and the streams' requests (their blocks decoded by a
 * decoder of its own, as nghttp2's server session decodes them). */
static void
walk_client(const uint8_t *p, size_t len)
{
	nghttp2_hd_inflater *inf = NULL;
	uint8_t *block = NULL;
	size_t blen = 0, bcap = 0;
	uint32_t bstream = 0;
	int in_block = 0, block_end = 0, brequest = 0;

	memset(&cl_, 0, sizeof(cl_));
	cl_.max_init = 65535;
	cl_.max_frame = 16384;
	cl_.hpack_ok = 1;
	CHECK(nghttp2_hd_inflate_new(&inf) == 0);
	while (len >= 9) {
		uint32_t flen = get24(p), sid = get32(p + 5) & 0x7fffffffu;
		uint8_t type = p[3], flags = p[4];
		const uint8_t *pl = p + 9;
		struct strm *st = NULL;

		if (len - 9 < flen) {
			/* the last frame, cut: nghttp2 reads a header block
			 * and DATA as they come, a stream opens with its
			 * first bytes */
			/* a PRIORITY of a bad length is refused from its
			 * header, before its payload came */
			if (sid != 0 && type == NGHTTP2_PRIORITY && flen != 5)
				stream_get(sid, 1)->prio_err = 1;
			if (sid != 0 &&
			    (type == NGHTTP2_HEADERS || type == NGHTTP2_DATA)) {
				st = stream_get(sid, 1);
				if (type == NGHTTP2_HEADERS) {
					st->opened = 1;
					if (sid > cl_.max_opened)
						cl_.max_opened = sid;
				} else {
					/* (padding taken for payload: the
					 * bounds only loosen) */
					size_t skip =
					    (flags & NGHTTP2_FLAG_PADDED) ? 1
									  : 0;
					st->c_fc += len - 9;
					st->c_data += len - 9;
					if (len - 9 >= skip)
						append(&st->pay, &st->paylen,
						       &st->paycap, pl + skip,
						       len - 9 - skip);
					cl_.fc_total += len - 9;
				}
			}
			break;
		}
		p += 9 + flen;
		len -= 9 + flen;
		if (sid != 0)
			st = stream_get(sid, 1);
		if (in_block &&
		    (type != NGHTTP2_CONTINUATION || sid != bstream))
			cl_.hpack_ok = 0; /* nghttp2 ends the connection */
		switch (type) {
		case NGHTTP2_PRIORITY:
			if (st != NULL &&
			    (flen != 5 || (get32(pl) & 0x7fffffffu) == sid))
				st->prio_err = 1;
			break;
		case NGHTTP2_DATA:
			if (st != NULL) {
				uint32_t pad = 0;
				st->c_fc += flen;
				if ((flags & NGHTTP2_FLAG_PADDED) && flen > 0)
					pad = 1 + pl[0];
				if (pad <= flen) {
					st->c_data += flen - pad;
					append(
					    &st->pay, &st->paylen, &st->paycap,
					    pl + (pad > 0 ? 1 : 0), flen - pad);
				}
				if (flags & NGHTTP2_FLAG_END_STREAM)
					st->c_end = 1;
			}
			cl_.fc_total += flen;
			break;
		case NGHTTP2_HEADERS: {
			uint32_t skip = 0, pad = 0;
			if (st == NULL)
				break;
			/* the stream's first HEADERS is its request, a later
			 * one a trailer section */
			brequest = !st->opened;
			if (!st->opened) {
				st->opened = 1;
				if (sid > cl_.max_opened)
					cl_.max_opened = sid;
			}
			if (flags & NGHTTP2_FLAG_END_STREAM)
				st->c_end = 1;
			if ((flags & NGHTTP2_FLAG_PADDED) && flen > 0) {
				pad = pl[0];
				skip = 1;
			}
			if (flags & NGHTTP2_FLAG_PRIORITY)
				skip += 5;
			if (skip + pad > flen) {
				cl_.hpack_ok = 0;
				break;
			}
			blen = 0;
			bstream = sid;
			in_block = !(flags & NGHTTP2_FLAG_END_HEADERS);
			block_end = 0;
			append(&block, &blen, &bcap, pl + skip,
			       flen - skip - pad);
			if (!in_block)
				block_end = 1;
			break;
		}
		case NGHTTP2_CONTINUATION:
			if (!in_block || sid != bstream) {
				cl_.hpack_ok = 0;
				break;
			}
			append(&block, &blen, &bcap, pl, flen);
			if (flags & NGHTTP2_FLAG_END_HEADERS) {
				in_block = 0;
				block_end = 1;
			}
			break;
		case NGHTTP2_SETTINGS:
			if (flags & NGHTTP2_FLAG_ACK)
				break;
			cl_.settings++;
			for (uint32_t i = 0; i + 6 <= flen; i += 6) {
				uint16_t id =
				    (uint16_t)(pl[i] << 8 | pl[i + 1]);
				uint32_t v = get32(pl + i + 2);
				if (id ==
					NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE &&
				    v > cl_.max_init)
					cl_.max_init = v;
				if (id == NGHTTP2_SETTINGS_MAX_FRAME_SIZE &&
				    v > cl_.max_frame)
					cl_.max_frame = v;
			}
			break;
		case NGHTTP2_PING:
			if (!(flags & NGHTTP2_FLAG_ACK))
				cl_.pings++;
			break;
		case NGHTTP2_RST_STREAM:
			if (st != NULL && flen == 4)
				st->c_rst = 1;
			break;
		case NGHTTP2_WINDOW_UPDATE:
			if (flen == 4) {
				uint32_t inc = get32(pl) & 0x7fffffffu;
				if (st != NULL)
					st->c_incr += inc;
				else
					cl_.conn_incr += inc;
			}
			break;
		default:
			break;
		}
		if (block_end) {
			struct strm *bs = stream_get(bstream, 1), scratch;
			struct req_fields r = {bs, 0, 0, 0};
			int request = brequest;

			block_end = 0;
			if (!cl_.hpack_ok)
				continue;
			if (!request) {
				/* a trailer section: decoded for the table */
				scratch = *bs;
				r.st = &scratch;
			}
			if (hpack_block(inf, block, blen, client_field, &r) ==
			    -1) {
				cl_.hpack_ok = 0;
				continue;
			}
			if (request) {
				bs->head_req = r.methods == 1 && r.head;
				if (r.paths != 1)
					bs->path_known = 0;
			}
		}
	}
	free(block);
	nghttp2_hd_inflate_del(inf);
}

/* ---- what sluice wrote to the client (checked as it comes) -------------*/

/* the buffers, kept from one input to the next */
static struct {
	uint8_t *buf; /* bytes of a frame not whole yet */
	size_t cap;
	uint8_t *block; /* a header block */
	size_t bcap;
} ob;

static struct {
	size_t len; /* of ob.buf */
	uint64_t nframes;
	int in_block; /* a header block waits for its CONTINUATION */
	uint32_t bstream;
	uint8_t bflags; /* of the HEADERS that began it */
	size_t blen;	/* of ob.block */
	uint64_t data_total, conn_incr, ping_acks, settings_acks;
	uint32_t goaway_last; /* of the last GOAWAY; 0x80000000: none */
	unsigned active;      /* streams answered, not ended or reset */
	unsigned max_active;  /* the listener's max_concurrent_streams */
	int goaway_error;     /* a GOAWAY with an error code went */
	nghttp2_hd_inflater *inf;
} out;

static const char *const type_names[] = {
    "DATA",	    "HEADERS", "PRIORITY", "RST_STREAM",    "SETTINGS",
    "PUSH_PROMISE", "PING",    "GOAWAY",   "WINDOW_UPDATE", "CONTINUATION"};

static void
trace_frame(const char *who, const uint8_t *h)
{
	uint8_t t = h[3];

	fprintf(stderr, "fuzz_h2: %s %s len=%u flags=0x%02x stream=%u\n", who,
		t < 10 ? type_names[t] : "?", get24(h), h[4],
		get32(h + 5) & 0x7fffffffu);
}

static int
lower_token(const uint8_t *n, size_t len)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = n[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    (ch != 0 && strchr(tchar, ch) != NULL))
			continue;
		return 0;
	}
	return 1;
}

struct resp_fields {
	int n;	    /* fields so far */
	int pseudo; /* pseudo-fields */
	int status; /* -1: none */
	int kind;   /* x-fuzz-kind, -1 */
	int64_t cl; /* content-length, -1 */
	int ncl;
	int x_t; /* the trailer field x-t: yes */
};

static void
resp_field(void *arg, const nghttp2_nv *nv)
{
	struct resp_fields *r = arg;
	const uint8_t *n = nv->name, *v = nv->value;
	size_t nl = nv->namelen, vl = nv->valuelen;

	if (trace)
		fprintf(stderr, "fuzz_h2:     %.*s: %.*s\n", (int)nl, n,
			(int)vl, v);
	CHECK(memchr(v, '\r', vl) == NULL && memchr(v, '\n', vl) == NULL &&
	      memchr(v, '\0', vl) == NULL);
	if (nl > 0 && n[0] == ':') {
		/* :status first, and alone */
		CHECK(r->n == 0 && nl == 7 && memcmp(n, ":status", 7) == 0);
		CHECK(vl == 3 && v[0] >= '1' && v[0] <= '9' && v[1] >= '0' &&
		      v[1] <= '9' && v[2] >= '0' && v[2] <= '9');
		r->status =
		    (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
		r->pseudo++;
		r->n++;
		return;
	}
	r->n++;
	CHECK(lower_token(n, nl));
	CHECK(!(nl == 10 && memcmp(n, "connection", 10) == 0));
	CHECK(!(nl == 10 && memcmp(n, "keep-alive", 10) == 0));
	CHECK(!(nl == 16 && memcmp(n, "proxy-connection", 16) == 0));
	CHECK(!(nl == 17 && memcmp(n, "transfer-encoding", 17) == 0));
	CHECK(!(nl == 7 && memcmp(n, "upgrade", 7) == 0));
	if (nl == 14 && memcmp(n, "content-length", 14) == 0) {
		int64_t x = 0;
		CHECK(vl > 0 && vl <= 15);
		for (size_t i = 0; i < vl; i++) {
			CHECK(v[i] >= '0' && v[i] <= '9');
			x = x * 10 + (v[i] - '0');
		}
		r->cl = x;
		r->ncl++;
	}
	if (nl == 11 && memcmp(n, "x-fuzz-kind", 11) == 0 && vl == 1 &&
	    v[0] >= '0' && v[0] <= '9')
		r->kind = v[0] - '0';
	if (nl == 3 && memcmp(n, "x-t", 3) == 0 && vl == 3 &&
	    memcmp(v, "yes", 3) == 0)
		r->x_t = 1;
}

/* The payload length the upstream's kind sends (what the client may get
 * at most), or -1 when it is not known. */
static int64_t
kind_payload_len(int k)
{
	if (k < 0 || k >= NKINDS)
		return -1;
	if (k == K_BIG)
		return BIG_BODY;
	return kinds[k].payload != NULL ? (int64_t)strlen(kinds[k].payload) : 0;
}

/* The stream's response ends (END_STREAM). */
static void
stream_ended(struct strm *st)
{
	int bodyless = st->head_req || st->status == 204 || st->status == 304;

	st->s_state = S_ENDED;
	if (st->counted) {
		st->counted = 0;
		out.active--;
	}
	if (st->cl >= 0 && !bodyless)
		CHECK((int64_t)st->s_data == st->cl);
	if (bodyless)
		CHECK(st->s_data == 0);
	if (st->kind >= 0 && !bodyless) {
		/* an answer that was cut must not look whole */
		CHECK(st->kind != K_CUT && st->kind != K_CHUNK_CUT);
		CHECK((int64_t)st->s_data == kind_payload_len(st->kind));
		if (st->kind == K_CHUNKED)
			CHECK(st->trailers);
	}
}

static void
out_headers(struct strm *st, uint8_t flags)
{
	struct resp_fields r = {0, 0, -1, -1, -1, 0, 0};
	int end = (flags & NGHTTP2_FLAG_END_STREAM) != 0;

	CHECK(hpack_block(out.inf, ob.block, out.blen, resp_field, &r) == 0);
	CHECK(st->s_state != S_ENDED && !st->s_reset);
	if (st->s_state == S_FINAL) {
		/* trailers: no pseudo-field, and the end */
		CHECK(r.pseudo == 0 && end);
		st->trailers = 1;
		if (st->kind == K_CHUNKED)
			CHECK(r.x_t);
		stream_ended(st);
		return;
	}
	/* a response head: a new stream only within the last GOAWAY */
	if (st->s_state == S_IDLE && out.goaway_last != 0x80000000u)
		CHECK(st->id <= out.goaway_last);
	CHECK(r.status >= 100 && r.pseudo == 1);
	CHECK(r.ncl <= 1);
	if (!st->counted) {
		/* no more streams answered at once than the listener's
		 * max_concurrent_streams */
		st->counted = 1;
		CHECK(++out.active <= out.max_active);
	}
	if (r.status < 200) {
		CHECK(r.status != 101 && !end);
		st->s_state = S_INTERIM;
		return;
	}
	st->s_state = S_FINAL;
	st->status = r.status;
	st->cl = r.cl;
	st->kind = r.kind;
	if (end)
		stream_ended(st);
}

/* Expected payload byte at offset i of kind k's body. */
static void
check_payload(struct strm *st, const uint8_t *p, size_t n)
{
	int64_t max = kind_payload_len(st->kind);

	if (st->kind < 0)
		return;
	CHECK((int64_t)(st->s_data + n) <= max);
	for (size_t i = 0; i < n; i++) {
		uint64_t at = st->s_data + i;
		uint8_t want = st->kind == K_BIG
				   ? big_byte(at)
				   : (uint8_t)kinds[st->kind].payload[at];
		CHECK(p[i] == want);
	}
}

/* One whole frame sluice wrote. */
static void
out_frame(const uint8_t *h, const uint8_t *pl)
{
	uint32_t len = get24(h), sid = get32(h + 5) & 0x7fffffffu;
	uint8_t type = h[3], flags = h[4];
	struct strm *st = sid != 0 ? stream_get(sid, 0) : NULL;

	if (trace)
		trace_frame("sluice", h);
	CHECK((h[5] & 0x80) == 0); /* the reserved bit */
	if (out.nframes++ == 0)
		CHECK(type == NGHTTP2_SETTINGS && sid == 0 &&
		      !(flags & NGHTTP2_FLAG_ACK));
	/* nothing after a GOAWAY with an error */
	CHECK(!out.goaway_error);
	CHECK(len <= cl_.max_frame);
	if (out.in_block)
		CHECK(type == NGHTTP2_CONTINUATION && sid == out.bstream);
	switch (type) {
	case NGHTTP2_DATA:
		CHECK(len <= 16384);
		CHECK(sid != 0 && st != NULL && st->opened);
		CHECK(!(flags & NGHTTP2_FLAG_PADDED));
		CHECK(st->s_state == S_FINAL && !st->s_reset);
		/* no empty DATA frame but the one that ends the stream */
		CHECK(len > 0 || (flags & NGHTTP2_FLAG_END_STREAM));
		if (st->head_req || st->status == 204 || st->status == 304)
			CHECK(len == 0);
		check_payload(st, pl, len);
		st->s_data += len;
		out.data_total += len;
		/* within the windows the client gave */
		CHECK(out.data_total <= 65535 + cl_.conn_incr);
		CHECK(st->s_data <= cl_.max_init + st->c_incr);
		if (flags & NGHTTP2_FLAG_END_STREAM)
			stream_ended(st);
		break;
	case NGHTTP2_HEADERS:
		CHECK(sid != 0 && st != NULL && st->opened && (sid & 1));
		CHECK(!(flags & (NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY)));
		out.blen = 0;
		out.bstream = sid;
		out.bflags = flags;
		/* fallthrough */
	case NGHTTP2_CONTINUATION:
		CHECK(type == NGHTTP2_HEADERS || out.in_block);
		append(&ob.block, &out.blen, &ob.bcap, pl, len);
		out.in_block = !(flags & NGHTTP2_FLAG_END_HEADERS);
		if (!out.in_block)
			out_headers(stream_get(out.bstream, 0), out.bflags);
		break;
	case NGHTTP2_RST_STREAM:
		/* a stream the client opened, or one a higher id closed
		 * before it opened (RFC 9113 section 5.1.1): a frame on it
		 * is STREAM_CLOSED (section 6.1; sluice's own layer says
		 * so, nghttp2 said nothing); or one a bad PRIORITY named */
		CHECK(len == 4 && sid != 0);
		if (st == NULL || !st->opened) {
			CHECK(((sid & 1) && sid < cl_.max_opened) ||
			      (st != NULL && st->prio_err));
			break;
		}
		st->s_reset = 1;
		if (st->counted) {
			st->counted = 0;
			out.active--;
		}
		break;
	case NGHTTP2_SETTINGS:
		CHECK(sid == 0);
		if (flags & NGHTTP2_FLAG_ACK) {
			CHECK(len == 0);
			CHECK(++out.settings_acks <= cl_.settings);
			break;
		}
		CHECK(len % 6 == 0);
		for (uint32_t i = 0; i < len; i += 6) {
			uint16_t id = (uint16_t)(pl[i] << 8 | pl[i + 1]);
			uint32_t v = get32(pl + i + 2);
			CHECK(id >= 1 && id <= 9 && id != 7);
			if (id == NGHTTP2_SETTINGS_ENABLE_PUSH)
				CHECK(v == 0);
			/* extended CONNECT (RFC 8441), offered or not */
			if (id == NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL)
				CHECK(v <= 1);
			if (id == NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE)
				CHECK(v <= 0x7fffffffu);
			if (id == NGHTTP2_SETTINGS_MAX_FRAME_SIZE)
				CHECK(v >= 16384 && v <= 16777215);
		}
		break;
	case NGHTTP2_PING:
		CHECK(sid == 0 && len == 8);
		if (flags & NGHTTP2_FLAG_ACK)
			CHECK(++out.ping_acks <= cl_.pings);
		else
			CHECK(memcmp(pl, "sluicega", 8) == 0);
		break;
	case NGHTTP2_GOAWAY: {
		uint32_t last;
		CHECK(sid == 0 && len >= 8);
		last = get32(pl) & 0x7fffffffu;
		CHECK(last == 0x7fffffffu || last <= cl_.max_opened);
		if (out.goaway_last != 0x80000000u)
			CHECK(last <= out.goaway_last);
		out.goaway_last = last;
		if (get32(pl + 4) != NGHTTP2_NO_ERROR)
			out.goaway_error = 1;
		break;
	}
	case NGHTTP2_WINDOW_UPDATE: {
		uint32_t inc;
		CHECK(len == 4);
		inc = get32(pl) & 0x7fffffffu;
		CHECK(inc > 0);
		if (sid == 0) {
			/* the connection's window: what the client's DATA
			 * took, and the raise to win_conn at the start */
			out.conn_incr += inc;
			CHECK(out.conn_incr <= cl_.fc_total + 65536);
		} else {
			CHECK(st != NULL && st->opened);
			st->s_incr += inc;
			CHECK(st->s_incr <= st->c_fc);
		}
		break;
	}
	default:
		/* PRIORITY, PUSH_PROMISE, unknown: never from sluice */
		CHECK(0);
	}
}

/* Bytes sluice wrote to the client, in the order it wrote them. */
static void
out_feed(const uint8_t *p, size_t n)
{
	append(&ob.buf, &out.len, &ob.cap, p, n);
	for (;;) {
		size_t off = 0;
		while (out.len - off >= 9 &&
		       out.len - off - 9 >= get24(ob.buf + off)) {
			uint32_t flen = get24(ob.buf + off);
			out_frame(ob.buf + off, ob.buf + off + 9);
			off += 9 + flen;
		}
		if (off > 0) {
			memmove(ob.buf, ob.buf + off, out.len - off);
			out.len -= off;
		}
		break;
	}
}

/* ---- the upstreams -----------------------------------------------------*/

struct up {
	struct sl_xprt_mem *e; /* the test's end; NULL once closed */
	int ep;		       /* 1: /u, 2: /o */
	char *buf;	       /* what it read, not yet taken: [off, len) */
	size_t off, len, cap;
	int in_body; /* a head was read: its body follows */
	int chunked;
	uint64_t body_left; /* Content-Length bytes still to come */
	uint64_t body_got;
	uint8_t *body; /* the request body read so far (kept allocated) */
	size_t body_len, body_cap;
	struct sl_h1_chunked ch;
	int kind;
	int silent; /* answers nothing more */
	char path[PATH_KEPT + 1];
	size_t path_len; /* > PATH_KEPT: longer */
	int head_req;
	int upgrade; /* the request asks for a switch (RFC 8441's, written
			as an HTTP/1.1 upgrade by sluice) */
	int tunnel;  /* ... answered: what follows are its bytes */
};

static struct up ups[MAXUP];
static int nups;
static unsigned nreq;	 /* requests the upstreams read, this input */
static uint8_t kind0;	 /* the first kind */
static int hold_answers; /* answers wait until the client wrote all */
static int one_read;	 /* sluice reads all the client's bytes at once */
static uint64_t progress;

static int
connector(struct sl_wendpoint *ep, struct sl_xprt_mem **end)
{
	const struct sockaddr_in *sin =
	    (const struct sockaddr_in *)&ep->conf->addr.ss;
	struct up *u;

	if (nups == MAXUP) {
		errno = EMFILE;
		return -1;
	}
	u = &ups[nups];
	{
		/* its buffers are kept from one input to the next */
		char *buf = u->buf;
		uint8_t *body = u->body;
		size_t cap = u->cap, body_cap = u->body_cap;
		memset(u, 0, sizeof(*u));
		u->buf = buf;
		u->cap = cap;
		u->body = body;
		u->body_cap = body_cap;
	}
	u->ep = ntohs(sin->sin_port) - PORT0;
	if (sl_xprt_mem_pair(end, &u->e) == -1)
		return -1;
	nups++;
	progress++;
	return 0;
}

static void
up_write(struct up *u, const char *s, size_t n)
{
	if (u->e != NULL && n > 0)
		(void)sl_xprt_mem_write(u->e, s, n);
}

static void
up_close(struct up *u, int reset)
{
	if (u->e == NULL)
		return;
	if (reset)
		sl_xprt_mem_reset(u->e);
	else
		sl_xprt_mem_close(u->e);
	u->e = NULL;
}

/* Writes the kind's answer to the request just read. */
static void
up_answer(struct up *u)
{
	int k = u->kind;

	if (k == K_SILENT) {
		u->silent = 1;
		return;
	}
	up_write(u, kinds[k].head, strlen(kinds[k].head));
	if (!u->head_req) {
		if (k == K_BIG) {
			static char big[BIG_BODY];
			for (size_t i = 0; i < BIG_BODY; i++)
				big[i] = (char)big_byte(i);
			up_write(u, big, BIG_BODY);
		} else
			up_write(u, kinds[k].body, strlen(kinds[k].body));
	}
	if (kinds[k].ends)
		up_close(u, kinds[k].ends == 2);
}

/*
 * The request body an upstream read so far (whole: complete) is what a
 * client stream with the same :path sent in its DATA, or the start of it;
 * a chunked body (sluice's framing of a stream without content-length)
 * ends only for a stream whose client sent END_STREAM.
 */
static void
check_request_body(const struct up *u, int complete)
{
	int unknown = 0;

	if (!cl_.hpack_ok || u->path_len > PATH_KEPT)
		return;
	for (size_t i = 0; i < nused; i++) {
		const struct strm *st = &streams[used[i]];
		if (!st->opened)
			continue;
		if (!st->path_known) {
			unknown = 1;
			continue;
		}
		if (st->path_len != u->path_len ||
		    memcmp(st->path, u->path, u->path_len) != 0)
			continue;
		if (complete && u->chunked && !st->c_end)
			continue;
		if (u->body_len <= st->paylen &&
		    (u->body_len == 0 ||
		     memcmp(st->pay, u->body, u->body_len) == 0))
			return;
	}
	CHECK(unknown);
}

/*
 * All the client's bytes came in one read: a stream the client reset in
 * them never reaches an upstream (h2.c starts a stream's exchange after
 * the read that made its head whole, and its reset came in that read).
 * The request u read is a stream's that was not reset.
 */
static void
check_not_reset(const struct up *u)
{
	int reset = 0;

	if (!cl_.hpack_ok || u->path_len > PATH_KEPT)
		return;
	for (size_t i = 0; i < nused; i++) {
		const struct strm *st = &streams[used[i]];
		if (!st->opened)
			continue;
		if (!st->path_known)
			return;
		if (st->path_len != u->path_len ||
		    memcmp(st->path, u->path, u->path_len) != 0)
			continue;
		if (!st->c_rst)
			return;
		reset = 1;
	}
	CHECK(!reset);
}

/* Reads a request head at u->buf + u->off, when whole. Returns 1 when one
 * was read, 0 when more is needed. */
static int
up_head(struct up *u)
{
	static struct sl_h1_header hdrs[256];
	const struct sl_h1_limits lim = {1u << 20, 1u << 20, 256};
	struct sl_h1_request req;
	const char *p = u->buf + u->off, *e;
	size_t hl;
	int r;

	e = memmem(p, u->len - u->off, "\r\n\r\n", 4);
	if (e == NULL)
		return 0;
	hl = (size_t)(e - p) + 4;
	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	req.max_headers = 256;
	r = sl_h1_parse_request(p, hl, &req, &lim);
	if (trace)
		fprintf(stderr, "fuzz_h2: upstream %d read %d: %.*s\n", u->ep,
			r, (int)hl, p);
	/* no malformed request reaches an upstream */
	CHECK(r == 0);
	CHECK(req.minor == 1 && req.host != NULL);
	CHECK(req.body != SL_H1_BODY_CLOSE);
	/* the route's prefix, the route's endpoint */
	CHECK(req.path_len >= 2 && req.path[0] == '/');
	CHECK((u->ep == 1 && req.path[1] == 'u') ||
	      (u->ep == 2 && req.path[1] == 'o'));
	u->path_len = req.target_len;
	memcpy(u->path, req.target, SL_MIN(req.target_len, (size_t)PATH_KEPT));
	u->head_req = req.method_id == SL_M_HEAD;
	{
		/* an upgrade sluice wrote for an extended CONNECT passes the
		 * checks an HTTP/1.1 client's must (ws.c) */
		int nu;
		u->upgrade =
		    sl_h1_find(hdrs, req.nheaders, "upgrade", &nu) != NULL;
		if (u->upgrade) {
			char *allowed[] = {"websocket"};
			char acc[SL_WS_ACCEPT_LEN + 1];
			const char *code = NULL, *fields = NULL;
			size_t idx;
			CHECK(sl_ws_request(&req, allowed, 1, &idx, acc, &code,
					    &fields) == 1);
		}
	}
	if (one_read)
		check_not_reset(u);
	u->off += hl;
	u->in_body = 1;
	u->chunked = req.body == SL_H1_BODY_CHUNKED;
	u->body_left = req.body == SL_H1_BODY_LENGTH ? req.content_length : 0;
	u->body_got = 0;
	u->body_len = 0;
	if (u->chunked)
		sl_h1_chunked_init(&u->ch, 1u << 20);
	u->kind = (kind0 + nreq++) % NKINDS;
	progress++;
	if (u->kind == K_EARLY) {
		/* answered at once; whatever follows is not read */
		up_answer(u);
		u->silent = 1;
	}
	return 1;
}

/* The body of the current request; returns 1 once it is whole. */
static int
up_body(struct up *u)
{
	size_t avail = u->len - u->off;

	if (u->chunked) {
		size_t consumed = 0, dl = 0;
		/* the payload moved to the front of what it took */
		int r = sl_h1_chunked_decode(&u->ch, u->buf + u->off, avail, 1,
					     &consumed, &dl);
		/* sluice's chunked framing of a request body is valid */
		CHECK(r >= 0);
		append(&u->body, &u->body_len, &u->body_cap,
		       (const uint8_t *)u->buf + u->off, dl);
		u->off += consumed;
		u->body_got += dl;
		check_request_body(u, r == 1);
		return r == 1;
	}
	avail = (size_t)SL_MIN((uint64_t)avail, u->body_left);
	append(&u->body, &u->body_len, &u->body_cap,
	       (const uint8_t *)u->buf + u->off, avail);
	u->off += avail;
	u->body_left -= avail;
	u->body_got += avail;
	check_request_body(u, u->body_left == 0);
	return u->body_left == 0;
}

static void
serve_one(struct up *u)
{
	ssize_t n;
	int ended = 0;

	if (u->e == NULL)
		return;
	for (;;) {
		if (u->cap - u->len < 16384) {
			if (u->off > 0) {
				memmove(u->buf, u->buf + u->off,
					u->len - u->off);
				u->len -= u->off;
				u->off = 0;
			}
			if (u->cap - u->len < 16384) {
				u->cap = u->cap ? u->cap * 2 : 65536;
				CHECK(u->cap <= UP_BUF_MAX);
				u->buf = realloc(u->buf, u->cap);
				CHECK(u->buf != NULL);
			}
		}
		n = sl_xprt_mem_read(u->e, u->buf + u->len, u->cap - u->len);
		if (n > 0) {
			u->len += (size_t)n;
			progress++;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			ended = 1;
		break;
	}
	while (!u->silent && u->e != NULL) {
		if (u->tunnel) {
			/* a switched connection's bytes are no requests */
			u->off = u->len;
			break;
		}
		if (!u->in_body) {
			if (!up_head(u))
				break;
			if (u->silent)
				break;
		}
		if (!up_body(u))
			break;
		u->in_body = 0;
		if (hold_answers) {
			/* answered later (serve_held); a switch's bytes
			 * follow all the same */
			u->silent = 2;
			u->tunnel = u->upgrade;
			break;
		}
		up_answer(u);
		u->tunnel = u->upgrade;
	}
	if (ended && u->e != NULL) {
		/* sluice ended the connection: never in the middle of a
		 * head (a body may be cut: its stream was) */
		if (!u->in_body && !u->silent)
			CHECK(u->off == u->len);
		up_close(u, 0);
		progress++;
	}
}

static void
serve_upstreams(void)
{
	for (int i = 0; i < nups; i++)
		serve_one(&ups[i]);
}

/* The answers held until the client wrote everything. */
static void
serve_held(void)
{
	for (int i = 0; i < nups; i++) {
		struct up *u = &ups[i];
		if (u->silent == 2) {
			u->silent = 0;
			up_answer(u);
		}
	}
	hold_answers = 0;
}

/* ---- the worker --------------------------------------------------------*/

static void
teardown(void)
{
	if (w == NULL)
		return;
	event_free(tick);
	sl_worker_join_free(w);
	w = NULL;
	free(ob.buf);
	free(ob.block);
	for (int i = 0; i < MAXUP; i++) {
		free(ups[i].buf);
		free(ups[i].body);
	}
	streams_clear();
}

static void on_tick(evutil_socket_t fd, short what, void *arg);

static void
init(void)
{
	char *errs = NULL;
	int fds[3] = {-1, -1, -1};
	struct sl_wendpoint *ep;

	if (w != NULL)
		return;
	trace = getenv("FUZZ_H2_TRACE") != NULL;
	sl_log_set_level(trace ? SL_LOG_DEBUG : SL_LOG_ERROR);
	conf = sl_conf_load_buffer("fuzz_h2.yaml", yaml, strlen(yaml), &errs);
	if (conf == NULL)
		fprintf(stderr, "fuzz_h2: %s\n", errs != NULL ? errs : "?");
	CHECK(conf != NULL);
	CHECK(conf->nlisteners == 3);
	sl_runtime_set_workers(1);
	CHECK(sl_runtime_bind(conf) == 0);
	CHECK(sl_access_open("/dev/null", SL_ACCESS_JSON) == 0);
	w = sl_worker_new(0, conf, fds);
	CHECK(w != NULL);
	sl_conf_unref(conf); /* the worker's generation holds it */
	TAILQ_FOREACH(ep, &w->eps, link)
	ep->connector = connector;
	bufs_at_rest = w->bufs.allocated;
	tick = event_new(w->base, -1, EV_PERSIST, on_tick, NULL);
	CHECK(tick != NULL);
	atexit(teardown);
}

/* The tick of the timed phase: it only ends the loop's wait. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* One turn of the loop (waiting for the next event when wait is set, at
 * most a tick), the upstreams served before and after it, the client end
 * read after it (unless the client is gone). */
static void
turn(struct sl_xprt_mem *cli, int wait)
{
	uint8_t buf[65536];
	ssize_t n;

	serve_upstreams();
	event_base_loop(w->base, wait ? EVLOOP_ONCE : EVLOOP_NONBLOCK);
	serve_upstreams();
	while (cli != NULL &&
	       (n = sl_xprt_mem_read(cli, buf, sizeof(buf))) > 0) {
		out_feed(buf, (size_t)n);
		progress++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t bytes[sizeof(preface) - 1 + MAX_FRAMES_IN];
	static const size_t windows[4] = {SIZE_MAX, 300, 4096, 17000};
	static const unsigned max_streams[3] = {8, 2, 4}; /* the YAML's */
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sl_xprt_mem *cli, *srv;
	struct sl_client *c, *x;
	size_t nbytes, piece, window, off = 0;
	uint8_t flags;
	int listener, calm = 0, drained = 0, cut = 0;

	if (size < 3 || size - 3 > MAX_FRAMES_IN)
		return 0;
	init();
	sl_now_refresh();
	flags = data[2];
	kind0 = data[1];
	listener = flags & 3;
	window = windows[(flags >> 2) & 3];
	hold_answers = (flags & F_HOLD) != 0;
	if (listener == 3) {
		/* the first listener, every log line written */
		listener = 0;
		sl_log_set_level(SL_LOG_DEBUG);
	}
	nups = 0;
	nreq = 0;
	streams_clear();
	memset(&out, 0, sizeof(out));
	out.goaway_last = 0x80000000u;
	out.max_active = max_streams[listener];
	CHECK(nghttp2_hd_inflate_new(&out.inf) == 0);

	memcpy(bytes, preface, sizeof(preface) - 1);
	memcpy(bytes + sizeof(preface) - 1, data + 3, size - 3);
	nbytes = sizeof(preface) - 1 + size - 3;
	walk_client(data + 3, size - 3);
	if (trace) {
		size_t o = 0;
		while (size - 3 - o >= 9 &&
		       size - 3 - o - 9 >= get24(data + 3 + o)) {
			trace_frame("client", data + 3 + o);
			o += 9 + get24(data + 3 + o);
		}
	}

	CHECK(sl_xprt_mem_pair(&cli, &srv) == 0);
	sl_xprt_mem_set_window(cli, window);
	sin.sin_port = htons(40000);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = sl_client_new_mem(w, &conf->listeners[listener], srv,
			      (struct sockaddr *)&sin, sizeof(sin));
	CHECK(c != NULL);

	/* the preface and the frames, in pieces */
	piece = data[0] == 0 ? nbytes : data[0];
	if (nbytes / piece >= MAX_PIECES)
		piece = nbytes / MAX_PIECES + 1;
	/* (the codec reads 16 KiB at most at once, after what client.c read
	 * to see the preface) */
	one_read = piece >= nbytes && nbytes <= 16384;
	while (off < nbytes) {
		size_t n = SL_MIN(piece, nbytes - off);
		ssize_t k = sl_xprt_mem_write(cli, bytes + off, n);
		if (k < 0)
			break; /* sluice closed its end */
		CHECK((size_t)k == n);
		off += n;
		turn(cli, 0);
		if ((flags & F_DRAIN) && !drained && off >= nbytes / 2) {
			/* the worker drains: GOAWAY, PING, GOAWAY */
			for (x = sl_client_first(w); x != NULL;
			     x = sl_client_next(x))
				if (x == c && c->state == SL_CLIENT_ST_H2)
					sl_client_drain(c);
			drained = 1;
		}
	}
	if (flags & F_FIN)
		sl_xprt_mem_shutdown(cli);
	if (hold_answers)
		serve_held();
	if (flags & F_RESET) {
		/* the client reads what came, then cuts the connection */
		turn(cli, 0);
		sl_xprt_mem_reset(cli);
		cli = NULL;
		cut = 1;
	}
	for (int i = 0; i < END_TURNS && calm < CALM_TURNS; i++) {
		uint64_t before = progress;
		turn(cli, 0);
		calm = progress == before ? calm + 1 : 0;
	}
	if (listener == 2) {
		/* the listener with short timeouts: the loop waits for its
		 * timers, a tick at most each time */
		struct timeval tv = {0, TICK_US};
		event_add(tick, &tv);
		for (int i = 0; i < TIMED_TURNS; i++)
			turn(cli, 1);
		event_del(tick);
	}

	/* whole frames, unless sluice's end was cut with a reset (or is
	 * cut now, below, with bytes it could not write yet) */
	if (!cut && (window == SIZE_MAX || sl_xprt_mem_peer_ended(cli) == 1))
		CHECK(out.len == 0);

	/* the end: every connection aborted, every upstream end closed */
	while ((x = sl_client_first(w)) != NULL)
		sl_client_abort(x);
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	if (cli != NULL)
		sl_xprt_mem_close(cli);
	for (int i = 0; i < nups; i++)
		up_close(&ups[i], 0);
	sl_upstream_close_idle(w);
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	sl_log_set_level(trace ? SL_LOG_DEBUG : SL_LOG_ERROR);

	/* nothing is left of the input */
	CHECK(sl_client_first(w) == NULL);
	CHECK(SL_STAT_GET(w->stats.h2_conns) == 0);
	CHECK(SL_STAT_GET(w->stats.h2_streams) == 0);
	CHECK(SL_STAT_GET(w->stats.active) == 0);
	CHECK(w->nwaiting == 0);
	{
		struct sl_wendpoint *ep;
		TAILQ_FOREACH(ep, &w->eps, link)
		CHECK(ep->active == 0 && ep->nidle == 0);
	}
	CHECK(w->bufs.allocated == bufs_at_rest);
	nghttp2_hd_inflate_del(out.inf);
	out.inf = NULL;
	return 0;
}
