/* SPDX-License-Identifier: MIT */
/*
 * The secrets a valid generation names, read into it after parsing:
 * rate_limit_store.password_file (doc/edge.md section 6.5), admin.auth's
 * files (doc/dashboard.md), and the modules' (the idempotency store's
 * keys: conf_idem.c). Parsing opens
 * no file but the configuration (its fuzzer feeds it any path); this is
 * the step that does, at start-up, for -t and at every reload. A password
 * is never written to a message, a log or /config: only its file's name.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"

#define SECRET_MAX 4096 /* bytes of a password file */

/*
 * The password in the file f: its bytes, line ends (LF, CR LF) at the end
 * removed; one line of bytes other than controls (below 0x20, 0x7f).
 * Returns a malloc'd string, or NULL with the reason in *errors.
 */
static char *
read_password(const struct sl_conf *conf, const struct sl_conf_file *f,
	      const char *key, const char *what, char **errors, char **warnings)
{
	char buf[SECRET_MAX + 1], *pw = NULL;
	ssize_t got = sl_conf_secret_read(conf, f, key, buf, sizeof(buf),
					  errors, warnings);
	size_t len;

	if (got < 0)
		return NULL;
	len = (size_t)got;
	if (len > SECRET_MAX) {
		sl_conf_msg(errors, conf, "error", &f->pos,
			    "\"%s\": \"%s\" is larger than %d bytes: "
			    "not a %s",
			    key, f->path, SECRET_MAX, what);
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0) {
		sl_conf_msg(errors, conf, "error", &f->pos,
			    "\"%s\": \"%s\" is empty", key, f->path);
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\n' || c == '\r') {
			sl_conf_msg(errors, conf, "error", &f->pos,
				    "\"%s\": \"%s\" holds more than "
				    "one line (the %s alone, on one line)",
				    key, f->path, what);
			goto out;
		}
		/* the byte's value only: never the characters around it */
		if (c < 0x20 || c == 0x7f) {
			sl_conf_msg(errors, conf, "error", &f->pos,
				    "\"%s\": the %s in \"%s\" "
				    "holds a control byte (0x%02x); it must be "
				    "printable",
				    key, what, f->path, c);
			goto out;
		}
	}
	if ((pw = malloc(len + 1)) == NULL) {
		sl_conf_msg(errors, conf, "error", &f->pos,
			    "\"%s\": \"%s\": out of memory", key, f->path);
		goto out;
	}
	memcpy(pw, buf, len);
	pw[len] = '\0';
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return pw;
}

/* SHA-256 of "PREFIX" and n bytes of s into md: what an Authorization
 * header's value is compared with. Returns 0, or -1. */
static int
auth_sha(const char *prefix, const void *s, size_t n, unsigned char md[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned len = 0;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, prefix, strlen(prefix)) &&
		 EVP_DigestUpdate(ctx, s, n) &&
		 EVP_DigestFinal_ex(ctx, md, &len) && len == 32;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Is the admin address one only this host reaches (127.0.0.0/8, ::1)? */
static int
admin_loopback(const struct sl_conf_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&a->ss)
				  ->sin_addr.s_addr) >>
			24) == 127;
	if (a->ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
	return 0;
}

/*
 * admin.auth's files (doc/dashboard.md): a token ("Bearer TOKEN") and a
 * user ("user:password", sent as "Basic BASE64"), kept as the SHA-256 of
 * the header value each allows, never as they are. An admin address
 * others can reach without them is warned of.
 */
static void
admin_auth_load(struct sl_conf *conf, char **errors, char **warn)
{
	struct sl_admin_auth *a = &conf->admin_auth;
	char *pw;

	if (a->token_file.path != NULL && !a->has_token &&
	    (pw = read_password(conf, &a->token_file, "token_file", "token",
				errors, warn)) != NULL) {
		a->has_token =
		    auth_sha("Bearer ", pw, strlen(pw), a->token_sha) == 0;
		if (!a->has_token)
			sl_conf_msg(errors, conf, "error", &a->token_file.pos,
				    "\"token_file\": cannot take its digest "
				    "(SHA-256 failed)");
		OPENSSL_cleanse(pw, strlen(pw));
		free(pw);
	}
	if (a->basic_file.path != NULL && !a->has_basic &&
	    (pw = read_password(conf, &a->basic_file, "basic_file",
				"user and password", errors, warn)) != NULL) {
		size_t n = strlen(pw);
		unsigned char *b64 = malloc(4 * ((n + 2) / 3) + 1);
		char *colon = strchr(pw, ':');
		if (colon == NULL || colon == pw || colon[1] == '\0')
			sl_conf_msg(errors, conf, "error", &a->basic_file.pos,
				    "\"basic_file\": \"%s\" must hold one line "
				    "USER:PASSWORD, neither empty",
				    a->basic_file.path);
		else {
			int len = b64 == NULL
				      ? 0
				      : EVP_EncodeBlock(
					    b64, (unsigned char *)pw, (int)n);
			a->has_basic =
			    len > 0 && auth_sha("Basic ", b64, (size_t)len,
						a->basic_sha) == 0;
			if (!a->has_basic)
				sl_conf_msg(errors, conf, "error",
					    &a->basic_file.pos,
					    "\"basic_file\": cannot take its "
					    "digest (out of memory)");
			if (len > 0)
				OPENSSL_cleanse(b64, (size_t)len);
		}
		free(b64);
		OPENSSL_cleanse(pw, n);
		free(pw);
	}
	/* client certificates required are credentials too */
	if (conf->has_admin && a->token_file.path == NULL &&
	    a->basic_file.path == NULL &&
	    (conf->admin_tls.client_ca.path == NULL ||
	     conf->admin_tls.client_verify_optional) &&
	    !admin_loopback(&conf->admin_addr))
		sl_conf_msg(warn, conf, "warning", &conf->admin_addr_pos,
			    "admin: %s is not a loopback address and \"auth\" "
			    "is not set: whoever reaches it reads the status "
			    "page, /config and /metrics (doc/dashboard.md)",
			    conf->admin_addr.text);
}

char *
sl_conf_load_secrets(struct sl_conf *conf, char **warnings)
{
	char *errors = NULL, *warn = NULL;

	/* the modules' (conf_mods.c): the idempotency store's keys */
	sl_conf_modules_secrets(conf, &errors, &warn);

	if (conf->rl_store.password_file.path != NULL &&
	    conf->rl_store.password == NULL)
		conf->rl_store.password =
		    read_password(conf, &conf->rl_store.password_file,
				  "password_file", "password", &errors, &warn);
	admin_auth_load(conf, &errors, &warn);
	if (warn != NULL && warnings != NULL) {
		size_t have = *warnings != NULL ? strlen(*warnings) : 0;
		char *p = realloc(*warnings, have + strlen(warn) + 1);
		if (p != NULL) {
			strcpy(p + have, warn);
			*warnings = p;
		}
	}
	free(warn);
	return errors;
}

/* admin.auth's digests, from a generation that read the same files. */
static void
admin_auth_share(struct sl_admin_auth *n, const struct sl_admin_auth *o)
{
	if (o->has_token && !n->has_token && n->token_file.path != NULL &&
	    o->token_file.path != NULL &&
	    strcmp(n->token_file.path, o->token_file.path) == 0) {
		memcpy(n->token_sha, o->token_sha, sizeof(n->token_sha));
		n->has_token = 1;
	}
	if (o->has_basic && !n->has_basic && n->basic_file.path != NULL &&
	    o->basic_file.path != NULL &&
	    strcmp(n->basic_file.path, o->basic_file.path) == 0) {
		memcpy(n->basic_sha, o->basic_sha, sizeof(n->basic_sha));
		n->has_basic = 1;
	}
}

int
sl_conf_share_secrets(struct sl_conf *nc, const struct sl_conf *oc)
{
	if (sl_conf_modules_share(nc, oc) != 0)
		return -1;
	admin_auth_share(&nc->admin_auth, &oc->admin_auth);
	if (oc->rl_store.password == NULL || nc->rl_store.password != NULL)
		return 0;
	if ((nc->rl_store.password = strdup(oc->rl_store.password)) == NULL)
		return -1;
	return 0;
}
