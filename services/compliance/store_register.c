/*
 * store_register.c - compliance's SQL for the risk register and warning
 * notices (see store.h).
 */
#include "store.h"

#define RISK_COLS                                                                                                 \
	"tenant_id, id::text, COALESCE(request_id, ''), name, type, level, description, measures, owner_id, "       \
	"department_id, review_every_days, " HL_PG_US("next_review_at") ", " HL_PG_US("last_reminded_at") ", "     \
	"active, updated_by, " HL_PG_US("updated_at")

static const char SQL_RISK_INSERT[] =
	"INSERT INTO risks (tenant_id, id, request_id, name, type, level, description, measures, owner_id, "
	"department_id, review_every_days, next_review_at, active, updated_by) VALUES (current_tenant(), $1::uuid, "
	"NULLIF($2, ''), $3, $4, $5::int, $6, $7, $8, $9, $10::int, " HL_PG_TS("$11") ", $12::bool, $13) "
	"ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING " HL_PG_US("updated_at");
static const char SQL_RISK_UPDATE[] =
	"UPDATE risks SET name = $3, type = $4, level = $5::int, description = $6, measures = $7, owner_id = $8, "
	"department_id = $9, review_every_days = $10::int, next_review_at = " HL_PG_TS("$11") ", active = $12::bool, "
	"updated_by = $13, updated_at = now() WHERE id = $1::uuid AND $2::text IS NOT NULL /* request id: new only */ "
	"RETURNING " HL_PG_US(
		"updated_at");
static const char SQL_RISK_BY_REQUEST[] = "SELECT " RISK_COLS " FROM risks WHERE request_id = $1";
static const char SQL_RISK_GET[] = "SELECT " RISK_COLS " FROM risks WHERE id = $1::uuid";
static const char SQL_RISK_GET_LOCK[] = "SELECT " RISK_COLS " FROM risks WHERE id = $1::uuid FOR UPDATE";
static const char SQL_RISKS[] =
	"SELECT " RISK_COLS " FROM risks WHERE ($1::int = 0 OR level = $1::int) AND ($2::text IS NULL OR type = $2) "
	"AND ($3::text IS NULL OR department_id = $3) AND ($4::bool OR active) ORDER BY level, name, id LIMIT 1000";
static const char SQL_RISK_REMIND[] =
	"UPDATE risks SET last_reminded_at = now(), next_review_at = next_review_at + review_every_days * "
	"interval '1 day', updated_at = now() WHERE id = $1::uuid AND active AND " HL_PG_US("next_review_at")
	" / 1000 = $2::bigint / 1000 RETURNING " RISK_COLS;

static hl_status read_risk(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	compliance_risk *x = out;
	x->tenant = hl_pg_get(r, i, 0);
	x->id = hl_pg_get(r, i, 1);
	x->request_id = hl_pg_get_opt(r, i, 2);
	x->name = hl_pg_get_text(r, i, 3);
	x->type = hl_pg_get_text(r, i, 4);
	x->level = (int)hl_pg_get_int(r, i, 5);
	x->description = hl_pg_get_text(r, i, 6);
	x->measures = hl_pg_get_text(r, i, 7);
	x->owner_id = hl_pg_get_text(r, i, 8);
	x->department_id = hl_pg_get_text(r, i, 9);
	x->review_every_days = (int)hl_pg_get_int(r, i, 10);
	x->next_review_us = hl_pg_get_int(r, i, 11);
	x->last_reminded_us = hl_pg_get_int(r, i, 12);
	x->active = hl_pg_get_bool(r, i, 13);
	x->updated_by = hl_pg_get_text(r, i, 14);
	x->updated_us = hl_pg_get_int(r, i, 15);
	return HL_OK;
}

hl_status store_risk_put(hl_pg *pg, hl_arena *a, compliance_risk *x, bool create, compliance_risk **existing,
			 hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, x->id);
	hl_pg_arg_text(&args, x->request_id ? x->request_id : "");
	hl_pg_arg_text(&args, x->name);
	hl_pg_arg_text(&args, x->type);
	hl_pg_arg_int(&args, a, x->level);
	hl_pg_arg_text(&args, x->description);
	hl_pg_arg_text(&args, x->measures);
	hl_pg_arg_text(&args, x->owner_id);
	hl_pg_arg_text(&args, x->department_id);
	hl_pg_arg_int(&args, a, x->review_every_days);
	hl_pg_arg_int(&args, a, x->next_review_us);
	hl_pg_arg_bool(&args, x->active);
	hl_pg_arg_text(&args, x->updated_by);
	PGresult *r;
	*existing = NULL;
	hl_status st = hl_pg_exec(pg, a, create ? SQL_RISK_INSERT : SQL_RISK_UPDATE, &args, &r, err);
	if (st)
		return st;
	if (PQntuples(r) == 1) {
		x->updated_us = hl_pg_get_int(r, 0, 0);
		return HL_OK;
	}
	if (!create)
		return hl_fail(err, HL_NOT_FOUND, "risk not found");
	args = hl_pg_args_key(x->request_id);
	if ((st = hl_pg_fetch_one(pg, a, SQL_RISK_BY_REQUEST, &args, sizeof **existing, read_risk, (void **)existing,
				  err)))
		return st;
	return *existing ? HL_OK : hl_fail(err, HL_INTERNAL, "the risk of the request vanished");
}

hl_status store_risk_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, compliance_risk **out,
			 hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, for_update ? SQL_RISK_GET_LOCK : SQL_RISK_GET, &args, sizeof **out, read_risk,
			       (void **)out, err);
}

hl_status store_risks(hl_pg *pg, hl_arena *a, int level, const char *type, const char *dept, bool include_inactive,
		      compliance_risk ***out, int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, level);
	hl_pg_arg_text(&args, type);
	hl_pg_arg_text(&args, dept);
	hl_pg_arg_bool(&args, include_inactive);
	return hl_pg_fetch(pg, a, SQL_RISKS, &args, sizeof ***out, read_risk, (void ***)out, n, err);
}

hl_status store_risk_remind(hl_pg *pg, hl_arena *a, const char *id, int64_t due_us, compliance_risk **out,
			    hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, id);
	hl_pg_arg_int(&args, a, due_us);
	return hl_pg_fetch_one(pg, a, SQL_RISK_REMIND, &args, sizeof **out, read_risk, (void **)out, err);
}

/* ---- warnings ---------------------------------------------------------- */

#define WARNING_COLS                                                                                              \
	"id::text, COALESCE(request_id, ''), department_id, title, content, risk_id, status, issued_by, " HL_PG_US( \
		"issued_at") ", " HL_PG_US("rectify_by") ", COALESCE(acknowledged_by, ''), " HL_PG_US(            \
		"acknowledged_at") ", COALESCE(rectified_by, ''), " HL_PG_US("rectified_at") ", "                  \
	"COALESCE(rectification, '')"

static const char SQL_WARNING_INSERT[] =
	"INSERT INTO warnings (tenant_id, id, request_id, department_id, title, content, risk_id, issued_by, "
	"rectify_by) VALUES (current_tenant(), $1::uuid, NULLIF($2, ''), $3, $4, $5, $6, $7, " HL_PG_TS("$8") ") "
	"ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING " HL_PG_US("issued_at");
static const char SQL_WARNING_BY_REQUEST[] = "SELECT " WARNING_COLS " FROM warnings WHERE request_id = $1";
static const char SQL_WARNING_GET[] = "SELECT " WARNING_COLS " FROM warnings WHERE id = $1::uuid";
static const char SQL_WARNING_GET_LOCK[] = "SELECT " WARNING_COLS " FROM warnings WHERE id = $1::uuid FOR UPDATE";
static const char SQL_WARNING_UPDATE[] =
	"UPDATE warnings SET status = $2::int, acknowledged_by = NULLIF($3, ''), acknowledged_at = " HL_PG_TS("$4")
	", rectified_by = NULLIF($5, ''), rectified_at = " HL_PG_TS("$6") ", rectification = NULLIF($7, '') "
	"WHERE id = $1::uuid";
static const char SQL_WARNINGS[] =
	"SELECT " WARNING_COLS " FROM warnings WHERE ($1::text IS NULL OR department_id = $1) AND ($2::int = 0 OR "
	"status = $2::int) AND ($3::text IS NULL OR id > $3::uuid) ORDER BY id LIMIT $4::int";
static const char SQL_WARNING_COUNTS[] =
	"SELECT count(*) FILTER (WHERE status = 3), count(*) FROM warnings WHERE ($1::text IS NULL OR "
	"department_id = $1) AND ($2::int = 0 OR status = $2::int)";

static hl_status read_warning(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	compliance_warning *w = out;
	w->id = hl_pg_get(r, i, 0);
	w->request_id = hl_pg_get_opt(r, i, 1);
	w->department_id = hl_pg_get(r, i, 2);
	w->title = hl_pg_get(r, i, 3);
	w->content = hl_pg_get(r, i, 4);
	w->risk_id = hl_pg_get_text(r, i, 5);
	w->status = (int)hl_pg_get_int(r, i, 6);
	w->issued_by = hl_pg_get(r, i, 7);
	w->issued_us = hl_pg_get_int(r, i, 8);
	w->rectify_by_us = hl_pg_get_int(r, i, 9);
	w->acknowledged_by = hl_pg_get_opt(r, i, 10);
	w->acknowledged_us = hl_pg_get_int(r, i, 11);
	w->rectified_by = hl_pg_get_opt(r, i, 12);
	w->rectified_us = hl_pg_get_int(r, i, 13);
	w->rectification = hl_pg_get_opt(r, i, 14);
	return HL_OK;
}

hl_status store_warning_insert(hl_pg *pg, hl_arena *a, compliance_warning *w, compliance_warning **existing,
			       hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, w->id);
	hl_pg_arg_text(&args, w->request_id ? w->request_id : "");
	hl_pg_arg_text(&args, w->department_id);
	hl_pg_arg_text(&args, w->title);
	hl_pg_arg_text(&args, w->content);
	hl_pg_arg_text(&args, w->risk_id);
	hl_pg_arg_text(&args, w->issued_by);
	hl_pg_arg_int(&args, a, w->rectify_by_us);
	PGresult *r;
	*existing = NULL;
	hl_status st = hl_pg_exec(pg, a, SQL_WARNING_INSERT, &args, &r, err);
	if (st)
		return st;
	if (PQntuples(r) == 1) {
		w->issued_us = hl_pg_get_int(r, 0, 0);
		w->status = WS_ISSUED;
		return HL_OK;
	}
	args = hl_pg_args_key(w->request_id);
	if ((st = hl_pg_fetch_one(pg, a, SQL_WARNING_BY_REQUEST, &args, sizeof **existing, read_warning,
				  (void **)existing, err)))
		return st;
	return *existing ? HL_OK : hl_fail(err, HL_INTERNAL, "the warning of the request vanished");
}

hl_status store_warning_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, compliance_warning **out,
			    hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, for_update ? SQL_WARNING_GET_LOCK : SQL_WARNING_GET, &args, sizeof **out,
			       read_warning, (void **)out, err);
}

hl_status store_warning_update(hl_pg *pg, hl_arena *a, const compliance_warning *w, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, w->id);
	hl_pg_arg_int(&args, a, w->status);
	hl_pg_arg_text(&args, w->acknowledged_by ? w->acknowledged_by : "");
	hl_pg_arg_int(&args, a, w->acknowledged_us);
	hl_pg_arg_text(&args, w->rectified_by ? w->rectified_by : "");
	hl_pg_arg_int(&args, a, w->rectified_us);
	hl_pg_arg_text(&args, w->rectification ? w->rectification : "");
	return hl_pg_exec_deferred(pg, a, SQL_WARNING_UPDATE, &args, err);
}

hl_status store_warnings(hl_pg *pg, hl_arena *a, const char *dept, int status, const char *after_id, int limit,
			 compliance_warning ***out, int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, dept);
	hl_pg_arg_int(&args, a, status);
	hl_pg_arg_text(&args, after_id);
	hl_pg_arg_int(&args, a, limit);
	return hl_pg_fetch(pg, a, SQL_WARNINGS, &args, sizeof ***out, read_warning, (void ***)out, n, err);
}

hl_status store_warning_counts(hl_pg *pg, hl_arena *a, const char *dept, int status, int *rectified, int *total,
			       hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, dept);
	hl_pg_arg_int(&args, a, status);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_WARNING_COUNTS, &args, &r, err);
	if (st)
		return st;
	*rectified = (int)hl_pg_get_int(r, 0, 0);
	*total = (int)hl_pg_get_int(r, 0, 1);
	return HL_OK;
}
