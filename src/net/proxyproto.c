/* SPDX-License-Identifier: MIT */
/*
 * The PROXY protocol, versions 1 and 2 (see proxyproto.h), after HAProxy's
 * doc/proxy-protocol.txt. Reads and writes caller buffers only.
 */
#include "proxyproto.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static const unsigned char v1sig[6] = {'P', 'R', 'O', 'X', 'Y', ' '};
static const unsigned char v2sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* Version 2: the high nibble of byte 13 is the version, the low one the
 * command; byte 14 holds the family and the transport. */
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_FAM_UNSPEC	0x0
#define V2_FAM_INET	0x1
#define V2_FAM_INET6	0x2
#define V2_FAM_UNIX	0x3
#define V2_PROTO_STREAM 0x1
#define V2_TLV_AUTH	0x02
#define V2_TLV_CRC32C	0x03

const char *
sl_pp_error_str(enum sl_pp_error e)
{
	static const char *const names[SL_PP_NERRORS] = {
	    "missing",	 "untrusted", "version", "malformed",
	    "too_large", "truncated", "timeout",
	};

	return (unsigned)e < SL_PP_NERRORS ? names[e] : "?";
}

enum sl_pp_kind
sl_pp_detect(const void *p, size_t n)
{
	const unsigned char *b = p;
	const unsigned char *sig;
	size_t len;

	if (n == 0)
		return SL_PP_AGAIN;
	if (b[0] == v1sig[0]) {
		sig = v1sig;
		len = sizeof(v1sig);
	} else if (b[0] == v2sig[0]) {
		sig = v2sig;
		len = sizeof(v2sig);
	} else
		return SL_PP_NONE;
	if (memcmp(b, sig, n < len ? n : len) != 0)
		return SL_PP_NONE;
	if (n < len)
		return SL_PP_AGAIN;
	return sig == v1sig ? SL_PP_KIND_V1 : SL_PP_KIND_V2;
}

/* The running CRC32C (not inverted) after b[0..n). Bit by bit: a header
 * is checked once per connection, at most SL_PP_MAX bytes; no table to
 * keep. */
static uint32_t
crc32c_update(uint32_t crc, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= b[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return crc;
}

uint32_t
sl_pp_crc32c(const void *p, size_t n)
{
	return ~crc32c_update(0xffffffffu, p, n);
}

/* ---- version 1 ----------------------------------------------------------- */

/* A port: 1 to 5 digits, no leading zero, at most 65535. */
static int
v1_port(const char *s, size_t n, uint16_t *port)
{
	uint32_t v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* An address of the line's family: dotted quad for TCP4 (inet_pton refuses
 * leading zeros), the colon form for TCP6. */
static int
v1_addr(const char *s, size_t n, int v6, struct sl_ip *ip)
{
	if ((memchr(s, ':', n) != NULL) != v6)
		return -1;
	return sl_ip_parse(s, n, ip);
}

/*
 * The line line[0..len) (CRLF not included), of printable bytes:
 * "PROXY TCP4 SRC DST SPORT DPORT", "PROXY TCP6 ..." or "PROXY UNKNOWN"
 * followed by anything. Returns 0 or -1.
 */
static int
v1_line(const char *line, size_t len, struct sl_pp_hdr *h)
{
	const char *f[5], *s = line + sizeof(v1sig), *end = line + len;
	size_t fl[5];
	int nf = 0, v6;

	h->version = 1;
	if ((size_t)(end - s) >= 7 && memcmp(s, "UNKNOWN", 7) == 0 &&
	    (s + 7 == end || s[7] == ' ')) {
		/* the rest of the line is the sender's and means nothing */
		h->local = 1;
		return 0;
	}
	/* exactly five fields after "PROXY ", each set off by one space */
	while (nf < 5) {
		const char *sp = memchr(s, ' ', (size_t)(end - s));
		const char *e = sp != NULL ? sp : end;
		if (e == s)
			return -1; /* an empty field: two spaces, or a
				      trailing one */
		f[nf] = s;
		fl[nf] = (size_t)(e - s);
		nf++;
		if (sp == NULL)
			break;
		s = sp + 1;
		if (nf == 5)
			return -1; /* a sixth field */
	}
	if (nf != 5 || fl[0] != 4 || memcmp(f[0], "TCP", 3) != 0 ||
	    (f[0][3] != '4' && f[0][3] != '6'))
		return -1;
	v6 = f[0][3] == '6';
	if (v1_addr(f[1], fl[1], v6, &h->src) == -1 ||
	    v1_addr(f[2], fl[2], v6, &h->dst) == -1 ||
	    v1_port(f[3], fl[3], &h->sport) == -1 ||
	    v1_port(f[4], fl[4], &h->dport) == -1)
		return -1;
	return 0;
}

static long
v1_parse(const unsigned char *b, size_t n, struct sl_pp_hdr *h,
	 enum sl_pp_error *why)
{
	for (size_t i = sizeof(v1sig); i < n; i++) {
		if (i >= SL_PP_V1_MAX) {
			*why = SL_PP_E_TOO_LARGE;
			return -1;
		}
		if (b[i] == '\r') {
			/* the CRLF must end by byte 107 */
			if (i + 1 >= SL_PP_V1_MAX) {
				*why = SL_PP_E_TOO_LARGE;
				return -1;
			}
			if (i + 1 == n)
				return 0;
			if (b[i + 1] != '\n' ||
			    v1_line((const char *)b, i, h) == -1) {
				*why = SL_PP_E_MALFORMED;
				return -1;
			}
			return (long)(i + 2);
		}
		/* US-ASCII text; a lone LF does not end the line */
		if (b[i] < 0x20 || b[i] > 0x7e) {
			*why = SL_PP_E_MALFORMED;
			return -1;
		}
	}
	return 0;
}

/* ---- version 2 ----------------------------------------------------------- */

/*
 * The TLVs of b[off..end): each within the header, the authority kept
 * (the first one), a CRC32C checked over the whole header b[0..end).
 * Returns 0 or -1.
 */
static int
v2_tlvs(const unsigned char *b, size_t off, size_t end, struct sl_pp_hdr *h)
{
	size_t crc_at = 0;

	while (off < end) {
		size_t tlen;
		if (end - off < 3)
			return -1; /* not even a type and a length */
		tlen = (size_t)b[off + 1] << 8 | b[off + 2];
		if (tlen > end - off - 3)
			return -1; /* runs past the header */
		switch (b[off]) {
		case V2_TLV_AUTH:
			if (tlen > SL_PP_AUTHORITY_MAX)
				return -1;
			if (h->authority == NULL && tlen > 0) {
				h->authority = (const char *)b + off + 3;
				h->authority_len = tlen;
			}
			break;
		case V2_TLV_CRC32C:
			if (tlen != 4 || crc_at != 0)
				return -1;
			crc_at = off + 3;
			break;
		default:
			break; /* ALPN, NOOP, UNIQUE_ID, SSL, NETNS, a
				  vendor's: nothing sluice uses */
		}
		off += 3 + tlen;
	}
	if (crc_at != 0) {
		static const unsigned char zero[4];
		uint32_t want = (uint32_t)b[crc_at] << 24 |
				(uint32_t)b[crc_at + 1] << 16 |
				(uint32_t)b[crc_at + 2] << 8 | b[crc_at + 3];
		/* over the header with the checksum's own bytes as zeros */
		uint32_t crc = crc32c_update(0xffffffffu, b, crc_at);
		crc = crc32c_update(crc, zero, 4);
		crc = crc32c_update(crc, b + crc_at + 4, end - crc_at - 4);
		if (~crc != want)
			return -1;
		h->crc_checked = 1;
	}
	return 0;
}

static long
v2_parse(const unsigned char *b, size_t n, struct sl_pp_hdr *h,
	 enum sl_pp_error *why)
{
	unsigned cmd, fam, proto;
	size_t len, alen;

	*why = SL_PP_E_MALFORMED;
	h->version = 2;
	if (n < 13)
		return 0;
	cmd = b[12] & 0x0f;
	if ((b[12] >> 4) != 2 || cmd > V2_CMD_PROXY)
		return -1;
	if (n < 14)
		return 0;
	fam = b[13] >> 4;
	proto = b[13] & 0x0f;
	if (fam > V2_FAM_UNIX || proto > 2)
		return -1;
	if (n < SL_PP_V2_FIXED)
		return 0;
	len = (size_t)b[14] << 8 | b[15];
	if (len > SL_PP_V2_MAX_LEN) {
		*why = SL_PP_E_TOO_LARGE;
		return -1;
	}
	if (n < SL_PP_V2_FIXED + len)
		return 0;
	if (cmd == V2_CMD_LOCAL) {
		/* the balancer's own connection: the block is skipped,
		 * family and TLVs included */
		h->local = h->cmd_local = 1;
		return (long)(SL_PP_V2_FIXED + len);
	}
	alen = fam == V2_FAM_INET    ? 12
	       : fam == V2_FAM_INET6 ? 36
	       : fam == V2_FAM_UNIX  ? 216
				     : 0;
	if (len < alen)
		return -1;
	if ((fam == V2_FAM_INET || fam == V2_FAM_INET6) &&
	    proto == V2_PROTO_STREAM) {
		const unsigned char *a = b + SL_PP_V2_FIXED;
		size_t al = fam == V2_FAM_INET ? 4 : 16;
		struct sockaddr_storage ss;
		/* through sl_ip's own rules: a mapped IPv4 address is
		 * the IPv4 address */
		if (fam == V2_FAM_INET) {
			h->src.len = h->dst.len = 4;
			memcpy(h->src.a, a, 4);
			memcpy(h->dst.a, a + 4, 4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			memset(&ss, 0, sizeof(ss));
			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, a, 16);
			sl_ip_from_sockaddr((struct sockaddr *)&ss, &h->src);
			memcpy(&s6->sin6_addr, a + 16, 16);
			sl_ip_from_sockaddr((struct sockaddr *)&ss, &h->dst);
		}
		h->sport = (uint16_t)(a[2 * al] << 8 | a[2 * al + 1]);
		h->dport = (uint16_t)(a[2 * al + 2] << 8 | a[2 * al + 3]);
	} else {
		/* UNSPEC, AF_UNIX, UDP: nothing sluice can use for a TCP
		 * client; the spec's fallback is the real endpoints */
		h->local = 1;
	}
	if (v2_tlvs(b, SL_PP_V2_FIXED + alen, SL_PP_V2_FIXED + len, h) == -1)
		return -1;
	return (long)(SL_PP_V2_FIXED + len);
}

long
sl_pp_parse(const void *p, size_t n, unsigned versions, struct sl_pp_hdr *h,
	    enum sl_pp_error *why)
{
	const unsigned char *b = p;
	enum sl_pp_kind k = sl_pp_detect(p, n);

	memset(h, 0, sizeof(*h));
	switch (k) {
	case SL_PP_AGAIN:
		return 0;
	case SL_PP_NONE:
		*why = SL_PP_E_MISSING;
		return -1;
	case SL_PP_KIND_V1:
		if (!(versions & SL_PP_V1)) {
			*why = SL_PP_E_VERSION;
			return -1;
		}
		return v1_parse(b, n, h, why);
	case SL_PP_KIND_V2:
		if (!(versions & SL_PP_V2)) {
			*why = SL_PP_E_VERSION;
			return -1;
		}
		return v2_parse(b, n, h, why);
	}
	return 0;
}

size_t
sl_pp_write_v2(void *out, size_t cap, const struct sl_ip *src, uint16_t sport,
	       const struct sl_ip *dst, uint16_t dport)
{
	unsigned char *o = out;
	struct sl_ip d;
	size_t alen;

	if (cap < SL_PP_V2_FIXED)
		return 0;
	memcpy(o, v2sig, sizeof(v2sig));
	if (src == NULL || src->len == 0) {
		/* LOCAL, no address: the receiver keeps its own view */
		o[12] = 0x20 | V2_CMD_LOCAL;
		o[13] = 0x00;
		o[14] = o[15] = 0;
		return SL_PP_V2_FIXED;
	}
	d = *dst;
	if (d.len == 0) {
		/* no destination: the zero address of the source's family */
		memset(&d, 0, sizeof(d));
		d.len = src->len;
	}
	alen = src->len == 4 && d.len == 4 ? 12 : 36;
	if (cap < SL_PP_V2_FIXED + alen)
		return 0;
	o[12] = 0x20 | V2_CMD_PROXY;
	o[13] = alen == 12 ? 0x11 : 0x21; /* TCP over IPv4, over IPv6 */
	o[14] = 0;
	o[15] = (unsigned char)alen;
	if (alen == 12) {
		memcpy(o + 16, src->a, 4);
		memcpy(o + 20, d.a, 4);
	} else {
		/* one family for both: an IPv4 one mapped (::ffff:a.b.c.d) */
		const struct sl_ip *ips[2] = {src, &d};
		for (int k = 0; k < 2; k++) {
			unsigned char *a = o + 16 + 16 * k;
			if (ips[k]->len == 4) {
				memset(a, 0, 10);
				a[10] = a[11] = 0xff;
				memcpy(a + 12, ips[k]->a, 4);
			} else
				memcpy(a, ips[k]->a, 16);
		}
	}
	o[16 + alen - 4] = (unsigned char)(sport >> 8);
	o[16 + alen - 3] = (unsigned char)sport;
	o[16 + alen - 2] = (unsigned char)(dport >> 8);
	o[16 + alen - 1] = (unsigned char)dport;
	return SL_PP_V2_FIXED + alen;
}
