/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by every module: time, escaping, addresses, random numbers.
 * Performs no I/O except reading the kernel's random source when seeding.
 */
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

_Thread_local uint64_t sl_now_tl;

uint64_t
sl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

const char *
sl_ipv4_str(const unsigned char b[4], char *out)
{
	char *p = out;

	/* by hand: inet_ntop formats IPv4 with sprintf, and this runs for
	 * every request (X-Forwarded-For, the access log) */
	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
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
