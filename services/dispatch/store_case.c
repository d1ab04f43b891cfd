/*
 * store_case.c - dispatch's SQL: cases and their steps (see store.h).  Times cross the
 * boundary as integer microseconds since the epoch (HL_PG_US out, HL_PG_TS
 * in; 0 is NULL), arrays as text[] literals.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "hl/buf.h"
#include "hl/crypto.h"


const char store_missing_chain_sql[] =
	"SELECT id::text FROM cases c WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = c.tenant_id AND h.subject_id = c.id::text)";

/* ---- cases ------------------------------------------------------------ */

#define CASE_COLS                                                                                                    \
	"tenant_id, id::text, ticket_id::text, ticket_no, role, COALESCE(lead_case_id::text, ''), status, "           \
	"COALESCE(department_id, ''), COALESCE(handler_id, ''), basis_kind, COALESCE(basis_rule_id::text, ''), "       \
	"basis_reason, basis_return_reason, basis_actor, channel, category, priority, topic, description, area, "      \
	"registered_by, " HL_PG_US("registered_at") ", implicated, returned_by, " HL_PG_US("paused_at") ", return_count, "         \
	"transfer_count, reopen_count, COALESCE(result_text, ''), COALESCE(result_by, ''), " HL_PG_US("result_at") ", "     \
	"COALESCE(approved_by, ''), " HL_PG_US("approved_at") ", COALESCE(approved_digest, ''), fence, version, "            \
	HL_PG_US("created_at") ", " HL_PG_US("updated_at") ", COALESCE(lock_digest, '')"

static const char SQL_CASE_INSERT[] =
	"INSERT INTO cases (tenant_id, id, ticket_id, ticket_no, role, lead_case_id, status, department_id, "
	"handler_id, basis_kind, basis_rule_id, basis_reason, basis_return_reason, basis_actor, channel, category, "
	"priority, topic, description, area, registered_by, registered_at, implicated) VALUES ($1, $2::uuid, "
	"$3::uuid, $4, $5::int, NULLIF($6, '')::uuid, $7::int, NULLIF($8, ''), NULLIF($9, ''), $10::int, "
	"NULLIF($11, '')::uuid, $12, $13::int, $14, $15::int, $16::int, $17::int, $18, $19, $20, $21, " HL_PG_TS("$22")
	", $23::text[])";
static const char SQL_CASE_GET[] = "SELECT " CASE_COLS " FROM cases WHERE id = $1::uuid";
static const char SQL_CASE_GET_LOCK[] = "SELECT " CASE_COLS " FROM cases WHERE id = $1::uuid FOR UPDATE";
static const char SQL_CASE_BY_TICKET[] = "SELECT " CASE_COLS " FROM cases WHERE ticket_id = $1::uuid AND role = 1";
static const char SQL_CASE_BY_TICKET_LOCK[] =
	"SELECT " CASE_COLS " FROM cases WHERE ticket_id = $1::uuid AND role = 1 FOR UPDATE";
static const char SQL_CASE_UPDATE[] =
	"UPDATE cases SET status = $2::int, department_id = NULLIF($3, ''), handler_id = NULLIF($4, ''), "
	"basis_kind = $5::int, basis_rule_id = NULLIF($6, '')::uuid, basis_reason = $7, basis_return_reason = $8::int, "
	"basis_actor = $9, returned_by = $10::text[], paused_at = " HL_PG_TS("$11") ", return_count = $12::int, "
	"transfer_count = $13::int, reopen_count = $14::int, result_text = NULLIF($15, ''), result_by = NULLIF($16, ''), "
	"result_at = " HL_PG_TS("$17") ", approved_by = NULLIF($18, ''), approved_at = " HL_PG_TS("$19") ", "
	"approved_digest = NULLIF($20, ''), fence = GREATEST(fence, $21::bigint), version = version + 1, "
	"lock_digest = COALESCE(NULLIF($22, ''), lock_digest), updated_at = now() WHERE id = $1::uuid AND fence <= $21::bigint RETURNING version, " HL_PG_US("updated_at");
static const char SQL_CASES[] =
	"SELECT " CASE_COLS " FROM cases c WHERE ($1::text IS NULL OR department_id = $1) "
	"AND ($2::text IS NULL OR handler_id = $2) AND ($3::int = 0 OR status = $3::int) "
	"AND ($4::text IS NULL OR ticket_id = $4::uuid) AND ($5::text IS NULL OR id > $5::uuid) "
	"AND (NOT $6::bool OR EXISTS (SELECT 1 FROM deadlines d WHERE d.tenant_id = c.tenant_id AND d.case_id = c.id "
	"AND d.met_at IS NULL AND d.cancelled_at IS NULL AND d.overdue_at IS NOT NULL)) ORDER BY id LIMIT $7::int";

/*
 * A ticket's lead case is made once: whoever submits a ticket first takes the ticket's lock, looks
 * for its lead case and, finding none, writes it before the COMMIT releases the lock.  So a lead
 * case is written with its routing, in one INSERT (no second write to route it), and a second
 * submission of the ticket (a redelivery under another key, or a concurrent one) waits for the
 * first and finds its case.  A held batch locks and looks up all its tickets in one round trip
 * (in the order of their ids, as every batch does, so no two wait on each other in a cycle); the
 * answer is kept for the transaction.  cases_lead_ticket still refuses a second lead case.
 */
static const char SQL_LEAD_LOCK[] =
	"SELECT pg_advisory_xact_lock(hashtextextended('dispatch.submit/' || current_tenant() || '/' || t, 0)) "
	"FROM unnest($1::text[]) AS t";
static const char SQL_LEAD_IDS[] = "SELECT ticket_id::text, id::text FROM cases "
				   "WHERE tenant_id = current_tenant() AND ticket_id = ANY ($1::uuid[]) AND role = 1";
static const char lead_owner = 0; /* its slot of hl_pg_tx_memo: the PGresult of SQL_LEAD_IDS */

static int by_text(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Lock tickets ids[] (sorted, once each) and fetch their lead cases' ids into arena a. */
static hl_status lock_and_find_leads(hl_pg *pg, hl_arena *a, const char **ids, int n, PGresult **out,
				     hl_error *err)
{
	qsort(ids, (size_t)n, sizeof *ids, by_text);
	int m = 0;
	for (int i = 0; i < n; i++)
		if (!m || strcmp(ids[m - 1], ids[i]) != 0)
			ids[m++] = ids[i];
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text_array(&args, a, ids, m);
	if (!args.v[0])
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_status st = hl_pg_exec_deferred(pg, a, SQL_LEAD_LOCK, &args, err);
	return st ? st : hl_pg_exec(pg, a, SQL_LEAD_IDS, &args, out, err);
}

hl_status store_lead_cases_lock(hl_pg *pg, const char **ticket_ids, int n, hl_error *err)
{
	void **slot = hl_pg_held(pg) ? hl_pg_tx_memo(pg, &lead_owner) : NULL;
	hl_arena *mem = hl_pg_tx_mem(pg);
	if (!slot || !mem)
		return HL_OK; /* no room to keep the answer: each submission locks and looks for itself */
	PGresult *r;
	hl_status st = lock_and_find_leads(pg, mem, ticket_ids, n, &r, err);
	if (st == HL_OK)
		*slot = r;
	return st;
}

hl_status store_lead_case_id(hl_pg *pg, hl_arena *a, const char *ticket_id, const char **case_id, hl_error *err)
{
	void **slot = hl_pg_held(pg) ? hl_pg_tx_memo(pg, &lead_owner) : NULL;
	const PGresult *r = slot ? *slot : NULL;
	*case_id = NULL;
	if (!r) {
		const char **ids = hl_arena_alloc(a, sizeof *ids);
		if (!ids)
			return hl_fail(err, HL_NOMEM, "out of memory");
		ids[0] = ticket_id;
		PGresult *own;
		hl_status st = lock_and_find_leads(pg, a, ids, 1, &own, err);
		if (st)
			return st;
		r = own;
	}
	for (int i = 0; i < PQntuples(r) && !*case_id; i++)
		if (strcmp(hl_pg_get(r, i, 0), ticket_id) == 0 && !(*case_id = hl_arena_strdup(a, hl_pg_get(r, i, 1))))
			return hl_fail(err, HL_NOMEM, "out of memory");
	return HL_OK;
}

hl_status store_case_insert(hl_pg *pg, hl_arena *a, const dispatch_case *k, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, k->tenant);
	hl_pg_arg_text(&args, k->id);
	hl_pg_arg_text(&args, k->ticket_id);
	hl_pg_arg_text(&args, k->ticket_no);
	hl_pg_arg_int(&args, a, k->role);
	hl_pg_arg_text(&args, k->lead_case_id ? k->lead_case_id : "");
	hl_pg_arg_int(&args, a, k->status);
	hl_pg_arg_text(&args, k->department_id ? k->department_id : "");
	hl_pg_arg_text(&args, k->handler_id ? k->handler_id : "");
	hl_pg_arg_int(&args, a, k->basis_kind);
	hl_pg_arg_text(&args, k->basis_rule_id ? k->basis_rule_id : "");
	hl_pg_arg_text(&args, k->basis_reason ? k->basis_reason : "");
	hl_pg_arg_int(&args, a, k->basis_return_reason);
	hl_pg_arg_text(&args, k->basis_actor ? k->basis_actor : "");
	hl_pg_arg_int(&args, a, k->channel);
	hl_pg_arg_int(&args, a, k->category);
	hl_pg_arg_int(&args, a, k->priority);
	hl_pg_arg_text(&args, k->topic);
	hl_pg_arg_text(&args, k->description);
	hl_pg_arg_text(&args, k->area);
	hl_pg_arg_text(&args, k->registered_by);
	hl_pg_arg_int(&args, a, k->registered_us);
	hl_pg_arg_text_array(&args, a, k->implicated, k->n_implicated);
	return hl_pg_exec_deferred(pg, a, SQL_CASE_INSERT, &args, err);
}

static hl_status read_case(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	dispatch_case *k = out;
	k->tenant = hl_pg_get(r, i, 0);
	k->id = hl_pg_get(r, i, 1);
	k->ticket_id = hl_pg_get(r, i, 2);
	k->ticket_no = hl_pg_get(r, i, 3);
	k->role = (int)hl_pg_get_int(r, i, 4);
	k->lead_case_id = hl_pg_get_opt(r, i, 5);
	k->status = (int)hl_pg_get_int(r, i, 6);
	k->department_id = hl_pg_get_opt(r, i, 7);
	k->handler_id = hl_pg_get_opt(r, i, 8);
	k->basis_kind = (int)hl_pg_get_int(r, i, 9);
	k->basis_rule_id = hl_pg_get_opt(r, i, 10);
	k->basis_reason = hl_pg_get(r, i, 11);
	k->basis_return_reason = (int)hl_pg_get_int(r, i, 12);
	k->basis_actor = hl_pg_get(r, i, 13);
	k->channel = (int)hl_pg_get_int(r, i, 14);
	k->category = (int)hl_pg_get_int(r, i, 15);
	k->priority = (int)hl_pg_get_int(r, i, 16);
	k->topic = hl_pg_get(r, i, 17);
	k->description = hl_pg_get(r, i, 18);
	k->area = hl_pg_get(r, i, 19);
	k->registered_by = hl_pg_get(r, i, 20);
	k->registered_us = hl_pg_get_int(r, i, 21);
	k->paused_us = hl_pg_get_int(r, i, 24);
	k->return_count = (int)hl_pg_get_int(r, i, 25);
	k->transfer_count = (int)hl_pg_get_int(r, i, 26);
	k->reopen_count = (int)hl_pg_get_int(r, i, 27);
	k->result_text = hl_pg_get_opt(r, i, 28);
	k->result_by = hl_pg_get_opt(r, i, 29);
	k->result_us = hl_pg_get_int(r, i, 30);
	k->approved_by = hl_pg_get_opt(r, i, 31);
	k->approved_us = hl_pg_get_int(r, i, 32);
	k->approved_digest = hl_pg_get_opt(r, i, 33);
	k->fence = hl_pg_get_int(r, i, 34);
	k->version = hl_pg_get_int(r, i, 35);
	k->created_us = hl_pg_get_int(r, i, 36);
	k->updated_us = hl_pg_get_int(r, i, 37);
	k->lock_digest = hl_pg_get_opt(r, i, 38);
	hl_status st = hl_pg_get_text_array(r, i, 22, a, &k->implicated, &k->n_implicated, err);
	return st ? st : hl_pg_get_text_array(r, i, 23, a, &k->returned_by, &k->n_returned_by, err);
}

static hl_status one_case(hl_pg *pg, hl_arena *a, const char *sql, const char *key, dispatch_case **out,
			  hl_error *err)
{
	*out = NULL;
	if (!hl_uuid_valid(key))
		return HL_OK;
	hl_pg_args args = hl_pg_args_key(key);
	return hl_pg_fetch_one(pg, a, sql, &args, sizeof **out, read_case, (void **)out, err);
}

hl_status store_case_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, dispatch_case **out,
			 hl_error *err)
{
	return one_case(pg, a, for_update ? SQL_CASE_GET_LOCK : SQL_CASE_GET, id, out, err);
}

hl_status store_case_by_ticket(hl_pg *pg, hl_arena *a, const char *ticket_id, bool for_update, dispatch_case **out,
			       hl_error *err)
{
	return one_case(pg, a, for_update ? SQL_CASE_BY_TICKET_LOCK : SQL_CASE_BY_TICKET, ticket_id, out, err);
}

hl_status store_case_update(hl_pg *pg, hl_arena *a, dispatch_case *k, bool *ok, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, k->id);
	hl_pg_arg_int(&args, a, k->status);
	hl_pg_arg_text(&args, k->department_id ? k->department_id : "");
	hl_pg_arg_text(&args, k->handler_id ? k->handler_id : "");
	hl_pg_arg_int(&args, a, k->basis_kind);
	hl_pg_arg_text(&args, k->basis_rule_id ? k->basis_rule_id : "");
	hl_pg_arg_text(&args, k->basis_reason ? k->basis_reason : "");
	hl_pg_arg_int(&args, a, k->basis_return_reason);
	hl_pg_arg_text(&args, k->basis_actor ? k->basis_actor : "");
	hl_pg_arg_text_array(&args, a, k->returned_by, k->n_returned_by);
	hl_pg_arg_int(&args, a, k->paused_us);
	hl_pg_arg_int(&args, a, k->return_count);
	hl_pg_arg_int(&args, a, k->transfer_count);
	hl_pg_arg_int(&args, a, k->reopen_count);
	hl_pg_arg_text(&args, k->result_text ? k->result_text : "");
	hl_pg_arg_text(&args, k->result_by ? k->result_by : "");
	hl_pg_arg_int(&args, a, k->result_us);
	hl_pg_arg_text(&args, k->approved_by ? k->approved_by : "");
	hl_pg_arg_int(&args, a, k->approved_us);
	hl_pg_arg_text(&args, k->approved_digest ? k->approved_digest : "");
	hl_pg_arg_int(&args, a, k->fence);
	hl_pg_arg_text(&args, k->lock_digest ? k->lock_digest : "");
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_CASE_UPDATE, &args, &r, err);
	*ok = st == HL_OK && PQntuples(r) == 1;
	if (*ok) {
		k->version = hl_pg_get_int(r, 0, 0);
		k->updated_us = hl_pg_get_int(r, 0, 1);
	}
	return st;
}

hl_status store_cases(hl_pg *pg, hl_arena *a, const store_case_filter *f, dispatch_case ***out, int *n,
		      hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, f->department_id);
	hl_pg_arg_text(&args, f->handler_id);
	hl_pg_arg_int(&args, a, f->status);
	hl_pg_arg_text(&args, f->ticket_id);
	hl_pg_arg_text(&args, f->after_id);
	hl_pg_arg_bool(&args, f->overdue_only);
	hl_pg_arg_int(&args, a, f->limit);
	hl_status st = f->overdue_only ? hl_pg_rows_send(pg, err) : HL_OK; /* deadlines wait for the COMMIT */
	return st ? st : hl_pg_fetch(pg, a, SQL_CASES, &args, sizeof ***out, read_case, (void ***)out, n, err);
}

/* ---- steps ------------------------------------------------------------ */

/*
 * Steps wait for the COMMIT (hl_pg_rows_at_commit): the steps of a
 * transaction, or of a held batch, go in one statement, each case's numbered
 * on from its stored last step in the order they were added.  The case row
 * is locked by its writer, so no other transaction numbers its steps.
 */
static const char SQL_STEPS_ADD[] =
	"INSERT INTO case_steps (tenant_id, case_id, seq, action, actor, department_id, note) "
	"SELECT u.tenant, u.case_id, COALESCE((SELECT max(s.seq) FROM case_steps s WHERE s.case_id = u.case_id), 0) "
	"+ row_number() OVER (PARTITION BY u.case_id ORDER BY u.n), u.action, u.actor, u.dept, u.note "
	"FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY "
	"AS u(tenant, case_id, action, actor, dept, note, n)";
enum { STEP_COLUMNS = 6 };
static const char SQL_STEPS[] =
	"SELECT seq, action, actor, department_id, note, " HL_PG_US("at") " FROM case_steps WHERE case_id = $1::uuid "
	"ORDER BY seq";

hl_status store_step_add(hl_pg *pg, hl_arena *a, const char *tenant, const char *case_id, const char *action,
			 const char *actor, const char *dept, const char *note, hl_error *err)
{
	hl_pg_rows row;
	hl_pg_rows_init(&row, a, STEP_COLUMNS);
	hl_pg_rows_text(&row, tenant);
	hl_pg_rows_text(&row, case_id);
	hl_pg_rows_text(&row, action);
	hl_pg_rows_text(&row, actor);
	hl_pg_rows_text(&row, dept ? dept : "");
	hl_pg_rows_text(&row, note ? note : "");
	return hl_pg_rows_at_commit(pg, SQL_STEPS_ADD, &row, err); /* its outcome comes with the commit */
}

static hl_status read_step(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	dispatch_step_row *s = out;
	s->seq = (int)hl_pg_get_int(r, i, 0);
	s->action = hl_pg_get(r, i, 1);
	s->actor = hl_pg_get(r, i, 2);
	s->department_id = hl_pg_get(r, i, 3);
	s->note = hl_pg_get(r, i, 4);
	s->at_us = hl_pg_get_int(r, i, 5);
	return HL_OK;
}

hl_status store_steps(hl_pg *pg, hl_arena *a, const char *case_id, dispatch_step_row ***out, int *n, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(case_id);
	hl_status st = hl_pg_rows_send(pg, err); /* the steps waiting for the commit are read too */
	return st ? st : hl_pg_fetch(pg, a, SQL_STEPS, &args, sizeof ***out, read_step, (void ***)out, n, err);
}
