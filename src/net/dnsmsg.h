/* SPDX-License-Identifier: MIT */
/*
 * DNS messages as the resolver (resolve.c, doc/fleet.md section 2) sends
 * and reads them: a query for one name and type (RFC 1035, with an EDNS0
 * OPT record, RFC 6891), and the parse of its answer into the records
 * sluice uses: the addresses of a name (A, AAAA, through the CNAMEs of
 * the answer), SRV records (RFC 2782) and the addresses of their targets
 * that the additional section carries. Pure: no I/O, no malloc, no
 * globals. A server's bytes are its input, so every length and offset is
 * checked (tests/fuzz/fuzz_dns.c).
 */
#ifndef SL_DNSMSG_H
#define SL_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

/* Record types. */
#define SL_DNS_A     1
#define SL_DNS_CNAME 5
#define SL_DNS_SOA   6
#define SL_DNS_AAAA  28
#define SL_DNS_SRV   33
#define SL_DNS_OPT   41

/* Response codes (the header's RCODE). */
#define SL_DNS_NOERROR	0
#define SL_DNS_FORMERR	1
#define SL_DNS_SERVFAIL 2
#define SL_DNS_NXDOMAIN 3
#define SL_DNS_NOTIMP	4
#define SL_DNS_REFUSED	5

/* A name in presentation form, without the final dot: at most 253
 * characters (255 bytes on the wire). */
#define SL_DNS_NAME_MAX 253
/* A query never takes more: header, the longest name, type and class, an
 * OPT record. */
#define SL_DNS_QUERY_MAX 512
/* Records of each kind kept from one answer; more are counted in
 * dropped and left out. */
#define SL_DNS_MAX_RECORDS 256
/* CNAMEs followed from the asked name within one answer. */
#define SL_DNS_MAX_CNAMES 8

struct sl_dns_addr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* 4 (AF_INET) or 16 bytes, network order */
	uint32_t ttl;	  /* seconds */
};

struct sl_dns_srv {
	uint16_t priority, weight, port;
	uint32_t ttl;			  /* seconds */
	char target[SL_DNS_NAME_MAX + 1]; /* lower-cased, no final dot;
					     "" for "." (RFC 2782: the
					     service is not available) */
};

/* An address record of the additional section (an SRV target's). */
struct sl_dns_glue {
	char name[SL_DNS_NAME_MAX + 1]; /* lower-cased, no final dot */
	struct sl_dns_addr a;
};

/*
 * What an answer says. Large (about 150 KiB): the caller allocates it
 * once and reuses it.
 */
struct sl_dns_answer {
	int rcode;     /* SL_DNS_NOERROR, SL_DNS_NXDOMAIN, ... */
	int truncated; /* TC: the answer did not fit; ask over TCP */
	/* NXDOMAIN, or NOERROR with no record of the type (NODATA): the
	 * SOA record's minimum of the authority section, capped by that
	 * record's own TTL (RFC 2308); 0 when there is none */
	uint32_t negative_ttl;
	/* records of the asked type whose owner is the asked name or a
	 * name a CNAME of the answer led to: A and AAAA records when the
	 * question was for A or AAAA (only that type), SRV records when it
	 * was for SRV */
	struct sl_dns_addr addrs[SL_DNS_MAX_RECORDS];
	size_t naddrs;
	struct sl_dns_srv srvs[SL_DNS_MAX_RECORDS];
	size_t nsrvs;
	/* A and AAAA records of the additional section whose owner is the
	 * target of one of srvs */
	struct sl_dns_glue glue[SL_DNS_MAX_RECORDS];
	size_t nglue;
	size_t dropped; /* records left out past SL_DNS_MAX_RECORDS */
};

/*
 * Whether name is a host name sluice will look up: labels of 1 to 63
 * letters, digits, '-' and '_' separated by single dots, 253 characters
 * at most, a final dot allowed, not all digits and dots (that is an IPv4
 * address). Returns 1 or 0.
 */
int sl_dnsmsg_name_ok(const char *name);

/*
 * Writes a query with id for qname (as sl_dnsmsg_name_ok takes it) and
 * type qtype, recursion desired, into buf (cap bytes; SL_DNS_QUERY_MAX
 * always suffices). udp_size > 0 adds an EDNS0 OPT record offering that
 * payload size (for UDP); 0 adds none. Returns the length, or -1 when
 * the name is not valid or cap is too small.
 */
int sl_dnsmsg_query(uint8_t *buf, size_t cap, uint16_t id, const char *qname,
		    uint16_t qtype, uint16_t udp_size);

/*
 * Parses the len bytes at p as the answer to the query (id, qname,
 * qtype) into *a: every count and number set, the arrays up to their
 * counts; after -1, no records. Returns 0, or -1 when the bytes are not
 * that answer: too short or malformed (a name or record running past the
 * end, a compression pointer that does not point further back than the
 * labels it ends, so also any loop, a label type other than 0 and 0xc0,
 * an A, AAAA, CNAME, SRV or SOA record of class IN whose rdlen does not
 * fit its contents), not a response, an opcode other than QUERY, another
 * id, or another question (name compared without regard to case). A
 * truncated answer (TC) parses as far as its records are whole, with
 * a->truncated set: a record the message's end cuts ends the parse, one
 * that is malformed still gives -1. Records of other types, classes or
 * owners are stepped over, and so are SRV records whose target is
 * neither "." nor a name sl_dnsmsg_name_ok takes. qname is as
 * sl_dnsmsg_query takes it (-1 otherwise). Each TTL is its record's own,
 * not capped by the CNAMEs that led to it; one with the top bit set is 0
 * (RFC 2181 section 8).
 */
int sl_dnsmsg_parse(const uint8_t *p, size_t len, uint16_t id,
		    const char *qname, uint16_t qtype, struct sl_dns_answer *a);

/* "NOERROR", "NXDOMAIN", ... (RFC 1035 and RFC 2136's names, 0 to 10),
 * "RCODE11" to "RCODE15", or "RCODE?" for a number no header holds. */
const char *sl_dnsmsg_rcode_str(int rcode);

#endif
