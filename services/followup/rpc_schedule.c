/*
 * rpc_schedule.c - ScheduleReply (internal, from dispatch on result
 * approval): one reply task per round of handling of a case, with its
 * working-time deadline, assigned to the agent who registered the ticket
 * (first-contact responsibility, R13) or to the agent pool.  Idempotent
 * twice over: the inbox answers a repeated delivery, and a second task for
 * the same case and round is never made.
 */
#include <string.h>

#include "followup.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/limits.h"
#include "hl/inbox.h"
#include "hl/timers.h"
#include "hotline/common/v1/common.pb-c.h"
#include "store.h"

static hl_status validate(hl_call *c, const Hotline__Followup__V1__ScheduleReplyRequest *r)
{
	if (!hl_uuid_valid(r->ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if (!hl_uuid_valid(r->case_id))
		return hl_call_fail(c, HL_INVALID, "case_id: not a UUID");
	if (!r->category || !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__category__descriptor, r->category))
		return hl_call_fail(c, HL_INVALID, "category: required, one of the Category values");
	if (r->priority && !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__priority__descriptor, r->priority))
		return hl_call_fail(c, HL_INVALID, "priority: not a Priority value");
	if (r->reopen_count < 0)
		return hl_call_fail(c, HL_INVALID, "reopen_count: must not be negative");
	hl_status st;
	if ((st = hl_call_check_text(c, "ticket_no", r->ticket_no, 32, true)) ||
	    (st = hl_call_check_text(c, "department_id", r->department_id, 64, false)) ||
	    (st = hl_call_check_text(c, "result_text", r->result_text, HL_LIMIT_RESULT_CHARS, false)) ||
	    (st = hl_call_check_text(c, "result_digest", r->result_digest, 128, false)) ||
	    (st = hl_call_check_text(c, "approved_by", r->approved_by, 128, false)) ||
	    (st = hl_call_check_text(c, "registered_by", r->registered_by, 128, false)))
		return st;
	return HL_OK;
}

/* dispatch's deadline (the tenant's SLA and calendar), else N working days on our calendar. */
static hl_status reply_due(hl_call *c, const Hotline__Followup__V1__ScheduleReplyRequest *r, int64_t *due_us)
{
	int64_t given = hl_timestamp_us(r->reply_due_at);
	if (given > 0) {
		*due_us = given;
		return HL_OK;
	}
	const followup_app *app = followup_app_of(c);
	int64_t due_ms;
	hl_error err;
	if (hl_calendar_add_working_days(app->calendar, hl_now_ms(), app->reply_within_days, &due_ms, &err))
		return hl_call_fail_err(c, &err);
	*due_us = due_ms * 1000;
	return HL_OK;
}

/* The first-contact agent, unless the ticket came in without one (then the pool). */
static const char *assignee_for(const char *registered_by)
{
	if (!registered_by[0] || strncmp(registered_by, "system:", 7) == 0)
		return NULL;
	return registered_by;
}

static const char *scheduled_details(hl_arena *a, const followup_task *t)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"case_id\":\"%s\",\"round\":%d,\"due_us\":%lld,\"assignee\":", t->case_id, t->round,
		      (long long)t->due_us);
	if (t->assignee_id)
		hl_buf_json_string(&b, t->assignee_id);
	else
		hl_buf_printf(&b, "null");
	hl_buf_putc(&b, '}');
	const char *out = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return out;
}

static hl_status create_task(hl_call *c, const Hotline__Followup__V1__ScheduleReplyRequest *r, const char **id)
{
	char uuid[HL_UUID_STR_LEN];
	hl_error err;
	hl_status st;
	followup_task t = {
		.tenant = hl_call_tenant(c), .id = uuid, .ticket_id = r->ticket_id, .ticket_no = r->ticket_no,
		.case_id = r->case_id, .department_id = r->department_id, .round = r->reopen_count,
		.category = r->category, .priority = r->priority, .status = RT_OPEN, .result_text = r->result_text,
		.result_digest = r->result_digest, .approved_by = r->approved_by, .registered_by = r->registered_by,
		.assignee_id = assignee_for(r->registered_by), .approved_us = hl_timestamp_us(r->approved_at),
	};
	if (hl_uuid_v7(uuid))
		return hl_call_fail(c, HL_INTERNAL, "cannot make an id");
	if ((st = reply_due(c, r, &t.due_us)))
		return st;
	bool created;
	const char *existing;
	if (store_task_insert(hl_call_pg(c), hl_call_arena(c), &t, &created, &existing, &err))
		return hl_call_fail_err(c, &err);
	if (!created) { /* another delivery of the same round already made it */
		*id = existing;
		return HL_OK;
	}
	if (!(*id = hl_arena_strdup(hl_call_arena(c), uuid)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	t.id = *id;
	if ((st = followup_audit(c, &t, "reply_task.scheduled", scheduled_details(hl_call_arena(c), &t), true)))
		return st;
	return followup_reply_timer(c, &t);
}

hl_status followup_schedule_reply(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__ScheduleReplyRequest *r = vreq;
	hl_status st;
	bool replayed;
	if ((st = validate(c, r)) ||
	    (st = hl_inbox_begin(c, &hotline__followup__v1__schedule_reply_response__descriptor, resp, &replayed)) ||
	    replayed)
		return st;
	Hotline__Followup__V1__ScheduleReplyResponse *out =
		HL_NEW(c, hotline__followup__v1__schedule_reply_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	const char *id;
	if ((st = create_task(c, r, &id)))
		return st;
	out->reply_task_id = (char *)id;
	if ((st = hl_inbox_commit(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}
