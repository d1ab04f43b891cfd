/*
 * log.h - one line per event on stderr, in key=value form.
 *
 *   ts=2026-11-22T10:00:00.123Z level=info svc=intake event=rpc method=/hotline.intake.v1.IntakeService/CreateTicket status=OK ms=3.2 tenant=demo req=0b6f...
 *
 * The line starts with ts (UTC, milliseconds), level, svc and event; the
 * caller's printf-style format builds the rest ("key=value key=value").
 * Values that may contain spaces, quotes, '=' or non-printable bytes must be
 * quoted with hl_log_quote():
 *
 *	char q[128];
 *	HL_LOG_WARN("db_error", "op=insert detail=%s", hl_log_quote(q, sizeof q, msg));
 *
 * Whatever the caller passes, control bytes in the tail are escaped, so an
 * event is always exactly one line.  Lines longer than HL_LOG_LINE_MAX are
 * cut and end in "truncated=1".  Each line is written with a single write(2)
 * (lines up to PIPE_BUF are atomic on pipes), so threads may log at will.
 *
 * NEVER LOG PERSONAL DATA.  Names, phone numbers, ID numbers, addresses,
 * e-mail addresses and free text typed by citizens must not reach a log
 * line; log ids (ticket id, request id, tenant slug) instead.  The logger
 * cannot tell personal data from other text: this is the caller's duty.
 *
 * The level and the service name are set once at start, before threads
 * are created; the HL_LOG_* macros skip the evaluation of their arguments
 * when their level is off.
 */
#ifndef HL_LOG_H
#define HL_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "hl/status.h"

typedef enum hl_log_level {
	HL_LOG_DEBUG,
	HL_LOG_INFO,
	HL_LOG_WARN,
	HL_LOG_ERROR,
} hl_log_level;

#define HL_LOG_LINE_MAX 4096

/* internal: the current level, read by hl_log_enabled() */
extern atomic_int hl__log_level;

/* Set the lowest level that is written (default HL_LOG_INFO).  Thread-safe. */
void hl_log_set_level(hl_log_level level);
hl_log_level hl_log_get_level(void);

/*
 * Parse "debug", "info", "warn"/"warning" or "error" (any case) into *out.
 * HL_INVALID for anything else.
 */
hl_status hl_log_level_parse(const char *s, hl_log_level *out, hl_error *err) HL_MUST_CHECK;

/* "debug", "info", "warn", "error". */
const char *hl_log_level_name(hl_log_level level);

/*
 * Set the svc= value of every line (copied, at most 63 bytes; default "-").
 * Call once at start, before other threads log.
 */
void hl_log_set_service(const char *service);

/* Is level written?  Cheap: one relaxed atomic load. */
static inline bool hl_log_enabled(hl_log_level level)
{
	return (int)level >= atomic_load_explicit(&hl__log_level, memory_order_relaxed);
}

/*
 * Write one line: ts, level, svc, event, then fmt formatted (fmt may be
 * NULL; a space is put before it unless it starts with one; trailing spaces
 * are dropped), then a newline, with one write(2) to stderr.  Does nothing
 * when level is off.  Errors writing are ignored.  Thread-safe.
 */
void hl_log_write(hl_log_level level, const char *event, const char *fmt, ...) HL_PRINTF(3, 4);

/*
 * Quote value for use after "key=" and return buf: the value as it is when
 * it is non-empty and consists of printable ASCII other than space, '"',
 * '=' and '\\'; otherwise in double quotes with '"' and '\\' escaped by a
 * backslash, \n \r \t as such and other bytes below 0x20 or 0x7f as \xNN.
 * Bytes from 0x80 up pass through (UTF-8).  A value that does not fit in
 * size bytes is cut, keeping the quotes and the result valid, and ends in
 * "...".  NULL is written as "".  size must be at least 8.
 */
char *hl_log_quote(char *buf, size_t size, const char *value);

/*
 * HL_LOG_INFO("event") or HL_LOG_INFO("event", "key=%s n=%d", ...): the
 * format must be a string literal (it is pasted after " ", which also keeps
 * the format from being empty), and the arguments are evaluated only when
 * the level is on.
 */
#define HL_LOG_AT(level, event, ...)                                          \
	do {                                                                  \
		if (hl_log_enabled(level))                                    \
			hl_log_write(level, event, " " __VA_ARGS__);          \
	} while (0)

#define HL_LOG_DEBUG(event, ...) HL_LOG_AT(HL_LOG_DEBUG, event, __VA_ARGS__)
#define HL_LOG_INFO(event, ...) HL_LOG_AT(HL_LOG_INFO, event, __VA_ARGS__)
#define HL_LOG_WARN(event, ...) HL_LOG_AT(HL_LOG_WARN, event, __VA_ARGS__)
#define HL_LOG_ERROR(event, ...) HL_LOG_AT(HL_LOG_ERROR, event, __VA_ARGS__)

#endif
