/* SPDX-License-Identifier: MIT */
/*
 * The Idempotency-Key store as a module (core/module.h; doc/operations.md,
 * "Idempotent payments"): its configuration, in its slots of the
 * generation (conf_idem.c reads it, and the keys that seal kept answers),
 * and its counters, in its block of a route's counts. Included by
 * conf_idem.c, by its filter's files (proxy/exchange_idem*.c) and by the
 * module table (conf_mods.c).
 */
#ifndef SL_CONF_IDEM_H
#define SL_CONF_IDEM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf_types.h"
#include "module.h"
#include "runtime.h" /* sl_counts_mod */

extern struct sl_module sl_module_idem;

/* A route's idempotency: which requests' keys are kept, whose they are,
 * what is kept of an answer and for how long. */
enum sl_idem_store { SL_IDEM_STORE_LOCAL = 0, SL_IDEM_STORE_REDIS };
enum sl_idem_caller {
	SL_IDEM_CALLER_AUTO = 0, /* the token's, else the certificate's */
	SL_IDEM_CALLER_TOKEN,	 /* "jwt": the verified token's iss and sub */
	SL_IDEM_CALLER_CERT,	 /* the verified client certificate's subject */
	SL_IDEM_CALLER_HEADER,	 /* a field a trusted hop in front sets */
	SL_IDEM_CALLER_NONE	 /* the key alone */
};
enum sl_idem_fail { SL_IDEM_FAIL_CLOSED = 0, SL_IDEM_FAIL_OPEN };
#define SL_IDEM_STATUS_MAX 600 /* release: statuses 0..599 */
struct sl_conf_idem_route {
	uint32_t store;	     /* enum sl_idem_store */
	uint32_t methods;    /* bit m: enum sl_h1_method m is looked at */
	int required;	     /* a request without the key gets 400 */
	uint64_t ttl_ms;     /* a completed key's answer is kept so long */
	uint32_t caller;     /* enum sl_idem_caller */
	char *caller_header; /* caller: header's field (owned) */
	uint64_t max_request_bytes;
	uint64_t max_response_bytes;
	uint64_t release[(SL_IDEM_STATUS_MAX + 63) / 64]; /* bit s: an
							     answer s is not
							     kept */
	uint32_t fail;	  /* enum sl_idem_fail */
	uint64_t wait_ms; /* a retry of a key in flight waits so long for its
			     answer before 409 (0: 409 at once) */
	unsigned line, col;
	unsigned mrb_line, mrb_col; /* max_request_bytes's (else line, col) */
};

/* The top-level idempotency: the local store's bound, and the key that
 * seals the answers kept in Redis (read from key_file by
 * sl_conf_load_secrets; never shown). */
#define SL_IDEM_SEAL_KEY 32
#define SL_IDEM_OLD_KEYS 4 /* previous_key_files, at most */
struct sl_conf_idem {
	uint64_t memory; /* bytes, the whole process */
	struct sl_conf_file key_file;
	unsigned char key[SL_IDEM_SEAL_KEY];
	unsigned char key_id[4]; /* names key in a kept value: the first
				    bytes of SHA-256(key, 0, "key id", 0) */
	int has_key;		 /* key and key_id were read */
	/* previous_key_files: keys that open kept answers, never seal */
	struct sl_conf_file old_files[SL_IDEM_OLD_KEYS];
	size_t nold;
	unsigned char old_keys[SL_IDEM_OLD_KEYS][SL_IDEM_SEAL_KEY];
	unsigned char old_ids[SL_IDEM_OLD_KEYS][4];
	int has_old; /* every one was read */
};

/* What a route's Idempotency-Key store did with a request
 * (sluice_idempotency_requests_total's outcome; doc/operations.md,
 * "Idempotent payments"), and why a reserved key was let go
 * (sluice_idempotency_released_total's reason). */
enum sl_idem_out {
	SL_IDEM_O_RESERVED = 0, /* its key is new: reserved, sent on */
	SL_IDEM_O_REPLAYED,	/* answered from the store */
	SL_IDEM_O_CONFLICT,	/* 409: its key is in flight */
	SL_IDEM_O_MISMATCH,	/* 422: its key was used for another request */
	SL_IDEM_O_MISSING,	/* 400: no key, and the route requires one */
	SL_IDEM_O_INVALID,	/* 400: a malformed key, or no caller */
	SL_IDEM_O_TOO_LARGE,	/* 413: a body past max_request_bytes */
	SL_IDEM_O_UNAVAILABLE,	/* 503: the store cannot take it (fail:
				   closed) */
	SL_IDEM_O_UNPROTECTED,	/* sent on unkept (fail: open) */
	SL_IDEM_NOUT
};

/* The access log's name of an outcome plus one ("replayed"; a
 * request's idem_res), NULL for 0. */
const char *sl_idem_out_str(int res);
enum sl_idem_rel {
	SL_IDEM_R_STATUS = 0, /* its answer's status is one release names */
	SL_IDEM_R_TOO_LARGE,  /* its answer is past max_response_bytes */
	SL_IDEM_R_FAILED,     /* no whole answer: the upstream failed or was
				 cut, or sluice answered */
	SL_IDEM_R_MEMORY,     /* no room to keep its answer */
	SL_IDEM_NREL
};

/* Its block of a route's per-worker counts: requests by outcome, keys let
 * go by reason, answers kept, and the fleet store's failures. */
struct sl_idem_counts {
	atomic_uint_fast64_t out[SL_IDEM_NOUT];
	atomic_uint_fast64_t rel[SL_IDEM_NREL];
	atomic_uint_fast64_t stored;
	atomic_uint_fast64_t store_err;
};

/* A route's idempotency, NULL: none. */
static inline const struct sl_conf_idem_route *
sl_idem_route(const struct sl_conf_route *r)
{
	return sl_route_mod(r, &sl_module_idem);
}

/* The top level's (a loaded generation always has it; NULL otherwise). */
static inline const struct sl_conf_idem *
sl_idem_conf(const struct sl_conf *c)
{
	return sl_conf_mod(c, &sl_module_idem);
}

/* Its counters in counts c (a route's, of one worker). */
static inline struct sl_idem_counts *
sl_idem_counts(struct sl_counts *c)
{
	return (struct sl_idem_counts *)sl_counts_mod(c, &sl_module_idem);
}

#endif
