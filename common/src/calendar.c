/*
 * calendar.c - time zones read from TZif files, and working-time calendars
 * for deadlines (see calendar.h for the rules).
 *
 * Zones.  tzif_parse() keeps the 64-bit transition table of a TZif v2+
 * file (transitions that change neither the offset nor the DST flag are
 * dropped) and the POSIX TZ footer, which tz_lookup() uses after the last
 * transition.  A footer with DST rules is evaluated for the year of the
 * instant and its neighbours (six candidate changes), so rules that cross
 * a new year (southern hemisphere) need no special case.  Local-to-UTC
 * tries the offsets in effect 30 h before and after (no zone is more than
 * 26 h from UTC, and offsets outside that are refused) and the offsets
 * those candidates lead to, keeps the earliest candidate that is
 * consistent, and for a gap answers the start of the period that follows.
 *
 * Calendars.  Every deadline computation is a walk over the working
 * intervals of consecutive local dates, converted to UTC (struct walk);
 * measure() sums working time in a range minus the merged pauses, and
 * advance() uses it up.  Holidays and make-up days are sorted day numbers
 * searched with bsearch().
 */
#include "hl/calendar.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/buf.h"

#define TZIF_FILE_MAX (1 << 20)
#define TZIF_HEADER_LEN 44
#define TZIF_TIMES_MAX 100000
#define TZ_OFFSET_MAX (26 * 3600) /* |UT offset| accepted from a zone file */
#define LOOK_AROUND_S (30 * 3600) /* beyond any offset: see the file comment */
#define SECONDS_PER_DAY 86400
#define MINUTES_PER_DAY 1440

static const char *const DAY_NAMES[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const DAY_LONG_NAMES[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
					      "Friday", "Saturday", "Sunday"};

/* ---- civil dates ----------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if (a % b != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Days since 1970-01-01 of y-m-d (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = m > 2 ? m - 3 : m + 9;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t dd = doy - (153 * mp + 2) / 5 + 1;
	int64_t mm = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (mm <= 2));
	*m = (int)mm;
	*d = (int)dd;
}

/* 0 = Monday (1970-01-01 was a Thursday). */
static int weekday_of_days(int64_t days)
{
	return (int)floor_mod(days + 3, 7);
}

bool hl_date_valid(hl_date d)
{
	return d.year >= HL_CALENDAR_MIN_YEAR && d.year <= HL_CALENDAR_MAX_YEAR && d.month >= 1 && d.month <= 12 &&
	       d.day >= 1 && d.day <= month_days(d.year, d.month);
}

int64_t hl_date_to_days(hl_date d)
{
	return days_from_civil(d.year, d.month, d.day);
}

hl_date hl_date_from_days(int64_t days)
{
	hl_date d;
	civil_from_days(days, &d.year, &d.month, &d.day);
	return d;
}

int hl_date_weekday(hl_date d)
{
	return weekday_of_days(hl_date_to_days(d));
}

/* ---- POSIX TZ strings ------------------------------------------------ */

/* A DST change date: 'J' Julian 1..365 without Feb 29, 'D' zero-based day
 * 0..365, 'M' month a, week b (5 = last), weekday c (0 = Sunday); time is
 * local wall-clock seconds after midnight (may be negative or past 24 h). */
struct tz_rule {
	char kind;
	int a, b, c;
	int32_t time;
};

struct posix_tz {
	int32_t std_off, dst_off; /* seconds east of UTC */
	bool has_dst;
	struct tz_rule start, end;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool parse_abbr(const char **pp)
{
	const char *p = *pp, *s;
	if (*p == '<') {
		s = ++p;
		while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-')
			p++;
		if (*p != '>' || p - s < 3)
			return false;
		*pp = p + 1;
		return true;
	}
	s = p;
	while (is_alpha(*p))
		p++;
	if (p - s < 3)
		return false;
	*pp = p;
	return true;
}

/* An unsigned decimal of 1..maxd digits. */
static bool parse_uint(const char **pp, int maxd, int *out)
{
	const char *p = *pp;
	int v = 0, nd = 0;
	while (is_digit(*p) && nd < maxd) {
		v = v * 10 + (*p++ - '0');
		nd++;
	}
	if (nd == 0 || is_digit(*p))
		return false;
	*out = v;
	*pp = p;
	return true;
}

/* [+-]h[h[h]][:mm[:ss]] in seconds, hours at most max_h. */
static bool parse_hms(const char **pp, int max_h, int32_t *out)
{
	const char *p = *pp;
	int sign = 1, h, m = 0, s = 0;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (!parse_uint(&p, 3, &h) || h > max_h)
		return false;
	if (*p == ':') {
		p++;
		if (!parse_uint(&p, 2, &m) || m > 59)
			return false;
		if (*p == ':') {
			p++;
			if (!parse_uint(&p, 2, &s) || s > 59)
				return false;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	*pp = p;
	return true;
}

static bool parse_rule(const char **pp, struct tz_rule *r)
{
	const char *p = *pp;
	memset(r, 0, sizeof *r);
	if (*p == 'J') {
		p++;
		r->kind = 'J';
		if (!parse_uint(&p, 3, &r->a) || r->a < 1 || r->a > 365)
			return false;
	} else if (*p == 'M') {
		p++;
		r->kind = 'M';
		if (!parse_uint(&p, 2, &r->a) || r->a < 1 || r->a > 12 || *p++ != '.' || !parse_uint(&p, 1, &r->b) ||
		    r->b < 1 || r->b > 5 || *p++ != '.' || !parse_uint(&p, 1, &r->c) || r->c > 6)
			return false;
	} else if (is_digit(*p)) {
		r->kind = 'D';
		if (!parse_uint(&p, 3, &r->a) || r->a > 365)
			return false;
	} else {
		return false;
	}
	r->time = 7200;
	if (*p == '/') {
		p++;
		if (!parse_hms(&p, 167, &r->time))
			return false;
	}
	*pp = p;
	return true;
}

/* std offset [dst [offset] [,start[/time],end[/time]]]; offsets are west-positive. */
static bool posix_parse(const char *s, struct posix_tz *z)
{
	const char *p = s;
	int32_t v;
	memset(z, 0, sizeof *z);
	if (!parse_abbr(&p) || !parse_hms(&p, 24, &v))
		return false;
	z->std_off = -v;
	if (*p == '\0')
		return true;
	if (!parse_abbr(&p))
		return false;
	z->has_dst = true;
	z->dst_off = z->std_off + 3600;
	if (*p != '\0' && *p != ',') {
		if (!parse_hms(&p, 24, &v))
			return false;
		z->dst_off = -v;
	}
	if (*p == '\0') { /* no rules: the US rules, as glibc */
		z->start = (struct tz_rule){'M', 3, 2, 0, 7200};
		z->end = (struct tz_rule){'M', 11, 1, 0, 7200};
		return true;
	}
	if (*p++ != ',' || !parse_rule(&p, &z->start) || *p++ != ',' || !parse_rule(&p, &z->end))
		return false;
	return *p == '\0';
}

/* Local wall-clock seconds (since 1970-01-01 local) at which rule r fires in year y. */
static int64_t rule_local(const struct tz_rule *r, int64_t y)
{
	int64_t day;
	if (r->kind == 'J') {
		day = days_from_civil(y, 1, 1) + r->a - 1 + (is_leap(y) && r->a >= 60);
	} else if (r->kind == 'D') {
		day = days_from_civil(y, 1, 1) + r->a;
	} else {
		int64_t first = days_from_civil(y, r->a, 1);
		int64_t wd_first = floor_mod(first + 4, 7); /* 0 = Sunday */
		day = first + floor_mod(r->c - wd_first, 7) + 7 * (r->b - 1);
		while (day >= first + month_days(y, r->a))
			day -= 7;
	}
	return day * SECONDS_PER_DAY + r->time;
}

struct lookup {
	int32_t off;
	bool isdst;
	int64_t since; /* start of the period with this offset, INT64_MIN when unknown */
};

static void posix_lookup(const struct posix_tz *z, int64_t t, struct lookup *r)
{
	r->off = z->std_off;
	r->isdst = false;
	r->since = INT64_MIN;
	if (!z->has_dst)
		return;
	int y, m, d;
	civil_from_days(floor_div(t + z->std_off, SECONDS_PER_DAY), &y, &m, &d);
	for (int64_t yy = y - 1; yy <= y + 1; yy++) {
		int64_t on = rule_local(&z->start, yy) - z->std_off;
		int64_t off = rule_local(&z->end, yy) - z->dst_off;
		if (on <= t && (r->since == INT64_MIN || on > r->since)) {
			r->since = on;
			r->isdst = true;
		}
		if (off <= t && (r->since == INT64_MIN || off > r->since)) {
			r->since = off;
			r->isdst = false;
		}
	}
	r->off = r->isdst ? z->dst_off : z->std_off;
}

/* ---- zones ----------------------------------------------------------- */

struct hl_tz {
	struct hl_tz *next; /* the cache list */
	char *name;
	size_t n;     /* transitions */
	int64_t *at;  /* transition instants (s), strictly increasing */
	int32_t *off; /* offset from at[i] on */
	uint8_t *isdst;
	int32_t off0; /* before the first transition */
	bool isdst0;
	bool has_footer;
	struct posix_tz footer;
};

static void tz_lookup(const hl_tz *tz, int64_t t, struct lookup *r)
{
	if (tz->n == 0 || t < tz->at[0]) {
		if (tz->n == 0 && tz->has_footer) {
			posix_lookup(&tz->footer, t, r);
			return;
		}
		r->off = tz->off0;
		r->isdst = tz->isdst0;
		r->since = INT64_MIN;
		return;
	}
	size_t lo = 0, hi = tz->n; /* at[lo] <= t < at[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	if (lo == tz->n - 1 && tz->has_footer) {
		posix_lookup(&tz->footer, t, r);
		if (r->since < tz->at[lo])
			r->since = tz->at[lo];
		return;
	}
	r->off = tz->off[lo];
	r->isdst = tz->isdst[lo];
	r->since = tz->at[lo];
}

/* The UTC second of local wall-clock second L (see the file comment). */
static int64_t utc_of_local(const hl_tz *tz, int64_t L, bool *gap)
{
	int32_t cand[4];
	int nc = 0;
	struct lookup r;
	tz_lookup(tz, L - LOOK_AROUND_S, &r);
	cand[nc++] = r.off;
	tz_lookup(tz, L + LOOK_AROUND_S, &r);
	cand[nc++] = r.off;
	for (int i = 0; i < 2; i++) {
		tz_lookup(tz, L - cand[i], &r);
		cand[nc++] = r.off;
	}
	int64_t best = INT64_MAX;
	for (int i = 0; i < nc; i++) {
		tz_lookup(tz, L - cand[i], &r);
		if (r.off == cand[i] && L - cand[i] < best)
			best = L - cand[i];
	}
	*gap = best == INT64_MAX;
	if (!*gap)
		return best;
	/* A gap: it ends where the period after the earlier offset begins. */
	int64_t t = L - cand[0];
	tz_lookup(tz, t, &r);
	for (int i = 0; i < 8 && r.since != INT64_MIN; i++) {
		struct lookup prev;
		tz_lookup(tz, r.since - 1, &prev);
		if (prev.off != r.off)
			break;
		r = prev; /* only the DST flag changed there */
	}
	return r.since != INT64_MIN ? r.since : t;
}

const char *hl_tz_name(const hl_tz *tz)
{
	return tz->name;
}

int32_t hl_tz_offset(const hl_tz *tz, int64_t t_ms)
{
	struct lookup r;
	tz_lookup(tz, floor_div(t_ms, 1000), &r);
	return r.off;
}

void hl_tz_to_civil(const hl_tz *tz, int64_t t_ms, hl_civil *out)
{
	struct lookup r;
	int64_t s = floor_div(t_ms, 1000);
	tz_lookup(tz, s, &r);
	int64_t local = s + r.off;
	int64_t day = floor_div(local, SECONDS_PER_DAY), sod = local - day * SECONDS_PER_DAY;
	civil_from_days(day, &out->year, &out->month, &out->day);
	out->hour = (int)(sod / 3600);
	out->minute = (int)(sod / 60 % 60);
	out->second = (int)(sod % 60);
	out->ms = (int)(t_ms - s * 1000);
	out->weekday = weekday_of_days(day);
	out->utoff = r.off;
	out->isdst = r.isdst;
}

int64_t hl_tz_from_local(const hl_tz *tz, int64_t local_ms)
{
	int64_t L = floor_div(local_ms, 1000);
	bool gap;
	int64_t u = utc_of_local(tz, L, &gap);
	return gap ? u * 1000 : u * 1000 + (local_ms - L * 1000);
}

void hl_tz_free(hl_tz *tz)
{
	if (!tz)
		return;
	free(tz->at);
	free(tz->off);
	free(tz->isdst);
	free(tz->name);
	free(tz);
}

static hl_tz *tz_alloc(const char *name, size_t n)
{
	hl_tz *tz = calloc(1, sizeof *tz);
	if (!tz)
		return NULL;
	tz->name = strdup(name);
	if (n) {
		tz->at = malloc(n * sizeof *tz->at);
		tz->off = malloc(n * sizeof *tz->off);
		tz->isdst = malloc(n);
	}
	if (!tz->name || (n && (!tz->at || !tz->off || !tz->isdst))) {
		hl_tz_free(tz);
		return NULL;
	}
	return tz;
}

hl_status hl_tz_posix_new(const char *spec, hl_tz **out, hl_error *err)
{
	struct posix_tz z;
	*out = NULL;
	if (!spec || strlen(spec) > 128 || !posix_parse(spec, &z))
		return hl_fail(err, HL_INVALID, "zone: invalid POSIX TZ string");
	hl_tz *tz = tz_alloc(spec, 0);
	if (!tz)
		return hl_fail(err, HL_NOMEM, "zone: out of memory");
	tz->has_footer = true;
	tz->footer = z;
	tz->off0 = z.std_off;
	*out = tz;
	return HL_OK;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static bool tzif_header(const uint8_t *p, size_t avail, struct tzif_counts *c)
{
	if (avail < TZIF_HEADER_LEN || memcmp(p, "TZif", 4) != 0)
		return false;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	return c->time <= TZIF_TIMES_MAX && c->type >= 1 && c->type <= 256 && c->chars <= 65536 && c->leap <= 65536 &&
	       c->isstd <= c->type && c->isut <= c->type;
}

static size_t tzif_body_len(const struct tzif_counts *c, size_t time_size)
{
	return (size_t)c->time * (time_size + 1) + (size_t)c->type * 6 + c->chars + (size_t)c->leap * (time_size + 4) +
	       c->isstd + c->isut;
}

/* Parse a TZif v2+ file image into a new zone named name. */
static hl_status tzif_parse(const uint8_t *p, size_t n, const char *name, hl_tz **out, hl_error *err)
{
	struct tzif_counts c;
	if (!tzif_header(p, n, &c))
		return hl_fail(err, HL_INVALID, "zone: %s: not a TZif file", name);
	if (p[4] < '2')
		return hl_fail(err, HL_INVALID, "zone: %s: TZif version 1 has no 64-bit data", name);
	size_t v1 = TZIF_HEADER_LEN + tzif_body_len(&c, 4);
	if (v1 > n || !tzif_header(p + v1, n - v1, &c))
		return hl_fail(err, HL_INVALID, "zone: %s: truncated TZif file", name);
	if (c.leap)
		return hl_fail(err, HL_INVALID, "zone: %s: zones with leap seconds are not supported", name);
	const uint8_t *body = p + v1 + TZIF_HEADER_LEN;
	size_t body_len = tzif_body_len(&c, 8);
	if (body_len > n - v1 - TZIF_HEADER_LEN)
		return hl_fail(err, HL_INVALID, "zone: %s: truncated TZif file", name);
	const uint8_t *times = body, *idx = body + (size_t)c.time * 8, *types = idx + c.time;

	/* Footer: "\n<POSIX TZ>\n" (empty: none). */
	const uint8_t *f = body + body_len, *end = p + n;
	char footer[129];
	size_t flen = 0;
	if (f < end) {
		if (*f++ != '\n')
			return hl_fail(err, HL_INVALID, "zone: %s: malformed TZif footer", name);
		while (f < end && *f != '\n' && flen < sizeof footer - 1)
			footer[flen++] = (char)*f++;
		if (f >= end || *f != '\n')
			return hl_fail(err, HL_INVALID, "zone: %s: malformed TZif footer", name);
	}
	footer[flen] = '\0';

	int32_t toff[256];
	bool tdst[256];
	for (uint32_t i = 0; i < c.type; i++) {
		toff[i] = (int32_t)be32(types + 6 * i);
		tdst[i] = types[6 * i + 4];
		if (toff[i] < -TZ_OFFSET_MAX || toff[i] > TZ_OFFSET_MAX || types[6 * i + 4] > 1)
			return hl_fail(err, HL_INVALID, "zone: %s: bad local time type", name);
	}
	hl_tz *tz = tz_alloc(name, c.time);
	if (!tz)
		return hl_fail(err, HL_NOMEM, "zone: out of memory");
	tz->off0 = toff[0];
	tz->isdst0 = tdst[0];
	int32_t prev_off = tz->off0;
	bool prev_dst = tz->isdst0;
	int64_t prev_at = INT64_MIN;
	for (uint32_t i = 0; i < c.time; i++) {
		int64_t at = be64(times + 8 * (size_t)i);
		if (idx[i] >= c.type || at <= prev_at) {
			hl_tz_free(tz);
			return hl_fail(err, HL_INVALID, "zone: %s: bad transition table", name);
		}
		prev_at = at;
		if (toff[idx[i]] == prev_off && tdst[idx[i]] == prev_dst)
			continue; /* changes only the abbreviation */
		tz->at[tz->n] = at;
		tz->off[tz->n] = prev_off = toff[idx[i]];
		tz->isdst[tz->n] = prev_dst = tdst[idx[i]];
		tz->n++;
	}
	if (flen) {
		if (!posix_parse(footer, &tz->footer) || tz->footer.std_off < -TZ_OFFSET_MAX ||
		    tz->footer.std_off > TZ_OFFSET_MAX || tz->footer.dst_off < -TZ_OFFSET_MAX ||
		    tz->footer.dst_off > TZ_OFFSET_MAX) {
			hl_tz_free(tz);
			return hl_fail(err, HL_INVALID, "zone: %s: unsupported TZ footer", name);
		}
		tz->has_footer = true;
	}
	*out = tz;
	return HL_OK;
}

static bool tz_name_valid(const char *name)
{
	size_t n = strlen(name), comp = 0;
	if (n == 0 || n > HL_TZ_NAME_MAX || name[0] == '/')
		return false;
	for (size_t i = 0; i <= n; i++) {
		char ch = name[i];
		if (ch == '/' || ch == '\0') {
			const char *s = name + i - comp;
			if (comp == 0 || (comp == 1 && s[0] == '.') || (comp == 2 && s[0] == '.' && s[1] == '.'))
				return false;
			comp = 0;
			continue;
		}
		if (!is_alpha(ch) && !is_digit(ch) && ch != '_' && ch != '+' && ch != '-' && ch != '.')
			return false;
		comp++;
	}
	return true;
}

static hl_status tz_load(const char *name, hl_tz **out, hl_error *err)
{
	char path[sizeof HL_TZ_DIR + HL_TZ_NAME_MAX + 2];
	snprintf(path, sizeof path, "%s/%s", HL_TZ_DIR, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return hl_fail(err, HL_NOT_FOUND, "zone: unknown time zone '%s'", name);
		return hl_fail(err, HL_IO, "zone: cannot open the file of '%s'", name);
	}
	hl_status st = HL_OK;
	uint8_t *data = NULL;
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 || sb.st_size > TZIF_FILE_MAX) {
		st = hl_fail(err, HL_INVALID, "zone: '%s' is not a zone file", name);
		goto out;
	}
	size_t len = (size_t)sb.st_size, got = 0;
	data = malloc(len);
	if (!data) {
		st = hl_fail(err, HL_NOMEM, "zone: out of memory");
		goto out;
	}
	while (got < len) {
		ssize_t k = read(fd, data + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			st = hl_fail(err, HL_IO, "zone: cannot read the file of '%s'", name);
			goto out;
		}
		got += (size_t)k;
	}
	st = tzif_parse(data, len, name, out, err);
out:
	free(data);
	close(fd);
	return st;
}

static pthread_mutex_t zone_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static hl_tz *zone_cache; /* never freed: zones live until the process exits */

hl_status hl_tz_get(const char *name, const hl_tz **out, hl_error *err)
{
	*out = NULL;
	if (!name || !tz_name_valid(name))
		return hl_fail(err, HL_INVALID, "zone: invalid time zone name");
	hl_status st = HL_OK;
	pthread_mutex_lock(&zone_cache_lock);
	hl_tz *tz = zone_cache;
	while (tz && strcmp(tz->name, name) != 0)
		tz = tz->next;
	if (!tz) {
		st = tz_load(name, &tz, err);
		if (st == HL_OK) {
			tz->next = zone_cache;
			zone_cache = tz;
		}
	}
	pthread_mutex_unlock(&zone_cache_lock);
	if (st == HL_OK)
		*out = tz;
	return st;
}

/* ---- calendars: building ---------------------------------------------- */

struct day_hours {
	size_t n;
	hl_calendar_span s[HL_CALENDAR_MAX_SPANS]; /* sorted, disjoint */
};

struct hl_calendar {
	const hl_tz *tz;
	struct day_hours week[7], makeup;
	bool makeup_given;
	int64_t *holidays, *makeups; /* sorted day numbers */
	size_t n_holidays, n_makeups;
};

static const struct day_hours NO_HOURS;

/* Write the n low decimal digits of v (v >= 0). */
static void put_digits(char *out, unsigned v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* "HH:MM" of a minute of the day (0..1440). */
static void fmt_hm(int min, char out[6])
{
	put_digits(out, (unsigned)min / 60, 2);
	out[2] = ':';
	put_digits(out + 3, (unsigned)min % 60, 2);
	out[5] = '\0';
}

/* "YYYY-MM-DD" of a day number within the supported years. */
static void fmt_date(int64_t days, char out[11])
{
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	put_digits(out, (unsigned)y, 4);
	out[4] = '-';
	put_digits(out + 5, (unsigned)m, 2);
	out[7] = '-';
	put_digits(out + 8, (unsigned)d, 2);
	out[10] = '\0';
}

static hl_status check_hours(const char *what, const hl_calendar_hours *h, struct day_hours *out, hl_error *err)
{
	char a[6], b[6], c[6], d[6];
	out->n = 0;
	if (h->n > HL_CALENDAR_MAX_SPANS)
		return hl_fail(err, HL_INVALID, "%s: more than %d intervals", what, HL_CALENDAR_MAX_SPANS);
	if (h->n && !h->spans)
		return hl_fail(err, HL_INVALID, "%s: intervals missing", what);
	for (size_t i = 0; i < h->n; i++) {
		hl_calendar_span sp = h->spans[i];
		if (sp.start < 0 || sp.start > MINUTES_PER_DAY || sp.end < 0 || sp.end > MINUTES_PER_DAY)
			return hl_fail(err, HL_INVALID, "%s: interval %zu: time outside 00:00-24:00", what, i + 1);
		fmt_hm(sp.start, a);
		fmt_hm(sp.end, b);
		if (sp.end < sp.start)
			return hl_fail(err, HL_INVALID, "%s: interval %s-%s ends before it starts", what, a, b);
		if (sp.end == sp.start)
			return hl_fail(err, HL_INVALID, "%s: interval %s-%s is empty", what, a, b);
		size_t k = out->n++; /* insertion sort by start */
		while (k > 0 && out->s[k - 1].start > sp.start) {
			out->s[k] = out->s[k - 1];
			k--;
		}
		out->s[k] = sp;
	}
	for (size_t i = 1; i < out->n; i++) {
		if (out->s[i].start < out->s[i - 1].end) {
			fmt_hm(out->s[i - 1].start, a);
			fmt_hm(out->s[i - 1].end, b);
			fmt_hm(out->s[i].start, c);
			fmt_hm(out->s[i].end, d);
			return hl_fail(err, HL_INVALID, "%s: intervals %s-%s and %s-%s overlap", what, a, b, c, d);
		}
	}
	return HL_OK;
}

static int cmp_days(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static bool in_days(const int64_t *v, size_t n, int64_t day)
{
	return n && bsearch(&day, v, n, sizeof *v, cmp_days) != NULL;
}

/* Validate, convert and sort a list of dates into *out (malloc'd). */
static hl_status check_dates(const char *what, const hl_date *in, size_t n, int64_t **out, hl_error *err)
{
	*out = NULL;
	if (n > HL_CALENDAR_MAX_DATES)
		return hl_fail(err, HL_INVALID, "%s: more than %d dates", what, HL_CALENDAR_MAX_DATES);
	if (n == 0)
		return HL_OK;
	if (!in)
		return hl_fail(err, HL_INVALID, "%s: dates missing", what);
	int64_t *v = malloc(n * sizeof *v);
	if (!v)
		return hl_fail(err, HL_NOMEM, "calendar: out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!hl_date_valid(in[i])) {
			free(v);
			return hl_fail(err, HL_INVALID, "%s[%zu]: invalid date %04d-%02d-%02d", what, i,
				       in[i].year % 100000, in[i].month % 1000, in[i].day % 1000);
		}
		v[i] = hl_date_to_days(in[i]);
	}
	qsort(v, n, sizeof *v, cmp_days);
	for (size_t i = 1; i < n; i++) {
		if (v[i] == v[i - 1]) {
			char s[11];
			fmt_date(v[i], s);
			free(v);
			return hl_fail(err, HL_INVALID, "%s: duplicate date %s", what, s);
		}
	}
	*out = v;
	return HL_OK;
}

void hl_calendar_free(hl_calendar *cal)
{
	if (!cal)
		return;
	free(cal->holidays);
	free(cal->makeups);
	free(cal);
}

static hl_status check_makeups(const hl_calendar *cal, hl_error *err)
{
	char s[11];
	for (size_t i = 0; i < cal->n_makeups; i++) {
		int64_t day = cal->makeups[i];
		int wd = weekday_of_days(day);
		fmt_date(day, s);
		if (in_days(cal->holidays, cal->n_holidays, day))
			return hl_fail(err, HL_INVALID, "makeup_days: %s is also a holiday", s);
		if (cal->week[wd].n)
			return hl_fail(err, HL_INVALID, "makeup_days: %s is a %s, which has working hours already", s,
				       DAY_LONG_NAMES[wd]);
	}
	return HL_OK;
}

hl_status hl_calendar_new(const hl_calendar_spec *spec, hl_calendar **out, hl_error *err)
{
	*out = NULL;
	if (!spec)
		return hl_fail(err, HL_INVALID, "calendar: missing");
	hl_calendar *cal = calloc(1, sizeof *cal);
	if (!cal)
		return hl_fail(err, HL_NOMEM, "calendar: out of memory");
	const char *zone = spec->zone && spec->zone[0] ? spec->zone : HL_CALENDAR_DEFAULT_ZONE;
	hl_status st = hl_tz_get(zone, &cal->tz, err);
	if (st == HL_NOT_FOUND) /* the name is valid, so it may be quoted */
		st = hl_fail(err, HL_INVALID, "zone: unknown time zone '%s'", zone);
	if (st != HL_OK)
		goto out;
	int first = -1;
	for (int d = 0; d < 7 && st == HL_OK; d++) {
		st = check_hours(DAY_NAMES[d], &spec->week[d], &cal->week[d], err);
		if (first < 0 && cal->week[d].n)
			first = d;
	}
	if (st != HL_OK)
		goto out;
	if (first < 0) {
		st = hl_fail(err, HL_INVALID, "week: no working hours");
		goto out;
	}
	cal->makeup_given = spec->makeup_hours.n > 0;
	if (cal->makeup_given)
		st = check_hours("makeup_hours", &spec->makeup_hours, &cal->makeup, err);
	else
		cal->makeup = cal->week[first];
	if (st == HL_OK)
		st = check_dates("holidays", spec->holidays, spec->n_holidays, &cal->holidays, err);
	if (st == HL_OK)
		st = check_dates("makeup_days", spec->makeup_days, spec->n_makeup_days, &cal->makeups, err);
	if (st != HL_OK)
		goto out;
	cal->n_holidays = spec->n_holidays;
	cal->n_makeups = spec->n_makeup_days;
	st = check_makeups(cal, err);
out:
	if (st != HL_OK) {
		hl_calendar_free(cal);
		return st;
	}
	*out = cal;
	return HL_OK;
}

const hl_tz *hl_calendar_zone(const hl_calendar *cal)
{
	return cal->tz;
}

/* ---- calendars: walking ----------------------------------------------- */

static const struct day_hours *hours_of(const hl_calendar *cal, int64_t day)
{
	if (in_days(cal->holidays, cal->n_holidays, day))
		return &NO_HOURS;
	if (in_days(cal->makeups, cal->n_makeups, day))
		return &cal->makeup;
	return &cal->week[weekday_of_days(day)];
}

bool hl_calendar_is_working_day(const hl_calendar *cal, hl_date d)
{
	return hl_date_valid(d) && hours_of(cal, hl_date_to_days(d))->n > 0;
}

/* The local date (day number) of instant t. */
static int64_t local_day(const hl_tz *tz, int64_t t)
{
	struct lookup r;
	int64_t s = floor_div(t, 1000);
	tz_lookup(tz, s, &r);
	return floor_div(s + r.off, SECONDS_PER_DAY);
}

/* The instant of minute `min` of local date `day`. */
static int64_t day_instant(const hl_tz *tz, int64_t day, int min)
{
	bool gap;
	return utc_of_local(tz, day * SECONDS_PER_DAY + (int64_t)min * 60, &gap) * 1000;
}

/* The working intervals of days first..last in order, as UTC instants. */
struct walk {
	const hl_calendar *cal;
	int64_t day, last;
	const struct day_hours *h;
	size_t k;
};

static void walk_init(struct walk *w, const hl_calendar *cal, int64_t first, int64_t last)
{
	w->cal = cal;
	w->day = first;
	w->last = last;
	w->h = hours_of(cal, first);
	w->k = 0;
}

/* The next non-empty interval [*s, *e); false after the last day. */
static bool walk_next(struct walk *w, int64_t *s, int64_t *e)
{
	for (;;) {
		while (w->k < w->h->n) {
			const hl_calendar_span *sp = &w->h->s[w->k++];
			*s = day_instant(w->cal->tz, w->day, sp->start);
			*e = day_instant(w->cal->tz, w->day, sp->end);
			if (*e > *s)
				return true; /* empty only inside a DST gap */
		}
		if (w->day >= w->last)
			return false;
		w->day++;
		w->h = hours_of(w->cal, w->day);
		w->k = 0;
	}
}

static bool instant_ok(int64_t t)
{
	return t >= HL_CALENDAR_MIN_MS && t < HL_CALENDAR_MAX_MS;
}

static hl_status check_instant(const char *what, int64_t t, hl_error *err)
{
	if (!instant_ok(t))
		return hl_fail(err, HL_OUT_OF_RANGE, "%s: instant out of range", what);
	return HL_OK;
}

static hl_status beyond_horizon(hl_error *err)
{
	return hl_fail(err, HL_OUT_OF_RANGE, "deadline: more than %d days ahead", HL_CALENDAR_HORIZON_DAYS);
}

bool hl_calendar_is_working(const hl_calendar *cal, int64_t t)
{
	if (!instant_ok(t))
		return false;
	int64_t day = local_day(cal->tz, t), s, e;
	struct walk w;
	walk_init(&w, cal, day - 1, day + 1);
	while (walk_next(&w, &s, &e) && s <= t)
		if (t < e)
			return true;
	return false;
}

hl_status hl_calendar_next_working(const hl_calendar *cal, int64_t t, int64_t *out, hl_error *err)
{
	hl_status st = check_instant("t", t, err);
	if (st != HL_OK)
		return st;
	int64_t day = local_day(cal->tz, t), s, e;
	struct walk w;
	walk_init(&w, cal, day - 1, day + HL_CALENDAR_HORIZON_DAYS);
	while (walk_next(&w, &s, &e)) {
		if (e > t) {
			*out = s > t ? s : t;
			return HL_OK;
		}
	}
	return beyond_horizon(err);
}

/* Working time of [s, e) outside the merged, sorted pauses; *pi only moves forward. */
static int64_t unpaused(int64_t s, int64_t e, const hl_calendar_pause *p, size_t np, size_t *pi)
{
	int64_t len = e - s;
	while (*pi < np && p[*pi].to <= s)
		(*pi)++;
	for (size_t i = *pi; i < np && p[i].from < e; i++) {
		int64_t f = p[i].from > s ? p[i].from : s, t = p[i].to < e ? p[i].to : e;
		if (t > f)
			len -= t - f;
	}
	return len;
}

/* Working time in [a, b) (a <= b, both valid) minus the pauses. */
static hl_status measure(const hl_calendar *cal, int64_t a, int64_t b, const hl_calendar_pause *p, size_t np,
			 int64_t *out, hl_error *err)
{
	int64_t da = local_day(cal->tz, a), db = local_day(cal->tz, b), s, e, sum = 0;
	size_t pi = 0;
	if (db - da > HL_CALENDAR_HORIZON_DAYS)
		return hl_fail(err, HL_OUT_OF_RANGE, "working time: more than %d days apart", HL_CALENDAR_HORIZON_DAYS);
	struct walk w;
	walk_init(&w, cal, da - 1, db + 1);
	while (walk_next(&w, &s, &e) && s < b) {
		if (e <= a)
			continue;
		sum += unpaused(s > a ? s : a, e < b ? e : b, p, np, &pi);
	}
	*out = sum;
	return HL_OK;
}

/* The earliest instant at which `need` of unpaused working time after start is used up. */
static hl_status advance(const hl_calendar *cal, int64_t start, int64_t need, const hl_calendar_pause *p, size_t np,
			 int64_t *out, hl_error *err)
{
	if (need == 0) {
		*out = start;
		return HL_OK;
	}
	int64_t day = local_day(cal->tz, start), s, e;
	size_t pi = 0;
	struct walk w;
	walk_init(&w, cal, day - 1, day + HL_CALENDAR_HORIZON_DAYS);
	while (walk_next(&w, &s, &e)) {
		int64_t cur = s > start ? s : start;
		while (cur < e) {
			while (pi < np && p[pi].to <= cur)
				pi++;
			if (pi < np && p[pi].from <= cur) { /* the clock stands still */
				if (p[pi].to == HL_CALENDAR_NEVER) {
					*out = HL_CALENDAR_NEVER;
					return HL_OK;
				}
				cur = p[pi].to;
				continue;
			}
			int64_t seg_end = pi < np && p[pi].from < e ? p[pi].from : e;
			if (seg_end - cur >= need) {
				*out = cur + need;
				return HL_OK;
			}
			need -= seg_end - cur;
			cur = seg_end;
		}
	}
	return beyond_horizon(err);
}

hl_status hl_calendar_add_working(const hl_calendar *cal, int64_t t, int64_t ms, int64_t *due, hl_error *err)
{
	hl_status st = check_instant("t", t, err);
	if (st != HL_OK)
		return st;
	if (ms < 0 || ms > HL_CALENDAR_MAX_WORKING_MS)
		return hl_fail(err, HL_INVALID, "duration: must be 0..%lld ms", (long long)HL_CALENDAR_MAX_WORKING_MS);
	return advance(cal, t, ms, NULL, 0, due, err);
}

hl_status hl_calendar_add_working_days(const hl_calendar *cal, int64_t t, int n, int64_t *due, hl_error *err)
{
	hl_status st = check_instant("t", t, err);
	if (st != HL_OK)
		return st;
	if (n < 1 || n > HL_CALENDAR_MAX_DAYS)
		return hl_fail(err, HL_INVALID, "days: must be 1..%d", HL_CALENDAR_MAX_DAYS);
	int64_t d0 = local_day(cal->tz, t);
	int count = 0;
	for (int64_t day = d0 + 1; day <= d0 + HL_CALENDAR_HORIZON_DAYS; day++) {
		const struct day_hours *h = hours_of(cal, day);
		int64_t close = INT64_MIN;
		for (size_t k = 0; k < h->n; k++) {
			int64_t s = day_instant(cal->tz, day, h->s[k].start);
			int64_t e = day_instant(cal->tz, day, h->s[k].end);
			if (e > s)
				close = e;
		}
		if (close != INT64_MIN && ++count == n) {
			*due = close;
			return HL_OK;
		}
	}
	return beyond_horizon(err);
}

hl_status hl_calendar_working_between(const hl_calendar *cal, int64_t a, int64_t b, int64_t *ms, hl_error *err)
{
	hl_status st = check_instant("a", a, err);
	if (st == HL_OK)
		st = check_instant("b", b, err);
	if (st != HL_OK)
		return st;
	if (b >= a)
		return measure(cal, a, b, NULL, 0, ms, err);
	st = measure(cal, b, a, NULL, 0, ms, err);
	if (st == HL_OK)
		*ms = -*ms;
	return st;
}

static int cmp_pause(const void *a, const void *b)
{
	const hl_calendar_pause *x = a, *y = b;
	return x->from < y->from ? -1 : x->from > y->from;
}

/* Validate pauses and merge them into out[] (sorted, disjoint, non-empty). */
static hl_status pauses_prepare(const hl_calendar_pause *in, size_t n, hl_calendar_pause *out, size_t *nout,
				hl_error *err)
{
	*nout = 0;
	if (n > HL_CALENDAR_MAX_PAUSES)
		return hl_fail(err, HL_INVALID, "pauses: more than %d", HL_CALENDAR_MAX_PAUSES);
	if (n && !in)
		return hl_fail(err, HL_INVALID, "pauses: missing");
	for (size_t i = 0; i < n; i++) {
		if (!instant_ok(in[i].from) || (in[i].to != HL_CALENDAR_NEVER && !instant_ok(in[i].to)))
			return hl_fail(err, HL_INVALID, "pauses[%zu]: instant out of range", i);
		if (in[i].to < in[i].from)
			return hl_fail(err, HL_INVALID, "pauses[%zu]: ends before it begins", i);
		out[i] = in[i];
	}
	qsort(out, n, sizeof *out, cmp_pause);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (out[i].to == out[i].from)
			continue;
		if (m && out[i].from <= out[m - 1].to) {
			if (out[i].to > out[m - 1].to)
				out[m - 1].to = out[i].to;
			continue;
		}
		out[m++] = out[i];
	}
	*nout = m;
	return HL_OK;
}

static hl_status check_clock(int64_t start, int64_t allowed_ms, int64_t extension_ms, hl_error *err)
{
	hl_status st = check_instant("start", start, err);
	if (st != HL_OK)
		return st;
	if (allowed_ms < 0 || allowed_ms > HL_CALENDAR_MAX_WORKING_MS)
		return hl_fail(err, HL_INVALID, "allowed_ms: must be 0..%lld", (long long)HL_CALENDAR_MAX_WORKING_MS);
	if (extension_ms < 0 || extension_ms > HL_CALENDAR_MAX_WORKING_MS - allowed_ms)
		return hl_fail(err, HL_INVALID, "extension_ms: must be 0..%lld in total with allowed_ms",
			       (long long)HL_CALENDAR_MAX_WORKING_MS);
	return HL_OK;
}

hl_status hl_calendar_due(const hl_calendar *cal, int64_t start, int64_t allowed_ms, const hl_calendar_pause *pauses,
			  size_t n_pauses, int64_t extension_ms, int64_t *due, hl_error *err)
{
	hl_calendar_pause merged[HL_CALENDAR_MAX_PAUSES];
	size_t nm;
	hl_status st = check_clock(start, allowed_ms, extension_ms, err);
	if (st == HL_OK)
		st = pauses_prepare(pauses, n_pauses, merged, &nm, err);
	if (st != HL_OK)
		return st;
	return advance(cal, start, allowed_ms + extension_ms, merged, nm, due, err);
}

hl_status hl_calendar_elapsed(const hl_calendar *cal, int64_t start, const hl_calendar_pause *pauses, size_t n_pauses,
			      int64_t at, int64_t *elapsed_ms, hl_error *err)
{
	hl_calendar_pause merged[HL_CALENDAR_MAX_PAUSES];
	size_t nm;
	hl_status st = check_instant("start", start, err);
	if (st == HL_OK)
		st = check_instant("at", at, err);
	if (st == HL_OK)
		st = pauses_prepare(pauses, n_pauses, merged, &nm, err);
	if (st != HL_OK)
		return st;
	if (at <= start) {
		*elapsed_ms = 0;
		return HL_OK;
	}
	return measure(cal, start, at, merged, nm, elapsed_ms, err);
}

hl_status hl_calendar_remaining(const hl_calendar *cal, int64_t start, int64_t allowed_ms,
				const hl_calendar_pause *pauses, size_t n_pauses, int64_t extension_ms, int64_t at,
				int64_t *remaining_ms, hl_error *err)
{
	int64_t elapsed;
	hl_status st = check_clock(start, allowed_ms, extension_ms, err);
	if (st == HL_OK)
		st = hl_calendar_elapsed(cal, start, pauses, n_pauses, at, &elapsed, err);
	if (st == HL_OK)
		*remaining_ms = allowed_ms + extension_ms - elapsed;
	return st;
}

/* ---- calendars: text form ----------------------------------------------- */

struct slice {
	const char *p;
	size_t n;
};

static struct slice trim(struct slice s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t' || s.p[0] == '\n' || s.p[0] == '\r')) {
		s.p++;
		s.n--;
	}
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t' || s.p[s.n - 1] == '\n' || s.p[s.n - 1] == '\r'))
		s.n--;
	return s;
}

static bool slice_eq(struct slice s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* Split *rest at the first `sep`: the part before it, trimmed; *rest is what follows. */
static struct slice next_token(struct slice *rest, char sep)
{
	const char *q = memchr(rest->p, sep, rest->n);
	struct slice tok = {rest->p, q ? (size_t)(q - rest->p) : rest->n};
	rest->p += tok.n + (q != NULL);
	rest->n -= tok.n + (q != NULL);
	return trim(tok);
}

/* "H:MM" or "HH:MM", 00:00..24:00. */
static bool parse_hm_text(struct slice s, int *out)
{
	int h = 0, m;
	size_t i = 0;
	while (i < s.n && i < 2 && is_digit(s.p[i]))
		h = h * 10 + (s.p[i++] - '0');
	if (i == 0 || s.n != i + 3 || s.p[i] != ':' || !is_digit(s.p[i + 1]) || !is_digit(s.p[i + 2]))
		return false;
	m = (s.p[i + 1] - '0') * 10 + (s.p[i + 2] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return false;
	*out = h * 60 + m;
	return true;
}

static hl_status parse_hours_text(const char *what, struct slice v, hl_calendar_span *spans, size_t *n, hl_error *err)
{
	*n = 0;
	if (v.n == 0 || slice_eq(v, "off"))
		return HL_OK;
	while (v.n) {
		struct slice item = next_token(&v, ',');
		struct slice a = next_token(&item, '-'), b = trim(item);
		hl_calendar_span sp;
		if (*n == HL_CALENDAR_MAX_SPANS)
			return hl_fail(err, HL_INVALID, "calendar: %s: more than %d intervals", what,
				       HL_CALENDAR_MAX_SPANS);
		if (!parse_hm_text(a, &sp.start) || !parse_hm_text(b, &sp.end))
			return hl_fail(err, HL_INVALID, "calendar: %s: interval %zu is not HH:MM-HH:MM", what, *n + 1);
		spans[(*n)++] = sp;
	}
	return HL_OK;
}

/* "YYYY-MM-DD", a valid date. */
static bool parse_date_text(struct slice s, hl_date *d)
{
	if (s.n != 10 || s.p[4] != '-' || s.p[7] != '-')
		return false;
	int v[3] = {0, 0, 0}, k = 0;
	for (size_t i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			k++;
			continue;
		}
		if (!is_digit(s.p[i]))
			return false;
		v[k] = v[k] * 10 + (s.p[i] - '0');
	}
	*d = (hl_date){v[0], v[1], v[2]};
	return hl_date_valid(*d);
}

struct date_list {
	hl_date *v;
	size_t n;
	bool given;
};

static hl_status parse_dates_text(const char *what, struct slice v, struct date_list *out, hl_error *err)
{
	if (!out->v && !(out->v = malloc(HL_CALENDAR_MAX_DATES * sizeof *out->v)))
		return hl_fail(err, HL_NOMEM, "calendar: out of memory");
	while (v.n) {
		struct slice item = next_token(&v, ',');
		struct slice a = item, b = item;
		for (size_t i = 0; i + 1 < item.n; i++) {
			if (item.p[i] == '.' && item.p[i + 1] == '.') { /* a range */
				a = trim((struct slice){item.p, i});
				b = trim((struct slice){item.p + i + 2, item.n - i - 2});
				break;
			}
		}
		hl_date da, db;
		if (!parse_date_text(a, &da) || !parse_date_text(b, &db))
			return hl_fail(err, HL_INVALID, "calendar: %s: '%.*s' is not a valid YYYY-MM-DD date or range",
				       what, (int)(item.n < 32 ? item.n : 32), item.p);
		int64_t from = hl_date_to_days(da), to = hl_date_to_days(db);
		if (to < from)
			return hl_fail(err, HL_INVALID, "calendar: %s: range %.*s ends before it starts", what,
				       (int)(item.n < 32 ? item.n : 32), item.p);
		for (int64_t day = from; day <= to; day++) {
			if (out->n == HL_CALENDAR_MAX_DATES)
				return hl_fail(err, HL_INVALID, "calendar: %s: more than %d dates", what,
					       HL_CALENDAR_MAX_DATES);
			out->v[out->n++] = hl_date_from_days(day);
		}
	}
	return HL_OK;
}

/* "mon" or "mon-fri" into [*from, *to]; false when not a weekday key. */
static bool weekday_key(struct slice k, int *from, int *to)
{
	bool range = memchr(k.p, '-', k.n) != NULL;
	struct slice a = next_token(&k, '-'), b = range ? trim(k) : a;
	*from = *to = -1;
	for (int d = 0; d < 7; d++) {
		if (slice_eq(a, DAY_NAMES[d]))
			*from = d;
		if (slice_eq(b, DAY_NAMES[d]))
			*to = d;
	}
	return *from >= 0 && *to >= 0;
}

struct text_spec {
	hl_calendar_span spans[8][HL_CALENDAR_MAX_SPANS]; /* 7 weekdays and the make-up hours */
	size_t n[8];
	bool given[8];
	char zone[HL_TZ_NAME_MAX + 1];
	bool zone_given;
	struct date_list holidays, makeups;
};

static hl_status parse_item(struct text_spec *ts, struct slice key, struct slice val, hl_error *err)
{
	int from, to;
	int kl = (int)(key.n < 32 ? key.n : 32);
	if (slice_eq(key, "zone")) {
		if (ts->zone_given)
			return hl_fail(err, HL_INVALID, "calendar: 'zone' given twice");
		if (val.n == 0 || val.n > HL_TZ_NAME_MAX)
			return hl_fail(err, HL_INVALID, "zone: invalid time zone name");
		memcpy(ts->zone, val.p, val.n);
		ts->zone[val.n] = '\0';
		ts->zone_given = true;
		return HL_OK;
	}
	if (slice_eq(key, "holidays") || slice_eq(key, "makeup")) {
		struct date_list *l = key.p[0] == 'h' ? &ts->holidays : &ts->makeups;
		if (l->given)
			return hl_fail(err, HL_INVALID, "calendar: '%.*s' given twice", kl, key.p);
		l->given = true;
		return parse_dates_text(key.p[0] == 'h' ? "holidays" : "makeup", val, l, err);
	}
	if (slice_eq(key, "makeup_hours")) {
		from = to = 7;
	} else if (!weekday_key(key, &from, &to)) {
		return hl_fail(err, HL_INVALID, "calendar: unknown key '%.*s'", kl, key.p);
	} else if (to < from) {
		return hl_fail(err, HL_INVALID, "calendar: weekday range '%.*s' runs backwards", kl, key.p);
	}
	for (int d = from; d <= to; d++) {
		const char *what = d < 7 ? DAY_NAMES[d] : "makeup_hours";
		if (ts->given[d])
			return hl_fail(err, HL_INVALID, "calendar: '%s' given twice", what);
		ts->given[d] = true;
		hl_status st = parse_hours_text(what, val, ts->spans[d], &ts->n[d], err);
		if (st != HL_OK)
			return st;
	}
	return HL_OK;
}

hl_status hl_calendar_parse(const char *text, hl_calendar **out, hl_error *err)
{
	*out = NULL;
	if (!text)
		return hl_fail(err, HL_INVALID, "calendar: missing");
	size_t len = strnlen(text, HL_CALENDAR_TEXT_MAX + 1);
	if (len > HL_CALENDAR_TEXT_MAX)
		return hl_fail(err, HL_INVALID, "calendar: longer than %d bytes", HL_CALENDAR_TEXT_MAX);
	struct text_spec *ts = calloc(1, sizeof *ts);
	if (!ts)
		return hl_fail(err, HL_NOMEM, "calendar: out of memory");
	hl_status st = HL_OK;
	struct slice rest = {text, len};
	while (rest.n && st == HL_OK) {
		struct slice item = next_token(&rest, ';');
		if (item.n == 0)
			continue;
		if (!memchr(item.p, '=', item.n)) {
			st = hl_fail(err, HL_INVALID, "calendar: item '%.*s' is not key=value",
				     (int)(item.n < 32 ? item.n : 32), item.p);
			break;
		}
		struct slice key = next_token(&item, '=');
		st = parse_item(ts, key, trim(item), err);
	}
	if (st == HL_OK) {
		hl_calendar_spec spec = {
			.zone = ts->zone_given ? ts->zone : NULL,
			.holidays = ts->holidays.v,
			.n_holidays = ts->holidays.n,
			.makeup_days = ts->makeups.v,
			.n_makeup_days = ts->makeups.n,
			.makeup_hours = {ts->spans[7], ts->n[7]},
		};
		for (int d = 0; d < 7; d++)
			spec.week[d] = (hl_calendar_hours){ts->spans[d], ts->n[d]};
		st = hl_calendar_new(&spec, out, err);
	}
	free(ts->holidays.v);
	free(ts->makeups.v);
	free(ts);
	return st;
}

static bool same_hours(const struct day_hours *a, const struct day_hours *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->s[i].start != b->s[i].start || a->s[i].end != b->s[i].end)
			return false;
	return true;
}

static void put_hours(hl_buf *b, const struct day_hours *h)
{
	char s[6], e[6];
	for (size_t i = 0; i < h->n; i++) {
		fmt_hm(h->s[i].start, s);
		fmt_hm(h->s[i].end, e);
		hl_buf_printf(b, "%s%s-%s", i ? "," : "", s, e);
	}
}

static void put_dates(hl_buf *b, const char *key, const int64_t *v, size_t n)
{
	char s[11], e[11];
	if (!n)
		return;
	hl_buf_printf(b, ";%s=", key);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		fmt_date(v[i], s);
		fmt_date(v[j], e);
		if (j > i)
			hl_buf_printf(b, "%s%s..%s", i ? "," : "", s, e);
		else
			hl_buf_printf(b, "%s%s", i ? "," : "", s);
		i = j + 1;
	}
}

hl_status hl_calendar_format(const hl_calendar *cal, hl_arena *a, char **out, hl_error *err)
{
	hl_buf b = HL_BUF_INIT;
	*out = NULL;
	hl_buf_printf(&b, "zone=%s", cal->tz->name);
	for (int i = 0; i < 7;) {
		int j = i;
		while (j + 1 < 7 && same_hours(&cal->week[j + 1], &cal->week[i]))
			j++;
		if (cal->week[i].n) {
			if (j > i)
				hl_buf_printf(&b, ";%s-%s=", DAY_NAMES[i], DAY_NAMES[j]);
			else
				hl_buf_printf(&b, ";%s=", DAY_NAMES[i]);
			put_hours(&b, &cal->week[i]);
		}
		i = j + 1;
	}
	put_dates(&b, "holidays", cal->holidays, cal->n_holidays);
	put_dates(&b, "makeup", cal->makeups, cal->n_makeups);
	if (cal->makeup_given) {
		hl_buf_puts(&b, ";makeup_hours=");
		put_hours(&b, &cal->makeup);
	}
	if (!hl_buf_failed(&b))
		*out = hl_arena_strndup(a, b.data, b.len);
	hl_buf_release(&b);
	return *out ? HL_OK : hl_fail(err, HL_NOMEM, "calendar: out of memory");
}
