/* SPDX-License-Identifier: MIT */
/*
 * QUIC version 1's packet protection on OpenSSL 3.0 (qcrypto.h).
 */
#include "qcrypto.h"

#include <string.h>

#include <ngtcp2/ngtcp2.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

/*
 * QUIC version 1's initial salt (RFC 9001 section 5.2): a constant of the
 * protocol, which Debian's libngtcp2 0.12 keeps in its crypto helper
 * (not packaged but for GnuTLS), not in its core's header. The vectors of
 * RFC 9001 Appendix A check it (tests/unit/test_qcrypto.c). The Retry
 * key and nonce are the core header's (NGTCP2_RETRY_KEY_V1).
 */
static const uint8_t initial_salt_v1[] = {
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};

size_t
sl_qaead_key_len(enum sl_qaead aead)
{
	return aead == SL_QAEAD_AES_128_GCM ? 16 : 32;
}

size_t
sl_qaead_secret_len(enum sl_qaead aead)
{
	return aead == SL_QAEAD_AES_256_GCM ? 48 : 32;
}

int
sl_qaead_of_suite(uint16_t suite)
{
	switch (suite) {
	case 0x1301:
		return SL_QAEAD_AES_128_GCM;
	case 0x1302:
		return SL_QAEAD_AES_256_GCM;
	case 0x1303:
		return SL_QAEAD_CHACHA20;
	default:
		return -1;
	}
}

static const EVP_MD *
aead_md(enum sl_qaead aead)
{
	return aead == SL_QAEAD_AES_256_GCM ? EVP_sha384() : EVP_sha256();
}

static const EVP_CIPHER *
aead_cipher(enum sl_qaead aead)
{
	switch (aead) {
	case SL_QAEAD_AES_256_GCM:
		return EVP_aes_256_gcm();
	case SL_QAEAD_CHACHA20:
		return EVP_chacha20_poly1305();
	default:
		return EVP_aes_128_gcm();
	}
}

/* HKDF (RFC 5869) in one of its modes, by OpenSSL's HKDF key type: salt
 * and ikm extracted, or key expanded with info. Returns 0, or -1. */
static int
hkdf(const EVP_MD *md, int mode, const uint8_t *salt, size_t salt_len,
     const uint8_t *key, size_t key_len, const uint8_t *info, size_t info_len,
     uint8_t *out, size_t out_len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t n = out_len;
	int ok;

	if (c == NULL)
		return -1;
	ok = EVP_PKEY_derive_init(c) > 0 &&
	     EVP_PKEY_CTX_set_hkdf_mode(c, mode) > 0 &&
	     EVP_PKEY_CTX_set_hkdf_md(c, md) > 0 &&
	     EVP_PKEY_CTX_set1_hkdf_key(c, key, (int)key_len) > 0 &&
	     (salt == NULL ||
	      EVP_PKEY_CTX_set1_hkdf_salt(c, salt, (int)salt_len) > 0) &&
	     (info == NULL ||
	      EVP_PKEY_CTX_add1_hkdf_info(c, info, (int)info_len) > 0) &&
	     EVP_PKEY_derive(c, out, &n) > 0 && n == out_len;
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

/* HKDF-Expand-Label with an empty context, by md. */
static int
expand_label(const EVP_MD *md, const uint8_t *secret, size_t secret_len,
	     const char *label, uint8_t *out, size_t out_len)
{
	/* struct HkdfLabel: its length, "tls13 " and the label with their
	 * length, an empty context */
	uint8_t info[2 + 1 + 6 + 255 + 1];
	size_t ll = strlen(label), n = 0;

	if (ll > 255 - 6 || out_len > 0xffff)
		return -1;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;
	return hkdf(md, EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, secret,
		    secret_len, info, n, out, out_len);
}

int
sl_qcrypto_expand_label(enum sl_qaead aead, const uint8_t *secret,
			size_t secret_len, const char *label, uint8_t *out,
			size_t out_len)
{
	return expand_label(aead_md(aead), secret, secret_len, label, out,
			    out_len);
}

int
sl_qcrypto_initial_secrets(const uint8_t *dcid, size_t dcid_len,
			   uint8_t *client, uint8_t *server)
{
	uint8_t initial[SL_QINITIAL_LEN];
	int r;

	r = hkdf(EVP_sha256(), EVP_KDF_HKDF_MODE_EXTRACT_ONLY, initial_salt_v1,
		 sizeof(initial_salt_v1), dcid, dcid_len, NULL, 0, initial,
		 sizeof(initial)) == 0 &&
		    expand_label(EVP_sha256(), initial, sizeof(initial),
				 "client in", client, SL_QINITIAL_LEN) == 0 &&
		    expand_label(EVP_sha256(), initial, sizeof(initial),
				 "server in", server, SL_QINITIAL_LEN) == 0
		? 0
		: -1;
	OPENSSL_cleanse(initial, sizeof(initial));
	return r;
}

int
sl_qcrypto_update_secret(enum sl_qaead aead, const uint8_t *secret,
			 size_t secret_len, uint8_t *out)
{
	uint8_t next[SL_QSECRET_MAX];

	if (secret_len > sizeof(next) ||
	    expand_label(aead_md(aead), secret, secret_len, "quic ku", next,
			 secret_len) != 0)
		return -1;
	memcpy(out, next, secret_len);
	OPENSSL_cleanse(next, sizeof(next));
	return 0;
}

int
sl_qcrypto_keys(enum sl_qaead aead, const uint8_t *secret, size_t secret_len,
		int quic, uint8_t *key, uint8_t *iv, uint8_t *hp)
{
	const EVP_MD *md = aead_md(aead);
	size_t kl = sl_qaead_key_len(aead);

	return expand_label(md, secret, secret_len, quic ? "quic key" : "key",
			    key, kl) == 0 &&
		       expand_label(md, secret, secret_len,
				    quic ? "quic iv" : "iv", iv,
				    SL_QIV_LEN) == 0 &&
		       (hp == NULL || expand_label(md, secret, secret_len,
						   "quic hp", hp, kl) == 0)
		   ? 0
		   : -1;
}

EVP_CIPHER_CTX *
sl_qaead_ctx_new(enum sl_qaead aead, const uint8_t *key, int seal)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (c != NULL && EVP_CipherInit_ex(c, aead_cipher(aead), NULL, key,
					   NULL, seal) != 1) {
		EVP_CIPHER_CTX_free(c);
		c = NULL;
	}
	return c;
}

int
sl_qaead_run(EVP_CIPHER_CTX *c, int seal, const uint8_t *nonce,
	     const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t n,
	     uint8_t *out)
{
	uint8_t tag[SL_QTAG_LEN];
	int l, f;

	if (c == NULL || n > INT32_MAX || ad_len > INT32_MAX ||
	    (!seal && n < SL_QTAG_LEN))
		return -1;
	if (!seal) {
		/* the tag read before out, which may be in, is written */
		n -= SL_QTAG_LEN;
		memcpy(tag, in + n, SL_QTAG_LEN);
	}
	if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, seal) != 1 ||
	    EVP_CipherUpdate(c, NULL, &l, ad, (int)ad_len) != 1 ||
	    EVP_CipherUpdate(c, out, &l, in, (int)n) != 1)
		return -1;
	/* the tag through the cipher's parameters, not EVP_CIPHER_CTX_ctrl:
	 * OpenSSL 3 translates a ctrl into the same parameters, by name,
	 * twice a packet (about 1,500 instructions a request, callgrind) */
	if (!seal) {
		OSSL_PARAM p[2] = {
		    OSSL_PARAM_construct_octet_string(
			OSSL_CIPHER_PARAM_AEAD_TAG, tag, SL_QTAG_LEN),
		    OSSL_PARAM_construct_end()};
		if (EVP_CIPHER_CTX_set_params(c, p) != 1)
			return -1;
	}
	if (EVP_CipherFinal_ex(c, out + l, &f) != 1)
		return -1;
	if (seal) {
		OSSL_PARAM p[2] = {
		    OSSL_PARAM_construct_octet_string(
			OSSL_CIPHER_PARAM_AEAD_TAG, out + n, SL_QTAG_LEN),
		    OSSL_PARAM_construct_end()};
		if (EVP_CIPHER_CTX_get_params(c, p) != 1)
			return -1;
	}
	return 0;
}

EVP_CIPHER_CTX *
sl_qhp_ctx_new(enum sl_qaead aead, const uint8_t *hp)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *ci = aead == SL_QAEAD_CHACHA20 ? EVP_chacha20()
			       : aead == SL_QAEAD_AES_128_GCM
				   ? EVP_aes_128_ecb()
				   : EVP_aes_256_ecb();

	/* AES's mask is one block of ECB at hp; ChaCha20's is its key
	 * stream at hp, the sample its counter and nonce (set a mask) */
	if (c != NULL && (EVP_EncryptInit_ex(c, ci, NULL, hp, NULL) != 1 ||
			  EVP_CIPHER_CTX_set_padding(c, 0) != 1)) {
		EVP_CIPHER_CTX_free(c);
		c = NULL;
	}
	return c;
}

int
sl_qhp_run(EVP_CIPHER_CTX *c, const uint8_t *sample, uint8_t *mask)
{
	static const uint8_t zero[SL_QMASK_LEN];
	uint8_t block[SL_QSAMPLE_LEN];
	int l;

	if (c == NULL)
		return -1;
	if (EVP_CIPHER_CTX_get_nid(c) == NID_chacha20) {
		/* OpenSSL's ChaCha20 IV is the 32-bit counter, little-endian,
		 * then the 96-bit nonce: the sample as it is */
		return EVP_EncryptInit_ex(c, NULL, NULL, NULL, sample) == 1 &&
			       EVP_EncryptUpdate(c, mask, &l, zero,
						 SL_QMASK_LEN) == 1
			   ? 0
			   : -1;
	}
	if (EVP_EncryptUpdate(c, block, &l, sample, SL_QSAMPLE_LEN) != 1 ||
	    l != SL_QSAMPLE_LEN)
		return -1;
	memcpy(mask, block, SL_QMASK_LEN);
	return 0;
}

/* k at secret: its key and IV by QUIC's labels ("quic key", "quic iv")
 * and a header key ("quic hp"), or by TLS 1.3's ("key", "iv") and none. */
static int
key_init(struct sl_qkey *k, enum sl_qaead aead, const uint8_t *secret,
	 size_t secret_len, int seal, int quic)
{
	memset(k, 0, sizeof(*k));
	k->aead = aead;
	k->seal = seal;
	if (sl_qcrypto_keys(aead, secret, secret_len, quic, k->key, k->iv,
			    quic ? k->hp : NULL) != 0 ||
	    (k->pp = sl_qaead_ctx_new(aead, k->key, seal)) == NULL ||
	    (quic && (k->hpc = sl_qhp_ctx_new(aead, k->hp)) == NULL)) {
		sl_qkey_free(k);
		return -1;
	}
	return 0;
}

int
sl_qkey_init(struct sl_qkey *k, enum sl_qaead aead, const uint8_t *secret,
	     size_t secret_len, int seal)
{
	return key_init(k, aead, secret, secret_len, seal, 1);
}

int
sl_qkey_init_tls(struct sl_qkey *k, enum sl_qaead aead, const uint8_t *secret,
		 size_t secret_len, int seal)
{
	return key_init(k, aead, secret, secret_len, seal, 0);
}

void
sl_qkey_free(struct sl_qkey *k)
{
	EVP_CIPHER_CTX_free(k->pp);
	EVP_CIPHER_CTX_free(k->hpc);
	OPENSSL_cleanse(k, sizeof(*k));
	k->pp = k->hpc = NULL;
}

void
sl_qkey_nonce(const struct sl_qkey *k, uint64_t pn, uint8_t nonce[SL_QIV_LEN])
{
	memcpy(nonce, k->iv, SL_QIV_LEN);
	for (int i = 0; i < 8; i++)
		nonce[SL_QIV_LEN - 1 - i] ^= (uint8_t)(pn >> (8 * i));
}

int
sl_qkey_seal(struct sl_qkey *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
	     const uint8_t *in, size_t n, uint8_t *out)
{
	uint8_t nonce[SL_QIV_LEN];

	if (!k->seal)
		return -1;
	sl_qkey_nonce(k, pn, nonce);
	return sl_qaead_run(k->pp, 1, nonce, ad, ad_len, in, n, out);
}

int
sl_qkey_open(struct sl_qkey *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
	     const uint8_t *in, size_t n, uint8_t *out)
{
	uint8_t nonce[SL_QIV_LEN];

	if (k->seal)
		return -1;
	sl_qkey_nonce(k, pn, nonce);
	return sl_qaead_run(k->pp, 0, nonce, ad, ad_len, in, n, out);
}

int
sl_qkey_mask(struct sl_qkey *k, const uint8_t sample[SL_QSAMPLE_LEN],
	     uint8_t mask[SL_QMASK_LEN])
{
	return sl_qhp_run(k->hpc, sample, mask);
}

int
sl_qcrypto_retry_tag(const uint8_t *odcid, size_t odcid_len, const uint8_t *pkt,
		     size_t len, uint8_t tag[SL_QRETRY_TAG_LEN])
{
	static const uint8_t key[] = NGTCP2_RETRY_KEY_V1;
	static const uint8_t nonce[] = NGTCP2_RETRY_NONCE_V1;
	EVP_CIPHER_CTX *c;
	uint8_t cl;
	int l, ok;

	if (odcid_len > 20 || len > INT32_MAX)
		return -1;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	/* the Retry pseudo-packet: the original DCID with its length, then
	 * the Retry packet, all authenticated, nothing encrypted */
	cl = (uint8_t)odcid_len;
	ok = EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce) == 1 &&
	     EVP_EncryptUpdate(c, NULL, &l, &cl, 1) == 1 &&
	     EVP_EncryptUpdate(c, NULL, &l, odcid, (int)odcid_len) == 1 &&
	     EVP_EncryptUpdate(c, NULL, &l, pkt, (int)len) == 1 &&
	     EVP_EncryptFinal_ex(c, tag, &l) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, SL_QRETRY_TAG_LEN,
				 tag) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}
