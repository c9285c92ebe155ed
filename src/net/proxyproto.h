/* SPDX-License-Identifier: MIT */
/*
 * The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2):
 * telling a header from other bytes, parsing one, and writing a version 2
 * header for an upstream. Pure: no I/O, no allocation; the parser is
 * resumable in the sense that it may be called again on a longer prefix of
 * the same bytes, and its answer never changes once it is not "need more".
 */
#ifndef SL_PROXYPROTO_H
#define SL_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

/* A version 1 line, CRLF included, at most (the spec's bound). */
#define SL_PP_V1_MAX 107
/* The fixed part of a version 2 header, and the most bytes of addresses
 * and TLVs sluice accepts after it: AWS, GCP, Azure and HAProxy (SSL,
 * unique id, authority) send a few hundred at most. */
#define SL_PP_V2_FIXED	 16
#define SL_PP_V2_MAX_LEN 2048
/* The longest header sluice reads (version 2 is the longer). */
#define SL_PP_MAX (SL_PP_V2_FIXED + SL_PP_V2_MAX_LEN)
/* The longest header sluice writes: version 2 with IPv6 addresses. */
#define SL_PP_V2_OUT_MAX (SL_PP_V2_FIXED + 36)
/* The longest authority (TLV 0x02) kept: a host name (SNI) is at most
 * 255 bytes. */
#define SL_PP_AUTHORITY_MAX 255

/* Versions, as bits of a set (proxy_protocol.versions). */
#define SL_PP_V1 0x02
#define SL_PP_V2 0x04

/* What the first bytes of a connection are (sl_pp_detect). */
enum sl_pp_kind {
	SL_PP_AGAIN = 0, /* a prefix of a signature: more bytes decide */
	SL_PP_NONE,	 /* not a PROXY header */
	SL_PP_KIND_V1,	 /* starts with "PROXY " */
	SL_PP_KIND_V2,	 /* starts with the 12-byte version 2 signature */
};

/* Why a header was refused; also the reason label of
 * sluice_proxy_protocol_errors_total (sl_pp_error_str). */
enum sl_pp_error {
	SL_PP_E_MISSING = 0, /* a trusted source sent no header */
	SL_PP_E_UNTRUSTED,   /* a header from a source not in "from" */
	SL_PP_E_VERSION,     /* a version the listener does not accept */
	SL_PP_E_MALFORMED,   /* not what the spec allows */
	SL_PP_E_TOO_LARGE,   /* past SL_PP_V1_MAX or SL_PP_MAX bytes */
	SL_PP_E_TRUNCATED,   /* the connection ended inside the header */
	SL_PP_E_TIMEOUT,     /* not complete within header_timeout */
	SL_PP_NERRORS
};

const char *sl_pp_error_str(enum sl_pp_error e);

/* A parsed header. */
struct sl_pp_hdr {
	uint8_t version;   /* 1 or 2 */
	uint8_t local;	   /* 1: the connection's own endpoints stand (a v2
			      LOCAL command, v1 UNKNOWN, a v2 family or
			      transport without addresses sluice uses);
			      src and dst are then unset */
	uint8_t cmd_local; /* a v2 LOCAL command (the balancer's own check) */
	struct sl_ip src, dst;
	uint16_t sport, dport;
	const char *authority; /* TLV 0x02's bytes, in the input; NULL:
				  none */
	size_t authority_len;  /* 1..SL_PP_AUTHORITY_MAX */
	uint8_t crc_checked;   /* a CRC32C TLV was there and matched */
};

/*
 * What p[0..n) starts with: a version 1 or 2 signature, something else, or
 * too few bytes to tell (a prefix of "PROXY " or of the v2 signature).
 */
enum sl_pp_kind sl_pp_detect(const void *p, size_t n);

/*
 * Parses the header at the start of p[0..n), of a version in versions
 * (SL_PP_V1 | SL_PP_V2). Returns its length (> 0) with *h filled, 0 when
 * more bytes are needed, or -1 with *why set (MISSING: p does not start
 * with a signature; VERSION, MALFORMED, TOO_LARGE). Errors are found as
 * early as the bytes allow: a longer input never turns an error or a
 * header into another answer. h->authority points into p.
 */
long sl_pp_parse(const void *p, size_t n, unsigned versions,
		 struct sl_pp_hdr *h, enum sl_pp_error *why);

/*
 * Writes a version 2 header into out[0..cap): a PROXY command from src
 * (port sport) to dst (port dport), or, when src is NULL, a LOCAL command
 * without addresses. src and dst of different families are written as
 * IPv6 (an IPv4 address mapped; dst "0.0.0.0" as "::"). Returns the length,
 * or 0 when cap is too small (SL_PP_V2_OUT_MAX always does).
 */
size_t sl_pp_write_v2(void *out, size_t cap, const struct sl_ip *src,
		      uint16_t sport, const struct sl_ip *dst, uint16_t dport);

/* CRC32C (Castagnoli, as RFC 4960 appendix B) of p[0..n). */
uint32_t sl_pp_crc32c(const void *p, size_t n);

#endif
