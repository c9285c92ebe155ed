/* SPDX-License-Identifier: MIT */
/*
 * sluice's HPACK decoder (src/h2/hpack.c) against nghttp2's
 * (nghttp2_hd_inflate_hd2), block by block on one connection's state.
 *
 * An input: one byte of set-up (bit 0: sluice allows a table of 256
 * bytes, not 4096, after the first block, so that the next block must
 * open with a size update), then blocks, each a 2-byte length and its
 * bytes. For each block both decoders run; they must agree:
 * - nghttp2 refuses the block (a compression error) exactly when sluice
 *   says SL_HPACK_COMPRESSION; the run ends there;
 * - otherwise the fields nghttp2 gives are checked with nghttp2's own
 *   checks (nghttp2_check_header_name, nghttp2_check_header_value_rfc9113,
 *   pseudo-fields first, as nghttp2's session applies them): before the
 *   first field they refuse, sluice emits the same fields, with the same
 *   never-indexed flag, and then says SL_HPACK_MALFORMED (SL_HPACK_OK when
 *   none is refused; SL_HPACK_REFUSED when the list is longer than the
 *   driver keeps, as a caller refuses an HPACK bomb);
 * - after every block, the dynamic tables hold the same entries and the
 *   same size.
 * Known differences, reasoned: none needed so far. nghttp2 refuses a
 * string over 64 KiB (NGHTTP2_HD_MAX_NV), sluice one whose Huffman text
 * passes its scratch; inputs here are far below both.
 */
#include <nghttp2/nghttp2.h>
#include <string.h>

#include "fuzz.h"
#include "hpack.h"

#define MAXF 256

struct fields {
	int n;
	const uint8_t *name[MAXF], *value[MAXF];
	size_t nlen[MAXF], vlen[MAXF];
	unsigned flags[MAXF];
	/* copies: nghttp2's and sluice's pointers do not outlive a field */
	uint8_t store[1 << 17];
	size_t used;
	int over;    /* a field did not fit in store: the list stops there */
	int total;   /* fields nghttp2 gave, kept or not */
	int bad;     /* the first of them its session would refuse, or -1 */
	int regular; /* a field that is not a pseudo-field came */
};

static int
keep(struct fields *f, const uint8_t *n, size_t nlen, const uint8_t *v,
     size_t vlen, unsigned flags)
{
	if (f->over || f->n >= MAXF || f->used + nlen + vlen > sizeof(f->store))
		return f->over = 1, -1;
	memcpy(f->store + f->used, n, nlen);
	f->name[f->n] = f->store + f->used;
	f->used += nlen;
	memcpy(f->store + f->used, v, vlen);
	f->value[f->n] = f->store + f->used;
	f->used += vlen;
	f->nlen[f->n] = nlen;
	f->vlen[f->n] = vlen;
	f->flags[f->n] = flags;
	f->n++;
	return 0;
}

static int
on_field(void *arg, const char *name, size_t nlen, const char *value,
	 size_t vlen, unsigned flags)
{
	/* a list too long to keep is refused, as a caller refuses one over
	 * its header list limit (the HPACK bomb) */
	return keep(arg, (const uint8_t *)name, nlen, (const uint8_t *)value,
		    vlen, flags & SL_HPACK_F_NEVER);
}

/* nghttp2's session's checks of field i of a block (all of them, kept or
 * not): the first it refuses */
static void
ng_check(struct fields *f, const nghttp2_nv *nv)
{
	int ok = nghttp2_check_header_name(nv->name, nv->namelen) &&
		 nghttp2_check_header_value_rfc9113(nv->value, nv->valuelen);

	if (ok && nv->namelen > 0 && nv->name[0] == ':')
		ok = !f->regular;
	else
		f->regular = 1;
	if (!ok && f->bad < 0)
		f->bad = f->total;
	f->total++;
}

/* nghttp2's fields of one block; -1 when it refuses the block */
static int
ng_block(nghttp2_hd_inflater *inf, const uint8_t *in, size_t len,
	 struct fields *f)
{
	f->total = f->regular = 0;
	f->bad = -1;
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv =
		    nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, len, 1);

		if (rv < 0)
			return -1;
		in += rv;
		len -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			ng_check(f, &nv);
			(void)keep(f, nv.name, nv.namelen, nv.value,
				   nv.valuelen,
				   (nv.flags & NGHTTP2_NV_FLAG_NO_INDEX)
				       ? SL_HPACK_F_NEVER
				       : 0);
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
		if (rv == 0 && len == 0)
			break;
	}
	nghttp2_hd_inflate_end_headers(inf);
	return 0;
}

static struct fields ng, sl;
static char scratch[1 << 16];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nghttp2_hd_inflater *inf;
	struct sl_hpack_dec d;
	int small, blocks = 0;

	if (size < 1)
		return 0;
	/* what a Huffman string left in the scratch must never be read as
	 * an empty one's bytes: a colon there once made an empty name a
	 * pseudo-field's */
	memset(scratch, ':', 64);
	small = data[0] & 1;
	data++;
	size--;
	CHECK(nghttp2_hd_inflate_new(&inf) == 0);
	sl_hpack_dec_init(&d, 4096);
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1], k;
		int rc, ngrc;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		ng.n = sl.n = 0;
		ng.used = sl.used = 0;
		ng.over = sl.over = 0;
		ngrc = ng_block(inf, data, len, &ng);
		rc = sl_hpack_decode(&d, data, len, scratch, sizeof(scratch),
				     on_field, &sl);
		data += len;
		size -= len;
		if (ngrc < 0) {
			CHECK(rc == SL_HPACK_COMPRESSION);
			break;
		}
		CHECK(rc != SL_HPACK_COMPRESSION);
		/* sluice emits the fields up to the first its checks refuse
		 * (MALFORMED) or the first the driver cannot keep (REFUSED),
		 * whichever comes first */
		if (ng.bad >= 0 && ng.bad <= ng.n) {
			k = (size_t)ng.bad;
			CHECK(rc == SL_HPACK_MALFORMED);
		} else {
			k = (size_t)ng.n;
			CHECK(rc == (ng.over ? SL_HPACK_REFUSED : SL_HPACK_OK));
		}
		CHECK((size_t)sl.n == k);
		for (size_t i = 0; i < k; i++) {
			CHECK(sl.nlen[i] == ng.nlen[i] &&
			      memcmp(sl.name[i], ng.name[i], ng.nlen[i]) == 0);
			CHECK(sl.vlen[i] == ng.vlen[i] &&
			      memcmp(sl.value[i], ng.value[i], ng.vlen[i]) ==
				  0);
			CHECK(sl.flags[i] == ng.flags[i]);
		}
		/* the tables */
		CHECK(nghttp2_hd_inflate_get_dynamic_table_size(inf) == d.size);
		CHECK(nghttp2_hd_inflate_get_max_dynamic_table_size(inf) ==
		      d.limit);
		{
			size_t n =
			    nghttp2_hd_inflate_get_num_table_entries(inf);

			for (size_t i = 62; i <= n; i++) {
				const nghttp2_nv *nv =
				    nghttp2_hd_inflate_get_table_entry(inf, i);
				uint8_t one[8];
				size_t m = 0;

				/* sluice's entry i, read back through an
				 * indexed field */
				CHECK(nv != NULL);
				if (i < 127) {
					one[m++] = (uint8_t)(0x80 | i);
				} else {
					size_t v = i - 127;

					one[m++] = 0xff;
					while (v >= 0x80) {
						one[m++] =
						    (uint8_t)(0x80 |
							      (v & 0x7f));
						v >>= 7;
					}
					one[m++] = (uint8_t)v;
				}
				sl.n = 0;
				sl.used = 0;
				sl.over = 0;
				/* an indexed field changes no table */
				(void)sl_hpack_decode(&d, one, m, scratch,
						      sizeof(scratch), on_field,
						      &sl);
				CHECK(sl.n <= 1);
				if (sl.n == 1) {
					CHECK(sl.nlen[0] == nv->namelen &&
					      memcmp(sl.name[0], nv->name,
						     nv->namelen) == 0);
					CHECK(sl.vlen[0] == nv->valuelen &&
					      memcmp(sl.value[0], nv->value,
						     nv->valuelen) == 0);
				}
			}
			CHECK(sl_hpack_dec_mem(&d) == 0 || n > 61);
		}
		if (small && blocks == 0) {
			CHECK(nghttp2_hd_inflate_change_table_size(inf, 256) ==
			      0);
			sl_hpack_dec_set_max(&d, 256);
		}
		blocks++;
	}
	sl_hpack_dec_free(&d);
	nghttp2_hd_inflate_del(inf);
	return 0;
}
