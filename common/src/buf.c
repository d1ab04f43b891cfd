/*
 * buf.c - growable byte buffer (see buf.h).
 */
#include "hl/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hl_buf_init(hl_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}

void hl_buf_release(hl_buf *b)
{
	free(b->data);
	hl_buf_init(b);
}

void hl_buf_reset(hl_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

bool hl_buf_failed(const hl_buf *b)
{
	return b->failed;
}

static bool reserve(hl_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	size_t need = b->len + extra + 1;
	if (need < b->len) {
		b->failed = true;
		return false;
	}
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void hl_buf_append(hl_buf *b, const void *p, size_t n)
{
	if (!reserve(b, n))
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void hl_buf_puts(hl_buf *b, const char *s)
{
	hl_buf_append(b, s, strlen(s));
}

void hl_buf_putc(hl_buf *b, char c)
{
	hl_buf_append(b, &c, 1);
}

void hl_buf_vprintf(hl_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void hl_buf_printf(hl_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hl_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void hl_buf_json_string(hl_buf *b, const char *s)
{
	hl_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': hl_buf_puts(b, "\\\""); break;
		case '\\': hl_buf_puts(b, "\\\\"); break;
		case '\n': hl_buf_puts(b, "\\n"); break;
		case '\r': hl_buf_puts(b, "\\r"); break;
		case '\t': hl_buf_puts(b, "\\t"); break;
		default:
			if (*p < 0x20)
				hl_buf_printf(b, "\\u%04x", *p);
			else
				hl_buf_putc(b, (char)*p);
		}
	}
	hl_buf_putc(b, '"');
}

void hl_buf_hex(hl_buf *b, const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *q = p;
	if (!reserve(b, 2 * n))
		return;
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = digits[q[i] >> 4];
		b->data[b->len++] = digits[q[i] & 15];
	}
	b->data[b->len] = '\0';
}

void hl_buf_lp(hl_buf *b, const void *p, size_t n)
{
	unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
				(unsigned char)(n >> 8), (unsigned char)n};
	hl_buf_append(b, len, 4);
	hl_buf_append(b, p, n);
}
