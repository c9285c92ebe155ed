/* SPDX-License-Identifier: MIT */
/*
 * The tls keys of the sluice schema (doc/tls.md): a listener's tls (its
 * certificates, versions, ciphers, sessions and client certificates) and a
 * cluster's (SNI, verification, mutual TLS). Called by conf.c; it records
 * file names with their positions and opens none of them: tls.c loads them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "conf_types.h"
#include "conf_yaml.h"

static const char *const tls_version_names[] = {"TLSv1.2", "TLSv1.3", NULL};
static const char *const tls_verify_names[] = {"required", "optional", NULL};

/* A file name: a non-empty string, kept with its position. */
void
sl_conf_get_file(struct sl_yaml_loader *ld, const char *key,
		 const struct sl_yaml_node *n, struct sl_conf_file *f)
{
	const char *str;

	if (sl_yaml_get_str(ld, key, n, &str) == -1)
		return;
	if (str[0] == '\0') {
		sl_yaml_err_node(ld, n, "\"%s\": must not be empty", key);
		return;
	}
	f->pos.line = n->line;
	f->pos.col = n->col;
	f->path = sl_yaml_strdup(ld, str);
}

/* An OpenSSL cipher list: printable, no spaces. */
static void
get_cipher_list(struct sl_yaml_loader *ld, const char *key,
		const struct sl_yaml_node *n, char **out,
		struct sl_conf_pos *pos)
{
	const char *str;

	if (sl_yaml_get_str(ld, key, n, &str) == -1)
		return;
	for (size_t i = 0; str[i] != '\0'; i++)
		if (str[i] <= 0x20 || str[i] >= 0x7f) {
			sl_yaml_err_node(ld, n,
					 "\"%s\": an OpenSSL list such as "
					 "\"ECDHE+AESGCM:ECDHE+CHACHA20\", "
					 "without spaces",
					 key);
			return;
		}
	if (str[0] == '\0') {
		sl_yaml_err_node(ld, n, "\"%s\": must not be empty", key);
		return;
	}
	pos->line = n->line;
	pos->col = n->col;
	*out = sl_yaml_strdup(ld, str);
}

static void
get_tls_version(struct sl_yaml_loader *ld, const struct sl_yaml_node *n,
		int *out)
{
	int e = sl_yaml_get_enum(ld, "min_version", n, tls_version_names,
				 "TLSv1.2 or TLSv1.3");

	if (e >= 0)
		*out = e == 0 ? 12 : 13;
}

/* tls.acme: the names the top-level acme orders a certificate for, each
 * its own (doc/tls.md, "ACME"): host names, no wildcard (http-01 and
 * tls-alpn-01 cannot prove one), none twice. */
static void
get_acme_names(struct sl_yaml_loader *ld, const char *lbl,
	       const struct sl_yaml_node *v, struct sl_conf_tls_server *t)
{
	if (sl_yaml_get_seq(ld, "acme", v) == -1)
		return;
	if (v->nkids == 0) {
		sl_yaml_err_node(ld, v, "%s: \"acme\" must not be empty", lbl);
		return;
	}
	t->acme_pos.line = v->line;
	t->acme_pos.col = v->col;
	if ((t->acme = calloc(v->nkids, sizeof(*t->acme))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		const struct sl_yaml_node *n = v->kids[i];
		const char *str;
		size_t len;
		int ok;

		if (sl_yaml_get_str(ld, "acme", n, &str) == -1)
			continue;
		len = strlen(str);
		ok = len > 0 && len <= 253 && str[0] != '.' &&
		     str[len - 1] != '.' && strchr(str, '.') != NULL;
		for (size_t k = 0; ok && k < len; k++)
			ok = (str[k] >= 'a' && str[k] <= 'z') ||
			     (str[k] >= 'A' && str[k] <= 'Z') ||
			     (str[k] >= '0' && str[k] <= '9') ||
			     str[k] == '-' ||
			     (str[k] == '.' && str[k + 1] != '.');
		if (!ok) {
			sl_yaml_err_node(
			    ld, n,
			    "%s: acme: \"%s\" is not a host name "
			    "(a wildcard needs dns-01, which sluice does "
			    "not answer)",
			    lbl, sl_yaml_qnode(ld, n));
			continue;
		}
		char *name = sl_yaml_strdup(ld, str);
		if (name == NULL)
			return;
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		for (size_t k = 0; k < t->nacme; k++)
			if (strcmp(t->acme[k], name) == 0) {
				sl_yaml_err_node(ld, n,
						 "%s: acme: \"%s\" is named "
						 "twice",
						 lbl, name);
				free(name);
				name = NULL;
				break;
			}
		if (name != NULL)
			t->acme[t->nacme++] = name;
	}
}

/* A listener's tls: { certificates, min_version, ciphers, ciphersuites,
 * session_tickets, session_cache, client_ca, client_verify,
 * client_subject_header, acme } */
void
sl_conf_parse_tls_server(struct sl_yaml_loader *ld, const char *lbl,
			 const struct sl_yaml_node *map,
			 struct sl_conf_tls_server *t)
{
	const struct sl_yaml_node *v, *certs;
	const char *str;
	uint64_t u;

	if (sl_yaml_get_map(ld, "tls", map) == -1)
		return;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_TLS_SERVER);
	t->enabled = 1;
	if ((v = sl_yaml_map_get(map, "acme", NULL)) != NULL)
		get_acme_names(ld, lbl, v, t);
	/* what is wrong with the certificates does not hide the rest */
	if ((certs = sl_yaml_map_get(map, "certificates", NULL)) == NULL) {
		if (v == NULL)
			sl_yaml_err_lacks(ld, map,
					  "%s: tls: missing key "
					  "\"certificates\" (or \"acme\")",
					  lbl);
	} else if (sl_yaml_get_seq(ld, "certificates", certs) == -1)
		certs = NULL;
	else if (certs->nkids == 0) {
		sl_yaml_err_lacks(
		    ld, certs, "%s: \"certificates\" must not be empty", lbl);
		certs = NULL;
	} else if ((t->certs = calloc(certs->nkids, sizeof(*t->certs))) ==
		   NULL) {
		ld->oom = 1;
		return;
	} else
		t->ncerts = certs->nkids;
	for (size_t i = 0; certs != NULL && i < certs->nkids; i++) {
		const struct sl_yaml_node *c = certs->kids[i];
		if (sl_yaml_get_map(ld, "certificates", c) == -1)
			continue;
		sl_conf_check_keys(ld, c, SL_CONF_SEC_TLS_CERT);
		if ((v = sl_yaml_map_get(c, "cert", NULL)) == NULL)
			sl_yaml_err_lacks(ld, c,
					  "%s: certificate #%zu: missing "
					  "key \"cert\"",
					  lbl, i + 1);
		else
			sl_conf_get_file(ld, "cert", v, &t->certs[i].cert);
		if ((v = sl_yaml_map_get(c, "key", NULL)) == NULL)
			sl_yaml_err_lacks(ld, c,
					  "%s: certificate #%zu: missing "
					  "key \"key\"",
					  lbl, i + 1);
		else
			sl_conf_get_file(ld, "key", v, &t->certs[i].key);
	}
	if ((v = sl_yaml_map_get(map, "min_version", NULL)) != NULL)
		get_tls_version(ld, v, &t->min_version);
	if ((v = sl_yaml_map_get(map, "ciphers", NULL)) != NULL)
		get_cipher_list(ld, "ciphers", v, &t->ciphers, &t->ciphers_pos);
	if ((v = sl_yaml_map_get(map, "ciphersuites", NULL)) != NULL)
		get_cipher_list(ld, "ciphersuites", v, &t->ciphersuites,
				&t->ciphersuites_pos);
	if ((v = sl_yaml_map_get(map, "session_tickets", NULL)) != NULL)
		sl_conf_get_bool(ld, "session_tickets", v, &t->session_tickets);
	if ((v = sl_yaml_map_get(map, "session_cache", NULL)) != NULL &&
	    sl_yaml_get_uint(ld, "session_cache", v, 0, 10000000, &u) == 0)
		t->session_cache = u;
	if ((v = sl_yaml_map_get(map, "client_ca", NULL)) != NULL)
		sl_conf_get_file(ld, "client_ca", v, &t->client_ca);
	if ((v = sl_yaml_map_get(map, "client_verify", NULL)) != NULL) {
		int e =
		    sl_yaml_get_enum(ld, "client_verify", v, tls_verify_names,
				     "required or optional");
		if (e >= 0)
			t->client_verify_optional = e == 1;
		if (sl_yaml_map_get(map, "client_ca", NULL) == NULL &&
		    sl_yaml_whole(ld, map))
			sl_yaml_err_node(ld, v,
					 "%s: \"client_verify\" needs "
					 "\"client_ca\"",
					 lbl);
	}
	if ((v = sl_yaml_map_get(map, "client_subject_header", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "client_subject_header", v, &str) == 0) {
		int ok = sl_conf_is_token(str, strlen(str)) && str[0] != '\0';

		if (!ok)
			sl_yaml_err_node(ld, v,
					 "\"client_subject_header\": \"%s\" is "
					 "not a valid header name",
					 sl_yaml_qnode(ld, v));
		if (sl_yaml_map_get(map, "client_ca", NULL) == NULL) {
			if (sl_yaml_whole(ld, map))
				sl_yaml_err_node(
				    ld, v,
				    "%s: \"client_subject_header\" needs "
				    "\"client_ca\" (only a verified "
				    "certificate sets it)",
				    lbl);
		} else if (ok)
			t->client_subject_header = sl_yaml_strdup(ld, str);
	}
}

/* A cluster's tls: { sni, ca, verify, cert, key, min_version } */
void
sl_conf_parse_tls_client(struct sl_yaml_loader *ld, const char *lbl,
			 const struct sl_yaml_node *map,
			 struct sl_conf_tls_client *t)
{
	const struct sl_yaml_node *v, *cert, *key;
	const char *str;

	if (sl_yaml_get_map(ld, "tls", map) == -1)
		return;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_TLS_CLIENT);
	t->enabled = 1;
	if ((v = sl_yaml_map_get(map, "sni", NULL)) != NULL &&
	    sl_yaml_get_str(ld, "sni", v, &str) == 0) {
		int ok = str[0] != '\0' && strlen(str) <= 253;
		for (size_t i = 0; ok && str[i] != '\0'; i++)
			ok = (str[i] >= 'a' && str[i] <= 'z') ||
			     (str[i] >= 'A' && str[i] <= 'Z') ||
			     (str[i] >= '0' && str[i] <= '9') ||
			     str[i] == '-' || str[i] == '.' || str[i] == '_';
		if (!ok)
			sl_yaml_err_node(ld, v,
					 "\"sni\": \"%s\" is not a host name",
					 sl_yaml_qnode(ld, v));
		else
			t->sni = sl_yaml_strdup(ld, str);
	}
	if ((v = sl_yaml_map_get(map, "ca", NULL)) != NULL)
		sl_conf_get_file(ld, "ca", v, &t->ca);
	if ((v = sl_yaml_map_get(map, "verify", NULL)) != NULL)
		sl_conf_get_bool(ld, "verify", v, &t->verify);
	cert = sl_yaml_map_get(map, "cert", NULL);
	key = sl_yaml_map_get(map, "key", NULL);
	if (cert != NULL)
		sl_conf_get_file(ld, "cert", cert, &t->cert);
	if (key != NULL)
		sl_conf_get_file(ld, "key", key, &t->key);
	if ((cert == NULL) != (key == NULL) && sl_yaml_whole(ld, map))
		sl_yaml_err_node(ld, cert != NULL ? cert : key,
				 "%s: tls: \"cert\" and \"key\" go together "
				 "(mutual TLS)",
				 lbl);
	if ((v = sl_yaml_map_get(map, "min_version", NULL)) != NULL)
		get_tls_version(ld, v, &t->min_version);
}

/* A listener's http3: { alt_svc_max_age, retry, retry_threshold,
 * max_connections, max_handshakes_per_ip } (doc/http3.md). `true` takes the
 * defaults; `false` is as if the key were absent. It needs tls:, and a
 * build with HTTP/3. */
void
sl_conf_parse_http3(struct sl_yaml_loader *ld, const char *lbl,
		    const struct sl_yaml_node *listener,
		    const struct sl_yaml_node *map, struct sl_conf_listener *l)
{
	static const char *const retry_names[] = {"auto", "always", "never",
						  NULL};
	struct sl_conf_http3 *h = &l->http3;
	const struct sl_yaml_node *v;
	uint64_t u;
	int on = 1;

	h->alt_svc_max_age_ms = 86400 * 1000ull;
	h->retry = SL_H3_RETRY_AUTO;
	h->retry_threshold = 100;
	h->max_connections = 10000;
	h->max_handshakes_per_ip = 100;
	h->pos.line = map->line;
	h->pos.col = map->col;
	if (map->type != SL_YAML_NODE_MAP) {
		sl_conf_get_bool(ld, "http3", map, &on);
		if (!on)
			return;
	} else {
		sl_conf_check_keys(ld, map, SL_CONF_SEC_HTTP3);
		if ((v = sl_yaml_map_get(map, "alt_svc_max_age", NULL)) !=
			NULL &&
		    sl_yaml_get_duration(ld, "alt_svc_max_age", v, 0,
					 365 * 86400 * 1000ull, &u) == 0)
			h->alt_svc_max_age_ms = u;
		if ((v = sl_yaml_map_get(map, "retry", NULL)) != NULL) {
			int e = sl_yaml_get_enum(ld, "retry", v, retry_names,
						 "auto, always or never");
			if (e >= 0)
				h->retry = (enum sl_h3_retry)e;
		}
		if ((v = sl_yaml_map_get(map, "retry_threshold", NULL)) !=
			NULL &&
		    sl_yaml_get_uint(ld, "retry_threshold", v, 0, 1000000,
				     &u) == 0)
			h->retry_threshold = u;
		if ((v = sl_yaml_map_get(map, "max_connections", NULL)) !=
			NULL &&
		    sl_yaml_get_uint(ld, "max_connections", v, 1, 10000000,
				     &u) == 0)
			h->max_connections = u;
		if ((v = sl_yaml_map_get(map, "max_handshakes_per_ip", NULL)) !=
			NULL &&
		    sl_yaml_get_uint(ld, "max_handshakes_per_ip", v, 1, 65535,
				     &u) == 0)
			h->max_handshakes_per_ip = u;
	}
#ifndef HAVE_QUIC
	sl_yaml_err_node(ld, map,
			 "%s: \"http3\" needs libngtcp2: this sluice was built "
			 "without HTTP/3 (./configure --with-quic)",
			 lbl);
	return;
#endif
	if (sl_yaml_map_get(listener, "tls", NULL) == NULL) {
		sl_yaml_err_node(ld, map,
				 "%s: \"http3\" needs \"tls\" (QUIC is "
				 "always encrypted)",
				 lbl);
		return;
	}
	if (sl_yaml_map_get(listener, "proxy_protocol", NULL) != NULL) {
		sl_yaml_err_node(ld, map,
				 "%s: \"http3\" cannot be used with "
				 "\"proxy_protocol\" (a PROXY header has no "
				 "place in a UDP datagram)",
				 lbl);
		return;
	}
	h->enabled = 1;
}
