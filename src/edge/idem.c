/* SPDX-License-Identifier: MIT */
/*
 * The Idempotency-Key store without I/O: the key's syntax, a kept
 * answer's bytes, and the local store (idem.h). The local store is a
 * chained hash table and a list of its entries from the oldest, under one
 * mutex: a request takes it once when it looks its key up and once when
 * its answer is kept or its key let go, each time for a lookup and a
 * copy of at most max_response_bytes.
 */
#include "idem.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- the key ------------------------------------------------------------ */

int
sl_idem_key(const char *v, size_t n, const char **key, size_t *klen)
{
	size_t i;

	if (n == 0)
		return -1;
	if (v[0] == '"') {
		/* an sf-string: printable ASCII, \" and \\ escaped, nothing
		 * after the closing quote (no parameters are defined) */
		for (i = 1; i < n; i++) {
			unsigned char c = (unsigned char)v[i];
			if (c == '\\') {
				if (i + 1 >= n ||
				    (v[i + 1] != '"' && v[i + 1] != '\\'))
					return -1;
				i++;
				continue;
			}
			if (c == '"')
				break;
			if (c < 0x20 || c > 0x7e)
				return -1;
		}
		if (i != n - 1 || i == 1 || i - 1 > SL_IDEM_KEY_MAX)
			return -1;
		*key = v + 1;
		*klen = i - 1;
		return 0;
	}
	if (n > SL_IDEM_KEY_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= 0x20 || c > 0x7e || c == '"' || c == ',')
			return -1;
	}
	*key = v;
	*klen = n;
	return 0;
}

/* ---- a kept answer ------------------------------------------------------ */

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

void
sl_idem_resp_head(unsigned char *out, int status, uint32_t flen, uint32_t blen)
{
	memcpy(out, "SLI1", 4);
	out[4] = (unsigned char)(status >> 8);
	out[5] = (unsigned char)status;
	put32(out + 6, flen);
	put32(out + 10, blen);
}

/* RFC 9110 tchar */
static int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Whether f (n bytes) is lines "Name: value\r\n". */
static int
fields_ok(const char *f, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t s = i;
		while (i < n && tchar((unsigned char)f[i]))
			i++;
		if (i == s || i >= n || f[i] != ':')
			return 0;
		for (i++; i < n && f[i] != '\r'; i++) {
			unsigned char c = (unsigned char)f[i];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return 0;
		}
		if (i + 1 >= n || f[i + 1] != '\n')
			return 0;
		i += 2;
	}
	return 1;
}

int
sl_idem_resp_parse(const void *p, size_t n, struct sl_idem_resp *r)
{
	const unsigned char *b = p;
	uint64_t flen, blen;

	if (n < SL_IDEM_RESP_HEAD || memcmp(b, "SLI1", 4) != 0)
		return -1;
	r->status = (int)b[4] << 8 | b[5];
	flen = get32(b + 6);
	blen = get32(b + 10);
	if (r->status < 200 || r->status > 599 ||
	    SL_IDEM_RESP_HEAD + flen + blen != n)
		return -1;
	r->fields = (const char *)b + SL_IDEM_RESP_HEAD;
	r->flen = (size_t)flen;
	r->body = r->fields + flen;
	r->blen = (size_t)blen;
	return fields_ok(r->fields, r->flen) ? 0 : -1;
}

/* ---- the local store ---------------------------------------------------- */

enum { E_FLIGHT = 0, E_DONE };

struct ient {
	struct ient *hnext;	    /* in its bucket */
	struct ient *older, *newer; /* the age list */
	uint8_t id[SL_IDEM_HASH];
	uint8_t fp[SL_IDEM_HASH];
	uint64_t token;	     /* E_FLIGHT: its reservation */
	uint64_t expires_ms; /* the lease's end, or the ttl's */
	unsigned char *answer;
	size_t alen;
	uint8_t state;
};

#define EVICT_WALK 64 /* entries looked at for room, at most */

static struct {
	pthread_mutex_t lock;
	struct ient **b; /* buckets, a power of two of them */
	size_t nb;
	/* the table being emptied into b since b grew, MOVE_STEP buckets
	 * at each call, so that no call pays for the whole table under the
	 * lock (34 ms at 524,288 entries, all workers held): its buckets
	 * from mv up are not moved yet (ob NULL: none) */
	struct ient **ob;
	size_t onb, mv;
	struct ient *oldest, *newest;
	uint64_t token;
	_Atomic uint64_t n, bytes;
	_Atomic uint64_t evicted; /* done entries pushed out before their
				     ttl's end */
} st = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* What an entry counts against memory: itself and its answer (the
 * buckets are counted as they are made). */
static size_t
cost(size_t alen)
{
	return sizeof(struct ient) + alen;
}

#define MOVE_STEP 16 /* old buckets moved into the new table per call */

/* Where id's chain is: in the old table while its bucket there is not
 * moved yet, else in the new one (every entry, inserted before the move
 * or during it, is where this says). */
static struct ient **
head(const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	if (st.ob != NULL && ((size_t)h & (st.onb - 1)) >= st.mv)
		return &st.ob[(size_t)h & (st.onb - 1)];
	return &st.b[(size_t)h & (st.nb - 1)];
}

static struct ient *
find(const uint8_t *id)
{
	struct ient *e;

	if (st.nb == 0)
		return NULL;
	for (e = *head(id); e != NULL; e = e->hnext)
		if (memcmp(e->id, id, SL_IDEM_HASH) == 0)
			return e;
	return NULL;
}

/* Moves up to MOVE_STEP buckets of the old table into the new one; the
 * old one goes once empty. */
static void
move_step(void)
{
	for (int k = 0; k < MOVE_STEP && st.ob != NULL; k++) {
		while (st.ob[st.mv] != NULL) {
			struct ient *e = st.ob[st.mv];
			uint64_t h;
			st.ob[st.mv] = e->hnext;
			memcpy(&h, e->id, sizeof(h));
			e->hnext = st.b[(size_t)h & (st.nb - 1)];
			st.b[(size_t)h & (st.nb - 1)] = e;
		}
		if (++st.mv == st.onb) {
			atomic_fetch_sub(&st.bytes, st.onb * sizeof(void *));
			free(st.ob);
			st.ob = NULL;
			st.onb = st.mv = 0;
		}
	}
}

static void
age_unlink(struct ient *e)
{
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		st.oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		st.newest = e->older;
	e->older = e->newer = NULL;
}

static void
age_append(struct ient *e)
{
	e->older = st.newest;
	e->newer = NULL;
	if (st.newest != NULL)
		st.newest->newer = e;
	else
		st.oldest = e;
	st.newest = e;
}

static void
drop(struct ient *e)
{
	struct ient **pp = head(e->id);

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	age_unlink(e);
	atomic_fetch_sub(&st.n, 1);
	atomic_fetch_sub(&st.bytes, cost(e->alen));
	free(e->answer);
	free(e);
}

/* Twice the buckets when the entries outnumber them, moved into a few
 * at a time (move_step); not while a move is under way (a failure to
 * grow leaves longer chains, nothing worse, once there are buckets: the
 * caller checks st.nb). */
static void
grow(void)
{
	size_t nb = st.nb != 0 ? st.nb * 2 : 1024;
	struct ient **b;

	if (st.ob != NULL || atomic_load(&st.n) < st.nb)
		return;
	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return;
	atomic_fetch_add(&st.bytes, nb * sizeof(void *));
	if (st.nb != 0) {
		st.ob = st.b;
		st.onb = st.nb;
		st.mv = 0;
	}
	st.b = b;
	st.nb = nb;
}

/* Whether e may go to make room: done, or its time past; never keep. */
static int
evictable(const struct ient *e, uint64_t now_ms, const struct ient *keep)
{
	return e != keep && (e->state == E_DONE || e->expires_ms <= now_ms);
}

/* Room for need more bytes within memory: expired entries, then the
 * oldest done ones, go (a few looked at, never one in flight whose lease
 * runs). Returns 0, or -1 when there is none. */
static int
room(size_t need, uint64_t memory, uint64_t now_ms, const struct ient *keep)
{
	struct ient *e = st.oldest, *next;
	int walked = 0;

	while (atomic_load(&st.bytes) + need > memory) {
		if (e == NULL || walked++ >= EVICT_WALK)
			return -1;
		next = e->newer;
		if (evictable(e, now_ms, keep)) {
			if (e->expires_ms > now_ms)
				atomic_fetch_add(&st.evicted, 1);
			drop(e);
		}
		e = next;
	}
	return 0;
}

/* Whether room() would find need bytes, nothing dropped: an answer that
 * cannot be kept pushes no kept answer out for nothing. */
static int
room_possible(size_t need, uint64_t memory, uint64_t now_ms,
	      const struct ient *keep)
{
	const struct ient *e = st.oldest;
	uint64_t have = atomic_load(&st.bytes);
	int walked = 0;

	for (; have + need > memory; e = e->newer) {
		if (e == NULL || walked++ >= EVICT_WALK)
			return 0;
		if (evictable(e, now_ms, keep))
			have -= cost(e->alen);
	}
	return 1;
}

int
sl_idem_local_reserve(const uint8_t id[SL_IDEM_HASH],
		      const uint8_t fp[SL_IDEM_HASH], uint64_t now_ms,
		      uint64_t lease_ms, uint64_t memory, uint64_t *token,
		      unsigned char **answer, size_t *alen)
{
	struct ient *e;
	int r;

	*answer = NULL;
	*alen = 0;
	pthread_mutex_lock(&st.lock);
	move_step();
	/* the oldest entries, when their time is past, go as new ones
	 * come: a store at rest keeps what it held until then */
	for (int k = 0;
	     k < 2 && st.oldest != NULL && st.oldest->expires_ms <= now_ms; k++)
		drop(st.oldest);
	if ((e = find(id)) != NULL && e->expires_ms <= now_ms) {
		drop(e);
		e = NULL;
	}
	if (e != NULL) {
		if (e->state == E_FLIGHT)
			r = SL_IDEM_CONFLICT;
		else if (memcmp(e->fp, fp, SL_IDEM_HASH) != 0)
			r = SL_IDEM_MISMATCH;
		else if ((*answer = malloc(e->alen > 0 ? e->alen : 1)) == NULL)
			r = SL_IDEM_FULL;
		else {
			memcpy(*answer, e->answer, e->alen);
			*alen = e->alen;
			r = SL_IDEM_REPLAY;
		}
		goto out;
	}
	r = SL_IDEM_FULL;
	if (room(cost(0), memory, now_ms, NULL) == -1)
		goto out;
	/* the buckets before the entry: without any (the first key, or
	 * the first after sl_idem_local_free, and calloc failed) there is
	 * nowhere to put it */
	grow();
	if (st.nb == 0 || (e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	memcpy(e->id, id, SL_IDEM_HASH);
	memcpy(e->fp, fp, SL_IDEM_HASH);
	e->state = E_FLIGHT;
	e->token = *token = ++st.token;
	e->expires_ms = now_ms + lease_ms;
	e->hnext = *head(id);
	*head(id) = e;
	age_append(e);
	atomic_fetch_add(&st.n, 1);
	atomic_fetch_add(&st.bytes, cost(0));
	r = SL_IDEM_RESERVED;
out:
	pthread_mutex_unlock(&st.lock);
	return r;
}

int
sl_idem_local_commit(const uint8_t id[SL_IDEM_HASH], uint64_t token,
		     const void *answer, size_t alen, uint64_t now_ms,
		     uint64_t ttl_ms, uint64_t memory)
{
	struct ient *e;
	unsigned char *copy;
	int r = -1;

	pthread_mutex_lock(&st.lock);
	move_step();
	if ((e = find(id)) == NULL || e->state != E_FLIGHT || e->token != token)
		goto out;
	if (!room_possible(alen, memory, now_ms, e) ||
	    room(alen, memory, now_ms, e) == -1 ||
	    (copy = malloc(alen > 0 ? alen : 1)) == NULL) {
		drop(e);
		r = -2;
		goto out;
	}
	memcpy(copy, answer, alen);
	e->answer = copy;
	e->alen = alen;
	atomic_fetch_add(&st.bytes, alen);
	e->state = E_DONE;
	e->token = 0;
	e->expires_ms = now_ms + ttl_ms;
	age_unlink(e);
	age_append(e);
	r = 0;
out:
	pthread_mutex_unlock(&st.lock);
	return r;
}

void
sl_idem_local_release(const uint8_t id[SL_IDEM_HASH], uint64_t token)
{
	struct ient *e;

	pthread_mutex_lock(&st.lock);
	move_step();
	if ((e = find(id)) != NULL && e->state == E_FLIGHT && e->token == token)
		drop(e);
	pthread_mutex_unlock(&st.lock);
}

void
sl_idem_local_stats(uint64_t *entries, uint64_t *bytes, uint64_t *evicted)
{
	*entries = atomic_load(&st.n);
	*bytes = atomic_load(&st.bytes);
	*evicted = atomic_load(&st.evicted);
}

void
sl_idem_local_free(void)
{
	pthread_mutex_lock(&st.lock);
	while (st.oldest != NULL)
		drop(st.oldest);
	atomic_fetch_sub(&st.bytes, (st.nb + st.onb) * sizeof(void *));
	free(st.b);
	free(st.ob);
	st.b = st.ob = NULL;
	st.nb = st.onb = st.mv = 0;
	pthread_mutex_unlock(&st.lock);
}

/* ---- sealing ------------------------------------------------------------ */

/* AES-256-GCM, fetched once: EVP_aes_256_gcm() is looked up by name
 * again at each EVP_*Init_ex (OpenSSL 3), a few thousand instructions
 * and a read lock every seal and open. */
static EVP_CIPHER *gcm_cipher;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void
gcm_fetch(void)
{
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static const EVP_CIPHER *
gcm(void)
{
	pthread_once(&gcm_once, gcm_fetch);
	return gcm_cipher != NULL ? gcm_cipher : EVP_aes_256_gcm();
}

int
sl_idem_seal(const unsigned char key[32], const uint8_t id[SL_IDEM_HASH],
	     const void *in, size_t n, unsigned char *out)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int len = 0, ok;

	ok = x != NULL && n <= INT32_MAX &&
	     RAND_bytes(out, SL_IDEM_NONCE) == 1 &&
	     EVP_EncryptInit_ex(x, gcm(), NULL, key, out) == 1 &&
	     EVP_EncryptUpdate(x, NULL, &len, id, SL_IDEM_HASH) == 1 &&
	     EVP_EncryptUpdate(x, out + SL_IDEM_NONCE, &len, in, (int)n) == 1 &&
	     EVP_EncryptFinal_ex(x, out + SL_IDEM_NONCE + len, &len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, SL_IDEM_TAG,
				 out + SL_IDEM_NONCE + n) == 1;
	EVP_CIPHER_CTX_free(x);
	return ok ? 0 : -1;
}

long
sl_idem_open(const unsigned char key[32], const uint8_t id[SL_IDEM_HASH],
	     const unsigned char *in, size_t n, unsigned char *out)
{
	EVP_CIPHER_CTX *x;
	size_t clen;
	int len = 0, ok;

	if (n < SL_IDEM_SEAL_OVERHEAD || n - SL_IDEM_SEAL_OVERHEAD > INT32_MAX)
		return -1;
	clen = n - SL_IDEM_SEAL_OVERHEAD;
	if ((x = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_DecryptInit_ex(x, gcm(), NULL, key, in) == 1 &&
	     EVP_DecryptUpdate(x, NULL, &len, id, SL_IDEM_HASH) == 1 &&
	     EVP_DecryptUpdate(x, out, &len, in + SL_IDEM_NONCE, (int)clen) ==
		 1 &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, SL_IDEM_TAG,
				 (void *)(in + SL_IDEM_NONCE + clen)) == 1 &&
	     EVP_DecryptFinal_ex(x, out + len, &len) == 1;
	EVP_CIPHER_CTX_free(x);
	return ok ? (long)clen : -1;
}
