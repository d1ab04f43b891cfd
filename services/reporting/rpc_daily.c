/*
 * rpc_daily.c - the daily report's methods: GetDailyReport and
 * ListDailyReports read frozen snapshots; FreezeDailyReport freezes a day
 * whose cut-off has passed now (the timer does it by itself, see daily.c);
 * Put/GetReportSettings hold the tenant's zone and cut-off.
 */
#include "reporting.h"

#include <string.h>

#include "hl/audit.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "hl/timers.h"
#include "store.h"

static const char *const read_roles[] = {HL_ROLE_ANALYST, HL_ROLE_SUPERVISOR, HL_ROLE_AUDITOR, HL_ROLE_TENANT_ADMIN,
					 NULL};
static const char *const freeze_roles[] = {HL_ROLE_ANALYST, HL_ROLE_SUPERVISOR, HL_ROLE_TENANT_ADMIN, NULL};
static const char *const admin_roles[] = {HL_ROLE_TENANT_ADMIN, NULL};

hl_status reporting_get_daily_report(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Reporting__V1__GetDailyReportRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, read_roles)) || (st = reporting_check_date(c, "date", r->date, true)) ||
	    (st = hl_call_begin(c)))
		return st;
	Hotline__Reporting__V1__GetDailyReportResponse *out =
		HL_NEW(c, hotline__reporting__v1__get_daily_report_response__descriptor);
	hl_error err;
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (reporting_report_get(hl_call_pg(c), hl_call_arena(c), r->date, &out->report, &err))
		return hl_call_fail_err(c, &err);
	hl_pg_rollback(hl_call_pg(c));
	if (!out->report)
		return hl_call_fail(c, HL_NOT_FOUND, "date: no frozen report for %s", r->date);
	*resp = out;
	return HL_OK;
}

hl_status reporting_list_daily_reports(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Reporting__V1__ListDailyReportsRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, read_roles)) || (st = reporting_check_date(c, "from_date", r->from_date, false)) ||
	    (st = reporting_check_date(c, "to_date", r->to_date, false)) || (st = hl_call_begin(c)))
		return st;
	store_report **rows;
	int n;
	hl_error err;
	if (store_report_list(hl_call_pg(c), hl_call_arena(c), r->from_date, r->to_date, &rows, &n, &err))
		return hl_call_fail_err(c, &err);
	hl_pg_rollback(hl_call_pg(c));
	Hotline__Reporting__V1__ListDailyReportsResponse *out =
		HL_NEW(c, hotline__reporting__v1__list_daily_reports_response__descriptor);
	if (!out || !(out->reports = hl_arena_alloc(hl_call_arena(c), ((size_t)n + 1) * sizeof *out->reports)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		Hotline__Reporting__V1__DailyReportSummary *s =
			HL_NEW(c, hotline__reporting__v1__daily_report_summary__descriptor);
		if (!s)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		s->date = (char *)rows[i]->date;
		s->content_sha256 = (char *)rows[i]->sha256;
		s->key_id = (char *)rows[i]->key_id;
		s->frozen_at = hl_call_timestamp(c, rows[i]->frozen_us);
		s->received = rows[i]->received;
		s->corrections_total = rows[i]->corrections;
		out->reports[out->n_reports++] = s;
	}
	*resp = out;
	return HL_OK;
}

hl_status reporting_freeze_daily_report(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Reporting__V1__FreezeDailyReportRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, freeze_roles)) || (st = reporting_check_date(c, "date", r->date, true)) ||
	    (st = hl_call_begin(c)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	reporting_day day = {.date = r->date};
	hl_error err;
	if ((st = reporting_settings(c, &day.zone, &day.cutoff_minutes)))
		return st;
	if (store_day_window(pg, a, day.zone, day.cutoff_minutes, r->date, &day.start_us, &day.end_us, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Reporting__V1__FreezeDailyReportResponse *out =
		HL_NEW(c, hotline__reporting__v1__freeze_daily_report_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	bool created;
	if (reporting_freeze(reporting_app_of(c), pg, a, hl_call_principal(c)->tenant, &day, hl_call_principal(c)->actor,
			     0, &out->report, &created, &err))
		return hl_call_fail_err(c, &err);
	out->created = created;
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

static Hotline__Reporting__V1__ReportSettings *settings_msg(hl_call *c, const char *zone, int cutoff)
{
	Hotline__Reporting__V1__ReportSettings *m = HL_NEW(c, hotline__reporting__v1__report_settings__descriptor);
	if (m) {
		m->zone = (char *)zone;
		m->cutoff_minutes = cutoff;
	}
	return m;
}

hl_status reporting_put_settings(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Reporting__V1__PutReportSettingsRequest *r = vreq;
	const Hotline__Reporting__V1__ReportSettings *s = r->settings;
	hl_status st;
	if ((st = hl_call_require_any(c, admin_roles)))
		return st;
	if (!s)
		return hl_call_fail(c, HL_INVALID, "settings: required");
	if ((st = hl_call_check_text(c, "settings.zone", s->zone, 64, true)))
		return st;
	if (s->cutoff_minutes < 1 || s->cutoff_minutes > 1440)
		return hl_call_fail(c, HL_INVALID, "settings.cutoff_minutes: 1..1440 (1440: the calendar day)");
	if ((st = hl_call_begin(c)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	const hl_principal *p = hl_call_principal(c);
	bool ok;
	const char *details;
	hl_error err;
	if (store_zone_valid(pg, a, s->zone, &ok, &err))
		return hl_call_fail_err(c, &err);
	if (!ok)
		return hl_call_fail(c, HL_INVALID, "settings.zone: not a known time zone (IANA name, e.g. Asia/Shanghai)");
	/* the current day's cut-off moves with the settings (the timer of a day is keyed by its date) */
	hl_timer_item it;
	if (store_settings_put(pg, a, p->tenant, s->zone, s->cutoff_minutes, p->actor, &err) ||
	    reporting_today_timer(pg, a, s->zone, s->cutoff_minutes, &it, &err))
		return hl_call_fail_err(c, &err);
	details = hl_arena_printf(a, "{\"zone\":\"%s\",\"cutoff_minutes\":%d}", s->zone, s->cutoff_minutes);
	if (!details)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (hl_call_timers_put(c, &it, 1, &err) ||
	    hl_audit_append(pg, a, p->tenant, "settings", "report-settings", p->actor, "settings.updated", details, false,
			    &err))
		return hl_call_fail_err(c, &err);
	if ((st = hl_call_commit(c)))
		return st;
	Hotline__Reporting__V1__PutReportSettingsResponse *out =
		HL_NEW(c, hotline__reporting__v1__put_report_settings_response__descriptor);
	if (!out || !(out->settings = settings_msg(c, s->zone, s->cutoff_minutes)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*resp = out;
	return HL_OK;
}

hl_status reporting_get_settings(hl_call *c, const void *vreq, void **resp)
{
	(void)vreq;
	hl_status st;
	const char *zone;
	int cutoff;
	if ((st = hl_call_require_any(c, hl_roles_staff)) || (st = hl_call_begin(c)) ||
	    (st = reporting_settings(c, &zone, &cutoff)))
		return st;
	hl_pg_rollback(hl_call_pg(c));
	Hotline__Reporting__V1__GetReportSettingsResponse *out =
		HL_NEW(c, hotline__reporting__v1__get_report_settings_response__descriptor);
	if (!out || !(out->settings = settings_msg(c, zone, cutoff)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*resp = out;
	return HL_OK;
}
