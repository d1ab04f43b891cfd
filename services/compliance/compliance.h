/*
 * compliance.h - the compliance service's shared types: its state, the rows
 * its store reads and writes (violations, risk events, reviews, gate rules,
 * risks, warnings, notices), and the helpers its handler files share
 * (rpc_common.c, deadlines.c).
 */
#ifndef COMPLIANCE_H
#define COMPLIANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/program.h"
#include "hl/rpc.h"
#include "hl/timers.h"
#include "hotline/compliance/v1/compliance.pb-c.h"

typedef struct compliance_app {
	const hl_common_config *common;
	int64_t major_report_ms;   /* a major risk event reaches the compliance office within this (2 h) */
	int64_t general_report_ms; /* a general one is filed within this (24 h) */
} compliance_app;

/* Closed sets, as in the proto enums. */
enum {
	VK_OTHER = HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_OTHER,
	VK_LATE_RISK_REPORT = HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_LATE_RISK_REPORT,
	RE_MAJOR = HOTLINE__COMPLIANCE__V1__RISK_EVENT_LEVEL__RISK_EVENT_LEVEL_MAJOR,
	RE_GENERAL = HOTLINE__COMPLIANCE__V1__RISK_EVENT_LEVEL__RISK_EVENT_LEVEL_GENERAL,
	RS_REPORTED = HOTLINE__COMPLIANCE__V1__RISK_EVENT_STATUS__RISK_EVENT_STATUS_REPORTED,
	RS_ACCEPTED = HOTLINE__COMPLIANCE__V1__RISK_EVENT_STATUS__RISK_EVENT_STATUS_ACCEPTED,
	RS_CLOSED = HOTLINE__COMPLIANCE__V1__RISK_EVENT_STATUS__RISK_EVENT_STATUS_CLOSED,
	RV_PENDING = HOTLINE__COMPLIANCE__V1__REVIEW_STATUS__REVIEW_STATUS_PENDING,
	RV_APPROVED = HOTLINE__COMPLIANCE__V1__REVIEW_STATUS__REVIEW_STATUS_APPROVED,
	RV_REJECTED = HOTLINE__COMPLIANCE__V1__REVIEW_STATUS__REVIEW_STATUS_REJECTED,
	WS_ISSUED = HOTLINE__COMPLIANCE__V1__WARNING_STATUS__WARNING_STATUS_ISSUED,
	WS_ACKNOWLEDGED = HOTLINE__COMPLIANCE__V1__WARNING_STATUS__WARNING_STATUS_ACKNOWLEDGED,
	WS_RECTIFIED = HOTLINE__COMPLIANCE__V1__WARNING_STATUS__WARNING_STATUS_RECTIFIED,
};

/* Free-text bounds (characters). */
#define COMPLIANCE_TEXT_CHARS 2000
#define COMPLIANCE_NOTE_CHARS 1000
#define COMPLIANCE_ID_CHARS 128

typedef struct compliance_violation {
	const char *id, *request_id, *source, *subject_type, *subject_id, *ticket_id, *department_id, *person_id;
	const char *description, *recorded_by;
	int kind, points;
	int64_t occurred_us, due_us, recorded_us;
	const char *appeal_note, *appealed_by; /* NULL: not appealed */
	int64_t appealed_us;
} compliance_violation;

typedef struct compliance_risk_event {
	const char *tenant, *id, *request_id, *source, *subject_type, *subject_id, *counterpart_id, *department_id;
	const char *risk_id, *description, *reported_by, *accepted_by, *closed_by, *outcome;
	int level, status;
	bool emergency_plan, reported_late, overdue;
	int64_t occurred_us, reported_us, due_us, accepted_us, closed_us;
} compliance_risk_event;

typedef struct compliance_rule {
	const char *id, *action, *subject_type, *reviewer_role, *updated_by;
	int *categories;
	int n_categories, min_priority, min_extension_hours;
	bool enabled, builtin;
	int64_t updated_us;
} compliance_rule;

typedef struct compliance_review {
	const char *id, *request_id, *action, *subject_type, *subject_id, *content_digest, *ticket_id;
	const char *department_id, *summary, *rule_id, *reviewer_role, *requested_by;
	const char *decided_by, *opinion; /* NULL: pending */
	int status;
	int64_t requested_us, decided_us;
} compliance_review;

typedef struct compliance_risk {
	const char *tenant, *id, *request_id, *name, *type, *description, *measures, *owner_id, *department_id;
	const char *updated_by;
	int level, review_every_days;
	bool active;
	int64_t next_review_us, last_reminded_us, updated_us;
} compliance_risk;

typedef struct compliance_warning {
	const char *id, *request_id, *department_id, *title, *content, *risk_id, *issued_by;
	const char *acknowledged_by, *rectified_by, *rectification; /* NULL: not yet */
	int status;
	int64_t issued_us, rectify_by_us, acknowledged_us, rectified_us;
} compliance_warning;

typedef struct compliance_notice {
	const char *id, *kind, *subject_id, *recipient, *body;
	int64_t created_us;
} compliance_notice;

/* methods.c */
extern const hl_service compliance_service;

/* rpc_violation.c */
hl_status compliance_record_violation(hl_call *c, const void *req, void **resp);
hl_status compliance_file_violation(hl_call *c, const void *req, void **resp);
hl_status compliance_list_violations(hl_call *c, const void *req, void **resp);
hl_status compliance_appeal_violation(hl_call *c, const void *req, void **resp);

/* rpc_risk_event.c */
hl_status compliance_report_risk_event(hl_call *c, const void *req, void **resp);
hl_status compliance_raise_risk_event(hl_call *c, const void *req, void **resp);
hl_status compliance_accept_risk_event(hl_call *c, const void *req, void **resp);
hl_status compliance_close_risk_event(hl_call *c, const void *req, void **resp);
hl_status compliance_list_risk_events(hl_call *c, const void *req, void **resp);

/* The late-risk-report violation of e (against its department, else its reporter), recorded by actor. */
hl_status compliance_late_report_violation(hl_pg *pg, hl_arena *a, const compliance_risk_event *e, const char *actor,
					   const char *description, int64_t occurred_us, hl_error *err) HL_MUST_CHECK;
/* The event `type` of a risk event to reporting (below handlers). */
hl_status compliance_risk_event_changed(hl_pg *pg, hl_arena *a, const compliance_risk_event *e, const char *actor,
					const char *type, hl_error *err) HL_MUST_CHECK;
Hotline__Compliance__V1__RiskEvent *compliance_risk_event_msg(hl_call *c, const compliance_risk_event *e);

/* rpc_gate.c */
hl_status compliance_check_gate(hl_call *c, const void *req, void **resp);
hl_status compliance_put_gate_rule(hl_call *c, const void *req, void **resp);
hl_status compliance_list_gate_rules(hl_call *c, const void *req, void **resp);
/* The fields CheckGate and RequestReview share (action, digest, subject, ticket, department, summary). */
hl_status compliance_check_review_fields(hl_call *c, const char *action, const char *subject_type,
					 const char *subject_id, const char *digest, const char *ticket_id,
					 const char *dept, const char *summary) HL_MUST_CHECK;
/* rpc_review.c */
hl_status compliance_request_review(hl_call *c, const void *req, void **resp);
hl_status compliance_decide_review(hl_call *c, const void *req, void **resp);
hl_status compliance_get_review(hl_call *c, const void *req, void **resp);
hl_status compliance_list_reviews(hl_call *c, const void *req, void **resp);
/*
 * The pending or approved review of exactly this content (action, subject,
 * digest), else a new pending review requested by the caller (audited, the
 * reviewers told); *created says which.  A rejected review is the answer
 * too, unless renew_rejected (an explicit new request).  Run in the open
 * transaction.
 */
hl_status compliance_review_open(hl_call *c, compliance_review *want, bool renew_rejected, compliance_review **out,
				 bool *created) HL_MUST_CHECK;

/* rpc_risk.c */
hl_status compliance_put_risk(hl_call *c, const void *req, void **resp);
hl_status compliance_list_risks(hl_call *c, const void *req, void **resp);
/* rpc_warning.c */
hl_status compliance_issue_warning(hl_call *c, const void *req, void **resp);
hl_status compliance_list_warnings(hl_call *c, const void *req, void **resp);
hl_status compliance_acknowledge_warning(hl_call *c, const void *req, void **resp);
hl_status compliance_rectify_warning(hl_call *c, const void *req, void **resp);

/* rpc_notice.c */
hl_status compliance_list_notices(hl_call *c, const void *req, void **resp);

/* rpc_common.c: what the handlers share (functions taking hl_call fail the call themselves) */
compliance_app *compliance_app_of(hl_call *c);
/* Append an audit entry for subject (details: JSON object, no personal data; NULL "{}"). */
hl_status compliance_audit(hl_call *c, const char *type, const char *id, const char *action, const char *details,
			   bool new_subject) HL_MUST_CHECK;
/* A new UUIDv7 in arena memory. */
hl_status compliance_new_id(hl_call *c, const char **out) HL_MUST_CHECK;
/* A page size (0: def) of at most max, and an optional UUID page token. */
hl_status compliance_page(hl_call *c, int32_t page_size, const char *token, int *limit,
			  const char **after) HL_MUST_CHECK;
/* Optional text fields of ids (at most COMPLIANCE_ID_CHARS). */
hl_status compliance_check_id(hl_call *c, const char *field, const char *v, bool required) HL_MUST_CHECK;

/*
 * Below handlers (timer work too): the event `type` to reporting with a
 * ComplianceChanged payload p, and a notice to recipient ("user:<sub>",
 * "role:<role>", "dept:<id>"), once per (kind, subject, recipient).
 */
hl_status compliance_event(hl_pg *pg, hl_arena *a, const char *tenant, const char *actor, const char *type,
			   const char *ticket_id, Hotline__Common__V1__ComplianceChanged *p, hl_error *err) HL_MUST_CHECK;
hl_status compliance_notify(hl_pg *pg, hl_arena *a, const char *kind, const char *subject_id, const char *recipient,
			    const char *body, hl_error *err) HL_MUST_CHECK;

/* rpc_violation.c, for other files: record a violation below handlers (v->id set by the caller). */
hl_status compliance_violation_record(hl_pg *pg, hl_arena *a, const char *tenant, const char *actor,
				      compliance_violation *v, hl_error *err) HL_MUST_CHECK;
/* The default points of a kind (绩效扣分). */
int compliance_kind_points(int kind);

/* deadlines.c: risk-event deadlines on the shared timers */
/* Put the timer of a reported risk event's due time, in the call's transaction. */
hl_status compliance_risk_event_timer(hl_call *c, const compliance_risk_event *e) HL_MUST_CHECK;
/* Put the reminder timer of a risk's next check, in the call's transaction. */
hl_status compliance_risk_timer(hl_call *c, const compliance_risk *r) HL_MUST_CHECK;
/* The timer handler of hl_program (system role). */
hl_status compliance_timer_fire(void *app, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err);

#endif
