/* SPDX-License-Identifier: MIT */
/* Unit tests for cidr.c: client addresses, ranges and lists of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "cidr.h"

static struct sl_ip
ip(const char *s)
{
	struct sl_ip a;

	assert_int_equal(sl_ip_parse(s, strlen(s), &a), 0);
	return a;
}

static struct sl_cidr
cidr(const char *s)
{
	struct sl_cidr c;
	char why[128];

	assert_int_equal(sl_cidr_parse(s, &c, why, sizeof(why)), 0);
	return c;
}

static const char *
refused(const char *s)
{
	static char why[128];
	struct sl_cidr c;

	assert_int_equal(sl_cidr_parse(s, &c, why, sizeof(why)), -1);
	return why;
}

static void
test_addresses(void **state)
{
	struct sl_ip a;
	char out[64];

	(void)state;
	a = ip("192.0.2.1");
	assert_int_equal(a.len, 4);
	assert_string_equal(sl_ip_str(&a, out, sizeof(out)), "192.0.2.1");
	/* IPv4 is formatted by hand (sl_ipv4_str): every digit count */
	a = ip("0.0.0.0");
	assert_string_equal(sl_ip_str(&a, out, sizeof(out)), "0.0.0.0");
	a = ip("255.255.255.255");
	assert_string_equal(sl_ip_str(&a, out, sizeof(out)), "255.255.255.255");
	a = ip("10.99.100.9");
	assert_string_equal(sl_ip_str(&a, out, sizeof(out)), "10.99.100.9");
	a = ip("2001:db8::1");
	assert_int_equal(a.len, 16);
	assert_string_equal(sl_ip_str(&a, out, sizeof(out)), "2001:db8::1");
	/* a mapped IPv4 address is the IPv4 address */
	a = ip("::ffff:192.0.2.1");
	assert_int_equal(a.len, 4);
	assert_true(sl_ip_eq(&a, &(struct sl_ip){4, {192, 0, 2, 1}}));
	assert_int_equal(sl_ip_parse("192.0.2.1:80", 12, &a), -1);
	assert_int_equal(sl_ip_parse("[::1]", 5, &a), -1);
	assert_int_equal(sl_ip_parse("", 0, &a), -1);
	assert_int_equal(sl_ip_parse("example.com", 11, &a), -1);
	assert_int_equal(sl_ip_parse("1.2.3", 5, &a), -1);
}

static void
test_sockaddr(void **state)
{
	struct sockaddr_in6 s6;
	struct sockaddr_storage ss;
	socklen_t len;
	struct sl_ip a;

	(void)state;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
	assert_int_equal(sl_ip_from_sockaddr((struct sockaddr *)&s6, &a), 0);
	assert_true(sl_ip_eq(&a, &(struct sl_ip){4, {10, 1, 2, 3}}));
	sl_ip_to_sockaddr(&a, 8080, &ss, &len);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8080);
	ss.ss_family = AF_UNIX;
	assert_int_equal(sl_ip_from_sockaddr((struct sockaddr *)&ss, &a), -1);
	assert_int_equal(a.len, 0);
}

static void
test_ranges(void **state)
{
	struct sl_cidr c;
	struct sl_ip a;
	char out[64];

	(void)state;
	c = cidr("10.0.0.0/8");
	assert_true(sl_cidr_has(&c, &(struct sl_ip){4, {10, 255, 0, 1}}));
	assert_false(sl_cidr_has(&c, &(struct sl_ip){4, {11, 0, 0, 1}}));
	/* through its mapped IPv6 form too */
	a = ip("::ffff:10.9.9.9");
	assert_true(sl_cidr_has(&c, &a));
	assert_string_equal(sl_cidr_str(&c, out, sizeof(out)), "10.0.0.0/8");
	/* odd prefixes */
	c = cidr("192.168.4.0/22");
	assert_true(sl_cidr_has(&c, &(struct sl_ip){4, {192, 168, 7, 255}}));
	assert_false(sl_cidr_has(&c, &(struct sl_ip){4, {192, 168, 8, 0}}));
	/* a single address */
	c = cidr("192.0.2.7");
	assert_int_equal(c.bits, 32);
	assert_true(sl_cidr_has(&c, &(struct sl_ip){4, {192, 0, 2, 7}}));
	assert_false(sl_cidr_has(&c, &(struct sl_ip){4, {192, 0, 2, 8}}));
	/* everything, of one family */
	c = cidr("0.0.0.0/0");
	assert_true(sl_cidr_has(&c, &(struct sl_ip){4, {1, 2, 3, 4}}));
	assert_false(sl_cidr_has(&c, &(struct sl_ip){16, {0x20, 1}}));
	c = cidr("2001:db8::/32");
	a = ip("2001:db8:ffff::1");
	assert_true(sl_cidr_has(&c, &a));
	a = ip("2001:db9::1");
	assert_false(sl_cidr_has(&c, &a));
	c = cidr("::1");
	a = ip("::1");
	assert_true(sl_cidr_has(&c, &a));
	/* a mapped range is the IPv4 range */
	c = cidr("::ffff:10.0.0.0/104");
	assert_int_equal(c.net.len, 4);
	assert_int_equal(c.bits, 8);
}

static void
test_refused(void **state)
{
	(void)state;
	assert_string_equal(refused("10.0.0.1/8"),
			    "the address has bits set past /8 (did you mean "
			    "10.0.0.0/8?)");
	assert_string_equal(refused("10.0.0.0/33"),
			    "the prefix length must be 0..32");
	assert_string_equal(refused("::/129"),
			    "the prefix length must be 0..128");
	assert_string_equal(refused("10.0.0.0/"),
			    "the prefix length is not a number");
	assert_string_equal(refused("10.0.0.0/-1"),
			    "the prefix length is not a number");
	assert_string_equal(refused("10.0.0.0/8x"),
			    "the prefix length must be 0..32");
	assert_string_equal(refused("example.com/8"),
			    "not an IPv4 or IPv6 address");
	assert_string_equal(refused(""), "not an address or a range");
	assert_string_equal(refused("/8"), "not an address or a range");
}

/* The bit the naive way: address bit i of a (network order). */
static int
bit_of(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* sl_cidr_has (masks made at parse) against a bit-by-bit comparison, for
 * every prefix length of both families, on addresses that differ from
 * the range's at each bit in turn. */
static void
test_has_every_prefix_length(void **state)
{
	static const char *const bases[] = {"203.0.113.77",
					    "2001:db8:85a3::8a2e:370:7334"};
	(void)state;
	for (int f = 0; f < 2; f++) {
		unsigned max = f == 0 ? 32 : 128;
		for (unsigned bits = 0; bits <= max; bits++) {
			struct sl_ip base;
			struct sl_cidr c;
			char text[80], why[128], net[64];
			assert_int_equal(inet_pton(f == 0 ? AF_INET : AF_INET6,
						   bases[f], base.a),
					 1);
			base.len = (uint8_t)(max / 8);
			/* the range: base with the bits past the prefix
			 * cleared */
			struct sl_ip n = base;
			for (unsigned i = bits; i < max; i++)
				n.a[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
			snprintf(text, sizeof(text), "%s/%u",
				 sl_ip_str(&n, net, sizeof(net)), bits);
			assert_int_equal(
			    sl_cidr_parse(text, &c, why, sizeof(why)), 0);
			for (unsigned flip = 0; flip <= max; flip++) {
				struct sl_ip a = base;
				int want = 1;
				if (flip < max)
					a.a[flip / 8] ^=
					    (uint8_t)(0x80 >> (flip % 8));
				for (unsigned i = 0; i < bits; i++)
					if (bit_of(a.a, i) != bit_of(n.a, i))
						want = 0;
				assert_int_equal(sl_cidr_has(&c, &a), want);
			}
		}
	}
}

static void
test_sets(void **state)
{
	struct sl_cidr v[3];
	struct sl_cidr_set s = {v, 3};
	struct sl_ip a;

	(void)state;
	v[0] = cidr("10.0.0.0/8");
	v[1] = cidr("192.0.2.0/24");
	v[2] = cidr("2001:db8::/32");
	assert_int_equal(
	    sl_cidr_set_find(&s, &(struct sl_ip){4, {192, 0, 2, 9}}), 1);
	a = ip("2001:db8::5");
	assert_int_equal(sl_cidr_set_find(&s, &a), 2);
	assert_int_equal(sl_cidr_set_find(&s, &(struct sl_ip){4, {8, 8, 8, 8}}),
			 -1);
	s.n = 0;
	assert_int_equal(sl_cidr_set_find(&s, &a), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_sockaddr),
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_sets),
	    cmocka_unit_test(test_has_every_prefix_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
