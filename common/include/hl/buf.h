/*
 * buf.h - a growable byte buffer for building text and binary output
 * (HTTP responses, metrics, JSON, canonical encodings).
 *
 * The buffer owns its malloc'd memory; hl_buf_release() frees it.  After an
 * allocation failure the buffer is marked failed, later appends do nothing,
 * and hl_buf_failed() reports it, so a sequence of appends needs one check.
 * The content is always NUL-terminated (the NUL is not counted in len).
 */
#ifndef HL_BUF_H
#define HL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/status.h"

typedef struct hl_buf {
	char *data;
	size_t len, cap;
	bool failed;
} hl_buf;

#define HL_BUF_INIT {NULL, 0, 0, false}

void hl_buf_init(hl_buf *b);
void hl_buf_release(hl_buf *b);
void hl_buf_reset(hl_buf *b);          /* len = 0, keeps memory */
bool hl_buf_failed(const hl_buf *b);

void hl_buf_append(hl_buf *b, const void *p, size_t n);
void hl_buf_puts(hl_buf *b, const char *s);
void hl_buf_putc(hl_buf *b, char c);
void hl_buf_printf(hl_buf *b, const char *fmt, ...) HL_PRINTF(2, 3);
void hl_buf_vprintf(hl_buf *b, const char *fmt, va_list ap);

/* Append s as a JSON string literal with quotes (valid UTF-8 passes through). */
void hl_buf_json_string(hl_buf *b, const char *s);
/* Append n bytes as lowercase hex. */
void hl_buf_hex(hl_buf *b, const void *p, size_t n);
/* Append a big-endian 32-bit length followed by the bytes (canonical encodings). */
void hl_buf_lp(hl_buf *b, const void *p, size_t n);

#endif
