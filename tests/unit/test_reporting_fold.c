/*
 * test_reporting_fold.c - reporting's projection (services/reporting/fold.c):
 * every order of a ticket's events folds to the same facts; the status with
 * the highest version wins; on time against the completion deadline; the
 * subject kinds of visits and compliance events.
 */
#include <stdlib.h>
#include <string.h>

#include "reporting.h"
#include "t.h"

#define MAXE 8

static Hotline__Common__V1__Event evs_msg[MAXE];
static Hotline__Common__V1__TicketRegistered reg = HOTLINE__COMMON__V1__TICKET_REGISTERED__INIT;
static Hotline__Common__V1__TicketStatusChanged st5 = HOTLINE__COMMON__V1__TICKET_STATUS_CHANGED__INIT,
					    st4 = HOTLINE__COMMON__V1__TICKET_STATUS_CHANGED__INIT;
static Hotline__Common__V1__CaseChanged cases[4];
static Hotline__Common__V1__ReplyChanged rep = HOTLINE__COMMON__V1__REPLY_CHANGED__INIT;
static Google__Protobuf__Timestamp due = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

static reporting_event ev(int i, const char *type, const char *id, int64_t at_s, int64_t version)
{
	return (reporting_event){.event_id = id, .type = type, .occurred_us = at_s * 1000000, .version = version,
				 .ev = &evs_msg[i]};
}

/* A ticket's history: registered, deadline, assigned, transfer, approved late, closed (v5), replied (v4, older). */
static int history(reporting_event *out)
{
	for (int i = 0; i < MAXE; i++) {
		hotline__common__v1__event__init(&evs_msg[i]);
		evs_msg[i].ticket_id = "t1";
	}
	for (int i = 0; i < 4; i++) {
		hotline__common__v1__case_changed__init(&cases[i]);
		cases[i].lead = true;
		cases[i].department_id = i < 2 ? "a" : "b";
		cases[i].handler_id = i < 2 ? "h1" : "h2";
	}
	reg.ticket_no = "N1";
	reg.channel = 1;
	reg.category = 2;
	reg.topic = "噪音";
	evs_msg[0].payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_REGISTERED;
	evs_msg[0].ticket_registered = &reg;
	due.seconds = 1000;
	cases[0].deadline_kind = 2;
	cases[0].due_at = &due;
	cases[2].basis_kind = 4; /* transfer */
	for (int i = 1; i <= 4; i++) {
		evs_msg[i].payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_CASE_CHANGED;
		evs_msg[i].case_changed = &cases[i - 1];
	}
	st5.status = HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_CLOSED;
	st5.status_version = 5;
	st4.status = HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_REPLIED;
	st4.status_version = 4;
	evs_msg[5].payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_STATUS_CHANGED;
	evs_msg[5].ticket_status_changed = &st5;
	evs_msg[6].payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_STATUS_CHANGED;
	evs_msg[6].ticket_status_changed = &st4;
	rep.outcome = 1;
	rep.satisfaction = 2;
	evs_msg[7].payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_REPLY_CHANGED;
	evs_msg[7].reply_changed = &rep;
	out[0] = ev(0, "ticket.registered", "e0", 100, 1);
	out[1] = ev(1, "case.deadline_set", "e1", 110, 2);
	out[2] = ev(2, "case.assigned", "e2", 110, 2);
	out[3] = ev(3, "case.assigned", "e3", 200, 3);
	out[4] = ev(4, "case.result_approved", "e4", 1200, 4);
	out[5] = ev(5, "ticket.status_changed", "e5", 1400, 5);
	out[6] = ev(6, "ticket.status_changed", "e6", 1300, 4);
	out[7] = ev(7, "reply.recorded", "e7", 1300, 4);
	return MAXE;
}

static bool same(const reporting_ticket *a, const reporting_ticket *b)
{
	return a->status == b->status && a->transfers == b->transfers && a->completed_us == b->completed_us &&
	       a->on_time == b->on_time && !strcmp(a->department_id, b->department_id) &&
	       !strcmp(a->handler_id, b->handler_id) && a->closed_us == b->closed_us &&
	       a->satisfaction == b->satisfaction && a->received_us == b->received_us && a->events == b->events;
}

static void test_every_order_gives_the_same_facts(void)
{
	reporting_event base[MAXE], e[MAXE];
	int n = history(base);
	reporting_ticket ref = {.ticket_id = "t1"};
	memcpy(e, base, sizeof e);
	reporting_sort_events(e, n);
	reporting_fold_ticket(e, n, &ref);
	T_EQ_INT(ref.status, HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_CLOSED);
	T_EQ_INT(ref.transfers, 1);
	T_EQ_STR(ref.department_id, "b");
	T_EQ_STR(ref.handler_id, "h2");
	T_EQ_INT(ref.complete_due_us, 1000 * 1000000LL);
	T_EQ_INT(ref.completed_us, 1200 * 1000000LL);
	T_ASSERT(!ref.on_time); /* approved after the completion deadline */
	T_EQ_INT(ref.closed_us, 1400 * 1000000LL);
	T_EQ_INT(ref.satisfaction, 2);
	T_EQ_INT(ref.events, n);
	/* 2,000 shuffles (a fixed seed): the same facts each time */
	srand(7);
	for (int round = 0; round < 2000; round++) {
		memcpy(e, base, sizeof e);
		for (int i = n - 1; i > 0; i--) {
			int j = rand() % (i + 1);
			reporting_event tmp = e[i];
			e[i] = e[j];
			e[j] = tmp;
		}
		reporting_sort_events(e, n);
		reporting_ticket t = {.ticket_id = "t1"};
		reporting_fold_ticket(e, n, &t);
		T_ASSERT(same(&t, &ref));
	}
}

static void test_on_spot_is_on_time(void)
{
	reporting_event base[MAXE];
	history(base);
	reporting_event e = ev(0, "ticket.answered_on_spot", "x", 50, 1);
	reporting_ticket t = {.ticket_id = "t1"};
	reporting_fold_ticket(&e, 1, &t);
	T_ASSERT(t.on_spot && t.on_time);
	T_EQ_INT(t.completed_us, 50 * 1000000LL);
}

static void test_subjects(void)
{
	Hotline__Common__V1__Event m = HOTLINE__COMMON__V1__EVENT__INIT;
	Hotline__Common__V1__ComplianceChanged cc = HOTLINE__COMMON__V1__COMPLIANCE_CHANGED__INIT;
	cc.subject_id = "r1";
	cc.on_time = true;
	cc.department_id = "a";
	m.ticket_id = "";
	m.payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_COMPLIANCE_CHANGED;
	m.compliance_changed = &cc;
	T_EQ_STR(reporting_event_subject(&m), "r1");
	reporting_event e = {.event_id = "e", .type = "risk_event.reported", .occurred_us = 5, .ev = &m};
	reporting_subject s = {.subject_id = "r1"};
	T_ASSERT(reporting_fold_subject(&e, 1, &s));
	T_EQ_STR(s.kind, "risk_event");
	T_ASSERT(s.on_time);
	T_EQ_INT(s.opened_us, 5);
	e.type = "something.else";
	reporting_subject none = {.subject_id = "r1"};
	T_ASSERT(!reporting_fold_subject(&e, 1, &none));
}

int main(void)
{
	T_RUN(test_every_order_gives_the_same_facts);
	T_RUN(test_on_spot_is_on_time);
	T_RUN(test_subjects);
	return T_DONE();
}
