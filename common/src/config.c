/*
 * config.c - configuration tables read from the environment (see config.h).
 *
 * hl_config_load() walks the table once, parses each value by its type into
 * the target struct and collects every problem into one message, so that an
 * operator fixes all of them in one go.  The message is bounded by the size
 * of hl_error; problems that do not fit are counted ("; and 3 more").
 */
#include "hl/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hl/log.h"

static const char *const type_names[] = {
	[HL_CFG_STRING] = "string",
	[HL_CFG_INT] = "int",
	[HL_CFG_BOOL] = "bool",
	[HL_CFG_DURATION_MS] = "duration",
	[HL_CFG_PATH] = "path",
};

/* The problems found so far, as one "; "-separated message. */
struct problems {
	char msg[sizeof(((hl_error *)0)->msg)];
	size_t len;
	int count, omitted;
	bool nomem;
};

#define MORE_ROOM 20    /* "; and NNN more" */

static void problem(struct problems *p, const char *fmt, ...) HL_PRINTF(2, 3);

static void problem(struct problems *p, const char *fmt, ...)
{
	char one[160];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(one, sizeof one, fmt, ap);
	va_end(ap);
	p->count++;
	size_t sep = p->len ? 2 : 0;
	if (p->omitted || n < 0 || p->len + sep + (size_t)n + MORE_ROOM >= sizeof p->msg) {
		p->omitted++;
		return;
	}
	memcpy(p->msg + p->len, "; ", sep);
	memcpy(p->msg + p->len + sep, one, (size_t)n + 1);
	p->len += sep + (size_t)n;
}

static void *field(void *target, const hl_config_item *it)
{
	return (char *)target + it->offset;
}

static const void *cfield(const void *target, const hl_config_item *it)
{
	return (const char *)target + it->offset;
}

static bool has_bounds(const hl_config_item *it)
{
	return it->min != 0 || it->max != 0;
}

/* ---- value parsers ---- */

static bool parse_int(const char *s, long long *out)
{
	char *end;
	if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+'))
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* "500ms", "5s", "2m", "1h" or a plain number of milliseconds. */
static bool parse_duration(const char *s, long long *out)
{
	long long v = 0, mult;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (LLONG_MAX - (*p - '0')) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (*p == '\0' || strcmp(p, "ms") == 0)
		mult = 1;
	else if (strcmp(p, "s") == 0)
		mult = 1000;
	else if (strcmp(p, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		mult = 3600 * 1000;
	else
		return false;
	if (v > LLONG_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

/* Milliseconds in the largest unit that divides them: "2m", "1500ms". */
static char *format_duration(long long ms, char *buf, size_t size)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, size, "%lldh", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, size, "%lldm", ms / 60000);
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, size, "%llds", ms / 1000);
	else
		snprintf(buf, size, "%lldms", ms);
	return buf;
}

/* ---- one item ---- */

/* Check a string or path value; false (and a problem) when it is not fine. */
static bool check_string(const hl_config_item *it, const char *v, struct problems *p)
{
	size_t len = strlen(v);
	if (it->type == HL_CFG_PATH) {
		if (len == 0) {
			problem(p, "%s: must be a non-empty path", it->env);
			return false;
		}
		if (len >= PATH_MAX) {
			problem(p, "%s: path too long", it->env);
			return false;
		}
		for (const char *c = v; *c; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				problem(p, "%s: path contains control characters", it->env);
				return false;
			}
		}
	}
	if (it->max > 0 && ((long long)len < it->min || (long long)len > it->max)) {
		problem(p, "%s: must be between %lld and %lld bytes long", it->env, it->min, it->max);
		return false;
	}
	return true;
}

/*
 * Parse value v of item it into target.  from_default says v is the table's
 * default (a bad default is reported as such).
 */
static void load_item(const hl_config_item *it, const char *v, bool from_default, void *target,
		      struct problems *p)
{
	const char *what = from_default ? "invalid default, " : "";
	char a[32], b[32];
	long long ll;
	bool bv;

	switch (it->type) {
	case HL_CFG_STRING:
	case HL_CFG_PATH:
		if (!check_string(it, v, p))
			return;
		*(char **)field(target, it) = strdup(v);
		if (!*(char **)field(target, it))
			p->nomem = true;
		return;
	case HL_CFG_INT:
		if (!parse_int(v, &ll)) {
			problem(p, "%s: %smust be an integer", it->env, what);
			return;
		}
		if (has_bounds(it) && (ll < it->min || ll > it->max)) {
			problem(p, "%s: %smust be between %lld and %lld", it->env, what, it->min,
				it->max);
			return;
		}
		*(long long *)field(target, it) = ll;
		return;
	case HL_CFG_BOOL:
		if (!parse_bool(v, &bv)) {
			problem(p, "%s: %smust be true or false", it->env, what);
			return;
		}
		*(bool *)field(target, it) = bv;
		return;
	case HL_CFG_DURATION_MS:
		if (!parse_duration(v, &ll)) {
			problem(p, "%s: %smust be a duration such as 500ms, 5s, 2m or 1h", it->env,
				what);
			return;
		}
		if (has_bounds(it) && (ll < it->min || ll > it->max)) {
			problem(p, "%s: %smust be between %s and %s", it->env, what,
				format_duration(it->min, a, sizeof a),
				format_duration(it->max, b, sizeof b));
			return;
		}
		*(long long *)field(target, it) = ll;
		return;
	}
	problem(p, "%s: unknown type in the configuration table", it->env);
}

static bool is_string_type(hl_config_type t)
{
	return t == HL_CFG_STRING || t == HL_CFG_PATH;
}

/* ---- public ---- */

hl_status hl_config_load(const hl_config_item *items, size_t n, void *target, hl_error *err)
{
	struct problems p = {.len = 0};

	p.msg[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const hl_config_item *it = &items[i];
		const char *v = getenv(it->env);
		bool from_default = !v || !*v;

		if (is_string_type(it->type))
			*(char **)field(target, it) = NULL;
		if (from_default)
			v = it->default_value;
		if (!v) {
			problem(&p, "%s: required", it->env);
			continue;
		}
		load_item(it, v, from_default, target, &p);
	}
	if (!p.count && !p.nomem)
		return HL_OK;
	hl_config_release(items, n, target);
	if (p.nomem)
		return hl_fail(err, HL_NOMEM, "configuration: out of memory");
	if (p.omitted)
		return hl_fail(err, HL_INVALID, "%s; and %d more", p.msg, p.omitted);
	return hl_fail(err, HL_INVALID, "%s", p.msg);
}

void hl_config_release(const hl_config_item *items, size_t n, void *target)
{
	for (size_t i = 0; i < n; i++) {
		if (!is_string_type(items[i].type))
			continue;
		char **s = field(target, &items[i]);
		free(*s);
		*s = NULL;
	}
}

char *hl_config_format(const hl_config_item *it, const void *target, char *buf, size_t size)
{
	const char *s;

	switch (it->type) {
	case HL_CFG_STRING:
	case HL_CFG_PATH:
		s = *(char *const *)cfield(target, it);
		snprintf(buf, size, "%s", !s ? "" : it->secret && *s ? "***" : s);
		break;
	case HL_CFG_INT:
		snprintf(buf, size, "%lld", *(const long long *)cfield(target, it));
		break;
	case HL_CFG_BOOL:
		snprintf(buf, size, "%s", *(const bool *)cfield(target, it) ? "true" : "false");
		break;
	case HL_CFG_DURATION_MS:
		format_duration(*(const long long *)cfield(target, it), buf, size);
		break;
	default:
		snprintf(buf, size, "?");
	}
	if (it->secret && it->type != HL_CFG_STRING && it->type != HL_CFG_PATH)
		snprintf(buf, size, "***");
	return buf;
}

/* The default column of --help. */
static const char *usage_default(const hl_config_item *it)
{
	if (!it->default_value)
		return "(required)";
	if (it->secret && *it->default_value)
		return "(secret)";
	if (!*it->default_value)
		return "\"\"";
	return it->default_value;
}

void hl_config_usage(FILE *out, const char *program, const char *summary,
		     const hl_config_item *items, size_t n)
{
	int w_env = (int)strlen("VARIABLE"), w_def = (int)strlen("DEFAULT");
	char a[32], b[32];

	for (size_t i = 0; i < n; i++) {
		int le = (int)strlen(items[i].env), ld = (int)strlen(usage_default(&items[i]));
		if (le > w_env)
			w_env = le;
		if (ld > w_def && ld <= 40)
			w_def = ld;
	}
	fprintf(out, "Usage: %s [--help]\n", program ? program : "service");
	if (summary && *summary)
		fprintf(out, "%s\n", summary);
	fprintf(out, "\nConfiguration is read from these environment variables:\n\n");
	fprintf(out, "  %-*s  %-8s  %-*s  %s\n", w_env, "VARIABLE", "TYPE", w_def, "DEFAULT",
		"DESCRIPTION");
	for (size_t i = 0; i < n; i++) {
		const hl_config_item *it = &items[i];
		fprintf(out, "  %-*s  %-8s  %-*s  %s", w_env, it->env, type_names[it->type], w_def,
			usage_default(it), it->help ? it->help : "");
		if (it->type == HL_CFG_INT && has_bounds(it))
			fprintf(out, " (%lld..%lld)", it->min, it->max);
		else if (it->type == HL_CFG_DURATION_MS && has_bounds(it))
			fprintf(out, " (%s..%s)", format_duration(it->min, a, sizeof a),
				format_duration(it->max, b, sizeof b));
		else if (is_string_type(it->type) && it->max > 0)
			fprintf(out, " (%lld..%lld bytes)", it->min, it->max);
		if (it->secret)
			fprintf(out, " [secret]");
		fputc('\n', out);
	}
	fprintf(out, "\nDurations: 500ms, 5s, 2m, 1h, or a number of milliseconds. "
		     "Booleans: true/false, yes/no, on/off, 1/0.\n");
}

void hl_config_dump(const hl_config_item *items, size_t n, const void *target)
{
	if (!hl_log_enabled(HL_LOG_INFO))
		return;
	for (size_t i = 0; i < n; i++) {
		char v[512], q[600];
		hl_config_format(&items[i], target, v, sizeof v);
		HL_LOG_INFO("config", "var=%s value=%s", items[i].env, hl_log_quote(q, sizeof q, v));
	}
}
