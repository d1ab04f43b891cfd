/*
 * validate.c - protobuf wire-format walker that validates a request before
 * protobuf-c unpacks it (see validate.h).
 *
 * The walker reads the encoding one tag at a time, looks the field number up
 * in the message descriptor and checks the value by the field's declared
 * type.  Nested messages are walked recursively; the way to the current
 * message is kept as a chain of path segments on the C stack, so that the
 * field path of an error ("people[2].name") is only formatted when there is
 * an error.  Repeated fields are counted in a small per-message table
 * indexed like desc->fields.
 */
#include "hl/validate.h"

#include "hl/mask.h"

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_VARINT 0
#define WIRE_64BIT 1
#define WIRE_LEN 2
#define WIRE_GROUP_START 3
#define WIRE_GROUP_END 4
#define WIRE_32BIT 5

#define MAX_FIELD_NUMBER ((1u << 29) - 1)
#define DEPTH_CAP 100           /* hard bound on recursion whatever the limits say */
#define STACK_COUNTS 64         /* repeated counters kept on the stack */

/* One step of the way from the top-level message to a field. */
struct seg {
	const struct seg *parent;
	const char *name;       /* field name, NULL for an unknown field */
	uint32_t number;        /* field number (shown for unknown fields) */
	long index;             /* element index of a repeated field, or -1 */
};

struct ctx {
	const hl_validate_limits *lim;
	hl_error *err;
	size_t unknown_fields, unknown_bytes; /* so far, in the whole message */
};

static void path_put(char *out, size_t size, size_t *pos, const struct seg *s)
{
	if (!s)
		return;
	path_put(out, size, pos, s->parent);
	if (*pos >= size)
		return;
	int n;
	const char *dot = s->parent ? "." : "";
	if (s->name)
		n = snprintf(out + *pos, size - *pos, "%s%s", dot, s->name);
	else
		n = snprintf(out + *pos, size - *pos, "%s#%u", dot, (unsigned)s->number);
	if (n > 0)
		*pos += (size_t)n;
	if (s->index >= 0 && *pos < size) {
		n = snprintf(out + *pos, size - *pos, "[%ld]", s->index);
		if (n > 0)
			*pos += (size_t)n;
	}
}

/* HL_INVALID with "<path>: <what>"; the top level is called "message". */
static hl_status fail_at(struct ctx *c, const struct seg *s, const char *fmt, ...)
	HL_PRINTF(3, 4);

static hl_status fail_at(struct ctx *c, const struct seg *s, const char *fmt, ...)
{
	char path[160], what[96];
	size_t pos = 0;
	va_list ap;

	path[0] = '\0';
	path_put(path, sizeof path, &pos, s);
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return hl_fail(c->err, HL_INVALID, "%s: %s", s ? path : "message", what);
}

/*
 * Count an unknown field of `bytes` encoded bytes (tag included): protobuf-c
 * keeps each one as an allocation of its own, so their number and size are
 * bounded over the whole message.
 */
static hl_status count_unknown(struct ctx *c, const struct seg *s, size_t bytes)
{
	c->unknown_fields++;
	c->unknown_bytes += bytes;
	if (c->unknown_fields > c->lim->max_unknown_fields || c->unknown_bytes > c->lim->max_unknown_bytes)
		return fail_at(c, s, "unknown field %u: too many unknown fields (max %zu fields, %zu bytes)",
			       (unsigned)s->number, c->lim->max_unknown_fields, c->lim->max_unknown_bytes);
	return HL_OK;
}

/*
 * Read a varint at *pos.  Returns false when it is truncated or longer than
 * 10 bytes.
 */
static bool read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (*pos >= len)
			return false;
		uint8_t b = buf[(*pos)++];
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* Does 8-byte word w hold only ASCII bytes and no NUL? */
static bool ascii_word(uint64_t w)
{
	const uint64_t lo = 0x0101010101010101ULL, hi = 0x8080808080808080ULL;
	return (w & hi) == 0 && ((w - lo) & ~w & hi) == 0;
}

/*
 * Strict UTF-8 (RFC 3629) without NUL bytes.  Returns NULL when s is fine,
 * else the fault.
 */
static const char *utf8_fault(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (n - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (ascii_word(w)) {
				i += 8;
				continue;
			}
		}
		uint8_t c = s[i];
		if (c < 0x80) {
			if (c == 0)
				return "contains NUL byte";
			i++;
			continue;
		}
		size_t k = hl_utf8_seq_len(s + i, n - i);
		if (!k)
			return "invalid UTF-8";
		i += k;
	}
	return NULL;
}

/* The override for field fd of message desc, or dflt. */
static size_t field_limit(const hl_validate_limits *lim, const ProtobufCMessageDescriptor *desc,
			  const ProtobufCFieldDescriptor *fd, size_t dflt)
{
	if (!lim->overrides || !fd)
		return dflt;
	size_t mlen = strlen(desc->name);
	for (size_t i = 0; i < lim->n_overrides; i++) {
		const char *f = lim->overrides[i].field;
		if (f && strncmp(f, desc->name, mlen) == 0 && f[mlen] == '.' &&
		    strcmp(f + mlen + 1, fd->name) == 0)
			return lim->overrides[i].max_bytes;
	}
	return dflt;
}

/* The wire type of a single (unpacked) value of type t. */
static unsigned scalar_wire_type(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return WIRE_32BIT;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return WIRE_64BIT;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return WIRE_LEN;
	default:
		return WIRE_VARINT;
	}
}

/*
 * Count the elements of a packed repeated field of type t in n bytes at p.
 * Returns false when the bytes cannot be such a field.
 */
static bool count_packed(ProtobufCType t, const uint8_t *p, size_t n, size_t *count)
{
	switch (scalar_wire_type(t)) {
	case WIRE_32BIT:
		*count = n / 4;
		return n % 4 == 0;
	case WIRE_64BIT:
		*count = n / 8;
		return n % 8 == 0;
	case WIRE_VARINT: {
		size_t k = 0, run = 0;
		for (size_t i = 0; i < n; i++) {
			if (++run > 10)
				return false;
			if (!(p[i] & 0x80)) {
				k++;
				run = 0;
			}
		}
		*count = k;
		return run == 0;
	}
	default:
		return false;
	}
}

static hl_status walk(struct ctx *c, const ProtobufCMessageDescriptor *desc,
		      const uint8_t *buf, size_t len, const struct seg *where, unsigned depth);

/* Check one length-delimited value of known field fd (seg s). */
static hl_status check_len_value(struct ctx *c, const ProtobufCMessageDescriptor *desc,
				 const ProtobufCFieldDescriptor *fd, const struct seg *s,
				 const uint8_t *p, size_t n, unsigned depth, size_t *elems)
{
	const hl_validate_limits *lim = c->lim;
	size_t max;
	const char *fault;

	*elems = 1;
	switch (fd->type) {
	case PROTOBUF_C_TYPE_STRING:
		max = field_limit(lim, desc, fd, lim->max_string_bytes);
		if (n > max)
			return fail_at(c, s, "too long (max %zu bytes)", max);
		fault = utf8_fault(p, n);
		if (fault)
			return fail_at(c, s, "%s", fault);
		return HL_OK;
	case PROTOBUF_C_TYPE_BYTES:
		max = field_limit(lim, desc, fd, lim->max_bytes);
		if (n > max)
			return fail_at(c, s, "too long (max %zu bytes)", max);
		return HL_OK;
	case PROTOBUF_C_TYPE_MESSAGE:
		return walk(c, fd->descriptor, p, n, s, depth + 1);
	default:
		if (fd->label != PROTOBUF_C_LABEL_REPEATED)
			return fail_at(c, s, "wrong wire type");
		if (!count_packed(fd->type, p, n, elems))
			return fail_at(c, s, "malformed packed values");
		return HL_OK;
	}
}

/* Walk one message of type desc in buf[0..len); where leads to it. */
static hl_status walk(struct ctx *c, const ProtobufCMessageDescriptor *desc,
		      const uint8_t *buf, size_t len, const struct seg *where, unsigned depth)
{
	const hl_validate_limits *lim = c->lim;
	unsigned max_depth = lim->max_depth < DEPTH_CAP ? lim->max_depth : DEPTH_CAP;
	size_t stack_counts[STACK_COUNTS];
	size_t *counts = stack_counts;
	hl_status st = HL_OK;
	size_t pos = 0;

	if (depth > max_depth)
		return fail_at(c, where, "nested too deeply (max %u levels)", max_depth);
	if (desc->n_fields > STACK_COUNTS) {
		counts = calloc(desc->n_fields, sizeof *counts);
		if (!counts)
			return hl_fail(c->err, HL_NOMEM, "validation: out of memory");
	} else {
		memset(stack_counts, 0, desc->n_fields * sizeof *counts);
	}

	while (pos < len) {
		uint64_t tag, v;
		size_t field_start = pos;
		if (!read_varint(buf, len, &pos, &tag)) {
			st = fail_at(c, where, "truncated or malformed tag");
			goto out;
		}
		uint64_t number = tag >> 3;
		unsigned wt = (unsigned)(tag & 7);
		if (number == 0 || number > MAX_FIELD_NUMBER) {
			st = fail_at(c, where, "invalid field number");
			goto out;
		}
		const ProtobufCFieldDescriptor *fd =
			protobuf_c_message_descriptor_get_field(desc, (unsigned)number);
		bool repeated = fd && fd->label == PROTOBUF_C_LABEL_REPEATED;
		size_t *count = repeated ? &counts[fd - desc->fields] : NULL;
		struct seg s = {where, fd ? fd->name : NULL, (uint32_t)number,
				repeated ? (long)*count : -1};
		size_t elems = 1;

		if (fd && wt != WIRE_LEN && wt != scalar_wire_type(fd->type) &&
		    wt != WIRE_GROUP_START && wt != WIRE_GROUP_END && wt <= WIRE_32BIT) {
			st = fail_at(c, &s, "wrong wire type");
			goto out;
		}
		switch (wt) {
		case WIRE_VARINT:
			if (!read_varint(buf, len, &pos, &v)) {
				st = fail_at(c, &s, "truncated or overlong varint");
				goto out;
			}
			break;
		case WIRE_64BIT:
		case WIRE_32BIT: {
			size_t n = wt == WIRE_64BIT ? 8 : 4;
			if (len - pos < n) {
				st = fail_at(c, &s, "truncated value");
				goto out;
			}
			pos += n;
			break;
		}
		case WIRE_LEN:
			if (!read_varint(buf, len, &pos, &v) || v > len - pos) {
				st = fail_at(c, &s, "truncated value");
				goto out;
			}
			if (fd) {
				st = check_len_value(c, desc, fd, &s, buf + pos, (size_t)v,
						     depth, &elems);
				if (st != HL_OK)
					goto out;
			} else if (v > lim->max_bytes) {
				st = fail_at(c, &s, "too long (max %zu bytes)", lim->max_bytes);
				goto out;
			}
			pos += (size_t)v;
			break;
		case WIRE_GROUP_START:
		case WIRE_GROUP_END:
			st = fail_at(c, &s, "groups are not supported");
			goto out;
		default:
			st = fail_at(c, &s, "invalid wire type %u", wt);
			goto out;
		}
		if (!fd && (st = count_unknown(c, &s, pos - field_start)) != HL_OK)
			goto out;
		if (repeated) {
			if (elems > lim->max_repeated || *count > lim->max_repeated - elems) {
				s.index = -1;
				st = fail_at(c, &s, "too many elements (max %zu)", lim->max_repeated);
				goto out;
			}
			*count += elems;
		}
	}
out:
	if (counts != stack_counts)
		free(counts);
	return st;
}

hl_validate_limits hl_validate_limits_default(void)
{
	hl_validate_limits lim = {
		.max_string_bytes = HL_VALIDATE_MAX_STRING_BYTES,
		.max_bytes = HL_VALIDATE_MAX_BYTES,
		.max_repeated = HL_VALIDATE_MAX_REPEATED,
		.max_depth = HL_VALIDATE_MAX_DEPTH,
		.max_unknown_fields = HL_VALIDATE_MAX_UNKNOWN_FIELDS,
		.max_unknown_bytes = HL_VALIDATE_MAX_UNKNOWN_BYTES,
		.overrides = NULL,
		.n_overrides = 0,
	};
	return lim;
}

hl_status hl_validate_wire(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
			   const hl_validate_limits *lim, hl_error *err)
{
	hl_validate_limits dflt = hl_validate_limits_default();
	struct ctx c = {lim ? lim : &dflt, err, 0, 0};

	if (!desc || (!buf && len))
		return hl_fail(err, HL_INVALID, "message: no descriptor or data");
	return walk(&c, desc, buf, len, NULL, 1);
}
