/*
 * pbfmt.h - generic formatting of protobuf-c messages for hotlinectl: JSON
 * and readable "key: value" text by walking the message descriptors, the
 * short lowercase names of enum values, and RFC 3339 timestamps.
 *
 * Nothing here knows a particular message, so every command of every
 * service prints through the same code.  All functions are thread-safe;
 * output goes to a caller's hl_buf (check hl_buf_failed() once at the end).
 */
#ifndef HOTLINECTL_PBFMT_H
#define HOTLINECTL_PBFMT_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/buf.h"

/*
 * Append m as JSON following the proto3 JSON mapping, except that field
 * names keep their proto spelling (ticket_no, not ticketNo) and that fields
 * without presence are written even when they hold the default value:
 * enums by value name ("CHANNEL_PHONE"; an unknown number as a number),
 * 64-bit integers as decimal strings, bytes as standard base64, repeated
 * fields as arrays, unset message fields and unset oneof members left out,
 * google.protobuf.Timestamp as an RFC 3339 string in UTC, Duration as
 * "1.5s", the wrappers (StringValue, ...) as their value, non-finite
 * numbers as "NaN", "Infinity", "-Infinity".  Strings that are not valid
 * UTF-8 have the offending bytes replaced by U+FFFD.  pretty indents by two
 * spaces per level; a arena holds scratch memory.
 */
void pbfmt_json(hl_buf *b, const ProtobufCMessage *m, bool pretty, hl_arena *a);

/*
 * Append m as indented "key: value" lines (indent spaces in front of the
 * outermost keys), for people: enums by short name, timestamps in RFC 3339,
 * bytes in hex, nested messages as indented blocks, repeated fields as "- "
 * items.  Empty strings and bytes, empty lists, unset messages, messages
 * that would print nothing and enum value 0 are left out (a oneof member
 * that is set is always shown).  Control characters in strings are shown as
 * '?' (a multi-line string continues under its value column).
 */
void pbfmt_text(hl_buf *b, const ProtobufCMessage *m, int indent);

/*
 * The short name of enum value v of d: the value name without the prefix
 * that buf's lint rules require (the enum name in UPPER_SNAKE_CASE plus
 * '_'), lowercased, e.g. TICKET_STATUS_IN_HANDLING -> "in_handling".  An
 * unknown value gives its decimal number.  Written to buf (cap bytes, at
 * least 12) and returned.
 */
const char *pbfmt_enum_short(const ProtobufCEnumDescriptor *d, int v, char *buf, size_t cap);

/*
 * Parse s as a value of d other than 0 (the *_UNSPECIFIED value): its short
 * name or its full name, case-insensitive, '-' matching '_'.  True and *out
 * set on success.
 */
bool pbfmt_enum_parse(const ProtobufCEnumDescriptor *d, const char *s, int *out);

/* Append the short names of d's values other than 0, separated by sep. */
void pbfmt_enum_names(hl_buf *b, const ProtobufCEnumDescriptor *d, const char *sep);

/*
 * Append seconds/nanos since the Unix epoch as RFC 3339 in UTC
 * ("2024-05-01T08:30:00Z"); with frac, a non-zero fraction follows with 3,
 * 6 or 9 digits as the proto3 JSON mapping writes it.
 */
void pbfmt_time(hl_buf *b, int64_t seconds, int32_t nanos, bool frac);

/*
 * Parse an RFC 3339 date-time ("2024-05-01T08:30:00+08:00", fraction
 * optional, 't'/'z' and a space for 'T' accepted) or a plain date
 * ("2024-05-01", meaning midnight UTC).  True and *seconds and *nanos set
 * on success; fraction digits beyond nanoseconds are ignored.
 */
bool pbfmt_time_parse(const char *s, int64_t *seconds, int32_t *nanos);

#endif
