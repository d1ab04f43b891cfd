/*
 * calendar.h - working-time calendars and time zones for deadlines
 * (DESIGN §5.7, R11, R14).
 *
 * Time zones.  An hl_tz is read once from the TZif file
 * /usr/share/zoneinfo/<name> (the tzdata package): the 64-bit (version 2+)
 * transition table, and the POSIX TZ footer string for instants after the
 * last transition (fixed offsets such as "CST-8" or "<+08>-8", and DST rules
 * in the Jn, n and Mm.w.d forms with optional /time, as glibc reads them).
 * A zone is immutable after loading, so any number of threads use it at
 * once; hl_tz_get() caches zones by name under a mutex and the cached zones
 * live until the process exits.  Nothing here calls setenv("TZ"),
 * localtime_r() or mktime(): glibc's conversions follow the one process TZ
 * and are unusable for per-tenant zones in a threaded server.  Zone files
 * with leap seconds ("right/...") are refused.
 *
 * Local time to UTC: a local time that happens twice (the autumn fold) is
 * its FIRST occurrence; a local time that never happens (the spring gap)
 * is the instant the gap ends (02:30 on a 02:00->03:00 night is 03:00 DST).
 * This mapping never decreases, so working intervals never overlap.
 *
 * Calendars.  A tenant's calendar is: a zone (default Asia/Shanghai), the
 * working hours of each weekday (a list of intervals of local time with
 * minute precision; 24:00 may end an interval; an interval never spans
 * midnight - write 22:00-24:00 on one day and 00:00-06:00 on the next),
 * holidays (dates without work, whatever their weekday) and make-up
 * workdays (调休: dates that work although their weekday has no hours).  A
 * make-up day works the "make-up hours": those given in the spec, or by
 * default the hours of the first weekday, Monday to Sunday, that has hours
 * (Monday for the usual Mon-Fri week).  A calendar is built once, is
 * immutable, and is shared by any number of threads.
 *
 * Working time is real elapsed time inside working intervals: an interval
 * 09:00-17:30 on a DST night is still 8.5 hours unless the change falls
 * inside it.  Instants are int64 Unix milliseconds (UTC) in
 * [HL_CALENDAR_MIN_MS, HL_CALENDAR_MAX_MS); dates are civil y-m-d in
 * [HL_CALENDAR_MIN_YEAR, HL_CALENDAR_MAX_YEAR].
 *
 * Deadlines.
 *   "N working hours after T": hl_calendar_add_working(cal, T, N * HL_MS_PER_HOUR)
 *       adds N hours of working time; when T is outside working time the
 *       count starts at the next working instant.  The due instant is the
 *       EARLIEST one at which the amount is used up, so a deadline that uses
 *       up the last minute of a day is that day's close (17:30), not the
 *       next opening.
 *   "N working days after T": hl_calendar_add_working_days(cal, T, N) is the
 *       close (end of the last interval) of the N-th working day counted
 *       from the first working day AFTER T's local date; the day of T never
 *       counts, whatever the hour (期间开始之日不计算在内).
 *   Pauses and extensions: hl_calendar_due() counts an allowed working
 *       duration from a start, with the clock stopped during recorded pause
 *       intervals [from, to) and approved extensions added as extra working
 *       time; hl_calendar_elapsed()/hl_calendar_remaining() measure the
 *       clock at an instant (warnings at a fraction of the allowed time).  A
 *       working-days policy is turned into a duration first:
 *         hl_calendar_add_working_days(cal, T, N, &close);
 *         hl_calendar_working_between(cal, T, close, &allowed);
 *       and then goes through hl_calendar_due() like any other.
 *   Clock-hour deadlines (statutory risk events: 2 h major, 24 h general)
 *       do NOT go through the calendar: due = T + 2 * HL_MS_PER_HOUR.
 *
 * Walks are bounded: a result more than HL_CALENDAR_HORIZON_DAYS after its
 * start is HL_OUT_OF_RANGE.  Error messages name the field and the value
 * of configuration (dates, times, zone names), never personal data.
 */
#ifndef HL_CALENDAR_H
#define HL_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/status.h"

#define HL_MS_PER_MINUTE INT64_C(60000)
#define HL_MS_PER_HOUR INT64_C(3600000)
#define HL_MS_PER_DAY INT64_C(86400000)

/* Supported instants: 1970-01-01T00:00Z <= t < 2400-01-01T00:00Z. */
#define HL_CALENDAR_MIN_MS INT64_C(0)
#define HL_CALENDAR_MAX_MS INT64_C(13569465600000)
#define HL_CALENDAR_MIN_YEAR 1970
#define HL_CALENDAR_MAX_YEAR 2399
/* The farthest (calendar days) any walk goes from its start. */
#define HL_CALENDAR_HORIZON_DAYS 3660
/* Largest working duration (allowed + extension) accepted. */
#define HL_CALENDAR_MAX_WORKING_MS (HL_CALENDAR_HORIZON_DAYS * HL_MS_PER_DAY)
/* Largest N of hl_calendar_add_working_days. */
#define HL_CALENDAR_MAX_DAYS 1000
/* Limits of a spec: intervals per day, holiday and make-up dates, pauses. */
#define HL_CALENDAR_MAX_SPANS 8
#define HL_CALENDAR_MAX_DATES 4096
#define HL_CALENDAR_MAX_PAUSES 256
/* Longest text spec hl_calendar_parse accepts (bytes). */
#define HL_CALENDAR_TEXT_MAX 65536
/* "Never": the due instant while an open pause holds the clock, and the
 * `to` of a pause that has not ended yet. */
#define HL_CALENDAR_NEVER INT64_MAX

#define HL_CALENDAR_DEFAULT_ZONE "Asia/Shanghai"
/* The default calendar of a tenant that has configured none. */
#define HL_CALENDAR_DEFAULT_TEXT "zone=Asia/Shanghai;mon-fri=09:00-12:00,13:30-17:30"

#define HL_TZ_DIR "/usr/share/zoneinfo"
/* Longest zone name (bytes). */
#define HL_TZ_NAME_MAX 64

/* ---- civil dates ---------------------------------------------------- */

typedef struct hl_date {
	int year, month, day;
} hl_date;

/* True when d is a real date with a year in [MIN_YEAR, MAX_YEAR]. */
bool hl_date_valid(hl_date d);
/* Days since 1970-01-01 (proleptic Gregorian; any year). */
int64_t hl_date_to_days(hl_date d);
hl_date hl_date_from_days(int64_t days);
/* 0 = Monday ... 6 = Sunday. */
int hl_date_weekday(hl_date d);

/* ---- time zones ----------------------------------------------------- */

typedef struct hl_tz hl_tz;

/* A local time: the wall clock of a zone at an instant. */
typedef struct hl_civil {
	int year, month, day;         /* civil date */
	int hour, minute, second, ms; /* wall clock */
	int weekday;                  /* 0 = Monday ... 6 = Sunday */
	int32_t utoff;                /* seconds east of UTC */
	bool isdst;
} hl_civil;

/*
 * The zone named name (an IANA name such as "Asia/Shanghai", "UTC",
 * "Europe/Berlin"), loaded from HL_TZ_DIR on first use and cached; *out is
 * valid until the process exits and may be used from any thread.
 * Thread-safe.  Errors: HL_INVALID (not a zone name: empty, longer than
 * HL_TZ_NAME_MAX, characters other than [A-Za-z0-9_+-/], "." or ".."
 * components, leading '/'; or a malformed or unsupported zone file),
 * HL_NOT_FOUND (no such zone file), HL_IO, HL_NOMEM.
 */
hl_status hl_tz_get(const char *name, const hl_tz **out, hl_error *err) HL_MUST_CHECK;

/*
 * A zone from a POSIX TZ string alone ("CST-8", "<+0330>-3:30",
 * "EST5EDT,M3.2.0,M11.1.0", "CET-1CEST,M3.5.0,M10.5.0/3"; a DST zone
 * without rules uses the US rules M3.2.0,M11.1.0 as glibc does).  Not
 * cached: the caller frees it with hl_tz_free().  Immutable and shareable
 * like any zone.  Errors: HL_INVALID (syntax), HL_NOMEM.
 */
hl_status hl_tz_posix_new(const char *spec, hl_tz **out, hl_error *err) HL_MUST_CHECK;
/* Free a zone made by hl_tz_posix_new. NULL ok. Never for hl_tz_get zones. */
void hl_tz_free(hl_tz *tz);

/* The name given to hl_tz_get (or the POSIX string). */
const char *hl_tz_name(const hl_tz *tz);
/* The offset from UTC (seconds east) in effect at instant t_ms. */
int32_t hl_tz_offset(const hl_tz *tz, int64_t t_ms);
/* The wall clock of the zone at instant t_ms. */
void hl_tz_to_civil(const hl_tz *tz, int64_t t_ms, hl_civil *out);
/*
 * The instant of a local wall-clock time given as milliseconds since
 * 1970-01-01T00:00 local (what the clock reads, as if it were UTC): the
 * first occurrence in a fold, the end of the gap in a gap.
 */
int64_t hl_tz_from_local(const hl_tz *tz, int64_t local_ms);

/* ---- calendars ------------------------------------------------------ */

/* A working interval of local time: minutes since midnight, 0 <= start < end <= 1440. */
typedef struct hl_calendar_span {
	int start, end;
} hl_calendar_span;

/* The working hours of one day; spans may be NULL when n is 0. */
typedef struct hl_calendar_hours {
	const hl_calendar_span *spans;
	size_t n;
} hl_calendar_hours;

/*
 * What a calendar is built from.  Intervals of a day may come in any order
 * (they are sorted) but must not overlap (touching is fine).  Dates must be
 * valid and distinct within each list; a date may not be both a holiday and
 * a make-up day; a make-up day must fall on a weekday without hours.  At
 * least one weekday must have hours.  The spec is copied: nothing of it is
 * referenced after hl_calendar_new returns.
 */
typedef struct hl_calendar_spec {
	const char *zone;          /* NULL or "": HL_CALENDAR_DEFAULT_ZONE */
	hl_calendar_hours week[7]; /* [0] = Monday ... [6] = Sunday */
	const hl_date *holidays;
	size_t n_holidays;
	const hl_date *makeup_days; /* 调休 */
	size_t n_makeup_days;
	hl_calendar_hours makeup_hours; /* n == 0: the hours of the first weekday with hours */
} hl_calendar_spec;

typedef struct hl_calendar hl_calendar;

/*
 * Build a calendar from a spec.  On success *out owns a new immutable
 * calendar (free with hl_calendar_free) that any number of threads may use
 * at once.  Errors: HL_INVALID with a message naming the problem, e.g.
 * "zone: unknown time zone 'Mars/Base'", "mon: intervals 09:00-12:00 and
 * 11:00-13:00 overlap", "tue: interval 18:00-09:00 ends before it starts",
 * "holidays[2]: invalid date 2025-02-30", "makeup_days: 2025-02-08 is also
 * a holiday", "week: no working hours"; HL_IO or HL_NOMEM.
 */
hl_status hl_calendar_new(const hl_calendar_spec *spec, hl_calendar **out, hl_error *err) HL_MUST_CHECK;

/*
 * Build a calendar from the compact text form used in configuration and
 * by the admin API:
 *
 *   zone=Asia/Shanghai; mon-fri=09:00-12:00,13:30-17:30;
 *   holidays=2025-01-28..2025-02-04,2025-05-01; makeup=2025-01-26,2025-02-08
 *
 * Items "key=value" are separated by ';' (blanks around tokens ignored, a
 * trailing ';' allowed).  Keys: zone; a weekday mon tue wed thu fri sat sun
 * or a range of them (mon-fri, no wrap-around) with a comma list of
 * HH:MM-HH:MM intervals, or "" / "off" for none; holidays and makeup with a
 * comma list of YYYY-MM-DD dates and inclusive YYYY-MM-DD..YYYY-MM-DD
 * ranges; makeup_hours with intervals.  A weekday or key given twice is an
 * error; weekdays not given have no hours.  Errors: as hl_calendar_new,
 * plus HL_INVALID "calendar: ..." for the syntax.
 */
hl_status hl_calendar_parse(const char *text, hl_calendar **out, hl_error *err) HL_MUST_CHECK;

/*
 * The canonical text form of cal into the arena (hl_calendar_parse of it
 * gives an equal calendar; equal calendars give the same text): zone, then
 * weekdays in order with runs of equal days as ranges, holidays and make-up
 * days as sorted dates and ranges of consecutive dates, and makeup_hours
 * only when the spec gave them.  Errors: HL_NOMEM.
 */
hl_status hl_calendar_format(const hl_calendar *cal, hl_arena *a, char **out, hl_error *err) HL_MUST_CHECK;

/* Free a calendar. NULL ok. Not concurrent with its use. */
void hl_calendar_free(hl_calendar *cal);

/* The calendar's zone. */
const hl_tz *hl_calendar_zone(const hl_calendar *cal);

/*
 * True when local date d has working hours configured: a weekday with hours
 * that is not a holiday, or a make-up day (false for an invalid date).  An
 * interval that falls entirely into a DST gap gives no working time that
 * day, and such a day does not count for hl_calendar_add_working_days.
 */
bool hl_calendar_is_working_day(const hl_calendar *cal, hl_date d);

/* True when instant t lies inside a working interval (false out of range). */
bool hl_calendar_is_working(const hl_calendar *cal, int64_t t);

/*
 * The first working instant at or after t: t itself when it is working
 * time, else the next opening.  Errors: HL_OUT_OF_RANGE (t outside the
 * supported instants, or no working time within the horizon).
 */
hl_status hl_calendar_next_working(const hl_calendar *cal, int64_t t, int64_t *out, hl_error *err) HL_MUST_CHECK;

/*
 * The earliest instant at which `ms` of working time after t have been
 * used up ("N working hours after T" with ms = N * HL_MS_PER_HOUR); t
 * itself for 0.  Errors: HL_INVALID (ms < 0 or > HL_CALENDAR_MAX_WORKING_MS),
 * HL_OUT_OF_RANGE.
 */
hl_status hl_calendar_add_working(const hl_calendar *cal, int64_t t, int64_t ms, int64_t *due,
				  hl_error *err) HL_MUST_CHECK;

/*
 * The close of the n-th working day (n >= 1) counted from the first working
 * day after t's local date.  Errors: HL_INVALID (n < 1 or n >
 * HL_CALENDAR_MAX_DAYS), HL_OUT_OF_RANGE.
 */
hl_status hl_calendar_add_working_days(const hl_calendar *cal, int64_t t, int n, int64_t *due,
				       hl_error *err) HL_MUST_CHECK;

/*
 * The working time between a and b: inside working intervals and within
 * [a, b); negative (minus the time between b and a) when b < a.
 * Errors: HL_OUT_OF_RANGE (an instant out of range, or more than
 * HL_CALENDAR_HORIZON_DAYS apart).
 */
hl_status hl_calendar_working_between(const hl_calendar *cal, int64_t a, int64_t b, int64_t *ms,
				      hl_error *err) HL_MUST_CHECK;

/*
 * A recorded pause of a deadline's clock: [from, to); to may be
 * HL_CALENDAR_NEVER for a pause that is still running.  Pauses may overlap
 * each other, non-working time and the time before the start; only working
 * time inside them (and after the start) is taken off the clock.
 */
typedef struct hl_calendar_pause {
	int64_t from, to;
} hl_calendar_pause;

/*
 * The due instant of a clock that starts at `start`, may run `allowed_ms`
 * plus `extension_ms` (approved extensions, summed) of working time, and
 * stands still during the pauses: the earliest instant at which that much
 * unpaused working time after start has been used up (start itself when
 * the sum is 0).  With no pauses and no extension this is
 * hl_calendar_add_working(cal, start, allowed_ms).  When a running pause
 * (to == HL_CALENDAR_NEVER) begins before the time is used up, *due is
 * HL_CALENDAR_NEVER.  pauses may be NULL when n_pauses is 0; they are not
 * modified and need not be sorted.  Errors: HL_INVALID (negative or too
 * large durations, more than HL_CALENDAR_MAX_PAUSES pauses, a pause that
 * ends before it begins or lies out of range), HL_OUT_OF_RANGE.
 */
hl_status hl_calendar_due(const hl_calendar *cal, int64_t start, int64_t allowed_ms, const hl_calendar_pause *pauses,
			  size_t n_pauses, int64_t extension_ms, int64_t *due, hl_error *err) HL_MUST_CHECK;

/*
 * The working time the clock has run between start and `at`, pauses
 * excluded (0 when at <= start).  Errors: as hl_calendar_due.
 */
hl_status hl_calendar_elapsed(const hl_calendar *cal, int64_t start, const hl_calendar_pause *pauses, size_t n_pauses,
			      int64_t at, int64_t *elapsed_ms, hl_error *err) HL_MUST_CHECK;

/*
 * allowed_ms + extension_ms minus the elapsed working time at `at`:
 * negative once overdue.  A warning at 80% fires when
 * remaining <= (allowed_ms + extension_ms) / 5.  Errors: as hl_calendar_due.
 */
hl_status hl_calendar_remaining(const hl_calendar *cal, int64_t start, int64_t allowed_ms,
				const hl_calendar_pause *pauses, size_t n_pauses, int64_t extension_ms, int64_t at,
				int64_t *remaining_ms, hl_error *err) HL_MUST_CHECK;

#endif
