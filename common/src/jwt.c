/*
 * jwt.c - JWT key sets, verification and HS256 dev-token signing (see jwt.h).
 *
 * Verification order: bound the size, split the three base64url segments,
 * read the header (alg, typ, crit, kid), choose the keys by kid or by
 * algorithm, check the signature over "header.payload", and only then read
 * the payload's claims.  Keys come from PEM (SPKI, PKCS#1, certificates) or
 * from JWKS parameters turned into EVP_PKEYs with OSSL_PARAM_BLD and
 * EVP_PKEY_fromdata.  This is the one place that talks to OpenSSL for JWTs;
 * its error queue is cleared after every failing call so that no stale
 * error leaks into other code on the same thread.
 */
#include "hl/jwt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hl/b64.h"
#include "hl/buf.h"
#include "hl/json.h"

#define HS256_LEN 32
#define ES256_LEN 64
#define MAX_SUB 128 /* sub travels as x-actor metadata (DESIGN 5.1), at most 128 */

struct key {
	hl_jwt_alg alg;
	char *kid;             /* NULL: none */
	unsigned char *secret; /* HS256 */
	size_t secret_len;
	EVP_PKEY *pkey;        /* RS256, ES256 */
};

struct hl_jwt_keyset {
	char *issuer, *audience;
	struct key *keys;
	size_t n, cap;
};

const char *hl_jwt_alg_name(hl_jwt_alg alg)
{
	switch (alg) {
	case HL_JWT_HS256: return "HS256";
	case HL_JWT_RS256: return "RS256";
	case HL_JWT_ES256: return "ES256";
	}
	return "?";
}

/* The reason of the newest OpenSSL error, and an empty error queue. */
static const char *ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());
	ERR_clear_error();
	return r ? r : "unknown reason";
}

/* ---- key sets ---------------------------------------------------------- */

hl_jwt_keyset *hl_jwt_keyset_new(const char *issuer, const char *audience)
{
	if (!issuer || !*issuer || !audience || !*audience)
		return NULL;
	hl_jwt_keyset *ks = calloc(1, sizeof *ks);
	if (!ks)
		return NULL;
	ks->issuer = strdup(issuer);
	ks->audience = strdup(audience);
	if (!ks->issuer || !ks->audience) {
		hl_jwt_keyset_free(ks);
		return NULL;
	}
	return ks;
}

static void key_release(struct key *k)
{
	free(k->kid);
	if (k->secret) {
		OPENSSL_cleanse(k->secret, k->secret_len);
		free(k->secret);
	}
	EVP_PKEY_free(k->pkey);
}

/* Drop the keys added after the first n (undoing a failed load). */
static void truncate_keys(hl_jwt_keyset *ks, size_t n)
{
	while (ks->n > n)
		key_release(&ks->keys[--ks->n]);
}

void hl_jwt_keyset_free(hl_jwt_keyset *ks)
{
	if (!ks)
		return;
	truncate_keys(ks, 0);
	free(ks->keys);
	free(ks->issuer);
	free(ks->audience);
	free(ks);
}

size_t hl_jwt_keyset_count(const hl_jwt_keyset *ks)
{
	return ks->n;
}

static const struct key *find_kid(const hl_jwt_keyset *ks, const char *kid)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->keys[i].kid && strcmp(ks->keys[i].kid, kid) == 0)
			return &ks->keys[i];
	return NULL;
}

/*
 * Append a key.  Takes ownership of pkey (freed on failure); secret and kid
 * are copied.
 */
static hl_status push_key(hl_jwt_keyset *ks, hl_jwt_alg alg, const char *kid,
			  const void *secret, size_t secret_len, EVP_PKEY *pkey, hl_error *err)
{
	hl_status st = HL_OK;
	struct key k = {.alg = alg, .pkey = pkey};
	if (kid && !*kid) {
		st = hl_fail(err, HL_INVALID, "jwt key: empty kid");
		goto out;
	}
	if (kid && find_kid(ks, kid)) {
		st = hl_fail(err, HL_INVALID, "jwt key: duplicate kid");
		goto out;
	}
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 4;
		struct key *keys = realloc(ks->keys, cap * sizeof *keys);
		if (!keys) {
			st = hl_fail(err, HL_NOMEM, "jwt key: out of memory");
			goto out;
		}
		ks->keys = keys;
		ks->cap = cap;
	}
	if (kid && !(k.kid = strdup(kid))) {
		st = hl_fail(err, HL_NOMEM, "jwt key: out of memory");
		goto out;
	}
	if (secret) {
		k.secret = malloc(secret_len);
		if (!k.secret) {
			st = hl_fail(err, HL_NOMEM, "jwt key: out of memory");
			goto out;
		}
		memcpy(k.secret, secret, secret_len);
		k.secret_len = secret_len;
	}
	ks->keys[ks->n++] = k;
	return HL_OK;
out:
	key_release(&k);
	return st;
}

hl_status hl_jwt_keyset_add_hs256(hl_jwt_keyset *ks, const void *secret, size_t len,
				  const char *kid, hl_error *err)
{
	if (!secret || len < HL_JWT_MIN_SECRET)
		return hl_fail(err, HL_INVALID, "jwt key: HS256 secret shorter than %d bytes",
			       HL_JWT_MIN_SECRET);
	if (len > INT_MAX)
		return hl_fail(err, HL_INVALID, "jwt key: HS256 secret too large");
	return push_key(ks, HL_JWT_HS256, kid, secret, len, NULL, err);
}

/*
 * Decide the algorithm of a public key and check it: RSA of at least
 * HL_JWT_MIN_RSA_BITS, or EC on P-256, passing OpenSSL's public key check.
 */
static hl_status classify(EVP_PKEY *pkey, hl_jwt_alg *alg, hl_error *err)
{
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (EVP_PKEY_get_bits(pkey) < HL_JWT_MIN_RSA_BITS)
			return hl_fail(err, HL_INVALID, "jwt key: RSA key shorter than %d bits",
				       HL_JWT_MIN_RSA_BITS);
		*alg = HL_JWT_RS256;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64];
		size_t glen = 0;
		if (!EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) ||
		    (strcmp(group, SN_X9_62_prime256v1) != 0 && strcmp(group, "P-256") != 0)) {
			ERR_clear_error();
			return hl_fail(err, HL_INVALID, "jwt key: EC key not on curve P-256");
		}
		*alg = HL_JWT_ES256;
	} else {
		return hl_fail(err, HL_INVALID, "jwt key: key type is neither RSA nor EC");
	}
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx && EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return hl_fail(err, HL_INVALID, "jwt key: public key check failed (%s)",
			       ossl_reason());
	return HL_OK;
}

/* Check pkey and append it (ownership passes to this function). */
static hl_status push_pkey(hl_jwt_keyset *ks, EVP_PKEY *pkey, const char *kid, hl_error *err)
{
	hl_jwt_alg alg = (hl_jwt_alg)0; /* set by classify() */
	hl_status st = classify(pkey, &alg, err);
	if (st != HL_OK) {
		EVP_PKEY_free(pkey);
		return st;
	}
	return push_key(ks, alg, kid, NULL, 0, pkey, err);
}

/* The public key of one PEM block of DER bytes, by block name. */
static hl_status pem_block_key(const char *name, const unsigned char *der, long len,
			       EVP_PKEY **out, hl_error *err)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey = NULL;
	if (strcmp(name, PEM_STRING_PUBLIC) == 0) {
		pkey = d2i_PUBKEY(NULL, &p, len);
	} else if (strcmp(name, PEM_STRING_RSA_PUBLIC) == 0) {
		pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
	} else if (strcmp(name, PEM_STRING_X509) == 0) {
		X509 *x = d2i_X509(NULL, &p, len);
		if (x) {
			pkey = X509_get_pubkey(x);
			X509_free(x);
		}
	} else if (strstr(name, "PRIVATE KEY")) {
		return hl_fail(err, HL_INVALID, "pem: private key given where a public key belongs");
	} else {
		return hl_fail(err, HL_INVALID, "pem: unsupported block type");
	}
	if (!pkey)
		return hl_fail(err, HL_CRYPTO, "pem: cannot decode key (%s)", ossl_reason());
	if (p != der + len) {
		EVP_PKEY_free(pkey);
		return hl_fail(err, HL_INVALID, "pem: trailing bytes after key");
	}
	*out = pkey;
	return HL_OK;
}

/*
 * Read the next PEM block from bio into a key.  *done is set when no block
 * is left.
 */
static hl_status pem_next(BIO *bio, EVP_PKEY **out, bool *done, hl_error *err)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long len = 0;
	hl_status st = HL_OK;
	*done = false;
	if (!PEM_read_bio(bio, &name, &header, &data, &len)) {
		unsigned long e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
			ERR_clear_error();
			*done = true;
			return HL_OK;
		}
		return hl_fail(err, HL_INVALID, "pem: malformed block (%s)", ossl_reason());
	}
	if (header && *header)
		st = hl_fail(err, HL_INVALID, "pem: encrypted or annotated block");
	else
		st = pem_block_key(name, data, len, out, err);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	return st;
}

hl_status hl_jwt_keyset_add_pem(hl_jwt_keyset *ks, const char *pem, size_t len,
				const char *kid, hl_error *err)
{
	if (!pem || len > INT_MAX)
		return hl_fail(err, HL_INVALID, "pem: no text or too large");
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return hl_fail(err, HL_NOMEM, "pem: out of memory");
	size_t before = ks->n;
	hl_status st = HL_OK;
	for (;;) {
		EVP_PKEY *pkey = NULL;
		bool done;
		if ((st = pem_next(bio, &pkey, &done, err)) != HL_OK)
			goto out;
		if (done)
			break;
		if (kid && ks->n > before) {
			EVP_PKEY_free(pkey);
			st = hl_fail(err, HL_INVALID, "pem: a kid names exactly one key");
			goto out;
		}
		if ((st = push_pkey(ks, pkey, kid, err)) != HL_OK)
			goto out;
	}
	if (ks->n == before)
		st = hl_fail(err, HL_INVALID, "pem: no public key found");
out:
	BIO_free(bio);
	if (st != HL_OK)
		truncate_keys(ks, before);
	return st;
}

/* ---- JWKS -------------------------------------------------------------- */

/* Decode the base64url member name of jwk into arena bytes. */
static hl_status jwk_bytes(const hl_json *jwk, const char *name, hl_arena *a, size_t idx,
			   unsigned char **out, size_t *out_len, hl_error *err)
{
	const hl_json *v = hl_json_get(jwk, name);
	if (!hl_json_string(v))
		return hl_fail(err, HL_INVALID, "jwks: key %zu: \"%s\" missing or not a string",
			       idx, name);
	if (hl_b64url_decode(a, hl_json_string(v), hl_json_string_len(v), out, out_len, NULL) != HL_OK ||
	    *out_len == 0)
		return hl_fail(err, HL_INVALID, "jwks: key %zu: \"%s\" is not base64url", idx, name);
	return HL_OK;
}

/* An EVP_PKEY of type name from params, or NULL. */
static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static hl_status jwk_rsa(const hl_json *jwk, hl_arena *a, size_t idx, EVP_PKEY **out,
			 hl_error *err)
{
	unsigned char *nb, *eb;
	size_t nlen, elen;
	hl_status st;
	if ((st = jwk_bytes(jwk, "n", a, idx, &nb, &nlen, err)) != HL_OK ||
	    (st = jwk_bytes(jwk, "e", a, idx, &eb, &elen, err)) != HL_OK)
		return st;
	if (nlen > 2048 || elen > 64)
		return hl_fail(err, HL_INVALID, "jwks: key %zu: RSA parameters too large", idx);
	BIGNUM *n = BN_bin2bn(nb, (int)nlen, NULL);
	BIGNUM *e = BN_bin2bn(eb, (int)elen, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;
	if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		pkey = pkey_fromdata("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	if (!pkey)
		return hl_fail(err, HL_CRYPTO, "jwks: key %zu: cannot build RSA key (%s)", idx,
			       ossl_reason());
	*out = pkey;
	return HL_OK;
}

static hl_status jwk_ec(const hl_json *jwk, hl_arena *a, size_t idx, EVP_PKEY **out,
			hl_error *err)
{
	unsigned char *x, *y;
	size_t xlen, ylen;
	hl_status st;
	if ((st = jwk_bytes(jwk, "x", a, idx, &x, &xlen, err)) != HL_OK ||
	    (st = jwk_bytes(jwk, "y", a, idx, &y, &ylen, err)) != HL_OK)
		return st;
	if (xlen != 32 || ylen != 32)
		return hl_fail(err, HL_INVALID, "jwks: key %zu: P-256 coordinates must be 32 bytes",
			       idx);
	unsigned char point[65];
	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;
	if (bld &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
		pkey = pkey_fromdata("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	if (!pkey)
		return hl_fail(err, HL_CRYPTO, "jwks: key %zu: cannot build EC key (%s)", idx,
			       ossl_reason());
	*out = pkey;
	return HL_OK;
}

static bool str_is(const hl_json *v, const char *s)
{
	const char *t = hl_json_string(v);
	return t && strcmp(t, s) == 0;
}

/* True when the JWK holds any private parameter. */
static bool jwk_private(const hl_json *jwk)
{
	static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
	for (size_t i = 0; i < sizeof priv / sizeof *priv; i++)
		if (hl_json_get(jwk, priv[i]))
			return true;
	return false;
}

/* Load one JWK; *skipped is set for keys of a kind this module does not use. */
static hl_status jwk_load(hl_jwt_keyset *ks, const hl_json *jwk, size_t idx, hl_arena *a,
			  bool *skipped, hl_error *err)
{
	*skipped = true;
	if (hl_json_typeof(jwk) != HL_JSON_OBJECT)
		return hl_fail(err, HL_INVALID, "jwks: key %zu: not an object", idx);
	const hl_json *kty = hl_json_get(jwk, "kty"), *use = hl_json_get(jwk, "use");
	const hl_json *alg = hl_json_get(jwk, "alg"), *kid = hl_json_get(jwk, "kid");
	if (!hl_json_string(kty))
		return hl_fail(err, HL_INVALID, "jwks: key %zu: \"kty\" missing", idx);
	if ((use && !hl_json_string(use)) || (alg && !hl_json_string(alg)) ||
	    (kid && !hl_json_string(kid)))
		return hl_fail(err, HL_INVALID, "jwks: key %zu: use, alg and kid must be strings",
			       idx);
	if (use && !str_is(use, "sig"))
		return HL_OK;
	bool rsa = str_is(kty, "RSA") && (!alg || str_is(alg, "RS256"));
	bool ec = str_is(kty, "EC") && str_is(hl_json_get(jwk, "crv"), "P-256") &&
		  (!alg || str_is(alg, "ES256"));
	if (!rsa && !ec)
		return HL_OK;
	*skipped = false;
	if (jwk_private(jwk))
		return hl_fail(err, HL_INVALID, "jwks: key %zu: holds private parameters", idx);
	EVP_PKEY *pkey = NULL;
	hl_status st = rsa ? jwk_rsa(jwk, a, idx, &pkey, err) : jwk_ec(jwk, a, idx, &pkey, err);
	if (st != HL_OK)
		return st;
	return push_pkey(ks, pkey, hl_json_string(kid), err);
}

hl_status hl_jwt_keyset_add_jwks(hl_jwt_keyset *ks, const char *json, size_t len,
				 hl_error *err)
{
	size_t before = ks->n, used = 0;
	hl_json *doc;
	hl_status st;
	hl_arena *a = hl_arena_new();
	if (!a)
		return hl_fail(err, HL_NOMEM, "jwks: out of memory");
	if ((st = hl_json_parse(a, json, len, &doc, err)) != HL_OK)
		goto out;
	const hl_json *keys = hl_json_get(doc, "keys");
	if (!keys || hl_json_typeof(keys) != HL_JSON_ARRAY) {
		st = hl_fail(err, HL_INVALID, "jwks: \"keys\" array missing");
		goto out;
	}
	for (size_t i = 0; i < hl_json_array_len(keys); i++) {
		bool skipped;
		st = jwk_load(ks, hl_json_array_item(keys, i), i, a, &skipped, err);
		if (st != HL_OK)
			goto out;
		used += !skipped;
	}
	if (!used)
		st = hl_fail(err, HL_INVALID, "jwks: no RS256 or ES256 signing key");
out:
	if (st != HL_OK)
		truncate_keys(ks, before);
	hl_arena_free(a);
	return st;
}

/* Read at most HL_JWT_MAX_KEYFILE bytes of path into malloc'd *out. */
static hl_status read_file(const char *path, char **out, size_t *out_len, hl_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return hl_fail(err, HL_IO, "key file %s: %s", path, strerror(errno));
	hl_status st = HL_OK;
	char *buf = malloc(HL_JWT_MAX_KEYFILE + 1);
	size_t n = 0;
	if (!buf) {
		st = hl_fail(err, HL_NOMEM, "key file %s: out of memory", path);
		goto out;
	}
	n = fread(buf, 1, HL_JWT_MAX_KEYFILE + 1, f);
	if (ferror(f)) {
		st = hl_fail(err, HL_IO, "key file %s: read error", path);
		goto out;
	}
	if (n > HL_JWT_MAX_KEYFILE) {
		st = hl_fail(err, HL_INVALID, "key file %s: larger than %d bytes", path,
			     HL_JWT_MAX_KEYFILE);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return st;
}

hl_status hl_jwt_keyset_load_file(hl_jwt_keyset *ks, const char *path, hl_error *err)
{
	char *text = NULL;
	size_t len = 0;
	hl_status st = read_file(path, &text, &len, err);
	if (st != HL_OK)
		return st;
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	hl_error inner = {0};
	if (i < len && text[i] == '{')
		st = hl_jwt_keyset_add_jwks(ks, text, len, &inner);
	else if (strstr(text + i, "-----BEGIN "))
		st = hl_jwt_keyset_add_pem(ks, text, len, NULL, &inner);
	else
		st = hl_fail(&inner, HL_INVALID, "neither a JWKS document nor PEM");
	if (st != HL_OK)
		hl_fail(err, st, "key file %s: %s", path, hl_error_text(&inner));
	free(text);
	return st;
}

/* ---- signatures -------------------------------------------------------- */

/* 1: valid, 0: invalid, -1: could not run. */
static int digest_verify(EVP_PKEY *pkey, const unsigned char *msg, size_t mlen,
			 const unsigned char *sig, size_t slen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return -1;
	int r = -1;
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1)
		r = EVP_DigestVerify(md, sig, slen, msg, mlen) == 1;
	EVP_MD_CTX_free(md);
	return r;
}

/* Verify a raw R||S P-256 signature by converting it to DER. */
static int es256_verify(EVP_PKEY *pkey, const unsigned char *msg, size_t mlen,
			const unsigned char *sig, size_t slen)
{
	if (slen != ES256_LEN)
		return 0;
	int r = -1;
	unsigned char der[80], *p = der;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(sig, ES256_LEN / 2, NULL);
	BIGNUM *bs = BN_bin2bn(sig + ES256_LEN / 2, ES256_LEN / 2, NULL);
	if (!es || !br || !bs || !ECDSA_SIG_set0(es, br, bs)) {
		BN_free(br);
		BN_free(bs);
		goto out;
	}
	int dlen = i2d_ECDSA_SIG(es, NULL);
	if (dlen <= 0 || (size_t)dlen > sizeof der || i2d_ECDSA_SIG(es, &p) != dlen)
		goto out;
	r = digest_verify(pkey, msg, mlen, der, (size_t)dlen);
out:
	ECDSA_SIG_free(es);
	return r;
}

static int hs256_verify(const struct key *k, const unsigned char *msg, size_t mlen,
			const unsigned char *sig, size_t slen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	if (slen != HS256_LEN)
		return 0;
	if (!HMAC(EVP_sha256(), k->secret, (int)k->secret_len, msg, mlen, mac, &mac_len) ||
	    mac_len != HS256_LEN)
		return -1;
	int ok = CRYPTO_memcmp(mac, sig, HS256_LEN) == 0;
	OPENSSL_cleanse(mac, sizeof mac);
	return ok;
}

static int key_verify(const struct key *k, const unsigned char *msg, size_t mlen,
		      const unsigned char *sig, size_t slen)
{
	int r;
	switch (k->alg) {
	case HL_JWT_HS256:
		return hs256_verify(k, msg, mlen, sig, slen);
	case HL_JWT_RS256:
		if (slen != (size_t)EVP_PKEY_get_size(k->pkey))
			return 0;
		r = digest_verify(k->pkey, msg, mlen, sig, slen);
		break;
	case HL_JWT_ES256:
		r = es256_verify(k->pkey, msg, mlen, sig, slen);
		break;
	default:
		return 0;
	}
	ERR_clear_error();
	return r;
}

/* ---- verification ------------------------------------------------------ */

static hl_status unauth(hl_error *err, const char *msg)
{
	return hl_fail(err, HL_UNAUTHENTICATED, "%s", msg);
}

static bool b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* The three segments of a compact JWS: [0,d1) [d1+1,d2) [d2+1,len). */
static hl_status split(const char *t, size_t len, size_t *d1, size_t *d2, hl_error *err)
{
	size_t dots = 0;
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '.') {
			if (dots == 2)
				return unauth(err, "malformed token: more than three segments");
			*(dots++ ? d2 : d1) = i;
		} else if (!b64url_char((unsigned char)t[i])) {
			return unauth(err, "malformed token: character outside base64url");
		}
	}
	if (dots != 2)
		return unauth(err, "malformed token: not three segments");
	if (*d1 == 0 || *d2 == *d1 + 1)
		return unauth(err, "malformed token: empty header or payload");
	return HL_OK;
}

/* Decode a base64url segment and parse it as a JSON object. */
static hl_status segment_json(const char *seg, size_t len, const char *what, hl_arena *a,
			      hl_json **out, hl_error *err)
{
	unsigned char *raw;
	size_t raw_len;
	hl_error inner;
	hl_status st = hl_b64url_decode(a, seg, len, &raw, &raw_len, &inner);
	if (st == HL_NOMEM)
		return hl_fail(err, st, "jwt: out of memory");
	if (st != HL_OK)
		return hl_fail(err, HL_UNAUTHENTICATED, "malformed token %s: %s", what,
			       hl_error_text(&inner));
	st = hl_json_parse(a, (const char *)raw, raw_len, out, &inner);
	if (st == HL_NOMEM)
		return hl_fail(err, st, "jwt: out of memory");
	if (st != HL_OK)
		return hl_fail(err, HL_UNAUTHENTICATED, "malformed token %s: %s", what,
			       hl_error_text(&inner));
	if (hl_json_typeof(*out) != HL_JSON_OBJECT)
		return hl_fail(err, HL_UNAUTHENTICATED, "malformed token %s: not a JSON object",
			       what);
	return HL_OK;
}

struct header {
	hl_jwt_alg alg;
	const char *kid; /* NULL: none */
};

static hl_status read_header(const hl_json *h, struct header *out, hl_error *err)
{
	const char *alg = hl_json_string(hl_json_get(h, "alg"));
	if (!alg)
		return unauth(err, "token header has no alg");
	if (strcasecmp(alg, "none") == 0)
		return unauth(err, "unsupported algorithm none");
	if (strcmp(alg, "HS256") == 0)
		out->alg = HL_JWT_HS256;
	else if (strcmp(alg, "RS256") == 0)
		out->alg = HL_JWT_RS256;
	else if (strcmp(alg, "ES256") == 0)
		out->alg = HL_JWT_ES256;
	else
		return unauth(err, "unsupported algorithm");
	const hl_json *typ = hl_json_get(h, "typ");
	if (typ && (!hl_json_string(typ) || strcasecmp(hl_json_string(typ), "JWT") != 0))
		return unauth(err, "unsupported token type");
	if (hl_json_get(h, "crit"))
		return unauth(err, "unsupported critical header parameters");
	const hl_json *kid = hl_json_get(h, "kid");
	if (kid && !hl_json_string(kid))
		return unauth(err, "token header kid is not a string");
	out->kid = hl_json_string(kid);
	return HL_OK;
}

/* Check the signature with the key the header selects; *used names it. */
static hl_status check_signature(const hl_jwt_keyset *ks, const struct header *h,
				 const char *token, size_t signed_len, const unsigned char *sig,
				 size_t sig_len, const struct key **used, hl_error *err)
{
	const unsigned char *msg = (const unsigned char *)token;
	int r = 0;
	if (h->kid) {
		const struct key *k = find_kid(ks, h->kid);
		if (!k)
			return unauth(err, "no key for kid");
		if (k->alg != h->alg)
			return unauth(err, "algorithm does not match the key");
		r = key_verify(k, msg, signed_len, sig, sig_len);
		*used = k;
	} else {
		bool any = false;
		for (size_t i = 0; i < ks->n && r != 1; i++) {
			if (ks->keys[i].alg != h->alg)
				continue;
			any = true;
			r = key_verify(&ks->keys[i], msg, signed_len, sig, sig_len);
			*used = &ks->keys[i];
		}
		if (!any)
			return unauth(err, "no key for algorithm");
	}
	if (r < 0)
		return hl_fail(err, HL_CRYPTO, "jwt: signature check could not run");
	if (r == 0)
		return unauth(err, "bad signature");
	return HL_OK;
}

/* A NumericDate claim; *present tells whether it was there. */
static hl_status numeric_date(const hl_json *p, const char *name, int64_t *out, bool *present,
			      hl_error *err)
{
	const hl_json *v = hl_json_get(p, name);
	double d;
	*present = v != NULL;
	*out = 0;
	if (!v)
		return HL_OK;
	if (!hl_json_number(v, &d))
		return hl_fail(err, HL_UNAUTHENTICATED, "claim %s: not a number", name);
	d = floor(d);
	if (d < 0 || d > 9007199254740992.0)
		return hl_fail(err, HL_UNAUTHENTICATED, "claim %s: out of range", name);
	*out = (int64_t)d;
	return HL_OK;
}

static hl_status check_times(const hl_json *p, int64_t now, int64_t leeway, hl_claims *c,
			     hl_error *err)
{
	bool has;
	hl_status st;
	if ((st = numeric_date(p, "exp", &c->exp, &has, err)) != HL_OK)
		return st;
	if (!has)
		return unauth(err, "token has no exp");
	if (now >= c->exp + leeway)
		return unauth(err, "token expired");
	if ((st = numeric_date(p, "nbf", &c->nbf, &has, err)) != HL_OK)
		return st;
	if (has && c->nbf - leeway > now)
		return unauth(err, "token not yet valid");
	if ((st = numeric_date(p, "iat", &c->iat, &has, err)) != HL_OK)
		return st;
	if (has && c->iat - leeway > now)
		return unauth(err, "token issued in the future");
	return HL_OK;
}

static hl_status check_iss_aud(const hl_jwt_keyset *ks, const hl_json *p, hl_error *err)
{
	const hl_json *iss = hl_json_get(p, "iss"), *aud = hl_json_get(p, "aud");
	if (!iss)
		return unauth(err, "token has no issuer");
	if (!hl_json_string(iss))
		return unauth(err, "claim iss: not a string");
	if (strcmp(hl_json_string(iss), ks->issuer) != 0)
		return unauth(err, "issuer mismatch");
	if (!aud)
		return unauth(err, "token has no audience");
	if (hl_json_string(aud))
		return str_is(aud, ks->audience) ? HL_OK : unauth(err, "audience mismatch");
	if (hl_json_typeof(aud) != HL_JSON_ARRAY)
		return unauth(err, "claim aud: not a string or array");
	bool found = false;
	for (size_t i = 0; i < hl_json_array_len(aud); i++) {
		const hl_json *item = hl_json_array_item(aud, i);
		if (!hl_json_string(item))
			return unauth(err, "claim aud: array item not a string");
		found |= str_is(item, ks->audience);
	}
	return found ? HL_OK : unauth(err, "audience mismatch");
}

static bool sub_valid(const char *s, size_t len)
{
	if (len == 0 || len > MAX_SUB)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* An optional string claim: absent or null gives NULL. */
static hl_status opt_string(const hl_json *p, const char *name, const char **out, hl_error *err)
{
	const hl_json *v = hl_json_get(p, name);
	*out = NULL;
	if (!v || hl_json_is_null(v))
		return HL_OK;
	if (!hl_json_string(v) || !hl_json_string_len(v))
		return hl_fail(err, HL_UNAUTHENTICATED, "claim %s: not a non-empty string", name);
	*out = hl_json_string(v);
	return HL_OK;
}

static hl_status read_tenants(const hl_json *p, hl_arena *a, hl_claims *c, hl_error *err)
{
	const hl_json *t = hl_json_get(p, "tenant"), *ts = hl_json_get(p, "tenants");
	if (!t)
		return unauth(err, "token has no tenant");
	if (!hl_tenant_slug_valid(hl_json_string(t)))
		return unauth(err, "claim tenant: not a valid tenant id");
	c->tenant = hl_json_string(t);
	if (!ts || hl_json_is_null(ts))
		return HL_OK;
	if (hl_json_typeof(ts) != HL_JSON_ARRAY)
		return unauth(err, "claim tenants: not an array");
	size_t n = hl_json_array_len(ts);
	if (!n)
		return HL_OK;
	c->tenants = hl_arena_alloc(a, n * sizeof *c->tenants);
	if (!c->tenants)
		return hl_fail(err, HL_NOMEM, "jwt: out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *s = hl_json_string(hl_json_array_item(ts, i));
		if (!hl_tenant_slug_valid(s))
			return unauth(err, "claim tenants: not a list of valid tenant ids");
		c->tenants[i] = s;
	}
	c->n_tenants = n;
	return HL_OK;
}

/* Split a space-separated role string into arena copies. */
static hl_status split_roles(const char *s, hl_arena *a, hl_claims *c, hl_error *err)
{
	size_t n = 0;
	for (const char *q = s; *q; q++)
		n += *q != ' ' && (q == s || q[-1] == ' ');
	if (!n)
		return HL_OK;
	c->roles = hl_arena_alloc(a, n * sizeof *c->roles);
	if (!c->roles)
		return hl_fail(err, HL_NOMEM, "jwt: out of memory");
	for (const char *q = s; *q;) {
		if (*q == ' ') {
			q++;
			continue;
		}
		size_t w = strcspn(q, " ");
		if (!(c->roles[c->n_roles++] = hl_arena_strndup(a, q, w)))
			return hl_fail(err, HL_NOMEM, "jwt: out of memory");
		q += w;
	}
	return HL_OK;
}

static hl_status read_roles(const hl_json *p, hl_arena *a, hl_claims *c, hl_error *err)
{
	const hl_json *r = hl_json_get(p, "roles");
	if (!r || hl_json_is_null(r))
		return HL_OK;
	if (hl_json_string(r))
		return split_roles(hl_json_string(r), a, c, err);
	if (hl_json_typeof(r) != HL_JSON_ARRAY)
		return unauth(err, "claim roles: not an array or string");
	size_t n = hl_json_array_len(r);
	if (!n)
		return HL_OK;
	c->roles = hl_arena_alloc(a, n * sizeof *c->roles);
	if (!c->roles)
		return hl_fail(err, HL_NOMEM, "jwt: out of memory");
	for (size_t i = 0; i < n; i++) {
		const hl_json *item = hl_json_array_item(r, i);
		if (!hl_json_string_len(item))
			return unauth(err, "claim roles: item not a non-empty string");
		c->roles[i] = hl_json_string(item);
	}
	c->n_roles = n;
	return HL_OK;
}

static hl_status read_claims(const hl_jwt_keyset *ks, const hl_json *p, int64_t now,
			     int64_t leeway, hl_arena *a, hl_claims *c, hl_error *err)
{
	hl_status st;
	if ((st = check_times(p, now, leeway, c, err)) != HL_OK ||
	    (st = check_iss_aud(ks, p, err)) != HL_OK)
		return st;
	const hl_json *sub = hl_json_get(p, "sub");
	if (!sub)
		return unauth(err, "token has no sub");
	if (!sub_valid(hl_json_string(sub), hl_json_string_len(sub)))
		return unauth(err, "claim sub: not 1..128 visible ASCII characters");
	c->sub = hl_json_string(sub);
	if ((st = read_tenants(p, a, c, err)) != HL_OK || (st = read_roles(p, a, c, err)) != HL_OK ||
	    (st = opt_string(p, "dept", &c->dept, err)) != HL_OK ||
	    (st = opt_string(p, "jti", &c->jti, err)) != HL_OK)
		return st;
	return HL_OK;
}

hl_status hl_jwt_verify(const hl_jwt_keyset *ks, const char *token, size_t len,
			int64_t now_unix, int64_t leeway_s, hl_arena *a, hl_claims *out,
			hl_error *err)
{
	size_t d1 = 0, d2 = 0;
	hl_json *hdr, *payload;
	struct header h = {0};
	unsigned char *sig;
	size_t sig_len;
	const struct key *used = NULL;
	hl_claims c = {0};
	hl_status st;

	if (!token || !len)
		return unauth(err, "no token");
	if (len > HL_JWT_MAX_TOKEN)
		return unauth(err, "token too large");
	if (leeway_s < 0)
		leeway_s = 0;
	if (leeway_s > HL_JWT_MAX_LEEWAY)
		leeway_s = HL_JWT_MAX_LEEWAY;
	if ((st = split(token, len, &d1, &d2, err)) != HL_OK ||
	    (st = segment_json(token, d1, "header", a, &hdr, err)) != HL_OK ||
	    (st = read_header(hdr, &h, err)) != HL_OK)
		return st;
	st = hl_b64url_decode(a, token + d2 + 1, len - d2 - 1, &sig, &sig_len, NULL);
	if (st == HL_NOMEM)
		return hl_fail(err, st, "jwt: out of memory");
	if (st != HL_OK || !sig_len)
		return unauth(err, "malformed token signature");
	if ((st = check_signature(ks, &h, token, d2, sig, sig_len, &used, err)) != HL_OK ||
	    (st = segment_json(token + d1 + 1, d2 - d1 - 1, "payload", a, &payload, err)) != HL_OK ||
	    (st = read_claims(ks, payload, now_unix, leeway_s, a, &c, err)) != HL_OK)
		return st;
	c.alg = used->alg;
	if (used->kid && !(c.kid = hl_arena_strdup(a, used->kid)))
		return hl_fail(err, HL_NOMEM, "jwt: out of memory");
	*out = c;
	return HL_OK;
}

/* ---- signing ----------------------------------------------------------- */

hl_status hl_jwt_sign_hs256(const void *secret, size_t secret_len, const char *kid,
			    const char *payload_json, hl_arena *a, char **token_out,
			    hl_error *err)
{
	hl_buf hdr = HL_BUF_INIT;
	hl_json *doc;
	hl_status st;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (!secret || secret_len < HL_JWT_MIN_SECRET)
		return hl_fail(err, HL_INVALID, "jwt sign: HS256 secret shorter than %d bytes",
			       HL_JWT_MIN_SECRET);
	if (secret_len > INT_MAX)
		return hl_fail(err, HL_INVALID, "jwt sign: secret too large");
	if (kid && !*kid)
		return hl_fail(err, HL_INVALID, "jwt sign: empty kid");
	if (!payload_json)
		return hl_fail(err, HL_INVALID, "jwt sign: no payload");
	if ((st = hl_json_parse(a, payload_json, strlen(payload_json), &doc, err)) != HL_OK)
		return st;
	if (hl_json_typeof(doc) != HL_JSON_OBJECT)
		return hl_fail(err, HL_INVALID, "jwt sign: payload is not a JSON object");

	hl_buf_puts(&hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\"");
	if (kid) {
		hl_buf_puts(&hdr, ",\"kid\":");
		hl_buf_json_string(&hdr, kid);
	}
	hl_buf_putc(&hdr, '}');
	if (hl_buf_failed(&hdr)) {
		st = hl_fail(err, HL_NOMEM, "jwt sign: out of memory");
		goto out;
	}
	char *h64 = hl_b64url_encode(a, hdr.data, hdr.len);
	char *p64 = hl_b64url_encode(a, payload_json, strlen(payload_json));
	char *input = h64 && p64 ? hl_arena_printf(a, "%s.%s", h64, p64) : NULL;
	if (!input) {
		st = hl_fail(err, HL_NOMEM, "jwt sign: out of memory");
		goto out;
	}
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)input,
		  strlen(input), mac, &mac_len)) {
		st = hl_fail(err, HL_CRYPTO, "jwt sign: HMAC failed (%s)", ossl_reason());
		goto out;
	}
	char *s64 = hl_b64url_encode(a, mac, mac_len);
	char *token = s64 ? hl_arena_printf(a, "%s.%s", input, s64) : NULL;
	if (!token) {
		st = hl_fail(err, HL_NOMEM, "jwt sign: out of memory");
		goto out;
	}
	*token_out = token;
	st = HL_OK;
out:
	OPENSSL_cleanse(mac, sizeof mac);
	hl_buf_release(&hdr);
	return st;
}

/* ---- claims helpers ---------------------------------------------------- */

bool hl_claims_has_role(const hl_claims *c, const char *role)
{
	if (!c || !role)
		return false;
	for (size_t i = 0; i < c->n_roles; i++)
		if (strcmp(c->roles[i], role) == 0)
			return true;
	return false;
}

bool hl_claims_may_act_in(const hl_claims *c, const char *tenant)
{
	if (!c || !tenant || !c->tenant)
		return false;
	if (strcmp(c->tenant, tenant) == 0)
		return true;
	for (size_t i = 0; i < c->n_tenants; i++)
		if (strcmp(c->tenants[i], tenant) == 0)
			return true;
	return false;
}

bool hl_tenant_slug_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (n >= 32 || !((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
	}
	return n >= 2;
}
