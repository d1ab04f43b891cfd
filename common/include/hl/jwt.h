/*
 * jwt.h - verification of end-user JWTs and signing of dev tokens
 * (DESIGN 5.1, 8; RFC 7515, 7517, 7518, 7519, 8725).
 *
 * A key set holds the configured issuer and audience and the keys that may
 * sign tokens: HS256 shared secrets, RS256 (RSA >= 2048 bits) and ES256 (EC
 * P-256) public keys, each with an optional kid.  The key decides the
 * algorithm: a token is only checked against keys whose algorithm equals the
 * token's "alg", so an HS256 token "signed" with an RSA public key is refused.
 * "none" and every other algorithm are refused; "jku", "jwk", "x5u" and
 * friends in the header are ignored, "crit" is refused.
 *
 * A key set is built once (new, add/load) and is immutable afterwards:
 * hl_jwt_verify() may then be called from any number of threads at once.
 * Building it is not thread-safe.
 */
#ifndef HL_JWT_H
#define HL_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/status.h"

#define HL_JWT_MAX_TOKEN 8192    /* bytes of a compact token */
#define HL_JWT_MIN_SECRET 32     /* bytes of an HS256 secret (RFC 7518 3.2) */
#define HL_JWT_MIN_RSA_BITS 2048 /* RFC 7518 3.3 */
#define HL_JWT_MAX_LEEWAY 86400  /* larger leeways are clamped to this */
#define HL_JWT_MAX_KEYFILE (1024 * 1024)

typedef enum hl_jwt_alg {
	HL_JWT_HS256 = 1,
	HL_JWT_RS256,
	HL_JWT_ES256,
} hl_jwt_alg;

/* "HS256", "RS256", "ES256" (or "?" for anything else). */
const char *hl_jwt_alg_name(hl_jwt_alg alg);

typedef struct hl_jwt_keyset hl_jwt_keyset;

/*
 * The claims of a verified token.  All strings and arrays belong to the
 * arena passed to hl_jwt_verify().
 */
typedef struct hl_claims {
	const char *sub;      /* principal; visible ASCII (0x21-0x7e), 1..128 bytes */
	const char *tenant;   /* home tenant, a valid slug */
	const char **tenants; /* more tenants the principal may act in (slugs) */
	size_t n_tenants;
	const char **roles;   /* role names, from an array or a space-separated string */
	size_t n_roles;
	const char *dept;     /* NULL when absent */
	const char *jti;      /* NULL when absent */
	const char *kid;      /* kid of the key that verified the token, or NULL */
	hl_jwt_alg alg;       /* algorithm of that key */
	int64_t exp;          /* NumericDates in seconds (fractions dropped) */
	int64_t nbf;          /* 0 when absent */
	int64_t iat;          /* 0 when absent */
} hl_claims;

/*
 * A new key set without keys that accepts tokens whose "iss" equals issuer
 * and whose "aud" is or contains audience (both copied).  NULL when out of
 * memory or when issuer or audience is NULL or empty.
 */
hl_jwt_keyset *hl_jwt_keyset_new(const char *issuer, const char *audience);

/* Release a key set and wipe its secrets.  NULL is ok. */
void hl_jwt_keyset_free(hl_jwt_keyset *ks);

/* Number of keys loaded (for logs and tests). */
size_t hl_jwt_keyset_count(const hl_jwt_keyset *ks);

/*
 * Add an HS256 secret of len bytes (copied; at least HL_JWT_MIN_SECRET),
 * with an optional kid (NULL: none).  Errors: HL_INVALID (short secret,
 * duplicate kid), HL_NOMEM.
 */
hl_status hl_jwt_keyset_add_hs256(hl_jwt_keyset *ks, const void *secret, size_t len,
				  const char *kid, hl_error *err) HL_MUST_CHECK;

/*
 * Add the public keys of a PEM text of len bytes: one or more "PUBLIC KEY"
 * (SubjectPublicKeyInfo), "RSA PUBLIC KEY" (PKCS#1) or "CERTIFICATE" blocks.
 * RSA keys become RS256 keys, EC P-256 keys ES256 keys; other key types,
 * RSA keys under HL_JWT_MIN_RSA_BITS and private keys are refused.  kid
 * (NULL: none) is given to the key and requires the text to hold exactly one.
 * Errors: HL_INVALID, HL_CRYPTO, HL_NOMEM; on error no key was added.
 */
hl_status hl_jwt_keyset_add_pem(hl_jwt_keyset *ks, const char *pem, size_t len,
				const char *kid, hl_error *err) HL_MUST_CHECK;

/*
 * Add the keys of a JWKS document {"keys":[...]} of len bytes.  Keys with
 * kty "RSA" (n, e) and kty "EC" with crv "P-256" (x, y) are loaded under
 * their kid; keys whose "use" is not "sig", whose "alg" is not RS256/ES256
 * respectively, or whose kty/crv is something else are skipped.  A usable
 * key that is malformed or carries private parameters fails the whole load,
 * as does a document without any usable key.
 * Errors: HL_INVALID, HL_CRYPTO, HL_NOMEM; on error no key was added.
 */
hl_status hl_jwt_keyset_add_jwks(hl_jwt_keyset *ks, const char *json, size_t len,
				 hl_error *err) HL_MUST_CHECK;

/*
 * Load a key file: a JWKS document (first non-blank character '{') or
 * concatenated PEM public keys without kids, as above (text outside the
 * PEM blocks is ignored, so comments may precede them).  At most
 * HL_JWT_MAX_KEYFILE bytes.  Errors: HL_IO, and those of the loaders.
 */
hl_status hl_jwt_keyset_load_file(hl_jwt_keyset *ks, const char *path,
				  hl_error *err) HL_MUST_CHECK;

/*
 * Verify the compact JWS token of len bytes (no NUL needed) at time
 * now_unix with leeway_s seconds of clock skew allowed (negative: 0, at most
 * HL_JWT_MAX_LEEWAY), and fill *out with its claims (arena-owned).
 *
 * The header must be a JSON object with "alg" HS256/RS256/ES256, optional
 * "typ" equal to "JWT" (any case) and optional string "kid".  With a kid the
 * key with that kid is used and its algorithm must equal "alg"; without one
 * every key of that algorithm is tried.  Then: "exp" required, "nbf" and
 * "iat" optional (iat must not lie in the future), "iss" must equal the
 * issuer, "aud" (string or array) must contain the audience, "sub" and
 * "tenant" required, "tenants", "roles", "dept", "jti" optional.
 *
 * Returns HL_OK, HL_UNAUTHENTICATED with a precise message ("token expired",
 * "audience mismatch", "unsupported algorithm none", "no key for kid",
 * "bad signature", ...) that never repeats token content, HL_NOMEM, or
 * HL_CRYPTO when OpenSSL could not run a signature check at all.
 * *out is written only on success.  Thread-safe for a loaded key set.
 */
hl_status hl_jwt_verify(const hl_jwt_keyset *ks, const char *token, size_t len,
			int64_t now_unix, int64_t leeway_s, hl_arena *a, hl_claims *out,
			hl_error *err) HL_MUST_CHECK;

/*
 * Sign payload_json (must be a JSON object; used verbatim) with HS256 under
 * the given secret (at least HL_JWT_MIN_SECRET bytes) and optional kid, for
 * dev tokens.  *token_out is a NUL-terminated compact token in the arena.
 * Errors: HL_INVALID, HL_CRYPTO, HL_NOMEM.
 */
hl_status hl_jwt_sign_hs256(const void *secret, size_t secret_len, const char *kid,
			    const char *payload_json, hl_arena *a, char **token_out,
			    hl_error *err) HL_MUST_CHECK;

/* True when the principal holds role. */
bool hl_claims_has_role(const hl_claims *c, const char *role);

/* True when tenant is the home tenant or one of the listed tenants. */
bool hl_claims_may_act_in(const hl_claims *c, const char *tenant);

/* True when s matches [a-z0-9-]{2,32}.  NULL is not valid. */
bool hl_tenant_slug_valid(const char *s);

#endif
