/*
 * commands.c - the command table of hotlinectl: one row per command (its
 * words, service, method, request/response types and arguments bound to
 * request fields), plus the few build functions for what a binding cannot
 * say.  Calling and printing are generic (main.c, pbfmt.c); a command of
 * followup, compliance or reporting is one more row here.
 */
#include <string.h>

#include "hl/buf.h"
#include "hotline/audit/v1/audit.pb-c.h"
#include "hotline/common/v1/common.pb-c.h"
#include "hotline/compliance/v1/compliance.pb-c.h"
#include "hotline/dispatch/v1/dispatch.pb-c.h"
#include "hotline/followup/v1/followup.pb-c.h"
#include "hotline/intake/v1/intake.pb-c.h"
#include "hotline/outbox/v1/outbox.pb-c.h"
#include "hotline/reporting/v1/reporting.pb-c.h"
#include "hotlinectl.h"
#include "pbfmt.h"

#define ARGS(a) a, sizeof a / sizeof a[0]
#define INTAKE "/hotline.intake.v1.IntakeService/"
#define AUDIT "/hotline.audit.v1.AuditService/"
#define OUTBOX "/hotline.outbox.v1.OutboxService/"
#define DISPATCH "/hotline.dispatch.v1.DispatchService/"
#define FOLLOWUP "/hotline.followup.v1.FollowUpService/"
#define COMPLIANCE "/hotline.compliance.v1.ComplianceService/"
#define REPORTING "/hotline.reporting.v1.ReportingService/"

const char *const ctl_services[] = {"intake", "dispatch", "followup", "compliance", "reporting", NULL};

/* ---- intake ------------------------------------------------------------ */

static const ctl_arg create_args[] = {
	{"--channel", CTL_OPT, "channel", 0, "how the contact reached the hotline"},
	{"--category", CTL_OPT, "category", 0, "what the citizen wants"},
	{"--priority", CTL_OPT, "priority", 0, "urgency"},
	{"--confidentiality", CTL_OPT, "confidentiality", 0, "confidentiality level"},
	{"--topic", CTL_OPT, "topic", 0, "short subject"},
	{"--description", CTL_OPT, "description", 0, "what the caller told"},
	{"--area", CTL_OPT, "area", 0, "district or area"},
	{"--caller-name", CTL_OPT, "caller.name", 0, "caller's name"},
	{"--caller-phone", CTL_OPT, "caller.phone", 0, "caller's phone number"},
	{"--caller-id-number", CTL_OPT, "caller.id_number", 0, "caller's ID card number"},
	{"--caller-address", CTL_OPT, "caller.address", 0, "caller's address"},
	{"--caller-email", CTL_OPT, "caller.email", 0, "caller's e-mail address"},
	{"--anonymous", CTL_FLAG, "anonymous", 0, "the caller stays anonymous"},
	{"--answer-on-spot", CTL_FLAG, "answer_on_spot", 0, "answered on the spot (closes the ticket; needs --answer)"},
	{"--answer", CTL_OPT, "answer", 0, "the answer given on the spot"},
	{"--implicates", CTL_OPT, "implicated_department_ids", 0,
	 "a department a misconduct report implicates (回避; repeatable)"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};

static const ctl_arg get_args[] = {
	{"ID", CTL_POS_OPT, "id", 0, "ticket id (UUID)"},
	{"--no", CTL_OPT, "ticket_no", 0, "ticket number instead of the id"},
};

/* Exactly one of the id and the ticket number. */
static hl_status build_get(ctl_ctx *x, ProtobufCMessage *req, hl_error *err)
{
	(void)x;
	const Hotline__Intake__V1__GetTicketRequest *r = (const void *)req;
	if (!r->id[0] == !r->ticket_no[0])
		return hl_fail(err, HL_INVALID, "give the ticket ID or --no NUMBER (one of them)");
	return HL_OK;
}

static const ctl_arg list_args[] = {
	{"--status", CTL_OPT, "status", 0, "ticket status"},
	{"--category", CTL_OPT, "category", 0, "category"},
	{"--channel", CTL_OPT, "channel", 0, "channel"},
	{"--area", CTL_OPT, "area", 0, "area"},
	{"--keyword", CTL_OPT, "keyword", 0, "text in the topic or description"},
	{"--from", CTL_OPT, "created_from", 0, "created at or after (2025-01-31 or RFC 3339)"},
	{"--to", CTL_OPT, "created_to", 0, "created before (2025-01-31 or RFC 3339)"},
	{"--registered-by", CTL_OPT, "registered_by", 0, "registering agent (token sub)"},
	{"--page-size", CTL_OPT, "page_size", 0, "tickets per page (server default 50, max 500)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};

static const ctl_arg amend_args[] = {
	{"ID", CTL_POS, "id", 0, "ticket id (UUID)"},
	{"--field", CTL_OPT, "field", CTL_REQUIRED,
	 "topic, description, area, category, priority, confidentiality or caller.<name|phone|id_number|address|email>"},
	{"--value", CTL_OPT, "new_value", CTL_REQUIRED, "the corrected value (enums by short name)"},
	{"--reason", CTL_OPT, "reason", CTL_REQUIRED, "why it is corrected"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};

/* The service takes enum values by full name: translate a short one. */
static hl_status build_amend(ctl_ctx *x, ProtobufCMessage *req, hl_error *err)
{
	static const struct {
		const char *field;
		const ProtobufCEnumDescriptor *e;
	} enums[] = {
		{"category", &hotline__common__v1__category__descriptor},
		{"priority", &hotline__common__v1__priority__descriptor},
		{"confidentiality", &hotline__common__v1__confidentiality__descriptor},
	};
	(void)x;
	Hotline__Intake__V1__AmendTicketRequest *r = (void *)req;
	for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
		const ProtobufCEnumValue *ev;
		int v;
		if (strcmp(r->field, enums[i].field) != 0)
			continue;
		if (pbfmt_enum_parse(enums[i].e, r->new_value, &v) &&
		    (ev = protobuf_c_enum_descriptor_get_value(enums[i].e, v))) {
			r->new_value = (char *)ev->name;
			return HL_OK;
		}
		hl_buf names = HL_BUF_INIT;
		pbfmt_enum_names(&names, enums[i].e, ", ");
		hl_status st = hl_fail(err, HL_INVALID, "--value: '%s' is not one of %s", r->new_value,
				       hl_buf_failed(&names) ? "?" : names.data);
		hl_buf_release(&names);
		return st;
	}
	return HL_OK;
}

static const ctl_arg reveal_args[] = {
	{"ID", CTL_POS, "id", 0, "ticket id (UUID)"},
	{"--reason", CTL_OPT, "reason", CTL_REQUIRED, "why the clear caller data is needed (audited)"},
};

static const ctl_arg phone_args[] = {
	{"PHONE", CTL_POS, "phone", 0, "the caller's phone number"},
	{"--page-size", CTL_OPT, "page_size", 0, "tickets to return"},
};

static const ctl_arg public_args[] = {
	{"TICKET_NO", CTL_POS, "ticket_no", 0, "ticket number"},
	{"QUERY_CODE", CTL_POS, "query_code", 0, "the query code the citizen was given"},
};

/* ---- dispatch ------------------------------------------------------------ */

#define CASE_ID {"CASE_ID", CTL_POS, "case_id", 0, "case id (UUID)"}
#define LOCK(f) {"--lock", CTL_OPT, f, 0, "edit-lock token from 'case lock' (default: no lock held)"}

static const ctl_arg queue_args[] = {
	{"--department", CTL_OPT, "department_id", 0, "cases of this department"},
	{"--status", CTL_OPT, "status", 0, "case status"},
	{"--handler", CTL_OPT, "handler_id", 0, "cases of this handler"},
	{"--ticket", CTL_OPT, "ticket_id", 0, "the cases of one ticket"},
	{"--overdue", CTL_FLAG, "overdue_only", 0, "only cases with a passed deadline"},
	{"--page-size", CTL_OPT, "page_size", 0, "cases per page (default 50, max 200)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};
static const ctl_arg case_get_args[] = {{"CASE_ID", CTL_POS, "id", 0, "case id (UUID)"}};
static const ctl_arg assign_args[] = {
	CASE_ID,
	{"--department", CTL_OPT, "department_id", CTL_REQUIRED, "department that handles it"},
	{"--handler", CTL_OPT, "handler_id", 0, "handler (default: the least-loaded active one)"},
	{"--reason", CTL_OPT, "reason", CTL_REQUIRED, "the basis of the assignment (recorded)"},
	{"--assist", CTL_OPT, "assisting_department_ids", 0, "an assisting department (co-handling; repeatable)"},
	LOCK("lock_token"),
};
static const ctl_arg accept_args[] = {CASE_ID, LOCK("lock_token")};
static const ctl_arg note_args[] = {
	CASE_ID,
	{"--note", CTL_OPT, "note", CTL_REQUIRED, "what was done (a step of the handling record)"},
	LOCK("lock_token"),
};
static const ctl_arg result_args[] = {
	CASE_ID,
	{"--text", CTL_OPT, "text", CTL_REQUIRED, "the written result, for the department head's sign-off"},
	LOCK("lock_token"),
};
static const ctl_arg approve_args[] = {
	CASE_ID,
	{"--digest", CTL_OPT, "digest", 0, "SHA-256 of the result text read (refused if it changed)"},
};
static const ctl_arg reject_args[] = {
	CASE_ID,
	{"--reason", CTL_OPT, "reason", CTL_REQUIRED, "what must be redone"},
};
static const ctl_arg return_args[] = {
	CASE_ID,
	{"--reason-code", CTL_OPT, "reason_code", CTL_REQUIRED, "why it is not this department's"},
	{"--note", CTL_OPT, "note", 0, "explanation (required with reason-code other)"},
	LOCK("lock_token"),
};
static const ctl_arg transfer_args[] = {
	CASE_ID,
	{"--department", CTL_OPT, "department_id", CTL_REQUIRED, "the department it goes to"},
	{"--reason", CTL_OPT, "reason", CTL_REQUIRED, "why (recorded as the basis)"},
	LOCK("lock_token"),
};
static const ctl_arg pause_args[] = {
	CASE_ID,
	{"--reason", CTL_OPT, "reason", CTL_REQUIRED, "what the case waits for (the clock stops)"},
	LOCK("lock_token"),
};
static const ctl_arg resume_args[] = {CASE_ID, LOCK("lock_token")};
static const ctl_arg extend_args[] = {
	CASE_ID,
	{"--deadline", CTL_OPT, "deadline_kind", CTL_REQUIRED, "which deadline"},
	{"--amount", CTL_OPT, "extra.amount", CTL_REQUIRED, "how much more time"},
	{"--unit", CTL_OPT, "extra.unit", CTL_REQUIRED, "unit of --amount"},
	{"--reason", CTL_OPT, "reason", CTL_REQUIRED, "why more time is needed"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};
static const ctl_arg decide_args[] = {
	{"EXTENSION_ID", CTL_POS, "extension_id", 0, "extension id (UUID)"},
	{"--approve", CTL_FLAG, "approve", 0, "approve (default: reject)"},
	{"--opinion", CTL_OPT, "opinion", 0, "the decision's opinion (required to reject)"},
};
static const ctl_arg supervise_args[] = {
	CASE_ID,
	{"--note", CTL_OPT, "note", CTL_REQUIRED, "the supervision instruction (督办)"},
};
static const ctl_arg lock_args[] = {CASE_ID};
static const ctl_arg unlock_args[] = {CASE_ID, {"--lock", CTL_OPT, "lock_token", CTL_REQUIRED, "the token to release"}};
static const ctl_arg notices_args[] = {
	{"--department", CTL_OPT, "department_id", 0, "notices of this department"},
	{"--case", CTL_OPT, "case_id", 0, "notices of one case"},
	{"--recipient", CTL_OPT, "recipient_id", 0, "notices to this person (default for most roles: yourself)"},
	{"--page-size", CTL_OPT, "page_size", 0, "notices per page"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};
static const ctl_arg dept_put_args[] = {
	{"ID", CTL_POS, "department.id", 0, "department id (lowercase slug)"},
	{"--name", CTL_OPT, "department.name", CTL_REQUIRED, "its name"},
	{"--parent", CTL_OPT, "department.parent_id", 0, "the parent department"},
	{"--head", CTL_OPT, "department.head_id", 0, "the head (staff id = token sub) who signs results off"},
	{"--deputy", CTL_OPT, "department.deputy_ids", 0, "a deputy of the head (repeatable)"},
	{"--active", CTL_FLAG, "department.active", 0, "receives cases (default true; --active=false retires it)"},
};
static const ctl_arg staff_put_args[] = {
	{"ID", CTL_POS, "staff.id", 0, "staff id (the token sub)"},
	{"--name", CTL_OPT, "staff.name", CTL_REQUIRED, "name"},
	{"--department", CTL_OPT, "staff.department_id", CTL_REQUIRED, "department"},
	{"--skill", CTL_OPT, "staff.skills", 0, "a skill for rules that require one (repeatable)"},
	{"--supervisor", CTL_FLAG, "staff.supervisor", 0, "receives overdue escalations"},
	{"--active", CTL_FLAG, "staff.active", 0, "takes cases (default true; --active=false)"},
};
static const ctl_arg staff_list_args[] = {{"--department", CTL_OPT, "department_id", 0, "one department"}};
static const ctl_arg rule_put_args[] = {
	{"--id", CTL_OPT, "rule.id", 0, "the rule to change (default: a new rule)"},
	{"--name", CTL_OPT, "rule.name", CTL_REQUIRED, "name"},
	{"--position", CTL_OPT, "rule.position", 0, "order (lower first; the first matching rule wins)"},
	{"--category", CTL_OPT, "rule.categories", 0, "matches this category (repeatable)"},
	{"--channel", CTL_OPT, "rule.channels", 0, "matches this channel (repeatable)"},
	{"--topic-keyword", CTL_OPT, "rule.topic_keywords", 0, "text in the topic (repeatable)"},
	{"--keyword", CTL_OPT, "rule.description_keywords", 0, "text in the description (repeatable)"},
	{"--area", CTL_OPT, "rule.areas", 0, "text in the area (repeatable)"},
	{"--department", CTL_OPT, "rule.target_department_id", CTL_REQUIRED, "where matching tickets go"},
	{"--skill", CTL_OPT, "rule.required_skill", 0, "handlers need this skill"},
	{"--active", CTL_FLAG, "rule.active", 0, "in use (default true; --active=false)"},
};
static const ctl_arg sla_get_args[] = {
	{"--category", CTL_OPT, "category", CTL_REQUIRED, "category"},
	{"--priority", CTL_OPT, "priority", CTL_REQUIRED, "priority"},
};
static const ctl_arg sla_put_args[] = {
	{"--category", CTL_OPT, "policy.category", CTL_REQUIRED, "category"},
	{"--priority", CTL_OPT, "policy.priority", CTL_REQUIRED, "priority"},
	{"--accept", CTL_OPT, "policy.accept_within.amount", CTL_REQUIRED, "accept within this many units"},
	{"--accept-unit", CTL_OPT, "policy.accept_within.unit", CTL_REQUIRED, "unit of --accept"},
	{"--complete", CTL_OPT, "policy.complete_within.amount", CTL_REQUIRED, "result approved within"},
	{"--complete-unit", CTL_OPT, "policy.complete_within.unit", CTL_REQUIRED, "unit of --complete"},
	{"--reply", CTL_OPT, "policy.reply_within.amount", CTL_REQUIRED, "citizen replied within"},
	{"--reply-unit", CTL_OPT, "policy.reply_within.unit", CTL_REQUIRED, "unit of --reply"},
	{"--warning", CTL_OPT, "policy.warning_permille", CTL_REQUIRED, "warn at this share of the time, in ‰ (800)"},
};
static const ctl_arg calendar_put_args[] = {
	{"SPEC", CTL_POS, "calendar.text", 0,
	 "e.g. 'zone=Asia/Shanghai;mon-fri=09:00-12:00,13:30-17:30;holidays=2025-01-28..2025-02-04;"
	 "makeup=2025-01-26,2025-02-08'"},
};

/* Admin records are active unless --active=false says otherwise. */
static hl_status default_active(ctl_ctx *x, ProtobufCMessage *req, const char *path, hl_error *err)
{
	return ctl_arg_given(x, "--active") ? HL_OK : ctl_bind(ctl_arena(x), req, path, "true", err);
}

static hl_status build_dept_put(ctl_ctx *x, ProtobufCMessage *req, hl_error *err)
{
	return default_active(x, req, "department.active", err);
}

static hl_status build_staff_put(ctl_ctx *x, ProtobufCMessage *req, hl_error *err)
{
	return default_active(x, req, "staff.active", err);
}

static hl_status build_rule_put(ctl_ctx *x, ProtobufCMessage *req, hl_error *err)
{
	return default_active(x, req, "rule.active", err);
}

/* ---- audit and outbox (every service) --------------------------------- */

static const ctl_arg audit_list_args[] = {
	{"SUBJECT_ID", CTL_POS, "subject_id", 0, "subject (e.g. ticket id)"},
	{"--page-size", CTL_OPT, "page_size", 0, "entries per page"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};

static const ctl_arg audit_verify_args[] = {
	{"SUBJECT_ID", CTL_POS_OPT, "subject_id", 0, "one subject (default: every chain of the tenant)"},
};

static const ctl_arg dead_args[] = {
	{"--page-size", CTL_OPT, "page_size", 0, "dead letters per page"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};

static const ctl_arg redrive_args[] = {
	{"ID", CTL_POS_REST, "ids", 0, "dead-letter ids"},
	{"--all", CTL_FLAG, "all", 0, "every dead letter of the tenant"},
};

/* Ids or --all, not both and not neither. */
static hl_status build_redrive(ctl_ctx *x, ProtobufCMessage *req, hl_error *err)
{
	(void)x;
	const Hotline__Outbox__V1__RedriveDeadLettersRequest *r = (const void *)req;
	if (!r->n_ids == !r->all)
		return hl_fail(err, HL_INVALID, "give dead-letter IDs or --all (one of them)");
	return HL_OK;
}

/* ---- followup ---------------------------------------------------------- */

static const ctl_arg reply_tasks_args[] = {
	{"--status", CTL_OPT, "status", 0, "reply task status"},
	{"--assignee", CTL_OPT, "assignee_id", 0, "tasks of this agent (- for the pool only)"},
	{"--ticket", CTL_OPT, "ticket_id", 0, "tasks of one ticket (UUID)"},
	{"--overdue", CTL_FLAG, "overdue", 0, "only open tasks past their reply deadline"},
	{"--page-size", CTL_OPT, "page_size", 0, "tasks per page (server default 50, max 200)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};
static const ctl_arg reply_get_args[] = {{"TASK_ID", CTL_POS, "id", 0, "reply task id (UUID)"}};
static const ctl_arg reply_record_args[] = {
	{"TASK_ID", CTL_POS, "task_id", 0, "reply task id (UUID)"},
	{"--method", CTL_OPT, "method", CTL_REQUIRED, "how the citizen was contacted"},
	{"--content", CTL_OPT, "content", CTL_REQUIRED, "what was told or sent"},
	{"--outcome", CTL_OPT, "outcome", CTL_REQUIRED, "reached or unreachable"},
	{"--satisfaction", CTL_OPT, "satisfaction", 0, "the citizen's satisfaction (when reached)"},
	{"--reason", CTL_OPT, "unsatisfied_reason", 0, "why the citizen is unsatisfied (required then)"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};
static const ctl_arg reply_close_args[] = {
	{"TASK_ID", CTL_POS, "task_id", 0, "reply task id (UUID)"},
	{"--reason", CTL_OPT, "reason", CTL_REQUIRED, "why the loop ends without satisfaction"},
};

static const ctl_arg counterpart_put_args[] = {
	{"ID", CTL_POS, "counterpart.id", 0, "the counterpart's key (e.g. a credit code)"},
	{"--name", CTL_OPT, "counterpart.name", CTL_REQUIRED, "name"},
	{"--risk-level", CTL_OPT, "counterpart.risk_level", CTL_REQUIRED, "risk level"},
	{"--owner", CTL_OPT, "counterpart.owner_id", CTL_REQUIRED, "responsible staff member"},
	{"--department", CTL_OPT, "counterpart.department_id", 0, "department"},
	{"--active", CTL_FLAG, "counterpart.active", 0, "active (default; --active=false to stop visits)"},
};
static const ctl_arg counterpart_list_args[] = {
	{"--risk-level", CTL_OPT, "risk_level", 0, "only this risk level"},
	{"--department", CTL_OPT, "department_id", 0, "only this department"},
};
static const ctl_arg plan_put_args[] = {
	{"--risk-level", CTL_OPT, "plan.risk_level", CTL_REQUIRED, "the level this plan is for"},
	{"--interval-days", CTL_OPT, "plan.interval_days", CTL_REQUIRED, "a visit at least every N days"},
	{"--method", CTL_OPT, "plan.method", CTL_REQUIRED, "how visits are made"},
	{"--depth", CTL_OPT, "plan.depth", 0, "depth of a visit"},
	{"--responsible", CTL_OPT, "plan.responsible_id", 0, "who visits (default: the counterpart's owner)"},
	{"--target", CTL_OPT, "plan.target", 0, "target"},
	{"--scope", CTL_OPT, "plan.scope", 0, "scope"},
};
static const ctl_arg visits_args[] = {
	{"--counterpart", CTL_OPT, "counterpart_id", 0, "visits of one counterpart"},
	{"--status", CTL_OPT, "status", 0, "planned or done"},
	{"--overdue", CTL_FLAG, "overdue", 0, "planned visits past their due time"},
	{"--to-recheck", CTL_FLAG, "to_recheck", 0, "recorded visits drawn for a re-check, not re-checked yet"},
	{"--ticket", CTL_OPT, "ticket_id", 0, "the ticket visit of one ticket (UUID)"},
	{"--tickets", CTL_FLAG, "tickets_only", 0, "ticket visits only (closed tickets drawn by the sampling policy)"},
};
static const ctl_arg visit_record_args[] = {
	{"VISIT_ID", CTL_POS, "visit_id", 0, "visit id (UUID)"},
	{"--method", CTL_OPT, "method", CTL_REQUIRED, "how the visit was made"},
	{"--evidence", CTL_OPT, "evidence_ref", CTL_REQUIRED, "call recording id or signed form id"},
	{"--problem", CTL_FLAG, "problem_found", 0, "the visit found a problem (raised at compliance)"},
	{"--note", CTL_OPT, "note", 0, "what was found (required with --problem)"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};
static const ctl_arg visit_recheck_args[] = {
	{"VISIT_ID", CTL_POS, "visit_id", 0, "visit id (UUID)"},
	{"--agrees", CTL_FLAG, "agrees", 0, "the re-check confirms the record (default: it does not)"},
	{"--note", CTL_OPT, "note", 0, "what differs (required unless --agrees)"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};
static const ctl_arg coverage_args[] = {
	{"--from", CTL_OPT, "from", CTL_REQUIRED, "visits due at or after (2025-01-31 or RFC 3339)"},
	{"--to", CTL_OPT, "to", CTL_REQUIRED, "visits due before (2025-01-31 or RFC 3339)"},
	{"--department", CTL_OPT, "department_id", 0, "only this department"},
};

static const ctl_arg sampling_put_args[] = {
	{"--rule", CTL_OPT, "policy.rules", 0,
	 "category=NAME,percent=N (repeat; categories not named: complaint and report 100, consultation 10, others 0)"},
	{"--method", CTL_OPT, "policy.method", 0, "phone (default) or questionnaire"},
	{"--within-days", CTL_OPT, "policy.within_days", 0, "working days to make the visit (default 5)"},
	{"--responsible", CTL_OPT, "policy.responsible_id", 0, "who makes ticket visits (default: any recorder)"},
};
static const ctl_arg followup_notices_args[] = {
	{"--unacknowledged", CTL_FLAG, "unacknowledged", 0, "only notices not acknowledged yet"},
	{"--all", CTL_FLAG, "all", 0, "every notice of the tenant (supervisor, auditor, inspector, tenant_admin)"},
	{"--page-size", CTL_OPT, "page_size", 0, "notices per page (server default 50, max 200)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};
static const ctl_arg notice_ack_args[] = {{"NOTICE_ID", CTL_POS, "notice_id", 0, "notice id (UUID)"}};

static hl_status build_counterpart_put(ctl_ctx *x, ProtobufCMessage *req, hl_error *err)
{
	return default_active(x, req, "counterpart.active", err);
}

/* ---- compliance -------------------------------------------------------- */

static const ctl_arg review_list_args[] = {
	{"--status", CTL_OPT, "status", 0, "pending, approved or rejected"},
	{"--action", CTL_OPT, "action", 0, "gated action, e.g. dispatch.extension"},
	{"--subject", CTL_OPT, "subject_id", 0, "reviews of one subject"},
	{"--mine", CTL_FLAG, "mine", 0, "only reviews you requested"},
	{"--page-size", CTL_OPT, "page_size", 0, "reviews per page (server default 50, max 200)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};
static const ctl_arg review_get_args[] = {{"REVIEW_ID", CTL_POS, "id", 0, "review id (UUID)"}};
static const ctl_arg review_request_args[] = {
	{"--action", CTL_OPT, "action", CTL_REQUIRED, "gated action, e.g. followup.visit_plan"},
	{"--subject-type", CTL_OPT, "subject_type", 0, "kind of subject, e.g. visit_plan"},
	{"--subject", CTL_OPT, "subject_id", CTL_REQUIRED, "the subject's id"},
	{"--digest", CTL_OPT, "content_digest", CTL_REQUIRED, "hex SHA-256 of the content to release"},
	{"--summary", CTL_OPT, "summary", 0, "what the reviewer is asked to approve (no personal data)"},
	{"--ticket", CTL_OPT, "ticket_id", 0, "ticket concerned (UUID)"},
	{"--department", CTL_OPT, "department_id", 0, "department concerned"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};
static const ctl_arg review_decide_args[] = {
	{"REVIEW_ID", CTL_POS, "review_id", 0, "review id (UUID)"},
	{"--approve", CTL_FLAG, "approve", 0, "approve (default: reject)"},
	{"--opinion", CTL_OPT, "opinion", 0, "the review opinion (required to reject)"},
};
static const ctl_arg gate_list_args[] = {{"--action", CTL_OPT, "action", 0, "rules of one action"}};
static const ctl_arg gate_put_args[] = {
	{"ID", CTL_POS, "rule.id", 0, "the rule's id, e.g. long-extension"},
	{"--action", CTL_OPT, "rule.action", CTL_REQUIRED, "gated action, e.g. dispatch.extension"},
	{"--subject-type", CTL_OPT, "rule.subject_type", 0, "only this subject type"},
	{"--category", CTL_OPT, "rule.categories", 0, "only these categories (repeatable)"},
	{"--min-priority", CTL_OPT, "rule.min_priority", 0, "only at this priority or above"},
	{"--min-extension-hours", CTL_OPT, "rule.min_extension_hours", 0, "only extensions of this many hours or more"},
	{"--reviewer-role", CTL_OPT, "rule.reviewer_role", 0, "who reviews (default reviewer)"},
	{"--enabled", CTL_FLAG, "rule.enabled", 0, "in force (default; --enabled=false switches the gate off)"},
};
static const ctl_arg violation_file_args[] = {
	{"--kind", CTL_OPT, "kind", CTL_REQUIRED, "kind of violation"},
	{"--department", CTL_OPT, "department_id", 0, "department concerned"},
	{"--person", CTL_OPT, "person_id", 0, "person concerned (staff id)"},
	{"--description", CTL_OPT, "description", CTL_REQUIRED, "what happened (no personal data)"},
	{"--points", CTL_OPT, "points", 0, "deduction (default: the kind's)"},
	{"--ticket", CTL_OPT, "ticket_id", 0, "ticket concerned (UUID)"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};
static const ctl_arg violation_list_args[] = {
	{"--department", CTL_OPT, "department_id", 0, "only this department"},
	{"--person", CTL_OPT, "person_id", 0, "only this person"},
	{"--kind", CTL_OPT, "kind", 0, "only this kind"},
	{"--from", CTL_OPT, "from", 0, "recorded at or after (2025-01-31 or RFC 3339)"},
	{"--to", CTL_OPT, "to", 0, "recorded before (2025-01-31 or RFC 3339)"},
	{"--page-size", CTL_OPT, "page_size", 0, "violations per page (server default 50, max 200)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};
static const ctl_arg violation_appeal_args[] = {
	{"VIOLATION_ID", CTL_POS, "violation_id", 0, "violation id (UUID)"},
	{"--note", CTL_OPT, "note", CTL_REQUIRED, "the appeal"},
};
static const ctl_arg risk_event_raise_args[] = {
	{"--level", CTL_OPT, "level", CTL_REQUIRED, "major or general"},
	{"--department", CTL_OPT, "department_id", CTL_REQUIRED, "department concerned"},
	{"--description", CTL_OPT, "description", CTL_REQUIRED, "what happened (no personal data)"},
	{"--occurred-at", CTL_OPT, "occurred_at", 0, "when it happened (default: now)"},
	{"--emergency-plan", CTL_FLAG, "emergency_plan", 0, "the emergency plan was started"},
	{"--risk", CTL_OPT, "risk_id", 0, "the register's risk (UUID)"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};
static const ctl_arg risk_event_accept_args[] = {
	{"EVENT_ID", CTL_POS, "risk_event_id", 0, "risk event id (UUID)"},
	{"--emergency-plan", CTL_FLAG, "emergency_plan", 0, "start the emergency plan"},
	{"--note", CTL_OPT, "note", 0, "note"},
};
static const ctl_arg risk_event_close_args[] = {
	{"EVENT_ID", CTL_POS, "risk_event_id", 0, "risk event id (UUID)"},
	{"--outcome", CTL_OPT, "outcome", CTL_REQUIRED, "how it was handled"},
};
static const ctl_arg risk_event_list_args[] = {
	{"--level", CTL_OPT, "level", 0, "major or general"},
	{"--status", CTL_OPT, "status", 0, "reported, accepted or closed"},
	{"--department", CTL_OPT, "department_id", 0, "only this department"},
	{"--overdue", CTL_FLAG, "overdue_only", 0, "only events not accepted by their deadline"},
	{"--page-size", CTL_OPT, "page_size", 0, "events per page (server default 50, max 200)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};
static const ctl_arg risk_put_args[] = {
	{"--id", CTL_OPT, "risk.id", 0, "the risk to change (UUID; none: a new risk)"},
	{"--name", CTL_OPT, "risk.name", CTL_REQUIRED, "name"},
	{"--type", CTL_OPT, "risk.type", CTL_REQUIRED, "type, e.g. legal, data_security"},
	{"--level", CTL_OPT, "risk.level", CTL_REQUIRED, "1 high, 2 general, 3 low"},
	{"--measures", CTL_OPT, "risk.measures", CTL_REQUIRED, "control measures"},
	{"--owner", CTL_OPT, "risk.owner_id", CTL_REQUIRED, "owner (staff id)"},
	{"--department", CTL_OPT, "risk.department_id", 0, "department"},
	{"--description", CTL_OPT, "risk.description", 0, "description"},
	{"--every-days", CTL_OPT, "risk.review_every_days", CTL_REQUIRED, "periodic check every N days"},
	{"--next-review", CTL_OPT, "risk.next_review_at", 0, "date of the next check (default: in N days)"},
	{"--active", CTL_FLAG, "risk.active", 0, "in the register (default; --active=false retires it)"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};
static const ctl_arg risk_list_args[] = {
	{"--level", CTL_OPT, "level", 0, "only this level"},
	{"--type", CTL_OPT, "type", 0, "only this type"},
	{"--department", CTL_OPT, "department_id", 0, "only this department"},
	{"--all", CTL_FLAG, "include_inactive", 0, "retired risks too"},
};
static const ctl_arg warning_issue_args[] = {
	{"--department", CTL_OPT, "department_id", CTL_REQUIRED, "the warned department"},
	{"--title", CTL_OPT, "title", CTL_REQUIRED, "title"},
	{"--content", CTL_OPT, "content", CTL_REQUIRED, "what is to be rectified"},
	{"--risk", CTL_OPT, "risk_id", 0, "the register's risk (UUID)"},
	{"--rectify-by", CTL_OPT, "rectify_by", 0, "rectification deadline"},
	{"--request-id", CTL_OPT, "request_id", CTL_NEW_ID, "idempotency key (default: a new UUID)"},
};
static const ctl_arg warning_list_args[] = {
	{"--department", CTL_OPT, "department_id", 0, "only this department"},
	{"--status", CTL_OPT, "status", 0, "issued, acknowledged or rectified"},
	{"--page-size", CTL_OPT, "page_size", 0, "warnings per page (server default 50, max 200)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};
static const ctl_arg warning_ack_args[] = {{"WARNING_ID", CTL_POS, "warning_id", 0, "warning id (UUID)"}};
static const ctl_arg warning_rectify_args[] = {
	{"WARNING_ID", CTL_POS, "warning_id", 0, "warning id (UUID)"},
	{"--rectification", CTL_OPT, "rectification", CTL_REQUIRED, "what was done"},
};
static const ctl_arg compliance_notices_args[] = {
	{"--page-size", CTL_OPT, "page_size", 0, "notices per page (server default 50, max 200)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};

static hl_status build_gate_put(ctl_ctx *x, ProtobufCMessage *req, hl_error *err)
{
	return ctl_arg_given(x, "--enabled") ? HL_OK : ctl_bind(ctl_arena(x), req, "rule.enabled", "true", err);
}

static hl_status build_risk_put(ctl_ctx *x, ProtobufCMessage *req, hl_error *err)
{
	return default_active(x, req, "risk.active", err);
}
/* ---- reporting ---------------------------------------------------------- */

#define LEDGER_FILTER_ARGS                                                                                         \
	{"--from", CTL_OPT, "filter.from_date", 0, "received on or after (YYYY-MM-DD, tenant's zone)"},           \
	{"--to", CTL_OPT, "filter.to_date", 0, "received on or before (YYYY-MM-DD)"},                              \
	{"--department", CTL_OPT, "filter.department_id", 0, "handling department"},                              \
	{"--category", CTL_OPT, "filter.category", 0, "category"},                                                \
	{"--channel", CTL_OPT, "filter.channel", 0, "channel"},                                                   \
	{"--status", CTL_OPT, "filter.status", 0, "ticket status"},                                               \
	{"--overdue", CTL_FLAG, "filter.overdue_only", 0, "only tickets completed late or past their deadline"}, \
	{"--no", CTL_OPT, "filter.ticket_no", 0, "one ticket number"}

static const ctl_arg ledger_args[] = {
	LEDGER_FILTER_ARGS,
	{"--page-size", CTL_OPT, "page_size", 0, "rows per page (server default 50, max 500)"},
	{"--page-token", CTL_OPT, "page_token", 0, "next_page_token of the previous page"},
};

static const ctl_arg export_args[] = {
	LEDGER_FILTER_ARGS,
	{"--bom", CTL_FLAG, "bom", 0, "start with the UTF-8 byte order mark (for Excel)"},
};

static const ctl_arg report_date_args[] = {
	{"DATE", CTL_POS, "date", 0, "report day (YYYY-MM-DD)"},
};

static const ctl_arg report_list_args[] = {
	{"--from", CTL_OPT, "from_date", 0, "first day (YYYY-MM-DD)"},
	{"--to", CTL_OPT, "to_date", 0, "last day (YYYY-MM-DD)"},
};

static const ctl_arg settings_put_args[] = {
	{"--zone", CTL_OPT, "settings.zone", CTL_REQUIRED, "IANA time zone, e.g. Asia/Shanghai"},
	{"--cutoff-minutes", CTL_OPT, "settings.cutoff_minutes", CTL_REQUIRED,
	 "minutes after local midnight that end the day (1..1440; 1440: the calendar day)"},
};

static const ctl_arg kpi_args[] = {
	{"--from", CTL_OPT, "from_date", CTL_REQUIRED, "first day of the period (YYYY-MM-DD)"},
	{"--to", CTL_OPT, "to_date", CTL_REQUIRED, "last day of the period (YYYY-MM-DD)"},
	{"--by", CTL_OPT, "group_by", 0, "group by department or person (default: the tenant)"},
	{"--department", CTL_OPT, "department_id", 0, "one department"},
	{"--group-tenant", CTL_OPT, "tenants", 0, "a tenant of the group view (repeatable; needs the tenants claim)"},
};

static const ctl_arg disclosure_args[] = {
	{"--from", CTL_OPT, "from_date", CTL_REQUIRED, "first day (YYYY-MM-DD)"},
	{"--to", CTL_OPT, "to_date", CTL_REQUIRED, "last day (YYYY-MM-DD)"},
};

/* ---- the table ---------------------------------------------------------- */

#define MSG(pkg, name) &hotline__##pkg##__v1__##name##__descriptor
#define CALL(pkg, req, resp) MSG(pkg, req), MSG(pkg, resp)

const ctl_cmd ctl_commands[] = {
	{NULL, "token", "print a dev token (HS256) for --as/--roles/--tenant", NULL, NULL, NULL, NULL, NULL, 0, 0, NULL,
	 ctl_run_token},
	{"ticket", "create", "register a contact; prints the ticket and the citizen's query code", "intake",
	 INTAKE "CreateTicket", CALL(intake, create_ticket_request, create_ticket_response), ARGS(create_args), 0, NULL,
	 NULL},
	{"ticket", "get", "one ticket by id or number, caller data masked", "intake", INTAKE "GetTicket",
	 CALL(intake, get_ticket_request, get_ticket_response), ARGS(get_args), 0, build_get, NULL},
	{"ticket", "list", "tickets of the acting tenant, newest first", "intake", INTAKE "ListTickets",
	 CALL(intake, list_tickets_request, list_tickets_response), ARGS(list_args), 0, NULL, NULL},
	{"ticket", "amend", "append a correction with a reason (the registration is kept)", "intake",
	 INTAKE "AmendTicket", CALL(intake, amend_ticket_request, amend_ticket_response), ARGS(amend_args), 0,
	 build_amend, NULL},
	{"ticket", "reveal", "clear caller data (pii_reader, with a reason; audited)", "intake", INTAKE "RevealCaller",
	 CALL(intake, reveal_caller_request, reveal_caller_response), ARGS(reveal_args), 0, NULL, NULL},
	{"ticket", "by-phone", "tickets of the same caller (blind index of the phone)", "intake",
	 INTAKE "FindTicketsByPhone", CALL(intake, find_tickets_by_phone_request, find_tickets_by_phone_response),
	 ARGS(phone_args), 0, NULL, NULL},
	{NULL, "public-status", "what the citizen sees, by ticket number and query code (no token)", "intake",
	 INTAKE "GetPublicStatus", CALL(intake, get_public_status_request, get_public_status_response),
	 ARGS(public_args), CTL_PUBLIC, NULL, NULL},
	{"case", "queue", "cases you may see: a department's queue, a handler's, the dispatcher queue", "dispatch",
	 DISPATCH "ListCases", CALL(dispatch, list_cases_request, list_cases_response), ARGS(queue_args), 0, NULL, NULL},
	{"case", "get", "one case with its basis, deadlines and handling steps", "dispatch", DISPATCH "GetCase",
	 CALL(dispatch, get_case_request, get_case_response), ARGS(case_get_args), 0, NULL, NULL},
	{"case", "assign", "assign to a department (and handler) with a reason (dispatcher, dept_head)", "dispatch",
	 DISPATCH "AssignCase", CALL(dispatch, assign_case_request, assign_case_response), ARGS(assign_args), 0, NULL,
	 NULL},
	{"case", "accept", "accept an assigned case (starts the handling)", "dispatch", DISPATCH "AcceptCase",
	 CALL(dispatch, accept_case_request, accept_case_response), ARGS(accept_args), 0, NULL, NULL},
	{"case", "note", "record a step of the handling", "dispatch", DISPATCH "AddCaseNote",
	 CALL(dispatch, add_case_note_request, add_case_note_response), ARGS(note_args), 0, NULL, NULL},
	{"case", "result", "submit the written result for sign-off", "dispatch", DISPATCH "SubmitResult",
	 CALL(dispatch, submit_result_request, submit_result_response), ARGS(result_args), 0, NULL, NULL},
	{"case", "approve", "sign the result off (head of the department or a deputy)", "dispatch",
	 DISPATCH "ApproveResult", CALL(dispatch, approve_result_request, approve_result_response), ARGS(approve_args), 0,
	 NULL, NULL},
	{"case", "reject", "send the result back for more work (head or deputy)", "dispatch", DISPATCH "RejectResult",
	 CALL(dispatch, reject_result_request, reject_result_response), ARGS(reject_args), 0, NULL, NULL},
	{"case", "return", "not ours: back to routing with a reason code (退回)", "dispatch", DISPATCH "ReturnCase",
	 CALL(dispatch, return_case_request, return_case_response), ARGS(return_args), 0, NULL, NULL},
	{"case", "transfer", "move to another department (转办; dispatcher, supervisor)", "dispatch",
	 DISPATCH "TransferCase", CALL(dispatch, transfer_case_request, transfer_case_response), ARGS(transfer_args), 0,
	 NULL, NULL},
	{"case", "pause", "stop the clock while waiting for the citizen", "dispatch", DISPATCH "PauseCase",
	 CALL(dispatch, pause_case_request, pause_case_response), ARGS(pause_args), 0, NULL, NULL},
	{"case", "resume", "start the clock again", "dispatch", DISPATCH "ResumeCase",
	 CALL(dispatch, resume_case_request, resume_case_response), ARGS(resume_args), 0, NULL, NULL},
	{"case", "extend", "ask for more time (a supervisor decides)", "dispatch", DISPATCH "RequestExtension",
	 CALL(dispatch, request_extension_request, request_extension_response), ARGS(extend_args), 0, NULL, NULL},
	{"case", "decide-extension", "approve or reject an extension request (supervisor)", "dispatch",
	 DISPATCH "DecideExtension", CALL(dispatch, decide_extension_request, decide_extension_response),
	 ARGS(decide_args), 0, NULL, NULL},
	{"case", "supervise", "issue a supervision notice (督办; supervisor, inspector)", "dispatch",
	 DISPATCH "SuperviseCase", CALL(dispatch, supervise_case_request, supervise_case_response), ARGS(supervise_args),
	 0, NULL, NULL},
	{"case", "lock", "take the edit lock; prints the token for --lock", "dispatch", DISPATCH "LockCase",
	 CALL(dispatch, lock_case_request, lock_case_response), ARGS(lock_args), 0, NULL, NULL},
	{"case", "unlock", "release the edit lock", "dispatch", DISPATCH "UnlockCase",
	 CALL(dispatch, unlock_case_request, unlock_case_response), ARGS(unlock_args), 0, NULL, NULL},
	{NULL, "notices", "supervision notices: warnings, overdue escalations, 督办", "dispatch", DISPATCH "ListNotices",
	 CALL(dispatch, list_notices_request, list_notices_response), ARGS(notices_args), 0, NULL, NULL},
	{"reply", "tasks", "reply tasks: your own and the pool's (agents), or any (supervisor)", "followup",
	 FOLLOWUP "ListReplyTasks", CALL(followup, list_reply_tasks_request, list_reply_tasks_response),
	 ARGS(reply_tasks_args), 0, NULL, NULL},
	{"reply", "get", "one reply task with every reply recorded on it", "followup", FOLLOWUP "GetReplyTask",
	 CALL(followup, get_reply_task_request, get_reply_task_response), ARGS(reply_get_args), 0, NULL, NULL},
	{"reply", "record", "record a contact with the citizen and their satisfaction (反馈)", "followup",
	 FOLLOWUP "RecordReply", CALL(followup, record_reply_request, record_reply_response), ARGS(reply_record_args), 0,
	 NULL, NULL},
	{"reply", "close", "end the reply loop with a reason (supervisor)", "followup", FOLLOWUP "CloseReplyTask",
	 CALL(followup, close_reply_task_request, close_reply_task_response), ARGS(reply_close_args), 0, NULL, NULL},
	{"counterparts", "put", "create or change a counterpart with its risk level (plans its visit)", "followup",
	 FOLLOWUP "PutCounterpart", CALL(followup, put_counterpart_request, put_counterpart_response),
	 ARGS(counterpart_put_args), 0, build_counterpart_put, NULL},
	{"counterparts", "list", "counterparts of the tenant", "followup", FOLLOWUP "ListCounterparts",
	 CALL(followup, list_counterparts_request, list_counterparts_response), ARGS(counterpart_list_args), 0, NULL,
	 NULL},
	{"visit", "plan", "set the visit plan of a risk level", "followup", FOLLOWUP "PutVisitPlan",
	 CALL(followup, put_visit_plan_request, put_visit_plan_response), ARGS(plan_put_args), 0, NULL, NULL},
	{"visit", "list", "planned and done visits", "followup", FOLLOWUP "ListVisits",
	 CALL(followup, list_visits_request, list_visits_response), ARGS(visits_args), 0, NULL, NULL},
	{"visit", "record", "record a visit with its evidence (回访)", "followup", FOLLOWUP "RecordVisit",
	 CALL(followup, record_visit_request, record_visit_response), ARGS(visit_record_args), 0, NULL, NULL},
	{"visit", "recheck", "re-verify a visit someone else recorded", "followup", FOLLOWUP "RecheckVisit",
	 CALL(followup, recheck_visit_request, recheck_visit_response), ARGS(visit_recheck_args), 0, NULL, NULL},
	{"visit", "coverage", "planned vs done visits per risk level", "followup", FOLLOWUP "GetCoverage",
	 CALL(followup, get_coverage_request, get_coverage_response), ARGS(coverage_args), 0, NULL, NULL},
	{"sampling", "get", "the policy that samples closed tickets for a visit (auditors also get its key)",
	 "followup", FOLLOWUP "GetSamplingPolicy", CALL(followup, get_sampling_policy_request,
	 get_sampling_policy_response), NULL, 0, 0, NULL, NULL},
	{"sampling", "put", "set the percentage of closed tickets visited per category", "followup",
	 FOLLOWUP "PutSamplingPolicy", CALL(followup, put_sampling_policy_request, put_sampling_policy_response),
	 ARGS(sampling_put_args), 0, NULL, NULL},
	{"followup", "notices", "overdue reply and visit notices addressed to you", "followup", FOLLOWUP "ListNotices",
	 CALL(followup, list_notices_request, list_notices_response), ARGS(followup_notices_args), 0, NULL, NULL},
	{"followup", "ack", "acknowledge an overdue notice addressed to you", "followup", FOLLOWUP "AcknowledgeNotice",
	 CALL(followup, acknowledge_notice_request, acknowledge_notice_response), ARGS(notice_ack_args), 0, NULL, NULL},
	{"review", "list", "compliance reviews (reviewers see all, others their own requests)", "compliance",
	 COMPLIANCE "ListReviews", CALL(compliance, list_reviews_request, list_reviews_response), ARGS(review_list_args),
	 0, NULL, NULL},
	{"review", "get", "one review with its decision", "compliance", COMPLIANCE "GetReview",
	 CALL(compliance, get_review_request, get_review_response), ARGS(review_get_args), 0, NULL, NULL},
	{"review", "request", "ask for a review of some content ahead of a gated action", "compliance",
	 COMPLIANCE "RequestReview", CALL(compliance, request_review_request, request_review_response),
	 ARGS(review_request_args), 0, NULL, NULL},
	{"review", "decide", "approve or reject a review you did not request (合规审查)", "compliance",
	 COMPLIANCE "DecideReview", CALL(compliance, decide_review_request, decide_review_response),
	 ARGS(review_decide_args), 0, NULL, NULL},
	{"gate", "rules", "the review gates in force (the tenant's and the defaults)", "compliance",
	 COMPLIANCE "ListGateRules", CALL(compliance, list_gate_rules_request, list_gate_rules_response),
	 ARGS(gate_list_args), 0, NULL, NULL},
	{"gate", "put", "create or change a gate rule (tenant_admin)", "compliance", COMPLIANCE "PutGateRule",
	 CALL(compliance, put_gate_rule_request, put_gate_rule_response), ARGS(gate_put_args), 0, build_gate_put, NULL},
	{"violation", "file", "record a violation against a person or department (问责)", "compliance",
	 COMPLIANCE "FileViolation", CALL(compliance, file_violation_request, file_violation_response),
	 ARGS(violation_file_args), 0, NULL, NULL},
	{"violation", "list", "violations with their points", "compliance", COMPLIANCE "ListViolations",
	 CALL(compliance, list_violations_request, list_violations_response), ARGS(violation_list_args), 0, NULL, NULL},
	{"violation", "appeal", "appeal a violation (the person or their department head)", "compliance",
	 COMPLIANCE "AppealViolation", CALL(compliance, appeal_violation_request, appeal_violation_response),
	 ARGS(violation_appeal_args), 0, NULL, NULL},
	{"risk-event", "raise", "report a risk event (major: 2 h, general: 24 h)", "compliance",
	 COMPLIANCE "RaiseRiskEvent", CALL(compliance, raise_risk_event_request, raise_risk_event_response),
	 ARGS(risk_event_raise_args), 0, NULL, NULL},
	{"risk-event", "accept", "file a reported risk event (compliance office)", "compliance",
	 COMPLIANCE "AcceptRiskEvent", CALL(compliance, accept_risk_event_request, accept_risk_event_response),
	 ARGS(risk_event_accept_args), 0, NULL, NULL},
	{"risk-event", "close", "close an accepted risk event with its outcome", "compliance",
	 COMPLIANCE "CloseRiskEvent", CALL(compliance, close_risk_event_request, close_risk_event_response),
	 ARGS(risk_event_close_args), 0, NULL, NULL},
	{"risk-event", "list", "risk events", "compliance", COMPLIANCE "ListRiskEvents",
	 CALL(compliance, list_risk_events_request, list_risk_events_response), ARGS(risk_event_list_args), 0, NULL,
	 NULL},
	{"risk", "put", "create or change a risk of the register", "compliance", COMPLIANCE "PutRisk",
	 CALL(compliance, put_risk_request, put_risk_response), ARGS(risk_put_args), 0, build_risk_put, NULL},
	{"risk", "list", "the risk register", "compliance", COMPLIANCE "ListRisks",
	 CALL(compliance, list_risks_request, list_risks_response), ARGS(risk_list_args), 0, NULL, NULL},
	{"warning", "issue", "issue a warning notice to a department", "compliance", COMPLIANCE "IssueWarning",
	 CALL(compliance, issue_warning_request, issue_warning_response), ARGS(warning_issue_args), 0, NULL, NULL},
	{"warning", "list", "warnings and the share rectified", "compliance", COMPLIANCE "ListWarnings",
	 CALL(compliance, list_warnings_request, list_warnings_response), ARGS(warning_list_args), 0, NULL, NULL},
	{"warning", "ack", "acknowledge a warning to your department (its head)", "compliance",
	 COMPLIANCE "AcknowledgeWarning", CALL(compliance, acknowledge_warning_request, acknowledge_warning_response),
	 ARGS(warning_ack_args), 0, NULL, NULL},
	{"warning", "rectify", "report a warning rectified (its head)", "compliance", COMPLIANCE "RectifyWarning",
	 CALL(compliance, rectify_warning_request, rectify_warning_response), ARGS(warning_rectify_args), 0, NULL,
	 NULL},
	{"compliance", "notices", "what compliance told you, your roles and your department", "compliance",
	 COMPLIANCE "ListNotices", CALL(compliance, list_notices_request, list_notices_response), ARGS(compliance_notices_args), 0,
	 NULL, NULL},
	{"ledger", "list", "the ledger (台账): one row per ticket, filtered, paged", "reporting", REPORTING "GetLedger",
	 CALL(reporting, get_ledger_request, get_ledger_response), ARGS(ledger_args), 0, NULL, NULL},
	{"ledger", "export", "the ledger as CSV on stdout, every row (streamed)", "reporting", REPORTING "ExportLedger",
	 CALL(reporting, export_ledger_request, export_ledger_response), ARGS(export_args), CTL_STREAM, NULL, NULL},
	{"report", "get", "the frozen, signed daily report of a day (日报)", "reporting", REPORTING "GetDailyReport",
	 CALL(reporting, get_daily_report_request, get_daily_report_response), ARGS(report_date_args), 0, NULL, NULL},
	{"report", "list", "frozen daily reports with their hashes", "reporting", REPORTING "ListDailyReports",
	 CALL(reporting, list_daily_reports_request, list_daily_reports_response), ARGS(report_list_args), 0, NULL,
	 NULL},
	{"report", "freeze", "freeze a day whose cut-off has passed, now", "reporting", REPORTING "FreezeDailyReport",
	 CALL(reporting, freeze_daily_report_request, freeze_daily_report_response), ARGS(report_date_args), 0, NULL,
	 NULL},
	{"report", "settings", "the tenant's report zone and daily cut-off", "reporting", REPORTING "GetReportSettings",
	 CALL(reporting, get_report_settings_request, get_report_settings_response), NULL, 0, 0, NULL, NULL},
	{"report", "set", "set the report zone and daily cut-off (tenant_admin)", "reporting", REPORTING "PutReportSettings",
	 CALL(reporting, put_report_settings_request, put_report_settings_response), ARGS(settings_put_args), 0, NULL,
	 NULL},
	{NULL, "kpis", "KPIs of a period by tenant, department or person (考核); group view with --group-tenant",
	 "reporting", REPORTING "GetKpis", CALL(reporting, get_kpis_request, get_kpis_response), ARGS(kpi_args), 0,
	 NULL, NULL},
	{NULL, "disclosure", "public figures per category, small cells suppressed (no token)", "reporting",
	 REPORTING "GetPublicDisclosure", CALL(reporting, get_public_disclosure_request, get_public_disclosure_response),
	 ARGS(disclosure_args), CTL_PUBLIC, NULL, NULL},
	{"departments", "list", "the tenant's departments", "dispatch", DISPATCH "ListDepartments",
	 CALL(dispatch, list_departments_request, list_departments_response), NULL, 0, 0, NULL, NULL},
	{"departments", "put", "create or change a department (tenant_admin)", "dispatch", DISPATCH "PutDepartment",
	 CALL(dispatch, put_department_request, put_department_response), ARGS(dept_put_args), 0, build_dept_put, NULL},
	{"staff", "list", "staff of the tenant or of one department, with open cases", "dispatch", DISPATCH "ListStaff",
	 CALL(dispatch, list_staff_request, list_staff_response), ARGS(staff_list_args), 0, NULL, NULL},
	{"staff", "put", "create or change a staff member (tenant_admin)", "dispatch", DISPATCH "PutStaff",
	 CALL(dispatch, put_staff_request, put_staff_response), ARGS(staff_put_args), 0, build_staff_put, NULL},
	{"rules", "list", "routing rules in the order they are tried", "dispatch", DISPATCH "ListRoutingRules",
	 CALL(dispatch, list_routing_rules_request, list_routing_rules_response), NULL, 0, 0, NULL, NULL},
	{"rules", "put", "create or change a routing rule (tenant_admin)", "dispatch", DISPATCH "PutRoutingRule",
	 CALL(dispatch, put_routing_rule_request, put_routing_rule_response), ARGS(rule_put_args), 0, build_rule_put,
	 NULL},
	{"sla", "get", "the SLA policy that applies to a category and priority", "dispatch", DISPATCH "GetSlaPolicy",
	 CALL(dispatch, get_sla_policy_request, get_sla_policy_response), ARGS(sla_get_args), 0, NULL, NULL},
	{"sla", "put", "set the SLA policy of a category and priority (tenant_admin)", "dispatch", DISPATCH "PutSlaPolicy",
	 CALL(dispatch, put_sla_policy_request, put_sla_policy_response), ARGS(sla_put_args), 0, NULL, NULL},
	{"calendar", "get", "the working-time calendar of the tenant", "dispatch", DISPATCH "GetCalendar",
	 CALL(dispatch, get_calendar_request, get_calendar_response), NULL, 0, 0, NULL, NULL},
	{"calendar", "put", "set the working-time calendar (tenant_admin)", "dispatch", DISPATCH "PutCalendar",
	 CALL(dispatch, put_calendar_request, put_calendar_response), ARGS(calendar_put_args), 0, NULL, NULL},
	{"audit", "list", "audit entries of one subject, in order", "intake", AUDIT "ListAuditEntries",
	 CALL(audit, list_audit_entries_request, list_audit_entries_response), ARGS(audit_list_args), CTL_ANY_SERVICE,
	 NULL, NULL},
	{"audit", "verify", "recompute one subject's chain, or every chain of the tenant", "intake",
	 AUDIT "VerifyAuditChain", CALL(audit, verify_audit_chain_request, verify_audit_chain_response),
	 ARGS(audit_verify_args), CTL_ANY_SERVICE, NULL, NULL},
	{"outbox", "dead-letters", "outbox rows that could not be delivered (tenant_admin)", "intake",
	 OUTBOX "ListDeadLetters", CALL(outbox, list_dead_letters_request, list_dead_letters_response), ARGS(dead_args),
	 CTL_ANY_SERVICE, NULL, NULL},
	{"outbox", "redrive", "queue dead letters for delivery again (tenant_admin)", "intake",
	 OUTBOX "RedriveDeadLetters", CALL(outbox, redrive_dead_letters_request, redrive_dead_letters_response),
	 ARGS(redrive_args), CTL_ANY_SERVICE, build_redrive, NULL},
	{"outbox", "stats", "backlog and dead letters of the acting tenant (tenant_admin)", "intake",
	 OUTBOX "GetOutboxStats", CALL(outbox, get_outbox_stats_request, get_outbox_stats_response), NULL, 0,
	 CTL_ANY_SERVICE, NULL, NULL},
};

const size_t ctl_n_commands = sizeof ctl_commands / sizeof ctl_commands[0];
