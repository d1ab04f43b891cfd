/*
 * store.c - dispatch's SQL (see store.h).  Times cross the boundary as
 * integer microseconds since the epoch (US() out, TS() in; 0 is NULL), arrays
 * as text[] literals.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "hl/buf.h"
#include "hl/crypto.h"

#define US(x) HL_PG_US(x)
#define TS(p) HL_PG_TS(p)

const char store_missing_chain_sql[] =
	"SELECT id::text FROM cases c WHERE NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = c.tenant_id AND h.subject_id = c.id::text)";

/* ---- small helpers ------------------------------------------------------------ */

static hl_status get_array(const PGresult *r, int row, int col, hl_arena *a, const char ***out, int *n,
			   hl_error *err)
{
	hl_status st = hl_pg_get_array(r, row, col, a, out, n);
	return st ? hl_fail(err, st, "malformed array from the database") : HL_OK;
}

static void arg_array(hl_pg_args *args, hl_arena *a, const char *const *items, int n)
{
	hl_pg_arg_text(args, hl_pg_text_array(a, items, (size_t)n));
}

/* ---- tenant defaults ------------------------------------------------------------ */

static const char SQL_SET_TENANT[] = "SELECT set_config('hotline.tenant', $1, true)";

hl_status store_set_tenant(hl_pg *pg, hl_arena *a, const char *tenant, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	return hl_pg_exec(pg, a, SQL_SET_TENANT, &args, NULL, err);
}

static const char SQL_TENANT_CLAIM[] =
	"INSERT INTO tenant_setup (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING";

hl_status store_tenant_claim(hl_pg *pg, hl_arena *a, const char *tenant, bool *first, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_TENANT_CLAIM, &args, &r, err);
	*first = st == HL_OK && strcmp(PQcmdTuples(r), "1") == 0;
	return st;
}

/* ---- departments ------------------------------------------------------------ */

static const char SQL_DEPT_PUT[] =
	"INSERT INTO departments (tenant_id, id, name, parent_id, head_id, deputy_ids, active) "
	"VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6::text[], $7) "
	"ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, "
	"head_id = EXCLUDED.head_id, deputy_ids = EXCLUDED.deputy_ids, active = EXCLUDED.active, updated_at = now()";
#define DEPT_COLS "id, name, COALESCE(parent_id, ''), head_id, deputy_ids, active"
static const char SQL_DEPT_GET[] = "SELECT " DEPT_COLS " FROM departments WHERE id = $1";
static const char SQL_DEPTS[] = "SELECT " DEPT_COLS " FROM departments ORDER BY id";
static const char SQL_DEPTS_LED[] =
	"SELECT id FROM departments WHERE active AND (head_id = $1 OR $1 = ANY (deputy_ids)) ORDER BY id";

hl_status store_department_put(hl_pg *pg, hl_arena *a, const char *tenant, const dispatch_department *d,
			       hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, d->id);
	hl_pg_arg_text(&args, d->name);
	hl_pg_arg_text(&args, d->parent_id ? d->parent_id : "");
	hl_pg_arg_text(&args, d->head_id ? d->head_id : "");
	arg_array(&args, a, d->deputies, d->n_deputies);
	hl_pg_arg_bool(&args, d->active);
	return hl_pg_exec(pg, a, SQL_DEPT_PUT, &args, NULL, err);
}

static hl_status read_dept(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	dispatch_department *d = out;
	d->id = hl_pg_get(r, i, 0);
	d->name = hl_pg_get(r, i, 1);
	d->parent_id = hl_pg_get_opt(r, i, 2);
	d->head_id = hl_pg_get_opt(r, i, 3);
	d->active = hl_pg_get_bool(r, i, 5);
	return get_array(r, i, 4, a, &d->deputies, &d->n_deputies, err);
}

hl_status store_department_get(hl_pg *pg, hl_arena *a, const char *id, dispatch_department **out, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, SQL_DEPT_GET, &args, sizeof **out, read_dept, (void **)out, err);
}

hl_status store_departments(hl_pg *pg, hl_arena *a, dispatch_department ***out, int *n, hl_error *err)
{
	return hl_pg_fetch(pg, a, SQL_DEPTS, NULL, sizeof ***out, read_dept, (void ***)out, n, err);
}

hl_status store_departments_led(hl_pg *pg, hl_arena *a, const char *sub, const char ***ids, int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, sub);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_DEPTS_LED, &args, &r, err);
	if (st)
		return st;
	*n = PQntuples(r);
	if (!(*ids = hl_arena_alloc(a, (size_t)(*n ? *n : 1) * sizeof **ids)))
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < *n; i++)
		(*ids)[i] = hl_pg_get(r, i, 0);
	return HL_OK;
}

/* ---- staff ------------------------------------------------------------ */

static const char SQL_STAFF_PUT[] =
	"INSERT INTO staff (tenant_id, id, name, department_id, skills, active, supervisor) "
	"VALUES ($1, $2, $3, $4, $5::text[], $6, $7) "
	"ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name, department_id = EXCLUDED.department_id, "
	"skills = EXCLUDED.skills, active = EXCLUDED.active, supervisor = EXCLUDED.supervisor, updated_at = now()";
#define STAFF_COLS "id, name, department_id, skills, active, supervisor, open_load"
static const char SQL_STAFF_GET[] = "SELECT " STAFF_COLS " FROM staff WHERE id = $1";
static const char SQL_STAFF_LIST[] =
	"SELECT " STAFF_COLS " FROM staff WHERE ($1::text IS NULL OR department_id = $1) ORDER BY department_id, id";
static const char SQL_SUPERVISORS[] = "SELECT id FROM staff WHERE supervisor AND active ORDER BY id";
/* Handlers: not the department's head or deputies, who sign the results off (R10). */
#define PICK_ELIGIBLE                                                                                   \
	"FROM staff s WHERE department_id = $1 AND active AND ($2::text IS NULL OR $2 = ANY (skills)) " \
	"AND id <> COALESCE($3, '') AND NOT EXISTS (SELECT 1 FROM departments d WHERE d.id = $1 "       \
	"AND (d.head_id = s.id OR s.id = ANY (d.deputy_ids))) "
#define PICK_LEAST "SELECT id " PICK_ELIGIBLE "ORDER BY open_load, last_assigned_at, id LIMIT 1 "
static const char SQL_PICK_SKIP[] = PICK_LEAST "FOR UPDATE OF s SKIP LOCKED";
static const char SQL_PICK_WAIT[] = PICK_LEAST "FOR UPDATE OF s";
/*
 * Take the picked handler ($4) unless, on this statement's fresh snapshot, another eligible
 * one is less loaded and free to take (rows a rival's pick holds are skipped: their load is
 * about to change, and waiting for them would serialize every assignment).
 */
static const char SQL_TAKE_LEAST[] =
	"UPDATE staff SET open_load = open_load + 1, last_assigned_at = clock_timestamp() "
	"WHERE id = $4 AND department_id = $1 AND active AND NOT EXISTS (SELECT 1 " PICK_ELIGIBLE
	"AND s.open_load < staff.open_load LIMIT 1 FOR KEY SHARE OF s SKIP LOCKED)";
static const char SQL_TAKE[] =
	"UPDATE staff SET open_load = open_load + 1, last_assigned_at = clock_timestamp() "
	"WHERE id = $1 AND department_id = $2 AND active";
static const char SQL_RELEASE[] = "UPDATE staff SET open_load = GREATEST(open_load - 1, 0) WHERE id = $1";

hl_status store_staff_put(hl_pg *pg, hl_arena *a, const char *tenant, const dispatch_staff *s, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, s->id);
	hl_pg_arg_text(&args, s->name);
	hl_pg_arg_text(&args, s->department_id);
	arg_array(&args, a, s->skills, s->n_skills);
	hl_pg_arg_bool(&args, s->active);
	hl_pg_arg_bool(&args, s->supervisor);
	return hl_pg_exec(pg, a, SQL_STAFF_PUT, &args, NULL, err);
}

static hl_status read_staff(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	dispatch_staff *s = out;
	s->id = hl_pg_get(r, i, 0);
	s->name = hl_pg_get(r, i, 1);
	s->department_id = hl_pg_get(r, i, 2);
	s->active = hl_pg_get_bool(r, i, 4);
	s->supervisor = hl_pg_get_bool(r, i, 5);
	s->open_load = (int)hl_pg_get_int(r, i, 6);
	return get_array(r, i, 3, a, &s->skills, &s->n_skills, err);
}

hl_status store_staff_get(hl_pg *pg, hl_arena *a, const char *id, dispatch_staff **out, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, SQL_STAFF_GET, &args, sizeof **out, read_staff, (void **)out, err);
}

hl_status store_staff_list(hl_pg *pg, hl_arena *a, const char *dept, dispatch_staff ***out, int *n, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(dept);
	return hl_pg_fetch(pg, a, SQL_STAFF_LIST, &args, sizeof ***out, read_staff, (void ***)out, n, err);
}

hl_status store_supervisors(hl_pg *pg, hl_arena *a, const char ***ids, int *n, hl_error *err)
{
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_SUPERVISORS, NULL, &r, err);
	if (st)
		return st;
	*n = PQntuples(r);
	if (!(*ids = hl_arena_alloc(a, (size_t)(*n ? *n : 1) * sizeof **ids)))
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < *n; i++)
		(*ids)[i] = hl_pg_get(r, i, 0);
	return HL_OK;
}

hl_status store_take_handler(hl_pg *pg, hl_arena *a, const char *dept, const char *handler, bool *ok, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, handler);
	hl_pg_arg_text(&args, dept);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_TAKE, &args, &r, err);
	*ok = st == HL_OK && strcmp(PQcmdTuples(r), "1") == 0;
	return st;
}

/*
 * Take the least-loaded eligible handler. The pick's snapshot can predate a rival's
 * commit, so the take re-checks on a fresh one and a lost race picks again (bounded:
 * when the pick repeats, a rival still holds the lower row and this pick is fair).
 */
hl_status store_pick_handler(hl_pg *pg, hl_arena *a, const char *dept, const char *skill, const char *except,
			     const char **out, hl_error *err)
{
	*out = NULL;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, dept);
	hl_pg_arg_text(&args, skill && skill[0] ? skill : NULL);
	hl_pg_arg_text(&args, except);
	const char *prev = NULL;
	for (int tries = 0; tries < 4; tries++) {
		PGresult *r;
		hl_status st = hl_pg_exec(pg, a, SQL_PICK_SKIP, &args, &r, err);
		if (st == HL_OK && PQntuples(r) == 0)
			st = hl_pg_exec(pg, a, SQL_PICK_WAIT, &args, &r, err);
		if (st || PQntuples(r) == 0)
			return st;
		const char *id = hl_pg_get(r, 0, 0);
		bool ok;
		if (tries == 2 || (prev && strcmp(prev, id) == 0)) {
			st = store_take_handler(pg, a, dept, id, &ok, err);
		} else {
			hl_pg_args take = args;
			hl_pg_arg_text(&take, id);
			if ((st = hl_pg_exec(pg, a, SQL_TAKE_LEAST, &take, &r, err)) == HL_OK)
				ok = strcmp(PQcmdTuples(r), "1") == 0;
		}
		if (st || ok) {
			*out = st ? NULL : id;
			return st;
		}
		prev = id;
	}
	return HL_OK; /* none could be taken: the department's own queue */
}

hl_status store_release_handler(hl_pg *pg, hl_arena *a, const char *handler, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, handler);
	return hl_pg_exec(pg, a, SQL_RELEASE, &args, NULL, err);
}

/* ---- routing rules ------------------------------------------------------------ */

static const char SQL_RULE_PUT[] =
	"INSERT INTO routing_rules (tenant_id, id, name, position, categories, channels, topic_keywords, "
	"description_keywords, areas, target_department_id, required_skill, active) "
	"VALUES ($1, $2::uuid, $3, $4::int, $5::smallint[], $6::smallint[], $7::text[], $8::text[], $9::text[], $10, $11, "
	"$12) ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name, position = EXCLUDED.position, "
	"categories = EXCLUDED.categories, channels = EXCLUDED.channels, topic_keywords = EXCLUDED.topic_keywords, "
	"description_keywords = EXCLUDED.description_keywords, areas = EXCLUDED.areas, "
	"target_department_id = EXCLUDED.target_department_id, required_skill = EXCLUDED.required_skill, "
	"active = EXCLUDED.active, updated_at = now()";
static const char SQL_RULES[] =
	"SELECT id::text, name, position, categories, channels, topic_keywords, description_keywords, areas, "
	"target_department_id, required_skill, active FROM routing_rules WHERE (NOT $1::bool OR active) "
	"ORDER BY position, created_at, id";

hl_status store_rule_put(hl_pg *pg, hl_arena *a, const char *tenant, const dispatch_rule *r, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, r->id);
	hl_pg_arg_text(&args, r->name);
	hl_pg_arg_int(&args, a, r->position);
	hl_pg_arg_text(&args, hl_pg_int_array(a, r->categories, r->n_categories));
	hl_pg_arg_text(&args, hl_pg_int_array(a, r->channels, r->n_channels));
	arg_array(&args, a, r->topic_kw, r->n_topic_kw);
	arg_array(&args, a, r->desc_kw, r->n_desc_kw);
	arg_array(&args, a, r->areas, r->n_areas);
	hl_pg_arg_text(&args, r->target);
	hl_pg_arg_text(&args, r->skill ? r->skill : "");
	hl_pg_arg_bool(&args, r->active);
	return hl_pg_exec(pg, a, SQL_RULE_PUT, &args, NULL, err);
}

static hl_status read_rule(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	dispatch_rule *x = out;
	x->id = hl_pg_get(r, i, 0);
	x->name = hl_pg_get(r, i, 1);
	x->position = (int)hl_pg_get_int(r, i, 2);
	x->target = hl_pg_get(r, i, 8);
	x->skill = hl_pg_get_opt(r, i, 9);
	x->active = hl_pg_get_bool(r, i, 10);
	hl_status st;
	if ((st = hl_pg_get_int_array(r, i, 3, a, &x->categories, &x->n_categories, err)) ||
	    (st = hl_pg_get_int_array(r, i, 4, a, &x->channels, &x->n_channels, err)) ||
	    (st = get_array(r, i, 5, a, &x->topic_kw, &x->n_topic_kw, err)) ||
	    (st = get_array(r, i, 6, a, &x->desc_kw, &x->n_desc_kw, err)))
		return st;
	return get_array(r, i, 7, a, &x->areas, &x->n_areas, err);
}

hl_status store_rules(hl_pg *pg, hl_arena *a, bool active_only, dispatch_rule ***out, int *n, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_bool(&args, active_only);
	return hl_pg_fetch(pg, a, SQL_RULES, &args, sizeof ***out, read_rule, (void ***)out, n, err);
}

/* ---- SLA policies and calendars ------------------------------------------------------------ */

static const char SQL_SLA_PUT[] =
	"INSERT INTO sla_policies (tenant_id, category, priority, accept_amount, accept_unit, complete_amount, "
	"complete_unit, reply_amount, reply_unit, warning_permille) "
	"VALUES ($1, $2::int, $3::int, $4::int, $5::int, $6::int, $7::int, $8::int, $9::int, $10::int) "
	"ON CONFLICT (tenant_id, category, priority) DO UPDATE SET accept_amount = EXCLUDED.accept_amount, "
	"accept_unit = EXCLUDED.accept_unit, complete_amount = EXCLUDED.complete_amount, "
	"complete_unit = EXCLUDED.complete_unit, reply_amount = EXCLUDED.reply_amount, "
	"reply_unit = EXCLUDED.reply_unit, warning_permille = EXCLUDED.warning_permille, updated_at = now()";
/* The exact policy, else the category's general one, else the tenant's general complaint policy. */
static const char SQL_SLA_GET[] =
	"SELECT category, priority, accept_amount, accept_unit, complete_amount, complete_unit, reply_amount, "
	"reply_unit, warning_permille FROM sla_policies WHERE (category = $1::int AND priority IN ($2::int, 1)) "
	"OR (category = 2 AND priority = 1) "
	"ORDER BY (category = $1::int AND priority = $2::int) DESC, (category = $1::int) DESC LIMIT 1";
static const char SQL_CAL_PUT[] =
	"INSERT INTO calendars (tenant_id, spec) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE "
	"SET spec = EXCLUDED.spec, version = calendars.version + 1, updated_at = now()";
static const char SQL_CAL_GET[] = "SELECT spec FROM calendars";

hl_status store_sla_put(hl_pg *pg, hl_arena *a, const char *tenant, const dispatch_sla *s, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	const int v[] = {s->category,	     s->priority,     s->accept_amount, s->accept_unit, s->complete_amount,
			 s->complete_unit, s->reply_amount, s->reply_unit,    s->warning_permille};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		hl_pg_arg_int(&args, a, v[i]);
	return hl_pg_exec(pg, a, SQL_SLA_PUT, &args, NULL, err);
}

hl_status store_sla_get(hl_pg *pg, hl_arena *a, int category, int priority, dispatch_sla **out, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, category);
	hl_pg_arg_int(&args, a, priority);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_SLA_GET, &args, &r, err);
	*out = NULL;
	if (st || PQntuples(r) == 0)
		return st;
	dispatch_sla *s = hl_arena_alloc(a, sizeof *s);
	if (!s)
		return hl_fail(err, HL_NOMEM, "out of memory");
	int *f[] = {&s->category,      &s->priority,   &s->accept_amount, &s->accept_unit,	  &s->complete_amount,
		    &s->complete_unit, &s->reply_amount, &s->reply_unit,    &s->warning_permille};
	for (int i = 0; i < (int)(sizeof f / sizeof f[0]); i++)
		*f[i] = (int)hl_pg_get_int(r, 0, i);
	*out = s;
	return HL_OK;
}

hl_status store_calendar_put(hl_pg *pg, hl_arena *a, const char *tenant, const uint8_t *spec, size_t n,
			     hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_bytes(&args, spec, n);
	return hl_pg_exec(pg, a, SQL_CAL_PUT, &args, NULL, err);
}

hl_status store_calendar_get(hl_pg *pg, hl_arena *a, uint8_t **spec, size_t *n, hl_error *err)
{
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_CAL_GET, NULL, &r, err);
	*spec = NULL;
	*n = 0;
	if (st || PQntuples(r) == 0)
		return st;
	return hl_pg_get_bytes(r, 0, 0, a, spec, n);
}

/* ---- cases ------------------------------------------------------------ */

#define CASE_COLS                                                                                                    \
	"tenant_id, id::text, ticket_id::text, ticket_no, role, COALESCE(lead_case_id::text, ''), status, "           \
	"COALESCE(department_id, ''), COALESCE(handler_id, ''), basis_kind, COALESCE(basis_rule_id::text, ''), "       \
	"basis_reason, basis_return_reason, basis_actor, channel, category, priority, topic, description, area, "      \
	"registered_by, " US("registered_at") ", implicated, returned_by, " US("paused_at") ", return_count, "         \
	"transfer_count, reopen_count, COALESCE(result_text, ''), COALESCE(result_by, ''), " US("result_at") ", "     \
	"COALESCE(approved_by, ''), " US("approved_at") ", COALESCE(approved_digest, ''), fence, version, "            \
	US("created_at") ", " US("updated_at")

static const char SQL_CASE_INSERT[] =
	"INSERT INTO cases (tenant_id, id, ticket_id, ticket_no, role, lead_case_id, status, department_id, "
	"handler_id, basis_kind, basis_rule_id, basis_reason, basis_return_reason, basis_actor, channel, category, "
	"priority, topic, description, area, registered_by, registered_at, implicated) VALUES ($1, $2::uuid, "
	"$3::uuid, $4, $5::int, NULLIF($6, '')::uuid, $7::int, NULLIF($8, ''), NULLIF($9, ''), $10::int, "
	"NULLIF($11, '')::uuid, $12, $13::int, $14, $15::int, $16::int, $17::int, $18, $19, $20, $21, " TS("$22")
	", $23::text[])";
static const char SQL_CASE_GET[] = "SELECT " CASE_COLS " FROM cases WHERE id = $1::uuid";
static const char SQL_CASE_GET_LOCK[] = "SELECT " CASE_COLS " FROM cases WHERE id = $1::uuid FOR UPDATE";
static const char SQL_CASE_BY_TICKET[] = "SELECT " CASE_COLS " FROM cases WHERE ticket_id = $1::uuid AND role = 1";
static const char SQL_CASE_BY_TICKET_LOCK[] =
	"SELECT " CASE_COLS " FROM cases WHERE ticket_id = $1::uuid AND role = 1 FOR UPDATE";
static const char SQL_CASE_UPDATE[] =
	"UPDATE cases SET status = $2::int, department_id = NULLIF($3, ''), handler_id = NULLIF($4, ''), "
	"basis_kind = $5::int, basis_rule_id = NULLIF($6, '')::uuid, basis_reason = $7, basis_return_reason = $8::int, "
	"basis_actor = $9, returned_by = $10::text[], paused_at = " TS("$11") ", return_count = $12::int, "
	"transfer_count = $13::int, reopen_count = $14::int, result_text = NULLIF($15, ''), result_by = NULLIF($16, ''), "
	"result_at = " TS("$17") ", approved_by = NULLIF($18, ''), approved_at = " TS("$19") ", "
	"approved_digest = NULLIF($20, ''), fence = GREATEST(fence, $21::bigint), version = version + 1, "
	"updated_at = now() WHERE id = $1::uuid AND fence <= $21::bigint RETURNING version, " US("updated_at");
static const char SQL_CASES[] =
	"SELECT " CASE_COLS " FROM cases c WHERE ($1::text IS NULL OR department_id = $1) "
	"AND ($2::text IS NULL OR handler_id = $2) AND ($3::int = 0 OR status = $3::int) "
	"AND ($4::text IS NULL OR ticket_id = $4::uuid) AND ($5::text IS NULL OR id > $5::uuid) "
	"AND (NOT $6::bool OR EXISTS (SELECT 1 FROM deadlines d WHERE d.tenant_id = c.tenant_id AND d.case_id = c.id "
	"AND d.met_at IS NULL AND d.cancelled_at IS NULL AND d.overdue_at IS NOT NULL)) ORDER BY id LIMIT $7::int";

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
	arg_array(&args, a, k->implicated, k->n_implicated);
	return hl_pg_exec(pg, a, SQL_CASE_INSERT, &args, NULL, err);
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
	hl_status st = get_array(r, i, 22, a, &k->implicated, &k->n_implicated, err);
	return st ? st : get_array(r, i, 23, a, &k->returned_by, &k->n_returned_by, err);
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
	arg_array(&args, a, k->returned_by, k->n_returned_by);
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
	return hl_pg_fetch(pg, a, SQL_CASES, &args, sizeof ***out, read_case, (void ***)out, n, err);
}

/* ---- steps ------------------------------------------------------------ */

static const char SQL_STEP_ADD[] =
	"INSERT INTO case_steps (tenant_id, case_id, seq, action, actor, department_id, note) "
	"SELECT $1, $2::uuid, COALESCE(max(seq), 0) + 1, $3, $4, $5, $6 FROM case_steps WHERE case_id = $2::uuid";
static const char SQL_STEPS[] =
	"SELECT seq, action, actor, department_id, note, " US("at") " FROM case_steps WHERE case_id = $1::uuid "
	"ORDER BY seq";

hl_status store_step_add(hl_pg *pg, hl_arena *a, const char *tenant, const char *case_id, const char *action,
			 const char *actor, const char *dept, const char *note, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, case_id);
	hl_pg_arg_text(&args, action);
	hl_pg_arg_text(&args, actor);
	hl_pg_arg_text(&args, dept ? dept : "");
	hl_pg_arg_text(&args, note ? note : "");
	return hl_pg_exec(pg, a, SQL_STEP_ADD, &args, NULL, err);
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
	return hl_pg_fetch(pg, a, SQL_STEPS, &args, sizeof ***out, read_step, (void ***)out, n, err);
}

/* ---- deadlines ------------------------------------------------------------ */

#define DL_COLS                                                                                                      \
	"id::text, case_id::text, kind, warning_permille, generation, " US("started_at") ", allowed_ms, "             \
	"extension_ms, " US("due_at") ", " US("warn_at") ", " US("met_at") ", " US("cancelled_at") ", "              \
	US("warned_at") ", " US("overdue_at") ", clock"

static const char SQL_DL_INSERT[] =
	"INSERT INTO deadlines (tenant_id, id, case_id, kind, started_at, allowed_ms, extension_ms, warning_permille, "
	"due_at, warn_at, generation, clock) SELECT $1, id, case_id, kind, " TS("started") ", allowed, ext, permille, "
	TS("due") ", " TS("warn") ", gen, clock FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::bigint[], "
	"$6::bigint[], $7::bigint[], $8::int[], $9::bigint[], $10::bigint[], $11::int[], $12::bool[]) "
	"AS d(id, case_id, kind, started, allowed, ext, permille, due, warn, gen, clock)";
static const char SQL_DL_OPEN[] =
	"SELECT " DL_COLS " FROM deadlines WHERE case_id = $1::uuid AND ($2::int = 0 OR kind = $2::int) "
	"AND met_at IS NULL AND cancelled_at IS NULL ORDER BY kind FOR UPDATE";
static const char SQL_DL_LATEST[] =
	"SELECT DISTINCT ON (kind) " DL_COLS " FROM deadlines WHERE case_id = $1::uuid ORDER BY kind, started_at DESC";
static const char SQL_DL_GET[] = "SELECT " DL_COLS " FROM deadlines WHERE id = $1::uuid";
static const char SQL_DL_GET_LOCK[] = "SELECT " DL_COLS " FROM deadlines WHERE id = $1::uuid FOR UPDATE";
static const char SQL_DL_UPDATE[] =
	"UPDATE deadlines SET extension_ms = $2::bigint, due_at = " TS("$3") ", warn_at = " TS("$4") ", "
	"generation = $5::int, met_at = " TS("$6") ", cancelled_at = " TS("$7") ", warned_at = " TS("$8") ", "
	"overdue_at = " TS("$9") " WHERE id = $1::uuid";

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

hl_status store_deadlines_insert(hl_pg *pg, hl_arena *a, const char *tenant, dispatch_deadline *const *d, int n,
				 hl_error *err)
{
	if (n < 1 || n > 8)
		return hl_fail(err, HL_INTERNAL, "deadlines insert of %d rows", n);
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	for (int c = 0; c < DL_INSERT_FIELDS; c++) { /* one array per column, one element per deadline */
		const char *v[8];
		for (int i = 0; i < n; i++)
			if (!(v[i] = deadline_field(a, d[i], c)))
				return hl_fail(err, HL_NOMEM, "out of memory");
		const char *col = hl_pg_text_array(a, v, (size_t)n);
		if (!col)
			return hl_fail(err, HL_NOMEM, "out of memory");
		hl_pg_arg_text(&args, col);
	}
	return hl_pg_exec(pg, a, SQL_DL_INSERT, &args, NULL, err);
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
	return hl_pg_fetch(pg, a, sql, args, sizeof ***out, read_deadline, (void ***)out, n, err);
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
	return hl_pg_exec(pg, a, SQL_DL_UPDATE, &args, NULL, err);
}

/* ---- pauses ------------------------------------------------------------ */

static const char SQL_PAUSES[] =
	"SELECT " US("started_at") ", " US("ended_at") " FROM pauses WHERE case_id = $1::uuid ORDER BY seq";
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
	"COALESCE(opinion, ''), deadline_kind, amount, unit, state, " US("created_at") ", " US("decided_at")
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
	"n.issued_by, c.ticket_no, n.kind, n.deadline_kind, " US("n.created_at") " FROM notices n JOIN cases c "
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
