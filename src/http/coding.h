/* SPDX-License-Identifier: MIT */
/*
 * Content codings (RFC 9110 section 8.4.1) and what a request's
 * Accept-Encoding asks for (RFC 9110 section 12.5.3): the codings sluice
 * can compress a response with, and the choice among those a route offers.
 * Pure: no I/O, no allocation, no state but the caller's
 * (doc/operations.md, "Compression").
 */
#ifndef SL_CODING_H
#define SL_CODING_H

#include <stddef.h>
#include <stdint.h>

/* The codings a response may be compressed with; identity is none. */
enum sl_coding {
	SL_CODING_IDENTITY = 0,
	SL_CODING_GZIP,
	SL_CODING_BR,
	SL_CODING_ZSTD,
	SL_CODING_N
};

/* The coding's name as Content-Encoding writes it ("gzip", "br", "zstd";
 * "identity"). */
const char *sl_coding_name(enum sl_coding c);

/* A coding by its name (case-insensitive, "x-gzip" is gzip): the coding,
 * or SL_CODING_N when it is none of sluice's. */
enum sl_coding sl_coding_by_name(const char *s, size_t len);

/*
 * What a request accepts: the weight (qvalue, in thousandths: 0..1000) of
 * each coding it names, and of "*", which stands for the codings it does
 * not name. SL_ACCENC_UNSET: not named. Zero it with sl_accenc_init, then
 * feed each Accept-Encoding field line in turn: a request may send the
 * field more than once (RFC 9110 section 5.3).
 */
#define SL_ACCENC_UNSET 0xffff
struct sl_accenc {
	uint16_t q[SL_CODING_N]; /* [SL_CODING_IDENTITY]: identity's */
	uint16_t star;
	uint16_t bad; /* members skipped as malformed */
};

void sl_accenc_init(struct sl_accenc *a);

/*
 * One Accept-Encoding field value: a comma-separated list of codings,
 * each with an optional ";q=" weight. A malformed member (a bad token, a
 * weight that is no qvalue, two weights, a quote) is counted in a->bad,
 * and the coding it names (if it names one) is refused (weight 0), never
 * left to "*"; the rest counts. A coding named twice keeps its first
 * weight.
 */
void sl_accenc_parse(struct sl_accenc *a, const char *v, size_t len);

/* The weight the request gives coding c: its own, else "*"'s, else 0. */
unsigned sl_accenc_weight(const struct sl_accenc *a, enum sl_coding c);

/*
 * The coding to answer with among offer[0..n) (the route's order of
 * preference): the one of the highest weight above 0, the earliest offered
 * on a tie; SL_CODING_IDENTITY when none is acceptable, or when the
 * request weighs identity itself higher than any of them.
 */
enum sl_coding sl_accenc_pick(const struct sl_accenc *a, const uint8_t *offer,
			      size_t n);

/*
 * Does a media type (a Content-Type value: parameters after ';' are not
 * looked at, case does not matter) match a pattern? A pattern is a type
 * ("application/json"), a type and a star for any subtype ("text/" and
 * '*'), or a type, a star and a structured syntax suffix ("application/",
 * '*', "+json"). 1 or 0.
 */
int sl_coding_type_match(const char *pattern, const char *v, size_t len);

#endif
