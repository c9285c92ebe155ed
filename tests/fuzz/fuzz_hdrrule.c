/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for header rules (hdrrule.c) and the heads written with
 * them (h1_msg.c). The input is rule lines, a blank line, then a message
 * head: "S name value" (set), "A name value" (add), "R name" (remove), and
 * "--" between the listener's rules and the route's; a first line "resp"
 * makes the head a response. Rules the compiler refuses are dropped, as a
 * configuration would be. What is written must parse again, with the same
 * start line and framing; no field a rule removes may be left but those
 * the rules write; every field a rule of the route sets or adds is there.
 * A head block (hblock.h, for HTTP/2) holds the text's fields but the
 * connection's, with the same status and framing; a request's, its
 * request line as :method and :path and Host as :authority.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "hdrrule.h"

#define MAXH  64
#define MAXH2 4096 /* fields of a written head: the rules' too */

static const struct sl_hdr_vars vars = {{
    [SL_HDR_V_CLIENT_IP] = "192.0.2.7",
    [SL_HDR_V_REQUEST_ID] = "0123456789abcdef",
    [SL_HDR_V_ROUTE] = "api",
    [SL_HDR_V_CLUSTER] = "pay-v2",
    [SL_HDR_V_TLS_VERSION] = "TLSv1.3",
    [SL_HDR_V_TLS_CLIENT_SUBJECT] = "CN=alice,O=Example\\, Inc",
}};

/* Compiles one rule line into r (request: the direction's names). */
static void
rule_line(struct sl_hdr_rules *r, const char *line, size_t n, int request)
{
	char name[128];
	const char *sp, *value = "";
	size_t nl, off, elen;

	if (n < 3 || line[1] != ' ')
		return;
	line += 2;
	n -= 2;
	sp = memchr(line, ' ', n);
	nl = sp != NULL ? (size_t)(sp - line) : n;
	if (nl == 0 || nl >= sizeof(name) || memchr(line, '\0', nl) != NULL)
		return;
	memcpy(name, line, nl);
	name[nl] = '\0';
	if (sl_hdr_name_refused(name, nl, request) != NULL)
		return;
	if (line[-2] == 'R') {
		(void)sl_hdr_rules_remove(r, name, 1, 1);
		return;
	}
	if (sp != NULL)
		value = sp + 1;
	(void)sl_hdr_rules_field(r, name, value, sp != NULL ? n - nl - 1 : 0,
				 line[-2] == 'A', 1, 1, &off, &elen);
}

/* Whether the field name[0..len) is one r writes. */
static int
written_by(const struct sl_hdr_rules *r, const char *name, size_t len)
{
	for (size_t i = 0; r != NULL && i < r->nfields; i++)
		if (r->fields[i].name_len == len &&
		    strncasecmp(r->fields[i].name, name, len) == 0)
			return 1;
	return 0;
}

/* The checks on a head written with the rules of a. */
static void
check_fields(const struct sl_hdr_apply *a, const struct sl_h1_header *h,
	     size_t n)
{
	const struct sl_hdr_rules *r = a->r[1];

	for (size_t i = 0; i < n; i++)
		if (sl_hdr_drops(a, h[i].name, h[i].name_len))
			CHECK(written_by(a->r[0], h[i].name, h[i].name_len) ||
			      written_by(a->r[1], h[i].name, h[i].name_len));
	/* the route's fields with a value are all there, as expanded */
	for (size_t i = 0; r != NULL && i < r->nfields; i++) {
		const struct sl_hdr_field *f = &r->fields[i];
		char v[1024];
		size_t vl = 0, k;

		for (size_t j = 0; j < f->nparts; j++) {
			const char *s = f->parts[j].lit;
			size_t l = f->parts[j].len;
			if (s == NULL) {
				s = vars.v[f->parts[j].var];
				l = strlen(s);
			}
			if (vl + l > sizeof(v))
				return;
			memcpy(v + vl, s, l);
			vl += l;
		}
		if (vl == 0)
			continue;
		for (k = 0; k < n; k++)
			if (h[k].name_len == f->name_len &&
			    strncasecmp(h[k].name, f->name, f->name_len) == 0 &&
			    h[k].value_len == vl &&
			    memcmp(h[k].value, v, vl) == 0)
				break;
		CHECK(k < n);
	}
}

static void
request(const char *head, size_t len, const struct sl_hdr_apply *a)
{
	static char out[160 * 1024], blk[160 * 1024];
	struct sl_h1_limits lim = {8192, 65536, MAXH};
	static struct sl_h1_header h2[MAXH2];
	struct sl_h1_header h[MAXH];
	struct sl_h1_request req, again;
	struct sl_fwd fwd = {.client_ip = "192.0.2.7",
			     .proto = "http",
			     .request_id = "0123456789abcdef",
			     .default_host = "127.0.0.1:8080",
			     .rules = a,
			     .vars = &vars};
	struct sl_h1_limits lim2 = {65536, sizeof(out), MAXH2};
	long n;

	memset(&req, 0, sizeof(req));
	req.headers = h;
	req.max_headers = MAXH;
	if (sl_h1_parse_request(head, len, &req, &lim) != 0)
		return;
	n = sl_h1_write_request_head(out, sizeof(out), &req, &fwd);
	if (n < 0)
		return;
	/* and into every smaller buffer: -1, never past it */
	for (size_t cap = (size_t)n; cap-- > 0 && cap + 64 > (size_t)n;)
		CHECK(sl_h1_write_request_head(out, cap, &req, &fwd) == -1);
	n = sl_h1_write_request_head(out, sizeof(out), &req, &fwd);
	memset(&again, 0, sizeof(again));
	again.headers = h2;
	again.max_headers = MAXH2;
	CHECK(sl_h1_parse_request(out, (size_t)n, &again, &lim2) == 0);
	CHECK(again.method_id == req.method_id);
	CHECK(again.body == req.body);
	CHECK(again.content_length == req.content_length);
	CHECK(again.path_len == req.path_len &&
	      memcmp(again.path, req.path, req.path_len) == 0);
	check_fields(a, h2, again.nheaders);
	/* as a head block (HTTP/2 upstreams): :method and :path first, then
	 * the text's fields in order, Host as :authority, no
	 * Transfer-Encoding; and -1 in a buffer a byte too small */
	if (fwd.upgrade == NULL) {
		struct sl_hblk hb;
		struct sl_hblk_it it;
		const char *nm, *v;
		size_t nl, vl, i = 0;
		long nb =
		    sl_h1_block_request_head(blk, sizeof(blk), &req, &fwd);

		CHECK(nb > 0);
		CHECK(sl_h1_block_request_head(blk, (size_t)nb - 1, &req,
					       &fwd) == -1);
		nb = sl_h1_block_request_head(blk, sizeof(blk), &req, &fwd);
		sl_hblk_head(blk, &hb);
		CHECK(hb.mark == SL_HBLK_MARK && hb.len == (uint64_t)nb &&
		      hb.status == 0 && hb.body == req.body);
		sl_hblk_first(&it, blk);
		CHECK(sl_hblk_next(&it, &nm, &nl, &v, &vl) && nl == 7 &&
		      vl == again.method_len &&
		      memcmp(v, again.method, vl) == 0);
		CHECK(sl_hblk_next(&it, &nm, &nl, &v, &vl) && nl == 5 &&
		      vl == again.path_len && memcmp(v, again.path, vl) == 0);
		while (sl_hblk_next(&it, &nm, &nl, &v, &vl)) {
			while (i < again.nheaders &&
			       sl_h1_ieq(h2[i].name, h2[i].name_len,
					 "transfer-encoding"))
				i++;
			CHECK(i < again.nheaders);
			if (sl_h1_ieq(h2[i].name, h2[i].name_len, "host"))
				CHECK(nl == 10 &&
				      memcmp(nm, ":authority", 10) == 0);
			else
				CHECK(h2[i].name_len == nl &&
				      memcmp(h2[i].name, nm, nl) == 0);
			CHECK(h2[i].value_len == vl &&
			      memcmp(h2[i].value, v, vl) == 0);
			i++;
		}
		while (
		    i < again.nheaders &&
		    sl_h1_ieq(h2[i].name, h2[i].name_len, "transfer-encoding"))
			i++;
		CHECK(i == again.nheaders);
	}
}

/* The head block of the same head holds the text's fields, in order,
 * but the connection's (Connection, Keep-Alive, Transfer-Encoding), and
 * its status and framing. */
static void
check_block(const char *b, long n, const struct sl_h1_response *text,
	    int status, int body, uint64_t length)
{
	struct sl_hblk h;
	struct sl_hblk_it it;
	const char *nm, *v;
	size_t nl, vl, i = 0, count = 0;

	CHECK(n >= (long)sizeof(h));
	sl_hblk_head(b, &h);
	CHECK(h.len <= (uint64_t)n && h.status == status && h.body == body);
	CHECK(body != SL_H1_BODY_LENGTH || h.length == length);
	sl_hblk_first(&it, b);
	while (sl_hblk_next(&it, &nm, &nl, &v, &vl)) {
		while (
		    i < text->nheaders &&
		    (sl_h1_ieq(text->headers[i].name, text->headers[i].name_len,
			       "connection") ||
		     sl_h1_ieq(text->headers[i].name, text->headers[i].name_len,
			       "keep-alive") ||
		     sl_h1_ieq(text->headers[i].name, text->headers[i].name_len,
			       "transfer-encoding")))
			i++;
		CHECK(i < text->nheaders);
		CHECK(text->headers[i].name_len == nl &&
		      memcmp(text->headers[i].name, nm, nl) == 0);
		CHECK(text->headers[i].value_len == vl &&
		      memcmp(text->headers[i].value, v, vl) == 0);
		i++;
		count++;
	}
	CHECK(it.p == b + h.len && count == h.nfields);
}

static void
response(const char *head, size_t len, const struct sl_hdr_apply *a)
{
	static char out[160 * 1024], blk[160 * 1024];
	static struct sl_h1_header h2[MAXH2];
	struct sl_h1_header h[MAXH];
	struct sl_h1_response resp, again;
	const char *e;
	long n, nb;

	memset(&resp, 0, sizeof(resp));
	resp.headers = h;
	resp.max_headers = MAXH;
	if (sl_h1_parse_response(head, len, &resp, SL_M_GET) != 0 ||
	    resp.status < 200)
		return;
	n = sl_h1_write_response_head(out, sizeof(out), &resp, 1, 0, 0,
				      "0123456789abcdef", NULL, a, &vars);
	if (n < 0)
		return;
	memset(&again, 0, sizeof(again));
	again.headers = h2;
	again.max_headers = MAXH2;
	CHECK(sl_h1_parse_response(out, (size_t)n, &again, SL_M_GET) == 0);
	CHECK(again.status == resp.status);
	CHECK(again.body == resp.body);
	CHECK(again.content_length == resp.content_length);
	check_fields(a, h2, again.nheaders);
	/* as a head block (HTTP/2): the same fields, and -1 in a buffer a
	 * byte too small */
	nb = sl_h1_block_response_head(blk, sizeof(blk), &resp,
				       "0123456789abcdef", NULL, a, &vars);
	CHECK(nb > 0);
	check_block(blk, nb, &again, resp.status, resp.body,
		    resp.content_length);
	CHECK(sl_h1_block_response_head(blk, (size_t)nb - 1, &resp,
					"0123456789abcdef", NULL, a,
					&vars) == -1);
	/* sluice's own answer with the same rules: it parses, and keeps
	 * its own Content-Type */
	n = sl_h1_write_error(out, sizeof(out), 503, "no_endpoint",
			      "0123456789abcdef", 0, 0, 1, a, &vars);
	CHECK(n > 0);
	e = memmem(out, (size_t)n, "\r\n\r\n", 4);
	CHECK(e != NULL);
	memset(&again, 0, sizeof(again));
	again.headers = h2;
	again.max_headers = MAXH2;
	CHECK(sl_h1_parse_response(out, (size_t)(e + 4 - out), &again,
				   SL_M_GET) == 0);
	CHECK(again.status == 503 && again.body == SL_H1_BODY_LENGTH);
	CHECK(again.content_length == (uint64_t)(out + n - (e + 4)));
	for (size_t i = 0; i < again.nheaders; i++)
		if (sl_h1_ieq(h2[i].name, h2[i].name_len, "content-type"))
			CHECK(sl_h1_ieq(h2[i].value, h2[i].value_len,
					"application/json"));
	nb = sl_h1_block_error_fields(blk, sizeof(blk), 503, "no_endpoint",
				      "0123456789abcdef", 0, NULL, a, &vars);
	check_block(blk, nb, &again, 503, SL_H1_BODY_LENGTH,
		    again.content_length);
	CHECK(memcmp(blk + nb - (long)again.content_length, e + 4,
		     again.content_length) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *end = buf + size, *p = buf;
	struct sl_hdr_rules *r[2] = {sl_hdr_rules_new(), sl_hdr_rules_new()};
	struct sl_hdr_apply a;
	int k = 0, resp = 0;

	if (size > 65536 || r[0] == NULL || r[1] == NULL)
		goto out;
	if (size >= 5 && memcmp(buf, "resp\n", 5) == 0) {
		resp = 1;
		p += 5;
	}
	/* rule lines up to a blank line; the rest is the head */
	while (p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		if (n == 2 && p[0] == '-' && p[1] == '-')
			k = 1;
		else
			rule_line(r[k], p, n, !resp);
		p += n + (nl != NULL);
	}
	if (p < end)
		p++;
	if (sl_hdr_apply_set(&a, r[0], r[1]) == NULL ||
	    a.nfields > MAXH2 - MAXH - 16)
		goto out;
	if (resp)
		response(p, (size_t)(end - p), &a);
	else
		request(p, (size_t)(end - p), &a);
out:
	sl_hdr_rules_free(r[0]);
	sl_hdr_rules_free(r[1]);
	return 0;
}
