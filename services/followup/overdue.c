/*
 * overdue.c - the deadlines of replies and visits on the shared timers
 * (hl/timers.h: PostgreSQL holds them, Redis schedules them, a flushed
 * Redis is re-seeded): a reply task still open at its reply deadline, or a
 * visit still planned at its due time, is marked overdue once, audited, and
 * raised at compliance as a missed follow-up (RecordViolation, outbox);
 * notices go to the responsible person and the department's head (or the
 * supervisors when there is neither), and a visit's visit.overdue event to
 * reporting.  A task replied to or a visit recorded in time makes its timer
 * fire without effect.  Visits are due on followup's clock (clock.c): their
 * timers fire at the wall-clock instant that clock shows the due time.
 */
#include <string.h>

#include "followup.h"
#include "hl/audit.h"
#include "hl/crypto.h"
#include "hl/enqueue.h"
#include "hl/handler.h"
#include "hotline/compliance/v1/compliance.pb-c.h"
#include "store.h"

#define KIND_REPLY "reply.due"
#define KIND_VISIT "visit.due"
#define ACTOR "system:followup"

static hl_status put_timer(hl_call *c, const char *prefix, const char *kind, const char *id, int64_t due_us)
{
	hl_error err;
	hl_timer_item item = {.key = hl_arena_printf(hl_call_arena(c), "%s:%s", prefix, id), .kind = kind,
			      .subject = id, .due_ms = due_us / 1000};
	if (!item.key)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (hl_call_timers_put(c, &item, 1, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status followup_reply_timer(hl_call *c, const followup_task *t)
{
	return t->due_us ? put_timer(c, "reply", KIND_REPLY, t->id, t->due_us) : HL_OK;
}

hl_status followup_visit_timer(hl_call *c, const followup_visit *v)
{
	return put_timer(c, "visit", KIND_VISIT, v->id,
			 followup_clock_wall_ms(&followup_app_of(c)->clock, v->due_us) * 1000);
}

/* The overdue notices of a subject: its person, the department's head, else the supervisors. */
static hl_status notify(hl_pg *pg, hl_arena *a, const char *tenant, store_notice proto, const char *person,
			hl_error *err)
{
	hl_status st;
	bool any = false;
	if (person && person[0] && strncmp(person, "system:", 7) != 0) {
		proto.recipient_id = person;
		proto.recipient_role = "";
		if ((st = store_notice_insert(pg, a, tenant, &proto, err)))
			return st;
		any = true;
	}
	if (proto.department_id[0] || !any) {
		proto.recipient_id = "";
		proto.recipient_role = proto.department_id[0] ? "dept_head" : "supervisor";
		if ((st = store_notice_insert(pg, a, tenant, &proto, err)))
			return st;
	}
	return HL_OK;
}

/* The missed follow-up, to compliance (unique per subject by its idempotency key and our overdue_at). */
static hl_status violation(hl_pg *pg, hl_arena *a, const char *tenant, const char *type, const char *id,
			   const char *ticket_id, const char *dept, const char *person, int64_t due_us, hl_error *err)
{
	Hotline__Compliance__V1__RecordViolationRequest m = HOTLINE__COMPLIANCE__V1__RECORD_VIOLATION_REQUEST__INIT;
	Google__Protobuf__Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT, due = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	int64_t now_us = hl_now_ms() * 1000;
	at.seconds = now_us / 1000000;
	due.seconds = due_us / 1000000;
	due.nanos = (int32_t)(due_us % 1000000) * 1000;
	m.kind = HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_MISSED_FOLLOW_UP;
	m.subject_type = (char *)type;
	m.subject_id = (char *)id;
	m.ticket_id = (char *)(ticket_id ? ticket_id : "");
	m.department_id = (char *)(dept ? dept : "");
	m.person_id = (char *)(person ? person : "");
	m.description = (char *)(strcmp(type, "visit") == 0 ? "回访逾期未完成" : "逾期未答复来电人");
	m.occurred_at = &at;
	m.due_at = &due;
	hl_enqueue_row row = {.tenant = tenant, .subject_id = id,
			      .service = &hotline__compliance__v1__compliance_service__descriptor,
			      .method = "RecordViolation", .actor = ACTOR,
			      .idempotency_key = hl_arena_printf(a, "%s:overdue", id)};
	if (!row.idempotency_key)
		return hl_fail(err, HL_NOMEM, "out of memory");
	return hl_enqueue(pg, a, &row, &m.base, err);
}

static hl_status reply_overdue(hl_pg *pg, hl_arena *a, const hl_timer *tm, hl_error *err)
{
	followup_task *t;
	hl_status st = store_task_mark_overdue(pg, a, tm->subject, &t, err);
	if (st || !t)
		return st; /* replied, reopened, closed, or already overdue: no effect */
	const char *d = hl_arena_printf(a, "{\"due_us\":%lld,\"round\":%d}", (long long)t->due_us, t->round);
	store_notice n = {.kind = NOTICE_REPLY_OVERDUE, .subject_type = "reply_task", .subject_id = t->id,
			  .ticket_no = t->ticket_no, .counterpart_id = "", .department_id = t->department_id,
			  .note = "答复逾期：请尽快答复来电人", .due_us = t->due_us};
	if ((st = hl_audit_append(pg, a, t->tenant, "reply_task", t->id, ACTOR, "reply_task.overdue", d, false, err)) ||
	    (st = notify(pg, a, t->tenant, n, t->assignee_id, err)))
		return st;
	return violation(pg, a, t->tenant, "reply_task", t->id, t->ticket_id, t->department_id, t->assignee_id,
			 t->due_us, err);
}

static hl_status visit_overdue(const followup_app *app, hl_pg *pg, hl_arena *a, const hl_timer *tm, hl_error *err)
{
	followup_visit *v;
	hl_status st = store_visit_mark_overdue(pg, a, tm->subject, followup_clock_now_us(&app->clock), &v, err);
	if (st || !v)
		return st; /* recorded, or already overdue: no effect */
	const char *d = hl_arena_printf(a, "{\"counterpart\":\"%s\",\"ticket\":\"%s\",\"level\":%d,\"due_us\":%lld}",
					v->counterpart_id ? v->counterpart_id : "", v->ticket_id ? v->ticket_id : "",
					v->risk_level, (long long)v->due_us);
	store_notice n = {.kind = NOTICE_VISIT_OVERDUE, .subject_type = "visit", .subject_id = v->id,
			  .ticket_no = v->ticket_no ? v->ticket_no : "",
			  .counterpart_id = v->counterpart_id ? v->counterpart_id : "", .department_id = v->department_id,
			  .note = "回访逾期：请尽快完成回访", .due_us = v->due_us};
	if ((st = hl_audit_append(pg, a, v->tenant, "visit", v->id, ACTOR, "visit.overdue", d, false, err)) ||
	    (st = notify(pg, a, v->tenant, n, v->responsible_id, err)) ||
	    (st = followup_visit_event(pg, a, v, "visit.overdue", ACTOR, err)))
		return st;
	return violation(pg, a, v->tenant, "visit", v->id, v->ticket_id, v->department_id, v->responsible_id, v->due_us,
			 err);
}

hl_status followup_timer_fire(void *app, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err)
{
	bool reply = strcmp(t->kind, KIND_REPLY) == 0;
	if (!reply && strcmp(t->kind, KIND_VISIT) != 0)
		return HL_OK; /* not ours: nothing to do */
	if (!hl_uuid_valid(t->subject))
		return HL_OK;
	return reply ? reply_overdue(pg, a, t, err) : visit_overdue(app, pg, a, t, err);
}
