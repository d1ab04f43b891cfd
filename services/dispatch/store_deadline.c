/*
 * store_deadline.c - dispatch's SQL: deadlines, pauses, extensions and supervision notices (see store.h).  Times cross the
 * boundary as integer microseconds since the epoch (HL_PG_US out, HL_PG_TS
 * in; 0 is NULL), arrays as text[] literals.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "hl/buf.h"
#include "hl/crypto.h"


/* ---- deadlines ------------------------------------------------------------ */

#define DL_COLS                                                                                                      \
	"id::text, case_id::text, kind, warning_permille, generation, " HL_PG_US("started_at") ", allowed_ms, "             \
	"extension_ms, " HL_PG_US("due_at") ", " HL_PG_US("warn_at") ", " HL_PG_US("met_at") ", " HL_PG_US("cancelled_at") ", "              \
	HL_PG_US("warned_at") ", " HL_PG_US("overdue_at") ", clock"

static const char SQL_DL_INSERT[] =
	"INSERT INTO deadlines (tenant_id, id, case_id, kind, started_at, allowed_ms, extension_ms, warning_permille, "
	"due_at, warn_at, generation, clock) SELECT t, id, case_id, kind, " HL_PG_TS("started") ", allowed, ext, permille, "
	HL_PG_TS("due") ", " HL_PG_TS("warn") ", gen, clock FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::int[], "
	"$5::bigint[], $6::bigint[], $7::bigint[], $8::int[], $9::bigint[], $10::bigint[], $11::int[], $12::bool[]) "
	"AS d(t, id, case_id, kind, started, allowed, ext, permille, due, warn, gen, clock)";
static const char SQL_DL_OPEN[] =
	"SELECT " DL_COLS " FROM deadlines WHERE case_id = $1::uuid AND ($2::int = 0 OR kind = $2::int) "
	"AND met_at IS NULL AND cancelled_at IS NULL ORDER BY kind FOR UPDATE";
static const char SQL_DL_LATEST[] =
	"SELECT DISTINCT ON (kind) " DL_COLS " FROM deadlines WHERE case_id = $1::uuid ORDER BY kind, started_at DESC";
static const char SQL_DL_GET[] = "SELECT " DL_COLS " FROM deadlines WHERE id = $1::uuid";
static const char SQL_DL_GET_LOCK[] = "SELECT " DL_COLS " FROM deadlines WHERE id = $1::uuid FOR UPDATE";
static const char SQL_DL_UPDATE[] =
	"UPDATE deadlines SET extension_ms = $2::bigint, due_at = " HL_PG_TS("$3") ", warn_at = " HL_PG_TS("$4") ", "
	"generation = $5::int, met_at = " HL_PG_TS("$6") ", cancelled_at = " HL_PG_TS("$7") ", warned_at = " HL_PG_TS("$8") ", "
	"overdue_at = " HL_PG_TS("$9") " WHERE id = $1::uuid";

#define DL_INSERT_FIELDS 11
/* Field c of a deadline in SQL_DL_INSERT's order, as text (arena memory; NULL when out of memory). */
static const char *deadline_field(hl_arena *a, const dispatch_deadline *x, int c)
{
	switch (c) {
	case 0: return x->id;
	case 1: return x->case_id;
	case 10: return x->clock ? "t" : "f";
	default: break;
	}
	const int64_t v[] = {[2] = x->kind,	    [3] = x->started_us,	 [4] = x->allowed_ms,
			     [5] = x->extension_ms, [6] = x->warning_permille, [7] = x->due_us,
			     [8] = x->warn_us,	    [9] = x->generation};
	return hl_arena_printf(a, "%lld", (long long)v[c]);
}

/* Written with the COMMIT (hl_pg_rows_at_commit: one statement per transaction or held batch);
 * every read or update of deadlines here sends the waiting rows first. */
hl_status store_deadlines_insert(hl_pg *pg, hl_arena *a, const char *tenant, dispatch_deadline *const *d, int n,
				 hl_error *err)
{
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, a, 1 + DL_INSERT_FIELDS);
	for (int i = 0; i < n; i++) {
		hl_pg_rows_text(&rows, tenant);
		for (int c = 0; c < DL_INSERT_FIELDS; c++) {
			const char *v = deadline_field(a, d[i], c);
			rows.failed |= !v;
			hl_pg_rows_text(&rows, v);
		}
	}
	return hl_pg_rows_at_commit(pg, SQL_DL_INSERT, &rows, err);
}

static hl_status read_deadline(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	dispatch_deadline *d = out;
	d->id = hl_pg_get(r, i, 0);
	d->case_id = hl_pg_get(r, i, 1);
	d->kind = (int)hl_pg_get_int(r, i, 2);
	d->warning_permille = (int)hl_pg_get_int(r, i, 3);
	d->generation = (int)hl_pg_get_int(r, i, 4);
	d->started_us = hl_pg_get_int(r, i, 5);
	d->allowed_ms = hl_pg_get_int(r, i, 6);
	d->extension_ms = hl_pg_get_int(r, i, 7);
	d->due_us = hl_pg_get_int(r, i, 8);
	d->warn_us = hl_pg_get_int(r, i, 9);
	d->met_us = hl_pg_get_int(r, i, 10);
	d->cancelled_us = hl_pg_get_int(r, i, 11);
	d->warned_us = hl_pg_get_int(r, i, 12);
	d->overdue_us = hl_pg_get_int(r, i, 13);
	d->clock = hl_pg_get_bool(r, i, 14);
	return HL_OK;
}

static hl_status deadline_rows(hl_pg *pg, hl_arena *a, const char *sql, const hl_pg_args *args,
			       dispatch_deadline ***out, int *n, hl_error *err)
{
	hl_status st = hl_pg_rows_send(pg, err); /* deadlines inserted in this transaction are read too */
	return st ? st : hl_pg_fetch(pg, a, sql, args, sizeof ***out, read_deadline, (void ***)out, n, err);
}

hl_status store_deadlines_open(hl_pg *pg, hl_arena *a, const char *case_id, int kind, dispatch_deadline ***out,
			       int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, case_id);
	hl_pg_arg_int(&args, a, kind);
	return deadline_rows(pg, a, SQL_DL_OPEN, &args, out, n, err);
}

hl_status store_deadlines_latest(hl_pg *pg, hl_arena *a, const char *case_id, dispatch_deadline ***out, int *n,
				 hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, case_id);
	return deadline_rows(pg, a, SQL_DL_LATEST, &args, out, n, err);
}

hl_status store_deadline_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, dispatch_deadline **out,
			     hl_error *err)
{
	*out = NULL;
	if (!hl_uuid_valid(id))
		return HL_OK;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, id);
	dispatch_deadline **list;
	int n;
	hl_status st = deadline_rows(pg, a, for_update ? SQL_DL_GET_LOCK : SQL_DL_GET, &args, &list, &n, err);
	if (st == HL_OK && n == 1)
		*out = list[0];
	return st;
}

hl_status store_deadline_update(hl_pg *pg, hl_arena *a, const dispatch_deadline *d, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, d->id);
	hl_pg_arg_int(&args, a, d->extension_ms);
	hl_pg_arg_int(&args, a, d->due_us);
	hl_pg_arg_int(&args, a, d->warn_us);
	hl_pg_arg_int(&args, a, d->generation);
	hl_pg_arg_int(&args, a, d->met_us);
	hl_pg_arg_int(&args, a, d->cancelled_us);
	hl_pg_arg_int(&args, a, d->warned_us);
	hl_pg_arg_int(&args, a, d->overdue_us);
	hl_status st = hl_pg_rows_send(pg, err); /* the row may be one inserted in this transaction */
	return st ? st : hl_pg_exec_deferred(pg, a, SQL_DL_UPDATE, &args, err); /* its outcome comes with the next read or the commit */
}

/* ---- pauses ------------------------------------------------------------ */

static const char SQL_PAUSES[] =
	"SELECT " HL_PG_US("started_at") ", " HL_PG_US("ended_at") " FROM pauses WHERE case_id = $1::uuid ORDER BY seq";
static const char SQL_PAUSE_BEGIN[] =
	"INSERT INTO pauses (tenant_id, case_id, seq, started_at, reason, actor) "
	"SELECT $1, $2::uuid, COALESCE(max(seq), 0) + 1, clock_timestamp(), $3, $4 FROM pauses WHERE case_id = $2::uuid";
static const char SQL_PAUSE_END[] =
	"UPDATE pauses SET ended_at = clock_timestamp() WHERE case_id = $1::uuid AND ended_at IS NULL";

hl_status store_pauses(hl_pg *pg, hl_arena *a, const char *case_id, int64_t **from, int64_t **to, int *n,
		       hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, case_id);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_PAUSES, &args, &r, err);
	if (st)
		return st;
	*n = PQntuples(r);
	*from = hl_arena_alloc(a, (size_t)(*n ? *n : 1) * sizeof **from);
	*to = hl_arena_alloc(a, (size_t)(*n ? *n : 1) * sizeof **to);
	if (!*from || !*to)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < *n; i++) {
		(*from)[i] = hl_pg_get_int(r, i, 0);
		(*to)[i] = hl_pg_get_int(r, i, 1);
	}
	return HL_OK;
}

hl_status store_pause_begin(hl_pg *pg, hl_arena *a, const char *tenant, const char *case_id, const char *reason,
			    const char *actor, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, case_id);
	hl_pg_arg_text(&args, reason);
	hl_pg_arg_text(&args, actor);
	return hl_pg_exec(pg, a, SQL_PAUSE_BEGIN, &args, NULL, err);
}

hl_status store_pause_end(hl_pg *pg, hl_arena *a, const char *case_id, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, case_id);
	return hl_pg_exec(pg, a, SQL_PAUSE_END, &args, NULL, err);
}

/* ---- extensions ------------------------------------------------------------ */

#define EXT_COLS                                                                                                     \
	"id::text, case_id::text, COALESCE(request_id, ''), reason, requested_by, COALESCE(decided_by, ''), "          \
	"COALESCE(opinion, ''), deadline_kind, amount, unit, state, " HL_PG_US("created_at") ", " HL_PG_US("decided_at")
static const char SQL_EXT_INSERT[] =
	"INSERT INTO extensions (tenant_id, id, case_id, request_id, deadline_kind, amount, unit, reason, requested_by) "
	"VALUES ($1, $2::uuid, $3::uuid, NULLIF($4, ''), $5::int, $6::int, $7::int, $8, $9)";
static const char SQL_EXT_GET[] = "SELECT " EXT_COLS " FROM extensions WHERE id = $1::uuid";
static const char SQL_EXT_GET_LOCK[] = "SELECT " EXT_COLS " FROM extensions WHERE id = $1::uuid FOR UPDATE";
static const char SQL_EXT_BY_REQUEST[] = "SELECT " EXT_COLS " FROM extensions WHERE request_id = $1";
static const char SQL_EXT_DECIDE[] =
	"UPDATE extensions SET state = $2::int, decided_by = $3, opinion = $4, decided_at = now() WHERE id = $1::uuid";

hl_status store_extension_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_extension *x,
				 hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, x->id);
	hl_pg_arg_text(&args, x->case_id);
	hl_pg_arg_text(&args, x->request_id ? x->request_id : "");
	hl_pg_arg_int(&args, a, x->deadline_kind);
	hl_pg_arg_int(&args, a, x->amount);
	hl_pg_arg_int(&args, a, x->unit);
	hl_pg_arg_text(&args, x->reason);
	hl_pg_arg_text(&args, x->requested_by);
	return hl_pg_exec(pg, a, SQL_EXT_INSERT, &args, NULL, err);
}

hl_status store_extension_get(hl_pg *pg, hl_arena *a, const char *id, const char *request_id, bool for_update,
			      store_extension **out, hl_error *err)
{
	*out = NULL;
	if (id && !hl_uuid_valid(id))
		return HL_OK;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, id ? id : request_id);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, id ? (for_update ? SQL_EXT_GET_LOCK : SQL_EXT_GET) : SQL_EXT_BY_REQUEST, &args,
				  &r, err);
	if (st || PQntuples(r) == 0)
		return st;
	store_extension *x = hl_arena_alloc(a, sizeof *x);
	if (!x)
		return hl_fail(err, HL_NOMEM, "out of memory");
	x->id = hl_pg_get(r, 0, 0);
	x->case_id = hl_pg_get(r, 0, 1);
	x->request_id = hl_pg_get_opt(r, 0, 2);
	x->reason = hl_pg_get(r, 0, 3);
	x->requested_by = hl_pg_get(r, 0, 4);
	x->decided_by = hl_pg_get_opt(r, 0, 5);
	x->opinion = hl_pg_get_opt(r, 0, 6);
	x->deadline_kind = (int)hl_pg_get_int(r, 0, 7);
	x->amount = (int)hl_pg_get_int(r, 0, 8);
	x->unit = (int)hl_pg_get_int(r, 0, 9);
	x->state = (int)hl_pg_get_int(r, 0, 10);
	x->created_us = hl_pg_get_int(r, 0, 11);
	x->decided_us = hl_pg_get_int(r, 0, 12);
	*out = x;
	return HL_OK;
}

hl_status store_extension_decide(hl_pg *pg, hl_arena *a, const store_extension *x, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, x->id);
	hl_pg_arg_int(&args, a, x->state);
	hl_pg_arg_text(&args, x->decided_by);
	hl_pg_arg_text(&args, x->opinion ? x->opinion : "");
	return hl_pg_exec(pg, a, SQL_EXT_DECIDE, &args, NULL, err);
}

/* ---- notices ------------------------------------------------------------ */

static const char SQL_NOTICE_INSERT[] =
	"INSERT INTO notices (tenant_id, id, kind, case_id, deadline_id, deadline_kind, department_id, recipient_id, "
	"note, issued_by, deadline_generation) VALUES ($1, $2::uuid, $3::int, $4::uuid, NULLIF($5, '')::uuid, $6::int, "
	"$7, $8, $9, $10, $11::int) ON CONFLICT DO NOTHING";
static const char SQL_NOTICES[] =
	"SELECT n.id::text, n.case_id::text, COALESCE(n.deadline_id::text, ''), n.department_id, n.recipient_id, n.note, "
	"n.issued_by, c.ticket_no, n.kind, n.deadline_kind, " HL_PG_US("n.created_at") " FROM notices n JOIN cases c "
	"ON c.tenant_id = n.tenant_id AND c.id = n.case_id WHERE ($1::text IS NULL OR n.department_id = $1) "
	"AND ($2::text IS NULL OR n.case_id = $2::uuid) AND ($3::text IS NULL OR n.recipient_id = $3) "
	"AND ($4::text IS NULL OR n.id < $4::uuid) ORDER BY n.id DESC LIMIT $5::int";

hl_status store_notice_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_notice *x, bool *inserted,
			      hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, x->id);
	hl_pg_arg_int(&args, a, x->kind);
	hl_pg_arg_text(&args, x->case_id);
	hl_pg_arg_text(&args, x->deadline_id ? x->deadline_id : "");
	hl_pg_arg_int(&args, a, x->deadline_kind);
	hl_pg_arg_text(&args, x->department_id ? x->department_id : "");
	hl_pg_arg_text(&args, x->recipient_id);
	hl_pg_arg_text(&args, x->note ? x->note : "");
	hl_pg_arg_text(&args, x->issued_by);
	hl_pg_arg_int(&args, a, x->deadline_generation);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_NOTICE_INSERT, &args, &r, err);
	*inserted = st == HL_OK && strcmp(PQcmdTuples(r), "1") == 0;
	return st;
}


static hl_status read_notice(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	store_notice *x = out;
	x->id = hl_pg_get(r, i, 0);
	x->case_id = hl_pg_get(r, i, 1);
	x->deadline_id = hl_pg_get_opt(r, i, 2);
	x->department_id = hl_pg_get(r, i, 3);
	x->recipient_id = hl_pg_get(r, i, 4);
	x->note = hl_pg_get(r, i, 5);
	x->issued_by = hl_pg_get(r, i, 6);
	x->ticket_no = hl_pg_get(r, i, 7);
	x->kind = (int)hl_pg_get_int(r, i, 8);
	x->deadline_kind = (int)hl_pg_get_int(r, i, 9);
	x->created_us = hl_pg_get_int(r, i, 10);
	return HL_OK;
}

hl_status store_notices(hl_pg *pg, hl_arena *a, const store_notice_filter *f, store_notice ***out, int *n,
			hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, f->department_id);
	hl_pg_arg_text(&args, f->case_id);
	hl_pg_arg_text(&args, f->recipient_id);
	hl_pg_arg_text(&args, f->after_id);
	hl_pg_arg_int(&args, a, f->limit);
	return hl_pg_fetch(pg, a, SQL_NOTICES, &args, sizeof ***out, read_notice, (void ***)out, n, err);
}
