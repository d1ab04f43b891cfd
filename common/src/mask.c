/*
 * mask.c - strict UTF-8 validation, phone normalisation and character-aware
 * masking of personal data (see mask.h for the masked forms).
 *
 * Every mask is "keep head code points, write some '*', keep tail code
 * points" (mask_build); the functions differ only in how they choose the
 * three numbers.
 */
#include "hl/mask.h"

#include <stdint.h>
#include <string.h>

size_t hl_utf8_seq_len(const unsigned char *p, size_t avail)
{
	unsigned c = p[0];
	size_t need;
	unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* continuation, C0/C1 overlong, F5..FF */
	}
	if (avail <= need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k <= need; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	return need + 1;
}

bool hl_utf8_valid(const char *s, size_t n)
{
	if (!s)
		return n == 0;
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		size_t k = hl_utf8_seq_len(p, (size_t)(end - p));
		if (!k)
			return false;
		p += k;
	}
	return true;
}

size_t hl_utf8_length(const char *s, size_t n)
{
	if (!hl_utf8_valid(s, n))
		return SIZE_MAX;
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += ((unsigned char)s[i] & 0xc0) != 0x80;
	return count;
}

/* Byte offset of code point i of valid UTF-8 s (len bytes); len when past the end. */
static size_t cp_offset(const char *s, size_t len, size_t i)
{
	size_t off = 0;
	while (off < len && i > 0) {
		off++;
		while (off < len && ((unsigned char)s[off] & 0xc0) == 0x80)
			off++;
		i--;
	}
	return off;
}

/* A validated input: its bytes and code points. */
struct text {
	const char *s;
	size_t bytes, chars;
};

static hl_status text_load(const char *field, const char *in, struct text *t, hl_error *err)
{
	t->s = in ? in : "";
	t->bytes = strlen(t->s);
	t->chars = hl_utf8_length(t->s, t->bytes);
	if (t->chars == SIZE_MAX)
		return hl_fail(err, HL_INVALID, "%s: invalid UTF-8", field);
	return HL_OK;
}

/*
 * The first head code points of t, stars '*', then the last tail code
 * points (head + tail <= t->chars), into the arena.
 */
static hl_status mask_build(const struct text *t, size_t head, size_t stars, size_t tail,
			    hl_arena *a, char **out, hl_error *err)
{
	size_t head_end = cp_offset(t->s, t->bytes, head);
	size_t tail_start = cp_offset(t->s, t->bytes, t->chars - tail);
	size_t tail_len = t->bytes - tail_start;
	char *o = hl_arena_alloc(a, head_end + stars + tail_len + 1);
	if (!o)
		return hl_fail(err, HL_NOMEM, "mask: out of memory");
	memcpy(o, t->s, head_end);
	memset(o + head_end, '*', stars);
	memcpy(o + head_end + stars, t->s + tail_start, tail_len);
	*out = o;
	return HL_OK;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

hl_status hl_phone_normalize(const char *in, hl_arena *a, char **out, hl_error *err)
{
	char digits[HL_PHONE_INPUT_MAX + 1];
	size_t n = 0;
	bool plus = false;
	if (!in || !*in)
		return hl_fail(err, HL_INVALID, "phone: missing");
	if (strnlen(in, HL_PHONE_INPUT_MAX + 1) > HL_PHONE_INPUT_MAX)
		return hl_fail(err, HL_INVALID, "phone: longer than %d characters",
			       HL_PHONE_INPUT_MAX);
	for (const char *p = in; *p; p++) {
		if (is_digit(*p))
			digits[n++] = *p;
		else if (*p == '+' && n == 0 && !plus)
			plus = true;
		else if (*p != ' ' && *p != '\t' && *p != '-' && *p != '(' && *p != ')')
			return hl_fail(err, HL_INVALID,
				       "phone: only digits, spaces, dashes, parentheses and a "
				       "leading + are allowed");
	}
	digits[n] = '\0';
	const char *d = digits;
	if (n == 15 && memcmp(d, "0086", 4) == 0 && d[4] == '1')
		d += 4;
	else if (n == 13 && memcmp(d, "86", 2) == 0 && d[2] == '1')
		d += 2;
	n -= (size_t)(d - digits);
	if (n < 5 || n > 20)
		return hl_fail(err, HL_INVALID, "phone: must have 5 to 20 digits");
	char *o = hl_arena_strndup(a, d, n);
	if (!o)
		return hl_fail(err, HL_NOMEM, "phone: out of memory");
	*out = o;
	return HL_OK;
}

hl_status hl_mask_phone(const char *in, hl_arena *a, char **out, hl_error *err)
{
	struct text t;
	char *norm;
	if (in && hl_phone_normalize(in, a, &norm, NULL) == HL_OK)
		in = norm;
	hl_status st = text_load("phone", in, &t, err);
	if (st != HL_OK)
		return st;
	if (t.chars >= 8)
		return mask_build(&t, 3, t.chars - 7, 4, a, out, err);
	if (t.chars > 2)
		return mask_build(&t, 0, t.chars - 2, 2, a, out, err);
	return mask_build(&t, 0, t.chars, 0, a, out, err);
}

hl_status hl_mask_name(const char *in, hl_arena *a, char **out, hl_error *err)
{
	struct text t;
	hl_status st = text_load("name", in, &t, err);
	if (st != HL_OK)
		return st;
	if (t.chars <= 1)
		return mask_build(&t, 0, t.chars, 0, a, out, err);
	return mask_build(&t, 1, t.chars - 1, 0, a, out, err);
}

hl_status hl_mask_id_number(const char *in, hl_arena *a, char **out, hl_error *err)
{
	struct text t;
	hl_status st = text_load("id number", in, &t, err);
	if (st != HL_OK)
		return st;
	if (t.chars >= 18)
		return mask_build(&t, 3, t.chars - 7, 4, a, out, err);
	if (t.chars > 6)
		return mask_build(&t, 0, t.chars - 4, 4, a, out, err);
	return mask_build(&t, 0, t.chars, 0, a, out, err);
}

hl_status hl_mask_address(const char *in, hl_arena *a, char **out, hl_error *err)
{
	struct text t;
	hl_status st = text_load("address", in, &t, err);
	if (st != HL_OK)
		return st;
	size_t keep = t.chars / 2 < 6 ? t.chars / 2 : 6;
	size_t stars = t.chars - keep < 4 ? t.chars - keep : 4;
	return mask_build(&t, keep, stars, 0, a, out, err);
}

/*
 * A plausible address: exactly one '@', a non-empty local part, a domain
 * with a dot neither first nor last, no spaces or control characters.
 */
static bool email_plausible(const struct text *t, size_t *at)
{
	const char *s = t->s;
	const char *sign = strchr(s, '@');
	if (!sign || sign == s || strchr(sign + 1, '@'))
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	const char *domain = sign + 1;
	size_t dlen = strlen(domain);
	const char *dot = strchr(domain, '.');
	if (dlen < 3 || !dot || dot == domain || domain[dlen - 1] == '.')
		return false;
	*at = (size_t)(sign - s);
	return true;
}

hl_status hl_mask_email(const char *in, hl_arena *a, char **out, hl_error *err)
{
	struct text t;
	size_t at;
	hl_status st = text_load("email", in, &t, err);
	if (st != HL_OK)
		return st;
	if (!email_plausible(&t, &at))
		return mask_build(&t, 0, t.chars, 0, a, out, err);
	size_t local_chars = hl_utf8_length(t.s, at);
	size_t domain_chars = t.chars - local_chars;  /* '@' and the domain */
	return mask_build(&t, local_chars >= 2 ? 1 : 0, 3, domain_chars, a, out, err);
}
