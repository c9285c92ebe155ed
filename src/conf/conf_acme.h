/* SPDX-License-Identifier: MIT */
/*
 * The top-level acme: of the sluice schema (doc/tls.md, "ACME"): the CA,
 * the account, where certificates are kept and how names are proved; the
 * names themselves are each TLS listener's tls.acme. The module's slot of
 * the generation (conf_acme.c); fleet/acme.c acts on it.
 */
#ifndef SL_CONF_ACME_H
#define SL_CONF_ACME_H

#include <stddef.h>
#include <stdint.h>

#include "conf_types.h"

enum sl_acme_key { SL_ACME_KEY_EC = 0, SL_ACME_KEY_RSA };
enum sl_acme_challenge { SL_ACME_HTTP01 = 0, SL_ACME_TLSALPN01 };

struct sl_conf_acme {
	char *directory; /* https URL of the CA's directory */
	struct sl_conf_pos directory_pos;
	struct sl_conf_file ca_file;	 /* NULL path: the system's store */
	char *contact;			 /* "mailto:...", NULL: none */
	struct sl_conf_file account_key; /* NULL path: made and kept */
	char *account_key_pem; /* read by the secrets' pass; never shown */
	/* External Account Binding (RFC 8555 section 7.3.4) */
	char *eab_kid;			  /* NULL: none */
	struct sl_conf_file eab_hmac_key; /* base64url, one line */
	unsigned char eab_key[256];	  /* decoded; never shown */
	size_t eab_len;			  /* 0: not read */
	char *storage; /* a directory, 0700: keys and certificates */
	struct sl_conf_pos storage_pos;
	enum sl_acme_key key_type;
	enum sl_acme_challenge challenge;
	uint64_t http_port, tls_port; /* where the CA connects */
	uint64_t timeout_ms;	      /* one call to the CA */
	/* store: redis (doc/tls.md, "ACME in a fleet"): the gateways that
	 * share the top-level rate_limit_store order each name once and
	 * share the certificates, sealed under key_file, and the
	 * challenges' answers */
	int store_redis;
	struct sl_conf_pos store_pos;
	struct sl_conf_file key_file;
	unsigned char seal_key[32]; /* read by the secrets' pass */
	int has_key;
	uint64_t retry_ms, retry_max_ms; /* a failed order's backoff */
};

/* The generation's acme:, or NULL when it has none. */
const struct sl_conf_acme *sl_conf_acme(const struct sl_conf *conf);

#endif
