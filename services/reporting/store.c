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

static const char SQL_EVENT_INSERT[] =
	"INSERT INTO events (tenant_id, event_id, type, ticket_id, subject_id, occurred_at, version, actor, source, "
	"payload) VALUES ($1, $2::uuid, $3, $4, $5, " HL_PG_TS("$6") ", $7::bigint, $8, $9, $10) "
	"ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING 1";

hl_status store_event_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_event_row *e, bool *inserted,
			     hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, e->event_id);
	hl_pg_arg_text(&args, e->type);
	hl_pg_arg_text(&args, e->ticket_id);
	hl_pg_arg_text(&args, e->subject_id);
	hl_pg_arg_int(&args, a, e->occurred_us);
	hl_pg_arg_int(&args, a, e->version);
	hl_pg_arg_text(&args, e->actor);
	hl_pg_arg_text(&args, e->source);
	hl_pg_arg_bytes(&args, e->payload, e->payload_len);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_EVENT_INSERT, &args, &r, err);
	if (st)
		return st;
	*inserted = PQntuples(r) == 1;
	return HL_OK;
}

static const char SQL_LOCK_KEY[] =
	"SELECT pg_advisory_xact_lock(hashtextextended('reporting:' || current_tenant() || ':' || $1, 0))";

hl_status store_lock_key(hl_pg *pg, hl_arena *a, const char *key, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(key);
	return hl_pg_exec_deferred(pg, a, SQL_LOCK_KEY, &args, err);
}

#define EVENT_COLS "event_id::text, type, ticket_id, subject_id, actor, source, " HL_PG_US("occurred_at") ", version, payload"
static const char SQL_EVENTS_OF_TICKET[] = "SELECT " EVENT_COLS " FROM events WHERE ticket_id = $1 AND ticket_id <> ''";
static const char SQL_EVENTS_OF_SUBJECT[] = "SELECT " EVENT_COLS " FROM events WHERE subject_id = $1";

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

hl_status store_events_of(hl_pg *pg, hl_arena *a, const char *key, bool by_ticket, store_event_row ***out, int *n,
			  hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(key);
	return hl_pg_fetch(pg, a, by_ticket ? SQL_EVENTS_OF_TICKET : SQL_EVENTS_OF_SUBJECT, &args, sizeof(store_event_row),
			   read_event, (void ***)out, n, err);
}

/* ---- projections ------------------------------------------------------------------------- */

static const char SQL_TICKET_UPSERT[] =
	"INSERT INTO ticket_facts AS f (tenant_id, ticket_id, ticket_no, channel, category, priority, topic, area, "
	"registered_by, received_at, on_spot, assigned_at, accepted_at, department_id, handler_id, transfers, returns, "
	"accept_due, complete_due, completed_at, on_time, overdue_at, status, status_version, closed_at, reopens, "
	"satisfaction, rated_at, visited, events, updated_at) VALUES ($1, $2, $3, $4::int, $5::int, $6::int, $7, $8, $9, "
	HL_PG_TS("$10") ", $11::bool, " HL_PG_TS("$12") ", " HL_PG_TS("$13") ", $14, $15, $16::int, $17::int, "
	HL_PG_TS("$18") ", " HL_PG_TS("$19") ", " HL_PG_TS("$20") ", $21::bool, " HL_PG_TS("$22") ", $23::int, "
	"$24::bigint, " HL_PG_TS("$25") ", $26::int, $27::int, " HL_PG_TS("$28") ", $29::bool, $30::int, now()) "
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

static const char *nz(const char *s)
{
	return s ? s : "";
}

hl_status store_ticket_upsert(hl_pg *pg, hl_arena *a, const char *tenant, const reporting_ticket *t, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, t->ticket_id);
	hl_pg_arg_text(&args, nz(t->ticket_no));
	hl_pg_arg_int(&args, a, t->channel);
	hl_pg_arg_int(&args, a, t->category);
	hl_pg_arg_int(&args, a, t->priority);
	hl_pg_arg_text(&args, nz(t->topic));
	hl_pg_arg_text(&args, nz(t->area));
	hl_pg_arg_text(&args, nz(t->registered_by));
	hl_pg_arg_int(&args, a, t->received_us);
	hl_pg_arg_bool(&args, t->on_spot);
	hl_pg_arg_int(&args, a, t->assigned_us);
	hl_pg_arg_int(&args, a, t->accepted_us);
	hl_pg_arg_text(&args, nz(t->department_id));
	hl_pg_arg_text(&args, nz(t->handler_id));
	hl_pg_arg_int(&args, a, t->transfers);
	hl_pg_arg_int(&args, a, t->returns);
	hl_pg_arg_int(&args, a, t->accept_due_us);
	hl_pg_arg_int(&args, a, t->complete_due_us);
	hl_pg_arg_int(&args, a, t->completed_us);
	hl_pg_arg_bool(&args, t->on_time);
	hl_pg_arg_int(&args, a, t->overdue_us);
	hl_pg_arg_int(&args, a, t->status);
	hl_pg_arg_int(&args, a, t->status_version);
	hl_pg_arg_int(&args, a, t->closed_us);
	hl_pg_arg_int(&args, a, t->reopens);
	hl_pg_arg_int(&args, a, t->satisfaction);
	hl_pg_arg_int(&args, a, t->rated_us);
	hl_pg_arg_bool(&args, t->visited);
	hl_pg_arg_int(&args, a, t->events);
	return hl_pg_exec_deferred(pg, a, SQL_TICKET_UPSERT, &args, err);
}

static const char SQL_SUBJECT_UPSERT[] =
	"INSERT INTO subject_facts (tenant_id, subject_id, kind, ticket_id, department_id, person_id, level, opened_at, "
	"due_at, done_at, on_time, problem_found, recheck_disagrees, overdue, approved, events, updated_at) VALUES ($1, $2, "
	"$3, $4, $5, $6, $7::int, " HL_PG_TS("$8") ", " HL_PG_TS("$9") ", " HL_PG_TS("$10") ", $11::bool, $12::bool, "
	"$13::bool, $14::bool, $15::bool, $16::int, now()) ON CONFLICT (tenant_id, subject_id) DO UPDATE SET "
	"kind = EXCLUDED.kind, ticket_id = EXCLUDED.ticket_id, department_id = EXCLUDED.department_id, "
	"person_id = EXCLUDED.person_id, level = EXCLUDED.level, opened_at = EXCLUDED.opened_at, due_at = EXCLUDED.due_at, "
	"done_at = EXCLUDED.done_at, on_time = EXCLUDED.on_time, problem_found = EXCLUDED.problem_found, "
	"recheck_disagrees = EXCLUDED.recheck_disagrees, overdue = EXCLUDED.overdue, approved = EXCLUDED.approved, "
	"events = EXCLUDED.events, updated_at = now()";

hl_status store_subject_upsert(hl_pg *pg, hl_arena *a, const char *tenant, const reporting_subject *s, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, s->subject_id);
	hl_pg_arg_text(&args, s->kind);
	hl_pg_arg_text(&args, nz(s->ticket_id));
	hl_pg_arg_text(&args, nz(s->department_id));
	hl_pg_arg_text(&args, nz(s->person_id));
	hl_pg_arg_int(&args, a, s->level);
	hl_pg_arg_int(&args, a, s->opened_us);
	hl_pg_arg_int(&args, a, s->due_us);
	hl_pg_arg_int(&args, a, s->done_us);
	hl_pg_arg_bool(&args, s->on_time);
	hl_pg_arg_bool(&args, s->problem_found);
	hl_pg_arg_bool(&args, s->recheck_disagrees);
	hl_pg_arg_bool(&args, s->overdue);
	hl_pg_arg_bool(&args, s->approved);
	hl_pg_arg_int(&args, a, s->events);
	return hl_pg_exec_deferred(pg, a, SQL_SUBJECT_UPSERT, &args, err);
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
