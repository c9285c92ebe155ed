/* SPDX-License-Identifier: MIT */
/*
 * Client addresses and address ranges: one compact form of an IP address
 * for everything that keys, matches or logs a client (sticky and hash
 * keys, allow and deny lists, trusted proxies, rate limits), and CIDR
 * ranges and lists of them. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * is kept as the IPv4 address it maps, so that one rule and one key cover
 * a client whichever way it arrives. Pure: no I/O, no allocation.
 */
#ifndef SL_CIDR_H
#define SL_CIDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* An IP address. */
struct sl_ip {
	uint8_t len;   /* 4 (IPv4), 16 (IPv6), 0 (none) */
	uint8_t a[16]; /* network order, the first len bytes */
};

/* The address of an AF_INET or AF_INET6 socket address (mapped IPv4
 * unmapped). Returns 0, or -1 (another family: ip->len is 0). AF_INET
 * inline (a request's client, each request). */
int sl_ip_from_sockaddr_other(const struct sockaddr *sa, struct sl_ip *ip);
static inline int
sl_ip_from_sockaddr(const struct sockaddr *sa, struct sl_ip *ip)
{
	if (sa->sa_family == AF_INET) {
		ip->len = 4;
		memcpy(ip->a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	return sl_ip_from_sockaddr_other(sa, ip);
}

/* The socket address of ip and port (an IPv4 ip gives AF_INET). */
void sl_ip_to_sockaddr(const struct sl_ip *ip, uint16_t port,
		       struct sockaddr_storage *ss, socklen_t *sslen);

/* Parses s[0..n): "192.0.2.1" or "2001:db8::1" (no brackets, no port,
 * no zone). Returns 0, or -1. */
int sl_ip_parse(const char *s, size_t n, struct sl_ip *ip);

/* "192.0.2.1" or "2001:db8::1" into out (46 bytes do). Returns out. */
const char *sl_ip_str(const struct sl_ip *ip, char *out, size_t outsz);

/* Whether a and b are the same address. */
int sl_ip_eq(const struct sl_ip *a, const struct sl_ip *b);

/* An address range: the addresses whose first bits bits are net's. */
struct sl_cidr {
	struct sl_ip net;
	uint8_t bits; /* 0..32 or 0..128 */
	/* the prefix as masks of the address's words, network order
	 * (made by sl_cidr_parse): a match is an AND and a compare */
	union {
		struct {
			uint32_t mask, net;
		} v4;
		struct {
			uint64_t mask[2], net[2];
		} v6;
	} w;
};

/*
 * Parses "10.0.0.0/8", "2001:db8::/32", or a single address ("192.0.2.7",
 * "::1": all its bits). A range whose address has bits set past the
 * prefix ("10.0.0.1/8") is refused: it is a typo more often than not.
 * "::ffff:10.0.0.0/104" is the IPv4 range 10.0.0.0/8. Returns 0, or -1
 * with the reason in why (whysz bytes).
 */
int sl_cidr_parse(const char *s, struct sl_cidr *c, char *why, size_t whysz);

/* "10.0.0.0/8" into out (50 bytes do). Returns out. */
const char *sl_cidr_str(const struct sl_cidr *c, char *out, size_t outsz);

/* Whether ip is in c (an IPv4 address is never in an IPv6 range). */
static inline int
sl_cidr_has(const struct sl_cidr *c, const struct sl_ip *ip)
{
	if (ip->len != c->net.len)
		return 0;
	if (ip->len == 4) {
		uint32_t a;
		memcpy(&a, ip->a, 4);
		return (a & c->w.v4.mask) == c->w.v4.net;
	}
	uint64_t a[2];
	memcpy(a, ip->a, 16);
	return (a[0] & c->w.v6.mask[0]) == c->w.v6.net[0] &&
	       (a[1] & c->w.v6.mask[1]) == c->w.v6.net[1];
}

/* A list of ranges, as written in the configuration (owned by it). */
struct sl_cidr_set {
	struct sl_cidr *v;
	size_t n;
};

/* The index of the first range of s that holds ip, or -1 (none, or s
 * empty). Checked in order: lists of a few hundred entries. */
int sl_cidr_set_find(const struct sl_cidr_set *s, const struct sl_ip *ip);

#endif
