/*
 * store.h - reporting's SQL (store.c: events, projections, settings, days;
 * store_report.c: ledger pages, daily report figures and snapshots, KPIs,
 * disclosure).  Every function runs in the caller's open transaction with
 * the acting tenant set; times cross as microseconds since the epoch (0 NULL).
 */
#ifndef REPORTING_STORE_H
#define REPORTING_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/pg.h"
#include "reporting.h"

extern const char store_missing_chain_sql[];

/* ---- events and projections (store.c) ---- */
typedef struct store_event_row {
	const char *event_id, *type, *ticket_id, *subject_id, *actor, *source;
	int64_t occurred_us, version;
	const uint8_t *payload;
	size_t payload_len;
} store_event_row;
/* What a newly stored event touches. */
typedef struct store_event_key {
	const char *ticket_id, *subject_id;
} store_event_key;
/*
 * Append n events in one statement; an id already stored (or repeated in the
 * list) is skipped.  *added: the ticket and subject of each event stored now.
 */
hl_status store_events_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_event_row *e, int n,
			      store_event_key **added, int *n_added, hl_error *err) HL_MUST_CHECK;
/*
 * Serialize the folds of the tickets and subjects keys (sorted by the caller,
 * so two deliveries cannot deadlock) until the transaction ends: advisory
 * locks, one deferred statement.
 */
hl_status store_lock_keys(hl_pg *pg, hl_arena *a, const char *const *keys, int n, hl_error *err) HL_MUST_CHECK;
/* All events of the tickets (by_ticket) or of the subjects keys, payload included, grouped by the key. */
hl_status store_events_of(hl_pg *pg, hl_arena *a, const char *const *keys, int n_keys, bool by_ticket,
			  store_event_row ***out, int *n, hl_error *err) HL_MUST_CHECK;
/* The facts of n distinct tickets (subjects), one deferred statement. */
hl_status store_tickets_upsert(hl_pg *pg, hl_arena *a, const char *tenant, const reporting_ticket *t, int n,
			       hl_error *err) HL_MUST_CHECK;
hl_status store_subjects_upsert(hl_pg *pg, hl_arena *a, const char *tenant, const reporting_subject *s, int n,
				hl_error *err) HL_MUST_CHECK;

/* ---- settings and days (store.c) ---- */
/* Create the tenant's settings with the defaults unless they exist; *created tells. */
hl_status store_settings_ensure(hl_pg *pg, hl_arena *a, const char *tenant, bool *created, hl_error *err) HL_MUST_CHECK;
/* The settings (defaults when there is no row). */
hl_status store_settings_get(hl_pg *pg, hl_arena *a, const char **zone, int *cutoff_minutes, hl_error *err) HL_MUST_CHECK;
hl_status store_settings_put(hl_pg *pg, hl_arena *a, const char *tenant, const char *zone, int cutoff_minutes,
			     const char *actor, hl_error *err) HL_MUST_CHECK;
/* Whether PostgreSQL knows the time zone name. */
hl_status store_zone_valid(hl_pg *pg, hl_arena *a, const char *zone, bool *ok, hl_error *err) HL_MUST_CHECK;
/* Day `date`'s window [start, end) for the settings. */
hl_status store_day_window(hl_pg *pg, hl_arena *a, const char *zone, int cutoff, const char *date, int64_t *start_us,
			   int64_t *end_us, hl_error *err) HL_MUST_CHECK;
/* The report day an instant belongs to (YYYY-MM-DD, arena). */
hl_status store_day_of(hl_pg *pg, hl_arena *a, const char *zone, int cutoff, int64_t us, const char **date,
		       hl_error *err) HL_MUST_CHECK;
/* Local calendar days [from, to] as instants [start, end) in zone ("" open: 0). */
hl_status store_dates_range(hl_pg *pg, hl_arena *a, const char *zone, const char *from, const char *to,
			    int64_t *start_us, int64_t *end_us, hl_error *err) HL_MUST_CHECK;
/* date + days (YYYY-MM-DD, arena). */
hl_status store_date_add(hl_pg *pg, hl_arena *a, const char *date, int days, const char **out,
			 hl_error *err) HL_MUST_CHECK;
/* Tenants (system role) whose settings exist, with their settings. */
typedef struct store_tenant {
	const char *tenant, *zone;
	int cutoff_minutes;
} store_tenant;
hl_status store_tenants(hl_pg *pg, hl_arena *a, store_tenant ***out, int *n, hl_error *err) HL_MUST_CHECK;
/* The tenant's first report day (its first event's), and the latest frozen day ("" none). */
hl_status store_days_bounds(hl_pg *pg, hl_arena *a, const char *zone, int cutoff, const char **first_day,
			    const char **last_frozen, hl_error *err) HL_MUST_CHECK;

/* ---- ledger (store_report.c) ---- */
typedef struct store_ledger_filter {
	int64_t from_us, to_us; /* received in [from, to); 0 open */
	const char *department_id, *ticket_no; /* NULL: any */
	int category, channel, status;
	bool overdue_only;
	int64_t after_us; /* keyset: rows after (after_us, after_id) */
	const char *after_id;
	int limit;
} store_ledger_filter;
hl_status store_ledger(hl_pg *pg, hl_arena *a, const store_ledger_filter *f, reporting_ticket ***out, int *n,
		       hl_error *err) HL_MUST_CHECK;

/* ---- daily report (store_report.c) ---- */
/* Fill the figures of the window [start, end) into c (arena memory). prev_frozen_us: corrections after it. */
hl_status store_report_figures(hl_pg *pg, hl_arena *a, int64_t start_us, int64_t end_us, int64_t prev_frozen_us,
			       const char *zone, int cutoff, Hotline__Reporting__V1__DailyReportContent *c,
			       hl_error *err) HL_MUST_CHECK;
/* frozen_at of the latest report before date (0 none). */
hl_status store_prev_frozen(hl_pg *pg, hl_arena *a, const char *date, int64_t *frozen_us, hl_error *err) HL_MUST_CHECK;
typedef struct store_report {
	const char *date, *sha256, *key_id, *public_key, *frozen_by;
	int64_t start_us, end_us, frozen_us, received, corrections, fence;
	const uint8_t *content, *signature;
	size_t content_len, signature_len;
} store_report;
hl_status store_report_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_report *r, bool *inserted,
			      hl_error *err) HL_MUST_CHECK;
hl_status store_report_get(hl_pg *pg, hl_arena *a, const char *date, store_report **out, hl_error *err) HL_MUST_CHECK;
hl_status store_report_list(hl_pg *pg, hl_arena *a, const char *from, const char *to, store_report ***out, int *n,
			    hl_error *err) HL_MUST_CHECK;

/* ---- KPIs and disclosure (store_report.c) ---- */
/* Counts per group (tenant / department / department+person) of one tenant; docs/reporting.md. */
typedef struct store_kpi_counts {
	const char *department_id, *person_id;
	int64_t accept_den, accept_num, routed_den, routed_num, done_den, done_num, rated_den, rated_num;
	int64_t reopen_den, reopen_num, visit_due, visit_done, visit_recorded, visit_problem;
	int64_t warn_den, warn_num, risk_den, risk_num;
} store_kpi_counts;
hl_status store_kpis(hl_pg *pg, hl_arena *a, int64_t start_us, int64_t end_us, int group, const char *department_id,
		     store_kpi_counts ***out, int *n, hl_error *err) HL_MUST_CHECK;
typedef struct store_disclosure {
	int category;
	int64_t received, handled, on_time, rated, satisfied;
} store_disclosure;
hl_status store_disclosure_rows(hl_pg *pg, hl_arena *a, int64_t start_us, int64_t end_us, store_disclosure ***out,
				int *n, hl_error *err) HL_MUST_CHECK;

#endif
