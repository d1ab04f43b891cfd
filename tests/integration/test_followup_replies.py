"""test_followup_replies - replies to the citizen and the reopen-until-satisfied loop (R15, DESIGN §4.1).

Against the real stack (PostgreSQL, Redis, mTLS), with intake, dispatch and followup delivering to
each other through their outboxes:

- the full loop: a complaint created at intake is routed, handled and approved at dispatch;
  followup gets a reply task for the registering agent with a reply deadline; an unreachable
  attempt is counted; an unsatisfied citizen reopens the case at dispatch (back to the same
  handler) and the ticket shows reopened/in_handling at intake; the second result, approved,
  makes a second reply task (round 1); a satisfied citizen closes the ticket at intake; the
  replies are an append-only record and every change of a task is in its audit chain;
- ScheduleReply is dispatch's only (other certificates are refused), and a repeated delivery (same
  idempotency key, or another key for the same case and round) makes one task;
- unreachable after HOTLINE_REPLY_MAX_ATTEMPTS (3) contacts is recorded; a supervisor closes the
  loop with a reason (agents may not); a client request_id makes RecordReply safe to retry;
- bad input is INVALID_ARGUMENT naming the field and writes nothing; agents see only their own and
  the pool's tasks; another tenant's task is NOT_FOUND and untouched;
- with the compliance gate on and compliance stopped (unreachable), a reply to a complaint is UNAVAILABLE
  and nothing is written (fail closed), while a consultation (not gated) is recorded.
"""
import time
import unittest
import uuid

import grpc

import dispatch_harness as H
from dispatch_harness import dpb, cpb, ipb
from hotline.followup.v1 import followup_pb2 as fpb

FOLLOWUP = "hotline.followup.v1.FollowUpService"
HANDLER = ("handler",)
HEAD = ("dept_head",)
AGENT = ("agent",)
SUPERVISOR = ("supervisor",)
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE

PHONE = fpb.REPLY_METHOD_PHONE
REACHED, UNREACHABLE = fpb.CONTACT_OUTCOME_REACHED, fpb.CONTACT_OUTCOME_UNREACHABLE
SATISFIED, UNSATISFIED = fpb.SATISFACTION_SATISFIED, fpb.SATISFACTION_UNSATISFIED
OPEN, DONE, REOPENED = fpb.REPLY_TASK_STATUS_OPEN, fpb.REPLY_TASK_STATUS_SATISFIED, fpb.REPLY_TASK_STATUS_REOPENED
GAVE_UP, CLOSED = fpb.REPLY_TASK_STATUS_UNREACHABLE, fpb.REPLY_TASK_STATUS_CLOSED


class Followup:
    """Calls to followup in a tenant."""

    def __init__(self, t):
        self.t = t

    def call(self, method, req, sub="agent-1", roles=AGENT, timeout=15):
        resp = getattr(fpb, method + "Response")
        return H.ht.rpc(H.channel("followup"), FOLLOWUP, method, req, resp, metadata=self.t.md(sub, roles),
                        timeout=timeout)

    def code(self, method, req, sub="agent-1", roles=AGENT):
        return H.ht.code_of(self.call, method, req, sub=sub, roles=roles)

    def schedule(self, req, cert="dispatch", idem=None):
        md = [("x-tenant-id", self.t.id), ("x-actor", "head-x")]
        if idem:
            md.append(("idempotency-key", idem))
        return H.ht.rpc(H.channel("followup", cert), FOLLOWUP, "ScheduleReply", req, fpb.ScheduleReplyResponse,
                        metadata=md)

    def tasks(self, sub="sup-1", roles=SUPERVISOR, **kw):
        return list(self.call("ListReplyTasks", fpb.ListReplyTasksRequest(page_size=200, **kw), sub=sub,
                              roles=roles).tasks)

    def reply(self, task_id, outcome=REACHED, satisfaction=SATISFIED, reason="", sub="agent-1", roles=AGENT,
              content="已电话告知办理结果", request_id=""):
        return self.call("RecordReply", fpb.RecordReplyRequest(
            request_id=request_id, task_id=task_id, method=PHONE, content=content, outcome=outcome,
            satisfaction=satisfaction, unsatisfied_reason=reason), sub=sub, roles=roles)

    def count(self, table, where="true"):
        return H.sql_count("SELECT count(*) FROM followup.%s WHERE tenant_id = %s AND (%s)"
                           % (table, H.lit(self.t.id), where))

    def audit_actions(self, task_id):
        return [r[0] for r in H.ht.psql("SELECT action FROM followup.audit_log WHERE tenant_id = %s AND "
                                        "subject_id = %s ORDER BY seq" % (H.lit(self.t.id), H.lit(task_id)))]


def schedule_request(category=cpb.CATEGORY_COMPLAINT, registered_by="agent-1", round_=0, case_id=None):
    return fpb.ScheduleReplyRequest(
        ticket_id=str(uuid.uuid4()), ticket_no="T" + uuid.uuid4().hex[:10], case_id=case_id or str(uuid.uuid4()),
        department_id="housing", category=category, priority=cpb.PRIORITY_GENERAL, result_text="已处理",
        result_digest="ab" * 32, approved_by="head-h", registered_by=registered_by, reopen_count=round_)


class LoopTest(unittest.TestCase):
    """The whole loop through intake, dispatch and followup."""

    def setUp(self):
        t = self.t = H.Tenant("fu")
        t.dept("housing", head="head-h")
        t.staff("head-h", "housing")
        t.staff("h1", "housing")
        t.rule("housing", position=1, topic=["漏水"])
        t.around_the_clock()
        t.sla(cpb.CATEGORY_COMPLAINT, reply=(2, dpb.DURATION_UNIT_WORKING_DAYS))
        self.f = Followup(t)

    def ticket(self, ticket_id):
        return H.ht.rpc(H.channel("intake"), H.INTAKE, "GetTicket", ipb.GetTicketRequest(id=ticket_id),
                        ipb.GetTicketResponse, metadata=self.t.md("agent-7", AGENT)).ticket

    def wait_status(self, ticket_id, status, what):
        return H.wait_for(lambda: (lambda x: x if x.status == status else None)(self.ticket(ticket_id)),
                          timeout=30, what=what)

    def handle(self, case_id):
        t = self.t
        t.call("AcceptCase", dpb.AcceptCaseRequest(case_id=case_id), sub="h1", roles=HANDLER)
        t.call("SubmitResult", dpb.SubmitResultRequest(case_id=case_id, text="已维修管道"), sub="h1", roles=HANDLER)
        t.call("ApproveResult", dpb.ApproveResultRequest(case_id=case_id), sub="head-h", roles=HEAD)

    def round_task(self, ticket_id, round_):
        def find():
            found = [x for x in self.f.tasks(ticket_id=ticket_id) if x.round == round_]
            return found[0] if found else None
        return H.wait_for(find, timeout=30, what="reply task of round %d" % round_)

    def test_unsatisfied_reopens_until_satisfied_then_closed_at_intake(self):
        t, f = self.t, self.f
        tk = H.ht.rpc(H.channel("intake"), H.INTAKE, "CreateTicket", ipb.CreateTicketRequest(
            request_id=H.ht.request_id(), channel=cpb.CHANNEL_PHONE, category=cpb.CATEGORY_COMPLAINT,
            topic="楼上漏水", description="卫生间漏水三天", area="海淀区",
            caller=ipb.Caller(name="李四", phone="13800001111")),
            ipb.CreateTicketResponse, metadata=t.md("agent-7", AGENT), timeout=20).ticket
        [case] = H.wait_for(lambda: t.list(ticket_id=tk.id), what="the case at dispatch")
        self.assertEqual((case.handler_id, case.registered_by), ("h1", "agent-7"))
        self.handle(case.id)

        task = self.round_task(tk.id, 0)
        self.assertEqual((task.status, task.assignee_id, task.case_id, task.ticket_no, task.result_text),
                         (OPEN, "agent-7", case.id, tk.ticket_no, "已维修管道"))
        self.assertTrue(task.due_at.seconds > task.created_at.seconds, "a reply deadline")
        self.assertEqual(f.tasks(sub="agent-7", roles=AGENT)[0].id, task.id, "in the registering agent's list")
        self.assertEqual(f.tasks(sub="agent-8", roles=AGENT), [], "not in another agent's list")
        self.assertEqual(f.code("GetReplyTask", fpb.GetReplyTaskRequest(id=task.id), sub="agent-8")[0], H.NOT_FOUND)

        r = f.reply(task.id, outcome=UNREACHABLE, satisfaction=0, sub="agent-7", content="无人接听")
        self.assertEqual((r.task.status, r.task.attempts, r.reply.seq), (OPEN, 1, 1))
        r = f.reply(task.id, satisfaction=UNSATISFIED, reason="仍在漏水", sub="agent-7")
        self.assertEqual((r.task.status, r.reply.seq, r.reply.unsatisfied_reason), (REOPENED, 2, "仍在漏水"))
        self.assertEqual(f.code("RecordReply", fpb.RecordReplyRequest(
            task_id=task.id, method=PHONE, content="x", outcome=REACHED, satisfaction=SATISFIED),
            sub="agent-7")[0], H.PRECONDITION, "a reopened task takes no more replies")

        back = H.wait_for(lambda: (lambda k: k if k.reopen_count == 1 else None)(t.get(case.id)), timeout=30,
                          what="the case reopened at dispatch")
        self.assertEqual((back.status, back.department_id, back.handler_id), (H.ASSIGNED, "housing", "h1"))
        self.assertIn("reopened", [s.action for s in back.steps])
        H.wait_for(lambda: "重新办理" in [n.text for n in self.ticket(tk.id).public_notes], timeout=30,
                   what="dispatch's reopen note at intake")
        self.assertEqual(self.ticket(tk.id).status, cpb.TICKET_STATUS_IN_HANDLING, "in handling again")
        close = dpb.CloseCaseRequest(ticket_id=tk.id, reopen_no=1, reason="satisfied")
        self.assertEqual(H.ht.code_of(t.internal, "CloseCase", close, "intake", idem="c-1")[0], H.DENIED,
                         "only followup closes cases")
        self.assertEqual(H.ht.code_of(t.internal, "CloseCase", close, "followup", idem="c-2")[0], H.PRECONDITION,
                         "a case being handled again is not closed")
        self.handle(case.id)

        second = self.round_task(tk.id, 1)
        self.assertNotEqual(second.id, task.id)
        self.assertEqual((second.status, second.assignee_id), (OPEN, "agent-7"))
        r = f.reply(second.id, satisfaction=SATISFIED, sub="agent-7")
        self.assertEqual((r.task.status, r.task.closed_by), (DONE, "agent-7"))
        closed = self.wait_status(tk.id, cpb.TICKET_STATUS_CLOSED, "closed at intake")
        self.assertIn("来电人满意，已办结", [n.text for n in closed.public_notes])
        done = H.wait_for(lambda: (lambda k: k if k.status == H.CLOSED else None)(t.get(case.id)), timeout=30,
                          what="the case closed at dispatch")
        self.assertEqual([s.action for s in done.steps].count("closed"), 1)

        self.assertEqual(f.count("replies"), 3)
        self.assertEqual(H.ht.psql("SELECT method FROM followup.outbox WHERE tenant_id = %s AND target = 'dispatch' "
                                   "ORDER BY id" % H.lit(t.id)),
                         [["/hotline.dispatch.v1.DispatchService/ReopenCase"],
                          ["/hotline.dispatch.v1.DispatchService/CloseCase"]])
        self.assertEqual(f.audit_actions(task.id), ["reply_task.scheduled", "reply.recorded", "reply_task.attempted",
                                                    "reply.recorded", "reply_task.reopened"])
        self.assertEqual(f.audit_actions(second.id), ["reply_task.scheduled", "reply.recorded",
                                                      "reply_task.satisfied"])
        full = f.call("GetReplyTask", fpb.GetReplyTaskRequest(id=task.id), sub="agent-7").task
        self.assertEqual([(x.seq, x.outcome, x.satisfaction) for x in full.replies],
                         [(1, UNREACHABLE, 0), (2, REACHED, UNSATISFIED)])
        with self.assertRaises(Exception):
            H.ht.psql("UPDATE followup.replies SET content = 'x' WHERE tenant_id = %s" % H.lit(t.id))
        self.assertEqual(f.count("replies", "content = 'x'"), 0, "replies are append-only")


class ReplyTest(unittest.TestCase):
    """Reply tasks scheduled directly, as dispatch's outbox delivers them."""

    def setUp(self):
        self.t = H.Tenant("fr")
        self.f = Followup(self.t)

    def new_task(self, **kw):
        req = schedule_request(**kw)
        return req, self.f.schedule(req, idem=str(uuid.uuid4())).reply_task_id

    def test_schedule_reply_is_dispatchs_and_idempotent(self):
        f = self.f
        req = schedule_request()
        code, _ = H.ht.code_of(f.schedule, req, cert="intake", idem="x1")
        self.assertEqual(code, H.DENIED, "only dispatch schedules replies")
        first = f.schedule(req, idem="k-1").reply_task_id
        self.assertEqual(f.schedule(req, idem="k-1").reply_task_id, first, "a repeated delivery")
        self.assertEqual(f.schedule(req, idem="k-2").reply_task_id, first, "the same case and round")
        self.assertEqual(f.count("reply_tasks"), 1)
        self.assertEqual(f.audit_actions(first), ["reply_task.scheduled"])
        req.reopen_count = 1
        self.assertNotEqual(f.schedule(req, idem="k-3").reply_task_id, first, "the next round")
        self.assertEqual(f.count("reply_tasks"), 2)
        [task] = f.tasks(ticket_id=req.ticket_id, status=OPEN)[:1]
        self.assertEqual(task.assignee_id, "agent-1")
        # no first-contact agent: the pool, which any agent sees and the first to reply takes
        _, pooled = self.new_task(registered_by="system:intake")
        self.assertIn(pooled, [x.id for x in f.tasks(sub="agent-5", roles=AGENT)])
        self.assertIn(pooled, [x.id for x in f.tasks(assignee_id="-")])
        r = f.reply(pooled, sub="agent-5")
        self.assertEqual(r.task.assignee_id, "agent-5")
        self.assertEqual(f.code("GetReplyTask", fpb.GetReplyTaskRequest(id=pooled), sub="agent-6")[0], H.NOT_FOUND)

    def test_bad_schedule_requests_write_nothing(self):
        f = self.f
        for field, change in (("ticket_id", lambda r: setattr(r, "ticket_id", "nope")),
                              ("case_id", lambda r: setattr(r, "case_id", "")),
                              ("category", lambda r: setattr(r, "category", 0)),
                              ("reopen_count", lambda r: setattr(r, "reopen_count", -1)),
                              ("ticket_no", lambda r: setattr(r, "ticket_no", ""))):
            req = schedule_request()
            change(req)
            code, details = H.ht.code_of(f.schedule, req, idem=str(uuid.uuid4()))
            self.assertEqual(code, H.INVALID, field)
            self.assertIn(field, details)
        self.assertEqual(f.count("reply_tasks"), 0)

    def test_bad_replies_are_refused_naming_the_field_and_write_nothing(self):
        f = self.f
        _, tid = self.new_task()
        ok = dict(task_id=tid, method=PHONE, content="告知结果", outcome=REACHED, satisfaction=SATISFIED)
        cases = [("task_id", dict(task_id="x")), ("method", dict(method=0)), ("method", dict(method=99)),
                 ("outcome", dict(outcome=0)), ("content", dict(content="")), ("content", dict(content="长" * 2001)),
                 ("satisfaction", dict(satisfaction=0)),
                 ("unsatisfied_reason", dict(satisfaction=UNSATISFIED)),
                 ("unsatisfied_reason", dict(unsatisfied_reason="多余")),
                 ("satisfaction", dict(outcome=UNREACHABLE)),
                 ("request_id", dict(request_id="\x01bad"))]
        for field, change in cases:
            req = fpb.RecordReplyRequest(**dict(ok, **change))
            code, details = f.code("RecordReply", req)
            self.assertEqual(code, H.INVALID, (field, change))
            self.assertTrue(details.startswith(field), (field, details))
        self.assertEqual(f.code("RecordReply", fpb.RecordReplyRequest(**ok), roles=HANDLER)[0], H.DENIED)
        self.assertEqual(f.code("RecordReply", fpb.RecordReplyRequest(**dict(ok, task_id=str(uuid.uuid4()))))[0],
                         H.NOT_FOUND)
        self.assertEqual(f.count("replies"), 0)
        self.assertEqual(f.audit_actions(tid), ["reply_task.scheduled"])
        self.assertEqual(f.count("outbox"), 0)

    def test_unreachable_attempts_then_a_supervisor_closes_with_a_reason(self):
        f = self.f
        req, tid = self.new_task()
        for i in (1, 2):
            self.assertEqual(f.reply(tid, outcome=UNREACHABLE, satisfaction=0).task.attempts, i)
        r = f.reply(tid, outcome=UNREACHABLE, satisfaction=0, request_id="try-3")
        self.assertEqual((r.task.status, r.task.attempts), (GAVE_UP, 3))
        again = f.reply(tid, outcome=UNREACHABLE, satisfaction=0, request_id="try-3")
        self.assertEqual((again.reply.id, again.reply.seq), (r.reply.id, 3), "a retried request_id")
        self.assertEqual(f.count("replies"), 3)
        self.assertEqual(f.code("RecordReply", fpb.RecordReplyRequest(
            task_id=tid, method=PHONE, content="x", outcome=REACHED, satisfaction=SATISFIED))[0], H.PRECONDITION)

        close = fpb.CloseReplyTaskRequest(task_id=tid, reason="三次联系未果，经研究结案")
        self.assertEqual(f.code("CloseReplyTask", close)[0], H.DENIED, "agents do not close")
        code, details = f.code("CloseReplyTask", fpb.CloseReplyTaskRequest(task_id=tid), sub="sup-1",
                               roles=SUPERVISOR)
        self.assertEqual(code, H.INVALID)
        self.assertTrue(details.startswith("reason"))
        done = f.call("CloseReplyTask", close, sub="sup-1", roles=SUPERVISOR).task
        self.assertEqual((done.status, done.closed_by, done.close_reason), (CLOSED, "sup-1", close.reason))
        self.assertEqual(f.code("CloseReplyTask", close, sub="sup-1", roles=SUPERVISOR)[0], H.PRECONDITION)
        self.assertEqual(f.audit_actions(tid)[-2:], ["reply_task.unreachable", "reply_task.closed"])
        self.assertEqual(f.count("outbox", "target = 'intake' AND subject_id = %s" % H.lit(req.ticket_id)), 1,
                         "the ticket's close goes to intake")
        self.assertEqual(f.count("outbox", "target = 'dispatch' AND subject_id = %s" % H.lit(req.ticket_id)), 1,
                         "and the case's close to dispatch")

    def test_another_tenants_task_is_not_found_and_untouched(self):
        f = self.f
        _, tid = self.new_task()
        other = Followup(H.Tenant("fx"))
        self.assertEqual(other.code("GetReplyTask", fpb.GetReplyTaskRequest(id=tid), sub="sup-1",
                                    roles=SUPERVISOR)[0], H.NOT_FOUND)
        self.assertEqual(other.tasks(), [])
        self.assertEqual(other.code("RecordReply", fpb.RecordReplyRequest(
            task_id=tid, method=PHONE, content="x", outcome=REACHED, satisfaction=SATISFIED))[0], H.NOT_FOUND)
        self.assertEqual(other.code("CloseReplyTask", fpb.CloseReplyTaskRequest(task_id=tid, reason="r"),
                                    sub="sup-1", roles=SUPERVISOR)[0], H.NOT_FOUND)
        self.assertEqual(f.count("replies"), 0)
        self.assertEqual(f.tasks()[0].status, OPEN)


    def test_a_reply_not_given_in_time_is_overdue_once_and_raised(self):
        f = self.f
        late = schedule_request()
        late.reply_due_at.FromSeconds(int(time.time()) + 1)
        late_id = f.schedule(late, idem=str(uuid.uuid4())).reply_task_id
        in_time = schedule_request()
        in_time.reply_due_at.FromSeconds(int(time.time()) + 2)
        in_time_id = f.schedule(in_time, idem=str(uuid.uuid4())).reply_task_id
        f.reply(in_time_id)
        H.wait_for(lambda: "reply_task.overdue" in f.audit_actions(late_id), timeout=30, what="the overdue reply")
        self.assertEqual([x.id for x in f.tasks(overdue=True)], [late_id])
        self.assertEqual(f.count("outbox", "target = 'compliance' AND method LIKE '%RecordViolation' AND "
                                           "subject_id = " + H.lit(late_id)), 1, "a missed follow-up")
        H.wait_for(lambda: H.sql_count("SELECT count(*) FROM followup.timers WHERE tenant_id = %s AND done_at IS "
                                       "NOT NULL" % H.lit(self.t.id)) == 2, timeout=30, what="both timers fired")
        self.assertNotIn("reply_task.overdue", f.audit_actions(in_time_id), "replied in time")
        self.assertEqual(f.count("outbox", "target = 'compliance' AND subject_id = " + H.lit(in_time_id)), 0)
        self.assertEqual(f.audit_actions(late_id).count("reply_task.overdue"), 1)


class GateTest(unittest.TestCase):
    """The compliance gate, configured while compliance does not answer: fail closed."""

    def test_gated_reply_is_unavailable_and_writes_nothing(self):
        t = H.Tenant("fg")
        f = Followup(t)
        H.ht.stack("stop-service", "compliance")  # compliance runs in the stack: stop it for this test
        self.addCleanup(H.reset_channels)
        self.addCleanup(H.ht.stack, "start-service", "compliance")
        with H.service_env("followup", ["HOTLINE_REPLY_GATE=on"]):
            complaint = f.schedule(schedule_request(), idem=str(uuid.uuid4())).reply_task_id
            consult = f.schedule(schedule_request(category=cpb.CATEGORY_CONSULTATION),
                                 idem=str(uuid.uuid4())).reply_task_id
            code, details = f.code("RecordReply", fpb.RecordReplyRequest(
                task_id=complaint, method=PHONE, content="答复", outcome=REACHED, satisfaction=SATISFIED))
            self.assertEqual(code, UNAVAILABLE, details)
            self.assertIn("compliance", details)
            self.assertEqual(f.count("replies"), 0)
            self.assertEqual(f.audit_actions(complaint), ["reply_task.scheduled"])
            self.assertEqual(f.count("outbox"), 0)
            self.assertEqual(f.reply(consult).task.status, DONE, "consultations are not gated")


if __name__ == "__main__":
    unittest.main()
