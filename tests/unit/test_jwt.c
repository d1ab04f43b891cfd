/*
 * test_jwt.c - JWT verification and HS256 signing.
 *
 * Keys (RSA-2048, EC P-256, plus off-policy RSA-1024 and P-384) are made
 * here with OpenSSL, and a small test-only signer builds RS256/ES256 tokens
 * (and deliberately wrong ones: alg none, DER ECDSA signatures, HS256 keyed
 * with an RSA public key).  Covers the algorithm rules of RFC 8725, kid
 * selection, the registered and platform claims, PEM and JWKS key loading,
 * and concurrent verification with one shared key set.
 */
#include "hl/jwt.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "hl/b64.h"
#include "t.h"

#define NOW 1700000000
#define ISS "https://idp.test"
#define AUD "hotline"
#define SECRET "0123456789abcdef0123456789abcdef-dev"
#define SECRET2 "another secret of at least 32 bytes!"

static hl_arena *A;
static EVP_PKEY *rsa, *ec, *rsa_other, *ec_other;
static char *rsa_pem, *ec_pem;

/* ---- test-only signer -------------------------------------------------- */

enum signer { S_NONE, S_HS, S_RS, S_ES, S_ES_DER };

static unsigned char *rs_sign(EVP_PKEY *k, const char *in, size_t *len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestSign(md, NULL, len, (const unsigned char *)in, strlen(in)) == 1) {
		sig = hl_arena_alloc(A, *len);
		if (EVP_DigestSign(md, sig, len, (const unsigned char *)in, strlen(in)) != 1)
			sig = NULL;
	}
	EVP_MD_CTX_free(md);
	return sig;
}

/* ES256 as JWS wants it: raw R||S, each 32 bytes big-endian. */
static unsigned char *es_sign_raw(EVP_PKEY *k, const char *in, size_t *len)
{
	size_t dlen;
	const unsigned char *der = rs_sign(k, in, &dlen);
	ECDSA_SIG *es = der ? d2i_ECDSA_SIG(NULL, &der, (long)dlen) : NULL;
	if (!es)
		return NULL;
	unsigned char *raw = hl_arena_alloc(A, 64);
	BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
	ECDSA_SIG_free(es);
	*len = 64;
	return raw;
}

static char *b64u(const char *s)
{
	return hl_b64url_encode(A, s, strlen(s));
}

/* header.payload.signature, signed as s says (secret: HMAC key for S_HS). */
static char *make_token(const char *header, const char *payload, enum signer s, EVP_PKEY *k,
			const char *secret)
{
	char *input = hl_arena_printf(A, "%s.%s", b64u(header), b64u(payload));
	unsigned char *sig = NULL;
	size_t len = 0;
	unsigned int mlen = 0;
	switch (s) {
	case S_NONE:
		return hl_arena_printf(A, "%s.", input);
	case S_HS:
		sig = hl_arena_alloc(A, EVP_MAX_MD_SIZE);
		HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)input,
		     strlen(input), sig, &mlen);
		len = mlen;
		break;
	case S_RS:
	case S_ES_DER:
		sig = rs_sign(k, input, &len);
		break;
	case S_ES:
		sig = es_sign_raw(k, input, &len);
		break;
	}
	if (!sig)
		return NULL;
	return hl_arena_printf(A, "%s.%s", input, hl_b64url_encode(A, sig, len));
}

/* A payload that passes every claim check, with extra members spliced in. */
static char *claims(const char *extra)
{
	return hl_arena_printf(A,
			       "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u-1001\","
			       "\"tenant\":\"demo\",\"exp\":%d%s%s}",
			       NOW + 600, extra ? "," : "", extra ? extra : "");
}

/* ---- key fixtures ------------------------------------------------------ */

static char *pubkey_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL, *p;
	if (b && PEM_write_bio_PUBKEY(b, k) == 1) {
		long n = BIO_get_mem_data(b, &p);
		out = hl_arena_strndup(A, p, (size_t)n);
	}
	BIO_free(b);
	return out;
}

/* The RSA key as a PKCS#1 "RSA PUBLIC KEY" PEM block. */
static char *pkcs1_pem(EVP_PKEY *k)
{
	OSSL_ENCODER_CTX *ctx = OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_PUBLIC_KEY, "PEM",
							      "type-specific", NULL);
	unsigned char *data = NULL;
	size_t len = 0;
	char *out = NULL;
	if (ctx && OSSL_ENCODER_to_data(ctx, &data, &len) == 1)
		out = hl_arena_strndup(A, (char *)data, len);
	OPENSSL_free(data);
	OSSL_ENCODER_CTX_free(ctx);
	return out;
}

/* A self-signed certificate for k, as PEM. */
static char *cert_pem(EVP_PKEY *k)
{
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL, *p;
	if (x && b && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) && X509_set_pubkey(x, k) &&
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				       (const unsigned char *)"idp", -1, -1, 0) &&
	    X509_set_issuer_name(x, X509_get_subject_name(x)) && X509_sign(x, k, EVP_sha256()) &&
	    PEM_write_bio_X509(b, x) == 1) {
		long n = BIO_get_mem_data(b, &p);
		out = hl_arena_strndup(A, p, (size_t)n);
	}
	BIO_free(b);
	X509_free(x);
	return out;
}

static char *bn_param_b64u(EVP_PKEY *k, const char *name, int pad)
{
	BIGNUM *bn = NULL;
	char *out = NULL;
	if (EVP_PKEY_get_bn_param(k, name, &bn) == 1) {
		int n = pad ? pad : BN_num_bytes(bn);
		unsigned char *buf = hl_arena_alloc(A, (size_t)n);
		BN_bn2binpad(bn, buf, n);
		out = hl_b64url_encode(A, buf, (size_t)n);
	}
	BN_free(bn);
	return out;
}

static char *jwk_rsa(EVP_PKEY *k, const char *kid)
{
	return hl_arena_printf(A, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\",\"alg\":\"RS256\","
				  "\"n\":\"%s\",\"e\":\"%s\"}",
			       kid, bn_param_b64u(k, OSSL_PKEY_PARAM_RSA_N, 0),
			       bn_param_b64u(k, OSSL_PKEY_PARAM_RSA_E, 0));
}

static char *jwk_ec(EVP_PKEY *k, const char *kid)
{
	return hl_arena_printf(A, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\","
				  "\"x\":\"%s\",\"y\":\"%s\"}",
			       kid, bn_param_b64u(k, OSSL_PKEY_PARAM_EC_PUB_X, 32),
			       bn_param_b64u(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
}

static char *write_temp(const char *text)
{
	char *path = hl_arena_strdup(A, "/tmp/hl_test_jwt_XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	size_t n = strlen(text);
	ssize_t w = write(fd, text, n);
	close(fd);
	return w == (ssize_t)n ? path : NULL;
}

static hl_jwt_keyset *keyset(void)
{
	return hl_jwt_keyset_new(ISS, AUD);
}

/* ---- assertions -------------------------------------------------------- */

/* tok is evaluated once: it is often a make_token() call with a random signature. */
#define T_ACCEPTED(ks, tok, c)                                                     \
	do {                                                                       \
		hl_error e_ = {0};                                                 \
		const char *t_ = (tok);                                            \
		T_ASSERT(t_ != NULL);                                              \
		hl_status s_ = hl_jwt_verify(ks, t_, strlen(t_), NOW, 0, A, c, &e_); \
		if (s_ != HL_OK)                                                   \
			T_FAILF("refused: %s", e_.msg);                            \
	} while (0)

#define T_REFUSED_AT(ks, tok, now, leeway, want)                                   \
	do {                                                                       \
		hl_error e_ = {0};                                                 \
		hl_claims c_;                                                      \
		const char *t_ = (tok);                                            \
		T_ASSERT(t_ != NULL);                                              \
		hl_status s_ = hl_jwt_verify(ks, t_, strlen(t_), now, leeway, A, &c_, &e_); \
		T_EQ_INT(s_, HL_UNAUTHENTICATED);                                  \
		T_EQ_STR(e_.msg, want);                                            \
	} while (0)

#define T_REFUSED(ks, tok, want) T_REFUSED_AT(ks, tok, NOW, 0, want)

static const char *HS = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char *RS = "{\"alg\":\"RS256\"}";
static const char *ES = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";

/* ---- tests ------------------------------------------------------------- */

static void test_hs256_sign_and_verify(void)
{
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), NULL, NULL), HL_OK);
	char *tok = NULL;
	hl_error err = {0};
	const char *payload = claims("\"tenants\":[\"sub-east\",\"hq\"],\"roles\":[\"agent\","
				     "\"dispatcher\"],\"dept\":\"d-7\",\"jti\":\"j-1\","
				     "\"iat\":1699999990,\"nbf\":1699999990,\"extra\":{\"x\":[1]}");
	T_EQ_INT(hl_jwt_sign_hs256(SECRET, strlen(SECRET), NULL, payload, A, &tok, &err), HL_OK);
	T_ASSERT(tok && strchr(tok, '=') == NULL);
	hl_claims c;
	T_ACCEPTED(ks, tok, &c);
	T_EQ_STR(c.sub, "u-1001");
	T_EQ_STR(c.tenant, "demo");
	T_EQ_INT(c.n_tenants, 2);
	T_EQ_STR(c.tenants[0], "sub-east");
	T_EQ_STR(c.tenants[1], "hq");
	T_EQ_INT(c.n_roles, 2);
	T_EQ_STR(c.roles[1], "dispatcher");
	T_EQ_STR(c.dept, "d-7");
	T_EQ_STR(c.jti, "j-1");
	T_EQ_INT(c.exp, NOW + 600);
	T_EQ_INT(c.iat, 1699999990);
	T_EQ_INT(c.nbf, 1699999990);
	T_EQ_INT(c.alg, HL_JWT_HS256);
	T_ASSERT(c.kid == NULL);
	T_EQ_STR(hl_jwt_alg_name(c.alg), "HS256");

	/* the test signer and the library agree on HS256 */
	T_ACCEPTED(ks, make_token(HS, claims(NULL), S_HS, NULL, SECRET), &c);
	T_ASSERT(c.dept == NULL && c.jti == NULL && c.n_tenants == 0 && c.n_roles == 0);
	/* a different secret */
	T_REFUSED(ks, make_token(HS, claims(NULL), S_HS, NULL, SECRET2), "bad signature");
	hl_jwt_keyset_free(ks);
}

static void test_hs256_sign_rejects(void)
{
	char *tok = NULL;
	hl_error err = {0};
	T_EQ_INT(hl_jwt_sign_hs256("short", 5, NULL, "{}", A, &tok, &err), HL_INVALID);
	T_EQ_STR(err.msg, "jwt sign: HS256 secret shorter than 32 bytes");
	T_EQ_INT(hl_jwt_sign_hs256(SECRET, strlen(SECRET), NULL, "[1]", A, &tok, &err), HL_INVALID);
	T_EQ_STR(err.msg, "jwt sign: payload is not a JSON object");
	T_EQ_INT(hl_jwt_sign_hs256(SECRET, strlen(SECRET), NULL, "{\"a\":", A, &tok, &err),
		 HL_INVALID);
	T_EQ_INT(hl_jwt_sign_hs256(SECRET, strlen(SECRET), "", "{}", A, &tok, &err), HL_INVALID);
	T_ASSERT(tok == NULL);

	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, "short", 5, NULL, &err), HL_INVALID);
	T_EQ_INT(hl_jwt_keyset_count(ks), 0);
	hl_jwt_keyset_free(ks);
	T_ASSERT(hl_jwt_keyset_new("", AUD) == NULL);
	T_ASSERT(hl_jwt_keyset_new(ISS, NULL) == NULL);
}

static void test_rs256_and_es256(void)
{
	hl_jwt_keyset *ks = keyset();
	hl_error err = {0};
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, rsa_pem, strlen(rsa_pem), NULL, &err), HL_OK);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, ec_pem, strlen(ec_pem), NULL, &err), HL_OK);
	T_EQ_INT(hl_jwt_keyset_count(ks), 2);
	hl_claims c;
	T_ACCEPTED(ks, make_token(RS, claims("\"roles\":\"agent  supervisor \""), S_RS, rsa, NULL), &c);
	T_EQ_INT(c.alg, HL_JWT_RS256);
	T_EQ_INT(c.n_roles, 2);
	T_EQ_STR(c.roles[0], "agent");
	T_EQ_STR(c.roles[1], "supervisor");
	T_ACCEPTED(ks, make_token(ES, claims(NULL), S_ES, ec, NULL), &c);
	T_EQ_INT(c.alg, HL_JWT_ES256);

	/* signed by keys the set does not hold */
	T_REFUSED(ks, make_token(RS, claims(NULL), S_RS, rsa_other, NULL), "bad signature");
	T_REFUSED(ks, make_token(ES, claims(NULL), S_ES, ec_other, NULL), "bad signature");
	/* header says ES256 but the signature is RSA, and vice versa */
	T_REFUSED(ks, make_token(ES, claims(NULL), S_RS, rsa, NULL), "bad signature");
	T_REFUSED(ks, make_token(RS, claims(NULL), S_ES, ec, NULL), "bad signature");
	/* no HS256 key at all */
	T_REFUSED(ks, make_token(HS, claims(NULL), S_HS, NULL, SECRET), "no key for algorithm");
	hl_jwt_keyset_free(ks);
}

static void test_es256_der_signature_refused(void)
{
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, ec_pem, strlen(ec_pem), NULL, NULL), HL_OK);
	T_REFUSED(ks, make_token(ES, claims(NULL), S_ES_DER, ec, NULL), "bad signature");

	/* 63 and 65 bytes of an otherwise valid raw signature */
	char *good = make_token(ES, claims(NULL), S_ES, ec, NULL);
	T_ASSERT(good);
	char *dot = strrchr(good, '.');
	unsigned char *raw;
	size_t n;
	T_EQ_INT(hl_b64url_decode(A, dot + 1, strlen(dot + 1), &raw, &n, NULL), HL_OK);
	T_EQ_INT(n, 64);
	unsigned char longer[65];
	memcpy(longer, raw, 64);
	longer[64] = 0;
	size_t head = (size_t)(dot - good);
	char *t63 = hl_arena_printf(A, "%.*s.%s", (int)head, good, hl_b64url_encode(A, raw, 63));
	char *t65 = hl_arena_printf(A, "%.*s.%s", (int)head, good, hl_b64url_encode(A, longer, 65));
	T_REFUSED(ks, t63, "bad signature");
	T_REFUSED(ks, t65, "bad signature");
	hl_claims c;
	T_ACCEPTED(ks, good, &c);
	hl_jwt_keyset_free(ks);
}

static void test_alg_none_and_unknown(void)
{
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), NULL, NULL), HL_OK);
	const char *p = claims(NULL);
	T_REFUSED(ks, make_token("{\"alg\":\"none\"}", p, S_NONE, NULL, NULL),
		  "unsupported algorithm none");
	T_REFUSED(ks, make_token("{\"alg\":\"None\",\"typ\":\"JWT\"}", p, S_NONE, NULL, NULL),
		  "unsupported algorithm none");
	/* alg none with a valid-looking HMAC attached is still none */
	T_REFUSED(ks, make_token("{\"alg\":\"none\"}", p, S_HS, NULL, SECRET),
		  "unsupported algorithm none");
	T_REFUSED(ks, make_token("{\"alg\":\"HS512\"}", p, S_HS, NULL, SECRET),
		  "unsupported algorithm");
	T_REFUSED(ks, make_token("{\"alg\":\"hs256\"}", p, S_HS, NULL, SECRET),
		  "unsupported algorithm");
	T_REFUSED(ks, make_token("{\"typ\":\"JWT\"}", p, S_HS, NULL, SECRET),
		  "token header has no alg");
	T_REFUSED(ks, make_token("{\"alg\":[\"HS256\"]}", p, S_HS, NULL, SECRET),
		  "token header has no alg");
	hl_jwt_keyset_free(ks);
}

static void test_hs256_with_rsa_public_key_as_secret(void)
{
	/* the classic confusion: the RSA public key PEM used as an HMAC key */
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, rsa_pem, strlen(rsa_pem), NULL, NULL), HL_OK);
	char *forged = make_token(HS, claims(NULL), S_HS, NULL, rsa_pem);
	T_REFUSED(ks, forged, "no key for algorithm");
	hl_jwt_keyset_free(ks);

	/* the same with the RSA key under a kid the token names */
	ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, rsa_pem, strlen(rsa_pem), "rsa-1", NULL), HL_OK);
	forged = make_token("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", claims(NULL), S_HS, NULL,
			    rsa_pem);
	T_REFUSED(ks, forged, "algorithm does not match the key");
	/* and a set that also has an HS256 secret still refuses it */
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), NULL, NULL), HL_OK);
	T_REFUSED(ks, forged, "algorithm does not match the key");
	T_REFUSED(ks, make_token(HS, claims(NULL), S_HS, NULL, rsa_pem), "bad signature");
	hl_jwt_keyset_free(ks);
}

static void test_kid_selection(void)
{
	hl_jwt_keyset *ks = keyset();
	hl_error err = {0};
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), "a", NULL), HL_OK);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET2, strlen(SECRET2), "b", NULL), HL_OK);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, rsa_pem, strlen(rsa_pem), "r", NULL), HL_OK);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET2, strlen(SECRET2), "a", &err), HL_INVALID);
	T_EQ_STR(err.msg, "jwt key: duplicate kid");
	T_EQ_INT(hl_jwt_keyset_count(ks), 3);

	hl_claims c;
	char *tok = NULL;
	T_EQ_INT(hl_jwt_sign_hs256(SECRET2, strlen(SECRET2), "b", claims(NULL), A, &tok, NULL), HL_OK);
	T_ACCEPTED(ks, tok, &c);
	T_EQ_STR(c.kid, "b");
	/* signed with b's secret but naming a */
	T_EQ_INT(hl_jwt_sign_hs256(SECRET2, strlen(SECRET2), "a", claims(NULL), A, &tok, NULL), HL_OK);
	T_REFUSED(ks, tok, "bad signature");
	T_EQ_INT(hl_jwt_sign_hs256(SECRET2, strlen(SECRET2), "zzz", claims(NULL), A, &tok, NULL), HL_OK);
	T_REFUSED(ks, tok, "no key for kid");
	/* without kid every HS256 key is tried */
	T_ACCEPTED(ks, make_token(HS, claims(NULL), S_HS, NULL, SECRET2), &c);
	T_EQ_STR(c.kid, "b");
	T_ACCEPTED(ks, make_token(HS, claims(NULL), S_HS, NULL, SECRET), &c);
	T_EQ_STR(c.kid, "a");
	/* RS256 by kid and without */
	T_ACCEPTED(ks, make_token("{\"alg\":\"RS256\",\"kid\":\"r\"}", claims(NULL), S_RS, rsa, NULL), &c);
	T_EQ_STR(c.kid, "r");
	T_ACCEPTED(ks, make_token(RS, claims(NULL), S_RS, rsa, NULL), &c);
	T_REFUSED(ks, make_token("{\"alg\":\"RS256\",\"kid\":\"a\"}", claims(NULL), S_RS, rsa, NULL),
		  "algorithm does not match the key");
	T_REFUSED(ks, make_token("{\"alg\":\"HS256\",\"kid\":7}", claims(NULL), S_HS, NULL, SECRET),
		  "token header kid is not a string");
	/* a kid with JSON specials survives signing */
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), "q\"\\k", NULL), HL_OK);
	T_EQ_INT(hl_jwt_sign_hs256(SECRET, strlen(SECRET), "q\"\\k", claims(NULL), A, &tok, NULL), HL_OK);
	T_ACCEPTED(ks, tok, &c);
	T_EQ_STR(c.kid, "q\"\\k");
	hl_jwt_keyset_free(ks);
}

static void test_time_claims(void)
{
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), NULL, NULL), HL_OK);
	const char *no_exp = "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u\","
			     "\"tenant\":\"demo\"}";
	T_REFUSED(ks, make_token(HS, no_exp, S_HS, NULL, SECRET), "token has no exp");

	char *tok = make_token(HS, claims(NULL), S_HS, NULL, SECRET); /* exp NOW+600 */
	T_REFUSED_AT(ks, tok, NOW + 600, 0, "token expired");
	T_REFUSED_AT(ks, tok, NOW + 700, 60, "token expired");
	T_REFUSED_AT(ks, tok, NOW + 600 + 86400, 1000000, "token expired"); /* leeway clamped */
	hl_claims c;
	hl_error err = {0};
	T_EQ_INT(hl_jwt_verify(ks, tok, strlen(tok), NOW + 599, 0, A, &c, &err), HL_OK);
	T_EQ_INT(hl_jwt_verify(ks, tok, strlen(tok), NOW + 650, 60, A, &c, &err), HL_OK);
	T_EQ_INT(hl_jwt_verify(ks, tok, strlen(tok), NOW + 599, -5, A, &c, &err), HL_OK);

	tok = make_token(HS, claims("\"nbf\":1700000100"), S_HS, NULL, SECRET);
	T_REFUSED(ks, tok, "token not yet valid");
	T_EQ_INT(hl_jwt_verify(ks, tok, strlen(tok), NOW, 100, A, &c, &err), HL_OK);
	T_EQ_INT(hl_jwt_verify(ks, tok, strlen(tok), NOW + 100, 0, A, &c, &err), HL_OK);

	tok = make_token(HS, claims("\"iat\":1700000100"), S_HS, NULL, SECRET);
	T_REFUSED(ks, tok, "token issued in the future");
	T_EQ_INT(hl_jwt_verify(ks, tok, strlen(tok), NOW, 120, A, &c, &err), HL_OK);

	/* NumericDates with fractions are allowed; other types are not */
	const char *frac = "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u\","
			   "\"tenant\":\"demo\",\"exp\":1700000600.75}";
	T_ACCEPTED(ks, make_token(HS, frac, S_HS, NULL, SECRET), &c);
	T_EQ_INT(c.exp, NOW + 600);
	const char *str_exp = "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u\","
			      "\"tenant\":\"demo\",\"exp\":\"1700000600\"}";
	T_REFUSED(ks, make_token(HS, str_exp, S_HS, NULL, SECRET), "claim exp: not a number");
	const char *huge = "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u\","
			   "\"tenant\":\"demo\",\"exp\":1e300}";
	T_REFUSED(ks, make_token(HS, huge, S_HS, NULL, SECRET), "claim exp: out of range");
	T_REFUSED(ks, make_token(HS, claims("\"nbf\":true"), S_HS, NULL, SECRET),
		  "claim nbf: not a number");
	hl_jwt_keyset_free(ks);
}

static void test_issuer_and_audience(void)
{
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), NULL, NULL), HL_OK);
	static const struct {
		const char *payload, *msg;
	} cases[] = {
		{"{\"iss\":\"https://evil.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "issuer mismatch"},
		{"{\"iss\":\"https://idp.test/\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "issuer mismatch"},
		{"{\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "token has no issuer"},
		{"{\"iss\":1,\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "claim iss: not a string"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"other\",\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "audience mismatch"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"HOTLINE\",\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "audience mismatch"},
		{"{\"iss\":\"https://idp.test\",\"aud\":[\"a\",\"b\"],\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "audience mismatch"},
		{"{\"iss\":\"https://idp.test\",\"aud\":[],\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "audience mismatch"},
		{"{\"iss\":\"https://idp.test\",\"aud\":[\"hotline\",1],\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "claim aud: array item not a string"},
		{"{\"iss\":\"https://idp.test\",\"aud\":{},\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "claim aud: not a string or array"},
		{"{\"iss\":\"https://idp.test\",\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "token has no audience"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
		T_REFUSED(ks, make_token(HS, cases[k].payload, S_HS, NULL, SECRET), cases[k].msg);
	hl_claims c;
	T_ACCEPTED(ks,
		   make_token(HS,
			      "{\"iss\":\"https://idp.test\",\"aud\":[\"other\",\"hotline\"],"
			      "\"sub\":\"u\",\"tenant\":\"demo\",\"exp\":1700000600}",
			      S_HS, NULL, SECRET),
		   &c);
	hl_jwt_keyset_free(ks);
}

static void test_platform_claims(void)
{
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), NULL, NULL), HL_OK);
	static const struct {
		const char *payload, *msg;
	} cases[] = {
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "token has no sub"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "claim sub: not 1..128 visible ASCII characters"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"a b\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "claim sub: not 1..128 visible ASCII characters"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"\\u00e9\",\"tenant\":\"demo\",\"exp\":1700000600}",
		 "claim sub: not 1..128 visible ASCII characters"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":5,\"tenant\":\"demo\",\"exp\":1700000600}",
		 "claim sub: not 1..128 visible ASCII characters"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"exp\":1700000600}",
		 "token has no tenant"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"Demo\",\"exp\":1700000600}",
		 "claim tenant: not a valid tenant id"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":[\"demo\"],\"exp\":1700000600}",
		 "claim tenant: not a valid tenant id"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"tenants\":\"hq\",\"exp\":1700000600}",
		 "claim tenants: not an array"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"tenants\":[\"hq\",\"x\"],\"exp\":1700000600}",
		 "claim tenants: not a list of valid tenant ids"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"roles\":[\"agent\",\"\"],\"exp\":1700000600}",
		 "claim roles: item not a non-empty string"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"roles\":[\"agent\",3],\"exp\":1700000600}",
		 "claim roles: item not a non-empty string"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"roles\":{},\"exp\":1700000600}",
		 "claim roles: not an array or string"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"dept\":7,\"exp\":1700000600}",
		 "claim dept: not a non-empty string"},
		{"{\"iss\":\"https://idp.test\",\"aud\":\"hotline\",\"sub\":\"u\",\"tenant\":\"demo\",\"jti\":\"\",\"exp\":1700000600}",
		 "claim jti: not a non-empty string"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
		T_REFUSED(ks, make_token(HS, cases[k].payload, S_HS, NULL, SECRET), cases[k].msg);

	hl_claims c;
	T_ACCEPTED(ks, make_token(HS, claims("\"roles\":\"\",\"dept\":null,\"tenants\":null"), S_HS,
				  NULL, SECRET), &c);
	T_EQ_INT(c.n_roles, 0);
	T_ASSERT(c.dept == NULL && c.n_tenants == 0);
	T_ACCEPTED(ks, make_token(HS, claims("\"roles\":\"pii_reader\",\"tenants\":[]"), S_HS, NULL,
				  SECRET), &c);
	T_EQ_INT(c.n_roles, 1);
	T_EQ_STR(c.roles[0], "pii_reader");

	/* sub goes out as x-actor metadata: at most 128 characters */
	char sub[130];
	memset(sub, 'x', sizeof sub - 1);
	sub[128] = '\0';
	T_ACCEPTED(ks, make_token(HS, hl_arena_printf(A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
							 "\",\"sub\":\"%s\",\"tenant\":\"demo\","
							 "\"exp\":1700000600}", sub),
				  S_HS, NULL, SECRET), &c);
	T_EQ_INT(strlen(c.sub), 128);
	sub[128] = 'x';
	sub[129] = '\0';
	T_REFUSED(ks, make_token(HS, hl_arena_printf(A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
							"\",\"sub\":\"%s\",\"tenant\":\"demo\","
							"\"exp\":1700000600}", sub),
				 S_HS, NULL, SECRET),
		  "claim sub: not 1..128 visible ASCII characters");
	hl_jwt_keyset_free(ks);
}

static void test_header_rules(void)
{
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), NULL, NULL), HL_OK);
	const char *p = claims(NULL);
	hl_claims c;
	T_ACCEPTED(ks, make_token("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", p, S_HS, NULL, SECRET), &c);
	T_ACCEPTED(ks, make_token("{\"alg\":\"HS256\"}", p, S_HS, NULL, SECRET), &c);
	/* embedded or remote keys are ignored, not trusted */
	T_ACCEPTED(ks, make_token("{\"alg\":\"HS256\",\"jku\":\"https://evil.test/k\"}", p, S_HS,
				  NULL, SECRET), &c);
	T_REFUSED(ks, make_token("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", p, S_HS, NULL, SECRET),
		  "unsupported token type");
	T_REFUSED(ks, make_token("{\"alg\":\"HS256\",\"typ\":1}", p, S_HS, NULL, SECRET),
		  "unsupported token type");
	T_REFUSED(ks, make_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", p, S_HS, NULL, SECRET),
		  "unsupported critical header parameters");
	T_REFUSED(ks, make_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", p, S_HS, NULL, SECRET),
		  "malformed token header: json: duplicate key in object at offset 0");
	T_REFUSED(ks, make_token("[\"HS256\"]", p, S_HS, NULL, SECRET),
		  "malformed token header: not a JSON object");
	T_REFUSED(ks, make_token("{\"alg\":\"HS256\"", p, S_HS, NULL, SECRET),
		  "malformed token header: json: ',' or '}' expected at end of input");
	T_REFUSED(ks, make_token(HS, "[1]", S_HS, NULL, SECRET),
		  "malformed token payload: not a JSON object");
	T_REFUSED(ks, make_token(HS, "{\"exp\":1,}", S_HS, NULL, SECRET),
		  "malformed token payload: json: string key expected at offset 9");
	hl_jwt_keyset_free(ks);
}

static void test_malformed_tokens(void)
{
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), NULL, NULL), HL_OK);
	char *good = make_token(HS, claims(NULL), S_HS, NULL, SECRET);
	T_ASSERT(good);
	hl_claims c;
	T_ACCEPTED(ks, good, &c);
	char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
	int h = (int)(d1 - good), hp = (int)(d2 - good);

	T_REFUSED(ks, "", "no token");
	T_REFUSED(ks, "abc", "malformed token: not three segments");
	T_REFUSED(ks, hl_arena_printf(A, "%.*s", hp, good), "malformed token: not three segments");
	T_REFUSED(ks, hl_arena_printf(A, "%s.abc", good), "malformed token: more than three segments");
	T_REFUSED(ks, hl_arena_printf(A, "%s=", good),
		  "malformed token: character outside base64url");
	T_REFUSED(ks, hl_arena_printf(A, " %s", good),
		  "malformed token: character outside base64url");
	T_REFUSED(ks, hl_arena_printf(A, "%.*s+%s", h, good, d1 + 2),
		  "malformed token: character outside base64url");
	T_REFUSED(ks, hl_arena_printf(A, "%s", d1), "malformed token: empty header or payload");
	T_REFUSED(ks, hl_arena_printf(A, "%.*s.%s", h, good, d2),
		  "malformed token: empty header or payload");
	T_REFUSED(ks, hl_arena_printf(A, "%.*s.", hp, good), "malformed token signature");
	/* one character more in the header makes an impossible base64 length */
	T_REFUSED(ks, hl_arena_printf(A, "A%s", good),
		  "malformed token header: base64url: impossible length 37");
	/* a signature whose last character has unused bits set */
	char *bits = hl_arena_strdup(A, good);
	size_t n = strlen(bits);
	bits[n - 1] = bits[n - 1] == 'B' ? 'D' : 'B'; /* low bits 01 or 11 */
	T_REFUSED(ks, bits, "malformed token signature");
	/* tampered payload, original signature */
	char *tampered = make_token(HS, claims("\"tenants\":[\"other\"]"), S_HS, NULL, SECRET);
	char *t1 = strchr(tampered, '.'), *t2 = strrchr(tampered, '.');
	char *mixed = hl_arena_printf(A, "%.*s%.*s%s", h, good, (int)(t2 - t1), t1, d2);
	T_REFUSED(ks, mixed, "bad signature");
	/* a length that stops before the end of the buffer is honoured */
	char *padded = hl_arena_printf(A, "%s.trailing", good);
	hl_error err = {0};
	T_EQ_INT(hl_jwt_verify(ks, padded, strlen(good), NOW, 0, A, &c, &err), HL_OK);
	/* size bound */
	size_t big = HL_JWT_MAX_TOKEN + 1;
	char *huge = hl_arena_alloc(A, big + 1);
	memset(huge, 'A', big);
	T_REFUSED(ks, huge, "token too large");
	hl_jwt_keyset_free(ks);
}

static void test_pem_loading(void)
{
	hl_jwt_keyset *ks = keyset();
	hl_error err = {0};
	T_ASSERT(ks);
	/* concatenated PEM file with comments around the blocks */
	char *both = hl_arena_printf(A, "# idp keys\n%s\nsecond:\n%s", rsa_pem, ec_pem);
	char *path = write_temp(both);
	T_ASSERT(path);
	hl_status st = hl_jwt_keyset_load_file(ks, path, &err);
	unlink(path);
	T_EQ_INT(st, HL_OK);
	T_EQ_INT(hl_jwt_keyset_count(ks), 2);
	hl_claims c;
	T_ACCEPTED(ks, make_token(RS, claims(NULL), S_RS, rsa, NULL), &c);
	T_ACCEPTED(ks, make_token(ES, claims(NULL), S_ES, ec, NULL), &c);
	T_ASSERT(c.kid == NULL);
	/* PKCS#1 RSA keys and certificates are read too */
	char *pkcs1 = pkcs1_pem(rsa_other), *cert = cert_pem(ec_other);
	T_ASSERT(pkcs1 && strstr(pkcs1, "BEGIN RSA PUBLIC KEY"));
	T_ASSERT(cert && strstr(cert, "BEGIN CERTIFICATE"));
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, pkcs1, strlen(pkcs1), "pkcs1", &err), HL_OK);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, cert, strlen(cert), "cert", &err), HL_OK);
	T_EQ_INT(hl_jwt_keyset_count(ks), 4);
	T_ACCEPTED(ks, make_token("{\"alg\":\"RS256\",\"kid\":\"pkcs1\"}", claims(NULL), S_RS,
				  rsa_other, NULL), &c);
	T_ACCEPTED(ks, make_token(ES, claims(NULL), S_ES, ec_other, NULL), &c);
	T_EQ_STR(c.kid, "cert");
	/* a kid names exactly one key; a failed add leaves the set unchanged */
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, both, strlen(both), "k", &err), HL_INVALID);
	T_EQ_STR(err.msg, "pem: a kid names exactly one key");
	T_EQ_INT(hl_jwt_keyset_count(ks), 4);
	hl_jwt_keyset_free(ks);

	ks = keyset();
	T_ASSERT(ks);
	/* a private key is refused */
	BIO *b = BIO_new(BIO_s_mem());
	char *priv = NULL, *p;
	if (b && PEM_write_bio_PrivateKey(b, ec, NULL, NULL, 0, NULL, NULL) == 1) {
		long len = BIO_get_mem_data(b, &p);
		priv = hl_arena_strndup(A, p, (size_t)len);
	}
	BIO_free(b);
	T_ASSERT(priv);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, priv, strlen(priv), NULL, &err), HL_INVALID);
	T_EQ_STR(err.msg, "pem: private key given where a public key belongs");
	/* a good key followed by a private one: nothing is added */
	char *mixed = hl_arena_printf(A, "%s%s", rsa_pem, priv);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, mixed, strlen(mixed), NULL, &err), HL_INVALID);
	T_EQ_INT(hl_jwt_keyset_count(ks), 0);
	/* weak and off-curve keys */
	EVP_PKEY *small = EVP_RSA_gen(1024), *p384 = EVP_EC_gen("P-384");
	T_ASSERT(small && p384);
	char *small_pem = pubkey_pem(small), *p384_pem = pubkey_pem(p384);
	EVP_PKEY_free(small);
	EVP_PKEY_free(p384);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, small_pem, strlen(small_pem), NULL, &err), HL_INVALID);
	T_EQ_STR(err.msg, "jwt key: RSA key shorter than 2048 bits");
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, p384_pem, strlen(p384_pem), NULL, &err), HL_INVALID);
	T_EQ_STR(err.msg, "jwt key: EC key not on curve P-256");
	/* no key, garbage, and a missing file */
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, "hello", 5, NULL, &err), HL_INVALID);
	T_EQ_STR(err.msg, "pem: no public key found");
	const char *bad = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
	T_ASSERT(hl_jwt_keyset_add_pem(ks, bad, strlen(bad), NULL, &err) != HL_OK);
	T_EQ_INT(hl_jwt_keyset_load_file(ks, "/nonexistent/keys.pem", &err), HL_IO);
	path = write_temp("not a key\n");
	T_ASSERT(path);
	st = hl_jwt_keyset_load_file(ks, path, &err);
	T_EQ_INT(st, HL_INVALID);
	T_ASSERT(strstr(err.msg, "neither a JWKS document nor PEM") != NULL);
	unlink(path);
	T_EQ_INT(hl_jwt_keyset_count(ks), 0);
	hl_jwt_keyset_free(ks);
}

static void test_jwks_loading(void)
{
	hl_jwt_keyset *ks = keyset();
	hl_error err = {0};
	T_ASSERT(ks);
	char *doc = hl_arena_printf(A,
				    "{\"keys\":[%s,%s,"
				    "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"sym\"},"
				    "{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
				    "{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"p384\",\"x\":\"AA\",\"y\":\"AA\"},"
				    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}]}",
				    jwk_rsa(rsa, "rsa-1"), jwk_ec(ec, "ec-1"));
	char *path = write_temp(doc);
	T_ASSERT(path);
	hl_status st = hl_jwt_keyset_load_file(ks, path, &err);
	unlink(path);
	if (st != HL_OK)
		T_FAILF("load: %s", err.msg);
	T_EQ_INT(hl_jwt_keyset_count(ks), 2);

	hl_claims c;
	T_ACCEPTED(ks, make_token("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", claims(NULL), S_RS, rsa,
				  NULL), &c);
	T_EQ_STR(c.kid, "rsa-1");
	T_ACCEPTED(ks, make_token("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", claims(NULL), S_ES, ec,
				  NULL), &c);
	T_EQ_STR(c.kid, "ec-1");
	T_EQ_INT(c.alg, HL_JWT_ES256);
	T_ACCEPTED(ks, make_token(ES, claims(NULL), S_ES, ec, NULL), &c);
	T_REFUSED(ks, make_token("{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", claims(NULL), S_ES, ec,
				 NULL), "algorithm does not match the key");
	T_REFUSED(ks, make_token("{\"alg\":\"HS256\",\"kid\":\"sym\"}", claims(NULL), S_HS, NULL,
				 "secret"), "no key for kid");
	T_REFUSED(ks, make_token("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", claims(NULL), S_ES,
				 ec_other, NULL), "bad signature");
	hl_jwt_keyset_free(ks);
}

static void test_jwks_rejects(void)
{
	char *ec_ok = jwk_ec(ec, "e");
	char *x = bn_param_b64u(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32);
	char *y = bn_param_b64u(ec_other, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	static const char *fixed[][2] = {
		{"[]", "jwks: \"keys\" array missing"},
		{"{\"keys\":{}}", "jwks: \"keys\" array missing"},
		{"{\"keys\":[]}", "jwks: no RS256 or ES256 signing key"},
		{"{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}", "jwks: no RS256 or ES256 signing key"},
		{"{\"keys\":[1]}", "jwks: key 0: not an object"},
		{"{\"keys\":[{\"kid\":\"a\"}]}", "jwks: key 0: \"kty\" missing"},
		{"{\"keys\":[{\"kty\":\"RSA\",\"kid\":5,\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
		 "jwks: key 0: use, alg and kid must be strings"},
		{"{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",
		 "jwks: key 0: \"n\" missing or not a string"},
		{"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"A+B\",\"e\":\"AQAB\"}]}",
		 "jwks: key 0: \"n\" is not base64url"},
		{"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
		 "jwks: key 0: P-256 coordinates must be 32 bytes"},
		{"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"d\":\"AA\",\"x\":\"AA\",\"y\":\"AA\"}]}",
		 "jwks: key 0: holds private parameters"},
	};
	for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++) {
		hl_jwt_keyset *ks = keyset();
		hl_error err = {0};
		T_ASSERT(ks);
		const char *doc = fixed[k][0];
		hl_status st = hl_jwt_keyset_add_jwks(ks, doc, strlen(doc), &err);
		size_t n = hl_jwt_keyset_count(ks);
		hl_jwt_keyset_free(ks);
		T_ASSERT(st != HL_OK);
		T_EQ_INT(n, 0);
		T_EQ_STR(err.msg, fixed[k][1]);
	}
	/* one good key, then one whose point is not on the curve: nothing is kept */
	hl_jwt_keyset *ks = keyset();
	hl_error err = {0};
	T_ASSERT(ks);
	char *doc = hl_arena_printf(A, "{\"keys\":[%s,{\"kty\":\"EC\",\"crv\":\"P-256\","
				       "\"kid\":\"bad\",\"x\":\"%s\",\"y\":\"%s\"}]}",
				    ec_ok, x, y);
	T_EQ_INT(hl_jwt_keyset_add_jwks(ks, doc, strlen(doc), &err), HL_CRYPTO);
	T_ASSERT(strstr(err.msg, "jwks: key 1: cannot build EC key") == err.msg);
	T_EQ_INT(hl_jwt_keyset_count(ks), 0);
	/* a small RSA modulus and duplicate kids */
	doc = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}";
	T_ASSERT(hl_jwt_keyset_add_jwks(ks, doc, strlen(doc), &err) != HL_OK);
	doc = hl_arena_printf(A, "{\"keys\":[%s,%s]}", ec_ok, jwk_rsa(rsa, "e"));
	T_EQ_INT(hl_jwt_keyset_add_jwks(ks, doc, strlen(doc), &err), HL_INVALID);
	T_EQ_STR(err.msg, "jwt key: duplicate kid");
	T_EQ_INT(hl_jwt_keyset_count(ks), 0);
	hl_jwt_keyset_free(ks);
}

static void test_helpers(void)
{
	const char *tenants[] = {"sub-east", "hq"};
	const char *roles[] = {"agent", "dispatcher"};
	hl_claims c = {.sub = "u", .tenant = "demo", .tenants = tenants, .n_tenants = 2,
		       .roles = roles, .n_roles = 2};
	T_ASSERT(hl_claims_has_role(&c, "agent"));
	T_ASSERT(hl_claims_has_role(&c, "dispatcher"));
	T_ASSERT(!hl_claims_has_role(&c, "Agent"));
	T_ASSERT(!hl_claims_has_role(&c, "supervisor"));
	T_ASSERT(!hl_claims_has_role(&c, NULL));
	T_ASSERT(hl_claims_may_act_in(&c, "demo"));
	T_ASSERT(hl_claims_may_act_in(&c, "hq"));
	T_ASSERT(hl_claims_may_act_in(&c, "sub-east"));
	T_ASSERT(!hl_claims_may_act_in(&c, "sub-west"));
	T_ASSERT(!hl_claims_may_act_in(&c, NULL));

	T_ASSERT(hl_tenant_slug_valid("demo"));
	T_ASSERT(hl_tenant_slug_valid("sub-east"));
	T_ASSERT(hl_tenant_slug_valid("a1"));
	T_ASSERT(hl_tenant_slug_valid("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
	T_ASSERT(!hl_tenant_slug_valid("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
	T_ASSERT(!hl_tenant_slug_valid("a"));
	T_ASSERT(!hl_tenant_slug_valid(""));
	T_ASSERT(!hl_tenant_slug_valid(NULL));
	T_ASSERT(!hl_tenant_slug_valid("Demo"));
	T_ASSERT(!hl_tenant_slug_valid("de mo"));
	T_ASSERT(!hl_tenant_slug_valid("de_mo"));
	T_ASSERT(!hl_tenant_slug_valid("d\xc3\xa9mo"));
}

/* ---- concurrency ------------------------------------------------------- */

struct worker {
	const hl_jwt_keyset *ks;
	const char *tokens[3];
	int failures;
};

static void *verify_loop(void *arg)
{
	struct worker *w = arg;
	hl_arena *a = hl_arena_new();
	if (!a) {
		w->failures++;
		return NULL;
	}
	for (int i = 0; i < 150; i++) {
		const char *t = w->tokens[i % 3];
		hl_claims c;
		if (hl_jwt_verify(w->ks, t, strlen(t), NOW, 0, a, &c, NULL) != HL_OK ||
		    strcmp(c.sub, "u-1001") != 0)
			w->failures++;
	}
	hl_arena_free(a);
	return NULL;
}

static void test_shared_keyset_across_threads(void)
{
	hl_jwt_keyset *ks = keyset();
	T_ASSERT(ks);
	T_EQ_INT(hl_jwt_keyset_add_hs256(ks, SECRET, strlen(SECRET), "h", NULL), HL_OK);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, rsa_pem, strlen(rsa_pem), "r", NULL), HL_OK);
	T_EQ_INT(hl_jwt_keyset_add_pem(ks, ec_pem, strlen(ec_pem), "e", NULL), HL_OK);
	struct worker w[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.ks = ks};
		w[i].tokens[0] = make_token("{\"alg\":\"HS256\",\"kid\":\"h\"}", claims(NULL), S_HS,
					    NULL, SECRET);
		w[i].tokens[1] = make_token("{\"alg\":\"RS256\",\"kid\":\"r\"}", claims(NULL), S_RS,
					    rsa, NULL);
		w[i].tokens[2] = make_token(ES, claims(NULL), S_ES, ec, NULL);
		T_ASSERT(w[i].tokens[0] && w[i].tokens[1] && w[i].tokens[2]);
	}
	int started = 0;
	for (; started < 4; started++)
		if (pthread_create(&th[started], NULL, verify_loop, &w[started]) != 0)
			break;
	int failures = 0;
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		failures += w[i].failures;
	}
	hl_jwt_keyset_free(ks);
	T_EQ_INT(started, 4);
	T_EQ_INT(failures, 0);
}

int main(void)
{
	A = hl_arena_new();
	rsa = EVP_RSA_gen(2048);
	rsa_other = EVP_RSA_gen(2048);
	ec = EVP_EC_gen("P-256");
	ec_other = EVP_EC_gen("P-256");
	if (!A || !rsa || !rsa_other || !ec || !ec_other)
		return 1;
	rsa_pem = pubkey_pem(rsa);
	ec_pem = pubkey_pem(ec);
	if (!rsa_pem || !ec_pem)
		return 1;

	T_RUN(test_hs256_sign_and_verify);
	T_RUN(test_hs256_sign_rejects);
	T_RUN(test_rs256_and_es256);
	T_RUN(test_es256_der_signature_refused);
	T_RUN(test_alg_none_and_unknown);
	T_RUN(test_hs256_with_rsa_public_key_as_secret);
	T_RUN(test_kid_selection);
	T_RUN(test_time_claims);
	T_RUN(test_issuer_and_audience);
	T_RUN(test_platform_claims);
	T_RUN(test_header_rules);
	T_RUN(test_malformed_tokens);
	T_RUN(test_pem_loading);
	T_RUN(test_jwks_loading);
	T_RUN(test_jwks_rejects);
	T_RUN(test_helpers);
	T_RUN(test_shared_keyset_across_threads);

	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec_other);
	hl_arena_free(A);
	return T_DONE();
}
