/* SPDX-License-Identifier: MIT */
/*
 * A QUIC connection on libngtcp2's core (qconn.h): its callbacks, its
 * keys, its handshake.
 */
#include "qconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ngtcp2/ngtcp2.h>
#include <openssl/rand.h>

#include "qcrypto.h"
#include "qroute.h"
#include "qtls.h"

#define CID_LEN 16 /* the connection IDs sluice issues */

struct sl_qconn {
	ngtcp2_conn *conn;
	struct sl_qtls *tls;
	int server;
	int aead;		/* the handshake's suite, -1 until known */
	ngtcp2_crypto_ctx hctx; /* its handshake's and 1-RTT's crypto */
	int tp_done;		/* the peer's transport parameters given */
	int tp_set;		/* ours given to TLS */
	unsigned worker;	/* the first byte of the IDs it issues */
	int keyed;		/* reset tokens under reset_key */
	uint8_t reset_key[32];
	char err[80];
	int liberr;	/* the libngtcp2 error that ended it, 0 */
	void *owner;	/* its endpoint's record of it (qend.c) */
	int app_failed; /* the layer above ended it: app_err says why */
	uint64_t app_err;
	struct sl_qconn_app app;
	struct qstream *streams; /* those with data of ours or open */
};

/* A stream's data of ours, in chunks that never move: libngtcp2 sends
 * again from the bytes it was given until they are acknowledged, so a
 * chunk goes only once all of it is (RFC 9000's retransmission is
 * libngtcp2's; keeping the bytes is ours). */
#define QCHUNK 16384

struct qchunk {
	struct qchunk *next;
	size_t len, cap;
	uint8_t d[];
};

struct qstream {
	struct qstream *next;
	int64_t id;
	struct qchunk *head, *tail;
	uint64_t head_off; /* the stream offset of head->d[0] */
	uint64_t acked, sent, end;
	int fin, fin_sent, blocked;
};

/* The AEADs as libngtcp2's opaque handles: a pointer to their enum. */
static const enum sl_qaead aead_id[] = {
    SL_QAEAD_AES_128_GCM, SL_QAEAD_AES_256_GCM, SL_QAEAD_CHACHA20};

/* The crypto context of an AEAD, with RFC 9001 section 6.6's limits: a
 * key's packets, and the forgeries a connection tolerates. */
static ngtcp2_crypto_ctx
crypto_ctx(enum sl_qaead a)
{
	ngtcp2_crypto_ctx x;

	memset(&x, 0, sizeof(x));
	x.aead.native_handle = (void *)&aead_id[a];
	x.aead.max_overhead = SL_QTAG_LEN;
	x.hp.native_handle = (void *)&aead_id[a];
	x.max_encryption =
	    a == SL_QAEAD_CHACHA20 ? (uint64_t)1 << 62 : (uint64_t)1 << 23;
	x.max_decryption_failure =
	    a == SL_QAEAD_CHACHA20 ? (uint64_t)1 << 36 : (uint64_t)1 << 52;
	return x;
}

static int local_tp(struct sl_qconn *c);

/* ---- the crypto callbacks ---------------------------------------------- */

/* Seals (seal 1) or opens a packet's payload at a nonce libngtcp2 made,
 * by the key's context. */
static int
aead_cb(int seal, uint8_t *dest, const ngtcp2_crypto_aead_ctx *aead_ctx,
	const uint8_t *in, size_t n, const uint8_t *nonce, const uint8_t *aad,
	size_t aadlen)
{
	if (sl_qaead_run(aead_ctx->native_handle, seal, nonce, aad, aadlen, in,
			 n, dest) == 0)
		return 0;
	/* a packet that does not open is dropped, not an error */
	return seal ? NGTCP2_ERR_CALLBACK_FAILURE : NGTCP2_ERR_DECRYPT;
}

static int
cb_encrypt(uint8_t *dest, const ngtcp2_crypto_aead *aead,
	   const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *plaintext,
	   size_t plaintextlen, const uint8_t *nonce, size_t noncelen,
	   const uint8_t *aad, size_t aadlen)
{
	(void)aead;
	(void)noncelen;
	return aead_cb(1, dest, aead_ctx, plaintext, plaintextlen, nonce, aad,
		       aadlen);
}

static int
cb_decrypt(uint8_t *dest, const ngtcp2_crypto_aead *aead,
	   const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *ciphertext,
	   size_t ciphertextlen, const uint8_t *nonce, size_t noncelen,
	   const uint8_t *aad, size_t aadlen)
{
	(void)aead;
	(void)noncelen;
	return aead_cb(0, dest, aead_ctx, ciphertext, ciphertextlen, nonce, aad,
		       aadlen);
}

static int
cb_hp_mask(uint8_t *dest, const ngtcp2_crypto_cipher *hp,
	   const ngtcp2_crypto_cipher_ctx *hp_ctx, const uint8_t *sample)
{
	(void)hp;
	return sl_qhp_run(hp_ctx->native_handle, sample, dest) == 0
		   ? 0
		   : NGTCP2_ERR_CALLBACK_FAILURE;
}

static void
cb_delete_aead_ctx(ngtcp2_conn *conn, ngtcp2_crypto_aead_ctx *ctx, void *ud)
{
	(void)conn;
	(void)ud;
	EVP_CIPHER_CTX_free(ctx->native_handle);
	ctx->native_handle = NULL;
}

static void
cb_delete_cipher_ctx(ngtcp2_conn *conn, ngtcp2_crypto_cipher_ctx *ctx, void *ud)
{
	(void)conn;
	(void)ud;
	EVP_CIPHER_CTX_free(ctx->native_handle);
	ctx->native_handle = NULL;
}

/* A direction's contexts of secret: its AEAD's (to seal, or open), its
 * IV, its header mask's. Returns 0, or -1 (nothing made). */
static int
make_key(enum sl_qaead a, const uint8_t *secret, size_t len, int seal,
	 ngtcp2_crypto_aead_ctx *actx, uint8_t *iv,
	 ngtcp2_crypto_cipher_ctx *hctx)
{
	uint8_t key[32], hp[32];
	int r = -1;

	if (sl_qcrypto_keys(a, secret, len, 1, key, iv, hp) == 0) {
		actx->native_handle = sl_qaead_ctx_new(a, key, seal);
		hctx->native_handle = sl_qhp_ctx_new(a, hp);
		r = actx->native_handle != NULL && hctx->native_handle != NULL
			? 0
			: -1;
		if (r != 0) {
			EVP_CIPHER_CTX_free(actx->native_handle);
			EVP_CIPHER_CTX_free(hctx->native_handle);
		}
	}
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hp, sizeof(hp));
	return r;
}

/* The Initial keys of a client's Destination Connection ID (for a
 * compatible version negotiation's new version, vneg). */
static int
install_initial(struct sl_qconn *c, const ngtcp2_cid *dcid, int vneg,
		uint32_t version)
{
	uint8_t cs[SL_QINITIAL_LEN], ss[SL_QINITIAL_LEN], rxiv[SL_QIV_LEN],
	    txiv[SL_QIV_LEN];
	ngtcp2_crypto_aead_ctx rxa, txa;
	ngtcp2_crypto_cipher_ctx rxh, txh;
	ngtcp2_crypto_ctx ic = crypto_ctx(SL_QAEAD_AES_128_GCM);
	int r;

	if (sl_qcrypto_initial_secrets(dcid->data, dcid->datalen, cs, ss) !=
		0 ||
	    make_key(SL_QAEAD_AES_128_GCM, c->server ? cs : ss, sizeof(cs), 0,
		     &rxa, rxiv, &rxh) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (make_key(SL_QAEAD_AES_128_GCM, c->server ? ss : cs, sizeof(ss), 1,
		     &txa, txiv, &txh) != 0) {
		EVP_CIPHER_CTX_free(rxa.native_handle);
		EVP_CIPHER_CTX_free(rxh.native_handle);
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	OPENSSL_cleanse(cs, sizeof(cs));
	OPENSSL_cleanse(ss, sizeof(ss));
	if (!vneg)
		ngtcp2_conn_set_initial_crypto_ctx(c->conn, &ic);
	r = vneg ? ngtcp2_conn_install_vneg_initial_key(c->conn, version, &rxa,
							rxiv, &rxh, &txa, txiv,
							&txh, SL_QIV_LEN)
		 : ngtcp2_conn_install_initial_key(
		       c->conn, &rxa, rxiv, &rxh, &txa, txiv, &txh, SL_QIV_LEN);
	if (r != 0) {
		EVP_CIPHER_CTX_free(rxa.native_handle);
		EVP_CIPHER_CTX_free(rxh.native_handle);
		EVP_CIPHER_CTX_free(txa.native_handle);
		EVP_CIPHER_CTX_free(txh.native_handle);
	}
	return r;
}

static int
cb_recv_client_initial(ngtcp2_conn *conn, const ngtcp2_cid *dcid, void *ud)
{
	(void)conn;
	return install_initial(ud, dcid, 0, 0);
}

static int
cb_client_initial(ngtcp2_conn *conn, void *ud)
{
	static const uint8_t key[] = NGTCP2_RETRY_KEY_V1;
	static const ngtcp2_crypto_aead retry = {
	    (void *)&aead_id[SL_QAEAD_AES_128_GCM], SL_QTAG_LEN};
	struct sl_qconn *c = ud;
	ngtcp2_crypto_aead_ctx rc;

	/* a client checks a Retry's integrity tag by this AEAD's key, its
	 * context libngtcp2's once given */
	if ((rc.native_handle =
		 sl_qaead_ctx_new(SL_QAEAD_AES_128_GCM, key, 1)) == NULL)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	ngtcp2_conn_set_retry_aead(conn, &retry, &rc);
	if (install_initial(c, ngtcp2_conn_get_dcid(conn), 0, 0) != 0 ||
	    sl_qtls_start(c->tls) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

/* A client sent a Retry: the Initial keys of the server's new
 * connection ID (libngtcp2 has made it the destination). */
static int
cb_recv_retry(ngtcp2_conn *conn, const ngtcp2_pkt_hd *hd, void *ud)
{
	(void)hd;
	return install_initial(ud, ngtcp2_conn_get_dcid(conn), 0, 0);
}

static int
cb_version_negotiation(ngtcp2_conn *conn, uint32_t version,
		       const ngtcp2_cid *client_dcid, void *ud)
{
	(void)conn;
	return install_initial(ud, client_dcid, 1, version);
}

/* The peer's transport parameters to libngtcp2, once TLS has them. */
static int
peer_tp(struct sl_qconn *c)
{
	const uint8_t *tp;
	size_t n;
	int r;

	if (c->tp_done || (tp = sl_qtls_peer_tp(c->tls, &n)) == NULL)
		return 0;
	c->tp_done = 1;
	if ((r = ngtcp2_conn_decode_remote_transport_params(c->conn, tp, n)) !=
	    0) {
		snprintf(c->err, sizeof(c->err), "transport parameters: %s",
			 ngtcp2_strerror(r));
		return r;
	}
	return 0;
}

static int
cb_recv_crypto_data(ngtcp2_conn *conn, ngtcp2_crypto_level level,
		    uint64_t offset, const uint8_t *data, size_t len, void *ud)
{
	struct sl_qconn *c = ud;
	int r;

	(void)offset;
	if (level == NGTCP2_CRYPTO_LEVEL_EARLY)
		return NGTCP2_ERR_CRYPTO;
	if (!c->tp_set && local_tp(c) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	r = sl_qtls_input(c->tls, (enum sl_qlevel)level, data, len);
	if (r < 0) {
		ngtcp2_conn_set_tls_alert(conn, sl_qtls_alert(c->tls));
		if (c->err[0] == '\0')
			snprintf(c->err, sizeof(c->err), "TLS alert %u",
				 sl_qtls_alert(c->tls));
		return NGTCP2_ERR_CRYPTO;
	}
	if ((r == 1 || c->tp_done == 0) && peer_tp(c) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (r == 1 && !ngtcp2_conn_get_handshake_completed(conn)) {
		ngtcp2_conn_handshake_completed(conn);
		if (c->app.established != NULL)
			c->app.established(c->app.arg);
	}
	return 0;
}

static int
cb_update_key(ngtcp2_conn *conn, uint8_t *rx_secret, uint8_t *tx_secret,
	      ngtcp2_crypto_aead_ctx *rx_aead_ctx, uint8_t *rx_iv,
	      ngtcp2_crypto_aead_ctx *tx_aead_ctx, uint8_t *tx_iv,
	      const uint8_t *current_rx_secret,
	      const uint8_t *current_tx_secret, size_t secretlen, void *ud)
{
	struct sl_qconn *c = ud;
	enum sl_qaead a = (enum sl_qaead)c->aead;
	uint8_t key[32];
	int ok;

	(void)conn;
	/* the next generation's secrets and keys; the header keys stay */
	ok = sl_qcrypto_update_secret(a, current_rx_secret, secretlen,
				      rx_secret) == 0 &&
	     sl_qcrypto_update_secret(a, current_tx_secret, secretlen,
				      tx_secret) == 0 &&
	     sl_qcrypto_keys(a, rx_secret, secretlen, 1, key, rx_iv, NULL) ==
		 0 &&
	     (rx_aead_ctx->native_handle = sl_qaead_ctx_new(a, key, 0)) !=
		 NULL &&
	     sl_qcrypto_keys(a, tx_secret, secretlen, 1, key, tx_iv, NULL) ==
		 0 &&
	     (tx_aead_ctx->native_handle = sl_qaead_ctx_new(a, key, 1)) != NULL;
	OPENSSL_cleanse(key, sizeof(key));
	return ok ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

static void
cb_rand(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *rand_ctx)
{
	(void)rand_ctx;
	if (RAND_bytes(dest, (int)destlen) != 1)
		memset(dest, 0, destlen); /* RAND_bytes does not fail seeded */
}

/* A connection ID of c's worker, and its stateless reset token. */
static int
new_cid(struct sl_qconn *c, uint8_t *cid, size_t len, uint8_t *token)
{
	if (sl_qroute_cid(cid, len, c->worker) != 0)
		return -1;
	return c->keyed ? sl_qroute_reset_token(c->reset_key, cid, len, token)
	       : RAND_bytes(token, NGTCP2_STATELESS_RESET_TOKENLEN) == 1 ? 0
									 : -1;
}

static int
cb_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
	   void *ud)
{
	(void)conn;
	if (cidlen > NGTCP2_MAX_CIDLEN || new_cid(ud, cid->data, cidlen, token))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	cid->datalen = cidlen;
	return 0;
}

static int
cb_path_challenge(ngtcp2_conn *conn, uint8_t *data, void *ud)
{
	(void)conn;
	(void)ud;
	return RAND_bytes(data, NGTCP2_PATH_CHALLENGE_DATALEN) == 1
		   ? 0
		   : NGTCP2_ERR_CALLBACK_FAILURE;
}

/* ---- streams ----------------------------------------------------------- */

static struct qstream *
stream_find(const struct sl_qconn *c, int64_t id)
{
	struct qstream *q = c->streams;

	while (q != NULL && q->id != id)
		q = q->next;
	return q;
}

static struct qstream *
stream_new(struct sl_qconn *c, int64_t id)
{
	struct qstream *q = calloc(1, sizeof(*q));

	if (q != NULL) {
		q->id = id;
		q->next = c->streams;
		c->streams = q;
	}
	return q;
}

static void
stream_free(struct sl_qconn *c, int64_t id)
{
	for (struct qstream **pp = &c->streams; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			struct qstream *q = *pp;
			*pp = q->next;
			while (q->head != NULL) {
				struct qchunk *k = q->head;
				q->head = k->next;
				free(k);
			}
			free(q);
			return;
		}
}

static int
cb_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t id,
		    uint64_t offset, const uint8_t *data, size_t len, void *ud,
		    void *sud)
{
	struct sl_qconn *c = ud;

	(void)offset;
	(void)sud;
	if (c->app.recv != NULL &&
	    c->app.recv(c->app.arg, id, data, len,
			(flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	/* taken: the peer may send as much again, unless the layer above
	 * gives a request stream's credit back itself (sl_qconn_consumed) */
	if (c->app.manual && (id & 2) == 0)
		return 0;
	ngtcp2_conn_extend_max_stream_offset(conn, id, len);
	ngtcp2_conn_extend_max_offset(conn, len);
	return 0;
}

static int
cb_acked(ngtcp2_conn *conn, int64_t id, uint64_t offset, uint64_t len, void *ud,
	 void *sud)
{
	struct sl_qconn *c = ud;
	struct qstream *q = stream_find(c, id);

	(void)conn;
	(void)sud;
	/* the layer above may send more on it */
	if (c->app.acked != NULL)
		c->app.acked(c->app.arg, id);
	/* acknowledged in order: the chunks wholly acknowledged go */
	if (q == NULL || offset + len <= q->acked)
		return 0;
	q->acked = offset + len;
	while (q->head != NULL && q->head != q->tail &&
	       q->head_off + q->head->len <= q->acked) {
		struct qchunk *k = q->head;
		q->head = k->next;
		q->head_off += k->len;
		free(k);
	}
	/* all of it acknowledged: the last chunk goes too (an idle
	 * connection's control stream keeps none) */
	if (q->head != NULL && q->head == q->tail && q->acked >= q->end &&
	    q->sent >= q->end) {
		q->head_off = q->end;
		free(q->head);
		q->head = q->tail = NULL;
	}
	return 0;
}

static int
cb_stream_reset(ngtcp2_conn *conn, int64_t id, uint64_t final_size,
		uint64_t app_error, void *ud, void *sud)
{
	struct sl_qconn *c = ud;

	(void)conn;
	(void)final_size;
	(void)sud;
	if (c->app.reset != NULL)
		c->app.reset(c->app.arg, id, app_error);
	return 0;
}

static int
cb_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t id,
		uint64_t app_error, void *ud, void *sud)
{
	struct sl_qconn *c = ud;

	(void)sud;
	/* a stream of the peer's is over: it may open one more (libngtcp2
	 * leaves MAX_STREAMS to its caller; without it a connection would
	 * take its first initial_max_streams_bidi requests and no more) */
	if (!ngtcp2_conn_is_local_stream(conn, id)) {
		if ((id & 2) == 0)
			ngtcp2_conn_extend_max_streams_bidi(conn, 1);
		else
			ngtcp2_conn_extend_max_streams_uni(conn, 1);
	}
	if (c->app.closed != NULL)
		c->app.closed(
		    c->app.arg, id,
		    (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)
			? app_error
			: 0);
	stream_free(c, id);
	return 0;
}

/* ---- the TLS glue's callbacks -------------------------------------------- */

static int
tls_secret(void *arg, enum sl_qlevel lv, int tx, const uint8_t *secret,
	   size_t len, enum sl_qaead aead)
{
	struct sl_qconn *c = arg;
	ngtcp2_crypto_aead_ctx actx;
	ngtcp2_crypto_cipher_ctx hctx;
	uint8_t iv[SL_QIV_LEN];
	int r;

	if (c->aead < 0) {
		c->aead = (int)aead;
		c->hctx = crypto_ctx(aead);
		ngtcp2_conn_set_crypto_ctx(c->conn, &c->hctx);
	}
	if (peer_tp(c) != 0)
		return -1;
	if (make_key(aead, secret, len, tx, &actx, iv, &hctx) != 0) {
		snprintf(c->err, sizeof(c->err), "keys: no memory");
		return -1;
	}
	if (lv == SL_QL_HANDSHAKE)
		r = tx ? ngtcp2_conn_install_tx_handshake_key(
			     c->conn, &actx, iv, SL_QIV_LEN, &hctx)
		       : ngtcp2_conn_install_rx_handshake_key(
			     c->conn, &actx, iv, SL_QIV_LEN, &hctx);
	else
		r = tx ? ngtcp2_conn_install_tx_key(c->conn, secret, len, &actx,
						    iv, SL_QIV_LEN, &hctx)
		       : ngtcp2_conn_install_rx_key(c->conn, secret, len, &actx,
						    iv, SL_QIV_LEN, &hctx);
	if (r != 0) {
		EVP_CIPHER_CTX_free(actx.native_handle);
		EVP_CIPHER_CTX_free(hctx.native_handle);
		snprintf(c->err, sizeof(c->err), "keys: %s",
			 ngtcp2_strerror(r));
		return -1;
	}
	return 0;
}

static int
tls_crypto(void *arg, enum sl_qlevel lv, const uint8_t *p, size_t n)
{
	struct sl_qconn *c = arg;

	return ngtcp2_conn_submit_crypto_data(c->conn, (ngtcp2_crypto_level)lv,
					      p, n) == 0
		   ? 0
		   : -1;
}

static const struct sl_qtls_ops tls_ops = {tls_secret, tls_crypto};

/* ---- a connection ------------------------------------------------------ */

static void
callbacks(ngtcp2_callbacks *cb, int server)
{
	memset(cb, 0, sizeof(*cb));
	if (server)
		cb->recv_client_initial = cb_recv_client_initial;
	else {
		cb->client_initial = cb_client_initial;
		cb->recv_retry = cb_recv_retry;
	}
	cb->recv_crypto_data = cb_recv_crypto_data;
	cb->encrypt = cb_encrypt;
	cb->decrypt = cb_decrypt;
	cb->hp_mask = cb_hp_mask;
	cb->rand = cb_rand;
	cb->get_new_connection_id = cb_new_cid;
	cb->update_key = cb_update_key;
	cb->delete_crypto_aead_ctx = cb_delete_aead_ctx;
	cb->delete_crypto_cipher_ctx = cb_delete_cipher_ctx;
	cb->get_path_challenge_data = cb_path_challenge;
	cb->version_negotiation = cb_version_negotiation;
	cb->recv_stream_data = cb_recv_stream_data;
	cb->acked_stream_data_offset = cb_acked;
	cb->stream_reset = cb_stream_reset;
	cb->stream_close = cb_stream_close;
}

/* What sluice offers a peer (doc/http3.md will list them as keys). */
static void
params(ngtcp2_transport_params *p)
{
	ngtcp2_transport_params_default(p);
	p->initial_max_streams_bidi = 100;
	p->initial_max_streams_uni = 3;
	p->initial_max_data = 1024 * 1024;
	p->initial_max_stream_data_bidi_local = 256 * 1024;
	p->initial_max_stream_data_bidi_remote = 256 * 1024;
	p->initial_max_stream_data_uni = 256 * 1024;
	p->max_idle_timeout = 30 * NGTCP2_SECONDS;
}

static ngtcp2_path
npath(const struct sl_qpath *p)
{
	ngtcp2_path np;

	np.local.addr = (struct sockaddr *)(uintptr_t)p->local;
	np.local.addrlen = p->local_len;
	np.remote.addr = (struct sockaddr *)(uintptr_t)p->remote;
	np.remote.addrlen = p->remote_len;
	np.user_data = NULL;
	return np;
}

/* c's transport parameters, encoded for its TLS: a client's at once, a
 * server's once libngtcp2 has read the client's first packet (its
 * version information names the version negotiated then). */
static int
local_tp(struct sl_qconn *c)
{
	uint8_t tp[512];
	ngtcp2_ssize n =
	    ngtcp2_conn_encode_local_transport_params(c->conn, tp, sizeof(tp));

	if (n < 0 || sl_qtls_set_tp(c->tls, tp, (size_t)n) != 0)
		return -1;
	c->tp_set = 1;
	return 0;
}

/* c's TLS. */
static int
tls_make(struct sl_qconn *c, SSL_CTX *ctx, const char *sni)
{
	if ((c->tls = sl_qtls_new(ctx, c->server, sni, NULL, 0, &tls_ops, c)) ==
		NULL ||
	    (!c->server && local_tp(c) != 0))
		return -1;
	ngtcp2_conn_set_tls_native_handle(c->conn, sl_qtls_ssl(c->tls));
	return 0;
}

struct sl_qconn *
sl_qconn_accept(SSL_CTX *ctx, const struct sl_qconn_ids *ids,
		const struct sl_qpath *path, const uint8_t *pkt, size_t n,
		uint64_t now)
{
	return sl_qconn_accept_retried(ctx, ids, NULL, path, pkt, n, now);
}

struct sl_qconn *
sl_qconn_accept_retried(SSL_CTX *ctx, const struct sl_qconn_ids *ids,
			const struct sl_qretried *retried,
			const struct sl_qpath *path, const uint8_t *pkt,
			size_t n, uint64_t now)
{
	struct sl_qconn *c;
	ngtcp2_pkt_hd hd;
	ngtcp2_callbacks cb;
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	ngtcp2_cid scid;
	ngtcp2_path np = npath(path);

	if (ngtcp2_accept(&hd, pkt, n) != 0 ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->server = 1;
	c->aead = -1;
	c->worker = ids->worker;
	if (ids->reset_key != NULL) {
		memcpy(c->reset_key, ids->reset_key, sizeof(c->reset_key));
		c->keyed = 1;
	}
	callbacks(&cb, 1);
	ngtcp2_settings_default(&s);
	s.initial_ts = now;
	/* a handshake not done by then ends (one that never sends its
	 * Finished holds a connection and its address's handshake slot,
	 * qend.c, until then, not for the idle timeout) */
	s.handshake_timeout = SL_QCONN_HANDSHAKE_NS;
	params(&p);
	if (ids->max_streams > 0)
		p.initial_max_streams_bidi = ids->max_streams;
	p.original_dcid = hd.dcid;
	if (retried != NULL) {
		/* the client's first DCID, and the ID the Retry gave it,
		 * which this Initial is sent to (RFC 9000 7.3) */
		ngtcp2_cid_init(&p.original_dcid, retried->odcid,
				retried->odcid_len);
		ngtcp2_cid_init(&p.retry_scid, retried->rscid,
				retried->rscid_len);
		p.retry_scid_present = 1;
	}
	p.stateless_reset_token_present = 1;
	scid.datalen = CID_LEN;
	if (new_cid(c, scid.data, CID_LEN, p.stateless_reset_token) != 0) {
		sl_qconn_free(c);
		return NULL;
	}
	/* libngtcp2 0.12 leaves a server's initial_source_connection_id to
	 * it, and a client refuses parameters without it */
	p.initial_scid = scid;
	if (ngtcp2_conn_server_new(&c->conn, &hd.scid, &scid, &np, hd.version,
				   &cb, &s, &p, NULL, c) != 0 ||
	    tls_make(c, ctx, NULL) != 0 ||
	    sl_qconn_read(c, path, pkt, n, now) != 0) {
		sl_qconn_free(c);
		return NULL;
	}
	return c;
}

struct sl_qconn *
sl_qconn_connect(SSL_CTX *ctx, const char *sni, const struct sl_qpath *path,
		 uint64_t now)
{
	struct sl_qconn *c = calloc(1, sizeof(*c));
	ngtcp2_callbacks cb;
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	ngtcp2_cid dcid, scid;
	ngtcp2_path np = npath(path);

	if (c == NULL)
		return NULL;
	c->aead = -1;
	callbacks(&cb, 0);
	ngtcp2_settings_default(&s);
	s.initial_ts = now;
	params(&p);
	dcid.datalen = scid.datalen = CID_LEN;
	if (RAND_bytes(dcid.data, CID_LEN) != 1 ||
	    RAND_bytes(scid.data, CID_LEN) != 1 ||
	    ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &np,
				   NGTCP2_PROTO_VER_V1, &cb, &s, &p, NULL,
				   c) != 0 ||
	    tls_make(c, ctx, sni) != 0) {
		sl_qconn_free(c);
		return NULL;
	}
	return c;
}

void
sl_qconn_free(struct sl_qconn *c)
{
	if (c == NULL)
		return;
	while (c->streams != NULL)
		stream_free(c, c->streams->id);
	ngtcp2_conn_del(c->conn); /* its keys, by the delete callbacks */
	sl_qtls_free(c->tls);
	OPENSSL_cleanse(c->reset_key, sizeof(c->reset_key));
	free(c);
}

int
sl_qconn_read(struct sl_qconn *c, const struct sl_qpath *path,
	      const uint8_t *pkt, size_t n, uint64_t now)
{
	ngtcp2_path np = npath(path);
	ngtcp2_pkt_info pi;
	int r;

	memset(&pi, 0, sizeof(pi));
	if ((r = ngtcp2_conn_read_pkt(c->conn, &np, &pi, pkt, n, now)) == 0)
		return 0;
	c->liberr = r;
	if (c->err[0] == '\0')
		snprintf(c->err, sizeof(c->err), "%s", ngtcp2_strerror(r));
	return -1;
}

/* The stream to send from next: data or an end not yet given to
 * libngtcp2, not blocked by flow control in this write. */
static struct qstream *
stream_ready(const struct sl_qconn *c)
{
	for (struct qstream *q = c->streams; q != NULL; q = q->next)
		if (!q->blocked &&
		    (q->sent < q->end || (q->fin && !q->fin_sent)))
			return q;
	return NULL;
}

/* The bytes of q not yet given to libngtcp2, as vectors into its
 * chunks (at most max): their number. */
static size_t
stream_vecs(const struct qstream *q, ngtcp2_vec *v, size_t max)
{
	uint64_t off = q->head_off;
	size_t n = 0;

	for (const struct qchunk *k = q->head; k != NULL && n < max;
	     off += k->len, k = k->next) {
		if (off + k->len <= q->sent)
			continue;
		v[n].base =
		    (uint8_t *)(uintptr_t)(k->d +
					   (q->sent > off ? q->sent - off : 0));
		v[n].len =
		    (size_t)(off + k->len - (q->sent > off ? q->sent : off));
		n++;
	}
	return n;
}

long
sl_qconn_write(struct sl_qconn *c, uint8_t *out, size_t room, uint64_t now,
	       struct sockaddr_storage *to, socklen_t *to_len)
{
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	ngtcp2_ssize n, took;

	ngtcp2_path_storage_zero(&ps);
	for (struct qstream *q = c->streams; q != NULL; q = q->next)
		q->blocked = 0;
	for (;;) {
		/* the streams' data coalesced into one packet (MORE), then
		 * the packet finished without a stream */
		struct qstream *q = stream_ready(c);
		ngtcp2_vec v[8];
		size_t nv = 0;
		uint32_t fl = NGTCP2_WRITE_STREAM_FLAG_MORE;

		if (q != NULL) {
			nv = stream_vecs(q, v, sizeof(v) / sizeof(v[0]));
			if (q->fin)
				fl |= NGTCP2_WRITE_STREAM_FLAG_FIN;
		}
		took = -1;
		n = ngtcp2_conn_writev_stream(
		    c->conn, &ps.path, &pi, out, room, &took,
		    q != NULL ? fl : 0, q != NULL ? q->id : -1, v, nv, now);
		if (q != NULL && took >= 0) {
			q->sent += (uint64_t)took;
			if (q->fin && q->sent == q->end)
				q->fin_sent = 1;
		}
		if (n == NGTCP2_ERR_WRITE_MORE)
			continue;
		if (q != NULL && (n == NGTCP2_ERR_STREAM_DATA_BLOCKED ||
				  n == NGTCP2_ERR_STREAM_SHUT_WR)) {
			q->blocked = 1;
			continue;
		}
		break;
	}
	if (n >= 0) {
		if (to != NULL && n > 0) {
			memcpy(to, ps.path.remote.addr, ps.path.remote.addrlen);
			*to_len = (socklen_t)ps.path.remote.addrlen;
		}
		return (long)n;
	}
	c->liberr = (int)n;
	if (c->err[0] == '\0')
		snprintf(c->err, sizeof(c->err), "%s", ngtcp2_strerror((int)n));
	return -1;
}

void
sl_qconn_set_app(struct sl_qconn *c, const struct sl_qconn_app *app)
{
	c->app = *app;
}

int64_t
sl_qconn_open(struct sl_qconn *c, int bidi)
{
	int64_t id;

	if ((bidi ? ngtcp2_conn_open_bidi_stream(c->conn, &id, NULL)
		  : ngtcp2_conn_open_uni_stream(c->conn, &id, NULL)) != 0)
		return -1;
	return id;
}

int
sl_qconn_send(struct sl_qconn *c, int64_t id, const uint8_t *d, size_t n,
	      int fin)
{
	struct qstream *q = stream_find(c, id);

	if (q == NULL && (q = stream_new(c, id)) == NULL)
		return -1;
	if (q->fin)
		return -1;
	while (n > 0) {
		size_t k;
		if (q->tail == NULL || q->tail->len == q->tail->cap) {
			/* a stream's first chunk as large as its first write
			 * (a control stream's SETTINGS, a response's HEADERS:
			 * what an idle connection keeps is small), the next
			 * ones QCHUNK */
			size_t cap = q->tail == NULL && n < QCHUNK
					 ? (n + 255) & ~(size_t)255
					 : QCHUNK;
			struct qchunk *ch = malloc(sizeof(*ch) + cap);
			if (ch == NULL)
				return -1;
			ch->next = NULL;
			ch->len = 0;
			ch->cap = cap;
			if (q->tail != NULL)
				q->tail->next = ch;
			else {
				q->head = ch;
				q->head_off = q->end;
			}
			q->tail = ch;
		}
		k = q->tail->cap - q->tail->len < n
			? q->tail->cap - q->tail->len
			: n;
		memcpy(q->tail->d + q->tail->len, d, k);
		q->tail->len += k;
		q->end += k;
		d += k;
		n -= k;
	}
	q->fin = fin;
	return 0;
}

size_t
sl_qconn_unacked(const struct sl_qconn *c, int64_t id)
{
	const struct qstream *q = stream_find(c, id);

	return q != NULL ? (size_t)(q->end - q->acked) : 0;
}

int
sl_qconn_shutdown(struct sl_qconn *c, int64_t id, uint64_t app_error)
{
	return ngtcp2_conn_shutdown_stream(c->conn, id, app_error) == 0 ? 0
									: -1;
}

void
sl_qconn_keep_alive(struct sl_qconn *c, uint64_t ns)
{
	ngtcp2_conn_set_keep_alive_timeout(c->conn, ns > 0 ? (ngtcp2_duration)ns
							   : UINT64_MAX);
}

uint64_t
sl_qconn_expiry(struct sl_qconn *c)
{
	return ngtcp2_conn_get_expiry(c->conn);
}

int
sl_qconn_expire(struct sl_qconn *c, uint64_t now)
{
	int r = ngtcp2_conn_handle_expiry(c->conn, now);

	if (r == 0)
		return 0;
	c->liberr = r;
	snprintf(c->err, sizeof(c->err), "%s", ngtcp2_strerror(r));
	return -1;
}

int
sl_qconn_established(const struct sl_qconn *c)
{
	return ngtcp2_conn_get_handshake_completed(c->conn);
}

const char *
sl_qconn_error(const struct sl_qconn *c)
{
	return c->err;
}

SSL *
sl_qconn_ssl(const struct sl_qconn *c)
{
	return sl_qtls_ssl(c->tls);
}

const char *
sl_quic_version(void)
{
	return ngtcp2_version(0)->version_str;
}

/* ---- what an endpoint writes without a connection ---------------------- */

int
sl_qconn_peek(const uint8_t *pkt, size_t n, struct sl_qpeek *p)
{
	size_t dl, sl;

	/* decoded here, not by libngtcp2's version-and-IDs decoder, which
	 * refuses a packet whose QUIC bit is clear: libngtcp2 0.12 always
	 * offers to grease that bit (RFC 9287), and a client that does so
	 * after the handshake (gtlsclient) must still find its connection */
	if (n == 0)
		return -1;
	memset(p, 0, sizeof(*p));
	if (!(pkt[0] & 0x80)) {
		if (n < 1 + CID_LEN)
			return -1;
		p->dcid = pkt + 1;
		p->dcid_len = CID_LEN;
		return 0;
	}
	if (n < 7 || (dl = pkt[5]) + 7 > n || (sl = pkt[6 + dl]) + dl + 7 > n)
		return -1;
	p->version = (uint32_t)pkt[1] << 24 | (uint32_t)pkt[2] << 16 |
		     (uint32_t)pkt[3] << 8 | pkt[4];
	p->dcid = pkt + 6;
	p->dcid_len = dl;
	p->scid = pkt + 7 + dl;
	p->scid_len = sl;
	if (p->version == 0) /* a Version Negotiation: never a client's */
		return -1;
	if (p->version != NGTCP2_PROTO_VER_V1)
		return 1; /* any IDs: RFC 8999 lets a version have its own */
	return dl > NGTCP2_MAX_CIDLEN || sl > NGTCP2_MAX_CIDLEN ? -1 : 0;
}

int
sl_qconn_initial(const uint8_t *pkt, size_t n, struct sl_qinitial *i)
{
	ngtcp2_pkt_hd hd;

	if (ngtcp2_accept(&hd, pkt, n) != 0)
		return -1;
	i->version = hd.version;
	memcpy(i->dcid, hd.dcid.data, hd.dcid.datalen);
	i->dcid_len = hd.dcid.datalen;
	memcpy(i->scid, hd.scid.data, hd.scid.datalen);
	i->scid_len = hd.scid.datalen;
	i->token = hd.token.base;
	i->token_len = hd.token.len;
	return 0;
}

long
sl_qconn_write_vn(uint8_t *out, size_t room, const struct sl_qpeek *p)
{
	static const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
	uint8_t r;

	if (RAND_bytes(&r, 1) != 1)
		r = 0;
	/* the client's IDs swapped */
	return (long)ngtcp2_pkt_write_version_negotiation(
	    out, room, r, p->scid, p->scid_len, p->dcid, p->dcid_len, versions,
	    sizeof(versions) / sizeof(versions[0]));
}

long
sl_qconn_write_retry(uint8_t *out, size_t room, const struct sl_qinitial *i,
		     const uint8_t *rscid, size_t rscid_len,
		     const uint8_t *token, size_t token_len)
{
	static const uint8_t key[] = NGTCP2_RETRY_KEY_V1;
	ngtcp2_crypto_ctx x = crypto_ctx(SL_QAEAD_AES_128_GCM);
	ngtcp2_crypto_aead_ctx actx;
	ngtcp2_cid dcid, scid, odcid;
	ngtcp2_ssize n;

	if ((actx.native_handle =
		 sl_qaead_ctx_new(SL_QAEAD_AES_128_GCM, key, 1)) == NULL)
		return -1;
	ngtcp2_cid_init(&dcid, i->scid, i->scid_len);
	ngtcp2_cid_init(&scid, rscid, rscid_len);
	ngtcp2_cid_init(&odcid, i->dcid, i->dcid_len);
	n = ngtcp2_pkt_write_retry(out, room, i->version, &dcid, &scid, &odcid,
				   token, token_len, cb_encrypt, &x.aead,
				   &actx);
	EVP_CIPHER_CTX_free(actx.native_handle);
	return n < 0 ? -1 : (long)n;
}

long
sl_qconn_write_reset(uint8_t *out, size_t room, const uint8_t *token,
		     size_t trigger_len)
{
	uint8_t rnd[64];
	/* smaller than what it answers, and not below the 21 bytes RFC 9000
	 * 10.3 requires: a short packet of ours is never mistaken */
	size_t n = trigger_len > 42 ? 41 : trigger_len - 1;
	ngtcp2_ssize w;

	if (trigger_len < 22 ||
	    n - NGTCP2_STATELESS_RESET_TOKENLEN > sizeof(rnd) ||
	    RAND_bytes(rnd, (int)(n - NGTCP2_STATELESS_RESET_TOKENLEN)) != 1)
		return -1;
	w = ngtcp2_pkt_write_stateless_reset(
	    out, room < n ? room : n, token, rnd,
	    n - NGTCP2_STATELESS_RESET_TOKENLEN);
	return w < 0 ? -1 : (long)w;
}

size_t
sl_qconn_scids(const struct sl_qconn *c, uint8_t (*ids)[20], uint8_t *lens,
	       size_t max)
{
	size_t n = ngtcp2_conn_get_num_scid(c->conn);
	ngtcp2_cid *cids = calloc(n > 0 ? n : 1, sizeof(*cids));

	if (cids == NULL)
		return 0;
	n = ngtcp2_conn_get_scid(c->conn, cids);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		memcpy(ids[i], cids[i].data, cids[i].datalen);
		lens[i] = (uint8_t)cids[i].datalen;
	}
	free(cids);
	return n;
}

long
sl_qconn_write_close(struct sl_qconn *c, uint8_t *out, size_t room,
		     uint64_t now)
{
	ngtcp2_connection_close_error cc;
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	ngtcp2_ssize n;

	/* nothing to say: the peer closed (draining), or it was idle */
	if (c->liberr == NGTCP2_ERR_DRAINING ||
	    c->liberr == NGTCP2_ERR_IDLE_CLOSE ||
	    ngtcp2_conn_is_in_draining_period(c->conn))
		return 0;
	ngtcp2_connection_close_error_default(&cc);
	if (c->app_failed)
		ngtcp2_connection_close_error_set_application_error(
		    &cc, c->app_err, NULL, 0);
	else if (c->liberr == NGTCP2_ERR_CRYPTO)
		ngtcp2_connection_close_error_set_transport_error_tls_alert(
		    &cc, sl_qtls_alert(c->tls), NULL, 0);
	else if (c->liberr != 0)
		ngtcp2_connection_close_error_set_transport_error_liberr(
		    &cc, c->liberr, NULL, 0);
	ngtcp2_path_storage_zero(&ps);
	n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, out,
					       room, &cc, now);
	return n < 0 ? 0 : (long)n;
}

const struct sockaddr *
sl_qconn_remote(const struct sl_qconn *c, socklen_t *len)
{
	const ngtcp2_path *p = ngtcp2_conn_get_path(c->conn);

	*len = (socklen_t)p->remote.addrlen;
	return p->remote.addr;
}

void
sl_qconn_fail(struct sl_qconn *c, uint64_t app_error)
{
	if (c->app_failed)
		return;
	c->app_failed = 1;
	c->app_err = app_error;
	if (c->err[0] == '\0')
		snprintf(c->err, sizeof(c->err), "application error 0x%llx",
			 (unsigned long long)app_error);
}

int
sl_qconn_app_failed(const struct sl_qconn *c)
{
	return c->app_failed;
}

void
sl_qconn_consumed(struct sl_qconn *c, int64_t id, size_t n)
{
	if (n == 0)
		return;
	ngtcp2_conn_extend_max_stream_offset(c->conn, id, n);
	ngtcp2_conn_extend_max_offset(c->conn, n);
}

void
sl_qconn_stop(struct sl_qconn *c, int64_t id, uint64_t app_error)
{
	(void)ngtcp2_conn_shutdown_stream_read(c->conn, id, app_error);
}

uint64_t
sl_qconn_pto(struct sl_qconn *c)
{
	return ngtcp2_conn_get_pto(c->conn);
}

int
sl_qconn_peer_close(struct sl_qconn *c, uint64_t *code, int *app)
{
	ngtcp2_connection_close_error cc;

	if (c->liberr != NGTCP2_ERR_DRAINING)
		return 0;
	ngtcp2_conn_get_connection_close_error(c->conn, &cc);
	*code = cc.error_code;
	*app = cc.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION;
	return 1;
}

void
sl_qconn_set_owner(struct sl_qconn *c, void *owner)
{
	c->owner = owner;
}

void *
sl_qconn_owner(const struct sl_qconn *c)
{
	return c->owner;
}
