/*
 * json.c - strict RFC 8259 parser into an arena tree (see json.h).
 *
 * A recursive-descent parser over a length-delimited buffer.  Children are
 * collected in a linked list while their container is parsed and then laid
 * out as an array; objects also get a copy of that array sorted by key, which
 * both finds duplicate keys and serves hl_json_get() by binary search.
 * Numbers are converted with strtod_l() in the "C" locale, so a process that
 * calls setlocale() still reads "1.5" correctly.
 */
#define _GNU_SOURCE
#include "hl/json.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct hl_json {
	hl_json_type type;
	bool b;
	bool is_int;
	int64_t i;
	double num;
	const char *str;        /* string value, NUL-terminated */
	size_t len;             /* string length, or item count of a container */
	const hl_json **items;  /* array items / object values, document order */
	const hl_json **sorted; /* object values sorted by key */
	const char *key;        /* the key of this value inside its object */
	hl_json *next;          /* sibling link while the container is parsed */
};

struct parser {
	hl_arena *a;
	const unsigned char *start, *p, *end;
	int depth;
	hl_error *err;
};

static hl_status parse_value(struct parser *ps, hl_json **out);

static size_t offset(const struct parser *ps)
{
	return (size_t)(ps->p - ps->start);
}

static hl_status syntax(struct parser *ps, const char *what)
{
	if (ps->p >= ps->end)
		return hl_fail(ps->err, HL_INVALID, "json: %s at end of input", what);
	return hl_fail(ps->err, HL_INVALID, "json: %s at offset %zu", what, offset(ps));
}

static hl_status nomem(struct parser *ps)
{
	return hl_fail(ps->err, HL_NOMEM, "json: out of memory");
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static hl_json *node_new(struct parser *ps, hl_json_type t)
{
	hl_json *v = hl_arena_alloc(ps->a, sizeof *v);
	if (v)
		v->type = t;
	return v;
}

/* Length of the valid UTF-8 sequence at s (s < end, *s >= 0x80), or 0. */
static size_t utf8_seq_len(const unsigned char *s, const unsigned char *end)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte */
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if ((size_t)(end - s) < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return n;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read 4 hex digits at s (s + 4 <= end checked by the caller); -1 if invalid. */
static long hex4(const unsigned char *s)
{
	long v = 0;
	for (int k = 0; k < 4; k++) {
		int d = hex_digit(s[k]);
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static unsigned char *put_utf8(unsigned char *o, unsigned long cp)
{
	if (cp < 0x80) {
		*o++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*o++ = (unsigned char)(0xc0 | cp >> 6);
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (unsigned char)(0xe0 | cp >> 12);
		*o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (unsigned char)(0xf0 | cp >> 18);
		*o++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/*
 * Decode the \u escape at ps->p (pointing at the 'u'), which ends before
 * close, into o.  Advances ps->p past the escape (or escape pair).
 */
static hl_status unicode_escape(struct parser *ps, const unsigned char *close,
				unsigned char **o)
{
	if (close - ps->p < 5)
		return syntax(ps, "short \\u escape");
	long cp = hex4(ps->p + 1);
	if (cp < 0)
		return syntax(ps, "bad \\u escape");
	if (cp == 0)
		return syntax(ps, "\\u0000 not allowed in strings");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return syntax(ps, "lone low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		const unsigned char *q = ps->p + 5;
		long lo = -1;
		if (close - q >= 6 && q[0] == '\\' && q[1] == 'u')
			lo = hex4(q + 2);
		if (lo < 0xdc00 || lo > 0xdfff)
			return syntax(ps, "lone high surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		ps->p += 6;
	}
	ps->p += 5;
	*o = put_utf8(*o, (unsigned long)cp);
	return HL_OK;
}

/* Parse the string at ps->p (a '"') into arena memory. */
static hl_status parse_string(struct parser *ps, const char **out, size_t *out_len)
{
	const unsigned char *q = ps->p + 1;
	while (q < ps->end && *q != '"') {
		if (*q == '\\' && ps->end - q < 2) {
			q = ps->end;
			break;
		}
		q += *q == '\\' ? 2 : 1;
	}
	if (q >= ps->end)
		return hl_fail(ps->err, HL_INVALID, "json: unterminated string at offset %zu",
			       offset(ps));
	const unsigned char *close = q;
	/* decoding never makes a string longer */
	unsigned char *buf = hl_arena_alloc(ps->a, (size_t)(close - ps->p));
	if (!buf)
		return nomem(ps);
	unsigned char *o = buf;
	ps->p++;
	while (ps->p < close) {
		unsigned char c = *ps->p;
		if (c < 0x20)
			return syntax(ps, "control character in string");
		if (c >= 0x80) {
			size_t n = utf8_seq_len(ps->p, close);
			if (!n)
				return syntax(ps, "invalid UTF-8");
			memcpy(o, ps->p, n);
			o += n;
			ps->p += n;
			continue;
		}
		if (c != '\\') {
			*o++ = c;
			ps->p++;
			continue;
		}
		ps->p++; /* the escaped character is before close, see the scan */
		switch (*ps->p) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			hl_status st = unicode_escape(ps, close, &o);
			if (st != HL_OK)
				return st;
			continue;
		}
		default:
			return syntax(ps, "bad escape");
		}
		ps->p++;
	}
	*o = '\0';
	ps->p = close + 1;
	*out = (const char *)buf;
	*out_len = (size_t)(o - buf);
	return HL_OK;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static double to_double(const char *s)
{
	pthread_once(&c_locale_once, c_locale_init);
	if (c_locale)
		return strtod_l(s, NULL, c_locale);
	return strtod(s, NULL);
}

/* Exact int64 value of an integer literal [s, e) (optional '-', digits). */
static bool literal_int64(const unsigned char *s, const unsigned char *e, int64_t *out)
{
	bool neg = *s == '-';
	if (neg)
		s++;
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t u = 0;
	for (; s < e; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (u > (limit - d) / 10)
			return false;
		u = u * 10 + d;
	}
	if (neg)
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	else
		*out = (int64_t)u;
	return true;
}

static bool is_digit(const struct parser *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static hl_status parse_number(struct parser *ps, hl_json *v)
{
	const unsigned char *s = ps->p;
	bool integral = true;
	if (*ps->p == '-')
		ps->p++;
	if (!is_digit(ps))
		return syntax(ps, "digit expected");
	if (*ps->p == '0') {
		ps->p++;
		if (is_digit(ps))
			return syntax(ps, "leading zero in number");
	} else {
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && *ps->p == '.') {
		integral = false;
		ps->p++;
		if (!is_digit(ps))
			return syntax(ps, "digit expected after '.'");
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		integral = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!is_digit(ps))
			return syntax(ps, "digit expected in exponent");
		while (is_digit(ps))
			ps->p++;
	}
	char *text = hl_arena_strndup(ps->a, (const char *)s, (size_t)(ps->p - s));
	if (!text)
		return nomem(ps);
	v->num = to_double(text);
	if (!isfinite(v->num)) {
		ps->p = s;
		return syntax(ps, "number out of range");
	}
	if (integral) {
		v->is_int = literal_int64(s, ps->p, &v->i);
	} else if (v->num == floor(v->num) && fabs(v->num) <= 9007199254740992.0) {
		v->is_int = true;
		v->i = (int64_t)v->num;
	}
	return HL_OK;
}

static hl_status parse_literal(struct parser *ps, const char *word, size_t n)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return syntax(ps, "unexpected character");
	ps->p += n;
	return HL_OK;
}

static hl_status enter(struct parser *ps)
{
	if (++ps->depth > HL_JSON_MAX_DEPTH)
		return hl_fail(ps->err, HL_OUT_OF_RANGE,
			       "json: nesting deeper than %d at offset %zu", HL_JSON_MAX_DEPTH,
			       offset(ps));
	ps->p++; /* '[' or '{' */
	return HL_OK;
}

/* Lay out the n children of list as v->items. */
static hl_status collect(struct parser *ps, hl_json *v, hl_json *list, size_t n)
{
	v->len = n;
	if (!n)
		return HL_OK;
	v->items = hl_arena_alloc(ps->a, n * sizeof *v->items);
	if (!v->items)
		return nomem(ps);
	for (size_t k = 0; k < n; k++, list = list->next)
		v->items[k] = list;
	return HL_OK;
}

static hl_status parse_array(struct parser *ps, hl_json *v)
{
	hl_status st = enter(ps);
	if (st != HL_OK)
		return st;
	hl_json *head = NULL, **tail = &head;
	size_t n = 0;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
	} else {
		for (;;) {
			hl_json *item;
			if ((st = parse_value(ps, &item)) != HL_OK)
				return st;
			*tail = item;
			tail = &item->next;
			n++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == ']') {
				ps->p++;
				break;
			}
			return syntax(ps, "',' or ']' expected");
		}
	}
	ps->depth--;
	return collect(ps, v, head, n);
}

static int key_cmp(const void *x, const void *y)
{
	const hl_json *const *a = x, *const *b = y;
	return strcmp((*a)->key, (*b)->key);
}

/* Sort the members by key for lookups; equal neighbours are duplicates. */
static hl_status index_members(struct parser *ps, hl_json *v, size_t at)
{
	if (!v->len)
		return HL_OK;
	v->sorted = hl_arena_memdup(ps->a, v->items, v->len * sizeof *v->items);
	if (!v->sorted)
		return nomem(ps);
	qsort(v->sorted, v->len, sizeof *v->sorted, key_cmp);
	for (size_t k = 1; k < v->len; k++)
		if (strcmp(v->sorted[k - 1]->key, v->sorted[k]->key) == 0)
			return hl_fail(ps->err, HL_INVALID,
				       "json: duplicate key in object at offset %zu", at);
	return HL_OK;
}

static hl_status parse_member(struct parser *ps, hl_json **out)
{
	const char *key;
	size_t key_len;
	hl_status st;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return syntax(ps, "string key expected");
	if ((st = parse_string(ps, &key, &key_len)) != HL_OK)
		return st;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != ':')
		return syntax(ps, "':' expected");
	ps->p++;
	if ((st = parse_value(ps, out)) != HL_OK)
		return st;
	(*out)->key = key;
	return HL_OK;
}

static hl_status parse_object(struct parser *ps, hl_json *v)
{
	size_t at = offset(ps);
	hl_status st = enter(ps);
	if (st != HL_OK)
		return st;
	hl_json *head = NULL, **tail = &head;
	size_t n = 0;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
	} else {
		for (;;) {
			hl_json *member;
			if ((st = parse_member(ps, &member)) != HL_OK)
				return st;
			*tail = member;
			tail = &member->next;
			n++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == '}') {
				ps->p++;
				break;
			}
			return syntax(ps, "',' or '}' expected");
		}
	}
	ps->depth--;
	if ((st = collect(ps, v, head, n)) != HL_OK)
		return st;
	return index_members(ps, v, at);
}

static hl_status parse_value(struct parser *ps, hl_json **out)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return syntax(ps, "value expected");
	hl_json *v = node_new(ps, HL_JSON_NULL);
	if (!v)
		return nomem(ps);
	hl_status st;
	switch (*ps->p) {
	case '{':
		v->type = HL_JSON_OBJECT;
		st = parse_object(ps, v);
		break;
	case '[':
		v->type = HL_JSON_ARRAY;
		st = parse_array(ps, v);
		break;
	case '"':
		v->type = HL_JSON_STRING;
		st = parse_string(ps, &v->str, &v->len);
		break;
	case 't':
		v->type = HL_JSON_BOOL;
		v->b = true;
		st = parse_literal(ps, "true", 4);
		break;
	case 'f':
		v->type = HL_JSON_BOOL;
		st = parse_literal(ps, "false", 5);
		break;
	case 'n':
		st = parse_literal(ps, "null", 4);
		break;
	default:
		if (*ps->p != '-' && (*ps->p < '0' || *ps->p > '9'))
			return syntax(ps, "unexpected character");
		v->type = HL_JSON_NUMBER;
		st = parse_number(ps, v);
	}
	if (st == HL_OK)
		*out = v;
	return st;
}

hl_status hl_json_parse(hl_arena *a, const char *text, size_t len, hl_json **out,
			hl_error *err)
{
	if (len > HL_JSON_MAX_SIZE)
		return hl_fail(err, HL_OUT_OF_RANGE, "json: document larger than %d bytes",
			       HL_JSON_MAX_SIZE);
	if (!text && len)
		return hl_fail(err, HL_INVALID, "json: no text");
	static const unsigned char empty[1];
	const unsigned char *s = text ? (const unsigned char *)text : empty;
	struct parser ps = {.a = a, .start = s, .p = s, .end = s + len, .err = err};
	hl_json *v;
	hl_status st = parse_value(&ps, &v);
	if (st != HL_OK)
		return st;
	skip_ws(&ps);
	if (ps.p != ps.end)
		return syntax(&ps, "trailing characters");
	*out = v;
	return HL_OK;
}

hl_json_type hl_json_typeof(const hl_json *v)
{
	return v->type;
}

const char *hl_json_type_name(hl_json_type t)
{
	switch (t) {
	case HL_JSON_NULL: return "null";
	case HL_JSON_BOOL: return "boolean";
	case HL_JSON_NUMBER: return "number";
	case HL_JSON_STRING: return "string";
	case HL_JSON_ARRAY: return "array";
	case HL_JSON_OBJECT: return "object";
	}
	return "unknown";
}

bool hl_json_is_null(const hl_json *v)
{
	return v && v->type == HL_JSON_NULL;
}

bool hl_json_bool(const hl_json *v, bool *out)
{
	if (!v || v->type != HL_JSON_BOOL)
		return false;
	*out = v->b;
	return true;
}

bool hl_json_number(const hl_json *v, double *out)
{
	if (!v || v->type != HL_JSON_NUMBER)
		return false;
	*out = v->num;
	return true;
}

bool hl_json_int64(const hl_json *v, int64_t *out)
{
	if (!v || v->type != HL_JSON_NUMBER || !v->is_int)
		return false;
	*out = v->i;
	return true;
}

const char *hl_json_string(const hl_json *v)
{
	return v && v->type == HL_JSON_STRING ? v->str : NULL;
}

size_t hl_json_string_len(const hl_json *v)
{
	return v && v->type == HL_JSON_STRING ? v->len : 0;
}

size_t hl_json_array_len(const hl_json *v)
{
	return v && v->type == HL_JSON_ARRAY ? v->len : 0;
}

const hl_json *hl_json_array_item(const hl_json *v, size_t i)
{
	if (!v || v->type != HL_JSON_ARRAY || i >= v->len)
		return NULL;
	return v->items[i];
}

size_t hl_json_object_len(const hl_json *v)
{
	return v && v->type == HL_JSON_OBJECT ? v->len : 0;
}

const hl_json *hl_json_object_item(const hl_json *v, size_t i, const char **key)
{
	if (!v || v->type != HL_JSON_OBJECT || i >= v->len)
		return NULL;
	if (key)
		*key = v->items[i]->key;
	return v->items[i];
}

const hl_json *hl_json_get(const hl_json *obj, const char *key)
{
	if (!obj || obj->type != HL_JSON_OBJECT || !key)
		return NULL;
	size_t lo = 0, hi = obj->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(obj->sorted[mid]->key, key);
		if (c == 0)
			return obj->sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
