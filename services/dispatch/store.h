/*
 * store.h - dispatch's data access, defined in store_directory.c,
 * store_case.c and store_deadline.c: the only files with SQL for schema
 * dispatch.  Every function runs inside the caller's transaction (acting
 * tenant set, so row-level security confines it to that tenant).  Results
 * are arena memory; "not found" is *out == NULL, not an error.
 */
#ifndef DISPATCH_STORE_H
#define DISPATCH_STORE_H

#include "dispatch.h"
#include "hl/pg.h"

/* Subjects (case ids) lacking an audit chain, for VerifyAuditChain. */
extern const char store_missing_chain_sql[];

/* ---- tenant defaults ---- */
/* Claim the tenant's first use: *first true exactly once per tenant. */
hl_status store_tenant_claim(hl_pg *pg, hl_arena *a, const char *tenant, bool *first, hl_error *err) HL_MUST_CHECK;

/* ---- directory ---- */
hl_status store_department_put(hl_pg *pg, hl_arena *a, const char *tenant, const dispatch_department *d,
			       hl_error *err) HL_MUST_CHECK;
hl_status store_department_get(hl_pg *pg, hl_arena *a, const char *id, dispatch_department **out,
			       hl_error *err) HL_MUST_CHECK;
hl_status store_departments(hl_pg *pg, hl_arena *a, dispatch_department ***out, int *n, hl_error *err) HL_MUST_CHECK;
/* The active departments sub is the head or a deputy of. */
hl_status store_departments_led(hl_pg *pg, hl_arena *a, const char *sub, const char ***ids, int *n,
				hl_error *err) HL_MUST_CHECK;

hl_status store_staff_put(hl_pg *pg, hl_arena *a, const char *tenant, const dispatch_staff *s,
			  hl_error *err) HL_MUST_CHECK;
hl_status store_staff_get(hl_pg *pg, hl_arena *a, const char *id, dispatch_staff **out, hl_error *err) HL_MUST_CHECK;
/* dept NULL: all staff */
hl_status store_staff_list(hl_pg *pg, hl_arena *a, const char *dept, dispatch_staff ***out, int *n,
			   hl_error *err) HL_MUST_CHECK;
/* Active supervisors (overdue escalation). */
hl_status store_supervisors(hl_pg *pg, hl_arena *a, const char ***ids, int *n, hl_error *err) HL_MUST_CHECK;
/*
 * The active handler of dept with skill (NULL: any) with the least open
 * load, ties to the one assigned longest ago; picks in one department are
 * serialized to commit (exactly fair across replicas).  Excludes `except`
 * and the department's head and deputies (they sign results off).
 * Takes one case of load and stamps the assignment time.  *out NULL if none.
 * locked: this transaction holds dept's pick lock already (an earlier pick).
 */
hl_status store_pick_handler(hl_pg *pg, hl_arena *a, const char *dept, const char *skill, const char *except,
			     bool locked, const char **out, hl_error *err) HL_MUST_CHECK;
/* A named handler takes one case of load (must be active staff of dept; *ok tells). */
hl_status store_take_handler(hl_pg *pg, hl_arena *a, const char *dept, const char *handler, bool *ok,
			     hl_error *err) HL_MUST_CHECK;
/* One case less on the handler's load. */
hl_status store_release_handler(hl_pg *pg, hl_arena *a, const char *handler, hl_error *err) HL_MUST_CHECK;

hl_status store_rule_put(hl_pg *pg, hl_arena *a, const char *tenant, const dispatch_rule *r,
			 hl_error *err) HL_MUST_CHECK;
/* In routing order (position, then creation); active_only for routing. */
hl_status store_rules(hl_pg *pg, hl_arena *a, bool active_only, dispatch_rule ***out, int *n,
		      hl_error *err) HL_MUST_CHECK;

hl_status store_sla_put(hl_pg *pg, hl_arena *a, const char *tenant, const dispatch_sla *s, hl_error *err) HL_MUST_CHECK;
hl_status store_sla_get(hl_pg *pg, hl_arena *a, int category, int priority, dispatch_sla **out,
			hl_error *err) HL_MUST_CHECK;

hl_status store_calendar_put(hl_pg *pg, hl_arena *a, const char *tenant, const uint8_t *spec, size_t n,
			     hl_error *err) HL_MUST_CHECK;
hl_status store_calendar_get(hl_pg *pg, hl_arena *a, uint8_t **spec, size_t *n, hl_error *err) HL_MUST_CHECK;

/* ---- cases ---- */
typedef struct store_case_filter {
	const char *department_id, *handler_id, *ticket_id;
	int status;
	bool overdue_only;
	const char *after_id; /* page token: id of the last case of the previous page */
	int limit;
} store_case_filter;

/*
 * Insert k (deferred: a failure shows at the next statement that waits for its result).  A lead
 * case only under its ticket's lock, after store_lead_case_id found none.
 */
hl_status store_case_insert(hl_pg *pg, hl_arena *a, const dispatch_case *k, hl_error *err) HL_MUST_CHECK;
/*
 * The id of the lead case of ticket_id (*case_id NULL: none yet), with the ticket locked until the
 * transaction ends.  store_lead_cases_lock does it ahead for the tickets of a held batch (their
 * ids are sorted in place), and store_lead_case_id then reads what it found.
 */
hl_status store_lead_cases_lock(hl_pg *pg, const char **ticket_ids, int n, hl_error *err) HL_MUST_CHECK;
hl_status store_lead_case_id(hl_pg *pg, hl_arena *a, const char *ticket_id, const char **case_id,
			     hl_error *err) HL_MUST_CHECK;
hl_status store_case_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, dispatch_case **out,
			 hl_error *err) HL_MUST_CHECK;
/* The lead case of a ticket. */
hl_status store_case_by_ticket(hl_pg *pg, hl_arena *a, const char *ticket_id, bool for_update, dispatch_case **out,
			       hl_error *err) HL_MUST_CHECK;
/* Write k's mutable state, version + 1, fence max(fence, k->fence) when the stored fence is not newer. */
hl_status store_case_update(hl_pg *pg, hl_arena *a, dispatch_case *k, bool *ok, hl_error *err) HL_MUST_CHECK;
hl_status store_cases(hl_pg *pg, hl_arena *a, const store_case_filter *f, dispatch_case ***out, int *n,
		      hl_error *err) HL_MUST_CHECK;

/* A step of the case, numbered next; written with the COMMIT (store_steps reads it before that too). */
hl_status store_step_add(hl_pg *pg, hl_arena *a, const char *tenant, const char *case_id, const char *action,
			 const char *actor, const char *dept, const char *note, hl_error *err) HL_MUST_CHECK;
hl_status store_steps(hl_pg *pg, hl_arena *a, const char *case_id, dispatch_step_row ***out, int *n,
		      hl_error *err) HL_MUST_CHECK;

/* ---- deadlines ---- */
/* Insert n new deadlines, with the COMMIT (hl_pg_rows_at_commit); the reads below send them first. */
hl_status store_deadlines_insert(hl_pg *pg, hl_arena *a, const char *tenant, dispatch_deadline *const *d, int n,
				 hl_error *err) HL_MUST_CHECK;
/* Open (not met, not cancelled) deadlines of a case; kind 0: all kinds. */
hl_status store_deadlines_open(hl_pg *pg, hl_arena *a, const char *case_id, int kind, dispatch_deadline ***out,
			       int *n, hl_error *err) HL_MUST_CHECK;
/* The latest deadline of each kind of a case (for the Case message). */
hl_status store_deadlines_latest(hl_pg *pg, hl_arena *a, const char *case_id, dispatch_deadline ***out, int *n,
				 hl_error *err) HL_MUST_CHECK;
hl_status store_deadline_get(hl_pg *pg, hl_arena *a, const char *id, bool for_update, dispatch_deadline **out,
			     hl_error *err) HL_MUST_CHECK;
/* Write due/warn/generation/extension and the met/cancelled/warned/overdue marks. */
hl_status store_deadline_update(hl_pg *pg, hl_arena *a, const dispatch_deadline *d, hl_error *err) HL_MUST_CHECK;

/* Pause intervals of a case, [from, to) in microseconds (to 0: still paused). */
hl_status store_pauses(hl_pg *pg, hl_arena *a, const char *case_id, int64_t **from, int64_t **to, int *n,
		       hl_error *err) HL_MUST_CHECK;
hl_status store_pause_begin(hl_pg *pg, hl_arena *a, const char *tenant, const char *case_id, const char *reason,
			    const char *actor, hl_error *err) HL_MUST_CHECK;
hl_status store_pause_end(hl_pg *pg, hl_arena *a, const char *case_id, hl_error *err) HL_MUST_CHECK;

/* ---- extensions ---- */
typedef struct store_extension {
	const char *id, *case_id, *request_id, *reason, *requested_by, *decided_by, *opinion;
	int deadline_kind, amount, unit, state;
	int64_t created_us, decided_us;
} store_extension;

hl_status store_extension_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_extension *x,
				 hl_error *err) HL_MUST_CHECK;
hl_status store_extension_get(hl_pg *pg, hl_arena *a, const char *id, const char *request_id, bool for_update,
			      store_extension **out, hl_error *err) HL_MUST_CHECK;
hl_status store_extension_decide(hl_pg *pg, hl_arena *a, const store_extension *x, hl_error *err) HL_MUST_CHECK;

/* ---- notices ---- */
typedef struct store_notice {
	const char *id, *case_id, *deadline_id, *department_id, *recipient_id, *note, *issued_by, *ticket_no;
	int kind, deadline_kind, deadline_generation;
	int64_t created_us;
} store_notice;

/* Insert unless the same (deadline, generation, kind, recipient) exists; *inserted tells. */
hl_status store_notice_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_notice *x, bool *inserted,
			      hl_error *err) HL_MUST_CHECK;
typedef struct store_notice_filter {
	const char *department_id, *case_id, *recipient_id;
	const char *after_id;
	int limit;
} store_notice_filter;
hl_status store_notices(hl_pg *pg, hl_arena *a, const store_notice_filter *f, store_notice ***out, int *n,
			hl_error *err) HL_MUST_CHECK;

#endif
