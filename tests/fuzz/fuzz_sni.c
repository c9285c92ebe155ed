/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the SNI index (sniname.c) against the walk it
 * replaced. The input is lines: "?NAME" asks NAME, any other line is a
 * certificate name, its first byte choosing its group (0-7, in group
 * order whatever the line order). Every asked name, every certificate
 * name, each with its first label replaced and with its case flipped, must
 * choose the same group by the index as by the walk, and each group must
 * cover exactly the names one of its own matches.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sniname.h"

#define NGROUPS	 8
#define MAXNAMES 64

static char *names[NGROUPS][MAXNAMES];
static size_t nnames[NGROUPS];
static char *asked[MAXNAMES];
static size_t nasked;

static void
one(const struct sl_sni_idx *x, const char *name)
{
	char **const gv[NGROUPS] = {names[0], names[1], names[2], names[3],
				    names[4], names[5], names[6], names[7]};
	size_t len = strlen(name);

	CHECK(sl_sni_idx_find(x, name, len) ==
	      sl_sni_walk_find(gv, nnames, NGROUPS, name));
	for (uint32_t g = 0; g < NGROUPS; g++) {
		int want = 0;
		for (size_t j = 0; j < nnames[g] && !want; j++)
			want = sl_sni_name_matches(names[g][j], name) != 0;
		CHECK(sl_sni_idx_covers(x, g, name, len) == want);
	}
}

/* name, its case flipped, and under another first label */
static void
variants(const struct sl_sni_idx *x, const char *name)
{
	size_t len = strlen(name);
	char *v = malloc(len + 3);
	const char *dot;

	if (v == NULL)
		return;
	one(x, name);
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];
		v[i] = (char)((c >= 'a' && c <= 'z')   ? c - 32
			      : (c >= 'A' && c <= 'Z') ? c + 32
						       : c);
	}
	one(x, v);
	if ((dot = strchr(name, '.')) != NULL) {
		v[0] = 'q';
		memcpy(v + 1, dot, strlen(dot) + 1);
		one(x, v);
	}
	free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_sni_idx *x = sl_sni_idx_new();
	size_t i = 0;

	CHECK(x != NULL);
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl != NULL ? (size_t)(nl - data) : size, n;
		char *s;

		/* up to a NUL: names hold none (OpenSSL refuses them) */
		for (n = i; n < end && data[n] != '\0'; n++)
			;
		if (n > i && (s = malloc(n - i + 1)) != NULL) {
			memcpy(s, data + i, n - i);
			s[n - i] = '\0';
			if (s[0] == '?' && nasked < MAXNAMES) {
				memmove(s, s + 1, n - i);
				asked[nasked++] = s;
			} else if (s[0] != '?' &&
				   nnames[(unsigned char)s[0] % NGROUPS] <
				       MAXNAMES) {
				unsigned g = (unsigned char)s[0] % NGROUPS;
				memmove(s, s + 1, n - i);
				names[g][nnames[g]++] = s;
			} else
				free(s);
		}
		i = end + 1;
	}
	for (uint32_t g = 0; g < NGROUPS; g++)
		for (size_t j = 0; j < nnames[g]; j++)
			CHECK(sl_sni_idx_add(x, names[g][j], g) == 0);
	for (size_t k = 0; k < nasked; k++)
		variants(x, asked[k]);
	for (uint32_t g = 0; g < NGROUPS; g++)
		for (size_t j = 0; j < nnames[g]; j++) {
			variants(x, names[g][j]);
			if (names[g][j][0] == '*')
				variants(x, names[g][j] + 1);
		}
	for (uint32_t g = 0; g < NGROUPS; g++) {
		for (size_t j = 0; j < nnames[g]; j++)
			free(names[g][j]);
		nnames[g] = 0;
	}
	for (size_t k = 0; k < nasked; k++)
		free(asked[k]);
	nasked = 0;
	sl_sni_idx_free(x);
	return 0;
}
