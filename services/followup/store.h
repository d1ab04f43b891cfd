/*
 * store.h - followup's data access, defined in store.c: the only file with
 * SQL for schema followup.  Every function runs inside the caller's
 * transaction (acting tenant set, so row-level security confines it to that
 * tenant).  Results are arena memory; "not found" is *out == NULL, not an
 * error.
 */
#ifndef FOLLOWUP_STORE_H
#define FOLLOWUP_STORE_H

#include "followup.h"
#include "hl/pg.h"

/* Subjects (reply task ids) lacking an audit chain, for VerifyAuditChain. */
extern const char store_missing_chain_sql[];

/* ---- reply tasks ---- */
/* Insert t (t->id set by the caller); *created false when the case's round already has a task (*existing_id). */
hl_status store_task_insert(hl_pg *pg, hl_arena *a, const followup_task *t, bool *created, const char **existing_id,
			    hl_error *err) HL_MUST_CHECK;
hl_status store_task_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, followup_task **out,
			 hl_error *err) HL_MUST_CHECK;
/* Write the task's working state (status, assignee, attempts, closing); bumps version. */
hl_status store_task_update(hl_pg *pg, hl_arena *a, followup_task *t, hl_error *err) HL_MUST_CHECK;

/* Mark an open task overdue once: *out the task when this call marked it, else NULL. */
hl_status store_task_mark_overdue(hl_pg *pg, hl_arena *a, const char *id, followup_task **out,
				  hl_error *err) HL_MUST_CHECK;

typedef struct store_task_filter {
	int status;              /* 0: any */
	const char *assignee_id; /* NULL: any; "" : the pool only */
	bool assignee_or_pool;   /* with assignee_id: that agent's tasks and the pool's */
	const char *ticket_id;   /* NULL: any */
	bool overdue;            /* open and past due */
	const char *after_id;    /* page token */
	int limit;
} store_task_filter;
hl_status store_tasks(hl_pg *pg, hl_arena *a, const store_task_filter *f, followup_task ***out, int *n,
		      hl_error *err) HL_MUST_CHECK;

/* ---- replies ---- */
/* Append r (r->id set; r->seq is set to the next number of its task). */
hl_status store_reply_insert(hl_pg *pg, hl_arena *a, followup_reply *r, hl_error *err) HL_MUST_CHECK;
hl_status store_replies(hl_pg *pg, hl_arena *a, const char *task_id, followup_reply ***out, int *n,
			hl_error *err) HL_MUST_CHECK;
/* The reply recorded with this client request id, if any. */
hl_status store_reply_by_request(hl_pg *pg, hl_arena *a, const char *request_id, followup_reply **out,
				 hl_error *err) HL_MUST_CHECK;

/* ---- visits (store_visit.c) ---- */
hl_status store_counterpart_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, followup_counterpart **out,
				hl_error *err) HL_MUST_CHECK;
hl_status store_counterpart_put(hl_pg *pg, hl_arena *a, const char *tenant, const followup_counterpart *cp,
				hl_error *err) HL_MUST_CHECK;
/* level 0 / dept NULL: any */
hl_status store_counterparts(hl_pg *pg, hl_arena *a, int level, const char *dept, followup_counterpart ***out, int *n,
			     hl_error *err) HL_MUST_CHECK;
/* The stored plan of a level (*out NULL: none stored, the defaults apply). */
hl_status store_plan_get(hl_pg *pg, hl_arena *a, int level, followup_plan **out, hl_error *err) HL_MUST_CHECK;
hl_status store_plan_put(hl_pg *pg, hl_arena *a, const char *tenant, const followup_plan *p,
			 hl_error *err) HL_MUST_CHECK;
/* Insert a planned visit (v->id set by the caller). */
hl_status store_visit_insert(hl_pg *pg, hl_arena *a, const followup_visit *v, hl_error *err) HL_MUST_CHECK;
/* The visit with its record and re-check, if any. */
hl_status store_visit_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, followup_visit **out,
			  hl_error *err) HL_MUST_CHECK;
/* The planned (not done) visit of a counterpart, locked. */
hl_status store_visit_planned(hl_pg *pg, hl_arena *a, const char *counterpart_id, followup_visit **out,
			      hl_error *err) HL_MUST_CHECK;
/* Re-plan a planned visit: level, responsible, method, due. */
hl_status store_visit_replan(hl_pg *pg, hl_arena *a, const followup_visit *v, hl_error *err) HL_MUST_CHECK;
/* Mark a planned visit overdue once at now_us: *out the visit when this call marked it, else NULL. */
hl_status store_visit_mark_overdue(hl_pg *pg, hl_arena *a, const char *id, int64_t now_us, followup_visit **out,
				   hl_error *err) HL_MUST_CHECK;
/* Mark done at now_us (followup's clock). */
hl_status store_visit_done(hl_pg *pg, hl_arena *a, const char *id, int64_t now_us, hl_error *err) HL_MUST_CHECK;
typedef struct store_visit_filter {
	const char *counterpart_id; /* NULL: any */
	const char *ticket_id;      /* NULL: any */
	int status;                 /* 0: any */
	bool overdue;               /* planned and past due at now_us */
	bool to_recheck;            /* drawn for a re-check and not re-checked yet */
	bool tickets_only;          /* ticket visits only */
	int64_t now_us;
} store_visit_filter;
/* Visits ordered by due time (at most 1000). */
hl_status store_visits(hl_pg *pg, hl_arena *a, const store_visit_filter *f, followup_visit ***out, int *n,
		       hl_error *err) HL_MUST_CHECK;
/* Append the record of v (recorded_by, record_method, answers, evidence, problem, note, request id). */
hl_status store_visit_record(hl_pg *pg, hl_arena *a, const followup_visit *v, hl_error *err) HL_MUST_CHECK;
/* Append the re-check of v. */
hl_status store_visit_recheck(hl_pg *pg, hl_arena *a, const followup_visit *v, hl_error *err) HL_MUST_CHECK;
/* The visit whose record (recheck false) or re-check (true) has this request id, if any. */
hl_status store_visit_by_request(hl_pg *pg, hl_arena *a, const char *request_id, bool recheck, followup_visit **out,
				 hl_error *err) HL_MUST_CHECK;
/* Append a new version of a questionnaire (body: the serialized message); *version is its number. */
hl_status store_questionnaire_put(hl_pg *pg, hl_arena *a, const char *tenant, const char *id, const char *name,
				  const uint8_t *body, size_t len, const char *actor, int *version,
				  hl_error *err) HL_MUST_CHECK;
/* The latest version of a questionnaire (*body NULL: none). */
hl_status store_questionnaire_get(hl_pg *pg, hl_arena *a, const char *id, uint8_t **body, size_t *len, int *version,
				  hl_error *err) HL_MUST_CHECK;
/*
 * Coverage of visits due in [from, to), dept NULL: all; overdue: not done and due before now_us.
 * out[0]: ticket visits, out[level]: counterpart visits of that risk level.
 */
hl_status store_coverage(hl_pg *pg, hl_arena *a, int64_t from_us, int64_t to_us, const char *dept, int64_t now_us,
			 followup_coverage out[FOLLOWUP_LEVELS + 1], hl_error *err) HL_MUST_CHECK;

/* ---- notices (store_notice.c) ---- */
enum { NOTICE_REPLY_OVERDUE = 1, NOTICE_VISIT_OVERDUE = 2 };
typedef struct store_notice {
	const char *id; /* set by store_notice_insert */
	int kind;
	const char *subject_type, *subject_id, *ticket_no, *counterpart_id, *department_id;
	const char *recipient_id, *recipient_role; /* one of them non-empty */
	const char *note;
	int64_t due_us, created_us;
	const char *acked_by; /* NULL: not acknowledged */
	int64_t acked_us;
} store_notice;
/* Insert once per subject, kind and recipient (a repeat is no error and writes nothing). */
hl_status store_notice_insert(hl_pg *pg, hl_arena *a, const char *tenant, store_notice *x,
			      hl_error *err) HL_MUST_CHECK;
typedef struct store_notice_filter {
	bool all;                 /* every notice of the tenant */
	const char *me;           /* else: addressed to me, */
	const char *head_of;      /* to the head of this department (NULL: not a head), */
	bool supervisor;          /* to the supervisors */
	bool unacknowledged;
	const char *after_id;     /* page token */
	int limit;
} store_notice_filter;
hl_status store_notices(hl_pg *pg, hl_arena *a, const store_notice_filter *f, store_notice ***out, int *n,
			hl_error *err) HL_MUST_CHECK;
hl_status store_notice_get(hl_pg *pg, hl_arena *a, const char *id, store_notice **out, hl_error *err) HL_MUST_CHECK;
/* Record the acknowledgement; *done false when the notice was acknowledged already. */
hl_status store_notice_ack(hl_pg *pg, hl_arena *a, const char *tenant, const char *id, const char *by, bool *done,
			   hl_error *err) HL_MUST_CHECK;

/* ---- sampling (store_notice.c) ---- */
typedef struct store_sampling_policy {
	int percents[6]; /* index: Category value - 1 */
	int method, within_days, version;
	const char *responsible_id;
} store_sampling_policy;
/* *found false: none stored (the caller applies the defaults). */
hl_status store_sampling_get(hl_pg *pg, hl_arena *a, store_sampling_policy *p, bool *found,
			     hl_error *err) HL_MUST_CHECK;
/* Insert or replace; p->version is set to the stored version. */
hl_status store_sampling_put(hl_pg *pg, hl_arena *a, const char *tenant, store_sampling_policy *p, const char *actor,
			     hl_error *err) HL_MUST_CHECK;
/* The tenant's sampling key: fresh (32 bytes) is stored when none exists yet; *key the stored one. */
hl_status store_sampling_key(hl_pg *pg, hl_arena *a, const char *tenant, const uint8_t fresh[32], uint8_t key[32],
			     hl_error *err) HL_MUST_CHECK;
typedef struct store_ticket_sample {
	const char *ticket_id, *ticket_no, *reason, *visit_id; /* visit_id NULL: not sampled */
	int category, percent, draw, policy_version;
	bool sampled;
} store_ticket_sample;
hl_status store_sample_get(hl_pg *pg, hl_arena *a, const char *ticket_id, store_ticket_sample **out,
			   hl_error *err) HL_MUST_CHECK;
hl_status store_sample_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_ticket_sample *x,
			      hl_error *err) HL_MUST_CHECK;

#endif
