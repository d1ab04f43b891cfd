/*
 * store_review.c - compliance's SQL for gate rules, reviews and their
 * decisions (see store.h).  A review's status is derived from its decision
 * (none: pending).
 */
#include "store.h"

#define RULE_COLS                                                                                                 \
	"id, action, subject_type, categories::text, min_priority, min_extension_hours, reviewer_role, enabled, "    \
	"updated_by, " HL_PG_US("updated_at")

static const char SQL_RULES[] =
	"SELECT " RULE_COLS " FROM gate_rules WHERE ($1::text IS NULL OR action = $1) ORDER BY action, id";
static const char SQL_RULE_PUT[] =
	"INSERT INTO gate_rules (tenant_id, id, action, subject_type, categories, min_priority, min_extension_hours, "
	"reviewer_role, enabled, updated_by) VALUES (current_tenant(), $1, $2, $3, $4::int[], $5::int, $6::int, $7, "
	"$8::bool, $9) ON CONFLICT (tenant_id, id) DO UPDATE SET action = EXCLUDED.action, subject_type = "
	"EXCLUDED.subject_type, categories = EXCLUDED.categories, min_priority = EXCLUDED.min_priority, "
	"min_extension_hours = EXCLUDED.min_extension_hours, reviewer_role = EXCLUDED.reviewer_role, enabled = "
	"EXCLUDED.enabled, updated_by = EXCLUDED.updated_by, updated_at = now() RETURNING (xmax = 0), " HL_PG_US(
		"updated_at");

static hl_status read_rule(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	compliance_rule *x = out;
	x->id = hl_pg_get(r, i, 0);
	x->action = hl_pg_get(r, i, 1);
	x->subject_type = hl_pg_get_text(r, i, 2);
	hl_status st = hl_pg_get_int_array(r, i, 3, a, &x->categories, &x->n_categories, err);
	if (st)
		return st;
	x->min_priority = (int)hl_pg_get_int(r, i, 4);
	x->min_extension_hours = (int)hl_pg_get_int(r, i, 5);
	x->reviewer_role = hl_pg_get(r, i, 6);
	x->enabled = hl_pg_get_bool(r, i, 7);
	x->updated_by = hl_pg_get_text(r, i, 8);
	x->updated_us = hl_pg_get_int(r, i, 9);
	return HL_OK;
}

hl_status store_rules(hl_pg *pg, hl_arena *a, const char *action, compliance_rule ***out, int *n, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(action);
	return hl_pg_fetch(pg, a, SQL_RULES, &args, sizeof ***out, read_rule, (void ***)out, n, err);
}

hl_status store_rule_put(hl_pg *pg, hl_arena *a, compliance_rule *x, bool *created, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, x->id);
	hl_pg_arg_text(&args, x->action);
	hl_pg_arg_text(&args, x->subject_type);
	hl_pg_arg_text(&args, hl_pg_int_array(a, x->categories, x->n_categories));
	hl_pg_arg_int(&args, a, x->min_priority);
	hl_pg_arg_int(&args, a, x->min_extension_hours);
	hl_pg_arg_text(&args, x->reviewer_role);
	hl_pg_arg_bool(&args, x->enabled);
	hl_pg_arg_text(&args, x->updated_by);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_RULE_PUT, &args, &r, err);
	if (st)
		return st;
	if (PQntuples(r) != 1)
		return hl_fail(err, HL_INTERNAL, "the gate rule was not stored");
	*created = hl_pg_get_bool(r, 0, 0);
	x->updated_us = hl_pg_get_int(r, 0, 1);
	return HL_OK;
}

/* ---- reviews ----------------------------------------------------------- */

#define REVIEW_COLS                                                                                               \
	"r.id::text, COALESCE(r.request_id, ''), r.action, r.subject_type, r.subject_id, r.content_digest, "         \
	"r.ticket_id, r.department_id, r.summary, r.rule_id, r.reviewer_role, r.requested_by, " HL_PG_US(          \
		"r.requested_at") ", d.approved, COALESCE(d.decided_by, ''), COALESCE(d.opinion, ''), " HL_PG_US(  \
		"d.decided_at")
#define REVIEW_FROM                                                                                               \
	" FROM reviews r LEFT JOIN review_decisions d ON d.tenant_id = r.tenant_id AND d.review_id = r.id "

static const char SQL_REVIEW_LOCK[] = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
static const char SQL_REVIEW_LATEST[] =
	"SELECT " REVIEW_COLS REVIEW_FROM "WHERE r.action = $1 AND r.subject_type = $2 AND r.subject_id = $3 AND "
	"($4::text IS NULL OR r.content_digest = $4) AND (NOT $5::bool OR d.approved) "
	"ORDER BY r.requested_at DESC, r.id DESC LIMIT 1";
static const char SQL_REVIEW_INSERT[] =
	"INSERT INTO reviews (tenant_id, id, request_id, action, subject_type, subject_id, content_digest, ticket_id, "
	"department_id, summary, rule_id, reviewer_role, requested_by) VALUES (current_tenant(), $1::uuid, "
	"NULLIF($2, ''), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (tenant_id, request_id) WHERE "
	"request_id IS NOT NULL DO NOTHING RETURNING " HL_PG_US("requested_at");
static const char SQL_REVIEW_BY_REQUEST[] = "SELECT " REVIEW_COLS REVIEW_FROM "WHERE r.request_id = $1";
static const char SQL_REVIEW_GET[] = "SELECT " REVIEW_COLS REVIEW_FROM "WHERE r.id = $1::uuid";
static const char SQL_REVIEW_DECIDE[] =
	"INSERT INTO review_decisions (tenant_id, review_id, approved, opinion, decided_by) VALUES (current_tenant(), "
	"$1::uuid, $2::bool, $3, $4) ON CONFLICT (tenant_id, review_id) DO NOTHING RETURNING 1";
static const char SQL_REVIEWS[] =
	"SELECT " REVIEW_COLS REVIEW_FROM "WHERE ($1::int = 0 OR ($1::int = 1 AND d.review_id IS NULL) OR "
	"($1::int = 2 AND d.approved) OR ($1::int = 3 AND NOT d.approved)) AND ($2::text IS NULL OR r.action = $2) "
	"AND ($3::text IS NULL OR r.subject_id = $3) AND ($4::text IS NULL OR r.requested_by = $4) "
	"AND ($5::text IS NULL OR r.id > $5::uuid) ORDER BY r.id LIMIT $6::int";

static hl_status read_review(const PGresult *r, int i, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	compliance_review *x = out;
	x->id = hl_pg_get(r, i, 0);
	x->request_id = hl_pg_get_opt(r, i, 1);
	x->action = hl_pg_get(r, i, 2);
	x->subject_type = hl_pg_get_text(r, i, 3);
	x->subject_id = hl_pg_get_text(r, i, 4);
	x->content_digest = hl_pg_get(r, i, 5);
	x->ticket_id = hl_pg_get_text(r, i, 6);
	x->department_id = hl_pg_get_text(r, i, 7);
	x->summary = hl_pg_get_text(r, i, 8);
	x->rule_id = hl_pg_get_text(r, i, 9);
	x->reviewer_role = hl_pg_get(r, i, 10);
	x->requested_by = hl_pg_get(r, i, 11);
	x->requested_us = hl_pg_get_int(r, i, 12);
	bool decided = hl_pg_get(r, i, 13) != NULL;
	x->status = !decided ? RV_PENDING : hl_pg_get_bool(r, i, 13) ? RV_APPROVED : RV_REJECTED;
	x->decided_by = hl_pg_get_opt(r, i, 14);
	x->opinion = decided ? hl_pg_get_text(r, i, 15) : NULL;
	x->decided_us = hl_pg_get_int(r, i, 16);
	return HL_OK;
}

hl_status store_review_lock(hl_pg *pg, hl_arena *a, const char *key, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(key);
	return hl_pg_exec_deferred(pg, a, SQL_REVIEW_LOCK, &args, err);
}

hl_status store_review_latest(hl_pg *pg, hl_arena *a, const char *action, const char *subject_type,
			      const char *subject_id, const char *digest, bool approved_only, compliance_review **out,
			      hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, action);
	hl_pg_arg_text(&args, subject_type);
	hl_pg_arg_text(&args, subject_id);
	hl_pg_arg_text(&args, digest);
	hl_pg_arg_bool(&args, approved_only);
	return hl_pg_fetch_one(pg, a, SQL_REVIEW_LATEST, &args, sizeof **out, read_review, (void **)out, err);
}

hl_status store_review_insert(hl_pg *pg, hl_arena *a, compliance_review *x, bool *created,
			      compliance_review **existing, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, x->id);
	hl_pg_arg_text(&args, x->request_id ? x->request_id : "");
	hl_pg_arg_text(&args, x->action);
	hl_pg_arg_text(&args, x->subject_type);
	hl_pg_arg_text(&args, x->subject_id);
	hl_pg_arg_text(&args, x->content_digest);
	hl_pg_arg_text(&args, x->ticket_id);
	hl_pg_arg_text(&args, x->department_id);
	hl_pg_arg_text(&args, x->summary);
	hl_pg_arg_text(&args, x->rule_id);
	hl_pg_arg_text(&args, x->reviewer_role);
	hl_pg_arg_text(&args, x->requested_by);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_REVIEW_INSERT, &args, &r, err);
	if (st)
		return st;
	*created = PQntuples(r) == 1;
	*existing = NULL;
	if (*created) {
		x->requested_us = hl_pg_get_int(r, 0, 0);
		x->status = RV_PENDING;
		return HL_OK;
	}
	args = hl_pg_args_key(x->request_id);
	if ((st = hl_pg_fetch_one(pg, a, SQL_REVIEW_BY_REQUEST, &args, sizeof **existing, read_review,
				  (void **)existing, err)))
		return st;
	return *existing ? HL_OK : hl_fail(err, HL_INTERNAL, "the review of the request vanished");
}

hl_status store_review_get(hl_pg *pg, hl_arena *a, const char *id, compliance_review **out, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(id);
	return hl_pg_fetch_one(pg, a, SQL_REVIEW_GET, &args, sizeof **out, read_review, (void **)out, err);
}

hl_status store_review_decide(hl_pg *pg, hl_arena *a, const char *id, bool approved, const char *opinion,
			      const char *by, bool *created, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, id);
	hl_pg_arg_bool(&args, approved);
	hl_pg_arg_text(&args, opinion);
	hl_pg_arg_text(&args, by);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_REVIEW_DECIDE, &args, &r, err);
	if (!st)
		*created = PQntuples(r) == 1;
	return st;
}

hl_status store_reviews(hl_pg *pg, hl_arena *a, const store_review_filter *f, compliance_review ***out, int *n,
			hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, f->status);
	hl_pg_arg_text(&args, f->action);
	hl_pg_arg_text(&args, f->subject_id);
	hl_pg_arg_text(&args, f->requested_by);
	hl_pg_arg_text(&args, f->after_id);
	hl_pg_arg_int(&args, a, f->limit);
	return hl_pg_fetch(pg, a, SQL_REVIEWS, &args, sizeof ***out, read_review, (void ***)out, n, err);
}
