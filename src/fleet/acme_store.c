/* SPDX-License-Identifier: MIT */
/*
 * ACME's fleet store (acme_int.h; doc/tls.md, "ACME in a fleet"): the
 * Redis of rate_limit_store, reached from the ACME thread and its fleet
 * thread with hiredis's blocking calls under rate_limit_store's timeout
 * (at least a second), never from a worker. What it keeps, under the
 * store's prefix:
 *
 *   acme:cert:NAME     a name's key and certificate chain, sealed with
 *                      AES-256-GCM under acme.key_file (edge/idem.h's
 *                      seal; the name's hash as additional data)
 *   acme:account:DIR   the account's key, sealed, one per directory URL
 *   acme:lock:NAME     the gateway ordering NAME: a random token, with a
 *                      lease (SET NX PX), let go only by its holder
 *   acme:updated       a sorted set: a name, scored by acme:serial when
 *                      its certificate was last kept
 *   acme:challenges    a hash of the answers under way: "h:TOKEN" (an
 *                      http-01 key authorization) or "a:NAME" (a
 *                      tls-alpn-01 one), each "EXPIRY KEYAUTH"
 */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "acme_int.h"
#include "conf_types.h"
#include "idem.h"

/* The script that lets a lock go only while it holds the token given. */
static const char unlock_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) else return 0 end";

void
acme_store_init(struct acme_store *s, const struct sl_conf_fleet_store *fs,
		const unsigned char key[32], uint64_t timeout_ms)
{
	acme_store_close(s);
	s->fs = fs;
	memcpy(s->key, key, 32);
	s->timeout_ms = timeout_ms;
}

void
acme_store_close(struct acme_store *s)
{
	if (s->rc != NULL)
		redisFree(s->rc);
	s->rc = NULL;
}

void
acme_store_free(struct acme_store *s)
{
	acme_store_close(s);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	s->fs = NULL;
}

/* The connection, made (and authenticated) when there is none. */
static int
conn(struct acme_store *s, char *why, size_t n)
{
	const struct sockaddr_storage *ss = &s->fs->addr.ss;
	struct timeval tv = {(time_t)(s->timeout_ms / 1000),
			     (suseconds_t)(s->timeout_ms % 1000 * 1000)};
	char host[INET6_ADDRSTRLEN];
	int port;
	redisReply *r;

	if (s->rc != NULL)
		return 0;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	}
	s->rc = redisConnectWithTimeout(host, port, tv);
	if (s->rc == NULL || s->rc->err) {
		snprintf(why, n, "the fleet's store %s: %s", s->fs->addr.text,
			 s->rc != NULL ? s->rc->errstr : "out of memory");
		acme_store_close(s);
		return -1;
	}
	redisSetTimeout(s->rc, tv);
	if (s->fs->password == NULL)
		return 0;
	r = s->fs->username != NULL
		? redisCommand(s->rc, "AUTH %s %s", s->fs->username,
			       s->fs->password)
		: redisCommand(s->rc, "AUTH %s", s->fs->password);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		snprintf(why, n, "the fleet's store %s: AUTH refused",
			 s->fs->addr.text);
		if (r != NULL)
			freeReplyObject(r);
		acme_store_close(s);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* One command (argv's form), its reply or NULL (why; the connection is
 * dropped, made again at the next command). */
static redisReply *
cmd(struct acme_store *s, char *why, size_t n, int argc, const char **argv,
    const size_t *lens)
{
	redisReply *r;

	if (conn(s, why, n) == -1)
		return NULL;
	r = redisCommandArgv(s->rc, argc, argv, lens);
	if (r == NULL) {
		snprintf(why, n, "the fleet's store %s: %s", s->fs->addr.text,
			 s->rc->errstr[0] ? s->rc->errstr : "no answer");
		acme_store_close(s);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, n, "the fleet's store %s: %.200s",
			 s->fs->addr.text, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* prefix + "acme:" + what + name into out. */
static void
rkey(const struct acme_store *s, const char *what, const char *name, char *out,
     size_t n)
{
	snprintf(out, n, "%sacme:%s%s", s->fs->prefix, what, name);
}

/* The additional data that ties a sealed value to its key's name. */
static void
aad(const char *rk, uint8_t id[SL_IDEM_HASH])
{
	unsigned int k = 0;

	EVP_Digest(rk, strlen(rk), id, &k, EVP_sha256(), NULL);
}

int
acme_store_get(struct acme_store *s, const char *what, const char *name,
	       char **out, size_t *len, char *why, size_t n)
{
	char k[600];
	const char *argv[2] = {"GET", k};
	size_t lens[2] = {3, 0};
	uint8_t id[SL_IDEM_HASH];
	redisReply *r;
	long got;

	rkey(s, what, name, k, sizeof(k));
	lens[1] = strlen(k);
	if ((r = cmd(s, why, n, 2, argv, lens)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return 0;
	}
	aad(k, id);
	if (r->len < SL_IDEM_SEAL_OVERHEAD ||
	    (*out = malloc(r->len - SL_IDEM_SEAL_OVERHEAD + 1)) == NULL) {
		snprintf(why, n, "%s: not a sealed value", k);
		freeReplyObject(r);
		return -1;
	}
	got = sl_idem_open(s->key, id, (const unsigned char *)r->str, r->len,
			   (unsigned char *)*out);
	freeReplyObject(r);
	if (got < 0) {
		free(*out);
		*out = NULL;
		snprintf(why, n,
			 "%s is sealed under another key_file (not this "
			 "gateway's acme.key_file)",
			 k);
		return -1;
	}
	(*out)[got] = '\0';
	*len = (size_t)got;
	return 1;
}

int
acme_store_put(struct acme_store *s, const char *what, const char *name,
	       const char *data, size_t len, int nx, char *why, size_t n)
{
	char k[600];
	const char *argv[4] = {"SET", k, NULL, "NX"};
	size_t lens[4] = {3, 0, len + SL_IDEM_SEAL_OVERHEAD, 2};
	unsigned char *v = malloc(len + SL_IDEM_SEAL_OVERHEAD);
	uint8_t id[SL_IDEM_HASH];
	redisReply *r;
	int ret;

	rkey(s, what, name, k, sizeof(k));
	lens[1] = strlen(k);
	aad(k, id);
	if (v == NULL || sl_idem_seal(s->key, id, data, len, v) == -1) {
		free(v);
		snprintf(why, n, "cannot seal %s", k);
		return -1;
	}
	argv[2] = (const char *)v;
	r = cmd(s, why, n, nx ? 4 : 3, argv, lens);
	OPENSSL_cleanse(v, len + SL_IDEM_SEAL_OVERHEAD);
	free(v);
	if (r == NULL)
		return -1;
	ret = r->type == REDIS_REPLY_NIL ? 0 : 1;
	freeReplyObject(r);
	return ret;
}

int
acme_store_updated(struct acme_store *s, const char *name, char *why, size_t n)
{
	char serial[300], set[300], num[32];
	const char *a1[2] = {"INCR", serial};
	size_t l1[2] = {4, 0};
	const char *a2[4] = {"ZADD", set, num, name};
	size_t l2[4] = {4, 0, 0, strlen(name)};
	redisReply *r;

	rkey(s, "serial", "", serial, sizeof(serial));
	rkey(s, "updated", "", set, sizeof(set));
	l1[1] = strlen(serial);
	l2[1] = strlen(set);
	if ((r = cmd(s, why, n, 2, a1, l1)) == NULL)
		return -1;
	snprintf(num, sizeof(num), "%lld", (long long)r->integer);
	freeReplyObject(r);
	l2[2] = strlen(num);
	if ((r = cmd(s, why, n, 4, a2, l2)) == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int
acme_store_changed(struct acme_store *s, int64_t *seen,
		   void (*fn)(const char *name, void *arg), void *arg,
		   char *why, size_t n)
{
	char set[300], from[32];
	const char *argv[5] = {"ZRANGEBYSCORE", set, from, "+inf",
			       "WITHSCORES"};
	size_t lens[5] = {13, 0, 0, 4, 10};
	redisReply *r;

	rkey(s, "updated", "", set, sizeof(set));
	lens[1] = strlen(set);
	snprintf(from, sizeof(from), "(%lld", (long long)*seen);
	lens[2] = strlen(from);
	if ((r = cmd(s, why, n, 5, argv, lens)) == NULL)
		return -1;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements;
	     i += 2) {
		const redisReply *m = r->element[i], *sc = r->element[i + 1];
		long long v;
		if (m->type != REDIS_REPLY_STRING ||
		    sc->type != REDIS_REPLY_STRING)
			continue;
		v = strtoll(sc->str, NULL, 10);
		if (v > *seen)
			*seen = v;
		fn(m->str, arg);
	}
	freeReplyObject(r);
	return 0;
}

int
acme_store_lock(struct acme_store *s, const char *name, const char *token,
		uint64_t lease_ms, char *why, size_t n)
{
	char k[600], px[32];
	const char *argv[6] = {"SET", k, token, "NX", "PX", px};
	size_t lens[6] = {3, 0, strlen(token), 2, 2, 0};
	redisReply *r;
	int ret;

	rkey(s, "lock:", name, k, sizeof(k));
	lens[1] = strlen(k);
	snprintf(px, sizeof(px), "%llu", (unsigned long long)lease_ms);
	lens[5] = strlen(px);
	if ((r = cmd(s, why, n, 6, argv, lens)) == NULL)
		return -1;
	ret = r->type == REDIS_REPLY_STATUS ? 1 : 0;
	freeReplyObject(r);
	return ret;
}

void
acme_store_unlock(struct acme_store *s, const char *name, const char *token)
{
	char k[600], why[200];
	const char *argv[5] = {"EVAL", unlock_lua, "1", k, token};
	size_t lens[5] = {4, sizeof(unlock_lua) - 1, 1, 0, strlen(token)};
	redisReply *r;

	rkey(s, "lock:", name, k, sizeof(k));
	lens[3] = strlen(k);
	if ((r = cmd(s, why, sizeof(why), 5, argv, lens)) != NULL)
		freeReplyObject(r);
}

int
acme_store_challenge(struct acme_store *s, const char *field,
		     const char *keyauth, char *why, size_t n)
{
	char k[300], v[400];
	const char *argv[4] = {keyauth ? "HSET" : "HDEL", k, field, v};
	size_t lens[4] = {4, 0, strlen(field), 0};
	redisReply *r;

	rkey(s, "challenges", "", k, sizeof(k));
	lens[1] = strlen(k);
	if (keyauth != NULL) {
		snprintf(v, sizeof(v), "%lld %s", (long long)time(NULL) + 600,
			 keyauth);
		lens[3] = strlen(v);
	}
	if ((r = cmd(s, why, n, keyauth ? 4 : 3, argv, lens)) == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int
acme_store_challenges(struct acme_store *s,
		      void (*fn)(const char *field, const char *keyauth,
				 void *arg),
		      void *arg, char *why, size_t n)
{
	char k[300];
	const char *argv[2] = {"HGETALL", k};
	size_t lens[2] = {7, 0};
	time_t now = time(NULL);
	redisReply *r;

	rkey(s, "challenges", "", k, sizeof(k));
	lens[1] = strlen(k);
	if ((r = cmd(s, why, n, 2, argv, lens)) == NULL)
		return -1;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements;
	     i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		char *sp;
		if (f->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING ||
		    (sp = strchr(v->str, ' ')) == NULL)
			continue;
		/* one its orderer left (it stopped): gone for everyone */
		if (strtoll(v->str, NULL, 10) < (long long)now) {
			char w2[200];
			(void)acme_store_challenge(s, f->str, NULL, w2,
						   sizeof(w2));
			continue;
		}
		fn(f->str, sp + 1, arg);
	}
	freeReplyObject(r);
	return 0;
}
