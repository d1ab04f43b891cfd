/*
 * rpc_risk_event.c - risk events (R21): reported by other services
 * (ReportRiskEvent, internal: a visit that found a problem) or raised by
 * staff (RaiseRiskEvent), each with its statutory deadline in clock hours
 * from when it occurred: a major event must reach the compliance office
 * within 2 h and is escalated to the leadership group (supervisors) at once;
 * a general one is handled by its department and filed within 24 h.  A
 * report made after the deadline is itself a violation (late risk report);
 * an event the compliance office has not accepted by the deadline is marked
 * overdue by its timer (deadlines.c).  The compliance office accepts
 * (files) and closes events; the emergency-plan flag records that the
 * emergency procedure was started.
 */
#include <string.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/inbox.h"
#include "hl/roles.h"
#include "store.h"

static const char *const office_roles[] = {HL_ROLE_REVIEWER, HL_ROLE_SUPERVISOR, NULL};
static const char *const read_roles[] = {HL_ROLE_REVIEWER, HL_ROLE_SUPERVISOR, HL_ROLE_INSPECTOR, HL_ROLE_AUDITOR,
					 HL_ROLE_ANALYST,  HL_ROLE_TENANT_ADMIN, NULL};

hl_status compliance_late_report_violation(hl_pg *pg, hl_arena *a, const compliance_risk_event *e, const char *actor,
					   const char *description, int64_t occurred_us, hl_error *err)
{
	char id[HL_UUID_STR_LEN];
	if (hl_uuid_v7(id))
		return hl_fail(err, HL_INTERNAL, "cannot make an id");
	compliance_violation v = {
		.id = id, .kind = VK_LATE_RISK_REPORT, .source = "compliance.risk_event", .subject_type = "risk_event",
		.subject_id = e->id, .ticket_id = "", .department_id = e->department_id,
		.person_id = e->department_id[0] ? "" : e->reported_by, .description = description,
		.points = compliance_kind_points(VK_LATE_RISK_REPORT), .occurred_us = occurred_us, .due_us = e->due_us,
	};
	return compliance_violation_record(pg, a, e->tenant, actor, &v, err);
}

/* A report that came in after its deadline is itself a violation. */
static hl_status late_report(hl_pg *pg, hl_arena *a, const compliance_risk_event *e, hl_error *err)
{
	return compliance_late_report_violation(
		pg, a, e, e->reported_by,
		e->level == RE_MAJOR ? "重大风险事件未在2小时内报告" : "一般风险事件未在24小时内报备", e->reported_us, err);
}

hl_status compliance_risk_event_changed(hl_pg *pg, hl_arena *a, const compliance_risk_event *e, const char *actor,
					const char *type, hl_error *err)
{
	Hotline__Common__V1__ComplianceChanged p = HOTLINE__COMMON__V1__COMPLIANCE_CHANGED__INIT;
	p.subject_id = (char *)e->id;
	p.department_id = (char *)e->department_id;
	p.level = e->level;
	p.source = (char *)e->source;
	p.due_at = hl_timestamp_new(a, e->due_us);
	p.on_time = !e->reported_late && !e->overdue;
	return compliance_event(pg, a, e->tenant, actor, type, "", &p, err);
}

static const char *reported_details(hl_arena *a, const compliance_risk_event *e)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"level\":%d,\"due_us\":%lld,\"late\":%s,\"emergency_plan\":%s,\"source\":", e->level,
		      (long long)e->due_us, e->reported_late ? "true" : "false", e->emergency_plan ? "true" : "false");
	hl_buf_json_string(&b, e->source);
	hl_buf_printf(&b, ",\"department\":");
	hl_buf_json_string(&b, e->department_id);
	hl_buf_putc(&b, '}');
	const char *out = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return out;
}

/* Notices of a new event: the compliance office always, the leadership group for a major one. */
static hl_status tell(hl_pg *pg, hl_arena *a, const compliance_risk_event *e, hl_error *err)
{
	const char *body = hl_arena_printf(a, "%s风险事件: %s", e->level == RE_MAJOR ? "重大" : "一般", e->description);
	if (!body)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_status st = compliance_notify(pg, a, "risk_event.reported", e->id, "role:" HL_ROLE_REVIEWER, body, err);
	if (!st && e->level == RE_MAJOR)
		st = compliance_notify(pg, a, "risk_event.escalated", e->id, "role:" HL_ROLE_SUPERVISOR, body, err);
	if (!st && e->department_id[0])
		st = compliance_notify(pg, a, "risk_event.reported", e->id, hl_arena_printf(a, "dept:%s", e->department_id),
				       body, err);
	return st;
}

/*
 * Record e (id, level, source, subject, description, occurred_us, request_id
 * set) with its deadline and every effect; *out is the stored event (an
 * earlier one for a repeated request_id).
 */
static hl_status report(hl_call *c, compliance_risk_event *e, compliance_risk_event **out)
{
	const compliance_app *app = compliance_app_of(c);
	const hl_principal *who = hl_call_principal(c);
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	hl_status st;
	e->tenant = who->tenant;
	e->reported_by = who->actor;
	if (!e->occurred_us)
		e->occurred_us = hl_now_ms() * 1000;
	e->due_us = e->occurred_us + 1000 * (e->level == RE_MAJOR ? app->major_report_ms : app->general_report_ms);
	e->status = RS_REPORTED;
	if ((st = compliance_new_id(c, &e->id)))
		return st;
	bool created;
	compliance_risk_event *existing;
	if (store_risk_event_insert(pg, a, e, &created, &existing, &err))
		return hl_call_fail_err(c, &err);
	if (!created) {
		*out = existing;
		return HL_OK;
	}
	*out = e;
	if (hl_audit_append(pg, a, e->tenant, "risk_event", e->id, who->actor, "risk_event.reported",
			    reported_details(a, e), true, &err) ||
	    compliance_risk_event_changed(pg, a, e, who->actor, "risk_event.reported", &err) || tell(pg, a, e, &err))
		return hl_call_fail_err(c, &err);
	if (e->reported_late) /* already past its deadline: the lateness is the violation, no timer */
		return late_report(pg, a, e, &err) ? hl_call_fail_err(c, &err) : HL_OK;
	return compliance_risk_event_timer(c, e);
}

static hl_status check_common(hl_call *c, const char *source, const char *subject_type, const char *subject_id,
			      const char *dept, const char *description, int64_t occurred_us)
{
	hl_status st;
	if ((st = hl_call_check_text(c, "source", source, 64, true)) ||
	    (st = hl_call_check_text(c, "subject_type", subject_type, 64, false)) ||
	    (st = compliance_check_id(c, "subject_id", subject_id, false)) ||
	    (st = compliance_check_id(c, "department_id", dept, false)) ||
	    (st = hl_call_check_text(c, "description", description, COMPLIANCE_TEXT_CHARS, true)))
		return st;
	if (occurred_us < 0 || occurred_us > (hl_now_ms() + 300000) * 1000)
		return hl_call_fail(c, HL_INVALID, "occurred_at: must not be in the future");
	return HL_OK;
}

hl_status compliance_report_risk_event(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__ReportRiskEventRequest *r = vreq;
	hl_status st;
	bool replayed;
	if (r->level < 1 || r->level > 3)
		return hl_call_fail(c, HL_INVALID, "level: 1 (high), 2 (general) or 3 (low)");
	if ((st = check_common(c, r->source, r->subject_type, r->subject_id, r->department_id, r->description,
			       hl_timestamp_us(r->occurred_at))) ||
	    (st = compliance_check_id(c, "counterpart_id", r->counterpart_id, false)) ||
	    (st = hl_inbox_begin(c, &hotline__compliance__v1__report_risk_event_response__descriptor, resp, &replayed)) ||
	    replayed)
		return st;
	compliance_risk_event e = {
		.level = r->level == 1 ? RE_MAJOR : RE_GENERAL, .source = r->source, .subject_type = r->subject_type,
		.subject_id = r->subject_id, .counterpart_id = r->counterpart_id, .department_id = r->department_id,
		.risk_id = "", .description = r->description, .occurred_us = hl_timestamp_us(r->occurred_at),
	}, *stored;
	Hotline__Compliance__V1__ReportRiskEventResponse *out =
		HL_NEW(c, hotline__compliance__v1__report_risk_event_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = report(c, &e, &stored)))
		return st;
	out->risk_event_id = (char *)stored->id;
	if ((st = hl_inbox_commit(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}

Hotline__Compliance__V1__RiskEvent *compliance_risk_event_msg(hl_call *c, const compliance_risk_event *e)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Compliance__V1__RiskEvent *m = HL_NEW(c, hotline__compliance__v1__risk_event__descriptor);
	if (!m)
		return NULL;
	m->id = (char *)e->id;
	m->level = e->level;
	m->status = e->status;
	m->source = (char *)e->source;
	m->subject_type = (char *)e->subject_type;
	m->subject_id = (char *)e->subject_id;
	m->counterpart_id = (char *)e->counterpart_id;
	m->department_id = (char *)e->department_id;
	m->description = (char *)e->description;
	m->emergency_plan = e->emergency_plan;
	m->occurred_at = hl_timestamp_new(a, e->occurred_us);
	m->reported_at = hl_timestamp_new(a, e->reported_us);
	m->due_at = hl_timestamp_new(a, e->due_us);
	m->reported_late = e->reported_late;
	m->overdue = e->overdue;
	m->reported_by = (char *)e->reported_by;
	m->accepted_by = (char *)(e->accepted_by ? e->accepted_by : "");
	m->accepted_at = hl_timestamp_new(a, e->accepted_us);
	m->closed_by = (char *)(e->closed_by ? e->closed_by : "");
	m->closed_at = hl_timestamp_new(a, e->closed_us);
	m->outcome = (char *)(e->outcome ? e->outcome : "");
	m->risk_id = (char *)e->risk_id;
	return m;
}

/* Answer with one risk event (the response types all have it as field 1). */
static hl_status answer(hl_call *c, const compliance_risk_event *e, const ProtobufCMessageDescriptor *d, void **resp)
{
	void *out = hl_call_new_message(c, d);
	Hotline__Compliance__V1__RiskEvent *m = compliance_risk_event_msg(c, e);
	if (!out || !m)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	/* RaiseRiskEventResponse, AcceptRiskEventResponse, CloseRiskEventResponse: { RiskEvent risk_event = 1; } */
	((Hotline__Compliance__V1__RaiseRiskEventResponse *)out)->risk_event = m;
	hl_status st = hl_call_commit(c);
	if (st)
		return st;
	*resp = out;
	return HL_OK;
}

hl_status compliance_raise_risk_event(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__RaiseRiskEventRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, hl_roles_staff)) || (st = hl_call_check_request_id(c, r->request_id)) ||
	    (st = check_common(c, "manual", r->subject_type, r->subject_id, r->department_id, r->description,
			       hl_timestamp_us(r->occurred_at))) ||
	    (st = compliance_check_id(c, "risk_id", r->risk_id, false)))
		return st;
	if ((int)r->level != RE_MAJOR && (int)r->level != RE_GENERAL)
		return hl_call_fail(c, HL_INVALID, "level: required, MAJOR or GENERAL");
	if (!r->department_id[0])
		return hl_call_fail(c, HL_INVALID, "department_id: required");
	if ((st = hl_call_begin(c)))
		return st;
	compliance_risk_event e = {
		.request_id = r->request_id, .level = r->level, .source = "manual", .subject_type = r->subject_type,
		.subject_id = r->subject_id, .counterpart_id = "", .department_id = r->department_id,
		.risk_id = r->risk_id, .description = r->description, .emergency_plan = r->emergency_plan,
		.occurred_us = hl_timestamp_us(r->occurred_at),
	}, *stored;
	if ((st = report(c, &e, &stored)))
		return st;
	return answer(c, stored, &hotline__compliance__v1__raise_risk_event_response__descriptor, resp);
}

static hl_status load(hl_call *c, const char *id, compliance_risk_event **e)
{
	hl_error err;
	if (!hl_uuid_valid(id))
		return hl_call_fail(c, HL_INVALID, "risk_event_id: not a UUID");
	if (store_risk_event_get(hl_call_pg(c), hl_call_arena(c), id, true, e, &err))
		return hl_call_fail_err(c, &err);
	return *e ? HL_OK : hl_call_fail(c, HL_NOT_FOUND, "risk event not found");
}

static hl_status save(hl_call *c, compliance_risk_event *e, const char *action, const char *note)
{
	hl_error err;
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"status\":%d,\"emergency_plan\":%s,\"note\":", e->status,
		      e->emergency_plan ? "true" : "false");
	hl_buf_json_string(&b, note ? note : "");
	hl_buf_putc(&b, '}');
	const char *details = hl_buf_failed(&b) ? NULL : hl_arena_strdup(hl_call_arena(c), b.data);
	hl_buf_release(&b);
	if (!details)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (store_risk_event_update(hl_call_pg(c), hl_call_arena(c), e, &err))
		return hl_call_fail_err(c, &err);
	return compliance_audit(c, "risk_event", e->id, action, details, false);
}

hl_status compliance_accept_risk_event(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__AcceptRiskEventRequest *r = vreq;
	hl_status st;
	compliance_risk_event *e;
	if ((st = hl_call_require_any(c, office_roles)) ||
	    (st = hl_call_check_text(c, "note", r->note, COMPLIANCE_NOTE_CHARS, false)) || (st = hl_call_begin(c)) ||
	    (st = load(c, r->risk_event_id, &e)))
		return st;
	if (e->status != RS_REPORTED)
		return hl_call_fail(c, HL_PRECONDITION, "the risk event was already accepted");
	e->status = RS_ACCEPTED;
	e->emergency_plan = e->emergency_plan || r->emergency_plan;
	e->accepted_by = hl_call_principal(c)->actor;
	e->accepted_us = hl_now_ms() * 1000;
	if ((st = save(c, e, "risk_event.accepted", r->note)))
		return st;
	return answer(c, e, &hotline__compliance__v1__accept_risk_event_response__descriptor, resp);
}

hl_status compliance_close_risk_event(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__CloseRiskEventRequest *r = vreq;
	hl_status st;
	compliance_risk_event *e;
	hl_error err;
	if ((st = hl_call_require_any(c, office_roles)) ||
	    (st = hl_call_check_text(c, "outcome", r->outcome, COMPLIANCE_TEXT_CHARS, true)) ||
	    (st = hl_call_begin(c)) || (st = load(c, r->risk_event_id, &e)))
		return st;
	if (e->status != RS_ACCEPTED)
		return hl_call_fail(c, HL_PRECONDITION, e->status == RS_CLOSED ? "the risk event is already closed"
									 : "the risk event must be accepted first");
	e->status = RS_CLOSED;
	e->closed_by = hl_call_principal(c)->actor;
	e->closed_us = hl_now_ms() * 1000;
	e->outcome = r->outcome;
	if ((st = save(c, e, "risk_event.closed", NULL)))
		return st;
	if (compliance_risk_event_changed(hl_call_pg(c), hl_call_arena(c), e, e->closed_by, "risk_event.closed", &err))
		return hl_call_fail_err(c, &err);
	return answer(c, e, &hotline__compliance__v1__close_risk_event_response__descriptor, resp);
}

hl_status compliance_list_risk_events(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__ListRiskEventsRequest *r = vreq;
	hl_status st;
	store_risk_event_filter f = {.level = r->level, .status = r->status, .overdue_only = r->overdue_only};
	if ((st = compliance_check_id(c, "department_id", r->department_id, false)) ||
	    (st = compliance_page(c, r->page_size, r->page_token, &f.limit, &f.after_id)))
		return st;
	if ((int)r->level < 0 || (int)r->level > RE_GENERAL)
		return hl_call_fail(c, HL_INVALID, "level: not a RiskEventLevel value");
	if ((int)r->status < 0 || (int)r->status > RS_CLOSED)
		return hl_call_fail(c, HL_INVALID, "status: not a RiskEventStatus value");
	f.department_id = r->department_id[0] ? r->department_id : NULL;
	const hl_principal *who = hl_call_principal(c);
	if (!hl_call_has_any(c, read_roles)) { /* a department head sees their department's */
		if (!hl_call_has_role(c, HL_ROLE_DEPT_HEAD) || !who->claims->dept)
			return hl_call_require_any(c, read_roles);
		if (f.department_id && strcmp(f.department_id, who->claims->dept) != 0)
			return hl_call_fail(c, HL_DENIED, "department_id: a department head sees their own department");
		f.department_id = who->claims->dept;
	}
	if ((st = hl_call_begin(c)))
		return st;
	compliance_risk_event **list;
	int n;
	hl_error err;
	if (store_risk_events(hl_call_pg(c), hl_call_arena(c), &f, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Compliance__V1__ListRiskEventsResponse *out =
		HL_NEW(c, hotline__compliance__v1__list_risk_events_response__descriptor);
	if (!out || !(out->risk_events = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof *out->risk_events)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->risk_events[out->n_risk_events++] = compliance_risk_event_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->next_page_token = (char *)(n == f.limit ? list[n - 1]->id : "");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
