/*
 * fold.c - the projection: a ticket's (or a subject's) facts folded from all
 * of its events in one fixed order, (occurred_at, version, event_id), so that
 * events delivered late, out of order or twice give the same row.  Pure: no
 * I/O, no clock.  The meaning of every fact is in docs/reporting.md.
 */
#include "reporting.h"

#include <stdlib.h>
#include <string.h>

#include "hl/handler.h"

enum {
	STATUS_CLOSED = HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_CLOSED,
	BASIS_TRANSFER = 4,  /* hotline.dispatch.v1.BasisKind */
	DL_ACCEPT = 1,       /* hotline.dispatch.v1.DeadlineKind */
	DL_COMPLETE = 2,
	OUTCOME_REACHED = 1, /* hotline.followup.v1.ContactOutcome */
};

static int cmp_events(const void *pa, const void *pb)
{
	const reporting_event *a = pa, *b = pb;
	if (a->occurred_us != b->occurred_us)
		return a->occurred_us < b->occurred_us ? -1 : 1;
	if (a->version != b->version)
		return a->version < b->version ? -1 : 1;
	return strcmp(a->event_id, b->event_id);
}

void reporting_sort_events(reporting_event *evs, int n)
{
	if (n > 1)
		qsort(evs, (size_t)n, sizeof *evs, cmp_events);
}

static bool is(const char *type, const char *want)
{
	return strcmp(type, want) == 0;
}

static bool has_prefix(const char *type, const char *prefix)
{
	return strncmp(type, prefix, strlen(prefix)) == 0;
}

const char *reporting_event_subject(const Hotline__Common__V1__Event *ev)
{
	if (ev->payload_case == HOTLINE__COMMON__V1__EVENT__PAYLOAD_VISIT_CHANGED && ev->visit_changed->visit_id[0])
		return ev->visit_changed->visit_id;
	if (ev->payload_case == HOTLINE__COMMON__V1__EVENT__PAYLOAD_COMPLIANCE_CHANGED &&
	    ev->compliance_changed->subject_id[0])
		return ev->compliance_changed->subject_id;
	if (ev->ticket_id && ev->ticket_id[0])
		return ev->ticket_id;
	if (ev->payload_case == HOTLINE__COMMON__V1__EVENT__PAYLOAD_REPLY_CHANGED && ev->reply_changed->reply_task_id[0])
		return ev->reply_changed->reply_task_id; /* a reply event without its ticket: kept, not folded */
	return "";
}

static void set_first(int64_t *slot, int64_t us)
{
	if (!*slot || us < *slot)
		*slot = us;
}

static void fold_registered(const reporting_event *e, reporting_ticket *t)
{
	const Hotline__Common__V1__TicketRegistered *p = e->ev->ticket_registered;
	t->ticket_no = p->ticket_no;
	t->channel = p->channel;
	t->category = p->category;
	t->priority = p->priority;
	t->area = p->area;
	t->topic = p->topic;
	t->registered_by = p->registered_by;
	set_first(&t->received_us, e->occurred_us);
	if (is(e->type, "ticket.answered_on_spot")) {
		t->on_spot = true;
		set_first(&t->completed_us, e->occurred_us);
	}
	if (t->status_version < 1 || !t->status) { /* the registration is status version 1 */
		t->status = p->status;
		if (t->status_version < 1)
			t->status_version = 1;
	}
}

static void fold_status(const reporting_event *e, reporting_ticket *t)
{
	const Hotline__Common__V1__TicketStatusChanged *p = e->ev->ticket_status_changed;
	if (p->status_version < t->status_version)
		return; /* older than what the ticket already shows */
	t->status = p->status;
	t->status_version = p->status_version;
	if ((int)p->status == STATUS_CLOSED)
		t->closed_us = e->occurred_us;
}

static void fold_case(const reporting_event *e, reporting_ticket *t)
{
	const Hotline__Common__V1__CaseChanged *p = e->ev->case_changed;
	const char *ty = e->type;
	if (!p->lead)
		return; /* assisting cases do not speak for the ticket */
	if (p->department_id[0])
		t->department_id = p->department_id;
	if (p->handler_id[0])
		t->handler_id = p->handler_id;
	if (t->category == 0)
		t->category = p->category;
	if (is(ty, "case.assigned")) {
		set_first(&t->assigned_us, e->occurred_us);
		if (p->basis_kind == BASIS_TRANSFER)
			t->transfers++;
	} else if (is(ty, "case.transferred")) {
		t->transfers++;
	} else if (is(ty, "case.accepted")) {
		set_first(&t->accepted_us, e->occurred_us);
	} else if (is(ty, "case.returned")) {
		t->returns++;
	} else if (is(ty, "case.deadline_set") || is(ty, "case.extended")) {
		int64_t due = hl_timestamp_us(p->due_at);
		if (p->deadline_kind == DL_ACCEPT)
			t->accept_due_us = due;
		else if (p->deadline_kind == DL_COMPLETE)
			t->complete_due_us = due;
	} else if (is(ty, "case.overdue")) {
		if (p->deadline_kind == DL_COMPLETE)
			set_first(&t->overdue_us, e->occurred_us);
	} else if (is(ty, "case.result_approved")) {
		set_first(&t->completed_us, e->occurred_us);
	} else if (is(ty, "case.reopened")) {
		t->reopens++;
	}
}

static void fold_reply(const reporting_event *e, reporting_ticket *t)
{
	const Hotline__Common__V1__ReplyChanged *p = e->ev->reply_changed;
	if (t->department_id == NULL || !t->department_id[0])
		t->department_id = p->department_id;
	if (is(e->type, "reply.recorded") && p->outcome == OUTCOME_REACHED && p->satisfaction > 0) {
		t->satisfaction = p->satisfaction; /* the latest rating counts */
		t->rated_us = e->occurred_us;
	}
}

void reporting_fold_ticket(const reporting_event *evs, int n, reporting_ticket *t)
{
	for (int i = 0; i < n; i++) {
		const reporting_event *e = &evs[i];
		t->events++;
		switch (e->ev->payload_case) {
		case HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_REGISTERED:
			fold_registered(e, t);
			break;
		case HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_STATUS_CHANGED:
			fold_status(e, t);
			break;
		case HOTLINE__COMMON__V1__EVENT__PAYLOAD_CASE_CHANGED:
			fold_case(e, t);
			break;
		case HOTLINE__COMMON__V1__EVENT__PAYLOAD_REPLY_CHANGED:
			fold_reply(e, t);
			break;
		case HOTLINE__COMMON__V1__EVENT__PAYLOAD_VISIT_CHANGED:
			if (is(e->type, "visit.recorded"))
				t->visited = true;
			break;
		default:
			break;
		}
	}
	/* on time: answered on the spot, or completed by the completion deadline (none set: on time) */
	t->on_time = t->on_spot ||
		     (t->completed_us && (!t->complete_due_us || t->completed_us <= t->complete_due_us));
}

static void fold_visit(const reporting_event *e, reporting_subject *s)
{
	const Hotline__Common__V1__VisitChanged *p = e->ev->visit_changed;
	s->kind = "visit";
	if (p->department_id[0])
		s->department_id = p->department_id;
	if (p->person_id[0])
		s->person_id = p->person_id;
	if (p->risk_level)
		s->level = p->risk_level;
	if (p->due_at)
		s->due_us = hl_timestamp_us(p->due_at);
	if (is(e->type, "visit.planned")) {
		set_first(&s->opened_us, e->occurred_us);
	} else if (is(e->type, "visit.recorded")) {
		set_first(&s->opened_us, e->occurred_us);
		set_first(&s->done_us, e->occurred_us);
		s->problem_found = p->problem_found;
		s->on_time = p->on_time;
	} else if (is(e->type, "visit.rechecked")) {
		s->recheck_disagrees = p->recheck_disagrees;
	} else if (is(e->type, "visit.overdue")) {
		s->overdue = true;
	}
}

static const char *compliance_kind(const char *type)
{
	if (has_prefix(type, "risk_event."))
		return "risk_event";
	if (has_prefix(type, "warning."))
		return "warning";
	if (has_prefix(type, "violation."))
		return "violation";
	if (has_prefix(type, "review."))
		return "review";
	return NULL;
}

static void fold_compliance(const reporting_event *e, reporting_subject *s)
{
	const Hotline__Common__V1__ComplianceChanged *p = e->ev->compliance_changed;
	const char *kind = compliance_kind(e->type);
	if (!kind)
		return;
	s->kind = kind;
	if (p->department_id[0])
		s->department_id = p->department_id;
	if (p->person_id[0])
		s->person_id = p->person_id;
	if (p->level)
		s->level = p->level;
	if (p->due_at)
		s->due_us = hl_timestamp_us(p->due_at);
	const char *ty = e->type;
	if (is(ty, "risk_event.reported") || is(ty, "warning.issued") || is(ty, "violation.recorded") ||
	    is(ty, "review.decided")) {
		set_first(&s->opened_us, e->occurred_us);
		if (is(ty, "risk_event.reported"))
			s->on_time = p->on_time;
		if (is(ty, "review.decided"))
			s->approved = p->approved;
	} else if (is(ty, "risk_event.closed")) {
		set_first(&s->done_us, e->occurred_us);
	} else if (is(ty, "warning.rectified")) {
		set_first(&s->done_us, e->occurred_us);
		s->on_time = p->on_time;
	}
}

bool reporting_fold_subject(const reporting_event *evs, int n, reporting_subject *s)
{
	for (int i = 0; i < n; i++) {
		const reporting_event *e = &evs[i];
		s->events++;
		if (e->ev->ticket_id && e->ev->ticket_id[0])
			s->ticket_id = e->ev->ticket_id;
		if (e->ev->payload_case == HOTLINE__COMMON__V1__EVENT__PAYLOAD_VISIT_CHANGED)
			fold_visit(e, s);
		else if (e->ev->payload_case == HOTLINE__COMMON__V1__EVENT__PAYLOAD_COMPLIANCE_CHANGED)
			fold_compliance(e, s);
	}
	return s->kind != NULL;
}
