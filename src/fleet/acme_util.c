/* SPDX-License-Identifier: MIT */
/*
 * What the ACME files share below them (acme_int.h): the CA's JSON read,
 * a random number, a private file written whole, and a certificate
 * installed in its slot and kept in the storage. acme.c, acme_fleet.c and
 * acme_ari.c call it; it calls none of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme_int.h"
#include "acmeslot.h"
#include "json.h"
#include "log.h"
#include "tlscert.h"

int
acme_js_parse(struct acme_js *j, const struct acme_resp *r)
{
	j->text = r->body;
	j->n = r->body != NULL
		   ? sl_json_parse(r->body, r->len, j->t, 512, 8, NULL)
		   : -1;
	return j->n >= 1 && j->t[0].type == SL_JSON_OBJECT ? 0 : -1;
}

/* Member name of object obj, a string, into out. 0, or -1. */
int
acme_js_str(const struct acme_js *j, int obj, const char *name, char *out,
	    size_t n)
{
	int i = sl_json_get(j->text, j->t, obj, name, strlen(name));
	long k;

	if (i < 0 || (k = sl_json_str(j->text, j->t, i, out, n - 1)) < 0)
		return -1;
	out[k] = '\0';
	return memchr(out, '\0', (size_t)k) == NULL ? 0 : -1;
}

uint64_t
acme_rnd(uint64_t n)
{
	uint64_t v = 0;

	if (n == 0)
		return 0;
	(void)RAND_bytes((unsigned char *)&v, sizeof(v));
	return v % n;
}

int
acme_file_write(const char *dir, const char *file, const char *data, size_t len,
		char *why, size_t n)
{
	char path[1200], tmp[1220];
	int fd;
	ssize_t w = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1)
		goto fail;
	for (size_t off = 0; off < len; off += (size_t)w)
		if ((w = write(fd, data + off, len - off)) <= 0) {
			close(fd);
			goto fail;
		}
	if (fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1)
		goto fail;
	return 0;
fail:
	snprintf(why, n, "cannot write \"%.300s\": %s", path, strerror(errno));
	(void)unlink(tmp);
	return -1;
}

int
acme_install(const char *dir, struct sl_acme_slot *slot, const char *pem,
	     size_t len, EVP_PKEY *key, int newer_only, char *why, size_t n)
{
	struct sl_tls_cert *c = sl_tls_cert_from_pem(pem, len, key, why, n);
	struct sl_tls_cert *cur = sl_acme_slot_cert(slot);
	char file[300], *kpem;
	int bad;

	if (c == NULL)
		return -1;
	if (newer_only && cur != NULL && cur->not_after >= c->not_after) {
		sl_tls_cert_unref(c);
		return 0;
	}
	if ((kpem = acme_key_pem(key)) == NULL) {
		snprintf(why, n, "cannot write the key");
		sl_tls_cert_unref(c);
		return -1;
	}
	snprintf(file, sizeof(file), "%s.key", slot->name);
	bad = acme_file_write(dir, file, kpem, strlen(kpem), why, n);
	OPENSSL_cleanse(kpem, strlen(kpem));
	free(kpem);
	snprintf(file, sizeof(file), "%s.crt", slot->name);
	if (bad == -1 || acme_file_write(dir, file, pem, len, why, n) == -1) {
		/* served all the same: the next start orders again */
		log_warnx("acme: %s: %s", slot->name, why);
	}
	sl_acme_slot_set(slot, c, 0);
	return 1;
}
