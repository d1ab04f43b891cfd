/*
 * store.c - compliance's SQL for violations (and their appeals), risk events
 * and notices (see store.h), and the audit-chain check over all subjects.  Times cross the boundary as integer
 * microseconds since the epoch (HL_PG_US out, HL_PG_TS in; 0 is NULL).
 */
#include "store.h"

const char store_missing_chain_sql[] =
	"SELECT id::text FROM violations t WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = t.tenant_id AND h.subject_id = t.id::text) "
	"UNION ALL SELECT id::text FROM risk_events e WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = e.tenant_id AND h.subject_id = e.id::text) "
	"UNION ALL SELECT id::text FROM reviews r WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = r.tenant_id AND h.subject_id = r.id::text) "
	"UNION ALL SELECT id::text FROM risks k WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = k.tenant_id AND h.subject_id = k.id::text) "
	"UNION ALL SELECT id::text FROM warnings w WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = w.tenant_id AND h.subject_id = w.id::text) "
	"UNION ALL SELECT 'gate_rule:' || id FROM gate_rules g WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = g.tenant_id AND h.subject_id = 'gate_rule:' || g.id)";

/* ---- violations -------------------------------------------------------- */

#define VIOLATION_COLS                                                                                            \
	"v.id::text, COALESCE(v.request_id, ''), v.kind, v.source, v.subject_type, v.subject_id, v.ticket_id, "      \
	"v.department_id, v.person_id, v.description, v.points, " HL_PG_US("v.occurred_at") ", " HL_PG_US(        \
		"v.due_at") ", v.recorded_by, " HL_PG_US("v.recorded_at") ", COALESCE(p.note, ''), "               \
	"COALESCE(p.appealed_by, ''), " HL_PG_US("p.appealed_at")
#define VIOLATION_FROM                                                                                            \
	" FROM violations v LEFT JOIN violation_appeals p ON p.tenant_id = v.tenant_id AND p.violation_id = v.id "

static const char SQL_VIOLATION_INSERT[] =
	"INSERT INTO violations (tenant_id, id, request_id, kind, source, subject_type, subject_id, ticket_id, "
	"department_id, person_id, description, points, occurred_at, due_at, recorded_by) VALUES (current_tenant(), "
	"$1::uuid, NULLIF($2, ''), $3::int, $4, $5, $6, $7, $8, $9, $10, $11::int, " HL_PG_TS("$12") ", " HL_PG_TS(
		"$13") ", $14) ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING "
	"RETURNING " HL_PG_US("recorded_at");
static const char SQL_VIOLATION_BY_REQUEST[] = "SELECT " VIOLATION_COLS VIOLATION_FROM "WHERE v.request_id = $1";
static const char SQL_VIOLATION_GET[] = "SELECT " VIOLATION_COLS VIOLATION_FROM "WHERE v.id = $1::uuid";
static const char SQL_VIOLATIONS[] =
	"SELECT " VIOLATION_COLS VIOLATION_FROM "WHERE ($1::text IS NULL OR v.department_id = $1) "
	"AND ($2::text IS NULL OR v.person_id = $2) AND ($3::int = 0 OR v.kind = $3::int) "
	"AND ($4::bigint = 0 OR v.recorded_at >= " HL_PG_TS("$4") ") AND ($5::bigint = 0 OR v.recorded_at < " HL_PG_TS(
		"$5") ") AND ($6::text IS NULL OR v.id > $6::uuid) ORDER BY v.id LIMIT $7::int";
static const char SQL_VIOLATION_APPEAL[] =
	"INSERT INTO violation_appeals (tenant_id, violation_id, note, appealed_by) VALUES (current_tenant(), "
	"$1::uuid, $2, $3) ON CONFLICT (tenant_id, violation_id) DO NOTHING RETURNING 1";

static hl_status read_violation(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	compliance_violation *v = out;
	v->id = hl_pg_get(r, i, 0);
	v->request_id = hl_pg_get_opt(r, i, 1);
	v->kind = (int)hl_pg_get_int(r, i, 2);
	v->source = hl_pg_get_text(r, i, 3);
	v->subject_type = hl_pg_get_text(r, i, 4);
	v->subject_id = hl_pg_get_text(r, i, 5);
	v->ticket_id = hl_pg_get_text(r, i, 6);
	v->department_id = hl_pg_get_text(r, i, 7);
	v->person_id = hl_pg_get_text(r, i, 8);
	v->description = hl_pg_get_text(r, i, 9);
	v->points = (int)hl_pg_get_int(r, i, 10);
	v->occurred_us = hl_pg_get_int(r, i, 11);
	v->due_us = hl_pg_get_int(r, i, 12);
	v->recorded_by = hl_pg_get_text(r, i, 13);
	v->recorded_us = hl_pg_get_int(r, i, 14);
	v->appeal_note = hl_pg_get_opt(r, i, 15);
	v->appealed_by = hl_pg_get_opt(r, i, 16);
	v->appealed_us = hl_pg_get_int(r, i, 17);
	return HL_OK;
}

hl_status store_violation_insert(hl_pg *pg, hl_arena *a, compliance_violation *v, bool *created,
				 compliance_violation **existing, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, v->id);
	hl_pg_arg_text(&args, v->request_id ? v->request_id : "");
	hl_pg_arg_int(&args, a, v->kind);
	hl_pg_arg_text(&args, v->source);
	hl_pg_arg_text(&args, v->subject_type);
	hl_pg_arg_text(&args, v->subject_id);
	hl_pg_arg_text(&args, v->ticket_id);
	hl_pg_arg_text(&args, v->department_id);
	hl_pg_arg_text(&args, v->person_id);
	hl_pg_arg_text(&args, v->description);
	hl_pg_arg_int(&args, a, v->points);
	hl_pg_arg_int(&args, a, v->occurred_us);
	hl_pg_arg_int(&args, a, v->due_us);
	hl_pg_arg_text(&args, v->recorded_by);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_VIOLATION_INSERT, &args, &r, err);
	if (st)
		return st;
	*created = PQntuples(r) == 1;
	*existing = NULL;
	if (*created) {
		v->recorded_us = hl_pg_get_int(r, 0, 0);
		return HL_OK;
	}
	args = hl_pg_args_key(v->request_id);
	if ((st = hl_pg_fetch_one(pg, a, SQL_VIOLATION_BY_REQUEST, &args, sizeof **existing, read_violation,
				  (void **)existing, err)))
		return st;
	return *existing ? HL_OK : hl_fail(err, HL_INTERNAL, "the violation of the request vanished");
}

hl_status store_violation_get(hl_pg *pg, hl_arena *a, const char *id, compliance_violation **out, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, SQL_VIOLATION_GET, &args, sizeof **out, read_violation, (void **)out, err);
}

hl_status store_violations(hl_pg *pg, hl_arena *a, const store_violation_filter *f, compliance_violation ***out,
			   int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, f->department_id);
	hl_pg_arg_text(&args, f->person_id);
	hl_pg_arg_int(&args, a, f->kind);
	hl_pg_arg_int(&args, a, f->from_us);
	hl_pg_arg_int(&args, a, f->to_us);
	hl_pg_arg_text(&args, f->after_id);
	hl_pg_arg_int(&args, a, f->limit);
	return hl_pg_fetch(pg, a, SQL_VIOLATIONS, &args, sizeof ***out, read_violation, (void ***)out, n, err);
}

hl_status store_violation_appeal(hl_pg *pg, hl_arena *a, const char *id, const char *note, const char *by,
				 bool *created, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, id);
	hl_pg_arg_text(&args, note);
	hl_pg_arg_text(&args, by);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_VIOLATION_APPEAL, &args, &r, err);
	if (!st)
		*created = PQntuples(r) == 1;
	return st;
}

/* ---- risk events ------------------------------------------------------- */

#define EVENT_COLS                                                                                                \
	"tenant_id, id::text, COALESCE(request_id, ''), level, status, source, subject_type, subject_id, "          \
	"counterpart_id, department_id, risk_id, description, emergency_plan, " HL_PG_US("occurred_at") ", "       \
	HL_PG_US("reported_at") ", " HL_PG_US("due_at") ", reported_late, overdue_at IS NOT NULL, reported_by, "   \
	"COALESCE(accepted_by, ''), " HL_PG_US("accepted_at") ", COALESCE(closed_by, ''), " HL_PG_US(             \
		"closed_at") ", COALESCE(outcome, '')"

static const char SQL_EVENT_INSERT[] =
	"INSERT INTO risk_events (tenant_id, id, request_id, level, source, subject_type, subject_id, counterpart_id, "
	"department_id, risk_id, description, emergency_plan, occurred_at, due_at, reported_late, reported_by) "
	"VALUES (current_tenant(), $1::uuid, NULLIF($2, ''), $3::int, $4, $5, $6, $7, $8, $9, $10, $11::bool, "
	HL_PG_TS("$12") ", " HL_PG_TS("$13") ", clock_timestamp() > " HL_PG_TS("$13") ", $14) "
	"ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING " HL_PG_US(
		"reported_at") ", reported_late";
static const char SQL_EVENT_BY_REQUEST[] = "SELECT " EVENT_COLS " FROM risk_events WHERE request_id = $1";
static const char SQL_EVENT_GET[] = "SELECT " EVENT_COLS " FROM risk_events WHERE id = $1::uuid";
static const char SQL_EVENT_GET_LOCK[] = "SELECT " EVENT_COLS " FROM risk_events WHERE id = $1::uuid FOR UPDATE";
static const char SQL_EVENT_UPDATE[] =
	"UPDATE risk_events SET status = $2::int, emergency_plan = $3::bool, accepted_by = NULLIF($4, ''), "
	"accepted_at = " HL_PG_TS("$5") ", closed_by = NULLIF($6, ''), closed_at = " HL_PG_TS("$7") ", "
	"outcome = NULLIF($8, ''), updated_at = now() WHERE id = $1::uuid";
static const char SQL_EVENT_OVERDUE[] = "UPDATE risk_events SET overdue_at = now(), updated_at = now() "
					"WHERE id = $1::uuid AND status = 1 AND overdue_at IS NULL RETURNING " EVENT_COLS;
static const char SQL_EVENTS[] =
	"SELECT " EVENT_COLS " FROM risk_events WHERE ($1::int = 0 OR level = $1::int) AND ($2::int = 0 OR "
	"status = $2::int) AND ($3::text IS NULL OR department_id = $3) AND (NOT $4::bool OR overdue_at IS NOT NULL "
	"OR (status = 1 AND due_at < now())) AND ($5::text IS NULL OR id > $5::uuid) ORDER BY id LIMIT $6::int";

static hl_status read_event(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	compliance_risk_event *e = out;
	e->tenant = hl_pg_get(r, i, 0);
	e->id = hl_pg_get(r, i, 1);
	e->request_id = hl_pg_get_opt(r, i, 2);
	e->level = (int)hl_pg_get_int(r, i, 3);
	e->status = (int)hl_pg_get_int(r, i, 4);
	e->source = hl_pg_get_text(r, i, 5);
	e->subject_type = hl_pg_get_text(r, i, 6);
	e->subject_id = hl_pg_get_text(r, i, 7);
	e->counterpart_id = hl_pg_get_text(r, i, 8);
	e->department_id = hl_pg_get_text(r, i, 9);
	e->risk_id = hl_pg_get_text(r, i, 10);
	e->description = hl_pg_get_text(r, i, 11);
	e->emergency_plan = hl_pg_get_bool(r, i, 12);
	e->occurred_us = hl_pg_get_int(r, i, 13);
	e->reported_us = hl_pg_get_int(r, i, 14);
	e->due_us = hl_pg_get_int(r, i, 15);
	e->reported_late = hl_pg_get_bool(r, i, 16);
	e->overdue = hl_pg_get_bool(r, i, 17);
	e->reported_by = hl_pg_get_text(r, i, 18);
	e->accepted_by = hl_pg_get_opt(r, i, 19);
	e->accepted_us = hl_pg_get_int(r, i, 20);
	e->closed_by = hl_pg_get_opt(r, i, 21);
	e->closed_us = hl_pg_get_int(r, i, 22);
	e->outcome = hl_pg_get_opt(r, i, 23);
	return HL_OK;
}

hl_status store_risk_event_insert(hl_pg *pg, hl_arena *a, compliance_risk_event *e, bool *created,
				  compliance_risk_event **existing, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, e->id);
	hl_pg_arg_text(&args, e->request_id ? e->request_id : "");
	hl_pg_arg_int(&args, a, e->level);
	hl_pg_arg_text(&args, e->source);
	hl_pg_arg_text(&args, e->subject_type);
	hl_pg_arg_text(&args, e->subject_id);
	hl_pg_arg_text(&args, e->counterpart_id);
	hl_pg_arg_text(&args, e->department_id);
	hl_pg_arg_text(&args, e->risk_id);
	hl_pg_arg_text(&args, e->description);
	hl_pg_arg_bool(&args, e->emergency_plan);
	hl_pg_arg_int(&args, a, e->occurred_us);
	hl_pg_arg_int(&args, a, e->due_us);
	hl_pg_arg_text(&args, e->reported_by);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_EVENT_INSERT, &args, &r, err);
	if (st)
		return st;
	*created = PQntuples(r) == 1;
	*existing = NULL;
	if (*created) {
		e->reported_us = hl_pg_get_int(r, 0, 0);
		e->reported_late = hl_pg_get_bool(r, 0, 1);
		return HL_OK;
	}
	args = hl_pg_args_key(e->request_id);
	if ((st = hl_pg_fetch_one(pg, a, SQL_EVENT_BY_REQUEST, &args, sizeof **existing, read_event,
				  (void **)existing, err)))
		return st;
	return *existing ? HL_OK : hl_fail(err, HL_INTERNAL, "the risk event of the request vanished");
}

hl_status store_risk_event_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, compliance_risk_event **out,
			       hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, for_update ? SQL_EVENT_GET_LOCK : SQL_EVENT_GET, &args, sizeof **out,
			       read_event, (void **)out, err);
}

hl_status store_risk_event_update(hl_pg *pg, hl_arena *a, const compliance_risk_event *e, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, e->id);
	hl_pg_arg_int(&args, a, e->status);
	hl_pg_arg_bool(&args, e->emergency_plan);
	hl_pg_arg_text(&args, e->accepted_by ? e->accepted_by : "");
	hl_pg_arg_int(&args, a, e->accepted_us);
	hl_pg_arg_text(&args, e->closed_by ? e->closed_by : "");
	hl_pg_arg_int(&args, a, e->closed_us);
	hl_pg_arg_text(&args, e->outcome ? e->outcome : "");
	return hl_pg_exec_deferred(pg, a, SQL_EVENT_UPDATE, &args, err);
}

hl_status store_risk_event_mark_overdue(hl_pg *pg, hl_arena *a, const char *id, compliance_risk_event **out,
					hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, SQL_EVENT_OVERDUE, &args, sizeof **out, read_event, (void **)out, err);
}

hl_status store_risk_events(hl_pg *pg, hl_arena *a, const store_risk_event_filter *f, compliance_risk_event ***out,
			    int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, f->level);
	hl_pg_arg_int(&args, a, f->status);
	hl_pg_arg_text(&args, f->department_id);
	hl_pg_arg_bool(&args, f->overdue_only);
	hl_pg_arg_text(&args, f->after_id);
	hl_pg_arg_int(&args, a, f->limit);
	return hl_pg_fetch(pg, a, SQL_EVENTS, &args, sizeof ***out, read_event, (void ***)out, n, err);
}

/* ---- notices ----------------------------------------------------------- */

static const char SQL_NOTICE_INSERT[] =
	"INSERT INTO notices (tenant_id, id, kind, subject_id, recipient, body) VALUES (current_tenant(), $1::uuid, "
	"$2, $3, $4, $5) ON CONFLICT (tenant_id, kind, subject_id, recipient) DO NOTHING";
static const char SQL_NOTICES[] =
	"SELECT id::text, kind, subject_id, recipient, body, " HL_PG_US("created_at") " FROM notices "
	"WHERE recipient = ANY($1::text[]) AND ($2::text IS NULL OR id < $2::uuid) ORDER BY id DESC LIMIT $3::int";

hl_status store_notice_insert(hl_pg *pg, hl_arena *a, const compliance_notice *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, n->id);
	hl_pg_arg_text(&args, n->kind);
	hl_pg_arg_text(&args, n->subject_id);
	hl_pg_arg_text(&args, n->recipient);
	hl_pg_arg_text(&args, n->body);
	return hl_pg_exec_deferred(pg, a, SQL_NOTICE_INSERT, &args, err);
}

static hl_status read_notice(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	compliance_notice *n = out;
	n->id = hl_pg_get(r, i, 0);
	n->kind = hl_pg_get_text(r, i, 1);
	n->subject_id = hl_pg_get_text(r, i, 2);
	n->recipient = hl_pg_get_text(r, i, 3);
	n->body = hl_pg_get_text(r, i, 4);
	n->created_us = hl_pg_get_int(r, i, 5);
	return HL_OK;
}

hl_status store_notices(hl_pg *pg, hl_arena *a, const char *const *recipients, int n_recipients, const char *before_id,
			int limit, compliance_notice ***out, int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text_array(&args, a, recipients, n_recipients);
	hl_pg_arg_text(&args, before_id);
	hl_pg_arg_int(&args, a, limit);
	return hl_pg_fetch(pg, a, SQL_NOTICES, &args, sizeof ***out, read_notice, (void ***)out, n, err);
}
