/* SPDX-License-Identifier: MIT */
/*
 * Strict HTTP/1.1 message parsing after RFC 9112: heads of requests and
 * responses, and the chunked transfer coding. Pure: no I/O, no malloc, no
 * global state. Slices returned point into the caller's buffer.
 */
#ifndef SL_H1_PARSE_H
#define SL_H1_PARSE_H

#include <stddef.h>
#include <stdint.h>

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

/* Incremental search for the end of a head; keeps what it has examined. */
struct sl_h1_scan {
	uint32_t off;	     /* bytes examined so far (heads are <= 1 MiB) */
	uint32_t line_start; /* offset of the current line */
	uint32_t nlines;     /* complete lines, the start line included */
	uint32_t sp1, sp2;   /* offsets of the first two SP of the start line,
				0 = not seen yet */
};

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
 * For responses (is_request == 0) every error is -502.
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

struct sl_h1_header {
	const char *name; /* as sent (case preserved) */
	size_t name_len;
	const char *value; /* leading and trailing OWS removed */
	size_t value_len;
};

enum sl_h1_body {
	SL_H1_BODY_NONE = 0, /* no body, or Content-Length: 0 */
	SL_H1_BODY_LENGTH,   /* content_length bytes (> 0) */
	SL_H1_BODY_CHUNKED,
	SL_H1_BODY_CLOSE, /* responses only: until the connection closes */
};

#define SL_H1_F_CONN_CLOSE	0x01 /* Connection has "close" */
#define SL_H1_F_CONN_KEEPALIVE	0x02 /* Connection has "keep-alive" */
#define SL_H1_F_EXPECT_CONTINUE 0x04 /* Expect: 100-continue */
#define SL_H1_F_ABSOLUTE_FORM	0x08 /* target was absolute-form */
#define SL_H1_F_CONN_OTHER	0x10 /* Connection names other fields */

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
	size_t max_headers; /* capacity of headers, set by the caller */
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
 */
int sl_h1_parse_request(const char *buf, size_t len, struct sl_h1_request *req,
			const struct sl_h1_limits *lim);

struct sl_h1_response {
	int status; /* 100..999 */
	const char *reason;
	size_t reason_len;
	int minor;	/* 0 or 1 */
	unsigned flags; /* SL_H1_F_CONN_* */
	enum sl_h1_body body;
	uint64_t content_length;
	struct sl_h1_header *headers; /* array provided by the caller */
	size_t nheaders;
	size_t max_headers;
};

/*
 * Parses a complete response head buf[0 .. len). method_id is the request's
 * method: a response to HEAD, and every 1xx, 204 and 304, has no body.
 * Framing is strict: Content-Length and Transfer-Encoding together,
 * differing or malformed Content-Length, a Transfer-Encoding other than
 * "chunked" are errors. Returns 0 or -502.
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
	int ndigits;		  /* hex digits in the current chunk size */
	int done;		  /* 1 once the message is complete */
};

void sl_h1_chunked_init(struct sl_h1_chunked *c, size_t max_trailer_bytes);

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
 * malformed or oversized trailer section.
 */
int sl_h1_chunked_decode(struct sl_h1_chunked *c, char *buf, size_t len,
			 int compact, size_t *consumed, size_t *data_len);

/* Case-insensitive ASCII comparison of a slice with a NUL-terminated
 * lower-case string; returns 1 when equal. */
int sl_h1_ieq(const char *s, size_t n, const char *lower);

#endif
