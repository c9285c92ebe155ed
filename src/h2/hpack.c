/* SPDX-License-Identifier: MIT */
/*
 * HPACK (RFC 7541): the decoder with its dynamic table, the encoder that
 * keeps none, and Huffman coding, on the tables hpack_gen.c writes at
 * build time. Performs no I/O; the dynamic table is the only allocation.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hpack.h"
#include "hpack_tab.h"

/* RFC 7541 section 4.1: an entry's size is its name's and value's bytes
 * and 32. */
#define ENTRY_OVERHEAD 32

/* ---- integers (RFC 7541 section 5.1) -------------------------------------*/

/*
 * Decodes an integer whose prefix is the low `bits` bits of **p. Returns
 * 0 and advances *p, or -1 when the block ends first or the value passes
 * 2^32 - 1 (no length or index of sluice's is near that).
 */
static int
int_decode(const uint8_t **p, const uint8_t *end, int bits, uint32_t *out)
{
	uint32_t max = (1u << bits) - 1, v;
	uint64_t acc;
	int shift = 0;

	if (*p >= end)
		return -1;
	v = **p & max;
	(*p)++;
	if (v < max) {
		*out = v;
		return 0;
	}
	acc = v;
	for (;;) {
		uint8_t b;

		if (*p >= end || shift > 28)
			return -1;
		b = **p;
		(*p)++;
		acc += (uint64_t)(b & 0x7f) << shift;
		if (acc > UINT32_MAX)
			return -1;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	*out = (uint32_t)acc;
	return 0;
}

/* int_encode of a value that does not fit its prefix. */
static size_t
int_encode_long(uint8_t *out, size_t room, uint8_t first, int bits, uint32_t v)
{
	uint32_t max = (1u << bits) - 1;
	size_t n = 0;

	if (room == 0)
		return 0;
	out[n++] = (uint8_t)(first | max);
	v -= max;
	while (v >= 0x80) {
		if (n >= room)
			return 0;
		out[n++] = (uint8_t)(0x80 | (v & 0x7f));
		v >>= 7;
	}
	if (n >= room)
		return 0;
	out[n++] = (uint8_t)v;
	return n;
}

/* Writes v with a prefix of `bits` bits under the high bits `first`.
 * Returns the bytes written (at most 6), or 0 when room is short. Inline:
 * most values (a static index, a short string's length) fit the prefix,
 * and a field's encoding writes two or three of them. */
static inline size_t
int_encode(uint8_t *out, size_t room, uint8_t first, int bits, uint32_t v)
{
	if (room != 0 && v < (1u << bits) - 1) {
		out[0] = (uint8_t)(first | v);
		return 1;
	}
	return int_encode_long(out, room, first, bits, v);
}

/* ---- Huffman (RFC 7541 section 5.2) --------------------------------------*/

size_t
sl_hpack_huff_len(const char *s, size_t len)
{
	size_t b = 0;

	for (size_t i = 0; i < len; i++)
		b += sl_hpack_huff_bits[(unsigned char)s[i]];
	return (b + 7) / 8;
}

void
sl_hpack_huff_encode(uint8_t *out, const char *s, size_t len)
{
	uint64_t acc = 0;
	int nbits = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		acc = (acc << sl_hpack_huff_bits[c]) | sl_hpack_huff_code[c];
		nbits += sl_hpack_huff_bits[c];
		while (nbits >= 8) {
			nbits -= 8;
			*out++ = (uint8_t)(acc >> nbits);
		}
	}
	if (nbits > 0) /* the padding: the first bits of EOS, all ones */
		*out = (uint8_t)((acc << (8 - nbits)) | (0xffu >> nbits));
}

/*
 * Decodes len bytes of a Huffman string. Writes at most room bytes to out
 * and counts the rest, so that a string too long for out is still
 * checked whole. Returns the decoded length, or -1 for a bad string.
 */
static long
huff_decode(char *out, size_t room, const uint8_t *in, size_t len)
{
	const struct sl_hpack_huff_step *t, *u;
	unsigned state = 0, accept = 1;
	size_t n = 0;

	if (room >= len * 8 / 5 + 1) {
		/* room for the longest result (5 bits a symbol at the
		 * least): no check of room, a byte's two steps at once;
		 * a failed step leads to state 0, so the second step can
		 * be taken before the first is checked */
		for (size_t i = 0; i < len; i++) {
			t = &sl_hpack_huff_dec[state][in[i] >> 4];
			out[n] = (char)t->sym;
			n += t->flags & SL_GEN_SYM;
			u = &sl_hpack_huff_dec[t->next][in[i] & 0x0f];
			out[n] = (char)u->sym;
			n += u->flags & SL_GEN_SYM;
			if ((t->flags | u->flags) & SL_GEN_FAIL)
				return -1;
			state = u->next;
			accept = u->flags & SL_GEN_ACCEPT;
		}
		return accept ? (long)n : -1;
	}
	for (size_t i = 0; i < len; i++) {
		t = &sl_hpack_huff_dec[state][in[i] >> 4];
		if (t->flags & SL_GEN_FAIL)
			return -1;
		if (t->flags & SL_GEN_SYM) {
			if (n < room)
				out[n] = (char)t->sym;
			n++;
		}
		t = &sl_hpack_huff_dec[t->next][in[i] & 0x0f];
		if (t->flags & SL_GEN_FAIL)
			return -1;
		if (t->flags & SL_GEN_SYM) {
			if (n < room)
				out[n] = (char)t->sym;
			n++;
		}
		state = t->next;
		accept = t->flags & SL_GEN_ACCEPT;
	}
	return accept ? (long)n : -1;
}

long
sl_hpack_huff_decode_all(char *out, size_t room, const uint8_t *in, size_t len)
{
	return huff_decode(out, room, in, len);
}

long
sl_hpack_huff_decode(char *out, size_t room, const uint8_t *in, size_t len)
{
	long n = huff_decode(out, room, in, len);

	return n > (long)room ? -1 : n;
}

/* ---- the dynamic table ---------------------------------------------------*/

struct dyn_ent {
	uint32_t off;  /* the name's first byte in data; the value follows */
	uint32_t nlen; /* bytes */
	uint32_t vlen; /* bytes */
	uint32_t ok;   /* field_ok() passed it: indexing it checks nothing */
};

/*
 * The entries, newest last, in a ring of ncap slots; their bytes in a
 * ring of cap bytes, each entry's name and value together (an entry that
 * would pass the end starts again at 0), so that a field read from the
 * table is one run of bytes. One allocation: this struct, the slots, the
 * bytes. Owned by its decoder.
 */
struct sl_hpack_dyn {
	uint32_t ncap; /* slots, a power of 2 */
	uint32_t cap;  /* bytes of data */
	uint32_t head; /* the slot the next entry takes */
	uint32_t n;    /* entries */
	uint32_t wr;   /* where the next entry's bytes go */
	uint32_t live; /* bytes of the entries' names and values */
	struct dyn_ent *ents;
	char *data;
};

static struct dyn_ent *
dyn_at(const struct sl_hpack_dyn *t, uint32_t i) /* i: 0 newest */
{
	return &t->ents[(t->head - 1 - i) & (t->ncap - 1)];
}

static void
dyn_free(struct sl_hpack_dec *d)
{
	free(d->dyn);
	d->dyn = NULL;
	d->size = 0;
}

/* Drops the oldest entries until size fits; frees the table when it is
 * empty. */
static void
dyn_evict(struct sl_hpack_dec *d, uint32_t size)
{
	struct sl_hpack_dyn *t = d->dyn;

	while (t != NULL && d->size > size) {
		struct dyn_ent *e = dyn_at(t, t->n - 1);

		d->size -= e->nlen + e->vlen + ENTRY_OVERHEAD;
		t->live -= e->nlen + e->vlen;
		if (--t->n == 0) {
			dyn_free(d);
			return;
		}
	}
}

static uint32_t
pow2_at_least(uint32_t v)
{
	uint32_t p = 16;

	while (p < v)
		p <<= 1;
	return p;
}

/* A new table of ncap slots and cap bytes holding t's entries (t may be
 * NULL), laid out from byte 0. Returns NULL when out of memory. */
static struct sl_hpack_dyn *
dyn_relayout(const struct sl_hpack_dyn *t, uint32_t ncap, uint32_t cap)
{
	struct sl_hpack_dyn *nt;
	uint32_t off = 0;

	nt = malloc(sizeof(*nt) + (size_t)ncap * sizeof(struct dyn_ent) + cap);
	if (nt == NULL)
		return NULL;
	memset(nt, 0, sizeof(*nt));
	nt->ncap = ncap;
	nt->cap = cap;
	nt->ents = (struct dyn_ent *)(nt + 1);
	nt->data = (char *)(nt->ents + ncap);
	for (uint32_t i = 0; t != NULL && i < t->n; i++) {
		const struct dyn_ent *e = dyn_at(t, t->n - 1 - i);
		uint32_t len = e->nlen + e->vlen;

		memcpy(nt->data + off, t->data + e->off, len);
		nt->ents[i] = *e;
		nt->ents[i].off = off;
		off += len;
	}
	nt->n = nt->head = t != NULL ? t->n : 0;
	nt->wr = nt->live = off;
	return nt;
}

/* Where an entry of len bytes goes in t without touching a live one, or
 * -1 when it does not fit as the bytes lie now. */
static long
dyn_place(const struct sl_hpack_dyn *t, uint32_t len)
{
	uint32_t oldest, pos = t->wr;

	if (t->live == 0) /* no byte is live (entries may be empty) */
		return len <= t->cap ? 0 : -1;
	oldest = dyn_at(t, t->n - 1)->off;
	if (oldest < t->wr) { /* live bytes: [oldest, wr) */
		if ((uint64_t)pos + len <= t->cap)
			return pos;
		return len <= oldest ? 0 : -1;
	}
	/* live bytes: [oldest, cap) and [0, wr) */
	return (uint64_t)pos + len <= oldest ? (long)pos : -1;
}

/*
 * Adds a field as the newest entry (RFC 7541 section 4.4): older entries
 * go first to make room; a field larger than the table empties it and is
 * not added. Returns 0, or -1 when out of memory (the connection ends).
 */
static int
dyn_insert(struct sl_hpack_dec *d, const char *name, uint32_t nlen,
	   const char *value, uint32_t vlen, int ok)
{
	struct sl_hpack_dyn *t;
	uint32_t len = nlen + vlen, esize = len + ENTRY_OVERHEAD;
	struct dyn_ent *e;
	long pos;

	if (esize > d->limit) {
		dyn_evict(d, 0);
		return 0;
	}
	dyn_evict(d, d->limit - esize);
	t = d->dyn;
	if (t == NULL || t->n == t->ncap || (pos = dyn_place(t, len)) < 0) {
		/* grow (or lay the bytes out again): slots for every entry
		 * the limit allows at the most, bytes for twice what is
		 * live, so that the ring's wasted end never stops an
		 * insertion */
		uint32_t n = t != NULL ? t->n : 0,
			 live = t != NULL ? t->live : 0;
		uint32_t ncap = t != NULL ? t->ncap : 4;
		uint32_t cap = pow2_at_least(2 * (live + len));
		struct sl_hpack_dyn *nt;

		if (n + 1 > ncap)
			ncap *= 2;
		if (t != NULL && cap < t->cap)
			cap = t->cap;
		nt = dyn_relayout(t, ncap, cap);
		if (nt == NULL)
			return -1;
		free(t);
		d->dyn = t = nt;
		pos = dyn_place(t, len);
		if (pos < 0)
			return -1; /* never: cap >= live + len, laid out */
	}
	e = &t->ents[t->head & (t->ncap - 1)];
	t->head++;
	t->n++;
	e->off = (uint32_t)pos;
	e->nlen = nlen;
	e->vlen = vlen;
	e->ok = (uint32_t)ok;
	memcpy(t->data + pos, name, nlen);
	memcpy(t->data + pos + nlen, value, vlen);
	t->wr = (uint32_t)pos + len;
	t->live += len;
	d->size += esize;
	return 0;
}

void
sl_hpack_dec_init(struct sl_hpack_dec *d, uint32_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = d->limit = max;
}

void
sl_hpack_dec_set_max(struct sl_hpack_dec *d, uint32_t max)
{
	d->max = max;
	if (d->limit > max)
		d->must_update = 1;
}

void
sl_hpack_dec_free(struct sl_hpack_dec *d)
{
	dyn_free(d);
}

size_t
sl_hpack_dec_mem(const struct sl_hpack_dec *d)
{
	const struct sl_hpack_dyn *t = d->dyn;

	if (t == NULL)
		return 0;
	return sizeof(*t) + (size_t)t->ncap * sizeof(struct dyn_ent) + t->cap;
}

/* ---- decoding ------------------------------------------------------------*/

/* Token characters (RFC 9110 section 5.6.2) less the upper-case letters:
 * what a field name may hold in HTTP/2 (RFC 9113 section 8.2.1, with
 * HTTP/1.1's strictness). */
static const uint8_t name_ok[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,
    ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
    ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* The octets a value may not hold: the controls but HTAB (RFC 9113 forbids
 * NUL, CR and LF; the others are refused too, as HTTP/1.1's parser and
 * nghttp2 do). */
static const uint8_t value_bad[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1,	     1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, [0x7f] = 1,
};

/* Whether a field may be emitted as it is: 0 yes, -1 malformed (RFC 9113
 * section 8.2.1). */
static int
field_ok(const char *n, size_t nlen, const char *v, size_t vlen)
{
	size_t i;

	if (nlen == 0) /* (and n[0] is not to be read) */
		return -1;
	i = n[0] == ':' ? 1 : 0;
	if (nlen == i)
		return -1;
	for (; i < nlen; i++)
		if (!name_ok[(unsigned char)n[i]])
			return -1;
	if (vlen > 0 && (v[0] == ' ' || v[0] == '\t' || v[vlen - 1] == ' ' ||
			 v[vlen - 1] == '\t'))
		return -1;
	for (i = 0; i < vlen; i++)
		if (value_bad[(unsigned char)v[i]])
			return -1;
	return 0;
}

int
sl_hpack_field_ok(const char *n, size_t nlen, const char *v, size_t vlen)
{
	return field_ok(n, nlen, v, vlen);
}

/* One field's name or value, as decoded: where its bytes are. */
struct str {
	const char *p;
	uint32_t len;
	uint8_t too_long; /* Huffman-decoded past the scratch: p is not it */
	uint8_t ok;	  /* a table's entry already checked (field_ok) */
};

/* Reads a string literal (RFC 7541 section 5.2); a Huffman one decodes
 * into scratch at *used. Returns 0 or -1 (a compression error). */
static int
str_decode(const uint8_t **p, const uint8_t *end, char *scratch,
	   size_t scratch_len, size_t *used, struct str *s)
{
	int huff;
	uint32_t len;
	long n;

	if (*p >= end)
		return -1;
	huff = **p & 0x80;
	if (int_decode(p, end, 7, &len) != 0 || len > (size_t)(end - *p))
		return -1;
	s->too_long = 0;
	if (!huff) {
		s->p = (const char *)*p;
		s->len = len;
		*p += len;
		return 0;
	}
	n = huff_decode(scratch + *used, scratch_len - *used, *p, len);
	if (n < 0)
		return -1;
	*p += len;
	s->p = scratch + *used;
	s->len = (uint32_t)n;
	if ((size_t)n > scratch_len - *used)
		s->too_long = 1;
	else
		*used += (size_t)n;
	return 0;
}

/* Entry idx (1-based, static then dynamic) into *s. Returns 0 or -1 (no
 * such entry: a compression error). */
static inline int
entry(const struct sl_hpack_dec *d, uint32_t idx, struct str *name,
      struct str *value)
{
	const struct dyn_ent *e;

	name->too_long = value->too_long = 0;
	if (idx == 0)
		return -1;
	if (idx <= SL_HPACK_NSTATIC) {
		value->ok = 1; /* every static entry is a good field */
		name->p = sl_hpack_static[idx].name;
		name->len = sl_hpack_static[idx].nlen;
		value->p = sl_hpack_static[idx].value;
		value->len = sl_hpack_static[idx].vlen;
		return 0;
	}
	idx -= SL_HPACK_NSTATIC + 1;
	if (d->dyn == NULL || idx >= d->dyn->n)
		return -1;
	e = dyn_at(d->dyn, idx);
	value->ok = (uint8_t)e->ok;
	name->p = d->dyn->data + e->off;
	name->len = e->nlen;
	value->p = name->p + e->nlen;
	value->len = e->vlen;
	return 0;
}

int
sl_hpack_decode(struct sl_hpack_dec *d, const uint8_t *in, size_t len,
		char *scratch, size_t scratch_len, sl_hpack_emit_fn emit,
		void *arg)
{
	const uint8_t *p = in, *end = in + len;
	int rc = SL_HPACK_OK, fields = 0, regular = 0;

	if (scratch_len < d->max || scratch_len < SL_HPACK_SCRATCH_MIN)
		return SL_HPACK_COMPRESSION; /* the caller's mistake */

	while (p < end) {
		struct str name, value;
		uint32_t idx;
		unsigned flags = 0;
		size_t used = 0;
		int index = 0;
		uint8_t b = *p;

		if ((b & 0xe0) == 0x20) {
			/* a table size update: only before the first field
			 * (RFC 7541 section 4.2), within what sluice allows */
			if (fields > 0 || int_decode(&p, end, 5, &idx) != 0 ||
			    idx > d->max)
				return SL_HPACK_COMPRESSION;
			d->limit = idx;
			d->must_update = 0;
			dyn_evict(d, idx);
			continue;
		}
		if (d->must_update)
			return SL_HPACK_COMPRESSION;
		fields++;
		value.ok = 0;
		if (b & 0x80) { /* indexed */
			/* an index under 127 is the byte itself: a request
			 * repeated on a connection is mostly these, and the
			 * call to int_decode cost 20 instructions a field */
			if ((b & 0x7f) != 0x7f) {
				idx = b & 0x7f;
				p++;
			} else if (int_decode(&p, end, 7, &idx) != 0)
				return SL_HPACK_COMPRESSION;
			if (entry(d, idx, &name, &value) != 0)
				return SL_HPACK_COMPRESSION;
		} else {
			int bits = (b & 0x40) ? 6 : 4;

			index = (b & 0x40) != 0;
			if (!index && (b & 0x10))
				flags |= SL_HPACK_F_NEVER;
			if (int_decode(&p, end, bits, &idx) != 0)
				return SL_HPACK_COMPRESSION;
			if (idx != 0) {
				if (entry(d, idx, &name, &value) != 0)
					return SL_HPACK_COMPRESSION;
				value.ok = 0; /* the value is the literal's */
				if (index && idx > SL_HPACK_NSTATIC) {
					/* the insertion may evict or move the
					 * entry the name is read from (RFC 7541
					 * section 4.4): the name goes to
					 * scratch first (it fits: an entry is
					 * smaller than the table, the table
					 * than the scratch) */
					memcpy(scratch, name.p, name.len);
					name.p = scratch;
					used = name.len;
				}
			} else if (str_decode(&p, end, scratch, scratch_len,
					      &used, &name) != 0) {
				return SL_HPACK_COMPRESSION;
			}
			if (str_decode(&p, end, scratch, scratch_len, &used,
				       &value) != 0)
				return SL_HPACK_COMPRESSION;
			if (name.too_long || value.too_long) {
				/* longer than the scratch, so than the table
				 * (scratch_len >= max): it empties the table
				 * (section 4.4), and the request is refused */
				if (index)
					dyn_evict(d, 0);
				if (rc == SL_HPACK_OK)
					rc = SL_HPACK_REFUSED;
				continue;
			}
			value.ok =
			    field_ok(name.p, name.len, value.p, value.len) == 0;
			if (index && dyn_insert(d, name.p, name.len, value.p,
						value.len, value.ok) != 0)
				return SL_HPACK_COMPRESSION;
		}
		if (rc != SL_HPACK_OK)
			continue; /* only the table is kept in step now */
		if (!value.ok) {
			rc = SL_HPACK_MALFORMED;
			continue;
		}
		if (name.p[0] == ':') {
			if (regular) { /* a pseudo-field after a field */
				rc = SL_HPACK_MALFORMED;
				continue;
			}
			flags |= SL_HPACK_F_PSEUDO;
		} else {
			regular = 1;
		}
		if (emit(arg, name.p, name.len, value.p, value.len, flags) != 0)
			rc = SL_HPACK_REFUSED;
	}
	if (d->must_update)
		return SL_HPACK_COMPRESSION; /* an empty block without it */
	return rc;
}

/* ---- encoding ------------------------------------------------------------*/

/*
 * s Huffman-coded at out, if that takes fewer than limit bytes. Returns
 * the bytes, or 0 when it would take limit or more. One pass, 32 bits
 * written at a time. Inlined into str_encode_prefix's copies: once QPACK
 * shared it, gcc made it a call, and HPACK's encoder took 2 to 5% more
 * instructions a block (contrib/bench/hpack.sh).
 */
static inline size_t __attribute__((always_inline))
huff_encode_under(uint8_t *out, size_t limit, const char *s, size_t len)
{
	uint8_t *o = out, *end = out + limit;
	uint64_t acc = 0;
	unsigned nbits = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		acc = (acc << sl_hpack_huff_bits[c]) | sl_hpack_huff_code[c];
		nbits += sl_hpack_huff_bits[c];
		if (nbits >= 32) {
			uint32_t w = (uint32_t)(acc >> (nbits - 32));

			if (end - o <= 4)
				return 0;
			o[0] = (uint8_t)(w >> 24);
			o[1] = (uint8_t)(w >> 16);
			o[2] = (uint8_t)(w >> 8);
			o[3] = (uint8_t)w;
			o += 4;
			nbits -= 32;
		}
	}
	while (nbits >= 8) {
		if (o >= end)
			return 0;
		nbits -= 8;
		*o++ = (uint8_t)(acc >> nbits);
	}
	if (nbits > 0) { /* the padding: the first bits of EOS, all ones */
		if (o >= end)
			return 0;
		*o++ = (uint8_t)((acc << (8 - nbits)) | (0xffu >> nbits));
	}
	return o < end ? (size_t)(o - out) : 0;
}

/* A string literal, Huffman-coded when that is shorter, its length in a
 * prefix of `bits` bits under the high bits `first` and the H bit just
 * above the prefix (7 in HPACK; QPACK writes names with 3). Returns the
 * bytes written, or 0 when room is short. Inlined into each caller, so
 * that HPACK's own keeps its constant prefix. */
static inline size_t __attribute__((always_inline))
str_encode_prefix(uint8_t *out, size_t room, uint8_t first, int bits,
		  const char *s, size_t len, int raw)
{
	size_t n, hlen, m;

	if (len > UINT32_MAX)
		return 0;
	/* the length's prefix as for the raw string, the Huffman text after
	 * it: a shorter text never needs a longer prefix */
	n = int_encode(out, room, first, bits, (uint32_t)len);
	if (n == 0)
		return 0;
	if (len > 0 && !raw &&
	    (hlen = huff_encode_under(out + n, room - n < len ? room - n : len,
				      s, len)) != 0) {
		m = int_encode(out, n, (uint8_t)(first | (1u << bits)), bits,
			       (uint32_t)hlen);
		if (m < n) /* the prefix shrank (rare: 127 and up) */
			memmove(out + m, out + n, hlen);
		return m + hlen;
	}
	if (room - n < len)
		return 0;
	memcpy(out + n, s, len);
	return n + len;
}

static size_t
str_encode(uint8_t *out, size_t room, const char *s, size_t len, int raw)
{
	return str_encode_prefix(out, room, 0x00, 7, s, len, raw);
}

size_t
sl_hpack_str_encode(uint8_t *out, size_t room, uint8_t first, int bits,
		    const char *s, size_t len, int raw)
{
	return str_encode_prefix(out, room, first, bits, s, len, raw);
}

size_t
sl_hpack_int_encode(uint8_t *out, size_t room, uint8_t first, int bits,
		    uint32_t v)
{
	return int_encode(out, room, first, bits, v);
}

/* The static index of name, or 0; *vidx: the index of name with value,
 * or 0. */
static uint32_t
static_find(const char *name, size_t nlen, const char *value, size_t vlen,
	    uint32_t *vidx)
{
	*vidx = 0;
	if (nlen == 0 || nlen > SL_HPACK_NAME_MAX)
		return 0;
	for (const uint8_t *i = sl_hpack_by_len[nlen]; *i != 0; i++) {
		const struct sl_hpack_entry *e = &sl_hpack_static[*i];

		if (memcmp(e->name, name, nlen) != 0)
			continue;
		/* the entries of one name stand together */
		for (uint32_t j = *i;
		     j <= SL_HPACK_NSTATIC && sl_hpack_static[j].nlen == nlen &&
		     memcmp(sl_hpack_static[j].name, name, nlen) == 0;
		     j++) {
			if (sl_hpack_static[j].vlen == vlen &&
			    memcmp(sl_hpack_static[j].value, value, vlen) ==
				0) {
				*vidx = j;
				break;
			}
		}
		return *i;
	}
	return 0;
}

size_t
sl_hpack_enc_field(uint8_t *out, size_t room, const char *name, size_t nlen,
		   const char *value, size_t vlen, unsigned flags)
{
	uint32_t idx, vidx;
	size_t n, m;

	idx = static_find(name, nlen, value, vlen, &vidx);
	if (vidx != 0 && !(flags & SL_HPACK_F_NEVER))
		return int_encode(out, room, 0x80, 7, vidx);
	n = int_encode(out, room, (flags & SL_HPACK_F_NEVER) ? 0x10 : 0x00, 4,
		       idx);
	if (n == 0)
		return 0;
	if (idx == 0) {
		m = str_encode(out + n, room - n, name, nlen,
			       flags & SL_HPACK_F_RAW);
		if (m == 0)
			return 0;
		n += m;
	}
	m = str_encode(out + n, room - n, value, vlen, flags & SL_HPACK_F_RAW);
	return m == 0 ? 0 : n + m;
}

size_t
sl_hpack_enc_pseudo(uint8_t *out, size_t room, enum sl_hpack_pseudo name,
		    const char *value, size_t vlen, unsigned flags)
{
	uint32_t vidx = 0;
	size_t n, m;

	/* the static table's entries for the four names (RFC 7541 appendix
	 * A), compared with constants: no call */
	switch (name) {
	case SL_HPACK_AUTHORITY:
		vidx = vlen == 0 ? 1 : 0;
		break;
	case SL_HPACK_METHOD:
		if (vlen == 3 && memcmp(value, "GET", 3) == 0)
			vidx = 2;
		else if (vlen == 4 && memcmp(value, "POST", 4) == 0)
			vidx = 3;
		break;
	case SL_HPACK_PATH:
		if (vlen == 1 && value[0] == '/')
			vidx = 4;
		else if (vlen == 11 && memcmp(value, "/index.html", 11) == 0)
			vidx = 5;
		break;
	case SL_HPACK_SCHEME:
		if (vlen == 4 && memcmp(value, "http", 4) == 0)
			vidx = 6;
		else if (vlen == 5 && memcmp(value, "https", 5) == 0)
			vidx = 7;
		break;
	default:
		return 0;
	}
	if (vidx != 0 && !(flags & SL_HPACK_F_NEVER))
		return int_encode(out, room, 0x80, 7, vidx);
	n = int_encode(out, room, (flags & SL_HPACK_F_NEVER) ? 0x10 : 0x00, 4,
		       (uint32_t)name);
	if (n == 0)
		return 0;
	m = str_encode(out + n, room - n, value, vlen, flags & SL_HPACK_F_RAW);
	return m == 0 ? 0 : n + m;
}

void
sl_hpack_lower(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
	}
}

/* The memo's set for a name, the same for every case of it. */
static inline unsigned
memo_slot(const char *name, size_t nlen)
{
	unsigned a = (unsigned char)name[0] | 0x20,
		 b = (unsigned char)name[nlen - 1] | 0x20,
		 c = (unsigned char)name[nlen / 2] | 0x20;

	return (unsigned)(nlen * 7 + a + b * 3 + c * 5) % SL_HPACK_MEMO_N;
}

/* The memo's kept bytes fit their arrays, and the hit's whole copies fit
 * SL_HPACK_MEMO_ROOM: the name's part at 0, the value's after it. */
#define MEMO_ENT(f) (((struct sl_hpack_memo_ent *)0)->f)
_Static_assert(offsetof(struct sl_hpack_memo_ent, raw) ==
		   offsetof(struct sl_hpack_memo_ent, nlen) + 1,
	       "memo_is reads nlen and raw at once");
_Static_assert(sizeof(MEMO_ENT(enc)) >= 2 + SL_HPACK_MEMO_NAME &&
		   sizeof(MEMO_ENT(venc)) >= 1 + SL_HPACK_MEMO_VALUE &&
		   sizeof(MEMO_ENT(enc)) <= SL_HPACK_MEMO_ROOM &&
		   2 + SL_HPACK_MEMO_NAME + sizeof(MEMO_ENT(venc)) <=
		       SL_HPACK_MEMO_ROOM,
	       "the memo's arrays and SL_HPACK_MEMO_ROOM");

/* Fills e for name (nlen <= SL_HPACK_MEMO_NAME). */
static void
memo_fill(struct sl_hpack_memo_ent *e, const char *name, size_t nlen,
	  unsigned raw)
{
	char l[SL_HPACK_MEMO_NAME];
	uint32_t idx, vidx;

	sl_hpack_lower(l, name, nlen);
	memcpy(e->name, name, nlen);
	e->nlen = (uint8_t)nlen;
	e->raw = (uint8_t)(raw != 0);
	/* no value matches one of SIZE_MAX bytes: the name's index alone */
	idx = static_find(l, nlen, NULL, SIZE_MAX, &vidx);
	e->sidx = (uint8_t)idx;
	e->vscan = 0;
	for (uint32_t j = idx; idx != 0 && j <= SL_HPACK_NSTATIC &&
			       sl_hpack_static[j].nlen == nlen &&
			       memcmp(sl_hpack_static[j].name, l, nlen) == 0;
	     j++)
		if (sl_hpack_static[j].vlen > 0)
			e->vscan = 1;
	if (e->vscan) {
		memcpy(e->enc, l, nlen);
		e->elen = (uint8_t)nlen;
	} else if (idx == 0) {
		e->enc[0] = 0x00;
		e->elen =
		    (uint8_t)(1 + str_encode(e->enc + 1, sizeof(e->enc) - 1, l,
					     nlen, (int)raw));
	} else {
		e->elen =
		    (uint8_t)int_encode(e->enc, sizeof(e->enc), 0x00, 4, idx);
	}
	e->vlen = e->velen = e->vhit = e->vskip = 0;
}

/* 8 and 4 bytes at p, as they lie. */
static inline uint64_t
ld64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t
ld32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Whether n bytes (1 to 32) at a and b are the same: words compared,
 * the last one overlapping the one before, without a call or a loop
 * (libc's memcmp was two calls a field, about 18 instructions each). */
static inline int
memo_eq(const char *a, const char *b, size_t n)
{
	uint64_t d;

	if (n >= 8) {
		d = (ld64(a) ^ ld64(b)) | (ld64(a + n - 8) ^ ld64(b + n - 8));
		if (n > 16) {
			d |= ld64(a + 8) ^ ld64(b + 8);
			if (n > 24)
				d |= ld64(a + 16) ^ ld64(b + 16);
		}
		return d == 0;
	}
	if (n >= 4)
		return ((ld32(a) ^ ld32(b)) |
			(ld32(a + n - 4) ^ ld32(b + n - 4))) == 0;
	return a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1];
}

/* Whether e is name's entry, as written, for raw: its nlen and raw, side
 * by side, compared at once, then the name. */
static inline int
memo_is(const struct sl_hpack_memo_ent *e, const char *name, size_t nlen,
	unsigned raw)
{
	const uint8_t want[2] = {(uint8_t)nlen, (uint8_t)raw};
	uint16_t a, b;

	memcpy(&a,
	       (const uint8_t *)e + offsetof(struct sl_hpack_memo_ent, nlen),
	       2);
	memcpy(&b, want, 2);
	return a == b && memo_eq(e->name, name, nlen);
}

/* Whether e keeps value's literal (e->vlen is SL_HPACK_MEMO_VALUE at the
 * most). */
static inline int
memo_has(const struct sl_hpack_memo_ent *e, const char *value, size_t vlen)
{
	return e->vlen == vlen && vlen != 0 && memo_eq(e->value, value, vlen);
}

/* The value's literal after the n bytes of the name's at out, when the
 * memo does not hold it: encoded, and kept when short (or now and then
 * when long). */
static size_t __attribute__((noinline))
memo_value(struct sl_hpack_memo_ent *e, uint8_t *out, size_t room, size_t n,
	   const char *value, size_t vlen, unsigned flags)
{
	size_t k =
	    str_encode(out + n, room - n, value, vlen, flags & SL_HPACK_F_RAW);

	if (k == 0)
		return 0;
	if (vlen == 0 || vlen > SL_HPACK_MEMO_VALUE)
		return n + k;
	/* a long value replaces a long one that never repeated only now and
	 * then (a request id never does; a Date does, for a second) */
	if (vlen > SL_HPACK_MEMO_SHORT && e->vlen > SL_HPACK_MEMO_SHORT &&
	    !e->vhit && (++e->vskip & 15) != 0)
		return n + k;
	/* at most 1 + SL_HPACK_MEMO_VALUE bytes: kept */
	memcpy(e->value, value, vlen);
	e->vlen = (uint8_t)vlen;
	memcpy(e->venc, out + n, k);
	e->velen = (uint8_t)k;
	e->vhit = 0;
	return n + k;
}

/* The field through e, the name's entry, where the hit's path does not
 * go: a value the static table may hold (an empty one matches a name
 * whose entry has none: the whole search), or room under
 * SL_HPACK_MEMO_ROOM (copies of the bytes kept, no more). */
static size_t __attribute__((noinline))
memo_enc(struct sl_hpack_memo_ent *e, uint8_t *out, size_t room, size_t nlen,
	 const char *value, size_t vlen, unsigned flags)
{
	size_t n = e->elen;

	if (e->vscan || (vlen == 0 && e->sidx != 0))
		return sl_hpack_enc_field(out, room,
					  e->vscan
					      ? (const char *)e->enc
					      : sl_hpack_static[e->sidx].name,
					  nlen, value, vlen, flags);
	if (room < n)
		return 0;
	memcpy(out, e->enc, n);
	if (flags & SL_HPACK_F_NEVER)
		out[0] |= 0x10;
	if (memo_has(e, value, vlen)) {
		if (room - n < e->velen)
			return 0;
		memcpy(out + n, e->venc, e->velen);
		e->vhit = 1;
		return n + e->velen;
	}
	return memo_value(e, out, room, n, value, vlen, flags);
}

/* A name the memo does not hold: it takes the place of the way of its
 * set used less recently. */
static size_t __attribute__((noinline))
memo_miss(struct sl_hpack_memo *m, uint8_t *out, size_t room, const char *name,
	  size_t nlen, const char *value, size_t vlen, unsigned flags)
{
	unsigned k = memo_slot(name, nlen);
	struct sl_hpack_memo_ent *e = &m->e[k * 2 + m->victim[k]];

	m->victim[k] ^= 1;
	memo_fill(e, name, nlen, flags & SL_HPACK_F_RAW);
	return memo_enc(e, out, room, nlen, value, vlen, flags);
}

/*
 * The hit's path, a name and a value kept, makes no call and keeps no
 * frame: the rest is in the functions above, called last. The name's
 * part and the value's literal are copied whole (32 and 40 bytes, a few
 * moves), which room of SL_HPACK_MEMO_ROOM allows.
 */
size_t
sl_hpack_enc_field_memo(struct sl_hpack_memo *m, uint8_t *out, size_t room,
			const char *name, size_t nlen, const char *value,
			size_t vlen, unsigned flags)
{
	struct sl_hpack_memo_ent *e;
	unsigned raw = (flags & SL_HPACK_F_RAW) != 0, k;
	size_t n;

	if (nlen - 1 >= SL_HPACK_MEMO_NAME) /* 0 too */
		return 0;
	k = memo_slot(name, nlen);
	e = &m->e[k * 2];
	if (memo_is(e, name, nlen, raw)) {
		m->victim[k] = 1;
	} else if (memo_is(e + 1, name, nlen, raw)) {
		e++;
		m->victim[k] = 0;
	} else {
		return memo_miss(m, out, room, name, nlen, value, vlen, flags);
	}
	if (e->vscan || (vlen == 0 && e->sidx != 0) ||
	    room < SL_HPACK_MEMO_ROOM)
		return memo_enc(e, out, room, nlen, value, vlen, flags);
	/* elen <= 2 + SL_HPACK_MEMO_NAME, velen <= 1 + SL_HPACK_MEMO_VALUE:
	 * both whole within SL_HPACK_MEMO_ROOM */
	memcpy(out, e->enc, sizeof(e->enc));
	if (flags & SL_HPACK_F_NEVER) /* the 4-bit prefix's flag */
		out[0] |= 0x10;
	n = e->elen;
	if (memo_has(e, value, vlen)) {
		memcpy(out + n, e->venc, sizeof(e->venc));
		e->vhit = 1;
		return n + e->velen;
	}
	return memo_value(e, out, room, n, value, vlen, flags);
}

size_t
sl_hpack_enc_status(uint8_t *out, int status)
{
	char digits[3];

	digits[0] = (char)('0' + status / 100 % 10);
	digits[1] = (char)('0' + status / 10 % 10);
	digits[2] = (char)('0' + status % 10);
	if (status == 200) /* the commonest, pre-encoded */
		return out[0] = 0x88, 1;
	return sl_hpack_enc_field(out, 5, ":status", 7, digits, 3, 0);
}

size_t
sl_hpack_enc_size_update(uint8_t *out, uint32_t size)
{
	return int_encode(out, 6, 0x20, 5, size);
}
