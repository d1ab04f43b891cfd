/*
 * validate.h - input validation of protobuf messages on the wire bytes.
 *
 * protobuf-c 1.4.1 neither checks that string fields are valid UTF-8 nor
 * keeps bytes after an embedded NUL (the C string just ends there), so every
 * request is checked here, on its encoded bytes and against its message
 * descriptor, before protobuf_c_message_unpack() sees it (DESIGN §5.8).
 *
 * hl_validate_wire() walks the wire format field by field and recurses into
 * nested messages (map entries are nested messages too).  It checks:
 *   - structure: known wire types only (no groups), no truncated tag, varint,
 *     length or fixed value, varints of at most 10 bytes, field numbers in
 *     1..2^29-1, and a wire type that matches the field's declared type;
 *   - string fields: strict UTF-8 (no overlong forms, no surrogates, nothing
 *     above U+10FFFF), no NUL byte, at most max_string_bytes bytes (or the
 *     field's override);
 *   - bytes fields and unknown length-delimited fields: at most max_bytes
 *     bytes (or the field's override);
 *   - repeated fields: at most max_repeated elements per field (packed
 *     elements are counted one by one);
 *   - nesting: at most max_depth levels of messages, the top level being 1.
 *   - unknown fields (numbers the descriptor does not know): their structure
 *     is checked, and at most max_unknown_fields of them, of at most
 *     max_unknown_bytes encoded bytes in all, in the whole message, since
 *     protobuf-c keeps every one of them as an allocation of its own (a
 *     request full of one-byte unknown fields would multiply its size in
 *     memory); a few are accepted so that a sender with a newer .proto can
 *     still talk to this version.
 *
 * Errors are HL_INVALID with a message naming the field path and the fault,
 * e.g. "caller.name: invalid UTF-8", "topic: contains NUL byte",
 * "tags[3]: too long (max 4096 bytes)", "labels[0].value: invalid UTF-8".
 * The message never contains the field's content.
 */
#ifndef HL_VALIDATE_H
#define HL_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "hl/status.h"

struct ProtobufCMessageDescriptor;

/* A length bound for one field, by its full name "package.Message.field". */
typedef struct hl_validate_override {
	const char *field;      /* e.g. "hotline.intake.v1.CreateTicketRequest.description" */
	size_t max_bytes;       /* bound for this string or bytes field */
} hl_validate_override;

typedef struct hl_validate_limits {
	size_t max_string_bytes;        /* per string field value */
	size_t max_bytes;               /* per bytes field / unknown length-delimited value */
	size_t max_repeated;            /* elements per repeated field, per message */
	unsigned max_depth;             /* message nesting, top level = 1 */
	size_t max_unknown_fields;      /* unknown fields in the whole message */
	size_t max_unknown_bytes;       /* their encoded bytes (tags included) in all */
	const hl_validate_override *overrides;  /* optional, may be NULL */
	size_t n_overrides;
} hl_validate_limits;

#define HL_VALIDATE_MAX_STRING_BYTES 4096
#define HL_VALIDATE_MAX_BYTES (1024 * 1024)
#define HL_VALIDATE_MAX_REPEATED 1000
#define HL_VALIDATE_MAX_DEPTH 32
#define HL_VALIDATE_MAX_UNKNOWN_FIELDS 64
#define HL_VALIDATE_MAX_UNKNOWN_BYTES (64 * 1024)

/*
 * The default limits: strings 4096 bytes, bytes 1 MiB, 1000 elements per
 * repeated field, depth 32, 64 unknown fields of 64 KiB in all, no
 * overrides.
 */
hl_validate_limits hl_validate_limits_default(void);

/*
 * Check the len bytes at buf as an encoding of the message type desc, within
 * the limits *lim (NULL means hl_validate_limits_default()).  Returns HL_OK
 * when protobuf-c may unpack the bytes, HL_INVALID with a message naming the
 * field otherwise, HL_NOMEM if a working table could not be allocated.
 *
 * Pure function of its arguments: thread-safe, allocates nothing for
 * messages of up to 64 fields and nothing that outlives the call.
 */
hl_status hl_validate_wire(const struct ProtobufCMessageDescriptor *desc,
			   const uint8_t *buf, size_t len,
			   const hl_validate_limits *lim, hl_error *err) HL_MUST_CHECK;

#endif
