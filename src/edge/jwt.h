/* SPDX-License-Identifier: MIT */
/*
 * JSON Web Tokens checked at the edge (RFC 7519, signed as RFC 7515 says,
 * with the algorithms of RFC 7518 and RFC 8037), against a JSON Web Key
 * set (RFC 7517): doc/auth.md. The key set is parsed once per generation
 * (conf_auth.c) into OpenSSL keys that every worker shares read-only; a
 * token is checked per request with no malloc, its signature by OpenSSL.
 * What a route asks of a token (algorithms, issuer, audiences, the clock's
 * skew, required claims, claims sent on as fields) is a policy. Pure: no
 * I/O; the caller gives the time.
 */
#ifndef SL_JWT_H
#define SL_JWT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* The signature algorithms (RFC 7518 section 3, RFC 8037 section 3.1):
 * asymmetric only. "none" and the HMAC ones are never taken: a gateway
 * holding a shared secret could sign for anyone, and "none" or an HS256
 * token checked with an RSA public key as its secret is the classic
 * attack. */
enum sl_jwa {
	SL_JWA_RS256 = 0,
	SL_JWA_RS384,
	SL_JWA_RS512,
	SL_JWA_PS256,
	SL_JWA_PS384,
	SL_JWA_PS512,
	SL_JWA_ES256,
	SL_JWA_ES384,
	SL_JWA_EDDSA,
	SL_JWA_N
};
#define SL_JWA_ALL ((1u << SL_JWA_N) - 1)

/* The algorithm named s (n bytes), or -1. */
int sl_jwa_parse(const char *s, size_t n);
const char *sl_jwa_name(int alg);

/* A key of a set: its type fits one family of algorithms. */
enum sl_jwk_type { SL_JWK_RSA = 1, SL_JWK_EC, SL_JWK_OKP };

struct sl_jwk {
	char *kid; /* NULL: none */
	int type;  /* enum sl_jwk_type */
	int alg;   /* the key's "alg", or -1: any of its family */
	int curve; /* EC: 256 or 384; OKP: 25519 */
	EVP_PKEY *pkey;
};

struct sl_jwks {
	atomic_uint refs; /* 1 from the parse; the last sl_jwks_free frees */
	uint64_t id;	  /* this parse's, unique in the process: a cache of
			     tokens verified with one set is not taken for
			     another */
	struct sl_jwk *keys;
	size_t n;
	size_t skipped;	 /* keys left out: encryption keys, other types */
	char sha256[65]; /* of the text it was parsed from, hex: the set's
			    fingerprint, for the log and /config (a file's
			    is its sha256sum) */
};

/*
 * The key set in text (len bytes): {"keys": [...]} (RFC 7517 section 5),
 * or one key object. Keys for encryption ("use": "enc") and of types or
 * curves sluice does not verify with are skipped and counted; an RSA key
 * under 2048 bits, a malformed key, a duplicate "kid", or a set with no
 * usable key is an error. Returns the set, its sha256 that of the whole
 * text, or NULL with why (a sentence for the configuration's error
 * message) filled in.
 */
struct sl_jwks *sl_jwks_parse(const char *text, size_t len, char *why,
			      size_t wlen);
/* A set is counted: a worker keeps the one it checks with while a
 * fetched one replaces it (keysrc.h). sl_jwks_free drops a reference. */
void sl_jwks_ref(struct sl_jwks *ks);
void sl_jwks_free(struct sl_jwks *ks);

/* A claim a route requires, with the values it allows (none: present
 * with any value). */
struct sl_jwt_require {
	char *claim;
	char **values;
	size_t nvalues;
};

/* A claim sent to the upstream as a field. */
struct sl_jwt_field {
	char *claim;
	char *field;
};

struct sl_jwt_policy {
	unsigned algs;	/* bits 1 << SL_JWA_x */
	char **issuers; /* "iss" must be one; none: not checked */
	size_t nissuers;
	char **audiences; /* "aud" must hold one; none: not checked */
	size_t naudiences;
	int64_t skew_s;	  /* leeway on exp and nbf */
	int exp_optional; /* a token without "exp" passes */
	struct sl_jwt_require *require;
	size_t nrequire;
	struct sl_jwt_field *fields;
	size_t nfields;
};

/* The outcomes of a check; SL_JWT_OK is 0. */
enum sl_jwt_err {
	SL_JWT_OK = 0,
	SL_JWT_MALFORMED, /* not three base64url parts of JSON objects */
	SL_JWT_TOO_LARGE, /* longer than SL_JWT_MAX */
	SL_JWT_ALG,	  /* an algorithm the route does not take */
	SL_JWT_CRIT,	  /* a "crit" header: an extension sluice lacks */
	SL_JWT_NO_KEY,	  /* no key of the set for its kid and alg */
	SL_JWT_SIGNATURE, /* the signature does not verify */
	SL_JWT_EXPIRED,
	SL_JWT_NOT_YET, /* nbf is ahead */
	SL_JWT_NO_EXP,
	SL_JWT_ISSUER,
	SL_JWT_AUDIENCE,
	SL_JWT_CLAIM_VALUE, /* a claim for a field holds control bytes */
	SL_JWT_FORBIDDEN,   /* a required claim is missing or not allowed:
			       403, insufficient_scope */
	SL_JWT_N
};

/* The log's and the metrics' name of an outcome ("expired"). */
const char *sl_jwt_err_str(int err);

#define SL_JWT_MAX	   8192 /* the longest token taken */
#define SL_JWT_FIELDS_MAX  8	/* claims sent on as fields, a route */
#define SL_JWT_FIELD_BYTES 2048 /* their values, together */

/* What a token that passed says for the upstream: the values of the
 * policy's fields, in its order (len 0 with present 0: the claim is not
 * in the token, or not a string, number or boolean). */
struct sl_jwt_out {
	struct {
		uint16_t off, len;
		uint8_t present;
	} f[SL_JWT_FIELDS_MAX];
	char buf[SL_JWT_FIELD_BYTES];
	/* who the token speaks for: its "iss", a newline and its "sub"
	 * (caller_len 0: no "sub" string), the Idempotency-Key store's
	 * caller (doc/operations.md, "Idempotent payments") */
	char caller[512];
	size_t caller_len;
	int alg;
	const struct sl_jwk *key; /* the key that verified it */
};

/*
 * Checks token tok (len bytes, the compact serialization) against policy
 * p and key set ks at time now_s (seconds since the epoch). verified, when
 * not NULL, is a cache's word that this exact token's signature held with
 * this set before: the signature is not checked again (the claims are).
 * Returns SL_JWT_OK with out filled in, or the first failure.
 */
int sl_jwt_check(const struct sl_jwt_policy *p, const struct sl_jwks *ks,
		 const char *tok, size_t len, int64_t now_s, int verified,
		 struct sl_jwt_out *out);

/* The "kid" of token tok's header (at most room - 1 bytes of it, NUL
 * ended), for a log line: 0, or -1 when it has none that can be read.
 * Nothing of it is checked: the caller escapes it. */
int sl_jwt_kid(const char *tok, size_t len, char *out, size_t room);

/* The bearer token of an Authorization value (RFC 6750 section 2.1:
 * "Bearer" in any case, one or more spaces, the token68): its start and
 * length, or -1. */
int sl_jwt_bearer(const char *v, size_t n, const char **tok, size_t *tlen);

/* The value of cookie name (nlen bytes) in a Cookie field's value v, or
 * -1. */
int sl_jwt_cookie(const char *v, size_t n, const char *name, size_t nlen,
		  const char **val, size_t *vlen);

#endif
