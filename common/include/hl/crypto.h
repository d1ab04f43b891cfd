/*
 * crypto.h - cryptographic primitives on OpenSSL 3 EVP: random bytes,
 * SHA-256, HMAC-SHA-256, HKDF-SHA-256, hex, UUIDv7 and AES-256-GCM AEAD.
 *
 * Only EVP interfaces are used (no deprecated low-level APIs); algorithms are
 * fetched once per process.  Every function here is thread-safe.  Results
 * that outlive the call go into the caller's hl_arena; fixed-size results go
 * into caller buffers.  Error messages never contain the data processed.
 *
 * AEAD format (hl_aead_seal/hl_aead_open), version 1:
 *
 *     version (1 byte = 0x01) | nonce (12) | ciphertext (n) | tag (16)
 *
 * AES-256-GCM with a random 96-bit nonce; the version byte is authenticated
 * together with the caller's associated data.
 */
#ifndef HL_CRYPTO_H
#define HL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/status.h"

#define HL_SHA256_LEN 32
#define HL_AEAD_KEY_LEN 32
#define HL_AEAD_VERSION 1
#define HL_AEAD_NONCE_LEN 12
#define HL_AEAD_TAG_LEN 16
/* Bytes an AEAD blob adds to its plaintext. */
#define HL_AEAD_OVERHEAD (1 + HL_AEAD_NONCE_LEN + HL_AEAD_TAG_LEN)
/* Largest plaintext or associated data hl_aead_* accept (bytes). */
#define HL_AEAD_MAX_LEN ((size_t)1 << 30)
/* A UUID in text form plus the NUL. */
#define HL_UUID_STR_LEN 37

/*
 * Fill p with n bytes from the OpenSSL CSPRNG.  Returns HL_OK, or HL_CRYPTO
 * when the generator fails (the buffer content is then unspecified).
 */
hl_status hl_random_bytes(void *p, size_t n) HL_MUST_CHECK;

/* Wipe n bytes at p in a way the compiler cannot optimise away. NULL ok. */
void hl_cleanse(void *p, size_t n);

/* Constant-time comparison of n bytes: true when equal. */
bool hl_ct_equal(const void *a, const void *b, size_t n);

/* out = SHA-256(p[0..n)).  Errors: HL_CRYPTO. */
hl_status hl_sha256(const void *p, size_t n, uint8_t out[HL_SHA256_LEN],
		    hl_error *err) HL_MUST_CHECK;

/* out = HMAC-SHA-256(key, msg).  key_len may be 0.  Errors: HL_CRYPTO. */
hl_status hl_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t n,
			 uint8_t out[HL_SHA256_LEN], hl_error *err) HL_MUST_CHECK;

/*
 * HKDF-SHA-256 (RFC 5869, extract and expand): derive out_len bytes (1..8160)
 * from ikm with optional salt and info (NULL with length 0 for none).
 * Errors: HL_INVALID (lengths), HL_CRYPTO.
 */
hl_status hl_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
			 const void *info, size_t info_len, uint8_t *out, size_t out_len,
			 hl_error *err) HL_MUST_CHECK;

/*
 * Write n bytes as lowercase hex plus a NUL into out, which must hold
 * 2 * n + 1 bytes.
 */
void hl_hex_write(const void *p, size_t n, char *out);

/*
 * The lowercase hex SHA-256 of text (its bytes up to the NUL), owned by the
 * arena: the digest that binds an approval, a lock token or a note in the
 * audit chain without the text itself.  NULL only when out of memory.
 */
const char *hl_sha256_text(hl_arena *a, const char *text);

/*
 * Lowercase hex of n bytes into a NUL-terminated string owned by the arena.
 * Errors: HL_NOMEM.
 */
hl_status hl_hex_encode(const void *p, size_t n, hl_arena *a, char **out,
			hl_error *err) HL_MUST_CHECK;

/*
 * Decode a hex string (either case, even length, no separators) into
 * *out_len bytes owned by the arena (followed by an uncounted NUL).
 * Errors: HL_INVALID "hex: ..." (naming the offset, never the text),
 * HL_NOMEM.  *out and *out_len are untouched on error.
 */
hl_status hl_hex_decode(const char *hex, hl_arena *a, uint8_t **out, size_t *out_len,
			hl_error *err) HL_MUST_CHECK;

/*
 * A new time-ordered UUID (RFC 9562 version 7) in lowercase canonical form:
 * 48-bit Unix milliseconds, 12 bits of sub-millisecond time used as a
 * counter so that UUIDs made by one process are strictly increasing (also as
 * strings), then 62 random bits.  Good B-tree locality as primary keys.
 * Errors: HL_CRYPTO (random generator).
 */
hl_status hl_uuid_v7(char out[HL_UUID_STR_LEN]) HL_MUST_CHECK;

/*
 * True when s is a UUID in canonical 8-4-4-4-12 text form (hex digits in
 * either case, no braces or URN prefix).  Version and variant are not
 * checked, so UUIDs from other generators (PostgreSQL's v4) pass.  NULL ok.
 */
bool hl_uuid_valid(const char *s);

/*
 * Encrypt n bytes of pt under key with AES-256-GCM and a fresh random nonce,
 * authenticating aad (may be NULL when aad_len is 0).  *out receives the
 * blob described above (n + HL_AEAD_OVERHEAD bytes, owned by the arena) and
 * *out_len its length.  The same input sealed twice gives different blobs.
 * Errors: HL_INVALID (n or aad_len over HL_AEAD_MAX_LEN), HL_NOMEM,
 * HL_CRYPTO.  *out and *out_len are untouched on error.
 */
hl_status hl_aead_seal(const uint8_t key[HL_AEAD_KEY_LEN], const void *aad, size_t aad_len,
		       const void *pt, size_t n, hl_arena *a, uint8_t **out, size_t *out_len,
		       hl_error *err) HL_MUST_CHECK;

/*
 * hl_aead_seal into a caller buffer of n + HL_AEAD_OVERHEAD bytes, for small
 * fixed-size secrets (wrapped keys) that should not go through an arena.
 * Errors: HL_INVALID, HL_CRYPTO.
 */
hl_status hl_aead_seal_buf(const uint8_t key[HL_AEAD_KEY_LEN], const void *aad, size_t aad_len,
			   const void *pt, size_t n, uint8_t *out, hl_error *err) HL_MUST_CHECK;

/*
 * Verify and decrypt a blob made by hl_aead_seal with the same key and aad.
 * On success *out points to *out_len plaintext bytes owned by the arena,
 * followed by an uncounted NUL (so text can be used as a C string); the
 * plaintext is wiped when the arena is freed.  On any failure no plaintext
 * is returned (nothing partial is left in the arena): a wrong key, wrong aad
 * or any modified byte gives HL_CRYPTO "decryption failed"; a blob too short
 * or of an unknown version gives HL_CRYPTO too.  Other errors: HL_NOMEM.
 */
hl_status hl_aead_open(const uint8_t key[HL_AEAD_KEY_LEN], const void *aad, size_t aad_len,
		       const uint8_t *blob, size_t blob_len, hl_arena *a, uint8_t **out,
		       size_t *out_len, hl_error *err) HL_MUST_CHECK;

/*
 * hl_aead_open into a caller buffer of blob_len - HL_AEAD_OVERHEAD bytes
 * (no NUL added).  On failure the buffer is wiped: no partial plaintext.
 * Errors as hl_aead_open, without HL_NOMEM.
 */
hl_status hl_aead_open_buf(const uint8_t key[HL_AEAD_KEY_LEN], const void *aad, size_t aad_len,
			   const uint8_t *blob, size_t blob_len, uint8_t *out,
			   hl_error *err) HL_MUST_CHECK;

#endif
