/* SPDX-License-Identifier: MIT */
/*
 * QPACK (RFC 9204) with a dynamic table of capacity 0: the decoder of a
 * field section, the encoder, and the checks of the peer's QPACK streams,
 * on the static table qpack_gen.c writes at build time and HPACK's
 * Huffman code. No I/O, no allocation.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hpack.h"
#include "qpack.h"
#include "qpack_tab.h"

/* The largest integer QPACK carries: a QUIC variable-length integer's
 * (RFC 9204 section 4.1.1 leaves it to the implementation; stream ids
 * and sizes are 62 bits). */
#define INT_MAX62 ((UINT64_C(1) << 62) - 1)

/* ---- decoding ------------------------------------------------------------*/

/*
 * Decodes an integer of RFC 7541 section 5.1 whose prefix is the low
 * `bits` bits of **p. Returns 0 and advances *p, or -1 when the section
 * ends first or the value passes 2^62 - 1.
 */
static int
int_decode(const uint8_t **p, const uint8_t *end, int bits, uint64_t *out)
{
	uint64_t max = (UINT64_C(1) << bits) - 1, v;
	int shift = 0;

	if (*p >= end)
		return -1;
	v = **p & max;
	(*p)++;
	if (v == max) {
		uint8_t b;

		do {
			if (*p >= end || shift > 56)
				return -1;
			b = *(*p)++;
			v += (uint64_t)(b & 0x7f) << shift;
			if (v > INT_MAX62)
				return -1;
			shift += 7;
		} while (b & 0x80);
	}
	*out = v;
	return 0;
}

/* A field's name or value as decoded: where its bytes are. */
struct str {
	const char *p;
	size_t len;
};

/*
 * Reads a string literal whose length has a prefix of `bits` bits, the H
 * bit just above it. A Huffman string decodes into scratch at *used.
 * Returns 0; 1 when it decoded past the scratch (the field is refused,
 * the section goes on); -1 for a decompression failure.
 */
static int
str_decode(const uint8_t **p, const uint8_t *end, int bits, char *scratch,
	   size_t scratch_len, size_t *used, struct str *s)
{
	uint64_t len;
	int huff;
	long n;

	if (*p >= end)
		return -1;
	huff = (**p >> bits) & 1;
	if (int_decode(p, end, bits, &len) != 0 || len > (size_t)(end - *p))
		return -1;
	if (!huff) {
		s->p = (const char *)*p;
		s->len = (size_t)len;
		*p += len;
		return 0;
	}
	n = sl_hpack_huff_decode_all(scratch + *used, scratch_len - *used, *p,
				     (size_t)len);
	if (n < 0)
		return -1;
	*p += len;
	if ((size_t)n > scratch_len - *used)
		return 1;
	s->p = scratch + *used;
	s->len = (size_t)n;
	*used += (size_t)n;
	return 0;
}

/* Static entry idx into name and value. Returns 0, or -1 when there is no
 * such entry. */
static int
static_entry(uint64_t idx, struct str *name, struct str *value)
{
	const struct sl_hpack_entry *e;

	if (idx >= SL_QPACK_NSTATIC)
		return -1;
	e = &sl_qpack_static[idx];
	name->p = e->name;
	name->len = e->nlen;
	if (value != NULL) {
		value->p = e->value;
		value->len = e->vlen;
	}
	return 0;
}

/*
 * Reads one field line at *p (RFC 9204 section 4.5.2 to 4.5.6) into name
 * and value; *flags gets SL_HPACK_F_NEVER from the N bit, *checked
 * whether the field is a static entry (good as it is). Returns 0, 1 for
 * a field longer than the scratch, -1 for a decompression failure.
 */
static int
field_line(const uint8_t **p, const uint8_t *end, char *scratch,
	   size_t scratch_len, struct str *name, struct str *value,
	   unsigned *flags, int *checked)
{
	uint8_t b = **p;
	uint64_t idx;
	size_t used = 0;
	int rc, rv;

	*flags = 0;
	*checked = 0;
	if (b & 0x80) {
		/* indexed: 1 T Index(6+); T=0 is the dynamic table, empty */
		if (!(b & 0x40) || int_decode(p, end, 6, &idx) != 0 ||
		    static_entry(idx, name, value) != 0)
			return -1;
		*checked = 1;
		return 0;
	}
	if (b & 0x40) {
		/* a literal with a name reference: 01 N T NameIndex(4+) */
		if (b & 0x20)
			*flags |= SL_HPACK_F_NEVER;
		if (!(b & 0x10) || int_decode(p, end, 4, &idx) != 0 ||
		    static_entry(idx, name, NULL) != 0)
			return -1;
		return str_decode(p, end, 7, scratch, scratch_len, &used,
				  value);
	}
	if (b & 0x20) {
		/* a literal with a literal name: 001 N H NameLen(3+) */
		if (b & 0x10)
			*flags |= SL_HPACK_F_NEVER;
		rc = str_decode(p, end, 3, scratch, scratch_len, &used, name);
		if (rc < 0)
			return -1;
		rv = str_decode(p, end, 7, scratch, scratch_len, &used, value);
		return rv < 0 ? -1 : (rc | rv);
	}
	/* 0001: indexed post-base; 0000: a literal with a post-base name
	 * reference: both name the dynamic table */
	return -1;
}

int
sl_qpack_decode(const uint8_t *in, size_t len, size_t max_size, char *scratch,
		size_t scratch_len, sl_hpack_emit_fn emit, void *arg)
{
	const uint8_t *p = in, *end = in + len;
	uint64_t ric, base, size = 0;
	int rc = SL_QPACK_OK, regular = 0;

	if (scratch_len < SL_QPACK_SCRATCH_MIN)
		return SL_QPACK_FAILED; /* the caller's mistake */
	/* the prefix (RFC 9204 section 4.5.1): with a capacity of 0 the
	 * Required Insert Count is 0, and a Base below it (S=1) is invalid
	 * however small Delta Base is */
	if (int_decode(&p, end, 8, &ric) != 0 || ric != 0 || p >= end ||
	    (*p & 0x80) || int_decode(&p, end, 7, &base) != 0)
		return SL_QPACK_FAILED;
	while (p < end) {
		struct str name, value;
		unsigned flags;
		int checked, r;

		r = field_line(&p, end, scratch, scratch_len, &name, &value,
			       &flags, &checked);
		if (r < 0)
			return SL_QPACK_FAILED;
		if (rc != SL_QPACK_OK)
			continue; /* only checked for a failure now */
		if (r > 0) {
			rc = SL_QPACK_REFUSED;
			continue;
		}
		size += SL_QPACK_FIELD_SIZE(name.len, value.len);
		if (size > max_size) {
			rc = SL_QPACK_REFUSED;
			continue;
		}
		if (!checked && sl_hpack_field_ok(name.p, name.len, value.p,
						  value.len) != 0) {
			rc = SL_QPACK_MALFORMED;
			continue;
		}
		if (name.p[0] == ':') {
			if (regular) { /* a pseudo-field after a field */
				rc = SL_QPACK_MALFORMED;
				continue;
			}
			flags |= SL_HPACK_F_PSEUDO;
		} else {
			regular = 1;
		}
		if (emit(arg, name.p, name.len, value.p, value.len, flags) != 0)
			rc = SL_QPACK_REFUSED;
	}
	return rc;
}

/* ---- encoding ------------------------------------------------------------*/

size_t
sl_qpack_enc_prefix(uint8_t *out, size_t room)
{
	if (room < SL_QPACK_PREFIX_LEN)
		return 0;
	out[0] = 0x00; /* Required Insert Count 0 */
	out[1] = 0x00; /* S=0, Delta Base 0 */
	return SL_QPACK_PREFIX_LEN;
}

/* The static index of name, or -1; *vidx: the index of name with value,
 * or -1. */
static int
static_find(const char *name, size_t nlen, const char *value, size_t vlen,
	    int *vidx)
{
	*vidx = -1;
	if (nlen == 0 || nlen > SL_QPACK_NAME_MAX)
		return -1;
	for (const uint8_t *i = sl_qpack_by_len[nlen]; *i != 0xff; i++) {
		if (memcmp(sl_qpack_static[*i].name, name, nlen) != 0)
			continue;
		for (unsigned j = *i; j != 0xff; j = sl_qpack_next[j]) {
			const struct sl_hpack_entry *e = &sl_qpack_static[j];

			if (e->vlen == vlen &&
			    memcmp(e->value, value, vlen) == 0) {
				*vidx = (int)j;
				break;
			}
		}
		return *i;
	}
	return -1;
}

size_t
sl_qpack_enc_field(uint8_t *out, size_t room, const char *name, size_t nlen,
		   const char *value, size_t vlen, unsigned flags)
{
	int never = (flags & SL_HPACK_F_NEVER) != 0, vidx, idx;
	int raw = (flags & SL_HPACK_F_RAW) != 0;
	size_t n, m;

	idx = static_find(name, nlen, value, vlen, &vidx);
	if (vidx >= 0 && !never) /* 1 T=1 Index(6+) */
		return sl_hpack_int_encode(out, room, 0xc0, 6, (uint32_t)vidx);
	if (idx >= 0) /* 01 N T=1 NameIndex(4+) */
		n = sl_hpack_int_encode(out, room, never ? 0x70 : 0x50, 4,
					(uint32_t)idx);
	else /* 001 N H NameLen(3+) */
		n = sl_hpack_str_encode(out, room, never ? 0x30 : 0x20, 3, name,
					nlen, raw);
	if (n == 0)
		return 0;
	m = sl_hpack_str_encode(out + n, room - n, 0x00, 7, value, vlen, raw);
	return m == 0 ? 0 : n + m;
}

size_t
sl_qpack_enc_status(uint8_t *out, size_t room, int status)
{
	char d[3] = {(char)('0' + status / 100 % 10),
		     (char)('0' + status / 10 % 10), (char)('0' + status % 10)};

	return sl_qpack_enc_field(out, room, ":status", 7, d, 3, 0);
}

/* ---- the peer's QPACK streams --------------------------------------------*/

int
sl_qpack_estream_feed(const uint8_t *in, size_t len)
{
	/* 001 Capacity(5+) with a capacity of 0 is the byte 0x20; every
	 * other first byte is an insertion, a duplicate or a capacity above
	 * 0, and an integer's continuation only follows a full prefix */
	for (size_t i = 0; i < len; i++)
		if (in[i] != 0x20)
			return -1;
	return 0;
}

int
sl_qpack_dstream_feed(struct sl_qpack_dstream *s, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len && !s->failed; i++) {
		uint8_t b = in[i];

		if (s->in_id) {
			/* a continuation byte of the stream id */
			if (s->shift > 56)
				s->failed = 1;
			s->acc += (uint64_t)(b & 0x7f) << s->shift;
			if (s->acc > INT_MAX62)
				s->failed = 1;
			s->shift += 7;
			if (!(b & 0x80))
				s->in_id = 0;
			continue;
		}
		if ((b & 0xc0) != 0x40) {
			/* 1: Section Acknowledgment; 00: Insert Count
			 * Increment */
			s->failed = 1;
			break;
		}
		/* 01 StreamID(6+): Stream Cancellation */
		if ((b & 0x3f) == 0x3f) {
			s->in_id = 1;
			s->acc = 0x3f;
			s->shift = 0;
		}
	}
	return s->failed ? -1 : 0;
}
