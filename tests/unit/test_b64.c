/*
 * test_b64.c - base64 / base64url: RFC 4648 vectors, alphabets, padding
 * rules, strict rejection and round trips.
 */
#include "hl/b64.h"

#include <stdint.h>
#include <string.h>

#include "t.h"

static hl_arena *A;

static const struct {
	const char *plain, *std, *url;
} vectors[] = {
	{"", "", ""},
	{"f", "Zg==", "Zg"},
	{"fo", "Zm8=", "Zm8"},
	{"foo", "Zm9v", "Zm9v"},
	{"foob", "Zm9vYg==", "Zm9vYg"},
	{"fooba", "Zm9vYmE=", "Zm9vYmE"},
	{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_rfc4648_encode(void)
{
	for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
		const char *p = vectors[i].plain;
		T_EQ_STR(hl_b64_encode(A, p, strlen(p)), vectors[i].std);
		T_EQ_STR(hl_b64url_encode(A, p, strlen(p)), vectors[i].url);
	}
}

static void test_rfc4648_decode_with_and_without_padding(void)
{
	for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
		const char *p = vectors[i].plain;
		const char *forms[] = {vectors[i].std, vectors[i].url};
		for (int f = 0; f < 2; f++) {
			unsigned char *out;
			size_t n;
			T_EQ_INT(hl_b64_decode(A, forms[f], strlen(forms[f]), &out, &n, NULL), HL_OK);
			T_EQ_INT(n, strlen(p));
			T_ASSERT(memcmp(out, p, n) == 0);
			T_EQ_INT(out[n], 0);
			T_EQ_INT(hl_b64url_decode(A, forms[f], strlen(forms[f]), &out, &n, NULL), HL_OK);
			T_EQ_STR((char *)out, p);
		}
	}
}

static void test_alphabets_differ(void)
{
	const unsigned char b[] = {0xfb, 0xff, 0xbf};
	T_EQ_STR(hl_b64_encode(A, b, 3), "+/+/");
	T_EQ_STR(hl_b64url_encode(A, b, 3), "-_-_");
	T_EQ_STR(hl_b64_encode(A, b, 2), "+/8=");
	T_EQ_STR(hl_b64url_encode(A, b, 2), "-_8");
	unsigned char *out;
	size_t n;
	hl_error err = {0};
	T_EQ_INT(hl_b64_decode(A, "-_-_", 4, &out, &n, &err), HL_INVALID);
	T_EQ_STR(err.msg, "base64: invalid character at offset 0");
	T_EQ_INT(hl_b64url_decode(A, "+/+/", 4, &out, &n, &err), HL_INVALID);
	T_EQ_STR(err.msg, "base64url: invalid character at offset 0");
	T_EQ_INT(hl_b64url_decode(A, "-_-_", 4, &out, &n, NULL), HL_OK);
	T_EQ_INT(n, 3);
	T_ASSERT(memcmp(out, b, 3) == 0);
}

static void test_rejects_invalid(void)
{
	static const char *bad[] = {
		"Zm9v YmFy", /* whitespace */
		"Zm9v\nYmFy",
		"Zm9v*mFy",
		"Zg=",      /* padding does not complete a group */
		"Zg===",    /* too much padding */
		"Zm9v=",
		"=",
		"====",
		"Zm=v",     /* padding inside */
		"Z",        /* impossible length */
		"Zm9vY",
		"Zh==",     /* non-zero trailing bits */
		"Zh",
		"Zm9=",
		"Zm9",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		unsigned char *out = NULL;
		size_t n = 12345;
		hl_error err = {0};
		if (hl_b64_decode(A, bad[i], strlen(bad[i]), &out, &n, &err) != HL_INVALID)
			T_FAILF("accepted \"%s\"", bad[i]);
		T_EQ_INT(err.status, HL_INVALID);
		T_ASSERT(out == NULL && n == 12345);
		if (hl_b64url_decode(A, bad[i], strlen(bad[i]), &out, &n, NULL) != HL_INVALID)
			T_FAILF("url accepted \"%s\"", bad[i]);
	}
}

static void test_decode_respects_length(void)
{
	unsigned char *out;
	size_t n;
	/* only the first 4 characters count; the rest would be invalid */
	T_EQ_INT(hl_b64_decode(A, "Zm9v!!!!", 4, &out, &n, NULL), HL_OK);
	T_EQ_STR((char *)out, "foo");
	char nul_inside[] = {'Z', 'm', '\0', 'v'};
	T_EQ_INT(hl_b64_decode(A, nul_inside, 4, &out, &n, NULL), HL_INVALID);
}

static void test_round_trip_all_lengths(void)
{
	unsigned char data[100];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof data; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (unsigned char)(x >> 16);
	}
	data[10] = 0; /* embedded NUL bytes survive */
	for (size_t len = 0; len <= sizeof data; len++) {
		char *s = hl_b64_encode(A, data, len);
		char *u = hl_b64url_encode(A, data, len);
		T_ASSERT(s && u);
		T_EQ_INT(strlen(s), (len + 2) / 3 * 4);
		T_EQ_INT(strlen(u), len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0));
		T_ASSERT(strchr(u, '=') == NULL && strchr(u, '+') == NULL && strchr(u, '/') == NULL);
		unsigned char *out;
		size_t n;
		T_EQ_INT(hl_b64_decode(A, s, strlen(s), &out, &n, NULL), HL_OK);
		T_EQ_INT(n, len);
		T_ASSERT(memcmp(out, data, len) == 0);
		T_EQ_INT(hl_b64url_decode(A, u, strlen(u), &out, &n, NULL), HL_OK);
		T_EQ_INT(n, len);
		T_ASSERT(memcmp(out, data, len) == 0);
	}
}

int main(void)
{
	A = hl_arena_new();
	if (!A)
		return 1;
	T_RUN(test_rfc4648_encode);
	T_RUN(test_rfc4648_decode_with_and_without_padding);
	T_RUN(test_alphabets_differ);
	T_RUN(test_rejects_invalid);
	T_RUN(test_decode_respects_length);
	T_RUN(test_round_trip_all_lengths);
	hl_arena_free(A);
	return T_DONE();
}
