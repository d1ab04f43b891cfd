/*
 * reporting.h - the reporting service's shared types: its state (the report
 * signing key), the facts folded from events (fold.c), the daily report job
 * (daily.c), and the helpers its handler files share (rpc_common.c).
 */
#ifndef REPORTING_H
#define REPORTING_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/lock.h"
#include "hl/program.h"
#include "hl/rpc.h"
#include "hl/timers.h"
#include "hotline/reporting/v1/reporting.pb-c.h"

typedef struct reporting_signer reporting_signer;

typedef struct reporting_app {
	const hl_common_config *common;
	reporting_signer *signer;
	hl_singleton *sweep;     /* the cut-off sweep (one replica at a time) */
	hl_pg *sweep_pg;         /* its system-role connection */
	int sweep_interval_ms;
} reporting_app;

/* Limits */
#define REPORTING_MAX_EVENTS 500     /* events per RecordEvents */
#define REPORTING_PAGE_DEFAULT 50
#define REPORTING_PAGE_MAX 500
#define REPORTING_EXPORT_ROWS 1000   /* rows read per page of an export */
#define REPORTING_MAX_CORRECTIONS 500
#define REPORTING_TOP_TOPICS 10
#define REPORTING_BY_TOPIC 100
#define REPORTING_SUPPRESS_BELOW 5   /* disclosure cells with fewer tickets are suppressed */
#define REPORTING_MAX_GROUP 50       /* tenants in one group view */

/* A stored event as the fold reads it. */
typedef struct reporting_event {
	const char *event_id, *type;
	int64_t occurred_us, version;
	const Hotline__Common__V1__Event *ev; /* unpacked payload (arena) */
} reporting_event;

/* The facts of one ticket (ticket_facts). Times: microseconds, 0 none. */
typedef struct reporting_ticket {
	const char *ticket_id, *ticket_no, *topic, *area, *registered_by, *department_id, *handler_id;
	int channel, category, priority, status, satisfaction;
	int transfers, returns, reopens, events;
	int64_t status_version;
	int64_t received_us, assigned_us, accepted_us, accept_due_us, complete_due_us, completed_us;
	int64_t overdue_us, closed_us, rated_us;
	bool on_spot, on_time, visited;
} reporting_ticket;

/* The facts of one visit, risk event, warning, violation or review (subject_facts). */
typedef struct reporting_subject {
	const char *subject_id, *kind, *ticket_id, *department_id, *person_id;
	int level, events;
	int64_t opened_us, due_us, done_us;
	bool on_time, problem_found, recheck_disagrees, overdue, approved;
} reporting_subject;

/* fold.c: pure; the same events in any order give the same facts */
/* Sort events by (occurred_at, version, event_id). */
void reporting_sort_events(reporting_event *evs, int n);
/* Fold a ticket's events (sorted) into *t (ticket_id set by the caller). */
void reporting_fold_ticket(const reporting_event *evs, int n, reporting_ticket *t);
/* Fold a subject's events (sorted) into *s (subject_id set); false when none of them names a subject kind. */
bool reporting_fold_subject(const reporting_event *evs, int n, reporting_subject *s);
/* The subject an event is about: the visit or compliance subject, else the ticket, else a reply task ("" none). */
const char *reporting_event_subject(const Hotline__Common__V1__Event *ev);

/* sign.c: the Ed25519 report signing key (OpenSSL) */
hl_status reporting_signer_load(const char *pem_path, reporting_signer **out, hl_error *err) HL_MUST_CHECK;
void reporting_signer_free(reporting_signer *s);
const char *reporting_signer_key_id(const reporting_signer *s);
const char *reporting_signer_public_pem(const reporting_signer *s);
/* Ed25519 signature (64 bytes) of msg. */
hl_status reporting_sign(const reporting_signer *s, const uint8_t *msg, size_t len, uint8_t sig[64],
			 hl_error *err) HL_MUST_CHECK;

/* daily.c: freezing the report of a day (timer, sweep and FreezeDailyReport share it) */
typedef struct reporting_day {
	const char *date; /* YYYY-MM-DD */
	const char *zone;
	int cutoff_minutes;
	int64_t start_us, end_us;
} reporting_day;
/*
 * In pg's open transaction (acting tenant set): freeze the report of day->date
 * unless it exists (*created false; *out the existing one). The window must
 * have ended. fence: the singleton's fencing number (0 from a timer or a user).
 */
hl_status reporting_freeze(reporting_app *app, hl_pg *pg, hl_arena *a, const char *tenant, const reporting_day *day,
			   const char *actor, int64_t fence, Hotline__Reporting__V1__DailyReport **out, bool *created,
			   hl_error *err) HL_MUST_CHECK;
/* The report of the tenant's day in the open transaction (NULL *out when not frozen). */
hl_status reporting_report_get(hl_pg *pg, hl_arena *a, const char *date, Hotline__Reporting__V1__DailyReport **out,
			       hl_error *err) HL_MUST_CHECK;
/* The cut-off timer of the current day under zone and cutoff_minutes (for hl_call_timers_put; arena memory). */
hl_status reporting_today_timer(hl_pg *pg, hl_arena *a, const char *zone, int cutoff_minutes, hl_timer_item *out,
				hl_error *err) HL_MUST_CHECK;
/* Put (in pg's transaction, acting tenant set) the cut-off timer of the tenant's day after `date`. */
hl_status reporting_schedule_next(hl_pg *pg, hl_arena *a, const char *tenant, const char *zone, int cutoff_minutes,
				  const char *after_date, int64_t *due_ms, const char **next_date,
				  hl_error *err) HL_MUST_CHECK;
/* Timer handler (hl_program.timer_fire): kind "report.daily", subject the date. */
hl_status reporting_timer_fire(void *app, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err);
/* Singleton job: freeze every tenant's reports whose cut-off has passed (catch-up after outages). */
hl_status reporting_sweep(void *app, int64_t fence, hl_error *err);

/* methods.c */
extern const hl_service reporting_service;

/* rpc_events.c */
hl_status reporting_record_events(hl_call *c, const void *req, void **resp);
/* rpc_ledger.c */
hl_status reporting_get_ledger(hl_call *c, const void *req, void **resp);
hl_status reporting_export_ledger(hl_call *c, const void *req, void **resp);
/* rpc_daily.c */
hl_status reporting_get_daily_report(hl_call *c, const void *req, void **resp);
hl_status reporting_list_daily_reports(hl_call *c, const void *req, void **resp);
hl_status reporting_freeze_daily_report(hl_call *c, const void *req, void **resp);
hl_status reporting_put_settings(hl_call *c, const void *req, void **resp);
hl_status reporting_get_settings(hl_call *c, const void *req, void **resp);
/* rpc_kpi.c */
hl_status reporting_get_kpis(hl_call *c, const void *req, void **resp);
hl_status reporting_get_disclosure(hl_call *c, const void *req, void **resp);

/* rpc_common.c: what the handlers share (each fails the call itself) */
reporting_app *reporting_app_of(hl_call *c);
/* A YYYY-MM-DD date (required or may be empty). */
hl_status reporting_check_date(hl_call *c, const char *field, const char *v, bool required) HL_MUST_CHECK;
/* The acting tenant's settings (defaults when it has none yet), in the call's open transaction. */
hl_status reporting_settings(hl_call *c, const char **zone, int *cutoff_minutes) HL_MUST_CHECK;

#endif
