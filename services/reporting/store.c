/*
 * store.c - reporting's SQL for the event store, the projections, the
 * tenants' settings and report days (see store.h).
 */
#include "store.h"

#include <string.h>

const char store_missing_chain_sql[] =
	"SELECT 'report:' || report_date::text FROM daily_reports r WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = r.tenant_id AND h.subject_id = 'report:' || "
	"r.report_date::text)";

/* ---- events ------------------------------------------------------------------------------ */

/* Any number of events in one statement; a repeated id (stored, or twice in the list) is skipped. */
static const char SQL_EVENTS_INSERT[] =
	"INSERT INTO events (tenant_id, event_id, type, ticket_id, subject_id, occurred_at, version, actor, source, "
	"payload) SELECT $1, u.id::uuid, u.type, u.ticket, u.subject, " HL_PG_TS("u.us") ", u.version, u.actor, "
	"u.source, u.payload FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], "
	"$8::text[], $9::text[], $10::bytea[]) AS u(id, type, ticket, subject, us, version, actor, source, payload) "
	"ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING ticket_id, subject_id";
enum { EVENT_COLUMNS = 9 };

hl_status store_events_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_event_row *e, int n,
			      store_event_key **added, int *n_added, hl_error *err)
{
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, a, EVENT_COLUMNS);
	for (int i = 0; i < n; i++) {
		hl_pg_rows_text(&rows, e[i].event_id);
		hl_pg_rows_text(&rows, e[i].type);
		hl_pg_rows_text(&rows, e[i].ticket_id);
		hl_pg_rows_text(&rows, e[i].subject_id);
		hl_pg_rows_int(&rows, e[i].occurred_us);
		hl_pg_rows_int(&rows, e[i].version);
		hl_pg_rows_text(&rows, e[i].actor);
		hl_pg_rows_text(&rows, e[i].source);
		hl_pg_rows_bytes(&rows, e[i].payload, e[i].payload_len);
	}
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	PGresult *r;
	hl_status st = hl_pg_rows_args(&rows, &args, err);
	if (st || (st = hl_pg_exec(pg, a, SQL_EVENTS_INSERT, &args, &r, err)))
		return st;
	*n_added = PQntuples(r);
	if (!(*added = hl_arena_alloc(a, (size_t)(*n_added ? *n_added : 1) * sizeof **added)))
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < *n_added; i++)
		(*added)[i] = (store_event_key){.ticket_id = hl_pg_get_text(r, i, 0), .subject_id = hl_pg_get_text(r, i, 1)};
	return HL_OK;
}

/* The keys' locks in the order given (the caller sorts them): unnest yields its elements in order. */
static const char SQL_LOCK_KEYS[] =
	"SELECT pg_advisory_xact_lock(hashtextextended('reporting:' || current_tenant() || ':' || k, 0)) "
	"FROM unnest($1::text[]) AS k";

hl_status store_lock_keys(hl_pg *pg, hl_arena *a, const char *const *keys, int n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text_array(&args, a, keys, n);
	return hl_pg_exec_deferred(pg, a, SQL_LOCK_KEYS, &args, err);
}

#define EVENT_COLS "event_id::text, type, ticket_id, subject_id, actor, source, " HL_PG_US("occurred_at") ", version, payload"
static const char SQL_EVENTS_OF_TICKETS[] =
	"SELECT " EVENT_COLS " FROM events WHERE ticket_id = ANY ($1::text[]) AND ticket_id <> '' ORDER BY ticket_id";
/* (A subject that is not a ticket is never an event's ticket: events_subject holds only those events.) */
static const char SQL_EVENTS_OF_SUBJECTS[] =
	"SELECT " EVENT_COLS " FROM events WHERE subject_id = ANY ($1::text[]) AND subject_id <> ticket_id "
	"ORDER BY subject_id";

static hl_status read_event(const PGresult *res, int r, hl_arena *a, void *out, hl_error *err)
{
	store_event_row *e = out;
	e->event_id = hl_pg_get_text(res, r, 0);
	e->type = hl_pg_get_text(res, r, 1);
	e->ticket_id = hl_pg_get_text(res, r, 2);
	e->subject_id = hl_pg_get_text(res, r, 3);
	e->actor = hl_pg_get_text(res, r, 4);
	e->source = hl_pg_get_text(res, r, 5);
	e->occurred_us = hl_pg_get_int(res, r, 6);
	e->version = hl_pg_get_int(res, r, 7);
	uint8_t *p;
	hl_status st = hl_pg_get_bytes(res, r, 8, a, &p, &e->payload_len);
	if (st)
		return hl_fail(err, st, "events.payload: unreadable");
	e->payload = p;
	return HL_OK;
}

hl_status store_events_of(hl_pg *pg, hl_arena *a, const char *const *keys, int n_keys, bool by_ticket,
			  store_event_row ***out, int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text_array(&args, a, keys, n_keys);
	return hl_pg_fetch(pg, a, by_ticket ? SQL_EVENTS_OF_TICKETS : SQL_EVENTS_OF_SUBJECTS, &args,
			   sizeof(store_event_row), read_event, (void ***)out, n, err);
}

/* ---- projections ------------------------------------------------------------------------- */

/* Many tickets' facts in one statement (distinct tickets: one statement may not change a row twice). */
static const char SQL_TICKETS_UPSERT[] =
	"INSERT INTO ticket_facts AS f (tenant_id, ticket_id, ticket_no, channel, category, priority, topic, area, "
	"registered_by, received_at, on_spot, assigned_at, accepted_at, department_id, handler_id, transfers, returns, "
	"accept_due, complete_due, completed_at, on_time, overdue_at, status, status_version, closed_at, reopens, "
	"satisfaction, rated_at, visited, events, updated_at) SELECT $1, u.id, u.no, u.channel, u.category, u.priority, "
	"u.topic, u.area, u.registered_by, " HL_PG_TS("u.received") ", u.on_spot, " HL_PG_TS("u.assigned") ", "
	HL_PG_TS("u.accepted") ", u.dept, u.handler, u.transfers, u.returns, " HL_PG_TS("u.accept_due") ", "
	HL_PG_TS("u.complete_due") ", " HL_PG_TS("u.completed") ", u.on_time, " HL_PG_TS("u.overdue") ", u.status, "
	"u.status_version, " HL_PG_TS("u.closed") ", u.reopens, u.satisfaction, " HL_PG_TS("u.rated") ", u.visited, "
	"u.events, now() FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::text[], $8::text[], "
	"$9::text[], $10::bigint[], $11::bool[], $12::bigint[], $13::bigint[], $14::text[], $15::text[], $16::int[], "
	"$17::int[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bool[], $22::bigint[], $23::int[], $24::bigint[], "
	"$25::bigint[], $26::int[], $27::int[], $28::bigint[], $29::bool[], $30::int[]) AS u(id, no, channel, category, "
	"priority, topic, area, registered_by, received, on_spot, assigned, accepted, dept, handler, transfers, returns, "
	"accept_due, complete_due, completed, on_time, overdue, status, status_version, closed, reopens, satisfaction, "
	"rated, visited, events) "
	"ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET ticket_no = EXCLUDED.ticket_no, channel = EXCLUDED.channel, "
	"category = EXCLUDED.category, priority = EXCLUDED.priority, topic = EXCLUDED.topic, area = EXCLUDED.area, "
	"registered_by = EXCLUDED.registered_by, received_at = EXCLUDED.received_at, on_spot = EXCLUDED.on_spot, "
	"assigned_at = EXCLUDED.assigned_at, accepted_at = EXCLUDED.accepted_at, department_id = EXCLUDED.department_id, "
	"handler_id = EXCLUDED.handler_id, transfers = EXCLUDED.transfers, returns = EXCLUDED.returns, "
	"accept_due = EXCLUDED.accept_due, complete_due = EXCLUDED.complete_due, completed_at = EXCLUDED.completed_at, "
	"on_time = EXCLUDED.on_time, overdue_at = EXCLUDED.overdue_at, status = EXCLUDED.status, "
	"status_version = EXCLUDED.status_version, closed_at = EXCLUDED.closed_at, reopens = EXCLUDED.reopens, "
	"satisfaction = EXCLUDED.satisfaction, rated_at = EXCLUDED.rated_at, visited = EXCLUDED.visited, "
	"events = EXCLUDED.events, updated_at = now()";
enum { TICKET_COLUMNS = 29 };

static const char *nz(const char *s)
{
	return s ? s : "";
}

static void ticket_row(hl_pg_rows *rows, const reporting_ticket *t)
{
	hl_pg_rows_text(rows, t->ticket_id);
	hl_pg_rows_text(rows, nz(t->ticket_no));
	hl_pg_rows_int(rows, t->channel);
	hl_pg_rows_int(rows, t->category);
	hl_pg_rows_int(rows, t->priority);
	hl_pg_rows_text(rows, nz(t->topic));
	hl_pg_rows_text(rows, nz(t->area));
	hl_pg_rows_text(rows, nz(t->registered_by));
	hl_pg_rows_int(rows, t->received_us);
	hl_pg_rows_bool(rows, t->on_spot);
	hl_pg_rows_int(rows, t->assigned_us);
	hl_pg_rows_int(rows, t->accepted_us);
	hl_pg_rows_text(rows, nz(t->department_id));
	hl_pg_rows_text(rows, nz(t->handler_id));
	hl_pg_rows_int(rows, t->transfers);
	hl_pg_rows_int(rows, t->returns);
	hl_pg_rows_int(rows, t->accept_due_us);
	hl_pg_rows_int(rows, t->complete_due_us);
	hl_pg_rows_int(rows, t->completed_us);
	hl_pg_rows_bool(rows, t->on_time);
	hl_pg_rows_int(rows, t->overdue_us);
	hl_pg_rows_int(rows, t->status);
	hl_pg_rows_int(rows, t->status_version);
	hl_pg_rows_int(rows, t->closed_us);
	hl_pg_rows_int(rows, t->reopens);
	hl_pg_rows_int(rows, t->satisfaction);
	hl_pg_rows_int(rows, t->rated_us);
	hl_pg_rows_bool(rows, t->visited);
	hl_pg_rows_int(rows, t->events);
}

/* rows' statement with the tenant as $1 and the rows' arrays after it, deferred; none: nothing sent */
static hl_status upsert_rows(hl_pg *pg, hl_arena *a, const char *sql, const char *tenant, const hl_pg_rows *rows,
			     hl_error *err)
{
	if (!hl_pg_rows_count(rows))
		return HL_OK;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_status st = hl_pg_rows_args(rows, &args, err);
	return st ? st : hl_pg_exec_deferred(pg, a, sql, &args, err);
}

hl_status store_tickets_upsert(hl_pg *pg, hl_arena *a, const char *tenant, const reporting_ticket *t, int n,
			       hl_error *err)
{
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, a, TICKET_COLUMNS);
	for (int i = 0; i < n; i++)
		ticket_row(&rows, &t[i]);
	return upsert_rows(pg, a, SQL_TICKETS_UPSERT, tenant, &rows, err);
}

static const char SQL_SUBJECTS_UPSERT[] =
	"INSERT INTO subject_facts (tenant_id, subject_id, kind, ticket_id, department_id, person_id, level, opened_at, "
	"due_at, done_at, on_time, problem_found, recheck_disagrees, overdue, approved, events, updated_at) SELECT $1, "
	"u.id, u.kind, u.ticket, u.dept, u.person, u.level, " HL_PG_TS("u.opened") ", " HL_PG_TS("u.due") ", "
	HL_PG_TS("u.done") ", u.on_time, u.problem_found, u.recheck_disagrees, u.overdue, u.approved, u.events, now() "
	"FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::bigint[], "
	"$10::bigint[], $11::bool[], $12::bool[], $13::bool[], $14::bool[], $15::bool[], $16::int[]) AS u(id, kind, "
	"ticket, dept, person, level, opened, due, done, on_time, problem_found, recheck_disagrees, overdue, approved, "
	"events) ON CONFLICT (tenant_id, subject_id) DO UPDATE SET "
	"kind = EXCLUDED.kind, ticket_id = EXCLUDED.ticket_id, department_id = EXCLUDED.department_id, "
	"person_id = EXCLUDED.person_id, level = EXCLUDED.level, opened_at = EXCLUDED.opened_at, due_at = EXCLUDED.due_at, "
	"done_at = EXCLUDED.done_at, on_time = EXCLUDED.on_time, problem_found = EXCLUDED.problem_found, "
	"recheck_disagrees = EXCLUDED.recheck_disagrees, overdue = EXCLUDED.overdue, approved = EXCLUDED.approved, "
	"events = EXCLUDED.events, updated_at = now()";
enum { SUBJECT_COLUMNS = 15 };

hl_status store_subjects_upsert(hl_pg *pg, hl_arena *a, const char *tenant, const reporting_subject *s, int n,
				hl_error *err)
{
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, a, SUBJECT_COLUMNS);
	for (int i = 0; i < n; i++) {
		hl_pg_rows_text(&rows, s[i].subject_id);
		hl_pg_rows_text(&rows, s[i].kind);
		hl_pg_rows_text(&rows, nz(s[i].ticket_id));
		hl_pg_rows_text(&rows, nz(s[i].department_id));
		hl_pg_rows_text(&rows, nz(s[i].person_id));
		hl_pg_rows_int(&rows, s[i].level);
		hl_pg_rows_int(&rows, s[i].opened_us);
		hl_pg_rows_int(&rows, s[i].due_us);
		hl_pg_rows_int(&rows, s[i].done_us);
		hl_pg_rows_bool(&rows, s[i].on_time);
		hl_pg_rows_bool(&rows, s[i].problem_found);
		hl_pg_rows_bool(&rows, s[i].recheck_disagrees);
		hl_pg_rows_bool(&rows, s[i].overdue);
		hl_pg_rows_bool(&rows, s[i].approved);
		hl_pg_rows_int(&rows, s[i].events);
	}
	return upsert_rows(pg, a, SQL_SUBJECTS_UPSERT, tenant, &rows, err);
}

/* ---- settings ---------------------------------------------------------------------------- */

static const char SQL_SETTINGS_ENSURE[] =
	"INSERT INTO report_settings (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING RETURNING 1";
static const char SQL_SETTINGS_GET[] =
	"SELECT COALESCE((SELECT zone FROM report_settings WHERE tenant_id = current_tenant()), 'Asia/Shanghai'), "
	"COALESCE((SELECT cutoff_minutes FROM report_settings WHERE tenant_id = current_tenant()), 1440)";
static const char SQL_SETTINGS_PUT[] =
	"INSERT INTO report_settings (tenant_id, zone, cutoff_minutes, updated_by) VALUES ($1, $2, $3::int, $4) "
	"ON CONFLICT (tenant_id) DO UPDATE SET zone = EXCLUDED.zone, cutoff_minutes = EXCLUDED.cutoff_minutes, "
	"updated_by = EXCLUDED.updated_by, updated_at = now()";
static const char SQL_ZONE_VALID[] = "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)";

hl_status store_settings_ensure(hl_pg *pg, hl_arena *a, const char *tenant, bool *created, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(tenant);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_SETTINGS_ENSURE, &args, &r, err);
	if (!st)
		*created = PQntuples(r) == 1;
	return st;
}

hl_status store_settings_get(hl_pg *pg, hl_arena *a, const char **zone, int *cutoff_minutes, hl_error *err)
{
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_SETTINGS_GET, NULL, &r, err);
	if (st)
		return st;
	*zone = hl_pg_get_text(r, 0, 0);
	*cutoff_minutes = (int)hl_pg_get_int(r, 0, 1);
	return HL_OK;
}

hl_status store_settings_put(hl_pg *pg, hl_arena *a, const char *tenant, const char *zone, int cutoff_minutes,
			     const char *actor, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, zone);
	hl_pg_arg_int(&args, a, cutoff_minutes);
	hl_pg_arg_text(&args, actor);
	return hl_pg_exec(pg, a, SQL_SETTINGS_PUT, &args, NULL, err);
}

hl_status store_zone_valid(hl_pg *pg, hl_arena *a, const char *zone, bool *ok, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(zone);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_ZONE_VALID, &args, &r, err);
	if (!st)
		*ok = hl_pg_get_bool(r, 0, 0);
	return st;
}

/* ---- days -------------------------------------------------------------------------------- */

/* Day D is [(D-1) 00:00 + cutoff, D 00:00 + cutoff) local time. */
static const char SQL_DAY_WINDOW[] =
	"SELECT " HL_PG_US("((($3::date - 1) + $2::int * interval '1 minute') AT TIME ZONE $1)") ", "
	HL_PG_US("(($3::date + $2::int * interval '1 minute') AT TIME ZONE $1)");
static const char SQL_DAY_OF[] =
	"SELECT ((((" HL_PG_TS("$3") " AT TIME ZONE $1) - $2::int * interval '1 minute'))::date + 1)::text";
static const char SQL_DATES_RANGE[] =
	"SELECT CASE WHEN $2 = '' THEN 0 ELSE " HL_PG_US("(NULLIF($2, '')::date::timestamp AT TIME ZONE $1)") " END, "
	"CASE WHEN $3 = '' THEN 0 ELSE " HL_PG_US("((NULLIF($3, '')::date + 1)::timestamp AT TIME ZONE $1)") " END";
static const char SQL_DATE_ADD[] = "SELECT ($1::date + $2::int)::text";

hl_status store_day_window(hl_pg *pg, hl_arena *a, const char *zone, int cutoff, const char *date, int64_t *start_us,
			   int64_t *end_us, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, zone);
	hl_pg_arg_int(&args, a, cutoff);
	hl_pg_arg_text(&args, date);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_DAY_WINDOW, &args, &r, err);
	if (st)
		return st;
	*start_us = hl_pg_get_int(r, 0, 0);
	*end_us = hl_pg_get_int(r, 0, 1);
	return HL_OK;
}

hl_status store_day_of(hl_pg *pg, hl_arena *a, const char *zone, int cutoff, int64_t us, const char **date,
		       hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, zone);
	hl_pg_arg_int(&args, a, cutoff);
	hl_pg_arg_int(&args, a, us);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_DAY_OF, &args, &r, err);
	if (!st)
		*date = hl_pg_get_text(r, 0, 0);
	return st;
}

hl_status store_dates_range(hl_pg *pg, hl_arena *a, const char *zone, const char *from, const char *to,
			    int64_t *start_us, int64_t *end_us, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, zone);
	hl_pg_arg_text(&args, nz(from));
	hl_pg_arg_text(&args, nz(to));
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_DATES_RANGE, &args, &r, err);
	if (st)
		return st;
	*start_us = hl_pg_get_int(r, 0, 0);
	*end_us = hl_pg_get_int(r, 0, 1);
	return HL_OK;
}

hl_status store_date_add(hl_pg *pg, hl_arena *a, const char *date, int days, const char **out, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, date);
	hl_pg_arg_int(&args, a, days);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_DATE_ADD, &args, &r, err);
	if (!st)
		*out = hl_pg_get_text(r, 0, 0);
	return st;
}

static const char SQL_TENANTS[] = "SELECT tenant_id, zone, cutoff_minutes FROM report_settings ORDER BY tenant_id";

static hl_status read_tenant(const PGresult *res, int r, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	store_tenant *t = out;
	t->tenant = hl_pg_get_text(res, r, 0);
	t->zone = hl_pg_get_text(res, r, 1);
	t->cutoff_minutes = (int)hl_pg_get_int(res, r, 2);
	return HL_OK;
}

hl_status store_tenants(hl_pg *pg, hl_arena *a, store_tenant ***out, int *n, hl_error *err)
{
	return hl_pg_fetch(pg, a, SQL_TENANTS, NULL, sizeof(store_tenant), read_tenant, (void ***)out, n, err);
}

static const char SQL_DAYS_BOUNDS[] =
	"SELECT COALESCE((SELECT ((((created_at AT TIME ZONE $1) - $2::int * interval '1 minute'))::date + 1)::text "
	"FROM report_settings WHERE tenant_id = current_tenant()), ''), "
	"COALESCE((SELECT max(report_date)::text FROM daily_reports), '')";

hl_status store_days_bounds(hl_pg *pg, hl_arena *a, const char *zone, int cutoff, const char **first_day,
			    const char **last_frozen, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, zone);
	hl_pg_arg_int(&args, a, cutoff);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_DAYS_BOUNDS, &args, &r, err);
	if (st)
		return st;
	*first_day = hl_pg_get_text(r, 0, 0);
	*last_frozen = hl_pg_get_text(r, 0, 1);
	return HL_OK;
}
