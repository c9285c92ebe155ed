/* SPDX-License-Identifier: MIT */
/*
 * Header rules (request_headers: and response_headers: of a listener or a
 * route, doc/edge.md section 5): compiled once, at load, into the names
 * whose fields a message loses and the fields it gains, their values split
 * into literal and variable parts; applied while a head is written
 * (h1_msg.c), not as a second pass. Pure: no I/O, and no allocation but
 * while compiling.
 */
#ifndef SL_HDRRULE_H
#define SL_HDRRULE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The variables a value may hold, ${name}. */
enum sl_hdr_var {
	SL_HDR_V_CLIENT_IP = 0,	     /* the request's client address */
	SL_HDR_V_REQUEST_ID,	     /* X-Request-Id */
	SL_HDR_V_ROUTE,		     /* the route's name, "" before routing */
	SL_HDR_V_CLUSTER,	     /* the cluster chosen, "" before */
	SL_HDR_V_TLS_VERSION,	     /* "TLSv1.3"; "" on plain HTTP */
	SL_HDR_V_TLS_CLIENT_SUBJECT, /* verified client certificate's
					subject; "" without one */
	SL_HDR_V_N,
};

/*
 * The values of the variables for one message, never NULL ("" for none)
 * for those the rules use. None of them can hold CR, LF or NUL, so no expansion
 * can split a field: an address and a request id are checked characters
 * (sl_h1_request_id_ok or generated), route and cluster names are checked at
 * load, the TLS version is OpenSSL's constant, and a subject has its control
 * bytes replaced by sl_tls_peer_subject.
 */
struct sl_hdr_vars {
	const char *v[SL_HDR_V_N];
};

/* A piece of a value: literal bytes, or a variable. */
struct sl_hdr_part {
	const char *lit; /* into the field's lit; NULL for a variable */
	uint32_t len;	 /* bytes of lit */
	uint8_t var;	 /* enum sl_hdr_var when lit is NULL */
};

/* A field a rule writes (set: or add:). Owned by its rules. */
struct sl_hdr_field {
	char *name; /* as written */
	size_t name_len;
	char *lname; /* lower-cased */
	char *text;  /* the value as written (for /config) */
	char *lit;   /* the literal bytes of the value, "$$" as "$" */
	struct sl_hdr_part *parts;
	size_t nparts;
	/* what is written: "Name: ", and for a value without variables
	 * the value and CRLF too, the whole field */
	char *wire;
	size_t wire_len;
	size_t fixed;	    /* bytes of the field but its variables' */
	int nvars;	    /* variable parts */
	int add;	    /* 1: add:, 0: set: */
	int own_clash;	    /* a field sluice's own answers carry
			       (Content-Type, Allow, Retry-After): not
			       written on them */
	int secret;	    /* a credential's name (sl_hdr_name_secret):
			       its value is never shown, only its length */
	unsigned line, col; /* of the name in the file, 0 = unknown */
};

/* A remove: of the file. */
struct sl_hdr_removal {
	char *name;	    /* as written */
	unsigned line, col; /* in the file, 0 = unknown */
};

/* A name whose fields a message loses (remove:, and set:'s names). */
struct sl_hdr_drop {
	char *name; /* lower-cased */
	size_t len;
};

/* The rules of one direction of one listener or route. Immutable once
 * compiled; owned by the configuration generation. */
struct sl_hdr_rules {
	struct sl_hdr_removal *remove; /* remove:, in the order written */
	size_t nremove;
	struct sl_hdr_drop *drop; /* remove:'s names, then set:'s */
	size_t ndrop;
	uint64_t drop_lens; /* bit len % 64 set for each drop name: most
			       fields are passed by one test */
	struct sl_hdr_field *fields; /* set: in the order written, then
					add: */
	size_t nfields;
	unsigned vars; /* 1 << enum sl_hdr_var for each variable used */
	/* when no field holds a variable (the usual: security headers),
	 * every field's wire in order, written by one copy; else NULL */
	char *block;
	size_t block_len;
	int own_clash; /* a field has own_clash */
	/* the configuration's secret_headers, lower-cased, besides the
	 * built-in credential names; set before the fields are added
	 * (borrowed: the generation's) */
	const char *const *secret_names;
	size_t nsecret_names;
};

/*
 * The rules that apply to one direction of a route's messages: its
 * listener's, then its own (the route's apply after the listener's),
 * either NULL, with what the writer needs of both together. Made once, at
 * load (sl_hdr_apply_set).
 */
struct sl_hdr_apply {
	const struct sl_hdr_rules *r[2];
	uint64_t drop_lens; /* r[0]'s | r[1]'s */
	size_t nfields;	    /* r[0]'s + r[1]'s */
	unsigned vars_used; /* r[0]'s | r[1]'s: 1 << enum sl_hdr_var */
	/* the fields when one set has them all, without variables: its
	 * block (NULL otherwise) */
	const char *block;
	size_t block_len;
	int own_clash; /* a field is not written on sluice's answers */
};

/* ---- compiling (at load) --------------------------------------------- */

/* A new empty set of rules, or NULL (out of memory). */
struct sl_hdr_rules *sl_hdr_rules_new(void);

/* Frees r and what it holds; takes NULL. */
void sl_hdr_rules_free(struct sl_hdr_rules *r);

/*
 * Why no rule may name the field name[0..len) in a request (request set)
 * or a response: a sentence to follow the quoted name ("is hop-by-hop"),
 * or NULL when a rule may. Refused: what is not a token, the fields that
 * frame a message or are hop-by-hop, and the fields sluice writes itself
 * (X-Request-Id; on requests Host, Expect, X-Forwarded-For,
 * X-Forwarded-Proto and a mirror copy's X-Sluice-Mirror). The
 * configuration's own names (client_subject_header, expose_cluster_header)
 * are the caller's to check.
 */
const char *sl_hdr_name_refused(const char *name, size_t len, int request);

/*
 * Whether the field name[0..len) holds a credential, whose value nothing
 * may show (a message, /config, the WAF's log): sluice's one rule for it,
 * which they all call. A name is one when it is a built-in name
 * (Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key,
 * Api-Key, Apikey, X-Auth-Token, X-Access-Token, X-Amz-Security-Token,
 * X-Vault-Token) or one of extra[0..n) (the configuration's
 * secret_headers, lower-cased), whole or as the part past a WAF
 * variable's last ':' (REQUEST_HEADERS:X-Partner-Key); or when it holds
 * one of the words token, password, passwd, secret, cvv, cvc, api_key,
 * apikey, api-key, authorization, cookie, session, sessid anywhere, or
 * "pin" as a whole part (json.card.pin). Case-insensitive; pure.
 * doc/sluice.yaml.5, secret_headers.
 */
int sl_hdr_name_secret(const char *name, size_t len, const char *const *extra,
		       size_t n);

/* A copy of s[0..n) lower-cased (ASCII), NUL-terminated; the caller
 * frees it. NULL: no memory. */
char *sl_hdr_lower_dup(const char *s, size_t n);

/*
 * A credential's value of len bytes as shown instead of it: one '*' a
 * byte, its length kept, as the WAF's log masks one (doc/operations.md),
 * into out[0..cap), cut at cap - 1 bytes. Returns out.
 */
char *sl_hdr_starred(char *out, size_t cap, size_t len);

/* What went wrong in a value (sl_hdr_rules_field). */
enum sl_hdr_err {
	SL_HDR_E_OK = 0,
	SL_HDR_E_NOMEM,
	SL_HDR_E_VAR,	 /* an unknown variable: its name at off, len */
	SL_HDR_E_OPEN,	 /* "${" without "}" (at off) */
	SL_HDR_E_DOLLAR, /* a "$" neither "$$" nor "${" (at off) */
	SL_HDR_E_CTL,	 /* a control byte other than HTAB (at off) */
	SL_HDR_E_BLANK,	 /* a blank at the start or the end */
	SL_HDR_E_DUP,	 /* the name is set (or added) already */
};

/*
 * Adds a field: set: (add 0) or add: (add 1) name (a name
 * sl_hdr_name_refused accepts) with value[0..len). line and col are
 * kept for the caller's messages. Returns SL_HDR_E_OK, or the error with
 * *off and *elen locating it in value.
 */
enum sl_hdr_err sl_hdr_rules_field(struct sl_hdr_rules *r, const char *name,
				   const char *value, size_t len, int add,
				   unsigned line, unsigned col, size_t *off,
				   size_t *elen);

/* Adds remove: name. Returns SL_HDR_E_OK, SL_HDR_E_DUP (named already)
 * or SL_HDR_E_NOMEM. */
enum sl_hdr_err sl_hdr_rules_remove(struct sl_hdr_rules *r, const char *name,
				    unsigned line, unsigned col);

/* The name of variable v ("client_ip"), or NULL. */
const char *sl_hdr_var_name(int v);

/* Points a at a listener's rules l and a route's r (either NULL).
 * Returns a, or NULL when both are NULL. */
struct sl_hdr_apply *sl_hdr_apply_set(struct sl_hdr_apply *a,
				      const struct sl_hdr_rules *l,
				      const struct sl_hdr_rules *r);

/* ---- applying (per message) ------------------------------------------ */

/* Whether rules r drop the message's own fields named name[0..len). */
static inline int
sl_hdr_rules_drop(const struct sl_hdr_rules *r, const char *name, size_t len)
{
	if (r == NULL || !(r->drop_lens & ((uint64_t)1 << (len & 63))))
		return 0;
	for (size_t i = 0; i < r->ndrop; i++) {
		const char *d = r->drop[i].name;
		size_t k;
		if (r->drop[i].len != len)
			continue;
		for (k = 0; k < len; k++) {
			unsigned char ch = (unsigned char)name[k];
			if (ch >= 'A' && ch <= 'Z')
				ch += 32;
			if (ch != (unsigned char)d[k])
				break;
		}
		if (k == len)
			return 1;
	}
	return 0;
}

/* Whether a message's own field named name[0..len) is left out: a rule
 * of either set removes or replaces it. */
static inline int
sl_hdr_drops(const struct sl_hdr_apply *a, const char *name, size_t len)
{
	/* most fields leave at the first test */
	if (!(a->drop_lens & ((uint64_t)1 << (len & 63))))
		return 0;
	return sl_hdr_rules_drop(a->r[0], name, len) ||
	       sl_hdr_rules_drop(a->r[1], name, len);
}

/*
 * Writes the fields the rules of a add, "Name: value" CRLF each, into
 * out[0..cap): the listener's set: and add: fields (but those whose name
 * the route's rules drop), then the route's, with the values of vars (for
 * the variables a->vars_used names). A field whose value is empty once
 * expanded is not written (its set: still drops the message's own). With
 * own (sluice's own answers), the fields that clash with the answer's
 * (own_clash) are left out. Returns the bytes written, or -1 when they do
 * not fit.
 */
long sl_hdr_write_fields(char *out, size_t cap, const struct sl_hdr_apply *a,
			 const struct sl_hdr_vars *vars, int own);

static inline long
sl_hdr_write(char *out, size_t cap, const struct sl_hdr_apply *a,
	     const struct sl_hdr_vars *vars, int own)
{
	if (a->block != NULL && !(own && a->own_clash)) {
		/* fields without variables, all of one set: one copy */
		if (cap < a->block_len)
			return -1;
		memcpy(out, a->block, a->block_len);
		return (long)a->block_len;
	}
	return a->nfields > 0 ? sl_hdr_write_fields(out, cap, a, vars, own) : 0;
}

#endif
