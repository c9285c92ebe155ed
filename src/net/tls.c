/* SPDX-License-Identifier: MIT */
/*
 * TLS contexts and connections with OpenSSL 3 (tls.h). Contexts are built
 * on the main thread when a file is loaded and are read-only afterwards;
 * connections belong to one worker. Ticket keys belong to the process, so
 * that every worker and every generation accepts the same tickets.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "conf_types.h"
#include "log.h"
#include "sniname.h"
#include "tls_int.h"
#include "tlscert.h"
#include "util.h"

/* TLS 1.2: forward secrecy and AEAD only (TLS 1.3's suites are all so). */
#define DEFAULT_CIPHERS                                                        \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Session lifetime (cache and tickets), and the ticket key rotation: a
 * ticket stays usable between one and two periods. */
#define SESSION_TIMEOUT_S 3600
#define TICKET_ROTATE_S	  3600

/* Expansion of one full TLS 1.3 AEAD record: header, type, tag. */
#define RECORD_PLAIN 16384
#define RECORD_EXTRA 22

const char *
sl_tls_fail_str(enum sl_tls_fail f)
{
	static const char *const s[SL_TLS_NFAIL] = {
	    "plain_http",     "timeout",	 "closed", "protocol",
	    "no_client_cert", "bad_client_cert", "other",
	};

	return (unsigned)f < SL_TLS_NFAIL ? s[f] : "other";
}

/* ---- messages ------------------------------------------------------------ */

struct msgs {
	const struct sl_conf *conf;
	char *errors, *warnings;
};

static void __attribute__((format(printf, 4, 5)))
msg(struct msgs *m, int warning, const struct sl_conf_pos *pos, const char *fmt,
    ...)
{
	char text[1024], line[1400];
	char **out = warning ? &m->warnings : &m->errors;
	size_t have = *out ? strlen(*out) : 0, n;
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (pos != NULL && pos->line > 0)
		snprintf(line, sizeof(line), "%s:%u:%u: %s: %s\n",
			 m->conf->path, pos->line, pos->col,
			 warning ? "warning" : "error", text);
	else
		snprintf(line, sizeof(line), "%s: %s: %s\n", m->conf->path,
			 warning ? "warning" : "error", text);
	n = strlen(line);
	if ((p = realloc(*out, have + n + 1)) == NULL)
		return;
	memcpy(p + have, line, n + 1);
	*out = p;
}

/* A file that must be there and readable: says why not. */
static int
readable(struct msgs *m, const char *what, const struct sl_conf_file *f)
{
	FILE *fp = fopen(f->path, "r");

	if (fp == NULL) {
		msg(m, 0, &f->pos, "%s \"%s\": %s", what, f->path,
		    strerror(errno));
		return -1;
	}
	fclose(fp);
	return 0;
}

/* The leaf certificate of a PEM file, or NULL. */
static X509 *
read_leaf(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x;

	if (b == NULL)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

static void check_dates_at(struct msgs *m, const struct sl_conf_file *f,
			   X509 *x, int expired, int early);

/* Warnings a certificate deserves: expired, not yet valid. */
static void
check_dates(struct msgs *m, const struct sl_conf_file *f, X509 *x)
{
	check_dates_at(m, f, x,
		       X509_cmp_current_time(X509_get0_notAfter(x)) < 0,
		       X509_cmp_current_time(X509_get0_notBefore(x)) > 0);
}

/* The same, from what the caller compared already. */
static void
check_dates_at(struct msgs *m, const struct sl_conf_file *f, X509 *x,
	       int expired, int early)
{
	char when[64] = "?";
	BIO *b;

	if (expired) {
		if ((b = BIO_new(BIO_s_mem())) != NULL) {
			int n;
			ASN1_TIME_print(b, X509_get0_notAfter(x));
			n = BIO_read(b, when, sizeof(when) - 1);
			when[n > 0 ? n : 0] = '\0';
			BIO_free(b);
		}
		msg(m, 1, &f->pos, "certificate \"%s\" expired on %s", f->path,
		    when);
	} else if (early)
		msg(m, 1, &f->pos, "certificate \"%s\" is not valid yet",
		    f->path);
}

/* A private key others may read deserves a warning. */
static void
check_key_mode(struct msgs *m, const struct sl_conf_file *f)
{
	struct stat st;

	if (stat(f->path, &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)))
		msg(m, 1, &f->pos,
		    "key \"%s\" is readable by others (mode %04o): chmod "
		    "o-rwx",
		    f->path, (unsigned)(st.st_mode & 07777));
}

/* Loads cert (chain) and key into ctx and checks that they match. */
static int
load_pair(struct msgs *m, SSL_CTX *ctx, const struct sl_conf_file *cert,
	  const struct sl_conf_file *key)
{
	char why[256];
	X509 *leaf;

	if ((readable(m, "certificate", cert) == -1) |
	    (readable(m, "key", key) == -1))
		return -1;
	if ((leaf = read_leaf(cert->path)) == NULL) {
		ERR_clear_error();
		msg(m, 0, &cert->pos,
		    "certificate \"%s\": no PEM certificate in it", cert->path);
		return -1;
	}
	check_dates(m, cert, leaf);
	X509_free(leaf);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert->path) != 1) {
		msg(m, 0, &cert->pos, "certificate \"%s\": %s", cert->path,
		    sl_tls_ossl_reason(why, sizeof(why)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key->path, SSL_FILETYPE_PEM) !=
	    1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			msg(m, 0, &key->pos,
			    "key \"%s\" does not match certificate \"%s\"",
			    key->path, cert->path);
		} else
			msg(m, 0, &key->pos, "key \"%s\": %s", key->path,
			    sl_tls_ossl_reason(why, sizeof(why)));
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		msg(m, 0, &key->pos,
		    "key \"%s\" does not match certificate \"%s\"", key->path,
		    cert->path);
		return -1;
	}
	check_key_mode(m, key);
	return 0;
}

/* Loads a CA file into ctx's store; an empty one is an error. */
static int
load_ca(struct msgs *m, SSL_CTX *ctx, const struct sl_conf_file *ca)
{
	char why[256];

	if (readable(m, "CA file", ca) == -1)
		return -1;
	if (SSL_CTX_load_verify_locations(ctx, ca->path, NULL) != 1) {
		sl_tls_ossl_reason(why, sizeof(why));
		msg(m, 0, &ca->pos, "CA file \"%s\": %s", ca->path,
		    strstr(why, "no certificate") != NULL ||
			    strstr(why, "NO_CERTIFICATE") != NULL
			? "no certificate in it"
			: why);
		return -1;
	}
	if (sk_X509_OBJECT_num(
		X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx))) == 0) {
		msg(m, 0, &ca->pos, "CA file \"%s\": no certificate in it",
		    ca->path);
		return -1;
	}
	return 0;
}

/* ---- session tickets ------------------------------------------------------
 */

struct ticket_key {
	unsigned char name[16], aes[32], hmac[32];
	time_t born;
};

static pthread_mutex_t tk_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket_key tk[2]; /* tk[0] encrypts; both decrypt */
static int tk_n;

/* Under tk_lock: a new key when the newest is a period old. */
static int
tk_rotate(time_t now)
{
	struct ticket_key k;

	if (tk_n > 0 && now - tk[0].born < TICKET_ROTATE_S && now >= tk[0].born)
		return 0;
	if (RAND_bytes(k.name, sizeof(k.name)) != 1 ||
	    RAND_bytes(k.aes, sizeof(k.aes)) != 1 ||
	    RAND_bytes(k.hmac, sizeof(k.hmac)) != 1)
		return -1;
	k.born = now;
	tk[1] = tk[0];
	tk[0] = k;
	tk_n = tk_n < 2 ? tk_n + 1 : 2;
	return 0;
}

static int
tk_mac(EVP_MAC_CTX *hctx, unsigned char *key)
{
	OSSL_PARAM p[3];

	p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						(char *)"SHA256", 0);
	p[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, p) == 1 ? 0 : -1;
}

static int
ticket_cb(SSL *s, unsigned char key_name[16], unsigned char iv[16],
	  EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc)
{
	int r = -1;

	(void)s;
	pthread_mutex_lock(&tk_lock);
	if (tk_rotate(time(NULL)) == -1)
		goto out;
	if (enc) {
		if (RAND_bytes(iv, 16) != 1)
			goto out;
		memcpy(key_name, tk[0].name, 16);
		if (EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, tk[0].aes,
				       iv) != 1 ||
		    tk_mac(hctx, tk[0].hmac) == -1)
			goto out;
		r = 1;
		goto out;
	}
	r = 0; /* unknown key: a full handshake */
	for (int i = 0; i < tk_n; i++) {
		if (memcmp(key_name, tk[i].name, 16) != 0)
			continue;
		if (EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, tk[i].aes,
				       iv) != 1 ||
		    tk_mac(hctx, tk[i].hmac) == -1) {
			r = -1;
			break;
		}
		/* an older key: accepted, and a new ticket is issued */
		r = i == 0 ? 1 : 2;
		break;
	}
out:
	pthread_mutex_unlock(&tk_lock);
	return r;
}

/* ---- server contexts ---------------------------------------------------- */

/*
 * ALPN: the listener's protocols (its SL_PROTO_* bits are the callback's
 * argument), h2 preferred to http/1.1 whatever the client's order
 * (doc/http2.md section 2); a tls-alpn-01 handshake, acme-tls/1 alone.
 */
static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned protocols = (unsigned)(uintptr_t)arg;

	if (sl_tls_acme_idx != -1 &&
	    SSL_get_ex_data(ssl, sl_tls_acme_idx) != NULL)
		return sl_tls_alpn_offered(in, inlen, SL_TLS_ACME_ALPN, out,
					   outlen)
			   ? SSL_TLSEXT_ERR_OK
			   : SSL_TLSEXT_ERR_ALERT_FATAL;
	if ((protocols & SL_PROTO_H2) &&
	    sl_tls_alpn_offered(in, inlen, "h2", out, outlen))
		return SSL_TLSEXT_ERR_OK;
	if ((protocols & SL_PROTO_HTTP1) &&
	    sl_tls_alpn_offered(in, inlen, "http/1.1", out, outlen))
		return SSL_TLSEXT_ERR_OK;
	/* nothing we speak: the client decides (no ALPN in the answer) */
	return SSL_TLSEXT_ERR_NOACK;
}

int
sl_tls_alpn_h2(SSL *ssl)
{
	const unsigned char *p;
	unsigned int n;

	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == 2 && p[0] == 'h' && p[1] == '2';
}

/* The group SNI chose for ssl: the context holds the first group's
 * certificates, any other's are put on the connection. 0, or -1. */
static int
group_use(const struct sl_tls_group *g, SSL *ssl)
{
	SSL_certs_clear(ssl);
	for (size_t i = 0; i < g->ncerts; i++)
		if (sl_tls_cert_use(g->certs[i], NULL, ssl) != 1)
			return -1;
	return 0;
}

/* SNI picks a group by the listener's index (sniname.h): an exact name
 * first, then a wildcard; none keeps the first group's, the context's. */
static int
sni_cb(SSL *ssl, int *al, void *arg)
{
	const struct sl_tls_server *srv = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	long g;

	if (name == NULL || srv == NULL)
		return sl_tls_acme_idx != -1 &&
			       SSL_get_ex_data(ssl, sl_tls_acme_idx) != NULL
			   ? SSL_TLSEXT_ERR_ALERT_FATAL
			   : SSL_TLSEXT_ERR_OK;
	if (srv->aidx != NULL) {
		int r = sl_tls_acme_use(srv, ssl, name, strlen(name));
		if (r == 1)
			return SSL_TLSEXT_ERR_OK;
		if (r == -1) {
			ERR_clear_error();
			*al = SSL_AD_UNRECOGNIZED_NAME;
			return SSL_TLSEXT_ERR_ALERT_FATAL;
		}
		/* no file to serve from: an ACME name waits for its first
		 * certificate (said), another name is no name of the
		 * listener's */
		if (srv->ngroups == 0) {
			if (r == 2)
				sl_tls_acme_none(name);
			*al = SSL_AD_UNRECOGNIZED_NAME;
			return SSL_TLSEXT_ERR_ALERT_FATAL;
		}
	}
	g = sl_sni_idx_find(srv->idx, name, strlen(name));
	if (g <= 0)
		return SSL_TLSEXT_ERR_OK;
	if (group_use(&srv->groups[g], ssl) == -1) {
		ERR_clear_error();
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

static int
group_has(const struct sl_tls_group *g, const X509 *leaf)
{
	for (size_t i = 0; i < g->ncerts; i++)
		if (g->certs[i]->leaf == leaf)
			return 1;
	return 0;
}

int
sl_tls_name_covered(SSL *ssl, const struct sl_conf_tls_server *t,
		    const char *host, size_t len)
{
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const struct sl_tls_server *srv = t->ctx;
	X509 *leaf = SSL_get_certificate(ssl);
	char name[256];
	long g;

	/* no name asked for: the client relied on no certificate's name */
	if (sni == NULL || srv == NULL)
		return 1;
	if (len >= sizeof(name))
		return 0;
	memcpy(name, host, len);
	name[len] = '\0';
	/* an address: no client coalesces connections by one (RFC 9110
	 * section 4.3.3 ties that to the names a certificate holds) */
	{
		unsigned char a[16];
		if (inet_pton(AF_INET, name, a) == 1 ||
		    inet_pton(AF_INET6, name, a) == 1)
			return 1;
	}
	if (strcasecmp(name, sni) == 0)
		return 1;
	/* the group SNI chose (sni_cb), whose certificate the connection
	 * holds: in the TCP set or, over QUIC, the QUIC set (tls.qctx),
	 * which holds the same certificates in the same groups, read once
	 * (tlscert.c). A certificate of neither (not one of this
	 * listener's): no name of it is known */
	for (int k = 0; k < 2; k++) {
		const struct sl_tls_server *set = k == 0 ? srv : t->qctx;
		if (set == NULL)
			continue;
		if ((g = sl_sni_idx_find(set->idx, sni, strlen(sni))) < 0)
			g = 0;
		if (leaf != NULL && !group_has(&set->groups[g], leaf))
			for (g = 0; (size_t)g < set->ngroups; g++)
				if (group_has(&set->groups[g], leaf))
					break;
		if ((size_t)g < set->ngroups)
			return sl_sni_idx_covers(set->idx, (uint32_t)g, name,
						 len);
	}
	return 0;
}

/*
 * A listener's session id context: the SHA-256 of its address, whether
 * it asks for client certificates and requires them, and the bytes of
 * its client_ca file. Returns 0, or -1 (the file cannot be read).
 */
static int
session_context(const struct sl_conf_tls_server *t, const char *addr,
		unsigned char sid[32], unsigned *sidlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char mode[2] = {t->client_ca.path != NULL,
				 !t->client_verify_optional};
	char buf[4096];
	size_t n;
	FILE *f = NULL;
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(md, addr, strlen(addr) + 1) &&
		 EVP_DigestUpdate(md, mode, sizeof(mode));

	if (ok && t->client_ca.path != NULL) {
		if ((f = fopen(t->client_ca.path, "re")) == NULL)
			ok = 0;
		while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0)
			ok = EVP_DigestUpdate(md, buf, n);
		if (f != NULL && ferror(f))
			ok = 0;
		if (f != NULL)
			fclose(f);
	}
	ok = ok && EVP_DigestFinal_ex(md, sid, sidlen);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static SSL_CTX *
server_ctx(struct msgs *m, const struct sl_conf_listener *l,
	   struct sl_tls_server *srv)
{
	const struct sl_conf_tls_server *t = &l->tls;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned char sid[32];
	unsigned int sidlen = 0;
	char why[256];

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(
	    ctx, t->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_options(
	    ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
		     SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF |
		     (t->session_tickets ? 0 : SSL_OP_NO_TICKET));
	/* buffers go back while a connection is idle; writes may stop
	 * after a record, and resume from a moved buffer */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				  SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_cipher_list(ctx, t->ciphers ? t->ciphers
						    : DEFAULT_CIPHERS) != 1) {
		msg(m, 0, &t->ciphers_pos, "\"ciphers\": %s",
		    sl_tls_ossl_reason(why, sizeof(why)));
		goto fail;
	}
	if (t->ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1) {
		msg(m, 0, &t->ciphersuites_pos, "\"ciphersuites\": %s",
		    sl_tls_ossl_reason(why, sizeof(why)));
		goto fail;
	}
	SSL_CTX_set_timeout(ctx, SESSION_TIMEOUT_S);
	if (t->session_cache > 0) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, (long)t->session_cache);
	} else
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (t->session_tickets) {
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
		SSL_CTX_set_num_tickets(ctx, 1);
	} else if (t->session_cache == 0)
		SSL_CTX_set_num_tickets(ctx, 0);
	/* sessions of one listener are not resumed on another, nor under
	 * other client certificate rules: a reload that asks for them, or
	 * trusts another CA, makes sessions (and tickets) of before it
	 * unusable, which would have let a client in without the
	 * certificate now required */
	if (session_context(t, l->addr.text, sid, &sidlen) == -1) {
		msg(m, 0, &t->client_ca.pos,
		    "\"client_ca\": cannot read \"%s\"",
		    t->client_ca.path != NULL ? t->client_ca.path : "");
		goto fail;
	}
	SSL_CTX_set_session_id_context(ctx, sid, sidlen);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb,
				   (void *)(uintptr_t)l->protocols);
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, srv);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Client certificates: asked for, verified against client_ca. */
static int
server_client_ca(struct msgs *m, const struct sl_conf_tls_server *t,
		 SSL_CTX *ctx)
{
	STACK_OF(X509_NAME) * names;

	if (load_ca(m, ctx, &t->client_ca) == -1)
		return -1;
	if ((names = SSL_load_client_CA_file(t->client_ca.path)) != NULL)
		SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();
	SSL_CTX_set_verify(ctx,
			   SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE |
			       (t->client_verify_optional
				    ? 0
				    : SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
			   NULL);
	SSL_CTX_set_verify_depth(ctx, 8);
	return 0;
}

static void
server_free(struct sl_tls_server *srv)
{
	if (srv == NULL || atomic_fetch_sub(&srv->refs, 1) > 1)
		return;
	for (size_t i = 0; i < srv->ngroups; i++) {
		for (size_t j = 0; j < srv->groups[i].ncerts; j++)
			sl_tls_cert_unref(srv->groups[i].certs[j]);
		free(srv->groups[i].certs);
	}
	free(srv->groups);
	sl_sni_idx_free(srv->idx);
	sl_tls_server_acme_free(srv);
	SSL_CTX_free(srv->ctx);
	free(srv);
}

int (*sl_tls_quic_hook)(SSL_CTX *ctx);

struct sl_tls_server *
sl_tls_server_ref(struct sl_tls_server *srv)
{
	if (srv != NULL)
		atomic_fetch_add(&srv->refs, 1);
	return srv;
}

SSL_CTX *
sl_tls_server_ctx(const struct sl_tls_server *srv)
{
	return srv->ctx;
}

/*
 * The groups of a listener's certificates, by the set of names each
 * carries (case folded): a table from that set, written out sorted, to
 * its group, so that 10,000 certificates are not compared pairwise.
 */
struct gkey {
	uint64_t h;
	char *key; /* the sorted, folded names, each with its NUL */
	size_t len;
	size_t group;
};

/* The group of the names of c: found, or made (the next one). -1 when
 * out of memory. */
static long
group_of(struct sl_tls_server *srv, struct gkey *tab, size_t cap,
	 const struct sl_tls_cert *c)
{
	size_t len, i;
	uint64_t h;
	char *k = sl_tls_cert_names_key(c, &len, &h);

	if (k == NULL)
		return -1;
	for (i = h & (cap - 1); tab[i].key != NULL; i = (i + 1) & (cap - 1))
		if (tab[i].h == h && tab[i].len == len &&
		    memcmp(tab[i].key, k, len) == 0) {
			free(k);
			return (long)tab[i].group;
		}
	tab[i].h = h;
	tab[i].key = k;
	tab[i].len = len;
	tab[i].group = srv->ngroups++;
	return (long)tab[i].group;
}

static int
group_add(struct sl_tls_group *g, struct sl_tls_cert *c)
{
	struct sl_tls_cert **v =
	    realloc(g->certs, (g->ncerts + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	g->certs = v;
	g->certs[g->ncerts++] = sl_tls_cert_ref(c);
	return 0;
}

static struct sl_tls_server *
server_load(struct msgs *m, const struct sl_conf_listener *l, int quic)
{
	const struct sl_conf_tls_server *t = &l->tls;
	struct sl_tls_server *srv = calloc(1, sizeof(*srv));
	struct sl_tls_cert_job *jobs = NULL;
	struct gkey *tab = NULL;
	size_t njobs = 0, cap = 16;
	const char *last_key = NULL;
	time_t now = time(NULL);
	int bad = 0;

	if (srv != NULL)
		atomic_init(&srv->refs, 1);
	while (cap < 2 * t->ncerts)
		cap *= 2;
	if (srv == NULL ||
	    (srv->groups = calloc(t->ncerts ? t->ncerts : 1,
				  sizeof(*srv->groups))) == NULL ||
	    (srv->idx = sl_sni_idx_new()) == NULL ||
	    (jobs = calloc(t->ncerts ? t->ncerts : 1, sizeof(*jobs))) == NULL ||
	    (tab = calloc(cap, sizeof(*tab))) == NULL)
		goto oom;
	/* one context for every certificate of the listener: SNI puts
	 * another group's on the connection (sni_cb). Its ciphers may set
	 * the security level the certificates are checked at */
	if ((srv->ctx = server_ctx(m, l, srv)) == NULL)
		bad = 1; /* the files are read still: -t says all at once */
	/* QUIC's: TLS 1.3, its callbacks, ALPN h3 (the rest as the TCP
	 * listener's) */
	else if (quic && (sl_tls_quic_hook == NULL ||
			  sl_tls_quic_hook(srv->ctx) != 0)) {
		msg(m, 0, &l->http3.pos,
		    "\"http3\": cannot make a QUIC TLS context");
		bad = 1;
		goto out;
	}
	for (size_t i = 0; i < t->ncerts; i++)
		if (t->certs[i].cert.path != NULL &&
		    t->certs[i].key.path != NULL) /* else said by the loader */
			jobs[njobs++] = (struct sl_tls_cert_job){
			    .cert_path = t->certs[i].cert.path,
			    .key_path = t->certs[i].key.path,
			    .arg = &t->certs[i]};
	if (sl_tls_certs_load(jobs, njobs,
			      srv->ctx != NULL
				  ? SSL_CTX_get_security_level(srv->ctx)
				  : -1) == -1)
		goto oom;
	for (size_t i = 0; i < njobs; i++) {
		struct sl_tls_cert_job *j = &jobs[i];
		const struct sl_conf_tls_cert *c = j->arg;
		long g;

		for (unsigned k = 0; k < j->nmsg; k++)
			msg(m, 0,
			    j->msg[k].about == SL_TLS_CERT_ABOUT_CERT
				? &c->cert.pos
			    : j->msg[k].about == SL_TLS_CERT_ABOUT_KEY
				? &c->key.pos
				: NULL,
			    "%s", j->msg[k].text);
		if (j->cert == NULL) {
			bad = 1;
			continue;
		}
		/* its dates read once (X509_cmp_current_time makes a time
		 * object per call: a reload of 10,000 spent 13 % there) */
		check_dates_at(m, &c->cert, j->cert->leaf,
			       j->cert->not_after <= now,
			       j->cert->not_before > now);
		/* a key many certificates share is said once */
		if (last_key == NULL || strcmp(last_key, c->key.path) != 0)
			check_key_mode(m, &c->key);
		last_key = c->key.path;
		/* RSA and ECDSA certificates of the same names: one group,
		 * OpenSSL picks per client */
		if ((g = group_of(srv, tab, cap, j->cert)) == -1 ||
		    group_add(&srv->groups[g], j->cert) == -1)
			goto oom;
	}
	for (size_t g = 0; g < srv->ngroups; g++) {
		const struct sl_tls_cert *c = srv->groups[g].certs[0];
		for (size_t k = 0; k < c->nnames; k++)
			if (sl_sni_idx_add(srv->idx, c->names[k],
					   (uint32_t)g) == -1)
				goto oom;
	}
	if (t->nacme > 0 &&
	    sl_tls_server_acme(srv, t, m->conf->acme_storage,
			       srv->ctx != NULL
				   ? SSL_CTX_get_security_level(srv->ctx)
				   : -1) == -1)
		goto oom;
	if (srv->ctx == NULL)
		goto out;
	if (t->nacme > 0)
		SSL_CTX_set_client_hello_cb(srv->ctx, sl_tls_acme_hello, NULL);
	/* the first group's are the context's, a connection's until SNI
	 * chooses another */
	for (size_t k = 0; srv->ngroups > 0 && k < srv->groups[0].ncerts; k++) {
		char why[256];
		const struct sl_tls_cert *c = srv->groups[0].certs[k];
		if (sl_tls_cert_use(srv->groups[0].certs[k], srv->ctx, NULL) !=
		    1) {
			msg(m, 0, NULL, "certificate of \"%s\": %s",
			    c->nnames > 0 ? c->names[0] : "?",
			    sl_tls_ossl_reason(why, sizeof(why)));
			bad = 1;
		}
	}
	if (t->client_ca.path != NULL && srv->ngroups > 0) {
		if (server_client_ca(m, t, srv->ctx) == -1)
			bad = 1;
	} else if (t->ncerts > 0 && srv->ngroups == 0 && !bad)
		bad = 1;
	if (t->client_ca.path != NULL && srv->ngroups == 0)
		/* no certificate to serve: at least say if it is there */
		(void)readable(m, "CA file", &t->client_ca);
out:
	for (size_t i = 0; jobs != NULL && i < njobs; i++)
		sl_tls_cert_unref(jobs[i].cert);
	free(jobs);
	for (size_t i = 0; tab != NULL && i < cap; i++)
		free(tab[i].key);
	free(tab);
	if (bad || (srv->ngroups == 0 && srv->nacme == 0)) {
		server_free(srv);
		return NULL;
	}
	return srv;
oom:
	msg(m, 0, NULL, "out of memory");
	bad = 1;
	if (srv == NULL) {
		free(jobs);
		free(tab);
		return NULL;
	}
	goto out;
}

/* ---- client contexts ------------------------------------------------------
 */

static int slot_idx = -1;

static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct sl_tls_slot *slot = SSL_get_ex_data(ssl, slot_idx);
	const struct sl_tls_client *cl = SSL_get_app_data(ssl);

	if (slot == NULL || cl == NULL)
		return 0;
	SSL_SESSION_free(slot->sess);
	slot->sess = sess; /* the reference is ours */
	slot->fp = cl->fp;
	return 1;
}

void
sl_tls_slot_clear(struct sl_tls_slot *s)
{
	SSL_SESSION_free(s->sess);
	s->sess = NULL;
	s->fp = 0;
}

/* FNV-1a over a string (and a separator). */
static uint64_t
fp_add(uint64_t h, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (h ^ 0xff) * 1099511628211ull;
}

/* And a file's identity: its path, size and modification time. */
static uint64_t
fp_file(uint64_t h, const char *path)
{
	struct stat st;

	h = fp_add(h, path);
	if (path != NULL && stat(path, &st) == 0) {
		uint64_t v[3] = {(uint64_t)st.st_size,
				 (uint64_t)st.st_mtim.tv_sec,
				 (uint64_t)st.st_mtim.tv_nsec};
		for (size_t i = 0; i < sizeof(v); i++)
			h = (h ^ ((unsigned char *)v)[i]) * 1099511628211ull;
	}
	return h;
}

static void
client_free(struct sl_tls_client *cl)
{
	if (cl == NULL || atomic_fetch_sub(&cl->refs, 1) > 1)
		return;
	SSL_CTX_free(cl->ctx);
	free(cl->sni);
	free(cl);
}

static struct sl_tls_client *
client_load(struct msgs *m, const struct sl_conf_cluster *cc)
{
	const struct sl_conf_tls_client *t = &cc->tls;
	struct sl_tls_client *cl = calloc(1, sizeof(*cl));
	uint64_t h = 1469598103934665603ull;
	SSL_CTX *ctx;
	int bad = 0;

	if (cl == NULL || (ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		free(cl);
		msg(m, 0, NULL, "out of memory");
		return NULL;
	}
	atomic_init(&cl->refs, 1);
	cl->ctx = ctx;
	cl->verify = t->verify;
	if (t->sni != NULL && (cl->sni = strdup(t->sni)) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(
	    ctx, t->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_NO_COMPRESSION |
				     SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				  SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (cc->protocol == SL_UP_PROTO_H2)
		/* HTTP/2 or nothing: a shared connection (h2up.c) */
		SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2",
					3);
	else
		SSL_CTX_set_alpn_protos(
		    ctx, (const unsigned char *)"\x08http/1.1", 9);
	/* sessions are kept per endpoint by sluice, not in a cache */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
						SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	if (t->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_verify_depth(ctx, 8);
	}
	if (t->ca.path != NULL) {
		if (load_ca(m, ctx, &t->ca) == -1)
			bad = 1;
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();
	if (t->cert.path != NULL && t->key.path != NULL &&
	    load_pair(m, ctx, &t->cert, &t->key) == -1)
		bad = 1;
	if (bad)
		goto fail;
	h = fp_add(h, t->sni);
	h = fp_add(h, t->verify ? "v" : "-");
	h = fp_add(h, t->min_version == 13 ? "13" : "12");
	h = fp_add(h, cc->protocol == SL_UP_PROTO_H2 ? "h2" : "h1");
	h = fp_file(h, t->ca.path);
	h = fp_file(h, t->cert.path);
	h = fp_file(h, t->key.path);
	cl->fp = h | 1; /* never 0: 0 is a plain connection */
	return cl;
fail:
	client_free(cl);
	return NULL;
}

/* ---- loading ---------------------------------------------------------------
 */

static void
tls_free(struct sl_conf *conf)
{
	for (size_t i = 0; i < conf->nlisteners; i++) {
		server_free(conf->listeners[i].tls.ctx);
		conf->listeners[i].tls.ctx = NULL;
		server_free(conf->listeners[i].tls.qctx);
		conf->listeners[i].tls.qctx = NULL;
	}
	for (size_t i = 0; i < conf->nclusters; i++) {
		client_free(conf->clusters[i].tls.ctx);
		conf->clusters[i].tls.ctx = NULL;
	}
	server_free(conf->admin_tls.ctx);
	conf->admin_tls.ctx = NULL;
}

char *
sl_tls_load(struct sl_conf *conf, char **warnings)
{
	struct msgs m = {conf, NULL, NULL};

	/* the first load, before any worker reads them */
	if (slot_idx == -1)
		slot_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (sl_tls_acme_idx == -1)
		sl_tls_acme_idx =
		    SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	conf->tls_free = tls_free;
	for (size_t i = 0; i < conf->nlisteners; i++) {
		struct sl_conf_listener *l = &conf->listeners[i];
		if (l->tls.ncerts > 0 || l->tls.nacme > 0)
			l->tls.ctx = server_load(&m, l, 0);
		/* its warnings (an expired certificate) were said for the
		 * TCP contexts */
		if (l->tls.ctx != NULL && l->http3.enabled) {
			struct msgs q = {conf, m.errors, NULL};
			l->tls.qctx = server_load(&q, l, 1);
			m.errors = q.errors;
			free(q.warnings);
		}
	}
	for (size_t i = 0; i < conf->nclusters; i++) {
		struct sl_conf_cluster *cc = &conf->clusters[i];
		if (cc->tls.enabled)
			cc->tls.ctx = client_load(&m, cc);
	}
	if (conf->admin_tls.ncerts > 0) {
		/* the admin listener's (doc/dashboard.md): a listener of
		 * HTTP/1.1 on its address, for the contexts' sake */
		struct sl_conf_listener al = {.name = "admin",
					      .addr = conf->admin_addr,
					      .protocols = SL_PROTO_HTTP1,
					      .tls = conf->admin_tls};
		conf->admin_tls.ctx = server_load(&m, &al, 0);
	}
	/* what no generation serves any more is read again if named */
	sl_tls_certs_prune();
	ERR_clear_error();
	if (warnings != NULL)
		*warnings = m.warnings;
	else
		free(m.warnings);
	return m.errors;
}

void
sl_tls_share(struct sl_conf *nc, const struct sl_conf *oc)
{
	nc->tls_free = tls_free;
	for (size_t i = 0; i < nc->nlisteners && i < oc->nlisteners; i++) {
		struct sl_tls_server *srv = oc->listeners[i].tls.ctx;
		if (srv != NULL)
			atomic_fetch_add(&srv->refs, 1);
		nc->listeners[i].tls.ctx = srv;
		if ((srv = oc->listeners[i].tls.qctx) != NULL)
			atomic_fetch_add(&srv->refs, 1);
		nc->listeners[i].tls.qctx = srv;
	}
	for (size_t i = 0; i < nc->nclusters && i < oc->nclusters; i++) {
		struct sl_tls_client *cl = oc->clusters[i].tls.ctx;
		if (cl != NULL)
			atomic_fetch_add(&cl->refs, 1);
		nc->clusters[i].tls.ctx = cl;
	}
	nc->admin_tls.ctx = sl_tls_server_ref(oc->admin_tls.ctx);
}

/* ---- one connection ---------------------------------------------------- */

/* No application data on a server-side SSL: nothing reads it back (the
 * listener's callbacks take theirs from the SSL_CTX), and setting it made
 * OpenSSL allocate an ex_data stack, two more blocks that every
 * connection, idle ones too, held for its whole life (doc/performance.md,
 * "Issue 62, session 42"). */
SSL *
sl_tls_accept(const struct sl_conf_tls_server *t, int fd)
{
	SSL *ssl = SSL_new(t->ctx->ctx);

	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

SSL *
sl_tls_connect(const struct sl_tls_client *cl, int fd, const char *ip,
	       struct sl_tls_slot *slot)
{
	SSL *ssl = SSL_new(cl->ctx);

	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1)
		goto fail;
	SSL_set_connect_state(ssl);
	SSL_set_app_data(ssl, (void *)cl);
	SSL_set_ex_data(ssl, slot_idx, slot);
	if (cl->sni != NULL && SSL_set_tlsext_host_name(ssl, cl->sni) != 1)
		goto fail;
	if (cl->verify) {
		if (cl->sni != NULL) {
			if (SSL_set1_host(ssl, cl->sni) != 1)
				goto fail;
		} else if (ip != NULL && X509_VERIFY_PARAM_set1_ip_asc(
					     SSL_get0_param(ssl), ip) != 1)
			goto fail;
	}
	if (slot != NULL && slot->sess != NULL && slot->fp == cl->fp)
		SSL_set_session(ssl, slot->sess);
	return ssl;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

int
sl_tls_handshake(SSL *ssl, int *want)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(ssl);
	if (r == 1)
		return 1;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want = SL_TLS_WANT_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want = SL_TLS_WANT_WRITE;
		return 0;
	default:
		return -1;
	}
}

enum sl_tls_fail
sl_tls_why_failed(SSL *ssl, char *buf, size_t n)
{
	unsigned long e = ERR_peek_last_error();
	long v = SSL_get_verify_result(ssl);
	int reason = ERR_GET_REASON(e);
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	enum sl_tls_fail f;

	if (e == 0) {
		snprintf(buf, n, "%s",
			 errno ? strerror(errno) : "closed by the client");
		ERR_clear_error();
		return SL_TLS_F_CLOSED;
	}
	switch (reason) {
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		f = SL_TLS_F_NO_CLIENT_CERT;
		break;
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
		f = SL_TLS_F_BAD_CLIENT_CERT;
		break;
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
		f = SL_TLS_F_PLAIN_HTTP;
		break;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_UNKNOWN_PROTOCOL:
	/* not TLS as it must be spoken: a malformed or out-of-order
	 * handshake */
	case SSL_R_UNEXPECTED_MESSAGE:
	case SSL_R_UNEXPECTED_RECORD:
	case SSL_R_LENGTH_MISMATCH:
	case SSL_R_BAD_PACKET_LENGTH:
	case SSL_R_RECORD_LENGTH_MISMATCH:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
	case SSL_R_BAD_EXTENSION:
	case SSL_R_BAD_LENGTH:
	case SSL_R_LENGTH_TOO_SHORT:
	case SSL_R_BAD_PACKET:
	case SSL_R_WRONG_SSL_VERSION:
		f = SL_TLS_F_PROTOCOL;
		break;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		f = SL_TLS_F_CLOSED;
		break;
	default:
		f = SL_TLS_F_OTHER;
	}
	if (f == SL_TLS_F_BAD_CLIENT_CERT && v != X509_V_OK)
		snprintf(buf, n, "client certificate: %s",
			 X509_verify_cert_error_string(v));
	else
		snprintf(buf, n, "%s", r ? r : "error");
	ERR_clear_error();
	return f;
}

const char *
sl_tls_why(SSL *ssl, char *buf, size_t n)
{
	long v = SSL_get_verify_result(ssl);
	unsigned long e = ERR_peek_last_error();

	if (v != X509_V_OK)
		snprintf(buf, n, "certificate verify failed: %s",
			 X509_verify_cert_error_string(v));
	else if (e != 0)
		snprintf(buf, n, "%s",
			 ERR_reason_error_string(e) ? ERR_reason_error_string(e)
						    : "TLS error");
	else
		snprintf(buf, n, "%s",
			 errno ? strerror(errno)
			       : "closed during the TLS handshake");
	ERR_clear_error();
	return buf;
}

/* errno and *want for a failed SSL call; returns -1, or 0 for the end. */
static ssize_t
io_error(SSL *ssl, int r, int *want)
{
	int e = SSL_get_error(ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = SL_TLS_WANT_READ;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = SL_TLS_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			errno = ECONNRESET;
		ERR_clear_error();
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

/*
 * The thread's error queue emptied before an I/O call, so that
 * SSL_get_error says what that call did. ERR_clear_error walks every slot
 * of the queue (about 840 instructions in OpenSSL 3.0, twice a request on
 * an HTTP/2 connection); the queue is almost always empty already, which a
 * peek tells for a tenth of that.
 */
static inline void
err_clean(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

ssize_t
sl_tls_read(SSL *ssl, void *buf, size_t len, int *want)
{
	size_t got = 0, n;
	int r;

	*want = 0;
	err_clean();
	/* until the buffer is full, or the socket is empty, or a record
	 * shorter than the largest was read whole: without read-ahead
	 * OpenSSL holds nothing beyond the record it decrypted (SSL_pending
	 * says what is left of that one), and what is still in the socket
	 * wakes the level-triggered read event again. The short-record stop
	 * saves a read that would only say EAGAIN after each request;
	 * full records (a bulk body) are read on in the same call. */
	while (got < len) {
		errno = 0;
		r = SSL_read_ex(ssl, (char *)buf + got, len - got, &n);
		if (r == 1) {
			got += n;
			if (n < RECORD_PLAIN && SSL_pending(ssl) == 0)
				break;
			continue;
		}
		if (got > 0) {
			/* what came is passed on; the end or the error
			 * comes again with the next call */
			int e = SSL_get_error(ssl, r);
			if (e == SSL_ERROR_WANT_WRITE)
				*want = SL_TLS_WANT_WRITE;
			else if (e != SSL_ERROR_WANT_READ &&
				 e != SSL_ERROR_ZERO_RETURN)
				ERR_clear_error();
			break;
		}
		return io_error(ssl, r, want);
	}
	return (ssize_t)got;
}

ssize_t
sl_tls_writev(SSL *ssl, const struct iovec *iov, int niov, int *want)
{
	char stage[RECORD_PLAIN];
	size_t total = 0, n;
	int i = 0;
	size_t off = 0; /* into iov[i] */

	*want = 0;
	err_clean();
	while (i < niov) {
		const char *p;
		size_t len;
		int r;

		if (off == iov[i].iov_len) {
			i++;
			off = 0;
			continue;
		}
		if (i + 1 < niov && iov[i].iov_len - off < sizeof(stage)) {
			/* a small piece and more after it: one record */
			size_t fill = 0;
			int j = i;
			size_t o = off;
			while (j < niov && fill < sizeof(stage)) {
				size_t k = SL_MIN(iov[j].iov_len - o,
						  sizeof(stage) - fill);
				memcpy(stage + fill,
				       (char *)iov[j].iov_base + o, k);
				fill += k;
				o = 0;
				j++;
			}
			p = stage;
			len = fill;
		} else {
			p = (const char *)iov[i].iov_base + off;
			len = iov[i].iov_len - off;
		}
		errno = 0;
		r = SSL_write_ex(ssl, p, len, &n);
		if (r != 1) {
			ssize_t e;
			if (total > 0) {
				/* taken so far is reported; the call that
				 * comes next starts where this one stopped */
				if (SSL_get_error(ssl, r) ==
				    SSL_ERROR_WANT_READ)
					*want = SL_TLS_WANT_READ;
				ERR_clear_error();
				return (ssize_t)total;
			}
			e = io_error(ssl, r, want);
			if (e == 0) {
				errno = EPIPE;
				e = -1;
			}
			return e;
		}
		total += n;
		/* advance n bytes over the pieces */
		while (n > 0 && i < niov) {
			size_t k = SL_MIN(n, iov[i].iov_len - off);
			off += k;
			n -= k;
			if (off == iov[i].iov_len) {
				i++;
				off = 0;
			}
		}
	}
	return (ssize_t)total;
}

void
sl_tls_close_notify(SSL *ssl)
{
	ERR_clear_error();
	if (SSL_is_init_finished(ssl) &&
	    !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

void
sl_tls_abort(SSL *ssl)
{
	SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN);
}

void
sl_tls_free(SSL *ssl, int notify)
{
	if (notify)
		sl_tls_close_notify(ssl);
	SSL_free(ssl);
}

int
sl_tls_plain_bytes(int outq)
{
	int records = (outq + RECORD_PLAIN + RECORD_EXTRA - 1) /
		      (RECORD_PLAIN + RECORD_EXTRA);
	int plain = outq - records * RECORD_EXTRA;

	return plain > 0 ? plain : 0;
}

int
sl_tls_peer_verified(SSL *ssl)
{
	return SSL_get0_peer_certificate(ssl) != NULL &&
	       SSL_get_verify_result(ssl) == X509_V_OK;
}

char *
sl_tls_peer_subject(SSL *ssl)
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	BIO *b;
	char *out = NULL;
	long n;
	char *p;

	if (x == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
			       XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 && n < 4096 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		for (long i = 0; i < n; i++)
			/* a header value: no controls, nothing above 0x7e
			 * (RFC 2253 escapes them already) */
			out[i] = (p[i] < 0x20 || p[i] > 0x7e) ? '?' : p[i];
		out[n] = '\0';
	}
	BIO_free(b);
	ERR_clear_error();
	return out;
}

/* ---- WebSocket (doc/websocket.md) ---------------------------------------*/

int
sl_tls_ws_key(char out[SL_WS_KEY_LEN + 1])
{
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw)) ==
		       SL_WS_KEY_LEN
		   ? 0
		   : -1;
}

int
sl_tls_ws_accept(const char *key, size_t len, char out[SL_WS_ACCEPT_LEN + 1])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, key, len) == 1 &&
		 EVP_DigestUpdate(ctx, guid, sizeof(guid) - 1) == 1 &&
		 EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	/* 20 bytes are 28 base64 characters, and the NUL */
	return EVP_EncodeBlock((unsigned char *)out, md, 20) == SL_WS_ACCEPT_LEN
		   ? 0
		   : -1;
}
