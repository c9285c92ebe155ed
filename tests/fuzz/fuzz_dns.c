/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for DNS messages (dnsmsg.c). The input is a server's
 * answer: the low bits of its first byte pick the name asked among four,
 * its id is the one expected, and it is parsed as the answer to A, AAAA,
 * SRV and TXT questions. What is kept must be in bounds and of the asked
 * type (families, zeroed padding, lower-cased host names, glue only for
 * SRV targets, TTLs below 2^31, a negative TTL only for NXDOMAIN or
 * NODATA); the same bytes, again and from a copy of exactly their length,
 * give the same answer. With TC set, an answer that parses whole parses
 * when cut too, as soon as it parses at all, never keeping more. The
 * input up to its first NUL is also a name: sl_dnsmsg_name_ok must agree
 * with a plain reference here, and a good name's query must parse back.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"
#include "fuzz.h"

#define TXT 16

static const char *const names[4] = {
    "example.com",
    "_http._tcp.example.com",
    "WWW.Example.COM.",
    "a",
};
static const uint16_t types[4] = {SL_DNS_A, SL_DNS_AAAA, SL_DNS_SRV, TXT};

/* Large: kept out of the stack. */
static struct sl_dns_answer first, again, whole, part;

static int
is_host_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* sl_dnsmsg_name_ok as dnsmsg.h says it, written another way: split at
 * the dots. */
static int
ref_name_ok(const char *s)
{
	size_t len = strlen(s), i, start = 0;
	int letter = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > SL_DNS_NAME_MAX)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!is_host_char((unsigned char)s[i]))
				return 0;
			if (s[i] < '0' || s[i] > '9')
				letter = 1;
			continue;
		}
		if (i - start < 1 || i - start > 63)
			return 0;
		start = i + 1;
	}
	return letter;
}

/* A kept name: a host name, lower-cased, no final dot. */
static void
check_name(const char *s)
{
	size_t n = strlen(s);

	CHECK(n <= SL_DNS_NAME_MAX);
	CHECK(sl_dnsmsg_name_ok(s) && ref_name_ok(s));
	CHECK(s[n - 1] != '.');
	for (size_t i = 0; i < n; i++)
		CHECK(s[i] < 'A' || s[i] > 'Z');
}

static void
check_addr(const struct sl_dns_addr *ad, uint16_t qtype)
{
	static const uint8_t zero[12];

	CHECK(ad->family == AF_INET || ad->family == AF_INET6);
	if (qtype == SL_DNS_A)
		CHECK(ad->family == AF_INET);
	if (qtype == SL_DNS_AAAA)
		CHECK(ad->family == AF_INET6);
	if (ad->family == AF_INET)
		CHECK(memcmp(ad->addr + 4, zero, 12) == 0);
	CHECK(ad->ttl < 0x80000000u);
}

/* What a parse that gave r may say about the n bytes at d. */
static void
check(const struct sl_dns_answer *a, int r, const uint8_t *d, size_t n,
      uint16_t qtype)
{
	size_t i, j;

	CHECK(r == 0 || r == -1);
	if (r != 0) {
		CHECK(a->naddrs == 0 && a->nsrvs == 0 && a->nglue == 0);
		return;
	}
	CHECK(n >= 12 && (d[2] & 0x80) != 0);
	CHECK(a->rcode == (d[3] & 0x0f));
	CHECK(a->truncated == ((d[2] & 0x02) != 0));
	CHECK(a->naddrs <= SL_DNS_MAX_RECORDS);
	CHECK(a->nsrvs <= SL_DNS_MAX_RECORDS);
	CHECK(a->nglue <= SL_DNS_MAX_RECORDS);
	if (qtype != SL_DNS_A && qtype != SL_DNS_AAAA)
		CHECK(a->naddrs == 0);
	if (qtype != SL_DNS_SRV)
		CHECK(a->nsrvs == 0 && a->nglue == 0);
	if (a->dropped > 0)
		CHECK(a->naddrs == SL_DNS_MAX_RECORDS ||
		      a->nsrvs == SL_DNS_MAX_RECORDS ||
		      a->nglue == SL_DNS_MAX_RECORDS);
	CHECK(a->negative_ttl < 0x80000000u);
	if (a->negative_ttl > 0)
		CHECK(a->rcode == SL_DNS_NXDOMAIN ||
		      (a->rcode == SL_DNS_NOERROR && a->naddrs == 0 &&
		       a->nsrvs == 0));
	for (i = 0; i < a->naddrs; i++)
		check_addr(&a->addrs[i], qtype);
	for (i = 0; i < a->nsrvs; i++) {
		CHECK(a->srvs[i].ttl < 0x80000000u);
		if (a->srvs[i].target[0] != '\0')
			check_name(a->srvs[i].target);
	}
	for (i = 0; i < a->nglue; i++) {
		check_name(a->glue[i].name);
		check_addr(&a->glue[i].a, 0);
		for (j = 0; j < a->nsrvs; j++)
			if (strcmp(a->srvs[j].target, a->glue[i].name) == 0)
				break;
		CHECK(j < a->nsrvs);
	}
}

static int
same_addr(const struct sl_dns_addr *x, const struct sl_dns_addr *y)
{
	return x->family == y->family && x->ttl == y->ttl &&
	       memcmp(x->addr, y->addr, sizeof(x->addr)) == 0;
}

/* The same answer, but for TC when tc_too is 0. */
static void
check_same(const struct sl_dns_answer *x, const struct sl_dns_answer *y,
	   int tc_too)
{
	size_t i;

	CHECK(x->rcode == y->rcode && x->negative_ttl == y->negative_ttl);
	CHECK(!tc_too || x->truncated == y->truncated);
	CHECK(x->naddrs == y->naddrs && x->nsrvs == y->nsrvs &&
	      x->nglue == y->nglue && x->dropped == y->dropped);
	for (i = 0; i < x->naddrs; i++)
		CHECK(same_addr(&x->addrs[i], &y->addrs[i]));
	for (i = 0; i < x->nsrvs; i++) {
		const struct sl_dns_srv *s = &x->srvs[i], *t = &y->srvs[i];

		CHECK(s->priority == t->priority && s->weight == t->weight &&
		      s->port == t->port && s->ttl == t->ttl);
		CHECK(strcmp(s->target, t->target) == 0);
	}
	for (i = 0; i < x->nglue; i++) {
		CHECK(strcmp(x->glue[i].name, y->glue[i].name) == 0);
		CHECK(same_addr(&x->glue[i].a, &y->glue[i].a));
	}
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* With TC set in tc (a copy of the n input bytes), an answer that parses
 * whole must parse cut anywhere past its question, keeping no more: try
 * three cuts the input's last bytes choose. */
static void
check_cuts(uint8_t *tc, size_t n, uint16_t id, const char *qname,
	   uint16_t qtype, int r)
{
	size_t cut[3], i;
	int ok = 0, rk;

	if (n < 12)
		return;
	tc[2] |= 0x02;
	rk = sl_dnsmsg_parse(tc, n, id, qname, qtype, &whole);
	check(&whole, rk, tc, n, qtype);
	if (r == 0) {
		/* nothing was cut: TC changes nothing else */
		CHECK(rk == 0);
		check_same(&first, &whole, 0);
	}
	if (rk != 0)
		return;
	cut[0] = n - 1;
	cut[1] = n * tc[n - 1] / 256;
	cut[2] = n * tc[n - 2] / 256;
	qsort(cut, 3, sizeof(*cut), cmp_size);
	for (i = 0; i < 3; i++) {
		rk = sl_dnsmsg_parse(tc, cut[i], id, qname, qtype, &part);
		CHECK(rk == 0 || !ok);
		if (rk != 0)
			continue;
		ok = 1;
		CHECK(part.truncated && part.rcode == whole.rcode);
		CHECK(part.naddrs <= whole.naddrs &&
		      part.nsrvs <= whole.nsrvs && part.nglue <= whole.nglue &&
		      part.dropped <= whole.dropped);
	}
}

/* The input up to its first NUL as a name; a good one's query, answered
 * with itself, parses back with nothing in it. */
static void
check_name_query(const uint8_t *data, size_t size)
{
	char s[SL_DNS_NAME_MAX + 8];
	uint8_t q[SL_DNS_QUERY_MAX];
	size_t n = 0;
	int len;
	uint16_t qtype = size > 0 ? types[data[0] >> 6] : SL_DNS_A;

	while (n < size && n < sizeof(s) - 1 && data[n] != 0) {
		s[n] = (char)data[n];
		n++;
	}
	s[n] = '\0';
	CHECK(sl_dnsmsg_name_ok(s) == ref_name_ok(s));
	len = sl_dnsmsg_query(q, sizeof(q), 0x5151, s, qtype, 1232);
	if (!ref_name_ok(s)) {
		CHECK(len == -1);
		return;
	}
	/* header, the name's labels and final zero, type, class, OPT */
	n = strlen(s) - (s[strlen(s) - 1] == '.');
	CHECK(len == (int)(12 + n + 2 + 4 + 11));
	CHECK(sl_dnsmsg_query(q, (size_t)len - 1, 0x5151, s, qtype, 1232) ==
	      -1);
	q[2] |= 0x80;
	CHECK(sl_dnsmsg_parse(q, (size_t)len, 0x5151, s, qtype, &part) == 0);
	CHECK(part.naddrs == 0 && part.nsrvs == 0 && part.rcode == 0 &&
	      part.negative_ttl == 0 && !part.truncated);
	CHECK(sl_dnsmsg_parse(q, (size_t)len, 0x5152, s, qtype, &part) == -1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	const char *qname = names[size > 0 ? data[0] & 3 : 0];
	uint8_t *copy = malloc(size ? size : 1);

	if (copy == NULL)
		abort();
	for (int t = 0; t < 4; t++) {
		int r =
		    sl_dnsmsg_parse(data, size, id, qname, types[t], &first);

		check(&first, r, data, size, types[t]);
		/* the same bytes again, then from a copy of exactly them */
		CHECK(sl_dnsmsg_parse(data, size, id, qname, types[t],
				      &again) == r);
		check_same(&first, &again, 1);
		memcpy(copy, data, size);
		CHECK(sl_dnsmsg_parse(copy, size, id, qname, types[t],
				      &again) == r);
		check_same(&first, &again, 1);
		check_cuts(copy, size, id, qname, types[t], r);
	}
	free(copy);
	check_name_query(data, size);
	(void)sl_dnsmsg_rcode_str(size > 3 ? data[3] & 0x0f : 0);
	return 0;
}
