/*
 * log.c - key=value event lines on stderr (see log.h).
 *
 * A line is built in a stack buffer: the fixed head (ts, level, svc, event),
 * then the caller's formatted tail copied with control bytes escaped, so
 * that one event is one line whatever the arguments held.  The line is
 * handed to the kernel with one write(2).
 */
#include "hl/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define TRUNC_MARK " truncated=1"

atomic_int hl__log_level = HL_LOG_INFO;

static const char *const level_names[] = {
	[HL_LOG_DEBUG] = "debug",
	[HL_LOG_INFO] = "info",
	[HL_LOG_WARN] = "warn",
	[HL_LOG_ERROR] = "error",
};

/* svc= value, already quoted; written once at start */
static char service_q[96] = "-";

void hl_log_set_level(hl_log_level level)
{
	if ((int)level < HL_LOG_DEBUG || level > HL_LOG_ERROR)
		level = HL_LOG_INFO;
	atomic_store_explicit(&hl__log_level, (int)level, memory_order_relaxed);
}

hl_log_level hl_log_get_level(void)
{
	return (hl_log_level)atomic_load_explicit(&hl__log_level, memory_order_relaxed);
}

const char *hl_log_level_name(hl_log_level level)
{
	if ((int)level < HL_LOG_DEBUG || level > HL_LOG_ERROR)
		return "unknown";
	return level_names[level];
}

hl_status hl_log_level_parse(const char *s, hl_log_level *out, hl_error *err)
{
	if (s) {
		for (int l = HL_LOG_DEBUG; l <= HL_LOG_ERROR; l++) {
			if (strcasecmp(s, level_names[l]) == 0) {
				*out = (hl_log_level)l;
				return HL_OK;
			}
		}
		if (strcasecmp(s, "warning") == 0) {
			*out = HL_LOG_WARN;
			return HL_OK;
		}
	}
	return hl_fail(err, HL_INVALID, "log level: must be debug, info, warn or error");
}

void hl_log_set_service(const char *service)
{
	char raw[64];
	snprintf(raw, sizeof raw, "%s", service && *service ? service : "-");
	hl_log_quote(service_q, sizeof service_q, raw);
}

static bool plain_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '\\';
}

/* Length of the incomplete UTF-8 sequence at the end of s[0..n), or 0. */
static size_t partial_utf8_tail(const char *s, size_t n)
{
	size_t k = 0;
	while (k < n && k < 4 && ((unsigned char)s[n - 1 - k] & 0xc0) == 0x80)
		k++;
	if (k == n)
		return 0;
	unsigned char lead = (unsigned char)s[n - 1 - k];
	size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	return want > k + 1 ? k + 1 : 0;
}

/* Escape of byte c inside quotes, or NULL when it goes as it is. */
static const char *escape_of(unsigned char c, char tmp[5])
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default:
		if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, 5, "\\x%02x", c);
			return tmp;
		}
		return NULL;
	}
}

char *hl_log_quote(char *buf, size_t size, const char *value)
{
	const char *v = value ? value : "";
	size_t len = strlen(v), i, pos = 0;
	bool plain = len > 0;

	if (size == 0)
		return buf;
	if (size < 8) {
		snprintf(buf, size, "%s", size >= 3 ? "\"\"" : "");
		return buf;
	}
	for (i = 0; i < len && plain; i++)
		plain = plain_byte((unsigned char)v[i]);
	if (plain) {
		if (len < size) {
			memcpy(buf, v, len + 1);
			return buf;
		}
		pos = size - 4;                 /* room for "..." and NUL */
		memcpy(buf, v, pos);
		memcpy(buf + pos, "...", 4);
		return buf;
	}
	size_t need = 3;                        /* quotes and NUL */
	for (i = 0; i < len; i++) {
		char tmp[5];
		const char *e = escape_of((unsigned char)v[i], tmp);
		need += e ? strlen(e) : 1;
	}
	bool cut = need > size;
	buf[pos++] = '"';
	for (i = 0; i < len; i++) {
		char tmp[5];
		const char *e = escape_of((unsigned char)v[i], tmp);
		size_t n = e ? strlen(e) : 1;
		/* when cutting, keep room for ..." and NUL */
		if (cut && pos + n + 5 > size) {
			pos -= partial_utf8_tail(buf + 1, pos - 1);
			memcpy(buf + pos, "...\"", 5);
			return buf;
		}
		if (e)
			memcpy(buf + pos, e, n);
		else
			buf[pos] = v[i];
		pos += n;
	}
	buf[pos++] = '"';
	buf[pos] = '\0';
	return buf;
}

/*
 * Append the formatted tail t to line[*pos..cap), escaping control bytes.
 * Returns false when it had to be cut; then a quote left open is closed in
 * line[cap], which the caller keeps free for it.
 */
static bool put_tail(char *line, size_t cap, size_t *pos, const char *t)
{
	bool in_quotes = false, backslash = false;
	size_t p = *pos;

	for (; *t; t++) {
		unsigned char c = (unsigned char)*t;
		char tmp[5];
		const char *e = (c < 0x20 || c == 0x7f) ? escape_of(c, tmp) : NULL;
		size_t n = e ? strlen(e) : 1;
		if (p + n > cap) {
			p -= partial_utf8_tail(line + *pos, p - *pos);
			if (backslash)
				p--;    /* a lone backslash would escape the quote */
			if (in_quotes)
				line[p++] = '"';        /* the caller left room */
			*pos = p;
			return false;
		}
		if (e) {
			memcpy(line + p, e, n);
		} else {
			line[p] = (char)c;
			if (c == '"' && !backslash)
				in_quotes = !in_quotes;
		}
		backslash = !e && c == '\\' && !backslash;
		p += n;
	}
	*pos = p;
	return true;
}

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void hl_log_write(hl_log_level level, const char *event, const char *fmt, ...)
{
	char line[HL_LOG_LINE_MAX], tail[HL_LOG_LINE_MAX], ev[128];
	struct timespec ts;
	struct tm tm;
	size_t pos;
	int n;

	if (!hl_log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof line,
		     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s svc=%s event=%s",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, hl_log_level_name(level), service_q,
		     hl_log_quote(ev, sizeof ev, event));
	pos = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;

	bool whole = true;
	tail[0] = '\0';
	if (fmt && *fmt) {
		/* a space between event and tail unless the format brings one */
		size_t off = fmt[0] == ' ' ? 0 : 1;
		va_list ap;
		tail[0] = ' ';
		va_start(ap, fmt);
		n = vsnprintf(tail + off, sizeof tail - off, fmt, ap);
		va_end(ap);
		if (n < 0)
			tail[0] = '\0';
		else if ((size_t)n >= sizeof tail - off)
			whole = false;
	}
	/* room for a closing quote, the truncation mark and the newline stays free */
	size_t cap = sizeof line - (sizeof TRUNC_MARK - 1) - 2;
	if (!put_tail(line, cap, &pos, tail))
		whole = false;
	while (pos > 0 && line[pos - 1] == ' ')
		pos--;
	if (!whole) {
		memcpy(line + pos, TRUNC_MARK, sizeof TRUNC_MARK - 1);
		pos += sizeof TRUNC_MARK - 1;
	}
	line[pos++] = '\n';
	write_all(line, pos);
}
