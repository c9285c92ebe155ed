/* SPDX-License-Identifier: MIT */
/*
 * The Idempotency-Key store's parts, each calling only those below it:
 * exchange_idem.c (the request, the wait, sluice's answers, the replay),
 * exchange_idem_orphan.c (an answer read after its client went),
 * exchange_idem_keep.c (the answer kept as it comes),
 * exchange_idem_store.c (Redis; the digest): the request's key state
 * they share. Private to them.
 */
#ifndef SL_EXCHANGE_IDEM_INT_H
#define SL_EXCHANGE_IDEM_INT_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/queue.h>

#include "conf_idem.h"
#include "exchange_int.h"
#include "idem.h"
#include "wproxy.h"

struct sl_counts;

/* Past the route's deadline, a reservation whose exchange still runs
 * holds its key this long more (the lease: a key whose request is gone
 * without a word is free again then). */
#define LEASE_MARGIN_MS 5000

/* The answers sluice gives a request itself, decided in
 * idem_check and given by idem_answer once the core
 * has read what is here of the request's body (so that the connection
 * stays open). */
enum ip_ans {
	ANS_NONE = 0,
	ANS_MISSING,
	ANS_INVALID,
	ANS_NO_CALLER,
	ANS_TOO_LARGE,
	ANS_TOO_LARGE_BUF, /* within max_request_bytes, not the buffer */
	ANS_CONFLICT,
	ANS_MISMATCH,
	ANS_REPLAY,
	ANS_UNAVAILABLE,
};

enum ip_phase {
	IP_BODY = 1,   /* waiting for the request's whole body */
	IP_STORE,      /* waiting for the fleet store's word on the key */
	IP_STORE_DONE, /* it came (sres) */
	IP_WAIT,       /* in flight elsewhere: asked again when ev fires */
	IP_HELD,       /* reserved: the request went on */
	IP_KEEPING,    /* ... and its answer is being kept */
	IP_DONE,       /* kept, or let go */
};

/* A request's key, reserved, and its answer as it is kept. */
struct sl_idem_commit;
struct sl_txidem {
	struct sl_txn *t;
	uint8_t id[SL_IDEM_HASH];
	uint64_t token;
	uint8_t phase;	       /* enum ip_phase */
	uint8_t rel;	       /* 1 + enum sl_idem_rel: why it goes (0: none) */
	uint32_t flen;	       /* the fields' bytes kept */
	unsigned char *a;      /* the kept answer: its head, fields, body */
	size_t alen, acap;     /* bytes of it, room */
	int status;	       /* of the answer kept */
	uint64_t lease_end_ms; /* the reservation's end */
	uint64_t wait_end_ms;  /* the route's wait: 409 from then (0: not
				  waiting yet) */
	/* what keeping the answer needs, also without its exchange */
	const struct sl_conf_idem_route *ic;
	const char *route; /* its name (borrowed, as ic) */
	size_t hdr_max, nhdr_max;
	uint64_t memory;
	char request_id[SL_REQUEST_ID_MAX + 1];
	/* the fleet store (Redis): the request's fingerprint and its
	 * reservation's token (what the key holds while in flight), the
	 * worker and generation that ask (borrowed: an orphan holds its
	 * own reference), the command in flight, and its word */
	uint8_t redis;
	uint8_t fp[SL_IDEM_HASH];
	uint8_t kid[4];		   /* the sealing key's, in a kept value */
	uint8_t rfp[SL_IDEM_HASH]; /* the fingerprint Redis holds */
	unsigned char rtok[8];
	struct sl_worker *w;
	struct sl_conf *conf;
	struct sl_rlstore_cmd *cmd;
	int sres;	     /* enum sl_idem_look, or -1: the store failed */
	uint8_t ans;	     /* enum ip_ans: the answer decided */
	unsigned char *kept; /* ANS_REPLAY: the kept answer (owned) */
	size_t klen;
	void (*woken)(struct sl_txn *);
	struct event ev; /* the body's wake, the store's, the wait's timer */
	/* the answer's last bytes wait for the store to take it (Redis:
	 * SL_TXN_F_END_HELD): the keeping they wait for, and its first
	 * word's wake (assigned when the hold begins) */
	struct sl_idem_commit *hold;
	struct event hev;
};

/* The filter's slot (filter.h): the request's key and kept answer, owned
 * (NULL: none), and what the store did, for the access log (1 + enum
 * sl_idem_out, 0: nothing). */
struct sl_idem_slot {
	struct sl_txidem *ip;
	uint8_t res;
};

/* Where the filter's slot is in an exchange's area, and its per-worker
 * state in the worker's proxy state: set once for the process by the
 * filter's placed (exchange_idem.c), kept by exchange_idem_at.c, so
 * that the store's files reach them without naming the filter (whose
 * file calls theirs). */
extern size_t sl_idem_slot_off, sl_idem_ws_off;

struct sl_idem_orphan;
struct sl_txidem;

/* The exchange ends: a key still reserved is let go. */
void sl_exchange_idem_end(struct sl_seam *s);

/* The filter's per-worker state (filter.h's wsize). */
struct sl_idem_ws {
	/* answers read for an Idempotency-Key whose client went
	 * (exchange_idem_orphan.c) */
	TAILQ_HEAD(, sl_idem_orphan) orphans;
	/* answers on their way to the fleet store, tried again while it is
	 * away (exchange_idem_store.c) */
	TAILQ_HEAD(, sl_idem_commit) commits;
	void *md; /* the worker's SHA-256 context, made once (an
		     EVP_MD_CTX; freed with the state) */
};

static inline struct sl_idem_ws *
sl_idem_ws(const struct sl_worker *w)
{
	return (struct sl_idem_ws *)(void *)(sl_wproxy(w)->fws +
					     sl_idem_ws_off);
}

static inline struct sl_idem_slot *
sl_idem_slot(const struct sl_txn *t)
{
	return (struct sl_idem_slot *)(void *)(t->fslot + sl_idem_slot_off);
}

#define LOOK_UNREADABLE 100 /* a kept answer that does not open */

/* ---- exchange_idem_orphan.c ---- */

/* Whether t's answer is to be read without its client. */
int sl_exchange_idem_orphan_due(const struct sl_txn *t);
/* Takes t's upstream connection and its key. Returns 0, or -1 (no
 * memory: the key goes). */
int sl_exchange_idem_orphan_start(struct sl_seam *s, struct sl_txn *t);
/* The orphans of w, ended (w stops). */
void sl_exchange_idem_orphans_free(struct sl_worker *w);

/* ---- exchange_idem_keep.c: the answer kept ---- */

/* The final head of the answer, kept (its body comes as payload: a
 * chunked one's framing is taken off by its reader). */
void sl_exchange_idem_keep_head(struct sl_txidem *ip,
				const struct sl_h1_response *resp);
/* n more body bytes at p kept; done: the answer is whole. Returns 1 when
 * it was kept, 0 when more is to come or it is not kept, -1 when it could
 * not be kept (the key let go, counted). */
int sl_exchange_idem_keep(struct sl_txidem *ip, struct sl_counts *rc,
			  const char *p, size_t n, int done);
/* The filter's resp_head (filter.h): the upstream's final response head,
 * its status and end-to-end fields kept (or the key is to go, by its
 * status); SL_FILTER_R_TAP when the request has a key. */
int sl_exchange_idem_resp_head(struct sl_seam *s, struct sl_h1_response *resp,
			       char *scratch);
/* Its resp_data: n more bytes of the body, as made ready; once the whole
 * answer is in, it is kept. */
void sl_exchange_idem_resp_data(struct sl_seam *s, const char *p, size_t n);

/* The key goes without its answer kept: counted and said (cut: why). */
void sl_exchange_idem_release(struct sl_txidem *ip, struct sl_counts *rc,
			      const char *cut);

/* ---- exchange_idem_store.c: the fleet store (Redis), the digest ---- */

/* SHA-256 of the parts (lengths given), each followed by a NUL, in w's
 * context. Returns 0, or -1. */
int sl_exchange_idem_digest(struct sl_worker *w, uint8_t out[SL_IDEM_HASH],
			    const void *const *p, const size_t *n,
			    size_t parts);
/* Asks the store for the key; woken is called once it answers. Returns 0,
 * or -1 when it cannot be asked. */
int sl_exchange_idem_store_reserve(struct sl_seam *s, struct sl_txidem *ip,
				   void (*woken)(struct sl_txn *));
/* Keeps the answer (ip->a, alen bytes) in the store, sealed; hold: the
 * answer waits for the store's first word on it (ip->hold set, ip->hev
 * made active once it comes, or once the first try fails). Returns 0,
 * or -1 (no memory: not kept, nothing waits). */
int sl_exchange_idem_store_commit(struct sl_txidem *ip, struct sl_counts *rc,
				  int hold);
/* ip goes: a keeping its answer waits for no longer wakes it. */
void sl_exchange_idem_store_forget(struct sl_txidem *ip);
/* Lets the reservation go in the store (if the key still holds it). */
void sl_exchange_idem_store_release(struct sl_txidem *ip, struct sl_counts *rc);
/* The keepings still on their way to the store, given up (w stops). */
void sl_exchange_idem_store_free(struct sl_worker *w);

#endif
