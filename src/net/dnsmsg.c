/* SPDX-License-Identifier: MIT */
/*
 * DNS messages (see dnsmsg.h): the query the resolver sends and the parse
 * of the answer it reads, RFC 1035 section 4. Reads and writes caller
 * buffers only: no I/O, no malloc, no state between calls. A server's
 * bytes are checked before each read; a name's compression pointers can
 * only go backwards, so no name loops.
 */
#include "dnsmsg.h"

#include <sys/socket.h>

#include <string.h>

#define HDR_LEN	 12
#define CLASS_IN 1
/* the header's second 16-bit word */
#define F_QR	 0x8000
#define F_OPCODE 0x7800
#define F_TC	 0x0200
#define F_RD	 0x0100
#define F_RCODE	 0x000f
/* the OPT record of a query: root name, type, class, TTL, rdlen */
#define OPT_LEN 11

/* A name on the wire takes at most 255 bytes, a label 63 (RFC 1035
 * 2.3.4). */
#define WIRE_NAME_MAX 255
#define LABEL_MAX     63
/* Pointers followed in one name: as many as it can have labels. Each
 * goes further back (read_name), which ends loops but not a long run of
 * pointers to pointers, each record's name paying for it again. */
#define MAX_HOPS 127

/* How reading a record fails: the bytes are no DNS message, or they stop
 * in the middle of the record, which a truncated answer may do. */
#define E_BAD	-1
#define E_SHORT -2

/* A record as read: its owner in lower-cased wire form, and where its
 * rdata lies in the message. */
struct rr {
	uint8_t owner[WIRE_NAME_MAX];
	size_t ownerlen; /* bytes, with the final zero */
	uint16_t type, class;
	uint32_t ttl;	     /* seconds, as sent */
	size_t rdoff, rdlen; /* bytes into the message */
};

/* The records of one section that are whole: where the first starts. */
struct section {
	size_t off;
	size_t n;
};

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* DNS names compare without regard to ASCII case only (RFC 4343). */
static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

static int
host_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* RFC 2181 section 8: a TTL with the top bit set is taken as zero. */
static uint32_t
ttl_of(uint32_t ttl)
{
	return ttl & 0x80000000u ? 0 : ttl;
}

int
sl_dnsmsg_name_ok(const char *name)
{
	size_t len, label = 0, i;
	int digits_only = 1;

	if (name == NULL)
		return 0;
	/* one past the longest name with its final dot is enough to know */
	for (len = 0; len < SL_DNS_NAME_MAX + 2 && name[len] != '\0'; len++)
		;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > SL_DNS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!host_char(c) || ++label > LABEL_MAX)
			return 0;
		if (c < '0' || c > '9')
			digits_only = 0;
	}
	/* a last empty label: two final dots */
	return label > 0 && !digits_only;
}

/* Writes name (sl_dnsmsg_name_ok's) in wire form into out (at least
 * WIRE_NAME_MAX bytes); returns its length, final zero included. */
static size_t
name_wire(const char *name, uint8_t *out)
{
	size_t n = 0, start = 0;

	for (;;) {
		size_t l = 0;

		while (name[start + l] != '.' && name[start + l] != '\0')
			l++;
		if (l == 0)
			break;
		out[n++] = (uint8_t)l;
		memcpy(out + n, name + start, l);
		n += l;
		if (name[start + l] == '\0')
			break;
		start += l + 1;
	}
	out[n++] = 0;
	return n;
}

int
sl_dnsmsg_query(uint8_t *buf, size_t cap, uint16_t id, const char *qname,
		uint16_t qtype, uint16_t udp_size)
{
	uint8_t name[WIRE_NAME_MAX];
	size_t nlen, n;

	if (!sl_dnsmsg_name_ok(qname))
		return -1;
	nlen = name_wire(qname, name);
	n = HDR_LEN + nlen + 4 + (udp_size > 0 ? OPT_LEN : 0);
	if (cap < n)
		return -1;
	memset(buf, 0, HDR_LEN);
	put16(buf, id);
	put16(buf + 2, F_RD);
	put16(buf + 4, 1);
	put16(buf + 10, udp_size > 0);
	memcpy(buf + HDR_LEN, name, nlen);
	put16(buf + HDR_LEN + nlen, qtype);
	put16(buf + HDR_LEN + nlen + 2, CLASS_IN);
	if (udp_size > 0) {
		uint8_t *o = buf + HDR_LEN + nlen + 4;

		/* RFC 6891 6.1.2: the root name, the payload size as the
		 * class, extended RCODE, version and flags (no DO) as the
		 * TTL, no options */
		memset(o, 0, OPT_LEN);
		put16(o + 1, SL_DNS_OPT);
		put16(o + 3, udp_size);
	}
	return (int)n;
}

/*
 * Reads the name at off in msg[0..len) into out (WIRE_NAME_MAX bytes:
 * lower-cased wire form with its final zero, *outlen bytes) and sets
 * *next past its bytes at off: after its final zero or its first pointer.
 * Those bytes must end by rdend, the end of the rdata holding the name,
 * or by len when rdend is 0 (an owner, the question); what a pointer
 * leads to may lie anywhere before. A pointer must point before the start
 * of the labels it ends, the name's own or those an earlier pointer led
 * to: each jump goes further back than the last, so a name cannot loop;
 * and MAX_HOPS at most. Returns 0; E_SHORT when the name runs past the
 * message, as a cut one would; E_BAD otherwise, and for a name that does
 * not fit its rdata, since rdata is whole.
 */
static int
read_name(const uint8_t *msg, size_t len, size_t off, size_t rdend,
	  uint8_t *out, size_t *outlen, size_t *next)
{
	size_t pos = off, seg = off, n = 0, lim, i;
	int jumped = 0, hops = 0;
	uint8_t c;

	for (;;) {
		lim = jumped || rdend == 0 ? len : rdend;
		if (pos >= lim)
			goto overrun;
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= lim)
				goto overrun;
			target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			if (target >= seg || ++hops > MAX_HOPS)
				return E_BAD;
			if (!jumped)
				*next = pos + 2;
			jumped = 1;
			pos = seg = target;
			continue;
		}
		/* 0x40 (RFC 6891 made it obsolete) and 0x80: no label types
		 * of a server's answer */
		if (c & 0xc0)
			return E_BAD;
		/* a label other than the last leaves room for the final
		 * zero */
		if (n + 1 + c + (c != 0) > WIRE_NAME_MAX)
			return E_BAD;
		if (lim - pos < 1 + (size_t)c)
			goto overrun;
		out[n++] = c;
		for (i = 1; i <= c; i++)
			out[n++] = lower(msg[pos + i]);
		pos += 1 + (size_t)c;
		if (c == 0)
			break;
	}
	if (!jumped)
		*next = pos;
	*outlen = n;
	return 0;
overrun:
	/* Past the message's end, even after a jump: a truncated answer's
	 * cut may leave a name pointing at labels that ran on into the
	 * records it cut off. */
	return jumped || rdend == 0 ? E_SHORT : E_BAD;
}

/* Writes the wire name w (as read_name leaves it) as text into out
 * (SL_DNS_NAME_MAX + 1 bytes): labels set off by dots, no final dot, ""
 * for the root. Returns 0, or -1 when a label holds a byte a host name
 * cannot: a dot among them would make the text name other labels. */
static int
name_text(const uint8_t *w, char *out)
{
	size_t i = 0, o = 0, l;

	while ((l = w[i++]) != 0) {
		if (o > 0)
			out[o++] = '.';
		for (; l > 0; l--, i++) {
			if (!host_char(w[i]))
				return -1;
			out[o++] = (char)w[i];
		}
	}
	out[o] = '\0';
	return 0;
}

/* The rdata of the types this file reads must hold what their type says,
 * no more, no less (class IN only: another class's rdata may have another
 * form). Returns 0, E_BAD, or E_SHORT for a name leading past the end of
 * a cut message. */
static int
rdata_check(const uint8_t *msg, size_t len, const struct rr *rr)
{
	uint8_t name[WIRE_NAME_MAX];
	size_t nlen, end = rr->rdoff + rr->rdlen, pos;
	int r;

	switch (rr->type) {
	case SL_DNS_A:
		return rr->rdlen == 4 ? 0 : E_BAD;
	case SL_DNS_AAAA:
		return rr->rdlen == 16 ? 0 : E_BAD;
	case SL_DNS_CNAME:
		pos = rr->rdoff;
		break;
	case SL_DNS_SRV:
		if (rr->rdlen < 6)
			return E_BAD;
		pos = rr->rdoff + 6;
		break;
	case SL_DNS_SOA:
		/* MNAME, RNAME, then five 32-bit numbers */
		if ((r = read_name(msg, len, rr->rdoff, end, name, &nlen,
				   &pos)) != 0 ||
		    (r = read_name(msg, len, pos, end, name, &nlen, &pos)) != 0)
			return r;
		return end - pos == 20 ? 0 : E_BAD;
	default:
		return 0;
	}
	if ((r = read_name(msg, len, pos, end, name, &nlen, &pos)) != 0)
		return r;
	return pos == end ? 0 : E_BAD;
}

/* Reads the record at *off and moves *off past it. Returns 0, E_SHORT
 * when the message ends inside it, E_BAD when it is malformed. */
static int
rr_read(const uint8_t *msg, size_t len, size_t *off, struct rr *rr)
{
	size_t pos;
	int r;

	r = read_name(msg, len, *off, 0, rr->owner, &rr->ownerlen, &pos);
	if (r != 0)
		return r;
	if (len - pos < 10)
		return E_SHORT;
	rr->type = get16(msg + pos);
	rr->class = get16(msg + pos + 2);
	rr->ttl = get32(msg + pos + 4);
	rr->rdlen = get16(msg + pos + 8);
	rr->rdoff = pos + 10;
	if (len - rr->rdoff < rr->rdlen)
		return E_SHORT;
	if (rr->class == CLASS_IN && (r = rdata_check(msg, len, rr)) != 0)
		return r;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

/* The names the answer's CNAMEs led to from the asked one (chain[0]). */
struct chain {
	uint8_t name[SL_DNS_MAX_CNAMES + 1][WIRE_NAME_MAX];
	size_t len[SL_DNS_MAX_CNAMES + 1];
	size_t n;
};

static int
chain_has(const struct chain *ch, const uint8_t *name, size_t len)
{
	for (size_t i = 0; i < ch->n; i++)
		if (ch->len[i] == len && memcmp(ch->name[i], name, len) == 0)
			return 1;
	return 0;
}

/* Follows the CNAMEs of the answer section from ch->name[0], in whatever
 * order they come, until a name has none, one leads back into the chain
 * or SL_DNS_MAX_CNAMES were followed. */
static void
chain_follow(const uint8_t *msg, size_t len, const struct section *an,
	     struct chain *ch)
{
	uint8_t target[WIRE_NAME_MAX];
	struct rr rr;
	size_t off, i, tlen, next;
	int found;

	while (ch->n <= SL_DNS_MAX_CNAMES) {
		const uint8_t *cur = ch->name[ch->n - 1];
		size_t curlen = ch->len[ch->n - 1];

		found = 0;
		off = an->off;
		for (i = 0; i < an->n && !found; i++) {
			/* whole: the first pass read every record */
			(void)rr_read(msg, len, &off, &rr);
			if (rr.type != SL_DNS_CNAME || rr.class != CLASS_IN ||
			    rr.ownerlen != curlen ||
			    memcmp(rr.owner, cur, curlen) != 0)
				continue;
			(void)read_name(msg, len, rr.rdoff, rr.rdoff + rr.rdlen,
					target, &tlen, &next);
			found = 1;
		}
		if (!found || chain_has(ch, target, tlen))
			return;
		memcpy(ch->name[ch->n], target, tlen);
		ch->len[ch->n] = tlen;
		ch->n++;
	}
}

static void
fill_addr(struct sl_dns_addr *ad, const uint8_t *msg, const struct rr *rr)
{
	memset(ad->addr, 0, sizeof(ad->addr));
	ad->family = rr->type == SL_DNS_A ? AF_INET : AF_INET6;
	memcpy(ad->addr, msg + rr->rdoff, rr->rdlen);
	ad->ttl = ttl_of(rr->ttl);
}

static void
add_addr(struct sl_dns_answer *a, const uint8_t *msg, const struct rr *rr)
{
	if (a->naddrs == SL_DNS_MAX_RECORDS) {
		a->dropped++;
		return;
	}
	fill_addr(&a->addrs[a->naddrs++], msg, rr);
}

/* An SRV record whose target is no host name sluice would look up is
 * stepped over ("." is kept: the service is not there). */
static void
add_srv(struct sl_dns_answer *a, const uint8_t *msg, size_t len,
	const struct rr *rr)
{
	uint8_t w[WIRE_NAME_MAX];
	char target[SL_DNS_NAME_MAX + 1];
	struct sl_dns_srv *s;
	size_t wlen, next;
	const uint8_t *d = msg + rr->rdoff;

	/* whole: rdata_check read it */
	(void)read_name(msg, len, rr->rdoff + 6, rr->rdoff + rr->rdlen, w,
			&wlen, &next);
	if (name_text(w, target) != 0 ||
	    (target[0] != '\0' && !sl_dnsmsg_name_ok(target)))
		return;
	if (a->nsrvs == SL_DNS_MAX_RECORDS) {
		a->dropped++;
		return;
	}
	s = &a->srvs[a->nsrvs++];
	s->priority = get16(d);
	s->weight = get16(d + 2);
	s->port = get16(d + 4);
	s->ttl = ttl_of(rr->ttl);
	memcpy(s->target, target, strlen(target) + 1);
}

/* An address record of the additional section, kept when its owner is
 * the target of a kept SRV record. */
static void
add_glue(struct sl_dns_answer *a, const uint8_t *msg, const struct rr *rr)
{
	char owner[SL_DNS_NAME_MAX + 1];
	struct sl_dns_glue *g;
	size_t i;

	/* the root is no target: "." says there is none */
	if (name_text(rr->owner, owner) != 0 || owner[0] == '\0')
		return;
	for (i = 0; i < a->nsrvs; i++)
		if (strcmp(a->srvs[i].target, owner) == 0)
			break;
	if (i == a->nsrvs)
		return;
	if (a->nglue == SL_DNS_MAX_RECORDS) {
		a->dropped++;
		return;
	}
	g = &a->glue[a->nglue++];
	memcpy(g->name, owner, strlen(owner) + 1);
	fill_addr(&g->a, msg, rr);
}

/* RFC 2308 section 5: the first SOA record of the authority section says
 * how long a negative answer holds, its MINIMUM capped by its own TTL. */
static uint32_t
negative_ttl(const uint8_t *msg, size_t len, const struct section *ns)
{
	uint8_t name[WIRE_NAME_MAX];
	struct rr rr;
	size_t off = ns->off, i, nlen, pos;
	uint32_t min, ttl;

	for (i = 0; i < ns->n; i++) {
		(void)rr_read(msg, len, &off, &rr);
		if (rr.type != SL_DNS_SOA || rr.class != CLASS_IN)
			continue;
		/* whole: rdata_check read both names and 20 bytes */
		(void)read_name(msg, len, rr.rdoff, rr.rdoff + rr.rdlen, name,
				&nlen, &pos);
		(void)read_name(msg, len, pos, rr.rdoff + rr.rdlen, name, &nlen,
				&pos);
		min = ttl_of(get32(msg + pos + 16));
		ttl = ttl_of(rr.ttl);
		return min < ttl ? min : ttl;
	}
	return 0;
}

int
sl_dnsmsg_parse(const uint8_t *p, size_t len, uint16_t id, const char *qname,
		uint16_t qtype, struct sl_dns_answer *a)
{
	uint8_t name[WIRE_NAME_MAX];
	struct section sec[3];
	struct chain ch;
	struct rr rr;
	size_t nlen, off, i;
	uint16_t flags;
	int s, r, cut = 0;

	a->rcode = SL_DNS_NOERROR;
	a->truncated = 0;
	a->negative_ttl = 0;
	a->naddrs = a->nsrvs = a->nglue = a->dropped = 0;
	if (!sl_dnsmsg_name_ok(qname) || len < HDR_LEN || get16(p) != id)
		return -1;
	flags = get16(p + 2);
	if (!(flags & F_QR) || (flags & F_OPCODE) != 0 || get16(p + 4) != 1)
		return -1;
	/* the question, as asked: lengths never exceed 63 and so are not
	 * touched by lower-casing */
	ch.len[0] = name_wire(qname, ch.name[0]);
	for (i = 0; i < ch.len[0]; i++)
		ch.name[0][i] = lower(ch.name[0][i]);
	ch.n = 1;
	if (read_name(p, len, HDR_LEN, 0, name, &nlen, &off) != 0 ||
	    nlen != ch.len[0] || memcmp(name, ch.name[0], nlen) != 0 ||
	    len - off < 4 || get16(p + off) != qtype ||
	    get16(p + off + 2) != CLASS_IN)
		return -1;
	off += 4;

	/* Every record is read once to check it and to find where a cut
	 * message stops; the passes below then read only whole ones. */
	for (s = 0; s < 3; s++) {
		uint16_t count = get16(p + 6 + 2 * s);

		sec[s].off = off;
		sec[s].n = 0;
		for (i = 0; i < count && !cut; i++) {
			r = rr_read(p, len, &off, &rr);
			if (r == E_SHORT && (flags & F_TC))
				cut = 1;
			else if (r != 0)
				return -1;
			else
				sec[s].n++;
		}
	}
	a->rcode = flags & F_RCODE;
	a->truncated = (flags & F_TC) != 0;

	if (qtype == SL_DNS_A || qtype == SL_DNS_AAAA || qtype == SL_DNS_SRV) {
		chain_follow(p, len, &sec[0], &ch);
		off = sec[0].off;
		for (i = 0; i < sec[0].n; i++) {
			(void)rr_read(p, len, &off, &rr);
			if (rr.type != qtype || rr.class != CLASS_IN ||
			    !chain_has(&ch, rr.owner, rr.ownerlen))
				continue;
			if (qtype == SL_DNS_SRV)
				add_srv(a, p, len, &rr);
			else
				add_addr(a, p, &rr);
		}
	}
	/* the targets are all known now, in whatever order the records came */
	if (a->nsrvs > 0) {
		off = sec[2].off;
		for (i = 0; i < sec[2].n; i++) {
			(void)rr_read(p, len, &off, &rr);
			if ((rr.type == SL_DNS_A || rr.type == SL_DNS_AAAA) &&
			    rr.class == CLASS_IN)
				add_glue(a, p, &rr);
		}
	}
	if (a->rcode == SL_DNS_NXDOMAIN ||
	    (a->rcode == SL_DNS_NOERROR && a->naddrs == 0 && a->nsrvs == 0))
		a->negative_ttl = negative_ttl(p, len, &sec[1]);
	return 0;
}

const char *
sl_dnsmsg_rcode_str(int rcode)
{
	/* RFC 1035 4.1.1 and RFC 2136 2.2 (the header's four bits) */
	static const char *const names[16] = {
	    "NOERROR",	"FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
	    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "RCODE11",
	    "RCODE12",	"RCODE13", "RCODE14",  "RCODE15",
	};

	return rcode >= 0 && rcode < 16 ? names[rcode] : "RCODE?";
}
