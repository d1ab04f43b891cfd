/*
 * calendar.c - a tenant's working-time calendar between its API message
 * (hotline.dispatch.v1.Calendar, stored serialized in dispatch.calendars)
 * and the shared library's hl_calendar that computes deadlines.  A tenant
 * without a stored calendar works Mon-Fri 09:00-12:00 and 13:30-17:30 in
 * Asia/Shanghai (DESIGN §5.7).
 */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "hl/calendar.h"
#include "store.h"

#define MAX_DAYS_LISTED 1000

static hl_status parse_dates(char **in, size_t n, const char *field, hl_arena *a, hl_date **out, hl_error *err)
{
	if (n > MAX_DAYS_LISTED)
		return hl_fail(err, HL_INVALID, "%s: at most %d dates", field, MAX_DAYS_LISTED);
	*out = hl_arena_alloc(a, (n ? n : 1) * sizeof **out);
	if (!*out)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		hl_date d;
		char tail;
		if (sscanf(in[i], "%4d-%2d-%2d%c", &d.year, &d.month, &d.day, &tail) != 3 || strlen(in[i]) != 10 ||
		    !hl_date_valid(d))
			return hl_fail(err, HL_INVALID, "%s[%zu]: not a date YYYY-MM-DD", field, i);
		(*out)[i] = d;
	}
	return HL_OK;
}

static hl_status week_from_msg(const Hotline__Dispatch__V1__Calendar *m, hl_arena *a, hl_calendar_spec *spec,
			       hl_error *err)
{
	bool seen[7] = {false};
	for (size_t i = 0; i < m->n_week; i++) {
		const Hotline__Dispatch__V1__WorkingDay *d = m->week[i];
		if (d->weekday < 1 || d->weekday > 7)
			return hl_fail(err, HL_INVALID, "week[%zu].weekday: 1 (Monday) to 7 (Sunday)", i);
		if (seen[d->weekday - 1])
			return hl_fail(err, HL_INVALID, "week: weekday %d given twice", d->weekday);
		if (d->n_intervals > HL_CALENDAR_MAX_SPANS)
			return hl_fail(err, HL_INVALID, "week[%zu]: at most %d intervals", i, HL_CALENDAR_MAX_SPANS);
		seen[d->weekday - 1] = true;
		hl_calendar_span *spans = hl_arena_alloc(a, (d->n_intervals ? d->n_intervals : 1) * sizeof *spans);
		if (!spans)
			return hl_fail(err, HL_NOMEM, "out of memory");
		for (size_t j = 0; j < d->n_intervals; j++) {
			spans[j].start = d->intervals[j]->start_minute;
			spans[j].end = d->intervals[j]->end_minute;
			if (spans[j].start < 0 || spans[j].end > 1440)
				return hl_fail(err, HL_INVALID, "week[%zu].intervals[%zu]: minutes 0 to 1440", i, j);
		}
		spec->week[d->weekday - 1] = (hl_calendar_hours){spans, d->n_intervals};
	}
	return HL_OK;
}

hl_status dispatch_calendar_build(const Hotline__Dispatch__V1__Calendar *m, hl_calendar **out, hl_error *err)
{
	if (m->text[0]) {
		if (m->time_zone[0] || m->n_week || m->n_holidays || m->n_makeup_workdays)
			return hl_fail(err, HL_INVALID, "text: give the text form or the fields, not both");
		if (strlen(m->text) > HL_CALENDAR_TEXT_MAX)
			return hl_fail(err, HL_INVALID, "text: too long");
		return hl_calendar_parse(m->text, out, err);
	}
	hl_arena *a = hl_arena_new();
	if (!a)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_calendar_spec spec = {0};
	spec.zone = m->time_zone;
	hl_date *hol = NULL, *mk = NULL;
	hl_status st = week_from_msg(m, a, &spec, err);
	if (!st)
		st = parse_dates(m->holidays, m->n_holidays, "holidays", a, &hol, err);
	if (!st)
		st = parse_dates(m->makeup_workdays, m->n_makeup_workdays, "makeup_workdays", a, &mk, err);
	if (!st) {
		spec.holidays = hol;
		spec.n_holidays = m->n_holidays;
		spec.makeup_days = mk;
		spec.n_makeup_days = m->n_makeup_workdays;
		st = hl_calendar_new(&spec, out, err);
	}
	hl_arena_free(a);
	return st;
}

/* The default calendar as a message (arena memory). */
static hl_status default_msg(hl_arena *a, Hotline__Dispatch__V1__Calendar **out, hl_error *err)
{
	static const int spans[][2] = {{540, 720}, {810, 1050}};
	Hotline__Dispatch__V1__Calendar *m = hl_arena_alloc(a, sizeof *m);
	Hotline__Dispatch__V1__WorkingDay **days = hl_arena_alloc(a, 5 * sizeof *days);
	if (!m || !days)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hotline__dispatch__v1__calendar__init(m);
	m->time_zone = (char *)HL_CALENDAR_DEFAULT_ZONE;
	for (int d = 0; d < 5; d++) {
		Hotline__Dispatch__V1__WorkingDay *day = hl_arena_alloc(a, sizeof *day);
		Hotline__Dispatch__V1__WorkingInterval **iv = hl_arena_alloc(a, 2 * sizeof *iv);
		if (!day || !iv)
			return hl_fail(err, HL_NOMEM, "out of memory");
		hotline__dispatch__v1__working_day__init(day);
		for (int j = 0; j < 2; j++) {
			if (!(iv[j] = hl_arena_alloc(a, sizeof *iv[j])))
				return hl_fail(err, HL_NOMEM, "out of memory");
			hotline__dispatch__v1__working_interval__init(iv[j]);
			iv[j]->start_minute = spans[j][0];
			iv[j]->end_minute = spans[j][1];
		}
		day->weekday = d + 1;
		day->intervals = iv;
		day->n_intervals = 2;
		days[d] = day;
	}
	m->week = days;
	m->n_week = 5;
	*out = m;
	return HL_OK;
}

/* The stored calendar message as it was put, or the default one (arena memory). */
static hl_status stored_msg(hl_pg *pg, hl_arena *a, Hotline__Dispatch__V1__Calendar **out, hl_error *err)
{
	uint8_t *spec;
	size_t n;
	hl_status st = store_calendar_get(pg, a, &spec, &n, err);
	if (st)
		return st;
	if (!spec)
		return default_msg(a, out, err);
	*out = hotline__dispatch__v1__calendar__unpack(hl_arena_pb_allocator(a), n, spec);
	return *out ? HL_OK : hl_fail(err, HL_INTERNAL, "stored calendar does not decode");
}

static void free_calendar(void *p)
{
	hl_calendar_free(p);
}

/* Build m into a calendar that the arena frees. */
static hl_status build_in(hl_arena *a, const Hotline__Dispatch__V1__Calendar *m, hl_calendar **out, hl_error *err)
{
	hl_status st = dispatch_calendar_build(m, out, err);
	if (st)
		return st;
	if (hl_arena_defer(a, free_calendar, *out)) {
		hl_calendar_free(*out);
		return hl_fail(err, HL_NOMEM, "out of memory");
	}
	return HL_OK;
}

hl_status dispatch_calendar_msg(hl_pg *pg, hl_arena *a, Hotline__Dispatch__V1__Calendar **out, hl_error *err)
{
	hl_calendar *cal;
	char *text;
	hl_status st = stored_msg(pg, a, out, err);
	if (!st)
		st = build_in(a, *out, &cal, err);
	if (!st)
		st = hl_calendar_format(cal, a, &text, err);
	if (!st)
		(*out)->text = text;
	return st;
}

hl_status dispatch_calendar_load(hl_pg *pg, hl_arena *a, const hl_calendar **out, hl_error *err)
{
	Hotline__Dispatch__V1__Calendar *m;
	hl_calendar *cal;
	hl_status st = stored_msg(pg, a, &m, err);
	if (!st && !(st = build_in(a, m, &cal, err)))
		*out = cal;
	return st;
}
