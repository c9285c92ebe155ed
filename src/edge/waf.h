/* SPDX-License-Identifier: MIT */
/*
 * The WAF's rules and transactions (doc/operations.md, "A WAF for PCI DSS
 * 6.4.2"), on libmodsecurity3: rule sets loaded (at start and at each
 * reload, on the main thread) and shared read-only by every worker, and one
 * request's inspection, run on a worker's WAF thread (tpool.h), never on
 * its loop. Without libmodsecurity (./configure --without-modsecurity) the
 * loader says so and nothing else is there.
 *
 * What a rule matched reaches sluice as ModSecurity's text messages; the
 * parts kept (rule id, message, severity, the matched data) are taken out
 * of them here, the matched data with card numbers masked and the values
 * of credential fields replaced (sl_waf_mask_data).
 */
#ifndef SL_WAF_H
#define SL_WAF_H

#include <stddef.h>
#include <stdint.h>

/* 1 when this build has the WAF. */
int sl_waf_available(void);
/* What -V says of it: the library's version, or that there is none. */
const char *sl_waf_version(void);

/* A loaded rule set: shared, read-only, counted. */
struct sl_waf_rules;

/*
 * sluice's own rules (doc/operations.md, 15.2): JSON and XML bodies to
 * their processors (phase 1, before the files), a body without a
 * Content-Type to the processor the route names (untyped_body), an XML
 * body's markup kept to XML bodies (phase 2, before the files: the
 * Core Rule Set's markup rules read an XML body raw, its attack rules
 * its attribute values), and, after the files (phase 2, once the rules
 * have scored), a multipart body that fails strict validation or has a
 * quote never closed in a part's header, or a body its processor could
 * not parse, denied with 400, and a body without a Content-Type on a
 * route that names no type for it, denied with 415. The range is
 * sluice's: a route's exclude cannot name it.
 */
#define SL_WAF_RULE_JSON       77001
#define SL_WAF_RULE_XML	       77002
#define SL_WAF_RULE_MULTIPART  77003
#define SL_WAF_RULE_BODY       77004
#define SL_WAF_RULE_QUOTE      77005
#define SL_WAF_RULE_MARKUP     77006
#define SL_WAF_RULE_UNTYPED    77007
#define SL_WAF_RULE_UNTYPED_AS 77008
#define SL_WAF_RULE_FIRST      77000
#define SL_WAF_RULE_LAST       77099

/* What a route's rules do with a body sent without a Content-Type
 * (waf: untyped_body). */
enum sl_waf_untyped {
	SL_WAF_UNTYPED_REFUSE = 0, /* 415 (rule SL_WAF_RULE_UNTYPED) */
	SL_WAF_UNTYPED_JSON,	   /* parsed as application/json */
	SL_WAF_UNTYPED_XML,	   /* as application/xml */
	SL_WAF_UNTYPED_FORM,	   /* as a form (urlencoded) */
	SL_WAF_UNTYPED_RAW,	   /* inspected raw (octet-stream): only the
				      rules that read REQUEST_BODY see it */
};

/* The untyped_body value's type for u, as sluice.yaml(5) spells it;
 * NULL for SL_WAF_UNTYPED_REFUSE. Pure. */
const char *sl_waf_untyped_name(enum sl_waf_untyped u);
/* The value for a type (n bytes), or -1: not a type the WAF parses. */
int sl_waf_untyped_parse(const char *s, size_t n);

/*
 * Loads a rule set: sluice's own directives first (the engine on, the
 * body's access, JSON and XML bodies to their processors), then the files
 * in order, then the targets sluice adds to the files' rules (an XML
 * body's markup), then `after` (directives, NUL-terminated, or NULL: a
 * route's exclusions, which may take those targets away again), then
 * sluice's last directives (the engine and the body's access again, the
 * body's parse checks, a body without a type). Returns the set (one
 * reference), or NULL with err (errsz bytes) saying why: "FILE:LINE:
 * MESSAGE" when ModSecurity named the place.
 */
struct sl_waf_rules *sl_waf_rules_load(const char *const *files, size_t nfiles,
				       const char *after, char *err,
				       size_t errsz);
/* The same, with what the set does with a body sent without a
 * Content-Type (sl_waf_rules_load: refused). */
struct sl_waf_rules *sl_waf_rules_load_as(const char *const *files,
					  size_t nfiles, const char *after,
					  enum sl_waf_untyped untyped,
					  char *err, size_t errsz);
void sl_waf_rules_ref(struct sl_waf_rules *r);
void sl_waf_rules_unref(struct sl_waf_rules *r);

/* A request field, as the client sent it. */
struct sl_waf_field {
	const char *name, *value;
	uint32_t nlen, vlen;
};

/* One request's inspection: what the rules see. */
struct sl_waf_input {
	const char *client_ip, *server_ip; /* NUL-terminated */
	int client_port, server_port;
	const char *method, *uri, *version; /* NUL-terminated; "1.1", "2.0" */
	const struct sl_waf_field *fields;
	size_t nfields;
	const char *body; /* its first blen bytes; NULL: no body phase data */
	size_t blen;
	int logging;	/* run the logging phase (ModSecurity's audit log) */
	const char *id; /* the request's id, ModSecurity's unique_id (the
			   audit log's lines and the access log's meet);
			   NULL: the library makes one */
	int cut;	/* body is the first blen bytes of a longer one
			   (on_body_limit: partial): its processor's failure
			   there (rule SL_WAF_RULE_BODY) is the cut's, no
			   verdict */
	/* the configuration's secret_headers (lower-cased): values of
	 * these fields are masked in the hits too (sl_waf_mask_data_as);
	 * borrowed, alive until sl_waf_run returns */
	const char *const *secret_names;
	size_t nsecret_names;
};

#define SL_WAF_HITS 8 /* rule matches kept whole a request */
#define SL_WAF_IDS                                                             \
	128		    /* rule ids kept a request: the WAF log line's     \
			       "rules", each at most 10 bytes of it */
#define SL_WAF_MSG_MAX	128 /* a match's message kept */
#define SL_WAF_DATA_MAX 160 /* a match's data kept, masked */

/* A rule that matched. */
struct sl_waf_hit {
	uint32_t id;
	uint8_t severity; /* 0 (emergency) .. 7; 255: not said */
	char msg[SL_WAF_MSG_MAX];
	char data[SL_WAF_DATA_MAX];
};

/* What the rules said. Its size is fixed: a request that trips every
 * rule costs no more memory than one that trips nine. */
struct sl_waf_result {
	int error;	   /* the library could not inspect (no memory) */
	int intervention;  /* the rules stop the request */
	int status;	   /* the intervention's status (403 when none said) */
	int score;	   /* the inbound anomaly score said, -1: none */
	unsigned nhits;	   /* hits kept whole */
	unsigned more;	   /* rules matched past SL_WAF_HITS: ids only */
	unsigned nids;	   /* ids kept: every rule that matched, in order */
	unsigned ids_left; /* rules matched past SL_WAF_IDS, counted only
			      (at least: one past the bound matching twice
			      is counted twice) */
	unsigned unparsed; /* messages not trusted (a forged marker in
			      a matched value or the target), counted */
	int body_error;	   /* the body's processor failed, or a multipart
			      body failed strict validation (sluice's rules
			      SL_WAF_RULE_BODY, _MULTIPART, _QUOTE) */
	char body_why[SL_WAF_DATA_MAX]; /* what that rule's message said */
	struct sl_waf_hit hits[SL_WAF_HITS];
	uint32_t ids[SL_WAF_IDS];
};

/*
 * Inspects one request with rules: its connection, request line and
 * fields (phase 1), then its body (phase 2, run even without one: the
 * Core Rule Set decides there), then, with in->logging, phase 5. Thread
 * safe: any thread, any number at once on one rule set. out's fields up
 * to hits are set; hits[] and ids[] past nhits and nids are not.
 */
void sl_waf_run(struct sl_waf_rules *rules, const struct sl_waf_input *in,
		struct sl_waf_result *out);

/*
 * Reads one ModSecurity message (n bytes: "... [id \"942100\"] [msg
 * \"...\"] [data \"...\"] [severity \"2\"] ...") into h, the data masked
 * (sl_waf_mask_data_as, with extra[0..ne)). Returns 1 when it names a
 * rule id, else 0. Pure. sl_waf_parse_msg: with no extra names.
 */
int sl_waf_parse_msg(const char *s, size_t n, struct sl_waf_hit *h);
int sl_waf_parse_msg_as(const char *s, size_t n, struct sl_waf_hit *h,
			const char *const *extra, size_t ne);

/*
 * Masks a matched data text in place (NUL-terminated, n bytes): card
 * numbers (pan.h), and, when it says which field matched ("... found
 * within ARGS:card_token: ..." or "REQUEST_HEADERS:Authorization"), the
 * whole text when that field's name holds a credential by
 * sl_hdr_name_secret (hdrrule.h: the built-in names, extra[0..ne) — the
 * configuration's secret_headers, lower-cased — and the words token,
 * password, secret, cvv, cvc, api key, authorization, cookie, session),
 * and a "NAME=VALUE" or "NAME: VALUE" pair's value by the same rule.
 * Pure. sl_waf_mask_data: with no extra names.
 */
void sl_waf_mask_data(char *s, size_t n);
void sl_waf_mask_data_as(char *s, size_t n, const char *const *extra,
			 size_t ne);

/* The anomaly score a message says ("(Total Score: 10)"), or -1. Pure. */
int sl_waf_msg_score(const char *msg);

#endif
