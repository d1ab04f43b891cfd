/*
 * store.c - followup's SQL: reply tasks and the replies recorded on them
 * (see store.h).  Times cross the boundary as integer microseconds since the
 * epoch (HL_PG_US out, HL_PG_TS in; 0 is NULL).
 */
#include "store.h"

#include <stdlib.h>

const char store_missing_chain_sql[] =
	"SELECT id::text FROM reply_tasks t WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = t.tenant_id AND h.subject_id = t.id::text) "
	"UNION ALL SELECT id::text FROM visits v WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = v.tenant_id AND h.subject_id = v.id::text)";

/* ---- reply tasks ------------------------------------------------------ */

#define TASK_COLS                                                                                                   \
	"tenant_id, id::text, ticket_id::text, ticket_no, case_id::text, round, department_id, category, priority, " \
	"status, attempts, result_text, result_digest, approved_by, registered_by, COALESCE(assignee_id, ''), "      \
	"COALESCE(closed_by, ''), COALESCE(close_reason, ''), " HL_PG_US("approved_at") ", " HL_PG_US("due_at") ", " \
	HL_PG_US("closed_at") ", " HL_PG_US("created_at") ", version"

static const char SQL_TASK_INSERT[] =
	"INSERT INTO reply_tasks (tenant_id, id, ticket_id, ticket_no, case_id, round, department_id, category, "
	"priority, result_text, result_digest, approved_by, approved_at, registered_by, assignee_id, status, due_at) "
	"VALUES ($1, $2::uuid, $3::uuid, $4, $5::uuid, $6::int, $7, $8::int, $9::int, $10, $11, $12, " HL_PG_TS("$13")
	", $14, NULLIF($15, ''), $16::int, " HL_PG_TS("$17") ") ON CONFLICT (tenant_id, case_id, round) DO NOTHING "
	"RETURNING id::text";
static const char SQL_TASK_BY_ROUND[] =
	"SELECT id::text FROM reply_tasks WHERE case_id = $1::uuid AND round = $2::int";
static const char SQL_TASK_GET[] = "SELECT " TASK_COLS " FROM reply_tasks WHERE id = $1::uuid";
static const char SQL_TASK_GET_LOCK[] = "SELECT " TASK_COLS " FROM reply_tasks WHERE id = $1::uuid FOR UPDATE";
static const char SQL_TASK_UPDATE[] =
	"UPDATE reply_tasks SET status = $2::int, assignee_id = NULLIF($3, ''), attempts = $4::int, "
	"closed_at = " HL_PG_TS("$5") ", closed_by = NULLIF($6, ''), close_reason = NULLIF($7, ''), "
	"version = version + 1, updated_at = now() WHERE id = $1::uuid RETURNING version";
static const char SQL_TASK_OVERDUE[] = "UPDATE reply_tasks SET overdue_at = now() WHERE id = $1::uuid AND "
				       "status = 1 AND overdue_at IS NULL RETURNING " TASK_COLS;
static const char SQL_TASKS[] =
	"SELECT " TASK_COLS " FROM reply_tasks WHERE ($1::int = 0 OR status = $1::int) "
	"AND ($2::text IS NULL OR (assignee_id IS NOT DISTINCT FROM NULLIF($2, '')) "
	"OR ($3::bool AND assignee_id IS NULL)) AND ($4::text IS NULL OR ticket_id = $4::uuid) "
	"AND (NOT $5::bool OR (status = 1 AND due_at < now())) AND ($6::text IS NULL OR id > $6::uuid) "
	"ORDER BY id LIMIT $7::int";

hl_status store_task_insert(hl_pg *pg, hl_arena *a, const followup_task *t, bool *created, const char **existing_id,
			    hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, t->tenant);
	hl_pg_arg_text(&args, t->id);
	hl_pg_arg_text(&args, t->ticket_id);
	hl_pg_arg_text(&args, t->ticket_no);
	hl_pg_arg_text(&args, t->case_id);
	hl_pg_arg_int(&args, a, t->round);
	hl_pg_arg_text(&args, t->department_id);
	hl_pg_arg_int(&args, a, t->category);
	hl_pg_arg_int(&args, a, t->priority);
	hl_pg_arg_text(&args, t->result_text);
	hl_pg_arg_text(&args, t->result_digest);
	hl_pg_arg_text(&args, t->approved_by);
	hl_pg_arg_int(&args, a, t->approved_us);
	hl_pg_arg_text(&args, t->registered_by);
	hl_pg_arg_text(&args, t->assignee_id ? t->assignee_id : "");
	hl_pg_arg_int(&args, a, t->status);
	hl_pg_arg_int(&args, a, t->due_us);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_TASK_INSERT, &args, &r, err);
	if (st)
		return st;
	*created = PQntuples(r) == 1;
	*existing_id = NULL;
	if (*created)
		return HL_OK;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, t->case_id);
	hl_pg_arg_int(&args, a, t->round);
	if ((st = hl_pg_exec(pg, a, SQL_TASK_BY_ROUND, &args, &r, err)))
		return st;
	if (PQntuples(r) != 1)
		return hl_fail(err, HL_INTERNAL, "reply task of the round vanished");
	*existing_id = hl_pg_get(r, 0, 0);
	return HL_OK;
}

static hl_status read_task(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	followup_task *t = out;
	t->tenant = hl_pg_get(r, i, 0);
	t->id = hl_pg_get(r, i, 1);
	t->ticket_id = hl_pg_get(r, i, 2);
	t->ticket_no = hl_pg_get(r, i, 3);
	t->case_id = hl_pg_get(r, i, 4);
	t->round = (int)hl_pg_get_int(r, i, 5);
	t->department_id = hl_pg_get_text(r, i, 6);
	t->category = (int)hl_pg_get_int(r, i, 7);
	t->priority = (int)hl_pg_get_int(r, i, 8);
	t->status = (int)hl_pg_get_int(r, i, 9);
	t->attempts = (int)hl_pg_get_int(r, i, 10);
	t->result_text = hl_pg_get_text(r, i, 11);
	t->result_digest = hl_pg_get_text(r, i, 12);
	t->approved_by = hl_pg_get_text(r, i, 13);
	t->registered_by = hl_pg_get_text(r, i, 14);
	t->assignee_id = hl_pg_get_opt(r, i, 15);
	t->closed_by = hl_pg_get_opt(r, i, 16);
	t->close_reason = hl_pg_get_opt(r, i, 17);
	t->approved_us = hl_pg_get_int(r, i, 18);
	t->due_us = hl_pg_get_int(r, i, 19);
	t->closed_us = hl_pg_get_int(r, i, 20);
	t->created_us = hl_pg_get_int(r, i, 21);
	t->version = hl_pg_get_int(r, i, 22);
	return HL_OK;
}

hl_status store_task_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, followup_task **out,
			 hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, for_update ? SQL_TASK_GET_LOCK : SQL_TASK_GET, &args, sizeof **out, read_task,
			       (void **)out, err);
}

hl_status store_task_mark_overdue(hl_pg *pg, hl_arena *a, const char *id, followup_task **out, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, SQL_TASK_OVERDUE, &args, sizeof **out, read_task, (void **)out, err);
}

hl_status store_task_update(hl_pg *pg, hl_arena *a, followup_task *t, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, t->id);
	hl_pg_arg_int(&args, a, t->status);
	hl_pg_arg_text(&args, t->assignee_id ? t->assignee_id : "");
	hl_pg_arg_int(&args, a, t->attempts);
	hl_pg_arg_int(&args, a, t->closed_us);
	hl_pg_arg_text(&args, t->closed_by ? t->closed_by : "");
	hl_pg_arg_text(&args, t->close_reason ? t->close_reason : "");
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_TASK_UPDATE, &args, &r, err);
	if (st)
		return st;
	if (PQntuples(r) != 1)
		return hl_fail(err, HL_NOT_FOUND, "reply task not found");
	t->version = hl_pg_get_int(r, 0, 0);
	return HL_OK;
}

hl_status store_tasks(hl_pg *pg, hl_arena *a, const store_task_filter *f, followup_task ***out, int *n,
		      hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, f->status);
	hl_pg_arg_text(&args, f->assignee_id);
	hl_pg_arg_bool(&args, f->assignee_or_pool);
	hl_pg_arg_text(&args, f->ticket_id);
	hl_pg_arg_bool(&args, f->overdue);
	hl_pg_arg_text(&args, f->after_id);
	hl_pg_arg_int(&args, a, f->limit);
	return hl_pg_fetch(pg, a, SQL_TASKS, &args, sizeof ***out, read_task, (void ***)out, n, err);
}

/* ---- replies ---------------------------------------------------------- */

#define REPLY_COLS                                                                                                 \
	"id::text, task_id::text, COALESCE(request_id, ''), seq, method, outcome, satisfaction, content, "          \
	"unsatisfied_reason, recorded_by, " HL_PG_US("recorded_at")

static const char SQL_REPLY_INSERT[] =
	"INSERT INTO replies (tenant_id, id, task_id, seq, request_id, method, content, outcome, satisfaction, "
	"unsatisfied_reason, recorded_by) SELECT current_tenant(), $1::uuid, $2::uuid, "
	"COALESCE(max(seq), 0) + 1, NULLIF($3, ''), $4::int, $5, $6::int, $7::int, $8, $9 FROM replies "
	"WHERE task_id = $2::uuid RETURNING seq, " HL_PG_US("recorded_at");
static const char SQL_REPLIES[] = "SELECT " REPLY_COLS " FROM replies WHERE task_id = $1::uuid ORDER BY seq";
static const char SQL_REPLY_BY_REQUEST[] = "SELECT " REPLY_COLS " FROM replies WHERE request_id = $1";

hl_status store_reply_insert(hl_pg *pg, hl_arena *a, followup_reply *rp, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, rp->id);
	hl_pg_arg_text(&args, rp->task_id);
	hl_pg_arg_text(&args, rp->request_id ? rp->request_id : "");
	hl_pg_arg_int(&args, a, rp->method);
	hl_pg_arg_text(&args, rp->content);
	hl_pg_arg_int(&args, a, rp->outcome);
	hl_pg_arg_int(&args, a, rp->satisfaction);
	hl_pg_arg_text(&args, rp->unsatisfied_reason ? rp->unsatisfied_reason : "");
	hl_pg_arg_text(&args, rp->recorded_by);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_REPLY_INSERT, &args, &r, err);
	if (st)
		return st;
	if (PQntuples(r) != 1)
		return hl_fail(err, HL_INTERNAL, "the reply was not recorded");
	rp->seq = (int)hl_pg_get_int(r, 0, 0);
	rp->recorded_us = hl_pg_get_int(r, 0, 1);
	return HL_OK;
}

static hl_status read_reply(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	followup_reply *rp = out;
	rp->id = hl_pg_get(r, i, 0);
	rp->task_id = hl_pg_get(r, i, 1);
	rp->request_id = hl_pg_get_opt(r, i, 2);
	rp->seq = (int)hl_pg_get_int(r, i, 3);
	rp->method = (int)hl_pg_get_int(r, i, 4);
	rp->outcome = (int)hl_pg_get_int(r, i, 5);
	rp->satisfaction = (int)hl_pg_get_int(r, i, 6);
	rp->content = hl_pg_get_text(r, i, 7);
	rp->unsatisfied_reason = hl_pg_get_text(r, i, 8);
	rp->recorded_by = hl_pg_get_text(r, i, 9);
	rp->recorded_us = hl_pg_get_int(r, i, 10);
	return HL_OK;
}

hl_status store_replies(hl_pg *pg, hl_arena *a, const char *task_id, followup_reply ***out, int *n, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(task_id);
	return hl_pg_fetch(pg, a, SQL_REPLIES, &args, sizeof ***out, read_reply, (void ***)out, n, err);
}

hl_status store_reply_by_request(hl_pg *pg, hl_arena *a, const char *request_id, followup_reply **out,
				 hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(request_id);
	return hl_pg_fetch_one(pg, a, SQL_REPLY_BY_REQUEST, &args, sizeof **out, read_reply, (void **)out, err);
}
