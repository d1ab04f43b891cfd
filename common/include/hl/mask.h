/*
 * mask.h - strict UTF-8 checks, phone normalisation and the masked forms of
 * personal data that responses carry by default (DESIGN §5.5, R5).
 *
 * Masking counts characters (Unicode code points), never bytes, so "张三"
 * becomes "张*".  Every function writes a new NUL-terminated string into the
 * caller's arena and is thread-safe.  Input that is not valid UTF-8 is
 * refused with HL_INVALID "<field>: invalid UTF-8"; a NULL input masks to
 * "".  Error messages never contain the input.
 *
 * Masked forms:
 *   phone      13812345678 -> 138****5678 (input is normalised first when
 *              possible); >= 8 characters keep the first 3 and last 4,
 *              3..7 keep the last 2, shorter ones are all '*'
 *   name       张三 -> 张*, 欧阳娜娜 -> 欧***, John Smith -> J*********;
 *              one character -> *
 *   ID number  110101199003071234 -> 110***********1234 (18 or more
 *              characters keep the first 3 and last 4); 7..17 keep the
 *              last 4; 6 or fewer are all '*'
 *   address    the first min(6, n/2) characters, then min(4, rest) '*'
 *              (北京市朝阳区建国路88号 -> 北京市朝阳区****)
 *   e-mail     zhangsan@example.com -> z***@example.com (a one-character
 *              local part gives ***@example.com); not an address -> all '*'
 */
#ifndef HL_MASK_H
#define HL_MASK_H

#include <stdbool.h>
#include <stddef.h>

#include "hl/arena.h"
#include "hl/status.h"

/* Longest phone input hl_phone_normalize accepts (bytes). */
#define HL_PHONE_INPUT_MAX 64

/*
 * True when s[0..n) is well-formed UTF-8: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence.  U+0000
 * is well-formed; callers that refuse embedded NULs check them apart.
 * s may be NULL when n is 0.
 */
bool hl_utf8_valid(const char *s, size_t n);

/*
 * Length in bytes (1..4) of the well-formed UTF-8 sequence at p, of which
 * avail >= 1 bytes are readable; 0 when it is not well-formed (overlong,
 * surrogate, above U+10FFFF, truncated, stray continuation byte).
 */
size_t hl_utf8_seq_len(const unsigned char *p, size_t avail);

/* The number of code points in s[0..n), or SIZE_MAX when not valid UTF-8. */
size_t hl_utf8_length(const char *s, size_t n);

/*
 * Normalise a phone number: spaces, tabs, dashes and parentheses are
 * dropped, a '+' is allowed before the first digit and dropped, and the
 * prefix 86 / 0086 (+86) in front of an 11-digit mobile number (1xxxxxxxxxx)
 * is removed.  The result (arena) has 5..20 digits only.
 * Errors: HL_INVALID "phone: ..." (missing, too long, other characters,
 * digit count), HL_NOMEM.
 */
hl_status hl_phone_normalize(const char *in, hl_arena *a, char **out,
			     hl_error *err) HL_MUST_CHECK;

/* The masked forms above, into the arena.  Errors: HL_INVALID, HL_NOMEM. */
hl_status hl_mask_phone(const char *in, hl_arena *a, char **out, hl_error *err) HL_MUST_CHECK;
hl_status hl_mask_name(const char *in, hl_arena *a, char **out, hl_error *err) HL_MUST_CHECK;
hl_status hl_mask_id_number(const char *in, hl_arena *a, char **out,
			    hl_error *err) HL_MUST_CHECK;
hl_status hl_mask_address(const char *in, hl_arena *a, char **out, hl_error *err) HL_MUST_CHECK;
hl_status hl_mask_email(const char *in, hl_arena *a, char **out, hl_error *err) HL_MUST_CHECK;

#endif
