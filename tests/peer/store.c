/*
 * store.c - all SQL of the test peer (see store.h).
 */
#include "store.h"

static const char SQL_SUBJECT_LOCK[] =
	"INSERT INTO subjects (tenant_id, stream, subject_id) VALUES (current_tenant(), $1, $2) "
	"ON CONFLICT (tenant_id, stream, subject_id) DO UPDATE SET latest_version = subjects.latest_version "
	"RETURNING latest_version";

static const char SQL_EFFECT_INSERT[] =
	"WITH s AS (UPDATE subjects SET latest_version = $3 "
	"WHERE tenant_id = current_tenant() AND stream = $1 AND subject_id = $2) "
	"INSERT INTO effects (tenant_id, stream, subject_id, version, payload, actor, idempotency_key) "
	"VALUES (current_tenant(), $1, $2, $3, $4, $5, $6) RETURNING seq";

hl_status store_subject_lock(hl_pg *pg, hl_arena *a, const char *stream, const char *subject_id, int64_t *latest,
			     hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, stream);
	hl_pg_arg_text(&args, subject_id);
	PGresult *res;
	hl_status st = hl_pg_exec(pg, a, SQL_SUBJECT_LOCK, &args, &res, err);
	if (st)
		return st;
	*latest = hl_pg_get_int(res, 0, 0);
	return HL_OK;
}

hl_status store_effect_insert(hl_pg *pg, hl_arena *a, const store_effect *e, int64_t *seq, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, e->stream);
	hl_pg_arg_text(&args, e->subject_id);
	hl_pg_arg_int(&args, a, e->version);
	hl_pg_arg_text(&args, e->payload);
	hl_pg_arg_text(&args, e->actor);
	hl_pg_arg_text(&args, e->idempotency_key);
	PGresult *res;
	hl_status st = hl_pg_exec(pg, a, SQL_EFFECT_INSERT, &args, &res, err);
	if (st)
		return st;
	*seq = hl_pg_get_int(res, 0, 0);
	return HL_OK;
}
