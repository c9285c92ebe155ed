/* SPDX-License-Identifier: MIT */
/*
 * tls.acme's names on a listener's contexts (doc/tls.md, "ACME"): their
 * slots, looked up by SNI before the certificate files' groups; the
 * tls-alpn-01 handshake (RFC 8737), marked from the ClientHello and given
 * its challenge's certificate; and the handshake refused for a name that
 * has no certificate yet.
 */
#include <openssl/err.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acmeslot.h"
#include "conf_types.h"
#include "log.h"
#include "sniname.h"
#include "tls_int.h"
#include "tlscert.h"

int sl_tls_acme_idx = -1;

/* Here rather than in tls.c, whose ALPN callback uses it too: the
 * ClientHello's list is read by both. */
int
sl_tls_alpn_offered(const unsigned char *in, unsigned int inlen,
		    const char *proto, const unsigned char **out,
		    unsigned char *outlen)
{
	size_t plen = strlen(proto);

	for (unsigned i = 0; i < inlen;) {
		unsigned l = in[i];
		if (i + 1 + l > inlen)
			break;
		if (l == plen && memcmp(in + i + 1, proto, plen) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)l;
			return 1;
		}
		i += 1 + l;
	}
	return 0;
}

/* tls.acme's names: their slots (made on first use, kept by name across
 * generations) and their index. 0, or -1 when out of memory. */
/* The storage's certificates for the slots that have none yet. 0, or -1
 * out of memory. */
static int
from_storage(struct sl_tls_server *srv, const char *storage, int seclevel)
{
	struct sl_tls_cert_job *jobs = calloc(srv->nacme, sizeof(*jobs));
	size_t *which = calloc(srv->nacme, sizeof(*which)), n = 0;
	time_t now = time(NULL);
	int ret = -1;

	if (jobs == NULL || which == NULL)
		goto out;
	for (size_t k = 0; k < srv->nacme; k++) {
		const char *name = srv->acme[k]->name;
		size_t len = strlen(storage) + strlen(name) + 6;
		char *c, *kp;
		if (sl_acme_slot_cert(srv->acme[k]) != NULL)
			continue;
		if ((c = malloc(len)) == NULL || (kp = malloc(len)) == NULL) {
			free(c);
			goto out;
		}
		snprintf(c, len, "%s/%s.crt", storage, name);
		snprintf(kp, len, "%s/%s.key", storage, name);
		jobs[n].cert_path = c;
		jobs[n].key_path = kp;
		which[n++] = k;
	}
	if (n > 0 && sl_tls_certs_load(jobs, n, seclevel) == -1)
		goto out;
	/* a file missing or refused: the ACME thread orders the name */
	for (size_t i = 0; i < n; i++)
		if (jobs[i].cert != NULL && jobs[i].cert->not_after > now &&
		    sl_acme_slot_cert(srv->acme[which[i]]) == NULL)
			sl_acme_slot_set(srv->acme[which[i]],
					 sl_tls_cert_ref(jobs[i].cert), 0);
	ret = 0;
out:
	for (size_t i = 0; jobs != NULL && i < n; i++) {
		free((char *)jobs[i].cert_path);
		free((char *)jobs[i].key_path);
		sl_tls_cert_unref(jobs[i].cert);
	}
	free(jobs);
	free(which);
	return ret;
}

int
sl_tls_server_acme(struct sl_tls_server *srv,
		   const struct sl_conf_tls_server *t, const char *storage,
		   int seclevel)
{
	if ((srv->aidx = sl_sni_idx_new()) == NULL ||
	    (srv->acme = calloc(t->nacme, sizeof(*srv->acme))) == NULL)
		return -1;
	for (size_t k = 0; k < t->nacme; k++) {
		if ((srv->acme[k] = sl_acme_slot_get(t->acme[k])) == NULL)
			return -1;
		srv->nacme++;
		if (sl_sni_idx_add(srv->aidx, t->acme[k], (uint32_t)k) == -1)
			return -1;
	}
	if (sl_tls_acme_idx == -1)
		return -1;
	return storage != NULL && seclevel >= 0
		   ? from_storage(srv, storage, seclevel)
		   : 0;
}

void
sl_tls_server_acme_free(struct sl_tls_server *srv)
{
	sl_sni_idx_free(srv->aidx);
	for (size_t i = 0; i < srv->nacme; i++)
		sl_acme_slot_put(srv->acme[i]);
	free(srv->acme);
}

/* An ACME name's certificate (or its tls-alpn-01 one for a challenge's
 * handshake): 1 put on ssl, 0 none (the files' lookup goes on), -1 the
 * handshake must fail. */
int
sl_tls_acme_use(const struct sl_tls_server *srv, SSL *ssl, const char *name,
		size_t len)
{
	long k = sl_sni_idx_find(srv->aidx, name, len);
	int alpn = sl_tls_acme_idx != -1 &&
		   SSL_get_ex_data(ssl, sl_tls_acme_idx) != NULL;
	struct sl_tls_cert *c;

	if (k < 0)
		return alpn ? -1 : 0;
	/* an ACME name without its certificate yet: 2, the files' lookup
	 * goes on (a file that holds the name serves until ACME's comes) */
	c = alpn ? sl_acme_slot_alpn(srv->acme[k])
		 : sl_acme_slot_cert(srv->acme[k]);
	if (c == NULL)
		return alpn ? -1 : 2;
	SSL_certs_clear(ssl);
	return sl_tls_cert_use(c, NULL, ssl) == 1 ? 1 : -1;
}

/* A handshake for a name of a listener without certificate files whose
 * first certificate ACME has not obtained yet: refused, said at most once
 * a second (doc/tls.md, "Before the first certificate"). */
void
sl_tls_acme_none(const char *name)
{
	static _Atomic int64_t said;
	int64_t now = (int64_t)time(NULL), was = atomic_load(&said);
	char safe[64];
	size_t i;

	if (was == now || !atomic_compare_exchange_strong(&said, &was, now))
		return;
	for (i = 0; name[i] != '\0' && i < sizeof(safe) - 1; i++)
		safe[i] = name[i] > 0x20 && name[i] < 0x7f ? name[i] : '?';
	safe[i] = '\0';
	log_warnx("tls: handshake for \"%s\" refused: ACME has not obtained "
		  "its first certificate yet, and the listener has no "
		  "certificate file",
		  safe);
}

/* An ACME listener's ClientHello: whether it offers "acme-tls/1" (a CA's
 * tls-alpn-01 validation), marked for sni_cb and alpn_cb. */
int
sl_tls_acme_hello(SSL *ssl, int *al, void *arg)
{
	const unsigned char *p;
	size_t n;

	(void)al;
	(void)arg;
	if (SSL_client_hello_get0_ext(
		ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
		&n) == 1 &&
	    n > 2) {
		const unsigned char *o;
		unsigned char olen;
		if (sl_tls_alpn_offered(p + 2, (unsigned)(n - 2),
					SL_TLS_ACME_ALPN, &o, &olen))
			SSL_set_ex_data(ssl, sl_tls_acme_idx, (void *)1);
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}
