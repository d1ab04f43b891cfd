/*
 * pbfmt.c - the generic formatters of hotlinectl (see pbfmt.h): JSON and
 * "key: value" text of any protobuf-c message by walking its message and
 * field descriptors, the short names of enum values, and RFC 3339 times.
 *
 * Field presence follows protobuf-c 1.4: a proto3 field without presence
 * has label NONE; a oneof member has the ONEOF flag and its case (the field
 * number of the member that is set) at quantifier_offset; a repeated field
 * has its count (size_t) at quantifier_offset; a proto2 optional scalar has
 * its has_ flag there.  Well-known types are recognised by full name:
 * google.protobuf.Timestamp, google.protobuf.Duration and the wrappers
 * (google.protobuf.StringValue, ...) print as their value.
 */
#include "pbfmt.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl/b64.h"
#include "hl/mask.h"

/* ---- descriptors ------------------------------------------------------- */

typedef enum wkt {
	WKT_NONE,
	WKT_TIMESTAMP,
	WKT_DURATION,
	WKT_WRAPPER,
} wkt;

static wkt well_known(const ProtobufCMessageDescriptor *d)
{
	static const char *const wrappers[] = {
		"google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue",
	};
	if (strcmp(d->name, "google.protobuf.Timestamp") == 0)
		return WKT_TIMESTAMP;
	if (strcmp(d->name, "google.protobuf.Duration") == 0)
		return WKT_DURATION;
	for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++)
		if (strcmp(d->name, wrappers[i]) == 0 && d->n_fields == 1)
			return WKT_WRAPPER;
	return WKT_NONE;
}

static const void *field_at(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	return (const char *)m + f->offset;
}

static size_t repeated_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	return *(const size_t *)((const char *)m + f->quantifier_offset);
}

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
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

/* Element i of repeated field f of m. */
static const void *repeated_item(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t i)
{
	const char *arr = *(const char *const *)field_at(m, f);
	return arr + i * elem_size(f->type);
}

/* Whether singular field f of m holds a value that is written at all. */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
		return *(const void *const *)field_at(m, f) != NULL;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
		return *(const protobuf_c_boolean *)((const char *)m + f->quantifier_offset);
	return true;
}

static const char *str_at(const void *p)
{
	const char *s = *(const char *const *)p;
	return s ? s : "";
}

/* ---- numbers, enums, times --------------------------------------------- */

/* The shortest of %.15g..%.17g (floats: %.6g..%.9g) that reads back exactly. */
static void put_real(hl_buf *b, double v, bool is_float)
{
	char tmp[40];
	for (int prec = is_float ? 6 : 15; prec <= (is_float ? 9 : 17); prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		double back = strtod(tmp, NULL);
		if (is_float ? (float)back == (float)v : back == v)
			break;
	}
	hl_buf_puts(b, tmp);
}

static void upper_snake(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; s[i] && n + 3 < cap; i++) {
		char c = s[i], prev = i ? s[i - 1] : 0, next = s[i + 1];
		bool up = c >= 'A' && c <= 'Z';
		bool prev_low = (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9');
		bool prev_up = prev >= 'A' && prev <= 'Z';
		if (up && i && (prev_low || (prev_up && next >= 'a' && next <= 'z')))
			out[n++] = '_';
		out[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
	}
	out[n] = '\0';
}

/* The value name without the enum's UPPER_SNAKE_CASE prefix (when it has it). */
static const char *strip_prefix(const ProtobufCEnumDescriptor *d, const char *name)
{
	char prefix[128];
	upper_snake(d->short_name, prefix, sizeof prefix - 1);
	size_t n = strlen(prefix);
	prefix[n++] = '_';
	prefix[n] = '\0';
	return strncmp(name, prefix, n) == 0 && name[n] ? name + n : name;
}

const char *pbfmt_enum_short(const ProtobufCEnumDescriptor *d, int v, char *buf, size_t cap)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	if (!ev) {
		snprintf(buf, cap, "%d", v);
		return buf;
	}
	const char *s = strip_prefix(d, ev->name);
	size_t i = 0;
	for (; s[i] && i + 1 < cap; i++)
		buf[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	buf[i] = '\0';
	return buf;
}

/* Case-insensitive equality with '-' matching '_'. */
static bool name_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
		if (!x)
			return true;
	}
}

bool pbfmt_enum_parse(const ProtobufCEnumDescriptor *d, const char *s, int *out)
{
	if (!s || !*s)
		return false;
	for (unsigned i = 0; i < d->n_values; i++) {
		const ProtobufCEnumValue *ev = &d->values[i];
		if (ev->value == 0)
			continue;
		if (name_eq(s, ev->name) || name_eq(s, strip_prefix(d, ev->name))) {
			*out = ev->value;
			return true;
		}
	}
	return false;
}

void pbfmt_enum_names(hl_buf *b, const ProtobufCEnumDescriptor *d, const char *sep)
{
	bool first = true;
	for (unsigned i = 0; i < d->n_values; i++) {
		char name[128];
		if (d->values[i].value == 0)
			continue;
		if (!first)
			hl_buf_puts(b, sep);
		first = false;
		hl_buf_puts(b, pbfmt_enum_short(d, d->values[i].value, name, sizeof name));
	}
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void pbfmt_time(hl_buf *b, int64_t seconds, int32_t nanos, bool frac)
{
	seconds += floor_div(nanos, 1000000000);
	nanos = (int32_t)(nanos - floor_div(nanos, 1000000000) * 1000000000);
	int64_t days = floor_div(seconds, 86400), sod = seconds - days * 86400, y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	hl_buf_printf(b, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
		      (int)(sod % 60));
	if (frac && nanos) {
		if (nanos % 1000000 == 0)
			hl_buf_printf(b, ".%03d", (int)(nanos / 1000000));
		else if (nanos % 1000 == 0)
			hl_buf_printf(b, ".%06d", (int)(nanos / 1000));
		else
			hl_buf_printf(b, ".%09d", (int)nanos);
	}
	hl_buf_putc(b, 'Z');
}

/* n decimal digits at *s into *out; advances *s. */
static bool digits(const char **s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*s += n;
	*out = v;
	return true;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* The time-of-day part after the date: "HH:MM:SS[.frac](Z|+HH:MM|-HH:MM)". */
static bool parse_clock(const char *s, int64_t *secs, int32_t *nanos)
{
	int hh, mm, ss, oh = 0, om = 0, sign = 0;
	if (!digits(&s, 2, &hh) || *s++ != ':' || !digits(&s, 2, &mm) || *s++ != ':' || !digits(&s, 2, &ss))
		return false;
	*nanos = 0;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		int i = 0;
		for (; *s >= '0' && *s <= '9'; s++, i++)
			if (i < 9) /* digits beyond nanoseconds are ignored */
				*nanos = *nanos * 10 + (*s - '0');
		for (; i < 9; i++)
			*nanos *= 10;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om))
			return false;
	} else {
		return false;
	}
	if (*s || hh > 23 || mm > 59 || ss > 59 || oh > 23 || om > 59)
		return false;
	*secs = (int64_t)hh * 3600 + mm * 60 + ss - sign * ((int64_t)oh * 3600 + om * 60);
	return true;
}

bool pbfmt_time_parse(const char *s, int64_t *seconds, int32_t *nanos)
{
	int y, m, d;
	if (!s || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &m) || *s++ != '-' || !digits(&s, 2, &d))
		return false;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return false;
	int64_t day = days_from_civil(y, m, d) * 86400, secs = 0;
	int32_t ns = 0;
	if (*s) {
		if (*s != 'T' && *s != 't' && *s != ' ')
			return false;
		if (!parse_clock(s + 1, &secs, &ns))
			return false;
	}
	*seconds = day + secs;
	*nanos = ns;
	return true;
}

/* Seconds and nanos of a Timestamp or Duration message, by field name. */
static void seconds_nanos(const ProtobufCMessage *m, int64_t *secs, int32_t *nanos)
{
	const ProtobufCFieldDescriptor *fs = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "seconds");
	const ProtobufCFieldDescriptor *fn = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "nanos");
	*secs = fs ? *(const int64_t *)field_at(m, fs) : 0;
	*nanos = fn ? *(const int32_t *)field_at(m, fn) : 0;
}

static void put_duration(hl_buf *b, const ProtobufCMessage *m)
{
	int64_t s;
	int32_t n;
	seconds_nanos(m, &s, &n);
	bool neg = s < 0 || n < 0;
	uint64_t us = neg ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
	int32_t un = n < 0 ? -n : n;
	hl_buf_printf(b, "%s%" PRIu64, neg ? "-" : "", us);
	if (un % 1000000 == 0 && un)
		hl_buf_printf(b, ".%03d", (int)(un / 1000000));
	else if (un % 1000 == 0 && un)
		hl_buf_printf(b, ".%06d", (int)(un / 1000));
	else if (un)
		hl_buf_printf(b, ".%09d", (int)un);
	hl_buf_putc(b, 's');
}

/* ---- JSON -------------------------------------------------------------- */

typedef struct jw {
	hl_buf *b;
	bool pretty;
	hl_arena *a;
} jw;

static void json_message(jw *w, const ProtobufCMessage *m, int depth);

static void json_newline(jw *w, int depth)
{
	if (!w->pretty)
		return;
	hl_buf_putc(w->b, '\n');
	for (int i = 0; i < depth; i++)
		hl_buf_puts(w->b, "  ");
}

/* A JSON string: escapes, and U+FFFD for bytes that are not UTF-8. */
static void json_text(hl_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	hl_buf_putc(b, '"');
	while (p < end) {
		unsigned char c = *p;
		if (c >= 0x80) {
			size_t k = hl_utf8_seq_len(p, (size_t)(end - p));
			if (k) {
				hl_buf_append(b, p, k);
				p += k;
			} else {
				hl_buf_puts(b, "\xef\xbf\xbd");
				p++;
			}
			continue;
		}
		if (c == '"' || c == '\\') {
			hl_buf_putc(b, '\\');
			hl_buf_putc(b, (char)c);
		} else if (c == '\n') {
			hl_buf_puts(b, "\\n");
		} else if (c == '\r') {
			hl_buf_puts(b, "\\r");
		} else if (c == '\t') {
			hl_buf_puts(b, "\\t");
		} else if (c < 0x20) {
			hl_buf_printf(b, "\\u%04x", c);
		} else {
			hl_buf_putc(b, (char)c);
		}
		p++;
	}
	hl_buf_putc(b, '"');
}

static void json_cstr(hl_buf *b, const char *s)
{
	json_text(b, s, strlen(s));
}

/* An integer field's value; quote64: 64-bit ones in quotes. */
static void put_integer(hl_buf *b, const ProtobufCFieldDescriptor *f, const void *p, bool quote64)
{
	const char *q = quote64 ? "\"" : "";
	switch (f->type) {
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		hl_buf_printf(b, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		hl_buf_printf(b, "%s%" PRId64 "%s", q, *(const int64_t *)p, q);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		hl_buf_printf(b, "%s%" PRIu64 "%s", q, *(const uint64_t *)p, q);
		break;
	default: /* int32, sint32, sfixed32 */
		hl_buf_printf(b, "%" PRId32, *(const int32_t *)p);
		break;
	}
}

static void json_real(hl_buf *b, double v, bool is_float)
{
	if (isnan(v))
		hl_buf_puts(b, "\"NaN\"");
	else if (isinf(v))
		hl_buf_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
		put_real(b, v, is_float);
}

static void json_value(jw *w, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
	hl_buf *b = w->b;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		put_integer(b, f, p, true); /* proto3 JSON: 64-bit integers as strings */
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		json_real(b, *(const float *)p, true);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		json_real(b, *(const double *)p, false);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		hl_buf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
		if (ev)
			json_cstr(b, ev->name);
		else
			hl_buf_printf(b, "%d", *(const int *)p);
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		json_cstr(b, str_at(p));
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = p;
		char *s = hl_b64_encode(w->a, bd->data, bd->len);
		if (!s)
			b->failed = true;
		else
			json_cstr(b, s);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
		if (sub)
			json_message(w, sub, depth);
		else
			hl_buf_puts(b, "null");
		break;
	}
	}
}

static void json_array(jw *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int depth)
{
	size_t n = repeated_count(m, f);
	hl_buf_putc(w->b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			hl_buf_putc(w->b, ',');
		json_newline(w, depth + 1);
		json_value(w, f, repeated_item(m, f, i), depth + 1);
	}
	if (n)
		json_newline(w, depth);
	hl_buf_putc(w->b, ']');
}

/* Well-known types as their JSON values; false for other messages. */
static bool json_well_known(jw *w, const ProtobufCMessage *m, int depth)
{
	int64_t s;
	int32_t n;
	switch (well_known(m->descriptor)) {
	case WKT_TIMESTAMP:
		seconds_nanos(m, &s, &n);
		hl_buf_putc(w->b, '"');
		pbfmt_time(w->b, s, n, true);
		hl_buf_putc(w->b, '"');
		return true;
	case WKT_DURATION:
		hl_buf_putc(w->b, '"');
		put_duration(w->b, m);
		hl_buf_putc(w->b, '"');
		return true;
	case WKT_WRAPPER:
		json_value(w, &m->descriptor->fields[0], field_at(m, &m->descriptor->fields[0]), depth);
		return true;
	default:
		return false;
	}
}

static void json_message(jw *w, const ProtobufCMessage *m, int depth)
{
	if (json_well_known(w, m, depth))
		return;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	bool first = true;
	hl_buf_putc(w->b, '{');
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		bool rep = f->label == PROTOBUF_C_LABEL_REPEATED;
		if (!rep && !present(m, f))
			continue;
		if (!first)
			hl_buf_putc(w->b, ',');
		first = false;
		json_newline(w, depth + 1);
		json_cstr(w->b, f->name);
		hl_buf_puts(w->b, w->pretty ? ": " : ":");
		if (rep)
			json_array(w, m, f, depth + 1);
		else
			json_value(w, f, field_at(m, f), depth + 1);
	}
	if (!first)
		json_newline(w, depth);
	hl_buf_putc(w->b, '}');
}

void pbfmt_json(hl_buf *b, const ProtobufCMessage *m, bool pretty, hl_arena *a)
{
	jw w = {b, pretty, a};
	json_message(&w, m, 0);
}

/* ---- text -------------------------------------------------------------- */

/*
 * Lines start through line_start(): `bullet` is set for the first line of a
 * repeated message item, which then begins with "- " two columns to the
 * left of its keys.
 */
typedef struct tw {
	hl_buf *b;
	bool bullet;
} tw;

static void spaces(hl_buf *b, int n)
{
	for (int i = 0; i < n; i++)
		hl_buf_putc(b, ' ');
}

static void line_start(tw *w, int indent)
{
	if (w->bullet) {
		spaces(w->b, indent - 2);
		hl_buf_puts(w->b, "- ");
		w->bullet = false;
	} else {
		spaces(w->b, indent);
	}
}

/*
 * A string for a terminal: newlines continue under column col, other
 * control characters (C0, DEL, C1) and bytes that are not UTF-8 become '?'.
 */
static void text_string(hl_buf *b, const char *s, int col)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	while (p < end) {
		size_t k = *p < 0x80 ? 1 : hl_utf8_seq_len(p, (size_t)(end - p));
		if (*p == '\n') {
			hl_buf_putc(b, '\n');
			spaces(b, col);
		} else if (!k || *p < 0x20 || *p == 0x7f || (k == 2 && p[0] == 0xc2 && p[1] < 0xa0)) {
			hl_buf_putc(b, '?');
		} else {
			hl_buf_append(b, p, k);
		}
		p += k ? k : 1;
	}
}

/* Whether a message prints anything in text form. */
static bool text_has_content(const ProtobufCMessage *m);

static bool text_shown(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return repeated_count(m, f) > 0;
	if (!present(m, f))
		return false;
	const void *p = field_at(m, f);
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return str_at(p)[0] != '\0';
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len > 0;
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int *)p != 0 || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
		return well_known(sub->descriptor) != WKT_NONE || text_has_content(sub) ||
		       (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
	}
	default:
		return true;
	}
}

static bool text_has_content(const ProtobufCMessage *m)
{
	for (unsigned i = 0; i < m->descriptor->n_fields; i++)
		if (text_shown(m, &m->descriptor->fields[i]))
			return true;
	return false;
}

static void text_message(tw *w, const ProtobufCMessage *m, int indent);

/* A scalar or well-known value on the current line, continuing under col. */
static void text_scalar(hl_buf *b, const ProtobufCFieldDescriptor *f, const void *p, int col)
{
	char name[128];
	int64_t s;
	int32_t n;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		put_integer(b, f, p, false);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		double v = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p : *(const double *)p;
		if (isnan(v) || isinf(v))
			hl_buf_puts(b, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
		else
			put_real(b, v, f->type == PROTOBUF_C_TYPE_FLOAT);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		hl_buf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM:
		hl_buf_puts(b, pbfmt_enum_short(f->descriptor, *(const int *)p, name, sizeof name));
		break;
	case PROTOBUF_C_TYPE_STRING:
		text_string(b, str_at(p), col);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		hl_buf_hex(b, ((const ProtobufCBinaryData *)p)->data, ((const ProtobufCBinaryData *)p)->len);
		break;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
		wkt k = well_known(sub->descriptor);
		if (k == WKT_TIMESTAMP) {
			seconds_nanos(sub, &s, &n);
			pbfmt_time(b, s, n, false);
		} else if (k == WKT_DURATION) {
			put_duration(b, sub);
		} else {
			const ProtobufCFieldDescriptor *vf = &sub->descriptor->fields[0];
			text_scalar(b, vf, field_at(sub, vf), col);
		}
		break;
	}
	}
}

static bool inline_value(const ProtobufCFieldDescriptor *f, const void *p)
{
	if (f->type != PROTOBUF_C_TYPE_MESSAGE)
		return true;
	const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
	return sub && well_known(sub->descriptor) != WKT_NONE;
}

static void text_repeated(tw *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int indent)
{
	size_t n = repeated_count(m, f);
	line_start(w, indent);
	hl_buf_puts(w->b, f->name);
	hl_buf_puts(w->b, ":\n");
	for (size_t i = 0; i < n; i++) {
		const void *p = repeated_item(m, f, i);
		if (inline_value(f, p)) {
			spaces(w->b, indent + 2);
			hl_buf_puts(w->b, "- ");
			text_scalar(w->b, f, p, indent + 4);
			hl_buf_putc(w->b, '\n');
		} else if (!*(const void *const *)p || !text_has_content(*(const ProtobufCMessage *const *)p)) {
			spaces(w->b, indent + 2);
			hl_buf_puts(w->b, "-\n");
		} else {
			w->bullet = true;
			text_message(w, *(const ProtobufCMessage *const *)p, indent + 4);
		}
	}
}

static void text_message(tw *w, const ProtobufCMessage *m, int indent)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!text_shown(m, f))
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			text_repeated(w, m, f, indent);
			continue;
		}
		const void *p = field_at(m, f);
		line_start(w, indent);
		hl_buf_puts(w->b, f->name);
		hl_buf_putc(w->b, ':');
		if (inline_value(f, p)) {
			hl_buf_putc(w->b, ' ');
			text_scalar(w->b, f, p, indent + (int)strlen(f->name) + 2);
			hl_buf_putc(w->b, '\n');
		} else {
			hl_buf_putc(w->b, '\n');
			text_message(w, *(const ProtobufCMessage *const *)p, indent + 2);
		}
	}
}

void pbfmt_text(hl_buf *b, const ProtobufCMessage *m, int indent)
{
	tw w = {b, false};
	text_message(&w, m, indent);
}
