/* SPDX-License-Identifier: MIT */
/*
 * The secrets a valid generation names, read into it after parsing:
 * admin.auth's files (doc/dashboard.md), and the modules' (the
 * idempotency store's keys: conf_idem.c; rate_limit_store.password_file,
 * doc/edge.md section 6.5: conf_rl.c, through sl_conf_read_password).
 * Parsing opens
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
	    (pw = sl_conf_read_password(conf, &a->token_file, "token_file",
					"token", errors, warn)) != NULL) {
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
	    (pw = sl_conf_read_password(conf, &a->basic_file, "basic_file",
					"user and password", errors, warn)) !=
		NULL) {
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

	/* the modules' (conf_mods.c): the idempotency store's keys, the
	 * rate limits' store's password */
	sl_conf_modules_secrets(conf, &errors, &warn);

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
	return 0;
}
