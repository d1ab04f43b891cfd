/*
 * keyring.h - the key hierarchy for personal data (DESIGN §5.5, R5/R6/R28).
 *
 *   master key (secret file, versioned: "v<N>:<base64 of 32 bytes>" lines)
 *     └─ wraps the retention-period key of tenant T and period P, kept
 *        OUTSIDE the database and its backups in <dir>/<T>/<P>.key
 *          └─ wraps the per-record data key (DEK), stored with the record
 *               └─ encrypts each personal-data field (AES-256-GCM, the
 *                  associated data binds tenant, table, column, record id)
 *          └─ HKDF → per-period index key: HMAC-SHA-256 of a normalized
 *             phone, the repeat-caller lookup (R6), gone with the period
 *   master key (lowest version) ─HKDF→ per-tenant blind-index key
 *     └─ HMAC-SHA-256: keyed digests that must outlive periods (and the
 *        phone indexes made before the per-period ones)
 *
 * Rotation: add a higher master version to the file (hl_keyring_master_file
 * _add_version) and restart; new period keys are wrapped by the highest
 * version, older period keys keep unwrapping while their version stays in
 * the file.  The blind-index key is derived from the LOWEST version in the
 * file so that rotation does not change blind indexes; removing that version
 * requires recomputing them.
 *
 * Destruction (R28): hl_keyring_destroy_period() leaves a tombstone
 * <dir>/<T>/<P>.destroyed, overwrites the key file with random bytes and
 * unlinks it.  From then on every use of that period fails with
 * HL_NOT_FOUND "retention period key destroyed" - in this process at once,
 * in other processes at their next use - and the period is never created
 * again.  (Overwriting is best effort on journaling/flash storage; what makes
 * destruction real is that period keys are never in the database backups.)
 *
 * Period key files are created on first use, race-free across threads and
 * processes (temporary file, fsync, link() to the final name; the loser reads
 * the winner's key).  A keyring is thread-safe after hl_keyring_new(); keys
 * are kept in malloc'd memory and wiped when dropped or freed.  Error
 * messages name tenants, periods and files, never personal data or keys.
 */
#ifndef HL_KEYRING_H
#define HL_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/crypto.h"
#include "hl/status.h"

#define HL_KEY_LEN 32
/* Length of a wrapped data key made by hl_keyring_new_data_key. */
#define HL_WRAPPED_KEY_LEN (HL_KEY_LEN + HL_AEAD_OVERHEAD)
/* Longest record id accepted (bytes). */
#define HL_RECORD_ID_MAX 128
/* Longest table or column name accepted (bytes, as PostgreSQL's). */
#define HL_SQL_NAME_MAX 63
/* A blind index in hex plus the NUL. */
#define HL_BLIND_INDEX_HEX_LEN 65

typedef struct hl_keyring hl_keyring;

/* True when s is a tenant slug: [a-z0-9-]{2,32}. NULL ok. */
bool hl_keyring_tenant_valid(const char *s);
/* True when s is a retention period name: [0-9A-Za-z_-]{1,32}. NULL ok. */
bool hl_keyring_period_valid(const char *s);

/*
 * Load the master key file at master_path and use period_key_dir (created
 * with mode 0700 when missing, its parent must exist) for period keys.
 * The master file holds one or more lines "v<N>:<base64 of 32 bytes>"
 * (N >= 1, distinct; blank lines and lines starting with '#' are ignored) or
 * a single bare base64 line, which is version 1.  The highest version is
 * current.  On success *out owns a new keyring (free with hl_keyring_free).
 * Errors: HL_PRECONDITION (file missing, unreadable, empty or malformed:
 * the service must refuse to start), HL_INVALID (arguments), HL_IO
 * (key directory), HL_NOMEM.
 */
hl_status hl_keyring_new(const char *master_path, const char *period_key_dir,
			 hl_keyring **out, hl_error *err) HL_MUST_CHECK;

/* Wipe all keys and free the keyring. NULL ok. Not concurrent with use. */
void hl_keyring_free(hl_keyring *kr);

/* The current (highest) master key version. */
uint32_t hl_keyring_master_version(const hl_keyring *kr);

/*
 * Create a new master key file at path holding "v1:<base64>" with a fresh
 * random key, mode 0600, fsync'd.  Refuses to overwrite: HL_EXISTS when the
 * file exists.  Other errors: HL_IO, HL_CRYPTO.
 */
hl_status hl_keyring_generate_master_file(const char *path, hl_error *err) HL_MUST_CHECK;

/*
 * Rotation: rewrite the master key file at path with all its keys plus a
 * new random key of version (highest + 1), atomically (temporary file,
 * fsync, rename), mode 0600.  *new_version (may be NULL) receives the new
 * version.  Running keyrings keep their keys until reloaded.  Not safe
 * against another process rewriting the same file at the same time.
 * Errors: as hl_keyring_new for the old content, HL_IO, HL_CRYPTO.
 */
hl_status hl_keyring_master_file_add_version(const char *path, uint32_t *new_version,
					     hl_error *err) HL_MUST_CHECK;

/*
 * Make sure the key of (tenant, period) exists: load it, or create it when
 * it has never existed.  Thread-safe.  Errors: HL_INVALID (names),
 * HL_NOT_FOUND (period destroyed), HL_CRYPTO (the file does not unwrap
 * with the master keys: wrong master key or a missing master version),
 * HL_IO, HL_NOMEM.
 */
hl_status hl_keyring_ensure_period(hl_keyring *kr, const char *tenant, const char *period,
				   hl_error *err) HL_MUST_CHECK;

/*
 * Destroy the key of (tenant, period) for good (see the top of this file).
 * Idempotent: destroying an already destroyed or never created period
 * succeeds and leaves the tombstone.  Thread-safe.  Errors: HL_INVALID
 * (names), HL_IO (then call again: the tombstone, written first, already
 * blocks further use).
 */
hl_status hl_keyring_destroy_period(hl_keyring *kr, const char *tenant, const char *period,
				    hl_error *err) HL_MUST_CHECK;

/*
 * A new random data key for record_id (1..HL_RECORD_ID_MAX bytes) into
 * dek (the caller wipes it with hl_cleanse when done), and the same key
 * wrapped by the period key, with associated data binding tenant, period
 * and record id: *wrapped (HL_WRAPPED_KEY_LEN bytes, owned by the arena) is
 * what the record stores.  Creates the period key on first use.
 * Thread-safe.  Errors: as hl_keyring_ensure_period.  On error dek is wiped
 * and *wrapped, *wrapped_len are untouched.
 */
hl_status hl_keyring_new_data_key(hl_keyring *kr, const char *tenant, const char *period,
				  const char *record_id, uint8_t dek[HL_KEY_LEN], hl_arena *a,
				  uint8_t **wrapped, size_t *wrapped_len,
				  hl_error *err) HL_MUST_CHECK;

/*
 * Unwrap the data key of record_id made by hl_keyring_new_data_key into
 * dek (the caller wipes it).  Never creates a period key.  Thread-safe.
 * Errors: HL_NOT_FOUND "retention period key destroyed" or "... not found",
 * HL_CRYPTO (wrong tenant, period or record id, or modified bytes),
 * HL_INVALID, HL_IO.  On error dek is wiped.
 */
hl_status hl_keyring_unwrap_data_key(hl_keyring *kr, const char *tenant, const char *period,
				     const char *record_id, const uint8_t *wrapped,
				     size_t wrapped_len, uint8_t dek[HL_KEY_LEN],
				     hl_error *err) HL_MUST_CHECK;

/*
 * Encrypt a personal-data field (a NUL-terminated string) with the record's
 * data key.  The associated data is the length-prefixed tenant, table,
 * column and record id, so the ciphertext only opens in that same place.
 * *out (owned by the arena) is an AEAD blob (crypto.h) of *out_len bytes.
 * Errors: HL_INVALID (names: tenant a slug, table and column
 * 1..HL_SQL_NAME_MAX bytes, record id 1..HL_RECORD_ID_MAX bytes),
 * HL_NOMEM, HL_CRYPTO.
 */
hl_status hl_field_seal(const uint8_t dek[HL_KEY_LEN], const char *tenant, const char *table,
			const char *column, const char *record_id, const char *plaintext,
			hl_arena *a, uint8_t **out, size_t *out_len, hl_error *err) HL_MUST_CHECK;

/*
 * Decrypt a field sealed by hl_field_seal for the same tenant, table,
 * column and record id.  *out is the NUL-terminated plaintext, owned by the
 * arena and wiped when the arena is freed; out_len may be NULL.
 * Errors: HL_CRYPTO "decryption failed" (other place, other key, modified
 * bytes), HL_INVALID, HL_NOMEM.  Nothing is returned on error.
 */
hl_status hl_field_open(const uint8_t dek[HL_KEY_LEN], const char *tenant, const char *table,
			const char *column, const char *record_id, const uint8_t *ct,
			size_t ct_len, hl_arena *a, char **out, size_t *out_len,
			hl_error *err) HL_MUST_CHECK;

/*
 * Blind index of a normalized value (e.g. hl_phone_normalize output) for
 * tenant: lowercase hex of HMAC-SHA-256 keyed by HKDF(lowest master
 * version, info "hotline/blind-index/v1/<tenant>").  Equal for equal
 * tenant and value, unrelated across tenants.  Thread-safe.
 * Errors: HL_INVALID (tenant, empty value), HL_CRYPTO.
 */
hl_status hl_keyring_blind_index(hl_keyring *kr, const char *tenant, const char *normalized,
				 char out_hex[HL_BLIND_INDEX_HEX_LEN], hl_error *err) HL_MUST_CHECK;

/*
 * Blind index of a normalized value under the key of retention period
 * (tenant, period): lowercase hex of HMAC-SHA-256 keyed by HKDF(period key,
 * info "hotline/period-index/v1/<tenant>/<period>").  Destroying the period
 * makes its indexes unmatchable (no one can compute them again).  Never
 * creates a period key.  Thread-safe.  Errors: HL_NOT_FOUND (period
 * destroyed or never created), HL_INVALID, HL_CRYPTO, HL_IO.
 */
hl_status hl_keyring_period_index(hl_keyring *kr, const char *tenant, const char *period,
				  const char *normalized, char out_hex[HL_BLIND_INDEX_HEX_LEN],
				  hl_error *err) HL_MUST_CHECK;

/*
 * The live retention periods of tenant: those with a key file and no
 * tombstone, in ascending name order.  *out (n names, arena memory) is
 * empty when the tenant has none.  Errors: HL_INVALID, HL_IO, HL_NOMEM.
 */
hl_status hl_keyring_live_periods(hl_keyring *kr, const char *tenant, hl_arena *a, const char ***out,
				  size_t *n, hl_error *err) HL_MUST_CHECK;

#endif
