/*
 * rpc_reply.c - the reply loop (反馈, R15): agents list their reply tasks and
 * record each contact with the citizen; a satisfied citizen closes the
 * ticket at intake, an unsatisfied one reopens the case at dispatch (the
 * next round's task comes back with ScheduleReply), an unreachable one is
 * counted until the configured attempts are used up; a supervisor may end
 * the loop with a recorded reason.  Replies are an append-only record;
 * every change of a task is audited in the same transaction.
 */
#include <string.h>

#include "followup.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "hl/timers.h"
#include "hotline/common/v1/common.pb-c.h"
#include "store.h"

static const char *const read_roles[] = {HL_ROLE_AGENT,   HL_ROLE_SUPERVISOR, HL_ROLE_TENANT_ADMIN,
					 HL_ROLE_AUDITOR, HL_ROLE_INSPECTOR,  NULL};
static const char *const reply_roles[] = {HL_ROLE_AGENT, HL_ROLE_SUPERVISOR, NULL};
/* Roles that see every task of the tenant; the rest (agents) see their own and the pool's. */
static const char *const overseer_roles[] = {HL_ROLE_SUPERVISOR, HL_ROLE_TENANT_ADMIN, HL_ROLE_AUDITOR,
					     HL_ROLE_INSPECTOR, NULL};

static bool overseer(hl_call *c)
{
	return hl_call_has_any(c, overseer_roles);
}

static const char *me(hl_call *c)
{
	return hl_call_principal(c)->actor;
}

/* Another agent's task looks like no task at all (DESIGN §5.1). */
static hl_status require_visible(hl_call *c, const followup_task *t)
{
	if (overseer(c) || !t->assignee_id || strcmp(t->assignee_id, me(c)) == 0)
		return HL_OK;
	return hl_call_fail(c, HL_NOT_FOUND, "reply task not found");
}

static hl_status require_open(hl_call *c, const followup_task *t, unsigned allowed)
{
	if (allowed & (1u << t->status))
		return HL_OK;
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&hotline__followup__v1__reply_task_status__descriptor, t->status);
	return hl_call_fail(c, HL_PRECONDITION, "the reply task is %s", v ? v->name : "in an unknown state");
}

static hl_status task_answer(hl_call *c, const followup_task *t, Hotline__Followup__V1__ReplyTask **task)
{
	hl_status st;
	if ((st = followup_task_msg(c, t, true, task)) || (st = hl_call_commit(c)))
		return st;
	return HL_OK;
}

/* ---- ListReplyTasks, GetReplyTask ------------------------------------------------------------ */

static hl_status list_filter(hl_call *c, const Hotline__Followup__V1__ListReplyTasksRequest *r, store_task_filter *f)
{
	if (r->status &&
	    !protobuf_c_enum_descriptor_get_value(&hotline__followup__v1__reply_task_status__descriptor, r->status))
		return hl_call_fail(c, HL_INVALID, "status: not a ReplyTaskStatus value");
	if (r->page_token[0] && !hl_uuid_valid(r->page_token))
		return hl_call_fail(c, HL_INVALID, "page_token: not a token from a previous page");
	if (r->ticket_id[0] && !hl_uuid_valid(r->ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if (r->page_size < 0 || r->page_size > 200)
		return hl_call_fail(c, HL_INVALID, "page_size: 0 to 200");
	hl_status st = hl_call_check_text(c, "assignee_id", r->assignee_id, 128, false);
	if (st)
		return st;
	bool pool = strcmp(r->assignee_id, "-") == 0;
	*f = (store_task_filter){
		.status = r->status,
		.assignee_id = pool ? "" : r->assignee_id[0] ? r->assignee_id : NULL,
		.ticket_id = r->ticket_id[0] ? r->ticket_id : NULL,
		.overdue = r->overdue,
		.after_id = r->page_token[0] ? r->page_token : NULL,
		.limit = r->page_size ? r->page_size : 50,
	};
	if (!overseer(c) && !pool) { /* an agent: their own tasks and the pool's */
		if (f->assignee_id && strcmp(f->assignee_id, me(c)) != 0)
			return hl_call_fail(c, HL_DENIED, "assignee_id: agents list their own tasks and the pool's");
		f->assignee_id = me(c);
		f->assignee_or_pool = true;
	}
	return HL_OK;
}

hl_status followup_list_reply_tasks(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__ListReplyTasksRequest *r = vreq;
	store_task_filter f;
	hl_status st;
	if ((st = hl_call_require_any(c, read_roles)) || (st = list_filter(c, r, &f)) || (st = hl_call_begin(c)))
		return st;
	followup_task **list;
	int n;
	hl_error err;
	if (store_tasks(hl_call_pg(c), hl_call_arena(c), &f, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Followup__V1__ListReplyTasksResponse *out =
		HL_NEW(c, hotline__followup__v1__list_reply_tasks_response__descriptor);
	if (!out || !(out->tasks = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof(void *))))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if ((st = followup_task_msg(c, list[i], false, &out->tasks[out->n_tasks++])))
			return st;
	out->next_page_token = (char *)(n == f.limit ? list[n - 1]->id : "");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status followup_get_reply_task(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__GetReplyTaskRequest *r = vreq;
	hl_status st;
	followup_task *t;
	if (!hl_uuid_valid(r->id))
		return hl_call_fail(c, HL_INVALID, "id: not a UUID");
	if ((st = hl_call_require_any(c, read_roles)) || (st = hl_call_begin(c)) ||
	    (st = followup_task_load(c, r->id, false, &t)) || (st = require_visible(c, t)))
		return st;
	Hotline__Followup__V1__GetReplyTaskResponse *out =
		HL_NEW(c, hotline__followup__v1__get_reply_task_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = task_answer(c, t, &out->task)))
		return st;
	*resp = out;
	return HL_OK;
}

/* ---- RecordReply ------------------------------------------------------------------------------ */

static bool enum_ok(const ProtobufCEnumDescriptor *d, int v)
{
	return v && protobuf_c_enum_descriptor_get_value(d, v);
}

static hl_status validate_reply(hl_call *c, const Hotline__Followup__V1__RecordReplyRequest *r)
{
	hl_status st;
	if ((st = hl_call_check_request_id(c, r->request_id)))
		return st;
	if (!hl_uuid_valid(r->task_id))
		return hl_call_fail(c, HL_INVALID, "task_id: not a UUID");
	if (!enum_ok(&hotline__followup__v1__reply_method__descriptor, r->method))
		return hl_call_fail(c, HL_INVALID, "method: required, one of the ReplyMethod values");
	if (!enum_ok(&hotline__followup__v1__contact_outcome__descriptor, r->outcome))
		return hl_call_fail(c, HL_INVALID, "outcome: required, one of the ContactOutcome values");
	if ((st = hl_call_check_text(c, "content", r->content, FOLLOWUP_CONTENT_CHARS, true)))
		return st;
	if ((int)r->outcome == OUTCOME_UNREACHABLE) {
		if (r->satisfaction)
			return hl_call_fail(c, HL_INVALID, "satisfaction: only when the citizen was reached");
		if (r->unsatisfied_reason[0])
			return hl_call_fail(c, HL_INVALID, "unsatisfied_reason: only when the citizen is unsatisfied");
		return HL_OK;
	}
	if (!enum_ok(&hotline__followup__v1__satisfaction__descriptor, r->satisfaction))
		return hl_call_fail(c, HL_INVALID, "satisfaction: required when the citizen was reached");
	if ((int)r->satisfaction != SAT_UNSATISFIED && r->unsatisfied_reason[0])
		return hl_call_fail(c, HL_INVALID, "unsatisfied_reason: only when the citizen is unsatisfied");
	return hl_call_check_text(c, "unsatisfied_reason", r->unsatisfied_reason, FOLLOWUP_REASON_CHARS,
				  (int)r->satisfaction == SAT_UNSATISFIED);
}

/* The answer to a repeated request_id: the reply it recorded, and its task as it is now. */
static hl_status replay(hl_call *c, const Hotline__Followup__V1__RecordReplyRequest *r, const followup_reply *done,
			Hotline__Followup__V1__RecordReplyResponse *out)
{
	followup_task *t;
	hl_status st;
	if (strcmp(done->task_id, r->task_id) != 0)
		return hl_call_fail(c, HL_INVALID, "request_id: already used for a reply to another task");
	if ((st = followup_task_load(c, done->task_id, false, &t)) || (st = require_visible(c, t)))
		return st;
	if (!(out->reply = followup_reply_msg(c, done)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	return task_answer(c, t, &out->task);
}

static const char *reply_details(hl_arena *a, const followup_reply *rp)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"reply_id\":\"%s\",\"seq\":%d,\"method\":%d,\"outcome\":%d,\"satisfaction\":%d", rp->id,
		      rp->seq, rp->method, rp->outcome, rp->satisfaction);
	const char *digest = hl_sha256_text(a, rp->content); /* never the text: it may quote the citizen */
	if (digest)
		hl_buf_printf(&b, ",\"content_sha256\":\"%s\"", digest);
	hl_buf_putc(&b, '}');
	const char *out = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return out;
}

static const char *task_details(hl_arena *a, const followup_task *t)
{
	return hl_arena_printf(a, "{\"status\":%d,\"round\":%d,\"attempts\":%d}", t->status, t->round, t->attempts);
}

/* The loop of t's ticket ended: offer the ticket to the sample of satisfaction visits. */
static hl_status sample(hl_call *c, const followup_task *t, const char *reason)
{
	followup_closed_ticket tk = {.ticket_id = t->ticket_id, .ticket_no = t->ticket_no,
				     .department_id = t->department_id, .reason = reason, .category = t->category};
	bool sampled;
	const char *visit_id;
	int draw, percent;
	return followup_sample_ticket(c, &tk, &sampled, &visit_id, &draw, &percent);
}

/* What the reply means for the task and the other services. */
static hl_status decide(hl_call *c, followup_task *t, const followup_reply *rp)
{
	hl_status st;
	hl_arena *a = hl_call_arena(c);
	int64_t now_us = hl_now_ms() * 1000;
	if (rp->outcome == OUTCOME_UNREACHABLE) {
		t->attempts++;
		bool give_up = t->attempts >= followup_app_of(c)->max_attempts;
		if (give_up)
			t->status = RT_UNREACHABLE;
		return followup_task_save(c, t, give_up ? "reply_task.unreachable" : "reply_task.attempted",
					  task_details(a, t));
	}
	if (rp->satisfaction == SAT_UNSATISFIED) {
		t->status = RT_REOPENED;
		if ((st = followup_task_save(c, t, "reply_task.reopened", task_details(a, t))) ||
		    (st = followup_reopen(c, t, rp->unsatisfied_reason)))
			return st;
		return followup_ticket_status(c, t, HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_REOPENED, now_us,
					      "来电人不满意，重新办理");
	}
	t->status = RT_SATISFIED;
	t->closed_us = now_us;
	t->closed_by = me(c);
	if ((st = followup_task_save(c, t, "reply_task.satisfied", task_details(a, t))) ||
	    (st = followup_close_case(c, t, "satisfied")) || (st = followup_reply_event(c, t, rp, "reply.closed", false)) ||
	    (st = sample(c, t, "satisfied")) ||
	    (st = followup_ticket_status(c, t, HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_REPLIED, now_us,
					 "已答复来电人")))
		return st;
	return followup_ticket_status(c, t, HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_CLOSED, now_us + 1,
				      "来电人满意，已办结");
}

static hl_status record(hl_call *c, const Hotline__Followup__V1__RecordReplyRequest *r, followup_task *t,
			Hotline__Followup__V1__RecordReplyResponse *out)
{
	char uuid[HL_UUID_STR_LEN];
	hl_error err;
	hl_status st;
	if (hl_uuid_v7(uuid))
		return hl_call_fail(c, HL_INTERNAL, "cannot make an id");
	followup_reply rp = {
		.id = uuid, .task_id = t->id, .request_id = r->request_id[0] ? r->request_id : NULL,
		.method = r->method, .outcome = r->outcome, .satisfaction = r->satisfaction, .content = r->content,
		.unsatisfied_reason = r->unsatisfied_reason, .recorded_by = me(c),
	};
	if (!t->assignee_id)
		t->assignee_id = me(c); /* the agent who takes a pool task keeps it */
	if (store_reply_insert(hl_call_pg(c), hl_call_arena(c), &rp, &err))
		return hl_call_fail_err(c, &err);
	if ((st = followup_audit(c, t, "reply.recorded", reply_details(hl_call_arena(c), &rp), false)) ||
	    (st = followup_reply_event(c, t, &rp, "reply.recorded", false)) || (st = decide(c, t, &rp)))
		return st;
	if (!(rp.id = hl_arena_strdup(hl_call_arena(c), uuid)) || !(out->reply = followup_reply_msg(c, &rp)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	return task_answer(c, t, &out->task);
}

hl_status followup_record_reply(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__RecordReplyRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, reply_roles)) || (st = validate_reply(c, r)) || (st = hl_call_begin(c)))
		return st;
	Hotline__Followup__V1__RecordReplyResponse *out =
		HL_NEW(c, hotline__followup__v1__record_reply_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	followup_reply *done = NULL;
	hl_error err;
	if (r->request_id[0] && store_reply_by_request(hl_call_pg(c), hl_call_arena(c), r->request_id, &done, &err))
		return hl_call_fail_err(c, &err);
	if (done)
		st = replay(c, r, done, out);
	else {
		followup_task *t;
		if ((st = followup_task_load(c, r->task_id, true, &t)) || (st = require_visible(c, t)) ||
		    (st = require_open(c, t, 1u << RT_OPEN)) || (st = followup_gate_check(c, t, r->content)))
			return st;
		st = record(c, r, t, out);
	}
	if (st)
		return st;
	*resp = out;
	return HL_OK;
}

/* ---- CloseReplyTask --------------------------------------------------------------------------- */

hl_status followup_close_reply_task(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__CloseReplyTaskRequest *r = vreq;
	hl_status st;
	followup_task *t;
	if (!hl_uuid_valid(r->task_id))
		return hl_call_fail(c, HL_INVALID, "task_id: not a UUID");
	if ((st = hl_call_require_role(c, HL_ROLE_SUPERVISOR)) ||
	    (st = hl_call_check_text(c, "reason", r->reason, FOLLOWUP_REASON_CHARS, true)) || (st = hl_call_begin(c)) ||
	    (st = followup_task_load(c, r->task_id, true, &t)) ||
	    (st = require_open(c, t, (1u << RT_OPEN) | (1u << RT_UNREACHABLE))))
		return st;
	int64_t now_us = hl_now_ms() * 1000;
	hl_arena *a = hl_call_arena(c);
	t->status = RT_CLOSED;
	t->closed_us = now_us;
	t->closed_by = me(c);
	t->close_reason = r->reason;
	const char *digest = hl_sha256_text(a, r->reason);
	const char *details = hl_arena_printf(a, "{\"status\":%d,\"round\":%d,\"reason_sha256\":\"%s\"}", t->status,
					      t->round, digest ? digest : "");
	if ((st = followup_task_save(c, t, "reply_task.closed", details)) ||
	    (st = followup_close_case(c, t, "closed_by_supervisor")) ||
	    (st = followup_reply_event(c, t, NULL, "reply.closed", true)) || (st = sample(c, t, "closed_by_supervisor")) ||
	    (st = followup_ticket_status(c, t, HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_CLOSED, now_us,
					 "已办结")))
		return st;
	Hotline__Followup__V1__CloseReplyTaskResponse *out =
		HL_NEW(c, hotline__followup__v1__close_reply_task_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = task_answer(c, t, &out->task)))
		return st;
	*resp = out;
	return HL_OK;
}
