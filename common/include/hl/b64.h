/*
 * b64.h - base64 (RFC 4648 section 4) and base64url (section 5) into arenas.
 *
 * Encoding: the standard alphabet is written with '=' padding, the url
 * alphabet without (as JWS and JWK want it).  Decoding accepts input with or
 * without padding, and is strict: characters outside the variant's alphabet
 * (whitespace included), misplaced or excess padding, an impossible length
 * and non-zero unused bits in the last character are rejected, so that every
 * byte string has exactly one accepted encoding per padding choice.
 *
 * All functions are thread-safe; results live in the caller's arena.
 */
#ifndef HL_B64_H
#define HL_B64_H

#include <stddef.h>

#include "hl/arena.h"
#include "hl/status.h"

/*
 * Encode n bytes of p.  Returns a NUL-terminated string owned by the arena,
 * or NULL when out of memory.  n == 0 gives "".
 */
char *hl_b64_encode(hl_arena *a, const void *p, size_t n);
char *hl_b64url_encode(hl_arena *a, const void *p, size_t n);

/*
 * Decode len characters of s (no NUL needed).  On success *out points to
 * *out_len bytes owned by the arena, followed by a NUL that is not counted,
 * so decoded text can be used as a C string.  Errors: HL_INVALID with the
 * offset of the offending character (never the input itself), HL_NOMEM.
 * *out and *out_len are left unchanged on error.
 */
hl_status hl_b64_decode(hl_arena *a, const char *s, size_t len, unsigned char **out,
			size_t *out_len, hl_error *err) HL_MUST_CHECK;
hl_status hl_b64url_decode(hl_arena *a, const char *s, size_t len, unsigned char **out,
			   size_t *out_len, hl_error *err) HL_MUST_CHECK;

#endif
