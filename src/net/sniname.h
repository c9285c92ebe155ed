/* SPDX-License-Identifier: MIT */
/*
 * The names of a TLS listener's certificate groups, indexed for SNI: an
 * exact name by its hash, a wildcard "*.suffix" by the hash of ".suffix",
 * so that choosing a group costs the same with 10 names or 10,000. Pure:
 * no OpenSSL, no I/O. Names compare as strcasecmp does in the C locale
 * (ASCII case folded, every other byte as is; a trailing dot is a byte
 * like any other). The linear walk it replaced stays here as the oracle
 * of the tests (tests/unit/test_sniname.c, tests/fuzz/fuzz_sni.c).
 */
#ifndef SL_SNINAME_H
#define SL_SNINAME_H

#include <stddef.h>
#include <stdint.h>

/* Owned by its builder (a listener's TLS server), freed with
 * sl_sni_idx_free; read-only once built, by any thread. */
struct sl_sni_idx;

struct sl_sni_idx *sl_sni_idx_new(void);
void sl_sni_idx_free(struct sl_sni_idx *x);

/*
 * Adds pattern (a certificate's DNS name: exact, or "*.suffix") as a name
 * of group g. Groups are added in order (g never smaller than the last
 * one added). Returns 0, or -1 when out of memory.
 */
int sl_sni_idx_add(struct sl_sni_idx *x, const char *pattern, uint32_t g);

/*
 * The group SNI name[0..len) chooses: the first group with name exactly,
 * else the first with a wildcard "*.S" where S is the name from its first
 * dot on (the name must not start with that dot). -1: none.
 */
long sl_sni_idx_find(const struct sl_sni_idx *x, const char *name, size_t len);

/* Whether group g has name[0..len) as one of its names or under one of
 * its wildcards. 1 or 0. */
int sl_sni_idx_covers(const struct sl_sni_idx *x, uint32_t g, const char *name,
		      size_t len);

/* ---- the walk, the oracle of the tests --------------------------------- */

/* 2: pattern is name (case folded), 1: pattern "*.S" covers name, 0. */
int sl_sni_name_matches(const char *pattern, const char *name);

/* The walk the index replaced: the first of ngroups groups (names[i],
 * nnames[i]) with name exactly, else the first with a wildcard; -1. */
long sl_sni_walk_find(char **const *names, const size_t *nnames, size_t ngroups,
		      const char *name);

#endif
