/*
 * rpc_case.c - reading cases and handling them (DESIGN §4.1, R9, R10):
 * accept, notes, the written result, and its sign-off by the head of the
 * case's department or a deputy (the approval records actor, time and the
 * SHA-256 of the approved text).  Transitions outside §4.1 are
 * FAILED_PRECONDITION.  An approved lead case goes to followup for the reply
 * (ScheduleReply through the outbox).
 */
#include <string.h>

#include "hl/crypto.h"
#include "hl/enqueue.h"
#include "hl/handler.h"
#include "hl/limits.h"
#include "hl/roles.h"
#include "hotline/followup/v1/followup.pb-c.h"
#include "store.h"

#define MASK(s) DISPATCH_MASK(s)
#define OPEN_WORK (MASK(CS_ACCEPTED) | MASK(CS_IN_PROGRESS))

static const char *const read_roles[] = {HL_ROLE_DISPATCHER, HL_ROLE_SUPERVISOR, HL_ROLE_HANDLER, HL_ROLE_DEPT_HEAD,
					 HL_ROLE_INSPECTOR,  HL_ROLE_TENANT_ADMIN, HL_ROLE_AUDITOR, HL_ROLE_AGENT, NULL};

hl_status dispatch_get_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__GetCaseRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_require_any(c, read_roles)) || (st = hl_call_begin(c)) ||
	    (st = dispatch_case_load(c, r->id, false, &k)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__get_case_response__descriptor, resp);
}

static hl_status list_filter(hl_call *c, const Hotline__Dispatch__V1__ListCasesRequest *r, store_case_filter *f)
{
	if (r->status && !protobuf_c_enum_descriptor_get_value(&hotline__dispatch__v1__case_status__descriptor, r->status))
		return hl_call_fail(c, HL_INVALID, "status: not a CaseStatus value");
	if (r->page_token[0] && !hl_uuid_valid(r->page_token))
		return hl_call_fail(c, HL_INVALID, "page_token: not a token from a previous page");
	if (r->ticket_id[0] && !hl_uuid_valid(r->ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if (r->page_size < 0 || r->page_size > 200)
		return hl_call_fail(c, HL_INVALID, "page_size: 0 to 200");
	hl_status st;
	if ((st = hl_call_check_text(c, "department_id", r->department_id, 64, false)) ||
	    (st = hl_call_check_text(c, "handler_id", r->handler_id, 128, false)))
		return st;
	*f = (store_case_filter){
		.department_id = r->department_id[0] ? r->department_id : NULL,
		.handler_id = r->handler_id[0] ? r->handler_id : NULL,
		.ticket_id = r->ticket_id[0] ? r->ticket_id : NULL,
		.status = r->status,
		.overdue_only = r->overdue_only,
		.after_id = r->page_token[0] ? r->page_token : NULL,
		.limit = r->page_size ? r->page_size : 50,
	};
	return HL_OK;
}

/*
 * Cases of the tenant the caller may see, in creation order.  Visibility is
 * checked per row (role, department, recusal); a page may hold fewer cases
 * than asked and still have a next page.
 */
hl_status dispatch_list_cases(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__ListCasesRequest *r = vreq;
	store_case_filter f;
	hl_status st;
	if ((st = hl_call_require_any(c, read_roles)) || (st = list_filter(c, r, &f)) || (st = hl_call_begin(c)))
		return st;
	dispatch_viewer v;
	dispatch_case **list;
	int n;
	hl_error err;
	if ((st = dispatch_viewer_load(c, &v)))
		return st;
	if (store_cases(hl_call_pg(c), hl_call_arena(c), &f, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Dispatch__V1__ListCasesResponse *out = HL_NEW(c, hotline__dispatch__v1__list_cases_response__descriptor);
	if (!out || !(out->cases = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof(void *))))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		if (!dispatch_case_visible(c, list[i], &v))
			continue;
		if ((st = dispatch_case_msg(c, list[i], false, &out->cases[out->n_cases])))
			return st;
		out->n_cases++;
	}
	out->next_page_token = (char *)(n == f.limit ? list[n - 1]->id : "");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* Load case_id for a change by its department's staff: locked, lock checked, member checked. */
static hl_status load_for_work(hl_call *c, const char *case_id, const char *token, dispatch_case **k)
{
	hl_status st;
	if ((st = hl_call_begin(c)) || (st = dispatch_case_load(c, case_id, true, k)) ||
	    (st = dispatch_lock_check(c, *k, token)))
		return st;
	return dispatch_require_member(c, *k);
}

hl_status dispatch_accept_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__AcceptCaseRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	const char *me = hl_call_principal(c)->actor;
	if ((st = load_for_work(c, r->case_id, r->lock_token, &k)) ||
	    (st = dispatch_require_status(c, k, MASK(CS_ASSIGNED), "accept")))
		return st;
	if (k->handler_id && strcmp(k->handler_id, me) != 0 && !hl_call_has_role(c, HL_ROLE_DEPT_HEAD))
		return hl_call_fail(c, HL_DENIED, "the case is assigned to another handler");
	if (!k->handler_id) { /* from the department's queue: the acceptor handles it */
		bool counted;
		hl_error err;
		if (store_take_handler(hl_call_pg(c), hl_call_arena(c), k->department_id, me, &counted, &err))
			return hl_call_fail_err(c, &err);
		k->handler_id = me;
	}
	k->status = CS_ACCEPTED;
	if ((st = dispatch_case_save(c, k)) || (st = dispatch_step(c, k, "accepted", NULL)) ||
	    (st = dispatch_deadline_meet(c, k, DL_ACCEPT)) || (st = dispatch_case_event(c, k, "case.accepted", 0, 0)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__accept_case_response__descriptor, resp);
}

hl_status dispatch_add_note(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__AddCaseNoteRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_check_text(c, "note", r->note, 2000, true)) ||
	    (st = load_for_work(c, r->case_id, r->lock_token, &k)) ||
	    (st = dispatch_require_status(c, k, OPEN_WORK | MASK(CS_SUBMITTED), "add a note to")))
		return st;
	if (k->status == CS_ACCEPTED) /* the first recorded step of the work */
		k->status = CS_IN_PROGRESS;
	dispatch_step_row **steps;
	int n;
	hl_error err;
	if ((st = dispatch_case_save(c, k)) || (st = dispatch_step(c, k, "note", r->note)))
		return st;
	/* answer with the step as recorded (its number and time), the case's last one */
	if (store_steps(hl_call_pg(c), hl_call_arena(c), k->id, &steps, &n, &err))
		return hl_call_fail_err(c, &err);
	if (n == 0)
		return hl_call_fail(c, HL_INTERNAL, "the note was not recorded");
	Hotline__Dispatch__V1__AddCaseNoteResponse *out =
		HL_NEW(c, hotline__dispatch__v1__add_case_note_response__descriptor);
	Hotline__Dispatch__V1__CaseStep *s = HL_NEW(c, hotline__dispatch__v1__case_step__descriptor);
	if (!out || !s)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	s->seq = steps[n - 1]->seq;
	s->action = (char *)steps[n - 1]->action;
	s->actor = (char *)steps[n - 1]->actor;
	s->note = (char *)steps[n - 1]->note;
	s->department_id = (char *)steps[n - 1]->department_id;
	s->at = hl_call_timestamp(c, steps[n - 1]->at_us);
	out->step = s;
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status dispatch_submit_result(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__SubmitResultRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_check_text(c, "text", r->text, HL_LIMIT_RESULT_CHARS, true)) ||
	    (st = load_for_work(c, r->case_id, r->lock_token, &k)) ||
	    (st = dispatch_require_status(c, k, OPEN_WORK, "submit a result for")))
		return st;
	if (k->paused_us)
		return hl_call_fail(c, HL_PRECONDITION, "the case is paused: resume it first");
	k->status = CS_SUBMITTED;
	k->result_text = r->text;
	k->result_by = hl_call_principal(c)->actor;
	k->result_us = hl_now_ms() * 1000;
	if ((st = dispatch_case_save(c, k)) || (st = dispatch_step(c, k, "result_submitted", r->text)) ||
	    (st = dispatch_case_event(c, k, "case.result_submitted", 0, 0)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__submit_result_response__descriptor, resp);
}

/* The head of the case's department, or one of its deputies (R10, R36). */
static hl_status require_head(hl_call *c, const dispatch_case *k)
{
	hl_status st;
	dispatch_department *d;
	hl_error err;
	if ((st = hl_call_require_role(c, HL_ROLE_DEPT_HEAD)))
		return st;
	if (dispatch_dir_department(hl_call_pg(c), hl_call_arena(c), k->department_id, &d, &err))
		return hl_call_fail_err(c, &err);
	const char *me = hl_call_principal(c)->actor;
	if (!d || !((d->head_id && strcmp(d->head_id, me) == 0) || dispatch_in(d->deputies, d->n_deputies, me)))
		return hl_call_fail(c, HL_DENIED, "only the head of the case's department or a deputy");
	return HL_OK;
}

/* followup replies to the citizen (the lead case speaks for the ticket). */
static hl_status schedule_reply(hl_call *c, const dispatch_case *k)
{
	if (k->role != ROLE_LEAD)
		return HL_OK;
	int64_t reply_due;
	hl_status st = dispatch_reply_due(c, k, &reply_due);
	if (st)
		return st;
	Hotline__Followup__V1__ScheduleReplyRequest m = HOTLINE__FOLLOWUP__V1__SCHEDULE_REPLY_REQUEST__INIT;
	m.ticket_id = (char *)k->ticket_id;
	m.ticket_no = (char *)k->ticket_no;
	m.case_id = (char *)k->id;
	m.department_id = (char *)k->department_id;
	m.category = k->category;
	m.priority = k->priority;
	m.result_text = (char *)k->result_text;
	m.result_digest = (char *)k->approved_digest;
	m.approved_by = (char *)k->approved_by;
	m.approved_at = hl_call_timestamp(c, k->approved_us);
	m.registered_by = (char *)k->registered_by;
	m.reopen_count = k->reopen_count;
	m.reply_due_at = reply_due ? hl_call_timestamp(c, reply_due) : NULL;
	hl_enqueue_row row = {
		.tenant = k->tenant, .subject_id = k->ticket_id, .service = &hotline__followup__v1__follow_up_service__descriptor,
		.method = "ScheduleReply", .actor = hl_call_principal(c)->actor,
		.idempotency_key = hl_arena_printf(hl_call_arena(c), "%s:reply:%d", k->id, k->reopen_count),
	};
	return hl_call_enqueue(c, &row, &m.base);
}

hl_status dispatch_approve_result(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__ApproveResultRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	const char *digest;
	if ((st = hl_call_begin(c)) || (st = dispatch_case_load(c, r->case_id, true, &k)) ||
	    (st = dispatch_require_status(c, k, MASK(CS_SUBMITTED), "approve the result of")) ||
	    (st = require_head(c, k)))
		return st;
	/* four eyes: a head or deputy who handled the case does not sign off their own result */
	if (k->result_by && strcmp(k->result_by, hl_call_principal(c)->actor) == 0)
		return hl_call_fail(c, HL_DENIED, "the result's author cannot sign it off");
	if (!(digest = hl_sha256_text(hl_call_arena(c), k->result_text)))
		return hl_call_fail(c, HL_INTERNAL, "cannot digest the result");
	/* the approver may name the text they read: a result changed since is not signed off */
	if (r->digest[0] && strcasecmp(r->digest, digest) != 0)
		return hl_call_fail(c, HL_ABORTED, "digest: the result changed since it was read");
	/* no implementation without review: a major complaint's solution needs compliance's approval */
	if ((st = dispatch_gate_result(c, k)))
		return st;
	hl_error err;
	if (k->handler_id && store_release_handler(hl_call_pg(c), hl_call_arena(c), k->handler_id, &err))
		return hl_call_fail_err(c, &err);
	k->status = CS_APPROVED;
	k->approved_by = hl_call_principal(c)->actor;
	k->approved_us = hl_now_ms() * 1000;
	k->approved_digest = digest;
	if ((st = dispatch_case_save(c, k)) || (st = dispatch_step(c, k, "result_approved", digest)) ||
	    (st = dispatch_deadline_meet(c, k, DL_COMPLETE)) ||
	    (st = dispatch_case_event(c, k, "case.result_approved", 0, 0)) || (st = schedule_reply(c, k)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__approve_result_response__descriptor, resp);
}

hl_status dispatch_reject_result(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__RejectResultRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_check_text(c, "reason", r->reason, 1000, true)) || (st = hl_call_begin(c)) ||
	    (st = dispatch_case_load(c, r->case_id, true, &k)) ||
	    (st = dispatch_require_status(c, k, MASK(CS_SUBMITTED), "reject the result of")) ||
	    (st = require_head(c, k)))
		return st;
	k->status = CS_IN_PROGRESS;
	if ((st = dispatch_case_save(c, k)) || (st = dispatch_step(c, k, "result_rejected", r->reason)) ||
	    (st = dispatch_case_event(c, k, "case.result_rejected", 0, 0)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__reject_result_response__descriptor, resp);
}
