/* SPDX-License-Identifier: MIT */
/*
 * A Retry's address validation token (qtoken.h).
 */
#include "qtoken.h"

#include <netinet/in.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "qcrypto.h"

#define NONCE 12
#define TAG   16
/* the plaintext: two IDs with their lengths, the time */
#define PLAIN (1 + 20 + 1 + 20 + 8)

/* The address's family, bytes and port: the associated data. */
static size_t
addr_ad(const struct sockaddr *a, socklen_t len, uint8_t *out)
{
	if (a->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)a;
		out[0] = 4;
		memcpy(out + 1, &in->sin_addr, 4);
		memcpy(out + 5, &in->sin_port, 2);
		return 7;
	}
	if (a->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in = (const void *)a;
		out[0] = 6;
		memcpy(out + 1, &in->sin6_addr, 16);
		memcpy(out + 17, &in->sin6_port, 2);
		return 19;
	}
	return 0;
}

/* AES-256-GCM by qcrypto's AEAD: n bytes sealed (the tag after them)
 * or opened (n with the tag), at nonce, ad authenticated. 0, or -1. */
static int
gcm(int seal, const uint8_t key[32], const uint8_t *nonce, const uint8_t *ad,
    size_t ad_len, const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *c = sl_qaead_ctx_new(SL_QAEAD_AES_256_GCM, key, seal);
	int r = sl_qaead_run(c, seal, nonce, ad, ad_len, in, n, out);

	EVP_CIPHER_CTX_free(c);
	return r;
}

long
sl_qtoken_seal(const uint8_t key[32], const struct sl_qtoken *t,
	       const struct sockaddr *addr, socklen_t addr_len, uint8_t *out)
{
	uint8_t ad[19], plain[PLAIN];
	size_t al = addr_ad(addr, addr_len, ad);

	if (al == 0 || t->odcid_len > 20 || t->rscid_len > 20 ||
	    RAND_bytes(out, NONCE) != 1)
		return -1;
	plain[0] = t->odcid_len;
	memcpy(plain + 1, t->odcid, 20);
	plain[21] = t->rscid_len;
	memcpy(plain + 22, t->rscid, 20);
	for (int i = 0; i < 8; i++)
		plain[42 + i] = (uint8_t)(t->made_ms >> (56 - 8 * i));
	if (gcm(1, key, out, ad, al, plain, PLAIN, out + NONCE) != 0)
		return -1;
	return NONCE + PLAIN + TAG;
}

int
sl_qtoken_open(const uint8_t key[32], const uint8_t *tok, size_t n,
	       const struct sockaddr *addr, socklen_t addr_len, uint64_t now_ms,
	       uint64_t max_age_ms, struct sl_qtoken *t)
{
	uint8_t ad[19], plain[PLAIN];
	size_t al = addr_ad(addr, addr_len, ad);

	if (al == 0 || n != NONCE + PLAIN + TAG)
		return -1;
	if (gcm(0, key, tok, ad, al, tok + NONCE, PLAIN + TAG, plain) != 0 ||
	    plain[0] > 20 || plain[21] > 20)
		return -1;
	memset(t, 0, sizeof(*t));
	t->odcid_len = plain[0];
	memcpy(t->odcid, plain + 1, 20);
	t->rscid_len = plain[21];
	memcpy(t->rscid, plain + 22, 20);
	for (int i = 0; i < 8; i++)
		t->made_ms = t->made_ms << 8 | plain[42 + i];
	/* a token from the future is as bad as a stale one */
	return t->made_ms <= now_ms && now_ms - t->made_ms <= max_age_ms ? 0
									 : -1;
}
