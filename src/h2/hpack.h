/* SPDX-License-Identifier: MIT */
/*
 * HPACK (RFC 7541), sluice's own: a decoder with its dynamic table, and an
 * encoder that keeps no table (doc/design-notes.md, "HPACK of sluice's
 * own"). The decoder checks every field as it comes (RFC 9113 section
 * 8.2.1) and hands it to the caller without a copy where the block
 * allows; its table is allocated on the first insertion, grows with what
 * is used, and is freed when it empties. No I/O; the decoder's table is
 * its only allocation.
 */
#ifndef SL_HPACK_H
#define SL_HPACK_H

#include <stddef.h>
#include <stdint.h>

/* What a block's decoding ended in. */
enum sl_hpack_rc {
	SL_HPACK_OK = 0,
	/* a field broke RFC 9113 section 8.2.1 (an upper-case name, a CR, LF
	 * or NUL in a value, ...): the request is malformed, a stream error;
	 * the table was kept in step, so the connection goes on */
	SL_HPACK_MALFORMED = 1,
	/* the caller's emit refused a field (a header list too large, ...):
	 * the table was kept in step; no field was emitted after it */
	SL_HPACK_REFUSED = 2,
	/* the block cannot be decoded (a bad index, a bad Huffman string, an
	 * integer that overflows, a table size over the limit): a connection
	 * error, COMPRESSION_ERROR (RFC 9113 section 4.3) */
	SL_HPACK_COMPRESSION = -1
};

/* A field's facts, as emit is given them. */
#define SL_HPACK_F_PSEUDO 0x01 /* its name starts with ':' */
#define SL_HPACK_F_NEVER                                                       \
	0x02 /* sent as never indexed (RFC 7541 section                        \
		7.1.3): forward it the same way */
#define SL_HPACK_F_RAW                                                         \
	0x04 /* encoder: strings as they are, no Huffman                       \
		coding (to upstreams: the bytes matter less                    \
		than the CPU, as HAProxy's encoder does) */

/* Called for each field of a block, in order; name and value are valid
 * until it returns (they point into the block, the static or dynamic
 * table, or the decoder's scratch). Returns 0, or non-zero to refuse it
 * (the decoder then emits nothing more but decodes to the block's end). */
typedef int (*sl_hpack_emit_fn)(void *arg, const char *name, size_t nlen,
				const char *value, size_t vlen, unsigned flags);

struct sl_hpack_dyn; /* the dynamic table, private to hpack.c */

/* A decoder: one per connection and direction. Zero it, then
 * sl_hpack_dec_init; sl_hpack_dec_free at the end. */
struct sl_hpack_dec {
	struct sl_hpack_dyn *dyn; /* NULL while the table is empty */
	uint32_t max;		  /* the most the peer may set (what sluice
				     announced as SETTINGS_HEADER_TABLE_SIZE) */
	uint32_t limit;		  /* the table's size now (RFC 7541 4.2) */
	uint32_t size;		  /* the entries' size (RFC 7541 4.1) */
	uint8_t must_update;	  /* a size update must open the next block */
};

/* Bytes of scratch the decoder needs for one field whose Huffman strings
 * decode into it: a field longer than what the caller gave is refused
 * (SL_HPACK_REFUSED), as one over the header list limit would be. */
#define SL_HPACK_SCRATCH_MIN 4096

void sl_hpack_dec_init(struct sl_hpack_dec *d, uint32_t max);

/* Sluice lowers (or raises, up to what it first announced) the table size
 * it allows, once the peer acknowledged the SETTINGS that said so: the
 * next block must then start with a size update within it. */
void sl_hpack_dec_set_max(struct sl_hpack_dec *d, uint32_t max);

/*
 * Decodes one whole header block (the HEADERS frame's fragment and its
 * CONTINUATIONs, joined), calling emit for each field. Huffman strings
 * decode into scratch (reused field by field, scratch_len bytes, at least
 * SL_HPACK_SCRATCH_MIN and the table's max). Checks each field: a name of
 * lower-case token characters (':' first for a pseudo-field), a value of
 * no control character but HTAB (so no NUL, CR or LF) and no white space
 * at either end, pseudo-fields before the others (RFC 9113 8.2.1 and
 * 8.3; which pseudo-fields a head needs is the head's to check).
 * Returns an enum sl_hpack_rc. After SL_HPACK_COMPRESSION the decoder is
 * of no further use: the connection ends.
 */
int sl_hpack_decode(struct sl_hpack_dec *d, const uint8_t *in, size_t len,
		    char *scratch, size_t scratch_len, sl_hpack_emit_fn emit,
		    void *arg);

/* Frees the table. The decoder may be initialised again. */
void sl_hpack_dec_free(struct sl_hpack_dec *d);

/* Bytes the table holds now (for the memory a connection costs). */
size_t sl_hpack_dec_mem(const struct sl_hpack_dec *d);

/* ---- the encoder: no table -----------------------------------------------*/

/*
 * Writes one field, at most room bytes at out: an indexed field when the
 * static table holds the name and the value (":status: 200"), else a
 * literal without indexing (never indexed when flags has
 * SL_HPACK_F_NEVER), its name indexed when the static table holds it,
 * each string Huffman-coded when that is shorter (never with
 * SL_HPACK_F_RAW). The name must be lower
 * case (RFC 9113 section 8.2.1). Returns the bytes written, or 0 when
 * room is too small.
 */
size_t sl_hpack_enc_field(uint8_t *out, size_t room, const char *name,
			  size_t nlen, const char *value, size_t vlen,
			  unsigned flags);

/* A request's pseudo-fields (RFC 9113 section 8.3.1): the static
 * table's index of each one's name (RFC 7541 appendix A), its first
 * entry. */
enum sl_hpack_pseudo {
	SL_HPACK_AUTHORITY = 1,
	SL_HPACK_METHOD = 2,
	SL_HPACK_PATH = 4,
	SL_HPACK_SCHEME = 6
};

/*
 * sl_hpack_enc_field of a request's pseudo-field, the same bytes without
 * the static table's search: the one byte of an indexed field for a value
 * the table holds with the name (:method GET and POST, :scheme http and
 * https, :path / and /index.html, an empty :authority), else a literal
 * with the name's index. Returns the bytes written, or 0 when room is too
 * small.
 */
size_t sl_hpack_enc_pseudo(uint8_t *out, size_t room, enum sl_hpack_pseudo name,
			   const char *value, size_t vlen, unsigned flags);

/*
 * A memo of the names an encoder writes, for one thread: a field's name as
 * it comes (in any case, as an HTTP/1.1 upstream or the exchange gives
 * it) to what sl_hpack_enc_field would make of it lower-cased, its static
 * index or its literal. Names repeat from one head to the next, and the
 * memo spares their lower-casing, the static table's search and their
 * Huffman coding; the last short value of each name is kept the same way.
 * Two-way set-associative: SL_HPACK_MEMO_N sets of two entries, about
 * 9 KiB, so that two names of one head that hash alike (content-type and
 * te, x-forwarded-for and x-request-id) do not evict each other at every
 * request; zero it before the first use.
 */
#define SL_HPACK_MEMO_N	    32
#define SL_HPACK_MEMO_NAME  24 /* longer names are not memoised */
#define SL_HPACK_MEMO_VALUE 32 /* nor longer values (a Date's 29) */
#define SL_HPACK_MEMO_SHORT 16 /* longer ones kept if they repeat */
struct sl_hpack_memo {
	struct sl_hpack_memo_ent {
		uint8_t nlen;  /* 0: empty */
		uint8_t raw;   /* enc made with SL_HPACK_F_RAW */
		uint8_t sidx;  /* the name's static index, or 0 */
		uint8_t vscan; /* the static table has values for the
				  name: enc is the name lower-cased, for
				  sl_hpack_enc_field */
		uint8_t elen;  /* bytes of enc */
		/* the last short value written with the name, and its
		 * string literal (content-type, content-length, ...) */
		uint8_t vlen, velen; /* 0: none */
		uint8_t vhit;	     /* the value kept was written again */
		uint8_t vskip;	     /* long values not kept, counted */
		char name[SL_HPACK_MEMO_NAME];
		char value[SL_HPACK_MEMO_VALUE];
		/* the field's start, as a literal without indexing writes
		 * it: the name's index (1 or 2 bytes), or a 0 and the
		 * name's literal (2 + SL_HPACK_MEMO_NAME bytes at the
		 * most); sizes rounded up to 8 bytes, copied whole */
		uint8_t enc[32];
		uint8_t venc[40]; /* 1 + SL_HPACK_MEMO_VALUE at the most */
	} e[SL_HPACK_MEMO_N * 2]; /* set k: e[2k] and e[2k + 1] */
	uint8_t victim[SL_HPACK_MEMO_N]; /* the way a miss refills: the one
					    used less recently */
};

/* Room for which sl_hpack_enc_field_memo copies what it kept without a
 * call, whole (a caller that sizes its room gives at least this). */
#define SL_HPACK_MEMO_ROOM 72

/* n bytes of src into dst, ASCII upper case lowered (RFC 9113 section
 * 8.2.1: field names go lower case); dst may be src. */
void sl_hpack_lower(char *dst, const char *src, size_t n);

/*
 * sl_hpack_enc_field of name lower-cased, the same bytes, through memo m.
 * nlen must be 1..SL_HPACK_MEMO_NAME (a caller lower-cases longer names
 * itself); 0 is returned otherwise, as when room is too small. The bytes
 * of room past those it returns may be written (scratch).
 */
size_t sl_hpack_enc_field_memo(struct sl_hpack_memo *m, uint8_t *out,
			       size_t room, const char *name, size_t nlen,
			       const char *value, size_t vlen, unsigned flags);

/* ":status" for a status of 100..999, at most 5 bytes. Returns the bytes
 * written. */
size_t sl_hpack_enc_status(uint8_t *out, int status);

/* A dynamic table size update to size (to upstreams: 0, as nginx's gRPC
 * module announces), at most 6 bytes. Returns the bytes written. */
size_t sl_hpack_enc_size_update(uint8_t *out, uint32_t size);

/* The most bytes sl_hpack_enc_field may write for a field of these
 * lengths (for a caller that sizes its buffer first). */
#define SL_HPACK_ENC_MAX(nlen, vlen) (12 + (nlen) + (vlen))

/* The bytes of s Huffman-coded (RFC 7541 section 5.2), rounded up. */
size_t sl_hpack_huff_len(const char *s, size_t len);

/* s Huffman-coded into out (sl_hpack_huff_len(s, len) bytes). */
void sl_hpack_huff_encode(uint8_t *out, const char *s, size_t len);

/* Decodes a Huffman string of len bytes into out (room bytes). Returns
 * the bytes decoded, or -1 for a bad string (EOS, padding over 7 bits or
 * not of 1 bits) or one that does not fit. */
long sl_hpack_huff_decode(char *out, size_t room, const uint8_t *in,
			  size_t len);

/* ---- for QPACK (src/h3), which shares RFC 7541's primitives ---------------*/

/* sl_hpack_huff_decode, but a string that does not fit room is still
 * decoded whole and its length returned (the bytes past room are not
 * written), so that one too long is told from a bad one (-1). */
long sl_hpack_huff_decode_all(char *out, size_t room, const uint8_t *in,
			      size_t len);

/* Whether a field may be emitted as it is (RFC 9113 section 8.2.1, which
 * RFC 9114 section 4.2 repeats): 0, or -1 when it is malformed. */
int sl_hpack_field_ok(const char *n, size_t nlen, const char *v, size_t vlen);

/* v as an integer of RFC 7541 section 5.1, in a prefix of `bits` bits
 * under the high bits `first`. Returns the bytes written (at most 6), or
 * 0 when room is short. */
size_t sl_hpack_int_encode(uint8_t *out, size_t room, uint8_t first, int bits,
			   uint32_t v);

/* A string literal: its length in a prefix of `bits` bits under `first`,
 * the H bit just above the prefix, Huffman-coded when that is shorter
 * (never with raw). Returns the bytes written, or 0 when room is short. */
size_t sl_hpack_str_encode(uint8_t *out, size_t room, uint8_t first, int bits,
			   const char *s, size_t len, int raw);

#endif
