/*
 * test_json.c - the strict JSON parser: values, numbers, strings and their
 * escapes, UTF-8 checks, containers, duplicate keys, limits and accessors.
 */
#include "hl/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"

static hl_arena *A;

static hl_json *parse(const char *s)
{
	hl_json *v = NULL;
	if (hl_json_parse(A, s, strlen(s), &v, NULL) != HL_OK)
		return NULL;
	return v;
}

static hl_status parse_status(const char *s, size_t len, hl_error *err)
{
	hl_json *v;
	return hl_json_parse(A, s, len, &v, err);
}

static void test_literals(void)
{
	bool b = false;
	hl_json *v = parse(" true ");
	T_ASSERT(v && hl_json_typeof(v) == HL_JSON_BOOL);
	T_ASSERT(hl_json_bool(v, &b) && b);
	v = parse("false");
	T_ASSERT(v && hl_json_bool(v, &b) && !b);
	v = parse("\t\r\nnull\n");
	T_ASSERT(v && hl_json_is_null(v));
	T_EQ_STR(hl_json_type_name(hl_json_typeof(v)), "null");
	T_ASSERT(!parse("tru"));
	T_ASSERT(!parse("True"));
	T_ASSERT(!parse("nul"));
	T_ASSERT(!parse("nulll"));
}

static void test_numbers(void)
{
	static const struct {
		const char *text;
		double d;
		bool is_int;
		int64_t i;
	} ok[] = {
		{"0", 0, true, 0},
		{"-0", 0, true, 0},
		{"123", 123, true, 123},
		{"-123", -123, true, -123},
		{"1.5", 1.5, false, 0},
		{"-0.25", -0.25, false, 0},
		{"1e3", 1000, true, 1000},
		{"1E+2", 100, true, 100},
		{"2.0", 2, true, 2},
		{"12e-1", 1.2, false, 0},
		{"1700000000", 1700000000, true, 1700000000},
		{"9223372036854775807", 9223372036854775807.0, true, INT64_MAX},
		{"-9223372036854775808", -9223372036854775808.0, true, INT64_MIN},
		{"9223372036854775808", 9223372036854775808.0, false, 0},
		{"1e300", 1e300, false, 0},
		{"1e-400", 0, true, 0},
	};
	for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
		hl_json *v = parse(ok[k].text);
		double d;
		int64_t i = 42;
		if (!v)
			T_FAILF("refused %s", ok[k].text);
		T_ASSERT(hl_json_number(v, &d));
		if (d != ok[k].d)
			T_FAILF("%s gave %g", ok[k].text, d);
		if (hl_json_int64(v, &i) != ok[k].is_int)
			T_FAILF("%s: int64 %s expected", ok[k].text, ok[k].is_int ? "" : "not");
		if (ok[k].is_int)
			T_EQ_INT(i, ok[k].i);
	}
	static const char *bad[] = {"01", "-", "1.", ".5", "+1", "1e", "1e+", "0x10", "NaN",
				    "Infinity", "-Infinity", "1e400", "-1e400", "--1", "1.2.3",
				    "00", "-01", "1 2"};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
		if (parse(bad[k]))
			T_FAILF("accepted %s", bad[k]);
}

static void test_string_escapes(void)
{
	hl_json *v = parse("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"");
	T_ASSERT(v);
	T_EQ_STR(hl_json_string(v), "a\"b\\c/d\be\ff\ng\rh\ti");
	T_EQ_INT(hl_json_string_len(v), 17);
	v = parse("\"\\u00e9\\u4E2D\\ud83d\\ude00\\u0041\"");
	T_ASSERT(v);
	T_EQ_STR(hl_json_string(v), "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80" "A");
	v = parse("\"\"");
	T_ASSERT(v && hl_json_string(v) && hl_json_string_len(v) == 0);
	/* raw UTF-8 passes through: 中文 and an emoji */
	v = parse("\"\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\"");
	T_EQ_STR(hl_json_string(v), "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80");
}

static void test_string_rejects(void)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"\"\\u0000\"", "json: \\u0000 not allowed in strings at offset 2"},
		{"\"\\ud83d\"", "json: lone high surrogate at offset 2"},
		{"\"\\ud83dx\"", "json: lone high surrogate at offset 2"},
		{"\"\\ud83d\\u0041\"", "json: lone high surrogate at offset 2"},
		{"\"\\ud83d\\ud83d\"", "json: lone high surrogate at offset 2"},
		{"\"\\ude00\"", "json: lone low surrogate at offset 2"},
		{"\"\\u12\"", "json: short \\u escape at offset 2"},
		{"\"\\u12g4\"", "json: bad \\u escape at offset 2"},
		{"\"\\x\"", "json: bad escape at offset 2"},
		{"\"\\'\"", "json: bad escape at offset 2"},
		{"\"a\tb\"", "json: control character in string at offset 2"},
		{"\"abc", "json: unterminated string at offset 0"},
		{"\"abc\\", "json: unterminated string at offset 0"},
		{"\"abc\\\"", "json: unterminated string at offset 0"},
		{"'abc'", "json: unexpected character at offset 0"},
		{"\"\xc0\x80\"", "json: invalid UTF-8 at offset 1"},      /* overlong NUL */
		{"\"\xe0\x80\xaf\"", "json: invalid UTF-8 at offset 1"},  /* overlong '/' */
		{"\"\xed\xa0\x80\"", "json: invalid UTF-8 at offset 1"},  /* surrogate */
		{"\"\xf4\x90\x80\x80\"", "json: invalid UTF-8 at offset 1"}, /* > U+10FFFF */
		{"\"\xf5\x80\x80\x80\"", "json: invalid UTF-8 at offset 1"},
		{"\"\xe4\xb8\"", "json: invalid UTF-8 at offset 1"},      /* truncated */
		{"\"\x80\"", "json: invalid UTF-8 at offset 1"},          /* lone continuation */
		{"\"\xff\"", "json: invalid UTF-8 at offset 1"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		hl_error err = {0};
		T_EQ_INT(parse_status(bad[k].text, strlen(bad[k].text), &err), HL_INVALID);
		T_EQ_STR(err.msg, bad[k].msg);
	}
	/* a NUL byte in the input is a control character, not an end */
	hl_error err = {0};
	T_EQ_INT(parse_status("\"a\0b\"", 5, &err), HL_INVALID);
	T_EQ_STR(err.msg, "json: control character in string at offset 2");
}

static void test_arrays(void)
{
	hl_json *v = parse("[1, \"two\", [true, null], {}, []]");
	T_ASSERT(v && hl_json_typeof(v) == HL_JSON_ARRAY);
	T_EQ_INT(hl_json_array_len(v), 5);
	int64_t i;
	T_ASSERT(hl_json_int64(hl_json_array_item(v, 0), &i) && i == 1);
	T_EQ_STR(hl_json_string(hl_json_array_item(v, 1)), "two");
	const hl_json *inner = hl_json_array_item(v, 2);
	T_EQ_INT(hl_json_array_len(inner), 2);
	T_ASSERT(hl_json_is_null(hl_json_array_item(inner, 1)));
	T_EQ_INT(hl_json_typeof(hl_json_array_item(v, 3)), HL_JSON_OBJECT);
	T_EQ_INT(hl_json_object_len(hl_json_array_item(v, 3)), 0);
	T_EQ_INT(hl_json_array_len(hl_json_array_item(v, 4)), 0);
	T_ASSERT(hl_json_array_item(v, 5) == NULL);
	T_ASSERT(parse("[ ]") && hl_json_array_len(parse("[ ]")) == 0);
	static const char *bad[] = {"[", "[1", "[1,", "[1,]", "[,1]", "[1 2]", "[1;2]", "]"};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
		if (parse(bad[k]))
			T_FAILF("accepted %s", bad[k]);
}

static void test_objects_keep_order_and_look_up(void)
{
	hl_json *v = parse("{\"z\":1,\"a\":{\"b\":[\"x\"]},\"m\":\"s\",\"\":0,\"\\u00e9\":true}");
	T_ASSERT(v && hl_json_typeof(v) == HL_JSON_OBJECT);
	T_EQ_INT(hl_json_object_len(v), 5);
	const char *order[] = {"z", "a", "m", "", "\xc3\xa9"};
	for (size_t k = 0; k < 5; k++) {
		const char *key = NULL;
		T_ASSERT(hl_json_object_item(v, k, &key) != NULL);
		T_EQ_STR(key, order[k]);
	}
	T_ASSERT(hl_json_object_item(v, 5, NULL) == NULL);
	T_EQ_STR(hl_json_string(hl_json_array_item(hl_json_get(hl_json_get(v, "a"), "b"), 0)), "x");
	T_EQ_STR(hl_json_string(hl_json_get(v, "m")), "s");
	T_ASSERT(hl_json_get(v, "") != NULL);
	T_ASSERT(hl_json_get(v, "\xc3\xa9") != NULL);
	T_ASSERT(hl_json_get(v, "missing") == NULL);
	T_ASSERT(hl_json_get(v, "Z") == NULL);
	static const char *bad[] = {"{", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{a:1}", "{1:1}",
				    "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{,}", "{'a':1}"};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
		if (parse(bad[k]))
			T_FAILF("accepted %s", bad[k]);
}

static void test_duplicate_keys(void)
{
	hl_error err = {0};
	const char *t = "{\"a\":1,\"b\":2,\"a\":3}";
	T_EQ_INT(parse_status(t, strlen(t), &err), HL_INVALID);
	T_EQ_STR(err.msg, "json: duplicate key in object at offset 0");
	/* same key through an escape */
	t = "[0,{\"a\":1,\"\\u0061\":2}]";
	T_EQ_INT(parse_status(t, strlen(t), &err), HL_INVALID);
	T_EQ_STR(err.msg, "json: duplicate key in object at offset 3");
	/* the same key in different objects is fine */
	T_ASSERT(parse("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"));
}

/* {"k<perm(0)>":0,...} with n keys in a scrambled order, plus extra if given. */
static char *many_keys(int n, const char *extra, size_t *len)
{
	size_t cap = 32 * (size_t)n + 64, used = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	used += (size_t)snprintf(s, cap, "{");
	for (int k = 0; k < n; k++)
		used += (size_t)snprintf(s + used, cap - used, "%s\"k%d\":%d", k ? "," : "",
					 k * 7919 % n, k);
	used += (size_t)snprintf(s + used, cap - used, "%s}", extra ? extra : "");
	*len = used;
	return s;
}

static void test_many_keys(void)
{
	size_t len;
	char *s = many_keys(2000, NULL, &len);
	T_ASSERT(s);
	hl_json *v = NULL;
	hl_status st = hl_json_parse(A, s, len, &v, NULL);
	free(s);
	T_EQ_INT(st, HL_OK);
	T_EQ_INT(hl_json_object_len(v), 2000);
	for (int k = 0; k < 2000; k++) {
		char key[16];
		int64_t i = -1;
		snprintf(key, sizeof key, "k%d", k * 7919 % 2000);
		if (!hl_json_int64(hl_json_get(v, key), &i) || i != k)
			T_FAILF("lookup of %s gave %lld", key, (long long)i);
	}
	T_ASSERT(hl_json_get(v, "k2000") == NULL);

	hl_error err = {0};
	s = many_keys(2000, ",\"k1234\":null", &len);
	T_ASSERT(s);
	st = hl_json_parse(A, s, len, &v, &err);
	free(s);
	T_EQ_INT(st, HL_INVALID);
	T_EQ_STR(err.msg, "json: duplicate key in object at offset 0");
}

static void test_depth_limit(void)
{
	char s[2 * (HL_JSON_MAX_DEPTH + 1) + 1];
	for (int k = 0; k < HL_JSON_MAX_DEPTH; k++) {
		s[k] = '[';
		s[2 * HL_JSON_MAX_DEPTH - 1 - k] = ']';
	}
	hl_json *v;
	T_EQ_INT(hl_json_parse(A, s, 2 * HL_JSON_MAX_DEPTH, &v, NULL), HL_OK);
	for (int k = 0; k <= HL_JSON_MAX_DEPTH; k++) {
		s[k] = '[';
		s[2 * HL_JSON_MAX_DEPTH + 1 - k] = ']';
	}
	hl_error err = {0};
	T_EQ_INT(hl_json_parse(A, s, 2 * HL_JSON_MAX_DEPTH + 2, &v, &err), HL_OUT_OF_RANGE);
	T_EQ_STR(err.msg, "json: nesting deeper than 64 at offset 64");
	/* objects count too */
	char o[6 * (HL_JSON_MAX_DEPTH + 1) + 8];
	size_t n = 0;
	for (int k = 0; k <= HL_JSON_MAX_DEPTH; k++)
		n += (size_t)snprintf(o + n, sizeof o - n, "{\"a\":");
	T_EQ_INT(hl_json_parse(A, o, n, &v, NULL), HL_OUT_OF_RANGE);
}

static void test_size_limit(void)
{
	size_t len = HL_JSON_MAX_SIZE + 1;
	char *s = malloc(len);
	T_ASSERT(s);
	memset(s, ' ', len);
	s[0] = '1';
	hl_json *v;
	hl_error err = {0};
	hl_status st = hl_json_parse(A, s, len, &v, &err);
	hl_status st2 = hl_json_parse(A, s, len - 1, &v, NULL);
	free(s);
	T_EQ_INT(st, HL_OUT_OF_RANGE);
	T_EQ_STR(err.msg, "json: document larger than 1048576 bytes");
	T_EQ_INT(st2, HL_OK);
}

static void test_document_level_rejects(void)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"", "json: value expected at end of input"},
		{"   ", "json: value expected at end of input"},
		{"1 2", "json: trailing characters at offset 2"},
		{"{} x", "json: trailing characters at offset 3"},
		{"\xef\xbb\xbf{}", "json: unexpected character at offset 0"}, /* BOM */
		{"/* c */ 1", "json: unexpected character at offset 0"},
		{"[1] // c", "json: trailing characters at offset 4"},
		{"\v1", "json: unexpected character at offset 0"},
		{"\xc2\xa0" "1", "json: unexpected character at offset 0"}, /* NBSP */
	};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		hl_error err = {0};
		T_EQ_INT(parse_status(bad[k].text, strlen(bad[k].text), &err), HL_INVALID);
		T_EQ_STR(err.msg, bad[k].msg);
	}
	hl_error err = {0};
	T_EQ_INT(parse_status("1\0", 2, &err), HL_INVALID);
	T_EQ_STR(err.msg, "json: trailing characters at offset 1");
}

static void test_length_not_nul(void)
{
	/* only len bytes are read: the text need not be NUL-terminated */
	const char text[] = {'{', '"', 'a', '"', ':', '"', 'b', '"', '}', 'X', 'X'};
	hl_json *v;
	T_EQ_INT(hl_json_parse(A, text, 9, &v, NULL), HL_OK);
	T_EQ_STR(hl_json_string(hl_json_get(v, "a")), "b");
	T_EQ_INT(hl_json_parse(A, text, 8, &v, NULL), HL_INVALID);
	T_EQ_INT(hl_json_parse(A, "\"abc\"", 3, &v, NULL), HL_INVALID);
	T_EQ_INT(hl_json_parse(A, "123", 2, &v, NULL), HL_OK);
	int64_t i;
	T_ASSERT(hl_json_int64(v, &i) && i == 12);
}

static void test_accessors_tolerate_wrong_types(void)
{
	hl_json *v = parse("{\"s\":\"x\",\"n\":1.5,\"a\":[1]}");
	T_ASSERT(v);
	const hl_json *s = hl_json_get(v, "s"), *n = hl_json_get(v, "n"), *a = hl_json_get(v, "a");
	bool b;
	double d;
	int64_t i;
	T_ASSERT(!hl_json_bool(s, &b) && !hl_json_number(s, &d) && !hl_json_int64(s, &i));
	T_ASSERT(hl_json_string(n) == NULL && hl_json_string_len(n) == 0);
	T_ASSERT(!hl_json_int64(n, &i));
	T_ASSERT(hl_json_array_len(v) == 0 && hl_json_array_item(v, 0) == NULL);
	T_ASSERT(hl_json_object_len(a) == 0 && hl_json_object_item(a, 0, NULL) == NULL);
	T_ASSERT(hl_json_get(a, "x") == NULL && hl_json_get(NULL, "x") == NULL);
	T_ASSERT(hl_json_get(v, NULL) == NULL);
	T_ASSERT(hl_json_string(NULL) == NULL && !hl_json_is_null(NULL));
	T_ASSERT(hl_json_string(hl_json_get(hl_json_get(v, "nope"), "deeper")) == NULL);
}

int main(void)
{
	A = hl_arena_new();
	if (!A)
		return 1;
	T_RUN(test_literals);
	T_RUN(test_numbers);
	T_RUN(test_string_escapes);
	T_RUN(test_string_rejects);
	T_RUN(test_arrays);
	T_RUN(test_objects_keep_order_and_look_up);
	T_RUN(test_duplicate_keys);
	T_RUN(test_many_keys);
	T_RUN(test_depth_limit);
	T_RUN(test_size_limit);
	T_RUN(test_document_level_rejects);
	T_RUN(test_length_not_nul);
	T_RUN(test_accessors_tolerate_wrong_types);
	hl_arena_free(A);
	return T_DONE();
}
