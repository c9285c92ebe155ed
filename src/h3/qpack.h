/* SPDX-License-Identifier: MIT */
/*
 * QPACK (RFC 9204), sluice's own, with a dynamic table of capacity 0 (as
 * HAProxy runs it): sluice announces SETTINGS_QPACK_MAX_TABLE_CAPACITY 0
 * and SETTINGS_QPACK_BLOCKED_STREAMS 0, and never inserts into the peer's
 * table. So a field section holds only static references and literals,
 * no stream is ever blocked, and the two QPACK streams carry almost
 * nothing: what the peer may send on them is checked here.
 *
 * The decoder gives each field to the caller as HPACK's does (an
 * sl_hpack_emit_fn with the same flags and the same checks of RFC 9113
 * section 8.2.1, which RFC 9114 section 4.2 repeats), so that the HTTP/3
 * codec builds its head block with HTTP/2's emit. Huffman coding is
 * HPACK's (src/h2/hpack.h). No I/O, no allocation.
 */
#ifndef SL_QPACK_H
#define SL_QPACK_H

#include <stddef.h>
#include <stdint.h>

#include "hpack.h"

/* What a field section's decoding ended in: the values of enum
 * sl_hpack_rc, so that a caller treats both alike. */
enum sl_qpack_rc {
	SL_QPACK_OK = SL_HPACK_OK,
	/* a field broke RFC 9114 section 4.2 (an upper-case name, a CR, LF
	 * or NUL in a value, a pseudo-field after a field): the message is
	 * malformed, a stream error (H3_MESSAGE_ERROR) */
	SL_QPACK_MALFORMED = SL_HPACK_MALFORMED,
	/* emit refused a field, a field was longer than the scratch, or the
	 * section passed max_size: no field was emitted after it (the
	 * caller answers 431 or resets the stream) */
	SL_QPACK_REFUSED = SL_HPACK_REFUSED,
	/* the section cannot be decoded (a Required Insert Count other
	 * than 0, a reference to the dynamic table, a bad index, a bad
	 * Huffman string, an integer that overflows, a truncated line): a
	 * connection error, QPACK_DECOMPRESSION_FAILED (RFC 9204 section
	 * 2.2.3) */
	SL_QPACK_FAILED = SL_HPACK_COMPRESSION
};

/* Bytes of scratch the decoder needs: Huffman strings decode into it, a
 * field's name and value together; a longer field is refused
 * (SL_QPACK_REFUSED). */
#define SL_QPACK_SCRATCH_MIN 4096

/* A field's size as SETTINGS_MAX_FIELD_SECTION_SIZE counts it (RFC 9114
 * section 4.2.2). */
#define SL_QPACK_FIELD_SIZE(nlen, vlen) ((uint64_t)(nlen) + (vlen) + 32)

/*
 * Decodes one whole field section (a HEADERS frame's payload), calling
 * emit for each field in order. Huffman strings decode into scratch
 * (scratch_len bytes, at least SL_QPACK_SCRATCH_MIN). Checks each field
 * as sl_hpack_decode does, and the section's size against max_size (the
 * SETTINGS_MAX_FIELD_SECTION_SIZE sluice announced; SIZE_MAX for none).
 * After MALFORMED or REFUSED the rest of the section is still decoded,
 * so that one that cannot be is still a connection error. Returns an
 * enum sl_qpack_rc.
 */
int sl_qpack_decode(const uint8_t *in, size_t len, size_t max_size,
		    char *scratch, size_t scratch_len, sl_hpack_emit_fn emit,
		    void *arg);

/* ---- the encoder ---------------------------------------------------------*/

/* The field section prefix: Required Insert Count 0, Delta Base 0. */
#define SL_QPACK_PREFIX_LEN 2

/* Writes the prefix (SL_QPACK_PREFIX_LEN bytes). Returns the bytes
 * written, or 0 when room is too small. */
size_t sl_qpack_enc_prefix(uint8_t *out, size_t room);

/*
 * Writes one field line, at most room bytes at out: an indexed static
 * field line when the static table holds the name and the value, else a
 * literal with a static name reference when it holds the name, else a
 * literal with a literal name; each string Huffman-coded when that is
 * shorter (never with SL_HPACK_F_RAW). With SL_HPACK_F_NEVER, where
 * HPACK's encoder writes a never-indexed literal, a literal with the N
 * bit, never an indexed line. The name must be lower case. Returns the
 * bytes written, or 0 when room is too small.
 */
size_t sl_qpack_enc_field(uint8_t *out, size_t room, const char *name,
			  size_t nlen, const char *value, size_t vlen,
			  unsigned flags);

/* ":status" for a status of 100..999, at most 6 bytes. Returns the bytes
 * written, or 0 when room is too small. */
size_t sl_qpack_enc_status(uint8_t *out, size_t room, int status);

/* The most bytes sl_qpack_enc_field may write for a field of these
 * lengths (for a caller that sizes its buffer first). */
#define SL_QPACK_ENC_MAX(nlen, vlen) (12 + (nlen) + (vlen))

/* ---- the peer's QPACK streams (RFC 9204 section 4.2) ---------------------*/

/*
 * The peer's encoder stream, after its type: with the capacity 0 sluice
 * announced, only Set Dynamic Table Capacity 0 is allowed; an insertion,
 * a duplicate or a capacity above 0 is QPACK_ENCODER_STREAM_ERROR (RFC
 * 9204 section 4.3.1). That instruction is one byte, so no state is kept
 * between pieces. Returns 0, or -1 for the error.
 */
int sl_qpack_estream_feed(const uint8_t *in, size_t len);

/* The peer's decoder stream, read in pieces: zero it before the first. */
struct sl_qpack_dstream {
	uint64_t acc;	/* a Stream Cancellation's stream id, so far */
	uint8_t shift;	/* where its next continuation byte's bits go */
	uint8_t in_id;	/* inside that integer's continuation bytes */
	uint8_t failed; /* an error was found: every piece fails */
};

/*
 * Checks the next piece of the peer's decoder stream: Stream
 * Cancellation is allowed (a stream reset before its section was read);
 * a Section Acknowledgment is an error, since sluice's sections never
 * have a Required Insert Count above 0, and so is an Insert Count
 * Increment, since sluice never inserts (RFC 9204 section 4.4). Returns
 * 0, or -1 for QPACK_DECODER_STREAM_ERROR (and -1 ever after).
 */
int sl_qpack_dstream_feed(struct sl_qpack_dstream *s, const uint8_t *in,
			  size_t len);

#endif
