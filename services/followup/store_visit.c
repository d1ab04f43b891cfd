/*
 * store_visit.c - followup's SQL for follow-up visits (see store.h):
 * counterparts, visit plans, visits and their append-only records and
 * re-checks, and the coverage figures.  Times cross the boundary as integer
 * microseconds since the epoch (HL_PG_US out, HL_PG_TS in; 0 is NULL).
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

/* ---- counterparts ----------------------------------------------------- */

#define CP_COLS "id, name, risk_level, owner_id, department_id, active"

static const char SQL_CP_GET[] = "SELECT " CP_COLS " FROM counterparts WHERE id = $1";
static const char SQL_CP_GET_LOCK[] = "SELECT " CP_COLS " FROM counterparts WHERE id = $1 FOR UPDATE";
static const char SQL_CP_PUT[] =
	"INSERT INTO counterparts (tenant_id, id, name, risk_level, owner_id, department_id, active) "
	"VALUES ($1, $2, $3, $4::int, $5, $6, $7::bool) ON CONFLICT (tenant_id, id) DO UPDATE SET name = $3, "
	"risk_level = $4::int, owner_id = $5, department_id = $6, active = $7::bool, updated_at = now()";
static const char SQL_CPS[] = "SELECT " CP_COLS " FROM counterparts WHERE ($1::int = 0 OR risk_level = $1::int) "
			      "AND ($2::text IS NULL OR department_id = $2) ORDER BY id LIMIT 1000";

static hl_status read_cp(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	followup_counterpart *cp = out;
	cp->id = hl_pg_get(r, i, 0);
	cp->name = hl_pg_get(r, i, 1);
	cp->risk_level = (int)hl_pg_get_int(r, i, 2);
	cp->owner_id = hl_pg_get_text(r, i, 3);
	cp->department_id = hl_pg_get_text(r, i, 4);
	cp->active = hl_pg_get_bool(r, i, 5);
	return HL_OK;
}

hl_status store_counterpart_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, followup_counterpart **out,
				hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, for_update ? SQL_CP_GET_LOCK : SQL_CP_GET, &args, sizeof **out, read_cp,
			       (void **)out, err);
}

hl_status store_counterpart_put(hl_pg *pg, hl_arena *a, const char *tenant, const followup_counterpart *cp,
				hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, cp->id);
	hl_pg_arg_text(&args, cp->name);
	hl_pg_arg_int(&args, a, cp->risk_level);
	hl_pg_arg_text(&args, cp->owner_id);
	hl_pg_arg_text(&args, cp->department_id);
	hl_pg_arg_bool(&args, cp->active);
	return hl_pg_exec(pg, a, SQL_CP_PUT, &args, NULL, err);
}

hl_status store_counterparts(hl_pg *pg, hl_arena *a, int level, const char *dept, followup_counterpart ***out, int *n,
			     hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, level);
	hl_pg_arg_text(&args, dept);
	return hl_pg_fetch(pg, a, SQL_CPS, &args, sizeof ***out, read_cp, (void ***)out, n, err);
}

/* ---- plans ------------------------------------------------------------ */

static const char SQL_PLAN_GET[] = "SELECT risk_level, interval_days, method, depth, responsible_id, target, scope "
				   "FROM visit_plans WHERE risk_level = $1::int";
static const char SQL_PLAN_PUT[] =
	"INSERT INTO visit_plans (tenant_id, risk_level, interval_days, method, depth, responsible_id, target, scope) "
	"VALUES ($1, $2::int, $3::int, $4::int, $5, $6, $7, $8) ON CONFLICT (tenant_id, risk_level) DO UPDATE SET "
	"interval_days = $3::int, method = $4::int, depth = $5, responsible_id = $6, target = $7, scope = $8, "
	"updated_at = now()";

static hl_status read_plan(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	followup_plan *p = out;
	p->risk_level = (int)hl_pg_get_int(r, i, 0);
	p->interval_days = (int)hl_pg_get_int(r, i, 1);
	p->method = (int)hl_pg_get_int(r, i, 2);
	p->depth = hl_pg_get_text(r, i, 3);
	p->responsible_id = hl_pg_get_text(r, i, 4);
	p->target = hl_pg_get_text(r, i, 5);
	p->scope = hl_pg_get_text(r, i, 6);
	return HL_OK;
}

hl_status store_plan_get(hl_pg *pg, hl_arena *a, int level, followup_plan **out, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, level);
	return hl_pg_fetch_one(pg, a, SQL_PLAN_GET, &args, sizeof **out, read_plan, (void **)out, err);
}

hl_status store_plan_put(hl_pg *pg, hl_arena *a, const char *tenant, const followup_plan *p, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_int(&args, a, p->risk_level);
	hl_pg_arg_int(&args, a, p->interval_days);
	hl_pg_arg_int(&args, a, p->method);
	hl_pg_arg_text(&args, p->depth);
	hl_pg_arg_text(&args, p->responsible_id);
	hl_pg_arg_text(&args, p->target);
	hl_pg_arg_text(&args, p->scope);
	return hl_pg_exec(pg, a, SQL_PLAN_PUT, &args, NULL, err);
}

/* ---- visits ------------------------------------------------------------ */

#define VISIT_COLS                                                                                                  \
	"v.tenant_id, v.id::text, v.counterpart_id, v.department_id, v.responsible_id, v.risk_level, v.method, "     \
	HL_PG_US("v.due_at") ", " HL_PG_US("v.done_at") ", r.recorded_by, COALESCE(r.evidence_ref, ''), "           \
	"COALESCE(r.note, ''), COALESCE(r.request_id, ''), COALESCE(r.method, 0), COALESCE(r.problem_found, false), " \
	"r.questions, r.answers, k.rechecked_by, COALESCE(k.note, ''), COALESCE(k.request_id, ''), "                \
	"COALESCE(k.agrees, false), COALESCE(r.recheck_sampled, false), v.ticket_id::text, v.ticket_no, v.category"
#define VISIT_FROM                                                                                                  \
	" FROM visits v LEFT JOIN visit_records r ON r.tenant_id = v.tenant_id AND r.visit_id = v.id "               \
	"LEFT JOIN visit_rechecks k ON k.tenant_id = v.tenant_id AND k.visit_id = v.id "

static const char SQL_VISIT_INSERT[] =
	"INSERT INTO visits (tenant_id, id, counterpart_id, risk_level, department_id, responsible_id, method, due_at, "
	"ticket_id, ticket_no, category) VALUES ($1, $2::uuid, $3, $4::int, $5, $6, $7::int, " HL_PG_TS("$8") ", $9::uuid, "
	"$10, $11::int)";
static const char SQL_VISIT_GET[] = "SELECT " VISIT_COLS VISIT_FROM "WHERE v.id = $1::uuid";
static const char SQL_VISIT_GET_LOCK[] = "SELECT " VISIT_COLS VISIT_FROM "WHERE v.id = $1::uuid FOR UPDATE OF v";
static const char SQL_VISIT_PLANNED[] =
	"SELECT " VISIT_COLS VISIT_FROM "WHERE v.counterpart_id = $1 AND v.done_at IS NULL FOR UPDATE OF v";
static const char SQL_VISIT_REPLAN[] =
	"UPDATE visits SET risk_level = $2::int, department_id = $3, responsible_id = $4, method = $5::int, "
	"due_at = " HL_PG_TS("$6") " WHERE id = $1::uuid AND done_at IS NULL";
static const char SQL_VISIT_OVERDUE[] =
	"UPDATE visits SET overdue_at = " HL_PG_TS("$2") " WHERE id = $1::uuid AND done_at IS NULL AND overdue_at IS NULL "
	"RETURNING tenant_id, id::text, counterpart_id, department_id, responsible_id, risk_level, method, "
	HL_PG_US("due_at") ", ticket_id::text, ticket_no, category";
static const char SQL_VISIT_DONE[] = "UPDATE visits SET done_at = " HL_PG_TS("$2") " WHERE id = $1::uuid AND "
				     "done_at IS NULL";
static const char SQL_VISITS[] =
	"SELECT " VISIT_COLS VISIT_FROM "WHERE ($1::text IS NULL OR v.counterpart_id = $1) AND ($2::int = 0 OR "
	"($2::int = 1 AND v.done_at IS NULL) OR ($2::int = 2 AND v.done_at IS NOT NULL)) AND (NOT $3::bool OR "
	"(v.done_at IS NULL AND v.due_at < " HL_PG_TS("$7") ")) AND (NOT $4::bool OR (r.recheck_sampled AND "
	"k.visit_id IS NULL)) AND ($5::text IS NULL OR v.ticket_id = $5::uuid) AND (NOT $6::bool OR v.ticket_id IS "
	"NOT NULL) ORDER BY v.due_at, v.id LIMIT 1000";
static const char SQL_RECORD_INSERT[] =
	"INSERT INTO visit_records (tenant_id, visit_id, request_id, method, questions, answers, evidence_ref, "
	"problem_found, note, recorded_by, recheck_sampled, questionnaire_id, questionnaire_version) VALUES ($1, "
	"$2::uuid, NULLIF($3, ''), $4::int, $5::text[], $6::text[], $7, $8::bool, $9, $10, $11::bool, NULLIF($12, ''), "
	"NULLIF($13::int, 0))";
static const char SQL_RECHECK_INSERT[] =
	"INSERT INTO visit_rechecks (tenant_id, visit_id, request_id, agrees, note, rechecked_by) "
	"VALUES ($1, $2::uuid, NULLIF($3, ''), $4::bool, $5, $6)";
static const char SQL_VISIT_BY_RECORD_REQUEST[] = "SELECT " VISIT_COLS VISIT_FROM "WHERE r.request_id = $1";
static const char SQL_VISIT_BY_RECHECK_REQUEST[] = "SELECT " VISIT_COLS VISIT_FROM "WHERE k.request_id = $1";
static const char SQL_COVERAGE[] =
	"SELECT l.level, (SELECT count(*) FROM counterparts c WHERE c.active AND c.risk_level = l.level AND "
	"($3::text IS NULL OR c.department_id = $3)), count(v.id), count(v.done_at), "
	"count(v.id) FILTER (WHERE v.done_at IS NULL AND v.due_at < " HL_PG_TS("$4") ") FROM generate_series(0, 3) AS "
	"l(level) "
	"LEFT JOIN visits v ON v.risk_level = l.level AND v.due_at >= " HL_PG_TS("$1") " AND v.due_at < " HL_PG_TS("$2")
	" AND ($3::text IS NULL OR v.department_id = $3) GROUP BY l.level ORDER BY l.level";

static hl_status read_visit(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	followup_visit *v = out;
	v->tenant = hl_pg_get(r, i, 0);
	v->id = hl_pg_get(r, i, 1);
	v->counterpart_id = hl_pg_get(r, i, 2);
	v->department_id = hl_pg_get_text(r, i, 3);
	v->responsible_id = hl_pg_get_text(r, i, 4);
	v->risk_level = (int)hl_pg_get_int(r, i, 5);
	v->method = (int)hl_pg_get_int(r, i, 6);
	v->due_us = hl_pg_get_int(r, i, 7);
	v->done_us = hl_pg_get_int(r, i, 8);
	v->recorded_by = hl_pg_get(r, i, 9);
	v->evidence_ref = hl_pg_get_text(r, i, 10);
	v->note = hl_pg_get_text(r, i, 11);
	v->record_request_id = hl_pg_get_opt(r, i, 12);
	v->record_method = (int)hl_pg_get_int(r, i, 13);
	v->problem_found = hl_pg_get_bool(r, i, 14);
	v->rechecked_by = hl_pg_get(r, i, 17);
	v->recheck_note = hl_pg_get_text(r, i, 18);
	v->recheck_request_id = hl_pg_get_opt(r, i, 19);
	v->recheck_agrees = hl_pg_get_bool(r, i, 20);
	v->recheck_sampled = hl_pg_get_bool(r, i, 21);
	v->ticket_id = hl_pg_get(r, i, 22);
	v->ticket_no = hl_pg_get_text(r, i, 23);
	v->category = (int)hl_pg_get_int(r, i, 24);
	int nq = 0;
	hl_status st;
	if ((st = hl_pg_get_text_array(r, i, 15, a, &v->questions, &nq, err)) ||
	    (st = hl_pg_get_text_array(r, i, 16, a, &v->answers, &v->n_answers, err)))
		return st;
	if (nq != v->n_answers)
		return hl_fail(err, HL_DATA_LOSS, "visit %s: questions and answers differ in number", v->id);
	return HL_OK;
}

hl_status store_visit_insert(hl_pg *pg, hl_arena *a, const followup_visit *v, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, v->tenant);
	hl_pg_arg_text(&args, v->id);
	hl_pg_arg_text(&args, v->counterpart_id);
	hl_pg_arg_int(&args, a, v->risk_level);
	hl_pg_arg_text(&args, v->department_id);
	hl_pg_arg_text(&args, v->responsible_id);
	hl_pg_arg_int(&args, a, v->method);
	hl_pg_arg_int(&args, a, v->due_us);
	hl_pg_arg_text(&args, v->ticket_id);
	hl_pg_arg_text(&args, v->ticket_no ? v->ticket_no : "");
	hl_pg_arg_int(&args, a, v->category);
	return hl_pg_exec(pg, a, SQL_VISIT_INSERT, &args, NULL, err);
}

hl_status store_visit_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, followup_visit **out,
			  hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, for_update ? SQL_VISIT_GET_LOCK : SQL_VISIT_GET, &args, sizeof **out, read_visit,
			       (void **)out, err);
}

hl_status store_visit_planned(hl_pg *pg, hl_arena *a, const char *counterpart_id, followup_visit **out,
			      hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(counterpart_id);
	return hl_pg_fetch_one(pg, a, SQL_VISIT_PLANNED, &args, sizeof **out, read_visit, (void **)out, err);
}

hl_status store_visit_replan(hl_pg *pg, hl_arena *a, const followup_visit *v, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, v->id);
	hl_pg_arg_int(&args, a, v->risk_level);
	hl_pg_arg_text(&args, v->department_id);
	hl_pg_arg_text(&args, v->responsible_id);
	hl_pg_arg_int(&args, a, v->method);
	hl_pg_arg_int(&args, a, v->due_us);
	return hl_pg_exec(pg, a, SQL_VISIT_REPLAN, &args, NULL, err);
}

static hl_status read_overdue(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	followup_visit *v = out;
	v->tenant = hl_pg_get(r, i, 0);
	v->id = hl_pg_get(r, i, 1);
	v->counterpart_id = hl_pg_get(r, i, 2);
	v->department_id = hl_pg_get_text(r, i, 3);
	v->responsible_id = hl_pg_get_text(r, i, 4);
	v->risk_level = (int)hl_pg_get_int(r, i, 5);
	v->method = (int)hl_pg_get_int(r, i, 6);
	v->due_us = hl_pg_get_int(r, i, 7);
	v->ticket_id = hl_pg_get(r, i, 8);
	v->ticket_no = hl_pg_get_text(r, i, 9);
	v->category = (int)hl_pg_get_int(r, i, 10);
	return HL_OK;
}

hl_status store_visit_mark_overdue(hl_pg *pg, hl_arena *a, const char *id, int64_t now_us, followup_visit **out,
				   hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, id);
	hl_pg_arg_int(&args, a, now_us);
	return hl_pg_fetch_one(pg, a, SQL_VISIT_OVERDUE, &args, sizeof **out, read_overdue, (void **)out, err);
}

hl_status store_visit_done(hl_pg *pg, hl_arena *a, const char *id, int64_t now_us, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, id);
	hl_pg_arg_int(&args, a, now_us);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_VISIT_DONE, &args, &r, err);
	if (st)
		return st;
	if (atoi(PQcmdTuples(r)) != 1)
		return hl_fail(err, HL_PRECONDITION, "the visit is already recorded");
	return HL_OK;
}

hl_status store_visits(hl_pg *pg, hl_arena *a, const store_visit_filter *f, followup_visit ***out, int *n,
		       hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, f->counterpart_id);
	hl_pg_arg_int(&args, a, f->status);
	hl_pg_arg_bool(&args, f->overdue);
	hl_pg_arg_bool(&args, f->to_recheck);
	hl_pg_arg_text(&args, f->ticket_id);
	hl_pg_arg_bool(&args, f->tickets_only);
	hl_pg_arg_int(&args, a, f->now_us);
	return hl_pg_fetch(pg, a, SQL_VISITS, &args, sizeof ***out, read_visit, (void ***)out, n, err);
}

hl_status store_visit_record(hl_pg *pg, hl_arena *a, const followup_visit *v, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, v->tenant);
	hl_pg_arg_text(&args, v->id);
	hl_pg_arg_text(&args, v->record_request_id ? v->record_request_id : "");
	hl_pg_arg_int(&args, a, v->record_method);
	hl_pg_arg_text_array(&args, a, v->questions, v->n_answers);
	hl_pg_arg_text_array(&args, a, v->answers, v->n_answers);
	hl_pg_arg_text(&args, v->evidence_ref);
	hl_pg_arg_bool(&args, v->problem_found);
	hl_pg_arg_text(&args, v->note ? v->note : "");
	hl_pg_arg_text(&args, v->recorded_by);
	hl_pg_arg_bool(&args, v->recheck_sampled);
	hl_pg_arg_text(&args, v->questionnaire_id ? v->questionnaire_id : "");
	hl_pg_arg_int(&args, a, v->questionnaire_version);
	return hl_pg_exec(pg, a, SQL_RECORD_INSERT, &args, NULL, err);
}

hl_status store_visit_recheck(hl_pg *pg, hl_arena *a, const followup_visit *v, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, v->tenant);
	hl_pg_arg_text(&args, v->id);
	hl_pg_arg_text(&args, v->recheck_request_id ? v->recheck_request_id : "");
	hl_pg_arg_bool(&args, v->recheck_agrees);
	hl_pg_arg_text(&args, v->recheck_note ? v->recheck_note : "");
	hl_pg_arg_text(&args, v->rechecked_by);
	return hl_pg_exec(pg, a, SQL_RECHECK_INSERT, &args, NULL, err);
}

hl_status store_visit_by_request(hl_pg *pg, hl_arena *a, const char *request_id, bool recheck, followup_visit **out,
				 hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(request_id);
	return hl_pg_fetch_one(pg, a, recheck ? SQL_VISIT_BY_RECHECK_REQUEST : SQL_VISIT_BY_RECORD_REQUEST, &args,
			       sizeof **out, read_visit, (void **)out, err);
}

static const char SQL_QN_PUT[] =
	"INSERT INTO questionnaires (tenant_id, id, version, name, body, created_by) SELECT $1, $2, "
	"COALESCE(max(version), 0) + 1, $3, $4, $5 FROM questionnaires WHERE id = $2 RETURNING version";
static const char SQL_QN_GET[] = "SELECT body, version FROM questionnaires WHERE id = $1 ORDER BY version DESC LIMIT 1";

hl_status store_questionnaire_put(hl_pg *pg, hl_arena *a, const char *tenant, const char *id, const char *name,
				  const uint8_t *body, size_t len, const char *actor, int *version, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, id);
	hl_pg_arg_text(&args, name);
	hl_pg_arg_bytes(&args, body, len);
	hl_pg_arg_text(&args, actor);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_QN_PUT, &args, &r, err);
	if (st)
		return st;
	if (PQntuples(r) != 1)
		return hl_fail(err, HL_INTERNAL, "the questionnaire was not stored");
	*version = (int)hl_pg_get_int(r, 0, 0);
	return HL_OK;
}

hl_status store_questionnaire_get(hl_pg *pg, hl_arena *a, const char *id, uint8_t **body, size_t *len, int *version,
				  hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_QN_GET, &args, &r, err);
	*body = NULL;
	if (st || PQntuples(r) != 1)
		return st;
	*version = (int)hl_pg_get_int(r, 0, 1);
	return hl_pg_get_bytes(r, 0, 0, a, body, len);
}

hl_status store_coverage(hl_pg *pg, hl_arena *a, int64_t from_us, int64_t to_us, const char *dept, int64_t now_us,
			 followup_coverage out[FOLLOWUP_LEVELS + 1], hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, from_us);
	hl_pg_arg_int(&args, a, to_us);
	hl_pg_arg_text(&args, dept);
	hl_pg_arg_int(&args, a, now_us);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_COVERAGE, &args, &r, err);
	if (st)
		return st;
	memset(out, 0, (FOLLOWUP_LEVELS + 1) * sizeof *out);
	for (int i = 0; i < PQntuples(r); i++) {
		int level = (int)hl_pg_get_int(r, i, 0);
		if (level < 0 || level > FOLLOWUP_LEVELS)
			continue;
		out[level] = (followup_coverage){(int)hl_pg_get_int(r, i, 1), (int)hl_pg_get_int(r, i, 2),
						     (int)hl_pg_get_int(r, i, 3), (int)hl_pg_get_int(r, i, 4)};
	}
	return HL_OK;
}
