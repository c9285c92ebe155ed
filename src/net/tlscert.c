/* SPDX-License-Identifier: MIT */
/*
 * Certificate files parsed once (tlscert.h): the keys a load needs read
 * once each, then the certificates, on threads when there are many, each
 * checked against its key at the listener's security level; and a cache
 * of what was read, by the files' identity, for the next load. The cache
 * and the loads are the main thread's (a mutex keeps them whole if that
 * ever changes); the threads touch only their own jobs.
 */
#include "tlscert.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fewer files than this per thread are not worth one. */
#define PER_THREAD  64
#define MAX_THREADS 16

/* What a file is: a change of any of these is a new file. */
struct fid {
	int ok; /* stat worked */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct sl_tls_cert_id {
	char *cert_path, *key_path;
	struct fid cert, key;
	int seclevel;
	uint64_t h;
};

/* ---- identities ------------------------------------------------------- */

static void
fid_of(const char *path, struct fid *f)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (stat(path, &st) != 0)
		return;
	f->ok = 1;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtim = st.st_mtim;
	f->ctim = st.st_ctim;
}

static int
fid_eq(const struct fid *a, const struct fid *b)
{
	return a->ok && b->ok && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtim.tv_sec == b->mtim.tv_sec &&
	       a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec &&
	       a->ctim.tv_nsec == b->ctim.tv_nsec;
}

static uint64_t
h_bytes(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
	return h;
}

static uint64_t
h_u64(uint64_t h, uint64_t v)
{
	return h_bytes(h, &v, sizeof(v));
}

static uint64_t
h_fid(uint64_t h, const struct fid *f)
{
	h = h_u64(h, (uint64_t)f->dev);
	h = h_u64(h, (uint64_t)f->ino);
	h = h_u64(h, (uint64_t)f->size);
	h = h_u64(h, (uint64_t)f->mtim.tv_sec);
	h = h_u64(h, (uint64_t)f->mtim.tv_nsec);
	h = h_u64(h, (uint64_t)f->ctim.tv_sec);
	return h_u64(h, (uint64_t)f->ctim.tv_nsec);
}

static uint64_t
id_hash(const struct sl_tls_cert_id *id)
{
	uint64_t h = 1469598103934665603ull;

	h = h_bytes(h, id->cert_path, strlen(id->cert_path) + 1);
	h = h_bytes(h, id->key_path, strlen(id->key_path) + 1);
	h = h_fid(h, &id->cert);
	h = h_fid(h, &id->key);
	return h_u64(h, (uint64_t)id->seclevel);
}

static int
id_eq(const struct sl_tls_cert_id *a, const struct sl_tls_cert_id *b)
{
	return a->h == b->h && a->seclevel == b->seclevel &&
	       strcmp(a->cert_path, b->cert_path) == 0 &&
	       strcmp(a->key_path, b->key_path) == 0 &&
	       fid_eq(&a->cert, &b->cert) && fid_eq(&a->key, &b->key);
}

static void
id_free(struct sl_tls_cert_id *id)
{
	if (id == NULL)
		return;
	free(id->cert_path);
	free(id->key_path);
	free(id);
}

/* ---- certificates ------------------------------------------------------- */

struct sl_tls_cert *
sl_tls_cert_ref(struct sl_tls_cert *c)
{
	if (c != NULL)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void
sl_tls_cert_unref(struct sl_tls_cert *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) > 1)
		return;
	X509_free(c->leaf);
	sk_X509_pop_free(c->chain, X509_free);
	EVP_PKEY_free(c->key);
	for (size_t i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	id_free(c->id);
	free(c);
}

int
sl_tls_cert_use(struct sl_tls_cert *c, SSL_CTX *ctx, SSL *ssl)
{
	if (ssl != NULL)
		return SSL_use_cert_and_key(ssl, c->leaf, c->key, c->chain, 1);
	return SSL_CTX_use_cert_and_key(ctx, c->leaf, c->key, c->chain, 1);
}

/* The DNS names of a certificate (its CN when it has none). */
static int
cert_names(X509 *x, char ***names, size_t *n)
{
	GENERAL_NAMES *sans =
	    X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char cn[256];

	*names = NULL;
	*n = 0;
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const unsigned char *d;
		char **nn;
		int len;

		if (g->type != GEN_DNS)
			continue;
		d = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		if (len <= 0 || memchr(d, '\0', (size_t)len) != NULL)
			continue;
		if ((nn = realloc(*names, (*n + 1) * sizeof(*nn))) == NULL)
			goto oom;
		*names = nn;
		if ((nn[*n] = strndup((const char *)d, (size_t)len)) == NULL)
			goto oom;
		(*n)++;
	}
	GENERAL_NAMES_free(sans);
	sans = NULL;
	if (*n == 0 &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
				      cn, sizeof(cn)) > 0) {
		if ((*names = malloc(sizeof(**names))) == NULL ||
		    ((*names)[0] = strdup(cn)) == NULL)
			goto oom;
		*n = 1;
	}
	return 0;
oom:
	GENERAL_NAMES_free(sans);
	return -1;
}

/* A certificate's date in seconds since 1970; one that cannot be read is
 * taken as neither expired nor early. */
static time_t
asn1_seconds(const ASN1_TIME *t, int after)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		/* as X509_cmp_current_time's error: neither warning */
		return after ? (time_t)INT64_MAX : 0;
	}
	return timegm(&tm);
}

static int no_password(char *buf, int size, int rwflag, void *u);

struct sl_tls_cert *
sl_tls_cert_from_pem(const char *pem, size_t len, EVP_PKEY *key, char *why,
		     size_t n)
{
	struct sl_tls_cert *c = calloc(1, sizeof(*c));
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x;

	if (c == NULL || b == NULL || len > INT32_MAX) {
		snprintf(why, n, "out of memory");
		goto fail;
	}
	atomic_init(&c->refs, 1);
	if ((c->leaf = PEM_read_bio_X509(b, NULL, no_password, NULL)) == NULL) {
		snprintf(why, n, "no PEM certificate in the answer");
		goto fail;
	}
	while ((x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL)
		if ((c->chain == NULL &&
		     (c->chain = sk_X509_new_null()) == NULL) ||
		    sk_X509_push(c->chain, x) == 0) {
			X509_free(x);
			snprintf(why, n, "out of memory");
			goto fail;
		}
	ERR_clear_error();
	if (X509_check_private_key(c->leaf, key) != 1) {
		snprintf(why, n, "the certificate is not of the key ordered");
		goto fail;
	}
	EVP_PKEY_up_ref(key);
	c->key = key;
	if (cert_names(c->leaf, &c->names, &c->nnames) == -1) {
		snprintf(why, n, "out of memory");
		goto fail;
	}
	c->not_before = asn1_seconds(X509_get0_notBefore(c->leaf), 0);
	c->not_after = asn1_seconds(X509_get0_notAfter(c->leaf), 1);
	BIO_free(b);
	ERR_clear_error();
	return c;
fail:
	ERR_clear_error();
	BIO_free(b);
	sl_tls_cert_unref(c);
	return NULL;
}

/* ---- the cache ----------------------------------------------------------
 */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sl_tls_cert **cache; /* open addressing by id->h */
static size_t cache_cap, cache_n;

static struct sl_tls_cert *
cache_get(const struct sl_tls_cert_id *id)
{
	if (cache_cap == 0)
		return NULL;
	for (size_t i = id->h & (cache_cap - 1); cache[i] != NULL;
	     i = (i + 1) & (cache_cap - 1))
		if (id_eq(cache[i]->id, id))
			return cache[i];
	return NULL;
}

static void
cache_put_slot(struct sl_tls_cert **tab, size_t cap, struct sl_tls_cert *c)
{
	size_t i;

	for (i = c->id->h & (cap - 1); tab[i] != NULL; i = (i + 1) & (cap - 1))
		;
	tab[i] = c;
}

/* Takes a reference to c for the cache (one copy per identity). */
static void
cache_put(struct sl_tls_cert *c)
{
	if (c->id == NULL || cache_get(c->id) != NULL)
		return;
	if ((cache_n + 1) * 2 > cache_cap) {
		size_t cap = cache_cap ? cache_cap * 2 : 64;
		struct sl_tls_cert **tab = calloc(cap, sizeof(*tab));
		if (tab == NULL)
			return; /* not cached: read again next time */
		for (size_t i = 0; i < cache_cap; i++)
			if (cache[i] != NULL)
				cache_put_slot(tab, cap, cache[i]);
		free(cache);
		cache = tab;
		cache_cap = cap;
	}
	cache_put_slot(cache, cache_cap, sl_tls_cert_ref(c));
	cache_n++;
}

void
sl_tls_certs_prune(void)
{
	struct sl_tls_cert **old;
	size_t cap;

	pthread_mutex_lock(&cache_lock);
	old = cache;
	cap = cache_cap;
	if ((cache = calloc(cap > 0 ? cap : 1, sizeof(*cache))) == NULL) {
		cache = old; /* kept whole: pruned next time */
		pthread_mutex_unlock(&cache_lock);
		return;
	}
	cache_n = 0;
	for (size_t i = 0; i < cap; i++) {
		if (old[i] == NULL)
			continue;
		/* the cache's the only reference: no generation serves it,
		 * and only this thread could hand out another */
		if (atomic_load(&old[i]->refs) == 1)
			sl_tls_cert_unref(old[i]);
		else {
			cache_put_slot(cache, cap, old[i]);
			cache_n++;
		}
	}
	free(old);
	pthread_mutex_unlock(&cache_lock);
}

/* ---- reading files -------------------------------------------------------
 */

const char *
sl_tls_ossl_reason(char *buf, size_t n)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, n, "%s", r ? r : "unknown error");
	ERR_clear_error();
	return buf;
}

static void __attribute__((format(printf, 3, 4)))
job_msg(struct sl_tls_cert_job *j, int about, const char *fmt, ...)
{
	va_list ap;

	if (j->nmsg >= sizeof(j->msg) / sizeof(j->msg[0]))
		return;
	j->msg[j->nmsg].about = about;
	va_start(ap, fmt);
	vsnprintf(j->msg[j->nmsg].text, sizeof(j->msg[0].text), fmt, ap);
	va_end(ap);
	j->nmsg++;
}

/* A key file a load reads once, however many certificates name it. */
struct key {
	const char *path; /* borrowed (the first job's) */
	struct fid id;
	EVP_PKEY *pkey; /* NULL: why says why */
	int open_errno; /* fopen failed: its errno */
	char why[256];
};

/* One certificate a load reads, and what it gets. */
struct miss {
	struct sl_tls_cert_job *job;
	struct sl_tls_cert_id *id; /* NULL when stat failed: not cached */
	struct key *key;
};

struct run {
	struct key *keys;
	size_t nkeys;
	struct miss *misses;
	size_t nmisses;
	int seclevel;
	atomic_size_t next;
	int phase; /* 0: keys, 1: certificates */
};

/* A password callback that has none: an encrypted key is an error, not
 * a prompt on the terminal from a thread. */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/* A key reader: a decoder told the key's type, EC and RSA, made once and
 * used for many keys (OpenSSL 3's untyped PEM_read_bio_PrivateKey looks
 * at every decoder it has for each key: 340 us a P-256 key here, a typed
 * decoder made anew 90, one used again 31; 10,000 keys, ACME's one a
 * name, were 3.4 s of a start). What neither reads goes to the untyped
 * read, whose error is the one said. */
struct sl_tls_keyreader {
	OSSL_DECODER_CTX *d[2];
	EVP_PKEY *out; /* where the decoders put a key */
};

/* An encrypted key is refused, never asked for on a terminal. */
static int
no_passphrase(char *pass, size_t size, size_t *len, const OSSL_PARAM p[],
	      void *arg)
{
	(void)pass;
	(void)size;
	(void)len;
	(void)p;
	(void)arg;
	return 0;
}

struct sl_tls_keyreader *
sl_tls_keyreader_new(void)
{
	static const char *const types[] = {"EC", "RSA"};
	struct sl_tls_keyreader *kr = calloc(1, sizeof(*kr));

	for (size_t i = 0; kr != NULL && i < 2; i++) {
		kr->d[i] = OSSL_DECODER_CTX_new_for_pkey(
		    &kr->out, "PEM", NULL, types[i],
		    OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
		if (kr->d[i] != NULL && !OSSL_DECODER_CTX_set_passphrase_cb(
					    kr->d[i], no_passphrase, NULL)) {
			OSSL_DECODER_CTX_free(kr->d[i]);
			kr->d[i] = NULL;
		}
	}
	ERR_clear_error();
	return kr;
}

void
sl_tls_keyreader_free(struct sl_tls_keyreader *kr)
{
	if (kr == NULL)
		return;
	OSSL_DECODER_CTX_free(kr->d[0]);
	OSSL_DECODER_CTX_free(kr->d[1]);
	free(kr);
}

EVP_PKEY *
sl_tls_key_read(struct sl_tls_keyreader *kr, const char *pem, size_t len,
		char *why, size_t n)
{
	EVP_PKEY *k = NULL;
	BIO *b;

	for (size_t i = 0; kr != NULL && i < 2 && k == NULL; i++) {
		if (kr->d[i] == NULL ||
		    (b = BIO_new_mem_buf(pem, (int)len)) == NULL)
			continue;
		kr->out = NULL;
		(void)OSSL_DECODER_from_bio(kr->d[i], b);
		BIO_free(b);
		k = kr->out;
		kr->out = NULL;
	}
	ERR_clear_error();
	if (k == NULL && (b = BIO_new_mem_buf(pem, (int)len)) != NULL) {
		k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
		BIO_free(b);
	}
	if (k == NULL)
		sl_tls_ossl_reason(why, n);
	ERR_clear_error();
	return k;
}

#define KEY_FILE_MAX (64 * 1024)

static void
read_key(struct key *k, struct sl_tls_keyreader *kr)
{
	char *buf = malloc(KEY_FILE_MAX);
	size_t len = 0;
	ssize_t r;
	int fd = open(k->path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 || buf == NULL) {
		k->open_errno = fd == -1 ? (errno ? errno : EIO) : ENOMEM;
		if (fd != -1)
			close(fd);
		free(buf);
		return;
	}
	while (len < KEY_FILE_MAX &&
	       (r = read(fd, buf + len, KEY_FILE_MAX - len)) > 0)
		len += (size_t)r;
	close(fd);
	k->pkey = sl_tls_key_read(kr, buf, len, k->why, sizeof(k->why));
	OPENSSL_cleanse(buf, len);
	free(buf);
}

static void
read_cert(struct miss *ms, SSL_CTX *scratch)
{
	struct sl_tls_cert_job *j = ms->job;
	struct sl_tls_cert *cert = NULL;
	char why[256];
	unsigned long e;
	BIO *b;
	X509 *x;
	int cert_errno = 0;

	if ((b = BIO_new_file(j->cert_path, "r")) == NULL) {
		cert_errno = errno ? errno : EIO;
		ERR_clear_error();
	}
	/* both said when both are missing */
	if (cert_errno != 0)
		job_msg(j, SL_TLS_CERT_ABOUT_CERT, "certificate \"%s\": %s",
			j->cert_path, strerror(cert_errno));
	if (ms->key->open_errno != 0)
		job_msg(j, SL_TLS_CERT_ABOUT_KEY, "key \"%s\": %s", j->key_path,
			strerror(ms->key->open_errno));
	if (b == NULL || ms->key->open_errno != 0)
		goto out;
	if ((cert = calloc(1, sizeof(*cert))) == NULL)
		goto oom;
	atomic_init(&cert->refs, 1);
	if ((cert->leaf = PEM_read_bio_X509_AUX(b, NULL, no_password, NULL)) ==
	    NULL) {
		ERR_clear_error();
		job_msg(j, SL_TLS_CERT_ABOUT_CERT,
			"certificate \"%s\": no PEM certificate in it",
			j->cert_path);
		goto fail;
	}
	/* the rest of the file is its chain, as
	 * SSL_CTX_use_certificate_chain_file reads it */
	while ((x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL) {
		if ((cert->chain == NULL &&
		     (cert->chain = sk_X509_new_null()) == NULL) ||
		    sk_X509_push(cert->chain, x) == 0) {
			X509_free(x);
			goto oom;
		}
	}
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
		ERR_clear_error();
	else if (e != 0) {
		job_msg(j, SL_TLS_CERT_ABOUT_CERT, "certificate \"%s\": %s",
			j->cert_path, sl_tls_ossl_reason(why, sizeof(why)));
		goto fail;
	}
	if (ms->key->pkey == NULL) {
		job_msg(j, SL_TLS_CERT_ABOUT_KEY, "key \"%s\": %s", j->key_path,
			ms->key->why);
		goto fail;
	}
	cert->key = ms->key->pkey;
	EVP_PKEY_up_ref(cert->key);
	/* the key matches, and the security level takes the key and the
	 * chain's signatures, as the listener's context will */
	if (scratch == NULL)
		goto oom;
	if (SSL_CTX_use_cert_and_key(scratch, cert->leaf, cert->key,
				     cert->chain, 1) != 1) {
		e = ERR_peek_last_error();
		if (ERR_GET_REASON(e) == SSL_R_PRIVATE_KEY_MISMATCH ||
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			job_msg(j, SL_TLS_CERT_ABOUT_KEY,
				"key \"%s\" does not match certificate \"%s\"",
				j->key_path, j->cert_path);
		} else
			job_msg(j, SL_TLS_CERT_ABOUT_CERT,
				"certificate \"%s\": %s", j->cert_path,
				sl_tls_ossl_reason(why, sizeof(why)));
		goto fail;
	}
	if (cert_names(cert->leaf, &cert->names, &cert->nnames) == -1)
		goto oom;
	cert->not_before = asn1_seconds(X509_get0_notBefore(cert->leaf), 0);
	cert->not_after = asn1_seconds(X509_get0_notAfter(cert->leaf), 1);
	cert->id = ms->id;
	ms->id = NULL;
	j->cert = cert;
	goto out;
oom:
	job_msg(j, SL_TLS_CERT_ABOUT_NONE, "out of memory");
fail:
	sl_tls_cert_unref(cert);
out:
	BIO_free(b);
	ERR_clear_error();
}

/* Takes the next key, then the next certificate, until none is left. */
static void
run_jobs(struct run *r)
{
	SSL_CTX *scratch = NULL;
	size_t i;

	if (r->phase == 0) {
		struct sl_tls_keyreader *kr = sl_tls_keyreader_new();
		while ((i = atomic_fetch_add(&r->next, 1)) < r->nkeys)
			read_key(&r->keys[i], kr);
		sl_tls_keyreader_free(kr);
		return;
	}
	/* -1: the listener has no context (its messages say why): the
	 * default level */
	if ((scratch = SSL_CTX_new(TLS_server_method())) != NULL &&
	    r->seclevel >= 0)
		SSL_CTX_set_security_level(scratch, r->seclevel);
	while ((i = atomic_fetch_add(&r->next, 1)) < r->nmisses)
		read_cert(&r->misses[i], scratch);
	SSL_CTX_free(scratch);
	ERR_clear_error();
}

static void *
run_thread(void *arg)
{
	run_jobs(arg);
	return NULL;
}

/* n jobs of phase over the machine's CPUs, this thread one of them. */
static void
run_phase(struct run *r, int phase, size_t n)
{
	pthread_t t[MAX_THREADS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = (n + PER_THREAD - 1) / PER_THREAD, started = 0;

	if (cpus < 1)
		cpus = 1;
	if (want > (size_t)cpus)
		want = (size_t)cpus;
	if (want > MAX_THREADS)
		want = MAX_THREADS;
	r->phase = phase;
	atomic_store(&r->next, 0);
	for (size_t k = 1; k < want; k++)
		if (pthread_create(&t[started], NULL, run_thread, r) == 0)
			started++;
	run_jobs(r);
	for (size_t k = 0; k < started; k++)
		pthread_join(t[k], NULL);
}

int
sl_tls_certs_load(struct sl_tls_cert_job *jobs, size_t n, int seclevel)
{
	struct run r;
	size_t *kslot = NULL, kcap = 16;
	const char *last_key = NULL;
	struct fid last_kid;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	r.seclevel = seclevel;
	if ((r.misses = calloc(n > 0 ? n : 1, sizeof(*r.misses))) == NULL ||
	    (r.keys = calloc(n > 0 ? n : 1, sizeof(*r.keys))) == NULL)
		goto out;
	while (kcap < 2 * n)
		kcap *= 2;
	if ((kslot = calloc(kcap, sizeof(*kslot))) == NULL)
		goto out;
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < n; i++) {
		struct sl_tls_cert_job *j = &jobs[i];
		struct sl_tls_cert_id *id = calloc(1, sizeof(*id));
		struct sl_tls_cert *hit;
		struct fid kid;
		struct miss *ms;
		size_t k;

		j->cert = NULL;
		j->nmsg = 0;
		if (id == NULL ||
		    (id->cert_path = strdup(j->cert_path)) == NULL ||
		    (id->key_path = strdup(j->key_path)) == NULL) {
			id_free(id);
			pthread_mutex_unlock(&cache_lock);
			goto out;
		}
		fid_of(id->cert_path, &id->cert);
		/* a key that many certificates share: stat once */
		if (last_key == NULL || strcmp(last_key, id->key_path) != 0)
			fid_of(id->key_path, &last_kid);
		last_key = j->key_path;
		id->key = last_kid;
		id->seclevel = seclevel;
		id->h = id_hash(id);
		kid = id->key;
		if (id->cert.ok && id->key.ok &&
		    (hit = cache_get(id)) != NULL) {
			j->cert = sl_tls_cert_ref(hit);
			id_free(id);
			continue;
		}
		if (!id->cert.ok || !id->key.ok) {
			/* not cached: said (or read) by the reading */
			id_free(id);
			id = NULL;
		}
		ms = &r.misses[r.nmisses++];
		ms->job = j;
		ms->id = id;
		/* the key, once per file: by its path's hash */
		{
			uint64_t h = h_bytes(1469598103934665603ull,
					     j->key_path, strlen(j->key_path));
			size_t s;
			for (s = h & (kcap - 1); kslot[s] != 0;
			     s = (s + 1) & (kcap - 1)) {
				struct key *y = &r.keys[kslot[s] - 1];
				if (strcmp(y->path, j->key_path) == 0 &&
				    (fid_eq(&y->id, &kid) ||
				     (!kid.ok && !y->id.ok)))
					break;
			}
			if (kslot[s] == 0) {
				k = r.nkeys++;
				r.keys[k].path = j->key_path;
				r.keys[k].id = kid;
				kslot[s] = k + 1;
			} else
				k = kslot[s] - 1;
		}
		ms->key = &r.keys[k];
	}
	pthread_mutex_unlock(&cache_lock);
	run_phase(&r, 0, r.nkeys);
	run_phase(&r, 1, r.nmisses);
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < r.nmisses; i++)
		if (r.misses[i].job->cert != NULL)
			cache_put(r.misses[i].job->cert);
	pthread_mutex_unlock(&cache_lock);
	rc = 0;
out:
	for (size_t i = 0; r.misses != NULL && i < r.nmisses; i++)
		id_free(r.misses[i].id);
	for (size_t k = 0; k < r.nkeys; k++)
		EVP_PKEY_free(r.keys[k].pkey);
	free(r.misses);
	free(r.keys);
	free(kslot);
	return rc;
}

static int
cmp_fold(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

char *
sl_tls_cert_names_key(const struct sl_tls_cert *c, size_t *len, uint64_t *h)
{
	char **v = malloc((c->nnames ? c->nnames : 1) * sizeof(*v));
	size_t n = 0, at = 0;
	char *k;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < c->nnames; i++) {
		v[i] = c->names[i];
		n += strlen(v[i]) + 1;
	}
	qsort(v, c->nnames, sizeof(*v), cmp_fold);
	if ((k = malloc(n + 1)) == NULL) {
		free(v);
		return NULL;
	}
	*h = 1469598103934665603ull;
	for (size_t i = 0; i < c->nnames; i++) {
		for (const char *s = v[i];; s++) {
			char ch = (char)tolower((unsigned char)*s);
			k[at++] = ch;
			*h = (*h ^ (unsigned char)ch) * 1099511628211ull;
			if (*s == '\0')
				break;
		}
	}
	*len = n;
	free(v);
	return k;
}
