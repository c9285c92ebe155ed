/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by every module: time, escaping, addresses, random numbers.
 * Performs no I/O except reading the kernel's random source when seeding.
 */
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

_Thread_local uint64_t sl_now_tl;
_Thread_local struct timespec sl_now_ts;

uint64_t
sl_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
sl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
sl_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
sl_now_read(void)
{
	clock_gettime(CLOCK_MONOTONIC, &sl_now_ts);
	return sl_now_tl = (uint64_t)sl_now_ts.tv_sec * 1000 +
			   (uint64_t)sl_now_ts.tv_nsec / 1000000;
}

char *
sl_escape(char *out, size_t outsz, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outsz == 0)
		return out;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)ch;
		} else {
			if (o + 4 >= outsz)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return out;
}

size_t
sl_json_escape(char *out, size_t outsz, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			if (o + 1 > outsz)
				break;
			out[o++] = (char)ch;
		} else if (ch == '"' || ch == '\\') {
			if (o + 2 > outsz)
				break;
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else {
			/* control and non-ASCII bytes: \u00HH keeps the
			 * line valid JSON whatever the client sent */
			if (o + 6 > outsz)
				break;
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[ch >> 4];
			out[o + 5] = hex[ch & 15];
			o += 6;
		}
	}
	return o;
}

/*
 * "N." of every byte value: its digits, then a dot, in 4 bytes copied at
 * once (the dot of the last byte becomes the NUL), and the length of
 * "N.". Made by the compiler.
 */
#define IP4_D(n)                                                               \
	{                                                                      \
		(char)((n) >= 100  ? '0' + (n) / 100                           \
		       : (n) >= 10 ? '0' + (n) / 10                            \
				   : '0' + (n)),                               \
		    (char)((n) >= 100  ? '0' + (n) / 10 % 10                   \
			   : (n) >= 10 ? '0' + (n) % 10                        \
				       : '.'),                                 \
		    (char)((n) >= 100  ? '0' + (n) % 10                        \
			   : (n) >= 10 ? '.'                                   \
				       : 0),                                   \
		    (char)((n) >= 100 ? '.' : 0)                               \
	}
#define IP4_L(n)    (2 + ((n) >= 10) + ((n) >= 100))
#define IP4_4(f, n) f(n), f(n + 1), f(n + 2), f(n + 3)
#define IP4_16(f, n)                                                           \
	IP4_4(f, n), IP4_4(f, n + 4), IP4_4(f, n + 8), IP4_4(f, n + 12)
#define IP4_64(f, n)                                                           \
	IP4_16(f, n), IP4_16(f, n + 16), IP4_16(f, n + 32), IP4_16(f, n + 48)
#define IP4_256(f) IP4_64(f, 0), IP4_64(f, 64), IP4_64(f, 128), IP4_64(f, 192)
static const char ip4_dec[256][4] = {IP4_256(IP4_D)};
static const unsigned char ip4_len[256] = {IP4_256(IP4_L)};

const char *
sl_ipv4_str(const unsigned char b[4], char *out)
{
	char *p = out;

	/* by hand: inet_ntop formats IPv4 with sprintf, and this runs for
	 * every request (X-Forwarded-For, the access log) */
	memcpy(p, ip4_dec[b[0]], 4);
	p += ip4_len[b[0]];
	memcpy(p, ip4_dec[b[1]], 4);
	p += ip4_len[b[1]];
	memcpy(p, ip4_dec[b[2]], 4);
	p += ip4_len[b[2]];
	memcpy(p, ip4_dec[b[3]], 4);
	p[ip4_len[b[3]] - 1] = '\0';
	return out;
}

const char *
sl_addr_ip(const struct sockaddr *sa, char *out, size_t outsz)
{
	const void *a;

	if (sa->sa_family == AF_INET && outsz >= INET_ADDRSTRLEN)
		return sl_ipv4_str(
		    (const unsigned char *)&((const struct sockaddr_in *)sa)
			->sin_addr,
		    out);
	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else {
		snprintf(out, outsz, "unix");
		return out;
	}
	if (inet_ntop(sa->sa_family, a, out, (socklen_t)outsz) == NULL)
		snprintf(out, outsz, "?");
	return out;
}

const char *
sl_addr_str(const struct sockaddr *sa, char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port = 0;

	sl_addr_ip(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET) {
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		snprintf(out, outsz, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		snprintf(out, outsz, "[%s]:%u", ip, port);
	} else
		snprintf(out, outsz, "%s", ip);
	return out;
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void
sl_rand_seed(struct sl_rand *r)
{
	if (getrandom(r->s, sizeof(r->s), 0) != (ssize_t)sizeof(r->s)) {
		/* no entropy source: time and address still differ */
		r->s[0] = sl_now_ms() ^ (uint64_t)(uintptr_t)r;
		r->s[1] = 0x9e3779b97f4a7c15ULL;
		r->s[2] = (uint64_t)time(NULL);
		r->s[3] = 0xbf58476d1ce4e5b9ULL;
	}
	if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
		r->s[0] = 1;
}

void
sl_request_id_format(uint64_t a, uint64_t b, char *out)
{
#ifdef __SSE2__
	/* nibble i of a (a >> 4i & 15) is out[i]: the low nibble of byte k
	 * goes to 2k, its high one to 2k + 1; '0' + v, plus 39 past 9 */
	const __m128i x = _mm_set_epi64x((long long)b, (long long)a);
	const __m128i m = _mm_set1_epi8(0x0f);
	__m128i lo = _mm_and_si128(x, m);
	__m128i hi = _mm_and_si128(_mm_srli_epi64(x, 4), m);
	__m128i va = _mm_unpacklo_epi8(lo, hi), vb = _mm_unpackhi_epi8(lo, hi);
	const __m128i nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0');
	const __m128i gap = _mm_set1_epi8('a' - '0' - 10);

	va = _mm_add_epi8(_mm_add_epi8(va, zero),
			  _mm_and_si128(_mm_cmpgt_epi8(va, nine), gap));
	vb = _mm_add_epi8(_mm_add_epi8(vb, zero),
			  _mm_and_si128(_mm_cmpgt_epi8(vb, nine), gap));
	_mm_storeu_si128((__m128i *)(void *)out, va);
	_mm_storeu_si128((__m128i *)(void *)(out + 16), vb);
#else
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[i] = hex[(a >> (i * 4)) & 15];
		out[16 + i] = hex[(b >> (i * 4)) & 15];
	}
#endif
	/* every 13 places in a row take in place 12 or 25: a letter there
	 * and no run is longer than 12 digits (a digit becomes one of the
	 * six letters: about 2.8 of the 128 bits are given up) */
	if (out[12] <= '9')
		out[12] = (char)('a' + (out[12] - '0') % 6);
	if (out[25] <= '9')
		out[25] = (char)('a' + (out[25] - '0') % 6);
	out[32] = '\0';
}

uint64_t
sl_rand_next(struct sl_rand *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* ---- strings to values (sl_strtab) ------------------------------------ */

static size_t
strtab_find(const struct sl_strtab *t, const char *key)
{
	size_t i = (size_t)sl_hash64(key, strlen(key)) & (t->cap - 1);

	while (t->e[i].key != NULL && strcmp(t->e[i].key, key) != 0)
		i = (i + 1) & (t->cap - 1);
	return i;
}

int
sl_strtab_put(struct sl_strtab *t, const char *key, size_t val, size_t *had)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap) {
		struct sl_strtab bigger = {NULL, t->cap ? t->cap * 2 : 16, 0};
		if ((bigger.e = calloc(bigger.cap, sizeof(*bigger.e))) == NULL)
			return -1;
		for (size_t j = 0; j < t->cap; j++)
			if (t->e[j].key != NULL)
				bigger.e[strtab_find(&bigger, t->e[j].key)] =
				    t->e[j];
		bigger.n = t->n;
		free(t->e);
		*t = bigger;
	}
	i = strtab_find(t, key);
	if (t->e[i].key != NULL) {
		if (had != NULL)
			*had = t->e[i].val;
		return 0;
	}
	t->e[i].key = key;
	t->e[i].val = val;
	t->n++;
	return 1;
}

int
sl_strtab_get(const struct sl_strtab *t, const char *key, size_t *val)
{
	size_t i;

	if (t->cap == 0)
		return 0;
	i = strtab_find(t, key);
	if (t->e[i].key == NULL)
		return 0;
	*val = t->e[i].val;
	return 1;
}

void
sl_strtab_free(struct sl_strtab *t)
{
	free(t->e);
	t->e = NULL;
	t->cap = 0;
	t->n = 0;
}
