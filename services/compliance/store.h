/*
 * store.h - compliance's data access: the only files with SQL for schema
 * compliance (store.c: violations, risk events, notices; store_review.c:
 * gate rules and reviews; store_register.c: risks and warnings).  Every
 * function runs inside the caller's transaction (acting tenant set, so
 * row-level security confines it to that tenant).  Results are arena
 * memory; "not found" is *out == NULL, not an error.
 */
#ifndef COMPLIANCE_STORE_H
#define COMPLIANCE_STORE_H

#include "compliance.h"
#include "hl/pg.h"

/* Subjects lacking an audit chain, for VerifyAuditChain. */
extern const char store_missing_chain_sql[];

/* ---- violations ---- */
/* Insert v (v->id set); *created false when v->request_id was already used (*out that violation). */
hl_status store_violation_insert(hl_pg *pg, hl_arena *a, compliance_violation *v, bool *created,
				 compliance_violation **existing, hl_error *err) HL_MUST_CHECK;
hl_status store_violation_get(hl_pg *pg, hl_arena *a, const char *id, compliance_violation **out,
			      hl_error *err) HL_MUST_CHECK;
typedef struct store_violation_filter {
	const char *department_id, *person_id, *after_id; /* NULL: any */
	int kind;                                        /* 0: any */
	int64_t from_us, to_us;                          /* 0: open */
	int limit;
} store_violation_filter;
hl_status store_violations(hl_pg *pg, hl_arena *a, const store_violation_filter *f, compliance_violation ***out,
			   int *n, hl_error *err) HL_MUST_CHECK;
/* Append the appeal; *created false when the violation was already appealed. */
hl_status store_violation_appeal(hl_pg *pg, hl_arena *a, const char *id, const char *note, const char *by,
				 bool *created, hl_error *err) HL_MUST_CHECK;

/* ---- risk events ---- */
/* Insert e (id set; reported_us set from the database); *created false when request_id was used (*existing). */
hl_status store_risk_event_insert(hl_pg *pg, hl_arena *a, compliance_risk_event *e, bool *created,
				  compliance_risk_event **existing, hl_error *err) HL_MUST_CHECK;
hl_status store_risk_event_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, compliance_risk_event **out,
			       hl_error *err) HL_MUST_CHECK;
/* Write status, emergency plan, acceptance and closing. */
hl_status store_risk_event_update(hl_pg *pg, hl_arena *a, const compliance_risk_event *e,
				  hl_error *err) HL_MUST_CHECK;
/* Mark a still-reported event overdue once: *out the event when this call marked it, else NULL. */
hl_status store_risk_event_mark_overdue(hl_pg *pg, hl_arena *a, const char *id, compliance_risk_event **out,
					hl_error *err) HL_MUST_CHECK;
typedef struct store_risk_event_filter {
	int level, status;                      /* 0: any */
	const char *department_id, *after_id;   /* NULL: any */
	bool overdue_only;
	int limit;
} store_risk_event_filter;
hl_status store_risk_events(hl_pg *pg, hl_arena *a, const store_risk_event_filter *f, compliance_risk_event ***out,
			    int *n, hl_error *err) HL_MUST_CHECK;

/* ---- gate rules and reviews (store_review.c) ---- */
/* The stored rules of action (NULL: all), by id. */
hl_status store_rules(hl_pg *pg, hl_arena *a, const char *action, compliance_rule ***out, int *n,
		      hl_error *err) HL_MUST_CHECK;
/* Insert or replace rule r->id; *created true for a new one; r->updated_us set. */
hl_status store_rule_put(hl_pg *pg, hl_arena *a, compliance_rule *r, bool *created, hl_error *err) HL_MUST_CHECK;
/* Serialise find-or-create of reviews of one content key until the transaction ends. */
hl_status store_review_lock(hl_pg *pg, hl_arena *a, const char *key, hl_error *err) HL_MUST_CHECK;
/* The latest review of exactly this content (digest), or of the subject at all when digest is NULL
 * and approved_only. */
hl_status store_review_latest(hl_pg *pg, hl_arena *a, const char *action, const char *subject_type,
			      const char *subject_id, const char *digest, bool approved_only, compliance_review **out,
			      hl_error *err) HL_MUST_CHECK;
/* Insert r (id set); *created false when r->request_id was already used (*existing that review). */
hl_status store_review_insert(hl_pg *pg, hl_arena *a, compliance_review *r, bool *created,
			      compliance_review **existing, hl_error *err) HL_MUST_CHECK;
/* The review with its decision (reviews are append-only: two deciders race on the decision's key). */
hl_status store_review_get(hl_pg *pg, hl_arena *a, const char *id, compliance_review **out,
			   hl_error *err) HL_MUST_CHECK;
/* Append the decision; *created false when the review was already decided. */
hl_status store_review_decide(hl_pg *pg, hl_arena *a, const char *id, bool approved, const char *opinion,
			      const char *by, bool *created, hl_error *err) HL_MUST_CHECK;
typedef struct store_review_filter {
	int status;                                               /* 0: any */
	const char *action, *subject_id, *requested_by, *after_id; /* NULL: any */
	int limit;
} store_review_filter;
hl_status store_reviews(hl_pg *pg, hl_arena *a, const store_review_filter *f, compliance_review ***out, int *n,
			hl_error *err) HL_MUST_CHECK;

/* ---- risks and warnings (store_register.c) ---- */
/* Insert (r->id new) or update r; *existing set instead when r->request_id was already used for a new risk. */
hl_status store_risk_put(hl_pg *pg, hl_arena *a, compliance_risk *r, bool create, compliance_risk **existing,
			 hl_error *err) HL_MUST_CHECK;
hl_status store_risk_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, compliance_risk **out,
			 hl_error *err) HL_MUST_CHECK;
/* level 0 / type NULL / dept NULL: any. */
hl_status store_risks(hl_pg *pg, hl_arena *a, int level, const char *type, const char *dept, bool include_inactive,
		      compliance_risk ***out, int *n, hl_error *err) HL_MUST_CHECK;
/* Timer work: an active risk whose check is due at due_us is reminded and its check moved on; *out when done. */
hl_status store_risk_remind(hl_pg *pg, hl_arena *a, const char *id, int64_t due_us, compliance_risk **out,
			    hl_error *err) HL_MUST_CHECK;
/* Insert w (id set); *existing instead when w->request_id was already used. */
hl_status store_warning_insert(hl_pg *pg, hl_arena *a, compliance_warning *w, compliance_warning **existing,
			       hl_error *err) HL_MUST_CHECK;
hl_status store_warning_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, compliance_warning **out,
			    hl_error *err) HL_MUST_CHECK;
hl_status store_warning_update(hl_pg *pg, hl_arena *a, const compliance_warning *w, hl_error *err) HL_MUST_CHECK;
hl_status store_warnings(hl_pg *pg, hl_arena *a, const char *dept, int status, const char *after_id, int limit,
			 compliance_warning ***out, int *n, hl_error *err) HL_MUST_CHECK;
/* Rectified and all warnings of dept (NULL: all) with status (0: any). */
hl_status store_warning_counts(hl_pg *pg, hl_arena *a, const char *dept, int status, int *rectified, int *total,
			       hl_error *err) HL_MUST_CHECK;

/* ---- notices ---- */
/* Insert a notice once per (kind, subject, recipient). */
hl_status store_notice_insert(hl_pg *pg, hl_arena *a, const compliance_notice *n, hl_error *err) HL_MUST_CHECK;
/* Notices to any of the n recipients, newest first, after the page token (an older id). */
hl_status store_notices(hl_pg *pg, hl_arena *a, const char *const *recipients, int n_recipients, const char *before_id,
			int limit, compliance_notice ***out, int *n, hl_error *err) HL_MUST_CHECK;

#endif
