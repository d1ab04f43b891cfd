/*
 * bind.c - command-line values into request fields of any protobuf-c
 * message, by field path and descriptor (see ctl_bind() in hotlinectl.h),
 * so that a command's arguments are a table and never code.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hl/b64.h"
#include "hl/buf.h"
#include "hotlinectl.h"
#include "pbfmt.h"

ProtobufCMessage *ctl_new_message(hl_arena *a, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = hl_arena_alloc(a, d->sizeof_message);
	if (m)
		protobuf_c_message_init(d, m);
	return m;
}

/* The next path segment of *path into seg; advances *path past a '.'. */
static bool next_segment(const char **path, char *seg, size_t cap)
{
	const char *dot = strchr(*path, '.');
	size_t n = dot ? (size_t)(dot - *path) : strlen(*path);
	if (n == 0 || n >= cap)
		return false;
	memcpy(seg, *path, n);
	seg[n] = '\0';
	*path += dot ? n + 1 : n;
	return true;
}

const ProtobufCFieldDescriptor *ctl_field(const ProtobufCMessageDescriptor *d, const char *path)
{
	char seg[128];
	const ProtobufCFieldDescriptor *f = NULL;
	while (*path) {
		if (f && (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED))
			return NULL;
		if (f)
			d = f->descriptor;
		if (!next_segment(&path, seg, sizeof seg) ||
		    !(f = protobuf_c_message_descriptor_get_field_by_name(d, seg)))
			return NULL;
	}
	return f;
}

static void *slot_of(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	return (char *)m + f->offset;
}

/* Record that singular field f of m is set (oneof case, proto2 has_ flag). */
static void mark_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset && f->type != PROTOBUF_C_TYPE_STRING &&
		 f->type != PROTOBUF_C_TYPE_MESSAGE)
		*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
}

static hl_status parse_int(const char *s, long long lo, long long hi, long long *out, hl_error *err)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return hl_fail(err, HL_INVALID, "'%s' is not an integer from %lld to %lld", s, lo, hi);
	*out = v;
	return HL_OK;
}

static hl_status parse_uint(const char *s, unsigned long long hi, unsigned long long *out, hl_error *err)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *s == '-' || *end || errno || v > hi)
		return hl_fail(err, HL_INVALID, "'%s' is not an integer from 0 to %llu", s, hi);
	*out = v;
	return HL_OK;
}

static hl_status parse_bool(const char *s, protobuf_c_boolean *out, hl_error *err)
{
	static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, HL_OK;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, HL_OK;
	}
	return hl_fail(err, HL_INVALID, "'%s' is not true or false", s);
}

static hl_status parse_enum(const ProtobufCEnumDescriptor *d, const char *s, int *out, hl_error *err)
{
	if (pbfmt_enum_parse(d, s, out))
		return HL_OK;
	hl_buf names = HL_BUF_INIT;
	pbfmt_enum_names(&names, d, ", ");
	hl_status st = hl_fail(err, HL_INVALID, "'%s' is not one of %s", s, hl_buf_failed(&names) ? "?" : names.data);
	hl_buf_release(&names);
	return st;
}

static hl_status set_value(hl_arena *a, const ProtobufCFieldDescriptor *f, void *slot, const char *s, hl_error *err);

/*
 * A small message as "name=value,name=value" (its singular fields by name, e.g.
 * --rule category=complaint,percent=100); values cannot contain commas.
 */
static hl_status parse_pairs(hl_arena *a, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m, const char *s,
			     hl_error *err)
{
	char *copy = hl_arena_strdup(a, s), *save = NULL;
	if (!copy)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (char *pair = strtok_r(copy, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(pair, '=');
		if (!eq)
			return hl_fail(err, HL_INVALID, "'%s': expected name=value", pair);
		*eq = '\0';
		const ProtobufCFieldDescriptor *f = ctl_field(d, pair);
		if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
			return hl_fail(err, HL_INVALID, "%s has no field '%s'", d->short_name, pair);
		hl_status st = set_value(a, f, slot_of(m, f), eq + 1, err);
		if (st)
			return st;
		mark_present(m, f);
	}
	return HL_OK;
}

/* Message-typed values: Timestamp from RFC 3339, wrappers from their value, others as name=value pairs. */
static hl_status parse_message(hl_arena *a, const ProtobufCMessageDescriptor *d, const char *s, void *slot,
			       hl_error *err)
{
	ProtobufCMessage *m = ctl_new_message(a, d);
	if (!m)
		return hl_fail(err, HL_NOMEM, "out of memory");
	if (strcmp(d->name, "google.protobuf.Timestamp") == 0) {
		int64_t secs;
		int32_t nanos;
		const ProtobufCFieldDescriptor *fs = ctl_field(d, "seconds"), *fn = ctl_field(d, "nanos");
		if (!fs || !fn || !pbfmt_time_parse(s, &secs, &nanos))
			return hl_fail(err, HL_INVALID, "'%s' is not a date (2025-01-31) or RFC 3339 time", s);
		*(int64_t *)slot_of(m, fs) = secs;
		*(int32_t *)slot_of(m, fn) = nanos;
	} else if (strncmp(d->name, "google.protobuf.", 16) == 0 && d->n_fields == 1 &&
		   strcmp(d->fields[0].name, "value") == 0) {
		hl_status st = set_value(a, &d->fields[0], slot_of(m, &d->fields[0]), s, err);
		if (st)
			return st;
	} else if (strchr(s, '=')) {
		hl_status st = parse_pairs(a, d, m, s, err);
		if (st)
			return st;
	} else {
		return hl_fail(err, HL_INVALID, "a %s is given as name=value,name=value", d->short_name);
	}
	*(ProtobufCMessage **)slot = m;
	return HL_OK;
}

static hl_status set_value(hl_arena *a, const ProtobufCFieldDescriptor *f, void *slot, const char *s, hl_error *err)
{
	long long i = 0;
	unsigned long long u = 0;
	hl_status st = HL_OK;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (!(st = parse_int(s, INT32_MIN, INT32_MAX, &i, err)))
			*(int32_t *)slot = (int32_t)i;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (!(st = parse_int(s, INT64_MIN, INT64_MAX, &i, err)))
			*(int64_t *)slot = (int64_t)i;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (!(st = parse_uint(s, UINT32_MAX, &u, err)))
			*(uint32_t *)slot = (uint32_t)u;
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (!(st = parse_uint(s, UINT64_MAX, &u, err)))
			*(uint64_t *)slot = (uint64_t)u;
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		char *end;
		double v = strtod(s, &end);
		if (!*s || *end || !isfinite(v))
			return hl_fail(err, HL_INVALID, "'%s' is not a number", s);
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)slot = (float)v;
		else
			*(double *)slot = v;
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		st = parse_bool(s, slot, err);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		st = parse_enum(f->descriptor, s, slot, err);
		break;
	case PROTOBUF_C_TYPE_STRING:
		if (!(*(char **)slot = hl_arena_strdup(a, s)))
			st = hl_fail(err, HL_NOMEM, "out of memory");
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *bd = slot;
		unsigned char *data;
		size_t n;
		if (hl_b64_decode(a, s, strlen(s), &data, &n, NULL))
			return hl_fail(err, HL_INVALID, "not base64");
		bd->data = data;
		bd->len = n;
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		st = parse_message(a, f->descriptor, s, slot, err);
		break;
	}
	return st;
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

/* A new last element of repeated field f of m (the array is copied into the arena). */
static void *append_slot(hl_arena *a, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	size_t *n = (size_t *)((char *)m + f->quantifier_offset), size = elem_size(f);
	char **arr = slot_of(m, f);
	char *grown = hl_arena_alloc(a, (*n + 1) * size);
	if (!grown)
		return NULL;
	if (*n)
		memcpy(grown, *arr, *n * size);
	*arr = grown;
	return grown + (*n)++ * size;
}

/* The message that holds the last segment of path, creating the ones on the way. */
static hl_status holder(hl_arena *a, ProtobufCMessage **m, const char **path, hl_error *err)
{
	char seg[128];
	while (strchr(*path, '.')) {
		const ProtobufCFieldDescriptor *f;
		if (!next_segment(path, seg, sizeof seg) ||
		    !(f = protobuf_c_message_descriptor_get_field_by_name((*m)->descriptor, seg)) ||
		    f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
			return hl_fail(err, HL_INVALID, "no message field %s in %s", seg, (*m)->descriptor->name);
		ProtobufCMessage **sub = slot_of(*m, f);
		if (!*sub && !(*sub = ctl_new_message(a, f->descriptor)))
			return hl_fail(err, HL_NOMEM, "out of memory");
		mark_present(*m, f);
		*m = *sub;
	}
	return HL_OK;
}

hl_status ctl_bind(hl_arena *a, ProtobufCMessage *m, const char *path, const char *s, hl_error *err)
{
	hl_status st = holder(a, &m, &path, err);
	if (st)
		return st;
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, path);
	if (!f)
		return hl_fail(err, HL_INVALID, "no field %s in %s", path, m->descriptor->name);
	void *slot = f->label == PROTOBUF_C_LABEL_REPEATED ? append_slot(a, m, f) : slot_of(m, f);
	if (!slot)
		return hl_fail(err, HL_NOMEM, "out of memory");
	if ((st = set_value(a, f, slot, s, err)))
		return st;
	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		mark_present(m, f);
	return HL_OK;
}
