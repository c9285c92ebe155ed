/* SPDX-License-Identifier: MIT */
/* Unit tests for hdrrule.c, the header rules' compiler and writer, and
 * for the heads h1_msg.c writes with them: names refused, values split at
 * their variables, the order of remove, set and add, a listener's rules
 * then a route's, sluice's own answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "h1_msg.h"
#include "hdrrule.h"

static struct sl_h1_header hdrs[64];
static const struct sl_h1_limits lim = {8192, 32768, 64};

static void
set(struct sl_hdr_rules *r, const char *name, const char *value)
{
	size_t off, elen;

	assert_int_equal(sl_hdr_rules_field(r, name, value, strlen(value), 0, 1,
					    1, &off, &elen),
			 SL_HDR_E_OK);
}

static void
add(struct sl_hdr_rules *r, const char *name, const char *value)
{
	size_t off, elen;

	assert_int_equal(sl_hdr_rules_field(r, name, value, strlen(value), 1, 1,
					    1, &off, &elen),
			 SL_HDR_E_OK);
}

static void
rm(struct sl_hdr_rules *r, const char *name)
{
	assert_int_equal(sl_hdr_rules_remove(r, name, 1, 1), SL_HDR_E_OK);
}

/* The error of compiling value, with where it is. */
static enum sl_hdr_err
bad_value(const char *value, size_t *off, size_t *elen)
{
	struct sl_hdr_rules *r = sl_hdr_rules_new();
	enum sl_hdr_err e;

	e = sl_hdr_rules_field(r, "X-A", value, strlen(value), 0, 1, 1, off,
			       elen);
	/* refused: nothing of it is kept */
	assert_int_equal(r->nfields, e == SL_HDR_E_OK);
	assert_int_equal(r->ndrop, e == SL_HDR_E_OK);
	sl_hdr_rules_free(r);
	return e;
}

static const struct sl_hdr_vars vars = {{
    [SL_HDR_V_CLIENT_IP] = "192.0.2.7",
    [SL_HDR_V_REQUEST_ID] = "rid-1",
    [SL_HDR_V_ROUTE] = "api",
    [SL_HDR_V_CLUSTER] = "pay",
    [SL_HDR_V_TLS_VERSION] = "",
    [SL_HDR_V_TLS_CLIENT_SUBJECT] = "CN=alice,O=Example\\, Inc",
}};

static char *
written(const struct sl_hdr_rules *l, const struct sl_hdr_rules *r, int own)
{
	static char out[2048];
	struct sl_hdr_apply a;
	long n;

	if (sl_hdr_apply_set(&a, l, r) == NULL)
		return "";
	n = sl_hdr_write(out, sizeof(out) - 1, &a, &vars, own);

	assert_true(n >= 0);
	out[n] = '\0';
	return out;
}

static void
test_names_refused(void **state)
{
	static const char *const both[] = {
	    "Content-Length",
	    "transfer-encoding",
	    "Connection",
	    "Keep-Alive",
	    "TE",
	    "Trailer",
	    "Upgrade",
	    "Proxy-Connection",
	    "X-Request-Id",
	};
	static const char *const request_only[] = {
	    "Host", "Expect", "X-Forwarded-For", "x-forwarded-proto",
	    "X-Sluice-Mirror"};

	(void)state;
	for (size_t i = 0; i < sizeof(both) / sizeof(both[0]); i++) {
		assert_non_null(
		    sl_hdr_name_refused(both[i], strlen(both[i]), 1));
		assert_non_null(
		    sl_hdr_name_refused(both[i], strlen(both[i]), 0));
	}
	for (size_t i = 0; i < 5; i++) {
		const char *n = request_only[i];
		assert_non_null(sl_hdr_name_refused(n, strlen(n), 1));
		assert_null(sl_hdr_name_refused(n, strlen(n), 0));
	}
	assert_string_equal(sl_hdr_name_refused("Content-Length", 14, 0),
			    "frames the message");
	assert_string_equal(sl_hdr_name_refused("te", 2, 0), "is hop-by-hop");
	assert_string_equal(sl_hdr_name_refused("X A", 3, 0),
			    "is not a valid header name");
	assert_non_null(sl_hdr_name_refused("", 0, 0));
	/* look-alikes pass */
	assert_null(sl_hdr_name_refused("Content-Lengths", 15, 0));
	assert_null(sl_hdr_name_refused("X-Request", 9, 1));
	assert_null(sl_hdr_name_refused("Strict-Transport-Security", 25, 0));
	assert_null(sl_hdr_name_refused("Server", 6, 0));
}

static void
test_values_split_at_variables(void **state)
{
	struct sl_hdr_rules *r = sl_hdr_rules_new();
	const struct sl_hdr_field *f;

	(void)state;
	set(r, "X-A", "ip=${client_ip}, $$${route}$$");
	f = &r->fields[0];
	assert_string_equal(f->name, "X-A");
	assert_string_equal(f->lname, "x-a");
	assert_string_equal(f->text, "ip=${client_ip}, $$${route}$$");
	assert_int_equal(f->nparts, 5);
	assert_int_equal(f->parts[0].len, 3);
	assert_memory_equal(f->parts[0].lit, "ip=", 3);
	assert_null(f->parts[1].lit);
	assert_int_equal(f->parts[1].var, SL_HDR_V_CLIENT_IP);
	assert_int_equal(f->parts[2].len, 3);
	assert_memory_equal(f->parts[2].lit, ", $", 3);
	assert_int_equal(f->parts[3].var, SL_HDR_V_ROUTE);
	/* "$$" at the end is a literal part after the variable */
	assert_int_equal(f->parts[4].len, 1);
	assert_memory_equal(f->parts[4].lit, "$", 1);
	assert_int_equal(r->nfields, 1);
	assert_int_equal(r->vars,
			 (1u << SL_HDR_V_CLIENT_IP) | (1u << SL_HDR_V_ROUTE));
	assert_string_equal(written(r, NULL, 0),
			    "X-A: ip=192.0.2.7, $api$\r\n");
	sl_hdr_rules_free(r);
}

static void
test_value_errors(void **state)
{
	size_t off, elen;

	(void)state;
	assert_int_equal(bad_value("a ${clientip} b", &off, &elen),
			 SL_HDR_E_VAR);
	assert_int_equal(off, 2);
	assert_int_equal(elen, 11);
	assert_int_equal(bad_value("${}", &off, &elen), SL_HDR_E_VAR);
	assert_int_equal(bad_value("${client_ip", &off, &elen), SL_HDR_E_OPEN);
	assert_int_equal(off, 0);
	assert_int_equal(bad_value("5$", &off, &elen), SL_HDR_E_DOLLAR);
	assert_int_equal(off, 1);
	assert_int_equal(bad_value("$x", &off, &elen), SL_HDR_E_DOLLAR);
	assert_int_equal(bad_value("a\r\nX-Evil: 1", &off, &elen),
			 SL_HDR_E_CTL);
	assert_int_equal(off, 1);
	assert_int_equal(bad_value("a\nb", &off, &elen), SL_HDR_E_CTL);
	assert_int_equal(bad_value("a\x7f", &off, &elen), SL_HDR_E_CTL);
	assert_int_equal(bad_value(" a", &off, &elen), SL_HDR_E_BLANK);
	assert_int_equal(bad_value("a\t", &off, &elen), SL_HDR_E_BLANK);
	assert_int_equal(off, 1);
	/* a NUL inside the value (YAML "\0") */
	{
		struct sl_hdr_rules *r = sl_hdr_rules_new();
		assert_int_equal(sl_hdr_rules_field(r, "X-A", "a\0b", 3, 0, 1,
						    1, &off, &elen),
				 SL_HDR_E_CTL);
		sl_hdr_rules_free(r);
	}
	/* a tab inside, an empty value and obs-text are fine */
	assert_int_equal(bad_value("a\tb", &off, &elen), SL_HDR_E_OK);
	assert_int_equal(bad_value("", &off, &elen), SL_HDR_E_OK);
	assert_int_equal(bad_value("caf\xc3\xa9", &off, &elen), SL_HDR_E_OK);
}

static void
test_duplicates_and_order(void **state)
{
	struct sl_hdr_rules *r = sl_hdr_rules_new();
	size_t off, elen;

	(void)state;
	add(r, "X-B", "added");
	set(r, "X-B", "set");
	add(r, "X-C", "c");
	set(r, "X-A", "a");
	/* set: first, in the order written, then add: */
	assert_string_equal(written(r, NULL, 0), "X-B: set\r\nX-A: a\r\n"
						 "X-B: added\r\nX-C: c\r\n");
	assert_int_equal(
	    sl_hdr_rules_field(r, "x-a", "again", 5, 0, 1, 1, &off, &elen),
	    SL_HDR_E_DUP);
	rm(r, "X-Debug");
	assert_int_equal(sl_hdr_rules_remove(r, "x-DEBUG", 1, 1), SL_HDR_E_DUP);
	assert_int_equal(r->nremove, 1);
	/* remove: and set: names are dropped, add: names are not */
	assert_true(sl_hdr_rules_drop(r, "x-debug", 7));
	assert_true(sl_hdr_rules_drop(r, "X-DEBUG", 7));
	assert_true(sl_hdr_rules_drop(r, "X-b", 3));
	assert_true(sl_hdr_rules_drop(r, "x-a", 3));
	assert_false(sl_hdr_rules_drop(r, "X-C", 3));
	assert_false(sl_hdr_rules_drop(r, "X-Debu", 6));
	assert_false(sl_hdr_rules_drop(r, "X-Debugs", 8));
	assert_false(sl_hdr_rules_drop(NULL, "X-A", 3));
	sl_hdr_rules_free(r);
}

static void
test_listener_then_route(void **state)
{
	struct sl_hdr_rules *l = sl_hdr_rules_new(), *r = sl_hdr_rules_new();

	(void)state;
	set(l, "X-Tier", "gw");
	add(l, "X-Layer", "listener");
	add(l, "Via", "1.1 sluice");
	set(r, "X-Tier", "api");
	rm(r, "X-Layer");
	add(r, "Via", "1.1 api");
	/* the route's set replaces the listener's, its remove drops the
	 * listener's add, adds of both stay */
	assert_string_equal(written(l, r, 0),
			    "Via: 1.1 sluice\r\n"
			    "X-Tier: api\r\nVia: 1.1 api\r\n");
	assert_string_equal(written(l, NULL, 0),
			    "X-Tier: gw\r\nX-Layer: listener\r\n"
			    "Via: 1.1 sluice\r\n");
	assert_string_equal(written(NULL, r, 0),
			    "X-Tier: api\r\nVia: 1.1 api\r\n");
	sl_hdr_rules_free(l);
	sl_hdr_rules_free(r);
}

static void
test_empty_values_and_own_answers(void **state)
{
	struct sl_hdr_rules *r = sl_hdr_rules_new();
	char out[16];
	struct sl_hdr_apply a;

	(void)state;
	set(r, "X-Tls", "${tls_version}");
	set(r, "X-Subject", "${tls_client_subject}");
	set(r, "Content-Type", "text/plain");
	add(r, "Retry-After", "30");
	set(r, "X-Empty", "");
	/* an empty expansion writes nothing; sluice's answers keep their
	 * own Content-Type and Retry-After */
	assert_string_equal(written(r, NULL, 0),
			    "X-Subject: CN=alice,O=Example\\, Inc\r\n"
			    "Content-Type: text/plain\r\nRetry-After: 30\r\n");
	assert_string_equal(written(r, NULL, 1),
			    "X-Subject: CN=alice,O=Example\\, Inc\r\n");
	/* but set: drops the message's own all the same */
	assert_true(sl_hdr_rules_drop(r, "x-tls", 5));
	assert_true(sl_hdr_rules_drop(r, "x-empty", 7));
	/* too small a buffer */
	sl_hdr_apply_set(&a, r, NULL);
	assert_int_equal(sl_hdr_write(out, sizeof(out), &a, &vars, 0), -1);
	sl_hdr_rules_free(r);
}

static void
test_request_head_with_rules(void **state)
{
	static char out[4096];
	struct sl_hdr_rules *l = sl_hdr_rules_new(), *r = sl_hdr_rules_new();
	struct sl_hdr_apply a;
	struct sl_fwd fwd = {.client_ip = "192.0.2.7",
			     .proto = "https",
			     .request_id = "rid-1",
			     .default_host = "h",
			     .rules = &a,
			     .vars = &vars};
	struct sl_h1_request req;
	const char *raw = "POST /p HTTP/1.1\r\nHost: h\r\nX-Debug: 1\r\n"
			  "X-Env: dev\r\nx-debug: 2\r\nAccept: */*\r\n"
			  "X-Env: qa\r\nContent-Length: 2\r\n\r\n";
	long n;

	(void)state;
	set(l, "X-Client-IP", "${client_ip}");
	set(l, "X-Env", "prod");
	rm(l, "x-debug");
	add(r, "X-Route", "${route}@${cluster}");
	sl_hdr_apply_set(&a, l, r);
	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	req.max_headers = 64;
	assert_int_equal(sl_h1_parse_request(raw, strlen(raw), &req, &lim), 0);
	n = sl_h1_write_request_head(out, sizeof(out) - 1, &req, &fwd);
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "POST /p HTTP/1.1\r\nHost: h\r\n"
				 "Accept: */*\r\nContent-Length: 2\r\n"
				 "X-Forwarded-For: 192.0.2.7\r\n"
				 "X-Forwarded-Proto: https\r\n"
				 "X-Request-Id: rid-1\r\n"
				 "X-Client-IP: 192.0.2.7\r\nX-Env: prod\r\n"
				 "X-Route: api@pay\r\n\r\n");
	/* what does not fit is the caller's 431 */
	assert_int_equal(
	    sl_h1_write_request_head(out, (size_t)n - 10, &req, &fwd), -1);
	sl_hdr_rules_free(l);
	sl_hdr_rules_free(r);
}

static void
test_response_head_and_error_with_rules(void **state)
{
	static char out[4096];
	struct sl_hdr_rules *l = sl_hdr_rules_new();
	struct sl_hdr_apply a;
	struct sl_h1_response resp;
	struct sl_h1_header expose = {"X-Served-By", 11, "pay", 3, SL_HK_UNSET};
	const char *raw = "HTTP/1.1 200 OK\r\nServer: gunicorn\r\n"
			  "Content-Type: text/html\r\nX-Powered-By: PHP\r\n"
			  "x-powered-by: Express\r\nContent-Length: 2\r\n\r\n";
	long n;

	(void)state;
	set(l, "Strict-Transport-Security", "max-age=63072000");
	set(l, "Content-Type", "application/json");
	rm(l, "Server");
	rm(l, "X-Powered-By");
	sl_hdr_apply_set(&a, l, NULL);
	memset(&resp, 0, sizeof(resp));
	resp.headers = hdrs;
	resp.max_headers = 64;
	assert_int_equal(
	    sl_h1_parse_response(raw, strlen(raw), &resp, SL_M_GET), 0);
	n = sl_h1_write_response_head(out, sizeof(out) - 1, &resp, 1, 1, 0,
				      "rid-1", &expose, &a, &vars);
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out,
			    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
			    "X-Request-Id: rid-1\r\nX-Served-By: pay\r\n"
			    "Strict-Transport-Security: max-age=63072000\r\n"
			    "Content-Type: application/json\r\n"
			    "Connection: close\r\n\r\n");
	/* sluice's own answer: the rules' fields but its own Content-Type;
	 * its framing as ever */
	set(l, "Retry-After", "60");
	sl_hdr_apply_set(&a, l, NULL);
	n = sl_h1_write_error(out, sizeof(out) - 1, 503, "no_endpoint", "rid-1",
			      0, 0, 1, &a, &vars);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "\r\nStrict-Transport-Security: "
				    "max-age=63072000\r\n"));
	assert_non_null(strstr(out, "\r\nContent-Type: application/json\r\n"));
	assert_null(strstr(out, "Content-Type: application/json\r\n"
				"Content-Type"));
	assert_non_null(strstr(out, "\r\nRetry-After: 1\r\n"));
	assert_null(strstr(out, "Retry-After: 60"));
	assert_non_null(strstr(out, "\r\n\r\n{\"error\":\"no_endpoint\""));
	n = sl_h1_write_error(out, sizeof(out) - 1, 403, "forbidden", "rid-1",
			      0, 0, 1, NULL, NULL);
	out[n] = '\0';
	assert_non_null(strstr(out, "HTTP/1.1 403 Forbidden\r\n"));
	sl_hdr_rules_free(l);
}

/* ---- head blocks (hblock.h): the text's fields, structured ------------ */

/* The fields of an HTTP/1.1 head as "name=value\n" lines, without the
 * connection's (Connection, Keep-Alive, Transfer-Encoding), and what
 * follows the head. */
static void
text_fields(const char *t, long n, char *out, size_t cap, const char **body)
{
	const char *p = strstr(t, "\r\n") + 2, *end = t + n;
	size_t k = 0;

	out[0] = '\0';
	while (p < end && !(p[0] == '\r' && p[1] == '\n')) {
		const char *colon = strchr(p, ':'), *eol = strstr(p, "\r\n");
		const char *v = colon + 1;
		size_t nl = (size_t)(colon - p);
		const char *ve = eol;
		while (*v == ' ' || *v == '\t')
			v++;
		/* OWS after the value is not the value's (RFC 9110 section
		 * 5.5), as a client's parser reads it */
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (!((nl == 10 && strncasecmp(p, "Connection", 10) == 0) ||
		      (nl == 10 && strncasecmp(p, "Keep-Alive", 10) == 0) ||
		      (nl == 17 &&
		       strncasecmp(p, "Transfer-Encoding", 17) == 0)))
			k += (size_t)snprintf(out + k, cap - k, "%.*s=%.*s\n",
					      (int)nl, p, (int)(ve - v), v);
		p = eol + 2;
	}
	*body = p + 2;
}

/* The fields of a block the same way; checks its header against status
 * and returns the block's length. */
static long
block_fields(const char *b, long n, int status, char *out, size_t cap)
{
	struct sl_hblk h;
	struct sl_hblk_it it;
	const char *nm, *v;
	size_t nl, vl, k = 0, count = 0;
	char digits[4];

	sl_hblk_head(b, &h);
	assert_true(h.len <= (uint64_t)n);
	assert_int_equal(h.status, status);
	snprintf(digits, sizeof(digits), "%d", status);
	assert_memory_equal(h.digits, digits, 3);
	out[0] = '\0';
	sl_hblk_first(&it, b);
	while (sl_hblk_next(&it, &nm, &nl, &v, &vl)) {
		/* a value neither begins nor ends in white space (RFC 9113
		 * section 8.2.1) */
		assert_true(vl == 0 || (v[0] != ' ' && v[0] != '\t' &&
					v[vl - 1] != ' ' && v[vl - 1] != '\t'));
		k += (size_t)snprintf(out + k, cap - k, "%.*s=%.*s\n", (int)nl,
				      nm, (int)vl, v);
		count++;
	}
	assert_int_equal(count, h.nfields);
	assert_ptr_equal(it.p, b + h.len);
	return (long)h.len;
}

static void
test_blocks_hold_the_texts_fields(void **state)
{
	static const char *const raws[] = {
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n"
	    "Server: up\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
	    "X-Request-Id: theirs\r\nX-Served-By: old\r\n"
	    "Content-Type: application/json\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Trailer: grpc-status\r\nContent-Type: application/grpc\r\n\r\n",
	    "HTTP/1.1 404 Not Found\r\nKeep-Alive: timeout=5\r\n"
	    "X-Empty:\r\n\r\n",
	    "HTTP/1.1 204 No Content\r\n\r\n",
	    "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n",
	};
	struct sl_hdr_rules *l = sl_hdr_rules_new(), *r = sl_hdr_rules_new();
	struct sl_h1_header expose = {"X-Served-By", 11, "pay", 3, 0};
	struct sl_hdr_apply a, *ap;
	static char text[4096], blk[4096], tf[4096], bf[4096];
	const char *body;
	long n, m;

	set(l, "Strict-Transport-Security", "max-age=63072000");
	rm(l, "Server");
	set(r, "X-Client", "${client_ip}");
	add(r, "X-Via", "sluice ${route} to ${cluster}");
	set(r, "X-Tls", "${tls_version}"); /* empty: not sent */
	/* a variable that expands empty after a blank: the text's line ends
	 * in OWS, the block's value does not */
	add(r, "X-Tail", "end ${tls_version}");
	for (int with_rules = 0; with_rules < 2; with_rules++) {
		ap = with_rules ? sl_hdr_apply_set(&a, l, r) : NULL;
		for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
			struct sl_h1_response resp;
			memset(&resp, 0, sizeof(resp));
			resp.headers = hdrs;
			resp.max_headers = 64;
			assert_int_equal(sl_h1_parse_response(raws[i],
							      strlen(raws[i]),
							      &resp, SL_M_GET),
					 0);
			n = sl_h1_write_response_head(text, sizeof(text), &resp,
						      1, 0, 0, "rid-1", &expose,
						      ap, &vars);
			m = sl_h1_block_response_head(blk, sizeof(blk), &resp,
						      "rid-1", &expose, ap,
						      &vars);
			assert_true(n > 0 && m > 0);
			text_fields(text, n, tf, sizeof(tf), &body);
			assert_int_equal(
			    block_fields(blk, m, resp.status, bf, sizeof(bf)),
			    m);
			assert_string_equal(bf, tf);
			struct sl_hblk h;
			sl_hblk_head(blk, &h);
			assert_int_equal(h.body, resp.body);
			if (resp.body == SL_H1_BODY_LENGTH)
				assert_int_equal(h.length, resp.content_length);
			/* too small by a byte: refused whole, never cut */
			assert_int_equal(sl_h1_block_response_head(
					     blk, (size_t)m - 1, &resp, "rid-1",
					     &expose, ap, &vars),
					 -1);
			n = sl_h1_write_interim_head(text, sizeof(text), &resp);
			m = sl_h1_block_interim_head(blk, sizeof(blk), &resp);
			text_fields(text, n, tf, sizeof(tf), &body);
			block_fields(blk, m, resp.status, bf, sizeof(bf));
			assert_string_equal(bf, tf);
		}
		/* sluice's own answers: the same fields, the body after the
		 * block as after the blank line */
		static const int statuses[] = {404, 405, 429, 503};
		for (size_t i = 0; i < 4; i++) {
			const char *fields = statuses[i] == 429
						 ? "Retry-After: 3\r\n"
						   "RateLimit-Policy: 5;w=1\r\n"
						 : NULL;
			for (int head_only = 0; head_only < 2; head_only++) {
				struct sl_hblk h;
				n = sl_h1_write_error_fields(
				    text, sizeof(text), statuses[i], "code",
				    "rid-1", 1, head_only, 1, fields, ap,
				    &vars);
				m = sl_h1_block_error_fields(
				    blk, sizeof(blk), statuses[i], "code",
				    "rid-1", head_only, fields, ap, &vars);
				long blen;
				text_fields(text, n, tf, sizeof(tf), &body);
				blen = n - (long)(body - text);
				assert_int_equal(block_fields(blk, m,
							      statuses[i], bf,
							      sizeof(bf)),
						 m - blen);
				assert_string_equal(bf, tf);
				sl_hblk_head(blk, &h);
				assert_memory_equal(blk + h.len, body,
						    (size_t)blen);
				assert_int_equal(h.body,
						 head_only ? SL_H1_BODY_NONE
							   : SL_H1_BODY_LENGTH);
				assert_int_equal(blen, head_only ? 0 : 51);
				if (!head_only)
					assert_int_equal(h.length, blen);
			}
		}
		n = sl_h1_write_grpc_error(text, sizeof(text), 14, "no%20way",
					   "rid-1", "Retry-After: 1\r\n", ap,
					   &vars);
		m = sl_h1_block_grpc_error(blk, sizeof(blk), 14, "no%20way",
					   "rid-1", "Retry-After: 1\r\n", ap,
					   &vars);
		text_fields(text, n, tf, sizeof(tf), &body);
		block_fields(blk, m, 200, bf, sizeof(bf));
		/* the text's Content-Length frames it; the block is a
		 * trailers-only answer, which has none (doc/grpc.md) */
		{
			char *cl = strstr(tf, "Content-Length=0\n");
			assert_non_null(cl);
			memmove(cl, cl + 17, strlen(cl + 17) + 1);
		}
		assert_string_equal(bf, tf);
		assert_non_null(strstr(bf, "Grpc-Status=14\n"));
		assert_null(strstr(bf, "Content-Length"));
	}
	{
		/* an HTTP/2 tunnel's 200, made from a 101: its body runs to
		 * the end, and it has no Content-Length (RFC 9110 section
		 * 8.6) */
		static const char sw[] =
		    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		    "Connection: upgrade\r\nContent-Length: 0\r\n"
		    "Sec-WebSocket-Accept: x\r\n\r\n";
		struct sl_h1_response resp;
		memset(&resp, 0, sizeof(resp));
		resp.headers = hdrs;
		resp.max_headers = 64;
		assert_int_equal(
		    sl_h1_parse_response(sw, strlen(sw), &resp, SL_M_GET), 0);
		resp.status = 200;
		resp.body = SL_H1_BODY_CLOSE;
		m = sl_h1_block_response_head(blk, sizeof(blk), &resp, "rid-1",
					      NULL, NULL, NULL);
		block_fields(blk, m, 200, bf, sizeof(bf));
		assert_string_equal(bf, "Sec-WebSocket-Accept=x\n"
					"X-Request-Id=rid-1\n");
	}
	m = sl_h1_block_status(blk, sizeof(blk), 100);
	assert_int_equal(block_fields(blk, m, 100, bf, sizeof(bf)),
			 (long)sizeof(struct sl_hblk));
	sl_hdr_rules_free(l);
	sl_hdr_rules_free(r);
}

/* The fields of a request block as "name=value\n" lines, its :method and
 * :path first, and those of the text with Host as :authority and the
 * request line as the two pseudo-header fields. */
static void
test_request_blocks_hold_the_texts_fields(void **state)
{
	static const char *const raws[] = {
	    "POST /pay?x=1 HTTP/1.1\r\nHost: api.test\r\n"
	    "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 192.0.2.2, x\r\n"
	    "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nTE: trailers\r\n"
	    "X-Drop: 1\r\nContent-Type: application/grpc\r\n"
	    "Transfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n",
	    "GET http://abs.test:8080/a HTTP/1.1\r\nHost: abs.test:8080\r\n"
	    "Accept: */*\r\nX-Request-Id: theirs\r\n\r\n",
	    "GET /old HTTP/1.0\r\nAccept: */*\r\n\r\n",
	    "PUT /sized HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	    "Expect: 100-continue\r\nX-Subject: forged\r\n\r\n",
	};
	static const struct sl_h1_limits rl = {8192, 32768, 64};
	struct sl_hdr_rules *r = sl_hdr_rules_new();
	struct sl_hdr_apply a;
	static char text[4096], blk[4096], tf[4096], bf[4096];
	size_t k;

	set(r, "X-Rule", "r ${route} ${tls_version}");
	rm(r, "X-Drop");
	(void)state;
	for (int with_rules = 0; with_rules < 2; with_rules++) {
		for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
			struct sl_h1_request req;
			struct sl_fwd fwd = {
			    .client_ip = "10.0.0.7",
			    .proto = "https",
			    .request_id = "rid-1",
			    .default_host = "127.0.0.1:8080",
			    .subject_header = "X-Subject",
			    .subject = "CN=a",
			    .xff = SL_FWD_APPEND,
			    .rules = with_rules ? sl_hdr_apply_set(&a, NULL, r)
						: NULL,
			    .vars = &vars};
			struct sl_hblk h;
			struct sl_hblk_it it;
			const char *nm, *v, *p, *eol, *sp;
			size_t nl, vl;
			long n, m;

			memset(&req, 0, sizeof(req));
			req.headers = hdrs;
			req.max_headers = 64;
			assert_int_equal(sl_h1_parse_request(raws[i],
							     strlen(raws[i]),
							     &req, &rl),
					 0);
			n = sl_h1_write_request_head(text, sizeof(text), &req,
						     &fwd);
			m = sl_h1_block_request_head(blk, sizeof(blk), &req,
						     &fwd);
			assert_true(n > 0 && m > 0);
			/* the text's request line and fields, Host as
			 * :authority */
			eol = strstr(text, "\r\n");
			sp = memchr(text, ' ', (size_t)(eol - text));
			k = (size_t)snprintf(tf, sizeof(tf),
					     ":method=%.*s\n:path=%.*s\n",
					     (int)(sp - text), text,
					     (int)(eol - sp - 10), sp + 1);
			for (p = eol + 2; p < text + n - 2; p = eol + 2) {
				const char *c = strchr(p, ':'), *vv = c + 1;
				const char *ve;
				eol = strstr(p, "\r\n");
				while (*vv == ' ')
					vv++;
				ve = eol;
				while (ve > vv && ve[-1] == ' ')
					ve--;
				if ((size_t)(c - p) == 17 &&
				    strncasecmp(p, "Transfer-Encoding", 17) ==
					0)
					continue;
				if ((size_t)(c - p) == 4 &&
				    strncasecmp(p, "Host", 4) == 0)
					k += (size_t)snprintf(
					    tf + k, sizeof(tf) - k,
					    ":authority=%.*s\n", (int)(ve - vv),
					    vv);
				else
					k += (size_t)snprintf(
					    tf + k, sizeof(tf) - k,
					    "%.*s=%.*s\n", (int)(c - p), p,
					    (int)(ve - vv), vv);
			}
			sl_hblk_head(blk, &h);
			assert_int_equal(h.mark, SL_HBLK_MARK);
			assert_int_equal(h.len, m);
			assert_int_equal(h.status, 0);
			assert_int_equal(h.body, req.body);
			if (req.body == SL_H1_BODY_LENGTH)
				assert_int_equal(h.length, req.content_length);
			k = 0;
			sl_hblk_first(&it, blk);
			while (sl_hblk_next(&it, &nm, &nl, &v, &vl))
				k += (size_t)snprintf(bf + k, sizeof(bf) - k,
						      "%.*s=%.*s\n", (int)nl,
						      nm, (int)vl, v);
			assert_string_equal(bf, tf);
			/* a byte short: refused whole */
			assert_int_equal(sl_h1_block_request_head(
					     blk, (size_t)m - 1, &req, &fwd),
					 -1);
		}
	}
	sl_hdr_rules_free(r);
}

/* Credentials' names: the built-in ones in any case, the file's own
 * (lower-cased, as conf keeps them), and nothing that merely contains
 * one. */
static void
test_secret_names(void **state)
{
	static const char *const yes[] = {
	    "Authorization",
	    "authorization",
	    "PROXY-AUTHORIZATION",
	    "Cookie",
	    "Set-Cookie",
	    "X-Api-Key",
	    "api-key",
	    "Apikey",
	    "X-Auth-Token",
	    "x-access-token",
	    "X-Amz-Security-Token",
	    "X-Vault-Token",
	    /* by a word anywhere, as the WAF's log has always masked */
	    "X-Authorization-Id",
	    "Cookies",
	    "X-Session-Id",
	    "X-Client-Secret",
	    "X-Refresh-Token",
	    "Pin",
	    "json.card.pin",
	    "REQUEST_HEADERS:Authorization",
	};
	static const char *const no[] = {
	    "X-Api",
	    "Accept",
	    "",
	    "X-Key",
	    "Shipping",
	    "X-Pinned",
	    "X-Request-Id",
	    "REQUEST_HEADERS:Host",
	    "X-Tok",
	    "X-Internal-Key",
	};
	const char *const extra[] = {"x-partner-key", "x-key2"};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(
		    sl_hdr_name_secret(yes[i], strlen(yes[i]), NULL, 0));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(sl_hdr_name_secret(no[i], strlen(no[i]), NULL, 0));
	assert_false(sl_hdr_name_secret("X-Partner-Key", 13, NULL, 0));
	assert_true(sl_hdr_name_secret("X-Partner-Key", 13, extra, 2));
	assert_true(sl_hdr_name_secret("X-KEY2", 6, extra, 2));
	assert_false(sl_hdr_name_secret("X-Key", 5, extra, 2));
	/* a name's length is what is compared, not a prefix */
	assert_false(sl_hdr_name_secret("Cookie", 3, NULL, 0));
	/* a secret_headers name as the WAF names its field: the part past
	 * the variable's last ':', whole */
	assert_true(
	    sl_hdr_name_secret("REQUEST_HEADERS:x-partner-key", 29, extra, 2));
	assert_true(
	    sl_hdr_name_secret("REQUEST_HEADERS:X-Vault-Token", 29, NULL, 0));
	assert_false(
	    sl_hdr_name_secret("REQUEST_HEADERS:X-Partner-Key", 29, NULL, 0));
	assert_false(
	    sl_hdr_name_secret("REQUEST_HEADERS:X-Partner-Key2", 30, extra, 2));
	assert_false(sl_hdr_name_secret("X-Partner-Key:Host", 18, extra, 2));
}

/* A credential as shown: one '*' a byte, cut at the buffer. */
static void
test_starred(void **state)
{
	char b[8];

	(void)state;
	assert_string_equal(sl_hdr_starred(b, sizeof(b), 0), "");
	assert_string_equal(sl_hdr_starred(b, sizeof(b), 3), "***");
	assert_string_equal(sl_hdr_starred(b, sizeof(b), 7), "*******");
	assert_string_equal(sl_hdr_starred(b, sizeof(b), 19), "*******");
	b[0] = 'x';
	sl_hdr_starred(b, 0, 5); /* no room: untouched */
	assert_int_equal(b[0], 'x');
}

/* A field of a credential's name is marked (what /config stars), by the
 * built-in names or the rules' secret_names, whatever its value; its
 * value is still written as given. */
static void
test_secret_fields(void **state)
{
	const char *const extra[] = {"x-partner-key"};
	struct sl_hdr_rules *r = sl_hdr_rules_new();
	char out[512];
	struct sl_hdr_apply a;
	long n;

	(void)state;
	r->secret_names = extra;
	r->nsecret_names = 1;
	set(r, "Authorization", "Bearer tok123");
	set(r, "X-Partner-Key", "k-${request_id}");
	add(r, "Cookie", "a=b");
	set(r, "X-Env", "prod");
	for (size_t i = 0; i < r->nfields; i++)
		assert_int_equal(r->fields[i].secret,
				 strcmp(r->fields[i].name, "X-Env") != 0);
	assert_non_null(sl_hdr_apply_set(&a, NULL, r));
	n = sl_hdr_write(out, sizeof(out) - 1, &a, &vars, 0);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "Authorization: Bearer tok123\r\n"));
	assert_non_null(strstr(out, "Cookie: a=b\r\n"));
	sl_hdr_rules_free(r);
	/* without secret_names, the file's own name is no credential */
	r = sl_hdr_rules_new();
	set(r, "X-Partner-Key", "k");
	assert_false(r->fields[0].secret);
	sl_hdr_rules_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_refused),
	    cmocka_unit_test(test_values_split_at_variables),
	    cmocka_unit_test(test_value_errors),
	    cmocka_unit_test(test_duplicates_and_order),
	    cmocka_unit_test(test_listener_then_route),
	    cmocka_unit_test(test_empty_values_and_own_answers),
	    cmocka_unit_test(test_request_head_with_rules),
	    cmocka_unit_test(test_response_head_and_error_with_rules),
	    cmocka_unit_test(test_blocks_hold_the_texts_fields),
	    cmocka_unit_test(test_request_blocks_hold_the_texts_fields),
	    cmocka_unit_test(test_secret_names),
	    cmocka_unit_test(test_starred),
	    cmocka_unit_test(test_secret_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
