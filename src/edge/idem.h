/* SPDX-License-Identifier: MIT */
/*
 * The Idempotency-Key store, the part without I/O (doc/operations.md,
 * "Idempotent payments"; draft-ietf-httpapi-idempotency-key-header):
 * the key field's syntax, a kept answer's bytes (what is stored, and what
 * is checked when it is read back), and the local store the workers of
 * one process share (a table under one lock: an entry is touched twice a
 * request, never for long). The exchange (exchange_idem.c) decides what
 * to store and answers.
 */
#ifndef SL_IDEM_H
#define SL_IDEM_H

#include <stddef.h>
#include <stdint.h>

#define SL_IDEM_KEY_MAX 255 /* bytes of a key, its quotes not counted */
#define SL_IDEM_HASH	32  /* bytes of an entry's id and fingerprint */

/*
 * The key in an Idempotency-Key value v (n bytes, OWS removed): a
 * Structured Field string ("...", RFC 8941 section 3.3.3: printable
 * ASCII, \" and \\ escaped) as the draft writes it, or, as many clients
 * send it, a bare run of visible ASCII without quotes or commas. Returns
 * 0 with the key's bytes as sent (between the quotes, escapes kept) in
 * *key and *klen, or -1: empty, longer than SL_IDEM_KEY_MAX, a control
 * byte, a bad escape, anything after the closing quote.
 */
int sl_idem_key(const char *v, size_t n, const char **key, size_t *klen);

/* ---- a kept answer ------------------------------------------------------
 *
 * "SLI1", the status (2 bytes, big-endian), the fields' length and the
 * body's (4 bytes each), the fields (lines "Name: value" ending in CRLF,
 * as an answer's writer takes them), the body.
 */
#define SL_IDEM_RESP_HEAD 14

struct sl_idem_resp {
	int status;
	const char *fields; /* CRLF-ended lines, not NUL-ended */
	size_t flen;
	const char *body;
	size_t blen;
};

/* Writes the head of a kept answer with status, flen bytes of fields and
 * blen of body into out (SL_IDEM_RESP_HEAD bytes). */
void sl_idem_resp_head(unsigned char *out, int status, uint32_t flen,
		       uint32_t blen);

/*
 * Reads a kept answer (n bytes at p) into r, its pointers into p.
 * Everything is checked, as bytes that may come back from another
 * process's store: the lengths add up, the status is final (200..599),
 * each field line is a token name, a colon and a value without a control
 * byte (HTAB aside), ending in CRLF. Returns 0, or -1.
 */
int sl_idem_resp_parse(const void *p, size_t n, struct sl_idem_resp *r);

/* ---- the local store ----------------------------------------------------
 *
 * Entries by id (a hash of the route, the caller and the key), each in
 * flight (reserved by one request, until its lease ends) or done (its
 * answer kept until its ttl ends). Bounded by the bytes the caller passes
 * (the configuration's memory): a new key takes the place of the oldest
 * done or expired entries; an entry in flight is never pushed out. Any
 * thread.
 */
enum sl_idem_look {
	SL_IDEM_RESERVED = 0, /* new: reserved for the caller (*token) */
	SL_IDEM_CONFLICT,     /* in flight: another request has it */
	SL_IDEM_MISMATCH,     /* done, with another fingerprint */
	SL_IDEM_REPLAY,	      /* done, same fingerprint: its answer */
	SL_IDEM_FULL	      /* no room for it: everything is in flight */
};

/*
 * Looks id up at now_ms (a monotonic clock in milliseconds), and
 * reserves it when it is not there, for lease_ms, against a bound of
 * memory bytes. On SL_IDEM_REPLAY, *answer is a malloc'd copy of the kept
 * answer (*alen bytes: the caller frees it); NULL with SL_IDEM_FULL when
 * out of memory.
 */
int sl_idem_local_reserve(const uint8_t id[SL_IDEM_HASH],
			  const uint8_t fp[SL_IDEM_HASH], uint64_t now_ms,
			  uint64_t lease_ms, uint64_t memory, uint64_t *token,
			  unsigned char **answer, size_t *alen);

/*
 * Keeps answer (alen bytes, copied) for the reservation token of id until
 * now_ms + ttl_ms. Returns 0; -1 when the reservation is gone (its lease
 * ended, and another request may hold the key now); -2 when there is no
 * room for it within memory (the key is released).
 */
int sl_idem_local_commit(const uint8_t id[SL_IDEM_HASH], uint64_t token,
			 const void *answer, size_t alen, uint64_t now_ms,
			 uint64_t ttl_ms, uint64_t memory);

/* Lets the reservation token of id go (no-op when it is not held). */
void sl_idem_local_release(const uint8_t id[SL_IDEM_HASH], uint64_t token);

/* The entries held, the bytes counted against memory, and the done
 * entries pushed out for room before their ttl ended (since the start:
 * a retry of one of those would go upstream again). */
void sl_idem_local_stats(uint64_t *entries, uint64_t *bytes, uint64_t *evicted);

/* Frees every entry (at exit, for the leak checks). */
void sl_idem_local_free(void);

/* ---- sealing: a kept answer at rest in a shared store ------------------
 *
 * AES-256-GCM under the configuration's key, a random 96-bit nonce per
 * answer, the entry's id as additional data (an answer moved to another
 * key does not open): nonce, ciphertext, tag.
 */
#define SL_IDEM_NONCE	      12
#define SL_IDEM_TAG	      16
#define SL_IDEM_SEAL_OVERHEAD (SL_IDEM_NONCE + SL_IDEM_TAG)

/* Seals n bytes at in into out (n + SL_IDEM_SEAL_OVERHEAD bytes).
 * Returns 0 or -1. */
int sl_idem_seal(const unsigned char key[32], const uint8_t id[SL_IDEM_HASH],
		 const void *in, size_t n, unsigned char *out);
/* Opens n sealed bytes at in into out (n - SL_IDEM_SEAL_OVERHEAD bytes):
 * their length, or -1 (too short, another key or id, altered). */
long sl_idem_open(const unsigned char key[32], const uint8_t id[SL_IDEM_HASH],
		  const unsigned char *in, size_t n, unsigned char *out);

#endif
