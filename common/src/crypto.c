/*
 * crypto.c - cryptographic primitives on OpenSSL 3 EVP (see crypto.h).
 *
 * The algorithms (AES-256-GCM, SHA-256, HMAC, HKDF) are fetched once per
 * process with pthread_once and shared by all threads, which avoids the
 * implicit fetch OpenSSL 3 would otherwise do on every call.  This is the
 * one module that translates OpenSSL errors into hl_status.
 */
#include "hl/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *alg_gcm;
static EVP_MD *alg_sha256;
static EVP_MAC *alg_hmac;
static EVP_KDF *alg_hkdf;

static void algs_fetch(void)
{
	alg_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	alg_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

/* Fetch the algorithms on first use; false when one is unavailable. */
static bool algs_ready(hl_error *err)
{
	pthread_once(&algs_once, algs_fetch);
	if (alg_gcm && alg_sha256 && alg_hmac && alg_hkdf)
		return true;
	hl_fail(err, HL_CRYPTO, "openssl: required algorithm unavailable");
	return false;
}

hl_status hl_random_bytes(void *p, size_t n)
{
	unsigned char *q = p;
	while (n > 0) {
		int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
		if (RAND_bytes(q, chunk) != 1)
			return HL_CRYPTO;
		q += chunk;
		n -= (size_t)chunk;
	}
	return HL_OK;
}

void hl_cleanse(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

bool hl_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

hl_status hl_sha256(const void *p, size_t n, uint8_t out[HL_SHA256_LEN], hl_error *err)
{
	if (!algs_ready(err))
		return HL_CRYPTO;
	unsigned int len = 0;
	if (EVP_Digest(p, n, out, &len, alg_sha256, NULL) != 1 || len != HL_SHA256_LEN)
		return hl_fail(err, HL_CRYPTO, "sha256 failed");
	return HL_OK;
}

hl_status hl_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t n,
			 uint8_t out[HL_SHA256_LEN], hl_error *err)
{
	static const unsigned char empty_key[1];
	if (!algs_ready(err))
		return HL_CRYPTO;
	hl_status st = HL_OK;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg_hmac);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t len = 0;
	if (!ctx ||
	    EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, params) != 1 ||
	    EVP_MAC_update(ctx, n ? msg : empty_key, n) != 1 ||
	    EVP_MAC_final(ctx, out, &len, HL_SHA256_LEN) != 1 || len != HL_SHA256_LEN)
		st = hl_fail(err, HL_CRYPTO, "hmac-sha256 failed");
	EVP_MAC_CTX_free(ctx);
	return st;
}

hl_status hl_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
			 const void *info, size_t info_len, uint8_t *out, size_t out_len,
			 hl_error *err)
{
	if (out_len == 0 || out_len > 255 * HL_SHA256_LEN)
		return hl_fail(err, HL_INVALID, "hkdf: output length out of range");
	if (ikm_len == 0)
		return hl_fail(err, HL_INVALID, "hkdf: empty input key");
	if (!algs_ready(err))
		return HL_CRYPTO;
	hl_status st = HL_OK;
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(alg_hkdf);
	OSSL_PARAM params[5], *p = params;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	if (salt_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
							 salt_len);
	if (info_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
							 info_len);
	*p = OSSL_PARAM_construct_end();
	if (!ctx || EVP_KDF_derive(ctx, out, out_len, params) != 1)
		st = hl_fail(err, HL_CRYPTO, "hkdf-sha256 failed");
	EVP_KDF_CTX_free(ctx);
	return st;
}

void hl_hex_write(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *q = p;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[q[i] >> 4];
		out[2 * i + 1] = digits[q[i] & 15];
	}
	out[2 * n] = '\0';
}

hl_status hl_hex_encode(const void *p, size_t n, hl_arena *a, char **out, hl_error *err)
{
	if (n > (SIZE_MAX - 1) / 2)
		return hl_fail(err, HL_INVALID, "hex: input too long");
	char *s = hl_arena_alloc(a, 2 * n + 1);
	if (!s)
		return hl_fail(err, HL_NOMEM, "hex: out of memory");
	hl_hex_write(p, n, s);
	*out = s;
	return HL_OK;
}

const char *hl_sha256_text(hl_arena *a, const char *text)
{
	uint8_t d[HL_SHA256_LEN];
	hl_error err;
	char *hex = hl_arena_alloc(a, 2 * HL_SHA256_LEN + 1);
	if (!hex || hl_sha256(text, strlen(text), d, &err))
		return NULL;
	hl_hex_write(d, sizeof d, hex);
	return hex;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

hl_status hl_hex_decode(const char *hex, hl_arena *a, uint8_t **out, size_t *out_len,
			hl_error *err)
{
	if (!hex)
		return hl_fail(err, HL_INVALID, "hex: missing");
	size_t len = strlen(hex);
	if (len % 2)
		return hl_fail(err, HL_INVALID, "hex: odd length");
	uint8_t *b = hl_arena_alloc(a, len / 2 + 1);
	if (!b)
		return hl_fail(err, HL_NOMEM, "hex: out of memory");
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return hl_fail(err, HL_INVALID, "hex: invalid digit at offset %zu",
				       hi < 0 ? i : i + 1);
		b[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*out = b;
	*out_len = len / 2;
	return HL_OK;
}

/*
 * The last (milliseconds << 12 | sub-millisecond counter) handed out, so that
 * UUIDs of this process are strictly increasing even within one millisecond
 * or when the wall clock steps back.
 */
static _Atomic uint64_t uuid_last;

static uint64_t uuid_next_stamp(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	uint64_t sub = (uint64_t)(ts.tv_nsec % 1000000) * 4096 / 1000000;
	uint64_t now = (ms & 0xffffffffffffULL) << 12 | sub;
	uint64_t last = atomic_load(&uuid_last), next;
	do {
		next = now > last ? now : last + 1;
	} while (!atomic_compare_exchange_weak(&uuid_last, &last, next));
	return next;
}

hl_status hl_uuid_v7(char out[HL_UUID_STR_LEN])
{
	uint8_t b[16];
	if (hl_random_bytes(b + 8, 8) != HL_OK)
		return HL_CRYPTO;
	uint64_t stamp = uuid_next_stamp();
	uint64_t ms = stamp >> 12;
	unsigned rand_a = (unsigned)(stamp & 0xfff);
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | rand_a >> 8);
	b[7] = (uint8_t)(rand_a & 0xff);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	char hex[33];
	hl_hex_write(b, 16, hex);
	snprintf(out, HL_UUID_STR_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
	return HL_OK;
}

bool hl_uuid_valid(const char *s)
{
	if (!s)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : hex_value(s[i]) < 0)
			return false;
	}
	return s[36] == '\0';
}

/* AAD of an AEAD blob: its version byte, then the caller's data. */
static bool aead_add_aad(EVP_CIPHER_CTX *ctx, bool enc, const uint8_t *version,
			 const void *aad, size_t aad_len)
{
	int l;
	int (*update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int) =
		enc ? EVP_EncryptUpdate : EVP_DecryptUpdate;
	if (update(ctx, NULL, &l, version, 1) != 1)
		return false;
	return aad_len == 0 || update(ctx, NULL, &l, aad, (int)aad_len) == 1;
}

hl_status hl_aead_seal_buf(const uint8_t key[HL_AEAD_KEY_LEN], const void *aad, size_t aad_len,
			   const void *pt, size_t n, uint8_t *blob, hl_error *err)
{
	if (n > HL_AEAD_MAX_LEN || aad_len > HL_AEAD_MAX_LEN)
		return hl_fail(err, HL_INVALID, "aead: input too long");
	if (!algs_ready(err))
		return HL_CRYPTO;
	uint8_t *nonce = blob + 1, *ct = nonce + HL_AEAD_NONCE_LEN, *tag = ct + n;
	blob[0] = HL_AEAD_VERSION;
	if (hl_random_bytes(nonce, HL_AEAD_NONCE_LEN) != HL_OK)
		return hl_fail(err, HL_CRYPTO, "aead: random generator failed");

	hl_status st = HL_OK;
	int l = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_EncryptInit_ex2(ctx, alg_gcm, key, nonce, NULL) != 1 ||
	    !aead_add_aad(ctx, true, blob, aad, aad_len) ||
	    (n && EVP_EncryptUpdate(ctx, ct, &l, pt, (int)n) != 1) ||
	    EVP_EncryptFinal_ex(ctx, ct + l, &l) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, HL_AEAD_TAG_LEN, tag) != 1)
		st = hl_fail(err, HL_CRYPTO, "encryption failed");
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

hl_status hl_aead_seal(const uint8_t key[HL_AEAD_KEY_LEN], const void *aad, size_t aad_len,
		       const void *pt, size_t n, hl_arena *a, uint8_t **out, size_t *out_len,
		       hl_error *err)
{
	if (n > HL_AEAD_MAX_LEN)
		return hl_fail(err, HL_INVALID, "aead: input too long");
	uint8_t *blob = hl_arena_alloc(a, n + HL_AEAD_OVERHEAD);
	if (!blob)
		return hl_fail(err, HL_NOMEM, "aead: out of memory");
	hl_status st = hl_aead_seal_buf(key, aad, aad_len, pt, n, blob, err);
	if (st != HL_OK)
		return st;
	*out = blob;
	*out_len = n + HL_AEAD_OVERHEAD;
	return HL_OK;
}

hl_status hl_aead_open_buf(const uint8_t key[HL_AEAD_KEY_LEN], const void *aad, size_t aad_len,
			   const uint8_t *blob, size_t blob_len, uint8_t *pt, hl_error *err)
{
	if (blob_len < HL_AEAD_OVERHEAD)
		return hl_fail(err, HL_CRYPTO, "decryption failed: ciphertext too short");
	if (blob[0] != HL_AEAD_VERSION)
		return hl_fail(err, HL_CRYPTO, "decryption failed: unknown format version");
	size_t n = blob_len - HL_AEAD_OVERHEAD;
	if (n > HL_AEAD_MAX_LEN || aad_len > HL_AEAD_MAX_LEN)
		return hl_fail(err, HL_INVALID, "aead: input too long");
	if (!algs_ready(err))
		return HL_CRYPTO;
	const uint8_t *nonce = blob + 1, *ct = nonce + HL_AEAD_NONCE_LEN, *tag = ct + n;

	hl_status st = HL_OK;
	int l = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_DecryptInit_ex2(ctx, alg_gcm, key, nonce, NULL) != 1 ||
	    !aead_add_aad(ctx, false, blob, aad, aad_len) ||
	    (n && EVP_DecryptUpdate(ctx, pt, &l, ct, (int)n) != 1) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, HL_AEAD_TAG_LEN, (void *)tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, pt + l, &l) != 1) {
		OPENSSL_cleanse(pt, n);
		st = hl_fail(err, HL_CRYPTO, "decryption failed");
	}
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

struct wipe {
	void *p;
	size_t n;
};

static void wipe_run(void *arg)
{
	struct wipe *w = arg;
	OPENSSL_cleanse(w->p, w->n);
}

hl_status hl_aead_open(const uint8_t key[HL_AEAD_KEY_LEN], const void *aad, size_t aad_len,
		       const uint8_t *blob, size_t blob_len, hl_arena *a, uint8_t **out,
		       size_t *out_len, hl_error *err)
{
	if (blob_len < HL_AEAD_OVERHEAD)
		return hl_fail(err, HL_CRYPTO, "decryption failed: ciphertext too short");
	size_t n = blob_len - HL_AEAD_OVERHEAD;
	if (n > HL_AEAD_MAX_LEN)
		return hl_fail(err, HL_INVALID, "aead: input too long");
	struct wipe *w = hl_arena_alloc(a, sizeof *w);
	uint8_t *pt = w ? hl_arena_alloc(a, n + 1) : NULL;
	if (!pt)
		return hl_fail(err, HL_NOMEM, "aead: out of memory");
	hl_status st = hl_aead_open_buf(key, aad, aad_len, blob, blob_len, pt, err);
	if (st != HL_OK)
		return st;
	w->p = pt;
	w->n = n;
	if (hl_arena_defer(a, wipe_run, w) != HL_OK)
		return hl_fail(err, HL_NOMEM, "aead: out of memory"); /* plaintext wiped */
	*out = pt;
	*out_len = n;
	return HL_OK;
}
