/* SPDX-License-Identifier: MIT */
/*
 * QUIC's TLS 1.3 handshake on OpenSSL 3.0 (qtls.h).
 */
#include "qtls.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl3.h>
#include <openssl/tls1.h>

#define TP_EXT	   0x39	 /* quic_transport_parameters, RFC 9001 8.2 */
#define REC_MAX	   16384 /* a TLS record's plaintext, at most */
#define A_INTERNAL 80	 /* internal_error */
#define A_MISSING  109	 /* missing_extension */
#define A_NO_PROTO 120	 /* no_application_protocol */

struct sl_qtls {
	SSL *ssl;
	BIO *rbio, *wbio; /* OpenSSL's records in (ours), out (dropped) */
	int server;
	const struct sl_qtls_ops *ops;
	void *arg;
	enum sl_qlevel wlevel; /* where OpenSSL's messages go now */
	/* the peer's bytes at each level, made records OpenSSL opens:
	 * protected with the peer's secret, numbered from 0 a key */
	struct {
		struct sl_qkey key;
		uint64_t seq;
		int set;
	} rx[SL_QL_N];
	uint8_t *tp, *peer_tp;
	size_t tp_len, peer_tp_len;
	int failed;    /* a callback of ours failed */
	uint8_t alert; /* the alert OpenSSL sent, or ours */
};

static int qtls_idx = -1;
static pthread_once_t qtls_once = PTHREAD_ONCE_INIT;

static void
qtls_index(void)
{
	qtls_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static struct sl_qtls *
of(const SSL *ssl)
{
	return SSL_get_ex_data(ssl, qtls_idx);
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* The AEAD of the suite being negotiated. */
static int
suite_aead(const SSL *ssl)
{
	const SSL_CIPHER *c = SSL_get_pending_cipher(ssl);

	if (c == NULL)
		c = SSL_get_current_cipher(ssl);
	return c != NULL ? sl_qaead_of_suite(SSL_CIPHER_get_protocol_id(c))
			 : -1;
}

/*
 * OpenSSL's key log: "LABEL <client random> <secret>", a line a secret
 * as it derives them. The handshake's and the first application
 * secrets of both sides are QUIC's keys; one of ours moves the level
 * OpenSSL's next messages go at, one of the peer's makes the records its
 * bytes at that level are given to OpenSSL in.
 */
static void
keylog(const SSL *ssl, const char *line)
{
	static const struct {
		const char *label;
		enum sl_qlevel lv;
		int client;
	} t[] = {
	    {"CLIENT_HANDSHAKE_TRAFFIC_SECRET ", SL_QL_HANDSHAKE, 1},
	    {"SERVER_HANDSHAKE_TRAFFIC_SECRET ", SL_QL_HANDSHAKE, 0},
	    {"CLIENT_TRAFFIC_SECRET_0 ", SL_QL_APP, 1},
	    {"SERVER_TRAFFIC_SECRET_0 ", SL_QL_APP, 0},
	};
	struct sl_qtls *q = of(ssl);
	uint8_t secret[SL_QSECRET_MAX];
	const char *p = NULL;
	size_t n = 0, i;
	int aead, tx;

	if (q == NULL)
		return;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strncmp(line, t[i].label, strlen(t[i].label)) == 0) {
			p = line + strlen(t[i].label);
			break;
		}
	if (p == NULL || (p = strchr(p, ' ')) == NULL)
		return; /* another secret (the exporter's) */
	for (p++; hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && n < sizeof(secret);
	     p += 2)
		secret[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
	aead = suite_aead(ssl);
	if (aead < 0 || n != sl_qaead_secret_len((enum sl_qaead)aead)) {
		q->failed = 1;
		goto out;
	}
	tx = t[i].client != q->server;
	if (tx)
		q->wlevel = t[i].lv;
	else {
		sl_qkey_free(&q->rx[t[i].lv].key);
		if (sl_qkey_init_tls(&q->rx[t[i].lv].key, (enum sl_qaead)aead,
				     secret, n, 1) != 0) {
			q->failed = 1;
			goto out;
		}
		q->rx[t[i].lv].seq = 0;
		q->rx[t[i].lv].set = 1;
	}
	if (q->ops->secret(q->arg, t[i].lv, tx, secret, n,
			   (enum sl_qaead)aead) != 0)
		q->failed = 1;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* OpenSSL's message callback: a handshake message it wrote is ours to
 * send in CRYPTO frames; an alert it wrote is the failure's. */
static void
msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
       SSL *ssl, void *arg)
{
	struct sl_qtls *q = of(ssl);

	(void)version;
	(void)arg;
	if (!write_p || q == NULL)
		return;
	if (content_type == SSL3_RT_HANDSHAKE) {
		if (q->ops->crypto(q->arg, q->wlevel, buf, len) != 0)
			q->failed = 1;
	} else if (content_type == SSL3_RT_ALERT && len >= 2)
		q->alert = ((const uint8_t *)buf)[1];
}

static int
tp_add(SSL *ssl, unsigned int ext_type, unsigned int context,
       const unsigned char **out, size_t *outlen, X509 *x, size_t chainidx,
       int *al, void *add_arg)
{
	struct sl_qtls *q = of(ssl);

	(void)ext_type;
	(void)context;
	(void)x;
	(void)chainidx;
	(void)add_arg;
	if (q == NULL) {
		*al = A_INTERNAL;
		return -1;
	}
	*out = q->tp;
	*outlen = q->tp_len;
	return 1;
}

static int
tp_parse(SSL *ssl, unsigned int ext_type, unsigned int context,
	 const unsigned char *in, size_t inlen, X509 *x, size_t chainidx,
	 int *al, void *parse_arg)
{
	struct sl_qtls *q = of(ssl);

	(void)ext_type;
	(void)context;
	(void)x;
	(void)chainidx;
	(void)parse_arg;
	if (q == NULL || q->peer_tp != NULL ||
	    (q->peer_tp = malloc(inlen > 0 ? inlen : 1)) == NULL) {
		*al = A_INTERNAL;
		return 0;
	}
	if (inlen > 0)
		memcpy(q->peer_tp, in, inlen);
	q->peer_tp_len = inlen;
	return 1;
}

/* A server's ALPN: h3, or the handshake refused (no_application_protocol,
 * RFC 9001 section 8.1). */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h3[] = "\x02h3";
	unsigned char *o;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&o, outlen, h3, sizeof(h3) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

int
sl_qtls_ctx_setup(SSL_CTX *ctx, int server)
{
	pthread_once(&qtls_once, qtls_index);
	if (qtls_idx < 0 ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		return -1;
	/* no change_cipher_spec records (RFC 9001 section 8.4), no early
	 * data */
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_keylog_callback(ctx, keylog);
	SSL_CTX_set_msg_callback(ctx, msg_cb);
	if (SSL_CTX_add_custom_ext(ctx, TP_EXT,
				   SSL_EXT_CLIENT_HELLO |
				       SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS,
				   tp_add, NULL, NULL, tp_parse, NULL) != 1)
		return -1;
	if (server)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return 0;
}

struct sl_qtls *
sl_qtls_new(SSL_CTX *ctx, int server, const char *sni, const uint8_t *tp,
	    size_t tp_len, const struct sl_qtls_ops *ops, void *arg)
{
	static const unsigned char h3[] = "\x02h3";
	struct sl_qtls *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->server = server;
	q->ops = ops;
	q->arg = arg;
	if ((q->tp = malloc(tp_len > 0 ? tp_len : 1)) == NULL)
		goto fail;
	q->rbio = BIO_new(BIO_s_mem());
	q->wbio = BIO_new(BIO_s_mem());
	if (q->rbio == NULL || q->wbio == NULL ||
	    (q->ssl = SSL_new(ctx)) == NULL) {
		BIO_free(q->rbio);
		BIO_free(q->wbio);
		goto fail;
	}
	SSL_set_bio(q->ssl, q->rbio, q->wbio); /* the SSL's from now on */
	if (tp_len > 0) /* a server's come later (sl_qtls_set_tp) */
		memcpy(q->tp, tp, tp_len);
	q->tp_len = tp_len;
	if (SSL_set_ex_data(q->ssl, qtls_idx, q) != 1)
		goto fail;
	if (server)
		SSL_set_accept_state(q->ssl);
	else {
		SSL_set_connect_state(q->ssl);
		if ((sni != NULL &&
		     SSL_set_tlsext_host_name(q->ssl, sni) != 1) ||
		    SSL_set_alpn_protos(q->ssl, h3, sizeof(h3) - 1) != 0)
			goto fail;
	}
	return q;
fail:
	sl_qtls_free(q);
	return NULL;
}

int
sl_qtls_set_tp(struct sl_qtls *q, const uint8_t *tp, size_t tp_len)
{
	uint8_t *p = malloc(tp_len > 0 ? tp_len : 1);

	if (p == NULL)
		return -1;
	if (tp_len > 0)
		memcpy(p, tp, tp_len);
	free(q->tp);
	q->tp = p;
	q->tp_len = tp_len;
	return 0;
}

void
sl_qtls_free(struct sl_qtls *q)
{
	if (q == NULL)
		return;
	/* QUIC closes the connection, TLS sends no close_notify: a
	 * handshake that ended well keeps its session resumable (OpenSSL
	 * drops a session freed without a shutdown as a bad one) */
	if (q->ssl != NULL && SSL_is_init_finished(q->ssl) && !q->failed &&
	    q->alert == 0)
		SSL_set_shutdown(q->ssl,
				 SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(q->ssl); /* and its BIOs */
	for (int i = 0; i < SL_QL_N; i++)
		sl_qkey_free(&q->rx[i].key);
	free(q->tp);
	free(q->peer_tp);
	free(q);
}

/* The peer's bytes at lv as TLS records into OpenSSL's input. */
static int
feed(struct sl_qtls *q, enum sl_qlevel lv, const uint8_t *p, size_t n)
{
	uint8_t rec[5 + REC_MAX + 1 + SL_QTAG_LEN], in[REC_MAX + 1];

	while (n > 0) {
		size_t k = n < REC_MAX ? n : REC_MAX, len;

		if (lv == SL_QL_INITIAL) {
			/* TLSPlaintext: the Initial level has no keys */
			rec[0] = SSL3_RT_HANDSHAKE;
			len = k;
			memcpy(rec + 5, p, k);
		} else {
			/* TLSCiphertext: the bytes and their inner type,
			 * sealed with the record header as associated data */
			if (!q->rx[lv].set)
				return -1;
			rec[0] = SSL3_RT_APPLICATION_DATA;
			len = k + 1 + SL_QTAG_LEN;
			rec[3] = (uint8_t)(len >> 8);
			rec[4] = (uint8_t)len;
			rec[1] = 3;
			rec[2] = 3;
			memcpy(in, p, k);
			in[k] = SSL3_RT_HANDSHAKE;
			if (sl_qkey_seal(&q->rx[lv].key, q->rx[lv].seq++, rec,
					 5, in, k + 1, rec + 5) != 0)
				return -1;
		}
		rec[1] = 3;
		rec[2] = 3;
		rec[3] = (uint8_t)(len >> 8);
		rec[4] = (uint8_t)len;
		if (BIO_write(q->rbio, rec, (int)(5 + len)) != (int)(5 + len))
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

/* Runs OpenSSL on what it has: the handshake, then what comes after it
 * (a session ticket). 1 done, 0 more wanted, -1 failed. */
static int
drive(struct sl_qtls *q)
{
	const unsigned char *alpn;
	unsigned int alpn_len;
	uint8_t b;
	int r, e;

	if (!SSL_is_init_finished(q->ssl)) {
		r = SSL_do_handshake(q->ssl);
		(void)BIO_reset(q->wbio);
		if (q->failed)
			goto fail;
		if (r <= 0) {
			e = SSL_get_error(q->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return 0;
			goto fail;
		}
		/* QUIC's own: transport parameters and an application
		 * protocol, both required (RFC 9001 sections 8.1, 8.2) */
		SSL_get0_alpn_selected(q->ssl, &alpn, &alpn_len);
		if (alpn_len == 0) {
			q->alert = A_NO_PROTO;
			goto fail;
		}
		if (q->peer_tp == NULL) {
			q->alert = A_MISSING;
			goto fail;
		}
	}
	r = SSL_read(q->ssl, &b, 1);
	(void)BIO_reset(q->wbio);
	if (q->failed || r > 0) /* TLS carries no application data here */
		goto fail;
	e = SSL_get_error(q->ssl, r);
	if (e != SSL_ERROR_WANT_READ)
		goto fail;
	return 1;
fail:
	if (q->alert == 0)
		q->alert = A_INTERNAL;
	return -1;
}

int
sl_qtls_start(struct sl_qtls *q)
{
	return q->server || drive(q) < 0 ? -1 : 0;
}

int
sl_qtls_input(struct sl_qtls *q, enum sl_qlevel lv, const uint8_t *p, size_t n)
{
	if (q->failed || (unsigned)lv >= SL_QL_N || feed(q, lv, p, n) != 0) {
		if (q->alert == 0)
			q->alert = A_INTERNAL;
		return -1;
	}
	return drive(q);
}

uint8_t
sl_qtls_alert(const struct sl_qtls *q)
{
	return q->alert != 0 ? q->alert : A_INTERNAL;
}

const uint8_t *
sl_qtls_peer_tp(const struct sl_qtls *q, size_t *len)
{
	*len = q->peer_tp_len;
	return q->peer_tp;
}

SSL *
sl_qtls_ssl(const struct sl_qtls *q)
{
	return q->ssl;
}
