/*
 * json.h - a strict RFC 8259 JSON parser into a read-only tree in an arena.
 *
 * Strict means: exactly one value with optional whitespace (space, tab, CR,
 * LF) around it; no comments, trailing commas, single quotes, BOM, NaN or
 * Infinity; numbers per the RFC grammar and finite as a double; strings are
 * valid UTF-8 without raw control characters, escapes are decoded (\uXXXX
 * surrogate pairs into 4-byte UTF-8) and lone surrogates and \u0000 are
 * refused, because decoded strings are C strings; objects with a duplicate
 * key are refused.  Nesting is limited to HL_JSON_MAX_DEPTH and the text to
 * HL_JSON_MAX_SIZE bytes.
 *
 * The tree and all its strings belong to the arena given to hl_json_parse();
 * it is never modified after parsing, so it may be read from several threads
 * as long as the arena lives.  Writing JSON: hl_buf_json_string() in buf.h.
 *
 * Accessors accept NULL and a value of the wrong type and then answer
 * "absent" (NULL, 0 or false), so lookups chain without checks in between:
 *     const char *s = hl_json_string(hl_json_get(hl_json_get(doc, "a"), "b"));
 */
#ifndef HL_JSON_H
#define HL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/status.h"

#define HL_JSON_MAX_DEPTH 64
#define HL_JSON_MAX_SIZE (1024 * 1024)

typedef enum hl_json_type {
	HL_JSON_NULL,
	HL_JSON_BOOL,
	HL_JSON_NUMBER,
	HL_JSON_STRING,
	HL_JSON_ARRAY,
	HL_JSON_OBJECT,
} hl_json_type;

typedef struct hl_json hl_json;

/*
 * Parse len bytes of text (no NUL needed) into *out.  Errors: HL_INVALID with
 * the reason and byte offset (never the content itself), HL_OUT_OF_RANGE when
 * the text exceeds HL_JSON_MAX_SIZE or nests deeper than HL_JSON_MAX_DEPTH,
 * HL_NOMEM.  *out is set only on success.
 */
hl_status hl_json_parse(hl_arena *a, const char *text, size_t len, hl_json **out,
			hl_error *err) HL_MUST_CHECK;

/* The type of v; v must not be NULL. */
hl_json_type hl_json_typeof(const hl_json *v);
/* "null", "boolean", "number", "string", "array", "object". */
const char *hl_json_type_name(hl_json_type t);

bool hl_json_is_null(const hl_json *v);

/* True and *out set when v is a boolean. */
bool hl_json_bool(const hl_json *v, bool *out);

/* True and *out set when v is a number. */
bool hl_json_number(const hl_json *v, double *out);

/*
 * True and *out set when v is a number whose value is an integer that the
 * int64 represents exactly: integer literals in int64 range, and literals
 * with a fraction or exponent whose double value is integral and within
 * +-2^53 (so "1e3" gives 1000, "1.5" and "1e300" give false).
 */
bool hl_json_int64(const hl_json *v, int64_t *out);

/* The decoded NUL-terminated UTF-8 string when v is a string, else NULL. */
const char *hl_json_string(const hl_json *v);
/* Its length in bytes (0 when v is not a string). */
size_t hl_json_string_len(const hl_json *v);

/* Number of items of an array (0 when v is not an array). */
size_t hl_json_array_len(const hl_json *v);
/* Item i of an array, or NULL when v is not an array or i is out of range. */
const hl_json *hl_json_array_item(const hl_json *v, size_t i);

/* Number of members of an object (0 when v is not an object). */
size_t hl_json_object_len(const hl_json *v);
/*
 * Member i of an object in document order: the value is returned and its
 * key stored in *key (key may be NULL).  NULL when v is not an object or i
 * is out of range.
 */
const hl_json *hl_json_object_item(const hl_json *v, size_t i, const char **key);

/* The value of member key of an object (O(log n)), or NULL. */
const hl_json *hl_json_get(const hl_json *obj, const char *key);

#endif
