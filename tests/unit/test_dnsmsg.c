/* SPDX-License-Identifier: MIT */
/* Unit tests for dnsmsg.c: host names, the bytes of a query, and the
 * parse of answers built here byte by byte, good and hostile. */
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dnsmsg.h"

#define ID 0x1234
#define QR 0x8000
#define TC 0x0200
#define RD 0x0100
#define RA 0x0080
/* an ordinary recursive answer */
#define OK  (QR | RD | RA)
#define TXT 16

enum { AN, NS, AR };

/* An answer under construction: bytes, and the section whose count the
 * next record adds to. */
struct msg {
	uint8_t b[65536];
	size_t n;
	int sec;
};

static struct msg m;
static struct sl_dns_answer ans;

static void
u8(unsigned v)
{
	assert_true(m.n < sizeof(m.b));
	m.b[m.n++] = (uint8_t)v;
}

static void
u16(unsigned v)
{
	u8(v >> 8);
	u8(v & 0xff);
}

static void
u32(uint32_t v)
{
	u16(v >> 16);
	u16(v & 0xffff);
}

static void
raw(const void *p, size_t n)
{
	assert_true(m.n + n <= sizeof(m.b));
	memcpy(m.b + m.n, p, n);
	m.n += n;
}

/* The labels of s (dotted text, as written: no check), without the final
 * zero; returns where they start. */
static size_t
labels(const char *s)
{
	size_t at = m.n;

	while (*s != '\0') {
		size_t l = strcspn(s, ".");
		u8((unsigned)l);
		raw(s, l);
		s += l;
		if (*s == '.')
			s++;
	}
	return at;
}

/* A whole name, uncompressed ("" or "." is the root); returns where it
 * starts. */
static size_t
name(const char *s)
{
	size_t at = labels(strcmp(s, ".") == 0 ? "" : s);

	u8(0);
	return at;
}

/* The labels of s, then a pointer to off. */
static size_t
name_ptr(const char *s, size_t off)
{
	size_t at = labels(s);

	u16(0xc000 | (unsigned)off);
	return at;
}

static void
start_id(uint16_t id, unsigned flags, const char *qname, uint16_t qtype)
{
	m.n = 0;
	m.sec = AN;
	u16(id);
	u16(flags);
	u16(1);
	u16(0);
	u16(0);
	u16(0);
	name(qname);
	u16(qtype);
	u16(1);
}

/* The header and question of an answer to ID, qname, qtype; the question
 * ends at offset 12 + the name's length + 4. */
static void
start(unsigned flags, const char *qname, uint16_t qtype)
{
	start_id(ID, flags, qname, qtype);
}

/* After the owner: type, class, TTL and a place for rdlen, which
 * rr_end fills in. */
static size_t
rr_begin(uint16_t type, uint16_t class, uint32_t ttl)
{
	u16(type);
	u16(class);
	u32(ttl);
	u16(0);
	return m.n;
}

static void
rr_end(size_t rdstart)
{
	size_t rdlen = m.n - rdstart, at = 6 + 2 * (size_t)m.sec;
	unsigned count = (unsigned)(m.b[at] << 8 | m.b[at + 1]) + 1;

	m.b[rdstart - 2] = (uint8_t)(rdlen >> 8);
	m.b[rdstart - 1] = (uint8_t)rdlen;
	m.b[at] = (uint8_t)(count >> 8);
	m.b[at + 1] = (uint8_t)count;
}

static void
rr_a(const char *owner, uint32_t ttl, unsigned a, unsigned b, unsigned c,
     unsigned d)
{
	size_t r;

	name(owner);
	r = rr_begin(SL_DNS_A, 1, ttl);
	u8(a);
	u8(b);
	u8(c);
	u8(d);
	rr_end(r);
}

static void
rr_aaaa(const char *owner, uint32_t ttl, unsigned last)
{
	static const uint8_t pfx[15] = {0x20, 0x01, 0x0d, 0xb8};
	size_t r;

	name(owner);
	r = rr_begin(SL_DNS_AAAA, 1, ttl);
	raw(pfx, sizeof(pfx));
	u8(last);
	rr_end(r);
}

static void
rr_cname(const char *owner, const char *target)
{
	size_t r;

	name(owner);
	r = rr_begin(SL_DNS_CNAME, 1, 300);
	name(target);
	rr_end(r);
}

static void
rr_srv(const char *owner, unsigned prio, unsigned weight, unsigned port,
       const char *target)
{
	size_t r;

	name(owner);
	r = rr_begin(SL_DNS_SRV, 1, 60);
	u16(prio);
	u16(weight);
	u16(port);
	name(target);
	rr_end(r);
}

static void
rr_soa(const char *owner, uint32_t ttl, uint32_t minimum)
{
	size_t r;

	name(owner);
	r = rr_begin(SL_DNS_SOA, 1, ttl);
	name("ns1.example.com");
	name("hostmaster.example.com");
	u32(2024010101);
	u32(7200);
	u32(900);
	u32(1209600);
	u32(minimum);
	rr_end(r);
}

/* Sets the header's count of section s. */
static void
set_count(int s, unsigned n)
{
	m.b[6 + 2 * s] = (uint8_t)(n >> 8);
	m.b[7 + 2 * s] = (uint8_t)n;
}

/* Parses the first len bytes of m from a heap copy of exactly that many
 * bytes, so that ASan sees a read past them; twice, to see the same. */
static int
parse_n(size_t len, const char *qname, uint16_t qtype)
{
	uint8_t *p = malloc(len ? len : 1);
	int r, r2;

	assert_non_null(p);
	memcpy(p, m.b, len);
	r = sl_dnsmsg_parse(p, len, ID, qname, qtype, &ans);
	r2 = sl_dnsmsg_parse(p, len, ID, qname, qtype, &ans);
	assert_int_equal(r, r2);
	free(p);
	if (r != 0) {
		assert_int_equal(ans.naddrs, 0);
		assert_int_equal(ans.nsrvs, 0);
		assert_int_equal(ans.nglue, 0);
	}
	return r;
}

static int
parse(const char *qname, uint16_t qtype)
{
	return parse_n(m.n, qname, qtype);
}

static void
assert_v4(const struct sl_dns_addr *a, unsigned last, uint32_t ttl)
{
	/* the rest zero, whatever the slot held before */
	const uint8_t want[16] = {192, 0, 2, (uint8_t)last};

	assert_int_equal(a->family, AF_INET);
	assert_memory_equal(a->addr, want, 16);
	assert_int_equal(a->ttl, ttl);
}

static void
assert_v6(const struct sl_dns_addr *a, unsigned last, uint32_t ttl)
{
	uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8};

	want[15] = (uint8_t)last;
	assert_int_equal(a->family, AF_INET6);
	assert_memory_equal(a->addr, want, 16);
	assert_int_equal(a->ttl, ttl);
}

/* A name of n characters: labels of 63 set off by dots, the last one
 * shorter, all letters. */
static char *
long_name(char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (i + 1) % 64 == 0 ? '.' : (char)('a' + i % 26);
	buf[n] = '\0';
	return buf;
}

static void
test_name_ok(void **state)
{
	static const char *good[] = {
	    "example.com",   "example.com.", "a",
	    "A-b_c.EXAMPLE", "1a.2",	     "_http._tcp.example.com",
	    "1.2.3.a",	     "x1",	     "0-0",
	    "localhost",
	};
	static const char *bad[] = {
	    "",		".",	 "..",	      "a..b",	".a",
	    "a.b..",	"a b",	 "a/b",	      "a.b:80", "1.2.3.4",
	    "1.2.3.4.", "12345", "a\xc3\xa9", "a*",	"*.example",
	};
	char buf[300], lab[70];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(sl_dnsmsg_name_ok(good[i]), 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(sl_dnsmsg_name_ok(bad[i]), 0);
	assert_int_equal(sl_dnsmsg_name_ok(NULL), 0);
	/* labels of 63 and 64 */
	memset(lab, 'x', 64);
	lab[63] = '\0';
	assert_int_equal(sl_dnsmsg_name_ok(lab), 1);
	lab[63] = 'x';
	lab[64] = '\0';
	assert_int_equal(sl_dnsmsg_name_ok(lab), 0);
	/* 253 characters, with and without a final dot; 254 */
	long_name(buf, 253);
	assert_int_equal(sl_dnsmsg_name_ok(buf), 1);
	strcat(buf, ".");
	assert_int_equal(sl_dnsmsg_name_ok(buf), 1);
	long_name(buf, 254);
	assert_int_equal(sl_dnsmsg_name_ok(buf), 0);
	strcat(buf, ".");
	assert_int_equal(sl_dnsmsg_name_ok(buf), 0);
	/* far longer: read no further than needed */
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(sl_dnsmsg_name_ok(buf), 0);
}

static void
test_query(void **state)
{
	static const uint8_t want[] = {
	    0xbe,
	    0xef,
	    0x01,
	    0x00,
	    0x00,
	    0x01,
	    0x00,
	    0x00,
	    0x00,
	    0x00,
	    0x00,
	    0x01,
	    3,
	    'w',
	    'w',
	    'w',
	    7,
	    'E',
	    'x',
	    'a',
	    'm',
	    'p',
	    'l',
	    'e',
	    3,
	    'c',
	    'o',
	    'm',
	    0,
	    0x00,
	    0x01,
	    0x00,
	    0x01,
	    /* OPT */
	    0x00,
	    0x00,
	    0x29,
	    0x04,
	    0xd0,
	    0x00,
	    0x00,
	    0x00,
	    0x00,
	    0x00,
	    0x00,
	};
	static const uint8_t srv[] = {
	    0x00, 0x07, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 5,    '_',  'h',  't',	't',  'p',  4,	  '_',
	    't',  'c',	'p',  1,    'x',  0,	0x00, 0x21, 0x00, 0x01,
	};
	uint8_t b[SL_DNS_QUERY_MAX];

	(void)state;
	assert_int_equal(sl_dnsmsg_query(b, sizeof(b), 0xbeef,
					 "www.Example.com", SL_DNS_A, 1232),
			 sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	/* a final dot changes nothing */
	assert_int_equal(sl_dnsmsg_query(b, sizeof(b), 0xbeef,
					 "www.Example.com.", SL_DNS_A, 1232),
			 sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	/* no OPT record */
	assert_int_equal(
	    sl_dnsmsg_query(b, sizeof(b), 7, "_http._tcp.x", SL_DNS_SRV, 0),
	    sizeof(srv));
	assert_memory_equal(b, srv, sizeof(srv));
}

static void
test_query_limits(void **state)
{
	uint8_t b[SL_DNS_QUERY_MAX];
	char n253[300];
	int len;

	(void)state;
	/* every buffer short by a byte or more */
	for (size_t cap = 0; cap < 44; cap++)
		assert_int_equal(sl_dnsmsg_query(b, cap, 1, "www.example.com",
						 SL_DNS_A, 1232),
				 -1);
	assert_int_equal(
	    sl_dnsmsg_query(b, 44, 1, "www.example.com", SL_DNS_A, 1232), 44);
	assert_int_equal(
	    sl_dnsmsg_query(NULL, 0, 1, "www.example.com", SL_DNS_A, 0), -1);
	assert_int_equal(
	    sl_dnsmsg_query(b, sizeof(b), 1, "1.2.3.4", SL_DNS_A, 0), -1);
	assert_int_equal(sl_dnsmsg_query(b, sizeof(b), 1, "a..b", SL_DNS_A, 0),
			 -1);
	/* the longest name: 255 bytes on the wire, within the bound */
	len = sl_dnsmsg_query(b, sizeof(b), 1, long_name(n253, 253),
			      SL_DNS_AAAA, 4096);
	assert_int_equal(len, 12 + 255 + 4 + 11);
	assert_true(len <= SL_DNS_QUERY_MAX);
	assert_int_equal(b[12], 63);
	assert_int_equal(b[12 + 254], 0);
	assert_int_equal(sl_dnsmsg_query(b, sizeof(b), 1, long_name(n253, 254),
					 SL_DNS_AAAA, 4096),
			 -1);
}

/* A query is no answer; with QR set, it is one with no records. */
static void
test_query_parses_back(void **state)
{
	uint8_t b[SL_DNS_QUERY_MAX];
	int len;

	(void)state;
	len =
	    sl_dnsmsg_query(b, sizeof(b), ID, "Host.Example", SL_DNS_SRV, 1232);
	assert_true(len > 0);
	assert_int_equal(sl_dnsmsg_parse(b, (size_t)len, ID, "host.example",
					 SL_DNS_SRV, &ans),
			 -1);
	b[2] |= 0x80;
	assert_int_equal(sl_dnsmsg_parse(b, (size_t)len, ID, "host.example.",
					 SL_DNS_SRV, &ans),
			 0);
	assert_int_equal(ans.rcode, SL_DNS_NOERROR);
	assert_int_equal(ans.nsrvs, 0);
	assert_int_equal(ans.negative_ttl, 0);
}

static void
test_a(void **state)
{
	(void)state;
	start(OK, "www.example.com", SL_DNS_A);
	rr_a("www.example.com", 300, 192, 0, 2, 1);
	rr_a("www.example.com", 200, 192, 0, 2, 2);
	m.sec = AR;
	name(".");
	rr_end(rr_begin(SL_DNS_OPT, 1232, 0));
	assert_int_equal(parse("www.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.rcode, SL_DNS_NOERROR);
	assert_int_equal(ans.truncated, 0);
	assert_int_equal(ans.negative_ttl, 0);
	assert_int_equal(ans.naddrs, 2);
	assert_v4(&ans.addrs[0], 1, 300);
	assert_v4(&ans.addrs[1], 2, 200);
	assert_int_equal(ans.nsrvs, 0);
	assert_int_equal(ans.nglue, 0);
	assert_int_equal(ans.dropped, 0);
	/* bytes after the last record are not looked at */
	u32(0xdeadbeef);
	assert_int_equal(parse("www.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 2);
}

static void
test_aaaa(void **state)
{
	(void)state;
	start(OK, "v6.example", SL_DNS_AAAA);
	rr_aaaa("v6.example", 60, 1);
	/* the other family, and the asked type under another owner */
	rr_a("v6.example", 60, 192, 0, 2, 9);
	rr_aaaa("other.example", 60, 9);
	rr_aaaa("v6.example", 0x7fffffff, 2);
	assert_int_equal(parse("v6.example", SL_DNS_AAAA), 0);
	assert_int_equal(ans.naddrs, 2);
	assert_v6(&ans.addrs[0], 1, 60);
	assert_v6(&ans.addrs[1], 2, 0x7fffffff);
	/* the same answer asked for A: the question differs */
	assert_int_equal(parse("v6.example", SL_DNS_A), -1);
}

/* Records of other classes and types are stepped over, whatever their
 * rdata: only class IN's forms are known. */
static void
test_other_records(void **state)
{
	size_t r;

	(void)state;
	start(OK, "www.example.com", SL_DNS_A);
	name("www.example.com");
	r = rr_begin(SL_DNS_A, 3 /* CH */, 60);
	raw("\1\2\3\4\5", 5);
	rr_end(r);
	name("www.example.com");
	r = rr_begin(16 /* TXT */, 1, 60);
	raw("\3abc", 4);
	rr_end(r);
	name("www.example.com");
	r = rr_begin(SL_DNS_CNAME, 3, 60);
	raw("\xff", 1);
	rr_end(r);
	rr_a("www.example.com", 5, 192, 0, 2, 7);
	assert_int_equal(parse("www.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 1);
	assert_v4(&ans.addrs[0], 7, 5);
	/* a question of another type keeps nothing */
	start(OK, "www.example.com", 16);
	rr_a("www.example.com", 5, 192, 0, 2, 7);
	assert_int_equal(parse("www.example.com", 16), 0);
	assert_int_equal(ans.naddrs, 0);
	assert_int_equal(ans.nsrvs, 0);
}

static void
test_cname_chain(void **state)
{
	(void)state;
	start(OK, "www.example.com", SL_DNS_A);
	rr_cname("www.example.com", "lb.example.net");
	rr_cname("lb.example.net", "edge.cdn.example");
	rr_a("edge.cdn.example", 20, 192, 0, 2, 1);
	rr_a("edge.cdn.example", 20, 192, 0, 2, 2);
	/* not on the chain */
	rr_a("elsewhere.example", 20, 192, 0, 2, 3);
	assert_int_equal(parse("www.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 2);
	assert_v4(&ans.addrs[0], 1, 20);
	assert_v4(&ans.addrs[1], 2, 20);
	/* asked for the middle of the chain */
	start(OK, "lb.example.net", SL_DNS_A);
	rr_cname("www.example.com", "lb.example.net");
	rr_cname("lb.example.net", "edge.cdn.example");
	rr_a("edge.cdn.example", 20, 192, 0, 2, 1);
	rr_a("www.example.com", 20, 192, 0, 2, 4);
	assert_int_equal(parse("lb.example.net", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 1);
	assert_v4(&ans.addrs[0], 1, 20);
}

static void
test_cname_out_of_order(void **state)
{
	(void)state;
	start(OK, "www.example.com", SL_DNS_AAAA);
	rr_aaaa("c.example", 30, 3);
	rr_cname("b.example", "c.example");
	rr_aaaa("b.example", 30, 2);
	rr_cname("www.example.com", "b.example");
	assert_int_equal(parse("www.example.com", SL_DNS_AAAA), 0);
	assert_int_equal(ans.naddrs, 2);
	assert_v6(&ans.addrs[0], 3, 30);
	assert_v6(&ans.addrs[1], 2, 30);
}

static void
test_cname_loop(void **state)
{
	(void)state;
	start(OK, "a.example", SL_DNS_A);
	rr_cname("a.example", "b.example");
	rr_cname("b.example", "a.example");
	rr_a("b.example", 10, 192, 0, 2, 2);
	assert_int_equal(parse("a.example", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 1);
	assert_v4(&ans.addrs[0], 2, 10);
	/* a name that is its own alias */
	start(OK, "a.example", SL_DNS_A);
	rr_cname("a.example", "a.example");
	assert_int_equal(parse("a.example", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 0);
}

/* SL_DNS_MAX_CNAMES are followed from the asked name, no more. */
static void
test_cname_limit(void **state)
{
	char o[32], t[32];
	int i;

	(void)state;
	start(OK, "c0.example", SL_DNS_A);
	for (i = 0; i < SL_DNS_MAX_CNAMES + 2; i++) {
		snprintf(o, sizeof(o), "c%d.example", i);
		snprintf(t, sizeof(t), "c%d.example", i + 1);
		rr_cname(o, t);
	}
	snprintf(o, sizeof(o), "c%d.example", SL_DNS_MAX_CNAMES);
	rr_a(o, 1, 192, 0, 2, 1);
	snprintf(o, sizeof(o), "c%d.example", SL_DNS_MAX_CNAMES + 1);
	rr_a(o, 1, 192, 0, 2, 2);
	assert_int_equal(parse("c0.example", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 1);
	assert_v4(&ans.addrs[0], 1, 1);
}

static void
test_compression(void **state)
{
	size_t q = 12, r, mid;

	(void)state;
	/* owners pointing at the question, at a suffix of it, and at a
	 * name that itself points further back */
	start(OK, "www.Example.com", SL_DNS_A);
	name_ptr("", q);
	r = rr_begin(SL_DNS_A, 1, 7);
	raw("\xc0\x00\x02\x01", 4);
	rr_end(r);
	mid = name_ptr("lb", q + 4);
	r = rr_begin(SL_DNS_CNAME, 1, 7);
	name_ptr("x", mid); /* x.lb.example.com */
	rr_end(r);
	rr_cname("x.lb.example.com", "y.lb.example.com");
	/* www.example.com's CNAME is x.lb: www points to it */
	name_ptr("", q);
	r = rr_begin(SL_DNS_CNAME, 1, 7);
	name_ptr("x", mid);
	rr_end(r);
	name_ptr("y", mid);
	r = rr_begin(SL_DNS_A, 1, 7);
	raw("\xc0\x00\x02\x02", 4);
	rr_end(r);
	assert_int_equal(parse("WWW.example.COM", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 2);
	assert_v4(&ans.addrs[0], 1, 7);
	assert_v4(&ans.addrs[1], 2, 7);
}

/* Pointers that do not go further back than the labels they end. */
static void
test_compression_bad(void **state)
{
	size_t q = 12, at, r, end;

	(void)state;
	/* forward: to the record's own rdata */
	start(OK, "www.example.com", SL_DNS_A);
	at = m.n;
	u16(0xc000 | (unsigned)(at + 12));
	r = rr_begin(TXT, 1, 7);
	raw("\3www\0", 5);
	rr_end(r);
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	/* to itself */
	start(OK, "www.example.com", SL_DNS_A);
	at = m.n;
	u16(0xc000 | (unsigned)at);
	rr_end(rr_begin(TXT, 1, 7));
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	/* a loop through a label: "a", then a pointer back to the "a",
	 * before the pointer but not before the labels it ends */
	start(OK, "www.example.com", SL_DNS_A);
	at = m.n;
	u8(1);
	u8('a');
	u16(0xc000 | (unsigned)at);
	rr_end(rr_begin(TXT, 1, 7));
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	/* the same a jump later: "b" pointing to an "a" that points back
	 * to itself */
	start(OK, "www.example.com", SL_DNS_A);
	name("t.example");
	r = rr_begin(TXT, 1, 7);
	at = m.n;
	u8(1);
	u8('a');
	u16(0xc000 | (unsigned)at);
	rr_end(r);
	name_ptr("b", at);
	rr_end(rr_begin(TXT, 1, 7));
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	/* two owners pointing at each other: the first is forward */
	start(OK, "www.example.com", SL_DNS_A);
	at = m.n;
	u16(0xc000 | (unsigned)(at + 2 + 10));
	rr_end(rr_begin(TXT, 1, 7));
	u16(0xc000 | (unsigned)at);
	rr_end(rr_begin(TXT, 1, 7));
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	/* past the end of the message */
	start(OK, "www.example.com", SL_DNS_A);
	u16(0xc000 | 0x3fff);
	rr_end(rr_begin(TXT, 1, 7));
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	/* a CNAME's target, forward to the next record's owner */
	start(OK, "www.example.com", SL_DNS_A);
	name_ptr("", q);
	r = rr_begin(SL_DNS_CNAME, 1, 7);
	u16(0xc000 | (unsigned)(m.n + 2));
	rr_end(r);
	name("z.example");
	rr_end(rr_begin(TXT, 1, 1));
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	/* label types 0x40 and 0x80 */
	start(OK, "www.example.com", SL_DNS_A);
	u8(0x41);
	u8('x');
	u8(0);
	rr_end(rr_begin(TXT, 1, 1));
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	m.b[m.n - 13] = 0x81;
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	m.b[m.n - 13] = 0x01;
	assert_int_equal(parse("www.example.com", SL_DNS_A), 0);
	/* after a jump, labels that run past the message: the last
	 * record's owner points at a length byte ending its rdata; in a
	 * truncated answer, the record may be one the cut spoilt: it ends
	 * the parse */
	start(OK, "www.example.com", SL_DNS_A);
	name("t.example");
	r = rr_begin(TXT, 1, 1);
	u8(40);
	rr_end(r);
	end = m.n;
	u16(0xc000 | (unsigned)(end - 1));
	rr_end(rr_begin(TXT, 1, 1));
	assert_int_equal(parse("www.example.com", SL_DNS_A), -1);
	m.b[2] |= TC >> 8;
	assert_int_equal(parse("www.example.com", SL_DNS_A), 0);
}

/* Pointers to pointers, each further back: 127 of them in one name, no
 * more. */
static void
test_pointer_hops(void **state)
{
	size_t r, at, ptr, last = 0;
	int hops;

	(void)state;
	for (hops = 127; hops <= 128; hops++) {
		start(OK, "y.example", SL_DNS_A);
		name("t.example");
		r = rr_begin(TXT, 1, 1);
		at = name("y.example");
		for (int i = 0; i < hops - 1; i++) {
			ptr = m.n;
			u16(0xc000 | (unsigned)at);
			at = ptr;
		}
		rr_end(r);
		last = m.n;
		u16(0xc000 | (unsigned)at);
		r = rr_begin(SL_DNS_A, 1, 1);
		u32(0xc0000201);
		rr_end(r);
		assert_int_equal(parse("y.example", SL_DNS_A),
				 hops == 127 ? 0 : -1);
		if (hops == 127)
			assert_int_equal(ans.naddrs, 1);
	}
	assert_true(last > 12 + 2 * 127);
}

/* A name of 255 bytes on the wire through three pointers, the most; one
 * byte more is refused. */
static void
test_name_too_long(void **state)
{
	const char *q = "_s._tcp.example";
	char lab[64], n[300];
	size_t a, b, c, r, want;

	(void)state;
	memset(lab, 'q', 63);
	lab[63] = '\0';
	for (want = 61; want <= 62; want++) {
		start(OK, q, SL_DNS_SRV);
		/* the pieces, in a record no one reads */
		name("x.example");
		r = rr_begin(TXT, 1, 1);
		a = labels(lab);
		u8(0);
		b = name_ptr(lab, a);
		c = name_ptr(lab, b);
		rr_end(r);
		name(q);
		r = rr_begin(SL_DNS_SRV, 1, 1);
		u16(1);
		u16(1);
		u16(1);
		lab[want] = '\0';
		name_ptr(lab, c);
		lab[want] = 'q';
		rr_end(r);
		if (want == 61) {
			assert_int_equal(parse(q, SL_DNS_SRV), 0);
			assert_int_equal(ans.nsrvs, 1);
			assert_int_equal(strlen(ans.srvs[0].target), 253);
		} else
			assert_int_equal(parse(q, SL_DNS_SRV), -1);
	}
	/* A truncated answer cut after labels of 254 bytes may be a cut
	 * name; after 255, no final zero can follow: a bad one. */
	for (want = 61; want <= 62; want++) {
		start(OK | TC, q, SL_DNS_SRV);
		labels(lab);
		labels(lab);
		labels(lab);
		lab[want] = '\0';
		labels(lab);
		lab[want] = 'q';
		set_count(AN, 1);
		assert_int_equal(parse(q, SL_DNS_SRV), want == 61 ? 0 : -1);
	}
	/* a question of 256 bytes */
	long_name(n, 254);
	start(OK, n, SL_DNS_A);
	assert_int_equal(parse("a.example", SL_DNS_A), -1);
	/* the longest name asked and answered */
	long_name(n, 253);
	start(OK, n, SL_DNS_A);
	rr_a(n, 1, 192, 0, 2, 1);
	assert_int_equal(parse(n, SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 1);
}

static void
test_srv(void **state)
{
	const char *q = "_http._tcp.example.com";
	size_t r, tgt;

	(void)state;
	start(OK, q, SL_DNS_SRV);
	/* uncompressed target */
	rr_srv(q, 10, 60, 8080, "Web1.Example.com");
	/* the owner and the target point at the question */
	name_ptr("", 12);
	r = rr_begin(SL_DNS_SRV, 1, 120);
	u16(20);
	u16(0);
	u16(8443);
	tgt = name_ptr("web2", 12 + 11);
	rr_end(r);
	/* a target pointing at the previous target */
	name_ptr("", 12);
	r = rr_begin(SL_DNS_SRV, 1, 120);
	u16(30);
	u16(5);
	u16(9000);
	name_ptr("b", tgt);
	rr_end(r);
	/* ".": no service */
	rr_srv(q, 65535, 65535, 0, ".");
	/* another owner */
	rr_srv("_other._tcp.example.com", 1, 1, 1, "x.example.com");
	assert_int_equal(parse(q, SL_DNS_SRV), 0);
	assert_int_equal(ans.nsrvs, 4);
	assert_int_equal(ans.srvs[0].priority, 10);
	assert_int_equal(ans.srvs[0].weight, 60);
	assert_int_equal(ans.srvs[0].port, 8080);
	assert_int_equal(ans.srvs[0].ttl, 60);
	assert_string_equal(ans.srvs[0].target, "web1.example.com");
	assert_int_equal(ans.srvs[1].priority, 20);
	assert_int_equal(ans.srvs[1].port, 8443);
	assert_int_equal(ans.srvs[1].ttl, 120);
	assert_string_equal(ans.srvs[1].target, "web2.example.com");
	assert_int_equal(ans.srvs[2].weight, 5);
	assert_int_equal(ans.srvs[2].port, 9000);
	assert_string_equal(ans.srvs[2].target, "b.web2.example.com");
	assert_int_equal(ans.srvs[3].priority, 65535);
	assert_int_equal(ans.srvs[3].port, 0);
	assert_string_equal(ans.srvs[3].target, "");
	assert_int_equal(ans.naddrs, 0);
	assert_int_equal(ans.nglue, 0);
	assert_int_equal(ans.negative_ttl, 0);
	/* SRV records through a CNAME */
	start(OK, q, SL_DNS_SRV);
	rr_srv("_http._tcp.lb.example.com", 1, 2, 3, "t.example.com");
	rr_cname(q, "_http._tcp.lb.example.com");
	assert_int_equal(parse(q, SL_DNS_SRV), 0);
	assert_int_equal(ans.nsrvs, 1);
	assert_string_equal(ans.srvs[0].target, "t.example.com");
}

/* SRV targets that are no host name are stepped over. */
static void
test_srv_odd_targets(void **state)
{
	const char *q = "_x._tcp.example";
	size_t r;

	(void)state;
	start(OK, q, SL_DNS_SRV);
	rr_srv(q, 1, 1, 1, "192.0.2.1");
	rr_srv(q, 1, 1, 1, "a b.example");
	/* a dot inside a label */
	name(q);
	r = rr_begin(SL_DNS_SRV, 1, 1);
	raw("\0\1\0\1\0\1\3a.b\7example\0", 19);
	rr_end(r);
	rr_srv(q, 2, 2, 2, "ok.example");
	assert_int_equal(parse(q, SL_DNS_SRV), 0);
	assert_int_equal(ans.nsrvs, 1);
	assert_string_equal(ans.srvs[0].target, "ok.example");
}

static void
test_srv_glue(void **state)
{
	const char *q = "_http._tcp.example.com";
	size_t r;

	(void)state;
	start(OK, q, SL_DNS_SRV);
	rr_srv(q, 10, 1, 80, "web1.example.com");
	rr_srv(q, 20, 1, 80, "Web2.Example.com");
	rr_srv(q, 30, 1, 80, ".");
	/* an address in the answer section is no glue */
	rr_a("web1.example.com", 40, 192, 0, 2, 7);
	m.sec = AR;
	rr_aaaa("web2.example.com", 50, 2);
	rr_a("WEB1.example.com", 40, 192, 0, 2, 1);
	name(".");
	rr_end(rr_begin(SL_DNS_OPT, 1232, 0));
	rr_a("stranger.example.com", 40, 192, 0, 2, 9);
	rr_a("a b.example.com", 40, 192, 0, 2, 9);
	/* another class, another type, and the root, which a "." target
	 * does not make glue */
	name("web1.example.com");
	r = rr_begin(SL_DNS_A, 3, 1);
	raw("\300\0\2\11", 4);
	rr_end(r);
	name("web1.example.com");
	rr_end(rr_begin(TXT, 1, 1));
	rr_a(".", 40, 192, 0, 2, 8);
	rr_a("web1.example.com", 0x80000000, 192, 0, 2, 3);
	assert_int_equal(parse(q, SL_DNS_SRV), 0);
	assert_int_equal(ans.nsrvs, 3);
	assert_int_equal(ans.naddrs, 0);
	assert_int_equal(ans.nglue, 3);
	assert_string_equal(ans.glue[0].name, "web2.example.com");
	assert_v6(&ans.glue[0].a, 2, 50);
	assert_string_equal(ans.glue[1].name, "web1.example.com");
	assert_v4(&ans.glue[1].a, 1, 40);
	assert_string_equal(ans.glue[2].name, "web1.example.com");
	assert_v4(&ans.glue[2].a, 3, 0);
	/* no glue for an address question */
	start(OK, "web1.example.com", SL_DNS_A);
	m.sec = AR;
	rr_a("web1.example.com", 40, 192, 0, 2, 1);
	assert_int_equal(parse("web1.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 0);
	assert_int_equal(ans.nglue, 0);
}

static void
test_nxdomain(void **state)
{
	(void)state;
	/* MINIMUM below the SOA's TTL, then above it */
	start(OK | SL_DNS_NXDOMAIN, "nope.example.com", SL_DNS_A);
	m.sec = NS;
	rr_soa("example.com", 3600, 300);
	assert_int_equal(parse("nope.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.rcode, SL_DNS_NXDOMAIN);
	assert_int_equal(ans.naddrs, 0);
	assert_int_equal(ans.negative_ttl, 300);
	start(OK | SL_DNS_NXDOMAIN, "nope.example.com", SL_DNS_A);
	m.sec = NS;
	rr_soa("example.com", 60, 300);
	rr_soa("example.com", 1, 1);
	assert_int_equal(parse("nope.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.negative_ttl, 60);
	/* the first SOA of class IN; top bits make zeros */
	start(OK | SL_DNS_NXDOMAIN, "nope.example.com", SL_DNS_A);
	rr_cname("nope.example.com", "gone.example.net");
	m.sec = NS;
	name("example.com");
	rr_end(rr_begin(TXT, 1, 1));
	name("example.com");
	rr_end(rr_begin(SL_DNS_SOA, 3, 1));
	rr_soa("example.net", 600, 0x80000000);
	assert_int_equal(parse("nope.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.negative_ttl, 0);
	start(OK | SL_DNS_NXDOMAIN, "nope.example.com", SL_DNS_A);
	m.sec = NS;
	rr_soa("example.net", 0xffffffff, 600);
	assert_int_equal(parse("nope.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.negative_ttl, 0);
	/* no SOA */
	start(OK | SL_DNS_NXDOMAIN, "nope.example.com", SL_DNS_A);
	assert_int_equal(parse("nope.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.rcode, SL_DNS_NXDOMAIN);
	assert_int_equal(ans.negative_ttl, 0);
	/* SERVFAIL says nothing about the name */
	start(OK | SL_DNS_SERVFAIL, "nope.example.com", SL_DNS_A);
	m.sec = NS;
	rr_soa("example.com", 3600, 300);
	assert_int_equal(parse("nope.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.rcode, SL_DNS_SERVFAIL);
	assert_int_equal(ans.negative_ttl, 0);
}

/* NOERROR without a record of the type: NODATA. */
static void
test_nodata(void **state)
{
	(void)state;
	start(OK, "v4only.example.com", SL_DNS_AAAA);
	rr_a("v4only.example.com", 60, 192, 0, 2, 1);
	m.sec = NS;
	rr_soa("example.com", 900, 120);
	assert_int_equal(parse("v4only.example.com", SL_DNS_AAAA), 0);
	assert_int_equal(ans.rcode, SL_DNS_NOERROR);
	assert_int_equal(ans.naddrs, 0);
	assert_int_equal(ans.negative_ttl, 120);
	/* with a record there is no negative TTL */
	start(OK, "v4only.example.com", SL_DNS_A);
	rr_a("v4only.example.com", 60, 192, 0, 2, 1);
	m.sec = NS;
	rr_soa("example.com", 900, 120);
	assert_int_equal(parse("v4only.example.com", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 1);
	assert_int_equal(ans.negative_ttl, 0);
	/* nor with an SRV record */
	start(OK, "_a._udp.example.com", SL_DNS_SRV);
	rr_srv("_a._udp.example.com", 1, 1, 53, ".");
	m.sec = NS;
	rr_soa("example.com", 900, 120);
	assert_int_equal(parse("_a._udp.example.com", SL_DNS_SRV), 0);
	assert_int_equal(ans.nsrvs, 1);
	assert_int_equal(ans.negative_ttl, 0);
}

static void
test_truncated(void **state)
{
	const char *q = "www.example.com";
	size_t qend, ends[4], k;
	int i;

	(void)state;
	start(OK | TC, q, SL_DNS_A);
	qend = m.n;
	for (i = 0; i < 3; i++) {
		rr_a(q, 9, 192, 0, 2, (unsigned)i + 1);
		ends[i] = m.n;
	}
	m.sec = NS;
	rr_soa("example.com", 900, 120);
	ends[3] = m.n;
	/* cut anywhere: the whole records before the cut; before the
	 * question ends, nothing */
	for (k = 0; k <= m.n; k++) {
		size_t whole = 0;

		if (k < qend) {
			assert_int_equal(parse_n(k, q, SL_DNS_A), -1);
			continue;
		}
		assert_int_equal(parse_n(k, q, SL_DNS_A), 0);
		assert_int_equal(ans.truncated, 1);
		while (whole < 3 && ends[whole] <= k)
			whole++;
		assert_int_equal(ans.naddrs, whole);
		assert_int_equal(ans.negative_ttl, 0);
	}
	/* the same bytes without TC: only whole */
	m.b[2] &= (uint8_t) ~(TC >> 8);
	for (k = 0; k < m.n; k++)
		assert_int_equal(parse_n(k, q, SL_DNS_A), -1);
	assert_int_equal(parse(q, SL_DNS_A), 0);
	assert_int_equal(ans.truncated, 0);
	/* counts of more records than came, no TC */
	set_count(AR, 1);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	/* with TC */
	m.b[2] |= TC >> 8;
	assert_int_equal(parse(q, SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 3);
}

/* Names of every kind cut anywhere: a cut answer whose whole is good
 * parses from the question's end on, the records only growing. */
static void
test_truncated_names(void **state)
{
	const char *q = "_h._tcp.example.com";
	size_t qend, r, k, t, nsrvs = 0, nglue = 0;

	(void)state;
	start(OK | TC, q, SL_DNS_SRV);
	qend = m.n;
	name_ptr("", 12);
	r = rr_begin(SL_DNS_CNAME, 1, 1);
	t = name_ptr("_h._tcp.lb", 12 + 8);
	rr_end(r);
	name_ptr("", t);
	r = rr_begin(SL_DNS_SRV, 1, 1);
	u32(0x00010002);
	u16(80);
	t = name_ptr("t", 12 + 8);
	rr_end(r);
	m.sec = NS;
	name_ptr("", 12 + 8);
	r = rr_begin(SL_DNS_SOA, 1, 1);
	name_ptr("ns", 12 + 8);
	name_ptr("h", 12 + 8);
	raw("\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5", 20);
	rr_end(r);
	m.sec = AR;
	name_ptr("", t);
	r = rr_begin(SL_DNS_A, 1, 1);
	u32(0xc0000201);
	rr_end(r);
	assert_int_equal(parse(q, SL_DNS_SRV), 0);
	assert_int_equal(ans.nsrvs, 1);
	assert_string_equal(ans.srvs[0].target, "t.example.com");
	assert_int_equal(ans.nglue, 1);
	for (k = 0; k <= m.n; k++) {
		assert_int_equal(parse_n(k, q, SL_DNS_SRV), k < qend ? -1 : 0);
		assert_true(ans.nsrvs >= nsrvs && ans.nglue >= nglue);
		nsrvs = ans.nsrvs;
		nglue = ans.nglue;
	}
}

/* A truncated answer's cut may leave a name whose pointer leads to
 * labels that ran on into what was cut off. */
static void
test_truncated_jump(void **state)
{
	const char *q = "www.example.com";
	size_t r, at, cut;

	(void)state;
	/* a TXT record's rdata ends with a label of 6 that takes in the
	 * next owner (a pointer to that label), its type and class: a
	 * strange but whole answer */
	start(OK | TC, q, SL_DNS_A);
	name("t.example");
	r = rr_begin(TXT, 1, 1);
	at = m.n;
	u8(6);
	rr_end(r);
	u16(0xc000 | (unsigned)at);
	r = rr_begin(TXT, 1, 1);
	u8(0);
	rr_end(r);
	assert_int_equal(parse(q, SL_DNS_A), 0);
	/* cut inside the label: the jump runs past the end */
	cut = at + 1 + 3;
	assert_int_equal(parse_n(cut, q, SL_DNS_A), 0);
	m.b[2] &= (uint8_t) ~(TC >> 8);
	assert_int_equal(parse_n(cut, q, SL_DNS_A), -1);
	/* the same through a CNAME's target: a label of 13 takes in the
	 * whole CNAME record, its final zero the next owner */
	start(OK | TC, q, SL_DNS_A);
	name("t.example");
	r = rr_begin(TXT, 1, 1);
	at = m.n;
	u8(13);
	rr_end(r);
	name(".");
	r = rr_begin(SL_DNS_CNAME, 1, 1);
	u16(0xc000 | (unsigned)at);
	rr_end(r);
	cut = m.n;
	name(".");
	rr_end(rr_begin(TXT, 1, 1));
	assert_int_equal(cut, at + 14);
	assert_int_equal(parse(q, SL_DNS_A), 0);
	assert_int_equal(parse_n(cut, q, SL_DNS_A), 0);
	m.b[2] &= (uint8_t) ~(TC >> 8);
	assert_int_equal(parse_n(cut, q, SL_DNS_A), -1);
}

static void
test_truncated_more(void **state)
{
	const char *q = "www.example.com";

	(void)state;
	/* cut inside a pointer */
	start(OK | TC, q, SL_DNS_A);
	rr_a(q, 9, 192, 0, 2, 1);
	u8(0xc0);
	set_count(AN, 2);
	assert_int_equal(parse(q, SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 1);
	m.b[2] &= (uint8_t) ~(TC >> 8);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	/* TC and nothing but the question */
	start(OK | TC, q, SL_DNS_A);
	assert_int_equal(parse(q, SL_DNS_A), 0);
	assert_int_equal(ans.truncated, 1);
	assert_int_equal(ans.naddrs, 0);
	/* a malformed record in a truncated answer is still malformed */
	start(OK | TC, q, SL_DNS_A);
	rr_a(q, 9, 192, 0, 2, 1);
	m.b[m.n - 5] = 5;
	raw("\0", 1);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	/* a CNAME whose target runs past its rdata, at the message's end */
	start(OK | TC, q, SL_DNS_A);
	name(q);
	rr_end(rr_begin(SL_DNS_CNAME, 1, 1));
	u8(3);
	raw("ab", 2);
	m.b[m.n - 3 - 1] = 3;
	assert_int_equal(parse(q, SL_DNS_A), -1);
}

static void
test_not_the_answer(void **state)
{
	const char *q = "www.example.com";

	(void)state;
	start(OK, q, SL_DNS_A);
	rr_a(q, 9, 192, 0, 2, 1);
	assert_int_equal(parse(q, SL_DNS_A), 0);
	/* another question */
	assert_int_equal(parse("ww.example.com", SL_DNS_A), -1);
	assert_int_equal(parse("wwx.example.com", SL_DNS_A), -1);
	assert_int_equal(parse("www.example.co", SL_DNS_A), -1);
	assert_int_equal(parse("www.example.com.x", SL_DNS_A), -1);
	assert_int_equal(parse(q, SL_DNS_AAAA), -1);
	/* no question sluice asks */
	assert_int_equal(parse("192.0.2.1", SL_DNS_A), -1);
	assert_int_equal(parse(NULL, SL_DNS_A), -1);
	/* another id */
	assert_int_equal(sl_dnsmsg_parse(m.b, m.n, ID + 1, q, SL_DNS_A, &ans),
			 -1);
	/* no header */
	for (size_t k = 0; k < 12; k++)
		assert_int_equal(parse_n(k, q, SL_DNS_A), -1);
	/* a query, not a response */
	m.b[2] &= 0x7f;
	assert_int_equal(parse(q, SL_DNS_A), -1);
	m.b[2] |= 0x80;
	/* opcode STATUS */
	m.b[2] |= 2 << 3;
	assert_int_equal(parse(q, SL_DNS_A), -1);
	m.b[2] &= (uint8_t) ~(2 << 3);
	assert_int_equal(parse(q, SL_DNS_A), 0);
	/* no question, two */
	m.b[5] = 0;
	assert_int_equal(parse(q, SL_DNS_A), -1);
	m.b[5] = 2;
	assert_int_equal(parse(q, SL_DNS_A), -1);
	m.b[5] = 1;
	/* class CH */
	m.b[12 + 17 + 3] = 3;
	assert_int_equal(parse(q, SL_DNS_A), -1);
	m.b[12 + 17 + 3] = 1;
	assert_int_equal(parse(q, SL_DNS_A), 0);
	/* the question's name cut or bad */
	m.b[12] = 0x80;
	assert_int_equal(parse(q, SL_DNS_A), -1);
}

static void
test_rdata_lengths(void **state)
{
	const char *q = "www.example.com", *s = "_s._tcp.example.com";
	size_t r;

	(void)state;
	/* A of 5 bytes, AAAA of 4, wherever they are */
	start(OK, q, SL_DNS_A);
	name(q);
	r = rr_begin(SL_DNS_A, 1, 1);
	raw("\1\2\3\4\5", 5);
	rr_end(r);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	start(OK, q, SL_DNS_A);
	m.sec = AR;
	name("other.example");
	r = rr_begin(SL_DNS_AAAA, 1, 1);
	raw("\1\2\3\4", 4);
	rr_end(r);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	/* a CNAME's target running past its rdata, or short of it */
	start(OK, q, SL_DNS_A);
	name(q);
	r = rr_begin(SL_DNS_CNAME, 1, 1);
	name("a.example");
	rr_end(r);
	m.b[m.n - 11 - 1]--;
	rr_a("a.example", 1, 192, 0, 2, 1);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	start(OK, q, SL_DNS_A);
	name(q);
	r = rr_begin(SL_DNS_CNAME, 1, 1);
	name("a.example");
	u8(0);
	rr_end(r);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	/* a pointer cut by the end of its rdata, the message's too: in a
	 * truncated answer, still no cut record */
	start(OK | TC, q, SL_DNS_A);
	name(q);
	r = rr_begin(SL_DNS_CNAME, 1, 1);
	u8(0xc0);
	rr_end(r);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	/* SRV: too short for its numbers, a target past rdlen, a byte
	 * after it */
	start(OK, s, SL_DNS_SRV);
	name(s);
	r = rr_begin(SL_DNS_SRV, 1, 1);
	raw("\0\1\0\1\0", 5);
	rr_end(r);
	assert_int_equal(parse(s, SL_DNS_SRV), -1);
	start(OK, s, SL_DNS_SRV);
	name(s);
	r = rr_begin(SL_DNS_SRV, 1, 1);
	raw("\0\1\0\1\0\1", 6);
	rr_end(r);
	assert_int_equal(parse(s, SL_DNS_SRV), -1);
	start(OK, s, SL_DNS_SRV);
	rr_srv(s, 1, 1, 1, "t.example");
	m.b[m.n - 11 - 6 - 1] -= 2;
	assert_int_equal(parse(s, SL_DNS_SRV), -1);
	start(OK, s, SL_DNS_SRV);
	name(s);
	r = rr_begin(SL_DNS_SRV, 1, 1);
	raw("\0\1\0\1\0\1\1t\0\0", 10);
	rr_end(r);
	assert_int_equal(parse(s, SL_DNS_SRV), -1);
	/* an SOA with a byte too many, one too few, a bad RNAME, MNAME */
	start(OK | SL_DNS_NXDOMAIN, q, SL_DNS_A);
	m.sec = NS;
	rr_soa("example.com", 1, 1);
	m.b[m.n - 20 - 24 - 17 - 1]++;
	u8(0);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	start(OK | SL_DNS_NXDOMAIN, q, SL_DNS_A);
	m.sec = NS;
	rr_soa("example.com", 1, 1);
	m.b[m.n - 20 - 24 - 17 - 1]--;
	u8(0);
	assert_int_equal(parse(q, SL_DNS_A), -1);
	start(OK | SL_DNS_NXDOMAIN, q, SL_DNS_A);
	m.sec = NS;
	rr_soa("example.com", 1, 1);
	m.b[m.n - 20 - 24] = 0x80;
	assert_int_equal(parse(q, SL_DNS_A), -1);
	m.b[m.n - 20 - 24] = 10;
	assert_int_equal(parse(q, SL_DNS_A), 0);
	m.b[m.n - 20 - 24 - 17] = 0x40;
	assert_int_equal(parse(q, SL_DNS_A), -1);
	/* rdata past the end */
	start(OK, q, SL_DNS_A);
	rr_a(q, 1, 192, 0, 2, 1);
	m.n--;
	assert_int_equal(parse(q, SL_DNS_A), -1);
}

static void
test_dropped(void **state)
{
	const char *s = "_s._tcp.example.com";
	size_t r;
	int i;

	(void)state;
	start(OK, "many.example", SL_DNS_A);
	for (i = 0; i < SL_DNS_MAX_RECORDS + 44; i++) {
		name_ptr("", 12);
		r = rr_begin(SL_DNS_A, 1, 1);
		u32(0xc0000200u | (unsigned)(i & 0xff));
		rr_end(r);
	}
	assert_int_equal(parse("many.example", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, SL_DNS_MAX_RECORDS);
	assert_int_equal(ans.dropped, 44);
	assert_v4(&ans.addrs[SL_DNS_MAX_RECORDS - 1], 255, 1);
	/* SRV records, then the glue of one target */
	start(OK, s, SL_DNS_SRV);
	for (i = 0; i < SL_DNS_MAX_RECORDS + 3; i++) {
		name_ptr("", 12);
		r = rr_begin(SL_DNS_SRV, 1, 1);
		u16((unsigned)i);
		u16(0);
		u16(80);
		name("t.example");
		rr_end(r);
	}
	m.sec = AR;
	for (i = 0; i < SL_DNS_MAX_RECORDS + 5; i++)
		rr_a("t.example", 1, 192, 0, 2, 1);
	assert_int_equal(parse(s, SL_DNS_SRV), 0);
	assert_int_equal(ans.nsrvs, SL_DNS_MAX_RECORDS);
	assert_int_equal(ans.srvs[SL_DNS_MAX_RECORDS - 1].priority,
			 SL_DNS_MAX_RECORDS - 1);
	assert_int_equal(ans.nglue, SL_DNS_MAX_RECORDS);
	assert_int_equal(ans.dropped, 3 + 5);
}

static void
test_mixed_case(void **state)
{
	(void)state;
	start(OK, "WwW.ExAmPlE.CoM", SL_DNS_A);
	rr_cname("WWW.EXAMPLE.COM", "LB.Example.NET");
	rr_a("lb.example.net", 5, 192, 0, 2, 1);
	assert_int_equal(parse("www.EXAMPLE.com.", SL_DNS_A), 0);
	assert_int_equal(ans.naddrs, 1);
	assert_v4(&ans.addrs[0], 1, 5);
	start(OK, "_X._TCP.Example", SL_DNS_SRV);
	rr_srv("_x._tcp.example", 1, 1, 1, "HOST-1.Example");
	m.sec = AR;
	rr_a("host-1.EXAMPLE", 5, 192, 0, 2, 1);
	assert_int_equal(parse("_x._Tcp.example", SL_DNS_SRV), 0);
	assert_int_equal(ans.nsrvs, 1);
	assert_string_equal(ans.srvs[0].target, "host-1.example");
	assert_int_equal(ans.nglue, 1);
	assert_string_equal(ans.glue[0].name, "host-1.example");
}

static void
test_rcode_str(void **state)
{
	(void)state;
	assert_string_equal(sl_dnsmsg_rcode_str(SL_DNS_NOERROR), "NOERROR");
	assert_string_equal(sl_dnsmsg_rcode_str(SL_DNS_FORMERR), "FORMERR");
	assert_string_equal(sl_dnsmsg_rcode_str(SL_DNS_SERVFAIL), "SERVFAIL");
	assert_string_equal(sl_dnsmsg_rcode_str(SL_DNS_NXDOMAIN), "NXDOMAIN");
	assert_string_equal(sl_dnsmsg_rcode_str(SL_DNS_NOTIMP), "NOTIMP");
	assert_string_equal(sl_dnsmsg_rcode_str(SL_DNS_REFUSED), "REFUSED");
	assert_string_equal(sl_dnsmsg_rcode_str(9), "NOTAUTH");
	assert_string_equal(sl_dnsmsg_rcode_str(15), "RCODE15");
	assert_string_equal(sl_dnsmsg_rcode_str(16), "RCODE?");
	assert_string_equal(sl_dnsmsg_rcode_str(-1), "RCODE?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_ok),
	    cmocka_unit_test(test_query),
	    cmocka_unit_test(test_query_limits),
	    cmocka_unit_test(test_query_parses_back),
	    cmocka_unit_test(test_a),
	    cmocka_unit_test(test_aaaa),
	    cmocka_unit_test(test_other_records),
	    cmocka_unit_test(test_cname_chain),
	    cmocka_unit_test(test_cname_out_of_order),
	    cmocka_unit_test(test_cname_loop),
	    cmocka_unit_test(test_cname_limit),
	    cmocka_unit_test(test_compression),
	    cmocka_unit_test(test_compression_bad),
	    cmocka_unit_test(test_pointer_hops),
	    cmocka_unit_test(test_name_too_long),
	    cmocka_unit_test(test_srv),
	    cmocka_unit_test(test_srv_odd_targets),
	    cmocka_unit_test(test_srv_glue),
	    cmocka_unit_test(test_nxdomain),
	    cmocka_unit_test(test_nodata),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_truncated_names),
	    cmocka_unit_test(test_truncated_jump),
	    cmocka_unit_test(test_truncated_more),
	    cmocka_unit_test(test_not_the_answer),
	    cmocka_unit_test(test_rdata_lengths),
	    cmocka_unit_test(test_dropped),
	    cmocka_unit_test(test_mixed_case),
	    cmocka_unit_test(test_rcode_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
