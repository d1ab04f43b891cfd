/*
 * rpc_common.c - what followup's handlers share: loading and saving a reply
 * task with its audit entry, the API messages of tasks and replies, and the
 * effects on other services (ticket status at intake, reopening at
 * dispatch, events to reporting), which are outbox rows in the caller's
 * transaction; and the planning of one visit.
 */
#include <string.h>

#include "followup.h"
#include "hl/audit.h"
#include "hl/crypto.h"
#include "hl/enqueue.h"
#include "hl/handler.h"
#include "hotline/common/v1/common.pb-c.h"
#include "hotline/dispatch/v1/dispatch.pb-c.h"
#include "hotline/intake/v1/intake.pb-c.h"
#include "store.h"

followup_app *followup_app_of(hl_call *c)
{
	return hl_call_app(c);
}

int64_t followup_now_us(hl_call *c)
{
	return followup_clock_now_us(&followup_app_of(c)->clock);
}

hl_status followup_task_load(hl_call *c, const char *id, bool for_update, followup_task **out)
{
	hl_error err;
	if (!hl_uuid_valid(id))
		return hl_call_fail(c, HL_INVALID, "task_id: not a UUID");
	if (store_task_get(hl_call_pg(c), hl_call_arena(c), id, for_update, out, &err))
		return hl_call_fail_err(c, &err);
	if (!*out)
		return hl_call_fail(c, HL_NOT_FOUND, "reply task not found");
	return HL_OK;
}

hl_status followup_audit(hl_call *c, const followup_task *t, const char *action, const char *details,
			 bool new_subject)
{
	hl_error err;
	if (hl_audit_append(hl_call_pg(c), hl_call_arena(c), t->tenant, "reply_task", t->id,
			    hl_call_principal(c)->actor, action, details, new_subject, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status followup_task_save(hl_call *c, followup_task *t, const char *action, const char *details)
{
	hl_error err;
	if (store_task_update(hl_call_pg(c), hl_call_arena(c), t, &err))
		return hl_call_fail_err(c, &err);
	return followup_audit(c, t, action, details, false);
}

Hotline__Followup__V1__Reply *followup_reply_msg(hl_call *c, const followup_reply *r)
{
	Hotline__Followup__V1__Reply *m = HL_NEW(c, hotline__followup__v1__reply__descriptor);
	if (!m)
		return NULL;
	m->id = (char *)r->id;
	m->seq = r->seq;
	m->method = r->method;
	m->content = (char *)r->content;
	m->outcome = r->outcome;
	m->satisfaction = r->satisfaction;
	m->unsatisfied_reason = (char *)(r->unsatisfied_reason ? r->unsatisfied_reason : "");
	m->recorded_by = (char *)r->recorded_by;
	m->recorded_at = hl_call_timestamp(c, r->recorded_us);
	return m;
}

static hl_status add_replies(hl_call *c, const followup_task *t, Hotline__Followup__V1__ReplyTask *m)
{
	followup_reply **list;
	int n;
	hl_error err;
	if (store_replies(hl_call_pg(c), hl_call_arena(c), t->id, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	if (!(m->replies = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof *m->replies)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(m->replies[m->n_replies++] = followup_reply_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	return HL_OK;
}

hl_status followup_task_msg(hl_call *c, const followup_task *t, bool with_replies,
			    Hotline__Followup__V1__ReplyTask **out)
{
	Hotline__Followup__V1__ReplyTask *m = HL_NEW(c, hotline__followup__v1__reply_task__descriptor);
	if (!m)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	m->id = (char *)t->id;
	m->ticket_id = (char *)t->ticket_id;
	m->ticket_no = (char *)t->ticket_no;
	m->case_id = (char *)t->case_id;
	m->department_id = (char *)t->department_id;
	m->category = t->category;
	m->priority = t->priority;
	m->result_text = (char *)t->result_text;
	m->approved_by = (char *)t->approved_by;
	m->assignee_id = (char *)(t->assignee_id ? t->assignee_id : "");
	m->status = t->status;
	m->round = t->round;
	m->attempts = t->attempts;
	m->due_at = t->due_us ? hl_call_timestamp(c, t->due_us) : NULL;
	m->created_at = hl_call_timestamp(c, t->created_us);
	m->closed_at = t->closed_us ? hl_call_timestamp(c, t->closed_us) : NULL;
	m->closed_by = (char *)(t->closed_by ? t->closed_by : "");
	m->close_reason = (char *)(t->close_reason ? t->close_reason : "");
	hl_status st = with_replies ? add_replies(c, t, m) : HL_OK;
	if (st)
		return st;
	*out = m;
	return HL_OK;
}

static hl_enqueue_row row_for(hl_call *c, const followup_task *t)
{
	return (hl_enqueue_row){.tenant = t->tenant, .subject_id = t->ticket_id, .actor = hl_call_principal(c)->actor};
}

hl_status followup_ticket_status(hl_call *c, const followup_task *t, int status, int64_t version, const char *note)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Intake__V1__UpdateTicketStatusRequest m = HOTLINE__INTAKE__V1__UPDATE_TICKET_STATUS_REQUEST__INIT;
	m.ticket_id = (char *)t->ticket_id;
	m.status = status;
	m.version = version;
	m.public_note = (char *)(note ? note : "");
	hl_enqueue_row row = row_for(c, t);
	row.service = &hotline__intake__v1__intake_service__descriptor;
	row.method = "UpdateTicketStatus";
	row.idempotency_key = hl_arena_printf(a, "%s:status:%lld", t->id, (long long)version);
	return hl_call_enqueue(c, &row, &m.base);
}

hl_status followup_reopen(hl_call *c, const followup_task *t, const char *reason)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Dispatch__V1__ReopenCaseRequest m = HOTLINE__DISPATCH__V1__REOPEN_CASE_REQUEST__INIT;
	m.ticket_id = (char *)t->ticket_id;
	m.reopen_no = t->round + 1;
	m.reason = (char *)reason;
	hl_enqueue_row row = row_for(c, t);
	row.service = &hotline__dispatch__v1__dispatch_service__descriptor;
	row.method = "ReopenCase";
	row.idempotency_key = hl_arena_printf(a, "%s:reopen:%d", t->case_id, m.reopen_no);
	return hl_call_enqueue(c, &row, &m.base);
}

hl_status followup_close_case(hl_call *c, const followup_task *t, const char *reason)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Dispatch__V1__CloseCaseRequest m = HOTLINE__DISPATCH__V1__CLOSE_CASE_REQUEST__INIT;
	m.ticket_id = (char *)t->ticket_id;
	m.reopen_no = t->round;
	m.reason = (char *)reason;
	hl_enqueue_row row = row_for(c, t);
	row.service = &hotline__dispatch__v1__dispatch_service__descriptor;
	row.method = "CloseCase";
	row.idempotency_key = hl_arena_printf(a, "%s:close:%d", t->case_id, t->round);
	return hl_call_enqueue(c, &row, &m.base);
}

/* ---- events to reporting ------------------------------------------------------------------ */

hl_status followup_reply_event(hl_call *c, const followup_task *t, const followup_reply *rp, const char *type,
			       bool closed_by_supervisor)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Common__V1__ReplyChanged p = HOTLINE__COMMON__V1__REPLY_CHANGED__INIT;
	p.reply_task_id = (char *)t->id;
	p.case_id = (char *)t->case_id;
	p.department_id = (char *)(t->department_id ? t->department_id : "");
	p.round = t->round + 1;
	p.method = rp ? rp->method : 0;
	p.outcome = rp ? rp->outcome : 0;
	p.satisfaction = rp ? rp->satisfaction : 0;
	p.reopened = rp && rp->outcome == OUTCOME_REACHED && rp->satisfaction == SAT_UNSATISFIED;
	p.closed_by_supervisor = closed_by_supervisor;
	p.due_at = hl_timestamp_new(a, t->due_us);
	p.category = t->category;
	Hotline__Common__V1__Event ev = HOTLINE__COMMON__V1__EVENT__INIT;
	ev.payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_REPLY_CHANGED;
	ev.reply_changed = &p;
	hl_enqueue_row row = row_for(c, t);
	hl_error err;
	if (hl_enqueue_event(hl_call_pg(c), a, &row, type, t->ticket_id, hl_now_ms() * 1000, &ev.base, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status followup_visit_event(hl_pg *pg, hl_arena *a, const followup_visit *v, const char *type, const char *actor,
			       hl_error *err)
{
	Hotline__Common__V1__VisitChanged p = HOTLINE__COMMON__V1__VISIT_CHANGED__INIT;
	bool planned = !v->done_us;
	p.visit_id = (char *)v->id;
	p.counterpart_id = (char *)(v->counterpart_id ? v->counterpart_id : "");
	p.department_id = (char *)(v->department_id ? v->department_id : "");
	p.risk_level = v->risk_level;
	p.method = v->recorded_by ? v->record_method : v->method;
	p.problem_found = v->problem_found;
	p.recheck_disagrees = v->rechecked_by && !v->recheck_agrees;
	p.due_at = hl_timestamp_new(a, v->due_us);
	p.on_time = !planned && v->done_us <= v->due_us;
	p.person_id = (char *)(v->recorded_by ? v->recorded_by : v->responsible_id ? v->responsible_id : "");
	Hotline__Common__V1__Event ev = HOTLINE__COMMON__V1__EVENT__INIT;
	ev.payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_VISIT_CHANGED;
	ev.visit_changed = &p;
	/* one subject per counterpart (or ticket): its visits' events are delivered in order */
	hl_enqueue_row row = {.tenant = v->tenant, .subject_id = v->ticket_id ? v->ticket_id : v->counterpart_id,
			      .actor = actor};
	return hl_enqueue_event(pg, a, &row, type, v->ticket_id ? v->ticket_id : "", hl_now_ms() * 1000, &ev.base,
				err);
}

/* ---- planning a visit ----------------------------------------------------------------------- */

static const char *visit_details(hl_arena *a, const followup_visit *v)
{
	return hl_arena_printf(a,
			       "{\"counterpart\":\"%s\",\"ticket\":\"%s\",\"level\":%d,\"due_us\":%lld,\"done_us\":%lld,"
			       "\"sampled\":%s}",
			       v->counterpart_id ? v->counterpart_id : "", v->ticket_id ? v->ticket_id : "",
			       v->risk_level, (long long)v->due_us, (long long)v->done_us,
			       v->recheck_sampled ? "true" : "false");
}

hl_status followup_visit_audit(hl_call *c, const followup_visit *v, const char *action, bool new_subject)
{
	hl_error err;
	if (hl_audit_append(hl_call_pg(c), hl_call_arena(c), hl_call_tenant(c), "visit", v->id,
			    hl_call_principal(c)->actor, action, visit_details(hl_call_arena(c), v), new_subject, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status followup_visit_plan(hl_call *c, followup_visit *v)
{
	char *id = hl_arena_alloc(hl_call_arena(c), HL_UUID_STR_LEN);
	hl_error err;
	hl_status st;
	if (!id)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (hl_uuid_v7(id))
		return hl_call_fail(c, HL_INTERNAL, "cannot make an id");
	v->id = id;
	v->tenant = hl_call_tenant(c);
	if (store_visit_insert(hl_call_pg(c), hl_call_arena(c), v, &err))
		return hl_call_fail_err(c, &err);
	if ((st = followup_visit_audit(c, v, "visit.planned", true)) || (st = followup_visit_timer(c, v)))
		return st;
	if (followup_visit_event(hl_call_pg(c), hl_call_arena(c), v, "visit.planned", hl_call_principal(c)->actor, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}
