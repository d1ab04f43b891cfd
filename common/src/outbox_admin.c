/*
 * outbox_admin.c - OutboxService: dead letters, re-drive and stats of the
 * acting tenant's outbox (see outbox.h).  Runs as the runtime role, so
 * row-level security keeps each tenant to its own rows.
 */
#include <stdlib.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/outbox.h"
#include "hl/pg.h"
#include "hl/roles.h"
#include "hotline/outbox/v1/outbox.pb-c.h"

static const char SQL_DEAD[] =
	"SELECT id, subject_id, target, method, attempts, coalesce(last_error, ''), "
	"(extract(epoch from created_at) * 1000000)::bigint, (extract(epoch from dead_at) * 1000000)::bigint "
	"FROM outbox WHERE tenant_id = current_tenant() AND dead_at IS NOT NULL AND delivered_at IS NULL "
	"AND id > $1 ORDER BY id LIMIT $2";
static const char SQL_REDRIVE_IDS[] =
	"UPDATE outbox SET dead_at = NULL, next_attempt_at = now(), attempts = 0 "
	"WHERE tenant_id = current_tenant() AND dead_at IS NOT NULL AND delivered_at IS NULL "
	"AND id = ANY($1::bigint[])";
static const char SQL_REDRIVE_ALL[] =
	"UPDATE outbox SET dead_at = NULL, next_attempt_at = now(), attempts = 0 "
	"WHERE tenant_id = current_tenant() AND dead_at IS NOT NULL AND delivered_at IS NULL";
static const char SQL_STATS[] =
	"SELECT count(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NULL), "
	"count(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NOT NULL), "
	"coalesce(extract(epoch from now() - min(created_at) FILTER (WHERE delivered_at IS NULL AND dead_at IS NULL)), 0), "
	"count(*) FILTER (WHERE delivered_at IS NOT NULL) FROM outbox WHERE tenant_id = current_tenant()";

static hl_status begin(hl_call *c)
{
	hl_error err;
	hl_status st = hl_call_require_role(c, HL_ROLE_TENANT_ADMIN);
	if (!st && hl_pg_begin(hl_call_pg(c), hl_call_tenant(c), hl_call_remaining_ms(c), &err))
		st = hl_call_fail_err(c, &err);
	return st;
}

static hl_status run(hl_call *c, const char *sql, const hl_pg_args *args, PGresult **res)
{
	hl_error err;
	hl_status st = hl_pg_exec(hl_call_pg(c), hl_call_arena(c), sql, args, res, &err);
	return st ? hl_call_fail_err(c, &err) : HL_OK;
}

static Google__Protobuf__Timestamp *timestamp(hl_call *c, long long us)
{
	Google__Protobuf__Timestamp *ts = HL_NEW(c, google__protobuf__timestamp__descriptor);
	if (ts) {
		ts->seconds = us / 1000000;
		ts->nanos = (int32_t)(us % 1000000) * 1000;
	}
	return ts;
}

static hl_status list_dead(hl_call *c, const void *vreq, void **vresp)
{
	const Hotline__Outbox__V1__ListDeadLettersRequest *r = vreq;
	int size = r->page_size <= 0 ? 100 : r->page_size > 1000 ? 1000 : r->page_size;
	char *end;
	long long after = r->page_token[0] ? strtoll(r->page_token, &end, 10) : 0;
	if (r->page_token[0] && (*end || after < 0))
		return hl_call_fail(c, HL_INVALID, "page_token: malformed");
	hl_status st = begin(c);
	if (st)
		return st;
	hl_arena *a = hl_call_arena(c);
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, after);
	hl_pg_arg_int(&args, a, size + 1);
	PGresult *res;
	if ((st = run(c, SQL_DEAD, &args, &res)))
		return st;
	hl_pg_rollback(hl_call_pg(c));
	Hotline__Outbox__V1__ListDeadLettersResponse *out =
		HL_NEW(c, hotline__outbox__v1__list_dead_letters_response__descriptor);
	int n = PQntuples(res) > size ? size : PQntuples(res);
	out->dead_letters = hl_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *out->dead_letters);
	for (int i = 0; i < n; i++) {
		Hotline__Outbox__V1__DeadLetter *d = HL_NEW(c, hotline__outbox__v1__dead_letter__descriptor);
		if (!d)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		d->id = hl_pg_get_int(res, i, 0);
		d->subject_id = (char *)hl_pg_get(res, i, 1);
		d->target = (char *)hl_pg_get(res, i, 2);
		d->method = (char *)hl_pg_get(res, i, 3);
		d->attempts = (int32_t)hl_pg_get_int(res, i, 4);
		d->last_error = (char *)hl_pg_get(res, i, 5);
		d->created_at = timestamp(c, hl_pg_get_int(res, i, 6));
		d->dead_at = timestamp(c, hl_pg_get_int(res, i, 7));
		out->dead_letters[out->n_dead_letters++] = d;
	}
	if (PQntuples(res) > size)
		out->next_page_token = hl_arena_printf(a, "%lld", (long long)out->dead_letters[n - 1]->id);
	*vresp = out;
	return HL_OK;
}

static hl_status redrive(hl_call *c, const void *vreq, void **vresp)
{
	const Hotline__Outbox__V1__RedriveDeadLettersRequest *r = vreq;
	if (!r->all && r->n_ids == 0)
		return hl_call_fail(c, HL_INVALID, "ids: required unless all");
	if (r->all && r->n_ids)
		return hl_call_fail(c, HL_INVALID, "ids: not with all");
	if (r->n_ids > 10000)
		return hl_call_fail(c, HL_INVALID, "ids: at most 10000");
	hl_status st = begin(c);
	if (st)
		return st;
	hl_arena *a = hl_call_arena(c);
	hl_pg_args args;
	hl_pg_args_init(&args);
	if (!r->all) {
		const char **ids = hl_arena_alloc(a, r->n_ids * sizeof *ids);
		if (!ids)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		for (size_t i = 0; i < r->n_ids; i++)
			ids[i] = hl_arena_printf(a, "%lld", (long long)r->ids[i]);
		hl_pg_arg_text(&args, hl_pg_text_array(a, ids, r->n_ids));
	}
	PGresult *res;
	hl_error err;
	if ((st = run(c, r->all ? SQL_REDRIVE_ALL : SQL_REDRIVE_IDS, &args, &res)))
		return st;
	if (hl_pg_commit(hl_call_pg(c), &err))
		return hl_call_fail_err(c, &err);
	Hotline__Outbox__V1__RedriveDeadLettersResponse *out =
		HL_NEW(c, hotline__outbox__v1__redrive_dead_letters_response__descriptor);
	out->redriven = atoi(PQcmdTuples(res));
	*vresp = out;
	return HL_OK;
}

static hl_status stats(hl_call *c, const void *vreq, void **vresp)
{
	(void)vreq;
	hl_status st = begin(c);
	PGresult *res;
	if (st || (st = run(c, SQL_STATS, NULL, &res)))
		return st;
	hl_pg_rollback(hl_call_pg(c));
	Hotline__Outbox__V1__GetOutboxStatsResponse *out =
		HL_NEW(c, hotline__outbox__v1__get_outbox_stats_response__descriptor);
	out->pending = hl_pg_get_int(res, 0, 0);
	out->dead_letters = hl_pg_get_int(res, 0, 1);
	out->oldest_pending_seconds = atof(hl_pg_get(res, 0, 2));
	out->delivered = hl_pg_get_int(res, 0, 3);
	*vresp = out;
	return HL_OK;
}

static const hl_method outbox_methods[] = {
	{"ListDeadLetters", list_dead, HL_ACCESS_USER, NULL, NULL},
	{"RedriveDeadLetters", redrive, HL_ACCESS_USER, NULL, NULL},
	{"GetOutboxStats", stats, HL_ACCESS_USER, NULL, NULL},
};

hl_service hl_outbox_service(void)
{
	return (hl_service){&hotline__outbox__v1__outbox_service__descriptor, outbox_methods,
			    sizeof outbox_methods / sizeof outbox_methods[0]};
}
