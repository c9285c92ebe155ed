/* SPDX-License-Identifier: MIT */
/*
 * QUIC version 1's packet protection (RFC 9001 section 5) on OpenSSL 3.0:
 * the initial secrets of a client's Destination Connection ID, a
 * direction's keys from its traffic secret (TLS 1.3's HKDF-Expand-Label
 * with QUIC's labels), the AEAD that seals and opens a packet's payload,
 * the mask that protects its header, the next secret of a key update and
 * the Retry packet's integrity tag. The TLS secrets themselves come from
 * the handshake (the glue to OpenSSL, doc/http3.md); this is the
 * arithmetic on them, which libngtcp2's core asks for through its crypto
 * callbacks (Debian packages its crypto helper only for GnuTLS). Checked
 * against RFC 9001 Appendix A's vectors (tests/unit/test_qcrypto.c).
 *
 * No I/O. A key's contexts are made once (sl_qkey_init) and used for
 * every packet of that key: the packet's nonce is set on the made
 * context, no allocation a packet.
 */
#ifndef SL_QCRYPTO_H
#define SL_QCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* The AEADs TLS 1.3 negotiates for QUIC (RFC 9001 section 5.3). */
enum sl_qaead {
	SL_QAEAD_AES_128_GCM = 0, /* TLS_AES_128_GCM_SHA256: Initial's too */
	SL_QAEAD_AES_256_GCM,	  /* TLS_AES_256_GCM_SHA384 */
	SL_QAEAD_CHACHA20,	  /* TLS_CHACHA20_POLY1305_SHA256 */
};

#define SL_QTAG_LEN	  16 /* every AEAD's tag */
#define SL_QIV_LEN	  12 /* every AEAD's nonce */
#define SL_QSAMPLE_LEN	  16 /* the ciphertext sampled for the header mask */
#define SL_QMASK_LEN	  5  /* the first byte's bits, and 4 of the number */
#define SL_QSECRET_MAX	  48 /* SHA-384's */
#define SL_QINITIAL_LEN	  32 /* an initial secret: SHA-256's */
#define SL_QRETRY_TAG_LEN 16

/* The key's length of aead (16 or 32), and its hash's (32 or 48). */
size_t sl_qaead_key_len(enum sl_qaead aead);
size_t sl_qaead_secret_len(enum sl_qaead aead);

/* The AEAD of a TLS 1.3 cipher suite's IANA id (0x1301 ...), or -1. */
int sl_qaead_of_suite(uint16_t suite);

/*
 * TLS 1.3's HKDF-Expand-Label (RFC 8446 section 7.1) with an empty
 * context: out_len bytes of label ("quic key", ...) from secret, by the
 * hash of aead's suite. Returns 0, or -1.
 */
int sl_qcrypto_expand_label(enum sl_qaead aead, const uint8_t *secret,
			    size_t secret_len, const char *label, uint8_t *out,
			    size_t out_len);

/* The client's and the server's initial secrets (SL_QINITIAL_LEN bytes
 * each) of a client's first Destination Connection ID. Returns 0, or -1.
 */
int sl_qcrypto_initial_secrets(const uint8_t *dcid, size_t dcid_len,
			       uint8_t *client, uint8_t *server);

/* The next secret of a key update ("quic ku", RFC 9001 section 6.1),
 * secret_len bytes into out (which may be secret). Returns 0, or -1. */
int sl_qcrypto_update_secret(enum sl_qaead aead, const uint8_t *secret,
			     size_t secret_len, uint8_t *out);

/* A key's key, IV and (quic, with hp not NULL) header key from a
 * secret: by QUIC's labels ("quic key", "quic iv", "quic hp"), or by TLS
 * 1.3's ("key", "iv"). Returns 0, or -1. */
int sl_qcrypto_keys(enum sl_qaead aead, const uint8_t *secret,
		    size_t secret_len, int quic, uint8_t *key, uint8_t *iv,
		    uint8_t *hp);

/* The contexts of one key, as libngtcp2's crypto callbacks hold them
 * (qconn.c): an AEAD's at key, to seal or open; a header mask's at hp.
 * NULL: no memory. EVP_CIPHER_CTX_free frees either. */
EVP_CIPHER_CTX *sl_qaead_ctx_new(enum sl_qaead aead, const uint8_t *key,
				 int seal);
EVP_CIPHER_CTX *sl_qhp_ctx_new(enum sl_qaead aead, const uint8_t *hp);

/* The AEAD of a context made to seal (seal 1: n bytes into n +
 * SL_QTAG_LEN) or to open (n bytes with their tag into n - SL_QTAG_LEN;
 * -1 when the tag does not verify), at nonce, ad authenticated; out may
 * be in. Returns 0, or -1. */
int sl_qaead_run(EVP_CIPHER_CTX *c, int seal, const uint8_t *nonce,
		 const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t n,
		 uint8_t *out);

/* The header mask of a sample by a context of sl_qhp_ctx_new. */
int sl_qhp_run(EVP_CIPHER_CTX *c, const uint8_t *sample, uint8_t *mask);

/* One direction's protection at one key: the payload's AEAD and the
 * header's mask, their contexts made for it. */
struct sl_qkey {
	enum sl_qaead aead;
	uint8_t key[32];
	uint8_t iv[SL_QIV_LEN];
	uint8_t hp[32];
	EVP_CIPHER_CTX *pp;  /* the payload's, at key (its nonce per packet) */
	EVP_CIPHER_CTX *hpc; /* the header's: AES-ECB at hp, or ChaCha20 */
	int seal;	     /* pp seals (else it opens) */
};

/*
 * The key, IV and header key of secret ("quic key", "quic iv", "quic
 * hp") into k, with its contexts, to seal (seal 1) or open. Returns 0, or
 * -1 (no memory; k then holds no context). sl_qkey_free releases it.
 */
int sl_qkey_init(struct sl_qkey *k, enum sl_qaead aead, const uint8_t *secret,
		 size_t secret_len, int seal);
/* The same with TLS 1.3's labels ("key", "iv"; RFC 8446 section 7.3) and
 * no header key: a TLS record's protection, which the handshake's glue
 * gives OpenSSL the peer's handshake bytes in (qtls.c). */
int sl_qkey_init_tls(struct sl_qkey *k, enum sl_qaead aead,
		     const uint8_t *secret, size_t secret_len, int seal);
void sl_qkey_free(struct sl_qkey *k);

/* The nonce of packet number pn: the IV with pn xored into its end. */
void sl_qkey_nonce(const struct sl_qkey *k, uint64_t pn,
		   uint8_t nonce[SL_QIV_LEN]);

/*
 * Seals n bytes of payload at in into out (n + SL_QTAG_LEN bytes; out
 * may be in), the header ad[0 .. ad_len) authenticated, for packet
 * number pn. Returns 0, or -1.
 */
int sl_qkey_seal(struct sl_qkey *k, uint64_t pn, const uint8_t *ad,
		 size_t ad_len, const uint8_t *in, size_t n, uint8_t *out);

/*
 * Opens n bytes (the payload and its tag, n >= SL_QTAG_LEN) at in into
 * out (n - SL_QTAG_LEN bytes; out may be in). Returns 0, or -1 when the
 * tag does not verify (or n is too short).
 */
int sl_qkey_open(struct sl_qkey *k, uint64_t pn, const uint8_t *ad,
		 size_t ad_len, const uint8_t *in, size_t n, uint8_t *out);

/* The header protection mask of a sample of the ciphertext (RFC 9001
 * section 5.4). Returns 0, or -1. */
int sl_qkey_mask(struct sl_qkey *k, const uint8_t sample[SL_QSAMPLE_LEN],
		 uint8_t mask[SL_QMASK_LEN]);

/*
 * The integrity tag of a Retry packet (RFC 9001 section 5.8): over the
 * client's original Destination Connection ID and the packet up to its
 * tag (len bytes). Returns 0, or -1.
 */
int sl_qcrypto_retry_tag(const uint8_t *odcid, size_t odcid_len,
			 const uint8_t *pkt, size_t len,
			 uint8_t tag[SL_QRETRY_TAG_LEN]);

#endif
