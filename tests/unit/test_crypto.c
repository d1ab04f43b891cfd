/*
 * test_crypto.c - unit tests of the cryptographic primitives (crypto.h):
 * known-answer vectors for SHA-256, HMAC and HKDF, hex, UUIDv7 and the
 * AES-256-GCM AEAD format (round trip, fresh nonces, tamper detection).
 */
#define _GNU_SOURCE /* memmem */
#include "hl/crypto.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "t.h"

static void hex_of(const void *p, size_t n, char *out)
{
	hl_hex_write(p, n, out);
}

static void test_random_bytes(void)
{
	uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
	T_EQ_INT(hl_random_bytes(a, sizeof a), HL_OK);
	T_EQ_INT(hl_random_bytes(b, sizeof b), HL_OK);
	T_ASSERT(memcmp(a, b, sizeof a) != 0);
	T_ASSERT(memcmp(a, zero, sizeof a) != 0);
	T_EQ_INT(hl_random_bytes(a, 0), HL_OK);
}

static void test_cleanse_and_ct_equal(void)
{
	uint8_t a[16], b[16];
	memset(a, 0x5a, sizeof a);
	memcpy(b, a, sizeof b);
	T_ASSERT(hl_ct_equal(a, b, sizeof a));
	b[15] ^= 1;
	T_ASSERT(!hl_ct_equal(a, b, sizeof a));
	hl_cleanse(a, sizeof a);
	for (size_t i = 0; i < sizeof a; i++)
		T_EQ_INT(a[i], 0);
	hl_cleanse(NULL, 10);
}

static void test_sha256_vector(void)
{
	uint8_t d[HL_SHA256_LEN];
	char hex[65];
	T_EQ_INT(hl_sha256("abc", 3, d, NULL), HL_OK);
	hex_of(d, sizeof d, hex);
	T_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	T_EQ_INT(hl_sha256("", 0, d, NULL), HL_OK);
	hex_of(d, sizeof d, hex);
	T_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hmac_vectors(void)
{
	uint8_t mac[HL_SHA256_LEN], key[20];
	char hex[65];
	/* RFC 4231 test case 2 */
	const char *msg = "what do ya want for nothing?";
	T_EQ_INT(hl_hmac_sha256("Jefe", 4, msg, strlen(msg), mac, NULL), HL_OK);
	hex_of(mac, sizeof mac, hex);
	T_EQ_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* RFC 4231 test case 1 */
	memset(key, 0x0b, sizeof key);
	T_EQ_INT(hl_hmac_sha256(key, sizeof key, "Hi There", 8, mac, NULL), HL_OK);
	hex_of(mac, sizeof mac, hex);
	T_EQ_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* empty key and message still work */
	T_EQ_INT(hl_hmac_sha256(NULL, 0, NULL, 0, mac, NULL), HL_OK);
	hex_of(mac, sizeof mac, hex);
	T_EQ_STR(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_hkdf_vector(void)
{
	/* RFC 5869 test case 1 */
	uint8_t ikm[22], salt[13], info[10], okm[42];
	char hex[85];
	hl_error err = {0};
	memset(ikm, 0x0b, sizeof ikm);
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	for (int i = 0; i < 10; i++)
		info[i] = (uint8_t)(0xf0 + i);
	T_EQ_INT(hl_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, okm,
				sizeof okm, NULL),
		 HL_OK);
	hex_of(okm, sizeof okm, hex);
	T_EQ_STR(hex, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
		      "34007208d5b887185865");
	/* RFC 5869 test case 3: no salt, no info */
	T_EQ_INT(hl_hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, okm, sizeof okm, NULL), HL_OK);
	hex_of(okm, sizeof okm, hex);
	T_EQ_STR(hex, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
		      "9d201395faa4b61a96c8");
	T_EQ_INT(hl_hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, okm, 0, &err), HL_INVALID);
	T_EQ_INT(hl_hkdf_sha256(ikm, 0, NULL, 0, NULL, 0, okm, 32, &err), HL_INVALID);
}

static void test_hex(void)
{
	hl_arena *a = hl_arena_new();
	hl_error err = {0};
	const uint8_t in[] = {0x00, 0x01, 0xab, 0xff, 0x7e};
	char *hex = NULL;
	uint8_t *back = NULL;
	size_t n = 0;
	T_EQ_INT(hl_hex_encode(in, sizeof in, a, &hex, NULL), HL_OK);
	T_EQ_STR(hex, "0001abff7e");
	T_EQ_INT(hl_hex_decode("0001ABff7E", a, &back, &n, NULL), HL_OK);
	T_EQ_INT(n, sizeof in);
	T_ASSERT(memcmp(back, in, n) == 0);
	T_EQ_INT(hl_hex_decode("", a, &back, &n, NULL), HL_OK);
	T_EQ_INT(n, 0);
	back = NULL;
	T_EQ_INT(hl_hex_decode("abc", a, &back, &n, &err), HL_INVALID);
	T_EQ_INT(hl_hex_decode("zz", a, &back, &n, &err), HL_INVALID);
	T_ASSERT(strstr(err.msg, "offset 0") != NULL);
	T_EQ_INT(hl_hex_decode("0g", a, &back, &n, &err), HL_INVALID);
	T_ASSERT(strstr(err.msg, "offset 1") != NULL);
	T_ASSERT(back == NULL);
	hl_arena_free(a);
}

static void test_uuid_v7(void)
{
	char prev[HL_UUID_STR_LEN] = "", u[HL_UUID_STR_LEN];
	time_t now = time(NULL);
	for (int i = 0; i < 5000; i++) {
		T_EQ_INT(hl_uuid_v7(u), HL_OK);
		T_ASSERT(hl_uuid_valid(u));
		T_EQ_INT(u[14], '7');
		T_ASSERT(strchr("89ab", u[19]) != NULL);
		T_ASSERT(strcmp(prev, u) < 0); /* strictly increasing */
		memcpy(prev, u, sizeof u);
	}
	/* the first 48 bits are Unix milliseconds */
	char ms_hex[13];
	snprintf(ms_hex, sizeof ms_hex, "%.8s%.4s", u, u + 9);
	long long ms = strtoll(ms_hex, NULL, 16);
	T_ASSERT(ms / 1000 >= (long long)now - 2 && ms / 1000 <= (long long)now + 2);
	for (size_t i = 0; i < 36; i++)
		T_ASSERT(u[i] == '-' || (u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f'));
}

static void test_uuid_valid(void)
{
	T_ASSERT(hl_uuid_valid("0190a6b2-3c4d-7e8f-9a0b-1c2d3e4f5a6b"));
	T_ASSERT(hl_uuid_valid("0190A6B2-3C4D-7E8F-9A0B-1C2D3E4F5A6B"));
	T_ASSERT(hl_uuid_valid("f47ac10b-58cc-4372-a567-0e02b2c3d479")); /* v4 */
	T_ASSERT(!hl_uuid_valid(NULL));
	T_ASSERT(!hl_uuid_valid(""));
	T_ASSERT(!hl_uuid_valid("0190a6b2-3c4d-7e8f-9a0b-1c2d3e4f5a6"));
	T_ASSERT(!hl_uuid_valid("0190a6b2-3c4d-7e8f-9a0b-1c2d3e4f5a6b0"));
	T_ASSERT(!hl_uuid_valid("0190a6b23c4d-7e8f-9a0b-1c2d3e4f5a6b-"));
	T_ASSERT(!hl_uuid_valid("0190a6b2-3c4d-7e8f-9a0b-1c2d3e4f5a6g"));
	T_ASSERT(!hl_uuid_valid("{0190a6b2-3c4d-7e8f-9a0b-1c2d3e4f5a}"));
	T_ASSERT(!hl_uuid_valid("0190a6b2 3c4d 7e8f 9a0b 1c2d3e4f5a6b"));
}

static const uint8_t key1[32] = "0123456789abcdef0123456789abcde";
static const uint8_t key2[32] = "0123456789abcdef0123456789abcdX";

static void test_aead_round_trip(void)
{
	hl_arena *a = hl_arena_new();
	const char *pt = "张三 13812345678";
	uint8_t *ct = NULL, *back = NULL;
	size_t ct_len = 0, n = 0;
	T_EQ_INT(hl_aead_seal(key1, "aad", 3, pt, strlen(pt), a, &ct, &ct_len, NULL), HL_OK);
	T_EQ_INT(ct_len, strlen(pt) + HL_AEAD_OVERHEAD);
	T_EQ_INT(ct[0], HL_AEAD_VERSION);
	T_ASSERT(memmem(ct, ct_len, "13812345678", 11) == NULL);
	T_EQ_INT(hl_aead_open(key1, "aad", 3, ct, ct_len, a, &back, &n, NULL), HL_OK);
	T_EQ_INT(n, strlen(pt));
	T_EQ_STR((char *)back, pt); /* NUL-terminated */
	/* empty plaintext and no aad */
	T_EQ_INT(hl_aead_seal(key1, NULL, 0, "", 0, a, &ct, &ct_len, NULL), HL_OK);
	T_EQ_INT(ct_len, HL_AEAD_OVERHEAD);
	T_EQ_INT(hl_aead_open(key1, NULL, 0, ct, ct_len, a, &back, &n, NULL), HL_OK);
	T_EQ_INT(n, 0);
	T_EQ_STR((char *)back, "");
	hl_arena_free(a);
}

static void test_aead_fresh_nonce(void)
{
	hl_arena *a = hl_arena_new();
	uint8_t *c1, *c2;
	size_t l1, l2;
	T_EQ_INT(hl_aead_seal(key1, "x", 1, "same", 4, a, &c1, &l1, NULL), HL_OK);
	T_EQ_INT(hl_aead_seal(key1, "x", 1, "same", 4, a, &c2, &l2, NULL), HL_OK);
	T_EQ_INT(l1, l2);
	T_ASSERT(memcmp(c1, c2, l1) != 0);
	T_ASSERT(memcmp(c1 + 1, c2 + 1, HL_AEAD_NONCE_LEN) != 0);
	hl_arena_free(a);
}

static void test_aead_failures(void)
{
	hl_arena *a = hl_arena_new();
	hl_error err = {0};
	const char *pt = "secret value";
	uint8_t *ct, *back = (uint8_t *)"untouched";
	size_t ct_len, n = 999;
	T_EQ_INT(hl_aead_seal(key1, "row-1", 5, pt, strlen(pt), a, &ct, &ct_len, NULL), HL_OK);
	/* wrong aad, wrong key */
	T_EQ_INT(hl_aead_open(key1, "row-2", 5, ct, ct_len, a, &back, &n, &err), HL_CRYPTO);
	T_EQ_STR(err.msg, "decryption failed");
	T_EQ_INT(hl_aead_open(key2, "row-1", 5, ct, ct_len, a, &back, &n, &err), HL_CRYPTO);
	T_EQ_INT(hl_aead_open(key1, NULL, 0, ct, ct_len, a, &back, &n, &err), HL_CRYPTO);
	/* every single flipped bit anywhere is detected */
	for (size_t i = 0; i < ct_len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			ct[i] ^= (uint8_t)(1 << bit);
			hl_status st = hl_aead_open(key1, "row-1", 5, ct, ct_len, a, &back, &n, &err);
			ct[i] ^= (uint8_t)(1 << bit);
			T_EQ_INT(st, HL_CRYPTO);
		}
	}
	/* truncated and extended blobs */
	T_EQ_INT(hl_aead_open(key1, "row-1", 5, ct, ct_len - 1, a, &back, &n, &err), HL_CRYPTO);
	T_EQ_INT(hl_aead_open(key1, "row-1", 5, ct, HL_AEAD_OVERHEAD - 1, a, &back, &n, &err),
		 HL_CRYPTO);
	T_EQ_INT(hl_aead_open(key1, "row-1", 5, ct, 0, a, &back, &n, &err), HL_CRYPTO);
	T_EQ_STR((char *)back, "untouched");
	T_EQ_INT(n, 999);
	/* still opens when untouched */
	T_EQ_INT(hl_aead_open(key1, "row-1", 5, ct, ct_len, a, &back, &n, &err), HL_OK);
	T_EQ_STR((char *)back, pt);
	hl_arena_free(a);
}

static void test_aead_buf_no_partial_plaintext(void)
{
	uint8_t blob[16 + HL_AEAD_OVERHEAD], out[16];
	hl_error err = {0};
	T_EQ_INT(hl_aead_seal_buf(key1, "k", 1, "0123456789abcdef", 16, blob, NULL), HL_OK);
	T_EQ_INT(hl_aead_open_buf(key1, "k", 1, blob, sizeof blob, out, NULL), HL_OK);
	T_ASSERT(memcmp(out, "0123456789abcdef", 16) == 0);
	blob[sizeof blob - 1] ^= 0x80; /* tag */
	memset(out, 0x55, sizeof out);
	T_EQ_INT(hl_aead_open_buf(key1, "k", 1, blob, sizeof blob, out, &err), HL_CRYPTO);
	T_EQ_STR(err.msg, "decryption failed");
	for (size_t i = 0; i < sizeof out; i++)
		T_EQ_INT(out[i], 0); /* wiped, no partial plaintext */
	blob[sizeof blob - 1] ^= 0x80;
	blob[0] = 2; /* unknown version */
	T_EQ_INT(hl_aead_open_buf(key1, "k", 1, blob, sizeof blob, out, &err), HL_CRYPTO);
}

int main(void)
{
	T_RUN(test_random_bytes);
	T_RUN(test_cleanse_and_ct_equal);
	T_RUN(test_sha256_vector);
	T_RUN(test_hmac_vectors);
	T_RUN(test_hkdf_vector);
	T_RUN(test_hex);
	T_RUN(test_uuid_v7);
	T_RUN(test_uuid_valid);
	T_RUN(test_aead_round_trip);
	T_RUN(test_aead_fresh_nonce);
	T_RUN(test_aead_failures);
	T_RUN(test_aead_buf_no_partial_plaintext);
	return T_DONE();
}
