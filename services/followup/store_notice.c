/*
 * store_notice.c - followup's SQL for overdue notices and their
 * acknowledgements, and for the sampling of closed tickets (policy, key,
 * draws) (see store.h).  Times cross the boundary as integer microseconds.
 */
#include <stdlib.h>
#include <string.h>

#include "hl/crypto.h"
#include "store.h"

/* ---- notices ------------------------------------------------------------ */

#define NOTICE_COLS                                                                                                \
	"n.id::text, n.kind, n.subject_type, n.subject_id::text, n.ticket_no, n.counterpart_id, n.department_id, " \
	"n.recipient_id, n.recipient_role, n.note, " HL_PG_US("n.due_at") ", " HL_PG_US(                           \
		"n.created_at") ", "                                                                               \
				"k.acked_by, " HL_PG_US("k.acked_at")
#define NOTICE_FROM " FROM notices n LEFT JOIN notice_acks k ON k.tenant_id = n.tenant_id AND k.notice_id = n.id "

static const char SQL_NOTICE_INSERT[] =
	"INSERT INTO notices (tenant_id, id, kind, subject_type, subject_id, ticket_no, counterpart_id, department_id, "
	"recipient_id, recipient_role, note, due_at) VALUES ($1, $2::uuid, $3::int, $4, $5::uuid, $6, $7, $8, $9, $10, "
	"$11, " HL_PG_TS("$12") ") ON CONFLICT DO NOTHING";
static const char SQL_NOTICES[] =
	"SELECT " NOTICE_COLS NOTICE_FROM
	"WHERE ($1::bool OR n.recipient_id = $2 OR (n.recipient_role = 'dept_head' AND "
	"n.department_id = $3) OR (n.recipient_role = 'supervisor' AND $4::bool)) AND (NOT $5::bool OR k.notice_id IS "
	"NULL) AND ($6::text IS NULL OR n.id > $6::uuid) ORDER BY n.id LIMIT $7::int";
static const char SQL_NOTICE_GET[] = "SELECT " NOTICE_COLS NOTICE_FROM "WHERE n.id = $1::uuid";
static const char SQL_NOTICE_ACK[] =
	"INSERT INTO notice_acks (tenant_id, notice_id, acked_by) VALUES ($1, $2::uuid, $3) ON CONFLICT DO NOTHING";

hl_status store_notice_insert(hl_pg *pg, hl_arena *a, const char *tenant, store_notice *x, hl_error *err)
{
	char *id = hl_arena_alloc(a, HL_UUID_STR_LEN);
	if (!id || hl_uuid_v7(id))
		return hl_fail(err, HL_NOMEM, "out of memory");
	x->id = id;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, x->id);
	hl_pg_arg_int(&args, a, x->kind);
	hl_pg_arg_text(&args, x->subject_type);
	hl_pg_arg_text(&args, x->subject_id);
	hl_pg_arg_text(&args, x->ticket_no ? x->ticket_no : "");
	hl_pg_arg_text(&args, x->counterpart_id ? x->counterpart_id : "");
	hl_pg_arg_text(&args, x->department_id ? x->department_id : "");
	hl_pg_arg_text(&args, x->recipient_id ? x->recipient_id : "");
	hl_pg_arg_text(&args, x->recipient_role ? x->recipient_role : "");
	hl_pg_arg_text(&args, x->note ? x->note : "");
	hl_pg_arg_int(&args, a, x->due_us);
	return hl_pg_exec(pg, a, SQL_NOTICE_INSERT, &args, NULL, err);
}

static hl_status read_notice(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	store_notice *x = out;
	x->id = hl_pg_get(r, i, 0);
	x->kind = (int)hl_pg_get_int(r, i, 1);
	x->subject_type = hl_pg_get(r, i, 2);
	x->subject_id = hl_pg_get(r, i, 3);
	x->ticket_no = hl_pg_get_text(r, i, 4);
	x->counterpart_id = hl_pg_get_text(r, i, 5);
	x->department_id = hl_pg_get_text(r, i, 6);
	x->recipient_id = hl_pg_get_text(r, i, 7);
	x->recipient_role = hl_pg_get_text(r, i, 8);
	x->note = hl_pg_get_text(r, i, 9);
	x->due_us = hl_pg_get_int(r, i, 10);
	x->created_us = hl_pg_get_int(r, i, 11);
	x->acked_by = hl_pg_get(r, i, 12);
	x->acked_us = hl_pg_get_int(r, i, 13);
	return HL_OK;
}

hl_status store_notices(hl_pg *pg, hl_arena *a, const store_notice_filter *f, store_notice ***out, int *n,
			hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_bool(&args, f->all);
	hl_pg_arg_text(&args, f->me ? f->me : "");
	hl_pg_arg_text(&args, f->head_of); /* NULL matches no department */
	hl_pg_arg_bool(&args, f->supervisor);
	hl_pg_arg_bool(&args, f->unacknowledged);
	hl_pg_arg_text(&args, f->after_id);
	hl_pg_arg_int(&args, a, f->limit);
	return hl_pg_fetch(pg, a, SQL_NOTICES, &args, sizeof ***out, read_notice, (void ***)out, n, err);
}

hl_status store_notice_get(hl_pg *pg, hl_arena *a, const char *id, store_notice **out, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, SQL_NOTICE_GET, &args, sizeof **out, read_notice, (void **)out, err);
}

hl_status store_notice_ack(hl_pg *pg, hl_arena *a, const char *tenant, const char *id, const char *by, bool *done,
			   hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, id);
	hl_pg_arg_text(&args, by);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_NOTICE_ACK, &args, &r, err);
	if (st)
		return st;
	*done = atoi(PQcmdTuples(r)) == 1;
	return HL_OK;
}

/* ---- sampling ----------------------------------------------------------- */

static const char SQL_POLICY_GET[] =
	"SELECT percents, method, within_days, responsible_id, version FROM sampling_policies";
static const char SQL_POLICY_PUT[] =
	"INSERT INTO sampling_policies (tenant_id, percents, method, within_days, responsible_id, updated_by) "
	"VALUES ($1, $2::smallint[], $3::int, $4::int, $5, $6) ON CONFLICT (tenant_id) DO UPDATE SET "
	"percents = $2::smallint[], method = $3::int, within_days = $4::int, responsible_id = $5, updated_by = $6, "
	"version = sampling_policies.version + 1, updated_at = now() RETURNING version";
static const char SQL_KEY_PUT[] = "INSERT INTO sampling_keys (tenant_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING";
static const char SQL_KEY_GET[] = "SELECT key FROM sampling_keys";
static const char SQL_SAMPLE_GET[] = "SELECT ticket_id::text, ticket_no, reason, visit_id::text, category, percent, "
				     "draw, policy_version, sampled FROM ticket_samples WHERE ticket_id = $1::uuid";
static const char SQL_SAMPLE_INSERT[] =
	"INSERT INTO ticket_samples (tenant_id, ticket_id, ticket_no, category, reason, percent, draw, sampled, "
	"policy_version, visit_id) VALUES ($1, $2::uuid, $3, $4::int, $5, $6::int, $7::int, $8::bool, $9::int, "
	"$10::uuid)";

hl_status store_sampling_get(hl_pg *pg, hl_arena *a, store_sampling_policy *p, bool *found, hl_error *err)
{
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_POLICY_GET, NULL, &r, err);
	*found = false;
	if (st || PQntuples(r) != 1)
		return st;
	int *pc, n;
	if ((st = hl_pg_get_int_array(r, 0, 0, a, &pc, &n, err)))
		return st;
	if (n != 6)
		return hl_fail(err, HL_DATA_LOSS, "sampling policy: %d percentages, expected 6", n);
	memcpy(p->percents, pc, sizeof p->percents);
	p->method = (int)hl_pg_get_int(r, 0, 1);
	p->within_days = (int)hl_pg_get_int(r, 0, 2);
	p->responsible_id = hl_pg_get_text(r, 0, 3);
	p->version = (int)hl_pg_get_int(r, 0, 4);
	*found = true;
	return HL_OK;
}

hl_status store_sampling_put(hl_pg *pg, hl_arena *a, const char *tenant, store_sampling_policy *p, const char *actor,
			     hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, hl_pg_int_array(a, p->percents, 6));
	hl_pg_arg_int(&args, a, p->method);
	hl_pg_arg_int(&args, a, p->within_days);
	hl_pg_arg_text(&args, p->responsible_id);
	hl_pg_arg_text(&args, actor);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_POLICY_PUT, &args, &r, err);
	if (st)
		return st;
	if (PQntuples(r) != 1)
		return hl_fail(err, HL_INTERNAL, "the sampling policy was not stored");
	p->version = (int)hl_pg_get_int(r, 0, 0);
	return HL_OK;
}

hl_status store_sampling_key(hl_pg *pg, hl_arena *a, const char *tenant, const uint8_t fresh[32], uint8_t key[32],
			     hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_bytes(&args, fresh, 32);
	PGresult *r;
	uint8_t *stored;
	size_t len;
	hl_status st;
	if ((st = hl_pg_exec(pg, a, SQL_KEY_PUT, &args, NULL, err)) ||
	    (st = hl_pg_exec(pg, a, SQL_KEY_GET, NULL, &r, err)))
		return st;
	if (PQntuples(r) != 1)
		return hl_fail(err, HL_INTERNAL, "no sampling key");
	if ((st = hl_pg_get_bytes(r, 0, 0, a, &stored, &len)))
		return hl_fail(err, st, "sampling key: unreadable");
	if (len != 32)
		return hl_fail(err, HL_DATA_LOSS, "sampling key: %zu bytes", len);
	memcpy(key, stored, 32);
	return HL_OK;
}

static hl_status read_sample(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	store_ticket_sample *x = out;
	x->ticket_id = hl_pg_get(r, i, 0);
	x->ticket_no = hl_pg_get_text(r, i, 1);
	x->reason = hl_pg_get_text(r, i, 2);
	x->visit_id = hl_pg_get(r, i, 3);
	x->category = (int)hl_pg_get_int(r, i, 4);
	x->percent = (int)hl_pg_get_int(r, i, 5);
	x->draw = (int)hl_pg_get_int(r, i, 6);
	x->policy_version = (int)hl_pg_get_int(r, i, 7);
	x->sampled = hl_pg_get_bool(r, i, 8);
	return HL_OK;
}

hl_status store_sample_get(hl_pg *pg, hl_arena *a, const char *ticket_id, store_ticket_sample **out, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(ticket_id);
	return hl_pg_fetch_one(pg, a, SQL_SAMPLE_GET, &args, sizeof **out, read_sample, (void **)out, err);
}

hl_status store_sample_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_ticket_sample *x, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, x->ticket_id);
	hl_pg_arg_text(&args, x->ticket_no);
	hl_pg_arg_int(&args, a, x->category);
	hl_pg_arg_text(&args, x->reason);
	hl_pg_arg_int(&args, a, x->percent);
	hl_pg_arg_int(&args, a, x->draw);
	hl_pg_arg_bool(&args, x->sampled);
	hl_pg_arg_int(&args, a, x->policy_version);
	hl_pg_arg_text(&args, x->visit_id);
	return hl_pg_exec(pg, a, SQL_SAMPLE_INSERT, &args, NULL, err);
}
