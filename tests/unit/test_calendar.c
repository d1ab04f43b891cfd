/*
 * test_calendar.c - unit tests of time zones and working-time calendars
 * (calendar.h): the DESIGN §5.7 golden example, working-hour boundaries,
 * weekends, holidays and make-up days (调休), zones with and without DST,
 * pauses and extensions, add/measure consistency over random starts,
 * validation errors, the text form, and 8 threads sharing calendars.
 *
 * The zone conversion is cross-checked against glibc: this test process
 * (and only it) sets TZ and calls localtime_r, single-threaded, before any
 * thread starts.
 */
#define _GNU_SOURCE /* tm_gmtoff */
#include "hl/calendar.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "t.h"

#define MIN_MS HL_MS_PER_MINUTE
#define HOUR_MS HL_MS_PER_HOUR

/* Unix ms of a UTC wall-clock time. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return (hl_date_to_days((hl_date){y, mo, d}) * 1440 + h * 60 + mi) * MIN_MS;
}

/* Unix ms of a local wall-clock time at a fixed offset (minutes east). */
static int64_t at_off(int y, int mo, int d, int h, int mi, int off_min)
{
	return utc(y, mo, d, h, mi) - off_min * MIN_MS;
}

/* Asia/Shanghai is UTC+8 all year (no DST since 1991). */
static int64_t sh(int y, int mo, int d, int h, int mi)
{
	return at_off(y, mo, d, h, mi, 480);
}

static void iso(int64_t ms, char out[40])
{
	if (ms == HL_CALENDAR_NEVER) {
		snprintf(out, 40, "NEVER");
		return;
	}
	int64_t days = ms >= 0 ? ms / HL_MS_PER_DAY : -((-ms + HL_MS_PER_DAY - 1) / HL_MS_PER_DAY);
	int64_t rem = ms - days * HL_MS_PER_DAY;
	hl_date d = hl_date_from_days(days);
	snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", d.year, d.month, d.day, (int)(rem / HOUR_MS),
		 (int)(rem / MIN_MS % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
}

#define T_EQ_TIME(a, b)                                                   \
	do {                                                              \
		int64_t t_x = (a), t_y = (b);                             \
		if (t_x != t_y) {                                         \
			char t_s1[40], t_s2[40];                          \
			iso(t_x, t_s1);                                   \
			iso(t_y, t_s2);                                   \
			T_FAILF("%s == %s, expected %s", #a, t_s1, t_s2); \
		}                                                         \
	} while (0)

#define T_OK(call)                                                             \
	do {                                                                   \
		hl_error t_err = {0};                                          \
		hl_status t_st = (call);                                       \
		(void)t_err;                                                   \
		if (t_st != HL_OK)                                             \
			T_FAILF("%s failed: %s", #call, hl_status_name(t_st)); \
	} while (0)

static const char GOLDEN[] = "zone=Asia/Shanghai; mon-fri=09:00-12:00,13:30-17:30; "
			     "holidays=2025-01-28..2025-02-04; makeup=2025-01-26,2025-02-08";
static const char PLAIN[] = "zone=Asia/Shanghai;mon-fri=09:00-12:00,13:30-17:30";

static hl_calendar *cal_of(const char *text)
{
	hl_calendar *cal = NULL;
	hl_error err = {0};
	if (hl_calendar_parse(text, &cal, &err) != HL_OK) {
		fprintf(stderr, "  calendar '%s': %s\n", text, err.msg);
		return NULL;
	}
	return cal;
}

static int64_t add_h(const hl_calendar *cal, int64_t t, int64_t ms)
{
	int64_t due = -1;
	if (hl_calendar_add_working(cal, t, ms, &due, NULL) != HL_OK)
		return -1;
	return due;
}

static int64_t add_d(const hl_calendar *cal, int64_t t, int n)
{
	int64_t due = -1;
	if (hl_calendar_add_working_days(cal, t, n, &due, NULL) != HL_OK)
		return -1;
	return due;
}

static int64_t next_w(const hl_calendar *cal, int64_t t)
{
	int64_t out = -1;
	if (hl_calendar_next_working(cal, t, &out, NULL) != HL_OK)
		return -1;
	return out;
}

static int64_t between(const hl_calendar *cal, int64_t a, int64_t b)
{
	int64_t ms = INT64_MIN;
	if (hl_calendar_working_between(cal, a, b, &ms, NULL) != HL_OK)
		return INT64_MIN;
	return ms;
}

static int64_t due_of(const hl_calendar *cal, int64_t start, int64_t allowed, const hl_calendar_pause *p, size_t np,
		      int64_t ext)
{
	int64_t due = -1;
	hl_error err = {0};
	if (hl_calendar_due(cal, start, allowed, p, np, ext, &due, &err) != HL_OK) {
		fprintf(stderr, "  due: %s\n", err.msg);
		return -1;
	}
	return due;
}

static int64_t elapsed_of(const hl_calendar *cal, int64_t start, const hl_calendar_pause *p, size_t np, int64_t at)
{
	int64_t ms = INT64_MIN;
	if (hl_calendar_elapsed(cal, start, p, np, at, &ms, NULL) != HL_OK)
		return INT64_MIN;
	return ms;
}

/* A small deterministic generator. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int64_t rnd_range(int64_t lo, int64_t hi) /* [lo, hi) */
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
}

/* ---- dates ----------------------------------------------------------- */

static void test_dates(void)
{
	T_EQ_INT(hl_date_to_days((hl_date){1970, 1, 1}), 0);
	T_EQ_INT(hl_date_to_days((hl_date){2000, 3, 1}), 11017);
	T_EQ_INT(hl_date_weekday((hl_date){1970, 1, 1}), 3);  /* Thursday */
	T_EQ_INT(hl_date_weekday((hl_date){2025, 1, 27}), 0); /* Monday */
	T_EQ_INT(hl_date_weekday((hl_date){2025, 1, 26}), 6); /* Sunday */
	T_EQ_INT(hl_date_weekday((hl_date){2025, 2, 8}), 5);  /* Saturday */
	T_ASSERT(hl_date_valid((hl_date){2024, 2, 29}));
	T_ASSERT(!hl_date_valid((hl_date){2025, 2, 29}));
	T_ASSERT(!hl_date_valid((hl_date){2100, 2, 29}));
	T_ASSERT(hl_date_valid((hl_date){2000, 2, 29}));
	T_ASSERT(!hl_date_valid((hl_date){2025, 4, 31}));
	T_ASSERT(!hl_date_valid((hl_date){2025, 13, 1}));
	T_ASSERT(!hl_date_valid((hl_date){2025, 0, 1}));
	T_ASSERT(!hl_date_valid((hl_date){1969, 12, 31}));
	T_ASSERT(!hl_date_valid((hl_date){2400, 1, 1}));
	/* Round trip against gmtime_r for every day of the supported range. */
	int64_t last = hl_date_to_days((hl_date){2399, 12, 31});
	for (int64_t day = 0; day <= last; day++) {
		hl_date d = hl_date_from_days(day);
		time_t tt = (time_t)(day * 86400);
		struct tm tm;
		gmtime_r(&tt, &tm);
		if (d.year != tm.tm_year + 1900 || d.month != tm.tm_mon + 1 || d.day != tm.tm_mday ||
		    hl_date_to_days(d) != day || hl_date_weekday(d) != (tm.tm_wday + 6) % 7 || !hl_date_valid(d))
			T_FAILF("day %lld: %04d-%02d-%02d", (long long)day, d.year, d.month, d.day);
	}
	T_EQ_INT(utc(2400, 1, 1, 0, 0), HL_CALENDAR_MAX_MS);
}

/* ---- zones against glibc --------------------------------------------- */

static void glibc_zone(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static long glibc_off(int64_t t_s)
{
	time_t tt = (time_t)t_s;
	struct tm tm;
	localtime_r(&tt, &tm);
	return tm.tm_gmtoff;
}

/* Compare hl_tz_to_civil with localtime_r at second t_s; false on a difference. */
static bool civil_matches(const hl_tz *z, int64_t t_s)
{
	time_t tt = (time_t)t_s;
	struct tm tm;
	hl_civil c;
	localtime_r(&tt, &tm);
	hl_tz_to_civil(z, t_s * 1000 + 789, &c);
	bool ok = c.year == tm.tm_year + 1900 && c.month == tm.tm_mon + 1 && c.day == tm.tm_mday &&
		  c.hour == tm.tm_hour && c.minute == tm.tm_min && c.second == tm.tm_sec && c.ms == 789 &&
		  c.weekday == (tm.tm_wday + 6) % 7 && c.utoff == tm.tm_gmtoff && c.isdst == (tm.tm_isdst > 0) &&
		  hl_tz_offset(z, t_s * 1000) == tm.tm_gmtoff;
	if (!ok)
		fprintf(stderr,
			"  %s at %lld: ours %04d-%02d-%02d %02d:%02d:%02d off %d dst %d, glibc %04d-%02d-%02d "
			"%02d:%02d:%02d off %ld dst %d\n",
			hl_tz_name(z), (long long)t_s, c.year, c.month, c.day, c.hour, c.minute, c.second, c.utoff,
			c.isdst, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			tm.tm_gmtoff, tm.tm_isdst);
	return ok;
}

struct offsets {
	long v[32];
	int n;
};

static void offsets_add(struct offsets *o, long off)
{
	for (int i = 0; i < o->n; i++)
		if (o->v[i] == off)
			return;
	if (o->n < 32)
		o->v[o->n++] = off;
}

/*
 * Check hl_tz_from_local at local second L against glibc: where L occurs,
 * the answer is its earliest occurrence (brute force over every offset the
 * zone uses); where it does not (a gap), the answer is the instant at which
 * the clock jumps over L.
 */
static bool from_local_matches(const hl_tz *z, const struct offsets *o, int64_t L)
{
	int64_t best = INT64_MAX;
	for (int i = 0; i < o->n; i++)
		if (glibc_off(L - o->v[i]) == o->v[i] && L - o->v[i] < best)
			best = L - o->v[i];
	int64_t u = hl_tz_from_local(z, L * 1000 + 250);
	bool ok;
	if (best != INT64_MAX) {
		ok = u == best * 1000 + 250;
	} else {
		int64_t us = u / 1000;
		ok = u % 1000 == 0 && us - 1 + glibc_off(us - 1) < L && us + glibc_off(us) > L;
	}
	if (!ok)
		fprintf(stderr, "  %s: local %lld -> %lld (glibc earliest %lld)\n", hl_tz_name(z), (long long)L,
			(long long)u, (long long)best);
	return ok;
}

/* Find the transitions in [from, to) (scanning every 6 h) and check around each. */
static int check_zone_range(const hl_tz *z, struct offsets *o, int64_t from, int64_t to, int *transitions)
{
	int bad = 0;
	long prev = glibc_off(from);
	offsets_add(o, prev);
	for (int64_t t = from + 6 * 3600; t < to && bad < 5; t += 6 * 3600) {
		long cur = glibc_off(t);
		if (cur == prev)
			continue;
		int64_t lo = t - 6 * 3600, hi = t; /* off(lo) == prev, off(hi) != prev */
		while (hi - lo > 1) {
			int64_t mid = lo + (hi - lo) / 2;
			if (glibc_off(mid) == prev)
				lo = mid;
			else
				hi = mid;
		}
		offsets_add(o, glibc_off(hi));
		(*transitions)++;
		static const int64_t around[] = {-86400, -3601, -3600, -1800, -1, 0, 1, 1800, 3599, 3600, 86400};
		for (size_t i = 0; i < sizeof around / sizeof around[0]; i++)
			bad += !civil_matches(z, hi + around[i]);
		/* Every quarter hour of local time from before to after the change. */
		long ob = prev, oa = glibc_off(hi);
		int64_t l0 = hi + (ob < oa ? ob : oa) - 2 * 3600, l1 = hi + (ob > oa ? ob : oa) + 2 * 3600;
		for (int64_t L = l0; L <= l1; L += 900)
			bad += !from_local_matches(z, o, L);
		bad += !from_local_matches(z, o, hi + ob);
		bad += !from_local_matches(z, o, hi + oa);
		bad += !from_local_matches(z, o, hi + ob - 1);
		bad += !from_local_matches(z, o, hi + oa - 1);
		prev = cur;
	}
	return bad;
}

static void check_zone(const char *name)
{
	char tzvar[80];
	const hl_tz *z = NULL;
	hl_error err = {0};
	hl_status st = hl_tz_get(name, &z, &err);
	if (st != HL_OK)
		T_FAILF("zone %s: %s", name, err.msg);
	snprintf(tzvar, sizeof tzvar, ":%s", name);
	glibc_zone(tzvar);
	struct offsets o = {.n = 0};
	int bad = 0, transitions = 0;
	/* The table years, then footer years far beyond the table (2037+). */
	bad += check_zone_range(z, &o, utc(1970, 1, 1, 0, 0) / 1000, utc(2045, 1, 1, 0, 0) / 1000, &transitions);
	bad += check_zone_range(z, &o, utc(2095, 1, 1, 0, 0) / 1000, utc(2110, 1, 1, 0, 0) / 1000, &transitions);
	bad += check_zone_range(z, &o, utc(2385, 1, 1, 0, 0) / 1000, utc(2399, 12, 1, 0, 0) / 1000, &transitions);
	/* Random instants and random local times over the whole range. */
	for (int i = 0; i < 3000 && bad < 10; i++) {
		int64_t t = rnd_range(0, HL_CALENDAR_MAX_MS / 1000 - 86400 * 2);
		bad += !civil_matches(z, t);
		bad += !from_local_matches(z, &o, t);
	}
	if (bad)
		T_FAILF("zone %s: %d differences from glibc", name, bad);
	fprintf(stderr, "  zone %-22s %4d transitions checked, %d offsets\n", name, transitions, o.n);
}

static void test_zones_match_glibc(void)
{
	static const char *const zones[] = {
		"Asia/Shanghai",       "UTC",
		"Europe/Berlin",       "America/New_York",
		"Australia/Sydney",    "Asia/Kolkata",
		"America/Sao_Paulo",   "Pacific/Apia",
		"Australia/Lord_Howe", "Pacific/Chatham",
		"America/St_Johns",    "Asia/Tehran",
		"Europe/Dublin",       "Africa/Casablanca",
		"America/Santiago",    "Asia/Jerusalem",
	};
	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		check_zone(zones[i]);
		if (t_cur_failed)
			return;
	}
	/* A zone is loaded once: the same object every time. */
	const hl_tz *a = NULL, *b = NULL;
	T_OK(hl_tz_get("Europe/Berlin", &a, &t_err));
	T_OK(hl_tz_get("Europe/Berlin", &b, &t_err));
	T_ASSERT(a == b);
	T_EQ_STR(hl_tz_name(a), "Europe/Berlin");
}

/* POSIX TZ strings alone (the TZif footer syntax) against glibc's parser. */
static void test_posix_tz_match_glibc(void)
{
	static const char *const specs[] = {
		"CST-8",
		"UTC0",
		"<+08>-8",
		"<+0330>-3:30",
		"<-0930>9:30",
		"EST5EDT,M3.2.0,M11.1.0",
		"CET-1CEST,M3.5.0,M10.5.0/3",
		"AEST-10AEDT,M10.1.0,M4.1.0/3",
		"NZST-12NZDT,M9.5.0,M4.1.0/3",
		"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
		"IST-2IDT,M3.4.4/26,M10.5.0",
		"XXX3YYY,J60/2,J300/1:30",
		"AAA-1BBB-3,59/0,300/4",
		"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
		"GMT0IST,M10.5.0,M3.5.0/1",
		"ABC+5:30:15DEF+4:30,M4.1.6/12,M10.3.3/167",
	};
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		hl_tz *z = NULL;
		hl_error err = {0};
		if (hl_tz_posix_new(specs[i], &z, &err) != HL_OK)
			T_FAILF("posix %s: %s", specs[i], err.msg);
		glibc_zone(specs[i]);
		int bad = 0, transitions = 0;
		struct offsets o = {.n = 0};
		bad += check_zone_range(z, &o, utc(2020, 1, 1, 0, 0) / 1000, utc(2032, 1, 1, 0, 0) / 1000,
					&transitions);
		bad += check_zone_range(z, &o, utc(2396, 1, 1, 0, 0) / 1000, utc(2399, 12, 1, 0, 0) / 1000,
					&transitions);
		for (int k = 0; k < 500; k++) {
			int64_t t = rnd_range(0, HL_CALENDAR_MAX_MS / 1000 - 86400 * 2);
			bad += !civil_matches(z, t);
		}
		T_EQ_STR(hl_tz_name(z), specs[i]);
		hl_tz_free(z);
		if (bad)
			T_FAILF("posix %s: %d differences from glibc", specs[i], bad);
		/* Rules with DST must have shown transitions (the check can fail). */
		if (strchr(specs[i], ',') && transitions < 20)
			T_FAILF("posix %s: only %d transitions", specs[i], transitions);
	}
	/* Without rules a DST zone uses the current US rules (glibc takes older years
	 * from its posixrules file, so compare from 2007 on only). */
	hl_tz *us = NULL;
	T_OK(hl_tz_posix_new("EST5EDT", &us, &t_err));
	glibc_zone("EST5EDT");
	int us_bad = 0, us_transitions = 0;
	struct offsets us_o = {.n = 0};
	us_bad = check_zone_range(us, &us_o, utc(2007, 1, 1, 0, 0) / 1000, utc(2037, 1, 1, 0, 0) / 1000,
				  &us_transitions);
	hl_tz_free(us);
	T_EQ_INT(us_bad, 0);
	T_EQ_INT(us_transitions, 60);
	static const char *const bad_specs[] = {
		"",
		"C",
		"CST",
		"CST-",
		"CST-8,",
		"CST-25",
		"CST-8CDT,M13.1.0,M1.1.0",
		"CST-8CDT,M3.6.0,M11.1.0",
		"CST-8CDT,M3.2.7,M11.1.0",
		"CST-8CDT,J0,J100",
		"CST-8CDT,J60",
		"CST-8CDT,366,100",
		"CST-8CDT,M3.2.0/168,M11.1.0",
		"<+8>-8",
		"CST-8 ",
		"CS1-8",
	};
	for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
		hl_tz *z = NULL;
		hl_error err = {0};
		if (hl_tz_posix_new(bad_specs[i], &z, &err) != HL_INVALID || z)
			T_FAILF("posix '%s' should be refused", bad_specs[i]);
	}
}

static void test_zone_names(void)
{
	static const char *const bad[] = {"",
					  "/etc/passwd",
					  "../etc/passwd",
					  "Asia/../../etc/passwd",
					  "Asia//Shanghai",
					  "Asia/Shanghai/",
					  "Asia/Shang hai",
					  "Asia/./Shanghai",
					  "Asia\\Shanghai",
					  "A2345678901234567890123456789012345678901234567890123456789012345"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const hl_tz *z = NULL;
		hl_error err = {0};
		if (hl_tz_get(bad[i], &z, &err) != HL_INVALID || z)
			T_FAILF("zone name '%s' should be invalid", bad[i]);
		T_EQ_STR(err.msg, "zone: invalid time zone name");
	}
	const hl_tz *z = NULL;
	hl_error err = {0};
	T_EQ_INT(hl_tz_get("Mars/Olympus_Mons", &z, &err), HL_NOT_FOUND);
	T_EQ_STR(err.msg, "zone: unknown time zone 'Mars/Olympus_Mons'");
	/* A directory and a non-TZif file are refused. */
	T_EQ_INT(hl_tz_get("Asia", &z, &err), HL_INVALID);
	T_EQ_INT(hl_tz_get("zone.tab", &z, &err), HL_INVALID);
	/* Leap-second zones ("right/") are refused when installed. */
	FILE *f = fopen(HL_TZ_DIR "/right/UTC", "rb");
	if (f) {
		fclose(f);
		T_EQ_INT(hl_tz_get("right/UTC", &z, &err), HL_INVALID);
	}
	/* Controls: valid names load. */
	T_OK(hl_tz_get("Etc/GMT-8", &z, &t_err));
	T_EQ_INT(hl_tz_offset(z, 0), 8 * 3600);
	T_OK(hl_tz_get("America/Argentina/Buenos_Aires", &z, &t_err));
	T_EQ_INT(hl_tz_offset(z, utc(2025, 1, 1, 0, 0)), -3 * 3600);
}

/* ---- the golden example (DESIGN §5.7) --------------------------------- */

static void test_golden_example(void)
{
	hl_calendar *cal = cal_of(GOLDEN);
	T_ASSERT(cal);
	int64_t t = sh(2025, 1, 27, 16, 0); /* Mon 16:00 Asia/Shanghai */

	/* "3 working days": Feb 5, 6, 7 are the working days after Jan 27. */
	T_EQ_TIME(add_d(cal, t, 3), sh(2025, 2, 7, 17, 30));

	/*
	 * "4 working hours".  DESIGN §5.7 says 2025-02-05 11:00; no reading of
	 * the stated rules gives that.  Mon 16:00-17:30 is 1.5 h of working
	 * time, Jan 28 - Feb 4 are holidays, so the remaining 2.5 h run from
	 * Wed Feb 5 09:00 to 11:30.  11:00 would need 2 h on Monday (a close at
	 * 18:00) or a 08:30 opening, and the lunch break is not involved
	 * (11:00 and 11:30 are both before 12:00).  Dropping Monday entirely
	 * gives 14:30, rounding the start up gives 11:30 as well.  We implement
	 * the natural rule and assert its value; see the report.
	 */
	T_EQ_TIME(add_h(cal, t, 4 * HOUR_MS), sh(2025, 2, 5, 11, 30));
	T_ASSERT(add_h(cal, t, 4 * HOUR_MS) != sh(2025, 2, 5, 11, 0));
	T_EQ_INT(between(cal, t, sh(2025, 2, 5, 11, 30)), 4 * HOUR_MS);
	T_EQ_INT(between(cal, t, sh(2025, 2, 5, 11, 0)), 3 * HOUR_MS + 30 * MIN_MS);
	T_EQ_INT(between(cal, t, sh(2025, 1, 27, 17, 30)), 90 * MIN_MS);

	/* The make-up days work, the holidays do not. */
	hl_date d0 = {2025, 1, 26}, d1 = {2025, 2, 8}, d2 = {2025, 1, 28}, d3 = {2025, 2, 4}, d4 = {2025, 2, 9};
	T_ASSERT(hl_calendar_is_working_day(cal, d0));
	T_ASSERT(hl_calendar_is_working_day(cal, d1));
	T_ASSERT(!hl_calendar_is_working_day(cal, d2));
	T_ASSERT(!hl_calendar_is_working_day(cal, d3));
	T_ASSERT(!hl_calendar_is_working_day(cal, d4));
	T_ASSERT(hl_calendar_is_working_day(cal, (hl_date){2025, 2, 5}));
	/* 4 working days lands on the make-up Saturday. */
	T_EQ_TIME(add_d(cal, t, 4), sh(2025, 2, 8, 17, 30));
	T_EQ_TIME(add_d(cal, t, 5), sh(2025, 2, 10, 17, 30));
	hl_calendar_free(cal);
}

/* ---- working hours --------------------------------------------------- */

static void test_boundaries(void)
{
	hl_calendar *cal = cal_of(PLAIN);
	T_ASSERT(cal);
	/* Mon 2025-03-03 .. Fri 2025-03-07 is an ordinary week. */
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 3, 9, 0) - 1));
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 3, 3, 9, 0)));
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 3, 3, 12, 0) - 1));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 3, 12, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 3, 12, 45)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 3, 13, 30) - 1));
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 3, 3, 13, 30)));
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 3, 3, 17, 30) - 1));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 3, 17, 30)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 3, 20, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 8, 10, 0))); /* Saturday */
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 9, 10, 0))); /* Sunday */
	T_ASSERT(!hl_calendar_is_working(cal, -1));
	T_ASSERT(!hl_calendar_is_working(cal, HL_CALENDAR_MAX_MS));

	T_EQ_TIME(next_w(cal, sh(2025, 3, 3, 8, 0)), sh(2025, 3, 3, 9, 0));
	T_EQ_TIME(next_w(cal, sh(2025, 3, 3, 9, 0)), sh(2025, 3, 3, 9, 0));
	T_EQ_TIME(next_w(cal, sh(2025, 3, 3, 10, 17)), sh(2025, 3, 3, 10, 17));
	T_EQ_TIME(next_w(cal, sh(2025, 3, 3, 12, 0)), sh(2025, 3, 3, 13, 30));
	T_EQ_TIME(next_w(cal, sh(2025, 3, 3, 12, 45)), sh(2025, 3, 3, 13, 30));
	T_EQ_TIME(next_w(cal, sh(2025, 3, 3, 17, 30)), sh(2025, 3, 4, 9, 0));
	T_EQ_TIME(next_w(cal, sh(2025, 3, 3, 23, 59)), sh(2025, 3, 4, 9, 0));
	T_EQ_TIME(next_w(cal, sh(2025, 3, 7, 17, 30)), sh(2025, 3, 10, 9, 0)); /* Fri close -> Mon */
	T_EQ_TIME(next_w(cal, sh(2025, 3, 8, 11, 0)), sh(2025, 3, 10, 9, 0));  /* Saturday -> Mon */
	T_EQ_TIME(next_w(cal, sh(2025, 3, 3, 1, 0)), sh(2025, 3, 3, 9, 0));    /* UTC date is Sunday */

	/* Adding working time: the earliest instant the amount is used up. */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 9, 0), 0), sh(2025, 3, 3, 9, 0));
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 7, 0), 0), sh(2025, 3, 3, 7, 0));
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 9, 0), 3 * HOUR_MS), sh(2025, 3, 3, 12, 0));
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 9, 0), 3 * HOUR_MS + 1), sh(2025, 3, 3, 13, 30) + 1);
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 7, 0), 1 * HOUR_MS), sh(2025, 3, 3, 10, 0));    /* before opening */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 12, 45), 1 * HOUR_MS), sh(2025, 3, 3, 14, 30)); /* in lunch */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 12, 0), 1 * HOUR_MS), sh(2025, 3, 3, 14, 30));  /* at 12:00 */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 11, 0), 2 * HOUR_MS), sh(2025, 3, 3, 14, 30));  /* over lunch */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 17, 30), 1 * HOUR_MS), sh(2025, 3, 4, 10, 0));  /* at close */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 20, 0), 1 * HOUR_MS), sh(2025, 3, 4, 10, 0));   /* evening */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 9, 0), 7 * HOUR_MS), sh(2025, 3, 3, 17, 30));   /* a full day */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 9, 0), 7 * HOUR_MS + MIN_MS), sh(2025, 3, 4, 9, 1));
	T_EQ_TIME(add_h(cal, sh(2025, 3, 7, 16, 30), 2 * HOUR_MS), sh(2025, 3, 10, 10, 0)); /* over a weekend */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 8, 10, 0), 1 * HOUR_MS), sh(2025, 3, 10, 10, 0));  /* from Saturday */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 9, 0), 35 * HOUR_MS), sh(2025, 3, 7, 17, 30));  /* a week */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 9, 0), 36 * HOUR_MS), sh(2025, 3, 10, 10, 0));
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 9, 0), 70 * HOUR_MS), sh(2025, 3, 14, 17, 30)); /* two weeks */
	T_EQ_TIME(add_h(cal, sh(2025, 3, 3, 10, 0), 1), sh(2025, 3, 3, 10, 0) + 1);         /* one ms */

	/* Working days: the day of T never counts, whatever the hour. */
	T_EQ_TIME(add_d(cal, sh(2025, 3, 3, 10, 0), 1), sh(2025, 3, 4, 17, 30));
	T_EQ_TIME(add_d(cal, sh(2025, 3, 3, 7, 0), 1), sh(2025, 3, 4, 17, 30));
	T_EQ_TIME(add_d(cal, sh(2025, 3, 3, 23, 59), 1), sh(2025, 3, 4, 17, 30));
	T_EQ_TIME(add_d(cal, sh(2025, 3, 7, 10, 0), 1), sh(2025, 3, 10, 17, 30)); /* Fri -> Mon */
	T_EQ_TIME(add_d(cal, sh(2025, 3, 8, 10, 0), 1), sh(2025, 3, 10, 17, 30)); /* Sat -> Mon */
	T_EQ_TIME(add_d(cal, sh(2025, 3, 9, 23, 0), 1), sh(2025, 3, 10, 17, 30)); /* Sun -> Mon */
	T_EQ_TIME(add_d(cal, sh(2025, 3, 3, 10, 0), 5), sh(2025, 3, 10, 17, 30));
	T_EQ_TIME(add_d(cal, sh(2025, 3, 3, 10, 0), 15), sh(2025, 3, 24, 17, 30)); /* across weeks */
	T_EQ_TIME(add_d(cal, sh(2025, 3, 3, 10, 0), 260), sh(2026, 3, 2, 17, 30)); /* a year of weekdays */

	/* Working time between instants, both ways. */
	T_EQ_INT(between(cal, sh(2025, 3, 3, 0, 0), sh(2025, 3, 4, 0, 0)), 7 * HOUR_MS);
	T_EQ_INT(between(cal, sh(2025, 3, 3, 0, 0), sh(2025, 3, 10, 0, 0)), 35 * HOUR_MS);
	T_EQ_INT(between(cal, sh(2025, 3, 3, 11, 0), sh(2025, 3, 3, 14, 0)), 90 * MIN_MS);
	T_EQ_INT(between(cal, sh(2025, 3, 3, 14, 0), sh(2025, 3, 3, 11, 0)), -90 * MIN_MS);
	T_EQ_INT(between(cal, sh(2025, 3, 8, 0, 0), sh(2025, 3, 10, 0, 0)), 0); /* weekend */
	T_EQ_INT(between(cal, sh(2025, 3, 3, 10, 0), sh(2025, 3, 3, 10, 0)), 0);
	hl_calendar_free(cal);
}

static void test_holidays_and_makeup_days(void)
{
	hl_calendar *cal = cal_of(GOLDEN);
	T_ASSERT(cal);
	/* Make-up Sunday Jan 26 works Monday's hours. */
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 1, 26, 8, 59)));
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 1, 26, 9, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 1, 26, 12, 30)));
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 1, 26, 17, 29)));
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 2, 8, 10, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 2, 15, 10, 0))); /* an ordinary Saturday */
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 1, 19, 10, 0))); /* an ordinary Sunday */
	/* Holidays on weekdays do not work. */
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 1, 28, 10, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 2, 3, 10, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 2, 4, 16, 0)));
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 2, 5, 9, 0)));
	T_EQ_TIME(next_w(cal, sh(2025, 1, 27, 17, 30)), sh(2025, 2, 5, 9, 0));
	T_EQ_TIME(next_w(cal, sh(2025, 1, 25, 12, 0)), sh(2025, 1, 26, 9, 0)); /* Sat -> make-up Sun */
	T_EQ_TIME(add_h(cal, sh(2025, 1, 24, 17, 0), HOUR_MS), sh(2025, 1, 26, 9, 30));
	T_EQ_TIME(add_d(cal, sh(2025, 1, 24, 10, 0), 1), sh(2025, 1, 26, 17, 30));
	T_EQ_TIME(add_d(cal, sh(2025, 1, 24, 10, 0), 2), sh(2025, 1, 27, 17, 30));
	T_EQ_TIME(add_d(cal, sh(2025, 1, 24, 10, 0), 3), sh(2025, 2, 5, 17, 30));
	T_EQ_INT(between(cal, sh(2025, 1, 27, 0, 0), sh(2025, 2, 5, 0, 0)), 7 * HOUR_MS);
	T_EQ_INT(between(cal, sh(2025, 2, 3, 0, 0), sh(2025, 2, 10, 0, 0)), 28 * HOUR_MS); /* 5,6,7,8 */
	hl_calendar_free(cal);

	/* Explicit make-up hours replace the default (Monday's). */
	cal = cal_of("mon-fri=09:00-12:00,13:30-17:30;makeup=2025-01-26;makeup_hours=10:00-15:00");
	T_ASSERT(cal);
	T_EQ_STR(hl_tz_name(hl_calendar_zone(cal)), "Asia/Shanghai"); /* the default zone */
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 1, 26, 9, 30)));
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 1, 26, 12, 30)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 1, 26, 15, 0)));
	T_EQ_TIME(add_d(cal, sh(2025, 1, 25, 10, 0), 1), sh(2025, 1, 26, 15, 0));
	hl_calendar_free(cal);

	/* Default make-up hours come from the first weekday with hours. */
	cal = cal_of("mon=off;tue=08:00-11:00;wed-fri=09:00-17:00;makeup=2025-03-02");
	T_ASSERT(cal);
	T_ASSERT(hl_calendar_is_working(cal, sh(2025, 3, 2, 8, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 2, 11, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, sh(2025, 3, 3, 10, 0))); /* Monday is off */
	hl_calendar_free(cal);

	/* A long holiday: National Day 2025 (Oct 1-8 off, make-up Sun Sep 28 and Sat Oct 11). */
	cal = cal_of("mon-fri=09:00-12:00,13:30-17:30;holidays=2025-10-01..2025-10-08;makeup=2025-09-28,2025-10-11");
	T_ASSERT(cal);
	T_EQ_TIME(add_d(cal, sh(2025, 9, 30, 10, 0), 1), sh(2025, 10, 9, 17, 30));
	T_EQ_TIME(add_d(cal, sh(2025, 9, 30, 10, 0), 3), sh(2025, 10, 11, 17, 30)); /* make-up Saturday */
	T_EQ_TIME(add_d(cal, sh(2025, 9, 30, 10, 0), 5), sh(2025, 10, 14, 17, 30));
	T_EQ_TIME(add_h(cal, sh(2025, 9, 30, 16, 0), 10 * HOUR_MS), sh(2025, 10, 10, 10, 30));
	T_EQ_TIME(add_h(cal, sh(2025, 9, 26, 16, 0), 10 * HOUR_MS), sh(2025, 9, 29, 10, 30)); /* via Sun 28 */
	T_EQ_TIME(next_w(cal, sh(2025, 10, 1, 0, 0)), sh(2025, 10, 9, 9, 0));
	hl_calendar_free(cal);
}

/* ---- zones in calendars ---------------------------------------------- */

static void test_calendar_zones(void)
{
	/* UTC. */
	hl_calendar *cal = cal_of("zone=UTC;mon-fri=09:00-17:00");
	T_ASSERT(cal);
	T_ASSERT(hl_calendar_is_working(cal, utc(2025, 3, 3, 9, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, utc(2025, 3, 3, 17, 0)));
	T_EQ_TIME(add_h(cal, utc(2025, 3, 7, 16, 0), 2 * HOUR_MS), utc(2025, 3, 10, 10, 0));
	T_EQ_TIME(add_d(cal, utc(2025, 3, 3, 16, 0), 1), utc(2025, 3, 4, 17, 0));
	hl_calendar_free(cal);

	/* Asia/Shanghai differs from UTC by 8 h: 01:00 UTC Mon is 09:00 local. */
	cal = cal_of(PLAIN);
	T_ASSERT(cal);
	T_ASSERT(hl_calendar_is_working(cal, utc(2025, 3, 3, 1, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, utc(2025, 3, 3, 9, 30))); /* 17:30 local */
	hl_calendar_free(cal);

	/* Europe/Berlin, spring forward on Sun 2025-03-30 (02:00 CET -> 03:00 CEST). */
	cal = cal_of("zone=Europe/Berlin;mon-fri=09:00-17:00");
	T_ASSERT(cal);
	T_ASSERT(hl_calendar_is_working(cal, at_off(2025, 3, 28, 9, 0, 60)));
	T_ASSERT(hl_calendar_is_working(cal, at_off(2025, 3, 31, 9, 0, 120)));
	T_ASSERT(!hl_calendar_is_working(cal, at_off(2025, 3, 31, 9, 0, 120) - 1));
	T_EQ_TIME(add_h(cal, at_off(2025, 3, 28, 16, 0, 60), 2 * HOUR_MS), at_off(2025, 3, 31, 10, 0, 120));
	T_EQ_TIME(add_d(cal, at_off(2025, 3, 28, 16, 0, 60), 1), at_off(2025, 3, 31, 17, 0, 120));
	T_EQ_INT(between(cal, at_off(2025, 3, 28, 16, 0, 60), at_off(2025, 3, 31, 10, 0, 120)), 2 * HOUR_MS);
	/* Fall back on Sun 2025-10-26 (03:00 CEST -> 02:00 CET). */
	T_EQ_TIME(add_h(cal, at_off(2025, 10, 24, 16, 0, 120), 2 * HOUR_MS), at_off(2025, 10, 27, 10, 0, 60));
	T_EQ_INT(between(cal, at_off(2025, 10, 20, 0, 0, 120), at_off(2025, 11, 3, 0, 0, 60)), 80 * HOUR_MS);
	hl_calendar_free(cal);

	/* Working hours across the change itself: the real elapsed time counts. */
	cal = cal_of("zone=Europe/Berlin;sun=01:00-04:00;mon=09:00-10:00");
	T_ASSERT(cal);
	/* Spring: 01:00 CET (00:00Z) .. 04:00 CEST (02:00Z) is 2 h. */
	T_EQ_INT(between(cal, utc(2025, 3, 29, 0, 0), utc(2025, 3, 31, 0, 0)), 2 * HOUR_MS);
	T_ASSERT(hl_calendar_is_working(cal, utc(2025, 3, 30, 1, 30))); /* 03:30 CEST */
	T_EQ_TIME(add_h(cal, utc(2025, 3, 30, 0, 0), HOUR_MS + 30 * MIN_MS), utc(2025, 3, 30, 1, 30));
	/* Autumn: 01:00 CEST (23:00Z Sat) .. 04:00 CET (03:00Z) is 4 h. */
	T_EQ_INT(between(cal, utc(2025, 10, 25, 0, 0), utc(2025, 10, 27, 0, 0)), 4 * HOUR_MS);
	T_ASSERT(hl_calendar_is_working(cal, utc(2025, 10, 25, 23, 0)));
	T_ASSERT(!hl_calendar_is_working(cal, utc(2025, 10, 25, 23, 0) - 1));
	T_EQ_TIME(add_h(cal, utc(2025, 10, 25, 12, 0), 4 * HOUR_MS), utc(2025, 10, 26, 3, 0));
	hl_calendar_free(cal);

	/* An interval inside the spring gap does not exist that day. */
	cal = cal_of("zone=Europe/Berlin;sun=02:10-02:50");
	T_ASSERT(cal);
	T_ASSERT(hl_calendar_is_working_day(cal, (hl_date){2025, 3, 30}));
	T_EQ_TIME(next_w(cal, utc(2025, 3, 29, 12, 0)), at_off(2025, 4, 6, 2, 10, 120));
	T_EQ_TIME(add_d(cal, utc(2025, 3, 29, 12, 0), 1), at_off(2025, 4, 6, 2, 50, 120));
	T_EQ_INT(between(cal, utc(2025, 3, 29, 0, 0), utc(2025, 3, 31, 0, 0)), 0);
	T_EQ_INT(between(cal, utc(2025, 3, 22, 0, 0), utc(2025, 3, 24, 0, 0)), 40 * MIN_MS); /* control */
	hl_calendar_free(cal);

	/* America/New_York, spring forward Sun 2025-03-09, fall back Sun 2025-11-02. */
	cal = cal_of("zone=America/New_York;mon-fri=09:00-17:00;holidays=2025-11-27");
	T_ASSERT(cal);
	T_EQ_TIME(add_h(cal, at_off(2025, 3, 7, 16, 0, -300), 2 * HOUR_MS), at_off(2025, 3, 10, 10, 0, -240));
	T_EQ_TIME(add_h(cal, at_off(2025, 10, 31, 16, 0, -240), 2 * HOUR_MS), at_off(2025, 11, 3, 10, 0, -300));
	T_EQ_TIME(add_d(cal, at_off(2025, 11, 26, 10, 0, -300), 1), at_off(2025, 11, 28, 17, 0, -300));
	T_ASSERT(hl_calendar_is_working(cal, utc(2025, 7, 1, 13, 0)));   /* 09:00 EDT */
	T_ASSERT(!hl_calendar_is_working(cal, utc(2025, 12, 1, 13, 0))); /* 08:00 EST */
	/* Beyond the TZif table the footer rule applies: 2050-03-13 is the 2nd Sunday. */
	T_EQ_TIME(next_w(cal, at_off(2050, 3, 12, 12, 0, -300)), at_off(2050, 3, 14, 9, 0, -240));
	T_EQ_TIME(next_w(cal, at_off(2050, 3, 11, 17, 0, -300)), at_off(2050, 3, 14, 9, 0, -240));
	T_EQ_TIME(next_w(cal, at_off(2050, 3, 11, 12, 0, -300)), at_off(2050, 3, 11, 12, 0, -300));
	T_EQ_TIME(next_w(cal, at_off(2050, 3, 10, 18, 0, -300)), at_off(2050, 3, 11, 9, 0, -300));
	T_EQ_TIME(next_w(cal, at_off(2050, 11, 4, 17, 0, -240)), at_off(2050, 11, 7, 9, 0, -300));
	hl_calendar_free(cal);

	/* An interval ending at 24:00 meets the next day's 00:00 interval. */
	cal = cal_of("zone=UTC;mon=22:00-24:00;tue=00:00-06:00");
	T_ASSERT(cal);
	T_EQ_TIME(add_h(cal, utc(2025, 3, 3, 23, 0), 2 * HOUR_MS), utc(2025, 3, 4, 1, 0));
	T_EQ_INT(between(cal, utc(2025, 3, 3, 0, 0), utc(2025, 3, 5, 0, 0)), 8 * HOUR_MS);
	T_ASSERT(hl_calendar_is_working(cal, utc(2025, 3, 4, 0, 0)));
	hl_calendar_free(cal);
}

/* ---- pauses and extensions -------------------------------------------- */

static void test_pauses_and_extensions(void)
{
	hl_calendar *cal = cal_of(PLAIN);
	T_ASSERT(cal);
	int64_t start = sh(2025, 3, 3, 9, 0), seven = 7 * HOUR_MS;
	T_EQ_TIME(due_of(cal, start, seven, NULL, 0, 0), sh(2025, 3, 3, 17, 30));
	T_EQ_TIME(due_of(cal, start, seven, NULL, 0, 0), add_h(cal, start, seven));

	/* One pause in working time moves the due time by the paused working time. */
	hl_calendar_pause one[] = {{sh(2025, 3, 3, 10, 0), sh(2025, 3, 3, 11, 0)}};
	T_EQ_TIME(due_of(cal, start, seven, one, 1, 0), sh(2025, 3, 4, 10, 0));

	/* Several pauses, one over the lunch break: only 13:30-14:30 of it counts. */
	hl_calendar_pause two[] = {{sh(2025, 3, 3, 12, 30), sh(2025, 3, 3, 14, 30)},
				   {sh(2025, 3, 3, 10, 0), sh(2025, 3, 3, 11, 0)}};
	T_EQ_TIME(due_of(cal, start, seven, two, 2, 0), sh(2025, 3, 4, 11, 0));

	/* Overlapping pauses count once. */
	hl_calendar_pause over[] = {{sh(2025, 3, 3, 10, 0), sh(2025, 3, 3, 11, 0)},
				    {sh(2025, 3, 3, 10, 30), sh(2025, 3, 3, 11, 30)},
				    {sh(2025, 3, 3, 10, 45), sh(2025, 3, 3, 10, 50)}};
	T_EQ_TIME(due_of(cal, start, seven, over, 3, 0), sh(2025, 3, 4, 10, 30));

	/* A pause over non-working time only (evening to next morning opening) changes nothing. */
	hl_calendar_pause night[] = {{sh(2025, 3, 3, 17, 30), sh(2025, 3, 4, 9, 0)}};
	T_EQ_TIME(due_of(cal, start, 2 * seven, night, 1, 0), sh(2025, 3, 4, 17, 30));
	hl_calendar_pause weekend[] = {{sh(2025, 3, 8, 0, 0), sh(2025, 3, 10, 0, 0)}};
	T_EQ_TIME(due_of(cal, start, 5 * seven, weekend, 1, 0), sh(2025, 3, 7, 17, 30));
	T_EQ_TIME(due_of(cal, start, 6 * seven, weekend, 1, 0), sh(2025, 3, 10, 17, 30));

	/* A pause across a weekend stops the Friday afternoon and the Monday morning:
	 * Fri 09:00-12:00 and 13:30-16:30 run 6 h, the last hour is Mon 10:00-11:00. */
	hl_calendar_pause fri_mon[] = {{sh(2025, 3, 7, 16, 30), sh(2025, 3, 10, 10, 0)}};
	T_EQ_TIME(due_of(cal, sh(2025, 3, 7, 9, 0), seven, fri_mon, 1, 0), sh(2025, 3, 10, 11, 0));

	/* A pause before the start does nothing; one across the start counts from the start. */
	hl_calendar_pause before[] = {{sh(2025, 3, 2, 10, 0), sh(2025, 3, 3, 8, 0)}};
	T_EQ_TIME(due_of(cal, start, seven, before, 1, 0), sh(2025, 3, 3, 17, 30));
	hl_calendar_pause across[] = {{sh(2025, 3, 2, 20, 0), sh(2025, 3, 3, 10, 0)}};
	T_EQ_TIME(due_of(cal, start, seven, across, 1, 0), sh(2025, 3, 4, 10, 0));

	/* A pause ending exactly when the time would be used up still pushes it. */
	hl_calendar_pause at_end[] = {{sh(2025, 3, 3, 17, 0), sh(2025, 3, 3, 17, 30)}};
	T_EQ_TIME(due_of(cal, start, seven, at_end, 1, 0), sh(2025, 3, 4, 9, 30));
	/* Empty pauses are ignored. */
	hl_calendar_pause empty[] = {{sh(2025, 3, 3, 10, 0), sh(2025, 3, 3, 10, 0)}};
	T_EQ_TIME(due_of(cal, start, seven, empty, 1, 0), sh(2025, 3, 3, 17, 30));

	/* A running pause holds the clock, unless the time is used up before it begins. */
	hl_calendar_pause running[] = {{sh(2025, 3, 3, 10, 0), HL_CALENDAR_NEVER}};
	T_EQ_TIME(due_of(cal, start, seven, running, 1, 0), HL_CALENDAR_NEVER);
	hl_calendar_pause later[] = {{sh(2025, 3, 4, 12, 0), HL_CALENDAR_NEVER}};
	T_EQ_TIME(due_of(cal, start, seven, later, 1, 0), sh(2025, 3, 3, 17, 30));
	T_EQ_INT(elapsed_of(cal, start, running, 1, sh(2025, 3, 10, 0, 0)), HOUR_MS);

	/* Extensions are extra working time, with or without pauses. */
	T_EQ_TIME(due_of(cal, start, seven, NULL, 0, 2 * HOUR_MS), sh(2025, 3, 4, 11, 0));
	T_EQ_TIME(due_of(cal, start, seven, one, 1, 2 * HOUR_MS), sh(2025, 3, 4, 12, 0));
	T_EQ_TIME(due_of(cal, start, seven, one, 1, 3 * HOUR_MS), sh(2025, 3, 4, 14, 30));

	/* Elapsed and remaining working time at an instant, pauses excluded. */
	T_EQ_INT(elapsed_of(cal, start, one, 1, sh(2025, 3, 3, 11, 30)), 90 * MIN_MS);
	T_EQ_INT(elapsed_of(cal, start, one, 1, sh(2025, 3, 3, 10, 30)), HOUR_MS);
	T_EQ_INT(elapsed_of(cal, start, one, 1, sh(2025, 3, 3, 8, 0)), 0);
	T_EQ_INT(elapsed_of(cal, start, two, 2, sh(2025, 3, 4, 11, 0)), seven);
	int64_t rem = 0;
	T_OK(hl_calendar_remaining(cal, start, seven, one, 1, 0, sh(2025, 3, 3, 11, 30), &rem, &t_err));
	T_EQ_INT(rem, seven - 90 * MIN_MS);
	T_OK(hl_calendar_remaining(cal, start, seven, one, 1, HOUR_MS, sh(2025, 3, 4, 11, 0), &rem, &t_err));
	T_EQ_INT(rem, 0);
	T_OK(hl_calendar_remaining(cal, start, seven, one, 1, 0, sh(2025, 3, 4, 11, 0), &rem, &t_err));
	T_EQ_INT(rem, -HOUR_MS); /* overdue by one working hour */
	/* The 80% warning: remaining <= allowed / 5. */
	int64_t warn = -1;
	T_OK(hl_calendar_due(cal, start, seven * 4 / 5, one, 1, 0, &warn, &t_err));
	T_OK(hl_calendar_remaining(cal, start, seven, one, 1, 0, warn, &rem, &t_err));
	T_EQ_INT(rem, seven / 5);
	hl_calendar_free(cal);

	/* A working-days policy with a pause: turn it into a duration first. */
	cal = cal_of(GOLDEN);
	T_ASSERT(cal);
	int64_t t = sh(2025, 1, 27, 16, 0), close = add_d(cal, t, 3), allowed = between(cal, t, close);
	T_EQ_INT(allowed, 22 * HOUR_MS + 30 * MIN_MS);
	T_EQ_TIME(due_of(cal, t, allowed, NULL, 0, 0), close);
	hl_calendar_pause day[] = {{sh(2025, 2, 5, 0, 0), sh(2025, 2, 6, 0, 0)}};
	T_EQ_TIME(due_of(cal, t, allowed, day, 1, 0), sh(2025, 2, 8, 17, 30)); /* the make-up Saturday */
	hl_calendar_free(cal);
}

/* ---- add then measure, over many random starts -------------------------- */

static void test_add_measure_consistency(void)
{
	static const char *const specs[] = {
		GOLDEN,
		"zone=Europe/Berlin;mon-fri=08:00-12:00,13:00-17:00;sat=09:00-12:00;holidays=2025-12-24..2025-12-26",
		"zone=America/New_York;mon-fri=09:00-17:00;holidays=2025-07-04,2025-11-27",
		"zone=UTC;mon=00:00-24:00;wed=22:00-24:00;thu=00:00-02:00,23:59-24:00",
		"zone=Europe/Berlin;sun=01:00-04:00;fri=02:00-03:30",
		"zone=Australia/Lord_Howe;mon-sun=01:30-02:30,09:00-17:00",
	};
	int checked = 0;
	for (size_t c = 0; c < sizeof specs / sizeof specs[0]; c++) {
		hl_calendar *cal = cal_of(specs[c]);
		T_ASSERT(cal);
		for (int i = 0; i < 600; i++) {
			int64_t t = rnd_range(utc(2024, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0));
			if (i % 3 == 0)
				t -= t % MIN_MS; /* also land on minute boundaries */
			int64_t ms = i % 2 ? rnd_range(0, 200 * HOUR_MS) : rnd_range(0, 300) * 15 * MIN_MS;
			int64_t due = add_h(cal, t, ms);
			if (due < t || between(cal, t, due) != ms) {
				hl_calendar_free(cal);
				T_FAILF("%s: t=%lld ms=%lld due=%lld between=%lld", specs[c], (long long)t,
					(long long)ms, (long long)due, (long long)between(cal, t, due));
			}
			/* Earliest: 1 ms earlier not enough; the due instant is working time or a close. */
			if (ms > 0 && (between(cal, t, due - 1) != ms - 1 || !hl_calendar_is_working(cal, due - 1))) {
				hl_calendar_free(cal);
				T_FAILF("%s: not earliest at t=%lld ms=%lld", specs[c], (long long)t, (long long)ms);
			}
			/* With random pauses and an extension, elapsed at the due instant is the total. */
			hl_calendar_pause p[4];
			int np = (int)(rnd() % 5);
			for (int k = 0; k < np; k++) {
				p[k].from = t + rnd_range(-2 * HL_MS_PER_DAY, 10 * HL_MS_PER_DAY);
				p[k].to = p[k].from + rnd_range(0, 3 * HL_MS_PER_DAY);
			}
			int64_t ext = rnd_range(0, 10) * HOUR_MS, pdue = due_of(cal, t, ms, p, (size_t)np, ext);
			if (pdue < due || elapsed_of(cal, t, p, (size_t)np, pdue) != ms + ext) {
				hl_calendar_free(cal);
				T_FAILF("%s: pauses t=%lld ms=%lld due=%lld", specs[c], (long long)t, (long long)ms,
					(long long)pdue);
			}
			/* Working days: each close ends working time, later for each further day. */
			int n = 1 + (int)(rnd() % 30);
			int64_t dd = add_d(cal, t, n), dd1 = add_d(cal, t, n + 1);
			if (dd <= t || !hl_calendar_is_working(cal, dd - 1) || dd1 <= dd ||
			    !hl_calendar_is_working(cal, dd1 - 1)) {
				hl_calendar_free(cal);
				T_FAILF("%s: days t=%lld n=%d due=%lld", specs[c], (long long)t, n, (long long)dd);
			}
			checked++;
		}
		hl_calendar_free(cal);
	}
	fprintf(stderr, "  %d random deadlines checked\n", checked);
}

/* ---- validation -------------------------------------------------------- */

static void expect_text_error(const char *text, hl_status want, const char *msg)
{
	hl_calendar *cal = NULL;
	hl_error err = {0};
	hl_status st = hl_calendar_parse(text, &cal, &err);
	if (st != want || cal || strstr(err.msg, msg) == NULL) {
		fprintf(stderr, "  FAIL spec '%s': %s '%s', expected %s '%s'\n", text, hl_status_name(st), err.msg,
			hl_status_name(want), msg);
		t_cur_failed = 1;
	}
	hl_calendar_free(cal);
}

static void test_validation(void)
{
	expect_text_error("zone=Mars/Base;mon=09:00-17:00", HL_INVALID, "zone: unknown time zone 'Mars/Base'");
	expect_text_error("zone=../../etc/passwd;mon=09:00-17:00", HL_INVALID, "zone: invalid time zone name");
	expect_text_error("zone=;mon=09:00-17:00", HL_INVALID, "zone: invalid time zone name");
	expect_text_error("mon=09:00-12:00,11:00-13:00", HL_INVALID,
			  "mon: intervals 09:00-12:00 and 11:00-13:00 overlap");
	expect_text_error("mon=13:00-17:00,09:00-13:30", HL_INVALID,
			  "mon: intervals 09:00-13:30 and 13:00-17:00 overlap");
	expect_text_error("tue=18:00-09:00", HL_INVALID, "tue: interval 18:00-09:00 ends before it starts");
	expect_text_error("wed=09:00-09:00", HL_INVALID, "wed: interval 09:00-09:00 is empty");
	expect_text_error("", HL_INVALID, "week: no working hours");
	expect_text_error("zone=UTC;makeup_hours=09:00-10:00", HL_INVALID, "week: no working hours");
	expect_text_error("mon=09:00-17:00;holidays=2025-02-30", HL_INVALID,
			  "calendar: holidays: '2025-02-30' is not a valid YYYY-MM-DD date or range");
	expect_text_error("mon=09:00-17:00;holidays=2025-2-3", HL_INVALID, "holidays: '2025-2-3' is not a valid");
	expect_text_error("mon=09:00-17:00;holidays=1969-12-31", HL_INVALID, "is not a valid");
	expect_text_error("mon=09:00-17:00;holidays=2025-02-05..2025-02-01", HL_INVALID, "ends before it starts");
	expect_text_error("mon=09:00-17:00;holidays=2025-01-01,2025-01-01", HL_INVALID,
			  "holidays: duplicate date 2025-01-01");
	expect_text_error("mon=09:00-17:00;holidays=2025-01-01..2025-01-03,2025-01-02", HL_INVALID,
			  "holidays: duplicate date 2025-01-02");
	expect_text_error("mon-fri=09:00-17:00;holidays=2025-02-08;makeup=2025-02-08", HL_INVALID,
			  "makeup_days: 2025-02-08 is also a holiday");
	expect_text_error("mon-fri=09:00-17:00;makeup=2025-02-05", HL_INVALID,
			  "makeup_days: 2025-02-05 is a Wednesday, which has working hours already");
	expect_text_error("mon=9-17", HL_INVALID, "calendar: mon: interval 1 is not HH:MM-HH:MM");
	expect_text_error("mon=09:00-17:00,25:00-26:00", HL_INVALID, "calendar: mon: interval 2 is not HH:MM-HH:MM");
	expect_text_error("mon=09:00-24:01", HL_INVALID, "calendar: mon: interval 1 is not HH:MM-HH:MM");
	expect_text_error("mon=09:60-10:00", HL_INVALID, "calendar: mon: interval 1 is not HH:MM-HH:MM");
	expect_text_error("fri-mon=09:00-17:00", HL_INVALID, "calendar: weekday range 'fri-mon' runs backwards");
	expect_text_error("mon-=09:00-17:00", HL_INVALID, "calendar: unknown key 'mon-'");
	expect_text_error("mon-sunday=09:00-17:00", HL_INVALID, "calendar: unknown key 'mon-sunday'");
	expect_text_error("mon=09:00-17:00;mon=10:00-11:00", HL_INVALID, "calendar: 'mon' given twice");
	expect_text_error("mon-fri=09:00-17:00;wed=10:00-11:00", HL_INVALID, "calendar: 'wed' given twice");
	expect_text_error("zone=UTC;zone=UTC;mon=09:00-17:00", HL_INVALID, "calendar: 'zone' given twice");
	expect_text_error("mon=09:00-17:00;holidays=;holidays=", HL_INVALID, "calendar: 'holidays' given twice");
	expect_text_error("mon=09:00-17:00;foo=bar", HL_INVALID, "calendar: unknown key 'foo'");
	expect_text_error("mon=09:00-17:00;monday=09:00-17:00", HL_INVALID, "calendar: unknown key 'monday'");
	expect_text_error("mon", HL_INVALID, "calendar: item 'mon' is not key=value");
	expect_text_error("mon=00:00-01:00,01:00-02:00,02:00-03:00,03:00-04:00,04:00-05:00,05:00-06:00,"
			  "06:00-07:00,07:00-08:00,08:00-09:00",
			  HL_INVALID, "calendar: mon: more than 8 intervals");
	expect_text_error(NULL, HL_INVALID, "calendar: missing");

	/* The same checks on the struct form. */
	hl_calendar_span day[] = {{540, 720}, {810, 1050}}, bad_order[] = {{1080, 540}}, out_of_day[] = {{-1, 60}},
			 late[] = {{1380, 1441}};
	hl_date bad_date[] = {{2025, 1, 1}, {2025, 2, 30}}, ok_dates[] = {{2025, 1, 28}};
	hl_calendar_spec spec = {.zone = NULL};
	for (int d = 0; d < 5; d++)
		spec.week[d] = (hl_calendar_hours){day, 2};
	hl_calendar *cal = NULL;
	hl_error err = {0};
	T_OK(hl_calendar_new(&spec, &cal, &t_err)); /* control: a valid spec builds */
	hl_calendar_free(cal);
	cal = NULL;
	spec.holidays = bad_date;
	spec.n_holidays = 2;
	T_EQ_INT(hl_calendar_new(&spec, &cal, &err), HL_INVALID);
	T_EQ_STR(err.msg, "holidays[1]: invalid date 2025-02-30");
	T_ASSERT(!cal);
	spec.holidays = ok_dates;
	spec.n_holidays = 1;
	spec.makeup_days = bad_date;
	spec.n_makeup_days = 1;
	T_EQ_INT(hl_calendar_new(&spec, &cal, &err), HL_INVALID);
	T_EQ_STR(err.msg, "makeup_days: 2025-01-01 is a Wednesday, which has working hours already");
	spec.n_makeup_days = 0;
	spec.week[1] = (hl_calendar_hours){bad_order, 1};
	T_EQ_INT(hl_calendar_new(&spec, &cal, &err), HL_INVALID);
	T_EQ_STR(err.msg, "tue: interval 18:00-09:00 ends before it starts");
	spec.week[1] = (hl_calendar_hours){out_of_day, 1};
	T_EQ_INT(hl_calendar_new(&spec, &cal, &err), HL_INVALID);
	T_EQ_STR(err.msg, "tue: interval 1: time outside 00:00-24:00");
	spec.week[1] = (hl_calendar_hours){late, 1};
	T_EQ_INT(hl_calendar_new(&spec, &cal, &err), HL_INVALID);
	T_EQ_STR(err.msg, "tue: interval 1: time outside 00:00-24:00");
	spec.week[1] = (hl_calendar_hours){NULL, 1};
	T_EQ_INT(hl_calendar_new(&spec, &cal, &err), HL_INVALID);
	T_EQ_STR(err.msg, "tue: intervals missing");
	spec.week[1] = (hl_calendar_hours){day, 2};
	spec.zone = "Nowhere/Land";
	T_EQ_INT(hl_calendar_new(&spec, &cal, &err), HL_INVALID);
	T_EQ_STR(err.msg, "zone: unknown time zone 'Nowhere/Land'");
	spec.zone = "Europe/Berlin";
	T_OK(hl_calendar_new(&spec, &cal, &t_err)); /* control after the errors */
	T_EQ_STR(hl_tz_name(hl_calendar_zone(cal)), "Europe/Berlin");

	/* Arguments of the deadline functions. */
	int64_t out = 0, t = utc(2025, 3, 3, 9, 0);
	T_EQ_INT(hl_calendar_add_working(cal, t, -1, &out, &err), HL_INVALID);
	T_EQ_INT(hl_calendar_add_working(cal, t, HL_CALENDAR_MAX_WORKING_MS + 1, &out, &err), HL_INVALID);
	T_EQ_INT(hl_calendar_add_working(cal, -1, HOUR_MS, &out, &err), HL_OUT_OF_RANGE);
	T_EQ_INT(hl_calendar_add_working(cal, HL_CALENDAR_MAX_MS, HOUR_MS, &out, &err), HL_OUT_OF_RANGE);
	T_EQ_INT(hl_calendar_add_working_days(cal, t, 0, &out, &err), HL_INVALID);
	T_EQ_INT(hl_calendar_add_working_days(cal, t, HL_CALENDAR_MAX_DAYS + 1, &out, &err), HL_INVALID);
	T_OK(hl_calendar_add_working_days(cal, t, HL_CALENDAR_MAX_DAYS, &out, &t_err));
	T_EQ_INT(hl_calendar_next_working(cal, -5, &out, &err), HL_OUT_OF_RANGE);
	T_EQ_INT(hl_calendar_working_between(cal, t, t + 3661 * HL_MS_PER_DAY, &out, &err), HL_OUT_OF_RANGE);
	T_OK(hl_calendar_working_between(cal, t, t + 3000 * HL_MS_PER_DAY, &out, &t_err));
	/* Near the end of the supported range, the walk stops at the horizon. */
	T_EQ_INT(hl_calendar_add_working(cal, HL_CALENDAR_MAX_MS - HL_MS_PER_DAY, HL_CALENDAR_MAX_WORKING_MS, &out,
					 &err),
		 HL_OUT_OF_RANGE);
	hl_calendar_pause backwards[] = {{t + HOUR_MS, t}}, neg[] = {{-1, t}};
	T_EQ_INT(hl_calendar_due(cal, t, HOUR_MS, backwards, 1, 0, &out, &err), HL_INVALID);
	T_EQ_STR(err.msg, "pauses[0]: ends before it begins");
	T_EQ_INT(hl_calendar_due(cal, t, HOUR_MS, neg, 1, 0, &out, &err), HL_INVALID);
	T_EQ_INT(hl_calendar_due(cal, t, HOUR_MS, NULL, 1, 0, &out, &err), HL_INVALID);
	T_EQ_INT(hl_calendar_due(cal, t, HOUR_MS, NULL, 0, -1, &out, &err), HL_INVALID);
	T_EQ_INT(hl_calendar_due(cal, t, HL_CALENDAR_MAX_WORKING_MS, NULL, 0, 1, &out, &err), HL_INVALID);
	T_EQ_INT(hl_calendar_elapsed(cal, t, backwards, 1, t + HOUR_MS, &out, &err), HL_INVALID);
	static hl_calendar_pause many[HL_CALENDAR_MAX_PAUSES + 1];
	for (size_t i = 0; i <= HL_CALENDAR_MAX_PAUSES; i++)
		many[i] = (hl_calendar_pause){t + (int64_t)i * HOUR_MS, t + (int64_t)i * HOUR_MS + MIN_MS};
	T_EQ_INT(hl_calendar_due(cal, t, HOUR_MS, many, HL_CALENDAR_MAX_PAUSES + 1, 0, &out, &err), HL_INVALID);
	T_OK(hl_calendar_due(cal, t, HOUR_MS, many, HL_CALENDAR_MAX_PAUSES, 0, &out, &t_err));
	hl_calendar_free(cal);
}

/* ---- text form ---------------------------------------------------------- */

static void test_text_form(void)
{
	hl_arena *a = hl_arena_new();
	T_ASSERT(a);
	hl_calendar *cal = cal_of(GOLDEN);
	char *text = NULL, *again = NULL;
	T_ASSERT(cal);
	T_OK(hl_calendar_format(cal, a, &text, &t_err));
	T_EQ_STR(text, "zone=Asia/Shanghai;mon-fri=09:00-12:00,13:30-17:30;holidays=2025-01-28..2025-02-04;"
		       "makeup=2025-01-26,2025-02-08");
	hl_calendar *cal2 = cal_of(text);
	T_ASSERT(cal2);
	T_OK(hl_calendar_format(cal2, a, &again, &t_err));
	T_EQ_STR(again, text);
	hl_calendar_free(cal2);
	hl_calendar_free(cal);

	/* Unsorted input, ranges, "off", blanks and a trailing ';' come out canonical. */
	cal = cal_of("  holidays = 2025-05-03, 2025-05-01..2025-05-02 ,2025-10-01 ; sun=off; "
		     "tue=13:30-17:30, 09:00-12:00; mon=09:00-12:00,13:30-17:30;wed-thu=09:00-12:00,13:30-17:30;"
		     "fri=09:00-16:00;sat=;makeup_hours=9:00-12:00;zone=Europe/Berlin;");
	T_ASSERT(cal);
	T_OK(hl_calendar_format(cal, a, &text, &t_err));
	T_EQ_STR(text, "zone=Europe/Berlin;mon-thu=09:00-12:00,13:30-17:30;fri=09:00-16:00;"
		       "holidays=2025-05-01..2025-05-03,2025-10-01;makeup_hours=09:00-12:00");
	hl_calendar_free(cal);

	/* A struct-built calendar formats like the text it corresponds to. */
	hl_calendar_span day[] = {{1050, 1440}, {0, 60}};
	hl_date hol[] = {{2025, 12, 25}, {2025, 12, 24}};
	hl_calendar_spec spec = {.zone = "UTC", .holidays = hol, .n_holidays = 2};
	spec.week[6] = (hl_calendar_hours){day, 2};
	T_OK(hl_calendar_new(&spec, &cal, &t_err));
	T_OK(hl_calendar_format(cal, a, &text, &t_err));
	T_EQ_STR(text, "zone=UTC;sun=00:00-01:00,17:30-24:00;holidays=2025-12-24..2025-12-25");
	hl_calendar_free(cal);

	/* The default calendar. */
	cal = cal_of(HL_CALENDAR_DEFAULT_TEXT);
	T_ASSERT(cal);
	T_OK(hl_calendar_format(cal, a, &text, &t_err));
	T_EQ_STR(text, HL_CALENDAR_DEFAULT_TEXT);
	hl_calendar_free(cal);
	hl_arena_free(a);
}

/* ---- threads ------------------------------------------------------------ */

#define N_THREADS 8
#define N_CASES 1500

struct job {
	const hl_calendar *cal;
	int64_t t, ms;
	int days;
	hl_calendar_pause pause;
	int64_t want_h, want_d, want_p, want_b;
};

struct worker {
	struct job *jobs;
	size_t n, offset;
	pthread_barrier_t *start;
	int mismatches;
	const hl_tz *tokyo;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	pthread_barrier_wait(w->start);
	/* A zone nobody has loaded yet, asked for by every thread at once. */
	hl_status st = hl_tz_get("Asia/Tokyo", &w->tokyo, NULL);
	if (st != HL_OK)
		w->mismatches++;
	for (int round = 0; round < 2; round++) {
		for (size_t k = 0; k < w->n; k++) {
			struct job *j = &w->jobs[(k + w->offset) % w->n];
			int64_t h = -1, d = -1, p = -1, b = -1;
			if (hl_calendar_add_working(j->cal, j->t, j->ms, &h, NULL) != HL_OK ||
			    hl_calendar_add_working_days(j->cal, j->t, j->days, &d, NULL) != HL_OK ||
			    hl_calendar_due(j->cal, j->t, j->ms, &j->pause, 1, HOUR_MS, &p, NULL) != HL_OK ||
			    hl_calendar_working_between(j->cal, j->t, j->t + 20 * HL_MS_PER_DAY, &b, NULL) != HL_OK)
				w->mismatches++;
			if (h != j->want_h || d != j->want_d || p != j->want_p || b != j->want_b)
				w->mismatches++;
		}
	}
	return NULL;
}

static void test_threads(void)
{
	static const char *const specs[] = {
		GOLDEN,
		"zone=Europe/Berlin;mon-fri=08:00-12:00,13:00-17:00;holidays=2025-12-24..2025-12-26",
		"zone=America/New_York;mon-fri=09:00-17:00;holidays=2025-07-04,2025-11-27",
		"zone=UTC;mon-sat=06:00-22:00",
	};
	hl_calendar *cals[4] = {NULL};
	struct job *jobs = calloc(N_CASES, sizeof *jobs);
	T_ASSERT(jobs);
	for (int c = 0; c < 4; c++) {
		cals[c] = cal_of(specs[c]);
		if (!cals[c]) {
			free(jobs);
			T_FAILF("calendar %d", c);
		}
	}
	/* Expected results, single-threaded. */
	for (size_t k = 0; k < N_CASES; k++) {
		struct job *j = &jobs[k];
		j->cal = cals[k % 4];
		j->t = rnd_range(utc(2024, 6, 1, 0, 0), utc(2026, 6, 1, 0, 0));
		j->ms = rnd_range(0, 80 * HOUR_MS);
		j->days = 1 + (int)(rnd() % 20);
		j->pause.from = j->t + rnd_range(0, 5 * HL_MS_PER_DAY);
		j->pause.to = j->pause.from + rnd_range(0, 2 * HL_MS_PER_DAY);
		j->want_h = add_h(j->cal, j->t, j->ms);
		j->want_d = add_d(j->cal, j->t, j->days);
		j->want_p = due_of(j->cal, j->t, j->ms, &j->pause, 1, HOUR_MS);
		j->want_b = between(j->cal, j->t, j->t + 20 * HL_MS_PER_DAY);
	}
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, N_THREADS);
	pthread_t tid[N_THREADS];
	struct worker w[N_THREADS];
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){jobs, N_CASES, (size_t)i * (N_CASES / N_THREADS), &start, 0, NULL};
		if (pthread_create(&tid[i], NULL, work, &w[i]) != 0)
			T_FAILF("pthread_create");
	}
	int mismatches = 0;
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(tid[i], NULL);
		mismatches += w[i].mismatches;
	}
	pthread_barrier_destroy(&start);
	for (int c = 0; c < 4; c++)
		hl_calendar_free(cals[c]);
	free(jobs);
	T_EQ_INT(mismatches, 0);
	for (int i = 1; i < N_THREADS; i++)
		T_ASSERT(w[i].tokyo == w[0].tokyo); /* one cached zone */
	T_ASSERT(w[0].tokyo != NULL);
	T_EQ_INT(hl_tz_offset(w[0].tokyo, utc(2025, 1, 1, 0, 0)), 9 * 3600);
}

int main(void)
{
	T_RUN(test_dates);
	T_RUN(test_zones_match_glibc);
	T_RUN(test_posix_tz_match_glibc);
	T_RUN(test_zone_names);
	T_RUN(test_golden_example);
	T_RUN(test_boundaries);
	T_RUN(test_holidays_and_makeup_days);
	T_RUN(test_calendar_zones);
	T_RUN(test_pauses_and_extensions);
	T_RUN(test_add_measure_consistency);
	T_RUN(test_validation);
	T_RUN(test_text_form);
	T_RUN(test_threads);
	return T_DONE();
}
