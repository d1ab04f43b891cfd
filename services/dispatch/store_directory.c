/*
 * store_directory.c - dispatch's SQL: tenant defaults, departments, staff and their load, routing rules, SLA policies and calendars (see store.h).  Times cross the
 * boundary as integer microseconds since the epoch (HL_PG_US out, HL_PG_TS
 * in; 0 is NULL), arrays as text[] literals.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "hl/buf.h"
#include "hl/crypto.h"

/* ---- tenant defaults ------------------------------------------------------------ */

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
	hl_pg_arg_text_array(&args, a, d->deputies, d->n_deputies);
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
	return hl_pg_get_text_array(r, i, 4, a, &d->deputies, &d->n_deputies, err);
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
/*
 * Automatic picks within one department queue on a transaction-scoped advisory lock, so each
 * pick sees the loads every earlier pick committed: the spread stays within one case however
 * many replicas assign at once (rows locked and skipped, or snapshots older than a rival's
 * commit, let concurrent picks land on the same handler). The lock covers only picks; named
 * takes, accepts and releases change a load with a single atomic UPDATE.
 */
static const char SQL_PICK_LOCK[] =
	"SELECT pg_advisory_xact_lock(hashtextextended('dispatch.pick/' || current_tenant() || '/' || $1, 0))";
/* The pick and the take in one statement: (the least-loaded eligible id, or NULL: none; the id taken,
 * NULL when that handler went inactive or moved since the read) */
static const char SQL_PICK_TAKE[] =
	"WITH pick AS (SELECT id " PICK_ELIGIBLE "ORDER BY open_load, last_assigned_at, id LIMIT 1), "
	"took AS (UPDATE staff SET open_load = open_load + 1, last_assigned_at = clock_timestamp() "
	"WHERE id = (SELECT id FROM pick) AND department_id = $1 AND active RETURNING id) "
	"SELECT (SELECT id FROM pick), (SELECT id FROM took)";
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
	hl_pg_arg_text_array(&args, a, s->skills, s->n_skills);
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
	return hl_pg_get_text_array(r, i, 3, a, &s->skills, &s->n_skills, err);
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
 * Take the least-loaded eligible handler, under the department's pick lock
 * (held to commit; locked: taken already by this transaction).  The lock
 * goes deferred, in the round trip of the pick, which the server starts only
 * once the lock is granted, so it sees every earlier pick.  A take that
 * finds its pick gone inactive since the read picks again (bounded).
 */
hl_status store_pick_handler(hl_pg *pg, hl_arena *a, const char *dept, const char *skill, const char *except,
			     bool locked, const char **out, hl_error *err)
{
	*out = NULL;
	hl_pg_args args = hl_pg_args_key(dept);
	hl_status st = locked ? HL_OK : hl_pg_exec_deferred(pg, a, SQL_PICK_LOCK, &args, err);
	hl_pg_arg_text(&args, skill && skill[0] ? skill : NULL);
	hl_pg_arg_text(&args, except);
	for (int tries = 0; st == HL_OK && tries < 4; tries++) {
		PGresult *r;
		if ((st = hl_pg_exec(pg, a, SQL_PICK_TAKE, &args, &r, err)) || !hl_pg_get(r, 0, 0))
			return st; /* none eligible: the department's own queue */
		if ((*out = hl_pg_get(r, 0, 1)))
			return HL_OK;
	}
	return st; /* none could be taken: the department's own queue */
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
	hl_pg_arg_text_array(&args, a, r->topic_kw, r->n_topic_kw);
	hl_pg_arg_text_array(&args, a, r->desc_kw, r->n_desc_kw);
	hl_pg_arg_text_array(&args, a, r->areas, r->n_areas);
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
	    (st = hl_pg_get_text_array(r, i, 5, a, &x->topic_kw, &x->n_topic_kw, err)) ||
	    (st = hl_pg_get_text_array(r, i, 6, a, &x->desc_kw, &x->n_desc_kw, err)))
		return st;
	return hl_pg_get_text_array(r, i, 7, a, &x->areas, &x->n_areas, err);
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
