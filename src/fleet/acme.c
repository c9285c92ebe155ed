/* SPDX-License-Identifier: MIT */
/*
 * The ACME thread (acme.h): the account, an order per name (RFC 8555
 * section 7.4: order, authorizations, challenge, finalize, download),
 * renewal at two thirds of a certificate's life, retries with backoff,
 * storage in a directory, and the log lines an operator reads. One order
 * at a time; every call to the CA bounded by acme.timeout, and a stop ends
 * any wait at once. Nothing here runs on a worker's loop.
 */
#include "acme.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme_int.h"
#include "acmeslot.h"
#include "conf.h"
#include "conf_acme.h"
#include "json.h"
#include "log.h"
#include "tlscert.h"
#include "util.h"

#define NONCE_TRIES   5	      /* a request sent again after badNonce */
#define POLL_MAX_S    60      /* an authorization's or order's wait */
#define DAY	      86400LL /* expiry warnings at 14, 7 and 3 days */
#define FLEET_SYNC_MS 1000    /* a challenge shared, before the CA is told */
#define LOCK_LEASE_MS (10 * 60 * 1000) /* a name's order in a fleet */

struct name {
	char *name;
	struct sl_acme_slot *slot;    /* a reference */
	int64_t next_at;	      /* the next attempt (seconds) */
	unsigned fails;		      /* attempts failed in a row */
	unsigned said;		      /* expiry warnings given: 14, 7, 3 days */
	int64_t planned, planned_for; /* the two thirds' moment, and the
					 not_after it was planned for */
	int keep;		      /* in the generation being applied */
};

/* The thread's own state. */
struct acme {
	struct sl_conf *conf; /* a reference */
	const struct sl_conf_acme *cfg;
	struct acme_http http;
	EVP_PKEY *akey;
	char *jwk, *kid; /* the account's key, and its URL */
	char thumb[44];
	char new_nonce[1024], new_account[1024], new_order[1024];
	char ari_url[1024]; /* renewalInfo, "": the CA has none */
	char nonce[256];
	int have_dir;
	long retry_after;     /* the last answer's Retry-After, -1 none */
	int last_status;      /* the last answer's */
	int64_t dir_retry_at; /* the directory not fetched: not before */
	int64_t hold_until;   /* the CA asked for a pause (429, 503): no
				 order before then, for any name */
	struct name *names;
	size_t nnames, capnames;
	uint32_t *idx; /* 1 + a name's place, by its hash (apply only) */
	size_t added;  /* names new to this apply */
	size_t stored; /* ... with a certificate from the storage */
	size_t idxcap;
	/* store: redis (acme_fleet.c) */
	int fleet;
	struct acme_store st;
};

/* What the main thread and the thread share. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int running, stop;
	struct sl_conf *want; /* a generation to apply (a reference) */
	int pipe[2];	      /* written once at stop */
} g = {PTHREAD_MUTEX_INITIALIZER,
       PTHREAD_COND_INITIALIZER,
       0,
       0,
       0,
       NULL,
       {-1, -1}};

/* ---- the CA's JSON ------------------------------------------------------
 */

/* A problem document's type and detail into why (RFC 8555 section 6.7). */
static void
problem(const struct acme_resp *r, const char *what, char *why, size_t n)
{
	struct acme_js j;
	char type[128] = "", detail[256] = "";

	if (acme_js_parse(&j, r) == 0) {
		(void)acme_js_str(&j, 0, "type", type, sizeof(type));
		(void)acme_js_str(&j, 0, "detail", detail, sizeof(detail));
	}
	for (char *p = detail; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	snprintf(why, n, "%s: %d %s%s%s", what, r->status,
		 strncmp(type, "urn:ietf:params:acme:error:", 27) == 0
		     ? type + 27
		     : type,
		 detail[0] ? ": " : "", detail);
}

static int
is_problem(const struct acme_resp *r, const char *type)
{
	struct acme_js j;
	char t[128];

	return r->status >= 400 && acme_js_parse(&j, r) == 0 &&
	       acme_js_str(&j, 0, "type", t, sizeof(t)) == 0 &&
	       strncmp(t, "urn:ietf:params:acme:error:", 27) == 0 &&
	       strcmp(t + 27, type) == 0;
}

/* ---- waits that a stop ends ---------------------------------------------
 */

/* Sleeps ms, or less when stopping: 0, or -1 stopping. */
static int
nap(uint64_t ms)
{
	struct pollfd p = {g.pipe[0], POLLIN, 0};

	while (poll(&p, 1, (int)ms) < 0 && errno == EINTR)
		;
	return p.revents & POLLIN ? -1 : 0;
}

/* ---- requests -----------------------------------------------------------
 */

static int
fresh_nonce(struct acme *a, char *why, size_t n)
{
	struct acme_resp r;

	if (acme_http_call(&a->http, "HEAD", a->new_nonce, NULL, 0, &r, why,
			   n) == -1)
		return -1;
	acme_resp_free(&r);
	if (r.nonce[0] == '\0') {
		snprintf(why, n, "newNonce: %d without a Replay-Nonce",
			 r.status);
		return -1;
	}
	snprintf(a->nonce, sizeof(a->nonce), "%s", r.nonce);
	return 0;
}

/*
 * A signed POST of payload ("": POST-as-GET) to url, by the account (or by
 * its key alone before it has one), sent again with a fresh nonce after
 * badNonce (section 6.5) and after a 503 or 429 whose Retry-After is short.
 * 0 with *r (any status), or -1 with why.
 */
static int
post(struct acme *a, const char *url, const char *payload, struct acme_resp *r,
     char *why, size_t n)
{
	for (int tries = 0;; tries++) {
		char *jws;
		int k;

		if (a->nonce[0] == '\0' && fresh_nonce(a, why, n) == -1)
			return -1;
		jws = acme_jws(a->akey, a->jwk, a->kid, a->nonce, url, payload);
		a->nonce[0] = '\0';
		if (jws == NULL) {
			snprintf(why, n, "cannot sign a request");
			return -1;
		}
		k = acme_http_call(&a->http, "POST", url, jws, strlen(jws), r,
				   why, n);
		free(jws);
		if (k == -1)
			return -1;
		if (r->nonce[0] != '\0')
			snprintf(a->nonce, sizeof(a->nonce), "%s", r->nonce);
		a->retry_after = r->retry_after;
		a->last_status = r->status;
		if (tries + 1 < NONCE_TRIES && is_problem(r, "badNonce")) {
			atomic_fetch_add(&sl_acme_retries[SL_ACME_RETRY_NONCE],
					 1);
			acme_resp_free(r);
			continue;
		}
		if (tries + 1 < NONCE_TRIES &&
		    (r->status == 503 || r->status == 429) &&
		    r->retry_after >= 0 && r->retry_after <= 10) {
			atomic_fetch_add(&sl_acme_retries[SL_ACME_RETRY_LATER],
					 1);
			acme_resp_free(r);
			if (nap((uint64_t)(r->retry_after ? r->retry_after
							  : 1) *
				1000) == -1) {
				snprintf(why, n, "stopping");
				return -1;
			}
			continue;
		}
		return 0;
	}
}

/* ---- the directory and the account --------------------------------------
 */

static int
directory(struct acme *a, char *why, size_t n)
{
	struct acme_resp r;
	struct acme_js j;

	if (a->have_dir)
		return 0;
	if (acme_http_call(&a->http, "GET", a->cfg->directory, NULL, 0, &r, why,
			   n) == -1)
		return -1;
	if (r.status != 200 || acme_js_parse(&j, &r) == -1 ||
	    acme_js_str(&j, 0, "newNonce", a->new_nonce,
			sizeof(a->new_nonce)) ||
	    acme_js_str(&j, 0, "newAccount", a->new_account,
			sizeof(a->new_account)) ||
	    acme_js_str(&j, 0, "newOrder", a->new_order,
			sizeof(a->new_order))) {
		snprintf(why, n, "directory %s: %d, not an ACME directory",
			 a->cfg->directory, r.status);
		acme_resp_free(&r);
		return -1;
	}
	a->ari_url[0] = '\0';
	(void)acme_js_str(&j, 0, "renewalInfo", a->ari_url, sizeof(a->ari_url));
	acme_resp_free(&r);
	a->have_dir = 1;
	return 0;
}

/* dir/file's bytes (malloc'd, NUL-ended), or NULL. */
static char *
store_read(const char *dir, const char *file, size_t *len)
{
	char path[1200];
	FILE *f;
	char *buf = NULL;
	long sz;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) > 0 &&
	    sz < ACME_BODY_MAX && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)sz + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)sz, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

/* The account key's file in the storage: one per directory URL. */
static void
account_file(const struct sl_conf_acme *c, char *out, size_t n)
{
	unsigned char md[32];
	unsigned int k = 0;

	EVP_Digest(c->directory, strlen(c->directory), md, &k, EVP_sha256(),
		   NULL);
	snprintf(out, n, "account-%02x%02x%02x%02x%02x%02x.key", md[0], md[1],
		 md[2], md[3], md[4], md[5]);
}

/* The fleet's account key: the store's, else one made here and kept there
 * (only if no other gateway kept one first). 0, or -1 (why). */
static int
fleet_account_key(struct acme *a, char *why, size_t n)
{
	char file[64], *pem = NULL;
	size_t len = 0;
	int r;

	account_file(a->cfg, file, sizeof(file));
	for (int tries = 0; tries < 2; tries++) {
		if ((r = acme_store_get(&a->st, "account:", file, &pem, &len,
					why, n)) == -1)
			return -1;
		if (r == 1) {
			a->akey = acme_key_read(pem, len);
			OPENSSL_cleanse(pem, len);
			free(pem);
			return a->akey != NULL ? 0 : -1;
		}
		if ((a->akey = acme_key_new(0)) == NULL ||
		    (pem = acme_key_pem(a->akey)) == NULL)
			return -1;
		r = acme_store_put(&a->st, "account:", file, pem, strlen(pem),
				   1, why, n);
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
		pem = NULL;
		if (r == 1)
			return 0;
		/* another gateway kept one first: that one */
		EVP_PKEY_free(a->akey);
		a->akey = NULL;
		if (r == -1)
			return -1;
	}
	return -1;
}

/* The account's key: the file given, else the fleet's (store: redis), else
 * the storage's, else made and kept there. */
static int
account_key(struct acme *a, char *why, size_t n)
{
	char file[64], *pem = NULL;
	size_t len = 0;

	if (a->akey != NULL)
		return 0;
	if (a->cfg->account_key_pem != NULL)
		a->akey = acme_key_read(a->cfg->account_key_pem,
					strlen(a->cfg->account_key_pem));
	else if (a->fleet && fleet_account_key(a, why, n) == 0)
		; /* the fleet's, one account for every gateway */
	else {
		account_file(a->cfg, file, sizeof(file));
		if ((pem = store_read(a->cfg->storage, file, &len)) != NULL) {
			a->akey = acme_key_read(pem, len);
			OPENSSL_cleanse(pem, len);
			free(pem);
			pem = NULL;
		} else if ((a->akey = acme_key_new(0)) != NULL &&
			   ((pem = acme_key_pem(a->akey)) == NULL ||
			    acme_file_write(a->cfg->storage, file, pem,
					    strlen(pem), why, n) == -1)) {
			EVP_PKEY_free(a->akey);
			a->akey = NULL;
			if (pem == NULL)
				snprintf(why, n, "cannot write a key");
		}
		if (pem != NULL) {
			OPENSSL_cleanse(pem, strlen(pem));
			free(pem);
		}
	}
	if (a->akey == NULL) {
		if (why[0] == '\0')
			snprintf(why, n, "the account key cannot be read");
		return -1;
	}
	if ((a->jwk = acme_jwk(a->akey)) == NULL ||
	    acme_thumbprint(a->jwk, a->thumb) == -1) {
		snprintf(why, n, "cannot make the account key's JWK");
		return -1;
	}
	return 0;
}

/* The account (section 7.3): made, or found for the key. */
static int
account(struct acme *a, char *why, size_t n)
{
	const struct sl_conf_acme *c = a->cfg;
	char payload[2048], contact[300] = "", *eab = NULL;
	struct acme_resp r;
	int k;

	why[0] = '\0';
	if (a->kid != NULL)
		return 0;
	if (directory(a, why, n) == -1 || account_key(a, why, n) == -1)
		return -1;
	if (c->contact != NULL)
		snprintf(contact, sizeof(contact), ",\"contact\":[\"%s\"]",
			 c->contact);
	if (c->eab_kid != NULL && c->eab_len > 0 &&
	    (eab = acme_eab(c->eab_kid, c->eab_key, c->eab_len, a->jwk,
			    a->new_account)) == NULL) {
		snprintf(why, n, "cannot sign the external account binding");
		return -1;
	}
	k = snprintf(payload, sizeof(payload),
		     "{\"termsOfServiceAgreed\":true%s%s%s}", contact,
		     eab ? ",\"externalAccountBinding\":" : "", eab ? eab : "");
	free(eab);
	if (k < 0 || (size_t)k >= sizeof(payload)) {
		snprintf(why, n, "the account's request is too long");
		return -1;
	}
	if (post(a, a->new_account, payload, &r, why, n) == -1)
		return -1;
	if ((r.status != 200 && r.status != 201) || r.location[0] == '\0') {
		problem(&r, "newAccount", why, n);
		acme_resp_free(&r);
		return -1;
	}
	a->kid = strdup(r.location);
	acme_resp_free(&r);
	if (a->kid == NULL) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	log_info("acme: account %s at %s", a->kid, c->directory);
	return 0;
}

/* ---- an order -----------------------------------------------------------
 */

/* POST-as-GET url until its status is no longer one of the waiting ones
 * (pending, processing, ready when wait_ready): into *r and status. */
static int
poll_status(struct acme *a, const char *url, int wait_ready,
	    struct acme_resp *r, struct acme_js *j, char *status, size_t sn,
	    char *why, size_t n)
{
	uint64_t until = sl_now_ms() + POLL_MAX_S * 1000;
	uint64_t pause = 250;

	for (;;) {
		if (post(a, url, "", r, why, n) == -1)
			return -1;
		if (r->status != 200 || acme_js_parse(j, r) == -1 ||
		    acme_js_str(j, 0, "status", status, sn) == -1) {
			problem(r, url, why, n);
			acme_resp_free(r);
			return -1;
		}
		if (strcmp(status, "pending") != 0 &&
		    strcmp(status, "processing") != 0 &&
		    (!wait_ready || strcmp(status, "ready") != 0))
			return 0;
		acme_resp_free(r);
		if (sl_now_ms() >= until) {
			snprintf(why, n, "%s still %s after %d s", url, status,
				 POLL_MAX_S);
			return -1;
		}
		if (a->retry_after > 0)
			pause =
			    (uint64_t)(a->retry_after > 5 ? 5
							  : a->retry_after) *
			    1000;
		if (nap(pause) == -1) {
			snprintf(why, n, "stopping");
			return -1;
		}
		if (pause < 2000)
			pause *= 2;
	}
}

/* One authorization (section 7.5): its challenge of the configured type
 * answered, and waited for. */
static int
authorize(struct acme *a, struct name *nm, const char *url, char *why, size_t n)
{
	const char *type =
	    a->cfg->challenge == SL_ACME_HTTP01 ? "http-01" : "tls-alpn-01";
	char status[32], token[256] = "", curl[1024] = "", keyauth[320];
	char field[300] = "";
	struct acme_resp r;
	struct acme_js j;
	int ch, ok = -1;

	if (post(a, url, "", &r, why, n) == -1)
		return -1;
	if (r.status != 200 || acme_js_parse(&j, &r) == -1 ||
	    acme_js_str(&j, 0, "status", status, sizeof(status)) == -1) {
		problem(&r, "authorization", why, n);
		goto out;
	}
	if (strcmp(status, "valid") == 0) {
		ok = 0;
		goto out;
	}
	if ((ch = sl_json_get(j.text, j.t, 0, "challenges", 10)) < 0 ||
	    j.t[ch].type != SL_JSON_ARRAY) {
		snprintf(why, n, "authorization without challenges");
		goto out;
	}
	for (int i = ch + 1, k = 0; k < (int)j.t[ch].size;
	     k++, i = (int)j.t[i].end) {
		char t[32];
		if (j.t[i].type == SL_JSON_OBJECT &&
		    acme_js_str(&j, i, "type", t, sizeof(t)) == 0 &&
		    strcmp(t, type) == 0) {
			(void)acme_js_str(&j, i, "token", token, sizeof(token));
			(void)acme_js_str(&j, i, "url", curl, sizeof(curl));
			break;
		}
	}
	acme_resp_free(&r);
	if (token[0] == '\0' || curl[0] == '\0') {
		snprintf(why, n, "the CA offers no %s challenge for %s", type,
			 nm->name);
		return -1;
	}
	for (const char *p = token; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')) {
			snprintf(why, n, "a challenge token not in base64url");
			return -1;
		}
	snprintf(keyauth, sizeof(keyauth), "%s.%s", token, a->thumb);
	if (a->cfg->challenge == SL_ACME_HTTP01) {
		if (sl_acme_token_put(token, keyauth) == -1) {
			snprintf(why, n, "out of memory");
			return -1;
		}
	} else {
		struct sl_tls_cert *c = acme_alpn_cert(nm->name, keyauth);
		if (c == NULL) {
			snprintf(why, n,
				 "cannot make the tls-alpn-01 "
				 "certificate");
			return -1;
		}
		sl_acme_slot_set(nm->slot, c, 1);
	}
	if (a->fleet) {
		/* any gateway may get the CA's validation: the others' fleet
		 * threads take the answer within their tick */
		snprintf(field, sizeof(field), "%s%s",
			 a->cfg->challenge == SL_ACME_HTTP01 ? "h:" : "a:",
			 a->cfg->challenge == SL_ACME_HTTP01 ? token
							     : nm->name);
		if (acme_store_challenge(&a->st, field, keyauth, why, n) == -1)
			log_warnx("acme: %s: the challenge is not shared: %s",
				  nm->name, why);
		else if (nap(FLEET_SYNC_MS) == -1) {
			snprintf(why, n, "stopping");
			goto unpublish;
		}
	}
	if (post(a, curl, "{}", &r, why, n) == -1)
		goto unpublish;
	if (r.status != 200) {
		problem(&r, "challenge", why, n);
		acme_resp_free(&r);
		goto unpublish;
	}
	acme_resp_free(&r);
	if (poll_status(a, url, 0, &r, &j, status, sizeof(status), why, n) ==
	    -1)
		goto unpublish;
	if (strcmp(status, "valid") == 0)
		ok = 0;
	else {
		/* the challenge's error says why */
		char detail[200] = "";
		int e = -1;
		if ((ch = sl_json_get(j.text, j.t, 0, "challenges", 10)) >= 0)
			for (int i = ch + 1, k = 0; k < (int)j.t[ch].size;
			     k++, i = (int)j.t[i].end)
				if ((e = sl_json_get(j.text, j.t, i, "error",
						     5)) >= 0)
					break;
		if (e >= 0)
			(void)acme_js_str(&j, e, "detail", detail,
					  sizeof(detail));
		for (char *p = detail; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				*p = ' ';
		snprintf(why, n, "%s for %s: authorization %s%s%s", type,
			 nm->name, status, detail[0] ? ": " : "", detail);
	}
	acme_resp_free(&r);
unpublish:
	if (field[0] != '\0') {
		char w2[200];
		(void)acme_store_challenge(&a->st, field, NULL, w2, sizeof(w2));
	}
	if (a->cfg->challenge == SL_ACME_HTTP01)
		sl_acme_token_del(token);
	else
		sl_acme_slot_set(nm->slot, NULL, 1);
	return ok;
out:
	acme_resp_free(&r);
	return ok;
}

/* An order for nm's name, to its certificate installed. 0, or -1 with
 * why. */
static int
order(struct acme *a, struct name *nm, char *why, size_t n)
{
	char payload[600], ourl[1024], fin[1024], status[32], curl[1024];
	struct acme_resp r;
	struct acme_js j;
	EVP_PKEY *key = NULL;
	char *csr = NULL;
	int au, ret = -1;

	if (account(a, why, n) == -1)
		return -1;
	snprintf(payload, sizeof(payload),
		 "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}",
		 nm->name);
	if (post(a, a->new_order, payload, &r, why, n) == -1)
		return -1;
	if (r.status != 201 || acme_js_parse(&j, &r) == -1 ||
	    acme_js_str(&j, 0, "finalize", fin, sizeof(fin)) == -1 ||
	    r.location[0] == '\0' ||
	    (au = sl_json_get(j.text, j.t, 0, "authorizations", 14)) < 0 ||
	    j.t[au].type != SL_JSON_ARRAY) {
		problem(&r, "newOrder", why, n);
		acme_resp_free(&r);
		return -1;
	}
	snprintf(ourl, sizeof(ourl), "%s", r.location);
	/* each authorization in turn (one name: one) */
	{
		size_t na = j.t[au].size;
		char(*urls)[1024] = calloc(na ? na : 1, sizeof(*urls));
		int bad = urls == NULL;
		for (int i = au + 1, k = 0; !bad && k < (int)na;
		     k++, i = (int)j.t[i].end) {
			long l = sl_json_str(j.text, j.t, i, urls[k], 1023);
			if (l < 0)
				bad = 1;
			else
				urls[k][l] = '\0';
		}
		acme_resp_free(&r);
		for (size_t k = 0; !bad && k < na; k++)
			if (authorize(a, nm, urls[k], why, n) == -1)
				bad = 2;
		free(urls);
		if (bad == 1)
			snprintf(why, n, "newOrder: bad authorizations");
		if (bad)
			return -1;
	}
	if ((key = acme_key_new(a->cfg->key_type == SL_ACME_KEY_RSA)) == NULL ||
	    (csr = acme_csr(key, nm->name)) == NULL) {
		snprintf(why, n, "cannot make the certificate's key or CSR");
		goto out;
	}
	{
		size_t pn = strlen(csr) + 16;
		char *p = malloc(pn);
		int k;
		if (p == NULL) {
			snprintf(why, n, "out of memory");
			goto out;
		}
		snprintf(p, pn, "{\"csr\":\"%s\"}", csr);
		k = post(a, fin, p, &r, why, n);
		free(p);
		if (k == -1)
			goto out;
	}
	if (r.status != 200) {
		problem(&r, "finalize", why, n);
		acme_resp_free(&r);
		goto out;
	}
	acme_resp_free(&r);
	if (poll_status(a, ourl, 1, &r, &j, status, sizeof(status), why, n) ==
	    -1)
		goto out;
	if (strcmp(status, "valid") != 0 ||
	    acme_js_str(&j, 0, "certificate", curl, sizeof(curl)) == -1) {
		snprintf(why, n, "order %.300s: %s, no certificate", ourl,
			 status);
		acme_resp_free(&r);
		goto out;
	}
	acme_resp_free(&r);
	if (post(a, curl, "", &r, why, n) == -1)
		goto out;
	if (r.status != 200) {
		problem(&r, "certificate", why, n);
		acme_resp_free(&r);
		goto out;
	}
	if (acme_install(a->cfg->storage, nm->slot, r.body, r.len, key, 0, why,
			 n) == 1) {
		ret = 0;
		if (a->fleet)
			acme_fleet_keep(&a->st, nm->name, key, r.body, r.len);
	}
	acme_resp_free(&r);
out:
	EVP_PKEY_free(key);
	free(csr);
	return ret;
}

/* ---- the schedule -------------------------------------------------------
 */

/* When c is renewed: at two thirds of its life, less up to a twentieth of
 * it (so that a fleet's certificates of one day do not all renew at
 * once). */
static int64_t
renew_at(const struct sl_tls_cert *c)
{
	int64_t nb = (int64_t)c->not_before, na = (int64_t)c->not_after;
	int64_t life = na - nb;

	if (life <= 0)
		return 0;
	return nb + life * 2 / 3 - (int64_t)acme_rnd((uint64_t)(life / 20 + 1));
}

static void
said_none(struct name *nm)
{
	nm->said = 0;
}

/* Whether nm's certificate c is due: 1 order now, 0 not yet (nm->next_at
 * set). A retry after a failure is due; else the CA's renewal
 * information when its directory has some, else two thirds of the
 * life (planned once a certificate, with its jitter). */
static int
due(struct acme *a, struct name *nm, const struct sl_tls_cert *c, int64_t now)
{
	int64_t when, again;
	char why[300];

	if (nm->fails > 0)
		return 1;
	/* the directory says whether there is renewal information: asked
	 * for at most once a minute while the CA does not answer (10,000
	 * stored names at a start are not 10,000 failed connections) */
	if (!a->have_dir && now >= a->dir_retry_at &&
	    directory(a, why, sizeof(why)) == -1)
		a->dir_retry_at = now + 60;
	if (a->have_dir && a->ari_url[0] != '\0' &&
	    acme_ari_window(&a->http, a->ari_url, c, now, &when, &again) == 0) {
		if (when <= now) {
			log_info("acme: %s: the CA's renewal information "
				 "says renew now",
				 nm->name);
			return 1;
		}
		nm->next_at = when < again ? when : again;
		return 0;
	}
	if (nm->planned_for != (int64_t)c->not_after) {
		nm->planned = renew_at(c);
		nm->planned_for = (int64_t)c->not_after;
	}
	nm->next_at = nm->planned;
	return nm->next_at <= now;
}

/* In a fleet, a due name's lock (token), held by one gateway at a time. 1:
 * another gateway orders it (nm->next_at set), 0: order (*locked, or alone
 * when the store does not answer: a certificate that lapses is worse than
 * two orders). */
static int
fleet_lock(struct acme *a, struct name *nm, int64_t now, char *token,
	   int *locked)
{
	char why[300];
	unsigned char rnd16[16];
	int r;

	(void)RAND_bytes(rnd16, sizeof(rnd16));
	for (int i = 0; i < 16; i++)
		snprintf(token + 2 * i, 3, "%02x", rnd16[i]);
	r = acme_store_lock(&a->st, nm->name, token, LOCK_LEASE_MS, why,
			    sizeof(why));
	if (r == 1)
		*locked = 1;
	else if (r == 0) {
		/* another gateway orders it: its certificate comes through
		 * the store */
		nm->next_at = now + 2;
		return 1;
	} else
		log_warnx("acme: %s: %s; ordering without the fleet's lock",
			  nm->name, why);
	return 0;
}

/* One attempt for nm, and its outcome's schedule and log. */
static void
attempt(struct acme *a, struct name *nm)
{
	char why[512] = "", token[40] = "";
	int64_t now = (int64_t)time(NULL);
	struct sl_tls_cert *c;
	int locked = 0;

	a->retry_after = -1;
	/* in a fleet, another gateway's newer certificate first */
	if (a->fleet) {
		int r = acme_fleet_fetch(&a->st, a->cfg->storage, nm->slot, why,
					 sizeof(why));
		if (r == 1) {
			log_info("acme: %s: certificate from the fleet's store",
				 nm->name);
			nm->fails = 0;
		} else if (r == -1)
			log_warnx("acme: %s: %s", nm->name, why);
		why[0] = '\0';
	}
	if ((c = sl_acme_slot_cert(nm->slot)) != NULL && !due(a, nm, c, now)) {
		atomic_store(&nm->slot->next_at, nm->next_at);
		return;
	}
	if (a->fleet && fleet_lock(a, nm, now, token, &locked) == 1) {
		atomic_store(&nm->slot->next_at, nm->next_at);
		return;
	}
	if (order(a, nm, why, sizeof(why)) == 0) {
		c = sl_acme_slot_cert(nm->slot);
		nm->fails = 0;
		said_none(nm);
		nm->planned = renew_at(c);
		nm->planned_for = (int64_t)c->not_after;
		/* with renewal information, asked at once (the CA may want
		 * it sooner than two thirds) */
		nm->next_at = a->ari_url[0] != '\0' ? now : nm->planned;
		atomic_fetch_add(&nm->slot->orders, 1);
		atomic_store(&nm->slot->result, SL_ACME_R_OK);
		log_info("acme: certificate for %s obtained, valid for %lld s; "
			 "renewed in %lld s",
			 nm->name, (long long)(c->not_after - now),
			 (long long)(nm->planned - now));
	} else {
		uint64_t d = a->cfg->retry_ms;
		int64_t left;

		if (strcmp(why, "stopping") == 0) {
			if (locked)
				acme_store_unlock(&a->st, nm->name, token);
			return;
		}
		nm->fails++;
		for (unsigned k = 1; k < nm->fails && d < a->cfg->retry_max_ms;
		     k++)
			d *= 2;
		if (d > a->cfg->retry_max_ms)
			d = a->cfg->retry_max_ms;
		c = sl_acme_slot_cert(nm->slot);
		left = c != NULL ? (int64_t)c->not_after - now : -1;
		/* a certificate about to lapse is tried again sooner */
		if (left > 0 && (uint64_t)left * 1000 / 4 < d)
			d = (uint64_t)left * 1000 / 4;
		if (d < a->cfg->retry_ms)
			d = a->cfg->retry_ms;
		if (a->retry_after > 0 && (uint64_t)a->retry_after * 1000 > d)
			d = (uint64_t)a->retry_after * 1000;
		if (a->retry_after > 0 &&
		    (a->last_status == 429 || a->last_status == 503))
			a->hold_until = now + a->retry_after;
		d += acme_rnd(d / 10 + 1);
		nm->next_at = now + (int64_t)((d + 999) / 1000);
		atomic_fetch_add(&nm->slot->failures, 1);
		atomic_store(&nm->slot->result, SL_ACME_R_FAILED);
		sl_acme_slot_error(nm->slot, why);
		if (c == NULL)
			log_warnx("acme: %s: no certificate yet: %s; next "
				  "attempt in %lld s",
				  nm->name, why,
				  (long long)(nm->next_at - now));
		else if (left <= 0)
			log_error("acme: %s: its certificate has expired and "
				  "could not be renewed: %s; next attempt in "
				  "%lld s",
				  nm->name, why,
				  (long long)(nm->next_at - now));
		else if (left < 3 * DAY ||
			 left * 10 < (int64_t)(c->not_after - c->not_before))
			log_error("acme: %s: its certificate expires in %lld s "
				  "and could not be renewed: %s; next attempt "
				  "in %lld s",
				  nm->name, (long long)left, why,
				  (long long)(nm->next_at - now));
		else
			log_warnx(
			    "acme: %s: renewal failed: %s; the current "
			    "certificate serves %lld s more; next attempt "
			    "in %lld s",
			    nm->name, why, (long long)left,
			    (long long)(nm->next_at - now));
	}
	if (locked)
		acme_store_unlock(&a->st, nm->name, token);
	atomic_store(&nm->slot->next_at, nm->next_at);
}

/* The warnings of a certificate near its end, once each: 14 and 7 days
 * left (warn), 3 (error). */
static void
expiry_said(struct name *nm, int64_t now)
{
	struct sl_tls_cert *c = sl_acme_slot_cert(nm->slot);
	static const int days[] = {14, 7, 3};
	int64_t left;

	if (c == NULL)
		return;
	left = (int64_t)c->not_after - now;
	for (unsigned k = 0; k < 3; k++)
		if (left < days[k] * DAY && !(nm->said & (1u << k)) &&
		    (int64_t)(c->not_after - c->not_before) > days[k] * DAY) {
			nm->said |= 1u << k;
			(k == 2 ? log_error : log_warnx)(
			    "acme: %s: its certificate expires in %lld days",
			    nm->name, (long long)(left / DAY));
		}
}

/* ---- applying a generation ----------------------------------------------
 */

static int
same_account(const struct sl_conf_acme *x, const struct sl_conf_acme *y)
{
#define SAME(f)                                                                \
	((x->f == NULL) == (y->f == NULL) &&                                   \
	 (x->f == NULL || strcmp(x->f, y->f) == 0))
	return SAME(directory) && SAME(ca_file.path) && SAME(contact) &&
	       SAME(account_key_pem) && SAME(eab_kid) && SAME(storage) &&
	       x->timeout_ms == y->timeout_ms &&
	       x->store_redis == y->store_redis &&
	       (!x->store_redis || memcmp(x->seal_key, y->seal_key, 32) == 0);
#undef SAME
}

static void
account_drop(struct acme *a)
{
	EVP_PKEY_free(a->akey);
	a->akey = NULL;
	free(a->jwk);
	free(a->kid);
	a->jwk = a->kid = NULL;
	a->have_dir = 0;
	a->dir_retry_at = 0;
	a->nonce[0] = '\0';
	acme_http_free(&a->http);
}

/* ---- the names of a generation, found by a table made for the apply (a
 * platform's 100,000 in linear time) ---- */

static size_t
name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

/* The place of s in the table: its name's, or the empty one it goes in. */
static size_t
name_at(const struct acme *a, const char *s)
{
	size_t i = name_hash(s) & (a->idxcap - 1);

	while (a->idx[i] != 0 && strcmp(a->names[a->idx[i] - 1].name, s) != 0)
		i = (i + 1) & (a->idxcap - 1);
	return i;
}

/* A table for the names there are and up to more others. 0, or -1. */
static int
names_index(struct acme *a, size_t more)
{
	size_t cap = 16;

	while (cap < 2 * (a->nnames + more))
		cap *= 2;
	free(a->idx);
	if ((a->idx = calloc(cap, sizeof(*a->idx))) == NULL)
		return -1;
	a->idxcap = cap;
	for (size_t i = 0; i < a->nnames; i++)
		a->idx[name_at(a, a->names[i].name)] = (uint32_t)(i + 1);
	return 0;
}

static struct name *
name_find(struct acme *a, const char *s)
{
	size_t i = name_at(a, s);

	return a->idx[i] != 0 ? &a->names[a->idx[i] - 1] : NULL;
}

static void
name_add(struct acme *a, const char *s)
{
	struct name *v, *nm;

	if ((nm = name_find(a, s)) != NULL) {
		nm->keep = 1;
		return;
	}
	if (a->nnames == a->capnames) {
		size_t cap = a->capnames ? 2 * a->capnames : 16;
		if ((v = realloc(a->names, cap * sizeof(*v))) == NULL)
			return;
		a->names = v;
		a->capnames = cap;
	}
	nm = &a->names[a->nnames];
	memset(nm, 0, sizeof(*nm));
	if ((nm->name = strdup(s)) == NULL ||
	    (nm->slot = sl_acme_slot_get(s)) == NULL) {
		free(nm->name);
		log_error("acme: %s: out of memory", s);
		return;
	}
	a->idx[name_at(a, s)] = (uint32_t)(a->nnames + 1);
	a->nnames++;
	a->added++;
	nm->keep = 1;
	/* the loader gave it the storage's certificate (tls_acme.c) */
	if (sl_acme_slot_cert(nm->slot) != NULL) {
		nm->next_at = 0; /* due() decides */
		a->stored++;
	}
	atomic_store(&nm->slot->next_at, nm->next_at);
}

static void
apply(struct acme *a, struct sl_conf *conf)
{
	const struct sl_conf_acme *c = sl_conf_acme(conf);
	char why[256] = "";
	size_t k = 0, added = 0, stored = 0;

	if (a->cfg == NULL || c == NULL || !same_account(a->cfg, c))
		account_drop(a);
	if (a->conf != NULL)
		sl_conf_unref(a->conf);
	a->conf = conf;
	a->cfg = c;
	for (size_t i = 0; i < a->nnames; i++)
		a->names[i].keep = 0;
	a->fleet = c != NULL && c->store_redis && c->has_key &&
		   conf->fleet_store != NULL;
	if (a->fleet)
		acme_store_init(&a->st, conf->fleet_store, c->seal_key,
				acme_store_timeout(conf));
	else
		acme_store_free(&a->st);
	acme_fleet_apply(a->fleet ? conf : NULL);
	if (c != NULL && a->http.ctx == NULL) {
		a->http.timeout_ms = c->timeout_ms;
		a->http.stop_fd = g.pipe[0];
		if (acme_http_init(&a->http, c->ca_file.path, why,
				   sizeof(why)) == -1)
			log_error("acme: ca_file \"%s\": %s",
				  c->ca_file.path ? c->ca_file.path
						  : "(system)",
				  why);
		if (mkdir(c->storage, 0700) == -1 && errno != EEXIST)
			log_error("acme: storage \"%s\": %s", c->storage,
				  strerror(errno));
	}
	for (size_t i = 0; c != NULL && i < conf->nlisteners; i++)
		added += conf->listeners[i].tls.nacme;
	if (names_index(a, added) == -1) {
		log_error("acme: out of memory: the names of generation %llu "
			  "are not taken",
			  (unsigned long long)conf->generation);
		added = 0;
		c = NULL;
	}
	for (size_t i = 0; c != NULL && i < conf->nlisteners; i++)
		for (size_t j = 0; j < conf->listeners[i].tls.nacme; j++)
			name_add(a, conf->listeners[i].tls.acme[j]);
	free(a->idx);
	a->idx = NULL;
	/* the names the generation dropped stop being renewed */
	for (size_t i = 0; i < a->nnames; i++) {
		if (a->names[i].keep) {
			a->names[k++] = a->names[i];
			continue;
		}
		log_info("acme: %s: no longer in the configuration, no longer "
			 "renewed",
			 a->names[i].name);
		atomic_store(&a->names[i].slot->next_at, 0);
		sl_acme_slot_put(a->names[i].slot);
		free(a->names[i].name);
	}
	added = a->added;
	stored = a->stored;
	a->added = a->stored = 0;
	a->nnames = k;
	if (c != NULL && a->nnames > 0)
		log_info(
		    "acme: %zu %s (%zu new, %zu of them with a certificate "
		    "from the storage), CA %s, %s",
		    a->nnames, a->nnames == 1 ? "name" : "names", added, stored,
		    c->directory,
		    c->challenge == SL_ACME_HTTP01 ? "http-01" : "tls-alpn-01");
}

/* ---- the thread ---------------------------------------------------------
 */

/* A reload or a stop waits for the thread. */
static int
pending(void)
{
	int r;

	pthread_mutex_lock(&g.mu);
	r = g.stop || g.want != NULL;
	pthread_mutex_unlock(&g.mu);
	return r;
}

static void *
run(void *arg)
{
	struct acme a = {.retry_after = -1};

	(void)arg;
	for (;;) {
		struct sl_conf *want;
		int64_t now = (int64_t)time(NULL), next = now + 3600;

		for (size_t i = 0; a.cfg != NULL && i < a.nnames; i++)
			if (a.names[i].next_at < next)
				next = a.names[i].next_at;
		if (next < a.hold_until)
			next = a.hold_until;
		pthread_mutex_lock(&g.mu);
		while (!g.stop && g.want == NULL &&
		       next > (int64_t)time(NULL)) {
			struct timespec ts = {.tv_sec = (time_t)next};
			pthread_cond_timedwait(&g.cv, &g.mu, &ts);
		}
		want = g.want;
		g.want = NULL;
		pthread_mutex_unlock(&g.mu);
		if (g.stop) {
			if (want != NULL)
				sl_conf_unref(want);
			break;
		}
		if (want != NULL) {
			apply(&a, want);
			continue;
		}
		now = (int64_t)time(NULL);
		for (size_t i = 0; i < a.nnames; i++)
			expiry_said(&a.names[i], now);
		/* every name due, one at a time, until a reload or a stop
		 * comes (a start's 10,000 stored names in one pass) */
		for (size_t i = 0;
		     a.cfg != NULL && now >= a.hold_until && i < a.nnames;
		     i++) {
			if (a.names[i].next_at > now)
				continue;
			attempt(&a, &a.names[i]);
			if (pending())
				break;
			now = (int64_t)time(NULL);
		}
	}
	for (size_t i = 0; i < a.nnames; i++) {
		sl_acme_slot_put(a.names[i].slot);
		free(a.names[i].name);
	}
	free(a.names);
	acme_fleet_stop();
	acme_store_free(&a.st);
	account_drop(&a);
	if (a.conf != NULL)
		sl_conf_unref(a.conf);
	return NULL;
}

void
sl_acme_apply(struct sl_conf *conf)
{
	const struct sl_conf_acme *c = sl_conf_acme(conf);
	int names = 0;

	for (size_t i = 0; c != NULL && i < conf->nlisteners; i++)
		names |= conf->listeners[i].tls.nacme > 0;
	if (!g.running && !names)
		return;
	pthread_mutex_lock(&g.mu);
	if (g.want != NULL)
		sl_conf_unref(g.want);
	g.want = sl_conf_ref(conf);
	pthread_cond_signal(&g.cv);
	pthread_mutex_unlock(&g.mu);
	if (g.running)
		return;
	if (pipe2(g.pipe, O_CLOEXEC) == -1 ||
	    pthread_create(&g.th, NULL, run, NULL) != 0) {
		log_error("acme: cannot start its thread: %s", strerror(errno));
		return;
	}
	g.running = 1;
}

void
sl_acme_stop(void)
{
	if (!g.running)
		return;
	pthread_mutex_lock(&g.mu);
	g.stop = 1;
	pthread_cond_signal(&g.cv);
	pthread_mutex_unlock(&g.mu);
	(void)!write(g.pipe[1], "x", 1);
	pthread_join(g.th, NULL);
	g.running = 0;
	close(g.pipe[0]);
	close(g.pipe[1]);
	sl_acme_slots_free();
}
