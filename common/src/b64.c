/*
 * b64.c - base64 and base64url encoding and strict decoding (see b64.h).
 */
#include "hl/b64.h"

#include <stdbool.h>
#include <stdint.h>

static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *encode(hl_arena *a, const char *alphabet, bool pad, const void *p, size_t n)
{
	const unsigned char *in = p;
	size_t groups = n / 3 + (n % 3 != 0);
	if (groups > (SIZE_MAX - 1) / 4)
		return NULL;
	char *out = hl_arena_alloc(a, groups * 4 + 1);
	if (!out)
		return NULL;
	char *o = out;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = alphabet[v >> 6 & 63];
		*o++ = alphabet[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		if (pad) {
			*o++ = '=';
			*o++ = '=';
		}
	} else if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = alphabet[v >> 6 & 63];
		if (pad)
			*o++ = '=';
	}
	*o = '\0';
	return out;
}

char *hl_b64_encode(hl_arena *a, const void *p, size_t n)
{
	return encode(a, std_alphabet, true, p, n);
}

char *hl_b64url_encode(hl_arena *a, const void *p, size_t n)
{
	return encode(a, url_alphabet, false, p, n);
}

/* The 6-bit value of c in the chosen alphabet, or -1. */
static int sextet(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

static hl_status decode(hl_arena *a, bool url, const char *s, size_t len,
			unsigned char **out, size_t *out_len, hl_error *err)
{
	const char *name = url ? "base64url" : "base64";
	size_t pads = 0;
	while (pads < len && pads < 3 && s[len - 1 - pads] == '=')
		pads++;
	size_t m = len - pads; /* data characters */
	if (pads) {
		size_t want = m % 4 == 2 ? 2 : m % 4 == 3 ? 1 : 0;
		if (len % 4 != 0 || pads != want)
			return hl_fail(err, HL_INVALID, "%s: bad padding at offset %zu", name, m);
	}
	if (m % 4 == 1)
		return hl_fail(err, HL_INVALID, "%s: impossible length %zu", name, m);

	size_t n = m / 4 * 3 + (m % 4 == 2 ? 1 : m % 4 == 3 ? 2 : 0);
	unsigned char *buf = hl_arena_alloc(a, n + 1);
	if (!buf)
		return hl_fail(err, HL_NOMEM, "%s: out of memory", name);

	unsigned char *o = buf;
	unsigned acc = 0;
	for (size_t i = 0; i < m; i++) {
		int v = sextet((unsigned char)s[i], url);
		if (v < 0)
			return hl_fail(err, HL_INVALID, "%s: invalid character at offset %zu", name, i);
		acc = acc << 6 | (unsigned)v;
		if (i % 4 == 3) {
			*o++ = (unsigned char)(acc >> 16);
			*o++ = (unsigned char)(acc >> 8);
			*o++ = (unsigned char)acc;
			acc = 0;
		}
	}
	if (m % 4 == 2) {
		if (acc & 0xf)
			return hl_fail(err, HL_INVALID, "%s: non-zero trailing bits", name);
		*o++ = (unsigned char)(acc >> 4);
	} else if (m % 4 == 3) {
		if (acc & 0x3)
			return hl_fail(err, HL_INVALID, "%s: non-zero trailing bits", name);
		*o++ = (unsigned char)(acc >> 10);
		*o++ = (unsigned char)(acc >> 2);
	}
	*o = '\0';
	*out = buf;
	*out_len = n;
	return HL_OK;
}

hl_status hl_b64_decode(hl_arena *a, const char *s, size_t len, unsigned char **out,
			size_t *out_len, hl_error *err)
{
	return decode(a, false, s, len, out, out_len, err);
}

hl_status hl_b64url_decode(hl_arena *a, const char *s, size_t len, unsigned char **out,
			   size_t *out_len, hl_error *err)
{
	return decode(a, true, s, len, out, out_len, err);
}
