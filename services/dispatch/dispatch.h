/*
 * dispatch.h - the dispatch service's shared types: its state, the case and
 * directory rows as the store reads and writes them, the status machine of a
 * case, and the helpers its handlers share.
 */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/gate.h"
#include "hl/program.h"
#include "hl/rpc.h"
#include "hotline/dispatch/v1/dispatch.pb-c.h"

typedef struct dispatch_app {
	const hl_common_config *common; /* common->timers once running */
	int lock_lease_ms;              /* the user-visible edit lock */
	hl_gate *gate;                  /* compliance review gates; NULL: off (HOTLINE_DISPATCH_GATES) */
} dispatch_app;

/* Case statuses and roles, as in the proto enums. */
enum {
	CS_PENDING = HOTLINE__DISPATCH__V1__CASE_STATUS__CASE_STATUS_PENDING_ASSIGNMENT,
	CS_ASSIGNED = HOTLINE__DISPATCH__V1__CASE_STATUS__CASE_STATUS_ASSIGNED,
	CS_ACCEPTED = HOTLINE__DISPATCH__V1__CASE_STATUS__CASE_STATUS_ACCEPTED,
	CS_IN_PROGRESS = HOTLINE__DISPATCH__V1__CASE_STATUS__CASE_STATUS_IN_PROGRESS,
	CS_SUBMITTED = HOTLINE__DISPATCH__V1__CASE_STATUS__CASE_STATUS_RESULT_SUBMITTED,
	CS_APPROVED = HOTLINE__DISPATCH__V1__CASE_STATUS__CASE_STATUS_RESULT_APPROVED,
	CS_CLOSED = HOTLINE__DISPATCH__V1__CASE_STATUS__CASE_STATUS_CLOSED,
};
enum { ROLE_LEAD = 1, ROLE_ASSIST = 2 };
enum { DL_ACCEPT = 1, DL_COMPLETE = 2, DISPATCH_DEADLINE_KINDS = 2 };

typedef struct dispatch_department {
	const char *id, *name, *parent_id, *head_id;
	const char **deputies;
	int n_deputies;
	bool active;
} dispatch_department;

typedef struct dispatch_staff {
	const char *id, *name, *department_id;
	const char **skills;
	int n_skills;
	bool active, supervisor;
	int open_load;
} dispatch_staff;

typedef struct dispatch_rule {
	const char *id, *name, *target, *skill;
	int position;
	int *categories, *channels;
	int n_categories, n_channels;
	const char **topic_kw, **desc_kw, **areas;
	int n_topic_kw, n_desc_kw, n_areas;
	bool active;
} dispatch_rule;

typedef struct dispatch_sla {
	int category, priority;
	int accept_amount, accept_unit, complete_amount, complete_unit, reply_amount, reply_unit;
	int warning_permille;
} dispatch_sla;

typedef struct dispatch_case {
	const char *tenant, *id, *ticket_id, *ticket_no, *lead_case_id;
	int role, status;
	const char *department_id, *handler_id; /* NULL when not set */
	int basis_kind, basis_return_reason;
	const char *basis_rule_id, *basis_reason, *basis_actor;
	int channel, category, priority;
	const char *topic, *description, *area, *registered_by;
	int64_t registered_us;
	const char **implicated, **returned_by;
	int n_implicated, n_returned_by;
	int64_t paused_us; /* 0: not paused */
	int return_count, transfer_count, reopen_count;
	const char *result_text, *result_by, *approved_by, *approved_digest;
	int64_t result_us, approved_us;
	int64_t fence, version;
	const char *lock_digest; /* SHA-256 (hex) of the edit-lock token LockCase handed out last */
	int64_t created_us, updated_us;
	bool fresh;   /* created by this call: no audit chain, pauses or history yet */
	bool unsaved; /* a new lead case not written yet: its routing writes it (rpc_route.c) */
} dispatch_case;

typedef struct dispatch_step_row {
	int seq;
	const char *action, *actor, *department_id, *note;
	int64_t at_us;
} dispatch_step_row;

typedef struct dispatch_deadline {
	const char *id, *case_id;
	int kind, warning_permille, generation;
	int64_t started_us, allowed_ms, extension_ms;
	int64_t due_us, warn_us; /* 0: none (paused) */
	int64_t met_us, cancelled_us, warned_us, overdue_us;
	bool clock; /* clock hours, not working time */
} dispatch_deadline;

/* methods.c */
extern const hl_service dispatch_service;

/* Who the caller is in the directory: their staff entry and the departments they head or deputize. */
typedef struct dispatch_viewer {
	const dispatch_staff *me; /* NULL: not staff */
	const char **led;         /* departments whose head or deputy the caller is */
	int n_led;
} dispatch_viewer;
/* Loaded once per call (cached in the call's dispatch_local). */
hl_status dispatch_viewer_load(hl_call *c, dispatch_viewer *v) HL_MUST_CHECK;
/* What one call keeps (arena memory behind hl_call_local): the viewer. */
typedef struct dispatch_local {
	bool viewer_loaded;
	dispatch_viewer viewer;
} dispatch_local;
dispatch_local *dispatch_local_of(hl_call *c); /* NULL when out of memory */
/* The directory entry of the caller (NULL if the caller is not staff). */
hl_status dispatch_caller_staff(hl_call *c, dispatch_staff **out) HL_MUST_CHECK;
/* Load a case the caller may see, locked when for_update; NOT_FOUND otherwise. */
hl_status dispatch_case_load(hl_call *c, const char *id, bool for_update, dispatch_case **out) HL_MUST_CHECK;
/* Whether the caller may see case k (role, department, recusal). */
bool dispatch_case_visible(hl_call *c, const dispatch_case *k, const dispatch_viewer *v);
/* The caller works in k's department: active staff of it with a handling role, or its head or deputy. */
bool dispatch_case_member(hl_call *c, const dispatch_case *k, const dispatch_viewer *v);
/* Append a step to k (its row locked) and an audit entry; also for timer work (no call). */
hl_status dispatch_record_step(hl_pg *pg, hl_arena *a, const dispatch_case *k, const char *actor, const char *action,
			      const char *note, hl_error *err) HL_MUST_CHECK;
hl_status dispatch_enqueue_case_event(hl_pg *pg, hl_arena *a, const dispatch_case *k, const char *actor,
				      const char *type, int deadline_kind, int64_t due_us, hl_error *err) HL_MUST_CHECK;
/* The same inside a call (fails the call). */
hl_status dispatch_step(hl_call *c, const dispatch_case *k, const char *action, const char *note) HL_MUST_CHECK;
/* Store k's new state (version + 1); ABORTED when a newer edit-lock holder wrote it. */
hl_status dispatch_case_save(hl_call *c, dispatch_case *k) HL_MUST_CHECK;
/* Queue the case.<type> event to reporting. */
hl_status dispatch_case_event(hl_call *c, const dispatch_case *k, const char *type, int deadline_kind,
			      int64_t due_us) HL_MUST_CHECK;
/* Queue UpdateTicketStatus to intake (version: microseconds now). */
hl_status dispatch_ticket_status(hl_call *c, const dispatch_case *k, int status, const char *note) HL_MUST_CHECK;
/* Ensure the acting tenant has its defaults (calendar, SLA policies). */
hl_status dispatch_tenant_defaults(hl_call *c) HL_MUST_CHECK;
/* Is dept one of list? */
bool dispatch_in(const char *const *list, int n, const char *dept);

/* calendar.c: the tenant's working-time calendar */
struct hl_calendar;
hl_status dispatch_calendar_build(const Hotline__Dispatch__V1__Calendar *m, struct hl_calendar **out,
				  hl_error *err) HL_MUST_CHECK;
/* The stored calendar message, or the default one, with text set to its canonical form (arena memory). */
hl_status dispatch_calendar_msg(hl_pg *pg, hl_arena *a, Hotline__Dispatch__V1__Calendar **out,
				hl_error *err) HL_MUST_CHECK;
/* The acting tenant's calendar, freed with the arena. */
hl_status dispatch_calendar_load(hl_pg *pg, hl_arena *a, const struct hl_calendar **out, hl_error *err) HL_MUST_CHECK;

/*
 * directory.c: the directory as routing and deadlines read it (the active
 * rules in routing order, a department, the policy of a category and
 * priority, the calendar); the items of a held batch share one read.  The
 * results are read-only; a department or policy that does not exist is NULL.
 */
hl_status dispatch_dir_rules(hl_pg *pg, hl_arena *a, dispatch_rule ***out, int *n, hl_error *err) HL_MUST_CHECK;
hl_status dispatch_dir_department(hl_pg *pg, hl_arena *a, const char *id, dispatch_department **out,
				  hl_error *err) HL_MUST_CHECK;
hl_status dispatch_dir_sla(hl_pg *pg, hl_arena *a, int category, int priority, dispatch_sla **out,
			   hl_error *err) HL_MUST_CHECK;
hl_status dispatch_dir_calendar(hl_pg *pg, hl_arena *a, const struct hl_calendar **out, hl_error *err) HL_MUST_CHECK;
/*
 * Whether the held transaction took dept's pick lock already (then the pick
 * needs no lock of its own); false outside one.  Answering false, it notes
 * that the caller takes the lock now.
 */
bool dispatch_dir_pick_locked(hl_pg *pg, const char *dept);

/* FAILED_PRECONDITION unless k's status is in mask (bits 1 << status). */
hl_status dispatch_require_status(hl_call *c, const dispatch_case *k, unsigned mask, const char *action) HL_MUST_CHECK;
#define DISPATCH_MASK(s) (1u << (s))
/* PERMISSION_DENIED unless the caller works in k's department (dispatch_case_member). */
hl_status dispatch_require_member(hl_call *c, const dispatch_case *k) HL_MUST_CHECK;

/* gate.c: compliance review gates on dispatch's gated actions (on rpc_common.c) */
/* Approving an extension of a deadline of k (kind, amount and unit as requested, its reason). */
hl_status dispatch_gate_extension(hl_call *c, const dispatch_case *k, const char *extension_id, int deadline_kind,
				  int amount, int unit, const char *reason) HL_MUST_CHECK;
/* Signing off k's result text (gated for major-priority complaints only). */
hl_status dispatch_gate_result(hl_call *c, const dispatch_case *k) HL_MUST_CHECK;

/* edit_lock.c: the edit lock as the case handlers see it (on rpc_common.c) */
/* With a token: it must still be the caller's lock (renewed; k->fence set). Without: nobody else may hold one. */
hl_status dispatch_lock_check(hl_call *c, dispatch_case *k, const char *token) HL_MUST_CHECK;
/* Who holds k's edit lock now ("" when nobody, or when Redis cannot tell); arena memory. */
const char *dispatch_lock_holder(hl_call *c, const dispatch_case *k);
/* The lock's name for k (arena memory; NULL when out of memory). */
const char *dispatch_lock_name(hl_call *c, const dispatch_case *k);

/* case_view.c: the Case message and the answer of case handlers (on rpc_common.c and edit_lock.c) */
/* The Case message of k with its deadlines, and its steps and edit-lock holder when full. */
hl_status dispatch_case_msg(hl_call *c, const dispatch_case *k, bool full, Hotline__Dispatch__V1__Case **out) HL_MUST_CHECK;
/* Commit and answer with k as the first field (a Case) of a response of type d. */
hl_status dispatch_case_answer(hl_call *c, dispatch_case *k, const ProtobufCMessageDescriptor *d,
			       void **resp) HL_MUST_CHECK;

/* rpc_route.c: routing and assignment (on the files above and rpc_deadline.c) */
/* Route k (in the dispatcher queue or being re-routed): first matching rule, then auto-assign. */
hl_status dispatch_route(hl_call *c, dispatch_case *k) HL_MUST_CHECK;
/* Give k to dept (and handler, or the least-loaded eligible one); starts deadlines. */
hl_status dispatch_assign(hl_call *c, dispatch_case *k, const char *dept, const char *handler,
			  const char *skill) HL_MUST_CHECK;
/* k leaves its department's handler: load released, open deadlines cancelled. */
hl_status dispatch_release(hl_call *c, dispatch_case *k) HL_MUST_CHECK;

/* rpc_deadline.c: working-time deadlines, pauses, extensions, notices (on the files above, not rpc_route.c) */
hl_status dispatch_deadlines_start(hl_call *c, const dispatch_case *k) HL_MUST_CHECK;
hl_status dispatch_deadline_meet(hl_call *c, const dispatch_case *k, int kind) HL_MUST_CHECK;
hl_status dispatch_deadlines_cancel(hl_call *c, const dispatch_case *k) HL_MUST_CHECK;
/* The reply deadline (followup's) of k's policy counted from now; 0 when none applies. */
hl_status dispatch_reply_due(hl_call *c, const dispatch_case *k, int64_t *due_us) HL_MUST_CHECK;
hl_status dispatch_timer_fire(void *app, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err);

/* handlers */
hl_status dispatch_submit_ticket(hl_call *c, const void *req, void **resp);
hl_status dispatch_submit_prefetch(hl_pg *pg, hl_arena *a, const char *tenant, const void *const *reqs, int n,
				   hl_error *err);
hl_status dispatch_reopen_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_close_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_get_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_list_cases(hl_call *c, const void *req, void **resp);
hl_status dispatch_assign_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_accept_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_return_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_transfer_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_add_note(hl_call *c, const void *req, void **resp);
hl_status dispatch_submit_result(hl_call *c, const void *req, void **resp);
hl_status dispatch_approve_result(hl_call *c, const void *req, void **resp);
hl_status dispatch_reject_result(hl_call *c, const void *req, void **resp);
hl_status dispatch_pause_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_resume_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_request_extension(hl_call *c, const void *req, void **resp);
hl_status dispatch_decide_extension(hl_call *c, const void *req, void **resp);
hl_status dispatch_supervise_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_list_notices(hl_call *c, const void *req, void **resp);
hl_status dispatch_lock_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_unlock_case(hl_call *c, const void *req, void **resp);
hl_status dispatch_put_department(hl_call *c, const void *req, void **resp);
hl_status dispatch_list_departments(hl_call *c, const void *req, void **resp);
hl_status dispatch_put_staff(hl_call *c, const void *req, void **resp);
hl_status dispatch_list_staff(hl_call *c, const void *req, void **resp);
hl_status dispatch_put_rule(hl_call *c, const void *req, void **resp);
hl_status dispatch_list_rules(hl_call *c, const void *req, void **resp);
hl_status dispatch_put_sla(hl_call *c, const void *req, void **resp);
hl_status dispatch_get_sla(hl_call *c, const void *req, void **resp);
hl_status dispatch_put_calendar(hl_call *c, const void *req, void **resp);
hl_status dispatch_get_calendar(hl_call *c, const void *req, void **resp);

#endif
