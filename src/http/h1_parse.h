/* SPDX-License-Identifier: MIT */
/*
 * Strict HTTP/1.1 message parsing after RFC 9112: heads of requests and
 * responses (h1_parse.c), the chunked transfer coding (h1_chunked.c), and
 * what a refused head says for the logs (h1_salvage.c).
 * Pure: no I/O, no malloc, no global state. Slices returned point into the
 * caller's buffer.
 */
#ifndef SL_H1_PARSE_H
#define SL_H1_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Errors are negative HTTP status codes (-400, -414, ...): what the gateway
 * answers to a client for a bad request. For responses any error is -502.
 */

struct sl_h1_limits {
	size_t max_uri_bytes;	 /* request-target longer -> -414 */
	size_t max_header_bytes; /* whole head (request line + fields + final
				    CRLF) longer -> -431 */
	size_t max_headers;	 /* more field lines -> -431 */
};

/*
 * Which rule a message broke, for logs and metrics (the status alone does
 * not tell an operator why a partner's client is refused). Set next to
 * every negative return of the functions below; the response to the
 * client stays generic. sl_h1_reason_str() names them.
 */
enum sl_h1_reason {
	SL_H1_R_NONE = 0,
	SL_H1_R_BARE_CR,	    /* CR not followed by LF */
	SL_H1_R_BARE_LF,	    /* LF without CR */
	SL_H1_R_NUL_BYTE,	    /* NUL in a head */
	SL_H1_R_BAD_REQUEST_LINE,   /* not method SP target SP version */
	SL_H1_R_BAD_TARGET,	    /* invalid request-target */
	SL_H1_R_BAD_VERSION,	    /* not HTTP/DIGIT.DIGIT */
	SL_H1_R_VERSION,	    /* well-formed, not HTTP/1.x (505) */
	SL_H1_R_URI_TOO_LONG,	    /* 414 */
	SL_H1_R_HEAD_TOO_LARGE,	    /* more than max_header_bytes (431) */
	SL_H1_R_TOO_MANY_HEADERS,   /* more than max_headers (431) */
	SL_H1_R_OBS_FOLD,	    /* a field line starting with SP or HTAB */
	SL_H1_R_SPACE_BEFORE_COLON, /* "Name : value" */
	SL_H1_R_BAD_FIELD_NAME,	    /* not a token, or no colon */
	SL_H1_R_BAD_FIELD_VALUE,    /* a control byte in a value */
	SL_H1_R_MISSING_HOST,	    /* HTTP/1.1 without Host */
	SL_H1_R_DUP_HOST,	    /* two Host fields */
	SL_H1_R_BAD_HOST,	    /* Host is not a valid authority */
	SL_H1_R_DUP_CONTENT_LENGTH, /* two Content-Length fields */
	SL_H1_R_BAD_CONTENT_LENGTH, /* not 1*DIGIT, or too large */
	SL_H1_R_CL_TE_CONFLICT,	    /* Content-Length and Transfer-Encoding */
	SL_H1_R_TE_IN_HTTP10,	    /* Transfer-Encoding in HTTP/1.0 */
	SL_H1_R_BAD_TRANSFER_ENCODING, /* malformed, or chunked not last */
	SL_H1_R_UNSUPPORTED_TRANSFER_ENCODING, /* not only chunked (501) */
	SL_H1_R_BAD_CONNECTION,		       /* malformed Connection */
	SL_H1_R_UNSUPPORTED_EXPECT, /* Expect other than 100-continue (417) */
	SL_H1_R_CONNECT_METHOD,	    /* CONNECT (405) */
	SL_H1_R_BAD_CHUNK_SIZE,	    /* chunk-size not hex, or too large */
	SL_H1_R_BAD_CHUNK_EXT,	    /* malformed chunk extension */
	SL_H1_R_BAD_CHUNK_END,	    /* no CRLF after chunk data */
	SL_H1_R_BAD_TRAILER,	    /* malformed trailer field */
	SL_H1_R_TRAILER_TOO_LARGE,  /* trailer section over its limit */
	SL_H1_R_FORBIDDEN_TRAILER,  /* a trailer field that frames, routes or
				       is hop-by-hop or sluice's own */
	SL_H1_R_BODY_TOO_LARGE,	    /* over max_body_bytes (413; the
				       caller's limit) */
	SL_H1_R_ACCESS_DENIED,	    /* the client's address is denied, or
				       not allowed (403; the caller's
				       policy) */
	SL_H1_R_MISDIRECTED,	    /* HTTP/2: an authority the connection's
				       certificate does not cover (421;
				       the codec's check) */
	SL_H1_R_BAD_STATUS_LINE,    /* responses: not HTTP/1.x SP 3DIGIT */
	SL_H1_R_BAD_STATUS,	    /* responses: status outside 100-599 */
	SL_H1_R_CONTENT_LENGTH_DIFFER, /* responses: differing values */
	SL_H1_R_FRAMING_WITHOUT_BODY,  /* responses: 1xx or 204 with framing */
	SL_H1_R_NREASONS,
};

/* "obs_fold", "cl_te_conflict", ...: stable names for logs and metrics. */
const char *sl_h1_reason_str(enum sl_h1_reason r);

/* Incremental search for the end of a head; keeps what it has examined. */
struct sl_h1_scan {
	uint32_t off;	     /* bytes examined so far (heads are <= 1 MiB) */
	uint32_t line_start; /* offset of the current line */
	uint16_t nlines;     /* complete lines, the start line included;
				SL_H1_MAX_LINES at most */
	uint16_t why;	     /* enum sl_h1_reason of a negative return */
	uint32_t sp1, sp2;   /* offsets of the first two SP of the start line,
				0 = not seen yet */
};

/* Lines of a head, whatever the limits say (they go up to 10,000). */
#define SL_H1_MAX_LINES 65000

void sl_h1_scan_init(struct sl_h1_scan *s);

/*
 * Looks at buf[s->off .. len) (buf[0 .. s->off) was seen by earlier calls
 * with the same buffer start) for the empty line that ends a head.
 * Returns the head length (up to and including the final CRLF CRLF) when
 * complete, 0 when more bytes are needed, or a negative status:
 *   -400  a bare CR or bare LF, a NUL byte
 *   -414  (requests only) the request-target is longer than max_uri_bytes,
 *         reported as soon as that is known
 *   -431  more than max_header_bytes without the end of the head, or more
 *         than max_headers field lines
 * For responses (is_request == 0) every error is -502. s->why says
 * which rule was broken.
 */
long sl_h1_scan_head(struct sl_h1_scan *s, const char *buf, size_t len,
		     const struct sl_h1_limits *lim, int is_request);

enum sl_h1_method {
	SL_M_OTHER = 0, /* any other token */
	SL_M_GET,
	SL_M_HEAD,
	SL_M_POST,
	SL_M_PUT,
	SL_M_DELETE,
	SL_M_CONNECT,
	SL_M_OPTIONS,
	SL_M_TRACE,
	SL_M_PATCH,
};

/*
 * The fields the gateway treats specially, classified once by the parser
 * (one switch on the name's length, a first-byte test, at most two
 * comparisons) so that neither the framing rules nor the head writers
 * compare names again. SL_HK_UNSET is a header built by hand: its kind
 * is found when asked (sl_h1_hkind).
 */
enum sl_h1_hk {
	SL_HK_UNSET = 0,
	SL_HK_OTHER,
	SL_HK_HOP,     /* hop-by-hop by name: Keep-Alive, TE, Upgrade,
			  Proxy-Connection (and Connection, below) */
	SL_HK_TRAILER, /* end-to-end (RFC 9110 section 6.6.2), but it goes
			  only with the trailers it announces */
	SL_HK_CONNECTION,
	SL_HK_CONTENT_LENGTH,
	SL_HK_TRANSFER_ENCODING,
	SL_HK_HOST,
	SL_HK_EXPECT,
	SL_HK_X_REQUEST_ID,
	SL_HK_X_FORWARDED_FOR,
	SL_HK_X_FORWARDED_PROTO,
	SL_HK_FORWARDED,
	SL_HK_KEEP_ALIVE, /* hop-by-hop; a response's is read for its timeout */
};

struct sl_h1_header {
	const char *name; /* as sent (case preserved) */
	size_t name_len;
	const char *value; /* leading and trailing OWS removed */
	size_t value_len;
	unsigned char kind; /* enum sl_h1_hk; SL_HK_UNSET when not parsed */
};

/* The kind of a field name (never SL_HK_UNSET). */
enum sl_h1_hk sl_h1_classify(const char *name, size_t len);

/* The kind of h: as the parser recorded it, or found now. */
static inline enum sl_h1_hk
sl_h1_hkind(const struct sl_h1_header *h)
{
	return h->kind != SL_HK_UNSET ? (enum sl_h1_hk)h->kind
				      : sl_h1_classify(h->name, h->name_len);
}

enum sl_h1_body {
	SL_H1_BODY_NONE = 0, /* no body, or Content-Length: 0 */
	SL_H1_BODY_LENGTH,   /* content_length bytes (> 0) */
	SL_H1_BODY_CHUNKED,
	SL_H1_BODY_CLOSE, /* responses: until the connection closes (and
			     the request of an HTTP/2 tunnel: until its
			     stream ends, exchange.c) */
	SL_H1_BODY_STREAM /* a body of no stated length and no coding:
			     pieces that end with the message, which its
			     codec marks (an HTTP/2 upstream's END_STREAM,
			     h2up.c), its trailers a field block; never
			     chunked text (doc/design-notes.md, "The
			     message between codecs") */
};

#define SL_H1_F_CONN_CLOSE	0x01 /* Connection has "close" */
#define SL_H1_F_CONN_KEEPALIVE	0x02 /* Connection has "keep-alive" */
#define SL_H1_F_EXPECT_CONTINUE 0x04 /* Expect: 100-continue */
#define SL_H1_F_ABSOLUTE_FORM	0x08 /* target was absolute-form */
#define SL_H1_F_CONN_OTHER	0x10 /* Connection names other fields */
/* a response's Content-Length frames HTTP/1.1 text only: a head block
 * (HTTP/2) goes without it (a trailers-only gRPC answer, doc/grpc.md) */
#define SL_H1_F_CL_FRAMING 0x20

/*
 * Whether the connection persists after a message of HTTP/1.minor with
 * these flags (RFC 9112 section 9.3): "close" ends it in any version,
 * even next to "keep-alive"; otherwise 1.1 persists, and 1.0 only with
 * "keep-alive".
 */
static inline int
sl_h1_persists(int minor, unsigned flags)
{
	if (flags & SL_H1_F_CONN_CLOSE)
		return 0;
	return minor >= 1 || (flags & SL_H1_F_CONN_KEEPALIVE) != 0;
}

struct sl_h1_request {
	const char *method;
	size_t method_len;
	enum sl_h1_method method_id;
	const char *target; /* request-target as sent */
	size_t target_len;
	const char *path; /* origin-form part: "/p?q", or "*"; for an
			     absolute-form target the part after the
			     authority, or "/" when empty */
	size_t path_len;
	const char *host; /* authority of an absolute-form target, else the
			     Host field value; NULL when neither (1.0) */
	size_t host_len;
	int minor; /* HTTP/1.minor: 0 or 1 (1.2+ are treated as 1.1) */
	unsigned flags;
	enum sl_h1_body body;
	uint64_t content_length;      /* with SL_H1_BODY_LENGTH */
	struct sl_h1_header *headers; /* array provided by the caller */
	size_t nheaders;
	size_t max_headers;    /* capacity of headers, set by the caller */
	enum sl_h1_reason why; /* of a negative return */
};

/*
 * Parses a complete request head buf[0 .. len) (as measured by
 * sl_h1_scan_head) into req. req->headers and req->max_headers must be set.
 * Returns 0 or a negative status:
 *   -400  malformed request line or field, bad target, obs-fold, space
 *         before a colon, invalid bytes, Content-Length and
 *         Transfer-Encoding both, duplicate or malformed Content-Length,
 *         malformed Transfer-Encoding, Transfer-Encoding in HTTP/1.0,
 *         missing or duplicate Host in HTTP/1.1, bad Host value
 *   -405  CONNECT
 *   -414  target longer than max_uri_bytes
 *   -417  an Expect other than 100-continue (req->body and
 *         req->content_length are set: the request is otherwise valid)
 *   -431  too many fields or head too long
 *   -501  a Transfer-Encoding other than "chunked"
 *   -505  a well-formed version other than HTTP/1.x
 * req->why says which rule was broken. Fields parsed before the error
 * (method, target, path, minor, host) are left set when they were valid.
 */
int sl_h1_parse_request(const char *buf, size_t len, struct sl_h1_request *req,
			const struct sl_h1_limits *lim);

/*
 * The same checks on a request head that a codec built as fields (HTTP/2,
 * doc/design-notes.md "The structured head") rather than text:
 * req->method, method_len, target, target_len, headers, nheaders and
 * max_headers are set (a field's kind may be SL_HK_UNSET: it is found
 * here); text_len is the head's size written as HTTP/1.1 text, which
 * max_header_bytes bounds. The method's id, the target's length (414),
 * the head's size (431), the target's bytes and form, each field's name
 * and value (the value's leading and trailing whitespace taken off), the
 * number of fields (431), Host, Content-Length, Transfer-Encoding,
 * Connection and Expect are checked in the order sl_h1_parse_request
 * checks them, and the rest of req is set as it sets it (minor is 1).
 * checked: SL_H1_CHECKED_FIELDS when the codec held the method and every
 * field name to a token and every value to field-vchars, SP and HTAB
 * with no whitespace at either end (RFC 9113 section 8.2.1, as the HTTP/2
 * codec checks a client's request fields: the HPACK decoder the names and
 * values, h2_head.c the method): those bytes are not read again.
 * Returns as sl_h1_parse_request.
 */
#define SL_H1_CHECKED_FIELDS 0x01
int sl_h1_request_check(struct sl_h1_request *req, size_t text_len,
			const struct sl_h1_limits *lim, unsigned checked);

/* (fields ordered so that the struct has no padding: it is cleared for
 * every response) */
struct sl_h1_response {
	int status;	     /* 100..999 */
	uint32_t ka_timeout; /* Keep-Alive: timeout=N seconds, 0 = none */
	const char *reason;
	size_t reason_len;
	int minor;	/* 0 or 1 */
	unsigned flags; /* SL_H1_F_CONN_* */
	enum sl_h1_body body;
	uint32_t ka_max; /* Keep-Alive: max=M requests, 0 = none */
	uint64_t content_length;
	struct sl_h1_header *headers; /* array provided by the caller */
	size_t nheaders;
	size_t max_headers;
	enum sl_h1_reason why; /* of a negative return */
};

/*
 * The parameters of a Keep-Alive field (RFC 2068 section 19.7.1, what
 * Apache, nginx and most frameworks send): timeout=N, the seconds the
 * upstream keeps an idle connection, and max=M, the requests it still
 * takes on it; 0 for an absent or malformed one (advisory: a bad one is
 * ignored, never an error). A value of 0 becomes 1 (the least there is).
 */
void sl_h1_keep_alive(const char *v, size_t n, uint32_t *timeout,
		      uint32_t *max);

/*
 * Parses a complete response head buf[0 .. len). method_id is the request's
 * method: a response to HEAD, and every 1xx, 204 and 304, has no body.
 * Framing is strict: Content-Length and Transfer-Encoding together,
 * differing or malformed Content-Length, a Transfer-Encoding other than
 * "chunked" are errors. Returns 0 or -502 (resp->why says which rule).
 */
int sl_h1_parse_response(const char *buf, size_t len,
			 struct sl_h1_response *resp,
			 enum sl_h1_method method_id);

/* State of a chunked body decoder. */
struct sl_h1_chunked {
	int state;
	uint64_t remaining;	  /* data bytes left in the current chunk */
	size_t line_len;	  /* bytes of the current size/trailer line */
	size_t trailer_bytes;	  /* bytes of trailer section so far */
	size_t ntrailers;	  /* trailer field lines so far */
	size_t max_trailer_bytes; /* limit on the trailer section */
	size_t max_trailers;	  /* trailer field lines allowed (init: no
				     limit; the caller's to set) */
	int ndigits;		  /* hex digits in the current chunk size */
	int done;		  /* 1 once the message is complete */
	enum sl_h1_reason why;	  /* of a -400 return */
	const char *own;	  /* a field name sluice sets on this message
				     (NULL: none); forbidden in trailers */
	uint8_t name_len;	  /* of the trailer field name in name, or
				     sizeof(name) + 1 when longer */
	char name[31];		  /* the current trailer field's name */
};

void sl_h1_chunked_init(struct sl_h1_chunked *c, size_t max_trailer_bytes);

/*
 * Whether a trailer field of this name is refused (RFC 9110 section 6.5.1
 * lists what cannot be processed after the content): the fields that frame
 * a message (Content-Length, Transfer-Encoding, Trailer), route it (Host),
 * modify the request (Expect), hop-by-hop fields (Connection, Keep-Alive,
 * Proxy-Connection, TE, Upgrade), the fields sluice sets itself
 * (X-Forwarded-For, X-Forwarded-Proto, X-Request-Id), and own when not
 * NULL. Case-insensitive.
 */
int sl_h1_trailer_forbidden(const char *name, size_t len, const char *own);

/*
 * The checks the decoder applies to a trailer section of text, applied to
 * trailers as a field block (hblock.h, status 0): at most max_fields
 * fields and max_bytes bytes as text ("Name: value" CRLF each), names of
 * token characters, values of field characters, none that
 * sl_h1_trailer_forbidden refuses. Returns SL_H1_R_NONE, or why not.
 */
enum sl_h1_reason sl_h1_trailers_check(const char *trailers, size_t max_bytes,
				       size_t max_fields, const char *own);

/*
 * Decodes buf[0 .. len), continuing where the last call stopped. Stops at
 * the end of the message: bytes after it are not consumed.
 *   *consumed  input bytes used (framing and data)
 *   *data_len  payload bytes among them. When compact is 1, the payload
 *              bytes are moved to buf[0 .. *data_len) (framing dropped);
 *              when 0, buf is not modified.
 * Returns 1 when the message is complete (last chunk, trailer section and
 * final CRLF consumed), 0 when more input is needed, or -400 on malformed
 * framing: bad or overflowing chunk size (more than 16 hex digits), a
 * missing CRLF after chunk data, bare CR or LF, malformed chunk extension,
 * malformed or oversized trailer section, a forbidden trailer field
 * (sl_h1_trailer_forbidden; c->own is the caller's to set after init).
 */
int sl_h1_chunked_decode(struct sl_h1_chunked *c, char *buf, size_t len,
			 int compact, size_t *consumed, size_t *data_len);

/*
 * sl_h1_chunked_decode compacting, for a codec that frames the payload
 * itself and takes the trailers as fields (HTTP/2, doc/http2.md section
 * 3): *trailer_at is where the trailer section's bytes (its final CRLF
 * included) begin among the *consumed ones, *consumed when none came in
 * this call. The compacted payload never reaches past it, so
 * buf[*trailer_at .. *consumed) is the section's text as it came.
 */
int sl_h1_chunked_unframe(struct sl_h1_chunked *c, char *buf, size_t len,
			  size_t *consumed, size_t *data_len,
			  size_t *trailer_at);

/*
 * A trailer section's text that the decoder accepted (field lines and
 * the final CRLF), as a field block of status 0 (hblock.h) at out: the
 * names as they came, the values without their white space at either
 * end. At most sizeof(struct sl_hblk) + 2 * len bytes. Returns its bytes,
 * or -1 when cap is too small.
 */
long sl_h1_trailers_block(const char *text, size_t len, char *out, size_t cap);

/*
 * A trailer section as an HTTP/1.1 codec takes it off a chunked body
 * (sl_h1_chunked_unframe's buf[*trailer_at .. *consumed) at each call):
 * its text gathered across reads in text (grown at need), then made a
 * field block in blk (a room kept for the next body, grown at need; on
 * set). The only allocating function of the chunked coding's file. Both
 * HTTP/1.1 codecs use it: the client's for a request (client_h1.c), the
 * upstream connection's for a response (upstream.c).
 */
struct sl_h1_trailers {
	char *text;	 /* the section's text so far (malloc'd) */
	size_t text_len; /* its bytes */
	char *blk;	 /* the block's room (malloc'd) */
	size_t blk_cap;	 /* its bytes */
	uint8_t on;	 /* blk holds this body's trailers */
};

/* n more bytes of the section at p; last: it is whole, and made a block
 * (none for a section of no field). Returns 0, or -1 (no memory). */
int sl_h1_trailers_take(struct sl_h1_trailers *t, const char *p, size_t n,
			int last);

/* For the next body: the text goes, the block's room stays. */
void sl_h1_trailers_reset(struct sl_h1_trailers *t);

/* Everything freed. */
void sl_h1_trailers_free(struct sl_h1_trailers *t);

/*
 * What can be read of a request head that was refused, for the logs only
 * (never for routing or forwarding): lenient where the parser is strict,
 * on the bytes received so far, complete or not. Slices point into buf;
 * NULL when absent.
 */
struct sl_h1_salvage {
	const char *method, *target, *host, *referer, *user_agent;
	size_t method_len, target_len, host_len, referer_len, user_agent_len;
	int minor; /* HTTP/1.minor, -1 when not seen */
};

void sl_h1_salvage(const char *buf, size_t len, struct sl_h1_salvage *out);

/*
 * Whether the n bytes at s equal the n bytes at lower (lower-case ASCII)
 * without regard to ASCII case: eight bytes at a time (no byte of s is
 * lowered unless lower has a letter there).
 */
int sl_h1_ieq_n(const char *s, const char *lower, size_t n);

/* 1 when s[0 .. n) is a token (RFC 9110 section 5.6.2: one tchar or
 * more), as a method must be. */
int sl_h1_is_token(const char *s, size_t n);

/* Case-insensitive ASCII comparison of a slice with a NUL-terminated
 * lower-case string; returns 1 when equal. The length test comes first,
 * against a length the compiler knows for a literal. */
static inline int
sl_h1_ieq(const char *s, size_t n, const char *lower)
{
	return n == strlen(lower) && sl_h1_ieq_n(s, lower, n);
}

#endif
