/*
 * store.c - the only file with the test peer's SQL (store.h).
 */
#include "store.h"

static const char SQL_EFFECT[] =
	"INSERT INTO effects (tenant_id, timer_key, kind, due_ms, fired_by) VALUES ($1, $2, $3, $4, $5) "
	"ON CONFLICT (tenant_id, timer_key) DO UPDATE SET fires = effects.fires + 1, last_fired_at = clock_timestamp()";
static const char SQL_GUARD_ROW[] =
	"INSERT INTO guarded (tenant_id, name) VALUES (current_tenant(), $1) ON CONFLICT (tenant_id, name) DO NOTHING";
static const char SQL_GUARD_WRITE[] =
	"UPDATE guarded SET value = $2, fence = $3, written_by = $4, written_at = clock_timestamp() "
	"WHERE tenant_id = current_tenant() AND name = $1 AND fence <= $3 RETURNING fence";
static const char SQL_GUARD_FENCE[] = "SELECT fence FROM guarded WHERE tenant_id = current_tenant() AND name = $1";
static const char SQL_RUN[] =
	"INSERT INTO singleton_runs (tenant_id, name, holder, fence, started_ms, ended_ms, wrote) "
	"VALUES (current_tenant(), $1, $2, $3, $4, $5, $6)";

hl_status store_effect(hl_pg *pg, hl_arena *a, const hl_timer *t, const char *fired_by, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, t->tenant);
	hl_pg_arg_text(&args, t->key);
	hl_pg_arg_text(&args, t->kind);
	hl_pg_arg_int(&args, a, t->due_ms);
	hl_pg_arg_text(&args, fired_by);
	return hl_pg_exec(pg, a, SQL_EFFECT, &args, NULL, err);
}

hl_status store_guard_write(hl_pg *pg, hl_arena *a, const char *name, const char *value, int64_t fence,
			    const char *holder, bool *written, int64_t *stored_fence, hl_error *err)
{
	hl_pg_args args;
	PGresult *res;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, name);
	hl_status st = hl_pg_exec(pg, a, SQL_GUARD_ROW, &args, NULL, err);
	if (st)
		return st;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, name);
	hl_pg_arg_text(&args, value);
	hl_pg_arg_int(&args, a, fence);
	hl_pg_arg_text(&args, holder);
	if ((st = hl_pg_exec(pg, a, SQL_GUARD_WRITE, &args, &res, err)))
		return st;
	*written = PQntuples(res) == 1;
	if (*written) {
		*stored_fence = hl_pg_get_int(res, 0, 0);
		return HL_OK;
	}
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, name);
	if ((st = hl_pg_exec(pg, a, SQL_GUARD_FENCE, &args, &res, err)))
		return st;
	*stored_fence = hl_pg_get_int(res, 0, 0);
	return HL_OK;
}

hl_status store_singleton_run(hl_pg *pg, hl_arena *a, const char *name, const char *holder, int64_t fence,
			      int64_t started_ms, int64_t ended_ms, bool wrote, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, name);
	hl_pg_arg_text(&args, holder);
	hl_pg_arg_int(&args, a, fence);
	hl_pg_arg_int(&args, a, started_ms);
	hl_pg_arg_int(&args, a, ended_ms);
	hl_pg_arg_bool(&args, wrote);
	return hl_pg_exec(pg, a, SQL_RUN, &args, NULL, err);
}
