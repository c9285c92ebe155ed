/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of QUIC's packet protection (src/quic/qcrypto.c) against the
 * vectors of RFC 9001 Appendix A: the initial secrets and keys of both
 * directions (A.1), the client's Initial sealed and its header protected
 * byte for byte (A.2), the server's Initial (A.3), the Retry integrity tag
 * (A.4), ChaCha20-Poly1305 with a short header and the key update's next
 * secret (A.5); and each packet opened again, a forged one refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qcrypto.h"

/* The hex text s as bytes into out (room for its length / 2): their
 * number. */
static size_t
unhex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void
bytes_are(const uint8_t *got, size_t n, const char *hex)
{
	uint8_t want[2048];

	assert_int_equal(unhex(hex, want), n);
	assert_memory_equal(got, want, n);
}

/* RFC 9001 A.1's Destination Connection ID */
static const char dcid_hex[] = "8394c8f03e515708";

static void
test_initial_keys(void **state)
{
	uint8_t dcid[8], cs[SL_QINITIAL_LEN], ss[SL_QINITIAL_LEN];
	struct sl_qkey k;

	(void)state;
	unhex(dcid_hex, dcid);
	assert_int_equal(sl_qcrypto_initial_secrets(dcid, 8, cs, ss), 0);
	bytes_are(cs, 32,
		  "c00cf151ca5be075ed0ebfb5c80323c4"
		  "2d6b7db67881289af4008f1f6c357aea");
	bytes_are(ss, 32,
		  "3c199828fd139efd216c155ad844cc81"
		  "fb82fa8d7446fa7d78be803acdda951b");
	assert_int_equal(sl_qkey_init(&k, SL_QAEAD_AES_128_GCM, cs, 32, 1), 0);
	bytes_are(k.key, 16, "1f369613dd76d5467730efcbe3b1a22d");
	bytes_are(k.iv, 12, "fa044b2f42a3fd3b46fb255c");
	bytes_are(k.hp, 16, "9f50449e04a0e810283a1e9933adedd2");
	sl_qkey_free(&k);
	assert_int_equal(sl_qkey_init(&k, SL_QAEAD_AES_128_GCM, ss, 32, 1), 0);
	bytes_are(k.key, 16, "cf3a5331653c364c88f0f379b6067e37");
	bytes_are(k.iv, 12, "0ac1493ca1905853b0bba03e");
	bytes_are(k.hp, 16, "c206b8d9b9f0f37644430b490eeaa314");
	sl_qkey_free(&k);
}

/*
 * Protects one packet as RFC 9001 section 5 does: the payload sealed
 * after the header (hdr_len bytes, its packet number the last pn_len),
 * then the header's mask from the sample 4 bytes past the number's
 * start: the first byte's low bits (4 of a long header, 5 of a short)
 * and the number. Returns the packet's length.
 */
static size_t
protect(struct sl_qkey *k, uint8_t *pkt, size_t hdr_len, size_t pn_len,
	uint64_t pn, const uint8_t *payload, size_t n)
{
	uint8_t mask[SL_QMASK_LEN];
	size_t pn_off = hdr_len - pn_len;

	assert_int_equal(
	    sl_qkey_seal(k, pn, pkt, hdr_len, payload, n, pkt + hdr_len), 0);
	assert_int_equal(sl_qkey_mask(k, pkt + pn_off + 4, mask), 0);
	pkt[0] ^= mask[0] & ((pkt[0] & 0x80) ? 0x0f : 0x1f);
	for (size_t i = 0; i < pn_len; i++)
		pkt[pn_off + i] ^= mask[1 + i];
	return hdr_len + n + SL_QTAG_LEN;
}

/* The reverse of protect on a packet of len bytes whose number starts
 * at pn_off, as a receiver does: the mask off (the number's length read
 * from the unmasked first byte), then the payload opened into out.
 * Returns the payload's length, or -1 when it does not open. */
static long
unprotect(struct sl_qkey *k, uint8_t *pkt, size_t len, size_t pn_off,
	  uint64_t pn, uint8_t *out)
{
	uint8_t mask[SL_QMASK_LEN];
	size_t pn_len;

	assert_int_equal(sl_qkey_mask(k, pkt + pn_off + 4, mask), 0);
	pkt[0] ^= mask[0] & ((pkt[0] & 0x80) ? 0x0f : 0x1f);
	pn_len = (size_t)(pkt[0] & 3) + 1;
	for (size_t i = 0; i < pn_len; i++)
		pkt[pn_off + i] ^= mask[1 + i];
	if (sl_qkey_open(k, pn, pkt, pn_off + pn_len, pkt + pn_off + pn_len,
			 len - pn_off - pn_len, out) != 0)
		return -1;
	return (long)(len - pn_off - pn_len - SL_QTAG_LEN);
}

static const char a2_payload[] =
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806048000ffff";

static const char a2_packet[] =
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934";

static void
test_client_initial(void **state)
{
	uint8_t dcid[8], cs[32], ss[32], payload[1162] = {0}, pkt[1200],
					 want[1200], out[1200];
	size_t hl, n;
	struct sl_qkey seal, open;

	(void)state;
	unhex(dcid_hex, dcid);
	assert_int_equal(sl_qcrypto_initial_secrets(dcid, 8, cs, ss), 0);
	/* the CRYPTO frame, then PADDING to a datagram of 1,200 bytes */
	unhex(a2_payload, payload);
	hl = unhex("c300000001088394c8f03e5157080000449e00000002", pkt);
	assert_int_equal(sl_qkey_init(&seal, SL_QAEAD_AES_128_GCM, cs, 32, 1),
			 0);
	n = protect(&seal, pkt, hl, 4, 2, payload, sizeof(payload));
	assert_int_equal(n, 1200);
	bytes_are(pkt + hl, 16, "d1b1c98dd7689fb8ec11d242b123dc9b");
	assert_int_equal(unhex(a2_packet, want), 1200);
	assert_memory_equal(pkt, want, 1200);
	/* the server opens it with the same secret */
	assert_int_equal(sl_qkey_init(&open, SL_QAEAD_AES_128_GCM, cs, 32, 0),
			 0);
	assert_int_equal(unprotect(&open, pkt, 1200, hl - 4, 2, out), 1162);
	assert_memory_equal(out, payload, 1162);
	/* one bit changed anywhere: refused */
	memcpy(pkt, want, 1200);
	pkt[600] ^= 0x01;
	assert_int_equal(unprotect(&open, pkt, 1200, hl - 4, 2, out), -1);
	/* a sealing key does not open, nor an opening one seal */
	assert_int_equal(sl_qkey_open(&seal, 2, pkt, hl, pkt + hl, 100, out),
			 -1);
	assert_int_equal(sl_qkey_seal(&open, 2, pkt, hl, payload, 10, out), -1);
	sl_qkey_free(&seal);
	sl_qkey_free(&open);
}

static void
test_server_initial(void **state)
{
	uint8_t dcid[8], cs[32], ss[32], payload[128], pkt[256], out[256];
	size_t hl, pl, n;
	struct sl_qkey seal, open;

	(void)state;
	unhex(dcid_hex, dcid);
	assert_int_equal(sl_qcrypto_initial_secrets(dcid, 8, cs, ss), 0);
	/* an ACK and a CRYPTO frame holding the ServerHello */
	pl = unhex("02000000000600405a020000560303eefce7f7b37ba1d1632e96677825"
		   "ddf73988cfc79825df566dc5430b9a045a1200130100002e00330024"
		   "001d00209d3c940d89690b84d08a60993c144eca684d1081287c834d"
		   "5311bcf32bb9da1a002b00020304",
		   payload);
	hl = unhex("c1000000010008f067a5502a4262b50040750001", pkt);
	assert_int_equal(sl_qkey_init(&seal, SL_QAEAD_AES_128_GCM, ss, 32, 1),
			 0);
	n = protect(&seal, pkt, hl, 2, 1, payload, pl);
	bytes_are(pkt + hl - 2 + 4, 16, "2cd0991cd25b0aac406a5816b6394100");
	bytes_are(pkt, n,
		  "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0a"
		  "ac406a5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3e"
		  "c2493a1839b3dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3b"
		  "ded74b562bfb19fb84022f8ef4cdd93795d77d06edbb7aaf2f58891850"
		  "abbdca3d20398c276456cbc42158407dd074ee");
	assert_int_equal(sl_qkey_init(&open, SL_QAEAD_AES_128_GCM, ss, 32, 0),
			 0);
	assert_int_equal(unprotect(&open, pkt, n, hl - 2, 1, out), (long)pl);
	assert_memory_equal(out, payload, pl);
	sl_qkey_free(&seal);
	sl_qkey_free(&open);
}

static void
test_retry_tag(void **state)
{
	uint8_t odcid[8], pkt[64], tag[SL_QRETRY_TAG_LEN];
	size_t n;

	(void)state;
	unhex(dcid_hex, odcid);
	/* a Retry to the client of A.2, its token "token" */
	n = unhex("ff000000010008f067a5502a4262b5746f6b656e", pkt);
	assert_int_equal(sl_qcrypto_retry_tag(odcid, 8, pkt, n, tag), 0);
	bytes_are(tag, 16, "04a265ba2eff4d829058fb3f0f2496ba");
	/* another original DCID, another tag */
	odcid[0] ^= 1;
	assert_int_equal(sl_qcrypto_retry_tag(odcid, 8, pkt, n, tag), 0);
	{
		uint8_t want[16];
		unhex("04a265ba2eff4d829058fb3f0f2496ba", want);
		assert_memory_not_equal(tag, want, 16);
	}
	assert_int_equal(sl_qcrypto_retry_tag(odcid, 21, pkt, n, tag), -1);
}

static void
test_chacha20_short_header(void **state)
{
	uint8_t secret[32], next[32], pkt[64], out[64], payload[1] = {0x01};
	struct sl_qkey seal, open;
	uint8_t nonce[SL_QIV_LEN], mask[SL_QMASK_LEN];
	size_t hl, n;

	(void)state;
	unhex(
	    "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b",
	    secret);
	assert_int_equal(sl_qkey_init(&seal, SL_QAEAD_CHACHA20, secret, 32, 1),
			 0);
	bytes_are(seal.key, 32,
		  "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb"
		  "23e1c8");
	bytes_are(seal.iv, 12, "e0459b3474bdd0e44a41c144");
	bytes_are(seal.hp, 32,
		  "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0a"
		  "b7a7a4");
	sl_qkey_nonce(&seal, 654360564, nonce);
	bytes_are(nonce, 12, "e0459b3474bdd0e46d417eb0");
	assert_int_equal(
	    sl_qcrypto_update_secret(SL_QAEAD_CHACHA20, secret, 32, next), 0);
	bytes_are(next, 32,
		  "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b71"
		  "4881f9");
	/* a PING in a short header, its number's 3 low bytes */
	hl = unhex("4200bff4", pkt);
	n = protect(&seal, pkt, hl, 3, 654360564, payload, 1);
	bytes_are(pkt, n, "4cfe4189655e5cd55c41f69080575d7999c25a5bfb");
	assert_int_equal(sl_qkey_mask(&seal, (const uint8_t *)pkt + 5, mask),
			 0);
	bytes_are(mask, 5, "aefefe7d03");
	assert_int_equal(sl_qkey_init(&open, SL_QAEAD_CHACHA20, secret, 32, 0),
			 0);
	assert_int_equal(unprotect(&open, pkt, n, 1, 654360564, out), 1);
	assert_int_equal(out[0], 0x01);
	sl_qkey_free(&seal);
	sl_qkey_free(&open);
}

static void
test_aes256_and_suites(void **state)
{
	uint8_t secret[48], pkt[128], out[128], payload[40];
	struct sl_qkey seal, open;
	size_t n;

	(void)state;
	assert_int_equal(sl_qaead_of_suite(0x1301), SL_QAEAD_AES_128_GCM);
	assert_int_equal(sl_qaead_of_suite(0x1302), SL_QAEAD_AES_256_GCM);
	assert_int_equal(sl_qaead_of_suite(0x1303), SL_QAEAD_CHACHA20);
	assert_int_equal(sl_qaead_of_suite(0x1304), -1);
	assert_int_equal(sl_qaead_secret_len(SL_QAEAD_AES_256_GCM), 48);
	assert_int_equal(sl_qaead_key_len(SL_QAEAD_AES_256_GCM), 32);
	/* no vector in the RFC: a round trip, and the update's secret of
	 * SHA-384's length */
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)i;
	memset(payload, 0x5a, sizeof(payload));
	assert_int_equal(
	    sl_qkey_init(&seal, SL_QAEAD_AES_256_GCM, secret, 48, 1), 0);
	assert_int_equal(
	    sl_qkey_init(&open, SL_QAEAD_AES_256_GCM, secret, 48, 0), 0);
	n = unhex("41abcd", pkt);
	n = protect(&seal, pkt, n, 2, 7, payload, sizeof(payload));
	assert_int_equal(unprotect(&open, pkt, n, 1, 7, out),
			 (long)sizeof(payload));
	assert_memory_equal(out, payload, sizeof(payload));
	assert_int_equal(
	    sl_qcrypto_update_secret(SL_QAEAD_AES_256_GCM, secret, 48, secret),
	    0);
	sl_qkey_free(&seal);
	sl_qkey_free(&open);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_initial_keys),
	    cmocka_unit_test(test_client_initial),
	    cmocka_unit_test(test_server_initial),
	    cmocka_unit_test(test_retry_tag),
	    cmocka_unit_test(test_chacha20_short_header),
	    cmocka_unit_test(test_aes256_and_suites),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
