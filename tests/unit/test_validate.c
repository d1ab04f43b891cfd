/*
 * test_validate.c - unit tests of the wire-format validator (validate.c),
 * using the messages of proto/hotline/testing/v1/testing.proto.
 *
 * Valid messages are made with protobuf-c's packer; invalid ones are
 * hand-crafted byte by byte with the small writer below.
 */
#include "hl/validate.h"

#include <stdlib.h>
#include <string.h>

#include "hotline/testing/v1/testing.pb-c.h"
#include "t.h"

#define SAMPLE (&hotline__testing__v1__sample__descriptor)

/* A tiny protobuf writer for hand-crafted encodings. */
struct w {
	uint8_t b[16384];
	size_t n;
};

static void w_byte(struct w *w, uint8_t c)
{
	if (w->n < sizeof w->b)
		w->b[w->n++] = c;
}

static void w_varint(struct w *w, uint64_t v)
{
	while (v >= 0x80) {
		w_byte(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	w_byte(w, (uint8_t)v);
}

static void w_tag(struct w *w, uint32_t field, unsigned wt)
{
	w_varint(w, ((uint64_t)field << 3) | wt);
}

static void w_bytes(struct w *w, uint32_t field, const void *p, size_t n)
{
	w_tag(w, field, 2);
	w_varint(w, n);
	for (size_t i = 0; i < n; i++)
		w_byte(w, ((const uint8_t *)p)[i]);
}

static void w_str(struct w *w, uint32_t field, const char *s)
{
	w_bytes(w, field, s, strlen(s));
}

static void w_sub(struct w *w, uint32_t field, const struct w *sub)
{
	w_bytes(w, field, sub->b, sub->n);
}

static hl_status check(const struct w *w, hl_error *err)
{
	hl_error_clear(err);
	return hl_validate_wire(SAMPLE, w->b, w->n, NULL, err);
}

/* Sample with only topic = the n bytes at s. */
static hl_status check_topic(const char *s, size_t n, hl_error *err)
{
	struct w w = {.n = 0};
	w_bytes(&w, 1, s, n);
	return check(&w, err);
}

static void test_valid_packed_message(void)
{
	Hotline__Testing__V1__Sample m = HOTLINE__TESTING__V1__SAMPLE__INIT;
	Hotline__Testing__V1__Person caller = HOTLINE__TESTING__V1__PERSON__INIT;
	Hotline__Testing__V1__Person p1 = HOTLINE__TESTING__V1__PERSON__INIT;
	Hotline__Testing__V1__Person p2 = HOTLINE__TESTING__V1__PERSON__INIT;
	Hotline__Testing__V1__Person *people[] = {&p1, &p2};
	Hotline__Testing__V1__Sample__LabelsEntry l1 =
		HOTLINE__TESTING__V1__SAMPLE__LABELS_ENTRY__INIT;
	Hotline__Testing__V1__Sample__LabelsEntry *labels[] = {&l1};
	Hotline__Testing__V1__Node leaf = HOTLINE__TESTING__V1__NODE__INIT;
	Hotline__Testing__V1__Node root = HOTLINE__TESTING__V1__NODE__INIT;
	char *tags[] = {"urgent", "工单", "\xf0\x9f\x98\x80 emoji"};
	int64_t numbers[] = {1, -1, 300, INT64_MAX};
	uint32_t codes[] = {7, 8};
	uint8_t blob[] = {0, 0xff, 0xc0, 0x80, 0};

	m.topic = "路灯不亮 street light";
	m.blob.data = blob;
	m.blob.len = sizeof blob;
	m.n_tags = 3;
	m.tags = tags;
	caller.name = "Zhang San";
	caller.phone = "13800000000";
	caller.photo.data = blob;
	caller.photo.len = sizeof blob;
	caller.age = 42;
	m.caller = &caller;
	p1.name = "a";
	p2.name = "b";
	m.n_people = 2;
	m.people = people;
	m.count = -5;
	m.color = HOTLINE__TESTING__V1__COLOR__COLOR_GREEN;
	l1.key = "区";
	l1.value = "海淀";
	m.n_labels = 1;
	m.labels = labels;
	m.n_numbers = 4;
	m.numbers = numbers;
	m.n_codes = 2;
	m.codes = codes;
	m.ratio = 0.5;
	m.stamp = 123456789;
	m.flag = 1;
	leaf.label = "leaf";
	root.label = "root";
	root.child = &leaf;
	m.tree = &root;
	m.choice_case = HOTLINE__TESTING__V1__SAMPLE__CHOICE_NOTE;
	m.note = "note";

	size_t len = hotline__testing__v1__sample__get_packed_size(&m);
	uint8_t *buf = malloc(len);
	T_ASSERT(buf != NULL);
	T_EQ_INT(hotline__testing__v1__sample__pack(&m, buf), len);
	hl_error err;
	hl_status st = hl_validate_wire(SAMPLE, buf, len, NULL, &err);
	free(buf);
	T_EQ_INT(st, HL_OK);
}

static void test_empty_message_and_bad_arguments(void)
{
	hl_error err;
	T_EQ_INT(hl_validate_wire(SAMPLE, NULL, 0, NULL, &err), HL_OK);
	T_EQ_INT(hl_validate_wire(NULL, (const uint8_t *)"", 0, NULL, &err), HL_INVALID);
	T_EQ_INT(hl_validate_wire(SAMPLE, NULL, 3, NULL, NULL), HL_INVALID);
}

static void test_valid_utf8_edges(void)
{
	static const char *const ok[] = {
		"plain ascii that is longer than eight bytes",
		"\xc2\x80",                     /* U+0080, first 2-byte */
		"\xdf\xbf",                     /* U+07FF */
		"\xe0\xa0\x80",                 /* U+0800, first 3-byte */
		"\xed\x9f\xbf",                 /* U+D7FF, just below surrogates */
		"\xee\x80\x80",                 /* U+E000, just above surrogates */
		"\xef\xbf\xbf",                 /* U+FFFF */
		"\xf0\x90\x80\x80",             /* U+10000, first 4-byte */
		"\xf4\x8f\xbf\xbf",             /* U+10FFFF, the last code point */
		"热线工单 hotline work order 12345678",
	};
	hl_error err;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		hl_status st = check_topic(ok[i], strlen(ok[i]), &err);
		if (st != HL_OK)
			T_FAILF("case %zu rejected: %s", i, err.msg);
	}
}

static void test_invalid_utf8(void)
{
	static const char *const bad[] = {
		"\xc3\x28",                     /* bad continuation */
		"\x80",                         /* lone continuation */
		"abc\xe4\xb8",                  /* truncated at the end */
		"\xc0\xaf",                     /* overlong '/' (2 bytes) */
		"\xc1\xbf",                     /* overlong (2 bytes) */
		"\xe0\x80\xaf",                 /* overlong '/' (3 bytes) */
		"\xe0\x9f\xbf",                 /* overlong U+07FF (3 bytes) */
		"\xf0\x80\x80\xaf",             /* overlong '/' (4 bytes) */
		"\xf0\x8f\xbf\xbf",             /* overlong U+FFFF (4 bytes) */
		"\xed\xa0\x80",                 /* U+D800 high surrogate */
		"\xed\xbf\xbf",                 /* U+DFFF low surrogate */
		"\xed\xa0\xbd\xed\xb8\x80",     /* CESU-8 surrogate pair */
		"\xf4\x90\x80\x80",             /* U+110000 */
		"\xf5\x80\x80\x80",             /* lead byte beyond range */
		"\xff",
		"\xfe",
		"12345678\xe6\x97",             /* truncated after the fast path */
		"\xe6\x97\x41",                 /* bad third byte */
		"\xf0\x9f\x98",                 /* truncated 4-byte */
		"\xf0\x9f\x98\x28",             /* bad fourth byte */
	};
	hl_error err;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		hl_status st = check_topic(bad[i], strlen(bad[i]), &err);
		if (st != HL_INVALID)
			T_FAILF("case %zu accepted", i);
		if (strcmp(err.msg, "topic: invalid UTF-8") != 0)
			T_FAILF("case %zu: message \"%s\"", i, err.msg);
	}
}

static void test_embedded_nul(void)
{
	hl_error err;
	/* protobuf-c itself would silently truncate this to "abc" */
	T_EQ_INT(check_topic("abc\0def", 7, &err), HL_INVALID);
	T_EQ_STR(err.msg, "topic: contains NUL byte");
	T_EQ_INT(check_topic("\0", 1, &err), HL_INVALID);
	T_EQ_STR(err.msg, "topic: contains NUL byte");
	T_EQ_INT(check_topic("0123456789abcde\0", 16, &err), HL_INVALID);
	T_EQ_STR(err.msg, "topic: contains NUL byte");
	/* the first fault wins */
	T_EQ_INT(check_topic("a\xff\0", 3, &err), HL_INVALID);
	T_EQ_STR(err.msg, "topic: invalid UTF-8");
}

static void test_protobuf_c_truncates_at_nul(void)
{
	/* the reason this module exists: unpack accepts it and loses "def" */
	struct w w = {.n = 0};
	w_bytes(&w, 1, "abc\0def", 7);
	Hotline__Testing__V1__Sample *m = hotline__testing__v1__sample__unpack(NULL, w.n, w.b);
	T_ASSERT(m != NULL);
	size_t n = strlen(m->topic);
	hotline__testing__v1__sample__free_unpacked(m, NULL);
	T_EQ_INT(n, 3);
}

static void test_string_length_limit(void)
{
	char big[4097];
	memset(big, 'x', sizeof big);
	struct w w = {.n = 0};
	hl_error err;

	w_str(&w, 3, "a");
	w_str(&w, 3, "b");
	w_str(&w, 3, "c");
	w_bytes(&w, 3, big, 4096);      /* tags[3]: exactly at the limit */
	T_EQ_INT(check(&w, &err), HL_OK);

	w.n = 0;
	w_str(&w, 3, "a");
	w_str(&w, 3, "b");
	w_str(&w, 3, "c");
	w_bytes(&w, 3, big, 4097);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "tags[3]: too long (max 4096 bytes)");

	hl_validate_limits lim = hl_validate_limits_default();
	lim.max_string_bytes = 10;
	w.n = 0;
	w_str(&w, 1, "0123456789");
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_OK);
	w.n = 0;
	w_str(&w, 1, "0123456789a");
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "topic: too long (max 10 bytes)");
}

static void test_override_by_full_name(void)
{
	static const hl_validate_override ov[] = {
		{"hotline.testing.v1.Person.name", 5},
		{"hotline.testing.v1.Sample.blob", 2},
	};
	hl_validate_limits lim = hl_validate_limits_default();
	lim.overrides = ov;
	lim.n_overrides = 2;
	struct w w = {.n = 0}, p = {.n = 0};
	hl_error err;

	w_str(&p, 1, "abcdef");
	w_str(&p, 2, "abcdef");         /* phone: no override */
	w_sub(&w, 4, &p);
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "caller.name: too long (max 5 bytes)");

	p.n = 0;
	w.n = 0;
	w_str(&p, 1, "abcde");
	w_str(&p, 2, "abcdefghijk");
	w_sub(&w, 4, &p);
	w_str(&w, 1, "a topic longer than five");
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_OK);

	w.n = 0;
	w_bytes(&w, 2, "abc", 3);
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "blob: too long (max 2 bytes)");
}

static void test_nested_and_repeated_paths(void)
{
	struct w w = {.n = 0}, p = {.n = 0};
	hl_error err;

	w_str(&p, 1, "\xc0\x80");       /* overlong NUL in caller.name */
	w_sub(&w, 4, &p);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "caller.name: invalid UTF-8");

	w.n = 0;
	for (int i = 0; i < 3; i++) {
		p.n = 0;
		w_str(&p, 1, "ok");
		if (i == 2)
			w_bytes(&p, 2, "138\0", 4);
		w_sub(&w, 5, &p);
	}
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "people[2].phone: contains NUL byte");

	/* interleaved repeated fields keep their own counters */
	w.n = 0;
	w_str(&w, 3, "t0");
	p.n = 0;
	w_sub(&w, 5, &p);
	w_str(&w, 3, "t1");
	w_bytes(&w, 3, "\xed\xa0\x80", 3);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "tags[2]: invalid UTF-8");

	/* oneof members */
	w.n = 0;
	w_bytes(&w, 15, "\xf4\x90\x80\x80", 4);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "note: invalid UTF-8");
	w.n = 0;
	p.n = 0;
	w_bytes(&p, 2, "x\0", 2);
	w_sub(&w, 16, &p);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "contact.phone: contains NUL byte");
}

static void test_map_entries(void)
{
	struct w w = {.n = 0}, e = {.n = 0};
	hl_error err;

	w_str(&e, 1, "k0");
	w_str(&e, 2, "v0");
	w_sub(&w, 8, &e);
	e.n = 0;
	w_str(&e, 1, "k1");
	w_bytes(&e, 2, "\xe0\x80\x80", 3);
	w_sub(&w, 8, &e);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "labels[1].value: invalid UTF-8");

	w.n = 0;
	e.n = 0;
	w_bytes(&e, 1, "k\0", 2);
	w_str(&e, 2, "v");
	w_sub(&w, 8, &e);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "labels[0].key: contains NUL byte");

	hl_validate_limits lim = hl_validate_limits_default();
	lim.max_repeated = 2;
	w.n = 0;
	for (int i = 0; i < 3; i++) {
		e.n = 0;
		w_str(&e, 1, "k");
		w_sub(&w, 8, &e);
	}
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "labels: too many elements (max 2)");
}

/* Encode a Node chain of the given depth (the outer Sample not counted). */
static size_t pack_tree(unsigned depth, uint8_t **out)
{
	Hotline__Testing__V1__Node *nodes = calloc(depth, sizeof *nodes);
	for (unsigned i = 0; i < depth; i++) {
		hotline__testing__v1__node__init(&nodes[i]);
		nodes[i].label = "n";
		nodes[i].child = i + 1 < depth ? &nodes[i + 1] : NULL;
	}
	Hotline__Testing__V1__Sample m = HOTLINE__TESTING__V1__SAMPLE__INIT;
	m.tree = &nodes[0];
	size_t len = hotline__testing__v1__sample__get_packed_size(&m);
	*out = malloc(len);
	hotline__testing__v1__sample__pack(&m, *out);
	free(nodes);
	return len;
}

static void test_depth_limit(void)
{
	hl_validate_limits lim = hl_validate_limits_default();
	hl_error err;
	uint8_t *buf;
	size_t len;

	lim.max_depth = 4;              /* Sample > tree > child > child */
	len = pack_tree(3, &buf);
	hl_status st = hl_validate_wire(SAMPLE, buf, len, &lim, &err);
	free(buf);
	T_EQ_INT(st, HL_OK);

	len = pack_tree(4, &buf);
	st = hl_validate_wire(SAMPLE, buf, len, &lim, &err);
	free(buf);
	T_EQ_INT(st, HL_INVALID);
	T_EQ_STR(err.msg, "tree.child.child.child: nested too deeply (max 4 levels)");

	len = pack_tree(200, &buf);
	st = hl_validate_wire(SAMPLE, buf, len, NULL, &err);
	free(buf);
	T_EQ_INT(st, HL_INVALID);
	T_ASSERT(strstr(err.msg, "nested too deeply (max 32 levels)") != NULL);
	T_ASSERT(strncmp(err.msg, "tree.child.child.", 17) == 0);

	lim.max_depth = 1000000;        /* capped, so no stack overflow */
	len = pack_tree(5000, &buf);
	st = hl_validate_wire(SAMPLE, buf, len, &lim, &err);
	free(buf);
	T_EQ_INT(st, HL_INVALID);
	T_ASSERT(strstr(err.msg, "nested too deeply (max 100 levels)") != NULL);
}

static void test_truncated_and_overlong_varints(void)
{
	struct w w = {.n = 0};
	hl_error err;

	w_tag(&w, 6, 0);
	w_byte(&w, 0x80);               /* count: continuation, then the end */
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "count: truncated or overlong varint");

	w.n = 0;
	w_tag(&w, 6, 0);
	for (int i = 0; i < 9; i++)
		w_byte(&w, 0xff);
	w_byte(&w, 0x01);               /* 10 bytes: the longest allowed */
	T_EQ_INT(check(&w, &err), HL_OK);

	w.n = 0;
	w_tag(&w, 6, 0);
	for (int i = 0; i < 10; i++)
		w_byte(&w, 0x80);
	w_byte(&w, 0x00);               /* 11 bytes */
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "count: truncated or overlong varint");

	w.n = 0;
	w_byte(&w, 0x80);               /* a tag cut short */
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "message: truncated or malformed tag");

	w.n = 0;
	w_tag(&w, 1, 2);
	w_varint(&w, 10);
	w_byte(&w, 'a');                /* length 10, one byte present */
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "topic: truncated value");

	w.n = 0;
	w_tag(&w, 1, 2);
	w_varint(&w, UINT64_MAX);       /* absurd length must not wrap */
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "topic: truncated value");

	w.n = 0;
	w_tag(&w, 12, 1);
	for (int i = 0; i < 7; i++)
		w_byte(&w, 1);          /* fixed64 with 7 bytes */
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "stamp: truncated value");

	w.n = 0;
	w_tag(&w, 12, 1);
	for (int i = 0; i < 8; i++)
		w_byte(&w, 1);
	T_EQ_INT(check(&w, &err), HL_OK);
}

static void test_wire_types(void)
{
	struct w w = {.n = 0}, p = {.n = 0};
	hl_error err;

	w_tag(&w, 1, 3);                /* group start */
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "topic: groups are not supported");

	w.n = 0;
	w_tag(&w, 99, 4);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "#99: groups are not supported");

	w.n = 0;
	w_tag(&w, 6, 6);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "count: invalid wire type 6");

	w.n = 0;
	w_tag(&w, 99, 7);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "#99: invalid wire type 7");

	w.n = 0;
	w_tag(&w, 1, 0);                /* string as a varint */
	w_varint(&w, 5);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "topic: wrong wire type");

	w.n = 0;
	w_str(&w, 6, "x");              /* int64 as length-delimited */
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "count: wrong wire type");

	w.n = 0;
	w_tag(&w, 11, 5);               /* double as fixed32 */
	w_byte(&w, 0); w_byte(&w, 0); w_byte(&w, 0); w_byte(&w, 0);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "ratio: wrong wire type");

	w.n = 0;
	w_tag(&p, 4, 1);                /* caller.age (int32) as fixed64 */
	for (int i = 0; i < 8; i++)
		w_byte(&p, 0);
	w_sub(&w, 4, &p);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "caller.age: wrong wire type");

	w.n = 0;
	w_tag(&w, 0, 0);                /* field number 0 */
	w_varint(&w, 1);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "message: invalid field number");

	w.n = 0;
	p.n = 0;
	w_byte(&p, 0x0a);
	w_byte(&p, 0x05);               /* caller.name: length past the end of caller */
	w_byte(&p, 'a');
	w_sub(&w, 4, &p);
	w_str(&w, 1, "more bytes after the nested message");
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "caller.name: truncated value");

	w.n = 0;
	p.n = 0;
	w_byte(&p, 0xff);               /* caller: truncated tag inside */
	w_sub(&w, 4, &p);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "caller: truncated or malformed tag");
}

/* Unknown fields are bounded in number and in bytes over the whole message (nested too). */
static void test_unknown_fields_capped(void)
{
	struct w w = {.n = 0}, p = {.n = 0};
	hl_error err;

	for (unsigned i = 0; i < HL_VALIDATE_MAX_UNKNOWN_FIELDS; i++) {
		w_tag(&w, 1000 + i, 0);
		w_varint(&w, 1);
	}
	T_EQ_INT(check(&w, &err), HL_OK);
	w_tag(&w, 2000, 0);
	w_varint(&w, 1);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "#2000: unknown field 2000: too many unknown fields (max 64 fields, 65536 bytes)");

	w.n = 0; /* counted across nesting: 40 at the top, 30 in caller */
	for (unsigned i = 0; i < 40; i++) {
		w_tag(&w, 1000 + i, 0);
		w_varint(&w, 1);
	}
	for (unsigned i = 0; i < 30; i++) {
		w_tag(&p, 1000 + i, 0);
		w_varint(&p, 1);
	}
	w_sub(&w, 4, &p);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "caller.#1024: unknown field 1024: too many unknown fields (max 64 fields, 65536 bytes)");

	hl_validate_limits lim = hl_validate_limits_default();
	lim.max_unknown_bytes = 10; /* bytes: one 3-byte unknown field is fine, four are not */
	w.n = 0;
	w_bytes(&w, 100, "x", 1);
	hl_error_clear(&err);
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_OK);
	for (int i = 0; i < 3; i++)
		w_bytes(&w, 100, "x", 1);
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "#100: unknown field 100: too many unknown fields (max 64 fields, 10 bytes)");
}

static void test_unknown_fields(void)
{
	struct w w = {.n = 0}, p = {.n = 0};
	hl_error err;

	w_tag(&w, 99, 0);
	w_varint(&w, 12345);
	w_bytes(&w, 100, "\xff\xfe\0", 3);       /* unknown: no UTF-8 check */
	w_tag(&w, 101, 5);
	for (int i = 0; i < 4; i++)
		w_byte(&w, 0xff);
	w_tag(&p, 77, 1);
	for (int i = 0; i < 8; i++)
		w_byte(&p, 0);
	w_sub(&w, 4, &p);
	w_str(&w, 1, "topic");
	T_EQ_INT(check(&w, &err), HL_OK);

	w.n = 0;
	w_tag(&w, 99, 2);
	w_varint(&w, 4);
	w_byte(&w, 'x');
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "#99: truncated value");

	hl_validate_limits lim = hl_validate_limits_default();
	lim.max_bytes = 2;
	w.n = 0;
	w_bytes(&w, 99, "abc", 3);
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "#99: too long (max 2 bytes)");

	w.n = 0;
	p.n = 0;
	w_tag(&p, 78, 0);
	w_byte(&p, 0x80);
	w_sub(&w, 4, &p);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "caller.#78: truncated or overlong varint");
}

static void test_repeated_limits_and_packed(void)
{
	hl_validate_limits lim = hl_validate_limits_default();
	lim.max_repeated = 3;
	struct w w = {.n = 0}, pk = {.n = 0};
	hl_error err;

	for (int i = 0; i < 3; i++)
		w_str(&w, 3, "t");
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_OK);
	w_str(&w, 3, "t");
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "tags: too many elements (max 3)");

	/* packed int64: 3 elements fit, a 4th in a second run does not */
	w.n = 0;
	w_varint(&pk, 1);
	w_varint(&pk, 300);
	w_varint(&pk, UINT64_MAX);
	w_sub(&w, 9, &pk);
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_OK);
	w_tag(&w, 9, 0);                /* unpacked element of the same field */
	w_varint(&w, 2);
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "numbers: too many elements (max 3)");

	w.n = 0;
	pk.n = 0;
	for (int i = 0; i < 4; i++)
		w_varint(&pk, 1);
	w_sub(&w, 9, &pk);
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "numbers: too many elements (max 3)");

	w.n = 0;
	pk.n = 0;
	w_varint(&pk, 1);
	w_byte(&pk, 0x80);              /* unfinished packed varint */
	w_sub(&w, 9, &pk);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "numbers[0]: malformed packed values");

	w.n = 0;
	w_bytes(&w, 10, "\1\0\0\0\2\0\0\0", 8);  /* packed fixed32 x2 */
	T_EQ_INT(check(&w, &err), HL_OK);
	w.n = 0;
	w_bytes(&w, 10, "\1\0\0\0\2", 5);
	T_EQ_INT(check(&w, &err), HL_INVALID);
	T_EQ_STR(err.msg, "codes[0]: malformed packed values");

	/* repeated nested messages are counted too */
	w.n = 0;
	for (int i = 0; i < 4; i++) {
		pk.n = 0;
		w_sub(&w, 5, &pk);
	}
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "people: too many elements (max 3)");
}

static void test_bytes_fields_not_utf8_checked(void)
{
	struct w w = {.n = 0}, p = {.n = 0};
	hl_error err;
	w_bytes(&w, 2, "\xff\0\xc0\x80", 4);
	w_bytes(&p, 3, "\0\0\xed\xa0\x80", 5);
	w_sub(&w, 4, &p);
	T_EQ_INT(check(&w, &err), HL_OK);

	hl_validate_limits lim = hl_validate_limits_default();
	lim.max_bytes = 4;
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, &lim, &err), HL_INVALID);
	T_EQ_STR(err.msg, "caller.photo: too long (max 4 bytes)");
}

static void test_null_err_is_allowed(void)
{
	struct w w = {.n = 0};
	w_bytes(&w, 1, "\xff", 1);
	T_EQ_INT(hl_validate_wire(SAMPLE, w.b, w.n, NULL, NULL), HL_INVALID);
}

int main(void)
{
	T_RUN(test_valid_packed_message);
	T_RUN(test_empty_message_and_bad_arguments);
	T_RUN(test_valid_utf8_edges);
	T_RUN(test_invalid_utf8);
	T_RUN(test_embedded_nul);
	T_RUN(test_protobuf_c_truncates_at_nul);
	T_RUN(test_string_length_limit);
	T_RUN(test_override_by_full_name);
	T_RUN(test_nested_and_repeated_paths);
	T_RUN(test_map_entries);
	T_RUN(test_depth_limit);
	T_RUN(test_truncated_and_overlong_varints);
	T_RUN(test_wire_types);
	T_RUN(test_unknown_fields);
	T_RUN(test_unknown_fields_capped);
	T_RUN(test_repeated_limits_and_packed);
	T_RUN(test_bytes_fields_not_utf8_checked);
	T_RUN(test_null_err_is_allowed);
	return T_DONE();
}
