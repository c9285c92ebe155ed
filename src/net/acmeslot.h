/* SPDX-License-Identifier: MIT */
/*
 * What ACME (doc/tls.md, "ACME") shares with the handshakes and the
 * requests, process-wide: a slot per name that tls.acme lists, holding the
 * certificate served for it (swapped by the ACME thread, read by any
 * handshake's SNI callback without a lock), the tls-alpn-01 certificate
 * while a challenge waits, and what /metrics shows of it; and the http-01
 * answers by token. The slots outlive generations: a reload that keeps a
 * name keeps its certificate. Knows no ACME protocol (fleet/acme.c).
 */
#ifndef SL_ACMESLOT_H
#define SL_ACMESLOT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct sl_tls_cert;

/* Why the last attempt for a name ended (sluice_acme_orders_total). */
enum sl_acme_result {
	SL_ACME_R_NONE = 0, /* none yet */
	SL_ACME_R_OK,
	SL_ACME_R_FAILED,
};

struct sl_acme_slot {
	atomic_int refs; /* the generations' servers, the ACME thread */
	char *name;	 /* lowercase */
	/* served: NULL until the first certificate */
	_Atomic(struct sl_tls_cert *) cert;
	/* tls-alpn-01's certificate while its challenge waits; NULL */
	_Atomic(struct sl_tls_cert *) alpn;
	/* what /metrics and the status page show (the ACME thread
	 * writes, the admin reads) */
	_Atomic int64_t not_after;     /* the served one's, 0: none */
	_Atomic int64_t renewed_at;    /* the last certificate installed */
	_Atomic int64_t next_at;       /* the next attempt, 0: none */
	_Atomic int result;	       /* of the last attempt */
	atomic_uint_fast64_t orders;   /* certificates obtained */
	atomic_uint_fast64_t failures; /* attempts that failed */
	char error[160]; /* the last failure's words (under the lock) */
	struct sl_acme_slot *hnext; /* the registry's chain */
};

/* The slot of name (lowercase), made on first use: one more reference.
 * NULL when out of memory. */
struct sl_acme_slot *sl_acme_slot_get(const char *name);
/* The slot of name when one exists (a reference), else NULL. */
struct sl_acme_slot *sl_acme_slot_find(const char *name);
/* Drops a reference; the slot goes with the last (its certificates
 * with it). */
void sl_acme_slot_put(struct sl_acme_slot *s);

/* The certificate served for s, borrowed for the caller's callback (a
 * replaced one is kept for a grace period, sl_acme_slot_set). NULL: none
 * yet. */
static inline struct sl_tls_cert *
sl_acme_slot_cert(struct sl_acme_slot *s)
{
	return atomic_load_explicit(&s->cert, memory_order_acquire);
}
static inline struct sl_tls_cert *
sl_acme_slot_alpn(struct sl_acme_slot *s)
{
	return atomic_load_explicit(&s->alpn, memory_order_acquire);
}

/* Serves c (a reference taken over; NULL: none) for s from the next
 * handshake on; the one it replaces is freed a minute later, long after
 * any callback that read it has put it on its connection. alpn: the
 * tls-alpn-01 certificate instead. */
void sl_acme_slot_set(struct sl_acme_slot *s, struct sl_tls_cert *c, int alpn);

/* Requests to the CA sent again (RFC 8555 section 6.5's badNonce, an
 * answer with Retry-After: 429 and 503), process-wide. */
enum { SL_ACME_RETRY_NONCE = 0, SL_ACME_RETRY_LATER, SL_ACME_NRETRY };
extern atomic_uint_fast64_t sl_acme_retries[SL_ACME_NRETRY];

/* The last failure's words for s (under the registry's lock). */
void sl_acme_slot_error(struct sl_acme_slot *s, const char *text);

/* Calls fn for each slot that a generation or the ACME thread holds, in
 * no order, under the registry's lock (fn must not call back). */
void sl_acme_slots_each(void (*fn)(const struct sl_acme_slot *s, void *arg),
			void *arg);
/* How many slots there are. */
size_t sl_acme_slots_count(void);

/* ---- http-01 (RFC 8555 section 8.3): the key authorization served at
 * /.well-known/acme-challenge/TOKEN while its challenge waits ---------- */

/* Returns 0, or -1 (no memory). */
int sl_acme_token_put(const char *token, const char *keyauth);
void sl_acme_token_del(const char *token);
/* The key authorization of token[0..len) into out (at most n bytes with
 * its NUL): its length, or -1 when there is none. */
long sl_acme_token_get(const char *token, size_t len, char *out, size_t n);

/* The process ends: every slot and token goes. */
void sl_acme_slots_free(void);

#endif
