/*
 * store.c - all SQL of the intake service (see store.h).
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#define TICKET_COLS                                                                                      \
	"tenant_id, id, ticket_no, request_id, status, status_version, channel, category, priority, "    \
	"confidentiality, topic, description, area, answer, registered_by, anonymous, repeat_caller, "  \
	"phone_index, key_period, wrapped_key, caller_name, caller_phone, caller_id_number, "           \
	"caller_address, caller_email, query_code, " HL_PG_US("created_at") ", "                \
	HL_PG_US("updated_at") ", request_digest, implicated_departments"

/* intake_may_see (rpc_common.c) as SQL; $v, $v+1, $v+2: the viewer's actor, dept, clearance. */
#define VISIBLE_TO_VIEWER(a, d, k)                                                                      \
	" AND NOT (" d "::text IS NOT NULL AND " d "::text = ANY (implicated_departments))"            \
	" AND (confidentiality <= " k "::int OR registered_by = " a "::text)"

const char store_missing_chain_sql[] =
	"SELECT t.id::text FROM tickets t WHERE t.tenant_id = current_tenant() AND NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = t.tenant_id AND h.subject_id = t.id::text) LIMIT 1";

/* The numbers and the time of $2 tickets registered together, and which of them (0-based) come from a
 * phone seen before: k.ix a phone's index under a live period (k.period NULL), or under the former
 * tenant-wide key on rows of period k.period (made before migration 004; see PHONE_MATCH).
 *
 * Its plan is made once per connection (SQL_GENERIC_PLANS): a custom plan, which PostgreSQL would
 * otherwise make for every call because the arrays' lengths make it look cheaper, cost more than
 * the statement itself (0.3 ms of planning for 0.08 ms of work, once per group of tickets).  The
 * look-up of a phone is a subquery with LIMIT 1, which no plan can turn into a join reading the
 * tenant's tickets: it probes tickets_phone once per key.  That one plan serves every tenant that
 * comes to the connection, whichever tenant's call made it: tenant_id carries no statistics
 * (migrate.c), so no tenant looks like one row and a scan of its tickets never looks as cheap as
 * the probe (except in a table of a few hundred rows, where it is). */
static const char SQL_GENERIC_PLANS[] = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)";
static const char SQL_OPEN[] =
	"SELECT " HL_PG_US("now()") ", to_char(now() AT TIME ZONE $1, 'YYYYMMDD'), "
	"ARRAY(SELECT lpad(n::text, greatest(7, length(n::text)), '0') FROM "
	"(SELECT nextval('ticket_no_seq') AS n FROM generate_series(1, $2::int)) s), "
	"ARRAY(SELECT DISTINCT k.o FROM unnest($3::text[], $4::text[], $5::int[]) AS k(ix, period, o) "
	"WHERE (SELECT true FROM tickets WHERE tenant_id = current_tenant() AND phone_index = k.ix "
	"AND (k.period IS NULL OR key_period = k.period) LIMIT 1))";

/* Tickets and their registration records, any number in one statement (hl_pg_rows). No clear masks:
 * they are derived at read time. */
static const char SQL_INSERT[] =
	"WITH u AS (SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::smallint[], "
	"$6::smallint[], $7::smallint[], $8::smallint[], $9::smallint[], $10::text[], $11::text[], $12::text[], "
	"$13::text[], $14::text[], $15::bool[], $16::bool[], $17::text[], $18::text[], $19::bytea[], $20::bytea[], "
	"$21::bytea[], $22::bytea[], $23::bytea[], $24::bytea[], $25::bytea[], $26::text[], $27::text[]) "
	"AS u(tenant_id, id, ticket_no, request_id, status, channel, category, priority, confidentiality, topic, "
	"description, area, answer, registered_by, anonymous, repeat_caller, phone_index, key_period, wrapped_key, "
	"caller_name, caller_phone, caller_id_number, caller_address, caller_email, query_code, request_digest, "
	"implicated)), "
	"t AS (INSERT INTO tickets (tenant_id, id, ticket_no, request_id, status, status_version, channel, category, "
	"priority, confidentiality, topic, description, area, answer, registered_by, anonymous, repeat_caller, "
	"phone_index, key_period, wrapped_key, caller_name, caller_phone, caller_id_number, caller_address, "
	"caller_email, query_code, request_digest, implicated_departments) SELECT tenant_id, id, ticket_no, "
	"request_id, status, 1, channel, category, priority, confidentiality, topic, description, area, answer, "
	"registered_by, anonymous, repeat_caller, phone_index, key_period, wrapped_key, caller_name, caller_phone, "
	"caller_id_number, caller_address, caller_email, query_code, request_digest, implicated::text[] FROM u) "
	"INSERT INTO registrations (tenant_id, ticket_id, channel, category, priority, confidentiality, topic, "
	"description, area, anonymous, answer, registered_by, caller_name, caller_phone, caller_id_number, "
	"caller_address, caller_email) SELECT tenant_id, id, channel, category, priority, confidentiality, topic, "
	"description, area, anonymous, answer, registered_by, caller_name, caller_phone, caller_id_number, "
	"caller_address, caller_email FROM u";
enum { INSERT_COLUMNS = 27 };
/* The unique key a repeated request_id runs into. */
static const char REQUEST_KEY[] = "tickets_request";

static const char SQL_BY_ID[] = "SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = current_tenant() AND id = $1::uuid";
static const char SQL_BY_ID_LOCK[] =
	"SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = current_tenant() AND id = $1::uuid FOR UPDATE";
static const char SQL_BY_NO[] =
	"SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = current_tenant() AND ticket_no = $1";
static const char SQL_BY_REQUEST[] =
	"SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = current_tenant() AND request_id = $1";
/* A phone's indexes under each live period ($1), or its index under the former tenant-wide key ($2)
 * on rows of a live period ($3) indexed before migration 004 (no "v2:" prefix). */
#define PHONE_MATCH                                                                                      \
	" AND (phone_index = ANY ($1::text[]) OR (phone_index = $2 AND key_period = ANY ($3::text[])))"
static const char SQL_BY_PHONE[] =
	"SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = current_tenant()" PHONE_MATCH
	VISIBLE_TO_VIEWER("$5", "$6", "$7") " ORDER BY created_at DESC, id DESC LIMIT $4";
/* The former tenant-wide indexes of a destroyed period would still match under that key. */
static const char SQL_PERIOD_DESTROYED[] =
	"UPDATE tickets SET phone_index = NULL WHERE tenant_id = current_tenant() AND key_period = $1 "
	"AND phone_index IS NOT NULL AND phone_index NOT LIKE 'v2:%'";

static const char SQL_LIST[] =
	"SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = current_tenant() "
	"AND ($1::smallint IS NULL OR status = $1) "
	"AND ($2::smallint IS NULL OR category = $2) "
	"AND ($3::smallint IS NULL OR channel = $3) "
	"AND ($4::text IS NULL OR area = $4) "
	"AND ($5::text IS NULL OR topic ILIKE $5 OR description ILIKE $5) "
	"AND ($6::text IS NULL OR registered_by = $6) "
	"AND ($7::bigint IS NULL OR created_at >= to_timestamp($7::double precision / 1000000)) "
	"AND ($8::bigint IS NULL OR created_at < to_timestamp($8::double precision / 1000000)) "
	"AND ($9::bigint IS NULL OR (created_at, id) < (to_timestamp($9::double precision / 1000000), $10::uuid)) "
	VISIBLE_TO_VIEWER("$12", "$13", "$14") " ORDER BY created_at DESC, id DESC LIMIT $11";

/* The ticket locked, changed when the version is newer, and returned as it was (its status and
 * version before, after its other columns): one statement; no row when nothing changed.  Both
 * scans name the key itself, so that no plan (a generic one made while the table looked empty,
 * say) walks the table to join them. */
static const char SQL_SET_STATUS[] =
	"UPDATE tickets SET status = $2, status_version = $3, updated_at = now() "
	"FROM (SELECT id AS o_id, status AS o_status, status_version AS o_version FROM tickets "
	"WHERE tenant_id = current_tenant() AND id = $1::uuid FOR UPDATE) o "
	"WHERE tenant_id = current_tenant() AND id = $1::uuid AND id = o.o_id AND status_version < $3 "
	"RETURNING " TICKET_COLS ", o.o_status, o.o_version";

static const char SQL_AMEND_INSERT[] =
	"INSERT INTO amendments (tenant_id, id, ticket_id, request_id, field, old_value, new_value, new_cipher, "
	"reason, author, request_digest, old_cipher) VALUES (current_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, "
	"$10, $11) "
	"RETURNING " HL_PG_US("created_at");
#define AMEND_COLS                                                                                       \
	"id, ticket_id, request_id, field, old_value, new_value, new_cipher, reason, author, "          \
	HL_PG_US("created_at") ", request_digest, old_cipher"
static const char SQL_AMEND_BY_REQUEST[] =
	"SELECT " AMEND_COLS " FROM amendments WHERE tenant_id = current_tenant() AND request_id = $1";
static const char SQL_AMENDMENTS[] =
	"SELECT " AMEND_COLS " FROM amendments WHERE tenant_id = current_tenant() AND ticket_id = $1::uuid "
	"ORDER BY created_at, id";

static const char SQL_NOTES_INSERT[] =
	"INSERT INTO public_notes (tenant_id, ticket_id, status, note) "
	"SELECT current_tenant(), * FROM unnest($1::uuid[], $2::smallint[], $3::text[])";
static const char SQL_NOTES[] =
	"SELECT status, note, " HL_PG_US("created_at") " FROM public_notes "
	"WHERE tenant_id = current_tenant() AND ticket_id = $1::uuid ORDER BY id";


/* One UPDATE per amendable field: the column names are part of the SQL text. Each statement
 * binds only the parameters of its kind (PostgreSQL refuses a bind with more parameters than the
 * prepared text names): $1 is always the ticket id. */
enum set_kind {
	SET_TEXT,   /* $2 text */
	SET_NUMBER, /* $2 enum number */
	SET_CIPHER, /* $2 ciphertext */
	SET_PHONE,  /* $2 ciphertext, $3 blind index */
};
#define SET_WHERE " updated_at = now() WHERE tenant_id = current_tenant() AND id = $1::uuid"
static const struct settable {
	const char *field;
	enum set_kind kind;
	const char *sql;
} settable[] = {
	{"topic", SET_TEXT, "UPDATE tickets SET topic = $2," SET_WHERE},
	{"description", SET_TEXT, "UPDATE tickets SET description = $2," SET_WHERE},
	{"area", SET_TEXT, "UPDATE tickets SET area = $2," SET_WHERE},
	{"category", SET_NUMBER, "UPDATE tickets SET category = $2::int," SET_WHERE},
	{"priority", SET_NUMBER, "UPDATE tickets SET priority = $2::int," SET_WHERE},
	{"confidentiality", SET_NUMBER, "UPDATE tickets SET confidentiality = $2::int," SET_WHERE},
	{"caller.name", SET_CIPHER, "UPDATE tickets SET caller_name = $2," SET_WHERE},
	{"caller.phone", SET_PHONE, "UPDATE tickets SET caller_phone = $2, phone_index = $3," SET_WHERE},
	{"caller.id_number", SET_CIPHER, "UPDATE tickets SET caller_id_number = $2," SET_WHERE},
	{"caller.address", SET_CIPHER, "UPDATE tickets SET caller_address = $2," SET_WHERE},
	{"caller.email", SET_CIPHER, "UPDATE tickets SET caller_email = $2," SET_WHERE},
};
#undef SET_WHERE

static hl_status blob(const PGresult *r, int row, int col, hl_arena *a, intake_blob *out)
{
	uint8_t *p;
	size_t n;
	hl_status st = hl_pg_get_bytes(r, row, col, a, &p, &n);
	out->p = p;
	out->n = n;
	return st;
}

static hl_status read_ticket(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	intake_ticket *t = out;
	t->tenant = hl_pg_get_text(r, i, 0);
	t->id = hl_pg_get_text(r, i, 1);
	t->ticket_no = hl_pg_get_text(r, i, 2);
	t->request_id = hl_pg_get(r, i, 3);
	t->status = (int)hl_pg_get_int(r, i, 4);
	t->status_version = hl_pg_get_int(r, i, 5);
	t->channel = (int)hl_pg_get_int(r, i, 6);
	t->category = (int)hl_pg_get_int(r, i, 7);
	t->priority = (int)hl_pg_get_int(r, i, 8);
	t->confidentiality = (int)hl_pg_get_int(r, i, 9);
	t->topic = hl_pg_get_text(r, i, 10);
	t->description = hl_pg_get_text(r, i, 11);
	t->area = hl_pg_get_text(r, i, 12);
	t->answer = hl_pg_get_text(r, i, 13);
	t->registered_by = hl_pg_get_text(r, i, 14);
	t->anonymous = hl_pg_get_bool(r, i, 15);
	t->repeat_caller = hl_pg_get_bool(r, i, 16);
	t->phone_index = hl_pg_get(r, i, 17);
	t->key_period = hl_pg_get_text(r, i, 18);
	hl_status st = blob(r, i, 19, a, &t->wrapped_key);
	for (int f = 0; f < F_COUNT && !st; f++)
		st = blob(r, i, 20 + f, a, &t->caller[f]);
	for (int f = 0; f < F_COUNT; f++)
		t->masked[f] = NULL; /* derived at read time (intake_ticket_msg) */
	if (!st)
		st = blob(r, i, 25, a, &t->query_code);
	t->created_us = hl_pg_get_int(r, i, 26);
	t->updated_us = hl_pg_get_int(r, i, 27);
	t->request_digest = hl_pg_get(r, i, 28);
	const char **implicated = NULL;
	int n_implicated = 0;
	if (!st)
		st = hl_pg_get_array(r, i, 29, a, &implicated, &n_implicated);
	t->implicated = implicated;
	t->n_implicated = st ? 0 : (size_t)n_implicated;
	return st ? hl_fail(err, st, "ticket row unreadable") : HL_OK;
}

static hl_status one_ticket(hl_pg *pg, hl_arena *a, const char *sql, const char *key, intake_ticket **out,
			    hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(key);
	return hl_pg_fetch_one(pg, a, sql, &args, sizeof **out, read_ticket, (void **)out, err);
}

/* The rows of SQL_OPEN's phone keys: each ticket's indexes (no period), its legacy index per period. */
static void phone_rows(hl_pg_rows *rows, intake_ticket *const *t, int n)
{
	for (int i = 0; i < n; i++) {
		const intake_phone_keys *k = t[i]->phone_keys;
		for (size_t j = 0; k && j < k->n_indexes; j++) {
			hl_pg_rows_text(rows, k->indexes[j]);
			hl_pg_rows_text(rows, NULL);
			hl_pg_rows_int(rows, i);
		}
		for (size_t j = 0; k && j < k->n_periods; j++) {
			hl_pg_rows_text(rows, k->legacy);
			hl_pg_rows_text(rows, k->periods[j]);
			hl_pg_rows_int(rows, i);
		}
	}
}

hl_status store_tickets_open(hl_pg *pg, hl_arena *a, intake_ticket *const *t, int n, const char *time_zone,
			     hl_error *err)
{
	hl_pg_args args;
	hl_pg_rows keys;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, time_zone);
	hl_pg_arg_int(&args, a, n);
	hl_pg_rows_init(&keys, a, 3);
	phone_rows(&keys, t, n);
	PGresult *r;
	const char **nos;
	int *seen, n_nos, n_seen;
	hl_status st;
	if ((st = hl_pg_rows_args(&keys, &args, err)) ||
	    (st = hl_pg_exec_deferred(pg, a, SQL_GENERIC_PLANS, NULL, err)) ||
	    (st = hl_pg_exec(pg, a, SQL_OPEN, &args, &r, err)) ||
	    (st = hl_pg_get_text_array(r, 0, 2, a, &nos, &n_nos, err)) ||
	    (st = hl_pg_get_int_array(r, 0, 3, a, &seen, &n_seen, err)))
		return st;
	if (n_nos != n)
		return hl_fail(err, HL_INTERNAL, "ticket numbers: %d for %d tickets", n_nos, n);
	const char *day = hl_pg_get_text(r, 0, 1);
	for (int i = 0; i < n; i++) {
		if (!(t[i]->ticket_no = hl_arena_printf(a, "%s%s", day, nos[i])))
			return hl_fail(err, HL_NOMEM, "out of memory");
		t[i]->created_us = t[i]->updated_us = hl_pg_get_int(r, 0, 0);
		t[i]->repeat_caller = false;
	}
	for (int i = 0; i < n_seen; i++)
		if (seen[i] >= 0 && seen[i] < n)
			t[seen[i]]->repeat_caller = true;
	return HL_OK;
}

static void arg_blob(hl_pg_args *args, intake_blob b)
{
	hl_pg_arg_bytes(args, b.p, b.n);
}

static void rows_blob(hl_pg_rows *rows, intake_blob b)
{
	hl_pg_rows_bytes(rows, b.p, b.n);
}

static void ticket_row(hl_pg_rows *rows, hl_arena *a, const intake_ticket *t)
{
	hl_pg_rows_text(rows, t->tenant);
	hl_pg_rows_text(rows, t->id);
	hl_pg_rows_text(rows, t->ticket_no);
	hl_pg_rows_text(rows, t->request_id);
	hl_pg_rows_int(rows, t->status);
	hl_pg_rows_int(rows, t->channel);
	hl_pg_rows_int(rows, t->category);
	hl_pg_rows_int(rows, t->priority);
	hl_pg_rows_int(rows, t->confidentiality);
	hl_pg_rows_text(rows, t->topic);
	hl_pg_rows_text(rows, t->description);
	hl_pg_rows_text(rows, t->area);
	hl_pg_rows_text(rows, t->answer);
	hl_pg_rows_text(rows, t->registered_by);
	hl_pg_rows_bool(rows, t->anonymous);
	hl_pg_rows_bool(rows, t->repeat_caller);
	hl_pg_rows_text(rows, t->phone_index);
	hl_pg_rows_text(rows, t->key_period);
	rows_blob(rows, t->wrapped_key);
	for (int f = 0; f < F_COUNT; f++)
		rows_blob(rows, t->caller[f]);
	rows_blob(rows, t->query_code);
	hl_pg_rows_text(rows, t->request_digest);
	hl_pg_rows_text(rows, hl_pg_text_array(a, t->implicated, t->n_implicated));
}

hl_status store_tickets_insert(hl_pg *pg, hl_arena *a, intake_ticket *const *t, int n, hl_error *err)
{
	hl_pg_rows rows;
	hl_pg_args args;
	hl_pg_rows_init(&rows, a, INSERT_COLUMNS);
	hl_pg_args_init(&args);
	for (int i = 0; i < n; i++)
		ticket_row(&rows, a, t[i]);
	hl_status st = hl_pg_rows_args(&rows, &args, err);
	return st ? st : hl_pg_exec_deferred(pg, a, SQL_INSERT, &args, err);
}

bool store_request_taken(const hl_pg *pg)
{
	return strcmp(hl_pg_constraint(pg), REQUEST_KEY) == 0;
}

hl_status store_ticket_get(hl_pg *pg, hl_arena *a, const char *id, const char *ticket_no, bool for_update,
			   intake_ticket **out, hl_error *err)
{
	if (ticket_no)
		return one_ticket(pg, a, SQL_BY_NO, ticket_no, out, err);
	return one_ticket(pg, a, for_update ? SQL_BY_ID_LOCK : SQL_BY_ID, id, out, err);
}

hl_status store_ticket_by_request(hl_pg *pg, hl_arena *a, const char *request_id, intake_ticket **out,
				  hl_error *err)
{
	return one_ticket(pg, a, SQL_BY_REQUEST, request_id, out, err);
}

/* The three parameters of PHONE_MATCH. */
static void arg_phone(hl_pg_args *args, hl_arena *a, const intake_phone_keys *k)
{
	hl_pg_arg_text(args, hl_pg_text_array(a, k->indexes, k->n_indexes));
	hl_pg_arg_text(args, k->legacy);
	hl_pg_arg_text(args, hl_pg_text_array(a, k->periods, k->n_periods));
}

static void arg_opt_int(hl_pg_args *args, hl_arena *a, long long v)
{
	if (v)
		hl_pg_arg_int(args, a, v);
	else
		hl_pg_arg_text(args, NULL);
}

/* The three parameters of VISIBLE_TO_VIEWER. */
static void arg_viewer(hl_pg_args *args, hl_arena *a, const intake_viewer *v)
{
	hl_pg_arg_text(args, v->actor);
	hl_pg_arg_text(args, v->dept);
	hl_pg_arg_int(args, a, v->clearance);
}

/* ILIKE pattern matching s literally anywhere. */
static char *contains_pattern(hl_arena *a, const char *s)
{
	size_t n = strlen(s);
	char *p = hl_arena_alloc(a, 2 * n + 3);
	if (!p)
		return NULL;
	size_t j = 0;
	p[j++] = '%';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
			p[j++] = '\\';
		p[j++] = s[i];
	}
	p[j++] = '%';
	p[j] = '\0';
	return p;
}

hl_status store_ticket_list(hl_pg *pg, hl_arena *a, const store_list_filter *f, intake_ticket ***out, int *n,
			    hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	arg_opt_int(&args, a, f->status);
	arg_opt_int(&args, a, f->category);
	arg_opt_int(&args, a, f->channel);
	hl_pg_arg_text(&args, f->area);
	hl_pg_arg_text(&args, f->keyword ? contains_pattern(a, f->keyword) : NULL);
	hl_pg_arg_text(&args, f->registered_by);
	arg_opt_int(&args, a, f->from_us);
	arg_opt_int(&args, a, f->to_us);
	arg_opt_int(&args, a, f->after_us);
	hl_pg_arg_text(&args, f->after_us ? f->after_id : NULL);
	hl_pg_arg_int(&args, a, f->limit);
	arg_viewer(&args, a, f->viewer);
	return hl_pg_fetch(pg, a, SQL_LIST, &args, sizeof ***out, read_ticket, (void ***)out, n, err);
}

hl_status store_ticket_by_phone(hl_pg *pg, hl_arena *a, const intake_phone_keys *k, const intake_viewer *v,
				int limit, intake_ticket ***out, int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	arg_phone(&args, a, k);
	hl_pg_arg_int(&args, a, limit);
	arg_viewer(&args, a, v);
	return hl_pg_fetch(pg, a, SQL_BY_PHONE, &args, sizeof ***out, read_ticket, (void ***)out, n, err);
}

hl_status store_ticket_set_field(hl_pg *pg, hl_arena *a, const char *id, const char *field, const char *txt,
				 int number, intake_blob cipher, const char *phone_index, hl_error *err)
{
	const struct settable *set = NULL;
	for (size_t i = 0; i < sizeof settable / sizeof settable[0]; i++)
		if (strcmp(settable[i].field, field) == 0)
			set = &settable[i];
	if (!set)
		return hl_fail(err, HL_INVALID, "field: %s cannot be amended", field);
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, id);
	switch (set->kind) {
	case SET_TEXT:
		hl_pg_arg_text(&args, txt ? txt : "");
		break;
	case SET_NUMBER:
		hl_pg_arg_int(&args, a, number);
		break;
	case SET_CIPHER:
	case SET_PHONE:
		arg_blob(&args, cipher);
		if (set->kind == SET_PHONE)
			hl_pg_arg_text(&args, phone_index);
		break;
	}
	return hl_pg_exec(pg, a, set->sql, &args, NULL, err);
}

static const char SQL_LOCK_TICKETS[] =
	"SELECT 1 FROM tickets WHERE tenant_id = current_tenant() AND id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE";

hl_status store_tickets_lock(hl_pg *pg, hl_arena *a, const char *const *ids, int n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text_array(&args, a, ids, n);
	return hl_pg_exec_deferred(pg, a, SQL_LOCK_TICKETS, &args, err); /* with the next read */
}

static hl_status read_ticket_before(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	intake_ticket *t = out;
	hl_status st = read_ticket(r, i, a, out, err);
	t->status = (int)hl_pg_get_int(r, i, 30);
	t->status_version = hl_pg_get_int(r, i, 31);
	return st;
}

/*
 * The status changes of a held batch, applied ahead with one statement
 * (store_tickets_set_status): the tickets are locked already, so the
 * former values read in the same statement are the ones it replaces.
 */
static const char SQL_SET_STATUSES[] =
	"UPDATE tickets SET status = u.u_status, status_version = u.u_version, updated_at = now() "
	"FROM unnest($1::uuid[], $2::smallint[], $3::bigint[]) WITH ORDINALITY AS u(u_id, u_status, u_version, u_i), "
	"(SELECT id AS o_id, status AS o_status, status_version AS o_version FROM tickets "
	"WHERE tenant_id = current_tenant() AND id = ANY ($1::uuid[])) o "
	"WHERE tenant_id = current_tenant() AND id = u.u_id AND o.o_id = u.u_id AND status_version < u.u_version "
	"RETURNING " TICKET_COLS ", o.o_status, o.o_version, u.u_i";

/* What a held batch's changes applied ahead left for its items (the slot of hl_pg_tx_memo). */
struct status_ahead {
	int n;
	const char **ids;
	int *status;
	int64_t *version;
	int *row;    /* the item's row of res, or -1: not applied */
	bool *taken; /* its item has asked for it */
	PGresult *res;
};
static const char status_ahead_owner = 0;

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* True when no ticket appears twice: each change then sees the ticket as it was before the batch. */
static bool distinct_ids(hl_arena *a, const char *const *ids, int n)
{
	const char **sorted = hl_arena_alloc(a, (size_t)n * sizeof *sorted);
	if (!sorted)
		return false;
	memcpy(sorted, ids, (size_t)n * sizeof *sorted);
	qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
	for (int i = 1; i < n; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			return false;
	return true;
}

static struct status_ahead *status_ahead_new(hl_arena *m, const char *const *ids, const int *status,
					     const int64_t *version, int n)
{
	struct status_ahead *s = hl_arena_alloc(m, sizeof *s);
	if (!s || !(s->ids = hl_arena_alloc(m, (size_t)n * sizeof *s->ids)) ||
	    !(s->status = hl_arena_alloc(m, (size_t)n * sizeof *s->status)) ||
	    !(s->version = hl_arena_alloc(m, (size_t)n * sizeof *s->version)) ||
	    !(s->row = hl_arena_alloc(m, (size_t)n * sizeof *s->row)) ||
	    !(s->taken = hl_arena_alloc(m, (size_t)n * sizeof *s->taken)))
		return NULL;
	s->n = n;
	for (int i = 0; i < n; i++) {
		if (!(s->ids[i] = hl_arena_strdup(m, ids[i])))
			return NULL;
		s->status[i] = status[i];
		s->version[i] = version[i];
		s->row[i] = -1;
	}
	return s;
}

hl_status store_tickets_set_status(hl_pg *pg, hl_arena *a, const char *const *ids, const int *status,
				   const int64_t *version, int n, hl_error *err)
{
	void **slot = hl_pg_held(pg) ? hl_pg_tx_memo(pg, &status_ahead_owner) : NULL;
	hl_arena *m = hl_pg_tx_mem(pg);
	if (!slot || !m || *slot || n < 1 || !distinct_ids(a, ids, n))
		return HL_OK; /* each change is applied by its own item */
	struct status_ahead *s = status_ahead_new(m, ids, status, version, n);
	if (!s)
		return HL_OK;
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, m, 3);
	for (int i = 0; i < n; i++) {
		hl_pg_rows_text(&rows, ids[i]);
		hl_pg_rows_int(&rows, status[i]);
		hl_pg_rows_int(&rows, version[i]);
	}
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_status st = hl_pg_rows_args(&rows, &args, err);
	if (st || (st = hl_pg_exec(pg, m, SQL_SET_STATUSES, &args, &s->res, err)))
		return st;
	for (int r = 0; r < PQntuples(s->res); r++) {
		long long i = hl_pg_get_int(s->res, r, 32) - 1;
		if (i >= 0 && i < n)
			s->row[i] = r;
	}
	*slot = s;
	return HL_OK;
}

/* The change applied ahead for this item (true: *before set from it), taken once. */
static bool status_taken_ahead(hl_pg *pg, hl_arena *a, const char *id, int status, int64_t version,
			       intake_ticket **before, hl_status *st, hl_error *err)
{
	void **slot = hl_pg_held(pg) ? hl_pg_tx_memo(pg, &status_ahead_owner) : NULL;
	struct status_ahead *s = slot ? *slot : NULL;
	for (int i = 0; s && i < s->n; i++) {
		if (s->taken[i] || s->status[i] != status || s->version[i] != version || strcmp(s->ids[i], id) != 0)
			continue;
		s->taken[i] = true;
		*before = NULL;
		*st = HL_OK;
		if (s->row[i] >= 0 && !(*before = hl_arena_alloc(a, sizeof **before)))
			*st = hl_fail(err, HL_NOMEM, "out of memory");
		else if (s->row[i] >= 0)
			*st = read_ticket_before(s->res, s->row[i], a, *before, err);
		return true;
	}
	return false;
}

hl_status store_ticket_set_status(hl_pg *pg, hl_arena *a, const char *id, int status, int64_t version,
				  intake_ticket **before, hl_error *err)
{
	hl_status st;
	if (status_taken_ahead(pg, a, id, status, version, before, &st, err))
		return st;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, id);
	hl_pg_arg_int(&args, a, status);
	hl_pg_arg_int(&args, a, version);
	return hl_pg_fetch_one(pg, a, SQL_SET_STATUS, &args, sizeof **before, read_ticket_before, (void **)before,
			       err);
}

hl_status store_amendment_insert(hl_pg *pg, hl_arena *a, store_amendment *am, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, am->id);
	hl_pg_arg_text(&args, am->ticket_id);
	hl_pg_arg_text(&args, am->request_id);
	hl_pg_arg_text(&args, am->field);
	hl_pg_arg_text(&args, am->old_value);
	hl_pg_arg_text(&args, am->new_value);
	arg_blob(&args, am->new_cipher);
	hl_pg_arg_text(&args, am->reason);
	hl_pg_arg_text(&args, am->author);
	hl_pg_arg_text(&args, am->request_digest);
	arg_blob(&args, am->old_cipher);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_AMEND_INSERT, &args, &r, err);
	if (st == HL_OK)
		am->created_us = hl_pg_get_int(r, 0, 0);
	return st;
}

static hl_status rows_amendments(const PGresult *r, hl_arena *a, store_amendment ***out, int *n)
{
	*n = PQntuples(r);
	*out = hl_arena_alloc(a, (size_t)(*n ? *n : 1) * sizeof **out);
	if (!*out)
		return HL_NOMEM;
	for (int i = 0; i < *n; i++) {
		store_amendment *m = hl_arena_alloc(a, sizeof *m);
		if (!m)
			return HL_NOMEM;
		m->id = hl_pg_get_text(r, i, 0);
		m->ticket_id = hl_pg_get_text(r, i, 1);
		m->request_id = hl_pg_get(r, i, 2);
		m->field = hl_pg_get_text(r, i, 3);
		m->old_value = hl_pg_get_text(r, i, 4);
		m->new_value = hl_pg_get_text(r, i, 5);
		if (blob(r, i, 6, a, &m->new_cipher))
			return HL_NOMEM;
		m->reason = hl_pg_get_text(r, i, 7);
		m->author = hl_pg_get_text(r, i, 8);
		m->created_us = hl_pg_get_int(r, i, 9);
		m->request_digest = hl_pg_get(r, i, 10);
		if (blob(r, i, 11, a, &m->old_cipher))
			return HL_NOMEM;
		(*out)[i] = m;
	}
	return HL_OK;
}

hl_status store_amendment_by_request(hl_pg *pg, hl_arena *a, const char *request_id, store_amendment **out,
				     hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, request_id);
	PGresult *r;
	*out = NULL;
	hl_status st = hl_pg_exec(pg, a, SQL_AMEND_BY_REQUEST, &args, &r, err);
	if (st || PQntuples(r) == 0)
		return st;
	store_amendment **list;
	int n;
	if (rows_amendments(r, a, &list, &n))
		return hl_fail(err, HL_NOMEM, "out of memory");
	*out = list[0];
	return HL_OK;
}

hl_status store_amendments(hl_pg *pg, hl_arena *a, const char *ticket_id, store_amendment ***out, int *n,
			   hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, ticket_id);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_AMENDMENTS, &args, &r, err);
	if (st)
		return st;
	return rows_amendments(r, a, out, n) ? hl_fail(err, HL_NOMEM, "out of memory") : HL_OK;
}

/* Public notes are written with the COMMIT (one statement per transaction or held batch);
 * store_notes sends them first. */
hl_status store_note_insert(hl_pg *pg, hl_arena *a, const char *ticket_id, int status, const char *note,
			    hl_error *err)
{
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, a, 3);
	hl_pg_rows_text(&rows, ticket_id);
	hl_pg_rows_int(&rows, status);
	hl_pg_rows_text(&rows, note);
	return hl_pg_rows_at_commit(pg, SQL_NOTES_INSERT, &rows, err);
}

hl_status store_first_notes(hl_pg *pg, hl_arena *a, intake_ticket *const *t, const char *const *notes, int n,
			    hl_error *err)
{
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, a, 3);
	for (int i = 0; i < n; i++) {
		hl_pg_rows_text(&rows, t[i]->id);
		hl_pg_rows_int(&rows, t[i]->status);
		hl_pg_rows_text(&rows, notes[i]);
	}
	return hl_pg_rows_at_commit(pg, SQL_NOTES_INSERT, &rows, err);
}

hl_status store_notes(hl_pg *pg, hl_arena *a, const char *ticket_id, store_note ***out, int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, ticket_id);
	PGresult *r;
	hl_status st = hl_pg_rows_send(pg, err);
	if (st || (st = hl_pg_exec(pg, a, SQL_NOTES, &args, &r, err)))
		return st;
	*n = PQntuples(r);
	*out = hl_arena_alloc(a, (size_t)(*n ? *n : 1) * sizeof **out);
	if (!*out)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < *n; i++) {
		store_note *note = hl_arena_alloc(a, sizeof *note);
		if (!note)
			return hl_fail(err, HL_NOMEM, "out of memory");
		note->status = (int)hl_pg_get_int(r, i, 0);
		note->note = hl_pg_get_text(r, i, 1);
		note->created_us = hl_pg_get_int(r, i, 2);
		(*out)[i] = note;
	}
	return HL_OK;
}

hl_status store_period_destroyed(hl_pg *pg, hl_arena *a, const char *period, long long *cleared, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, period);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_PERIOD_DESTROYED, &args, &r, err);
	*cleared = st == HL_OK ? strtoll(PQcmdTuples(r), NULL, 10) : 0;
	return st;
}
