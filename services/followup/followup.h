/*
 * followup.h - the followup service's shared types: its state, the reply
 * task and reply rows as the store reads and writes them, the status machine
 * of a reply task, and the helpers its handler files share (rpc_common.c,
 * gate.c).
 */
#ifndef FOLLOWUP_H
#define FOLLOWUP_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/calendar.h"
#include "hl/gate.h"
#include "hl/program.h"
#include "hl/rpc.h"
#include "hl/timers.h"
#include "hotline/followup/v1/followup.pb-c.h"

/* followup's clock for visits (clock.c): the wall clock, or a compressed test clock. */
typedef struct followup_clock {
	int64_t anchor_us; /* where the compressed clock meets the wall clock */
	int64_t scale;     /* 1: the wall clock */
} followup_clock;

typedef struct followup_app {
	const hl_common_config *common;
	followup_clock clock;
	const hl_calendar *calendar; /* fallback for reply deadlines dispatch did not compute */
	int reply_within_days;       /* working days, with that calendar */
	int max_attempts;            /* unreachable contacts before the task is marked unreachable */
	int recheck_percent;         /* share of visit records (without a problem) drawn for a re-check */
	bool reply_gate;             /* replies to complaints and reports pass CheckGate */
	bool plan_gate;              /* PutVisitPlan passes CheckGate */
	hl_gate *gate;               /* to compliance when a gate is on; NULL: no gate */
} followup_app;

/* Reply task statuses, as in the proto enum. */
enum {
	RT_OPEN = HOTLINE__FOLLOWUP__V1__REPLY_TASK_STATUS__REPLY_TASK_STATUS_OPEN,
	RT_SATISFIED = HOTLINE__FOLLOWUP__V1__REPLY_TASK_STATUS__REPLY_TASK_STATUS_SATISFIED,
	RT_REOPENED = HOTLINE__FOLLOWUP__V1__REPLY_TASK_STATUS__REPLY_TASK_STATUS_REOPENED,
	RT_UNREACHABLE = HOTLINE__FOLLOWUP__V1__REPLY_TASK_STATUS__REPLY_TASK_STATUS_UNREACHABLE,
	RT_CLOSED = HOTLINE__FOLLOWUP__V1__REPLY_TASK_STATUS__REPLY_TASK_STATUS_CLOSED,
};
enum {
	OUTCOME_REACHED = HOTLINE__FOLLOWUP__V1__CONTACT_OUTCOME__CONTACT_OUTCOME_REACHED,
	OUTCOME_UNREACHABLE = HOTLINE__FOLLOWUP__V1__CONTACT_OUTCOME__CONTACT_OUTCOME_UNREACHABLE,
	SAT_UNSATISFIED = HOTLINE__FOLLOWUP__V1__SATISFACTION__SATISFACTION_UNSATISFIED,
};

/* Free-text bounds (characters). */
#define FOLLOWUP_CONTENT_CHARS 2000
#define FOLLOWUP_REASON_CHARS 1000

typedef struct followup_task {
	const char *tenant, *id, *ticket_id, *ticket_no, *case_id, *department_id;
	int round, category, priority, status, attempts;
	const char *result_text, *result_digest, *approved_by, *registered_by;
	const char *assignee_id; /* NULL: the pool */
	const char *closed_by, *close_reason;
	int64_t approved_us, due_us, closed_us, created_us, version;
} followup_task;

typedef struct followup_reply {
	const char *id, *task_id, *request_id;
	int seq, method, outcome, satisfaction;
	const char *content, *unsatisfied_reason, *recorded_by;
	int64_t recorded_us;
} followup_reply;

/* Visits (回访). */
#define VISIT_PLANNED HOTLINE__FOLLOWUP__V1__VISIT_STATUS__VISIT_STATUS_PLANNED
#define VISIT_DONE HOTLINE__FOLLOWUP__V1__VISIT_STATUS__VISIT_STATUS_DONE
#define FOLLOWUP_LEVELS 3
#define FOLLOWUP_MAX_ANSWERS 100

typedef struct followup_counterpart {
	const char *id, *name, *owner_id, *department_id;
	int risk_level;
	bool active;
} followup_counterpart;

typedef struct followup_plan {
	int risk_level, interval_days, method;
	const char *depth, *responsible_id, *target, *scope;
} followup_plan;

typedef struct followup_visit {
	const char *tenant, *id, *counterpart_id, *department_id, *responsible_id;
	const char *ticket_id, *ticket_no; /* a ticket visit: set, and counterpart_id NULL */
	int category;                      /* of the ticket */
	int risk_level, method;
	int64_t due_us, done_us; /* done_us 0: planned */
	/* the record (recorded_by NULL: none yet) */
	const char *recorded_by, *evidence_ref, *note, *record_request_id;
	const char *questionnaire_id; /* NULL: free answers */
	int questionnaire_version;
	int record_method;
	bool problem_found, recheck_sampled;
	const char **questions, **answers;
	int n_answers;
	/* the re-check (rechecked_by NULL: none yet) */
	const char *rechecked_by, *recheck_note, *recheck_request_id;
	bool recheck_agrees;
} followup_visit;

typedef struct followup_coverage {
	int counterparts, planned, done, overdue;
} followup_coverage;

/* methods.c */
extern const hl_service followup_service;

/* rpc_schedule.c */
hl_status followup_schedule_reply(hl_call *c, const void *req, void **resp);
/* rpc_reply.c */
hl_status followup_list_reply_tasks(hl_call *c, const void *req, void **resp);
hl_status followup_get_reply_task(hl_call *c, const void *req, void **resp);
hl_status followup_record_reply(hl_call *c, const void *req, void **resp);
hl_status followup_close_reply_task(hl_call *c, const void *req, void **resp);

/* rpc_visit.c */
hl_status followup_put_counterpart(hl_call *c, const void *req, void **resp);
hl_status followup_list_counterparts(hl_call *c, const void *req, void **resp);
hl_status followup_put_visit_plan(hl_call *c, const void *req, void **resp);
hl_status followup_list_visits(hl_call *c, const void *req, void **resp);
hl_status followup_record_visit(hl_call *c, const void *req, void **resp);
hl_status followup_recheck_visit(hl_call *c, const void *req, void **resp);
hl_status followup_get_coverage(hl_call *c, const void *req, void **resp);

/* rpc_sampling.c */
hl_status followup_put_sampling_policy(hl_call *c, const void *req, void **resp);
hl_status followup_get_sampling_policy(hl_call *c, const void *req, void **resp);
hl_status followup_sample_ticket_rpc(hl_call *c, const void *req, void **resp);
/* A closed ticket, offered to the sample (from the reply loop or SampleTicket). */
typedef struct followup_closed_ticket {
	const char *ticket_id, *ticket_no, *department_id, *reason;
	int category;
} followup_closed_ticket;
/*
 * Draw the ticket (once per ticket: a second offer returns the first draw);
 * when sampled, plan its ticket visit.  In the call's transaction.
 */
hl_status followup_sample_ticket(hl_call *c, const followup_closed_ticket *tk, bool *sampled, const char **visit_id,
				 int *draw, int *percent) HL_MUST_CHECK;

/* rpc_notice.c */
hl_status followup_list_notices(hl_call *c, const void *req, void **resp);
hl_status followup_acknowledge_notice(hl_call *c, const void *req, void **resp);

/* rpc_questionnaire.c */
hl_status followup_put_questionnaire(hl_call *c, const void *req, void **resp);
/*
 * Check a visit's answers against the latest version of questionnaire id
 * (question ids, answer types, options, required questions); *version is it.
 * Fails the call (INVALID naming the answer, NOT_FOUND for the questionnaire).
 */
hl_status followup_questionnaire_check(hl_call *c, const char *id, Hotline__Followup__V1__VisitAnswer **answers,
				       size_t n, int *version) HL_MUST_CHECK;

/* rpc_common.c: what the handlers share (each fails the call itself) */
followup_app *followup_app_of(hl_call *c);
/* The task id of the tenant, locked for a change when for_update; NOT_FOUND when there is none. */
hl_status followup_task_load(hl_call *c, const char *id, bool for_update, followup_task **out) HL_MUST_CHECK;
/* Save the task's working state and append the audit entry `action` for it. */
hl_status followup_task_save(hl_call *c, followup_task *t, const char *action, const char *details) HL_MUST_CHECK;
/* Append an audit entry for the task (details: JSON object, no personal data; NULL "{}"). */
hl_status followup_audit(hl_call *c, const followup_task *t, const char *action, const char *details,
			 bool new_subject) HL_MUST_CHECK;
/* The task as its API message (replies when with_replies). */
hl_status followup_task_msg(hl_call *c, const followup_task *t, bool with_replies,
			    Hotline__Followup__V1__ReplyTask **out) HL_MUST_CHECK;
Hotline__Followup__V1__Reply *followup_reply_msg(hl_call *c, const followup_reply *r);
/* Queue UpdateTicketStatus to intake (outbox); version orders it after earlier changes. */
hl_status followup_ticket_status(hl_call *c, const followup_task *t, int status, int64_t version,
				 const char *note) HL_MUST_CHECK;
/* Queue ReopenCase to dispatch (outbox) for the task's next round. */
hl_status followup_reopen(hl_call *c, const followup_task *t, const char *reason) HL_MUST_CHECK;
/* Queue CloseCase to dispatch (outbox): the reply loop of the task's round ended (reason: a code, no text). */
hl_status followup_close_case(hl_call *c, const followup_task *t, const char *reason) HL_MUST_CHECK;
/* Queue the reply.* event (reply.recorded, reply.closed) of task t to reporting; rp NULL: none. */
hl_status followup_reply_event(hl_call *c, const followup_task *t, const followup_reply *rp, const char *type,
			       bool closed_by_supervisor) HL_MUST_CHECK;
/*
 * Queue the visit.* event (visit.planned, visit.recorded, visit.rechecked,
 * visit.overdue) of v to reporting, in pg's open transaction.
 */
hl_status followup_visit_event(hl_pg *pg, hl_arena *a, const followup_visit *v, const char *type,
			       const char *actor, hl_error *err) HL_MUST_CHECK;
/* Append the audit entry `action` to the visit's chain (details: ids, level, times). */
hl_status followup_visit_audit(hl_call *c, const followup_visit *v, const char *action,
			       bool new_subject) HL_MUST_CHECK;
/* Plan a visit (v->id set here): insert, audit visit.planned, timer, event; in the call's transaction. */
hl_status followup_visit_plan(hl_call *c, followup_visit *v) HL_MUST_CHECK;

/* overdue.c: reply and visit deadlines on the shared timers */
/* Put (or move) the timer of a task's reply deadline / a planned visit's due time, in the call's transaction. */
hl_status followup_reply_timer(hl_call *c, const followup_task *t) HL_MUST_CHECK;
hl_status followup_visit_timer(hl_call *c, const followup_visit *v) HL_MUST_CHECK;
/* The timer handler of hl_program (system role). */
hl_status followup_timer_fire(void *app, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err);

/* clock.c */
hl_status followup_clock_parse(const char *spec, followup_clock *out, hl_error *err) HL_MUST_CHECK;
/* Now on the clock of visits (microseconds since the epoch). */
int64_t followup_clock_now_us(const followup_clock *k);
/* The wall-clock millisecond at which the clock of visits shows at_us (for timers). */
int64_t followup_clock_wall_ms(const followup_clock *k, int64_t at_us);
/* Now on the clock of visits of the call's service. */
int64_t followup_now_us(hl_call *c);

/* gate.c: the compliance gate on replies to complaints and misconduct reports, and on visit plans */
/* Whether replies of this category pass the gate. */
bool followup_gated_category(int category);
/*
 * Ask compliance whether content may be released for task t.  No gate
 * configured: HL_OK.  Compliance unreachable or failing: UNAVAILABLE (fail
 * closed); not approved: FAILED_PRECONDITION naming the pending review.
 */
hl_status followup_gate_check(hl_call *c, const followup_task *t, const char *content) HL_MUST_CHECK;
/* The same for a visit plan (HOTLINE_VISIT_PLAN_GATE): subject "level-N", the plan as one text. */
hl_status followup_plan_gate_check(hl_call *c, const char *subject, const char *plan_text) HL_MUST_CHECK;

#endif
