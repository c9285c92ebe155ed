/* SPDX-License-Identifier: MIT */
/*
 * The WAF's rules and transactions on libmodsecurity3 (waf.h). One
 * ModSecurity instance for the process, made at the first load; rule sets
 * counted, freed by their last user (a generation, or a WAF thread still
 * inspecting a request of an old one).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdrrule.h"
#include "pan.h"
#include "waf.h"

/* ---- messages: pure, with or without the library ----------------------- */

/* The value of the message's only `[key "` field: its start in *v, its
 * length returned; -1 when absent or not alone (a forged copy of the
 * marker in a matched value or the target makes the message ambiguous:
 * none of it is trusted). */
static long
field(const char *s, size_t n, const char *key, const char **v)
{
	char mark[24];
	size_t ml = (size_t)snprintf(mark, sizeof(mark), "[%s \"", key);
	const char *p = NULL, *e;

	for (size_t i = 0; i + ml <= n; i++)
		if (s[i] == '[' && memcmp(s + i, mark, ml) == 0) {
			if (p != NULL)
				return -1;
			p = s + i + ml;
		}
	if (p == NULL)
		return -1;
	for (e = p; e + 1 < s + n && !(e[0] == '"' && e[1] == ']'); e++)
		;
	if (e + 1 >= s + n)
		return -1;
	*v = p;
	return e - p;
}

/* Copies v (vl bytes) into out (outsz), printable ASCII only. */
static void
copy_text(char *out, size_t outsz, const char *v, long vl)
{
	size_t o = 0;

	for (long i = 0; i < vl && o + 1 < outsz; i++) {
		unsigned char c = (unsigned char)v[i];
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = '\0';
}

/* A name's byte: what a field or a JSON key is made of. */
static int
name_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* A quote as ModSecurity writes one: '"', or the text "\x22". Returns
 * its length at s (up to end), 0 when none. */
static size_t
quote_at(const char *s, const char *end)
{
	if (s < end && (*s == '"' || *s == '\''))
		return 1;
	if (end - s >= 4 && memcmp(s, "\\x22", 4) == 0)
		return 4;
	return 0;
}

/* Every "NAME=VALUE", "NAME: VALUE" or JSON "NAME":"VALUE" in s (n
 * bytes) whose NAME says it is a credential (sl_hdr_name_secret, with
 * the secret_headers extra[0..ne)) gets its VALUE starred, its length
 * kept: a target's "token=...", a form body's, a JSON body matched whole
 * (REQUEST_BODY), a header line. */
static void
mask_pairs(char *s, size_t n, const char *const *extra, size_t ne)
{
	const char *end = s + n;
	char *p = s;

	while (p < end) {
		char *b = p, *q;
		size_t k;
		int eq;
		if (!name_byte(*p)) {
			p++;
			continue;
		}
		while (p < end && name_byte(*p))
			p++;
		if (!sl_hdr_name_secret(b, (size_t)(p - b), extra, ne))
			continue;
		q = p + quote_at(p, end);
		while (q < end && *q == ' ')
			q++;
		if (q >= end || (*q != '=' && *q != ':'))
			continue;
		eq = *q++ == '=';
		while (q < end && *q == ' ')
			q++;
		/* a quoted value to its closing quote, spaces and commas
		 * included ("Bearer eyJ..."); a bare one to the end of its
		 * pair (a form's has no space), a header's (NAME: VALUE) to
		 * the end of the text */
		if ((k = quote_at(q, end)) > 0)
			for (q += k; q < end && !quote_at(q, end); q++)
				*q = '*';
		else
			for (; q < end && strchr(eq ? "&;,}]\"' " : "&;,}]\"'",
						 *q) == NULL;
			     q++)
				*q = '*';
		p = q;
	}
}

void
sl_waf_mask_data(char *s, size_t n)
{
	sl_waf_mask_data_as(s, n, NULL, 0);
}

void
sl_waf_mask_data_as(char *s, size_t n, const char *const *extra, size_t ne)
{
	static const char within[] = " found within ";
	const char *p = NULL, *end = s + n;

	for (size_t i = 0; i + sizeof(within) - 1 <= n; i++)
		if (memcmp(s + i, within, sizeof(within) - 1) == 0) {
			p = s + i + sizeof(within) - 1;
			break;
		}
	if (p != NULL) {
		/* "VARIABLE:NAME: value", or "VARIABLE: value" without a
		 * name (REQUEST_URI): the name is past VARIABLE's ':' when
		 * no space follows it, and ends at ": " */
		const char *c = memchr(p, ':', (size_t)(end - p));
		if (c != NULL && c + 1 < end && c[1] != ' ') {
			const char *name = c + 1, *e = name;
			while (e + 1 < end && !(e[0] == ':' && e[1] == ' '))
				e++;
			/* a JSON argument's name is its path: json.a.token */
			if (e + 1 < end &&
			    sl_hdr_name_secret(name, (size_t)(e - name), extra,
					       ne)) {
				char v[96];
				snprintf(v, sizeof(v), "%.*s",
					 (int)(e - p < 80 ? e - p : 80), p);
				snprintf(s, n + 1,
					 "Matched Data: * found within %s: *",
					 v);
				return;
			}
		}
	}
	mask_pairs(s, n, extra, ne);
	(void)sl_pan_mask(s, n, 0);
}

int
sl_waf_msg_score(const char *msg)
{
	const char *p = strstr(msg, "Total Score: ");
	int v = 0, any = 0;

	if (p == NULL)
		return -1;
	for (p += 13; *p >= '0' && *p <= '9' && v < 100000; p++, any = 1)
		v = v * 10 + (*p - '0');
	return any ? v : -1;
}

int
sl_waf_parse_msg(const char *s, size_t n, struct sl_waf_hit *h)
{
	return sl_waf_parse_msg_as(s, n, h, NULL, 0);
}

int
sl_waf_parse_msg_as(const char *s, size_t n, struct sl_waf_hit *h,
		    const char *const *extra, size_t ne)
{
	const char *v;
	long vl;
	uint32_t id = 0;

	memset(h, 0, sizeof(*h));
	h->severity = 255;
	if ((vl = field(s, n, "id", &v)) <= 0 || vl > 9)
		return 0;
	for (long i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		id = id * 10 + (uint32_t)(v[i] - '0');
	}
	h->id = id;
	if ((vl = field(s, n, "msg", &v)) >= 0)
		copy_text(h->msg, sizeof(h->msg), v, vl);
	if ((vl = field(s, n, "data", &v)) >= 0) {
		static const char against[] = "against variable `";
		/* only in the text before the rule's [file "...", which
		 * the library writes (a matched value comes after the
		 * variable, and the data after [file) */
		const char *fm = memmem(s, n, "[file \"", 7);
		const char *a = memmem(s, fm != NULL ? (size_t)(fm - s) : 0,
				       against, sizeof(against) - 1);
		copy_text(h->data, sizeof(h->data), v, vl);
		/* the variable the rule matched, as the message names it
		 * before the data (which a long match cuts before its
		 * "found within"): a credential's, none of it kept */
		if (a != NULL) {
			const char *vn = a + sizeof(against) - 1, *ve;
			ve = memchr(vn, '\'', n - (size_t)(vn - s));
			if (ve != NULL && ve - vn < 128 &&
			    sl_hdr_name_secret(vn, (size_t)(ve - vn), extra,
					       ne)) {
				snprintf(h->data, sizeof(h->data),
					 "Matched Data: * found within %.*s: *",
					 (int)(ve - vn), vn);
				for (char *c = h->data; *c != '\0'; c++)
					if ((unsigned char)*c < 0x20 ||
					    (unsigned char)*c >= 0x7f)
						*c = '?';
				vl = -1;
			}
		}
	}
	if (vl >= 0) {
		/* cut: a card number's end may be lost, so mask it as cut */
		sl_waf_mask_data_as(h->data, strlen(h->data), extra, ne);
		if ((size_t)vl >= sizeof(h->data))
			(void)sl_pan_mask(h->data, strlen(h->data), 1);
	}
	if ((vl = field(s, n, "severity", &v)) == 1 && v[0] >= '0' &&
	    v[0] <= '7')
		h->severity = (uint8_t)(v[0] - '0');
	return 1;
}

/* untyped_body's values, by enum sl_waf_untyped (refuse has none) */
static const char *const untyped_names[] = {
    NULL, "application/json", "application/xml",
    "application/x-www-form-urlencoded", "application/octet-stream"};

const char *
sl_waf_untyped_name(enum sl_waf_untyped u)
{
	return (size_t)u < sizeof(untyped_names) / sizeof(untyped_names[0])
		   ? untyped_names[u]
		   : NULL;
}

int
sl_waf_untyped_parse(const char *s, size_t n)
{
	for (size_t i = 1; i < sizeof(untyped_names) / sizeof(untyped_names[0]);
	     i++)
		if (strlen(untyped_names[i]) == n &&
		    strncasecmp(s, untyped_names[i], n) == 0)
			return (int)i;
	return -1;
}

#ifdef HAVE_MODSECURITY

#include <modsecurity/intervention.h>
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <pthread.h>

/* Drops what ends a processor's message and says nothing: its line's
 * end and spaces, raw or as ModSecurity escapes them ("...not
 * enabled.\x0a"), so that the WAF log's body_error ends with its last
 * word (issue 77). */
static void
trim_end(char *s)
{
	size_t n = strlen(s);

	for (;;) {
		if (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
			n--;
		else if (n >= 4 && (memcmp(s + n - 4, "\\x0a", 4) == 0 ||
				    memcmp(s + n - 4, "\\x0d", 4) == 0 ||
				    memcmp(s + n - 4, "\\x0A", 4) == 0 ||
				    memcmp(s + n - 4, "\\x0D", 4) == 0 ||
				    memcmp(s + n - 4, "\\x09", 4) == 0 ||
				    memcmp(s + n - 4, "\\x20", 4) == 0))
			n -= 4;
		else
			break;
		s[n] = '\0';
	}
}

struct sl_waf_rules {
	RulesSet *set;
	atomic_uint refs;
};

static ModSecurity *msc;
static pthread_once_t msc_once = PTHREAD_ONCE_INIT;

/* One transaction's callback data: its result, and the names whose
 * values its hits mask besides the built-in ones (the input's, which
 * outlives the transaction). */
struct run {
	struct sl_waf_result *out;
	const struct sl_waf_input *in;
};

/* A hit added to the result, once a rule id: its id kept (up to
 * SL_WAF_IDS), and all of it among the first SL_WAF_HITS; its data
 * masked with the names extra[0..ne) besides the built-in ones. */
static void
add_hit(struct sl_waf_result *r, const char *s, size_t n,
	const char *const *extra, size_t ne)
{
	struct sl_waf_hit h;
	int score;

	if (!sl_waf_parse_msg_as(s, n, &h, extra, ne)) {
		r->unparsed++;
		return;
	}
	for (unsigned i = 0; i < r->nids; i++)
		if (r->ids[i] == h.id)
			return;
	if ((score = sl_waf_msg_score(h.msg)) >= 0 && score > r->score)
		r->score = score;
	if (h.id == SL_WAF_RULE_BODY || h.id == SL_WAF_RULE_MULTIPART ||
	    h.id == SL_WAF_RULE_QUOTE || h.id == SL_WAF_RULE_UNTYPED) {
		r->body_error = 1;
		if (r->body_why[0] == '\0') {
			memcpy(r->body_why, h.data, sizeof(r->body_why));
			trim_end(r->body_why);
		}
	}
	if (r->nids < SL_WAF_IDS)
		r->ids[r->nids++] = h.id;
	else
		r->ids_left++;
	if (r->nhits < SL_WAF_HITS)
		r->hits[r->nhits++] = h;
	else
		r->more++;
}

/* ModSecurity's messages, on the thread that runs the transaction: data is
 * the transaction's struct run. */
static void
on_log(void *data, const void *msg)
{
	const struct run *x = data;

	if (x != NULL && msg != NULL)
		add_hit(x->out, msg, strlen(msg), x->in->secret_names,
			x->in->nsecret_names);
}

static void
msc_make(void)
{
	msc = msc_init();
	if (msc == NULL)
		return;
	msc_set_connector_info(msc, "sluice");
	msc_set_log_cb(msc, on_log);
}

int
sl_waf_available(void)
{
	return 1;
}

const char *
sl_waf_version(void)
{
	return "libmodsecurity " MODSECURITY_VERSION
	       " (the headers built with)";
}

/*
 * sluice's own directives, before the operator's files: the engine on (a
 * route's mode decides what an intervention does, not the rules), the
 * body inspected (sluice bounds it: body_limit), the response never (not
 * given to the library), and JSON and XML bodies, which ModSecurity
 * leaves to the server's configuration (without these rules their fields
 * are no ARGS, no XML nodes, and most rules never see them), sent to their
 * processors. The ids are waf.h's SL_WAF_RULE_*, in sluice's range.
 */
static const char own_rules[] =
    "SecRuleEngine On\n"
    "SecRequestBodyAccess On\n"
    "SecRequestBodyLimit 1073741824\n"
    "SecRequestBodyNoFilesLimit 1073741824\n"
    "SecRequestBodyLimitAction ProcessPartial\n"
    "SecResponseBodyAccess Off\n"
    "SecRule REQUEST_HEADERS:Content-Type "
    "\"@rx ^application/(?:[a-z0-9.+-]+\\+)?json(?:\\s*;|\\s*$)\" "
    "\"id:77001,phase:1,pass,nolog,noauditlog,t:none,t:lowercase,"
    "ctl:requestBodyProcessor=JSON\"\n"
    "SecRule REQUEST_HEADERS:Content-Type "
    "\"@rx ^(?:application|text)/(?:[a-z0-9.+-]+\\+)?xml(?:\\s*;|\\s*$)\" "
    "\"id:77002,phase:1,pass,nolog,noauditlog,t:none,t:lowercase,"
    "ctl:requestBodyProcessor=XML\"\n"
    /* the markup targets (own_markup) are for XML bodies only: a JSON
     * or form body's raw text is read through its arguments already,
     * and its quotes and colons are no markup. Phase 2, first: the
     * processor is settled, whoever chose it */
    "SecRule REQBODY_PROCESSOR \"!@streq XML\" "
    "\"id:77006,phase:2,pass,nolog,noauditlog,t:none,"
    "ctl:ruleRemoveTargetById=941110;REQUEST_BODY,"
    "ctl:ruleRemoveTargetById=941120;REQUEST_BODY\"\n";

/*
 * A body sent without a Content-Type, on a route that names the type to
 * parse it as (untyped_body): to that type's processor, as 77001 and
 * 77002 do for a named one. Most JSON APIs parse a body as JSON whatever
 * its type says; without this the rules would read it raw, and only the
 * few that read REQUEST_BODY would see it.
 */
static const char *const untyped_processor[] = {NULL, "JSON", "XML",
						"URLENCODED", NULL};

/*
 * After the files, before the route's exclusions (which may take them
 * away again, rule by rule): what an XML body's processor leaves out.
 * The rules read an XML body as the text of its nodes (their XML
 * target, every node from the root), so its markup (<script> as an
 * element, an onerror attribute) and every attribute's value were read
 * by no rule (issue 77). The Core Rule Set's attack rules get the
 * attribute values (XML://@*, values as the text nodes are: a
 * javascript: URI, an injection), and the two XSS rules that find
 * what runs in markup whatever the element's name, 941110 (a script
 * element) and 941120 (an on...= event handler), the raw body. Not its
 * others, which read element names as HTML: libinjection (941100) and
 * 941130 take any xmlns attribute for an attack, 941180 any comment or
 * CDATA section, 941140 a <meta> or <form> element, 941160 any name
 * that begins like an HTML one (<format>, <styleId>, <param name=..>),
 * 941101, 941330 and 941340 (paranoia 2) ordinary documents. With the
 * two, a SOAP envelope, an invoice and a payment document score what
 * they score without them at paranoia 1 to 4. A rule set without these
 * ids or tags is left as it is.
 */
static const char own_markup[] =
    "SecRuleUpdateTargetById 941110 \"REQUEST_BODY\"\n"
    "SecRuleUpdateTargetById 941120 \"REQUEST_BODY\"\n"
    "SecRuleUpdateTargetByTag \"attack-xss\" \"XML://@*\"\n"
    "SecRuleUpdateTargetByTag \"attack-sqli\" \"XML://@*\"\n"
    "SecRuleUpdateTargetByTag \"attack-rce\" \"XML://@*\"\n"
    "SecRuleUpdateTargetByTag \"attack-lfi\" \"XML://@*\"\n"
    "SecRuleUpdateTargetByTag \"attack-rfi\" \"XML://@*\"\n"
    "SecRuleUpdateTargetByTag \"attack-injection-php\" \"XML://@*\"\n"
    "SecRuleUpdateTargetByTag \"attack-injection-nodejs\" \"XML://@*\"\n";

/*
 * Last, on a route that names no type for it: a body without a
 * Content-Type is refused with 415 (in detect mode, logged). The rules
 * read such a body raw, and the Core Rule Set only notes it (920340, a
 * notice), while the application behind may well parse it as JSON: one
 * header left out would pass any attack in it. No body (none sent, or
 * body_limit: 0) is nothing unread.
 */
static const char own_untyped[] =
    "SecRule &REQUEST_HEADERS:Content-Type \"@eq 0\" "
    "\"id:77007,phase:2,deny,status:415,log,t:none,"
    "msg:'Request body without a Content-Type',"
    "logdata:'a body of %{REQUEST_BODY_LENGTH} bytes and no Content-Type "
    "(waf.untyped_body names the type to parse it as)',chain\"\n"
    "SecRule REQUEST_BODY_LENGTH \"@rx ^[1-9]\" \"t:none\"\n";

/*
 * And after them: the engine and the body's access once more (a rule file
 * copied from modsecurity.conf-recommended says DetectionOnly, which would
 * turn a route's block into a silent pass), then the body's checks, last
 * in phase 2 so that the rules have scored what the processor did read: a
 * body its processor gave up on (a comment in JSON, trailing data, a
 * truncated document, a byte order mark) left its fields unseen, which a
 * lenient application parser would read; a multipart body that two
 * parsers may split differently (data before the first boundary or after
 * the last, a bare LF line, folded or badly quoted part headers, an
 * invalid part) is refused, and so is a part header
 * whose quoted value never closes (libmodsecurity 3.0.9 reads past the
 * header's end there, so whether its flags notice depends on the bytes
 * after it: 77005 looks at the header itself, first, so that the log
 * names that cause whenever it is the cause). All are
 * denied with 400, whatever the operator's files say, and the WAF log
 * line says why: the processor's message, the multipart flags. No body
 * is nothing unread: a request that names XML or JSON and sends none
 * (whose processor fails on the empty document) goes on. A flag, an
 * error or a length is a count the library wrote (std::to_string) or
 * nothing, when no multipart body or no body was read: "@rx ^[1-9]" is
 * its "!@eq 0", without the exception libmodsecurity's @eq throws and
 * catches (std::stoi) for each empty value: eight a GET, 150,000
 * instructions (doc/performance.md, "WAF GET inside libmodsecurity").
 */
static const char own_last[] =
    "SecRuleEngine On\n"
    "SecRequestBodyAccess On\n"
    "SecRequestBodyLimit 1073741824\n"
    "SecRequestBodyNoFilesLimit 1073741824\n"
    "SecRequestBodyLimitAction ProcessPartial\n"
    "SecRule MULTIPART_PART_HEADERS "
    "\"@rx (?i)^content-disposition\\s*:.*=\\s*\\\"(?:[^\\\"\\\\\\\\]|"
    "\\\\\\\\.)*$\" "
    "\"id:77005,phase:2,deny,status:400,log,t:none,"
    "msg:'Multipart part header with a quote never closed',"
    "logdata:'%{MATCHED_VAR}'\"\n"
    "SecRule MULTIPART_DATA_BEFORE|MULTIPART_DATA_AFTER|MULTIPART_LF_LINE|"
    "MULTIPART_HEADER_FOLDING|MULTIPART_INVALID_HEADER_FOLDING|"
    "MULTIPART_INVALID_QUOTING|MULTIPART_INVALID_PART \"@rx ^[1-9]\" "
    "\"id:77003,phase:2,deny,status:400,log,t:none,"
    "msg:'Multipart request body failed strict validation',"
    "logdata:'%{REQBODY_ERROR_MSG} flags: part=%{MULTIPART_INVALID_PART} "
    "quoting=%{MULTIPART_INVALID_QUOTING} before=%{MULTIPART_DATA_BEFORE} "
    "after=%{MULTIPART_DATA_AFTER} lf=%{MULTIPART_LF_LINE} "
    "folding=%{MULTIPART_HEADER_FOLDING}%{MULTIPART_INVALID_HEADER_FOLDING} "
    "semicolon=%{MULTIPART_MISSING_SEMICOLON} "
    "boundary=%{MULTIPART_BOUNDARY_QUOTED}%{MULTIPART_BOUNDARY_WHITESPACE}'"
    "\"\n"
    "SecRule REQBODY_ERROR \"@rx ^[1-9]\" "
    "\"id:77004,phase:2,deny,status:400,log,t:none,"
    "msg:'Request body could not be parsed',"
    "logdata:'%{REQBODY_ERROR_MSG}',chain\"\n"
    "SecRule REQUEST_BODY_LENGTH \"@rx ^[1-9]\" \"t:none\"\n";

/* Drops a last '"' that closes no quote of the text: the directive's
 * own, which ModSecurity's parser errors end with. */
static void
stray_quote(char *s)
{
	size_t n = strlen(s), q = 0;

	for (size_t i = 0; i < n; i++)
		q += s[i] == '"';
	if (n > 0 && s[n - 1] == '"' && q % 2 == 1) {
		s[--n] = '\0';
		while (n > 0 && s[n - 1] == ' ')
			s[--n] = '\0';
	}
}

/* ModSecurity's error ("Rules error. File: F. Line: L. Column: C. Invalid
 * input: ...") as "F:L: ..." in err. */
static void
rules_error(const char *e, const char *file, char *err, size_t errsz)
{
	const char *f = e != NULL ? strstr(e, "File: ") : NULL;
	const char *l = e != NULL ? strstr(e, ". Line: ") : NULL;
	const char *rest;

	if (e == NULL) {
		snprintf(err, errsz, "%s: the rules could not be loaded", file);
		return;
	}
	if (f != NULL && l != NULL && l > f) {
		rest = strchr(l + 8, '.');
		rest = rest != NULL ? rest + 1 : "";
		while (*rest == ' ')
			rest++;
		/* the column's clause, if there, is not worth a line */
		if (strncmp(rest, "Column: ", 8) == 0) {
			const char *dot = strchr(rest, '.');
			rest = dot != NULL ? dot + 1 : "";
		}
		while (*rest == ' ')
			rest++;
		if (l - f - 6 > 0)
			snprintf(err, errsz, "%.*s:%d: %s", (int)(l - f - 6),
				 f + 6, atoi(l + 8), rest);
		else /* no name said: the file being loaded */
			snprintf(err, errsz, "%s:%d: %s", file, atoi(l + 8),
				 rest);
	} else if (f != NULL && (l = strstr(f, " at line: ")) != NULL) {
		/* "Rules must have an ID. File: <not a name> at line: 2" */
		snprintf(err, errsz, "%s:%d: %.*s", file, atoi(l + 10),
			 (int)(f - e), e);
	} else
		snprintf(err, errsz, "%s: %s", file, e);
	/* one line, without a trailing space, nor the quote that closed the
	 * directive ModSecurity quotes the end of ("got:  nosuchaction\"") */
	for (char *p = err; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	for (size_t n = strlen(err); n > 0 && err[n - 1] == ' '; n--)
		err[n - 1] = '\0';
	stray_quote(err);
}

struct sl_waf_rules *
sl_waf_rules_load(const char *const *files, size_t nfiles, const char *after,
		  char *err, size_t errsz)
{
	return sl_waf_rules_load_as(files, nfiles, after, SL_WAF_UNTYPED_REFUSE,
				    err, errsz);
}

struct sl_waf_rules *
sl_waf_rules_load_as(const char *const *files, size_t nfiles, const char *after,
		     enum sl_waf_untyped untyped, char *err, size_t errsz)
{
	struct sl_waf_rules *r;
	const char *e = NULL;
	char as[160];

	pthread_once(&msc_once, msc_make);
	if (msc == NULL || (r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	atomic_init(&r->refs, 1);
	if ((r->set = msc_create_rules_set()) == NULL) {
		free(r);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	as[0] = '\0';
	if ((size_t)untyped <
		sizeof(untyped_processor) / sizeof(untyped_processor[0]) &&
	    untyped_processor[untyped] != NULL)
		snprintf(as, sizeof(as),
			 "SecRule &REQUEST_HEADERS:Content-Type \"@eq 0\" "
			 "\"id:%d,phase:1,pass,nolog,noauditlog,t:none,"
			 "ctl:requestBodyProcessor=%s\"\n",
			 SL_WAF_RULE_UNTYPED_AS, untyped_processor[untyped]);
	if (msc_rules_add(r->set, own_rules, &e) < 0 ||
	    (as[0] != '\0' && msc_rules_add(r->set, as, &e) < 0)) {
		rules_error(e, "sluice's own directives", err, errsz);
		goto fail;
	}
	for (size_t i = 0; i < nfiles; i++) {
		e = NULL;
		if (msc_rules_add_file(r->set, files[i], &e) < 0) {
			rules_error(e, files[i], err, errsz);
			goto fail;
		}
	}
	if (msc_rules_add(r->set, own_markup, &e) < 0) {
		rules_error(e, "sluice's own directives", err, errsz);
		goto fail;
	}
	if (after != NULL && after[0] != '\0' &&
	    msc_rules_add(r->set, after, &e) < 0) {
		rules_error(e, "the route's exclusions", err, errsz);
		goto fail;
	}
	if (msc_rules_add(r->set, own_last, &e) < 0 ||
	    (untyped == SL_WAF_UNTYPED_REFUSE &&
	     msc_rules_add(r->set, own_untyped, &e) < 0)) {
		rules_error(e, "sluice's own directives", err, errsz);
		goto fail;
	}
	return r;
fail:
	/* the library's message is ours to free */
	free((char *)e);
	msc_rules_cleanup(r->set);
	free(r);
	return NULL;
}

void
sl_waf_rules_ref(struct sl_waf_rules *r)
{
	atomic_fetch_add(&r->refs, 1);
}

void
sl_waf_rules_unref(struct sl_waf_rules *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	msc_rules_cleanup(r->set);
	free(r);
}

void
sl_waf_run(struct sl_waf_rules *rules, const struct sl_waf_input *in,
	   struct sl_waf_result *out)
{
	ModSecurityIntervention it;
	Transaction *tx;
	struct run x = {out, in};

	memset(out, 0, offsetof(struct sl_waf_result, hits));
	out->score = -1;
	/* with sluice's request id: no id of the library's to make (a
	 * third of a transaction's setup) */
	tx = in->id != NULL ? msc_new_transaction_with_id(msc, rules->set,
							  (char *)in->id, &x)
			    : msc_new_transaction(msc, rules->set, &x);
	if (tx == NULL) {
		out->error = 1;
		return;
	}
	msc_process_connection(tx, in->client_ip, in->client_port,
			       in->server_ip, in->server_port);
	msc_process_uri(tx, in->uri, in->method, in->version);
	for (size_t i = 0; i < in->nfields; i++)
		msc_add_n_request_header(
		    tx, (const unsigned char *)in->fields[i].name,
		    in->fields[i].nlen,
		    (const unsigned char *)in->fields[i].value,
		    in->fields[i].vlen);
	msc_process_request_headers(tx);
	memset(&it, 0, sizeof(it));
	it.status = 200;
	/* a phase 1 intervention ends it: the body is not looked at */
	if (msc_intervention(tx, &it) == 0) {
		if (in->body != NULL && in->blen > 0)
			msc_append_request_body(
			    tx, (const unsigned char *)in->body, in->blen);
		msc_process_request_body(tx);
		memset(&it, 0, sizeof(it));
		it.status = 200;
		(void)msc_intervention(tx, &it);
	}
	/* a body cut at body_limit (partial) ends where no processor expects
	 * it to: its failure there is the cut's (the fields read before it
	 * were inspected); any other intervention stands, and one whose
	 * message is not trusted is not taken for this one */
	if (it.disruptive && in->cut && it.log != NULL) {
		struct sl_waf_hit h;
		if (sl_waf_parse_msg(it.log, strlen(it.log), &h) &&
		    h.id == SL_WAF_RULE_BODY)
			it.disruptive = 0;
	}
	if (it.disruptive) {
		out->intervention = 1;
		out->status =
		    it.status >= 400 && it.status <= 599 ? it.status : 403;
	}
	if (it.log != NULL) {
		add_hit(out, it.log, strlen(it.log), in->secret_names,
			in->nsecret_names);
		free(it.log);
	}
	free(it.url);
	if (in->logging)
		msc_process_logging(tx);
	msc_transaction_cleanup(tx);
}

#else /* !HAVE_MODSECURITY */

struct sl_waf_rules {
	int unused;
};

int
sl_waf_available(void)
{
	return 0;
}

const char *
sl_waf_version(void)
{
	return "libmodsecurity: none (./configure --without-modsecurity: no "
	       "WAF)";
}

struct sl_waf_rules *
sl_waf_rules_load(const char *const *files, size_t nfiles, const char *after,
		  char *err, size_t errsz)
{
	return sl_waf_rules_load_as(files, nfiles, after, SL_WAF_UNTYPED_REFUSE,
				    err, errsz);
}

struct sl_waf_rules *
sl_waf_rules_load_as(const char *const *files, size_t nfiles, const char *after,
		     enum sl_waf_untyped untyped, char *err, size_t errsz)
{
	(void)untyped;
	snprintf(err, errsz,
		 "this sluice was built without libmodsecurity "
		 "(./configure --with-modsecurity; Debian: "
		 "libmodsecurity-dev)");
	return NULL;
}

void
sl_waf_rules_ref(struct sl_waf_rules *r)
{
}

void
sl_waf_rules_unref(struct sl_waf_rules *r)
{
}

void
sl_waf_run(struct sl_waf_rules *rules, const struct sl_waf_input *in,
	   struct sl_waf_result *out)
{
	memset(out, 0, sizeof(*out));
	out->error = 1;
}

#endif
