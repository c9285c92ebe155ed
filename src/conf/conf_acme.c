/* SPDX-License-Identifier: MIT */
/*
 * The ACME module (doc/tls.md, "ACME"): the top-level acme: key, the checks
 * across the listeners that tls.acme needs (the account, a listener where
 * the CA's validation arrives), the secrets it reads (the account key, the
 * External Account Binding's MAC key), its /config text, and its /metrics
 * families, made of the slots (net/acmeslot.h) that fleet/acme.c fills.
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acmeslot.h"
#include "conf.h"
#include "conf_acme.h"
#include "conf_int.h"
#include "conf_yaml.h"
#include "util.h"

extern struct sl_module sl_module_acme;

#define ACME_KEY_MAX (16 * 1024) /* an account key's PEM */

static const char *const key_types[] = {"ecdsa", "rsa", NULL};
static const char *const challenges[] = {"http-01", "tls-alpn-01", NULL};
static const char *const stores[] = {"local", "redis", NULL};

const struct sl_conf_acme *
sl_conf_acme(const struct sl_conf *conf)
{
	return sl_conf_mod(conf, &sl_module_acme);
}

/* The directory: an https URL with a host (the CA's; a test server on
 * loopback as much as Let's Encrypt). */
static void
get_directory(struct sl_yaml_loader *ld, const struct sl_yaml_node *v,
	      struct sl_conf_acme *a)
{
	const char *s;
	int ok;

	if (sl_yaml_get_str(ld, "directory", v, &s) == -1)
		return;
	ok = strncmp(s, "https://", 8) == 0 && s[8] != '\0' && s[8] != '/' &&
	     strlen(s) < 1024;
	for (size_t i = 0; ok && s[i] != '\0'; i++)
		ok = s[i] > 0x20 && s[i] < 0x7f;
	if (!ok) {
		sl_yaml_err_node(ld, v,
				 "acme: \"directory\": \"%s\" is not an https "
				 "URL (the CA's directory, as "
				 "https://acme-v02.api.letsencrypt.org/"
				 "directory)",
				 sl_yaml_qnode(ld, v));
		return;
	}
	a->directory = sl_yaml_strdup(ld, s);
	a->directory_pos.line = v->line;
	a->directory_pos.col = v->col;
}

/* The contact: an e-mail address, kept as the mailto: URL ACME sends. */
static void
get_contact(struct sl_yaml_loader *ld, const struct sl_yaml_node *v,
	    struct sl_conf_acme *a)
{
	const char *s, *at;
	size_t n;
	int ok;

	if (sl_yaml_get_str(ld, "contact", v, &s) == -1)
		return;
	if (strncmp(s, "mailto:", 7) == 0)
		s += 7;
	n = strlen(s);
	at = strchr(s, '@');
	ok = n > 2 && n < 256 && at != NULL && at != s && at[1] != '\0' &&
	     strchr(at + 1, '@') == NULL && strchr(at + 1, '.') != NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' &&
		     s[i] != '\\' && s[i] != ',';
	if (!ok) {
		sl_yaml_err_node(ld, v,
				 "acme: \"contact\": \"%s\" is not an e-mail "
				 "address",
				 sl_yaml_qnode(ld, v));
		return;
	}
	if ((a->contact = malloc(n + 8)) == NULL) {
		ld->oom = 1;
		return;
	}
	memcpy(a->contact, "mailto:", 7);
	memcpy(a->contact + 7, s, n + 1);
}

static void
get_eab(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	struct sl_conf_acme *a)
{
	const struct sl_yaml_node *v;
	const char *s;

	if (sl_yaml_get_map(ld, "eab", map) == -1)
		return;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_acme.sec_id);
	if ((v = sl_yaml_map_get(map, "kid", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map, "acme: eab: missing key \"kid\"");
	else if (sl_yaml_get_str(ld, "kid", v, &s) == 0) {
		int ok = s[0] != '\0' && strlen(s) < 256;
		for (size_t i = 0; ok && s[i] != '\0'; i++)
			ok = s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' &&
			     s[i] != '\\';
		if (!ok)
			sl_yaml_err_node(
			    ld, v,
			    "acme: eab: \"kid\" must be printable, "
			    "without quotes or spaces");
		else
			a->eab_kid = sl_yaml_strdup(ld, s);
	}
	if ((v = sl_yaml_map_get(map, "hmac_key_file", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map,
				  "acme: eab: missing key \"hmac_key_file\"");
	else
		sl_conf_get_file(ld, "hmac_key_file", v, &a->eab_hmac_key);
}

static void
top_parse(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	  void **slot, struct sl_conf *conf)
{
	const struct sl_yaml_node *v;
	struct sl_conf_acme *a;
	const char *s;

	(void)conf;
	if (map == NULL)
		return;
	if ((a = *slot = calloc(1, sizeof(*a))) == NULL) {
		ld->oom = 1;
		return;
	}
	a->http_port = 80;
	a->tls_port = 443;
	a->timeout_ms = 10000;
	a->retry_ms = 5000;
	a->retry_max_ms = 3600 * 1000;
	if (sl_yaml_get_map(ld, "acme", map) == -1)
		return;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_acme.top_sec_id);
	if ((v = sl_yaml_map_get(map, "directory", NULL)) == NULL)
		sl_yaml_err_lacks(ld, map, "acme: missing key \"directory\"");
	else
		get_directory(ld, v, a);
	if ((v = sl_yaml_map_get(map, "storage", NULL)) == NULL)
		sl_yaml_err_lacks(
		    ld, map,
		    "acme: missing key \"storage\" (the directory "
		    "where keys and certificates are kept)");
	else if (sl_yaml_get_str(ld, "storage", v, &s) == 0) {
		if (s[0] != '/')
			sl_yaml_err_node(ld, v,
					 "acme: \"storage\": \"%s\" must be an "
					 "absolute path",
					 sl_yaml_qnode(ld, v));
		else {
			a->storage = sl_yaml_strdup(ld, s);
			a->storage_pos.line = v->line;
			a->storage_pos.col = v->col;
		}
	}
	if ((v = sl_yaml_map_get(map, "contact", NULL)) != NULL)
		get_contact(ld, v, a);
	if ((v = sl_yaml_map_get(map, "ca_file", NULL)) != NULL)
		sl_conf_get_file(ld, "ca_file", v, &a->ca_file);
	if ((v = sl_yaml_map_get(map, "account_key", NULL)) != NULL)
		sl_conf_get_file(ld, "account_key", v, &a->account_key);
	if ((v = sl_yaml_map_get(map, "eab", NULL)) != NULL)
		get_eab(ld, v, a);
	if ((v = sl_yaml_map_get(map, "key_type", NULL)) != NULL) {
		int e = sl_yaml_get_enum(ld, "key_type", v, key_types,
					 "ecdsa or rsa");
		if (e >= 0)
			a->key_type = (enum sl_acme_key)e;
	}
	if ((v = sl_yaml_map_get(map, "challenge", NULL)) != NULL) {
		int e = sl_yaml_get_enum(ld, "challenge", v, challenges,
					 "http-01 or tls-alpn-01");
		if (e >= 0)
			a->challenge = (enum sl_acme_challenge)e;
	}
	if ((v = sl_yaml_map_get(map, "store", NULL)) != NULL) {
		int e =
		    sl_yaml_get_enum(ld, "store", v, stores, "local or redis");
		if (e >= 0)
			a->store_redis = e == 1;
		a->store_pos.line = v->line;
		a->store_pos.col = v->col;
	}
	if ((v = sl_yaml_map_get(map, "key_file", NULL)) != NULL)
		sl_conf_get_file(ld, "key_file", v, &a->key_file);
	if ((v = sl_yaml_map_get(map, "http_port", NULL)) != NULL)
		sl_yaml_get_uint(ld, "http_port", v, 1, 65535, &a->http_port);
	if ((v = sl_yaml_map_get(map, "tls_port", NULL)) != NULL)
		sl_yaml_get_uint(ld, "tls_port", v, 1, 65535, &a->tls_port);
	if ((v = sl_yaml_map_get(map, "timeout", NULL)) != NULL)
		sl_yaml_get_duration(ld, "timeout", v, 1000, 120000,
				     &a->timeout_ms);
	if ((v = sl_yaml_map_get(map, "retry", NULL)) != NULL)
		sl_yaml_get_duration(ld, "retry", v, 1000, 3600 * 1000,
				     &a->retry_ms);
	if ((v = sl_yaml_map_get(map, "retry_max", NULL)) != NULL)
		sl_yaml_get_duration(ld, "retry_max", v, 1000, 24 * 3600 * 1000,
				     &a->retry_max_ms);
	if (a->retry_max_ms < a->retry_ms)
		a->retry_max_ms = a->retry_ms;
}

static void
top_free(void *slot)
{
	struct sl_conf_acme *a = slot;

	if (a == NULL)
		return;
	free(a->directory);
	free(a->ca_file.path);
	free(a->contact);
	free(a->account_key.path);
	if (a->account_key_pem != NULL) {
		OPENSSL_cleanse(a->account_key_pem, strlen(a->account_key_pem));
		free(a->account_key_pem);
	}
	free(a->eab_kid);
	free(a->eab_hmac_key.path);
	OPENSSL_cleanse(a->eab_key, sizeof(a->eab_key));
	free(a->storage);
	free(a->key_file.path);
	OPENSSL_cleanse(a->seal_key, sizeof(a->seal_key));
	free(a);
}

static int
port_of(const struct sl_conf_addr *a)
{
	const struct sockaddr_storage *ss = &a->ss;

	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return -1;
}

/* tls.acme needs the top-level acme; the challenge needs a listener where
 * the CA's validation arrives (http-01: a plain listener on http_port,
 * which then answers it before any route; tls-alpn-01: a TLS listener of
 * ACME names on tls_port). */
static void
settle(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	struct sl_conf_acme *a = sl_conf_mod(conf, &sl_module_acme);
	const struct sl_conf_listener *named = NULL;
	int http = 0, alpn = 0;

	if (ld->stopped)
		return;
	conf->acme_storage = a != NULL ? a->storage : NULL;
	if (conf->admin_tls.nacme > 0)
		sl_yaml_err_at(ld, conf->admin_tls.acme_pos.line,
			       conf->admin_tls.acme_pos.col,
			       "admin: tls: \"acme\" is a listener's key: the "
			       "admin listener takes certificate files");
	for (size_t i = 0; i < conf->nlisteners; i++) {
		struct sl_conf_listener *l = &conf->listeners[i];
		int port = port_of(&l->addr);

		if (l->tls.nacme > 0 && named == NULL)
			named = l;
		if (l->tls.nacme > 0 && a == NULL)
			sl_yaml_err_at(
			    ld, l->tls.acme_pos.line, l->tls.acme_pos.col,
			    "listener \"%s\": tls: \"acme\" needs the "
			    "top-level \"acme\" (the CA and the "
			    "account)",
			    l->name ? l->name : "?");
		if (a == NULL)
			continue;
		if (!l->tls.enabled && port == (int)a->http_port &&
		    a->challenge == SL_ACME_HTTP01) {
			l->acme_http = 1;
			http = 1;
		}
		if (l->tls.nacme > 0 && port == (int)a->tls_port)
			alpn = 1;
	}
	if (a != NULL && a->store_redis && conf->fleet_store == NULL)
		sl_yaml_err_at(ld, a->store_pos.line, a->store_pos.col,
			       "acme: \"store: redis\" needs the top-level "
			       "\"rate_limit_store\" (the Redis the fleet "
			       "shares)");
	if (a != NULL && a->store_redis && a->key_file.path == NULL)
		sl_yaml_err_at(ld, a->store_pos.line, a->store_pos.col,
			       "acme: \"store: redis\" needs \"key_file\" "
			       "(certificates and keys are sealed in Redis)");
	if (a == NULL || named == NULL || a->directory == NULL)
		return;
	if (a->challenge == SL_ACME_HTTP01 && !http)
		sl_yaml_err_at(ld, a->directory_pos.line, a->directory_pos.col,
			       "acme: http-01 needs a plain (not TLS) listener "
			       "on port %llu, where the CA's validation "
			       "arrives (set \"http_port\" when a balancer "
			       "sends port 80 to another port)",
			       (unsigned long long)a->http_port);
	if (a->challenge == SL_ACME_TLSALPN01 && !alpn)
		sl_yaml_err_at(
		    ld, a->directory_pos.line, a->directory_pos.col,
		    "acme: tls-alpn-01 needs a TLS listener of ACME "
		    "names on port %llu, where the CA's validation "
		    "arrives (set \"tls_port\" when a balancer sends "
		    "port 443 to another port)",
		    (unsigned long long)a->tls_port);
}

/* The storage directory: there and writable, or creatable (its parent
 * is). */
static void
check_storage(const struct sl_conf *conf, const struct sl_conf_acme *a,
	      char **errors, char **warnings)
{
	struct stat st;
	char parent[1024];
	char *slash;

	if (stat(a->storage, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			sl_conf_msg(errors, conf, "error", &a->storage_pos,
				    "acme: \"storage\": \"%s\" is not a "
				    "directory",
				    a->storage);
		else if (access(a->storage, W_OK | X_OK) != 0)
			sl_conf_msg(errors, conf, "error", &a->storage_pos,
				    "acme: \"storage\": cannot write in \"%s\"",
				    a->storage);
		else if ((st.st_mode & 077) != 0)
			sl_conf_msg(warnings, conf, "warning", &a->storage_pos,
				    "acme: \"storage\": \"%s\" may be read by "
				    "others (its keys are private: chmod 700)",
				    a->storage);
		return;
	}
	snprintf(parent, sizeof(parent), "%s", a->storage);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent)
		*slash = '\0';
	else
		snprintf(parent, sizeof(parent), "/");
	if (access(parent, W_OK | X_OK) != 0)
		sl_conf_msg(errors, conf, "error", &a->storage_pos,
			    "acme: \"storage\": \"%s\" does not exist and "
			    "cannot be made in \"%s\"",
			    a->storage, parent);
}

/* base64url (or base64) without padding into out; its length, or -1. */
static long
b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i], v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-' || c == '+')
			v = 62;
		else if (c == '_' || c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (k == cap)
				return -1;
			out[k++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)k;
}

/* The account key (a P-256 or RSA key of 2048 bits or more) and the
 * External Account Binding's MAC key; the storage directory. */
static void
secrets(struct sl_conf *conf, char **errors, char **warnings)
{
	struct sl_conf_acme *a = sl_conf_mod(conf, &sl_module_acme);
	char buf[ACME_KEY_MAX + 1];
	ssize_t n;

	if (a == NULL)
		return;
	if (a->storage != NULL)
		check_storage(conf, a, errors, warnings);
	if (a->account_key.path != NULL && a->account_key_pem == NULL &&
	    (n = sl_conf_secret_read(conf, &a->account_key, "account_key", buf,
				     sizeof(buf) - 1, errors, warnings)) >= 0) {
		BIO *b = BIO_new_mem_buf(buf, (int)n);
		EVP_PKEY *k = b != NULL
				  ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)
				  : NULL;
		int ok =
		    k != NULL &&
		    ((EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_bits(k) == 256) ||
		     (EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) >= 2048));

		buf[n] = '\0';
		if (!ok)
			sl_conf_msg(
			    errors, conf, "error", &a->account_key.pos,
			    "acme: \"account_key\": \"%s\" is not a PEM "
			    "private key of P-256 or RSA of 2048 bits "
			    "or more",
			    a->account_key.path);
		else if ((a->account_key_pem = strdup(buf)) == NULL)
			sl_conf_msg(errors, conf, "error", NULL,
				    "out of memory");
		EVP_PKEY_free(k);
		BIO_free(b);
		ERR_clear_error();
		OPENSSL_cleanse(buf, sizeof(buf));
	}
	if (a->key_file.path != NULL && !a->has_key)
		a->has_key =
		    sl_conf_read_seal_key(conf, &a->key_file, "key_file",
					  a->seal_key, errors, warnings) == 0;
	if (a->eab_hmac_key.path != NULL && a->eab_len == 0 &&
	    (n = sl_conf_secret_read(conf, &a->eab_hmac_key, "hmac_key_file",
				     buf, 1024, errors, warnings)) >= 0) {
		long k;

		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
				 buf[n - 1] == ' '))
			n--;
		k = b64url_decode(buf, (size_t)n, a->eab_key,
				  sizeof(a->eab_key));
		if (k < 16)
			sl_conf_msg(errors, conf, "error", &a->eab_hmac_key.pos,
				    "acme: eab: \"hmac_key_file\": \"%s\" is "
				    "not a base64url key of 16 bytes or more "
				    "(the CA's EAB MAC key)",
				    a->eab_hmac_key.path);
		else
			a->eab_len = (size_t)k;
		OPENSSL_cleanse(buf, sizeof(buf));
	}
}

/* A reload: the secrets the old generation read, when read from the same
 * files. */
static int
share(struct sl_conf *nc, const struct sl_conf *oc)
{
	struct sl_conf_acme *n = sl_conf_mod(nc, &sl_module_acme);
	const struct sl_conf_acme *o = sl_conf_mod(oc, &sl_module_acme);

	if (n == NULL || o == NULL)
		return 0;
	if (n->eab_len == 0 && o->eab_len > 0 && n->eab_hmac_key.path != NULL &&
	    o->eab_hmac_key.path != NULL &&
	    strcmp(n->eab_hmac_key.path, o->eab_hmac_key.path) == 0) {
		memcpy(n->eab_key, o->eab_key, o->eab_len);
		n->eab_len = o->eab_len;
	}
	if (!n->has_key && o->has_key && n->key_file.path != NULL &&
	    o->key_file.path != NULL &&
	    strcmp(n->key_file.path, o->key_file.path) == 0) {
		memcpy(n->seal_key, o->seal_key, sizeof(n->seal_key));
		n->has_key = 1;
	}
	if (n->account_key_pem == NULL && o->account_key_pem != NULL &&
	    n->account_key.path != NULL && o->account_key.path != NULL &&
	    strcmp(n->account_key.path, o->account_key.path) == 0 &&
	    (n->account_key_pem = strdup(o->account_key_pem)) == NULL)
		return -1;
	return 0;
}

static void
top_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_acme *a = slot;

	if (a == NULL) {
		o->printf(o->ctx, ",\"acme\":null");
		return;
	}
	o->printf(o->ctx, ",\"acme\":{\"directory\":");
	o->str(o->ctx, a->directory);
	o->printf(o->ctx, ",\"contact\":");
	o->str(o->ctx, a->contact);
	o->printf(o->ctx, ",\"ca_file\":");
	o->str(o->ctx, a->ca_file.path);
	/* a private key's file is never named (as a certificate's key is
	 * not): whether one is given */
	o->printf(o->ctx, ",\"account_key_set\":%s",
		  a->account_key.path != NULL ? "true" : "false");
	o->printf(o->ctx, ",\"eab\":");
	if (a->eab_kid == NULL)
		o->printf(o->ctx, "null");
	else {
		o->printf(o->ctx, "{\"kid\":");
		o->str(o->ctx, a->eab_kid);
		o->printf(o->ctx, ",\"hmac_key_file\":");
		o->str(o->ctx, a->eab_hmac_key.path);
		o->printf(o->ctx, "}");
	}
	o->printf(o->ctx, ",\"store\":\"%s\",\"key_file\":",
		  a->store_redis ? "redis" : "local");
	o->str(o->ctx, a->key_file.path);
	o->printf(o->ctx, ",\"storage\":");
	o->str(o->ctx, a->storage);
	o->printf(
	    o->ctx,
	    ",\"key_type\":\"%s\",\"challenge\":\"%s\",\"http_port\":%llu,"
	    "\"tls_port\":%llu,\"timeout_ms\":%llu,\"retry_ms\":%llu,"
	    "\"retry_max_ms\":%llu}",
	    key_types[a->key_type], challenges[a->challenge],
	    (unsigned long long)a->http_port, (unsigned long long)a->tls_port,
	    (unsigned long long)a->timeout_ms, (unsigned long long)a->retry_ms,
	    (unsigned long long)a->retry_max_ms);
}

/* ---- /metrics: a name's certificate, from its slot ----------------------
 */

struct mline {
	const struct sl_mout *o;
	int which;
	int64_t now;
};

static void
slot_line(const struct sl_acme_slot *s, void *arg)
{
	const struct mline *m = arg;
	const struct sl_mout *o = m->o;
	int64_t na = atomic_load(&s->not_after);
	int64_t at = atomic_load(&s->renewed_at);
	int r = atomic_load(&s->result);

	switch (m->which) {
	case 0:
		if (na > 0)
			o->printf(o->ctx,
				  "sluice_acme_certificate_expiry_seconds"
				  "{name=\"%s\"} %lld\n",
				  s->name, (long long)(na - m->now));
		break;
	case 1:
		if (at > 0)
			o->printf(o->ctx,
				  "sluice_acme_certificate_renewed_timestamp_"
				  "seconds{name=\"%s\"} %lld\n",
				  s->name, (long long)at);
		break;
	case 2:
		o->printf(o->ctx,
			  "sluice_acme_orders_total{name=\"%s\",result=\"ok\"} "
			  "%llu\nsluice_acme_orders_total{name=\"%s\","
			  "result=\"failed\"} %llu\n",
			  s->name, (unsigned long long)atomic_load(&s->orders),
			  s->name,
			  (unsigned long long)atomic_load(&s->failures));
		break;
	default:
		if (r != SL_ACME_R_NONE)
			o->printf(o->ctx,
				  "sluice_acme_last_order_ok{name=\"%s\"} %d\n",
				  s->name, r == SL_ACME_R_OK);
		break;
	}
}

static void
metrics(const struct sl_mout *o, const struct sl_conf *conf)
{
	static const char *const fam[][3] = {
	    {"sluice_acme_certificate_expiry_seconds",
	     "Seconds until the certificate ACME obtained for a name expires",
	     "gauge"},
	    {"sluice_acme_certificate_renewed_timestamp_seconds",
	     "When the name's current certificate was installed", "gauge"},
	    {"sluice_acme_orders_total",
	     "Orders for a name's certificate, by how they ended", "counter"},
	    {"sluice_acme_last_order_ok",
	     "Whether the name's last order succeeded (1) or failed (0)",
	     "gauge"},
	};
	struct mline m = {o, 0, (int64_t)time(NULL)};

	(void)conf;
	for (int k = 0; k < 4; k++) {
		o->printf(o->ctx, "# HELP %s %s\n# TYPE %s %s\n", fam[k][0],
			  fam[k][1], fam[k][0], fam[k][2]);
		m.which = k;
		sl_acme_slots_each(slot_line, &m);
	}
	o->printf(o->ctx,
		  "# HELP sluice_acme_retries_total Requests to the CA sent "
		  "again, by why\n# TYPE sluice_acme_retries_total counter\n"
		  "sluice_acme_retries_total{reason=\"bad_nonce\"} %llu\n"
		  "sluice_acme_retries_total{reason=\"retry_after\"} %llu\n",
		  (unsigned long long)atomic_load(
		      &sl_acme_retries[SL_ACME_RETRY_NONCE]),
		  (unsigned long long)atomic_load(
		      &sl_acme_retries[SL_ACME_RETRY_LATER]));
}

static int
alive(void)
{
	return sl_acme_slots_count() > 0;
}

static const char *const acme_keys[] = {
    "directory", "storage",   "contact",   "ca_file",  "account_key", "eab",
    "key_type",	 "challenge", "http_port", "tls_port", "timeout",     "retry",
    "retry_max", "store",     "key_file",  NULL,
};
static const char *const eab_keys[] = {"kid", "hmac_key_file", NULL};

static const struct sl_conf_section_def top_sec = {
    SL_CONF_SEC_TOP,
    acme_keys,
    NULL,
    "in acme",
    "under \"acme\"",
    "under the top-level \"acme\"",
    NULL,
};
static const struct sl_conf_section_def secs[] = {
    {SL_CONF_SEC_MOD_TOP, eab_keys, NULL, "in eab", "under \"eab\"",
     "under \"acme.eab\"", NULL},
};

struct sl_module sl_module_acme = {
    .name = "acme",
    .key = "acme",
    .top_parse = top_parse,
    .top_free = top_free,
    .settle = settle,
    .secrets = secrets,
    .share = share,
    .alive = alive,
    .top_print = top_print,
    .top_sec = &top_sec,
    .secs = secs,
    .nsecs = SL_NELEM(secs),
    .metrics = metrics,
};
