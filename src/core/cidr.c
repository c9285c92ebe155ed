/* SPDX-License-Identifier: MIT */
/*
 * Client addresses and CIDR ranges (see cidr.h). inet_pton and inet_ntop
 * do the text forms; everything else is byte arithmetic.
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ip from 16 bytes of an IPv6 address, unmapping a mapped IPv4 one. */
static void
ip_from6(struct sl_ip *ip, const uint8_t a[16])
{
	if (memcmp(a, v4mapped, 12) == 0) {
		ip->len = 4;
		memcpy(ip->a, a + 12, 4);
	} else {
		ip->len = 16;
		memcpy(ip->a, a, 16);
	}
}

int
sl_ip_from_sockaddr_other(const struct sockaddr *sa, struct sl_ip *ip)
{
	if (sa->sa_family == AF_INET6) {
		ip_from6(ip,
			 ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
		return 0;
	}
	ip->len = 0;
	return -1;
}

void
sl_ip_to_sockaddr(const struct sl_ip *ip, uint16_t port,
		  struct sockaddr_storage *ss, socklen_t *sslen)
{
	memset(ss, 0, sizeof(*ss));
	if (ip->len == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip->a, 4);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, ip->a, 16);
		*sslen = sizeof(*sin6);
	}
}

int
sl_ip_parse(const char *s, size_t n, struct sl_ip *ip)
{
	char buf[64];
	uint8_t a[16];

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (memchr(buf, ':', n) == NULL) {
		if (inet_pton(AF_INET, buf, a) != 1)
			return -1;
		ip->len = 4;
		memcpy(ip->a, a, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, a) != 1)
		return -1;
	ip_from6(ip, a);
	return 0;
}

const char *
sl_ip_str(const struct sl_ip *ip, char *out, size_t outsz)
{
	if (ip->len == 4 && outsz >= 16)
		return sl_ipv4_str(ip->a, out);
	if (ip->len == 0 || inet_ntop(ip->len == 4 ? AF_INET : AF_INET6, ip->a,
				      out, (socklen_t)outsz) == NULL)
		snprintf(out, outsz, "-");
	return out;
}

int
sl_ip_eq(const struct sl_ip *a, const struct sl_ip *b)
{
	return a->len == b->len && memcmp(a->a, b->a, a->len) == 0;
}

/* c's words (struct sl_cidr w) from its net and bits. */
static void
cidr_words(struct sl_cidr *c)
{
	uint8_t m[16] = {0}, n[16] = {0};

	for (unsigned i = 0; i < c->bits; i++)
		m[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	for (unsigned i = 0; i < c->net.len; i++)
		n[i] = c->net.a[i] & m[i];
	if (c->net.len == 4) {
		memcpy(&c->w.v4.mask, m, 4);
		memcpy(&c->w.v4.net, n, 4);
	} else {
		memcpy(c->w.v6.mask, m, 16);
		memcpy(c->w.v6.net, n, 16);
	}
}

int
sl_cidr_parse(const char *s, struct sl_cidr *c, char *why, size_t whysz)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	uint8_t a[16];
	char buf[64];
	unsigned long bits, max;
	char *end;
	int v6;

	if (alen == 0 || alen >= sizeof(buf)) {
		snprintf(why, whysz, "not an address or a range");
		return -1;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	v6 = memchr(buf, ':', alen) != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, a) != 1) {
		snprintf(why, whysz, "not an IPv4 or IPv6 address");
		return -1;
	}
	max = v6 ? 128 : 32;
	bits = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9') {
			snprintf(why, whysz,
				 "the prefix length is not a number");
			return -1;
		}
		bits = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || bits > max || end - (slash + 1) > 3) {
			snprintf(why, whysz, "the prefix length must be 0..%lu",
				 max);
			return -1;
		}
	}
	if (v6 && memcmp(a, v4mapped, 12) == 0 && bits >= 96) {
		/* the IPv4 range it maps */
		c->net.len = 4;
		memcpy(c->net.a, a + 12, 4);
		bits -= 96;
		max = 32;
	} else {
		c->net.len = v6 ? 16 : 4;
		memcpy(c->net.a, a, c->net.len);
	}
	c->bits = (uint8_t)bits;
	/* the bits past the prefix must be zero */
	for (unsigned i = (unsigned)bits; i < max; i++)
		if (c->net.a[i / 8] & (0x80 >> (i % 8))) {
			struct sl_cidr z = *c;
			char fix[50];
			for (unsigned j = (unsigned)bits; j < max; j++)
				z.net.a[j / 8] &= (uint8_t) ~(0x80 >> (j % 8));
			snprintf(why, whysz,
				 "the address has bits set past /%lu (did you "
				 "mean %s?)",
				 v6 && c->net.len == 4 ? bits + 96 : bits,
				 sl_cidr_str(&z, fix, sizeof(fix)));
			return -1;
		}
	cidr_words(c);
	return 0;
}

const char *
sl_cidr_str(const struct sl_cidr *c, char *out, size_t outsz)
{
	char ip[46];

	snprintf(out, outsz, "%s/%u", sl_ip_str(&c->net, ip, sizeof(ip)),
		 c->bits);
	return out;
}

int
sl_cidr_set_find(const struct sl_cidr_set *s, const struct sl_ip *ip)
{
	for (size_t i = 0; i < s->n; i++)
		if (sl_cidr_has(&s->v[i], ip))
			return (int)i;
	return -1;
}
